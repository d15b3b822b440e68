/*
 * relay.c -- streaming between an ACTIVE client and its server, for both
 * protocols: reading, writing, backpressure, handing the server back, and
 * the PostgreSQL message scanners (relay_my.c scans MySQL packets).
 *
 * Each side's input buffer is scanned header by header: bodies are skipped
 * (in_remaining counts what is left of the current one), so a 100 MB row
 * passes through a 32 KB buffer. Only the few messages the pooler must
 * understand are looked at whole: ReadyForQuery and ParameterStatus from the
 * server, Terminate from the client; with prepared statements kept (ps.c, a
 * client with ps_on) also the messages that name statements, and the
 * answers matched to them. After each recv the scanned bytes are
 * written at once; when the peer's socket is full, its write watcher is
 * armed and this side stops reading until it drains (backpressure).
 */
#include "pooler/session/relay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pooler/session/client.h"
#include "pooler/session/sess_pg.h"
#include "pooler/session/ps.h"
#include "pooler/core/log.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"

/* After everything scanned was sent: give the buffer back or keep the unscanned tail. */
static void settle(struct buf_pool *bp, struct iobuf **bufp)
{
    struct iobuf *b = *bufp;
    if (b->parsed == b->recv) {
        buf_put(bp, b);
        *bufp = NULL;
    } else {
        buf_compact(b);
    }
}

/* ---- client -> server ---- */

bool relay_pg_check(char type, uint32_t body, bool copy_in, char *why, size_t len)
{
    const char *bad = pg_frontend_check(type, body);
    if (!bad && copy_in && type != 'd' && type != 'c' && type != 'f' && type != 'H' && type != 'S')
        bad = "unexpected message type during COPY from stdin";
    if (!bad)
        return true;
    uint8_t t = (uint8_t)type;
    if (t >= 0x21 && t < 0x7f)
        snprintf(why, len, "%s '%c' (body of %u bytes)", bad, t, body);
    else
        snprintf(why, len, "%s 0x%02x", bad, t);
    return false;
}

/*
 * A Query or Parse at b->parsed (header peeked: type, body) for the session
 * state (sess_pg.c): read whole when it fits the buffer (WR_AGAIN until it
 * is), scanned piece by piece as it passes when it does not. WR_OK with what
 * the relay does with it in *text, WR_ERROR when out of memory.
 */
static int relay_pg_text(struct client *c, struct server *s, const struct iobuf *b, char type,
                         uint32_t body, enum sess_text *text)
{
    if (PG_HDR_LEN + body > b->cap) {
        sess_pg_long_text_begin(c);
        return WR_OK;
    }
    if (b->recv - b->parsed < PG_HDR_LEN + body)
        return WR_AGAIN;
    const char *msg = (const char *)b->data + b->parsed + PG_HDR_LEN;
    const char *stmt = "", *q = msg;
    if (type == 'P') {
        const char *nul = memchr(msg, 0, body);
        if (!nul)
            return WR_OK; /* malformed: the server refuses it */
        stmt = msg;
        q = nul + 1;
    }
    const char *end = memchr(q, 0, (size_t)(msg + body - q));
    if (!end)
        return WR_OK;
    return sess_pg_client_text(c, type == 'P', stmt, q, (uint32_t)(end - q), s->outstanding, text)
               ? WR_OK
               : WR_ERROR;
}

/* The next bytes of a text too long for the buffer pass: the keyword scan sees them. */
static void relay_pg_long_text(struct client *c, const struct iobuf *b)
{
    uint32_t n = b->recv - b->parsed;
    if (n > c->in_remaining)
        n = c->in_remaining;
    sess_pg_long_text_feed(c, b->data + b->parsed, n);
    if (n == c->in_remaining)
        sess_pg_long_text_end(c);
}

/*
 * Walks the client's messages in b. A message the protocol does not allow
 * here stops the scan before it (SCAN_ERROR, the reason in why[0..len)): it
 * must never reach a server another client will use next.
 */
