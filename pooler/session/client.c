/*
 * client.c -- what every client session shares, whatever its protocol:
 * output, errors, closing, the wait for a server, handing servers back,
 * timeouts, each worker's table of cancel keys (also behind MySQL's KILL)
 * and log_client. Protocol files (client_pg.c, client_my.c) supply a
 * struct client_proto for the parts that differ; admit.c decides whether a
 * new client may stay (PROXY header, per-address limits).
 */
#include "pooler/session/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pooler/core/iplimit.h"
#include "pooler/core/log.h"
#include "pooler/session/ps.h"
#include "pooler/session/relay.h"
#include "pooler/session/sess_pg.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/conf/userlist.h"
#include "pooler/core/worker.h"

static void cancel_unregister(struct worker *w, struct client *c);

static void client_io_cb(struct ev_loop *loop, ev_io *io, int revents);

struct client *client_new(struct worker *w, int fd, const struct sockaddr *sa,
                          const struct client_proto *proto)
{
    struct client *c = slab_alloc(&w->client_slab, sizeof(*c));
    if (c && proto == &client_my_proto && !(c->my = calloc(1, sizeof(*c->my)))) {
        slab_free(&w->client_slab, c);
        c = NULL;
    }
    if (!c) {
        close(fd);
        return NULL;
    }
    c->w = w;
    c->fd = fd;
    c->proto = proto;
    c->id = weir_next_id();
    c->state = CL_STARTUP;
    list_init(&c->wait.node);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(c->addr.ip, &in->sin_addr, sizeof(in->sin_addr));
        c->addr.port = ntohs(in->sin_port);
        c->addr.family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(c->addr.ip, &in6->sin6_addr, sizeof(in6->sin6_addr));
        c->addr.port = ntohs(in6->sin6_port);
        c->addr.family = AF_INET6;
    } else if (sa->sa_family == AF_UNIX) {
        /* A local client: its pid (SO_PEERCRED, one cheap call) names it in logs and SHOW CLIENTS.
         */
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        uint32_t pid =
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 ? (uint32_t)cred.pid : 0;
        memcpy(c->addr.ip, &pid, sizeof(pid));
        c->addr.family = AF_UNIX;
    }
    c->connect_time = ev_now(w->loop);
    /* TCP_NODELAY comes from the listening socket (listener.c). */
    ev_io_init(&c->io, client_io_cb, fd, 0);
    list_add_tail(&w->clients, &c->wnode);
    c->counted = true;
    int n = atomic_fetch_add(&weir.nclients, 1) + 1;
    if (n > weir.cfg->max_client_conn + ADMIN_RESERVED_CONNS) {
        client_fail(c, "53300", "no more connections allowed (max_client_conn)");
        return NULL;
    }
    /* A few more slots for the console: refused after the startup unless it is one. */
    c->over_limit = n > weir.cfg->max_client_conn;
    if (weir.cfg->client_login_timeout > 0)
        c->deadline = ev_now(w->loop) + weir.cfg->client_login_timeout;
    return client_admit(c) ? c : NULL;
}

void client_watch(struct client *c, int event, bool on)
{
    int now = ev_is_active(&c->io) ? c->io.events & (EV_READ | EV_WRITE) : 0;
    int want = on ? now | event : now & ~event;
    if (want == now)
        return;
    ev_io_stop(c->w->loop, &c->io);
    ev_io_modify(&c->io, want);
    if (want)
        ev_io_start(c->w->loop, &c->io);
    if (c->ssl && (want & EV_READ))
        client_tls_rearm(c); /* stopping the watcher dropped a fed event */
}

const char *client_addr_text(const struct client *c, char out[CLIENT_ADDR_TEXT])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (c->addr.family == AF_UNIX) {
        /* "unix(pid)", as PgBouncer writes it; no port, so SHOW CLIENTS shows port 0. */
        uint32_t pid;
        memcpy(&pid, c->addr.ip, sizeof(pid));
        snprintf(out, CLIENT_ADDR_TEXT, "unix(%u)", (unsigned)pid);
        return out;
    }
    if (c->addr.family)
        inet_ntop(c->addr.family, c->addr.ip, ip, sizeof(ip));
    snprintf(out, CLIENT_ADDR_TEXT, "%s:%u", ip, (unsigned)c->addr.port);
    return out;
}

