/*
 * server.h -- server connections: login through a backend connector, the
 * clean-up after a client (drain, rollback, reset query), parameter set-up
 * for the next client, idle watching, moves between workers.
 */
#ifndef WEIR_SERVER_H
#define WEIR_SERVER_H

#include "pooler/pool/route.h"

struct msg;

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
/* Why weir cancels a server's query; names the request in the log. */
enum server_cancel_why {
    SERVER_CANCEL_REQUEST, /* a PostgreSQL client's CancelRequest */
    SERVER_CANCEL_KILL,    /* a MySQL client's KILL QUERY */
    SERVER_CANCEL_CLEANUP, /* weir's own: the client left while its query ran */
};
/*
 * Asks the server to cancel its running query. The request waits its turn in
 * the connectors' cancel queue; s stays put (not released, not freed) until
 * the answer arrives (server_cancel_done), which logs "forwarded" or why it
 * was not sent. Returns false, logged with the reason, when the request could
 * not even be queued.
 */
bool server_cancel(struct server *s, enum server_cancel_why why);
/* The answer to one of s's cancel requests arrived (MSG_CANCEL_DONE, m->server is s). */
void server_cancel_done(const struct msg *m);
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
