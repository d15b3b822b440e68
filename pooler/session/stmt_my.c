/*
 * stmt_my.c -- MySQL binary prepared statements that follow their client
 * (stmt_my.h says how): the client scan's statement commands, the actions
 * that run once the client's server has answered everything, weir's own
 * commands and their answers, and GET_LOCK pinning.
 *
 * Every action waits for an idle server (nothing outstanding, nothing on its
 * way to the client): what weir answers itself then lands in order, and its
 * own commands never share the response queue with the client's. A client
 * that pipelines is held (STMT_HOLD) until then; the common EXECUTE never
 * waits.
 */
#include "pooler/session/stmt_my.h"
#include "pooler/pool/stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/pool/server.h"
#include "pooler/session/client.h"
#include "pooler/session/relay.h"
#include "protocol/mysql/my_stmt.h"

/* Where the body of a command being taken out of the client's input goes. */
enum take_to {
    TAKE_DISCARD,   /* nowhere (a command answered with an error) */
    TAKE_PREPARE,   /* the work's prep buffer */
    TAKE_LONG_DATA, /* the long data of statement take_stmt */
};

/* A statement command in progress for one client (c->my->work). */
struct stmt_my_work {
    /* Taking a command's body out of the input (STMT_TAKE). */
    uint32_t take_left; /* bytes of the current packet still to take */
    uint8_t take_to;    /* enum take_to */
    bool take_cont;     /* the packet is 0xFFFFFF long: another one continues it */
    uint32_t take_stmt; /* TAKE_LONG_DATA: the client's statement */
    /* A COM_STMT_PREPARE taken out (whole: STMT_READY), until it is answered. */
    uint8_t *prep; /* its payload (the text from byte 1) */
    uint32_t prep_len;
    uint32_t prep_have;
    bool prep_err_sent; /* answered with an error already; only its body is taken */
    /* weir's own prepare of key (for the PREPARE, or the EXECUTE of for_stmt) */
    struct stmt_my_key key;
    uint32_t for_stmt; /* the client statement whose EXECUTE waits, 0 for a PREPARE */
    bool sent;         /* it went out; once the server is idle again it was answered */
    bool retried;      /* went out again after making room on the server (ERR 1461) */
    bool got_first;    /* the first packet of its answer came */
    bool ok_seen;      /* ... and was a prepare OK: ok */
    struct my_prep_ok ok;
    uint8_t *resp; /* its answer, packets as the client gets them */
    uint32_t resp_len;
    bool resp_over;
    uint8_t *err; /* the ERR payload that failed it (a schema switch, the prepare) */
    uint32_t err_len;
};

/*
 * Statistics, PgBouncer's names as the PostgreSQL side counts them:
 * total_client_parse_count (a COM_STMT_PREPARE answered to a client),
 * total_server_parse_count (weir's own COM_STMT_PREPARE on a server) and
 * total_bind_count (a COM_STMT_EXECUTE sent on).
 */
enum stmt_count {
    COUNT_CLIENT_PREPARE,
    COUNT_SERVER_PREPARE,
    COUNT_BIND,
};
static inline void count(struct client *c, enum stmt_count what)
{
    if (!c->pool)
        return;
    struct stats_slot *sl = stats_slot_of(c->pool, c->w);
    if (what == COUNT_BIND)
        stats_bind(sl);
    else
        stats_parse(sl, what == COUNT_CLIENT_PREPARE, what == COUNT_SERVER_PREPARE);
}

static struct stmt_my_work *work_get(struct client *c)
{
    if (!c->my->work)
        c->my->work = calloc(1, sizeof(*c->my->work));
    return c->my->work;
}

static void work_free(struct client *c)
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
static bool server_idle(const struct server *s)
{
    return s->outstanding == 0 && !s->my.busy && !s->in && !s->my.insert_pending;
}

/* The client's current schema as statement keys name it: "" for the pool's database. */
static void client_schema(const struct client *c, const struct server *s, const char **p, size_t *n)
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