struct pg_out *client_out(struct client *c)
{
    /* Per thread, never freed: every write to it is dropped since it starts failed. */
    static _Thread_local struct pg_out sink = {.msg_start = SIZE_MAX, .failed = true};
    if (!c->out) {
        if (!(c->out = malloc(sizeof(*c->out)))) {
            c->out_lost = true;
            return &sink;
        }
        pg_out_init(&c->out->msg);
        c->out->sent = 0;
    }
    return &c->out->msg;
}

static void client_out_free(struct client *c)
{
    if (c->out) {
        pg_out_free(&c->out->msg);
        free(c->out);
        c->out = NULL;
    }
}

int client_flush_out(struct client *c)
{
    if (!client_out_pending(c))
        return WR_OK;
    int rc = io_send_raw(c->fd, c->ssl, c->out->msg.data, c->out->msg.len, &c->out->sent);
    if (rc == WR_OK) {
        /* Nothing of weir's own is pending: an idle client keeps no buffer. */
        client_out_free(c);
        client_watch(c, EV_WRITE, false);
    } else if (rc == WR_AGAIN) {
        client_watch(c, EV_WRITE, true);
    }
    return rc;
}

bool client_want_set(struct client *c, int id, const char *value)
{
    if (!c->want && !(c->want = calloc(1, sizeof(*c->want))))
        return false;
    return param_set(c->want, id, value);
}

bool client_set_names(struct client *c, const char *user, const char *dbname)
{
    /* Copy first: the new names may be the old ones (COM_CHANGE_USER keeping its database). */
    char *u = user ? strdup(user) : NULL;
    char *d = dbname ? strdup(dbname) : NULL;
    if ((user && !u) || (dbname && !d)) {
        free(u);
        free(d);
        return false;
    }
    if (u) {
        if (c->user_owned)
            free((char *)c->user);
        c->user = u;
        c->user_owned = true;
    }
    if (d) {
        if (c->dbname_owned)
            free((char *)c->dbname);
        c->dbname = d;
        c->dbname_owned = true;
    }
    return true;
}

void client_share_names(struct client *c)
{
    /*
     * Pools, replaced configurations and replaced auth files are kept until
     * exit (pool.c, lifecycle.c), so their strings outlive every client. The
     * pool is keyed by the client's user unless the database forces one.
     */
    const char *user =
        c->pool && !c->db->user ? c->pool->key_user : userlist_name(weir.users, c->user);
    if (c->user_owned && user && !strcmp(user, c->user)) {
        free((char *)c->user);
        c->user = user;
        c->user_owned = false;
    }
    if (c->dbname_owned && c->db && !strcmp(c->db->name, c->dbname)) {
        free((char *)c->dbname);
        c->dbname = c->db->name;
        c->dbname_owned = false;
    }
}

void client_free(struct client *c)
{
    if (c->pool)
        pool_client_leave(c->pool);
    console_hooks.gone(c);
    client_out_free(c);
    if (c->want) {
        param_clear_all(c->want);
        free(c->want);
    }
    param_snap_unref(c->told);
    if (c->user_owned)
        free((char *)c->user);
    if (c->dbname_owned)
        free((char *)c->dbname);
    relay_my_forget(c);
    sess_pg_free(c);
    if (c->my)
        stmt_my_free(c);
    ps_client_free(c);
    c->proto->free_state(c);
    free(c->my);
    slab_free(&c->w->client_slab, c);
}

struct console_hooks console_hooks;

static struct db_entry console_db_pg = {.name = "weir", .host = "", .dbname = "weir"};
static struct db_entry console_db_my = {
    .name = "weir", .host = "", .dbname = "weir", .backend = BACKEND_MYSQL};

bool session_is_console_db(const char *dbname)
{
    return dbname && (!strcmp(dbname, "weir") || !strcmp(dbname, "pgbouncer"));
}

const struct db_entry *session_console_db(enum backend_kind kind)
{
    return kind == BACKEND_MYSQL ? &console_db_my : &console_db_pg;
}

