# t56_mysql_prepared.t -- binary prepared statements that follow their client in transaction
# pooling (pool_size 2, one worker), through MariaDB Connector/C's mysql_stmt_* API (the
# my_stmt client, MyStmt.pm) and raw protocol packets:
#   - a statement prepared on one server runs on the other (a second client holds the first
#     in a transaction), and the ids two clients get are both 1 yet name their own statements;
#   - an EXECUTE without parameter types (Connector/C sends them with the first EXECUTE after
#     a bind only) on a server that has not seen them, or saw another client's types for the
#     same text last (the servers share one statement per text);
#   - parameters of several types: integer, double, string, NULL and a blob sent with
#     COM_STMT_SEND_LONG_DATA, written on one server and read back on the other;
#   - a prepare error (syntax), after which the session and later prepares work;
#   - MariaDB's execute_direct: PREPARE and EXECUTE of "the last prepared" (id -1) together;
#   - COM_STMT_RESET, on the statement's server and on one that never saw it;
#   - COM_STMT_CLOSE, and ids weir does not know (ERR 1243, connection kept), from raw packets;
#   - COM_RESET_CONNECTION forgetting the client's statements, as the server would;
#   - a client without MariaDB's metadata cache gets column definitions in its results on a
#     server weir prepared the statement on itself;
#   - a statement prepared in one schema, run after USE of another on a server that never saw
#     it: names resolve in the first schema, and the client's schema is still the second.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use MyStmt;
use Test::More;
use Digest::MD5 qw(md5_hex);

my $m = MyTest->new;
my (undef, $err, $rc) = $m->admin_sql(join '',
    'CREATE TABLE shop.t56 (id INT PRIMARY KEY, d DOUBLE, s VARCHAR(100), n INT NULL, ',
    'b LONGBLOB);',
    'CREATE DATABASE shop2; GRANT ALL ON shop2.* TO app@"%"; GRANT ALL ON shop2.* TO ',
    'app@localhost;',
    'CREATE TABLE shop.tsch (v INT); INSERT INTO shop.tsch VALUES (1);',
    'CREATE TABLE shop2.tsch (v INT); INSERT INTO shop2.tsch VALUES (2);');
is($rc, 0, 'tables created') or diag($err);

my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 1,
        default_pool_size => 2, query_wait_timeout => 20, admin_users => 'admin' },
    users => { app => 'apppass', admin => 'adminpass' });
my $c = MyStmt->new($w->mysql_port);
is($c->one('connect A'), 'connected', 'A connected');
is($c->one('connect B'), 'connected', 'B connected');

# The server the connection's next statement runs on, held until COMMIT.
sub hold {
    my ($who) = @_;
    $c->one("query $who BEGIN");
    my ($r) = $c->rows("query $who SELECT CONNECTION_ID()");
    return $r->[0];
}

