# t26_mysql_change_user.t -- COM_CHANGE_USER through weir and the authentication dialogues
# around it. Connector/C's mysql_change_user() (tests/integration/clients/my_change_user.c)
# switches from app to forced: weir checks the new user against the auth file through an
# AuthSwitchRequest, the old server is reset and returned, the session continues on the new
# (database, user) pool with nothing of the old session left; a wrong password is 1045 and
# closes. Also: a login that starts with caching_sha2_password is switched to
# mysql_native_password; malformed COM_CHANGE_USER packets; binary prepared statements of a
# MySQL-protocol client without MariaDB's metadata cache get the same packets as directly.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Digest::SHA ();

my $m = MyTest->new;
my $bin = WeirTest::client_bin('my_change_user');
plan skip_all => "$bin is not built" unless -x $bin;

# sock_err($sock) -> the ERR packet weir sends next, or undef.
sub next_err {
    my ($sock) = @_;
    my ($seq, $p) = my_read_packet($sock, 10);
    return undef unless defined $seq && ord($p) == 0xff;
    my $e = my_parse_err($p);
    $e->{seq} = $seq;
    return $e;
}

for my $mode (qw(transaction session)) {
    my $w = $m->start_weir(weir => { pool_mode => $mode, workers => 2, default_pool_size => 3 });
    my $port = $w->mysql_port;
    my ($out, $err, $rc) = run_cmd([$bin, '127.0.0.1', $port, 'app', 'apppass', 'shop',
            'forced', 'forcedpass', 'shopforced']);
    is($rc, 0, "$mode: the Connector/C client runs") or diag("$out\n$err");
    like($out, qr/^before: app@%? \| shop$/m, "$mode: logged in as app") or diag($out);
    like($out, qr/^var: 42$/m, "$mode: with a user variable");
    like($out, qr/^change: ok$/m, "$mode: mysql_change_user to forced is OK") or diag($out);
    my ($t1) = $out =~ /^thread id before: (\d+)$/m;
    my ($t2) = $out =~ /^thread id after: (\d+)$/m;
    is($t2, $t1, "$mode: the thread id stays ($t1)");
    like($out, qr/^after: forced@%? \| shop$/m, "$mode: the session is forced's now")
        or diag($out);
    like($out, qr/^var after: NULL$/m, "$mode: nothing of the old session is left");
    like($out, qr/^again: 2$/m, "$mode: queries go on");
    like($out, qr/^bad change: error 1045$/m, "$mode: a wrong password is 1045") or diag($out);
    like($out, qr/^after bad change: error 20(06|13)/m, "$mode: ... and the connection closes");
    $w->log_like(qr/COM_CHANGE_USER to shopforced\/forced/, "$mode: weir logs the change");
    ok(wait_until(10, sub { $m->count_backends(user => 'app') <= 3 }),
        "$mode: app's pool holds its bound");

    # The old server was reset before anyone else used it: no user variable leaks.
    my ($o2) = $w->mariadb('SELECT @v');
    is($o2, "NULL\n", "$mode: the next app client sees a clean session");
    $w->stop;
}

my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 2 });

# ---- a login that starts with caching_sha2_password (a MySQL 8 client) ----
# (t123 has the rest of caching_sha2_password; here: the sequence ids around its fast path)
{
    my $s = $w->my_socket;
    my ($seq, $p) = my_read_packet($s, 10);
    my $g = my_parse_greeting($p);
    my $h1 = Digest::SHA::sha256('apppass');
    my $token = $h1 ^ Digest::SHA::sha256(Digest::SHA::sha256($h1) . substr($g->{salt}, 0, 20));
    my $resp = my_handshake_response(user => 'app', db => 'shop', auth => $token,
        plugin => 'caching_sha2_password',
        caps => $MyTest::DEFAULT_CAPS | MyTest::CLIENT_PLUGIN_AUTH());
    syswrite($s, my_packet($seq + 1, $resp));
    my ($seq1, $more) = my_read_packet($s, 10);
    is($more, "\x01\x03", 'caching_sha2_password login: fast authentication (AuthMoreData 0x03)');
    my ($seq2, $ok) = my_read_packet($s, 10);
    ok(defined $ok && ord($ok) == 0, 'caching_sha2_password login: then OK')
        or diag(defined $ok ? unpack('H*', $ok) : 'closed');
    is($seq2, $seq1 + 1, 'caching_sha2_password login: sequence ids follow on');
    my $q = my_query($s, 'SELECT 11');
    is($q->{results}[0]{rows}[0][0], '11', 'caching_sha2_password login: the session works');
}

