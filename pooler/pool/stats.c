/* stats.c -- summing the per-worker statistics slots, pool gauges, stats_period averages. */
#include "pooler/pool/stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/pool/pool.h"
#include "pooler/core/worker.h"

const double stats_bounds[STATS_NBOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static const char *error_names[STATS_ERR_COUNT] = {
    "login", "server_login", "query_timeout", "wait_timeout", "protocol",
};

const char *stats_error_name(enum stats_error e)
{
    return e < STATS_ERR_COUNT ? error_names[e] : "?";
}

static struct stats_slot *global_slots; /* daemon-wide errors, one slot per worker */
static int global_n;

/* Averages per database name, recomputed every stats_period. [avg_lock] */
struct db_avg {
    struct db_avg *next;
    char name[64];
    struct stats_totals prev;
    struct stats_avg avg;
};
static pthread_mutex_t avg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_avg *avgs;
static double period_start; /* [avg_lock] */

struct stats_slot *stats_slots_new(int nworkers)
{
    struct stats_slot *s = aligned_alloc(64, sizeof(*s) * (nworkers ? nworkers : 1));
    if (s)
        memset(s, 0, sizeof(*s) * (nworkers ? nworkers : 1));
    return s;
}

struct stats_slot *stats_slot_of(struct pool *r, const struct worker *w)
{
    return &r->stats[w->id];
}

int stats_init(int nworkers)
{
    global_slots = stats_slots_new(nworkers);
    global_n = nworkers;
    return global_slots ? WR_OK : WR_ERROR;
}

void stats_free(void)
{
    free(global_slots);
    global_slots = NULL;
    global_n = 0;
    pthread_mutex_lock(&avg_lock);
    while (avgs) {
        struct db_avg *a = avgs;
        avgs = a->next;
        free(a);
    }
    period_start = 0;
    pthread_mutex_unlock(&avg_lock);
}

void stats_error(const struct worker *w, struct pool *r, enum stats_error e)
{
    if (global_slots && w)
        stats_add(&global_slots[w->id].errors[e], 1);
    if (r && w)
        stats_add(&r->stats[w->id].errors[e], 1);
}

static uint64_t ld(stats_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_sum_slots(struct stats_slot *slots, int n, struct stats_totals *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n; i++) {
        struct stats_slot *s = &slots[i];
        out->xact_count += ld(&s->xact_count);
        out->query_count += ld(&s->query_count);
        out->wait_count += ld(&s->wait_count);
        out->bytes_recv += ld(&s->bytes_recv);
        out->bytes_sent += ld(&s->bytes_sent);
        out->xact_us += ld(&s->xact_us);
        out->query_us += ld(&s->query_us);
        out->wait_us += ld(&s->wait_us);
        out->client_parse_count += ld(&s->client_parse_count);
        out->server_parse_count += ld(&s->server_parse_count);
        out->bind_count += ld(&s->bind_count);
        for (int e = 0; e < STATS_ERR_COUNT; e++)
            out->errors[e] += ld(&s->errors[e]);
        for (int h = 0; h < STATS_H_COUNT; h++)
            for (int b = 0; b <= STATS_NBOUNDS; b++)
                out->hist[h][b] += ld(&s->hist[h][b]);
    }
}

void stats_totals_add(struct stats_totals *acc, const struct stats_totals *t)
{
    acc->xact_count += t->xact_count;
    acc->query_count += t->query_count;
    acc->wait_count += t->wait_count;
    acc->bytes_recv += t->bytes_recv;
    acc->bytes_sent += t->bytes_sent;
    acc->xact_us += t->xact_us;
    acc->query_us += t->query_us;
    acc->wait_us += t->wait_us;
    acc->client_parse_count += t->client_parse_count;
    acc->server_parse_count += t->server_parse_count;
    acc->bind_count += t->bind_count;
    for (int e = 0; e < STATS_ERR_COUNT; e++)
        acc->errors[e] += t->errors[e];
    for (int h = 0; h < STATS_H_COUNT; h++)
        for (int b = 0; b <= STATS_NBOUNDS; b++)
            acc->hist[h][b] += t->hist[h][b];
}

void stats_global_errors(uint64_t out[STATS_ERR_COUNT])
{
    for (int e = 0; e < STATS_ERR_COUNT; e++) {
        out[e] = 0;
        for (int i = 0; global_slots && i < global_n; i++)
            out[e] += ld(&global_slots[i].errors[e]);
    }
}

int stats_pools(struct stats_pool **out)
{
    *out = NULL;
    struct pool **snap;
    int n = pools_snapshot(&snap);
    if (n < 0)
        return -1;
    struct stats_pool *pools = calloc(n ? n : 1, sizeof(*pools));
    if (!pools) {
        free(snap);
        return -1;
    }
    /* A clock of no particular loop: the console's caller may be any thread. */
    ev_tstamp now = ev_time();
    int np = 0;
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        struct stats_pool one = {0};
        pool_counts(r, now, &one);
        stats_sum_slots(r->stats, weir.nworkers, &one.totals);
        struct stats_pool *p = NULL;
        for (int j = 0; j < np && !p; j++)
            if (!strcmp(pools[j].database, r->db->name) && !strcmp(pools[j].user, r->user))
                p = &pools[j];
        if (!p) {
            p = &pools[np++];
            snprintf(p->database, sizeof(p->database), "%s", r->db->name);
            snprintf(p->user, sizeof(p->user), "%s", r->user);
            p->backend = r->db->backend;
            p->pool_mode = r->pool_mode;
            p->paused = one.paused;
        }
        p->cl_active += one.cl_active;
        p->cl_waiting += one.cl_waiting;
        p->sv_active += one.sv_active;
        p->sv_idle += one.sv_idle;
        p->sv_tested += one.sv_tested;
        p->sv_used += one.sv_used;
        p->sv_login += one.sv_login;
        p->login_failing = p->login_failing || one.login_failing;
        if (one.maxwait > p->maxwait)
            p->maxwait = one.maxwait;
        stats_totals_add(&p->totals, &one.totals);
    }
    free(snap);
    *out = pools;
    return np;
}

