# t124_pg_auth_query.t -- PostgreSQL users in no auth file, looked up on the server as auth_user
# with auth_query (PgBouncer's default query) in the database auth_dbname names, their secrets
# passed through to the server: a SCRAM verifier (weir logs in with the ClientKey the client's
# proof gave; the server's pg_hba.conf asks this user for scram-sha-256) and an md5 secret
# (pg_hba.conf asks md5; weir's auth_type md5 asks the client for SCRAM where the secret is a
# verifier, md5 where it is an md5 secret). A wrong password, an expired one (rolvaliduntil, CVE-2025-2291) and an
# unknown user are refused; the client's startup parameters never reach the lookup (a search_path
# that puts a schema of the client's before pg_catalog, CVE-2025-12819); a cached secret that no
# longer matches is dropped, so a changed password works at the next login; a verifier in the
# auth file passes through the same way.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;

my $t = WeirTest->new;

{
    my $dbh = $t->pg_admin_dbi;
    $dbh->do("CREATE ROLE weir_auth LOGIN SUPERUSER PASSWORD 'authpass'");
    $dbh->do("CREATE ROLE scram_u LOGIN PASSWORD 'scrampass'");
    $dbh->do("CREATE ROLE expired_u LOGIN PASSWORD 'exppass' VALID UNTIL '2001-01-01'");
    $dbh->do("CREATE ROLE victim LOGIN PASSWORD 'victimpass'");
    $dbh->do("CREATE ROLE vuser LOGIN PASSWORD 'vpass'");
    $dbh->do("SET password_encryption = 'md5'");
    $dbh->do("CREATE ROLE md5_u LOGIN PASSWORD 'md5pass'");
    # A schema anyone could own, with a pg_authid of its own holding a verifier for victim
    # whose password the attacker knows: a lookup that took the client's search_path would
    # read it.
    $dbh->do("CREATE SCHEMA evil");
    $dbh->do("CREATE TABLE evil.pg_authid AS SELECT rolname, rolpassword, rolvaliduntil, "
            . "rolcanlogin FROM pg_catalog.pg_authid WHERE rolname = 'scram_u'");
    $dbh->do("UPDATE evil.pg_authid SET rolname = 'victim'");
    $dbh->disconnect;
    # md5_u logs in with md5, everyone else over TCP with scram-sha-256.
    my $hba = WeirTest::slurp("$t->{pgdata}/pg_hba.conf");
    $hba = "host all md5_u 127.0.0.1/32 md5\n$hba";
    WeirTest::spew("$t->{pgdata}/pg_hba.conf", $hba);
    $dbh = $t->pg_admin_dbi;
    $dbh->do('SELECT pg_reload_conf()');
    $dbh->disconnect;
}

my $w = $t->start_weir(
    weir => { auth_type => 'md5', auth_user => 'weir_auth', auth_dbname => 'postgres',
        auth_query_cache_seconds => 300, pool_mode => 'transaction' },
    users => { app => 'apppass', weir_auth => 'authpass', vuser => $t->scram_verifier('vuser') });

sub login {
    my ($user, $pass, %o) = @_;
    my ($out, $err, $rc) = $w->psql(['SELECT current_user', 'SHOW search_path'], user => $user,
        password => $pass, %o);
    return ($rc == 0 ? $out : undef, $err);
}

my ($out, $err) = login('scram_u', 'scrampass');
like($out // '', qr/^scram_u\n/, 'a user in no auth file logs in (SCRAM verifier from auth_query)')
    or diag($err);
($out, $err) = login('scram_u', 'scrampass');
like($out // '', qr/^scram_u\n/, '... again (the cached secret), served as scram_u by the server')
    or diag($err);
ok($w->log_text !~ /scrampass/, 'the password is nowhere in the log');

($out, $err) = login('md5_u', 'md5pass');
like($out // '', qr/^md5_u\n/,
    'a user with an md5 secret logs in, passed through to a server that asks md5') or diag($err);

($out, $err) = login('scram_u', 'wrong');
ok(!defined $out, 'a wrong password is refused');
like($err, qr/password authentication failed for user "scram_u"/, "... \"$err\"");

($out, $err) = login('expired_u', 'exppass');
ok(!defined $out, 'an expired password (rolvaliduntil in the past) is refused (CVE-2025-2291)');
like($err, qr/password authentication failed/, '... as a failed password');
$w->log_like(qr/expired_u.*auth_query gave no secret/, '... and the log says why');

($out, $err) = login('nobody_here', 'x');
ok(!defined $out, 'a user the server does not know is refused');

{
    local $ENV{PGOPTIONS} = '-c search_path=evil,pg_catalog';
    ($out, $err) = login('victim', 'scrampass');
    ok(!defined $out, "victim with the attacker's password and search_path=evil,pg_catalog at "
        . "startup is refused: the lookup never takes the client's parameters (CVE-2025-12819)");
    ($out, $err) = login('victim', 'victimpass');
    like($out // '', qr/^victim\nevil, ?pg_catalog$/,
        "victim's own password works, and the session itself has the search_path it asked")
        or diag($err);
}

($out, $err) = login('vuser', 'vpass');
like($out // '', qr/^vuser\n/,
    'a user whose auth file entry is a SCRAM verifier passes through the same way') or diag($err);

# A changed password: the cached verifier no longer matches; that failure drops it.
{
    ($out, $err) = login('scram_u', 'scrampass');
    like($out // '', qr/^scram_u\n/, 'scram_u logs in (its verifier cached again)') or diag($err);
    my $dbh = $t->pg_admin_dbi;
    $dbh->do("ALTER ROLE scram_u PASSWORD 'newpass'");
    $dbh->disconnect;
    ($out, $err) = login('scram_u', 'newpass');
    ok(!defined $out, 'a new password right after the change meets the cached verifier: refused');
    ($out, $err) = login('scram_u', 'newpass');
    like($out // '', qr/^scram_u\n/, '... the failure dropped it: the next login looks up again')
        or diag($err);
    ($out, $err) = login('scram_u', 'scrampass');
    ok(!defined $out, 'the old password is refused');
}

($out, $err) = $w->psql('SELECT 1');
is($out, '1', 'a user of the auth file is served throughout') or diag($err);
$w->log_like(qr/authentication failed/, 'refusals are logged');
ok($w->alive, 'weir is still running');
$w->stop;

# The same attack on an auth_query that does not qualify pg_authid: only the lookup's own
# parameters (none of the client's) decide what it reads. auth_user and auth_dbname are the
# database entry's own here (PgBouncer's per-database keys), none global.
my $pgp = $t->pgport;
$w = $t->start_weir(
    weir => { auth_query => 'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = $1' },
    databases => { testdb => "host=127.0.0.1 port=$pgp dbname=testdb auth_user=weir_auth "
            . "auth_dbname=postgres" },
    users => { app => 'apppass', weir_auth => 'authpass' });
{
    local $ENV{PGOPTIONS} = '-c search_path=evil,pg_catalog';
    ($out, $err) = login('victim', 'scrampass');
    ok(!defined $out, "an unqualified auth_query: the attacker's password is still refused");
    ($out, $err) = login('victim', 'victimpass');
    like($out // '', qr/^victim\n/, "... and victim's own works (the entry's auth_user)")
        or diag($err);
}
($out, $err) = login('scram_u', 'newpass', db => 'postgres');
ok(!defined $out, 'an entry without auth_user (none global either) looks nobody up');
$w->stop;
done_testing;
