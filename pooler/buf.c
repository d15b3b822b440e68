/* buf.c -- per-worker free list of fixed-size I/O buffers. */
#include "pooler/buf.h"

#include <stdlib.h>
#include <string.h>

void buf_pool_init(struct buf_pool *bp)
{
    bp->free = NULL;
    bp->nfree = 0;
    bp->nalloc = 0;
    bp->max_free = 1024;
}

void buf_pool_destroy(struct buf_pool *bp)
{
    while (bp->free) {
        struct iobuf *b = bp->free;
        bp->free = b->next_free;
        free(b);
    }
    bp->nfree = 0;
}

struct iobuf *buf_get(struct buf_pool *bp)
{
    struct iobuf *b = bp->free;
    if (b) {
        bp->free = b->next_free;
        bp->nfree--;
    } else {
        b = malloc(sizeof(*b) + IOBUF_SIZE);
        if (!b)
            return NULL;
        b->cap = IOBUF_SIZE;
    }
    b->sent = b->parsed = b->recv = 0;
    b->next_free = NULL;
    bp->nalloc++;
    return b;
}

void buf_put(struct buf_pool *bp, struct iobuf *b)
{
    if (!b)
        return;
    bp->nalloc--;
    if (bp->nfree >= bp->max_free) {
        free(b);
        return;
    }
    b->next_free = bp->free;
    bp->free = b;
    bp->nfree++;
}

void buf_compact(struct iobuf *b)
{
    if (b->sent == 0)
        return;
    uint32_t n = b->recv - b->sent;
    if (n)
        memmove(b->data, b->data + b->sent, n);
    b->parsed -= b->sent;
    b->recv = n;
    b->sent = 0;
}
