#!/usr/bin/perl
# t85_role_change_mysql.t -- a MySQL entry follows a demotion without a reconnect: two real
# MariaDB servers whose roles are swapped with SET GLOBAL read_only while weir holds pooled
# connections to the first. A client's write that fails as on a read-only server (ERR 1290)
# makes weir read the role again when the server is released: it closes, and the client's next
# transaction reaches the new primary. With server_check_delay = 0 the health check itself reads
# the role, so an idle server on the demoted host is never handed to anyone.
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

sub read_only {
    my ($m, $on) = @_;
    my ($out, $err, $rc) = $m->admin_sql("SET GLOBAL read_only = $on");
    die "SET GLOBAL read_only: $err" if $rc;
}

for my $m ($m1, $m2) {
    my ($o, $e, $rc) = $m->admin_sql('CREATE TABLE shop.t85 (x int)');
    die "CREATE TABLE: $e" if $rc;
}
read_only($m2, 1);

my $entry = "backend=mysql host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=shop "
    . "pool_mode=transaction pool_size=1 target_session_attrs=read-write";
my $w = $m1->start_weir(
    users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin', server_check_delay => 30 },
    databases => { rw => $entry });
my $w2 = $m1->start_weir(
    users => { app => 'apppass', admin => 'adminpass' },
    weir => { admin_users => 'admin', server_check_delay => 0 },
    databases => { rw => $entry });

my $d = $w->my_dbi(db => "rw") or BAIL_OUT("dbi: $DBI::errstr");
my ($port) = $d->selectrow_array('SELECT @@port');
is($port, $p1, 'before: the read-write entry reaches the first server');
ok($d->do('INSERT INTO t85 VALUES (1)'), 'a write there works');
my $d2 = $w2->my_dbi(db => "rw") or BAIL_OUT("dbi: $DBI::errstr");
($port) = $d2->selectrow_array('SELECT @@port');
is($port, $p1, 'the checked weir has its pooled server on the first server too');

# The first server is demoted, the second promoted; weir's pooled servers stay logged in.
read_only($m1, 1);
read_only($m2, 0);

# A write on the pooled server fails as on a read-only server, and that is the client's answer.
my $ok = eval { $d->do('INSERT INTO t85 VALUES (2)') };
ok(!$ok, 'the write on the demoted server fails');
like($d->errstr // '', qr/read.only|read-only/i, 'with the server\'s read-only error: '
    . ($d->errstr // ''));
ok(wait_until(10, sub { $w->log_text =~ /its host's role changed/ }),
    'weir read the role at release and closed that server');
$w->log_like(qr/host 127\.0\.0\.1:$p1: now standby/, 'the host is now known as a standby');
($port) = $d->selectrow_array('SELECT @@port');
is($port, $p2, 'the same client\'s next transaction reaches the new primary');
ok($d->do('INSERT INTO t85 VALUES (3)'), 'and writes there');
my ($h1) = grep { $_->{port} == $p1 } @{ console($w, 'SHOW HOSTS') };
is($h1->{role}, 'standby', 'SHOW HOSTS: the demoted host is a standby');

# The checked weir: its idle server on the demoted host fails the role check before use.
($port) = $d2->selectrow_array('SELECT @@port');
is($port, $p2, 'server_check_delay 0: the next transaction goes to the new primary');
ok(wait_until(10, sub { $w2->log_text =~ /health check: its host's role changed/ }),
    'the health check read the role and closed the old server');

# Nothing changed: a health check of a server that still fits keeps it.
my $before = () = $w2->log_text =~ /closing/g;
($port) = $d2->selectrow_array('SELECT @@port') for 1 .. 3;
is($port, $p2, 'still the new primary');
my $after = () = $w2->log_text =~ /closing/g;
is($after, $before, 'servers that still fit are kept');

$d->disconnect;
$d2->disconnect;
$w->stop;
$w2->stop;
done_testing();
