#!/usr/bin/perl
# t30_console.t -- the admin console over the PostgreSQL protocol: permissions, every
# SHOW (PgBouncer 1.18's column names and types), figures checked against
# pg_stat_activity, PAUSE/RESUME under pgbench, DISABLE/ENABLE, RECONNECT + WAIT_CLOSE,
# KILL, KILL_CLIENT, the reserve above max_client_conn, SET/RELOAD/SHUTDOWN.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use PoolTest;

my $t = WeirTest->new(pgbench => 1);
my %users = (app => 'apppass', forced => 'forcedpass', admin => 'adminpass',
    monitor => 'monpass', nobody => 'nopass');
my $w = $t->start_weir(users => \%users, weir => { admin_users => 'admin',
        stats_users => 'monitor, admin', pool_mode => 'transaction', default_pool_size => 6,
        stats_period => 1 },
    databases => { deaddb => 'host=127.0.0.1 port=1 dbname=testdb' });

sub console {
    my (%o) = @_;
    my $user = $o{user} // 'admin';
    return DBI->connect("dbi:Pg:host=127.0.0.1;port=" . $w->port . ";dbname="
            . ($o{db} // 'weir') . ";sslmode=disable;application_name=console",
        $user, $o{password} // $users{$user},
        { RaiseError => 0, PrintError => 0, AutoCommit => 1, pg_server_prepare => 0 });
}

# rows($dbh, $sql) -> [ {col => value} ] or undef (error in $dbh->errstr)
sub rows {
    my ($dbh, $sql) = @_;
    my $r = $dbh->selectall_arrayref($sql, { Slice => {} });
    return $r;
}

sub cols {
    my ($dbh, $sql) = @_;
    my $sth = $dbh->prepare($sql);
    $sth->execute or return ([], []);
    my @n = @{ $sth->{NAME} };
    my @ty = @{ $sth->{pg_type} };
    $sth->finish;
    return (\@n, \@ty);
}

my $adm = console();
ok($adm, 'admin logs in to the console (weir)') or diag($DBI::errstr);
my $pgb = console(db => 'pgbouncer');
ok($pgb, 'the console answers as pgbouncer too') or diag($DBI::errstr);
my $v = rows($adm, 'SHOW VERSION');
like($v->[0]{version}, qr/^weir /, 'SHOW VERSION');

# ---- columns as PgBouncer 1.18 returns them (names, order, types) ----
my %pgb = (
    POOLS => 'database:text user:text cl_active:int4 cl_waiting:int4 cl_active_cancel_req:int4 '
        . 'cl_waiting_cancel_req:int4 sv_active:int4 sv_active_cancel:int4 sv_being_canceled:int4 '
        . 'sv_idle:int4 sv_used:int4 sv_tested:int4 sv_login:int4 maxwait:int4 maxwait_us:int4 '
        . 'pool_mode:text',
    # STATS as PgBouncer 1.21, with its prepared-statement counts
    STATS => 'database:text total_xact_count:numeric total_query_count:numeric '
        . 'total_received:numeric total_sent:numeric total_xact_time:numeric '
        . 'total_query_time:numeric total_wait_time:numeric total_client_parse_count:numeric '
        . 'total_server_parse_count:numeric total_bind_count:numeric avg_xact_count:numeric '
        . 'avg_query_count:numeric avg_recv:numeric avg_sent:numeric avg_xact_time:numeric '
        . 'avg_query_time:numeric avg_wait_time:numeric avg_client_parse_count:numeric '
        . 'avg_server_parse_count:numeric avg_bind_count:numeric',
    STATS_TOTALS => 'database:text xact_count:numeric query_count:numeric '
        . 'bytes_received:numeric bytes_sent:numeric xact_time:numeric query_time:numeric '
        . 'wait_time:numeric client_parse_count:numeric server_parse_count:numeric '
        . 'bind_count:numeric',
    STATS_AVERAGES => 'database:text xact_count:numeric query_count:numeric '
        . 'bytes_received:numeric bytes_sent:numeric xact_time:numeric query_time:numeric '
        . 'wait_time:numeric client_parse_count:numeric server_parse_count:numeric '
        . 'bind_count:numeric',
    CLIENTS => 'type:text user:text database:text state:text addr:text port:int4 '
        . 'local_addr:text local_port:int4 connect_time:text request_time:text wait:int4 '
        . 'wait_us:int4 close_needed:int4 ptr:text link:text remote_pid:int4 tls:text '
        . 'application_name:text',
    DATABASES => 'name:text host:text port:int4 database:text force_user:text pool_size:int4 '
        . 'min_pool_size:int4 reserve_pool:int4 pool_mode:text max_connections:int4 '
        . 'current_connections:int4 paused:int4 disabled:int4',
    USERS => 'name:text pool_mode:text',
    LISTS => 'list:text items:int4',
    MEM => 'name:text size:int4 used:int4 free:int4 memtotal:int4',
    CONFIG => 'key:text value:text default:text changeable:text',
);
$pgb{SERVERS} = $pgb{CLIENTS};
for my $cmd (sort keys %pgb) {
    my ($n, $ty) = cols($adm, "SHOW $cmd");
    my @want = split / /, $pgb{$cmd};
    my @got = map { "$n->[$_]:$ty->[$_]" } 0 .. $#$n;
    is_deeply([@got[0 .. $#want]], \@want, "SHOW $cmd: PgBouncer's columns first")
        or diag("got: @got");
}
my ($pn) = cols($adm, 'SHOW POOLS');
is_deeply([@$pn[16 .. $#$pn]], [qw(backend paused health)], "SHOW POOLS: weir's columns after");
my ($cn) = cols($adm, 'SHOW CLIENTS');
is_deeply([@$cn[18 .. $#$cn]], [qw(id backend worker pinned)], "SHOW CLIENTS: weir's columns after");

# case, semicolons, blanks
ok(rows($adm, ' show   pools ;'), 'lower case, blanks and a semicolon are accepted');
like(rows($adm, 'SELECT version')->[0]{version}, qr/^weir/, 'SELECT x is SHOW x, as in PgBouncer');

# ---- errors and permissions ----
ok(!defined rows($adm, 'SHOW NOSUCH'), 'unknown SHOW fails');
is($adm->state, '08P01', 'unknown command: 08P01');
like($adm->errstr, qr/invalid command/, '... with PgBouncer\'s message');
ok(!defined rows($adm, 'SELECT 1'), 'SQL is not a console command');
ok(rows($adm, 'SHOW VERSION'), 'the connection is usable after an error');
{
    my $s = $w->socket;
    my $li = raw_login($s, user => 'admin', password => 'adminpass', database => 'weir');
    ok($li->{ok}, 'raw login to the console');
    syswrite($s, pg_msg('P', "\0SHOW VERSION\0\0\0") . pg_msg('B', "\0\0\0\0\0\0\0\0")
            . pg_msg('E', "\0\0\0\0\0") . pg_msg('S', ''));
    my (@types, $err);
    while (my ($type, $body) = read_msg($s, 5)) {
        push @types, $type;
        $err //= parse_error_fields($body) if $type eq 'E';
        last if $type eq 'Z';
    }
    is(join('', @types), 'EZ', 'the extended protocol gets one error, then ReadyForQuery at Sync');
    like($err->{M} // '', qr/simple query protocol/, '... a clear error');
    my $q = raw_query($s, 'SHOW VERSION');
    like($q->{rows}[0][0] // '', qr/^weir/, '... and the connection stays usable');
    close $s;
}
my $mon = console(user => 'monitor');
ok($mon, 'a stats user logs in');
ok(rows($mon, 'SHOW POOLS') && rows($mon, 'SHOW STATS') && rows($mon, 'SHOW CLIENTS'),
    'a stats user may SHOW');
for my $cmd ('PAUSE', 'RESUME', 'RECONNECT', 'KILL testdb', 'DISABLE testdb', 'RELOAD',
    'SET verbose = 1', 'SHUTDOWN', 'WAIT_CLOSE', 'KILL_CLIENT 1')
{
    ok(!$mon->do($cmd) && $mon->state eq '42501', "stats user: $cmd denied (42501)");
}
ok(rows($mon, 'SHOW VERSION'), 'the stats user stays connected');
my $bad = console(user => 'nobody');
ok(!$bad, 'a user in neither list is refused');
like($DBI::errstr // '', qr/not allowed/, '... "not allowed"');
ok(!console(user => 'admin', password => 'wrong'), 'a wrong password is refused on the console');
my $appc = console(user => 'app');
ok(!$appc, 'an ordinary user cannot use the console');

# ---- figures under load, against pg_stat_activity ----
my @held;
for my $i (1 .. 4) {
    my $d = $w->dbi(appname => "held$i");
    $d->do('BEGIN');
    $d->selectrow_array('SELECT 1');
    push @held, $d;
}
my $idle = $w->dbi(appname => 'idle');
$idle->selectrow_array('SELECT 1');
# (a server released a moment ago may still be finishing its clean-up, and a closed one
# leaves pg_stat_activity a moment after weir closed it: allow them a moment)
my ($p, $backends);
wait_until(10, sub {
    ($p) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' }
        @{ rows($adm, 'SHOW POOLS') };
    $backends = count_server_conns($t, user => 'app', db => 'testdb');
    return $p && $p->{sv_active} == 4 && $p->{sv_active} + $p->{sv_idle} + $p->{sv_used}
        + $p->{sv_tested} + $p->{sv_login} == $backends;
}, 0.1);
is($p->{sv_active}, 4, 'SHOW POOLS: 4 servers in transactions are active')
    or diag(explain(rows($adm, 'SHOW SERVERS')));
is($p->{sv_active} + $p->{sv_idle} + $p->{sv_used} + $p->{sv_tested} + $p->{sv_login}, $backends,
    "SHOW POOLS: servers match pg_stat_activity ($backends)");
is($p->{cl_active}, 5, 'SHOW POOLS: 5 logged-in clients');
is($p->{cl_waiting}, 0, 'SHOW POOLS: none waiting');
is($p->{pool_mode}, 'transaction', 'SHOW POOLS: pool_mode');
is($p->{backend}, 'postgres', 'SHOW POOLS: backend');
is($p->{health}, 'ok', 'SHOW POOLS: health ok');
my $servers = rows($adm, 'SHOW SERVERS');
my @tsv = grep { $_->{database} eq 'testdb' } @$servers;
is(scalar @tsv, $backends, 'SHOW SERVERS: one row per server in pg_stat_activity');
my $ports = admin_do($t, q{SELECT client_port FROM pg_stat_activity WHERE usename = 'app'
    AND datname = 'testdb' AND backend_type = 'client backend' AND application_name <> $1},
    $WeirTest::DIRECT_APP);
is_deeply([sort { $a <=> $b } map { $_->{local_port} } @tsv],
    [sort { $a <=> $b } map { $_->[0] } @$ports],
    'SHOW SERVERS local_port = pg_stat_activity.client_port');
is(scalar(grep { $_->{state} eq 'active' } @tsv), 4, 'SHOW SERVERS: 4 active');
my $clients = rows($adm, 'SHOW CLIENTS');
my @tcl = grep { $_->{database} eq 'testdb' } @$clients;
is(scalar @tcl, 5, 'SHOW CLIENTS: 5 clients of testdb');
my %linked = map { $_->{ptr} => 1 } @tsv;
is(scalar(grep { defined $_->{link} && $linked{ $_->{link} } } @tcl), 4,
    'SHOW CLIENTS: link names the SHOW SERVERS ptr of the 4 in transactions');
ok((grep { $_->{database} eq 'weir' && $_->{user} eq 'admin' } @$clients),
    'SHOW CLIENTS lists the console itself');
is_deeply([sort map { $_->{application_name} } @tcl], [qw(held1 held2 held3 held4 idle)],
    'SHOW CLIENTS: application_name');
my $dbs = rows($adm, 'SHOW DATABASES');
my ($tdb) = grep { $_->{name} eq 'testdb' } @$dbs;
is($tdb->{current_connections}, $backends, 'SHOW DATABASES: current_connections');
is($tdb->{pool_size}, 6, 'SHOW DATABASES: pool_size');
is($tdb->{port}, $t->pgport, 'SHOW DATABASES: port');
is($_->do('COMMIT'), '0E0', 'commit') for @held;

# a waiter shows in cl_waiting and maxwait
{
    my @hog = map { my $d = $w->dbi; $d->do('BEGIN'); $d->selectrow_array('SELECT 1'); $d }
        1 .. 6;
    my $job = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-h', '127.0.0.1', '-p', $w->port,
            '-U', 'app', '-d', 'testdb', '-c', 'SELECT 1'],
        env => { PGPASSWORD => 'apppass' }, timeout => 30);
    my $seen = wait_until(10, sub {
        my ($q) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' }
            @{ rows($adm, 'SHOW POOLS') };
        return $q && $q->{cl_waiting} == 1 ? $q : undef;
    });
    ok($seen, 'a client waiting for the full pool shows in cl_waiting');
    sleep 1.1;
    my ($q) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' }
        @{ rows($adm, 'SHOW POOLS') };
    ok($q->{maxwait} >= 1, "maxwait counts the wait ($q->{maxwait}.$q->{maxwait_us} s)");
    my ($wc) = grep { $_->{state} eq 'waiting' } @{ rows($adm, 'SHOW CLIENTS') };
    ok($wc && $wc->{wait} >= 1, 'SHOW CLIENTS: the waiter, state waiting');
    $_->do('COMMIT') for @hog;
    my ($out, $err, $rc) = bg_result($job, 30);
    is($rc, 0, 'the waiter got its server');
    $_->disconnect for @hog;
}
$_->disconnect for @held, $idle;

# ---- statistics: exact counts on an otherwise unused database ----
{
    my $d = $w->dbi(db => 'postgres');
    $d->selectrow_array('SELECT 1') for 1 .. 10;
    $d->do('BEGIN');
    $d->selectrow_array('SELECT 2');
    $d->do('COMMIT');
    $d->disconnect;
    my ($s) = grep { $_->{database} eq 'postgres' } @{ rows($adm, 'SHOW STATS') };
    is($s->{total_query_count}, 13, 'SHOW STATS: 13 queries');
    is($s->{total_xact_count}, 11, 'SHOW STATS: 11 transactions (10 autocommit, 1 block)');
    # 10 x Q "SELECT 1" (14 bytes), BEGIN (11), SELECT 2 (14), COMMIT (12); the Terminate may lag
    ok($s->{total_received} >= 177, "total_received counts client bytes ($s->{total_received})");
    ok($s->{total_sent} > 0, "total_sent counts bytes to clients ($s->{total_sent})");
    ok($s->{total_query_time} > 0 && $s->{total_xact_time} >= $s->{total_query_time} / 2,
        'query and transaction times are counted');
    my ($tt) = grep { $_->{database} eq 'postgres' } @{ rows($adm, 'SHOW STATS_TOTALS') };
    is($tt->{query_count}, 13, 'SHOW STATS_TOTALS agrees');
    my $av;
    wait_until(10, sub {    # stats_period = 1
        ($av) = grep { $_->{database} eq 'postgres' } @{ rows($adm, 'SHOW STATS_AVERAGES') };
        defined $av;
    }, 0.2);
    ok(defined $av, 'SHOW STATS_AVERAGES has the database');
}

# ---- PAUSE / RESUME under pgbench: clients only wait ----
{
    my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port, '-U',
            'app', '-c', 4, '-T', 6, '-n', 'testdb'],
        env => { PGPASSWORD => 'apppass' }, timeout => 90);
    sleep 1.5;
    my $t0 = time;
    ok($adm->do('PAUSE testdb'), 'PAUSE testdb answers') or diag($adm->errstr);
    my $took = time - $t0;
    is(scalar(grep { $_->{database} eq 'testdb' } @{ rows($adm, 'SHOW SERVERS') }), 0,
        sprintf('after PAUSE weir holds no server of testdb (PAUSE took %.2f s)', $took));
    ok(wait_until(3, sub { count_server_conns($t, user => 'app', db => 'testdb') == 0 }),
        '... and pg_stat_activity agrees (backends exit asynchronously)');
    my ($d) = grep { $_->{name} eq 'testdb' } @{ rows($adm, 'SHOW DATABASES') };
    is($d->{paused}, 1, 'SHOW DATABASES: paused');
    my $q;
    wait_until(10, sub {
        ($q) = grep { $_->{database} eq 'testdb' && $_->{user} eq 'app' }
            @{ rows($adm, 'SHOW POOLS') };
        $q && $q->{cl_waiting} >= 1;
    }, 0.1);
    ok($q->{cl_waiting} >= 1, "pgbench clients wait while paused ($q->{cl_waiting})");
    is(count_server_conns($t, user => 'app', db => 'testdb'), 0, 'no server opened while paused');
    ok($adm->do('RESUME testdb'), 'RESUME testdb');
    my ($out, $err, $rc) = bg_result($job, 90);
    is($rc, 0, 'pgbench finished') or diag($err);
    like($out, qr/number of failed transactions: 0 /, 'pgbench: zero failed transactions')
        or diag($out);
    my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
    ok(($done // 0) > 0, "pgbench went on after RESUME ($done)");
}
ok($adm->do('PAUSE') && $adm->do('RESUME'), 'PAUSE and RESUME of every database');
ok(!$adm->do('PAUSE nosuchdb'), 'PAUSE of an unknown database fails');

# ---- DISABLE / ENABLE ----
ok($adm->do('DISABLE testdb'), 'DISABLE testdb');
{
    my ($out, $err, $rc) = $w->psql('SELECT 1');
    isnt($rc, 0, 'a new login to a disabled database is refused');
    like($err, qr/does not allow connections/, '... database does not allow connections');
    my ($d) = grep { $_->{name} eq 'testdb' } @{ rows($adm, 'SHOW DATABASES') };
    is($d->{disabled}, 1, 'SHOW DATABASES: disabled');
}
ok(!$adm->do('DISABLE'), 'DISABLE needs a database');
ok($adm->do('ENABLE testdb'), 'ENABLE testdb');
is(($w->psql('SELECT 1'))[0], '1', 'logins work again after ENABLE');

# ---- health: a pool whose server logins fail ----
{
    my ($out, $err, $rc) = $w->psql('SELECT 1', db => 'deaddb');
    isnt($rc, 0, 'a database whose server refuses connections: the client gets an error');
    my ($q) = grep { $_->{database} eq 'deaddb' } @{ rows($adm, 'SHOW POOLS') };
    is($q->{health}, 'login_failing', 'SHOW POOLS: health login_failing');
}

# ---- RECONNECT + WAIT_CLOSE ----
{
    my @d = map { $w->dbi } 1 .. 3;
    $_->selectrow_array('SELECT 1') for @d;
    $d[0]->do('BEGIN');
    $d[0]->selectrow_array('SELECT 1');
    my $before = server_pids($t, user => 'app', db => 'testdb');
    ok(keys %$before >= 1, 'servers before RECONNECT: ' . scalar(keys %$before));
    ok($adm->do('RECONNECT testdb'), 'RECONNECT testdb');
    # (closed backends leave pg_stat_activity asynchronously)
    my $after;
    wait_until(10, sub { $after = server_pids($t, user => 'app', db => 'testdb'); keys %$after <= 1 },
        0.1);
    is(scalar(keys %$after), 1, 'idle servers closed at once; the one in a transaction stays');
    ok(exists $before->{ (keys %$after)[0] // 0 }, '... the old one, still open');
    my $wc = console();
    my $job = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-h', '127.0.0.1', '-p', $w->port, '-U',
            'admin', '-d', 'weir', '-c', 'WAIT_CLOSE testdb'],
        env => { PGPASSWORD => 'adminpass' }, timeout => 30);
    sleep 1;
    ok(!-s $job->{file} && kill(0, $job->{pid}), 'WAIT_CLOSE waits while an old server is in use');
    $d[0]->do('COMMIT');
    my ($out, $err, $rc) = bg_result($job, 20);
    is($rc, 0, 'WAIT_CLOSE answers once the old server was released and closed') or diag($err);
    $_->selectrow_array('SELECT 1') for @d;
    my $new = server_pids($t, user => 'app', db => 'testdb');
    ok(!(grep { $before->{$_} } keys %$new), 'every server now is a new one');
    ok($adm->do('WAIT_CLOSE'), 'WAIT_CLOSE with nothing old answers at once');
    $_->disconnect for @d;
}

# ---- KILL_CLIENT, KILL ----
{
    my $victim = $w->dbi(appname => 'victim');
    $victim->selectrow_array('SELECT 1');
    my ($row) = grep { $_->{application_name} eq 'victim' } @{ rows($adm, 'SHOW CLIENTS') };
    ok($row && $row->{id}, "the victim's id in SHOW CLIENTS: " . ($row->{id} // 'none'));
    ok($adm->do("KILL_CLIENT $row->{id}"), 'KILL_CLIENT id') or diag($adm->errstr);
    ok(!$victim->selectrow_array('SELECT 1'), 'the killed client is disconnected');
    ok(!$adm->do('KILL_CLIENT 999999999'), 'KILL_CLIENT of an unknown id fails');

    my @d = map { $w->dbi } 1 .. 2;
    $_->selectrow_array('SELECT 1') for @d;
    $d[0]->do('BEGIN');
    $d[0]->selectrow_array('SELECT 1');
    ok($adm->do('KILL testdb'), 'KILL testdb');
    ok(!$d[0]->selectrow_array('SELECT 1') && !$d[1]->selectrow_array('SELECT 1'),
        'every client of testdb is gone');
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', db => 'testdb') == 0 }),
        'every server of testdb is gone');
    ok(rows($adm, 'SHOW VERSION'), 'the console survives KILL');
    my $job = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-h', '127.0.0.1', '-p',
            $w->port, '-U', 'app', '-d', 'testdb', '-c', 'SELECT 42'],
        env => { PGPASSWORD => 'apppass' }, timeout => 90);
    sleep 0.5;
    ok(kill(0, $job->{pid}), 'after KILL the database is paused: a new client waits');
    ok($adm->do('RESUME testdb'), 'RESUME after KILL');
    # Generous: under TSan on a loaded machine the client's own start and login are slow.
    my ($out, $err, $rc) = bg_result($job, 60);
    is($out, "42\n", 'the waiting client is served after RESUME')
        or diag("psql rc=" . ($rc // 'undef') . " stderr=" . ($err // ''));
}

# ---- max_client_conn: the console keeps a few slots ----
{
    my $w2 = $t->start_weir(users => \%users,
        weir => { admin_users => 'admin', max_client_conn => 2 });
    my @c = map { $w2->dbi } 1 .. 2;
    ok($c[0] && $c[1], 'two clients fill max_client_conn = 2');
    my $third = $w2->dbi;
    ok(!$third, 'a third ordinary client is refused');
    like($DBI::errstr // '', qr/max_client_conn/, '... no more connections allowed');
    my $c2 = DBI->connect("dbi:Pg:host=127.0.0.1;port=" . $w2->port
            . ";dbname=weir;sslmode=disable", 'admin', 'adminpass',
        { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    ok($c2, 'the console still logs in when max_client_conn is reached');
    my $l = $c2 && rows($c2, 'SHOW LISTS');
    my ($used) = grep { $_->{list} eq 'used_clients' } @{ $l // [] };
    is($used->{items}, 3, 'SHOW LISTS: used_clients counts all three');
    $c2->disconnect if $c2;
    $_->disconnect for @c;
    $w2->stop;
}

# ---- other SHOWs ----
{
    my $cfg = rows($adm, 'SHOW CONFIG');
    my %c = map { $_->{key} => $_ } @$cfg;
    is($c{default_pool_size}{value}, 6, 'SHOW CONFIG: default_pool_size');
    is($c{listen_port}{changeable}, 'no', 'SHOW CONFIG: listen_port is not changeable');
    ok(rows($adm, 'SHOW USERS'), 'SHOW USERS');
    my %l = map { $_->{list} => $_->{items} } @{ rows($adm, 'SHOW LISTS') };
    ok($l{databases} >= 3 && $l{pools} >= 2, 'SHOW LISTS: databases and pools');
    ok(@{ rows($adm, 'SHOW MEM') } >= 3, 'SHOW MEM');
    my %st = map { $_->{key} => $_->{value} } @{ rows($adm, 'SHOW STATE') };
    is($st{active}, 'yes', 'SHOW STATE: active');
    is($st{paused}, 'no', 'SHOW STATE: not paused');
    my ($out, $err, $rc) = $w->psql('SHOW HELP', user => 'admin', password => 'adminpass',
        db => 'weir', args => ['-v', 'VERBOSITY=verbose']);
    like($err, qr/SHOW HELP\|CONFIG/, 'SHOW HELP answers with a notice, as PgBouncer');
}

# ---- RELOAD, SET ----
{
    ok($adm->do('SET default_pool_size = 9'), 'SET default_pool_size = 9');
    my %c = map { $_->{key} => $_->{value} } @{ rows($adm, 'SHOW CONFIG') };
    is($c{default_pool_size}, 9, 'SHOW CONFIG shows the value SET');
    my $conf = WeirTest::slurp("$w->{conf}");
    $conf =~ s/^default_pool_size = .*$/default_pool_size = 11/m;
    spew($w->{conf}, $conf);
    ok($adm->do('RELOAD'), 'RELOAD');
    my ($d) = grep { $_->{name} eq 'testdb' } @{ rows($adm, 'SHOW DATABASES') };
    is($d->{pool_size}, 11, 'SHOW DATABASES shows the reloaded pool_size');
}
ok(rows($adm, 'SHOW VERSION'), 'the console is usable after RELOAD/SET');

# ---- sv_tested: a server running server_check_query ----
{
    my $w4 = $t->start_weir(users => \%users, weir => { admin_users => 'admin',
            server_check_delay => 0, server_check_query => 'SELECT pg_sleep(1.5)' });
    my ($o) = $w4->psql('SELECT 1');
    is($o, '1', 'a first client opens a server');
    my $job = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-h', '127.0.0.1', '-p', $w4->port, '-U',
            'app', '-d', 'testdb', '-c', 'SELECT 2'],
        env => { PGPASSWORD => 'apppass' }, timeout => 30);
    my $c4 = DBI->connect("dbi:Pg:host=127.0.0.1;port=" . $w4->port
            . ";dbname=weir;sslmode=disable", 'admin', 'adminpass',
        { RaiseError => 0, PrintError => 0, pg_server_prepare => 0 });
    my $q;
    ok(wait_until(1.2, sub {
        ($q) = grep { $_->{database} eq 'testdb' } @{ rows($c4, 'SHOW POOLS') };
        $q && $q->{sv_tested} == 1;
    }, 0.05), 'SHOW POOLS: sv_tested = 1 while the health check runs');
    my ($sv) = grep { $_->{database} eq 'testdb' } @{ rows($c4, 'SHOW SERVERS') };
    is($sv->{state}, 'tested', 'SHOW SERVERS: state tested');
    my ($out, $err, $rc) = bg_result($job, 20);
    is($rc, 0, 'the client got the server after the check');
    $c4->disconnect;
    $w4->stop;
}

# ---- a stop while a console waits in PAUSE frees what it holds ----
{
    my $w3 = $t->start_weir(users => \%users, weir => { admin_users => 'admin' });
    my $d = $w3->dbi;
    $d->do('BEGIN');
    $d->selectrow_array('SELECT 1');
    my $job = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-h', '127.0.0.1', '-p', $w3->port, '-U',
            'admin', '-d', 'weir', '-c', 'PAUSE'],
        env => { PGPASSWORD => 'adminpass' }, timeout => 30);
    sleep 1;
    ok(kill(0, $job->{pid}), 'PAUSE waits for the server in a transaction');
    $w3->stop(name => 'a stop while a console waits in PAUSE is clean (no leak)');
    bg_result($job, 20);
    $d->disconnect;
}

# ---- SHUTDOWN ----
ok(!$adm->do('SHUTDOWN SOMETIME'), 'SHUTDOWN with an unknown mode is an invalid command');
ok($adm->do('SHUTDOWN') || !$adm->ping, 'SHUTDOWN is accepted');
ok(wait_until(10, sub { !$w->alive }), 'weir exits after SHUTDOWN');
$_->disconnect for grep { $_ } $adm, $pgb, $mon;
$w->stop;
done_testing;
