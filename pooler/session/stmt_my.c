/*
 * stmt_my.c -- MySQL binary prepared statements that follow their client
 * (stmt_my.h says how): the client scan's statement commands, taking a
 * command's body out of the input, the answers weir gives itself, GET_LOCK
 * pinning, and a client's statements when it has no server or leaves. The
 * actions that run once the server is idle, and weir's own commands on it,
 * are in stmt_act_my.c.
 *
 * Every action waits for an idle server (nothing outstanding, nothing on its
 * way to the client): what weir answers itself then lands in order, and its
 * own commands never share the response queue with the client's. A client
 * that pipelines is held (STMT_HOLD) until then; the common EXECUTE never
 * waits.
 */
#include "pooler/session/stmt_my_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/pool/server.h"
#include "pooler/session/relay.h"

struct stmt_my_work *stmt_my_work_get(struct client *c)
{
    if (!c->my->work)
        c->my->work = calloc(1, sizeof(*c->my->work));
    return c->my->work;
}

void stmt_my_work_free(struct client *c)
{
    struct stmt_my_work *w = c->my->work;
    if (!w)
        return;
    free(w->prep);
    stmt_my_key_free(&w->key);
    free(w->resp);
    free(w->err);
    free(w);
    c->my->work = NULL;
    c->my->stmt &= ~(STMT_READY | STMT_TAKE);
}

/* Statements follow this client (weir's ids), or pass through? Decided at its first command. */
static bool mapped(struct client *c)
{
    if (!c->my->ps_mode)
        c->my->ps_mode =
            weir.cfg->max_prepared_statements > 0 && c->pool && c->pool->pool_mode != POOL_SESSION
                ? STMT_MY_MAPPED
                : STMT_MY_PASSED;
    return c->my->ps_mode == STMT_MY_MAPPED;
}

/* Has s answered everything, and has all of it reached the client's side? */
bool stmt_my_server_idle(const struct server *s)
{
    return s->outstanding == 0 && !s->my.busy && !s->in && !s->my.insert_pending;
}

/* The client's current schema as statement keys name it: "" for the pool's database. */
void stmt_my_schema_of(const struct client *c, const struct server *s, const char **p, size_t *n)
{
    const char *sch = c->my->schema;
    if (!sch || !strcmp(sch, s->pool->db->dbname)) {
        *p = "";
        *n = 0;
    } else {
        *p = sch;
        *n = strlen(sch);
    }
}

void stmt_my_set_cursor(struct client *c, struct server *s, struct stmt_my_client *cs, bool open)
{
    if (cs->cursor == open)
        return;
    cs->cursor = open;
    if (open)
        c->my->ncursors++;
    else if (c->my->ncursors > 0)
        c->my->ncursors--;
    struct stmt_my_server *ss = stmt_my_server_find(s->my_stmts, &cs->key);
    if (ss)
        ss->cursor = open;
}

/* Keeps 2 * n type bytes in *dst (allocated once). */
void stmt_my_keep_types(uint8_t **dst, const uint8_t *types, uint16_t n)
{
    size_t len = 2u * n;
    if (!*dst && !(*dst = malloc(len)))
        return;
    if (memcmp(*dst, types, len))
        memcpy(*dst, types, len);
}

/* Takes n bytes at b->parsed out of the input (nothing unsent is before them). */
void stmt_my_consume(struct iobuf *b, uint32_t n)
{
    b->parsed += n;
    b->sent = b->parsed;
}

/* GET_LOCK seen: the lock lives on this server connection, so the client stays on it. */
void stmt_my_pin_for_lock(struct client *c, struct server *s)
{
    c->pinned = true;
    s->my_dirty = true; /* COM_RESET_CONNECTION releases the lock before the next client */
    log_client(c, LOG_LVL_INFO, "GET_LOCK: keeps its server connection until it disconnects");
}

/* ---- answers weir gives itself ---- */

bool stmt_my_flush_client(struct client *c)
{
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return false;
    }
    return true;
}

/* Answers the command with the server's ERR payload. False when c was closed. */
bool stmt_my_reply_err_payload(struct client *c, const uint8_t *payload, uint32_t len)
{
    struct my_out o;
    my_out_init(&o);
    my_out_begin(&o, 1);
    my_out_bytes(&o, payload, len);
    my_out_end(&o);
    return client_my_reply(c, &o);
}

