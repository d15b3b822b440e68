/*
 * server_login.c -- a server connection's login on a worker: the walk over
 * its entry's hosts (names resolved off the loop, breakers and roles
 * consulted, pool/hosts.c), the connector's non-blocking steps, the role
 * the server told, and what the pool learns when a login fails or lands.
 */
#include "pooler/pool/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/userlist.h"
#include "pooler/core/log.h"
#include "pooler/core/tls.h"
#include "pooler/core/worker.h"
#include "pooler/pool/stats.h"
#include "protocol/mysql/my_charset.h"

void server_tls_params(const struct config *cfg, const struct db_entry *db,
                       struct backend_params *bp)
{
    static const char *const versions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    bp->sslmode = config_tls_mode_name(config_server_tls_mode(cfg, db));
    bp->sslrootcert = cfg->server_tls_ca_file;
    bp->sslcert = cfg->server_tls_cert_file;
    bp->sslkey = cfg->server_tls_key_file;
    bp->ssl_ciphers = tls_ciphers_list(cfg->server_tls_ciphers);
    int lo, hi;
    if (tls_protocols_parse(cfg->server_tls_protocols, &lo, &hi) && lo >= TLS1_VERSION &&
        hi <= TLS1_3_VERSION) {
        bp->ssl_min_version = versions[lo - TLS1_VERSION];
        bp->ssl_max_version = versions[hi - TLS1_VERSION];
    }
}

static void connect_failed(struct server *s, const char *sqlstate, const char *text)
{
    struct worker *w = s->w;
    struct pool *r = s->pool;
    char cause[256];
    log_tidy(cause, sizeof(cause), text);
    log_server(s, LOG_LVL_WARNING, "login failed: %s", cause);
    stats_error(w, r, STATS_ERR_SERVER_LOGIN);
    server_unwatch(s);
    list_del(&s->wnode);
    struct pool_step st;
    pool_connect_failed(r, w, sqlstate, text, &st);
    server_free(s);
    server_apply_step(w, r, &st);
}

static void connect_next(struct server *s);

/* The role the server told at login (PostgreSQL: ParameterStatus; MySQL: the role query). */
static enum host_role login_role(struct server *s, bool *read_only)
{
    if (s->kind == BACKEND_MYSQL) {
        const char *ro = s->ops->param(s->bc, "read_only");
        *read_only = ro && !strcmp(ro, "1");
        return !ro ? ROLE_UNKNOWN : *read_only ? ROLE_STANDBY : ROLE_PRIMARY;
    }
    const char *hs = s->ops->param(s->bc, "in_hot_standby");
    *read_only = server_param_on(s->ops->param(s->bc, "default_transaction_read_only"));
    /*
     * Before PostgreSQL 14 no in_hot_standby is reported; the connector asks
     * pg_is_in_recovery() instead when the entry cares (backends/pg.c). Not
     * asked, the role stays unknown: the host's record keeps what others saw.
     */
    return !hs ? ROLE_UNKNOWN : server_param_on(hs) ? ROLE_STANDBY : ROLE_PRIMARY;
}

/* Drops the current attempt's connection, so the walk can go on to another. */
static void drop_attempt(struct server *s)
{
    ev_io_stop(s->w->loop, &s->rio);
    if (s->bc)
        s->ops->close(s->bc);
    s->bc = NULL;
    s->fd = -1;
    s->connect_want = 0;
    ev_io_set(&s->rio, -1, 0);
}

/* One address of the walk failed: go on with the next one (or fail the login). */
static void attempt_failed(struct server *s, const char *sqlstate, const char *text)
{
    char cause[256];
    log_tidy(cause, sizeof(cause), text);
    if (s->pool->db->nhosts > 1)
        log_server(s, LOG_LVL_WARNING, "login failed: %s", cause);
    drop_attempt(s);
    host_walk_failed(s->walk, ev_now(s->w->loop), sqlstate, text);
    connect_next(s);
}

