/* test_my_stmt.c -- unit tests of the COM_STMT_* heads and packets, the GET_LOCK scan and the
 * scan for what else pins (my_pin.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_pin.h"
#include "protocol/mysql/my_stmt.h"
#include "tests/tap.h"

static void test_prep_ok(void)
{
    const uint8_t ok12[] = {0x00, 7, 0, 0, 0, 2, 0, 3, 0, 0, 5, 0};
    struct my_prep_ok o;
    ok(my_prep_ok_parse(ok12, sizeof(ok12), &o) == WR_OK && o.stmt_id == 7 && o.ncols == 2 &&
           o.nparams == 3 && o.warnings == 5,
       "prepare OK: id 7, 2 columns, 3 parameters, 5 warnings");
    ok(my_prep_ok_parse(ok12, 9, &o) == WR_OK && o.warnings == 0, "9 bytes: no warning count");
    ok(my_prep_ok_parse(ok12, 8, &o) == WR_ERROR, "8 bytes: too short");
    const uint8_t err[] = {0xff, 0x28, 0x04, '#', '4', '2', '0', '0', '0', 'x', 'y', 'z'};
    ok(my_prep_ok_parse(err, sizeof(err), &o) == WR_ERROR, "an ERR is not a prepare OK");
}

/* An EXECUTE payload for statement id with n parameters; bound: types follow. */
static size_t exec_payload(uint8_t *p, uint32_t id, uint8_t flags, uint16_t n, bool bound)
{
    size_t k = 0;
    p[k++] = COM_STMT_EXECUTE;
    my_put_le(p + k, id, 4);
    k += 4;
    p[k++] = flags;
    my_put_le(p + k, 1, 4);
    k += 4;
    if (n == 0)
        return k;
    memset(p + k, 0, (n + 7) / 8);
    p[k] = 0x02; /* parameter 1 is NULL */
    k += (n + 7) / 8;
    p[k++] = bound;
    if (bound)
        for (uint16_t i = 0; i < n; i++) {
            p[k++] = 0x08; /* LONGLONG */
            p[k++] = i == 2 ? 0x80 : 0;
        }
    for (uint16_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++)
            p[k++] = (uint8_t)(i + 1);
    return k;
}

static void test_exec_head(void)
{
    uint8_t p[512];
    struct my_exec_head h;
    size_t n = exec_payload(p, 42, CURSOR_TYPE_READ_ONLY, 3, true);
    ok(my_exec_head_parse(p, n, (uint32_t)n, 3, &h) == WR_OK && h.stmt_id == 42 &&
           h.flags == CURSOR_TYPE_READ_ONLY && h.iterations == 1 && h.bound && h.bitmap_at == 10 &&
           h.types_at == 12 && h.head_len == 18 && h.types == p + 12,
       "EXECUTE with 3 typed parameters: head of 18 bytes, types at 12");
    for (size_t a = 0; a < h.head_len; a++) {
        struct my_exec_head g;
        int rc = my_exec_head_parse(p, a, (uint32_t)n, 3, &g);
        if (rc != WR_AGAIN) {
            ok(0, "a head cut after %zu bytes asks for more (got %d)", a, rc);
            break;
        }
        if (a == h.head_len - 1)
            ok(1, "a head cut anywhere asks for more");
    }
    ok(my_exec_head_parse(p, n, 15, 3, &h) == WR_ERROR, "types running past the payload: error");
    n = exec_payload(p, 42, 0, 3, false);
    ok(my_exec_head_parse(p, n, (uint32_t)n, 3, &h) == WR_OK && !h.bound && !h.types &&
           h.head_len == 12 && h.types_at == 12,
       "EXECUTE without types: head of 12 bytes");
    p[11] = 2;
    ok(my_exec_head_parse(p, n, (uint32_t)n, 3, &h) == WR_ERROR, "bound flag 2: error");
    n = exec_payload(p, 9, 0, 0, false);
    ok(my_exec_head_parse(p, n, (uint32_t)n, 0, &h) == WR_OK && h.head_len == 10,
       "no parameters: the fixed 10 bytes");
    ok(my_exec_head_parse(p, 9, 9, 0, &h) == WR_ERROR, "9 bytes: too short");
    p[0] = COM_STMT_FETCH;
    ok(my_exec_head_parse(p, n, (uint32_t)n, 0, &h) == WR_ERROR, "another command: error");
    /* 9 parameters: a 2-byte null bitmap. */
    n = exec_payload(p, 1, 0, 9, true);
    ok(my_exec_head_parse(p, n, (uint32_t)n, 9, &h) == WR_OK && h.types_at == 13 &&
           h.head_len == 13 + 18,
       "9 parameters: 2-byte bitmap, types at 13");
}

