/*
 * client_my_cmd.c -- the MySQL commands weir answers itself, without a
 * server or before one: KILL [QUERY|CONNECTION] and COM_PROCESS_KILL (on
 * this worker, another one, or another peer of the group), COM_CHANGE_USER
 * (the session ends as if the client had left, then a new login), and what
 * a client without a server may send.
 */
#include "pooler/session/client_my_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/config.h"
#include "pooler/core/log.h"
#include "pooler/core/sendonce.h"
#include "pooler/core/worker.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/session/relay.h"
#include "pooler/session/stmt_my.h"
#include "protocol/mysql/my_auth.h"
#include "protocol/mysql/my_cmd.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/pg/pg_startup.h"

/* ---- commands weir answers itself: KILL, COM_PROCESS_KILL, COM_CHANGE_USER ---- */

/* Takes the whole packet at c->in->parsed (payload len) out of the client's input. */
void client_my_consume(struct client *c, uint32_t len)
{
    struct iobuf *b = c->in;
    b->parsed += 4 + len;
    b->sent = b->parsed; /* never forwarded: weir answered it */
    if (b->parsed == b->recv) {
        buf_put(&c->w->bufs, b);
        c->in = NULL;
    } else {
        buf_compact(b);
    }
}

/* Status flags for weir's own OK to a logged-in client: those of its server's last answer. */
static uint16_t my_status(const struct client *c)
{
    if (c->server && c->server->my.status)
        return c->server->my.status & ~(SERVER_MORE_RESULTS_EXISTS | SERVER_SESSION_STATE_CHANGED);
    return SERVER_STATUS_AUTOCOMMIT;
}

/* Answers the client's command with OK (sequence id 1) and sends it. False when c was closed. */
bool client_my_reply_ok(struct client *c)
{
    struct my_out o;
    my_out_init(&o);
    my_out_ok(&o, 1, c->my->caps, 0, 0, my_status(c), 0, NULL);
    return client_my_reply(c, &o);
}

/*
 * Answers the client's command with ERR (sequence id 1), logs it, and keeps
 * the connection. False when c was closed.
 */
bool client_my_reply_err(struct client *c, uint16_t code, const char *sqlstate, const char *fmt,
                         ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_client(c, weir.cfg->log_pooler_errors ? LOG_LVL_INFO : LOG_LVL_DEBUG, "error %u: %s", code,
               msg);
    struct my_out o;
    my_out_init(&o);
    my_out_err(&o, 1, code, sqlstate, "%s", msg);
    return client_my_reply(c, &o);
}

/* Tells the client how its KILL of target went. False when c was closed. */
static bool my_kill_answer(struct client *c, uint64_t target, int result)
{
    switch (result) {
    case KILL_OK:
        return client_my_reply_ok(c);
    case KILL_DENIED:
        return client_my_reply_err(c, 1095, "HY000", "You are not owner of thread %llu",
                                   (unsigned long long)target);
    case KILL_SELF:
        client_fail(c, "57P01", "Connection was killed");
        return false;
    default:
        return client_my_reply_err(c, 1094, "HY000", "Unknown thread id: %llu",
                                   (unsigned long long)target);
    }
}

/* Where a KILL forwarded to a peer answers (peer_answered); c is only compared, never followed. */
struct peer_ask {
    struct worker *w;
    struct client *c;
    uint32_t c_pid;
    uint32_t target;
};

static void peer_answered(void *arg, int byte)
{
    struct peer_ask *a = arg;
    struct msg m = {.pid = a->c_pid, .client = a->c, .key = a->target};
    m.arg = byte == PG_PEER_KILL_OK       ? KILL_OK
            : byte == PG_PEER_KILL_DENIED ? KILL_DENIED
                                          : KILL_UNKNOWN; /* also: the peer did not answer */
    client_kill_reply(a->w, &m);
    free(a);
}

/*
 * KILL of a thread id another peer handed out: asked of that peer (its
 * PostgreSQL port, PG_CODE_PEER_KILL) and answered when it answers. False
 * when c was closed.
 */
