# t73_conn_storm.t -- a reconnect storm from one address while another runs pgbench. Four
# processes (clients/conn_storm.c, in C so the storm itself costs the machine little) connect
# from 127.0.0.9, each at up to 200 connections a second (800/s in all, the same offered load
# in every run; each connection sends a startup packet, reads the first answer and hangs up;
# at most 1,600 connections or 8 s per process) while pgbench -S runs from 127.0.0.1 through the same weir. Three runs of pgbench: alone, during a
# storm with the per-address limits on (client_conn_rate 20/s, burst 40,
# max_client_conn_per_ip 20), and during a storm with them off. The tps of each run and the
# storm's figures are printed, never gated on: the test asserts that pgbench completes without
# a failed transaction every time, that the limits refused most of the storm (counted by
# reason in /metrics) and that weir is still healthy after it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use WeirTest;
use EdgeTest;

my $t = WeirTest->new(pgbench => 1);
my %users = (app => 'apppass', admin => 'adminpass');
my $mport = free_port();
my $w = $t->start_weir(users => \%users, weir => { admin_users => 'admin',
        pool_mode => 'transaction', default_pool_size => 8, log_connections => 0,
        log_disconnections => 0, log_pooler_errors => 0, metrics_port => $mport,
        client_conn_rate => 20, client_conn_burst => 40, max_client_conn_per_ip => 20 });
my $port = $w->port;
my $dir = $t->tmp;

# storm($tag) -> pids of 4 conn_storm processes (clients/conn_storm.c) hammering weir from
# 127.0.0.9; each writes its counts and its own CPU time to $dir/storm-$tag-$i.
sub storm {
    my ($tag) = @_;
    my $bin = WeirTest::client_bin('conn_storm');
    my @pids;
    for my $i (1 .. 4) {
        push @pids, spawn(sub {
            open(STDOUT, '>', "$dir/storm-$tag-$i") or die "storm output: $!";
            exec($bin, '127.0.0.1', $port, '127.0.0.9', 200, 1600, 8) or die "exec $bin: $!";
        });
    }
    return @pids;
}

# storm_totals($tag) -> (admitted, refused, other, CPU seconds of the storm's processes)
sub storm_totals {
    my ($tag) = @_;
    my @sum = (0, 0, 0, 0);
    for my $i (1 .. 4) {
        my $l = eval { slurp("$dir/storm-$tag-$i") } // '';
        my @v = $l =~ /admitted=(\d+) refused=(\d+) other=(\d+) cpu=([\d.]+)/;
        $sum[$_] += $v[$_] // 0 for 0 .. 3;
    }
    return @sum;
}

# bench($name) -> (tps, transactions) of pgbench -S -c 4 -j 2 -T 5 from 127.0.0.1
sub bench {
    my ($name) = @_;
    my ($out, $err, $rc) = $t->pgbench(port => $port,
        args => ['-n', '-S', '-c', '4', '-j', '2', '-T', '5'], timeout => 120);
    my ($tps) = $out =~ /tps = ([\d.]+)/;
    my ($failed) = $out =~ /number of failed transactions: (\d+)/;
    ok($rc == 0 && ($failed // 0) == 0, "pgbench $name: completes, no failed transaction")
        or diag("$out\n$err");
    my ($xacts) = $out =~ /number of transactions actually processed: (\d+)/;
    return ($tps // 0, $xacts // 0);
}

# weir_cpu() -> CPU seconds weir has used (user + system, from /proc)
sub weir_cpu {
    my $st = eval { slurp("/proc/" . $w->pid . "/stat") } // return 0;
    my @f = split ' ', substr($st, rindex($st, ')') + 2);
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

my $cpu0 = weir_cpu();
my ($alone, $x_alone) = bench('alone');
my $cpu_alone = weir_cpu() - $cpu0;

$cpu0 = weir_cpu();
my @pids = storm('limited');
sleep 0.5;    # the storm is under way
my ($limited, $x_limited) = bench('during a storm, limits on');
my $st = wait_children(\@pids, 60);
my $cpu_limited = weir_cpu() - $cpu0;
is(scalar(grep { $_ ne '0' } values %$st), 0, 'the storm processes finished');
my ($adm1, $ref1, $oth1, $scpu1) = storm_totals('limited');
my $m = metrics($mport);
my $by_rate = $m->{'weir_refused_connections_total{reason="conn_rate"}'} // 0;
my $by_cap = $m->{'weir_refused_connections_total{reason="conn_per_ip"}'} // 0;
# How many the storm makes in its time depends on the machine's load (about 1,500 when quiet,
# 800 under stress-ng): enough for the limits to matter is all this checks.
ok($adm1 + $ref1 > 200, "the storm made " . ($adm1 + $ref1 + $oth1) . " connections");
ok($ref1 > $adm1, "the limits refused most of them ($ref1 refused, $adm1 admitted)");
ok($by_rate + $by_cap >= $ref1, "/metrics counts them: conn_rate $by_rate, conn_per_ip $by_cap");

my $adm = console($w);
ok($adm && $adm->do('SET client_conn_rate = 0') && $adm->do('SET max_client_conn_per_ip = 0'),
    'limits off');
$cpu0 = weir_cpu();
@pids = storm('open');
sleep 0.5;
my ($open, $x_open) = bench('during a storm, limits off');
$st = wait_children(\@pids, 60);
my $cpu_open = weir_cpu() - $cpu0;
my ($adm2, $ref2, $oth2, $scpu2) = storm_totals('open');

diag(sprintf("pgbench -S from 127.0.0.1: %.0f tps alone, %.0f tps during a storm with the limits "
        . "on (storm: %d connections, %d refused, %d admitted, %d other), %.0f tps during a storm "
        . "with them off (storm: %d connections, %d admitted)",
        $alone, $limited, $adm1 + $ref1 + $oth1, $ref1, $adm1, $oth1, $open,
        $adm2 + $ref2 + $oth2, $adm2));
diag(sprintf("weir's CPU time: %.2f s alone, %.2f s with the storm and the limits on, %.2f s with "
        . "the storm and the limits off; the storm's own processes: %.2f s and %.2f s",
        $cpu_alone, $cpu_limited, $cpu_open, $scpu1, $scpu2));
# weir's CPU per storm connection, estimated: the run's CPU time less pgbench's transactions at
# what they cost alone.
my $per_x = $x_alone ? $cpu_alone / $x_alone : 0;
my $n1 = $adm1 + $ref1 + $oth1 || 1;
my $n2 = $adm2 + $ref2 + $oth2 || 1;
diag(sprintf("weir's CPU per storm connection (estimated): %.0f us refused by the limits, %.0f us "
        . "admitted to the password prompt (pgbench alone: %.0f us per transaction)",
        1e6 * ($cpu_limited - $x_limited * $per_x) / $n1,
        1e6 * ($cpu_open - $x_open * $per_x) / $n2, 1e6 * $per_x));

my ($out, $err) = $w->psql('SELECT 1');
is($out, '1', 'weir answers after the storms') or diag($err);
ok(wait_until(20, sub { (metrics($mport)->{weir_pending_logins} // -1) == 0 }),
    'no login left pending once the storm is over');
$adm->disconnect;
$w->stop;
done_testing();
