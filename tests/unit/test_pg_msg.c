/* test_pg_msg.c -- unit tests of PostgreSQL message framing, builder and reader. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/pg/pg_msg.h"
#include "tests/tap.h"

/* Checks the builder holds exactly want[0..n) and has not failed; then resets it. */
static void is_bytes(struct pg_out *o, const void *want, size_t n, const char *name)
{
    int same = !o->failed && o->len == n && memcmp(o->data, want, n) == 0;
    if (!ok(same, "%s", name)) {
        diag("  failed=%d len=%zu want_len=%zu", o->failed, o->len, n);
        for (size_t i = 0; i < o->len; i++)
            diag("  [%zu] got 0x%02x want 0x%02x", i, o->data[i],
                 i < n ? ((const uint8_t *)want)[i] : 0);
    }
    pg_out_reset(o);
}

/* sizeof a string literal without its implicit trailing NUL */
#define LIT(s) s, sizeof(s) - 1

static void test_builders(void)
{
    struct pg_out o;
    pg_out_init(&o);

    pg_out_auth(&o, 0, NULL, 0);
    is_bytes(&o, LIT("R\0\0\0\x08\0\0\0\0"), "AuthenticationOk");

    uint8_t salt[4] = {1, 2, 3, 4};
    pg_out_auth(&o, 5, salt, 4);
    is_bytes(&o, LIT("R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04"), "AuthenticationMD5Password");

    pg_out_auth(&o, 10, LIT("SCRAM-SHA-256\0\0"));
    is_bytes(&o, LIT("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"), "AuthenticationSASL");

    pg_out_param_status(&o, "client_encoding", "UTF8");
    is_bytes(&o,
             LIT("S\0\0\0\x19"
                 "client_encoding\0UTF8\0"),
             "ParameterStatus");

    pg_out_backend_key(&o, 0x01020304, 0xa0b0c0d0);
    is_bytes(&o, LIT("K\0\0\0\x0c\x01\x02\x03\x04\xa0\xb0\xc0\xd0"), "BackendKeyData");

    pg_out_ready(&o, 'I');
    is_bytes(&o, LIT("Z\0\0\0\x05I"), "ReadyForQuery");

    pg_out_query(&o, "SELECT 1");
    is_bytes(&o, LIT("Q\0\0\0\x0dSELECT 1\0"), "Query");

    pg_out_terminate(&o);
    is_bytes(&o, LIT("X\0\0\0\x04"), "Terminate");

    pg_out_sync(&o);
    is_bytes(&o, LIT("S\0\0\0\x04"), "Sync");

    pg_out_copy_fail(&o, "no");
    is_bytes(&o, LIT("f\0\0\0\x07no\0"), "CopyFail");

    pg_out_cancel_request(&o, 7, 0xdeadbeef);
    is_bytes(&o, LIT("\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x07\xde\xad\xbe\xef"), "CancelRequest");

    pg_out_error(&o, "FATAL", "28P01", "password authentication failed for user \"%s\"", "bob");
    is_bytes(&o,
             LIT("E\0\0\0\x49"
                 "SFATAL\0VFATAL\0C28P01\0"
                 "Mpassword authentication failed for user \"bob\"\0\0"),
             "ErrorResponse");

    pg_out_notice(&o, "WARNING", "01000", "100%");
    is_bytes(&o, LIT("N\0\0\0\x24SWARNING\0VWARNING\0C01000\0M100%\0\0"),
             "NoticeResponse (message not a format)");

    /* Primitives and an untyped message. */
    pg_out_begin(&o, 0);
    pg_out_int32(&o, 196608);
    pg_out_str(&o, "user");
    pg_out_str(&o, "u");
    pg_out_byte(&o, 0);
    pg_out_int16(&o, 0x0102);
    pg_out_bytes(&o, "xy", 2);
    pg_out_end(&o);
    is_bytes(&o, LIT("\0\0\0\x14\0\x03\0\0user\0u\0\0\x01\x02xy"), "untyped message, primitives");

    /* Two messages back to back. */
    pg_out_sync(&o);
    pg_out_ready(&o, 'T');
    is_bytes(&o, LIT("S\0\0\0\x04Z\0\0\0\x05T"), "two messages appended");

    /* A long message makes the buffer grow. */
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pg_out_query(&o, big);
    ok(!o.failed && o.len == 5 + 5000 && pg_get32(o.data + 1) == 5004 && o.data[o.len - 1] == 0,
       "large Query grows the buffer");
    pg_out_reset(&o);

    /* Misuse is sticky. */
    pg_out_end(&o);
    ok(o.failed, "end without begin fails");
    pg_out_sync(&o);
    ok(o.failed && o.len == 0, "failed builder ignores further calls");
    pg_out_reset(&o);
    ok(!o.failed && o.len == 0, "reset clears failed");
    pg_out_begin(&o, 'Q');
    pg_out_begin(&o, 'Q');
    ok(o.failed, "nested begin fails");
    pg_out_reset(&o);
    pg_out_begin(&o, 'Q');
    pg_out_str(&o, NULL);
    pg_out_end(&o);
    ok(o.failed, "NULL string fails");

    pg_out_free(&o);
    ok(o.data == NULL && o.len == 0 && o.cap == 0, "free leaves an empty builder");
    pg_out_free(&o);
}

