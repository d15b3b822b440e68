/* test_pg_sql.c -- unit tests of the session keyword scan and the libpg_query classifier. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_sql.h"
#include "tests/tap.h"

/* A test name with printf arguments. */
static char nm[512];
#define NAME(...) (snprintf(nm, sizeof(nm), __VA_ARGS__), nm)

static unsigned scan(const char *q)
{
    return pg_sql_scan(q, strlen(q));
}

/* The scan fed one byte at a time gives the same answer as in one piece. */
static unsigned scan_bytewise(const char *q)
{
    struct pg_sql_scan s;
    pg_sql_scan_init(&s);
    for (const char *p = q; *p; p++)
        pg_sql_scan_feed(&s, p, 1);
    return pg_sql_scan_end(&s);
}

static void test_scan(void)
{
    static const char *const quiet[] = {
        "SELECT 1",
        "select * from t where x = 1",
        "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 5",
        "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2",
        "SELECT offset, dataset, asset FROM reset_log", /* words that contain keywords */
        "SELECT * FROM t LIMIT 5 OFFSET 10",
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1",
        "SELECT pg_advisory_xact_lock(1)",
        "select 'set x'",
        "SELECT 1 - -1",
        "",
    };
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
        is_int(scan(quiet[i]), 0, NAME("scan: quiet: %s", quiet[i]));
    static const char *const loud[] = {
        "SET search_path = app",
        "set search_path = app",
        "  \n\tReSeT ALL",
        "SELECT 1; SET x.y = 1",
        "SELECT 1;SET x.y = 1",
        "/* hello */ SET x.y = 1",
        "-- hello\nSET x.y = 1",
        "/* a /* nested */ comment */ LISTEN ch",
        "SELECT ';--' ; SET x.y = 1",             /* a "comment" that is a string */
        "SELECT '/*' ; SET x.y = 1; SELECT '*/'", /* idem, block */
        "SELECT $$; set x$$",                     /* a false alarm is fine: the parser knows */
        "CREATE TEMP TABLE t (x int)",
        "create temporary table t (x int)",
        "CREATE TABLE pg_temp.t (x int)",
        "SELECT set_config('x.y', '1', false)",
        "SELECT pg_catalog.set_config('x.y', '1', false)",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "SELECT pg_advisory_unlock_all()",
        "DISCARD ALL",
        "PREPARE p AS SELECT 1",
        "DEALLOCATE ALL",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "CLOSE ALL",
        "LOAD 'auto_explain'",
        "DO $$BEGIN PERFORM 1; END$$",
        "UNLISTEN *",
        "SELECT U&\"\\0073et_config\"('a.b', '1', false)", /* a name in Unicode escapes */
        "CREATE TABLE pg_temp_1234567890123456789012345678901234.t (x int)", /* a long word */
    };
    for (size_t i = 0; i < sizeof(loud) / sizeof(loud[0]); i++) {
        ok(scan(loud[i]) & PG_SQL_SESSION, "scan: flagged: %s", loud[i]);
        is_int(scan_bytewise(loud[i]), scan(loud[i]), NAME("scan: byte by byte: %s", loud[i]));
    }
    is_int(scan("BEGIN"), PG_SQL_TXN, "scan: BEGIN is transaction control");
    is_int(scan("commit"), PG_SQL_TXN, "scan: COMMIT");
    is_int(scan("ROLLBACK TO SAVEPOINT a"), PG_SQL_TXN, "scan: ROLLBACK TO");
    is_int(scan("SELECT 1; END"), PG_SQL_TXN, "scan: END after a statement");
    is_int(scan("SELECT begin_at FROM t"), 0, "scan: begin inside a name");
    is_int(scan("UPDATE t SET x = 1 /* ; */"), 0, "scan: SET of UPDATE after a comment");
    ok(scan("UPDATE t SET x = 1 /* ; */ ; SET y.z = 1") & PG_SQL_SESSION,
       "scan: statement after a comment with a semicolon");
    ok(scan("SELECT 1 /* x */ ; /* y */ -- z\n SET a.b = 1") & PG_SQL_SESSION,
       "scan: comments between statements");
}

/* Classifies q; the caller frees e. */
static void classify(const char *q, struct pg_sql_effects *e)
{
    if (pg_sql_classify(q, e) != WR_OK) {
        printf("Bail out! out of memory classifying %s\n", q);
        exit(1);
    }
}

