/*
 * ps_cache.h -- the prepared statements one PostgreSQL server connection
 * holds (transaction and statement pooling): their identities, most recently
 * used last, bounded by max_prepared_statements. Only identities are kept
 * (the server-side name is derived from one, pg_ps_name); the text to
 * prepare comes from the client that needs the statement.
 *
 * Owned by the server's worker; no locks. A node taken out (evicted, its
 * Close on the way) is the caller's until it is put back or freed.
 */
#ifndef WEIR_PS_CACHE_H
#define WEIR_PS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "pooler/core/list.h"
#include "protocol/pg/pg_ps.h"

struct ps_node {
    struct list lru;       /* on ps_cache.lru, oldest first (self-linked when out) */
    struct ps_node *chain; /* hash chain */
    uint8_t id[PG_PS_ID_LEN];
};

struct ps_cache {
    struct ps_node **tab; /* hash table of nmask + 1 chains */
    uint32_t nmask;
    uint32_t count;
    struct list lru;
};

/* Nodes alive in the whole daemon (SHOW MEM). */
long ps_cache_nodes(void);

/* A new empty cache, or NULL when out of memory. */
struct ps_cache *ps_cache_new(void);
/* Frees c (may be NULL) and its nodes. */
void ps_cache_free(struct ps_cache *c);
/* Frees every node: the server no longer holds any statement. */
void ps_cache_clear(struct ps_cache *c);
/* The node with identity id, or NULL. */
struct ps_node *ps_cache_find(struct ps_cache *c, const uint8_t id[PG_PS_ID_LEN]);
/* Marks n as just used. */
void ps_cache_touch(struct ps_cache *c, struct ps_node *n);
/* A node for id, not in any cache yet; NULL when out of memory. */
struct ps_node *ps_node_new(const uint8_t id[PG_PS_ID_LEN]);
/* Adds node n (from ps_node_new, id not present) as the most recently used. */
void ps_cache_add(struct ps_cache *c, struct ps_node *n);
/* The least recently used node (NULL when empty), left in place; next: the one after it. */
struct ps_node *ps_cache_oldest(struct ps_cache *c);
struct ps_node *ps_cache_newer(struct ps_cache *c, struct ps_node *n);
/* Takes the least recently used node out (NULL when empty); it becomes the caller's. */
struct ps_node *ps_cache_evict(struct ps_cache *c);
/* Takes n out of the cache; it becomes the caller's. */
void ps_cache_unlink(struct ps_cache *c, struct ps_node *n);
/* Puts a node taken out back as the most recently used (freed if its id is present again). */
void ps_cache_put_back(struct ps_cache *c, struct ps_node *n);
/* Frees a node taken out. */
void ps_node_free(struct ps_node *n);

#endif
