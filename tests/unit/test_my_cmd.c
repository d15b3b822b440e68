/* test_my_cmd.c -- unit tests of KILL recognition, COM_PROCESS_KILL and COM_CHANGE_USER parsing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/mysql/my_cmd.h"
#include "tests/tap.h"

static enum my_kill_kind kill_of(const char *sql, uint64_t *id)
{
    *id = 0;
    return my_kill_parse((const uint8_t *)sql, strlen(sql), id);
}

static void test_kill(void)
{
    static const struct {
        const char *sql;
        enum my_kill_kind kind;
        uint64_t id;
    } cases[] = {
        {"KILL 5", MY_KILL_CONNECTION, 5},
        {"kill query 16777217", MY_KILL_QUERY, 16777217},
        {"  Kill\tConnection\n42 ;; ", MY_KILL_CONNECTION, 42},
        {"KILL HARD QUERY 7;", MY_KILL_QUERY, 7},
        {"KILL SOFT 8", MY_KILL_CONNECTION, 8},
        {"KILL QUERY 18446744073709551615", MY_KILL_QUERY, UINT64_MAX},
        {"KILL QUERY 18446744073709551616", MY_KILL_OTHER, 0},
        {"KILL USER app", MY_KILL_OTHER, 0},
        {"KILL QUERY ID 5", MY_KILL_OTHER, 0},
        {"KILL CONNECTION_ID()", MY_KILL_OTHER, 0},
        {"KILL 5 6", MY_KILL_OTHER, 0},
        {"KILL 5x", MY_KILL_OTHER, 0},
        {"KILL -5", MY_KILL_OTHER, 0},
        {"KILL /* c */ 5", MY_KILL_OTHER, 0},
        {"KILL", MY_KILL_OTHER, 0},
        {"KILL;", MY_KILL_OTHER, 0},
        {"KILLER 5", MY_KILL_NONE, 0},
        {"SELECT 'KILL 5'", MY_KILL_NONE, 0},
        {"/* x */ KILL 5", MY_KILL_NONE, 0},
        {"", MY_KILL_NONE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t id;
        enum my_kill_kind k = kill_of(cases[i].sql, &id);
        ok(k == cases[i].kind && (k == MY_KILL_OTHER || k == MY_KILL_NONE || id == cases[i].id),
           "KILL parse \"%s\": kind %d (want %d), id %llu", cases[i].sql, k, cases[i].kind,
           (unsigned long long)id);
    }
    char long_sql[MY_KILL_MAX_LEN + 20];
    memset(long_sql, ' ', sizeof(long_sql));
    memcpy(long_sql + sizeof(long_sql) - 7, "KILL 5", 6);
    long_sql[sizeof(long_sql) - 1] = 0;
    uint64_t id;
    ok(kill_of(long_sql, &id) == MY_KILL_NONE,
       "a statement longer than MY_KILL_MAX_LEN is not KILL");
    /* Not NUL-terminated: the parser stays inside its length. */
    uint8_t buf[] = {'K', 'I', 'L', 'L', ' ', '9', '9'};
    ok(my_kill_parse(buf, 6, &id) == MY_KILL_CONNECTION && id == 9, "length bounds the text");
}

static void test_process_kill(void)
{
    uint8_t p[] = {COM_PROCESS_KILL, 0x01, 0x00, 0x00, 0x02};
    uint32_t id = 0;
    ok(my_process_kill_parse(p, sizeof(p), &id) == WR_OK && id == 0x02000001,
       "COM_PROCESS_KILL id little-endian");
    ok(my_process_kill_parse(p, 4, &id) == WR_ERROR, "COM_PROCESS_KILL too short");
    uint8_t q[] = {COM_QUERY, 1, 0, 0, 0};
    ok(my_process_kill_parse(q, sizeof(q), &id) == WR_ERROR, "not COM_PROCESS_KILL");
}

