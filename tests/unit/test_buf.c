/* test_buf.c -- unit tests of I/O buffers: the free list, cursors and compaction. */
#include <string.h>

#include "pooler/core/buf.h"
#include "tests/tap.h"

static void test_pool(void)
{
    struct buf_pool bp;
    buf_pool_init(&bp);
    is_int(bp.nfree, 0, "a new pool has no free buffers");
    is_int(bp.nalloc, 0, "a new pool has nothing handed out");
    ok(bp.free == NULL, "a new pool's free list is empty");
    ok(bp.max_free > 0, "a new pool caches some buffers");

    struct iobuf *a = buf_get(&bp);
    ok(a != NULL, "buf_get gives a buffer");
    is_int(a->cap, IOBUF_SIZE, "its capacity is IOBUF_SIZE");
    ok(a->sent == 0 && a->parsed == 0 && a->recv == 0, "a new buffer's cursors are zero");
    is_int(buf_space(a), IOBUF_SIZE, "a new buffer is all space");
    is_int(bp.nalloc, 1, "nalloc counts the handed-out buffer");

    /* Dirty it, return it, and expect the same memory back with clean cursors. */
    memset(a->data, 'x', IOBUF_SIZE);
    a->sent = 10;
    a->parsed = 20;
    a->recv = 30;
    buf_put(&bp, a);
    is_int(bp.nalloc, 0, "buf_put decrements nalloc");
    is_int(bp.nfree, 1, "buf_put caches the buffer");
    struct iobuf *b = buf_get(&bp);
    ok(b == a, "buf_get reuses the cached buffer");
    ok(b->sent == 0 && b->parsed == 0 && b->recv == 0, "cursors are zeroed on reuse");
    is_int(b->cap, IOBUF_SIZE, "capacity survives reuse");
    ok(b->next_free == NULL, "a handed-out buffer is off the free list");
    is_int(bp.nfree, 0, "the free list is empty again");
    is_int(bp.nalloc, 1, "nalloc counts it again");

    /* LIFO: the most recently returned buffer comes back first. */
    struct iobuf *c = buf_get(&bp);
    ok(c && c != b, "a second buf_get gives another buffer");
    is_int(bp.nalloc, 2, "nalloc is 2");
    buf_put(&bp, b);
    buf_put(&bp, c);
    is_int(bp.nfree, 2, "both are cached");
    ok(buf_get(&bp) == c && buf_get(&bp) == b, "the free list hands buffers back LIFO");
    is_int(bp.nalloc, 2, "nalloc after getting both back");

    buf_put(&bp, NULL);
    is_int(bp.nalloc, 2, "buf_put(NULL) changes nothing");
    is_int(bp.nfree, 0, "buf_put(NULL) caches nothing");

    /* The cap: beyond max_free, returned buffers are freed (ASan would see a leak otherwise). */
    bp.max_free = 1;
    buf_put(&bp, b);
    buf_put(&bp, c);
    is_int(bp.nfree, 1, "no more than max_free buffers are cached");
    is_int(bp.nalloc, 0, "nalloc counts buffers freed past the cap as returned");
    ok(bp.free == b, "the cached one is the first returned");

    buf_pool_destroy(&bp);
    is_int(bp.nfree, 0, "buf_pool_destroy empties the cache");
    ok(bp.free == NULL, "buf_pool_destroy leaves no free list");
    buf_pool_destroy(&bp);
    ok(1, "buf_pool_destroy twice is harmless");
}

static void test_compact(void)
{
    struct buf_pool bp;
    buf_pool_init(&bp);
    struct iobuf *b = buf_get(&bp);

    memcpy(b->data, "0123456789", 10);
    b->recv = 10;
    b->parsed = 6;
    b->sent = 0;
    is_int(buf_unsent(b), 6, "unsent = parsed - sent");
    is_int(buf_unparsed(b), 4, "unparsed = recv - parsed");
    is_int(buf_space(b), IOBUF_SIZE - 10, "space = cap - recv");
    buf_compact(b);
    ok(b->sent == 0 && b->parsed == 6 && b->recv == 10, "compact with sent == 0 changes nothing");
    ok(memcmp(b->data, "0123456789", 10) == 0, "... nor the data");

    b->sent = 4;
    buf_compact(b);
    is_int(b->sent, 0, "compact: sent becomes 0");
    is_int(b->parsed, 2, "compact: parsed shifts by sent");
    is_int(b->recv, 6, "compact: recv shifts by sent");
    ok(memcmp(b->data, "456789", 6) == 0, "compact moves [sent, recv) to the front");
    is_int(buf_space(b), IOBUF_SIZE - 6, "compact frees space at the end");

    /* Everything sent, nothing pending: the buffer becomes empty. */
    b->sent = b->parsed = b->recv = 6;
    buf_compact(b);
    ok(b->sent == 0 && b->parsed == 0 && b->recv == 0, "compact of a fully sent buffer empties it");

    /* Sent up to parsed, with unparsed bytes left. */
    memcpy(b->data, "abcdefgh", 8);
    b->sent = 5;
    b->parsed = 5;
    b->recv = 8;
    buf_compact(b);
    ok(b->sent == 0 && b->parsed == 0 && b->recv == 3, "compact keeps only unparsed bytes");
    ok(memcmp(b->data, "fgh", 3) == 0, "the unparsed bytes are at the front");

    /* A full buffer with one byte sent: overlapping move of nearly IOBUF_SIZE bytes. */
    for (uint32_t i = 0; i < IOBUF_SIZE; i++)
        b->data[i] = (uint8_t)(i * 7);
    b->sent = 1;
    b->parsed = IOBUF_SIZE - 1;
    b->recv = IOBUF_SIZE;
    is_int(buf_space(b), 0, "a full buffer has no space");
    buf_compact(b);
    int same = 1;
    for (uint32_t i = 0; i < IOBUF_SIZE - 1; i++)
        same &= b->data[i] == (uint8_t)((i + 1) * 7);
    ok(same, "compact of a full buffer moves every byte correctly");
    ok(b->parsed == IOBUF_SIZE - 2 && b->recv == IOBUF_SIZE - 1 && buf_space(b) == 1,
       "cursors after compacting a full buffer");

    buf_put(&bp, b);
    buf_pool_destroy(&bp);
}

int main(void)
{
    test_pool();
    test_compact();
    return done_testing();
}
