#!/usr/bin/perl
# t86_role_before_14.t -- the role of a server that reports no in_hot_standby (PostgreSQL before
# 14): weir asks pg_is_in_recovery() at login when the entry's target_session_attrs cares. The
# machine has only PostgreSQL 15, so a relay in front of a real primary and a real standby drops
# their ParameterStatus in_hot_standby, exactly what an older server would (not) send.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use WeirTest;
use HostsTest;

my $t = WeirTest->new;
my $sb = start_standby($t);
my ($pp, $sp) = ($t->pgport, $sb->port);
my ($rp, $rs) = (before_14($pp), before_14($sp));
my $l = "host=127.0.0.1,127.0.0.1 dbname=testdb";
my $w = $t->start_weir(users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin', pool_mode => 'transaction' },
    databases => {
        rw_sp => "$l port=$rs,$rp target_session_attrs=read-write",
        sb_ps => "$l port=$rp,$rs target_session_attrs=standby",
        ro_ps => "$l port=$rp,$rs target_session_attrs=read-only",
        any_sp => "$l port=$rs,$rp",
    });

is(server_of($w, 'rw_sp'), "$pp|f", 'read-write, standby listed first: the primary');
is(server_of($w, 'sb_ps'), "$sp|t", 'standby, primary listed first: the standby');
is(server_of($w, 'ro_ps'), "$sp|t", 'read-only: the standby');
is(server_of($w, 'any_sp'), "$sp|t", 'any: the first host, no role asked');
my %role = map { ($_->{port} => $_->{role}) } @{ console($w, 'SHOW HOSTS') };
is($role{$rs}, 'standby', 'SHOW HOSTS: the relayed standby is known as a standby');
is($role{$rp}, 'primary', 'SHOW HOSTS: the relayed primary as a primary');

# Straight to the servers (in_hot_standby reported), no role query is needed: the same answers.
my $w2 = $t->start_weir(users => { app => 'apppass' }, weir => { pool_mode => 'transaction' },
    databases => { sb => "$l port=$pp,$sp target_session_attrs=standby" });
is(server_of($w2, 'sb'), "$sp|t", 'PostgreSQL 14 and later: in_hot_standby decides');

$w->stop;
$w2->stop;
done_testing();
