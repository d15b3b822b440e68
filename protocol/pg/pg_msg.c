/* pg_msg.c -- PostgreSQL v3 message framing: header peek, builder, field reader. */
#include "protocol/pg/pg_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL lengths are int32; a message longer than this cannot be framed. */
#define PG_MSG_MAX_LEN 0x7fffffffu

int pg_msg_peek(const uint8_t *buf, size_t len, uint32_t max_body, char *type, uint32_t *body_len)
{
    if (len < PG_HDR_LEN)
        return WR_AGAIN;
    uint32_t mlen = pg_get32(buf + 1);
    if (mlen < 4 || mlen - 4 > max_body)
        return WR_ERROR;
    *type = (char)buf[0];
    *body_len = mlen - 4;
    return WR_OK;
}

const char *pg_frontend_check(char type, uint32_t body_len)
{
    switch (type) {
    case 'S': /* Sync */
    case 'H': /* Flush */
    case 'X': /* Terminate */
    case 'c': /* CopyDone */
        return body_len == 0 ? NULL : "invalid message format";
    case 'Q': /* Query: at least the terminating NUL */
    case 'f': /* CopyFail */
        return body_len >= 1 ? NULL : "invalid message format";
    case 'C': /* Close, Describe: a kind byte and a name */
    case 'D':
        return body_len >= 2 ? NULL : "invalid message format";
    case 'E': /* Execute: a portal name and a row limit */
        return body_len >= 5 ? NULL : "invalid message format";
    case 'P': /* Parse: two names and a parameter count */
        return body_len >= 4 ? NULL : "invalid message format";
    case 'B': /* Bind: two names and three counts */
        return body_len >= 8 ? NULL : "invalid message format";
    case 'F': /* FunctionCall: an oid and three counts */
        return body_len >= 10 ? NULL : "invalid message format";
    case 'd': /* CopyData */
        return NULL;
    default:
        return "invalid frontend message type";
    }
}

void pg_out_init(struct pg_out *o)
{
    o->data = NULL;
    o->len = 0;
    o->cap = 0;
    o->msg_start = SIZE_MAX;
    o->failed = false;
}

void pg_out_free(struct pg_out *o)
{
    free(o->data);
    pg_out_init(o);
}

void pg_out_reset(struct pg_out *o)
{
    o->len = 0;
    o->msg_start = SIZE_MAX;
    o->failed = false;
}

/* Makes room for n more bytes; returns where they go, or NULL (and failed). */
static uint8_t *out_reserve(struct pg_out *o, size_t n)
{
    if (o->failed)
        return NULL;
    if (n > PG_MSG_MAX_LEN || o->len > SIZE_MAX - n) {
        o->failed = true;
        return NULL;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n) {
            if (cap > SIZE_MAX / 2) {
                o->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *d = realloc(o->data, cap);
        if (d == NULL) {
            o->failed = true;
            return NULL;
        }
        o->data = d;
        o->cap = cap;
    }
    return o->data + o->len;
}

void pg_out_bytes(struct pg_out *o, const void *p, size_t n)
{
    uint8_t *dst = out_reserve(o, n);
    if (dst == NULL)
        return;
    if (n)
        memcpy(dst, p, n);
    o->len += n;
}

void pg_out_byte(struct pg_out *o, uint8_t v)
{
    pg_out_bytes(o, &v, 1);
}

void pg_out_int16(struct pg_out *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    pg_out_bytes(o, b, 2);
}

void pg_out_int32(struct pg_out *o, uint32_t v)
{
    uint8_t b[4];
    pg_put32(b, v);
    pg_out_bytes(o, b, 4);
}

void pg_out_str(struct pg_out *o, const char *s)
{
    if (s == NULL) {
        o->failed = true;
        return;
    }
    pg_out_bytes(o, s, strlen(s) + 1);
}

void pg_out_begin(struct pg_out *o, char type)
{
    if (o->failed)
        return;
    if (o->msg_start != SIZE_MAX) { /* a message is already open */
        o->failed = true;
        return;
    }
    if (type != 0)
        pg_out_byte(o, (uint8_t)type);
    size_t at = o->len;
    pg_out_int32(o, 0); /* patched by pg_out_end */
    if (!o->failed)
        o->msg_start = at;
}

void pg_out_end(struct pg_out *o)
{
    if (o->failed)
        return;
    if (o->msg_start == SIZE_MAX) {
        o->failed = true;
        return;
    }
    size_t mlen = o->len - o->msg_start;
    if (mlen > PG_MSG_MAX_LEN) {
        o->failed = true;
        return;
    }
    pg_put32(o->data + o->msg_start, (uint32_t)mlen);
    o->msg_start = SIZE_MAX;
}

/* Appends printf output plus its NUL, formatting straight into the buffer. */
static void out_vprintf(struct pg_out *o, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        o->failed = true;
        return;
    }
    uint8_t *dst = out_reserve(o, (size_t)n + 1);
    if (dst == NULL)
        return;
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    o->len += (size_t)n + 1;
}

static void out_fields_head(struct pg_out *o, char type, const char *severity, const char *sqlstate)
{
    pg_out_begin(o, type);
    pg_out_byte(o, 'S');
    pg_out_str(o, severity);
    pg_out_byte(o, 'V');
    pg_out_str(o, severity);
    pg_out_byte(o, 'C');
    pg_out_str(o, sqlstate);
    pg_out_byte(o, 'M');
}

