/* test_pg_startup.c -- unit tests of the PostgreSQL startup packet parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_msg.h"
#include "protocol/pg/pg_startup.h"
#include "tests/tap.h"

/* Builds a startup packet with the given code and NULL-terminated name/value list. */
static void build(struct pg_out *o, uint32_t code, const char *const *kv)
{
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, code);
    for (; kv && kv[0]; kv += 2) {
        pg_out_str(o, kv[0]);
        pg_out_str(o, kv[1]);
    }
    pg_out_byte(o, 0);
    pg_out_end(o);
}

static void test_normal(struct pg_out *o)
{
    struct pg_startup s;
    char err[128] = "";
    const char *kv[] = {"user", "alice",   "database", "shop", "application_name",
                        "psql", "options", "-c a=b",   NULL};

    build(o, PG_PROTO_V3, kv);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "normal: parses");
    is_int(s.kind, PG_STARTUP_NORMAL, "normal: kind");
    is_int(s.code, PG_PROTO_V3, "normal: code");
    is_int(s.pkt_len, o->len, "normal: pkt_len");
    is_str(s.user, "alice", "normal: user");
    is_str(s.database, "shop", "normal: database");
    is_int(s.nparams, 4, "normal: every param counted");
    is_str(s.params[2].name, "application_name", "normal: params in order (name)");
    is_str(s.params[3].value, "-c a=b", "normal: params in order (value)");
    is_str(pg_startup_param(&s, "application_name"), "psql", "param lookup");
    ok(pg_startup_param(&s, "missing") == NULL, "param lookup: absent");

    /* Trailing bytes of the next message do not belong to the packet. */
    size_t n = o->len;
    pg_out_bytes(o, "Qxxxx", 5);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "extra input ignored");
    is_int(s.pkt_len, n, "pkt_len excludes what follows");

    const char *kv2[] = {"user", "bob", NULL};
    build(o, PG_PROTO_V3, kv2);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "no database: parses");
    is_str(s.database, "bob", "database defaults to user");

    const char *kv3[] = {"database", "", "user", "carol", NULL};
    build(o, PG_PROTO_V3, kv3);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "empty database");
    is_str(s.database, "carol", "empty database defaults to user");

    build(o, PG_PROTO_V3 | 1, kv2);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "3.1 parses");
    is_int(s.kind, PG_STARTUP_NORMAL, "3.1 accepted as NORMAL");
    is_int(s.code, PG_PROTO_V3 | 1, "3.1: code keeps the minor");
    is_str(s.user, "bob", "3.1: user");
}

static void test_bad(struct pg_out *o)
{
    struct pg_startup s;
    char err[128];

    const char *nouser[] = {"database", "d", NULL};
    build(o, PG_PROTO_V3, nouser);
    err[0] = 0;
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR, "missing user");
    is_str(err, "no PostgreSQL user name specified in startup packet", "missing user: reason");

    const char *emptyuser[] = {"user", "", NULL};
    build(o, PG_PROTO_V3, emptyuser);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR, "empty user");

    /* Parameter list without its final terminator: the packet ends after a value. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_str(o, "user");
    pg_out_str(o, "u");
    pg_out_end(o);
    err[0] = 0;
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR,
           "unterminated param list");
    ok(strstr(err, "invalid startup packet layout") != NULL, "unterminated: reason");

    /* A name with no NUL before the end of the packet. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_bytes(o, "user", 4);
    pg_out_end(o);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR, "unterminated name");

    /* A value missing entirely. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_str(o, "user");
    pg_out_end(o);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR, "missing value");

    /* Bytes after the terminator. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_str(o, "user");
    pg_out_str(o, "u");
    pg_out_byte(o, 0);
    pg_out_bytes(o, "zz", 2);
    pg_out_end(o);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR,
           "bytes after the terminator");

    /* Only the code, not even a terminator. */
    const uint8_t bare[] = {0, 0, 0, 8, 0, 3, 0, 0};
    is_int(pg_startup_parse(bare, sizeof(bare), &s, err, sizeof(err)), WR_ERROR,
           "v3 packet with no parameter list");

    /* Too many parameters: user plus 64 others. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_str(o, "user");
    pg_out_str(o, "u");
    for (int i = 0; i < PG_STARTUP_MAX_PARAMS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        pg_out_str(o, name);
        pg_out_str(o, "v");
    }
    pg_out_byte(o, 0);
    pg_out_end(o);
    err[0] = 0;
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_ERROR, "too many params");
    is_str(err, "too many startup parameters", "too many params: reason");

    /* Exactly the maximum is fine. */
    pg_out_reset(o);
    pg_out_begin(o, 0);
    pg_out_int32(o, PG_PROTO_V3);
    pg_out_str(o, "user");
    pg_out_str(o, "u");
    for (int i = 1; i < PG_STARTUP_MAX_PARAMS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        pg_out_str(o, name);
        pg_out_str(o, "v");
    }
    pg_out_byte(o, 0);
    pg_out_end(o);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "64 params accepted");
    is_int(s.nparams, PG_STARTUP_MAX_PARAMS, "64 params counted");

    /* A NULL/0 error buffer is allowed. */
    build(o, PG_PROTO_V3, nouser);
    is_int(pg_startup_parse(o->data, o->len, &s, NULL, 0), WR_ERROR, "error with no err buffer");
}

