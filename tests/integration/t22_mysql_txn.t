# t22_mysql_txn.t -- weir's MySQL side in transaction mode (pool_mode = transaction,
# workers = 2) against a real MariaDB: sysbench oltp_point_select / oltp_read_write with 64
# threads on pool_size 8 (--db-ps-mode=disable; a monitor checks MariaDB never sees more than
# 8 weir connections; qps printed, never asserted) and with prepared
# statements on 8 threads (64 threads: t55); interleaved transactions that never see each other's uncommitted
# rows and keep their backend; state that pins a client (SET @x, a temporary table, text
# PREPARE, LOCK TABLES) and is gone for the next client of that backend; state that follows
# the client (time_zone, sql_mode, the schema via USE and COM_INIT_DB); COM_RESET_CONNECTION
# from the client ending a pin; a client vanishing mid-transaction.
#
# Clients: DBD::MariaDB 1.22 sends "SET character_set_server = 'utf8mb4'" and "SET
# collation_server = 'utf8mb4_unicode_ci'" right after every connect, and weir's session
# tracking pins a client for them, so a DBD::MariaDB client never shares its backend. The
# correctness sections therefore use Raw (below): a MySQL-protocol client on MyTest's raw
# helpers that logs in like Connector/C and sends only what the test asks; the section
# "DBD::MariaDB connect" checks the DBD::MariaDB case on its own.
#
# Backends: the "fresh backends" cases run on servers weir has just logged in to; the other
# pinning and following cases first send each backend through one clean-up (warm(): a
# tracked time_zone change, so weir resets it and sends its session-tracking SET), so that
# they test the rest of the machinery whatever the state of the login path.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

# ---- Raw: a minimal client with the DBI calls the sections use ---------------------------
package Raw;
use MyTest;

