# t57_mysql_prepared_limits.t -- the bounds and the server side of binary prepared statements
# in transaction pooling, through MariaDB Connector/C's mysql_stmt_* API (my_stmt, MyStmt.pm):
#   - max_prepared_statements = 2: a client that rotates through 5 statements gets the right
#     results, and MariaDB's Prepared_stmt_count never passes 2 per server connection;
#   - MariaDB's max_prepared_stmt_count (10) below pool_size x max_prepared_statements (16): a
#     prepare refused with ERR 1461 is tried again after weir closes older statements;
#   - long data over weir's 16 MiB per statement: the EXECUTE gets ERR 1153, and the
#     connection and statement work on;
#   - a cursor (STMT_ATTR_CURSOR_TYPE read-only, prefetch 1 row) keeps its server until its
#     last row: every row comes from one server, another client never gets it meanwhile, and it
#     is free again afterwards;
#   - a server lost (KILLed from an admin connection) while its client is between
#     transactions: the next EXECUTE prepares the statement again on a new server; one whose
#     table went away meanwhile gets the server's error and the connection stays;
#   - max_prepared_statements = 0: statements pass through and pin their client (as before
#     statements followed their client);
#   - session pooling: statements pass through, untouched.
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
my (undef, $err, $rc) = $m->admin_sql('CREATE TABLE shop.t57 (v INT); '
        . 'INSERT INTO shop.t57 VALUES (57);');
is($rc, 0, 'table created') or diag($err);

