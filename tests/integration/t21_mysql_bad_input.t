# t21_mysql_bad_input.t -- bad input on weir's MySQL port: the malformed packets ProxySQL's
# regression test (mysql-test_malformed_packet-t) sends after the greeting, HandshakeResponse
# packets whose length-encoded / length-prefixed fields run past the end of the packet, a
# client that connects and sends nothing (client_login_timeout), and 1000 wrong-password
# logins. Each closes only that connection: a client logged in before keeps working, and a
# fresh client still runs SELECT 1.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use IO::Select;
use Time::HiRes qw(time sleep);

my $T0 = time;
my $LOGIN_TIMEOUT = 2;
my $m = MyTest->new;
my $w = $m->start_weir(weir => { default_pool_size => 4, workers => 2,
        client_login_timeout => $LOGIN_TIMEOUT });

# wait_close($sock, $timeout) -> ($closed, $data, $seconds): reads until EOF (or reset), or
# until $timeout passes with the connection still open.
sub wait_close {
    my ($sock, $timeout) = @_;
    my $t0 = time;
    my $sel = IO::Select->new($sock);
    my $data = '';
    while (1) {
        my $left = $timeout - (time - $t0);
        return (0, $data, time - $t0) if $left <= 0;
        next unless $sel->can_read($left);
        my $r = sysread($sock, my $buf, 65536);
        return (1, $data, time - $t0) if !defined $r || $r == 0;
        $data .= $buf;
    }
}

# err_of($data) -> { code, state, msg } if $data begins with an ERR packet, else undef.
sub err_of {
    my ($data) = @_;
    return undef unless length($data) >= 7 && substr($data, 4, 1) eq "\xff";
    my $len = unpack('V', substr($data, 0, 3) . "\0");
    return my_parse_err(substr($data, 4, $len));
}

