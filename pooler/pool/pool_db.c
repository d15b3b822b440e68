/*
 * pool_db.c -- databases as a whole, over every pool of a database: the
 * console's PAUSE, DISABLE and RECONNECT, server counts and gauges, the pool
 * snapshot for SHOW and /metrics, and a reload's effect on the pools (pools
 * whose entry changed or went away are retired: no new clients, their
 * servers close as they are released). pool.c has the pools themselves.
 */
#include "pooler/pool/pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/server.h"

/* ---- admin console ---- */

int pools_snapshot(struct pool ***out)
{
    pthread_mutex_lock(&pools_lock);
    int n = pools_n;
    struct pool **snap = malloc(sizeof(*snap) * (n ? n : 1));
    if (snap && n)
        memcpy(snap, pools_all, sizeof(*snap) * n);
    pthread_mutex_unlock(&pools_lock);
    *out = snap;
    return snap ? n : -1;
}

bool pool_of_db(const struct pool *r, const char *dbname)
{
    return !dbname || !strcmp(r->db->name, dbname);
}

static struct db_state *db_state_find(const char *dbname)
{
    pthread_mutex_lock(&pools_lock);
    struct db_state *d = pool_db_state_get(dbname);
    pthread_mutex_unlock(&pools_lock);
    return d;
}

void pool_db_set_disabled(const char *dbname, bool on)
{
    struct db_state *d = db_state_find(dbname);
    if (d)
        atomic_store(&d->disabled, on);
}

/* dbname's console flags, or NULL when the console never touched it (pool_db_states live until
 * exit). */
static struct db_state *db_state_lookup(const char *dbname)
{
    struct db_state *found = NULL;
    pthread_mutex_lock(&pools_lock);
    for (struct db_state *d = pool_db_states; d && !found; d = d->next)
        if (!strcmp(d->name, dbname))
            found = d;
    pthread_mutex_unlock(&pools_lock);
    return found;
}

bool pool_db_disabled(const char *dbname)
{
    struct db_state *d = db_state_lookup(dbname);
    return d && atomic_load(&d->disabled);
}

bool pool_db_paused(const char *dbname)
{
    struct db_state *d = db_state_lookup(dbname);
    return d && atomic_load(&d->paused);
}

void pool_db_pause(struct worker *w, const char *dbname, bool on)
{
    /* The flag first, so pools created from now on start paused too. */
    const struct config *cfg = weir.cfg;
    pthread_mutex_lock(&pools_lock);
    for (int i = 0; i < cfg->ndbs; i++) {
        if (dbname && strcmp(cfg->dbs[i].name, dbname))
            continue;
        struct db_state *d = pool_db_state_get(cfg->dbs[i].name);
        if (d)
            atomic_store(&d->paused, on);
    }
    pthread_mutex_unlock(&pools_lock);
    struct pool **snap;
    int n = pools_snapshot(&snap);
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        if (!pool_of_db(r, dbname))
            continue;
        struct pool_step st;
        pool_step_init(&st);
        pthread_mutex_lock(&r->lock);
        r->paused = on;
        if (!on)
            pool_balance(r, w, &st); /* the waiters held during the pause */
        pthread_mutex_unlock(&r->lock);
        server_apply_step(w, r, &st);
    }
    free(snap);
}

void pool_db_reconnect(const char *dbname)
{
    struct pool **snap;
    int n = pools_snapshot(&snap);
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        if (!pool_of_db(r, dbname))
            continue;
        pthread_mutex_lock(&r->lock);
        r->gen++;
        r->nstale = r->ngen;
        pthread_mutex_unlock(&r->lock);
    }
    free(snap);
}

void pool_db_counts(const char *dbname, int *servers, int *stale)
{
    *servers = *stale = 0;
    struct pool **snap;
    int n = pools_snapshot(&snap);
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        if (!pool_of_db(r, dbname))
            continue;
        pthread_mutex_lock(&r->lock);
        *servers += r->nservers;
        *stale += r->nstale;
        pthread_mutex_unlock(&r->lock);
    }
    free(snap);
}

bool pool_must_close(struct pool *r, const struct server *s)
{
    pthread_mutex_lock(&r->lock);
    bool yes = r->paused || s->gen != r->gen;
    pthread_mutex_unlock(&r->lock);
    return yes;
}

void pool_server_born(struct pool *r, struct server *s)
{
    pthread_mutex_lock(&r->lock);
    s->gen = r->gen;
    s->gen_taken = true;
    r->ngen++;
    pthread_mutex_unlock(&r->lock);
}

void pool_server_freed(struct pool *r, struct server *s)
{
    pthread_mutex_lock(&r->lock);
    r->ngen--;
    if (s->gen != r->gen)
        r->nstale--;
    pthread_mutex_unlock(&r->lock);
    s->gen_taken = false;
}

