/*
 * client_pg.c -- the PostgreSQL client session: startup packet (SSLRequest
 * answered 'S' and TLS started when client_tls_sslmode allows, else 'N';
 * direct TLS; GSSENCRequest answered 'N'; CancelRequest routed), authentication
 * against the auth file (trust, plain, md5, SCRAM-SHA-256), the wait for a
 * server, the welcome (the server's ParameterStatus values, weir's own
 * BackendKeyData, ReadyForQuery), then ACTIVE where relay.c takes over.
 *
 * Cancel keys: the BackendKeyData pid weir hands out carries the worker
 * number (and with peer_id, the peer id: client.c), so a cancel request
 * arriving on any worker is posted straight to the worker that owns the
 * client, or forwarded to the peer that does; no global table.
 */
#include "pooler/session/client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "pooler/core/log.h"
#include "pooler/core/sendonce.h"
#include "pooler/session/ps.h"
#include "pooler/session/relay.h"
#include "pooler/session/sess_pg.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/pg/pg_auth.h"
#include "protocol/pg/pg_startup.h"

#define AUTH_MSG_MAX 8192

enum auth_method { AM_NONE, AM_PLAIN, AM_MD5, AM_SCRAM };

struct auth_state {
    enum auth_method method;
    enum hba_method hba; /* the method the rules (or auth_type) chose */
    const char *secret;  /* from the auth file or looked up, or NULL (fails at the end) */
    char *looked_up;     /* the secret auth_query gave (owned), or NULL */
    bool waiting;        /* the user is being looked up on the server */
    bool from_cache;     /* the secret is a cached answer: forgotten if the login fails */
    char lookup_key[300];
    uint8_t salt[4];
    bool scram_started;
    struct scram_server scram; /* .plus: SCRAM-SHA-256-PLUS offered (a TLS client) */
};

static void auth_state_free(struct auth_state *as)
{
    scram_server_clear(&as->scram);
    if (as->looked_up) {
        explicit_bzero(as->looked_up, strlen(as->looked_up));
        free(as->looked_up);
    }
    explicit_bzero(as, sizeof(*as));
    free(as);
}

/* The client's tls-server-end-point channel binding data, or false when it has none. */
static bool channel_binding(struct client *c, uint8_t *out, size_t *len)
{
    uint8_t cb[EVP_MAX_MD_SIZE];
    size_t n = 0;
    if (!c->ssl || !tls_server_end_point(c->ssl, cb, &n) || n == 0 || n > SCRAM_CBIND_MAX)
        return false;
    memcpy(out, cb, n);
    *len = n;
    return true;
}

static void client_readable(struct client *c);

/* ---- cancel key table (per worker) ---- */

/* A cancel request for another peer of the group: sent on to it, one hop fewer. */
static void peer_cancel(struct worker *w, int peer, uint32_t pid, uint32_t key)
{
    const struct peer_entry *p = config_find_peer(weir.cfg, peer);
    if (!p) {
        log_info("cancel request for peer %d ignored: not in [peers]", peer);
        return;
    }
    if (!(key & CANCEL_TTL_MASK)) {
        log_warning("cancel request for peer %d dropped: forwarded too many times (do the "
                    "peer ids in [peers] match each process's peer_id?)",
                    peer);
        return;
    }
    struct pg_out o;
    pg_out_init(&o);
    pg_out_cancel_request(&o, pid, key - 1);
    char what[48];
    snprintf(what, sizeof(what), "cancel request for peer %d", peer);
    if (!o.failed &&
        send_once(w->loop, (const struct sockaddr *)&p->addr, p->addrlen, o.data, o.len, 5.0, what))
        log_info("cancel request forwarded to peer %d (%s:%d)", peer, p->host, p->port);
    pg_out_free(&o);
}

/* Is the connection from one of the [peers] (its address, any port), or over a unix socket? */
static bool from_peer(const struct client *c)
{
    if (c->addr.family == AF_UNIX)
        return true;
    for (int i = 0; i < weir.cfg->npeers; i++) {
        const struct sockaddr_storage *a = &weir.cfg->peers[i].addr;
        if (a->ss_family == AF_INET && c->addr.family == AF_INET &&
            !memcmp(&((const struct sockaddr_in *)a)->sin_addr, c->addr.ip, 4))
            return true;
        if (a->ss_family == AF_INET6 && c->addr.family == AF_INET6 &&
            !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, c->addr.ip, 16))
            return true;
    }
    return false;
}

