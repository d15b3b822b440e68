# t105_mysql_pass_through.t -- a MySQL user whose auth file entry is the server's hash
# ("*" + 40 hex digits, as in mysql.user) logs in through weir with its password: the client's
# token proves it against the hash and yields SHA1(password), and weir's logins for that user
# go in as auth_user and change user with a token computed from it (COM_CHANGE_USER), so weir
# never knows the password. On a transaction pool of two with clients in parallel (several
# server logins), after a login without a database, with a wrong password (refused by weir),
# and without auth_user (the server login fails with a clear error). Then users the auth file
# does not have at all: looked up on the server (mysql_auth_query as auth_user), with the same
# pass-through; a wrong password, an unknown user and an expired password are refused, and a
# password changed on the server works at once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Digest::SHA qw(sha1 sha1_hex);

my $m = MyTest->new;
$m->admin_sql("CREATE USER 'hashed'\@'%' IDENTIFIED BY 'hpass';
    GRANT ALL ON shop.* TO 'hashed'\@'%';
    CREATE TABLE shop.items (id INT); INSERT INTO shop.items VALUES (1), (2);");
my $hash = '*' . uc(sha1_hex(sha1('hpass')));
my ($server_hash) = $m->admin_dbi->selectrow_array(
    q{SELECT authentication_string FROM mysql.user WHERE User = 'hashed'});
is($server_hash, $hash, 'the auth file holds the server\'s own hash');

my $w = $m->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2,
        auth_user => 'app' },
    users => { app => 'apppass', hashed => $hash });

sub hashed_dbi { $w->my_dbi(user => 'hashed', password => $_[0] // 'hpass', @_[1 .. $#_]) }

my $dbh = hashed_dbi();
ok($dbh, 'a user known by its hash logs in with its password') or diag($DBI::errstr);
is(scalar $dbh->selectrow_array('SELECT CURRENT_USER()'), 'hashed@%',
    'its statements run as that user on the server');
is(scalar $dbh->selectrow_array('SELECT COUNT(*) FROM items'), 2, 'and see its database');

# Clients in parallel, each holding a transaction a while: both servers log in (pass-through).
my @kids = map {
    spawn(sub {
        my $d = hashed_dbi() or die "connect: $DBI::errstr";
        for (1 .. 10) {
            $d->begin_work or die $d->errstr;
            my ($u) = $d->selectrow_array('SELECT CURRENT_USER()');
            die "ran as $u" unless $u eq 'hashed@%';
            $d->selectrow_array('SELECT SLEEP(0.05)');
            $d->commit or die $d->errstr;
        }
        return 1;
    })
} 1 .. 4;
my $st = wait_children(\@kids, 120);
is_deeply([sort values %$st], [0, 0, 0, 0], 'four clients on a pool of two, all as the user');
my ($n) = $m->admin_dbi->selectrow_array(
    q{SELECT COUNT(*) FROM information_schema.processlist WHERE User = 'hashed'});
cmp_ok($n, '>=', 2, "the server sees weir's connections as the user ($n)");
$dbh->disconnect;

ok(!hashed_dbi('wrong'), 'a wrong password is refused');
like($DBI::errstr // '', qr/denied/i, '... with access denied');

# A login without a database (the mariadb client), then USE: the pool is picked late.
my ($out, $err) = $w->mariadb('USE shop; SELECT CURRENT_USER(), COUNT(*) FROM items',
    user => 'hashed', password => 'hpass', db => '');
is($err, '', 'a login without a database, then USE shop') or diag($err);
is($out, "hashed\@%\t2\n", '... runs as the user too');
$w->stop;

# Without auth_user weir has no way in: the client gets the server login's failure.
my $w2 = $m->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2,
        query_wait_timeout => 10 },
    users => { app => 'apppass', hashed => $hash });
my $d2 = $w2->my_dbi(user => 'hashed', password => 'hpass');
my $ok = $d2 && $d2->selectrow_array('SELECT 1');
ok(!$ok, 'without auth_user the user cannot reach the server');
$w2->log_like(qr/weir needs auth_user to log in as that user/, '... and the log says why');
$w2->stop;

# ---- users looked up on the server ----
$m->admin_sql("CREATE USER 'looked'\@'%' IDENTIFIED BY 'lpass';
    GRANT ALL ON shop.* TO 'looked'\@'%';
    CREATE USER 'expired'\@'%' IDENTIFIED BY 'epass'; GRANT ALL ON shop.* TO 'expired'\@'%';
    ALTER USER 'expired'\@'%' PASSWORD EXPIRE;
    GRANT SELECT ON mysql.user TO 'app'\@'%'; GRANT SELECT ON mysql.user TO 'app'\@'localhost';");
my $w3 = $m->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2,
        auth_user => 'app' },
    users => { app => 'apppass' });
my $l = $w3->my_dbi(user => 'looked', password => 'lpass');
ok($l, 'a user only the server knows logs in with its password') or diag($DBI::errstr);
is($l ? scalar $l->selectrow_array('SELECT CURRENT_USER()') : undef, 'looked@%',
    '... and runs as itself');
$l->disconnect if $l;
ok(!$w3->my_dbi(user => 'looked', password => 'nope'), 'a wrong password is refused');
ok(!$w3->my_dbi(user => 'nobody', password => 'x'), 'a user the server does not know either');
ok(!$w3->my_dbi(user => 'expired', password => 'epass'), 'an expired password is refused');
$m->admin_sql("ALTER USER 'looked'\@'%' IDENTIFIED BY 'lpass2'");
my $l2 = $w3->my_dbi(user => 'looked', password => 'lpass2');
ok($l2, 'a password changed on the server works at once (looked up again)')
    or diag($DBI::errstr);
is($l2 ? scalar $l2->selectrow_array('SELECT CURRENT_USER()') : undef, 'looked@%',
    '... as the user');
$l2->disconnect if $l2;
$w3->stop;
done_testing();