static void test_set(void)
{
    struct pg_sql_effects e;
    classify("SET search_path = app, \"My Schema\"", &e);
    is_int(e.nops, 1, "SET: one op");
    is_int(e.ops[0].kind, PG_OP_SET, "SET: kind");
    is_str(e.ops[0].name, "search_path", "SET: name");
    is_str(e.ops[0].value, "'app', 'My Schema'", "SET: value list as literals");
    is_int(e.pin, 0, "SET: no pin");
    pg_sql_effects_free(&e);

    classify("set Statement_Timeout TO 5000", &e);
    is_str(e.ops[0].name, "statement_timeout", "SET: name lower-cased");
    is_str(e.ops[0].value, "5000", "SET: number as it is");
    pg_sql_effects_free(&e);

    classify("SET x.y = 'it''s \\ here'", &e);
    is_str(e.ops[0].value, "E'it''s \\\\ here'", "SET: quotes and backslashes");
    pg_sql_effects_free(&e);

    classify("SET LOCAL search_path = app", &e);
    is_int(e.nops, 0, "SET LOCAL: not recorded");
    pg_sql_effects_free(&e);

    classify("BEGIN; SET LOCAL statement_timeout = 1; SET work_mem = '8MB'; COMMIT", &e);
    is_int(e.nstmts, 4, "block in one text: four statements");
    is_int(e.nops, 3, "block in one text: BEGIN, SET, COMMIT");
    is_int(e.ops[0].kind, PG_OP_BEGIN, "block: BEGIN first");
    is_str(e.ops[1].name, "work_mem", "block: the session SET");
    is_int(e.ops[2].kind, PG_OP_COMMIT, "block: COMMIT last");
    pg_sql_effects_free(&e);

    classify("RESET search_path; RESET ALL; SET work_mem TO DEFAULT", &e);
    is_int(e.nops, 3, "RESET: three ops");
    is_int(e.ops[0].kind, PG_OP_RESET, "RESET name");
    is_str(e.ops[0].name, "search_path", "RESET: name");
    is_int(e.ops[1].kind, PG_OP_RESET_ALL, "RESET ALL");
    is_int(e.ops[2].kind, PG_OP_RESET, "SET ... TO DEFAULT is a RESET");
    pg_sql_effects_free(&e);

    classify("SELECT set_config('app.user', '42', false), set_config('app.t', 'x', true)", &e);
    is_int(e.nops, 1, "set_config: only the session one");
    is_str(e.ops[0].name, "app.user", "set_config: name");
    is_str(e.ops[0].value, "42", "set_config: the setting's own text");
    ok(e.ops[0].raw, "set_config: raw value");
    pg_sql_effects_free(&e);

    classify("SELECT U&\"\\0073et_config\"('app.user', '7', false)", &e);
    ok(e.nops == 1 && !strcmp(e.ops[0].name, "app.user"), "set_config in Unicode escapes: seen");
    pg_sql_effects_free(&e);

    classify("SELECT set_config('app.user', $1, false)", &e);
    ok(e.pin & PG_PIN_SET, "set_config with a parameter: pinned");
    pg_sql_effects_free(&e);

    classify("WITH x AS (SELECT set_config('search_path', 'a,b', false)) SELECT * FROM x", &e);
    is_int(e.nops, 1, "set_config in a CTE found");
    pg_sql_effects_free(&e);

    classify("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", &e);
    is_int(e.nops, 1, "SESSION CHARACTERISTICS: one setting");
    is_str(e.ops[0].name, "default_transaction_isolation", "SESSION CHARACTERISTICS: name");
    is_str(e.ops[0].value, "'serializable'", "SESSION CHARACTERISTICS: value");
    pg_sql_effects_free(&e);

    classify("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SET transaction_read_only = on", &e);
    is_int(e.nops, 0, "SET TRANSACTION: this transaction only");
    pg_sql_effects_free(&e);

    classify("SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE", &e);
    is_int(e.nops, 1, "SET TIME ZONE INTERVAL: one op");
    ok(e.ops[0].value == NULL, "SET TIME ZONE INTERVAL: value weir cannot write");
    pg_sql_effects_free(&e);
}

