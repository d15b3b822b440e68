# TlsTest.pm -- test certificates for the TLS tests, made in the test's own temp dir with the
# openssl command (never committed): a CA, a server certificate for localhost / 127.0.0.1 and a
# client certificate, all signed by the CA.
package TlsTest;
use strict;
use warnings;
use WeirTest;
use Exporter 'import';
our @EXPORT = qw(make_certs);

sub _openssl {
    my (@args) = @_;
    my ($out, $err, $rc) = WeirTest::run_cmd(['openssl', @args], timeout => 60);
    die "openssl @args: $err" if $rc;
}

# make_certs($dir, $tag) -> { ca, cert, key, client_cert, client_key } (paths)
sub make_certs {
    my ($dir, $tag) = @_;
    $tag //= 'a';
    mkdir $dir;
    my %f = map { $_ => "$dir/$tag-$_.pem" } qw(ca ca_key cert key csr client_cert client_key client_csr);
    _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj',
        "/CN=weir test CA $tag", '-keyout', $f{ca_key}, '-out', $f{ca});
    WeirTest::spew("$dir/$tag-ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', "/CN=localhost",
        '-keyout', $f{key}, '-out', $f{csr});
    _openssl('x509', '-req', '-in', $f{csr}, '-CA', $f{ca}, '-CAkey', $f{ca_key},
        '-CAcreateserial', '-days', '2', '-extfile', "$dir/$tag-ext.cnf", '-out', $f{cert});
    _openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', "/CN=app",
        '-keyout', $f{client_key}, '-out', $f{client_csr});
    _openssl('x509', '-req', '-in', $f{client_csr}, '-CA', $f{ca}, '-CAkey', $f{ca_key},
        '-CAcreateserial', '-days', '2', '-out', $f{client_cert});
    chmod 0600, $f{key}, $f{client_key};
    chmod 0644, $f{ca}, $f{cert}, $f{client_cert};
    return \%f;
}

1;
