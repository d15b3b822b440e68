# t104_mysql_globals_qcache.t -- what a MariaDB client sees of the server's globals through weir.
# Session mode: a SET GLOBAL made while a server sat in the pool is seen by the next client that
# gets that server, as on a new connection. Both modes: weir's own session settings leave the
# query cache working (a repeated SELECT raises Qcache_hits), and the transaction-state tracker
# stays off.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use EdgeTest;
use Test::More;

my $m = MyTest->new(mysqld_args => ['--query-cache-type=1', '--query-cache-size=16M']);
$m->admin_sql("CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20));
    INSERT INTO shop.items VALUES (1, 'apple'), (2, 'pear');");
my $admin = $m->admin_dbi;
my ($default_mode) = $admin->selectrow_array('SELECT @@GLOBAL.sql_mode');

# ---- session mode, one server: the globals as they are when a client takes it ----
my $w = $m->start_weir(weir => { pool_mode => 'session', default_pool_size => 1,
        admin_users => 'admin' }, users => { app => 'apppass', forced => 'forcedpass',
        admin => 'adminpass' });
my $console = console($w);
ok($console, 'the console') or diag($DBI::errstr);
my $dbh = $w->my_dbi;
ok($dbh, 'first client') or diag($DBI::errstr);
my ($id1, $mode1) = $dbh->selectrow_array('SELECT CONNECTION_ID(), @@sql_mode');
is($mode1, $default_mode, 'the server\'s sql_mode');
$dbh->disconnect;
ok(wait_until(10, sub {
            my ($p) = grep { $_->{database} eq 'shop' } @{ console_rows($console, 'SHOW POOLS') // [] };
            $p && $p->{sv_idle} == 1 && $p->{cl_active} == 0;
        }), 'the server is back in the pool (SHOW POOLS)');
ok($admin->do(q{SET GLOBAL sql_mode = 'ANSI_QUOTES,NO_ZERO_DATE'}), 'SET GLOBAL sql_mode');
$dbh = $w->my_dbi;
my ($id2, $mode2) = $dbh->selectrow_array('SELECT CONNECTION_ID(), @@sql_mode');
is($id2, $id1, 'the next client gets the same server connection');
is($mode2, 'ANSI_QUOTES,NO_ZERO_DATE', 'and sees the SET GLOBAL made while it was pooled');
is($dbh->selectrow_array('SELECT @@session_track_transaction_info'), 'OFF',
    'transaction-state tracker off');
$dbh->disconnect;
ok($admin->do("SET GLOBAL sql_mode = '$default_mode'"), 'sql_mode back');

# ---- the query cache, in session and in transaction mode ----
sub qcache_hits { ($admin->selectrow_array(q{SHOW GLOBAL STATUS LIKE 'Qcache_hits'}))[1] }

for my $mode ('session', 'transaction') {
    my $wm = $mode eq 'session' ? $w : $m->start_weir(weir => { pool_mode => 'transaction',
        default_pool_size => 2 });
    my $c = $wm->my_dbi;
    ok($c, "$mode: client") or diag($DBI::errstr);
    my $sql = "SELECT name FROM items WHERE id = 2 /* $mode */";
    is(scalar $c->selectrow_array($sql), 'pear', "$mode: first SELECT");
    my $before = qcache_hits();
    for my $i (1 .. 5) {
        is(scalar $c->selectrow_array($sql), 'pear', "$mode: repeated SELECT ($i)");
    }
    my $after = qcache_hits();
    cmp_ok($after - $before, '>=', 5, "$mode: Qcache_hits grew by 5 or more ($before -> $after)");
    $c->disconnect;
}

$w->stop;
done_testing();
