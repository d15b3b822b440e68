/*
 * stats.h -- statistics: per-worker counters per pool, summed when read.
 *
 * Writers: every counter of a pool lives in one slot per worker, and only
 * that worker's thread writes its slot (a client and the server it holds are
 * always on the same worker). A write is a relaxed atomic load and store of a
 * 64-bit word: a plain mov on x86, no lock prefix, but race-free for TSan.
 * Readers (console, /metrics) sum the slots of every worker with relaxed
 * loads, from any thread; figures are each exact, not one atomic snapshot.
 *
 * Times are in microseconds; histogram bounds in seconds (Prometheus' base
 * unit). Queries are Query/Sync (PostgreSQL) or COM_QUERY/COM_STMT_EXECUTE
 * (MySQL) answered; a transaction runs from the first query after the server
 * was idle to the next idle ReadyForQuery / response without IN_TRANS (an
 * autocommit statement is one transaction, as in PgBouncer); bytes are those
 * received from and sent to clients while relaying; wait is the time a client
 * spent queued for a server.
 */
#ifndef WEIR_STATS_H
#define WEIR_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pooler/conf/config.h"

/* Finite histogram bounds (seconds); a last bucket (+Inf) follows. */
#define STATS_NBOUNDS 16
extern const double stats_bounds[STATS_NBOUNDS];

enum stats_error {
    STATS_ERR_LOGIN = 0,     /* client authentication failed or login refused */
    STATS_ERR_SERVER_LOGIN,  /* a server login failed */
    STATS_ERR_QUERY_TIMEOUT, /* query_timeout */
    STATS_ERR_WAIT_TIMEOUT,  /* query_wait_timeout */
    STATS_ERR_PROTOCOL,      /* a client or server broke the protocol */
    STATS_ERR_COUNT,
};
/* "login", "server_login", "query_timeout", "wait_timeout", "protocol". */
const char *stats_error_name(enum stats_error e);

enum stats_hist { STATS_H_WAIT = 0, STATS_H_QUERY, STATS_H_XACT, STATS_H_COUNT };

typedef _Atomic uint64_t stats_counter;

/* One worker's counters of one pool. Only that worker writes it. */
struct stats_slot {
    stats_counter xact_count;
    stats_counter query_count;
    stats_counter wait_count; /* clients that got a server after queueing */
    stats_counter bytes_recv; /* from clients */
    stats_counter bytes_sent; /* to clients */
    stats_counter xact_us;
    stats_counter query_us;
    stats_counter wait_us;
    stats_counter client_parse_count; /* prepared statements clients created (named Parse) */
    stats_counter server_parse_count; /* statements weir prepared on servers */
    stats_counter bind_count;         /* executions readied of clients' prepared statements */
    stats_counter errors[STATS_ERR_COUNT];
    stats_counter tested; /* gauge: servers in health check or clean-up (may wrap per worker) */
    stats_counter hist[STATS_H_COUNT][STATS_NBOUNDS + 1]; /* per bucket, not cumulative */
} __attribute__((aligned(64)));

/* Sums of slots (or of pools). */
struct stats_totals {
    uint64_t xact_count, query_count, wait_count;
    uint64_t bytes_recv, bytes_sent;
    uint64_t xact_us, query_us, wait_us;
    uint64_t client_parse_count, server_parse_count, bind_count;
    uint64_t errors[STATS_ERR_COUNT];
    uint64_t hist[STATS_H_COUNT][STATS_NBOUNDS + 1]; /* per bucket; cumulate for Prometheus */
};

/* Averages over the last complete stats_period (SHOW STATS_AVERAGES). */
struct stats_avg {
    uint64_t xact_count, query_count;                            /* per second */
    uint64_t bytes_recv, bytes_sent;                             /* per second */
    uint64_t xact_us, query_us;                                  /* per transaction / query */
    uint64_t wait_us;                                            /* per wait */
    uint64_t client_parse_count, server_parse_count, bind_count; /* per second */
};

/* ---- writers (hot path: the owner worker of the slot only) ---- */

