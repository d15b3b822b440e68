/* test_pool.c -- unit tests of the shared pools: FIFO waiters, per-worker idle lists, limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/core/worker.h"
#include "tests/tap.h"

static struct worker *w0, *w1;

/* Objects are zeroed like the daemon's and freed at the end; sessions are bare waiters. */
static struct pool_waiter *clients[64];
static struct server *servers[64];
static int nclients, nservers;

static struct pool_waiter *new_client(struct worker *w)
{
    struct pool_waiter *c = calloc(1, sizeof(*c));
    list_init(&c->node);
    c->w = w;
    clients[nclients++] = c;
    return c;
}

static struct server *new_server(struct worker *w)
{
    struct server *s = calloc(1, sizeof(*s));
    list_init(&s->wnode);
    list_init(&s->idle_node);
    s->w = w;
    servers[nservers++] = s;
    return s;
}

/* Servers given to clients of another worker move there (MSG_SERVER): follow that. */
static void adopt(const struct pool_step *st)
{
    for (struct server *s = st->assigned; s; s = s->assign_next)
        s->w = s->assign_waiter->w;
}

/* Checks the pool's counters; also that it never plans beyond pool_size. */
static void counts(const struct pool *r, int ns, int ncon, int nwait, int nidle, const char *name)
{
    int good = r->nservers == ns && r->nconnecting == ncon && r->nwaiting == nwait &&
               r->nidle == nidle && r->nservers <= r->pool_size + r->reserve_pool_size &&
               r->idle_count[0] + r->idle_count[1] == r->nidle;
    if (!ok(good, "counts: %s", name))
        diag("  nservers=%d/%d nconnecting=%d/%d nwaiting=%d/%d nidle=%d/%d (idle %d+%d) "
             "pool_size=%d",
             r->nservers, ns, r->nconnecting, ncon, r->nwaiting, nwait, r->nidle, nidle,
             r->idle_count[0], r->idle_count[1], r->pool_size);
}

/* Checks a step: exactly one server assigned (s to c), or none when s is NULL. */
static void step_is(const struct pool_step *st, struct server *s, struct pool_waiter *c,
                    int nconnect, int wake, const char *name)
{
    int good = st->assigned == s && (!s || (s->assign_waiter == c && s->assign_next == NULL)) &&
               st->nconnect == nconnect && st->wake_worker == wake && list_empty(&st->failed);
    if (!ok(good, "step: %s", name))
        diag("  assigned=%p (to %p, next %p) want %p to %p; nconnect=%d/%d wake=%d/%d failed=%d",
             (void *)st->assigned, st->assigned ? (void *)st->assigned->assign_waiter : NULL,
             st->assigned ? (void *)st->assigned->assign_next : NULL, (void *)s, (void *)c,
             st->nconnect, nconnect, st->wake_worker, wake, !list_empty(&st->failed));
}

static const struct db_entry *db1, *db2, *db3, *db4, *db5;

