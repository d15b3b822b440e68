#!/usr/bin/perl
# t75_rolling_restart.t -- a rolling restart behind a balancer: HAProxy (send-proxy-v2,
# roundrobin, TCP checks) in front of two weirs, pgbench -C through HAProxy (a new connection
# per transaction), and each weir restarted online in turn (a successor on the same port with
# SO_REUSEPORT, then SIGTERM to the old one, which drains and exits). No transaction may fail.
#
# As in t17, the kernel moves connections from a closing listener's queue to the successor
# only with net.ipv4.tcp_migrate_req=1: as root the test re-runs itself in a private network
# namespace where it sets it. Without root, or without HAProxy, it is skipped.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;

BEGIN {
    if ($> == 0 && !$ENV{WEIR_IN_NETNS}) {
        $ENV{WEIR_IN_NETNS} = 1;
        exec('unshare', '-n', '--', 'sh', '-c',
            'ip link set lo up && sysctl -q -w net.ipv4.tcp_migrate_req=1 && exec "$@"',
            'sh', $^X, map({ "-I$_" } @INC), $0, @ARGV) or die "unshare: $!";
    }
}

use WeirTest;
use PoolTest;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

plan skip_all => 'needs root for a private network namespace' unless $ENV{WEIR_IN_NETNS};
my $haproxy = -x '/usr/sbin/haproxy' ? '/usr/sbin/haproxy' : 'haproxy';
plan skip_all => 'haproxy is not installed' unless -x $haproxy || `which haproxy 2>/dev/null`;

my $t = WeirTest->new(pgbench => 1);
my %conf = (weir => { pool_mode => 'transaction', default_pool_size => 4, workers => 2,
        proxy_protocol_networks => '127.0.0.5' });
my @w = map { $t->start_weir(%conf) } 1 .. 2;

my $hp = free_port();
my $dir = $t->tmp . '/haproxy';
mkdir $dir or die "mkdir $dir: $!";
my $servers = join('', map { "    server weir$_ 127.0.0.1:" . $w[$_ - 1]->port
        . " check send-proxy-v2\n" } 1 .. 2);
spew("$dir/haproxy.cfg", <<"EOF");
global
    maxconn 2000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    timeout check 1s
    retries 2
    option redispatch
    default-server inter 300ms fall 2 rise 1
    source 127.0.0.5

frontend pg
    bind 127.0.0.1:$hp
    default_backend weir_pg

backend weir_pg
    balance roundrobin
$servers
EOF
my ($cout, $cerr, $crc) = run_cmd([$haproxy, '-c', '-f', "$dir/haproxy.cfg"]);
is($crc, 0, 'haproxy -c accepts the generated config') or diag("$cout$cerr");
my $owner = $$;
my $hpid = fork // die "fork: $!";
if ($hpid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$dir/haproxy.log" or POSIX::_exit(126);
    open STDERR, '>>', "$dir/haproxy.log" or POSIX::_exit(126);
    exec { $haproxy } $haproxy, '-db', '-f', "$dir/haproxy.cfg" or POSIX::_exit(127);
}
END {
    local $?;    # HAProxy's exit status is not the test's
    if ($hpid && $$ == $owner) {
        kill 'TERM', $hpid;
        waitpid($hpid, 0);
    }
}
ok(wait_until(20, sub {
    my ($o, $e, $rc) = WeirTest::_psql('127.0.0.1', $hp, 'SELECT 1', timeout => 5);
    return $o eq '1';
}), 'a query through HAProxy works');

my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $hp, '-U', 'app',
        '-C', '-S', '-c', '8', '-j', '2', '-T', '14', 'testdb'],
    env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, timeout => 90);
sleep 3;
my @new;
for my $i (0 .. 1) {
    my $old = $w[$i];
    my $new = $t->start_weir(%conf, port => $old->port);
    ok(wait_until(30, sub { $new->log_text =~ /listening for PostgreSQL on 127/ }, 0.05),
        "weir " . ($i + 1) . "'s successor listens on the same port");
    sleep 1;
    kill 'TERM', $old->pid;
    ok(wait_until(30, sub { !$old->alive }), "the old weir " . ($i + 1) . " drained and exited");
    $old->check_log(status => $old->{status}, name => "the old weir " . ($i + 1) . " exited cleanly");
    $old->{stopped} = 1;
    push @new, $new;
    sleep 2;
}

my ($out, $err, $rc) = bg_result($job, 90);
is($rc, 0, 'pgbench -C through HAProxy across both restarts exited 0') or diag($err);
like($out, qr/number of failed transactions: 0 /, 'zero failed transactions');
unlike($err, qr/connection.*(refused|failed)|server closed the connection/i,
    'no refused or dropped connection');
my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
ok(($n // 0) > 50, 'pgbench kept going (' . ($n // 0) . ' transactions, one connection each)');
for my $p (['old 1', $w[0]], ['old 2', $w[1]], ['new 1', $new[0]], ['new 2', $new[1]]) {
    my $logins = () = $p->[1]->log_text =~ / login \(/g;
    ok($logins > 0, "$p->[0] served clients ($logins logins)");
}
unlike(join('', map { $_->log_text } @w, @new), qr/PROXY header .*refused|refused .*PROXY/i,
    'no PROXY header refused');
$_->stop for @new;
done_testing;
