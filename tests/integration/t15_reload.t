# t15_reload.t -- SIGHUP reload: new pool sizes take effect under pgbench load with zero failed
# transactions; a broken file is refused with its reason and the old configuration keeps
# running; databases added, changed and removed; auth_file re-read; settings that only take
# effect at start are kept (with a warning).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new(pgbench => 1);
my $pg = $t->pgport;

my $w = $t->start_weir(
    weir => { pool_mode => 'transaction', default_pool_size => 2 },
    databases => { extra => "host=127.0.0.1 port=$pg dbname=postgres" },
    users => { app => 'apppass' },
);
my $conf = $w->{conf};
my $authfile = "$w->{dir}/userlist.txt";
my $good = slurp($conf);

# edit(sub { s/// on $_ }) rewrites weir.ini from the running version; hup() asks for a reload
# and waits for weir to say how it went (the n-th "reloaded"/"refused" line).
sub edit { my ($f) = @_; local $_ = slurp($conf); $f->(); spew($conf, $_); }
my $reloads = 0;
sub hup {
    my $want = ++$reloads;
    kill 'HUP', $w->pid;
    my $ok = wait_until(10, sub {
        my @l = ($w->log_text =~ /configuration reloaded from|reload refused/g);
        return @l >= $want;
    });
    return $ok;
}
# max_conns($secs, $until, $enough) -> the most server connections seen in $secs; with
# $until, sampling goes on up to $until seconds while $enough->($max) is false.
sub max_conns {
    my ($secs, $until, $enough) = @_;
    my ($max, $t0) = (0, time);
    while (time < $t0 + $secs || ($until && time < $t0 + $until && !$enough->($max))) {
        my $c = count_server_conns($t, user => 'app', db => 'testdb');
        $max = $c if $c > $max;
        sleep 0.05;
    }
    return $max;
}

# ---- pool size under load ----
my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port, '-U', 'app',
        '-S', '-c', '12', '-j', '2', '-T', '16', 'testdb'],
    env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, timeout => 60);
sleep 1.5;
my $before = max_conns(2, 10, sub { $_[0] >= 1 });
ok($before >= 1 && $before <= 2, "before reload: at most 2 server connections (saw $before)");

edit(sub { s/^default_pool_size = 2$/default_pool_size = 5/m });
ok(hup(), 'reload after raising default_pool_size');
$w->log_like(qr/configuration reloaded/, 'weir logs the reload');
my $after = max_conns(3, 8, sub { $_[0] > 2 });
ok($after > 2 && $after <= 5, "after reload: more servers, at most 5 (saw $after)");

# A broken file: refused with the reason, the old configuration keeps running.
edit(sub { s/^default_pool_size = 5$/default_pool_size = banana/m });
ok(hup(), 'reload of a broken file answered');
$w->log_like(qr/reload refused.*invalid value "banana" for default_pool_size/,
    'broken configuration refused with file, line and reason');
ok($w->alive, 'weir still running');
my $kept = max_conns(1.5);
ok($kept <= 5, "old limits still in force (saw $kept)");

my ($out, $err, $rc) = bg_result($job, 60);
is($rc, 0, 'pgbench through the reloads exited 0') or diag($err);
like($out, qr/number of failed transactions: 0 /, 'zero failed transactions');
my ($n) = $out =~ /number of transactions actually processed: (\d+)/;
ok(($n // 0) > 100, "pgbench processed transactions (" . ($n // 0) . ")");

spew($conf, $good);
edit(sub { s/^default_pool_size = 2$/default_pool_size = 5/m });
ok(hup(), 'good file again');

# ---- databases added, changed, removed ----
my $old = $w->dbi(db => 'extra');
ok($old, 'client on database extra');
is(($old->selectrow_array('SELECT current_database()'))[0], 'postgres', 'extra is postgres');

edit(sub { $_ .= ''; s/^(\[databases\]\n)/$1newdb = host=127.0.0.1 port=$pg dbname=testdb\n/m });
ok(hup(), 'reload adding newdb');
($out, $err, $rc) = $w->psql('SELECT current_database()', db => 'newdb');
is($out, 'testdb', 'a database added by reload is served') or diag($err);

edit(sub { s/^extra = .*$/extra = host=127.0.0.1 port=$pg dbname=testdb/m });
ok(hup(), 'reload changing the connection settings of extra');
($out, $err, $rc) = $w->psql('SELECT current_database()', db => 'extra');
is($out, 'testdb', 'new clients of extra reach the new database') or diag($err);
is(($old->selectrow_array('SELECT current_database()'))[0] // 'error: ' . $old->errstr, 'testdb',
    'a connected transaction-mode client follows on its next transaction');
ok(wait_until(5, sub { count_server_conns($t, user => 'app', db => 'postgres') == 0 }),
    'servers of the replaced pool are closed');

edit(sub { s/^extra = .*\n//m });
ok(hup(), 'reload removing extra');
my $r = $old->selectrow_array('SELECT 1');
ok(!defined $r, 'a client of a removed database gets an error at its next query');
like($old->errstr // '', qr/no longer served/, '... saying the database is no longer served');
($out, $err, $rc) = $w->psql('SELECT 1', db => 'extra');
isnt($rc, 0, 'new clients of the removed database are refused');
like($err, qr/unknown database|does not exist|no such database/i, '... as an unknown database');

# ---- auth_file re-read ----
($out, $err, $rc) = $w->psql('SELECT current_user', user => 'forced', db => 'forceddb',
    password => 'forcedpass');
isnt($rc, 0, 'user forced is not in the auth file yet');
spew($authfile, qq{"app" "apppass"\n"forced" "forcedpass"\n});
ok(hup(), 'reload after adding a user to auth_file');
($out, $err, $rc) = $w->psql('SELECT current_user', user => 'forced', db => 'forceddb',
    password => 'forcedpass');
is($out, 'forced', 'the new auth_file is in force') or diag($err);

# ---- start-only settings ----
my $port = $w->port;
my $other = free_port();
edit(sub { s/^listen_port = \d+$/listen_port = $other/m });
ok(hup(), 'reload changing listen_port');
$w->log_like(qr/listen_port changes only at restart; keeping $port/,
    'listen_port change is reported and not applied');
($out, $err, $rc) = $w->psql('SELECT 1');
is($out, '1', 'still serving on the old port');

($out, $err, $rc) = $t->pgbench(port => $w->port, args => ['-S', '-c', '4', '-t', '50']);
is($rc, 0, 'pgbench after all reloads') or diag($err);
$old->disconnect;
$w->stop;
done_testing;