static void test_exec_rewrite(void)
{
    uint8_t p[256], typed[256], out[256];
    size_t n = exec_payload(p, 5, 0, 3, false);
    size_t nt = exec_payload(typed, 77, 0, 3, true);
    struct my_exec_head h;
    ok(my_exec_head_parse(p, n, (uint32_t)n, 3, &h) == WR_OK, "untyped head parsed");
    uint8_t types[6];
    memcpy(types, typed + 12, 6);
    uint32_t len = my_exec_head_with_types(out, &h, p, 77, types);
    ok(len == my_exec_head_typed_len(&h) && len == 18, "types put in: head of 18 bytes");
    /* The new head and the original values make the typed packet for id 77. */
    memcpy(out + len, p + h.head_len, n - h.head_len);
    ok(len + n - h.head_len == nt && !memcmp(out, typed, nt),
       "head with types + values = what a client sending types would have sent");
    /* A typed head only gets its id. */
    ok(my_exec_head_parse(typed, nt, (uint32_t)nt, 3, &h) == WR_OK, "typed head parsed");
    len = my_exec_head_with_types(out, &h, typed, 5, types);
    ok(len == 18 && my_get32(out + 1) == 5 && !memcmp(out + 5, typed + 5, 13),
       "a typed head keeps its types, id 5");
    /* In place (dst == orig) works: the head only grows after its own bytes. */
    uint8_t q[256];
    memcpy(q, p, n);
    ok(my_exec_head_parse(q, n, (uint32_t)n, 3, &h) == WR_OK, "parsed again");
    len = my_exec_head_with_types(q, &h, q, 77, types);
    ok(len == 18 && !memcmp(q, typed, 18), "rewritten in place");
}

static void test_bulk(void)
{
    uint8_t p[64] = {COM_STMT_BULK_EXECUTE, 3, 0, 0, 0, 0x80, 0, 0x08, 0, 0x0f, 0};
    struct my_exec_head h;
    ok(my_exec_head_parse(p, 20, 20, 2, &h) == WR_OK && h.bound && h.types == p + 7 &&
           h.head_len == 11 && h.stmt_id == 3,
       "BULK_EXECUTE with types: head of 11 bytes");
    p[5] = 0;
    ok(my_exec_head_parse(p, 20, 20, 2, &h) == WR_OK && !h.bound && h.head_len == 7,
       "BULK_EXECUTE without types: head of 7 bytes");
    uint8_t out[64];
    const uint8_t types[4] = {0x08, 0, 0x0f, 0};
    uint32_t len = my_exec_head_with_types(out, &h, p, 9, types);
    ok(len == 11 && my_get32(out + 1) == 9 && my_get16(out + 5) == MY_BULK_SEND_TYPES &&
           !memcmp(out + 7, types, 4),
       "types put in: the send-types flag set");
}

