# t94_extended_session_state.t -- settings made through the extended protocol follow their
# client too (libpq's PQexecParams: Parse of the unnamed statement, Bind, Execute, Sync), with
# two connections taking turns on one server in transaction pooling: a SET is kept, one in a
# rolled-back block is not, a pipeline whose implicit transaction fails keeps nothing of it,
# one with a Sync after each statement keeps what came before the error; a SET prepared as a
# named statement pins its client (it may run at any time); RESET returns the options value.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;

my $t = WeirTest->new;
{
    my $dbh = $t->pg_admin_dbi('testdb');
    $dbh->do('CREATE SCHEMA b_schema AUTHORIZATION app');
    $dbh->disconnect;
}
my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 1,
        admin_users => 'app' });
my $dflt = $t->pg_admin_dbi('testdb')->selectrow_array('SHOW search_path');
my $conninfo = 'host=127.0.0.1 port=' . $w->port . ' dbname=testdb user=app password=apppass '
    . 'sslmode=disable application_name=ext';

sub steps {
    my (@steps) = @_;
    my ($out, $err, $rc) = run_cmd([WeirTest::client_bin('sess_ext'), $conninfo, @steps],
        timeout => 60, env => { PGOPTIONS => '' });
    is($rc, 0, 'sess_ext ran') or diag($err);
    return [ split /\n/, $out ];
}

my $r = steps('1q:SELECT 1', '2q:SELECT 1', '1p:SET search_path = b_schema', '2q:SHOW search_path',
    '1p:SHOW search_path', '2p:SHOW search_path', '1q:SHOW search_path');
is_deeply($r, [ '1', '1', 'SET', $dflt, 'b_schema', $dflt, 'b_schema' ],
    'a SET through the extended protocol follows its client only');

$r = steps('1p:BEGIN', q{1p:SET work_mem = '9MB'}, '1p:ROLLBACK', '2q:SELECT 1', '1p:SHOW work_mem');
is($r->[4], '4MB', 'a SET in a rolled-back block is not kept');

$r = steps("1P:SET statement_timeout = 2222\nSELECT 1/0\nSET work_mem = '3MB'", '2q:SELECT 1',
    '1p:SHOW statement_timeout');
like($r->[0], qr/^SET,ERR 22012/, 'a pipeline whose one implicit transaction fails');
is($r->[2], '0', 'keeps nothing of it');

$r = steps("1S:SET statement_timeout = 2222\nSELECT 1/0\nSET work_mem = '3MB'", '2q:SELECT 1',
    '1p:SHOW statement_timeout', '1p:SHOW work_mem', '2p:SHOW statement_timeout');
is_deeply([ @$r[2 .. 4] ], [ '2222ms', '3MB', '0' ],
    'a pipeline with a Sync after each statement keeps what succeeded, for its client only');

# A named prepared SET may run whenever the client likes: it keeps its server (two servers
# here: the other client never gets the pinned one).
{
    my $w2 = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 2 });
    (my $ci = $conninfo) =~ s/port=\d+/'port=' . $w2->port/e;
    my ($out, $err, $rc) = run_cmd([WeirTest::client_bin('sess_ext'), $ci,
            '1n:SET search_path = b_schema', map { ('1q:SELECT pg_backend_pid()',
                '2q:SELECT pg_backend_pid()', '2q:SHOW search_path') } 1 .. 3],
        timeout => 60);
    my @l = split /\n/, $out;
    my %one = map { $l[$_] => 1 } (1, 4, 7);
    my %two = map { $l[$_] => 1 } (2, 5, 8);
    is(scalar(keys %one), 1, 'a named SET pins its client to one server') or diag("$out\n$err");
    ok(!grep({ $one{$_} } keys %two), "which the other client never gets") or diag($out);
    is(join(',', @l[3, 6, 9]), "$dflt,$dflt,$dflt", 'nor its setting');
    $w2->stop;
}

# options -c through PQexecParams: RESET (simple Query) returns it, extended RESET the default.
{
    my ($out, $err, $rc) = run_cmd([WeirTest::client_bin('sess_ext'), $conninfo,
            '1q:SET search_path = public', '1q:RESET search_path', '1p:SHOW search_path',
            '2q:SHOW search_path'], timeout => 60, env => { PGOPTIONS => '-c search_path=b_schema' });
    is($out, "SET\nRESET\nb_schema\nb_schema\n", 'RESET returns the options value') or diag($err);
}
$w->stop;
done_testing();
