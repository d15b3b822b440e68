/*
 * server.h -- server connections: login through a backend connector, the
 * clean-up after a client (drain, rollback, reset query), health checks,
 * cancels, idle watching, moves between workers. The set-up for the next
 * client is sent by session/handoff.c; server.c reads its answers.
 */
#ifndef WEIR_SERVER_H
#define WEIR_SERVER_H

#include "pooler/conf/settings.h"
#include "pooler/core/log.h"
#include "pooler/core/tls.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/ps_cache.h"
#include "protocol/mysql/my_resp.h"
#include "protocol/pg/pg_msg.h"

struct msg;
struct stmt_my_servers;

enum server_state {
    SV_CONNECTING, /* login in progress (libpq) */
    SV_IDLE,       /* on pool->idle[owner], watching for the server closing */
    SV_CHECK,      /* running server_check_query before it is given to its client */
    SV_SETUP,      /* running SETs for the client it was given */
    SV_ACTIVE,     /* linked to a client */
    SV_RESET,      /* cleaning up after a client: drain, rollback, reset query */
    SV_MOVING,     /* in a worker's inbox, no watchers */
    SV_CLOSED,     /* closed, kept only until its cancel requests finish */
};

/*
 * Steps of cleaning a server after its client (SV_RESET). RESET_DEALLOCATE
 * runs DEALLOCATE ALL when the server's prepared statements are no longer
 * known for sure (a client left in the middle of a pipeline). RESET_ROLE
 * reads a MySQL server's role again after a write failed as on a read-only
 * server (server_role_suspect).
 */
enum reset_stage { RESET_DRAIN = 0, RESET_ROLLBACK, RESET_DEALLOCATE, RESET_QUERY, RESET_ROLE };

/* MySQL: where the server's responses stand (commands may be queued). */
struct my_track_state {
    struct my_resp resp;     /* the response being read, when busy */
    uint8_t queue[16];       /* commands sent whose responses have not started */
    uint32_t queue_stmt[16]; /* their statement ids (COM_STMT_EXECUTE), as the client knows them */
    uint8_t queue_own[16];   /* nonzero: weir's own command (session/stmt_my.h), not forwarded */
    uint32_t stmt;           /* statement id of the command being answered (COM_STMT_EXECUTE) */
    uint8_t own;             /* queue_own of the command being answered: its answer is weir's */
    uint8_t seq_shift;   /* packets weir inserted into this response: later sequence ids move up */
    bool insert_pending; /* stopped after a column count: statement `stmt`'s definitions go next */
    uint8_t insert_seq;  /* that column count's sequence id */
    uint8_t qhead;
    uint8_t qlen;
    bool busy;
    bool c2s_cont;    /* the client's last packet was 0xFFFFFF long */
    bool s2c_started; /* the current server packet's first byte was fed */
    uint16_t status;  /* server status flags of the last complete response */
    const char *fail; /* why the relay gave up on the server's stream (static text), or NULL */
};

struct server {
    struct list wnode;     /* on worker->servers (owner only) */
    struct list idle_node; /* on pool->idle[owner] [pool lock] */
    struct worker *w;      /* owner */
    struct pool *pool;
    struct client *client;
    enum server_state state;
    const struct backend_ops *ops;
    enum backend_kind kind;
    uint64_t my_caps; /* MySQL: capabilities in force on the connection */
    bool my_dirty;    /* MySQL: session differs from a fresh one: reset before the next client */
    bool served;      /* has had a client (its session values may predate a SET GLOBAL) */
    struct stmt_my_servers *my_stmts; /* MySQL: statements weir prepared here (session/), or NULL */
    struct my_track_state my;
    struct backend_conn *bc;
    struct host_walk *walk; /* while connecting: the walk over the entry's hosts */
    struct host *host;      /* the host it is (or is being) logged in to, or NULL */
    bool dns_wait;          /* connecting, waiting for the host's name to be resolved */
    bool login_standby;     /* in_hot_standby was on at login (MySQL: read_only) */
    bool login_read_only;   /* default_transaction_read_only was on at login (MySQL: read_only) */
    bool role_recheck;      /* MySQL: a write failed as on a read-only server: read the role */
    bool my_role_query;     /* MySQL: the answer being read is the role query's */
    uint8_t my_role;        /* MySQL: its answer, not yet looked at: 0 none, 1 writable, 2 not */
    int fd;
    SSL *ssl; /* the connector's TLS session after login (borrowed), or NULL: plain */
    ev_io rio;
    ev_io wio;
    int connect_want; /* while connecting: BACKEND_WANT_* */
    struct iobuf *in; /* server -> client bytes */
    uint32_t in_remaining;
    struct pg_out out; /* queries weir itself sends (setup, reset) */
    size_t out_sent;
    int outstanding; /* ReadyForQuery messages still expected */
    bool need_sync;  /* extended-protocol messages sent since the last Sync */
    bool copy_in;    /* server waits for COPY data from the client */
    bool failed;     /* an internal query failed: close after it completes */
    bool shrinking;  /* chosen for closing by server_idle_timeout [pool lock] */
    enum reset_stage reset_stage;
    int cancels_pending; /* cancel requests in flight: the server may not move or be freed */
    char txstatus;       /* status of the last ReadyForQuery: 'I', 'T' or 'E' */
    ev_tstamp deadline;
    ev_tstamp created;
    ev_tstamp last_used;   /* when it last went idle (or logged in) */
    ev_tstamp query_start; /* when `outstanding` last rose from 0, or the last answer came */
    ev_tstamp xact_start;  /* first query since the server was idle, 0 = none (stats) */
    unsigned gen;          /* the pool's generation at login (RECONNECT) */
    bool gen_taken;        /* counted by pool_server_born */
    uint64_t id;
    struct param_set params;           /* values the server reported */
    struct settings settings;          /* PostgreSQL: other settings its session holds (SETs) */
    bool discard;                      /* a client left state on it: DISCARD ALL before reuse */
    struct ps_cache *ps;               /* PostgreSQL: statements weir prepared here, or NULL */
    bool ps_unsure;                    /* ps may not match the server: DEALLOCATE ALL on reset */
    struct server *assign_next;        /* chain of servers assigned in one pool step */
    struct pool_waiter *assign_waiter; /* who that server goes to */
    char setup_error[256];             /* error text from a failed SETUP */
    char setup_sqlstate[6];
};

