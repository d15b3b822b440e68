/*
 * stmt_my.h -- MySQL binary prepared statements that follow their client
 * from server to server (transaction and statement pooling).
 *
 * A client's COM_STMT_PREPARE never reaches a server as such. weir gives
 * the client a statement id of its own and remembers the statement's text
 * (with the schema it was prepared in) and counts; each server connection
 * keeps what it has prepared (stmt_my_servers: by text, least recently
 * used first to go, at most max_prepared_statements), with the prepare
 * response as a client of its pool gets it. A PREPARE of a text the server
 * has is answered from that response; else weir prepares it itself and then
 * answers. An EXECUTE (FETCH, RESET, BULK_EXECUTE) gets the server's id; a
 * statement its server lacks is prepared there first, and an EXECUTE
 * without parameter types gets the client's last ones when the server's
 * statement has seen others. SEND_LONG_DATA is kept until its EXECUTE.
 * COM_STMT_CLOSE only forgets the client's statement.
 *
 * How the relay does it (stmt_my.c): the client scan rewrites the common
 * case in place (EXECUTE of a statement the server has: the id, 4 bytes)
 * and stops (SCAN_OWN) at anything that needs more. Once everything before
 * it went out, stmt_my_own takes the command out of the input or sends
 * weir's own commands ahead of it, and may hold the client (c->my->stmt &
 * STMT_HOLD: its input waits, unread) until the server has answered
 * everything, at which point relay.c resumes it (stmt_my_resume). weir's own
 * commands are queued in the response tracker like the client's, marked as
 * weir's, and their answers are taken out of the server's stream (a
 * prepare's kept) instead of reaching the client.
 *
 * With max_prepared_statements = 0, in session pooling, or for a client
 * that prepared under those settings, statements pass through untouched and
 * the first PREPARE pins the client to its server, as before.
 */
#ifndef WEIR_STMT_MY_H
#define WEIR_STMT_MY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pooler/core/buf.h"
#include "pooler/core/list.h"

struct client;
struct server;

/* Statements one client may hold (MariaDB's default max_prepared_stmt_count). */
#define STMT_MY_CLIENT_MAX 16382
/* SEND_LONG_DATA bytes kept per statement until its EXECUTE. */
#define STMT_MY_LONG_DATA_MAX (16u << 20)
/* Bytes of a prepare response kept per server statement (a few thousand columns). */
#define STMT_MY_RESP_MAX (1u << 20)

/* What identifies a statement on a server: the schema it was prepared in and its text. */
struct stmt_my_key {
    uint8_t *bytes;   /* schema ("" = the pool's database), NUL, text */
    uint32_t len;     /* of bytes */
    uint32_t text_at; /* offset of the text */
    uint32_t hash;
};

/*
 * Makes k from a schema and a text (copied). False when out of memory or
 * longer than a packet can carry.
 */
bool stmt_my_key_make(struct stmt_my_key *k, const char *schema, size_t schema_len,
                      const uint8_t *text, size_t text_len);
