# t112_tls_client_cert.t -- client_tls_sslmode = verify-full (and verify-ca): a client must
# present a certificate signed by client_tls_ca_file (PgBouncer's meaning). psql with the client
# certificate logs in; without one, or with one from another CA, the handshake is refused and
# weir keeps serving; a unix-socket client needs no TLS; a bad key file fails --check.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use TlsTest;
use Test::More;

my $t = WeirTest->new;
my $c = make_certs($t->tmp . '/certs', 'a');
my $other = make_certs($t->tmp . '/certs', 'o');    # another CA and its client certificate

my $w = $t->start_weir(weir => {
        client_tls_sslmode => 'verify-full',
        client_tls_key_file => $c->{key},
        client_tls_cert_file => $c->{cert},
        client_tls_ca_file => $c->{ca},
        server_tls_sslmode => 'disable',
    });

sub psql_cert {
    my (%o) = @_;
    my $conn = "host=127.0.0.1 port=$w->{port} dbname=testdb user=app sslmode=verify-full "
        . "sslrootcert=$c->{ca}";
    $conn .= " sslcert=$o{cert} sslkey=$o{key}" if $o{cert};
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-q', '-d', $conn,
            '-c', 'SELECT 40 + 2'], env => { PGPASSWORD => 'apppass', PGCONNECT_TIMEOUT => 10,
            HOME => $t->tmp }, timeout => 60);
    chomp $out;
    return ($out, $err, $rc);
}

my ($out, $err, $rc) = psql_cert(cert => $c->{client_cert}, key => $c->{client_key});
is($out, '42', 'a client certificate signed by client_tls_ca_file: logged in') or diag($err);

($out, $err, $rc) = psql_cert();
isnt($rc, 0, 'no client certificate: refused');
$w->log_like(qr/TLS handshake failed: .*(certificate|peer)/i, '... with a log line');

($out, $err, $rc) = psql_cert(cert => $other->{client_cert}, key => $other->{client_key});
isnt($rc, 0, 'a client certificate from another CA: refused');

($out, $err, $rc) = psql_cert(cert => $c->{client_cert}, key => $c->{client_key});
is($out, '42', 'still serving after the refusals') or diag($err);

# Local clients on the unix socket need no TLS.
($out, $err, $rc) = WeirTest::_psql($w->{dir}, $w->{port}, 'SELECT 7');
is($out, '7', 'a unix-socket client logs in without TLS') or diag($err);

# --check loads the certificates: a key that is not a key is an error.
{
    my $conf = WeirTest::slurp($w->{conf});
    $conf =~ s/^client_tls_key_file = .*$/client_tls_key_file = $c->{cert}/m;
    my $bad = $t->tmp . '/bad.ini';
    WeirTest::spew($bad, $conf);
    my (undef, $e, $r) = run_cmd([WeirTest::weir_bin(), '--check', $bad], timeout => 20);
    isnt($r, 0, '--check refuses a key file that holds no key');
    like($e, qr/client_tls_key_file/, '... and names it');
}

$w->stop;
done_testing;