void pool_client_join(struct pool *r)
{
    atomic_fetch_add(&r->nclients, 1);
}

void pool_client_leave(struct pool *r)
{
    atomic_fetch_sub(&r->nclients, 1);
}

void pool_counts(struct pool *r, ev_tstamp now, struct stats_pool *p)
{
    double check = weir.cfg->server_check_delay;
    pthread_mutex_lock(&r->lock);
    int used = 0;
    for (int i = 0; i < weir.nworkers; i++) {
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &r->idle[i])
        {
            struct server *s = list_entry(pos, struct server, idle_node);
            if (now - s->last_used > check)
                used++;
        }
    }
    int ncl = atomic_load(&r->nclients);
    p->cl_waiting = r->nwaiting;
    p->cl_active = ncl > r->nwaiting ? ncl - r->nwaiting : 0;
    p->sv_login = r->nconnecting;
    p->sv_idle = r->nidle - used;
    p->sv_used = used;
    long long tested = 0;
    for (int i = 0; i < weir.nworkers; i++)
        tested += (int64_t)atomic_load_explicit(&r->stats[i].tested, memory_order_relaxed);
    /* The gauge is read without the owners' help: clamp what a moment's skew could give. */
    int busy = r->nservers - r->nidle - r->nconnecting;
    p->sv_tested = tested < 0 ? 0 : tested > busy ? busy : (int)tested;
    p->sv_active = busy - p->sv_tested;
    p->maxwait = 0;
    if (r->nwaiting > 0) {
        struct pool_waiter *head = list_entry(r->waiters.next, struct pool_waiter, node);
        p->maxwait = now - head->start;
    }
    p->paused = r->paused;
    p->login_failing = now < r->login_retry_at;
    pthread_mutex_unlock(&r->lock);
}

static bool same_connection(const struct db_entry *a, const struct db_entry *b)
{
#define SAME_STR(f) ((!a->f && !b->f) || (a->f && b->f && !strcmp(a->f, b->f)))
    return a->backend == b->backend && a->port == b->port && SAME_STR(host) && SAME_STR(ports) &&
           SAME_STR(dbname) && SAME_STR(user) && SAME_STR(password) &&
           a->target_session_attrs == b->target_session_attrs &&
           a->load_balance_hosts == b->load_balance_hosts &&
           a->server_tls_sslmode == b->server_tls_sslmode;
#undef SAME_STR
}

/* Called with pools_lock held: r no longer answers pool_get. */
static void retire(struct pool *r, const char *why)
{
    atomic_store(&r->retired, true);
    /* Its servers are of an older generation now: closed on release, counted by WAIT_CLOSE. */
    pthread_mutex_lock(&r->lock);
    r->gen++;
    r->nstale = r->ngen;
    pthread_mutex_unlock(&r->lock);
    for (struct pool **pp = &pool_buckets[0]; pp < &pool_buckets[POOL_BUCKETS]; pp++) {
        for (struct pool **p = pp; *p; p = &(*p)->hash_next) {
            if (*p == r) {
                *p = r->hash_next;
                r->hash_next = NULL;
                goto unlinked;
            }
        }
    }
unlinked:
    log_info("pool %s/%s: %s; its servers close as they are released", r->db->name, r->key_user,
             why);
}

void pools_reconfigure(const struct config *cfg)
{
    pthread_mutex_lock(&pools_lock);
    for (int i = 0; i < pools_n; i++) {
        struct pool *r = pools_all[i];
        if (pool_retired(r))
            continue;
        /* A pool made from a "*" entry follows the new "*" (or the entry now named). */
        const struct db_entry *db = config_find_db_for(cfg, r->db->name, r->db->backend);
        if (!db) {
            retire(r, "database removed from the configuration");
            continue;
        }
        if (!same_connection(r->db, db)) {
            retire(r, "connection settings changed");
            continue;
        }
        const struct user_entry *ue = config_find_user(cfg, r->key_user);
        if (config_pool_mode(cfg, db, ue) != r->pool_mode) {
            retire(r, "pool_mode changed");
            continue;
        }
        pthread_mutex_lock(&r->lock);
        r->pool_size = config_pool_size(cfg, db, ue);
        r->min_pool_size = config_min_pool_size(cfg, db);
        r->reserve_pool_size = config_reserve_pool_size(cfg, db);
        r->max_db = config_max_db_connections(cfg, db);
        r->max_user = config_max_user_connections(cfg, config_find_user(cfg, r->user));
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&pools_lock);
}

int pools_busy_servers(void)
{
    int busy = 0;
    pthread_mutex_lock(&pools_lock);
    for (int i = 0; i < pools_n; i++) {
        struct pool *r = pools_all[i];
        pthread_mutex_lock(&r->lock);
        busy += r->nservers - r->nidle - r->nconnecting;
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&pools_lock);
    return busy;
}
