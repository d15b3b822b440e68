/* test_pg_login.c -- unit tests of weir's own PostgreSQL login (pg_login.h) against a server
 * played here with weir's own codecs: trust, cleartext, md5 with a password and with the hash,
 * SCRAM with a password and with the verifier's keys (against pg_auth.c's server side), input
 * split anywhere, and a hostile server's messages. */
#include <stdio.h>
#include <string.h>

#include "protocol/pg/pg_login.h"
#include "tests/tap.h"

static int nparams;
static void on_param(void *arg, const char *name, const char *value)
{
    (void)arg;
    (void)name;
    (void)value;
    nparams++;
}

/* The server's welcome after AuthenticationOk. */
static void welcome(struct pg_out *s)
{
    pg_out_auth(s, 0, NULL, 0);
    pg_out_param_status(s, "server_version", "15.0");
    pg_out_param_status(s, "client_encoding", "UTF8");
    pg_out_backend_key(s, 4242, 4343);
    pg_out_ready(s, 'I');
}

/* Feeds s to l one byte at a time (split anywhere); the client's answers into o. */
static int feed_bytewise(struct pg_login *l, struct pg_out *s, struct pg_out *o)
{
    size_t at = 0, have = 0;
    int rc = WR_AGAIN;
    while (rc == WR_AGAIN && have < s->len) {
        have++;
        size_t used;
        rc = pg_login_input(l, s->data + at, have - at, &used, o);
        at += used;
    }
    return rc;
}

static int feed(struct pg_login *l, struct pg_out *s, struct pg_out *o)
{
    size_t used;
    int rc = pg_login_input(l, s->data, s->len, &used, o);
    return rc;
}

/* The body of the last 'p' message in o (NUL-terminated copy), or "". */
static const char *last_p(struct pg_out *o, char *buf, size_t cap, size_t *blen)
{
    size_t at = 0;
    buf[0] = '\0';
    *blen = 0;
    while (at + 5 <= o->len) {
        uint32_t n = pg_get32(o->data + at + 1);
        if (o->data[at] == 'p' && n - 4 < cap) {
            memcpy(buf, o->data + at + 5, n - 4);
            buf[n - 4] = '\0';
            *blen = n - 4;
        }
        at += 1 + n;
    }
    return buf;
}

static void test_simple(void)
{
    struct pg_login l;
    struct pg_out s, o;
    char buf[512];
    size_t bl;

    pg_out_init(&s);
    pg_out_init(&o);
    pg_login_init(&l, "app", NULL, NULL, NULL, NULL);
    l.param = on_param;
    welcome(&s);
    nparams = 0;
    is_int(feed_bytewise(&l, &s, &o), WR_OK, "trust, fed a byte at a time: logged in");
    ok(l.pid == 4242 && l.key == 4343 && l.status == 'I' && nparams == 2,
       "pid, key, status and two parameters");
    is_str(l.method, "trust", "method trust");

    pg_out_reset(&s);
    pg_out_reset(&o);
    pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
    pg_out_auth(&s, 3, NULL, 0);
    welcome(&s);
    is_int(feed(&l, &s, &o), WR_OK, "cleartext: logged in");
    is_str(last_p(&o, buf, sizeof(buf), &bl), "apppass", "... with the password");

    uint8_t salt[4] = {1, 2, 3, 4};
    char secret[PG_MD5_LEN + 1];
    pg_md5_secret("apppass", "app", secret);
    for (int with_hash = 0; with_hash < 2; with_hash++) {
        pg_out_reset(&s);
        pg_out_reset(&o);
        pg_login_init(&l, "app", with_hash ? NULL : "apppass", with_hash ? secret : NULL, NULL,
                      NULL);
        pg_out_auth(&s, 5, salt, 4);
        welcome(&s);
        ok(feed(&l, &s, &o) == WR_OK, "md5 with the %s: logged in",
           with_hash ? "stored hash" : "password");
        ok(pg_md5_check(secret, salt, last_p(&o, buf, sizeof(buf), &bl)),
           "... and the server's check accepts the answer");
    }
    pg_out_free(&s);
    pg_out_free(&o);
}

