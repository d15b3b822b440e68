/*
 * client_my.c -- the MySQL/MariaDB client session: weir's HandshakeV10,
 * the client's HandshakeResponse41 (SSLRequest refused until TLS arrives),
 * mysql_native_password against the auth file (with an AuthSwitchRequest
 * for clients that start with another plugin), the wait for a server, the
 * OK that completes the login, then relaying (relay.c with relay_my.c).
 *
 * Framing: weir offers the capabilities a MariaDB server offers through
 * Connector/C (never CLIENT_DEPRECATE_EOF). The flags that change what the
 * server sends (and the character set) are part of the route's key, so a
 * client only ever gets server connections opened with its own flags. What
 * Connector/C always negotiates and a client may lack (session tracking,
 * MariaDB's extended and cached metadata) is translated in relay_my.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/admin.h"
#include "pooler/client.h"
#include "pooler/log.h"
#include "pooler/relay.h"
#include "pooler/route.h"
#include "pooler/server.h"
#include "pooler/worker.h"
#include "protocol/mysql/my_auth.h"
#include "protocol/mysql/my_handshake.h"

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

/* Flags a server connection must share with its client (they change replies or framing). */
#define MY_ROUTE_CAPS                                                                              \
    (CLIENT_FOUND_ROWS | CLIENT_IGNORE_SPACE | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |    \
     CLIENT_PS_MULTI_RESULTS | CLIENT_SESSION_TRACK | CLIENT_INTERACTIVE |                         \
     MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

struct my_auth_state {
    uint8_t scramble[MY_SCRAMBLE_LEN];
    bool switched; /* an AuthSwitchRequest was sent */
};

static void my_read_cb(struct ev_loop *loop, ev_io *io, int revents);

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
    } else if (!strcmp(sqlstate, "3D000")) {
        code = 1049; /* ER_BAD_DB_ERROR */
        state = "42000";
    } else if (!strcmp(sqlstate, "08P01") && !c->welcomed) {
        code = 1043; /* ER_HANDSHAKE_ERROR */
        state = "08S01";
    } else if (!strcmp(sqlstate, "57014")) {
        code = 1317; /* ER_QUERY_INTERRUPTED */
    } else if (!strcmp(sqlstate, "57P01")) {
        code = 1053; /* ER_SERVER_SHUTDOWN */
        state = "08S01";
    }
    struct my_out o;
    my_out_init(&o);
    my_out_err(&o, c->welcomed ? 1 : c->my_seq, code, state, "%s", msg);
    pg_out_bytes(&c->out, o.data, o.len);
    if (o.failed)
        c->out.failed = true;
    my_out_free(&o);
}

static void my_free_state(struct client *c)
{
    if (c->auth) {
        explicit_bzero(c->auth, sizeof(struct my_auth_state));
        free(c->auth);
        c->auth = NULL;
    }
}

/* The OK that completes the login. */
static void my_welcome(struct client *c)
{
    struct my_out o;
    my_out_init(&o);
    my_out_ok(&o, c->my_seq, c->my_caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    pg_out_bytes(&c->out, o.data, o.len);
    if (o.failed)
        c->out.failed = true;
    my_out_free(&o);
    c->welcomed = true;
    c->last_active = ev_now(c->w->loop);
    if (weir.cfg->log_connections)
        log_client(c, LOG_LVL_INFO, "login (mysql, %s pooling)",
                   config_pool_mode_name(c->route->pool_mode));
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
    .free_state = my_free_state,
};

void client_my_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct client *c = client_new(w, fd, sa, &client_my_proto, my_read_cb, client_write_cb);
    if (!c)
        return;
    struct my_auth_state *as = calloc(1, sizeof(*as));
    if (!as || my_scramble_generate(as->scramble) != WR_OK) {
        free(as);
        client_fail(c, "53200", "out of memory");
        return;
    }
    c->auth = as;
    struct my_server_hello hello = {
        .server_version = MY_SERVER_VERSION,
        .conn_id = (uint32_t)c->id,
        .scramble = as->scramble,
        .caps = MY_OFFERED_CAPS & ~CLIENT_MYSQL, /* a MariaDB server: extended caps follow */
        .charset = MY_DEFAULT_CHARSET,
        .status = SERVER_STATUS_AUTOCOMMIT,
        .auth_plugin = MY_NATIVE_PLUGIN,
    };
    struct my_out o;
    my_out_init(&o);
    my_out_handshake(&o, &hello);
    pg_out_bytes(&c->out, o.data, o.len);
    if (o.failed)
        c->out.failed = true;
    my_out_free(&o);
    c->my_seq = 1;
    if (c->out.failed || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return;
    }
    ev_io_start(w->loop, &c->rio);
}

/* Checks a mysql_native_password token against the auth file. */
static bool my_check_token(struct client *c, const uint8_t *token, size_t len)
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
    bool good = my_native_check(&ns, as->scramble, token, len);
    explicit_bzero(&ns, sizeof(ns));
    return good;
}

