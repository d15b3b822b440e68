#!/usr/bin/perl
# t84_hosts_mysql.t -- host lists for MySQL entries: two real MariaDB servers (no replication
# needed) whose role is their read_only flag, toggled with SET GLOBAL read_only; each entry's
# target_session_attrs picks the fitting server whichever is listed first, and picks again
# when the flags change (after RECONNECT). An entry by name (localhost) reaches the server over
# TCP at the resolved address (MariaDB Connector/C would take "localhost" for its unix socket).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use WeirTest;
use MyTest;
use HostsTest;

my $m1 = MyTest->new;
my $m2 = MyTest->new;
my ($p1, $p2) = ($m1->port, $m2->port);
my $l = "backend=mysql host=127.0.0.1,127.0.0.1 dbname=shop pool_mode=transaction";
my $w = $m1->start_weir(
    users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin' },
    databases => {
        byname => "backend=mysql host=localhost port=$p1 dbname=shop",
        rw_12 => "$l port=$p1,$p2 target_session_attrs=read-write",
        rw_21 => "$l port=$p2,$p1 target_session_attrs=read-write",
        ro_12 => "$l port=$p1,$p2 target_session_attrs=read-only",
        sb_21 => "$l port=$p2,$p1 target_session_attrs=standby",
        pr_21 => "$l port=$p2,$p1 target_session_attrs=primary",
        any_12 => "$l port=$p1,$p2",
    });

sub port_of {
    my ($db) = @_;
    my ($out, $err, $rc) = $w->mariadb('SELECT @@port', db => $db);
    chomp $out;
    return $rc ? "error: $err" : $out;
}

sub read_only {
    my ($m, $on) = @_;
    my ($out, $err, $rc) = $m->admin_sql("SET GLOBAL read_only = $on");
    die "SET GLOBAL read_only: $err" if $rc;
}

is(port_of('byname'), $p1, 'an entry by name (localhost) reaches MariaDB over TCP');

read_only($m1, 1);
is(port_of('rw_12'), $p2, 'read_only on the first: read-write goes to the second');
is(port_of('rw_21'), $p2, 'read-write, writable server listed first: that one');
is(port_of('ro_12'), $p1, 'read-only: the read_only server');
is(port_of('sb_21'), $p1, 'standby, listed second: the read_only server');
is(port_of('pr_21'), $p2, 'primary: the writable server');
is(port_of('any_12'), $p1, 'any: the first host');
my ($out, $err, $rc) = $w->mariadb('CREATE TABLE t84 (x int)', db => 'rw_12');
is($rc, 0, 'a write through the read-write entry works') or diag($err);

my ($h1) = grep { $_->{port} == $p1 && $_->{host} eq '127.0.0.1' } @{ console($w, 'SHOW HOSTS') };
is($h1->{role}, 'standby', 'SHOW HOSTS: the read_only server counts as a standby');
is($h1->{read_only}, 1, 'with read_only 1');

# Swap the flags: new logins follow them.
read_only($m1, 0);
read_only($m2, 1);
console($w, "RECONNECT $_") for qw(rw_12 rw_21 ro_12 sb_21 pr_21);
wait_until(20, sub { !grep { $_->{database} =~ /^(rw|ro|sb|pr)_/ } @{ console($w, 'SHOW SERVERS') } });
is(port_of('rw_12'), $p1, 'flags swapped: read-write goes to the first');
is(port_of('rw_21'), $p1, 'and with the other order too');
is(port_of('ro_12'), $p2, 'read-only: now the second');
is(port_of('sb_21'), $p2, 'standby: now the second');
($h1) = grep { $_->{port} == $p1 && $_->{host} eq '127.0.0.1' } @{ console($w, 'SHOW HOSTS') };
is($h1->{role}, 'primary', 'SHOW HOSTS: the first server is a primary again');
$w->log_like(qr/host 127\.0\.0\.1:$p1: now primary/, 'the role change is logged');

# Both read_only: the read-write entry fails at once with a clear error.
read_only($m1, 1);
console($w, 'RECONNECT rw_12');
wait_until(20, sub { !grep { $_->{database} eq 'rw_12' } @{ console($w, 'SHOW SERVERS') } });
($out, $err, $rc) = $w->mariadb('SELECT 1', db => 'rw_12');
like($err, qr/no host fits target_session_attrs=read-write/, "no writable server: $err");

$w->stop;
done_testing();
