/*
 * ps.c -- PostgreSQL prepared statements in transaction and statement
 * pooling: client maps, the queue of expected answers, the rewrites (see
 * ps.h for the whole picture).
 *
 * Every change a message makes (a statement kept or forgotten, a server
 * cache node added or taken out, answers queued) is decided first, then
 * the buffer is edited, and only when that worked is the change made: a
 * message the relay must come back to (more bytes, a flush first) leaves no
 * trace.
 */
#include "pooler/session/ps.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/pool/ps_cache.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"

/* Expected answers in flight per client before it is refused (16 bytes each). */
#define PS_MAX_EXPECTED (1u << 20)
/* Statements evicted at most per statement added (after max_prepared_statements was lowered). */
#define PS_MAX_EVICT 8

enum ps_exp_kind {
    EX_PARSE,      /* a client's Parse went on (ref: its statement when named): ParseComplete */
    EX_PARSE_HIDE, /* weir's Parse of a statement (ref): its ParseComplete is dropped */
    EX_PARSE_FAKE, /* a client's Parse of a statement the server has (ref): CloseComplete -> '1' */
    EX_BIND,       /* BindComplete */
    EX_DESCRIBE_S, /* ParameterDescription, then RowDescription or NoData */
    EX_DESCRIBE_P, /* RowDescription or NoData */
    EX_EXECUTE,    /* CommandComplete, EmptyQueryResponse or PortalSuspended */
    EX_CLOSE,      /* CloseComplete (ref: the client statement it forgot, or NULL) */
    EX_CLOSE_HIDE, /* weir's Close of an evicted statement (ref: its ps_node): dropped */
    EX_DUP,        /* Describe standing for a Parse of a name in use (ref: the name): 42P05 */
    EX_SYNC,       /* ReadyForQuery */
    EX_QUERY,      /* Query or FunctionCall: everything up to ReadyForQuery */
    EX_DEALLOC,    /* DEALLOCATE name, sent as an empty query (ref: the statement) */
    EX_CLEAR,      /* DEALLOCATE ALL / DISCARD ALL in a Query (ref: the map it replaced) */
};

#define PS_EXP_DEAD 1 /* EX_CLOSE_HIDE: the statement is gone anyway: never put back */
#define PS_EXP_SEEN 2 /* EX_CLEAR: its CommandComplete came; EX_DEALLOC: answered */

static _Atomic long stmts_alive, stmt_bytes_alive;

long ps_stmt_count(void)
{
    return atomic_load_explicit(&stmts_alive, memory_order_relaxed);
}

long ps_stmt_bytes(void)
{
    return atomic_load_explicit(&stmt_bytes_alive, memory_order_relaxed);
}

bool ps_enabled_for(const struct pool *p)
{
    return p->db->backend == BACKEND_POSTGRES && p->pool_mode != POOL_SESSION &&
           weir.cfg->max_prepared_statements > 0;
}

/* ---- statements and maps ---- */

static struct ps_stmt *stmt_new(const struct pg_parse *p)
{
    size_t nlen = strlen(p->name) + 1;
    size_t size = sizeof(struct ps_stmt) + p->tail_len + nlen;
    struct ps_stmt *st = malloc(size);
    if (!st)
        return NULL;
    st->chain = NULL;
    st->refs = 1;
    st->tail_len = p->tail_len;
    memcpy(st->data, p->tail, p->tail_len);
    memcpy(st->data + p->tail_len, p->name, nlen);
    st->name = (const char *)st->data + p->tail_len;
    pg_ps_id(p->tail, p->tail_len, st->id);
    atomic_fetch_add_explicit(&stmts_alive, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&stmt_bytes_alive, (long)size, memory_order_relaxed);
    return st;
}

static void stmt_unref(struct ps_stmt *st)
{
    if (!st || --st->refs)
        return;
    atomic_fetch_sub_explicit(&stmts_alive, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&stmt_bytes_alive,
                              (long)(sizeof(*st) + st->tail_len + strlen(st->name) + 1),
                              memory_order_relaxed);
    free(st);
}

