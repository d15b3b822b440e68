/* proxy_hdr.c -- PROXY protocol v1 and v2 headers (see proxy_hdr.h). */
#include "protocol/proxy/proxy_hdr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_sig[PROXY_V2_SIGLEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY "; /* 6 bytes */

/* v2 families and transports (high and low nibble of byte 13). */
enum { V2_AF_UNSPEC = 0, V2_AF_INET = 1, V2_AF_INET6 = 2, V2_AF_UNIX = 3 };
enum { V2_UNSPEC = 0, V2_STREAM = 1, V2_DGRAM = 2 };

/* Address block sizes of each v2 family: 2 addresses, 2 ports. */
#define V2_INET_LEN  12
#define V2_INET6_LEN 36
#define V2_UNIX_LEN  216

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return WR_ERROR;
}

bool proxy_hdr_looks_like(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return false;
    size_t n1 = len < 6 ? len : 6, n2 = len < PROXY_V2_SIGLEN ? len : PROXY_V2_SIGLEN;
    return !memcmp(buf, v1_sig, n1) || !memcmp(buf, v2_sig, n2);
}

/* ---- version 1: one text line ---- */

/* A port: decimal, 0..65535, no leading zero. */
static bool v1_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* The line is line[0..n) without its CRLF. */
static int v1_line(const char *line, size_t n, struct proxy_hdr *out, char *err, size_t errlen)
{
    out->version = 1;
    out->cmd = PROXY_CMD_PROXY;
    if (n >= 13 && !memcmp(line, "PROXY UNKNOWN", 13) && (n == 13 || line[13] == ' ')) {
        /* The sender could not say: the spec has the receiver ignore the rest of the line. */
        out->family = PROXY_FAM_NONE;
        return WR_OK;
    }
    char copy[PROXY_V1_MAX + 1];
    memcpy(copy, line, n);
    copy[n] = '\0';
    char *tok[7];
    int ntok = 0;
    char *p = copy;
    /* Single spaces between words: an empty word (two spaces, a trailing space) is an error. */
    for (;;) {
        char *sp = strchr(p, ' ');
        if (ntok == 7)
            return fail(err, errlen, "PROXY v1 header with too many fields");
        tok[ntok++] = p;
        if (!sp)
            break;
        *sp = '\0';
        p = sp + 1;
    }
    for (int i = 0; i < ntok; i++)
        if (!tok[i][0])
            return fail(err, errlen, "PROXY v1 header with an empty field (two spaces)");
    if (ntok != 6)
        return fail(err, errlen, "PROXY v1 header without its 6 fields");
    int af;
    if (!strcmp(tok[1], "TCP4")) {
        af = AF_INET;
        out->family = PROXY_FAM_INET;
    } else if (!strcmp(tok[1], "TCP6")) {
        af = AF_INET6;
        out->family = PROXY_FAM_INET6;
    } else {
        return fail(err, errlen, "PROXY v1 header: the protocol is not TCP4, TCP6 or UNKNOWN");
    }
    /* inet_pton refuses IPv4 numbers with a leading zero (octal lookalikes), as the spec asks. */
    if (inet_pton(af, tok[2], out->src) != 1 || inet_pton(af, tok[3], out->dst) != 1)
        return fail(err, errlen,
                    af == AF_INET ? "PROXY v1 header: bad IPv4 address"
                                  : "PROXY v1 header: bad IPv6 address");
    if (!v1_port(tok[4], &out->src_port) || !v1_port(tok[5], &out->dst_port))
        return fail(err, errlen, "PROXY v1 header: bad port");
    return WR_OK;
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxy_hdr *out, char *err, size_t errlen)
{
    size_t n = len < sizeof(v1_sig) - 1 ? len : sizeof(v1_sig) - 1;
    if (memcmp(buf, v1_sig, n))
        return fail(err, errlen, "not a PROXY protocol header");
    /* The CR comes at byte 106 at the latest, so that the line with its LF is 107 bytes. */
    size_t lim = len < PROXY_V1_MAX - 1 ? len : PROXY_V1_MAX - 1;
    for (size_t i = n; i < lim; i++) {
        uint8_t ch = buf[i];
        if (ch == '\r') {
            if (i + 1 == len)
                return WR_AGAIN;
            if (buf[i + 1] != '\n')
                return fail(err, errlen, "PROXY v1 header: CR without LF");
            memset(out, 0, sizeof(*out));
            out->len = i + 2;
            return v1_line((const char *)buf, i, out, err, errlen);
        }
        /* Letters, digits, '.', ':' and spaces: anything else cannot be part of the line. */
        bool good = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= 'a' && ch <= 'z') || ch == '.' || ch == ':' || ch == ' ';
        if (!good)
            return fail(err, errlen, "PROXY v1 header: unexpected byte before its CRLF");
    }
    if (len >= PROXY_V1_MAX - 1)
        return fail(err, errlen, "PROXY v1 header longer than 107 bytes");
    return WR_AGAIN;
}