# ---- malformed COM_CHANGE_USER: a clear ERR, only that connection closes ----
for my $case (['no NUL after the user', "\x11app"],
    ['auth length past the end', "\x11app\0\x14abc"],
    ['no NUL after the database', "\x11app\0\x00shop"]) {
    my ($name, $payload) = @$case;
    my $s = $w->my_socket;
    my $l = my_login($s);
    syswrite($s, my_packet(0, $payload));
    my $e = next_err($s);
    ok($e && $e->{msg} =~ /bad COM_CHANGE_USER/, "malformed COM_CHANGE_USER ($name): ERR")
        or diag(explain($e));
    ok(sock_closed($s, 5), "malformed COM_CHANGE_USER ($name): closed");
}
{
    my $s = $w->my_socket;
    my_login($s);
    syswrite($s, my_packet(0, "\x11nobody\0\0shop\0" . pack('v', 45) . "mysql_native_password\0"));
    my ($seq, $p) = my_read_packet($s, 10);
    ok(defined $p && ord($p) == 0xfe, 'COM_CHANGE_USER: weir asks for a token (AuthSwitch)');
    my $salt = substr($p, 1 + length("mysql_native_password\0"), 20);
    syswrite($s, my_packet($seq + 1, my_native_scramble('x', $salt)));
    my $e = next_err($s);
    is($e && $e->{code}, 1045, 'COM_CHANGE_USER to a user not in the auth file: 1045');
    is($e && $e->{seq}, $seq + 2, '... with the next sequence id');
    my $s2 = $w->my_socket;
    my_login($s2);
    syswrite($s2, my_packet(0, "\x11app\0\0nosuchdb\0" . pack('v', 45)
            . "mysql_native_password\0"));
    $e = next_err($s2);
    is($e && $e->{code}, 1049, 'COM_CHANGE_USER to an unknown database: 1049');
}

# ---- binary prepared statements of a client without MariaDB's metadata cache ----
# (as Go's go-sql-driver/mysql or PHP's mysqlnd). weir's server connections have the cache,
# so MariaDB leaves the column definitions out of COM_STMT_EXECUTE results; weir puts back
# the ones it kept from the prepare. The packets this client gets through weir must be the
# ones it gets from MariaDB directly, sequence ids included.

# read_resp($sock, $kind) -> list of "seq:hex" for one response (kind: prepare | execute)
sub read_resp {
    my ($sock, $kind) = @_;
    my @t;
    my $next = sub {
        my ($seq, $p) = my_read_packet($sock, 10);
        die "connection closed\n" unless defined $seq;
        push @t, [$seq, $p];
        return $p;
    };
    my $p = $next->();
    return @t if ord($p) == 0xff;
    my $eof = sub { my $q = $next->(); die "expected EOF\n" unless ord($q) == 0xfe };
    if ($kind eq 'prepare') {
        my ($ncols, $nparams) = unpack('vv', substr($p, 5, 4));
        if ($nparams) { $next->() for 1 .. $nparams; $eof->() }
        if ($ncols) { $next->() for 1 .. $ncols; $eof->() }
        substr($t[0][1], 1, 4) = 'ID__';    # statement ids differ between connections
        return @t;
    }
    return @t if ord($p) == 0x00;
    my $n = ord($p);
    $next->() for 1 .. $n;
    $eof->();
    while (1) {
        my $q = $next->();
        last if ord($q) == 0xff || (ord($q) == 0xfe && length($q) < 9);
    }
    return @t;
}

sub trace_text { join("\n", map { sprintf('%d:%s', $_->[0], unpack('H*', $_->[1])) } @_) }

