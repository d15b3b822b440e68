# t11_timeouts.t -- one subtest per timeout (server_idle_timeout, server_lifetime,
# server_connect_timeout, server_login_retry, client_idle_timeout, client_login_timeout,
# query_timeout, query_wait_timeout, idle_transaction_timeout) and the health check, each
# asserting what a user sees: the error and SQLSTATE, the closed connection, the server
# connections in pg_stat_activity. Timeouts are checked by a 0.25 s sweep, so a 1 s timeout
# is expected to fire between ~1 and 4 s.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $pg = $t->pgport;

# Runs $n clients that each log in and run a query, all connected at once, then disconnect:
# leaves up to $n idle servers in the pool.
sub warm {
    my ($w, $n, %o) = @_;
    my @h = map { $w->dbi(%o) or die "warm: $DBI::errstr" } 1 .. $n;
    $_->selectrow_array('SELECT pg_backend_pid()') for @h;
    $_->disconnect for @h;
}

subtest 'server_idle_timeout (min_pool_size kept)' => sub {
    my $w = $t->start_weir(weir => { server_idle_timeout => 2, default_pool_size => 5 },
        databases => { forceddb => "host=127.0.0.1 port=$pg dbname=testdb user=forced "
                . 'password=forcedpass pool_size=3 min_pool_size=2' });
    warm($w, 3, db => 'forceddb');
    # The app servers go idle when warm() disconnects, after $t0.
    my $t0 = time;
    warm($w, 3);
    is(count_server_conns($t, user => 'app'), 3, '3 idle app servers after the clients left');
    ok(wait_until(15, sub { count_server_conns($t, user => 'app') == 0 }, 0.1),
        'idle app servers closed by server_idle_timeout = 2');
    my $el = time - $t0;
    ok($el >= 1.8, sprintf('closed after %.2fs, not before the timeout (2 s)', $el));
    # One of the 3 forced servers goes the same way; a closed backend leaves
    # pg_stat_activity a moment after weir closed it, so wait for the count.
    ok(wait_until(15, sub { count_server_conns($t, user => 'forced') == 2 }, 0.1),
        'forceddb (min_pool_size = 2) keeps 2 servers past the idle timeout')
        or diag('forced servers: ' . count_server_conns($t, user => 'forced'));
    my $kept = server_pids($t, user => 'forced');
    ok(keys(%$kept) == 2 && holds_for(3, sub { my $now = server_pids($t, user => 'forced');
                join(',', sort keys %$now) eq join(',', sort keys %$kept) }),
        'the same 2 forced servers are still there 3 s later (2 idle timeouts)')
        or diag('before: ' . join(',', sort keys %$kept) . ' now: '
            . join(',', sort keys %{ server_pids($t, user => 'forced') }));
    my ($out) = $w->psql('SELECT 5');
    is($out, '5', 'a new client gets a fresh server');
    $w->stop;
};

