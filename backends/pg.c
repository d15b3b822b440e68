/*
 * pg.c -- PostgreSQL connector: libpq's non-blocking login
 * (PQconnectStartParams + PQconnectPoll), then the raw socket is the
 * pooler's. libpq gives every auth method and TLS of the real client; on a
 * TLS connection the pooler goes on through libpq's SSL* (PQsslStruct).
 *
 * A server before PostgreSQL 14 reports no in_hot_standby. When the pooler
 * cares about the role (want_role), such a login goes on with one more round
 * trip, SELECT pg_is_in_recovery(), through libpq's non-blocking calls, and
 * param("in_hot_standby") answers from it. libpq has read everything up to
 * the ReadyForQuery once PQgetResult returns NULL, so the socket is clean.
 *
 * Cancel: libpq 15 has only the blocking PQcancel, so a cancel is a job on
 * the cancel queue (cancel.c) with its own PGcancel copy; the owner thread
 * never waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "backends/backend.h"
#include "backends/cancel.h"

struct backend_conn {
    PGconn *conn;
    PostgresPollingStatusType last;
    bool want_role;
    bool role_query;     /* logged in; the role query is out */
    char in_recovery[4]; /* "on" or "off" once it answered; "" otherwise */
};

static const char role_sql[] = "SELECT pg_catalog.pg_is_in_recovery()";

static struct backend_conn *pgb_connect_start(const struct backend_params *p, char *err,
                                              size_t errlen)
{
    char port[16], timeout[16];
    snprintf(port, sizeof(port), "%d", p->port);
    snprintf(timeout, sizeof(timeout), "%d", p->connect_timeout);
    const char *keys[24], *vals[24];
    int n = 0;
    /*
     * A host that starts with '/' is a socket directory. Otherwise libpq gets
     * the address the pooler resolved in hostaddr (so it never resolves a name
     * itself, which would block) and the name in host, which TLS checks the
     * server's certificate against.
     */
    if (p->host[0] == '/') {
        keys[n] = "host";
        vals[n++] = p->host;
    } else {
        keys[n] = "hostaddr";
        vals[n++] = p->addr ? p->addr : p->host;
        /* Always, even a numeric one: sslmode=verify-full refuses a login without host. */
        keys[n] = "host";
        vals[n++] = p->host;
    }
    keys[n] = "port";
    vals[n++] = port;
    keys[n] = "dbname";
    vals[n++] = p->dbname;
    keys[n] = "user";
    vals[n++] = p->user;
    if (p->password) {
        keys[n] = "password";
        vals[n++] = p->password;
    }
    if (p->application_name) {
        keys[n] = "application_name";
        vals[n++] = p->application_name;
    }
    if (p->connect_timeout > 0) {
        keys[n] = "connect_timeout";
        vals[n++] = timeout;
    }
    if (p->replication) {
        keys[n] = "replication";
        vals[n++] = p->replication;
    }
    /* TLS: libpq's own, with server_tls_*; after login the pooler forwards through its SSL*. */
    keys[n] = "sslmode";
    vals[n++] = p->sslmode ? p->sslmode : "disable";
    const char *tls_keys[] = {"sslrootcert", "sslcert", "sslkey", "ssl_min_protocol_version",
                              "ssl_max_protocol_version"};
    const char *tls_vals[] = {p->sslrootcert, p->sslcert, p->sslkey, p->ssl_min_version,
                              p->ssl_max_version};
    for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++) {
        if (tls_vals[i] && *tls_vals[i]) {
            keys[n] = tls_keys[i];
            vals[n++] = tls_vals[i];
        }
    }
    keys[n] = "gssencmode";
    vals[n++] = "disable";
    keys[n] = NULL;
    vals[n] = NULL;

    struct backend_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->conn = PQconnectStartParams(keys, vals, 0);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        snprintf(err, errlen, "%s", c->conn ? PQerrorMessage(c->conn) : "out of memory");
        if (c->conn)
            PQfinish(c->conn);
        free(c);
        return NULL;
    }
    /* Verbose errors carry the SQLSTATE ("FATAL:  28P01: ..."), which the client needs. */
    PQsetErrorVerbosity(c->conn, PQERRORS_VERBOSE);
    c->last = PGRES_POLLING_WRITING;
    c->want_role = p->want_role && !p->replication;
    return c;
}

/*
 * Turns libpq's login error text into a message and a SQLSTATE. With verbose
 * errors it reads "connection to server at ... failed: FATAL:  28P01:
 * password authentication failed ...\nLOCATION: ...".
 */
static void split_error(const char *text, char *err, size_t errlen, char *sqlstate)
{
    strcpy(sqlstate, "08006");
    const char *p = strstr(text, "FATAL:  ");
    if (!p)
        p = strstr(text, "ERROR:  ");
    if (p) {
        p += 8;
        if (strlen(p) > 7 && p[5] == ':' && p[6] == ' ') {
            memcpy(sqlstate, p, 5);
            sqlstate[5] = 0;
            p += 7;
        }
    } else {
        p = text;
    }
    size_t n = strcspn(p, "\n");
    if (n >= errlen)
        n = errlen - 1;
    memcpy(err, p, n);
    err[n] = 0;
}

