# t122_hostile_peers.t -- hostile input from both sides of a SCRAM login, each refused with a
# clear error while another client keeps working (the anchors' CVEs):
#   - a client's SASLInitialResponse whose data length wraps past the message, a client-final
#     with a proof that is not base64, and one with a well-formed wrong proof (CVE-2026-6664):
#     08P01 for the malformed ones, 28P01 for the wrong proof;
#   - a "server" (a Perl listener here) whose SCRAM server-first carries a 1 MB nonce
#     (CVE-2026-6665): the login to it fails and the client gets an error;
#   - a server whose ErrorResponse has no SQLSTATE field (CVE-2026-6666), at login and in
#     answer to a query after it: the client gets the error, weir keeps running.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use IO::Socket::INET;
use POSIX ();

my $t = WeirTest->new;

# hostile($mode) -> port of a listener in a child process that plays a PostgreSQL server:
#   huge_nonce    SCRAM, then a server-first with a 1 MB nonce
#   nocode_login  an ErrorResponse without a SQLSTATE in answer to the startup
#   nocode_query  a normal login, then every query but its own answered with an
#                 ErrorResponse without a SQLSTATE
my @kids;
sub hostile {
    my ($mode) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
        ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
    my $port = $l->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid) {
        push @kids, $pid;
        close $l;
        return $port;
    }
    $SIG{ALRM} = sub { POSIX::_exit(0) };
    alarm 300;
    while (my $c = $l->accept) {
        binmode $c;
        $c->autoflush(1);
        eval { serve($c, $mode) };
        close $c;
    }
    POSIX::_exit(0);
}

sub rd {
    my ($c, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $r = sysread($c, $buf, $n - length $buf, length $buf);
        die "eof\n" unless $r;
    }
    return $buf;
}

sub msg { my ($type, $body) = @_; return $type . pack('N', 4 + length $body) . $body }

sub serve {
    my ($c, $mode) = @_;
    my ($len, $code) = unpack('NN', rd($c, 8));
    if ($code == 80877103) {    # SSLRequest: no
        print $c 'N';
        ($len, $code) = unpack('NN', rd($c, 8));
    }
    rd($c, $len - 8);
    if ($mode eq 'nocode_login') {
        print $c msg('E', "SFATAL\0Mhostile server: no SQLSTATE here\0\0");
        return;
    }
    if ($mode eq 'huge_nonce') {
        print $c msg('R', pack('N', 10) . "SCRAM-SHA-256\0\0");
        my ($t2, $l2) = unpack('aN', rd($c, 5));
        my $body = rd($c, $l2 - 4);
        my ($cnonce) = $body =~ /r=([^,\0]+)/;
        $cnonce //= 'x';
        print $c msg('R', pack('N', 11) . "r=$cnonce" . ('A' x 1_000_000)
                . ",s=QSXCR+Q6sek8bf92,i=4096");
        rd($c, 1) while 1;    # until weir hangs up
    }
    # nocode_query: a login as plain as it gets
    print $c msg('R', pack('N', 0));
    print $c msg('S', "$_->[0]\0$_->[1]\0") for ([server_version => '15.0'],
        [server_encoding => 'UTF8'], [client_encoding => 'UTF8'], [DateStyle => 'ISO, MDY'],
        [TimeZone => 'UTC'], [integer_datetimes => 'on'], [standard_conforming_strings => 'on'],
        [is_superuser => 'off'], [session_authorization => 'app'], [IntervalStyle => 'postgres'],
        [application_name => '']);
    print $c msg('K', pack('NN', 4242, 4343));
    print $c msg('Z', 'I');
    while (1) {
        my ($type, $l) = unpack('aN', rd($c, 5));
        my $body = rd($c, $l - 4);
        return if $type eq 'X';
        next unless $type eq 'Q';
        if ($body =~ /hostile/) {
            print $c msg('E', "SERROR\0Mhostile answer without a SQLSTATE\0\0") . msg('Z', 'I');
        } else {
            print $c msg('C', "SET\0") . msg('Z', 'I');
        }
    }
}

