/*
 * relay_my.c -- the MySQL half of the relay: packet headers (3-byte length,
 * sequence id) instead of PostgreSQL messages. Client packets with sequence
 * id 0 start commands, which are queued; the server's packets are fed to the
 * response tracker of protocol/mysql (whole only when it must look inside:
 * OK, ERR, EOF, column counts), so `outstanding` counts the commands still
 * waiting for the end of their response.
 */
#include "pooler/relay.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/worker.h"
#include "protocol/mysql/my_cmd.h"

/* Capabilities of a server connection a client may lack: weir translates those packets. */
#define MY_XLATE_CAPS                                                                              \
    (CLIENT_SESSION_TRACK | MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA)

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

enum scan_result relay_my_scan_client(struct client *c, struct server *s, struct iobuf *b)
{
    struct my_track_state *t = &s->my;
    if (c->my_kill_wait)
        return SCAN_OK; /* what follows a KILL waits for its answer */
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (relay_skip_body(b, &c->in_remaining))
            continue;
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        if (!t->c2s_cont && t->busy && t->resp.infile) {
            /*
             * The server asked for a LOCAL INFILE file: the client's packets
             * are its content (sequence ids may wrap to 0), up to an empty one.
             */
            if (len == 0 && my_resp_infile_sent(&t->resp) != WR_OK)
                return SCAN_ERROR;
        } else if (!t->c2s_cont && seq == 0) {
            if (len == 0)
                return SCAN_ERROR;
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
            if (own == WR_ERROR)
                return SCAN_ERROR;
            if (own == WR_OK)
                return SCAN_OWN;
            if (cmd == COM_STMT_PREPARE)
                c->pinned = true; /* binary prepared statements live on this server */
            if (my_cmd_has_response(cmd)) {
                if (t->qlen == sizeof(t->queue))
                    return SCAN_ERROR; /* nobody pipelines 16 commands without reading */
                t->queue[(t->qhead + t->qlen++) % sizeof(t->queue)] = cmd;
                if (s->outstanding++ == 0)
                    s->query_start = ev_now(c->w->loop);
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
                      uint32_t len)
{
    uint8_t *p = b->data + b->parsed + 4;
    uint64_t missing = s->my_caps & ~c->my_caps;
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
         * whose metadata the connection has cached); weir keeps no copy to
         * put back, so the result cannot reach this client.
         */
        if (p[len - 1] != 1) {
            s->my.fail = "binary result without column metadata: weir cannot serve prepared "
                         "statements with results to clients without MariaDB's metadata cache";
            return false;
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

enum scan_result relay_my_scan_server(struct server *s, struct client *c, struct iobuf *b)
{
    struct my_track_state *t = &s->my;
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (relay_skip_body(b, &s->in_remaining))
            continue;
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        if (!t->busy && t->qlen > 0) {
            my_resp_start(&t->resp, t->queue[t->qhead], s->my_caps);
            t->qhead = (t->qhead + 1) % sizeof(t->queue);
            t->qlen--;
            t->busy = true;
        }
        if (t->busy) {
            if (len > 0 && avail < 5)
                return SCAN_OK;
            uint8_t first = len > 0 ? b->data[b->parsed + 4] : 0;
            bool whole = avail >= 4 + len;
            bool xlate = (s->my_caps & ~c->my_caps & MY_XLATE_CAPS) != 0;
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
                if (!translate(s, c, b, before, len) ||
                    my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
                    return SCAN_ERROR;
            }
            if (rc == WR_DONE) {
                t->busy = false;
                if (t->resp.has_status) {
                    t->status = t->resp.status;
                    s->txstatus = t->status & SERVER_STATUS_IN_TRANS ? 'T' : 'I';
                }
                if (t->resp.command == COM_RESET_CONNECTION && !t->resp.error) {
                    /* The client reset its own session: nothing of it is left to keep. */
                    c->pinned = false;
                    relay_my_vars_clear(c);
                    free(c->my_schema);
                    c->my_schema = NULL;
                    s->my_dirty = false;
                }
                if (s->outstanding > 0)
                    s->outstanding--;
                c->last_active = ev_now(c->w->loop);
            }
        }
        /* Packets outside any response (an ERR before the server hangs up) just pass. */
        b->parsed += 4;
        s->in_remaining = len;
    }
    return SCAN_OK;
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

void relay_my_vars_clear(struct client *c)
{
    for (int i = 0; i < 2 * c->my_nvars; i++)
        free(c->my_vars[i]);
    free(c->my_vars);
    c->my_vars = NULL;
    c->my_nvars = 0;
}

/* Records name = value for the client; false when it cannot (too many, out of memory). */
static bool var_set(struct client *c, const uint8_t *name, size_t nlen, const uint8_t *value,
                    size_t vlen)
{
    for (int i = 0; i < c->my_nvars; i++) {
        if (strlen(c->my_vars[2 * i]) == nlen &&
            !strncasecmp(c->my_vars[2 * i], (const char *)name, nlen)) {
            set_str(&c->my_vars[2 * i + 1], value, vlen);
            return true;
        }
    }
    if (c->my_nvars >= MY_MAX_VARS)
        return false;
    char **vars = realloc(c->my_vars, sizeof(*vars) * 2 * (c->my_nvars + 1));
    if (!vars)
        return false;
    c->my_vars = vars;
    char *n = dup_n(name, nlen), *v = dup_n(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return false;
    }
    vars[2 * c->my_nvars] = n;
    vars[2 * c->my_nvars + 1] = v;
    c->my_nvars++;
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
            break;
        case SESSION_TRACK_SCHEMA:
            set_str(&c->my_schema, e.value, e.value_len);
            explained = true;
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
