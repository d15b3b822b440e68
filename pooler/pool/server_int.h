/*
 * server_int.h -- inside the server connections: server.c (life cycle,
 * handing over, clean-up, cancels, I/O) and server_login.c (the login).
 * Not for other modules: they use server.h.
 */
#ifndef WEIR_SERVER_INT_H
#define WEIR_SERVER_INT_H

#include <stdbool.h>
#include <string.h>

#include "pooler/pool/server.h"

/* True for a ParameterStatus value of "on". */
static inline bool server_param_on(const char *v)
{
    return v && !strcmp(v, "on");
}

/* Stops watching s's socket (both directions). */
void server_unwatch(struct server *s);
/* Frees s (closed, out of every list). */
void server_free(struct server *s);

/* The socket watchers of a server, in every state (SV_ACTIVE reads through server_hooks). */
void server_read_cb(struct ev_loop *loop, ev_io *io, int revents);
void server_write_cb(struct ev_loop *loop, ev_io *io, int revents);

/* The login's next non-blocking step (its socket is ready). */
void server_login_step(struct server *s);
/* server_connect_timeout passed for the current attempt (or the wait for a name). */
void server_login_timed_out(struct server *s);

#endif
