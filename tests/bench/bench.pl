#!/usr/bin/perl
# bench.pl -- throughput benchmark: pgbench and sysbench against the database directly, through
# PgBouncer and through weir, taking turns per configuration; per run tps, average and p99
# latency, the pooler's CPU time and syscalls per transaction. Writes results.md, results.csv
# and PNG plots to tests/bench/results/<timestamp>/. Started by tests/bench/run (which builds
# weir and raises the open-file limit); see tests/bench/README.md for the options.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use lib "$FindBin::Bin/../integration";
use Bench;
use WeirTest;
use MyTest;
use Getopt::Long;
use List::Util qw(min max sum);
use File::Path qw(make_path);
use POSIX qw(floor);
use Time::HiRes qw(time sleep);

$| = 1;
my %opt = (
    quick => env_num('WEIR_BENCH_QUICK', 0),
    seconds => env_num('WEIR_BENCH_SECONDS', undef),
    repeat => env_num('WEIR_BENCH_REPEAT', 1),
    only => env_num('WEIR_BENCH_ONLY', 'pgbench,connect,tls,sysbench'),
    tls_clients => env_num('WEIR_BENCH_TLS_CLIENTS', 50),
    clients => env_num('WEIR_BENCH_CLIENTS', '1,50,200,1000'),
    threads => env_num('WEIR_BENCH_THREADS', '16,256'),
    systems => env_num('WEIR_BENCH_SYSTEMS', 'direct,pgbouncer,weir'),
    scripts => env_num('WEIR_BENCH_SCRIPTS', 'select,tpcb'),
    modes => env_num('WEIR_BENCH_MODES', 'simple,extended,prepared'),
    sb_tests => env_num('WEIR_BENCH_SYSBENCH_TESTS', 'oltp_point_select,oltp_read_write'),
    sb_ps => env_num('WEIR_BENCH_SYSBENCH_PS', 'text,prepared'),
    pool_size => env_num('WEIR_BENCH_POOL_SIZE', 20),
    scale => env_num('WEIR_BENCH_SCALE', undef),
    syscalls => env_num('WEIR_BENCH_SYSCALLS', 1),
    connect_clients => env_num('WEIR_BENCH_CONNECT_CLIENTS', 20),
    pg_max_conn => env_num('WEIR_BENCH_PG_MAX_CONNECTIONS', 1100),
    weir_workers => env_num('WEIR_BENCH_WEIR_WORKERS', 0),
    backend => env_num('WEIR_BENCH_BACKEND', 'tcp'),
    floor_threads => env_num('WEIR_BENCH_FLOOR_THREADS', 0),
    baseline => env_num('WEIR_BENCH_BASELINE', undef),
);
GetOptions(\%opt, 'quick!', 'seconds=i', 'repeat=i', 'only=s', 'clients=s', 'threads=s',
    'systems=s', 'scripts=s', 'modes=s', 'sb_tests|sysbench-tests=s', 'sb_ps|sysbench-ps=s', 'pool_size|pool-size=i',
    'scale=i', 'syscalls!', 'pg_max_conn|pg-max-connections=i', 'weir_workers|weir-workers=i',
    'backend=s', 'floor_threads|floor-threads=i', 'baseline=s', 'tls_clients|tls-clients=i',
    'profile_mode|profile-mode=s', 'profile_clients|profile-clients=i',
    'profile_script|profile-script=s', 'help')
    or exit 2;
if ($opt{help}) {
    print "usage: tests/bench/run [--quick] [--seconds S] [--repeat R] "
        . "[--only pgbench,connect,tls,sysbench,syscalls,profile,parser]\n"
        . "       [--clients 1,50,200,1000] [--threads 16,256] "
        . "[--systems direct,pgbouncer,weir,floor]\n"
        . "       [--scripts select,tpcb] [--modes simple,extended,prepared]\n"
        . "       [--sysbench-ps text,prepared] [--pool-size N] "
        . "[--scale N] [--no-syscalls] [--weir-workers N] [--floor-threads N] [--backend tcp|unix]\n"
        . "       [--baseline REV] [--profile-mode simple|extended|prepared] "
        . "[--profile-clients N] [--profile-script select|tpcb]\n";
    exit 0;
}
my $secs = $opt{seconds} // ($opt{quick} ? 3 : 15);
my $scale = $opt{scale} // ($opt{quick} ? 1 : 10);
my %only = map { $_ => 1 } split /,/, $opt{only};
my @clients = split /,/, $opt{clients};
my @threads = split /,/, $opt{threads};
my @systems = split /,/, $opt{systems};
# --baseline REV: tests/bench/run built weir at REV as $ENV{WEIR_BENCH_BASE_BIN}; it runs as
# system 'base' right after weir, with the same settings, so a change is measured against
# what it changed in the same run.
if ($opt{baseline}) {
    bench_die('--baseline needs tests/bench/run (it builds the revision)')
        unless $ENV{WEIR_BENCH_BASE_BIN} && -x $ENV{WEIR_BENCH_BASE_BIN};
    @systems = map { $_ eq 'weir' ? ('weir', 'base') : $_ } @systems;
    push @systems, 'base' unless grep { $_ eq 'base' } @systems;
}
my @scripts = split /,/, $opt{scripts};
my @modes = split /,/, $opt{modes};
my @sb_tests = split /,/, $opt{sb_tests};
my @sb_ps = split /,/, $opt{sb_ps};
my $sb_tables = $opt{quick} ? 2 : 8;
my $sb_size = $opt{quick} ? 1000 : 20000;
my $pool = $opt{pool_size};