# ---- a statement on two servers; ids per client -----------------------------------------
{
    my $pa = $c->one('prepare A s1 SELECT ? + 1, CONNECTION_ID()');
    my $pb = $c->one("prepare B s1 SELECT CONCAT(?, '-b'), CONNECTION_ID()");
    like($pa, qr/^prepared id=1 params=1 cols=2$/, "A's first statement is id 1 ($pa)");
    like($pb, qr/^prepared id=1 params=1 cols=2$/, "B's first statement is id 1 too ($pb)");
    $c->one('bind A s1 i:41');
    $c->one('bind B s1 s:x');
    my (%a_servers, @bad);
    for my $round (1 .. 6) {
        # B holds a server; A's statement runs on the other one.
        my $held = hold('B');
        my ($ra) = $c->rows('exec A s1');
        push @bad, "round $round: A got " . join('|', @{ $ra // [] }) unless $ra && $ra->[0] eq '42';
        push @bad, "round $round: A ran on B's server $held" if $ra && $ra->[1] eq $held;
        $a_servers{ $ra->[1] }++ if $ra;
        my ($rb) = $c->rows('exec B s1');
        push @bad, "round $round: B got " . join('|', @{ $rb // [] })
            unless $rb && $rb->[0] eq 'x-b' && $rb->[1] eq $held;
        $c->one('query B COMMIT');
        # and the other way round: A's statement runs on the server B held
        my $held_a = hold('A');
        ($ra) = $c->rows('exec A s1');
        push @bad, "round $round: A (holding $held_a) got " . join('|', @{ $ra // [] })
            unless $ra && $ra->[0] eq '42' && $ra->[1] eq $held_a;
        $a_servers{ $ra->[1] }++ if $ra;
        ($rb) = $c->rows('exec B s1');
        push @bad, "round $round: B (A holding) got " . join('|', @{ $rb // [] })
            unless $rb && $rb->[0] eq 'x-b' && $rb->[1] ne $held_a;
        $c->one('query A COMMIT');
    }
    is(join("\n", @bad), '', "A's and B's statements (both id 1) give their own results");
    is(scalar(keys %a_servers), 2, "A's statement ran on both servers ("
            . join(', ', sort keys %a_servers) . ')');
}

# ---- parameter types the server has not seen, or saw another client's of -----------------
{
    $c->one('prepare A t SELECT ? * 2, CONNECTION_ID()');
    $c->one('prepare B t SELECT ? * 2, CONNECTION_ID()');
    $c->one('bind A t i:21');
    $c->one('bind B t d:1.25');
    my ($same, @bad) = (0);
    for my $round (1 .. 10) {
        # One after the other: both usually get the server released last, whose statement
        # for this text saw the other client's types last.
        my ($ra) = $c->rows('exec A t');
        my ($rb) = $c->rows('exec B t');
        push @bad, "round $round: A " . join('|', @{ $ra // [] }) unless $ra && $ra->[0] eq '42';
        push @bad, "round $round: B " . join('|', @{ $rb // [] }) unless $rb && $rb->[0] eq '2.5';
        $same++ if $ra && $rb && $ra->[1] eq $rb->[1];
        if ($round % 3 == 0) {
            # and now and then on the other server, which may not have the statement
            my $held = hold('B');
            ($ra) = $c->rows('exec A t');
            push @bad, "round $round (other server): A " . join('|', @{ $ra // [] })
                unless $ra && $ra->[0] eq '42' && $ra->[1] ne $held;
            $c->one('query B COMMIT');
        }
    }
    is(join("\n", @bad), '', 'integer and double parameters of one text keep their types, '
            . 'sent once per bind');
    ok($same >= 1, "A and B ran the shared statement on the same server ($same of 10 rounds)");
}

# ---- integer, double, string, NULL, long data --------------------------------------------
# The blob's bytes: 64 KiB chunks, chunk k filled with 'a' + k % 26 (my_stmt.c).
sub blob_md5 {
    my ($len) = @_;
    my $s = '';
    for (my $k = 0; length($s) < $len; $k++) {
        my $n = $len - length($s) < 65536 ? $len - length($s) : 65536;
        $s .= chr(ord('a') + $k % 26) x $n;
    }
    return md5_hex($s);
}
{
    like($c->one('prepare A ins INSERT INTO t56 VALUES (?, ?, ?, ?, ?)'),
        qr/^prepared id=\d+ params=5 cols=0$/, 'INSERT with 5 parameters prepared');
    $c->one('bind A ins i:1 d:2.5 s:hello%20world n b:300000');
    is($c->one('exec A ins'), 'ok 1', 'row 1 inserted (300000-byte blob as long data)');
    my $held = hold('B');
    $c->one('bind A ins i:2 d:-0.125 s:second n b:70000');
    is($c->one('exec A ins'), 'ok 1', 'row 2 inserted on the other server');
    $c->one('query B COMMIT');
    $c->one('bind A ins i:3 d:1e300 s:third i:7 b:1');
    is($c->one('exec A ins'), 'ok 1', 'row 3 inserted');
    my @rows = $c->rows('query A SELECT id, d, s, n IS NULL, n, LENGTH(b), MD5(b) FROM t56 '
            . 'ORDER BY id');
    is_deeply(\@rows, [
            [1, '2.5', 'hello world', 1, 'NULL', 300000, blob_md5(300000)],
            [2, '-0.125', 'second', 1, 'NULL', 70000, blob_md5(70000)],
            [3, '1e300', 'third', 0, 7, 1, blob_md5(1)],
        ], 'the rows hold what the parameters carried') or diag(explain \@rows);
    $c->one('prepare A sel SELECT s, LENGTH(b) FROM t56 WHERE id = ? OR s = ?');
    $c->one('bind A sel i:2 s:third');
    my $held2 = hold('B');
    my @r = $c->rows('exec A sel');
    is_deeply(\@r, [['second', 70000], ['third', 1]], 'read back through a prepared SELECT');
    $c->one('query B COMMIT');
}

# ---- a prepare error, and the session after it ------------------------------------------
{
    like($c->one('prepare A bad SELEC 1'), qr/^error 1064 /, 'syntax error: ERR 1064');
    like($c->one('prepare A bad2 SELECT * FROM no_such_table'), qr/^error 1146 /,
        'unknown table: ERR 1146');
    is_deeply([$c->rows('query A SELECT 1 + 1')], [[2]], 'the session works after them');
    like($c->one('prepare A good SELECT 40 + 2'), qr/^prepared /, 'a prepare after them works');
    is_deeply([$c->rows('exec A good')], [[42]], '... and runs');
}

# ---- PREPARE and EXECUTE together (MariaDB's execute_direct, statement id -1) --------------
{
    is_deeply([$c->rows('direct A d1 SELECT 40 + 3')], [[43]],
        'execute_direct: PREPARE and EXECUTE of the last prepared statement sent together');
    like($c->one('direct A d2 SELEC 3'), qr/^error 1064 /,
        'execute_direct of a syntax error: ERR 1064, not the statement prepared before');
    is_deeply([$c->rows('query A SELECT 44')], [[44]], 'the session works after it');
}

# ---- COM_STMT_RESET ------------------------------------------------------------------------
{
    $c->one('prepare A r SELECT LENGTH(?), CONNECTION_ID()');
    $c->one('bind A r s:abc');
    my ($x) = $c->rows('exec A r');
    is($x->[0], 3, 'statement r runs');
    is($c->one('longdata A r 0 5000'), 'ok', 'long data sent for parameter 0');
    is($c->one('reset A r'), 'ok', 'COM_STMT_RESET: OK');
    my ($y) = $c->rows('exec A r');
    is($y->[0], 3, 'after the reset the long data is gone: the bound string is used');
    # On a server that does not have the statement: answered by weir.
    my $held = hold('B');
    $held eq $y->[1] or do { $c->one('query B COMMIT'); $held = hold('B') };
    is($c->one('longdata A r 0 5000'), 'ok', 'long data again');
    is($c->one('reset A r'), 'ok', 'COM_STMT_RESET while B holds the server that has it: OK');
    my ($z) = $c->rows('exec A r');
    is($z->[0], 3, '... and the long data is gone there too');
    $c->one('query B COMMIT');
}

# ---- COM_STMT_CLOSE and ids weir does not know (raw packets) --------------------------------
sub raw_client {
    my $s = MyTest::my_connect($w->mysql_port) or die 'connect';
    my $l = my_login($s);
    die 'login failed' unless $l->{ok};
    return $s;
}

# read_resp($s) -> packets of one response: a prepare's (OK and definitions), an ERR, or a
# result (column count, definitions, EOF, rows, EOF).
sub read_resp {
    my ($s, $kind) = @_;
    my @p;
    my $next = sub { my ($seq, $p) = my_read_packet($s, 20); die "closed\n" unless defined $p;
        push @p, $p; return $p };
    my $f = $next->();
    return @p if ord($f) == 0xff || (ord($f) == 0 && $kind ne 'prepare');
    if ($kind eq 'prepare') {
        my ($ncols, $nparams) = unpack('vv', substr($f, 5, 4));
        $next->() for 1 .. ($nparams ? $nparams + 1 : 0) + ($ncols ? $ncols + 1 : 0);
        return @p;
    }
    my $n = ord($f);
    $n = ord(substr($f, 0, 1)) if length($f) > 1;    # metadata-follows byte after the count
    my $meta = length($f) == 1 || ord(substr($f, 1, 1));
    if ($meta) { $next->() for 1 .. $n }
    $next->();    # EOF
    while (1) { my $q = $next->(); last if ord($q) == 0xfe && length($q) < 9 || ord($q) == 0xff }
    return @p;
}

sub err_code { my ($p) = @_; return ord($p) == 0xff ? unpack('v', substr($p, 1, 2)) : undef }
{
    my $s = raw_client();
    syswrite($s, my_packet(0, "\x16SELECT 5"));
    my @p = read_resp($s, 'prepare');
    my $id = unpack('V', substr($p[0], 1, 4));
    ok($id > 0, "raw: prepared, id $id");
    syswrite($s, my_packet(0, "\x17" . pack('V', $id) . "\0" . pack('V', 1)));
    @p = read_resp($s, 'result');
    ok(!defined err_code($p[0]), 'raw: EXECUTE runs it');
    syswrite($s, my_packet(0, "\x19" . pack('V', $id)));    # COM_STMT_CLOSE: no answer
    syswrite($s, my_packet(0, "\x17" . pack('V', $id) . "\0" . pack('V', 1)));
    @p = read_resp($s, 'result');
    is(err_code($p[0]), 1243, 'raw: EXECUTE after COM_STMT_CLOSE: ERR 1243 unknown handler');
    syswrite($s, my_packet(0, "\x17" . pack('V', 777) . "\0" . pack('V', 1)));
    @p = read_resp($s, 'result');
    is(err_code($p[0]), 1243, 'raw: EXECUTE of an id never given: ERR 1243');
    syswrite($s, my_packet(0, "\x1c" . pack('VV', $id, 1)));
    @p = read_resp($s, 'result');
    is(err_code($p[0]), 1243, 'raw: FETCH of a closed statement: ERR 1243');
    syswrite($s, my_packet(0, "\x1a" . pack('V', 778)));
    @p = read_resp($s, 'result');
    is(err_code($p[0]), 1243, 'raw: RESET of an id never given: ERR 1243');
    my $q = my_query($s, 'SELECT 7');
    is($q->{results}[0]{rows}[0][0], 7, 'raw: the connection still works');

    # COM_RESET_CONNECTION forgets the client's statements, as the server would.
    syswrite($s, my_packet(0, "\x16SELECT 6"));
    @p = read_resp($s, 'prepare');
    my $id2 = unpack('V', substr($p[0], 1, 4));
    syswrite($s, my_packet(0, "\x1f"));
    my (undef, $ok) = my_read_packet($s, 20);
    is(ord($ok // "\xff"), 0, 'raw: COM_RESET_CONNECTION: OK');
    syswrite($s, my_packet(0, "\x17" . pack('V', $id2) . "\0" . pack('V', 1)));
    @p = read_resp($s, 'result');
    is(err_code($p[0]), 1243, 'raw: a statement from before COM_RESET_CONNECTION is gone');
    syswrite($s, my_packet(0, "\x16SELECT 8"));
    @p = read_resp($s, 'prepare');
    is(ord($p[0]), 0, 'raw: prepares work after the reset');
    close $s;
}

# ---- a client without MariaDB's metadata cache, on a server weir prepared for it ------------
# The server leaves the column definitions out of results for statements whose prepare it
# answered (weir's own, here); weir puts in those of the client's own prepare.
{
    my $p = MyTest::my_connect($w->mysql_port) or die 'connect';
    my $l = my_login($p, mysql_client => 1);
    ok($l->{ok}, 'a plain MySQL-protocol client logs in');
    # Its pool is its own (other capabilities): another plain client holds servers in it.
    my $h = MyTest::my_connect($w->mysql_port) or die 'connect';
    ok(my_login($h, mysql_client => 1)->{ok}, 'and another one');
    syswrite($p, my_packet(0, "\x16SELECT ? + 1 AS a, 'x' AS b, CONNECTION_ID() AS c"));
    my @prep = read_resp($p, 'prepare');
    my $id = unpack('V', substr($prep[0], 1, 4));
    my (%servers, @bad);
    for my $round (1 .. 4) {
        my $held = $round % 2;    # every other round H holds a server: P uses the other
        if ($held) { my_query($h, 'BEGIN'); my_query($h, 'SELECT 1') }
        syswrite($p, my_packet(0, "\x17" . pack('VCV', $id, 0, 1) . "\0\x01\x08\x00"
                . pack('q<', 10 * $round)));
        my @r = read_resp($p, 'result');
        # column count 3, three definitions, EOF, one row, EOF
        my @names = map { my $d = $r[$_]; my $pos = 0; my @f;
            for (1 .. 6) { my $n = ord(substr($d, $pos, 1)); push @f, substr($d, $pos + 1, $n);
                $pos += 1 + $n }
            $f[4] } 1 .. 3;
        my $row = $r[5] // '';
        # 0x00, a 1-byte null bitmap, a (8 bytes), b ('x', lenenc), c
        my $v = unpack('q<', substr($row, 2, 8));
        push @bad, "round $round: " . scalar(@r) . " packets, columns @names, a=$v"
            unless @r == 7 && "@names" eq 'a b c' && $v == 10 * $round + 1;
        $servers{ unpack('H*', substr($row, 12)) }++;
        my_query($h, 'COMMIT') if $held;
    }
    is(join("\n", @bad), '', 'its results have their column definitions on every server');
    is(scalar(keys %servers), 2, 'it ran on both servers');
    close $p;
    close $h;
}

# ---- a statement keeps the schema it was prepared in --------------------------------------
{
    is($c->one('query A USE shop2'), 'ok 0', 'A: USE shop2');
    $c->one('prepare A sch SELECT v, DATABASE() FROM tsch');
    is_deeply([$c->rows('exec A sch')], [[2, 'shop2']], 'prepared in shop2: reads shop2.tsch');
    is($c->one('query A USE shop'), 'ok 0', 'A: USE shop');
    my (@bad, %servers);
    my $check = sub {
        my ($round) = @_;
        my ($r) = $c->rows('exec A sch');
        push @bad, "round $round: " . join('|', @{ $r // [] }) unless $r && $r->[0] eq '2';
        my ($id) = $c->rows('query A SELECT CONNECTION_ID(), DATABASE()');
        $servers{ $id->[0] }++;
        push @bad, "round $round: A's schema is now $id->[1]" unless $id->[1] eq 'shop';
    };
    for my $round (1 .. 3) {
        hold('B');
        $check->("$round, B holding");
        $c->one('query B COMMIT');
        $check->($round);    # on the server B just gave back
    }
    is(join("\n", @bad), '', 'on every server it still reads shop2.tsch, and the client '
            . 'stays in shop');
    is(scalar(keys %servers), 2, 'A ran it on both servers');
}

$c->close;

# The console counts the statement work as PgBouncer does: statements clients prepared,
# statements weir prepared on servers for them, executions.
{
    my $con = DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    my $rows = $con ? $con->selectall_arrayref('SHOW STATS', { Slice => {} }) : [];
    my ($st) = grep { $_->{database} eq 'shop' } @$rows;
    ok($st && $st->{total_client_parse_count} > 0, 'SHOW STATS: total_client_parse_count '
            . ($st->{total_client_parse_count} // 'none'));
    ok($st && $st->{total_server_parse_count} > 0, 'SHOW STATS: total_server_parse_count '
            . ($st->{total_server_parse_count} // 'none'));
    ok($st && $st->{total_bind_count} >= $st->{total_client_parse_count},
        'SHOW STATS: total_bind_count ' . ($st->{total_bind_count} // 'none'));
    # SHOW MEM: the statements the servers hold (the clients have gone, theirs with them).
    my $mem = $con ? $con->selectall_hashref('SHOW MEM', 'name') : {};
    my ($cs, $ss) = @$mem{qw(my_client_stmt my_server_stmt)};
    ok($cs && $cs->{used} == 0 && $cs->{memtotal} == 0, 'SHOW MEM: no client statement left');
    ok($ss && $ss->{used} >= 1 && $ss->{memtotal} > $ss->{size} * $ss->{used},
        'SHOW MEM: statements held by servers, with their texts ('
            . ($ss ? "$ss->{used}, $ss->{memtotal} B" : 'none') . ')');
    $con->disconnect if $con;
}
$w->stop;
done_testing();
