/*
 * ps.c -- PostgreSQL prepared statements in transaction and statement
 * pooling, the relay's side: the client's messages rewritten, the server's
 * answers matched, dropped or replaced (see ps.h for the whole picture;
 * ps_state.c keeps the statements and the queue).
 *
 * Every change a message makes (a statement kept or forgotten, a server
 * cache node added or taken out, answers queued) is decided first, then
 * the buffer is edited, and only when that worked is the change made: a
 * message the relay must come back to (more bytes, a flush first) leaves no
 * trace.
 */
#include "pooler/session/ps_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/pool/ps_cache.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"

/* Statements evicted at most per statement added (after max_prepared_statements was lowered). */
#define PS_MAX_EVICT 8

/* ---- client -> server ---- */

/*
 * Cleared states of clients that kept no statement, with their queue and
 * scratch allocations, for the next transaction on this worker (every
 * transaction of a client in transaction pooling needs one while it runs).
 * Thread-local: one list per worker thread, never crossed.
 */
#define PS_FREE_MAX 64
static __thread struct client_ps *ps_free_list[PS_FREE_MAX];
static __thread int ps_nfree;

static struct client_ps *client_ps_get(struct client *c)
{
    if (c->ps)
        return c->ps;
    struct client_ps *ps = ps_nfree ? ps_free_list[--ps_nfree] : calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    if (!ps->q) {
        pg_out_init(&ps->held);
        pg_out_init(&ps->build);
    }
    c->ps = ps;
    return ps;
}

static enum ps_step fail(char *why, size_t len, const char *text)
{
    snprintf(why, len, "%s", text);
    return PS_ERROR;
}

/*
 * The bytes in ps->build replace the first n_old bytes of the message at
 * b->parsed; the first `pre` of them are weir's own messages, passed over.
 * rest: body bytes after n_old still to come (a Bind's parameters).
 */
static enum ps_step client_edit(struct client *c, struct server *s, struct iobuf *b, uint32_t n_old,
                                uint32_t pre, uint32_t rest)
{
    struct pg_out *o = &c->ps->build;
    if (o->failed || o->len > UINT32_MAX / 2)
        return PS_ERROR;
    uint32_t at = b->parsed;
    if (buf_replace(b, &at, n_old, o->data, (uint32_t)o->len)) {
        b->parsed = at + pre;
        return PS_EDITED;
    }
    if (buf_unsent(b))
        return PS_FLUSH;
    /* Everything before went out: the message follows from the server's own output. */
    pg_out_bytes(&s->out, o->data, o->len);
    if (s->out.failed)
        return PS_ERROR;
    b->parsed += n_old;
    b->sent = b->parsed;
    c->in_remaining = rest;
    return PS_CONSUMED;
}

/* The message (or its first `need` bytes) is not in b yet. */
static enum ps_step need_more(const struct iobuf *b, uint64_t need, char *why, size_t len,
                              const char *what)
{
    if (need > b->cap || (need == UINT64_MAX && b->recv - b->parsed >= b->cap)) {
        snprintf(why, len, "%s longer than weir's limit of %u bytes for prepared statements", what,
                 b->cap);
        return PS_ERROR;
    }
    return PS_WAIT;
}

/*
 * Is name one of weir's own on the servers ("weir_...")? A client's message
 * naming one it did not prepare must not reach them: closing or deallocating
 * it would take it from the clients that use it. Such names are reserved.
 */
static bool reserved(const char *name)
{
    return !strncmp(name, "weir_", 5);
}

/* A message naming a reserved statement goes on naming PG_PS_NONE (built in ps->build). */
static enum ps_step not_yours(struct client *c, struct server *s, struct iobuf *b, uint32_t n_old,
                              uint32_t rest, enum ps_exp_kind k, char *why, size_t len)
{
    if (!c->ps->build.len || !ps_q_reserve(c->ps, 1))
        return fail(why, len, "out of memory");
    enum ps_step step = client_edit(c, s, b, n_old, 0, rest);
    if (step == PS_EDITED || step == PS_CONSUMED)
        ps_q_push(c->ps, k, NULL);
    return step == PS_ERROR ? fail(why, len, "out of memory") : step;
}

