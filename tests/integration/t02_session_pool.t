# t02_session_pool.t -- session pooling: the pool bound holds across workers under 100
# concurrent clients, waiting clients are served in arrival order (FIFO), the reset query
# runs between clients, and a client that vanishes mid-transaction leaves nothing behind.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;

# ---- 100 concurrent clients, pool_size = 5, workers = 2 ----------------------------------
{
    my $w = $t->start_weir(weir => { default_pool_size => 5, workers => 2 });
    my $n = 100;
    my $t0 = time;
    my @pids;
    for my $i (1 .. $n) {
        push @pids, spawn(sub {
            my $dbh = $w->dbi(connect_timeout => 120, appname => "c$i")
                or die "connect $i: $DBI::errstr\n";
            my ($one) = $dbh->selectrow_array('SELECT 1') or die "q1: " . $dbh->errstr . "\n";
            my ($s) = $dbh->selectrow_array('SELECT pg_sleep(0.05)');
            die "sleep: " . $dbh->errstr . "\n" if $dbh->err;
            my ($v) = $dbh->selectrow_array('SELECT $1::int * 3', undef, $i)
                or die "q3: " . $dbh->errstr . "\n";
            die "wrong answer $v for $i\n" unless $v == 3 * $i;
            $dbh->disconnect;
            return 1;
        });
    }
    my $max = 0;
    my $samples = 0;
    my $st = wait_children(\@pids, 180, sub {
        my $c = $t->count_backends;
        $samples++;
        $max = $c if $c > $max;
    });
    my $el = time - $t0;
    my @bad = grep { $st->{$_} ne '0' } @pids;
    is(scalar(@bad), 0, "$n concurrent clients through weir all completed")
        or diag("failed children: " . join(', ', map { "$_=$st->{$_}" } @bad));
    ok($max <= 5, "PostgreSQL never saw more than 5 weir connections (max $max, $samples samples)");
    ok($max >= 1, 'monitor saw weir connections');
    diag(sprintf('100 clients finished in %.1fs, max %d server connections', $el, $max));
    ok($t->count_backends <= 5, 'at most 5 server connections after the run');
    $w->stop;
}

