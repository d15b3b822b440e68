/*
 * pool.h -- pools: one pool per (database, login user), shared by every
 * worker and bounded for the whole daemon (pool_size, reserve_pool_size,
 * max_db_connections, max_user_connections).
 *
 * A pool holds a FIFO of waiting clients (from any worker) and, per worker,
 * a list of idle servers owned by that worker, reused last in, first out (the
 * server that went idle last is the warmest). Each step below runs on one
 * worker under the pool's mutex and returns what that worker must do after
 * unlocking (struct pool_step): servers to hand to clients (possibly on
 * other workers), logins to start, a worker to wake, clients to fail. Only
 * the owner of an idle server ever takes it off its idle list, so servers
 * never change hands behind their owner's back.
 */
#ifndef WEIR_POOL_H
#define WEIR_POOL_H

#include <stdatomic.h>

#include <ev.h>
#include <pthread.h>

#include "backends/backend.h"
#include "pooler/conf/config.h"
#include "pooler/conf/params.h"
#include "pooler/core/list.h"
#include "pooler/core/worker.h"
#include "pooler/pool/stats.h"

/* A client's place in its pool's wait queue. [pool lock] */
enum wait_state {
    WAIT_NONE = 0, /* not waiting */
    WAIT_QUEUED,   /* on pool->waiters */
    WAIT_ASSIGNED, /* popped by some worker: a server (or an error) is on its way */
};

/*
 * A session's place in a pool's wait queue: embedded in the waiting session
 * (session/ finds its client with container_of), so pool/ queues, pairs and
 * fails waiters without knowing what a client is.
 */
struct pool_waiter {
    struct list node;      /* on pool->waiters, or a step's failed list [pool lock] */
    struct worker *w;      /* the worker the waiting session lives on */
    ev_tstamp start;       /* when it joined the wait queue [pool lock] */
    enum wait_state state; /* [pool lock] */
};

struct pool {
    struct pool *hash_next;
    pthread_mutex_t lock;
    const struct db_entry *db;
    char *user;       /* login user on the server */
    char *key_user;   /* the client user the pool was looked up by */
    uint64_t variant; /* MySQL: client capability flags and charset the servers must match */
    enum pool_mode pool_mode;
    int pool_size;
    int min_pool_size;
    int reserve_pool_size;
    atomic_int *group_servers; /* servers of this database and user, all variants (pool_size) */
    atomic_int *db_servers;    /* servers of this database, all pools */
    atomic_int *user_servers;  /* servers of this login user, all pools */
    int max_db;                /* 0 = no limit */
    int max_user;              /* 0 = no limit */
    atomic_bool retired;       /* replaced by a reload: no new clients, servers close when free */
    struct db_state *dbst;     /* the database's console flags (PAUSE, DISABLE) */
    struct stats_slot *stats;  /* one per worker, each written by its worker only */
    atomic_int nclients;       /* logged-in clients of this pool (console's cl_active) */
    /* [pool lock] from here on (and the limits above, which a reload changes) */
    char *password; /* login password, or NULL */
    /* MySQL pass-through: SHA1 of the user's password, from a client's token (pool_set_stage1) */
    uint8_t my_stage1[20];
    bool has_stage1;
    /* PostgreSQL pass-through (pool_set_pg_secret): the md5 secret, SCRAM's ClientKey/ServerKey */
    char pg_md5[36];
    uint8_t pg_client_key[32], pg_server_key[32];
    bool has_pg_keys;
    int nservers;    /* open or opening, every state */
    int nshrinking;  /* of those, idle ones being closed for server_idle_timeout */
    int nconnecting; /* logins in progress */
    int nwaiting;    /* clients on waiters */
    int nidle;       /* servers on all idle lists */
    struct list waiters;
    int *idle_count;          /* per worker */
    struct list *idle;        /* per worker */
    struct param_set welcome; /* what the last server reported at login, for logins without one */
    struct param_snap *told;  /* what the last clients were told (pool_told) */
    ev_tstamp login_retry_at; /* no new login before this after a failure (server_login_retry) */
    char last_error[256];
    char last_sqlstate[6];
    bool paused;  /* PAUSE/KILL: no server is handed out or opened, released ones close */
    unsigned gen; /* RECONNECT: servers of an older generation close when released */
    int ngen;     /* servers that took a generation (server_connect) and are not freed */
    int nstale;   /* of those, servers of an older generation */
    /*
     * PostgreSQL: identities of statements a server of the pool prepared
     * without error (most recent max_prepared_statements): a client holding
     * no server may have its Parse of one answered by weir (ps.c).
     */
    struct ps_cache *ps_known;
};

