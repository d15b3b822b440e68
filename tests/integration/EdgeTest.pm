# EdgeTest.pm -- helpers for the edge tests (t70..t74): connections from chosen loopback source
# addresses, PROXY protocol v1/v2 headers, the console and /metrics as plain data.
#
#   use EdgeTest;
#   my $s = connect_from('127.0.0.2', $w->port);          # LocalAddr 127.0.0.2
#   syswrite($s, proxy_v1('203.0.113.7', 40001, '127.0.0.1', $w->port));
#   syswrite($s, proxy_v2(src => '2001:db8::7', sport => 40002, dst => '::1', dport => 6432));
#   my $rows = console_rows($w, 'SHOW CLIENTS');          # [ {col => value} ]
#   my $m = metrics($port);                                # { 'name{labels}' => value }
package EdgeTest;

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(inet_pton AF_INET AF_INET6);
use Time::HiRes qw(time sleep);
use DBI;
use Exporter 'import';

our @EXPORT = qw(connect_from proxy_v1 proxy_v2 console console_rows metrics nothing_then_eof
    read_all);

# connect_from($local_addr, $port, $timeout) -> socket (dies when the connect fails)
sub connect_from {
    my ($from, $port, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        LocalAddr => $from, Proto => 'tcp', Timeout => $timeout // 5)
        or die "connect from $from to port $port: $!";
    binmode $s;
    $s->autoflush(1);
    return $s;
}

# proxy_v1($src, $sport, $dst, $dport) -> "PROXY TCP4|TCP6 ...\r\n"
sub proxy_v1 {
    my ($src, $sport, $dst, $dport) = @_;
    my $tcp = $src =~ /:/ ? 'TCP6' : 'TCP4';
    return "PROXY $tcp $src $dst $sport $dport\r\n";
}

# proxy_v2(src =>, sport =>, dst =>, dport =>, local => 1, tlvs => [[type, value], ...],
#   raw_body => bytes) -> the binary header. local => 1 sends the LOCAL command (no address).
sub proxy_v2 {
    my (%o) = @_;
    my $sig = "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A";
    return $sig . pack('CCn', 0x20, 0x00, 0) if $o{local};
    my $v6 = ($o{src} // '') =~ /:/;
    my $af = $v6 ? AF_INET6 : AF_INET;
    my $body = $o{raw_body} // (inet_pton($af, $o{src}) . inet_pton($af, $o{dst})
            . pack('nn', $o{sport}, $o{dport}));
    $body .= pack('Cn', $_->[0], length $_->[1]) . $_->[1] for @{ $o{tlvs} // [] };
    return $sig . pack('CCn', 0x21, $v6 ? 0x21 : 0x11, length $body) . $body;
}

# console($w, user =>, password =>, host =>) -> DBI handle on the PostgreSQL console, or undef
sub console {
    my ($w, %o) = @_;
    my $host = $o{host} // '127.0.0.1';
    return DBI->connect("dbi:Pg:host=$host;port=" . $w->port . ";dbname=weir;sslmode=disable",
        $o{user} // 'admin', $o{password} // 'adminpass',
        { RaiseError => 0, PrintError => 0, AutoCommit => 1, pg_server_prepare => 0 });
}

# console_rows($dbh, $sql) -> [ {col => value} ] (undef on error)
sub console_rows {
    my ($dbh, $sql) = @_;
    return $dbh->selectall_arrayref($sql, { Slice => {} });
}

# metrics($port) -> { 'name' or 'name{labels}' => value } from GET /metrics on 127.0.0.1
sub metrics {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
        Timeout => 5) or return {};
    print $s "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my $text = read_all($s, 10);
    close $s;
    my %m;
    for my $l (split /\n/, $text) {
        next if $l =~ /^#/;
        $m{$1} = $2 if $l =~ /^(\w+(?:\{[^}]*\})?) (\S+)$/;
    }
    return \%m;
}

# read_all($sock, $timeout) -> everything until EOF (or the timeout)
sub read_all {
    my ($sock, $timeout) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($sock);
    my $buf = '';
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $r = sysread($sock, $buf, 65536, length $buf);
        last unless $r;
    }
    return $buf;
}

# nothing_then_eof($sock, $timeout) -> true when the peer closed without sending a byte
sub nothing_then_eof {
    my ($sock, $timeout) = @_;
    my $sel = IO::Select->new($sock);
    return 0 unless $sel->can_read($timeout);
    my $buf;
    my $r = sysread($sock, $buf, 1);
    return !defined $r || $r == 0;    # EOF, or a reset: no byte came either way
}

1;