/* The role query's step: WR_AGAIN (*want set), WR_OK once answered, WR_ERROR. */
static int role_step(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                     char *sqlstate)
{
    *fd = PQsocket(c->conn);
    if (!c->role_query) {
        if (PQsetnonblocking(c->conn, 1) || !PQsendQuery(c->conn, role_sql))
            goto failed;
        c->role_query = true;
    }
    int f = PQflush(c->conn);
    if (f < 0)
        goto failed;
    if (f > 0) {
        *want = BACKEND_WANT_WRITE;
        return WR_AGAIN;
    }
    if (!PQconsumeInput(c->conn))
        goto failed;
    while (!PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!r)
            return c->in_recovery[0] ? WR_OK : WR_ERROR;
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        if (ok)
            snprintf(c->in_recovery, sizeof(c->in_recovery), "%s",
                     !strcmp(PQgetvalue(r, 0, 0), "t") ? "on" : "off");
        else
            split_error(PQresultErrorMessage(r), err, errlen, sqlstate);
        PQclear(r);
        if (!ok) {
            /* Read to the end: the error is the answer. */
            while ((r = PQgetResult(c->conn)))
                PQclear(r);
            return WR_ERROR;
        }
    }
    *want = BACKEND_WANT_READ;
    return WR_AGAIN;
failed:
    split_error(PQerrorMessage(c->conn), err, errlen, sqlstate);
    return WR_ERROR;
}

static int pgb_connect_poll(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                            char *sqlstate)
{
    if (c->role_query)
        return role_step(c, fd, want, err, errlen, sqlstate);
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    c->last = st;
    switch (st) {
    case PGRES_POLLING_READING:
        *fd = PQsocket(c->conn);
        *want = BACKEND_WANT_READ;
        return WR_AGAIN;
    case PGRES_POLLING_WRITING:
        *fd = PQsocket(c->conn);
        *want = BACKEND_WANT_WRITE;
        return WR_AGAIN;
    case PGRES_POLLING_OK:
        *fd = PQsocket(c->conn);
        if (c->want_role && !PQparameterStatus(c->conn, "in_hot_standby"))
            return role_step(c, fd, want, err, errlen, sqlstate); /* before PostgreSQL 14 */
        return WR_OK;
    default:
        split_error(PQerrorMessage(c->conn), err, errlen, sqlstate);
        return WR_ERROR;
    }
}

static int pgb_socket(const struct backend_conn *c)
{
    return PQsocket(c->conn);
}

static const char *pgb_param(const struct backend_conn *c, const char *name)
{
    if (c->in_recovery[0] && !strcmp(name, "in_hot_standby"))
        return c->in_recovery;
    return PQparameterStatus(c->conn, name);
}

static void *pgb_tls(const struct backend_conn *c)
{
    return PQsslInUse(c->conn) ? PQsslStruct(c->conn, "OpenSSL") : NULL;
}

static uint64_t pgb_caps(const struct backend_conn *c)
{
    return 0;
}

struct pg_cancel_job {
    struct cancel_job base;
    PGcancel *cn; /* a copy: valid after the connection is closed */
};

static bool pg_cancel_run(struct cancel_job *base, char *err, size_t errlen)
{
    struct pg_cancel_job *job = (struct pg_cancel_job *)base;
    /* PQcancel returns once the server has closed the cancel connection: it has the request. */
    if (PQcancel(job->cn, err, (int)errlen))
        return true;
    err[strcspn(err, "\n")] = 0;
    return false;
}

static void pg_cancel_release(struct cancel_job *base)
{
    struct pg_cancel_job *job = (struct pg_cancel_job *)base;
    PQfreeCancel(job->cn);
    free(job);
}

static bool pgb_cancel(struct backend_conn *c, void (*done)(void *arg, const char *err, int ms),
                       void *arg, char *err, size_t errlen)
{
    struct pg_cancel_job *job = calloc(1, sizeof(*job));
    if (!job) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    job->cn = PQgetCancel(c->conn);
    if (!job->cn) {
        snprintf(err, errlen, "libpq gave no cancel handle (connection not open)");
        free(job);
        return false;
    }
    job->base.run = pg_cancel_run;
    job->base.release = pg_cancel_release;
    job->base.done = done;
    job->base.arg = arg;
    if (cancel_submit(&job->base, err, errlen))
        return true;
    PQfreeCancel(job->cn);
    free(job);
    return false;
}

static void pgb_close(struct backend_conn *c)
{
    if (!c)
        return;
    PQfinish(c->conn);
    free(c);
}

const struct backend_ops backend_pg_ops = {
    .name = "postgres",
    .connect_start = pgb_connect_start,
    .connect_poll = pgb_connect_poll,
    .socket = pgb_socket,
    .param = pgb_param,
    .tls = pgb_tls,
    .caps = pgb_caps,
    .cancel = pgb_cancel,
    .close = pgb_close,
};
