# PoolTest.pm -- helpers shared by the pooling-policy tests (t10..t14) on top of WeirTest.pm:
# weir with a [users] section, counting weir's server connections in pg_stat_activity,
# raw-socket clients that read weir's FATAL errors, a fake server that never answers, and
# background commands whose output is collected later.
#
# Usage:
#   use FindBin; use lib $FindBin::Bin; use WeirTest; use PoolTest;
#   my $w = start_weir_users($t, users_ini => { app => 'pool_size=2' }, weir => {...});
#   my $n = count_server_conns($t, db => 'testdb');     # all users
package PoolTest;

use strict;
use warnings;
use Test::More;
use WeirTest;
use IO::Socket::INET;
use IO::Select;
use File::Temp ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Exporter 'import';

our @EXPORT = qw(start_weir_users count_server_conns server_pids raw_connect next_error
    fake_server bg_cmd bg_result admin_do pg_stop pg_start);

# start_weir_users($t, users_ini => { user => 'pool_size=2 pool_mode=...' }, %start_weir_opts)
#   -> WeirTest::Weir. Same as $t->start_weir, plus a [users] section; WeirTest.pm cannot
# write one, so the config is built here the same way and weir started the same way.
sub start_weir_users {
    my ($t, %o) = @_;
    my $users_ini = delete $o{users_ini};
    return $t->start_weir(%o) unless $users_ini && %$users_ini;
    # Mirrors WeirTest::start_weir (same defaults), adding the [users] section.
    my $n = ++$t->{nweir};
    my $dir = $t->tmp . "/weir$n";
    mkdir $dir or die "mkdir $dir: $!";
    my $port = $o{port} // free_port();
    my %users = %{ $o{users} // { app => 'apppass', forced => 'forcedpass' } };
    my $authfile = "$dir/userlist.txt";
    spew($authfile, join('', map { qq{"$_" "$users{$_}"\n} } sort keys %users));
    my $pgport = $t->pgport;
    my %dbs = (
        testdb => "host=127.0.0.1 port=$pgport dbname=testdb",
        postgres => "host=127.0.0.1 port=$pgport dbname=postgres",
        forceddb => "host=127.0.0.1 port=$pgport dbname=testdb user=forced "
            . "password=forcedpass pool_size=3",
        %{ $o{databases} // {} },
    );
    my %weir = (
        listen_addr => '127.0.0.1', listen_port => $port, unix_socket_dir => $dir,
        auth_type => 'md5',
        auth_file => $authfile, pool_mode => 'session', default_pool_size => 20,
        max_client_conn => 10000, workers => 2, server_reset_query => 'DISCARD ALL',
        client_login_timeout => 60, query_wait_timeout => 120, server_connect_timeout => 15,
        log_connections => 1, log_disconnections => 1, verbose => 0,
        %{ $o{weir} // {} },
    );
    my $conf = "[databases]\n";
    $conf .= "$_ = $dbs{$_}\n" for grep { defined $dbs{$_} } sort keys %dbs;
    $conf .= "\n[users]\n";
    $conf .= "$_ = $users_ini->{$_}\n" for sort keys %$users_ini;
    $conf .= "\n[weir]\n";
    $conf .= "$_ = $weir{$_}\n" for grep { defined $weir{$_} } sort keys %weir;
    my $conffile = "$dir/weir.ini";
    spew($conffile, $conf);
    my $w = bless { t => $t, dir => $dir, port => $port, conf => $conffile,
        log => "$dir/weir.log", name => "weir$n" }, 'WeirTest::Weir';
    my $bin = WeirTest::weir_bin();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $w->{log} or POSIX::_exit(126);
        open STDERR, '>>', $w->{log} or POSIX::_exit(126);
        exec { $bin } $bin, $conffile or POSIX::_exit(127);
    }
    $w->{pid} = $pid;
    push @{ $t->{weirs} }, $w;
    my $ok = wait_until(20, sub {
        return 1 unless $w->alive;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
            Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0;
    });
    if (!$ok || !$w->alive) {
        diag("weir did not start; config:\n$conf\nlog:\n" . $w->log_text);
        $w->kill_hard;
        die "weir failed to start";
    }
    return $w;
}

my $MON;    # superuser connection for counting, kept open

sub _mon {
    my ($t) = @_;
    $MON = undef if $MON && !$MON->ping;
    $MON //= $t->pg_admin_dbi;
    return $MON;
}

# admin_do($t, $sql, @bind) -> selectall_arrayref as superuser (monitor connection).
sub admin_do {
    my ($t, $sql, @bind) = @_;
    my $r = eval { _mon($t)->selectall_arrayref($sql, undef, @bind) };
    if (!$r) { $MON = undef; return [] }
    return $r;
}

# count_server_conns($t, user => u, db => d, state => s) -> client backends that are not
# this monitor and not the harness's direct connections; user/db/state filter when given.
sub count_server_conns {
    my ($t, %o) = @_;
    my $r = admin_do($t, q{SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND coalesce(application_name, '') <> $1
          AND ($2::text IS NULL OR usename = $2) AND ($3::text IS NULL OR datname = $3)
          AND ($4::text IS NULL OR state LIKE $4)},
        $WeirTest::DIRECT_APP, $o{user}, $o{db}, $o{state});
    return $r->[0][0] // -1;
}

# server_pids($t, user => u, db => d) -> { pid => backend_start } of such backends.
sub server_pids {
    my ($t, %o) = @_;
    my $r = admin_do($t, q{SELECT pid, backend_start::text, state FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND coalesce(application_name, '') <> $1
          AND ($2::text IS NULL OR usename = $2) AND ($3::text IS NULL OR datname = $3)},
        $WeirTest::DIRECT_APP, $o{user}, $o{db});
    return { map { $_->[0] => $_->[1] } @$r };
}

# raw_connect($w, %raw_login_opts) -> ($sock, $login_result, $seconds). $sock is undef when
# the TCP connect failed.
sub raw_connect {
    my ($w, %o) = @_;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->port,
        Proto => 'tcp', Timeout => 5) or return (undef, { closed => 1 }, time - $t0);
    binmode $s;
    $s->autoflush(1);
    my $r = raw_login($s, %o);
    return ($s, $r, time - $t0);
}

# next_error($sock, $timeout) -> ({ C=>.., M=>.. } or undef, $closed, $seconds): waits for an
# unsolicited ErrorResponse and then for EOF.
sub next_error {
    my ($sock, $timeout) = @_;
    my $t0 = time;
    my $err;
    while (1) {
        my ($type, $body) = read_msg($sock, $timeout - (time - $t0));
        last unless defined $type;
        if ($type eq 'E') { $err = parse_error_fields($body); last }
    }
    my $el = time - $t0;
    my $closed = sock_closed($sock, 3);
    return ($err, $closed, $el);
}

# fake_server($lifetime) -> ($port, $pid): a TCP listener on 127.0.0.1 that accepts and
# never answers (holds every accepted socket), for at most $lifetime seconds.
sub fake_server {
    my ($lifetime) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 64, ReuseAddr => 1) or die "fake_server: $!";
    my $port = $l->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        my @held;
        my $sel = IO::Select->new($l);
        my $end = time + $lifetime;
        while (time < $end) {
            if ($sel->can_read(0.5)) {
                my $c = $l->accept;
                push @held, $c if $c;
            }
        }
        POSIX::_exit(0);
    }
    close $l;
    return ($port, $pid);
}

