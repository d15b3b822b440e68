# t41_haproxy.t -- the compose stack's topology (docker/) on loopback: PostgreSQL and MariaDB,
# two weir instances in front of both (transaction pooling), Debian's HAProxy in front of the
# two weirs (TCP mode, roundrobin, TCP connect checks, a config generated in the temp dir,
# run as a child process). pgbench through HAProxy's PostgreSQL frontend: no failed
# transaction, and both weirs served clients (their login lines); sysbench through the MySQL
# frontend: no error, both weirs served; then one weir is killed (SIGKILL): HAProxy's check
# marks it down, and new PostgreSQL and MySQL connections through HAProxy still succeed.
# HAProxy speaks the PROXY protocol v2 to the weirs (send-proxy-v2, from source 127.0.0.5,
# the only address in their proxy_protocol_networks; its health checks send LOCAL): raw
# clients bound to 127.0.0.2 (PostgreSQL) and 127.0.0.3 (MySQL) show up under their own
# address in the weirs' SHOW CLIENTS, and no weir logs a header it refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use EdgeTest;
use Test::More;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $haproxy = -x '/usr/sbin/haproxy' ? '/usr/sbin/haproxy' : 'haproxy';
plan skip_all => 'haproxy is not installed' unless -x $haproxy || `which haproxy 2>/dev/null`;

my $t = WeirTest->new(pgbench => 1);
my $m = MyTest->new;
my %cfg = (pool_mode => 'transaction', default_pool_size => 8, workers => 1,
    proxy_protocol_networks => '127.0.0.5', admin_users => 'admin');
my %users = (app => 'apppass', forced => 'forcedpass', admin => 'adminpass');
# -v: the debug lines show the health checks' LOCAL headers being closed
my @w = map { $m->start_weir(pg => $t, weir => {%cfg}, users => \%users, args => ['-v']) } 1 .. 2;

# ---- HAProxy: generated config, child process, stats socket -----------------------------
my ($hp_pg, $hp_my) = (free_port(), free_port());
$hp_my = free_port() while $hp_my == $hp_pg;
my $dir = $t->tmp . '/haproxy';
mkdir $dir or die "mkdir $dir: $!";
my $stats = "$dir/stats.sock";
my $servers = sub {
    my ($which) = @_;
    join('', map {
            my $port = $which eq 'pg' ? $w[$_]->port : $w[$_]->mysql_port;
            "    server weir" . ($_ + 1) . " 127.0.0.1:$port check send-proxy-v2\n"
        } 0 .. $#w);
};
spew("$dir/haproxy.cfg", <<"EOF");
global
    stats socket $stats mode 600 level admin
    maxconn 4000

defaults
    mode tcp
    timeout connect 2s
    timeout client 5m
    timeout server 5m
    timeout check 1s
    retries 2
    option redispatch
    default-server inter 300ms fall 2 rise 1 on-marked-down shutdown-sessions
    # the balancer's own address, the one the weirs take PROXY headers from
    source 127.0.0.5

frontend pg
    bind 127.0.0.1:$hp_pg
    default_backend weir_pg

frontend mysql
    bind 127.0.0.1:$hp_my
    default_backend weir_mysql

backend weir_pg
    balance roundrobin
@{[ $servers->('pg') ]}
backend weir_mysql
    balance roundrobin
@{[ $servers->('my') ]}
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
    if ($hpid && $$ == $owner) {
        kill 'TERM', $hpid;
        waitpid($hpid, 0);
    }
}

# haproxy_cmd("show servers state") -> the stats socket's answer.
sub haproxy_cmd {
    my ($cmd) = @_;
    my $s = IO::Socket::UNIX->new(Peer => $stats) or return '';
    print $s "$cmd\n";
    local $/;
    my $out = <$s> // '';
    close $s;
    return $out;
}

# { 'weir_pg/weir1' => 'UP' | 'DOWN' | ..., ... } from "show stat" (CSV).
sub server_status {
    my %st;
    for my $l (split /\n/, haproxy_cmd('show stat')) {
        my @f = split /,/, $l;
        next if @f < 18 || $f[1] eq 'FRONTEND' || $f[1] eq 'BACKEND' || $f[0] =~ /^#/;
        $st{"$f[0]/$f[1]"} = $f[17];
    }
    return \%st;
}