/* A SCRAM exchange: l against pg_auth.c's server with the verifier of "secret-pw". */
static int scram_round(struct pg_login *l, struct scram_server *sv, bool wrong_sig)
{
    struct scram_secret sec;
    struct pg_out s, o;
    char buf[512], out[512];
    size_t bl, n;
    int rc = WR_ERROR;
    if (scram_secret_from_password("secret-pw", (const uint8_t *)"0123456789abcdef", 16, 4096,
                                   &sec) != WR_OK)
        return 99;
    pg_out_init(&s);
    pg_out_init(&o);
    memset(sv, 0, sizeof(*sv));
    static const char mechs[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
    pg_out_auth(&s, 10, mechs, sizeof(mechs));
    if (feed(l, &s, &o) != WR_AGAIN && (rc = 10))
        goto done;
    /* SASLInitialResponse: mechanism, int32 length, data */
    last_p(&o, buf, sizeof(buf), &bl);
    const char *data = buf + strlen(buf) + 1 + 4;
    size_t dlen = bl - (strlen(buf) + 1 + 4);
    if (scram_server_first(sv, &sec, (const uint8_t *)data, dlen, out, sizeof(out), &n) != WR_OK &&
        (rc = 11))
        goto done;
    pg_out_reset(&s);
    pg_out_reset(&o);
    pg_out_auth(&s, 11, out, n);
    if (feed(l, &s, &o) != WR_AGAIN && (rc = 12))
        goto done;
    last_p(&o, buf, sizeof(buf), &bl);
    int fr = scram_server_final(sv, (const uint8_t *)buf, bl, out, sizeof(out), &n);
    if (fr != WR_OK) {
        rc = fr == WR_DONE ? 13 : 14;
        goto done;
    }
    if (wrong_sig)
        out[5] = out[5] == 'A' ? 'B' : 'A';
    pg_out_reset(&s);
    pg_out_reset(&o);
    pg_out_auth(&s, 12, out, n);
    welcome(&s);
    rc = feed(l, &s, &o);
done:
    pg_out_free(&s);
    pg_out_free(&o);
    return rc;
}

static void test_scram(void)
{
    struct pg_login l;
    struct scram_server sv;
    pg_login_init(&l, "app", "secret-pw", NULL, NULL, NULL);
    is_int(scram_round(&l, &sv, false), WR_OK, "SCRAM with the password: logged in");
    is_str(l.method, "scram-sha-256", "method scram-sha-256");
    uint8_t ck[SCRAM_KEY_LEN];
    memcpy(ck, sv.client_key, sizeof(ck));
    pg_login_clear(&l);

    struct scram_secret sec;
    if (scram_secret_from_password("secret-pw", (const uint8_t *)"0123456789abcdef", 16, 4096,
                                   &sec) != WR_OK)
        diag("verifier");
    pg_login_init(&l, "app", NULL, NULL, ck, sec.server_key);
    is_int(scram_round(&l, &sv, false), WR_OK,
           "SCRAM pass-through: the ClientKey a client's proof gave, no password");
    pg_login_clear(&l);

    pg_login_init(&l, "app", "wrong-pw", NULL, NULL, NULL);
    is_int(scram_round(&l, &sv, false), 13, "a wrong password: the server's check fails");
    pg_login_init(&l, "app", "secret-pw", NULL, NULL, NULL);
    is_int(scram_round(&l, &sv, true), WR_ERROR, "a server with a wrong signature: refused");
    ok(strstr(l.error, "signature") != NULL, "... \"%s\"", l.error);
    pg_login_clear(&l);
}

static void test_hostile(void)
{
    struct pg_login l;
    struct pg_out s, o;
    pg_out_init(&s);
    pg_out_init(&o);

    pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
    pg_out_begin(&s, 'E');
    pg_out_str(&s, "SFATAL");
    pg_out_str(&s, "Mno SQLSTATE here");
    pg_out_byte(&s, 0);
    pg_out_end(&s);
    is_int(feed(&l, &s, &o), WR_ERROR, "an ErrorResponse without a SQLSTATE (CVE-2026-6666)");
    ok(!strcmp(l.sqlstate, "") && !strcmp(l.error, "no SQLSTATE here"),
       "... reported as it came: \"%s\", sqlstate \"%s\"", l.error, l.sqlstate);

    pg_out_reset(&s);
    pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
    static const char mechs[] = "SCRAM-SHA-256\0";
    pg_out_auth(&s, 10, mechs, sizeof(mechs));
    is_int(feed(&l, &s, &o), WR_AGAIN, "SCRAM asked: the client answered, waits for more");
    pg_out_reset(&s);
    static char huge[20000];
    memset(huge, 'A', sizeof(huge));
    memcpy(huge, "r=", 2);
    pg_out_auth(&s, 11, huge, sizeof(huge));
    int rc = WR_AGAIN;
    size_t used;
    rc = pg_login_input(&l, s.data, s.len, &used, &o);
    is_int(rc, WR_ERROR, "a server-first of 20 KB (CVE-2026-6665): refused");

    static const struct {
        uint32_t code;
        const char *why;
    } codes[] = {{7, "GSS"}, {9, "SSPI"}, {2, "Kerberos"}, {11, "SASLContinue before SASL"}};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        pg_out_reset(&s);
        pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
        pg_out_auth(&s, codes[i].code, "xxxx", 4);
        ok(feed(&l, &s, &o) == WR_ERROR, "auth request %u (%s): refused", codes[i].code,
           codes[i].why);
    }
    pg_out_reset(&s);
    pg_login_init(&l, "app", NULL, NULL, NULL, NULL);
    pg_out_auth(&s, 5, "abcd", 4);
    ok(feed(&l, &s, &o) == WR_ERROR && strstr(l.error, "md5"), "md5 without any secret: \"%s\"",
       l.error);
    pg_out_reset(&s);
    pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
    pg_out_param_status(&s, "server_version", "15");
    ok(feed(&l, &s, &o) == WR_ERROR, "ParameterStatus before AuthenticationOk: refused");
    pg_out_reset(&s);
    pg_login_init(&l, "app", "apppass", NULL, NULL, NULL);
    pg_out_auth(&s, 0, NULL, 0);
    pg_out_query(&s, "SELECT 1");
    ok(feed(&l, &s, &o) == WR_ERROR, "a message no server sends in a login: refused");
    pg_out_free(&s);
    pg_out_free(&o);
}