void pg_out_verror(struct pg_out *o, const char *severity, const char *sqlstate, const char *fmt,
                   va_list ap)
{
    out_fields_head(o, 'E', severity, sqlstate);
    out_vprintf(o, fmt, ap);
    pg_out_byte(o, 0);
    pg_out_end(o);
}

void pg_out_error(struct pg_out *o, const char *severity, const char *sqlstate, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    pg_out_verror(o, severity, sqlstate, fmt, ap);
    va_end(ap);
}

void pg_out_notice(struct pg_out *o, const char *severity, const char *sqlstate, const char *msg)
{
    out_fields_head(o, 'N', severity, sqlstate);
    pg_out_str(o, msg);
    pg_out_byte(o, 0);
    pg_out_end(o);
}

void pg_out_auth(struct pg_out *o, uint32_t code, const void *extra, size_t extra_len)
{
    pg_out_begin(o, 'R');
    pg_out_int32(o, code);
    pg_out_bytes(o, extra, extra_len);
    pg_out_end(o);
}

void pg_out_param_status(struct pg_out *o, const char *name, const char *value)
{
    pg_out_begin(o, 'S');
    pg_out_str(o, name);
    pg_out_str(o, value);
    pg_out_end(o);
}

void pg_out_backend_key(struct pg_out *o, uint32_t pid, uint32_t key)
{
    pg_out_begin(o, 'K');
    pg_out_int32(o, pid);
    pg_out_int32(o, key);
    pg_out_end(o);
}

void pg_out_negotiate_version(struct pg_out *o, uint32_t minor, const char *const *options,
                              int noptions)
{
    pg_out_begin(o, 'v');
    pg_out_int32(o, minor);
    pg_out_int32(o, (uint32_t)noptions);
    for (int i = 0; i < noptions; i++)
        pg_out_str(o, options[i]);
    pg_out_end(o);
}

void pg_out_ready(struct pg_out *o, char status)
{
    pg_out_begin(o, 'Z');
    pg_out_byte(o, (uint8_t)status);
    pg_out_end(o);
}

void pg_out_query(struct pg_out *o, const char *sql)
{
    pg_out_begin(o, 'Q');
    pg_out_str(o, sql);
    pg_out_end(o);
}

void pg_out_terminate(struct pg_out *o)
{
    pg_out_begin(o, 'X');
    pg_out_end(o);
}

void pg_out_sync(struct pg_out *o)
{
    pg_out_begin(o, 'S');
    pg_out_end(o);
}

void pg_out_copy_fail(struct pg_out *o, const char *msg)
{
    pg_out_begin(o, 'f');
    pg_out_str(o, msg);
    pg_out_end(o);
}

void pg_out_cancel_request(struct pg_out *o, uint32_t pid, uint32_t key)
{
    pg_out_begin(o, 0);
    pg_out_int32(o, 80877102u); /* 1234 << 16 | 5678, as PG_CODE_CANCEL */
    pg_out_int32(o, pid);
    pg_out_int32(o, key);
    pg_out_end(o);
}

/* Returns n bytes at the cursor and advances, or NULL (and failed) if fewer remain. */
const uint8_t *pg_in_bytes(struct pg_in *in, size_t n)
{
    if (in->failed || (size_t)(in->end - in->p) < n) {
        in->failed = true;
        return NULL;
    }
    const uint8_t *r = in->p;
    in->p += n;
    return r;
}

uint8_t pg_in_byte(struct pg_in *in)
{
    const uint8_t *p = pg_in_bytes(in, 1);
    return p ? p[0] : 0;
}

uint16_t pg_in_int16(struct pg_in *in)
{
    const uint8_t *p = pg_in_bytes(in, 2);
    return p ? pg_get16(p) : 0;
}

uint32_t pg_in_int32(struct pg_in *in)
{
    const uint8_t *p = pg_in_bytes(in, 4);
    return p ? pg_get32(p) : 0;
}

const char *pg_in_str(struct pg_in *in)
{
    if (in->failed || in->p == in->end) {
        in->failed = true;
        return NULL;
    }
    const uint8_t *nul = memchr(in->p, 0, (size_t)(in->end - in->p));
    if (nul == NULL) {
        in->failed = true;
        return NULL;
    }
    const char *s = (const char *)in->p;
    in->p = nul + 1;
    return s;
}

int pg_error_parse(const uint8_t *body, size_t len, struct pg_error_fields *out)
{
    struct pg_in in;
    const char *sev_s = NULL, *sev_v = NULL;

    pg_in_init(&in, body, len);
    out->severity = out->sqlstate = out->message = out->detail = NULL;
    for (;;) {
        uint8_t code = pg_in_byte(&in);
        if (in.failed)
            return WR_ERROR; /* no terminator */
        if (code == 0)
            break;
        const char *v = pg_in_str(&in);
        if (v == NULL)
            return WR_ERROR;
        switch (code) {
        case 'S':
            sev_s = v;
            break;
        case 'V':
            sev_v = v;
            break;
        case 'C':
            out->sqlstate = v;
            break;
        case 'M':
            out->message = v;
            break;
        case 'D':
            out->detail = v;
            break;
        default: /* other fields (hint, position, ...) are not needed here */
            break;
        }
    }
    out->severity = sev_v ? sev_v : sev_s;
    /* The terminator must be the last byte; S, C and M are always sent. */
    if (!pg_in_done(&in) || out->severity == NULL || out->sqlstate == NULL || out->message == NULL)
        return WR_ERROR;
    return WR_OK;
}
