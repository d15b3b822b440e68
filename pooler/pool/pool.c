/*
 * pool.c -- the global pools per (database, user): FIFO waiters, per-worker
 * LIFO idle lists, limits (pool, reserve, database, user) and the eviction of
 * idle servers another pool needs, the ParameterStatus values servers
 * reported (for a client's welcome), and the registry that finds a pool.
 * Databases as a whole (the console's PAUSE, DISABLE, RECONNECT and counts,
 * retiring pools a reload changed) are pool_db.c.
 */
#include "pooler/pool/pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/server.h"
#include "pooler/core/worker.h"

/* Server counts shared by pools of one database or one login user. */
struct user_count {
    struct user_count *next;
    char *name;
    atomic_int n;
};

pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
struct pool *pool_buckets[POOL_BUCKETS];
struct pool **pools_all; /* append-only, for sweeps */
int pools_n;
static struct user_count *user_counts;
struct db_state *pool_db_states; /* [pools_lock] */

static unsigned hash_str(unsigned h, const char *s)
{
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static atomic_int *user_counter(const char *name)
{
    for (struct user_count *u = user_counts; u; u = u->next)
        if (!strcmp(u->name, name))
            return &u->n;
    struct user_count *u = calloc(1, sizeof(*u));
    if (!u || !(u->name = strdup(name))) {
        free(u);
        return NULL;
    }
    u->next = user_counts;
    user_counts = u;
    return &u->n;
}

/* The pool_size counter shared by every pool of (database, login user): MySQL variants, forced
 * users. */
static atomic_int *group_counter(const struct db_entry *db, const char *client_user)
{
    char key[512];
    snprintf(key, sizeof(key), "%s\x01%s", db->name, client_user);
    return user_counter(key);
}

/* The console flags of database `name`; called with pools_lock held. NULL when out of memory. */
struct db_state *pool_db_state_get(const char *name)
{
    for (struct db_state *d = pool_db_states; d; d = d->next)
        if (!strcmp(d->name, name))
            return d;
    struct db_state *d = calloc(1, sizeof(*d));
    if (!d || !(d->name = strdup(name))) {
        free(d);
        return NULL;
    }
    d->next = pool_db_states;
    pool_db_states = d;
    return d;
}

/* The max_db_connections counter shared by every pool of a database, across reloads. */
static atomic_int *db_counter(const struct db_entry *db)
{
    char key[256];
    snprintf(key, sizeof(key), "\x02%s", db->name);
    return user_counter(key);
}

static void pool_free(struct pool *r)
{
    pthread_mutex_destroy(&r->lock);
    free(r->stats);
    param_clear_all(&r->welcome);
    param_snap_unref(r->told);
    free(r->key_user);
    free(r->user);
    free(r->password);
    explicit_bzero(r->my_stage1, sizeof(r->my_stage1));
    explicit_bzero(r->pg_md5, sizeof(r->pg_md5));
    explicit_bzero(r->pg_client_key, sizeof(r->pg_client_key));
    explicit_bzero(r->pg_server_key, sizeof(r->pg_server_key));
    free(r->idle);
    free(r->idle_count);
    ps_cache_free(r->ps_known);
    free(r);
}

bool pool_ps_known(struct pool *r, const uint8_t *id)
{
    pthread_mutex_lock(&r->lock);
    bool known = r->ps_known && ps_cache_find(r->ps_known, id);
    pthread_mutex_unlock(&r->lock);
    return known;
}

void pool_ps_learn(struct pool *r, const uint8_t *id, uint32_t limit)
{
    pthread_mutex_lock(&r->lock);
    if (!r->ps_known)
        r->ps_known = ps_cache_new();
    struct ps_node *n = r->ps_known ? ps_cache_find(r->ps_known, id) : NULL;
    if (n) {
        ps_cache_touch(r->ps_known, n);
    } else if (r->ps_known && (n = ps_node_new(id))) {
        while (r->ps_known->count >= limit)
            ps_node_free(ps_cache_evict(r->ps_known));
        ps_cache_add(r->ps_known, n);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Called with pools_lock held. */
static struct pool *pool_new(const struct db_entry *db, const char *client_user, uint64_t variant,
                             const char *password)
{
    const struct config *cfg = weir.cfg;
    const struct user_entry *ue = config_find_user(cfg, client_user);
    struct pool *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->db = db;
    r->variant = variant;
    r->key_user = strdup(client_user);
    r->user = strdup(db->user ? db->user : client_user);
    const char *pw = db->user ? db->password : password;
    r->password = pw ? strdup(pw) : NULL;
    r->pool_size = config_pool_size(cfg, db, ue);
    r->pool_mode = config_pool_mode(cfg, db, ue);
    r->min_pool_size = config_min_pool_size(cfg, db);
    r->reserve_pool_size = config_reserve_pool_size(cfg, db);
    r->max_db = config_max_db_connections(cfg, db);
    r->max_user = config_max_user_connections(cfg, config_find_user(cfg, r->user));
    r->idle = calloc(weir.nworkers, sizeof(*r->idle));
    r->idle_count = calloc(weir.nworkers, sizeof(*r->idle_count));
    r->stats = stats_slots_new(weir.nworkers);
    r->dbst = pool_db_state_get(db->name);
    if (r->dbst)
        r->paused = atomic_load(&r->dbst->paused);
    struct pool **all = realloc(pools_all, sizeof(*all) * (pools_n + 1));
    if (all)
        pools_all = all;
    if (!r->key_user || !r->user || (pw && !r->password) || !r->idle || !r->idle_count || !all ||
        !r->stats || !r->dbst || !(r->user_servers = user_counter(r->user)) ||
        !(r->db_servers = db_counter(db)) || !(r->group_servers = group_counter(db, r->user))) {
        pool_free(r);
        return NULL;
    }
    for (int i = 0; i < weir.nworkers; i++)
        list_init(&r->idle[i]);
    list_init(&r->waiters);
    pools_all[pools_n++] = r;
    return r;
}

struct pool *pool_get(const struct db_entry *db, const char *client_user, uint64_t variant,
                      const char *password)
{
    /* With a forced user every client shares one pool, as in PgBouncer. */
    if (db->user)
        client_user = db->user;
    unsigned h = hash_str(hash_str(2166136261u, db->name), client_user) % POOL_BUCKETS;
    pthread_mutex_lock(&pools_lock);
    struct pool *r;
    for (r = pool_buckets[h]; r; r = r->hash_next)
        if (r->variant == variant && !strcmp(r->db->name, db->name) &&
            !strcmp(r->key_user, client_user))
            break;
    if (!r && (r = pool_new(db, client_user, variant, password))) {
        r->hash_next = pool_buckets[h];
        pool_buckets[h] = r;
    }
    pthread_mutex_unlock(&pools_lock);
    if (r)
        pool_client_join(r);
    if (r && !db->user && password) {
        pthread_mutex_lock(&r->lock);
        if (!r->password)
            r->password = strdup(password);
        pthread_mutex_unlock(&r->lock);
    }
    return r;
}

void pool_set_stage1(struct pool *r, const uint8_t stage1[20])
{
    pthread_mutex_lock(&r->lock);
    memcpy(r->my_stage1, stage1, sizeof(r->my_stage1)); /* the latest: a changed password too */
    r->has_stage1 = true;
    pthread_mutex_unlock(&r->lock);
}

void pool_set_pg_secret(struct pool *r, const char *md5_secret, const uint8_t client_key[32],
                        const uint8_t server_key[32])
{
    pthread_mutex_lock(&r->lock);
    if (md5_secret)
        snprintf(r->pg_md5, sizeof(r->pg_md5), "%s", md5_secret);
    if (client_key && server_key) {
        memcpy(r->pg_client_key, client_key, sizeof(r->pg_client_key));
        memcpy(r->pg_server_key, server_key, sizeof(r->pg_server_key));
        r->has_pg_keys = true;
    }
    pthread_mutex_unlock(&r->lock);
}

void pools_free_all(void)
{
    pthread_mutex_lock(&pools_lock);
    for (int i = 0; i < pools_n; i++)
        pool_free(pools_all[i]);
    free(pools_all);
    pools_all = NULL;
    pools_n = 0;
    memset(pool_buckets, 0, sizeof(pool_buckets));
    while (user_counts) {
        struct user_count *u = user_counts;
        user_counts = u->next;
        free(u->name);
        free(u);
    }
    while (pool_db_states) {
        struct db_state *d = pool_db_states;
        pool_db_states = d->next;
        free(d->name);
        free(d);
    }
    pthread_mutex_unlock(&pools_lock);
}

void pool_step_init(struct pool_step *st)
{
    st->close_reason = NULL;
    st->assigned = NULL;
    st->nconnect = 0;
    st->wake_worker = -1;
    list_init(&st->failed);
    st->fail_sqlstate[0] = 0;
    st->fail_text[0] = 0;
    st->close = NULL;
}

static struct pool_waiter *pop_waiter(struct pool *r)
{
    struct list *n = list_pop(&r->waiters);
    if (!n)
        return NULL;
    struct pool_waiter *c = list_entry(n, struct pool_waiter, node);
    c->state = WAIT_ASSIGNED;
    r->nwaiting--;
    return c;
}

/*
 * The waiter a server released on w goes to: the oldest, unless a client of
 * w itself queued at nearly the same moment (within LOCAL_WINDOW, a few
 * places down the queue). Serving that one instead saves moving the server
 * to another loop (two epoll_ctl, a wake-up, cold caches) on busy
 * transaction pools. Order changes only among clients that queued within
 * LOCAL_WINDOW of each other; FIFO holds between any two further apart.
 */
#define LOCAL_WINDOW 0.005
#define LOCAL_SCAN   16
static struct pool_waiter *pop_waiter_for(struct pool *r, struct worker *w)
{
    if (r->nwaiting == 0)
        return NULL;
    struct pool_waiter *head = list_entry(r->waiters.next, struct pool_waiter, node);
    if (head->w != w) {
        int scanned = 0;
        for (struct list *n = head->node.next; n != &r->waiters && scanned < LOCAL_SCAN;
             n = n->next, scanned++) {
            struct pool_waiter *c = list_entry(n, struct pool_waiter, node);
            if (c->start - head->start > LOCAL_WINDOW)
                break;
            if (c->w == w) {
                list_del(&c->node);
                c->state = WAIT_ASSIGNED;
                r->nwaiting--;
                return c;
            }
        }
    }
    return pop_waiter(r);
}

/* Takes one unit of a shared limit (0 = unlimited); false when it is used up. */
static bool take_slot(atomic_int *counter, int max)
{
    int cur = atomic_load(counter);
    do {
        if (max > 0 && cur >= max)
            return false;
    } while (!atomic_compare_exchange_weak(counter, &cur, cur + 1));
    return true;
}

static void give_slot(struct pool *r)
{
    atomic_fetch_sub(r->group_servers, 1);
    atomic_fetch_sub(r->db_servers, 1);
    atomic_fetch_sub(r->user_servers, 1);
}

/* May one more server be opened? The reserve opens once the head waiter waited long enough. */
static bool may_open(struct pool *r, ev_tstamp now, bool for_waiter)
{
    if (now < r->login_retry_at)
        return false;
    int limit = r->pool_size;
    if (for_waiter && r->reserve_pool_size > 0 && r->nwaiting > 0) {
        struct pool_waiter *head = list_entry(r->waiters.next, struct pool_waiter, node);
        if (now - head->start >= weir.cfg->reserve_pool_timeout)
            limit += r->reserve_pool_size;
    }
    /* pool_size holds for every variant of the pool together (MySQL capability sets). */
    if (!take_slot(r->group_servers, limit))
        return false;
    if (!take_slot(r->db_servers, r->max_db)) {
        atomic_fetch_sub(r->group_servers, 1);
        return false;
    }
    if (!take_slot(r->user_servers, r->max_user)) {
        atomic_fetch_sub(r->group_servers, 1);
        atomic_fetch_sub(r->db_servers, 1);
        return false;
    }
    return true;
}

static void plan_connect(struct pool *r, struct pool_step *st)
{
    r->nservers++;
    r->nconnecting++;
    st->nconnect++;
}

/*
 * Pairs waiters with w's idle servers (oldest waiter first), then plans what
 * else the waiters need: a wake-up of a worker that has idle servers, or new
 * logins within the limits.
 */
void pool_balance(struct pool *r, struct worker *w, struct pool_step *st)
{
    if (r->paused)
        return; /* waiters stay queued until RESUME */
    if (atomic_load_explicit(&weir.shutdown, memory_order_relaxed) == SHUTDOWN_WAIT_SERVERS)
        return; /* safe shutdown: clients wait while servers are released */
    struct list *idle = &r->idle[w->id];
    while (r->nwaiting > 0 && !list_empty(idle)) {
        /*
         * The server that went idle last (LIFO, like PgBouncer's default): the
         * busiest servers stay hot in the server's caches, and under light
         * load the others stay idle long enough for server_idle_timeout.
         */
        struct server *s = list_entry(list_pop_tail(idle), struct server, idle_node);
        r->idle_count[w->id]--;
        r->nidle--;
        s->assign_waiter = pop_waiter_for(r, w);
        s->assign_next = st->assigned;
        st->assigned = s;
    }
    if (r->nwaiting == 0)
        return;
    if (r->nidle > 0) {
        for (int i = 0; i < weir.nworkers; i++) {
            if (r->idle_count[i] > 0) {
                st->wake_worker = i;
                break;
            }
        }
        return;
    }
    ev_tstamp now = ev_now(w->loop);
    while (r->nwaiting > r->nconnecting && may_open(r, now, true))
        plan_connect(r, st);
}

/*
 * The error a client gets when r's logins fail: it names weir and the
 * database entry, so it does not read like the client's own connection
 * failing, and keeps the server's (or the library's) own words as the cause.
 */
static void login_failure_text(const struct pool *r, struct pool_step *st, const char *extra)
{
    /* No answer from the server (or MySQL's catch-all): 08001, could not establish the connection.
     */
    bool unreached = !strcmp(r->last_sqlstate, "08006") || !strcmp(r->last_sqlstate, "HY000");
    snprintf(st->fail_sqlstate, sizeof(st->fail_sqlstate), "%s",
             unreached ? "08001" : r->last_sqlstate);
    snprintf(st->fail_text, sizeof(st->fail_text),
             "weir could not log in to the server of database \"%s\"%s: %s", r->db->name, extra,
             r->last_error);
}

/* Every waiter gets the pool's last login error. */
static void fail_waiters(struct pool *r, struct pool_step *st)
{
    struct pool_waiter *c;
    while ((c = pop_waiter(r)))
        list_add_tail(&st->failed, &c->node);
    login_failure_text(r, st, "");
}

void pool_wait(struct pool *r, struct worker *w, struct pool_waiter *c, bool front,
               struct pool_step *st)
{
    pool_step_init(st);
    ev_tstamp now = ev_now(w->loop);
    char down[320];
    pthread_mutex_lock(&r->lock);
    if (r->nservers == 0 && now < r->login_retry_at) {
        /* Logins are failing and nothing else could serve it: say so now, not after a wait. */
        c->state = WAIT_ASSIGNED;
        c->w = w;
        list_add_tail(&st->failed, &c->node);
        login_failure_text(r, st,
                           ": server login has been failing, try again later (server_login_retry)");
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (r->nservers == 0 && hosts_all_down(r->db, now, down, sizeof(down))) {
        /* Every host's breaker is open: no login would be tried before the next probe. */
        c->state = WAIT_ASSIGNED;
        c->w = w;
        list_add_tail(&st->failed, &c->node);
        snprintf(st->fail_sqlstate, sizeof(st->fail_sqlstate), "08001");
        snprintf(st->fail_text, sizeof(st->fail_text),
                 "weir could not log in to the server of database \"%s\": %s", r->db->name, down);
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (front)
        list_add(&r->waiters, &c->node);
    else
        list_add_tail(&r->waiters, &c->node);
    c->state = WAIT_QUEUED;
    c->start = now;
    c->w = w;
    r->nwaiting++;
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

static void park(struct pool *r, struct worker *w, struct server *s)
{
    list_add_tail(&r->idle[w->id], &s->idle_node);
    r->idle_count[w->id]++;
    r->nidle++;
}

void pool_release(struct pool *r, struct worker *w, struct server *s, struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    if (r->paused || s->gen != r->gen) {
        st->close = s; /* PAUSE or RECONNECT: it goes instead of back to the pool */
        st->close_reason = "closed by the console (PAUSE, RECONNECT or KILL)";
    } else if (pool_retired(r) && r->nwaiting == 0) {
        st->close = s;
        st->close_reason = "its pool was replaced by a configuration reload";
    } else
        park(r, w, s);
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void pool_dispatch(struct pool *r, struct worker *w, struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void pool_connected(struct pool *r, struct worker *w, struct server *s, struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    r->nconnecting--;
    r->login_retry_at = 0;
    for (int i = 0; i < PARAM_COUNT; i++)
        param_set(&r->welcome, i, s->params.v[i]);
    if (r->paused || s->gen != r->gen) {
        st->close = s;
        st->close_reason = "closed by the console (PAUSE, RECONNECT or KILL)";
    } else {
        park(r, w, s);
    }
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void pool_connect_failed(struct pool *r, struct worker *w, const char *sqlstate, const char *text,
                         struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    r->nconnecting--;
    r->nservers--;
    give_slot(r);
    log_tidy(r->last_error, sizeof(r->last_error), text);
    snprintf(r->last_sqlstate, sizeof(r->last_sqlstate), "%s", sqlstate);
    /* A host list has a breaker per host instead (hosts.h); one host keeps server_login_retry. */
    if (r->db->nhosts < 2)
        r->login_retry_at = ev_now(w->loop) + weir.cfg->server_login_retry;
    if (r->nservers == 0)
        fail_waiters(r, st);
    else
        pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void pool_connect_abandoned(struct pool *r, struct worker *w, struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    r->nconnecting--;
    r->nservers--;
    give_slot(r);
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void pool_unpark(struct pool *r, struct server *s)
{
    pthread_mutex_lock(&r->lock);
    if (list_linked(&s->idle_node)) {
        list_del(&s->idle_node);
        r->idle_count[s->w->id]--;
        r->nidle--;
    }
    pthread_mutex_unlock(&r->lock);
}

void pool_server_gone(struct pool *r, struct worker *w, struct server *s, struct pool_step *st)
{
    pool_step_init(st);
    pthread_mutex_lock(&r->lock);
    if (list_linked(&s->idle_node)) {
        list_del(&s->idle_node);
        r->idle_count[w->id]--;
        r->nidle--;
    }
    r->nservers--;
    if (s->shrinking) {
        s->shrinking = false;
        r->nshrinking--;
    }
    give_slot(r);
    pool_balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

bool pool_leave(struct pool *r, struct pool_waiter *c)
{
    bool was_queued = false;
    pthread_mutex_lock(&r->lock);
    if (c->state == WAIT_QUEUED) {
        list_del(&c->node);
        r->nwaiting--;
        was_queued = true;
    }
    c->state = WAIT_NONE;
    pthread_mutex_unlock(&r->lock);
    return was_queued;
}

bool pool_may_shrink(struct pool *r, struct server *s)
{
    /*
     * Workers sweep their own idle servers at the same time: count the ones
     * already chosen, so two of them cannot both take the pool below
     * min_pool_size.
     */
    pthread_mutex_lock(&r->lock);
    bool yes = r->nservers - r->nshrinking > r->min_pool_size && r->nwaiting == 0;
    if (yes) {
        r->nshrinking++;
        s->shrinking = true;
    }
    pthread_mutex_unlock(&r->lock);
    return yes;
}

struct param_snap *pool_told(struct pool *r, const struct param_set *values)
{
    pthread_mutex_lock(&r->lock);
    if (!r->told || !param_snap_equal(r->told, values)) {
        struct param_snap *snap = param_snap_new(values);
        if (!snap) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        param_snap_unref(r->told);
        r->told = snap;
    }
    param_snap_ref(r->told);
    struct param_snap *snap = r->told;
    pthread_mutex_unlock(&r->lock);
    return snap;
}

bool pool_welcome(struct pool *r, struct param_set *out)
{
    bool have = false;
    pthread_mutex_lock(&r->lock);
    if (r->welcome.v[PARAM_SERVER_VERSION]) {
        have = true;
        for (int i = 0; i < PARAM_COUNT; i++)
            param_set(out, i, r->welcome.v[i]);
    }
    pthread_mutex_unlock(&r->lock);
    return have;
}

/*
 * A pool whose waiters cannot get a login only because a limit it shares with
 * other pools is used up: pool_size over the variants of one pool,
 * max_db_connections or max_user_connections.
 */
static bool starved_by_shared_limit(struct pool *r)
{
    if (r->nwaiting <= r->nconnecting || r->nidle > 0)
        return false;
    return (r->nservers < r->pool_size && atomic_load(r->group_servers) >= r->pool_size) ||
           (r->max_db > 0 && atomic_load(r->db_servers) >= r->max_db) ||
           (r->max_user > 0 && atomic_load(r->user_servers) >= r->max_user);
}

/*
 * Closes one of w's idle servers of another pool that shares the limit
 * starving r, as PgBouncer does. True when one was closed: its slot is free,
 * and r must take it at once (pools_sweep), before that pool's own next
 * client opens a server in it again.
 */
static bool evict_for(struct worker *w, struct pool *r, struct pool **snap, int n)
{
    pthread_mutex_lock(&r->lock);
    bool by_db = r->max_db > 0, by_user = r->max_user > 0;
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        struct pool *v = snap[i];
        if (v == r)
            continue;
        bool shares = v->group_servers == r->group_servers ||
                      (by_db && v->db_servers == r->db_servers) ||
                      (by_user && v->user_servers == r->user_servers);
        if (!shares)
            continue;
        struct server *victim = NULL;
        pthread_mutex_lock(&v->lock);
        if (v->idle_count[w->id] > 0 && v->nwaiting == 0)
            victim = list_entry(v->idle[w->id].next, struct server, idle_node);
        pthread_mutex_unlock(&v->lock);
        if (victim) {
            /* Only w takes servers off its own idle lists, so victim stays idle until closed. */
            server_close(victim, "making room for another pool (max_db/user_connections)");
            return true;
        }
    }
    return false;
}

void pools_sweep(struct worker *w)
{
    pthread_mutex_lock(&pools_lock);
    int n = pools_n;
    struct pool **snap = n ? malloc(sizeof(*snap) * n) : NULL;
    if (snap)
        memcpy(snap, pools_all, sizeof(*snap) * n);
    pthread_mutex_unlock(&pools_lock);
    if (!snap)
        return;
    ev_tstamp now = ev_now(w->loop);
    for (int i = 0; i < n; i++) {
        struct pool *r = snap[i];
        struct pool_step st;
        pool_step_init(&st);
        pthread_mutex_lock(&r->lock);
        if (r->nwaiting > 0)
            pool_balance(r, w, &st);
        if (w->id == 0 && !r->paused)
            while (r->nservers < r->min_pool_size && may_open(r, now, false))
                plan_connect(r, &st);
        bool starved = starved_by_shared_limit(r);
        pthread_mutex_unlock(&r->lock);
        server_apply_step(w, r, &st);
        if (starved && evict_for(w, r, snap, n)) {
            pool_step_init(&st);
            pthread_mutex_lock(&r->lock);
            pool_balance(r, w, &st);
            pthread_mutex_unlock(&r->lock);
            server_apply_step(w, r, &st);
        }
    }
    free(snap);
}
