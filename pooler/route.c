/* route.c -- global pools per (database, user): FIFO waiters, per-worker idle lists, limits. */
#include "pooler/route.h"

#include <stdlib.h>
#include <string.h>

#include "pooler/worker.h"

#define ROUTE_BUCKETS 256

static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route *routes[ROUTE_BUCKETS];

static unsigned hash_str(unsigned h, const char *s)
{
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static struct route *route_new(const struct db_entry *db, const char *client_user,
                               const char *password)
{
    const struct config *cfg = weir.cfg;
    const struct user_entry *ue = config_find_user(cfg, client_user);
    struct route *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->db = db;
    r->key_user = strdup(client_user);
    r->user = strdup(db->user ? db->user : client_user);
    const char *pw = db->user ? db->password : password;
    r->password = pw ? strdup(pw) : NULL;
    r->pool_size = config_pool_size(cfg, db, ue);
    r->pool_mode = config_pool_mode(cfg, db, ue);
    r->idle = calloc(weir.nworkers, sizeof(*r->idle));
    r->idle_count = calloc(weir.nworkers, sizeof(*r->idle_count));
    if (!r->key_user || !r->user || (pw && !r->password) || !r->idle || !r->idle_count) {
        free(r->key_user);
        free(r->user);
        free(r->password);
        free(r->idle);
        free(r->idle_count);
        free(r);
        return NULL;
    }
    for (int i = 0; i < weir.nworkers; i++)
        list_init(&r->idle[i]);
    list_init(&r->waiters);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

struct route *route_get(const struct db_entry *db, const char *client_user, const char *password)
{
    unsigned h = hash_str(hash_str(2166136261u, db->name), client_user) % ROUTE_BUCKETS;
    pthread_mutex_lock(&routes_lock);
    struct route *r;
    for (r = routes[h]; r; r = r->hash_next)
        if (r->db == db && !strcmp(r->key_user, client_user))
            break;
    if (!r) {
        r = route_new(db, client_user, password);
        if (r) {
            r->hash_next = routes[h];
            routes[h] = r;
        }
    }
    pthread_mutex_unlock(&routes_lock);
    if (r && !db->user && password) {
        pthread_mutex_lock(&r->lock);
        if (!r->password)
            r->password = strdup(password);
        pthread_mutex_unlock(&r->lock);
    }
    return r;
}

void routes_free_all(void)
{
    pthread_mutex_lock(&routes_lock);
    for (int i = 0; i < ROUTE_BUCKETS; i++) {
        while (routes[i]) {
            struct route *r = routes[i];
            routes[i] = r->hash_next;
            pthread_mutex_destroy(&r->lock);
            free(r->key_user);
            free(r->user);
            free(r->password);
            free(r->idle);
            free(r->idle_count);
            free(r);
        }
    }
    pthread_mutex_unlock(&routes_lock);
}

static void step_init(struct route_step *st)
{
    st->assigned = NULL;
    st->nconnect = 0;
    st->wake_worker = -1;
    st->failed = NULL;
}

static struct client *pop_waiter(struct route *r)
{
    struct list *n = list_pop(&r->waiters);
    if (!n)
        return NULL;
    struct client *c = list_entry(n, struct client, wait_node);
    c->wait = WAIT_ASSIGNED;
    r->nwaiting--;
    return c;
}

/*
 * Pairs waiters with w's idle servers (oldest waiter first), then plans what
 * else the waiters need: new logins while under pool_size, or a wake-up of a
 * worker that has idle servers.
 */
static void balance(struct route *r, struct worker *w, struct route_step *st)
{
    struct list *idle = &r->idle[w->id];
    while (r->nwaiting > 0 && !list_empty(idle)) {
        struct server *s = list_entry(list_pop(idle), struct server, idle_node);
        r->idle_count[w->id]--;
        r->nidle--;
        s->assign_client = pop_waiter(r);
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
    while (r->nwaiting > r->nconnecting && r->nservers < r->pool_size) {
        r->nservers++;
        r->nconnecting++;
        st->nconnect++;
    }
}

void route_wait(struct route *r, struct worker *w, struct client *c, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    list_add_tail(&r->waiters, &c->wait_node);
    c->wait = WAIT_QUEUED;
    r->nwaiting++;
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

static void park(struct route *r, struct worker *w, struct server *s)
{
    list_add_tail(&r->idle[w->id], &s->idle_node);
    r->idle_count[w->id]++;
    r->nidle++;
}

void route_release(struct route *r, struct worker *w, struct server *s, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    park(r, w, s);
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void route_dispatch(struct route *r, struct worker *w, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void route_connected(struct route *r, struct worker *w, struct server *s, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    r->nconnecting--;
    park(r, w, s);
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void route_connect_failed(struct route *r, struct worker *w, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    r->nconnecting--;
    r->nservers--;
    st->failed = pop_waiter(r);
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

void route_server_gone(struct route *r, struct worker *w, struct server *s, struct route_step *st)
{
    step_init(st);
    pthread_mutex_lock(&r->lock);
    if (list_linked(&s->idle_node)) {
        list_del(&s->idle_node);
        r->idle_count[w->id]--;
        r->nidle--;
    }
    r->nservers--;
    balance(r, w, st);
    pthread_mutex_unlock(&r->lock);
}

bool route_leave(struct route *r, struct client *c)
{
    bool was_queued = false;
    pthread_mutex_lock(&r->lock);
    if (c->wait == WAIT_QUEUED) {
        list_del(&c->wait_node);
        r->nwaiting--;
        was_queued = true;
    }
    c->wait = WAIT_NONE;
    pthread_mutex_unlock(&r->lock);
    return was_queued;
}
