/*
 * parse_cost.c -- what recognising session statements costs per query text
 * (protocol/pg/pg_sql.c): the keyword scan that every simple Query and Parse
 * pays, and libpg_query's classification that only the texts the scan flags
 * pay. Prints one line per text: the scan in ns, whether it flags the text,
 * and for flagged texts the classification in µs. Run by `tests/bench/run
 * --only parser` (a Release build); timing only, nothing is asserted.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "protocol/pg/pg_sql.h"

static const char *const texts[] = {
    /* pgbench's -S and TPC-B statements: scanned, never classified */
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
    "UPDATE pgbench_accounts SET abalance = abalance + -4113 WHERE aid = 48213;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 48213, -4113, "
    "CURRENT_TIMESTAMP);",
    "BEGIN;",
    "END;",
    /* an ORM-sized query */
    "SELECT u.id, u.email, u.created_at, o.id AS order_id, o.total, o.status FROM users u JOIN "
    "orders o ON o.user_id = u.id WHERE u.tenant_id = $1 AND o.status = ANY($2) ORDER BY "
    "o.created_at DESC LIMIT 50 OFFSET 100",
    /* session statements: scanned and classified */
    "SET search_path = app, public",
    "SET statement_timeout = '5s'",
    "SELECT set_config('application_name', 'report', false)",
    "RESET ALL",
    "CREATE TEMP TABLE t (x int)",
    "SELECT pg_advisory_lock(42)",
    "BEGIN; SET LOCAL work_mem = '64MB'; SELECT 1; COMMIT",
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
    enum { SCANS = 200000, CLASSIFIES = 2000 };
    printf("| text | scan ns | flagged | classify µs |\n|---|---:|---|---:|\n");
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *q = texts[i];
        size_t n = strlen(q);
        volatile unsigned sink = 0;
        double t0 = now_ns();
        for (int k = 0; k < SCANS; k++)
            sink += pg_sql_scan(q, n);
        double scan = (now_ns() - t0) / SCANS;
        (void)sink; /* read: the scans are not optimised away, and the compiler sees a use */
        unsigned found = pg_sql_scan(q, n);
        double cls = 0;
        if (found & PG_SQL_SESSION) {
            t0 = now_ns();
            for (int k = 0; k < CLASSIFIES; k++) {
                struct pg_sql_effects e;
                if (pg_sql_classify(q, &e) != WR_OK)
                    return 1;
                pg_sql_effects_free(&e);
            }
            cls = (now_ns() - t0) / CLASSIFIES / 1000;
        }
        char c[32] = "-";
        if (found & PG_SQL_SESSION)
            snprintf(c, sizeof(c), "%.1f", cls);
        printf("| `%.60s%s` | %.0f | %s | %s |\n", q, n > 60 ? "..." : "", scan,
               found & PG_SQL_SESSION ? "yes" : "no", c);
    }
    return 0;
}
