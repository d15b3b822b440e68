# t110_tls_pg.t -- TLS on both sides of the PostgreSQL port: psql sslmode=verify-full through
# weir (\conninfo shows TLS), weir logging in to a PostgreSQL whose pg_hba.conf admits the user
# only with hostssl, a plain client refused under client_tls_sslmode=require, results streamed
# through TLS on both sides, data pipelined behind an SSLRequest refused (CVE-2021-3935), a
# handshake that stops half way dropped by client_login_timeout, PostgreSQL 17's direct TLS
# (ALPN "postgresql"), and new certificates taken on SIGHUP while a TLS session goes on.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use TlsTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $c = make_certs($t->tmp . '/certs', 'a');

# The PostgreSQL server: TLS on, TCP logins only over TLS (hostssl).
{
    my $pgc = $t->tmp . '/pgcerts';
    mkdir $pgc;
    system('cp', $c->{cert}, "$pgc/server.crt") == 0 or die;
    system('cp', $c->{key}, "$pgc/server.key") == 0 or die;
    if ($WeirTest::IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        chown $uid, $gid, $pgc, "$pgc/server.crt", "$pgc/server.key";
    }
    chmod 0600, "$pgc/server.key";
    my $conf = "$t->{pgdata}/postgresql.conf";
    open my $fh, '>>', $conf or die $!;
    print $fh "ssl = on\nssl_cert_file = '$pgc/server.crt'\nssl_key_file = '$pgc/server.key'\n";
    close $fh;
    my $hba = WeirTest::slurp("$t->{pgdata}/pg_hba.conf");
    $hba =~ s/^host(\s)/hostssl$1/mg;
    WeirTest::spew("$t->{pgdata}/pg_hba.conf", $hba);
    my (undef, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $t->{pgdata}, '-w', '-t',
            '60', 'restart', '-l', $t->{pglog}], as_pg => 1, timeout => 90);
    is($rc, 0, 'PostgreSQL restarted with TLS and hostssl only') or diag($err);
    my ($out) = WeirTest::_psql('127.0.0.1', $t->pgport, 'SELECT 1', sslmode => 'disable');
    isnt($out, '1', 'the server refuses plain TCP logins');
}

my %tls = (
    client_tls_sslmode => 'require',
    client_tls_key_file => $c->{key},
    client_tls_cert_file => $c->{cert},
    client_tls_ca_file => $c->{ca},
    server_tls_sslmode => 'require',
    client_login_timeout => 2,
    admin_users => 'app',
);
my $pgp = $t->pgport;
my $w = $t->start_weir(weir => \%tls, databases => {
        allowdb => "host=127.0.0.1 port=$pgp dbname=testdb server_tls_sslmode=allow",
        plaindb => "host=127.0.0.1 port=$pgp dbname=testdb server_tls_sslmode=disable",
        namedb => "host=localhost port=$pgp dbname=testdb" });