static void test_small(void)
{
    const uint8_t ld[] = {COM_STMT_SEND_LONG_DATA, 4, 0, 0, 0, 1, 0, 'x'};
    uint32_t id = 0, rows = 0;
    uint16_t param = 9;
    ok(my_long_data_parse(ld, sizeof(ld), &id, &param) == WR_OK && id == 4 && param == 1,
       "SEND_LONG_DATA: statement 4, parameter 1");
    ok(my_long_data_parse(ld, 6, &id, &param) == WR_ERROR, "SEND_LONG_DATA head cut: error");
    const uint8_t close5[] = {COM_STMT_CLOSE, 1, 2, 0, 0};
    ok(my_stmt_id_parse(close5, 5, &id, NULL) == WR_OK && id == 0x201, "CLOSE: id");
    ok(my_stmt_id_parse(close5, 4, &id, NULL) == WR_ERROR, "CLOSE of 4 bytes: error");
    const uint8_t fetch[] = {COM_STMT_FETCH, 3, 0, 0, 0, 10, 0, 0, 0};
    ok(my_stmt_id_parse(fetch, 9, &id, &rows) == WR_OK && id == 3 && rows == 10,
       "FETCH: id and rows");
    ok(my_stmt_id_parse(fetch, 5, &id, &rows) == WR_ERROR, "FETCH of 5 bytes: error");
    const uint8_t reset[] = {COM_STMT_RESET, 6, 0, 0, 0, 0};
    ok(my_stmt_id_parse(reset, 5, &id, NULL) == WR_OK && id == 6, "RESET: id");
    ok(my_stmt_id_parse(reset, 6, &id, NULL) == WR_ERROR, "RESET of 6 bytes: error");
    ok(my_stmt_id_parse(ld, 5, &id, NULL) == WR_ERROR, "another command: error");
    ok(my_stmt_command(COM_STMT_PREPARE) && my_stmt_command(COM_STMT_FETCH) &&
           my_stmt_command(COM_STMT_BULK_EXECUTE) && !my_stmt_command(COM_SET_OPTION) &&
           !my_stmt_command(COM_QUERY),
       "statement commands");
}

static void test_builders(void)
{
    struct my_out o;
    my_out_init(&o);
    my_out_stmt_prepare(&o, "SELECT 1", 8);
    my_out_stmt_close(&o, 0x01020304);
    my_out_stmt_long_data(&o, 5, 2, "abc", 3);
    my_out_init_db(&o, "shop", 4);
    const uint8_t want[] = {9,   0, 0,    0, 0x16, 'S',  'E', 'L', 'E', 'C', 'T', ' ',
                            '1', 5, 0,    0, 0,    0x19, 4,   3,   2,   1,   10,  0,
                            0,   0, 0x18, 5, 0,    0,    0,   2,   0,   'a', 'b', 'c',
                            5,   0, 0,    0, 0x02, 's',  'h', 'o', 'p'};
    ok(!o.failed && o.len == sizeof(want) && !memcmp(o.data, want, sizeof(want)),
       "PREPARE, CLOSE, SEND_LONG_DATA, INIT_DB packets (sequence id 0)");
    my_out_free(&o);
}

static bool lock_in(const char *s)
{
    return my_has_get_lock((const uint8_t *)s, strlen(s));
}

/* Feeds s in pieces of `step` bytes. */
static bool lock_pieces(const char *s, size_t step)
{
    struct my_lock_scan st = {{0}, 0};
    bool found = false;
    for (size_t at = 0, n = strlen(s); at < n; at += step)
        found |= my_lock_scan_feed(&st, (const uint8_t *)s + at, n - at < step ? n - at : step);
    return found;
}

