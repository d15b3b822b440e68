/*
 * ps.h -- PostgreSQL prepared statements in transaction and statement
 * pooling: each client's named statements, and what the relay rewrites so
 * they work on whichever server the client holds.
 *
 * A client's Parse of a named statement is kept (name -> query text and
 * parameter types). Every distinct (query, types) has one server-side name
 * (pg_ps_name), prepared on a server the first time a client needs it there:
 * weir puts a Parse before the client's Bind or Describe and drops the
 * ParseComplete the client did not ask for. Each server keeps an LRU of its
 * statements (ps_cache, max_prepared_statements); eviction sends a Close
 * whose CloseComplete is dropped too.
 *
 * The answers to what went to the server are matched to what was sent by a
 * queue of expected answers, one entry per extended-protocol message, Query
 * or FunctionCall: an ErrorResponse fails the entry at the head, and the
 * entries up to the next Sync were skipped by the server (their effects are
 * undone at the ReadyForQuery). Entries hold what their success or failure
 * changes: a statement to forget again, a cache node to put back.
 *
 * What the client would get from PostgreSQL is kept whole:
 *   - Parse of a statement this server has: Close of PG_PS_NONE is sent, its
 *     CloseComplete becomes the ParseComplete (same length, one byte changed);
 *   - Parse of a name the client already uses: Describe of PG_PS_DUP + name is
 *     sent, its error (26000) is replaced by PostgreSQL's 42P05;
 *   - Close of a client statement: forgotten, Close of PG_PS_NONE sent;
 *   - DEALLOCATE name (a simple query of that one statement): forgotten, the
 *     query sent is empty, its EmptyQueryResponse becomes the tag DEALLOCATE
 *     (or 25P02 in a failed transaction, as PostgreSQL answers);
 *   - DEALLOCATE ALL, DISCARD ALL: passed on; the client's statements are
 *     forgotten (put back if the command failed), the server's cache is
 *     cleared when its CommandComplete says the command ran.
 * Rewrites are done in the relay's buffer where the room is; otherwise what
 * was before goes out first and the rewritten message follows from the
 * server's (or client's) own output buffer.
 *
 * Memory: a client statement is one allocation of sizeof(struct ps_stmt) +
 * query text + 4 bytes per parameter type + name; a server's statement is a
 * struct ps_node (40 bytes); an expected answer 16 bytes while in flight.
 */
#ifndef WEIR_PS_H
#define WEIR_PS_H

#include "pooler/session/client.h"
#include "protocol/pg/pg_ps.h"

/* One named statement of a client. */
struct ps_stmt {
    struct ps_stmt *chain; /* hash chain of the client's map */
    uint32_t refs;         /* the map's, and each expected answer's that holds it */
    uint32_t tail_len;     /* bytes of tail: query NUL, int16 count, int32 types */
    uint8_t id[PG_PS_ID_LEN];
    const char *name; /* after tail in data */
    uint8_t data[];   /* tail, then name NUL */
};

/* A client's statements by name. */
struct ps_map {
    struct ps_stmt **tab;
    uint32_t nmask;
    uint32_t count;
};

/* An answer the server owes for a message it was sent (client's or weir's). */
struct ps_expect {
    uint8_t kind;  /* enum ps_exp_kind (ps.c) */
    uint8_t flags; /* PS_EXP_* (ps.c) */
    void *ref;     /* a struct ps_stmt, ps_node, ps_map or name, by kind */
};

/* Prepared-statement state of a client (allocated while it has any). */
struct client_ps {
    struct ps_map map;
    struct ps_expect *q; /* ring of expected answers */
    uint32_t qhead, qlen, qcap;
    uint32_t held_len;   /* server message of this length at s->in->parsed replaced by held */
    struct pg_out held;  /* its replacement, for when the buffer had no room */
    struct pg_out build; /* scratch for rewritten messages */
};

/* Client statements alive in the daemon and their bytes (SHOW MEM). */
long ps_stmt_count(void);
long ps_stmt_bytes(void);

/* Does a client logging in to pool p get its statements kept (transaction or statement mode)? */
bool ps_enabled_for(const struct pool *p);

/* What the relay does with a client's message after ps_client_msg. */
enum ps_step {
    PS_PASS,     /* relay the message at b->parsed as usual */
    PS_EDITED,   /* relay the message now at b->parsed (rewritten: read its header again) */
    PS_WAIT,     /* more of the message is needed: stop scanning here */
    PS_FLUSH,    /* send what is before it first, then scan again */
    PS_CONSUMED, /* weir put it on s->out and took it out of b (the rest of a Bind follows) */
    PS_ERROR,    /* close the client: why says why */
};

/*
 * A client message (c->ps_on) at b->parsed, header read: type and body
 * length. May rewrite it in b, put weir's messages before it, queue the
 * answers expected. Returns what the scanner does next.
 */
enum ps_step ps_client_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                           uint32_t body, char *why, size_t len);

/* What the relay does with a server's message after ps_server_msg. */
enum ps_sstep {
    PSS_PASS,    /* relay it as usual */
    PSS_EDITED,  /* relay the message now at b->parsed (replaced: read its header again) */
    PSS_WAIT,    /* wait until it is whole in the buffer */
    PSS_DROPPED, /* it was taken out of the buffer: scan on at the same place */
    PSS_HOLD,    /* send what is before it, then relay_ps_unhold: its replacement is held */
};

/* Is a server message of this type one ps_server_msg looks at? */
static inline bool ps_server_cares(char type)
{
    switch (type) {
    case '1':
    case '2':
    case '3':
    case 'T':
    case 'n':
    case 'C':
    case 's':
    case 'I':
    case 'E':
    case 'Z':
        return true;
    default:
        return false;
    }
}

/*
 * A server message at b->parsed for a client with c->ps_on; whole says the
 * body is in the buffer, fits that it could be. Matches it to the answers
 * expected, drops or replaces weir's own.
 */
enum ps_sstep ps_server_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                            uint32_t body, bool whole, bool fits);

/*
 * The relay stopped at a server message to replace (PSS_HOLD) and sent
 * everything before it: the replacement goes to client_out(c), the message
 * leaves s->in. The caller scans on and flushes client_out.
 */
void ps_unhold(struct client *c, struct server *s);

/*
 * A client holding no server (CL_IDLE) sent exactly Parse ... Sync of named
 * statements that a server of its pool already prepared without error, names
 * it does not use: weir keeps them and answers ParseComplete and
 * ReadyForQuery itself (libpq's PQprepare would otherwise wait for a server
 * that a client of the same thread holds). True when answered (c may have
 * been closed); false to go on as usual (ask for a server).
 */
bool ps_idle_parse(struct client *c);

/*
 * The server is being given back to the pool (every answer in): frees the
 * state of a client that keeps no statement. Answers still expected (should
 * not happen) leave the server's cache unsure.
 */
void ps_client_released(struct client *c, struct server *s);
/* The client goes while holding s (may be NULL): what s still owes makes its cache unsure. */
void ps_client_detach(struct client *c, struct server *s);
/* Frees everything of c's prepared-statement state (a small one is kept for reuse). */
void ps_client_free(struct client *c);
/* The calling worker thread stops: frees the states it kept for reuse. */
void ps_worker_stopped(void);

#endif
