#!/usr/bin/perl
# t33_metrics.t -- the Prometheus endpoint (metrics_port): every scrape parsed with the
# reference parser (python3-prometheus-client) and a strict check of the text format;
# counters against pgbench's exact transaction count and sysbench through the MySQL port,
# gauges against pg_stat_activity, histograms cumulative, bad and stuck HTTP clients,
# 20 concurrent scrapes under load, a large response to a slow reader, metrics_port = 0.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use JSON::PP;
use WeirTest;
use MyTest;
use PoolTest qw(bg_cmd bg_result);

my $PY = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
{
    my (undef, $err, $rc) = run_cmd([$PY, '-c', 'import prometheus_client.parser']);
    plan skip_all => "python3-prometheus-client is not installed ($err)" if $rc;
}

my $t = WeirTest->new(pgbench => 1);
my $m = MyTest->new;

# ---- metrics_port = 0 (the default) opens nothing ----
# listening_ports($pid) -> sorted TCP ports the process listens on
sub listening_ports {
    my ($pid) = @_;
    my ($out) = run_cmd(['ss', '-Hltnp']);
    my %p;
    for (split /\n/, $out) {
        next unless /pid=$pid,/;
        $p{$1} = 1 if /\S+:(\d+)\s+\S+:\*/;
    }
    return join(',', sort { $a <=> $b } keys %p);
}
{
    my $w0 = $t->start_weir;
    is(listening_ports($w0->pid), $w0->port, 'metrics_port unset: only the PostgreSQL port listens');
    unlike($w0->log_text, qr/Prometheus/, '... and no metrics line in the log');
    $w0->stop;
}

{
    # SO_REUSEPORT would let a metrics socket share a pool port: refused at start.
    my $port = free_port();
    my $wx = $t->start_weir(port => $port, weir => { metrics_port => $port }, expect_fail => 1);
    ok(wait_until(20, sub { !$wx->alive }), 'metrics_port = listen_port: weir exits');
    $wx->log_like(qr/metrics_port \d+ is also a pool port/, '... saying why');
    unlike($wx->log_text, qr/Sanitizer|runtime error/, '... without a sanitizer report');
    $wx->{stopped} = 1;
}