void server_login_step(struct server *s)
{
    char err[256], sqlstate[6];
    int fd = -1, want = 0;
    int rc = s->ops->connect_poll(s->bc, &fd, &want, err, sizeof(err), sqlstate);
    if (rc == WR_AGAIN) {
        int events =
            (want & BACKEND_WANT_READ ? EV_READ : 0) | (want & BACKEND_WANT_WRITE ? EV_WRITE : 0);
        /* libpq may switch sockets between attempts: re-set the watcher (libev's rule). */
        if (fd != s->fd || want != s->connect_want) {
            ev_io_stop(s->w->loop, &s->rio);
            ev_io_set(&s->rio, fd, events);
            s->fd = fd;
            s->connect_want = want;
        }
        server_watch(s);
        return;
    }
    if (rc == WR_ERROR) {
        attempt_failed(s, sqlstate, err);
        return;
    }
    bool read_only;
    enum host_role role = login_role(s, &read_only);
    if (!host_walk_connected(s->walk, ev_now(s->w->loop), role, read_only)) {
        log_server(s, LOG_LVL_INFO, "%s does not fit target_session_attrs=%s: trying the next host",
                   role == ROLE_STANDBY ? "a standby"
                   : read_only          ? "a read-only server"
                                        : "a primary",
                   hostlist_tsa_name(s->pool->db->target_session_attrs));
        drop_attempt(s);
        connect_next(s);
        return;
    }
    free(s->walk);
    s->walk = NULL;
    s->login_standby = role == ROLE_STANDBY;
    s->login_read_only = read_only;
    ev_io_stop(s->w->loop, &s->rio);
    s->fd = fd;
    if ((s->ssl = s->ops->tls(s->bc)))
        tls_adopt(s->ssl);
    ev_io_init(&s->rio, server_read_cb, fd, EV_READ);
    ev_io_init(&s->wio, server_write_cb, fd, EV_WRITE);
    for (int i = 0; i < PARAM_COUNT; i++) {
        if (param_name(i) && !param_set(&s->params, i, s->ops->param(s->bc, param_name(i)))) {
            server_close(s, "out of memory");
            return;
        }
    }
    s->state = SV_IDLE;
    s->txstatus = 'I';
    s->deadline = 0;
    s->last_used = ev_now(s->w->loop);
    s->my_caps = s->ops->caps(s->bc);
    log_server(s, weir.cfg->log_connections ? LOG_LVL_INFO : LOG_LVL_DEBUG, "logged in");
    server_watch(s);
    struct pool_step st;
    pool_connected(s->pool, s->w, s, &st);
    server_apply_step(s->w, s->pool, &st);
}

/*
 * Starts the login at the walk's next host and address; waits when that
 * host's name is being resolved; fails the server when nothing is left.
 */
static void connect_next(struct server *s)
{
    const struct config *cfg = weir.cfg;
    struct pool *r = s->pool;
    for (;;) {
        const char *name, *addr;
        int port;
        ev_tstamp now = ev_now(s->w->loop);
        enum host_walk_result wr = host_walk_next(s->walk, now, &name, &addr, &port);
        if (wr == WALK_WAIT_DNS) {
            s->dns_wait = true;
            log_server(s, LOG_LVL_DEBUG, "waiting for the address of %s",
                       host_walk_waiting_for(s->walk));
            return;
        }
        if (wr == WALK_END) {
            connect_failed(s, s->walk->sqlstate[0] ? s->walk->sqlstate : "08001", s->walk->error);
            return;
        }
        s->host = host_walk_host(s->walk);
        s->deadline = now + cfg->server_connect_timeout; /* per attempt, as libpq's */
        pthread_mutex_lock(&r->lock);
        char *password = r->password ? strdup(r->password) : NULL;
        uint8_t stage1[20];
        bool hashed = s->kind == BACKEND_MYSQL && !password && r->has_stage1;
        const char *auth_user = config_auth_user(cfg, r->db);
        bool pass = hashed && auth_user;
        if (pass)
            memcpy(stage1, r->my_stage1, sizeof(stage1));
        /* PostgreSQL pass-through: what clients' proofs left (pool_set_pg_secret). */
        char pg_md5[36] = "";
        uint8_t pg_ck[32], pg_sk[32];
        bool pg_keys = s->kind == BACKEND_POSTGRES && !password && r->has_pg_keys;
        if (s->kind == BACKEND_POSTGRES && !password)
            memcpy(pg_md5, r->pg_md5, sizeof(pg_md5));
        if (pg_keys) {
            memcpy(pg_ck, r->pg_client_key, sizeof(pg_ck));
            memcpy(pg_sk, r->pg_server_key, sizeof(pg_sk));
        }
        pthread_mutex_unlock(&r->lock);
        if (hashed && !pass) {
            char text[300];
            snprintf(text, sizeof(text),
                     "the auth file has only a hash for \"%s\": weir needs auth_user to log in "
                     "as that user",
                     r->user);
            connect_failed(s, "28000", text);
            return;
        }
        if (pass) {
            /*
             * Pass-through: weir knows the user's SHA1(password), not the
             * password. It logs in as auth_user (its password from the auth
             * file) and changes to the user with a token computed from it.
             */
            const char *aup = userlist_secret(weir.users, auth_user);
            password = aup && aup[0] != '*' ? strdup(aup) : NULL;
        }
        struct backend_params bp = {
            .host = name,
            .addr = name[0] == '/' ? NULL : addr,
            .port = port,
            .dbname = r->db->dbname,
            .user = r->user,
            .password = password,
            .application_name = "weir",
            .connect_timeout = 0,
            .client_flags =
                POOL_VARIANT_FLAGS(r->variant) & 0xffffffffu, /* the connector adds the rest */
            .charset =
                s->kind == BACKEND_MYSQL ? my_charset_name(POOL_VARIANT_CHARSET(r->variant)) : NULL,
            .init_sql = s->kind == BACKEND_MYSQL ? server_my_session_sql : NULL,
            .replication = pool_replication(r),
            .want_role = r->db->target_session_attrs != TSA_ANY,
            .switch_user = pass ? r->user : NULL,
            .switch_stage1 = pass ? stage1 : NULL,
            .md5_secret = pg_md5[0] ? pg_md5 : NULL,
            .scram_client_key = pg_keys ? pg_ck : NULL,
            .scram_server_key = pg_keys ? pg_sk : NULL,
        };
        if (pass)
            bp.user = auth_user;
        server_tls_params(cfg, r->db, &bp);
        char err[256];
        s->bc = s->ops->connect_start(&bp, err, sizeof(err));
        explicit_bzero(stage1, sizeof(stage1));
        explicit_bzero(pg_md5, sizeof(pg_md5));
        explicit_bzero(pg_ck, sizeof(pg_ck));
        explicit_bzero(pg_sk, sizeof(pg_sk));
        if (password) {
            explicit_bzero(password, strlen(password));
            free(password);
        }
        if (!s->bc) {
            host_walk_failed(s->walk, now, "08006", err);
            continue;
        }
        log_server(s, LOG_LVL_DEBUG, "connecting to %s", addr);
        server_login_step(s);
        return;
    }
}

