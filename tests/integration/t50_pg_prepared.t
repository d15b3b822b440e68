# t50_pg_prepared.t -- protocol-level prepared statements in transaction pooling, by hand on the
# wire: statements reused across clients and servers (pools of 1 and 2, a client forced onto a
# second server), eviction at max_prepared_statements = 2 (the server's pg_prepared_statements
# never holds more), a Parse the server rejects reaching the client as directly, a name in use
# (42P05), Close, DEALLOCATE, DEALLOCATE ALL, DISCARD ALL, and a server lost with statements
# prepared (between transactions, during a query, inside a transaction block).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use PsTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new();
my $INT4 = 23;

sub weir_with {
    my (%o) = @_;
    my $db = "host=127.0.0.1 port=" . $t->pgport . " dbname=testdb pool_size=$o{pool}";
    return $t->start_weir(databases => { testdb => $db },
        weir => { pool_mode => $o{mode} // 'transaction',
            max_prepared_statements => $o{max} // 200, workers => $o{workers} // 1 });
}

# ---- reuse across clients and servers ----------------------------------------------------
{
    my $w = weir_with(pool => 1);
    my ($a, $b) = (ps_client($w), ps_client($w));
    is(types(exchange($a, 1, parse('s1', 'SELECT $1::int + 1', $INT4), sync())), '1Z',
        'client A prepares s1: ParseComplete, ReadyForQuery');
    is(types(exchange($b, 1, parse('s1', 'SELECT $1::int + 1', $INT4), sync())), '1Z',
        'client B prepares the same text under the same name');
    is(types(exchange($b, 1, parse('two', "SELECT 'two'::text", ), sync())), '1Z',
        'client B prepares a second statement');
    my $r = exchange($a, 1, bind('', 's1', 41), execute(), sync());
    is(types($r), '2DCZ', 'A executes s1');
    is(rows_of($r)->[0][0], 42, '... with its result');
    $r = exchange($b, 1, bind('', 'two'), execute(), bind('', 's1', 1), execute(), sync());
    is_deeply(rows_of($r), [['two'], [2]], 'B executes both in one pipeline');
    my $names = server_names($a);
    is(scalar(@$names), 2, 'the one server holds two statements (one per distinct text)');
    ok(!grep({ !/^weir_[0-9a-f]{32}$/ } @$names), "... under weir's names: @$names");
    $r = exchange($a, 1, bind('', 'two'), execute(), sync());
    is(types($r), 'EZ', 'A binding a name only B has: an error');
    is(err_of($r)->{C}, '26000', "... PostgreSQL's 26000: the name is B's only");
    # weir's names are not the clients' to close: another client's statements stay.
    my $c = ps_client($w);
    $r = exchange($c, 1, map({ close_s($_) } @$names), sync());
    is(types($r), '33Z', "a third client's Close of weir's names: CloseComplete");
    $r = exchange($c, 1, query("DEALLOCATE $names->[0]"));
    is(err_of($r)->{C}, '26000', '... DEALLOCATE of one: not its statement');
    $r = exchange($c, 1, bind('', $names->[0]), execute(), sync());
    is(err_of($r)->{C}, '26000', '... nor is Bind');
    is_deeply(server_names($c), $names, '... and the server still has them');
    $r = exchange($b, 1, bind('', 'two'), execute(), sync());
    is(rows_of($r)->[0][0], 'two', 'B still executes its statement');
    $w->stop;
}
{
    my $w = weir_with(pool => 2);
    my ($a, $b) = (ps_client($w), ps_client($w));
    exchange($a, 1, parse('s1', 'SELECT $1::int * 10', $INT4), sync());
    exchange($b, 1, parse('s1', 'SELECT $1::int * 10', $INT4), sync());
    my $r = exchange($a, 1, query('BEGIN'));
    is($r->[-1][1], 'T', 'A holds a server in a transaction');
    $r = exchange($a, 1, bind('', 's1', 3), execute(), sync());
    is(rows_of($r)->[0][0], 30, 'A executes s1 inside its transaction');
    $r = exchange($b, 1, bind('', 's1', 4), execute(), sync());
    is(types($r), '2DCZ', 'B, on the other server, executes s1 (prepared there for it)');
    is(rows_of($r)->[0][0], 40, '... with its result');
    my $pa = rows_of(exchange($a, 1, query('SELECT pg_backend_pid()')))->[0][0];
    my $pb = rows_of(exchange($b, 1, query('SELECT pg_backend_pid()')))->[0][0];
    isnt($pa, $pb, "A and B were on different servers ($pa, $pb)");
    is(scalar(@{ server_names($b) }), 1, "B's server holds the statement once");
    exchange($a, 1, query('COMMIT'));
    for my $i (1 .. 10) {
        my $c = $i % 2 ? $a : $b;
        $r = exchange($c, 1, bind('', 's1', $i), execute(), sync());
        is(rows_of($r)->[0][0], $i * 10, "round $i: right result on whichever server")
            or diag(types($r), ' ', join(' ', %{ err_of($r) }));
    }
    $w->stop;
}

# ---- eviction: at most 2 statements per server ----------------------------------------------
{
    my $w = weir_with(pool => 1, max => 2);
    my ($a, $b) = (ps_client($w), ps_client($w));
    for my $k (1 .. 5) {
        is(types(exchange($a, 1, parse("q$k", "SELECT $k AS k, \$1::int AS p", $INT4), sync())),
            '1Z', "A prepares q$k");
        exchange($b, 1, parse("b$k", "SELECT -$k AS k"), sync());
    }
    my ($ok, $max) = (1, 0);
    for my $round (1 .. 3) {
        for my $k (1 .. 5) {
            my $r = exchange($a, 1, bind('', "q$k", $round), execute(), sync());
            $ok = 0 unless types($r) eq '12DCZ' || types($r) eq '2DCZ';
            $ok = 0 unless "@{ rows_of($r)->[0] // [] }" eq "$k $round";
            $r = exchange($b, 1, bind('', "b$k"), execute(), sync());
            $ok = 0 unless (rows_of($r)->[0][0] // '') eq -$k;
            my $n = scalar @{ server_names($a) };
            $max = $n if $n > $max;
        }
    }
    ok($ok, 'every execution of 10 statements over 2 slots gave its own result');
    ok($max >= 1 && $max <= 2, "pg_prepared_statements never held more than 2 (max $max)");
    # A pipeline using all five at once still works (each re-prepared, evicted in turn).
    my $r = exchange($a, 1, map({ (bind('', "q$_", 7), execute()) } 1 .. 5), sync());
    is_deeply(rows_of($r), [map { [$_, 7] } 1 .. 5], 'one pipeline over all five statements');
    is(types($r) =~ tr/1//, 0, 'no ParseComplete reaches the client for weir\'s own Parse');
    cmp_ok(scalar @{ server_names($a) }, '<=', 2, '... and the server still holds at most 2');
    $w->stop;
}

# ---- errors: a Parse the server rejects, a name in use ------------------------------------
{
    my $w = weir_with(pool => 1);
    my $a = ps_client($w);
    my $r = exchange($a, 1, parse('bad', 'SELEC 1'), sync());
    is(types($r), 'EZ', 'a syntax error: ErrorResponse, ReadyForQuery');
    is(err_of($r)->{C}, '42601', '... 42601 from the server');
    like(err_of($r)->{M}, qr/syntax error/, '... with its message');
    $r = exchange($a, 1, bind('', 'bad'), execute(), sync());
    is(err_of($r)->{C}, '26000', 'the rejected statement does not exist');
    $r = exchange($a, 1, parse('bad', 'SELECT 7'), bind('', 'bad'), execute(), sync());
    is(types($r), '12DCZ', 'its name is free: Parse, Bind, Execute in one go');
    is(rows_of($r)->[0][0], 7, '... with the result');
    $r = exchange($a, 1, parse('p2', 'SELEC'), bind('', 'p2'), execute(), sync());
    is(types($r), 'EZ', 'an error early in a pipeline skips the rest up to Sync');
    $r = exchange($a, 1, parse('p2', 'SELECT 8'), sync());
    is(types($r), '1Z', '... and the skipped statement was not kept');

    $r = exchange($a, 1, parse('bad', 'SELECT 9'), sync());
    is(types($r), 'EZ', 'Parse of a name in use: an error');
    is(err_of($r)->{C}, '42P05', '... 42P05');
    is(err_of($r)->{M}, 'prepared statement "bad" already exists', "... PostgreSQL's message");
    $r = exchange($a, 1, parse('bad', 'SELECT 9'), bind('', 'bad'), execute(), sync());
    is(types($r), 'EZ', '... and what follows it up to Sync is skipped');
    $r = exchange($a, 1, bind('', 'bad'), execute(), sync());
    is(rows_of($r)->[0][0], 7, 'the original statement is untouched');
    $r = exchange($a, 1, describe_s('bad'), sync());
    is(types($r), 'tTZ', 'Describe of a kept statement: the server\'s answer');
    ok(exchange($a, 1, query('SELECT 1'))->[-1][0] eq 'Z', 'the session is usable');
    $w->stop;
}

# ---- Close, DEALLOCATE, DEALLOCATE ALL, DISCARD ALL ---------------------------------------
{
    my $w = weir_with(pool => 1);
    my ($a, $b) = (ps_client($w), ps_client($w));
    exchange($a, 1, map({ parse("d$_", "SELECT $_") } 1 .. 4), sync());
    exchange($b, 1, parse('d1', 'SELECT 1'), sync());
    exchange($a, 1, map({ (bind('', "d$_"), execute()) } 1 .. 4), sync());
    my $r = exchange($a, 1, close_s('d1'), sync());
    is(types($r), '3Z', 'Close: CloseComplete');
    $r = exchange($a, 1, bind('', 'd1'), execute(), sync());
    is(err_of($r)->{C}, '26000', 'the closed statement is gone for its client');
    $r = exchange($b, 1, bind('', 'd1'), execute(), sync());
    is(rows_of($r)->[0][0], 1, '... but not for another client of the same text');
    $r = exchange($a, 1, close_s('never'), sync());
    is(types($r), '3Z', 'Close of an unknown name: CloseComplete, as PostgreSQL');

    $r = exchange($a, 1, query('DEALLOCATE d2'));
    is(types($r), 'CZ', 'DEALLOCATE name: CommandComplete');
    is($r->[0][1], "DEALLOCATE\0", '... tagged DEALLOCATE');
    $r = exchange($a, 1, bind('', 'd2'), execute(), sync());
    is(err_of($r)->{C}, '26000', 'the deallocated statement is gone');
    $r = exchange($a, 1, query('deallocate prepare d2'));
    is(err_of($r)->{C}, '26000', 'DEALLOCATE of it again: the server\'s 26000');
    $r = exchange($a, 3, query('BEGIN'), query('SELECT 1/0'), query('DEALLOCATE d3'));
    my @errs = map { parse_error_fields($_->[1])->{C} } grep { $_->[0] eq 'E' } @$r;
    is_deeply(\@errs, ['22012', '25P02'], 'DEALLOCATE in a failed transaction: 25P02');
    exchange($a, 1, query('ROLLBACK'));
    $r = exchange($a, 1, bind('', 'd3'), execute(), sync());
    is(rows_of($r)->[0][0], 3, '... and the statement stays');

    $r = exchange($a, 1, query('DEALLOCATE ALL'));
    is($r->[0][1], "DEALLOCATE ALL\0", 'DEALLOCATE ALL: the server\'s tag');
    $r = exchange($a, 1, bind('', 'd3'), execute(), sync());
    is(err_of($r)->{C}, '26000', 'every statement of the client is gone');
    is_deeply(server_names($a), [], '... and the server holds none');
    $r = exchange($b, 1, bind('', 'd1'), execute(), sync());
    is(rows_of($r)->[0][0], 1, "another client's statement is prepared again where needed");
    $r = exchange($a, 1, parse('d3', 'SELECT 33'), bind('', 'd3'), execute(), sync());
    is(rows_of($r)->[0][0], 33, 'the names are free again');

    $r = exchange($a, 2, query('BEGIN'), query('DISCARD ALL'));
    is(err_of($r)->{C}, '25001', 'DISCARD ALL in a transaction block: the server refuses');
    exchange($a, 1, query('ROLLBACK'));
    $r = exchange($a, 1, bind('', 'd3'), execute(), sync());
    is(rows_of($r)->[0][0], 33, '... and the statements stay');
    $r = exchange($a, 1, query('DISCARD ALL'));
    is($r->[0][1], "DISCARD ALL\0", 'DISCARD ALL: the server\'s tag');
    $r = exchange($a, 1, bind('', 'd3'), execute(), sync());
    is(err_of($r)->{C}, '26000', 'DISCARD ALL forgets the statements');
    $r = exchange($b, 1, bind('', 'd1'), execute(), sync());
    is(rows_of($r)->[0][0], 1, "the other client's statement still works");
    $w->stop;
}

# ---- a server lost with statements prepared --------------------------------------------------
{
    my $w = weir_with(pool => 1);
    my $a = ps_client($w);
    exchange($a, 1, parse('k', 'SELECT $1::int - 1', $INT4), sync());
    my $r = exchange($a, 1, bind('', 'k', 5), execute(), sync());
    is(rows_of($r)->[0][0], 4, 'the statement runs');
    my $pid = rows_of(exchange($a, 1, query('SELECT pg_backend_pid()')))->[0][0];
    ok($pid, "the statement ran on server pid $pid");
    my $dbh = $t->pg_dbi;
    $dbh->do('SELECT pg_terminate_backend(?)', undef, $pid);
    ok(wait_until(10, sub { count_server_conns($t, db => 'testdb') == 0 }),
        'the server is gone');
    sleep 0.3;
    $r = exchange($a, 1, bind('', 'k', 10), execute(), sync());
    is(types($r), '2DCZ', 'the next use of the statement works on a new server')
        or diag(join(' ', %{ err_of($r) }));
    is(rows_of($r)->[0][0], 9, '... with the right result');
    my $pid2 = rows_of(exchange($a, 1, query('SELECT pg_backend_pid()')))->[0][0];
    isnt($pid2, $pid, "... on another server process ($pid2)");

    # Lost in the middle of a query: an error for that query only, the session goes on.
    syswrite($a, query('SELECT pg_sleep(60)'));
    ok(wait_until(10, sub {
        @{ admin_do($t, q{SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'},
            $pid2) } }), 'a long query runs');
    $dbh->do('SELECT pg_terminate_backend(?)', undef, $pid2);
    my @got;
    while (my ($type, $body) = read_msg($a, 20)) {
        push @got, [ $type, $body ];
        last if $type eq 'Z';
    }
    my @codes = map { parse_error_fields($_->[1])->{C} } grep { $_->[0] eq 'E' } @got;
    ok((grep { $_ eq '08006' } @codes), "the query gets an error (@codes)");
    is($got[-1][0], 'Z', '... then ReadyForQuery');
    is($got[-1][1], 'I', '... idle: the session goes on');
    $r = exchange($a, 1, bind('', 'k', 100), execute(), sync());
    is(rows_of($r)->[0][0], 99, 'the prepared statement works on the next server')
        or diag(types($r), ' ', join(' ', %{ err_of($r) }));
    exchange($a, 1, query('BEGIN'));
    my $pid3 = rows_of(exchange($a, 1, query('SELECT pg_backend_pid()')))->[0][0];
    $dbh->do('SELECT pg_terminate_backend(?)', undef, $pid3);
    ok(sock_closed($a, 20), 'lost inside a transaction block: the client is closed (no silent '
        . 'loss of its transaction)');
    $dbh->disconnect;
    $w->stop;
}

done_testing();