static void test_lengths(void)
{
    struct pg_startup s;
    char err[128];

    /* Length 10001: rejected as soon as the length field is in. */
    const uint8_t big[] = {0, 0, 0x27, 0x11};
    for (size_t n = 0; n < 4; n++)
        is_int(pg_startup_parse(big, n, &s, err, sizeof(err)), WR_AGAIN,
               "length field incomplete: WR_AGAIN");
    err[0] = 0;
    is_int(pg_startup_parse(big, 4, &s, err, sizeof(err)), WR_ERROR,
           "length 10001 rejected with only 4 bytes in");
    is_str(err, "invalid length of startup packet", "length 10001: reason");

    const uint8_t max[] = {0, 0, 0x27, 0x10};
    is_int(pg_startup_parse(max, 4, &s, err, sizeof(err)), WR_AGAIN,
           "length 10000 waits for the rest");

    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0};
    is_int(pg_startup_parse(huge, sizeof(huge), &s, err, sizeof(err)), WR_ERROR,
           "length 0xffffffff rejected");

    for (uint8_t l = 0; l < 8; l++) {
        const uint8_t small[] = {0, 0, 0, l, 0, 3, 0, 0};
        char name[64];
        snprintf(name, sizeof(name), "length %u rejected", l);
        is_int(pg_startup_parse(small, 4, &s, err, sizeof(err)), WR_ERROR, name);
    }
}

