# t121_hba.t -- auth_type = hba (auth_hba_file) on both ports, and auth_type = cert. One weir
# with PostgreSQL and MySQL databases and rules by connection type, address, database and
# user: a unix-socket client gets in without a password (local trust), TLS and plain TCP
# clients from 127.0.0.1 are asked for SCRAM and md5 (the first bytes of the exchange show
# which; libpq's channel_binding=require gets SCRAM-SHA-256-PLUS over TLS), a raw client from 127.0.0.2 is refused by a reject rule naming its line, one from
# 127.0.0.3 by no rule at all; the MySQL port follows the same file (a password rule for the
# shop database, a reject for a raw client from 127.0.0.2, COM_CHANGE_USER to a user without a
# rule, a client without a database whose USE of a rejected database gets 1044); a reload with a new file takes effect for the next login. A second weir with auth_type = cert and verify-full
# lets in the user its client certificate names (CN=app) without a password, and refuses
# another user with the same certificate. A file weir cannot read fails --check with the line.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use TlsTest;
use EdgeTest;
use Test::More;
use IO::Socket::UNIX;

my $t = WeirTest->new;
my $m = MyTest->new;
my $certs = make_certs($t->tmp . '/certs', 'a');
my $hba = $t->tmp . '/hba.conf';
my $rules = <<'EOF2';
# type    database  user   address        method
local     all       all                   trust
host      all       app    127.0.0.2/32   reject
hostssl   testdb    app    127.0.0.1/32   scram-sha-256
hostnossl testdb    app    127.0.0.1/32   md5
host      shop      app    127.0.0.1/32   password
host      postgres  app    127.0.0.1/32   password
host      weir      admin  127.0.0.1/32   md5
host      shopforced app   127.0.0.1/32   reject
host      all       app    127.0.0.1/32   password
EOF2
spew($hba, $rules);
my $w = $m->start_weir(pg => $t, users => { app => 'apppass', admin => 'adminpass' },
    weir => { auth_type => 'hba', auth_hba_file => $hba, admin_users => 'admin',
        client_tls_sslmode => 'prefer', client_tls_key_file => $certs->{key},
        client_tls_cert_file => $certs->{cert}, server_tls_sslmode => 'disable' });

sub psql_at {
    my ($conn, $sql, %o) = @_;
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-q', '-d', $conn,
            '-c', $sql], env => { PGPASSWORD => $o{password} // 'apppass',
            PGCONNECT_TIMEOUT => 10, HOME => $t->tmp }, timeout => 60);
    chomp $out;
    return ($out, $err, $rc);
}
my $port = $w->port;

