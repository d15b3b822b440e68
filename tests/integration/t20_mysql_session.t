# t20_mysql_session.t -- weir's MySQL side in session mode against a real MariaDB: the
# mariadb CLI (queries, DDL/DML, a multi-statement query, a procedure with two result sets),
# errors weir raises (1045, 1049), 30 concurrent clients on 4 backends, the backend reset
# between clients (user variables, temporary tables, an open transaction), a >16 MiB result
# set and a 20 MiB row, auth_file secrets in MariaDB's "*" hash form, a forced backend user,
# and sysbench oltp_point_select / oltp_read_write with and without prepared statements
# (qps printed, never asserted).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(time sleep);

my $T0 = time;
my $m = MyTest->new;
diag(sprintf('MariaDB %s up in %.1fs on port %d', ($m->mariadb('SELECT VERSION()'))[0] =~ s/\s+\z//r,
        $m->{startup_s}, $m->port));

# Compare a CLI run through weir with the same run direct to MariaDB.
sub same_as_direct {
    my ($w, $sql, $name, %o) = @_;
    my ($out, $err, $rc) = $w->mariadb($sql, %o);
    my ($dout, $derr, $drc) = $m->mariadb($sql, %o);
    is($rc, 0, "$name: exit status 0 through weir") or diag("stderr: $err");
    is($drc, 0, "$name: exit status 0 direct") or diag("direct stderr: $derr");
    is($out, $dout, "$name: output equals the direct run");
    return $out;
}

# section($name, sub { ... }): a die inside (weir refusing a connection, a lost handle) fails
# one test and lets the other sections run.
sub section {
    my ($name, $code) = @_;
    return if eval { $code->(); 1 };
    fail("$name: died: $@");
}