static void test_get(void)
{
    struct pool *a = pool_get(db1, "alice", 0, "pa");
    struct pool *a2 = pool_get(db1, "alice", 0, "other");
    struct pool *b = pool_get(db1, "bob", 0, NULL);
    struct pool *a3 = pool_get(db3, "alice", 0, NULL);
    ok(a && b && a3, "pool_get creates pools");
    ok(a == a2, "the same (database, user) gives the same pool");
    ok(a != b, "another user gives another pool");
    ok(a != a3, "another database gives another pool");
    is_str(a->user, "alice", "login user is the client's");
    is_str(a->key_user, "alice", "key user is the client's");
    is_str(a->password, "pa", "password kept from creation");
    ok(a->db == db1, "pool points at its database");
    is_int(a->pool_size, 2, "pool_size from default_pool_size");
    is_int(a->pool_mode, POOL_SESSION, "pool_mode from config");
    is_int(a3->pool_size, 1, "pool_size from the database entry");
    ok(a->nservers == 0 && a->nwaiting == 0 && a->nidle == 0 && list_empty(&a->waiters),
       "a new pool is empty");
    ok(list_empty(&a->idle[0]) && list_empty(&a->idle[1]), "one empty idle list per worker");

    ok(b->password == NULL, "no password yet");
    ok(pool_get(db1, "bob", 0, "late") == b, "same pool on a later lookup");
    is_str(b->password, "late", "a pool without a password takes the next one given");
    pool_get(db1, "bob", 0, "later");
    is_str(b->password, "late", "a pool's password is not replaced");

    struct pool *d = pool_get(db1, "dave", 0, NULL);
    is_int(d->pool_size, 3, "pool_size from the [users] entry");

    struct pool *f = pool_get(db2, "alice", 0, "clientpw");
    struct pool *g = pool_get(db2, "bob", 0, NULL);
    ok(f && g && f == g, "forced-user database: one pool for every client user");
    is_str(f->user, "forced", "login user is the database's forced user");
    is_str(f->key_user, "forced", "the pool is keyed by the forced user");
    is_str(f->password, "fpw", "password is the forced user's, not the client's");
    is_str(g->password, "fpw", "same password for every client user");
}

