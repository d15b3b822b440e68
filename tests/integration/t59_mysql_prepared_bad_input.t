# t59_mysql_prepared_bad_input.t -- statement commands weir must take apart, from raw MySQL
# packets, in transaction pooling (pool_size 2, one worker):
#   - malformed COM_STMT_CLOSE, RESET, FETCH, EXECUTE and SEND_LONG_DATA packets close only
#     their connection, with ERR 1835 (malformed packet) and a log line;
#   - EXECUTE heads the server refuses (a bad new_params_bound_flag, types running past the
#     packet) reach it with its own id and get its error; the connection goes on;
#   - PREPARE, EXECUTE and CLOSE pipelined in one write are answered in order;
#   - a 100 kB statement text and a SEND_LONG_DATA of over 16 MiB (packets of 0xFFFFFF bytes
#     and their continuation) arriving in pieces: the first prepares, the second is dropped
#     and its EXECUTE gets ERR 1153;
#   - a client that leaves in the middle of a long data packet, or while weir prepares for it,
#     leaves nothing behind: the next clients get clean servers.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $m = MyTest->new;
my $w = $m->start_weir(weir => { pool_mode => 'transaction', workers => 1,
        default_pool_size => 2, query_wait_timeout => 10 });

sub client {
    my $s = MyTest::my_connect($w->mysql_port) or die 'connect';
    my $l = my_login($s);
    die 'login failed' unless $l->{ok};
    return $s;
}

sub send_cmd { my ($s, $payload) = @_; syswrite($s, my_packet(0, $payload)) }

# next_packet($s) -> payload, or undef when the connection closed
sub next_packet { my ($s) = @_; my (undef, $p) = my_read_packet($s, 20); return $p }

sub err_of {
    my ($p) = @_;
    return 'closed' unless defined $p;
    return ord($p) == 0xff ? unpack('v', substr($p, 1, 2)) : 'not an error: ' . unpack('H*', $p);
}

# prepare($s, $sql) -> (id, nparams), the definitions read; or (undef, err code)
sub prepare {
    my ($s, $sql) = @_;
    send_cmd($s, "\x16$sql");
    my $p = next_packet($s);
    return (undef, err_of($p)) if !defined $p || ord($p) != 0;
    my ($id, $ncols, $nparams) = unpack('Vvv', substr($p, 1, 8));
    next_packet($s) for 1 .. ($nparams ? $nparams + 1 : 0) + ($ncols ? $ncols + 1 : 0);
    return ($id, $nparams);
}

