# t13_faults.t -- backend failures against a real PostgreSQL: pg_terminate_backend of an idle
# and of an active server connection, SIGKILL of a backend while idle and mid-query (the
# postmaster then restarts every backend), and PostgreSQL stopped and restarted under steady
# load. weir is never restarted: it must recover by itself, and the pool counts must return
# to at most pool_size.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use PoolTest;
use Test::More;
use Time::HiRes qw(time sleep);
use DBD::Pg qw(:async);

my $t = WeirTest->new;
my $POOL = 4;
my $w = $t->start_weir(weir => { pool_mode => 'transaction', default_pool_size => $POOL,
        workers => 2, server_login_retry => 1, server_connect_timeout => 5,
        query_wait_timeout => 30 });

# Superuser action on PostgreSQL with a fresh connection (the monitor may have died).
sub pg_admin { my ($sql) = @_; my $d = $t->pg_admin_dbi; $d->do($sql); $d->disconnect; }

# Pid of the server running a query matching $re, or undef.
sub active_pid {
    my ($re) = @_;
    my ($r) = grep { ($_->{query} // '') =~ $re && ($_->{state} // '') eq 'active' }
        @{ $t->backends };
    return $r ? $r->{pid} : undef;
}

# Seconds until a fresh client through weir succeeds (polling), or undef after $max s.
sub recovers_within {
    my ($max) = @_;
    my $t0 = time;
    my $ok = wait_until($max, sub {
        my ($out) = $w->psql('SELECT 40 + 2', timeout => 10);
        $out eq '42';
    }, 0.3);
    return $ok ? time - $t0 : undef;
}

sub pool_ok {
    my ($what) = @_;
    ok(wait_until(10, sub { count_server_conns($t, user => 'app') <= $POOL }),
        "$what: at most $POOL server connections");
    my @h = map { $w->dbi or return fail("$what: connect: $DBI::errstr") } 1 .. $POOL + 2;
    my $bad = 0;
    for my $round (1 .. 5) {
        for my $h (@h) { my ($v) = $h->selectrow_array('SELECT 1'); $bad++ unless $v }
    }
    $_->disconnect for @h;
    is($bad, 0, "$what: $POOL+2 clients x 5 queries all succeed");
}

# Runs $n clients looping short queries for $secs; returns pid list. Each writes a line per
# failure to STDERR of the test (via die) only at the end; status 0 = no error seen.
sub bystanders {
    my ($n, $secs) = @_;
    return map {
        my $k = $_;
        spawn(sub {
            my $dbh = $w->dbi(connect_timeout => 20) or die "bystander $k: $DBI::errstr\n";
            my $end = time + $secs;
            my $i = 0;
            while (time < $end && $i++ < 5000) {
                my ($v) = $dbh->selectrow_array('SELECT $1::int, pg_sleep(0.01)', undef, $i);
                die "bystander $k: " . ($dbh->state // '') . ' ' . ($dbh->errstr // '') . "\n"
                    if $dbh->err || $v != $i;
            }
            return 1;
        });
    } 1 .. $n;
}

subtest 'pg_terminate_backend of idle server connections' => sub {
    my $c = $w->dbi or die $DBI::errstr;
    my ($p) = $c->selectrow_array('SELECT pg_backend_pid()');
    ok(wait_until(5, sub { count_server_conns($t, user => 'app', state => 'idle') >= 1 }),
        'an idle server in the pool');
    pg_admin(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE usename = 'app' AND state = 'idle' AND backend_type = 'client backend'});
    ok(wait_until(5, sub { count_server_conns($t, user => 'app') == 0 }),
        'all idle servers terminated');
    sleep 0.5;
    my ($v) = $c->selectrow_array('SELECT 1');
    is($v, 1, 'the connected client\'s next query works') or diag($c->errstr);
    my ($out) = $w->psql('SELECT 2');
    is($out, '2', 'a new client works');
    $c->disconnect;
    pool_ok('after idle terminate');
};

subtest 'pg_terminate_backend of an active server connection' => sub {
    my @by = bystanders(3, 4);
    my $victim = spawn(sub {
        my $dbh = $w->dbi or die "victim: $DBI::errstr\n";
        my ($r) = $dbh->selectrow_array('SELECT pg_sleep(15)');
        return $dbh->err ? 1 : 0;    # must see an error
    });
    my $vp;
    ok(wait_until(5, sub { $vp = active_pid(qr/pg_sleep\(15\)/) }), "victim runs on server $vp");
    pg_admin("SELECT pg_terminate_backend($vp)");
    my $st = wait_children([$victim], 10);
    is($st->{$victim}, 0, 'the victim got an error promptly');
    my $bst = wait_children(\@by, 30);
    is(scalar(grep { $bst->{$_} ne '0' } @by), 0, 'bystanders saw no error');
    pool_ok('after active terminate');
};

subtest 'SIGKILL of an idle backend (postmaster restarts all backends)' => sub {
    my @h = map { $w->dbi or die $DBI::errstr } 1 .. 3;
    $_->selectrow_array('SELECT pg_sleep(0.2)') for @h;
    my $p = server_pids($t, user => 'app');
    my ($victim) = sort keys %$p;
    ok($victim, "idle server $victim");
    ok(kill('KILL', $victim), "SIGKILL $victim");
    my $el = recovers_within(20);
    ok(defined $el && $el <= 15, sprintf('a new client succeeds again after %.1fs',
        $el // -1));
    # Clients that were connected across the crash: an error at most once, then fine.
    my $ok_after = 0;
    for my $h (@h) {
        my ($v) = $h->selectrow_array('SELECT 1');
        ($v) = $h->selectrow_array('SELECT 1') unless $v;
        $ok_after++ if $v;
    }
    is($ok_after, 3, 'clients connected across the crash work again (after at most one error)');
    $_->disconnect for @h;
    ok($w->alive, 'weir alive');
    pool_ok('after SIGKILL of an idle backend');
};

subtest 'SIGKILL of a backend mid-query' => sub {
    my $victim = spawn(sub {
        my $dbh = $w->dbi or die "victim: $DBI::errstr\n";
        $dbh->selectrow_array('SELECT pg_sleep(15)');
        return $dbh->err ? 1 : 0;
    });
    my $vp;
    ok(wait_until(5, sub { $vp = active_pid(qr/pg_sleep\(15\)/) }), "victim runs on server $vp");
    ok(kill('KILL', $vp), "SIGKILL $vp");
    my $st = wait_children([$victim], 10);
    is($st->{$victim}, 0, 'the client mid-query got an error promptly');
    my $el = recovers_within(20);
    ok(defined $el && $el <= 15, sprintf('new clients succeed again after %.1fs', $el // -1));
    ok($w->alive, 'weir alive');
    pool_ok('after SIGKILL mid-query');
};

subtest 'PostgreSQL stopped and restarted under load' => sub {
    my $dir = $t->tmp . '/t13load';
    mkdir $dir;
    my $t0 = time;
    my $secs = 120;    # at most; the test tells them to stop with $dir/stop
    my $stop = "$dir/stop";
    my @pids;
    for my $k (1 .. 10) {
        push @pids, spawn(sub {
            open my $log, '>', "$dir/c$k" or die $!;
            $log->autoflush(1);
            my $dbh;
            my $n = 0;
            while (time < $t0 + $secs && !-e $stop && $n++ < 5000) {
                $dbh ||= $w->dbi(connect_timeout => 3);
                my $v;
                ($v) = $dbh->selectrow_array('SELECT $1::int', undef, $n) if $dbh;
                if (defined $v && $v == $n) {
                    printf $log "%.3f ok\n", time;
                } else {
                    my $e = $dbh ? $dbh->errstr : $DBI::errstr;
                    $e =~ s/\s+/ /g if defined $e;
                    printf $log "%.3f err %s\n", time, $e // '';
                    $dbh->disconnect if $dbh;
                    $dbh = undef;
                    sleep 0.2;
                }
                sleep 0.05;
            }
            return 1;
        });
    }
    # Every client has had an answer before PostgreSQL goes down.
    my $oks = sub { my ($after) = @_; scalar grep { my $k = $_;
            grep { /^(\S+) ok/ && $1 > $after } split /\n/, slurp("$dir/c$k") } 1 .. 10 };
    wait_until(60, sub { $oks->(0) == 10 }, 0.2)
        or diag($oks->(0) . ' of 10 clients succeeded before the stop');
    my $t_stop = time;
    is(pg_stop($t, 'fast'), 0, 'pg_ctl stop -m fast');
    my $t_down = time;
    sleep 4;
    my $t_start = time;
    is(pg_start($t), 0, 'pg_ctl start');
    my $t_up = time;
    # Every client has had an answer again (or 30 s went by), then they stop.
    wait_until(30, sub { $oks->($t_up) == 10 }, 0.2);
    sleep 1;
    spew($stop, '');
    my $st = wait_children(\@pids, 60);
    is(scalar(grep { $st->{$_} ne '0' } @pids), 0, 'load clients finished');
    my (%before, %during, %after_ok, %first_after);
    my @errs;
    for my $k (1 .. 10) {
        for my $line (split /\n/, slurp("$dir/c$k")) {
            my ($ts, $res, $msg) = split ' ', $line, 3;
            $before{$k}++ if $res eq 'ok' && $ts < $t_stop;
            if ($res eq 'err' && $ts > $t_down && $ts < $t_start) {
                $during{$k}++;
                push @errs, $msg;
            }
            if ($res eq 'ok' && $ts > $t_up) {
                $after_ok{$k}++;
                $first_after{$k} //= $ts - $t_up;
            }
        }
    }
    is(scalar(keys %before), 10, 'all 10 clients succeeded before the stop');
    ok(scalar(keys %during) >= 5, scalar(keys %during) . ' clients saw errors while PostgreSQL was down');
    diag('sample error while down: ' . ($errs[0] // 'none'));
    is(scalar(keys %after_ok), 10, 'all 10 clients succeeded again after the restart');
    my $slowest = 0;
    $slowest = $_ > $slowest ? $_ : $slowest for values %first_after;
    ok(keys(%first_after) == 10 && $slowest <= 15,
        sprintf('every client recovered within %.1fs of the restart', $slowest));
    ok($w->alive, 'weir was never restarted');
    ok(wait_until(10, sub { count_server_conns($t, user => 'app') <= $POOL }),
        "at most $POOL server connections after recovery");
    pool_ok('after the restart');
};

$w->stop;    # also fails on any sanitizer report in weir's log
done_testing;