/* Answers a peer's KILL request with one byte and closes (peer_kill). */
static void peer_kill_answer(struct client *c, int result)
{
    uint8_t b = result == KILL_OK       ? PG_PEER_KILL_OK
                : result == KILL_DENIED ? PG_PEER_KILL_DENIED
                                        : PG_PEER_KILL_UNKNOWN;
    (void)send(c->fd, &b, 1, MSG_NOSIGNAL); /* one byte on a fresh connection: it fits */
    client_close(c, "peer KILL answered");
}

/* The owning worker did the peer's KILL (client_kill_reply). */
static void peer_kill_done(struct client *c, uint32_t target, int result)
{
    c->kill_wait = false;
    peer_kill_answer(c, result);
}

/*
 * A MySQL KILL another weir of the group forwarded (its client asked to kill
 * a thread id this process handed out): done here as if asked locally, with
 * the same user check; only [peers] addresses and unix sockets may ask.
 */
static void peer_kill(struct client *c, const struct pg_startup *st)
{
    uint32_t pid = st->cancel_pid;
    bool connection = st->kill_flags & PG_PEER_KILL_CONNECTION;
    if (!weir.cfg->peer_id || !from_peer(c)) {
        client_fail(c, "08P01", "peer KILL request refused: %s",
                    weir.cfg->peer_id ? "not from a [peers] address" : "peer_id is not set");
        return;
    }
    log_client(c, LOG_LVL_INFO, "peer KILL %s %u for user \"%s\"",
               connection ? "CONNECTION" : "QUERY", pid, st->user);
    struct worker *tw = client_pid_worker(pid);
    if (!tw) {
        peer_kill_answer(c, KILL_UNKNOWN);
        return;
    }
    if (tw == c->w) {
        peer_kill_answer(c, client_kill(tw, pid, st->user, connection, NULL));
        return;
    }
    /* The owner answers with MSG_KILL_DONE, found again by this client's pid. */
    client_cancel_register(c->w, c);
    struct msg *m = msg_new(MSG_KILL);
    m->pid = pid;
    m->key = c->cancel_pid;
    m->client = c;
    m->arg = connection;
    snprintf(m->text, sizeof(m->text), "%s", st->user);
    c->kill_wait = true;
    worker_post(tw, m);
}

/* A CancelRequest arrived on worker w: route it to the owning worker or peer. */
static void pool_cancel(struct worker *w, uint32_t pid, uint32_t key)
{
    int peer = client_pid_peer(pid);
    if (peer && peer != weir.cfg->peer_id) {
        peer_cancel(w, peer, pid, key);
        return;
    }
    struct worker *target = client_pid_worker(pid);
    if (!target) {
        log_info("cancel request for unknown key %u ignored", pid);
        return;
    }
    if (target == w) {
        client_cancel_request(w, pid, key);
        return;
    }
    struct msg *m = msg_new(MSG_CANCEL);
    m->pid = pid;
    m->key = key;
    worker_post(target, m);
}

/* ---- output, errors, closing ---- */

/* ---- accept ---- */

void client_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct client *c = client_new(w, fd, sa, &client_pg_proto);
    if (!c)
        return;
    client_watch(c, EV_READ, true);
    /*
     * A PostgreSQL client speaks first, and by the time weir accepts, its
     * startup packet (or SSLRequest) has usually arrived: read it now rather
     * than after another trip through epoll_wait.
     */
    client_readable(c);
}

/* ---- login ---- */

/*
 * Finishes the login: the server parameters the client will see (its own
 * choices over the server's values), weir's BackendKeyData, ReadyForQuery.
 */
