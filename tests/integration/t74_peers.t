#!/usr/bin/perl
# t74_peers.t -- two weirs sharing one TCP port (SO_REUSEPORT), peer_id 1 and 2, each naming
# the other in [peers] by its own unix socket (the shared port cannot pick a process). A
# CancelRequest that reaches the process that does not own the key is forwarded to the one
# that does: ten psql queries in a row through the shared port, each cancelled with Ctrl-C
# (SIGINT to psql, which sends its cancel on a new connection the kernel may give to either
# process), all cancelled within a few seconds. Then deterministic forwards both ways (a
# query on one process, its cancel sent to the other's socket), a key whose hop count is
# spent, and a peer id nobody has.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $port = free_port();
my ($d1, $d2) = map { $t->tmp . "/weir$_" } 1 .. 2;    # start_weir's directories, in order
my %peers = (1 => "host=$d1 port=$port", 2 => "host=$d2 port=$port");
my @w = map {
    $t->start_weir(port => $port, weir => { peer_id => $_, workers => 2, pool_mode => 'session' },
        sections => { peers => \%peers })
} 1 .. 2;
# The readiness check of start_weir may reach the first weir on the shared port: wait for the
# second one's own socket.
ok(wait_until(30, sub { -S "$d2/.s.PGSQL.$port" }), 'the second weir listens on its own socket');
is($w[0]{dir}, $d1, 'the first weir has the expected socket directory');
is($w[1]{dir}, $d2, 'and the second');

# active($re) -> queries matching $re that PostgreSQL is running now.
sub active {
    my ($re) = @_;
    return scalar grep { ($_->{query} // '') =~ $re && ($_->{state} // '') eq 'active' }
        @{ $t->backends };
}

# ---- ten psql queries through the shared port, each cancelled with Ctrl-C ----------------
my $psql = WeirTest::pg_bin('psql');
my @took;
for my $i (1 .. 10) {
    my $errf = $t->tmp . "/psql$i.err";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $errf;
        @ENV{qw(PGPASSWORD PGSSLMODE PGCONNECT_TIMEOUT)} = ('apppass', 'disable', 10);
        exec($psql, '-X', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'testdb', '-c',
            "SELECT pg_sleep(30) /* q$i */") or POSIX::_exit(127);
    }
    my $running = wait_until(20, sub { active(qr/q$i \*\//) == 1 });
    my $t0 = time;
    kill 'INT', $pid;
    my $done = wait_until(15, sub { waitpid($pid, WNOHANG) == $pid });
    my $el = time - $t0;
    kill 'KILL', $pid unless $done;
    waitpid($pid, 0) unless $done;
    my $err = WeirTest::slurp($errf);
    push @took, $el;
    ok($running && $done && $err =~ /canceling statement due to user request/,
        sprintf('query %d cancelled by Ctrl-C in %.2f s', $i, $el)) or diag($err);
}
my @sorted = sort { $a <=> $b } @took;
diag(sprintf('Ctrl-C to the end of the query: min %.2f s, median %.2f s, max %.2f s',
    $sorted[0], $sorted[5], $sorted[-1]));
ok($sorted[-1] < 5, 'every one within a few seconds');
my $forwards = () = join('', map { $_->log_text } @w) =~ /cancel request forwarded to peer/g;
diag("$forwards of the 10 cancels reached the other process and were forwarded");

# ---- deterministic: the query on one process, its cancel sent to the other -------------------
for my $pair ([0, 1], [1, 0]) {
    my ($on, $via) = @$pair;
    my $s = IO::Socket::UNIX->new(Peer => "$w[$on]{dir}/.s.PGSQL.$port") or die "unix: $!";
    my $l = raw_login($s);
    ok($l->{ok} && $l->{pid}, "a client on weir " . ($on + 1) . " (peer id " . ($l->{pid} >> 24)
        . ")");
    is($l->{pid} >> 24, $on + 1, 'its cancel pid carries its peer id');
    syswrite($s, pg_msg('Q', "SELECT pg_sleep(30) /* direct$on */\0"));
    ok(wait_until(20, sub { active(qr/direct$on \*\//) == 1 }), 'its query runs');
    my $c = IO::Socket::UNIX->new(Peer => "$w[$via]{dir}/.s.PGSQL.$port") or die "unix: $!";
    syswrite($c, cancel_packet($l->{pid}, $l->{key}));
    close $c;
    my $t0 = time;
    my $r = read_result($s, 15);
    like($r->{error}{C} // '', qr/^57014$/, sprintf('the cancel sent to weir %d cancelled it '
        . '(%.2f s)', $via + 1, time - $t0));
    ok(wait_until(10, sub { $w[$via]->log_text =~ /cancel request forwarded to peer @{[$on + 1]}/ }),
        "weir " . ($via + 1) . " logged the forward");
    close $s;
}

# ---- a spent hop count, a peer nobody has ------------------------------------------------------
{
    my $s = IO::Socket::UNIX->new(Peer => "$d1/.s.PGSQL.$port") or die "unix: $!";
    my $l = raw_login($s);
    syswrite($s, pg_msg('Q', "SELECT pg_sleep(3) /* spent */\0"));
    ok(wait_until(20, sub { active(qr/spent \*\//) == 1 }), 'a query runs on weir 1');
    my $c = IO::Socket::UNIX->new(Peer => "$d2/.s.PGSQL.$port") or die "unix: $!";
    syswrite($c, cancel_packet($l->{pid}, $l->{key} & ~3));    # no hops left
    close $c;
    my $r = read_result($s, 15);
    ok(!$r->{error}, 'a cancel whose hops are spent is not forwarded: the query ends normally');
    $w[1]->log_like(qr/dropped: forwarded too many times/, 'and weir 2 says why');
    close $s;
    my $c2 = IO::Socket::UNIX->new(Peer => "$d1/.s.PGSQL.$port") or die "unix: $!";
    syswrite($c2, cancel_packet(9 << 24 | 1 << 18 | 1, 12345));
    close $c2;
    ok(wait_until(10, sub { $w[0]->log_text =~ /cancel request for peer 9 ignored: not in \[peers\]/ }),
        'a cancel for a peer not in [peers] is ignored with a log line');
}

my ($o, $e, $rc) = $w[0]->psql('SELECT 1');
is($o, '1', 'weir 1 still serves');
($o, $e, $rc) = WeirTest::_psql($d2, $port, 'SELECT 2');
is($o, '2', 'weir 2 still serves');
$_->stop for @w;
done_testing();

# read_result($sock, $timeout) -> { error => { C => sqlstate, ... } } or {} at ReadyForQuery.
sub read_result {
    my ($s, $timeout) = @_;
    my %r;
    while (1) {
        my ($type, $body) = read_msg($s, $timeout);
        return { closed => 1, %r } unless defined $type;
        if ($type eq 'E') {
            $r{error}{ substr($_, 0, 1) } = substr($_, 1) for grep { length } split /\0/, $body;
        }
        return \%r if $type eq 'Z';
    }
}
