/*
 * pg_ps.h -- the extended-protocol messages that name prepared statements
 * (Parse, Bind, Describe, Close): bounds-checked readers of their bodies,
 * builders for the ones weir sends itself, the server-side statement name
 * derived from a statement's text and parameter types, and the recognition
 * of DEALLOCATE / DISCARD in simple-query text.
 *
 * A pooler in transaction mode gives every distinct (query, parameter types)
 * one name on its servers, "weir_" and 32 hex digits of SHA-256 over the
 * Parse body after the statement name. Names starting "weir__" are never
 * given to a statement: weir uses them for messages that must find nothing.
 */
#ifndef WEIR_PG_PS_H
#define WEIR_PG_PS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/pg/pg_msg.h"
#include "protocol/result.h"

#define PG_PS_ID_LEN   16                         /* bytes of a statement's identity */
#define PG_PS_NAME_LEN (5 + 2 * PG_PS_ID_LEN + 1) /* "weir_" + hex + NUL */
/* A statement name that never exists on a server (Close of it answers CloseComplete). */
#define PG_PS_NONE "weir__none"
/* Prefix of the name weir describes to provoke an error in the client's place (42P05). */
#define PG_PS_DUP "weir__dup_"

/* A Parse body: name, then what defines the statement (query text and parameter types). */
struct pg_parse {
    const char *name;    /* NUL-terminated, inside the body */
    const char *query;   /* NUL-terminated, inside the body */
    const uint8_t *tail; /* query .. end of body: query NUL, int16 count, int32 types */
    uint32_t tail_len;
    uint16_t nparams;
};

/*
 * Reads a whole Parse body body[0..len). WR_OK, or WR_ERROR when a string is
 * unterminated or the parameter types do not match their count exactly.
 */
int pg_parse_read(const uint8_t *body, uint32_t len, struct pg_parse *out) WR_MUST_CHECK;

/*
 * The first string of a body of which avail bytes are present out of len:
 * WR_OK with *name and *name_len (without the NUL), WR_AGAIN when the NUL is
 * not among the bytes present yet, WR_ERROR when the body ends without one.
 */
int pg_body_name(const uint8_t *body, uint32_t avail, uint32_t len, const char **name,
                 uint32_t *name_len) WR_MUST_CHECK;

/* The start of a Bind body: portal and statement names, and how many bytes they take. */
struct pg_bind_head {
    const char *portal;
    const char *stmt;
    uint32_t stmt_off;   /* offset of the statement name in the body */
    uint32_t prefix_len; /* bytes of both names with their NULs */
};

/*
 * Reads the names at the start of a Bind body, avail bytes of len present.
 * WR_OK, WR_AGAIN (more bytes needed to see both names), WR_ERROR (a name runs
 * past the end of the body, or fewer than the 6 bytes of counts follow).
 */
int pg_bind_head(const uint8_t *body, uint32_t avail, uint32_t len,
                 struct pg_bind_head *out) WR_MUST_CHECK;

/*
 * A whole Describe or Close body: a kind byte ('S' statement, 'P' portal) and
 * a name, nothing after. WR_OK or WR_ERROR.
 */
int pg_target_read(const uint8_t *body, uint32_t len, char *kind, const char **name) WR_MUST_CHECK;

/* The identity of a statement: a hash of its Parse body tail (query and parameter types). */
void pg_ps_id(const uint8_t *tail, uint32_t tail_len, uint8_t id[PG_PS_ID_LEN]);
/* The server-side name of a statement: "weir_" and the identity in hex. */
void pg_ps_name(const uint8_t id[PG_PS_ID_LEN], char out[PG_PS_NAME_LEN]);

/* Builders (pg_out's sticky failure flag applies). */
void pg_out_parse(struct pg_out *o, const char *name, const uint8_t *tail, uint32_t tail_len);
/* Bind's header and names; the rest of the body (bytes_after) is the caller's. */
void pg_out_bind_head(struct pg_out *o, const char *portal, const char *stmt, uint32_t bytes_after);
void pg_out_describe(struct pg_out *o, char kind, const char *name);
void pg_out_close(struct pg_out *o, char kind, const char *name);
void pg_out_command_complete(struct pg_out *o, const char *tag);

/* What a simple query does to prepared statements. */
enum pg_ps_sql_kind {
    PG_PS_SQL_OTHER = 0,      /* nothing weir must know */
    PG_PS_SQL_DEALLOCATE,     /* exactly one statement, DEALLOCATE [PREPARE] name */
    PG_PS_SQL_DEALLOCATE_ALL, /* DEALLOCATE ALL or DISCARD ALL among its statements */
};

/*
 * Cheap first look at simple-query text (n bytes, need not be terminated):
 * true when, after white space and comments, it starts with DEALLOCATE or
 * DISCARD (any case), the only texts worth parsing. *more is set when the
 * bytes end before that can be told.
 */
bool pg_ps_maybe_deallocate(const char *text, size_t n, bool *more);

/*
 * Parses NUL-terminated text with PostgreSQL's own grammar (libpg_query).
 * For PG_PS_SQL_DEALLOCATE the name is copied to name[0..cap) (false kind
 * PG_PS_SQL_OTHER when it does not fit). Text that does not parse is
 * PG_PS_SQL_OTHER: the server will say what is wrong with it.
 */
enum pg_ps_sql_kind pg_ps_classify_sql(const char *text, char *name, size_t cap);

#endif
