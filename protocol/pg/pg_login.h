/*
 * pg_login.h -- the client side of a PostgreSQL login, for weir logging in to
 * a server on its own: the startup packet, the authentication exchange, then
 * ParameterStatus, BackendKeyData and ReadyForQuery. Bytes in, bytes out; no
 * I/O. The secret is a password, or what a pass-through login has instead:
 * the user's stored md5 secret (md5 needs no more) and the ClientKey and
 * ServerKey of its SCRAM verifier (pg_auth.h's SCRAM client). Methods: trust,
 * cleartext password, md5, SCRAM-SHA-256 (without channel binding); others
 * (GSS, SSPI, ...) end the login with an error naming them. What the server
 * sends is bounded (PG_LOGIN_MSG_MAX per message) and an ErrorResponse
 * without a SQLSTATE is reported as it came, with an empty sqlstate.
 */
#ifndef WEIR_PG_LOGIN_H
#define WEIR_PG_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/pg/pg_auth.h"
#include "protocol/pg/pg_msg.h"
#include "protocol/result.h"

#define PG_LOGIN_MSG_MAX 8192

struct pg_login {
    int state; /* internal */
    const char *user;
    const char *password;   /* or NULL */
    const char *md5_secret; /* "md5" + 32 hex, or NULL */
    bool have_keys;         /* client_key and server_key given (SCRAM pass-through) */
    uint8_t client_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
    struct scram_client scram;
    /* what the server said */
    uint32_t pid, key;  /* BackendKeyData (0, 0 when it sent none) */
    char status;        /* ReadyForQuery's transaction status */
    const char *method; /* the authentication it asked for: "trust", "md5", ... */
    char sqlstate[6];   /* of its ErrorResponse ("" when it gave none) */
    char error[256];    /* why the login failed */
    /* each ParameterStatus, as it comes (may be NULL) */
    void (*param)(void *arg, const char *name, const char *value);
    void *arg;
};

/*
 * Sets l up for user with one secret or several (NULL / no keys where there
 * is none); the strings must outlive the login.
 */
void pg_login_init(struct pg_login *l, const char *user, const char *password,
                   const char *md5_secret, const uint8_t *client_key, const uint8_t *server_key);

/* The startup packet (protocol 3.0): params is name, value, ..., NULL; "user" must be there. */
void pg_out_startup(struct pg_out *o, const char *const *params);

/*
 * Takes the server's bytes in[0..len): *used is set to the whole messages
 * consumed; the answers weir must send are appended to o. WR_AGAIN: more
 * bytes needed; WR_OK: logged in (ReadyForQuery consumed, l->pid/key/status
 * set); WR_ERROR: refused or malformed, l->error says why (the connection
 * must be closed).
 */
int pg_login_input(struct pg_login *l, const uint8_t *in, size_t len, size_t *used,
                   struct pg_out *o) WR_MUST_CHECK;

/* Wipes the key material. */
void pg_login_clear(struct pg_login *l);

/*
 * The answer to a query weir sends on its own after a login (the role query,
 * an auth_query lookup), read up to ReadyForQuery: of each DataRow, column 1
 * (or column 0 when the row has one), a line each in rows (a NULL is an
 * empty line; a value holding a newline or a NUL, or one that would
 * overflow rows, is skipped); of an ErrorResponse, its message and SQLSTATE. Other messages
 * are skipped; none may be longer than PG_ANSWER_MSG_MAX.
 */
#define PG_ANSWER_MSG_MAX  (64 * 1024)
#define PG_ANSWER_ROWS_MAX 380

struct pg_answer {
    char rows[PG_ANSWER_ROWS_MAX + 1];
    size_t rows_len;
    bool failed;      /* an ErrorResponse came */
    char sqlstate[6]; /* its SQLSTATE ("" when it gave none) */
    char error[256];  /* its message, or what was malformed */
};

void pg_answer_init(struct pg_answer *a);

/*
 * Takes the server's bytes in[0..len); *used is set to the whole messages
 * consumed. WR_AGAIN: more bytes needed; WR_OK: ReadyForQuery consumed (an
 * error, if one came, in a->failed); WR_ERROR: malformed or too long
 * (a->error says which).
 */
int pg_answer_input(struct pg_answer *a, const uint8_t *in, size_t len, size_t *used) WR_MUST_CHECK;

#endif
