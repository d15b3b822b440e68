/* pg_ps.c -- Parse/Bind/Describe/Close bodies, statement identities, DEALLOCATE recognition. */
#include "protocol/pg/pg_ps.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

int pg_body_name(const uint8_t *body, uint32_t avail, uint32_t len, const char **name,
                 uint32_t *name_len)
{
    uint32_t n = avail < len ? avail : len;
    const uint8_t *nul = n ? memchr(body, 0, n) : NULL;
    if (!nul)
        return n < len ? WR_AGAIN : WR_ERROR;
    *name = (const char *)body;
    *name_len = (uint32_t)(nul - body);
    return WR_OK;
}

int pg_parse_read(const uint8_t *body, uint32_t len, struct pg_parse *out)
{
    struct pg_in in;
    pg_in_init(&in, body, len);
    out->name = pg_in_str(&in);
    const uint8_t *tail = in.p;
    out->query = pg_in_str(&in);
    out->nparams = pg_in_int16(&in);
    if (in.failed || (size_t)(in.end - in.p) != (size_t)out->nparams * 4)
        return WR_ERROR;
    out->tail = tail;
    out->tail_len = (uint32_t)(in.end - tail);
    return WR_OK;
}

int pg_bind_head(const uint8_t *body, uint32_t avail, uint32_t len, struct pg_bind_head *out)
{
    const char *portal, *stmt;
    uint32_t plen, slen;
    int rc = pg_body_name(body, avail, len, &portal, &plen);
    if (rc != WR_OK)
        return rc;
    uint32_t off = plen + 1;
    rc = pg_body_name(body + off, avail - off, len - off, &stmt, &slen);
    if (rc != WR_OK)
        return rc;
    /* Three int16 counts at least follow: formats, parameters, result formats. */
    if (len - off - slen - 1 < 6)
        return WR_ERROR;
    out->portal = portal;
    out->stmt = stmt;
    out->stmt_off = off;
    out->prefix_len = off + slen + 1;
    return WR_OK;
}

int pg_target_read(const uint8_t *body, uint32_t len, char *kind, const char **name)
{
    if (len < 2 || (body[0] != 'S' && body[0] != 'P') || body[len - 1] != 0 ||
        memchr(body + 1, 0, len - 1) != body + len - 1)
        return WR_ERROR;
    *kind = (char)body[0];
    *name = (const char *)body + 1;
    return WR_OK;
}

void pg_ps_id(const uint8_t *tail, uint32_t tail_len, uint8_t id[PG_PS_ID_LEN])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(tail, tail_len, md);
    memcpy(id, md, PG_PS_ID_LEN);
}

void pg_ps_name(const uint8_t id[PG_PS_ID_LEN], char out[PG_PS_NAME_LEN])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "weir_", 5);
    for (int i = 0; i < PG_PS_ID_LEN; i++) {
        out[5 + 2 * i] = hex[id[i] >> 4];
        out[6 + 2 * i] = hex[id[i] & 15];
    }
    out[PG_PS_NAME_LEN - 1] = 0;
}

void pg_out_parse(struct pg_out *o, const char *name, const uint8_t *tail, uint32_t tail_len)
{
    pg_out_begin(o, 'P');
    pg_out_str(o, name);
    pg_out_bytes(o, tail, tail_len);
    pg_out_end(o);
}

void pg_out_bind_head(struct pg_out *o, const char *portal, const char *stmt, uint32_t bytes_after)
{
    size_t body = strlen(portal) + 1 + strlen(stmt) + 1 + (size_t)bytes_after;
    if (body > 0x7ffffffbu) {
        o->failed = true;
        return;
    }
    pg_out_byte(o, 'B');
    pg_out_int32(o, (uint32_t)(4 + body));
    pg_out_str(o, portal);
    pg_out_str(o, stmt);
}

void pg_out_describe(struct pg_out *o, char kind, const char *name)
{
    pg_out_begin(o, 'D');
    pg_out_byte(o, (uint8_t)kind);
    pg_out_str(o, name);
    pg_out_end(o);
}

void pg_out_close(struct pg_out *o, char kind, const char *name)
{
    pg_out_begin(o, 'C');
    pg_out_byte(o, (uint8_t)kind);
    pg_out_str(o, name);
    pg_out_end(o);
}

void pg_out_command_complete(struct pg_out *o, const char *tag)
{
    pg_out_begin(o, 'C');
    pg_out_str(o, tag);
    pg_out_end(o);
}

/* ---- DEALLOCATE / DISCARD in simple-query text ---- */

/* Skips white space and comments from p; NULL when the bytes end inside a comment. */
static const char *skip_blank(const char *p, const char *end)
{
    while (p < end) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            /* PostgreSQL's block comments nest. */
            int depth = 0;
            do {
                if (p + 1 < end && p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (p + 1 < end && p[0] == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    p++;
                }
            } while (depth > 0 && p < end);
            if (depth > 0)
                return NULL;
        } else {
            return p;
        }
    }
    return p;
}

bool pg_ps_maybe_deallocate(const char *text, size_t n, bool *more)
{
    const char *end = text + n, *p = skip_blank(text, end);
    *more = false;
    if (!p || p == end) {
        /* Only blanks so far: a NUL ends the text, else more may follow. */
        *more = !memchr(text, 0, n);
        return false;
    }
    static const char *const words[] = {"deallocate", "discard"};
    for (int w = 0; w < 2; w++) {
        size_t k = strlen(words[w]), i = 0;
        while (i < k && p + i < end && tolower((unsigned char)p[i]) == words[w][i])
            i++;
        if (i == k) {
            if (p + k == end) {
                *more = true;
                return false;
            }
            char next = p[k];
            if (isalnum((unsigned char)next) || next == '_' || next == '$')
                continue; /* a longer word */
            return true;
        }
        if (p + i == end && i > 0) {
            *more = true;
            return false;
        }
    }
    return false;
}

enum pg_ps_sql_kind pg_ps_classify_sql(const char *text, char *name, size_t cap)
{
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(text);
    enum pg_ps_sql_kind kind = PG_PS_SQL_OTHER;
    if (pr.error)
        goto done;
    PgQuery__ParseResult *res = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
                                                               (const uint8_t *)pr.parse_tree.data);
    if (!res)
        goto done;
    for (size_t i = 0; i < res->n_stmts; i++) {
        const PgQuery__Node *n = res->stmts[i]->stmt;
        if (!n)
            continue;
        if (n->node_case == PG_QUERY__NODE__NODE_DISCARD_STMT &&
            n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
            kind = PG_PS_SQL_DEALLOCATE_ALL;
            break;
        }
        if (n->node_case != PG_QUERY__NODE__NODE_DEALLOCATE_STMT)
            continue;
        const char *nm = n->deallocate_stmt->name;
        if (!nm || !nm[0]) {
            kind = PG_PS_SQL_DEALLOCATE_ALL;
            break;
        }
        if (res->n_stmts == 1 && strlen(nm) < cap) {
            snprintf(name, cap, "%s", nm);
            kind = PG_PS_SQL_DEALLOCATE;
        }
    }
    pg_query__parse_result__free_unpacked(res, NULL);
done:
    pg_query_free_protobuf_parse_result(pr);
    return kind;
}