/* Releases everything but the struct itself (a zombie keeps only that). */
static void client_disconnect(struct client *c)
{
    struct worker *w = c->w;
    ev_io_stop(w->loop, &c->io);
    tls_free(c->ssl);
    c->ssl = NULL;
    if (c->fd != -1)
        close(c->fd);
    c->fd = -1;
    buf_put(&w->bufs, c->in);
    c->in = NULL;
    cancel_unregister(w, c);
    client_login_done(c);
    if (c->ip_counted) {
        iplimit_release(c->addr.family, c->addr.ip, ev_now(w->loop));
        c->ip_counted = false;
    }
    if (c->counted) {
        atomic_fetch_sub(&weir.nclients, 1);
        if (c->admin != ADMIN_NONE)
            atomic_fetch_sub(&weir.nconsole, 1);
        c->counted = false;
    }
}

void client_close(struct client *c, const char *reason)
{
    bool logged = c->welcomed && weir.cfg->log_disconnections;
    log_client(c, logged ? LOG_LVL_INFO : LOG_LVL_DEBUG, "closing: %s", reason);
    if (c->server) {
        struct server *s = c->server;
        bool clean = c->in_remaining == 0 && (!c->in || buf_unsent(c->in) == 0);
        if (s->kind == BACKEND_POSTGRES && s->state == SV_ACTIVE)
            sess_pg_leave(c, s);
        else if (s->kind == BACKEND_POSTGRES && s->state == SV_SETUP)
            s->discard = true; /* left during its set-up: what the server holds is not known */
        if (c->my && c->my->ncursors)
            s->my_dirty = true; /* its cursors close with a reset, not with the next client */
        ps_client_detach(c, s);
        c->server = NULL;
        s->client = NULL;
        server_release(s, clean);
    } else if (c->state == CL_WAITING && !pool_leave(c->pool, &c->wait)) {
        /* A server (or error) is already on its way from another worker. */
        client_disconnect(c);
        c->zombie = true;
        return;
    }
    client_disconnect(c);
    list_del(&c->wnode);
    client_free(c);
}

static void hba_conn_of(const struct client *c, const char *database, struct hba_conn *hc)
{
    *hc = (struct hba_conn){.family = c->addr.family,
                            .ip = c->addr.ip,
                            .tls = c->ssl != NULL,
                            .replication = c->replication != 0,
                            .database = database ? database : "",
                            .user = c->user ? c->user : ""};
}

bool client_hba_allows(const struct client *c, const char *database)
{
    const struct config *cfg = weir.cfg;
    if (cfg->auth_type != AUTH_HBA)
        return true;
    struct hba_conn hc;
    hba_conn_of(c, database, &hc);
    int line;
    enum hba_method m = hba_match(cfg->hba, &hc, &line);
    return m != HBA_NONE && m != HBA_REJECT;
}

enum hba_method client_auth_method(struct client *c)
{
    const struct config *cfg = weir.cfg;
    enum hba_method m = HBA_NONE;
    int line = 0;
    switch (cfg->auth_type) {
    case AUTH_TRUST:
        return HBA_TRUST;
    case AUTH_PLAIN:
        m = HBA_PASSWORD;
        break;
    case AUTH_MD5:
        m = HBA_MD5;
        break;
    case AUTH_SCRAM:
        m = HBA_SCRAM;
        break;
    case AUTH_CERT:
        m = HBA_CERT;
        break;
    case AUTH_HBA: {
        struct hba_conn hc;
        hba_conn_of(c, c->dbname, &hc);
        m = hba_match(cfg->hba, &hc, &line);
        break;
    }
    }
    char addr[CLIENT_ADDR_TEXT];
    if (m == HBA_NONE || m == HBA_REJECT) {
        client_addr_text(c, addr);
        char *colon = c->addr.family == AF_UNIX ? NULL : strrchr(addr, ':');
        if (colon)
            *colon = '\0'; /* the host alone, as PostgreSQL names it */
        if (m == HBA_NONE)
            client_fail(c, "28000",
                        "no auth_hba_file entry for host \"%s\", user \"%s\", database \"%s\"%s",
                        addr, c->user ? c->user : "", c->dbname ? c->dbname : "",
                        c->ssl ? ", TLS" : ", no TLS");
        else
            client_fail(c, "28000",
                        "auth_hba_file rejects connection for host \"%s\", user \"%s\", "
                        "database \"%s\" (line %d)",
                        addr, c->user ? c->user : "", c->dbname ? c->dbname : "", line);
        return HBA_NONE;
    }
    if (m != HBA_CERT)
        return m;
    char cn[256];
    if (!tls_peer_cn(c->ssl, cn, sizeof(cn))) {
        client_auth_failed(c);
        client_fail(c, "28000",
                    "certificate authentication failed for user \"%s\": no verified client "
                    "certificate (client_tls_sslmode verify-ca or verify-full asks for one)",
                    c->user ? c->user : "");
        return HBA_NONE;
    }
    if (!c->user || strcmp(cn, c->user)) {
        client_auth_failed(c);
        client_fail(c, "28000",
                    "certificate authentication failed for user \"%s\": the certificate is "
                    "for \"%.64s\"",
                    c->user ? c->user : "", cn);
        return HBA_NONE;
    }
    return HBA_TRUST;
}

