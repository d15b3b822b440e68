/* test_iplimit.c -- unit tests of the per-address table: connection cap, token bucket, bans. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/iplimit.h"
#include "pooler/core/worker.h"
#include "tests/tap.h"

static struct config cfg;

static uint8_t *ip4(const char *s)
{
    static uint8_t b[4][16];
    static int k;
    uint8_t *p = b[k++ % 4];
    memset(p, 0, 16);
    inet_pton(AF_INET, s, p);
    return p;
}

static enum iplimit_reason admit(const char *addr, double now)
{
    bool counted;
    double until;
    return iplimit_admit(AF_INET, ip4(addr), now, &counted, &until);
}

int main(void)
{
    no_plan();
    iplimit_init();
    weir.cfg = &cfg;
    bool counted;
    double until;

    /* Everything off: admitted, nothing counted, no entry. */
    is_int(iplimit_admit(AF_INET, ip4("10.0.0.1"), 0, &counted, &until), IPLIMIT_OK, "no limits");
    ok(!counted, "... nothing counted");

    /* max_client_conn_per_ip */
    cfg.max_client_conn_per_ip = 2;
    is_int(admit("10.0.0.1", 1), IPLIMIT_OK, "first connection");
    is_int(iplimit_admit(AF_INET, ip4("10.0.0.1"), 1, &counted, &until), IPLIMIT_OK, "second");
    ok(counted, "... counted");
    is_int(iplimit_admit(AF_INET, ip4("10.0.0.1"), 1, &counted, &until), IPLIMIT_PER_IP,
           "third refused");
    ok(!counted && until == 0, "... not counted, until a connection closes");
    is_int(admit("10.0.0.2", 1), IPLIMIT_OK, "another address still gets in");
    uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [13] = 0, [14] = 0, [15] = 1};
    is_int(iplimit_admit(AF_INET6, mapped, 1, &counted, &until), IPLIMIT_PER_IP,
           "::ffff:10.0.0.1 is the same address");
    iplimit_release(AF_INET, ip4("10.0.0.1"), 2);
    is_int(admit("10.0.0.1", 2), IPLIMIT_OK, "after one closes, one more");
    struct iplimit_row *rows;
    int entries;
    int n = iplimit_snapshot(2, &rows, &entries);
    is_int(n, 1, "SHOW LIMITS: one address at its cap");
    if (n == 1) {
        is_int(rows[0].reason, IPLIMIT_PER_IP, "... conn_per_ip");
        is_int(rows[0].conns, 2, "... with 2 connections");
        is_int(rows[0].refused, 2, "... refused twice");
    }
    free(rows);
    is_int(entries, 2, "two addresses in the table");
    for (int i = 0; i < 2; i++)
        iplimit_release(AF_INET, ip4("10.0.0.1"), 3);
    iplimit_release(AF_INET, ip4("10.0.0.2"), 3);
    cfg.max_client_conn_per_ip = 0;

    /* token bucket: 2 per second, burst 3 */
    cfg.client_conn_rate = 2;
    cfg.client_conn_burst = 3;
    int got = 0;
    for (int i = 0; i < 5; i++)
        got += admit("10.0.1.1", 10) == IPLIMIT_OK;
    is_int(got, 3, "a burst of 3 at once");
    is_int(iplimit_admit(AF_INET, ip4("10.0.1.1"), 10, &counted, &until), IPLIMIT_RATE,
           "the next is over the rate");
    ok(until > 10.49 && until < 10.51, "... until the next token, in 0.5 s");
    is_int(admit("10.0.1.2", 10), IPLIMIT_OK, "another address has its own bucket");
    is_int(admit("10.0.1.1", 10.5), IPLIMIT_OK, "a token half a second later");
    is_int(admit("10.0.1.1", 10.5), IPLIMIT_RATE, "... only one");
    got = 0;
    for (int i = 0; i < 5; i++)
        got += admit("10.0.1.1", 100) == IPLIMIT_OK;
    is_int(got, 3, "the bucket refills to its burst, no more");
    cfg.client_conn_burst = 0;
    cfg.client_conn_rate = 0.5;
    is_int(admit("10.0.1.9", 200), IPLIMIT_OK, "rate 0.5, burst unset: one");
    is_int(admit("10.0.1.9", 200.5), IPLIMIT_RATE, "... then none for 2 s");
    is_int(admit("10.0.1.9", 202.1), IPLIMIT_OK, "... then one");
    cfg.client_conn_rate = 0;

    /* failed logins */
    cfg.auth_failure_limit = 3;
    cfg.auth_failure_window = 10;
    cfg.auth_failure_ban = 60;
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.2.1"), 300, &until), "one failure");
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.2.1"), 305, &until), "two");
    is_int(admit("10.0.2.1", 305), IPLIMIT_OK, "not banned yet");
    ok(iplimit_auth_failure(AF_INET, ip4("10.0.2.1"), 306, &until), "the third bans");
    ok(until == 366, "... for auth_failure_ban");
    is_int(iplimit_admit(AF_INET, ip4("10.0.2.1"), 307, &counted, &until), IPLIMIT_BANNED,
           "banned");
    ok(until == 366, "... until the ban ends");
    is_int(admit("10.0.2.2", 307), IPLIMIT_OK, "another address is not");
    is_int(admit("10.0.2.1", 366.5), IPLIMIT_OK, "after the ban");
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.3.1"), 400, &until), "failures spread out");
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.3.1"), 405, &until), "...");
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.3.1"), 416, &until),
       "a third outside the window does not ban");
    ok(!iplimit_auth_failure(AF_INET, ip4("10.0.3.1"), 417, &until), "...");
    ok(iplimit_auth_failure(AF_INET, ip4("10.0.3.1"), 418, &until), "three inside it do");
    n = iplimit_snapshot(419, &rows, &entries);
    bool seen = false;
    for (int i = 0; i < n; i++)
        seen |= rows[i].reason == IPLIMIT_BANNED && rows[i].until == 478;
    ok(seen, "SHOW LIMITS lists the ban and its end");
    free(rows);

    uint64_t ref[IPLIMIT_NREASONS];
    iplimit_count(IPLIMIT_PROXY);
    iplimit_refusals(ref);
    ok(ref[IPLIMIT_PER_IP] == 2 && ref[IPLIMIT_RATE] == 7 && ref[IPLIMIT_BANNED] == 1 &&
           ref[IPLIMIT_PROXY] == 1,
       "refusals counted by reason (%llu %llu %llu %llu)", (unsigned long long)ref[1],
       (unsigned long long)ref[2], (unsigned long long)ref[3], (unsigned long long)ref[5]);

    /* memory: expiry and the cap */
    iplimit_sweep(10000);
    iplimit_snapshot(10000, &rows, &entries);
    free(rows);
    /* 10.0.1.1, 10.0.1.2, 10.0.1.9 and 10.0.2.1 hold connections never released here. */
    is_int(entries, 4, "the sweep frees what ran out, not addresses with open connections");
    cfg.max_client_conn_per_ip = 100;
    uint8_t a[16] = {0};
    for (int i = 0; i < IPLIMIT_MAX_IDLE + 1000; i++) {
        a[0] = 20, a[1] = (uint8_t)(i >> 16), a[2] = (uint8_t)(i >> 8), a[3] = (uint8_t)i;
        iplimit_admit(AF_INET, a, 20000, &counted, &until);
        iplimit_release(AF_INET, a, 20000);
    }
    iplimit_snapshot(20000, &rows, &entries);
    free(rows);
    ok(entries == IPLIMIT_MAX_IDLE + 4, "%d entries after %d addresses: capped", entries,
       IPLIMIT_MAX_IDLE + 1000);
    a[1] = 0, a[2] = 0, a[3] = 0;
    is_int(iplimit_admit(AF_INET, a, 20000, &counted, &until), IPLIMIT_OK,
           "the oldest was dropped (a fresh entry)");
    iplimit_free_all();
    return done_testing();
}