static void test_pins(void)
{
    static const struct {
        const char *q;
        unsigned pin;
    } cases[] = {
        {"CREATE TEMP TABLE t (x int)", PG_PIN_TEMP},
        {"CREATE TEMPORARY VIEW v AS SELECT 1", PG_PIN_TEMP},
        {"CREATE TABLE pg_temp.t (x int)", PG_PIN_TEMP},
        {"SELECT 1 INTO TEMP t", PG_PIN_TEMP},
        {"CREATE TEMP TABLE t AS SELECT 1", PG_PIN_TEMP},
        {"LISTEN ch", PG_PIN_LISTEN},
        {"PREPARE p (int) AS SELECT $1", PG_PIN_PREPARE},
        {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", PG_PIN_CURSOR},
        {"DECLARE c CURSOR FOR SELECT 1", 0},
        {"SELECT pg_advisory_lock(7)", PG_PIN_LOCK},
        {"SELECT pg_try_advisory_lock(7)", PG_PIN_LOCK},
        {"SELECT pg_advisory_lock_shared(7)", PG_PIN_LOCK},
        {"SELECT x FROM t WHERE pg_try_advisory_lock_shared(t.id)", PG_PIN_LOCK},
        {"SELECT pg_advisory_xact_lock(7)", 0},
        {"SET ROLE app", PG_PIN_ROLE},
        {"SET SESSION AUTHORIZATION app", PG_PIN_ROLE},
        {"SELECT set_config('role', 'app', false)", PG_PIN_ROLE},
        {"LOAD 'auto_explain'", PG_PIN_LOAD},
        {"DO $$BEGIN EXECUTE 'SET search_path = x'; END$$", PG_PIN_OTHER},
        {"DO $$BEGIN PERFORM 1; END$$", 0},
        {"select 'set x'", 0},
        {"SELECT 'CREATE TEMP TABLE x' AS t", 0},
        {"SELECT $$; SET ROLE x; $$", 0},
        {"/* SET ROLE x; */ SELECT 1", 0},
        {"SELECT 1 -- ; LISTEN x\n", 0},
        {"SELECT E'\\'; LISTEN x; --'", 0},
        {"SELECT 1; LISTEN x", PG_PIN_LISTEN},
        {"SELECT 1; /* c */ CREATE TEMP TABLE a (x int); LISTEN b", PG_PIN_TEMP | PG_PIN_LISTEN},
        {"SET search_path = pg_temp, public", PG_PIN_TEMP},
        {"SELECT set_config('search_path', 'PG_TEMP,public', false)", PG_PIN_TEMP},
        {"SET search_path = public", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pg_sql_effects e;
        classify(cases[i].q, &e);
        char got[128], want[128];
        is_str(pg_pin_names(e.pin, got, sizeof(got)),
               pg_pin_names(cases[i].pin, want, sizeof(want)), NAME("pins of: %s", cases[i].q));
        pg_sql_effects_free(&e);
    }
}

static void test_unpins(void)
{
    static const struct {
        const char *q;
        enum pg_sql_op_kind kind;
        unsigned unpin;
    } cases[] = {
        {"DISCARD ALL", PG_OP_DISCARD_ALL, 0},
        {"DISCARD TEMP", PG_OP_UNPIN, PG_PIN_TEMP},
        {"UNLISTEN *", PG_OP_UNPIN, PG_PIN_LISTEN},
        {"DEALLOCATE ALL", PG_OP_UNPIN, PG_PIN_PREPARE},
        {"DEALLOCATE PREPARE ALL", PG_OP_UNPIN, PG_PIN_PREPARE},
        {"CLOSE ALL", PG_OP_UNPIN, PG_PIN_CURSOR},
        {"SELECT pg_advisory_unlock_all()", PG_OP_UNPIN, PG_PIN_LOCK},
        {"ROLLBACK", PG_OP_ROLLBACK, 0},
        {"abort", PG_OP_ROLLBACK, 0},
        {"END", PG_OP_COMMIT, 0},
        {"ROLLBACK TO SAVEPOINT a", PG_OP_ROLLBACK_TO, 0},
        {"START TRANSACTION READ ONLY", PG_OP_BEGIN, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pg_sql_effects e;
        classify(cases[i].q, &e);
        ok(e.nops == 1 && e.ops[0].kind == cases[i].kind && e.ops[0].unpin == cases[i].unpin,
           "op of: %s", cases[i].q);
        pg_sql_effects_free(&e);
    }
    struct pg_sql_effects e;
    classify("UNLISTEN ch; DEALLOCATE p; CLOSE c", &e);
    is_int(e.nops, 0, "UNLISTEN ch, DEALLOCATE p, CLOSE c: other state may remain");
    pg_sql_effects_free(&e);
    classify("SELEC 1", &e);
    ok(e.unparsed, "a syntax error: unparsed");
    pg_sql_effects_free(&e);
}

static void test_quote(void)
{
    char out[64];
    size_t len = 0;
    pg_sql_quote_name(out, sizeof(out), &len, "myapp.user_id");
    is_str(out, "\"myapp\".\"user_id\"", "quote_name: dotted");
    len = 0;
    pg_sql_quote_name(out, sizeof(out), &len, "we\"ird");
    is_str(out, "\"we\"\"ird\"", "quote_name: quote doubled");
    len = 0;
    pg_sql_quote_literal(out, sizeof(out), &len, "a'b");
    is_str(out, "'a''b'", "quote_literal");
    len = 0;
    pg_sql_quote_literal(out, 4, &len, "abcdef");
    ok(len > 4, "quote_literal: overflow reported in len");
    char names[128];
    is_str(pg_pin_names(PG_PIN_TEMP | PG_PIN_LOCK, names, sizeof(names)), "temp,advisory_lock",
           "pin names");
}

int main(void)
{
    no_plan();
    test_scan();
    test_set();
    test_pins();
    test_unpins();
    test_quote();
    return done_testing();
}