void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_client(c, weir.cfg->log_pooler_errors ? LOG_LVL_INFO : LOG_LVL_DEBUG, "error %s: %s",
               sqlstate, msg);
    if (!c->welcomed && sqlstate[0] == '2' && sqlstate[1] == '8')
        stats_error(c->w, c->pool, STATS_ERR_LOGIN); /* 28000, 28P01: login refused */
    if (c->fd != -1) {
        c->proto->error(c, sqlstate, msg);
        /* Best effort: the connection closes right after, so no waiting to drain. */
        if (!client_out_failed(c) && client_flush_out(c) == WR_AGAIN)
            log_client(c, LOG_LVL_DEBUG, "error message not fully sent");
    }
    client_close(c, msg);
}

/*
 * A reload replaced c's pool (its database changed or left the configuration):
 * move c to the pool built from the new entry. False (c failed) when its
 * database is gone.
 */
static bool client_follow_reload(struct client *c)
{
    const struct db_entry *db = config_find_db_for(weir.cfg, c->db->name, c->db->backend);
    /* The password the old pool logs in with is the client's, unless its database forced a user. */
    char *password = NULL;
    if (!c->db->user) {
        pthread_mutex_lock(&c->pool->lock);
        password = c->pool->password ? strdup(c->pool->password) : NULL;
        pthread_mutex_unlock(&c->pool->lock);
    }
    struct pool *r = db && db->backend == c->db->backend
                         ? pool_get(db, c->user, c->pool->variant, password)
                         : NULL;
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (!r) {
        client_fail(c, "3D000", "database \"%s\" is no longer served (configuration reloaded)",
                    c->db->name);
        return false;
    }
    pool_client_leave(c->pool);
    c->db = db;
    c->pool = r;
    return true;
}

void client_request_server(struct client *c, bool front)
{
    if (pool_retired(c->pool) && !client_follow_reload(c))
        return;
    c->state = CL_WAITING;
    c->deadline =
        weir.cfg->query_wait_timeout > 0 ? ev_now(c->w->loop) + weir.cfg->query_wait_timeout : 0;
    struct pool_step st;
    pool_wait(c->pool, c->w, &c->wait, front, &st);
    server_apply_step(c->w, c->pool, &st);
}

void client_wait_failed(struct client *c, const char *sqlstate, const char *text)
{
    if (c->zombie) {
        list_del(&c->wnode);
        client_free(c);
        return;
    }
    c->wait.state = WAIT_NONE;
    c->state = CL_IDLE; /* no longer waiting: client_close must not leave the queue again */
    client_fail(c, sqlstate, "%s", text);
}

void client_server_released(struct client *c)
{
    c->server = NULL;
    c->state = CL_IDLE;
    client_watch(c, EV_READ, true); /* it may have stopped for backpressure */
}

void client_take_server(struct client *c, struct server *s)
{
    if (c->zombie) {
        list_del(&c->wnode);
        client_free(c);
        server_release(s, true);
        return;
    }
    c->deadline = 0;
    if (c->state == CL_WAITING)
        stats_wait(stats_slot_of(c->pool, c->w), ev_now(c->w->loop) - c->wait.start);
    server_attach(s, c);
}