# bg_cmd(\@argv, %run_cmd_opts) -> $job: runs run_cmd in a child; bg_result($job, $timeout)
# -> ($out, $err, $rc) once it finished.
sub bg_cmd {
    my ($argv, %o) = @_;
    my $f = File::Temp::tempnam('/tmp', 'weirbg');
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        my ($out, $err, $rc, $to) = run_cmd($argv, %o);
        open my $fh, '>', $f or POSIX::_exit(1);
        print $fh join("\0", $rc, $to ? 1 : 0, $out, $err);
        close $fh;
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $f };
}

sub bg_result {
    my ($job, $timeout) = @_;
    my $st = wait_children([$job->{pid}], $timeout // 300);
    my $s = slurp($job->{file});
    unlink $job->{file};
    return ('', 'bg job did not finish', 'timeout') if $st->{ $job->{pid} } ne '0' || $s eq '';
    my ($rc, $to, $out, $err) = split /\0/, $s, 4;
    return ($out, $err, $to ? 'timeout' : $rc);
}

# pg_stop($t, $mode) / pg_start($t) -> exit status of pg_ctl: stop (default -m fast) and start
# again the test's PostgreSQL, keeping its data directory and port.
sub pg_stop {
    my ($t, $mode) = @_;
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $t->{pgdata}, '-m',
            $mode // 'fast', '-w', '-t', '30', 'stop'], as_pg => 1, timeout => 40);
    diag("pg_ctl stop: $out $err") if $rc;
    $t->{pg_running} = 0 unless $rc;
    return $rc;
}

sub pg_start {
    my ($t) = @_;
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $t->{pgdata}, '-l',
            $t->{pglog}, '-w', '-t', '60', 'start'], as_pg => 1, timeout => 90);
    diag("pg_ctl start: $out $err") if $rc;
    $t->{pg_running} = 1 unless $rc;
    return $rc;
}

1;