static uint32_t ps_limit(void)
{
    int max = weir.cfg->max_prepared_statements;
    return max > 0 ? (uint32_t)max : 1;
}

/*
 * Appends to ps->build what makes statement st ready on s when it is not:
 * Close of the oldest statements past the limit (*closes bytes), then its
 * Parse. *node is the cache node (or a new one to add at commit, *fresh),
 * *nevict the statements to take out at commit. False when out of memory.
 */
static bool plan_prepare(struct client_ps *ps, struct server *s, const struct ps_stmt *st,
                         struct ps_node **node, bool *fresh, int *nevict, uint32_t *closes)
{
    *nevict = 0;
    *fresh = false;
    *closes = 0;
    if (!s->ps && !(s->ps = ps_cache_new()))
        return false;
    if ((*node = ps_cache_find(s->ps, st->id)))
        return true;
    if (!(*node = ps_node_new(st->id)))
        return false;
    *fresh = true;
    char name[PG_PS_NAME_LEN];
    uint32_t limit = ps_limit();
    struct ps_node *victim = ps_cache_oldest(s->ps);
    while (victim && s->ps->count - (uint32_t)*nevict >= limit && *nevict < PS_MAX_EVICT) {
        pg_ps_name(victim->id, name);
        pg_out_close(&ps->build, 'S', name);
        (*nevict)++;
        victim = ps_cache_newer(s->ps, victim);
    }
    *closes = (uint32_t)ps->build.len;
    pg_ps_name(st->id, name);
    pg_out_parse(&ps->build, name, st->data, st->tail_len);
    return true;
}

/* Makes the planned preparation happen: evictions and the Parse queued, the node cached. */
static void commit_prepare(struct client *c, struct server *s, struct ps_stmt *st,
                           struct ps_node *node, bool fresh, int nevict)
{
    struct client_ps *ps = c->ps;
    if (!fresh) {
        ps_cache_touch(s->ps, node);
        return;
    }
    for (int i = 0; i < nevict; i++)
        ps_q_push(ps, EX_CLOSE_HIDE, ps_cache_evict(s->ps));
    ps_cache_add(s->ps, node);
    st->refs++;
    ps_q_push(ps, EX_PARSE_HIDE, st);
    stats_parse(stats_slot_of(c->pool, c->w), 0, 1);
}

/* A client message about statement st, on its way to a server that may lack st. */
struct ps_use {
    struct ps_node *node; /* plan_prepare's */
    bool fresh;
    int nevict;
    uint32_t pre;              /* bytes of ps->build before the message's own head */
    char name[PG_PS_NAME_LEN]; /* st's name on the servers */
};

/* Plans st's preparation on s (plan_prepare) and names it; the caller appends its head. */
static bool use_begin(struct client_ps *ps, struct server *s, const struct ps_stmt *st,
                      struct ps_use *u)
{
    uint32_t closes;
    if (!plan_prepare(ps, s, st, &u->node, &u->fresh, &u->nevict, &closes))
        return false;
    u->pre = (uint32_t)ps->build.len;
    pg_ps_name(st->id, u->name);
    return true;
}

/*
 * The client's message (skip bytes at b->parsed, of which the last keep are
 * passed on after the head in ps->build) goes out as planned; its answer is
 * expected as ek. Undone when the edit does not happen.
 */
static enum ps_step use_finish(struct client *c, struct server *s, struct iobuf *b,
                               struct ps_stmt *st, struct ps_use *u, uint32_t skip, uint32_t keep,
                               enum ps_exp_kind ek, char *why, size_t len)
{
    enum ps_step step = client_edit(c, s, b, skip, u->pre, keep);
    if (step != PS_EDITED && step != PS_CONSUMED) {
        if (u->fresh)
            ps_node_free(u->node);
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    }
    commit_prepare(c, s, st, u->node, u->fresh, u->nevict);
    ps_q_push(c->ps, ek, NULL);
    return step;
}

