/*
 * pg.c -- PostgreSQL connector: weir's own non-blocking login. A socket
 * (TCP to the address the pooler resolved, or the unix socket in a
 * directory), the SSLRequest and an OpenSSL handshake when server_tls_sslmode
 * asks for one, then protocol/pg/pg_login: trust, cleartext, md5 and
 * SCRAM-SHA-256 with a password, or for a pass-through login with what weir
 * holds instead: the user's md5 secret, or the ClientKey a client's SCRAM
 * proof gave (recovered against a verifier from the auth file or from
 * auth_query) with the verifier's ServerKey. After ReadyForQuery the socket,
 * and the SSL* on a TLS connection, are the pooler's.
 *
 * Why not libpq: libpq 15 can log in neither with a ClientKey nor with an
 * md5 hash, and two login paths per server kind would drift apart, so every
 * PostgreSQL login (the pool's, the auth_query lookup's) goes through this
 * one. TLS follows PgBouncer's server_tls_sslmode: allow tries plain first
 * and TLS when the server refuses; prefer the other way round; require does
 * not check the certificate; verify-ca checks it against server_tls_ca_file;
 * verify-full checks the host name (or address) too. A host name goes out as
 * SNI. A server's answer to the SSLRequest is read one byte alone, so nothing
 * sent in the clear behind it is ever taken as part of the TLS session.
 *
 * A server before PostgreSQL 14 reports no in_hot_standby. When the pooler
 * cares about the role (want_role), the login goes on with one more round
 * trip, SELECT pg_is_in_recovery(), and param("in_hot_standby") answers from
 * it. Everything up to the last ReadyForQuery has been read, so the socket is
 * clean when it is handed over.
 *
 * Cancel: a CancelRequest with the BackendKeyData the login kept, sent by a
 * job of the cancel queue (cancel.c) over a socket of its own, as PostgreSQL
 * expects it; the owner thread never waits. The lookup (auth_query) is a job
 * there too: this same login run to its end with poll(), then the query with
 * the user as its parameter $1 (extended protocol: no quoting to get wrong).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "backends/backend.h"
#include "backends/cancel.h"
#include "protocol/pg/pg_login.h"

enum level { L_DISABLE, L_ALLOW, L_PREFER, L_REQUIRE, L_VERIFY_CA, L_VERIFY_FULL };
static const char *const level_names[] = {"disable", "allow",     "prefer",
                                          "require", "verify-ca", "verify-full"};

enum state { ST_CONNECT, ST_SSLREQ, ST_SSLANS, ST_HANDSHAKE, ST_LOGIN, ST_QUERY, ST_DONE };

#define NPARAMS_MAX 64
#define SSLREQUEST  80877103

struct backend_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    enum state state;
    enum level level;
    bool tls_now; /* this attempt asked for TLS */
    bool retried; /* allow, prefer: the attempt the other way is running */
    bool want_role;
    bool logged_in;
    bool role_query; /* the query out is the role's (else a lookup's) */
    struct sockaddr_storage sa;
    socklen_t salen;
    char where[320]; /* "server at "host" (addr), port N" or "server on socket "path"" */
    char host[256];  /* as configured: SNI and verify-full */
    /* copies of the parameters */
    char *user, *dbname, *appname, *replication, *password, *md5_secret;
    char *ca, *cert, *key, *ciphers, *minv, *maxv;
    bool have_keys;
    uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
    struct pg_login login;
    struct pg_out out;
    size_t out_off;
    uint8_t *in;
    size_t in_len, in_cap;
    int nparams;
    char *names[NPARAMS_MAX], *values[NPARAMS_MAX];
    uint32_t pid, key_secret; /* BackendKeyData */
    char in_recovery[4];      /* "on"/"off" from the role query; "" otherwise */
    struct pg_answer answer;  /* of a query after the login (protocol/pg) */
};

/* snprintf into an error buffer; a cut message is fine. */
static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static int fail(char *err, size_t errlen, char *sqlstate, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, char *sqlstate, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    snprintf(sqlstate, 6, "%s", code && strlen(code) == 5 ? code : "08006");
    return WR_ERROR;
}

/* Why the last TLS call failed, in words. */
static void tls_reason(struct backend_conn *c, char *buf, size_t cap)
{
    /* A verify result counts only where it is enforced (below verify-ca it is recorded anyway). */
    long vr = c->ssl && c->level >= L_VERIFY_CA ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    if (vr != X509_V_OK)
        snprintf(buf, cap, "the server's certificate: %s", X509_verify_cert_error_string(vr));
    else if (e)
        snprintf(buf, cap, "%s",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error");
    else
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "the server closed the connection");
    ERR_clear_error();
}