static void client_welcome(struct client *c, const struct param_set *server)
{
    for (int i = 0; i < PARAM_COUNT; i++) {
        const char *v =
            i < PARAM_NSETTABLE && c->want && c->want->v[i] ? c->want->v[i] : server->v[i];
        if (v)
            pg_out_param_status(client_out(c), param_name(i), v);
    }
    /*
     * What the client was told is what it keeps on every server it gets
     * later: a snapshot the pool's clients share while the values agree.
     */
    if (!(c->told = pool_told(c->pool, server)))
        client_out(c)->failed = true;
    pg_out_backend_key(client_out(c), c->cancel_pid, c->cancel_key);
    pg_out_ready(client_out(c), 'I');
    c->welcomed = true;
    c->last_active = ev_now(c->w->loop);
    if (weir.cfg->log_connections)
        log_client(c, LOG_LVL_INFO, "login (%s pooling, application_name=%s)",
                   config_pool_mode_name(c->pool->pool_mode),
                   client_param(c, PARAM_APPLICATION_NAME) ? client_param(c, PARAM_APPLICATION_NAME)
                                                           : "");
}

static void pg_server_ready(struct client *c)
{
    if (!c->welcomed)
        client_welcome(c, &c->server->params);
    client_start_relay(c);
}

/*
 * Authentication succeeded: say so, then queue for a server. password is
 * the one the client typed (plain authentication) or NULL; it is only read.
 */
static void client_authenticated(struct client *c, const char *password)
{
    struct auth_state *as = c->auth;
    c->auth = NULL;
    /*
     * Pass-through: without a password, the pool's logins use the secret the
     * client proved itself against, as PgBouncer does: the md5 secret, or
     * the ClientKey its SCRAM proof gave with the verifier's ServerKey.
     */
    const char *md5 = NULL;
    const uint8_t *ck = NULL, *sk = NULL;
    if (as && as->secret && !password) {
        enum pg_secret_kind kind = pg_secret_kind(as->secret);
        if (kind == PG_SECRET_PLAIN)
            password = as->secret;
        else if (kind == PG_SECRET_MD5)
            md5 = as->secret;
        else if (as->method == AM_SCRAM) {
            ck = as->scram.client_key;
            sk = as->scram.secret.server_key;
        }
    }
    client_login_done(c);
    if (c->db == session_console_db(BACKEND_POSTGRES)) {
        if (as)
            auth_state_free(as);
        console_hooks.login(c);
        return;
    }
    if (!password && !c->db->user) {
        const char *secret = userlist_secret(weir.users, c->user);
        if (secret && pg_secret_kind(secret) == PG_SECRET_PLAIN)
            password = secret;
    }
    /*
     * The pool keeps a copy of the password for its logins to the server. A
     * replication client gets a pool variant of its own, whose servers log in
     * with `replication` and are never handed to anyone else.
     */
    uint64_t variant = c->replication == 2   ? POOL_VARIANT_REPL_LOGICAL
                       : c->replication == 1 ? POOL_VARIANT_REPL_PHYSICAL
                                             : 0;
    c->pool = pool_get(c->db, c->user, variant, password);
    if (c->pool && !password && !c->db->user && (md5 || ck))
        pool_set_pg_secret(c->pool, md5, ck, sk);
    if (as)
        auth_state_free(as); /* password may point into it */
    password = NULL;
    if (!c->pool) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    if (variant && c->pool->pool_mode != POOL_SESSION) {
        client_fail(c, "08P01",
                    "replication connections need session pooling: database \"%s\" pools in %s "
                    "mode",
                    c->db->name, config_pool_mode_name(c->pool->pool_mode));
        return;
    }
    client_share_names(c);
    c->ps_on = ps_enabled_for(c->pool);
    pg_out_auth(client_out(c), 0, NULL, 0);
    if (!c->cancel_pid) /* else registered for a lookup's answer */
        client_cancel_register(c->w, c);
    struct param_set cached = {0};
    /* Settings from options are tried on a server first: one the server refuses fails the login. */
    bool welcomed = !variant && !sess_pg_has_login_settings(c) && pool_welcome(c->pool, &cached);
    if (welcomed) {
        /*
         * Log in on the parameters the last server of the pool reported, in
         * every pool mode: the client takes a server at its first message
         * (session pooling keeps it from then on). AuthenticationOk and the
         * welcome leave in one write.
         */
        client_welcome(c, &cached);
        param_clear_all(&cached);
        c->state = CL_IDLE;
        c->deadline = 0;
    }
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return;
    }
    if (!welcomed)
        client_request_server(c, false);
}