subtest 'server_lifetime' => sub {
    my $w = $t->start_weir(weir => { server_lifetime => 1, pool_mode => 'transaction',
            default_pool_size => 1, server_idle_timeout => 600 });
    my $dbh = $w->dbi or die $DBI::errstr;
    my ($p1, $s1) = $dbh->selectrow_array(q{SELECT pg_backend_pid(), backend_start::text
        FROM pg_stat_activity WHERE pid = pg_backend_pid()});
    ok($p1, "first server pid $p1");
    my ($p2, $s2);
    my $t0 = time;
    wait_until(8, sub {
        ($p2, $s2) = $dbh->selectrow_array(q{SELECT pg_backend_pid(), backend_start::text
            FROM pg_stat_activity WHERE pid = pg_backend_pid()});
        defined $p2 && $p2 != $p1;
    }, 0.2);
    my $el = time - $t0;
    ok(defined $p2 && $p2 != $p1, sprintf('the same client is served by a new server after '
        . '%.2fs (pid %s -> %s)', $el, $p1, $p2 // 'undef'));
    isnt($s2, $s1, 'backend_start changed');
    ok(!exists server_pids($t, user => 'app')->{$p1}, 'the old server is gone from PostgreSQL');
    ok($el <= 5, 'replaced within ~1-4 s');
    ok(!$dbh->err, 'the client saw no error');
    $dbh->disconnect;
    $w->stop;
};

subtest 'server_connect_timeout (server that never answers)' => sub {
    my ($fport, $fpid) = fake_server(60);
    my $w = $t->start_weir(weir => { server_connect_timeout => 2, server_login_retry => 1 },
        databases => { fakedb => "host=127.0.0.1 port=$fport dbname=fake" });
    my ($s, $r, $el) = raw_connect($w, database => 'fakedb', timeout => 15);
    ok($r->{error}, 'login to a silent server fails') or diag(explain($r));
    is($r->{error}{S}, 'FATAL', 'FATAL');
    like($r->{error}{M} // '', qr/server_connect_timeout/, "message: $r->{error}{M}");
    ok($el >= 1.8 && $el <= 6, sprintf('after %.2fs (server_connect_timeout = 2)', $el));
    ok(sock_closed($s, 3), 'client closed');
    my ($out, $err, $rc) = $w->psql('SELECT 1');
    is($out, '1', 'the real database still works through the same weir');
    kill 'KILL', $fpid;
    waitpid($fpid, 0);
    $w->stop;
};

subtest 'server_login_retry (server refuses the login)' => sub {
    my $retry = 6;
    my $w = $t->start_weir(weir => { server_login_retry => $retry, server_connect_timeout => 10 },
        databases => { baddb => "host=127.0.0.1 port=$pg dbname=testdb user=forced "
                . 'password=wrongpass' });
    # weir's back-off starts when it sees the failed login, after $t_first.
    my $t_first = time;
    my ($s1, $r1, $el1) = raw_connect($w, database => 'baddb');
    is($r1->{error}{C}, '28P01', 'first client: the server\'s SQLSTATE 28P01');
    like($r1->{error}{M} // '', qr/password authentication failed/,
        "first client: the server's message ($r1->{error}{M})");
    my ($s2, $r2, $el2) = raw_connect($w, database => 'baddb');
    is($r2->{error}{C}, '28P01', 'second client: 28P01 too');
    like($r2->{error}{M} // '',
        qr/server login has been failing, try again later \(server_login_retry\): .*password authentication failed/,
        "second client: names server_login_retry and the server message");
    ok($el2 < $retry / 2, sprintf('second client: error without waiting out the back-off (%.3fs)',
        $el2));
    ok(sock_closed($s2, 3), 'second client closed');
    # More clients during the back-off: all fail fast, no pile-up of attempts.
    # (A client that comes after $t_first + $retry may rightly get a fresh attempt.)
    my @r = map { my $t1 = time; [raw_connect($w, database => 'baddb'), $t1] } 1 .. 5;
    my @in = grep { $_->[3] + $_->[2] < $t_first + $retry } @r;
    ok(@in >= 1, scalar(@in) . ' of 5 more clients finished inside the back-off window');
    is(scalar(grep { ($_->[1]{error}{M} // '') =~ /server_login_retry/ && $_->[2] < $retry / 2 } @in),
        scalar(@in), 'the clients in the back-off window all get the back-off error at once');
    my $logins = () = slurp($t->tmp . '/postgresql.log') =~ /password authentication failed for user "forced"/g;
    ok($logins <= 2, "PostgreSQL saw $logins failed logins (no pile-up)");
    # After the back-off, weir tries the server again.
    my $r3;
    ok(wait_until(4 * $retry, sub {
        (undef, $r3) = raw_connect($w, database => 'baddb');
        ($r3->{error}{M} // '') !~ /server_login_retry/;
    }, 0.5), 'after the back-off, a client gets a fresh attempt');
    my $el3 = time - $t_first;
    ok($el3 >= $retry - 0.5, sprintf('... %.2fs after the first attempt (server_login_retry = %d)',
        $el3, $retry));
    is($r3->{error}{C}, '28P01', 'after the back-off: a fresh attempt, 28P01');
    like($r3->{error}{M} // '', qr/password authentication failed/, "... the server's message");
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', 'other databases are unaffected');
    $w->stop;
};

subtest 'client_idle_timeout' => sub {
    my $w = $t->start_weir(weir => { client_idle_timeout => 1, pool_mode => 'transaction' });
    my ($s, $r) = raw_connect($w);
    ok($r->{ok}, 'logged in');
    is(raw_query($s, 'SELECT 1')->{rows}[0][0], '1', 'query');
    my ($e, $closed, $el) = next_error($s, 8);
    is($e->{S}, 'FATAL', 'idle client gets a FATAL');
    is($e->{C}, '08P01', 'SQLSTATE 08P01');
    like($e->{M} // '', qr/^client_idle_timeout: /, "message: " . ($e->{M} // ''));
    ok($el >= 0.8 && $el <= 5, sprintf('after %.2fs', $el));
    ok($closed, 'connection closed');
    # A running query is not idleness.
    my ($s2, $r2) = raw_connect($w);
    my $q = raw_query($s2, "SELECT pg_sleep(2.5), 'slept'", 10);
    is($q->{rows}[0][1], 'slept', 'a 2.5 s query is not cut by client_idle_timeout = 1');
    ok(!$q->{error}, 'no error during the query');
    $w->stop;
};

subtest 'client_login_timeout' => sub {
    my $w = $t->start_weir(weir => { client_login_timeout => 1 });
    my $s = $w->socket;
    my $t0 = time;
    my ($e, $closed, $el) = next_error($s, 8);    # sends nothing at all
    ok($closed, sprintf('silent connection closed after %.2fs', time - $t0));
    ok(time - $t0 >= 0.8 && time - $t0 <= 5, 'within ~1-4 s');
    # Startup packet sent, password never answered.
    $s = $w->socket;
    syswrite($s, startup_packet(user => 'app', database => 'testdb'));
    my ($type) = read_msg($s, 5);
    is($type, 'R', 'weir asks for the password');
    ($e, $closed, $el) = next_error($s, 8);
    is($e->{C}, '08P01', 'unanswered password request: 08P01');
    like($e->{M} // '', qr/^client_login_timeout: /, 'message names client_login_timeout');
    ok($el >= 0.5 && $el <= 5, sprintf('after %.2fs', $el));
    ok($closed, 'closed');
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', 'a normal login still works');
    $w->stop;
};

subtest 'query_timeout' => sub {
    my $w = $t->start_weir(weir => { query_timeout => 1, default_pool_size => 1,
            pool_mode => 'transaction' });
    my ($s, $r) = raw_connect($w);
    my ($pid) = @{ raw_query($s, 'SELECT pg_backend_pid()')->{rows}[0] };
    syswrite($s, pg_msg('Q', "SELECT pg_sleep(20)\0"));
    my ($e, $closed, $el) = next_error($s, 10);
    is($e->{C}, '57014', 'long query: 57014');
    like($e->{M} // '', qr/^query_timeout: /, 'message names query_timeout');
    ok($el >= 0.8 && $el <= 5, sprintf('after %.2fs', $el));
    ok($closed, 'client closed');
    ok(wait_until(5, sub { !grep { ($_->{query} // '') =~ /pg_sleep\(20\)/
            && ($_->{state} // '') eq 'active' } @{ $t->backends } }),
        "the server's query was cancelled");
    my ($s2, $r2) = raw_connect($w);
    my $q = raw_query($s2, 'SELECT pg_backend_pid()');
    is($q->{rows}[0][0], $pid, 'the same server (pool_size 1) serves the next client');
    my $q2 = raw_query($s2, 'SELECT pg_sleep(0.3), 1');
    ok(!$q2->{error}, 'short queries are not affected');
    $w->stop;
};

subtest 'query_wait_timeout' => sub {
    my $w = $t->start_weir(weir => { query_wait_timeout => 1, default_pool_size => 1,
            pool_mode => 'transaction' });
    my $holder = $w->dbi or die $DBI::errstr;
    $holder->do('BEGIN');
    $holder->selectrow_array('SELECT 1');
    my $t0 = time;
    my ($s, $r) = raw_connect($w, timeout => 10);
    my ($e, $closed);
    if ($r->{ok}) {
        syswrite($s, pg_msg('Q', "SELECT 1\0"));
        ($e, $closed) = next_error($s, 10);
    } else {
        ($e, $closed) = ($r->{error}, sock_closed($s, 3));
    }
    my $el = time - $t0;
    is($e->{C}, '08P01', 'waiting client: 08P01');
    like($e->{M} // '', qr/^query_wait_timeout: /, 'message names query_wait_timeout');
    ok($el >= 0.8 && $el <= 5, sprintf('after %.2fs', $el));
    ok($closed, 'closed');
    $holder->do('COMMIT');
    is(($holder->selectrow_array('SELECT 2'))[0], 2, 'holder unaffected');
    $holder->disconnect;
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', 'once the server is free, clients are served');
    $w->stop;
};

subtest 'idle_transaction_timeout' => sub {
    my $adm = $t->pg_dbi or die $DBI::errstr;
    $adm->do('CREATE TABLE t11_itx (v int)');
    my $w = $t->start_weir(weir => { idle_transaction_timeout => 1,
            pool_mode => 'transaction', default_pool_size => 2 });
    my ($s, $r) = raw_connect($w);
    raw_query($s, 'BEGIN');
    my $q = raw_query($s, 'INSERT INTO t11_itx VALUES (1)');
    is($q->{status}, 'T', 'inside a transaction');
    my ($e, $closed, $el) = next_error($s, 10);
    is($e->{C}, '25P03', 'idle in transaction: 25P03');
    like($e->{M} // '', qr/^idle_transaction_timeout: /, 'message names idle_transaction_timeout');
    ok($el >= 0.8 && $el <= 5, sprintf('after %.2fs', $el));
    ok($closed, 'closed');
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', state => 'idle in trans%') == 0 }),
        'no server left idle in transaction');
    my ($n) = $adm->selectrow_array('SELECT count(*) FROM t11_itx');
    is($n, 0, 'the transaction was rolled back');
    # An idle client outside a transaction is left alone.
    my ($s2, $r2) = raw_connect($w);
    raw_query($s2, 'SELECT 1');
    sleep 2.5;
    is(raw_query($s2, 'SELECT 3')->{rows}[0][0], '3', 'idle outside a transaction: untouched');
    $adm->do('DROP TABLE t11_itx');
    $adm->disconnect;
    $w->stop;
};

subtest 'health check: a hung idle server is replaced invisibly' => sub {
    my $w = $t->start_weir(weir => { server_check_delay => 0, server_connect_timeout => 2,
            default_pool_size => 1 });
    my $dbh = $w->dbi or die $DBI::errstr;
    my ($p1) = $dbh->selectrow_array('SELECT pg_backend_pid()');
    $dbh->disconnect;
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', state => 'idle') == 1 }),
        "server $p1 is idle in the pool");
    ok(kill('STOP', $p1), "SIGSTOP backend $p1");
    my $t0 = time;
    my ($out, $err, $rc) = $w->psql('SELECT pg_backend_pid()', timeout => 20);
    my $el = time - $t0;
    kill 'CONT', $p1;
    is($rc, 0, 'the next client succeeds') or diag($err);
    ok($out && $out != $p1, "on another server ($out)");
    ok($el <= 6, sprintf('within %.2fs (server_connect_timeout = 2)', $el));
    ok(wait_until(5, sub { !exists server_pids($t, user => 'app')->{$p1} }),
        'the hung server was closed');
    ($out) = $w->psql('SELECT 7');
    is($out, '7', 'pool works afterwards');
    $w->stop;
};

done_testing;