static void test_lock(void)
{
    static const struct {
        const char *sql;
        bool lock;
    } cases[] = {
        {"SELECT GET_LOCK('x', 10)", true},
        {"select get_lock('x', 0)", true},
        {"DO Get_Lock(@n, 1)", true},
        {"GET_LOCK", true},
        {"xGET_LOCKx", true},
        {"SELECT IS_FREE_LOCK('x')", false},
        {"SELECT RELEASE_LOCK('x')", false},
        {"SELECT RELEASE_ALL_LOCKS()", false},
        {"SELECT IS_USED_LOCK('x')", false},
        {"LOCK TABLES t WRITE", false},
        {"SELECT 'get lock', 'getlock', 'get__lock', 'get_loc'", false},
        {"GET_LOC", false},
        {"ET_LOCK", false},
        {"_LOCK", false},
        {"GET_", false},
        {"", false},
        {"get_loK", false},
        {"SELECT a_b_c FROM get_t WHERE x_lock = 1", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(lock_in(cases[i].sql) == cases[i].lock, "GET_LOCK in \"%s\": %s", cases[i].sql,
           cases[i].lock ? "yes" : "no");
    }
    /* Every way to cut the text in two, and pieces of every size. */
    const char *sql = "SELECT 1, GET_LOCK('name', 5), 2";
    bool all = true;
    for (size_t step = 1; step <= strlen(sql); step++)
        all &= lock_pieces(sql, step);
    ok(all, "found whatever the size of the pieces");
    bool none = false;
    const char *no = "SELECT GET LOCK, GET_LOC, _LOCK, GETLOCK";
    for (size_t step = 1; step <= strlen(no); step++)
        none |= lock_pieces(no, step);
    ok(!none, "a look-alike is never found in pieces");
    /* Not NUL-terminated: the length bounds the scan. */
    const uint8_t buf[] = {'G', 'E', 'T', '_', 'L', 'O', 'C', 'K'};
    ok(!my_has_get_lock(buf, 7), "length bounds the text");
}

/* What pins s, fed in pieces of `step` bytes and ended. */
static enum my_pin_why pin_pieces(const char *s, size_t step)
{
    struct my_pin_scan st;
    my_pin_scan_init(&st);
    for (size_t at = 0, n = strlen(s); at < n; at += step)
        if (my_pin_scan_feed(&st, (const uint8_t *)s + at, n - at < step ? n - at : step))
            return (enum my_pin_why)st.pin;
    return my_pin_scan_end(&st);
}

static void test_pin(void)
{
    enum { N = MY_PIN_NONE, V = MY_PIN_USER_VAR, S = MY_PIN_STATEMENT };
    static const struct {
        const char *sql;
        int why;
    } cases[] = {
        {"SET @v = 1", V},
        {"set @v=1", V},
        {"SET @v = @@sql_mode, sql_mode = 'ANSI'", V},
        {"SET sql_mode = 'ANSI', @v = 2", V},
        {"SELECT @v := 1", V},
        {"SELECT @v:=1", V},
        {"SELECT @`v w` := 1", V},
        {"SELECT @'v' := 1", V},
        {"UPDATE t SET c = (@n := @n + 1)", V},
        {"SELECT 1 INTO @v", V},
        {"SELECT a, b FROM t LIMIT 1 INTO @a, @b", V},
        {"SELECT 1 INTO\n  @v", V},
        {"select 1 into @`v`", V},
        {"CALL p(@out)", V},
        {"LOAD DATA INFILE 'f' INTO TABLE t (@c) SET x = @c", V},
        {"SELECT 1; SET @v = 2", V},
        {"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", V},
        {"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY */", V},
        {"/* a comment */ SET @v = 1", V},
        {"-- a comment\nSET @v = 1", V},
        {"# a comment\nSET @v = 1", V},
        {"SELECT 'it''s', \"q\\\"\" INTO @v", V},
        {"LOCK TABLES t WRITE", S},
        {"lock table t read", S},
        {"FLUSH TABLES WITH READ LOCK", S},
        {"BACKUP LOCK t", S},
        {"HANDLER t OPEN", S},
        {"XA START 'x'", S},
        {"EXECUTE IMMEDIATE 'SET @v = 1'", S},
        {"SELECT 1; LOCK TABLES t WRITE", S},
        {"SELECT @v", N},
        {"SELECT @v = 1", N},
        {"SELECT * FROM t WHERE c = @v", N},
        {"SELECT @@sql_mode", N},
        {"SELECT @@session.sql_mode INTO OUTFILE '/tmp/x'", N},
        {"SET sql_mode = 'ANSI'", N},
        {"SET @@session.sql_mode = 'ANSI'", N},
        {"SET NAMES utf8mb4 COLLATE utf8mb4_bin", N},
        {"SET CHARACTER SET latin1", S},
        {"SET CHARSET latin1", S},
        {"SET NAMES utf8mb4 COLLATE = x", S},
        {"SET NAMES utf8mb4 COLLATE 'a\\b'", S},
        {"INSERT INTO users (email) VALUES ('bob@example.com')", N},
        {"INSERT INTO t VALUES ('SET @v = 1; LOCK TABLES', \"@x := 1\")", N},
        {"SELECT 1 /* SET @v = 1 */", N},
        {"SELECT 1 -- INTO @v", N},
        {"SELECT 1 # LOCK TABLES", N},
        {"SELECT `@v` FROM t", N},
        {"SELECT 'a\\' INTO @v' FROM t", N},
        {"EXECUTE s USING @v", N},
        {"SELECT 1 /*Mx SET @v = 1 */", N},
        {"UNLOCK TABLES", N},
        {"SELECT c FROM t FOR UPDATE", N},
        {"SELECT 5--3", N},
        {"", N},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *sql = cases[i].sql;
        char name[128];
        snprintf(name, sizeof(name), "%s", sql);
        for (char *q = name; *q; q++)
            if (*q == '\n')
                *q = ' '; /* one TAP line */
        ok(my_pin_text((const uint8_t *)sql, strlen(sql)) == (enum my_pin_why)cases[i].why,
           "\"%s\" pins: %s", name,
           cases[i].why == V   ? "user variable"
           : cases[i].why == S ? "statement"
                               : "no");
        bool same = true;
        for (size_t step = 1; step <= strlen(sql); step++)
            same &= pin_pieces(sql, step) == (enum my_pin_why)cases[i].why;
        ok(same, "  the same in pieces of every size");
    }
    /* SET NAMES: noted, with its collation, whatever the pieces. */
    static const struct {
        const char *sql, *collate;
    } names[] = {
        {"SET NAMES utf8mb4", ""},
        {"set names utf8mb3 collate utf8mb3_general_mysql500_ci", "utf8mb3_general_mysql500_ci"},
        {"SET NAMES 'utf8mb4' COLLATE 'utf8mb4_bin'", "utf8mb4_bin"},
        {"SET NAMES `latin1` COLLATE `latin1_bin`;", "latin1_bin"},
        {"SET NAMES utf8mb4 COLLATE DEFAULT", ""},
        {"SET NAMES latin1 COLLATE latin1_bin, NAMES utf8mb4", ""},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *sql = names[i].sql;
        bool same = true;
        for (size_t step = 1; step <= strlen(sql); step++) {
            struct my_pin_scan st;
            my_pin_scan_init(&st);
            for (size_t at = 0, n = strlen(sql); at < n; at += step)
                (void)my_pin_scan_feed(&st, (const uint8_t *)sql + at,
                                       n - at < step ? n - at : step);
            same &= my_pin_scan_end(&st) == MY_PIN_NONE && st.names &&
                    !strcmp(st.collate, names[i].collate);
        }
        ok(same, "\"%s\": SET NAMES, collation \"%s\", in pieces of every size", sql,
           names[i].collate);
    }
    /* Not NUL-terminated: the length bounds the text. */
    const uint8_t buf[] = {'S', 'E', 'T', ' ', '@', 'v'};
    ok(my_pin_text(buf, 4) == MY_PIN_NONE, "length bounds the text");
    ok(my_pin_text(buf, 6) == MY_PIN_USER_VAR, "  and the whole of it pins");
}

int main(void)
{
    test_prep_ok();
    test_exec_head();
    test_exec_rewrite();
    test_bulk();
    test_small();
    test_builders();
    test_lock();
    test_pin();
    return done_testing();
}
