# t102_mysql_txn_state.t -- transaction pooling keeps what a MariaDB session shows: on a pool
# of two with background clients (so servers change hands between statements), SHOW WARNINGS
# and SHOW COUNT(*) WARNINGS after a statement that left warnings answer
# from the same server; text PREPARE/EXECUTE keeps its state; a user variable keeps its value
# however it was assigned (SELECT ... INTO @v, @v :=, and a SET that changes a system variable
# too); SET NAMES ... COLLATE keeps its collation; LOCK TABLES keeps its locks (weir leaves the
# transaction-state tracker off); a database dropped under the client, and one with a non-ASCII
# name, behave as on the server. The background clients never see any of it.
use strict;
use warnings;
use utf8;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);
use Encode qw(encode_utf8 decode_utf8);

binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);
my $m = MyTest->new;
my $tdb = 'тест';
$m->admin_sql(encode_utf8("CREATE DATABASE `$tdb` CHARACTER SET utf8mb4;
    GRANT ALL ON `$tdb`.* TO 'app'\@'%'; GRANT ALL ON `$tdb`.* TO 'app'\@'localhost';
    GRANT ALL ON shop3.* TO 'app'\@'%'; GRANT ALL ON shop3.* TO 'app'\@'localhost';
    CREATE TABLE `$tdb`.t (v INT); INSERT INTO `$tdb`.t VALUES (3);
    CREATE TABLE shop.items (id INT); INSERT INTO shop.items VALUES (1);
    CREATE TABLE shop.other (id INT);"),
    args => ['--default-character-set=utf8mb4']);
my $w = $m->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2 });
my ($default_mode) = $m->dbi->selectrow_array('SELECT @@sql_mode');

my $stop = $m->tmp . '/stop-bg';
my @bg = map {
    spawn(sub {
        my $dbh = $w->my_dbi or die "background client: $DBI::errstr";
        my $end = time + 150;
        while (!-e $stop && time < $end) {
            # (a user variable in the text would pin: those are checked at the end)
            my @r = $dbh->selectrow_array('SELECT @@sql_mode, DATABASE()');
            die "background client saw another's state: @r"
                if $r[0] ne $default_mode || ($r[1] // '') ne 'shop';
            my $n = $dbh->selectall_arrayref('SHOW WARNINGS');
            die 'background client saw warnings: ' . scalar(@$n) if @$n;
            sleep 0.005;
        }
        return 1;
    })
} 1 .. 2;

sub client { my $dbh = $w->my_dbi(@_); ok($dbh, 'client logs in') or diag($DBI::errstr); $dbh }

# Warnings and errors, then SHOW WARNINGS on the same server.
my $dbh = client();
for my $i (1 .. 10) {
    $dbh->selectrow_array(q{SELECT CAST('abc' AS SIGNED)});
    my $rows = $dbh->selectall_arrayref('SHOW WARNINGS');
    last unless is(scalar(@$rows) && $rows->[0][1], 1292, "SHOW WARNINGS after CAST ($i)");
    $dbh->selectrow_array(q{SELECT CAST('x' AS SIGNED), CAST('y' AS SIGNED)});
    my ($n) = $dbh->selectrow_array('SHOW COUNT(*) WARNINGS');
    last unless is($n, 2, "SHOW COUNT(*) WARNINGS ($i)");
    $rows = $dbh->selectall_arrayref('SHOW WARNINGS');
    last unless is(scalar(@$rows), 0, "a statement without warnings clears them ($i)");
}
$dbh->disconnect;

# Text PREPARE / EXECUTE
$dbh = client();
ok($dbh->do(q{PREPARE s FROM 'SELECT ? + 1'}), 'text PREPARE') or diag($dbh->errstr);
for my $i (1 .. 10) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    my ($r) = $dbh->selectrow_array("EXECUTE s USING $i");
    last unless is($r, $i + 1, "text EXECUTE after other statements ($i)") or diag($dbh->errstr);
}
$dbh->disconnect;

