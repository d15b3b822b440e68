/* http_req.c -- a resumable, allocation-free HTTP/1.x request-head parser. */
#include "protocol/http/http_req.h"

#include <stdbool.h>
#include <string.h>

/* RFC 9110 tchar: the bytes of a method or a header field name. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int http_req_parse(const char *buf, size_t len, struct http_req *req)
{
    const char *p = buf, *end = buf + len;
    memset(req, 0, sizeof(*req));
    /* Request line: method SP target SP "HTTP/1." digit, then CRLF or LF. */
    const char *m = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        return WR_AGAIN;
    if (p == m || *p != ' ')
        return WR_ERROR;
    req->method = m;
    req->method_len = (size_t)(p - m);
    const char *t = ++p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == end)
        return WR_AGAIN;
    if (p == t || *p != ' ')
        return WR_ERROR;
    req->target = t;
    req->target_len = (size_t)(p - t);
    const char *q = memchr(t, '?', req->target_len);
    req->path_len = q ? (size_t)(q - t) : req->target_len;
    static const char ver[] = "HTTP/1.";
    for (size_t i = 0; i < sizeof(ver) - 1; i++) {
        if (++p >= end)
            return WR_AGAIN;
        if (*p != ver[i])
            return WR_ERROR;
    }
    if (++p >= end)
        return WR_AGAIN;
    if (*p < '0' || *p > '9')
        return WR_ERROR;
    req->minor = *p - '0';
    if (++p >= end)
        return WR_AGAIN;
    if (*p != '\r' && *p != '\n')
        return WR_ERROR;
    /*
     * Then header lines "name: value", up to an empty line. `colon` is true
     * once the current line's name has ended; the request line's is.
     */
    bool line_start = false, colon = true;
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r') {
            if (p + 1 < end && p[1] != '\n')
                return WR_ERROR; /* a CR alone */
            continue;
        }
        if (c == '\n') {
            if (!colon)
                return WR_ERROR; /* a header line without a colon */
            if (line_start) {
                req->head_len = (size_t)(p + 1 - buf);
                return WR_OK; /* the empty line */
            }
            line_start = true;
            continue;
        }
        if (line_start) {
            /* A header line starts with its name (not with a space: no folding). */
            if (!is_tchar(c))
                return WR_ERROR;
            line_start = false;
            colon = false;
            continue;
        }
        if (!colon && c == ':')
            colon = true;
        else if (!colon && !is_tchar(c))
            return WR_ERROR;
        else if (c < ' ' && c != '\t')
            return WR_ERROR; /* control bytes in a value */
        else if (c == 0x7f)
            return WR_ERROR;
    }
    return WR_AGAIN;
}