static void param_keep(void *arg, const char *name, const char *value)
{
    struct backend_conn *c = arg;
    for (int i = 0; i < c->nparams; i++) {
        if (!strcmp(c->names[i], name)) {
            char *v = strdup(value);
            if (v) {
                free(c->values[i]);
                c->values[i] = v;
            }
            return;
        }
    }
    if (c->nparams == NPARAMS_MAX)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    c->names[c->nparams] = n;
    c->values[c->nparams++] = v;
}

/* ---- the socket ---- */

/* Fills c->sa for the attempt; resolve: a host name may be looked up (blocking: a job only). */
static bool address(struct backend_conn *c, const struct backend_params *p, bool resolve, char *err,
                    size_t errlen)
{
    memset(&c->sa, 0, sizeof(c->sa));
    if (p->host[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&c->sa;
        un->sun_family = AF_UNIX;
        int n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d", p->host, p->port);
        if (n < 0 || (size_t)n >= sizeof(un->sun_path)) {
            say(err, errlen, "unix socket path too long: %s", p->host);
            return false;
        }
        c->salen = sizeof(*un);
        snprintf(c->where, sizeof(c->where), "server on socket \"%s\"", un->sun_path);
        return true;
    }
    const char *a = p->addr ? p->addr : p->host;
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = resolve ? 0 : AI_NUMERICHOST},
                    *res = NULL;
    int rc = getaddrinfo(a, port, &hints, &res);
    if (rc != 0 || !res) {
        say(err, errlen, "could not translate host name \"%s\" to address: %s", a,
            gai_strerror(rc));
        return false;
    }
    memcpy(&c->sa, res->ai_addr, res->ai_addrlen);
    c->salen = res->ai_addrlen;
    freeaddrinfo(res);
    if (strcmp(a, p->host) != 0)
        snprintf(c->where, sizeof(c->where), "server at \"%s\" (%s), port %d", p->host, a, p->port);
    else
        snprintf(c->where, sizeof(c->where), "server at \"%s\", port %d", p->host, p->port);
    return true;
}

static void drop_socket(struct backend_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    c->ssl = NULL;
    c->ctx = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Opens the socket and starts connect(); the state machine waits for it. */
static bool open_socket(struct backend_conn *c, char *err, size_t errlen)
{
    c->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        say(err, errlen, "could not create a socket: %s", strerror(errno));
        return false;
    }
    if (c->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    if (connect(c->fd, (struct sockaddr *)&c->sa, c->salen) != 0 && errno != EINPROGRESS &&
        errno != EAGAIN) {
        say(err, errlen, "connection to %s failed: %s", c->where, strerror(errno));
        drop_socket(c);
        return false;
    }
    c->state = ST_CONNECT;
    c->in_len = 0;
    c->out_off = 0;
    pg_out_reset(&c->out);
    return true;
}

/* Appends the startup packet to out. */
static void queue_startup(struct backend_conn *c)
{
    const char *params[16];
    int n = 0;
    params[n++] = "user";
    params[n++] = c->user;
    params[n++] = "database";
    params[n++] = c->dbname ? c->dbname : c->user;
    if (c->appname) {
        params[n++] = "application_name";
        params[n++] = c->appname;
    }
    if (c->replication) {
        params[n++] = "replication";
        params[n++] = c->replication;
    }
    params[n] = params[n + 1] = NULL;
    pg_out_startup(&c->out, params);
    pg_login_clear(&c->login);
    pg_login_init(&c->login, c->user, c->password, c->md5_secret,
                  c->have_keys ? c->client_key : NULL, c->have_keys ? c->server_key : NULL);
    c->login.param = param_keep;
    c->login.arg = c;
}

static bool tls_version(const char *name, int *v)
{
    static const char *const names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(name, names[i])) {
            *v = versions[i];
            return true;
        }
    }
    return false;
}