static enum ps_step on_parse(struct client *c, struct server *s, struct iobuf *b, uint32_t body,
                             char *why, size_t len)
{
    struct client_ps *ps = c->ps;
    const uint8_t *m = b->data + b->parsed + PG_HDR_LEN;
    uint32_t avail = b->recv - b->parsed - PG_HDR_LEN, nlen;
    const char *name;
    int rc = pg_body_name(m, avail, body, &name, &nlen);
    if (rc == WR_AGAIN)
        return need_more(b, UINT64_MAX, why, len, "a Parse message's statement name");
    if (rc == WR_ERROR || nlen == 0)
        return ps_q_push(ps, EX_PARSE, NULL) ? PS_PASS : fail(why, len, "out of memory");
    uint64_t mlen = (uint64_t)PG_HDR_LEN + body;
    if (avail < body)
        return need_more(b, mlen, why, len, "a Parse message of a named statement is");
    struct pg_parse p;
    if (pg_parse_read(m, body, &p) != WR_OK)
        return ps_q_push(ps, EX_PARSE, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!ps_q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);

    if (ps_map_find(&ps->map, p.name)) {
        /* PostgreSQL's 42P05, in its place in the stream: see ps.h. */
        char *dup = malloc(sizeof(PG_PS_DUP) + nlen);
        char *keep = strdup(p.name);
        if (!dup || !keep) {
            free(dup);
            free(keep);
            return fail(why, len, "out of memory");
        }
        memcpy(dup, PG_PS_DUP, sizeof(PG_PS_DUP) - 1);
        memcpy(dup + sizeof(PG_PS_DUP) - 1, p.name, nlen + 1);
        pg_out_describe(&ps->build, 'S', dup);
        free(dup);
        enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, 0, 0);
        if (step != PS_EDITED && step != PS_CONSUMED) {
            free(keep);
            return step == PS_ERROR ? fail(why, len, "out of memory") : step;
        }
        ps_q_push(ps, EX_DUP, keep);
        return step;
    }

    struct ps_stmt *st = ps_stmt_new(&p);
    struct ps_node *node = NULL;
    bool fresh = false;
    int nevict = 0;
    uint32_t closes = 0;
    if (!st || !plan_prepare(ps, s, st, &node, &fresh, &nevict, &closes)) {
        ps_stmt_unref(st);
        return fail(why, len, "out of memory");
    }
    if (!fresh) {
        /* The server has it: a Close of nothing stands in, its CloseComplete becomes ours. */
        pg_out_close(&ps->build, 'S', PG_PS_NONE);
    }
    /* Fresh: the build is the evictions, then the client's Parse under the server's name. */
    enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, closes, 0);
    if ((step != PS_EDITED && step != PS_CONSUMED) || !ps_map_add(&ps->map, st)) {
        if (fresh)
            ps_node_free(node);
        ps_stmt_unref(st);
        if (step == PS_EDITED || step == PS_CONSUMED)
            step = PS_ERROR; /* map_add: out of memory, the message already rewritten */
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    }
    struct stats_slot *sl = stats_slot_of(c->pool, c->w);
    st->refs++; /* the expected answer's */
    if (fresh) {
        for (int i = 0; i < nevict; i++)
            ps_q_push(ps, EX_CLOSE_HIDE, ps_cache_evict(s->ps));
        ps_cache_add(s->ps, node);
        ps_q_push(ps, EX_PARSE, st);
        stats_parse(sl, 1, 1);
    } else {
        ps_cache_touch(s->ps, node);
        ps_q_push(ps, EX_PARSE_FAKE, st);
        stats_parse(sl, 1, 0);
    }
    return step;
}

static enum ps_step on_bind(struct client *c, struct server *s, struct iobuf *b, uint32_t body,
                            char *why, size_t len)
{
    struct client_ps *ps = c->ps;
    const uint8_t *m = b->data + b->parsed + PG_HDR_LEN;
    uint32_t avail = b->recv - b->parsed - PG_HDR_LEN;
    struct pg_bind_head h;
    int rc = pg_bind_head(m, avail, body, &h);
    if (rc == WR_AGAIN)
        return need_more(b, UINT64_MAX, why, len, "a Bind message's names are");
    struct ps_stmt *st = rc == WR_OK && h.stmt[0] ? ps_map_find(&ps->map, h.stmt) : NULL;
    if (!st && rc == WR_OK && reserved(h.stmt)) {
        pg_out_reset(&ps->build);
        pg_out_bind_head(&ps->build, h.portal, PG_PS_NONE, body - h.prefix_len);
        return not_yours(c, s, b, PG_HDR_LEN + h.prefix_len, body - h.prefix_len, EX_BIND, why,
                         len);
    }
    if (!st)
        return ps_q_push(ps, EX_BIND, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!ps_q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);
    struct ps_use u;
    if (!use_begin(ps, s, st, &u))
        return fail(why, len, "out of memory");
    pg_out_bind_head(&ps->build, h.portal, u.name, body - h.prefix_len);
    enum ps_step step = use_finish(c, s, b, st, &u, PG_HDR_LEN + h.prefix_len, body - h.prefix_len,
                                   EX_BIND, why, len);
    if (step == PS_EDITED || step == PS_CONSUMED)
        stats_bind(stats_slot_of(c->pool, c->w));
    return step;
}