# result($s, $int) -> the value of every row of a one-column binary result (an integer of 1,
# 2, 4 or 8 bytes when $int, else a string), or an error code
sub result {
    my ($s, $int) = @_;
    my $f = next_packet($s);
    return err_of($f) if !defined $f || ord($f) == 0xff;
    return 'ok' if ord($f) == 0;
    my $n = ord($f);
    my $meta = length($f) == 1 || ord(substr($f, 1, 1));
    if ($meta) { next_packet($s) for 1 .. $n }
    next_packet($s);    # EOF
    my @v;
    while (defined(my $r = next_packet($s))) {
        last if ord($r) == 0xfe && length($r) < 9;
        return err_of($r) if ord($r) == 0xff;
        # 0x00, null bitmap ((n + 2 + 7) / 8 bytes), then the first value
        my $at = 1 + int(($n + 9) / 8);
        my $rest = substr($r, $at);
        my %int = (1 => 'c', 2 => 's<', 4 => 'l<', 8 => 'q<');    # by the value's size
        push @v, $int ? unpack($int{ length $rest } // 'a*', $rest) : unpack('C/a', $rest);
    }
    return \@v;
}

sub exec_payload {
    my ($id, $n, $types, $values) = @_;
    my $p = "\x17" . pack('VCV', $id, 0, 1);
    return $p unless $n;
    return $p . ("\0" x int(($n + 7) / 8)) . (defined $types ? "\x01$types" : "\x00") . $values;
}

sub works {
    my ($label) = @_;
    my $s = client();
    my $q = my_query($s, 'SELECT 77');
    is($q->{results}[0]{rows}[0][0], 77, "$label: a new client is served");
    close $s;
}

# ---- malformed statement commands ----------------------------------------------------------
for my $case (
    ['COM_STMT_CLOSE of 3 bytes', "\x19\x01\x00"],
    ['COM_STMT_CLOSE of 9 bytes', "\x19" . pack('VV', 1, 2)],
    ['COM_STMT_RESET of 2 bytes', "\x1a\x01"],
    ['COM_STMT_FETCH of 5 bytes', "\x1c" . pack('V', 1)],
    ['COM_STMT_EXECUTE of 3 bytes', "\x17\x01\x00"],
    ['COM_STMT_SEND_LONG_DATA of 4 bytes', "\x18\x01\x00\x00"],
    ) {
    my ($label, $payload) = @$case;
    my $s = client();
    my ($id) = prepare($s, 'SELECT 1');
    ok($id, "$label: a statement prepared first");
    send_cmd($s, $payload);
    my $p = next_packet($s);
    is(err_of($p), 1835, "$label: ERR 1835 (malformed packet)");
    ok(!defined next_packet($s), "$label: the connection is closed");
    close $s;
}
$w->log_like(qr/malformed COM_STMT_CLOSE packet/, 'the log says which packet');
works('after the malformed packets');

# ---- heads the server refuses ------------------------------------------------------------
{
    my $s = client();
    my ($id, $n) = prepare($s, 'SELECT ? + 1');
    is($n, 1, 'a statement with one parameter');
    send_cmd($s, "\x17" . pack('VCV', $id, 0, 1) . "\0\x02");
    ok(err_of(next_packet($s)) =~ /^\d+$/, 'new_params_bound_flag 2: the server\'s error');
    send_cmd($s, "\x17" . pack('VCV', $id, 0, 1) . "\0\x01\x08");
    ok(err_of(next_packet($s)) =~ /^\d+$/, 'types running past the packet: the server\'s error');
    send_cmd($s, exec_payload($id, 1, "\x08\x00", pack('q<', 41)));
    is_deeply(result($s, 1), [42], 'the connection and the statement go on');
    send_cmd($s, exec_payload($id, 1, undef, pack('q<', 9)));
    is_deeply(result($s, 1), [10], 'an EXECUTE without types uses the ones sent before');
    my ($e) = (prepare($s, ''))[1];
    ok($e =~ /^\d+$/, "an empty PREPARE: the server's error ($e)");
    close $s;
}

# ---- pipelined ---------------------------------------------------------------------------------
{
    my $s = client();
    syswrite($s, my_packet(0, "\x16SELECT 5") . my_packet(0, "\x16SELECT 6")
            . my_packet(0, "\x03SELECT 7"));
    my @ids;
    for (1 .. 2) {
        my $p = next_packet($s);
        push @ids, unpack('V', substr($p, 1, 4));
        next_packet($s) for 1 .. 2;    # the column and its EOF
    }
    is_deeply(\@ids, [1, 2], 'two PREPAREs pipelined: ids 1 and 2, in order');
    my $q = my_read_result($s);
    is($q->{results}[0]{rows}[0][0], 7, '... then the query behind them');
    syswrite($s, my_packet(0, exec_payload(2, 0)) . my_packet(0, "\x19" . pack('V', 2))
            . my_packet(0, exec_payload(1, 0)) . my_packet(0, exec_payload(2, 0)));
    is_deeply(result($s, 1), [6], 'EXECUTE 2');
    is_deeply(result($s, 1), [5], 'CLOSE 2 (no answer), EXECUTE 1');
    is(result($s), 1243, 'EXECUTE 2 after its CLOSE: ERR 1243');
    close $s;
}

# ---- texts and long data that arrive in pieces -------------------------------------------------
{
    my $s = client();
    my $text = 'SELECT LENGTH(\'' . ('y' x 100000) . '\')';
    my $pk = my_packet(0, "\x16$text");
    for (my $at = 0; $at < length $pk; $at += 7000) {
        syswrite($s, substr($pk, $at, 7000));
        sleep 0.01;
    }
    my $p = next_packet($s);
    is(ord($p // "\xff"), 0, 'a 100 kB statement text in pieces: prepared');
    my $id = unpack('V', substr($p, 1, 4));
    next_packet($s) for 1 .. 2;
    send_cmd($s, exec_payload($id, 0));
    is_deeply(result($s, 1), [100000], '... and runs');

    my ($lid) = prepare($s, 'SELECT LENGTH(?)');
    # One long data packet of 17 MiB: 0xFFFFFF bytes, then the rest in a second packet.
    my $payload = "\x18" . pack('Vv', $lid, 0) . ('z' x (17 * 1024 * 1024));
    my $first = substr($payload, 0, 0xffffff);
    my $wire = "\xff\xff\xff\x00" . $first;
    my $rest = substr($payload, 0xffffff);
    $wire .= pack('V', length $rest) =~ s/.\z//sr . "\x01" . $rest;
    for (my $at = 0; $at < length $wire; $at += 1 << 20) {
        syswrite($s, substr($wire, $at, 1 << 20)) // die "write: $!";
    }
    send_cmd($s, exec_payload($lid, 1, "\xfc\x00", ''));
    is(result($s), 1153, 'a 17 MiB SEND_LONG_DATA (two packets): its EXECUTE gets ERR 1153');
    send_cmd($s, "\x18" . pack('Vv', $lid, 0) . 'abcd');
    send_cmd($s, exec_payload($lid, 1, "\xfc\x00", ''));
    is_deeply(result($s, 1), [4], 'long data after it works');
    close $s;
}

# ---- clients that leave half-way -----------------------------------------------------------------
{
    my $s = client();
    my ($id) = prepare($s, 'SELECT LENGTH(?)');
    my $payload = "\x18" . pack('Vv', $id, 0) . ('q' x 100000);
    syswrite($s, substr(my_packet(0, $payload), 0, 50000));
    sleep 0.2;
    close $s;
    # And one that leaves while weir prepares its statement on a fresh server.
    my $s2 = client();
    syswrite($s2, my_packet(0, "\x16SELECT SLEEP(0.5), 'x'"));
    close $s2;
    sleep 0.5;
    works('after clients left half-way');
    my $s3 = client();
    my ($id3) = prepare($s3, 'SELECT 3');
    send_cmd($s3, exec_payload($id3, 0));
    is_deeply(result($s3, 1), [3], 'and prepared statements work on');
    close $s3;
}

$w->stop;
done_testing();
