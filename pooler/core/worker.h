/*
 * worker.h -- worker threads: one libev loop each, an inbox for work posted by
 * other threads (mutex-protected queue + ev_async, libev's documented
 * pattern), and a coarse sweep timer for timeouts.
 */
#ifndef WEIR_WORKER_H
#define WEIR_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "backends/backend.h"
#include "pooler/conf/config.h"
#include "pooler/conf/userlist.h"
#include "pooler/core/buf.h"
#include "pooler/core/list.h"
#include "pooler/core/slab.h"

/*
 * The objects of the layers above that messages and per-worker tables carry.
 * core/ only stores and passes these pointers; it never looks inside them.
 */
struct client;
struct server;
struct pool;
struct admin_job;
struct pool_waiter;

#define CANCEL_BUCKETS 4096

enum msg_kind {
    MSG_SERVER,      /* a server for a waiting client: adopt it and attach */
    MSG_ERROR,       /* a waiting client gets an error instead (server login failed) */
    MSG_DISPATCH,    /* hand this worker's idle servers of a pool to its waiters */
    MSG_CANCEL,      /* a cancel request for one of this worker's clients */
    MSG_CANCEL_DONE, /* a cancel request of one of this worker's servers finished */
    MSG_LISTEN_STOP, /* shutting down: accept what is queued, then close the listeners */
    MSG_KILL,        /* MySQL KILL for one of this worker's clients (pid), from client key */
    MSG_KILL_DONE,   /* the answer to a KILL one of this worker's clients (pid) asked for */
    MSG_STOP,        /* leave the loop */
    MSG_ADMIN,       /* run this worker's part of a console job */
    MSG_ADMIN_DONE,  /* every worker ran the console job: answer (console client's worker) */
    MSG_ADMIN_CHECK, /* servers went away: re-check a console's PAUSE / WAIT_CLOSE */
    MSG_DNS,         /* a host name was resolved (or failed): logins waiting for one go on */
    MSG_AUTH_LOOKUP, /* a user looked up on the server (auth_user) for one of its clients (pid) */
};

struct msg {
    struct msg *next;
    enum msg_kind kind;
    struct client *client;
    struct pool_waiter *waiter; /* MSG_SERVER, MSG_ERROR */
    struct server *server;
    struct pool *pool;
    struct admin_job *job;
    uint32_t pid, key;
    int arg; /* MSG_KILL: KILL CONNECTION when set; MSG_KILL_DONE: the result */
    char sqlstate[6];
    char text[384];
};

struct unix_listener;

struct listener {
    int fd;
    enum backend_kind kind;      /* which protocol its clients speak */
    bool metrics;                /* serves Prometheus scrapes (metrics.c) instead of clients */
    struct unix_listener *share; /* a unix socket every worker watches (listener.c), or NULL */
    ev_io io;
};

struct worker {
    int id;
    pthread_t thread;
    struct ev_loop *loop;
    ev_async wake;
    ev_timer sweep;
    pthread_mutex_t inbox_lock;
    struct msg *inbox_head;
    struct msg *inbox_tail;
    struct buf_pool bufs;
    struct slab client_slab; /* struct client objects of this worker (client.c) */
    struct list clients;     /* every client of this worker */
    struct list servers;     /* every server this worker owns */
    struct list scrapes;     /* open /metrics connections (metrics.c) */
    struct listener *listeners;
    int nlisteners;
    uint32_t client_seq;
    struct client *cancel_tab[CANCEL_BUCKETS];
    /*
     * PostgreSQL clients pinned to their server (session/sess_pg.c): a gauge,
     * and pins by reason (protocol/pg/pg_sql.h's PG_PIN_* bits), written by
     * this worker only and summed on read (/metrics).
     */
    _Atomic uint64_t pinned;
    _Atomic uint64_t pins[16];
};

/*
 * Daemon-wide state, set up by main before workers start. cfg and users are
 * replaced whole by a reload (lifecycle.c); a reader loads the pointer once
 * per decision. Replaced ones stay allocated until exit, since connections
 * may still point into them.
 */
/* The shutdown in progress (lifecycle.c sets it; pools and workers read it). */
enum shutdown_mode {
    SHUTDOWN_NONE = 0,
    SHUTDOWN_WAIT_CLIENTS, /* SIGTERM: stop accepting, exit when every client has left */
    SHUTDOWN_WAIT_SERVERS, /* SIGINT: stop accepting, exit when every server is released */
    SHUTDOWN_NOW,          /* SIGQUIT, console SHUTDOWN: exit at once */
};

struct daemon {
    const struct config *_Atomic cfg;
    struct userlist *_Atomic users;
    struct worker *workers;
    int nworkers;
    atomic_int nclients; /* connected clients, for max_client_conn */
    atomic_int nconsole; /* of those, logged in to the admin console */
    atomic_int npending; /* of those, not yet authenticated (max_pending_logins) */
    atomic_ullong next_id;
    atomic_int shutdown; /* enum shutdown_mode */
};

extern struct daemon weir;

/*
 * What a worker does with the work core/ only carries, supplied by the top of
 * the daemon (dispatch.c) before workers_init. Each is called on the worker's
 * own thread: per inbox message, per sweep, once at the end of its loop;
 * never per forwarded byte.
 */
struct worker_hooks {
    void (*msg)(struct worker *w, struct msg *m);   /* one inbox message (freed after) */
    void (*sweep)(struct worker *w, ev_tstamp now); /* the coarse timeout sweep */
    void (*stopped)(struct worker *w);              /* the loop ended: free what w owns */
    void (*unread)(struct msg *m);                  /* at exit: a message nobody read */
    /* A connection accepted on a listener of w: a client of kind, or a metrics scrape. */
    void (*accept)(struct worker *w, int fd, enum backend_kind kind, bool metrics,
                   const struct sockaddr *sa, socklen_t salen);
};
extern struct worker_hooks worker_hooks;

/*
 * Creates the workers with their listening sockets (so bind errors are
 * reported before anything runs). WR_ERROR with err when a socket cannot be
 * opened.
 */
int workers_init(char *err, size_t errlen) WR_MUST_CHECK;
/* Starts the worker threads. */
int workers_start(void) WR_MUST_CHECK;
/* Asks every worker to stop, joins them, frees what they own. */
void workers_stop(void);

/* Posts a message to a worker (takes ownership of m) and wakes its loop. */
void worker_post(struct worker *to, struct msg *m);
/* Allocates a zeroed message; aborts on out of memory (tiny, rare). */
struct msg *msg_new(enum msg_kind kind);

/* A fresh connection id (C-n / S-n in logs). */
uint64_t weir_next_id(void);

#endif
