/* test_stmt_map_my.c -- unit tests of the MySQL statement tables: a client's statements by id,
 * a server connection's by schema and text with their least-recently-used order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/session/stmt_my.h"
#include "protocol/mysql/my_stmt.h"
#include "tests/tap.h"

static struct stmt_my_key key(const char *schema, const char *text)
{
    struct stmt_my_key k;
    if (!stmt_my_key_make(&k, schema, strlen(schema), (const uint8_t *)text, strlen(text)))
        abort();
    return k;
}

static void test_keys(void)
{
    struct stmt_my_key a = key("", "SELECT 1"), b = key("", "SELECT 1"), c = key("s2", "SELECT 1");
    struct stmt_my_key d = key("", "SELECT 2"), e = key("SELECT 1", "");
    ok(stmt_my_key_eq(&a, &b), "same schema and text: equal");
    ok(!stmt_my_key_eq(&a, &c), "another schema: not equal");
    ok(!stmt_my_key_eq(&a, &d), "another text: not equal");
    ok(!stmt_my_key_eq(&c, &e), "schema and text do not run into each other");
    ok(a.text_at == 1 && c.text_at == 3 && !memcmp(c.bytes + c.text_at, "SELECT 1", 8),
       "the text follows the schema and a NUL");
    struct stmt_my_key f;
    ok(stmt_my_key_copy(&f, &c) && stmt_my_key_eq(&f, &c) && f.bytes != c.bytes, "copied");
    struct stmt_my_key g;
    ok(!stmt_my_key_make(&g, "", 0, (const uint8_t *)"x", MY_MAX_PAYLOAD), "too long: refused");
    stmt_my_key_free(&a);
    stmt_my_key_free(&b);
    stmt_my_key_free(&c);
    stmt_my_key_free(&d);
    stmt_my_key_free(&e);
    stmt_my_key_free(&f);
    ok(a.bytes == NULL && a.len == 0, "freed keys are empty");
}

static void test_client(void)
{
    struct stmt_my_clients t = {0};
    ok(stmt_my_client_find(&t, 1) == NULL, "empty table: nothing found");
    bool ids_ok = true;
    for (uint32_t i = 1; i <= 1000; i++) {
        struct stmt_my_key k = key("", "SELECT ?");
        struct stmt_my_client *e = stmt_my_client_add(&t, 0, &k);
        ids_ok &= e && e->id == i && k.bytes == NULL && e->key.bytes != NULL;
    }
    ok(ids_ok && t.n == 1000, "1000 statements get ids 1..1000; the key moves in");
    bool found = true;
    for (uint32_t i = 1; i <= 1000; i++) {
        struct stmt_my_client *e = stmt_my_client_find(&t, i);
        found &= e && e->id == i;
    }
    ok(found && stmt_my_client_find(&t, 1001) == NULL && stmt_my_client_find(&t, 0) == NULL,
       "each found by its id, others not");
    for (uint32_t i = 2; i <= 1000; i += 2)
        stmt_my_client_remove(&t, i);
    stmt_my_client_remove(&t, 5000);
    ok(t.n == 500 && !stmt_my_client_find(&t, 2) && stmt_my_client_find(&t, 3),
       "every second one removed; removing an unknown id is a no-op");
    struct stmt_my_key none = {0};
    ok(stmt_my_client_add(&t, 3, &none) == NULL, "an id in use cannot be added again");
    struct stmt_my_client *p = stmt_my_client_add(&t, 2, &none);
    ok(p && p->id == 2 && p->key.len == 0, "a given id (a statement passing through) is taken");
    struct stmt_my_key k = key("", "x");
    struct stmt_my_client *n = stmt_my_client_add(&t, 0, &k);
    ok(n && n->id == 1001, "new ids go on from the last one (1001)");
    n->types = malloc(4);
    n->long_data = malloc(16);
    n->defs = malloc(8);
    stmt_my_clients_clear(&t);
    ok(t.n == 0 && t.nbucket == 0 && t.next_id == 1001, "cleared; ids go on from 1001");
    /* Ids go round past 2^32, skipping 0, MariaDB's -1 and those in use. */
    t.next_id = 0xfffffffdu;
    struct stmt_my_key k1 = key("", "a"), k2 = key("", "b"), k3 = key("", "c");
    struct stmt_my_client *a = stmt_my_client_add(&t, 0, &k1);
    struct stmt_my_client *b = stmt_my_client_add(&t, 0, &k2);
    ok(a && a->id == 0xfffffffeu && b && b->id == 1, "after 0xfffffffe comes 1");
    t.next_id = 0;
    struct stmt_my_client *c = stmt_my_client_add(&t, 0, &k3);
    ok(c && c->id == 2, "1 is in use: 2");
    stmt_my_clients_clear(&t);
}

static void test_server(void)
{
    struct stmt_my_servers *t = stmt_my_servers_new();
    ok(t && t->n == 0 && stmt_my_server_lru(t) == NULL, "new server table is empty");
    ok(stmt_my_server_find(NULL, NULL) == NULL, "no table: nothing found");
    struct stmt_my_key k[40];
    char text[32];
    for (int i = 0; i < 40; i++) {
        snprintf(text, sizeof(text), "SELECT %d", i);
        k[i] = key(i % 2 ? "" : "other", text);
        struct stmt_my_server *e = stmt_my_server_add(t, &k[i], 100 + i, 1, 2);
        if (!e || e->id != 100u + i || e->nparams != 1 || e->ncols != 2)
            ok(0, "add %d", i);
    }
    ok(t->n == 40, "40 statements added");
    bool all = true;
    for (int i = 0; i < 40; i++) {
        struct stmt_my_server *e = stmt_my_server_find(t, &k[i]);
        all &= e && e->id == 100u + i;
    }
    ok(all, "each found by schema and text");
    /* Found in order 0..39: 0 is the least recently used now. */
    struct stmt_my_server *lru = stmt_my_server_lru(t);
    ok(lru && lru->id == 100, "the least recently used is the one found longest ago (100)");
    stmt_my_server_find(t, &k[0]);
    lru = stmt_my_server_lru(t);
    ok(lru && lru->id == 101, "found again, it is the most recent: 101 is the oldest now");
    lru->cursor = true;
    struct stmt_my_server *next = stmt_my_server_lru(t);
    ok(next && next->id == 102, "one with a cursor open is passed over (102)");
    stmt_my_server_remove(t, next);
    ok(t->n == 39 && stmt_my_server_find(t, &k[2]) == NULL, "removed: not found any more");
    struct stmt_my_key other = key("", "SELECT 0");
    ok(stmt_my_server_find(t, &other) == NULL, "same text, another schema: not found");
    stmt_my_key_free(&other);
    for (int i = 0; i < 40; i++) {
        struct stmt_my_server *e = stmt_my_server_find(t, &k[i]);
        if (e && !e->cursor)
            stmt_my_server_remove(t, e);
    }
    ok(t->n == 1 && stmt_my_server_lru(t) == NULL, "all but the cursor's removed; no LRU left");
    struct stmt_my_server *e = stmt_my_server_find(t, &k[1]);
    e->types = malloc(2);
    e->resp = malloc(10);
    stmt_my_servers_free(t);
    stmt_my_servers_free(NULL);
    for (int i = 0; i < 40; i++)
        stmt_my_key_free(&k[i]);
    ok(1, "freed with what it holds");
}

int main(void)
{
    test_keys();
    test_client();
    test_server();
    return done_testing();
}
