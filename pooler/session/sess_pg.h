/*
 * sess_pg.h -- what follows a PostgreSQL client from server to server, and
 * what pins it to one (docs/pooling.md, "What follows a client").
 *
 * The relay hands each simple Query and each Parse to sess_pg_client_text;
 * the keyword scan (protocol/pg/pg_sql.h) lets almost every text through at
 * the cost of one pass over its bytes, the others are classified. What a
 * text does is kept as a record until its ReadyForQuery tells how it ended:
 *
 *  - settings (SET, RESET, set_config(..., false), options -c) are applied
 *    to the client's list at once outside a transaction block, kept
 *    tentatively inside one and applied at COMMIT, dropped at ROLLBACK or
 *    when the text failed; an outcome weir cannot know (ROLLBACK TO
 *    SAVEPOINT over a tentative setting, several transactions in one
 *    failing text) pins the client instead of guessing;
 *  - state that cannot move (pg_sql.h's PG_PIN_*) pins the client at once;
 *    DISCARD ALL, DISCARD TEMP, UNLISTEN *, DEALLOCATE ALL, CLOSE ALL and
 *    pg_advisory_unlock_all() unpin their reasons once they succeeded;
 *  - RESET name, RESET ALL and DISCARD ALL of a simple Query are followed by
 *    weir's own set_config of the client's login values (startup parameters
 *    and options), sent right behind the query in the same round trip; its
 *    answer is dropped but for the ParameterStatus messages, which reach the
 *    client as PostgreSQL would send them.
 *
 * A client holds a struct pg_sess only once it has login values or a text
 * did something, so idle clients stay small.
 */
#ifndef WEIR_SESS_PG_H
#define WEIR_SESS_PG_H

#include <stdbool.h>
#include <stdint.h>

#include "pooler/conf/settings.h"
#include "pooler/core/buf.h"

struct client;
struct server;

/* What sess_pg_client_text tells the relay. */
enum sess_text {
    SESS_PASS,   /* forward the message as it is */
    SESS_INJECT, /* forward it, then weir's own query (sess_pg_inject_send) */
};

/* What sess_pg_server_msg tells the relay about one server message. */
enum sess_msg {
    SESS_KEEP,    /* relay it as usual */
    SESS_DROPPED, /* it was weir's own answer: taken out of the buffer */
    SESS_WAIT,    /* it must be whole first: scan again when more bytes came */
    SESS_BROKEN,  /* the server's answer to weir's query makes no sense: close it */
};

/*
 * Is this client's traffic scanned at all? Transaction and statement pooling
 * always; session pooling only when the client has login values for RESET.
 */
bool sess_pg_watching(const struct client *c);
/*
 * The client's simple Query (parse false) or Parse (parse true, stmt its
 * statement name) with NUL-terminated text q of len bytes is about to go to
 * its server, which still owes `owed` ReadyForQuery messages before the one
 * this text's cycle ends with (the relay's s->outstanding). Records what the
 * text does and pins the client if needed; false when out of memory.
 */
bool sess_pg_client_text(struct client *c, bool parse, const char *stmt, const char *q,
                         uint32_t len, int owed, enum sess_text *what);
/*
 * A Query or Parse too long for the buffer, arriving in pieces: the scan
 * alone sees it, and a text it flags pins the client (reason "other").
 */
void sess_pg_long_text_begin(struct client *c);
void sess_pg_long_text_feed(struct client *c, const uint8_t *p, uint32_t n);
void sess_pg_long_text_end(struct client *c);
bool sess_pg_long_text_open(const struct client *c);
/* Sends weir's query behind the client's text (everything before it was sent). */
bool sess_pg_inject_send(struct client *c, struct server *s);
/* Is an injected query waiting to be sent (its text went out)? */
bool sess_pg_inject_due(const struct client *c);
/* The client's text is out: weir's query may follow it now. */
void sess_pg_inject_arm(struct client *c);
/*
 * What sess_pg_client_text said about the text still at c->in->parsed, when
 * the relay comes back to it (a prepared-statement rewrite made it wait).
 */
enum sess_text sess_pg_pending_text(const struct client *c);
/*
 * One server message of type/body at b->parsed (whole when avail allows) for
 * client c: errors and ReadyForQuery settle the records; weir's own answers
 * are dropped.
 */
enum sess_msg sess_pg_server_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                                 uint32_t body);
/*
 * The client lets go of s (released between transactions, or closing): s
 * takes the client's settings, or is marked for DISCARD ALL when the client
 * left state weir cannot replay.
 */
void sess_pg_leave(struct client *c, struct server *s);
/* The SQL that makes s hold c's settings (appended to q, see settings_diff_sql). */
void sess_pg_setup_sql(const struct client *c, const struct server *s, char *q, size_t cap,
                       size_t *len);
/* s now holds c's settings (its set-up succeeded). False when out of memory. */
bool sess_pg_setup_done(const struct client *c, struct server *s);
/*
 * Login: the options string (its -c and -- settings) and the tracked
 * parameters the client chose become its login values. False with the
 * client failed (an error naming the option) when they cannot be taken.
 */
bool sess_pg_login_options(struct client *c, const char *options);
/* Remembers c->want as the login values RESET returns to. False when out of memory. */
bool sess_pg_login_done(struct client *c);
/* Does the client have settings the server must be given before it says anything? */
bool sess_pg_has_login_settings(const struct client *c);
/* The pin reasons (PG_PIN_* bits) of c, 0 when none. */
unsigned sess_pg_pins(const struct client *c);
void sess_pg_free(struct client *c);

#endif