/* Describe ('D') and Close ('C'). */
static enum ps_step on_target(struct client *c, struct server *s, struct iobuf *b, char type,
                              uint32_t body, char *why, size_t len)
{
    struct client_ps *ps = c->ps;
    uint32_t avail = b->recv - b->parsed - PG_HDR_LEN;
    uint64_t mlen = (uint64_t)PG_HDR_LEN + body;
    if (avail < body)
        return need_more(b, mlen, why, len,
                         type == 'D' ? "a Describe message is" : "a Close message is");
    char kind;
    const char *name;
    struct ps_stmt *st = NULL;
    if (pg_target_read(b->data + b->parsed + PG_HDR_LEN, body, &kind, &name) == WR_OK &&
        kind == 'S' && name[0])
        st = ps_map_find(&ps->map, name);
    enum ps_exp_kind ek = type == 'C' ? EX_CLOSE : kind == 'P' ? EX_DESCRIBE_P : EX_DESCRIBE_S;
    if (!st && kind == 'S' && reserved(name)) {
        pg_out_reset(&ps->build);
        if (type == 'C')
            pg_out_close(&ps->build, 'S', PG_PS_NONE);
        else
            pg_out_describe(&ps->build, 'S', PG_PS_NONE);
        return not_yours(c, s, b, (uint32_t)mlen, 0, ek, why, len);
    }
    if (!st)
        return ps_q_push(ps, ek, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!ps_q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);
    if (type == 'C') {
        /* The client forgets it; the server keeps it for others: a Close of nothing answers. */
        pg_out_close(&ps->build, 'S', PG_PS_NONE);
        enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, 0, 0);
        if (step != PS_EDITED && step != PS_CONSUMED)
            return step == PS_ERROR ? fail(why, len, "out of memory") : step;
        ps_map_remove(&ps->map, st); /* its reference goes to the expected answer */
        ps_q_push(ps, EX_CLOSE, st);
        return step;
    }
    struct ps_use u;
    if (!use_begin(ps, s, st, &u))
        return fail(why, len, "out of memory");
    pg_out_describe(&ps->build, 'S', u.name);
    return use_finish(c, s, b, st, &u, (uint32_t)mlen, 0, EX_DESCRIBE_S, why, len);
}

