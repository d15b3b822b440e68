/*
 * my_packet.h -- MySQL/MariaDB packet framing: header peeking, a packet
 * builder with a sticky failure flag that splits long payloads, a
 * bounds-checked field reader, and the ERR/OK/EOF packets.
 *
 * A packet is a 4-byte header -- 3-byte little-endian payload length and a
 * 1-byte sequence id -- followed by the payload. A payload of exactly
 * 0xFFFFFF bytes means the logical message continues in the next packet (with
 * the next sequence id); a message whose length is a multiple of 0xFFFFFF
 * ends with an empty packet. Nothing here touches sockets.
 */
#ifndef WEIR_MY_PACKET_H
#define WEIR_MY_PACKET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define MY_HDR_LEN      4
#define MY_MAX_PAYLOAD  0xFFFFFFu /* a payload this long continues in the next packet */
#define MY_SQLSTATE_LEN 5

/* First payload bytes of the generic response packets. */
#define MY_OK_HEADER     0x00
#define MY_INFILE_HEADER 0xFB /* LOCAL INFILE request; also the NULL marker of lenenc */
#define MY_EOF_HEADER    0xFE /* EOF, AuthSwitchRequest, or OK under CLIENT_DEPRECATE_EOF */
#define MY_ERR_HEADER    0xFF

