# t120_docker_stack.t -- the compose stack run for real: docker/test-stack (its header says
# what it does) on this machine's own Docker engine, and each of its checks as a test here.
# Skipped, saying why, when no engine can run here (the script's exit status 77) or when
# WEIR_SKIP_DOCKER is set. A first run builds the base image with debootstrap (a few
# minutes); later runs use the engine's cached images.
use strict;
use warnings;
use FindBin;
use Test::More;

plan skip_all => 'WEIR_SKIP_DOCKER is set' if $ENV{WEIR_SKIP_DOCKER};
my $script = "$FindBin::Bin/../../docker/test-stack";
open(my $out, '-|', "timeout -k 10 1500 '$script' 2>&1") or die "$script: $!";
my @lines;
while (my $l = <$out>) {
    push @lines, $l;
    print STDERR "# $l" if $ENV{TEST_VERBOSE};
}
close $out;
my $rc = $? >> 8;
if ($rc == 77) {
    my ($why) = map { /skipped: (.*)/ ? $1 : () } @lines;
    plan skip_all => 'docker/test-stack: ' . ($why // 'no Docker engine can run here');
}
my $checks = 0;
for (@lines) {
    next unless /\] (not )?ok \d+ - (.*)$/;
    ok(!$1, $2);
    $checks++;
}
ok($checks >= 6, "test-stack ran its checks ($checks)");
is($rc, 0, 'docker/test-stack exit status 0') or diag(join '', @lines);
note(join '', grep { /^\[stack/ } @lines);
done_testing();