/* The TLS context and session of this attempt; false with err set. */
static bool tls_setup(struct backend_conn *c, char *err, size_t errlen)
{
    int lo = TLS1_2_VERSION, hi = 0; /* libpq's default minimum */
    if ((c->minv && !tls_version(c->minv, &lo)) || (c->maxv && !tls_version(c->maxv, &hi))) {
        say(err, errlen, "unknown TLS protocol version");
        return false;
    }
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, lo) ||
        !SSL_CTX_set_max_proto_version(c->ctx, hi))
        goto tls_error;
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (c->ciphers && !SSL_CTX_set_cipher_list(c->ctx, c->ciphers))
        goto tls_error;
    if (c->level >= L_VERIFY_CA) {
        if (!c->ca) {
            say(err, errlen,
                "server_tls_sslmode=%s needs server_tls_ca_file to check the server's "
                "certificate",
                level_names[c->level]);
            return false;
        }
        if (!SSL_CTX_load_verify_locations(c->ctx, c->ca, NULL))
            goto tls_error;
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    if (c->cert &&
        (!SSL_CTX_use_certificate_chain_file(c->ctx, c->cert) ||
         !SSL_CTX_use_PrivateKey_file(c->ctx, c->key ? c->key : c->cert, SSL_FILETYPE_PEM) ||
         !SSL_CTX_check_private_key(c->ctx)))
        goto tls_error;
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
        goto tls_error;
    bool numeric = false;
    {
        struct in6_addr a6;
        numeric = inet_pton(AF_INET, c->host, &a6) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
    }
    if (c->host[0] != '/' && !numeric)
        SSL_set_tlsext_host_name(c->ssl, c->host);
    if (c->level == L_VERIFY_FULL && c->host[0] != '/') {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (!(numeric ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host)
                      : X509_VERIFY_PARAM_set1_host(vp, c->host, 0)))
            goto tls_error;
    }
    return true;
tls_error : {
    char why[200];
    tls_reason(c, why, sizeof(why));
    say(err, errlen, "TLS setup for %s failed: %s", c->where, why);
    return false;
}
}

/* ---- reading and writing, plain or TLS ---- */

/* Writes what is queued: WR_OK when all went, WR_AGAIN (*want set), WR_ERROR. */
static int flush_out(struct backend_conn *c, int *want)
{
    while (c->out_off < c->out.len) {
        size_t n = c->out.len - c->out_off;
        if (c->ssl && c->state != ST_SSLREQ) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, c->out.data + c->out_off, (int)n);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    *want = e == SSL_ERROR_WANT_READ ? BACKEND_WANT_READ : BACKEND_WANT_WRITE;
                    return WR_AGAIN;
                }
                return WR_ERROR;
            }
            c->out_off += (size_t)r;
        } else {
            ssize_t r = send(c->fd, c->out.data + c->out_off, n, MSG_NOSIGNAL);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    *want = BACKEND_WANT_WRITE;
                    return WR_AGAIN;
                }
                return WR_ERROR;
            }
            c->out_off += (size_t)r;
        }
    }
    pg_out_reset(&c->out);
    c->out_off = 0;
    return WR_OK;
}

/* Reads what there is (up to cap bytes in all): WR_OK (some came), WR_AGAIN, WR_ERROR (EOF too). */
static int fill_in(struct backend_conn *c, size_t cap, int *want)
{
    if (c->in_cap < cap) {
        uint8_t *b = realloc(c->in, cap);
        if (!b)
            return WR_ERROR;
        c->in = b;
        c->in_cap = cap;
    }
    if (c->in_len == c->in_cap)
        return WR_ERROR; /* a message longer than allowed: the parsers said so already */
    size_t room = c->in_cap - c->in_len;
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, c->in + c->in_len, (int)room);
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                *want = e == SSL_ERROR_WANT_READ ? BACKEND_WANT_READ : BACKEND_WANT_WRITE;
                return WR_AGAIN;
            }
            return WR_ERROR;
        }
        c->in_len += (size_t)r;
        return WR_OK;
    }
    ssize_t r = recv(c->fd, c->in + c->in_len, room, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        *want = BACKEND_WANT_READ;
        return WR_AGAIN;
    }
    if (r <= 0)
        return WR_ERROR;
    c->in_len += (size_t)r;
    return WR_OK;
}