static inline void stats_add(stats_counter *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline int stats_bucket(double seconds)
{
    int i = 0;
    while (i < STATS_NBOUNDS && seconds > stats_bounds[i])
        i++;
    return i;
}

static inline void stats_observe(struct stats_slot *sl, enum stats_hist h, double seconds)
{
    stats_add(&sl->hist[h][stats_bucket(seconds)], 1);
}

static inline uint64_t stats_usec(double seconds)
{
    return seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
}

/* A query was answered after `seconds`. */
static inline void stats_query(struct stats_slot *sl, double seconds)
{
    stats_add(&sl->query_count, 1);
    stats_add(&sl->query_us, stats_usec(seconds));
    stats_observe(sl, STATS_H_QUERY, seconds);
}

/* A transaction ended after `seconds`. */
static inline void stats_xact(struct stats_slot *sl, double seconds)
{
    stats_add(&sl->xact_count, 1);
    stats_add(&sl->xact_us, stats_usec(seconds));
    stats_observe(sl, STATS_H_XACT, seconds);
}

/* A client got its server after waiting `seconds`. */
static inline void stats_wait(struct stats_slot *sl, double seconds)
{
    stats_add(&sl->wait_count, 1);
    stats_add(&sl->wait_us, stats_usec(seconds));
    stats_observe(sl, STATS_H_WAIT, seconds);
}

/*
 * Prepared statements (PgBouncer's parse and bind counts): `client` statements
 * a client created, `server` statements prepared on a server for them. The
 * MySQL side counts COM_STMT_PREPARE here too.
 */
static inline void stats_parse(struct stats_slot *sl, uint64_t client, uint64_t server)
{
    if (client)
        stats_add(&sl->client_parse_count, client);
    if (server)
        stats_add(&sl->server_parse_count, server);
}

/* An execution of a client's prepared statement was readied (Bind, COM_STMT_EXECUTE). */
static inline void stats_bind(struct stats_slot *sl)
{
    stats_add(&sl->bind_count, 1);
}

struct worker;
struct pool;

/* Slots of one pool, one per worker; NULL when out of memory. Freed with free(). */
struct stats_slot *stats_slots_new(int nworkers);
/* The calling worker's slot of pool r. */
struct stats_slot *stats_slot_of(struct pool *r, const struct worker *w);
/*
 * Counts an error of worker w: in the daemon-wide slot and, when r is not
 * NULL, in the pool's.
 */
void stats_error(const struct worker *w, struct pool *r, enum stats_error e);

/* Sets up the daemon-wide slots (workers_init). */
int stats_init(int nworkers);
void stats_free(void);
/* Worker 0's sweep: every stats_period, compute the averages of each database. */
void stats_period_tick(double now);

/* ---- readers (any thread) ---- */

void stats_sum_slots(struct stats_slot *slots, int n, struct stats_totals *out);
void stats_totals_add(struct stats_totals *acc, const struct stats_totals *t);

/* One pool, with its identity, its gauges (read under the pool lock) and counters. */
struct stats_pool {
    char database[64];
    char user[64];
    enum backend_kind backend;
    enum pool_mode pool_mode;
    int cl_active;  /* logged-in clients not waiting for a server */
    int cl_waiting; /* clients queued for a server */
    int sv_active;  /* servers linked to a client (or being set up for one) */
    int sv_idle;    /* idle servers ready for use */
    int sv_tested;  /* servers in a health check (server_check_query) or clean-up */
    int sv_used;    /* idle servers that need a health check before use */
    int sv_login;   /* server logins in progress */
    double maxwait; /* seconds the oldest waiter has been waiting */
    bool paused;
    bool login_failing; /* server logins failed: none is tried before server_login_retry */
    struct stats_totals totals;
};

/*
 * Every pool; *out is malloc'ed (free it), NULL when there are none. Pools of
 * one (database, user) that differ only by MySQL capability variant are one
 * row. Returns the count, -1 when out of memory.
 */
int stats_pools(struct stats_pool **out);

/* One database: its pools' counters summed, with the averages of the last stats_period. */
struct stats_db {
    char database[64];
    enum backend_kind backend;
    struct stats_totals totals;
    struct stats_avg avg;
};

/* Every database that has had a pool; as stats_pools. */
int stats_databases(struct stats_db **out);

/* Daemon-wide error counts (including those before a client had a pool). */
void stats_global_errors(uint64_t out[STATS_ERR_COUNT]);

#endif
