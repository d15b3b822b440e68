# t42_notify.t -- weir under a supervisor that speaks systemd's notify protocol: with
# $NOTIFY_SOCKET naming a datagram socket the test owns (a path, then an abstract name), weir
# sends READY=1 with its MAINPID once it accepts connections, RELOADING=1 then READY=1 around a
# SIGHUP reload and STOPPING=1 when SIGTERM starts a shutdown; without it, weir starts as usual.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_DGRAM);

my $t = WeirTest->new;

# Receives datagrams on $sock for up to $timeout s; returns them.
sub receive_all {
    my ($sock, $timeout) = @_;
    my @got;
    my $sel = IO::Select->new($sock);
    while ($sel->can_read($timeout)) {
        my $buf;
        last unless defined $sock->recv($buf, 4096);
        push @got, $buf;
        $timeout = 0.3;
    }
    return @got;
}

for my $kind ('path', 'abstract') {
    my ($name, $sock);
    if ($kind eq 'path') {
        $name = $t->tmp . '/notify.sock';
        $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $name)
            or die "bind $name: $!";
    } else {
        $name = "\0weir-t42-$$";
        $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $name)
            or die "bind abstract: $!";
        $name = "\@weir-t42-$$";
    }
    local $ENV{NOTIFY_SOCKET} = $name;
    my $w = $t->start_weir;
    my @got = receive_all($sock, 10);
    my $pid = $w->pid;
    is_deeply(\@got, ["READY=1\nMAINPID=$pid"], "$kind socket: READY=1 with weir's pid")
        or diag(explain \@got);
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', "$kind socket: weir serves");
    if ($kind eq 'path') {
        kill 'HUP', $w->pid;
        @got = receive_all($sock, 10);
        like($got[0] // '', qr/^RELOADING=1\nMONOTONIC_USEC=\d+$/, 'SIGHUP: RELOADING=1 first');
        like($got[-1] // '', qr/^READY=1\b/, 'SIGHUP: READY=1 once reloaded');
        kill 'TERM', $w->pid;
        @got = receive_all($sock, 10);
        is_deeply(\@got, ['STOPPING=1'], 'SIGTERM: STOPPING=1');
        # weir exits by itself (no client is left); a SIGQUIT from stop() could otherwise
        # reach it while it is already exiting, with its signal handlers gone.
        ok(wait_until(30, sub { !$w->alive }, 0.05), 'SIGTERM: weir exits');
    }
    $w->stop;
    close $sock;
}

{
    local $ENV{NOTIFY_SOCKET};
    delete $ENV{NOTIFY_SOCKET};
    my $w = $t->start_weir;
    my ($out) = $w->psql('SELECT 1');
    is($out, '1', 'no NOTIFY_SOCKET: weir starts and serves');
    $w->stop;
}

done_testing();
