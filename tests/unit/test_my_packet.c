/* test_my_packet.c -- unit tests of MySQL packet framing, builder, reader and ERR/OK/EOF. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"
#include "tests/tap.h"

/* Checks the builder holds exactly want[0..n) and has not failed; then resets it. */
static void is_bytes(struct my_out *o, const void *want, size_t n, const char *name)
{
    int same = !o->failed && o->len == n && memcmp(o->data, want, n) == 0;
    if (!ok(same, "%s", name)) {
        diag("  failed=%d len=%zu want_len=%zu", o->failed, o->len, n);
        for (size_t i = 0; i < o->len && i < 64; i++)
            diag("  [%zu] got 0x%02x want 0x%02x", i, o->data[i],
                 i < n ? ((const uint8_t *)want)[i] : 0);
    }
    my_out_reset(o);
}

/* sizeof a string literal without its implicit trailing NUL */
#define LIT(s) s, sizeof(s) - 1

static void test_peek(void)
{
    uint32_t len = 7;
    uint8_t seq = 7;
    is_int(my_pkt_peek((const uint8_t *)"", 0, &len, &seq), WR_AGAIN, "peek: empty is AGAIN");
    /* ProxySQL's garbage: two bytes are not a header yet. */
    is_int(my_pkt_peek((const uint8_t *)"\x01\x00", 2, &len, &seq), WR_AGAIN,
           "peek: '01 00' is AGAIN");
    is_int(my_pkt_peek((const uint8_t *)"\x01\x00\x00", 3, &len, &seq), WR_AGAIN,
           "peek: 3 bytes is AGAIN");
    is_int(my_pkt_peek((const uint8_t *)"\x05\x00\x00\x02\x01", 5, &len, &seq), WR_OK,
           "peek: header");
    is_int(len, 5, "peek: length");
    is_int(seq, 2, "peek: seq");
    is_int(my_pkt_peek((const uint8_t *)"\xff\xff\xff\x00\x00\xfe\x00\x00", 8, &len, &seq), WR_OK,
           "peek: 'FF FF FF 00 ...' is a maximal header");
    is_int(len, 0xFFFFFF, "peek: 0xFFFFFF length");
    is_int(my_pkt_peek((const uint8_t *)"\xff\xff\xff\xff\x00\x00\x00\x00", 8, &len, &seq), WR_OK,
           "peek: 'FF FF FF FF' header");
    is_int(seq, 255, "peek: seq 255");
    is_int(my_pkt_peek((const uint8_t *)"\x03\x00\x00\x2f\x2a\xe0\x00", 7, &len, &seq), WR_OK,
           "peek: '03 00 00 2F 2A E0 00'");
    is_int(len, 3, "peek: its length 3");
    is_int(seq, 0x2f, "peek: its seq 0x2f");
}

