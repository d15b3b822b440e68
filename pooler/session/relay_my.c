/*
 * relay_my.c -- the MySQL half of the relay: packet headers (3-byte length,
 * sequence id) instead of PostgreSQL messages. Client packets with sequence
 * id 0 start commands, which are queued; the server's packets are fed to the
 * response tracker of protocol/mysql (whole only when it must look inside:
 * OK, ERR, EOF, column counts), so `outstanding` counts the commands still
 * waiting for the end of their response.
 */
#include "pooler/session/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/session/client.h"
#include "pooler/pool/server.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_cmd.h"

/* Capabilities of a server connection a client may lack: weir translates those packets. */
#define MY_XLATE_CAPS                                                                              \
    (CLIENT_SESSION_TRACK | MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

/* ---- column definitions for clients without MariaDB's metadata cache ---- */

#define MY_STMT_DEFS_MAX (16 * 1024) /* bytes of definitions per statement */

/* The client's statement id, with definitions kept, or NULL. */
static const struct stmt_my_client *stmt_defs(struct client *c, uint32_t id)
{
    const struct stmt_my_client *e = stmt_my_client_find(&c->my->stmts, id);
    return e && e->def_cols ? e : NULL;
}

/* Starts collecting definitions from a new response. */
static void cap_reset(struct client *c)
{
    c->my->cap.len = 0;
    c->my->cap.ncols = 0;
}

/* Keeps one definition packet (header and payload, as the client gets it). */
static void cap_add(struct client *c, const uint8_t *pkt, uint32_t n)
{
    struct my_defs_cap *k = &c->my->cap;
    if (k->len == UINT32_MAX)
        return; /* gave up on this one */
    if (k->len + n > MY_STMT_DEFS_MAX || k->ncols == UINT16_MAX) {
        k->len = UINT32_MAX;
        return;
    }
    uint8_t *d = realloc(k->defs, k->len + n);
    if (!d) {
        k->len = UINT32_MAX;
        return;
    }
    memcpy(d + k->len, pkt, n);
    k->defs = d;
    k->len += n;
    k->ncols++;
}

/*
 * The definitions collected are complete: they are statement id's from now
 * on. A statement passing through is remembered here under the server's id;
 * one of weir's ids exists already.
 */
static void cap_commit(struct client *c, uint32_t id)
{
    struct my_defs_cap *k = &c->my->cap;
    if (k->len == UINT32_MAX || k->ncols == 0) {
        cap_reset(c);
        return;
    }
    struct stmt_my_client *m = stmt_my_client_find(&c->my->stmts, id);
    if (!m && c->my->ps_mode != STMT_MY_MAPPED && c->my->stmts.n < STMT_MY_CLIENT_MAX) {
        struct stmt_my_key none = {0};
        m = stmt_my_client_add(&c->my->stmts, id, &none);
    }
    if (!m) {
        cap_reset(c);
        return;
    }
    free(m->defs);
    m->def_cols = k->ncols;
    m->def_len = k->len;
    m->defs = k->defs;
    memset(k, 0, sizeof(*k));
}

int relay_my_own_command(const struct iobuf *b, uint32_t len)
{
    uint32_t avail = b->recv - b->parsed;
    if (len == 0)
        return WR_DONE;
    if (avail < 5)
        return WR_AGAIN;
    const uint8_t *p = b->data + b->parsed + 4;
    bool whole = avail >= 4 + len;
    switch (p[0]) {
    case COM_CHANGE_USER:
    case COM_PROCESS_KILL:
        if (4 + len > b->cap)
            return WR_ERROR;
        return whole ? WR_OK : WR_AGAIN;
    case COM_QUERY: {
        if (len - 1 > MY_KILL_MAX_LEN)
            return WR_DONE;
        if (!whole)
            return WR_AGAIN;
        uint64_t id;
        return my_kill_parse(p + 1, len - 1, &id) != MY_KILL_NONE ? WR_OK : WR_DONE;
    }
    default:
        return WR_DONE;
    }
}

bool relay_my_queue(struct client *c, struct server *s, uint8_t cmd, uint32_t stmt)
{
    struct my_track_state *t = &s->my;
    if (t->qlen == sizeof(t->queue))
        return false;
    uint8_t at = (t->qhead + t->qlen++) % sizeof(t->queue);
    t->queue[at] = cmd;
    t->queue_stmt[at] = stmt;
    t->queue_own[at] = 0;
    if (s->outstanding++ == 0)
        s->query_start = ev_now(c->w->loop);
    if (s->xact_start == 0 && (cmd == COM_QUERY || cmd == COM_STMT_EXECUTE))
        s->xact_start = ev_now(c->w->loop); /* statistics */
    return true;
}

enum scan_result relay_my_scan_client(struct client *c, struct server *s, struct iobuf *b,
                                      char *why, size_t why_len)
{
    struct my_track_state *t = &s->my;
    if (c->kill_wait)
        return SCAN_OK; /* what follows a KILL waits for its answer */
    if (c->my->stmt) {
        if (c->my->stmt & STMT_HOLD)
            return SCAN_HOLD; /* a statement command waits for the server's answers */
        if (c->my->stmt & STMT_READY)
            return SCAN_OWN; /* a PREPARE taken out waits for its action */
    }
    while (b->parsed < b->recv) {
        if ((c->my->stmt & STMT_TAKE) && !stmt_my_take_more(c, b))
            return SCAN_OWN; /* a PREPARE's text is all taken: its action follows */
        uint32_t avail = b->recv - b->parsed;
        if (c->in_remaining && c->my->lock_scan)
            stmt_my_query_more(c, s, b->data + b->parsed,
                               avail < c->in_remaining ? avail : c->in_remaining);
        if (buf_skip_body(b, &c->in_remaining))
            continue;
        if (avail == 0)
            break; /* all of it was taken out */
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        if (!t->c2s_cont && t->busy && t->resp.infile) {
            /*
             * The server asked for a LOCAL INFILE file: the client's packets
             * are its content (sequence ids may wrap to 0), up to an empty one.
             */
            if (len == 0 && my_resp_infile_sent(&t->resp) != WR_OK) {
                snprintf(why, why_len, "invalid LOCAL INFILE data");
                return SCAN_ERROR;
            }
        } else if (!t->c2s_cont && seq != 0) {
            /*
             * A command starts at sequence id 0. The server would answer
             * anything else with ERR 1156 and then wait, or answer after
             * this client left: refuse it here, before it reaches a server.
             */
            snprintf(why, why_len, MY_OUT_OF_ORDER ": a command starts at sequence id 0, not %u",
                     seq);
            return SCAN_ERROR;
        } else if (!t->c2s_cont) {
            if (len == 0) {
                snprintf(why, why_len, "empty command packet");
                return SCAN_ERROR;
            }
            if (avail < 5)
                return SCAN_OK; /* the command byte is still on its way */
            uint8_t cmd = b->data[b->parsed + 4];
            if (cmd == COM_QUIT) {
                b->recv = b->parsed;
                return SCAN_TERMINATE;
            }
            int own = relay_my_own_command(b, len);
            if (own == WR_AGAIN)
                return SCAN_OK;
            if (own == WR_ERROR) {
                snprintf(why, why_len, "command packet too large");
                return SCAN_ERROR;
            }
            if (own == WR_OK)
                return SCAN_OWN;
            c->my->lock_scan = false;
            c->my->keep_for_diagnostics = false; /* its next statement: the warnings are gone */
            uint32_t stmt = 0;
            if (cmd == COM_QUERY) {
                stmt_my_query_scan(c, s); /* GET_LOCK pins: its text is scanned as it passes */
            } else if (my_stmt_command(cmd)) {
                switch (stmt_my_scan(c, s, b, len, &stmt, why, why_len)) {
                case STMT_PASS:
                    break;
                case STMT_WAIT:
                    return SCAN_OK;
                case STMT_CUT:
                    continue;
                case STMT_OWN:
                    return SCAN_OWN;
                case STMT_ERROR:
                    return SCAN_ERROR;
                }
            }
            if (my_cmd_has_response(cmd) && !relay_my_queue(c, s, cmd, stmt)) {
                /* nobody pipelines 16 commands without reading */
                snprintf(why, why_len, "too many commands sent without reading the answers");
                return SCAN_ERROR;
            }
        }
        t->c2s_cont = len == MY_MAX_PAYLOAD;
        b->parsed += 4;
        c->in_remaining = len;
    }
    return SCAN_OK;
}

/*
 * Replaces the payload of the packet at b->parsed (old_len bytes) with
 * new_len bytes already written over its start, closing the gap in the
 * buffer and fixing the length in the header.
 */
static void shrink_packet(struct iobuf *b, uint32_t old_len, uint32_t new_len)
{
    uint8_t *pkt = b->data + b->parsed;
    uint32_t gap = old_len - new_len;
    if (gap) {
        memmove(pkt + 4 + new_len, pkt + 4 + old_len, b->recv - (b->parsed + 4 + old_len));
        b->recv -= gap;
    }
    pkt[0] = new_len & 0xff;
    pkt[1] = (new_len >> 8) & 0xff;
    pkt[2] = (new_len >> 16) & 0xff;
}

/* Length of a length-encoded integer's encoding from its first byte. */
static size_t lenenc_size(uint8_t first)
{
    return first < 0xfb ? 1 : first == 0xfc ? 3 : first == 0xfd ? 4 : first == 0xfe ? 9 : 1;
}

/*
 * Rewrites a server packet for a client that lacks some of the server
 * connection's capabilities (a MySQL-protocol client without MariaDB's
 * extensions): OK packets without session tracking, column definitions
 * without extended type info, column counts without the cached-metadata
 * flag. `before` is the tracker's state when the packet arrived. Returns
 * false when the packet cannot be translated.
 */
static bool translate(struct server *s, struct client *c, struct iobuf *b, uint8_t before,
                      uint32_t len, bool *insert)
{
    uint8_t *p = b->data + b->parsed + 4;
    uint64_t missing = s->my_caps & ~c->my->caps;
    if ((before == MY_RS_FIRST || before == MY_RS_SIMPLE) && len > 0 && p[0] == 0x00 &&
        (missing & CLIENT_SESSION_TRACK)) {
        struct my_ok ok;
        if (my_ok_parse(p, len, s->my_caps, &ok) != WR_OK)
            return false;
        struct my_out o;
        my_out_init(&o);
        my_out_int1(&o, 0x00);
        my_out_lenenc(&o, ok.affected_rows);
        my_out_lenenc(&o, ok.insert_id);
        my_out_int2(&o, ok.status & ~SERVER_SESSION_STATE_CHANGED);
        my_out_int2(&o, ok.warnings);
        if (ok.info_len)
            my_out_bytes(&o, ok.info, ok.info_len);
        bool good = !o.failed && o.len <= len;
        if (good) {
            memcpy(p, o.data, o.len);
            shrink_packet(b, len, (uint32_t)o.len);
        }
        my_out_free(&o);
        return good;
    }
    if (before == MY_RS_FIRST && len > 0 && p[0] != 0x00 && p[0] != 0xff && p[0] != 0xfb &&
        (missing & MARIADB_CLIENT_CACHE_METADATA) && len == lenenc_size(p[0]) + 1) {
        /*
         * The "metadata follows" byte. 0 means the server left the column
         * definitions out (MariaDB does for binary results of a statement
         * whose metadata the connection has cached): they go back in from
         * what weir kept of the statement's prepare (or last result).
         */
        if (p[len - 1] != 1) {
            struct my_in in;
            my_in_init(&in, p, len - 1);
            uint64_t ncols = my_in_lenenc(&in, NULL);
            const struct stmt_my_client *m =
                s->my.resp.command == COM_STMT_EXECUTE && s->my.resp.results == 0
                    ? stmt_defs(c, s->my.stmt)
                    : NULL;
            if (!m || in.failed || m->def_cols != ncols) {
                s->my.fail = "binary result without column metadata, and weir has none kept "
                             "for the statement: a client without MariaDB's metadata cache "
                             "cannot get it";
                return false;
            }
            *insert = true;
        }
        shrink_packet(b, len, len - 1);
        return true;
    }
    bool coldef = before == MY_RS_COLDEFS || before == MY_RS_PREP_PARAMS ||
                  before == MY_RS_PREP_COLS || before == MY_RS_FIELDS;
    if (coldef && (missing & MARIADB_CLIENT_EXTENDED_METADATA) && len > 0 && p[0] != 0xfe &&
        p[0] != 0xff) {
        /* catalog, schema, table, org_table, name, org_name, then the extended info. */
        struct my_in in;
        my_in_init(&in, p, len);
        size_t n;
        for (int i = 0; i < 6; i++)
            my_in_lenenc_str(&in, &n);
        size_t at = len - my_in_left(&in);
        my_in_lenenc_str(&in, &n);
        if (in.failed)
            return false;
        size_t ext = len - my_in_left(&in) - at;
        memmove(p + at, p + at + ext, len - at - ext);
        shrink_packet(b, len, (uint32_t)(len - ext));
    }
    return true;
}

/*
 * A packet of the answer to one of weir's own commands (stmt_my.c): read
 * whole, fed to the tracker, translated like the client's packets (a
 * prepare's answer is kept to answer the client with), then taken out of
 * the stream. WR_OK, WR_AGAIN (not whole yet), WR_ERROR.
 */
static int own_packet(struct server *s, struct client *c, struct iobuf *b, uint32_t len)
{
    struct my_track_state *t = &s->my;
    uint32_t avail = b->recv - b->parsed;
    if (avail < 4 + len) {
        if (4 + len <= b->cap)
            return WR_AGAIN;
        t->fail = "oversized packet in the answer to weir's own command";
        return WR_ERROR;
    }
    uint8_t before = t->resp.state;
    int rc = my_resp_feed(&t->resp, b->data + b->parsed + 4, len, len);
    if (rc == WR_ERROR)
        return WR_ERROR;
    bool insert = false;
    if ((s->my_caps & ~c->my->caps & MY_XLATE_CAPS) && t->own == STMT_OWN_PREPARE) {
        uint8_t seq;
        if (!translate(s, c, b, before, len, &insert) ||
            my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
            return WR_ERROR;
    }
    if (rc == WR_DONE) {
        t->busy = false;
        if (t->resp.has_status) {
            t->status = t->resp.status;
            s->txstatus = t->status & SERVER_STATUS_IN_TRANS ? 'T' : 'I';
        }
        if (s->outstanding > 0)
            s->outstanding--;
    }
    if (stmt_my_own_packet(s, c, b->data + b->parsed, 4 + len, rc) != WR_OK)
        return WR_ERROR;
    uint32_t end = b->parsed + 4 + len;
    memmove(b->data + b->parsed, b->data + end, b->recv - end);
    b->recv -= 4 + len;
    return WR_OK;
}

enum scan_result relay_my_scan_server(struct server *s, struct client *c, struct iobuf *b)
{
    struct my_track_state *t = &s->my;
    if (t->insert_pending)
        return SCAN_OK; /* nothing passes the point where weir's packets go in */
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (buf_skip_body(b, &s->in_remaining))
            continue;
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        if (!t->busy && t->qlen > 0) {
            my_resp_start(&t->resp, t->queue[t->qhead], s->my_caps);
            t->stmt = t->queue_stmt[t->qhead];
            t->own = t->queue_own[t->qhead];
            t->qhead = (t->qhead + 1) % sizeof(t->queue);
            t->qlen--;
            t->busy = true;
            t->seq_shift = 0;
            cap_reset(c);
        }
        if (t->busy && t->own) {
            switch (own_packet(s, c, b, len)) {
            case WR_AGAIN:
                return SCAN_OK;
            case WR_ERROR:
                return SCAN_ERROR;
            default:
                continue; /* taken out of the stream */
            }
        }
        uint8_t shift = 0; /* for this packet's sequence id */
        bool insert = false;
        if (t->busy) {
            shift = t->seq_shift;
            if (len > 0 && avail < 5)
                return SCAN_OK;
            uint8_t first = len > 0 ? b->data[b->parsed + 4] : 0;
            bool whole = avail >= 4 + len;
            bool xlate = (s->my_caps & ~c->my->caps & MY_XLATE_CAPS) != 0;
            bool defs = t->resp.state == MY_RS_COLDEFS || t->resp.state == MY_RS_PREP_PARAMS ||
                        t->resp.state == MY_RS_PREP_COLS || t->resp.state == MY_RS_FIELDS;
            if (!whole && (my_resp_wants_whole(&t->resp, first, len) || (xlate && defs))) {
                if (4 + len <= b->cap)
                    return SCAN_OK;
                return SCAN_ERROR;
            }
            uint32_t have = avail - 4 < len ? avail - 4 : len;
            uint8_t before = t->resp.state; /* only a result's first packet can be an OK */
            int rc = my_resp_feed(&t->resp, b->data + b->parsed + 4, have, len);
            if (rc == WR_ERROR)
                return SCAN_ERROR;
            if (whole && first == 0x00 && len > 0 && (s->my_caps & CLIENT_SESSION_TRACK) &&
                (before == MY_RS_FIRST || before == MY_RS_SIMPLE))
                relay_my_session_state(s, c, b->data + b->parsed + 4, len);
            if (xlate && whole) {
                if (!translate(s, c, b, before, len, &insert) ||
                    my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
                    return SCAN_ERROR;
            }
            if (xlate && whole && !(c->my->caps & MARIADB_CLIENT_CACHE_METADATA)) {
                /*
                 * A client without the metadata cache: keep the column
                 * definitions of prepares (and of results that resend them)
                 * for the results that will come without them.
                 */
                bool execute = t->resp.command == COM_STMT_EXECUTE && t->resp.results == 0;
                if (before == MY_RS_PREP_COLS || (before == MY_RS_COLDEFS && execute))
                    cap_add(c, b->data + b->parsed, 4 + len);
                if (c->my->cap.ncols && t->resp.state != MY_RS_PREP_COLS &&
                    t->resp.state != MY_RS_COLDEFS) {
                    if (t->resp.error)
                        cap_reset(c);
                    else
                        cap_commit(c,
                                   t->resp.command == COM_STMT_PREPARE ? t->resp.stmt_id : t->stmt);
                }
            }
            if (rc == WR_DONE) {
                t->busy = false;
                t->seq_shift = 0;
                if (t->resp.error && (t->resp.error_code == MY_ER_OPTION_PREVENTS_STATEMENT ||
                                      t->resp.error_code == MY_ER_READ_ONLY_MODE))
                    server_role_suspect(s); /* a write failed as on a read-only server */
                if (t->resp.has_status) {
                    t->status = t->resp.status;
                    s->txstatus = t->status & SERVER_STATUS_IN_TRANS ? 'T' : 'I';
                }
                if (t->resp.command == COM_RESET_CONNECTION && !t->resp.error) {
                    /* The client reset its own session: nothing of it is left to keep. */
                    c->pinned = false;
                    relay_my_forget(c);
                    stmt_my_server_forget(s); /* the server closed every statement */
                    s->my_dirty = false;
                }
                if (c->my->ps_mode == STMT_MY_MAPPED &&
                    (t->resp.command == COM_STMT_EXECUTE || t->resp.command == COM_STMT_FETCH ||
                     t->resp.command == COM_STMT_BULK_EXECUTE))
                    stmt_my_answered(s, c);
                if (s->outstanding > 0)
                    s->outstanding--;
                c->last_active = ev_now(c->w->loop);
                if (t->resp.command == COM_QUERY || t->resp.command == COM_STMT_EXECUTE)
                    relay_count_answer(s, c, !(t->status & SERVER_STATUS_IN_TRANS));
                /*
                 * SHOW WARNINGS, SHOW COUNT(*) WARNINGS and GET DIAGNOSTICS read this server's
                 * last statement: the client keeps it until its next one (ProxySQL's
                 * handle_warnings). A clean answer costs nothing.
                 */
                if (!t->own)
                    c->my->keep_for_diagnostics = !t->resp.error && t->resp.warnings > 0;
                else
                    s->query_start = c->last_active;
            }
        }
        /* Packets outside any response (an ERR before the server hangs up) just pass. */
        b->data[b->parsed + 3] += shift;
        b->parsed += 4;
        s->in_remaining = len;
        if (insert) {
            /* The definitions follow the column count: relay_my_insert puts them in. */
            (void)buf_skip_body(b, &s->in_remaining); /* the column count, whole */
            t->insert_pending = true;
            t->insert_seq = seq;
            return SCAN_OK;
        }
    }
    return SCAN_OK;
}

int relay_my_insert(struct server *s, struct client *c)
{
    struct my_track_state *t = &s->my;
    const struct stmt_my_client *m = stmt_defs(c, t->stmt);
    t->insert_pending = false;
    if (!m) {
        server_close(s, "the prepared statement was closed while its result came");
        return WR_ERROR;
    }
    struct pg_out *out = client_out(c);
    size_t at = out->len;
    pg_out_bytes(out, m->defs, m->def_len);
    if (out->failed) {
        client_fail(c, "53200", "out of memory");
        return WR_ERROR;
    }
    uint8_t *q = out->data + at;
    for (uint16_t i = 0; i < m->def_cols; i++) {
        q[3] = (uint8_t)(t->insert_seq + 1 + i);
        q += 4 + my_get24(q);
    }
    t->seq_shift = (uint8_t)m->def_cols;
    if (s->in && relay_my_scan_server(s, c, s->in) == SCAN_ERROR) {
        server_close(s, t->fail ? t->fail : "invalid message length from server");
        return WR_ERROR;
    }
    return WR_OK;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *v = malloc(n + 1);
    if (v) {
        memcpy(v, p, n);
        v[n] = 0;
    }
    return v;
}

static void set_str(char **dst, const uint8_t *p, size_t n)
{
    char *v = dup_n(p, n);
    if (!v)
        return;
    free(*dst);
    *dst = v;
}

static bool is_identifier(const uint8_t *p, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    return true;
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

void relay_my_forget(struct client *c)
{
    if (!c->my)
        return; /* a PostgreSQL client */
    for (int i = 0; i < 2 * c->my->nvars; i++)
        free(c->my->vars[i]);
    free(c->my->vars);
    c->my->vars = NULL;
    c->my->nvars = 0;
    free(c->my->schema);
    c->my->schema = NULL;
    stmt_my_forget(c);
    free(c->my->cap.defs);
    memset(&c->my->cap, 0, sizeof(c->my->cap));
}

/* Records name = value for the client; false when it cannot (too many, out of memory). */
static bool var_set(struct client *c, const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen)
{
    for (int i = 0; i < c->my->nvars; i++) {
        if (strlen(c->my->vars[2 * i]) == nlen &&
            !strncasecmp(c->my->vars[2 * i], (const char *)name, nlen)) {
            set_str(&c->my->vars[2 * i + 1], value, vlen);
            return true;
        }
    }
    if (c->my->nvars >= MY_MAX_VARS)
        return false;
    char **vars = realloc(c->my->vars, sizeof(*vars) * 2 * (c->my->nvars + 1));
    if (!vars)
        return false;
    c->my->vars = vars;
    char *n = dup_n(name, nlen), *v = dup_n(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return false;
    }
    vars[2 * c->my->nvars] = n;
    vars[2 * c->my->nvars + 1] = v;
    c->my->nvars++;
    return true;
}

/* Forgets the client's value of name, if it set one. */
static void var_unset(struct client *c, const char *name)
{
    for (int i = 0; i < c->my->nvars; i++) {
        if (strcasecmp(c->my->vars[2 * i], name))
            continue;
        free(c->my->vars[2 * i]);
        free(c->my->vars[2 * i + 1]);
        c->my->nvars--;
        c->my->vars[2 * i] = c->my->vars[2 * c->my->nvars];
        c->my->vars[2 * i + 1] = c->my->vars[2 * c->my->nvars + 1];
        return;
    }
}

/*
 * SET NAMES changed the client's character set (the tracker reports
 * character_set_client and _results only): the connection's character set
 * is the same, and its collation the one named by COLLATE or the default,
 * which setting character_set_connection gives (handoff.c sets
 * collation_connection after it). False when it cannot be recorded.
 */
static bool names_follow(struct client *c, const uint8_t *cs, size_t cs_len)
{
    struct my_pin_scan *ps = &c->my->pin;
    ps->names = false;
    if (!var_set(c, (const uint8_t *)"character_set_connection", 24, cs, cs_len))
        return false;
    if (ps->collate[0] && strcasecmp(ps->collate, "DEFAULT")) {
        size_t n = strlen(ps->collate);
        return is_identifier((const uint8_t *)ps->collate, n) &&
               var_set(c, (const uint8_t *)"collation_connection", 20, (const uint8_t *)ps->collate,
                       n);
    }
    var_unset(c, "collation_connection");
    return true;
}

/*
 * An OK packet of the server, whole: with CLIENT_SESSION_TRACK and the
 * state-changed flag it says what changed in the session. System variables
 * and the schema are remembered for the client (and make the server dirty);
 * any other change (user variables, temporary tables, text PREPARE, ...) is
 * reported as STATE_CHANGE alone and pins the client to this server, and so
 * does LOCK TABLES, which the transaction-state tracker reports.
 */
void relay_my_session_state(struct server *s, struct client *c, const uint8_t *payload, size_t len)
{
    struct my_ok ok;
    if (my_ok_parse(payload, len, s->my_caps, &ok) != WR_OK ||
        !(ok.status & SERVER_SESSION_STATE_CHANGED) || !ok.session_state)
        return;
    struct my_track_iter it;
    struct my_track e;
    bool changed = false, explained = false;
    my_track_init(&it, ok.session_state, ok.session_state_len);
    int rc;
    while ((rc = my_track_next(&it, &e)) == WR_OK) {
        switch (e.type) {
        case SESSION_TRACK_SYSTEM_VARIABLES:
            /*
             * Every system variable is tracked ('*'); each moves with a SET
             * SESSION. A name or value that is not plain text could not be
             * re-applied safely: the client stays here instead.
             */
            if (is_identifier(e.name, e.name_len) && printable(e.value, e.value_len) &&
                var_set(c, e.name, e.name_len, e.value, e.value_len))
                explained = true;
            else
                c->pinned = true;
            if (c->my->pin.names && e.name_len == 20 &&
                !strncasecmp((const char *)e.name, "character_set_client", 20) &&
                !names_follow(c, e.value, e.value_len))
                c->pinned = true;
            break;
        case SESSION_TRACK_SCHEMA:
            set_str(&c->my->schema, e.value, e.value_len);
            explained = true;
            /*
             * No database selected any more (the client dropped its current one): no
             * command selects none on another server, so the client stays on this one.
             */
            if (e.value_len == 0)
                c->pinned = true;
            break;
        case SESSION_TRACK_STATE_CHANGE:
            changed = e.value_len == 1 && e.value[0] == '1';
            break;
        case SESSION_TRACK_TRANSACTION_STATE:
            /* The eighth character is 'L' while LOCK TABLES holds tables. */
            if (e.value_len == 8 && e.value[7] == 'L') {
                c->pinned = true;
                s->my_dirty = true;
            }
            break;
        default:
            break;
        }
    }
    if (changed || explained)
        s->my_dirty = true;
    if (rc == WR_ERROR || (changed && !explained))
        c->pinned = true;
}