my %ports = map { $_ => hostile($_) } qw(huge_nonce nocode_login nocode_query);
my $w = $t->start_weir(
    weir => { auth_type => 'scram-sha-256', pool_mode => 'session', client_login_timeout => 10,
        server_connect_timeout => 5, server_login_retry => 1 },
    databases => { map { ("h_$_" => "host=127.0.0.1 port=$ports{$_} dbname=$_") } keys %ports });

sub works {
    my ($name) = @_;
    my ($out, $err) = $w->psql('SELECT 41 + 1');
    is($out, '42', "another client is served ($name)") or diag($err);
}

# ---- the client side: CVE-2026-6664 --------------------------------------------------------
sub scram_start {
    my $s = $w->socket;
    print $s startup_packet(user => 'app', database => 'testdb');
    my ($type, $body) = read_msg($s, 10);
    return ($s, ($type // '') eq 'R' ? unpack('N', $body) : -1);
}
sub error_of {
    my ($s) = @_;
    my ($type, $body) = read_msg($s, 10);
    return ('none', '') unless ($type // '') eq 'E';
    my $e = parse_error_fields($body);
    return ($e->{C} // '', $e->{M} // '');
}

my ($s, $code) = scram_start();
is($code, 10, 'SCRAM asked');
print $s pg_msg('p', "SCRAM-SHA-256\0" . pack('N', 0xFFFFFFF0) . 'n,,n=,r=abc');
my ($c, $m) = error_of($s);
is($c, '08P01', 'a SASLInitialResponse whose length wraps: 08P01');
like($m, qr/malformed SASLInitialResponse/, "... \"$m\"");
works('after a wrapping length');

($s, $code) = scram_start();
my $first = 'n,,n=,r=clientnonce123';
print $s pg_msg('p', "SCRAM-SHA-256\0" . pack('N', length $first) . $first);
my ($type, $body) = read_msg($s, 10);
is($type, 'R', 'a well-formed client-first: server-first comes');
my ($sfirst) = substr($body, 4) =~ /^(r=[^,]+)/;
print $s pg_msg('p', "c=biws,$sfirst,p=" . ('!' x 44));
($c, $m) = error_of($s);
is($c, '08P01', 'a proof that is not base64: 08P01');
works('after a garbage proof');

($s, $code) = scram_start();
print $s pg_msg('p', "SCRAM-SHA-256\0" . pack('N', length $first) . $first);
($type, $body) = read_msg($s, 10);
($sfirst) = substr($body, 4) =~ /^(r=[^,]+)/;
print $s pg_msg('p', "c=biws,$sfirst,p=" . ('A' x 43) . '=');
($c, $m) = error_of($s);
is($c, '28P01', 'a well-formed wrong proof: 28P01 (a wrong password)');
works('after a wrong proof');

# ---- the server side: CVE-2026-6665, CVE-2026-6666 -------------------------------------------
my ($out, $err, $rc) = $w->psql('SELECT 1', db => 'h_huge_nonce', timeout => 60);
isnt($rc, 0, 'a server whose SCRAM server-first carries a 1 MB nonce: the login fails');
like($err, qr/FATAL|error/i, '... and the client is told') or diag($err);
works('after the 1 MB nonce');

($out, $err, $rc) = $w->psql('SELECT 1', db => 'h_nocode_login', timeout => 60);
isnt($rc, 0, 'a server refusing the login without a SQLSTATE: the client gets an error');
like($err, qr/no SQLSTATE here|server/i, '... ' . (split /\n/, $err)[0]);
works('after an ErrorResponse without a SQLSTATE at login');

($out, $err, $rc) = $w->psql('SELECT hostile', db => 'h_nocode_query', timeout => 60);
like($err, qr/hostile answer without a SQLSTATE/,
    'an ErrorResponse without a SQLSTATE after login reaches the client as it came');
($out, $err, $rc) = $w->psql(['SELECT hostile', 'SELECT calm'], db => 'h_nocode_query',
    timeout => 60);
like($err, qr/hostile answer/, '... twice in a session, and the session goes on');
works('after ErrorResponses without a SQLSTATE');
ok($w->alive, 'weir is still running');

$w->stop;
kill 'KILL', @kids;
waitpid($_, 0) for @kids;
done_testing;