/*
 * FNV-1a over the name: looked up on every Bind of a named statement, where
 * a general-purpose hash library would cost more than the few bytes hashed.
 */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static struct ps_stmt *map_find(const struct ps_map *m, const char *name)
{
    if (!m->count)
        return NULL;
    struct ps_stmt *st = m->tab[name_hash(name) & m->nmask];
    while (st && strcmp(st->name, name))
        st = st->chain;
    return st;
}

/* Adds st (its name not in m); the map takes over one reference. False when out of memory. */
static bool map_add(struct ps_map *m, struct ps_stmt *st)
{
    if (!m->tab || m->count > m->nmask) {
        uint32_t nmask = m->tab ? m->nmask * 2 + 1 : 7;
        struct ps_stmt **tab = calloc(nmask + 1, sizeof(*tab));
        if (!tab) {
            if (!m->tab)
                return false;
        } else {
            for (uint32_t i = 0; m->tab && i <= m->nmask; i++) {
                struct ps_stmt *n, *next;
                for (n = m->tab[i]; n; n = next) {
                    next = n->chain;
                    uint32_t k = name_hash(n->name) & nmask;
                    n->chain = tab[k];
                    tab[k] = n;
                }
            }
            free(m->tab);
            m->tab = tab;
            m->nmask = nmask;
        }
    }
    uint32_t k = name_hash(st->name) & m->nmask;
    st->chain = m->tab[k];
    m->tab[k] = st;
    m->count++;
    return true;
}

/* Takes st out of m; the map's reference becomes the caller's. */
static void map_remove(struct ps_map *m, struct ps_stmt *st)
{
    struct ps_stmt **pp = &m->tab[name_hash(st->name) & m->nmask];
    while (*pp && *pp != st)
        pp = &(*pp)->chain;
    if (!*pp)
        return;
    *pp = st->chain;
    st->chain = NULL;
    m->count--;
}

/* Drops every statement of m and its table. */
static void map_free(struct ps_map *m)
{
    for (uint32_t i = 0; m->tab && i <= m->nmask; i++) {
        struct ps_stmt *n, *next;
        for (n = m->tab[i]; n; n = next) {
            next = n->chain;
            n->chain = NULL;
            stmt_unref(n);
        }
    }
    free(m->tab);
    memset(m, 0, sizeof(*m));
}

/* The client forgets st if its name still stands for it. */
static void client_forget(struct client_ps *ps, struct ps_stmt *st)
{
    if (map_find(&ps->map, st->name) == st) {
        map_remove(&ps->map, st);
        stmt_unref(st);
    }
}

/* The client has st again (a Close or DEALLOCATE that did not happen), unless the name was reused.
 */
static void client_restore(struct client_ps *ps, struct ps_stmt *st)
{
    if (map_find(&ps->map, st->name))
        return;
    st->refs++;
    if (!map_add(&ps->map, st))
        st->refs--;
}

/* ---- the queue of expected answers ---- */

static struct ps_expect *q_at(struct client_ps *ps, uint32_t i)
{
    return &ps->q[(ps->qhead + i) & (ps->qcap - 1)];
}

static struct ps_expect *q_head(struct client_ps *ps)
{
    return ps->qlen ? q_at(ps, 0) : NULL;
}

/* Makes room for n more entries. False when out of memory or past PS_MAX_EXPECTED. */
static bool q_reserve(struct client_ps *ps, uint32_t n)
{
    if (ps->qlen + n <= ps->qcap)
        return true;
    if (ps->qlen + n > PS_MAX_EXPECTED)
        return false;
    uint32_t cap = ps->qcap ? ps->qcap : 16;
    while (cap < ps->qlen + n)
        cap *= 2;
    struct ps_expect *q = malloc(cap * sizeof(*q));
    if (!q)
        return false;
    for (uint32_t i = 0; i < ps->qlen; i++)
        q[i] = *q_at(ps, i);
    free(ps->q);
    ps->q = q;
    ps->qcap = cap;
    ps->qhead = 0;
    return true;
}

