/*
 * client.h -- client sessions of both protocols (struct client and what
 * session/'s files share): startup and authentication (client_pg.c,
 * client_my.c), waiting for a server, its set-up (handoff.c), then the
 * ACTIVE state where relay.c streams bytes.
 */
#ifndef WEIR_CLIENT_H
#define WEIR_CLIENT_H

#include <netinet/in.h>

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pooler/conf/config.h"
#include "pooler/conf/params.h"
#include "pooler/core/buf.h"
#include "pooler/core/list.h"
#include "pooler/core/log.h"
#include "pooler/core/tls.h"
#include "pooler/core/worker.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/session/stmt_my.h"
#include "protocol/mysql/my_pin.h"
#include "protocol/mysql/my_resp.h"
#include "protocol/mysql/my_stmt.h"
#include "protocol/pg/pg_msg.h"

struct msg;
struct pg_sess;
struct client_ps;

/* MySQL session variables a client may carry from server to server before it is pinned. */
#define MY_MAX_VARS 64

/*
 * MySQL: column definitions being collected from a response, for a client
 * without MariaDB's metadata cache (relay_my.c).
 */
struct my_defs_cap {
    uint16_t ncols; /* definitions in defs */
    uint32_t len;   /* bytes in defs (UINT32_MAX: gave up on this response) */
    uint8_t *defs;  /* whole packets */
};

/*
 * What a MySQL client needs beyond the common part, allocated with it (kept
 * out of struct client so idle PostgreSQL clients stay small).
 */
struct client_my {
    uint64_t caps;                     /* capabilities agreed with the client */
    uint8_t seq;                       /* sequence id of weir's next packet during login */
    uint16_t charset;                  /* the client's collation id */
    uint8_t scramble[MY_SCRAMBLE_LEN]; /* the greeting's scramble (COM_CHANGE_USER) */
    char **vars;                       /* session variables the client set: name, value, ... */
    int nvars;                         /* pairs in vars */
    char *schema;                      /* the client's current schema when it changed it */
    struct my_defs_cap cap;            /* definitions being collected from a response */
    struct stmt_my_clients stmts;      /* its prepared statements (stmt_my.h) */
    struct stmt_my_work *work;         /* a statement command in progress (stmt_my.c), or NULL */
    uint32_t last_prepared;            /* its last statement (MariaDB's "last prepared" id) */
    uint16_t ncursors;                 /* statements with a cursor open on its server */
    uint8_t stmt;                      /* STMT_HOLD, STMT_TAKE, STMT_READY (stmt_my.h) */
    uint8_t ps_mode;                   /* STMT_MY_MAPPED or STMT_MY_PASSED once decided */
    bool lock_scan;                    /* the COM_QUERY passing is being scanned (stmt_my.c) */
    struct my_lock_scan lock;          /* its scan state: GET_LOCK */
    struct my_pin_scan pin;            /* and: user variables, LOCK TABLES, ... (my_pin.h) */
    bool keep_for_diagnostics;         /* its last answer had warnings: keep the server */
    uint8_t *stage1; /* logged in without a database: SHA1(password) for its pool, or NULL */
};

/* A peer's address, binary; formatted ("ip:port") only when shown, by client_addr_text. */
struct peer_addr {
    uint8_t ip[16]; /* IPv4: the first 4 bytes; network order. AF_UNIX: the peer's pid */
    uint16_t port;  /* host order */
    uint8_t family; /* AF_INET, AF_INET6, AF_UNIX, or 0 when none (shown as "?:0") */
};

/* Bytes weir itself says to a client, allocated only while there are some (client_out). */
struct client_out {
    struct pg_out msg;
    size_t sent; /* bytes of msg already written */
};

enum client_state {
    CL_PROXY,   /* from proxy_protocol_networks: reading the PROXY header (client_proxy_input) */
    CL_STARTUP, /* reading the startup packet (again after an SSLRequest answered 'N' or TLS) */
    CL_TLS,     /* TLS handshake after SSLRequest / CLIENT_SSL / direct TLS (client_tls_step) */
    CL_AUTH,    /* challenge sent, waiting for PasswordMessage / SASL response */
    CL_IDLE,    /* logged in, holds no server (transaction and statement pooling) */
    CL_WAITING, /* authenticated, waiting for a server; on pool->waiters or assigned */
    CL_SETUP,   /* has a server that is being prepared for it (parameters) */
    CL_ACTIVE,  /* linked to a server, bytes flow both ways */
    CL_ADMIN,   /* logged in to the admin console (admin.c): commands, no server */
};

