# t54_pg_prepared_dbd.t -- a real driver's prepared statements through transaction pooling:
# DBD::Pg prepares named statements on the server from a statement's second execution (Parse
# with its own names, Describe, Bind, Execute) and deallocates each one with a DEALLOCATE query when its handle goes. Three processes
# share one server connection; some statements have the same text in every process, some are
# their own; transactions mix with autocommit. Every result is right, no DEALLOCATE fails, and
# the server ends with no more statements than the distinct texts still in use.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;

my $t = WeirTest->new();
my $db = 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb pool_size=1';
my $w = $t->start_weir(databases => { testdb => $db },
    weir => { pool_mode => 'transaction', max_prepared_statements => 200, workers => 2 });

{
    my $dbh = $w->dbi;
    ok($dbh && $dbh->do('CREATE TABLE IF NOT EXISTS t54 (who int, n int)'), 'table created');
}

sub worker {
    my ($who) = @_;
    my $dbh = $w->dbi(attr => { RaiseError => 1, pg_server_prepare => 1 }) or die $DBI::errstr;
    for my $round (1 .. 30) {
        # Shared text: every process prepares it; its own: only this one.
        my $shared = $dbh->prepare('SELECT ?::int * 2 AS v');
        my $own = $dbh->prepare("SELECT ?::int + $who * 1000 AS v");
        $shared->execute($round);
        die "shared: wrong result\n" unless $shared->fetchrow_array == $round * 2;
        # DBD::Pg prepares a named statement from the second execution on.
        for my $k (0, 1) {
            $own->execute($round + $k);
            die "own: wrong result\n" unless $own->fetchrow_array == $who * 1000 + $round + $k;
        }
        $dbh->begin_work;
        my $ins = $dbh->prepare('INSERT INTO t54 (who, n) VALUES (?, ?)');
        $ins->execute($who, $round);
        $shared->execute($round + 1);
        die "in transaction: wrong result\n" unless $shared->fetchrow_array == ($round + 1) * 2;
        $dbh->commit;
        # Going out of scope: DBD::Pg sends DEALLOCATE for each statement.
    }
    my $n = $dbh->selectrow_array('SELECT count(*) FROM t54 WHERE who = ?', undef, $who);
    die "rows: $n\n" unless $n == 30;
    $dbh->disconnect;
    return 1;
}

my @pids = map { my $who = $_; spawn(sub { worker($who) }) } 1 .. 3;
my $st = wait_children(\@pids, 120);
is(scalar(grep { $st->{$_} eq '0' } @pids), 3, '3 DBD::Pg processes on one server: all right');

my $dbh = $w->dbi;
my $left = $dbh->selectcol_arrayref('SELECT name FROM pg_prepared_statements');
cmp_ok(scalar(@$left), '<=', 5, 'the server holds at most the 5 distinct texts (' . scalar(@$left)
    . ')');
unlike($w->log_text, qr/answers to prepared-statement messages still expected/,
    'no release with answers outstanding');
ok($w->alive, 'weir still running');
$w->stop;
done_testing();
