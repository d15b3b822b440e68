# t103_mysql_dump_restore.t -- mariadb-dump of a database through weir, restored through weir
# into a database created after weir started (served by the catch-all "*" entry), dumps the
# same: the tools log in without a database, run their first statements (SET @@SQL_MODE) in
# mysql_default_database and then USE the database; in transaction pooling their user
# variables (the dump's SET @OLD_... lines) keep their server.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;

my $m = MyTest->new;
my $myport = $m->port;
my (undef, $serr, $src) = $m->admin_sql("CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2),
        note TEXT, made DATETIME, KEY (name));
    INSERT INTO shop.items SELECT seq, CONCAT('item-', seq), seq * 1.25, REPEAT('x', seq % 50),
        '2024-01-02 03:04:05' + INTERVAL seq MINUTE FROM shop.seq_1_to_2000;
    CREATE DATABASE copy; GRANT ALL ON copy.* TO 'app'\@'%'; GRANT ALL ON copy.* TO 'app'\@'localhost';
    GRANT SELECT, SHOW VIEW, LOCK TABLES, PROCESS ON *.* TO 'app'\@'%';
    GRANT SELECT, SHOW VIEW, LOCK TABLES, PROCESS ON *.* TO 'app'\@'localhost';");
is($src, 0, 'the data is set up') or diag($serr);

for my $mode ('session', 'transaction') {
    my $w = $m->start_weir(weir => { pool_mode => $mode, default_pool_size => 2,
            mysql_default_database => 'shop' },
        databases => { '*' => "backend=mysql host=127.0.0.1 port=$myport" });
    my @common = ('--no-defaults', '-h', '127.0.0.1', '-P', $w->mysql_port, '--protocol=TCP',
        '-u', 'app', '-papppass');
    my @dump = ('mariadb-dump', @common, '--skip-dump-date', '--single-transaction',
        '--skip-comments');
    my ($out, $err, $rc) = run_cmd([@dump, 'shop'], timeout => 120);
    is($rc, 0, "$mode: mariadb-dump shop through weir") or diag($err);
    my $orig = $out;
    like($orig, qr/INSERT INTO `items` VALUES/, "$mode: the dump has the rows");
    $m->admin_sql('DROP DATABASE IF EXISTS copy; CREATE DATABASE copy');
    ($out, $err, $rc) = run_cmd(['mariadb', @common, 'copy'], stdin => $orig, timeout => 120);
    is($rc, 0, "$mode: restored through weir into copy") or diag($err);
    ($out, $err, $rc) = run_cmd([@dump, 'copy'], timeout => 120);
    is($rc, 0, "$mode: mariadb-dump copy through weir") or diag($err);
    ok($out eq $orig, "$mode: the two dumps are equal") or diag(length($out) . ' vs ' . length($orig));
    ($out, $err, $rc) = run_cmd(['mariadb-check', @common, '--databases', 'shop', 'copy'],
        timeout => 120);
    is($rc, 0, "$mode: mariadb-check through weir") or diag($err);
    unlike($out, qr/error|corrupt/i, "$mode: mariadb-check finds nothing wrong") or diag($out);
    $w->stop;
}
done_testing();
