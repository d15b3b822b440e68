/*
 * objects.h -- the daemon's objects and the lists they are herded between.
 *
 * Ownership: every client and every server connection belongs to exactly one
 * worker (its loop, its buffers; a client's struct comes from that worker's
 * slab, slab.h, and goes back to it). A server moves to another worker only
 * through that worker's inbox (see worker.h). Fields marked [route lock] are
 * read and written only under the owning route's mutex, by any worker; all
 * other fields belong to the owning worker's thread.
 */
#ifndef WEIR_OBJECTS_H
#define WEIR_OBJECTS_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "backends/backend.h"
#include "pooler/core/buf.h"
#include "pooler/conf/config.h"
#include "pooler/core/list.h"
#include "pooler/conf/params.h"
#include "protocol/mysql/my_resp.h"
#include "protocol/pg/pg_msg.h"

/* MySQL session variables a client may carry from server to server before it is pinned. */
#define MY_MAX_VARS 64

/*
 * MySQL: the column definitions of a prepared statement, kept for a client
 * without MariaDB's metadata cache (the server leaves them out of results).
 */
struct my_stmt_meta {
    uint32_t id;    /* statement id on the client's (pinned) server */
    uint16_t ncols; /* definitions in defs */
    uint32_t len;   /* bytes in defs: whole packets, sequence ids set when sent */
    uint8_t *defs;
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
    bool kill_wait;                    /* its KILL went to another worker; input waits */
    char **vars;                       /* session variables the client set: name, value, ... */
    int nvars;                         /* pairs in vars */
    char *schema;                      /* the client's current schema when it changed it */
    struct my_stmt_meta *stmts;        /* column definitions of its prepared statements */
    int nstmts;
    struct my_stmt_meta cap; /* definitions being collected from a response */
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

struct worker;
struct route;
struct client;
struct server;
struct admin_job;

/* A client's place in its route's wait queue. [route lock] */
enum wait_state {
    WAIT_NONE = 0, /* not waiting */
    WAIT_QUEUED,   /* on route->waiters */
    WAIT_ASSIGNED, /* popped by some worker: a server (or an error) is on its way */
};

enum client_state {
    CL_STARTUP, /* reading the startup packet (again after an SSLRequest answered 'N') */
    CL_AUTH,    /* challenge sent, waiting for PasswordMessage / SASL response */
    CL_IDLE,    /* logged in, holds no server (transaction and statement pooling) */
    CL_WAITING, /* authenticated, waiting for a server; on route->waiters or assigned */
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
    struct list wnode;     /* on worker->clients */
    struct list wait_node; /* on route->waiters [route lock] */
    struct worker *w;
    const struct client_proto *proto;
    struct route *route;
    struct server *server;
    const struct db_entry *db;
    ev_io io; /* EV_READ unless paused, plus EV_WRITE while its socket is full (client_watch) */
    struct iobuf *in;            /* client -> server bytes */
    struct client_out *out;      /* weir's own bytes to the client, NULL when none are pending */
    struct param_set *want;      /* settable parameters the client chose (NULL: none yet) */
    struct param_snap *told;     /* what it was told at login, for those it did not choose */
    struct client *cancel_next;  /* hash chain in worker->cancel_tab */
    struct client_my *my;        /* MySQL clients only (NULL for PostgreSQL) */
    void *auth;                  /* auth exchange state while in CL_AUTH */
    struct admin_job *admin_job; /* console command running on the workers, or NULL */
    /*
     * The names the client logged in with. Until login they are its own
     * copies (user_owned, dbname_owned); after it they point at storage that
     * outlives every client (its route's key, its database entry, the auth
     * file's entry: see client_share_names), so an idle client owns no string.
     */
    const char *user;
    const char *dbname;
    uint64_t id;
    ev_tstamp deadline;    /* login or wait deadline, 0 = none */
    ev_tstamp last_active; /* last bytes from the client, or last ReadyForQuery to it */
    ev_tstamp wait_start;  /* when it joined the wait queue [route lock] */
    ev_tstamp connect_time;
    int fd;
    uint32_t in_remaining; /* body bytes of the current message still to pass */
    uint32_t cancel_pid;   /* the BackendKeyData weir gave this client */
    uint32_t cancel_key;
    enum client_state state;
    enum wait_state wait; /* [route lock]; kept apart from the bit-fields below, which are not */
    struct peer_addr addr;
    uint8_t admin;         /* console client: ADMIN_* permission (admin.h), 0 = not one */
    bool welcomed : 1;     /* login completed (ReadyForQuery sent) */
    bool zombie : 1;       /* closed while a server was on its way to it */
    bool counted : 1;      /* counted in the global client total */
    bool pinned : 1;       /* MySQL: holds session state that cannot move: keeps its server */
    bool out_lost : 1;     /* client_out could not allocate: output was dropped */
    bool user_owned : 1;   /* user is a copy of its own, freed with it */
    bool dbname_owned : 1; /* dbname is a copy of its own, freed with it */
    bool over_limit : 1;   /* beyond max_client_conn: only the console may log in */
};

enum server_state {
    SV_CONNECTING, /* login in progress (libpq) */
    SV_IDLE,       /* on route->idle[owner], watching for the server closing */
    SV_CHECK,      /* running server_check_query before it is given to its client */
    SV_SETUP,      /* running SETs for the client it was given */
    SV_ACTIVE,     /* linked to a client */
    SV_RESET,      /* cleaning up after a client: drain, rollback, reset query */
    SV_MOVING,     /* in a worker's inbox, no watchers */
    SV_CLOSED,     /* closed, kept only until its cancel requests finish */
};

/* Steps of cleaning a server after its client (SV_RESET). */
enum reset_stage { RESET_DRAIN = 0, RESET_ROLLBACK, RESET_QUERY };

/* MySQL: where the server's responses stand (commands may be queued). */
struct my_track_state {
    struct my_resp resp;     /* the response being read, when busy */
    uint8_t queue[16];       /* commands sent whose responses have not started */
    uint32_t queue_stmt[16]; /* their statement ids (COM_STMT_EXECUTE) */
    uint32_t stmt;           /* statement id of the command being answered (COM_STMT_EXECUTE) */
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
    struct list idle_node; /* on route->idle[owner] [route lock] */
    struct worker *w;      /* owner */
    struct route *route;
    struct client *client;
    enum server_state state;
    const struct backend_ops *ops;
    enum backend_kind kind;
    uint64_t my_caps; /* MySQL: capabilities in force on the connection */
    bool my_dirty;    /* MySQL: session differs from a fresh one: reset before the next client */
    struct my_track_state my;
    struct backend_conn *bc;
    int fd;
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
    bool shrinking;  /* chosen for closing by server_idle_timeout [route lock] */
    enum reset_stage reset_stage;
    int cancels_pending; /* cancel requests in flight: the server may not move or be freed */
    char txstatus;       /* status of the last ReadyForQuery: 'I', 'T' or 'E' */
    ev_tstamp deadline;
    ev_tstamp created;
    ev_tstamp last_used;   /* when it last went idle (or logged in) */
    ev_tstamp query_start; /* when `outstanding` last rose from 0, or the last answer came */
    ev_tstamp xact_start;  /* first query since the server was idle, 0 = none (stats) */
    unsigned gen;          /* the route's generation at login (RECONNECT) */
    bool gen_taken;        /* counted by route_server_born */
    uint64_t id;
    struct param_set params;      /* values the server reported */
    struct server *assign_next;   /* chain of servers assigned in one route step */
    struct client *assign_client; /* who that server goes to */
    char setup_error[256];        /* error text from a failed SETUP */
    char setup_sqlstate[6];
};

#endif
