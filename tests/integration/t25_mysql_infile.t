# t25_mysql_infile.t -- LOAD DATA LOCAL INFILE through weir. With allow_local_infile = 1 the
# server's file request reaches the client and the client's file reaches the server: files of
# 5000 rows and of about 6 MB (in PyMySQL's 16 KB packets sequence ids wrap) loaded through
# weir with the mariadb CLI, DBD::MariaDB and PyMySQL give the same table as loading them
# directly. With the setting off (the default) the statement is refused with an ERR and the
# connection stays usable.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;

my $m = MyTest->new;
my $tmp = $m->tmp;
my $python = '/usr/bin/python3';
my $have_pymysql = system($python, '-c', 'import pymysql') == 0;

# Rows with tabs escaped, quotes, backslashes, NULLs (\N) and UTF-8.
sub make_file {
    my ($path, $rows, $pad) = @_;
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    for my $i (1 .. $rows) {
        my $v = $i % 97 == 0 ? '\\N' : "row $i 'q' \\\\ \xc3\xa9" . ('x' x ($pad + $i % 13));
        print $fh "$i\t$v\n";
    }
    close $fh;
    return -s $path;
}
my $small = "$tmp/small.tsv";
my $big = "$tmp/big.tsv";
my $small_size = make_file($small, 5000, 10);
my $big_size = make_file($big, 60000, 80);
diag("files: $small_size bytes (5000 rows), $big_size bytes (60000 rows)");

my ($out, $err, $rc) = $m->admin_sql('SET GLOBAL local_infile = 1; SELECT @@GLOBAL.local_infile');
is($out, "1\n", 'MariaDB allows LOCAL INFILE (local_infile = ON, its default)') or diag($err);

sub create_table {
    my ($t) = @_;
    my ($o, $e, $r) = $m->mariadb("DROP TABLE IF EXISTS $t; "
            . "CREATE TABLE $t (id INT PRIMARY KEY, v VARCHAR(200) NULL) CHARSET utf8mb4");
    die "create $t: $e" if $r;
}

# table_sum($t) -> "rows checksum" of a table (CHECKSUM TABLE ignores the table's name).
sub table_sum {
    my ($t) = @_;
    my ($o) = $m->mariadb("SELECT COUNT(*) FROM $t; CHECKSUM TABLE $t");
    $o =~ s/\s*$t\s*/ /;
    $o =~ s/\s+/ /g;
    return $o;
}

sub load_sql {
    my ($file, $t) = @_;
    return "LOAD DATA LOCAL INFILE '$file' INTO TABLE $t CHARACTER SET utf8mb4 "
        . "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'";
}

my %direct;
for my $f ([small => $small], [big => $big]) {
    my ($name, $file) = @$f;
    create_table("d_$name");
    ($out, $err, $rc) = $m->mariadb(load_sql($file, "d_$name"), args => ['--local-infile=1']);
    is($rc, 0, "$name file loads directly") or diag($err);
    $direct{$name} = table_sum("d_$name");
}
like($direct{small}, qr/^5000 /, 'the small table has 5000 rows') or diag($direct{small});

for my $mode (qw(transaction session)) {
    my $w = $m->start_weir(weir => { pool_mode => $mode, workers => 2, default_pool_size => 3,
            allow_local_infile => 1 });
    for my $f ([small => $small], [big => $big]) {
        my ($name, $file) = @$f;
        my $t = "w_${mode}_$name";
        create_table($t);
        ($out, $err, $rc) = $w->mariadb(load_sql($file, $t) . "; SELECT 'after'",
            args => ['--local-infile=1'], timeout => 120);
        is($rc, 0, "$mode: the CLI loads the $name file through weir") or diag($err);
        is($out, "after\n", "$mode: ... and the session goes on");
        is(table_sum($t), $direct{$name}, "$mode: ... the table equals the direct load");
    }

    my $t = "w_${mode}_dbi";
    create_table($t);
    my $h = $w->my_dbi(dsn_extra => 'mariadb_local_infile=1');
    ok($h && $h->do(load_sql($small, $t)), "$mode: DBD::MariaDB loads the file through weir")
        or diag($h ? $h->errstr : $DBI::errstr);
    is(table_sum($t), $direct{small}, "$mode: ... the same table");
    # The client refuses to send a file it cannot read: an empty upload, the server's ERR.
    my $r = $h->do(load_sql("$tmp/no_such_file", $t));
    ok(!$r && $h->err, "$mode: a file the client cannot open gives an error ("
            . ($h->err // '') . ')');
    is(($h->selectrow_array('SELECT 3'))[0], 3, "$mode: ... and the connection works");
    $h->disconnect;

    SKIP: {
        skip 'python3-pymysql is not installed', 2 unless $have_pymysql;
        my $pt = "w_${mode}_py";
        create_table($pt);
        spew("$tmp/load.py", <<'PY');
import sys, pymysql
port, table, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = pymysql.connect(host='127.0.0.1', port=port, user='app', password='apppass',
                    database='shop', autocommit=True, local_infile=True, charset='utf8mb4')
cur = c.cursor()
cur.execute("LOAD DATA LOCAL INFILE %s INTO TABLE " + table + " CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'", (path,))
print('loaded', cur.rowcount)
PY
        # PyMySQL sends 16 KB packets: the big file takes about 400, sequence ids wrap.
        ($out, $err, $rc) = run_cmd([$python, "$tmp/load.py", $w->mysql_port, $pt, $big],
            timeout => 120);
        is($out, "loaded 60000\n",
            "$mode: PyMySQL (plain protocol) loads the big file through weir") or diag("rc $rc: $err");
        is(table_sum($pt), $direct{big}, "$mode: ... the same table");
    }
    cmp_ok($m->count_backends, '<=', 3, "$mode: pool_size holds");
    $w->stop;
}

# ---- allow_local_infile off (the default): refused, the connection stays usable ----
{
    my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 2 });
    create_table('w_off');
    ($out, $err, $rc) = $w->mariadb(undef, args => ['--local-infile=1', '--force'],
        stdin => load_sql($small, 'w_off') . ";\nSELECT 'usable';\n");
    my $code = mariadb_err_code($err);
    ok($code, "off: LOAD DATA LOCAL INFILE is refused with an ERR ($code)") or diag($err);
    diag("off: $err");
    is($out, "usable\n", 'off: the connection stays usable');
    like(table_sum('w_off'), qr/^0 /, 'off: nothing was loaded') or diag(table_sum('w_off'));
    my $h = $w->my_dbi(dsn_extra => 'mariadb_local_infile=1');
    ok(!$h->do(load_sql($small, 'w_off')), 'off: DBD::MariaDB is refused too ('
            . ($h->err // '') . ')');
    is(($h->selectrow_array('SELECT 4'))[0], 4, 'off: ... and its connection works');
    $h->disconnect;
    $w->stop;
}

done_testing();
