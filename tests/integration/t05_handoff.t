# t05_handoff.t -- cross-worker handoff: workers = 2, pool_size = 2 and 40 clients churning
# connect/query/disconnect for ~10 s, so released servers keep moving to waiters on the other
# worker. All sessions succeed, the pool bound holds, weir's log stays clean.
# scripts/test runs this file twice: with the ASAN build and with the TSAN build.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $bin = WeirTest::client_bin('churn');
plan skip_all => "churn client not built ($bin)" unless -x $bin;

my $t = WeirTest->new;
my $w = $t->start_weir(weir => { default_pool_size => 2, workers => 2 });
my $secs = $ENV{WEIR_HANDOFF_SECONDS} // 10;
my $procs = 4;
my $threads = 10;
my $ci = 'host=127.0.0.1 port=' . $w->port
    . ' dbname=testdb user=app password=apppass sslmode=disable connect_timeout=60';

my @pids;
my %outfile;
for my $p (1 .. $procs) {
    my $f = $t->tmp . "/churn$p.out";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $f or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        exec { $bin } $bin, $ci, $threads, $secs or POSIX::_exit(127);
    }
    $outfile{$pid} = $f;
    push @pids, $pid;
}
my ($max, $samples) = (0, 0);
my $st = wait_children(\@pids, $secs + 120, sub {
    my $c = $t->count_backends;
    $samples++;
    $max = $c if $c > $max;
});
my ($sessions, $failures) = (0, 0);
for my $pid (@pids) {
    my $out = slurp($outfile{$pid});
    my ($s, $f) = $out =~ /churn: sessions=(\d+) failures=(\d+)/;
    $sessions += $s // 0;
    $failures += $f // 0;
    is($st->{$pid}, 0, "churn process $pid: all sessions succeeded")
        or diag(join("\n", (split /\n/, $out)[0 .. 20]));
}
ok($sessions > 0, "sessions completed: $sessions");
is($failures, 0, 'no failed sessions');
ok($max <= 2, "PostgreSQL never saw more than 2 weir connections (max $max, $samples samples)");
diag(sprintf('%d clients, %d sessions in %ds, %d failures, max %d server connections',
        $procs * $threads, $sessions, $secs, $failures, $max));

# The pool still works after the storm.
my ($out, $err, $rc) = $w->psql('SELECT 1');
is($out, '1', 'weir serves after the churn') or diag($err);
ok($t->count_backends <= 2, 'pool bound still holds');
$w->stop;
done_testing;