static void consume_in(struct backend_conn *c, size_t n)
{
    if (n == 0)
        return;
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* ---- a query's answer (the role query, a lookup) ---- */

_Static_assert(PG_ANSWER_ROWS_MAX == BACKEND_LOOKUP_MAX, "one bound for a lookup's rows");

/* Reads the answer up to ReadyForQuery (protocol/pg). WR_OK, WR_AGAIN or WR_ERROR (err set). */
static int query_step(struct backend_conn *c, int *want, char *err, size_t errlen, char *sqlstate)
{
    for (;;) {
        size_t used = 0;
        int rc = c->in_len ? pg_answer_input(&c->answer, c->in, c->in_len, &used) : WR_AGAIN;
        consume_in(c, used);
        if (rc == WR_ERROR)
            return fail(err, errlen, sqlstate, "08P01", "%s: %s", c->where, c->answer.error);
        if (rc == WR_OK) {
            if (c->in_len)
                return fail(err, errlen, sqlstate, "08P01", "%s sent more than was asked for",
                            c->where);
            if (c->answer.failed)
                return fail(err, errlen, sqlstate, c->answer.sqlstate, "%s", c->answer.error);
            return WR_OK;
        }
        rc = fill_in(c, PG_ANSWER_MSG_MAX + PG_HDR_LEN, want);
        if (rc == WR_AGAIN)
            return WR_AGAIN;
        if (rc != WR_OK)
            return fail(err, errlen, sqlstate, "08006", "%s closed the connection during a query",
                        c->where);
    }
}

/* ---- the login ---- */

/* The login is over: the socket is the pooler's, the buffers are not needed until a query. */
static void logged_in(struct backend_conn *c)
{
    c->state = ST_DONE;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    pg_out_free(&c->out);
}

/* allow and prefer: after a failure, one attempt the other way round. */
static bool retry_other_way(struct backend_conn *c, char *err, size_t errlen)
{
    bool allowed = !c->retried &&
                   ((c->level == L_ALLOW && !c->tls_now) || (c->level == L_PREFER && c->tls_now));
    if (!allowed)
        return false;
    /*
     * The new socket is opened before the old one is closed, so its number
     * differs: the pooler's watcher (libev) sees a new fd, never a reused one.
     */
    int old_fd = c->fd;
    SSL *old_ssl = c->ssl;
    SSL_CTX *old_ctx = c->ctx;
    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;
    c->retried = true;
    c->tls_now = !c->tls_now;
    char e2[256];
    bool opened = open_socket(c, e2, sizeof(e2));
    if (old_ssl)
        SSL_free(old_ssl);
    if (old_ctx)
        SSL_CTX_free(old_ctx);
    close(old_fd);
    if (!opened) {
        say(err, errlen, "%s", e2);
        return false;
    }
    return true;
}

static int login_step(struct backend_conn *c, int *want, char *err, size_t errlen, char *sqlstate)
{
    for (;;) {
        int rc;
        switch (c->state) {
        case ST_CONNECT: {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            if (poll(&pfd, 1, 0) == 0) {
                *want = BACKEND_WANT_WRITE;
                return WR_AGAIN;
            }
            int e = 0;
            socklen_t el = sizeof(e);
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
                e = errno;
            if (e != 0)
                return fail(err, errlen, sqlstate, "08006", "connection to %s failed: %s", c->where,
                            strerror(e));
            if (c->tls_now) {
                pg_out_begin(&c->out, 0);
                pg_out_int32(&c->out, SSLREQUEST);
                pg_out_end(&c->out);
                c->state = ST_SSLREQ;
            } else {
                queue_startup(c);
                c->state = ST_LOGIN;
            }
            break;
        }
        case ST_SSLREQ:
            rc = flush_out(c, want);
            if (rc == WR_AGAIN)
                return WR_AGAIN;
            if (rc != WR_OK)
                return fail(err, errlen, sqlstate, "08006", "connection to %s failed: %s", c->where,
                            strerror(errno));
            c->state = ST_SSLANS;
            break;
        case ST_SSLANS: {
            uint8_t b;
            ssize_t r = recv(c->fd, &b, 1, 0); /* one byte alone (see the top) */
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                *want = BACKEND_WANT_READ;
                return WR_AGAIN;
            }
            if (r <= 0)
                return fail(err, errlen, sqlstate, "08006",
                            "%s closed the connection at the SSLRequest", c->where);
            if (b == 'S') {
                char why[256];
                if (!tls_setup(c, why, sizeof(why)))
                    return fail(err, errlen, sqlstate, "08006", "%s", why);
                c->state = ST_HANDSHAKE;
            } else if (b == 'N') {
                if (c->level >= L_REQUIRE)
                    return fail(err, errlen, sqlstate, "08006",
                                "%s does not support TLS, and server_tls_sslmode=%s requires it",
                                c->where, level_names[c->level]);
                c->tls_now = false;
                queue_startup(c);
                c->state = ST_LOGIN;
            } else {
                return fail(err, errlen, sqlstate, "08P01",
                            "%s answered the SSLRequest with neither S nor N", c->where);
            }
            break;
        }
        case ST_HANDSHAKE: {
            ERR_clear_error();
            errno = 0;
            int r = SSL_connect(c->ssl);
            if (r == 1) {
                queue_startup(c);
                c->state = ST_LOGIN;
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                *want = e == SSL_ERROR_WANT_READ ? BACKEND_WANT_READ : BACKEND_WANT_WRITE;
                return WR_AGAIN;
            }
            char why[200];
            tls_reason(c, why, sizeof(why));
            if (retry_other_way(c, err, errlen))
                break;
            return fail(err, errlen, sqlstate, "08006", "TLS handshake with %s failed: %s",
                        c->where, why);
        }
        case ST_LOGIN: {
            rc = flush_out(c, want);
            if (rc == WR_AGAIN)
                return WR_AGAIN;
            if (rc != WR_OK)
                return fail(err, errlen, sqlstate, "08006", "%s closed the connection: %s",
                            c->where, strerror(errno));
            size_t used = 0;
            rc = c->in_len ? pg_login_input(&c->login, c->in, c->in_len, &used, &c->out) : WR_AGAIN;
            consume_in(c, used);
            if (rc == WR_ERROR) {
                if (c->login.sqlstate[0] && retry_other_way(c, err, errlen))
                    break; /* allow/prefer: the server refused this way */
                return fail(err, errlen, sqlstate, c->login.sqlstate, "%s", c->login.error);
            }
            if (rc == WR_OK) {
                c->logged_in = true;
                c->pid = c->login.pid;
                c->key_secret = c->login.key;
                if (c->in_len)
                    return fail(err, errlen, sqlstate, "08P01", "%s sent more after ReadyForQuery",
                                c->where);
                const char *hs = NULL;
                for (int i = 0; i < c->nparams; i++)
                    if (!strcmp(c->names[i], "in_hot_standby"))
                        hs = c->values[i];
                if (c->want_role && !hs) {
                    /* before PostgreSQL 14 */
                    pg_out_query(&c->out, "SELECT pg_catalog.pg_is_in_recovery()");
                    c->role_query = true;
                    pg_answer_init(&c->answer);
                    c->state = ST_QUERY;
                    break;
                }
                logged_in(c);
                return WR_OK;
            }
            if (c->out.len)
                break; /* an answer to send first */
            rc = fill_in(c, PG_LOGIN_MSG_MAX + PG_HDR_LEN, want);
            if (rc == WR_AGAIN)
                return WR_AGAIN;
            if (rc != WR_OK) {
                if (retry_other_way(c, err, errlen))
                    break;
                return fail(err, errlen, sqlstate, "08006",
                            "%s closed the connection during the login", c->where);
            }
            break;
        }
        case ST_QUERY:
            rc = flush_out(c, want);
            if (rc == WR_AGAIN)
                return WR_AGAIN;
            if (rc != WR_OK)
                return fail(err, errlen, sqlstate, "08006", "%s closed the connection", c->where);
            rc = query_step(c, want, err, errlen, sqlstate);
            if (rc != WR_OK)
                return rc;
            if (c->role_query) {
                snprintf(c->in_recovery, sizeof(c->in_recovery), "%s",
                         !strcmp(c->answer.rows, "t\n") ? "on" : "off");
                c->role_query = false;
            }
            logged_in(c);
            return WR_OK;
        case ST_DONE:
            return WR_OK;
        }
    }
}