static void test_peek(void)
{
    char type = 0;
    uint32_t body = 0;
    const uint8_t z[] = {'Z', 0, 0, 0, 5, 'I'};

    int again = 1;
    for (size_t n = 0; n < PG_HDR_LEN; n++)
        again &= pg_msg_peek(z, n, 100, &type, &body) == WR_AGAIN;
    ok(again, "peek: 0..4 bytes is WR_AGAIN");
    is_int(pg_msg_peek(z, 5, 100, &type, &body), WR_OK, "peek: header alone is enough");
    ok(type == 'Z' && body == 1, "peek: type and body length");

    const uint8_t bad[] = {'Z', 0, 0, 0, 3};
    is_int(pg_msg_peek(bad, 5, 100, &type, &body), WR_ERROR, "peek: length 3 rejected");
    const uint8_t zero[] = {'S', 0, 0, 0, 4};
    is_int(pg_msg_peek(zero, 5, 0, &type, &body), WR_OK, "peek: empty body with limit 0");
    is_int(body, 0, "peek: empty body length");

    const uint8_t big[] = {'D', 0, 0, 0x10, 5}; /* body 4097 */
    is_int(pg_msg_peek(big, 5, 4096, &type, &body), WR_ERROR, "peek: body over limit");
    is_int(pg_msg_peek(big, 5, 4097, &type, &body), WR_OK, "peek: body at limit");
    is_int(body, 4097, "peek: body length at limit");
    const uint8_t huge[] = {'D', 0xff, 0xff, 0xff, 0xff};
    is_int(pg_msg_peek(huge, 5, UINT32_MAX - 4, &type, &body), WR_OK, "peek: no limit");
    is_int(body, UINT32_MAX - 4, "peek: maximum body length");
}

