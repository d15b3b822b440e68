/*
 * mysql.c -- MySQL/MariaDB connector: MariaDB Connector/C's non-blocking
 * login (MYSQL_OPT_NONBLOCK, mysql_real_connect_start/_cont), then the raw
 * socket is the pooler's (mysql_get_socket).
 *
 * Against a MariaDB server the connector always asks for MariaDB's extended
 * capabilities (progress reports, bulk operations, extended and cached
 * metadata) and never for CLIENT_DEPRECATE_EOF; caps() reports what is in
 * force so the pooler can match clients to connections that frame packets
 * the way they expect. Progress reports are switched off at login so that
 * no unsolicited packet ever reaches a client.
 *
 * Pass-through (switch_user): the connector logs in as weir's auth_user,
 * then this file sends COM_CHANGE_USER itself, through the connection's
 * socket or its TLS session, with the token computed from the user's
 * SHA1(password) and the scramble the server gave the connector (the
 * server checks a change of user against it), answers an AuthSwitchRequest
 * to mysql_native_password the same way, and runs init_sql again (the
 * change of user reset the session). Connector/C's own mysql_change_user
 * needs the password itself, which weir never has.
 *
 * When the pooler asks for the server's role (want_role), the login goes on
 * with one more round trip, `SELECT @@global.read_only, @@innodb_read_only`,
 * through the same non-blocking calls; param("read_only") then says "1" when
 * either is on.
 *
 * TLS (server_tls_*): the connector's own. Connector/C has no call that
 * hands out its OpenSSL session, so tls() reads it from the connection's
 * I/O layer as Connector/C's installed headers declare it (ma_pvio.h,
 * ma_tls.h: mysql->net.pvio->ctls->ssl), once it has checked that the
 * connector was built on OpenSSL (MARIADB_TLS_LIBRARY); with another TLS
 * library the login is refused rather than forwarded wrongly.
 *
 * Cancel: KILL QUERY <thread id> on a second, short-lived connection, sent
 * with the blocking API as a job on the cancel queue (cancel.c), which
 * PostgreSQL's cancels need anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <mysql.h>
/* After mysql.h, which they build on (see the top for why they are here); HAVE_TLS makes
 * ma_pvio.h declare the TLS layer (MARIADB_TLS) rather than leave it void. */
#define HAVE_TLS
#ifndef MY_GLOBAL_INCLUDED
#define MY_GLOBAL_INCLUDED
typedef unsigned char uchar;
#endif
#include <ma_pvio.h>
#undef HAVE_TLS

#include "backends/backend.h"
#include "backends/cancel.h"
#include "backends/my_switch.h"

/* Where a login stands. */
enum my_phase {
    PH_CONNECT, /* mysql_real_connect_start/_cont */
    PH_SWITCH,  /* COM_CHANGE_USER by hand (switch_io) */
    PH_INIT,    /* init_sql again after the switch: mysql_real_query_start/_cont */
    PH_QUERY,   /* the role query: mysql_real_query_start/_cont */
    PH_STORE,   /* its result: mysql_store_result_start/_cont */
    PH_DONE,
};

static const char role_sql[] = BACKEND_MY_ROLE_SQL;

/* The TLS settings of a login, copied (a KILL QUERY's own login uses them again). */
struct my_tls {
    int level; /* 0 off, 1 if the server offers it, 2 required, 3 + CA check, 4 + host name */
    char ca[256];
    char cert[256];
    char key[256];
    char ciphers[256];
    char versions[64]; /* "TLSv1.2,TLSv1.3" */
};

static const char *const tls_levels[] = {"disable", "allow",     "prefer",
                                         "require", "verify-ca", "verify-full"};