static void set_cursor(struct client *c, struct server *s, struct stmt_my_client *cs, bool open)
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
static void keep_types(uint8_t **dst, const uint8_t *types, uint16_t n)
{
    size_t len = 2u * n;
    if (!*dst && !(*dst = malloc(len)))
        return;
    if (memcmp(*dst, types, len))
        memcpy(*dst, types, len);
}

/* Longest EXECUTE head for n parameters (BULK_EXECUTE: fixed part and types). */
static uint32_t head_max(uint8_t cmd, uint16_t n)
{
    return cmd == COM_STMT_BULK_EXECUTE ? 7 + 2u * n : 10 + (n + 7u) / 8 + 1 + 2u * n;
}

/* Takes n bytes at b->parsed out of the input (nothing unsent is before them). */
static void consume(struct iobuf *b, uint32_t n)
{
    b->parsed += n;
    b->sent = b->parsed;
}

/* GET_LOCK seen: the lock lives on this server connection, so the client stays on it. */
static void pin_for_lock(struct client *c, struct server *s)
{
    c->pinned = true;
    s->my_dirty = true; /* COM_RESET_CONNECTION releases the lock before the next client */
    log_client(c, LOG_LVL_INFO, "GET_LOCK: keeps its server connection until it disconnects");
}

/* ---- answers weir gives itself ---- */

static bool flush_client(struct client *c)
{
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to client");
        return false;
    }
    return true;
}

