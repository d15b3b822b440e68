# MyTest.pm -- integration-test harness for weir's MySQL/MariaDB side: a throwaway MariaDB
# (Debian's mariadb-server) per test file on 127.0.0.1, weir instances with backend=mysql
# databases in front of it, and helpers to talk to both (the mariadb CLI, DBD::MariaDB,
# sysbench, raw MySQL-protocol sockets). Built on WeirTest.pm (run_cmd, free_port,
# wait_until, spawn, ... and WeirTest::Weir for stopping weir and checking its log).
#
# Usage (from tests/integration/t2N_*.t):
#   use FindBin; use lib $FindBin::Bin; use WeirTest; use MyTest;
#   my $m = MyTest->new;                                  # starts MariaDB, users, db shop
#   my $w = $m->start_weir(weir => { default_pool_size => 4 });
#   my ($out, $err, $rc) = $w->mariadb('SELECT 1');      # through weir's MySQL port
#   my ($dout) = $m->mariadb('SELECT 1');                # direct to MariaDB
#   my $n = $m->count_backends;                           # weir's connections (user app)
#   $w->stop;                                             # fails the test on sanitizer reports
#
# MariaDB: users app/apppass and forced/forcedpass (mysql_native_password, @'%' and
# @'localhost'), database shop with all privileges for both. root has no password and is used
# only over the unix socket (admin_dbi, admin_sql, monitor). max_allowed_packet = 64M.
#
# As root, mariadbd runs as the 'mysql' system user (--user=mysql; it refuses root without
# it); the data and run directories are chowned to it. As a normal user --user is omitted.
#
# Environment: WEIR_BIN (as WeirTest), MARIADBD (default mariadbd from PATH or /usr/sbin),
# WEIR_KEEP_TMP=1 keeps the temp dir.
package MyTest;

use strict;
use warnings;
use Test::More;
use WeirTest;
use File::Temp qw(tempdir);
use File::Path qw(remove_tree);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Digest::SHA qw(sha1);
use Digest::MD5 qw(md5_hex);
use DBI;
use Exporter 'import';

our @EXPORT = qw(my_packet my_read_packet my_parse_greeting my_parse_err my_native_scramble
    my_handshake_response my_connect my_login my_query my_read_result my_lenenc_int my_lenenc_str
    parse_sysbench mariadb_err_code);

our $IS_ROOT = ($> == 0);
our $MARIADB_USER = 'mysql';    # system user mariadbd runs as when we are root

# Capability flags (client/server)
use constant {
    CLIENT_LONG_PASSWORD => 0x1, CLIENT_FOUND_ROWS => 0x2, CLIENT_LONG_FLAG => 0x4,
    CLIENT_CONNECT_WITH_DB => 0x8, CLIENT_PROTOCOL_41 => 0x200, CLIENT_SSL => 0x800,
    CLIENT_TRANSACTIONS => 0x2000, CLIENT_SECURE_CONNECTION => 0x8000,
    CLIENT_MULTI_STATEMENTS => 0x10000, CLIENT_MULTI_RESULTS => 0x20000,
    CLIENT_PLUGIN_AUTH => 0x80000, CLIENT_CONNECT_ATTRS => 0x100000,
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA => 0x200000, CLIENT_SESSION_TRACK => 0x800000,
    CLIENT_DEPRECATE_EOF => 0x1000000, SERVER_MORE_RESULTS_EXISTS => 0x8,
    # MariaDB extended capabilities (sent in the last 4 filler bytes when CLIENT_MYSQL = bit 0
    # is clear)
    MARIADB_CLIENT_PROGRESS => 0x1, MARIADB_CLIENT_STMT_BULK_OPERATIONS => 0x4,
    MARIADB_CLIENT_EXTENDED_METADATA => 0x8, MARIADB_CLIENT_CACHE_METADATA => 0x10,
};

my @INSTANCES;              # MyTest objects to clean up at exit
my $OWNER_PID = $$;

sub mariadbd_bin {
    return $ENV{MARIADBD} if $ENV{MARIADBD};
    for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/local/sbin') {
        return "$d/mariadbd" if -x "$d/mariadbd";
    }
    return '/usr/sbin/mariadbd';
}