bool stmt_my_reply_ok(struct client *c, struct server *s)
{
    uint16_t status = s->my.status ? s->my.status : SERVER_STATUS_AUTOCOMMIT;
    struct my_out o;
    my_out_init(&o);
    my_out_ok(&o, 1, c->my->caps, 0, 0,
              status & ~(SERVER_MORE_RESULTS_EXISTS | SERVER_SESSION_STATE_CHANGED), 0, NULL);
    return client_my_reply(c, &o);
}

/* Makes w's error weir's own ERR. */
void stmt_my_work_set_err(struct stmt_my_work *w, uint16_t code, const char *sqlstate,
                          const char *msg)
{
    struct my_out o;
    my_out_init(&o);
    my_out_err(&o, 1, code, sqlstate, "%s", msg);
    free(w->err);
    w->err = NULL;
    w->err_len = 0;
    if (!o.failed && o.len > 4 && (w->err = malloc(o.len - 4))) {
        memcpy(w->err, o.data + 4, o.len - 4);
        w->err_len = (uint32_t)(o.len - 4);
    }
    my_out_free(&o);
}

/*
 * Starts taking the body of the command packet at b->parsed (payload len,
 * of which `head` bytes are read already) out of the input: what is here
 * now, the rest as it comes (stmt_my_take_more). The work exists.
 */
void stmt_my_take_start(struct client *c, struct iobuf *b, uint32_t len, uint32_t head,
                        enum take_to to)
{
    struct stmt_my_work *w = c->my->work;
    stmt_my_consume(b, 4 + head);
    w->take_to = to;
    w->take_left = len - head;
    w->take_cont = len == MY_MAX_PAYLOAD;
    c->my->stmt |= STMT_TAKE;
    (void)stmt_my_take_more(c, b);
}

bool stmt_my_take_more(struct client *c, struct iobuf *b)
{
    struct stmt_my_work *w = c->my->work;
    for (;;) {
        if (w->take_left == 0) {
            if (!w->take_cont)
                break;
            /* The packet continues in the next one: its header is taken too. */
            uint32_t len;
            uint8_t seq;
            if (my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
                return true;
            stmt_my_consume(b, 4);
            w->take_left = len;
            w->take_cont = len == MY_MAX_PAYLOAD;
            continue;
        }
        uint32_t avail = b->recv - b->parsed;
        if (avail == 0)
            return true;
        uint32_t k = avail < w->take_left ? avail : w->take_left;
        const uint8_t *p = b->data + b->parsed;
        if (w->take_to == TAKE_PREPARE && w->prep && w->prep_have + k <= w->prep_len) {
            memcpy(w->prep + w->prep_have, p, k);
            w->prep_have += k;
        } else if (w->take_to == TAKE_LONG_DATA) {
            struct stmt_my_client *cs = stmt_my_client_find(&c->my->stmts, w->take_stmt);
            if (cs && cs->long_data) {
                memcpy(cs->long_data + cs->long_len, p, k);
                cs->long_len += k;
            }
        }
        stmt_my_consume(b, k);
        w->take_left -= k;
    }
    c->my->stmt &= ~STMT_TAKE;
    if (w->take_to == TAKE_PREPARE && !w->prep_err_sent) {
        c->my->stmt |= STMT_READY;
        return false;
    }
    stmt_my_work_free(c); /* a command answered already, or long data kept */
    return true;
}

/* ---- the client scan ---- */

/* A client whose statements pass through: remember what relay_my.c needs, pin at PREPARE. */
static enum stmt_my_scan scan_passed(struct client *c, struct server *s, const uint8_t *p,
                                     uint32_t avail, uint32_t len, uint32_t *queue_stmt)
{
    if (s->my_stmts && s->my_stmts->n > 0)
        return STMT_OWN; /* weir's own statements on this server are closed first */
    switch (p[0]) {
    case COM_STMT_PREPARE:
        c->pinned = true;   /* its statements live on this server */
        s->my_dirty = true; /* and are closed (reset) before the next client */
        break;
    case COM_STMT_EXECUTE:
    case COM_STMT_CLOSE:
        if (len < 5)
            break;
        if (avail < 5)
            return STMT_WAIT; /* the statement id is still on its way */
        *queue_stmt = my_get32(p + 1);
        if (p[0] == COM_STMT_CLOSE)
            stmt_my_client_remove(&c->my->stmts, *queue_stmt);
        break;
    default:
        break;
    }
    return STMT_PASS;
}

static enum stmt_my_scan malformed(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "malformed %s packet", what);
    return STMT_ERROR;
}

