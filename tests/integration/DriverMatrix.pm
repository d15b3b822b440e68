# DriverMatrix.pm -- the runner of the driver matrix (t60 PostgreSQL, t61 MySQL): real client
# libraries, each driven by a small script in tests/drivers/ that runs the same cases (types,
# an error, a rollback, a large result, more concurrent clients than servers) against
# "HOST PORT USER PASSWORD DBNAME MODE" and prints one "ok N - case" / "not ok N - case" line
# per case (docs/drivers.md).
#
# Usage (from tests/integration/t6N_*.t):
#   my $why = DriverMatrix::missing_python('psycopg');     # undef when the driver is there
#   DriverMatrix::run_pair(name => 'psycopg', weir => $w, skip => $why,
#       argv => sub { [DriverMatrix::python('pg_psycopg.py'), conn args for mode $_[0]] },
#       todo => { transaction => $reason });
#
# WEIR_DRIVERS=name,name (any case) runs only those drivers; the others are skipped.
#
# The session-mode and transaction-mode runs of a driver go at the same time: they use their
# own databases (weir entries drv_session and drv_transaction, server databases of the same
# names), so they share nothing but weir and the server, and the matrix takes half as long.
# Each (driver, mode) pair is one subtest: one test per case line the script printed, one for
# its plan line and one for its exit status; a script that runs past its time bound is killed
# and fails. On a failure the subtest shows the script's whole output and the lines weir logged
# for its database meanwhile. todo => { mode => 'reason' } marks a subtest TODO
# (Test::Builder's todo_start, so the marker lives in the .t file that calls this).
package DriverMatrix;

use strict;
use warnings;
use Test::More;
use File::Spec;
use File::Temp ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use WeirTest;

our $DIR = File::Spec->catdir($WeirTest::ROOT, 'tests', 'drivers');
our $NODE_DIR = File::Spec->catdir($DIR, 'node');
our $PYTHON = '/usr/bin/python3';    # Debian's python, which sees Debian's python3-* drivers
# weir's log lines left out of a failure's report: a client's or server's ordinary coming
# and going (the .t files turn log_connections off and keep log_disconnections on).
our $ORDINARY =
    qr/closing: (?:client terminated the session|client closed the connection)|logged in$/;

# python($script) -> argv head for one of the Python driver scripts (no .pyc in the tree).
sub python { return ($PYTHON, '-B', File::Spec->catfile($DIR, $_[0])) }

# node($script) -> argv head for one of the Node.js driver scripts.
sub node { return ('node', File::Spec->catfile($NODE_DIR, $_[0])) }

# missing_python($module) -> why the driver cannot run, or undef.
sub missing_python {
    my ($module) = @_;
    return "$PYTHON not found" unless -x $PYTHON;
    my (undef, $err, $rc) = run_cmd([$PYTHON, '-B', '-c', "import $module"], timeout => 60);
    return $rc ? "python module $module is not installed (scripts/install-deps)" : undef;
}

# missing_node($package) -> why the npm package cannot be used, or undef.
sub missing_node {
    my ($package) = @_;
    my (undef, undef, $rc) = run_cmd(['node', '--version'], timeout => 30);
    return 'node is not installed (scripts/install-deps)' if $rc;
    return "npm package $package is not installed in tests/drivers/node (scripts/install-deps)"
        unless -f File::Spec->catfile($NODE_DIR, 'node_modules', $package, 'package.json');
    return undef;
}

# compile_java($tmpdir, $jar, @sources) -> ($classdir) or (undef, why): javac of the given
# tests/drivers/java sources (with Tap.java) against the driver's jar, once per test file.
sub compile_java {
    my ($tmp, $jar, @sources) = @_;
    return (undef, "$jar is missing (scripts/install-deps)") unless -f $jar;
    for my $tool (qw(java javac)) {
        my (undef, undef, $rc) = run_cmd([$tool, '-version'], timeout => 60);
        return (undef, "$tool is not installed (scripts/install-deps)") if $rc;
    }
    my $out = "$tmp/java-classes";
    mkdir $out unless -d $out;
    my @src = map { File::Spec->catfile($DIR, 'java', $_) } ('Tap.java', @sources);
    my ($o, $e, $rc, $to) = run_cmd(['javac', '-encoding', 'UTF-8', '-d', $out, '-cp', $jar,
            @src], timeout => 180);
    return (undef, "javac failed" . ($to ? ' (timeout)' : '') . ":\n$o$e") if $rc || $to;
    return ($out);
}

# java($classdir, $jar, $class) -> argv head for a compiled driver program. A client JVM with
# the quick compiler and the serial collector starts faster on a small, busy machine.
sub java {
    my ($classes, $jar, $class) = @_;
    return ('java', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', "$classes:$jar",
        $class);
}

