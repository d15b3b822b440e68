# t92_replication.t -- the `replication` startup parameter through weir: in session pooling
# pg_basebackup (physical) and pg_recvlogical (logical, test_decoding) work, each on a server
# connection of its own that is closed when the client leaves, never pooled; in transaction
# pooling a replication client gets a clear error; a bad value is refused as PostgreSQL does.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;

# Logical decoding needs wal_level = logical; this server only.
my $t = WeirTest->new(pg_conf => { wal_level => 'logical', max_wal_senders => 10,
        max_replication_slots => 10 });
{
    my $dbh = $t->pg_admin_dbi('testdb');
    $dbh->do('ALTER ROLE app REPLICATION');
    $dbh->do('CREATE TABLE repl_t (id int PRIMARY KEY, v text)');
    $dbh->do('ALTER TABLE repl_t OWNER TO app');
    $dbh->disconnect;
}
# Physical replication clients name the database "replication" (libpq's pg_basebackup and
# pg_receivewal always do): weir finds its server through an entry of that name.
my $w = $t->start_weir(weir => { pool_mode => 'session', default_pool_size => 4 },
    databases => { replication => 'host=127.0.0.1 port=' . $t->pgport . ' dbname=postgres' });
my %env = (PGPASSWORD => 'apppass', PGSSLMODE => 'disable', PGCONNECT_TIMEOUT => 10);
my $conn = 'host=127.0.0.1 port=' . $w->port . ' user=app dbname=testdb';

sub walsenders {
    my $r = admin_do($t, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'});
    return $r->[0][0] // -1;
}

# ---- pg_basebackup: physical replication ----------------------------------------------------
{
    my $s = $w->socket;
    my $r = raw_login($s, database => 'replication', extra => { replication => 'true' });
    ok($r->{ok}, 'physical replication login through weir') or diag(explain($r));
    syswrite($s, pg_msg('Q', "IDENTIFY_SYSTEM\0"));
    my ($type, $body) = read_msg($s, 20);
    is($type, 'T', 'IDENTIFY_SYSTEM answers with a row description');
    is(walsenders(), 1, 'one walsender serves it');
    syswrite($s, pg_msg('X', ''));
    close $s;
}
{
    my $dir = $t->tmp . '/basebackup';
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_basebackup'), '-d', $conn, '-D', $dir,
            '-X', 'fetch', '-c', 'fast', '--no-sync', '--no-verify-checksums'],
        env => \%env, timeout => 180);
    is($rc, 0, 'pg_basebackup through weir exits 0') or diag("$out\n$err");
    ok(-f "$dir/PG_VERSION" && -f "$dir/backup_label", 'the backup holds PG_VERSION and backup_label');
    ok(wait_until(10, sub { walsenders() == 0 }), 'its server connection is closed after it');
}

# ---- pg_recvlogical: logical replication with test_decoding ----------------------------------
{
    my @rl = (WeirTest::pg_bin('pg_recvlogical'), '-d', $conn, '--slot', 'weir_slot');
    my ($out, $err, $rc) = run_cmd([@rl, '--create-slot', '-P', 'test_decoding'], env => \%env,
        timeout => 60);
    is($rc, 0, 'pg_recvlogical --create-slot through weir') or diag("$out\n$err");
    my $dbh = $t->pg_admin_dbi('testdb');
    # Flushed at commit (the harness turns synchronous_commit off), so the walsender decodes
    # it before it can report the end position in a keepalive.
    $dbh->do('SET synchronous_commit = on');
    $dbh->do(q{INSERT INTO repl_t VALUES (1, 'through weir'), (2, 'second')});
    my ($lsn) = $dbh->selectrow_array('SELECT pg_current_wal_insert_lsn()');
    my $file = $t->tmp . '/decoded.txt';
    ($out, $err, $rc) = run_cmd([@rl, '--start', '--endpos', $lsn, '--no-loop', '-f', $file],
        env => \%env, timeout => 120);
    is($rc, 0, 'pg_recvlogical --start --endpos through weir exits 0') or diag("$out\n$err");
    my $decoded = -f $file ? slurp($file) : '';
    like($decoded, qr/table public\.repl_t: INSERT: id\[integer\]:1 v\[text\]:'through weir'/,
        'the inserted rows arrive decoded') or diag($decoded);
    ($out, $err, $rc) = run_cmd([@rl, '--drop-slot'], env => \%env, timeout => 60);
    is($rc, 0, 'pg_recvlogical --drop-slot through weir') or diag("$out\n$err");
    ok(wait_until(10, sub { walsenders() == 0 }), 'no walsender left after the clients');
    $dbh->disconnect;
}

# An ordinary client of the same database is not served by a replication connection.
{
    my ($out, $err, $rc) = $w->psql(q{SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid()});
    is($out, 'client backend', 'ordinary clients get ordinary servers') or diag($err);
}

# ---- refused: transaction pooling, bad values ----------------------------------------------
my $wt = $t->start_weir(weir => { pool_mode => 'transaction' });
{
    my $s = $wt->socket;
    my $r = raw_login($s, extra => { replication => 'database' });
    is($r->{error}{C}, '08P01', 'transaction pooling: replication refused (08P01)');
    like($r->{error}{M} // '', qr/replication connections need session pooling/,
        'the error says why');
    close $s;
    $s = $w->socket;
    $r = raw_login($s, extra => { replication => 'maybe' });
    is($r->{error}{C}, '22023', 'a bad replication value is refused (22023)');
    like($r->{error}{M} // '', qr/invalid value for parameter "replication": "maybe"/,
        'naming the value');
    close $s;
}
$wt->stop;
$w->stop;
done_testing();