/* ---- version 2: binary ---- */

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_hdr *out, char *err, size_t errlen)
{
    size_t n = len < PROXY_V2_SIGLEN ? len : PROXY_V2_SIGLEN;
    if (memcmp(buf, v2_sig, n))
        return fail(err, errlen, "not a PROXY protocol header");
    if (len > 12) {
        if (buf[12] >> 4 != 2)
            return fail(err, errlen, "PROXY v2 header with a version other than 2");
        if ((buf[12] & 0x0f) > PROXY_CMD_PROXY)
            return fail(err, errlen, "PROXY v2 header with an unknown command");
    }
    if (len > 13 && (buf[13] >> 4 > V2_AF_UNIX || (buf[13] & 0x0f) > V2_DGRAM))
        return fail(err, errlen, "PROXY v2 header with an unknown address family or transport");
    if (len < PROXY_V2_HDR)
        return WR_AGAIN;
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (PROXY_V2_HDR + body > PROXY_V2_MAX) {
        snprintf(err, errlen, "PROXY v2 header of %zu bytes (at most %d)", PROXY_V2_HDR + body,
                 PROXY_V2_MAX);
        return WR_ERROR;
    }
    if (len < PROXY_V2_HDR + body)
        return WR_AGAIN;
    memset(out, 0, sizeof(*out));
    out->version = 2;
    out->len = PROXY_V2_HDR + body;
    out->cmd = buf[12] & 0x0f;
    if (out->cmd == PROXY_CMD_LOCAL)
        return WR_OK; /* the spec: ignore the address block and whatever follows it */
    int fam = buf[13] >> 4, transport = buf[13] & 0x0f;
    const uint8_t *p = buf + PROXY_V2_HDR;
    size_t alen = 0;
    if (fam == V2_AF_INET || fam == V2_AF_INET6) {
        if (transport != V2_STREAM)
            return fail(err, errlen, "PROXY v2 header for a connection that is not TCP");
        alen = fam == V2_AF_INET ? V2_INET_LEN : V2_INET6_LEN;
        if (body < alen)
            return fail(err, errlen, "PROXY v2 header too short for its addresses");
        size_t al = fam == V2_AF_INET ? 4 : 16;
        memcpy(out->src, p, al);
        memcpy(out->dst, p + al, al);
        out->src_port = (uint16_t)(p[2 * al] << 8 | p[2 * al + 1]);
        out->dst_port = (uint16_t)(p[2 * al + 2] << 8 | p[2 * al + 3]);
        out->family = fam == V2_AF_INET ? PROXY_FAM_INET : PROXY_FAM_INET6;
    } else if (fam == V2_AF_UNIX) {
        alen = V2_UNIX_LEN;
        if (body < alen)
            return fail(err, errlen, "PROXY v2 header too short for its addresses");
    }
    /* TLVs: type, 16-bit length, value; each must end inside the header. */
    for (size_t off = alen; off < body;) {
        if (body - off < 3)
            return fail(err, errlen, "PROXY v2 header: a TLV cut short");
        size_t tlen = (size_t)p[off + 1] << 8 | p[off + 2];
        if (tlen > body - off - 3)
            return fail(err, errlen, "PROXY v2 header: a TLV longer than the header");
        off += 3 + tlen;
    }
    return WR_OK;
}

int proxy_hdr_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out, char *err, size_t errlen)
{
    if (len == 0)
        return WR_AGAIN;
    if (buf[0] == v1_sig[0])
        return parse_v1(buf, len, out, err, errlen);
    if (buf[0] == v2_sig[0])
        return parse_v2(buf, len, out, err, errlen);
    return fail(err, errlen, "not a PROXY protocol header");
}