my $mport = free_port();
my $odd = 'q"b\\s';    # a database name that needs escaping in a label value
my %extra_dbs = ($odd => 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb');
$extra_dbs{ sprintf('db%03d', $_) } = 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb'
    for 1 .. 120;
my $w = $m->start_weir(pg => $t, weir => { pool_mode => 'transaction', default_pool_size => 4,
        metrics_port => $mport, workers => 2 },
    databases => \%extra_dbs);
# (start_weir waited for the PostgreSQL port only.)
my $want_ports = join(',', sort { $a <=> $b } $w->port, $w->mysql_port, $mport);
my $ports;
wait_until(10, sub { ($ports = listening_ports($w->pid)) eq $want_ports });
is($ports, $want_ports, 'metrics_port set: the pool ports and the metrics port listen');
ok(wait_until(10, sub { $w->log_text =~ m{Prometheus metrics on http://127\.0\.0\.1:$mport/metrics} }),
    'log names the URL');

# ---- HTTP helpers ----

# http($bytes, %o) -> { status =>, headers => {lc name => value}, body =>, raw =>, closed => }
# Sends $bytes (unless undef), reads until EOF (or o{timeout}).
sub http {
    my ($req, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport, Proto => 'tcp',
        Timeout => 5) or return { error => "connect: $!" };
    syswrite($s, $req) if defined $req;
    my $raw = read_all($s, $o{timeout} // 30);
    close $s;
    return parse_response($raw);
}

# read_all($sock, $timeout) -> bytes read until EOF (undef on timeout)
sub read_all {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $deadline = time + $timeout;
    while (time < $deadline) {
        next unless $sel->can_read(0.2);
        my $n = sysread($s, my $buf, 65536);
        return $raw if !$n;    # EOF (or reset)
        $raw .= $buf;
    }
    return undef;
}

sub parse_response {
    my ($raw) = @_;
    return { error => 'timeout' } unless defined $raw;
    my %r = (raw => $raw);
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my @lines = split /\r\n/, $head // '';
    ($r{status}) = (shift(@lines) // '') =~ m{^HTTP/1\.1 (\d{3}) };
    $r{headers}{ lc $1 } = $2 for map { /^([^:]+):\s*(.*)$/ ? [$1, $2] : () } @lines;
    $r{headers} = { map { lc($_->[0]) => $_->[1] } map { /^([^:]+):\s*(.*)$/ ? [$1, $2] : () } @lines };
    $r{body} = $body;
    return \%r;
}

# A socket to the metrics port with a tiny receive buffer (set before connecting, so the
# window stays small): weir's writes hit EAGAIN after a few KiB.
sub small_rcvbuf_socket {
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "SO_RCVBUF: $!";
    $s->connect(Socket::pack_sockaddr_in($mport, Socket::inet_aton('127.0.0.1')))
        or die "connect: $!";
    return $s;
}

# scrape_conns($pid) -> connections weir holds on the metrics port
sub scrape_conns {
    my ($pid) = @_;
    my ($out) = run_cmd(['ss', '-Htnp', 'state', 'established', "sport = :$mport"]);
    return scalar grep {/pid=$pid,/} split /\n/, $out;
}

sub get_req { my ($path, $v) = @_; return "GET $path HTTP/" . ($v // '1.1') . "\r\nHost: x\r\n\r\n" }

# ---- format checks ----

# check_text($body) -> list of problems with the exposition text (strict 0.0.4 rules)
sub check_text {
    my ($body) = @_;
    my @bad;
    push @bad, 'body does not end with a newline' unless $body =~ /\n\z/;
    my (%seen, $fam, $type, %help);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    for my $l (split /\n/, $body) {
        if ($l =~ /^# HELP ($name_re) (.+)$/) {
            push @bad, "family $1 declared twice" if $seen{$1}++;
            $fam = $1;
            $type = undef;
            $help{$1} = 1;
        } elsif ($l =~ /^# TYPE ($name_re) (counter|gauge|histogram)$/) {
            my $n = $1;
            $type = $2;
            push @bad, "TYPE $n without its HELP just before" unless defined $fam && $fam eq $n;
            push @bad, "counter $n does not end in _total" if $type eq 'counter' && $n !~ /_total$/;
            push @bad, "$n does not start with weir_" unless $n =~ /^weir_/;
        } elsif ($l =~ /^($name_re)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/) {
            my ($n, $labels, $v) = ($1, $2, $3);
            push @bad, "sample $n outside a typed family" unless defined $type;
            next unless defined $type;
            my $ok = $type eq 'histogram' ? $n =~ /^\Q$fam\E_(bucket|sum|count)$/ : $n eq $fam;
            push @bad, "sample $n in family $fam" unless $ok;
            push @bad, "bad value in: $l" unless $v =~ /^(?:[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\+Inf|NaN)$/;
            push @bad, "bucket without le: $l" if $n =~ /_bucket$/ && ($labels // '') !~ /le="/;
        } else {
            push @bad, "line not in the format: $l";
        }
        last if @bad > 10;
    }
    return @bad;
}

my $parser_py = <<'PY';
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for path in sys.argv[1:]:
    try:
        text = open(path, encoding='utf-8').read()
        fams = []
        for f in text_string_to_metric_families(text):
            fams.append({'name': f.name, 'type': f.type, 'help': f.documentation,
                         'samples': [[s.name, s.labels, s.value] for s in f.samples]})
        out.append({'families': fams})
    except Exception as e:
        out.append({'error': repr(e)})
print(json.dumps(out))
PY

# prom_parse(@bodies) -> list of { families => [...] } or { error => ... }, from the reference parser
sub prom_parse {
    my @bodies = @_;
    my @files;
    for my $i (0 .. $#bodies) {
        my $f = $t->tmp . "/scrape$i.txt";
        spew($f, $bodies[$i]);
        push @files, $f;
    }
    my ($out, $err, $rc) = run_cmd([$PY, '-c', $parser_py, @files]);
    unlink @files;
    die "parser failed: $err" if $rc;
    return @{ decode_json($out) };
}

sub lkey {
    my ($labels) = @_;
    return join(',', map {"$_=$labels->{$_}"} sort keys %$labels);
}

# scrape(name) -> { fams => { name => {type, help} }, v => { sample{labels} => value }, body }
# with ok() on status, headers, strict format, the reference parser.
sub scrape {
    my ($what) = @_;
    my $r = http(get_req('/metrics'));
    my $ok = is($r->{status}, 200, "$what: 200") or diag($r->{error} // $r->{raw});
    is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
        "$what: content type") if $ok;
    is($r->{headers}{'content-length'}, length($r->{body} // ''), "$what: content length") if $ok;
    return parsed($what, $r->{body} // '');
}

sub parsed {
    my ($what, $body) = @_;
    my @bad = check_text($body);
    ok(!@bad, "$what: strict format check") or diag(join("\n", @bad));
    my ($p) = prom_parse($body);
    ok(!$p->{error}, "$what: the prometheus_client parser accepts it") or diag($p->{error});
    my (%fams, %v, @dups);
    for my $f (@{ $p->{families} // [] }) {
        push @dups, $f->{name} if $fams{ $f->{name} };
        $fams{ $f->{name} } = { type => $f->{type}, help => $f->{help}, n => scalar @{ $f->{samples} } };
        $v{ $_->[0] . '{' . lkey($_->[1]) . '}' } = $_->[2] for @{ $f->{samples} };
    }
    ok(!@dups, "$what: no two families share a name once parsed") or diag("@dups");
    return { fams => \%fams, v => \%v, body => $body };
}

sub pool_key {
    my ($name, $db, $user, $backend, $extra) = @_;
    my %l = (database => $db, user => $user, backend => $backend // 'postgres',
        pool_mode => 'transaction', %{ $extra // {} });
    return "$name\{" . lkey(\%l) . '}';
}

# ---- an idle scrape ----
my $s0 = scrape('first scrape');
my %want = (
    weir_up => 'gauge', weir_info => 'gauge', weir_start_time_seconds => 'gauge',
    weir_workers => 'gauge', weir_clients_connected => 'gauge', weir_errors => 'counter',
    weir_pool_clients_active => 'gauge', weir_pool_clients_waiting => 'gauge',
    weir_pool_servers_active => 'gauge', weir_pool_servers_idle => 'gauge',
    weir_pool_servers_used => 'gauge', weir_pool_servers_login => 'gauge',
    weir_pool_max_wait_seconds => 'gauge', weir_pool_paused => 'gauge',
    weir_pool_transactions => 'counter', weir_pool_queries => 'counter',
    weir_pool_received_bytes => 'counter', weir_pool_sent_bytes => 'counter',
    weir_pool_errors => 'counter', weir_pool_wait_seconds => 'histogram',
    weir_pool_query_seconds => 'histogram', weir_pool_transaction_seconds => 'histogram',
);
for my $f (sort keys %want) {
    my $got = $s0->{fams}{$f};
    ok($got && $got->{type} eq $want{$f} && length $got->{help}, "family $f: $want{$f} with HELP")
        or diag(explain($got));
}
is($s0->{v}{'weir_up{}'}, 1, 'weir_up 1');
ok(exists $s0->{v}{"weir_info{version=$1}"}, 'weir_info carries the version')
    if `${\WeirTest::weir_bin()} --version` =~ /^weir (\S+)/;
is($s0->{v}{'weir_workers{}'}, 2, 'weir_workers');
my $st = $s0->{v}{'weir_start_time_seconds{}'} // 0;
ok($st > time - 120 && $st <= time + 1, "weir_start_time_seconds is the process start ($st)");
is($s0->{v}{'weir_errors_total{kind=login}'}, 0, 'no login errors yet');

# ---- pgbench, exact counts: a bounded run between two scrapes ----
my $script = $t->tmp . '/txn.sql';
spew($script, "\\set aid random(1, 100000)\nBEGIN;\n"
        . "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
        . "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\nEND;\n");
# warm the pool up so that the measured run starts with servers logged in
$t->pgbench(port => $w->port, args => ['-n', '-f', $script, '-c', 4, '-t', 5]);
my $b1 = scrape('before pgbench');
my ($out, $err, $rc) = $t->pgbench(port => $w->port, args => ['-n', '-f', $script, '-c', 4,
        '-t', 250]);
is($rc, 0, 'pgbench -t 250 -c 4 through weir') or diag($err);
my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
is($done, 1000, 'pgbench processed 1000 transactions');
my $a1 = scrape('after pgbench');
my $tx = pool_key('weir_pool_transactions_total', 'testdb', 'app');
my $qx = pool_key('weir_pool_queries_total', 'testdb', 'app');
is($a1->{v}{$tx} - ($b1->{v}{$tx} // 0), $done, "weir_pool_transactions_total grew by pgbench's count");
is($a1->{v}{$qx} - ($b1->{v}{$qx} // 0), 4 * $done, 'weir_pool_queries_total grew by 4 per transaction');
my $hc = pool_key('weir_pool_transaction_seconds_count', 'testdb', 'app');
is($a1->{v}{$hc} - ($b1->{v}{$hc} // 0), $done, 'transaction histogram _count grew as much');
$hc = pool_key('weir_pool_query_seconds_count', 'testdb', 'app');
is($a1->{v}{$hc} - ($b1->{v}{$hc} // 0), 4 * $done, 'query histogram _count grew 4x as much');
for my $n (qw(weir_pool_received_bytes_total weir_pool_sent_bytes_total weir_pool_query_seconds_sum)) {
    my $k = pool_key($n, 'testdb', 'app');
    ok($a1->{v}{$k} > ($b1->{v}{$k} // 0), "$n grew");
}

# check_histograms($scrape) -> problems: buckets cumulative, +Inf == _count, sums >= 0
sub check_histograms {
    my ($s) = @_;
    my (%series, @bad);
    while (my ($k, $v) = each %{ $s->{v} }) {
        next unless $k =~ /^(weir_pool_\w+_seconds)_bucket\{(.*)\}$/;
        my ($fam, $l) = ($1, $2);
        my ($le) = $l =~ /(?:^|,)le=([^,]+)/;
        (my $rest = $l) =~ s/(?:^|,)le=[^,]+//;
        $series{"$fam\{$rest}"}{$le} = $v;
    }
    for my $sk (sort keys %series) {
        my $bk = $series{$sk};
        my @les = sort { ($a eq '+Inf' ? 9e99 : $a) <=> ($b eq '+Inf' ? 9e99 : $b) } keys %$bk;
        push @bad, "$sk: " . scalar(@les) . ' buckets' unless @les == 17;
        push @bad, "$sk: no +Inf bucket" unless $les[-1] eq '+Inf';
        for my $i (1 .. $#les) {
            push @bad, "$sk: bucket $les[$i] < $les[$i-1]" if $bk->{ $les[$i] } < $bk->{ $les[ $i - 1 ] };
        }
        my ($fam, $rest) = $sk =~ /^(\w+)\{(.*)\}$/;
        my $c = $s->{v}{"${fam}_count\{$rest}"};
        push @bad, "$sk: _count $c != +Inf bucket $bk->{'+Inf'}" unless defined $c && $c == $bk->{'+Inf'};
        my $sum = $s->{v}{"${fam}_sum\{$rest}"};
        push @bad, "$sk: no _sum" unless defined $sum && $sum >= 0;
    }
    push @bad, 'no histogram series' unless %series;
    return @bad;
}

# counters_shrunk($before, $after) -> counter samples that went down
sub counters_shrunk {
    my ($before, $after) = @_;
    my @bad;
    for my $k (keys %{ $before->{v} }) {
        my ($n) = $k =~ /^(\w+)\{/;
        next unless $n =~ /_total$|_bucket$|_sum$|_count$/;
        push @bad, "$k: $before->{v}{$k} -> " . ($after->{v}{$k} // 'gone')
            unless defined $after->{v}{$k} && $after->{v}{$k} >= $before->{v}{$k};
    }
    return @bad;
}

{
    my @bad = check_histograms($a1);
    ok(!@bad, 'histograms: 17 cumulative buckets, _count == +Inf, _sum >= 0') or diag(join("\n", @bad));
    @bad = counters_shrunk($b1, $a1);
    ok(!@bad, 'no counter went down across the pgbench run') or diag(join("\n", @bad));
}

# ---- idle: servers agree with pg_stat_activity ----
{
    my $sum;
    my $n;
    my $agree = wait_until(10, sub {
        my $s = parsed('idle scrape', http(get_req('/metrics'))->{body} // '');
        $sum = 0;
        $sum += $s->{v}{ pool_key("weir_pool_servers_$_", 'testdb', 'app') } // 0
            for qw(active idle used login);
        $n = $t->count_backends;
        return $sum == $n && $s->{v}{ pool_key('weir_pool_clients_active', 'testdb', 'app') } == 0;
    }, 0.3);
    ok($agree, "idle: servers active+idle+used+login ($sum) == weir's backends in pg_stat_activity ($n)");
    ok($n > 0, 'weir keeps servers for testdb');
}

# ---- sysbench through the MySQL port ----
{
    my (undef, $perr, $prc) = $m->sysbench(cmd => 'prepare', tables => 1, table_size => 200);
    is($prc, 0, 'sysbench prepare (direct)') or diag($perr);
    my $bm = scrape('before sysbench');
    my ($sout, $serr, $src, $sst) = $w->sysbench(tables => 1, table_size => 200, threads => 4,
        time => 3, ps => 0);
    is($src, 0, 'sysbench oltp_point_select through weir') or diag($serr);
    my $am = scrape('after sysbench');
    my $k = pool_key('weir_pool_queries_total', 'shop', 'app', 'mysql');
    my $dq = ($am->{v}{$k} // 0) - ($bm->{v}{$k} // 0);
    ok($sst->{queries}, "sysbench reports its queries ($sst->{queries})");
    is($dq, $sst->{queries}, "MySQL pool: weir_pool_queries_total grew by sysbench's queries");
    $k = pool_key('weir_pool_transactions_total', 'shop', 'app', 'mysql');
    is(($am->{v}{$k} // 0) - ($bm->{v}{$k} // 0), $sst->{queries},
        'MySQL pool: every autocommit SELECT is one transaction');
    my @bad = counters_shrunk($bm, $am);
    ok(!@bad, 'no counter went down across sysbench') or diag(join("\n", @bad));
    @bad = check_histograms($am);
    ok(!@bad, 'histograms of the MySQL pool too') or diag(join("\n", @bad));
    my ($sum, $n);
    my $agree = wait_until(10, sub {
        my $s = parsed('idle MySQL scrape', http(get_req('/metrics'))->{body} // '');
        $sum = 0;
        $sum += $s->{v}{ pool_key("weir_pool_servers_$_", 'shop', 'app', 'mysql') } // 0
            for qw(active idle used login);
        $n = $m->count_backends(db => 'shop');
        return $sum == $n;
    }, 0.3);
    ok($agree && $n > 0, "idle: the MySQL pool's servers ($sum) == MariaDB's processlist ($n)");
}

# ---- bad requests, a silent and a half-sent one, while a scrape runs ----
{
    my $silent = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport, Timeout => 5);
    my $half = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport, Timeout => 5);
    syswrite($half, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    my $t0 = time;

    my $r = http("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    is($r->{status}, 405, 'POST /metrics: 405');
    is($r->{headers}{allow}, 'GET, HEAD', '... with Allow');
    is($r->{headers}{connection}, 'close', '... and Connection: close');
    $r = http(get_req('/other'));
    is($r->{status}, 404, 'GET /other: 404');
    $r = http(get_req('/metricsx'));
    is($r->{status}, 404, 'GET /metricsx: 404');
    $r = http("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    is($r->{status}, 400, 'a TLS ClientHello: 400');
    $r = http("GET\r\n\r\n");
    is($r->{status}, 400, 'a request line without target: 400');
    $r = http("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n");
    is($r->{status}, 400, 'a header line without a colon: 400');
    $r = http("GET /metrics SPDY/3\r\n\r\n");
    is($r->{status}, 400, 'not HTTP/1.x: 400');
    $r = http("GET /metrics HTTP/1.1\r\nX-Long: " . ('a' x 9000) . "\r\n\r\n");
    is($r->{status}, 431, 'a head over 8 KiB: 431');
    $r = http("GET /metrics HTTP/1.0\r\n\r\n");
    is($r->{status}, 200, 'HTTP/1.0 GET: 200');
    $r = http("GET /metrics?name[]=weir_up HTTP/1.1\r\nHost: x\r\n\r\n");
    is($r->{status}, 200, 'a query string is ignored: 200');
    $r = http("GET /metrics HTTP/1.1\nHost: x\n\n");
    is($r->{status}, 200, 'bare LF line ends: 200');
    $r = http("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    is($r->{status}, 200, 'HEAD: 200');
    ok($r->{headers}{'content-length'} > 1000 && $r->{body} eq '', '... a length, no body');
    $r = http("HEAD /other HTTP/1.1\r\nHost: x\r\n\r\n");
    ok($r->{status} == 404 && $r->{body} eq '', 'HEAD /other: 404 without a body');
    my $during = scrape('scrape while a silent and a half-sent connection are open');
    ok($during->{v}{'weir_up{}'}, 'the scrape is whole');

    # (The requests above take their time on a busy machine: the close is seen when they are
    # done, so the upper bound is wide; the lower one says the sweep did not come early.)
    for my $c ([$silent, 'silent connection'], [$half, 'half-sent request']) {
        my $got = read_all($c->[0], $t0 + 30 - time);
        my $el = time - $t0;
        ok(defined $got && $got eq '' && $el > 4 && $el < 30,
            sprintf('%s closed by the sweep after %.1fs', $c->[1], $el));
        close $c->[0];
    }
}

# ---- many pools: a response of about a megabyte to a slow reader ----
{
    my $ok = 0;
    for my $i (1 .. 120) {
        my $dbh = DBI->connect(sprintf('dbi:Pg:host=127.0.0.1;port=%d;dbname=db%03d;sslmode=disable',
                $w->port, $i), 'app', 'apppass', { RaiseError => 0, PrintError => 0 });
        $ok++ if $dbh && $dbh->do('SELECT 1');
        $dbh->disconnect if $dbh;
    }
    is($ok, 120, '120 more pools');
    my $s = small_rcvbuf_socket();
    syswrite($s, get_req('/metrics'));
    sleep 0.5;    # weir fills the socket and waits for room
    # (parsed later: the slow reader must not stall for METRICS_WRITE_TIMEOUT)
    my $fr = http(get_req('/metrics'));
    is($fr->{status}, 200, 'a scrape while a slow reader holds a large response');
    my $raw = '';
    while (1) {
        my $n = sysread($s, my $buf, 2048);
        last unless $n;
        $raw .= $buf;
        sleep 0.001 if length($raw) % 65536 < 2048;
    }
    my $r = parse_response($raw);
    is($r->{status}, 200, 'slow reader: 200');
    is(length($r->{body} // ''), $r->{headers}{'content-length'},
        "slow reader: the whole body (" . length($r->{body} // '') . ' bytes)');
    ok(length($r->{body} // '') > 500_000, 'the response is large');
    my $p = parsed('large response', $r->{body} // '');
    my $fast = parsed('the scrape beside it', $fr->{body} // '');
    my $npools = grep {/^weir_pool_paused\{/} keys %{ $p->{v} };
    ok($npools >= 122, "every pool is there ($npools)");
    my @bad = counters_shrunk($p, $fast);
    ok(!@bad, 'no counter went down between the two') or diag(join("\n", @bad[0 .. 5]));

    # A reader that never reads: closed once the write stalls (METRICS_WRITE_TIMEOUT).
    my $stuck = small_rcvbuf_socket();
    syswrite($stuck, get_req('/metrics'));
    my $t0 = time;
    my $gone = wait_until(20, sub { !scrape_conns($w->pid) }, 0.25);
    my $el = time - $t0;
    ok($gone && $el > 4, sprintf('a scraper that stops reading is closed after %.1fs', $el));
    my $got = read_all($stuck, 5) // '';
    ok(length($got) < length($r->{body}), 'it got part of the response ('
            . length($got) . ' bytes)');
    close $stuck;
}

# ---- label escaping ----
{
    # [databases] names come from the file: a quote and a backslash are allowed there.
    my ($o, $e, $c) = $w->psql('SELECT 1', db => $odd);
    is($c, 0, "a client of database $odd") or diag($e);
    my $r = http(get_req('/metrics'));
    like($r->{body}, qr/^weir_pool_queries_total\{database="q\\"b\\\\s",user="app",/m,
        'its label value is escaped in the text');
    my $p = parsed('escaped labels', $r->{body});
    is($p->{v}{ pool_key('weir_pool_queries_total', $odd, 'app') }, 1,
        '... and the parser reads the name back');
}

# ---- 20 concurrent scrapes while pgbench runs ----
{
    my $job = bg_cmd([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port, '-U', 'app',
            '-n', '-f', $script, '-c', 8, '-T', 6, 'testdb'],
        env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' }, timeout => 60);
    sleep 1;
    my @kids;
    for my $i (1 .. 20) {
        push @kids, spawn(sub {
            my $r = http(get_req('/metrics'), timeout => 20);
            spew($t->tmp . "/conc$i.txt", $r->{body} // '');
            return ($r->{status} // 0) == 200 && length($r->{body} // '') == $r->{headers}{'content-length'};
        });
    }
    my $stt = wait_children(\@kids, 60);
    is(scalar(grep { $stt->{$_} eq '0' } @kids), 20, '20 concurrent scrapes under pgbench: all 200, whole');
    my @bodies = map { slurp($t->tmp . "/conc$_.txt") } 1 .. 20;
    my @res = prom_parse(@bodies);
    is(scalar(grep { !$_->{error} && @{ $_->{families} } >= 20 } @res), 20, '... and all parse');
    is(scalar(grep { !check_text($_) } @bodies), 20, '... and pass the strict check');
    my ($pout, $perr, $prc) = bg_result($job, 60);
    is($prc, 0, 'pgbench -T 6 alongside') or diag($perr);
    like($pout, qr/number of failed transactions: 0 /, 'pgbench: no failed transactions');
}

ok($w->alive, 'weir is still running');
$w->stop;
done_testing;
