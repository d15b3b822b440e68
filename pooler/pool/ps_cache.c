/* ps_cache.c -- a server connection's prepared statements: a hash of identities with an LRU. */
#include "pooler/pool/ps_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long nodes_alive;

long ps_cache_nodes(void)
{
    return atomic_load_explicit(&nodes_alive, memory_order_relaxed);
}

/* Identities are SHA-256 prefixes: their first bytes are already a good hash. */
static uint32_t slot_of(const struct ps_cache *c, const uint8_t id[PG_PS_ID_LEN])
{
    uint32_t h;
    memcpy(&h, id, sizeof(h));
    return h & c->nmask;
}

struct ps_cache *ps_cache_new(void)
{
    struct ps_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nmask = 15;
    c->tab = calloc(c->nmask + 1, sizeof(*c->tab));
    if (!c->tab) {
        free(c);
        return NULL;
    }
    list_init(&c->lru);
    return c;
}

void ps_node_free(struct ps_node *n)
{
    if (!n)
        return;
    atomic_fetch_sub_explicit(&nodes_alive, 1, memory_order_relaxed);
    free(n);
}

void ps_cache_clear(struct ps_cache *c)
{
    struct list *n;
    while ((n = list_pop(&c->lru)))
        ps_node_free(list_entry(n, struct ps_node, lru));
    memset(c->tab, 0, (c->nmask + 1) * sizeof(*c->tab));
    c->count = 0;
}

void ps_cache_free(struct ps_cache *c)
{
    if (!c)
        return;
    ps_cache_clear(c);
    free(c->tab);
    free(c);
}

struct ps_node *ps_cache_find(struct ps_cache *c, const uint8_t id[PG_PS_ID_LEN])
{
    struct ps_node *n = c->tab[slot_of(c, id)];
    while (n && memcmp(n->id, id, PG_PS_ID_LEN))
        n = n->chain;
    return n;
}

void ps_cache_touch(struct ps_cache *c, struct ps_node *n)
{
    list_del(&n->lru);
    list_add_tail(&c->lru, &n->lru);
}

/* Doubles the table when chains would grow past one node on average. */
static void grow(struct ps_cache *c)
{
    uint32_t nmask = c->nmask * 2 + 1;
    struct ps_node **tab = calloc(nmask + 1, sizeof(*tab));
    if (!tab)
        return; /* longer chains, still correct */
    struct list *pos, *tmp;
    c->nmask = nmask;
    list_for_each_safe(pos, tmp, &c->lru)
    {
        struct ps_node *n = list_entry(pos, struct ps_node, lru);
        uint32_t s = slot_of(c, n->id);
        n->chain = tab[s];
        tab[s] = n;
    }
    free(c->tab);
    c->tab = tab;
}

static void link_node(struct ps_cache *c, struct ps_node *n)
{
    if (c->count >= c->nmask + 1)
        grow(c);
    uint32_t s = slot_of(c, n->id);
    n->chain = c->tab[s];
    c->tab[s] = n;
    list_add_tail(&c->lru, &n->lru);
    c->count++;
}

struct ps_node *ps_node_new(const uint8_t id[PG_PS_ID_LEN])
{
    struct ps_node *n = malloc(sizeof(*n));
    if (!n)
        return NULL;
    atomic_fetch_add_explicit(&nodes_alive, 1, memory_order_relaxed);
    memcpy(n->id, id, PG_PS_ID_LEN);
    n->chain = NULL;
    list_init(&n->lru);
    return n;
}

void ps_cache_add(struct ps_cache *c, struct ps_node *n)
{
    link_node(c, n);
}

struct ps_node *ps_cache_oldest(struct ps_cache *c)
{
    return list_empty(&c->lru) ? NULL : list_entry(c->lru.next, struct ps_node, lru);
}

struct ps_node *ps_cache_newer(struct ps_cache *c, struct ps_node *n)
{
    return n->lru.next == &c->lru ? NULL : list_entry(n->lru.next, struct ps_node, lru);
}

void ps_cache_unlink(struct ps_cache *c, struct ps_node *n)
{
    struct ps_node **pp = &c->tab[slot_of(c, n->id)];
    while (*pp && *pp != n)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = n->chain;
    n->chain = NULL;
    list_del(&n->lru);
    c->count--;
}

struct ps_node *ps_cache_evict(struct ps_cache *c)
{
    if (list_empty(&c->lru))
        return NULL;
    struct ps_node *n = list_entry(c->lru.next, struct ps_node, lru);
    ps_cache_unlink(c, n);
    return n;
}

void ps_cache_put_back(struct ps_cache *c, struct ps_node *n)
{
    if (ps_cache_find(c, n->id)) {
        ps_node_free(n);
        return;
    }
    link_node(c, n);
}