/* A simple query: DEALLOCATE and DISCARD are recognised, anything else passes. */
static enum ps_step on_query(struct client *c, struct server *s, struct iobuf *b, uint32_t body,
                             char *why, size_t len)
{
    struct client_ps *ps = c->ps;
    const char *text = (const char *)b->data + b->parsed + PG_HDR_LEN;
    uint32_t avail = b->recv - b->parsed - PG_HDR_LEN;
    uint32_t n = avail < body ? avail : body;
    bool more;
    bool maybe = pg_ps_maybe_deallocate(text, n, &more);
    if (!maybe && more && n < body && (uint64_t)PG_HDR_LEN + body <= b->cap)
        return PS_WAIT;
    if (!maybe || (uint64_t)PG_HDR_LEN + body > b->cap || text[n - 1] != 0)
        return ps_q_push(ps, EX_QUERY, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (n < body)
        return PS_WAIT;
    char name[256];
    enum pg_ps_sql_kind kind = pg_ps_classify_sql(text, name, sizeof(name));
    struct ps_stmt *st = kind == PG_PS_SQL_DEALLOCATE ? ps_map_find(&ps->map, name) : NULL;
    if (kind == PG_PS_SQL_DEALLOCATE_ALL) {
        struct ps_map *old = malloc(sizeof(*old));
        if (!old || !ps_q_reserve(ps, 1)) {
            free(old);
            return fail(why, len, "out of memory");
        }
        *old = ps->map;
        memset(&ps->map, 0, sizeof(ps->map));
        ps_q_push(ps, EX_CLEAR, old);
        return PS_PASS;
    }
    if (!st && kind == PG_PS_SQL_DEALLOCATE && reserved(name)) {
        pg_out_reset(&ps->build);
        pg_out_query(&ps->build, "DEALLOCATE " PG_PS_NONE);
        return not_yours(c, s, b, PG_HDR_LEN + body, 0, EX_QUERY, why, len);
    }
    if (!st)
        return ps_q_push(ps, EX_QUERY, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!ps_q_reserve(ps, 1))
        return fail(why, len, "out of memory");
    /* The server's statement stays for others: an empty query stands in (see ps.h). */
    pg_out_reset(&ps->build);
    pg_out_query(&ps->build, "");
    enum ps_step step = client_edit(c, s, b, PG_HDR_LEN + body, 0, 0);
    if (step != PS_EDITED && step != PS_CONSUMED)
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    ps_map_remove(&ps->map, st);
    ps_q_push(ps, EX_DEALLOC, st);
    return step;
}

enum ps_step ps_client_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                           uint32_t body, char *why, size_t len)
{
    if (!client_ps_get(c))
        return fail(why, len, "out of memory");
    enum ps_exp_kind k;
    switch (type) {
    case 'P':
        return on_parse(c, s, b, body, why, len);
    case 'B':
        return on_bind(c, s, b, body, why, len);
    case 'D':
    case 'C':
        return on_target(c, s, b, type, body, why, len);
    case 'Q':
        return on_query(c, s, b, body, why, len);
    case 'E':
        k = EX_EXECUTE;
        break;
    case 'S':
        k = EX_SYNC;
        break;
    case 'F':
        k = EX_QUERY;
        break;
    default:
        return PS_PASS;
    }
    if (!ps_q_push(c->ps, k, NULL))
        return fail(why, len, "too many messages waiting for an answer");
    return PS_PASS;
}

/* ---- server -> client ---- */

/* Takes the message at b->parsed out of b. */
static void drop_msg(struct iobuf *b, uint32_t mlen)
{
    uint32_t at = b->parsed;
    if (!buf_replace(b, &at, mlen, NULL, 0))
        abort(); /* shrinking always fits */
}

/* Replaces the message at b->parsed with ps->held: in place, or held until what is before went. */
static enum ps_sstep replace_msg(struct client_ps *ps, struct iobuf *b, uint32_t mlen)
{
    uint32_t at = b->parsed;
    if (!ps->held.failed && buf_replace(b, &at, mlen, ps->held.data, (uint32_t)ps->held.len)) {
        b->parsed = at;
        pg_out_reset(&ps->held);
        return PSS_EDITED;
    }
    ps->held_len = mlen;
    return PSS_HOLD;
}

static bool is_extended(uint8_t kind)
{
    return kind != EX_SYNC && kind != EX_QUERY && kind != EX_DEALLOC && kind != EX_CLEAR;
}