# MyTest->new(%opts): start MariaDB on 127.0.0.1 and create users/databases.
#   max_connections    => N   (default 300)
#   max_allowed_packet => '64M'
#   mysqld_args        => [...] extra mariadbd options
sub new {
    my ($class, %o) = @_;
    my $self = bless { opts => \%o, weirs => [] }, $class;
    push @INSTANCES, $self;
    $self->{tmp} = tempdir('weirmy.XXXXXX', DIR => '/tmp', CLEANUP => 0);
    chmod 0755, $self->{tmp};
    $self->{datadir} = "$self->{tmp}/data";
    $self->{rundir} = "$self->{tmp}/run";    # socket, pid file, error log
    mkdir $self->{datadir} or die "mkdir: $!";
    mkdir $self->{rundir} or die "mkdir: $!";
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam($MARIADB_USER))[2, 3];
        die "no $MARIADB_USER system user (install mariadb-server)" unless defined $uid;
        chown $uid, $gid, $self->{datadir}, $self->{rundir};
    }
    $self->{sock} = "$self->{rundir}/my.sock";
    $self->{errlog} = "$self->{rundir}/mariadb.err";
    $self->{port} = free_port();
    my $t0 = time;
    $self->_install_db;
    $self->_start_server;
    $self->_setup_users;
    $self->{startup_s} = time - $t0;
    return $self;
}

sub tmp  { $_[0]{tmp} }
sub port { $_[0]{port} }
sub sock { $_[0]{sock} }
sub errlog_text { WeirTest::slurp($_[0]{errlog}) }

sub _user_args { return $IS_ROOT ? ("--user=$MARIADB_USER") : () }

# mariadb-install-db's bootstrap has been seen to die of a signal 11 on a busy machine (in
# ha_maria::drop_table, cleaning up a temporary table it failed to create): that is MariaDB's,
# not what a test looks at, so a crashed bootstrap is tried once more on an empty datadir.
sub _install_db {
    my ($self) = @_;
    for my $attempt (1 .. 2) {
        my ($out, $err, $rc) = run_cmd(['mariadb-install-db', '--no-defaults',
                '--auth-root-authentication-method=normal', "--datadir=$self->{datadir}",
                '--skip-test-db', _user_args()], timeout => 180, cwd => $self->{tmp});
        return unless $rc;
        if ($attempt < 2 && "$out$err" =~ /got signal \d+/) {
            diag("mariadb-install-db crashed (" . ("$out$err" =~ /(got signal \d+)/)[0]
                . '), trying once more');
            remove_tree($self->{datadir}, { keep_root => 1 });
            next;
        }
        die "mariadb-install-db failed ($rc): $out\n$err";
    }
}

