# t70_proxy_protocol.t -- the PROXY protocol on the PostgreSQL port. weir lists 127.0.0.2 and
# 127.0.0.3 in proxy_protocol_networks; raw clients bind those (and 127.0.0.1, unlisted) as
# their source address. v1 and v2 headers make the header's address the client's (SHOW
# CLIENTS addr/port, the login log line), also when the startup packet comes in the same
# segment; a header from an unlisted address, a missing or malformed header from a listed one
# are refused with 08P01; a v2 LOCAL health check is closed without a byte; a header slower
# than client_login_timeout is dropped; unix-socket clients send none; /metrics counts the
# refusals (reason proxy_header).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use EdgeTest;

my $t = WeirTest->new;
my %users = (app => 'apppass', admin => 'adminpass');
my $mport = free_port();
my $w = $t->start_weir(users => \%users, weir => { admin_users => 'admin',
        proxy_protocol_networks => '127.0.0.2, 127.0.0.3/32, fd00::/8',
        client_login_timeout => 4, metrics_port => $mport });
my $port = $w->port;
my $adm = console($w);
ok($adm, 'the console from 127.0.0.1 (unlisted) needs no header') or diag($DBI::errstr);

# clients_by_port() -> { port => SHOW CLIENTS row } of the testdb clients
sub clients_by_port {
    my $rows = console_rows($adm, 'SHOW CLIENTS') // [];
    return { map { $_->{port} => $_ } grep { $_->{database} eq 'testdb' } @$rows };
}

# ---- v1 and v2 headers: the header's address is the client's ----------------------------
my $s1 = connect_from('127.0.0.2', $port);
syswrite($s1, proxy_v1('203.0.113.7', 40001, '127.0.0.1', $port));
my $r1 = raw_login($s1);
ok($r1->{ok}, 'v1 header then a login from 127.0.0.2') or diag(explain($r1));

my $s2 = connect_from('127.0.0.3', $port);
syswrite($s2, proxy_v2(src => '2001:db8::7', sport => 40002, dst => '2001:db8::1',
        dport => $port, tlvs => [[0x05, 'req-42'], [0xE0, "\x01\x02"]]));
my $r2 = raw_login($s2);
ok($r2->{ok}, 'v2 header (IPv6, two TLVs) then a login from 127.0.0.3') or diag(explain($r2));

my $s3 = connect_from('127.0.0.2', $port);
syswrite($s3, proxy_v2(src => '198.51.100.23', sport => 40003, dst => '127.0.0.1',
        dport => $port));
my $r3 = raw_login($s3);
ok($r3->{ok}, 'v2 header, IPv4') or diag(explain($r3));

my $cl = clients_by_port();
is($cl->{40001}{addr}, '203.0.113.7', 'SHOW CLIENTS: the v1 header\'s address');
is($cl->{40002}{addr}, '2001:db8::7', 'SHOW CLIENTS: the v2 header\'s IPv6 address');
is($cl->{40003}{addr}, '198.51.100.23', 'SHOW CLIENTS: the v2 header\'s IPv4 address');
ok(!grep({ $_->{addr} =~ /^127\.0\.0\.[23]$/ } values %$cl),
    'no client shows the balancer\'s address') or diag(explain($cl));