/* Appends an entry (room reserved, or reserves it). False when that fails. */
static bool q_push(struct client_ps *ps, enum ps_exp_kind kind, void *ref)
{
    if (!q_reserve(ps, 1))
        return false;
    struct ps_expect *e = q_at(ps, ps->qlen++);
    e->kind = (uint8_t)kind;
    e->flags = 0;
    e->ref = ref;
    return true;
}

static void exp_free(struct ps_expect *e)
{
    switch (e->kind) {
    case EX_PARSE:
    case EX_PARSE_HIDE:
    case EX_PARSE_FAKE:
    case EX_CLOSE:
    case EX_DEALLOC:
        stmt_unref(e->ref);
        break;
    case EX_CLOSE_HIDE:
        ps_node_free(e->ref);
        break;
    case EX_DUP:
        free(e->ref);
        break;
    case EX_CLEAR:
        if (e->ref) {
            map_free(e->ref);
            free(e->ref);
        }
        break;
    default:
        break;
    }
    e->ref = NULL;
}

static void q_pop(struct client_ps *ps)
{
    exp_free(q_head(ps));
    ps->qhead = (ps->qhead + 1) & (ps->qcap - 1);
    ps->qlen--;
}

/* Drops every entry without undoing anything (the client or the link is going). */
static void q_drop(struct client_ps *ps)
{
    while (ps->qlen)
        q_pop(ps);
}

/* The server no longer has statement id (its Parse failed or was skipped). */
static void server_forget(struct client_ps *ps, struct server *s, const uint8_t *id)
{
    if (!s->ps)
        return;
    struct ps_node *n = ps_cache_find(s->ps, id);
    if (n) {
        ps_cache_unlink(s->ps, n);
        ps_node_free(n);
    }
    /* A Close of it still on the way must not put it back. */
    for (uint32_t i = 0; i < ps->qlen; i++) {
        struct ps_expect *e = q_at(ps, i);
        if (e->kind == EX_CLOSE_HIDE && !memcmp(((struct ps_node *)e->ref)->id, id, PG_PS_ID_LEN))
            e->flags |= PS_EXP_DEAD;
    }
}

/* The head entry's message failed, or the server skipped it (an error before it, no Sync yet). */
static void exp_undo(struct client_ps *ps, struct server *s, struct ps_expect *e)
{
    struct ps_stmt *st = e->ref;
    switch (e->kind) {
    case EX_PARSE:
        if (st) {
            server_forget(ps, s, st->id);
            client_forget(ps, st);
        }
        break;
    case EX_PARSE_HIDE:
        server_forget(ps, s, st->id);
        break;
    case EX_PARSE_FAKE:
        client_forget(ps, st);
        break;
    case EX_CLOSE:
        if (st)
            client_restore(ps, st);
        break;
    case EX_CLOSE_HIDE:
        if (!(e->flags & PS_EXP_DEAD) && s->ps) {
            ps_cache_put_back(s->ps, e->ref);
            e->ref = NULL;
        }
        break;
    default:
        break;
    }
}

static void pop_failed(struct client_ps *ps, struct server *s)
{
    exp_undo(ps, s, q_head(ps));
    q_pop(ps);
}

/*
 * DEALLOCATE ALL or DISCARD ALL ran on the server: it has no statement left
 * but those whose Parse is still on the way behind the head (sent after it).
 * The client forgets its statements likewise unless the command was a Query
 * weir recognised (head EX_CLEAR: the map was replaced when it was sent).
 */
