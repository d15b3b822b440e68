# t35_console_kill_login.t -- a login weir gives up itself is not the server failing. The
# console's KILL closes a server connection still logging in (to a server that never answers);
# after RESUME the next client must get a fresh login attempt (here: its server_connect_timeout),
# not "server login has been failing" from a server_login_retry back-off that KILL armed.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my ($fport, $fpid) = fake_server(120);
my $w = $t->start_weir(users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin', server_connect_timeout => 3, server_login_retry => 60 },
    databases => { fakedb => "host=127.0.0.1 port=$fport dbname=fake" });

# A client of fakedb: logs in, then waits for a server that never finishes its login.
my $a = bg_cmd([WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-h', '127.0.0.1', '-p', $w->port,
        '-U', 'app', '-d', 'fakedb', '-c', 'SELECT 1'], env => { PGPASSWORD => 'apppass' },
    timeout => 60);
my $adm = $w->dbi(user => 'admin', password => 'adminpass', db => 'weir') or die $DBI::errstr;
ok(wait_until(10, sub {
    my $r = $adm->selectall_arrayref('SHOW POOLS', { Slice => {} });
    grep { $_->{database} eq 'fakedb' && $_->{sv_login} > 0 } @$r;
}), 'a server of fakedb is logging in (to a server that never answers)');
ok($adm->do('KILL fakedb'), 'KILL fakedb closes it and its waiting client');
ok($adm->do('RESUME fakedb'), 'RESUME fakedb');
my (undef, $aerr) = bg_result($a, 60);
like($aerr, qr/KILL/, 'the waiting client was told of the KILL');

my $b = $w->socket;
my $t0 = time;
my $r = raw_login($b, database => 'fakedb', timeout => 30);
my $el = time - $t0;
unlike($r->{error}{M} // '', qr/has been failing/,
    'the next client is not refused with the back-off KILL must not arm');
like($r->{error}{M} // '', qr/server_connect_timeout/,
    sprintf('it gets a fresh login attempt, which times out after %.1fs', $el))
    or diag(explain($r));
close $b;

my ($out) = $w->psql('SELECT 1');
is($out, '1', 'other databases are served throughout');
kill 'KILL', $fpid;
waitpid($fpid, 0);
$adm->disconnect;
$w->stop;
done_testing;