ok(wait_until(5, sub { $w->log_text =~ /203\.0\.113\.7:40001.*login \(session pooling/ }),
    'the login log line names the header\'s address');
my $q = raw_query($s2, 'SELECT 40 + 2');
is($q->{rows}[0][0], 42, 'a proxied client runs queries');

# the header and the startup packet in one segment
{
    my $s = connect_from('127.0.0.3', $port);
    syswrite($s, proxy_v1('192.0.2.200', 40004, '127.0.0.1', $port)
        . startup_packet(user => 'app', database => 'testdb'));
    my ($type, $body) = read_msg($s, 10);
    is($type, 'R', 'header and startup packet in one write: the startup is answered');
    is(unpack('N', $body // "\0\0\0\0"), 5, '... with the md5 request');
    close $s;
}

# v1 UNKNOWN: the balancer's own address stays
{
    my $s = connect_from('127.0.0.2', $port);
    syswrite($s, "PROXY UNKNOWN\r\n");
    my $r = raw_login($s, extra => { application_name => 'unknown-hdr' });
    ok($r->{ok}, 'v1 UNKNOWN is accepted');
    my ($row) = grep { ($_->{application_name} // '') eq 'unknown-hdr' }
        @{ console_rows($adm, 'SHOW CLIENTS') // [] };
    is($row->{addr}, '127.0.0.2', '... and the client keeps the connection\'s address');
    close $s;
}

# ---- refusals -----------------------------------------------------------------------------
# a header from an address outside proxy_protocol_networks
{
    my $s = connect_from('127.0.0.1', $port);
    syswrite($s, proxy_v1('203.0.113.66', 40010, '127.0.0.1', $port));
    my ($type, $body) = read_msg($s, 10);
    my $e = parse_error_fields($body);
    is($type, 'E', 'a v1 header from 127.0.0.1 (unlisted) is refused');
    is($e->{C}, '08P01', '... 08P01');
    like($e->{M} // '', qr/PROXY protocol header from 127\.0\.0\.1.*not in proxy_protocol_networks/,
        '... saying it is not in proxy_protocol_networks');
    ok(sock_closed($s, 5), '... and closed');
    $s = connect_from('127.0.0.1', $port);
    syswrite($s, proxy_v2(src => '203.0.113.66', sport => 1, dst => '127.0.0.1', dport => 2));
    ($type, $body) = read_msg($s, 10);
    like(parse_error_fields($body)->{M} // '', qr/not in proxy_protocol_networks/,
        'a v2 header from 127.0.0.1 too');
}
# no header from a listed address
{
    my $s = connect_from('127.0.0.2', $port);
    my $r = raw_login($s);
    ok($r->{error}, 'a startup packet without the header from 127.0.0.2 is refused');
    is($r->{error}{C}, '08P01', '... 08P01');
    like($r->{error}{M} // '', qr/PROXY protocol header must come first from 127\.0\.0\.2/,
        '... naming the address and the rule');
}
# malformed headers
for my $case (['v2 TLV longer than the header',
        proxy_v2(raw_body => pack('C4C4nn', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) . "\x05\x00\x09ab"),
        qr/bad PROXY protocol header: PROXY v2 header: a TLV longer than the header/],
    ['v1 with a leading zero', "PROXY TCP4 10.0.0.01 127.0.0.1 1 2\r\n",
        qr/bad PROXY protocol header: PROXY v1 header: bad IPv4 address/],
    ['v2 of 65 KB', "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x11\xff\xff",
        qr/PROXY v2 header of 65551 bytes \(at most 4096\)/])
{
    my ($name, $bytes, $re) = @$case;
    my $s = connect_from('127.0.0.3', $port);
    syswrite($s, $bytes);
    my ($type, $body) = read_msg($s, 10);
    is($type, 'E', "$name: refused");
    like(parse_error_fields($body)->{M} // '', $re, "$name: says why");
}

# ---- LOCAL: a balancer's health check ------------------------------------------------------
{
    my $before = () = $w->log_text =~ /error /g;
    my $s = connect_from('127.0.0.3', $port);
    syswrite($s, proxy_v2(local => 1));
    ok(nothing_then_eof($s, 10), 'v2 LOCAL: closed without a byte sent');
    my $after = () = $w->log_text =~ /error /g;
    is($after, $before, '... and without an error line in the log');
}

# ---- a header slower than client_login_timeout (4 s) --------------------------------------
{
    my $s = connect_from('127.0.0.2', $port);
    syswrite($s, substr(proxy_v1('203.0.113.99', 40020, '127.0.0.1', $port), 0, 20));
    my $t0 = time;
    ok(nothing_then_eof($s, 30), 'a header cut short: dropped without a byte');
    my $took = time - $t0;
    ok($took > 2, sprintf('... after client_login_timeout (%.1f s)', $took));
    ok(wait_until(5, sub { $w->log_text =~ /no whole PROXY header: dropped/ }),
        '... with a log line');
}

# ---- unix-socket clients send no header -----------------------------------------------------
{
    my ($out, $err, $rc) = WeirTest::_psql($w->{dir}, $port, 'SELECT 1');
    is($out, '1', 'psql over the unix socket needs no header') or diag($err);
}

# ---- /metrics ---------------------------------------------------------------------------
{
    my $m = metrics($mport);
    my $n = $m->{'weir_refused_connections_total{reason="proxy_header"}'} // 0;
    # 2 unlisted, 1 missing, 3 malformed, 1 too slow
    is($n, 7, 'weir_refused_connections_total{reason="proxy_header"} counts the 7 refusals');
}

close $_ for ($s1, $s2, $s3);
$adm->disconnect;
$w->stop;
done_testing();
