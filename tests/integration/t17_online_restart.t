# t17_online_restart.t -- online restart: while pgbench opens a new connection for every
# transaction (-C), a second weir starts on the same port (SO_REUSEPORT) and the first gets
# SIGTERM; it accepts what is queued, closes its listeners and exits once its clients are
# gone. pgbench must see no refused connection and no failed transaction.
#
# The kernel moves connections still in the closing listener's handshake queue to the other
# listener only with net.ipv4.tcp_migrate_req=1 (Linux 5.14+; the README's procedure says so).
# That is a per-network-namespace setting: as root this test re-runs itself in a namespace of
# its own (unshare -n) where it sets it, leaving the host alone. Without root it is skipped.
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
use Time::HiRes qw(time sleep);

plan skip_all => 'needs root for a private network namespace' unless $ENV{WEIR_IN_NETNS};

my $t = WeirTest->new(pgbench => 1);
my %conf = (weir => { pool_mode => 'transaction', default_pool_size => 4 });
my $old = $t->start_weir(%conf);
my $port = $old->port;

my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $port, '-U', 'app',
        '-C', '-S', '-c', '8', '-j', '2', '-T', '8', 'testdb'],
    env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, timeout => 60);
sleep 2;
my $new = $t->start_weir(%conf, port => $port);
ok($new->alive, 'a second weir started on the same port');
# start_weir's connect may reach the old weir's listener: wait until the new one listens too
# (an ASan build on a loaded machine can take longer than a second to get there).
ok(wait_until(30, sub { $new->log_text =~ /listening for PostgreSQL on 127/ }, 0.05),
    'the second weir listens');
sleep 1;
kill 'TERM', $old->pid;
ok(wait_until(20, sub { !$old->alive }), 'the old weir drained and exited');
$old->check_log(status => $old->{status}, name => 'the old weir exited cleanly');
$old->{stopped} = 1;

my ($out, $err, $rc) = bg_result($job, 60);
is($rc, 0, 'pgbench -C across the restart exited 0') or diag($err);
like($out, qr/number of failed transactions: 0 /, 'zero failed transactions');
unlike($err, qr/connection.*(refused|failed)|server closed the connection/i,
    'no refused or dropped connection');
my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
ok(($n // 0) > 50, 'pgbench kept going (' . ($n // 0) . ' transactions)');

my @new_logins = ($new->log_text =~ / login \(/g);
my @old_logins = ($old->log_text =~ / login \(/g);
ok(@old_logins > 0 && @new_logins > 0,
    'both processes served clients (old ' . scalar(@old_logins) . ', new ' . scalar(@new_logins) . ')');
($out, $err, $rc) = $new->psql('SELECT 1');
is($out, '1', 'the new weir serves after the old one left');
$new->stop;
done_testing;