static enum scan_result scan_client(struct client *c, struct server *s, struct iobuf *b, char *why,
                                    size_t len)
{
    if (s->kind == BACKEND_MYSQL)
        return relay_my_scan_client(c, s, b, why, len);
    if (c->sess && sess_pg_inject_due(c))
        return SCAN_INJECT; /* weir's query goes before anything after the client's text */
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (c->long_text)
            relay_pg_long_text(c, b);
        if (buf_skip_body(b, &c->in_remaining))
            continue;
        char type;
        uint32_t body;
        int rc = pg_msg_peek(b->data + b->parsed, avail, BUF_MAX_BODY, &type, &body);
        if (rc == WR_AGAIN)
            return SCAN_OK;
        if (rc == WR_ERROR) {
            snprintf(why, len, "invalid message length from client");
            return SCAN_ERROR;
        }
        if (!relay_pg_check(type, body, s->copy_in, why, len))
            return SCAN_ERROR;
        enum sess_text text = SESS_PASS;
        if ((type == 'Q' || type == 'P') && sess_pg_watching(c)) {
            if (c->text_seen) {
                text = sess_pg_pending_text(c); /* read before a wait or flush below */
            } else {
                int tr = relay_pg_text(c, s, b, type, body, &text);
                if (tr == WR_AGAIN)
                    return SCAN_OK; /* the text must be whole to be read */
                if (tr == WR_ERROR) {
                    snprintf(why, len, "out of memory");
                    return SCAN_ERROR;
                }
                c->text_seen = true;
            }
        }
        if (c->ps_on) {
            switch (ps_client_msg(c, s, b, type, body, why, len)) {
            case PS_PASS:
                goto relay_c;
            case PS_EDITED:
                break;
            case PS_WAIT:
                return SCAN_OK;
            case PS_FLUSH:
                return SCAN_FLUSH;
            case PS_ERROR:
                return SCAN_ERROR;
            case PS_CONSUMED:
                s->need_sync = true; /* only Parse, Bind, Describe and Close are taken */
                c->text_seen = false;
                continue;
            }
            /* The message at parsed was rewritten: read its header again. */
            if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body) !=
                WR_OK) {
                snprintf(why, len, "rewritten message lost");
                return SCAN_ERROR;
            }
        }
    relay_c:
        switch (type) {
        case 'X':
            b->recv = b->parsed; /* nothing after Terminate is meant for anyone */
            return SCAN_TERMINATE;
        case 'Q':
        case 'F':
        case 'S':
            if (s->outstanding++ == 0)
                s->query_start = ev_now(c->w->loop);
            if (s->xact_start == 0)
                s->xact_start = ev_now(c->w->loop);
            if (type == 'S')
                s->need_sync = false;
            break;
        case 'P':
        case 'B':
        case 'E':
        case 'D':
        case 'C':
            s->need_sync = true;
            break;
        case 'c':
        case 'f':
            s->copy_in = false;
            break;
        default:
            break;
        }
        b->parsed += PG_HDR_LEN;
        c->in_remaining = body;
        c->text_seen = false;
        if (text == SESS_INJECT) {
            /* Whole in the buffer: it goes out, then weir's own query right behind it. */
            b->parsed += body;
            c->in_remaining = 0;
            sess_pg_inject_arm(c);
            return SCAN_INJECT;
        }
    }
    return SCAN_OK;
}

/* Sends what the client said to its server. Returns false when c or s was closed. */
static bool client_to_server(struct client *c)
{
    struct server *s = c->server;
    struct iobuf *b = c->in;
    if (s->out.len) {
        /* weir's own messages (MySQL statement commands, stmt_my.c; PostgreSQL prepared
         * statements, ps.c; login values, sess_pg.c) go before what follows them. */
        int rc = server_flush_out(s);
        if (rc == WR_AGAIN) {
            client_watch(c, EV_READ, false); /* server_flush_out armed the write watcher */
            return true;
        }
        if (rc == WR_ERROR) {
            server_close(s, strerror(errno));
            return false;
        }
    }
    if (buf_unsent(b)) {
        int rc = io_send(s->fd, s->ssl, b);
        if (rc == WR_AGAIN) {
            client_watch(c, EV_READ, false); /* until the server takes it */
            ev_io_start(s->w->loop, &s->wio);
            return true;
        }
        if (rc == WR_ERROR) {
            server_close(s, strerror(errno));
            return false;
        }
    }
    settle(&c->w->bufs, &c->in);
    client_watch(c, EV_READ, true);
    return true;
}

