/*
 * pg_msg.h -- PostgreSQL v3 message framing: header peeking, a message
 * builder with a sticky failure flag, and a bounds-checked field reader.
 *
 * A v3 message after startup is: 1 type byte, a 4-byte big-endian length
 * that counts itself but not the type byte, then (length - 4) body bytes.
 * Nothing here touches sockets; callers hand in byte ranges.
 */
#ifndef WEIR_PG_MSG_H
#define WEIR_PG_MSG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define PG_HDR_LEN 5 /* type byte + int32 length */

static inline uint32_t pg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t pg_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void pg_put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/*
 * Reads the header of the message at buf[0..len). On WR_OK sets *type and
 * *body_len (bytes after the header). WR_AGAIN when fewer than 5 bytes are
 * present. WR_ERROR when the length field is below 4 or the body would
 * exceed max_body (pass UINT32_MAX - 4 for "no limit").
 */
int pg_msg_peek(const uint8_t *buf, size_t len, uint32_t max_body, char *type,
                uint32_t *body_len) WR_MUST_CHECK;

/*
 * Is a message the client may send once logged in (Bind, Close, CopyData,
 * CopyDone, CopyFail, Describe, Execute, Flush, FunctionCall, Parse, Query,
 * Sync, Terminate) with a body of a length its type allows? NULL when it is;
 * otherwise the reason, for an 08P01 error ("invalid frontend message type",
 * "invalid message format"). The server would answer any other message with
 * a FATAL error, or skip the client's next queries until a Sync: a pooler
 * must refuse it before it reaches a shared server.
 */
const char *pg_frontend_check(char type, uint32_t body_len);

/*
 * Message builder. Appends to a growable byte array; any allocation failure
 * or misuse sets `failed`, after which every call is a no-op, so a caller
 * checks once at the end.
 */
struct pg_out {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t msg_start; /* offset of the open message's length field, or SIZE_MAX */
    bool failed;
};

void pg_out_init(struct pg_out *o);
void pg_out_free(struct pg_out *o);
/* Forget the content, keep the allocation. */
void pg_out_reset(struct pg_out *o);

/* Open a message; type 0 opens an untyped one (startup/cancel packets). */
void pg_out_begin(struct pg_out *o, char type);
/* Close the open message: patches its length field. */
void pg_out_end(struct pg_out *o);
void pg_out_byte(struct pg_out *o, uint8_t v);
void pg_out_int16(struct pg_out *o, uint16_t v);
void pg_out_int32(struct pg_out *o, uint32_t v);
void pg_out_bytes(struct pg_out *o, const void *p, size_t n);
/* A C string including its terminating NUL. */
void pg_out_str(struct pg_out *o, const char *s);

/*
 * Whole messages. severity is "ERROR" or "FATAL" (also used for the
 * non-localized V field), sqlstate five characters, the message printf-like.
 */
void pg_out_error(struct pg_out *o, const char *severity, const char *sqlstate, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
void pg_out_verror(struct pg_out *o, const char *severity, const char *sqlstate, const char *fmt,
                   va_list ap);
/* NoticeResponse with severity NOTICE/WARNING. */
void pg_out_notice(struct pg_out *o, const char *severity, const char *sqlstate, const char *msg);
/* Authentication request: code 0 ok, 3 cleartext, 5 md5 (extra = 4-byte salt),
 * 10 SASL (extra = mechanism list), 11 SASL continue, 12 SASL final. */
void pg_out_auth(struct pg_out *o, uint32_t code, const void *extra, size_t extra_len);
void pg_out_param_status(struct pg_out *o, const char *name, const char *value);
void pg_out_backend_key(struct pg_out *o, uint32_t pid, uint32_t key);
/*
 * NegotiateProtocolVersion: the newest minor version of protocol 3 spoken,
 * and the protocol options (`_pq_.` startup parameters) not recognised.
 */
void pg_out_negotiate_version(struct pg_out *o, uint32_t minor, const char *const *options,
                              int noptions);
void pg_out_ready(struct pg_out *o, char status);
void pg_out_query(struct pg_out *o, const char *sql);
void pg_out_terminate(struct pg_out *o);
void pg_out_sync(struct pg_out *o);
/* CopyFail with a message. */
void pg_out_copy_fail(struct pg_out *o, const char *msg);
/* Untyped CancelRequest packet (16 bytes). */
void pg_out_cancel_request(struct pg_out *o, uint32_t pid, uint32_t key);

/*
 * Field reader over one message body. Reads past the end set `failed` and
 * return zero values / NULL; check `failed` (or pg_in_done) once at the end.
 */
struct pg_in {
    const uint8_t *p;
    const uint8_t *end;
    bool failed;
};

static inline void pg_in_init(struct pg_in *in, const void *body, size_t len)
{
    in->p = body;
    in->end = len ? (const uint8_t *)body + len : in->p; /* NULL + 0 is undefined in C */
    in->failed = false;
}

uint8_t pg_in_byte(struct pg_in *in);
uint16_t pg_in_int16(struct pg_in *in);
uint32_t pg_in_int32(struct pg_in *in);
/* A NUL-terminated string inside the body; NULL (and failed) if unterminated. */
const char *pg_in_str(struct pg_in *in);
/* n raw bytes; NULL (and failed) if fewer remain. */
const uint8_t *pg_in_bytes(struct pg_in *in, size_t n);
/* True when every byte was consumed and nothing failed. */
static inline bool pg_in_done(const struct pg_in *in)
{
    return !in->failed && in->p == in->end;
}

/* Fields of an ErrorResponse/NoticeResponse body, pointing into the body. */
struct pg_error_fields {
    const char *severity; /* 'V' if present, else 'S' */
    const char *sqlstate; /* 'C' */
    const char *message;  /* 'M' */
    const char *detail;   /* 'D', may be NULL */
};

/* Parses an ErrorResponse/NoticeResponse body. WR_OK or WR_ERROR (malformed). */
int pg_error_parse(const uint8_t *body, size_t len, struct pg_error_fields *out) WR_MUST_CHECK;

#endif