/*
 * One client connection. Ordered by size so it packs without holes: an idle
 * PostgreSQL client that chose no parameters holds this struct and nothing
 * else of weir's own (libev keeps a small record per fd).
 */
struct client {
    struct list wnode; /* on worker->clients */
    struct worker *w;
    const struct client_proto *proto;
    struct pool *pool;
    struct server *server;
    const struct db_entry *db;
    ev_io io; /* EV_READ unless paused, plus EV_WRITE while its socket is full (client_watch) */
    struct iobuf *in;            /* client -> server bytes */
    SSL *ssl;                    /* its TLS session (weir's own, core/tls.h), or NULL: plain */
    struct client_out *out;      /* weir's own bytes to the client, NULL when none are pending */
    struct param_set *want;      /* settable parameters the client chose (NULL: none yet) */
    struct param_snap *told;     /* what it was told at login, for those it did not choose */
    struct client *cancel_next;  /* hash chain in worker->cancel_tab */
    struct client_my *my;        /* MySQL clients only (NULL for PostgreSQL) */
    struct pg_sess *sess;        /* PostgreSQL: settings, pins, login values (sess_pg.c), or NULL */
    struct client_ps *ps;        /* its prepared statements (ps.c), NULL while it has none */
    void *auth;                  /* auth exchange state while in CL_AUTH */
    struct admin_job *admin_job; /* console command running on the workers, or NULL */
    /*
     * The names the client logged in with. Until login they are its own
     * copies (user_owned, dbname_owned); after it they point at storage that
     * outlives every client (its pool's key, its database entry, the auth
     * file's entry: see client_share_names), so an idle client owns no string.
     */
    const char *user;
    const char *dbname;
    uint64_t id;
    ev_tstamp deadline;    /* login or wait deadline, 0 = none */
    ev_tstamp last_active; /* last bytes from the client, or last ReadyForQuery to it */
    ev_tstamp connect_time;
    int fd;
    uint32_t in_remaining; /* body bytes of the current message still to pass */
    uint32_t cancel_pid;   /* the BackendKeyData weir gave this client */
    uint32_t cancel_key;
    uint32_t lookup_id; /* the user lookup this client waits for (auth_lookup.c), 0 = none */
    enum client_state state;
    struct pool_waiter wait; /* its place in its pool's wait queue [pool lock] */
    struct peer_addr addr;
    uint8_t admin;      /* console client: ADMIN_* permission (admin.h), 0 = not one */
    bool welcomed : 1;  /* login completed (ReadyForQuery sent) */
    bool zombie : 1;    /* closed while a server was on its way to it */
    bool kill_wait : 1; /* its KILL (or a peer's) went to another worker or peer; input waits */
    bool counted : 1;   /* counted in the global client total */
    bool pinned : 1;    /* holds session state that cannot move: keeps its server (the
                           reasons: c->my's tracking for MySQL, sess_pg_pins for PostgreSQL) */
    bool long_text : 1; /* PostgreSQL: a Query/Parse too long for the buffer is being scanned */
    bool text_seen : 1; /* PostgreSQL: the Query/Parse at c->in->parsed was read (sess_pg.c) */
    uint8_t replication : 2; /* PostgreSQL startup `replication`: 0 no, 1 physical, 2 logical */
    bool out_lost : 1;       /* client_out could not allocate: output was dropped */
    bool user_owned : 1;     /* user is a copy of its own, freed with it */
    bool dbname_owned : 1;   /* dbname is a copy of its own, freed with it */
    bool over_limit : 1;     /* beyond max_client_conn: only the console may log in */
    bool pending : 1;        /* counted in weir.npending: connected, not yet authenticated */
    bool ip_counted : 1;     /* counted against its address in iplimit: released at close */
    bool ps_on : 1;          /* PostgreSQL statements kept by weir (transaction/statement mode) */
    bool tls_direct : 1;     /* PostgreSQL 17 direct TLS: ALPN "postgresql" required */
};