/* Scans and forwards the client's input. Returns false when the client was closed. */
static bool client_input(struct client *c)
{
    for (;;) {
        char why[160];
        enum scan_result sr = scan_client(c, c->server, c->in, why, sizeof(why));
        if (sr == SCAN_ERROR) {
            /*
             * What came before the offending message goes out whole, so the
             * server is left between messages and can be cleaned and reused;
             * the offending message and what follows it are dropped.
             */
            c->in->recv = c->in->parsed;
            if (!client_to_server(c))
                return false;
            stats_error(c->w, c->pool, STATS_ERR_PROTOCOL);
            client_fail(c, "08P01", "%s", why);
            return false;
        }
        if (!client_to_server(c))
            return false;
        if (sr == SCAN_TERMINATE) {
            client_close(c, "client terminated the session");
            return false;
        }
        if (sr == SCAN_INJECT) {
            /* Once the client's text is out (else relay_server_writable comes back here). */
            if ((c->in && buf_unsent(c->in)) || c->server->out.len)
                return true;
            if (!sess_pg_inject_send(c, c->server))
                return false;
            if (c->state != CL_ACTIVE || !c->in)
                return true;
            continue;
        }
        if (sr == SCAN_HOLD) {
            /* Read nothing more until the server answered everything (relay_resume). */
            client_watch(c, EV_READ, false);
            return true;
        }
        if (sr == SCAN_FLUSH) {
            /* Sent? Then scan again; else relay_server_writable comes back here. */
            if (buf_unsent(c->in) || c->server->out.len)
                return true;
            continue;
        }
        if (sr != SCAN_OWN)
            return true;
        /*
         * A command weir answers or acts on itself: once everything before
         * it went out (else relay_server_writable comes back here), let the
         * protocol handle it, then go on with what follows. (A MySQL
         * statement command may have been taken out of c->in already.)
         */
        if (c->in && buf_unsent(c->in))
            return true;
        if (!c->proto->own_command(c))
            return false;
        if (c->state != CL_ACTIVE || !c->in)
            return true;
    }
}

void relay_client_readable(struct client *c)
{
    if (!c->in && !(c->in = buf_get(&c->w->bufs))) {
        client_fail(c, "53200", "out of memory");
        return;
    }
    ssize_t n = io_recv(c->fd, c->ssl, c->in);
    if (n == 0 || n == -2) {
        client_close(c, n == 0 ? "client closed the connection" : strerror(errno));
        return;
    }
    if (n == -1) {
        if (c->in->recv == 0) {
            buf_put(&c->w->bufs, c->in);
            c->in = NULL;
        }
        return;
    }
    c->last_active = ev_now(c->w->loop);
    stats_add(&stats_slot_of(c->pool, c->w)->bytes_recv, (uint64_t)n);
    if (!client_input(c))
        return;
    if (__builtin_expect(c->ssl != NULL, 0))
        client_tls_rearm(c);
}

bool relay_start(struct client *c)
{
    return !(c->in && c->in->recv) || client_input(c);
}

/*
 * MySQL: the client's command held for its server's answers (stmt_my.c) may
 * go on, then what it sent after. Returns false when c was closed.
 */
static bool relay_resume(struct client *c)
{
    c->my->stmt &= ~STMT_HOLD;
    if (!stmt_my_resume(c))
        return false;
    if (c->my->stmt & STMT_HOLD)
        return true;
    client_watch(c, EV_READ, true);
    return relay_start(c);
}

void relay_server_writable(struct server *s)
{
    ev_io_stop(s->w->loop, &s->wio);
    /* Scanning again from `parsed` is a no-op for what was scanned; it finds held commands. */
    if (s->client && s->client->in)
        client_input(s->client);
}

/* ---- server -> client ---- */