static enum stmt_my_scan scan_execute(struct client *c, struct server *s, const struct iobuf *b,
                                      uint8_t *p, uint32_t avail, uint32_t len,
                                      uint32_t *queue_stmt)
{
    struct stmt_my_client *cs = stmt_my_client_stmt(c, my_get32(p + 1));
    if (!cs) {
        my_put_le(p + 1, 0, 4); /* no server has id 0: it answers "unknown handler" */
        return STMT_PASS;
    }
    if (4 + stmt_my_head_max(p[0], cs->nparams) > b->cap || cs->long_len || cs->long_over)
        return STMT_OWN;
    struct stmt_my_server *ss = stmt_my_server_find(s->my_stmts, &cs->key);
    if (!ss)
        return STMT_OWN; /* prepared here first */
    struct my_exec_head h;
    switch (my_exec_head_parse(p, avail < len ? avail : len, len, cs->nparams, &h)) {
    case WR_AGAIN:
        return STMT_WAIT;
    case WR_ERROR:
        /* The server says what is wrong with it; its types are not taken. */
        my_put_le(p + 1, ss->id, 4);
        *queue_stmt = cs->id;
        return STMT_PASS;
    default:
        break;
    }
    if (!h.bound && cs->nparams && cs->types &&
        (!ss->types || memcmp(ss->types, cs->types, 2u * cs->nparams)))
        return STMT_OWN; /* the server saw other types last: the client's go in */
    my_put_le(p + 1, ss->id, 4);
    if (h.types) {
        stmt_my_keep_types(&cs->types, h.types, cs->nparams);
        stmt_my_keep_types(&ss->types, h.types, cs->nparams);
    }
    if (cs->cursor)
        stmt_my_set_cursor(c, s, cs, false); /* executing again closes its cursor */
    *queue_stmt = cs->id;
    stmt_my_count(c, COUNT_BIND);
    return STMT_PASS;
}

enum stmt_my_scan stmt_my_scan(struct client *c, struct server *s, struct iobuf *b, uint32_t len,
                               uint32_t *queue_stmt, char *why, size_t why_len)
{
    uint8_t *p = b->data + b->parsed + 4;
    uint32_t avail = b->recv - b->parsed - 4;
    if (!mapped(c))
        return scan_passed(c, s, p, avail, len, queue_stmt);
    struct stmt_my_client *cs;
    struct stmt_my_server *ss;
    switch (p[0]) {
    case COM_STMT_PREPARE:
        return STMT_OWN;
    case COM_STMT_SEND_LONG_DATA:
        if (len < MY_LONG_DATA_HEAD)
            return malformed(why, why_len, "COM_STMT_SEND_LONG_DATA");
        return avail < MY_LONG_DATA_HEAD ? STMT_WAIT : STMT_OWN;
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
        if (len < 5)
            return malformed(why, why_len, "COM_STMT_EXECUTE");
        if (avail < 5)
            return STMT_WAIT;
        return scan_execute(c, s, b, p, avail, len, queue_stmt);
    case COM_STMT_CLOSE:
        if (len != 5)
            return malformed(why, why_len, "COM_STMT_CLOSE");
        if (avail < 5)
            return STMT_WAIT;
        cs = stmt_my_client_stmt(c, my_get32(p + 1));
        if (cs) {
            if (cs->cursor)
                stmt_my_set_cursor(c, s, cs, false);
            if (c->my->last_prepared == cs->id)
                c->my->last_prepared = 0;
            stmt_my_client_remove(&c->my->stmts, cs->id);
        }
        /* No answer, nothing for the server: the packet goes. */
        memmove(b->data + b->parsed, b->data + b->parsed + 9, b->recv - b->parsed - 9);
        b->recv -= 9;
        return STMT_CUT;
    case COM_STMT_RESET:
        if (len != 5)
            return malformed(why, why_len, "COM_STMT_RESET");
        if (avail < 5)
            return STMT_WAIT;
        cs = stmt_my_client_stmt(c, my_get32(p + 1));
        if (!cs) {
            my_put_le(p + 1, 0, 4);
            return STMT_PASS;
        }
        free(cs->long_data);
        cs->long_data = NULL;
        cs->long_len = 0;
        cs->long_over = false;
        if (cs->cursor)
            stmt_my_set_cursor(c, s, cs, false);
        ss = stmt_my_server_find(s->my_stmts, &cs->key);
        if (!ss)
            return STMT_OWN; /* answered here */
        my_put_le(p + 1, ss->id, 4);
        *queue_stmt = cs->id;
        return STMT_PASS;
    case COM_STMT_FETCH:
        if (len != 9)
            return malformed(why, why_len, "COM_STMT_FETCH");
        if (avail < 9)
            return STMT_WAIT;
        cs = stmt_my_client_stmt(c, my_get32(p + 1));
        ss = cs && cs->cursor ? stmt_my_server_find(s->my_stmts, &cs->key) : NULL;
        /* Only the cursor the client opened itself: anything else gets "unknown handler". */
        my_put_le(p + 1, ss ? ss->id : 0, 4);
        *queue_stmt = cs ? cs->id : 0;
        return STMT_PASS;
    default:
        return STMT_PASS;
    }
}

