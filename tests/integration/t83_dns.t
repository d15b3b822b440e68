#!/usr/bin/perl
# t83_dns.t -- host names resolved without blocking a loop: weir's resolver is pointed
# (dns_nameservers) at a name server on loopback that takes queries and never answers. The
# stuck entry's client gets a clear error after server_connect_timeout; meanwhile clients of
# other databases (numeric, and localhost from the hosts file) keep working on the same
# workers; the failure is then cached (SHOW DNS_HOSTS) and answered at once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Select;
use WeirTest;
use HostsTest;

my $t = WeirTest->new;
my $pp = $t->pgport;
my ($dns, $dns_port) = silent_dns();
my $name = 'db.weir-test.invalid';
my %users = (app => 'apppass', admin => 'adminpass');
my $w = $t->start_weir(users => \%users,
    weir => { admin_users => 'admin', pool_mode => 'transaction', server_connect_timeout => 2,
        query_wait_timeout => 60, dns_nameservers => "127.0.0.1:$dns_port",
        dns_nxdomain_ttl => 30 },
    databases => {
        stuck => "host=$name port=$pp dbname=testdb",
        byname => "host=localhost port=$pp dbname=testdb",
    });

my $out_file = $t->tmp . '/stuck.out';
my $t0 = time;
my $pid = spawn(sub {
    my ($o, $e, $rc) = $w->psql('SELECT 1', db => 'stuck', timeout => 60);
    WeirTest::spew($out_file, sprintf("%.3f\n%s", time - $t0, $e));
    return 1;
});

# While that client waits for the name server, the other databases answer.
my $served = 0;
my $first_served;
for my $i (1 .. 10) {
    my ($o, $e, $rc) = $w->psql('SELECT 1', db => $i % 2 ? 'testdb' : 'byname');
    $served++ if $rc == 0 && $o eq '1';
    $first_served //= time - $t0 if $served;
}
is($served, 10, 'ten clients of other databases (numeric, localhost) served meanwhile');

my $st = wait_children([$pid], 90);
my ($elapsed, $err) = split /\n/, WeirTest::slurp($out_file), 2;
like($err, qr/weir could not log in to the server of database "stuck": server_connect_timeout: no answer from the name server for "\Q$name\E"/,
    "the stuck client's error names the wait: $err");
ok($elapsed >= 1.5 && $elapsed < 30, "after server_connect_timeout (2 s): $elapsed s");
ok(defined $first_served && $first_served < $elapsed,
    sprintf('the first of them was served (at %.2f s) while the stuck client waited', $first_served));

my @sel = IO::Select->new($dns)->can_read(1);
my $q;
ok(@sel && $dns->recv($q, 512), 'weir\'s resolver asked the configured name server');

# c-ares gives up after its tries (1.5 s + 3 s); the failure is then cached.
my $row;
ok(wait_until(30, sub {
    ($row) = grep { $_->{hostname} eq $name } @{ console($w, 'SHOW DNS_HOSTS') };
    $row && $row->{error};
}), 'SHOW DNS_HOSTS shows the failed lookup');
like($row->{error} // '', qr/timeout/i, "its error: $row->{error}");
is($row->{addrs}, '', 'and no address');

my $t1 = time;
my ($o, $e, $rc) = $w->psql('SELECT 1', db => 'stuck');
ok($rc != 0, 'a later client of the stuck entry fails');
like($e, qr/could not resolve|server login has been failing/, "at once, with the cause: $e");
ok(time - $t1 < 10, sprintf('without waiting for the name server (%.1f s)', time - $t1));
($o, $e, $rc) = $w->psql('SELECT 1', db => 'byname');
is($o, '1', 'localhost still resolves (hosts file)');
$w->log_like(qr/dns: could not resolve \Q$name\E/, 'the failure is logged');

$w->stop;
done_testing();
