/*
 * handoff.c -- the session side of getting a server: health check due or
 * not, the SETs and MySQL variables that make the server match its client,
 * and the callbacks through which pool/ hands servers to waiting sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/core/worker.h"
#include "pooler/pool/server.h"
#include "pooler/session/client.h"
#include "pooler/session/ps.h"
#include "pooler/session/relay.h"
#include "pooler/session/sess_pg.h"
#include "pooler/session/stmt_my.h"
#include "protocol/mysql/my_cmd.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/pg/pg_sql.h"

/* Appends text to q[*len..cap); *len counts every byte, also those that did not fit. */
static void append_text(char *q, size_t cap, size_t *len, const char *text)
{
    size_t k = strlen(text);
    if (*len + k < cap)
        memcpy(q + *len, text, k + 1);
    *len += k;
}

/* Appends "SET name = 'value';" with value quoted as a literal (exact length, see append_text). */
static void append_set(char *q, size_t cap, size_t *len, const char *name, const char *value)
{
    append_text(q, cap, len, "SET ");
    append_text(q, cap, len, name);
    append_text(q, cap, len, " = ");
    pg_sql_quote_literal(q, cap, len, value);
    append_text(q, cap, len, ";");
}

/* True for values MySQL wants as numbers, not strings (SET lock_wait_timeout = 5). */
static bool is_number(const char *v)
{
    const char *p = v + (*v == '-');
    if (!*p)
        return false;
    bool dot = false;
    for (; *p; p++) {
        if (*p == '.' && !dot)
            dot = true;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

/* Appends "name = value" (a number as is, anything else quoted) to a SET list. */
static void append_my_var(char *q, size_t cap, size_t *len, const char *name, const char *value)
{
    size_t n = *len;
    bool number = is_number(value);
    n += snprintf(q + n, n < cap ? cap - n : 0, "%s@@session.`%s` = %s", n ? ", " : "SET ", name,
                  number ? "" : "'");
    for (const char *p = value; *p && n + 3 < cap; p++) {
        if (!number && (*p == '\'' || *p == '\\'))
            q[n++] = '\\';
        q[n++] = *p;
    }
    if (n < cap && !number)
        n += snprintf(q + n, cap - n, "'");
    if (n < cap)
        q[n] = 0;
    *len = n;
}

/* MySQL: the session variables and schema the client changed, on its new server. */
static void server_setup_my(struct server *s, struct client *c)
{
    char q[4096];
    size_t len = 0;
    /*
     * collation_connection last: setting character_set_connection (SET NAMES sends
     * both) puts the collation back to the character set's default.
     */
    for (int last = 0; last < 2; last++)
        for (int i = 0; i < c->my->nvars; i++)
            if ((strcasecmp(c->my->vars[2 * i], "collation_connection") == 0) == last)
                append_my_var(q, sizeof(q), &len, c->my->vars[2 * i], c->my->vars[2 * i + 1]);
    bool schema = c->my->schema && strcmp(c->my->schema, s->pool->db->dbname);
    /*
     * Session mode: a server that has had a client took its session values
     * from the globals when it was cleaned after that client, and a SET GLOBAL
     * made since would not show. It is reset again as this client takes it,
     * so that it reads the globals as a new connection would (the reset and
     * weir's SET go in the same write: one round trip per login).
     */
    bool refresh = s->pool->pool_mode == POOL_SESSION && s->served;
    if (len >= sizeof(q)) {
        server_close(s, "client session variables too long to re-apply");
        return;
    }
    if (len == 0 && !schema && !refresh) {
        server_set_state(s, SV_ACTIVE);
        client_server_ready(c);
        return;
    }
    server_set_state(s, SV_SETUP);
    c->state = CL_SETUP;
    s->setup_error[0] = 0;
    s->my_dirty = true;

    if (refresh) {
        stmt_my_server_forget(s); /* the reset closes its statements */
        server_send_my_command(s, COM_RESET_CONNECTION, NULL);
        server_send_my_command(s, COM_QUERY, server_my_session_sql);
    }
    if (len)
        server_send_my_command(s, COM_QUERY, q);
    if (schema)
        server_send_my_command(s, COM_INIT_DB, c->my->schema);
    if (s->out.failed || server_flush_out(s) == WR_ERROR)
        server_close(s, "cannot send session set-up");
}

/*
 * The statements that make s hold c's session: its tracked parameters that
 * differ, then its other settings (sess_pg.c). Returns the length, which is
 * cap or more when q was too small.
 */
static size_t setup_sql(struct server *s, struct client *c, char *q, size_t cap)
{
    size_t len = 0;
    if (cap)
        q[0] = 0;
    for (int i = 0; i < PARAM_NSETTABLE; i++) {
        const char *want = client_param(c, i);
        if (want && (!s->params.v[i] || strcmp(want, s->params.v[i])))
            append_set(q, cap, &len, param_name(i), want);
    }
    sess_pg_setup_sql(c, s, q, cap, &len);
    return len;
}

/* Sends the client's parameters and settings that differ from the server's, or starts relaying. */
static void server_setup(struct server *s, struct client *c)
{
    if (s->kind == BACKEND_MYSQL) {
        server_setup_my(s, c);
        return;
    }
    if (pool_replication(s->pool)) {
        /* Logged in for this client alone; a physical walsender takes no SQL at all. */
        server_set_state(s, SV_ACTIVE);
        client_server_ready(c);
        return;
    }
    char small[4096], *q = small;
    size_t len = setup_sql(s, c, small, sizeof(small));
    if (len >= sizeof(small)) {
        /* Many or long settings: build them again in a buffer that fits. */
        if (!(q = malloc(len + 1)) || setup_sql(s, c, q, len + 1) > len) {
            free(q);
            client_fail(c, "53200", "out of memory");
            return;
        }
    }
    if (len == 0) {
        server_set_state(s, SV_ACTIVE);
        client_server_ready(c);
        return;
    }
    server_set_state(s, SV_SETUP);
    c->state = CL_SETUP;
    s->setup_error[0] = 0;
    s->outstanding = 1;
    pg_out_query(&s->out, q);
    if (q != small)
        free(q);
    if (s->out.failed || server_flush_out(s) == WR_ERROR)
        server_close(s, "cannot send parameter set-up");
}

void server_attach(struct server *s, struct client *c)
{
    s->client = c;
    c->server = s;
    s->deadline = 0;
    server_watch(s);
    if (server_check_due(s)) {
        /* Idle a while: make sure it still answers before the client sees it. */
        c->state = CL_SETUP;
        server_check_start(s);
        return;
    }
    server_setup(s, c);
}

/* ---- what pool/ calls back (server_hooks) ---- */

/* A server for waiter wt, on wt's worker. */
static void take(struct pool_waiter *wt, struct server *s)
{
    client_take_server(list_entry(wt, struct client, wait), s);
}

static void wait_failed(struct pool_waiter *wt, const char *sqlstate, const char *text)
{
    client_wait_failed(list_entry(wt, struct client, wait), sqlstate, text);
}

/*
 * May a PostgreSQL client whose server closed under it go on with an error
 * for what it had in flight? Only in transaction or statement pooling, when
 * that was one query or one Sync started outside a transaction block, the
 * client has sent nothing more, and neither stream is in the middle of a
 * message: then it is told as PostgreSQL tells a failed query (an error,
 * then ReadyForQuery idle), and its next query gets another server (with its
 * prepared statements, ps.c). Anything else could lose a transaction
 * silently: the client is closed.
 */
static bool lost_softly(const struct client *c, const struct server *s)
{
    return c->state == CL_ACTIVE && c->proto == &client_pg_proto &&
           s->pool->pool_mode != POOL_SESSION && s->kind == BACKEND_POSTGRES &&
           s->txstatus == 'I' && s->outstanding == 1 && !s->need_sync && !s->copy_in &&
           s->in_remaining == 0 && (!s->in || !buf_unsent(s->in)) && c->in_remaining == 0 &&
           (!c->in || c->in->recv == 0) && !client_out_pending(c) && c->welcomed;
}

/* c's server closed under it: with a reason c fails; without, c asks again (requeue). */
static void lost(struct client *c, const char *reason)
{
    struct server *s = c->server;
    c->server = NULL;
    if (!reason)
        return;
    if (!s || !lost_softly(c, s)) {
        client_fail(c, "08006", "server connection closed: %s", reason);
        return;
    }
    log_client(c, LOG_LVL_INFO, "server connection lost during a query (%s): error sent", reason);
    ps_client_detach(c, NULL);
    pg_out_error(client_out(c), "ERROR", "08006", "server connection lost: %s", reason);
    pg_out_ready(client_out(c), 'I');
    c->state = CL_IDLE;
    client_watch(c, EV_READ, true);
    if (client_out_failed(c))
        client_fail(c, "53200", "out of memory");
    else if (client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

static void requeue(struct client *c)
{
    client_request_server(c, true);
}

/* Every answer to the client's set-up is in: fail it or start relaying. */
static void setup_done(struct server *s, struct client *c)
{
    if (s->setup_error[0]) {
        s->failed = false;
        client_fail(c, s->setup_sqlstate[0] ? s->setup_sqlstate : "08P01", "%s", s->setup_error);
        return;
    }
    if (s->kind == BACKEND_POSTGRES && !sess_pg_setup_done(c, s)) {
        s->discard = true; /* what it holds is no longer known */
        client_fail(c, "53200", "out of memory");
        return;
    }
    server_set_state(s, SV_ACTIVE);
    client_server_ready(c);
}

static uint64_t client_id(const struct client *c)
{
    return c->id;
}

/* A linked server's socket is readable: straight to the relay (no state switch per message). */
static void active_read(struct ev_loop *loop, ev_io *io, int revents)
{
    relay_server_readable(list_entry(io, struct server, rio));
}

static void active_write(struct ev_loop *loop, ev_io *io, int revents)
{
    struct server *s = list_entry(io, struct server, wio);
    if (s->out.len) {
        /*
         * weir's own messages (MySQL statement commands, PostgreSQL prepared statements, the
         * login values behind a RESET), then what the client had waiting.
         */
        int rc = server_flush_out(s);
        if (rc == WR_ERROR)
            server_close(s, "cannot write to server");
        if (rc != WR_OK)
            return;
    }
    relay_server_writable(s);
}

void session_hooks_fill(struct server_hooks *h)
{
    h->take = take;
    h->wait_failed = wait_failed;
    h->lost = lost;
    h->requeue = requeue;
    h->checked = server_setup;
    h->setup_done = setup_done;
    h->client_id = client_id;
    h->active_read = active_read;
    h->active_write = active_write;
    h->forget_stmts = stmt_my_server_forget;
}
