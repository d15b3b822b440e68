# t07_check.t -- weir --check as deploy scripts run it: an unknown key in any section fails
# with the file, the line and the nearest known key; a section header without its ']' says
# so; PgBouncer keys weir lacks only warn. A normal start refuses what --check refuses, and
# a reload of such a file is refused while the running configuration keeps serving.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use WeirTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = WeirTest->new;
my $dir = $t->tmp . "/check";
mkdir $dir or die "mkdir $dir: $!";
my $pg = $t->pgport;

# check($text) -> ($stdout, $stderr, $exit): weir --check on a file holding $text.
my $n = 0;
sub check {
    my ($text) = @_;
    my $f = "$dir/c" . ++$n . ".ini";
    spew($f, $text);
    my ($out, $err, $rc) = run_cmd([WeirTest::weir_bin(), '--check', $f], timeout => 30);
    return ($out, $err, $rc, $f);
}

my $base = "[databases]\ntestdb = host=127.0.0.1 port=$pg dbname=testdb\n\n"
    . "[weir]\nauth_type = trust\nlisten_port = 6999\n";

{
    my ($out, $err, $rc) = check($base);
    is($rc, 0, 'a valid file: --check exits 0');
    like($out, qr/configuration is valid/, '... and says it is valid');
}
{
    my ($out, $err, $rc, $f) = check($base . "defualt_pool_size = 5\n");
    isnt($rc, 0, 'defualt_pool_size in [weir]: --check exits non-zero');
    like($err, qr/\Q$f\E:7: unknown setting "defualt_pool_size" in \[weir\]/,
        '... naming the file, the line and the key');
    like($err, qr/did you mean default_pool_size\?/, '... and suggesting default_pool_size');
    unlike($out, qr/valid/, '... and does not call it valid');
}
{
    my ($out, $err, $rc, $f) = check("[databases]\ntestdb = host=127.0.0.1 prot=$pg\n"
            . "[weir]\nauth_type = trust\n");
    isnt($rc, 0, 'a typo in a database entry fails --check');
    like($err, qr/\Q$f\E:2: unknown key "prot" in database entry "testdb"; did you mean port\?/,
        '... with its line and the nearest key');
}
{
    my ($out, $err, $rc, $f) = check($base . "[users]\napp = pool_szie=3\n");
    isnt($rc, 0, 'a typo in a [users] entry fails --check');
    like($err, qr/\Q$f\E:8: unknown key "pool_szie" for user "app"; did you mean pool_size\?/,
        '... with its line and the nearest key');
}
{
    my ($out, $err, $rc, $f) = check("[databases\ntestdb = host=127.0.0.1\n[weir]\nauth_type = trust\n");
    isnt($rc, 0, '[databases without its ] fails --check');
    like($err, qr/\Q$f\E:1: section header \[databases is missing its \]/, '... saying so');
    unlike($err, qr/unknown section/, '... not "unknown section"');
}
{
    my ($out, $err, $rc, $f) = check($base . "[databse]\nx = host=h\n");
    isnt($rc, 0, 'a misspelt section fails --check');
    like($err, qr/unknown section \[databse\]; did you mean databases\?/, '... with a suggestion');
}
{
    my ($out, $err, $rc) = check($base . "ignore_startup_parameters = extra_float_digits\n");
    is($rc, 0, 'a PgBouncer key weir does not implement passes --check');
    like($err, qr/PgBouncer setting "ignore_startup_parameters" is not supported by weir; ignored/,
        '... with a warning');
}

# A normal start refuses the same file.
{
    my $w = $t->start_weir(weir => { defualt_pool_size => 5 }, expect_fail => 1);
    ok(wait_until(20, sub { !$w->alive }), 'a start with an unknown key exits');
    $w->log_like(qr/unknown setting "defualt_pool_size".*did you mean default_pool_size\?/,
        '... saying why');
    $w->{stopped} = 1;
}

# A reload of a file with an unknown key is refused; the running configuration stays.
{
    my $w = $t->start_weir(weir => { default_pool_size => 7 });
    my $good = slurp($w->{conf});
    (my $bad = $good) =~ s/default_pool_size = 7/default_pool_size = 9\ndefualt_pool_size = 5/;
    spew($w->{conf}, $bad);
    kill 'HUP', $w->pid;
    ok(wait_until(20, sub { $w->log_text =~ /reload refused/ }), 'a reload with a typo is refused');
    $w->log_like(qr/reload refused.*unknown setting "defualt_pool_size".*did you mean/,
        '... with the reason in the log');
    my ($out2) = $w->psql('SELECT 1', user => 'app', password => 'apppass');
    is($out2, '1', 'weir keeps serving');
    spew($w->{conf}, $good);
    $w->stop;
}

done_testing();
