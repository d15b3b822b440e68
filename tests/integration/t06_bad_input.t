# t06_bad_input.t -- hostile or broken clients: a client killed mid-query, garbage after
# login, a 1 MB garbage startup packet, random bytes, and many half-open connections.
# Each is dealt with (error or close) and weir keeps serving everyone else.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $w = $t->start_weir(weir => { default_pool_size => 1, workers => 2,
        client_login_timeout => 3 });

sub serves_ok {
    my ($what) = @_;
    my ($out, $err, $rc) = $w->psql('SELECT 40 + 2', timeout => 30);
    is($out, '42', "still serving after $what") or diag("rc=$rc stderr=$err");
}

# ---- client killed in the middle of a query (pool_size = 1) --------------------------------
{
    pipe(my $rd, my $wr) or die;
    my $pid = spawn(sub {
        close $rd;
        my $dbh = $w->dbi or die "connect: $DBI::errstr\n";
        my ($bp) = $dbh->selectrow_array('SELECT pg_backend_pid()');
        syswrite($wr, "$bp\n");
        $dbh->do('SELECT pg_sleep(5)');
        return 1;
    });
    close $wr;
    my $bp = <$rd>;
    chomp $bp if defined $bp;
    ok($bp, "client got server pid $bp");
    ok(wait_until(5, sub {
        grep { ($_->{query} // '') =~ /pg_sleep\(5\)/ && ($_->{state} // '') eq 'active' }
            @{ $t->backends };
    }), 'pg_sleep(5) is running on the server');
    kill 'KILL', $pid;
    my $killed = time;
    wait_children([$pid], 10);
    # The server must be cleaned: its query cancelled or the connection closed, not left
    # running until pg_sleep ends.
    my $cleaned = wait_until(3, sub {
        !grep { ($_->{query} // '') =~ /pg_sleep\(5\)/ && ($_->{state} // '') eq 'active' }
            @{ $t->backends };
    });
    ok($cleaned, sprintf('server query stopped within %.1fs of the client vanishing',
            time - $killed));
    my $t0 = time;
    my $dbh = $w->dbi(connect_timeout => 30);
    ok($dbh, 'next client connects') or diag($DBI::errstr);
    my ($r) = $dbh ? $dbh->selectrow_array('SELECT 1') : ();
    is($r, 1, 'next client gets a working (not busy) server');
    my ($active) = $dbh ? $dbh->selectrow_array(q{SELECT count(*) FROM pg_stat_activity
        WHERE query LIKE 'SELECT pg_sleep(5)%' AND state = 'active'}) : (-1);
    is($active, 0, 'no leftover pg_sleep(5) running');
    diag(sprintf('next client served %.2fs after the kill', time - $killed));
    $dbh->disconnect if $dbh;
    ok($t->count_backends <= 1, 'pool bound still holds');
}

# ---- client that goes away in the middle of a large result ---------------------------------
{
    my $s = $w->socket;
    my $r = raw_login($s);
    ok($r->{ok}, 'raw login');
    syswrite($s, pg_msg('Q', "SELECT repeat('x', 32 * 1024 * 1024) FROM generate_series(1, 8)\0"));
    my $got = read_exact($s, 256 * 1024, time + 10);
    ok(length($got) > 0, 'large result started arriving (' . length($got) . ' bytes read)');
    close $s;    # with ~250 MB unread
    my $t0 = time;
    my ($out, $err, $rc) = $w->psql('SELECT 41 + 1', timeout => 30);
    is($out, '42', sprintf('next client served %.1fs after a client dropped a large result',
            time - $t0)) or diag($err);
    ok(wait_until(5, sub {
        !grep { ($_->{query} // '') =~ /repeat/ && ($_->{state} // '') eq 'active' }
            @{ $t->backends };
    }), 'the large query does not keep running');
    ok($t->count_backends <= 1, 'pool bound still holds');
}

# ---- garbage after login: a message with a length field < 4 -------------------------------
{
    my $s = $w->socket;
    my $r = raw_login($s);
    ok($r->{ok}, 'raw login');
    syswrite($s, 'Q' . pack('N', 2) . "xx");
    my ($type, $body) = read_msg($s, 5);
    ok(!defined $type || $type eq 'E', 'message length 2: ErrorResponse or close')
        or diag("got $type");
    ok(sock_closed($s, 5), 'message length 2: connection closed');
    close $s;
    serves_ok('a message with length < 4');

    $s = $w->socket;
    $r = raw_login($s);
    ok($r->{ok}, 'raw login');
    syswrite($s, 'Q' . pack('N', 0xFFFFFFF0) . "SELECT 1");
    sleep 0.2;
    close $s;
    serves_ok('a huge message length then close');

    $s = $w->socket;
    $r = raw_login($s);
    syswrite($s, "\x00\x01\x02garbage-type\xff\xfe" x 10);
    ok(sock_closed($s, 10), 'unknown message types: connection closed (or error then close)');
    close $s;
    serves_ok('unknown message types after login');
}

# ---- garbage startup packets ----------------------------------------------------------------
{
    my $s = $w->socket;
    my $junk = join('', map { chr(int rand 256) } 1 .. 4096) x 256;    # 1 MB
    substr($junk, 0, 8) = pack('NN', length($junk), 196608);
    my $t0 = time;
    my $off = 0;
    $s->blocking(0);
    while ($off < length $junk && time - $t0 < 5) {
        my $n = syswrite($s, $junk, 65536, $off);
        if (defined $n) { $off += $n } else { last unless $!{EAGAIN}; sleep 0.01 }
    }
    $s->blocking(1);
    ok(sock_closed($s, 10), "1 MB garbage startup packet: closed (sent $off bytes)");
    close $s;
    serves_ok('a 1 MB garbage startup packet');

    for my $case (["\xff\xff\xff\xff" . "garbage", 'length 0xffffffff'],
        [pack('N', 3), 'length 3'], [pack('N', 0), 'length 0'],
        ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", 'an HTTP request'],
        [pack('NN', 8, 1234), 'unknown request code'])
    {
        $s = $w->socket;
        syswrite($s, $case->[0]);
        ok(sock_closed($s, 8), "startup with $case->[1]: closed");
        close $s;
    }
    serves_ok('garbage startup packets');
}

# ---- many half-open connections -------------------------------------------------------------
{
    my $n = 300;
    my @socks;
    for my $i (1 .. $n) {
        my $s = eval { $w->socket } or last;
        syswrite($s, substr(startup_packet(), 0, 1 + $i % 20)) if $i % 3;
        push @socks, $s;
    }
    is(scalar(@socks), $n, "$n half-open connections accepted");
    serves_ok("$n half-open connections");
    my $t0 = time;
    my $closed = 0;
    for my $s (@socks) {
        $closed++ if sock_closed($s, 15 - (time - $t0));
    }
    is($closed, $n, sprintf('all half-open connections dropped by client_login_timeout (3s) '
                . 'within %.1fs', time - $t0));
    close $_ for @socks;
    serves_ok('the half-open connections went away');
}

ok($w->alive, 'weir still running');
$w->stop;
done_testing;