/* Waiters are served oldest first, whichever worker they or the servers are on. */
static void test_fifo(void)
{
    struct pool *r = pool_get(db1, "fifo", 0, NULL);
    struct pool_step st;
    struct pool_waiter *c1 = new_client(w0), *c2 = new_client(w1), *c3 = new_client(w0),
                       *c4 = new_client(w1), *c5 = new_client(w0);

    pool_wait(r, w0, c1, false, &st);
    step_is(&st, NULL, NULL, 1, -1, "first waiter, no servers: one login");
    counts(r, 1, 1, 1, 0, "one login for one waiter");
    ok(c1->state == WAIT_QUEUED && list_linked(&c1->node), "c1 is queued");
    pool_wait(r, w1, c2, false, &st);
    step_is(&st, NULL, NULL, 1, -1, "second waiter (worker 1): one more login, on worker 1");
    counts(r, 2, 2, 2, 0, "two logins for two waiters");
    pool_wait(r, w0, c3, false, &st);
    step_is(&st, NULL, NULL, 0, -1, "third waiter: pool_size reached, no login");
    pool_wait(r, w1, c4, false, &st);
    step_is(&st, NULL, NULL, 0, -1, "fourth waiter: still no login");
    counts(r, 2, 2, 4, 0, "never more than pool_size servers");

    struct server *s1 = new_server(w0), *s2 = new_server(w1);
    pool_connected(r, w0, s1, &st);
    step_is(&st, s1, c1, 0, -1, "first login done on worker 0: goes to c1 (oldest)");
    ok(c1->state == WAIT_ASSIGNED && !list_linked(&c1->node), "c1 assigned and off the queue");
    ok(!list_linked(&s1->idle_node), "an assigned server is not on an idle list");
    counts(r, 2, 1, 3, 0, "after the first login");
    pool_connected(r, w1, s2, &st);
    step_is(&st, s2, c2, 0, -1, "second login done on worker 1: goes to c2");
    counts(r, 2, 0, 2, 0, "after the second login");

    pool_release(r, w0, s1, &st);
    step_is(&st, s1, c3, 0, -1, "s1 released on worker 0: goes to c3");
    pool_release(r, w0, s1, &st);
    step_is(&st, s1, c4, 0, -1, "s1 released again: goes to c4, a client of worker 1");
    ok(st.assigned && st.assigned->assign_waiter->w == w1, "cross-worker assignment");
    ok(c4->state == WAIT_ASSIGNED, "c4 assigned");
    adopt(&st); /* s1 now belongs to worker 1, as after MSG_SERVER */
    counts(r, 2, 0, 0, 0, "everyone served");

    pool_release(r, w1, s2, &st);
    step_is(&st, NULL, NULL, 0, -1, "release with no waiters: nothing to do");
    counts(r, 2, 0, 0, 1, "s2 parked");
    is_int(r->idle_count[1], 1, "parked on its owner's idle list");
    is_int(r->idle_count[0], 0, "not on the other worker's");
    ok(list_linked(&s2->idle_node) && r->idle[1].next == &s2->idle_node, "s2 is on idle[1]");

    pool_wait(r, w0, c5, false, &st);
    step_is(&st, NULL, NULL, 0, 1, "waiter on worker 0 with a server idle on 1: wake 1, no login");
    counts(r, 2, 0, 1, 1, "c5 waits for the wake-up");
    ok(c5->state == WAIT_QUEUED, "c5 still queued");

    pool_dispatch(r, w0, &st);
    step_is(&st, NULL, NULL, 0, 1, "dispatch on the wrong worker takes nothing, wakes 1 again");
    pool_dispatch(r, w1, &st);
    step_is(&st, s2, c5, 0, -1, "dispatch on the owner assigns s2 to c5");
    counts(r, 2, 0, 0, 0, "after dispatch");
    ok(!list_linked(&s2->idle_node), "s2 left idle[1]");
    adopt(&st); /* s2 now belongs to worker 0 */

    /* A waiter on the idle server's worker takes it in the same step. */
    pool_release(r, s2->w, s2, &st);
    struct pool_waiter *c6 = new_client(w0);
    pool_wait(r, w0, c6, false, &st);
    step_is(&st, s2, c6, 0, -1, "waiter on the idle server's worker gets it at once");
    counts(r, 2, 0, 0, 0, "after the direct pairing");

    /* Move s1 to worker 0 too: a worker-0 client waits, s1 is released on worker 1. */
    struct pool_waiter *cx = new_client(w0);
    pool_wait(r, w0, cx, false, &st);
    step_is(&st, NULL, NULL, 0, -1, "pool full and nothing idle: just wait");
    pool_release(r, s1->w, s1, &st);
    step_is(&st, s1, cx, 0, -1, "s1 released on worker 1 goes to a worker-0 client");
    adopt(&st);

    /* Several idle servers on one worker, several waiters elsewhere: one dispatch pairs all. */
    pool_release(r, s1->w, s1, &st);
    pool_release(r, s2->w, s2, &st);
    counts(r, 2, 0, 0, 2, "two servers idle on worker 0");
    is_int(r->idle_count[0], 2, "both on idle[0]");
    struct pool_waiter *c7 = new_client(w1), *c8 = new_client(w1);
    pool_wait(r, w1, c7, false, &st);
    step_is(&st, NULL, NULL, 0, 0, "c7: wake worker 0");
    pool_wait(r, w1, c8, false, &st);
    step_is(&st, NULL, NULL, 0, 0, "c8: wake worker 0");
    pool_dispatch(r, w0, &st);
    struct server *first = st.assigned ? st.assigned->assign_next : NULL;
    /* Idle servers are reused last in, first out: s2 went idle last. */
    ok(st.assigned == s1 && first == s2 && s2->assign_waiter == c7 && s1->assign_waiter == c8 &&
           !s2->assign_next,
       "one dispatch assigns both: latest idle server to oldest waiter");
    ok(st.nconnect == 0 && st.wake_worker == -1, "nothing else to do");
    counts(r, 2, 0, 0, 0, "after the double dispatch");
}

