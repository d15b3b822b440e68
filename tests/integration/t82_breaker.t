#!/usr/bin/perl
# t82_breaker.t -- the breaker of a host in a list: a host that refuses connections is tried
# until host_breaker_failures, then skipped (SHOW HOSTS: open, with its next probe), probed
# once the back-off has passed (and opened again while still down), and used again once it
# is back. The host is a real PostgreSQL standby stopped and started again.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use HostsTest;

my $t = WeirTest->new;
my $sb = start_standby($t);
my ($pp, $sp) = ($t->pgport, $sb->port);
my %users = (app => 'apppass', admin => 'adminpass');
my $backoff = 3;
my $w = $t->start_weir(users => \%users,
    weir => { admin_users => 'admin', pool_mode => 'session', host_breaker_failures => 2,
        host_breaker_backoff => $backoff, host_breaker_backoff_max => 20 },
    databases => { h => "host=127.0.0.1,127.0.0.1 port=$sp,$pp dbname=testdb" });

sub host_row {
    my ($port) = @_;
    my ($r) = grep { $_->{port} == $port } @{ console($w, 'SHOW HOSTS') };
    return $r // {};
}

# Closes the pool's servers, then logs in $n clients one after another (each keeps its server,
# so each needs a login of its own). Returns the server ports they got.
sub round {
    my ($n) = @_;
    console($w, 'RECONNECT h');
    wait_until(20, sub { !grep { $_->{database} eq 'h' } @{ console($w, 'SHOW SERVERS') } });
    my (@dbh, @ports);
    for (1 .. $n) {
        my $d = $w->dbi(db => 'h');
        push @dbh, $d;
        push @ports, $d ? $d->selectrow_array('SELECT inet_server_port()') : 'error';
    }
    $_ && $_->disconnect for @dbh;
    return join(',', @ports);
}

sub attempts_on_standby {
    my @l = $w->log_text =~ /login failed: .*port $sp failed/g;
    return scalar @l;
}

is(round(2), "$sp,$sp", 'both hosts up: logins go to the first host');
$sb->stop;
is(round(3), "$pp,$pp,$pp", 'first host down: every client is served by the second');
my $r = host_row($sp);
is($r->{state}, 'open', 'SHOW HOSTS: the refusing host\'s breaker is open');
is($r->{failures}, 2, 'after host_breaker_failures (2) failures');
ok($r->{next_probe} > 0 && $r->{next_probe} <= $backoff * 1.2 + 0.1,
    "next probe in $r->{next_probe} s (back-off $backoff s, jittered)");
like($r->{last_error}, qr/refused/, "last error: $r->{last_error}");
is(attempts_on_standby(), 2, 'the third login skipped it: two attempts in the log');

sleep $r->{next_probe} + 0.5;
is(round(1), $pp, 'after the back-off, still down: the probe fails, the client is served');
is(attempts_on_standby(), 3, 'one probe login was made');
$r = host_row($sp);
is($r->{state}, 'open', 'the failed probe opened the breaker again');
ok($r->{next_probe} > $backoff, "the back-off doubled: next probe in $r->{next_probe} s");
is(round(2), "$pp,$pp", 'before the next probe is due the host is skipped again');
is(attempts_on_standby(), 3, 'no attempt while open');

$sb->start;
sleep host_row($sp)->{next_probe} + 0.5;
is(round(2), "$sp,$sp", 'host back: the probe succeeds and logins go to it again');
$r = host_row($sp);
is($r->{state}, 'closed', 'SHOW HOSTS: closed');
is($r->{failures}, 0, 'failures forgotten');
ok(!defined $r->{next_probe}, 'no next probe');
$w->log_like(qr/breaker open after 2 failure/, 'the opening was logged');

$w->stop;
done_testing();