/* client_idle_timeout, idle_transaction_timeout and query_timeout of a logged-in client. */
static void client_check_idle(struct client *c, ev_tstamp now)
{
    const struct config *cfg = weir.cfg;
    struct server *s = c->server;
    if (s && s->state == SV_ACTIVE && s->outstanding > 0) {
        if (cfg->query_timeout > 0 && now - s->query_start > cfg->query_timeout) {
            stats_error(c->w, c->pool, STATS_ERR_QUERY_TIMEOUT);
            client_fail(c, "57014", "query_timeout: query ran longer than %g s",
                        cfg->query_timeout);
        }
        return;
    }
    ev_tstamp idle = now - c->last_active;
    if (s && s->state == SV_ACTIVE && s->txstatus != 'I') {
        if (cfg->idle_transaction_timeout > 0 && idle > cfg->idle_transaction_timeout)
            client_fail(c, "25P03", "idle_transaction_timeout: idle in transaction for over %g s",
                        cfg->idle_transaction_timeout);
        return;
    }
    if (cfg->client_idle_timeout > 0 && idle > cfg->client_idle_timeout)
        client_fail(c, "08P01", "client_idle_timeout: idle for over %g s",
                    cfg->client_idle_timeout);
}

void client_sweep(struct worker *w, ev_tstamp now)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
    {
        struct client *c = list_entry(pos, struct client, wnode);
        if (c->zombie)
            continue;
        if (c->state == CL_IDLE || c->state == CL_ACTIVE) {
            client_check_idle(c, now);
            continue;
        }
        if (c->deadline == 0 || now < c->deadline)
            continue;
        if (c->state == CL_PROXY) {
            /* Nothing to answer before the header: the connection is dropped. */
            iplimit_count(IPLIMIT_PROXY);
            log_client(c, LOG_LVL_INFO, "client_login_timeout: no whole PROXY header: dropped");
            client_close(c, "client_login_timeout waiting for the PROXY header");
        } else if (c->state == CL_TLS) {
            /* No error message: the client is in the middle of a TLS handshake. */
            log_client(c, LOG_LVL_INFO, "client_login_timeout: TLS handshake did not finish");
            client_close(c, "client_login_timeout during the TLS handshake");
        } else if (c->state == CL_STARTUP || c->state == CL_AUTH) {
            client_fail(c, "08P01", "client_login_timeout: login took too long");
        } else if (c->state == CL_WAITING) {
            if (pool_leave(c->pool, &c->wait)) {
                c->state = CL_IDLE; /* no longer waiting: client_close must not leave again */
                stats_error(c->w, c->pool, STATS_ERR_WAIT_TIMEOUT);
                client_fail(c, "08P01", "query_wait_timeout: no server connection became free");
            }
        }
    }
}

void client_free_at_exit(struct client *c)
{
    /*
     * Say why, where it cannot land inside a result: a PostgreSQL client
     * between queries or waiting, a MySQL client waiting for its answer.
     */
    bool between = c->state == CL_WAITING || (c->state == CL_IDLE && c->proto == &client_pg_proto);
    if (c->fd != -1 && c->welcomed && between) {
        c->proto->error(c, "57P01", "weir is shutting down");
        if (!client_out_failed(c) && client_flush_out(c) == WR_AGAIN)
            log_client(c, LOG_LVL_DEBUG, "shutdown message not fully sent");
    }
    client_disconnect(c);
    list_del(&c->wnode);
    client_free(c);
}

/*
 * Drawn from a per-thread block of getrandom() output, so a login (salt and
 * cancel key) costs no syscall of its own; every value is used once.
 */
uint32_t client_random32(void)
{
    static _Thread_local uint32_t pool[64];
    static _Thread_local unsigned left;
    if (left == 0) {
        if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
            arc4random_buf(pool, sizeof(pool));
        left = 64;
    }
    uint32_t v = pool[--left];
    pool[left] = 0;
    return v;
}

/*
 * Cancel pids (BackendKeyData's pid, MySQL's thread id): the owning worker
 * + 1 in the top byte and a sequence number below; with peer_id set, the
 * peer id in the top byte, the worker + 1 in the next 6 bits and an 18-bit
 * sequence. A number still in use on the worker is skipped. The key's low
 * CANCEL_TTL_BITS are a hop count for forwards between peers (PgBouncer's
 * idea): handed out full, one less at each forward, never forwarded at 0.
 */
