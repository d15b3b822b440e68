# t14_waiters.t -- the wait queue in transaction mode: 50 clients queued behind one busy
# server across 2 workers are served in arrival order, and a waiting client that disconnects
# leaves the queue without delaying the others or upsetting the pool counts.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $adm = $t->pg_dbi or die $DBI::errstr;
$adm->do('CREATE TABLE t14_order (id serial PRIMARY KEY, idx int, who text,
    ts timestamptz DEFAULT clock_timestamp())') or die $adm->errstr;
my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 1,
        workers => 2, query_wait_timeout => 60, admin_users => 'admin' },
    users => { app => 'apppass', admin => 'adminpass' });

# Clients of testdb waiting for a server, as the admin console counts them.
my $console;
# (No DBI ping: the console answers DBD::Pg's ping query with an error, and logs it, which
# the second subtest would count as an error of weir's.)
sub queued {
    $console //= DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    my $r = $console ? $console->selectall_arrayref('SHOW POOLS', { Slice => {} }) : undef;
    $console = undef unless $r;    # reconnect next time
    my ($p) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' } @{ $r // [] };
    return $p ? $p->{cl_waiting} : 0;
}

# A client that connects, then inserts ($idx, $who) -- waiting for the server -- and leaves.
sub waiter {
    my ($idx, $who) = @_;
    return spawn(sub {
        my $dbh = $w->dbi(connect_timeout => 30) or die "waiter $idx: $DBI::errstr\n";
        $dbh->do('INSERT INTO t14_order (idx, who) VALUES (?, ?)', undef, $idx, $who)
            or die "waiter $idx: " . $dbh->errstr . "\n";
        $dbh->disconnect;
        return 1;
    });
}

# The holder keeps the only server inside an open transaction.
sub holder {
    my $h = $w->dbi or die "holder: $DBI::errstr";
    $h->do('BEGIN');
    my ($p) = $h->selectrow_array('SELECT pg_backend_pid()');
    return ($h, $p);
}

subtest 'FIFO across 2 workers, 50 waiting clients' => sub {
    my ($h, $hp) = holder();
    ok($hp, "holder keeps server $hp in a transaction");
    my @pids;
    # Each waiter is queued before the next starts, so arrival order is known even when a
    # loaded machine delays a child's connect.
    for my $i (0 .. 49) {
        push @pids, waiter($i, 'fifo');
        wait_until(20, sub { queued() >= $i + 1 }, 0.02) or diag("waiter $i not queued");
        sleep 0.02;
    }
    sleep 0.5;
    my ($n) = $adm->selectrow_array('SELECT count(*) FROM t14_order');
    is($n, 0, 'no waiter was served while the holder kept the server');
    is(count_server_conns($t, user => 'app'), 1, 'still one server connection');
    ok($h->do('COMMIT'), 'holder commits, releasing the server');
    my $st = wait_children(\@pids, 60);
    is(scalar(grep { $st->{$_} ne '0' } @pids), 0, 'all 50 waiters were served');
    my $order = $adm->selectcol_arrayref(q{SELECT idx FROM t14_order WHERE who = 'fifo'
        ORDER BY id});
    is_deeply($order, [0 .. 49], 'served in arrival order') or diag("order: @$order");
    ok(count_server_conns($t, user => 'app') <= 1, 'pool_size 1 respected');
    $h->disconnect;
};

subtest 'a waiting client that disconnects leaves the queue' => sub {
    my $log_before = length $w->log_text;
    my ($h, $hp) = holder();
    my $a = waiter(1, 'A');
    ok(wait_until(20, sub { queued() == 1 }, 0.02), 'A waits');
    my $b = waiter(2, 'B');
    ok(wait_until(20, sub { queued() == 2 }, 0.02), 'B waits behind A');
    my $c = waiter(3, 'C');
    ok(wait_until(20, sub { queued() == 3 }, 0.02), 'C waits behind B');
    ok(kill('KILL', $b), 'waiter B killed while queued');
    waitpid($b, 0);
    ok(wait_until(10, sub { queued() == 2 }, 0.02), 'B left the queue');
    my $t0 = time;
    $h->do('COMMIT');
    my $st = wait_children([$a, $c], 20);
    my $el = time - $t0;
    is($st->{$a}, 0, 'A served');
    is($st->{$c}, 0, 'C served');
    # A ghost waiter would hold the server until query_wait_timeout (60 s).
    ok($el < 15, sprintf('A and C both done %.2fs after the release', $el));
    my $rows = $adm->selectall_hashref(q{SELECT who, extract(epoch FROM ts) AS ts FROM t14_order
        WHERE who IN ('A', 'B', 'C')}, 'who');
    ok(!$rows->{B}, 'B never ran its INSERT');
    ok($rows->{A} && $rows->{C} && $rows->{C}{ts} - $rows->{A}{ts} < 10,
        sprintf('C served within %.3fs of A', $rows->{C} && $rows->{A}
            ? $rows->{C}{ts} - $rows->{A}{ts} : -1));
    my $new = substr($w->log_text, $log_before);
    my @errs = grep { /\berror\b|ERROR|WARNING|FATAL/ } split /\n/, $new;
    is(scalar(@errs), 0, 'weir logged no error for the other clients')
        or diag(join("\n", @errs));
    is(count_server_conns($t, user => 'app'), 1, 'one server connection');
    my ($p) = $h->selectrow_array('SELECT pg_backend_pid()');
    is($p, $hp, 'the single server is free again and reused');
    $h->disconnect;
    my $t1 = time;
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', 'a new client is served');
    ok(time - $t1 < 15, 'promptly (no ghost waiter holds the server)');
};

ok($w->alive, 'weir alive');
$w->stop;
$adm->disconnect;
$console->disconnect if $console;
done_testing;