/* Limits: logins follow waiters up to pool_size. */
static void test_limits(void)
{
    struct pool *r = pool_get(db1, "dave", 0, NULL); /* pool_size 3 */
    struct pool_step st;
    int total = 0, plan[5];
    for (int i = 0; i < 5; i++) {
        pool_wait(r, i % 2 ? w1 : w0, new_client(i % 2 ? w1 : w0), false, &st);
        plan[i] = st.nconnect;
        total += st.nconnect;
    }
    ok(plan[0] == 1 && plan[1] == 1 && plan[2] == 1 && plan[3] == 0 && plan[4] == 0,
       "one login per waiter until pool_size (got %d %d %d %d %d)", plan[0], plan[1], plan[2],
       plan[3], plan[4]);
    is_int(total, 3, "total logins == pool_size");
    counts(r, 3, 3, 5, 0, "five waiters, three logins");

    /* The queue drains while logins complete; nothing beyond pool_size is planned. */
    struct server *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = new_server(w0);
        pool_connected(r, w0, s[i], &st);
        ok(st.assigned == s[i] && st.nconnect == 0, "login %d completes and is assigned", i + 1);
        adopt(&st);
    }
    counts(r, 3, 0, 2, 0, "three servers busy, two waiting");
    for (int i = 0; i < 3; i++)
        pool_release(r, s[i]->w, s[i], &st);
    counts(r, 3, 0, 0, 1, "two served by releases, one server parked");
}

static void test_leave(void)
{
    struct pool *r = pool_get(db3, "leaver", 0, NULL); /* pool_size 1 */
    struct pool_step st;
    struct pool_waiter *c1 = new_client(w0), *c2 = new_client(w1), *c3 = new_client(w0);
    pool_wait(r, w0, c1, false, &st);
    pool_wait(r, w1, c2, false, &st);
    pool_wait(r, w0, c3, false, &st);
    counts(r, 1, 1, 3, 0, "three waiters, one login");

    ok(pool_leave(r, c2), "pool_leave of a queued client is true");
    ok(c2->state == WAIT_NONE && !list_linked(&c2->node), "it is off the queue");
    counts(r, 1, 1, 2, 0, "one waiter fewer");
    ok(!pool_leave(r, c2), "leaving twice is false");
    counts(r, 1, 1, 2, 0, "leaving twice changes nothing");

    struct server *s = new_server(w0);
    pool_connected(r, w0, s, &st);
    step_is(&st, s, c1, 0, -1, "the login goes to c1");
    ok(!pool_leave(r, c1), "pool_leave of an assigned client is false");
    ok(c1->state == WAIT_NONE, "its wait state is cleared");
    counts(r, 1, 0, 1, 0, "leaving after assignment does not touch the counts");

    pool_release(r, w0, s, &st);
    step_is(&st, s, c3, 0, -1, "the server skips the client that left and goes to c3");
    pool_release(r, w0, s, &st);
    counts(r, 1, 0, 0, 1, "parked when nobody waits");

    struct pool_waiter *c4 = new_client(w1);
    pool_wait(r, w1, c4, false, &st);
    step_is(&st, NULL, NULL, 0, 0, "c4 waits for worker 0");
    ok(pool_leave(r, c4), "c4 leaves before the dispatch");
    pool_dispatch(r, w0, &st);
    step_is(&st, NULL, NULL, 0, -1, "dispatch after the waiter left: nothing");
    counts(r, 1, 0, 0, 1, "server still idle");
    ok(list_linked(&s->idle_node), "and still on its idle list");
}

/* The clients on a step's failed list, in order, as a NULL-terminated array. */
static int failed_are(struct pool_step *st, struct pool_waiter **want)
{
    struct list *n = st->failed.next;
    for (; *want; want++, n = n->next)
        if (n == &st->failed || list_entry(n, struct pool_waiter, node) != *want)
            return 0;
    return n == &st->failed;
}

static void advance(double seconds)
{
    usleep((useconds_t)(seconds * 1e6));
    ev_now_update(w0->loop);
    ev_now_update(w1->loop);
}

