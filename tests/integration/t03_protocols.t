# t03_protocols.t -- what passes through weir unchanged: pgbench in extended and prepared
# mode (tps printed beside a direct run, never asserted), COPY IN/OUT, LISTEN/NOTIFY,
# NOTICE, 100 MB values both ways, and libpq pipeline mode.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);
use Digest::MD5 qw(md5_hex);

my $t = WeirTest->new(pgbench => 1);
my $w = $t->start_weir(weir => { default_pool_size => 20, workers => 2 });
my $secs = $ENV{WEIR_PGBENCH_SECONDS} // 10;

# ---- pgbench: extended and prepared, direct and through weir ------------------------------
sub pgbench_run {
    my (%o) = @_;
    my ($out, $err, $rc, $to) = $t->pgbench(port => $o{port}, timeout => $secs + 90,
        args => ['-c', 20, '-j', 2, '-T', $secs, '-M', $o{mode}, '-n']);
    my ($tps) = $out =~ /^tps = ([\d.]+) \(without initial connection time\)/m;
    my ($failed) = $out =~ /^number of failed transactions: (\d+)/m;
    my ($done) = $out =~ /^number of transactions actually processed: (\d+)/m;
    return { out => $out, err => $err, rc => $rc, tps => $tps, failed => $failed,
        done => $done, timed_out => $to };
}

