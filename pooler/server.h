/*
 * server.h -- server connections: login through a backend connector, the
 * clean-up after a client (drain, rollback, reset query), parameter set-up
 * for the next client, idle watching, moves between workers.
 */
#ifndef WEIR_SERVER_H
#define WEIR_SERVER_H

#include "pooler/route.h"

/* Gives idle server s (owned by c's worker) to client c: set-up, then relaying. */
void server_attach(struct server *s, struct client *c);
/* Starts a new login for route r on worker w (counted by the route already). */
void server_connect(struct worker *w, struct route *r);
/* Carries out a route step on worker w: attach, move, connect, wake, fail. */
void server_apply_step(struct worker *w, struct route *r, struct route_step *st);
/* A server posted by another worker arrived on w: take ownership, attach it to c. */
void server_adopt(struct worker *w, struct server *s, struct client *c);
/*
 * The client let go of s. clean is false when the client vanished in the
 * middle of a message (the stream to the server is then unusable).
 */
void server_release(struct server *s, bool clean);
/* Closes s now (logs reason), telling its route. */
void server_close(struct server *s, const char *reason);
/* Asks the server to cancel its running query (client's cancel request). */
void server_cancel(struct server *s);
/* A cancel request of s finished (MSG_CANCEL_DONE). */
void server_cancel_done(struct server *s);
/* Sends pending s->out bytes; WR_OK, WR_AGAIN (write watcher armed), WR_ERROR. */
int server_flush_out(struct server *s) WR_MUST_CHECK;
/* Timeouts: called by the worker's sweep. */
void server_sweep(struct worker *w, ev_tstamp now);
/* Frees a server at shutdown (no route bookkeeping). */
void server_free_at_exit(struct server *s);
/* Logging prefix "S-n db/user". */
#define SERVER_FMT     "S-%llu %s/%s"
#define SERVER_ARGS(s) (unsigned long long)(s)->id, (s)->route->db->name, (s)->route->user

#endif
