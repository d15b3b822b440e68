# WeirTest.pm -- integration-test harness: a throwaway PostgreSQL 15 per test file, weir
# instances in front of it, and helpers to talk to both (psql, DBD::Pg, raw sockets).
#
# Usage (from tests/integration/tNN_*.t):
#   use FindBin; use lib $FindBin::Bin; use WeirTest;
#   my $t = WeirTest->new(pgbench => 1);        # starts PostgreSQL, creates roles/dbs
#   my $w = $t->start_weir(weir => { default_pool_size => 5 });
#   my ($out, $err, $rc) = $w->psql('SELECT 1');
#   $w->stop;                                   # fails the test on sanitizer reports
#
# Environment: WEIR_BIN (default build/weir), WEIR_CLIENTS (default build/tests/clients),
# PG_BIN (default /usr/lib/postgresql/15/bin), WEIR_KEEP_TMP=1 keeps the temp dir.
#
# When run as root, initdb/pg_ctl run as the 'postgres' system user (initdb refuses root);
# the temp dir lives under /tmp and is made traversable for it.
package WeirTest;

use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path getcwd);
use File::Temp qw(tempdir);
use File::Path qw(remove_tree);
use File::Spec;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(hmac_sha256 sha256);
use MIME::Base64 qw(encode_base64 decode_base64);
use DBI;
use Exporter 'import';

our @EXPORT = qw(run_cmd wait_until holds_for startup_packet read_msg read_byte read_exact
    parse_error_fields ssl_request_packet gssenc_request_packet cancel_packet free_port
    raw_login raw_query pg_msg sock_closed slurp spew spawn wait_children);

# Sanitizer options for weir (and for the ASAN-built libpq clients).
# tests/tsan.supp silences one thing only: libev's lazy epoll bookkeeping of a
# socket that moved to another worker's loop (the file says why).
my $tsan_supp = do { my $d = __FILE__; $d =~ s{[^/]*$}{}; "${d}../tsan.supp" };
$ENV{ASAN_OPTIONS}  //= 'abort_on_error=0:halt_on_error=1:detect_leaks=1';
$ENV{UBSAN_OPTIONS} //= 'halt_on_error=1:print_stacktrace=1';
$ENV{TSAN_OPTIONS}  //= "halt_on_error=0:second_deadlock_stack=1:suppressions=$tsan_supp";

# Repository root: tests/integration/.. /..
our $ROOT = abs_path(File::Spec->catdir((File::Spec->splitpath(__FILE__))[1], '..', '..'));
our $PG_BIN = $ENV{PG_BIN} // '/usr/lib/postgresql/15/bin';
our $IS_ROOT = ($> == 0);
# application_name of the harness's direct connections to PostgreSQL, so that counting
# weir's server connections (same user and database) can leave them out.
our $DIRECT_APP = 'weirtest-direct';

my @INSTANCES;          # WeirTest objects to clean up at exit
my %RUNNING;            # run_cmd children (own process groups) => their temp dir
my $OWNER_PID = $$;     # forked children never clean up

sub weir_bin {
    my $b = $ENV{WEIR_BIN} // 'build/weir';
    $b = File::Spec->catfile($ROOT, $b) unless File::Spec->file_name_is_absolute($b);
    return $b;
}

sub clients_dir {
    my $d = $ENV{WEIR_CLIENTS} // 'build/tests/clients';
    $d = File::Spec->catdir($ROOT, $d) unless File::Spec->file_name_is_absolute($d);
    return $d;
}

sub client_bin { my ($name) = @_; return File::Spec->catfile(clients_dir(), $name); }

sub pg_bin { my ($name) = @_; return "$PG_BIN/$name"; }

# free_port() -> a TCP port on 127.0.0.1 that was free a moment ago (bind-to-0 trick).
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 1, ReuseAddr => 1) or die "free_port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# wait_until($timeout_s, sub { ... }, $interval) -> true once the sub returns true,
# false on timeout.
sub wait_until {
    my ($timeout, $cb, $interval) = @_;
    $interval //= 0.05;
    my $deadline = time + $timeout;
    while (1) {
        my $r = $cb->();
        return $r if $r;
        return 0 if time >= $deadline;
        sleep $interval;
    }
}

# holds_for($seconds, sub { ... }, $interval) -> true when the sub returned true at every
# check for $seconds (the first check at once, the last at the end), false at the first
# check that returned false. For "this stays so", after wait_until reached the state.
sub holds_for {
    my ($secs, $cb, $interval) = @_;
    $interval //= 0.1;
    my $end = time + $secs;
    while (1) {
        my $last = time >= $end;
        return 0 unless $cb->();
        return 1 if $last;
        sleep $interval;
    }
}