# ---- basics, errors, 30 concurrent clients: pool_size = 4, workers = 2 ------------------
section("basics, errors, 30 clients, large transfers", sub {
    my $w = $m->start_weir(weir => { default_pool_size => 4, workers => 2 });

    my ($out, $err, $rc) = $w->mariadb('SELECT 1');
    is($rc, 0, 'SELECT 1 through weir: exit status 0') or diag("stderr: $err");
    is($out, "1\n", 'SELECT 1 through weir returns 1');

    ($out, $err, $rc) = $w->mariadb('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), '
            . 'price DECIMAL(10,2)); INSERT INTO items VALUES (1, \'apple\', 0.5), '
            . '(2, \'pear\', NULL), (3, \'\', 12345678.99); UPDATE items SET price = 0.75 '
            . 'WHERE id = 1');
    is($rc, 0, 'CREATE TABLE, INSERT, UPDATE through weir') or diag("stderr: $err");
    $out = same_as_direct($w, 'SELECT id, name, price FROM items ORDER BY id',
        'SELECT of the inserted rows', batch => 0);
    like($out, qr/apple\t0\.75/, 'the UPDATE made through weir is visible');

    # One COM_QUERY carrying two statements: with --delimiter the CLI does not split on ';'.
    $out = same_as_direct($w, 'SELECT 1 AS a; SELECT 2 AS b', 'multi-statement query',
        args => ['--delimiter=//'], batch => 0);
    is($out, "a\n1\nb\n2\n", 'multi-statement query returned both result sets');

    my $dbh = $w->my_dbi(dsn_extra => 'mariadb_multi_statements=1');
    ok($dbh, 'DBD::MariaDB connects through weir') or diag("connect: $DBI::errstr");
    if ($dbh) {
        my $sth = $dbh->prepare('SELECT 1 AS a; SELECT 2 AS b, 3 AS c');
        my @sets;
        if ($sth && $sth->execute) {
            do { push @sets, $sth->fetchall_arrayref } while ($sth->more_results);
        }
        is_deeply(\@sets, [[[1]], [[2, 3]]], 'DBD::MariaDB multi-statement: two result sets')
            or diag('error: ' . ($dbh->errstr // '') . ' sets: ' . explain(\@sets));
        $dbh->disconnect;
    }

    ($out, $err, $rc) = $w->mariadb('CREATE PROCEDURE two_sets() BEGIN SELECT 1 AS a; '
            . 'SELECT 2 AS b, \'x\' AS c; END', args => ['--delimiter=//']);
    is($rc, 0, 'CREATE PROCEDURE through weir') or diag("stderr: $err");
    $out = same_as_direct($w, 'CALL two_sets()', 'CALL of a procedure with two result sets',
        batch => 0);
    is($out, "a\n1\nb\tc\n2\tx\n", 'procedure call returned both result sets');
    $out = same_as_direct($w, 'CALL two_sets(); SELECT 3 AS d', 'CALL then SELECT in one query',
        args => ['--delimiter=//'], batch => 0);
    is($out, "a\n1\nb\tc\n2\tx\nd\n3\n", 'CALL + SELECT: all result sets in order');

    # Errors weir raises.
    ($out, $err, $rc) = $w->mariadb('SELECT 1', password => 'wrongpass');
    isnt($rc, 0, 'wrong password: the CLI fails');
    is(mariadb_err_code($err), 1045, 'wrong password: error 1045') or diag("stderr: $err");
    like($err, qr/\(28000\)/, 'wrong password: SQLSTATE 28000');
    ($out, $err, $rc) = $w->mariadb('SELECT 1', user => 'nobody', password => 'x');
    is(mariadb_err_code($err), 1045, 'user not in auth_file: error 1045') or diag("stderr: $err");
    ($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'nosuchdb');
    isnt($rc, 0, 'unknown database: the CLI fails');
    is(mariadb_err_code($err), 1049, 'unknown database: error 1049') or diag("stderr: $err");
    like($err, qr/\(42000\)/, 'unknown database: SQLSTATE 42000');
    ok($w->alive, 'weir still running after the refused logins');
    ($out, $err, $rc) = $w->mariadb('SELECT 2');
    is($out, "2\n", 'SELECT through weir after the refused logins') or diag("stderr: $err");

    # Forced backend user: the entry's user=/password= are used towards MariaDB.
    ($out, $err, $rc) = $w->mariadb('SELECT CURRENT_USER(), DATABASE()', db => 'shopforced');
    is($out, "forced\@%\tshop\n", 'shopforced: logged in to MariaDB as forced, database shop')
        or diag("stderr: $err");

    # 30 concurrent clients, each doing a few queries; never more than 4 backends.
    my $n = 30;
    my $t0 = time;
    my @pids;
    for my $i (1 .. $n) {
        push @pids, spawn(sub {
            my $dbh = $w->my_dbi(connect_timeout => 120)
                or die "connect $i: $DBI::errstr\n";
            my ($one) = $dbh->selectrow_array('SELECT 1') or die "q1: " . $dbh->errstr . "\n";
            die "q1 gave $one\n" unless $one == 1;
            $dbh->selectrow_array('SELECT SLEEP(0.05)');
            die "sleep: " . $dbh->errstr . "\n" if $dbh->err;
            my ($v) = $dbh->selectrow_array('SELECT ? * 3', undef, $i)
                or die "q3: " . $dbh->errstr . "\n";
            die "wrong answer $v for $i\n" unless $v == 3 * $i;
            my ($c) = $dbh->selectrow_array('SELECT COUNT(*) FROM items')
                or die "q4: " . $dbh->errstr . "\n";
            die "items count $c\n" unless $c == 3;
            $dbh->disconnect;
            return 1;
        });
    }
    my ($max, $samples) = (0, 0);
    my $st = wait_children(\@pids, 180, sub {
        my $c = $m->count_backends;
        $samples++;
        $max = $c if $c > $max;
    });
    my $el = time - $t0;
    my @bad = grep { $st->{$_} ne '0' } @pids;
    is(scalar(@bad), 0, "$n concurrent clients through weir all completed")
        or diag('failed children: ' . join(', ', map { "$_=$st->{$_}" } @bad));
    ok($max <= 4, "MariaDB never saw more than 4 weir connections (max $max, $samples samples)")
        or diag("processlist now:\n" . $m->backends_text);
    ok($max >= 1, 'monitor saw weir connections');
    diag(sprintf('%d clients finished in %.1fs, max %d backend connections', $n, $el, $max));
    my $after = $m->count_backends;
    ok($after >= 0 && $after <= 4, "at most 4 backend connections after the run ($after)");

    # The bound is per database and user, whatever the clients' capability flags: 4
    # DBD::MariaDB sessions hold all 4 backends, so a mariadb CLI client (other flags, e.g.
    # no CLIENT_FOUND_ROWS) waits instead of getting a 5th backend.
    $w->stop;
    ok(wait_until(10, sub { $m->count_backends == 0 }), 'stopped weir: its backends are gone');
    $w = $m->start_weir(weir => { default_pool_size => 4, workers => 2 });
    my @held = map { $w->my_dbi } 1 .. 4;
    is(scalar(grep { $_ && $_->do('SELECT 1') } @held), 4, '4 DBD::MariaDB sessions hold 4 backends');
    my $cli_done = "$m->{tmp}/cli_done";
    my $cli = spawn(sub {
        my ($o, $e, $r) = $w->mariadb('SELECT 5', timeout => 60);
        WeirTest::spew($cli_done, "$r\t$o");
        return $r == 0;
    });
    my $over = 0;
    my $t_end = time + 2;
    while (time < $t_end) {
        my $c = $m->count_backends;
        $over = $c if $c > $over;
        sleep 0.05;
    }
    ok($over <= 4, "a CLI client with other capability flags got no 5th backend (max $over)")
        or diag("processlist:\n" . $m->backends_text);
    ok(!-e $cli_done, 'the CLI client waits while the 4 sessions hold the pool')
        or diag('CLI finished: ' . WeirTest::slurp($cli_done));
    $_->disconnect for grep { $_ } @held;
    my $cst = wait_children([$cli], 60);
    is($cst->{$cli}, 0, 'the CLI client ran once a backend was free');

    # ---- a result set over 16 MiB and a 20 MiB row ---------------------------------------
    # 20 rows of 1 MiB + a few bytes each, every row different.
    my $big_rs = 'SELECT seq, CONCAT(REPEAT(CHAR(64 + seq), 1048576), seq) FROM seq_1_to_20';
    my $expect = join('', map { "$_\t" . (chr(64 + $_) x 1048576) . "$_\n" } 1 .. 20);
    my ($wo, $we, $wrc) = $w->mariadb($big_rs, timeout => 120);
    my ($do, $de, $drc) = $m->mariadb($big_rs, timeout => 120);
    is($drc, 0, '20 MiB result set direct') or diag("stderr: $de");
    is($wrc, 0, '20 MiB result set through weir: exit status 0') or diag("stderr: $we");
    is(length($wo), length($expect), '20 MiB result set through weir: length ' . length($expect));
    is(md5_hex($wo), md5_hex($do), '20 MiB result set: md5 through weir equals direct');
    is(md5_hex($wo), md5_hex($expect), '20 MiB result set: md5 equals the expected text');

    # One row of 20 MiB + 3 bytes: its packet is split at 16 MiB - 1.
    my $big_row = "SELECT CONCAT(REPEAT('ab', 10485760), 'end')";
    $expect = ('ab' x 10485760) . "end\n";
    ($wo, $we, $wrc) = $w->mariadb($big_row, timeout => 120);
    ($do, $de, $drc) = $m->mariadb($big_row, timeout => 120);
    is($drc, 0, '20 MiB row direct') or diag("stderr: $de");
    is($wrc, 0, '20 MiB row through weir: exit status 0') or diag("stderr: $we");
    is(length($wo), length($expect), '20 MiB row through weir: length ' . length($expect));
    is(md5_hex($wo), md5_hex($do), '20 MiB row: md5 through weir equals direct');
    is(md5_hex($wo), md5_hex($expect), '20 MiB row: md5 equals the expected text');

    # A 20 MiB value sent by the client (the query packet itself is split) and read back.
    my $val = join('', map { chr(97 + $_ % 26) } 0 .. 999) x 20972;
    ($wo, $we, $wrc) = $w->mariadb(undef, stdin => "SELECT LENGTH('$val'), MD5('$val');\n",
        timeout => 120);
    is($wrc, 0, '20 MiB query packet through weir: exit status 0') or diag("stderr: $we");
    is($wo, length($val) . "\t" . md5_hex($val) . "\n",
        '20 MiB query packet: the server saw the whole value');

    ($out, $err, $rc) = $w->mariadb('SELECT 1');
    is($out, "1\n", 'SELECT 1 after the large transfers') or diag("stderr: $err");
    $w->stop;
});

# ---- backend reset between clients: pool_size = 1 ----------------------------------------
section("backend reset", sub {
    my $w = $m->start_weir(weir => { default_pool_size => 1, workers => 2 });
    my $ca = $w->my_dbi;
    ok($ca, 'client A connected') or diag("A: $DBI::errstr");
    my ($ida) = $ca->selectrow_array('SELECT CONNECTION_ID()');
    ok($ca->do('SET @x = 42'), 'A: SET @x = 42');
    ok($ca->do('CREATE TEMPORARY TABLE leak_tmp (v INT)'), 'A: CREATE TEMPORARY TABLE');
    ok($ca->do('INSERT INTO leak_tmp VALUES (7)'), 'A: INSERT into the temporary table');
    ok($ca->do("SET SESSION sql_mode = 'ANSI_QUOTES'"), 'A: SET SESSION sql_mode');
    my ($x) = $ca->selectrow_array('SELECT @x');
    is($x, 42, 'A sees its own @x');
    $ca->disconnect;

    my $cb = $w->my_dbi(connect_timeout => 30);
    ok($cb, 'client B connected') or diag("B: $DBI::errstr");
    my ($idb) = $cb->selectrow_array('SELECT CONNECTION_ID()');
    is($idb, $ida, "B got A's backend connection (id $ida), reset rather than reconnected");
    my ($bx) = $cb->selectrow_array('SELECT @x');
    ok(!defined $bx, 'B does not see A\'s @x') or diag("B's \@x = $bx");
    ok(!$cb->do('SELECT * FROM leak_tmp'), 'B does not see A\'s temporary table');
    is($cb->err, 1146, 'temporary table is gone (1146)') or diag('err: ' . ($cb->errstr // ''));
    my ($mode) = $cb->selectrow_array('SELECT @@SESSION.sql_mode');
    my ($gmode) = $cb->selectrow_array('SELECT @@GLOBAL.sql_mode');
    is($mode, $gmode, "B's sql_mode is the server default, not A's");
    $cb->disconnect;

    # A client that vanishes inside an open transaction.
    my $adm = $m->admin_dbi;
    $adm->do('CREATE TABLE txleft (v INT) ENGINE=InnoDB');
    my $pid = spawn(sub {
        my $c = $w->my_dbi or die "c: $DBI::errstr\n";
        $c->do('BEGIN') or die $c->errstr;
        $c->do('INSERT INTO txleft VALUES (42)') or die $c->errstr;
        POSIX::_exit(0);    # no COMMIT, no COM_QUIT: the socket just closes
    });
    my $st = wait_children([$pid], 30);
    is($st->{$pid}, 0, 'client opened a transaction and vanished');
    my $t_next = time;
    my $c = $w->my_dbi(connect_timeout => 60);
    ok($c, 'next client connected') or diag("next: $DBI::errstr");
    my $waited = time - $t_next;
    # (a backend left to the vanished client would come free at query_wait_timeout, 120 s)
    ok($waited < 20, sprintf('next client got the backend promptly (%.1fs)', $waited));
    my ($cnt) = $c->selectrow_array('SELECT COUNT(*) FROM txleft');
    is($cnt, 0, 'the vanished client\'s row is not visible');
    my ($trx) = $c->selectrow_array('SELECT @@in_transaction');
    is($trx, 0, 'next client is not inside a transaction');
    $c->do('INSERT INTO txleft VALUES (1)');
    $c->disconnect;
    ok(wait_until(10, sub {
        my ($n) = $adm->selectrow_array(
            q{SELECT COUNT(*) FROM information_schema.INNODB_TRX});
        $n == 0;
    }), 'no open InnoDB transaction after the next client left');
    my ($total) = $adm->selectrow_array('SELECT COUNT(*) FROM txleft WHERE v = 42');
    is($total, 0, 'the abandoned INSERT never became visible');
    $adm->disconnect;
    ok($m->count_backends <= 1, 'pool_size 1 respected');
    $w->stop;
});

# ---- auth_file secret as MariaDB's "*" + 40-hex hash --------------------------------------
section("hashed secret", sub {
    my ($hash) = $m->admin_sql("SELECT PASSWORD('apppass')");
    chomp $hash;
    like($hash, qr/^\*[0-9A-F]{40}\z/, "PASSWORD('apppass') = $hash");
    # The client's secret is a hash, so log in to MariaDB with the forced user.
    my $w = $m->start_weir(users => { app => $hash });
    my ($out, $err, $rc) = $w->mariadb('SELECT CURRENT_USER()', db => 'shopforced');
    is($out, "forced\@%\n", 'hashed secret: right password accepted') or diag("stderr: $err");
    ($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'shopforced', password => 'apppasS');
    is(mariadb_err_code($err), 1045, 'hashed secret: wrong password gets 1045')
        or diag("stderr: $err");
    $w->stop;
});

# ---- sysbench: oltp_point_select and oltp_read_write, with and without server-side PS -----
section("sysbench", sub {
    my ($out, $err, $rc) = $m->sysbench(test => 'oltp_read_write', cmd => 'prepare',
        timeout => 300);
    is($rc, 0, 'sysbench prepare (direct): 2 tables of 1000 rows') or diag("$out\n$err");
    my $w = $m->start_weir(weir => { default_pool_size => 10, workers => 2 });
    for my $test ('oltp_point_select', 'oltp_read_write') {
        for my $ps (1, 0) {
            my $label = "$test " . ($ps ? 'prepared statements' : '--db-ps-mode=disable');
            # uniform keys: the default 'special' distribution makes deadlocks (ignored
            # errors 1213) in oltp_read_write even without weir on 2x1000 rows.
            # (Speed beside a direct connection is the benchmark harness's: tests/bench/.)
            my %o = (test => $test, ps => $ps, threads => 8, time => 5,
                args => ['--rand-type=uniform']);
            my ($wo, $we, $wrc, $ws) = $w->sysbench(%o);
            is($wrc, 0, "sysbench $label through weir: exit status 0")
                or diag("stdout:\n$wo\nstderr:\n$we");
            is($ws->{ignored_errors}, 0, "sysbench $label through weir: ignored errors: 0")
                or diag("stdout:\n$wo");
            is($ws->{reconnects}, 0, "sysbench $label through weir: reconnects: 0");
            ok(($ws->{queries} // 0) > 0, "sysbench $label through weir ran queries");
            diag(sprintf('%-45s weir %9.1f qps', $label, $ws->{qps} // 0));
        }
    }
    ok($m->count_backends <= 10, 'at most 10 weir connections after sysbench');
    $w->stop;
});

diag(sprintf('t20 total %.1fs', time - $T0));
done_testing;