static void test_builder(void)
{
    struct my_out o;
    my_out_init(&o);

    my_out_begin(&o, 3);
    my_out_int1(&o, 0x01);
    my_out_int2(&o, 0x0302);
    my_out_int3(&o, 0x060504);
    my_out_int4(&o, 0x0a090807);
    my_out_int8(&o, 0x1211100f0e0d0c0bULL);
    my_out_end(&o);
    is_int(o.seq, 4, "builder: next seq");
    is_bytes(&o,
             LIT("\x12\x00\x00\x03\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                 "\x10\x11\x12"),
             "builder: int1..int8 little-endian");

    my_out_begin(&o, 0);
    my_out_lenenc(&o, 0);
    my_out_lenenc(&o, 250);
    my_out_lenenc(&o, 251);
    my_out_lenenc(&o, 0xFFFF);
    my_out_lenenc(&o, 0x10000);
    my_out_lenenc(&o, 0xFFFFFF);
    my_out_lenenc(&o, 0x1000000);
    my_out_end(&o);
    is_bytes(&o,
             LIT("\x19\x00\x00\x00"
                 "\x00\xfa\xfc\xfb\x00\xfc\xff\xff\xfd\x00\x00\x01\xfd\xff\xff\xff"
                 "\xfe\x00\x00\x00\x01\x00\x00\x00\x00"),
             "builder: lenenc boundaries");

    my_out_begin(&o, 1);
    my_out_lenenc_str(&o, "abc", 3);
    my_out_str(&o, "de");
    my_out_bytes(&o, "f", 1);
    my_out_lenenc_str(&o, "", 0);
    my_out_end(&o);
    is_bytes(&o,
             LIT("\x09\x00\x00\x01\x03"
                 "abcde\x00"
                 "f\x00"),
             "builder: lenenc string, NUL string, bytes");

    my_out_begin(&o, 0);
    my_out_end(&o);
    is_bytes(&o, LIT("\x00\x00\x00\x00"), "builder: empty packet");

    /* Misuse is sticky. */
    my_out_end(&o);
    ok(o.failed, "builder: end without begin fails");
    my_out_int1(&o, 1);
    is_int(o.len, 0, "builder: no-op after failure");
    my_out_reset(&o);
    my_out_begin(&o, 0);
    my_out_begin(&o, 1);
    ok(o.failed, "builder: nested begin fails");
    my_out_reset(&o);
    my_out_begin(&o, 0);
    my_out_int3(&o, 0x1000000);
    ok(o.failed, "builder: int3 overflow fails");
    my_out_reset(&o);
    my_out_begin(&o, 0);
    my_out_str(&o, NULL);
    ok(o.failed, "builder: NULL string fails");
    my_out_reset(&o);

    /* Two packets back to back. */
    my_out_begin(&o, 0);
    my_out_int1(&o, 0x0e);
    my_out_end(&o);
    my_out_begin(&o, 0);
    my_out_int1(&o, 0x01);
    my_out_end(&o);
    is_bytes(&o, LIT("\x01\x00\x00\x00\x0e\x01\x00\x00\x00\x01"), "builder: two packets");
    my_out_free(&o);
}

/* Walks o's packets, checking lengths, sequence ids and the joined payload. */
static int check_split(const struct my_out *o, const uint8_t *payload, size_t plen, uint8_t seq0,
                       size_t want_pkts)
{
    size_t off = 0, got = 0, npkt = 0;
    uint8_t seq = seq0;
    for (;;) {
        uint32_t len;
        uint8_t s;
        if (my_pkt_peek(o->data + off, o->len - off, &len, &s) != WR_OK)
            return 0;
        if (s != seq || len > o->len - off - MY_HDR_LEN || len > plen - got)
            return 0;
        if (memcmp(o->data + off + MY_HDR_LEN, payload + got, len) != 0)
            return 0;
        off += MY_HDR_LEN + len;
        got += len;
        npkt++;
        seq++;
        if (len < MY_MAX_PAYLOAD)
            break;
    }
    return off == o->len && got == plen && npkt == want_pkts && o->seq == (uint8_t)(seq0 + npkt);
}

static void test_split(void)
{
    struct my_out o;
    size_t sizes[] = {MY_MAX_PAYLOAD - 1, MY_MAX_PAYLOAD, MY_MAX_PAYLOAD + 1,
                      2 * (size_t)MY_MAX_PAYLOAD, 2 * (size_t)MY_MAX_PAYLOAD + 10};
    size_t pkts[] = {1, 2, 2, 3, 3};
    size_t big = 2 * (size_t)MY_MAX_PAYLOAD + 10;
    uint8_t *payload = malloc(big);
    if (payload == NULL) {
        ok(0, "split: malloc");
        return;
    }
    for (size_t i = 0; i < big; i++)
        payload[i] = (uint8_t)(i * 7 + i / 251);

    my_out_init(&o);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint8_t seq0 = k == 3 ? 254 : 5; /* one case wraps the sequence id */
        my_out_begin(&o, seq0);
        my_out_bytes(&o, payload, sizes[k]);
        my_out_end(&o);
        ok(!o.failed && check_split(&o, payload, sizes[k], seq0, pkts[k]),
           "split: payload of %zu bytes -> %zu packets", sizes[k], pkts[k]);
        my_out_reset(&o);
    }

    /* Exactly 0xFFFFFF: one full packet and an empty one, headers exact. */
    my_out_begin(&o, 0);
    my_out_bytes(&o, payload, MY_MAX_PAYLOAD);
    my_out_end(&o);
    ok(o.len == MY_MAX_PAYLOAD + 8 && memcmp(o.data, "\xff\xff\xff\x00", 4) == 0 &&
           memcmp(o.data + 4 + MY_MAX_PAYLOAD, "\x00\x00\x00\x01", 4) == 0,
       "split: 0xFFFFFF ends with an empty packet with seq 1");
    my_out_reset(&o);

    /* A packet before the long one stays intact. */
    my_out_begin(&o, 9);
    my_out_int1(&o, 0x42);
    my_out_end(&o);
    size_t first = o.len;
    my_out_begin(&o, 1);
    my_out_bytes(&o, payload, MY_MAX_PAYLOAD + 3);
    my_out_end(&o);
    struct my_out tail = o;
    tail.data += first;
    tail.len -= first;
    ok(memcmp(o.data, "\x01\x00\x00\x09\x42", 5) == 0 &&
           check_split(&tail, payload, MY_MAX_PAYLOAD + 3, 1, 2),
       "split: after another packet");
    my_out_free(&o);
    free(payload);
}