static bool my_kill_peer(struct client *c, int peer, bool connection, uint32_t id)
{
    const struct peer_entry *p = config_find_peer(weir.cfg, peer);
    size_t ulen = strlen(c->user);
    if (!p || ulen == 0 || ulen > PG_PEER_KILL_USER_MAX)
        return my_kill_answer(c, id, KILL_UNKNOWN);
    uint8_t pkt[17 + PG_PEER_KILL_USER_MAX];
    uint32_t len = (uint32_t)(17 + ulen);
    const uint32_t head[4] = {len, PG_CODE_PEER_KILL, id, connection ? PG_PEER_KILL_CONNECTION : 0};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            pkt[4 * i + k] = (uint8_t)(head[i] >> (24 - 8 * k));
    memcpy(pkt + 16, c->user, ulen + 1);
    struct peer_ask *a = malloc(sizeof(*a));
    if (!a)
        return my_kill_answer(c, id, KILL_UNKNOWN);
    *a = (struct peer_ask){.w = c->w, .c = c, .c_pid = c->cancel_pid, .target = id};
    char what[48];
    snprintf(what, sizeof(what), "KILL for peer %d", peer);
    if (!send_once_ask(c->w->loop, (const struct sockaddr *)&p->addr, p->addrlen, pkt, len, 5.0,
                       what, peer_answered, a)) {
        free(a);
        return my_kill_answer(c, id, KILL_UNKNOWN);
    }
    log_client(c, LOG_LVL_INFO, "KILL of thread %u forwarded to peer %d (%s:%d)", id, peer, p->host,
               p->port);
    c->kill_wait = true;
    return true;
}

/*
 * KILL [QUERY|CONNECTION] id from c: the id is a weir thread id (a cancel
 * pid), never the server's. One another peer handed out is asked of it. On c's own worker it is
 * carried out at once; else the owning worker does it and answers with MSG_KILL_DONE, and c's
 * further input waits (my_kill_wait). False when c was closed.
 */
static bool my_kill(struct client *c, bool connection, uint64_t id)
{
    log_client(c, LOG_LVL_INFO, "KILL %s %llu", connection ? "CONNECTION" : "QUERY",
               (unsigned long long)id);
    int peer = id <= UINT32_MAX ? client_pid_peer((uint32_t)id) : 0;
    if (peer && peer != weir.cfg->peer_id)
        return my_kill_peer(c, peer, connection, (uint32_t)id);
    struct worker *tw = id <= UINT32_MAX ? client_pid_worker((uint32_t)id) : NULL;
    if (!tw)
        return my_kill_answer(c, id, KILL_UNKNOWN);
    if (tw == c->w)
        return my_kill_answer(c, id, client_kill(c->w, (uint32_t)id, c->user, connection, c));
    struct msg *m = msg_new(MSG_KILL);
    m->pid = (uint32_t)id;
    m->key = c->cancel_pid;
    m->client = c; /* only compared on the way back, never followed elsewhere */
    m->arg = connection;
    snprintf(m->text, sizeof(m->text), "%s", c->user);
    c->kill_wait = true;
    worker_post(tw, m);
    return true;
}

void client_my_kill_done(struct client *c, uint32_t target, int result)
{
    c->kill_wait = false;
    if (!my_kill_answer(c, target, result))
        return;
    /* Go on with what the client sent after its KILL. */
    if (c->state == CL_ACTIVE)
        (void)relay_start(c);
    else if (c->state == CL_IDLE && c->in)
        client_my_idle_input(c);
}

/*
 * COM_CHANGE_USER: the session ends as if the client had disconnected (its
 * server is reset and goes back to its pool, pinning and carried variables
 * are forgotten), then the new user authenticates against the auth file
 * with mysql_native_password and the client continues on the (database,
 * new user) pool like a new login. The token in the packet answers the
 * greeting's scramble, as with a server; when it is not a valid native
 * token, an AuthSwitchRequest asks again with that same scramble
 * (Connector/C answers a switch during change_user with the greeting's
 * scramble whatever the switch carries).
 */
