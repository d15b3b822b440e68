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

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "protocol/result.h"

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

/*
 * Replaces the n_old bytes at *at (at or after b->sent) with src[0..n_new),
 * moving what follows. Compacts b first when that makes the room (then *at
 * moves with the bytes). False, b unchanged apart from the compaction, when
 * the buffer cannot hold the result.
 */
bool buf_replace(struct iobuf *b, uint32_t *at, uint32_t n_old, const void *src,
                 uint32_t n_new) WR_MUST_CHECK;

/* Largest message body accepted from either side (PostgreSQL's own limit is 1 GB). */
#define BUF_MAX_BODY 0x3fffffffu

/*
 * ---- socket I/O on buffers, shared by sessions and server connections ----
 * Inline: they sit on the forwarding path, one call per read or write.
 */

/* recv into the free space of b: >0 bytes, 0 EOF, -1 would block, -2 error (errno). */
static inline ssize_t buf_recv(int fd, struct iobuf *b)
{
    if (buf_space(b) == 0)
        buf_compact(b);
    if (buf_space(b) == 0) {
        errno = ENOBUFS;
        return -2;
    }
    for (;;) {
        ssize_t n = recv(fd, b->data + b->recv, buf_space(b), 0);
        if (n > 0) {
            b->recv += n;
            return n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

/* send raw bytes from *sent..len: WR_OK all sent, WR_AGAIN, WR_ERROR. */
static inline int buf_send_raw(int fd, const uint8_t *data, size_t len, size_t *sent)
{
    while (*sent < len) {
        ssize_t n = send(fd, data + *sent, len - *sent, MSG_NOSIGNAL);
        if (n > 0) {
            *sent += n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return WR_AGAIN;
        return WR_ERROR;
    }
    return WR_OK;
}

/* send [sent, parsed) of b: WR_OK all sent, WR_AGAIN socket full, WR_ERROR. */
static inline int buf_send(int fd, struct iobuf *b)
{
    size_t sent = b->sent;
    int rc = buf_send_raw(fd, b->data, b->parsed, &sent);
    b->sent = (uint32_t)sent;
    return rc;
}

/*
 * Passes over what is left of the current message's body in b (bodies are
 * forwarded, never looked at). True when there was something to pass over.
 */
static inline bool buf_skip_body(struct iobuf *b, uint32_t *remaining)
{
    if (*remaining == 0)
        return false;
    uint32_t avail = b->recv - b->parsed;
    uint32_t k = avail < *remaining ? avail : *remaining;
    b->parsed += k;
    *remaining -= k;
    return true;
}

#endif
