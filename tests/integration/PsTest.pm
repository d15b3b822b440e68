# PsTest.pm -- the extended protocol by hand for the prepared-statement tests (t50-t54): message
# builders and an exchange that reads the answers up to the expected ReadyForQuery messages.
package PsTest;
use strict;
use warnings;
use Exporter 'import';
use WeirTest;

our @EXPORT = qw(ps_client parse bind execute sync describe_s close_s query exchange types
    rows_of err_of server_names);

# A raw client logged in to weir (dies when the login fails).
sub ps_client {
    my ($w, %o) = @_;
    my $s = $w->socket;
    my $li = raw_login($s, %o);
    die 'login failed: ' . join(' ', %{ $li->{error} // {} }) unless $li->{ok};
    return $s;
}

sub parse {
    my ($name, $sql, @oids) = @_;
    return pg_msg('P', "$name\0$sql\0" . pack('n', scalar @oids) . pack('N*', @oids));
}

# Bind with text parameters (undef is NULL), text results.
sub bind {
    my ($portal, $stmt, @params) = @_;
    my $b = "$portal\0$stmt\0" . pack('n', 0) . pack('n', scalar @params);
    for my $p (@params) {
        $b .= defined $p ? pack('N', length $p) . $p : pack('l>', -1);
    }
    return pg_msg('B', $b . pack('n', 0));
}

sub execute { return pg_msg('E', ($_[0] // '') . "\0" . pack('N', 0)) }
sub sync { return pg_msg('S', '') }
sub describe_s { return pg_msg('D', "S$_[0]\0") }
sub close_s { return pg_msg('C', "S$_[0]\0") }
sub query { return pg_msg('Q', "$_[0]\0") }

# exchange($sock, $nz, @msgs) -> [[type, body], ...] up to and including the $nz-th
# ReadyForQuery (or what came before the connection closed or 10 s passed).
sub exchange {
    my ($s, $nz, @msgs) = @_;
    syswrite($s, join('', @msgs));
    my @got;
    while ($nz > 0) {
        my ($type, $body) = read_msg($s, 10);
        last unless defined $type;
        push @got, [ $type, $body ];
        $nz-- if $type eq 'Z';
    }
    return \@got;
}

# The message types of an exchange as one string, e.g. "12DCZ" (NoticeResponse left out).
sub types { return join('', map { $_->[0] } grep { $_->[0] ne 'N' } @{ $_[0] }) }

# The DataRow values of an exchange, [[col, ...], ...].
sub rows_of {
    my @rows;
    for my $m (@{ $_[0] }) {
        next unless $m->[0] eq 'D';
        my $body = $m->[1];
        my $n = unpack('n', $body);
        my $pos = 2;
        my @row;
        for (1 .. $n) {
            my $len = unpack('l>', substr($body, $pos, 4));
            $pos += 4;
            if ($len < 0) { push @row, undef; next }
            push @row, substr($body, $pos, $len);
            $pos += $len;
        }
        push @rows, \@row;
    }
    return \@rows;
}

# The fields of the first ErrorResponse of an exchange ({} when none).
sub err_of {
    for my $m (@{ $_[0] }) {
        return parse_error_fields($m->[1]) if $m->[0] eq 'E';
    }
    return {};
}

# Names of the prepared statements on the server the client gets for one simple query.
sub server_names {
    my ($s) = @_;
    my $r = exchange($s, 1, query('SELECT name FROM pg_prepared_statements ORDER BY name'));
    return [ map { $_->[0] } @{ rows_of($r) } ];
}

1;
