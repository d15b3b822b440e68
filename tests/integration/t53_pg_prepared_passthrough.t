# t53_pg_prepared_passthrough.t -- where weir keeps no statements they pass through untouched:
# max_prepared_statements = 0 in transaction pooling, and session pooling whatever the setting.
# The server then knows the client's own names, and SHOW STATS counts no parse. A reload to 0
# applies to clients that log in afterwards; those before keep their statements.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use PsTest;
use Test::More;

my $t = WeirTest->new();
my %users = (app => 'apppass', admin => 'adminpass');

for my $case (['transaction', 0], ['session', 200]) {
    my ($mode, $max) = @$case;
    my $db = 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb pool_size=1';
    my $w = $t->start_weir(users => \%users, databases => { testdb => $db },
        weir => { pool_mode => $mode, max_prepared_statements => $max, admin_users => 'admin' });
    my $label = "$mode pooling, max_prepared_statements=$max";
    my $a = ps_client($w);
    my $r = exchange($a, 1, parse('mine', 'SELECT $1::int * 3', 23), bind('', 'mine', 5),
        execute(), sync());
    is(types($r), '12DCZ', "$label: Parse, Bind, Execute");
    is(rows_of($r)->[0][0], 15, '... with the result');
    is_deeply(server_names($a), ['mine'], "... the server knows the client's own name");
    $r = exchange($a, 1, query('DEALLOCATE mine'));
    is($r->[0][1], "DEALLOCATE\0", '... DEALLOCATE goes to the server');
    is_deeply(server_names($a), [], '... which forgot the statement');
    my $adm = DBI->connect('dbi:Pg:host=127.0.0.1;port=' . $w->port . ';dbname=weir;sslmode=disable',
        'admin', 'adminpass', { RaiseError => 0, PrintError => 0 });
    my $st = $adm ? $adm->selectall_hashref('SHOW STATS', 'database')->{testdb} : {};
    is($st->{total_client_parse_count} // -1, 0, '... no parse counted');
    is($st->{total_bind_count} // -1, 0, '... no bind counted');
    $adm->disconnect if $adm;
    close $a;
    $w->stop;
}

# ---- a reload to max_prepared_statements = 0 ----
{
    my $db = 'host=127.0.0.1 port=' . $t->pgport . ' dbname=testdb pool_size=1';
    my $w = $t->start_weir(databases => { testdb => $db },
        weir => { pool_mode => 'transaction', max_prepared_statements => 200 });
    my $a = ps_client($w);
    exchange($a, 1, parse('kept', 'SELECT 41 + 1'), sync());
    my $conf = $w->{conf};
    my $text = slurp($conf);
    $text =~ s/^max_prepared_statements = 200$/max_prepared_statements = 0/m or die 'no key';
    spew($conf, $text);
    kill 'HUP', $w->pid;
    ok(wait_until(10, sub { $w->log_text =~ /configuration reloaded from/ }), 'reloaded');
    my $b = ps_client($w);
    my $r = exchange($b, 1, parse('own', 'SELECT 7'), bind('', 'own'), execute(), sync());
    is(rows_of($r)->[0][0], 7, 'a client logged in after the reload prepares');
    ok((grep { $_ eq 'own' } @{ server_names($b) }), '... under its own name on the server');
    $r = exchange($a, 1, bind('', 'kept'), execute(), sync());
    is(rows_of($r)->[0][0], 42, 'a client from before keeps its statement')
        or diag(join(' ', %{ err_of($r) }));
    $r = exchange($b, 1, query('DEALLOCATE ALL'));
    is($r->[0][1], "DEALLOCATE ALL\0", 'the newer client deallocates everything on the server');
    $r = exchange($a, 1, bind('', 'kept'), execute(), sync());
    is(rows_of($r)->[0][0], 42, '... and the older client\'s statement is prepared there again')
        or diag(join(' ', %{ err_of($r) }));
    $w->stop;
}

done_testing();
