# t10_txn_pool.t -- transaction and statement pooling: pgbench (select-only, TPC-B-like,
# extended protocol) with 200 clients on 10 server connections, pipelined clients whose
# results never cross, parameters that follow the client across servers, statement mode's
# refusal of transaction blocks, a client vanishing mid-transaction, COPY, and cancel.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);
use DBD::Pg qw(:async);

my $t = WeirTest->new(pgbench => 2, max_connections => 300);

# pgbench through $port with a monitor sampling weir's server connections every ~100 ms.
# Returns ($tps, $failed, $rc, $max_conns, $out, $err).
sub bench {
    my (%o) = @_;
    my @argv = (WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $o{port}, '-U', 'app',
        @{ $o{args} }, 'testdb');
    my $job = bg_cmd(\@argv, env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' },
        timeout => 90);
    my ($max, $last) = (0, 0);
    if ($o{monitor}) {
        my $end = time + 100;
        while (time < $end && !waitpid($job->{pid}, POSIX::WNOHANG())) {
            my $c = count_server_conns($t, user => 'app', db => 'testdb');
            $max = $c if $c > $max;
            sleep 0.1;
        }
        # waitpid above reaped the child; bg_result must not wait for it again.
        my $s = WeirTest::slurp($job->{file});
        unlink $job->{file};
        my ($rc, $to, $out, $err) = split /\0/, $s, 4;
        $rc = 'timeout' if $to || !defined $rc;
        return (_tps($out), _failed($out), $rc, $max, $out // '', $err // '');
    }
    my ($out, $err, $rc) = bg_result($job, 120);
    return (_tps($out), _failed($out), $rc, $max, $out, $err);
}

sub _tps { my ($out) = @_; return ($out // '') =~ /tps = ([\d.]+)/ ? $1 : 'n/a' }

sub _failed {
    my ($out) = @_;
    return ($out // '') =~ /number of failed transactions: (\d+)/ ? $1 : 'n/a';
}

# ---- pgbench: 200 clients, pool_size = 10, workers = 2 ------------------------------------
my %tps;
{
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 10,
            workers => 2, log_connections => 0, log_disconnections => 0 });
    # (Speed is the benchmark harness's business, beside a direct connection: tests/bench/.)
    for my $case (['select-only', ['-S']], ['tpcb', []]) {
        my ($name, $extra) = @$case;
        my @args = ('-c', 200, '-j', 2, '-T', 10, '-n', @$extra);
        my ($tps_w, $fail_w, $rc_w, $max, $out_w, $err_w) = bench(port => $w->port,
            args => \@args, monitor => 1);
        is($rc_w, 0, "$name through weir: pgbench exit 0")
            or diag("$out_w\n" . substr($err_w, 0, 3000));
        is($fail_w, 0, "$name through weir: zero failed transactions");
        like($out_w, qr/number of transactions actually processed: [1-9]/,
            "$name through weir: transactions processed");
        ok($max <= 10 && $max >= 1,
            "$name: PostgreSQL never saw more than 10 weir server connections (max $max)");
        $tps{$name} = $tps_w;
    }
    diag(sprintf('tps through weir: select-only %s, tpcb %s', @tps{'select-only', 'tpcb'}));

    # Extended protocol (Parse/Bind/Execute/Sync per statement), TPC-B-like script.
    my ($tps_x, $fail_x, $rc_x, $max_x, $out_x, $err_x) = bench(port => $w->port,
        args => ['-c', 50, '-j', 2, '-T', 10, '-n', '-M', 'extended'], monitor => 1);
    is($rc_x, 0, '-M extended through weir: pgbench exit 0')
        or diag("$out_x\n" . substr($err_x, 0, 3000));
    is($fail_x, 0, '-M extended: zero failed transactions');
    ok($max_x <= 10, "-M extended: at most 10 server connections (max $max_x)");
    diag("tps tpcb -M extended -c 50 weir=$tps_x");
    ok($w->alive, 'weir alive after pgbench');
    $w->stop;
}

# ---- pipelined clients on a pool of 3: every result goes to the client that asked --------
{
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 3,
            workers => 2, log_connections => 0, log_disconnections => 0 });
    my $ci = 'host=127.0.0.1 port=' . $w->port
        . ' dbname=testdb user=app password=apppass sslmode=disable connect_timeout=20';
    my $bin = WeirTest::client_bin('pipeline_mix');
    my @jobs = map { bg_cmd([$bin, $ci, $_, 300, 1 + $_ % 7], timeout => 90) } 1 .. 20;
    my $max = 0;
    my @res;
    for my $j (@jobs) {
        my ($out, $err, $rc) = bg_result($j, 100);
        push @res, [$rc, $out, $err];
        my $c = count_server_conns($t, user => 'app', db => 'testdb');
        $max = $c if $c > $max;
    }
    my @bad = grep { $_->[0] ne '0' } @res;
    is(scalar(@bad), 0, '20 concurrent pipeline clients on pool_size 3: every result matched')
        or diag(join("\n", map { "rc=$_->[0] $_->[2]" } @bad[0 .. ($#bad > 4 ? 4 : $#bad)]));
    my @multi = grep { $_->[1] =~ /([2-9]|\d\d) server pids/ } @res;
    diag(scalar(@multi) . ' of 20 pipeline clients were served by more than one server');
    ok(count_server_conns($t, user => 'app', db => 'testdb') <= 3, 'at most 3 servers after');
    ok($w->alive, 'weir alive after the pipeline clients');
    $w->stop;
}

# ---- parameters follow the client across servers (pool_size = 1, interleaved) -------------
{
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 1 });
    my $direct = $t->pg_dbi or die $DBI::errstr;
    my ($def_tz) = $direct->selectrow_array('SHOW TimeZone');
    my ($def_ds) = $direct->selectrow_array('SHOW DateStyle');
    $direct->disconnect;
    my $a = $w->dbi(appname => 'client_a') or die "a: $DBI::errstr";
    my $b = $w->dbi(appname => 'client_b') or die "b: $DBI::errstr";
    ok($a->do("SET TimeZone = 'Asia/Tokyo'"), 'A: SET TimeZone Asia/Tokyo');
    ok($b->do("SET TimeZone = 'America/New_York'"), 'B: SET TimeZone America/New_York');
    ok($a->do("SET application_name = 'app_a'"), 'A: SET application_name');
    ok($b->do("SET DateStyle = 'German, DMY'"), 'B: SET DateStyle');
    my $c = $w->dbi(appname => 'client_c') or die "c: $DBI::errstr";
    my %pids;
    my $mismatch = 0;
    for my $round (1 .. 5) {
        for my $x (['A', $a, 'Asia/Tokyo', 'app_a', $def_ds],
            ['B', $b, 'America/New_York', 'client_b', 'German, DMY'],
            ['C', $c, $def_tz, 'client_c', $def_ds])
        {
            my ($n, $h, $tz, $app, $ds) = @$x;
            my ($gtz, $gapp, $gds, $pid) = $h->selectrow_array(q{SELECT
                current_setting('TimeZone'), current_setting('application_name'),
                current_setting('DateStyle'), pg_backend_pid()});
            $pids{$pid}++ if $pid;
            unless (defined $gtz && $gtz eq $tz && $gapp eq $app && $gds eq $ds) {
                $mismatch++;
                diag("round $round client $n: got tz=" . ($gtz // 'undef') . ' app='
                        . ($gapp // 'undef') . ' ds=' . ($gds // 'undef')
                        . " want tz=$tz app=$app ds=$ds " . ($h->errstr // ''));
            }
        }
    }
    is($mismatch, 0, 'each of three interleaved clients always sees its own TimeZone, '
        . 'application_name and DateStyle');
    is(scalar(keys %pids), 1, 'all three shared the single server connection');
    # A SET inside a transaction that is rolled back does not follow the client.
    ok($a->do('BEGIN') && $a->do("SET TimeZone = 'Europe/Paris'") && $a->do('ROLLBACK'),
        'A: SET TimeZone inside a rolled-back transaction');
    $b->selectrow_array('SELECT 1');
    my ($atz) = $a->selectrow_array('SHOW TimeZone');
    is($atz, 'Asia/Tokyo', 'A keeps Asia/Tokyo after the rolled-back SET');
    $_->disconnect for $a, $b, $c;
    $w->stop;
}

# ---- statement mode ---------------------------------------------------------------------
{
    my $pg = $t->pgport;
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2 },
        databases => { stmtdb => "host=127.0.0.1 port=$pg dbname=testdb pool_mode=statement" });
    my ($out, $err, $rc) = $w->psql(['SELECT 41 + 1', 'SELECT 2'], db => 'stmtdb');
    is($rc, 0, 'statement mode: single statements work') or diag($err);
    is($out, "42\n2", 'statement mode: results');
    my ($s, $r) = raw_connect($w, database => 'stmtdb');
    ok($r->{ok}, 'statement mode: raw login');
    my $q = raw_query($s, 'SELECT 7');
    is($q->{rows}[0][0], '7', 'statement mode: simple query');
    syswrite($s, pg_msg('Q', "BEGIN\0"));
    my ($e, $closed) = next_error($s, 5);
    is($e->{S}, 'FATAL', 'statement mode: BEGIN gets a FATAL');
    is($e->{C}, '0A000', 'statement mode: SQLSTATE 0A000');
    like($e->{M} // '', qr/transaction blocks not allowed in statement pooling mode/,
        'statement mode: message names the reason');
    ok($closed, 'statement mode: client closed after the FATAL');
    # No server is left inside the refused transaction.
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', state => 'idle in trans%') == 0 }),
        'statement mode: no server left idle in transaction');
    ($out, $err, $rc) = $w->psql('SELECT 3', db => 'stmtdb');
    is($out, '3', 'statement mode: next client works');
    $w->stop;
}

# ---- a client vanishing inside a transaction, COPY, cancel (transaction mode) -------------
{
    my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 5,
            workers => 2 });
    my $adm = $t->pg_dbi or die $DBI::errstr;
    $adm->do('CREATE TABLE t10_left (v int)');
    $adm->do('CREATE TABLE t10_copy (id int, s text)');

    pipe(my $rd, my $wr) or die;
    my $pid = spawn(sub {
        close $rd;
        my $dbh = $w->dbi or die "vanish: $DBI::errstr\n";
        $dbh->do('BEGIN') or die $dbh->errstr;
        $dbh->do('INSERT INTO t10_left VALUES (42)') or die $dbh->errstr;
        my ($bp) = $dbh->selectrow_array('SELECT pg_backend_pid()');
        syswrite($wr, "$bp\n");
        POSIX::_exit(0);    # the socket just closes: no COMMIT, no Terminate
    });
    close $wr;
    my $bp = <$rd>;
    chomp $bp if defined $bp;
    ok($bp, "client began a transaction on server pid $bp and vanished");
    wait_children([$pid], 20);
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', state => 'idle in trans%') == 0 }),
        'no idle-in-transaction server after the client vanished');
    # Use every server of the pool: none may carry the vanished transaction.
    my @h = map { $w->dbi or die $DBI::errstr } 1 .. 5;
    $_->do('BEGIN') for @h;
    my $inside = 0;
    for my $h (@h) {
        my ($x) = $h->selectrow_array('SELECT txid_current_if_assigned()');
        $inside++ if defined $x;
        my ($n) = $h->selectrow_array('SELECT count(*) FROM t10_left');
        $inside++ if $n;
    }
    $_->do('ROLLBACK') for @h;
    $_->disconnect for @h;
    is($inside, 0, 'no later client landed inside the vanished transaction');
    my ($n42) = $adm->selectrow_array('SELECT count(*) FROM t10_left');
    is($n42, 0, 'the vanished INSERT was never committed');

    # COPY IN / OUT from 6 concurrent psql clients on 5 servers.
    my @jobs;
    for my $k (1 .. 6) {
        my $data = join('', map { ($k * 10000 + $_) . "\trow $k $_\n" } 1 .. 2000);
        push @jobs, bg_cmd([WeirTest::pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                '-h', '127.0.0.1', '-p', $w->port, '-U', 'app', '-d', 'testdb',
                '-c', 'COPY t10_copy FROM STDIN', '-c',
                "COPY (SELECT count(*) FROM t10_copy WHERE id / 10000 = $k) TO STDOUT"],
            env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, stdin => $data,
            timeout => 60);
    }
    my $copy_bad = 0;
    for my $j (@jobs) {
        my ($out, $err, $rc) = bg_result($j, 70);
        unless ($rc eq '0' && $out =~ /^2000$/m) { $copy_bad++; diag("copy: rc=$rc $out $err") }
    }
    is($copy_bad, 0, 'six concurrent COPY FROM STDIN + COPY TO STDOUT succeeded');
    my ($rows) = $adm->selectrow_array('SELECT count(*) FROM t10_copy');
    is($rows, 12000, 'all COPY rows arrived');
    my ($out, $err, $rc) = $w->psql('COPY t10_copy TO STDOUT');
    is(scalar(split /\n/, $out), 12000, 'COPY TO STDOUT returns every row');
    # A COPY that fails in the middle leaves the server usable.
    ($out, $err, $rc) = $w->psql('COPY t10_copy FROM STDIN', stdin => "1\tok\nnot-a-number\tx\n");
    like($err, qr/invalid input syntax/, 'bad COPY data: the error reaches the client');
    ($out, $err, $rc) = $w->psql('SELECT count(*) FROM t10_copy');
    is($out, '12000', 'after the failed COPY: nothing added, next query works');

    # Cancel: pg_sleep(30) cancelled promptly while 10 clients run short queries.
    my @by;
    for my $k (1 .. 10) {
        push @by, spawn(sub {
            my $dbh = $w->dbi(connect_timeout => 20) or die "bystander: $DBI::errstr\n";
            my $end = time + 4;
            my $n = 0;
            while (time < $end && $n < 2000) {
                my ($v) = $dbh->selectrow_array('SELECT $1::int + 1, pg_sleep(0.005)', undef, $n);
                die "bystander $k: " . ($dbh->state // '') . ' ' . ($dbh->errstr // '') . "\n"
                    if $dbh->err || $v != $n + 1;
                $n++;
            }
            return 1;
        });
    }
    pipe(my $crd, my $cwr) or die;
    my $victim = spawn(sub {
        close $crd;
        my $dbh = $w->dbi or die "victim: $DBI::errstr\n";
        $dbh->do('SELECT pg_sleep(30)', { pg_async => PG_ASYNC }) or die $dbh->errstr;
        # A cancel that reaches PostgreSQL before the query does cancels nothing.
        wait_until(20, sub { grep { ($_->{query} // '') =~ /pg_sleep\(30\)/
                    && ($_->{state} // '') eq 'active' } @{ $t->backends } })
            or die "pg_sleep(30) never ran\n";
        my $t0 = time;
        $dbh->pg_cancel;
        my $el = time - $t0;
        syswrite($cwr, sprintf("%.3f %s\n", $el, $dbh->state // ''));
        my ($one) = $dbh->selectrow_array('SELECT 1');
        syswrite($cwr, 'after ' . ($one // 'undef') . "\n");
        return 1;
    });
    close $cwr;
    my $vst = wait_children([$victim], 40);
    my $line = <$crd> // '';
    my $after = <$crd> // '';
    my ($el, $state) = split ' ', $line;
    is($vst->{$victim}, 0, 'cancel: victim finished');
    is($state, '57014', 'cancel: pg_sleep(30) cancelled with 57014');
    ok(defined $el && $el < 5, sprintf('cancel: took %.3fs (not the query\'s 30 s)', $el // -1));
    like($after, qr/after 1/, 'cancel: victim usable afterwards');
    my $bst = wait_children(\@by, 30);
    is(scalar(grep { $bst->{$_} ne '0' } @by), 0,
        'cancel: 10 concurrent clients saw no error');
    ok(wait_until(5, sub { !grep { ($_->{query} // '') =~ /pg_sleep\(30\)/
            && ($_->{state} // '') eq 'active' } @{ $t->backends } }),
        'cancel: no pg_sleep(30) left running');
    $adm->disconnect;
    ok($w->alive, 'weir alive');
    $w->stop;
}

done_testing;
