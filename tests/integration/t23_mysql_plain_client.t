# t23_mysql_plain_client.t -- a MySQL-protocol client without MariaDB's extensions
# (Debian's PyMySQL: no CLIENT_SESSION_TRACK, no extended or cached metadata) through weir,
# whose MariaDB connections always have them (Connector/C asks for them): weir translates OK
# packets and column definitions. The same script runs direct and through weir, in session
# and transaction mode; the outputs must be identical.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;

my $python = '/usr/bin/python3';    # Debian's python, which sees python3-pymysql
plan skip_all => 'python3-pymysql is not installed'
    unless system($python, '-c', 'import pymysql') == 0;

my $m = MyTest->new;
my $tmp = $m->tmp;
my $script = "$tmp/plain.py";
spew($script, <<'PY');
import sys, pymysql
port, table = int(sys.argv[1]), sys.argv[2]
c = pymysql.connect(host='127.0.0.1', port=port, user='app', password='apppass',
                    database='shop', autocommit=True)
cur = c.cursor()
def show(sql):
    cur.execute(sql)
    desc = [(d[0], d[1]) for d in (cur.description or [])]
    print(sql, '|', desc, '|', cur.rowcount, '|', cur.fetchall() if cur.description else '')
show("SELECT 1 AS a, 'x' AS b, CAST(2.5 AS DECIMAL(4,2)) AS c, DATE('2026-01-02') AS d, NULL AS e")
show("DROP TABLE IF EXISTS %s" % table)
show("CREATE TABLE %s (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20), j JSON, u INET6)" % table)
cur.execute("INSERT INTO %s (v, j, u) VALUES ('a', '[1]', '::1'), ('b', '{}', '::2')" % table)
print('insert', cur.rowcount, cur.lastrowid)
show("UPDATE %s SET v = 'c' WHERE id = 2" % table)
show("SELECT id, v, j, u FROM %s ORDER BY id" % table)
show("SET time_zone = '+03:00'")
show("SELECT @@time_zone")
show("SELECT REPEAT('y', 70000) AS big")
c.begin()
cur.execute("INSERT INTO %s (v) VALUES ('t')" % table)
c.rollback()
show("SELECT COUNT(*) FROM %s" % table)
try:
    cur.execute("SELECT * FROM no_such_table")
except pymysql.MySQLError as e:
    print('error', e.args[0])
c.close()
PY

sub run_plain {
    my ($port, $table) = @_;
    my $out = `$python $script $port $table 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $direct) = run_plain($m->port, 't_direct');
is($rc, 0, 'the PyMySQL script runs against MariaDB directly') or diag($direct);
$direct =~ s/t_direct/T/g;

for my $mode (qw(session transaction)) {
    my $w = $m->start_weir(weir => { default_pool_size => 2, workers => 2, pool_mode => $mode });
    my ($rc2, $through) = run_plain($w->mysql_port, "t_$mode");
    is($rc2, 0, "$mode mode: the PyMySQL script runs through weir") or diag($through);
    $through =~ s/t_$mode/T/g;
    is($through, $direct, "$mode mode: every result, column type, row count and error matches");
    my ($rc3, $again) = run_plain($w->mysql_port, "t_$mode");
    is($rc3, 0, "$mode mode: and again on reused server connections") or diag($again);
    $w->stop;
}

done_testing();