# ---- FIFO: pool_size = 1, waiters are served in arrival order ------------------------------
{
    my $adm = $t->pg_dbi or die $DBI::errstr;
    $adm->do('CREATE TABLE fifo (id serial PRIMARY KEY, idx int)') or die $adm->errstr;
    my $w = $t->start_weir(weir => { default_pool_size => 1, workers => 2,
            admin_users => 'admin' }, users => { app => 'apppass', admin => 'adminpass' });
    # Clients of testdb waiting for a server, as the admin console counts them.
    my $console;
    my $queued = sub {
        $console //= DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port
                . ';dbname=weir;sslmode=disable', 'admin', 'adminpass',
            { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
        my $r = $console ? $console->selectall_arrayref('SHOW POOLS', { Slice => {} }) : undef;
        $console = undef unless $r;    # reconnect next time
        my ($p) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' } @{ $r // [] };
        return $p ? $p->{cl_waiting} : 0;
    };
    my $holder = $w->dbi or die "holder: $DBI::errstr";
    my ($hp) = $holder->selectrow_array('SELECT pg_backend_pid()');
    ok($hp, 'holder has the only server connection');
    my $nw = 8;
    my @pids;
    for my $i (0 .. $nw - 1) {
        push @pids, spawn(sub {
            my $dbh = $w->dbi(connect_timeout => 60) or die "connect $i: $DBI::errstr\n";
            $dbh->do('INSERT INTO fifo (idx) VALUES (?)', undef, $i)
                or die "insert $i: " . $dbh->errstr . "\n";
            sleep 0.1;
            $dbh->disconnect;
            return 1;
        });
        # Each waiter is queued before the next starts: that is the arrival order.
        wait_until(30, sub { $queued->() >= $i + 1 }, 0.02) or diag("waiter $i not queued");
    }
    sleep 0.3;
    my ($cnt) = $adm->selectrow_array('SELECT count(*) FROM fifo');
    is($cnt, 0, 'no waiter got a server while the holder kept it');
    $holder->disconnect;
    my $st = wait_children(\@pids, 60);
    is(scalar(grep { $st->{$_} ne '0' } @pids), 0, 'all waiters completed');
    my $order = $adm->selectcol_arrayref('SELECT idx FROM fifo ORDER BY id');
    is_deeply($order, [0 .. $nw - 1], 'waiting clients were served in arrival order')
        or diag("order: @$order");
    ok($t->count_backends <= 1, 'pool_size 1 respected');
    $console->disconnect if $console;
    $w->stop;
    $adm->do('DROP TABLE fifo');
    $adm->disconnect;
}

# ---- server reset between clients (pool_size = 1) ----------------------------------------
{
    my $w = $t->start_weir(weir => { default_pool_size => 1, workers => 2 });
    my $ca = $w->dbi or die "a: $DBI::errstr";
    my ($pid_a) = $ca->selectrow_array('SELECT pg_backend_pid()');
    ok($ca->do("SET application_name = 'leaky'"), 'A: SET application_name');
    ok($ca->do("SET statement_timeout = '1234s'"), 'A: SET statement_timeout');
    ok($ca->do('CREATE TEMP TABLE leak_tmp (x int)'), 'A: temp table');
    ok($ca->do('PREPARE leak_stmt AS SELECT 1'), 'A: PREPARE');
    $ca->disconnect;

    my $cb = $w->dbi(appname => 'bclient') or die "b: $DBI::errstr";
    my ($pid_b) = $cb->selectrow_array('SELECT pg_backend_pid()');
    is($pid_b, $pid_a, 'B got the same server connection as A');
    my ($to) = $cb->selectrow_array('SHOW statement_timeout');
    is($to, '0', 'B does not see A\'s statement_timeout');
    my ($an) = $cb->selectrow_array('SHOW application_name');
    isnt($an, 'leaky', "B does not see A's application_name ($an)");
    ok(!$cb->do('SELECT * FROM leak_tmp'), 'B does not see A\'s temp table');
    is($cb->state, '42P01', 'temp table is gone (42P01)');
    ok(!$cb->do('EXECUTE leak_stmt'), 'B does not see A\'s prepared statement');
    is($cb->state, '26000', 'prepared statement is gone (26000)');
    $cb->disconnect;

    # A client that disconnects inside an open transaction.
    my $adm = $t->pg_dbi or die $DBI::errstr;
    $adm->do('CREATE TABLE txleft (v int)');
    pipe(my $rd, my $wr) or die;
    my $pid = spawn(sub {
        close $rd;
        my $dbh = $w->dbi or die "c: $DBI::errstr\n";
        $dbh->do('BEGIN') or die;
        $dbh->do('INSERT INTO txleft VALUES (42)') or die $dbh->errstr;
        my ($x) = $dbh->selectrow_array('SELECT txid_current_if_assigned()');
        syswrite($wr, "$x\n");
        # exit without COMMIT/ROLLBACK or Terminate: the socket just closes.
        POSIX::_exit(0);
    });
    close $wr;
    my $xid = <$rd>;
    chomp $xid if defined $xid;
    ok($xid, "client opened a transaction (xid $xid) and vanished");
    wait_children([$pid], 20);

    my $c = $w->dbi(connect_timeout => 30) or die "next: $DBI::errstr";
    my ($cur) = $c->selectrow_array('SELECT txid_current_if_assigned()');
    ok(!defined $cur, 'next client is not inside the vanished client\'s transaction');
    my ($cnt) = $c->selectrow_array('SELECT count(*) FROM txleft');
    is($cnt, 0, 'row of the vanished client was not committed');
    # (A server closed with the vanished client leaves pg_stat_activity a moment later.)
    ok(wait_until(10, sub {
        my ($n) = $adm->selectrow_array(q{SELECT count(*) FROM pg_stat_activity
            WHERE usename = 'app' AND state LIKE 'idle in transaction%'});
        $n == 0;
    }), 'no idle-in-transaction server session');
    $c->do('INSERT INTO txleft VALUES (1)');
    $c->disconnect;
    ok(wait_until(10, sub {
        my ($n) = $adm->selectrow_array(q{SELECT count(*) FROM pg_stat_activity
            WHERE usename = 'app' AND state LIKE 'idle in transaction%'});
        $n == 0;
    }), 'no idle-in-transaction backend after the next client left');
    my ($total) = $adm->selectrow_array('SELECT count(*) FROM txleft WHERE v = 42');
    is($total, 0, 'the abandoned INSERT never became visible');
    $adm->disconnect;
    $w->stop;
}

done_testing;