sub psql_tls {
    my ($sql, %o) = @_;
    my $conn = "host=127.0.0.1 port=$w->{port} dbname=" . ($o{db} // 'testdb') . " user=app "
        . "sslmode=" . ($o{sslmode} // 'verify-full') . " sslrootcert=$c->{ca}";
    my @argv = (WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
        $conn, map { ('-c', $_) } (ref $sql ? @$sql : ($sql)));
    my ($out, $err, $rc) = run_cmd(\@argv, env => { PGPASSWORD => 'apppass',
            PGCONNECT_TIMEOUT => 10 }, timeout => 60);
    chomp $out;
    return ($out, $err, $rc);
}

{
    my ($out, $err, $rc) = psql_tls(['\conninfo', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()']);
    is($rc, 0, 'psql sslmode=verify-full logs in through weir') or diag($err);
    like($out, qr/SSL connection \(protocol: TLSv1\.[23]/, '\conninfo shows the TLS session');
    like($out, qr/\nt$/, 'weir logged in to the server over TLS (hostssl only, pg_stat_ssl)');

    ($out, $err, $rc) = $w->psql('SELECT 1', sslmode => 'disable');
    isnt($rc, 0, 'a plain client is refused under client_tls_sslmode=require');
    like($err, qr/TLS is required/, '... with a clear error');

    # Streaming through TLS on both sides: 20 MB of rows, and the checksum matches.
    ($out, $err, $rc) = psql_tls("SELECT sum(length(r)), md5(string_agg(r, '')) FROM "
            . "(SELECT repeat(md5(i::text), 3000) AS r FROM generate_series(1, 200) i) s");
    my ($direct) = WeirTest::_psql('127.0.0.1', $t->pgport, "SELECT sum(length(r)), "
            . "md5(string_agg(r, '')) FROM (SELECT repeat(md5(i::text), 3000) AS r FROM "
            . "generate_series(1, 200) i) s", sslmode => 'require', user => 'app');
    is($rc, 0, 'a 19 MB result through TLS') or diag($err);
    is($out, $direct, '... arrives whole (same length and md5 as directly)');

    # A COPY in of 5 MB through the client's TLS and the server's.
    ($out, $err, $rc) = psql_tls(['CREATE TABLE IF NOT EXISTS t110 (v text)',
            "INSERT INTO t110 SELECT repeat('y', 5000) FROM generate_series(1, 1000)",
            'SELECT count(*), sum(length(v)) FROM t110', 'DROP TABLE t110']);
    is($out, '1000|5000000', 'an insert of 5 MB through TLS') or diag($err);
}

# pgbench over TLS: many small messages both ways.
{
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pgbench'), '-n', '-c', '4', '-t', '200',
            '-f', '/dev/stdin', '-h', '127.0.0.1', '-p', $w->{port}, '-U', 'app', 'testdb'],
        env => { PGPASSWORD => 'apppass', PGSSLMODE => 'require' }, timeout => 120,
        stdin => "SELECT 1;\nSELECT repeat('z', 20000);\n");
    is($rc, 0, 'pgbench over TLS: 800 transactions') or diag("$out\n$err");
    like($out, qr/number of transactions actually processed: 800/, '... all processed');
}

# CVE-2021-3935: bytes pipelined behind the SSLRequest are never read as part of TLS.
{
    my $s = $w->socket;
    print $s WeirTest::ssl_request_packet() . WeirTest::startup_packet(user => 'app', database => 'testdb');
    my $b = WeirTest::read_byte($s, 10);
    isnt($b // '', 'S', 'pipelined data behind an SSLRequest: no TLS');
    ok(WeirTest::sock_closed($s, 10), '... and the connection is closed');
    $w->log_like(qr/unencrypted data after SSL request/, '... with a log line');
}

# A handshake that stops half way is dropped by client_login_timeout.
{
    my $s = $w->socket;
    print $s WeirTest::ssl_request_packet();
    is(WeirTest::read_byte($s, 10), 'S', 'SSLRequest answered S');
    print $s "\x16\x03\x01\x00\xc8\x01\x00";    # a ClientHello cut short
    my $t0 = time;
    ok(WeirTest::sock_closed($s, 15), 'a half-done handshake is closed');
    cmp_ok(time - $t0, '<', 14, '... by client_login_timeout (2 s, generous margin)');
    $w->log_like(qr/TLS handshake did not finish/, '... with a log line');
}

# PostgreSQL 17's direct TLS, ALPN "postgresql", then a startup packet (python3's ssl).
SKIP: {
    my ($py) = grep { -x } ('/usr/bin/python3');
    skip 'no python3', 2 unless $py;
    my $code = <<'PY';
import socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(sys.argv[3:] or ['postgresql'])
s = socket.create_connection(('127.0.0.1', port), timeout=10)
try:
    t = ctx.wrap_socket(s, server_hostname='localhost')
except Exception as e:
    print('handshake failed'); sys.exit(0)
body = struct.pack('!I', 196608) + b'user\0app\0database\0testdb\0\0'
t.sendall(struct.pack('!I', len(body) + 4) + body)
try:
    print(t.recv(1).decode('latin1') or 'closed', t.selected_alpn_protocol())
except Exception as e:
    print('closed')
PY
    my ($out, $err, $rc) = run_cmd([$py, '-c', $code, $w->{port}, $c->{ca}], timeout => 30);
    like($out, qr/^R postgresql/, 'direct TLS with ALPN postgresql: the login goes on') or diag($err);
    ($out, $err, $rc) = run_cmd([$py, '-c', $code, $w->{port}, $c->{ca}, 'http/1.1'], timeout => 30);
    unlike($out, qr/^R/, 'direct TLS without ALPN postgresql is refused') or diag($err);
}

# A reload that changes server_tls_*: servers are replaced as they are released, the new ones
# log in with verify-full (the server's certificate checked against the CA and 127.0.0.1).
{
    my $ca_a = $t->tmp . '/ca-a.pem';
    WeirTest::spew($ca_a, WeirTest::slurp($c->{ca}));
    my ($pid1) = psql_tls('SELECT pg_backend_pid()');
    my $conf = WeirTest::slurp($w->{conf});
    $conf =~ s/^server_tls_sslmode = require$/server_tls_sslmode = verify-full\nserver_tls_ca_file = $ca_a/m;
    WeirTest::spew($w->{conf}, $conf);
    kill 'HUP', $w->{pid};
    ok(wait_until(10, sub { $w->log_text =~ /server_tls_\* changed/ }),
        'a reload notices the server_tls_* change');
    ok(wait_until(15, sub { $w->log_text =~ /settings changed \(reload or console\): replaced/ }),
        'the idle server logged in with the old settings is closed');
    my ($pid2, $err) = psql_tls('SELECT pg_backend_pid()');
    like($pid2, qr/^\d+$/, 'a login after it works (verify-full to the server)') or diag($err);
    isnt($pid2, $pid1, '... on a new server connection');
    my ($ssl) = psql_tls('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    is($ssl, 't', "weir's new server connection is TLS (pg_stat_ssl)");
}

# SIGHUP: new certificates for new clients, a TLS session open across the reload goes on.
SKIP: {
    my $dbh = DBI->connect("dbi:Pg:host=127.0.0.1;port=$w->{port};dbname=testdb;sslmode=require",
        'app', 'apppass', { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
    ok($dbh, 'a DBD::Pg session over TLS') or skip 'no session', 9;
    my ($out, $err, $rc) = psql_tls(['SHOW CLIENTS', 'SHOW SERVERS'], db => 'weir', sslmode => 'require');
    like($out, qr/^C\|app\|testdb\|.*\|TLSv1\.[23]\/\w+/m, 'SHOW CLIENTS: the tls column')
        or diag("$out\n$err");
    like($out, qr/^S\|app\|testdb\|.*\|TLSv1\.[23]\/\w+/m, 'SHOW SERVERS: the tls column')
        or diag("$out\n$err");
    # A cancel request (plain, as libpq sends it) for a query running over TLS on both sides.
    require DBD::Pg;
    my $t0 = time;
    $dbh->do('SELECT pg_sleep(60)', { pg_async => DBD::Pg::PG_ASYNC() });
    sleep 0.5;
    ok($dbh->pg_cancel, 'pg_cancel of a query running over TLS');
    cmp_ok(time - $t0, '<', 40, '... it ends long before its 60 s');
    my ($one) = $dbh->selectrow_array('SELECT 1');
    is($one, 1, '... and the session goes on');
    my $b = make_certs($t->tmp . '/certs', 'b');
    WeirTest::spew($c->{cert}, WeirTest::slurp($b->{cert}));
    WeirTest::spew($c->{key}, WeirTest::slurp($b->{key}));
    kill 'HUP', $w->{pid};
    ok(wait_until(10, sub { $w->log_text =~ /configuration reloaded/ }), 'reloaded on SIGHUP');
    my ($v) = $dbh->selectrow_array('SELECT 7 * 6');
    is($v, 42, 'the session open across the reload goes on');
    ($out, $err, $rc) = psql_tls('SELECT 1');
    isnt($rc, 0, 'a new client no longer trusts the old CA for the new certificate');
    WeirTest::spew($c->{ca}, WeirTest::slurp($b->{ca}));
    ($out, $err, $rc) = psql_tls('SELECT 1');
    is($out, '1', 'and verifies it against the new CA (verify-full)') or diag($err);
}

# server_tls_sslmode per entry against the hostssl-only server: allow tries plain, is refused,
# and logs in over TLS; disable is refused with the server's reason; verify-full with a CA that
# did not sign the server's certificate refuses the server.
{
    my ($out, $err) = psql_tls('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        db => 'allowdb');
    is($out, 't', 'server_tls_sslmode=allow: refused in plain text, logged in over TLS')
        or diag($err);
    ($out, $err) = psql_tls('SELECT 1', db => 'plaindb');
    like($err, qr/no pg_hba.conf entry .*no encryption/,
        "server_tls_sslmode=disable: the server's refusal reaches the client");
    my $ca_a = $t->tmp . '/ca-a.pem';
    my $other = make_certs($t->tmp . '/certs', 'c');
    WeirTest::spew($ca_a, WeirTest::slurp($other->{ca}));
    ($out, $err) = psql_tls('SELECT 1', db => 'namedb');
    like($err, qr/certificate/i, 'verify-full with a CA that did not sign the server: refused')
        or diag($err);
    ($out, $err) = psql_tls('SELECT 1');
    is($out, '1', 'a client of another entry is still served (its idle server)') or diag($err);
}

$w->stop;
done_testing;