/*
 * How pool/ reaches the sessions above it without including them: filled
 * once at start (session_hooks_fill, session/handoff.c; gone by the
 * console) before any worker runs. Called at handoffs and errors; while a
 * server is linked (SV_ACTIVE) libev calls active_read/active_write directly,
 * so forwarding pays no extra indirection.
 */
struct server_hooks {
    void (*take)(struct pool_waiter *wt, struct server *s); /* a server for wt, on wt's worker */
    void (*wait_failed)(struct pool_waiter *wt, const char *sqlstate, const char *text);
    void (*lost)(struct client *c, const char *reason);  /* closed under c; NULL: c will requeue */
    void (*requeue)(struct client *c);                   /* c's server failed its health check */
    void (*checked)(struct server *s, struct client *c); /* health check passed: set s up for c */
    void (*setup_done)(struct server *s, struct client *c); /* set-up answered (setup_error) */
    uint64_t (*client_id)(const struct client *c);          /* for log lines */
    void (*gone)(void); /* a server was freed: consoles waiting in PAUSE / WAIT_CLOSE look */
    void (*forget_stmts)(struct server *s); /* s->my_stmts are gone (reset, freed): drop them */
    void (*active_read)(struct ev_loop *loop, ev_io *io, int revents);
    void (*active_write)(struct ev_loop *loop, ev_io *io, int revents);
};
extern struct server_hooks server_hooks;

/* Changes s's state (gauges; the linked state's direct relay callbacks). */
void server_set_state(struct server *s, enum server_state st);
/* Watches s for input (idempotent). */
void server_watch(struct server *s);
/*
 * MySQL: a write on s failed as on a read-only server (ERR 1290 or 1836):
 * its host may have been demoted. When its entry cares about roles, the
 * role is read again when s is released, and s closes if it no longer fits.
 */
void server_role_suspect(struct server *s);
/* True when s sat idle longer than server_check_delay: check it before use. */
bool server_check_due(const struct server *s);
/* Sends the health check (server_check_query or COM_PING); s may be closed on return. */
void server_check_start(struct server *s);
/* MySQL: queues command cmd with optional argument arg; its answer is tracked in order. */
void server_send_my_command(struct server *s, uint8_t cmd, const char *arg);
/*
 * Run on every MySQL server session, after login and after each
 * COM_RESET_CONNECTION: no unsolicited progress packets, and the server's own
 * session tracking tells weir what a client changed (see relay_my.c).
 */
extern const char server_my_session_sql[];
/* server_tls_* (the entry's sslmode over the global one) as the connector's TLS settings. */
void server_tls_params(const struct config *cfg, const struct db_entry *db,
                       struct backend_params *bp);
/* Starts a new login for pool r on worker w (counted by the pool already). */
void server_connect(struct worker *w, struct pool *r);
/* MSG_DNS: a host name was resolved; w's logins that waited for one go on. */
void server_dns_answered(struct worker *w);
/* Carries out a pool step on worker w: attach, move, connect, wake, fail. */
void server_apply_step(struct worker *w, struct pool *r, struct pool_step *st);
/* A server posted by another worker arrived on w: take ownership, hand it to waiter c. */
void server_adopt(struct worker *w, struct server *s, struct pool_waiter *c);
/*
 * The client let go of s. clean is false when the client vanished in the
 * middle of a message (the stream to the server is then unusable).
 */
void server_release(struct server *s, bool clean);
/* Closes s now (logs reason), telling its pool. */
void server_close(struct server *s, const char *reason);
/* Why weir cancels a server's query; names the request in the log. */
enum server_cancel_why {
    SERVER_CANCEL_REQUEST, /* a PostgreSQL client's CancelRequest */
    SERVER_CANCEL_KILL,    /* a MySQL client's KILL QUERY */
    SERVER_CANCEL_CLEANUP, /* weir's own: the client left while its query ran */
};
/*
 * Asks the server to cancel its running query. The request waits its turn in
 * the connectors' cancel queue; s stays put (not released, not freed) until
 * the answer arrives (server_cancel_done), which logs "forwarded" or why it
 * was not sent. Returns false, logged with the reason, when the request could
 * not even be queued.
 */
bool server_cancel(struct server *s, enum server_cancel_why why);
/* The answer to one of s's cancel requests arrived (MSG_CANCEL_DONE, m->server is s). */
void server_cancel_done(const struct msg *m);
/* Sends pending s->out bytes; WR_OK, WR_AGAIN (write watcher armed), WR_ERROR. */
int server_flush_out(struct server *s) WR_MUST_CHECK;
/* Timeouts: called by the worker's sweep. */
void server_sweep(struct worker *w, ev_tstamp now);
/* Frees a server at shutdown (no pool bookkeeping). */
void server_free_at_exit(struct server *s);
/* Logging prefix "S-n db/user". */
/*
 * A line about server s (its id, database, login user, the server's address
 * and the client it serves), read on its owner's thread.
 */
void log_server(const struct server *s, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define SERVER_FMT     "S-%llu %s/%s"
#define SERVER_ARGS(s) (unsigned long long)(s)->id, (s)->pool->db->name, (s)->pool->user

#endif