static enum scan_result scan_server(struct server *s, struct client *c, struct iobuf *b)
{
    if (s->kind == BACKEND_MYSQL)
        return relay_my_scan_server(s, c, b);
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (buf_skip_body(b, &s->in_remaining))
            continue;
        char type;
        uint32_t body;
        int rc = pg_msg_peek(b->data + b->parsed, avail, BUF_MAX_BODY, &type, &body);
        if (rc == WR_AGAIN)
            return SCAN_OK;
        if (rc == WR_ERROR)
            return SCAN_ERROR;
        if (c->sess) {
            /* Records settled by errors and ReadyForQuery; weir's own answers taken out. */
            enum sess_msg m = sess_pg_server_msg(c, s, b, type, body);
            if (m == SESS_WAIT)
                return SCAN_OK;
            if (m == SESS_DROPPED)
                continue;
            if (m == SESS_BROKEN)
                return SCAN_ERROR;
        }
        const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
        bool whole = avail >= PG_HDR_LEN + body;
        bool fits = PG_HDR_LEN + body <= b->cap;
        if (c->ps_on && ps_server_cares(type)) {
            if (c->ps && c->ps->held_len)
                return SCAN_OK; /* server_to_client sends what is before, then ps_unhold */
            if (type == 'Z' && !whole)
                return SCAN_OK; /* matched to what it answers once, when whole */
            switch (ps_server_msg(c, s, b, type, body, whole, fits)) {
            case PSS_PASS:
                goto relay_s;
            case PSS_EDITED:
                break;
            case PSS_WAIT:
            case PSS_HOLD:
                return SCAN_OK;
            case PSS_DROPPED:
                continue;
            }
            if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body) !=
                WR_OK)
                return SCAN_ERROR;
            avail = b->recv - b->parsed;
            msg = b->data + b->parsed + PG_HDR_LEN;
            whole = avail >= PG_HDR_LEN + body;
            fits = PG_HDR_LEN + body <= b->cap;
        }
    relay_s:
        switch (type) {
        case 'Z':
            if (!whole)
                return SCAN_OK; /* a 6-byte message: wait for the rest */
            s->txstatus = body > 0 ? (char)msg[0] : 'E';
            c->last_active = ev_now(c->w->loop);
            if (s->outstanding > 0) {
                s->outstanding--;
                relay_count_answer(s, c, s->txstatus == 'I');
            }
            break;
        case 'S':
            if (!whole && fits)
                return SCAN_OK;
            if (whole) {
                struct pg_in in;
                pg_in_init(&in, msg, body);
                const char *name = pg_in_str(&in), *value = pg_in_str(&in);
                int id = name && value ? param_lookup(name) : -1;
                if (id >= 0) {
                    param_set(&s->params, id, value);
                    /* A change the client made (SET) follows it to later servers. */
                    const char *cur = id < PARAM_NSETTABLE ? client_param(c, id) : NULL;
                    if (id < PARAM_NSETTABLE && (!cur || strcmp(cur, value)))
                        client_want_set(c, id, value);
                }
            }
            break;
        case 'C':
            /*
             * A client without kept statements (it logged in while
             * max_prepared_statements was 0) deallocated weir's too.
             */
            if (!c->ps_on && s->ps && s->ps->count && (body == 15 || body == 12)) {
                if (!whole)
                    return SCAN_OK; /* a few bytes: wait for them */
                if (!memcmp(msg, body == 15 ? "DEALLOCATE ALL" : "DISCARD ALL", body))
                    ps_cache_clear(s->ps);
            }
            break;
        case 'G':
        case 'W':
            s->copy_in = true;
            break;
        case 'E':
            s->copy_in = false;
            break;
        default:
            break;
        }
        b->parsed += PG_HDR_LEN;
        s->in_remaining = body;
    }
    return SCAN_OK;
}

/*
 * TLS: OpenSSL may hold bytes of the server that epoll will never announce
 * (tls.h); while the read watcher is on, have libev call it again.
 */
static void relay_server_rearm(struct server *s)
{
    if (tls_pending(s->ssl) && ev_is_active(&s->rio))
        ev_feed_event(s->w->loop, &s->rio, EV_READ);
}

/* Reads from s again after backpressure. */
static void relay_server_resume_read(struct server *s)
{
    ev_io_start(s->w->loop, &s->rio);
    if (__builtin_expect(s->ssl != NULL, 0))
        relay_server_rearm(s);
}

static void pause_server_read(struct server *s)
{
    ev_io_stop(s->w->loop, &s->rio);
}

