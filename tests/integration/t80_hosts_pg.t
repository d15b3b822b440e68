#!/usr/bin/perl
# t80_hosts_pg.t -- PostgreSQL entries by host name and by host list, with a real primary and
# a real streaming standby on loopback: a name (localhost) resolved without blocking and shown
# by SHOW DNS_HOSTS; a list whose first host is a closed port; target_session_attrs reaching
# the right server whichever host is listed first (read-write, primary, read-only, standby,
# prefer-standby, any); load_balance_hosts=random spreading logins over both; the dead host in
# SHOW HOSTS and /metrics; a host list whose hosts are all down failing at once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use HostsTest;

my $t = WeirTest->new;
my $sb = start_standby($t);
my ($pp, $sp) = ($t->pgport, $sb->port);
my $dead = free_port();    # nothing listens there: connection refused
my $metrics = free_port();
my %users = (app => 'apppass', admin => 'adminpass');
my $lst = "host=127.0.0.1,127.0.0.1 dbname=testdb";
my $w = $t->start_weir(users => \%users,
    weir => { admin_users => 'admin', pool_mode => 'transaction', metrics_port => $metrics,
        host_breaker_failures => 2, host_breaker_backoff => 60, host_breaker_backoff_max => 60 },
    databases => {
        byname => "host=localhost port=$pp dbname=testdb",
        deadfirst => "host=127.0.0.1,localhost port=$dead,$pp dbname=testdb",
        rw_sbfirst => "$lst port=$sp,$pp target_session_attrs=read-write",
        rw_pfirst => "$lst port=$pp,$sp target_session_attrs=read-write",
        primary_sbfirst => "$lst port=$sp,$pp target_session_attrs=primary",
        ro_pfirst => "$lst port=$pp,$sp target_session_attrs=read-only",
        sb_pfirst => "$lst port=$pp,$sp target_session_attrs=standby",
        sb_sbfirst => "$lst port=$sp,$pp target_session_attrs=standby",
        prefer_sb => "$lst port=$pp,$sp target_session_attrs=prefer-standby",
        any_sbfirst => "$lst port=$sp,$pp",
        random => "$lst port=$pp,$sp load_balance_hosts=random pool_mode=session pool_size=40",
        alldead => "host=127.0.0.1,127.0.0.1 port=$dead,$dead dbname=testdb",
        sb_only_primary => "host=127.0.0.1 port=$pp dbname=testdb target_session_attrs=standby",
    });