static inline uint16_t my_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t my_get24(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static inline uint32_t my_get32(const uint8_t *p)
{
    return my_get24(p) | (uint32_t)p[3] << 24;
}

static inline uint64_t my_get64(const uint8_t *p)
{
    return (uint64_t)my_get32(p) | (uint64_t)my_get32(p + 4) << 32;
}

static inline void my_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Reads the packet header at buf[0..len). On WR_OK sets *payload_len (0 to
 * MY_MAX_PAYLOAD) and *seq. WR_AGAIN when fewer than 4 bytes are present.
 * Every 3-byte length is valid framing, so there is no WR_ERROR: callers
 * apply their own limit (e.g. MY_HS_RESPONSE_MAX before a login).
 */
int my_pkt_peek(const uint8_t *buf, size_t len, uint32_t *payload_len, uint8_t *seq) WR_MUST_CHECK;

/*
 * Packet builder. Appends to a growable byte array that it owns (release
 * with my_out_free). Any allocation failure or misuse sets `failed`, after
 * which every call is a no-op, so a caller checks once at the end.
 */
struct my_out {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t pkt_start; /* offset of the open packet's header, or SIZE_MAX */
    uint8_t seq;      /* id of the open packet; after my_out_end, the next free id */
    bool failed;
};

void my_out_init(struct my_out *o);
void my_out_free(struct my_out *o);
/* Forget the content, keep the allocation. */
void my_out_reset(struct my_out *o);

/* Opens a packet with sequence id seq (header patched by my_out_end). */
void my_out_begin(struct my_out *o, uint8_t seq);
/*
 * Closes the open packet: patches its length. A payload of 0xFFFFFF bytes
 * or more is split into several packets of 0xFFFFFF bytes with consecutive
 * sequence ids (wrapping at 256), ending with a shorter (possibly empty)
 * packet. Afterwards o->seq is the id the next packet of the exchange uses.
 */
void my_out_end(struct my_out *o);
void my_out_int1(struct my_out *o, uint8_t v);
void my_out_int2(struct my_out *o, uint16_t v);
void my_out_int3(struct my_out *o, uint32_t v); /* v must be below 2^24, else failed */
void my_out_int4(struct my_out *o, uint32_t v);
void my_out_int8(struct my_out *o, uint64_t v);
/* Length-encoded integer: 1, 3, 4 or 9 bytes. */
void my_out_lenenc(struct my_out *o, uint64_t v);
/* Length-encoded string: lenenc length then the bytes. */
void my_out_lenenc_str(struct my_out *o, const void *p, size_t n);
/* A C string including its terminating NUL; NULL sets failed. */
void my_out_str(struct my_out *o, const char *s);
void my_out_bytes(struct my_out *o, const void *p, size_t n);

/*
 * Whole packets, each with sequence id seq.
 * ERR: 0xFF, error code, '#' + 5-character sqlstate, message printf-like.
 */
void my_out_err(struct my_out *o, uint8_t seq, uint16_t code, const char *sqlstate, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
void my_out_verr(struct my_out *o, uint8_t seq, uint16_t code, const char *sqlstate,
                 const char *fmt, va_list ap);
/*
 * OK: 0x00, affected rows, last insert id, status flags, warnings. When info
 * is not NULL it follows: as a lenenc string if caps has CLIENT_SESSION_TRACK,
 * else as the rest of the packet. (No session-state block is ever written.)
 */
void my_out_ok(struct my_out *o, uint8_t seq, uint64_t caps, uint64_t affected_rows,
               uint64_t insert_id, uint16_t status, uint16_t warnings, const char *info);
/* EOF (protocol 4.1): 0xFE, warnings, status flags. */
void my_out_eof(struct my_out *o, uint8_t seq, uint16_t warnings, uint16_t status);

/*
 * Field reader over one payload. Reads past the end set `failed` and return
 * zero values / NULL; check `failed` (or my_in_done) once at the end. The
 * reader never owns the payload; returned pointers point into it.
 */
struct my_in {
    const uint8_t *p;
    const uint8_t *end;
    bool failed;
};

static inline void my_in_init(struct my_in *in, const void *payload, size_t len)
{
    in->p = payload;
    in->end = len ? (const uint8_t *)payload + len : in->p; /* NULL + 0 is undefined in C */
    in->failed = false;
}

static inline size_t my_in_left(const struct my_in *in)
{
    return in->failed ? 0 : (size_t)(in->end - in->p);
}

uint8_t my_in_int1(struct my_in *in);
uint16_t my_in_int2(struct my_in *in);
uint32_t my_in_int3(struct my_in *in);
uint32_t my_in_int4(struct my_in *in);
uint64_t my_in_int8(struct my_in *in);
/*
 * Length-encoded integer. The NULL marker 0xFB returns 0 and sets *is_null
 * (is_null may be NULL, then 0xFB fails); 0xFF is not a valid first byte and
 * fails. *is_null is false for every other value.
 */
uint64_t my_in_lenenc(struct my_in *in, bool *is_null);
/*
 * Length-encoded string: returns a pointer to its bytes and sets *len, or
 * NULL (and failed) when the length is NULL, invalid or runs past the end.
 * An empty string returns a non-NULL pointer and *len 0.
 */
const uint8_t *my_in_lenenc_str(struct my_in *in, size_t *len);
/* A NUL-terminated string inside the payload; NULL (and failed) if unterminated. */
const char *my_in_str(struct my_in *in);
/* n raw bytes; NULL (and failed) if fewer remain. */
const uint8_t *my_in_bytes(struct my_in *in, size_t n);
/* Everything left (possibly nothing; then a non-NULL pointer and *len 0). */
const uint8_t *my_in_rest(struct my_in *in, size_t *len);
/* True when every byte was consumed and nothing failed. */
static inline bool my_in_done(const struct my_in *in)
{
    return !in->failed && in->p == in->end;
}

/* Fields of an ERR packet, pointing into the payload. */
struct my_err {
    uint16_t code;
    const char *sqlstate; /* 5 characters, not NUL-terminated; NULL when absent (pre-4.1) */
    const char *message;  /* not NUL-terminated */
    size_t message_len;
};

/*
 * Parses an ERR payload (first byte 0xFF). WR_OK or WR_ERROR (not an ERR
 * packet, or shorter than its 3-byte head). The sqlstate is taken only when
 * the message starts with '#' and 5 more bytes follow.
 */
int my_err_parse(const uint8_t *payload, size_t len, struct my_err *out) WR_MUST_CHECK;

/*
 * Parses a 4.1 EOF payload: exactly 0xFE, warnings, status (5 bytes).
 * WR_OK or WR_ERROR.
 */
int my_eof_parse(const uint8_t *payload, size_t len, uint16_t *warnings,
                 uint16_t *status) WR_MUST_CHECK;

#endif
