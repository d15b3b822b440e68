#!/usr/bin/perl
# idle.pl -- idle-client memory benchmark: holds N idle, logged-in clients against PgBouncer
# and against weir, reports each pooler's resident memory empty and holding N (bytes per
# client) and the kernel's TCP socket memory beside it, then checks that a sample of the
# clients still answers SELECT 1. With --100k, several weir processes share one port
# (SO_REUSEPORT) and hold 100,000 clients together. Started by tests/bench/idle (which builds
# weir and the client and raises the open-file limit); see tests/bench/README.md.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use lib "$FindBin::Bin/../integration";
use Bench;
use WeirTest;
use Getopt::Long;
use IPC::Open2;
use List::Util qw(min max sum);
use POSIX qw(ceil);
use Time::HiRes qw(time sleep);

$| = 1;
my %opt = (
    clients => env_num('WEIR_IDLE_CLIENTS', '1000,5000,19000'),
    systems => env_num('WEIR_IDLE_SYSTEMS', 'pgbouncer,weir'),
    sample => env_num('WEIR_IDLE_SAMPLE', undef),
    per_proc => env_num('WEIR_IDLE_PER_PROCESS', 5000),
    per_addr => env_num('WEIR_IDLE_PER_ADDRESS', 15000),
    total => env_num('WEIR_IDLE_TOTAL', 100000),
    weirs => env_num('WEIR_IDLE_WEIRS', 6),
    hold => env_num('WEIR_IDLE_HOLD_SECONDS', 2),
    '100k' => 0,
    tls => env_num('WEIR_IDLE_TLS', 0),
);
GetOptions(\%opt, 'clients=s', 'systems=s', 'sample=i', 'per_proc|per-process=i',
    'per_addr|per-address=i', 'total=i', 'weirs=i', 'hold=i', '100k', 'tls!', 'help') or exit 2;
if ($opt{help}) {
    print "usage: tests/bench/idle [--clients 1000,5000,19000] [--systems pgbouncer,weir] "
        . "[--sample N] [--tls]\n       tests/bench/idle --100k [--total 100000] [--weirs 6]\n";
    exit 0;
}
$opt{sample} //= $opt{'100k'} ? 2000 : 200;
my $client_bin = $ENV{WEIR_IDLE_CLIENT_BIN} // "$Bench::ROOT/build-release/bench/idle_clients";
bench_die("no $client_bin (tests/bench/idle builds it)") unless -x $client_bin;

my $out = Bench::results_dir($opt{'100k'} ? 'idle100k' : 'idle');
(my $rel = $out) =~ s{^\Q$Bench::ROOT\E/}{};
say_("idle: results in $rel");
say_('idle: starting PostgreSQL 15');
my $pg = WeirTest->new(pg_conf => { log_connections => 'off', log_disconnections => 'off' });
my @rows;
my @errors;
my %CLIENT_PIDS;    # idle_clients processes still running (killed at exit)
my $OWNER = $$;
END { if ($$ == $OWNER) { kill 'KILL', $_ for keys %CLIENT_PIDS } }

# addresses($n) -> 127.0.0.1, 127.0.0.2, ...: enough destinations that no single one needs
# more than per_addr ephemeral ports (about 28,000 per destination address and port).
sub addresses {
    my ($n) = @_;
    my $k = max(1, ceil($n / $opt{per_addr}));
    return join(',', map { "127.0.0.$_" } 1 .. $k);
}

sub nfds {
    my ($pid) = @_;
    opendir my $dh, "/proc/$pid/fd" or return 0;
    my $n = grep { /^\d+$/ } readdir $dh;
    closedir $dh;
    return $n;
}

# start_clients($addrs, $port, $n) -> [ { pid, r, w, n } ... ], spread over processes of at
# most per_proc clients each.
sub start_clients {
    my ($addrs, $port, $n) = @_;
    my @procs;
    my $left = $n;
    my $np = ceil($n / $opt{per_proc});
    for my $i (1 .. $np) {
        my $k = ceil($left / ($np - $i + 1));
        $left -= $k;
        my ($r, $w);
        my $pid = open2($r, $w, $client_bin, '-a', $addrs, '-p', $port, '-n', $k,
            '-c', 64, '-t', 300, ($opt{tls} ? ('-s') : ()));
        $CLIENT_PIDS{$pid} = 1;
        push @procs, { pid => $pid, r => $r, w => $w, n => $k };
    }
    return \@procs;
}

# wait_line($proc, $re) -> captures of the first line matching $re (dies at EOF).
sub wait_line {
    my ($p, $re) = @_;
    my $fh = $p->{r};
    while (my $l = <$fh>) {
        return ($1, $2) if $l =~ $re;
    }
    bench_die("idle_clients $p->{pid} exited early");
}

