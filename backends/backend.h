/*
 * backend.h -- the one small interface every database connector offers the
 * pooler: start a non-blocking login, advance it, hand over the socket,
 * cancel, close. Connectors know nothing of clients or of the event loop:
 * they say which fd and which readiness they wait for, the pooler waits.
 */
#ifndef WEIR_BACKEND_H
#define WEIR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

enum backend_want { BACKEND_WANT_READ = 1, BACKEND_WANT_WRITE = 2 };

/*
 * MySQL: the query that tells a server's role: read_only or innodb_read_only on
 * means it takes no writes (a replica, or a primary being demoted).
 */
#define BACKEND_MY_ROLE_SQL "SELECT @@global.read_only, @@innodb_read_only"

/* What a connector needs to log in. Strings are borrowed for the call only. */
struct backend_params {
    const char *host; /* as configured: numeric address, host name, or unix socket path */
    const char *addr; /* the numeric address to connect to (resolved by the pooler), or NULL */
    int port;
    const char *dbname;
    const char *user;
    const char *password; /* may be NULL */
    const char *application_name;
    int connect_timeout; /* seconds, 0 = none (the pooler enforces its own) */
    uint64_t
        client_flags;     /* MySQL: capability flags to ask for (FOUND_ROWS, MULTI_STATEMENTS...) */
    const char *charset;  /* MySQL: connection character set name, or NULL */
    const char *init_sql; /* MySQL: statement run right after login, or NULL */
    bool want_role; /* the role matters: MySQL reads @@read_only after login (param("read_only")),
                       PostgreSQL before 14 pg_is_in_recovery() (param("in_hot_standby")) */
    const char *replication; /* PostgreSQL: libpq's replication ("true", "database"), or NULL */
    /* TLS to the server (server_tls_*); every field may be NULL. */
    const char *sslmode;     /* libpq's names: "disable" ... "verify-full"; NULL: disable */
    const char *sslrootcert; /* CA bundle the server's certificate is checked against */
    const char *sslcert;     /* weir's client certificate, and its key */
    const char *sslkey;
    const char *ssl_min_version; /* "TLSv1.2" ... (libpq's names) */
    const char *ssl_max_version;
    const char *ssl_ciphers; /* OpenSSL cipher list (TLS 1.2 and below) */
    /*
     * MySQL pass-through: once logged in as user/password (weir's auth_user),
     * switch with COM_CHANGE_USER to switch_user, whose token weir computes
     * from switch_stage1 = SHA1(its password) (20 bytes) as a client would,
     * without ever knowing the password. init_sql runs again afterwards.
     */
    const char *switch_user;
    const uint8_t *switch_stage1;
    /*
     * PostgreSQL pass-through, where weir has no password for user: its md5
     * secret ("md5" + 32 hex), and/or the ClientKey a client's SCRAM proof
     * gave with the verifier's ServerKey (SCRAM_KEY_LEN bytes each). The
     * server must hold the same secret.
     */
    const char *md5_secret;
    const uint8_t *scram_client_key;
    const uint8_t *scram_server_key;
};

struct backend_conn; /* connector-private */

struct backend_ops {
    const char *name;

    /* Starts a login. Returns a handle (NULL with err set on immediate failure). */
    struct backend_conn *(*connect_start)(const struct backend_params *p, char *err, size_t errlen);

    /*
     * Advances the login. WR_AGAIN: wait until *fd is ready for *want (the fd
     * may change between calls). WR_OK: logged in; the socket is ours.
     * WR_ERROR: failed; err holds the server's message and *sqlstate (6
     * bytes) its code, or "08006" when the server gave none.
     */
    int (*connect_poll)(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                        char *sqlstate);

    /* The connected socket, for raw protocol after login. */
    int (*socket)(const struct backend_conn *c);

    /*
     * A parameter the server reported at login, or NULL. PostgreSQL: its
     * ParameterStatus values (in_hot_standby, default_transaction_read_only;
     * a server before 14 reports no in_hot_standby: with want_role it is
     * read from pg_is_in_recovery()).
     * MySQL: server_version, and read_only ("1" or "0") when want_role was set.
     */
    const char *(*param)(const struct backend_conn *c, const char *name);

    /*
     * The TLS session the login ran over (an OpenSSL SSL*), or NULL for a
     * plain connection. It stays the connector's: valid until close, which
     * frees it; after login the pooler reads and writes through it.
     */
    void *(*tls)(const struct backend_conn *c);

    /* Capability flags in force on the connection (MySQL; 0 for PostgreSQL). */
    uint64_t (*caps)(const struct backend_conn *c);

    /*
     * Asks the server to cancel what runs on this connection. Never blocks
     * the caller: the request joins the cancel queue (backends/cancel.c),
     * whose threads send it in turn and then call done(arg, err, ms) on a
     * queue thread: err NULL once the server has taken the request, else why
     * it could not be sent; ms from the call to that moment. The request
     * copies what it needs, so c may be closed meanwhile. Returns false, with
     * err set and done never called, only when the request cannot be queued.
     */
    bool (*cancel)(struct backend_conn *c, void (*done)(void *arg, const char *err, int ms),
                   void *arg, char *err, size_t errlen);

    /* Closes the connection and frees the handle. */
    void (*close)(struct backend_conn *c);

    /*
     * Looks a user up (auth_user's query): logs in with p (host, port,
     * dbname, user, password, TLS) and runs query with user as its
     * parameter: MySQL's first '?' becomes a quoted literal, PostgreSQL's $1
     * is bound (extended protocol). Calls done(arg, NULL, rows) with one line
     * per row (at most BACKEND_LOOKUP_MAX bytes): MySQL's first column,
     * PostgreSQL's second (PgBouncer's query returns the name, then the
     * secret; a NULL is an empty line), or done(arg, err, NULL). Blocking
     * work, on the cancel queue; done runs there, with its lock held. False
     * (err set, done never called) when it cannot be queued.
     */
    bool (*lookup)(const struct backend_params *p, const char *query, const char *user,
                   void (*done)(void *arg, const char *err, const char *rows), void *arg, char *err,
                   size_t errlen);
};

#define BACKEND_LOOKUP_MAX 380

extern const struct backend_ops backend_pg_ops;
extern const struct backend_ops backend_mysql_ops;

/* Cancel requests queued or being sent, of both connectors. */
int backend_cancels_pending(void);

/*
 * For shutdown: waits up to wait_seconds for the cancel queue to empty, then
 * closes it. Requests still queued get done(arg, "weir is shutting down", ms)
 * before this returns (*dropped says how many); requests still being sent
 * finish on their own but never call done after this returns. Later cancels
 * are refused. Returns the number still being sent.
 */
int backend_cancels_stop(double wait_seconds, int *dropped);

#endif
