# t01_basic.t -- logins through weir: every auth_type, right and wrong passwords, unknown
# database, forced-user entries with md5/SCRAM verifiers, and malformed startup traffic
# (wrong protocol version, oversized startup packet, SSLRequest/GSSENCRequest, silent
# clients). After each bad client weir must keep serving the others.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;

# CLI basics.
{
    my ($out, $err, $rc) = run_cmd([WeirTest::weir_bin(), '--version'], timeout => 10);
    is($rc, 0, 'weir --version exits 0');
    like("$out$err", qr/\d+\.\d+/, '--version prints a version');

    # The sample configuration in etc/ stays valid.
    (undef, $err, $rc) = run_cmd([WeirTest::weir_bin(), '--check', "$WeirTest::ROOT/etc/weir.ini"],
        timeout => 20);
    is($rc, 0, 'weir --check etc/weir.ini') or diag($err);

    # --check rejects a broken configuration.
    my $bad = $t->tmp . '/bad.ini';
    spew($bad, "[databases]\ntestdb = host=127.0.0.1 port=1 dbname=testdb\n\n[weir]\n"
            . "listen_port = 1\nauth_type = bogus\n");
    (undef, $err, $rc) = run_cmd([WeirTest::weir_bin(), '--check', $bad], timeout => 20);
    isnt($rc, 0, 'weir --check rejects auth_type = bogus');
    like($err, qr/auth_type/, '... and says what is wrong');
}

sub serves_ok {
    my ($w, $what) = @_;
    my ($out, $err, $rc) = $w->psql('SELECT 40 + 2', timeout => 20);
    is($out, '42', "still serving after $what") or diag("rc=$rc stderr=$err");
}

sub raw_sock_login {
    my ($w, %o) = @_;
    my $s = $w->socket;
    my $r = raw_login($s, %o);
    close $s;
    return $r;
}

# ---- auth_type = md5, plain passwords in the auth file -----------------------------------
my $w = $t->start_weir(weir => { auth_type => 'md5', client_login_timeout => 2 });
{
    my (undef, undef, $rc) = run_cmd([WeirTest::weir_bin(), '--check', $w->{conf}], timeout => 20);
    is($rc, 0, 'weir --check accepts the test config');

    my ($out, $err, $rc2) = $w->psql('SELECT 1');
    is($out, '1', 'md5: SELECT 1 through weir') or diag("rc=$rc2 $err");

    ($out, $err, $rc2) = $w->psql(['CREATE TABLE t01 (id int primary key, v text)',
            "INSERT INTO t01 VALUES (1, 'one'), (2, 'two')", 'UPDATE t01 SET v = upper(v)',
            'SELECT string_agg(v, \',\' ORDER BY id) FROM t01', 'SELECT current_user',
            'DROP TABLE t01']);
    is($out, "ONE,TWO\napp", 'md5: several statements') or diag("rc=$rc2 $err");

    ($out, $err, $rc2) = $w->psql('SELECT 1', password => 'wrongpass');
    isnt($rc2, 0, 'md5: wrong password fails (psql)');
    like($err, qr/password authentication failed/, 'md5: wrong password message');

    my $r = raw_sock_login($w, password => 'wrongpass');
    is($r->{auth}, 5, 'md5: weir asks for an md5 password');
    is($r->{error}{C}, '28P01', 'md5: wrong password -> SQLSTATE 28P01');
    is($r->{error}{S}, 'FATAL', 'md5: wrong password is FATAL');

    $r = raw_sock_login($w, user => 'nosuchuser', password => 'x');
    is($r->{error}{C}, '28P01', 'md5: unknown user -> 28P01') or diag(explain($r));

    $r = raw_sock_login($w);
    ok($r->{ok}, 'md5: raw login works');
    ok(exists $r->{params}{server_version}, 'server_version parameter replayed');
    ok(defined $r->{pid}, 'BackendKeyData sent');

    ($out, $err, $rc2) = $w->psql('SELECT 1', db => 'nosuchdb');
    isnt($rc2, 0, 'unknown database fails (psql)');
    like($err, qr/nosuchdb/, 'unknown database: message names the database');
    $r = raw_sock_login($w, database => 'nosuchdb');
    is($r->{error}{C}, '3D000', 'unknown database -> SQLSTATE 3D000') or diag(explain($r));
    serves_ok($w, 'unknown database');

    # Forced user, md5 verifier for the client in the auth file.
    ($out, $err, $rc2) = $w->psql('SELECT current_user', db => 'forceddb');
    is($out, 'forced', 'forced-user entry logs in to PostgreSQL as the forced user')
        or diag("rc=$rc2 $err");
}