enum ps_sstep ps_server_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                            uint32_t body, bool whole, bool fits)
{
    struct client_ps *ps = c->ps;
    if (!ps)
        return PSS_PASS;
    uint32_t mlen = PG_HDR_LEN + body;
    const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
    struct ps_expect *h = ps_q_head(ps);
    uint8_t kind = h ? h->kind : 0xff;
    switch (type) {
    case '1': /* ParseComplete */
        if (kind == EX_PARSE || kind == EX_PARSE_HIDE) {
            if (h->ref)
                pool_ps_learn(c->pool, ((struct ps_stmt *)h->ref)->id, ps_limit());
            ps_q_pop(ps);
            if (kind == EX_PARSE_HIDE) {
                drop_msg(b, mlen);
                return PSS_DROPPED;
            }
        }
        return PSS_PASS;
    case '3': /* CloseComplete */
        if (kind == EX_CLOSE || kind == EX_CLOSE_HIDE || kind == EX_PARSE_FAKE) {
            ps_q_pop(ps);
            if (kind == EX_CLOSE_HIDE) {
                drop_msg(b, mlen);
                return PSS_DROPPED;
            }
            if (kind == EX_PARSE_FAKE) {
                b->data[b->parsed] = '1';
                return PSS_EDITED;
            }
        }
        return PSS_PASS;
    case '2': /* BindComplete */
        if (kind == EX_BIND)
            ps_q_pop(ps);
        return PSS_PASS;
    case 'T': /* RowDescription */
    case 'n': /* NoData */
        if (kind == EX_DESCRIBE_S || kind == EX_DESCRIBE_P)
            ps_q_pop(ps);
        return PSS_PASS;
    case 's': /* PortalSuspended */
        if (kind == EX_EXECUTE)
            ps_q_pop(ps);
        return PSS_PASS;
    case 'C': /* CommandComplete */
        if ((body == 15 || body == 12) && !whole && fits)
            return PSS_WAIT;
        if (whole && ((body == 15 && !memcmp(msg, "DEALLOCATE ALL", 15)) ||
                      (body == 12 && !memcmp(msg, "DISCARD ALL", 12))))
            ps_cleared(ps, s);
        if (kind == EX_EXECUTE)
            ps_q_pop(ps);
        return PSS_PASS;
    case 'I': /* EmptyQueryResponse */
        if (kind == EX_EXECUTE) {
            ps_q_pop(ps);
        } else if (kind == EX_DEALLOC && !(h->flags & PS_EXP_SEEN)) {
            h->flags |= PS_EXP_SEEN;
            pg_out_reset(&ps->held);
            if (s->txstatus == 'E') {
                ps_restore(ps, h->ref);
                pg_out_error(&ps->held, "ERROR", "25P02",
                             "current transaction is aborted, commands ignored until end of "
                             "transaction block");
            } else {
                pg_out_command_complete(&ps->held, "DEALLOCATE");
            }
            return replace_msg(ps, b, mlen);
        }
        return PSS_PASS;
    case 'E': /* ErrorResponse */
        if (!h || !is_extended(kind))
            return PSS_PASS;
        if (kind == EX_DUP) {
            if (!whole && fits)
                return PSS_WAIT;
            pg_out_reset(&ps->held);
            pg_out_error(&ps->held, "ERROR", "42P05", "prepared statement \"%s\" already exists",
                         (const char *)h->ref);
            ps_q_pop(ps);
            /* The server's error names weir's probe: the client's own replaces it. */
            if (whole && ps->held.len <= mlen)
                return replace_msg(ps, b, mlen);
            pg_out_reset(&ps->held);
            return PSS_PASS;
        }
        ps_pop_failed(ps, s);
        return PSS_PASS;
    case 'Z': /* ReadyForQuery: what was skipped since the error is undone, up to its Sync */
        while ((h = ps_q_head(ps))) {
            if (!is_extended(h->kind)) {
                if (h->kind == EX_CLEAR && !(h->flags & PS_EXP_SEEN) && h->ref) {
                    /* DEALLOCATE ALL / DISCARD ALL failed: the client still has its statements. */
                    struct ps_map *old = h->ref;
                    for (uint32_t i = 0; old->tab && i <= old->nmask; i++)
                        for (struct ps_stmt *st = old->tab[i]; st; st = st->chain)
                            ps_restore(ps, st);
                } else if (h->kind == EX_DEALLOC && !(h->flags & PS_EXP_SEEN)) {
                    ps_restore(ps, h->ref);
                }
                ps_q_pop(ps);
                break;
            }
            ps_pop_failed(ps, s);
        }
        return PSS_PASS;
    default:
        return PSS_PASS;
    }
}

void ps_unhold(struct client *c, struct server *s)
{
    struct client_ps *ps = c->ps;
    struct iobuf *b = s->in;
    pg_out_bytes(client_out(c), ps->held.data, ps->held.len);
    b->parsed += ps->held_len;
    b->sent = b->parsed;
    ps->held_len = 0;
    pg_out_reset(&ps->held);
}

/* ---- a client without a server ---- */