/* Did a server of r prepare statement id (PG_PS_ID_LEN bytes) without error? Takes the lock. */
bool pool_ps_known(struct pool *r, const uint8_t *id);
/* A server of r prepared statement id; the most recent `limit` are remembered. */
void pool_ps_learn(struct pool *r, const uint8_t *id, uint32_t limit);

/* Console flags of one database, by name (survive reloads). */
struct db_state {
    struct db_state *next;
    char *name;
    atomic_bool paused;
    atomic_bool disabled;
};

/* What the calling worker must do after a pool step. */
struct pool_step {
    struct server *assigned; /* chain (assign_next/assign_waiter) of servers for waiters */
    int nconnect;            /* new server logins to start on this worker */
    int wake_worker;         /* worker to send MSG_DISPATCH, or -1 */
    struct list failed;      /* waiters (by node) that get fail_text instead of a server */
    char fail_sqlstate[6];
    char fail_text[384];
    struct server
        *close; /* a server that must close instead of parking (pause, reconnect, reload) */
    const char *close_reason;
};

/*
 * Finds or creates the pool for a database entry and client user. The
 * login user is the entry's forced user, else the client's; the password is
 * used when the pool is created (or had none). NULL when out of memory.
 */
struct pool *pool_get(const struct db_entry *db, const char *client_user, uint64_t variant,
                      const char *password);
/*
 * MySQL: a client proved it knows the user's password against a stored hash:
 * its SHA1(password) lets weir's logins for the pool pass through (as
 * auth_user, then a change of user), when the pool has no password.
 */
void pool_set_stage1(struct pool *r, const uint8_t stage1[20]);
/*
 * PostgreSQL: a client proved itself against a stored secret (auth file or
 * auth_query) and the pool has no password: its logins pass through with
 * that md5 secret, or with the ClientKey the client's SCRAM proof gave and
 * the verifier's ServerKey (either may be NULL; the latest client's win).
 */
void pool_set_pg_secret(struct pool *r, const char *md5_secret, const uint8_t client_key[32],
                        const uint8_t server_key[32]);
/* MySQL pool variants: framing-relevant capability flags, charset in bits 48..63. */
#define POOL_VARIANT_CHARSET(v) ((unsigned)((v) >> 48))
#define POOL_VARIANT_FLAGS(v)   ((v) & ((1ULL << 48) - 1))
/*
 * PostgreSQL pool variants: replication connections (the startup parameter
 * `replication`, session pooling only). Their servers log in with it, serve
 * one client and are closed when it leaves: never handed to another.
 */
#define POOL_VARIANT_REPL_PHYSICAL (1ULL << 0)
#define POOL_VARIANT_REPL_LOGICAL  (1ULL << 1)
/* The libpq `replication` value a PostgreSQL pool's servers log in with, or NULL. */
static inline const char *pool_replication(const struct pool *r)
{
    if (r->db->backend != BACKEND_POSTGRES)
        return NULL;
    return r->variant & POOL_VARIANT_REPL_LOGICAL    ? "database"
           : r->variant & POOL_VARIANT_REPL_PHYSICAL ? "true"
                                                     : NULL;
}
/* Frees every pool (at exit, after workers stopped). */
void pools_free_all(void);

/*
 * Waiter c (a session on worker w) wants a server: queue it (at the head when front,
 * for a client whose server failed its health check), pair, plan logins.
 * While logins have been failing and no server is left, c is not queued but
 * put on st->failed at once.
 */
void pool_wait(struct pool *r, struct worker *w, struct pool_waiter *c, bool front,
               struct pool_step *st);
/* Server s (owned by w) is clean and ready: give it to a waiter or park it. */
void pool_release(struct pool *r, struct worker *w, struct server *s, struct pool_step *st);
/* w was woken: pair its idle servers with waiters. */
void pool_dispatch(struct pool *r, struct worker *w, struct pool_step *st);
/* A login started by w completed: s joins the pool as if released. */
void pool_connected(struct pool *r, struct worker *w, struct server *s, struct pool_step *st);
/*
 * A login failed: remember the error and back off for server_login_retry;
 * when no server is left, every waiter gets the error (st->failed).
 */
