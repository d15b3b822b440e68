# t36_session_login.t -- session pooling logs clients in without a server once the pool knows
# its server's parameters: a client whose pool is busy finishes its login at once, waits at
# its first query (counted as cl_waiting by SHOW POOLS) and keeps the server it then gets to
# the end of its session; `pgbench -S -c 20 -t 200` on a session pool of 5 completes every
# transaction. The same for MySQL clients (handshake OK at once, first command waits).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $m = MyTest->new;
my $w = $m->start_weir(pg => $t, weir => { pool_mode => 'session', default_pool_size => 1,
        query_wait_timeout => 60, admin_users => 'admin' },
    users => { app => 'apppass', admin => 'adminpass' },
    databases => { bench => 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb pool_size=5' });

my $console;
# SHOW POOLS row of (database, app).
sub pool_row {
    my ($db) = @_;
    $console //= DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    my $r = $console ? $console->selectall_arrayref('SHOW POOLS', { Slice => {} }) : undef;
    $console = undef unless $r;
    my ($p) = grep { $_->{database} eq $db && $_->{user} eq 'app' } @{ $r // [] };
    return $p // {};
}

subtest 'PostgreSQL: login without a server, the first query waits' => sub {
    # The first client of the pool logs in through a server (nothing is known yet) and keeps it.
    my $a = $w->socket;
    my $la = raw_login($a);
    ok($la->{ok}, 'first client logged in') or diag explain $la;
    my $pa = raw_query($a, 'SELECT pg_backend_pid()');
    my $apid = $pa->{rows}[0][0];
    ok($apid, "first client holds server $apid");

    my $b = $w->socket;
    my $t0 = time;
    my $lb = raw_login($b, timeout => 20);
    my $took = time - $t0;
    ok($lb->{ok}, 'second client logged in while the only server is held') or diag explain $lb;
    cmp_ok($took, '<', 10, sprintf('without waiting for the server (%.2f s)', $took));
    is($lb->{params}{server_version} ? 1 : 0, 1, 'told the server version from the pool');

    syswrite($b, pg_msg('Q', "SELECT pg_backend_pid()\0"));
    ok(wait_until(20, sub { (pool_row('testdb')->{cl_waiting} // 0) == 1 }, 0.05),
        'SHOW POOLS counts it as waiting at its first query');
    my ($type) = read_msg($b, 0.5);
    ok(!defined $type, 'no answer while the server is held');

    close $a;    # the first session ends: its server goes to the waiting client
    my %rows;
    my $rb;
    my $deadline = time + 30;
    while (time < $deadline) {
        my ($ty, $body) = read_msg($b, $deadline - time);
        last unless defined $ty;
        $rb = substr($body, 6) if $ty eq 'D';
        last if $ty eq 'Z';
    }
    is($rb, $apid, 'the waiting client got the same (only) server');
    my $again = raw_query($b, 'SELECT pg_backend_pid()');
    is($again->{rows}[0][0], $apid, 'and keeps it for its session');
    ok(wait_until(10, sub { (pool_row('testdb')->{cl_waiting} // -1) == 0 }, 0.05),
        'no client waiting any more');
    close $b;
};

subtest 'pgbench -S -c 20 -t 200 on a session pool of 5' => sub {
    $t->pgbench_init(1);
    my $max = 0;
    my $mon = spawn(sub {
        # Servers of the bench pool as weir counts them (the testdb pool of the subtest
        # above keeps its own idle server to the same database).
        my $top = 0;
        for (1 .. 600) {
            my $p = pool_row('bench');
            my $n = 0;
            $n += $p->{$_} // 0 for qw(sv_active sv_idle sv_used sv_tested sv_login);
            $top = $n if $n > $top;
            open my $f, '>', $t->tmp . '/t36_max' or die;
            print $f $top;
            close $f;
            last if -e $t->tmp . '/t36_stop';
            sleep 0.1;
        }
        return 1;
    });
    my ($out, $err, $rc) = $t->pgbench(port => $w->port, db => 'bench',
        args => [qw(-n -S -c 20 -j 2 -t 200)], timeout => 180);
    open my $s, '>', $t->tmp . '/t36_stop';
    close $s;
    wait_children([$mon], 30);
    $max = WeirTest::slurp($t->tmp . '/t36_max') // 0;
    is($rc, 0, 'pgbench finished') or diag "$out\n$err";
    like($out, qr/number of transactions actually processed: 4000\/4000/,
        'every transaction completed') or diag $out;
    like($out, qr/number of failed transactions: 0 /, 'none failed') if $out =~ /failed transactions/;
    ok($max >= 1 && $max <= 5, "never more than 5 server connections (saw $max)");
    my ($tps) = $out =~ /tps = ([\d.]+)/;
    diag(sprintf('session pool of 5, 20 clients: %s tps', $tps // '?'));
};

subtest 'MySQL: login without a server, the first command waits' => sub {
    my $a = $w->my_socket;
    ok(my_login($a)->{ok}, 'first client logged in');
    my $ra = my_query($a, 'SELECT CONNECTION_ID()');
    my $aid = $ra->{results}[0]{rows}[0][0];
    ok($aid, "first client holds server $aid");

    my $b = $w->my_socket;
    my $t0 = time;
    my $lb = my_login($b, timeout => 20);
    my $took = time - $t0;
    ok($lb->{ok}, 'second client logged in while the only server is held') or diag explain $lb;
    cmp_ok($took, '<', 10, sprintf('without waiting for the server (%.2f s)', $took));

    syswrite($b, my_packet(0, "\x03SELECT CONNECTION_ID()"));
    ok(wait_until(20, sub { (pool_row('shop')->{cl_waiting} // 0) == 1 }, 0.05),
        'SHOW POOLS counts it as waiting at its first command');
    close $a;
    my $rb = my_read_result($b, 30);
    is($rb->{results}[0]{rows}[0][0], $aid, 'the waiting client got the same (only) server');
    my $again = my_query($b, 'SELECT CONNECTION_ID()');
    is($again->{results}[0]{rows}[0][0], $aid, 'and keeps it for its session');
    close $b;
};

$w->stop;
done_testing;