static struct backend_conn *conn_new(const struct backend_params *p, bool resolve, char *err,
                                     size_t errlen)
{
    struct backend_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    pg_out_init(&c->out);
    c->level = L_DISABLE;
    for (int i = 0; p->sslmode && i < 6; i++)
        if (!strcmp(p->sslmode, level_names[i]))
            c->level = (enum level)i;
    snprintf(c->host, sizeof(c->host), "%s", p->host);
    c->user = strdup(p->user ? p->user : "");
    c->dbname = dup_or_null(p->dbname);
    c->appname = dup_or_null(p->application_name);
    c->replication = dup_or_null(p->replication);
    c->password = p->password ? strdup(p->password) : NULL;
    c->md5_secret = dup_or_null(p->md5_secret);
    c->ca = dup_or_null(p->sslrootcert);
    c->cert = dup_or_null(p->sslcert);
    c->key = dup_or_null(p->sslkey);
    c->ciphers = dup_or_null(p->ssl_ciphers);
    c->minv = dup_or_null(p->ssl_min_version);
    c->maxv = dup_or_null(p->ssl_max_version);
    if (p->scram_client_key && p->scram_server_key) {
        c->have_keys = true;
        memcpy(c->client_key, p->scram_client_key, SCRAM_KEY_LEN);
        memcpy(c->server_key, p->scram_server_key, SCRAM_KEY_LEN);
    }
    c->want_role = p->want_role && !p->replication;
    c->tls_now = c->level >= L_PREFER;
    if (!c->user || !address(c, p, resolve, err, errlen) || !open_socket(c, err, errlen)) {
        if (!c->user)
            say(err, errlen, "out of memory");
        backend_pg_ops.close(c);
        return NULL;
    }
    return c;
}

