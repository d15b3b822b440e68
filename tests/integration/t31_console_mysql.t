#!/usr/bin/perl
# t31_console_mysql.t -- the same admin console over the MySQL protocol: the mariadb CLI and
# DBD::MariaDB against the schema `weir`, result sets and ERR packets, figures checked against
# MariaDB's processlist, PAUSE/RESUME under sysbench, KILL_CLIENT, permissions.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use MyTest;
use PoolTest qw(bg_cmd bg_result);

my $m = MyTest->new;
my %users = (app => 'apppass', forced => 'forcedpass', admin => 'adminpass',
    monitor => 'monpass', nobody => 'nopass');
my $w = $m->start_weir(users => \%users, weir => { admin_users => 'admin',
        stats_users => 'monitor', pool_mode => 'transaction', default_pool_size => 5 });

sub console {
    my (%o) = @_;
    my $user = $o{user} // 'admin';
    return $w->my_dbi(user => $user, password => $o{password} // $users{$user},
        db => $o{db} // 'weir');
}

sub rows {
    my ($dbh, $sql) = @_;
    return $dbh->selectall_arrayref($sql, { Slice => {} });
}

# ---- the mariadb CLI ----
{
    my ($out, $err, $rc) = $w->mariadb('SHOW VERSION', user => 'admin', password => $users{admin}, db => 'weir');
    is($rc, 0, 'mariadb CLI: SHOW VERSION') or diag($err);
    like($out, qr/^weir /, '... answers weir\'s version');
    ($out, $err, $rc) = $w->mariadb('SHOW DATABASES', user => 'admin', password => $users{admin},
        db => 'pgbouncer', batch => 0, args => ['-B']);
    is($rc, 0, 'mariadb CLI: SHOW DATABASES on the pgbouncer alias') or diag($err);
    like($out, qr/^name\thost\tport\tdatabase\tforce_user\t/, '... PgBouncer\'s column names');
    like($out, qr/^shop\t127\.0\.0\.1\t\d+\tshop\t/m, '... and the rows');
    ($out, $err, $rc) = $w->mariadb('SHOW HELP', user => 'admin', password => $users{admin}, db => 'weir');
    like($out, qr/PAUSE \[<db>\]/, 'mariadb CLI: SHOW HELP as rows');
    ($out, $err, $rc) = $w->mariadb('SHOW NOSUCH', user => 'admin', password => $users{admin}, db => 'weir');
    isnt($rc, 0, 'mariadb CLI: an unknown command fails');
    like($err, qr/ERROR 1064 .*invalid command/, '... with an ERR packet');
    ($out, $err, $rc) = $w->mariadb('SHOW POOLS', user => 'nobody', password => $users{nobody}, db => 'weir');
    like($err, qr/ERROR 1045 .*not allowed/, 'a user in neither list is refused at login');
    ($out, $err, $rc) = $w->mariadb('PAUSE', user => 'monitor', password => $users{monitor}, db => 'weir');
    like($err, qr/ERROR 1227 .*permission denied/, 'a stats user may not PAUSE (1227, 42501)');
    ($out, $err, $rc) = $w->mariadb('SHOW STATS', user => 'monitor', password => $users{monitor}, db => 'weir');
    is($rc, 0, 'a stats user may SHOW') or diag($err);
}

my $adm = console();
ok($adm, 'DBD::MariaDB logs in to the console') or diag($DBI::errstr);
{
    my $sth = $adm->prepare('SHOW SERVERS');
    $sth->execute;
    is_deeply([@{ $sth->{NAME} }[0 .. 4]], [qw(type user database state addr)],
        'SHOW SERVERS columns');
    my $types = $sth->{mariadb_type} // [];
    $sth->finish;
    ok(!$adm->do('SHOW NOSUCH'), 'unknown command: error');
    is($adm->err, 1064, '... ER_PARSE_ERROR');
    ok(rows($adm, 'SHOW VERSION'), 'the connection is usable after an error');
}

# ---- figures against the processlist ----
{
    my @held;
    for (1 .. 3) {
        my $d = $w->my_dbi;
        $d->do('BEGIN');
        $d->selectrow_array('SELECT 1');
        push @held, $d;
    }
    my $n = $m->count_backends(user => 'app');
    my $p;
    wait_until(3, sub {
        ($p) = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW POOLS') };
        $p && $p->{sv_active} == 3;
    });
    is($p->{sv_active}, 3, 'SHOW POOLS: 3 active servers (transactions open)');
    is($p->{sv_active} + $p->{sv_idle} + $p->{sv_used} + $p->{sv_tested} + $p->{sv_login}, $n,
        "SHOW POOLS: servers match the processlist ($n)");
    is($p->{backend}, 'mysql', 'SHOW POOLS: backend mysql');
    my @sv = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW SERVERS') };
    is(scalar @sv, $n, 'SHOW SERVERS: one row per processlist session');
    my @ports = sort { $a <=> $b } map { ($_->{HOST} // '') =~ /:(\d+)$/ ? $1 : () }
        @{ $m->backends(user => 'app') };
    is_deeply([sort { $a <=> $b } map { $_->{local_port} } @sv], \@ports,
        'SHOW SERVERS local_port = the processlist HOST port');
    my @cl = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW CLIENTS') };
    is(scalar @cl, 3, 'SHOW CLIENTS: 3 clients of shop');
    is($cl[0]{backend}, 'mysql', 'SHOW CLIENTS: backend mysql');
    $_->do('COMMIT') for @held;

    # statistics: the difference made by a known sequence on one connection
    my $d = $held[0];
    my ($s0) = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW STATS') };
    $d->selectrow_array('SELECT 1') for 1 .. 5;
    $d->do('BEGIN');
    $d->selectrow_array('SELECT 2');
    $d->do('COMMIT');
    my ($s1) = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW STATS') };
    is($s1->{total_query_count} - $s0->{total_query_count}, 8, 'SHOW STATS: 8 COM_QUERY more');
    is($s1->{total_xact_count} - $s0->{total_xact_count}, 6,
        'SHOW STATS: 6 transactions more (5 autocommit, 1 block)');
    ok($s1->{total_received} > $s0->{total_received}
            && $s1->{total_sent} > $s0->{total_sent}, 'bytes both ways');

    # KILL_CLIENT over the MySQL console
    my ($victim) = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW CLIENTS') };
    ok($adm->do("KILL_CLIENT $victim->{id}"), 'KILL_CLIENT id') or diag($adm->errstr);
    my @left = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW CLIENTS') };
    is(scalar @left, 2, 'one client fewer');
    $_->disconnect for @held;
}

# ---- PAUSE / RESUME under sysbench ----
{
    my (undef, $perr, $prc) = $m->sysbench(cmd => 'prepare', tables => 1, table_size => 200);
    is($prc, 0, 'sysbench prepare') or diag($perr);
    my $job = bg_cmd(['sysbench', 'oltp_point_select', '--db-driver=mysql',
            '--mysql-host=127.0.0.1', '--mysql-port=' . $w->mysql_port, '--mysql-user=app',
            '--mysql-password=apppass', '--mysql-db=shop', '--tables=1', '--table-size=200',
            '--threads=4', '--time=6', '--db-ps-mode=disable', 'run'], timeout => 90);
    sleep 1.5;
    ok($adm->do('PAUSE shop'), 'PAUSE shop answers') or diag($adm->errstr);
    is(scalar(grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW SERVERS') }), 0,
        'after PAUSE weir holds no server of shop');
    ok(wait_until(3, sub { $m->count_backends(user => 'app') == 0 }),
        '... and MariaDB\'s processlist agrees (it drops closed sessions asynchronously)');
    my $p;
    wait_until(10, sub {
        ($p) = grep { $_->{database} eq 'shop' } @{ rows($adm, 'SHOW POOLS') };
        $p && $p->{cl_waiting} >= 1;
    }, 0.1);
    ok($p->{cl_waiting} >= 1, "sysbench clients wait while paused ($p->{cl_waiting})");
    ok($adm->do('RESUME shop'), 'RESUME shop');
    my ($out, $err, $rc) = bg_result($job, 90);
    is($rc, 0, 'sysbench finished') or diag($err);
    my $st = parse_sysbench($out);
    is($st->{ignored_errors}, 0, 'sysbench: no errors');
    ok(($st->{queries} // 0) > 0, "sysbench went on after RESUME ($st->{queries} queries)");
}

# ---- DISABLE over MySQL ----
ok($adm->do('DISABLE shop'), 'DISABLE shop');
{
    my ($out, $err, $rc) = $w->mariadb('SELECT 1');
    like($err, qr/does not allow connections/, 'a login to a disabled database is refused');
}
ok($adm->do('ENABLE shop'), 'ENABLE shop');
is(($w->mariadb('SELECT 1'))[0], "1\n", 'logins work again');

$adm->disconnect;
$w->stop;
done_testing;
