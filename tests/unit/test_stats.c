/* test_stats.c -- unit tests of the statistics helpers (buckets, sums) and config_each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/conf/config.h"
#include "pooler/pool/stats.h"
#include "tests/tap.h"

struct seen {
    int n;
    char pool_size[32];
    bool listen_port_reloadable;
    bool auth_type_seen;
};

static void each(void *arg, const char *key, const char *value, bool reloadable)
{
    struct seen *s = arg;
    s->n++;
    if (!strcmp(key, "default_pool_size"))
        snprintf(s->pool_size, sizeof(s->pool_size), "%s", value);
    if (!strcmp(key, "listen_port"))
        s->listen_port_reloadable = reloadable;
    if (!strcmp(key, "auth_type"))
        s->auth_type_seen = !strcmp(value, "trust");
}

int main(void)
{
    no_plan();
    is_int(stats_bucket(0), 0, "0 s: first bucket");
    is_int(stats_bucket(0.0001), 0, "a bound belongs to its bucket (le)");
    is_int(stats_bucket(0.00011), 1, "just above the first bound: second bucket");
    is_int(stats_bucket(1), 12, "1 s");
    is_int(stats_bucket(10), STATS_NBOUNDS - 1, "the last finite bound");
    is_int(stats_bucket(11), STATS_NBOUNDS, "above every bound: +Inf");
    for (int i = 1; i < STATS_NBOUNDS; i++)
        if (stats_bounds[i] <= stats_bounds[i - 1])
            ok(0, "bounds ascend at %d", i);

    struct stats_slot *slots = stats_slots_new(3);
    ok(slots != NULL, "slots for 3 workers");
    stats_query(&slots[0], 0.002);
    stats_query(&slots[1], 0.5);
    stats_xact(&slots[2], 0.003);
    stats_wait(&slots[2], 2);
    stats_add(&slots[0].bytes_recv, 100);
    stats_add(&slots[1].bytes_recv, 23);
    stats_add(&slots[2].errors[STATS_ERR_WAIT_TIMEOUT], 1);
    struct stats_totals t;
    stats_sum_slots(slots, 3, &t);
    is_int((int)t.query_count, 2, "queries summed over workers");
    is_int((int)t.query_us, 502000, "query time in microseconds");
    is_int((int)t.xact_count, 1, "transactions");
    is_int((int)t.wait_count, 1, "waits");
    is_int((int)t.wait_us, 2000000, "wait time");
    is_int((int)t.bytes_recv, 123, "bytes");
    is_int((int)t.errors[STATS_ERR_WAIT_TIMEOUT], 1, "errors by kind");
    is_int((int)t.hist[STATS_H_QUERY][stats_bucket(0.002)], 1, "query histogram, 2 ms");
    is_int((int)t.hist[STATS_H_QUERY][stats_bucket(0.5)], 1, "query histogram, 500 ms");
    is_int((int)t.hist[STATS_H_WAIT][stats_bucket(2)], 1, "wait histogram");
    struct stats_totals acc = {0};
    stats_totals_add(&acc, &t);
    stats_totals_add(&acc, &t);
    is_int((int)acc.query_count, 4, "totals add up");
    free(slots);
    is_str(stats_error_name(STATS_ERR_QUERY_TIMEOUT), "query_timeout", "error names");

    char dir[] = "/tmp/weir-test-stats-XXXXXX", path[300];
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/weir.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[databases]\nx = host=127.0.0.1\n[weir]\nauth_type = trust\ndefault_pool_size = 7\n", f);
    fclose(f);
    struct config *cfg;
    char err[256];
    ok(config_load(path, &cfg, err, sizeof(err)) == WR_OK, "config loads");
    struct seen s = {0};
    config_each(cfg, each, &s);
    ok(s.n >= 40, "config_each lists every [weir] key (%d)", s.n);
    is_str(s.pool_size, "7", "with its current value");
    ok(!s.listen_port_reloadable, "listen_port takes effect only at start");
    ok(s.auth_type_seen, "enums as their names");
    config_free(cfg);
    unlink(path);
    rmdir(dir);
    return done_testing();
}
