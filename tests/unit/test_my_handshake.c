/* test_my_handshake.c -- unit tests of HandshakeV10, HandshakeResponse41 and auth switch packets.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/mysql/my_handshake.h"
#include "tests/tap.h"

#define LIT(s) s, sizeof(s) - 1

static void is_bytes(struct my_out *o, const void *want, size_t n, const char *name)
{
    int same = !o->failed && o->len == n && memcmp(o->data, want, n) == 0;
    if (!ok(same, "%s", name)) {
        diag("  failed=%d len=%zu want_len=%zu", o->failed, o->len, n);
        for (size_t i = 0; i < o->len && i < n; i++)
            if (o->data[i] != ((const uint8_t *)want)[i])
                diag("  [%zu] got 0x%02x want 0x%02x", i, o->data[i], ((const uint8_t *)want)[i]);
    }
    my_out_reset(o);
}

/* The greeting MariaDB 10.11.19 sent on a TCP connection (captured from the wire). */
static const uint8_t captured_greeting[] = "\x64\x00\x00\x00\x0a"
                                           "5.5.5-10.11.19-MariaDB-0+deb12u1\x00"
                                           "\x0a\x00\x00\x00"
                                           "\x6d\x42\x40\x59\x23\x3e\x50\x55\x00"
                                           "\xfe\xf7\x08\x02\x00\xff\x81\x15"
                                           "\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00"
                                           "\x3d\x6c\x2e\x3e\x2c\x61\x26\x37\x22\x41\x63\x50\x00"
                                           "mysql_native_password\x00";

/* The HandshakeResponse41 our capture client sent in reply (user u, db t, token for "pw"). */
static const uint8_t captured_response[] =
    "\x8f\xa2\xbf\x00\x00\x00\x00\x01\x21"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00"
    "u\x00"
    "\x14\x9c\x63\xd5\xc2\x1e\x7c\xc7\xd6\xd9\x22\x9c\x49\x9f\xa0\xe1\x28\x69\xe1\x45\x0c"
    "t\x00"
    "mysql_native_password\x00"
    "\x0a\x03_os\x05Linux";