sub all_up {
    my $st = server_status();
    return 4 == grep { ($st->{$_} // '') =~ /^UP/ } keys %$st;
}
ok(wait_until(20, \&all_up), 'haproxy runs, all four servers UP')
    or diag(explain(server_status()), slurp("$dir/haproxy.log"));

sub trim { my ($s) = @_; $s //= ''; $s =~ s/^\s+|\s+$//g; return $s; }

sub logins {
    my ($w, $re) = @_;
    return scalar(() = $w->log_text =~ /$re/g);
}

# ---- the PROXY protocol: the weirs see the clients' own addresses -----------------------
{
    # client_rows($addr) -> SHOW CLIENTS rows of both weirs (PostgreSQL console) from $addr
    my $client_rows = sub {
        my ($addr) = @_;
        my @rows;
        for my $wi (@w) {
            my $c = console($wi) or next;
            push @rows, grep { $_->{addr} eq $addr } @{ console_rows($c, 'SHOW CLIENTS') // [] };
            $c->disconnect;
        }
        return \@rows;
    };
    my $s = connect_from('127.0.0.2', $hp_pg);
    my $r = raw_login($s, extra => { application_name => 'via-haproxy' });
    ok($r->{ok}, 'a raw PostgreSQL client from 127.0.0.2 logs in through haproxy')
        or diag(explain($r));
    my $rows = $client_rows->('127.0.0.2');
    is(scalar @$rows, 1, 'a weir lists it under 127.0.0.2 (the PROXY v2 header\'s address)')
        or diag(explain($client_rows->('127.0.0.5')));
    is($rows->[0]{application_name}, 'via-haproxy', '... it is that client');
    is($rows->[0]{port}, $s->sockport, '... with its own port');
    is(scalar @{ $client_rows->('127.0.0.5') }, 0, 'no client shows haproxy\'s address');
    close $s;
    my $ms = connect_from('127.0.0.3', $hp_my);
    my $mr = my_login($ms);
    ok($mr->{ok}, 'a raw MySQL client from 127.0.0.3 logs in through haproxy')
        or diag(explain($mr));
    is(scalar @{ $client_rows->('127.0.0.3') }, 1, 'a weir lists it under 127.0.0.3');
    close $ms;
}

# ---- pgbench through HAProxy -------------------------------------------------------------
{
    my ($out, $err, $rc) = $t->pgbench(port => $hp_pg,
        args => ['-n', '-c', '8', '-j', '2', '-T', '6'], timeout => 120);
    is($rc, 0, 'pgbench through haproxy exits 0') or diag($err);
    my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
    my ($failed) = $out =~ /number of failed transactions: (\d+)/;
    ok(($done // 0) > 100, 'pgbench: ' . ($done // 0) . ' transactions');
    is($failed // 0, 0, 'pgbench: no failed transaction');
    my @n = map { logins($_, qr/login \(transaction pooling, application_name=pgbench\)/) } @w;
    ok($n[0] >= 1 && $n[1] >= 1, "both weirs served pgbench clients ($n[0] + $n[1])");
    # -C: a connection per transaction, spread round robin.
    ($out, $err, $rc) = $t->pgbench(port => $hp_pg,
        args => ['-n', '-C', '-c', '4', '-j', '2', '-t', '25'], timeout => 120);
    ($failed) = $out =~ /number of failed transactions: (\d+)/;
    ok($rc == 0 && ($failed // 0) == 0, 'pgbench -C (100 connections) through haproxy')
        or diag($err);
    my @n2 = map { logins($_, qr/application_name=pgbench\)/) } @w;
    ok($n2[0] - $n[0] >= 30 && $n2[1] - $n[1] >= 30,
        sprintf('connections spread over both weirs (%d / %d)', $n2[0] - $n[0], $n2[1] - $n[1]));
}

# ---- sysbench through HAProxy's MySQL frontend -------------------------------------------
{
    my ($out, $err, $rc) = $m->sysbench(test => 'oltp_read_write', cmd => 'prepare',
        tables => 2, table_size => 1000);
    is($rc, 0, 'sysbench prepare (direct)') or diag($err);
    my $st;
    ($out, $err, $rc, $st) = MyTest::_sysbench($hp_my, test => 'oltp_read_write',
        tables => 2, table_size => 1000, threads => 4, time => 6, ps => 0,
        # uniform keys: the default distribution deadlocks (1213) even without weir (t20)
        args => ['--rand-type=uniform']);
    is($rc, 0, 'sysbench oltp_read_write through haproxy exits 0') or diag("$out\n$err");
    ok(($st->{transactions} // 0) > 20, 'sysbench: ' . ($st->{transactions} // 0) . ' transactions');
    is($st->{ignored_errors} // 0, 0, 'sysbench: no ignored error');
    my @n = map { logins($_, qr/login \(mysql, transaction pooling/) } @w;
    ok($n[0] >= 1 && $n[1] >= 1, "both weirs served sysbench threads ($n[0] + $n[1])");
    my ($o2, $e2, $rc2) = MyTest::_mariadb_cli($hp_my, 'SELECT COUNT(*) FROM sbtest1');
    is(trim($o2), '1000', 'mariadb CLI through haproxy') or diag($e2);
}

# ---- one weir dies -----------------------------------------------------------------------
{
    $w[0]->kill_hard;
    ok(wait_until(15, sub {
            my $st = server_status();
            ($st->{'weir_pg/weir1'} // '') =~ /^DOWN/ && ($st->{'weir_mysql/weir1'} // '') =~ /^DOWN/
        }), 'haproxy marks the killed weir DOWN') or diag(explain(server_status()));
    my $ok = 0;
    for my $i (1 .. 10) {
        my ($out, $err) = WeirTest::_psql('127.0.0.1', $hp_pg, 'SELECT 1');
        $ok++ if ($out // '') eq '1';
    }
    is($ok, 10, 'ten new PostgreSQL connections through haproxy succeed');
    my ($out, $err, $rc) = $t->pgbench(port => $hp_pg,
        args => ['-n', '-c', '4', '-j', '2', '-T', '3'], timeout => 60);
    my ($failed) = $out =~ /number of failed transactions: (\d+)/;
    ok($rc == 0 && ($failed // 0) == 0, 'pgbench through haproxy on the surviving weir')
        or diag($err);
    my $myok = 0;
    for my $i (1 .. 5) {
        my ($o) = MyTest::_mariadb_cli($hp_my, 'SELECT 1');
        $myok++ if trim($o) eq '1';
    }
    is($myok, 5, 'five new MySQL connections through haproxy succeed');
}

unlike(join('', map { $_->log_text } @w), qr/PROXY protocol header|bad PROXY/,
    'no weir refused a header');
ok(!grep({ $_->log_text !~ /closing: PROXY LOCAL/ } @w),
    'both weirs closed haproxy\'s health checks (PROXY v2 LOCAL) quietly');
$w[1]->stop;
kill 'TERM', $hpid;
ok(wait_until(10, sub { waitpid($hpid, WNOHANG) == $hpid }), 'haproxy stopped');
$hpid = 0;
done_testing();
