# t09_cancel_storm.t -- a hundred cancels at once, on both ports: 100 PostgreSQL clients
# running pg_sleep(60) through weir are cancelled within a fraction of a second and all 100
# end with 57014; 100 MySQL clients running SLEEP(60) get KILL QUERY through weir and all
# 100 are interrupted. weir logs "forwarded" once per request it really sent, none "not
# sent", and a pgbench run and a MySQL client alongside go on untouched.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $N = 100;
my $LIMIT = 180;    # generous: the machine may be busy; no test here is about speed
my $t = WeirTest->new(max_connections => 300);
my $m = MyTest->new(max_connections => 300);
my $tmp = $t->tmp;
my $w = $m->start_weir(pg => $t,
    weir => { pool_mode => 'transaction', default_pool_size => $N + 10, workers => 2 });

# run_client(\@argv, $name, \%env) -> pid of a child running argv (with env added), its
# stdout and stderr in $tmp/$name.out and .err
sub run_client {
    my ($argv, $name, $env) = @_;
    return spawn(sub {
        $ENV{$_} = $env->{$_} for keys %{ $env // {} };
        open STDOUT, '>', "$tmp/$name.out" or die $!;
        open STDERR, '>', "$tmp/$name.err" or die $!;
        exec { $argv->[0] } @$argv or die "exec $argv->[0]: $!";
    });
}

# took($what) -> "min/median/max ms" from request to the server's answer, as weir logged them
sub took {
    my ($what) = @_;
    my @ms = sort { $a <=> $b } $w->log_text =~ /\Q$what\E forwarded to S-\d+ \((\d+) ms\)/g;
    return @ms ? "$ms[0]/$ms[$#ms / 2]/$ms[-1] ms" : 'none';
}

sub count_log {
    my ($re) = @_;
    return scalar(() = $w->log_text =~ /$re/g);
}

# ---- PostgreSQL: 100 CancelRequests at once -------------------------------------------------
{
    my $go = "$tmp/pg.go";
    my $conninfo = 'host=127.0.0.1 port=' . $w->port
        . ' dbname=testdb user=app password=apppass sslmode=disable';
    my $direct = 'host=127.0.0.1 port=' . $t->pgport
        . ' dbname=testdb user=app password=apppass sslmode=disable';
    my $storm = run_client([WeirTest::client_bin('cancel_storm'), $conninfo, $direct, $N, $go,
            $LIMIT], 'pg_storm');
    ok(wait_until($LIMIT, sub { (slurp("$tmp/pg_storm.out") // '') =~ /running/ }),
        "PostgreSQL runs all $N pg_sleep(60) sent through weir")
        or diag(slurp("$tmp/pg_storm.err"));

    # A pgbench alongside, on the same pool, sure to be running when the cancels go.
    spew("$tmp/select1.sql", "SELECT 1;\n");
    my $bench = run_client([WeirTest::pg_bin('pgbench'), '-h', '127.0.0.1', '-p', $w->port,
            '-U', 'app', '-n', '-c', 4, '-j', 2, '-T', 6, '-P', 1, '-f', "$tmp/select1.sql",
            'testdb'], 'bench', { PGPASSWORD => 'apppass', PGSSLMODE => 'disable' });
    ok(wait_until($LIMIT, sub { (slurp("$tmp/bench.err") // '') =~ /progress:/ }),
        'pgbench is running alongside');
    spew($go, '');
    my $st = wait_children([$storm], $LIMIT);
    my $line = (grep {/^cancel_storm:/} split /\n/, slurp("$tmp/pg_storm.out") // '')[0] // '';
    diag("PostgreSQL: $line");
    is($st->{$storm}, 0, "all $N PostgreSQL queries ended with 57014")
        or diag(slurp("$tmp/pg_storm.err"));
    my ($sent_in) = $line =~ /sent_in=([\d.]+)s/;
    ok(defined $sent_in && $sent_in < 5, "the $N cancel requests were all sent ("
            . ($sent_in // '?') . 's)');
    ok(wait_until($LIMIT, sub { count_log(qr/cancel request forwarded to S-/) >= $N }),
        "weir logged $N cancel requests forwarded")
        or diag('forwarded: ' . count_log(qr/cancel request forwarded to S-/));
    is(count_log(qr/cancel request forwarded to S-/), $N, '... no more than that');
    diag('PostgreSQL: request to server answer, min/median/max: ' . took('cancel request'));
    is(count_log(qr/not sent/), 0, '... and none "not sent"');
    my $bst = wait_children([$bench], $LIMIT);
    my $bout = (slurp("$tmp/bench.out") // '') . (slurp("$tmp/bench.err") // '');
    is($bst->{$bench}, 0, 'pgbench alongside finished without an error') or diag($bout);
    my ($tx) = $bout =~ /number of transactions actually processed: (\d+)/;
    ok(($tx // 0) > 0, 'pgbench ran ' . ($tx // 0) . ' transactions');
    unlike($bout, qr/aborted|failed transactions: [1-9]/, "pgbench: none aborted or failed");
    ok(wait_until(30, sub {
        !grep { ($_->{query} // '') =~ /pg_sleep\(60\)/ && ($_->{state} // '') eq 'active' }
            @{ $t->backends };
    }), 'no pg_sleep(60) left running in PostgreSQL');
}

# ---- MySQL: 100 KILL QUERY through weir at once ---------------------------------------------
{
    my $go = "$tmp/my.go";
    my $stop = "$tmp/my.stop";
    my $storm = run_client([WeirTest::client_bin('my_kill_storm'), '127.0.0.1', $w->mysql_port,
            $m->port, 'app', 'apppass', 'shop', $N, $go, $LIMIT], 'my_storm');
    ok(wait_until($LIMIT, sub { (slurp("$tmp/my_storm.out") // '') =~ /running/ }),
        "MariaDB runs all $N SLEEP(60) sent through weir")
        or diag(slurp("$tmp/my_storm.err"));

    # A client alongside: short SLEEPs and SELECTs until told to stop; none may be touched.
    my $by = spawn(sub {
        my $h = $w->my_dbi or die "bystander connect: $DBI::errstr";
        my ($n, $bad) = (0, 0);
        while (!-e $stop) {
            my ($v) = $h->selectrow_array('SELECT SLEEP(0.1)');
            my ($one) = $h->selectrow_array('SELECT 1');
            $bad++ unless defined $v && $v eq '0' && defined $one && $one eq '1';
            $n++;
            spew("$tmp/by.count", "$n $bad");
        }
        return 1;
    });
    ok(wait_until($LIMIT, sub { -s "$tmp/by.count" }), 'the bystander runs');
    spew($go, '');
    my $st = wait_children([$storm], $LIMIT);
    my $line = (grep {/^my_kill_storm:/} split /\n/, slurp("$tmp/my_storm.out") // '')[0] // '';
    diag("MySQL: $line");
    is($st->{$storm}, 0, "all $N SLEEP(60) interrupted by KILL QUERY through weir")
        or diag(slurp("$tmp/my_storm.err"));
    ok(wait_until($LIMIT, sub { count_log(qr/KILL QUERY forwarded to S-/) >= $N }),
        "weir logged $N KILL QUERY forwarded")
        or diag('forwarded: ' . count_log(qr/KILL QUERY forwarded to S-/));
    is(count_log(qr/KILL QUERY forwarded to S-/), $N, '... no more than that');
    diag('MySQL: request to server answer, min/median/max: ' . took('KILL QUERY'));
    is(count_log(qr/not sent/), 0, '... and none "not sent"');
    spew($stop, '');
    my $bst = wait_children([$by], 60);
    my ($bn, $bbad) = split ' ', slurp("$tmp/by.count") // '0 0';
    is($bst->{$by}, 0, 'the bystander finished');
    ok($bn > 0 && $bbad == 0, "the bystander's $bn rounds all returned normally");
    ok(wait_until(30, sub { !grep { ($_->{INFO} // '') eq 'SELECT SLEEP(60)' } @{ $m->backends } }),
        'no SLEEP(60) left running in MariaDB');
}

ok($w->alive, 'weir still running');
$w->stop(signal => 'TERM', timeout => 60);
done_testing;
