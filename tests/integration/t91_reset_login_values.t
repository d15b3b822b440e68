# t91_reset_login_values.t -- RESET returns a client's login values, as over a direct
# connection: after a login with PGTZ, PGDATESTYLE and PGOPTIONS (-c search_path, -c
# statement_timeout), RESET TimeZone, RESET ALL and DISCARD ALL bring back those values, not
# the server's defaults, in session and transaction pooling; the client is told the values
# with ParameterStatus before its ReadyForQuery and sees RESET's own command tag only.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;

my $t = WeirTest->new;
{
    my $dbh = $t->pg_admin_dbi('testdb');
    $dbh->do('CREATE SCHEMA a_schema AUTHORIZATION app');
    $dbh->disconnect;
}
my %env = (PGTZ => 'PST8PDT', PGDATESTYLE => 'SQL, DMY',
    PGOPTIONS => '-c search_path=a_schema -c statement_timeout=1234');

# Sends one simple Query; returns the messages up to ReadyForQuery as [type, text] pairs
# (ParameterStatus as "name=value", CommandComplete as its tag, DataRow as its first value).
sub exchange {
    my ($sock, $sql) = @_;
    syswrite($sock, pg_msg('Q', "$sql\0"));
    my @m;
    while (my ($type, $body) = read_msg($sock, 20)) {
        my $text = '';
        if ($type eq 'S') {
            $text = join('=', (split /\0/, $body)[0, 1]);
        } elsif ($type eq 'C') {
            ($text) = split /\0/, $body;
        } elsif ($type eq 'D') {
            my $len = unpack('l>', substr($body, 2, 4));
            $text = substr($body, 6, $len);
        } elsif ($type eq 'E') {
            $text = parse_error_fields($body)->{M};
        } elsif ($type eq 'Z') {
            $text = $body;
        }
        push @m, [ $type, $text ];
        last if $type eq 'Z';
    }
    return \@m;
}

sub show { my ($m) = @_; return join(' ', map { "$_->[0]:$_->[1]" } @$m) }

for my $mode (qw(session transaction)) {
    my $w = $t->start_weir(weir => { pool_mode => $mode, default_pool_size => 2 });
    local @ENV{ keys %env } = values %env;
    # psql: each -c is its own Query (its own transaction in transaction pooling).
    my ($out, $err, $rc) = $w->psql([
            q{SET TimeZone = 'UTC'}, q{SET DateStyle = 'ISO, MDY'}, 'SET search_path = public',
            'SET statement_timeout = 5', 'SHOW TimeZone', 'RESET TimeZone', 'SHOW TimeZone',
            'RESET ALL', 'SHOW DateStyle', 'SHOW search_path', 'SHOW statement_timeout',
            'SHOW TimeZone'],
    );
    is($rc, 0, "$mode: psql ran") or diag($err);
    is($out, join("\n", 'UTC', 'PST8PDT', 'SQL, DMY', 'a_schema', '1234ms', 'PST8PDT'),
        "$mode: RESET TimeZone and RESET ALL return the login values");

    ($out, $err, $rc) = $w->psql([
            q{SET DateStyle = 'ISO, MDY'}, 'SET search_path = public', 'DISCARD ALL',
            'SHOW DateStyle', 'SHOW search_path']);
    is($out, "SQL, DMY\na_schema", "$mode: DISCARD ALL returns the login values") or diag($err);

    # What the client sees on the wire.
    my $s = $w->socket;
    my $login = raw_login($s, extra => { TimeZone => 'PST8PDT', options => '-c search_path=a_schema' });
    ok($login->{ok}, "$mode: raw login with TimeZone and options") or diag(explain($login));
    is($login->{params}{TimeZone}, 'PST8PDT', "$mode: told its TimeZone at login");
    my $m = exchange($s, q{SET TimeZone = 'UTC'});
    is(show($m), 'C:SET S:TimeZone=UTC Z:I', "$mode: SET TimeZone (as PostgreSQL orders it)");
    $m = exchange($s, 'RESET TimeZone');
    my @tz = map { $_->[1] } grep { $_->[0] eq 'S' && $_->[1] =~ /^TimeZone=/ } @$m;
    is(join(' ', @tz), 'TimeZone=PST8PDT', "$mode: RESET: ParameterStatus of the login value only")
        or diag(show($m));
    is(join(' ', map { "$_->[0]:$_->[1]" } grep { $_->[0] ne 'S' } @$m), 'C:RESET Z:I',
        "$mode: RESET: only its own command tag and one ReadyForQuery") or diag(show($m));
    is($m->[-1][0], 'Z', "$mode: ParameterStatus before ReadyForQuery");
    $m = exchange($s, 'SHOW search_path; SHOW TimeZone');
    is(join(',', map { $_->[1] } grep { $_->[0] eq 'D' } @$m), 'a_schema,PST8PDT',
        "$mode: options and TimeZone as logged in");
    exchange($s, 'BEGIN; SET search_path = public; RESET ALL');
    exchange($s, 'ROLLBACK');
    $m = exchange($s, 'SHOW search_path');
    is(join(',', map { $_->[1] } grep { $_->[0] eq 'D' } @$m), 'a_schema',
        "$mode: a rolled-back RESET ALL leaves the login values");
    syswrite($s, pg_msg('X', ''));
    close $s;
    $w->stop;
}
done_testing();
