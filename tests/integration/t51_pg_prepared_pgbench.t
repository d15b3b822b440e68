# t51_pg_prepared_pgbench.t -- pgbench -M prepared (named statements, Parse once per client,
# Bind/Execute per statement) in transaction mode: 20 clients on a pool of 5 servers, select-only
# and TPC-B-like. No transaction fails, PostgreSQL never sees more than 5 weir connections, the
# servers hold weir's statements (pg_prepared_statements through weir), SHOW STATS counts the
# parses and binds; the tps of -M prepared and -M extended through weir are printed, not gated.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use IO::Socket::INET;

my $t = WeirTest->new(pgbench => 2, max_connections => 100);
my $mport = free_port();
my $w = $t->start_weir(users => { app => 'apppass', admin => 'adminpass' },
    weir => { pool_mode => 'transaction', default_pool_size => 5, admin_users => 'admin',
        metrics_port => $mport, metrics_addr => '127.0.0.1',
        max_prepared_statements => 200, workers => 2, log_connections => 0,
        log_disconnections => 0 });

# pgbench through weir with a monitor sampling PostgreSQL's view of weir's connections.
# Returns ($tps, $failed, $rc, $max_conns, $out, $err).
sub bench {
    my (@args) = @_;
    my @argv = (WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port, '-U', 'app',
        @args, 'testdb');
    my $job = bg_cmd(\@argv, env => { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' },
        timeout => 90);
    my $max = 0;
    my $end = time + 100;
    while (time < $end && !waitpid($job->{pid}, POSIX::WNOHANG())) {
        my $c = count_server_conns($t, user => 'app', db => 'testdb');
        $max = $c if $c > $max;
        sleep 0.1;
    }
    my $s = WeirTest::slurp($job->{file});
    unlink $job->{file};
    my ($rc, $to, $out, $err) = split /\0/, $s, 4;
    $rc = 'timeout' if $to || !defined $rc;
    $out //= '';
    my $tps = $out =~ /tps = ([\d.]+)/ ? $1 : 'n/a';
    my $failed = $out =~ /number of failed transactions: (\d+)/ ? $1 : 'n/a';
    return ($tps, $failed, $rc, $max, $out, $err // '');
}

sub stats {
    my $dbh = DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0 });
    return {} unless $dbh;
    my $r = $dbh->selectall_hashref('SHOW STATS', 'database');
    $dbh->disconnect;
    return $r->{testdb} // {};
}

my %tps;
for my $case (['select-only', ['-S']], ['tpcb', []]) {
    my ($name, $extra) = @$case;
    for my $mode (qw(prepared extended)) {
        my ($tps, $failed, $rc, $max, $out, $err) =
            bench('-c', 20, '-j', 2, '-T', 10, '-n', '-M', $mode, @$extra);
        is($rc, 0, "$name -M $mode: pgbench exit 0") or diag("$out\n" . substr($err, 0, 3000));
        is($failed, 0, "$name -M $mode: no failed transaction");
        like($out, qr/number of transactions actually processed: [1-9]/,
            "$name -M $mode: transactions processed");
        ok($max >= 1 && $max <= 5, "$name -M $mode: at most 5 server connections (max $max)");
        $tps{"$name $mode"} = $tps;
    }
}
diag(sprintf('tps through weir (20 clients, pool 5): select-only prepared=%s extended=%s; '
        . 'tpcb prepared=%s extended=%s', map { $tps{$_} }
        'select-only prepared', 'select-only extended', 'tpcb prepared', 'tpcb extended'));

my $st = stats();
cmp_ok($st->{total_client_parse_count} // 0, '>=', 20,
    'SHOW STATS: client parses counted (' . ($st->{total_client_parse_count} // 'none') . ')');
cmp_ok($st->{total_server_parse_count} // 0, '>=', 1,
    'SHOW STATS: server parses counted (' . ($st->{total_server_parse_count} // 'none') . ')');
cmp_ok($st->{total_server_parse_count} // 0, '<=', 5 * 7 * 2,
    'server parses: at most one per statement per server connection (7 distinct, 5 servers)');
cmp_ok($st->{total_bind_count} // 0, '>', 1000,
    'SHOW STATS: binds counted (' . ($st->{total_bind_count} // 'none') . ')');

# The servers hold weir's names for pgbench's statements.
{
    my $dbh = $w->dbi;
    my $names = $dbh->selectcol_arrayref(
        q{SELECT name FROM pg_prepared_statements WHERE name LIKE 'weir%' ORDER BY 1});
    ok(@$names >= 1 && !grep({ !/^weir_[0-9a-f]{32}$/ } @$names),
        'a server holds weir_<hash> statements: ' . scalar(@$names));
    $dbh->disconnect;
}

# SHOW MEM reports the statements; /metrics carries the counts.
{
    my $dbh = DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0 });
    my $mem = $dbh ? $dbh->selectall_hashref('SHOW MEM', 'name') : {};
    cmp_ok($mem->{ps_server_stmt}{used} // 0, '>=', 1, 'SHOW MEM: statements held by servers');
    is($mem->{ps_server_stmt}{size} // 0, 40, '... 40 bytes each');
    ok(exists $mem->{ps_client_stmt}, 'SHOW MEM: a row for client statements');
    $dbh->disconnect if $dbh;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport, Timeout => 5);
    my $body = '';
    if ($s) {
        print $s "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
        local $/;
        $body = <$s> // '';
    }
    my ($binds) = $body =~ /^weir_pool_binds_total\{[^}]*database="testdb"[^}]*\} (\d+)/m;
    cmp_ok($binds // 0, '==', $st->{total_bind_count} // -1,
        '/metrics: weir_pool_binds_total as SHOW STATS');
    like($body, qr/^weir_pool_client_parses_total\{/m, '/metrics: client parses');
    like($body, qr/^weir_pool_server_parses_total\{/m, '/metrics: server parses');
}

ok($w->alive, 'weir still running');
$w->stop;
done_testing();
