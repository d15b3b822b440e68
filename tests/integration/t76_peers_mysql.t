#!/usr/bin/perl
# t76_peers_mysql.t -- MySQL KILL across peers: two weirs sharing their PostgreSQL and MySQL
# ports (SO_REUSEPORT), peer_id 1 and 2, each listing the other by its unix socket. A client of
# weir 1 runs SELECT SLEEP(30); a client of weir 2 sends KILL QUERY with the first client's
# thread id (which weir 1 handed out): weir 2 asks weir 1 (a peer KILL request on its
# PostgreSQL socket), weir 1 interrupts the query and answers, and weir 2 answers its client OK.
# The user check holds across peers (another user gets 1095), an unknown id gets 1094, and a
# peer KILL request from an address that is not a peer is refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use MyTest;
use EdgeTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $m = MyTest->new;
my ($port, $myport) = (free_port(), free_port());
$myport = free_port() while $myport == $port;
my ($d1, $d2) = map { $m->tmp . "/weir$_" } 1 .. 2;    # start_weir's directories, in order
my %peers = (1 => "host=$d1 port=$port", 2 => "host=$d2 port=$port");
my @w = map {
    $m->start_weir(port => $port, mysql_port => $myport,
        weir => { peer_id => $_, pool_mode => 'session' }, sections => { peers => \%peers })
} 1 .. 2;
# The readiness check of start_weir may reach the first weir on the shared port: wait for the
# second one's own sockets.
for my $i (0 .. 1) {
    ok(wait_until(30, sub { -S "$w[$i]{dir}/.s.MYSQL.$myport" && -S "$w[$i]{dir}/.s.PGSQL.$port" }),
        'weir ' . ($i + 1) . ' listens on its own sockets');
}
is($w[1]{dir}, $d2, 'the second weir has the expected socket directory');

# A DBD::MariaDB handle on one weir's own MySQL socket (the shared port could pick either).
sub on {
    my ($i, %o) = @_;
    my $user = $o{user} // 'app';
    my $pass = $user eq 'forced' ? 'forcedpass' : 'apppass';
    return DBI->connect("dbi:MariaDB:database=shop;mariadb_socket=$w[$i]{dir}/.s.MYSQL.$myport",
        $user, $pass, { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
}

my $victim = on(0) or BAIL_OUT("connect to weir 1: $DBI::errstr");
my $tid = $victim->{mariadb_thread_id};
is($tid >> 24, 1, "the victim's thread id ($tid) carries weir 1's peer id");
pipe(my $rd, my $wr) or die "pipe: $!";
my $pid = spawn(sub {
    close $rd;
    my $t0 = time;
    my $r = $victim->selectrow_array('SELECT SLEEP(30)');
    syswrite($wr, sprintf("%.2f %s %s\n", time - $t0, $r // 'undef', $victim->err // 0));
    return 1;
});
close $wr;
ok(wait_until(20, sub { grep { ($_->{INFO} // '') =~ /SLEEP\(30\)/ } @{ $m->backends(user => "app") } }),
    'the victim\'s SLEEP(30) runs on MariaDB');

my $other = on(1, user => 'forced') or BAIL_OUT("connect to weir 2: $DBI::errstr");
ok(!$other->do("KILL QUERY $tid"), 'another user\'s KILL through weir 2 fails');
is($other->err, 1095, 'with 1095 "not owner", as on the server: ' . ($other->errstr // ''));

my $killer = on(1) or BAIL_OUT("connect to weir 2: $DBI::errstr");
is($killer->{mariadb_thread_id} >> 24, 2, 'the killer is on weir 2');
my $t0 = time;
ok($killer->do("KILL QUERY $tid"), 'KILL QUERY through weir 2 succeeds') or diag($killer->errstr);
wait_children([$pid], 30);
my $line = <$rd> // '';
my ($el, $res, $err) = split ' ', $line;
ok(defined $el && $el < 10, "the victim's SLEEP ended early (after $el s, result $res)");
diag(sprintf('KILL QUERY answered in %.2f s', time - $t0));
$w[1]->log_like(qr/KILL of thread $tid forwarded to peer 1/, 'weir 2 forwarded it');
$w[0]->log_like(qr/peer KILL QUERY $tid for user "app"/, 'weir 1 carried it out');
my ($one) = $victim->selectrow_array('SELECT 1');
is($one, 1, 'the victim\'s session goes on after KILL QUERY');

my $unknown = (1 << 24) | (1 << 18) | 262143;
ok(!$killer->do("KILL QUERY $unknown"), 'a thread id weir 1 never handed out');
is($killer->err, 1094, 'gets 1094 "Unknown thread id" from across the peers');
ok(!$killer->do('KILL QUERY ' . ((9 << 24) | 5)), 'a thread id of a peer nobody lists');
is($killer->err, 1094, 'gets 1094 too');

# A peer KILL request from an address that is no peer (127.0.0.7 over TCP) is refused.
my $s = connect_from('127.0.0.7', $port);
syswrite($s, pack('NNNN', 17 + 3, 80877199, $tid, 0) . "app\0");
my ($type, $body) = read_msg($s, 10);
is($type, 'E', 'a peer KILL request from a non-peer address gets an error');
like($body // '', qr/peer KILL request refused: not from a \[peers\] address/, 'saying why');
close $s;

$_->disconnect for $victim, $other, $killer;
$_->stop for @w;
done_testing();
