/*
 * auth_lookup.c -- users the auth file does not know, looked up on the
 * server as auth_user, for both protocols: the answers' cache and the trip
 * of a lookup through the cancel queue and back to its client's worker.
 *
 * The lookup is blocking work (a login and a query), so it runs on the
 * cancel queue's threads (the connector's lookup op); the client waits in
 * its login state and the answer comes back to its worker as
 * MSG_AUTH_LOOKUP, found again by its pid (and checked to be the same
 * client). What the answer means is the protocol's: client_my_auth.c,
 * client_pg.c.
 *
 * Answers are kept auth_query_cache_seconds (default 30) per server,
 * database, auth_user and user; 0 keeps none. A changed password: see each
 * protocol's notes.
 *
 * Each lookup has an id the client keeps (c->lookup_id): an answer is taken
 * only by the client that asked for it, never by a later one that got the
 * same pid and memory. At most LOOKUPS_MAX run or wait at once: a flood of
 * logins with made-up names cannot hold up the cancel requests that share
 * the queue; past the bound a login fails as for an unknown user.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/session/client.h"

#define CACHE_SLOTS 256
#define LOOKUPS_MAX 64

static atomic_int lookups_in_flight;
static atomic_uint lookup_seq;

struct cached {
    char key[300]; /* "kind:host:port/user"; "" = free */
    char rows[BACKEND_LOOKUP_MAX + 1];
    double at; /* CLOCK_MONOTONIC seconds */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[CACHE_SLOTS];

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void auth_lookup_key(const struct db_entry *db, const char *auth_user, const char *user, char *key,
                     size_t cap)
{
    snprintf(key, cap, "%c:%s:%d/%s/%s/%s", db->backend == BACKEND_MYSQL ? 'm' : 'p',
             db->hosts[0].name, db->hosts[0].port, db->dbname, auth_user ? auth_user : "", user);
}

bool auth_lookup_cached(const char *key, char *rows, size_t cap)
{
    int ttl = weir.cfg->auth_query_cache_seconds;
    bool hit = false;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS && ttl > 0; i++) {
        if (!strcmp(cache[i].key, key) && now_mono() - cache[i].at < ttl) {
            snprintf(rows, cap, "%s", cache[i].rows);
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

void auth_lookup_forget(const char *key)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!strcmp(cache[i].key, key)) {
            explicit_bzero(&cache[i], sizeof(cache[i]));
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
}

/* Keeps an answer, in key's slot or else the oldest. */
static void cache_put(const char *key, const char *rows)
{
    pthread_mutex_lock(&cache_lock);
    int slot = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!strcmp(cache[i].key, key)) {
            slot = i;
            break;
        }
        if (cache[i].at < cache[slot].at)
            slot = i;
    }
    snprintf(cache[slot].key, sizeof(cache[slot].key), "%s", key);
    snprintf(cache[slot].rows, sizeof(cache[slot].rows), "%s", rows);
    cache[slot].at = now_mono();
    pthread_mutex_unlock(&cache_lock);
}

struct lookup_arg {
    struct client *client;
    uint32_t pid, id;
    char key[300];
};

/* On a cancel-queue thread: keep the answer, hand it to the client's worker. */
static void lookup_done(void *arg, const char *err, const char *rows)
{
    struct lookup_arg *a = arg;
    if (!err)
        cache_put(a->key, rows);
    atomic_fetch_sub(&lookups_in_flight, 1);
    struct worker *w = client_pid_worker(a->pid);
    struct msg *m = w ? msg_new(MSG_AUTH_LOOKUP) : NULL;
    if (m) {
        m->pid = a->pid;
        m->key = a->id;
        m->client = a->client;
        m->arg = err != NULL;
        snprintf(m->text, sizeof(m->text), "%s", err ? err : rows);
        worker_post(w, m);
    }
    free(a);
}

bool auth_lookup_start(struct client *c, const struct backend_ops *ops,
                       const struct backend_params *bp, const char *query, const char *key)
{
    if (atomic_fetch_add(&lookups_in_flight, 1) >= LOOKUPS_MAX) {
        atomic_fetch_sub(&lookups_in_flight, 1);
        log_client(c, LOG_LVL_WARNING, "cannot look user %s up: %d lookups already under way",
                   c->user, LOOKUPS_MAX);
        return false;
    }
    struct lookup_arg *a = calloc(1, sizeof(*a));
    if (!a) {
        atomic_fetch_sub(&lookups_in_flight, 1);
        return false;
    }
    a->client = c;
    a->pid = c->cancel_pid;
    do {
        a->id = atomic_fetch_add(&lookup_seq, 1) + 1;
    } while (a->id == 0);
    snprintf(a->key, sizeof(a->key), "%s", key);
    /* Set before the job is queued: once it is, a belongs to the queue (freed when answered). */
    c->lookup_id = a->id;
    char err[256];
    if (!ops->lookup(bp, query, c->user, lookup_done, a, err, sizeof(err))) {
        log_client(c, LOG_LVL_WARNING, "cannot look user %s up: %s", c->user, err);
        atomic_fetch_sub(&lookups_in_flight, 1);
        c->lookup_id = 0;
        free(a);
        return false;
    }
    return true;
}

void client_lookup_reply(struct worker *w, const struct msg *m)
{
    struct client *c = client_by_pid(w, m->pid);
    if (!c || c != m->client || c->lookup_id != m->key)
        return; /* gone meanwhile (closed, timed out), or another client now */
    c->lookup_id = 0;
    if (c->my)
        client_my_lookup_reply(c, m);
    else
        client_pg_lookup_reply(c, m);
}
