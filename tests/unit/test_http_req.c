/* test_http_req.c -- unit tests of the HTTP/1.x request-head parser and of label escaping. */
#include <stdio.h>
#include <string.h>

#include "pooler/admin/metrics.h"
#include "protocol/http/http_req.h"
#include "tests/tap.h"

static int parse(const char *s, struct http_req *r)
{
    return http_req_parse(s, strlen(s), r);
}

/* Every proper prefix of a complete head must ask for more, never fail or succeed. */
static bool prefixes_again(const char *s)
{
    struct http_req r;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (http_req_parse(s, i, &r) != WR_AGAIN)
            return false;
    return true;
}

int main(void)
{
    no_plan();
    struct http_req r;
    const char *get = "GET /metrics?x=1 HTTP/1.1\r\nHost: h:9127\r\nAccept: */*\r\n\r\n";
    is_int(parse(get, &r), WR_OK, "a GET with headers");
    ok(r.method_len == 3 && !memcmp(r.method, "GET", 3), "method");
    ok(r.target_len == 12 && r.path_len == 8 && !memcmp(r.target, "/metrics", 8),
       "target and path without the query");
    is_int(r.minor, 1, "HTTP/1.1");
    is_int((int)r.head_len, (int)strlen(get), "head length up to the empty line");
    ok(prefixes_again(get), "every prefix of it: WR_AGAIN");

    const char *body = "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";
    is_int(parse(body, &r), WR_OK, "a POST with a body");
    is_int((int)r.head_len, (int)strlen(body) - 3, "the body is not part of the head");
    is_int(r.minor, 0, "HTTP/1.0");
    is_int(parse("GET / HTTP/1.0\n\n", &r), WR_OK, "bare LF line ends");
    ok(prefixes_again("GET / HTTP/1.0\n\n"), "... and its prefixes");
    is_int(parse("GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n", &r), WR_OK,
           "empty and tab-holding values");

    is_int(parse("", &r), WR_AGAIN, "nothing yet");
    is_int(parse("\x16\x03\x01\x02\x00", &r), WR_ERROR, "a TLS ClientHello at its first byte");
    is_int(parse(" GET / HTTP/1.1\r\n\r\n", &r), WR_ERROR, "a leading space");
    is_int(parse("GET\r\n\r\n", &r), WR_ERROR, "no target");
    is_int(parse("GET  / HTTP/1.1\r\n\r\n", &r), WR_ERROR, "two spaces");
    is_int(parse("GET / HTTP/2.0\r\n\r\n", &r), WR_ERROR, "HTTP/2");
    is_int(parse("GET / SPDY/3", &r), WR_ERROR, "not HTTP");
    is_int(parse("GET / HTTP/1.1 \r\n\r\n", &r), WR_ERROR, "a space after the version");
    is_int(parse("GET / HTTP/1.x\r\n", &r), WR_ERROR, "a version without a digit");
    is_int(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n", &r), WR_ERROR, "a header without a colon");
    is_int(parse("GET / HTTP/1.1\r\n folded\r\n\r\n", &r), WR_ERROR, "an obsolete folded line");
    is_int(parse("GET / HTTP/1.1\r\nA b: c\r\n\r\n", &r), WR_ERROR, "a space in a header name");
    is_int(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &r), WR_ERROR, "a lone CR");
    is_int(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", &r), WR_ERROR, "a control byte in a value");
    is_int(parse("GET /\x01 HTTP/1.1\r\n\r\n", &r), WR_ERROR, "a control byte in the target");
    is_int(parse("GET / HTTP/1.1\r\nHost: x\r\n", &r), WR_AGAIN, "no empty line yet");

    char buf[64] = "";
    ok(metrics_escape_label(buf, sizeof(buf), "a\"b\\c\nd") && !strcmp(buf, "a\\\"b\\\\c\\nd"),
       "label escaping: quote, backslash, newline (%s)", buf);
    char small[6] = "x";
    ok(!metrics_escape_label(small, sizeof(small), "\"\"\""), "label escaping reports no room");
    return done_testing();
}
