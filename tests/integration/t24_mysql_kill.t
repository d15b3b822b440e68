# t24_mysql_kill.t -- KILL through weir's MySQL port. The thread id a client sees is weir's
# (its cancel pid, worker number in the top byte), so weir answers KILL [QUERY|CONNECTION] <id>
# and COM_PROCESS_KILL itself: a SELECT SLEEP(30) is interrupted by KILL QUERY from another
# connection (the mariadb CLI, and the CLI's own Ctrl-C), other clients' queries run on, a
# MariaDB thread id is unknown to weir (its session is never touched), another user's client
# cannot be killed (1095), other forms of KILL are refused with the connection kept, and
# KILL CONNECTION closes the client and frees its server. Transaction and session pooling.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $SLEEP = 30;
my $FAST = 10;    # an interrupted SLEEP(30) must end well within this many seconds
my $m = MyTest->new;
my $tmp = $m->tmp;
my $python = '/usr/bin/python3';
my $have_pymysql = system($python, '-c', 'import pymysql') == 0;

# The mariadb CLI, interactive on a pseudo-terminal: runs SELECT SLEEP(n), waits for the go
# file, types Ctrl-C, reports how long the query took to end, then runs one more query.
spew("$tmp/ctrlc.py", <<'PY');
import os, pty, select, sys, time
port, go, secs = sys.argv[1], sys.argv[2], sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp('mariadb', ['mariadb', '--no-defaults', '-h', '127.0.0.1', '-P', port,
                          '--protocol=TCP', '-u', 'app', '-papppass', 'shop'])
buf = b''
def read_until(pat, timeout):
    global buf
    end = time.time() + timeout
    while time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return False
            if not d:
                return False
            buf += d
        if pat in buf:
            return True
    return False
read_until(b'> ', 20)
os.write(fd, b'SELECT SLEEP(%s);\n' % secs.encode())
end = time.time() + 30
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
t0 = time.time()
os.write(fd, b'\x03')
if read_until(b'ERROR', 30):
    print('interrupted after %.2fs' % (time.time() - t0))
read_until(b'> ', 10)
os.write(fd, b"SELECT 'after-ctrl-c';\n")
read_until(b'after-ctrl-c |', 10)
os.write(fd, b'quit\n')
read_until(b'Bye', 5)
print(buf.decode(errors='replace'))
PY