static void test_reader(void)
{
    const uint8_t body[] = {0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x2a, 'h', 'i', 0, 'x', 'y'};
    struct pg_in in;

    pg_in_init(&in, body, sizeof(body));
    is_int(pg_in_byte(&in), 1, "reader: byte");
    is_int(pg_in_int16(&in), 0x0203, "reader: int16");
    is_int(pg_in_int32(&in), 42, "reader: int32");
    is_str(pg_in_str(&in), "hi", "reader: string");
    const uint8_t *p = pg_in_bytes(&in, 2);
    ok(p && p[0] == 'x' && p[1] == 'y', "reader: bytes");
    ok(pg_in_done(&in), "reader: done when all consumed");

    pg_in_init(&in, body, sizeof(body));
    pg_in_bytes(&in, 10);
    ok(pg_in_str(&in) == NULL && in.failed, "reader: unterminated string fails");
    is_int(pg_in_int32(&in), 0, "reader: calls after failure return 0");
    ok(!pg_in_done(&in), "reader: failed is not done");

    pg_in_init(&in, body, 3);
    is_int(pg_in_int32(&in), 0, "reader: int32 overrun returns 0");
    ok(in.failed && in.p == body, "reader: int32 overrun sets failed, does not move");

    pg_in_init(&in, body, 1);
    is_int(pg_in_int16(&in), 0, "reader: int16 overrun returns 0");
    ok(in.failed, "reader: int16 overrun sets failed");

    pg_in_init(&in, body, 0);
    is_int(pg_in_byte(&in), 0, "reader: byte overrun returns 0");
    ok(in.failed, "reader: byte overrun sets failed");

    pg_in_init(&in, body, 4);
    ok(pg_in_bytes(&in, 5) == NULL && in.failed, "reader: bytes overrun");

    pg_in_init(&in, NULL, 0);
    ok(pg_in_str(&in) == NULL && in.failed, "reader: string from empty body");

    pg_in_init(&in, body, sizeof(body));
    pg_in_byte(&in);
    ok(!pg_in_done(&in), "reader: not done with bytes left");
}

static void test_error_parse(void)
{
    struct pg_out o;
    struct pg_error_fields f;
    char type;
    uint32_t blen;

    pg_out_init(&o);
    pg_out_error(&o, "ERROR", "42P01", "relation \"%s\" does not exist", "t");
    ok(!o.failed, "error built");
    is_int(pg_msg_peek(o.data, o.len, 1 << 20, &type, &blen), WR_OK, "error framed");
    ok(type == 'E' && blen + PG_HDR_LEN == o.len, "error type and length");
    is_int(pg_error_parse(o.data + PG_HDR_LEN, blen, &f), WR_OK, "error parses");
    is_str(f.severity, "ERROR", "round trip: severity");
    is_str(f.sqlstate, "42P01", "round trip: sqlstate");
    is_str(f.message, "relation \"t\" does not exist", "round trip: message");
    ok(f.detail == NULL, "round trip: no detail");

    /* A server's error: V after S, detail, hint and position fields. */
    const uint8_t srv[] = "SERREUR\0VERROR\0C23505\0Mdup\0Dkey (id)=(1)\0Hhint\0P12\0";
    is_int(pg_error_parse(srv, sizeof(srv), &f), WR_OK, "server error parses");
    is_str(f.severity, "ERROR", "V preferred over localized S");
    is_str(f.detail, "key (id)=(1)", "detail");

    const uint8_t old[] = "SFATAL\0C28000\0Mno\0";
    is_int(pg_error_parse(old, sizeof(old), &f), WR_OK, "error without V parses");
    is_str(f.severity, "FATAL", "severity from S");

    const uint8_t noterm[] = {'S', 'E', 0, 'C', '1', 0, 'M', 'm', 0};
    is_int(pg_error_parse(noterm, sizeof(noterm), &f), WR_ERROR, "missing terminator");
    const uint8_t unterminated[] = {'S', 'E', 0, 'M', 'm'};
    is_int(pg_error_parse(unterminated, sizeof(unterminated), &f), WR_ERROR, "unterminated field");
    const uint8_t trailing[] = "SE\0C1\0Mm\0\0x";
    is_int(pg_error_parse(trailing, sizeof(trailing), &f), WR_ERROR, "bytes after terminator");
    const uint8_t nomsg[] = "SE\0C1\0";
    is_int(pg_error_parse(nomsg, sizeof(nomsg), &f), WR_ERROR, "missing M field");
    is_int(pg_error_parse(NULL, 0, &f), WR_ERROR, "empty body");

    pg_out_reset(&o);
    pg_out_notice(&o, "NOTICE", "00000", "hello");
    is_int(pg_error_parse(o.data + PG_HDR_LEN, o.len - PG_HDR_LEN, &f), WR_OK, "notice parses");
    is_str(f.message, "hello", "notice round trip");
    pg_out_free(&o);
}

int main(void)
{
    test_builders();
    test_peek();
    test_reader();
    test_error_parse();
    return done_testing();
}
