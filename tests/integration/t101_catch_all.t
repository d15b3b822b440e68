# t101_catch_all.t -- the catch-all "*" entry on both ports: a database created after weir
# started (MariaDB: also one with a non-ASCII name, and one picked by USE after a login without
# a database; PostgreSQL: CREATE DATABASE) is served with the "*" settings, one pool per
# database used, alongside background clients on a transaction pool of two; a name the server
# does not have gets the server's error; "*" is never a database itself; a reload that drops
# the MySQL "*" retires its pools and the next login to such a database is refused by weir.
use strict;
use warnings;
use utf8;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);
use Encode qw(encode_utf8);

binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);
my $t = WeirTest->new;
my $m = MyTest->new;
my $myport = $m->port;
my $pgport = $t->pgport;
# Two "*" lines: the second key carries a blank that the INI reader trims (one hash key each).
my $w = $m->start_weir(pg => $t, weir => { pool_mode => 'transaction', default_pool_size => 2,
        admin_users => 'app' },
    databases => { '*' => "backend=mysql host=127.0.0.1 port=$myport",
        '* ' => "host=127.0.0.1 port=$pgport" });

my $stop = $m->tmp . '/stop-bg';
my @bg = map {
    spawn(sub {
        my $dbh = $w->my_dbi or die "background client: $DBI::errstr";
        my $end = time + 120;
        while (!-e $stop && time < $end) {
            $dbh->selectrow_array('SELECT 1') == 1 or die 'bad result';
            sleep 0.01;
        }
        return 1;
    })
} 1 .. 2;

# Databases created after weir started.
my $tdb = 'тест';
$m->admin_sql(encode_utf8("CREATE DATABASE shop2; CREATE DATABASE `$tdb` CHARACTER SET utf8mb4;
    GRANT ALL ON shop2.* TO 'app'\@'%'; GRANT ALL ON shop2.* TO 'app'\@'localhost';
    GRANT ALL ON `$tdb`.* TO 'app'\@'%'; GRANT ALL ON `$tdb`.* TO 'app'\@'localhost';"),
    args => ['--default-character-set=utf8mb4']);

my ($out, $err, $rc) = $w->mariadb('CREATE TABLE t (v INT); INSERT INTO t VALUES (7); '
        . 'SELECT DATABASE(), v FROM t', db => 'shop2');
is($out, "shop2\t7\n", 'a MariaDB database created after start is served through "*"') or diag($err);
for my $i (1 .. 10) {
    ($out, $err) = $w->mariadb('SELECT v FROM t', db => 'shop2');
    last unless is($out, "7\n", "shop2 again ($i)");
}
($out, $err, $rc) = $w->mariadb(encode_utf8("CREATE TABLE ц (v VARCHAR(10)); INSERT INTO ц VALUES ('да'); "
        . "SELECT DATABASE(), v FROM ц"), db => encode_utf8($tdb),
    args => ['--default-character-set=utf8mb4']);
is($out, encode_utf8("$tdb\tда\n"), 'a non-ASCII database name through "*"') or diag($err);
($out, $err, $rc) = $w->mariadb('USE shop2; SELECT DATABASE(), v FROM t', db => undef);
is($out, "shop2\t7\n", 'USE after a login without a database reaches a "*" database') or diag($err);

($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'nosuchdb');
my ($dout, $derr) = $m->mariadb('SELECT 1', db => 'nosuchdb');
ok(mariadb_err_code($derr), 'directly, MariaDB refuses a name it does not have') or diag($derr);
is(mariadb_err_code($err), mariadb_err_code($derr), 'through "*" the client gets the same code')
    or diag($err);
like($err, qr/to database 'nosuchdb'/, 'with the server\'s message');
($out, $err, $rc) = $w->mariadb('SELECT 1', db => '*');
is(mariadb_err_code($err), 1049, '"*" itself is no database');

# PostgreSQL: CREATE DATABASE after start, then connect to it.
{
    my $dbh = $t->pg_admin_dbi;
    $dbh->do('CREATE DATABASE pgnew OWNER app');
    $dbh->disconnect;
}
($out, $err, $rc) = $w->psql('CREATE TABLE p (v int); INSERT INTO p VALUES (5); '
        . 'SELECT current_database(), v FROM p', db => 'pgnew');
is($out, "pgnew|5", 'a PostgreSQL database created after start is served through "*"')
    or diag($err);
($out, $err, $rc) = $w->psql('SELECT 1', db => 'nosuchpg');
like($err, qr/database "nosuchpg" does not exist/, 'PostgreSQL: the server\'s 3D000 for a name it lacks');
($out, $err, $rc) = $w->psql('SELECT 1', db => 'shop');
like($err, qr/is a MySQL database/, 'a listed MySQL entry still is no PostgreSQL database');

# One pool per database used, each named after it.
($out, $err, $rc) = $w->psql('SHOW POOLS', db => 'weir');
my %pools = map { (split /\|/)[0] => 1 } split /\n/, $out;
ok($pools{shop2} && $pools{pgnew} && $pools{shop}, 'SHOW POOLS lists shop2, pgnew and shop')
    or diag($out);
ok(!$pools{'*'}, 'no pool is named "*"');

# A reload without the MySQL "*": its pools retire, new logins to such names are refused.
my $conf = slurp($w->{conf});
$conf =~ s/^\* = backend=mysql.*\n//m or die 'no mysql * line';
spew($w->{conf}, $conf);
kill 'HUP', $w->pid;
ok(wait_until(20, sub { $w->log_text =~ /pool shop2\/app: database removed/ }),
    'the reload retires the pool made from "*"');
($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'shop2');
is(mariadb_err_code($err), 1049, 'after the reload shop2 is unknown to weir') or diag($err);
($out, $err, $rc) = $w->psql('SELECT v FROM p', db => 'pgnew');
is($out, '5', 'the PostgreSQL "*" still serves pgnew') or diag($err);

spew($stop, '');
my $st = wait_children(\@bg, 60);
is_deeply([sort values %$st], [0, 0], 'the background clients saw only their own results');
$w->stop;
done_testing();
