/*
 * http_req.h -- HTTP/1.x request heads (RFC 9112 request line and header
 * fields), parsed strictly enough for weir's /metrics endpoint.
 *
 * The parser is resumable: call it again on the whole buffer as bytes
 * arrive. It says WR_ERROR as early as the bytes so far can no longer start a
 * valid head, so a client speaking another protocol is answered at once.
 */
#ifndef WEIR_HTTP_REQ_H
#define WEIR_HTTP_REQ_H

#include <stddef.h>

#include "protocol/result.h"

struct http_req {
    const char *method; /* a token, e.g. "GET"; points into the buffer, not NUL-terminated */
    size_t method_len;
    const char *target; /* the request target as sent: path, then maybe '?' and a query */
    size_t target_len;
    size_t path_len; /* target bytes before the '?' (or all of them) */
    int minor;       /* HTTP/1.<minor> */
    size_t head_len; /* bytes of the head, the empty line included */
};

/*
 * Parses the request head at the start of buf[0..len). Returns WR_OK with *req
 * filled (pointers into buf) once the empty line that ends the head is in,
 * WR_AGAIN while the bytes so far may still become a valid head, WR_ERROR
 * when they cannot. Line ends may be CRLF or a bare LF; header values are not
 * interpreted, and folded (obsolete continuation) lines are refused.
 */
int http_req_parse(const char *buf, size_t len, struct http_req *req) WR_MUST_CHECK;

#endif
