/* my_packet.c -- MySQL packet framing: header peek, splitting builder, field reader, ERR/OK/EOF. */
#include "protocol/mysql/my_packet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_handshake.h"

int my_pkt_peek(const uint8_t *buf, size_t len, uint32_t *payload_len, uint8_t *seq)
{
    if (len < MY_HDR_LEN)
        return WR_AGAIN;
    *payload_len = my_get24(buf);
    *seq = buf[3];
    return WR_OK;
}

void my_out_init(struct my_out *o)
{
    o->data = NULL;
    o->len = 0;
    o->cap = 0;
    o->pkt_start = SIZE_MAX;
    o->seq = 0;
    o->failed = false;
}

void my_out_free(struct my_out *o)
{
    free(o->data);
    my_out_init(o);
}

void my_out_reset(struct my_out *o)
{
    o->len = 0;
    o->pkt_start = SIZE_MAX;
    o->seq = 0;
    o->failed = false;
}

/* Makes room for n more bytes; returns where they go, or NULL (and failed). */
static uint8_t *out_reserve(struct my_out *o, size_t n)
{
    if (o->failed)
        return NULL;
    if (n > SIZE_MAX / 4 ||
        o->len > SIZE_MAX / 4 - n) { /* keeps the doubling below from overflowing */
        o->failed = true;
        return NULL;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
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

void my_out_bytes(struct my_out *o, const void *p, size_t n)
{
    uint8_t *dst = out_reserve(o, n);
    if (dst == NULL)
        return;
    if (n)
        memcpy(dst, p, n);
    o->len += n;
}

static void out_le(struct my_out *o, uint64_t v, int n)
{
    uint8_t b[8];
    my_put_le(b, v, n);
    my_out_bytes(o, b, (size_t)n);
}

void my_out_int1(struct my_out *o, uint8_t v)
{
    my_out_bytes(o, &v, 1);
}

void my_out_int2(struct my_out *o, uint16_t v)
{
    out_le(o, v, 2);
}

void my_out_int3(struct my_out *o, uint32_t v)
{
    if (v > 0xFFFFFFu) {
        o->failed = true;
        return;
    }
    out_le(o, v, 3);
}

void my_out_int4(struct my_out *o, uint32_t v)
{
    out_le(o, v, 4);
}

void my_out_int8(struct my_out *o, uint64_t v)
{
    out_le(o, v, 8);
}

void my_out_lenenc(struct my_out *o, uint64_t v)
{
    if (v < 0xFB) {
        my_out_int1(o, (uint8_t)v);
    } else if (v <= 0xFFFF) {
        my_out_int1(o, 0xFC);
        out_le(o, v, 2);
    } else if (v <= 0xFFFFFF) {
        my_out_int1(o, 0xFD);
        out_le(o, v, 3);
    } else {
        my_out_int1(o, 0xFE);
        out_le(o, v, 8);
    }
}

void my_out_lenenc_str(struct my_out *o, const void *p, size_t n)
{
    my_out_lenenc(o, n);
    my_out_bytes(o, p, n);
}

void my_out_str(struct my_out *o, const char *s)
{
    if (s == NULL) {
        o->failed = true;
        return;
    }
    my_out_bytes(o, s, strlen(s) + 1);
}

void my_out_begin(struct my_out *o, uint8_t seq)
{
    if (o->failed)
        return;
    if (o->pkt_start != SIZE_MAX) { /* a packet is already open */
        o->failed = true;
        return;
    }
    size_t at = o->len;
    out_le(o, 0, MY_HDR_LEN); /* patched by my_out_end */
    if (!o->failed) {
        o->pkt_start = at;
        o->seq = seq;
    }
}

static void put_header(uint8_t *p, uint32_t len, uint8_t seq)
{
    my_put_le(p, len, 3);
    p[3] = seq;
}

void my_out_end(struct my_out *o)
{
    if (o->failed)
        return;
    if (o->pkt_start == SIZE_MAX) {
        o->failed = true;
        return;
    }
    size_t body = o->pkt_start + MY_HDR_LEN;
    size_t plen = o->len - body;
    /* Always plen / MAX + 1 packets: a multiple of MAX ends with an empty one. */
    size_t npkt = plen / MY_MAX_PAYLOAD + 1;
    size_t extra = (npkt - 1) * MY_HDR_LEN;
    if (extra && out_reserve(o, extra) == NULL)
        return;
    /*
     * Move the chunks into place from the last to the first, so that no
     * chunk is overwritten before it has moved; the first chunk stays.
     */
    for (size_t i = npkt - 1; i > 0; i--) {
        size_t src = body + i * MY_MAX_PAYLOAD;
        size_t n = i == npkt - 1 ? plen - i * MY_MAX_PAYLOAD : MY_MAX_PAYLOAD;
        size_t dst = o->pkt_start + i * (MY_HDR_LEN + MY_MAX_PAYLOAD);
        memmove(o->data + dst + MY_HDR_LEN, o->data + src, n);
        put_header(o->data + dst, (uint32_t)n, (uint8_t)(o->seq + i));
    }
    put_header(o->data + o->pkt_start, npkt > 1 ? MY_MAX_PAYLOAD : (uint32_t)plen, o->seq);
    o->len += extra;
    o->seq = (uint8_t)(o->seq + npkt);
    o->pkt_start = SIZE_MAX;
}

void my_out_verr(struct my_out *o, uint8_t seq, uint16_t code, const char *sqlstate,
                 const char *fmt, va_list ap)
{
    if (sqlstate == NULL || strlen(sqlstate) != MY_SQLSTATE_LEN) {
        o->failed = true;
        return;
    }
    my_out_begin(o, seq);
    my_out_int1(o, MY_ERR_HEADER);
    my_out_int2(o, code);
    my_out_int1(o, '#');
    my_out_bytes(o, sqlstate, MY_SQLSTATE_LEN);

    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        o->failed = true;
        return;
    }
    /* vsnprintf writes a NUL after the message; it is reserved but not counted. */
    uint8_t *dst = out_reserve(o, (size_t)n + 1);
    if (dst == NULL)
        return;
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    o->len += (size_t)n;
    my_out_end(o);
}

void my_out_err(struct my_out *o, uint8_t seq, uint16_t code, const char *sqlstate, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    my_out_verr(o, seq, code, sqlstate, fmt, ap);
    va_end(ap);
}

void my_out_ok(struct my_out *o, uint8_t seq, uint64_t caps, uint64_t affected_rows,
               uint64_t insert_id, uint16_t status, uint16_t warnings, const char *info)
{
    my_out_begin(o, seq);
    my_out_int1(o, MY_OK_HEADER);
    my_out_lenenc(o, affected_rows);
    my_out_lenenc(o, insert_id);
    my_out_int2(o, status);
    my_out_int2(o, warnings);
    if (info != NULL) {
        if (caps & CLIENT_SESSION_TRACK)
            my_out_lenenc_str(o, info, strlen(info));
        else
            my_out_bytes(o, info, strlen(info));
    }
    my_out_end(o);
}

void my_out_eof(struct my_out *o, uint8_t seq, uint16_t warnings, uint16_t status)
{
    my_out_begin(o, seq);
    my_out_int1(o, MY_EOF_HEADER);
    my_out_int2(o, warnings);
    my_out_int2(o, status);
    my_out_end(o);
}

const uint8_t *my_in_bytes(struct my_in *in, size_t n)
{
    if (in->failed || (size_t)(in->end - in->p) < n) {
        in->failed = true;
        return NULL;
    }
    const uint8_t *r = in->p;
    in->p += n;
    return r;
}

uint8_t my_in_int1(struct my_in *in)
{
    const uint8_t *p = my_in_bytes(in, 1);
    return p ? p[0] : 0;
}

uint16_t my_in_int2(struct my_in *in)
{
    const uint8_t *p = my_in_bytes(in, 2);
    return p ? my_get16(p) : 0;
}

uint32_t my_in_int3(struct my_in *in)
{
    const uint8_t *p = my_in_bytes(in, 3);
    return p ? my_get24(p) : 0;
}

uint32_t my_in_int4(struct my_in *in)
{
    const uint8_t *p = my_in_bytes(in, 4);
    return p ? my_get32(p) : 0;
}

uint64_t my_in_int8(struct my_in *in)
{
    const uint8_t *p = my_in_bytes(in, 8);
    return p ? my_get64(p) : 0;
}

uint64_t my_in_lenenc(struct my_in *in, bool *is_null)
{
    if (is_null != NULL)
        *is_null = false;
    uint8_t b = my_in_int1(in);
    if (in->failed)
        return 0;
    switch (b) {
    case 0xFB:
        if (is_null == NULL) {
            in->failed = true;
            return 0;
        }
        *is_null = true;
        return 0;
    case 0xFC:
        return my_in_int2(in);
    case 0xFD:
        return my_in_int3(in);
    case 0xFE:
        return my_in_int8(in);
    case 0xFF:
        in->failed = true;
        return 0;
    default:
        return b;
    }
}

const uint8_t *my_in_lenenc_str(struct my_in *in, size_t *len)
{
    *len = 0;
    uint64_t n = my_in_lenenc(in, NULL);
    if (in->failed)
        return NULL;
    if (n > (uint64_t)(in->end - in->p)) {
        in->failed = true;
        return NULL;
    }
    *len = (size_t)n;
    return my_in_bytes(in, (size_t)n);
}

const char *my_in_str(struct my_in *in)
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

const uint8_t *my_in_rest(struct my_in *in, size_t *len)
{
    *len = my_in_left(in);
    return my_in_bytes(in, *len);
}

int my_err_parse(const uint8_t *payload, size_t len, struct my_err *out)
{
    struct my_in in;
    my_in_init(&in, payload, len);
    if (my_in_int1(&in) != MY_ERR_HEADER)
        return WR_ERROR;
    out->code = my_in_int2(&in);
    if (in.failed)
        return WR_ERROR;
    out->sqlstate = NULL;
    if (my_in_left(&in) >= 1 + MY_SQLSTATE_LEN && in.p[0] == '#') {
        out->sqlstate = (const char *)in.p + 1;
        in.p += 1 + MY_SQLSTATE_LEN;
    }
    out->message = (const char *)my_in_rest(&in, &out->message_len);
    return WR_OK;
}

int my_eof_parse(const uint8_t *payload, size_t len, uint16_t *warnings, uint16_t *status)
{
    if (len != 5 || payload[0] != MY_EOF_HEADER)
        return WR_ERROR;
    *warnings = my_get16(payload + 1);
    *status = my_get16(payload + 3);
    return WR_OK;
}
