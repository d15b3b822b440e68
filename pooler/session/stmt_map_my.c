/*
 * stmt_map_my.c -- the tables behind MySQL statements that follow their
 * client: a client's statements by id, a server connection's by schema and
 * text with a least-recently-used order. Chained hash tables that double
 * when they hold as many entries as buckets; a client's ids are handed out
 * in order, so they spread over the buckets by their low bits.
 */
#include "pooler/session/stmt_my.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_packet.h"
#include "protocol/mysql/my_stmt.h"

/* FNV-1a: statement texts are hashed once per PREPARE, not per EXECUTE. */
/* Statements alive in the whole process and their bytes (fixed part and text): SHOW MEM. */
static _Atomic long client_n, client_bytes, server_n, server_bytes;

static void count_add(_Atomic long *n, _Atomic long *bytes, size_t b)
{
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(bytes, (long)b, memory_order_relaxed);
}

static void count_sub(_Atomic long *n, _Atomic long *bytes, size_t b)
{
    atomic_fetch_sub_explicit(n, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(bytes, (long)b, memory_order_relaxed);
}

void stmt_my_mem(long *nclient, long *client_mem, long *nserver, long *server_mem)
{
    *nclient = atomic_load_explicit(&client_n, memory_order_relaxed);
    *client_mem = atomic_load_explicit(&client_bytes, memory_order_relaxed);
    *nserver = atomic_load_explicit(&server_n, memory_order_relaxed);
    *server_mem = atomic_load_explicit(&server_bytes, memory_order_relaxed);
}

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

bool stmt_my_key_make(struct stmt_my_key *k, const char *schema, size_t schema_len,
                      const uint8_t *text, size_t text_len)
{
    memset(k, 0, sizeof(*k));
    if (schema_len + 1 + text_len >= MY_MAX_PAYLOAD)
        return false;
    size_t n = schema_len + 1 + text_len;
    uint8_t *b = malloc(n);
    if (!b)
        return false;
    if (schema_len)
        memcpy(b, schema, schema_len);
    b[schema_len] = 0;
    if (text_len)
        memcpy(b + schema_len + 1, text, text_len);
    k->bytes = b;
    k->len = (uint32_t)n;
    k->text_at = (uint32_t)schema_len + 1;
    k->hash = hash_bytes(b, n);
    return true;
}

bool stmt_my_key_copy(struct stmt_my_key *dst, const struct stmt_my_key *src)
{
    *dst = *src;
    dst->bytes = NULL;
    if (src->len == 0)
        return true;
    if (!(dst->bytes = malloc(src->len)))
        return false;
    memcpy(dst->bytes, src->bytes, src->len);
    return true;
}

void stmt_my_key_free(struct stmt_my_key *k)
{
    free(k->bytes);
    memset(k, 0, sizeof(*k));
}

/* ---- a client's statements ---- */

struct stmt_my_client *stmt_my_client_find(const struct stmt_my_clients *t, uint32_t id)
{
    if (t->nbucket == 0)
        return NULL;
    struct stmt_my_client *e = t->bucket[id & (t->nbucket - 1)];
    while (e && e->id != id)
        e = e->next;
    return e;
}

static bool client_grow(struct stmt_my_clients *t)
{
    uint32_t nb = t->nbucket ? 2 * t->nbucket : 8;
    struct stmt_my_client **b = calloc(nb, sizeof(*b));
    if (!b)
        return false;
    for (uint32_t i = 0; i < t->nbucket; i++) {
        struct stmt_my_client *e = t->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->id & (nb - 1)];
            b[e->id & (nb - 1)] = e;
        }
    }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = nb;
    return true;
}

struct stmt_my_client *stmt_my_client_add(struct stmt_my_clients *t, uint32_t id,
                                          struct stmt_my_key *key)
{
    if (id == 0) {
        /* The next free id; after 2^32 prepares the ids go round, skipping those still held. */
        do {
            id = ++t->next_id;
        } while (id == 0 || id == MY_STMT_LAST_PREPARED || stmt_my_client_find(t, id));
    } else if (stmt_my_client_find(t, id)) {
        return NULL;
    }
    if (t->n >= t->nbucket && !client_grow(t))
        return NULL;
    struct stmt_my_client *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->id = id;
    e->key = *key;
    memset(key, 0, sizeof(*key));
    count_add(&client_n, &client_bytes, sizeof(*e) + e->key.len);
    uint32_t h = id & (t->nbucket - 1);
    e->next = t->bucket[h];
    t->bucket[h] = e;
    t->n++;
    return e;
}

