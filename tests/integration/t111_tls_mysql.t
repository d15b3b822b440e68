# t111_tls_mysql.t -- TLS on both sides of the MySQL port: `mariadb --ssl-verify-server-cert`
# through weir (CLIENT_SSL, the switch after the short SSLRequest), weir logging in to a
# MariaDB whose user is REQUIRE SSL (Connector/C's TLS session, forwarded through), a plain
# client refused under client_tls_sslmode=require, a large result streamed through TLS, and
# plain text pipelined behind the SSLRequest refused (CVE-2021-3935's MySQL twin; a MySQL
# client's TLS handshake follows its SSLRequest without waiting, and those bytes are the TLS
# session's: the mariadb CLI runs are repeated so that both arrive in one read now and then).
# Last, a REQUIRE SSL user only the server knows (looked up as auth_user): the change of user
# weir writes itself goes through the connector's TLS session.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use TlsTest;
use Test::More;
use Digest::MD5 qw(md5_hex);

my $certs_dir = "/tmp/weirtls.$$";
my $c = make_certs($certs_dir, 'm');
if ($WeirTest::IS_ROOT) {
    my ($uid, $gid) = (getpwnam('mysql'))[2, 3];
    chown $uid, $gid, $c->{key}, $c->{cert}, $c->{ca} if defined $uid;
}
my $m = MyTest->new(mysqld_args => ["--ssl-cert=$c->{cert}", "--ssl-key=$c->{key}",
        "--ssl-ca=$c->{ca}"]);
END { system('rm', '-rf', $certs_dir) if $certs_dir }
{
    my ($out, $err, $rc) = $m->admin_sql("ALTER USER 'app'\@'%' REQUIRE SSL; "
            . "ALTER USER 'app'\@'localhost' REQUIRE SSL; FLUSH PRIVILEGES;");
    is($rc, 0, 'MariaDB: app is REQUIRE SSL') or diag($err);
    ($out, $err, $rc) = $m->mariadb('SELECT 1', args => ['--skip-ssl']);
    isnt($rc, 0, 'MariaDB refuses app without TLS');
}

my $w = $m->start_weir(weir => {
        client_tls_sslmode => 'require',
        client_tls_key_file => $c->{key},
        client_tls_cert_file => $c->{cert},
        client_tls_ca_file => $c->{ca},
        server_tls_sslmode => 'verify-full',
        server_tls_ca_file => $c->{ca},
    });

my @tls = ('--ssl', "--ssl-ca=$c->{ca}", '--ssl-verify-server-cert');
{
    my ($out, $err, $rc) = $w->mariadb('status', args => \@tls, batch => 0);
    is($rc, 0, 'mariadb --ssl-verify-server-cert through weir') or diag($err);
    like($out, qr/SSL:\s+Cipher in use is \S+/, '... the client side is TLS (status)');
    my $fails = 0;
    for (1 .. 20) {
        my (undef, $e, $r) = $w->mariadb('SELECT 1', args => \@tls);
        $fails++ if $r;
        diag($e) if $r && $fails == 1;
    }
    is($fails, 0, '20 more TLS logins (SSLRequest and ClientHello often in one read)');
    ($out, $err, $rc) = $w->mariadb("SHOW SESSION STATUS LIKE 'Ssl_version'", args => \@tls);
    like($out, qr/Ssl_version\s+TLSv1\.[23]/,
        'weir logged in to the REQUIRE SSL user over TLS') or diag($err);

    ($out, $err, $rc) = $w->mariadb('SELECT 1', args => ['--skip-ssl']);
    isnt($rc, 0, 'a plain client is refused under client_tls_sslmode=require');
    like($err, qr/TLS is required/, '... with a clear error');

    # 20 MB through TLS on both sides, compared with the same query straight to MariaDB.
    my $q = "SELECT seq, REPEAT(MD5(seq), 3000) FROM seq_1_to_200";
    ($out, $err, $rc) = $w->mariadb($q, args => \@tls, timeout => 120);
    my ($direct) = $m->mariadb($q, args => ['--ssl'], timeout => 120);
    is($rc, 0, 'a 19 MB result through TLS') or diag($err);
    is(length($out), length($direct), '... whole');
    is(md5_hex($out), md5_hex($direct), '... byte for byte');

    ($out, $err, $rc) = $w->mariadb("CREATE TABLE t111 (v LONGTEXT); "
            . "INSERT INTO t111 VALUES (REPEAT('y', 5000000)); SELECT LENGTH(v) FROM t111; "
            . 'DROP TABLE t111', args => \@tls);
    chomp $out;
    is($out, '5000000', 'a 5 MB insert through TLS') or diag($err);
}

