# t90_txn_session_state.t -- transaction pooling never leaks session state: on a pool of 2,
# clients whose servers change hands between every transaction each keep their own SET
# search_path, SET ROLE, SET default_transaction_read_only, SET statement_timeout, options
# -c search_path, set_config(..., false) and committed SETs (not SET LOCAL, not rolled back
# ones), and never see another's; a client's temporary table, LISTEN, SQL PREPARE, WITH HOLD
# cursor and advisory lock keep working across its transactions (it is pinned, and SHOW
# CLIENTS and /metrics say why) while another client's pg_try_advisory_lock on the same key
# is refused; after it leaves nobody sees any of it; options weir cannot apply are refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
{
    my $dbh = $t->pg_admin_dbi('testdb');
    $dbh->do('CREATE ROLE reader');
    $dbh->do('GRANT reader TO app');
    for my $s (qw(a_schema b_schema)) {
        $dbh->do("CREATE SCHEMA $s AUTHORIZATION app");
        $dbh->do("CREATE TABLE $s.marker (v text)");
        $dbh->do("INSERT INTO $s.marker VALUES ('$s')");
        $dbh->do("ALTER TABLE $s.marker OWNER TO app");
    }
    $dbh->do('CREATE TABLE public.marker (v text)');
    $dbh->do(q{INSERT INTO public.marker VALUES ('public')});
    $dbh->do('GRANT SELECT ON public.marker TO PUBLIC');
    $dbh->disconnect;
}

my $mport = free_port();
my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2,
        admin_users => 'app', stats_users => 'app', metrics_port => $mport,
        metrics_addr => '127.0.0.1' });

