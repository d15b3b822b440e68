/*
 * buf.h -- I/O buffers with three cursors and a per-worker free list.
 *
 * [0, sent) has been written to the peer, [sent, parsed) is scanned and may be
 * written, [parsed, recv) is received but not yet scanned (a partial header or
 * a message we want whole before inspecting it). A connection holds a buffer
 * only while bytes are in flight; idle connections hold none, which is what
 * keeps idle clients cheap. Buffers never cross workers.
 */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stdint.h>

#define IOBUF_SIZE (32 * 1024)

struct iobuf {
    uint32_t sent;
    uint32_t parsed;
    uint32_t recv;
    uint32_t cap;
    struct iobuf *next_free;
    uint8_t data[];
};

struct buf_pool {
    struct iobuf *free;
    unsigned nfree;
    unsigned nalloc; /* buffers handed out and not yet returned */
    unsigned max_free;
    unsigned min_free; /* fewest cached since the last buf_pool_trim */
};

void buf_pool_init(struct buf_pool *bp);
/* Frees every cached buffer. Buffers still handed out are the caller's problem. */
void buf_pool_destroy(struct buf_pool *bp);
/* Unmaps the cached buffers unused since the last call (the worker's sweep). */
void buf_pool_trim(struct buf_pool *bp);
/* An empty buffer of IOBUF_SIZE bytes, or NULL when out of memory. */
struct iobuf *buf_get(struct buf_pool *bp);
/* Returns a buffer (may be NULL) to the pool it came from. */
void buf_put(struct buf_pool *bp, struct iobuf *b);

static inline uint32_t buf_unsent(const struct iobuf *b)
{
    return b->parsed - b->sent;
}
static inline uint32_t buf_unparsed(const struct iobuf *b)
{
    return b->recv - b->parsed;
}
static inline uint32_t buf_space(const struct iobuf *b)
{
    return b->cap - b->recv;
}

/* Moves [sent, recv) to the front of the buffer. */
void buf_compact(struct iobuf *b);

#endif