# run_pair(name =>, weir => $w, argv => sub { $mode -> [argv] }, skip => reason,
#   todo => { $mode => reason }, timeout => s, servers => sub { $mode -> count },
#   max_servers => n): runs the driver's session-mode and transaction-mode scripts at the same
# time (separate pools, tables and server databases), then reports one subtest per mode. With
# servers, the number of server connections of each mode's database is sampled every 0.2 s
# while the scripts run and must never exceed max_servers (the pool's size).
sub run_pair {
    my (%o) = @_;
    my @modes = qw(session transaction);
    if (my $only = $ENV{WEIR_DRIVERS}) {
        $o{skip} //= "not in WEIR_DRIVERS ($only)"
            unless grep { lc $_ eq lc $o{name} } split /[,\s]+/, $only;
    }
    if ($o{skip}) {
        for my $mode (@modes) {
            subtest "$o{name}, $mode mode" => sub { plan skip_all => "$o{name}: $o{skip}" };
        }
        return;
    }
    my $timeout = $o{timeout} // 150;
    my $log_file = $o{weir}->log_file;
    my $from = (-s $log_file) // 0;
    my $t0 = time;
    my %job = map { ($_ => _start($o{argv}->($_), $timeout)) } @modes;
    my %max = map { ($_ => 0) } @modes;
    while (grep { !defined $_->{rc} } values %job) {
        _poll($_) for values %job;
        if ($o{servers}) {
            for my $mode (@modes) {
                my $n = $o{servers}->($mode);
                $max{$mode} = $n if $n > $max{$mode};
            }
        }
        sleep 0.2;
    }
    note(sprintf('%s: both modes took %.1f s', $o{name}, time - $t0));
    my $log = substr($o{weir}->log_text, $from);
    for my $mode (@modes) {
        _report(%o, mode => $mode, job => $job{$mode}, timeout => $timeout,
            todo => $o{todo}{$mode}, max => $o{servers} ? $max{$mode} : undef,
            log => join("\n", grep { (/drv_$mode/ || !/drv_/) && !/$ORDINARY/ }
                    split /\n/, $log));
    }
}

# _start(\@argv, $timeout) -> job: the command in a child of its own (WeirTest::run_cmd, which
# kills it at the timeout), its output collected in a file; _poll($job) sets $job->{rc},
# {out} and {err} once it ended.
sub _start {
    my ($argv, $timeout) = @_;
    my $file = File::Temp::tempnam('/tmp', 'weirdrv');
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        my ($out, $err, $rc, $to) = run_cmd($argv, timeout => $timeout,
            env => { PYTHONDONTWRITEBYTECODE => 1, PYTHONIOENCODING => 'utf-8' });
        WeirTest::spew($file, join("\0", $to ? 'timeout' : $rc, $out, $err));
        POSIX::_exit(0);
    }
    return { argv => $argv, pid => $pid, file => $file, deadline => time + $timeout + 30 };
}

sub _poll {
    my ($j) = @_;
    return if defined $j->{rc};
    my $r = waitpid($j->{pid}, WNOHANG);
    if ($r != $j->{pid}) {
        return if time < $j->{deadline};
        kill 'KILL', $j->{pid};    # run_cmd itself did not come back: give up on it
        waitpid($j->{pid}, 0);
    }
    my $s = WeirTest::slurp($j->{file});
    unlink $j->{file};
    ($j->{rc}, $j->{out}, $j->{err}) = length $s ? split(/\0/, $s, 3) : ('timeout', '', '');
    $j->{out} //= '';
    $j->{err} //= '';
}

# _report(name =>, mode =>, job => {argv, out, err, rc}, log =>, weir =>, todo =>): the
# subtest of one (driver, mode) pair.
sub _report {
    my (%o) = @_;
    my $title = "$o{name}, $o{mode} mode";
    my ($out, $err, $rc) = @{ $o{job} }{qw(out err rc)};
    my $tb = Test::More->builder;
    $tb->todo_start($o{todo}) if $o{todo};
    subtest $title => sub {
        my ($cases, $plan, $bad) = (0, undef, 0);
        for my $line (split /\n/, $out) {
            if ($line =~ /^(not )?ok (\d+) - (.*)$/) {
                $cases++;
                $bad++ if $1;
                ok(!$1, $3);
            } elsif ($line =~ /^1\.\.(\d+)$/) {
                $plan = $1;
            }
        }
        ok(defined $plan && $plan == $cases && $cases > 0,
            "the script ran all its cases (" . ($plan // 'no plan') . ", $cases reported)");
        ok($rc eq '0', $rc eq 'timeout' ? "the script finished within $o{timeout} s"
            : "the script exited with status 0 (got $rc)");
        ok($o{max} <= $o{max_servers}, "the server never saw more than $o{max_servers} "
                . "connections of drv_$o{mode} (max $o{max})") if defined $o{max};
        unless ($rc eq '0' && !$bad && defined $plan && $plan == $cases) {
            diag("$title: " . join(' ', @{ $o{job}{argv} }));
            diag("$title: output:\n$out") if length $out;
            diag("$title: stderr:\n" . _tail($err, 40)) if length $err;
            diag("$title: what weir logged meanwhile:\n" . _tail($o{log}, 30)) if length $o{log};
        }
        ok($o{weir}->alive, 'weir is alive');
    };
    $tb->todo_end if $o{todo};
}

sub _tail {
    my ($s, $n) = @_;
    my @l = split /\n/, $s;
    return join("\n", @l > $n ? @l[-$n .. -1] : @l);
}

1;
