/*
 * ps_int.h -- inside the prepared-statement code of the sessions (ps.c, the
 * relay's side; ps_state.c, statements, maps and the queue of expected
 * answers). Not for other modules: they use ps.h.
 */
#ifndef WEIR_PS_INT_H
#define WEIR_PS_INT_H

#include "pooler/session/ps.h"

/* Expected answers in flight per client before it is refused (16 bytes each). */
#define PS_MAX_EXPECTED (1u << 20)

enum ps_exp_kind {
    EX_PARSE,      /* a client's Parse went on (ref: its statement when named): ParseComplete */
    EX_PARSE_HIDE, /* weir's Parse of a statement (ref): its ParseComplete is dropped */
    EX_PARSE_FAKE, /* a client's Parse of a statement the server has (ref): CloseComplete -> '1' */
    EX_BIND,       /* BindComplete */
    EX_DESCRIBE_S, /* ParameterDescription, then RowDescription or NoData */
    EX_DESCRIBE_P, /* RowDescription or NoData */
    EX_EXECUTE,    /* CommandComplete, EmptyQueryResponse or PortalSuspended */
    EX_CLOSE,      /* CloseComplete (ref: the client statement it forgot, or NULL) */
    EX_CLOSE_HIDE, /* weir's Close of an evicted statement (ref: its ps_node): dropped */
    EX_DUP,        /* Describe standing for a Parse of a name in use (ref: the name): 42P05 */
    EX_SYNC,       /* ReadyForQuery */
    EX_QUERY,      /* Query or FunctionCall: everything up to ReadyForQuery */
    EX_DEALLOC,    /* DEALLOCATE name, sent as an empty query (ref: the statement) */
    EX_CLEAR,      /* DEALLOCATE ALL / DISCARD ALL in a Query (ref: the map it replaced) */
};

#define PS_EXP_DEAD 1 /* EX_CLOSE_HIDE: the statement is gone anyway: never put back */
#define PS_EXP_SEEN 2 /* EX_CLEAR: its CommandComplete came; EX_DEALLOC: answered */

/* A client statement for a Parse body (one reference, the caller's); NULL when out of memory. */
struct ps_stmt *ps_stmt_new(const struct pg_parse *p);
/* Drops a reference (st may be NULL); the last one frees it. */
void ps_stmt_unref(struct ps_stmt *st);

/* The statement named name in m, or NULL. */
struct ps_stmt *ps_map_find(const struct ps_map *m, const char *name);
/* Adds st (its name not in m); the map takes over one reference. False when out of memory. */
bool ps_map_add(struct ps_map *m, struct ps_stmt *st);
/* Takes st out of m; the map's reference becomes the caller's. */
void ps_map_remove(struct ps_map *m, struct ps_stmt *st);
/* Drops every statement of m and its table; m is empty afterwards. */
void ps_map_free(struct ps_map *m);
/* The client forgets st if its name still stands for it. */
void ps_forget(struct client_ps *ps, struct ps_stmt *st);
/* The client has st again (a Close or DEALLOCATE that did not happen), unless the name was reused.
 */
void ps_restore(struct client_ps *ps, struct ps_stmt *st);

/* Entry i of the queue (0: the head). */
struct ps_expect *ps_q_at(struct client_ps *ps, uint32_t i);
/* The head of the queue, or NULL when empty. */
struct ps_expect *ps_q_head(struct client_ps *ps);
/* Makes room for n more entries. False when out of memory or past the limit. */
bool ps_q_reserve(struct client_ps *ps, uint32_t n);
/* Appends an entry holding ref (reserved room, or reserves it). False when that fails. */
bool ps_q_push(struct client_ps *ps, enum ps_exp_kind kind, void *ref);
/* Releases what an entry holds. */
void ps_exp_free(struct ps_expect *e);
/* Drops the head, releasing what it holds. */
void ps_q_pop(struct client_ps *ps);
/* Drops every entry without undoing anything (the client or the link is going). */
void ps_q_drop(struct client_ps *ps);
/* Server s no longer has statement id (its Parse failed or was skipped). */
void ps_server_forget(struct client_ps *ps, struct server *s, const uint8_t *id);
/* The entry's message failed, or the server skipped it (an error before it, no Sync yet). */
void ps_exp_undo(struct client_ps *ps, struct server *s, struct ps_expect *e);
/* Undoes and drops the head. */
void ps_pop_failed(struct client_ps *ps, struct server *s);
/* DEALLOCATE ALL or DISCARD ALL ran on s: see ps_state.c. */
void ps_cleared(struct client_ps *ps, struct server *s);

#endif
