# MyStmt.pm -- drives tests/integration/clients/my_stmt.c (MariaDB Connector/C's mysql_stmt_*
# API, one process holding several named connections) for the prepared-statement tests.
#
#   my $c = MyStmt->new($port);                 # against weir's MySQL port (or MariaDB's)
#   $c->cmd('connect A');                       # -> ('connected')
#   my @rows = $c->cmd('exec A s1');            # -> ('row: 42|7', ...), ('ok 1'), ('error N msg')
#   my $v = $c->one('exec A s1');               # the first line
#   $c->close;                                  # ends the process (also at exit)
# Every command waits at most `timeout` seconds (default 60) for its answer; a missing answer
# dies. Rows print as "row: v1|v2"; see my_stmt.c for the commands.
package MyStmt;

use strict;
use warnings;
use IO::Handle;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time);
use WeirTest;

my @ALL;

sub new {
    my ($class, $port, %o) = @_;
    my $bin = WeirTest::client_bin('my_stmt');
    die "client $bin not built" unless -x $bin;
    pipe(my $crd, my $pwr) or die "pipe: $!";
    pipe(my $prd, my $cwr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $pwr;
        close $prd;
        open STDIN, '<&', $crd or POSIX::_exit(126);
        open STDOUT, '>&', $cwr or POSIX::_exit(126);
        exec { $bin } $bin, '127.0.0.1', $port, $o{user} // 'app', $o{password} // 'apppass',
            $o{db} // 'shop' or POSIX::_exit(127);
    }
    close $crd;
    close $cwr;
    $pwr->autoflush(1);
    my $self = bless { pid => $pid, w => $pwr, r => $prd, buf => '',
        timeout => $o{timeout} // 60 }, $class;
    push @ALL, $self;
    return $self;
}

# cmd($line) -> the answer's lines
sub cmd {
    my ($self, $line) = @_;
    die "my_stmt is gone" unless $self->{pid};
    print { $self->{w} } "$line\n";
    my $sel = IO::Select->new($self->{r});
    my $deadline = time + $self->{timeout};
    while ($self->{buf} !~ /(?:^|\n)\.\n/) {
        my $left = $deadline - time;
        die "my_stmt: no answer to '$line' in $self->{timeout} s\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($self->{r}, my $chunk, 65536);
        die "my_stmt: exited during '$line'\n" unless $n;
        $self->{buf} .= $chunk;
    }
    $self->{buf} =~ s/\A(.*?)(?:^|\n)\.\n//s;
    my $out = $1;
    return grep { length } split /\n/, $out;
}

# one($line) -> the first line of the answer ('' when none)
sub one { my ($self, $line) = @_; my @l = $self->cmd($line); return $l[0] // '' }

# rows($line) -> the values of the "row:" lines, each an arrayref
sub rows {
    my ($self, $line) = @_;
    return map { [split /\|/, substr($_, 5), -1] } grep { /^row: / } $self->cmd($line);
}

sub close {
    my ($self) = @_;
    return unless $self->{pid};
    close $self->{w};
    my $deadline = time + 10;
    while (time < $deadline) {
        last if waitpid($self->{pid}, WNOHANG) == $self->{pid};
        select(undef, undef, undef, 0.05);
    }
    if (kill 0, $self->{pid}) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
    $self->{pid} = undef;
}

END { $_->close for @ALL }

1;