# sleeper($port, $name, $secs) -> pid of a child that connects (DBD::MariaDB), writes its
# thread id to $tmp/$name.id, runs SELECT SLEEP($secs) and writes "value|error|seconds" to
# $tmp/$name.out.
sub sleeper {
    my ($port, $name, $secs) = @_;
    unlink "$tmp/$name.id", "$tmp/$name.out";
    return spawn(sub {
        my $h = MyTest::_dbi($port) or die "connect: $DBI::errstr";
        spew("$tmp/$name.id", $h->{mariadb_thread_id});
        my $t0 = time;
        my ($v) = $h->selectrow_array("SELECT SLEEP($secs)");
        my $e = $h->err // '';
        spew("$tmp/$name.out", join('|', $v // 'undef', $e, sprintf('%.2f', time - $t0)));
        return 1;
    });
}

# killer_on($w, $worker_byte, $same) -> a DBD::MariaDB handle through weir whose thread id's
# top byte equals (same) or differs from $worker_byte; other handles made on the way are closed.
sub killer_on {
    my ($w, $byte, $same) = @_;
    for (1 .. 40) {
        my $h = $w->my_dbi or return undef;
        my $b = $h->{mariadb_thread_id} >> 24;
        return $h if ($b == $byte) == !!$same;
        $h->disconnect;
    }
    return undef;
}

sub read_id {
    my ($name) = @_;
    wait_until(20, sub { -s "$tmp/$name.id" });
    return slurp("$tmp/$name.id");
}

sub result_of {
    my ($name) = @_;
    my ($v, $e, $secs) = split /\|/, slurp("$tmp/$name.out") // '';
    return { value => $v, err => $e, secs => $secs };
}

# running($secs) -> number of MariaDB sessions of app running SELECT SLEEP($secs)
sub running {
    my ($secs) = @_;
    return scalar grep { ($_->{INFO} // '') eq "SELECT SLEEP($secs)" } @{ $m->backends };
}

for my $mode (qw(transaction session)) {
    my $w = $m->start_weir(weir => { pool_mode => $mode, workers => 2, default_pool_size => 8 });
    my $port = $w->mysql_port;

    # ---- ids ----
    my $h = $w->my_dbi or BAIL_OUT("$mode: cannot connect through weir: $DBI::errstr");
    my $tid = $h->{mariadb_thread_id};
    cmp_ok($tid, '>=', 1 << 24, "$mode: the thread id a client sees is weir's ($tid)");
    my ($backend_tid) = $h->selectrow_array('SELECT CONNECTION_ID()');
    cmp_ok($backend_tid, '<', 1 << 24,
        "$mode: SELECT CONNECTION_ID() is answered by the server ($backend_tid)");

    # ---- refusals that keep the connection ----
    my ($out, $err, $rc) = $w->mariadb("KILL QUERY $tid", user => 'forced');
    is(mariadb_err_code($err), 1095, "$mode: another user's client cannot be killed (1095)")
        or diag("rc $rc: $err");
    ($out, $err) = $w->mariadb('KILL QUERY 4000000000');
    is(mariadb_err_code($err), 1094, "$mode: KILL of an unknown id is 1094") or diag($err);
    like($err, qr/Unknown thread id: 4000000000/, "$mode: ... with MySQL's message");
    ($out, $err, $rc) = $w->mariadb(undef, stdin => "KILL USER app;\nSELECT 'still here';\n",
        args => ['--force']);
    is(mariadb_err_code($err), 1235, "$mode: KILL USER is refused (1235)") or diag($err);
    is($out, "still here\n", "$mode: ... and the connection stays usable");
    ok(!$h->do('KILL QUERY ' . ($tid + 1000)) && $h->err == 1094,
        "$mode: DBD::MariaDB gets 1094 too");
    is(($h->selectrow_array('SELECT 7'))[0], 7, "$mode: ... and goes on working");
    ok($h->do("kill query $tid ; "), "$mode: KILL QUERY of itself (lower case, ';') is OK");

    # ---- KILL QUERY from another connection ----
    # A direct MariaDB session: its thread id means nothing to weir and must not be touched.
    my $direct = spawn(sub {
        my $d = MyTest::_dbi($m->port) or die "direct connect: $DBI::errstr";
        spew("$tmp/direct.id", $d->{mariadb_thread_id});
        my $t0 = time;
        my ($v) = $d->selectrow_array('SELECT SLEEP(6)');
        spew("$tmp/direct.out", join('|', $v // 'undef', $d->err // '', time - $t0));
        return 1;
    });
    my $victim = sleeper($port, 'victim', $SLEEP);
    my $bystander = sleeper($port, 'bystander', 4);
    my $vid = read_id('victim');
    my $did = read_id('direct');
    ok(wait_until(20, sub { running($SLEEP) == 1 && running(4) == 1 }),
        "$mode: victim and bystander run their SLEEPs on the server")
        or diag($m->backends_text);
    ($out, $err) = $w->mariadb("KILL QUERY $did");
    is(mariadb_err_code($err), 1094, "$mode: a MariaDB thread id is unknown through weir")
        or diag($err);
    # The killer is on the other worker than the victim (the top byte of a thread id is the
    # worker): the KILL travels between workers and its answer comes back.
    my $killer = killer_on($w, ($vid >> 24), 0);
    ok($killer, "$mode: a killer on the other worker") or BAIL_OUT('no killer connection');
    ok($killer->do("KILL QUERY $vid"), "$mode: KILL QUERY <weir id> from another worker is OK")
        or diag($killer->errstr);
    my $st = wait_children([$victim, $bystander, $direct], 60);
    my $v = result_of('victim');
    diag(sprintf('%s: victim interrupted after %.2fs (%s)', $mode, $v->{secs} // -1,
            $v->{err} || 'value ' . ($v->{value} // '?')));
    ok(defined $v->{secs} && $v->{secs} < $FAST,
        "$mode: the SLEEP($SLEEP) ended within ${FAST}s") or diag(explain($v));
    ok($v->{err} eq '1317' || $v->{value} eq '1',
        "$mode: ... interrupted (error 1317 or SLEEP's 1)") or diag(explain($v));
    my $b = result_of('bystander');
    is("$b->{value}|$b->{err}", '0|', "$mode: the bystander's SLEEP(4) completed untouched")
        or diag(explain($b));
    my ($dv, $de, $ds) = split /\|/, slurp("$tmp/direct.out") // '';
    is("$dv|$de", '0|', "$mode: the direct session with that numeric id was not killed")
        or diag("direct: $dv|$de|$ds");
    is(($h->selectrow_array('SELECT 8'))[0], 8, "$mode: the first client still works");

    # ---- KILL QUERY from a connection on the victim's own worker ----
    $victim = sleeper($port, 'victim3', $SLEEP);
    $vid = read_id('victim3');
    ok(wait_until(20, sub { running($SLEEP) == 1 }), "$mode: a third victim's SLEEP runs");
    $killer = killer_on($w, ($vid >> 24), 1);
    ok($killer && $killer->do("KILL QUERY $vid"),
        "$mode: KILL QUERY from the victim's own worker is OK");
    wait_children([$victim], 60);
    $v = result_of('victim3');
    ok(defined $v->{secs} && $v->{secs} < $FAST && ($v->{err} eq '1317' || $v->{value} eq '1'),
        "$mode: ... interrupted too ($v->{secs}s)") or diag(explain($v));

    # ---- the mariadb CLI's own Ctrl-C (KILL QUERY over a second connection) ----
    # Interactive on a pseudo-terminal: Ctrl-C makes the CLI open a second connection and send
    # KILL QUERY <its thread id>; the session then goes on.
    unlink "$tmp/go";
    my $cli = fork // die "fork: $!";
    if ($cli == 0) {
        open STDOUT, '>', "$tmp/cli.out";
        open STDERR, '>&', \*STDOUT;
        { exec $python, "$tmp/ctrlc.py", $port, "$tmp/go", $SLEEP }
        POSIX::_exit(127);
    }
    ok(wait_until(30, sub { running($SLEEP) == 1 }), "$mode: the interactive CLI's SLEEP runs")
        or diag($m->backends_text);
    spew("$tmp/go", '');
    my $done = wait_until(60, sub { waitpid($cli, WNOHANG) == $cli });
    if (!$done) { kill 'KILL', $cli; waitpid($cli, 0) }
    my $cout = slurp("$tmp/cli.out") // '';
    my ($csecs) = $cout =~ /^interrupted after ([\d.]+)s$/m;
    ok(defined $csecs && $csecs < $FAST, "$mode: Ctrl-C in the CLI interrupts SLEEP($SLEEP)"
            . (defined $csecs ? " (${csecs}s)" : '')) or diag($cout);
    like($cout, qr/query killed/, "$mode: ... the CLI says it killed the query") or diag($cout);
    like($cout, qr/ERROR 1317/, "$mode: ... which failed with 1317") or diag($cout);
    like($cout, qr/after-ctrl-c/, "$mode: ... and the session goes on") or diag($cout);
    ok(wait_until(10, sub { running($SLEEP) == 0 }), "$mode: ... the server query is gone")
        or diag($m->backends_text);

    # ---- KILL CONNECTION ----
    $victim = sleeper($port, 'victim2', $SLEEP);
    $vid = read_id('victim2');
    ok(wait_until(20, sub { running($SLEEP) == 1 }), "$mode: a second victim's SLEEP runs");
    ($out, $err, $rc) = $w->mariadb("KILL CONNECTION $vid");
    is($rc, 0, "$mode: KILL CONNECTION <weir id> is OK") or diag($err);
    wait_children([$victim], 60);
    $v = result_of('victim2');
    ok(defined $v->{secs} && $v->{secs} < $FAST && $v->{err},
        "$mode: the killed client's query fails at once ($v->{err}, $v->{secs}s)")
        or diag(explain($v));
    ok(wait_until(10, sub { running($SLEEP) == 0 }),
        "$mode: its server's query was cancelled, not left running")
        or diag($m->backends_text);
    ($out, $err) = $w->mariadb("KILL $vid");
    is(mariadb_err_code($err), 1094, "$mode: the killed id is unknown afterwards");

    # ---- COM_PROCESS_KILL (PyMySQL's kill()) ----
    SKIP: {
        skip 'python3-pymysql is not installed', 3 unless $have_pymysql;
        my $py = "$tmp/kill.py";
        spew($py, <<'PY');
import sys, pymysql
port = int(sys.argv[1])
def conn():
    return pymysql.connect(host='127.0.0.1', port=port, user='app', password='apppass',
                           database='shop', autocommit=True)
a, b = conn(), conn()
try:
    a.kill(4000000001)
except pymysql.MySQLError as e:
    print('unknown', e.args[0])
a.kill(b.thread_id())
print('killed')
try:
    b.cursor().execute('SELECT 1')
    print('victim alive')
except pymysql.MySQLError as e:
    print('victim gone')
c = a.cursor(); c.execute('SELECT 5'); print('killer', c.fetchone()[0])
PY
        my ($pout, $perr, $prc) = run_cmd([$python, $py, $port], timeout => 60);
        like($pout, qr/^unknown 1094$/m, "$mode: COM_PROCESS_KILL of an unknown id is 1094")
            or diag("rc $prc: $pout $perr");
        like($pout, qr/^killed\nvictim gone$/m, "$mode: COM_PROCESS_KILL closes the victim");
        like($pout, qr/^killer 5$/m, "$mode: the killer goes on");
    }

    $h->disconnect;
    my ($o2) = $w->mariadb('SELECT 1');
    is($o2, "1\n", "$mode: weir still serves new clients");
    $w->log_like(qr/KILL QUERY forwarded to S-/, "$mode: the log shows the forwarded KILL");
    $w->stop;
}

done_testing();