sub prepared_stmt_count {
    my ($out) = $m->admin_sql(q{SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'});
    return ($out // '') =~ /(\d+)/ ? $1 : -1;
}

sub txn_weir {
    return $m->start_weir(weir => { pool_mode => 'transaction', workers => 1,
            default_pool_size => 2, query_wait_timeout => 10, @_ });
}

# ---- max_prepared_statements = 2 ---------------------------------------------------------
{
    my $w = txn_weir(max_prepared_statements => 2);
    my $c = MyStmt->new($w->mysql_port);
    $c->one('connect A');
    $c->one('connect B');
    $c->one("prepare A s$_ SELECT $_ * ?") for 1 .. 5;
    $c->one("bind A s$_ i:10") for 1 .. 5;
    my ($max, @bad) = (0);
    for my $round (1 .. 3) {
        for my $k (1 .. 5) {
            # now and then B holds a server, so A uses both
            $c->one('query B BEGIN'), $c->one('query B SELECT 1') if $k == 3;
            my ($r) = $c->rows("exec A s$k");
            push @bad, "round $round s$k: " . join('|', @{ $r // ['none'] })
                unless $r && $r->[0] == 10 * $k;
            $c->one('query B COMMIT') if $k == 3;
            my $n = prepared_stmt_count();
            $max = $n if $n > $max;
        }
    }
    is(join("\n", @bad), '', 'five statements in turn, at most two kept per server: right '
            . 'results');
    ok($max >= 1 && $max <= 4, "MariaDB's Prepared_stmt_count stayed within 2 x 2 (max $max)");
    like($c->one('prepare A s6 SELECT 6'), qr/^prepared id=6 /, 'a sixth statement: id 6');
    $c->close;
    $w->stop;
}

# ---- MariaDB's max_prepared_stmt_count reached by the servers together ----------------------
# 2 servers x 8 statements would be 16; MariaDB allows 10. A prepare refused with ERR 1461 makes
# weir close the older half of that connection's statements and try again.
{
    $m->admin_sql('SET GLOBAL max_prepared_stmt_count = 10');
    my $w = txn_weir(max_prepared_statements => 8);
    my $c = MyStmt->new($w->mysql_port);
    $c->one('connect A');
    $c->one('connect B');
    my @bad;
    for my $k (1 .. 8) {
        my $p = $c->one("prepare A s$k SELECT $k * ?");
        push @bad, "prepare s$k: $p" unless $p =~ /^prepared /;
        $c->one("bind A s$k i:3");
    }
    my $max = 0;
    for my $round (1 .. 2) {
        # B holds one server, so A's statements go to the other one too
        $c->one('query B BEGIN') if $round == 1;
        $c->one('query B SELECT 1') if $round == 1;
        for my $k (1 .. 8) {
            my ($r) = $c->rows("exec A s$k");
            push @bad, "round $round s$k: " . join('|', @{ $r // ['none'] })
                unless $r && $r->[0] == 3 * $k;
            my $n = prepared_stmt_count();
            $max = $n if $n > $max;
        }
        $c->one('query B COMMIT') if $round == 1;
    }
    is(join("\n", @bad), '', 'every statement prepared and ran although MariaDB refused some '
            . 'prepares (ERR 1461)');
    ok($max <= 10, "Prepared_stmt_count stayed within MariaDB's 10 (max $max)");
    $w->log_like(qr/max_prepared_stmt_count is reached/, 'the log says why statements '
            . 'were closed');
    $c->close;
    $w->stop;
    $m->admin_sql('SET GLOBAL max_prepared_stmt_count = 16382');
}

my $w = txn_weir();
my $c = MyStmt->new($w->mysql_port);
$c->one('connect A');
$c->one('connect B');
$c->one('connect C');

# ---- long data over the bound ---------------------------------------------------------------
{
    $c->one('prepare A lb SELECT LENGTH(?)');
    $c->one('bind A lb b:1000000');
    is_deeply([$c->rows('exec A lb')], [[1000000]], '1 MB of long data is fine');
    $c->one('bind A lb b:17000000');
    like($c->one('exec A lb'), qr/^error 1153 .*16 MiB/, '17 MB of long data: ERR 1153, '
            . 'over 16 MiB');
    $c->one('bind A lb s:abc');
    is_deeply([$c->rows('exec A lb')], [[3]], 'the statement works after it');
    is_deeply([$c->rows('query A SELECT 1')], [[1]], 'and so does the connection');
}

# ---- a cursor keeps its server -----------------------------------------------------------
{
    $c->one('prepare A cur SELECT seq, CONNECTION_ID() FROM seq_1_to_5');
    is($c->one('cursor A cur'), 'ok', 'cursor: read-only, 1 row per fetch');
    is($c->one('exec A cur'), 'cursor open', 'EXECUTE opened a cursor');
    my (@rows, %b_servers);
    for my $k (1 .. 5) {
        push @rows, $c->rows('fetch A cur 1');
        # B between the fetches: never on A's server
        my ($r) = $c->rows('query B SELECT CONNECTION_ID()');
        $b_servers{ $r->[0] }++;
    }
    is_deeply([map { $_->[0] } @rows], [1 .. 5], 'five fetches, one row each');
    my %a_servers = map { $_->[1] => 1 } @rows;
    is(scalar(keys %a_servers), 1, 'every row came from one server (' . join(',', keys %a_servers)
            . ')');
    my ($x) = keys %a_servers;
    ok(!$b_servers{$x}, "B never got A's server $x meanwhile (" . join(',', keys %b_servers) . ')');
    is(($c->cmd('fetch A cur 1'))[-1], 'end', 'the cursor is done');
    # Now A's server is free: B and C each holding one, they hold both.
    $c->one('query B BEGIN');
    my ($rb) = $c->rows('query B SELECT CONNECTION_ID()');
    $c->one('query C BEGIN');
    my ($rc2) = $c->rows('query C SELECT CONNECTION_ID()');
    ok($rb && $rc2 && ($rb->[0] eq $x || $rc2->[0] eq $x),
        "after the last row, A's server $x goes to other clients ("
            . join(',', map { $_ ? $_->[0] : 'none' } $rb, $rc2) . ')');
    $c->one('query B COMMIT');
    $c->one('query C COMMIT');
    # A cursor closed early by COM_STMT_RESET gives its server back too.
    is($c->one('exec A cur'), 'cursor open', 'a second cursor');
    my ($r1) = $c->rows('fetch A cur 1');
    is($c->one('reset A cur'), 'ok', 'COM_STMT_RESET closes it');
    $c->one('query B BEGIN');
    ($rb) = $c->rows('query B SELECT CONNECTION_ID()');
    $c->one('query C BEGIN');
    ($rc2) = $c->rows('query C SELECT CONNECTION_ID()');
    ok($rb && $rc2 && ($rb->[0] eq $r1->[1] || $rc2->[0] eq $r1->[1]),
        "after the reset, A's server goes to other clients");
    $c->one('query B COMMIT');
    $c->one('query C COMMIT');
}

# ---- a server lost between transactions ------------------------------------------------------
{
    $c->one('prepare A lost SELECT ? + 1, CONNECTION_ID()');
    $c->one('bind A lost i:1');
    my ($r) = $c->rows('exec A lost');
    is($r->[0], 2, "A's statement ran on server $r->[1]");
    $c->one('prepare A gone SELECT v FROM t57');
    is_deeply([map { $_->[0] } $c->rows('exec A gone')], [57], 'and a statement on table t57');
    my $before = () = $w->log_text =~ /closing: server closed the connection while idle/g;
    my ($out, $kerr, $krc) = $m->admin_sql("KILL $r->[1]");
    is($krc, 0, "KILL $r->[1] from an admin connection") or diag($kerr);
    ok(wait_until(10, sub {
        (() = $w->log_text =~ /closing: server closed the connection while idle/g) > $before
    }), 'weir saw its idle server go');
    my ($r2) = $c->rows('exec A lost');
    ok($r2 && $r2->[0] == 2 && $r2->[1] ne $r->[1],
        'the next EXECUTE ran on another server (' . ($r2 ? $r2->[1] : 'none') . ')');
    # The table goes and so do both servers: preparing it again fails with the server's error.
    $m->admin_sql('DROP TABLE shop.t57');
    my @ids = map { $_->{ID} } @{ $m->backends };
    $m->admin_sql("KILL $_") for @ids;
    ok(@ids && wait_until(10, sub { $m->count_backends == 0 }),
        'every server KILLed (' . join(',', @ids) . ')');
    ok(wait_until(10, sub {
        (() = $w->log_text =~ /closing: server closed the connection while idle/g)
            >= $before + 1 + @ids
    }), 'weir saw them go');
    like($c->one('exec A gone'), qr/^error 1146 /, 'EXECUTE of the statement whose table is '
            . 'gone: the error of the prepare on the new server (1146)');
    ($r2) = $c->rows('exec A lost');
    is($r2 && $r2->[0], 2, 'the connection and its other statement work on');
}
$c->close;
$w->stop;

# ---- max_prepared_statements = 0: statements pin, as before ---------------------------------
{
    my $w0 = txn_weir(max_prepared_statements => 0);
    my $c0 = MyStmt->new($w0->mysql_port);
    $c0->one('connect A');
    $c0->one('connect B');
    like($c0->one('prepare A p SELECT ? + 1, CONNECTION_ID()'), qr/^prepared /, 'prepared');
    $c0->one('bind A p i:1');
    my (%a, %b);
    for (1 .. 5) {
        my ($r) = $c0->rows('exec A p');
        $a{ $r->[1] }++ if $r && $r->[0] == 2;
        $c0->one('query B BEGIN');
        my ($rb) = $c0->rows('query B SELECT CONNECTION_ID()');
        $b{ $rb->[0] }++;
        $c0->one('query B COMMIT');
    }
    is(scalar(keys %a), 1, 'A stays on one server (' . join(',', keys %a) . ')');
    my ($x) = keys %a;
    ok(!$b{$x}, "B never gets it (" . join(',', keys %b) . ')');
    $c0->close;
    $w0->stop;
}

# ---- session pooling: untouched --------------------------------------------------------------
{
    my $ws = $m->start_weir(weir => { pool_mode => 'session', workers => 1 });
    my $cs = MyStmt->new($ws->mysql_port);
    $cs->one('connect A');
    like($cs->one('prepare A p SELECT ? * 3'), qr/^prepared /, 'session pooling: prepared');
    $cs->one('bind A p d:1.5');
    is_deeply([$cs->rows('exec A p')], [[4.5]], 'session pooling: runs');
    $cs->close;
    $ws->stop;
}

done_testing();