static void tls_copy(struct my_tls *t, const struct backend_params *p)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; p->sslmode && i < 6; i++)
        if (!strcmp(p->sslmode, tls_levels[i]))
            t->level = i <= 2 ? (i > 0) : i - 1;
    snprintf(t->ca, sizeof(t->ca), "%s", p->sslrootcert ? p->sslrootcert : "");
    snprintf(t->cert, sizeof(t->cert), "%s", p->sslcert ? p->sslcert : "");
    snprintf(t->key, sizeof(t->key), "%s", p->sslkey ? p->sslkey : "");
    snprintf(t->ciphers, sizeof(t->ciphers), "%s", p->ssl_ciphers ? p->ssl_ciphers : "");
    /* libpq's min and max as Connector/C's list of versions. */
    static const char *const v[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    int lo = 2, hi = 3;
    for (int i = 0; i < 4; i++) {
        if (p->ssl_min_version && !strcmp(p->ssl_min_version, v[i]))
            lo = i;
        if (p->ssl_max_version && !strcmp(p->ssl_max_version, v[i]))
            hi = i;
    }
    for (int i = lo; i <= hi; i++)
        snprintf(t->versions + strlen(t->versions), sizeof(t->versions) - strlen(t->versions),
                 "%s%s", i > lo ? "," : "", v[i]);
}

/* Puts t into the connector's options (before mysql_real_connect). */
static void tls_apply(MYSQL *my, const struct my_tls *t)
{
    if (t->level == 0)
        return;
    if (t->ca[0])
        mysql_options(my, MYSQL_OPT_SSL_CA, t->ca);
    if (t->cert[0])
        mysql_options(my, MYSQL_OPT_SSL_CERT, t->cert);
    if (t->key[0])
        mysql_options(my, MYSQL_OPT_SSL_KEY, t->key);
    if (t->ciphers[0])
        mysql_options(my, MYSQL_OPT_SSL_CIPHER, t->ciphers);
    if (t->versions[0])
        mysql_options(my, MARIADB_OPT_TLS_VERSION, t->versions);
    /*
     * use_ssl: TLS whenever the server offers it. Without verification
     * Connector/C falls back to plain when the server offers none, so
     * require is checked after the login (login_tls_check).
     */
    my_bool on = 1;
    mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
    /* Connector/C checks the chain and the host name together: verify-ca does both. */
    my_bool verify = t->level >= 3;
    mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
}

struct backend_conn {
    MYSQL *my;
    int status;   /* what the current phase's _start/_cont wait for (MYSQL_WAIT_*) */
    bool started; /* the first poll only reports what to wait for */
    enum my_phase phase;
    bool want_role;
    char read_only[2]; /* "1" or "0" once the role query answered */
    char host[256];
    int port;
    char user[128];
    char password[256];
    char dbname[128];
    char version[64];
    unsigned long thread_id;
    struct my_tls tls;
    char init_sql[512];
    /* Pass-through: the user to switch to, its SHA1(password), the packet in flight. */
    char switch_user[128];
    uint8_t stage1[20];
    bool do_switch;
    bool switch_reading;
    uint8_t io[512];
    size_t io_len, io_off;
};

static void set_want(struct backend_conn *c, int *fd, int *want)
{
    *fd = mysql_get_socket(c->my);
    *want = (c->status & MYSQL_WAIT_READ ? BACKEND_WANT_READ : 0) |
            (c->status & MYSQL_WAIT_WRITE ? BACKEND_WANT_WRITE : 0);
    if (*want == 0)
        *want = BACKEND_WANT_READ; /* a pure timeout wait: our own deadline covers it */
}

