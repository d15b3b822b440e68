/* test_ps.c -- unit tests of the prepared-statement rewriting (session/ps.c): a client's
 * messages as the relay scans them, the server's answers matched and edited, on bare client,
 * server and pool objects (no sockets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/core/worker.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/session/client.h"
#include "pooler/session/ps.h"
#include "tests/tap.h"

static struct worker *w;
static struct pool *pool;

static struct server *new_server(void)
{
    struct server *s = calloc(1, sizeof(*s));
    s->w = w;
    s->pool = pool;
    s->kind = BACKEND_POSTGRES;
    s->txstatus = 'I';
    pg_out_init(&s->out);
    return s;
}

static void free_server(struct server *s)
{
    ps_cache_free(s->ps);
    pg_out_free(&s->out);
    free(s);
}

/* Fills a fresh buffer with the messages in o. */
static struct iobuf *buf_of(struct pg_out *o)
{
    struct iobuf *b = buf_get(&w->bufs);
    memcpy(b->data, o->data, o->len);
    b->recv = (uint32_t)o->len;
    pg_out_reset(o);
    return b;
}

/* The relay's client scan: every message through ps_client_msg. Returns the last step. */
static enum ps_step scan_client(struct client *c, struct server *s, struct iobuf *b)
{
    while (b->parsed < b->recv) {
        char type, why[160];
        uint32_t body;
        if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body))
            return PS_ERROR;
        enum ps_step st = ps_client_msg(c, s, b, type, body, why, sizeof(why));
        if (st == PS_CONSUMED) {
            b->parsed += c->in_remaining;
            c->in_remaining = 0;
            continue;
        }
        if (st != PS_PASS && st != PS_EDITED)
            return st;
        if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body))
            return PS_ERROR;
        b->parsed += PG_HDR_LEN + body;
    }
    return PS_PASS;
}

/* The relay's server scan. Returns the types relayed to the client, "!" where it held. */
static void scan_server(struct client *c, struct server *s, struct iobuf *b, char *types)
{
    size_t n = 0;
    while (b->parsed < b->recv) {
        char type;
        uint32_t body;
        if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body))
            break;
        enum ps_sstep st = ps_server_msg(c, s, b, type, body, true, true);
        if (st == PSS_DROPPED)
            continue;
        if (st == PSS_HOLD) {
            types[n++] = '!';
            break;
        }
        if (pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, BUF_MAX_BODY, &type, &body))
            break;
        if (type == 'Z')
            s->txstatus = (char)b->data[b->parsed + PG_HDR_LEN];
        types[n++] = type;
        b->parsed += PG_HDR_LEN + body;
    }
    types[n] = 0;
}

/* The messages of b as "T:name" words for what names statements, else the type letter. */
static void describe(const struct iobuf *b, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (uint32_t at = 0; at + PG_HDR_LEN <= b->recv;) {
        char type = (char)b->data[at];
        uint32_t body = pg_get32(b->data + at + 1) - 4;
        const char *p = (const char *)b->data + at + PG_HDR_LEN;
        const char *name = type == 'P'                    ? p
                           : type == 'B'                  ? p + strlen(p) + 1
                           : (type == 'D' || type == 'C') ? p + 1
                                                          : NULL;
        if (type == 'Q')
            name = p;
        char word[80];
        if (name && !strncmp(name, "weir_", 5) && name[5] != '_')
            name = "weir_"; /* the hash differs by text */
        if (name)
            snprintf(word, sizeof(word), "%c:%.12s ", type, name);
        else
            snprintf(word, sizeof(word), "%c ", type);
        n += snprintf(out + n, n < cap ? cap - n : 0, "%s", word);
        at += PG_HDR_LEN + body;
    }
    if (n && n < cap)
        out[n - 1] = 0;
}

static void server_answers(struct pg_out *o, const char *types)
{
    for (const char *t = types; *t; t++) {
        if (*t == 'Z') {
            pg_out_ready(o, 'I');
        } else if (*t == 'E') {
            pg_out_error(o, "ERROR", "26000", "prepared statement \"%s\" does not exist",
                         PG_PS_DUP "s1");
        } else if (*t == 'C') {
            pg_out_command_complete(o, "SELECT 1");
        } else {
            pg_out_begin(o, *t);
            pg_out_end(o);
        }
    }
}

static const uint8_t tail_s1[] = "SELECT 1\0\0\0";