static void test_greeting(void)
{
    struct my_out o;
    my_out_init(&o);
    static const uint8_t scramble[20] = "\x6d\x42\x40\x59\x23\x3e\x50\x55\x3d\x6c\x2e\x3e\x2c\x61"
                                        "\x26\x37\x22\x41\x63\x50";
    struct my_server_hello h = {
        .server_version = "5.5.5-10.11.19-MariaDB-0+deb12u1",
        .conn_id = 10,
        .scramble = scramble,
        .caps = 0x1d81fff7feULL,
        .charset = 8,
        .status = SERVER_STATUS_AUTOCOMMIT,
        .auth_plugin = MY_NATIVE_PLUGIN,
    };
    ok(!(h.caps & CLIENT_MYSQL) && (h.caps & MARIADB_CLIENT_EXTENDED_METADATA) &&
           (h.caps & MARIADB_CLIENT_CACHE_METADATA) && (h.caps & MARIADB_CLIENT_PROGRESS) &&
           (h.caps & MARIADB_CLIENT_STMT_BULK_OPERATIONS) && !(h.caps & MARIADB_CLIENT_COM_MULTI),
       "MariaDB 10.11 capability bits as named");
    my_out_handshake(&o, &h);
    is_bytes(&o, captured_greeting, sizeof(captured_greeting) - 1,
             "HandshakeV10 byte-identical to MariaDB 10.11's");

    /* MySQL-style: CLIENT_MYSQL set, so the 4 MariaDB bytes are zero. */
    h.caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
             MARIADB_CLIENT_PROGRESS;
    h.server_version = "8.0";
    h.conn_id = 0x01020304;
    h.charset = MY_CHARSET_UTF8MB4;
    h.auth_plugin = MY_SHA2_PLUGIN;
    my_out_handshake(&o, &h);
    is_bytes(&o,
             LIT("\x47\x00\x00\x00\x0a"
                 "8.0\x00"
                 "\x04\x03\x02\x01"
                 "\x6d\x42\x40\x59\x23\x3e\x50\x55\x00"
                 "\x01\x82\x2d\x02\x00\x08\x00\x15"
                 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                 "\x3d\x6c\x2e\x3e\x2c\x61\x26\x37\x22\x41\x63\x50\x00"
                 "caching_sha2_password\x00"),
             "HandshakeV10 with CLIENT_MYSQL: 10 zero bytes");

    /* Without plugin auth or secure connection: length byte 0, no second part. */
    h.caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41;
    h.server_version = "x";
    my_out_handshake(&o, &h);
    is_bytes(&o,
             LIT("\x22\x00\x00\x00\x0a"
                 "x\x00"
                 "\x04\x03\x02\x01"
                 "\x6d\x42\x40\x59\x23\x3e\x50\x55\x00"
                 "\x01\x02\x2d\x02\x00\x00\x00\x00"
                 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
             "HandshakeV10 minimal");

    h.scramble = NULL;
    my_out_handshake(&o, &h);
    ok(o.failed, "HandshakeV10 without scramble fails");
    my_out_free(&o);
}

static void test_response(void)
{
    struct my_hs_response r;
    char err[128];
    size_t n = sizeof(captured_response) - 1;

    is_int(my_hs_response_parse(captured_response, n, &r, err, sizeof(err)), WR_OK,
           "parse captured response");
    ok(r.caps == 0x00bfa28f && (r.caps & CLIENT_MYSQL), "caps (CLIENT_MYSQL set: no extension)");
    is_int(r.max_packet, 16777216, "max packet");
    is_int(r.charset, 33, "charset");
    ok(!r.ssl_request, "not an SSLRequest");
    is_str(r.user, "u", "user");
    ok(r.auth_len == 20 && r.auth == captured_response + 35, "auth response (1-byte length)");
    is_str(r.database, "t", "database");
    is_str(r.plugin, MY_NATIVE_PLUGIN, "plugin");
    is_int(r.attrs_len, 10, "attrs length");
    size_t pos = 0, kl, vl;
    const uint8_t *k, *v;
    ok(my_hs_attr_next(&r, &pos, &k, &kl, &v, &vl) && kl == 3 && memcmp(k, "_os", 3) == 0 &&
           vl == 5 && memcmp(v, "Linux", 5) == 0,
       "attr _os=Linux");
    ok(!my_hs_attr_next(&r, &pos, &k, &kl, &v, &vl), "attrs end");

    /* Rebuild it with the builder: identical bytes. */
    struct my_out o;
    my_out_init(&o);
    my_out_hs_response(&o, 1, &r);
    ok(!o.failed && o.len == n + 4 && memcmp(o.data, "\x5a\x00\x00\x01", 4) == 0 &&
           memcmp(o.data + 4, captured_response, n) == 0,
       "builder reproduces the captured response");
    my_out_reset(&o);

    /* A MariaDB client: CLIENT_MYSQL clear, extended caps in the filler, lenenc auth. */
    struct my_hs_response in = {
        .caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_ATTRS |
                MARIADB_CLIENT_EXTENDED_METADATA | MARIADB_CLIENT_CACHE_METADATA,
        .max_packet = 1 << 30,
        .charset = 45,
        .user = "bob",
        .auth = (const uint8_t *)"0123456789abcdefghij",
        .auth_len = 20,
        .plugin = MY_NATIVE_PLUGIN,
        .attrs = (const uint8_t *)"\x01k\x00",
        .attrs_len = 3,
    };
    my_out_hs_response(&o, 1, &in);
    ok(!o.failed && o.len > 36 && memcmp(o.data + 4 + 28, "\x18\x00\x00\x00", 4) == 0,
       "builder puts MariaDB caps in the last 4 filler bytes");
    is_int(my_hs_response_parse(o.data + 4, o.len - 4, &r, err, sizeof(err)), WR_OK,
           "parse MariaDB-style response");
    ok(r.caps == in.caps, "extended caps read back");
    ok(r.auth_len == 20 && memcmp(r.auth, in.auth, 20) == 0, "lenenc auth response");
    ok(r.database == NULL, "no database without CLIENT_CONNECT_WITH_DB");
    pos = 0;
    ok(my_hs_attr_next(&r, &pos, &k, &kl, &v, &vl) && kl == 1 && vl == 0, "attr with empty value");
    my_out_reset(&o);

    /* Empty password, NUL-terminated auth (neither secure-connection flag). */
    in.caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_CONNECT_WITH_DB;
    in.auth_len = 0;
    in.database = "db";
    my_out_hs_response(&o, 1, &in);
    is_int(my_hs_response_parse(o.data + 4, o.len - 4, &r, err, sizeof(err)), WR_OK,
           "parse old-style response");
    ok(r.auth_len == 0 && r.plugin == NULL && r.attrs == NULL, "empty auth, no plugin, no attrs");
    is_str(r.database, "db", "database, old style");
    my_out_reset(&o);

    /* SSLRequest: 32 bytes with CLIENT_SSL. */
    in.caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION;
    in.ssl_request = true;
    my_out_hs_response(&o, 1, &in);
    is_int(o.len, 36, "SSLRequest is 32 bytes");
    is_int(my_hs_response_parse(o.data + 4, o.len - 4, &r, err, sizeof(err)), WR_OK,
           "parse SSLRequest");
    ok(r.ssl_request && r.user == NULL, "SSLRequest recognised");
    in.ssl_request = false;
    in.caps &= ~CLIENT_SSL;
    my_out_reset(&o);
    my_out_hs_response(&o, 1, &in);
    is_int(my_hs_response_parse(o.data + 4, 32, &r, err, sizeof(err)), WR_ERROR,
           "32 bytes without CLIENT_SSL");
    ok(strstr(err, "user") != NULL, "  reason: %s", err);
    my_out_free(&o);
}

/* Copies the captured response, patches it, expects WR_ERROR with a reason. */
static void bad(const uint8_t *p, size_t n, const char *name)
{
    struct my_hs_response r;
    char err[128] = "";
    int rc = my_hs_response_parse(p, n, &r, err, sizeof(err));
    ok(rc == WR_ERROR && err[0] != '\0', "%s: %s", name, err);
}

static void test_malformed(void)
{
    struct my_hs_response big;
    uint8_t b[256];
    size_t n = sizeof(captured_response) - 1;

    bad((const uint8_t *)"\x01\x00", 2, "ProxySQL '01 00'");
    bad((const uint8_t *)"\xfe\x00\x00", 3, "ProxySQL 'FE 00 00'");
    bad((const uint8_t *)"\x00\x00\x00\x00", 4, "ProxySQL '00 00 00 00'");
    bad((const uint8_t *)"\x2f\x2a\xe0", 3, "ProxySQL '2F 2A E0'");
    bad(NULL, 0, "empty");
    memset(b, 0xff, sizeof(b));
    bad(b, 40, "all 0xFF: unterminated user");

    /* Every truncation of a valid response fails or stops at a field boundary. */
    int all_ok = 1;
    for (size_t cut = 0; cut < n; cut++) {
        struct my_hs_response r;
        char err[128];
        int rc = my_hs_response_parse(captured_response, cut, &r, err, sizeof(err));
        /* Only cuts before the plugin name (57) or the attributes (79) are whole packets. */
        if ((rc == WR_OK) != (cut == 57 || cut == 79))
            all_ok = 0;
        if (rc == WR_ERROR && err[0] == '\0')
            all_ok = 0;
    }
    ok(all_ok, "truncations of the captured response fail with a reason");

    memcpy(b, captured_response, n);
    b[34] = 0x40; /* auth length 64: past the end */
    bad(b, n, "auth length past end");
    memcpy(b, captured_response, n);
    b[2] |= 0x20; /* CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA */
    b[34] = 0xfe; /* lenenc 8-byte length: huge */
    bad(b, n, "lenenc auth length 8 bytes, huge");
    memcpy(b, captured_response, n);
    b[2] |= 0x20;
    b[34] = 0xfc; /* 2-byte length 0x639c */
    bad(b, n, "lenenc auth length 0xFC past end");
    memcpy(b, captured_response, n);
    b[n - 11] = 0x0b; /* attrs total length 11 > 10 left */
    bad(b, n, "attrs length past end");
    memcpy(b, captured_response, n);
    b[n - 10] = 0x09; /* first key length 9: inner pair runs past the block */
    bad(b, n, "attr key past block end");
    memcpy(b, captured_response, n);
    b[n - 11] = 0xfb; /* NULL as a length */
    bad(b, n, "attrs length NULL");
    memcpy(b, captured_response, n);
    bad(b, 56, "database unterminated");
    memcpy(b, captured_response, n);
    bad(b, 70, "plugin name unterminated");
    memcpy(b, captured_response, n);
    b[1] &= ~0x02; /* no CLIENT_PROTOCOL_41 */
    bad(b, n, "no protocol 4.1");
    ok(my_hs_response_parse(captured_response, MY_HS_RESPONSE_MAX + 1, &big, NULL, 0) == WR_ERROR,
       "over MY_HS_RESPONSE_MAX refused");
}

static void test_auth_switch(void)
{
    struct my_out o;
    my_out_init(&o);
    static const uint8_t scr[21] = "abcdefghijklmnopqrst";
    my_out_auth_switch(&o, 2, MY_NATIVE_PLUGIN, scr, 21);
    static const uint8_t want[] = "\x2c\x00\x00\x02\xfe"
                                  "mysql_native_password\x00"
                                  "abcdefghijklmnopqrst\x00";
    ok(!o.failed && o.len == sizeof(want) - 1 && memcmp(o.data, want, o.len) == 0,
       "AuthSwitchRequest bytes");
    const char *plugin;
    const uint8_t *data;
    size_t dlen;
    ok(my_auth_switch_parse(o.data + 4, o.len - 4, &plugin, &data, &dlen) == WR_OK &&
           strcmp(plugin, MY_NATIVE_PLUGIN) == 0 && dlen == 21 && memcmp(data, scr, 21) == 0,
       "AuthSwitchRequest parse");
    ok(my_auth_switch_parse((const uint8_t *)"\xfe", 1, &plugin, &data, &dlen) == WR_ERROR,
       "lone 0xFE refused");
    ok(my_auth_switch_parse((const uint8_t *)"\xfe"
                                             "abc",
                            4, &plugin, &data, &dlen) == WR_ERROR,
       "unterminated plugin refused");
    ok(my_auth_switch_parse((const uint8_t *)"\x00"
                                             "a\x00",
                            3, &plugin, &data, &dlen) == WR_ERROR,
       "not 0xFE refused");
    my_out_reset(&o);
    uint8_t fast = MY_SHA2_FAST_OK;
    my_out_auth_more_data(&o, 4, &fast, 1);
    ok(!o.failed && o.len == 6 && memcmp(o.data, "\x02\x00\x00\x04\x01\x03", 6) == 0,
       "AuthMoreData fast-auth-ok bytes");
    my_out_free(&o);
}

/* The switch to TLS: an SSLRequest, and what may follow it in the same read. */
static void test_tls_switch(void)
{
    uint8_t b[64] = {32, 0, 0, 1};
    uint64_t caps = CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION;
    for (int i = 0; i < 4; i++)
        b[4 + i] = (uint8_t)(caps >> (8 * i));
    size_t at = 0;
    uint8_t seq = 0;
    char err[128];
    is_int(my_tls_switch(b, 3, &at, &seq, err, sizeof(err)), WR_AGAIN, "no header yet: more");
    is_int(my_tls_switch(b, 20, &at, &seq, err, sizeof(err)), WR_AGAIN, "half a packet: more");
    is_int(my_tls_switch(b, 36, &at, &seq, err, sizeof(err)), WR_OK, "an SSLRequest alone");
    ok(at == 36 && seq == 1, "TLS begins after it (%zu), its sequence id (%u)", at, seq);
    b[36] = MY_TLS_HANDSHAKE;
    b[37] = 3;
    is_int(my_tls_switch(b, 40, &at, &seq, err, sizeof(err)), WR_OK,
           "an SSLRequest with its ClientHello behind it in one read");
    is_int(at, 36, "the ClientHello's bytes are the TLS session's");
    b[36] = 2;
    is_int(my_tls_switch(b, 40, &at, &seq, err, sizeof(err)), WR_ERROR,
           "plain text behind the SSLRequest is refused");
    ok(strstr(err, "not a TLS handshake") != NULL, "... saying so: %s", err);
    b[5] &= (uint8_t) ~(CLIENT_SSL >> 8);
    is_int(my_tls_switch(b, 36, &at, &seq, err, sizeof(err)), WR_DONE,
           "32 bytes without CLIENT_SSL: the login parser's to refuse");
    b[0] = 60;
    is_int(my_tls_switch(b, 64, &at, &seq, err, sizeof(err)), WR_DONE,
           "a longer packet is a login response");
}

int main(void)
{
    test_greeting();
    test_tls_switch();
    test_response();
    test_malformed();
    test_auth_switch();
    return done_testing();
}