# --tls: one throwaway certificate for both poolers, client_tls_sslmode = require.
my $tls_keys;
sub tls_keys {
    return $tls_keys if $tls_keys;
    my $dir = $pg->tmp . '/tls';
    mkdir $dir;
    my (undef, $e, $rc) = WeirTest::run_cmd(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
            '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', "$dir/key.pem", '-out',
            "$dir/cert.pem"], timeout => 60);
    bench_die("openssl req failed: $e") if $rc;
    chmod 0755, $dir;
    chmod 0644, "$dir/key.pem", "$dir/cert.pem";    # PgBouncer runs as postgres
    return $tls_keys = { client_tls_sslmode => 'require', client_tls_key_file => "$dir/key.pem",
        client_tls_cert_file => "$dir/cert.pem" };
}

sub stop_clients {
    my ($procs) = @_;
    close $_->{w} for @$procs;
    for my $p (@$procs) {
        waitpid($p->{pid}, 0);
        delete $CLIENT_PIDS{ $p->{pid} };
        close $p->{r};
    }
}

# hold(\@poolers, $n, $label) -> row: connects $n idle clients to the poolers' shared port,
# measures memory empty/holding, checks a sample.
sub hold {
    my ($poolers, $n, $label) = @_;
    my $port = $poolers->[0]->port;
    my $addrs = addresses($n);
    my $sys = $poolers->[0]{kind};
    # warm up: one login and one query, so the pool's server connection exists when "empty"
    my $warm = start_clients('127.0.0.1', $port, 1);
    wait_line($warm->[0], qr/^connected (\d+) (\d+)/);
    $warm->[0]{w}->print("check 1\n");
    $warm->[0]{w}->flush;
    my ($wok) = wait_line($warm->[0], qr/^checked (\d+) (\d+)/);
    stop_clients($warm);
    bench_die("$label: the warm-up client could not run SELECT 1") unless $wok;
    sleep 0.5;
    my $rss0 = sum(map { Bench::proc_rss($_->pid) } @$poolers);
    my $ss0 = Bench::sockstat();
    my $t0 = time;
    my $procs = start_clients($addrs, $port, $n);
    my ($ok, $failed) = (0, 0);
    for my $p (@$procs) {
        my ($o, $f) = wait_line($p, qr/^connected (\d+) (\d+)/);
        $ok += $o;
        $failed += $f;
    }
    my $login_s = time - $t0;
    sleep $opt{hold};
    $_->check_alive("died holding $n clients") for @$poolers;
    my @rss = map { Bench::proc_rss($_->pid) } @$poolers;
    my $rss1 = sum(@rss);
    my $ss1 = Bench::sockstat();
    my @fds = map { nfds($_->pid) } @$poolers;
    my ($cok, $cfail) = (0, 0);
    my $per = ceil($opt{sample} / @$procs);
    for my $p (@$procs) {
        $p->{w}->print("check $per\n");
        $p->{w}->flush;
    }
    for my $p (@$procs) {
        my ($o, $f) = wait_line($p, qr/^checked (\d+) (\d+)/);
        $cok += $o;
        $cfail += $f;
    }
    stop_clients($procs);
    $_->check_alive("died after holding $n clients") for @$poolers;
    my %row = (system => $sys, poolers => scalar @$poolers, clients => $n, connected => $ok,
        failed => $failed, login_s => sprintf('%.1f', $login_s), rss_empty => $rss0,
        rss_held => $rss1, bytes_per_client => $ok ? sprintf('%.0f', ($rss1 - $rss0) / $ok) : '',
        tcp_mem_delta => $ss1->{tcp_mem_bytes} - $ss0->{tcp_mem_bytes},
        tcp_mem_per_conn => $ok ? sprintf('%.0f',
            ($ss1->{tcp_mem_bytes} - $ss0->{tcp_mem_bytes}) / $ok) : '',
        tcp_inuse_delta => $ss1->{tcp_inuse} - $ss0->{tcp_inuse},
        slab_per_conn => $ok ? sprintf('%.0f', ($ss1->{slab_bytes} - $ss0->{slab_bytes}) / $ok)
            : '',
        check_ok => $cok, check_failed => $cfail, addresses => scalar(split /,/, $addrs),
        client_procs => scalar @$procs,
        per_pooler => join(' ', map { sprintf('%dfd/%.0fMB', $fds[$_], $rss[$_] / 1048576) }
                0 .. $#fds));
    push @errors, "$label: $failed of $n logins failed" if $failed;
    push @errors, "$label: $cfail of " . ($cok + $cfail) . ' SELECT 1 checks failed' if $cfail;
    push @errors, "$label: no SELECT 1 check ran" unless $cok + $cfail;
    say_(sprintf('  %s: %d/%d logged in in %.1fs; RSS %.1f -> %.1f MB = %s B/client; TCP mem '
                . '%+.1f MB (%s B/connection, both ends); kernel socket objects %s B/connection; '
                . 'SELECT 1 %d ok %d failed', $label, $ok, $n, $login_s, $rss0 / 1048576,
            $rss1 / 1048576, $row{bytes_per_client}, $row{tcp_mem_delta} / 1048576,
            $row{tcp_mem_per_conn}, $row{slab_per_conn}, $cok, $cfail));
    return \%row;
}

my $tmp = $pg->tmp;
my $run = 0;
if ($opt{'100k'}) {
    my $n = $opt{total};
    my $addrs = addresses($n);
    my $port = WeirTest::free_port();
    say_("idle: $opt{weirs} weir processes sharing port $port (SO_REUSEPORT) on $addrs, "
            . "$n clients");
    my @weirs = map {
        Bench::start_weir(dir => "$tmp/weir100k-$_", name => "weir#$_", pg_port => $pg->pgport,
            pool_size => 2, listen_addr => $addrs, port => $port, max_client_conn => 20000,
            workers => 2)
    } 1 .. $opt{weirs};
    say_('  weir pids: ' . join(' ', map { $_->pid } @weirs));
    local $opt{per_proc} = max($opt{per_proc}, 10000);
    push @rows, hold(\@weirs, $n, "$opt{weirs} weirs x $n");
    $_->stop for @weirs;
} else {
    for my $n (split /,/, $opt{clients}) {
        for my $sys (split /,/, $opt{systems}) {
            $run++;
            my %common = (dir => "$tmp/$sys-$n", pg_port => $pg->pgport, pool_size => 2,
                listen_addr => addresses($n), max_client_conn => 20000,
                ($opt{tls} ? (extra => tls_keys()) : ()));
            my $p = $sys eq 'weir' ? Bench::start_weir(%common)
                : $sys eq 'pgbouncer' ? Bench::start_pgbouncer(%common)
                : bench_die("unknown system $sys");
            push @rows, hold([$p], $n, "$sys x $n");
            $p->stop;
        }
    }
}

# ---- output -----------------------------------------------------------------------------
my @cols = qw(system poolers clients connected failed login_s rss_empty rss_held
    bytes_per_client tcp_mem_delta tcp_mem_per_conn tcp_inuse_delta slab_per_conn check_ok check_failed
    addresses client_procs per_pooler);
open my $csv, '>', "$out/idle.csv" or bench_die("$out/idle.csv: $!");
print $csv join(',', @cols), "\n";
for my $r (@rows) { print $csv join(',', map { $r->{$_} // '' } @cols), "\n" }
close $csv;
my $md = "# Idle clients: pooler memory per client connection"
    . ($opt{tls} ? ' (TLS: client_tls_sslmode = require, every client logged in over TLS)' : '')
    . "\n\n"
    . "RSS = the pooler's VmRSS (summed over processes), empty (after one login) and holding "
    . "the clients; B/client = the difference divided by the clients. TCP mem = the growth of "
    . "the kernel's TCP memory (/proc/net/sockstat, whole machine, both ends of each "
    . "connection; buffered data only, so near 0 for idle sockets). Sock objs = the growth of "
    . "the kernel's socket objects (slabs TCP, sock_inode_cache, filp, eventpoll_epi; whole "
    . "machine, both ends) per connection. Other programs on the machine move both kernel "
    . "figures. SELECT 1 = a sample of the held clients queried at the end.\n\n"
    . "| system | processes | clients | logged in | login s | RSS empty MB | RSS held MB | "
    . "B/client | TCP mem MB | TCP B/conn | sock objs B/conn | SELECT 1 ok/failed | "
    . "per process |\n"
    . "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
for my $r (@rows) {
    $md .= sprintf("| %s | %d | %d | %d | %s | %.1f | %.1f | %s | %.1f | %s | %s | %d/%d | %s |\n",
        $r->{system}, $r->{poolers}, $r->{clients}, $r->{connected}, $r->{login_s},
        $r->{rss_empty} / 1048576, $r->{rss_held} / 1048576, $r->{bytes_per_client},
        $r->{tcp_mem_delta} / 1048576, $r->{tcp_mem_per_conn}, $r->{slab_per_conn}, $r->{check_ok},
        $r->{check_failed}, $r->{per_pooler});
}
my %by;
$by{ $_->{clients} }{ $_->{system} } = $_ for @rows;
my @ratio = grep { $by{$_}{weir} && $by{$_}{pgbouncer} } sort { $a <=> $b } keys %by;
if (@ratio) {
    $md .= "\n| clients | B/client weir / PgBouncer |\n|---:|---:|\n";
    for my $n (@ratio) {
        my ($w, $b) = ($by{$n}{weir}{bytes_per_client}, $by{$n}{pgbouncer}{bytes_per_client});
        $md .= "| $n | " . ($b > 0 ? sprintf('%.2f', $w / $b) : '-') . " |\n";
    }
}
WeirTest::spew("$out/idle.md", $md);
print "\n$md";
if (@errors) {
    print STDERR "idle: ERROR: $_\n" for @errors;
    exit 1;
}
exit 0;