static void test_change_user(void)
{
    uint64_t caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
    struct my_change_user cu;
    char err[100];
    static const uint8_t full[] = "\x11"
                                  "bob\0"
                                  "\x03"
                                  "abc"
                                  "shop\0"
                                  "\x2d\x00"
                                  "mysql_native_password\0";
    ok(my_change_user_parse(full, sizeof(full) - 1, caps, &cu, err, sizeof(err)) == WR_OK,
       "COM_CHANGE_USER parses");
    ok(!strcmp(cu.user, "bob") && cu.auth_len == 3 && !memcmp(cu.auth, "abc", 3) &&
           !strcmp(cu.database, "shop") && cu.has_charset && cu.charset == 45 && cu.plugin &&
           !strcmp(cu.plugin, "mysql_native_password"),
       "COM_CHANGE_USER fields");
    static const uint8_t bare[] = "\x11"
                                  "bob\0"
                                  "\x00"
                                  "\0";
    ok(my_change_user_parse(bare, sizeof(bare) - 1, caps, &cu, err, sizeof(err)) == WR_OK &&
           cu.auth_len == 0 && !cu.database[0] && !cu.has_charset && !cu.plugin,
       "COM_CHANGE_USER without charset and plugin (old clients)");
    static const uint8_t nul_auth[] = "\x11"
                                      "bob\0"
                                      "tok\0"
                                      "db\0";
    ok(my_change_user_parse(nul_auth, sizeof(nul_auth) - 1, CLIENT_PROTOCOL_41, &cu, err,
                            sizeof(err)) == WR_OK &&
           cu.auth_len == 3 && !strcmp(cu.database, "db"),
       "COM_CHANGE_USER with a NUL-terminated token (no CLIENT_SECURE_CONNECTION)");
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
    } bad[] = {
        {"empty", "", 0},
        {"not COM_CHANGE_USER", "\x03x\0\0\0", 5},
        {"user unterminated",
         "\x11"
         "bob",
         4},
        {"auth past the end",
         "\x11"
         "bob\0\x14"
         "ab",
         8},
        {"database unterminated",
         "\x11"
         "bob\0\x00"
         "db",
         8},
        {"plugin unterminated",
         "\x11"
         "bob\0\x00"
         "db\0\x2d\x00"
         "mysql",
         16},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        ok(my_change_user_parse((const uint8_t *)bad[i].bytes, bad[i].len, caps, &cu, err,
                                sizeof(err)) == WR_ERROR &&
               err[0],
           "bad COM_CHANGE_USER (%s): %s", bad[i].name, err);
    }
}

static int use_of(const char *payload, size_t len, char *name)
{
    name[0] = 0;
    return my_use_parse((const uint8_t *)payload, len, name);
}

static void test_use(void)
{
    char name[MY_DB_NAME_MAX + 1];
    ok(use_of("\x02shop", 5, name) == WR_OK && !strcmp(name, "shop"), "COM_INIT_DB shop");
    is_int(use_of("\x02", 1, name), WR_ERROR, "COM_INIT_DB without a name");
    is_int(use_of("\x02"
                  "a\0b",
                  4, name),
           WR_ERROR, "COM_INIT_DB with a NUL in the name");
    static const struct {
        const char *sql;
        int rc;
        const char *name;
    } cases[] = {
        {"USE shop", WR_OK, "shop"},
        {"  use\tshop ;; ", WR_OK, "shop"},
        {"Use `my db`", WR_OK, "my db"},
        {"USE `a``b`;", WR_OK, "a`b"},
        {"USE`shop`", WR_OK, "shop"},
        {"USE \xd1\x82\xd0\xb5\xd1\x81\xd1\x82", WR_OK, "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82"},
        {"USE shop; SELECT 1", WR_DONE, NULL},
        {"USER shop", WR_DONE, NULL},
        {"SELECT 1", WR_DONE, NULL},
        {"/* c */ USE shop", WR_DONE, NULL},
        {"USE", WR_ERROR, NULL},
        {"USE `shop", WR_ERROR, NULL},
        {"USE ``", WR_ERROR, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char payload[300];
        size_t len = strlen(cases[i].sql);
        payload[0] = 0x03;
        memcpy(payload + 1, cases[i].sql, len);
        int rc = use_of(payload, len + 1, name);
        ok(rc == cases[i].rc && (!cases[i].name || !strcmp(name, cases[i].name)),
           "COM_QUERY '%s' -> %d '%s'", cases[i].sql, rc, name);
    }
    char longer[MY_DB_NAME_MAX + 8] = "\x03USE ";
    memset(longer + 5, 'a', MY_DB_NAME_MAX + 1);
    is_int(use_of(longer, 5 + MY_DB_NAME_MAX + 1, name), WR_ERROR, "a name past 256 bytes");
    is_int(use_of("\x0e", 1, name), WR_DONE, "COM_PING is no USE");
}

/* COM_CHANGE_USER as weir sends it parses back as a client's. */
static void test_change_user_out(void)
{
    uint8_t token[20];
    for (int i = 0; i < 20; i++)
        token[i] = (uint8_t)(i * 7);
    struct my_change_user cu = {.user = "bob",
                                .auth = token,
                                .auth_len = 20,
                                .database = "shop",
                                .has_charset = true,
                                .charset = 45,
                                .plugin = MY_NATIVE_PLUGIN};
    uint64_t caps = CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;
    struct my_out o;
    my_out_init(&o);
    my_out_change_user(&o, &cu, caps);
    ok(!o.failed && o.len > 4 && o.data[3] == 0, "built, sequence id 0");
    struct my_change_user back;
    char err[100];
    ok(my_change_user_parse(o.data + 4, o.len - 4, caps, &back, err, sizeof(err)) == WR_OK,
       "parses back");
    ok(!strcmp(back.user, "bob") && back.auth_len == 20 && !memcmp(back.auth, token, 20) &&
           !strcmp(back.database, "shop") && back.has_charset && back.charset == 45 &&
           back.plugin && !strcmp(back.plugin, MY_NATIVE_PLUGIN),
       "every field as given");
    ok(o.data[o.len - 1] == 0, "an empty set of attributes last");
    my_out_free(&o);
}

int main(void)
{
    test_change_user_out();
    test_kill();
    test_process_kill();
    test_change_user();
    test_use();
    return done_testing();
}
