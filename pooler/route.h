/*
 * route.h -- pools: one route per (database, login user), shared by every
 * worker and bounded by pool_size for the whole daemon.
 *
 * A route holds a FIFO of waiting clients (from any worker) and, per worker,
 * a list of idle servers owned by that worker. Each step below runs on one
 * worker under the route's mutex and returns what that worker must do after
 * unlocking (struct route_step): servers to hand to clients (possibly on
 * other workers), connections to open, a worker to wake. Only the owner of
 * an idle server ever takes it off its idle list, so servers never change
 * hands behind their owner's back.
 */
#ifndef WEIR_ROUTE_H
#define WEIR_ROUTE_H

#include "pooler/objects.h"

struct route {
    struct route *hash_next;
    pthread_mutex_t lock;
    const struct db_entry *db;
    char *user;     /* login user on the server */
    char *password; /* its password, or NULL */
    char *key_user; /* the client user the route was looked up by */
    int pool_size;
    enum pool_mode pool_mode;
    /* [route lock] from here on */
    int nservers;    /* open or opening, every state */
    int nconnecting; /* logins in progress */
    int nwaiting;    /* clients on waiters */
    int nidle;       /* servers on all idle lists */
    struct list waiters;
    int *idle_count;   /* per worker */
    struct list *idle; /* per worker */
};

/* What the calling worker must do after a route step. */
struct route_step {
    struct server *assigned; /* chain (assign_next/assign_client) of servers for clients */
    int nconnect;            /* new server logins to start on this worker */
    int wake_worker;         /* worker to send MSG_DISPATCH, or -1 */
    struct client *failed;   /* waiter that gets the login error (route_connect_failed) */
};

/*
 * Finds or creates the route for a database entry and client user. The
 * login user is the entry's forced user, else the client's; the password is
 * used when the route is created (or had none). NULL when out of memory.
 */
struct route *route_get(const struct db_entry *db, const char *client_user, const char *password);
/* Frees every route (at exit, after workers stopped). */
void routes_free_all(void);

/* Client c (on worker w) wants a server: queue it, pair, plan logins. */
void route_wait(struct route *r, struct worker *w, struct client *c, struct route_step *st);
/* Server s (owned by w) is clean and ready: give it to a waiter or park it. */
void route_release(struct route *r, struct worker *w, struct server *s, struct route_step *st);
/* w was woken: pair its idle servers with waiters. */
void route_dispatch(struct route *r, struct worker *w, struct route_step *st);
/* A login started by w completed: s joins the pool as if released. */
void route_connected(struct route *r, struct worker *w, struct server *s, struct route_step *st);
/* A login failed: the head waiter (if any) gets the error in st->failed. */
void route_connect_failed(struct route *r, struct worker *w, struct route_step *st);
/* Server s (owned by w, not connecting) is closed: forget it, maybe plan a login. */
void route_server_gone(struct route *r, struct worker *w, struct server *s, struct route_step *st);
/*
 * Client c leaves the wait queue (timeout, disconnect). Returns true when it
 * was still queued; false when something is already on its way to it.
 */
bool route_leave(struct route *r, struct client *c);

#endif