# Bytes pipelined behind the SSLRequest are refused, not read as part of the TLS session.
{
    my $s = $w->my_socket;
    my ($seq, $greeting) = my_read_packet($s, 10);
    ok(defined $seq, 'greeting read');
    my $caps = unpack('v', substr($greeting, index($greeting, "\0", 1) + 1 + 4 + 9, 2));
    ok($caps & 0x800, 'the greeting offers CLIENT_SSL');
    my $req = pack('VVC', 0x800 | 0x200 | 0x8000 | 0x80000, 1 << 24, 33) . ("\0" x 23);
    print $s my_packet(1, $req) . my_packet(2, "\x03SELECT 1");
    my (undef, $reply) = my_read_packet($s, 10);
    like($reply // '', qr/^\xff.*unexpected data after the SSLRequest \(not a TLS handshake\)/s,
        'plain text pipelined behind the SSLRequest: an ERR packet, no TLS');
    ok(WeirTest::sock_closed($s, 10), '... and the connection is closed');
}

# KILL QUERY of a statement running over TLS: weir's own login for the KILL (Connector/C,
# blocking, on the cancel queue) must use TLS too, since app is REQUIRE SSL.
{
    my $tmp = $m->tmp;
    my $tls_dsn = "mariadb_ssl=1;mariadb_ssl_ca_file=$c->{ca};mariadb_ssl_verify_server_cert=1";
    my $victim = spawn(sub {
        my $d = $w->my_dbi(dsn_extra => $tls_dsn) or die "connect: $DBI::errstr";
        WeirTest::spew("$tmp/victim.id", $d->{mariadb_thread_id});
        my $t0 = time;
        my ($v) = $d->selectrow_array('SELECT SLEEP(30)');
        WeirTest::spew("$tmp/victim.out", join('|', $v // 'undef', $d->err // '', time - $t0));
        return 1;
    });
    ok(wait_until(20, sub { -s "$tmp/victim.id" }), 'a TLS client runs SELECT SLEEP(30)');
    my $vid = WeirTest::slurp("$tmp/victim.id");
    sleep 1;
    my ($o, $e) = $w->mariadb("KILL QUERY $vid", args => \@tls);
    is($e, '', 'KILL QUERY through weir over TLS') or diag($e);
    wait_children([$victim], 60);
    my ($v, $err, $secs) = split /\|/, WeirTest::slurp("$tmp/victim.out") // '';
    ok(defined $secs && $secs < 25, 'the SLEEP was interrupted (the KILL logged in with TLS)')
        or diag("victim: " . ($v // '') . "|" . ($err // '') . "|" . ($secs // ''));
    ok(wait_until(15, sub { $w->log_text =~ /KILL QUERY forwarded to S-/ }),
        '... the log shows the forwarded KILL');
}

my ($out) = $w->mariadb('SELECT 42', args => \@tls);
chomp $out;
is($out, '42', 'still serving TLS clients');
$w->stop;

{
    my (undef, $err, $rc) = $m->admin_sql("CREATE USER 'tlsuser'\@'%' IDENTIFIED BY 'tpass' "
            . "REQUIRE SSL; GRANT ALL ON shop.* TO 'tlsuser'\@'%'; "
            . "GRANT SELECT ON mysql.user TO 'app'\@'%'; GRANT SELECT ON mysql.user TO 'app'\@'localhost';");
    is($rc, 0, 'MariaDB: tlsuser, REQUIRE SSL, only on the server') or diag($err);
    my $w2 = $m->start_weir(weir => {
            server_tls_sslmode => 'verify-full',
            server_tls_ca_file => $c->{ca},
            auth_user => 'app',
        });
    my ($o, $e) = $w2->mariadb(
        "SELECT CURRENT_USER(); SHOW SESSION STATUS LIKE 'Ssl_version'",
        user => 'tlsuser', password => 'tpass');
    like($o, qr/^tlsuser\@%\nSsl_version\s+TLSv1\.[23]/,
        'looked up, then weir\'s change of user over the server\'s TLS session') or diag($e);
    $w2->stop;
}
done_testing;