sub binary_session {
    my ($port) = @_;
    my $s = MyTest::my_connect($port) or return 'no connection';
    my $l = my_login($s, mysql_client => 1);
    return 'login failed' unless $l->{ok};
    my @out;
    my $prepare = sub {
        syswrite($s, my_packet(0, "\x16$_[0]"));
        my @t = read_resp($s, 'prepare');
        push @out, "prepare $_[0]", trace_text(@t);
        return ord($t[0][1]) == 0 ? unpack('V', substr(($t[0][1] =~ s/^.ID__/\0\0\0\0\0/r), 1, 4)) : undef;
    };
    my $execute = sub {
        my ($id, @params) = @_;
        my $pk = "\x17" . pack('V', $id) . "\0" . pack('V', 1);
        if (@params) {
            $pk .= "\0" x int((@params + 7) / 8) . "\x01" . ("\x08\x00" x @params)
                . join('', map { pack('q<', $_) } @params);
        }
        syswrite($s, my_packet(0, $pk));
        push @out, 'execute ' . join(',', @params), trace_text(read_resp($s, 'execute'));
    };
    # The real statement id is needed for EXECUTE: read it before it is masked.
    syswrite($s, my_packet(0, "\x16SELECT ? + 1 AS a, 'x' AS b, v FROM "
            . "(SELECT 1 AS v UNION SELECT 2) t ORDER BY v"));
    my ($seq, $ok) = my_read_packet($s, 10);
    return 'prepare failed: ' . unpack('H*', $ok // '') unless defined $ok && ord($ok) == 0;
    my $id = unpack('V', substr($ok, 1, 4));
    my ($ncols, $nparams) = unpack('vv', substr($ok, 5, 4));
    my_read_packet($s, 10) for 1 .. $nparams + 1 + $ncols + 1;
    $execute->($id, 5);
    $execute->($id, 41);
    syswrite($s, my_packet(0, "\x19" . pack('V', $id)));    # COM_STMT_CLOSE, no answer
    syswrite($s, my_packet(0, "\x16SELECT 3 AS c, NOW() IS NOT NULL AS d"));
    ($seq, $ok) = my_read_packet($s, 10);
    return 'second prepare failed' unless defined $ok && ord($ok) == 0;
    my $id2 = unpack('V', substr($ok, 1, 4));
    my_read_packet($s, 10) for 1 .. 3;
    $execute->($id2);
    $execute->($id2);
    # A result far larger than weir's buffers: the definitions go in ahead of rows that are
    # already waiting, and every later sequence id moves up (wrapping past 255).
    syswrite($s, my_packet(0, "\x16SELECT seq, REPEAT('x', 100) AS pad FROM seq_1_to_3000"));
    ($seq, $ok) = my_read_packet($s, 10);
    return 'third prepare failed' unless defined $ok && ord($ok) == 0;
    my $id3 = unpack('V', substr($ok, 1, 4));
    my_read_packet($s, 10) for 1 .. 3;
    $execute->($id3);
    my $q = my_query($s, 'SELECT 12');
    push @out, 'text ' . ($q->{results}[0]{rows}[0][0] // 'none');
    close $s;
    return join("\n", @out);
}

my $direct = binary_session($m->port);
diag($direct) if $ENV{SHOW_TRACE};
like($direct, qr/^execute 5\n1:/m, 'binary statements of a plain client run directly')
    or diag($direct);
like($direct, qr/^execute \n1:02\n(?:.*\n){3000,}/m, '... including a 3000-row result');
for my $mode (qw(transaction session)) {
    my $wb = $m->start_weir(weir => { pool_mode => $mode, workers => 2 });
    my $through = binary_session($wb->mysql_port);
    ok($through eq $direct, "$mode: binary results through weir are the packets MariaDB sends "
            . 'a plain client (definitions put back, sequence ids moved up)') or do {
        my @d = split /\n/, $direct;
        my @t = split /\n/, $through;
        my $i = 0;
        $i++ while $i < @d && $i < @t && $d[$i] eq $t[$i];
        diag("first difference at line $i of " . scalar(@d) . ": direct '"
                . ($d[$i] // 'none') . "', through weir '" . ($t[$i] // 'none') . "'");
    };
    $wb->stop;
}

$w->stop;

done_testing();
