# t34_pause_restart.t -- the operator's PostgreSQL restart under load: PAUSE from the console
# (answers once every server is released), stop and start PostgreSQL, RESUME; pgbench running
# through weir all along sees clients wait, never fail.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new(pgbench => 1);
my $w = $t->start_weir(
    weir => { pool_mode => 'transaction', default_pool_size => 4, admin_users => 'admin' },
    users => { app => 'apppass', admin => 'adminpass' });

sub console {
    my ($sql) = @_;
    return run_cmd([WeirTest::pg_bin('psql'), '-X', '-A', '-t', '-h', '127.0.0.1', '-p',
            $w->port, '-U', 'admin', '-d', 'weir', '-c', $sql],
        env => { PGPASSWORD => 'adminpass' }, timeout => 60);
}

my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port, '-U', 'app',
        '-c', '8', '-j', '2', '-T', '14', 'testdb'],
    env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, timeout => 90);
sleep 2;
my $t0 = time;
my ($out, $err, $rc) = console('PAUSE');
is($rc, 0, 'PAUSE answered') or diag($err);
diag(sprintf('PAUSE took %.2f s', time - $t0));
# (weir closed them when PAUSE answered; their backends leave pg_stat_activity a moment later)
ok(wait_until(10, sub { count_server_conns($t, user => 'app', db => 'testdb') == 0 }),
    'no server connection left once PAUSE answered');

is(pg_stop($t), 0, 'PostgreSQL stopped while weir is paused');
sleep 1;
is(pg_start($t), 0, 'PostgreSQL started again');
($out, $err, $rc) = console('RESUME');
is($rc, 0, 'RESUME answered') or diag($err);

($out, $err, $rc) = bg_result($job, 90);
is($rc, 0, 'pgbench across the restart exited 0') or diag($err);
like($out, qr/number of failed transactions: 0 /, 'zero failed transactions');
my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
ok(($n // 0) > 50, 'pgbench went on after RESUME (' . ($n // 0) . ' transactions)');
ok(count_server_conns($t, user => 'app', db => 'testdb') <= 4, 'pool_size still respected');
$w->stop;
done_testing;