bool ps_idle_parse(struct client *c)
{
    struct iobuf *b = c->in;
    uint32_t at = 0, n = 0;
    /* Parse, Parse, ..., Sync and nothing else, all whole, all known, no name in use. */
    for (;;) {
        char type;
        uint32_t body;
        if (pg_msg_peek(b->data + at, b->recv - at, BUF_MAX_BODY, &type, &body) != WR_OK ||
            b->recv - at - PG_HDR_LEN < body)
            return false;
        if (type == 'S') {
            if (n == 0 || at + PG_HDR_LEN + body != b->recv)
                return false;
            break;
        }
        struct pg_parse p;
        if (type != 'P' || pg_parse_read(b->data + at + PG_HDR_LEN, body, &p) != WR_OK ||
            !p.name[0] || (c->ps && ps_map_find(&c->ps->map, p.name)))
            return false;
        uint8_t id[PG_PS_ID_LEN];
        pg_ps_id(p.tail, p.tail_len, id);
        if (!pool_ps_known(c->pool, id))
            return false;
        for (uint32_t k = 0, o = 0; k < n; k++) { /* the same name twice: 42P05 from a server */
            uint32_t blen = pg_get32(b->data + o + 1) - 4;
            if (!strcmp((const char *)b->data + o + PG_HDR_LEN, p.name))
                return false;
            o += PG_HDR_LEN + blen;
        }
        at += PG_HDR_LEN + body;
        n++;
    }
    struct client_ps *ps = client_ps_get(c);
    if (!ps)
        return false;
    struct pg_out *o = client_out(c);
    struct stats_slot *sl = stats_slot_of(c->pool, c->w);
    at = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t body = pg_get32(b->data + at + 1) - 4;
        struct pg_parse p;
        if (pg_parse_read(b->data + at + PG_HDR_LEN, body, &p) != WR_OK)
            return false;
        struct ps_stmt *st = ps_stmt_new(&p);
        if (!st || !ps_map_add(&ps->map, st)) {
            ps_stmt_unref(st);
            o->failed = true;
            break;
        }
        stats_parse(sl, 1, 0);
        pg_out_begin(o, '1');
        pg_out_end(o);
        at += PG_HDR_LEN + body;
    }
    pg_out_ready(o, 'I');
    stats_add(&sl->bytes_recv, b->recv);
    buf_put(&c->w->bufs, b);
    c->in = NULL;
    c->last_active = ev_now(c->w->loop);
    if (client_out_failed(c))
        client_fail(c, "53200", "out of memory");
    else if (client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
    return true;
}

/* ---- life cycle ---- */

void ps_worker_stopped(void)
{
    while (ps_nfree > 0) {
        struct client_ps *ps = ps_free_list[--ps_nfree];
        free(ps->q);
        pg_out_free(&ps->held);
        pg_out_free(&ps->build);
        free(ps);
    }
}

void ps_client_released(struct client *c, struct server *s)
{
    struct client_ps *ps = c->ps;
    if (!ps)
        return;
    if (ps->qlen) {
        log_client(c, LOG_LVL_WARNING,
                   "%u answers to prepared-statement messages still expected at release: the "
                   "server's statements will be deallocated",
                   ps->qlen);
        s->ps_unsure = true;
        ps_q_drop(ps);
    }
    if (ps->map.count == 0 && !ps->held_len)
        ps_client_free(c); /* kept for the worker's next transaction */
}

void ps_client_detach(struct client *c, struct server *s)
{
    struct client_ps *ps = c->ps;
    if (!ps || !ps->qlen)
        return;
    if (s)
        s->ps_unsure = true;
    ps_q_drop(ps);
}

void ps_client_free(struct client *c)
{
    struct client_ps *ps = c->ps;
    if (!ps)
        return;
    c->ps = NULL;
    ps_q_drop(ps);
    ps_map_free(&ps->map);
    ps->held_len = 0;
    pg_out_reset(&ps->held);
    pg_out_reset(&ps->build);
    if (ps->q && ps->qcap <= 64 && ps->held.cap <= 4096 && ps->build.cap <= 4096 &&
        ps_nfree < PS_FREE_MAX) {
        ps->qhead = 0;
        ps_free_list[ps_nfree++] = ps;
        return;
    }
    free(ps->q);
    pg_out_free(&ps->held);
    pg_out_free(&ps->build);
    free(ps);
}
