# t100_mysql_login_no_db.t -- a MySQL client that logs in without a database picks it later, as
# the mariadb client, mariadb-dump and GUI tools do: COM_INIT_DB (the CLI's USE) or a COM_QUERY
# `USE name` picks the entry and so the pool, the server answers the USE, and the client goes on
# there; a command before any USE gets ERR 1046 with the connection kept, or runs in
# mysql_default_database's entry when that is set; an unknown name is ERR 1049 and the
# connection stays; KILL still needs no server. On a transaction pool of two with background
# clients, so servers change hands between statements; and in session mode.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $m = MyTest->new;
$m->admin_sql("CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20));
    INSERT INTO shop.items VALUES (1, 'apple'), (2, 'pear');
    CREATE DATABASE other; GRANT ALL ON other.* TO 'app'\@'%'; GRANT ALL ON other.* TO 'app'\@'localhost';
    CREATE TABLE other.o (v VARCHAR(10)); INSERT INTO other.o VALUES ('other');");
my $w = $m->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2 },
    databases => { alias => "backend=mysql host=127.0.0.1 port=" . $m->port . " dbname=other" });

# Background clients keep both servers changing hands until the stop file appears: a raw one
# (the framing of the raw clients below, so they share its pool) and a DBI one, each pausing
# between statements so a pool of another framing can take a server too.
my $stop = $m->tmp . '/stop-bg';
my @bg = map {
    my $raw = $_;
    spawn(sub {
        my ($dbh, $s);
        if ($raw) {
            $s = $w->my_socket;
            my_login($s)->{ok} or die 'background login';
        } else {
            $dbh = $w->my_dbi or die "background client: $DBI::errstr";
        }
        my $end = time + 120;
        while (!-e $stop && time < $end) {
            my $n = $raw ? my_query($s, 'SELECT COUNT(*) FROM items')->{results}[0]{rows}[0][0]
                : $dbh->selectrow_array('SELECT COUNT(*) FROM items');
            ($n // -1) == 2 or die 'bad count';
            sleep 0.02;
        }
        return 1;
    })
} 1, 0;

# mariadb CLI without a database: its USE is a COM_INIT_DB.
my ($out, $err, $rc) = $w->mariadb('USE shop; SELECT DATABASE(); SELECT name FROM items ORDER BY id',
    db => undef);
is($rc, 0, 'mariadb without a database, then USE shop: runs') or diag($err);
is($out, "shop\napple\npear\n", 'the statements after USE run in shop');

($out, $err, $rc) = $w->mariadb('SELECT 1', db => undef);
is(mariadb_err_code($err), 1046, 'a query before any USE gets ERR 1046 (no database selected)')
    or diag($err);

# Raw protocol: the connection stays after 1046 and after 1049.
my $s = $w->my_socket;
my $r = my_login($s, db => undef);
ok($r->{ok}, 'raw login without a database') or diag(explain($r));
$r = my_query($s, 'SELECT 1');
is($r->{error}{code}, 1046, 'SELECT before USE: ERR 1046');
syswrite($s, my_packet(0, "\x02nosuchdb"));
my ($seq, $p) = my_read_packet($s, 10);
my $e = defined $p && ord($p) == 0xff ? my_parse_err($p) : {};
is($e->{code}, 1049, 'COM_INIT_DB of an unknown database: ERR 1049') or diag(explain($e));
syswrite($s, my_packet(0, "\x0e"));
($seq, $p) = my_read_packet($s, 10);
is(defined $p ? ord($p) : -1, 0, 'COM_PING is answered without a database');
syswrite($s, my_packet(0, "\x02shop"));
($seq, $p) = my_read_packet($s, 10);
is(defined $p ? ord($p) : -1, 0, 'COM_INIT_DB shop: OK from the server');
for my $i (1 .. 20) {
    $r = my_query($s, 'SELECT DATABASE(), COUNT(*) FROM items');
    last unless is_deeply($r->{results}[0]{rows}, [['shop', 2]], "query $i after COM_INIT_DB")
}
$r = my_query($s, 'USE other');
ok(!$r->{error}, 'USE other after shop: the server switches') or diag(explain($r));
$r = my_query($s, 'SELECT v FROM o');
is($r->{results}[0]{rows}[0][0], 'other', 'the client follows to other');
close $s;

# A COM_QUERY USE as the first statement (as DBI's do sends it), with backquotes.
$s = $w->my_socket;
$r = my_login($s, db => undef);
$r = my_query($s, 'use `shop` ;');
ok(!$r->{error}, 'USE `shop` as a query') or diag(explain($r));
$r = my_query($s, 'SELECT COUNT(*) FROM items');
is($r->{results}[0]{rows}[0][0], 2, 'then queries run in shop');
close $s;

# An entry whose dbname differs: weir answers the USE, its servers are there already.
$s = $w->my_socket;
$r = my_login($s, db => undef);
$r = my_query($s, 'USE alias');
ok(!$r->{error}, 'USE alias (dbname=other) is answered') or diag(explain($r));
$r = my_query($s, 'SELECT DATABASE(), v FROM o');
is_deeply($r->{results}[0]{rows}, [['other', 'other']], 'alias runs in other');
close $s;

# KILL of another client needs no database.
$s = $w->my_socket;
$r = my_login($s, db => undef);
$r = my_query($s, 'KILL 1');
is($r->{error}{code}, 1094, 'KILL without a database is still answered (unknown id)');
close $s;

# mysql_default_database: a client that never chooses gets that entry.
my $w2 = $m->start_weir(weir => { pool_mode => 'session', default_pool_size => 2,
        mysql_default_database => 'shop' });
($out, $err, $rc) = $w2->mariadb('SELECT DATABASE(), COUNT(*) FROM items', db => undef);
is($out, "shop\t2\n", 'without a USE the client runs in mysql_default_database') or diag($err);
($out, $err, $rc) = $w2->mariadb('USE other; SELECT DATABASE(), v FROM o', db => undef);
is($out, "other\tother\n", 'a USE still picks its own database in session mode') or diag($err);
# DBD::MariaDB runs a statement of its own at connect: it lands in the default database.
my $dbh = $w2->my_dbi(db => '');
ok($dbh, 'DBI login without a database, mysql_default_database set') or diag($DBI::errstr);
is(scalar $dbh->selectrow_array('SELECT DATABASE()'), 'shop', 'DBI runs in the default database');
ok($dbh->do('USE other'), 'DBI: USE other') or diag($dbh->errstr);
is(scalar $dbh->selectrow_array('SELECT v FROM o'), 'other', 'DBI follows to other');
$dbh->disconnect;

spew($stop, '');
my $st = wait_children(\@bg, 60);
is_deeply([sort values %$st], [0, 0], 'the background clients saw only their own results');
$w->log_like(qr/database shop picked after the login \(USE, transaction pooling\)/,
    'the log says which database a late USE picked');
$w->stop;
$w2->stop;
done_testing();
