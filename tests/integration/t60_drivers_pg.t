# t60_drivers_pg.t -- the PostgreSQL driver matrix: client libraries nobody here wrote run
# their cases (parameters of many types, an error, a rollback, a large result, 12 concurrent
# clients on 3 servers; tests/drivers/, docs/drivers.md) through weir, in session and in
# transaction pooling: psycopg 3 (prepare=True, a pipeline), psycopg2, asyncpg,
# node-postgres (named queries), postgres.js, pgjdbc (prepareThreshold=1) and sysbench's
# pgsql driver with prepared statements. One weir, two databases of pool_size 3 on one
# PostgreSQL: drv_session (pool_mode=session) and drv_transaction (pool_mode=transaction);
# a driver's two runs go at the same time (DriverMatrix.pm).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use DriverMatrix;
use Test::More;
use File::Spec;

# (driver, mode) pairs that are known to fail, with the reason; none today. Add a line
# ('driver mode') while a pair waits for a fix, and delete it when the pair passes.
my %todo = map { $_ => 'known to fail' } ();

my $t = WeirTest->new;
my $pp = $t->pgport;
my $admin = $t->pg_admin_dbi;
$admin->do("CREATE DATABASE drv_$_ OWNER app") for qw(session transaction);
$admin->disconnect;
my $w = $t->start_weir(
    databases => { map { ("drv_$_" => "host=127.0.0.1 port=$pp dbname=drv_$_ pool_mode=$_ "
                . 'pool_size=3') } qw(session transaction) },
    # A client that waits longer than this for a server gets an error: in session mode the
    # 12 concurrent clients each wait for a few others' short sessions. Disconnections are
    # logged with their reason, which a failing pair's report shows.
    weir => { query_wait_timeout => 10, log_connections => 0, log_disconnections => 1 });

my $jar = '/usr/share/java/postgresql.jar';
my ($classes, $java_why) = DriverMatrix::compile_java($t->tmp, $jar, 'PgJdbc.java');
my (undef, undef, $sb_rc) = run_cmd(['sh', '-c', 'sysbench --help | grep -q "pgsql - "'],
    timeout => 30);

# [name, why it cannot run or undef, argv head]
my @drivers = (
    ['psycopg', DriverMatrix::missing_python('psycopg'), [DriverMatrix::python('pg_psycopg.py')]],
    ['psycopg2', DriverMatrix::missing_python('psycopg2'),
        [DriverMatrix::python('pg_psycopg2.py')]],
    ['asyncpg', DriverMatrix::missing_python('asyncpg'), [DriverMatrix::python('pg_asyncpg.py')]],
    ['node-postgres', DriverMatrix::missing_node('pg'), [DriverMatrix::node('pg_nodepg.js')]],
    ['postgres.js', DriverMatrix::missing_node('postgres'),
        [DriverMatrix::node('pg_postgresjs.js')]],
    ['pgjdbc', $java_why, [$classes ? DriverMatrix::java($classes, $jar, 'PgJdbc') : ()]],
    ['sysbench', $sb_rc ? 'sysbench has no pgsql driver' : undef,
        [File::Spec->catfile($DriverMatrix::DIR, 'sysbench.sh'), 'pgsql']],
);

for my $d (@drivers) {
    my ($name, $why, $head) = @$d;
    DriverMatrix::run_pair(name => $name, weir => $w, skip => $why,
        todo => { map { ($_ => $todo{"$name $_"}) } qw(session transaction) },
        argv => sub { [@$head, '127.0.0.1', $w->port, 'app', 'apppass', "drv_$_[0]", $_[0]] },
        servers => sub { $t->count_backends(db => "drv_$_[0]") }, max_servers => 3);
}

$w->stop;
done_testing();
