# t08_unix_socket.t -- weir's unix sockets (unix_socket_dir, unix_socket_mode,
# unix_socket_group): psql without -h and the mariadb client with --socket through weir, the
# console over the socket (clients shown as "unix"), the start-up lines, the file's mode and
# group, removal at exit, a stale file replaced, a file that is not a socket refused, a second
# weir on the same port taking the socket over (online restart), and a reload that changes
# unix_socket_dir kept for the restart.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use IO::Socket::UNIX;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $m = MyTest->new;

# psql_unix($dir, $port, $sql, user =>, password =>, db =>) -> ($out, $err, $rc): psql with
# no -h, finding weir's socket through PGHOST as libpq-based tools on the same host do.
sub psql_unix {
    my ($dir, $port, $sql, %o) = @_;
    my ($out, $err, $rc) = run_cmd(
        [WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-p', $port, '-U', $o{user} // 'app',
            '-c', $sql, $o{db} // 'testdb'],
        env => { PGHOST => $dir, PGPASSWORD => $o{password} // 'apppass',
            PGCONNECT_TIMEOUT => 10 },
        timeout => 30);
    chomp $out;
    return ($out, $err, $rc);
}

sub mode_of { my @st = stat($_[0]); return @st ? $st[2] & 07777 : -1 }

my $mport = free_port();
my $w = $m->start_weir(pg => $t, users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin', metrics_port => $mport });
my $dir = $w->{dir};
my $pgsock = "$dir/.s.PGSQL." . $w->port;
my $mysock = "$dir/.s.MYSQL." . $w->mysql_port;

# ---- the start-up lines: one each for what listens ----
{
    # The ports accept as soon as they are bound, a moment before weir writes its start-up
    # lines: wait for the last of them.
    wait_until(10, sub { $w->log_text =~ /Prometheus metrics on/ }, 0.05);
    my $log = $w->log_text;
    like($log, qr/configuration \Q$w->{conf}\E, 2 workers/, 'start-up: the config file and workers');
    like($log, qr/listening for PostgreSQL on 127\.0\.0\.1:${\ $w->port}\n/, '... the PostgreSQL port');
    like($log, qr/listening for MySQL on 127\.0\.0\.1:${\ $w->mysql_port}\n/, '... the MySQL port');
    like($log, qr/listening for PostgreSQL on unix socket \Q$pgsock\E\n/, '... the PostgreSQL socket');
    like($log, qr/listening for MySQL on unix socket \Q$mysock\E\n/, '... the MySQL socket');
    like($log, qr{Prometheus metrics on http://127\.0\.0\.1:$mport/metrics}, '... the metrics URL');
    my @pg = ($log =~ /listening for PostgreSQL on 127/g);
    is(scalar @pg, 1, '... each once, not once per worker');
}

# ---- clients over the sockets ----
ok(-S $pgsock, 'the PostgreSQL socket is <unix_socket_dir>/.s.PGSQL.<listen_port>');
ok(-S $mysock, 'the MySQL socket is <unix_socket_dir>/.s.MYSQL.<mysql_listen_port>');
is(mode_of($pgsock), 0777, 'default unix_socket_mode 0777');
{
    my ($out, $err, $rc) = psql_unix($dir, $w->port, 'SELECT 40 + 2');
    is($out, '42', 'psql -p <port> -U app testdb without -h, PGHOST = unix_socket_dir')
        or diag("rc=$rc err=$err");
    my $ok = 0;
    $ok += (psql_unix($dir, $w->port, 'SELECT 1'))[0] eq '1' for 1 .. 10;
    is($ok, 10, 'ten more connections over the socket, each answered (every worker accepts)');
}
{
    my ($out, $err, $rc) = run_cmd(['mariadb', '--no-defaults', "--socket=$mysock",
            '--protocol=SOCKET', '-u', 'app', '-papppass', '-B', '-N', '-e', 'SELECT 6 * 7', 'shop'],
        timeout => 30);
    chomp $out;
    is($out, '42', 'the mariadb client with --socket reaches a MySQL entry through weir')
        or diag("rc=$rc err=$err");
}
{
    my ($out, $err, $rc) = psql_unix($dir, $w->port, 'SHOW CLIENTS', user => 'admin',
        password => 'adminpass', db => 'weir');
    is($rc, 0, 'the console over the unix socket') or diag($err);
    my @cols = split /\|/, (grep { /\|admin\|weir\|/ } split /\n/, $out)[0] // '';
    is($cols[4], 'unix', '... SHOW CLIENTS shows a unix client as addr "unix"');
    like($cols[5] // '', qr/^[1-9]\d*$/, '... with its pid as the port (SO_PEERCRED)');
    $w->log_like(qr/admin\@unix\(\d+\)/, 'the log names a unix client "unix(pid)"');
}
$w->stop(signal => 'TERM');
ok(!-e $pgsock && !-e $mysock, 'both socket files are removed at exit');

# ---- unix_socket_mode and unix_socket_group ----
{
    my $gname = getgrgid($) + 0) // 'root';
    my $w2 = $t->start_weir(weir => { unix_socket_mode => '0660', unix_socket_group => $gname });
    my $s = "$w2->{dir}/.s.PGSQL." . $w2->port;
    is(mode_of($s), 0660, 'unix_socket_mode 0660 is the socket file mode');
    is((stat $s)[5], scalar getgrnam($gname), "unix_socket_group $gname is its group");
    $w2->stop;
    ok(!-e $s, 'removed at exit after SIGQUIT too');
}

# ---- unix_socket_dir = (empty): no socket ----
{
    my $w3 = $t->start_weir(weir => { unix_socket_dir => '' });
    ok(!-e "$w3->{dir}/.s.PGSQL." . $w3->port, 'an empty unix_socket_dir opens no socket');
    unlike($w3->log_text, qr/unix socket/, '... and logs none');
    $w3->stop;
}

# ---- a stale socket file is replaced; a file that is not a socket is refused ----
my $shared = $t->tmp . "/sockets";
mkdir $shared or die "mkdir $shared: $!";
{
    my $port = free_port();
    my $path = "$shared/.s.PGSQL.$port";
    my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path, Listen => 1)
        or die "listen $path: $!";
    close $l;    # the file stays, nobody listens: what a crash leaves
    ok(-S $path, 'a stale socket file is in place');
    my $w4 = $t->start_weir(port => $port, weir => { unix_socket_dir => $shared });
    ok(wait_until(20, sub { $w4->log_text =~ /\Q$path\E: replacing a stale socket file/ }),
        'weir replaces it, saying so');
    is((psql_unix($shared, $port, 'SELECT 1'))[0], '1', '... and serves on it');
    $w4->stop;

    spew($path, "not a socket\n");
    my $w5 = $t->start_weir(port => $port, weir => { unix_socket_dir => $shared },
        expect_fail => 1);
    ok(wait_until(20, sub { !$w5->alive }), 'a regular file at the socket path: weir refuses to start');
    $w5->log_like(qr/\Q$path\E: the file exists and is not a socket/, '... saying why');
    is(slurp($path), "not a socket\n", '... and leaves the file alone');
    $w5->{stopped} = 1;
    unlink $path;
}

# ---- online restart: a second weir on the same port and directory takes the socket over ----
{
    my $a = $t->start_weir(weir => { unix_socket_dir => $shared });
    my $port = $a->port;
    my $path = "$shared/.s.PGSQL.$port";
    my $b = $t->start_weir(port => $port, weir => { unix_socket_dir => $shared });
    # The port answered at once (the first weir shares it): wait for the second's own word.
    ok(wait_until(30, sub {
        $b->log_text =~ /\Q$path\E: another process listens on it; taking it over/
            && $b->log_text =~ /listening for PostgreSQL on unix socket/ }),
        'the second weir takes the live socket over, saying so') or diag($b->log_text);
    is((psql_unix($shared, $port, 'SELECT 1'))[0], '1', '... and clients reach it');
    $a->stop(signal => 'TERM');
    ok(-S $path, 'the first weir leaves the socket it no longer owns when it exits');
    is((psql_unix($shared, $port, 'SELECT 2'))[0], '2', '... and the second keeps serving on it');

    # A reload that changes unix_socket_dir keeps the running one (restart-only, like ports).
    my $conf = slurp($b->{conf});
    (my $changed = $conf) =~ s/^unix_socket_dir = .*$/unix_socket_dir = \/nonexistent/m;
    spew($b->{conf}, $changed);
    kill 'HUP', $b->pid;
    ok(wait_until(20, sub { $b->log_text =~ /configuration reloaded|reload refused/ }),
        'a reload that changes unix_socket_dir');
    $b->log_like(qr/unix_socket_dir changes only at restart; keeping \Q$shared\E/,
        '... warns that it changes only at restart');
    is((psql_unix($shared, $port, 'SELECT 3'))[0], '3', '... and the socket keeps serving');
    $b->stop(signal => 'TERM');
    ok(!-e $path, 'the second weir removes the socket at exit');
}

done_testing();
