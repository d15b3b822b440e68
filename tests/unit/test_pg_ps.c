/* test_pg_ps.c -- unit tests of the Parse/Bind/Describe/Close codecs, statement identities,
 * DEALLOCATE recognition and the server statement cache (LRU). */
#include <stdio.h>
#include <string.h>

#include "pooler/pool/ps_cache.h"
#include "protocol/pg/pg_ps.h"
#include "tests/tap.h"

#define LIT(s) (const uint8_t *)s, sizeof(s) - 1

static void test_parse(void)
{
    struct pg_parse p;
    static const char ok1[] = "s1\0SELECT $1\0\0\1\0\0\0\x17";
    ok(pg_parse_read((const uint8_t *)ok1, sizeof(ok1) - 1, &p) == WR_OK, "Parse with one type");
    is_str(p.name, "s1", "... name");
    is_str(p.query, "SELECT $1", "... query");
    is_int(p.nparams, 1, "... one parameter type");
    is_int(p.tail_len, sizeof(ok1) - 1 - 3, "... tail from the query to the end");
    ok(pg_parse_read(LIT("\0SELECT 1\0\0\0"), &p) == WR_OK && !p.name[0], "unnamed Parse");
    ok(pg_parse_read(LIT("s1\0SELECT 1\0\0\1"), &p) == WR_ERROR, "types shorter than the count");
    ok(pg_parse_read(LIT("s1\0SELECT 1\0\0\0\0"), &p) == WR_ERROR, "a byte after the types");
    ok(pg_parse_read(LIT("s1\0SELECT 1"), &p) == WR_ERROR, "unterminated query");
    ok(pg_parse_read(LIT("s1"), &p) == WR_ERROR, "unterminated name");

    const char *name;
    uint32_t n;
    ok(pg_body_name(LIT("abc\0rest"), 8, &name, &n) == WR_OK && n == 3, "first name found");
    ok(pg_body_name((const uint8_t *)"ab", 2, 10, &name, &n) == WR_AGAIN, "name cut: more bytes");
    ok(pg_body_name((const uint8_t *)"ab", 2, 2, &name, &n) == WR_ERROR, "name past the body");
    ok(pg_body_name((const uint8_t *)"", 0, 0, &name, &n) == WR_ERROR, "empty body");
}

static void test_bind_target(void)
{
    struct pg_bind_head h;
    static const char b[] = "p\0st\0\0\0\0\0\0\0";
    ok(pg_bind_head((const uint8_t *)b, sizeof(b) - 1, sizeof(b) - 1, &h) == WR_OK, "Bind head");
    is_str(h.portal, "p", "... portal");
    is_str(h.stmt, "st", "... statement");
    is_int(h.prefix_len, 5, "... both names take 5 bytes");
    is_int(h.stmt_off, 2, "... statement at 2");
    ok(pg_bind_head((const uint8_t *)b, 3, sizeof(b) - 1, &h) == WR_AGAIN, "cut in a name");
    ok(pg_bind_head((const uint8_t *)"p\0st\0\0\0", 7, 7, &h) == WR_ERROR, "counts missing");
    ok(pg_bind_head((const uint8_t *)"p\0st", 4, 4, &h) == WR_ERROR, "name running off the end");

    char kind;
    const char *name;
    ok(pg_target_read(LIT("Sname\0"), &kind, &name) == WR_OK && kind == 'S' &&
           !strcmp(name, "name"),
       "Describe/Close of a statement");
    ok(pg_target_read(LIT("P\0"), &kind, &name) == WR_OK && kind == 'P', "unnamed portal");
    ok(pg_target_read(LIT("Xn\0"), &kind, &name) == WR_ERROR, "bad kind");
    ok(pg_target_read(LIT("Sa\0b\0"), &kind, &name) == WR_ERROR, "bytes after the name");
    ok(pg_target_read(LIT("Sab"), &kind, &name) == WR_ERROR, "unterminated");
}

static void test_ids(void)
{
    uint8_t a[PG_PS_ID_LEN], b[PG_PS_ID_LEN], c[PG_PS_ID_LEN];
    pg_ps_id(LIT("SELECT 1\0\0\0"), a);
    pg_ps_id(LIT("SELECT 1\0\0\0"), b);
    pg_ps_id(LIT("SELECT 1\0\0\1\0\0\0\x17"), c);
    ok(!memcmp(a, b, PG_PS_ID_LEN), "same text and types: same identity");
    ok(memcmp(a, c, PG_PS_ID_LEN), "other types: another identity");
    char name[PG_PS_NAME_LEN];
    pg_ps_name(a, name);
    is_int(strlen(name), 37, "server name: weir_ and 32 hex digits");
    ok(!strncmp(name, "weir_", 5) && strspn(name + 5, "0123456789abcdef") == 32, "... %s", name);
    ok(strncmp(name, PG_PS_NONE, 6) && strncmp(name, PG_PS_DUP, 6),
       "... never one of weir's reserved names");

    struct pg_out o;
    pg_out_init(&o);
    pg_out_bind_head(&o, "", "weir_x", 6);
    ok(o.len == 5 + 8 && o.data[0] == 'B' && pg_get32(o.data + 1) == 4 + 8 + 6,
       "Bind head: the length counts the body bytes that follow");
    pg_out_free(&o);
}

