# t19_server_down.t -- when weir cannot reach a database's server, its clients are told that
# weir could not log in to the server of that entry (SQLSTATE 08001; MySQL 1429), with the
# library's own words as the cause on one line, rather than an error that reads like their own
# connection failing; the log line has no escaped newline either. Other entries keep working.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest qw(mariadb_err_code);
use Test::More;

my $t = WeirTest->new;
my $closed = free_port();    # nobody listens here
my $myport = free_port();
my $w = $t->start_weir(weir => { mysql_listen_port => $myport, server_login_retry => 1 },
    databases => {
        downdb => "host=127.0.0.1 port=$closed dbname=testdb",
        mydown => "backend=mysql host=127.0.0.1 port=$closed dbname=shop",
    });

{
    my $s = $w->socket;
    my $r = raw_login($s, database => 'downdb', timeout => 30);
    is($r->{error}{C}, '08001', 'PostgreSQL entry with its server down: 08001');
    like($r->{error}{M} // '', qr/^weir could not log in to the server of database "downdb": /,
        "the message names weir and the entry ($r->{error}{M})");
    like($r->{error}{M} // '', qr/Connection refused/, '... and keeps the cause');
    unlike($r->{error}{M} // '', qr/[\n\t]/, '... on one line');
    close $s;
}

{
    my ($out, $err, $rc) = MyTest::_mariadb_cli($myport, 'SELECT 1', db => 'mydown');
    isnt($rc, 0, 'mariadb to a MySQL entry whose server is down fails');
    is(mariadb_err_code($err), 1429, 'MySQL clients get 1429 (could not connect to a data source)')
        or diag($err);
    like($err, qr/weir could not log in to the server of database "mydown"/, '... naming the entry')
        or diag($err);
}

my ($out) = $w->psql('SELECT 40 + 2');
is($out, '42', 'the entry whose server is up keeps working');
ok(wait_until(10, sub { $w->log_text =~ /login failed: .*Connection refused/ }),
    'the log says why the login failed');
unlike($w->log_text, qr/\\x0a/, 'no log line carries an escaped newline');
$w->stop;
done_testing;