static bool my_change_user(struct client *c, const uint8_t *p, uint32_t len)
{
    /* Returns false always: the caller must not touch c afterwards. */
    struct my_change_user cu;
    char err[200];
    if (my_change_user_parse(p, len, c->my->caps, &cu, err, sizeof(err)) != WR_OK) {
        client_fail(c, "08P01", "bad COM_CHANGE_USER: %s", err);
        return false;
    }
    if (!(c->my->caps & CLIENT_PLUGIN_AUTH)) {
        client_fail(c, "28000", "COM_CHANGE_USER through weir needs a client with plugin auth");
        return false;
    }
    log_client(c, LOG_LVL_INFO, "COM_CHANGE_USER to %s/%s",
               cu.database[0] ? cu.database : c->dbname, cu.user);
    /* Checked below, once the old login is undone: the names are copied before p goes. */
    bool named = client_set_names(c, cu.user, cu.database[0] ? cu.database : c->dbname);
    uint16_t charset = cu.has_charset ? cu.charset : c->my->charset;
    client_my_consume(c, len); /* p is gone from here on */
    bool native = !cu.plugin || !strcmp(cu.plugin, MY_NATIVE_PLUGIN);
    uint8_t token[MY_NATIVE_TOKEN_LEN];
    size_t token_len = native && cu.auth_len <= sizeof(token) ? cu.auth_len : 0;
    memcpy(token, cu.auth, token_len);
    struct my_auth_state *as = calloc(1, sizeof(*as));
    if (!named || !as) {
        free(as);
        client_fail(c, "53200", "out of memory");
        return false;
    }
    struct server *s = c->server;
    if (s) {
        c->server = NULL;
        s->client = NULL;
        s->my_dirty = true; /* COM_RESET_CONNECTION before anyone else gets it */
        server_release(s, true);
    }
    c->pinned = false;
    relay_my_forget(c);
    c->my->charset = charset;
    if (c->pool)
        pool_client_leave(c->pool);
    c->pool = NULL;
    c->welcomed = false; /* errors now use the login's sequence ids; the OK completes it again */
    client_my_free_state(c);
    c->auth = as;
    c->deadline = weir.cfg->client_login_timeout > 0
                      ? ev_now(c->w->loop) + weir.cfg->client_login_timeout
                      : 0;
    if (c->in) {
        client_fail(c, "08P01", "bad COM_CHANGE_USER: data after it before the authentication");
        return false;
    }
    c->db = c->dbname[0] ? config_find_db_for(weir.cfg, c->dbname, BACKEND_MYSQL) : NULL;
    c->my->seq = 1;
    if (c->dbname[0] && !client_my_db_usable(c))
        return false;
    /* the rules (auth_type hba, cert) for the new user and database, as at a login */
    enum hba_method m = client_auth_method(c);
    if (m == HBA_NONE || m == HBA_TRUST) {
        explicit_bzero(token, sizeof(token));
        if (m == HBA_TRUST)
            client_my_authenticated(c);
        return false; /* refused and closed, or logged in again */
    }
    memcpy(as->scramble, c->my->scramble, MY_SCRAMBLE_LEN);
    c->my->seq = 1;
    bool good =
        native && token_len == MY_NATIVE_TOKEN_LEN && client_my_check_token(c, token, token_len);
    explicit_bzero(token, sizeof(token));
    if (good)
        client_my_authenticated(c);
    else
        client_my_auth_switch(c);
    return false; /* a new login: c may be waiting, logged in again or gone */
}

bool client_my_own_command(struct client *c)
{
    if ((c->my->stmt & STMT_READY) ||
        (c->in && buf_unparsed(c->in) >= 5 && my_stmt_command(c->in->data[c->in->parsed + 4])))
        return stmt_my_own(c); /* a statement command (stmt_my.c) */
    struct iobuf *b = c->in;
    uint32_t len;
    uint8_t seq;
    if (my_pkt_peek(b->data + b->parsed, buf_unparsed(b), &len, &seq) != WR_OK || len == 0 ||
        buf_unparsed(b) < 4 + len) {
        client_fail(c, "08P01", "internal error: command not whole");
        return false;
    }
    const uint8_t *p = b->data + b->parsed + 4;
    struct server *s = c->server;
    if (s && (s->outstanding > 0 || s->my.busy || s->my.qlen > 0)) {
        /* The answer would overtake the answers to the commands before it. */
        client_fail(c, "08P01",
                    "%s sent before the previous command was answered: "
                    "not supported through weir",
                    p[0] == COM_CHANGE_USER ? "COM_CHANGE_USER" : "KILL");
        return false;
    }
    uint64_t id = 0;
    uint32_t id32 = 0;
    switch (p[0]) {
    case COM_CHANGE_USER:
        return my_change_user(c, p, len);
    case COM_PROCESS_KILL: {
        bool good = my_process_kill_parse(p, len, &id32) == WR_OK;
        client_my_consume(c, len);
        if (!good) {
            client_fail(c, "08P01", "bad COM_PROCESS_KILL packet of %u bytes", len);
            return false;
        }
        return my_kill(c, true, id32);
    }
    default: {
        enum my_kill_kind kind = my_kill_parse(p + 1, len - 1, &id);
        client_my_consume(c, len);
        if (kind == MY_KILL_OTHER)
            return client_my_reply_err(c, 1235, "42000",
                                       "This form of KILL is not supported through weir: "
                                       "use KILL [QUERY | CONNECTION] <thread id>");
        return my_kill(c, kind == MY_KILL_CONNECTION, id);
    }
    }
}
