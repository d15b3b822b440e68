/*
 * ps_state.c -- what weir keeps of clients' prepared statements: the
 * statements (shared by a client's map and the answers in flight that may
 * need them), the maps by name, the queue of answers expected from the
 * server, and what a failed or skipped message undoes (ps.h, ps_int.h).
 */
#include "pooler/session/ps_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/pool/ps_cache.h"
#include "pooler/pool/server.h"

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

struct ps_stmt *ps_stmt_new(const struct pg_parse *p)
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

void ps_stmt_unref(struct ps_stmt *st)
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
static uint32_t ps_name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

struct ps_stmt *ps_map_find(const struct ps_map *m, const char *name)
{
    if (!m->count)
        return NULL;
    struct ps_stmt *st = m->tab[ps_name_hash(name) & m->nmask];
    while (st && strcmp(st->name, name))
        st = st->chain;
    return st;
}

/* Adds st (its name not in m); the map takes over one reference. False when out of memory. */
bool ps_map_add(struct ps_map *m, struct ps_stmt *st)
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
                    uint32_t k = ps_name_hash(n->name) & nmask;
                    n->chain = tab[k];
                    tab[k] = n;
                }
            }
            free(m->tab);
            m->tab = tab;
            m->nmask = nmask;
        }
    }
    uint32_t k = ps_name_hash(st->name) & m->nmask;
    st->chain = m->tab[k];
    m->tab[k] = st;
    m->count++;
    return true;
}

/* Takes st out of m; the map's reference becomes the caller's. */
void ps_map_remove(struct ps_map *m, struct ps_stmt *st)
{
    struct ps_stmt **pp = &m->tab[ps_name_hash(st->name) & m->nmask];
    while (*pp && *pp != st)
        pp = &(*pp)->chain;
    if (!*pp)
        return;
    *pp = st->chain;
    st->chain = NULL;
    m->count--;
}

/* Drops every statement of m and its table. */
void ps_map_free(struct ps_map *m)
{
    for (uint32_t i = 0; m->tab && i <= m->nmask; i++) {
        struct ps_stmt *n, *next;
        for (n = m->tab[i]; n; n = next) {
            next = n->chain;
            n->chain = NULL;
            ps_stmt_unref(n);
        }
    }
    free(m->tab);
    memset(m, 0, sizeof(*m));
}

/* The client forgets st if its name still stands for it. */
void ps_forget(struct client_ps *ps, struct ps_stmt *st)
{
    if (ps_map_find(&ps->map, st->name) == st) {
        ps_map_remove(&ps->map, st);
        ps_stmt_unref(st);
    }
}

/* The client has st again (a Close or DEALLOCATE that did not happen), unless the name was reused.
 */
void ps_restore(struct client_ps *ps, struct ps_stmt *st)
{
    if (ps_map_find(&ps->map, st->name))
        return;
    st->refs++;
    if (!ps_map_add(&ps->map, st))
        st->refs--;
}

/* ---- the queue of expected answers ---- */

struct ps_expect *ps_q_at(struct client_ps *ps, uint32_t i)
{
    return &ps->q[(ps->qhead + i) & (ps->qcap - 1)];
}

struct ps_expect *ps_q_head(struct client_ps *ps)
{
    return ps->qlen ? ps_q_at(ps, 0) : NULL;
}

/* Makes room for n more entries. False when out of memory or past PS_MAX_EXPECTED. */
bool ps_q_reserve(struct client_ps *ps, uint32_t n)
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
        q[i] = *ps_q_at(ps, i);
    free(ps->q);
    ps->q = q;
    ps->qcap = cap;
    ps->qhead = 0;
    return true;
}

/* Appends an entry (room reserved, or reserves it). False when that fails. */
bool ps_q_push(struct client_ps *ps, enum ps_exp_kind kind, void *ref)
{
    if (!ps_q_reserve(ps, 1))
        return false;
    struct ps_expect *e = ps_q_at(ps, ps->qlen++);
    e->kind = (uint8_t)kind;
    e->flags = 0;
    e->ref = ref;
    return true;
}

void ps_exp_free(struct ps_expect *e)
{
    switch (e->kind) {
    case EX_PARSE:
    case EX_PARSE_HIDE:
    case EX_PARSE_FAKE:
    case EX_CLOSE:
    case EX_DEALLOC:
        ps_stmt_unref(e->ref);
        break;
    case EX_CLOSE_HIDE:
        ps_node_free(e->ref);
        break;
    case EX_DUP:
        free(e->ref);
        break;
    case EX_CLEAR:
        if (e->ref) {
            ps_map_free(e->ref);
            free(e->ref);
        }
        break;
    default:
        break;
    }
    e->ref = NULL;
}

void ps_q_pop(struct client_ps *ps)
{
    ps_exp_free(ps_q_head(ps));
    ps->qhead = (ps->qhead + 1) & (ps->qcap - 1);
    ps->qlen--;
}

/* Drops every entry without undoing anything (the client or the link is going). */
void ps_q_drop(struct client_ps *ps)
{
    while (ps->qlen)
        ps_q_pop(ps);
}

/* The server no longer has statement id (its Parse failed or was skipped). */
void ps_server_forget(struct client_ps *ps, struct server *s, const uint8_t *id)
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
        struct ps_expect *e = ps_q_at(ps, i);
        if (e->kind == EX_CLOSE_HIDE && !memcmp(((struct ps_node *)e->ref)->id, id, PG_PS_ID_LEN))
            e->flags |= PS_EXP_DEAD;
    }
}

/* The head entry's message failed, or the server skipped it (an error before it, no Sync yet). */
void ps_exp_undo(struct client_ps *ps, struct server *s, struct ps_expect *e)
{
    struct ps_stmt *st = e->ref;
    switch (e->kind) {
    case EX_PARSE:
        if (st) {
            ps_server_forget(ps, s, st->id);
            ps_forget(ps, st);
        }
        break;
    case EX_PARSE_HIDE:
        ps_server_forget(ps, s, st->id);
        break;
    case EX_PARSE_FAKE:
        ps_forget(ps, st);
        break;
    case EX_CLOSE:
        if (st)
            ps_restore(ps, st);
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

void ps_pop_failed(struct client_ps *ps, struct server *s)
{
    ps_exp_undo(ps, s, ps_q_head(ps));
    ps_q_pop(ps);
}

/*
 * DEALLOCATE ALL or DISCARD ALL ran on the server: it has no statement left
 * but those whose Parse is still on the way behind the head (sent after it).
 * The client forgets its statements likewise unless the command was a Query
 * weir recognised (head EX_CLEAR: the map was replaced when it was sent).
 */
void ps_cleared(struct client_ps *ps, struct server *s)
{
    struct ps_expect *h = ps_q_head(ps);
    if (s->ps) {
        ps_cache_clear(s->ps);
        for (uint32_t i = 1; i < ps->qlen; i++) {
            struct ps_expect *e = ps_q_at(ps, i);
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
        struct ps_expect *e = ps_q_at(ps, i);
        if ((e->kind == EX_PARSE || e->kind == EX_PARSE_FAKE) && e->ref) {
            struct ps_stmt *st = e->ref;
            if (ps_map_find(&old, st->name) == st)
                ps_restore(ps, st);
        }
    }
    ps_map_free(&old);
}
