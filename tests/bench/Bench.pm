# Bench.pm -- shared pieces of the benchmark commands (tests/bench/run, tests/bench/idle):
# starting weir and PgBouncer with equivalent configurations, reading a process's CPU time
# and resident memory from /proc, counting a process's syscalls with perf, the results folder.
# The servers (PostgreSQL 15, MariaDB) come from the integration-test harness
# (tests/integration/WeirTest.pm, MyTest.pm), which also removes them at exit.
package Bench;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Path qw(make_path);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h strftime);
use Time::HiRes qw(time sleep);
use Exporter 'import';

BEGIN {
    my $here = abs_path((File::Spec->splitpath(__FILE__))[1]);
    unshift @INC, "$here/../integration";
}
use WeirTest;

our @EXPORT = qw(say_ bench_die proc_cpu machine_busy proc_rss sockstat results_dir env_list env_num
    perf_count_start perf_count_stop);

our $ROOT = $WeirTest::ROOT;
our $IS_ROOT = ($> == 0);
our $PGBOUNCER = $ENV{PGBOUNCER} // '/usr/sbin/pgbouncer';
my $CLK_TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
my @POOLERS;    # started poolers, stopped at exit
my $OWNER = $$;

sub say_ { print STDOUT @_, "\n"; }

# bench_die(msg): errors are never quiet: print and exit non-zero (END blocks clean up).
sub bench_die {
    my ($msg) = @_;
    print STDERR "bench: ERROR: $msg\n";
    exit 1;
}

sub env_num { my ($name, $def) = @_; return defined $ENV{$name} && length $ENV{$name} ? $ENV{$name} : $def; }

sub env_list {
    my ($name, $def) = @_;
    my $v = $ENV{$name};
    return split(/,/, defined $v && length $v ? $v : $def);
}

# results_dir($kind) -> tests/bench/results/<timestamp>[-kind]/ (created), absolute path.
sub results_dir {
    my ($kind) = @_;
    my $d = "$ROOT/tests/bench/results/" . strftime('%Y%m%d-%H%M%S', localtime)
        . ($kind ? "-$kind" : '');
    make_path("$d/raw");
    return $d;
}

# proc_cpu($pid) -> CPU seconds (user + system) the process used so far, all threads.
sub proc_cpu {
    my ($pid) = @_;
    my $s = WeirTest::slurp("/proc/$pid/stat");
    bench_die("process $pid is gone (no /proc/$pid/stat)") unless length $s;
    $s =~ s/^.*\)\s+//s;
    my @f = split /\s+/, $s;
    return ($f[11] + $f[12]) / $CLK_TCK;    # fields 14 and 15 of stat
}

# machine_busy() -> CPU seconds the whole machine spent busy so far (all CPUs; /proc/stat's
# user, nice, system, irq, softirq and steal), to show what a transaction costs end to end.
sub machine_busy {
    my ($cpu) = WeirTest::slurp('/proc/stat') =~ /^cpu\s+(.*)$/m;
    my @f = split /\s+/, $cpu // '';
    bench_die('no cpu line in /proc/stat') unless @f >= 8;
    return ($f[0] + $f[1] + $f[2] + $f[5] + $f[6] + $f[7]) / $CLK_TCK;
}

# proc_rss($pid) -> VmRSS in bytes.
sub proc_rss {
    my ($pid) = @_;
    my $s = WeirTest::slurp("/proc/$pid/status");
    return $s =~ /^VmRSS:\s+(\d+)\s+kB/m ? $1 * 1024 : bench_die("no VmRSS for $pid");
}

# sockstat() -> { tcp_inuse, tcp_mem_bytes, sockets_used, slab_bytes } from /proc/net/sockstat (the whole
# machine's TCP sockets: other processes' sockets are counted too).
sub sockstat {
    my $s = WeirTest::slurp('/proc/net/sockstat');
    my %r;
    $r{sockets_used} = $1 if $s =~ /^sockets: used (\d+)/m;
    if ($s =~ /^TCP: inuse (\d+) orphan \d+ tw (\d+) alloc (\d+) mem (\d+)/m) {
        @r{qw(tcp_inuse tcp_tw tcp_alloc)} = ($1, $2, $3);
        $r{tcp_mem_bytes} = $4 * 4096;
    }
    # kernel objects of a socket (TCP sock, socket inode, file, epoll item), active objects
    # times object size from /proc/slabinfo (readable by root only; 0 otherwise)
    $r{slab_bytes} = 0;
    for (split /\n/, WeirTest::slurp('/proc/slabinfo')) {
        my @f = split ' ';
        $r{slab_bytes} += $f[1] * $f[3]
            if @f > 4 && $f[0] =~ /^(TCP|sock_inode_cache|filp|eventpoll_epi)$/;
    }
    return \%r;
}