static void my_authenticated(struct client *c)
{
    my_free_state(c);
    if (c->db == admin_db_entry(BACKEND_MYSQL)) {
        admin_login(c);
        return;
    }
    if (!c->db->user) {
        const char *secret = userlist_secret(weir.users, c->user);
        if (secret && secret[0] != '*' && strncmp(secret, "md5", 3) &&
            strncmp(secret, "SCRAM-SHA-256$", 14))
            c->backend_password = strdup(secret);
    }
    uint64_t variant = (c->my_caps & MY_ROUTE_CAPS) | (uint64_t)c->my_charset << 48;
    c->route = route_get(c->db, c->user, variant, c->backend_password);
    if (!c->route) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    struct param_set cached = {0};
    if (c->route->pool_mode != POOL_SESSION && route_welcome(c->route, &cached)) {
        /* Transaction pooling, and a server of this pool logged in before: no need to wait. */
        param_clear_all(&cached);
        my_welcome(c);
        c->state = CL_IDLE;
        c->deadline = 0;
        if (c->out.failed || client_flush_out(c) == WR_ERROR)
            client_close(c, "cannot write to client");
        return;
    }
    client_request_server(c, false);
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
    c->my_seq = seq + 1;
    if (r.ssl_request) {
        client_fail(c, "08P01", "TLS is not supported by weir yet: connect without SSL");
        return;
    }
    c->my_caps = r.caps & MY_OFFERED_CAPS;
    c->my_charset = r.charset;
    if (!(c->user = strdup(r.user)) || !(c->dbname = strdup(r.database ? r.database : ""))) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    if (!r.database || !r.database[0]) {
        client_fail(c, "3D000", "weir needs a database name in the connection");
        return;
    }
    bool console = admin_is_console_db(c->dbname);
    c->db = console ? admin_db_entry(BACKEND_MYSQL) : config_find_db(weir.cfg, c->dbname);
    if (!c->db || c->db->backend != BACKEND_MYSQL) {
        client_fail(c, "3D000", "Unknown database '%s'", c->dbname);
        return;
    }
    if (c->over_limit && !console) {
        client_fail(c, "53300", "Too many connections (max_client_conn)");
        return;
    }
    if (!console && route_db_disabled(c->db->name)) {
        client_fail(c, "3D000", "database does not allow connections: %s", c->db->name);
        return;
    }
    bool native = !r.plugin || !strcmp(r.plugin, MY_NATIVE_PLUGIN);
    if (native) {
        if (!my_check_token(c, r.auth, r.auth_len)) {
            client_fail(c, "28000", "Access denied for user '%s'", c->user);
            return;
        }
        my_authenticated(c);
        return;
    }
    /* Another plugin (caching_sha2_password from a MySQL 8 client): switch to ours. */
    struct my_auth_state *as = c->auth;
    uint8_t data[MY_SCRAMBLE_LEN + 1];
    memcpy(data, as->scramble, MY_SCRAMBLE_LEN);
    data[MY_SCRAMBLE_LEN] = 0;
    struct my_out o;
    my_out_init(&o);
    my_out_auth_switch(&o, c->my_seq, MY_NATIVE_PLUGIN, data, sizeof(data));
    pg_out_bytes(&c->out, o.data, o.len);
    my_out_free(&o);
    as->switched = true;
    c->state = CL_AUTH;
    if (c->out.failed || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

static void my_login_input(struct client *c)
{
    struct iobuf *b = c->in;
    uint32_t len;
    uint8_t seq;
    if (my_pkt_peek(b->data, b->recv, &len, &seq) != WR_OK)
        return;
    if (len > MY_HS_RESPONSE_MAX || len + 4 > b->cap) {
        client_fail(c, "08P01", "bad handshake: packet of %u bytes", len);
        return;
    }
    if (b->recv < 4 + len)
        return;
    if (b->recv > 4 + len) {
        client_fail(c, "08P01", "bad handshake: unexpected data after the login packet");
        return;
    }
    if (seq != c->my_seq) {
        client_fail(c, "08P01", "bad handshake: packet out of order");
        return;
    }
    struct worker *w = c->w;
    c->in = NULL; /* consumed whatever happens; c may be gone afterwards */
    if (c->state == CL_STARTUP) {
        my_handshake_response(c, b->data + 4, len, seq);
    } else {
        c->my_seq = seq + 1;
        if (!my_check_token(c, b->data + 4, len))
            client_fail(c, "28000", "Access denied for user '%s'", c->user);
        else
            my_authenticated(c);
    }
    buf_put(&w->bufs, b);
}

static void my_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct client *c = (struct client *)((char *)io - offsetof(struct client, rio));
    if (c->state == CL_ACTIVE) {
        relay_client_readable(c);
        return;
    }
    if (!client_read_input(c))
        return;
    switch (c->state) {
    case CL_STARTUP:
    case CL_AUTH:
        my_login_input(c);
        break;
    case CL_IDLE:
        /* A COM_QUIT needs no server; anything else does. */
        if (c->in->recv >= 5 && c->in->data[3] == 0 && c->in->data[4] == COM_QUIT)
            client_close(c, "client terminated the session");
        else
            client_request_server(c, false);
        break;
    case CL_WAITING:
    case CL_SETUP:
        client_hold_input(c);
        break;
    case CL_ADMIN:
        admin_input(c);
        break;
    case CL_ACTIVE:
        break;
    }
}
