/*
 * metrics.h -- the Prometheus endpoint: GET /metrics answered in the text
 * exposition format 0.0.4 by the worker loops themselves.
 *
 * Every worker listens on metrics_addr:metrics_port with SO_REUSEPORT (the
 * sockets live in worker->listeners, flagged `metrics`, so they open, pause
 * and close with the pool listeners). A scrape is one short-lived connection:
 * read the request head (at most METRICS_MAX_REQUEST bytes), render the whole
 * response into one malloc'ed buffer, write it as the socket allows, close.
 * Stuck scrapers are closed by the worker's sweep, not by a timer each.
 */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

#include <stddef.h>

#include "pooler/core/worker.h"

#define METRICS_MAX_REQUEST   8192 /* bytes of request line + headers */
#define METRICS_MAX_SCRAPES   64   /* open scrape connections per worker; more are refused */
#define METRICS_READ_TIMEOUT  5.0  /* seconds to receive the whole request head */
#define METRICS_WRITE_TIMEOUT 5.0  /* seconds without write progress */
#define METRICS_LINGER        2.0  /* seconds to wait for the peer's FIN after the answer */
#define METRICS_SNDBUF        (256 * 1024) /* kernel send buffer of a scrape socket */

/* Takes the accepted, non-blocking socket fd of a metrics listener (w's thread). */
void metrics_accept(struct worker *w, int fd);
/* Closes w's scrapes whose deadline passed (the worker's sweep). */
void metrics_sweep(struct worker *w, ev_tstamp now);
/* Closes every scrape of w (the worker is exiting). */
void metrics_close_all(struct worker *w);

/*
 * Renders the exposition text of every metric. Returns a malloc'ed string of
 * *len bytes that starts `reserve` bytes into the allocation (room for the
 * HTTP head in front; the caller frees the allocation: the returned pointer
 * minus reserve), or NULL when out of memory. Any thread.
 */
char *metrics_render(size_t reserve, size_t *len);

/*
 * Appends value to dst (cap bytes, NUL-terminated) as a label value: \ " and
 * newline escaped as the text format wants. Returns false when it did not fit.
 */
bool metrics_escape_label(char *dst, size_t cap, const char *value);

#endif