static void test_reader(void)
{
    struct my_in in;
    bool is_null;
    size_t n;
    static const uint8_t buf[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
                                 "\x10\x11\x12";
    my_in_init(&in, buf, 18);
    is_int(my_in_int1(&in), 0x01, "reader: int1");
    is_int(my_in_int2(&in), 0x0302, "reader: int2");
    is_int(my_in_int3(&in), 0x060504, "reader: int3");
    is_int(my_in_int4(&in), 0x0a090807, "reader: int4");
    ok(my_in_int8(&in) == 0x1211100f0e0d0c0bULL, "reader: int8");
    ok(my_in_done(&in), "reader: done");
    is_int(my_in_int1(&in), 0, "reader: overrun returns 0");
    ok(in.failed && !my_in_done(&in), "reader: overrun fails");

    static const uint8_t le[] = "\x00\xfa\xfc\xfb\x00\xfd\x00\x00\x01"
                                "\xfe\x00\x00\x00\x01\x00\x00\x00\x00\xfb";
    my_in_init(&in, le, sizeof(le) - 1);
    is_int(my_in_lenenc(&in, &is_null), 0, "lenenc: 0");
    is_int(my_in_lenenc(&in, &is_null), 250, "lenenc: 250");
    is_int(my_in_lenenc(&in, &is_null), 251, "lenenc: 0xFC 251");
    is_int(my_in_lenenc(&in, &is_null), 0x10000, "lenenc: 0xFD");
    ok(my_in_lenenc(&in, &is_null) == 0x1000000 && !is_null, "lenenc: 0xFE 8 bytes");
    is_int(my_in_lenenc(&in, &is_null), 0, "lenenc: NULL is 0");
    ok(is_null && my_in_done(&in), "lenenc: NULL marker reported");

    my_in_init(&in, "\xfb", 1);
    (void)my_in_lenenc(&in, NULL);
    ok(in.failed, "lenenc: NULL without is_null fails");
    my_in_init(&in, "\xff", 1);
    (void)my_in_lenenc(&in, &is_null);
    ok(in.failed, "lenenc: 0xFF fails");
    my_in_init(&in, "\xfc\x01", 2);
    (void)my_in_lenenc(&in, &is_null);
    ok(in.failed, "lenenc: truncated 0xFC fails");
    my_in_init(&in, "\xfe\x01\x02\x03\x04\x05\x06\x07", 8);
    (void)my_in_lenenc(&in, &is_null);
    ok(in.failed, "lenenc: truncated 0xFE fails");

    my_in_init(&in,
               "\x03"
               "abc\x00"
               "de\x00xyz",
               11);
    const uint8_t *s = my_in_lenenc_str(&in, &n);
    ok(s != NULL && n == 3 && memcmp(s, "abc", 3) == 0, "lenenc str");
    s = my_in_lenenc_str(&in, &n);
    ok(s != NULL && n == 0, "lenenc str: empty is non-NULL");
    is_str(my_in_str(&in), "de", "NUL string");
    s = my_in_bytes(&in, 1);
    ok(s != NULL && s[0] == 'x', "fixed bytes");
    s = my_in_rest(&in, &n);
    ok(s != NULL && n == 2 && memcmp(s, "yz", 2) == 0 && my_in_done(&in), "rest of packet");
    s = my_in_rest(&in, &n);
    ok(s != NULL && n == 0 && !in.failed, "rest of packet: empty");

    my_in_init(&in,
               "\x05"
               "abc",
               4);
    ok(my_in_lenenc_str(&in, &n) == NULL && n == 0 && in.failed, "lenenc str past end fails");
    my_in_init(&in, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    ok(my_in_lenenc_str(&in, &n) == NULL && in.failed, "lenenc str of 2^64-1 fails");
    my_in_init(&in, "\xfb", 1);
    ok(my_in_lenenc_str(&in, &n) == NULL && in.failed, "lenenc str NULL fails");
    my_in_init(&in, "abc", 3);
    ok(my_in_str(&in) == NULL && in.failed, "unterminated string fails");
    my_in_init(&in, "ab", 2);
    ok(my_in_bytes(&in, 3) == NULL && in.failed, "too few bytes fails");
    ok(my_in_bytes(&in, 0) == NULL, "nothing after failure");
    my_in_init(&in, NULL, 0);
    ok(my_in_str(&in) == NULL && in.failed, "string from empty input fails");
}

static void test_err_ok_eof(void)
{
    struct my_out o;
    my_out_init(&o);

    my_out_err(&o, 2, 1045, "28000", "Access denied for user '%s'@'%s' (using password: %s)", "u",
               "localhost", "YES");
    /* As MariaDB 10.11 sent it (captured), with the sequence id 2. */
    is_bytes(&o,
             LIT("\x45\x00\x00\x02\xff\x15\x04#28000"
                 "Access denied for user 'u'@'localhost' (using password: YES)"),
             "ERR 1045");

    my_out_err(&o, 1, 1040, "08004", "Too many connections");
    is_bytes(&o, LIT("\x1d\x00\x00\x01\xff\x10\x04#08004Too many connections"), "ERR 1040");

    my_out_err(&o, 1, 1040, "0800", "x");
    ok(o.failed, "ERR: sqlstate of 4 characters fails");
    my_out_reset(&o);

    my_out_ok(&o, 1, CLIENT_PROTOCOL_41, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    is_bytes(&o, LIT("\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00"), "OK: plain (captured DO 1)");

    my_out_ok(&o, 1, CLIENT_PROTOCOL_41, 2, 300, 0x0002, 1, "Records: 2");
    is_bytes(&o, LIT("\x13\x00\x00\x01\x00\x02\xfc\x2c\x01\x02\x00\x01\x00Records: 2"),
             "OK: info as rest of packet");

    my_out_ok(&o, 2, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK, 0, 0, 0x0003, 0, "hi");
    is_bytes(&o, LIT("\x0a\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x02hi"),
             "OK: info lenenc with CLIENT_SESSION_TRACK");

    my_out_eof(&o, 5, 0, SERVER_STATUS_AUTOCOMMIT);
    is_bytes(&o, LIT("\x05\x00\x00\x05\xfe\x00\x00\x02\x00"), "EOF (captured)");

    struct my_err e;
    static const uint8_t err1[] = "\xff\x19\x04#42000Unknown database 'nosuchdb'";
    ok(my_err_parse(err1, sizeof(err1) - 1, &e) == WR_OK && e.code == 1049 && e.sqlstate &&
           memcmp(e.sqlstate, "42000", 5) == 0 && e.message_len == 27 &&
           memcmp(e.message, "Unknown database 'nosuchdb'", 27) == 0,
       "ERR parse (captured 1049)");
    static const uint8_t err2[] = "\xff\x10\x04Too many connections";
    ok(my_err_parse(err2, sizeof(err2) - 1, &e) == WR_OK && e.code == 1040 && e.sqlstate == NULL &&
           e.message_len == 20,
       "ERR parse without sqlstate");
    ok(my_err_parse((const uint8_t *)"\xff\x10", 2, &e) == WR_ERROR, "ERR parse: truncated");
    ok(my_err_parse((const uint8_t *)"\x00\x10\x04", 3, &e) == WR_ERROR, "ERR parse: not ERR");
    ok(my_err_parse((const uint8_t *)"\xff\x10\x04#4200", 8, &e) == WR_OK && e.sqlstate == NULL &&
           e.message_len == 5,
       "ERR parse: short '#' is message");

    uint16_t w = 9, st = 9;
    ok(my_eof_parse((const uint8_t *)"\xfe\x01\x00\x22\x00", 5, &w, &st) == WR_OK && w == 1 &&
           st == 0x22,
       "EOF parse");
    ok(my_eof_parse((const uint8_t *)"\xfe\x01\x00\x22", 4, &w, &st) == WR_ERROR,
       "EOF parse: short");
    ok(my_eof_parse((const uint8_t *)"\x00\x01\x00\x22\x00", 5, &w, &st) == WR_ERROR,
       "EOF parse: not EOF");
    my_out_free(&o);
}

int main(void)
{
    test_peek();
    test_builder();
    test_split();
    test_reader();
    test_err_ok_eof();
    return done_testing();
}