static struct backend_conn *pgb_connect_start(const struct backend_params *p, char *err,
                                              size_t errlen)
{
    return conn_new(p, false, err, errlen);
}

static int pgb_connect_poll(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                            char *sqlstate)
{
    int rc = login_step(c, want, err, errlen, sqlstate);
    *fd = c->fd;
    return rc;
}

static int pgb_socket(const struct backend_conn *c)
{
    return c->fd;
}

static const char *pgb_param(const struct backend_conn *c, const char *name)
{
    if (c->in_recovery[0] && !strcmp(name, "in_hot_standby"))
        return c->in_recovery;
    for (int i = 0; i < c->nparams; i++)
        if (!strcmp(c->names[i], name))
            return c->values[i];
    return NULL;
}

static void *pgb_tls(const struct backend_conn *c)
{
    return c->ssl;
}

static uint64_t pgb_caps(const struct backend_conn *c)
{
    (void)c;
    return 0;
}

static void pgb_close(struct backend_conn *c)
{
    if (!c)
        return;
    if (c->logged_in && c->fd >= 0) {
        /* Terminate, best effort: the server then ends the session without a log line. */
        static const uint8_t bye[] = {'X', 0, 0, 0, 4};
        if (c->ssl) {
            ERR_clear_error();
            if (SSL_write(c->ssl, bye, sizeof(bye)) > 0)
                SSL_shutdown(c->ssl);
            ERR_clear_error();
        } else {
            ssize_t r = send(c->fd, bye, sizeof(bye), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
        }
    }
    drop_socket(c);
    pg_login_clear(&c->login);
    OPENSSL_cleanse(c->client_key, sizeof(c->client_key));
    OPENSSL_cleanse(c->server_key, sizeof(c->server_key));
    pg_out_free(&c->out);
    free(c->in);
    for (int i = 0; i < c->nparams; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
    free(c->user);
    free(c->dbname);
    free(c->appname);
    free(c->replication);
    wipe_free(c->password);
    wipe_free(c->md5_secret);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->ciphers);
    free(c->minv);
    free(c->maxv);
    free(c);
}

/* ---- blocking use, on a queue thread ---- */

#define JOB_TIMEOUT 10 /* seconds for a cancel's connection, a lookup's login and query */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for fd to be ready for want, until deadline. False (err set) on a timeout. */
static bool wait_ready(int fd, int want, double deadline, const char *what, char *err,
                       size_t errlen)
{
    for (;;) {
        double left = deadline - mono_now();
        if (left <= 0) {
            say(err, errlen, "%s: no answer in %d s", what, JOB_TIMEOUT);
            return false;
        }
        struct pollfd pfd = {.fd = fd,
                             .events = (want & BACKEND_WANT_READ ? POLLIN : 0) |
                                       (want & BACKEND_WANT_WRITE ? POLLOUT : 0)};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR) {
            say(err, errlen, "%s: poll: %s", what, strerror(errno));
            return false;
        }
    }
}

/* Runs the state machine to its end. WR_OK or WR_ERROR (err set). */
static int run_blocking(struct backend_conn *c, double deadline, const char *what, char *err,
                        size_t errlen)
{
    char sqlstate[6];
    for (;;) {
        int fd, want = 0;
        int rc = pgb_connect_poll(c, &fd, &want, err, errlen, sqlstate);
        if (rc != WR_AGAIN)
            return rc;
        if (!wait_ready(fd, want, deadline, what, err, errlen))
            return WR_ERROR;
    }
}

struct pg_cancel_job {
    struct cancel_job base;
    struct sockaddr_storage sa;
    socklen_t salen;
    char where[320];
    uint32_t pid, key;
};

