/*
 * client_my.c -- the MySQL/MariaDB client session: weir's HandshakeV10,
 * the client's HandshakeResponse41 (SSLRequest refused until TLS arrives),
 * mysql_native_password against the auth file (with an AuthSwitchRequest
 * for clients that start with another plugin), the wait for a server, the
 * OK that completes the login, then relaying (relay.c with relay_my.c).
 * The commands weir answers itself (KILL, COM_CHANGE_USER) are in
 * client_my_cmd.c.
 *
 * Framing: weir offers the capabilities a MariaDB server offers through
 * Connector/C (never CLIENT_DEPRECATE_EOF). The flags that change what the
 * server sends (and the character set) are part of the pool's key, so a
 * client only ever gets server connections opened with its own flags. What
 * Connector/C always negotiates and a client may lack (session tracking,
 * MariaDB's extended and cached metadata) is translated in relay_my.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/session/client_my_int.h"
#include "pooler/core/log.h"
#include "pooler/core/sendonce.h"
#include "pooler/session/relay.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_auth.h"
#include "protocol/mysql/my_cmd.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/pg/pg_startup.h"

#define MY_SERVER_VERSION  "5.5.5-10.11.0-MariaDB-weir"
#define MY_DEFAULT_CHARSET 45 /* utf8mb4_general_ci */