sub describe {
    my ($closed, $data, $secs) = @_;
    my $e = err_of($data);
    return sprintf('%s after %.2fs, %d bytes%s', $closed ? 'closed' : 'still open', $secs,
        length $data, $e ? " (ERR $e->{code} #" . ($e->{state} // '') . " $e->{msg})" : '');
}

# A client logged in before the bad input, kept across it (as ProxySQL's test does).
my $keeper = $w->my_socket;
my $kl = my_login($keeper);
ok($kl->{ok}, 'raw client logs in through weir (mysql_native_password)')
    or diag(explain($kl));
my $g = $kl->{greeting} // {};
diag(sprintf('weir greeting: protocol %s, version %s, caps 0x%08x, plugin %s',
        $g->{proto} // '?', $g->{version} // '?', $g->{caps} // 0, $g->{plugin} // '?'));
my $kq = my_query($keeper, 'SELECT 1');
is_deeply($kq->{results}, [{ columns => ['1'], rows => [['1']] }], 'raw client: SELECT 1')
    or diag(explain($kq));

# still_serving($label): the kept client and a fresh mariadb CLI both get SELECT 1.
sub still_serving {
    my ($label) = @_;
    my $q = my_query($keeper, 'SELECT 1');
    ok(!$q->{closed} && !$q->{error} && ($q->{results}[0]{rows}[0][0] // '') eq '1',
        "$label: the client logged in before still gets SELECT 1")
        or diag(explain($q));
    my ($out, $err, $rc) = $w->mariadb('SELECT 1');
    is($out, "1\n", "$label: a new client gets SELECT 1") or diag("rc $rc stderr: $err");
}

# ---- ProxySQL's malformed packets, each on a fresh connection after the greeting ----------
my @malformed = (
    '01 00',
    'FF FF FF 00 00 FE 00 00',
    '03 00 00 FF 00',
    '10 00 00 00 DE AD BE EF CA FE 11 22 33 44 55',
    '03 00 00 00 FF 00',
    'FF FF FF FF 00 00 00 00',
    '05 00 00 00 FF 00 00 00',
    '04 00 00 FF 00 00 00',
    '03 00 00 2F 2A E0 00',
);
for my $hex (@malformed) {
    my $bytes = pack('H*', $hex =~ s/ //gr);
    my $s = $w->my_socket;
    my ($seq, $greet) = my_read_packet($s, 10);
    ok(defined $seq, "[$hex] greeting received");
    syswrite($s, $bytes);
    # Incomplete packets can only be dropped by client_login_timeout.
    my @r = wait_close($s, $LOGIN_TIMEOUT + 5);
    ok($r[0], "[$hex] connection closed by weir") or diag(describe(@r));
    diag("[$hex] " . describe(@r));
    close $s;
    ok($w->alive, "[$hex] weir still running");
    still_serving("[$hex]");
}

# ---- HandshakeResponse41 whose fields run past the end of the packet ----------------------
# Each is a complete packet: weir has everything it needs to refuse it at once.
{
    my $caps = $MyTest::DEFAULT_CAPS | MyTest::CLIENT_CONNECT_WITH_DB;
    my $fixed = sub { my ($c) = @_; pack('VVC', $c, 16777216, 33) . ("\0" x 23) };
    my $lenenc_caps = $caps | MyTest::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    my @cases = (
        ['lenenc auth length 4096, 20 bytes follow',
            sub { $fixed->($lenenc_caps) . "app\0" . "\xfc\x00\x10" . ('A' x 20) }],
        ['lenenc auth length 0xFD (3-byte) 16 MiB, 5 bytes follow',
            sub { $fixed->($lenenc_caps) . "app\0" . "\xfd\xff\xff\xff" . ('A' x 5) }],
        ['lenenc auth length 0xFE (8-byte) 2^63, nothing follows',
            sub { $fixed->($lenenc_caps) . "app\0" . "\xfe" . pack('Q<', 1 << 63) }],
        ['lenenc auth length prefix itself cut (0xFC + 1 byte)',
            sub { $fixed->($lenenc_caps) . "app\0" . "\xfc\x10" }],
        ['1-byte auth length 200, 20 bytes follow',
            sub { $fixed->($caps) . "app\0" . chr(200) . ('A' x 20) }],
        ['1-byte auth length 20, packet ends after it',
            sub { $fixed->($caps) . "app\0" . chr(20) }],
        ['user name without its NUL, packet ends',
            sub { $fixed->($caps) . 'appappapp' }],
        ['database name without its NUL, packet ends',
            sub { $fixed->($caps) . "app\0" . chr(20) . ('A' x 20) . 'shop' }],
        ['packet shorter than the fixed 32-byte header',
            sub { pack('VV', $caps, 16777216) }],
        ['connect attributes length 1000, 3 bytes follow',
            sub {
                my $c = $lenenc_caps | MyTest::CLIENT_CONNECT_ATTRS;
                $fixed->($c) . "app\0" . "\x14" . ('A' x 20) . "shop\0"
                    . "mysql_native_password\0" . "\xfc\xe8\x03" . 'abc';
            }],
    );
    for my $case (@cases) {
        my ($name, $make) = @$case;
        my $s = $w->my_socket;
        my ($seq, $greet) = my_read_packet($s, 10);
        ok(defined $seq, "[$name] greeting received");
        syswrite($s, my_packet(1, $make->()));
        my @r = wait_close($s, $LOGIN_TIMEOUT + 5);
        ok($r[0], "[$name] connection closed by weir") or diag(describe(@r));
        ok($r[0] && $r[2] < $LOGIN_TIMEOUT - 0.5,
            "[$name] refused at once, not left to client_login_timeout")
            or diag(describe(@r));
        my $e = err_of($r[1]);
        ok(!$e || $e->{code} == 1043 || $e->{code} == 1045,
            "[$name] an ERR packet, if sent, is 1043 or 1045") or diag(describe(@r));
        diag("[$name] " . describe(@r));
        close $s;
    }
    ok($w->alive, 'weir still running after the malformed HandshakeResponses');
    still_serving('after malformed HandshakeResponses');
}

# ---- a client that connects and sends nothing ---------------------------------------------
{
    my $s = $w->my_socket;
    my ($seq, $greet) = my_read_packet($s, 10);
    ok(defined $seq, 'idle client: greeting received');
    my @r = wait_close($s, $LOGIN_TIMEOUT + 8);
    ok($r[0], 'idle client: dropped') or diag(describe(@r));
    ok($r[2] >= $LOGIN_TIMEOUT - 0.5 && $r[2] <= $LOGIN_TIMEOUT + 3,
        "idle client: dropped after about client_login_timeout ($LOGIN_TIMEOUT s)")
        or diag(describe(@r));
    diag('idle client: ' . describe(@r));
    close $s;
    # One that never even reads the greeting.
    my $s2 = $w->my_socket;
    sleep $LOGIN_TIMEOUT + 1;
    @r = wait_close($s2, 5);
    ok($r[0], 'client that never reads the greeting: dropped') or diag(describe(@r));
    close $s2;
    still_serving('after idle clients');
}

# ---- login errors with their codes --------------------------------------------------------
{
    my $s = $w->my_socket;
    my $r = my_login($s, password => 'wrong');
    is($r->{error}{code}, 1045, 'wrong password: ERR 1045') or diag(explain($r));
    is($r->{error}{state}, '28000', 'wrong password: SQLSTATE 28000');
    ok(sock_closed($s, 5), 'wrong password: connection closed after the ERR');
    $s = $w->my_socket;
    $r = my_login($s, user => 'nosuchuser', password => 'x');
    is($r->{error}{code}, 1045, 'unknown user: ERR 1045') or diag(explain($r));
    $s = $w->my_socket;
    $r = my_login($s, db => 'nosuchdb');
    is($r->{error}{code}, 1049, 'unknown database: ERR 1049') or diag(explain($r));
    is($r->{error}{state}, '42000', 'unknown database: SQLSTATE 42000');
    $s = $w->my_socket;
    $r = my_login($s, password => '');
    is($r->{error}{code}, 1045, 'empty password: ERR 1045') or diag(explain($r));
}

# ---- 1000 wrong-password logins, sequential -----------------------------------------------
{
    my $n = 1000;
    my $t0 = time;
    my (%codes, $first_bad);
    my $done = 0;
    for my $i (1 .. $n) {
        last if time - $t0 > 90;
        my $s = MyTest::my_connect($w->mysql_port);
        my $r = $s ? my_login($s, password => "wrong$i", timeout => 10) : { closed => 1 };
        my $code = $r->{error} ? $r->{error}{code} : $r->{ok} ? 'ok' : $r->{closed} ? 'closed'
            : 'other';
        $codes{$code}++;
        $first_bad //= "login $i: " . explain($r) if $code ne '1045';
        close $s if $s;
        $done++;
    }
    my $el = time - $t0;
    is($done, $n, "$n wrong-password logins attempted within 90 s");
    is($codes{1045} // 0, $n, "all $n wrong-password logins got ERR 1045")
        or diag('results: ' . join(', ', map { "$_ x$codes{$_}" } sort keys %codes)
            . "\nfirst other: " . ($first_bad // ''));
    diag(sprintf('%d wrong-password logins in %.1fs (%.0f/s)', $done, $el, $done / ($el || 1)));
    ok($w->alive, 'weir still running after the wrong-password logins');
    still_serving('after 1000 wrong-password logins');
    my $nb = $m->count_backends;
    ok($nb >= 0 && $nb <= 4, "at most 4 backend connections ($nb)");
}

my $kq2 = my_query($keeper, 'SELECT 2');
is(($kq2->{results}[0]{rows}[0][0] // ''), '2', 'the first client is still logged in and served')
    or diag(explain($kq2));
syswrite($keeper, my_packet(0, "\x01"));    # COM_QUIT
close $keeper;

$w->stop;
diag(sprintf('t21 total %.1fs', time - $T0));
done_testing;