# ---- raw protocol abuse on the md5 instance ----------------------------------------------
{
    my $s = $w->socket;
    syswrite($s, startup_packet(version => 4 << 16));
    my ($type, $body) = read_msg($s, 5);
    is($type, 'E', 'protocol 4.0: ErrorResponse');
    my $f = parse_error_fields($body);
    like($f->{C} // 'none', qr/^(0A000|08P01)$/, 'protocol 4.0: SQLSTATE 0A000 or 08P01');
    ok(sock_closed($s, 5), 'protocol 4.0: connection closed');
    close $s;

    $s = $w->socket;
    syswrite($s, startup_packet(version => 2 << 16));
    ($type, $body) = read_msg($s, 5);
    is($type, 'E', 'protocol 2.0: ErrorResponse');
    close $s;
    serves_ok($w, 'wrong protocol versions');

    # Startup packet with a length of 10001: send the header and part of the body.
    $s = $w->socket;
    syswrite($s, pack('NN', 10001, 196608) . "user\0app\0database\0testdb\0" . ('x' x 4000));
    my $t0 = time;
    ($type, $body) = read_msg($s, 5);
    ok(!defined $type || $type eq 'E', 'startup length 10001: ErrorResponse or close')
        or diag("got message type $type");
    if (defined $type && $type eq 'E') {
        my $ef = parse_error_fields($body);
        is($ef->{C}, '08P01', 'startup length 10001: SQLSTATE 08P01');
    }
    ok(sock_closed($s, 5), 'startup length 10001: connection closed');
    close $s;
    serves_ok($w, 'oversized startup packet');

    # SSLRequest is answered 'N', then a normal login on the same socket.
    $s = $w->socket;
    syswrite($s, ssl_request_packet());
    is(read_byte($s, 5), 'N', "SSLRequest answered 'N'");
    my $r = raw_login($s);
    ok($r->{ok}, 'login after SSLRequest on the same socket') or diag(explain($r));
    my $q = raw_query($s, 'SELECT 7 * 6');
    is($q->{rows}[0][0], '42', 'query after SSLRequest login');
    close $s;

    # GSSENCRequest is answered 'N' too.
    $s = $w->socket;
    syswrite($s, gssenc_request_packet());
    is(read_byte($s, 5), 'N', "GSSENCRequest answered 'N'");
    $r = raw_login($s);
    ok($r->{ok}, 'login after GSSENCRequest') or diag(explain($r));
    close $s;

    # SSLRequest with extra bytes in the same write: protocol violation, never a login.
    $s = $w->socket;
    syswrite($s, ssl_request_packet() . startup_packet());
    my $first = read_byte($s, 5);
    my $got_auth = 0;
    if (defined $first && $first eq 'N') {
        ($type, $body) = read_msg($s, 5);
        $got_auth = 1 if defined $type && $type eq 'R';
    } elsif (defined $first) {
        $got_auth = 1 if $first eq 'R';
    }
    ok(!$got_auth, 'SSLRequest + trailing bytes: no authentication exchange');
    ok(sock_closed($s, 5), 'SSLRequest + trailing bytes: connection closed');
    close $s;
    serves_ok($w, 'SSLRequest with trailing bytes');

    # A client that connects and sends nothing is dropped after client_login_timeout (2 s).
    $s = $w->socket;
    my $t1 = time;
    my $closed = sock_closed($s, 12);
    my $el = time - $t1;
    ok($closed, 'silent client dropped');
    ok($el >= 1.5 && $el <= 10, sprintf('silent client dropped after %.1fs (2s timeout)', $el));
    close $s;

    # Same for a client that sent half a startup packet.
    $s = $w->socket;
    syswrite($s, substr(startup_packet(), 0, 10));
    $t1 = time;
    $closed = sock_closed($s, 12);
    $el = time - $t1;
    ok($closed && $el <= 10, sprintf('half-startup client dropped after %.1fs', $el));
    close $s;
    serves_ok($w, 'login timeouts');

    # Every error weir raised above also left a log line (the last maybe just after the close).
    my $log;
    wait_until(5, sub { $log = $w->log_text; $log =~ /timeout|too long/i });
    like($log, qr/28P01|password authentication failed/, 'log: wrong password');
    like($log, qr/nosuchdb/, 'log: unknown database');
    like($log, qr/0A000|protocol 4\.0/, 'log: unsupported protocol version');
    like($log, qr/08P01|startup packet/, 'log: bad startup packet');
    like($log, qr/timeout|too long/i, 'log: login timeout');
}
$w->stop;

# ---- auth_type = scram-sha-256 -----------------------------------------------------------
{
    my $verifier = $t->scram_verifier('app');
    like($verifier, qr/^SCRAM-SHA-256\$/, 'got the SCRAM verifier of app from PostgreSQL');
    # app: plain secret (weir can log in to PostgreSQL as app);
    # appv: SCRAM verifier only -> only usable through a forced-user entry.
    my $ws = $t->start_weir(weir => { auth_type => 'scram-sha-256' },
        raw_users => qq{"app" "apppass"\n"forced" "forcedpass"\n"appv" "$verifier"\n});
    my ($out, $err, $rc) = $ws->psql('SELECT current_user');
    is($out, 'app', 'scram: plain secret, login and query') or diag("rc=$rc $err");
    my $r = raw_sock_login($ws);
    is($r->{auth}, 10, 'scram: weir asks for SASL');
    ok($r->{ok}, 'scram: raw SCRAM login') or diag(explain($r));
    ($out, $err, $rc) = $ws->psql('SELECT 1', password => 'wrongpass');
    isnt($rc, 0, 'scram: wrong password fails');
    like($err, qr/password authentication failed/, 'scram: wrong password message');
    $r = raw_sock_login($ws, password => 'wrongpass');
    is($r->{error}{C}, '28P01', 'scram: wrong password -> 28P01') or diag(explain($r));

    # Verifier in the auth file + forced-user entry.
    ($out, $err, $rc) = $ws->psql('SELECT current_user', user => 'appv', db => 'forceddb');
    is($out, 'forced', 'scram: verifier in auth file + forced user') or diag("rc=$rc $err");
    $r = raw_sock_login($ws, user => 'appv', database => 'forceddb');
    ok($r->{ok}, 'scram: raw SCRAM login against a stored verifier') or diag(explain($r));
    $r = raw_sock_login($ws, user => 'appv', database => 'forceddb', password => 'nope');
    is($r->{error}{C}, '28P01', 'scram: verifier, wrong password -> 28P01') or diag(explain($r));
    $ws->stop;
}

# ---- md5 verifier in the auth file -------------------------------------------------------
{
    my $wm = $t->start_weir(weir => { auth_type => 'md5' },
        raw_users => qq{"appm" "} . WeirTest::md5_secret('appm', 'apppass') . qq{"\n});
    my ($out, $err, $rc) = $wm->psql('SELECT current_user', user => 'appm', db => 'forceddb');
    is($out, 'forced', 'md5: md5 secret in auth file + forced user') or diag("rc=$rc $err");
    ($out, $err, $rc) = $wm->psql('SELECT 1', user => 'appm', db => 'forceddb', password => 'bad');
    isnt($rc, 0, 'md5 secret: wrong password fails');
    $wm->stop;
}

# ---- auth_type = plain -------------------------------------------------------------------
{
    my $wp = $t->start_weir(weir => { auth_type => 'plain' });
    my $r = raw_sock_login($wp);
    is($r->{auth}, 3, 'plain: weir asks for a cleartext password');
    ok($r->{ok}, 'plain: raw login') or diag(explain($r));
    my ($out, $err, $rc) = $wp->psql('SELECT current_user');
    is($out, 'app', 'plain: psql login and query') or diag("rc=$rc $err");
    ($out, $err, $rc) = $wp->psql('SELECT 1', password => 'wrongpass');
    isnt($rc, 0, 'plain: wrong password fails');
    $r = raw_sock_login($wp, password => 'wrongpass');
    is($r->{error}{C}, '28P01', 'plain: wrong password -> 28P01') or diag(explain($r));
    $wp->stop;
}

# ---- auth_type = trust -------------------------------------------------------------------
{
    my $wt = $t->start_weir(weir => { auth_type => 'trust' });
    my ($out, $err, $rc) = $wt->psql('SELECT current_user', password => undef);
    is($out, 'app', 'trust: login without a password') or diag("rc=$rc $err");
    my $r = raw_sock_login($wt);
    is($r->{auth}, 0, 'trust: AuthenticationOk straight away');
    ok($r->{ok}, 'trust: raw login');
    ($out, $err, $rc) = $wt->psql('SELECT 1', db => 'nosuchdb', password => undef);
    isnt($rc, 0, 'trust: unknown database fails');
    $wt->stop;
}

done_testing;