/* What weir offers clients: what MariaDB offers through Connector/C, less TLS and compression. */
#define MY_OFFERED_CAPS                                                                            \
    (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB |        \
     CLIENT_NO_SCHEMA | CLIENT_ODBC | CLIENT_IGNORE_SPACE | CLIENT_PROTOCOL_41 |                   \
     CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | \
     CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |                    \
     CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |           \
     CLIENT_RESERVED | CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_REMEMBER_OPTIONS |             \
     CLIENT_SESSION_TRACK | MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS |        \
     MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

/*
 * Flags a server connection must share with its client (they change replies
 * or framing). CLIENT_LOCAL_FILES is among them: a server connection that
 * may ask for a LOCAL INFILE file only serves clients that can send one.
 */
#define MY_POOL_CAPS                                                                               \
    (CLIENT_FOUND_ROWS | CLIENT_IGNORE_SPACE | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |    \
     CLIENT_PS_MULTI_RESULTS | CLIENT_SESSION_TRACK | CLIENT_INTERACTIVE | CLIENT_LOCAL_FILES |    \
     MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

/* What weir offers: LOCAL INFILE only when allow_local_infile is set. */
static uint64_t my_offered_caps(void)
{
    return MY_OFFERED_CAPS | (weir.cfg->allow_local_infile ? CLIENT_LOCAL_FILES : 0) |
           (client_tls_on() ? CLIENT_SSL : 0);
}

static void my_readable(struct client *c);

void client_my_queue(struct client *c, struct my_out *o)
{
    struct pg_out *out = client_out(c);
    pg_out_bytes(out, o->data, o->len);
    if (o->failed)
        out->failed = true;
    my_out_free(o);
}

bool client_my_reply(struct client *c, struct my_out *o)
{
    client_my_queue(c, o);
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return false;
    }
    return true;
}

/* PostgreSQL-style SQLSTATEs of weir's own errors, as MySQL error codes. */
static void my_error(struct client *c, const char *sqlstate, const char *msg)
{
    uint16_t code = 1927; /* ER_CONNECTION_KILLED */
    const char *state = "70100";
    if (!strcmp(sqlstate, "53300")) {
        code = 1040; /* ER_CON_COUNT_ERROR */
        state = "08004";
    } else if (!strcmp(sqlstate, "28P01") || !strcmp(sqlstate, "28000")) {
        code = 1045; /* ER_ACCESS_DENIED_ERROR */
        state = "28000";
    } else if (!strcmp(sqlstate, "08004")) {
        code = 1129; /* ER_HOST_IS_BLOCKED: refused after failed logins (auth_failure_limit) */
        state = "HY000";
    } else if (!strcmp(sqlstate, "3D000")) {
        code = 1049; /* ER_BAD_DB_ERROR */
        state = "42000";
    } else if (!strcmp(sqlstate, "42000")) {
        /* The server refused a login to the database (a "*" entry's name it does not have). */
        code = strstr(msg, "Access denied") ? 1044 /* ER_DBACCESS_DENIED_ERROR */
                                            : 1049 /* ER_BAD_DB_ERROR */;
        state = "42000";
    } else if (!strcmp(sqlstate, "08P01") && !c->welcomed) {
        code = 1043; /* ER_HANDSHAKE_ERROR */
        state = "08S01";
    } else if (!strcmp(sqlstate, "08P01") &&
               !strncmp(msg, MY_OUT_OF_ORDER, sizeof(MY_OUT_OF_ORDER) - 1)) {
        code = 1156; /* ER_NET_PACKETS_OUT_OF_ORDER, as the server would say */
        state = "08S01";
    } else if (!strcmp(sqlstate, "08P01") && !strncmp(msg, "query_wait_timeout", 18)) {
        code = 9001; /* no server became free in time: ProxySQL's code for the same wait */
        state = "HY000";
    } else if (!strcmp(sqlstate, "08P01") && !strncmp(msg, "client_idle_timeout", 19)) {
        code = 4031; /* ER_CLIENT_INTERACTION_TIMEOUT, as MySQL's server says for wait_timeout */
        state = "HY000";
    } else if (!strcmp(sqlstate, "08P01")) {
        code = 1835; /* ER_MALFORMED_PACKET */
        state = "HY000";
    } else if (!strcmp(sqlstate, "08001")) {
        /* weir could not reach or log in to the server: not the client's own connection. */
        code = 1429; /* ER_CONNECT_TO_FOREIGN_DATA_SOURCE */
        state = "HY000";
    } else if (!strcmp(sqlstate, "57014")) {
        code = 1317; /* ER_QUERY_INTERRUPTED */
    } else if (!strcmp(sqlstate, "57P01")) {
        code = 1053; /* ER_SERVER_SHUTDOWN */
        state = "08S01";
    }
    struct my_out o;
    my_out_init(&o);
    my_out_err(&o, c->welcomed ? 1 : c->my->seq, code, state, "%s", msg);
    client_my_queue(c, &o);
}

void client_my_free_state(struct client *c)
{
    if (c->auth) {
        explicit_bzero(c->auth, sizeof(struct my_auth_state));
        free(c->auth);
        c->auth = NULL;
    }
    client_my_forget_stage1(c);
}

/*
 * Does c->db name a MySQL database? Else c gets 1049 and is closed (false):
 * a PostgreSQL entry is never served on the MySQL port.
 */
bool client_my_db_usable(struct client *c)
{
    if (c->db && c->db->backend == BACKEND_MYSQL)
        return true;
    if (c->db)
        client_fail(c, "3D000",
                    "Unknown database '%s': it is a PostgreSQL database, served on weir's "
                    "PostgreSQL port",
                    c->dbname);
    else
        client_fail(c, "3D000", "Unknown database '%s'", c->dbname);
    return false;
}

/* The OK that completes the login. */
static void my_welcome(struct client *c)
{
    struct my_out o;
    my_out_init(&o);
    my_out_ok(&o, c->my->seq, c->my->caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    client_my_queue(c, &o);
    c->welcomed = true;
    c->last_active = ev_now(c->w->loop);
    if (weir.cfg->log_connections)
        log_client(c, LOG_LVL_INFO, "login (mysql, %s %s, thread id %u)",
                   c->pool ? config_pool_mode_name(c->pool->pool_mode) : "no database yet,",
                   c->pool ? "pooling" : "picked at its first command", c->cancel_pid);
}

static void my_server_ready(struct client *c)
{
    if (!c->welcomed)
        my_welcome(c);
    client_start_relay(c);
}

const struct client_proto client_my_proto = {
    .name = "mysql",
    .error = my_error,
    .server_ready = my_server_ready,
    .readable = my_readable,
    .free_state = client_my_free_state,
    .own_command = client_my_own_command,
    .kill_done = client_my_kill_done,
};

static void my_greet(struct client *c);

void client_my_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct client *c = client_new(w, fd, sa, &client_my_proto);
    if (!c)
        return;
    if (c->state == CL_PROXY) {
        /* The greeting waits for the balancer's header, which has usually arrived: read it. */
        client_watch(c, EV_READ, true);
        my_readable(c);
        return;
    }
    my_greet(c);
}

/* Sends weir's HandshakeV10 to a new client and waits for its answer. */
static void my_greet(struct client *c)
{
    struct worker *w = c->w;
    struct my_auth_state *as = calloc(1, sizeof(*as));
    if (!as || my_scramble_generate(as->scramble) != WR_OK) {
        free(as);
        client_fail(c, "53200", "out of memory");
        return;
    }
    c->auth = as;
    memcpy(c->my->scramble, as->scramble, MY_SCRAMBLE_LEN);
    /*
     * The thread id the client sees is its cancel pid: the worker is in its
     * top byte, so a KILL of it reaches the right worker from any other.
     */
    client_cancel_register(w, c);
    struct my_server_hello hello = {
        .server_version = MY_SERVER_VERSION,
        .conn_id = c->cancel_pid,
        .scramble = as->scramble,
        .caps = my_offered_caps() & ~CLIENT_MYSQL, /* a MariaDB server: extended caps follow */
        .charset = MY_DEFAULT_CHARSET,
        .status = SERVER_STATUS_AUTOCOMMIT,
        .auth_plugin = MY_NATIVE_PLUGIN,
    };
    struct my_out o;
    my_out_init(&o);
    my_out_handshake(&o, &hello);
    client_my_queue(c, &o);
    c->my->seq = 1;
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return;
    }
    client_watch(c, EV_READ, true);
}

