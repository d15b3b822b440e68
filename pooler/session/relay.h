/*
 * relay.h -- streaming between a client and its server: each side's input is
 * scanned message by message (headers only, bodies are skipped) and written
 * to the other side as it arrives, never buffered whole. One recv and one
 * send per burst per side; write watchers are armed only when a socket is
 * really full, and the other side's reading pauses until it drains.
 */
#ifndef WEIR_RELAY_H
#define WEIR_RELAY_H

#include "pooler/session/client.h"

/*
 * SCAN_OWN: scanning stopped at a command packet weir answers itself (MySQL
 * KILL, COM_CHANGE_USER), whole at b->parsed, or acts on (a MySQL statement
 * command, stmt_my.h). SCAN_HOLD: MySQL, the client's next command waits
 * until its server answered everything (stmt_my.h); reading stops meanwhile.
 * SCAN_FLUSH: PostgreSQL, scanning stopped at a message weir rewrites
 * (prepared statements, ps.c) that needs what is before it sent first.
 * SCAN_INJECT: scanning stopped after a PostgreSQL text that weir's own query
 * must follow (sess_pg.c: the login values a RESET takes away).
 */
enum scan_result {
    SCAN_OK,
    SCAN_TERMINATE,
    SCAN_ERROR,
    SCAN_OWN,
    SCAN_HOLD,
    SCAN_FLUSH,
    SCAN_INJECT
};

/*
 * MySQL scanners (relay_my.c): walk the packets of each side's buffer,
 * tracking commands and the end of their responses; SCAN_TERMINATE for
 * COM_QUIT, SCAN_ERROR for a stream that is not MySQL (the client scanner
 * puts the reason in why[0..len)).
 */
/* How a MySQL command's error about sequence ids begins (weir's client errors map it to 1156). */
#define MY_OUT_OF_ORDER "Got packets out of order"

enum scan_result relay_my_scan_client(struct client *c, struct server *s, struct iobuf *b,
                                      char *why, size_t len);
enum scan_result relay_my_scan_server(struct server *s, struct client *c, struct iobuf *b);
/*
 * The MySQL server scan stopped after a column count whose definitions the
 * server left out (s->my.insert_pending) and everything before it reached
 * the client: appends the kept definitions to client_out(c) and scans on. WR_OK,
 * or WR_ERROR when s (and with it c) was closed.
 */
int relay_my_insert(struct server *s, struct client *c) WR_MUST_CHECK;
/*
 * Is the MySQL command packet at b->parsed (payload length len, starting a
 * command) one weir answers itself: a KILL statement, COM_PROCESS_KILL or
 * COM_CHANGE_USER? WR_OK yes (and it is whole in b), WR_DONE no, WR_AGAIN
 * more bytes are needed to tell, WR_ERROR it can never fit the buffer.
 */
int relay_my_own_command(const struct iobuf *b, uint32_t len) WR_MUST_CHECK;
/*
 * MySQL: command cmd of client c went (or goes) to server s: its response is
 * tracked in order, under the client's statement id stmt. False when 16
 * commands already wait for their answers.
 */
bool relay_my_queue(struct client *c, struct server *s, uint8_t cmd, uint32_t stmt) WR_MUST_CHECK;
/* Forgets the MySQL session state a client carried: variables, schema, statement metadata. */
void relay_my_forget(struct client *c);
/* An OK packet's session-state block: remember movable state, pin for the rest. */
void relay_my_session_state(struct server *s, struct client *c, const uint8_t *payload, size_t len);

/*
 * May a logged-in PostgreSQL client send a message of this type and body
 * length now (copy_in: its server waits for COPY data)? False with the
 * reason in why[0..len), for an 08P01 error that closes the client.
 */
bool relay_pg_check(char type, uint32_t body, bool copy_in, char *why, size_t len);

/*
 * Statistics of one answered query (a ReadyForQuery, the end of a MySQL
 * query's response) of server s for client c; idle: the transaction ended.
 */
void relay_count_answer(struct server *s, struct client *c, bool idle);

/* The client's socket is readable (client ACTIVE). */
void relay_client_readable(struct client *c);
/* The server's socket is readable (server ACTIVE). */
void relay_server_readable(struct server *s);
/* The client's socket drained: continue server -> client. */
void relay_client_writable(struct client *c);
/* The server's socket drained: continue client -> server. */
void relay_server_writable(struct server *s);
/* Forwards what the client sent while it waited. Returns false when the client was closed. */
bool relay_start(struct client *c);
/*
 * Transaction and statement pooling: gives s back to the pool when its
 * client is between transactions (every Query/Sync answered, ReadyForQuery
 * 'I', no COPY, nothing half-sent either way).
 */
void relay_try_release(struct server *s);

#endif