/* What differs between the PostgreSQL and the MySQL client session. */
struct client_proto {
    const char *name;
    /* Appends a fatal error for (PostgreSQL-style) sqlstate and msg to client_out(c). */
    void (*error)(struct client *c, const char *sqlstate, const char *msg);
    /* The server is attached and prepared: finish login if needed, start relaying. */
    void (*server_ready)(struct client *c);
    /* The client's socket is readable (its watcher saw EV_READ). */
    void (*readable)(struct client *c);
    /* Frees protocol-private state (authentication). */
    void (*free_state)(struct client *c);
    /*
     * MySQL (NULL for PostgreSQL): the command packet at c->in->parsed is one
     * weir answers itself (relay_my_scan_client said SCAN_OWN, everything
     * before it was sent): answer it and take it out of c->in. Returns false
     * when c was closed, or must not be touched further by the caller (after
     * COM_CHANGE_USER it is in a new login).
     */
    bool (*own_command)(struct client *c);
    /*
     * Another worker (or a peer) answered c's KILL of client target with a
     * kill_result. MySQL: c's own KILL; PostgreSQL: a peer's KILL c carries.
     */
    void (*kill_done)(struct client *c, uint32_t target, int result);
};

/* Outcomes of a MySQL KILL; the numbers are MySQL's error codes where there is one. */
enum kill_result {
    KILL_OK = 0,
    KILL_UNKNOWN = 1094, /* ER_NO_SUCH_THREAD: no such client */
    KILL_DENIED = 1095,  /* ER_KILL_DENIED_ERROR: a client of another user */
    KILL_SELF = 1,       /* KILL CONNECTION of the asking client itself: it closes */
};

/* The value of settable parameter id the client stands for: its own choice, else what it was told.
 */
static inline const char *client_param(const struct client *c, int id)
{
    const char *v = c->want ? c->want->v[id] : NULL;
    return v || !c->told ? v : c->told->ps.v[id];
}
/*
 * TLS (client_tls.c). client_tls_start switches c to TLS (pre: handshake
 * bytes already read, direct: PostgreSQL's direct TLS); c may be closed
 * (freed) when it returns. client_tls_step advances the handshake (CL_TLS). client_tls_rearm
 * feeds c's read watcher when OpenSSL holds input epoll cannot see.
 */
void client_tls_start(struct client *c, const uint8_t *pre, size_t npre, bool direct);
void client_tls_step(struct client *c);
void client_tls_rearm(struct client *c);
/* client_tls_sslmode is on and a context is loaded. */
bool client_tls_on(void);
/* client_tls_sslmode asks every client for TLS (require, verify-ca, verify-full). */
bool client_tls_required(void);

/* Records the client's own choice for parameter id; false when out of memory. */
bool client_want_set(struct client *c, int id, const char *value);

struct my_out;
/* MySQL: appends o's packets to c's output and frees o (out of memory: client_out_failed). */
void client_my_queue(struct client *c, struct my_out *o);
/* MySQL: the same, then sends; false when c was closed because that failed. */
bool client_my_reply(struct client *c, struct my_out *o);
/*
 * Answers the client's command with ERR (sequence id 1), logs it, and keeps
 * the connection. False when c was closed.
 */
bool client_my_reply_err(struct client *c, uint16_t code, const char *sqlstate, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

extern const struct client_proto client_pg_proto;
extern const struct client_proto client_my_proto;

/* Takes a freshly accepted socket on worker w (PostgreSQL port / MySQL port). */
void client_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen);
void client_my_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen);
/*
 * The common part of accepting: a client in CL_STARTUP with its watcher set
 * up (not started), counted and registered. NULL when it was refused (the
 * error is sent and the socket closed) or out of memory.
 */
struct client *client_new(struct worker *w, int fd, const struct sockaddr *sa,
                          const struct client_proto *proto);
/*
 * Starts (on) or stops waiting for event (EV_READ or EV_WRITE) on c's
 * socket. One watcher waits for both; libev is told only when the set of
 * events changes, as it was when each had a watcher of its own. Reading
 * stops for backpressure, a full buffer or a console job and starts again
 * from here; whether it is stopped is the watcher's own state.
 */
void client_watch(struct client *c, int event, bool on);
/* Server s is attached and prepared: finish login if needed and start relaying. */
static inline void client_server_ready(struct client *c)
{
    c->proto->server_ready(c);
}
/*
 * Reads what a client not yet relaying sent into c->in. Returns true when
 * new bytes are there; false when nothing came or the client was closed.
 */
