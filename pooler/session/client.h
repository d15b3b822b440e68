/*
 * client.h -- PostgreSQL client sessions: startup, authentication, waiting
 * for a server, then the ACTIVE state where relay.c streams bytes.
 */
#ifndef WEIR_CLIENT_H
#define WEIR_CLIENT_H

#include <netinet/in.h>

#include "pooler/objects.h"

struct msg;

/* What differs between the PostgreSQL and the MySQL client session. */
struct client_proto {
    const char *name;
    /* Appends a fatal error for (PostgreSQL-style) sqlstate and msg to client_out(c). */
    void (*error)(struct client *c, const char *sqlstate, const char *msg);
    /* The server is attached and prepared: finish login if needed, start relaying. */
    void (*server_ready)(struct client *c);
    /* The client's socket is readable (its watcher saw EV_READ). */
    void (*readable)(struct client *c);
    /* Frees protocol-private state (authentication). */
    void (*free_state)(struct client *c);
    /*
     * MySQL (NULL for PostgreSQL): the command packet at c->in->parsed is one
     * weir answers itself (relay_my_scan_client said SCAN_OWN, everything
     * before it was sent): answer it and take it out of c->in. Returns false
     * when c was closed, or must not be touched further by the caller (after
     * COM_CHANGE_USER it is in a new login).
     */
    bool (*own_command)(struct client *c);
    /* MySQL: another worker answered c's KILL of client target with a kill_result. */
    void (*kill_done)(struct client *c, uint32_t target, int result);
};

/* Outcomes of a MySQL KILL; the numbers are MySQL's error codes where there is one. */
enum kill_result {
    KILL_OK = 0,
    KILL_UNKNOWN = 1094, /* ER_NO_SUCH_THREAD: no such client */
    KILL_DENIED = 1095,  /* ER_KILL_DENIED_ERROR: a client of another user */
    KILL_SELF = 1,       /* KILL CONNECTION of the asking client itself: it closes */
};

/* The value of settable parameter id the client stands for: its own choice, else what it was told.
 */
static inline const char *client_param(const struct client *c, int id)
{
    const char *v = c->want ? c->want->v[id] : NULL;
    return v || !c->told ? v : c->told->ps.v[id];
}
/* Records the client's own choice for parameter id; false when out of memory. */
bool client_want_set(struct client *c, int id, const char *value);

struct my_out;
/* MySQL: appends o's packets to c's output and frees o (out of memory: client_out_failed). */
void client_my_queue(struct client *c, struct my_out *o);
/* MySQL: the same, then sends; false when c was closed because that failed. */
bool client_my_reply(struct client *c, struct my_out *o);

extern const struct client_proto client_pg_proto;
extern const struct client_proto client_my_proto;

/* Takes a freshly accepted socket on worker w (PostgreSQL port / MySQL port). */
void client_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen);
void client_my_accept(struct worker *w, int fd, const struct sockaddr *sa, socklen_t salen);
/*
 * The common part of accepting: a client in CL_STARTUP with its watcher set
 * up (not started), counted and registered. NULL when it was refused (the
 * error is sent and the socket closed) or out of memory.
 */
struct client *client_new(struct worker *w, int fd, const struct sockaddr *sa,
                          const struct client_proto *proto);
/*
 * Starts (on) or stops waiting for event (EV_READ or EV_WRITE) on c's
 * socket. One watcher waits for both; libev is told only when the set of
 * events changes, as it was when each had a watcher of its own. Reading
 * stops for backpressure, a full buffer or a console job and starts again
 * from here; whether it is stopped is the watcher's own state.
 */
void client_watch(struct client *c, int event, bool on);
/* Server s is attached and prepared: finish login if needed and start relaying. */
static inline void client_server_ready(struct client *c)
{
    c->proto->server_ready(c);
}
/*
 * Reads what a client not yet relaying sent into c->in. Returns true when
 * new bytes are there; false when nothing came or the client was closed.
 */
