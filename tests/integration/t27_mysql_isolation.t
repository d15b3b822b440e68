# t27_mysql_isolation.t -- one MySQL client's protocol mistake never reaches another client,
# and neither port serves the other protocol's databases. On a transaction pool of one server:
# B holds the server in a transaction, A sends a command whose sequence id is not 0 (alone, or
# after a valid command already on its way), C queues a SELECT, B commits. A gets ERR 1156 and
# is closed; C gets its own result. Then a PostgreSQL client asking for a MySQL entry and a
# MySQL client asking for a PostgreSQL entry each get their protocol's error while pgbench and
# a MySQL client run alongside, losing nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
$t->pgbench_init(1);
my $m = MyTest->new;
my $w = $m->start_weir(pg => $t, weir => { pool_mode => 'transaction', default_pool_size => 1,
        query_wait_timeout => 60 });

sub login {
    my $s = $w->my_socket;
    my $r = my_login($s);
    ok($r->{ok}, 'raw MySQL login through weir') or diag(explain($r));
    return $s;
}

# The offender's answer: an ERR packet, then the close.
sub refused {
    my ($s, $what) = @_;
    my ($seq, $p) = my_read_packet($s, 30);
    my $e = defined $p && ord($p) == 0xff ? my_parse_err($p) : {};
    is($e->{code}, 1156, "$what: the offender gets ERR 1156") or diag(explain($e));
    like($e->{msg} // '', qr/sequence id 0/, "$what: the error says a command starts at 0");
    ok(sock_closed($s, 10), "$what: the offender is disconnected");
}

my @cases = (
    [ 'COM_QUERY with sequence id 5', my_packet(5, "\x03SELECT 1") ],
    [ 'COM_PING with sequence id 1', my_packet(1, "\x0e") ],
    [ 'a valid query, then a COM_QUERY with sequence id 3',
        my_packet(0, "\x03SELECT SLEEP(0.2)") . my_packet(3, "\x03SELECT 2") ],
);
for my $case (@cases) {
    my ($what, $bytes) = @$case;
    my $b = login();
    my $r = my_query($b, 'BEGIN');
    ok(!$r->{error}, "$what: B begins");
    $r = my_query($b, 'SELECT 1');
    is($r->{results}[0]{rows}[0][0], 1, "$what: B holds the only server in a transaction");
    my $a = login();
    syswrite($a, $bytes);
    my $c = login();
    syswrite($c, my_packet(0, "\x03SELECT CONCAT('c-', 42)"));
    sleep 0.2;    # A and C queue behind B (or A is refused at once: both are fine)
    $r = my_query($b, 'COMMIT');
    ok(!$r->{error}, "$what: B commits");
    refused($a, $what);
    $r = my_read_result($c, 30);
    is($r->{results}[0]{rows}[0][0], 'c-42', "$what: C gets its own result")
        or diag(explain($r));
    ok(!$r->{error}, "$what: C sees no error");
    $r = my_query($b, 'SELECT 7');
    is($r->{results}[0]{rows}[0][0], 7, "$what: B is served again");
    $r = my_query($c, 'SELECT 8');
    is($r->{results}[0]{rows}[0][0], 8, "$what: C is served again");
    close $_ for $a, $b, $c;
}

# ---- each port refuses the other protocol's databases, nothing else is disturbed ------------
{
    my $bench = spawn(sub {
        my ($out, $err, $rc) = $t->pgbench(port => $w->port,
            args => ['-c', 2, '-t', 100, '-n', '-S'], timeout => 180);
        print STDERR "pgbench rc=$rc\n$out$err" if $rc || $out !~ /processed: 200\/200/;
        return $rc == 0 && $out =~ /processed: 200\/200/;
    });
    my $myloop = spawn(sub {
        my $d = $w->my_dbi(db => 'shop') or return 0;
        for my $i (1 .. 200) {
            my ($v) = $d->selectrow_array("SELECT $i + 1");
            return 0 unless defined $v && $v == $i + 1;
        }
        return 1;
    });
    for my $i (1 .. 5) {
        my ($out, $err, $rc) = $w->psql('SELECT 1', db => 'shop');
        isnt($rc, 0, "psql asking for the MySQL entry shop fails ($i)");
        like($err, qr/is a MySQL database, served on weir's MySQL port/,
            "psql is told that shop is a MySQL database ($i)");
        my ($o2, $e2, $rc2) = $w->mariadb('SELECT 1', db => 'testdb');
        isnt($rc2, 0, "mariadb asking for the PostgreSQL entry testdb fails ($i)");
        is(mariadb_err_code($e2), 1049, "mariadb gets 1049 for testdb ($i)") or diag($e2);
        like($e2, qr/is a PostgreSQL database/, "mariadb is told why ($i)");
    }
    # Raw: the startup packet of a PostgreSQL client for shop, answered with 3D000.
    my $s = $w->socket;
    my $r = raw_login($s, database => 'shop');
    is($r->{error}{C}, '3D000', 'a raw PostgreSQL login to shop gets 3D000');
    close $s;
    my $st = wait_children([$bench, $myloop], 180);
    is($st->{$bench}, 0, 'pgbench alongside: every transaction processed');
    is($st->{$myloop}, 0, 'a MySQL client alongside: every query answered');
    my ($out) = $w->psql('SELECT 40 + 2');
    is($out, '42', 'the PostgreSQL port still serves');
    ($out) = $w->mariadb('SELECT 40 + 2');
    chomp $out if defined $out;
    is($out, '42', 'the MySQL port still serves');
}

$w->log_like(qr/error 08P01: Got packets out of order/, 'the log names the offence');
ok($w->alive, 'weir still running');
$w->stop;
done_testing;