bool client_read_input(struct client *c);
/* A client waiting for its server: keep its bytes, stop reading when the buffer is full. */
void client_hold_input(struct client *c);
/*
 * The client's server is ready and its login reply is queued: send it, relay
 * what the client already said, and give the server back at once if pooling
 * allows (a login that needed a server, a message that needed no answer).
 */
void client_start_relay(struct client *c);
/*
 * Sets the user and database names c gave (copies; either may be NULL to
 * keep the current one). False when out of memory (the names are unchanged).
 */
bool client_set_names(struct client *c, const char *user, const char *dbname);
/*
 * c is logged in (c->db, and c->pool unless it is a console client, are
 * set): points its names at shared storage that lives until exit where
 * there is some, and frees its copies.
 */
void client_share_names(struct client *c);
/*
 * Admission, as c is accepted (client_new; admit.c): max_pending_logins,
 * then either CL_PROXY (its address comes in a PROXY header) or the
 * per-address limits. False when c was refused and closed.
 */
bool client_admit(struct client *c);
/*
 * A client in CL_PROXY has bytes in c->in: parse the PROXY header there. WR_OK
 * when it was whole and the client goes on in CL_STARTUP with the header's
 * address (admitted under the per-address limits; bytes after the header
 * stay in c->in, which is NULL when there are none); WR_AGAIN while more must
 * come; WR_ERROR when c was closed (a bad header, a refusal, a LOCAL health
 * check).
 */
int client_proxy_input(struct client *c) WR_MUST_CHECK;
/*
 * True when c's first bytes look like a PROXY header although its address is
 * not in proxy_protocol_networks: c was refused and closed, saying so.
 */
bool client_unexpected_proxy(struct client *c, const uint8_t *data, size_t len);
/* c authenticated: it no longer counts against max_pending_logins. */
void client_login_done(struct client *c);
/*
 * How c proves who it is: auth_type's method, or with auth_type = hba the
 * method of the first auth_hba_file rule matching its address, TLS,
 * database and user. auth_type = cert and "cert" rules are settled here
 * (the verified client certificate's CN must be the user): HBA_TRUST when
 * it is. HBA_NONE when c was refused here (no rule matched, a "reject"
 * rule, no certificate or another name in it): c is failed and closed.
 */
enum hba_method client_auth_method(struct client *c);
/*
 * auth_type = hba, a MySQL client that picks its database after the login
 * (USE): do c's rules let it into database at all (a rule matches, and it is
 * not "reject")? True without hba.
 */
bool client_hba_allows(const struct client *c, const char *database);
/* A login of c failed (wrong password, unknown user): counts for auth_failure_limit. */
void client_auth_failed(struct client *c);
/* Frees a client that is off every list and watcher. */
void client_free(struct client *c);
/* A random 32-bit number for keys and salts. */
uint32_t client_random32(void);
/* Gives c its BackendKeyData and registers it for cancel requests. */
void client_cancel_register(struct worker *w, struct client *c);
/* Sends an ErrorResponse (FATAL) and closes the client. */
void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Closes the client, releasing its server or leaving the wait queue. */
void client_close(struct client *c, const char *reason);
/*
 * c needs a server (its first query in transaction pooling, a failed health
 * check): queue it, at the head of the queue when front.
 */
void client_request_server(struct client *c, bool front);
/* The wait for a server ended in an error (logins failing): tell the client, close. */
void client_wait_failed(struct client *c, const char *sqlstate, const char *text);
/* The server went back to the pool (transaction pooling): c holds none now. */
void client_server_released(struct client *c);
/* A server arrived (from any worker) for c, which may have gone meanwhile. */
void client_take_server(struct client *c, struct server *s);
/* A cancel request for pid/key arrived on the client's worker w. */
void client_cancel_request(struct worker *w, uint32_t pid, uint32_t key);
/* The low bits of a cancel key that count the forwards left between peers. */
#define CANCEL_TTL_MASK 3u
/* The worker of this process that owns the client with cancel pid `pid`, or NULL. */
struct worker *client_pid_worker(uint32_t pid);
/* The client registered under pid on w (its cancel pid, a MySQL thread id), or NULL. */
struct client *client_by_pid(struct worker *w, uint32_t pid);
/*
 * Users looked up on the server as auth_user (auth_lookup.c): the cache of
 * answers (auth_query_cache_seconds), keyed by auth_lookup_key; a lookup
 * started for c (registered under its pid) with the connector's lookup op.
 */