void stmt_my_answered(struct server *s, struct client *c)
{
    const struct my_track_state *t = &s->my;
    struct stmt_my_client *cs = stmt_my_client_find(&c->my->stmts, t->stmt);
    if (!cs)
        return;
    uint16_t st = t->resp.has_status ? t->resp.status : 0;
    /* A cursor stays open until a FETCH says the last row was sent (MariaDB keeps it past COMMIT).
     */
    stmt_my_set_cursor(c, s, cs,
                       !t->resp.error && (st & SERVER_STATUS_CURSOR_EXISTS) &&
                           !(st & SERVER_STATUS_LAST_ROW_SENT));
}

/* ---- GET_LOCK, user variables, LOCK TABLES ---- */

void stmt_my_query_scan(struct client *c, struct server *s)
{
    if (c->pinned || s->pool->pool_mode == POOL_SESSION)
        return;
    memset(&c->my->lock, 0, sizeof(c->my->lock));
    my_pin_scan_init(&c->my->pin);
    c->my->lock_scan = true; /* its text is looked at as it passes (stmt_my_query_more) */
}

void stmt_my_query_more(struct client *c, struct server *s, const uint8_t *p, size_t n)
{
    if (c->pinned) {
        c->my->lock_scan = false;
        return;
    }
    if (my_lock_scan_feed(&c->my->lock, p, n)) {
        stmt_my_pin_for_lock(c, s);
        c->my->lock_scan = false;
        return;
    }
    enum my_pin_why why = my_pin_scan_feed(&c->my->pin, p, n);
    if (why == MY_PIN_NONE)
        return;
    /*
     * The session tracker reports a user variable only as "something changed"
     * (and not at all when a system variable changes in the same statement),
     * and LOCK TABLES only through the transaction-state tracker, which weir
     * leaves off (it turns MariaDB's query cache off): the text says it first.
     */
    c->pinned = true;
    s->my_dirty = true;
    c->my->lock_scan = false;
    log_client(c, LOG_LVL_INFO, "%s: keeps its server connection until it disconnects",
               why == MY_PIN_USER_VAR ? "a user variable is assigned"
                                      : "a statement keeps state on the connection");
}

/* ---- without a server, and forgetting ---- */

bool stmt_my_idle_close(struct client *c)
{
    struct iobuf *b = c->in;
    uint32_t len;
    uint8_t seq;
    if (c->my->ps_mode != STMT_MY_MAPPED ||
        my_pkt_peek(b->data + b->parsed, buf_unparsed(b), &len, &seq) != WR_OK || len != 5 ||
        buf_unparsed(b) < 9)
        return false;
    struct stmt_my_client *cs = stmt_my_client_stmt(c, my_get32(b->data + b->parsed + 5));
    if (cs) {
        if (c->my->last_prepared == cs->id)
            c->my->last_prepared = 0;
        stmt_my_client_remove(&c->my->stmts, cs->id); /* no cursor: it holds no server */
    }
    b->parsed += 9;
    b->sent = b->parsed;
    if (b->parsed == b->recv) {
        buf_put(&c->w->bufs, b);
        c->in = NULL;
    } else {
        buf_compact(b);
    }
    return true;
}

void stmt_my_forget(struct client *c)
{
    stmt_my_clients_clear(&c->my->stmts);
    c->my->ncursors = 0;
    c->my->last_prepared = 0;
    if (!c->my->work)
        c->my->ps_mode = 0; /* decided again at its next statement */
}

void stmt_my_free(struct client *c)
{
    stmt_my_work_free(c);
    stmt_my_clients_clear(&c->my->stmts);
}

void stmt_my_server_forget(struct server *s)
{
    stmt_my_servers_free(s->my_stmts);
    s->my_stmts = NULL;
}