void server_connect(struct worker *w, struct pool *r)
{
    const struct config *cfg = weir.cfg;
    struct server *s = calloc(1, sizeof(*s));
    if (s && !(s->walk = malloc(sizeof(*s->walk)))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        struct pool_step st;
        pool_connect_failed(r, w, "53200", "out of memory", &st);
        server_apply_step(w, r, &st);
        return;
    }
    s->w = w;
    s->pool = r;
    s->kind = r->db->backend;
    s->ops = s->kind == BACKEND_MYSQL ? &backend_mysql_ops : &backend_pg_ops;
    s->state = SV_CONNECTING;
    s->id = weir_next_id();
    s->fd = -1;
    s->created = ev_now(w->loop);
    s->deadline = s->created + cfg->server_connect_timeout;
    list_init(&s->idle_node);
    pg_out_init(&s->out);
    list_add_tail(&w->servers, &s->wnode);
    ev_io_init(&s->rio, server_read_cb, -1, 0);
    ev_io_init(&s->wio, server_write_cb, -1, EV_WRITE);
    pool_server_born(r, s);
    if (!host_walk_begin(s->walk, r->db, s->created)) {
        connect_failed(s, "53200", "out of memory");
        return;
    }
    log_server(s, LOG_LVL_DEBUG, "connecting");
    connect_next(s);
}

void server_dns_answered(struct worker *w)
{
    int n = 0;
    struct list *pos;
    for (pos = w->servers.next; pos != &w->servers; pos = pos->next) {
        struct server *s = list_entry(pos, struct server, wnode);
        n += s->state == SV_CONNECTING && s->dns_wait;
    }
    struct server **v = n ? malloc(sizeof(*v) * n) : NULL;
    if (!v)
        return; /* none waits, or out of memory: server_connect_timeout still ends the waits */
    int k = 0;
    for (pos = w->servers.next; pos != &w->servers; pos = pos->next) {
        struct server *s = list_entry(pos, struct server, wnode);
        if (s->state == SV_CONNECTING && s->dns_wait && k < n)
            v[k++] = s;
    }
    /*
     * connect_next may fail (free) the server it is given and start new
     * logins, but never frees another server: every one collected is still
     * there at its turn.
     */
    for (int i = 0; i < k; i++) {
        v[i]->dns_wait = false;
        connect_next(v[i]);
    }
    free(v);
}

/* server_connect_timeout passed for the current attempt (or the wait for a name). */
void server_login_timed_out(struct server *s)
{
    char text[320];
    if (s->dns_wait)
        snprintf(text, sizeof(text),
                 "server_connect_timeout: no answer from the name server for \"%s\"",
                 host_walk_waiting_for(s->walk));
    else
        snprintf(text, sizeof(text), "server_connect_timeout: the server did not answer in time");
    s->dns_wait = false;
    if (s->pool->db->nhosts > 1)
        log_server(s, LOG_LVL_WARNING, "login failed: %s", text);
    drop_attempt(s);
    host_walk_timeout(s->walk, ev_now(s->w->loop), text);
    connect_next(s);
}