void auth_lookup_key(const struct db_entry *db, const char *auth_user, const char *user, char *key,
                     size_t cap);
bool auth_lookup_cached(const char *key, char *rows, size_t cap);
void auth_lookup_forget(const char *key);
bool auth_lookup_start(struct client *c, const struct backend_ops *ops,
                       const struct backend_params *bp, const char *query, const char *key);
/* MSG_AUTH_LOOKUP: a user looked up on the server; its client's login goes on. */
void client_lookup_reply(struct worker *w, const struct msg *m);
void client_my_lookup_reply(struct client *c, const struct msg *m);
void client_pg_lookup_reply(struct client *c, const struct msg *m);
/* The peer id a cancel pid names (0 when peer_id is not set). */
int client_pid_peer(uint32_t pid);
/*
 * MySQL KILL on the worker w that owns client pid: a client of `user` may
 * have its running query cancelled (connection false) or be closed
 * (connection true). requester is the asking client when it is on w, else
 * NULL. Returns a kill_result.
 */
int client_kill(struct worker *w, uint32_t pid, const char *user, bool connection,
                const struct client *requester);
/* MSG_KILL on the target's worker: carry out the KILL and post the answer back. */
void client_kill_request(struct worker *w, const struct msg *m);
/* MSG_KILL_DONE on the asking client's worker: hand the answer to it, if it is still there. */
void client_kill_reply(struct worker *w, const struct msg *m);
/* Timeouts: called by the worker's sweep. */
void client_sweep(struct worker *w, ev_tstamp now);
/* Frees a client at shutdown (no pool bookkeeping). */
void client_free_at_exit(struct client *c);
/*
 * weir's own output to c, to append messages to; allocated on first use and
 * freed once sent (client_flush_out), so an idle client holds none. When out
 * of memory, a sink that drops everything and says failed (client_out_failed).
 */
struct pg_out *client_out(struct client *c);
/* Was some of weir's output to c lost (out of memory, a message too big)? */
static inline bool client_out_failed(const struct client *c)
{
    return c->out_lost || (c->out && c->out->msg.failed);
}
/* Has weir bytes of its own waiting to go to c? */
static inline bool client_out_pending(const struct client *c)
{
    return c->out && c->out->msg.len;
}
/* Writes pending client_out bytes; WR_OK, WR_AGAIN (write watcher armed), WR_ERROR. */
int client_flush_out(struct client *c) WR_MUST_CHECK;

/* Room for client_addr_text: an IPv6 address, ':' and a port. */
#define CLIENT_ADDR_TEXT (INET6_ADDRSTRLEN + 7)
/* Writes "ip:port" of c's peer to out and returns out. */
const char *client_addr_text(const struct client *c, char out[CLIENT_ADDR_TEXT]);

/* Console permissions (client->admin). */
enum admin_perm { ADMIN_NONE = 0, ADMIN_STATS = 1, ADMIN_FULL = 2 };

/* Extra client slots beyond max_client_conn that only console logins may use. */
#define ADMIN_RESERVED_CONNS 5

/* True for the console's database names: "weir" and "pgbouncer". */
bool session_is_console_db(const char *dbname);
/* The db_entry console clients point at (no pool behind it). */
const struct db_entry *session_console_db(enum backend_kind kind);

/*
 * The admin console runs inside client sessions; session/ reaches it through
 * these (admin_hooks_fill, admin/), filled once at start, so it includes
 * nothing above it.
 */
struct console_hooks {
    void (*login)(struct client *c); /* authenticated: check permissions, welcome or refuse */
    void (*input)(struct client *c); /* input from a console client (c->in) */
    void (*gone)(struct client *c);  /* c is being freed: forget it in a running job */
};
extern struct console_hooks console_hooks;

/* Gives idle server s (owned by c's worker) to client c: check, set-up, then relaying. */
void server_attach(struct server *s, struct client *c);
/* Fills h with the session side of the handoff (handoff.c). */
void session_hooks_fill(struct server_hooks *h);

/*
 * A line about client c (its id, database, user, address, application_name
 * and the server it holds), read on its worker's thread.
 */
void log_client(const struct client *c, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
