# t71_proxy_mysql.t -- the edge on the MySQL port. With 127.0.0.2 in proxy_protocol_networks,
# weir's greeting waits for the header: v1 and v2 headers make the header's address the
# client's (SHOW CLIENTS on the MySQL console); a header from 127.0.0.1 (unlisted) and a
# malformed one get ERR 1043; LOCAL is closed without a greeting. max_client_conn_per_ip = 5
# lets exactly 5 of 8 logins from 127.0.0.4 in (the others get ERR 1040 naming the limit),
# the same behind a header, while 127.0.0.1 still connects. auth_failure_limit bans an
# address after 3 wrong passwords: ERR 1129 before the greeting, even with the right one.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use MyTest;
use EdgeTest;

my $m = MyTest->new;
my %users = (app => 'apppass', admin => 'adminpass');
my $w = $m->start_weir(users => \%users, weir => { admin_users => 'admin',
        proxy_protocol_networks => '127.0.0.2', max_client_conn_per_ip => 5,
        auth_failure_limit => 3, auth_failure_window => 60, auth_failure_ban => 600 });
my $port = $w->mysql_port;

my $adm = my_connect($port);
my $al = my_login($adm, user => 'admin', password => 'adminpass', db => 'weir');
ok($al->{ok}, 'console login over the MySQL port') or diag(explain($al));

# console_query($sql) -> [ {col => value} ] from the MySQL console
sub console_query {
    my ($sql) = @_;
    my $r = my_query($adm, $sql);
    my $rs = $r->{results}[0] // {};
    my @cols = @{ $rs->{columns} // [] };
    return [ map { my $row = $_; +{ map { $cols[$_] => $row->[$_] } 0 .. $#cols } }
            @{ $rs->{rows} // [] } ];
}

# ---- headers -----------------------------------------------------------------------------
my $s1 = connect_from('127.0.0.2', $port);
syswrite($s1, proxy_v1('203.0.113.8', 41001, '127.0.0.1', $port));
my $r1 = my_login($s1);
ok($r1->{ok}, 'v1 header, then the greeting and a login') or diag(explain($r1));
my $s2 = connect_from('127.0.0.2', $port);
syswrite($s2, proxy_v2(src => '2001:db8::8', sport => 41002, dst => '::1', dport => $port));
my $r2 = my_login($s2);
ok($r2->{ok}, 'v2 header (IPv6)') or diag(explain($r2));
my %by_port = map { $_->{port} => $_ } @{ console_query('SHOW CLIENTS') };
is($by_port{41001}{addr}, '203.0.113.8', 'SHOW CLIENTS: the v1 header\'s address');
is($by_port{41002}{addr}, '2001:db8::8', 'SHOW CLIENTS: the v2 header\'s address');
my $q = my_query($s1, 'SELECT 6 * 7');
is($q->{results}[0]{rows}[0][0], 42, 'a proxied MySQL client runs queries');

{
    my $s = connect_from('127.0.0.1', $port);
    my ($seq, $greeting) = my_read_packet($s, 10);    # unlisted: greeted at once
    ok(defined $seq, 'an unlisted client is greeted at once');
    syswrite($s, proxy_v1('203.0.113.9', 41003, '127.0.0.1', $port));
    my ($seq2, $p) = my_read_packet($s, 10);
    my $e = my_parse_err($p // "\xff\0\0");
    is($e->{code}, 1043, 'a header from 127.0.0.1 (unlisted): ERR 1043');
    like($e->{msg}, qr/not in proxy_protocol_networks/, '... saying why');
}
{
    my $s = connect_from('127.0.0.2', $port);
    syswrite($s, "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n");
    my ($seq, $p) = my_read_packet($s, 10);
    my $e = my_parse_err($p // "\xff\0\0");
    is($e->{code}, 1043, 'a bad port in a v1 header: ERR 1043 instead of the greeting');
    like($e->{msg}, qr/bad PROXY protocol header: PROXY v1 header: bad port/, '... saying why');
    is($seq, 0, '... at sequence id 0');
}
{
    my $s = connect_from('127.0.0.2', $port);
    syswrite($s, proxy_v2(local => 1));
    ok(nothing_then_eof($s, 10), 'v2 LOCAL: closed without a greeting');
}

# ---- max_client_conn_per_ip = 5 -----------------------------------------------------------
# eight($from, $header_src) -> (logged in, refused with 1040, [sockets], first error)
sub eight {
    my ($from, $hsrc) = @_;
    my (@open, $err);
    my ($in, $refused) = (0, 0);
    for my $i (1 .. 8) {
        my $s = connect_from($from, $port);
        syswrite($s, proxy_v1($hsrc, 42000 + $i, '127.0.0.1', $port)) if $hsrc;
        my $r = my_login($s);
        if ($r->{ok}) {
            $in++;
            push @open, $s;
        } elsif (($r->{error}{code} // 0) == 1040) {
            $refused++;
            $err //= $r->{error};
        } else {
            diag(explain($r));
        }
    }
    return ($in, $refused, \@open, $err);
}
my ($in, $refused, $open, $err) = eight('127.0.0.4');
is($in, 5, 'max_client_conn_per_ip = 5: 5 of 8 logins from 127.0.0.4 get in');
is($refused, 3, '... 3 get ERR 1040');
like($err->{msg} // '', qr/too many connections from 127\.0\.0\.4 \(max_client_conn_per_ip = 5\)/,
    '... naming the limit');
my ($in2, $refused2, $open2) = eight('127.0.0.2', '198.51.100.44');
is($in2, 5, 'behind a PROXY header: 5 of 8 from 198.51.100.44 get in');
is($refused2, 3, '... 3 refused');
{
    my $s = connect_from('127.0.0.2', $port);
    syswrite($s, proxy_v1('198.51.100.45', 43000, '127.0.0.1', $port));
    ok(my_login($s)->{ok}, 'another address behind the same balancer still gets in');
}
{
    my $s = my_connect($port);
    ok(my_login($s)->{ok}, '127.0.0.1 still gets in');
}
close $_ for @$open;
my $again = wait_until(10, sub {
    my $s = connect_from('127.0.0.4', $port);
    return my_login($s)->{ok};
});
ok($again, 'once they close, 127.0.0.4 gets in again');

# ---- auth_failure_limit = 3: ERR 1129 ----------------------------------------------------
for my $i (1 .. 3) {
    my $s = connect_from('127.0.0.6', $port);
    my $r = my_login($s, password => 'wrong');
    is($r->{error}{code}, 1045, "wrong password $i: ERR 1045");
}
{
    my $s = connect_from('127.0.0.6', $port);
    my ($seq, $p) = my_read_packet($s, 10);
    my $e = my_parse_err($p // "\xff\0\0");
    is($e->{code}, 1129, 'then 127.0.0.6 gets ERR 1129 (host blocked) instead of the greeting');
    like($e->{msg}, qr/too many failed logins from 127\.0\.0\.6: refused until .*auth_failure_limit/,
        '... naming the limit and the end of the ban');
    my $s7 = connect_from('127.0.0.7', $port);
    ok(my_login($s7)->{ok}, '127.0.0.7 still logs in');
}
my ($row) = grep { $_->{addr} eq '127.0.0.6' } @{ console_query('SHOW LIMITS') };
is($row->{reason}, 'auth_failures', 'SHOW LIMITS over MySQL lists the banned address');

close $_ for ($s1, $s2, $adm, @$open2);
$w->stop;
done_testing();