static void test_connect_failed(void)
{
    struct pool *r = pool_get(db1, "failing", 0, NULL);
    struct pool_step st;
    struct pool_waiter *c1 = new_client(w0), *c2 = new_client(w1), *c3 = new_client(w0);
    pool_wait(r, w0, c1, false, &st);
    pool_wait(r, w1, c2, false, &st);
    pool_wait(r, w0, c3, false, &st);
    counts(r, 2, 2, 3, 0, "two logins for three waiters");

    pool_connect_failed(r, w0, "28P01", "password authentication failed", &st);
    ok(list_empty(&st.failed), "one login still pending: nobody fails yet");
    is_int(st.nconnect, 0, "no new login during server_login_retry");
    counts(r, 1, 1, 3, 0, "after the first failure");
    is_str(r->last_sqlstate, "28P01", "the error's SQLSTATE is kept");

    pool_connect_failed(r, w1, "28P01", "password authentication failed", &st);
    struct pool_waiter *all[] = {c1, c2, c3, NULL};
    ok(failed_are(&st, all), "no server left: every waiter gets the error, oldest first");
    is_str(st.fail_sqlstate, "28P01", "with the server's SQLSTATE");
    ok(strstr(st.fail_text, "password authentication failed") != NULL, "and its message");
    ok(c1->state == WAIT_ASSIGNED && !pool_leave(r, c1), "c1 is off the queue");
    counts(r, 0, 0, 0, 0, "all gone");

    struct pool_waiter *c4 = new_client(w1);
    pool_wait(r, w1, c4, false, &st);
    struct pool_waiter *only4[] = {c4, NULL};
    ok(failed_are(&st, only4), "during the back-off a new client fails at once");
    ok(strstr(st.fail_text, "server_login_retry") != NULL, "naming server_login_retry");
    is_int(st.nconnect, 0, "and no login is tried");
    counts(r, 0, 0, 0, 0, "nothing queued");

    advance(0.35);
    struct pool_waiter *c5 = new_client(w0);
    pool_wait(r, w0, c5, false, &st);
    step_is(&st, NULL, NULL, 1, -1, "after server_login_retry a login is tried again");
    struct server *s = new_server(w0);
    pool_connected(r, w0, s, &st);
    step_is(&st, s, c5, 0, -1, "the login succeeds and serves the waiter");
    ok(r->login_retry_at == 0, "a success ends the back-off");
    ok(r->welcome.v[PARAM_SERVER_VERSION] == NULL, "a server without parameters caches none");
}

static void test_reserve_and_limits(void)
{
    struct pool *r = pool_get(db4, "res", 0, NULL);
    struct pool_step st;
    struct pool_waiter *c1 = new_client(w0), *c2 = new_client(w1);
    pool_wait(r, w0, c1, false, &st);
    is_int(st.nconnect, 1, "pool_size 1: one login");
    pool_wait(r, w1, c2, false, &st);
    is_int(st.nconnect, 0, "the second waiter waits: pool full, reserve not yet due");
    advance(0.25);
    pool_dispatch(r, w1, &st);
    is_int(st.nconnect, 1, "after reserve_pool_timeout the reserve opens one more");
    counts(r, 2, 2, 2, 0, "two logins");
    pool_dispatch(r, w1, &st);
    is_int(st.nconnect, 0, "the reserve holds one only");

    /* max_db_connections = 2 over every user of db5 */
    struct pool *a = pool_get(db5, "ua", 0, NULL), *b = pool_get(db5, "ub", 0, NULL);
    struct pool_waiter *a1 = new_client(w0), *a2 = new_client(w0), *b1 = new_client(w1);
    pool_wait(a, w0, a1, false, &st);
    pool_wait(a, w0, a2, false, &st);
    is_int(a->nconnecting, 2, "user a takes both database slots");
    pool_wait(b, w1, b1, false, &st);
    is_int(st.nconnect, 0, "user b waits: max_db_connections reached");
    struct server *sa = new_server(w0);
    pool_connected(a, w0, sa, &st);
    pool_server_gone(a, w0, sa, &st);
    pool_dispatch(b, w1, &st);
    is_int(st.nconnect, 1, "a closed server frees a database slot for user b");
}