# Raw->connect($w, timeout => s) -> client or undef ($Raw::errstr says why)
our $errstr;
sub connect {
    my ($class, $w, %o) = @_;
    my $s = MyTest::my_connect($w->mysql_port) or do { $errstr = "connect: $!"; return undef };
    my $l = my_login($s, timeout => $o{timeout} // 10);
    if (!$l->{ok}) {
        $errstr = $l->{error} ? "$l->{error}{code} $l->{error}{msg}"
            : ($l->{unexpected} // 'connection closed during login');
        close $s;
        return undef;
    }
    return bless { s => $s, timeout => $o{timeout} // 20 }, $class;
}

sub _bind {
    my ($sql, @bind) = @_;
    for my $v (@bind) {
        my $lit = !defined $v ? 'NULL'
            : $v =~ /^-?\d+\z/ ? $v
            : "'" . ($v =~ s/(['\\])/\\$1/gr) . "'";
        $sql =~ s/\?/$lit/;
    }
    return $sql;
}

# _run($sql, @bind) -> the my_query result; sets err/errstr.
sub _run {
    my ($self, $sql, @bind) = @_;
    my $r = my_query($self->{s}, _bind($sql, @bind), $self->{timeout});
    if ($r->{error}) {
        @$self{qw(err errstr)} = ($r->{error}{code}, $r->{error}{msg});
    } elsif ($r->{closed}) {
        @$self{qw(err errstr)} = (2013, 'Lost connection to weir');
    } else {
        @$self{qw(err errstr)} = (undef, undef);
    }
    return $r;
}

sub err    { $_[0]{err} }
sub errstr { $_[0]{errstr} }
sub do {
    my ($self, $sql, undef, @bind) = @_;
    $self->_run($sql, @bind);
    return $self->{err} ? undef : '0E0';
}
sub selectrow_array {
    my ($self, $sql, undef, @bind) = @_;
    my $r = $self->_run($sql, @bind);
    return () if $self->{err};
    my ($rs) = grep { $_->{rows} } @{ $r->{results} };
    return $rs && $rs->{rows}[0] ? @{ $rs->{rows}[0] } : ();
}
sub selectcol_arrayref {
    my ($self, $sql) = @_;
    my $r = $self->_run($sql);
    return undef if $self->{err};
    my ($rs) = grep { $_->{rows} } @{ $r->{results} };
    return [map { $_->[0] } @{ $rs ? $rs->{rows} : [] }];
}
# COM_RESET_CONNECTION -> true on OK
sub reset_connection {
    my ($self) = @_;
    syswrite($self->{s}, my_packet(0, "\x1f"));
    my ($seq, $p) = my_read_packet($self->{s}, $self->{timeout});
    return defined $p && ord($p) == 0;
}
# COM_INIT_DB -> true on OK
sub init_db {
    my ($self, $db) = @_;
    syswrite($self->{s}, my_packet(0, "\x02$db"));
    my ($seq, $p) = my_read_packet($self->{s}, $self->{timeout});
    return defined $p && ord($p) == 0;
}
sub disconnect {
    my ($self) = @_;
    return unless $self->{s};
    syswrite($self->{s}, my_packet(0, "\x01"));    # COM_QUIT
    close $self->{s};
    delete $self->{s};
}

package main;

my $T0 = time;
my $m = MyTest->new;
diag(sprintf('MariaDB %s up in %.1fs on port %d',
        ($m->mariadb('SELECT VERSION()'))[0] =~ s/\s+\z//r, $m->{startup_s}, $m->port));

{
    my $sql = "CREATE DATABASE shop2;\n";
    $sql .= "GRANT ALL ON shop2.* TO 'app'\@'$_';\n" for '%', 'localhost';
    $sql .= "CREATE TABLE shop2.only2 (v INT); INSERT INTO shop2.only2 VALUES (2);\n";
    $sql .= "CREATE TABLE shop.tx (id INT PRIMARY KEY, who CHAR(1)) ENGINE=InnoDB;\n";
    $sql .= "CREATE TABLE shop.locked_t (v INT) ENGINE=InnoDB;\n";
    $sql .= "CREATE TABLE shop.txleft (v INT) ENGINE=InnoDB;\n";
    my ($out, $err, $rc) = $m->admin_sql($sql);
    die "setting up shop2 and tables failed ($rc): $err" if $rc;
}
my ($GLOBAL_TZ, $GLOBAL_MODE) = split /\t/, ($m->admin_sql(
        'SELECT @@GLOBAL.time_zone, @@GLOBAL.sql_mode'))[0] =~ s/\s+\z//r;

# section($name, sub { ... }): a die inside fails one test and lets the other sections run.
sub section {
    my ($name, $code) = @_;
    my $t = time;
    if (!eval { $code->(); 1 }) {
        fail("$name: died: $@");
    }
    diag(sprintf('section "%s": %.1fs', $name, time - $t));
}

sub txn_weir {
    my (%w) = @_;
    # query_wait_timeout bounds a wrongly pinned backend's waiters.
    return $m->start_weir(weir => { pool_mode => 'transaction', workers => 2,
            query_wait_timeout => 15, %w });
}

# row($dbh, $sql, @bind) -> the first row; dies with the statement and error on failure.
sub row {
    my ($dbh, $sql, @bind) = @_;
    my @r = $dbh->selectrow_array($sql, undef, @bind);
    die "$sql: " . ($dbh->errstr // 'no row') . "\n" if $dbh->err;
    return @r;
}

# try($dbh, $sql) -> ($err_code, @row): a statement expected to fail (or not).
sub try {
    my ($dbh, $sql) = @_;
    my @r = $dbh->selectrow_array($sql);
    return ($dbh->err // 0, @r);
}

# connect_or_die($w, dbi => 1, connect_timeout => s): a Raw client (default) or a
# DBD::MariaDB handle through weir.
sub connect_or_die {
    my ($w, %o) = @_;
    if ($o{dbi}) {
        return $w->my_dbi(connect_timeout => $o{connect_timeout} // 10)
            // die "DBD::MariaDB connect through weir: $DBI::errstr\n";
    }
    return Raw->connect($w, timeout => $o{connect_timeout} // 20)
        // die "raw connect through weir: $Raw::errstr\n";
}

sub nul { return defined $_[0] ? $_[0] : 'NULL' }

# first5(@problems) -> the first five lines and how many more there were (for diag).
sub first5 {
    my @p = @_;
    return join("\n", @p) if @p <= 5;
    return join("\n", @p[0 .. 4], sprintf('... and %d more', @p - 5));
}

# ---- sysbench: 64 threads on pool_size 8 -------------------------------------------------

# InnoDB's deadlock count (Innodb_deadlocks), read directly from MariaDB.
sub innodb_deadlocks {
    my $d = $m->dbi or return undef;
    my (undef, $n) = $d->selectrow_array(q{SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'});
    $d->disconnect;
    return $n;
}

# sysbench retries a deadlock (1213) and counts it as an "ignored error". oltp_read_write
# on 2x1000 rows deadlocks now and then without weir too, so a run may have a few: each
# must be one InnoDB detected between two transactions during the run. One that weir made
# (a transaction split over two servers waits on its own locks) would not be.
sub ok_ignored_errors {
    my ($ws, $deadlocks0, $label) = @_;
    my $deadlocks = (innodb_deadlocks() // 0) - ($deadlocks0 // 0);
    my $ignored = $ws->{ignored_errors} // -1;
    ok($ignored >= 0 && $ignored <= $deadlocks,
        "sysbench $label through weir: ignored errors ($ignored) are InnoDB deadlocks "
            . "($deadlocks during the run)") or diag("sysbench reported:\n$ws->{out}");
}

section('sysbench', sub {
    my ($out, $err, $rc) = $m->sysbench(test => 'oltp_read_write', cmd => 'prepare',
        timeout => 300);
    is($rc, 0, 'sysbench prepare (direct): 2 tables of 1000 rows') or diag("$out\n$err");
    my $w = txn_weir(default_pool_size => 8, log_connections => 0, log_disconnections => 0);
    my $tmp = $m->tmp;
    for my $test ('oltp_point_select', 'oltp_read_write') {
        # uniform keys: the default 'special' distribution makes deadlocks (1213) in
        # oltp_read_write on 2x1000 rows even without weir.
        my %o = (test => $test, ps => 0, threads => 64, time => 10,
            args => ['--rand-type=uniform']);
        my $label = "$test --db-ps-mode=disable, 64 threads";
        my $file = "$tmp/sysbench_$test";
        my $deadlocks0 = innodb_deadlocks();
        my $pid = spawn(sub {
            my ($o, $e, $r) = $w->sysbench(%o);
            WeirTest::spew("$file.out", $o);
            WeirTest::spew("$file.err", $e);
            WeirTest::spew("$file.rc", $r);
            return 1;
        });
        my ($max, $samples, $failed, $last, $snap) = (0, 0, 0, 0, '');
        my $st = wait_children([$pid], 200, sub {
            return if time - $last < 0.1;
            $last = time;
            my $c = $m->count_backends;
            if ($c < 0) { $failed++; return }
            $samples++;
            if ($c > $max) {
                $max = $c;
                $snap = $m->backends_text if $c > 8;
            }
        });
        is($st->{$pid}, 0, "sysbench $label: the run finished");
        my $wo = WeirTest::slurp("$file.out") // '';
        my $we = WeirTest::slurp("$file.err") // '';
        my $wrc = WeirTest::slurp("$file.rc") // 'none';
        my $ws = parse_sysbench($wo);
        is($wrc, 0, "sysbench $label through weir: exit status 0")
            or diag("stdout:\n$wo\nstderr:\n$we");
        ok_ignored_errors({ %$ws, out => $wo }, $deadlocks0, $label);
        is($ws->{reconnects}, 0, "sysbench $label through weir: reconnects: 0");
        ok(($ws->{queries} // 0) > 0, "sysbench $label through weir ran queries");
        ok($samples >= 50, "monitor sampled the processlist $samples times ($failed failed)");
        ok($max <= 8, "sysbench $label: MariaDB never saw more than 8 weir connections "
                . "(max $max)") or diag("processlist at the max:\n$snap");
        ok($max >= 1, "sysbench $label: the monitor saw weir's connections");
        diag(sprintf('%-50s weir %9.1f qps (%s errors, max %d backends)', $label,
                $ws->{qps} // 0, $ws->{ignored_errors} // '?', $max));
    }
    # Prepared statements on 8 threads here; t55 runs them at 64 threads on 8 backends.
    for my $test ('oltp_point_select', 'oltp_read_write') {
        my %o = (test => $test, ps => 1, threads => 8, time => 5,
            args => ['--rand-type=uniform'], timeout => 90);
        my $label = "$test prepared statements, 8 threads";
        my $deadlocks0 = innodb_deadlocks();
        my ($wo, $we, $wrc, $ws) = $w->sysbench(%o);
        is($wrc, 0, "sysbench $label through weir: exit status 0")
            or diag("stdout:\n$wo\nstderr:\n$we");
        ok_ignored_errors({ %$ws, out => $wo }, $deadlocks0, $label);
        is($ws->{reconnects}, 0, "sysbench $label through weir: reconnects: 0");
        ok(($ws->{queries} // 0) > 0, "sysbench $label through weir ran queries");
        diag(sprintf('%-50s weir %9.1f qps (%s errors)', $label, $ws->{qps} // 0,
                $ws->{ignored_errors} // '?'));
    }
    my $after = $m->count_backends;
    ok($after >= 0 && $after <= 8, "at most 8 weir connections after sysbench ($after)");
    $w->stop;
    ok(wait_until(10, sub { $m->count_backends == 0 }), 'stopped weir: its backends are gone');
});

# ---- interleaved transactions --------------------------------------------------------------
section('interleaved transactions', sub {
    for my $kind ('raw', 'DBD::MariaDB') {
        my $dbi = $kind ne 'raw';
        $m->admin_sql('DELETE FROM shop.tx');
        my $w = txn_weir(default_pool_size => 2);
        my $ca = connect_or_die($w, dbi => $dbi);
        my $cb = connect_or_die($w, dbi => $dbi);
        my (@vis, @moved, @same, @final);
        my (%between_a, %between_b);
        my @committed;
        for my $r (1 .. 8) {
            my ($ia) = row($ca, 'SELECT CONNECTION_ID()');
            my ($ib) = row($cb, 'SELECT CONNECTION_ID()');
            $between_a{$ia}++;
            $between_b{$ib}++;
            $ca->do('BEGIN') or die $ca->errstr;
            $cb->do('BEGIN') or die $cb->errstr;
            my ($ta) = row($ca, 'SELECT CONNECTION_ID()');
            my ($tb) = row($cb, 'SELECT CONNECTION_ID()');
            push @same, "round $r: A and B both on $ta" if $ta == $tb;
            my ($ka, $kb) = (10 * $r + 1, 10 * $r + 2);
            $ca->do("INSERT INTO tx VALUES (?, 'A')", undef, $ka) or die $ca->errstr;
            $cb->do("INSERT INTO tx VALUES (?, 'B')", undef, $kb) or die $cb->errstr;
            for my $step (1 .. 3) {
                my ($aown, $aoth, $aid) = row($ca, 'SELECT SUM(id = ?), SUM(id = ?), '
                        . 'CONNECTION_ID() FROM tx', $ka, $kb);
                my ($bown, $both, $bid) = row($cb, 'SELECT SUM(id = ?), SUM(id = ?), '
                        . 'CONNECTION_ID() FROM tx', $kb, $ka);
                push @vis, "round $r step $step: A sees own=" . nul($aown) . ' other=' . nul($aoth)
                    unless ($aown // 0) == 1 && ($aoth // 0) == 0;
                push @vis, "round $r step $step: B sees own=" . nul($bown) . ' other=' . nul($both)
                    unless ($bown // 0) == 1 && ($both // 0) == 0;
                push @moved, "round $r step $step: A on $aid, began on $ta" if $aid != $ta;
                push @moved, "round $r step $step: B on $bid, began on $tb" if $bid != $tb;
                $ca->do("UPDATE tx SET who = 'a' WHERE id = ?", undef, $ka) or die $ca->errstr;
                $cb->do("UPDATE tx SET who = 'b' WHERE id = ?", undef, $kb) or die $cb->errstr;
            }
            # A commits in odd rounds and rolls back in even ones; B the other way round.
            if ($r % 2) {
                $ca->do('COMMIT') or die $ca->errstr;
                $cb->do('ROLLBACK') or die $cb->errstr;
                push @committed, $ka;
            } else {
                $ca->do('ROLLBACK') or die $ca->errstr;
                $cb->do('COMMIT') or die $cb->errstr;
                push @committed, $kb;
            }
            my ($trx) = row($ca, 'SELECT @@in_transaction');
            push @final, "round $r: A still in a transaction after it ended" if $trx;
        }
        is(scalar(@vis), 0, "$kind: interleaved transactions: each client sees its own uncommitted "
                . 'row and never the other\'s (8 rounds x 3 reads each)') or diag(first5(@vis));
        is(scalar(@moved), 0, "$kind: a client inside a transaction keeps its backend "
                . '(CONNECTION_ID())') or diag(first5(@moved));
        is(scalar(@same), 0, "$kind: two open transactions are on two different backends")
            or diag(first5(@same));
        is(scalar(@final), 0, "$kind: no transaction left open after COMMIT/ROLLBACK")
            or diag(first5(@final));
        my $got = join(',', @{ $ca->selectcol_arrayref('SELECT id FROM tx ORDER BY id') // [] });
        is($got, join(',', @committed), "$kind: exactly the committed rows are in the table");
        diag("$kind: between transactions A ran on backends " . join(',', sort keys %between_a)
                . ', B on ' . join(',', sort keys %between_b));
        $ca->disconnect;
        $cb->disconnect;
        $w->stop;
    }

    # pool_size 1: a second client waits while the first one's transaction holds the backend.
    my $w = txn_weir(default_pool_size => 1);
    my $ca = connect_or_die($w);
    $ca->do('BEGIN') or die $ca->errstr;
    $ca->do("INSERT INTO tx VALUES (1000, 'A')") or die $ca->errstr;
    my ($ida) = row($ca, 'SELECT CONNECTION_ID()');
    my $file = $m->tmp . '/waiter';
    my $pid = spawn(sub {
        my $c = connect_or_die($w, connect_timeout => 60);
        my ($n, $id) = row($c, 'SELECT COUNT(*), CONNECTION_ID() FROM tx WHERE id = 1000');
        WeirTest::spew($file, "$n\t$id");
        $c->disconnect;
        return 1;
    });
    sleep 1;
    ok(!-e $file, 'pool_size 1: the second client waits while the first is in a transaction')
        or diag('waiter got: ' . WeirTest::slurp($file));
    my ($n, $id2) = row($ca, 'SELECT COUNT(*), CONNECTION_ID() FROM tx WHERE id = 1000');
    is($n, 1, 'pool_size 1: the first client sees its uncommitted row');
    is($id2, $ida, 'pool_size 1: the first client is still on its backend');
    $ca->do('COMMIT') or die $ca->errstr;
    my $st = wait_children([$pid], 30);
    is($st->{$pid}, 0, 'pool_size 1: the waiting client ran after COMMIT');
    is(WeirTest::slurp($file) // '', "1\t$ida",
        'pool_size 1: the waiter sees the committed row, on the same backend');
    $ca->do('DELETE FROM tx WHERE id = 1000');
    $ca->disconnect;
    ok($m->count_backends <= 1, 'pool_size 1 respected');
    $w->stop;
});

# ---- state that pins a client --------------------------------------------------------------
# pin_case($w, $name, setup => [sql], owner => sub($dbh, $i) -> '' or problem,
#   other => sub($dbh) -> '' or problem, next => sub($dbh) -> '' or problem (default other))
# on a weir with pool_size 2: the owner runs setup, then 12 rounds of its own check and two
# long-lived and one fresh other client; then a client holds the second backend in a
# transaction, the owner disconnects, and the next client must get the owner's backend,
# without the state.
sub pin_case {
    my ($w, $name, %c) = @_;
    my $own = connect_or_die($w);
    for my $sql (@{ $c{setup} }) {
        $own->do($sql) or die "$name: $sql: " . $own->errstr . "\n";
    }
    my ($id) = row($own, 'SELECT CONNECTION_ID()');
    my @others = map { connect_or_die($w) } 1 .. 2;
    my (@own_bad, @other_bad, @on_pinned);
    for my $i (1 .. 12) {
        my ($cid) = row($own, 'SELECT CONNECTION_ID()');
        push @own_bad, "round $i: owner on $cid" if $cid != $id;
        my $p = $c{owner}->($own, $i);
        push @own_bad, "round $i: $p" if $p;
        my $fresh = connect_or_die($w);
        for my $o (@others, $fresh) {
            my ($oid) = row($o, 'SELECT CONNECTION_ID()');
            push @on_pinned, "round $i: another client ran on the pinned backend $oid"
                if $oid == $id;
            my $q = $c{other}->($o);
            push @other_bad, "round $i: $q" if $q;
        }
        $fresh->disconnect;
    }
    is(scalar(@own_bad), 0, "$name: the owner keeps its state and its backend ($id) over "
            . '12 more statements') or diag(first5(@own_bad));
    is(scalar(@other_bad), 0, "$name: other clients never see the owner's state")
        or diag(first5(@other_bad));
    is(scalar(@on_pinned), 0, "$name: no other client is given the pinned backend")
        or diag(first5(@on_pinned));
    $_->disconnect for @others;

    my $hold = connect_or_die($w);
    $hold->do('BEGIN') or die $hold->errstr;
    my ($hid) = row($hold, 'SELECT CONNECTION_ID()');
    $own->disconnect;
    my $t = time;
    my $next = connect_or_die($w, connect_timeout => 30);
    my ($nid) = row($next, 'SELECT CONNECTION_ID()');
    my $p = ($c{next} // $c{other})->($next);
    my $el = time - $t;
    isnt($hid, $id, "$name: a holder in a transaction has the other backend ($hid)");
    is($nid, $id, "$name: after the owner left, the next client gets its backend ($id)")
        or diag("backends:\n" . $m->backends_text);
    is($p, '', "$name: the next client on that backend finds the state gone (reset)");
    ok($el < 10, sprintf('%s: the next client ran promptly (%.1fs, query_wait_timeout is 15 s)',
        $name, $el));
    $next->disconnect;
    $hold->do('COMMIT');
    $hold->disconnect;
}

my %USERVAR = (setup => ['SET @x = 42'],
    owner => sub {
        my ($x) = row($_[0], 'SELECT @x');
        return ($x // '') eq '42' ? '' : 'owner sees @x = ' . nul($x);
    },
    other => sub {
        my ($x) = row($_[0], 'SELECT @x');
        return defined $x ? "other client sees \@x = $x" : '';
    });

# warm($w, $n): n clients each take a backend (BEGIN holds it), change time_zone (tracked by
# MariaDB's default session_track_system_variables) and leave, so weir cleans each backend up
# with COM_RESET_CONNECTION and its session-tracking SET. Sections after the "fresh backends"
# one use it to test the rest of the pinning machinery on backends whose tracking is on.
sub warm {
    my ($w, $n) = @_;
    my @c = map { connect_or_die($w) } 1 .. $n;
    for my $c (@c) {
        $c->do('BEGIN') or die $c->errstr;
        $c->do("SET time_zone = '+00:00'") or die $c->errstr;
    }
    my %ids = map { (row($_, 'SELECT CONNECTION_ID()'))[0] => 1 } @c;
    for my $c (@c) { $c->do('COMMIT'); $c->disconnect }
    die "warm-up used " . keys(%ids) . " backends, want $n\n" unless keys %ids == $n;
    sleep 0.2;    # the clean-up runs after the release
}

# A backend weir has just logged in to: its first client's state change must pin too.
section('pinning on fresh backends', sub {
    my $w = txn_weir(default_pool_size => 2);
    my $c = connect_or_die($w);
    my @t = row($c, 'SELECT @@session_track_state_change, @@session_track_system_variables');
    is(join(' ', map { nul($_) } @t), '1 *',
        "a backend weir has just logged in to has weir's session tracking on");
    $c->disconnect;
    pin_case($w, 'SET @x = 42 on a fresh backend', %USERVAR);
    $w->stop;
});

section('pinning state', sub {
    my $w = txn_weir(default_pool_size => 2);
    warm($w, 2);

    pin_case($w, 'SET @x = 42', %USERVAR);

    pin_case($w, 'CREATE TEMPORARY TABLE',
        setup => ['CREATE TEMPORARY TABLE pin_tmp (v INT)', 'INSERT INTO pin_tmp VALUES (0)'],
        owner => sub {
            my ($dbh, $i) = @_;
            $dbh->do('INSERT INTO pin_tmp VALUES (?)', undef, $i)
                or return 'owner INSERT: ' . $dbh->errstr;
            my ($n, $s) = row($dbh, 'SELECT COUNT(*), SUM(v) FROM pin_tmp');
            return $n == $i + 1 ? '' : "owner's pin_tmp has $n rows, want " . ($i + 1);
        },
        other => sub {
            my ($e) = try($_[0], 'SELECT * FROM pin_tmp');
            return $e == 1146 ? '' : "other client: SELECT FROM pin_tmp gave error $e";
        });

    pin_case($w, "PREPARE s FROM 'SELECT 1'",
        setup => ["PREPARE s FROM 'SELECT 41 + 1'"],
        owner => sub {
            my ($v) = row($_[0], 'EXECUTE s');
            return ($v // '') eq '42' ? '' : 'owner EXECUTE s gave ' . nul($v);
        },
        other => sub {
            my ($e, $v) = try($_[0], 'EXECUTE s');
            return $e == 1243 ? '' : "other client: EXECUTE s gave error $e, value " . nul($v);
        });

    # LOCK TABLES: under a lock the owner can only use the locked table.
    my $direct = $m->dbi or die "direct: $DBI::errstr";
    my $probes = 0;
    my $lock_probe = 'SET STATEMENT lock_wait_timeout = 1 FOR SELECT COUNT(*) FROM locked_t';
    pin_case($w, 'LOCK TABLES locked_t WRITE',
        setup => ['LOCK TABLES locked_t WRITE'],
        owner => sub {
            my ($dbh, $i) = @_;
            $dbh->do('INSERT INTO locked_t VALUES (?)', undef, $i)
                or return 'owner INSERT: ' . $dbh->errstr;
            my ($n) = row($dbh, 'SELECT COUNT(*) FROM locked_t');
            return $n == $i ? '' : "owner sees $n rows in locked_t, want $i";
        },
        other => sub {
            my ($v) = row($_[0], 'SELECT COUNT(*) FROM tx');
            return '' if $probes++ >= 2;    # each probe waits 1 s
            my ($e) = try($direct, $lock_probe);
            return $e == 1205 ? '' : "a direct reader of locked_t got error $e, want 1205 "
                . '(lock wait timeout): the lock is not held';
        },
        next => sub {
            my $t = time;
            my ($e, $n) = try($_[0], 'SET STATEMENT lock_wait_timeout = 3 FOR '
                    . 'SELECT COUNT(*) FROM locked_t');
            return "the next client reading locked_t got error $e after "
                . sprintf('%.1fs', time - $t) if $e;
            ($e) = try($direct, $lock_probe);
            return $e ? "a direct reader of locked_t got error $e: lock left behind" : '';
        });
    $direct->do('DELETE FROM locked_t');

    # LOCK ... UNLOCK: the owner keeps its backend while locked; UNLOCK frees the table.
    {
        my $own = connect_or_die($w);
        $own->do('LOCK TABLES locked_t WRITE') or die $own->errstr;
        my ($id) = row($own, 'SELECT CONNECTION_ID()');
        my $other = connect_or_die($w);
        my @ids;
        for my $i (1 .. 5) {
            $own->do('INSERT INTO locked_t VALUES (?)', undef, $i) or die $own->errstr;
            push @ids, (row($own, 'SELECT CONNECTION_ID() FROM locked_t LIMIT 1'))[0];
            push @ids, (row($own, 'SELECT CONNECTION_ID()'))[0];
            row($other, 'SELECT 1');
        }
        is(join(',', grep { $_ != $id } @ids), '', 'LOCK TABLES: the locking client keeps '
                . "its backend ($id)");
        $own->do('UNLOCK TABLES') or die $own->errstr;
        my $t = time;
        my ($e) = try($other, 'SET STATEMENT lock_wait_timeout = 3 FOR '
                . 'SELECT COUNT(*) FROM locked_t');
        is($e, 0, sprintf('after UNLOCK TABLES another client reads locked_t (%.1fs)',
                time - $t));
        my ($x) = row($own, 'SELECT COUNT(*) FROM tx');
        ok(defined $x, 'after UNLOCK TABLES the owner uses other tables again');
        $own->disconnect;
        $other->disconnect;
    }
    $direct->disconnect;

    # GET_LOCK is not reported by MariaDB's session tracking; weir pins on its name (t58
    # asserts it), shown here beside the tracked state.
    {
        my $own = connect_or_die($w);
        my ($got) = row($own, "SELECT GET_LOCK('t22', 0)");
        my ($id) = row($own, 'SELECT CONNECTION_ID()');
        my $other = connect_or_die($w);
        $other->do('BEGIN');
        row($other, 'SELECT 1');
        my (@ids) = map { (row($own, 'SELECT CONNECTION_ID()'))[0] } 1 .. 3;
        $other->do('COMMIT');
        my ($holder) = row($other, "SELECT IS_USED_LOCK('t22')");
        diag("GET_LOCK (pins, see t58): got=$got on $id, later statements on "
                . join(',', @ids) . ', lock holder ' . nul($holder));
        row($own, "SELECT RELEASE_LOCK('t22')");
        $own->disconnect;
        $other->disconnect;
    }
    # The direct connection just closed may linger in the processlist for a moment; weir's
    # idle servers stay, so an excess would persist.
    ok(wait_until(5, sub { $m->count_backends <= 2 }), 'pool_size 2 respected')
        or diag($m->backends_text);
    $w->stop;
});

# ---- state that follows the client ---------------------------------------------------------
# follow_case($w, $name, $set, $probe, $want, $default): the client runs $set, then 15 rounds
# of "$probe, CONNECTION_ID()" (every other round a holder takes a backend in a transaction
# first, so the client has to move); two long-lived and one fresh other client must see
# $default.
sub follow_case {
    my ($w, $name, $set, $probe, $want, $default) = @_;
    my $c = connect_or_die($w);
    my ($id0) = row($c, 'SELECT CONNECTION_ID()');
    $c->do($set) or die "$set: " . $c->errstr . "\n";
    my @others = map { connect_or_die($w) } 1 .. 2;
    my $hold = connect_or_die($w);
    my (@bad, @other_bad, %ids);
    for my $i (1 .. 15) {
        if ($i % 2) {
            $hold->do('BEGIN') or die $hold->errstr;
            row($hold, 'SELECT 1');
        }
        my ($v, $id) = row($c, "SELECT $probe, CONNECTION_ID()");
        $ids{$id}++;
        push @bad, "round $i on $id: " . nul($v) unless ($v // '') eq $want;
        $hold->do('COMMIT') if $i % 2;
        my $fresh = connect_or_die($w);
        for my $o (@others, $fresh) {
            my ($ov, $oid) = row($o, "SELECT $probe, CONNECTION_ID()");
            push @other_bad, "round $i on $oid: " . nul($ov) unless ($ov // '') eq $default;
        }
        $fresh->disconnect;
    }
    is(scalar(@bad), 0, "$name: the client sees $probe = '$want' on every later statement")
        or diag(first5(@bad));
    is(scalar(@other_bad), 0, "$name: other clients see '$default'") or diag(first5(@other_bad));
    diag("$name: set on backend $id0, later statements on backends "
            . join(', ', map { "$_ (x$ids{$_})" } sort keys %ids));
    $_->disconnect for $c, $hold, @others;
}

section('state that follows the client', sub {
    # sql_mode is not in MariaDB's default session_track_system_variables: on a backend weir
    # has just logged in to, only weir's own tracking SET makes the change visible.
    my $w = txn_weir(default_pool_size => 3);
    follow_case($w, "SET sql_mode = 'ANSI_QUOTES' on fresh backends",
        "SET SESSION sql_mode = 'ANSI_QUOTES'", '@@session.sql_mode', 'ANSI_QUOTES', $GLOBAL_MODE);
    $w->stop;

    $w = txn_weir(default_pool_size => 3);
    follow_case($w, "SET time_zone = '+05:00'", "SET time_zone = '+05:00'",
        '@@session.time_zone', '+05:00', $GLOBAL_TZ);
    follow_case($w, 'USE shop2', 'USE shop2', 'DATABASE()', 'shop2', 'shop');
    $w->stop;

    $w = txn_weir(default_pool_size => 3);
    warm($w, 3);
    follow_case($w, "SET sql_mode = 'ANSI_QUOTES'", "SET SESSION sql_mode = 'ANSI_QUOTES'",
        '@@session.sql_mode', 'ANSI_QUOTES', $GLOBAL_MODE);

    # All three at once, and COM_INIT_DB from a raw client.
    my $c = connect_or_die($w);
    $c->do($_) or die $c->errstr for "SET time_zone = '-03:00'", "SET sql_mode = 'NO_ZERO_DATE'",
        'USE shop2';
    my $hold = connect_or_die($w);
    my @bad;
    for my $i (1 .. 6) {
        if ($i % 2) { $hold->do('BEGIN'); row($hold, 'SELECT 1') }
        my @v = row($c, 'SELECT @@time_zone, @@sql_mode, DATABASE(), v FROM only2');
        push @bad, "round $i: " . join('|', map { nul($_) } @v)
            unless join('|', map { nul($_) } @v) eq '-03:00|NO_ZERO_DATE|shop2|2';
        $hold->do('COMMIT') if $i % 2;
    }
    is(scalar(@bad), 0, 'time_zone, sql_mode and schema together follow the client '
            . '(shop2.only2 readable unqualified)')
        or diag(first5(@bad));
    $c->disconnect;
    $hold->disconnect;

    $c = connect_or_die($w);
    ok($c->init_db('shop2'), 'COM_INIT_DB shop2: OK');
    $hold = connect_or_die($w);
    my $other = connect_or_die($w);
    my (@dbs, @odbs);
    for my $i (1 .. 6) {
        if ($i % 2) { $hold->do('BEGIN'); row($hold, 'SELECT 1') }
        push @dbs, join(' on ', map { nul($_) } row($c, 'SELECT DATABASE(), CONNECTION_ID()'));
        $hold->do('COMMIT') if $i % 2;
        push @odbs, join(' on ', map { nul($_) } row($other, 'SELECT DATABASE(), CONNECTION_ID()'));
    }
    is(scalar(grep { !/^shop2 on / } @dbs), 0, 'COM_INIT_DB: the schema follows the client')
        or diag(first5(@dbs));
    is(scalar(grep { !/^shop on / } @odbs), 0, 'COM_INIT_DB: another client stays in shop')
        or diag(first5(@odbs));
    diag('COM_INIT_DB client: ' . join(', ', @dbs));
    $_->disconnect for $c, $hold, $other;
    $w->stop;
});

# ---- COM_RESET_CONNECTION from the client ends a pin ----------------------------------------
section('COM_RESET_CONNECTION', sub {
    my $w = txn_weir(default_pool_size => 2);
    warm($w, 2);
    my $rc = connect_or_die($w);
    ok($rc->do('SET @x = 7'), 'raw client: SET @x = 7');
    my ($x, $id) = row($rc, 'SELECT @x, CONNECTION_ID()');
    is($x, 7, 'raw client sees @x = 7');
    my $hold = connect_or_die($w);
    $hold->do('BEGIN') or die $hold->errstr;
    my ($hid) = row($hold, 'SELECT CONNECTION_ID()');
    isnt($hid, $id, "a holder in a transaction has the other backend ($hid)");
    my $file = $m->tmp . '/after_reset';
    my $pid = spawn(sub {
        my $c = connect_or_die($w, connect_timeout => 60);
        my ($v, $cid) = row($c, 'SELECT @x, CONNECTION_ID()');
        WeirTest::spew($file, nul($v) . "\t$cid");
        $c->disconnect;
        return 1;
    });
    sleep 1;
    ok(!-e $file, 'a third client waits: the pinned backend is not given away')
        or diag('third client got: ' . WeirTest::slurp($file));
    my $t = time;
    ok($rc->reset_connection, 'COM_RESET_CONNECTION: OK');
    my $st = wait_children([$pid], 30);
    my $el = time - $t;
    is($st->{$pid}, 0, 'the waiting client ran after COM_RESET_CONNECTION');
    # (held wrongly, the backend would go to the waiter only at query_wait_timeout = 15 s)
    ok($el < 10, sprintf('... promptly (%.1fs)', $el));
    is(WeirTest::slurp($file) // '', "NULL\t$id",
        'the waiting client got the formerly pinned backend, without @x');
    my @r = row($rc, 'SELECT @x, 1');
    ok(@r == 2 && !defined $r[0], 'after the reset the raw client sees @x NULL');
    $hold->do('COMMIT');
    $_->disconnect for $hold, $rc;
    $w->stop;
});

# ---- a client that vanishes inside a transaction --------------------------------------------
section('client vanishes mid-transaction', sub {
    my $w = txn_weir(default_pool_size => 1);
    my $tmp = $m->tmp;
    my $ready = "$tmp/vanish_ready";
    my $vanisher = spawn(sub {
        my $c = connect_or_die($w);
        $c->do('BEGIN') or die $c->errstr;
        $c->do('INSERT INTO txleft VALUES (42)') or die $c->errstr;
        WeirTest::spew($ready, 'x');
        sleep 60;    # killed by the test
        return 1;
    });
    ok(wait_until(20, sub { -e $ready }), 'a client opened a transaction with an INSERT');
    my $file = "$tmp/vanish_waiter";
    my $waiter = spawn(sub {
        my $c = connect_or_die($w, connect_timeout => 60);
        my ($n, $trx) = row($c, 'SELECT COUNT(*), @@in_transaction FROM txleft');
        WeirTest::spew($file, sprintf("%s\t%s\t%.3f", $n, $trx, time));
        $c->disconnect;
        return 1;
    });
    sleep 1;
    ok(!-e $file, 'pool_size 1: another client waits for the backend');
    my $t = time;
    kill 'KILL', $vanisher;    # no ROLLBACK, no COM_QUIT: the socket just closes
    my $st = wait_children([$waiter], 30);
    is($st->{$waiter}, 0, 'the waiting client ran');
    my ($n, $trx, $when) = split /\t/, WeirTest::slurp($file) // '';
    my $el = ($when // 1e9) - $t;
    ok($el < 10, sprintf('the waiting client got the backend promptly (%.1fs, query_wait_timeout '
        . 'is 15 s)', $el));
    is($n, 0, 'the vanished client\'s row is not visible (rolled back)');
    is($trx, 0, 'the next client is not inside a transaction');
    wait_children([$vanisher], 5);
    my $adm = $m->admin_dbi;
    ok(wait_until(10, sub {
        my ($k) = $adm->selectrow_array('SELECT COUNT(*) FROM information_schema.INNODB_TRX');
        $k == 0;
    }), 'no open InnoDB transaction left');
    my ($total) = $adm->selectrow_array('SELECT COUNT(*) FROM txleft WHERE v = 42');
    is($total, 0, 'the abandoned INSERT never became visible');
    $adm->disconnect;
    ok($m->count_backends <= 1, 'pool_size 1 respected');
    $w->stop;
});

# ---- DBD::MariaDB: its connect-time SETs --------------------------------------------------
# DBD::MariaDB 1.22 runs SET NAMES 'utf8mb4', SET character_set_server = 'utf8mb4',
# SET collation_connection = ..., SET collation_server = 'utf8mb4_unicode_ci' on every
# connect. Character sets and collations are session state that can move (issue 4: "tracked
# variables that can move (character set, collation, ...) are re-applied"); a client that
# only connected must not hold a backend.
section('DBD::MariaDB connect', sub {
    my $w = txn_weir(default_pool_size => 1, query_wait_timeout => 5);
    my $a = connect_or_die($w, dbi => 1);
    my ($ida) = row($a, 'SELECT CONNECTION_ID()');
    my $t = time;
    my $b = $w->my_dbi(connect_timeout => 10);
    my ($idb) = $b ? $b->selectrow_array('SELECT CONNECTION_ID()') : ();
    my $el = time - $t;
    ok(defined $idb, sprintf('pool_size 1: a second DBD::MariaDB client runs while the first is '
                . 'idle between statements (%.1fs)', $el))
        or diag('second client: ' . ($b ? $b->errstr // '' : $DBI::errstr));
    is($idb, $ida, 'both ran on the one backend') if defined $idb;
    my ($cs, $coll) = row($a, 'SELECT @@character_set_server, @@collation_server');
    is("$cs $coll", 'utf8mb4 utf8mb4_unicode_ci', 'the first client keeps its connect-time '
            . 'character_set_server and collation_server');
    $b->disconnect if $b;
    $a->disconnect;
    $w->stop;
});

my $total = time - $T0;
diag(sprintf('t22 total %.1fs', $total));    # reported, not gated: speed is the bench's job
done_testing;