static uint32_t cancel_pid_of(const struct worker *w, uint32_t seq)
{
    int peer = weir.cfg->peer_id;
    if (peer)
        return (uint32_t)peer << 24 | (uint32_t)(w->id + 1) << 18 | seq;
    return (uint32_t)(w->id + 1) << 24 | seq;
}

static struct client *cancel_find(struct worker *w, uint32_t pid);

void client_cancel_register(struct worker *w, struct client *c)
{
    uint32_t mask = weir.cfg->peer_id ? 0x3ffff : 0xffffff;
    do {
        w->client_seq = (w->client_seq + 1) & mask;
    } while (w->client_seq == 0 || cancel_find(w, cancel_pid_of(w, w->client_seq)));
    c->cancel_pid = cancel_pid_of(w, w->client_seq);
    c->cancel_key = client_random32() | CANCEL_TTL_MASK;
    unsigned h = c->cancel_pid % CANCEL_BUCKETS;
    c->cancel_next = w->cancel_tab[h];
    w->cancel_tab[h] = c;
}

static void cancel_unregister(struct worker *w, struct client *c)
{
    if (!c->cancel_pid)
        return;
    struct client **pp = &w->cancel_tab[c->cancel_pid % CANCEL_BUCKETS];
    while (*pp && *pp != c)
        pp = &(*pp)->cancel_next;
    if (*pp)
        *pp = c->cancel_next;
    c->cancel_pid = 0;
}

/* The client registered under pid on w, or NULL. */
static struct client *cancel_find(struct worker *w, uint32_t pid)
{
    struct client *c = w->cancel_tab[pid % CANCEL_BUCKETS];
    while (c && c->cancel_pid != pid)
        c = c->cancel_next;
    return c;
}

struct client *client_by_pid(struct worker *w, uint32_t pid)
{
    return cancel_find(w, pid);
}

/*
 * Asks c's server to cancel the query running there, if one is. The server
 * logs "forwarded" once the request has really been sent, or why it was not.
 */
static void cancel_running(struct client *c, enum server_cancel_why why, const char *what)
{
    struct server *s = c->server;
    if (!s || s->state != SV_ACTIVE || s->outstanding == 0) {
        log_client(c, LOG_LVL_INFO, "%s: nothing running", what);
        return;
    }
    if (server_cancel(s, why))
        log_client(c, LOG_LVL_DEBUG, "%s queued for S-%llu", what, (unsigned long long)s->id);
}

void client_cancel_request(struct worker *w, uint32_t pid, uint32_t key)
{
    struct client *c = cancel_find(w, pid);
    /* MySQL clients share the table for KILL; a PostgreSQL cancel never reaches them. */
    if (!c || ((c->cancel_key ^ key) & ~CANCEL_TTL_MASK) || c->proto != &client_pg_proto) {
        log_info("cancel request for unknown key %u ignored", pid);
        return;
    }
    cancel_running(c, SERVER_CANCEL_REQUEST, "cancel request");
}

struct worker *client_pid_worker(uint32_t pid)
{
    int peer = weir.cfg->peer_id;
    if (peer && (int)(pid >> 24) != peer)
        return NULL;
    int target = (int)(peer ? pid >> 18 & 0x3f : pid >> 24) - 1;
    return target >= 0 && target < weir.nworkers ? &weir.workers[target] : NULL;
}

int client_pid_peer(uint32_t pid)
{
    return weir.cfg->peer_id ? (int)(pid >> 24) : 0;
}

int client_kill(struct worker *w, uint32_t pid, const char *user, bool connection,
                const struct client *requester)
{
    struct client *c = cancel_find(w, pid);
    /* Only logged-in MySQL clients have thread ids; PostgreSQL pids share the table. */
    if (!c || !c->welcomed || c->zombie || c->proto != &client_my_proto)
        return KILL_UNKNOWN;
    if (!c->user || strcmp(c->user, user))
        return KILL_DENIED;
    if (c == requester)
        return connection ? KILL_SELF : KILL_OK;
    if (connection)
        client_fail(c, "57P01", "Connection was killed");
    else
        cancel_running(c, SERVER_CANCEL_KILL, "KILL QUERY");
    return KILL_OK;
}

