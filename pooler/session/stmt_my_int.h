/*
 * stmt_my_int.h -- inside MySQL's statements that follow their client:
 * stmt_my.c (the client scan, taking bodies out of the input, weir's own
 * answers, GET_LOCK, a statement's life) and stmt_act_my.c (the actions
 * that run once the server is idle, and weir's own commands on it). Not for
 * other modules: they use stmt_my.h.
 */
#ifndef WEIR_STMT_MY_INT_H
#define WEIR_STMT_MY_INT_H

#include "pooler/session/stmt_my.h"

#include "pooler/pool/stats.h"
#include "pooler/session/client.h"
#include "protocol/mysql/my_stmt.h"

/* Where the body of a command being taken out of the client's input goes. */
enum take_to {
    TAKE_DISCARD,   /* nowhere (a command answered with an error) */
    TAKE_PREPARE,   /* the work's prep buffer */
    TAKE_LONG_DATA, /* the long data of statement take_stmt */
};

/* A statement command in progress for one client (c->my->work). */
struct stmt_my_work {
    /* Taking a command's body out of the input (STMT_TAKE). */
    uint32_t take_left; /* bytes of the current packet still to take */
    uint8_t take_to;    /* enum take_to */
    bool take_cont;     /* the packet is 0xFFFFFF long: another one continues it */
    uint32_t take_stmt; /* TAKE_LONG_DATA: the client's statement */
    /* A COM_STMT_PREPARE taken out (whole: STMT_READY), until it is answered. */
    uint8_t *prep; /* its payload (the text from byte 1) */
    uint32_t prep_len;
    uint32_t prep_have;
    bool prep_err_sent; /* answered with an error already; only its body is taken */
    /* weir's own prepare of key (for the PREPARE, or the EXECUTE of for_stmt) */
    struct stmt_my_key key;
    uint32_t for_stmt; /* the client statement whose EXECUTE waits, 0 for a PREPARE */
    bool sent;         /* it went out; once the server is idle again it was answered */
    bool retried;      /* went out again after making room on the server (ERR 1461) */
    bool got_first;    /* the first packet of its answer came */
    bool ok_seen;      /* ... and was a prepare OK: ok */
    struct my_prep_ok ok;
    uint8_t *resp; /* its answer, packets as the client gets them */
    uint32_t resp_len;
    bool resp_over;
    uint8_t *err; /* the ERR payload that failed it (a schema switch, the prepare) */
    uint32_t err_len;
};

/*
 * Statistics, PgBouncer's names as the PostgreSQL side counts them:
 * total_client_parse_count (a COM_STMT_PREPARE answered to a client),
 * total_server_parse_count (weir's own COM_STMT_PREPARE on a server) and
 * total_bind_count (a COM_STMT_EXECUTE sent on).
 */
enum stmt_count {
    COUNT_CLIENT_PREPARE,
    COUNT_SERVER_PREPARE,
    COUNT_BIND,
};

static inline void stmt_my_count(struct client *c, enum stmt_count what)
{
    if (!c->pool)
        return;
    struct stats_slot *sl = stats_slot_of(c->pool, c->w);
    if (what == COUNT_BIND)
        stats_bind(sl);
    else
        stats_parse(sl, what == COUNT_CLIENT_PREPARE, what == COUNT_SERVER_PREPARE);
}

/* Longest EXECUTE head for n parameters (BULK_EXECUTE: fixed part and types). */
static inline uint32_t stmt_my_head_max(uint8_t cmd, uint16_t n)
{
    return cmd == COM_STMT_BULK_EXECUTE ? 7 + 2u * n : 10 + (n + 7u) / 8 + 1 + 2u * n;
}

/* The client's command in progress, made when there is none (NULL when out of memory). */
struct stmt_my_work *stmt_my_work_get(struct client *c);

/* Forgets the command in progress (STMT_READY and STMT_TAKE go with it). */
void stmt_my_work_free(struct client *c);

/* Has s answered everything, and has all of it reached the client's side? */
bool stmt_my_server_idle(const struct server *s);

/* The client's current schema as statement keys name it: "" for the pool's database. */
void stmt_my_schema_of(const struct client *c, const struct server *s, const char **p, size_t *n);

/* A cursor of cs opened or closed (the count per client and its server's statement follow). */
void stmt_my_set_cursor(struct client *c, struct server *s, struct stmt_my_client *cs, bool open);

/* Keeps 2 * n type bytes in *dst (allocated once). */
void stmt_my_keep_types(uint8_t **dst, const uint8_t *types, uint16_t n);

/* Takes n bytes at b->parsed out of the input (nothing unsent is before them). */
void stmt_my_consume(struct iobuf *b, uint32_t n);

/* GET_LOCK seen: the lock lives on this server connection, so the client stays on it. */
void stmt_my_pin_for_lock(struct client *c, struct server *s);

/* Writes what waits for c. False when c was closed. */
bool stmt_my_flush_client(struct client *c);

/* Answers the command with the server's ERR payload. False when c was closed. */
bool stmt_my_reply_err_payload(struct client *c, const uint8_t *payload, uint32_t len);

/* Answers the command with OK, the server's status flags. False when c was closed. */
bool stmt_my_reply_ok(struct client *c, struct server *s);

/* Makes w's error weir's own ERR. */
void stmt_my_work_set_err(struct stmt_my_work *w, uint16_t code, const char *sqlstate,
                          const char *msg);

/*
 * Starts taking the body of the command packet at b->parsed (payload len,
 * of which `head` bytes are read already) out of the input: what is here
 * now, the rest as it comes (stmt_my_take_more). The work exists.
 */
void stmt_my_take_start(struct client *c, struct iobuf *b, uint32_t len, uint32_t head,
                        enum take_to to);

/* The client statement an EXECUTE-like command's id names (MariaDB's -1: the last prepared). */
struct stmt_my_client *stmt_my_client_stmt(struct client *c, uint32_t id);

#endif