# A client through weir; options go in PGOPTIONS (libpq reads it at connect time).
sub client {
    my (%o) = @_;
    local $ENV{PGOPTIONS} = $o{options} // '';
    my $dbh = $w->dbi(appname => $o{app} // 'weirtest', attr => { pg_server_prepare => 0 });
    ok($dbh, "client $o{app} connects") or diag($DBI::errstr);
    return $dbh;
}

sub one {
    my ($dbh, $sql) = @_;
    my ($v) = $dbh->selectrow_array($sql);
    return defined $v ? $v : ($dbh->errstr // 'NULL');
}

sub backend { one($_[0], 'SELECT pg_backend_pid()') }

my $dflt_path = one($t->pg_admin_dbi('testdb'), 'SHOW search_path');

# ---- settings follow their client; servers change hands every transaction --------------------
my %c;
$c{a} = client(app => 'a', options => '-c search_path=a_schema');
$c{b} = client(app => 'b');
$c{r} = client(app => 'r');
$c{e} = client(app => 'e');
$c{a}->do('SET statement_timeout = 4321');
$c{b}->do('SET search_path = b_schema');
$c{r}->do('SET default_transaction_read_only = on');
$c{e}->do('SELECT 1');

my %want = (
    a => { path => 'a_schema', marker => 'a_schema', timeout => '4321ms', ro => 'off' },
    b => { path => 'b_schema', marker => 'b_schema', timeout => '0', ro => 'off' },
    r => { path => $dflt_path, marker => 'public', timeout => '0', ro => 'on' },
    e => { path => $dflt_path, marker => 'public', timeout => '0', ro => 'off' },
);
my (%seen_pids, %bad);
for my $round (1 .. 6) {
    for my $n (qw(a b r e)) {
        my $dbh = $c{$n};
        my %got = (path => one($dbh, 'SHOW search_path'), marker => one($dbh, 'SELECT v FROM marker'),
            timeout => one($dbh, 'SHOW statement_timeout'),
            ro => one($dbh, 'SHOW default_transaction_read_only'));
        for my $k (sort keys %got) {
            push @{ $bad{$n} }, "round $round $k=$got{$k} (want $want{$n}{$k})"
                if $got{$k} ne $want{$n}{$k};
        }
        $seen_pids{ backend($dbh) }{$n} = 1;
    }
}
for my $n (qw(a b r e)) {
    ok(!$bad{$n}, "client $n keeps its own settings over 6 rounds of 4 transactions")
        or diag(join("\n", @{ $bad{$n} }[0 .. 4]));
}
my $shared = grep { keys %{ $seen_pids{$_} } > 1 } keys %seen_pids;
ok($shared >= 1, 'servers changed hands between the clients (' . scalar(keys %seen_pids)
        . ' servers, ' . "$shared served more than one client)");
like($c{r}->do('CREATE TABLE ro_test (x int)') // $c{r}->errstr, qr/read-only transaction/,
    'the read-only client cannot write');
ok($c{e}->do('CREATE TABLE rw_test (x int)'), 'another client after it can write');
$c{e}->do('DROP TABLE rw_test');

# ---- tentative settings: SET LOCAL and rolled-back SETs are not kept ------------------------
{
    my $d = $c{e};
    $d->begin_work;
    $d->do('SET LOCAL statement_timeout = 1111');
    $d->do('SET search_path = b_schema');
    $d->rollback;
    is(one($d, 'SHOW search_path') . '/' . one($d, 'SHOW statement_timeout'), "$dflt_path/0",
        'SET LOCAL and a rolled-back SET are not kept');
    $d->begin_work;
    $d->do(q{SET work_mem = '7MB'});
    $d->commit;
    is(one($c{b}, 'SHOW work_mem') eq '7MB' ? 'leaked' : 'own', 'own',
        'a committed SET is not seen by another client');
    is(one($d, 'SHOW work_mem'), '7MB', 'a committed SET in a block is kept');
    $d->do(q{SELECT set_config('app.user_id', '42', false), set_config('app.tmp', 'x', true)});
    is(one($d, q{SELECT current_setting('app.user_id', true)}), '42', 'set_config(..., false) is kept');
    is(one($d, q{SELECT coalesce(current_setting('app.tmp', true), '')}), '',
        'set_config(..., true) is not');
    is(one($c{b}, q{SELECT coalesce(current_setting('app.user_id', true), '')}), '',
        'another client does not see set_config');
    $d->do('RESET work_mem; RESET app.user_id');
    is(one($d, 'SHOW work_mem'), one($t->pg_admin_dbi('testdb'), 'SHOW work_mem'),
        'RESET: back to the default');
    # A failing text keeps nothing of what it did (one implicit transaction).
    ok(!$d->do('SET search_path = b_schema; SELECT 1/0'), 'a failing multi-statement text');
    is(one($d, 'SHOW search_path'), $dflt_path, 'its SET is not kept');
}

# ---- SET ROLE pins; the role never reaches another client -----------------------------------
{
    my $d = client(app => 'role');
    $d->do('SET ROLE reader');
    my $pid = backend($d);
    my @after;
    for (1 .. 4) {
        push @after, one($d, 'SELECT current_user') . '@' . backend($d);
        one($c{e}, 'SELECT 1');
    }
    is_deeply(\@after, [("reader\@$pid") x 4], 'SET ROLE: the client keeps its role and its server');
    is(one($c{b}, 'SELECT current_user'), 'app', 'others keep their own role');
    $d->disconnect;
}

# ---- state that cannot move: temp table, LISTEN, PREPARE, WITH HOLD cursor, advisory lock ----
my $p = client(app => 'pinned');
my $q = client(app => 'other');
ok($p->do('CREATE TEMP TABLE scratch (x int)'), 'temporary table created');
ok($p->do('INSERT INTO scratch VALUES (1), (2)'), 'and filled in another transaction');
ok($p->do('LISTEN weir_chan'), 'LISTEN');
ok($p->do('PREPARE fortytwo AS SELECT 42'), 'SQL PREPARE');
$p->begin_work;
ok($p->do('DECLARE held CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 10) g'),
    'DECLARE ... WITH HOLD');
$p->commit;
is(one($p, 'SELECT pg_advisory_lock(777)'), '', 'pg_advisory_lock taken (void)');
my $ppid = backend($p);
my @p_ok;
for my $i (1 .. 4) {
    one($q, 'SELECT 1');
    push @p_ok, one($p, 'SELECT count(*) FROM scratch') eq '2' ? 'temp' : 'no temp';
    push @p_ok, one($p, 'EXECUTE fortytwo') eq '42' ? 'prepared' : 'no prepared';
    push @p_ok, one($p, 'FETCH 1 FROM held') eq $i ? 'cursor' : 'no cursor';
    push @p_ok, backend($p) eq $ppid ? 'same server' : 'other server';
}
is_deeply(\@p_ok, [('temp', 'prepared', 'cursor', 'same server') x 4],
    'temporary table, prepared statement and cursor work across transactions on one server');
{
    # pg_try_advisory_lock pins whatever it returns (weir does not read results): a client of
    # its own, gone again at once.
    my $l = client(app => 'locker');
    is(one($l, 'SELECT pg_try_advisory_lock(777)'), '0',
        "another client's pg_try_advisory_lock on the key is refused");
    $l->disconnect;
}
$q->do(q{NOTIFY weir_chan, 'hello'});
one($p, 'SELECT 1');
my $n = $p->pg_notifies;
is($n ? $n->[2] : 'none', 'hello', 'the listening client gets the notification');

# The console names the reasons (last column of SHOW CLIENTS); /metrics counts them.
{
    my $adm = $w->dbi(db => 'weir', attr => { pg_server_prepare => 0 });
    my $rows = $adm->selectall_arrayref('SHOW CLIENTS', { Slice => {} });
    my ($row) = grep { ($_->{application_name} // '') eq 'pinned' } @$rows;
    like($row ? $row->{pinned} : 'no row', qr/^(?=.*temp)(?=.*listen)(?=.*prepare)(?=.*cursor)(?=.*advisory_lock)/,
        'SHOW CLIENTS: pinned column names every reason') or diag(explain($row));
    my ($other) = grep { ($_->{application_name} // '') eq 'other' } @$rows;
    is($other ? $other->{pinned} : 'no row', '', 'an unpinned client shows nothing');
    my $cols = $adm->selectall_arrayref('SHOW CLIENTS', { Slice => {} });
    $adm->disconnect;
    my $m = `curl -s --max-time 10 http://127.0.0.1:$mport/metrics`;
    like($m, qr/^weir_pinned_clients [1-9]/m, '/metrics: pinned clients gauge');
    like($m, qr/^weir_client_pins_total\{reason="advisory_lock"\} [1-9]/m,
        '/metrics: pins counted by reason');
}

# Unpinning: DISCARD TEMP, UNLISTEN *, DEALLOCATE ALL, CLOSE ALL, pg_advisory_unlock_all().
{
    my $u = client(app => 'unpin');
    $u->do('CREATE TEMP TABLE t2 (x int)');
    $u->do('LISTEN x');
    $u->do('DISCARD TEMP');
    $u->do('UNLISTEN *');
    my $adm = $w->dbi(db => 'weir', attr => { pg_server_prepare => 0 });
    my ($row) = grep { ($_->{application_name} // '') eq 'unpin' }
        @{ $adm->selectall_arrayref('SHOW CLIENTS', { Slice => {} }) };
    is($row ? $row->{pinned} : 'no row', '', 'DISCARD TEMP and UNLISTEN * unpin');
    $adm->disconnect;
    $u->disconnect;
}

# After the pinned client leaves, nobody sees any of it: hold both servers and look at each.
$p->disconnect;
{
    my @h = (client(app => 'check1'), client(app => 'check2'));
    my @seen;
    $_->begin_work for @h;
    for my $d (@h) {
        push @seen, join(',', one($d, 'SELECT count(*) FROM pg_prepared_statements'),
            one($d, 'SELECT count(*) FROM pg_cursors'),
            one($d, 'SELECT count(*) FROM pg_listening_channels()'),
            one($d, q{SELECT count(*) FROM pg_class WHERE relpersistence = 't'}),
            one($d, 'SELECT current_user'));
    }
    is(join(' ', @seen), '0,0,0,0,app 0,0,0,0,app',
        'both servers: no prepared statement, cursor, LISTEN, temporary table or role left')
        or diag(join(' ', @seen));
    isnt(backend($h[0]), backend($h[1]), 'the two checks ran on the two servers');
    $_->commit for @h;
    is(one($h[0], 'SELECT pg_try_advisory_lock(777)'), '1', 'the advisory lock went with its client');
    $h[0]->do('SELECT pg_advisory_unlock_all()');
    $_->disconnect for @h;
}

# ---- options weir cannot apply are refused at login, naming what ---------------------------
for my $case (['-c no_such_setting=1', qr/42704|unrecognized configuration parameter "no_such_setting"/],
    ['-c shared_buffers=1MB', qr/55P02|shared_buffers/], ['-d 5', qr/08P01|"-d"/]) {
    local $ENV{PGOPTIONS} = $case->[0];
    my $d = $w->dbi(attr => { pg_server_prepare => 0 });
    ok(!$d, "options $case->[0] refused");
    like($DBI::errstr // '', $case->[1], "options $case->[0]: the error names it");
}

$_->disconnect for values %c;
$q->disconnect;
$w->stop;
done_testing();
