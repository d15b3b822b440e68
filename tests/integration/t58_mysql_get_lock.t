# t58_mysql_get_lock.t -- GET_LOCK pins its client in transaction pooling (pool_size 2, one
# worker). MariaDB reports nothing when a session takes a named lock, so weir looks for the
# name GET_LOCK (any case) in COM_QUERY texts and COM_STMT_PREPARE texts:
#   - a client that took a lock with a query keeps its server for every later transaction;
#     another client cannot take the lock (GET_LOCK returns 0, IS_USED_LOCK names the
#     owner's server) and never gets that server; when the owner disconnects the server is
#     reset and the lock is free;
#   - the same for a prepared statement whose text calls get_lock(), pinned at the prepare;
#   - a query whose text is longer than weir's buffer, with GET_LOCK at its end, pins too;
#   - texts that only look alike (IS_FREE_LOCK, RELEASE_LOCK, 'lock' in a string) do not pin:
#     two other clients can then hold both servers at once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use MyStmt;
use Test::More;
use Time::HiRes qw(time sleep);

my $m = MyTest->new;
my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 1,
        default_pool_size => 2, query_wait_timeout => 5 });
my $c = MyStmt->new($w->mysql_port);
$c->one("connect $_") for qw(A B C D);

sub val { my ($who, $sql) = @_; my ($r) = $c->rows("query $who $sql"); return $r ? $r->[0] : undef }

# owner($who, $take, $lock): $take took $lock on the owner's server; the owner keeps the
# server for later transactions, and another client neither takes the lock nor the server.
sub owner_keeps {
    my ($who, $label, $lock, $server) = @_;
    my (%own, %other, @bad);
    for (1 .. 5) {
        $own{ val($who, 'SELECT CONNECTION_ID()') // 'none' }++;
        $other{ val('B', 'SELECT CONNECTION_ID()') // 'none' }++;
        my $got = val('B', "SELECT GET_LOCK('$lock', 0)");
        push @bad, "B took the lock ($got)" unless defined $got && $got eq '0';
    }
    is_deeply([keys %own], [$server], "$label: later transactions stay on $server");
    ok(!$other{$server}, "$label: B never gets that server (" . join(',', keys %other) . ')');
    is(join(', ', @bad), '', "$label: B cannot take the lock");
    is(val('B', "SELECT IS_USED_LOCK('$lock')"), $server,
        "$label: IS_USED_LOCK names the owner's server");
}

# ---- GET_LOCK in a query ----------------------------------------------------------------
{
    my ($r) = $c->rows("query A SELECT GET_LOCK('t58', 0), CONNECTION_ID()");
    is($r->[0], 1, "A: GET_LOCK('t58') = 1 on server $r->[1]");
    owner_keeps('A', 'query', 't58', $r->[1]);
    is($c->one('disconnect A'), 'ok', 'A disconnects');
    ok(wait_until(10, sub { (val('B', "SELECT IS_FREE_LOCK('t58')") // 0) == 1 }),
        'the lock is free once its owner left (its server was reset)');
}

# ---- get_lock() in a prepared statement's text -------------------------------------------
{
    like($c->one('prepare C g SELECT get_lock(?, 0), CONNECTION_ID()'), qr/^prepared /,
        'C prepares a statement calling get_lock()');
    $c->one('bind C g s:t58p');
    my ($r) = $c->rows('exec C g');
    is($r->[0], 1, "C: get_lock('t58p') = 1 on server $r->[1]");
    owner_keeps('C', 'prepared', 't58p', $r->[1]);
    is($c->one('disconnect C'), 'ok', 'C disconnects');
    ok(wait_until(10, sub { (val('B', "SELECT IS_FREE_LOCK('t58p')") // 0) == 1 }),
        'the lock is free once its owner left');
}

# ---- a long text, the name at its end ------------------------------------------------------
{
    $c->one('connect E');
    my $pad = 'x' x 50000;
    my ($r) = $c->rows("query E SELECT LENGTH('$pad') + GET_LOCK('t58l', 0), CONNECTION_ID()");
    is($r->[0], 50001, "E: a 50 kB query ending in GET_LOCK took the lock on $r->[1]");
    owner_keeps('E', 'long query', 't58l', $r->[1]);
    $c->one('disconnect E');
}

# ---- look-alikes do not pin ------------------------------------------------------------------
{
    $c->one('connect A');
    for my $sql ("SELECT IS_FREE_LOCK('zz')", "SELECT RELEASE_LOCK('zz')",
        "SELECT 'get lock, lock_get, getlock'", 'SELECT 1 FROM DUAL LOCK IN SHARE MODE') {
        my @out = $c->cmd("query A $sql");
        # B and C each hold a server in a transaction: possible only if A holds none.
        $c->one('query B BEGIN');
        my $b = val('B', 'SELECT CONNECTION_ID()');
        $c->one('query D BEGIN');
        my $d = val('D', 'SELECT CONNECTION_ID()');
        ok(defined $b && defined $d && $b ne $d, "after \"$sql\" A holds no server: B and D "
                . "hold both (" . ($b // 'none') . ', ' . ($d // 'none') . ')')
            or diag(join("\n", @out));
        $c->one('query B COMMIT');
        $c->one('query D COMMIT');
    }
}

$c->close;
$w->stop;
done_testing();