/* Answers the command with ERR (sequence id 1) and logs it. False when c was closed. */
static bool reply_err(struct client *c, uint16_t code, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool reply_err(struct client *c, uint16_t code, const char *sqlstate, const char *fmt, ...)
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

/* Answers the command with the server's ERR payload. False when c was closed. */
static bool reply_err_payload(struct client *c, const uint8_t *payload, uint32_t len)
{
    struct my_out o;
    my_out_init(&o);
    my_out_begin(&o, 1);
    my_out_bytes(&o, payload, len);
    my_out_end(&o);
    return client_my_reply(c, &o);
}

static bool reply_ok(struct client *c, struct server *s)
{
    uint16_t status = s->my.status ? s->my.status : SERVER_STATUS_AUTOCOMMIT;
    struct my_out o;
    my_out_init(&o);
    my_out_ok(&o, 1, c->my->caps, 0, 0,
              status & ~(SERVER_MORE_RESULTS_EXISTS | SERVER_SESSION_STATE_CHANGED), 0, NULL);
    return client_my_reply(c, &o);
}

/* Makes w's error weir's own ERR. */
static void work_set_err(struct stmt_my_work *w, uint16_t code, const char *sqlstate,
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
static void take_start(struct client *c, struct iobuf *b, uint32_t len, uint32_t head,
                       enum take_to to)
{
    struct stmt_my_work *w = c->my->work;
    consume(b, 4 + head);
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
            consume(b, 4);
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
        consume(b, k);
        w->take_left -= k;
    }
    c->my->stmt &= ~STMT_TAKE;
    if (w->take_to == TAKE_PREPARE && !w->prep_err_sent) {
        c->my->stmt |= STMT_READY;
        return false;
    }
    work_free(c); /* a command answered already, or long data kept */
    return true;
}

/* ---- weir's own commands ---- */

/* Queues weir's own command `own` (STMT_OWN_*): its answer is taken out of the stream. */
static void own_queue(struct client *c, struct server *s, uint8_t cmd, uint8_t own)
{
    struct my_track_state *t = &s->my;
    uint8_t at = (t->qhead + t->qlen++) % sizeof(t->queue);
    t->queue[at] = cmd;
    t->queue_stmt[at] = 0;
    t->queue_own[at] = own;
    if (s->outstanding++ == 0)
        s->query_start = ev_now(c->w->loop);
}

/* Sends o's packets to s (after whatever weir queued before). False when s (and c) closed. */
static bool own_send(struct server *s, struct my_out *o)
{
    pg_out_bytes(&s->out, o->data, o->len);
    bool failed = o->failed || s->out.failed;
    my_out_free(o);
    if (failed || server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot send a statement command");
        return false;
    }
    return true;
}

/* Closes every statement weir prepared on s (a client whose statements pass through needs it). */
static bool close_all(struct server *s)
{
    struct my_out o;
    my_out_init(&o);
    struct list *n;
    while ((n = s->my_stmts->lru.next) != &s->my_stmts->lru) {
        struct stmt_my_server *e = list_entry(n, struct stmt_my_server, lru);
        my_out_stmt_close(&o, e->id);
        stmt_my_server_remove(s->my_stmts, e);
    }
    return own_send(s, &o);
}

/*
 * Prepares w->key on s, in the schema it was first prepared in, after
 * closing the least recently used statements over max_prepared_statements.
 * The client is held until the answers are in. False when c was closed.
 */
static bool send_prepare(struct client *c, struct server *s, struct stmt_my_work *w)
{
    if (!s->my_stmts && !(s->my_stmts = stmt_my_servers_new())) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    struct my_out o;
    my_out_init(&o);
    uint32_t bound =
        weir.cfg->max_prepared_statements > 0 ? (uint32_t)weir.cfg->max_prepared_statements : 1;
    while (s->my_stmts->n >= bound) {
        struct stmt_my_server *e = stmt_my_server_lru(s->my_stmts);
        if (!e)
            break; /* all with a cursor open: over the bound until they close */
        my_out_stmt_close(&o, e->id);
        stmt_my_server_remove(s->my_stmts, e);
    }
    const char *cur;
    size_t cur_len;
    client_schema(c, s, &cur, &cur_len);
    const char *sch = (const char *)w->key.bytes;
    size_t sch_len = w->key.text_at - 1;
    bool other = sch_len != cur_len || memcmp(sch, cur, cur_len);
    const char *db = s->pool->db->dbname;
    if (other) {
        /* Prepared in another schema than the client's now: names resolve as they did then. */
        if (sch_len)
            my_out_init_db(&o, sch, sch_len);
        else
            my_out_init_db(&o, db, strlen(db));
        own_queue(c, s, COM_INIT_DB, STMT_OWN_SCHEMA);
    }
    my_out_stmt_prepare(&o, w->key.bytes + w->key.text_at, w->key.len - w->key.text_at);
    own_queue(c, s, COM_STMT_PREPARE, STMT_OWN_PREPARE);
    if (other) {
        if (cur_len)
            my_out_init_db(&o, cur, cur_len);
        else
            my_out_init_db(&o, db, strlen(db));
        own_queue(c, s, COM_INIT_DB, STMT_OWN_SCHEMA_BACK);
    }
    count(c, COUNT_SERVER_PREPARE);
    w->sent = true;
    w->got_first = false;
    w->ok_seen = false;
    free(w->resp);
    w->resp = NULL;
    w->resp_len = 0;
    w->resp_over = false;
    free(w->err);
    w->err = NULL;
    w->err_len = 0;
    c->my->stmt |= STMT_HOLD;
    return own_send(s, &o);
}

/* Keeps packet pkt (n bytes) of w's answer, up to STMT_MY_RESP_MAX. */
static void keep_resp(struct stmt_my_work *w, const uint8_t *pkt, uint32_t n)
{
    if (w->resp_over)
        return;
    uint8_t *r = w->resp_len + n <= STMT_MY_RESP_MAX ? realloc(w->resp, w->resp_len + n) : NULL;
    if (!r) {
        free(w->resp);
        w->resp = NULL;
        w->resp_len = 0;
        w->resp_over = true;
        return;
    }
    memcpy(r + w->resp_len, pkt, n);
    w->resp = r;
    w->resp_len += n;
}

static void keep_err(struct stmt_my_work *w, const uint8_t *payload, uint32_t len)
{
    if (w->err || !(w->err = malloc(len)))
        return;
    memcpy(w->err, payload, len);
    w->err_len = len;
}

int stmt_my_own_packet(struct server *s, struct client *c, const uint8_t *pkt, uint32_t n, int rc)
{
    struct my_track_state *t = &s->my;
    struct stmt_my_work *w = c->my->work;
    const uint8_t *payload = pkt + 4;
    uint32_t len = n - 4;
    switch (t->own) {
    case STMT_OWN_SCHEMA:
        if (w && payload[0] == MY_ERR_HEADER)
            keep_err(w, payload, len);
        return WR_OK;
    case STMT_OWN_SCHEMA_BACK:
        if (payload[0] == MY_ERR_HEADER) {
            t->fail = "could not return to the client's schema after preparing a statement";
            return WR_ERROR;
        }
        return WR_OK;
    case STMT_OWN_PREPARE:
        break;
    default:
        return WR_OK;
    }
    if (!w) {
        t->fail = "the answer to weir's own prepare came for nobody";
        return WR_ERROR;
    }
    if (!w->got_first) {
        w->got_first = true;
        if (payload[0] == MY_ERR_HEADER) {
            keep_err(w, payload, len);
        } else {
            if (my_prep_ok_parse(payload, len, &w->ok) != WR_OK) {
                t->fail = "malformed answer to weir's own prepare";
                return WR_ERROR;
            }
            w->ok_seen = true;
        }
    }
    keep_resp(w, pkt, n);
    if (rc != WR_DONE || !w->ok_seen)
        return WR_OK;
    struct stmt_my_server *ss = NULL;
    if (!w->err && !w->resp_over && s->my_stmts)
        ss = stmt_my_server_add(s->my_stmts, &w->key, w->ok.stmt_id, w->ok.nparams, w->ok.ncols);
    if (ss) {
        ss->resp = w->resp;
        ss->resp_len = w->resp_len;
        w->resp = NULL;
        w->resp_len = 0;
        return WR_OK;
    }
    /* Not kept (its schema was not there, too large, out of memory): closed again. */
    if (!w->err)
        work_set_err(w, 1105, "HY000",
                     w->resp_over ? "weir: the statement's prepare response is over 1 MiB"
                                  : "weir: out of memory keeping a prepared statement");
    struct my_out o;
    my_out_init(&o);
    my_out_stmt_close(&o, w->ok.stmt_id);
    pg_out_bytes(&s->out, o.data, o.len);
    bool failed = o.failed || s->out.failed;
    my_out_free(&o);
    if (failed || server_flush_out(s) == WR_ERROR) {
        t->fail = "cannot write to server";
        return WR_ERROR;
    }
    return WR_OK;
}

/*
 * w's own prepare failed with ERR 1461 (the server's max_prepared_stmt_count
 * is reached, by all its connections together): once, close half of what s
 * holds and try again. True when it went out again (or c was closed: *gone).
 */
static bool retry_for_room(struct client *c, struct server *s, struct stmt_my_work *w, bool *gone)
{
    *gone = false;
    if (w->retried || !w->err || w->err_len < 3 || my_get16(w->err + 1) != 1461 || !s->my_stmts ||
        s->my_stmts->n == 0)
        return false;
    w->retried = true;
    struct my_out o;
    my_out_init(&o);
    for (uint32_t k = (s->my_stmts->n + 1) / 2; k > 0; k--) {
        struct stmt_my_server *e = stmt_my_server_lru(s->my_stmts);
        if (!e)
            break;
        my_out_stmt_close(&o, e->id);
        stmt_my_server_remove(s->my_stmts, e);
    }
    log_server(s, LOG_LVL_WARNING,
               "the server's max_prepared_stmt_count is reached: closed the least recently used "
               "half of this connection's statements (lower max_prepared_statements)");
    if (!own_send(s, &o) || !send_prepare(c, s, w)) {
        *gone = true;
        return true;
    }
    return true;
}

/* ---- PREPARE ---- */

/* Column definitions of a prepare response (cols after params), for a client without the cache. */
static void keep_defs(struct client *c, struct server *s, struct stmt_my_client *cs,
                      const struct stmt_my_server *ss)
{
    if (!(s->my_caps & MARIADB_CLIENT_CACHE_METADATA) ||
        (c->my->caps & MARIADB_CLIENT_CACHE_METADATA) || ss->ncols == 0)
        return;
    uint32_t off = 0, start = 0, end = 0;
    uint32_t skip = 1 + (ss->nparams ? ss->nparams + 1u : 0);
    uint32_t i = 0;
    while (off + 4 <= ss->resp_len) {
        uint32_t n = 4 + my_get24(ss->resp + off);
        if (off + n > ss->resp_len)
            return;
        if (i == skip)
            start = off;
        if (i == skip + ss->ncols - 1u) {
            end = off + n;
            break;
        }
        off += n;
        i++;
    }
    if (end <= start || end - start > 16 * 1024 || !(cs->defs = malloc(end - start)))
        return;
    memcpy(cs->defs, ss->resp + start, end - start);
    cs->def_len = end - start;
    cs->def_cols = ss->ncols;
}

/* Answers the taken PREPARE from what s keeps of the statement. False when c was closed. */
static bool answer_prepare(struct client *c, struct server *s, struct stmt_my_server *ss)
{
    struct stmt_my_work *w = c->my->work;
    struct stmt_my_client *cs = stmt_my_client_add(&c->my->stmts, 0, &w->key);
    work_free(c);
    if (!cs) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    cs->nparams = ss->nparams;
    cs->ncols = ss->ncols;
    keep_defs(c, s, cs, ss);
    c->my->last_prepared = cs->id;
    count(c, COUNT_CLIENT_PREPARE);
    struct pg_out *out = client_out(c);
    size_t at = out->len;
    pg_out_bytes(out, ss->resp, ss->resp_len);
    if (!out->failed)
        my_put_le(out->data + at + 5, cs->id, 4); /* after the header and the OK byte */
    return flush_client(c);
}

/* The taken PREPARE (STMT_READY): answer it, or prepare it on s first. */
static bool prepare_act(struct client *c, struct server *s)
{
    struct stmt_my_work *w = c->my->work;
    if (!w->key.bytes) {
        /* Until it succeeds, MariaDB's "last prepared" id (-1) names no statement. */
        c->my->last_prepared = 0;
        const uint8_t *text = w->prep + 1;
        uint32_t text_len = w->prep_len - 1;
        if (!c->pinned && my_has_get_lock(text, text_len))
            pin_for_lock(c, s);
        if (c->my->stmts.n >= STMT_MY_CLIENT_MAX) {
            work_free(c);
            return reply_err(c, 1461, "42000",
                             "Can't create more than max_prepared_stmt_count statements "
                             "(current value: %d): weir keeps at most that many per client",
                             STMT_MY_CLIENT_MAX);
        }
        const char *sch;
        size_t sch_len;
        client_schema(c, s, &sch, &sch_len);
        if (!stmt_my_key_make(&w->key, sch, sch_len, text, text_len)) {
            client_fail(c, "53200", "out of memory");
            return false;
        }
        free(w->prep);
        w->prep = NULL;
    }
    struct stmt_my_server *ss = stmt_my_server_find(s->my_stmts, &w->key);
    if (ss && ss->resp)
        return answer_prepare(c, s, ss);
    if (w->sent && w->err) {
        bool gone;
        if (retry_for_room(c, s, w, &gone))
            return !gone;
        bool ok = reply_err_payload(c, w->err, w->err_len);
        if (ok)
            work_free(c);
        return ok;
    }
    if (w->sent) {
        work_free(c);
        return reply_err(c, 1105, "HY000", "weir: the statement could not be prepared");
    }
    return send_prepare(c, s, w);
}

/* Takes a COM_STMT_PREPARE (payload len) at b->parsed out of the input. False when c closed. */
static bool prepare_take(struct client *c, struct server *s, struct iobuf *b, uint32_t len)
{
    struct stmt_my_work *w = work_get(c);
    if (!w) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    if (len >= MY_MAX_PAYLOAD - 1 || !(w->prep = malloc(len))) {
        c->my->last_prepared = 0;
        /* Answered now; the text, 16 MiB or more, is taken out and dropped. */
        w->prep_err_sent = true;
        take_start(c, b, len, 0, TAKE_PREPARE);
        return reply_err(c, 1153, "08S01",
                         "weir: a statement text of 16 MiB or more cannot be prepared");
    }
    w->prep_len = len;
    w->prep_have = 0;
    take_start(c, b, len, 0, TAKE_PREPARE);
    if (c->my->stmt & STMT_TAKE)
        return true;          /* the rest of the text is on its way */
    return prepare_act(c, s); /* STMT_READY until it is answered */
}

/* ---- EXECUTE ---- */

/* The client statement an EXECUTE-like command's id names (MariaDB's -1: the last prepared). */
static struct stmt_my_client *client_stmt(struct client *c, uint32_t id)
{
    if (id == MY_STMT_LAST_PREPARED)
        id = c->my->last_prepared;
    return stmt_my_client_find(&c->my->stmts, id);
}

/* Answers the EXECUTE at b->parsed with an error and takes it out. False when c was closed. */
static bool exec_refuse(struct client *c, struct iobuf *b, uint32_t len, const uint8_t *err,
                        uint32_t err_len, uint16_t code, const char *msg)
{
    if (!work_get(c)) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    bool ok = err ? reply_err_payload(c, err, err_len) : reply_err(c, code, "HY000", "%s", msg);
    if (!ok)
        return false;
    struct stmt_my_work *w = c->my->work;
    free(w->err);
    w->err = NULL;
    w->sent = false;
    take_start(c, b, len, 0, TAKE_DISCARD);
    if (!(c->my->stmt & STMT_TAKE))
        work_free(c);
    return true;
}

/* Sends the long data kept for cs to s under ss's id, ahead of the EXECUTE. */
static bool send_long_data(struct client *c, struct server *s, struct stmt_my_client *cs,
                           const struct stmt_my_server *ss)
{
    for (uint32_t off = 0; off + 9 <= cs->long_len;) {
        my_put_le(cs->long_data + off + 5, ss->id, 4);
        off += 4 + my_get24(cs->long_data + off);
    }
    pg_out_bytes(&s->out, cs->long_data, cs->long_len);
    free(cs->long_data);
    cs->long_data = NULL;
    cs->long_len = 0;
    if (s->out.failed || server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot send long data");
        return false;
    }
    return true;
}

/*
 * An EXECUTE whose client sent no types, to a server whose statement saw
 * others: its head goes out again from s->out with the client's last types,
 * and the parameter values follow from the input unchanged.
 */
static bool exec_with_types(struct client *c, struct server *s, struct iobuf *b, uint32_t len,
                            struct stmt_my_client *cs, struct stmt_my_server *ss,
                            const struct my_exec_head *h)
{
    uint32_t grow = 2u * cs->nparams;
    if (len + grow >= MY_MAX_PAYLOAD)
        return exec_refuse(c, b, len, NULL, 0, 1153,
                           "weir: an EXECUTE this large must send its parameter types");
    uint32_t n = my_exec_head_typed_len(h);
    uint8_t *head = malloc(4 + n);
    if (!head) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    my_put_le(head, len + grow, 3);
    head[3] = 0;
    my_exec_head_with_types(head + 4, h, b->data + b->parsed + 4, ss->id, cs->types);
    pg_out_bytes(&s->out, head, 4 + n);
    free(head);
    keep_types(&ss->types, cs->types, cs->nparams);
    consume(b, 4 + h->head_len);
    c->in_remaining = len - h->head_len;
    s->my.c2s_cont = false;
    if (!relay_my_queue(c, s, h->command, cs->id)) {
        client_fail(c, "08P01", "too many commands sent without reading the answers");
        return false;
    }
    if (cs->cursor)
        set_cursor(c, s, cs, false);
    count(c, COUNT_BIND);
    if (s->out.failed || server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot send an EXECUTE");
        return false;
    }
    return true;
}

/* The EXECUTE (or BULK_EXECUTE, payload len) at b->parsed needs more than an id. */
static bool exec_act(struct client *c, struct server *s, struct iobuf *b, uint32_t len)
{
    const uint8_t *p = b->data + b->parsed + 4;
    uint32_t avail = b->recv - b->parsed - 4;
    struct stmt_my_client *cs = client_stmt(c, my_get32(p + 1));
    if (!cs)
        return true; /* the scan sends it on with id 0: the server says it is unknown */
    struct stmt_my_work *w = c->my->work;
    if (w && w->sent && w->for_stmt == cs->id) {
        /* Back from preparing it here. */
        bool gone;
        if (w->err && retry_for_room(c, s, w, &gone))
            return !gone;
        if (w->err) {
            free(cs->long_data);
            cs->long_data = NULL;
            cs->long_len = 0;
            cs->long_over = false;
            return exec_refuse(c, b, len, w->err, w->err_len, 0, NULL);
        }
        work_free(c);
        w = NULL;
    }
    if (4 + head_max(p[0], cs->nparams) > b->cap)
        return exec_refuse(c, b, len, NULL, 0, 1390,
                           "Prepared statement contains too many placeholders for weir "
                           "to re-send its parameter types");
    if (cs->long_over) {
        free(cs->long_data);
        cs->long_data = NULL;
        cs->long_len = 0;
        cs->long_over = false;
        return exec_refuse(c, b, len, NULL, 0, 1153,
                           "weir: the statement's long data (COM_STMT_SEND_LONG_DATA) is over "
                           "16 MiB");
    }
    struct stmt_my_server *ss = stmt_my_server_find(s->my_stmts, &cs->key);
    if (!ss) {
        if (!w && !(w = work_get(c))) {
            client_fail(c, "53200", "out of memory");
            return false;
        }
        stmt_my_key_free(&w->key);
        if (!stmt_my_key_copy(&w->key, &cs->key)) {
            client_fail(c, "53200", "out of memory");
            return false;
        }
        w->for_stmt = cs->id;
        w->retried = false;
        return send_prepare(c, s, w);
    }
    if (cs->long_len)
        return send_long_data(c, s, cs, ss);
    struct my_exec_head h;
    if (my_exec_head_parse(p, avail < len ? avail : len, len, cs->nparams, &h) != WR_OK)
        return true; /* the scan waits for the head, or sends a malformed one on */
    if (!h.bound && cs->nparams && cs->types &&
        (!ss->types || memcmp(ss->types, cs->types, 2u * cs->nparams)))
        return exec_with_types(c, s, b, len, cs, ss, &h);
    return true;
}

/* ---- SEND_LONG_DATA, RESET ---- */

/* Takes a SEND_LONG_DATA (payload len, its head here) out of the input, keeping its data. */
static bool long_data_take(struct client *c, struct iobuf *b, uint32_t len)
{
    const uint8_t *p = b->data + b->parsed + 4;
    uint32_t id;
    uint16_t param;
    if (my_long_data_parse(p, MY_LONG_DATA_HEAD, &id, &param) != WR_OK) {
        client_fail(c, "08P01", "malformed COM_STMT_SEND_LONG_DATA");
        return false;
    }
    struct stmt_my_client *cs = client_stmt(c, id);
    if (!work_get(c)) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    uint32_t data = len - MY_LONG_DATA_HEAD;
    enum take_to to = TAKE_DISCARD;
    if (cs && !cs->long_over) {
        uint64_t want = (uint64_t)cs->long_len + 4 + MY_LONG_DATA_HEAD + data;
        uint8_t *d = len < MY_MAX_PAYLOAD && want <= STMT_MY_LONG_DATA_MAX
                         ? realloc(cs->long_data, want)
                         : NULL;
        if (!d) {
            /* Over the bound: the EXECUTE gets the error (the server would keep the data). */
            free(cs->long_data);
            cs->long_data = NULL;
            cs->long_len = 0;
            cs->long_over = true;
        } else {
            uint8_t *q = d + cs->long_len;
            my_put_le(q, MY_LONG_DATA_HEAD + data, 3);
            q[3] = 0;
            q[4] = COM_STMT_SEND_LONG_DATA;
            my_put_le(q + 5, 0, 4); /* the server's id, when it is known */
            my_put_le(q + 9, param, 2);
            cs->long_data = d;
            cs->long_len += 4 + MY_LONG_DATA_HEAD;
            c->my->work->take_stmt = cs->id;
            to = TAKE_LONG_DATA;
        }
    }
    take_start(c, b, len, MY_LONG_DATA_HEAD, to);
    if (!(c->my->stmt & STMT_TAKE))
        work_free(c);
    return true;
}

bool stmt_my_own(struct client *c)
{
    struct server *s = c->server;
    if (!s || s->state != SV_ACTIVE) {
        client_fail(c, "08P01", "internal error: statement command without a server");
        return false;
    }
    if (!server_idle(s)) {
        c->my->stmt |= STMT_HOLD; /* relay.c resumes it when the server is idle */
        return true;
    }
    if (c->my->stmt & STMT_READY)
        return prepare_act(c, s);
    struct iobuf *b = c->in;
    uint32_t len;
    uint8_t seq;
    if (!b || my_pkt_peek(b->data + b->parsed, buf_unparsed(b), &len, &seq) != WR_OK ||
        buf_unparsed(b) < 5) {
        client_fail(c, "08P01", "internal error: statement command not there");
        return false;
    }
    const uint8_t *p = b->data + b->parsed + 4;
    if (c->my->ps_mode != STMT_MY_MAPPED) {
        /* Statements pass through: weir's own ones on this server go first. */
        return !s->my_stmts || s->my_stmts->n == 0 || close_all(s);
    }
    switch (p[0]) {
    case COM_STMT_PREPARE:
        return prepare_take(c, s, b, len);
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
        return exec_act(c, s, b, len);
    case COM_STMT_SEND_LONG_DATA:
        return long_data_take(c, b, len);
    case COM_STMT_RESET:
        /* A statement this server never saw: nothing to reset here. */
        consume(b, 4 + len);
        return reply_ok(c, s);
    default:
        client_fail(c, "08P01", "internal error: unexpected statement command 0x%02x", p[0]);
        return false;
    }
}

bool stmt_my_resume(struct client *c)
{
    if (c->my->stmt & STMT_READY)
        return stmt_my_own(c);
    struct stmt_my_work *w = c->my->work;
    if (w && w->sent && w->for_stmt && !w->err)
        work_free(c); /* prepared for its EXECUTE, which the scan now sends */
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
    struct stmt_my_client *cs = client_stmt(c, my_get32(p + 1));
    if (!cs) {
        my_put_le(p + 1, 0, 4); /* no server has id 0: it answers "unknown handler" */
        return STMT_PASS;
    }
    if (4 + head_max(p[0], cs->nparams) > b->cap || cs->long_len || cs->long_over)
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
        keep_types(&cs->types, h.types, cs->nparams);
        keep_types(&ss->types, h.types, cs->nparams);
    }
    if (cs->cursor)
        set_cursor(c, s, cs, false); /* executing again closes its cursor */
    *queue_stmt = cs->id;
    count(c, COUNT_BIND);
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
        cs = client_stmt(c, my_get32(p + 1));
        if (cs) {
            if (cs->cursor)
                set_cursor(c, s, cs, false);
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
        cs = client_stmt(c, my_get32(p + 1));
        if (!cs) {
            my_put_le(p + 1, 0, 4);
            return STMT_PASS;
        }
        free(cs->long_data);
        cs->long_data = NULL;
        cs->long_len = 0;
        cs->long_over = false;
        if (cs->cursor)
            set_cursor(c, s, cs, false);
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
        cs = client_stmt(c, my_get32(p + 1));
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
    set_cursor(c, s, cs,
               !t->resp.error && (st & SERVER_STATUS_CURSOR_EXISTS) &&
                   !(st & SERVER_STATUS_LAST_ROW_SENT));
}

/* ---- GET_LOCK ---- */

void stmt_my_query_scan(struct client *c, struct server *s)
{
    if (c->pinned || s->pool->pool_mode == POOL_SESSION)
        return;
    memset(&c->my->lock, 0, sizeof(c->my->lock));
    c->my->lock_scan = true; /* its text is looked at as it passes (stmt_my_query_more) */
}

void stmt_my_query_more(struct client *c, struct server *s, const uint8_t *p, size_t n)
{
    if (!c->pinned && my_lock_scan_feed(&c->my->lock, p, n)) {
        pin_for_lock(c, s);
        c->my->lock_scan = false;
    }
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
    struct stmt_my_client *cs = client_stmt(c, my_get32(b->data + b->parsed + 5));
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
    work_free(c);
    stmt_my_clients_clear(&c->my->stmts);
}

void stmt_my_server_forget(struct server *s)
{
    stmt_my_servers_free(s->my_stmts);
    s->my_stmts = NULL;
}
