/*
 * fuzz_pg_ps.c -- libFuzzer target for the bodies of the messages that name prepared
 * statements (Parse, Bind, Describe, Close) and the recognition of DEALLOCATE / DISCARD in
 * simple-query text. The first byte picks the reader (0 Parse, 1 Bind, 2 Describe/Close,
 * 3 query text), the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_ps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_parse(const uint8_t *body, uint32_t len)
{
    struct pg_parse p;
    if (pg_parse_read(body, len, &p) != WR_OK)
        return;
    if (p.tail < body || p.tail + p.tail_len != body + len || p.query != (const char *)p.tail)
        __builtin_trap();
    /* Rebuilt under another name, it reads back the same statement and identity. */
    struct pg_out o;
    pg_out_init(&o);
    char name[PG_PS_NAME_LEN];
    uint8_t id[PG_PS_ID_LEN], id2[PG_PS_ID_LEN];
    pg_ps_id(p.tail, p.tail_len, id);
    pg_ps_name(id, name);
    pg_out_parse(&o, name, p.tail, p.tail_len);
    struct pg_parse q;
    if (o.failed || pg_parse_read(o.data + PG_HDR_LEN, (uint32_t)o.len - PG_HDR_LEN, &q) != WR_OK ||
        strcmp(q.name, name) || q.tail_len != p.tail_len || memcmp(q.tail, p.tail, p.tail_len))
        __builtin_trap();
    pg_ps_id(q.tail, q.tail_len, id2);
    if (memcmp(id, id2, PG_PS_ID_LEN))
        __builtin_trap();
    pg_out_free(&o);
}

static void fuzz_bind(const uint8_t *body, uint32_t len)
{
    struct pg_bind_head whole;
    int rc = pg_bind_head(body, len, len, &whole);
    if (rc == WR_AGAIN)
        __builtin_trap(); /* every byte is there */
    if (rc == WR_OK && (whole.prefix_len > len || whole.stmt_off >= whole.prefix_len))
        __builtin_trap();
    /* Every prefix asks for more, fails the same way, or finds the same names. */
    for (uint32_t avail = 0; avail < len; avail++) {
        struct pg_bind_head h;
        int r = pg_bind_head(body, avail, len, &h);
        if (r == WR_OK && (rc != WR_OK || h.prefix_len != whole.prefix_len))
            __builtin_trap();
        if (r == WR_ERROR && rc != WR_ERROR)
            __builtin_trap();
    }
    const char *name;
    uint32_t n;
    if (pg_body_name(body, len, len, &name, &n) == WR_OK && (n >= len || name[n] != 0))
        __builtin_trap();
}

static void fuzz_target(const uint8_t *body, uint32_t len)
{
    char kind;
    const char *name;
    if (pg_target_read(body, len, &kind, &name) != WR_OK)
        return;
    if ((kind != 'S' && kind != 'P') || strlen(name) != len - 2)
        __builtin_trap();
    struct pg_out o;
    pg_out_init(&o);
    pg_out_close(&o, kind, name);
    if (o.failed || o.len != PG_HDR_LEN + len || memcmp(o.data + PG_HDR_LEN, body, len))
        __builtin_trap();
    pg_out_free(&o);
}

static void fuzz_sql(const uint8_t *text, uint32_t len)
{
    bool more;
    bool maybe = pg_ps_maybe_deallocate((const char *)text, len, &more);
    if (!maybe || len > 512)
        return;
    char *s = malloc(len + 1);
    if (!s)
        return;
    memcpy(s, text, len);
    s[len] = 0;
    char name[64];
    enum pg_ps_sql_kind k = pg_ps_classify_sql(s, name, sizeof(name));
    if (k == PG_PS_SQL_DEALLOCATE && strlen(name) >= sizeof(name))
        __builtin_trap();
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    uint32_t len = (uint32_t)size - 1;
    uint8_t *body = malloc(len ? len : 1); /* a copy of its own: reads past it are caught */
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    switch (data[0] % 4) {
    case 0:
        fuzz_parse(body, len);
        break;
    case 1:
        fuzz_bind(body, len);
        break;
    case 2:
        fuzz_target(body, len);
        break;
    default:
        fuzz_sql(body, len);
        break;
    }
    free(body);
    return 0;
}