# perf_count_start($pid, $outfile, @events) -> perf's pid; counts the events on all threads of
# $pid until perf_count_stop. Returns undef if perf cannot attach.
sub perf_count_start {
    my ($pid, $out, @events) = @_;
    @events = ('raw_syscalls:sys_enter', 'task-clock', 'context-switches') unless @events;
    my $p = fork // bench_die("fork: $!");
    if ($p == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$out.stdout";
        open STDERR, '>&', \*STDOUT;
        exec 'perf', 'stat', '-x', ',', (map { ('-e', $_) } @events), '-p', $pid, '-o', $out
            or POSIX::_exit(127);
    }
    sleep 0.3;
    return waitpid($p, WNOHANG) == 0 ? $p : undef;
}

# perf_count_stop($perf_pid, $outfile) -> { event => count }
sub perf_count_stop {
    my ($p, $out) = @_;
    return {} unless $p;
    kill 'INT', $p;
    waitpid($p, 0);
    my %c;
    for (split /\n/, WeirTest::slurp($out)) {
        my @f = split /,/;
        next unless @f >= 3 && $f[0] =~ /^[\d.]+$/;
        $c{ $f[2] } = $f[0];
    }
    return \%c;
}

# ---- poolers ------------------------------------------------------------------------------

sub _spew { WeirTest::spew(@_) }

sub _wait_port {
    my ($p, $port) = @_;
    return WeirTest::wait_until(30, sub {
        return 1 if $p->reap;
        my $s = IO::Socket::INET->new(PeerAddr => $p->{addr} // '127.0.0.1', PeerPort => $port,
            Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0;
    }, 0.05);
}

sub _spawn {
    my ($p, $argv, %o) = @_;
    my $pid = fork // bench_die("fork: $!");
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $p->{log} or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        if ($o{user}) {
            my ($uid, $gid) = (getpwnam($o{user}))[2, 3];
            POSIX::setgid($gid);
            $) = "$gid $gid";
            POSIX::setuid($uid) or POSIX::_exit(125);
        }
        chdir $p->{dir};
        exec { $argv->[0] } @$argv or POSIX::_exit(127);
    }
    $p->{pid} = $pid;
    push @POOLERS, $p;
}