static bool pg_cancel_run(struct cancel_job *base, char *err, size_t errlen)
{
    struct pg_cancel_job *job = (struct pg_cancel_job *)base;
    double deadline = mono_now() + JOB_TIMEOUT;
    int fd = socket(job->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say(err, errlen, "could not create a socket: %s", strerror(errno));
        return false;
    }
    bool sent = false;
    uint8_t pkt[16];
    pg_put32(pkt, 16);
    pg_put32(pkt + 4, 80877102); /* CancelRequest */
    pg_put32(pkt + 8, job->pid);
    pg_put32(pkt + 12, job->key);
    if (connect(fd, (struct sockaddr *)&job->sa, job->salen) != 0 && errno != EINPROGRESS) {
        say(err, errlen, "connection to %s failed: %s", job->where, strerror(errno));
        goto done;
    }
    if (!wait_ready(fd, BACKEND_WANT_WRITE, deadline, "cancel", err, errlen))
        goto done;
    int e = 0;
    socklen_t el = sizeof(e);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
    if (e || send(fd, pkt, sizeof(pkt), MSG_NOSIGNAL) != (ssize_t)sizeof(pkt)) {
        say(err, errlen, "connection to %s failed: %s", job->where, strerror(e ? e : errno));
        goto done;
    }
    /* The server closes the connection once it has the request (as PQcancel waits for). */
    for (;;) {
        if (!wait_ready(fd, BACKEND_WANT_READ, deadline, "cancel", err, errlen))
            goto done;
        uint8_t b[64];
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
            continue;
        sent = true; /* EOF, or a reset: the server has it */
        break;
    }
done:
    close(fd);
    return sent;
}

static void pg_cancel_release(struct cancel_job *base)
{
    free(base);
}

static bool pgb_cancel(struct backend_conn *c, void (*done)(void *arg, const char *err, int ms),
                       void *arg, char *err, size_t errlen)
{
    if (!c->logged_in || (!c->pid && !c->key_secret)) {
        say(err, errlen, "the server sent no cancel key");
        return false;
    }
    struct pg_cancel_job *job = calloc(1, sizeof(*job));
    if (!job) {
        say(err, errlen, "out of memory");
        return false;
    }
    job->sa = c->sa;
    job->salen = c->salen;
    memcpy(job->where, c->where, sizeof(job->where));
    job->pid = c->pid;
    job->key = c->key_secret;
    job->base.run = pg_cancel_run;
    job->base.release = pg_cancel_release;
    job->base.done = done;
    job->base.arg = arg;
    if (cancel_submit(&job->base, err, errlen))
        return true;
    free(job);
    return false;
}

/* ---- looking a user up (auth_query) ---- */

struct pg_lookup_job {
    struct cancel_job base;
    struct backend_conn *c; /* not started: the parameters' copies */
    struct backend_params p;
    char host[256], addr[64], dbname[128], user[128], password[256], sslmode[16];
    char ca[256], cert[256], key[256], ciphers[256], minv[16], maxv[16];
    char query[1024];
    char who[128]; /* the user looked up */
    char rows[BACKEND_LOOKUP_MAX + 1];
    void (*done)(void *arg, const char *err, const char *rows);
    void *arg;
};

/*
 * Logs in as auth_user for a lookup: to the address the pooler resolved, or
 * else to each address the host name has in turn (blocking is fine here).
 */
static struct backend_conn *lookup_login(struct pg_lookup_job *job, double deadline, char *err,
                                         size_t errlen)
{
    char why[256] = "no address";
    char addrs[8][64];
    int n = 0;
    if (job->p.addr || job->p.host[0] == '/') {
        n = 1;
        snprintf(addrs[0], sizeof(addrs[0]), "%s", job->p.addr ? job->p.addr : "");
    } else {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(job->p.host, NULL, &hints, &res);
        if (rc != 0) {
            say(err, errlen, "could not translate host name \"%s\" to address: %s", job->p.host,
                gai_strerror(rc));
            return NULL;
        }
        for (struct addrinfo *ai = res; ai && n < 8; ai = ai->ai_next)
            if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addrs[n], sizeof(addrs[n]), NULL, 0,
                            NI_NUMERICHOST) == 0)
                n++;
        freeaddrinfo(res);
    }
    for (int i = 0; i < n; i++) {
        struct backend_params p = job->p;
        if (addrs[i][0])
            p.addr = addrs[i];
        struct backend_conn *c = conn_new(&p, false, why, sizeof(why));
        if (!c)
            continue;
        if (run_blocking(c, deadline, "auth_user's login", why, sizeof(why)) == WR_OK)
            return c;
        pgb_close(c);
    }
    say(err, errlen, "auth_user's login failed: %s", why);
    return NULL;
}