static void test_requests(struct pg_out *o)
{
    struct pg_startup s;
    char err[128];

    const uint8_t ssl[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    is_int(pg_startup_parse(ssl, sizeof(ssl), &s, err, sizeof(err)), WR_OK, "SSLRequest");
    ok(s.kind == PG_STARTUP_SSL && s.code == PG_CODE_SSL && s.pkt_len == 8, "SSLRequest fields");

    const uint8_t gss[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
    is_int(pg_startup_parse(gss, sizeof(gss), &s, err, sizeof(err)), WR_OK, "GSSENCRequest");
    ok(s.kind == PG_STARTUP_GSSENC && s.code == PG_CODE_GSSENC && s.pkt_len == 8,
       "GSSENCRequest fields");

    const uint8_t ssl12[] = {0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2f, 0, 0, 0, 0};
    is_int(pg_startup_parse(ssl12, sizeof(ssl12), &s, err, sizeof(err)), WR_ERROR,
           "SSLRequest with a body rejected");

    pg_out_reset(o);
    pg_out_cancel_request(o, 4242, 0x89abcdef);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "CancelRequest");
    ok(s.kind == PG_STARTUP_CANCEL && s.pkt_len == 16, "CancelRequest kind");
    ok(s.cancel_pid == 4242 && s.cancel_key == 0x89abcdef, "CancelRequest pid and key");
    is_int(pg_startup_parse(o->data, 15, &s, err, sizeof(err)), WR_AGAIN,
           "CancelRequest incomplete");

    const uint8_t cancel12[] = {0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1};
    is_int(pg_startup_parse(cancel12, sizeof(cancel12), &s, err, sizeof(err)), WR_ERROR,
           "short CancelRequest rejected");

    /* weir's peer KILL: pid, flags, a user name and its NUL, last. */
    const uint8_t pk[] = {0, 0, 0, 20, 0x04, 0xd2, 0x16, 0x8f, 1,   2,
                          3, 4, 0, 0,  0,    1,    'a',  'p',  'p', 0};
    is_int(pg_startup_parse(pk, sizeof(pk), &s, err, sizeof(err)), WR_OK, "peer KILL");
    ok(s.kind == PG_STARTUP_PEER_KILL && s.cancel_pid == 0x01020304 &&
           s.kill_flags == PG_PEER_KILL_CONNECTION && s.user && !strcmp(s.user, "app") &&
           s.pkt_len == 20,
       "peer KILL fields");
    uint8_t pk_bad[sizeof(pk)];
    memcpy(pk_bad, pk, sizeof(pk));
    pk_bad[19] = 'x';
    is_int(pg_startup_parse(pk_bad, sizeof(pk_bad), &s, err, sizeof(err)), WR_ERROR,
           "peer KILL without its NUL rejected");
    memcpy(pk_bad, pk, sizeof(pk));
    pk_bad[17] = 0;
    is_int(pg_startup_parse(pk_bad, sizeof(pk_bad), &s, err, sizeof(err)), WR_ERROR,
           "peer KILL with a NUL inside the name rejected");
    const uint8_t pk_empty[] = {0, 0, 0, 17, 0x04, 0xd2, 0x16, 0x8f, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    is_int(pg_startup_parse(pk_empty, sizeof(pk_empty), &s, err, sizeof(err)), WR_ERROR,
           "peer KILL with an empty name rejected");

    const char *kv[] = {"user", "u", NULL};
    build(o, 2 << 16, kv);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "protocol 2.0 parses");
    is_int(s.kind, PG_STARTUP_BAD_VERSION, "protocol 2.0 is BAD_VERSION");
    is_int(s.code, 2 << 16, "protocol 2.0 code");

    build(o, 4 << 16, kv);
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK, "protocol 4.0 parses");
    is_int(s.kind, PG_STARTUP_BAD_VERSION, "protocol 4.0 is BAD_VERSION");

    const uint8_t other[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31};
    is_int(pg_startup_parse(other, sizeof(other), &s, err, sizeof(err)), WR_OK,
           "unknown 1234.5681 request parses");
    is_int(s.kind, PG_STARTUP_BAD_VERSION, "unknown request is BAD_VERSION");
}

static void test_byte_at_a_time(struct pg_out *o)
{
    struct pg_startup s;
    char err[128];
    const char *kv[] = {"user", "slow", "database", "db", NULL};

    build(o, PG_PROTO_V3, kv);
    int again = 1;
    for (size_t n = 0; n < o->len; n++) {
        /* A fresh copy of exactly n bytes so ASan sees any read past them. */
        uint8_t *part = malloc(n ? n : 1);
        memcpy(part, o->data, n);
        again &= pg_startup_parse(part, n, &s, err, sizeof(err)) == WR_AGAIN;
        free(part);
    }
    ok(again, "byte at a time: WR_AGAIN until complete");
    is_int(pg_startup_parse(o->data, o->len, &s, err, sizeof(err)), WR_OK,
           "byte at a time: WR_OK when complete");
    is_str(s.database, "db", "byte at a time: database");
}

int main(void)
{
    struct pg_out o;

    pg_out_init(&o);
    test_normal(&o);
    test_bad(&o);
    test_lengths();
    test_requests(&o);
    test_byte_at_a_time(&o);
    pg_out_free(&o);
    return done_testing();
}
