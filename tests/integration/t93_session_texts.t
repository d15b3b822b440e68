# t93_session_texts.t -- texts that must not fool weir's reading of session state, through a
# real server in transaction pooling with one server that two clients take turns on: string
# literals, comments and dollar quotes that look like statements change nothing; statements
# joined by semicolons and hidden behind comments are all seen; SET SESSION CHARACTERISTICS
# follows its client; a DO block that touches the session, and a savepoint rollback over a
# setting whose outcome weir cannot know, pin the client instead of guessing; a failed COMMIT
# keeps nothing. After each step the other client checks it sees nothing of it.
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
    $dbh->do('CREATE TABLE deferred_t (id int PRIMARY KEY, parent int REFERENCES deferred_t '
            . 'DEFERRABLE INITIALLY DEFERRED)');
    $dbh->do('ALTER TABLE deferred_t OWNER TO app');
    $dbh->disconnect;
}
my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => 1,
        admin_users => 'app' });
my $dflt = $t->pg_admin_dbi('testdb')->selectrow_array('SHOW search_path');

sub client {
    my ($app) = @_;
    my $d = $w->dbi(appname => $app, attr => { pg_server_prepare => 0 });
    ok($d, "$app connects") or diag($DBI::errstr);
    return $d;
}
sub one {
    my ($d, $sql) = @_;
    my ($v) = $d->selectrow_array($sql);
    return $v // ($d->errstr // 'NULL');
}
sub pinned {
    my ($app) = @_;
    my $adm = $w->dbi(db => 'weir', attr => { pg_server_prepare => 0 });
    my ($row) = grep { ($_->{application_name} // '') eq $app }
        @{ $adm->selectall_arrayref('SHOW CLIENTS', { Slice => {} }) };
    $adm->disconnect;
    return $row ? $row->{pinned} : 'no row';
}

my $a = client('a');
my $b = client('b');
my $pid = one($a, 'SELECT pg_backend_pid()');
is(one($b, 'SELECT pg_backend_pid()'), $pid, 'the two clients share the one server');

# Looks like a statement, is none.
for my $sql (q{SELECT 'SET search_path = b_schema'}, q{SELECT $$; SET search_path = b_schema; $$},
    qq{SELECT 1 -- ; SET search_path = b_schema\n}, q{/* SET search_path = b_schema; */ SELECT 1},
    q{SELECT 'LISTEN x; CREATE TEMP TABLE y (z int)'}) {
    ok($a->do($sql), "runs: " . ($sql =~ s{\n}{}r));
    is(one($a, "SHOW search_path"), $dflt, "... changes nothing");
}
is(pinned('a'), '', 'none of them pinned the client');

# Joined by semicolons, behind comments: all seen.
ok($a->do(qq{SELECT 1; /* a comment; with a semicolon */ SET search_path = b_schema; -- done\n}),
    'SET after a comment in a multi-statement text');
is(one($a, 'SHOW search_path'), 'b_schema', 'the SET follows its client');
is(one($b, 'SHOW search_path'), $dflt, 'the other client on the same server does not see it');
is(one($a, 'SHOW search_path'), 'b_schema', 'and it is back for its client');
ok($a->do('SET search_path TO DEFAULT'), 'SET ... TO DEFAULT');
is(one($a, 'SHOW search_path'), $dflt, 'is a RESET');

ok($a->do('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE'),
    'SET SESSION CHARACTERISTICS');
is(one($b, 'SHOW default_transaction_isolation'), 'read committed', 'not seen by the other');
is(one($a, 'SHOW default_transaction_isolation'), 'serializable', 'kept by its client');
ok($a->do('RESET default_transaction_isolation'), 'RESET it');

# A COMMIT that fails (a deferred constraint) rolls back: the SET in its block is not kept.
$a->begin_work;
$a->do('SET search_path = b_schema');
ok($a->do('INSERT INTO public.deferred_t VALUES (1, 42)'), 'an INSERT whose check is deferred') or diag($a->errstr);
$a->commit;    # DBD::Pg returns true here; the error is in errstr
like($a->errstr // '', qr/violates foreign key constraint/, 'a COMMIT that fails');
is(one($a, 'SHOW search_path'), $dflt, 'its block\'s SET is not kept');
is(pinned('a'), '', 'and nothing pinned');

# What weir cannot know pins instead of guessing.
ok($a->do('BEGIN; SET search_path = b_schema; SAVEPOINT s; SET work_mem = 1000; '
        . 'ROLLBACK TO s; COMMIT'), 'a savepoint rolled back over settings');
is(one($a, 'SHOW search_path') . ' ' . one($a, 'SHOW work_mem'), 'b_schema 4MB',
    'the server kept what PostgreSQL kept');
is(pinned('a'), 'set', 'the client is pinned (reason set)');
$a->disconnect;
is(one($b, 'SHOW search_path'), $dflt, 'after it left, its server was reset for the other');

my $c = client('c');
ok($c->do(q{DO $$BEGIN PERFORM set_config('search_path', 'b_schema', false); END$$}),
    'a DO block that changes a setting');
is(pinned('c'), 'other', 'pins its client (reason other)');
is(one($c, 'SHOW search_path'), 'b_schema', 'which keeps its setting');
$c->disconnect;
is(one($b, 'SHOW search_path'), $dflt, 'nobody else sees it');
$b->disconnect;
$w->stop;
done_testing();