void pool_connect_failed(struct pool *r, struct worker *w, const char *sqlstate, const char *text,
                         struct pool_step *st);
/*
 * A login weir gave up itself (the console's KILL, PAUSE or RECONNECT, a
 * shutdown, weir out of memory): the slot is free again, waiters keep
 * waiting, and nothing counts as the server failing (no server_login_retry).
 */
void pool_connect_abandoned(struct pool *r, struct worker *w, struct pool_step *st);
/* At exit: idle server s leaves its idle list (its owner is freeing it). */
void pool_unpark(struct pool *r, struct server *s);
/* Server s (owned by w, not connecting) is closed: forget it, maybe plan a login. */
void pool_server_gone(struct pool *r, struct worker *w, struct server *s, struct pool_step *st);
/*
 * Waiter c leaves the wait queue (timeout, disconnect). Returns true when it
 * was still queued; false when something is already on its way to it.
 */
bool pool_leave(struct pool *r, struct pool_waiter *c);
/*
 * May idle server s (owned by w) be closed for server_idle_timeout? True
 * when the pool keeps min_pool_size without it (and without the others
 * already chosen); s then counts as closing until pool_server_gone, so the
 * caller must close it.
 */
bool pool_may_shrink(struct pool *r, struct server *s);
/*
 * A reference to the snapshot of values (settable parameters of `values`)
 * that r's clients were told at login: the pool's current one when they
 * agree, else a new one that becomes current. NULL when out of memory.
 */
struct param_snap *pool_told(struct pool *r, const struct param_set *values);
/* Copies the pool's cached login parameters; false when there are none yet. */
bool pool_welcome(struct pool *r, struct param_set *out);

/* ---- admin console ---- */

/* Every pool so far (pools live until exit); *out malloc'ed. Count, -1 out of memory. */
int pools_snapshot(struct pool ***out);
/* True when pool r belongs to database dbname (NULL: every database). */
bool pool_of_db(const struct pool *r, const char *dbname);
/* DISABLE/ENABLE: new logins to dbname refused or allowed. */
void pool_db_set_disabled(const char *dbname, bool on);
bool pool_db_disabled(const char *dbname);
/* True when dbname (not NULL) is paused. */
bool pool_db_paused(const char *dbname);
/*
 * PAUSE (on) or RESUME (off) dbname (NULL: every database). Resuming hands
 * servers and logins to the waiters at once; the steps run on worker w.
 */
void pool_db_pause(struct worker *w, const char *dbname, bool on);
/* RECONNECT: servers of dbname's pools (NULL: all) now open close when released or idle. */
void pool_db_reconnect(const char *dbname);
/* Servers of dbname (NULL: all) still open; and of those, of an older generation. */
void pool_db_counts(const char *dbname, int *servers, int *stale);
/* Must idle (or just released) server s of pool r close: paused or of an older generation? */
bool pool_must_close(struct pool *r, const struct server *s);
/* server_connect: s takes the pool's generation. */
void pool_server_born(struct pool *r, struct server *s);
/* s (which took a generation) is freed. */
void pool_server_freed(struct pool *r, struct server *s);
/* A client logged in to r / left it (cl_active of SHOW POOLS). */
void pool_client_join(struct pool *r);
void pool_client_leave(struct pool *r);
/* Gauges of SHOW POOLS, read under the pool lock. */
void pool_counts(struct pool *r, ev_tstamp now, struct stats_pool *p);

/*
 * After a reload: pools whose database entry is unchanged take the new
 * limits; pools whose database is gone or whose connection settings or
 * pool mode changed are retired. A retired pool keeps serving the clients
 * it has, but new clients (and its own clients' next transactions) get a
 * pool built from the new entry, and its servers close once released.
 */
void pools_reconfigure(const struct config *cfg);
static inline bool pool_retired(struct pool *r)
{
    return atomic_load_explicit(&r->retired, memory_order_relaxed);
}
/* Servers linked to clients or being cleaned, over every pool (for shutdown). */
int pools_busy_servers(void);

/*
 * Periodic work of worker w over every pool: waiters whose reserve_pool_timeout
 * passed or whose login back-off ended get logins planned; worker 0 also
 * keeps min_pool_size servers open.
 */
void pools_sweep(struct worker *w);

#endif