/* Sends what the server said to its client. */
static void server_to_client(struct server *s)
{
    struct client *c = s->client;
    for (;;) {
        struct iobuf *b = s->in;
        if (client_out_pending(c)) {
            /* weir's own bytes (login, inserted packets) go first; client_flush_out resumes us. */
            pause_server_read(s);
            return;
        }
        if (b && buf_unsent(b)) {
            int rc = io_send(c->fd, c->ssl, b);
            if (rc == WR_AGAIN) {
                pause_server_read(s);
                client_watch(c, EV_WRITE, true);
                return;
            }
            if (rc == WR_ERROR) {
                client_close(c, strerror(errno));
                return;
            }
        }
        if (s->kind != BACKEND_MYSQL) {
            if (!c->ps || !c->ps->held_len)
                break;
            /* A replacement too big for the buffer goes here, after what was sent. */
            ps_unhold(c, s);
            if (scan_server(s, c, s->in) == SCAN_ERROR) {
                server_close(s, "invalid message length from server");
                return;
            }
            if (client_flush_out(c) == WR_ERROR) {
                client_close(c, "cannot write to client");
                return;
            }
            continue;
        }
        if (!s->my.insert_pending)
            break;
        /* MySQL: weir's packets go into the stream here, after what was sent, before the rest. */
        if (relay_my_insert(s, c) != WR_OK)
            return;
        if (client_flush_out(c) == WR_ERROR) {
            client_close(c, "cannot write to client");
            return;
        }
    }
    if (s->in)
        settle(&s->w->bufs, &s->in);
    if (!ev_is_active(&s->rio))
        relay_server_resume_read(s);
    if (s->kind == BACKEND_MYSQL && (c->my->stmt & STMT_HOLD) && !s->in && s->outstanding == 0) {
        /* Everything the server owed the client reached it: the held command goes on. */
        if (!relay_resume(c) || c->server != s || s->state != SV_ACTIVE)
            return;
    }
    if (!s->in && s->pool->pool_mode != POOL_SESSION)
        relay_try_release(s);
}

void relay_count_answer(struct server *s, struct client *c, bool idle)
{
    ev_tstamp now = ev_now(c->w->loop);
    struct stats_slot *sl = stats_slot_of(s->pool, c->w);
    stats_query(sl, now - s->query_start);
    s->query_start = now; /* a pipelined next query is timed from here */
    if (idle && s->xact_start != 0) {
        stats_xact(sl, now - s->xact_start);
        s->xact_start = 0;
    }
}

void relay_try_release(struct server *s)
{
    struct client *c = s->client;
    if (s->outstanding || s->need_sync || s->copy_in || s->in_remaining || s->in)
        return;
    if (c->in_remaining || (c->in && buf_unsent(c->in)) || c->pinned)
        return;
    if (s->kind == BACKEND_MYSQL && (s->my.busy || s->my.resp.infile || c->my->stmt ||
                                     c->my->ncursors || c->my->keep_for_diagnostics))
        return; /* also: a statement command in progress, a cursor open (stmt_my.h), warnings */
    if (s->txstatus != 'I') {
        if (s->pool->pool_mode == POOL_STATEMENT)
            client_fail(c, "0A000", "transaction blocks not allowed in statement pooling mode");
        return;
    }
    if (s->kind == BACKEND_POSTGRES)
        sess_pg_leave(c, s);
    if (c->ps)
        ps_client_released(c, s);
    s->client = NULL;
    client_server_released(c);
    server_release(s, true);
}

void relay_server_readable(struct server *s)
{
    if (!s->in && !(s->in = buf_get(&s->w->bufs))) {
        server_close(s, "out of memory");
        return;
    }
    ssize_t n = io_recv(s->fd, s->ssl, s->in);
    if (n == 0 || n == -2) {
        server_close(s, n == 0 ? "server closed the connection" : strerror(errno));
        return;
    }
    if (__builtin_expect(s->ssl != NULL, 0))
        relay_server_rearm(s);
    if (n == -1) {
        if (s->in->recv == 0) {
            buf_put(&s->w->bufs, s->in);
            s->in = NULL;
        }
        return;
    }
    stats_add(&stats_slot_of(s->pool, s->w)->bytes_sent, (uint64_t)n);
    if (scan_server(s, s->client, s->in) == SCAN_ERROR) {
        stats_error(s->w, s->pool, STATS_ERR_PROTOCOL);
        server_close(s, s->my.fail ? s->my.fail : "invalid message length from server");
        return;
    }
    server_to_client(s);
}

void relay_client_writable(struct client *c)
{
    client_watch(c, EV_WRITE, false);
    struct server *s = c->server;
    if (!s || s->state != SV_ACTIVE)
        return;
    if (s->in)
        server_to_client(s);
    else if (!ev_is_active(&s->rio))
        relay_server_resume_read(s);
}