/* Sums pools by database name (without averages). */
static int sum_databases(struct stats_db **out)
{
    *out = NULL;
    struct pool **snap;
    int n = pools_snapshot(&snap);
    if (n < 0)
        return -1;
    struct stats_db *dbs = calloc(n ? n : 1, sizeof(*dbs));
    if (!dbs) {
        free(snap);
        return -1;
    }
    int nd = 0;
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        struct stats_db *d = NULL;
        for (int j = 0; j < nd && !d; j++)
            if (!strcmp(dbs[j].database, r->db->name))
                d = &dbs[j];
        if (!d) {
            d = &dbs[nd++];
            snprintf(d->database, sizeof(d->database), "%s", r->db->name);
            d->backend = r->db->backend;
        }
        struct stats_totals t;
        stats_sum_slots(r->stats, weir.nworkers, &t);
        stats_totals_add(&d->totals, &t);
    }
    free(snap);
    *out = dbs;
    return nd;
}

int stats_databases(struct stats_db **out)
{
    int nd = sum_databases(out);
    if (nd <= 0)
        return nd;
    pthread_mutex_lock(&avg_lock);
    for (int i = 0; i < nd; i++)
        for (struct db_avg *a = avgs; a; a = a->next)
            if (!strcmp(a->name, (*out)[i].database))
                (*out)[i].avg = a->avg;
    pthread_mutex_unlock(&avg_lock);
    return nd;
}

static uint64_t per(uint64_t num, uint64_t den)
{
    return den ? num / den : 0;
}

void stats_period_tick(double now)
{
    double period = weir.cfg->stats_period > 0 ? weir.cfg->stats_period : 60;
    pthread_mutex_lock(&avg_lock);
    if (period_start == 0)
        period_start = now;
    bool due = now - period_start >= period;
    pthread_mutex_unlock(&avg_lock);
    if (!due)
        return;
    struct stats_db *dbs;
    int nd = sum_databases(&dbs);
    pthread_mutex_lock(&avg_lock);
    double secs = now - period_start;
    period_start = now;
    for (int i = 0; i < nd; i++) {
        struct db_avg *a;
        for (a = avgs; a && strcmp(a->name, dbs[i].database); a = a->next)
            ;
        if (!a && (a = calloc(1, sizeof(*a)))) {
            snprintf(a->name, sizeof(a->name), "%s", dbs[i].database);
            a->next = avgs;
            avgs = a;
        }
        if (!a)
            continue;
        const struct stats_totals *c = &dbs[i].totals, *p = &a->prev;
        uint64_t xacts = c->xact_count - p->xact_count, queries = c->query_count - p->query_count;
        a->avg.xact_count = (uint64_t)(xacts / secs);
        a->avg.query_count = (uint64_t)(queries / secs);
        a->avg.bytes_recv = (uint64_t)((c->bytes_recv - p->bytes_recv) / secs);
        a->avg.bytes_sent = (uint64_t)((c->bytes_sent - p->bytes_sent) / secs);
        a->avg.xact_us = per(c->xact_us - p->xact_us, xacts);
        a->avg.query_us = per(c->query_us - p->query_us, queries);
        a->avg.wait_us = per(c->wait_us - p->wait_us, c->wait_count - p->wait_count);
        a->avg.client_parse_count =
            (uint64_t)((c->client_parse_count - p->client_parse_count) / secs);
        a->avg.server_parse_count =
            (uint64_t)((c->server_parse_count - p->server_parse_count) / secs);
        a->avg.bind_count = (uint64_t)((c->bind_count - p->bind_count) / secs);
        a->prev = *c;
    }
    pthread_mutex_unlock(&avg_lock);
    free(dbs);
}