bool stmt_my_key_copy(struct stmt_my_key *dst, const struct stmt_my_key *src);
void stmt_my_key_free(struct stmt_my_key *k);
static inline bool stmt_my_key_eq(const struct stmt_my_key *a, const struct stmt_my_key *b)
{
    return a->hash == b->hash && a->len == b->len &&
           (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

/* One statement of one client. */
struct stmt_my_client {
    struct stmt_my_client *next; /* hash chain */
    uint32_t id;                 /* the id the client knows */
    uint16_t nparams;
    uint16_t ncols;
    struct stmt_my_key key; /* empty for a statement passing through (the id is the server's) */
    uint8_t *types;         /* 2 * nparams bytes: the types the client sent last, or NULL */
    uint8_t *long_data;     /* SEND_LONG_DATA packets kept for the EXECUTE (ids set when sent) */
    uint32_t long_len;
    bool long_over; /* more than STMT_MY_LONG_DATA_MAX came: the EXECUTE gets an error */
    bool cursor;    /* a cursor is open for it on the client's server */
    /* Column definitions for a client without MariaDB's metadata cache (relay_my.c). */
    uint16_t def_cols;
    uint32_t def_len;
    uint8_t *defs; /* whole packets, sequence ids set when sent */
};

/* A client's statements by id. */
struct stmt_my_clients {
    struct stmt_my_client **bucket;
    uint32_t nbucket; /* a power of two, 0 while empty */
    uint32_t n;
    uint32_t next_id;
};

struct stmt_my_client *stmt_my_client_find(const struct stmt_my_clients *t, uint32_t id);
/*
 * Adds a statement under id, or under a new id (never 0 nor
 * MY_STMT_LAST_PREPARED) when id is 0. The key is moved in (*key is
 * emptied). NULL when out of memory or the id is taken.
 */
struct stmt_my_client *stmt_my_client_add(struct stmt_my_clients *t, uint32_t id,
                                          struct stmt_my_key *key);
/* Forgets statement id (no-op when unknown). */
void stmt_my_client_remove(struct stmt_my_clients *t, uint32_t id);
void stmt_my_clients_clear(struct stmt_my_clients *t);

/* One statement prepared on one server connection. */
struct stmt_my_server {
    struct stmt_my_server *next; /* hash chain */
    struct list lru;             /* on stmt_my_servers.lru, most recently used first */
    uint32_t id;                 /* the server's statement id */
    uint16_t nparams;
    uint16_t ncols;
    struct stmt_my_key key;
    uint8_t *types; /* 2 * nparams bytes: the types the server saw last, or NULL */
    uint8_t *resp;  /* the prepare response as the pool's clients get it; NULL: not kept */
    uint32_t resp_len;
    bool cursor; /* a cursor is open on it */
};

/* What one server connection has prepared, by key. */
struct stmt_my_servers {
    struct stmt_my_server **bucket;
    uint32_t nbucket;
    uint32_t n;
    struct list lru;
};

/* An empty table, or NULL when out of memory. */
struct stmt_my_servers *stmt_my_servers_new(void);
void stmt_my_servers_free(struct stmt_my_servers *t);
/* MySQL statements alive in the process: clients' and servers', with their bytes (SHOW MEM). */
void stmt_my_mem(long *nclient, long *client_mem, long *nserver, long *server_mem);
/* The statement with key k (and it becomes the most recently used), or NULL. */
struct stmt_my_server *stmt_my_server_find(struct stmt_my_servers *t, const struct stmt_my_key *k);
/* Adds a statement (key copied) as the most recently used. NULL when out of memory. */
struct stmt_my_server *stmt_my_server_add(struct stmt_my_servers *t, const struct stmt_my_key *k,
                                          uint32_t id, uint16_t nparams, uint16_t ncols);
/* The least recently used statement without an open cursor, or NULL. */
struct stmt_my_server *stmt_my_server_lru(struct stmt_my_servers *t);
/* Forgets e (the caller closes it on the server). */
void stmt_my_server_remove(struct stmt_my_servers *t, struct stmt_my_server *e);

/* ---- the relay (stmt_my.c) ---- */

/* c->my->ps_mode: how the client's statements go, decided at its first statement command. */
#define STMT_MY_MAPPED 1 /* weir's ids, prepared lazily on each server */
#define STMT_MY_PASSED 2 /* untouched, the client pinned to its server */

/* s->my.own: which of weir's own commands a response answers (0: the client's). */
#define STMT_OWN_SCHEMA      1 /* COM_INIT_DB to the schema a statement was prepared in */
#define STMT_OWN_PREPARE     2 /* COM_STMT_PREPARE: its answer is kept */
#define STMT_OWN_SCHEMA_BACK 3 /* COM_INIT_DB back to the client's schema */

struct stmt_my_work;

/* c->my->stmt flags. */
#define STMT_HOLD  0x01 /* the client's input waits until its server has answered everything */
#define STMT_TAKE  0x02 /* the body of a command is being taken out of the client's input */
#define STMT_READY 0x04 /* a PREPARE was taken out whole and waits for its action */

/* What stmt_my_scan made of a client's statement command at b->parsed. */
enum stmt_my_scan {
    STMT_PASS,  /* goes to the server (rewritten in place when needed); *queue_stmt is set */
    STMT_WAIT,  /* more of the packet's head is needed in the buffer */
    STMT_CUT,   /* taken out of the buffer, nothing to forward (COM_STMT_CLOSE) */
    STMT_OWN,   /* needs stmt_my_own once everything before it was sent */
    STMT_ERROR, /* a reason is in why */
};

/*
 * The client scan reached a command packet (payload length len, at least
 * its command byte in b) that is a statement command (my_stmt_command).
 * *queue_stmt gets the statement id its response is tracked under (the
 * client's).
 */
enum stmt_my_scan stmt_my_scan(struct client *c, struct server *s, struct iobuf *b, uint32_t len,
                               uint32_t *queue_stmt, char *why, size_t why_len);
/*
 * Takes over the next bytes of the client's input while a command body is
 * being taken out (STMT_TAKE), at b->parsed, with nothing unsent before it.
 * Returns false when the taking is done and stmt_my_own must act next.
 */
bool stmt_my_take_more(struct client *c, struct iobuf *b);
/*
 * SCAN_OWN for a statement command (everything scanned before it was sent):
 * act on it. Returns false when c was closed.
 */
bool stmt_my_own(struct client *c);
/*
 * The server of a held client (STMT_HOLD) answered everything and all of it
 * reached the client: finish what waited. Returns false when c was closed.
 * The caller clears STMT_HOLD before and relays the input after, unless
 * STMT_HOLD was set again.
 */
bool stmt_my_resume(struct client *c);

/*
 * A packet (header and payload, n bytes, translated for the client) of the
 * answer to weir's own command s->my.own, already fed to the tracker with
 * result rc: keep what is needed; at the end (WR_DONE) act on the answer.
 * The caller takes the packet out of the stream. WR_OK, or WR_ERROR when
 * the server cannot be used on (s->my.fail says why).
 */
int stmt_my_own_packet(struct server *s, struct client *c, const uint8_t *pkt, uint32_t n,
                       int rc) WR_MUST_CHECK;
/* The response to a client's COM_STMT_EXECUTE or COM_STMT_FETCH ended (cursors). */
void stmt_my_answered(struct server *s, struct client *c);
/*
 * A client's command packet is a COM_QUERY: its text is to be scanned for
 * GET_LOCK as it passes (c->my->lock_scan), unless that cannot matter.
 */
void stmt_my_query_scan(struct client *c, struct server *s);
/* Bytes of that COM_QUERY pass: pin the client when GET_LOCK is among them. */
void stmt_my_query_more(struct client *c, struct server *s, const uint8_t *p, size_t n);
/*
 * A logged-in client without a server sent COM_STMT_CLOSE (whole at
 * c->in->parsed): forget the statement here. True when it was taken care
 * of (and taken out of the input), false when it needs the relay.
 */
bool stmt_my_idle_close(struct client *c);
/*
 * Forgets every statement of client c, as its server does on
 * COM_RESET_CONNECTION (and a change of user): a command in progress stays.
 */
void stmt_my_forget(struct client *c);
/* Frees all of it (the client is being freed). */
void stmt_my_free(struct client *c);
/* Forgets what server s has prepared (it was reset, or is being freed). */
void stmt_my_server_forget(struct server *s);

#endif
