# t55_mysql_prepared_sysbench.t -- binary prepared statements in transaction pooling under
# load: sysbench oltp_point_select and oltp_read_write with prepared statements
# (--db-ps-mode=auto, sysbench's default, through its mysql driver on MariaDB Connector/C) at 64
# threads on a pool of 8 (workers = 2). Every run must finish without an error weir made, and a
# monitor on MariaDB's processlist must never see more than 8 weir connections: before
# statements followed their client, COM_STMT_PREPARE pinned each thread to a server and 64
# threads never got past initialisation. MariaDB's Prepared_stmt_count stays within pool_size x
# max_prepared_statements, and a second run with max_prepared_statements = 4 (below what one
# oltp_read_write thread prepares) keeps it within 8 x 4 while weir closes and prepares
# statements again all along. qps are printed, never asserted (the benchmark harness
# measures speed beside a direct connection).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $m = MyTest->new;

sub innodb_deadlocks {
    my $d = $m->dbi or return undef;
    my (undef, $n) = $d->selectrow_array(q{SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'});
    $d->disconnect;
    return $n;
}

sub prepared_stmt_count {
    my $d = $m->admin_dbi or return -1;
    my (undef, $n) = $d->selectrow_array(q{SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'});
    $d->disconnect;
    return $n // -1;
}

my ($out, $err, $rc) = $m->sysbench(test => 'oltp_read_write', cmd => 'prepare', timeout => 300);
is($rc, 0, 'sysbench prepare (direct): 2 tables of 1000 rows') or diag("$out\n$err");

# run($w, %o): sysbench through weir in a child while this process samples MariaDB's
# processlist and Prepared_stmt_count; returns the parsed report with the samples' maxima.
sub run {
    my ($w, $label, %o) = @_;
    my $file = $m->tmp . "/sysbench_$o{test}";
    my $deadlocks0 = innodb_deadlocks();
    my $pid = spawn(sub {
        my ($o, $e, $r) = $w->sysbench(%o);
        WeirTest::spew("$file.out", $o);
        WeirTest::spew("$file.err", $e);
        WeirTest::spew("$file.rc", $r);
        return 1;
    });
    my ($max, $samples, $failed, $last, $snap, $maxps) = (0, 0, 0, 0, '', 0);
    my $st = wait_children([$pid], 240, sub {
        return if time - $last < 0.1;
        $last = time;
        my $c = $m->count_backends;
        if ($c < 0) { $failed++; return }
        $samples++;
        if ($c > $max) {
            $max = $c;
            $snap = $m->backends_text if $c > 8;
        }
        my $ps = prepared_stmt_count();
        $maxps = $ps if $ps > $maxps;
    });
    is($st->{$pid}, 0, "$label: the run finished");
    my $wo = WeirTest::slurp("$file.out") // '';
    my $we = WeirTest::slurp("$file.err") // '';
    my $ws = parse_sysbench($wo);
    is(WeirTest::slurp("$file.rc") // 'none', 0, "$label through weir: exit status 0")
        or diag("stdout:\n$wo\nstderr:\n$we");
    # sysbench retries a deadlock (1213) and counts it as an "ignored error"; oltp_read_write
    # on 2x1000 rows has a few without weir too. Each must be one InnoDB detected.
    my $deadlocks = (innodb_deadlocks() // 0) - ($deadlocks0 // 0);
    my $ignored = $ws->{ignored_errors} // -1;
    ok($ignored >= 0 && $ignored <= $deadlocks,
        "$label through weir: ignored errors ($ignored) are InnoDB deadlocks ($deadlocks)")
        or diag("sysbench reported:\n$wo");
    is($ws->{reconnects}, 0, "$label through weir: reconnects: 0");
    ok(($ws->{queries} // 0) > 0, "$label through weir ran queries ($ws->{queries})");
    ok($samples >= 30, "$label: the monitor sampled the processlist $samples times "
            . "($failed failed)");
    ok($max <= 8, "$label: MariaDB never saw more than 8 weir connections (max $max)")
        or diag("processlist at the max:\n$snap");
    ok($max >= 1, "$label: the monitor saw weir's connections");
    return { %$ws, max => $max, maxps => $maxps };
}

my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 2,
        default_pool_size => 8, query_wait_timeout => 30, log_connections => 0,
        log_disconnections => 0 });
for my $test ('oltp_point_select', 'oltp_read_write') {
    # uniform keys: the default 'special' distribution deadlocks oltp_read_write on 2x1000
    # rows even without weir.
    my %o = (test => $test, threads => 64, time => 10, args => ['--rand-type=uniform']);
    my $label = "$test, prepared statements, 64 threads on 8 servers";
    my $ws = run($w, $label, %o);
    ok($ws->{maxps} <= 8 * 200, "$label: MariaDB's Prepared_stmt_count stayed within "
            . "8 servers x 200 (max $ws->{maxps})");
    ok($ws->{maxps} >= 1, "$label: statements were prepared on the servers ($ws->{maxps})");
    diag(sprintf('%-60s weir %9.1f qps (max %d servers, %d statements)', $label,
            $ws->{qps} // 0, $ws->{max}, $ws->{maxps}));
}
$w->stop;
ok(wait_until(10, sub { $m->count_backends == 0 }), 'stopped weir: its backends are gone');

# max_prepared_statements = 4: an oltp_read_write thread prepares more than that, so weir
# closes the least recently used statements and prepares them again as the threads go.
my $w4 = $m->start_weir(weir => { pool_mode => 'transaction', workers => 2,
        default_pool_size => 8, query_wait_timeout => 30, max_prepared_statements => 4,
        log_connections => 0, log_disconnections => 0 });
my $label = 'oltp_read_write, max_prepared_statements = 4, 64 threads on 8 servers';
my $ws = run($w4, $label, test => 'oltp_read_write', threads => 64, time => 8,
    args => ['--rand-type=uniform']);
ok($ws->{maxps} <= 8 * 4, "$label: MariaDB's Prepared_stmt_count stayed within 8 x 4 "
        . "(max $ws->{maxps})");
diag(sprintf('%-60s weir %9.1f qps (max %d servers, %d statements)', $label, $ws->{qps} // 0,
        $ws->{max}, $ws->{maxps}));
$w4->stop;
ok(wait_until(10, sub { prepared_stmt_count() == 0 }),
    'weir stopped: no statement is left on MariaDB');

done_testing();