static struct backend_conn *myb_connect_start(const struct backend_params *p, char *err,
                                              size_t errlen)
{
    struct backend_conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->my = mysql_init(NULL))) {
        snprintf(err, errlen, "out of memory");
        free(c);
        return NULL;
    }
    mysql_options(c->my, MYSQL_OPT_NONBLOCK, 0);
    if (p->init_sql)
        mysql_options(c->my, MYSQL_INIT_COMMAND, p->init_sql);
    if (p->charset)
        mysql_options(c->my, MYSQL_SET_CHARSET_NAME, p->charset);
    /*
     * LOCAL INFILE only for the pools of clients that can send a file (the
     * pooler puts CLIENT_LOCAL_FILES in client_flags only when
     * allow_local_infile is set); the file then comes from the client, the
     * connector never reads one.
     */
    unsigned int local_infile = (p->client_flags & CLIENT_LOCAL_FILES) ? 1 : 0;
    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    tls_copy(&c->tls, p);
    tls_apply(c->my, &c->tls);
    /* The address the pooler resolved: the connector would resolve a name itself, blocking. */
    snprintf(c->host, sizeof(c->host), "%s", p->addr && p->host[0] != '/' ? p->addr : p->host);
    c->port = p->port;
    c->want_role = p->want_role;
    snprintf(c->user, sizeof(c->user), "%s", p->user);
    snprintf(c->password, sizeof(c->password), "%s", p->password ? p->password : "");
    snprintf(c->dbname, sizeof(c->dbname), "%s", p->dbname);
    if (p->switch_user && p->switch_stage1) {
        c->do_switch = true;
        snprintf(c->switch_user, sizeof(c->switch_user), "%s", p->switch_user);
        memcpy(c->stage1, p->switch_stage1, sizeof(c->stage1));
        snprintf(c->init_sql, sizeof(c->init_sql), "%s", p->init_sql ? p->init_sql : "");
    }
    /* The connector keeps these pointers until the login completes: pass our own copies. */
    bool unix_socket = c->host[0] == '/';
    MYSQL *ret = NULL;
    /* Switching: auth_user needs no rights on the database, the change of user names it. */
    c->status =
        mysql_real_connect_start(&ret, c->my, unix_socket ? NULL : c->host, c->user, c->password,
                                 c->do_switch ? NULL : c->dbname, unix_socket ? 0 : c->port,
                                 unix_socket ? c->host : NULL, p->client_flags);
    if (c->status == 0 && !ret) {
        snprintf(err, errlen, "%s", mysql_error(c->my));
        mysql_close(c->my);
        free(c);
        return NULL;
    }
    return c;
}

static void *myb_tls(const struct backend_conn *c);

/*
 * After the login: sslmode require (and stricter) met, and a TLS session the
 * pooler can forward through (OpenSSL's). Sets *fd. WR_OK or WR_ERROR.
 */
static int login_tls_check(struct backend_conn *c, int *fd, char *err, size_t errlen,
                           char *sqlstate)
{
    *fd = mysql_get_socket(c->my);
    bool on = myb_tls(c) != NULL;
    const char *lib = NULL;
    if (!on && c->tls.level >= 2) {
        snprintf(err, errlen, "the server offers no TLS (server_tls_sslmode=%s)",
                 tls_levels[c->tls.level + 1]);
        snprintf(sqlstate, 6, "08004");
        return WR_ERROR;
    }
    if (on && (mariadb_get_infov(c->my, MARIADB_TLS_LIBRARY, &lib) || !lib ||
               strncmp(lib, "OpenSSL", 7))) {
        snprintf(err, errlen, "Connector/C's TLS library is %s, not OpenSSL: cannot forward",
                 lib ? lib : "unknown");
        snprintf(sqlstate, 6, "08004");
        return WR_ERROR;
    }
    return WR_OK;
}

static void login_error(struct backend_conn *c, char *err, size_t errlen, char *sqlstate)
{
    snprintf(err, errlen, "%s (%u)", mysql_error(c->my), mysql_errno(c->my));
    snprintf(sqlstate, 6, "%s", mysql_sqlstate(c->my));
}

