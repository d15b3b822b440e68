# t37_big_message_wait.t -- a client message larger than weir's 32 KB buffer that arrives
# while the client has no server (transaction pooling: waiting in the queue, or while weir
# replays the client's settings on a new server) waits with it and is then relayed whole;
# weir once closed such a client with "No buffer space available". PostgreSQL (a plain query
# and one behind a startup application_name that must be replayed first) and MySQL.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $m = MyTest->new;
my $w = $m->start_weir(pg => $t, weir => { pool_mode => 'transaction', default_pool_size => 1,
        query_wait_timeout => 60, workers => 2 });
my $big = 'x' x 200_000;

# A PostgreSQL client that holds the only server inside a transaction.
sub pg_holder {
    my $h = $w->socket;
    my $l = raw_login($h, extra => { application_name => 'holder' });
    die 'holder login: ' . explain($l) unless $l->{ok};
    my $r = raw_query($h, 'BEGIN');
    die 'holder BEGIN failed' unless ($r->{status} // '') eq 'T';
    return $h;
}

for my $case (['waiting in the queue', 'holder'], ['and its application_name replayed', 'bee']) {
    my ($name, $app) = @$case;
    subtest "PostgreSQL: a 200 kB query $name" => sub {
        my $h = pg_holder();
        my $c = $w->socket;
        my $l = raw_login($c, extra => { application_name => $app });
        ok($l->{ok}, 'client logged in') or diag explain $l;
        syswrite($c, pg_msg('Q', "SELECT length('$big'), current_setting('application_name')\0"));
        sleep 1;    # the query sits in weir, the buffer full, until the holder commits
        ok(!sock_closed($c, 0.2), 'the client is still connected while it waits');
        my $r = raw_query($h, 'COMMIT');
        is($r->{status}, 'I', 'holder commits');
        my ($len, $got, $status, $err);
        my $deadline = time + 30;
        while (time < $deadline) {
            my ($ty, $body) = read_msg($c, $deadline - time);
            last unless defined $ty;
            if ($ty eq 'D') {
                my @f;
                my $pos = 2;
                for (1 .. unpack('n', $body)) {
                    my $n = unpack('N', substr($body, $pos, 4));
                    push @f, substr($body, $pos + 4, $n);
                    $pos += 4 + $n;
                }
                ($len, $got) = @f;
            }
            $err = parse_error_fields($body) if $ty eq 'E';
            if ($ty eq 'Z') { $status = $body; last }
        }
        is($len, 200_000, 'the whole query reached the server') or diag explain $err;
        is($got, $app, "it ran with the client's own application_name ($app)");
        is($status, 'I', 'and the client is ready for more');
        my $again = raw_query($c, 'SELECT 1');
        is($again->{rows}[0][0], 1, 'the session goes on');
        close $c;
        close $h;
    };
}

subtest 'MySQL: a 200 kB query waiting in the queue' => sub {
    my $h = $w->my_socket;
    ok(my_login($h)->{ok}, 'holder logged in');
    my_query($h, 'BEGIN');
    my $hr = my_query($h, 'SELECT CONNECTION_ID()');
    ok($hr->{results}[0]{rows}[0][0], 'holder keeps the only server in a transaction');
    my $c = $w->my_socket;
    ok(my_login($c)->{ok}, 'client logged in');
    syswrite($c, my_packet(0, "\x03SELECT LENGTH('$big')"));
    sleep 1;
    ok(!sock_closed($c, 0.2), 'the client is still connected while it waits');
    my $cr = my_query($h, 'COMMIT');
    ok($cr->{results}[0]{ok}, 'holder commits');
    my $r = my_read_result($c, 30);
    is($r->{results}[0]{rows}[0][0], 200_000, 'the whole query reached the server')
        or diag explain $r;
    my $again = my_query($c, 'SELECT 1');
    is($again->{results}[0]{rows}[0][0], 1, 'the session goes on');
    close $c;
    close $h;
};

unlike($w->log_text, qr/No buffer space/, 'weir never ran out of buffer space');
$w->stop;
done_testing;
