# t72_ip_limits.t -- per-address limits on the PostgreSQL port, with raw clients bound to chosen
# loopback sources, each limit set with the console's SET in turn:
#   max_client_conn_per_ip = 5: exactly 5 of 8 from 127.0.0.2 log in, the others get FATAL
#     53300 naming the limit; the same behind a PROXY header (per header address); 127.0.0.1
#     still connects; SHOW LIMITS lists the addresses at their cap until a connection closes;
#   client_conn_rate / client_conn_burst: a burst of 3, then refused at once (53300, "try
#     again in"), other addresses unaffected, SHOW LIMITS says until when;
#   auth_failure_limit: 3 wrong passwords ban 127.0.0.6 (08004, until when) without any
#     password being checked during the ban, others log in, the ban ends;
#   max_pending_logins = 4: 4 silent TCP connections, the 5th refused at once (53300), a
#     unix-socket client still gets in, and once they go TCP logins work again;
# and /metrics counts the refusals by reason and the limited addresses.
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
        proxy_protocol_networks => '127.0.0.3', max_client_conn_per_ip => 5,
        metrics_port => $mport });
my $port = $w->port;
my $adm = console($w);
ok($adm, 'console') or diag($DBI::errstr);

sub set {
    my ($k, $v) = @_;
    ok($adm->do("SET $k = $v"), "SET $k = $v") or diag($adm->errstr);
}