# ---- a host name ----
is(server_of($w, 'byname'), "$pp|f", 'an entry by name (localhost) reaches the primary');
my $dns = console($w, 'SHOW DNS_HOSTS');
my ($lh) = grep { $_->{hostname} eq 'localhost' } @$dns;
ok($lh, 'SHOW DNS_HOSTS lists localhost');
like($lh->{addrs} // '', qr/127\.0\.0\.1/, "its addresses: $lh->{addrs}");
ok(defined $lh->{ttl} && $lh->{ttl} >= 1, "with a TTL of at least the 1 s floor ($lh->{ttl})");

# ---- a list whose first host is dead ----
# Three clients in transactions at once: three server logins, each walking past the dead host.
my @tx;
for my $i (1 .. 3) {
    my $d = $w->dbi(db => 'deadfirst') or BAIL_OUT("deadfirst: $DBI::errstr");
    $d->begin_work;
    push @tx, $d;
}
is(join(',', map { $_->selectrow_array('SELECT inet_server_port()') } @tx), "$pp,$pp,$pp",
    'first host a closed port: each login goes on to the next host');
$_->rollback for @tx;
$_->disconnect for @tx;
my $hosts = console($w, 'SHOW HOSTS');
my ($dh) = grep { $_->{port} == $dead } @$hosts;
ok($dh && $dh->{failures} >= 2, 'SHOW HOSTS counts the dead host\'s failures')
    or diag(explain($hosts));
is($dh->{state}, 'open', 'its breaker opened after host_breaker_failures (2)');
like($dh->{last_error} // '', qr/refused|could not connect/i, "last error: $dh->{last_error}");
ok(defined $dh->{next_probe} && $dh->{next_probe} > 30, "next probe in $dh->{next_probe} s");
my $log_before = length $w->log_text;
is(server_of($w, 'deadfirst'), "$pp|f", 'with the breaker open the login still succeeds');
my $new_log = substr($w->log_text, $log_before);
unlike($new_log, qr/:$dead.*login failed/, 'and the open host was skipped, not tried');

# ---- target_session_attrs ----
is(server_of($w, 'rw_sbfirst'), "$pp|f", 'read-write, standby listed first: the primary');
is(server_of($w, 'rw_pfirst'), "$pp|f", 'read-write, primary listed first: the primary');
is(server_of($w, 'primary_sbfirst'), "$pp|f", 'primary, standby listed first: the primary');
is(server_of($w, 'ro_pfirst'), "$sp|t", 'read-only, primary listed first: the standby');
is(server_of($w, 'sb_pfirst'), "$sp|t", 'standby, primary listed first: the standby');
is(server_of($w, 'sb_sbfirst'), "$sp|t", 'standby, standby listed first: the standby');
is(server_of($w, 'prefer_sb'), "$sp|t", 'prefer-standby: the standby');
is(server_of($w, 'any_sbfirst'), "$sp|t", 'any: the first host, whatever it is');
my ($out, $err, $rc) = $w->psql('CREATE TABLE t80_w (x int)', db => 'rw_sbfirst');
is($rc, 0, 'a write through the read-write entry works') or diag($err);
($out, $err, $rc) = $w->psql('CREATE TABLE t80_x (x int)', db => 'sb_pfirst');
like($err, qr/read-only transaction/, 'a write through the standby entry is refused by the standby');

$hosts = console($w, 'SHOW HOSTS');
my ($ph) = grep { $_->{port} == $pp && $_->{host} eq '127.0.0.1' } @$hosts;
my ($sh) = grep { $_->{port} == $sp } @$hosts;
is($ph->{role}, 'primary', 'SHOW HOSTS: the primary\'s role');
is($sh->{role}, 'standby', 'SHOW HOSTS: the standby\'s role');
is($sh->{state}, 'closed', 'a host that did not fit is not counted as down');

# A single-host entry whose host does not fit fails with a clear error, not a timeout.
my $t0 = time;
($out, $err, $rc) = $w->psql('SELECT 1', db => 'sb_only_primary');
ok($rc != 0, 'standby entry on a primary only: refused');
like($err, qr/no host fits target_session_attrs=standby.*a primary/, "error: $err");
ok(time - $t0 < 10, sprintf('at once (%.1f s)', time - $t0));

# ---- load_balance_hosts=random ----
my @h;
for my $i (1 .. 16) {
    my $d = $w->dbi(db => 'random') or BAIL_OUT("random: $DBI::errstr");
    push @h, $d;
}
my %ports;
$ports{ $_->selectrow_array('SELECT inet_server_port()') }++ for @h;
$_->disconnect for @h;
ok($ports{$pp} && $ports{$sp}, 'load_balance_hosts=random: 16 logins reached both hosts '
    . join(', ', map {"$_: $ports{$_}"} sort keys %ports));

# ---- every host down ----
($out, $err, $rc) = $w->psql('SELECT 1', db => 'alldead');
ok($rc != 0, 'an entry whose hosts are all down: error');
like($err, qr/no host could be reached|every host is down/, "error: $err");
($out, $err, $rc) = $w->psql('SELECT 1', db => 'alldead');
$t0 = time;
($out, $err, $rc) = $w->psql('SELECT 1', db => 'alldead');
like($err, qr/every host is down.*next probe in/, "with both breakers open: $err");
ok(time - $t0 < 5, sprintf('at once (%.1f s), not after query_wait_timeout', time - $t0));

# ---- /metrics ----
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $metrics, Timeout => 10);
print $s "GET /metrics HTTP/1.0\r\n\r\n";
my $body = do { local $/; <$s> };
like($body, qr/weir_host_up\{host="127\.0\.0\.1",port="$dead",backend="postgres"\} 0/,
    '/metrics: the dead host is down');
like($body, qr/weir_host_up\{host="127\.0\.0\.1",port="$sp",backend="postgres"\} 1/,
    '/metrics: the standby is up');
like($body, qr/weir_host_standby\{host="127\.0\.0\.1",port="$sp",backend="postgres"\} 1/,
    '/metrics: the standby is a standby');
like($body, qr/weir_host_login_failures_total\{host="127\.0\.0\.1",port="$dead"[^}]*\} [1-9]/,
    '/metrics: the dead host\'s failures');

$w->stop;
done_testing();