static void cleared(struct client_ps *ps, struct server *s)
{
    struct ps_expect *h = q_head(ps);
    if (s->ps) {
        ps_cache_clear(s->ps);
        for (uint32_t i = 1; i < ps->qlen; i++) {
            struct ps_expect *e = q_at(ps, i);
            struct ps_node *n;
            if ((e->kind == EX_PARSE || e->kind == EX_PARSE_HIDE) && e->ref &&
                !ps_cache_find(s->ps, ((struct ps_stmt *)e->ref)->id) &&
                (n = ps_node_new(((struct ps_stmt *)e->ref)->id)))
                ps_cache_add(s->ps, n);
            if (e->kind == EX_CLOSE_HIDE)
                e->flags |= PS_EXP_DEAD;
        }
    }
    if (h && h->kind == EX_CLEAR) {
        h->flags |= PS_EXP_SEEN;
        return;
    }
    struct ps_map old = ps->map;
    memset(&ps->map, 0, sizeof(ps->map));
    for (uint32_t i = 1; i < ps->qlen; i++) {
        struct ps_expect *e = q_at(ps, i);
        if ((e->kind == EX_PARSE || e->kind == EX_PARSE_FAKE) && e->ref) {
            struct ps_stmt *st = e->ref;
            if (map_find(&old, st->name) == st)
                client_restore(ps, st);
        }
    }
    map_free(&old);
}

/* ---- client -> server ---- */

static struct client_ps *client_ps_get(struct client *c)
{
    if (c->ps)
        return c->ps;
    struct client_ps *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    pg_out_init(&ps->held);
    pg_out_init(&ps->build);
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
        q_push(ps, EX_CLOSE_HIDE, ps_cache_evict(s->ps));
    ps_cache_add(s->ps, node);
    st->refs++;
    q_push(ps, EX_PARSE_HIDE, st);
    stats_parse(stats_slot_of(c->pool, c->w), 0, 1);
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
        return q_push(ps, EX_PARSE, NULL) ? PS_PASS : fail(why, len, "out of memory");
    uint64_t mlen = (uint64_t)PG_HDR_LEN + body;
    if (avail < body)
        return need_more(b, mlen, why, len, "a Parse message of a named statement is");
    struct pg_parse p;
    if (pg_parse_read(m, body, &p) != WR_OK)
        return q_push(ps, EX_PARSE, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);

    if (map_find(&ps->map, p.name)) {
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
        q_push(ps, EX_DUP, keep);
        return step;
    }

