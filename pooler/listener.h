/*
 * listener.h -- listening sockets. Every worker opens its own socket on each
 * listen address with SO_REUSEPORT, so the kernel spreads new connections
 * over the workers and no accepted fd ever crosses threads.
 */
#ifndef WEIR_LISTENER_H
#define WEIR_LISTENER_H

#include "pooler/worker.h"

/* Opens w's sockets on every address of listen_addr (comma separated). */
int listener_open(struct worker *w, char *err, size_t errlen) WR_MUST_CHECK;
/* Starts accepting on w's loop. */
void listener_start(struct worker *w);
/* Re-arms listeners paused by fd exhaustion (called from the sweep). */
void listener_resume(struct worker *w);
void listener_close(struct worker *w);

/* Shutdown: accepts the connections already queued, then closes the listening sockets. */
void listener_drain_close(struct worker *w);

#endif