sub limits {
    my ($addr) = @_;
    return [ grep { $_->{addr} eq $addr } @{ console_rows($adm, 'SHOW LIMITS') // [] } ];
}

# logins($n, $from, $header_src, %o) -> (\@logged_in_sockets, \@errors)
sub logins {
    my ($n, $from, $hsrc, %o) = @_;
    my (@in, @err);
    for my $i (1 .. $n) {
        my $s = eval { connect_from($from, $port) };
        unless ($s) { push @err, { M => "connect: $@" }; next }
        syswrite($s, proxy_v1($hsrc, 50000 + $i, '127.0.0.1', $port)) if $hsrc;
        my $r = raw_login($s, %o);
        if ($r->{ok}) { push @in, $s } else { push @err, $r->{error} // { M => explain($r) } }
    }
    return (\@in, \@err);
}

# ---- max_client_conn_per_ip = 5 ---------------------------------------------------------------
my ($in, $err) = logins(8, '127.0.0.2');
is(scalar @$in, 5, 'max_client_conn_per_ip = 5: 5 of 8 connections from 127.0.0.2 log in');
is(scalar(grep { ($_->{C} // '') eq '53300' } @$err), 3, '... 3 get FATAL 53300');
like($err->[0]{M} // '', qr/too many connections from 127\.0\.0\.2 \(max_client_conn_per_ip = 5\)/,
    '... naming the address and the limit');
my ($out, $e) = $w->psql('SELECT 1');
is($out, '1', '127.0.0.1 still connects') or diag($e);
my ($pin, $perr) = logins(8, '127.0.0.3', '198.51.100.9');
is(scalar @$pin, 5, 'behind a PROXY header: 5 of 8 from 198.51.100.9 log in');
like($perr->[0]{M} // '', qr/too many connections from 198\.51\.100\.9/,
    '... the header\'s address is the one limited');
my ($oin) = logins(1, '127.0.0.3', '198.51.100.10');
is(scalar @$oin, 1, '... another address behind the same balancer logs in');
my $l2 = limits('127.0.0.2');
is($l2->[0]{reason}, 'conn_per_ip', 'SHOW LIMITS: 127.0.0.2 at its cap');
is($l2->[0]{connections}, 5, '... with 5 connections');
ok(!defined $l2->[0]{until}, '... until one closes (NULL)');
is($l2->[0]{refused}, 3, '... refused 3 times');
is(limits('198.51.100.9')->[0]{reason}, 'conn_per_ip', 'SHOW LIMITS: 198.51.100.9 too');
close shift @$in;
ok(wait_until(10, sub { !@{ limits('127.0.0.2') } }),
    'once one closes 127.0.0.2 leaves SHOW LIMITS');
my ($one) = logins(1, '127.0.0.2');
is(scalar @$one, 1, '... and one more gets in');
close $_ for @$in, @$pin, @$oin, @$one;
set(max_client_conn_per_ip => 0);

# ---- client_conn_rate: one per 10 s, a burst of 3 --------------------------------------------
set(client_conn_rate => 0.1);
set(client_conn_burst => 3);
{
    my $t0 = time;
    my ($rin, $rerr) = logins(6, '127.0.0.5');
    my $took = time - $t0;
    # A token comes back every 10 s: on a very slow run a 4th may get in; never fewer than 3.
    my $want = $took < 9 ? 3 : scalar @$rin;
    ok(@$rin >= 3, sprintf('a burst of %d of 6 logins in %.1f s', scalar @$rin, $took));
    is(scalar @$rin, $want, '... exactly the burst of 3') if $took < 9;
    is(scalar(grep { ($_->{C} // '') eq '53300' } @$rerr), 6 - @$rin, '... the rest FATAL 53300');
    like($rerr->[0]{M} // '',
        qr/too many new connections from 127\.0\.0\.5 \(client_conn_rate = 0\.1 per second\): try again in \d/,
        '... saying the rate and when to try again');
    my ($oin2) = logins(1, '127.0.0.7');
    is(scalar @$oin2, 1, 'another address has its own bucket');
    my $l5 = limits('127.0.0.5');
    is($l5->[0]{reason}, 'conn_rate', 'SHOW LIMITS: 127.0.0.5 over the rate');
    like($l5->[0]{until} // '', qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, '... until a time');
    close $_ for @$rin, @$oin2;
}
set(client_conn_rate => 0);
{
    my ($rin) = logins(1, '127.0.0.5');
    is(scalar @$rin, 1, 'client_conn_rate = 0: 127.0.0.5 logs in again');
    close $_ for @$rin;
}

# ---- auth_failure_limit = 3 within 60 s: banned for 5 s --------------------------------------
set(auth_failure_limit => 3);
set(auth_failure_window => 60);
set(auth_failure_ban => 5);
{
    my ($bin, $berr) = logins(3, '127.0.0.6', undef, password => 'wrong');
    is(scalar(grep { ($_->{C} // '') eq '28P01' } @$berr), 3, '3 wrong passwords: 28P01 each');
    my $checked = () = $w->log_text =~ /authentication failed/g;
    my $t0 = time;
    my ($in6, $err6) = logins(10, '127.0.0.6');    # the right password now
    is(scalar @$in6, 0, 'then 10 logins from 127.0.0.6 with the right password are refused');
    is(scalar(grep { ($_->{C} // '') eq '08004' } @$err6), 10, '... FATAL 08004');
    like($err6->[0]{M} // '',
        qr/too many failed logins from 127\.0\.0\.6: refused until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(auth_failure_limit\)/,
        '... naming the limit and the end of the ban');
    my $checked2 = () = $w->log_text =~ /authentication failed/g;
    is($checked2, $checked, '... refused before any password is checked');
    $w->log_like(qr/127\.0\.0\.6:\d+.*auth_failure_limit: 3 failed logins within 60 s/,
        'the ban is logged with the address');
    my ($in7) = logins(1, '127.0.0.7');
    is(scalar @$in7, 1, '127.0.0.7 still logs in');
    my $l6 = limits('127.0.0.6');
    is($l6->[0]{reason}, 'auth_failures', 'SHOW LIMITS: 127.0.0.6 banned');
    ok(defined $l6->[0]{until}, '... until a time');
    my $mm = metrics($mport);
    ok(($mm->{weir_limited_addresses} // 0) >= 1, 'weir_limited_addresses counts it');
    my $back = wait_until(30, sub { my ($ok) = logins(1, '127.0.0.6'); close $_ for @$ok; @$ok });
    ok($back, sprintf('after auth_failure_ban, 127.0.0.6 logs in again (%.1f s)', time - $t0));
    close $_ for @$in7;
}
set(auth_failure_limit => 0);

# ---- max_pending_logins = 4 ------------------------------------------------------------------
set(max_pending_logins => 4);
{
    my @silent = map { connect_from('127.0.0.8', $port) } 1 .. 4;
    ok(wait_until(10, sub { (metrics($mport)->{weir_pending_logins} // -1) == 4 }),
        '4 silent TCP connections are logins in progress');
    my $s = connect_from('127.0.0.9', $port);
    my ($type, $body) = read_msg($s, 10);    # without sending a byte
    my $pe = parse_error_fields($body);
    is($type, 'E', 'the 5th is refused at once, before it says anything');
    is($pe->{C}, '53300', '... 53300');
    like($pe->{M} // '', qr/too many logins in progress.*max_pending_logins = 4/, '... naming it');
    my ($uout, $uerr) = WeirTest::_psql($w->{dir}, $port, 'SELECT 1');
    is($uout, '1', 'a unix-socket client still logs in') or diag($uerr);
    close $_ for @silent;
    ok(wait_until(10, sub { my ($ok) = logins(1, '127.0.0.9'); close $_ for @$ok; @$ok }),
        'once they go, TCP logins work again');
}

# ---- /metrics --------------------------------------------------------------------------------
{
    my $mm = metrics($mport);
    my %r = map { $_ => $mm->{"weir_refused_connections_total{reason=\"$_\"}"} // 0 }
        qw(conn_per_ip conn_rate auth_failures pending_logins proxy_header);
    is($r{conn_per_ip}, 6, 'refusals: conn_per_ip 6');
    ok($r{conn_rate} >= 2, "refusals: conn_rate $r{conn_rate}");
    # 10, and any made while waiting for the ban to end
    ok($r{auth_failures} >= 10, "refusals: auth_failures $r{auth_failures}");
    # 1, and any made while waiting for the silent connections' ends to reach weir
    ok($r{pending_logins} >= 1, "refusals: pending_logins $r{pending_logins}");
    is($r{proxy_header}, 0, 'refusals: proxy_header 0');
}

$adm->disconnect;
$w->stop;
done_testing();