static void test_sql(void)
{
    bool more;
    ok(pg_ps_maybe_deallocate("DEALLOCATE x", 12, &more), "DEALLOCATE");
    ok(pg_ps_maybe_deallocate("  /* c /* nested */ */ -- x\n discard all", 40, &more),
       "comments and blanks before DISCARD");
    ok(pg_ps_maybe_deallocate("deAllocate\tall", 14, &more), "any case");
    ok(!pg_ps_maybe_deallocate("SELECT 1", 8, &more) && !more, "SELECT: no");
    ok(!pg_ps_maybe_deallocate("deallocated", 11, &more) && !more, "a longer word: no");
    ok(!pg_ps_maybe_deallocate("DEALLOC", 7, &more) && more, "cut inside the word: more");
    ok(!pg_ps_maybe_deallocate("   ", 3, &more) && more, "only blanks, unterminated: more");
    ok(!pg_ps_maybe_deallocate("  \0", 3, &more) && !more, "only blanks, ended: no");
    ok(!pg_ps_maybe_deallocate("/* open", 7, &more) && more, "open comment: more");

    char name[64];
    is_int(pg_ps_classify_sql("DEALLOCATE foo", name, sizeof(name)), PG_PS_SQL_DEALLOCATE,
           "DEALLOCATE name");
    is_str(name, "foo", "... the name");
    is_int(pg_ps_classify_sql("deallocate prepare \"Foo Bar\";", name, sizeof(name)),
           PG_PS_SQL_DEALLOCATE, "DEALLOCATE PREPARE \"quoted\"");
    is_str(name, "Foo Bar", "... the name as the server reads it");
    is_int(pg_ps_classify_sql("DEALLOCATE FOO", name, sizeof(name)), PG_PS_SQL_DEALLOCATE,
           "unquoted");
    is_str(name, "foo", "... folded to lower case");
    is_int(pg_ps_classify_sql("DEALLOCATE ALL", name, sizeof(name)), PG_PS_SQL_DEALLOCATE_ALL,
           "DEALLOCATE ALL");
    is_int(pg_ps_classify_sql("DISCARD ALL", name, sizeof(name)), PG_PS_SQL_DEALLOCATE_ALL,
           "DISCARD ALL");
    is_int(pg_ps_classify_sql("DISCARD PLANS", name, sizeof(name)), PG_PS_SQL_OTHER,
           "DISCARD PLANS");
    is_int(pg_ps_classify_sql("DEALLOCATE a; SELECT 1", name, sizeof(name)), PG_PS_SQL_OTHER,
           "DEALLOCATE name among other statements: not handled");
    is_int(pg_ps_classify_sql("SELECT 1; DISCARD ALL", name, sizeof(name)),
           PG_PS_SQL_DEALLOCATE_ALL, "DISCARD ALL among other statements");
    is_int(pg_ps_classify_sql("DEALLOCATE", name, sizeof(name)), PG_PS_SQL_OTHER, "syntax error");
    is_int(pg_ps_classify_sql("DEALLOCATE abcdefgh", name, 4), PG_PS_SQL_OTHER, "name too long");
}

static void test_cache(void)
{
    struct ps_cache *c = ps_cache_new();
    ok(c != NULL, "cache created");
    uint8_t id[40][PG_PS_ID_LEN];
    for (int i = 0; i < 40; i++) {
        memset(id[i], 0, PG_PS_ID_LEN);
        id[i][0] = (uint8_t)i;
        id[i][5] = (uint8_t)(i * 7);
        ps_cache_add(c, ps_node_new(id[i]));
    }
    is_int(c->count, 40, "40 nodes (the table grew)");
    int found = 0;
    for (int i = 0; i < 40; i++)
        found += ps_cache_find(c, id[i]) != NULL;
    is_int(found, 40, "every node found after growing");
    ps_cache_touch(c, ps_cache_find(c, id[0]));
    struct ps_node *n = ps_cache_evict(c);
    ok(n && !memcmp(n->id, id[1], PG_PS_ID_LEN), "eviction takes the least recently used");
    ok(!ps_cache_find(c, id[1]), "... out of the cache");
    ok(ps_cache_oldest(c) && !memcmp(ps_cache_oldest(c)->id, id[2], PG_PS_ID_LEN),
       "oldest is the next one");
    ps_cache_put_back(c, n);
    ok(ps_cache_find(c, id[1]) != NULL, "put back");
    n = ps_node_new(id[3]);
    ps_cache_put_back(c, n); /* present already: freed */
    is_int(c->count, 40, "put back of a present id changes nothing");
    long before = ps_cache_nodes();
    ps_cache_clear(c);
    is_int(c->count, 0, "cleared");
    is_int(ps_cache_nodes(), before - 40, "nodes freed");
    ps_cache_free(c);
}

int main(void)
{
    no_plan();
    test_parse();
    test_bind_target();
    test_ids();
    test_sql();
    test_cache();
    return done_testing();
}