static void test_server_gone(void)
{
    struct pool *r = pool_get(db1, "gone", 0, NULL);
    struct pool_step st;
    struct pool_waiter *c1 = new_client(w0), *c2 = new_client(w1), *c3 = new_client(w0);
    struct server *s1 = new_server(w0), *s2 = new_server(w1);
    pool_wait(r, w0, c1, false, &st);
    pool_wait(r, w1, c2, false, &st);
    pool_connected(r, w0, s1, &st);
    pool_connected(r, w1, s2, &st);
    pool_wait(r, w0, c3, false, &st);
    step_is(&st, NULL, NULL, 0, -1, "pool full: c3 waits without a login");
    counts(r, 2, 0, 1, 0, "two busy servers, one waiter");

    pool_server_gone(r, w0, s1, &st);
    step_is(&st, NULL, NULL, 1, -1, "a busy server closing frees a slot: c3 gets a login");
    counts(r, 2, 1, 1, 0, "the slot is taken by the new login");

    pool_release(r, w1, s2, &st);
    step_is(&st, s2, c3, 0, -1, "a release serves c3 before its login completes");
    struct server *s3 = new_server(w0);
    pool_connected(r, w0, s3, &st);
    step_is(&st, NULL, NULL, 0, -1, "the late login has nobody to serve");
    counts(r, 2, 0, 0, 1, "it is parked");
    ok(list_linked(&s3->idle_node), "on an idle list");

    pool_server_gone(r, w0, s3, &st);
    step_is(&st, NULL, NULL, 0, -1, "an idle server closing with nobody waiting: nothing");
    counts(r, 1, 0, 0, 0, "it left the idle list and the pool");
    ok(!list_linked(&s3->idle_node), "it is off the idle list");
    is_int(r->idle_count[0], 0, "worker 0's idle count is back to 0");
    ok(list_empty(&r->idle[0]), "worker 0's idle list is empty");
}

int main(void)
{
    char dir[] = "/tmp/weir-test-pool-XXXXXX", path[64], err[256];
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/weir.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[weir]\nauth_type = trust\ndefault_pool_size = 2\nworkers = 2\n"
          "server_login_retry = 0.3\nreserve_pool_timeout = 0.2\n"
          "[databases]\ndb1 =\ndb2 = user=forced password=fpw\ndb3 = pool_size=1\n"
          "db4 = pool_size=1 reserve_pool=1\ndb5 = pool_size=5 max_db_connections=2\n"
          "[users]\ndave = pool_size=3\n",
          f);
    fclose(f);
    struct config *cfg;
    if (config_load(path, &cfg, err, sizeof(err)) != WR_OK) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    unlink(path);
    rmdir(dir);
    db1 = config_find_db(cfg, "db1");
    db2 = config_find_db(cfg, "db2");
    db3 = config_find_db(cfg, "db3");
    db4 = config_find_db(cfg, "db4");
    db5 = config_find_db(cfg, "db5");

    weir.cfg = cfg;
    weir.nworkers = 2;
    weir.workers = calloc(2, sizeof(struct worker));
    weir.workers[0].id = 0;
    weir.workers[1].id = 1;
    w0 = &weir.workers[0];
    w1 = &weir.workers[1];
    w0->loop = ev_loop_new(EVFLAG_AUTO);
    w1->loop = ev_loop_new(EVFLAG_AUTO);

    test_get();
    test_fifo();
    test_limits();
    test_leave();
    test_connect_failed();
    test_reserve_and_limits();
    test_server_gone();

    pools_free_all();
    for (int i = 0; i < nclients; i++)
        free(clients[i]);
    for (int i = 0; i < nservers; i++)
        free(servers[i]);
    ev_loop_destroy(w0->loop);
    ev_loop_destroy(w1->loop);
    free(weir.workers);
    weir.workers = NULL;
    weir.cfg = NULL;
    config_free(cfg);
    return done_testing();
}
