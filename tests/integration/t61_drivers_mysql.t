# t61_drivers_mysql.t -- the MySQL driver matrix: client libraries nobody here wrote run their
# cases (parameters of many types, an error, a rollback, a large result, 12 concurrent clients
# on 3 servers; tests/drivers/, docs/drivers.md) through weir, in session and in transaction
# pooling: PyMySQL, mysqlclient, mysql2 with execute(), MariaDB Connector/J with
# useServerPrepStmts=true and sysbench with prepared statements. One weir, two databases of
# pool_size 3 on one MariaDB: drv_session (pool_mode=session) and drv_transaction
# (pool_mode=transaction); a driver's two runs go at the same time (DriverMatrix.pm).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use DriverMatrix;
use Test::More;
use File::Spec;

# (driver, mode) pairs that are known to fail, with the reason; none today. Add a line
# ('driver mode') while a pair waits for a fix, and delete it when the pair passes.
my %todo = map { $_ => 'known to fail' } ();

my $m = MyTest->new;
my $mp = $m->port;
my $sql = '';
for my $mode (qw(session transaction)) {
    $sql .= "CREATE DATABASE drv_$mode;\n";
    $sql .= "GRANT ALL ON drv_$mode.* TO 'app'\@'$_';\n" for ('%', 'localhost');
}
my (undef, $err, $rc) = $m->admin_sql($sql);
die "creating the databases failed: $err" if $rc;
my $w = $m->start_weir(
    databases => { map { ("drv_$_" => "backend=mysql host=127.0.0.1 port=$mp dbname=drv_$_ "
                . "pool_mode=$_ pool_size=3") } qw(session transaction) },
    # A client that waits longer than this for a server gets an error: in session mode the
    # 12 concurrent clients each wait for a few others' short sessions. Disconnections are
    # logged with their reason, which a failing pair's report shows.
    weir => { query_wait_timeout => 10, log_connections => 0, log_disconnections => 1 });

my $jar = '/usr/share/java/mariadb-java-client.jar';
my ($classes, $java_why) = DriverMatrix::compile_java($m->tmp, $jar, 'MariadbJ.java');
my (undef, undef, $sb_rc) = run_cmd(['sh', '-c', 'sysbench --help | grep -q "mysql - "'],
    timeout => 30);

# [name, why it cannot run or undef, argv head]
my @drivers = (
    ['PyMySQL', DriverMatrix::missing_python('pymysql'), [DriverMatrix::python('my_pymysql.py')]],
    ['mysqlclient', DriverMatrix::missing_python('MySQLdb'),
        [DriverMatrix::python('my_mysqldb.py')]],
    ['mysql2', DriverMatrix::missing_node('mysql2'), [DriverMatrix::node('my_mysql2.js')]],
    ['Connector/J', $java_why, [$classes ? DriverMatrix::java($classes, $jar, 'MariadbJ') : ()]],
    ['sysbench', $sb_rc ? 'sysbench has no mysql driver' : undef,
        [File::Spec->catfile($DriverMatrix::DIR, 'sysbench.sh'), 'mysql']],
);

for my $d (@drivers) {
    my ($name, $why, $head) = @$d;
    DriverMatrix::run_pair(name => $name, weir => $w, skip => $why,
        todo => { map { ($_ => $todo{"$name $_"}) } qw(session transaction) },
        argv => sub {
            [@$head, '127.0.0.1', $w->mysql_port, 'app', 'apppass', "drv_$_[0]", $_[0]]
        },
        # pool_size bounds all the variants of a pool (docs/mysql.md, Framing)
        servers => sub { $m->count_backends(user => 'app', db => "drv_$_[0]") },
        max_servers => 3);
}

$w->stop;
done_testing();
