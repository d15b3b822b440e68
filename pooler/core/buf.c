/*
 * buf.c -- per-worker free list of fixed-size I/O buffers.
 *
 * Buffers are mapped one by one (mmap), not taken from the heap, so that
 * memory given back leaves the process: after a burst (a login storm, a
 * thousand clients queued with a query each) buf_pool_trim, run by the
 * worker's sweep, unmaps the cached buffers nobody needed for a whole sweep
 * interval. A heap would keep those pages resident for good.
 */
#include "pooler/core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BUF_BYTES  (sizeof(struct iobuf) + IOBUF_SIZE)
#define KEEP_SPARE 16 /* cached buffers a worker keeps even when idle */

static struct iobuf *buf_map(void)
{
    void *p = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void buf_unmap(struct iobuf *b)
{
    munmap(b, BUF_BYTES);
}

void buf_pool_init(struct buf_pool *bp)
{
    bp->free = NULL;
    bp->nfree = 0;
    bp->nalloc = 0;
    bp->max_free = 1024;
    bp->min_free = 0;
}

void buf_pool_destroy(struct buf_pool *bp)
{
    while (bp->free) {
        struct iobuf *b = bp->free;
        bp->free = b->next_free;
        buf_unmap(b);
    }
    bp->nfree = 0;
    bp->min_free = 0;
}

void buf_pool_trim(struct buf_pool *bp)
{
    /* min_free buffers sat unused since the last trim: keep a few, unmap the rest. */
    unsigned excess = bp->min_free > KEEP_SPARE ? bp->min_free - KEEP_SPARE : 0;
    while (excess-- > 0 && bp->free) {
        struct iobuf *b = bp->free;
        bp->free = b->next_free;
        bp->nfree--;
        buf_unmap(b);
    }
    bp->min_free = bp->nfree;
}

struct iobuf *buf_get(struct buf_pool *bp)
{
    struct iobuf *b = bp->free;
    if (b) {
        bp->free = b->next_free;
        bp->nfree--;
        if (bp->nfree < bp->min_free)
            bp->min_free = bp->nfree;
    } else {
        b = buf_map();
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
        buf_unmap(b);
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

bool buf_replace(struct iobuf *b, uint32_t *at, uint32_t n_old, const void *src, uint32_t n_new)
{
    if (n_new > n_old && b->cap - b->recv < n_new - n_old && b->sent > 0) {
        uint32_t shift = b->sent;
        buf_compact(b);
        *at -= shift;
    }
    if (n_new > n_old && b->cap - b->recv < n_new - n_old)
        return false;
    uint32_t end = *at + n_old;
    if (b->recv > end)
        memmove(b->data + *at + n_new, b->data + end, b->recv - end);
    if (n_new)
        memcpy(b->data + *at, src, n_new);
    b->recv = b->recv - n_old + n_new;
    return true;
}
