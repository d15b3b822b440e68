#!/usr/bin/perl
# t81_failover_pg.t -- a primary's failover under pgbench load, no restart and no reload: the
# standby is promoted (pg_ctl promote), the old primary stopped (immediate); the read-write
# entry's new transactions (a client of the test's own and pgbench's) reach the new primary
# within a few seconds and only the transactions in flight at the switch fail (counted and
# printed). A standby entry's server
# on the promoted host closes when released (in_hot_standby changed), so the entry then says
# no host fits instead of writing to a primary.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);
use WeirTest;
use HostsTest;

my $t = WeirTest->new(pgbench => 1);
my $sb = start_standby($t);
my ($pp, $sp) = ($t->pgport, $sb->port);
my %users = (app => 'apppass', admin => 'adminpass');
my $w = $t->start_weir(users => \%users,
    # server_check_delay 300: the standby entry's server must meet the promotion through its
    # client's query (and close at release), not through a health check that a slow run
    # (over 30 s between its uses) would make first; the second weir checks that path.
    weir => { admin_users => 'admin', pool_mode => 'transaction', default_pool_size => 8,
        server_check_delay => 300,
        server_connect_timeout => 5, host_breaker_failures => 2, host_breaker_backoff => 1,
        host_breaker_backoff_max => 4 },
    databases => {
        rw => "host=127.0.0.1,127.0.0.1 port=$pp,$sp dbname=testdb target_session_attrs=read-write",
        sb => "host=127.0.0.1,127.0.0.1 port=$pp,$sp dbname=testdb target_session_attrs=standby",
    });

is(server_of($w, 'rw'), "$pp|f", 'before: the read-write entry reaches the primary');
is(server_of($w, 'sb'), "$sp|t", 'before: the standby entry reaches the standby');
# A second weir health-checks every server before use (server_check_delay 0).
my $w2 = $t->start_weir(users => \%users,
    weir => { admin_users => 'admin', pool_mode => 'transaction', server_check_delay => 0 },
    databases => {
        sb2 => "host=127.0.0.1,127.0.0.1 port=$pp,$sp dbname=testdb target_session_attrs=standby",
    });
is(server_of($w2, 'sb2'), "$sp|t", 'before: the checked standby entry reaches the standby');
my $sbdbh = $w->dbi(db => 'sb') or BAIL_OUT("sb: $DBI::errstr");

# pgbench through the read-write entry, rate-limited so that most clients sit between
# transactions (holding no server) at any moment: only those in a transaction at the switch
# may fail, and pgbench ends a client at its first failure.
my $out_file = $t->tmp . '/pgbench.out';
my $pid = spawn(sub {
    my ($o, $e, $rc) = $t->pgbench(port => $w->port, db => 'rw',
        args => ['-n', '-c', '16', '-j', '2', '-T', '24', '-R', '48', '-P', '4'], timeout => 90);
    WeirTest::spew($out_file, "rc=$rc\n$o\n$e");
    return 1;
});
sleep 6;
my $t_promote = time;
$sb->promote;
diag(sprintf('standby promoted in %.1f s', time - $t_promote));
sleep 1;
my $t_switch = time;
$t->_stop_pg;    # the old primary goes away (pg_ctl stop -m immediate)
diag(sprintf('old primary stopped at +%.1f s', $t_switch - $t_promote));
# A client of its own, one transaction after another, besides pgbench's.
my ($probe_at, $probe);
while (time - $t_switch < 30) {
    $probe = server_of($w, 'rw', timeout => 20);
    if ($probe eq "$sp|f") {
        $probe_at = time - $t_switch;
        last;
    }
    sleep 0.2;
}
ok(defined $probe_at, 'a new client of the read-write entry reached the new primary')
    or diag("last answer: $probe");
diag(sprintf('%.2f s after the old primary stopped', $probe_at // -1));
ok(defined $probe_at && $probe_at < 15, sprintf('within a few seconds (%.2f s)', $probe_at // -1));
my $switch_ts = strftime('%Y-%m-%d %H:%M:%S', localtime($t_switch)) . sprintf('.%03d',
    ($t_switch - int($t_switch)) * 1000);

my $st = wait_children([$pid], 120);
is($st->{$pid}, 0, 'pgbench ran to its end');
my $pgb = WeirTest::slurp($out_file);
my @aborted = $pgb =~ /^(.*client \d+ .*aborted.*)$/mg;
diag("pgbench: $_") for @aborted;
my ($processed) = $pgb =~ /number of transactions actually processed: (\d+)/;
diag("pgbench processed $processed transactions; " . scalar(@aborted)
    . ' client(s) ended by a failed transaction');
ok(@aborted < 16, scalar(@aborted) . ' of 16 clients failed at the switch: the others went on')
    or diag($pgb);
my @progress = $pgb =~ /^(progress: .*)$/mg;
diag($_) for @progress;

# Transactions that the new primary took after the old one stopped.
my $d = DBI->connect("dbi:Pg:host=127.0.0.1;port=$sp;dbname=testdb;sslmode=disable", 'app',
    'apppass', { RaiseError => 1, PrintError => 0 });
my ($n_after, $first_after) = $d->selectrow_array(
    'SELECT count(*), extract(epoch FROM min(mtime)) FROM pgbench_history WHERE mtime > ?',
    undef, $switch_ts);
ok($n_after > 20, "the new primary took $n_after pgbench transactions after the switch")
    or diag($pgb);
my $gap = defined $first_after ? $first_after - $t_switch : 999;
diag(sprintf('first transaction on the new primary %.2f s after the old one stopped', $gap));
ok($gap < 15, sprintf('pgbench\'s first one there within a few seconds (%.2f s)', $gap));
$d->disconnect;

is(server_of($w, 'rw'), "$sp|f", 'after: a new client of the read-write entry reaches the new primary');
my $hosts = console($w, 'SHOW HOSTS');
my ($old) = grep { $_->{port} == $pp } @$hosts;
my ($new) = grep { $_->{port} == $sp } @$hosts;
is($new->{role}, 'primary', 'SHOW HOSTS: the promoted host is now a primary');
ok($old->{failed} >= 1, "SHOW HOSTS: the old primary's failed logins are counted ($old->{failed}, "
    . "breaker $old->{state})");

# The standby entry's pooled server sits on the promoted host: its next transaction is told
# in_hot_standby=off and the server closes when released.
my ($rec) = $sbdbh->selectrow_array('SELECT pg_is_in_recovery()');
ok(defined $rec, 'the standby entry\'s client still has a session');
# The release follows the answer the client already has: give the log line a moment.
ok(WeirTest::wait_until(10, sub { $w->log_text =~ /its host's role changed/ }),
    'weir closed that server at release: its role changed');
my ($o, $e, $rc) = $w->psql('SELECT 1', db => 'sb');
like($e, qr/no host fits target_session_attrs=standby/,
    "the standby entry now says no host fits: $e");
$sbdbh->disconnect;

# The checked weir's idle server on the promoted host: its health check's answer says
# in_hot_standby=off, so it closes before any client query runs on it.
like(server_of($w2, 'sb2'), qr/no host fits target_session_attrs=standby/,
    'server_check_delay 0: the pooled server is not used once its host is promoted');
ok(WeirTest::wait_until(10, sub { $w2->log_text =~ /health check: its host's role changed/ }),
    'the health check closed it: its role changed');
$w2->stop;
$w->stop;
done_testing();