/* Checks a mysql_native_password token against the auth file. */
bool client_my_check_token(struct client *c, const uint8_t *token, size_t len)
{
    if (weir.cfg->auth_type == AUTH_TRUST)
        return true;
    struct my_auth_state *as = c->auth;
    const char *secret = userlist_secret(weir.users, c->user);
    if (!secret)
        return false;
    struct my_native_secret ns;
    if (secret[0] == '*' && strlen(secret) == 41) {
        if (my_native_secret_parse(secret, &ns) != WR_OK)
            return false;
    } else if (!strncmp(secret, "md5", 3) || !strncmp(secret, "SCRAM-SHA-256$", 14)) {
        return false; /* PostgreSQL verifiers cannot check a MySQL token */
    } else {
        my_native_secret_from_password(secret, &ns);
    }
    /* Against a stored hash, the token also gives SHA1(password): weir can pass it on. */
    bool good = secret[0] == '*' ? my_native_check_stage1(&ns, as->scramble, token, len, as->stage1,
                                                          &as->has_stage1)
                                 : my_native_check(&ns, as->scramble, token, len);
    explicit_bzero(&ns, sizeof(ns));
    return good;
}

/* Logged in without taking a server: the OK goes out, the client waits idle. */
static void my_welcome_idle(struct client *c)
{
    my_welcome(c);
    c->state = CL_IDLE;
    c->deadline = 0;
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

/*
 * Joins the pool of (c->db, c->user) for c's framing; stage1, when not NULL,
 * is the user's SHA1(password) from its token (pass-through logins). False
 * when c failed (it is closed).
 */
static bool my_join_pool(struct client *c, const uint8_t *stage1)
{
    const char *password = NULL; /* the pool keeps a copy for its logins to the server */
    if (!c->db->user) {
        const char *secret = userlist_secret(weir.users, c->user);
        if (secret && secret[0] != '*' && strncmp(secret, "md5", 3) &&
            strncmp(secret, "SCRAM-SHA-256$", 14))
            password = secret;
    }
    uint64_t variant = (c->my->caps & MY_POOL_CAPS) | (uint64_t)c->my->charset << 48;
    c->pool = pool_get(c->db, c->user, variant, password);
    if (!c->pool) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    if (stage1 && !c->db->user)
        pool_set_stage1(c->pool, stage1);
    client_share_names(c);
    return true;
}

void client_my_forget_stage1(struct client *c)
{
    if (c->my && c->my->stage1) {
        explicit_bzero(c->my->stage1, 20);
        free(c->my->stage1);
        c->my->stage1 = NULL;
    }
}

void client_my_authenticated(struct client *c)
{
    struct my_auth_state *as = c->auth;
    uint8_t stage1[20];
    bool pass = as && as->has_stage1;
    if (pass)
        memcpy(stage1, as->stage1, sizeof(stage1));
    client_my_free_state(c);
    client_login_done(c);
    if (c->db == session_console_db(BACKEND_MYSQL)) {
        console_hooks.login(c);
        return;
    }
    if (!c->db) {
        /* No database yet: the first command that needs a server picks one (my_late_db). */
        if (pass && (c->my->stage1 = malloc(sizeof(stage1))))
            memcpy(c->my->stage1, stage1, sizeof(stage1));
        explicit_bzero(stage1, sizeof(stage1));
        my_welcome_idle(c);
        return;
    }
    bool joined = my_join_pool(c, pass ? stage1 : NULL);
    explicit_bzero(stage1, sizeof(stage1));
    if (!joined)
        return;
    struct param_set cached = {0};
    if (pool_welcome(c->pool, &cached)) {
        /*
         * A server of this pool logged in before: no need to wait, in any pool
         * mode; the client takes a server at its first command (session
         * pooling keeps it from then on).
         */
        param_clear_all(&cached);
        my_welcome_idle(c);
        return;
    }
    client_request_server(c, false);
}

/*
 * Sends an AuthSwitchRequest to mysql_native_password with the scramble in
 * c->auth and waits in CL_AUTH for the token (sequence id c->my->seq + 1).
 */
void client_my_auth_switch(struct client *c)
{
    client_my_auth_switch_to(c, MY_NATIVE_PLUGIN);
}

void client_my_auth_switch_to(struct client *c, const char *plugin)
{
    struct my_auth_state *as = c->auth;
    uint8_t data[MY_SCRAMBLE_LEN + 1];
    memcpy(data, as->scramble, MY_SCRAMBLE_LEN);
    data[MY_SCRAMBLE_LEN] = 0;
    struct my_out o;
    my_out_init(&o);
    my_out_auth_switch(&o, c->my->seq, plugin, data, sizeof(data));
    client_my_queue(c, &o);
    if (!strcmp(plugin, MY_SHA2_PLUGIN))
        as->sha2_switched = true;
    else
        as->switched = true;
    c->my->seq++; /* the sequence id of the client's answer */
    c->state = CL_AUTH;
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

/*
 * The first packet is an SSLRequest (my_tls_switch): TLS begins, with the
 * handshake bytes that came behind it (tls[0..n), still in c->in).
 */
static void my_tls_begin(struct client *c, const uint8_t *tls, size_t n)
{
    if (!client_tls_on())
        client_fail(c, "08P01", "bad handshake: TLS is not enabled (client_tls_sslmode)");
    else
        client_tls_start(c, tls, n, false);
}

/* A login without TLS where client_tls_sslmode requires it. */
static void my_tls_missing(struct client *c)
{
    client_fail(c, "28000", "TLS is required (client_tls_sslmode=%s): connect with --ssl",
                config_tls_mode_name(weir.cfg->client_tls_sslmode));
}

void client_my_verified(struct client *c, enum my_verify v)
{
    if (v == MY_VERIFY_OK) {
        client_my_authenticated(c);
    } else if (v == MY_VERIFY_DENIED) {
        client_auth_failed(c);
        client_fail(c, "28000", "Access denied for user '%s'", c->user);
    }
}

/* The HandshakeResponse41 (or SSLRequest) in b. */
static void my_handshake_response(struct client *c, const uint8_t *payload, uint32_t len,
                                  uint8_t seq)
{
    struct my_hs_response r;
    char err[200];
    if (my_hs_response_parse(payload, len, &r, err, sizeof(err)) != WR_OK) {
        client_fail(c, "08P01", "bad handshake: %s", err);
        return;
    }
    c->my->seq = seq + 1;
    if (r.ssl_request) { /* only after TLS began: a second one */
        client_fail(c, "08P01", "bad handshake: TLS requested twice");
        return;
    }
    if (!c->ssl && client_tls_required() && c->addr.family != AF_UNIX) {
        my_tls_missing(c);
        return;
    }
    c->my->caps = r.caps & my_offered_caps();
    c->my->charset = r.charset;
    if (!client_set_names(c, r.user, r.database ? r.database : "")) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    /*
     * Without a database there is no pool to serve the client from yet: its
     * first COM_INIT_DB (USE), or its first command that needs a server,
     * picks one (my_late_db). KILL needs none: that is how the mariadb CLI's
     * Ctrl-C arrives (a second connection without a database).
     */
    bool console = session_is_console_db(c->dbname);
    c->db = console        ? session_console_db(BACKEND_MYSQL)
            : c->dbname[0] ? config_find_db_for(weir.cfg, c->dbname, BACKEND_MYSQL)
                           : NULL;
    if (c->dbname[0] && !client_my_db_usable(c))
        return;
    if (c->over_limit && !console) {
        client_fail(c, "53300", "Too many connections (max_client_conn)");
        return;
    }
    if (!console && c->db && pool_db_disabled(c->db->name)) {
        client_fail(c, "3D000", "database does not allow connections: %s", c->db->name);
        return;
    }
    /* auth_type hba or cert: the rule (or the certificate) may settle it before any token */
    enum hba_method m = client_auth_method(c);
    if (m == HBA_NONE)
        return; /* refused and closed */
    if (m == HBA_TRUST) {
        client_my_authenticated(c);
        return;
    }
    bool native = !r.plugin || !strcmp(r.plugin, MY_NATIVE_PLUGIN);
    if (native) {
        client_my_verified(c, client_my_verify(c, r.auth, r.auth_len));
        return;
    }
    /* caching_sha2_password (MySQL 8 clients) where the auth file can serve it; else a switch */
    if (r.plugin && !strcmp(r.plugin, MY_SHA2_PLUGIN) &&
        client_my_sha2_begin(c, r.auth, r.auth_len))
        return;
    client_my_auth_switch(c);
}

static void my_login_input(struct client *c)
{
    struct iobuf *b = c->in;
    uint32_t len;
    uint8_t seq;
    const struct my_auth_state *as = c->auth;
    if (as && as->waiting) {
        client_fail(c, "08P01", "bad handshake: data while the login is being checked");
        return;
    }
    if (c->state == CL_STARTUP && !c->ssl) {
        /* The switch to TLS: its handshake may have come in the same read. */
        size_t at;
        char why[128];
        int t = my_tls_switch(b->data, b->recv, &at, &seq, why, sizeof(why));
        if (t == WR_AGAIN)
            return;
        if (t == WR_ERROR) {
            client_fail(c, "08P01", "bad handshake: %s", why);
            return;
        }
        if (t == WR_OK) {
            if (seq != c->my->seq) {
                client_fail(c, "08P01", "bad handshake: packet out of order");
                return;
            }
            c->my->seq = seq + 1;
            my_tls_begin(c, b->data + at, b->recv - at);
            return;
        }
    }
    if (my_pkt_peek(b->data, b->recv, &len, &seq) != WR_OK)
        return;
    if (len > MY_HS_RESPONSE_MAX || len + 4 > b->cap) {
        if (c->state == CL_STARTUP && client_unexpected_proxy(c, b->data, b->recv))
            return;
        client_fail(c, "08P01", "bad handshake: packet of %u bytes", len);
        return;
    }
    if (b->recv < 4 + len)
        return;
    if (b->recv > 4 + len) {
        client_fail(c, "08P01", "bad handshake: unexpected data after the login packet");
        return;
    }
    if (seq != c->my->seq) {
        client_fail(c, "08P01", "bad handshake: packet out of order");
        return;
    }
    struct worker *w = c->w;
    c->in = NULL; /* consumed whatever happens; c may be gone afterwards */
    if (c->state == CL_STARTUP) {
        my_handshake_response(c, b->data + 4, len, seq);
    } else if (as && (as->sha2_full || as->sha2_switched)) {
        c->my->seq = seq + 1;
        client_my_sha2_input(c, b->data + 4, len);
    } else {
        c->my->seq = seq + 1;
        client_my_verified(c, client_my_verify(c, b->data + 4, len));
    }
    buf_put(&w->bufs, b);
}

/* What my_late_db did with the command of a client without a database. */
enum late_db {
    LATE_NONE,     /* nothing: no USE and no mysql_default_database (ERR 1046 follows) */
    LATE_ANSWERED, /* answered here; the client stays idle */
    LATE_HOLD,     /* the command is not whole yet */
    LATE_WAITING,  /* a pool is picked and the command waits for its server, or c failed */
};

/*
 * A client that logged in without a database sent a command that needs a
 * server, at c->in's parsed offset (payload len). COM_INIT_DB, or a COM_QUERY
 * that is only `USE name`, picks that database's entry (the catch-all "*"
 * included) and so the pool, as a login naming it would have; any other
 * command gets mysql_default_database's entry. The USE itself then goes to
 * the server, which answers it; an entry whose dbname differs from its name
 * is answered here, its servers being there already.
 */
static enum late_db my_late_db(struct client *c, uint32_t len)
{
    struct iobuf *b = c->in;
    const uint8_t *p = b->data + b->parsed + 4;
    uint8_t cmd = len > 0 ? p[0] : 0;
    bool maybe_use = cmd == COM_INIT_DB || (cmd == COM_QUERY && len <= MY_DB_NAME_MAX * 2 + 16);
    if (cmd == COM_PING)
        return LATE_NONE; /* answered without a server */
    if (maybe_use && buf_unparsed(b) < 4 + len) {
        if (4 + len > b->cap) {
            client_fail(c, "08P01", "command packet of %u bytes too long", len);
            return LATE_WAITING;
        }
        return LATE_HOLD;
    }
    char name[MY_DB_NAME_MAX + 1];
    int use = maybe_use ? my_use_parse(p, len, name) : WR_DONE;
    if (use == WR_ERROR) {
        client_my_consume(c, len);
        return client_my_reply_err(c, 1102, "42000", "Incorrect database name") ? LATE_ANSWERED
                                                                                : LATE_WAITING;
    }
    const char *want = use == WR_OK ? name : weir.cfg->mysql_default_database;
    if (!want || !want[0])
        return LATE_NONE;
    const struct db_entry *db = config_find_db_for(weir.cfg, want, BACKEND_MYSQL);
    if (!db || db->backend != BACKEND_MYSQL || pool_db_disabled(db->name)) {
        client_my_consume(c, len);
        const char *why = !db                            ? ""
                          : db->backend != BACKEND_MYSQL ? ": it is a PostgreSQL database"
                                                         : ": it does not allow connections";
        bool open =
            use == WR_OK
                ? client_my_reply_err(c, 1049, "42000", "Unknown database '%s'%s", want, why)
                : client_my_reply_err(c, 1049, "42000",
                                      "Unknown database '%s'%s (mysql_default_database)", want,
                                      why);
        return open ? LATE_ANSWERED : LATE_WAITING;
    }
    if (!client_hba_allows(c, want)) {
        client_my_consume(c, len);
        log_client(c, LOG_LVL_INFO, "database %s refused by auth_hba_file", want);
        return client_my_reply_err(c, 1044, "42000",
                                   "Access denied for user '%s' to database '%s' (auth_hba_file)",
                                   c->user, want)
                   ? LATE_ANSWERED
                   : LATE_WAITING;
    }
    bool answer_here = use == WR_OK && strcmp(db->dbname, want);
    if (!client_set_names(c, NULL, want)) {
        client_fail(c, "53200", "out of memory");
        return LATE_WAITING;
    }
    c->db = db;
    bool joined = my_join_pool(c, c->my->stage1);
    client_my_forget_stage1(c);
    if (!joined)
        return LATE_WAITING;
    log_client(c, weir.cfg->log_connections ? LOG_LVL_INFO : LOG_LVL_DEBUG,
               "database %s picked after the login (%s, %s pooling)", db->name,
               use == WR_OK ? "USE" : "mysql_default_database",
               config_pool_mode_name(c->pool->pool_mode));
    if (answer_here) {
        client_my_consume(c, len);
        return client_my_reply_ok(c) ? LATE_ANSWERED : LATE_WAITING;
    }
    client_request_server(c, false);
    return LATE_WAITING;
}

/*
 * A logged-in client holding no server said something: answer what weir
 * answers itself, close on COM_QUIT, else ask for a server.
 */
void client_my_idle_input(struct client *c)
{
    while (c->in && c->state == CL_IDLE && !c->kill_wait) {
        struct iobuf *b = c->in;
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, buf_unparsed(b), &len, &seq) != WR_OK)
            return;
        if (seq != 0) {
            stats_error(c->w, c->pool, STATS_ERR_PROTOCOL);
            client_fail(c, "08P01", MY_OUT_OF_ORDER ": a command starts at sequence id 0, not %u",
                        seq);
            return;
        }
        if (len > 0 && buf_unparsed(b) >= 5 && b->data[b->parsed + 4] == COM_QUIT) {
            client_close(c, "client terminated the session");
            return;
        }
        int own = relay_my_own_command(b, len);
        if (own == WR_AGAIN) {
            client_hold_input(c);
            return;
        }
        if (own == WR_ERROR) {
            client_fail(c, "08P01", "command packet of %u bytes too long", len);
            return;
        }
        if (own == WR_DONE && c->pool && len == 5 && buf_unparsed(b) >= 9 &&
            b->data[b->parsed + 4] == COM_STMT_CLOSE && stmt_my_idle_close(c))
            continue; /* COM_STMT_CLOSE needs no server */
        if (own == WR_DONE && c->pool) {
            client_request_server(c, false);
            return;
        }
        if (own == WR_DONE) {
            /* Logged in without a database: USE or mysql_default_database picks one. */
            enum late_db late = my_late_db(c, len);
            if (late == LATE_HOLD)
                client_hold_input(c);
            if (late == LATE_HOLD || late == LATE_WAITING)
                return;
            if (late == LATE_ANSWERED)
                continue;
            if (4 + len > b->cap) {
                client_fail(c, "08P01", "command packet of %u bytes without a database", len);
                return;
            }
            if (buf_unparsed(b) < 4 + len) {
                client_hold_input(c);
                return;
            }
            bool ping = len > 0 && b->data[b->parsed + 4] == COM_PING;
            client_my_consume(c, len);
            if (!(ping ? client_my_reply_ok(c)
                       : client_my_reply_err(c, 1046, "3D000", "No database selected")))
                return;
            continue;
        }
        if (!client_my_own_command(c))
            return;
    }
}

static void my_readable(struct client *c)
{
    if (c->state == CL_ACTIVE) {
        relay_client_readable(c);
        return;
    }
    if (!client_read_input(c))
        return;
    switch (c->state) {
    case CL_PROXY:
        if (client_proxy_input(c) != WR_OK)
            break;
        if (c->in) {
            /* A MySQL client waits for the greeting: nothing of its own may come yet. */
            client_fail(c, "08P01", "data after the PROXY header, before weir's greeting");
            break;
        }
        my_greet(c);
        break;
    case CL_STARTUP:
    case CL_AUTH:
        my_login_input(c);
        break;
    case CL_IDLE:
        client_my_idle_input(c);
        break;
    case CL_WAITING:
    case CL_SETUP:
        client_hold_input(c);
        break;
    case CL_ADMIN:
        console_hooks.input(c);
        break;
    case CL_ACTIVE:
    case CL_TLS: /* client_io_cb calls client_tls_step instead */
        break;
    }
}