    struct ps_stmt *st = stmt_new(&p);
    struct ps_node *node = NULL;
    bool fresh = false;
    int nevict = 0;
    uint32_t closes = 0;
    if (!st || !plan_prepare(ps, s, st, &node, &fresh, &nevict, &closes)) {
        stmt_unref(st);
        return fail(why, len, "out of memory");
    }
    if (!fresh) {
        /* The server has it: a Close of nothing stands in, its CloseComplete becomes ours. */
        pg_out_close(&ps->build, 'S', PG_PS_NONE);
    }
    /* Fresh: the build is the evictions, then the client's Parse under the server's name. */
    enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, closes, 0);
    if ((step != PS_EDITED && step != PS_CONSUMED) || !map_add(&ps->map, st)) {
        if (fresh)
            ps_node_free(node);
        stmt_unref(st);
        if (step == PS_EDITED || step == PS_CONSUMED)
            step = PS_ERROR; /* map_add: out of memory, the message already rewritten */
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    }
    struct stats_slot *sl = stats_slot_of(c->pool, c->w);
    st->refs++; /* the expected answer's */
    if (fresh) {
        for (int i = 0; i < nevict; i++)
            q_push(ps, EX_CLOSE_HIDE, ps_cache_evict(s->ps));
        ps_cache_add(s->ps, node);
        q_push(ps, EX_PARSE, st);
        stats_parse(sl, 1, 1);
    } else {
        ps_cache_touch(s->ps, node);
        q_push(ps, EX_PARSE_FAKE, st);
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
    struct ps_stmt *st = rc == WR_OK && h.stmt[0] ? map_find(&ps->map, h.stmt) : NULL;
    if (!st)
        return q_push(ps, EX_BIND, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);
    struct ps_node *node;
    bool fresh;
    int nevict;
    uint32_t closes;
    if (!plan_prepare(ps, s, st, &node, &fresh, &nevict, &closes))
        return fail(why, len, "out of memory");
    uint32_t pre = (uint32_t)ps->build.len;
    char name[PG_PS_NAME_LEN];
    pg_ps_name(st->id, name);
    pg_out_bind_head(&ps->build, h.portal, name, body - h.prefix_len);
    enum ps_step step = client_edit(c, s, b, PG_HDR_LEN + h.prefix_len, pre, body - h.prefix_len);
    if (step != PS_EDITED && step != PS_CONSUMED) {
        if (fresh)
            ps_node_free(node);
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    }
    commit_prepare(c, s, st, node, fresh, nevict);
    q_push(ps, EX_BIND, NULL);
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
        st = map_find(&ps->map, name);
    enum ps_exp_kind ek = type == 'C' ? EX_CLOSE : kind == 'P' ? EX_DESCRIBE_P : EX_DESCRIBE_S;
    if (!st)
        return q_push(ps, ek, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!q_reserve(ps, PS_MAX_EVICT + 2))
        return fail(why, len, "out of memory");
    pg_out_reset(&ps->build);
    if (type == 'C') {
        /* The client forgets it; the server keeps it for others: a Close of nothing answers. */
        pg_out_close(&ps->build, 'S', PG_PS_NONE);
        enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, 0, 0);
        if (step != PS_EDITED && step != PS_CONSUMED)
            return step == PS_ERROR ? fail(why, len, "out of memory") : step;
        map_remove(&ps->map, st); /* its reference goes to the expected answer */
        q_push(ps, EX_CLOSE, st);
        return step;
    }
    struct ps_node *node;
    bool fresh;
    int nevict;
    uint32_t closes;
    if (!plan_prepare(ps, s, st, &node, &fresh, &nevict, &closes))
        return fail(why, len, "out of memory");
    uint32_t pre = (uint32_t)ps->build.len;
    char sname[PG_PS_NAME_LEN];
    pg_ps_name(st->id, sname);
    pg_out_describe(&ps->build, 'S', sname);
    enum ps_step step = client_edit(c, s, b, (uint32_t)mlen, pre, 0);
    if (step != PS_EDITED && step != PS_CONSUMED) {
        if (fresh)
            ps_node_free(node);
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    }
    commit_prepare(c, s, st, node, fresh, nevict);
    q_push(ps, EX_DESCRIBE_S, NULL);
    return step;
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
    bool maybe = pg_sql_maybe_deallocate(text, n, &more);
    if (!maybe && more && n < body && (uint64_t)PG_HDR_LEN + body <= b->cap)
        return PS_WAIT;
    if (!maybe || (uint64_t)PG_HDR_LEN + body > b->cap || text[n - 1] != 0)
        return q_push(ps, EX_QUERY, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (n < body)
        return PS_WAIT;
    char name[256];
    enum pg_sql_kind kind = pg_sql_classify(text, name, sizeof(name));
    struct ps_stmt *st = kind == PG_SQL_DEALLOCATE ? map_find(&ps->map, name) : NULL;
    if (kind == PG_SQL_DEALLOCATE_ALL) {
        struct ps_map *old = malloc(sizeof(*old));
        if (!old || !q_reserve(ps, 1)) {
            free(old);
            return fail(why, len, "out of memory");
        }
        *old = ps->map;
        memset(&ps->map, 0, sizeof(ps->map));
        q_push(ps, EX_CLEAR, old);
        return PS_PASS;
    }
    if (!st)
        return q_push(ps, EX_QUERY, NULL) ? PS_PASS : fail(why, len, "out of memory");
    if (!q_reserve(ps, 1))
        return fail(why, len, "out of memory");
    /* The server's statement stays for others: an empty query stands in (see ps.h). */
    pg_out_reset(&ps->build);
    pg_out_query(&ps->build, "");
    enum ps_step step = client_edit(c, s, b, PG_HDR_LEN + body, 0, 0);
    if (step != PS_EDITED && step != PS_CONSUMED)
        return step == PS_ERROR ? fail(why, len, "out of memory") : step;
    map_remove(&ps->map, st);
    q_push(ps, EX_DEALLOC, st);
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
    if (!q_push(c->ps, k, NULL))
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
    struct ps_expect *h = q_head(ps);
    uint8_t kind = h ? h->kind : 0xff;
    switch (type) {
    case '1': /* ParseComplete */
        if (kind == EX_PARSE || kind == EX_PARSE_HIDE) {
            if (h->ref)
                pool_ps_learn(c->pool, ((struct ps_stmt *)h->ref)->id, ps_limit());
            q_pop(ps);
            if (kind == EX_PARSE_HIDE) {
                drop_msg(b, mlen);
                return PSS_DROPPED;
            }
        }
        return PSS_PASS;
    case '3': /* CloseComplete */
        if (kind == EX_CLOSE || kind == EX_CLOSE_HIDE || kind == EX_PARSE_FAKE) {
            q_pop(ps);
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
            q_pop(ps);
        return PSS_PASS;
    case 'T': /* RowDescription */
    case 'n': /* NoData */
        if (kind == EX_DESCRIBE_S || kind == EX_DESCRIBE_P)
            q_pop(ps);
        return PSS_PASS;
    case 's': /* PortalSuspended */
        if (kind == EX_EXECUTE)
            q_pop(ps);
        return PSS_PASS;
    case 'C': /* CommandComplete */
        if ((body == 15 || body == 12) && !whole && fits)
            return PSS_WAIT;
        if (whole && ((body == 15 && !memcmp(msg, "DEALLOCATE ALL", 15)) ||
                      (body == 12 && !memcmp(msg, "DISCARD ALL", 12))))
            cleared(ps, s);
        if (kind == EX_EXECUTE)
            q_pop(ps);
        return PSS_PASS;
    case 'I': /* EmptyQueryResponse */
        if (kind == EX_EXECUTE) {
            q_pop(ps);
        } else if (kind == EX_DEALLOC && !(h->flags & PS_EXP_SEEN)) {
            h->flags |= PS_EXP_SEEN;
            pg_out_reset(&ps->held);
            if (s->txstatus == 'E') {
                client_restore(ps, h->ref);
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
            q_pop(ps);
            /* The server's error names weir's probe: the client's own replaces it. */
            if (whole && ps->held.len <= mlen)
                return replace_msg(ps, b, mlen);
            pg_out_reset(&ps->held);
            return PSS_PASS;
        }
        pop_failed(ps, s);
        return PSS_PASS;
    case 'Z': /* ReadyForQuery: what was skipped since the error is undone, up to its Sync */
        while ((h = q_head(ps))) {
            if (!is_extended(h->kind)) {
                if (h->kind == EX_CLEAR && !(h->flags & PS_EXP_SEEN) && h->ref) {
                    /* DEALLOCATE ALL / DISCARD ALL failed: the client still has its statements. */
                    struct ps_map *old = h->ref;
                    for (uint32_t i = 0; old->tab && i <= old->nmask; i++)
                        for (struct ps_stmt *st = old->tab[i]; st; st = st->chain)
                            client_restore(ps, st);
                } else if (h->kind == EX_DEALLOC && !(h->flags & PS_EXP_SEEN)) {
                    client_restore(ps, h->ref);
                }
                q_pop(ps);
                break;
            }
            pop_failed(ps, s);
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
            !p.name[0] || (c->ps && map_find(&c->ps->map, p.name)))
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
        struct ps_stmt *st = stmt_new(&p);
        if (!st || !map_add(&ps->map, st)) {
            stmt_unref(st);
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
        q_drop(ps);
    }
    if (ps->map.count == 0 && !ps->held_len) {
        ps_client_free(c);
    } else {
        /* Between transactions the scratch buffers need not stay. */
        pg_out_free(&ps->build);
        pg_out_init(&ps->build);
    }
}

void ps_client_detach(struct client *c, struct server *s)
{
    struct client_ps *ps = c->ps;
    if (!ps || !ps->qlen)
        return;
    if (s)
        s->ps_unsure = true;
    q_drop(ps);
}

void ps_client_free(struct client *c)
{
    struct client_ps *ps = c->ps;
    if (!ps)
        return;
    q_drop(ps);
    free(ps->q);
    map_free(&ps->map);
    pg_out_free(&ps->held);
    pg_out_free(&ps->build);
    free(ps);
    c->ps = NULL;
}
