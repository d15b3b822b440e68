# t40_logs.t -- weir's log lines as an operator sees them: log_format = json lines that parse
# with JSON::PP and name the connection in separate fields; hostile user names and
# application_names (quotes, newlines, control characters, invalid UTF-8) escaped in JSON and
# in text, never forging a line; the logfile reopened after a rename and SIGHUP (logrotate);
# log_connections / log_disconnections / log_pooler_errors = 0 silencing their lines; syslog
# datagrams with the configured ident and facility (in a private mount namespace whose
# /dev/log is a socket the test owns; skipped when unshare(1) cannot make one).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use JSON::PP;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time sleep);
use POSIX ();

my $t = WeirTest->new;
my $json = JSON::PP->new->utf8;

my $EVIL_APP = qq{ev"il\nERROR forged line\r\t\x01\\ app};
my $EVIL_USER = qq{bad"user\n{"level":"error"}\x1b[31m};

# Lines of a log text decoded as JSON: (\@objects, \@lines that did not parse).
sub json_lines {
    my ($text) = @_;
    my (@objs, @bad);
    for my $l (split /\n/, $text) {
        my $o = eval { $json->decode($l) };
        if (ref $o eq 'HASH') { push @objs, $o } else { push @bad, $l }
    }
    return (\@objs, \@bad);
}

# Connects with raw_login and disconnects; returns the login result.
sub login_once {
    my ($w, %o) = @_;
    my $s = $w->socket;
    my $r = raw_login($s, %o);
    syswrite($s, pg_msg('X', '')) if $r->{ok};
    close $s;
    return $r;
}

# ---- JSON lines, fields, escaping, logfile and reopen ------------------------------------
{
    my $logfile = $t->tmp . '/weir-json.log';
    my $w = $t->start_weir(weir => { log_format => 'json', logfile => $logfile });
    my $r = login_once($w, extra => { application_name => $EVIL_APP });
    ok($r->{ok}, 'login with a hostile application_name');
    $r = login_once($w, user => $EVIL_USER, password => 'x');
    ok($r->{error}, 'a hostile user name is refused') or diag(explain $r);
    my ($out, $err, $rc) = $w->psql('SELECT 1');
    is($out, '1', 'psql through weir');

    my ($objs, $bad);
    wait_until(5, sub {
        ($objs, $bad) = json_lines($w->log_text);
        grep { ($_->{msg} // '') =~ /^closing/ && ($_->{user} // '') eq $EVIL_USER } @$objs;
    });
    is(scalar(@$bad), 0, 'every stderr line is a JSON object') or diag(join "\n", @$bad);
    ok(@$objs >= 5, scalar(@$objs) . ' JSON lines');
    my @missing = grep { !defined $_->{ts} || !defined $_->{level} || !defined $_->{msg}
            || !defined $_->{pid} } @$objs;
    is(scalar(@missing), 0, 'every line has ts, pid, level and msg');
    like($objs->[0]{ts}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ts is ISO 8601 UTC');

    my ($login) = grep { $_->{msg} =~ /^login/ && ($_->{application_name} // '') eq $EVIL_APP }
        @$objs;
    ok($login, 'the login line carries the hostile application_name exactly (escaped, decoded)')
        or diag(explain [grep { $_->{msg} =~ /login/ } @$objs]);
    if ($login) {
        is($login->{level}, 'info', 'login: level info');
        like($login->{client_id}, qr/^\d+$/, 'login: client_id');
        is($login->{database}, 'testdb', 'login: database');
        is($login->{user}, 'app', 'login: user');
        like($login->{addr}, qr/^127\.0\.0\.1:\d+$/, 'login: addr');
        my @same = grep { ($_->{client_id} // -1) == $login->{client_id} } @$objs;
        ok((grep { $_->{msg} =~ /^closing/ } @same), 'the same client_id on its closing line');
    }
    my ($fail) = grep { ($_->{user} // '') eq $EVIL_USER && $_->{msg} =~ /28P01/ } @$objs;
    ok($fail, 'the refused login names the hostile user exactly in its own field');
    ok($fail && $fail->{msg} =~ /\Q$EVIL_USER\E/, 'and in the error message');
    my ($srv) = grep { defined $_->{server_id} && ($_->{msg} // '') eq 'logged in' } @$objs;
    ok($srv && $srv->{database} eq 'testdb' && $srv->{user} eq 'app'
            && $srv->{addr} =~ /^127\.0\.0\.1:\d+$/ && $srv->{level} eq 'info',
        'a server login line: server_id, database, login user, server address')
        or diag(explain $srv);
    my $raw = $w->log_text;
    ok($raw !~ /^ERROR forged/m && $raw !~ /^\{"level":"error"\}/m, 'no forged line');

    # The logfile has the same lines.
    my ($fobjs, $fbad) = json_lines(slurp($logfile));
    ok(@$fobjs >= 5 && !@$fbad, 'logfile: JSON lines too');
    ok((grep { ($_->{application_name} // '') eq $EVIL_APP } @$fobjs), 'logfile: login line');

    # logrotate: move the file away, SIGHUP, new lines go to a new file.
    rename($logfile, "$logfile.1") or die "rename: $!";
    kill 'HUP', $w->pid;
    ok(wait_until(10, sub { -e $logfile }), 'SIGHUP: weir opens a new logfile');
    $r = login_once($w, extra => { application_name => 'after-rotate' });
    ok($r->{ok}, 'login after SIGHUP');
    ok(wait_until(5, sub { -e $logfile && slurp($logfile) =~ /after-rotate/ }),
        'SIGHUP reopened logfile: the new file gets new lines');
    unlike(slurp("$logfile.1"), qr/after-rotate/, 'the rotated file gets none');
    ($fobjs, $fbad) = json_lines(slurp($logfile));
    ok(!@$fbad, 'the new file has whole JSON lines');

    # Rotations while two workers log: no line lost, split or doubled.
    unlink "$logfile.1";
    my $script = $t->tmp . '/select1.sql';
    spew($script, "SELECT 1;\n");
    my $pid = spawn(sub {
        my (undef, $e, $rc) = $t->pgbench(port => $w->port,
            args => ['-n', '-C', '-c', '4', '-j', '2', '-t', '50', '-f', $script]);
        print STDERR $e if $rc;
        return $rc == 0;
    });
    my $n = 0;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        # Rotate only once weir has opened the new file after the last SIGHUP (on a loaded
        # machine that can take longer than the 0.1 s between rotations).
        if (!-e $logfile) {
            sleep 0.02;
            next;
        }
        rename($logfile, "$logfile.r" . ++$n) or die "rename: $!";
        kill 'HUP', $w->pid;
        sleep 0.1;
    }
    is($?, 0, "pgbench -C: 200 connections while the logfile rotated $n times");
    my ($all, $allbad);
    my $read_all = sub {
        ($all, $allbad) = ([], []);
        for my $f ($logfile, map { "$logfile.r$_" } 1 .. $n) {
            my ($o, $b) = json_lines(-e $f ? slurp($f) : '');
            push @$all, @$o;
            push @$allbad, @$b;
        }
    };
    # The last clients' closing lines may be written after pgbench has exited.
    wait_until(10, sub {
        $read_all->();
        my %closed = map { ($_->{client_id} // '') => 1 } grep { $_->{msg} =~ /^closing/ } @$all;
        !grep { $_->{msg} =~ /^login/ && ($_->{application_name} // '') eq 'pgbench'
                && !$closed{ $_->{client_id} } } @$all;
    }, 0.1);
    is(scalar(@$allbad), 0, 'every line in every rotated file is whole JSON');
    my %logins;
    $logins{ $_->{client_id} }++
        for grep { $_->{msg} =~ /^login/ && ($_->{application_name} // '') eq 'pgbench' } @$all;
    my %closings;
    $closings{ $_->{client_id} // '' }++ for grep { $_->{msg} =~ /^closing/ } @$all;
    # pgbench opens one more connection of its own before the run
    ok(keys(%logins) >= 200 && keys(%logins) <= 201,
        scalar(keys %logins) . ' pgbench logins over the files');
    ok(!(grep { $_ != 1 } values %logins), 'each login line exactly once');
    ok(!(grep { ($closings{$_} // 0) != 1 } keys %logins),
        'each of those clients has exactly one closing line');
    $w->stop;
}

# ---- text lines: hostile strings escaped, one line each ----------------------------------
{
    my $w = $t->start_weir;
    my $r = login_once($w, extra => { application_name => $EVIL_APP });
    ok($r->{ok}, 'text: login with a hostile application_name');
    login_once($w, user => $EVIL_USER, password => 'x');
    my $log;
    wait_until(5, sub { $log = $w->log_text; $log =~ /bad\\"user.*closing/ });
    unlike($log, qr/^ERROR forged|^\{"level"|\x1b|\x01/m, 'text: no forged line, no raw control byte');
    like($log, qr/application_name=ev"il\\x0aERROR forged line\\x0d\\x09\\x01\\\\ app/,
        'text: application_name escaped in the login line');
    like($log, qr/C-\d+ testdb\/bad\\"user\\x0a\{\\"level\\":\\"error\\"\}\\x1b\[31m\@127\.0\.0\.1:\d+ error 28P01/,
        'text: hostile user escaped in the connection prefix');
    like($log, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] LOG C-\d+ testdb\/app\@127\.0\.0\.1:\d+ login/m,
        'text: timestamp, pid, level, client id, database/user@addr');
    $w->stop;
}

# ---- log_connections / log_disconnections / log_pooler_errors ----------------------------
{
    my $w = $t->start_weir(weir => { log_connections => 0, log_disconnections => 0,
            log_pooler_errors => 0 });
    ok(login_once($w)->{ok}, 'silenced: login');
    ok(login_once($w, password => 'wrong')->{error}, 'silenced: wrong password refused');
    sleep 0.3;
    my $log = $w->log_text;
    unlike($log, qr/ login \(|logged in/, 'log_connections = 0: no client or server login line');
    unlike($log, qr/closing:/, 'log_disconnections = 0: no disconnection line');
    unlike($log, qr/error 28P01/, 'log_pooler_errors = 0: the error sent is not logged');
    $w->stop;

    $w = $t->start_weir(weir => { log_connections => 1, log_disconnections => 1 });
    ok(login_once($w)->{ok}, 'logged: login');
    ok(login_once($w, password => 'wrong')->{error}, 'logged: wrong password refused');
    ok(wait_until(5, sub { $w->log_text =~ /closing: client/ }), 'log_disconnections = 1: closing line');
    $log = $w->log_text;
    like($log, qr/ login \(session pooling/, 'log_connections = 1: login line');
    like($log, qr/S-\d+ testdb\/app\@127\.0\.0\.1:\d+ logged in/, 'log_connections = 1: server login line');
    like($log, qr/error 28P01/, 'log_pooler_errors = 1 (default): the error sent is logged');
    $w->stop;
}

# ---- syslog ------------------------------------------------------------------------------
SKIP: {
    my @unshare = $> == 0 ? ('unshare', '-m') : ('unshare', '-Urm');
    my (undef, undef, $urc) = run_cmd([@unshare, 'true'], timeout => 10);
    skip 'unshare(1) cannot make a mount namespace here: syslog output not tested', 6 if $urc;
    # A /dev of our own: the real null/zero/urandom/random and a log socket the test owns.
    my $dev = $t->tmp . '/dev';
    mkdir $dev or die "mkdir $dev: $!";
    my @binds;
    for my $n (qw(null zero urandom random)) {
        open my $fh, '>', "$dev/$n" or die;
        close $fh;
        push @binds, "mount --bind /dev/$n $dev/$n";
    }
    my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => "$dev/log")
        or die "bind $dev/log: $!";
    chmod 0666, "$dev/log";
    my $wrapper = $t->tmp . '/weir-ns.sh';
    spew($wrapper, join("\n", '#!/bin/sh', 'set -e', @binds,
        "mount --rbind $dev /dev", 'exec "$@"', ''));
    chmod 0755, $wrapper;
    my $bin = WeirTest::weir_bin();
    local $ENV{WEIR_BIN} = $t->tmp . '/weir-syslog';
    spew($ENV{WEIR_BIN}, "#!/bin/sh\nexec @unshare -- $wrapper $bin \"\$@\"\n");
    chmod 0755, $ENV{WEIR_BIN};
    my $w = $t->start_weir(weir => { syslog => 1, syslog_ident => 'weirtest',
            syslog_facility => 'local3' });
    ok(login_once($w, extra => { application_name => 'sys' })->{ok}, 'syslog: login');
    ok(login_once($w, password => 'wrong')->{error}, 'syslog: wrong password refused');
    my @msgs;
    my $sel = IO::Select->new($sock);
    my $deadline = time + 5;
    while (time < $deadline && !grep { /error 28P01/ } @msgs) {
        next unless $sel->can_read(0.2);
        my $buf;
        $sock->recv($buf, 8192);
        push @msgs, $buf;
    }
    ok(@msgs >= 3, scalar(@msgs) . ' syslog datagrams');
    # local3 = 19: info = 19*8+6 = 158.
    ok((grep { /^<158>.*weirtest\[\d+\]: LOG listening for PostgreSQL on 127\.0\.0\.1:\d+/ } @msgs),
        'startup line: local3.info, ident weirtest[pid]') or diag(join "\n", @msgs);
    ok((grep { /^<158>.*weirtest\[\d+\]: LOG C-\d+ testdb\/app\@127\.0\.0\.1:\d+ login/ } @msgs),
        'login line with its connection, no timestamp of its own');
    ok(!(grep { /\n/ } @msgs), 'no newline inside a syslog message');
    $w->stop;
    # The text still went to stderr as well.
    $w->log_like(qr/LOG C-\d+ testdb\/app\@127\.0\.0\.1:\d+ login/, 'stderr too');
}

done_testing();