sub _server_argv {
    my ($self) = @_;
    my $o = $self->{opts};
    return (mariadbd_bin(), '--no-defaults', "--datadir=$self->{datadir}",
        "--socket=$self->{sock}", "--port=$self->{port}", '--bind-address=127.0.0.1',
        '--skip-grant-tables=0', "--pid-file=$self->{rundir}/mariadbd.pid",
        "--log-error=$self->{errlog}", _user_args(), '--skip-log-bin',
        '--skip-name-resolve', '--innodb-buffer-pool-size=64M',
        '--innodb-flush-log-at-trx-commit=0', '--innodb-log-file-size=64M',
        '--max-connections=' . ($o->{max_connections} // 300),
        '--max-allowed-packet=' . ($o->{max_allowed_packet} // '64M'),
        @{ $o->{mysqld_args} // [] });
}

sub _start_server {
    my ($self) = @_;
    for my $attempt (1 .. 3) {
        my @argv = $self->_server_argv;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            setpgrp(0, 0);
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$self->{tmp}/mariadbd.out" or POSIX::_exit(126);
            open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
            chdir $self->{tmp};
            exec { $argv[0] } @argv or POSIX::_exit(127);
        }
        $self->{pid} = $pid;
        my $up = wait_until(90, sub {
            return 1 if $self->_reap_server;
            my (undef, undef, $rc) = run_cmd(['mariadb-admin', '--no-defaults',
                    "--socket=$self->{sock}", '-uroot', '--connect-timeout=2', 'ping'],
                timeout => 10);
            return $rc == 0;
        }, 0.2);
        if ($up && !$self->{server_exited}) {
            $self->{running} = 1;
            return;
        }
        my $log = $self->errlog_text . WeirTest::slurp("$self->{tmp}/mariadbd.out");
        $self->_kill_server;
        if ($attempt < 3 && $log =~ /Bind on TCP\/IP port|Address already in use/i) {
            $self->{port} = free_port();    # someone took the port: take another one
            next;
        }
        diag("mariadbd log:\n$log");
        die "mariadbd did not start";
    }
}

sub _reap_server {
    my ($self) = @_;
    return 1 if $self->{server_exited} || !$self->{pid};
    my $r = waitpid($self->{pid}, WNOHANG);
    if ($r == $self->{pid}) {
        $self->{server_exited} = 1;
        $self->{server_status} = $?;
        return 1;
    }
    return 0;
}

sub _kill_server {
    my ($self) = @_;
    return if !$self->{pid} || $self->_reap_server;
    kill 'KILL', -$self->{pid};
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{server_exited} = 1;
}

# stop_server: mariadb-admin shutdown, then SIGTERM, then SIGKILL.
sub stop_server {
    my ($self) = @_;
    return unless $self->{running};
    $self->{running} = 0;
    if ($self->{mon}) { eval { $self->{mon}->disconnect }; delete $self->{mon}; }
    run_cmd(['mariadb-admin', '--no-defaults', "--socket=$self->{sock}", '-uroot',
            '--connect-timeout=5', 'shutdown'], timeout => 40);
    return if wait_until(30, sub { $self->_reap_server }, 0.1);
    kill 'TERM', $self->{pid};
    return if wait_until(30, sub { $self->_reap_server }, 0.1);
    diag('mariadbd did not stop; killing it');
    $self->_kill_server;
}

# restart_server: stop and start again, same data directory and port.
sub restart_server {
    my ($self) = @_;
    $self->stop_server;
    delete $self->{server_exited};
    $self->_start_server;
}

# admin_sql($sql) -> ($out, $err, $rc): mariadb CLI as root over the unix socket, batch mode.
sub admin_sql {
    my ($self, $sql, %o) = @_;
    return run_cmd(['mariadb', '--no-defaults', "--socket=$self->{sock}", '-uroot', '-N', '-B',
            @{ $o{args} // [] }, '-e', $sql], timeout => $o{timeout} // 60, stdin => $o{stdin});
}

sub _setup_users {
    my ($self) = @_;
    my $sql = "CREATE DATABASE shop;\n";
    for my $u (['app', 'apppass'], ['forced', 'forcedpass']) {
        my ($n, $p) = @$u;
        for my $h ('%', 'localhost') {
            $sql .= "CREATE USER '$n'\@'$h' IDENTIFIED VIA mysql_native_password "
                . "USING PASSWORD('$p');\n";
            $sql .= "GRANT ALL ON shop.* TO '$n'\@'$h';\n";
        }
    }
    # the processlist of other users' sessions is what count_backends reads as root;
    # app itself only needs its own database.
    $sql .= "FLUSH PRIVILEGES;\n";
    my ($out, $err, $rc) = $self->admin_sql($sql);
    die "creating users failed ($rc): $err" if $rc;
}

# admin_dbi -> DBD::MariaDB handle as root over the unix socket.
sub admin_dbi {
    my ($self, $db) = @_;
    $db //= 'shop';
    return DBI->connect("dbi:MariaDB:database=$db;mariadb_socket=$self->{sock}", 'root', '',
        { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

# dbi(port =>, user =>, password =>, db =>, attr => {}, dsn_extra => 'k=v;...')
#   -> DBD::MariaDB handle over TCP (direct to MariaDB unless port is given), or undef.
sub dbi {
    my ($self, %o) = @_;
    return _dbi($o{port} // $self->{port}, %o);
}

sub _dbi {
    my ($port, %o) = @_;
    my $db = $o{db} // 'shop';
    my $user = $o{user} // 'app';
    my $pass = $o{password} // ($user eq 'forced' ? 'forcedpass' : 'apppass');
    my $ct = $o{connect_timeout} // 10;
    my $dsn = "dbi:MariaDB:host=127.0.0.1;port=$port;mariadb_connect_timeout=$ct";
    $dsn .= ";database=$db" if length $db;
    $dsn .= ";$o{dsn_extra}" if $o{dsn_extra};
    return DBI->connect($dsn, $user, $pass,
        { RaiseError => 0, PrintError => 0, AutoCommit => 1, %{ $o{attr} // {} } });
}

# mariadb($sql, %o) -> ($stdout, $stderr, $rc, $timed_out): the mariadb CLI direct to
# MariaDB over TCP as app (see _mariadb_cli for options).
sub mariadb {
    my ($self, $sql, %o) = @_;
    return _mariadb_cli($self->{port}, $sql, %o);
}

# _mariadb_cli($port, $sql, user =>, password =>, db =>, args => [...], stdin =>, timeout =>,
#   batch => 1 (default: -B -N, tab-separated, no column names), max_packet => '64M')
# $sql may be undef (statements from stdin). The CLI splits -e text on ';' and sends each
# statement alone; pass args => ['--delimiter=//'] to send "A; B" as one COM_QUERY.
sub _mariadb_cli {
    my ($port, $sql, %o) = @_;
    my $user = $o{user} // 'app';
    my $pass = exists $o{password} ? $o{password}
        : ($user eq 'forced' ? 'forcedpass' : 'apppass');
    my @argv = ('mariadb', '--no-defaults', '-h', '127.0.0.1', '-P', $port, '--protocol=TCP',
        '-u', $user, '--connect-timeout=' . ($o{connect_timeout} // 10),
        '--max-allowed-packet=' . ($o{max_packet} // '64M'));
    push @argv, "-p$pass" if defined $pass && length $pass;
    push @argv, ('-B', '-N') if $o{batch} // 1;
    push @argv, @{ $o{args} } if $o{args};
    push @argv, '-e', $sql if defined $sql;
    my $db = exists $o{db} ? $o{db} : 'shop';
    push @argv, $db if defined $db;
    return run_cmd(\@argv, timeout => $o{timeout} // 60, stdin => $o{stdin});
}

# mariadb_err_code($stderr) -> the MySQL error number the CLI printed ("ERROR 1045 (28000)"),
# or undef.
sub mariadb_err_code {
    my ($err) = @_;
    return $1 if ($err // '') =~ /ERROR (\d+)/;
    return undef;
}

sub _mon {
    my ($self) = @_;
    my $m = $self->{mon};
    undef $m if $m && !eval { $m->ping };
    $m //= eval { $self->admin_dbi };
    $self->{mon} = $m;
    return $m;
}

# count_backends(user => 'app' | [users], db => 'shop') -> number of sessions MariaDB has for
# those users (weir's backend connections, plus any direct connection of the test as that
# user: keep none open while counting). The monitor connection (root) is not counted.
# Returns -1 if the monitor query failed.
sub count_backends {
    my ($self, %o) = @_;
    my $users = $o{user} // 'app';
    $users = [$users] unless ref $users;
    my $m = $self->_mon or return -1;
    my $ph = join(',', ('?') x @$users);
    my $sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN ($ph) "
        . "AND COMMAND <> 'Daemon' AND ID <> CONNECTION_ID()";
    my @bind = @$users;
    if (defined $o{db}) { $sql .= ' AND DB = ?'; push @bind, $o{db} }
    my ($n) = eval { $m->selectrow_array($sql, undef, @bind) };
    return defined $n ? $n : -1;
}

# backends(user => 'app') -> rows of the processlist for that user (hashrefs: ID, USER, HOST,
# DB, COMMAND, TIME, STATE, INFO), monitor excluded.
sub backends {
    my ($self, %o) = @_;
    my $m = $self->_mon or return [];
    return eval {
        $m->selectall_arrayref(q{SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO
            FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND <> 'Daemon'
              AND ID <> CONNECTION_ID() ORDER BY ID}, { Slice => {} }, $o{user} // 'app')
    } // [];
}

# backends_text(user => 'app') -> the same rows, one short line each (for diag).
sub backends_text {
    my ($self, %o) = @_;
    return join("\n", map {
            sprintf('  id %s %s %s %ss db=%s%s', $_->{ID}, $_->{HOST} // '', $_->{COMMAND} // '',
                $_->{TIME} // '', $_->{DB} // 'NULL',
                defined $_->{INFO} ? " info=$_->{INFO}" : '')
        } @{ $self->backends(%o) });
}

# sysbench(test => 'oltp_point_select', cmd => 'run'|'prepare'|'cleanup', port =>, db =>,
#   user =>, password =>, threads =>, time =>, ps => 1|0, tables =>, table_size =>,
#   args => [...], timeout =>) -> ($out, $err, $rc, $stats)
# port defaults to MariaDB's (a direct run). $stats from parse_sysbench.
sub sysbench {
    my ($self, %o) = @_;
    return _sysbench($o{port} // $self->{port}, %o);
}

sub _sysbench {
    my ($port, %o) = @_;
    my $user = $o{user} // 'app';
    my @argv = ('sysbench', $o{test} // 'oltp_point_select', '--db-driver=mysql',
        '--mysql-host=127.0.0.1', "--mysql-port=$port", "--mysql-user=$user",
        '--mysql-password=' . ($o{password} // ($user eq 'forced' ? 'forcedpass' : 'apppass')),
        '--mysql-db=' . ($o{db} // 'shop'), '--tables=' . ($o{tables} // 2),
        '--table-size=' . ($o{table_size} // 1000));
    my $cmd = $o{cmd} // 'run';
    if ($cmd eq 'run') {
        push @argv, '--threads=' . ($o{threads} // 8), '--time=' . ($o{time} // 8),
            '--report-interval=0';
        push @argv, '--db-ps-mode=disable' if defined $o{ps} && !$o{ps};
    }
    push @argv, @{ $o{args} // [] }, $cmd;
    my ($out, $err, $rc, $to) = run_cmd(\@argv, timeout => $o{timeout} // (($o{time} // 8) + 120));
    return ($out, $err, $to ? 'timeout' : $rc, parse_sysbench($out));
}

# parse_sysbench($stdout) -> { queries =>, qps =>, tps =>, ignored_errors =>, reconnects => }
# (keys missing when the report is missing).
sub parse_sysbench {
    my ($out) = @_;
    my %s;
    $s{queries} = $1, $s{qps} = $2 if $out =~ /^\s*queries:\s+(\d+)\s+\(([\d.]+) per sec/m;
    $s{transactions} = $1, $s{tps} = $2
        if $out =~ /^\s*transactions:\s+(\d+)\s+\(([\d.]+) per sec/m;
    $s{ignored_errors} = $1 if $out =~ /^\s*ignored errors:\s+(\d+)/m;
    $s{reconnects} = $1 if $out =~ /^\s*reconnects:\s+(\d+)/m;
    return \%s;
}

# start_weir(%o) -> MyTest::Weir, running and accepting on its MySQL port.
#   weir      => { key => value } overrides of the [weir] section
#   databases => { name => 'connstr' } replaces/extends the default [databases] entries:
#       shop       = backend=mysql host=127.0.0.1 port=<mariadb> dbname=shop
#       shopforced = the same with user=forced password=forcedpass
#   pg        => $weirtest   a WeirTest (PostgreSQL) whose testdb/postgres entries to add
#   users     => { user => secret } auth file contents (default app/forced plain passwords)
#   raw_users => "text" literal auth file contents
#   sections  => { name => { k => v } } extra sections
#   args      => [...] extra CLI args
#   expect_fail => 1  do not wait for the port
sub start_weir {
    my ($self, %o) = @_;
    my $n = ++$self->{nweir};
    my $dir = "$self->{tmp}/weir$n";
    mkdir $dir or die "mkdir $dir: $!";
    my $port = $o{port} // free_port();
    my $myport = $o{mysql_port} // free_port();
    $myport = free_port() while $myport == $port;
    my %users = %{ $o{users} // { app => 'apppass', forced => 'forcedpass' } };
    my $authfile = "$dir/userlist.txt";
    spew($authfile, $o{raw_users} // join('', map { qq{"$_" "$users{$_}"\n} } sort keys %users));
    my %dbs = (
        shop => "backend=mysql host=127.0.0.1 port=$self->{port} dbname=shop",
        shopforced => "backend=mysql host=127.0.0.1 port=$self->{port} dbname=shop "
            . "user=forced password=forcedpass",
    );
    if (my $pg = $o{pg}) {
        my $pp = $pg->pgport;
        $dbs{testdb} = "host=127.0.0.1 port=$pp dbname=testdb";
        $dbs{postgres} = "host=127.0.0.1 port=$pp dbname=postgres";
    }
    %dbs = (%dbs, %{ $o{databases} // {} });
    my %weir = (
        listen_addr => '127.0.0.1',
        listen_port => $port,
        mysql_listen_port => $myport,
        unix_socket_dir => $dir,    # its own directory: parallel tests never share /tmp's names
        auth_type => 'md5',
        auth_file => $authfile,
        pool_mode => 'session',
        default_pool_size => 20,
        max_client_conn => 10000,
        workers => 2,
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
    my $w = bless { t => $self, dir => $dir, port => $port, mysql_port => $myport,
        conf => $conffile, log => "$dir/weir.log", name => "weir$n" }, 'MyTest::Weir';
    my $bin = WeirTest::weir_bin();
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
        return 1 if $w->_reap;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $myport,
            Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0;
    });
    if (!$ok || $w->{exited}) {
        my $log = slurp($w->{log});
        $w->kill_hard;
        $w->{log_shown} = 1;
        if (!$o{port} && !$o{mysql_port} && ($o{_attempt} // 1) < 3 && $log =~ /in use/i) {
            diag("weir could not bind port $port/$myport, retrying on other ports");
            return $self->start_weir(%o, _attempt => ($o{_attempt} // 1) + 1);
        }
        diag("weir did not start (exit status " . ($w->{status} // 'none')
                . "); config:\n$conf\nlog:\n$log");
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
        if ($failing && !$w->{log_shown}) {
            # A test died or failed: the tail of weirs still running; of the weirs already
            # stopped and checked, only lines that are not per-client login/close chatter.
            my @lines = split /\n/, $w->log_text;
            @lines = grep { !/ LOG C-\d+ / } @lines if $w->{stopped};
            my $keep = $w->{stopped} ? 15 : 30;
            my $from = @lines > $keep ? @lines - $keep : 0;
            diag("$w->{name} log tail ($w->{log})" . ($w->{stopped} ? ', client lines left out' : '')
                    . ":\n" . join("\n", @lines[$from .. $#lines]))
                if @lines;
        }
        $w->kill_hard if $w->{pid} && !$w->{exited};
    }
    if ($failing && $self->{running}) {
        my @lines = grep { /\[(ERROR|Warning)\]/ } split /\n/, $self->errlog_text;
        my $from = @lines > 20 ? @lines - 20 : 0;
        diag("mariadb error log (errors/warnings, last 20):\n"
                . join("\n", @lines[$from .. $#lines])) if @lines;
    }
    $self->stop_server;
    $self->_kill_server;
    if ($ENV{WEIR_KEEP_TMP}) {
        diag("kept $self->{tmp}");
    } else {
        for (1 .. 20) {
            remove_tree($self->{tmp}, { error => \my $err });
            last unless -e $self->{tmp};
            sleep 0.1;
        }
    }
}

# Runs before WeirTest's END (MyTest is compiled after WeirTest), so a PostgreSQL passed as
# pg => is still up while weir is killed here.
END {
    my $rc = $?;
    if ($$ == $OWNER_PID) {
        $_->cleanup($rc) for @INSTANCES;
    }
    $? = $rc;
}

# ---- raw MySQL protocol helpers ---------------------------------------------------------

# my_packet($seq, $payload) -> one wire packet (payload < 16 MiB).
sub my_packet {
    my ($seq, $payload) = @_;
    my $len = length $payload;
    return pack('V', $len) =~ s/.\z//sr . chr($seq & 0xff) . $payload;
}

# my_read_packet($sock, $timeout) -> ($seq, $payload) or () on EOF/timeout. Joins payloads
# split at 0xFFFFFF.
sub my_read_packet {
    my ($sock, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    my $payload = '';
    my $seq;
    while (1) {
        my $hdr = read_exact($sock, 4, $deadline);
        return () unless length $hdr == 4;
        my $len = unpack('V', substr($hdr, 0, 3) . "\0");
        $seq = ord(substr($hdr, 3, 1));
        my $body = $len ? read_exact($sock, $len, $deadline) : '';
        return () unless length $body == $len;
        $payload .= $body;
        last if $len < 0xffffff;
    }
    return ($seq, $payload);
}

sub my_lenenc_int {
    my ($n) = @_;
    return chr($n) if $n < 251;
    return "\xfc" . pack('v', $n) if $n < 65536;
    return "\xfd" . substr(pack('V', $n), 0, 3) if $n < 16777216;
    return "\xfe" . pack('Q<', $n);
}

sub my_lenenc_str { my ($s) = @_; return my_lenenc_int(length $s) . $s; }

# _get_lenenc(\$buf, \$pos) -> integer (undef for 0xFB NULL)
sub _get_lenenc {
    my ($buf, $pos) = @_;
    my $c = ord(substr($$buf, $$pos, 1));
    $$pos++;
    return $c if $c < 251;
    return undef if $c == 251;
    if ($c == 252) { my $v = unpack('v', substr($$buf, $$pos, 2)); $$pos += 2; return $v }
    if ($c == 253) { my $v = unpack('V', substr($$buf, $$pos, 3) . "\0"); $$pos += 3; return $v }
    my $v = unpack('Q<', substr($$buf, $$pos, 8));
    $$pos += 8;
    return $v;
}

# my_parse_greeting($payload) -> { proto, version, conn_id, salt, caps, charset, status,
# plugin } or { error => {..} } when the greeting is an ERR packet.
sub my_parse_greeting {
    my ($p) = @_;
    return { error => my_parse_err($p) } if substr($p, 0, 1) eq "\xff";
    my %g;
    $g{proto} = ord(substr($p, 0, 1));
    my $pos = 1;
    my $z = index($p, "\0", $pos);
    $g{version} = substr($p, $pos, $z - $pos);
    $pos = $z + 1;
    $g{conn_id} = unpack('V', substr($p, $pos, 4));
    $pos += 4;
    my $salt = substr($p, $pos, 8);
    $pos += 9;
    my $caps = unpack('v', substr($p, $pos, 2));
    $pos += 2;
    if ($pos < length $p) {
        $g{charset} = ord(substr($p, $pos, 1));
        $g{status} = unpack('v', substr($p, $pos + 1, 2));
        $caps |= unpack('v', substr($p, $pos + 3, 2)) << 16;
        my $alen = ord(substr($p, $pos + 5, 1));
        $g{mariadb_caps} = unpack('V', substr($p, $pos + 12, 4));
        $pos += 16;
        if ($caps & CLIENT_SECURE_CONNECTION) {
            my $l2 = $alen > 8 ? $alen - 8 : 13;
            $l2 = 13 if $l2 < 13;
            my $part2 = substr($p, $pos, $l2);
            $part2 =~ s/\0\z//;
            $salt .= $part2;
            $pos += $l2;
        }
        if ($caps & CLIENT_PLUGIN_AUTH) {
            my $e = index($p, "\0", $pos);
            $g{plugin} = substr($p, $pos, ($e < 0 ? length($p) : $e) - $pos);
        }
    }
    $g{caps} = $caps;
    $g{salt} = $salt;
    return \%g;
}

# my_parse_err($payload) -> { code, state, msg }
sub my_parse_err {
    my ($p) = @_;
    my %e = (code => unpack('v', substr($p, 1, 2)));
    my $rest = substr($p, 3);
    if (substr($rest, 0, 1) eq '#') {
        $e{state} = substr($rest, 1, 5);
        $rest = substr($rest, 6);
    }
    $e{msg} = $rest;
    return \%e;
}

# mysql_native_password: SHA1(pw) XOR SHA1(salt . SHA1(SHA1(pw))); empty password -> ''.
sub my_native_scramble {
    my ($pass, $salt) = @_;
    return '' unless length($pass // '');
    my $h1 = sha1($pass);
    my $h2 = sha1($h1);
    return $h1 ^ sha1(substr($salt, 0, 20) . $h2);
}

our $DEFAULT_CAPS = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS
    | CLIENT_MULTI_STATEMENTS | CLIENT_PLUGIN_AUTH;

# my_handshake_response(user =>, password =>, salt =>, db =>, caps =>, charset =>,
#   auth => raw auth bytes (overrides the scramble), plugin => name,
#   ext_caps => MariaDB extended capabilities: clears CLIENT_MYSQL (bit 0) and puts them in
#   the last 4 filler bytes, as MariaDB Connector/C does against a MariaDB server)
#   -> HandshakeResponse41 payload
sub my_handshake_response {
    my (%o) = @_;
    my $caps = $o{caps} // $DEFAULT_CAPS;
    $caps |= CLIENT_CONNECT_WITH_DB if defined $o{db};
    $caps &= ~CLIENT_LONG_PASSWORD if defined $o{ext_caps};
    my $auth = $o{auth} // my_native_scramble($o{password} // '', $o{salt} // '');
    my $p = pack('VVC', $caps, $o{max_packet} // 16777216, $o{charset} // 33) . ("\0" x 19)
        . pack('V', $o{ext_caps} // 0);
    $p .= ($o{user} // 'app') . "\0";
    if ($caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        $p .= my_lenenc_str($auth);
    } elsif ($caps & CLIENT_SECURE_CONNECTION) {
        $p .= chr(length $auth) . $auth;
    } else {
        $p .= "$auth\0";
    }
    $p .= "$o{db}\0" if $caps & CLIENT_CONNECT_WITH_DB;
    $p .= ($o{plugin} // 'mysql_native_password') . "\0" if $caps & CLIENT_PLUGIN_AUTH;
    return $p;
}

# my_connect($port, $timeout) -> socket or undef
sub my_connect {
    my ($port, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
        Timeout => $timeout // 5) or return undef;
    binmode $s;
    $s->autoflush(1);
    return $s;
}

# my_login($sock, user =>, password =>, db =>, caps =>, timeout =>, mysql_client => 1)
#   -> { ok => 1, greeting => {..}, status => n }
#   or { error => {code, state, msg}, greeting => {..} }
#   or { closed => 1 } / { unexpected => '...' }
# Reads the greeting, answers with mysql_native_password, follows an AuthSwitchRequest to
# mysql_native_password. Against a MariaDB greeting (CLIENT_MYSQL clear) it asks, like
# Connector/C, for CLIENT_SESSION_TRACK and the extended capabilities STMT_BULK_OPERATIONS,
# EXTENDED_METADATA and CACHE_METADATA (not PROGRESS); mysql_client => 1 makes it a plain
# MySQL-protocol client without them (as PyMySQL).
sub my_login {
    my ($sock, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my ($seq, $p) = my_read_packet($sock, $timeout);
    return { closed => 1, stage => 'greeting' } unless defined $seq;
    my $g = my_parse_greeting($p);
    return { error => $g->{error}, stage => 'greeting' } if $g->{error};
    my $mariadb = !$o{mysql_client} && !($g->{caps} & CLIENT_LONG_PASSWORD);
    my $want = $o{caps} // ($DEFAULT_CAPS | ($mariadb ? CLIENT_SESSION_TRACK : 0));
    my $caps = $want & ($g->{caps} | CLIENT_LONG_PASSWORD);
    my $ext = $mariadb ? ($g->{mariadb_caps} // 0) & (MARIADB_CLIENT_STMT_BULK_OPERATIONS
            | MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA) : undef;
    syswrite($sock, my_packet($seq + 1, my_handshake_response(user => $o{user} // 'app',
                password => $o{password} // 'apppass', salt => $g->{salt},
                db => exists $o{db} ? $o{db} : 'shop', caps => $caps, ext_caps => $ext)));
    while (1) {
        ($seq, $p) = my_read_packet($sock, $timeout);
        return { closed => 1, greeting => $g } unless defined $seq;
        my $t = ord(substr($p, 0, 1));
        if ($t == 0x00) {
            my $pos = 1;
            _get_lenenc(\$p, \$pos);
            _get_lenenc(\$p, \$pos);
            return { ok => 1, greeting => $g, status => unpack('v', substr($p, $pos, 2)) };
        } elsif ($t == 0xff) {
            return { error => my_parse_err($p), greeting => $g };
        } elsif ($t == 0xfe) {    # AuthSwitchRequest
            my $e = index($p, "\0", 1);
            my $plugin = substr($p, 1, $e - 1);
            my $salt = substr($p, $e + 1);
            $salt =~ s/\0\z//;
            return { unexpected => "auth switch to $plugin", greeting => $g }
                unless $plugin eq 'mysql_native_password';
            syswrite($sock, my_packet($seq + 1, my_native_scramble($o{password} // 'apppass',
                        $salt)));
        } else {
            return { unexpected => sprintf('packet type 0x%02x during login', $t),
                greeting => $g };
        }
    }
}

# my_query($sock, $sql, $timeout) -> { results => [ { columns => [names], rows => [[..]] }
#   or { ok => 1, affected => n } ... ], error => {..} } after the last result,
#   or { closed => 1, ... }. Text protocol, EOF packets (no CLIENT_DEPRECATE_EOF).
sub my_query {
    my ($sock, $sql, $timeout) = @_;
    syswrite($sock, my_packet(0, "\x03$sql"));
    return my_read_result($sock, $timeout);
}

# my_read_result($sock, $timeout) -> what my_query returns, for a query sent before.
sub my_read_result {
    my ($sock, $timeout) = @_;
    my %r = (results => []);
    while (1) {
        my ($seq, $p) = my_read_packet($sock, $timeout // 10);
        return { closed => 1, %r } unless defined $seq;
        my $t = ord(substr($p, 0, 1));
        if ($t == 0xff) {
            $r{error} = my_parse_err($p);
            return \%r;
        }
        if ($t == 0x00) {
            my $pos = 1;
            my $aff = _get_lenenc(\$p, \$pos);
            _get_lenenc(\$p, \$pos);
            my $status = unpack('v', substr($p, $pos, 2));
            push @{ $r{results} }, { ok => 1, affected => $aff };
            next if $status & SERVER_MORE_RESULTS_EXISTS;
            return \%r;
        }
        my $pos = 0;
        my $ncol = _get_lenenc(\$p, \$pos);
        my %rs = (columns => [], rows => []);
        for (1 .. $ncol) {
            my (undef, $c) = my_read_packet($sock, $timeout // 10);
            return { closed => 1, %r } unless defined $c;
            my $cp = 0;
            my @f;
            for (1 .. 5) { my $l = _get_lenenc(\$c, \$cp); push @f, substr($c, $cp, $l); $cp += $l }
            push @{ $rs{columns} }, $f[4];
        }
        my (undef, $eof) = my_read_packet($sock, $timeout // 10);
        return { closed => 1, %r } unless defined $eof;
        my $status = 0;
        while (1) {
            my (undef, $row) = my_read_packet($sock, $timeout // 10);
            return { closed => 1, %r } unless defined $row;
            my $rt = ord(substr($row, 0, 1));
            if ($rt == 0xfe && length($row) < 9) {
                $status = unpack('v', substr($row, 3, 2));
                last;
            }
            if ($rt == 0xff) {
                $r{error} = my_parse_err($row);
                push @{ $r{results} }, \%rs;
                return \%r;
            }
            my $rp = 0;
            my @vals;
            for (1 .. $ncol) {
                my $l = _get_lenenc(\$row, \$rp);
                if (!defined $l) { push @vals, undef; next }
                push @vals, substr($row, $rp, $l);
                $rp += $l;
            }
            push @{ $rs{rows} }, \@vals;
        }
        push @{ $r{results} }, \%rs;
        return \%r unless $status & SERVER_MORE_RESULTS_EXISTS;
    }
}

# ---- weir instance with a MySQL port ----------------------------------------------------
package MyTest::Weir;

use strict;
use warnings;
our @ISA = ('WeirTest::Weir');

sub mysql_port { $_[0]{mysql_port} }

# mariadb($sql, %o) -> ($out, $err, $rc, $timed_out): the mariadb CLI through weir's MySQL
# port (options as MyTest::_mariadb_cli).
sub mariadb {
    my ($self, $sql, %o) = @_;
    return MyTest::_mariadb_cli($self->{mysql_port}, $sql, %o);
}

# my_dbi(%o) -> DBD::MariaDB handle through weir (options as MyTest::dbi), or undef.
sub my_dbi {
    my ($self, %o) = @_;
    return MyTest::_dbi($self->{mysql_port}, %o);
}

# my_socket -> plain TCP socket to weir's MySQL port (dies if the connect fails)
sub my_socket {
    my ($self) = @_;
    return MyTest::my_connect($self->{mysql_port}) // die "connect to weir: $!";
}

# sysbench(%o) through weir (options as MyTest::sysbench).
sub sysbench {
    my ($self, %o) = @_;
    return MyTest::_sysbench($self->{mysql_port}, %o);
}

1;
