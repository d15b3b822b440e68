# t52_pg_prepared_pipeline.t -- libpq pipeline mode with named prepared statements
# (PQsendPrepare, PQsendQueryPrepared, an error segment, DEALLOCATE ALL between rounds) through
# transaction pooling: directly as a baseline, then 4 clients at once on a pool of 2 servers,
# with room for every statement and with max_prepared_statements = 3 (statements evicted and
# prepared again inside one pipeline). Every result arrives in order and right.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;

my $bin = WeirTest::client_bin('ps_pipeline');
plan skip_all => "ps_pipeline client not built ($bin)" unless -x $bin;

my $t = WeirTest->new();
sub conninfo {
    return "host=127.0.0.1 port=$_[0] dbname=testdb user=app password=apppass sslmode=disable "
        . 'connect_timeout=10';
}

my ($o, $e, $rc) = run_cmd([$bin, conninfo($t->pgport), 5, 6], timeout => 60);
is($rc, 0, 'the client passes against PostgreSQL directly') or diag("$o\n$e");

for my $max (200, 3) {
    my $db = 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb pool_size=2';
    my $w = $t->start_weir(databases => { testdb => $db },
        weir => { pool_mode => 'transaction', max_prepared_statements => $max, workers => 2 });
    my @pids = map {
        my $n = $_;
        spawn(sub {
            my ($out, $err, $code) = run_cmd([$bin, conninfo($w->port), 5, 12], timeout => 90);
            print STDERR "client $n: $out$err" if $code;
            return $code == 0;
        });
    } 1 .. 4;
    my $st = wait_children(\@pids, 120);
    is(scalar(grep { $st->{$_} eq '0' } @pids), 4,
        "max_prepared_statements=$max: 4 pipelined clients on 2 servers, every result right");
    my $names = admin_do($t, q{SELECT count(*) FROM pg_stat_activity
        WHERE datname = 'testdb' AND usename = 'app'});
    cmp_ok($names->[0][0], '<=', 2, '... never more than the pool of 2 at the end');
    ok($w->alive, 'weir still running');
    $w->stop;
}

done_testing();