for my $mode (qw(extended prepared)) {
    my $direct = pgbench_run(port => $t->pgport, mode => $mode);
    is($direct->{rc}, 0, "pgbench -M $mode direct ran") or diag($direct->{err});
    my $via = pgbench_run(port => $w->port, mode => $mode);
    is($via->{rc}, 0, "pgbench -M $mode through weir: exit status 0")
        or diag("$via->{out}\n$via->{err}");
    ok(defined $via->{done} && $via->{done} > 0,
        "pgbench -M $mode through weir processed transactions (" . ($via->{done} // 0) . ')');
    if (defined $via->{failed}) {
        is($via->{failed}, 0, "pgbench -M $mode through weir: 0 failed transactions");
    }
    unlike($via->{err}, qr/error|abort/i, "pgbench -M $mode through weir: no client errors")
        or diag($via->{err});
    diag(sprintf('tps -M %s -c 20 -j 2 -T %d: direct=%s weir=%s', $mode, $secs,
            $direct->{tps} // 'n/a', $via->{tps} // 'n/a'));
}

# ---- COPY IN / COPY OUT ------------------------------------------------------------------
{
    my $n = 100_000;
    my $dbh = $w->dbi or die "dbi: $DBI::errstr";
    $dbh->do('CREATE TABLE copyt (id int, v text, f float8)') or die $dbh->errstr;
    ok($dbh->do('COPY copyt FROM STDIN'), 'COPY IN started through weir');
    my $in_md5 = Digest::MD5->new;
    my $chunk = '';
    for my $i (1 .. $n) {
        my $line = "$i\t" . md5_hex($i) . "\t" . ($i / 2) . "\n";
        $in_md5->add($line);
        $chunk .= $line;
        if (length $chunk > 65536 || $i == $n) {
            $dbh->pg_putcopydata($chunk) or die $dbh->errstr;
            $chunk = '';
        }
    }
    ok($dbh->pg_putcopyend, 'COPY IN finished') or diag($dbh->errstr);
    my $in_digest = $in_md5->hexdigest;

    my ($cnt) = $dbh->selectrow_array('SELECT count(*) FROM copyt');
    is($cnt, $n, "COPY IN: $n rows arrived");

    my $direct = $t->pg_dbi or die $DBI::errstr;
    my ($sum_direct) = $direct->selectrow_array(
        q{SELECT md5(string_agg(id || E'\t' || v || E'\t' || f::text, E'\n' ORDER BY id)) FROM copyt});
    my ($sum_weir) = $dbh->selectrow_array(
        q{SELECT md5(string_agg(id || E'\t' || v || E'\t' || f::text, E'\n' ORDER BY id)) FROM copyt});
    is($sum_weir, $sum_direct, 'COPY IN: checksum seen through weir equals direct');

    ok($dbh->do('COPY (SELECT * FROM copyt ORDER BY id) TO STDOUT'), 'COPY OUT started');
    my $out_md5 = Digest::MD5->new;
    my ($row, $rows) = ('', 0);
    while ($dbh->pg_getcopydata($row) >= 0) {
        $out_md5->add($row);
        $rows++;
    }
    is($rows, $n, "COPY OUT: $n rows through weir");
    is($out_md5->hexdigest, $in_digest, 'COPY OUT: data identical to what went in');

    # And COPY OUT directly, for comparison.
    $direct->do('COPY (SELECT * FROM copyt ORDER BY id) TO STDOUT');
    my $d_md5 = Digest::MD5->new;
    $d_md5->add($row) while $direct->pg_getcopydata($row) >= 0;
    is($d_md5->hexdigest, $in_digest, 'direct COPY OUT matches too');

    # psql \copy through weir.
    my $file = $t->tmp . '/copy.tsv';
    my ($o, $e, $rc) = $w->psql("\\copy (SELECT * FROM copyt ORDER BY id) TO '$file'");
    is($rc, 0, 'psql \\copy out through weir') or diag($e);
    is(md5_hex(slurp($file)), $in_digest, 'psql \\copy out: same data');
    ($o, $e, $rc) = $w->psql(["CREATE TABLE copyt2 (LIKE copyt)", "\\copy copyt2 FROM '$file'",
            'SELECT count(*) FROM copyt2']);
    is($o, $n, 'psql \\copy in through weir') or diag($e);

    # A COPY IN that fails midway leaves the connection usable.
    $dbh->do('COPY copyt FROM STDIN');
    $dbh->pg_putcopydata("1\tx\tnot-a-float\n");
    ok(!$dbh->pg_putcopyend, 'bad COPY data is rejected');
    my ($after) = $dbh->selectrow_array('SELECT count(*) FROM copyt');
    is($after, $n, 'connection usable after a failed COPY');
    $dbh->do('DROP TABLE copyt2');
    $dbh->disconnect;
    $direct->disconnect;
}

# ---- LISTEN / NOTIFY across two weir clients ----------------------------------------------
{
    my $l = $w->dbi or die $DBI::errstr;
    my $s = $w->dbi or die $DBI::errstr;
    ok($l->do('LISTEN weir_chan'), 'LISTEN through weir');
    ok($s->do(q{NOTIFY weir_chan, 'hello through weir'}), 'NOTIFY through weir');
    $s->do(q{SELECT pg_notify('weir_chan', 'second')});
    my @got;
    wait_until(10, sub {
        while (my $n = $l->pg_notifies) { push @got, $n }
        return @got >= 2;
    }, 0.05);
    is(scalar(@got), 2, 'listener got both notifications');
    is($got[0][0], 'weir_chan', 'notification channel');
    is($got[0][2], 'hello through weir', 'notification payload');
    is($got[1][2], 'second', 'second payload');
    $l->disconnect;
    $s->disconnect;
}

# ---- NOTICE ------------------------------------------------------------------------------
{
    my ($o, $e, $rc) = $w->psql(q{DO $$ BEGIN RAISE NOTICE 'notice through weir %', 42; END $$});
    is($rc, 0, 'DO block with RAISE NOTICE');
    like($e, qr/NOTICE:\s+notice through weir 42/, 'NOTICE reaches the client');
    my $dbh = $w->dbi or die $DBI::errstr;
    my @warn;
    local $SIG{__WARN__} = sub { push @warn, @_ };
    $dbh->do(q{DO $$ BEGIN RAISE WARNING 'warn via dbi'; END $$});
    like("@warn", qr/warn via dbi/, 'WARNING reaches a DBD::Pg client');
    $dbh->disconnect;
}

# ---- 100 MB values -----------------------------------------------------------------------
{
    my $size = 100 * 1024 * 1024;
    # Streamed, never buffered whole: a fresh weir's peak RSS must not grow by anything near
    # 100 MB.
    my $wb = $t->start_weir(weir => { default_pool_size => 2, workers => 2 });
    my ($warm) = $wb->psql('SELECT 1');
    my $hwm0 = vm_hwm($wb->pid);
    my $dbh = $wb->dbi(attr => { pg_server_prepare => 1 }) or die $DBI::errstr;
    my $t0 = time;
    my ($v) = $dbh->selectrow_array("SELECT repeat('x', $size)");
    ok(defined $v, '100 MB value selected through weir') or diag($dbh->errstr);
    is(length($v // ''), $size, '100 MB value has the right length');
    is(md5_hex($v // ''), md5_hex('x' x $size), '100 MB value unchanged (md5)');
    undef $v;
    diag(sprintf('100 MB SELECT took %.1fs', time - $t0));

    $dbh->do('CREATE TABLE bigv (id int, v text)');
    my $big = join('', map { chr(97 + $_ % 26) } 0 .. 1023) x (100 * 1024);
    my $want = md5_hex($big);
    $t0 = time;
    ok($dbh->do('INSERT INTO bigv VALUES (1, $1)', undef, $big), 'INSERT of a 100 MB bind parameter')
        or diag($dbh->errstr);
    undef $big;
    diag(sprintf('100 MB INSERT took %.1fs', time - $t0));
    my $direct = $t->pg_dbi or die $DBI::errstr;
    my ($len, $sum) = $direct->selectrow_array('SELECT length(v), md5(v) FROM bigv WHERE id = 1');
    is($len, $size, '100 MB parameter stored with the right length');
    is($sum, $want, '100 MB parameter stored unchanged (md5)');
    my ($one) = $dbh->selectrow_array('SELECT 1');
    is($one, 1, 'connection fine after the big values');
    my $hwm1 = vm_hwm($wb->pid);
    SKIP: {
        skip 'no VmHWM in /proc', 1 unless defined $hwm0 && defined $hwm1;
        my $grow = ($hwm1 - $hwm0) / 1024;
        ok($grow < 40, sprintf('weir peak RSS grew by %.1f MB during 2 x 100 MB (%.1f -> %.1f MB):'
                    . ' values are streamed', $grow, $hwm0 / 1024, $hwm1 / 1024));
    }
    $dbh->do('DROP TABLE bigv');
    $direct->disconnect;
    $dbh->disconnect;
    $wb->stop;
}

# Peak resident set size of a process in kB (VmHWM), or undef.
sub vm_hwm {
    my ($pid) = @_;
    my ($kb) = slurp("/proc/$pid/status") =~ /^VmHWM:\s+(\d+) kB/m;
    return $kb;
}

# ---- libpq pipeline mode -----------------------------------------------------------------
{
    my $bin = WeirTest::client_bin('pipeline');
    SKIP: {
        skip "pipeline client not built ($bin)", 2 unless -x $bin;
        my $ci = 'host=127.0.0.1 port=' . $w->port
            . ' dbname=testdb user=app password=apppass sslmode=disable connect_timeout=10';
        my ($o, $e, $rc) = run_cmd([$bin, $ci, 50, 4], timeout => 60);
        is($rc, 0, 'pipeline mode through weir: all results in order') or diag("$o\n$e");
        ($o, $e, $rc) = run_cmd([$bin, $ci, 1000, 2], timeout => 60);
        is($rc, 0, 'pipeline mode, 1000 queries per sync') or diag("$o\n$e");
    }
}

ok($w->alive, 'weir still running');
$w->stop;
done_testing;