static void test_flow(void)
{
    struct client *c = calloc(1, sizeof(*c));
    c->w = w;
    c->pool = pool;
    c->ps_on = true;
    c->fd = -1;
    struct server *s1 = new_server(), *s2 = new_server();
    struct pg_out o;
    pg_out_init(&o);
    char got[512], types[64], sname[PG_PS_NAME_LEN];
    uint8_t id[PG_PS_ID_LEN];
    pg_ps_id(tail_s1, sizeof(tail_s1) - 1, id);
    pg_ps_name(id, sname);

    /* A new statement: the client's Parse goes on under the server's name. */
    pg_out_parse(&o, "s1", tail_s1, sizeof(tail_s1) - 1);
    pg_out_sync(&o);
    struct iobuf *b = buf_of(&o);
    is_int(scan_client(c, s1, b), PS_PASS, "Parse s1, Sync: relayed");
    describe(b, got, sizeof(got));
    is_str(got, "P:weir_ S", "... as a Parse of weir's name");
    ok(!memcmp(b->data + PG_HDR_LEN, sname, strlen(sname) + 1), "... %s", sname);
    ok(s1->ps && ps_cache_find(s1->ps, id), "... the server's cache has it");
    buf_put(&w->bufs, b);
    server_answers(&o, "1Z");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "1Z", "ParseComplete and ReadyForQuery reach the client");
    ok(pool_ps_known(pool, id), "... and the pool knows the statement now");
    buf_put(&w->bufs, b);

    /* On a server without it: weir's Parse goes before the Bind; its answer is dropped. */
    pg_out_begin(&o, 'B');
    pg_out_bytes(&o, "\0s1\0\0\0\0\0\0\0", 10);
    pg_out_end(&o);
    pg_out_begin(&o, 'E');
    pg_out_bytes(&o, "\0\0\0\0\0", 5);
    pg_out_end(&o);
    pg_out_sync(&o);
    b = buf_of(&o);
    is_int(scan_client(c, s2, b), PS_PASS, "Bind s1 on a second server");
    describe(b, got, sizeof(got));
    is_str(got, "P:weir_ B:weir_ E S", "... weir's Parse, the Bind renamed");
    buf_put(&w->bufs, b);
    server_answers(&o, "12CZ");
    b = buf_of(&o);
    scan_server(c, s2, b, types);
    is_str(types, "2CZ", "... weir's ParseComplete dropped");
    buf_put(&w->bufs, b);

    /* The same name again: 42P05 in the place of the server's answer. */
    pg_out_parse(&o, "s1", tail_s1, sizeof(tail_s1) - 1);
    pg_out_sync(&o);
    b = buf_of(&o);
    scan_client(c, s1, b);
    describe(b, got, sizeof(got));
    is_str(got, "D:weir__dup_s1 S", "Parse of a name in use: a Describe that must fail");
    buf_put(&w->bufs, b);
    server_answers(&o, "EZ");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "EZ", "... an error, then ReadyForQuery");
    struct pg_error_fields ef;
    ok(pg_error_parse(b->data + PG_HDR_LEN, pg_get32(b->data + 1) - 4, &ef) == WR_OK &&
           !strcmp(ef.sqlstate, "42P05") &&
           !strcmp(ef.message, "prepared statement \"s1\" already exists"),
       "... PostgreSQL's 42P05 for the client's name");
    buf_put(&w->bufs, b);

    /* Another name, same text, on a server that has it: a Close of nothing answers for it. */
    pg_out_parse(&o, "again", tail_s1, sizeof(tail_s1) - 1);
    pg_out_sync(&o);
    b = buf_of(&o);
    scan_client(c, s1, b);
    describe(b, got, sizeof(got));
    is_str(got, "C:weir__none S", "Parse of a text the server has: Close of nothing");
    buf_put(&w->bufs, b);
    server_answers(&o, "3Z");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "1Z", "... its CloseComplete becomes ParseComplete");
    buf_put(&w->bufs, b);

    /* Close: forgotten by the client, kept by the server. */
    pg_out_close(&o, 'S', "again");
    pg_out_sync(&o);
    b = buf_of(&o);
    scan_client(c, s1, b);
    describe(b, got, sizeof(got));
    is_str(got, "C:weir__none S", "Close of a client statement: Close of nothing");
    buf_put(&w->bufs, b);
    server_answers(&o, "3Z");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "3Z", "... CloseComplete passes");
    buf_put(&w->bufs, b);
    ok(ps_cache_find(s1->ps, id) != NULL, "... the server keeps the statement");

    /* An error before Sync: what was skipped is undone. */
    pg_out_parse(&o, "skipped", (const uint8_t *)"SELECT 2\0\0\0", 11);
    pg_out_sync(&o);
    b = buf_of(&o);
    scan_client(c, s1, b);
    buf_put(&w->bufs, b);
    server_answers(&o, "EZ");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    buf_put(&w->bufs, b);
    pg_out_parse(&o, "skipped", (const uint8_t *)"SELECT 2\0\0\0", 11);
    pg_out_sync(&o);
    b = buf_of(&o);
    scan_client(c, s1, b);
    describe(b, got, sizeof(got));
    is_str(got, "P:weir_ S", "a Parse the server rejected left nothing: prepared again");
    buf_put(&w->bufs, b);
    server_answers(&o, "1Z");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    buf_put(&w->bufs, b);

    /* DEALLOCATE name: an empty query; the EmptyQueryResponse becomes the tag. */
    pg_out_query(&o, "DEALLOCATE s1");
    b = buf_of(&o);
    scan_client(c, s1, b);
    describe(b, got, sizeof(got));
    is_str(got, "Q:", "DEALLOCATE s1: sent as an empty query");
    buf_put(&w->bufs, b);
    server_answers(&o, "IZ");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "CZ", "... answered with CommandComplete");
    is_str((const char *)b->data + PG_HDR_LEN, "DEALLOCATE", "... tagged DEALLOCATE");
    buf_put(&w->bufs, b);

    /* The replacement does not fit a full buffer: held, then sent from the client's output. */
    pg_out_query(&o, "DEALLOCATE skipped");
    b = buf_of(&o);
    scan_client(c, s1, b);
    buf_put(&w->bufs, b);
    b = buf_get(&w->bufs);
    server_answers(&o, "I");
    memcpy(b->data, o.data, o.len);
    pg_out_reset(&o);
    b->recv = b->cap; /* the rest: bytes of later messages */
    s1->in = b;
    scan_server(c, s1, b, types);
    is_str(types, "!", "no room for the tag: held");
    ps_unhold(c, s1);
    ok(b->parsed == 5 && b->sent == 5 && c->out && c->out->msg.len == 16,
       "... the tag went to the client's own output, the message left the buffer");
    buf_put(&w->bufs, b);
    s1->in = NULL;
    server_answers(&o, "Z");
    b = buf_of(&o);
    scan_server(c, s1, b, types);
    is_str(types, "Z", "... then its ReadyForQuery");
    buf_put(&w->bufs, b);

    /* Eviction: max_prepared_statements = 2 in this configuration. */
    for (int k = 0; k < 3; k++) {
        char sql[32], name[16];
        int len = snprintf(sql, sizeof(sql), "SELECT %d", 100 + k);
        memset(sql + len + 1, 0, 2);
        snprintf(name, sizeof(name), "e%d", k);
        pg_out_parse(&o, name, (const uint8_t *)sql, (uint32_t)len + 3);
    }
    pg_out_sync(&o);
    b = buf_of(&o);
    struct server *s3 = new_server();
    scan_client(c, s3, b);
    describe(b, got, sizeof(got));
    is_str(got, "P:weir_ P:weir_ C:weir_ P:weir_ S", "a third statement evicts the oldest");
    is_int(s3->ps->count, 2, "... the cache holds 2");
    buf_put(&w->bufs, b);
    server_answers(&o, "1131Z");
    b = buf_of(&o);
    scan_server(c, s3, b, types);
    is_str(types, "111Z", "... the eviction's CloseComplete dropped");
    buf_put(&w->bufs, b);

    pg_out_free(&o);
    ps_client_free(c);
    if (c->out) {
        pg_out_free(&c->out->msg);
        free(c->out);
    }
    free(c);
    free_server(s1);
    free_server(s2);
    free_server(s3);
}

int main(void)
{
    char dir[] = "/tmp/weir-test-ps-XXXXXX", path[64], err[256];
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/weir.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[weir]\nauth_type = trust\nworkers = 1\npool_mode = transaction\n"
          "max_prepared_statements = 2\n[databases]\ndb1 =\n",
          f);
    fclose(f);
    struct config *cfg;
    if (config_load(path, &cfg, err, sizeof(err)) != WR_OK) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    unlink(path);
    rmdir(dir);
    weir.cfg = cfg;
    weir.nworkers = 1;
    weir.workers = calloc(1, sizeof(struct worker));
    w = &weir.workers[0];
    buf_pool_init(&w->bufs);
    pool = pool_get(config_find_db(cfg, "db1"), "u", 0, NULL);
    no_plan();
    ok(pool && ps_enabled_for(pool), "a transaction pool keeps statements");
    test_flow();
    ps_worker_stopped();
    buf_pool_destroy(&w->bufs);
    return done_testing();
}