static void test_startup(void)
{
    struct pg_out o;
    pg_out_init(&o);
    static const char *const params[] = {"user", "app", "database", "shop", NULL};
    pg_out_startup(&o, params);
    static const uint8_t want[] = "\0\0\0\x20\0\x03\0\0user\0app\0database\0shop\0";
    ok(o.len == sizeof(want) && !memcmp(o.data, want, sizeof(want)), "the startup packet");
    pg_out_free(&o);
}

/* A DataRow of n text values (NULL for a SQL NULL). */
static void data_row(struct pg_out *s, int n, const char *const *v)
{
    pg_out_begin(s, 'D');
    pg_out_int16(s, (uint16_t)n);
    for (int i = 0; i < n; i++) {
        pg_out_int32(s, v[i] ? (uint32_t)strlen(v[i]) : 0xffffffffu);
        if (v[i])
            pg_out_bytes(s, v[i], strlen(v[i]));
    }
    pg_out_end(s);
}

/* The answer to weir's own query: the lookup's second column, the role's only one, errors. */
static void test_answer(void)
{
    struct pg_out s;
    pg_out_init(&s);
    static const char *const r1[] = {"app", "md5e8fb1bce2ad3a1e9b7af5c8ea50bf7d5"};
    static const char *const r2[] = {"old", NULL};
    static const char *const r3[] = {"nl", "a\nb"};
    pg_out_begin(&s, '1');
    pg_out_end(&s);
    data_row(&s, 2, r1);
    data_row(&s, 2, r2);
    data_row(&s, 2, r3);
    pg_out_begin(&s, 'C');
    pg_out_str(&s, "SELECT 3");
    pg_out_end(&s);
    pg_out_ready(&s, 'I');
    struct pg_answer a;
    pg_answer_init(&a);
    size_t at = 0, used;
    int rc = WR_AGAIN;
    for (size_t have = 1; rc == WR_AGAIN && have <= s.len; have++) {
        rc = pg_answer_input(&a, s.data + at, have - at, &used);
        at += used;
    }
    ok(rc == WR_OK && at == s.len, "a lookup's answer read byte by byte, to ReadyForQuery");
    is_str(a.rows, "md5e8fb1bce2ad3a1e9b7af5c8ea50bf7d5\n\n",
           "the second column a line each, a NULL as an empty line, a newline's row skipped");
    ok(!a.failed, "no error");

    pg_out_reset(&s);
    static const char *const role[] = {"t"};
    data_row(&s, 1, role);
    pg_out_error(&s, "ERROR", "42501", "permission denied for table pg_authid");
    pg_out_ready(&s, 'I');
    pg_answer_init(&a);
    rc = pg_answer_input(&a, s.data, s.len, &used);
    ok(rc == WR_OK && a.failed, "an error, then ReadyForQuery: the answer ends, failed");
    is_str(a.sqlstate, "42501", "... with its SQLSTATE");
    is_str(a.error, "permission denied for table pg_authid", "... and its message");
    is_str(a.rows, "t\n", "the row before it kept (a one-column row: its column)");

    pg_out_reset(&s);
    pg_out_begin(&s, 'D');
    pg_out_int16(&s, 2);
    pg_out_int32(&s, 1000);
    pg_out_bytes(&s, "ab", 2);
    pg_out_end(&s);
    pg_out_ready(&s, 'I');
    pg_answer_init(&a);
    rc = pg_answer_input(&a, s.data, s.len, &used);
    ok(rc == WR_OK && a.rows_len == 0, "a row whose value runs past its message keeps nothing");

    uint8_t big[5] = {'D', 0x7f, 0, 0, 0};
    pg_answer_init(&a);
    rc = pg_answer_input(&a, big, sizeof(big), &used);
    ok(rc == WR_ERROR && a.error[0], "a message longer than PG_ANSWER_MSG_MAX: refused");
    pg_out_free(&s);
}

int main(void)
{
    no_plan();
    test_startup();
    test_answer();
    test_simple();
    test_scram();
    test_hostile();
    return done_testing();
}