my $out = Bench::results_dir();
my $raw = "$out/raw";
(my $rel = $out) =~ s{^\Q$Bench::ROOT\E/}{};
say_("bench: results in $rel");
say_("bench: ${secs}s per run, repeat $opt{repeat}, pool size $pool, pgbench scale $scale, "
        . "open-file limit " . `sh -c 'ulimit -n'` =~ s/\s+//r);

my $nofile = `sh -c 'ulimit -n'` + 0;
if ($nofile < 2200 && grep { $_ >= 1000 } @clients) {
    bench_die("open-file limit $nofile is too low for 1000 clients; run through tests/bench/run");
}

# ---- servers and poolers ----------------------------------------------------------------
my $need_pg = grep { $only{$_} } qw(pgbench connect tls syscalls profile);
my $need_my = $only{sysbench};
my ($pg, $my, $pgb, $weir, $base, $floor_pg, $floor_my, $pgb_tls, $weir_tls);
if ($need_pg) {
    say_("bench: starting PostgreSQL 15 (max_connections $opt{pg_max_conn})");
    $pg = WeirTest->new(max_connections => $opt{pg_max_conn},
        pg_conf => { shared_buffers => "'256MB'", client_connection_check_interval => 0,
            log_connections => 'off', log_disconnections => 'off' });
    say_("bench: pgbench -i -s $scale");
    $pg->pgbench_init($scale);
    my $dbh = $pg->pg_admin_dbi('testdb');
    $dbh->do('VACUUM ANALYZE');
    $dbh->disconnect;
}
if ($need_my) {
    say_('bench: starting MariaDB');
    $my = MyTest->new(max_connections => 600,
        mysqld_args => ['--innodb-buffer-pool-size=256M', '--max-prepared-stmt-count=100000']);
    say_("bench: sysbench prepare ($sb_tables tables of $sb_size rows)");
    my ($o, $e, $rc) = run_cmd([sysbench_argv($my->port, 16), 'oltp_read_write', 'prepare'],
        timeout => 600);
    bench_die("sysbench prepare failed ($rc): $e$o") if $rc;
}
bench_die("--backend is tcp or unix") unless $opt{backend} =~ /^(tcp|unix)$/;
# unix: the poolers reach the servers over their unix sockets (clients still use TCP)
my $unix = $opt{backend} eq 'unix';
my $tmp = ($pg // $my)->tmp;
if ($need_pg && grep { $_ eq 'pgbouncer' } @systems) {
    $pgb = Bench::start_pgbouncer(dir => "$tmp/pgbouncer", pg_port => $pg->pgport,
        ($unix ? (pg_host => $pg->{sockdir}) : ()),
        pool_size => $pool);
    say_("bench: PgBouncer pid $pgb->{pid} on port $pgb->{port}");
}
if (grep { $_ eq 'weir' } @systems) {
    $weir = Bench::start_weir(dir => "$tmp/weir", pg_port => $pg ? $pg->pgport : undef,
        my_port => $my ? $my->port : undef, pool_size => $pool,
        ($unix && $pg ? (pg_host => $pg->{sockdir}) : ()), ($unix && $my ? (my_host => $my->sock) : ()),
        workers => $opt{weir_workers});
    say_("bench: weir pid $weir->{pid} on port $weir->{port}"
            . ($weir->{mysql_port} ? " (MySQL port $weir->{mysql_port})" : ''));
}
if (grep { $_ eq 'base' } @systems) {
    $base = Bench::start_weir(dir => "$tmp/base", name => "weir at $opt{baseline}",
        bin => $ENV{WEIR_BENCH_BASE_BIN}, pg_port => $pg ? $pg->pgport : undef,
        my_port => $my ? $my->port : undef, pool_size => $pool,
        ($unix && $pg ? (pg_host => $pg->{sockdir}) : ()), ($unix && $my ? (my_host => $my->sock) : ()),
        workers => $opt{weir_workers});
    say_("bench: weir at $opt{baseline} (base) pid $base->{pid} on port $base->{port}");
}

# tls: PgBouncer and weir again, each with client_tls_sslmode = require and the same
# certificate (made here, never kept), servers reached as above (plain: pooled server
# connections are long-lived, the clients' handshakes are what TLS costs a pooler).
if ($only{tls}) {
    my $dir = "$tmp/tls";
    make_path($dir);
    my ($o, $e, $rc) = run_cmd(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
            '-days', '2', '-subj', '/CN=localhost', '-keyout', "$dir/key.pem", '-out',
            "$dir/cert.pem"], timeout => 60);
    bench_die("openssl req failed: $e") if $rc;
    chmod 0755, $dir;
    chmod 0644, "$dir/key.pem", "$dir/cert.pem";    # PgBouncer runs as postgres
    my %tls = (client_tls_sslmode => 'require', client_tls_key_file => "$dir/key.pem",
        client_tls_cert_file => "$dir/cert.pem");
    if (grep { $_ eq 'pgbouncer' } @systems) {
        $pgb_tls = Bench::start_pgbouncer(dir => "$tmp/pgbouncer-tls", name => 'pgbouncer-tls',
            pg_port => $pg->pgport, ($unix ? (pg_host => $pg->{sockdir}) : ()),
            pool_size => $pool, extra => \%tls);
        say_("bench: PgBouncer with TLS pid $pgb_tls->{pid} on port $pgb_tls->{port}");
    }
    if (grep { $_ eq 'weir' } @systems) {
        $weir_tls = Bench::start_weir(dir => "$tmp/weir-tls", name => 'weir-tls',
            pg_port => $pg->pgport, pool_size => $pool,
            ($unix ? (pg_host => $pg->{sockdir}) : ()), workers => $opt{weir_workers},
            extra => \%tls);
        say_("bench: weir with TLS pid $weir_tls->{pid} on port $weir_tls->{port}");
    }
}

# floor: the cheapest proxy (tests/bench/floor.c), as many threads as weir has workers
if (grep { $_ eq 'floor' } @systems) {
    my $threads = $opt{floor_threads} || $opt{weir_workers} || (`nproc` + 0) || 1;
    if ($pg) {
        $floor_pg = Bench::start_floor(dir => "$tmp/floor-pg", name => 'floor (PostgreSQL)',
            threads => $threads, server => $unix ? "$pg->{sockdir}/.s.PGSQL." . $pg->pgport
                : '127.0.0.1:' . $pg->pgport);
        say_("bench: floor pid $floor_pg->{pid} on port $floor_pg->{port} ($threads threads)");
    }
    if ($my) {
        $floor_my = Bench::start_floor(dir => "$tmp/floor-my", name => 'floor (MariaDB)',
            threads => $threads, server => $unix ? $my->sock : '127.0.0.1:' . $my->port);
        say_("bench: floor pid $floor_my->{pid} on port $floor_my->{port} for MariaDB");
    }
}

# ---- runs ---------------------------------------------------------------------------------
my @rows;    # one hash per run
my @csv_cols = qw(bench test mode clients system rep seconds login_ms transactions tps qps
    lat_avg_ms lat_p99_ms pooler_cpu_s stat_cpu_us_per_txn task_clock_s cpu_us_per_txn syscalls
    syscalls_per_txn cswitch_per_txn machine_us_per_txn stmt_client_n stmt_client_bytes
    stmt_server_n stmt_server_bytes note);

sub sysbench_argv {
    my ($port, $threads) = @_;
    return ('sysbench', '--db-driver=mysql', '--mysql-host=127.0.0.1', "--mysql-port=$port",
        '--mysql-user=app', '--mysql-password=apppass', '--mysql-db=shop',
        "--tables=$sb_tables", "--table-size=$sb_size", "--threads=$threads");
}

# pooler_of($sys, $db) -> the process between client and server ($db: 'pg' or 'my')
sub pooler_of {
    my ($sys, $db) = @_;
    return $sys eq 'weir' ? $weir : $sys eq 'base' ? $base : $sys eq 'pgbouncer' ? $pgb
        : $sys eq 'weir-tls' ? $weir_tls : $sys eq 'pgbouncer-tls' ? $pgb_tls
        : $sys eq 'floor' ? ($db && $db eq 'my' ? $floor_my : $floor_pg) : undef;
}

# Wait until PostgreSQL's backends of finished direct runs are gone (they exit
# asynchronously), so that the next run does not hit max_connections.
sub pg_settle {
    return unless $pg;
    my $dbh = $pg->pg_admin_dbi;
    my $n;
    for (1 .. 300) {
        ($n) = $dbh->selectrow_array(q{SELECT count(*) FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND usename = 'app'});
        last if $n <= 2 * $pool + 2;
        sleep 0.1;
    }
    $dbh->disconnect;
}

# measure($sys, $db, $label, sub { run; return { transactions => n, ... } }) -> row
sub measure {
    my ($sys, $db, $label, $run) = @_;
    my $p = pooler_of($sys, $db);
    my ($cpu0, $perf, $perf_out);
    if ($p) {
        $p->check_alive("died before $label");
        $perf_out = "$raw/$label.perf";
        $perf = perf_count_start($p->pid, $perf_out) if $opt{syscalls};
        $cpu0 = Bench::proc_cpu($p->pid);
    }
    my $busy0 = Bench::machine_busy();
    my $r = $run->();
    my $busy = Bench::machine_busy() - $busy0;
    $r->{machine_us_per_txn} = sprintf('%.1f', $busy * 1e6 / $r->{transactions})
        if $r->{transactions};
    if ($p) {
        my $cpu = Bench::proc_cpu($p->pid) - $cpu0;
        my $c = perf_count_stop($perf, $perf_out);
        $p->check_alive("died during $label");
        $r->{pooler_cpu_s} = sprintf('%.2f', $cpu);
        $r->{stat_cpu_us_per_txn} = $r->{transactions}
            ? sprintf('%.1f', $cpu * 1e6 / $r->{transactions}) : '';
        # perf's task-clock is the exact on-CPU time; /proc/<pid>/stat counts 100 Hz ticks,
        # which charge a whole tick to whoever runs when it fires (coarse for short runs).
        $r->{cpu_us_per_txn} = $r->{stat_cpu_us_per_txn};
        if (defined $c->{'task-clock'} && $r->{transactions}) {
            $r->{task_clock_s} = sprintf('%.3f', $c->{'task-clock'} / 1000);
            $r->{cpu_us_per_txn} = sprintf('%.1f', $c->{'task-clock'} * 1000 / $r->{transactions});
        }
        if (defined $c->{'raw_syscalls:sys_enter'}) {
            $r->{syscalls} = $c->{'raw_syscalls:sys_enter'};
            $r->{syscalls_per_txn} = $r->{transactions}
                ? sprintf('%.2f', $r->{syscalls} / $r->{transactions}) : '';
        }
        # each switch is a thread going to sleep (mostly in epoll_wait) or being preempted
        if (defined $c->{'context-switches'} && $r->{transactions}) {
            $r->{cswitch_per_txn} = sprintf('%.2f', $c->{'context-switches'} / $r->{transactions});
        }
    }
    return $r;
}

# pgbench_run($sys, $script, $mode, $clients, $rep, connect => 1) -> row
sub pgbench_run {
    my ($sys, $script, $mode, $clients, $rep, %o) = @_;
    my $test = ($o{connect} ? 'connect-' : '') . $script . ($sys =~ /-tls$/ ? '-tls' : '');
    my $label = "pgbench-$test-$mode-c$clients-$sys-r$rep";
    # the TLS instances are columns pgbouncer and weir of the rows whose test ends in -tls
    my %row = (bench => 'pgbench', test => $test, mode => $mode, clients => $clients,
        system => $sys =~ s/-tls$//r, rep => $rep, seconds => $secs);
    # Debian 12's PgBouncer (1.18) predates max_prepared_statements: in transaction mode its
    # clients' named statements land on other servers, so -M prepared is not run through it.
    if ($sys eq 'pgbouncer' && $mode eq 'prepared' && !pgbouncer_prepares()) {
        $row{note} = 'skipped: this PgBouncer has no max_prepared_statements';
        return \%row;
    }
    if (($sys eq 'direct' || $sys eq 'floor') && $clients + 2 * $pool + 10 > $opt{pg_max_conn}) {
        $row{note} = "skipped: max_connections $opt{pg_max_conn}";
        return \%row;
    }
    pg_settle();
    my $port = $sys eq 'direct' ? $pg->pgport : pooler_of($sys)->port;
    my $jobs = min($clients, 4);
    # pgbench's -T clock starts before its clients have logged in, and 1000 SCRAM logins
    # straight to PostgreSQL take about 10 s here (md5 logins to a pooler much less): give
    # logins time; the tps printed is pgbench's "without initial connection time". A run
    # that still ends before its first transaction is retried once with twice the time.
    my $login_s = $o{connect} ? 0
        : int($clients / ($sys eq 'direct' || $sys eq 'floor' ? 40 : 200));
    my $r;
    for my $try (1, 2) {
        my $t = ($secs + $login_s) * $try;
        $row{seconds} = $t;
        my $mem = $mode eq 'prepared' ? stmt_mem_sample($sys, $label, $t / 2) : undef;
        $r = pgbench_once($sys, $label, $port, $t, $try == 2,
            ($sys =~ /-tls$/ ? (db => 'dbname=testdb sslmode=require') : ()), '-n', '-c',
            $clients, '-j', $jobs,
            '-T', $t, '-M', $mode, '-l', "--log-prefix=$raw/$label",
            ($script eq 'select' ? '-S' : ()), ($o{connect} ? '-C' : ()));
        stmt_mem_figures($mem, 'ps', $r // {}) if $mem;
        last if $r;
        print "no transaction within ${t}s (logins too slow); again with more time\n";
    }
    %row = (%row, %$r);
    printf "%s tps, avg %s ms, p99 %s ms%s\n", $row{tps}, $row{lat_avg_ms}, $row{lat_p99_ms},
        cost_figures(\%row);
    return \%row;
}

# cost_figures($row) -> ", machine X us/txn, pooler Y us/txn, ..." for a run's progress line
sub cost_figures {
    my ($r) = @_;
    my $s = ', machine ' . ($r->{machine_us_per_txn} // '-') . ' us/txn';
    $s .= ", pooler $r->{cpu_us_per_txn} us/txn" if defined $r->{cpu_us_per_txn};
    $s .= ", $r->{syscalls_per_txn} syscalls/txn" if defined $r->{syscalls_per_txn};
    $s .= ", $r->{cswitch_per_txn} switches/txn" if defined $r->{cswitch_per_txn};
    return $s;
}

# pgbench_once($sys, $label, $port, $t, $last_try, @args) -> row fields, or undef when no
# transaction finished in time (and this is not the last try).
sub pgbench_once {
    my ($sys, $label, $port, $t, $last, @args) = @_;
    my @db = $args[0] eq 'db' ? splice(@args, 0, 2) : ();    # a conninfo (TLS runs)
    print "  $label ... ";
    my $none;
    my $r = measure($sys, 'pg', $label, sub {
        my ($out, $err, $rc, $to) = $pg->pgbench(port => $port, args => \@args, @db,
            timeout => $t + 180);
        WeirTest::spew("$raw/$label.out", "$out\n--- stderr\n$err");
        bench_die("pgbench $label timed out") if $to;
        bench_die("pgbench $label failed (exit $rc): " . substr($err, -2000)) if $rc;
        my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
        my ($failed) = $out =~ /number of failed transactions: (\d+)/;
        my ($tps) = $out =~ /tps = ([\d.]+) \(without initial connection time\)/;
        ($tps) = $out =~ /tps = ([\d.]+)/ unless defined $tps;
        bench_die("pgbench $label: no transaction count in its output:\n$out") unless defined $n;
        bench_die("pgbench $label: $failed failed transactions") if $failed;
        if (!$n) {
            bench_die("pgbench $label: no transactions in ${t}s (the logins took longer)")
                if $last;
            pgbench_latency("$raw/$label");    # removes the empty logs
            $none = 1;
            return { transactions => 0 };
        }
        my ($avg, $p99) = pgbench_latency("$raw/$label");
        my ($conn) = $out =~ /initial connection time = ([\d.]+) ms/;
        return { transactions => $n, tps => sprintf('%.0f', $tps), qps => '',
            lat_avg_ms => $avg, lat_p99_ms => $p99, login_ms => $conn // '' };
    });
    return $none ? undef : $r;
}

# pgbench_latency($prefix) -> (average ms, p99 ms) from pgbench's per-transaction logs
# ("client txn latency_us script epoch epoch_us"), which are deleted afterwards.
sub pgbench_latency {
    my ($prefix) = @_;
    my @lat;
    my ($dir, $base) = $prefix =~ m{^(.*)/([^/]+)$};
    opendir my $dh, $dir or bench_die("$dir: $!");
    my @files = grep { /^\Q$base\E\.\d+(\.\d+)?$/ } readdir $dh;
    closedir $dh;
    for my $f (@files) {
        open my $fh, '<', "$dir/$f" or bench_die("$dir/$f: $!");
        while (<$fh>) {
            my @f = split ' ';
            push @lat, $f[2] if @f >= 3 && $f[2] =~ /^\d+$/;
        }
        close $fh;
        unlink "$dir/$f";
    }
    return ('', '') unless @lat;
    @lat = sort { $a <=> $b } @lat;
    my $avg = sum(@lat) / @lat / 1000;
    my $p99 = $lat[min($#lat, floor(0.99 * @lat))] / 1000;
    return (sprintf('%.3f', $avg), sprintf('%.3f', $p99));
}

# True when the PgBouncer here knows max_prepared_statements (1.21 and later).
my $pgbouncer_prepares;
sub pgbouncer_prepares {
    return $pgbouncer_prepares if defined $pgbouncer_prepares;
    my ($out) = run_cmd(['pgbouncer', '--version']);
    my ($maj, $min) = ($out // '') =~ /PgBouncer (\d+)\.(\d+)/;
    $maj //= 0;
    $min //= 0;
    return $pgbouncer_prepares = ($maj > 1 || ($maj == 1 && $min >= 21)) ? 1 : 0;
}

# sysbench_run($sys, $test, $threads, $rep, $ps): $ps 'text' (--db-ps-mode=disable) or
# 'prepared' (--db-ps-mode=auto: binary-protocol prepared statements).
sub sysbench_run {
    my ($sys, $test, $threads, $rep, $ps) = @_;
    $ps //= 'text';
    my $label = "sysbench-$test-$ps-t$threads-$sys-r$rep";
    my %row = (bench => 'sysbench', test => $test, mode => $ps, clients => $threads,
        system => $sys, rep => $rep, seconds => $secs);
    my $port = $sys eq 'direct' ? $my->port : $sys eq 'floor' ? $floor_my->port
        : pooler_of($sys)->{mysql_port};
    print "  $label ... ";
    my $mem = $ps eq 'prepared' ? stmt_mem_sample($sys, $label, $secs / 2) : undef;
    my $r = measure($sys, 'my', $label, sub {
        my ($out, $err, $rc, $to) = run_cmd([sysbench_argv($port, $threads), "--time=$secs",
                '--percentile=99', '--db-ps-mode=' . ($ps eq 'prepared' ? 'auto' : 'disable'),
                '--histogram=off', $test, 'run'],
            timeout => $secs + 180);
        WeirTest::spew("$raw/$label.out", "$out\n--- stderr\n$err");
        bench_die("sysbench $label timed out") if $to;
        bench_die("sysbench $label failed (exit $rc): " . substr("$err$out", -2000))
            if $rc || "$out$err" =~ /FATAL/;
        my ($n, $tps) = $out =~ /transactions:\s+(\d+)\s+\(([\d.]+) per sec/;
        my ($qps) = $out =~ /queries:\s+\d+\s+\(([\d.]+) per sec/;
        my ($avg) = $out =~ /avg:\s+([\d.]+)/;
        my ($p99) = $out =~ /99th percentile:\s+([\d.]+)/;
        my ($errs) = $out =~ /ignored errors:\s+(\d+)/;
        bench_die("sysbench $label: no transaction count in its output:\n$out") unless $n;
        return { transactions => $n, tps => sprintf('%.0f', $tps), qps => sprintf('%.0f', $qps),
            lat_avg_ms => $avg, lat_p99_ms => $p99,
            ($errs ? (note => "$errs ignored errors") : ()) };
    });
    stmt_mem_figures($mem, 'my', $r) if $mem;
    %row = (%row, %$r);
    printf "%s tps, %s qps, avg %s ms, p99 %s ms%s\n", $row{tps}, $row{qps}, $row{lat_avg_ms},
        $row{lat_p99_ms}, cost_figures(\%row);
    return \%row;
}

# stmt_mem_sample($sys, $label, $after) -> pid of a child that reads weir's SHOW MEM $after
# seconds into a run (clients connected, statements cached) into $raw/$label.mem; undef for
# the other systems.
sub stmt_mem_sample {
    my ($sys, $label, $after) = @_;
    return undef unless $sys eq 'weir' || $sys eq 'base';
    my $port = pooler_of($sys)->port;
    my $pid = fork // bench_die("fork: $!");
    if (!$pid) {
        sleep $after;
        local $ENV{PGPASSWORD} = 'apppass';
        my ($o) = run_cmd(['psql', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'weir',
            '-X', '-A', '-t', '-F', ' ', '-c', 'SHOW MEM'], timeout => 30);
        WeirTest::spew("$raw/$label.mem", $o // '');
        POSIX::_exit(0);
    }
    return { pid => $pid, file => "$raw/$label.mem" };
}

# stmt_mem_figures($sample, 'ps' | 'my', $row): waits for the sample and adds the number of
# cached statements and their bytes each, clients' and servers' (SHOW MEM rows <kind>_client_stmt
# and <kind>_server_stmt), to the row and the progress line.
sub stmt_mem_figures {
    my ($m, $kind, $row) = @_;
    waitpid($m->{pid}, 0);
    my %mem;
    for (split /\n/, (-e $m->{file} ? WeirTest::slurp($m->{file}) : '')) {
        my ($name, $size, $used, $free, $total) = split / /;
        $mem{$name} = [$used, $total] if defined $total;
    }
    my @s;
    for my $side ('client', 'server') {
        my $e = $mem{"${kind}_${side}_stmt"} or next;
        my ($used, $total) = @$e;
        my $each = $used ? sprintf('%.0f', $total / $used) : '';
        $row->{"stmt_${side}_n"} = $used;
        $row->{"stmt_${side}_bytes"} = $each;
        push @s, "$side statements $used" . ($used ? " ($each B each)" : '');
    }
    print '[', join(', ', @s), '] ' if @s;
}

# Systems in turn; the order rotates with the repetition so no system is always first.
sub in_turn {
    my ($rep, @s) = @_;
    my $k = ($rep - 1) % @s;
    return (@s[$k .. $#s], @s[0 .. $k - 1]);
}

sub write_results;
my $t0 = time;
if ($only{pgbench}) {
    say_('bench: pgbench');
    my @pg_systems = grep { ($_ ne 'weir' || $weir) && ($_ ne 'base' || $base) } @systems;
    for my $script (@scripts) {
        for my $mode (@modes) {
            for my $c (@clients) {
                for my $rep (1 .. $opt{repeat}) {
                    push @rows, pgbench_run($_, $script, $mode, $c, $rep)
                        for in_turn($rep, @pg_systems);
                }
            }
            write_results();
        }
    }
}
if ($only{connect}) {
    say_("bench: pgbench -C (a new connection per transaction), $opt{connect_clients} clients");
    for my $rep (1 .. $opt{repeat}) {
        push @rows, pgbench_run($_, 'select', 'simple', $opt{connect_clients}, $rep, connect => 1)
            for in_turn($rep, grep { $_ ne 'floor' } @systems);
    }
    write_results();
}
if ($only{tls}) {
    my @tls_systems = grep { pooler_of($_) } qw(pgbouncer-tls weir-tls);
    say_("bench: TLS: pgbench -S at $opt{tls_clients} clients, and -C -S at "
            . "$opt{connect_clients} clients (a TLS handshake per transaction)");
    for my $rep (1 .. $opt{repeat}) {
        push @rows, pgbench_run($_, 'select', 'simple', $opt{tls_clients}, $rep)
            for in_turn($rep, @tls_systems);
        push @rows, pgbench_run($_, 'select', 'simple', $opt{connect_clients}, $rep,
            connect => 1) for in_turn($rep, @tls_systems);
    }
    write_results();
}
if ($only{sysbench}) {
    say_('bench: sysbench (MariaDB direct and through weir\'s MySQL port)');
    my @my_systems = grep { $_ ne 'pgbouncer' } @systems;
    for my $test (@sb_tests) {
        for my $ps (@sb_ps) {
            for my $t (@threads) {
                for my $rep (1 .. $opt{repeat}) {
                    push @rows, sysbench_run($_, $test, $t, $rep, $ps)
                        for in_turn($rep, @my_systems);
                }
            }
        }
        write_results();
    }
}
syscall_detail() if $only{syscalls};
profile_weir() if $only{profile};
parser_cost() if $only{parser};
write_results();
say_(sprintf('bench: done in %.0f s; results in %s', time - $t0, $rel));
print WeirTest::slurp("$out/results.md");
exit 0;

# ---- syscall breakdown and profile ----------------------------------------------------------

# syscall_detail: pgbench -S at 50 clients, simple and extended, through each pooler with
# every syscalls:sys_enter_* tracepoint counted; writes syscalls.md.
sub syscall_detail {
    say_('bench: syscalls per transaction by syscall (pgbench -S, 50 clients)');
    my $md = "## Syscalls per transaction by syscall (pgbench -S -c 50, ${secs}s)\n\n";
    for my $mode (@modes) {
        my %per;
        my %tx;
        for my $sys (grep { pooler_of($_) } @systems) {
            my $p = pooler_of($sys);
            my $label = "syscalls-$mode-$sys";
            my $perf_out = "$raw/$label.perf";
            pg_settle();
            my $perf = perf_count_start($p->pid, $perf_out, 'syscalls:sys_enter_*');
            bench_die("perf stat cannot attach to $sys") unless $perf;
            sleep 1;    # attaching to some 300 tracepoints takes a moment
            my ($o, $e, $rc) = $pg->pgbench(port => $p->port,
                args => ['-n', '-S', '-c', 50, '-j', 4, '-T', $secs, '-M', $mode],
                timeout => $secs + 120);
            my $c = perf_count_stop($perf, $perf_out);
            bench_die("pgbench $label failed ($rc): $e") if $rc;
            my ($n) = $o =~ /number of transactions actually processed: (\d+)/;
            $tx{$sys} = $n;
            for my $k (keys %$c) {
                (my $name = $k) =~ s/^syscalls:sys_enter_//;
                $per{$name}{$sys} = $c->{$k} / $n if $c->{$k};
            }
            say_("  $label: $n transactions");
        }
        my @sys = grep { $tx{$_} } @systems;
        my @names = sort { max(map { $per{$b}{$_} // 0 } @sys) <=> max(map { $per{$a}{$_} // 0 } @sys) }
            keys %per;
        $md .= "### -M $mode\n\n| syscall | " . join(' | ', map { "$_ per txn" } @sys) . " |\n|---|"
            . join('', map { '---:|' } @sys) . "\n";
        my %tot;
        for my $name (@names) {
            next unless grep { ($per{$name}{$_} // 0) >= 0.005 } @sys;
            $md .= "| $name | " . join(' | ', map { sprintf('%.3f', $per{$name}{$_} // 0) } @sys)
                . " |\n";
        }
        for my $s (@sys) { $tot{$s} = sum(map { $per{$_}{$s} // 0 } keys %per) }
        $md .= '| **total** | ' . join(' | ', map { sprintf('**%.2f**', $tot{$_}) } @sys) . " |\n\n";
    }
    WeirTest::spew("$out/syscalls.md", $md);
    print $md;
}

# parser_cost: what recognising session statements costs per text (tests/bench/parse_cost.c,
# built with weir by tests/bench/run); writes parser.md.
sub parser_cost {
    my $bin = 'build-release/bench/bench_parse_cost';
    bench_die("$bin is missing: run through tests/bench/run") unless -x $bin;
    say_('bench: parser cost (keyword scan on every Query and Parse; libpg_query on flagged texts)');
    my ($o, $e, $rc) = run_cmd([$bin], timeout => 300);
    bench_die("parse_cost failed ($rc): $e") if $rc;
    WeirTest::spew("$out/parser.md", "# Recognising session statements\n\n$o");
    say_("  $_") for split /\n/, $o;
}

# profile_weir: perf record -g on weir during pgbench -S (-c 50, simple, unless
# --profile-clients / --profile-mode / --profile-script tpcb say otherwise); writes profile.txt.
sub profile_weir {
    return unless $weir;
    my $pc = $opt{profile_clients} // 50;
    my $pm = $opt{profile_mode} // 'simple';
    my @script = ($opt{profile_script} // 'select') eq 'tpcb' ? () : ('-S');
    say_("bench: profiling weir (perf record -g, pgbench @script -c $pc -M $pm)");
    pg_settle();
    my $data = "$raw/weir.perf.data";
    my $perf = fork // bench_die("fork: $!");
    if ($perf == 0) {
        open STDOUT, '>', "$raw/perf-record.out";
        open STDERR, '>&', \*STDOUT;
        exec 'perf', 'record', '-g', '-F', '999', '-p', $weir->pid, '-o', $data
            or POSIX::_exit(127);
    }
    sleep 0.5;
    my ($o, $e, $rc) = $pg->pgbench(port => $weir->port,
        args => ['-n', @script, '-c', $pc, '-j', min(4, $pc), '-T', $secs, '-M', $pm],
        timeout => $secs + 120);
    kill 'INT', $perf;
    waitpid($perf, 0);
    bench_die("pgbench for the profile failed ($rc): $e") if $rc;
    my ($rep) = run_cmd(['perf', 'report', '-i', $data, '--stdio', '--no-children',
            '--percent-limit', '1', '-g', 'none', '--sort', 'dso,symbol'], timeout => 300);
    my ($callers) = run_cmd(['perf', 'report', '-i', $data, '--stdio', '--no-children',
            '--percent-limit', '3', '-g', 'caller,0.5,callee,function,percent', '--sort', 'symbol'],
        timeout => 300);
    # in a VM without a PMU the kernel side is most of the samples: list user space apart
    my ($user) = run_cmd(['perf', 'report', '-i', $data, '--stdio', '--no-children',
            '--percent-limit', '0.1', '-g', 'none', '--sort', 'dso,symbol'], timeout => 300);
    my @u = grep { /%/ && !/\[k\]/ } split /\n/, $user;
    my ($dso) = run_cmd(['perf', 'report', '-i', $data, '--stdio', '--no-children', '-g', 'none',
            '--sort', 'dso'], timeout => 300);
    my @d = grep { /%/ } split /\n/, $dso;
    WeirTest::spew("$out/profile.txt", "$rep\n\n==== by object ====\n" . join("\n", @d)
            . "\n\n==== user space only ====\n" . join("\n", @u)
            . "\n\n==== call graphs (caller) ====\n$callers");
    my @l = grep { /%/ } split /\n/, $rep;
    say_("  top of the profile (profile.txt has the call graphs):");
    say_("  $_") for @l[0 .. min(24, $#l)];
    say_("  by object:");
    say_("  $_") for @d;
    say_("  user space:");
    say_("  $_") for @u[0 .. min(19, $#u)];
}

# ---- output -----------------------------------------------------------------------------

sub median {
    my @v = sort { $a <=> $b } grep { defined && length } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub fmt { my ($v, $f) = @_; return defined $v ? sprintf($f // '%.0f', $v) : '-'; }

sub ratio {
    my ($a, $b) = @_;
    return '-' unless defined $a && defined $b && $b > 0;
    return sprintf('%.2f', $a / $b);
}

sub write_results {
    open my $csv, '>', "$out/results.csv" or bench_die("$out/results.csv: $!");
    print $csv join(',', @csv_cols), "\n";
    for my $r (@rows) {
        print $csv join(',', map { my $v = $r->{$_} // ''; $v =~ s/,/;/g; $v } @csv_cols), "\n";
    }
    close $csv;

    # one line per configuration; medians over repetitions
    my (%agg, @keys);
    for my $r (@rows) {
        my $k = join("\0", @$r{qw(bench test mode clients)});
        push @keys, $k unless $agg{$k};
        push @{ $agg{$k}{ $r->{system} } }, $r;
    }
    my $has_floor = grep { $_->{system} eq 'floor' } @rows;
    my $has_base = grep { $_->{system} eq 'base' } @rows;
    my @all = ('direct', 'pgbouncer', 'weir', $has_base ? ('base') : (), $has_floor ? ('floor') : ());
    my @px = grep { $_ ne 'direct' } @all;
    my %letter = (direct => 'd', pgbouncer => 'b', weir => 'w', base => 'a', floor => 'f');
    my $all_l = join('/', map { $letter{$_} } @all);
    my $px_l = join('/', map { $letter{$_} } @px);
    my $md = "# weir benchmark\n\n$secs s per run, $opt{repeat} run(s) per system and "
        . "configuration (medians shown), pool size $pool, weir workers "
        . ($opt{weir_workers} || 'one per CPU') . ", poolers reach the servers over "
        . ($opt{backend} eq 'unix' ? 'unix sockets' : 'TCP') . " (clients always use TCP)"
        . ($need_pg ? ", pgbench scale $scale" : '')
        . ($need_my ? ", sysbench $sb_tables tables x $sb_size rows" : '') . ". Machine: " . (`nproc` =~ s/\s+//r) . " CPUs.\n\n"
        . "tps = transactions per second; latencies in ms (avg / p99); CPU = the pooler "
        . "process's CPU time per transaction in µs (perf task-clock, all threads; "
        . "results.csv also has the /proc/<pid>/stat utime+stime figure); sys = the pooler's "
        . "syscalls per transaction; cs = the pooler's context switches per transaction (its "
        . "threads going to sleep, or being preempted). All include the logins of the run's "
        . "clients. machine = CPU time the whole machine spent per transaction (client, "
        . "database, pooler and kernel; /proc/stat, 100 Hz ticks). "
        . "d = direct, b = PgBouncer, w = weir"
        . ($has_base ? ", a = weir at $opt{baseline} (the baseline, same settings)" : '')
        . ($has_floor ? ", f = floor (tests/bench/floor.c: the cheapest proxy, one server "
            . "connection per client, bytes relayed unparsed; what it costs is the kernel's "
            . "price of any process between client and server)" : '') . ".\n\n"
        . "| bench | test | mode | clients | " . join(' | ', map { "tps $letter{$_}" } @all)
        . " | w/b | w/d" . ($has_base ? ' | w/a' : '') . " | avg $all_l | p99 $all_l | CPU µs $px_l | sys $px_l | cs $px_l | "
        . "machine µs $all_l | notes |\n"
        . "|---|---|---|---:|" . ('---:|' x (@all + 2 + ($has_base ? 1 : 0)))
        . "---|---|---|---|---|---|---|\n";
    my %plot;
    for my $k (@keys) {
        my ($bench, $test, $mode, $clients) = split /\0/, $k;
        my %m;
        my @notes;
        for my $s (@all) {
            my @rs = @{ $agg{$k}{$s} // [] };
            push @notes, "$s $_->{note}" for grep { $_->{note} } @rs;
            # prepared-statement runs: weir's cached statements halfway through (SHOW MEM)
            if (my ($r) = grep { $_->{stmt_server_n} } @rs) {
                push @notes, "$s cached statements: clients' $r->{stmt_client_n} "
                    . "($r->{stmt_client_bytes} B each), servers' $r->{stmt_server_n} "
                    . "($r->{stmt_server_bytes} B each)";
            }
            for my $f (qw(tps lat_avg_ms lat_p99_ms cpu_us_per_txn syscalls_per_txn
                cswitch_per_txn machine_us_per_txn))
            {
                $m{$s}{$f} = median(map { $_->{$f} } @rs);
            }
        }
        $md .= "| $bench | $test | $mode | $clients | " . join(' | ',
            (map { fmt($m{$_}{tps}) } @all),
            ratio($m{weir}{tps}, $m{pgbouncer}{tps}), ratio($m{weir}{tps}, $m{direct}{tps}),
            ($has_base ? (ratio($m{weir}{tps}, $m{base}{tps})) : ()),
            join(' / ', map { fmt($m{$_}{lat_avg_ms}, '%.2f') } @all),
            join(' / ', map { fmt($m{$_}{lat_p99_ms}, '%.2f') } @all),
            join(' / ', map { fmt($m{$_}{cpu_us_per_txn}, '%.1f') } @px),
            join(' / ', map { fmt($m{$_}{syscalls_per_txn}, '%.2f') } @px),
            join(' / ', map { fmt($m{$_}{cswitch_per_txn}, '%.2f') } @px),
            join(' / ', map { fmt($m{$_}{machine_us_per_txn}, '%.0f') } @all),
            join('; ', @notes)) . " |\n";
        $plot{"$bench-$test-$mode"}{$clients} = { map { $_ => $m{$_}{tps} } keys %m };
    }
    $md .= "\nRatios: w/b = weir tps / PgBouncer tps, w/d = weir tps / direct tps"
        . ($has_base ? ", w/a = weir tps / the baseline's tps" : '') . " (above 1: weir is faster).\n";
    $md .= "\nPlots: " . join(', ', map { "$_.png" } sort keys %plot) . "\n" if %plot;
    WeirTest::spew("$out/results.md", $md);
    plots(\%plot);
}

sub plots {
    my ($plot) = @_;
    for my $name (sort keys %$plot) {
        my $d = $plot->{$name};
        my @cs = sort { $a <=> $b } keys %$d;
        next unless @cs;
        my $dat = "$raw/$name.dat";
        open my $fh, '>', $dat or bench_die("$dat: $!");
        print $fh "# clients direct pgbouncer weir floor\n";
        for my $c (@cs) {
            print $fh join(' ', $c, map { $d->{$c}{$_} // 'NaN' } qw(direct pgbouncer weir floor)),
                "\n";
        }
        my $floor = grep { defined $d->{$_}{floor} } @cs;
        close $fh;
        my $gp = "set terminal pngcairo size 900,560\nset output '$out/$name.png'\n"
            . "set title '$name: throughput against clients'\nset xlabel 'clients'\n"
            . "set ylabel 'transactions per second'\nset key outside right\nset grid\n"
            . "set datafile missing 'NaN'\n"
            . (@cs > 1 && $cs[0] > 0 ? "set logscale x 2\n" : '')
            . "set yrange [0:*]\n"
            . "plot '$dat' using 1:2 with linespoints title 'direct', "
            . "'' using 1:3 with linespoints title 'PgBouncer', "
            . "'' using 1:4 with linespoints title 'weir'"
            . ($floor ? ", '' using 1:5 with linespoints title 'floor'" : '') . "\n";
        my ($o, $e, $rc) = run_cmd(['gnuplot'], stdin => $gp, timeout => 60);
        bench_die("gnuplot failed for $name: $e") if $rc;
    }
}