static bool pg_lookup_run(struct cancel_job *base, char *err, size_t errlen)
{
    struct pg_lookup_job *job = (struct pg_lookup_job *)base;
    double deadline = mono_now() + JOB_TIMEOUT;
    struct backend_conn *c = lookup_login(job, deadline, err, errlen);
    if (!c)
        return false;
    bool ok = false;
    char why[256];
    /* Parse, Bind with the name as $1 (text), Execute, Sync: no quoting of the name. */
    struct pg_out *o = &c->out;
    pg_out_begin(o, 'P');
    pg_out_str(o, "");
    pg_out_str(o, job->query);
    pg_out_int16(o, 0);
    pg_out_end(o);
    pg_out_begin(o, 'B');
    pg_out_str(o, "");
    pg_out_str(o, "");
    pg_out_int16(o, 0);
    pg_out_int16(o, 1);
    pg_out_int32(o, (uint32_t)strlen(job->who));
    pg_out_bytes(o, job->who, strlen(job->who));
    pg_out_int16(o, 0);
    pg_out_end(o);
    pg_out_begin(o, 'E');
    pg_out_str(o, "");
    pg_out_int32(o, 0);
    pg_out_end(o);
    pg_out_sync(o);
    if (o->failed) {
        say(err, errlen, "out of memory");
        goto done;
    }
    pg_answer_init(&c->answer);
    c->state = ST_QUERY;
    if (run_blocking(c, deadline, "the lookup query", why, sizeof(why)) != WR_OK) {
        say(err, errlen, "the lookup query failed: %s", why);
        goto done;
    }
    memcpy(job->rows, c->answer.rows, sizeof(job->rows));
    ok = true;
done:
    pgb_close(c);
    return ok;
}

static void pg_lookup_done(void *arg, const char *err, int ms)
{
    struct pg_lookup_job *job = arg;
    (void)ms;
    job->done(job->arg, err, err ? NULL : job->rows);
}

static void pg_lookup_release(struct cancel_job *base)
{
    struct pg_lookup_job *job = (struct pg_lookup_job *)base;
    OPENSSL_cleanse(job->password, sizeof(job->password));
    free(job);
}

#define COPY(field, src)                                                                           \
    do {                                                                                           \
        if (src) {                                                                                 \
            snprintf(job->field, sizeof(job->field), "%s", src);                                   \
        }                                                                                          \
    } while (0)

static bool pgb_lookup(const struct backend_params *p, const char *query, const char *user,
                       void (*done)(void *arg, const char *err, const char *rows), void *arg,
                       char *err, size_t errlen)
{
    struct pg_lookup_job *job = calloc(1, sizeof(*job));
    if (!job) {
        say(err, errlen, "out of memory");
        return false;
    }
    /* Refused rather than cut: a shortened query, password or name would fail obscurely. */
    if (strlen(query) >= sizeof(job->query) || strlen(user) >= sizeof(job->who) ||
        (p->password && strlen(p->password) >= sizeof(job->password)) ||
        strlen(p->user) >= sizeof(job->user) || strlen(p->host) >= sizeof(job->host) ||
        (p->dbname && strlen(p->dbname) >= sizeof(job->dbname))) {
        say(err, errlen, "the query, a name or the password is too long for a lookup");
        free(job);
        return false;
    }
    COPY(host, p->host);
    COPY(addr, p->addr);
    COPY(dbname, p->dbname);
    COPY(user, p->user);
    COPY(password, p->password);
    COPY(sslmode, p->sslmode);
    COPY(ca, p->sslrootcert);
    COPY(cert, p->sslcert);
    COPY(key, p->sslkey);
    COPY(ciphers, p->ssl_ciphers);
    COPY(minv, p->ssl_min_version);
    COPY(maxv, p->ssl_max_version);
    COPY(query, query);
    COPY(who, user);
    job->p = (struct backend_params){
        .host = job->host,
        .addr = job->addr[0] ? job->addr : NULL,
        .port = p->port,
        .dbname = job->dbname,
        .user = job->user,
        .password = p->password ? job->password : NULL,
        .application_name = "weir auth_query",
        .sslmode = job->sslmode,
        .sslrootcert = job->ca,
        .sslcert = job->cert,
        .sslkey = job->key,
        .ssl_ciphers = job->ciphers,
        .ssl_min_version = job->minv,
        .ssl_max_version = job->maxv,
    };
    job->done = done;
    job->arg = arg;
    job->base.run = pg_lookup_run;
    job->base.release = pg_lookup_release;
    job->base.done = pg_lookup_done;
    job->base.arg = job;
    if (cancel_submit(&job->base, err, errlen))
        return true;
    pg_lookup_release(&job->base);
    return false;
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
    .lookup = pgb_lookup,
};