# User variables, however they are assigned, stay with their client.
$dbh = client();
ok($dbh->do('SELECT 42 INTO @v'), 'SELECT ... INTO @v') or diag($dbh->errstr);
for my $i (1 .. 5) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    last unless is(scalar $dbh->selectrow_array('SELECT @v'), 42, "\@v after INTO ($i)");
}
$dbh->disconnect;
$dbh = client();
ok($dbh->do(q{SET @old = @@sql_mode, sql_mode = 'ANSI_QUOTES'}),
    'SET of a user variable and a system variable together') or diag($dbh->errstr);
for my $i (1 .. 5) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    my @r = $dbh->selectrow_array('SELECT @old, @@sql_mode');
    last unless is_deeply(\@r, [$default_mode, 'ANSI_QUOTES'], "both kept ($i)");
}
$dbh->disconnect;
$dbh = client();
is(scalar $dbh->selectrow_array('SELECT @n := 7'), 7, 'SELECT @n := 7');
for my $i (1 .. 5) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    last unless is(scalar $dbh->selectrow_array('SELECT @n + 1'), 8, "\@n after := ($i)");
}
$dbh->disconnect;

# SET NAMES with a collation: the collation follows, not only the character set.
$dbh = client();
ok($dbh->do('SET NAMES utf8mb3 COLLATE utf8mb3_general_mysql500_ci'), 'SET NAMES ... COLLATE')
    or diag($dbh->errstr);
for my $i (1 .. 5) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    my @r = $dbh->selectrow_array('SELECT @@collation_connection, @@character_set_client');
    last unless is_deeply(\@r, ['utf8mb3_general_mysql500_ci', 'utf8mb3'], "collation kept ($i)");
}
$dbh->disconnect;

# LOCK TABLES keeps its server: a table not locked is refused (1100) as on the server.
$dbh = client();
is(scalar $dbh->selectrow_array('SELECT @@session_track_transaction_info'), 'OFF',
    'weir leaves the transaction-state tracker off (MariaDB\'s query cache stays usable)');
ok($dbh->do('LOCK TABLES items READ'), 'LOCK TABLES') or diag($dbh->errstr);
for my $i (1 .. 3) {
    $dbh->selectrow_array('SELECT COUNT(*) FROM items');
    ok(!$dbh->do('SELECT * FROM other'), "a table not locked ($i)");
    last unless is($dbh->err, 1100, "  the server's 1100: still under LOCK TABLES ($i)");
}
ok($dbh->do('UNLOCK TABLES'), 'UNLOCK TABLES');
$dbh->disconnect;

# A database dropped under the client, as on the server.
$dbh = client();
ok($dbh->do('CREATE DATABASE shop3'), 'CREATE DATABASE shop3') or diag($dbh->errstr);
ok($dbh->do('USE shop3'), 'USE shop3');
ok($dbh->do('DROP DATABASE shop3'), 'DROP DATABASE shop3 (the current one)') or diag($dbh->errstr);
for my $i (1 .. 5) {
    my @r = $dbh->selectrow_array('SELECT DATABASE(), 1');
    last unless is_deeply(\@r, [undef, 1], "no database selected after the drop ($i)")
        or diag($dbh->errstr);
}
ok(!$dbh->do('SELECT * FROM items'), 'a table without a database: error');
is($dbh->err, 1046, 'the server\'s 1046');
ok($dbh->do('USE shop'), 'USE shop after the drop') or diag($dbh->errstr);
for my $i (1 .. 5) {
    last unless is(scalar $dbh->selectrow_array('SELECT COUNT(*) FROM items'), 1,
        "back in shop ($i)") or diag($dbh->errstr);
}
$dbh->disconnect;

# A non-ASCII database name follows the client.
$dbh = client(attr => { mariadb_multi_statements => 0 });
$dbh->do('SET NAMES utf8mb4');
ok($dbh->do("USE `$tdb`"), 'USE a non-ASCII database') or diag($dbh->errstr);
for my $i (1 .. 10) {
    my @r = $dbh->selectrow_array('SELECT DATABASE(), v FROM t');
    last unless is_deeply(\@r, [$tdb, 3], "still in $tdb ($i)") or diag($dbh->errstr);
}
$dbh->disconnect;

spew($stop, '');
my $st = wait_children(\@bg, 60);
is_deeply([sort values %$st], [0, 0], 'the background clients never saw another\'s state');
$w->stop;
done_testing();
