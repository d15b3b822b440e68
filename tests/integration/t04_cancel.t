# t04_cancel.t -- cancel requests: a client's cancel stops its own query within a second and
# never anyone else's; bogus cancel requests cancel nothing.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);
use DBD::Pg qw(:async);

my $t = WeirTest->new;
my $w = $t->start_weir(weir => { default_pool_size => 10, workers => 2 });

# A bystander: runs pg_sleep($secs) through weir and must finish normally.
sub bystander {
    my ($secs) = @_;
    return spawn(sub {
        my $dbh = $w->dbi or die "bystander connect: $DBI::errstr\n";
        my ($r) = $dbh->selectrow_array("SELECT pg_sleep($secs), 'done'");
        die "bystander query failed: " . ($dbh->state // '') . ' ' . ($dbh->errstr // '') . "\n"
            if $dbh->err;
        $dbh->disconnect;
        return 1;
    });
}

# active($re) -> number of queries matching $re that PostgreSQL is running now.
sub active {
    my ($re) = @_;
    return scalar grep { ($_->{query} // '') =~ $re && ($_->{state} // '') eq 'active' }
        @{ $t->backends };
}

for my $round (1 .. 2) {
    my @by = map { bystander(5) } 1 .. 3;
    # The cancel must come while the bystanders' queries run, or it proves nothing.
    ok(wait_until(20, sub { active(qr/pg_sleep\(5\)/) == 3 }),
        "round $round: 3 bystanders running pg_sleep(5)");
    # The victim runs in a child so that a cancel weir never forwards cannot hang the test.
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $victim = spawn(sub {
        close $rd;
        my $dbh = $w->dbi or die "victim connect: $DBI::errstr\n";
        $dbh->do('SELECT pg_sleep(60)', { pg_async => PG_ASYNC }) or die $dbh->errstr;
        # A cancel that reaches PostgreSQL before the query does cancels nothing.
        wait_until(20, sub { active(qr/pg_sleep\(60\)/) == 1 }) or die "query never ran\n";
        my $t0 = time;
        $dbh->pg_cancel;
        my $el = time - $t0;
        syswrite($wr, sprintf("%.3f %s\n", $el, $dbh->state // ''));
        my ($ok) = $dbh->selectrow_array('SELECT 1');
        syswrite($wr, "after " . ($ok // 'undef') . "\n");
        $dbh->disconnect;
        return 1;
    });
    close $wr;
    my $st = wait_children([$victim], 30);
    my $line = <$rd> // '';
    my $after = <$rd> // '';
    close $rd;
    my ($el, $state) = split ' ', $line;
    is($st->{$victim}, 0, "round $round: victim finished");
    is($state, '57014', "round $round: pg_sleep(60) cancelled with SQLSTATE 57014");
    ok(defined $el && $el < 5, sprintf("round $round: cancel took %.3fs (not the query's 60 s)",
        $el // -1));
    like($after, qr/after 1/, "round $round: victim's connection usable after the cancel");
    my $bst = wait_children(\@by, 30);
    is(scalar(grep { $bst->{$_} ne '0' } @by), 0,
        "round $round: bystanders' pg_sleep(5) completed, none cancelled");
}

ok(wait_until(5, sub {
    my $rows = $t->backends;
    !grep { ($_->{query} // '') =~ /pg_sleep\(60\)/ && ($_->{state} // '') eq 'active' } @$rows;
}), 'no pg_sleep(60) still running in PostgreSQL');

# ---- raw cancel requests ------------------------------------------------------------------
{
    my $s = $w->socket;
    my $r = raw_login($s);
    ok($r->{ok} && defined $r->{pid}, 'raw login got BackendKeyData');
    my $sqlsent = time;
    syswrite($s, pg_msg('Q', "SELECT pg_sleep(2), 'survived'\0"));
    ok(wait_until(10, sub { active(qr/survived/) == 1 }), 'a query runs');

    # Random key, random pid.
    my $c = $w->socket;
    syswrite($c, cancel_packet(int(rand(2**31)), int(rand(2**31))));
    ok(sock_closed($c, 5), 'bogus cancel request: weir closes the socket');
    close $c;
    # Right pid, wrong key.
    $c = $w->socket;
    syswrite($c, cancel_packet($r->{pid}, ($r->{key} + 1) % 2**32));
    ok(sock_closed($c, 5), 'cancel with a wrong key: socket closed');
    close $c;

    my ($type, $body);
    my @rows;
    my $err;
    while (1) {
        ($type, $body) = read_msg($s, 10);
        last unless defined $type;
        push @rows, $body if $type eq 'D';
        $err = parse_error_fields($body) if $type eq 'E';
        last if $type eq 'Z';
    }
    ok(!$err, 'bogus cancel requests cancelled nothing') or diag(explain($err));
    ok(@rows == 1 && $rows[0] =~ /survived/, 'query completed normally');

    # The right key cancels this raw session's query.
    syswrite($s, pg_msg('Q', "SELECT pg_sleep(60)\0"));
    ok(wait_until(20, sub { active(qr/pg_sleep\(60\)/) == 1 }), 'pg_sleep(60) runs');
    $c = $w->socket;
    my $t0 = time;
    syswrite($c, cancel_packet($r->{pid}, $r->{key}));
    # Like libpq's PQcancel: wait for the other side to close the cancel connection.
    ok(sock_closed($c, 5), 'cancel connection closed by weir');
    close $c;
    my $q;
    $err = undef;
    while (1) {
        ($type, $body) = read_msg($s, 10);
        last unless defined $type;
        $err = parse_error_fields($body) if $type eq 'E';
        last if $type eq 'Z';
    }
    my $el = time - $t0;
    is($err->{C}, '57014', 'raw cancel with the right key cancels the query');
    ok($el < 5, sprintf('raw cancel took %.3fs (not the query\'s 60 s)', $el));
    $q = raw_query($s, 'SELECT 1');
    is($q->{rows}[0][0], '1', 'raw session usable after cancel');
    close $s;
}

ok($w->alive, 'weir still running');
$w->stop;

# ---- a stale cancel key must not hit the next client of the same server --------------------
{
    my $w1 = $t->start_weir(weir => { default_pool_size => 1, workers => 2 });
    my $sa = $w1->socket;
    my $ra = raw_login($sa);
    ok($ra->{ok}, 'client A logged in');
    my $qa = raw_query($sa, 'SELECT pg_backend_pid()');
    syswrite($sa, pg_msg('X', ''));
    close $sa;

    my $sb = $w1->socket;
    my $rb = raw_login($sb);
    ok($rb->{ok}, 'client B logged in');
    my $qb = raw_query($sb, 'SELECT pg_backend_pid()');
    is($qb->{rows}[0][0], $qa->{rows}[0][0], 'B has the server A had');
    ok(!($ra->{pid} == $rb->{pid} && $ra->{key} == $rb->{key}), 'B got a different cancel key');
    syswrite($sb, pg_msg('Q', "SELECT pg_sleep(3), 'b survived'\0"));
    ok(wait_until(10, sub { active(qr/b survived/) == 1 }), "B's query runs");
    my $c = $w1->socket;
    syswrite($c, cancel_packet($ra->{pid}, $ra->{key}));
    sock_closed($c, 5);
    close $c;
    my ($err, @rows);
    while (1) {
        my ($type, $body) = read_msg($sb, 10);
        last unless defined $type;
        $err = parse_error_fields($body) if $type eq 'E';
        push @rows, $body if $type eq 'D';
        last if $type eq 'Z';
    }
    ok(!$err, "A's old cancel key did not cancel B's query") or diag(explain($err));
    ok(@rows == 1 && $rows[0] =~ /b survived/, "B's query completed");
    close $sb;
    ok($w1->alive, 'weir still running');
    $w1->stop;
}

done_testing;
