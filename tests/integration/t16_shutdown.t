# t16_shutdown.t -- shutdown signals: SIGTERM stops accepting and exits once the last client has
# left (a second SIGTERM exits at once); SIGINT exits once every server is released, clients
# only waiting meanwhile and then told weir is shutting down; SIGQUIT exits at once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);
use DBD::Pg qw(:async);

my $t = WeirTest->new;

sub refuses_connections {
    my ($w) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->port, Proto => 'tcp',
        Timeout => 2);
    return !$s;
}

# exits_within($w, $secs) -> seconds it took, or undef
sub exits_within {
    my ($w, $secs) = @_;
    my $t0 = time;
    return wait_until($secs, sub { !$w->alive }, 0.02) ? time - $t0 : undef;
}

# ---- SIGTERM: wait for clients ----
sub scrape {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
        Timeout => 3) or return '';
    print $s "GET /metrics HTTP/1.0\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    return $r;
}

{
    my $mport = free_port();
    my $w = $t->start_weir(weir => { pool_mode => 'session', metrics_port => $mport });
    my $a = $w->dbi;
    is(($a->selectrow_array('SELECT 1'))[0], 1, 'client connected before SIGTERM');
    kill 'TERM', $w->pid;
    ok(wait_until(3, sub { refuses_connections($w) }), 'SIGTERM: new connections refused');
    sleep 0.5;
    ok($w->alive, 'SIGTERM: weir waits while a client is connected');
    is(($a->selectrow_array('SELECT 2'))[0], 2, 'SIGTERM: the connected client keeps working');
    like(scrape($mport), qr/^weir_clients_connected 1$/m, 'SIGTERM: /metrics still answers while draining');
    ok(wait_until(5, sub { $w->log_text =~
                /shutting down: no new connections; exiting when every client has left/ }),
        'SIGTERM: weir says what it waits for');
    $a->disconnect;
    my $took = exits_within($w, 5);
    ok(defined $took, 'SIGTERM: weir exits once the last client left (' . ($took // 'n/a') . ' s)');
    $w->check_log(status => $w->{status}, name => 'SIGTERM: clean exit, status 0');
    $w->{stopped} = 1;
}

# ---- SIGTERM: an admin console session does not hold up the exit, and keeps working ----
{
    my $w = $t->start_weir(weir => { pool_mode => 'session', admin_users => 'admin' },
        users => { app => 'apppass', admin => 'adminpass' });
    my $con = DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    my $a = $w->dbi;
    ok($con && $a, 'a console session and a client');
    kill 'TERM', $w->pid;
    ok(wait_until(5, sub { refuses_connections($w) }), 'SIGTERM: weir is draining');
    my $r = $con->selectall_arrayref('SHOW CLIENTS', { Slice => {} });
    ok($r && @$r >= 1, 'SIGTERM: the console still answers while weir drains');
    ok($w->alive, 'SIGTERM: waiting for the client');
    $a->disconnect;
    ok(defined exits_within($w, 5), 'SIGTERM: exits once the last client left, console connected');
    $w->check_log(status => $w->{status}, name => 'SIGTERM with a console: clean exit');
    $w->{stopped} = 1;
}

# ---- a second SIGTERM: now ----
{
    my $w = $t->start_weir(weir => { pool_mode => 'session' });
    my $a = $w->dbi;
    $a->selectrow_array('SELECT 1');
    kill 'TERM', $w->pid;
    # Two signals sent before weir took the first are one signal: wait until it took it.
    ok(wait_until(5, sub { refuses_connections($w) }), 'first SIGTERM: draining');
    ok($w->alive, 'first SIGTERM: still waiting');
    kill 'TERM', $w->pid;
    ok(defined exits_within($w, 5), 'second SIGTERM: exits at once');
    ok(!defined $a->selectrow_array('SELECT 1'), 'the client connection is gone');
    $w->check_log(status => $w->{status}, name => 'second SIGTERM: clean exit');
    $w->{stopped} = 1;
}

# ---- SIGINT: wait for servers, clients only wait ----
{
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2 });
    my $a = $w->dbi;
    my $b = $w->dbi;
    ok($a && $b, 'two transaction-mode clients');
    $a->do('BEGIN');
    $a->selectrow_array('SELECT 1');
    $b->selectrow_array('SELECT 1');    # b now holds no server
    kill 'INT', $w->pid;
    ok(wait_until(3, sub { refuses_connections($w) }), 'SIGINT: new connections refused');
    ok(wait_until(5, sub { $w->log_text =~ /exiting when every server is released/ }),
        'SIGINT: says what it waits for');
    $b->do('SELECT 42', { pg_async => PG_ASYNC });
    sleep 0.7;
    ok($w->alive, 'SIGINT: weir waits while a transaction holds a server');
    ok(!$b->pg_ready, 'SIGINT: a new query waits instead of getting a server');
    is(($a->selectrow_array('SELECT 3'))[0], 3, 'SIGINT: the open transaction goes on');
    $a->do('COMMIT');
    my $took = exits_within($w, 5);
    ok(defined $took, 'SIGINT: exits once the transaction ended (' . ($took // 'n/a') . ' s)');
    my $r = eval { $b->pg_result };
    ok(!$r, 'SIGINT: the waiting query did not run');
    like($b->errstr // '', qr/shutting down/, 'SIGINT: the waiting client is told weir is shutting down');
    $w->check_log(status => $w->{status}, name => 'SIGINT: clean exit');
    $w->{stopped} = 1;
}

# ---- SIGQUIT: now ----
{
    my $w = $t->start_weir(weir => { pool_mode => 'session' });
    my @h = map { $w->dbi } 1 .. 3;
    $_->selectrow_array('SELECT 1') for @h;
    $h[0]->do('BEGIN');
    kill 'QUIT', $w->pid;
    ok(defined exits_within($w, 5), 'SIGQUIT: exits at once with clients connected');
    $w->check_log(status => $w->{status}, name => 'SIGQUIT: clean exit');
    $w->{stopped} = 1;
    ok(wait_until(5, sub { count_server_conns($t, user => 'app') == 0 }),
        'SIGQUIT: no server connection left behind');
}

done_testing;
