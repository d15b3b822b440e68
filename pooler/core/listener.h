/*
 * listener.h -- listening sockets. Every worker opens its own TCP socket on
 * each listen address with SO_REUSEPORT, so the kernel spreads new
 * connections over the workers and no accepted fd ever crosses threads. The
 * unix sockets (unix_socket_dir) are opened once and watched by every worker.
 */
#ifndef WEIR_LISTENER_H
#define WEIR_LISTENER_H

#include "pooler/core/worker.h"

/* Opens w's sockets on every address of listen_addr (comma separated). */
int listener_open(struct worker *w, char *err, size_t errlen) WR_MUST_CHECK;
/* Starts accepting on w's loop. */
void listener_start(struct worker *w);
/* Re-arms listeners paused by fd exhaustion (called from the sweep). */
void listener_resume(struct worker *w);
/* Stops w's watchers and closes its own sockets (not the shared unix ones). */
void listener_close(struct worker *w);
/* Closes the unix sockets and removes their files; call once no worker runs. */
void listener_unix_close_all(void);
/* Logs, one line each, what weir listens on (once, at start). */
void listener_log_all(void);

/* Shutdown: accepts the connections already queued, then closes the listening sockets. */
void listener_drain_close(struct worker *w);

#endif