void client_kill_request(struct worker *w, const struct msg *m)
{
    int rc = client_kill(w, m->pid, m->text, m->arg != 0, NULL);
    struct worker *back = client_pid_worker(m->key);
    if (!back)
        return;
    struct msg *r = msg_new(MSG_KILL_DONE);
    r->pid = m->key;
    r->key = m->pid;
    r->client = m->client;
    r->arg = rc;
    worker_post(back, r);
}

void client_kill_reply(struct worker *w, const struct msg *m)
{
    /* The asker may have gone meanwhile: only a client still registered under its pid counts. */
    struct client *c = cancel_find(w, m->pid);
    if (!c || c != m->client || !c->kill_wait || !c->proto->kill_done)
        return;
    c->proto->kill_done(c, m->key, m->arg);
}

/*
 * The client's socket is writable or readable. One event is handled per
 * call, since handling it may free c; epoll reports the other again.
 */
static void client_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = (struct client *)((char *)io - offsetof(struct client, io));
    (void)loop;
    if (__builtin_expect(c->state == CL_TLS, 0)) {
        client_tls_step(c);
        return;
    }
    if (!(revents & EV_WRITE)) {
        c->proto->readable(c);
        return;
    }
    /* Drained: weir's own bytes first, then the relay. */
    if (client_out_pending(c)) {
        int rc = client_flush_out(c);
        if (rc == WR_ERROR) {
            client_close(c, "cannot write to client");
            return;
        }
        if (rc == WR_AGAIN)
            return;
    }
    if (c->state == CL_ACTIVE)
        relay_client_writable(c);
    else
        client_watch(c, EV_WRITE, false);
}

bool client_read_input(struct client *c)
{
    if (!c->in && !(c->in = buf_get(&c->w->bufs))) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    if (buf_space(c->in) == 0)
        buf_compact(c->in);
    if (buf_space(c->in) == 0) {
        /*
         * A full buffer of messages waiting for a server (a pipeline that
         * outran the last one's release): stop reading; the relay reads
         * again once it has sent them on (client_to_server).
         */
        client_watch(c, EV_READ, false);
        return false;
    }
    ssize_t n = io_recv(c->fd, c->ssl, c->in);
    if (n == 0 || n == -2) {
        client_close(c, n == 0 ? "client closed the connection" : strerror(errno));
        return false;
    }
    if (c->ssl)
        client_tls_rearm(c);
    if (n == -1) {
        if (c->in->recv == 0) { /* nothing came: an idle client holds no buffer */
            buf_put(&c->w->bufs, c->in);
            c->in = NULL;
        }
        return false;
    }
    c->last_active = ev_now(c->w->loop);
    if (c->pool) /* a logged-in client between servers: its bytes count as relayed */
        stats_add(&stats_slot_of(c->pool, c->w)->bytes_recv, (uint64_t)n);
    return true;
}

void client_hold_input(struct client *c)
{
    if (buf_space(c->in) == 0)
        client_watch(c, EV_READ, false);
}

void client_start_relay(struct client *c)
{
    c->state = CL_ACTIVE;
    if (client_out_failed(c)) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    if (client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return;
    }
    if (!relay_start(c))
        return;
    /* Logged in through a server, or woken for a message that needed no answer yet. */
    struct server *s = c->server;
    if (s && s->state == SV_ACTIVE && s->pool->pool_mode != POOL_SESSION && !s->in)
        relay_try_release(s);
}

/* ---- log lines ---- */

void log_client(const struct client *c, enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    char addr[CLIENT_ADDR_TEXT];
    struct log_conn conn = {
        .kind = 'C',
        .id = (unsigned long long)c->id,
        .peer_id = c->server ? (unsigned long long)c->server->id : 0,
        .database = c->dbname,
        .user = c->user,
        .addr = client_addr_text(c, addr),
        .app = client_param(c, PARAM_APPLICATION_NAME),
    };
    va_list ap;
    va_start(ap, fmt);
    log_conn_vmsg(lvl, &conn, fmt, ap);
    va_end(ap);
}