bool client_read_input(struct client *c);
/* A client waiting for its server: keep its bytes, stop reading when the buffer is full. */
void client_hold_input(struct client *c);
/*
 * The client's server is ready and its login reply is queued: send it, relay
 * what the client already said, and give the server back at once if pooling
 * allows (a login that needed a server, a message that needed no answer).
 */
void client_start_relay(struct client *c);
/*
 * Sets the user and database names c gave (copies; either may be NULL to
 * keep the current one). False when out of memory (the names are unchanged).
 */
bool client_set_names(struct client *c, const char *user, const char *dbname);
/*
 * c is logged in (c->db, and c->route unless it is a console client, are
 * set): points its names at shared storage that lives until exit where
 * there is some, and frees its copies.
 */
void client_share_names(struct client *c);
/* Frees a client that is off every list and watcher. */
void client_free(struct client *c);
/* A random 32-bit number for keys and salts. */
uint32_t client_random32(void);
/* Gives c its BackendKeyData and registers it for cancel requests. */
void client_cancel_register(struct worker *w, struct client *c);
/* Sends an ErrorResponse (FATAL) and closes the client. */
void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Closes the client, releasing its server or leaving the wait queue. */
void client_close(struct client *c, const char *reason);
/*
 * c needs a server (its first query in transaction pooling, a failed health
 * check): queue it, at the head of the queue when front.
 */
void client_request_server(struct client *c, bool front);
/* The wait for a server ended in an error (logins failing): tell the client, close. */
void client_wait_failed(struct client *c, const char *sqlstate, const char *text);
/* The server went back to the pool (transaction pooling): c holds none now. */
void client_server_released(struct client *c);
/* A server arrived (from any worker) for c, which may have gone meanwhile. */
void client_take_server(struct client *c, struct server *s);
/* A cancel request for pid/key arrived on the client's worker w. */
void client_cancel_request(struct worker *w, uint32_t pid, uint32_t key);
/* The worker that owns the client with cancel pid `pid` (its top byte), or NULL. */
struct worker *client_pid_worker(uint32_t pid);
/*
 * MySQL KILL on the worker w that owns client pid: a client of `user` may
 * have its running query cancelled (connection false) or be closed
 * (connection true). requester is the asking client when it is on w, else
 * NULL. Returns a kill_result.
 */
int client_kill(struct worker *w, uint32_t pid, const char *user, bool connection,
                const struct client *requester);
/* MSG_KILL on the target's worker: carry out the KILL and post the answer back. */
void client_kill_request(struct worker *w, const struct msg *m);
/* MSG_KILL_DONE on the asking client's worker: hand the answer to it, if it is still there. */
void client_kill_reply(struct worker *w, const struct msg *m);
/* Timeouts: called by the worker's sweep. */
void client_sweep(struct worker *w, ev_tstamp now);
/* Frees a client at shutdown (no route bookkeeping). */
void client_free_at_exit(struct client *c);
/*
 * weir's own output to c, to append messages to; allocated on first use and
 * freed once sent (client_flush_out), so an idle client holds none. When out
 * of memory, a sink that drops everything and says failed (client_out_failed).
 */
struct pg_out *client_out(struct client *c);
/* Was some of weir's output to c lost (out of memory, a message too big)? */
static inline bool client_out_failed(const struct client *c)
{
    return c->out_lost || (c->out && c->out->msg.failed);
}
/* Has weir bytes of its own waiting to go to c? */
static inline bool client_out_pending(const struct client *c)
{
    return c->out && c->out->msg.len;
}
/* Writes pending client_out bytes; WR_OK, WR_AGAIN (write watcher armed), WR_ERROR. */
int client_flush_out(struct client *c) WR_MUST_CHECK;

/* Room for client_addr_text: an IPv6 address, ':' and a port. */
#define CLIENT_ADDR_TEXT (INET6_ADDRSTRLEN + 7)
/* Writes "ip:port" of c's peer to out and returns out. */
const char *client_addr_text(const struct client *c, char out[CLIENT_ADDR_TEXT]);

#endif