static void client_free(struct stmt_my_client *e)
{
    count_sub(&client_n, &client_bytes, sizeof(*e) + e->key.len);
    stmt_my_key_free(&e->key);
    free(e->types);
    free(e->long_data);
    free(e->defs);
    free(e);
}

void stmt_my_client_remove(struct stmt_my_clients *t, uint32_t id)
{
    if (t->nbucket == 0)
        return;
    struct stmt_my_client **pp = &t->bucket[id & (t->nbucket - 1)];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    struct stmt_my_client *e = *pp;
    *pp = e->next;
    t->n--;
    client_free(e);
}

void stmt_my_clients_clear(struct stmt_my_clients *t)
{
    for (uint32_t i = 0; i < t->nbucket; i++) {
        struct stmt_my_client *e = t->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            client_free(e);
        }
    }
    free(t->bucket);
    uint32_t next_id = t->next_id; /* ids are not reused soon after a reset either */
    memset(t, 0, sizeof(*t));
    t->next_id = next_id;
}

/* ---- a server connection's statements ---- */

struct stmt_my_servers *stmt_my_servers_new(void)
{
    struct stmt_my_servers *t = calloc(1, sizeof(*t));
    if (t)
        list_init(&t->lru);
    return t;
}

static void server_entry_free(struct stmt_my_server *e)
{
    count_sub(&server_n, &server_bytes, sizeof(*e) + e->key.len);
    stmt_my_key_free(&e->key);
    free(e->types);
    free(e->resp);
    free(e);
}

void stmt_my_servers_free(struct stmt_my_servers *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->nbucket; i++) {
        struct stmt_my_server *e = t->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            server_entry_free(e);
        }
    }
    free(t->bucket);
    free(t);
}

struct stmt_my_server *stmt_my_server_find(struct stmt_my_servers *t, const struct stmt_my_key *k)
{
    if (!t || t->nbucket == 0)
        return NULL;
    struct stmt_my_server *e = t->bucket[k->hash & (t->nbucket - 1)];
    while (e && !stmt_my_key_eq(&e->key, k))
        e = e->next;
    if (e && t->lru.next != &e->lru) {
        list_del(&e->lru);
        list_add(&t->lru, &e->lru);
    }
    return e;
}

static bool server_grow(struct stmt_my_servers *t)
{
    uint32_t nb = t->nbucket ? 2 * t->nbucket : 16;
    struct stmt_my_server **b = calloc(nb, sizeof(*b));
    if (!b)
        return false;
    for (uint32_t i = 0; i < t->nbucket; i++) {
        struct stmt_my_server *e = t->bucket[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->key.hash & (nb - 1)];
            b[e->key.hash & (nb - 1)] = e;
        }
    }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = nb;
    return true;
}

struct stmt_my_server *stmt_my_server_add(struct stmt_my_servers *t, const struct stmt_my_key *k,
                                          uint32_t id, uint16_t nparams, uint16_t ncols)
{
    if (t->n >= t->nbucket && !server_grow(t))
        return NULL;
    struct stmt_my_server *e = calloc(1, sizeof(*e));
    if (!e || !stmt_my_key_copy(&e->key, k)) {
        free(e);
        return NULL;
    }
    e->id = id;
    e->nparams = nparams;
    e->ncols = ncols;
    count_add(&server_n, &server_bytes, sizeof(*e) + e->key.len);
    uint32_t h = k->hash & (t->nbucket - 1);
    e->next = t->bucket[h];
    t->bucket[h] = e;
    list_add(&t->lru, &e->lru);
    t->n++;
    return e;
}

struct stmt_my_server *stmt_my_server_lru(struct stmt_my_servers *t)
{
    for (struct list *n = t->lru.prev; n != &t->lru; n = n->prev) {
        struct stmt_my_server *e = list_entry(n, struct stmt_my_server, lru);
        if (!e->cursor)
            return e;
    }
    return NULL;
}

void stmt_my_server_remove(struct stmt_my_servers *t, struct stmt_my_server *e)
{
    struct stmt_my_server **pp = &t->bucket[e->key.hash & (t->nbucket - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    list_del(&e->lru);
    t->n--;
    server_entry_free(e);
}