# pg_host / my_host: where the pooler finds the servers (default 127.0.0.1; a path is a unix
# socket: PostgreSQL's socket directory, MariaDB's socket file).
# start_weir(dir => , name => , pg_port => , my_port => , pool_size => , listen_addr => ,
#   port => , mysql_port => , workers => , bin => , extra => {k => v}) -> Bench::Pooler
# Transaction pooling, md5 client auth against a plain-text auth file, no connection logging.
sub start_weir {
    my (%o) = @_;
    my $dir = $o{dir};
    make_path($dir);
    my $port = $o{port} // WeirTest::free_port();
    _spew("$dir/userlist.txt", qq{"app" "apppass"\n});
    my $conf = "[databases]\n";
    $conf .= "testdb = host=" . ($o{pg_host} // '127.0.0.1') . " port=$o{pg_port} dbname=testdb\n"
        if $o{pg_port};
    $conf .= "shop = backend=mysql host=" . ($o{my_host} // '127.0.0.1')
        . " port=$o{my_port} dbname=shop\n" if $o{my_port};
    my %k = (
        listen_addr => $o{listen_addr} // '127.0.0.1',
        listen_port => $port,
        auth_type => 'md5',
        auth_file => "$dir/userlist.txt",
        pool_mode => 'transaction',
        default_pool_size => $o{pool_size},
        max_client_conn => $o{max_client_conn} // 20000,
        workers => $o{workers} // 0,
        server_reset_query => 'DISCARD ALL',
        client_login_timeout => 120,
        query_wait_timeout => 120,
        server_connect_timeout => 15,
        log_connections => 0,
        log_disconnections => 0,
        verbose => 0,
        stats_users => 'app',    # SHOW MEM during prepared-statement runs
        %{ $o{extra} // {} },
    );
    my $myport;
    if ($o{my_port}) {
        $myport = $o{mysql_port} // WeirTest::free_port();
        $myport = WeirTest::free_port() while $myport == $port;
        $k{mysql_listen_port} = $myport;
    }
    $conf .= "\n[weir]\n" . join('', map { "$_ = $k{$_}\n" } sort keys %k);
    _spew("$dir/weir.ini", $conf);
    my $bin = $o{bin} // $ENV{WEIR_BIN} // "$ROOT/build-release/weir";
    bench_die("no weir binary at $bin") unless -x $bin;
    my $p = bless { kind => 'weir', name => $o{name} // 'weir', dir => $dir, port => $port,
        mysql_port => $myport, log => "$dir/weir.log",
        addr => (split /,/, $k{listen_addr})[0] }, 'Bench::Pooler';
    _spawn($p, [$bin, '-q', "$dir/weir.ini"]);
    $p->_started($port, $myport);
    return $p;
}

# start_pgbouncer(dir =>, pg_port =>, pg_host =>, pool_size =>, listen_addr =>, port =>)
#   -> Bench::Pooler
# Debian's PgBouncer with the same settings as start_weir. As root it runs as 'postgres'
# (PgBouncer refuses to run as root).
sub start_pgbouncer {
    my (%o) = @_;
    my $dir = $o{dir};
    make_path($dir);
    chmod 0755, $dir;
    my $port = $o{port} // WeirTest::free_port();
    _spew("$dir/userlist.txt", qq{"app" "apppass"\n});
    my %k = (
        listen_addr => $o{listen_addr} // '127.0.0.1',
        listen_port => $port,
        unix_socket_dir => '',
        auth_type => 'md5',
        auth_file => "$dir/userlist.txt",
        pool_mode => 'transaction',
        default_pool_size => $o{pool_size},
        max_client_conn => $o{max_client_conn} // 20000,
        server_reset_query => 'DISCARD ALL',
        client_login_timeout => 120,
        query_wait_timeout => 120,
        server_connect_timeout => 15,
        log_connections => 0,
        log_disconnections => 0,
        log_pooler_errors => 1,
        stats_period => 60,
        %{ $o{extra} // {} },
    );
    my $conf = "[databases]\ntestdb = host=" . ($o{pg_host} // '127.0.0.1')
        . " port=$o{pg_port} dbname=testdb\n\n"
        . "[pgbouncer]\n" . join('', map { "$_ = $k{$_}\n" } sort keys %k);
    _spew("$dir/pgbouncer.ini", $conf);
    my $p = bless { kind => 'pgbouncer', name => $o{name} // 'pgbouncer', dir => $dir,
        port => $port, log => "$dir/pgbouncer.log",
        addr => (split /,/, $k{listen_addr})[0] }, 'Bench::Pooler';
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        chown $uid, $gid, $dir, "$dir/userlist.txt", "$dir/pgbouncer.ini";
        _spew($p->{log}, '');
        chown $uid, $gid, $p->{log};
    }
    _spawn($p, [$PGBOUNCER, "$dir/pgbouncer.ini"], user => $IS_ROOT ? 'postgres' : undef);
    $p->_started($port);
    return $p;
}

# start_floor(dir =>, name =>, server => 'HOST:PORT' or unix socket path, threads =>)
#   -> Bench::Pooler
# tests/bench/floor.c: one server connection per client, bytes relayed unparsed; the
# cheapest proxy there can be, measured beside the poolers as the floor of their cost.
sub start_floor {
    my (%o) = @_;
    my $dir = $o{dir};
    make_path($dir);
    my $port = WeirTest::free_port();
    my $bin = $ENV{WEIR_FLOOR_BIN} // "$ROOT/build-release/bench/floor";
    bench_die("no floor binary at $bin (tests/bench/run builds it)") unless -x $bin;
    my $p = bless { kind => 'floor', name => $o{name} // 'floor', dir => $dir, port => $port,
        log => "$dir/floor.log" }, 'Bench::Pooler';
    _spawn($p, [$bin, $port, $o{server}, $o{threads} || 1]);
    $p->_started($port);
    return $p;
}

END {
    my $rc = $?;
    if ($$ == $OWNER) {
        $_->stop for reverse @POOLERS;
    }
    $? = $rc;
}

package Bench::Pooler;

use strict;
use warnings;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

sub pid  { $_[0]{pid} }
sub port { $_[0]{port} }
sub name { $_[0]{name} }

sub reap {
    my ($self) = @_;
    return 1 if $self->{exited};
    my $r = waitpid($self->{pid}, WNOHANG);
    if ($r == $self->{pid}) {
        $self->{exited} = 1;
        $self->{status} = $?;
        return 1;
    }
    return 0;
}

sub _started {
    my ($self, @ports) = @_;
    for my $port (grep { defined } @ports) {
        Bench::_wait_port($self, $port);
    }
    sleep 0.2;
    $self->check_alive('did not start');
}

# check_alive($what): a pooler that died is an error: show its log tail and exit non-zero.
sub check_alive {
    my ($self, $what) = @_;
    return 1 unless $self->reap;
    my @l = split /\n/, WeirTest::slurp($self->{log});
    my $from = @l > 30 ? @l - 30 : 0;
    my $st = $self->{status};
    Bench::bench_die("$self->{name} " . ($what // 'died') . ' (exit status '
            . (($st & 127) ? 'signal ' . ($st & 127) : $st >> 8) . "); log tail:\n"
            . join("\n", @l[$from .. $#l]));
}

sub stop {
    my ($self) = @_;
    return if $self->reap;
    kill 'TERM', $self->{pid};
    for (1 .. 100) {
        return if $self->reap;
        sleep 0.05;
    }
    kill 'KILL', -$self->{pid};
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{exited} = 1;
}

1;