static void auth_failed(struct client *c, const char *why)
{
    struct auth_state *as = c->auth;
    if (as && as->from_cache)
        auth_lookup_forget(as->lookup_key); /* a changed password: the next login asks again */
    log_client(c, LOG_LVL_INFO, "authentication failed: %s", why);
    client_auth_failed(c);
    client_fail(c, "28P01", "password authentication failed for user \"%s\"", c->user);
}

/* Sends the authentication request for the method chosen and the secret known. */
static void start_exchange(struct client *c)
{
    struct auth_state *as = c->auth;
    enum hba_method m = as->hba;
    enum pg_secret_kind kind = as->secret ? pg_secret_kind(as->secret) : PG_SECRET_PLAIN;
    if (m == HBA_PASSWORD) {
        as->method = AM_PLAIN;
        pg_out_auth(client_out(c), 3, NULL, 0);
    } else if (m == HBA_MD5 && kind != PG_SECRET_SCRAM) {
        as->method = AM_MD5;
        uint32_t salt = client_random32();
        memcpy(as->salt, &salt, 4);
        pg_out_auth(client_out(c), 5, as->salt, 4);
    } else {
        /* scram-sha-256, or md5 asked with only a SCRAM verifier known (as PgBouncer does). */
        if (kind == PG_SECRET_MD5) {
            client_fail(c, "28000",
                        "SCRAM authentication needs a plain or SCRAM secret for user \"%s\"",
                        c->user);
            return;
        }
        as->method = AM_SCRAM;
        /* on TLS, channel binding first (PostgreSQL's order): libpq's channel_binding=require */
        static const char mechs[] = SCRAM_MECHANISM "\0";
        static const char both[] = SCRAM_MECHANISM_PLUS "\0" SCRAM_MECHANISM "\0";
        uint8_t cb[SCRAM_CBIND_MAX];
        size_t cbl;
        if (channel_binding(c, cb, &cbl))
            scram_server_channel_binding(&as->scram, cb, cbl, false);
        if (as->scram.plus == SCRAM_PLUS_OFFERED)
            pg_out_auth(client_out(c), 10, both, sizeof(both));
        else
            pg_out_auth(client_out(c), 10, mechs, sizeof(mechs));
    }
    c->state = CL_AUTH;
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

/* The first line of a lookup's answer as the secret ("" when the server gave none). */
static void take_looked_up(struct auth_state *as, const char *rows)
{
    size_t n = strcspn(rows, "\n");
    if (n == 0)
        return; /* no such user, no password, or an expired one (rolvaliduntil) */
    as->looked_up = strndup(rows, n);
    as->secret = as->looked_up;
}

/*
 * A user the auth file lacks, with auth_user and auth_query set: its secret
 * from the cache, or a lookup started (true: wait for client_pg_lookup_reply).
 */
static bool lookup_user(struct client *c)
{
    const struct config *cfg = weir.cfg;
    struct auth_state *as = c->auth;
    const char *auth_user = config_auth_user(cfg, c->db);
    if (!auth_user || !cfg->auth_query || !cfg->auth_query[0] ||
        c->db == session_console_db(BACKEND_POSTGRES))
        return false;
    const struct db_entry *db = c->db;
    const char *auth_dbname = config_auth_dbname(cfg, c->db);
    if (auth_dbname)
        db = config_find_db_for(cfg, auth_dbname, BACKEND_POSTGRES);
    if (!db || db->nhosts < 1 || db->backend != BACKEND_POSTGRES) {
        log_client(c, LOG_LVL_WARNING,
                   "cannot look user %s up: auth_dbname \"%s\" is no PostgreSQL database entry",
                   c->user, auth_dbname);
        return false;
    }
    auth_lookup_key(db, auth_user, c->user, as->lookup_key, sizeof(as->lookup_key));
    char rows[BACKEND_LOOKUP_MAX + 1];
    if (auth_lookup_cached(as->lookup_key, rows, sizeof(rows))) {
        take_looked_up(as, rows);
        as->from_cache = true;
        explicit_bzero(rows, sizeof(rows));
        return false;
    }
    /* auth_user logs in with its password or md5 secret from the auth file. */
    const char *aus = userlist_secret(weir.users, auth_user);
    enum pg_secret_kind kind = aus ? pg_secret_kind(aus) : PG_SECRET_PLAIN;
    if (kind == PG_SECRET_SCRAM) {
        log_client(c, LOG_LVL_WARNING,
                   "cannot look user %s up: auth_user %s has a SCRAM verifier in the auth file; "
                   "weir needs its password or md5 secret to log in as it",
                   c->user, auth_user);
        return false;
    }
    struct backend_params bp = {
        .host = db->hosts[0].name,
        .port = db->hosts[0].port,
        .dbname = db->dbname,
        .user = auth_user,
        .password = kind == PG_SECRET_PLAIN ? aus : NULL,
        .md5_secret = kind == PG_SECRET_MD5 ? aus : NULL,
    };
    server_tls_params(cfg, db, &bp);
    if (!c->cancel_pid)
        client_cancel_register(c->w, c); /* the answer finds the client by its pid */
    if (!auth_lookup_start(c, &backend_pg_ops, &bp, cfg->auth_query, as->lookup_key))
        return false;
    as->waiting = true;
    c->state = CL_AUTH;
    return true;
}

void client_pg_lookup_reply(struct client *c, const struct msg *m)
{
    struct auth_state *as = c->auth;
    if (!as || !as->waiting)
        return;
    as->waiting = false;
    if (m->arg)
        log_client(c, LOG_LVL_WARNING, "looking user %s up failed: %s", c->user, m->text);
    else
        take_looked_up(as, m->text);
    start_exchange(c); /* without a secret it fails at the end, as for an unknown user */
}

/* Chooses and starts the authentication exchange for a parsed startup. */
static void client_start_auth(struct client *c)
{
    enum hba_method m = client_auth_method(c);
    if (m == HBA_NONE)
        return; /* refused and closed */
    if (m == HBA_TRUST) {
        client_authenticated(c, NULL);
        return;
    }
    struct auth_state *as = calloc(1, sizeof(*as));
    if (!as) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    c->auth = as;
    as->hba = m;
    as->secret = userlist_secret(weir.users, c->user);
    if (!as->secret && lookup_user(c))
        return;
    start_exchange(c);
}

/* Why a user has no secret, for the log. */
static const char *no_secret(const struct auth_state *as)
{
    return as->lookup_key[0] ? "auth_query gave no secret (no such user, no password, an expired "
                               "one, or the lookup failed)"
                             : "user not in auth_file";
}

static bool check_plain(struct client *c, const char *password)
{
    struct auth_state *as = c->auth;
    if (!as->secret)
        return false;
    switch (pg_secret_kind(as->secret)) {
    case PG_SECRET_PLAIN:
        return strlen(password) == strlen(as->secret) &&
               CRYPTO_memcmp(password, as->secret, strlen(password)) == 0;
    case PG_SECRET_MD5: {
        char md5[PG_MD5_LEN + 1];
        pg_md5_secret(password, c->user, md5);
        return strcmp(md5, as->secret) == 0;
    }
    case PG_SECRET_SCRAM: {
        struct scram_secret ss;
        return scram_parse_verifier(as->secret, &ss) == WR_OK && scram_check_plain(&ss, password);
    }
    }
    return false;
}

/* Loads the SCRAM secret: the stored verifier, a derived one, or a mock for unknown users. */
static int scram_secret_for(struct client *c, struct scram_secret *ss)
{
    struct auth_state *as = c->auth;
    if (as->secret && pg_secret_kind(as->secret) == PG_SECRET_SCRAM)
        return scram_parse_verifier(as->secret, ss);
    if (as->secret)
        return scram_secret_generate(as->secret, ss);
    char mock[33];
    snprintf(mock, sizeof(mock), "%08x%08x%08x%08x", client_random32(), client_random32(),
             client_random32(), client_random32());
    return scram_secret_generate(mock, ss);
}

/* One authentication message ('p') whose body is body[0..len). */
static void client_auth_message(struct client *c, const uint8_t *body, uint32_t len)
{
    struct auth_state *as = c->auth;
    struct pg_in in;
    pg_in_init(&in, body, len);
    switch (as->method) {
    case AM_PLAIN: {
        const char *pw = pg_in_str(&in);
        if (!pw || !pg_in_done(&in)) {
            client_fail(c, "08P01", "invalid password packet");
            return;
        }
        if (!check_plain(c, pw)) {
            auth_failed(c, as->secret ? "wrong password" : no_secret(as));
            return;
        }
        client_authenticated(c, pw);
        return;
    }
    case AM_MD5: {
        const char *resp = pg_in_str(&in);
        if (!resp || !pg_in_done(&in)) {
            client_fail(c, "08P01", "invalid password packet");
            return;
        }
        if (!as->secret) {
            auth_failed(c, no_secret(as));
            return;
        }
        char md5[PG_MD5_LEN + 1];
        const char *stored = as->secret;
        if (pg_secret_kind(stored) == PG_SECRET_PLAIN) {
            pg_md5_secret(stored, c->user, md5);
            stored = md5;
        }
        if (!pg_md5_check(stored, as->salt, resp)) {
            auth_failed(c, "wrong password");
            return;
        }
        client_authenticated(c, NULL);
        return;
    }
    case AM_SCRAM: {
        char out[512];
        size_t out_len = 0;
        if (!as->scram_started) {
            const char *mech = pg_in_str(&in);
            uint32_t n = pg_in_int32(&in);
            const uint8_t *data = in.failed ? NULL : pg_in_bytes(&in, n);
            if (!mech || !data || !pg_in_done(&in)) {
                client_fail(c, "08P01", "malformed SASLInitialResponse");
                return;
            }
            bool plus = as->scram.plus == SCRAM_PLUS_OFFERED && !strcmp(mech, SCRAM_MECHANISM_PLUS);
            if (!plus && strcmp(mech, SCRAM_MECHANISM) != 0) {
                client_fail(c, "08P01", "unsupported SASL mechanism");
                return;
            }
            if (plus)
                scram_server_choose_plus(&as->scram);
            struct scram_secret ss;
            if (scram_secret_for(c, &ss) != WR_OK ||
                scram_server_first(&as->scram, &ss, data, n, out, sizeof(out), &out_len) != WR_OK) {
                explicit_bzero(&ss, sizeof(ss));
                client_fail(c, "08P01", "malformed SCRAM message");
                return;
            }
            explicit_bzero(&ss, sizeof(ss));
            as->scram_started = true;
            pg_out_auth(client_out(c), 11, out, out_len);
        } else {
            int rc = scram_server_final(&as->scram, body, len, out, sizeof(out), &out_len);
            if (rc == WR_ERROR) {
                client_fail(c, "08P01", "malformed SCRAM message");
                return;
            }
            if (rc == WR_DONE || !as->secret) {
                auth_failed(c, as->secret ? "wrong password" : no_secret(as));
                return;
            }
            pg_out_auth(client_out(c), 12, out, out_len);
            client_authenticated(c, NULL);
            return;
        }
        if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
            client_close(c, "cannot write to client");
        return;
    }
    default:
        client_fail(c, "08P01", "unexpected authentication message");
    }
}

/* Everything in a startup packet that is not a parameter weir forwards. */
static bool startup_params(struct client *c, const struct pg_startup *st)
{
    for (int i = 0; i < st->nparams; i++) {
        const char *name = st->params[i].name, *value = st->params[i].value;
        if (!strcmp(name, "user") || !strcmp(name, "database"))
            continue;
        int id = param_lookup(name);
        if (id >= 0 && id < PARAM_NSETTABLE) {
            if (!client_want_set(c, id, value)) {
                client_fail(c, "53200", "out of memory");
                return false;
            }
        } else if (!strcmp(name, "options")) {
            if (!sess_pg_login_options(c, value))
                return false;
        } else if (!strcmp(name, "replication")) {
            /* The values PostgreSQL takes (parse_bool's spellings, and "database"). */
            if (!strcasecmp(value, "database")) {
                c->replication = 2;
            } else if (!strcasecmp(value, "true") || !strcasecmp(value, "on") ||
                       !strcasecmp(value, "yes") || !strcmp(value, "1")) {
                c->replication = 1;
            } else if (!strcasecmp(value, "false") || !strcasecmp(value, "off") ||
                       !strcasecmp(value, "no") || !strcmp(value, "0")) {
                c->replication = 0;
            } else {
                client_fail(c, "22023", "invalid value for parameter \"replication\": \"%s\"",
                            value);
                return false;
            }
        } else {
            log_client(c, LOG_LVL_DEBUG, "startup parameter %s ignored", name);
        }
    }
    return true;
}

/*
 * A client that asks for a newer minor version of protocol 3 (PostgreSQL
 * 18's libpq can ask for 3.2) or sends protocol options (`_pq_.*`) is told,
 * as the server tells it, that weir speaks 3.0 and none of those options;
 * it then goes on in 3.0 or hangs up. Sent before authentication, as the
 * server does; it leaves with the first authentication message.
 */
static void negotiate_version(struct client *c, const struct pg_startup *st)
{
    const char *options[PG_STARTUP_MAX_PARAMS];
    int n = 0;
    for (int i = 0; i < st->nparams; i++)
        if (!strncmp(st->params[i].name, "_pq_.", 5))
            options[n++] = st->params[i].name;
    if ((st->code & 0xffff) == 0 && n == 0)
        return;
    log_client(c, LOG_LVL_DEBUG,
               "client asked for protocol 3.%u with %d protocol options: 3.0 offered",
               st->code & 0xffff, n);
    pg_out_negotiate_version(client_out(c), 0, options, n);
}

static void client_startup(struct client *c)
{
    struct iobuf *b = c->in;
    struct pg_startup st;
    char err[200];
    if (b->recv > 0 && b->data[0] == PG_TLS_HANDSHAKE && !c->ssl && client_tls_on()) {
        /* PostgreSQL 17's direct TLS: a ClientHello where a startup packet's length would be. */
        client_tls_start(c, b->data, b->recv, true);
        return;
    }
    int rc = pg_startup_parse(b->data, b->recv, &st, err, sizeof(err));
    if (rc == WR_AGAIN)
        return;
    if (rc == WR_ERROR) {
        if (!client_unexpected_proxy(c, b->data, b->recv))
            client_fail(c, "08P01", "%s", err);
        return;
    }
    bool extra = b->recv > st.pkt_len;
    switch (st.kind) {
    case PG_STARTUP_SSL:
    case PG_STARTUP_GSSENC: {
        if (extra) {
            /* Bytes sent before our answer could be injected by a man in the middle. */
            client_fail(c, "08P01", "received unencrypted data after %s request",
                        st.kind == PG_STARTUP_SSL ? "SSL" : "GSSAPI encryption");
            return;
        }
        b->recv = 0;
        bool tls = st.kind == PG_STARTUP_SSL && !c->ssl && client_tls_on();
        const uint8_t answer = tls ? 'S' : 'N';
        pg_out_bytes(client_out(c), &answer, 1);
        int wrc = client_flush_out(c);
        if (wrc == WR_ERROR || (tls && wrc != WR_OK)) {
            /* One byte into a fresh socket: full only when something is badly wrong. */
            client_close(c, "cannot write to client");
            return;
        }
        if (tls)
            client_tls_start(c, NULL, 0, false);
        return;
    }
    case PG_STARTUP_PEER_KILL:
        b->recv = 0;
        peer_kill(c, &st);
        return;
    case PG_STARTUP_CANCEL:
        pool_cancel(c->w, st.cancel_pid, st.cancel_key);
        client_close(c, "cancel request handled");
        return;
    case PG_STARTUP_BAD_VERSION:
        client_fail(c, "0A000", "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
                    st.code >> 16, st.code & 0xffff);
        return;
    case PG_STARTUP_NORMAL:
        break;
    }
    if (extra) {
        client_fail(c, "08P01", "unexpected data after the startup packet");
        return;
    }
    if (!c->ssl && client_tls_required() && c->addr.family != AF_UNIX) {
        client_fail(c, "28000",
                    "TLS is required (client_tls_sslmode=%s): connect with sslmode=require",
                    config_tls_mode_name(weir.cfg->client_tls_sslmode));
        return;
    }
    if (!client_set_names(c, st.user, st.database)) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    if (!startup_params(c, &st))
        return;
    if (!sess_pg_login_done(c)) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    negotiate_version(c, &st);
    buf_put(&c->w->bufs, c->in);
    c->in = NULL;
    bool console = session_is_console_db(c->dbname);
    c->db = console ? session_console_db(BACKEND_POSTGRES)
                    : config_find_db_for(weir.cfg, c->dbname, BACKEND_POSTGRES);
    if (!c->db) {
        client_fail(c, "3D000", "database \"%s\" does not exist", c->dbname);
        return;
    }
    if (!console && c->db->backend != BACKEND_POSTGRES) {
        /* Its servers speak MySQL: nothing of this session could go to them. */
        client_fail(c, "3D000", "database \"%s\" is a MySQL database, served on weir's MySQL port",
                    c->dbname);
        return;
    }
    if (c->over_limit && !console) {
        client_fail(c, "53300", "no more connections allowed (max_client_conn)");
        return;
    }
    if (!console && pool_db_disabled(c->db->name)) {
        client_fail(c, "08P01", "database does not allow connections: %s", c->db->name);
        return;
    }
    if (weir.cfg->auth_type != AUTH_TRUST && weir.cfg->auth_type != AUTH_CERT && !weir.users) {
        client_fail(c, "28000", "no auth_file loaded");
        return;
    }
    client_start_auth(c);
}

static void client_auth_input(struct client *c)
{
    struct iobuf *b = c->in;
    char type;
    uint32_t body;
    int rc = pg_msg_peek(b->data, b->recv, AUTH_MSG_MAX, &type, &body);
    if (rc == WR_AGAIN || (rc == WR_OK && b->recv < PG_HDR_LEN + body))
        return;
    if (rc == WR_ERROR || type != 'p') {
        client_fail(c, "08P01", "expected a password message");
        return;
    }
    if (b->recv > PG_HDR_LEN + body) {
        client_fail(c, "08P01", "unexpected data after the password message");
        return;
    }
    /* The message is consumed whatever happens; c may be gone afterwards. */
    struct worker *w = c->w;
    c->in = NULL;
    client_auth_message(c, b->data + PG_HDR_LEN, body);
    buf_put(&w->bufs, b);
}

/*
 * A logged-in client holding no server (transaction pooling) said something.
 * A Terminate needs no server, a message the protocol does not allow gets
 * none; anything else waits for one.
 */
static void client_idle_input(struct client *c)
{
    const struct iobuf *b = c->in;
    char type, why[160];
    uint32_t body;
    int rc = pg_msg_peek(b->data, b->recv, BUF_MAX_BODY, &type, &body);
    if (rc == WR_ERROR || (rc == WR_OK && !relay_pg_check(type, body, false, why, sizeof(why)))) {
        stats_error(c->w, c->pool, STATS_ERR_PROTOCOL);
        client_fail(c, "08P01", "%s", rc == WR_ERROR ? "invalid message length from client" : why);
        return;
    }
    if (rc == WR_OK && type == 'X')
        client_close(c, "client terminated the session");
    else if (!(rc == WR_OK && type == 'P' && c->ps_on && ps_idle_parse(c)))
        client_request_server(c, false);
}

static void client_readable(struct client *c)
{
    if (c->state == CL_ACTIVE) {
        relay_client_readable(c);
        return;
    }
    if (!client_read_input(c))
        return;
    switch (c->state) {
    case CL_IDLE:
        client_idle_input(c);
        break;
    case CL_PROXY:
        if (client_proxy_input(c) == WR_OK && c->in)
            client_startup(c); /* the startup packet came with the header */
        break;
    case CL_STARTUP:
        client_startup(c);
        break;
    case CL_AUTH:
        client_auth_input(c);
        break;
    case CL_TLS: /* client_io_cb calls client_tls_step instead */
        break;
    case CL_WAITING:
    case CL_SETUP:
        client_hold_input(c);
        break;
    case CL_ADMIN:
        console_hooks.input(c);
        break;
    case CL_ACTIVE:
        break;
    }
}

static void pg_error(struct client *c, const char *sqlstate, const char *msg)
{
    pg_out_error(client_out(c), "FATAL", sqlstate, "%s", msg);
}

static void pg_free_state(struct client *c)
{
    if (c->auth) {
        auth_state_free(c->auth);
        c->auth = NULL;
    }
}

const struct client_proto client_pg_proto = {
    .name = "postgres",
    .error = pg_error,
    .server_ready = pg_server_ready,
    .readable = client_readable,
    .free_state = pg_free_state,
    .kill_done = peer_kill_done,
};
