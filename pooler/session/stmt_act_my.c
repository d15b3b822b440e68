/*
 * stmt_act_my.c -- the actions of MySQL statements that follow their client
 * (stmt_my.h says how), run once the client's server has answered
 * everything: PREPARE answered from a server's statement or prepared by
 * weir first, EXECUTE of a statement the server lacks or with the client's
 * last parameter types, SEND_LONG_DATA kept until its EXECUTE, RESET; and
 * weir's own commands on the server, whose answers are taken out of its
 * stream (a prepare's kept for the next client that asks).
 */
#include "pooler/session/stmt_my_int.h"

#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/pool/server.h"
#include "pooler/session/relay.h"

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
    stmt_my_schema_of(c, s, &cur, &cur_len);
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
    stmt_my_count(c, COUNT_SERVER_PREPARE);
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
        stmt_my_work_set_err(w, 1105, "HY000",
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
    stmt_my_work_free(c);
    if (!cs) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    cs->nparams = ss->nparams;
    cs->ncols = ss->ncols;
    keep_defs(c, s, cs, ss);
    c->my->last_prepared = cs->id;
    stmt_my_count(c, COUNT_CLIENT_PREPARE);
    struct pg_out *out = client_out(c);
    size_t at = out->len;
    pg_out_bytes(out, ss->resp, ss->resp_len);
    if (!out->failed)
        my_put_le(out->data + at + 5, cs->id, 4); /* after the header and the OK byte */
    return stmt_my_flush_client(c);
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
            stmt_my_pin_for_lock(c, s);
        if (c->my->stmts.n >= STMT_MY_CLIENT_MAX) {
            stmt_my_work_free(c);
            return client_my_reply_err(
                c, 1461, "42000",
                "Can't create more than max_prepared_stmt_count statements "
                "(current value: %d): weir keeps at most that many per client",
                STMT_MY_CLIENT_MAX);
        }
        const char *sch;
        size_t sch_len;
        stmt_my_schema_of(c, s, &sch, &sch_len);
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
        bool ok = stmt_my_reply_err_payload(c, w->err, w->err_len);
        if (ok)
            stmt_my_work_free(c);
        return ok;
    }
    if (w->sent) {
        stmt_my_work_free(c);
        return client_my_reply_err(c, 1105, "HY000", "weir: the statement could not be prepared");
    }
    return send_prepare(c, s, w);
}

/* Takes a COM_STMT_PREPARE (payload len) at b->parsed out of the input. False when c closed. */
static bool prepare_take(struct client *c, struct server *s, struct iobuf *b, uint32_t len)
{
    struct stmt_my_work *w = stmt_my_work_get(c);
    if (!w) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    if (len >= MY_MAX_PAYLOAD - 1 || !(w->prep = malloc(len))) {
        c->my->last_prepared = 0;
        /* Answered now; the text, 16 MiB or more, is taken out and dropped. */
        w->prep_err_sent = true;
        stmt_my_take_start(c, b, len, 0, TAKE_PREPARE);
        return client_my_reply_err(c, 1153, "08S01",
                                   "weir: a statement text of 16 MiB or more cannot be prepared");
    }
    w->prep_len = len;
    w->prep_have = 0;
    stmt_my_take_start(c, b, len, 0, TAKE_PREPARE);
    if (c->my->stmt & STMT_TAKE)
        return true;          /* the rest of the text is on its way */
    return prepare_act(c, s); /* STMT_READY until it is answered */
}

/* ---- EXECUTE ---- */

/* The client statement an EXECUTE-like command's id names (MariaDB's -1: the last prepared). */
struct stmt_my_client *stmt_my_client_stmt(struct client *c, uint32_t id)
{
    if (id == MY_STMT_LAST_PREPARED)
        id = c->my->last_prepared;
    return stmt_my_client_find(&c->my->stmts, id);
}

/* Answers the EXECUTE at b->parsed with an error and takes it out. False when c was closed. */
static bool exec_refuse(struct client *c, struct iobuf *b, uint32_t len, const uint8_t *err,
                        uint32_t err_len, uint16_t code, const char *msg)
{
    if (!stmt_my_work_get(c)) {
        client_fail(c, "53200", "out of memory");
        return false;
    }
    bool ok = err ? stmt_my_reply_err_payload(c, err, err_len)
                  : client_my_reply_err(c, code, "HY000", "%s", msg ? msg : "");
    if (!ok)
        return false;
    struct stmt_my_work *w = c->my->work;
    free(w->err);
    w->err = NULL;
    w->sent = false;
    stmt_my_take_start(c, b, len, 0, TAKE_DISCARD);
    if (!(c->my->stmt & STMT_TAKE))
        stmt_my_work_free(c);
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
    stmt_my_keep_types(&ss->types, cs->types, cs->nparams);
    stmt_my_consume(b, 4 + h->head_len);
    c->in_remaining = len - h->head_len;
    s->my.c2s_cont = false;
    if (!relay_my_queue(c, s, h->command, cs->id)) {
        client_fail(c, "08P01", "too many commands sent without reading the answers");
        return false;
    }
    if (cs->cursor)
        stmt_my_set_cursor(c, s, cs, false);
    stmt_my_count(c, COUNT_BIND);
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
    struct stmt_my_client *cs = stmt_my_client_stmt(c, my_get32(p + 1));
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
        stmt_my_work_free(c);
        w = NULL;
    }
    if (4 + stmt_my_head_max(p[0], cs->nparams) > b->cap)
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
        if (!w && !(w = stmt_my_work_get(c))) {
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
    struct stmt_my_client *cs = stmt_my_client_stmt(c, id);
    if (!stmt_my_work_get(c)) {
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
    stmt_my_take_start(c, b, len, MY_LONG_DATA_HEAD, to);
    if (!(c->my->stmt & STMT_TAKE))
        stmt_my_work_free(c);
    return true;
}

bool stmt_my_own(struct client *c)
{
    struct server *s = c->server;
    if (!s || s->state != SV_ACTIVE) {
        client_fail(c, "08P01", "internal error: statement command without a server");
        return false;
    }
    if (!stmt_my_server_idle(s)) {
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
        stmt_my_consume(b, 4 + len);
        return stmt_my_reply_ok(c, s);
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
        stmt_my_work_free(c); /* prepared for its EXECUTE, which the scan now sends */
    return true;
}
