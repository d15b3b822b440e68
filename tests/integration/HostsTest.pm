# HostsTest.pm -- helpers of the database-host tests (t80..t86), built on WeirTest.pm:
#   start_standby($t)   a streaming standby of WeirTest's PostgreSQL (pg_basebackup -R over the
#                       unix socket), on its own loopback port; ->promote, ->stop, ->start,
#                       ->port
#   console($w, $sql)   rows of a console SHOW (admin user 'admin', password 'adminpass')
#   server_of($w, $db)  "port|in_recovery" of the server weir gives a fresh client of $db
#   silent_dns()        a UDP socket on 127.0.0.1 that takes DNS queries and never answers
#   before_14($port)    a relay on loopback in front of a real PostgreSQL that drops its
#                       ParameterStatus in_hot_standby, as servers before 14 never send it;
#                       returns the relay's port (stopped at exit)
# Standbys are stopped at exit (before WeirTest removes the temp dir).
package HostsTest;

use strict;
use warnings;
use Test::More;
use WeirTest;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);
use DBI;
use Exporter 'import';

our @EXPORT = qw(start_standby console server_of silent_dns before_14);

my @STANDBYS;
my @RELAYS;
my $OWNER_PID = $$;

sub start_standby {
    my ($t) = @_;
    my $n = @STANDBYS + 1;
    my $dir = $t->tmp . "/standby$n";
    my $port = free_port();
    if ($WeirTest::IS_ROOT) {
        mkdir $dir or die "mkdir $dir: $!";
        chown((getpwnam('postgres'))[2, 3], $dir);
        chmod 0700, $dir;
    }
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_basebackup'), '-h', $t->{sockdir},
            '-p', $t->pgport, '-U', 'postgres', '-D', $dir, '-R', '-X', 'stream', '-c', 'fast'],
        as_pg => 1, timeout => 180);
    die "pg_basebackup failed ($rc): $out\n$err" if $rc;
    my $sb = bless { dir => $dir, port => $port, log => "$dir.log", t => $t }, 'HostsTest::Standby';
    push @STANDBYS, $sb;
    # The copied postgresql.conf names the primary's port: the last setting wins.
    open my $fh, '>>', "$dir/postgresql.conf" or die $!;
    print $fh "\n# standby\nport = $port\nhot_standby = on\n";
    close $fh;
    if ($WeirTest::IS_ROOT) {
        WeirTest::spew($sb->{log}, '');
        chown((getpwnam('postgres'))[2, 3], $sb->{log});
    }
    ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $dir, '-l', $sb->{log}, '-w',
            '-t', '90', 'start'], as_pg => 1, timeout => 120);
    if ($rc) {
        diag(WeirTest::slurp($sb->{log}));
        die "standby did not start ($rc): $out\n$err";
    }
    $sb->{running} = 1;
    return $sb;
}

# console($w, $sql) -> arrayref of row hashes (dies on error).
sub console {
    my ($w, $sql) = @_;
    my $dbh = DBI->connect("dbi:Pg:host=127.0.0.1;port=" . $w->port
            . ";dbname=weir;sslmode=disable;application_name=console",
        'admin', 'adminpass', { RaiseError => 1, PrintError => 0, AutoCommit => 1,
            pg_server_prepare => 0 });
    my $r = $dbh->selectall_arrayref($sql, { Slice => {} });
    $dbh->disconnect;
    return $r;
}

# server_of($w, $db) -> "port|t/f" from a fresh client of database $db through weir, or the error.
sub server_of {
    my ($w, $db, %o) = @_;
    my ($out, $err, $rc) = $w->psql('SELECT inet_server_port(), pg_is_in_recovery()',
        db => $db, args => ['-F', '|'], timeout => $o{timeout} // 60);
    return $rc ? "error: $err" : $out;
}

# silent_dns() -> (socket, port): a name server on loopback that drops every query.
sub silent_dns {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp')
        or die "udp socket: $!";
    return ($s, $s->sockport);
}

# before_14($port) -> the port of a relay to 127.0.0.1:$port that passes everything but the
# server's ParameterStatus messages named in_hot_standby. One forked process per connection;
# the client's side is passed as is; a server's answer to an SSLRequest ('N') passes too, and
# after an 'S' (TLS) everything passes unread.
sub before_14 {
    my ($to) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 64, ReuseAddr => 1) or die "relay listen: $!";
    my $pid = WeirTest::spawn(sub {
        $SIG{CHLD} = 'IGNORE';
        my $deadline = time + 600;    # bounded: a test never runs this long
        while (time < $deadline) {
            my $c = $l->accept or next;
            my $k = fork // die "fork: $!";
            if ($k == 0) {
                _relay($c, $to);
                POSIX::_exit(0);
            }
            close $c;
        }
        return 1;
    });
    push @RELAYS, $pid;
    my $port = $l->sockport;
    close $l;
    return $port;
}

sub _relay {
    my ($c, $to) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $to, Proto => 'tcp')
        or return;
    my $sel = IO::Select->new($c, $s);
    my $pending = '';    # server bytes not yet a whole message
    my $first = 1;       # the server's first byte may answer an SSLRequest ('N', or 'S': TLS)
    my $raw = 0;         # TLS: nothing to read, everything passes
    while (1) {
        for my $h ($sel->can_read(60)) {
            my $n = sysread($h, my $buf, 65536);
            return unless $n;
            if ($h == $c) {
                syswrite($s, $buf) // return;
                next;
            }
            if ($raw) {
                syswrite($c, $buf) // return;
                next;
            }
            $pending .= $buf;
            my $out = '';
            if ($first && $pending =~ /^[NS]/) {
                $raw = 1 if $pending =~ /^S/;
                $out = substr($pending, 0, 1, '');
                if ($raw) {
                    syswrite($c, $out . $pending) // return;
                    next;
                }
            }
            $first = 0;
            while (length($pending) >= 5) {
                my ($type, $len) = unpack('a N', $pending);
                last if length($pending) < 1 + $len;
                my $msg = substr($pending, 0, 1 + $len, '');
                next if $type eq 'S' && substr($msg, 5) =~ /^in_hot_standby\0/;
                $out .= $msg;
            }
            syswrite($c, $out) // return if length $out;
        }
    }
}

END {
    if ($$ == $OWNER_PID) {
        kill 'KILL', $_ for @RELAYS;
        $_->stop for @STANDBYS;
    }
}

package HostsTest::Standby;

use WeirTest;

sub port { $_[0]{port} }

sub promote {
    my ($self) = @_;
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $self->{dir}, '-w', '-t',
            '60', 'promote'], as_pg => 1, timeout => 90);
    die "pg_ctl promote failed ($rc): $out\n$err" if $rc;
}

sub start {
    my ($self) = @_;
    return if $self->{running};
    my ($out, $err, $rc) = run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $self->{dir}, '-l',
            $self->{log}, '-w', '-t', '90', 'start'], as_pg => 1, timeout => 120);
    die "standby did not start again ($rc): $out\n$err" if $rc;
    $self->{running} = 1;
}

sub stop {
    my ($self, $mode) = @_;
    return unless $self->{running};
    run_cmd([WeirTest::pg_bin('pg_ctl'), '-D', $self->{dir}, '-m', $mode // 'immediate', '-w',
            '-t', '30', 'stop'], as_pg => 1, timeout => 40);
    $self->{running} = 0;
}

1;