# run_cmd(\@argv, timeout => s, env => {..}, as_pg => bool, stdin => string)
#   -> ($stdout, $stderr, $exit_status, $timed_out)
# $exit_status is the exit code, or 128+signal. A command still running at the timeout
# is killed (SIGKILL on its process group).
sub run_cmd {
    my ($argv, %o) = @_;
    my $timeout = $o{timeout} // 60;
    my $dir = tempdir('weircmd.XXXXXX', TMPDIR => 1, CLEANUP => 0);
    my ($outf, $errf, $inf) = ("$dir/out", "$dir/err", "$dir/in");
    my @cmd = @$argv;
    if ($o{as_pg} && $IS_ROOT) {
        chmod 0755, $dir;
        @cmd = ('runuser', '-u', 'postgres', '--', @cmd);
    }
    if (defined $o{stdin}) {
        open my $fh, '>', $inf or die "$inf: $!";
        print $fh $o{stdin};
        close $fh;
    }
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        %ENV = (%ENV, %{ $o{env} // {} });
        open STDIN, '<', (defined $o{stdin} ? $inf : '/dev/null') or POSIX::_exit(126);
        open STDOUT, '>', $outf or POSIX::_exit(126);
        open STDERR, '>', $errf or POSIX::_exit(126);
        chdir($o{cwd} // ($o{as_pg} ? '/tmp' : '.'));
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    $RUNNING{$pid} = $dir;
    my $deadline = time + $timeout;
    my $timed_out = 0;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        last if $r == $pid;
        if (time > $deadline) {
            $timed_out = 1;
            kill 'KILL', -$pid;
            kill 'KILL', $pid;
            waitpid($pid, 0);
            last;
        }
        sleep 0.02;
    }
    my $st = $?;
    delete $RUNNING{$pid};
    my $status = ($st & 127) ? 128 + ($st & 127) : ($st >> 8);
    my $out = slurp($outf);
    my $err = slurp($errf);
    remove_tree($dir);
    return ($out, $err, $status, $timed_out);
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s // '';
}

sub spew {
    my ($f, $s) = @_;
    open my $fh, '>', $f or die "$f: $!";
    print $fh $s;
    close $fh or die "$f: $!";
}

# WeirTest->new(%opts): start a PostgreSQL 15 on 127.0.0.1 and prepare roles/databases.
#   pgbench         => scale   run pgbench -i -s scale on testdb (as app); 0/undef = no
#   max_connections => N       default 300
#   pg_conf         => { k => v } extra postgresql.conf settings
sub new {
    my ($class, %o) = @_;
    my $self = bless { opts => \%o, weirs => [] }, $class;
    push @INSTANCES, $self;
    $self->{tmp} = tempdir('weirtest.XXXXXX', DIR => '/tmp', CLEANUP => 0);
    chmod 0755, $self->{tmp};
    $self->{pgdata} = "$self->{tmp}/pgdata";
    $self->{sockdir} = "$self->{tmp}/sock";
    mkdir $self->{sockdir} or die "mkdir: $!";
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        die "no postgres system user (install postgresql-15)" unless defined $uid;
        chown $uid, $gid, $self->{sockdir};
        mkdir $self->{pgdata};
        chown $uid, $gid, $self->{pgdata};
    }
    $self->{pgport} = free_port();
    $self->_start_pg;
    $self->_setup_roles;
    $self->pgbench_init($o{pgbench}) if $o{pgbench};
    return $self;
}

sub tmp    { $_[0]{tmp} }
sub pgport { $_[0]{pgport} }

sub _start_pg {
    my ($self) = @_;
    my $pwfile = "$self->{tmp}/pwfile";
    spew($pwfile, "postgres\n");
    chmod 0644, $pwfile;
    my ($out, $err, $rc) = run_cmd([pg_bin('initdb'), '-D', $self->{pgdata}, '-U', 'postgres',
            '-E', 'UTF8', '--locale=C.UTF-8', '--auth-local=trust', '--auth-host=scram-sha-256',
            "--pwfile=$pwfile", '-N'], as_pg => 1, timeout => 120);
    die "initdb failed ($rc): $out\n$err" if $rc;
    my %conf = (
        listen_addresses => "'127.0.0.1'",
        port => $self->{pgport},
        unix_socket_directories => "'$self->{sockdir}'",
        max_connections => $self->{opts}{max_connections} // 300,
        password_encryption => "'scram-sha-256'",
        fsync => 'off',
        synchronous_commit => 'off',
        full_page_writes => 'off',
        shared_buffers => "'64MB'",
        log_min_messages => 'warning',
        # notice vanished clients during a query (weir may close a server instead of
        # cancelling its query when the client goes away)
        client_connection_check_interval => "'200ms'",
        %{ $self->{opts}{pg_conf} // {} },
    );
    open my $fh, '>>', "$self->{pgdata}/postgresql.conf" or die $!;
    print $fh "\n# weir test harness\n";
    print $fh "$_ = $conf{$_}\n" for sort keys %conf;
    close $fh;
    $self->{pglog} = "$self->{tmp}/postgresql.log";
    if ($IS_ROOT) {
        spew($self->{pglog}, '');
        chown((getpwnam('postgres'))[2, 3], $self->{pglog});
    }
    for my $attempt (1 .. 3) {
        ($out, $err, $rc) = run_cmd([pg_bin('pg_ctl'), '-D', $self->{pgdata}, '-l',
                $self->{pglog}, '-w', '-t', '60', 'start'], as_pg => 1, timeout => 90);
        last unless $rc;
        my $log = slurp($self->{pglog});
        if ($attempt < 3 && $log =~ /could not bind|in use/i) {
            # Someone took the port between free_port() and the bind: take another one.
            $self->{pgport} = free_port();
            open my $fh, '>>', "$self->{pgdata}/postgresql.conf" or die $!;
            print $fh "port = $self->{pgport}\n";
            close $fh;
            next;
        }
        diag($log);
        die "pg_ctl start failed ($rc): $out\n$err";
    }
    $self->{pg_running} = 1;
}

sub _stop_pg {
    my ($self) = @_;
    return unless $self->{pg_running};
    run_cmd([pg_bin('pg_ctl'), '-D', $self->{pgdata}, '-m', 'immediate', '-w', '-t', '30', 'stop'],
        as_pg => 1, timeout => 40);
    $self->{pg_running} = 0;
}

# Superuser connection over the unix socket (local trust auth).
sub pg_admin_dbi {
    my ($self, $db) = @_;
    $db //= 'postgres';
    my $dbh = DBI->connect("dbi:Pg:host=$self->{sockdir};port=$self->{pgport};dbname=$db",
        'postgres', '', { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
    return $dbh;
}

sub _setup_roles {
    my ($self) = @_;
    my $dbh = $self->pg_admin_dbi;
    $dbh->do("CREATE ROLE app LOGIN PASSWORD 'apppass'");
    $dbh->do("CREATE ROLE forced LOGIN PASSWORD 'forcedpass'");
    $dbh->do("CREATE DATABASE testdb OWNER app");
    $dbh->do("GRANT ALL ON DATABASE testdb TO forced");
    $dbh->disconnect;
    $dbh = $self->pg_admin_dbi('testdb');
    $dbh->do("GRANT ALL ON SCHEMA public TO forced");
    $dbh->do("ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT ALL ON TABLES TO forced");
    $dbh->disconnect;
}

# Stored verifier of a role, e.g. 'SCRAM-SHA-256$4096:...'.
sub scram_verifier {
    my ($self, $role) = @_;
    my $dbh = $self->pg_admin_dbi;
    my ($v) = $dbh->selectrow_array('SELECT rolpassword FROM pg_authid WHERE rolname = ?',
        undef, $role);
    $dbh->disconnect;
    return $v;
}

sub md5_secret { my ($user, $pass) = @_; return 'md5' . md5_hex($pass . $user); }

# Direct connection to PostgreSQL over TCP (as app by default).
sub pg_dbi {
    my ($self, %o) = @_;
    my $db = $o{db} // 'testdb';
    my $user = $o{user} // 'app';
    my $pass = $o{password} // ($user eq 'forced' ? 'forcedpass' : 'apppass');
    return DBI->connect("dbi:Pg:host=127.0.0.1;port=$self->{pgport};dbname=$db;"
            . "sslmode=disable;connect_timeout=10;application_name=$DIRECT_APP",
        $user, $pass, { RaiseError => 0, PrintError => 0, AutoCommit => 1, %{ $o{attr} // {} } });
}

# Direct psql run against PostgreSQL (TCP, as app by default).
sub pg_psql {
    my ($self, $sql, %o) = @_;
    return _psql('127.0.0.1', $self->{pgport}, $sql, appname => $DIRECT_APP, %o);
}

sub pgbench_init {
    my ($self, $scale) = @_;
    my ($out, $err, $rc) = run_cmd([pg_bin('pgbench'), '-i', '-q', '-s', $scale, '-h', '127.0.0.1',
            '-p', $self->{pgport}, '-U', 'app', 'testdb'],
        env => { PGPASSWORD => 'apppass' }, timeout => 300);
    die "pgbench -i failed ($rc): $err" if $rc;
}

# pgbench(port => p, args => [...]) -> ($stdout, $stderr, $rc)
sub pgbench {
    my ($self, %o) = @_;
    return run_cmd([pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $o{port} // $self->{pgport},
            '-U', $o{user} // 'app', @{ $o{args} // [] }, $o{db} // 'testdb'],
        env => { PGPASSWORD => $o{password} // 'apppass', PGSSLMODE => 'disable' },
        timeout => $o{timeout} // 120);
}

# Number of server connections weir holds: client backends of the given user/db,
# not counting the connection that asks.
sub count_backends {
    my ($self, %o) = @_;
    my $dbh = $self->{count_dbh};
    unless ($dbh && $dbh->ping) {
        $dbh = $self->{count_dbh} = $self->pg_admin_dbi;
    }
    my ($n) = $dbh->selectrow_array(q{SELECT count(*) FROM pg_stat_activity
        WHERE usename = ? AND datname = ? AND backend_type = 'client backend'
          AND pid <> pg_backend_pid() AND application_name <> ?}, undef,
        $o{user} // 'app', $o{db} // 'testdb', $DIRECT_APP);
    return $n;
}

# Rows of pg_stat_activity for the given user/db (hashrefs).
sub backends {
    my ($self, %o) = @_;
    my $dbh = $self->pg_admin_dbi;
    my $rows = $dbh->selectall_arrayref(q{SELECT pid, state, application_name, query,
            backend_xid FROM pg_stat_activity
        WHERE usename = ? AND datname = ? AND backend_type = 'client backend'
          AND pid <> pg_backend_pid() AND application_name <> ? ORDER BY pid}, { Slice => {} },
        $o{user} // 'app', $o{db} // 'testdb', $DIRECT_APP);
    $dbh->disconnect;
    return $rows;
}

sub _psql {
    my ($host, $port, $sql, %o) = @_;
    my @argv = (pg_bin('psql'), '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
        '-h', $host, '-p', $port, '-U', $o{user} // 'app', '-d', $o{db} // 'testdb');
    push @argv, (ref $sql ? (map { ('-c', $_) } @$sql) : ('-c', $sql)) if defined $sql;
    push @argv, @{ $o{args} } if $o{args};
    my %env = (PGCONNECT_TIMEOUT => 10, PGSSLMODE => $o{sslmode} // 'disable',
        PGAPPNAME => $o{appname} // 'weirtest');
    my $pw = exists $o{password} ? $o{password} : 'apppass';
    if (defined $pw) { $env{PGPASSWORD} = $pw } else { $env{PGPASSWORD} = '' }
    my ($out, $err, $rc, $to) = run_cmd(\@argv, env => \%env, timeout => $o{timeout} // 60,
        stdin => $o{stdin});
    chomp $out;
    return ($out, $err, $rc, $to);
}

# start_weir(%o) -> WeirTest::Weir, running and accepting on its port.
#   weir      => { key => value } overrides of the [weir] section
#   databases => { name => 'connstr' } replaces/extends the default [databases] entries
#   users     => { user => secret } auth file contents (default app/forced plain passwords)
#   raw_users => "text" literal auth file contents
#   sections  => { users => { app => 'pool_size=2' } } extra sections (e.g. [users])
#   args      => [...] extra CLI args (e.g. -v)
#   expect_fail => 1  do not wait for the port (for config-error tests)
sub start_weir {
    my ($self, %o) = @_;
    my $n = ++$self->{nweir};
    my $dir = "$self->{tmp}/weir$n";
    mkdir $dir or die "mkdir $dir: $!";
    my $port = $o{port} // free_port();
    my %users = %{ $o{users} // { app => 'apppass', forced => 'forcedpass' } };
    my $authfile = "$dir/userlist.txt";
    spew($authfile, $o{raw_users} // join('', map { qq{"$_" "$users{$_}"\n} } sort keys %users));
    my %dbs = (
        testdb => "host=127.0.0.1 port=$self->{pgport} dbname=testdb",
        postgres => "host=127.0.0.1 port=$self->{pgport} dbname=postgres",
        forceddb => "host=127.0.0.1 port=$self->{pgport} dbname=testdb user=forced "
            . "password=forcedpass pool_size=3",
        %{ $o{databases} // {} },
    );
    my %weir = (
        listen_addr => '127.0.0.1',
        listen_port => $port,
        unix_socket_dir => $dir,    # its own directory: parallel tests never share /tmp's names
        auth_type => 'md5',
        auth_file => $authfile,
        pool_mode => 'session',
        default_pool_size => 20,
        max_client_conn => 10000,
        workers => 2,
        server_reset_query => 'DISCARD ALL',
        client_login_timeout => 60,
        query_wait_timeout => 120,
        server_connect_timeout => 15,
        log_connections => 1,
        log_disconnections => 1,
        verbose => 0,
        %{ $o{weir} // {} },
    );
    my $conf = "[databases]\n";
    $conf .= "$_ = $dbs{$_}\n" for grep { defined $dbs{$_} } sort keys %dbs;
    $conf .= "\n[weir]\n";
    $conf .= "$_ = $weir{$_}\n" for grep { defined $weir{$_} } sort keys %weir;
    for my $sec (sort keys %{ $o{sections} // {} }) {
        my $h = $o{sections}{$sec};
        $conf .= "\n[$sec]\n";
        $conf .= "$_ = $h->{$_}\n" for sort keys %$h;
    }
    my $conffile = "$dir/weir.ini";
    spew($conffile, $conf);
    my $w = bless { t => $self, dir => $dir, port => $port, conf => $conffile,
        log => "$dir/weir.log", name => "weir$n" }, 'WeirTest::Weir';
    my $bin = weir_bin();
    die "weir binary $bin not found (build it or set WEIR_BIN)" unless -x $bin;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $w->{log} or POSIX::_exit(126);
        open STDERR, '>>', $w->{log} or POSIX::_exit(126);
        exec { $bin } $bin, @{ $o{args} // [] }, $conffile or POSIX::_exit(127);
    }
    $w->{pid} = $pid;
    push @{ $self->{weirs} }, $w;
    return $w if $o{expect_fail};
    my $ok = wait_until(20, sub {
        return 1 if $w->_reap;    # exited: stop waiting
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0;
    });
    # A connect can also succeed on someone else's listener when weir failed to bind the
    # port: make sure weir is still alive a moment later.
    sleep 0.2 if $ok && !$w->{exited};
    if (!$ok || $w->_reap) {
        my $log = slurp($w->{log});
        $w->kill_hard;
        $w->{log_shown} = 1;
        # The port picked by free_port() can be taken by someone else before weir binds it.
        if (!$o{port} && ($o{_attempt} // 1) < 3 && $log =~ /in use/i) {
            diag("weir could not bind port $port, retrying on another port");
            return $self->start_weir(%o, _attempt => ($o{_attempt} // 1) + 1);
        }
        diag("weir did not start (exit status " . ($w->{status} // 'none') . "); log:\n$log");
        die "weir failed to start";
    }
    return $w;
}

sub DESTROY { }

sub cleanup {
    my ($self, $exit_code) = @_;
    return if $self->{cleaned}++;
    my $failing = !Test::More->builder->is_passing || ($exit_code // 0) != 0;
    for my $w (@{ $self->{weirs} }) {
        if ($failing && !$w->{log_shown} && !$w->{stopped}) {
            # A test died or failed: show what the weirs not yet stopped (and checked) said.
            my @lines = split /\n/, $w->log_text;
            my $from = @lines > 30 ? @lines - 30 : 0;
            diag("$w->{name} log tail ($w->{log}):\n" . join("\n", @lines[$from .. $#lines]))
                if @lines;
        }
        $w->kill_hard if $w->{pid} && !$w->{exited};
    }
    if ($self->{count_dbh}) { eval { $self->{count_dbh}->disconnect }; }
    $self->_stop_pg;
    if ($ENV{WEIR_KEEP_TMP}) {
        diag("kept $self->{tmp}");
    } else {
        # PostgreSQL's children may still be exiting for a moment after pg_ctl returns.
        for (1 .. 20) {
            remove_tree($self->{tmp}, { error => \my $err });
            last unless -e $self->{tmp};
            sleep 0.1;
        }
    }
}

END {
    my $rc = $?;
    if ($$ == $OWNER_PID) {
        # Interrupted inside run_cmd: its command runs in its own process group.
        for my $pid (keys %RUNNING) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            remove_tree($RUNNING{$pid});
        }
        $_->cleanup($rc) for @INSTANCES;
    }
    $? = $rc;
}

$SIG{INT} = $SIG{TERM} = sub { die "interrupted by signal\n" };
$SIG{PIPE} = 'IGNORE';    # writes to a socket weir closed must not kill the test

# spawn(sub { ... }) -> pid of a forked child that runs the sub and exits 0 when it returns
# true, 1 otherwise (errors are printed to STDERR). The child never runs END blocks.
sub spawn {
    my ($code) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    $SIG{INT} = $SIG{TERM} = 'DEFAULT';
    my $ok = eval { $code->() };
    print STDERR "child $$: $@" if $@;
    POSIX::_exit($ok ? 0 : 1);
}

# wait_children(\@pids, $timeout, $tick) -> { pid => exit status (or 'timeout') }; calls
# $tick->() every ~20 ms while waiting (e.g. to sample pg_stat_activity). Children still
# running at the timeout are killed.
sub wait_children {
    my ($pids, $timeout, $tick) = @_;
    my %left = map { $_ => 1 } @$pids;
    my %st;
    my $deadline = time + $timeout;
    while (%left && time < $deadline) {
        for my $pid (keys %left) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) {
                $st{$pid} = ($? & 127) ? 128 + ($? & 127) : $? >> 8;
                delete $left{$pid};
            }
        }
        last unless %left;
        $tick->() if $tick;
        sleep 0.02;
    }
    for my $pid (keys %left) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $st{$pid} = 'timeout';
    }
    return \%st;
}

# ---- raw protocol helpers ---------------------------------------------------------------

# startup_packet(user => .., database => .., version => 196608, extra => {..})
sub startup_packet {
    my (%o) = @_;
    my $body = pack('N', $o{version} // 196608);
    my %p = (user => $o{user} // 'app', database => $o{database} // 'testdb',
        %{ $o{extra} // {} });
    $body .= "$_\0$p{$_}\0" for grep { defined $p{$_} } sort keys %p;
    $body .= "\0";
    return pack('N', 4 + length $body) . $body;
}

sub ssl_request_packet { return pack('NN', 8, 80877103) }
sub gssenc_request_packet { return pack('NN', 8, 80877104) }
sub cancel_packet { my ($pid, $key) = @_; return pack('NNNN', 16, 80877102, $pid, $key) }

# read_exact($sock, $n, $deadline) -> bytes (shorter on EOF/timeout)
sub read_exact {
    my ($sock, $n, $deadline) = @_;
    my $buf = '';
    my $sel = IO::Select->new($sock);
    while (length $buf < $n) {
        my $left = $deadline - time;
        last if $left <= 0;
        last unless $sel->can_read($left);
        my $r = sysread($sock, $buf, $n - length $buf, length $buf);
        last unless $r;
    }
    return $buf;
}

# read_msg($sock, $timeout) -> (type, body) or () on EOF/timeout. read_msg(.., 1 byte) for
# answers without a length ('N'/'S' to SSLRequest): use read_byte.
sub read_msg {
    my ($sock, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    my $hdr = read_exact($sock, 5, $deadline);
    return () unless length $hdr == 5;
    my ($type, $len) = unpack('aN', $hdr);
    return ($type, undef) if $len < 4 || $len > 200_000_000;
    my $body = read_exact($sock, $len - 4, $deadline);
    return () unless length $body == $len - 4;
    return ($type, $body);
}

sub read_byte {
    my ($sock, $timeout) = @_;
    my $b = read_exact($sock, 1, time + ($timeout // 10));
    return length $b ? $b : undef;
}

# parse_error_fields($body) -> { S => 'FATAL', C => '28P01', M => '...' , ...}
sub parse_error_fields {
    my ($body) = @_;
    my %f;
    for my $field (split /\0/, $body // '') {
        next unless length $field;
        $f{ substr($field, 0, 1) } = substr($field, 1);
    }
    return \%f;
}

# sock_closed($sock, $timeout) -> true when the peer closed (EOF/ECONNRESET) within timeout;
# any data received before the EOF is discarded.
sub sock_closed {
    my ($sock, $timeout) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    while (1) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        next unless $sel->can_read($left);
        my $buf;
        my $r = sysread($sock, $buf, 65536);
        return 1 if !defined $r || $r == 0;
    }
}

# raw_login($sock, user =>, password =>, database =>, timeout =>, extra => {}, version =>)
#   -> { ok => 1, params => {..}, pid =>, key =>, auth => code }   logged in, ReadyForQuery seen
#      (negotiate => { minor =>, options => [..] } when NegotiateProtocolVersion came)
#   or { error => {S=>..,C=>..,M=>..} }                              ErrorResponse received
#   or { closed => 1 } / { unexpected => type }
# Speaks protocol 3.0 and answers cleartext (3), md5 (5) and SCRAM-SHA-256 (10) requests.
sub raw_login {
    my ($sock, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $user = $o{user} // 'app';
    my $pass = $o{password} // 'apppass';
    syswrite($sock, startup_packet(user => $user, database => $o{database} // 'testdb',
            extra => $o{extra}, version => $o{version}));
    my %res = (params => {});
    my $scram;
    while (1) {
        my ($type, $body) = read_msg($sock, $timeout);
        return { closed => 1, %res } unless defined $type;
        if ($type eq 'E') {
            return { error => parse_error_fields($body), %res };
        } elsif ($type eq 'R') {
            my $code = unpack('N', $body);
            $res{auth} //= $code;
            if ($code == 0) {
                next;
            } elsif ($code == 3) {
                syswrite($sock, pg_msg('p', "$pass\0"));
            } elsif ($code == 5) {
                my $salt = substr($body, 4, 4);
                my $h = 'md5' . md5_hex(md5_hex($pass . $user) . $salt);
                syswrite($sock, pg_msg('p', "$h\0"));
            } elsif ($code == 10) {
                my $mechs = substr($body, 4);
                return { unexpected => "SASL mechanisms $mechs", %res }
                    unless $mechs =~ /SCRAM-SHA-256\0/;
                $scram = { nonce => join('', map { chr(65 + int rand 26) } 1 .. 24) };
                $scram->{first_bare} = "n=,r=$scram->{nonce}";
                my $data = "n,,$scram->{first_bare}";
                syswrite($sock, pg_msg('p', "SCRAM-SHA-256\0" . pack('N', length $data) . $data));
            } elsif ($code == 11) {
                my $server_first = substr($body, 4);
                my %a = map { split /=/, $_, 2 } split /,/, $server_first;
                return { unexpected => 'bad SCRAM nonce', %res }
                    unless index($a{r}, $scram->{nonce}) == 0;
                my $salted = _pbkdf2_sha256($pass, decode_base64($a{s}), $a{i});
                my $client_key = hmac_sha256('Client Key', $salted);
                my $stored_key = sha256($client_key);
                my $final_wo_proof = "c=biws,r=$a{r}";
                my $auth_msg = "$scram->{first_bare},$server_first,$final_wo_proof";
                my $sig = hmac_sha256($auth_msg, $stored_key);
                my $proof = $client_key ^ $sig;
                syswrite($sock, pg_msg('p', "$final_wo_proof,p=" . encode_base64($proof, '')));
            } elsif ($code == 12) {
                next;
            } else {
                return { unexpected => "auth code $code", %res };
            }
        } elsif ($type eq 'S') {
            my ($k, $v) = split /\0/, $body;
            $res{params}{$k} = $v;
        } elsif ($type eq 'K') {
            @res{qw(pid key)} = unpack('NN', $body);
        } elsif ($type eq 'Z') {
            return { ok => 1, %res };
        } elsif ($type eq 'N') {
            next;
        } elsif ($type eq 'v') {    # NegotiateProtocolVersion: minor, then option names
            my ($minor, $n) = unpack('NN', $body);
            $res{negotiate} = { minor => $minor,
                options => [ grep { length } split /\0/, substr($body, 8) ] };
        } else {
            return { unexpected => $type, %res };
        }
    }
}

sub _pbkdf2_sha256 {
    my ($pass, $salt, $iter) = @_;
    my $u = hmac_sha256($salt . pack('N', 1), $pass);
    my $r = $u;
    for (2 .. $iter) {
        $u = hmac_sha256($u, $pass);
        $r ^= $u;
    }
    return $r;
}

# pg_msg($type, $body) -> a typed protocol message
sub pg_msg { my ($type, $body) = @_; return $type . pack('N', 4 + length $body) . $body; }

# raw_query($sock, $sql, $timeout) -> { rows => [[..]], error => {..}, status => 'I' } after Z,
# or { closed => 1 }.
sub raw_query {
    my ($sock, $sql, $timeout) = @_;
    syswrite($sock, pg_msg('Q', "$sql\0"));
    my %r = (rows => []);
    while (1) {
        my ($type, $body) = read_msg($sock, $timeout // 10);
        return { closed => 1, %r } unless defined $type;
        if ($type eq 'D') {
            my $n = unpack('n', $body);
            my $pos = 2;
            my @row;
            for (1 .. $n) {
                my $len = unpack('l>', substr($body, $pos, 4));
                $pos += 4;
                if ($len < 0) { push @row, undef; next }
                push @row, substr($body, $pos, $len);
                $pos += $len;
            }
            push @{ $r{rows} }, \@row;
        } elsif ($type eq 'E') {
            $r{error} = parse_error_fields($body);
        } elsif ($type eq 'Z') {
            $r{status} = $body;
            return \%r;
        }
    }
}

# ---- weir instance ----------------------------------------------------------------------
package WeirTest::Weir;

use strict;
use warnings;
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub log_file { $_[0]{log} }
sub log_text { WeirTest::slurp($_[0]{log}) }

# log_like(qr/.../, $name, $secs): a test that passes once the log matches, waiting up to $secs
# (default 15) for a line weir writes after what the test itself saw (a cancel's answer, a
# host's new role, a connection closed on a slow machine).
sub log_like {
    my ($self, $re, $name, $secs) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = WeirTest::wait_until($secs // 15, sub { ($self->log_text // '') =~ $re });
    return ok($ok, $name) || (diag("the log of $self->{name} never matched $re"), 0);
}

sub _reap {
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

sub alive { my ($self) = @_; return !$self->_reap; }

# psql($sql|\@sqls, user =>, password =>, db =>, timeout =>) -> ($out, $err, $rc, $timed_out)
sub psql {
    my ($self, $sql, %o) = @_;
    return WeirTest::_psql('127.0.0.1', $self->{port}, $sql, %o);
}

# dbi(user =>, password =>, db =>, attr => {}) -> DBI handle or undef ($DBI::errstr)
sub dbi {
    my ($self, %o) = @_;
    my $db = $o{db} // 'testdb';
    my $user = $o{user} // 'app';
    my $pass = $o{password} // ($user eq 'forced' ? 'forcedpass' : 'apppass');
    my $ct = $o{connect_timeout} // 10;
    my $app = $o{appname} // 'weirtest';
    return DBI->connect("dbi:Pg:host=127.0.0.1;port=$self->{port};dbname=$db;"
            . "sslmode=disable;connect_timeout=$ct;application_name=$app",
        $user, $pass, { RaiseError => 0, PrintError => 0, AutoCommit => 1, %{ $o{attr} // {} } });
}

sub socket {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
        Proto => 'tcp', Timeout => 5) or die "connect to weir: $!";
    binmode $s;
    $s->autoflush(1);
    return $s;
}

# Send SIGQUIT (exit now; signal => 'TERM' waits for clients), wait for exit (timeout s),
# check exit status and log. Returns true if clean.
sub stop {
    my ($self, %o) = @_;
    my $timeout = $o{timeout} // 20;
    my $sig = $o{signal} // 'QUIT';
    my $name = $o{name} // "$self->{name} stopped cleanly";
    unless ($self->_reap) {
        kill $sig, $self->{pid};
        unless (WeirTest::wait_until($timeout, sub { $self->_reap }, 0.05)) {
            diag("$self->{name} did not exit within ${timeout}s after SIG$sig; killing");
            $self->kill_hard;
            $self->{status} = -1;
        }
    }
    $self->{stopped} = 1;
    return $self->check_log(name => $name, status => $self->{status});
}

# check_log(status => $?) -> ok() on: no sanitizer report in the log, exit status 0.
sub check_log {
    my ($self, %o) = @_;
    my $log = $self->log_text;
    my @bad = grep { /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|ThreadSanitizer: reported/ }
        split /\n/, $log;
    my $st = $o{status};
    my $status_ok = !defined($st) || $st == 0;
    my $ok = ok(!@bad && $status_ok, $o{name} // "$self->{name} log clean");
    unless ($ok) {
        $self->{log_shown} = 1;
        diag("$self->{name}: exit status " . (defined $st ? ($st & 127 ? 'signal ' . ($st & 127) : $st >> 8) : 'n/a'));
        diag("$self->{name}: sanitizer report lines:\n" . join("\n", @bad)) if @bad;
        my @lines = split /\n/, $log;
        my $from = @lines > 40 ? @lines - 40 : 0;
        diag("$self->{name}: log tail:\n" . join("\n", @lines[$from .. $#lines]));
        if (@bad) {
            # Show the first report in full (it is usually above the tail).
            my $i = 0;
            $i++ while $i < @lines && $lines[$i] !~ /Sanitizer|runtime error:/;
            my $to = $i + 60 < $#lines ? $i + 60 : $#lines;
            diag("$self->{name}: first report:\n" . join("\n", @lines[$i .. $to]));
        }
    }
    return $ok;
}

sub kill_hard {
    my ($self) = @_;
    return if $self->_reap;
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{exited} = 1;
}

1;
