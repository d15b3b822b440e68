# t123_mysql_caching_sha2.t -- caching_sha2_password for MySQL clients (MySQL 8's default):
# the mariadb CLI with --default-auth=caching_sha2_password (Connector/C's plugin) logs in on
# the fast path for a user whose password auth_file holds; a raw client's token computed on
# the greeting's scramble gets AuthMoreData 0x03 then OK; a wrong password is refused (1045).
# A user auth_file knows only by its mysql_native_password hash needs a full authentication
# first: over TLS the CLI sends the password inside it and is let in, and the next login, on
# plain TCP, takes the fast path from weir's cache; a raw client without TLS asks for weir's
# RSA public key (0x02), sends the password RSA-OAEP encrypted (the openssl command does the
# encryption) and is let in; a password sent in the clear over plain TCP is refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use TlsTest;
use Test::More;
use Digest::SHA qw(sha1 sha1_hex sha256);

my $m = MyTest->new;
my $certs = make_certs(MyTest::tmp($m) . '/certs', 'a');
my %hash = map { $_ => '*' . uc(sha1_hex(sha1("${_}pass"))) } qw(hashuser hashuser2 hashuser3);
my $w = $m->start_weir(
    raw_users => qq{"app" "apppass"\n"forced" "forcedpass"\n}
        . join('', map { qq{"$_" "$hash{$_}"\n} } sort keys %hash),
    weir => { client_tls_sslmode => 'prefer', client_tls_key_file => $certs->{key},
        client_tls_cert_file => $certs->{cert} });

sub cli {
    my ($user, $pw, $db, @args) = @_;
    my ($out, $err, $rc) = $w->mariadb('SELECT CURRENT_USER()', user => $user, password => $pw,
        db => $db, args => ['--default-auth=caching_sha2_password', @args]);
    chomp $out;
    return ($out, $err, $rc);
}

sub sha2_token {
    my ($pw, $salt) = @_;
    my $h1 = sha256($pw);
    return $h1 ^ sha256(sha256($h1) . substr($salt, 0, 20));
}

# sha2_login($user, $pw, $db) -> (socket, greeting salt, the first answer's payload): a
# HandshakeResponse41 naming caching_sha2_password with a token on the greeting's scramble
sub sha2_login {
    my ($user, $pw, $db) = @_;
    my $s = my_connect($w->mysql_port) // die "connect: $!";
    my ($seq, $p) = my_read_packet($s, 10);
    my $g = my_parse_greeting($p);
    print $s my_packet($seq + 1, my_handshake_response(user => $user, db => $db,
            auth => sha2_token($pw, $g->{salt}), plugin => 'caching_sha2_password'));
    my ($seq2, $a) = my_read_packet($s, 10);
    return ($s, $g->{salt}, $a, $seq2);
}

# ---- the fast path -------------------------------------------------------------------------
my ($out, $err, $rc) = cli('app', 'apppass', 'shop');
like($out, qr/^app@/, 'the CLI with caching_sha2_password: logged in (fast path)') or diag($err);
($out, $err, $rc) = cli('app', 'wrong', 'shop');
like($err, qr/1045/, '... a wrong password: 1045');
my ($s, $salt, $a, $seq) = sha2_login('app', 'apppass', 'shop');
is($a, "\x01\x03", 'a raw token on the greeting\'s scramble: AuthMoreData 0x03 (fast auth)');
my ($seq2, $ok) = my_read_packet($s, 10);
is(ord($ok // "\xff"), 0, '... then OK');
close $s;

# ---- full authentication, then the cache ------------------------------------------------------
($out, $err, $rc) = cli('hashuser', 'hashuserpass', 'shopforced', '--ssl');
like($out, qr/^forced@/, 'a user known by its native hash, over TLS: full authentication, in')
    or diag($err);
($out, $err, $rc) = cli('hashuser', 'hashuserpass', 'shopforced', '--skip-ssl');
like($out, qr/^forced@/, '... then on plain TCP: the fast path from weir\'s cache') or diag($err);
($out, $err, $rc) = cli('hashuser', 'wrongpass', 'shopforced', '--skip-ssl');
like($err, qr/1045/, '... a wrong password is still refused');

($s, $salt, $a, $seq) = sha2_login('hashuser2', 'hashuser2pass', 'shopforced');
is($a, "\x01\x04", 'an uncached hash user: AuthMoreData 0x04 (full authentication)');
print $s my_packet($seq + 1, "\x02");
my ($seq3, $pem) = my_read_packet($s, 10);
like($pem // '', qr/^\x01-----BEGIN PUBLIC KEY-----/, 'asked for it: weir\'s RSA public key');
my $dir = MyTest::tmp($m);
spew("$dir/pub.pem", substr($pem, 1));
my $pw = "hashuser2pass\0";
spew("$dir/pw.bin", join('', map { chr(ord(substr($pw, $_, 1)) ^ ord(substr($salt, $_ % 20, 1))) }
        0 .. length($pw) - 1));
my ($o, $e, $r) = run_cmd(['openssl', 'pkeyutl', '-encrypt', '-pubin', '-inkey', "$dir/pub.pem",
        '-pkeyopt', 'rsa_padding_mode:oaep', '-in', "$dir/pw.bin", '-out', "$dir/pw.enc"],
    timeout => 30);
is($r, 0, 'openssl encrypts the password with it') or diag($e);
print $s my_packet($seq3 + 1, slurp("$dir/pw.enc"));
my ($seq4, $ok2) = my_read_packet($s, 10);
is(ord($ok2 // "\xff"), 0, 'the RSA-encrypted password: OK') or diag(explain(my_parse_err($ok2)));
close $s;

($s, $salt, $a, $seq) = sha2_login('hashuser3', 'hashuser3pass', 'shopforced');
is($a, "\x01\x04", 'another uncached hash user: full authentication');
print $s my_packet($seq + 1, "hashuser3pass\0");
my ($seq5, $err5) = my_read_packet($s, 10);
my $e5 = my_parse_err($err5 // '');
is($e5->{code} // 0, 1045, 'its password in the clear over plain TCP: refused (1045)');
like($e5->{msg} // "", qr/did not decrypt/, "... saying why");
close $s;

($out, $err) = $w->mariadb('SELECT 1', db => 'shop');
is($out, "1\n", 'mysql_native_password clients are served as before') or diag($err);
$w->stop;
done_testing;