# the first answer to a startup from $from: ('R', auth code) or ('E', SQLSTATE, message)
sub first_answer {
    my ($from, %o) = @_;
    my $s = connect_from($from, $port);
    print $s startup_packet(user => $o{user} // 'app', database => $o{db} // 'testdb');
    my ($type, $body) = read_msg($s, 10);
    close $s;
    return ('none') unless defined $type;
    return ('R', unpack('N', $body)) if $type eq 'R';
    my $e = parse_error_fields($body);
    return ($type, $e->{C} // '', $e->{M} // '');
}

# ---- PostgreSQL -----------------------------------------------------------------------------
my ($out, $err, $rc) = psql_at("host=$w->{dir} port=$port dbname=testdb user=app", 'SELECT 1',
    password => 'not the password');
is($out, '1', 'local (unix socket): trust, any password') or diag($err);
($out, $err) = psql_at("host=127.0.0.1 port=$port dbname=testdb user=app sslmode=require",
    'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
is($out, 'f', 'hostssl from 127.0.0.1: logged in over TLS (weir to the server: plain)')
    or diag($err);
($out, $err) = psql_at("host=127.0.0.1 port=$port dbname=testdb user=app sslmode=require "
        . "channel_binding=require", 'SELECT 8');
is($out, '8', 'channel_binding=require: SCRAM-SHA-256-PLUS over TLS') or diag($err);
($out, $err, $rc) = psql_at("host=127.0.0.1 port=$port dbname=testdb user=app sslmode=require "
        . "channel_binding=require", 'SELECT 8', password => 'wrong');
like($err, qr/password authentication failed/, '... with a wrong password: refused');
is_deeply([ first_answer('127.0.0.1') ], ['R', 5], 'hostnossl from 127.0.0.1: md5 asked');
($out, $err) = psql_at("host=127.0.0.1 port=$port dbname=testdb user=app sslmode=disable",
    'SELECT 2');
is($out, '2', '... and psql logs in with it') or diag($err);
($out, $err, $rc) = psql_at("host=127.0.0.1 port=$port dbname=testdb user=app sslmode=disable",
    'SELECT 3', password => 'wrong');
like($err, qr/password authentication failed/, '... a wrong password is refused');
is_deeply([ first_answer('127.0.0.1', db => 'postgres') ], ['R', 3],
    'host postgres from 127.0.0.1: cleartext password asked (the password rule)');
my @r = first_answer('127.0.0.2');
is_deeply([ @r[0, 1] ], ['E', '28000'], 'from 127.0.0.2: refused before any password');
like($r[2] // '', qr/auth_hba_file rejects connection for host "127\.0\.0\.2", user "app", database "testdb" \(line 3\)/,
    '... by the reject rule, naming its line');
@r = first_answer('127.0.0.3');
like($r[2] // '', qr/no auth_hba_file entry for host "127\.0\.0\.3", user "app", database "testdb", no TLS/,
    'from 127.0.0.3: no rule matches, refused');
is_deeply([ first_answer('127.0.0.1', user => 'admin', db => 'weir') ], ['R', 5],
    'the console follows the rules too (md5 for admin)');
($out, $err, $rc) = psql_at("host=$w->{dir} port=$port dbname=weir user=app", 'SHOW VERSION');
like($err, qr/not allowed/, 'a trust rule does not open the console to a user not in admin_users');
@r = first_answer('127.0.0.1', user => 'admin', db => 'testdb');
like($r[2] // '', qr/no auth_hba_file entry/, 'admin has no rule for testdb');

# ---- MySQL: the same file ----------------------------------------------------------------------
($out, $err, $rc) = $w->mariadb('SELECT 40 + 2', db => 'shop');
is($out, "42\n", 'MySQL to shop from 127.0.0.1: the password rule, native password')
    or diag($err);
($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'shop', password => 'wrong');
like($err, qr/1045|Access denied/, '... a wrong password is refused');
my $l = my_login(connect_from('127.0.0.2', $w->mysql_port), user => 'app', password => 'apppass',
    db => 'shop');
like($l->{error}{msg} // '', qr/auth_hba_file rejects connection for host "127\.0\.0\.2"/,
    'MySQL from 127.0.0.2: the reject rule');
is($l->{error}{code} // 0, 1045, '... as error 1045');
$l = my_login(IO::Socket::UNIX->new(Peer => "$w->{dir}/.s.MYSQL.$w->{mysql_port}")
        // die("unix socket: $!"), user => 'app', password => 'not the password', db => 'shop');
ok($l->{ok}, 'MySQL over the unix socket: local trust, any password')
    or diag(explain($l->{error}));

# a MySQL client without a database matches "all"; the database it picks later (USE) must be
# one its rules let it into
my $ms = connect_from('127.0.0.1', $w->mysql_port);
$l = my_login($ms, user => 'app', password => 'apppass', db => undef);
ok($l->{ok}, 'MySQL without a database: the "all" rule') or diag(explain($l));
my $q = my_query($ms, 'USE shopforced');
is($q->{error}{code} // 0, 1044, 'USE of a database a rule rejects: 1044');
like($q->{error}{msg} // '', qr/auth_hba_file/, '... saying why');
$q = my_query($ms, 'USE shop');
ok(!$q->{error}, 'USE shop on the same connection: allowed') or diag(explain($q->{error}));
$q = my_query($ms, 'SELECT DATABASE()');
is($q->{results}[0]{rows}[0][0] // '', 'shop', '... and the session is in shop');
close $ms;

# COM_CHANGE_USER is a login too: the rules are asked again for the new user
($out, $err, $rc) = run_cmd([WeirTest::client_bin('my_change_user'), '127.0.0.1',
        $w->mysql_port, 'app', 'apppass', 'shop', 'admin', 'adminpass', 'shop'], timeout => 60);
like($out, qr/^before: app/m, 'MySQL: logged in as app') or diag("$out\n$err");
like($out, qr/^change: error 1045 .*no auth_hba_file entry for host "127\.0\.0\.1", user "admin", database "shop"/m,
    '... COM_CHANGE_USER to admin, who has no rule for shop: refused');

($out, $err, $rc) = psql_at("host=127.0.0.1 port=$port dbname=weir user=admin sslmode=disable",
    "SET auth_hba_file = '/nonexistent'", password => 'adminpass');
like($err, qr/auth_hba_file cannot be changed while running.*RELOAD/,
    'SET auth_hba_file is refused: the file is read on RELOAD');

# ---- reload ----------------------------------------------------------------------------------
spew($hba, "local all all trust\nhost all all 127.0.0.1/32 reject\n");
kill 'HUP', $w->pid;
$w->log_like(qr/configuration reloaded/, 'SIGHUP reloads the rules');
@r = first_answer('127.0.0.1');
like($r[2] // '', qr/rejects connection .* \(line 2\)/, 'the next login follows the new file');
spew($hba, "host all all 127.0.0.1/32 ident\n");
kill 'HUP', $w->pid;
$w->log_like(qr/reload refused.*auth_hba_file .*line 1: method "ident" is not supported/,
    'a file weir cannot take: the reload is refused, naming the line');
@r = first_answer('127.0.0.1');
like($r[2] // '', qr/\(line 2\)/, '... and the rules it had stay');
spew($hba, $rules);
kill 'HUP', $w->pid;
ok(wait_until(15, sub { (first_answer('127.0.0.1'))[1] eq '5' }), 'the first file back');

{
    my $conf = slurp($w->{conf});
    my $bad = $t->tmp . '/bad.ini';
    my $badhba = $t->tmp . '/bad-hba.conf';
    spew($badhba, "local all all trust\nhost all all example.com md5\n");
    $conf =~ s/^auth_hba_file = .*$/auth_hba_file = $badhba/m;
    spew($bad, $conf);
    my (undef, $e, $r) = run_cmd([WeirTest::weir_bin(), '--check', $bad], timeout => 20);
    isnt($r, 0, '--check refuses an auth_hba_file with a host name');
    like($e, qr/line 2: .*host names are not supported/, '... naming the line');
}

# ---- auth_type = cert -----------------------------------------------------------------------
my $wc = $m->start_weir(pg => $t, users => { app => 'apppass', admin => 'adminpass' },
    weir => { auth_type => 'cert', client_tls_sslmode => 'verify-full',
        client_tls_key_file => $certs->{key}, client_tls_cert_file => $certs->{cert},
        client_tls_ca_file => $certs->{ca}, server_tls_sslmode => 'disable' });
my $cc = "host=127.0.0.1 port=" . $wc->port . " dbname=testdb sslmode=verify-full "
    . "sslrootcert=$certs->{ca} sslcert=$certs->{client_cert} sslkey=$certs->{client_key}";
($out, $err) = psql_at("$cc user=app", 'SELECT 5', password => 'ignored');
is($out, '5', 'cert: the certificate names app (CN=app), app logs in') or diag($err);
($out, $err, $rc) = psql_at("$cc user=admin", 'SELECT 6');
isnt($rc, 0, 'cert: the same certificate for admin is refused');
like($err, qr/certificate authentication failed for user "admin": the certificate is for "app"/,
    '... saying whose it is');

$w->stop;
$wc->stop;
done_testing;