/* The role query's result arrived: read_only is "1" when either flag is on. */
static int take_role(struct backend_conn *c, MYSQL_RES *res, char *err, size_t errlen,
                     char *sqlstate)
{
    if (!res) {
        login_error(c, err, errlen, sqlstate);
        return WR_ERROR;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    bool ro = row && ((row[0] && strcmp(row[0], "0")) || (row[1] && strcmp(row[1], "0")));
    snprintf(c->read_only, sizeof(c->read_only), "%s", ro ? "1" : "0");
    mysql_free_result(res);
    c->phase = PH_DONE;
    return WR_OK;
}

static uint64_t myb_caps(const struct backend_conn *c);

/* COM_CHANGE_USER to c->switch_user, answering the scramble the server gave the connector. */
static bool switch_start(struct backend_conn *c)
{
    c->io_len =
        my_switch_change_user(c->io, sizeof(c->io), c->switch_user, c->dbname,
                              c->my->charset ? (uint16_t)c->my->charset->nr : 0, myb_caps(c),
                              c->stage1, (const uint8_t *)c->my->scramble_buff);
    c->io_off = 0;
    c->switch_reading = false;
    return c->io_len > 0;
}

/* Moves bytes of c->io: sends what is left, or reads into it. -1 error, 0 would block, 1 done. */
static int switch_move(struct backend_conn *c, bool reading, size_t want)
{
    SSL *ssl = myb_tls(c);
    int fd = mysql_get_socket(c->my);
    while (reading ? c->io_len < want : c->io_off < c->io_len) {
        ssize_t n;
        if (ssl) {
            ERR_clear_error();
            int r = reading ? SSL_read(ssl, c->io + c->io_len, (int)(want - c->io_len))
                            : SSL_write(ssl, c->io + c->io_off, (int)(c->io_len - c->io_off));
            if (r <= 0) {
                int e = SSL_get_error(ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    c->status = e == SSL_ERROR_WANT_READ ? MYSQL_WAIT_READ : MYSQL_WAIT_WRITE;
                    return 0;
                }
                return -1;
            }
            n = r;
        } else {
            n = reading ? recv(fd, c->io + c->io_len, want - c->io_len, 0)
                        : send(fd, c->io + c->io_off, c->io_len - c->io_off, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                c->status = reading ? MYSQL_WAIT_READ : MYSQL_WAIT_WRITE;
                return 0;
            }
            if (n <= 0)
                return -1;
        }
        if (reading)
            c->io_len += (size_t)n;
        else
            c->io_off += (size_t)n;
    }
    return 1;
}

/*
 * Advances the switch of user. WR_OK once the server said OK, WR_AGAIN
 * (c->status says what to wait for), WR_ERROR with the server's message.
 */
static int switch_io(struct backend_conn *c, char *err, size_t errlen, char *sqlstate)
{
    c->status = 0;
    for (;;) {
        int r;
        if (!c->switch_reading) {
            r = switch_move(c, false, 0);
            if (r <= 0)
                goto io;
            c->switch_reading = true;
            c->io_len = 0;
        }
        r = switch_move(c, true, 4);
        if (r <= 0)
            goto io;
        uint32_t len = (uint32_t)c->io[0] | (uint32_t)c->io[1] << 8 | (uint32_t)c->io[2] << 16;
        uint8_t seq = c->io[3];
        if (len == 0 || 4 + len > sizeof(c->io)) {
            snprintf(err, errlen, "COM_CHANGE_USER to %s: answer of %u bytes", c->switch_user, len);
            snprintf(sqlstate, 6, "08P01");
            return WR_ERROR;
        }
        if ((r = switch_move(c, true, 4 + len)) <= 0)
            goto io;
        const uint8_t *scramble = NULL;
        switch (my_switch_read(c->io + 4, len, err, errlen, sqlstate, &scramble)) {
        case MY_SWITCH_OK:
            return WR_OK;
        case MY_SWITCH_AGAIN:
            /* A new scramble: the same token computed again. */
            c->io_len =
                my_switch_token(c->io, sizeof(c->io), (uint8_t)(seq + 1), c->stage1, scramble);
            c->io_off = 0;
            c->switch_reading = false;
            if (c->io_len > 0)
                continue;
            snprintf(err, errlen, "COM_CHANGE_USER to %s: cannot answer", c->switch_user);
            snprintf(sqlstate, 6, "08P01");
            return WR_ERROR;
        default:
            return WR_ERROR;
        }
    io:
        if (r < 0) {
            snprintf(err, errlen, "COM_CHANGE_USER to %s: connection lost", c->switch_user);
            snprintf(sqlstate, 6, "08006");
            return WR_ERROR;
        }
        return WR_AGAIN;
    }
}

/* After the switch: init_sql again, or the role query, or done. */
static int after_switch(struct backend_conn *c, char *err, size_t errlen, char *sqlstate);

/* init_sql answered: the role query next, or done. */
static int init_done(struct backend_conn *c, char *err, size_t errlen, char *sqlstate)
{
    int qerr = 0;
    if (!c->want_role) {
        c->phase = PH_DONE;
        return WR_OK;
    }
    c->phase = PH_QUERY;
    c->status = mysql_real_query_start(&qerr, c->my, role_sql, sizeof(role_sql) - 1);
    if (c->status == 0 && qerr) {
        login_error(c, err, errlen, sqlstate);
        return WR_ERROR;
    }
    return WR_OK;
}

/*
 * Starts the login's next phases until one waits (c->status set) or all are
 * done. Returns WR_AGAIN, WR_OK or WR_ERROR (err, sqlstate set).
 */
static int advance(struct backend_conn *c, char *err, size_t errlen, char *sqlstate)
{
    while (c->status == 0 && c->phase != PH_DONE) {
        int qerr = 0;
        MYSQL_RES *res = NULL;
        if (c->phase == PH_CONNECT) {
            snprintf(c->version, sizeof(c->version), "%s", mysql_get_server_info(c->my));
            c->thread_id = mysql_thread_id(c->my);
            if (c->do_switch) {
                c->phase = PH_SWITCH;
                if (!switch_start(c)) {
                    snprintf(err, errlen, "COM_CHANGE_USER to %s: name too long", c->switch_user);
                    snprintf(sqlstate, 6, "08P01");
                    return WR_ERROR;
                }
                int rc = switch_io(c, err, errlen, sqlstate);
                if (rc != WR_OK)
                    return rc;
                if (after_switch(c, err, errlen, sqlstate) != WR_OK)
                    return WR_ERROR;
                continue;
            }
            if (!c->want_role) {
                c->phase = PH_DONE;
                break;
            }
            c->phase = PH_QUERY;
            c->status = mysql_real_query_start(&qerr, c->my, role_sql, sizeof(role_sql) - 1);
            if (c->status == 0 && qerr) {
                login_error(c, err, errlen, sqlstate);
                return WR_ERROR;
            }
        } else {
            c->phase = PH_STORE;
            c->status = mysql_store_result_start(&res, c->my);
            if (c->status == 0 && take_role(c, res, err, errlen, sqlstate) != WR_OK)
                return WR_ERROR;
        }
    }
    return c->phase == PH_DONE ? WR_OK : WR_AGAIN;
}

static int after_switch(struct backend_conn *c, char *err, size_t errlen, char *sqlstate)
{
    int qerr = 0;
    c->do_switch = false;
    explicit_bzero(c->stage1, sizeof(c->stage1));
    if (c->init_sql[0]) {
        c->phase = PH_INIT;
        c->status = mysql_real_query_start(&qerr, c->my, c->init_sql, strlen(c->init_sql));
    } else if (c->want_role) {
        c->phase = PH_QUERY;
        c->status = mysql_real_query_start(&qerr, c->my, role_sql, sizeof(role_sql) - 1);
    } else {
        c->phase = PH_DONE;
    }
    if (c->status == 0 && qerr) {
        login_error(c, err, errlen, sqlstate);
        return WR_ERROR;
    }
    if (c->status == 0 && c->phase == PH_INIT)
        return init_done(c, err, errlen, sqlstate);
    return WR_OK;
}

static int myb_connect_poll(struct backend_conn *c, int *fd, int *want, char *err, size_t errlen,
                            char *sqlstate)
{
    if (c->status != 0 && c->started) {
        /* Called when the socket is ready (or the wait timed out); say which. */
        MYSQL *ret = NULL;
        MYSQL_RES *res = NULL;
        int qerr = 0;
        switch (c->phase) {
        case PH_CONNECT:
            c->status = mysql_real_connect_cont(&ret, c->my, c->status);
            if (c->status == 0 && !ret) {
                login_error(c, err, errlen, sqlstate);
                return WR_ERROR;
            }
            break;
        case PH_SWITCH: {
            int rc = switch_io(c, err, errlen, sqlstate);
            if (rc == WR_ERROR)
                return WR_ERROR;
            if (rc == WR_OK && after_switch(c, err, errlen, sqlstate) != WR_OK)
                return WR_ERROR;
            break;
        }
        case PH_INIT:
            c->status = mysql_real_query_cont(&qerr, c->my, c->status);
            if (c->status == 0 && (qerr || init_done(c, err, errlen, sqlstate) != WR_OK)) {
                if (qerr)
                    login_error(c, err, errlen, sqlstate);
                return WR_ERROR;
            }
            break;
        case PH_QUERY:
            c->status = mysql_real_query_cont(&qerr, c->my, c->status);
            if (c->status == 0 && qerr) {
                login_error(c, err, errlen, sqlstate);
                return WR_ERROR;
            }
            break;
        case PH_STORE:
            c->status = mysql_store_result_cont(&res, c->my, c->status);
            if (c->status == 0 && take_role(c, res, err, errlen, sqlstate) != WR_OK)
                return WR_ERROR;
            break;
        case PH_DONE:
            break;
        }
    }
    c->started = true;
    int rc = advance(c, err, errlen, sqlstate);
    if (rc == WR_AGAIN)
        set_want(c, fd, want);
    else if (rc == WR_OK)
        rc = login_tls_check(c, fd, err, errlen, sqlstate);
    return rc;
}

static int myb_socket(const struct backend_conn *c)
{
    return mysql_get_socket(c->my);
}

static const char *myb_param(const struct backend_conn *c, const char *name)
{
    if (!strcmp(name, "server_version"))
        return c->version;
    if (!strcmp(name, "read_only") && c->read_only[0])
        return c->read_only;
    return NULL;
}

static uint64_t myb_caps(const struct backend_conn *c)
{
    unsigned long client = 0, server = 0, ext = 0;
    mariadb_get_infov(c->my, MARIADB_CONNECTION_CLIENT_CAPABILITIES, &client);
    mariadb_get_infov(c->my, MARIADB_CONNECTION_SERVER_CAPABILITIES, &server);
    mariadb_get_infov(c->my, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext);
    uint64_t caps = (uint64_t)(client & server);
    if (!(server & CLIENT_MYSQL))
        caps |= (uint64_t)(ext & (MARIADB_CLIENT_SUPPORTED_FLAGS >> 32)) << 32;
    return caps;
}

/*
 * A KILL QUERY's own login may not wait on a dead server longer than this
 * (seconds); once connected, a busy server gets longer to answer, since a
 * KILL that lands late still beats one given up (a storm of 100 on a loaded
 * 2-CPU machine took up to 9 s).
 */
#define KILL_CONNECT_TIMEOUT 10
#define KILL_IO_TIMEOUT      30

struct my_cancel_job {
    struct cancel_job base;
    /* Copies: the connection may be closed while the job waits in the queue. */
    char host[256];
    int port;
    char user[128];
    char password[256];
    unsigned long thread_id;
    struct my_tls tls;
};

/*
 * A short blocking login of the cancel queue's (a KILL QUERY's, a lookup's),
 * bounded by KILL_CONNECT_TIMEOUT and KILL_IO_TIMEOUT. Returns the handle,
 * or NULL with err set ("what failed: why"); a failed handle is closed.
 */
static MYSQL *short_login(const char *host, int port, const char *user, const char *password,
                          const struct my_tls *tls, const char *what, char *err, size_t errlen)
{
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    unsigned int connect_timeout = KILL_CONNECT_TIMEOUT, io_timeout = KILL_IO_TIMEOUT;
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    tls_apply(my, tls);
    bool unix_socket = host[0] == '/';
    if (!mysql_real_connect(my, unix_socket ? NULL : host, user, password, NULL,
                            unix_socket ? 0 : port, unix_socket ? host : NULL, 0)) {
        snprintf(err, errlen, "%s failed: %s (%u)", what, mysql_error(my), mysql_errno(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

static bool my_cancel_run(struct cancel_job *base, char *err, size_t errlen)
{
    struct my_cancel_job *job = (struct my_cancel_job *)base;
    MYSQL *my = short_login(job->host, job->port, job->user, job->password, &job->tls,
                            "login for KILL QUERY", err, errlen);
    if (!my)
        return false;
    bool sent = false;
    char q[64];
    snprintf(q, sizeof(q), "KILL QUERY %lu", job->thread_id);
    if (mysql_query(my, q) == 0) {
        sent = true;
    } else if (mysql_errno(my) == 1094) {
        /* ER_NO_SUCH_THREAD: the server took the request; the connection had already ended. */
        sent = true;
    } else {
        snprintf(err, errlen, "%s: %s (%u)", q, mysql_error(my), mysql_errno(my));
    }
    mysql_close(my);
    return sent;
}

static void my_cancel_release(struct cancel_job *base)
{
    struct my_cancel_job *job = (struct my_cancel_job *)base;
    explicit_bzero(job->password, sizeof(job->password));
    free(job);
}

static bool myb_cancel(struct backend_conn *c, void (*done)(void *arg, const char *err, int ms),
                       void *arg, char *err, size_t errlen)
{
    if (!c->thread_id) {
        snprintf(err, errlen, "the connection has no thread id yet (login not finished)");
        return false;
    }
    struct my_cancel_job *job = calloc(1, sizeof(*job));
    if (!job) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    memcpy(job->host, c->host, sizeof(job->host));
    job->port = c->port;
    memcpy(job->user, c->user, sizeof(job->user));
    memcpy(job->password, c->password, sizeof(job->password));
    job->thread_id = c->thread_id;
    job->tls = c->tls;
    job->base.run = my_cancel_run;
    job->base.release = my_cancel_release;
    job->base.done = done;
    job->base.arg = arg;
    if (cancel_submit(&job->base, err, errlen))
        return true;
    my_cancel_release(&job->base);
    return false;
}

/* ---- looking a user up (auth_user) ---- */

struct my_lookup_job {
    struct cancel_job base;
    char host[256];
    int port;
    char user[128]; /* auth_user */
    char password[256];
    struct my_tls tls;
    char query[1024];
    char who[128]; /* the user looked up */
    char rows[BACKEND_LOOKUP_MAX + 1];
    void (*done)(void *arg, const char *err, const char *rows);
    void *arg;
};

static bool my_lookup_run(struct cancel_job *base, char *err, size_t errlen)
{
    struct my_lookup_job *job = (struct my_lookup_job *)base;
    MYSQL *my = short_login(job->host, job->port, job->user, job->password, &job->tls,
                            "auth_user's login", err, errlen);
    if (!my)
        return false;
    bool ok = false;
    MYSQL_RES *res = NULL;
    /* The query with its first '?' as the name, quoted by the connector. */
    char esc[2 * sizeof(job->who) + 1], q[sizeof(job->query) + sizeof(esc) + 2];
    mysql_real_escape_string(my, esc, job->who, strlen(job->who));
    const char *mark = strchr(job->query, '?');
    if (!mark) {
        snprintf(q, sizeof(q), "%s", job->query);
    } else {
        snprintf(q, sizeof(q), "%.*s'%s'%s", (int)(mark - job->query), job->query, esc, mark + 1);
    }
    if (mysql_query(my, q) != 0 || !(res = mysql_store_result(my))) {
        snprintf(err, errlen, "the lookup query failed: %s (%u)", mysql_error(my), mysql_errno(my));
        goto done;
    }
    MYSQL_ROW row;
    size_t n = 0;
    while ((row = mysql_fetch_row(res))) {
        const char *v = row[0] ? row[0] : "";
        size_t k = strlen(v);
        if (strchr(v, '\n') || n + k + 1 > BACKEND_LOOKUP_MAX)
            continue; /* not a hash of a native password anyway */
        memcpy(job->rows + n, v, k);
        n += k;
        job->rows[n++] = '\n';
    }
    job->rows[n] = 0;
    ok = true;
done:
    if (res)
        mysql_free_result(res);
    mysql_close(my);
    return ok;
}

static void my_lookup_done(void *arg, const char *err, int ms)
{
    struct my_lookup_job *job = arg;
    (void)ms;
    job->done(job->arg, err, err ? NULL : job->rows);
}

static void my_lookup_release(struct cancel_job *base)
{
    struct my_lookup_job *job = (struct my_lookup_job *)base;
    explicit_bzero(job->password, sizeof(job->password));
    free(job);
}

static bool myb_lookup(const struct backend_params *p, const char *query, const char *user,
                       void (*done)(void *arg, const char *err, const char *rows), void *arg,
                       char *err, size_t errlen)
{
    struct my_lookup_job *job = calloc(1, sizeof(*job));
    if (!job) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    snprintf(job->host, sizeof(job->host), "%s", p->addr && p->host[0] != '/' ? p->addr : p->host);
    job->port = p->port;
    snprintf(job->user, sizeof(job->user), "%s", p->user);
    snprintf(job->password, sizeof(job->password), "%s", p->password ? p->password : "");
    tls_copy(&job->tls, p);
    snprintf(job->query, sizeof(job->query), "%s", query);
    snprintf(job->who, sizeof(job->who), "%s", user);
    job->done = done;
    job->arg = arg;
    job->base.run = my_lookup_run;
    job->base.release = my_lookup_release;
    job->base.done = my_lookup_done;
    job->base.arg = job;
    if (cancel_submit(&job->base, err, errlen))
        return true;
    my_lookup_release(&job->base);
    return false;
}

static void *myb_tls(const struct backend_conn *c)
{
    /* mysql->net.pvio->ctls->ssl: see the top of this file. */
    MARIADB_PVIO *pvio = c->my->net.pvio;
    MARIADB_TLS *ctls = pvio ? pvio->ctls : NULL;
    return ctls ? ctls->ssl : NULL;
}

static void myb_close(struct backend_conn *c)
{
    if (!c)
        return;
    /*
     * Say goodbye ourselves: after the pooler's raw traffic the connector's
     * non-blocking state would not send COM_QUIT, and the server would log
     * an aborted connection.
     */
    int fd = mysql_get_socket(c->my);
    SSL *ssl = myb_tls(c);
    if (fd != -1 && c->thread_id) {
        static const unsigned char quit[] = {1, 0, 0, 0, 1};
        size_t n;
        if (ssl) {
            if (SSL_write_ex(ssl, quit, sizeof(quit), &n) != 1)
                ERR_clear_error(); /* the server is gone already, or its socket is full */
        } else if (send(fd, quit, sizeof(quit), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* the server is gone already */
        }
    }
    mysql_close(c->my);
    explicit_bzero(c->password, sizeof(c->password));
    free(c);
}

const struct backend_ops backend_mysql_ops = {
    .name = "mysql",
    .connect_start = myb_connect_start,
    .connect_poll = myb_connect_poll,
    .socket = myb_socket,
    .param = myb_param,
    .tls = myb_tls,
    .caps = myb_caps,
    .cancel = myb_cancel,
    .close = myb_close,
    .lookup = myb_lookup,
};
