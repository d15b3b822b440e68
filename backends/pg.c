/*
 * pg.c -- PostgreSQL connector: libpq's non-blocking login
 * (PQconnectStartParams + PQconnectPoll), then the raw socket is the
 * pooler's. libpq gives every auth method and TLS of the real client.
 *
 * Cancel: libpq 15 has only the blocking PQcancel, so a cancel runs on a
 * detached thread with its own PGcancel copy; the owner thread never waits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "backends/backend.h"

struct backend_conn {
    PGconn *conn;
    PostgresPollingStatusType last;
};

/* Cancels in flight; bounded so a flood of cancel requests cannot spawn threads forever. */
static atomic_int cancels_running;
#define MAX_CANCEL_THREADS 64

static struct backend_conn *pgb_connect_start(const struct backend_params *p, char *err,
                                              size_t errlen)
{
    char port[16], timeout[16];
    snprintf(port, sizeof(port), "%d", p->port);
    snprintf(timeout, sizeof(timeout), "%d", p->connect_timeout);
    const char *keys[12], *vals[12];
    int n = 0;
    /* A host that starts with '/' is a socket directory, anything else must be numeric. */
    keys[n] = p->host[0] == '/' ? "host" : "hostaddr";
    vals[n++] = p->host;
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
    /* TLS arrives in a later issue; until then never negotiate it. */
    keys[n] = "sslmode";
    vals[n++] = "disable";
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

static int pgb_connect_poll(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                            char *sqlstate)
{
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
    return PQparameterStatus(c->conn, name);
}

struct cancel_job {
    PGcancel *cn;
    void (*done)(void *arg);
    void *arg;
};

static uint64_t pgb_caps(const struct backend_conn *c)
{
    return 0;
}

static void *cancel_thread(void *p)
{
    struct cancel_job *job = p;
    char errbuf[256];
    PQcancel(job->cn, errbuf, sizeof(errbuf));
    PQfreeCancel(job->cn);
    job->done(job->arg);
    free(job);
    atomic_fetch_sub(&cancels_running, 1);
    return NULL;
}

static bool pgb_cancel(struct backend_conn *c, void (*done)(void *arg), void *arg)
{
    struct cancel_job *job = malloc(sizeof(*job));
    if (!job)
        return false;
    job->cn = PQgetCancel(c->conn);
    job->done = done;
    job->arg = arg;
    if (!job->cn)
        goto failed;
    if (atomic_fetch_add(&cancels_running, 1) >= MAX_CANCEL_THREADS) {
        atomic_fetch_sub(&cancels_running, 1);
        goto failed;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&t, &attr, cancel_thread, job);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        return true;
    atomic_fetch_sub(&cancels_running, 1);
failed:
    if (job->cn)
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

int backend_pg_cancels_running(void)
{
    return atomic_load(&cancels_running);
}

const struct backend_ops backend_pg_ops = {
    .name = "postgres",
    .connect_start = pgb_connect_start,
    .connect_poll = pgb_connect_poll,
    .socket = pgb_socket,
    .param = pgb_param,
    .caps = pgb_caps,
    .cancel = pgb_cancel,
    .close = pgb_close,
};
