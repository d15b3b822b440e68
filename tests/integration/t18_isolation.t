# t18_isolation.t -- one client's protocol mistake never reaches another client. On a
# transaction pool of one server: a client B holds the server in a transaction, a client A
# sends something the protocol does not allow (an unknown message type, 'p' after login, a
# Flush with a body, a Sync with a body, a non-COPY message during COPY), alone or after valid
# messages that are already on their way, a client C queues a SELECT behind them, B commits.
# A gets 08P01 and is closed; C gets its own answer; the server stays pooled. Then 20 such
# clients during a pgbench run, which must lose nothing; and protocol 3.x minor versions and
# `_pq_.` options, answered with NegotiateProtocolVersion as the server does.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
$t->pgbench_init(1);
my $w = $t->start_weir(weir => { default_pool_size => 1, pool_mode => 'transaction',
        workers => 2, query_wait_timeout => 60 });

sub login {
    my $s = $w->socket;
    my $r = raw_login($s);
    ok($r->{ok}, 'raw login') or diag(explain($r));
    return $s;
}

# Reads until ReadyForQuery; returns { types => 'TDCZ...', rows => [..], error => {..} }.
sub answer {
    my ($s, $timeout) = @_;
    my %r = (types => '', rows => []);
    while (1) {
        my ($type, $body) = read_msg($s, $timeout // 20);
        return { %r, closed => 1 } unless defined $type;
        $r{types} .= $type;
        if ($type eq 'D') {
            my $len = unpack('l>', substr($body, 2, 4));
            push @{ $r{rows} }, substr($body, 6, $len);
        } elsif ($type eq 'E') {
            $r{error} = parse_error_fields($body);
        } elsif ($type eq 'Z') {
            return \%r;
        }
    }
}

# Reads the offender's answer: an ErrorResponse 08P01, then the close.
sub refused {
    my ($s, $what) = @_;
    my ($type, $body);
    do { ($type, $body) = read_msg($s, 20) } while (defined $type && $type ne 'E');
    my $e = parse_error_fields($body);
    is($e->{C}, '08P01', "$what: the offender gets 08P01") or diag(explain($e));
    ok(sock_closed($s, 10), "$what: the offender is disconnected");
    return $e;
}

my @cases = (
    [ 'message type 0x00', pg_msg("\0", '') ],
    [ "'p' after login", pg_msg('p', "secret\0") ],
    [ 'a Flush with a body', pg_msg('H', 'abc') ],
    [ 'a Sync with a body', pg_msg('S', 'x') ],
    [ 'a Query without its NUL', pg_msg('Q', '') ],
    [ 'a valid query, then message type 0x00',
        pg_msg('Q', "SELECT pg_sleep(0.2)\0") . pg_msg("\0", '') ],
    [ 'Parse and Bind, then a Flush with a body',
        pg_msg('P', "\0SELECT 1\0\0\0") . pg_msg('B', "\0\0\0\0\0\0\0\0") . pg_msg('H', 'zz') ],
    [ 'a valid Execute pipeline, then garbage types',
        pg_msg('P', "\0SELECT 2\0\0\0") . pg_msg('B', "\0\0\0\0\0\0\0\0")
            . pg_msg('E', "\0\0\0\0\0") . "\x01\x00\x00\x00\x04" ],
);

for my $case (@cases) {
    my ($what, $bytes) = @$case;
    my $b = login();
    my $r = raw_query($b, 'BEGIN');
    is($r->{status}, 'T', "$what: B holds the only server in a transaction");
    raw_query($b, 'SELECT 1');
    my $a = login();
    syswrite($a, $bytes);
    my $c = login();
    syswrite($c, pg_msg('Q', "SELECT 'c-' || 42\0"));
    sleep 0.2;    # A and C queue behind B (or A is refused at once: both are fine)
    $r = raw_query($b, 'COMMIT');
    is($r->{status}, 'I', "$what: B commits");
    refused($a, $what);
    my $ans = answer($c);
    is_deeply($ans->{rows}, ['c-42'], "$what: C gets its own answer")
        or diag(explain($ans));
    ok(!$ans->{error}, "$what: C sees no error");
    # The one server is pooled and serves everyone again.
    $r = raw_query($b, 'SELECT 7');
    is($r->{rows}[0][0], 7, "$what: B is served again");
    $r = raw_query($c, 'SELECT 8');
    is($r->{rows}[0][0], 8, "$what: C is served again");
    close $_ for $a, $b, $c;
}

# ---- COPY: only COPY messages (and Flush/Sync) while the server waits for data -------------
{
    my $c = login();
    raw_query($c, 'CREATE TABLE IF NOT EXISTS t18_copy (v int)');
    syswrite($c, pg_msg('Q', "COPY t18_copy FROM STDIN\0"));
    my ($type) = read_msg($c, 10);
    is($type, 'G', 'COPY FROM STDIN: CopyInResponse');
    syswrite($c, pg_msg('d', "1\n") . pg_msg('Q', "SELECT 1\0"));
    refused($c, 'a Query during COPY');
    my $d = login();
    my $r = raw_query($d, 'SELECT count(*) FROM t18_copy');
    is($r->{rows}[0][0], 0, 'the interrupted COPY left nothing behind');
    is($r->{status}, 'I', 'the next client gets a clean server');
    close $d;
}

# ---- 20 offenders during a pgbench run -------------------------------------------------------
{
    my $bench = spawn(sub {
        my ($out, $err, $rc) = $t->pgbench(port => $w->port,
            args => ['-c', 4, '-j', 2, '-t', 150, '-n'], timeout => 240);
        print STDERR "pgbench rc=$rc\n$out$err" if $rc || $out !~ /processed: 600\/600/;
        return $rc == 0 && $out =~ /processed: 600\/600/;
    });
    my ($refused, $n) = (0, 20);
    for my $i (1 .. $n) {
        my $s = $w->socket;
        my $r = raw_login($s);
        next unless $r->{ok};
        syswrite($s, $i % 2 ? pg_msg("\0", '') : pg_msg('H', 'junk'));
        my ($type, $body);
        do { ($type, $body) = read_msg($s, 60) } while (defined $type && $type ne 'E');
        $refused++ if ($type // '') eq 'E' && parse_error_fields($body)->{C} eq '08P01';
        close $s;
        sleep 0.05;
    }
    is($refused, $n, "$n offenders during pgbench each got 08P01");
    my $st = wait_children([$bench], 240);
    is($st->{$bench}, 0, 'pgbench -c 4 -t 150 alongside: every transaction processed, none failed');
}

# ---- protocol minor versions and protocol options --------------------------------------------
{
    my $s = $w->socket;
    my $r = raw_login($s, version => 3 << 16 | 99, extra => { '_pq_.weird_option' => 'on' });
    ok($r->{ok}, 'a client asking for protocol 3.99 with a _pq_ option logs in')
        or diag(explain($r));
    is($r->{negotiate}{minor}, 0, 'NegotiateProtocolVersion offers 3.0');
    is_deeply($r->{negotiate}{options}, ['_pq_.weird_option'],
        'NegotiateProtocolVersion names the unrecognised option');
    $r = raw_query($s, 'SELECT 5');
    is($r->{rows}[0][0], 5, 'the session works in 3.0');
    close $s;

    $s = $w->socket;
    $r = raw_login($s);
    ok($r->{ok} && !$r->{negotiate}, 'a 3.0 client gets no NegotiateProtocolVersion');
    close $s;

    $s = $w->socket;
    $r = raw_login($s, version => 4 << 16);
    is($r->{error}{C}, '0A000', 'protocol 4.0 is refused with 0A000');
    close $s;
}

my $log = $w->log_text;
like($log, qr/error 08P01: invalid frontend message type 0x00/,
    'the log names the refused message type');
like($log, qr/error 08P01: invalid message format 'H'/, 'the log names the malformed Flush');
ok($w->alive, 'weir still running');
$w->stop;
done_testing;
