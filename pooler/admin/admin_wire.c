/*
 * admin_wire.c -- console results (rows of text cells) and their two
 * encoders: one admin_result written as
 * PostgreSQL messages (RowDescription, DataRow, CommandComplete) or as a
 * MySQL text result set (column definitions as VARCHAR or LONGLONG).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/admin/admin_int.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"

/* ---- results ---- */

void admin_res_init(struct admin_result *r)
{
    memset(r, 0, sizeof(*r));
}

void admin_res_clear(struct admin_result *r)
{
    for (size_t i = 0; i < r->ncells; i++)
        free(r->cells[i]);
    free(r->cells);
    admin_res_init(r);
}

void admin_res_cols(struct admin_result *r, const struct admin_col *cols, int n)
{
    r->ncols = n < ADMIN_MAX_COLS ? n : ADMIN_MAX_COLS;
    memcpy(r->cols, cols, sizeof(*cols) * r->ncols);
    snprintf(r->tag, sizeof(r->tag), "SHOW");
}

void admin_res_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
}

/* Appends a admin_cell (v copied; NULL = SQL NULL). */
void admin_cell(struct admin_result *r, const char *v)
{
    if (r->failed)
        return;
    if (r->ncells == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        char **cells = realloc(r->cells, sizeof(*cells) * cap);
        if (!cells) {
            r->failed = true;
            return;
        }
        r->cells = cells;
        r->cap = cap;
    }
    char *copy = NULL;
    if (v && !(copy = strdup(v))) {
        r->failed = true;
        return;
    }
    r->cells[r->ncells++] = copy;
}

void admin_cell_int(struct admin_result *r, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    admin_cell(r, b);
}

void admin_cell_u64(struct admin_result *r, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    admin_cell(r, b);
}

/* Moves the rows of src to the end of dst (same columns). */
void admin_res_take_rows(struct admin_result *dst, struct admin_result *src)
{
    for (size_t i = 0; i < src->ncells; i++) {
        if (dst->failed)
            break;
        admin_cell(dst, src->cells[i]);
    }
    if (src->failed)
        dst->failed = true;
}

/* PostgreSQL type of each console column type: text, int4, numeric. */
static const struct {
    uint32_t oid;
    int16_t len;
} pg_types[] = {{25, -1}, {23, 4}, {1700, -1}};

void admin_write_pg(struct pg_out *o, const struct admin_result *r)
{
    if (r->sqlstate[0]) {
        pg_out_error(o, "ERROR", r->sqlstate, "%s", r->error);
        pg_out_ready(o, 'I');
        return;
    }
    if (r->notice[0]) {
        /* As PgBouncer's SHOW HELP: the first line is the message, the rest the detail. */
        const char *nl = strchr(r->notice, '\n');
        pg_out_begin(o, 'N');
        pg_out_byte(o, 'S');
        pg_out_str(o, "NOTICE");
        pg_out_byte(o, 'C');
        pg_out_str(o, "00000");
        pg_out_byte(o, 'M');
        if (nl) {
            pg_out_bytes(o, r->notice, nl - r->notice);
            pg_out_byte(o, 0);
            pg_out_byte(o, 'D');
            pg_out_str(o, nl + 1);
        } else {
            pg_out_str(o, r->notice);
        }
        pg_out_byte(o, 0);
        pg_out_end(o);
    }
    if (r->ncols > 0) {
        pg_out_begin(o, 'T');
        pg_out_int16(o, (uint16_t)r->ncols);
        for (int i = 0; i < r->ncols; i++) {
            pg_out_str(o, r->cols[i].name);
            pg_out_int32(o, 0); /* table */
            pg_out_int16(o, 0); /* column */
            pg_out_int32(o, pg_types[r->cols[i].type].oid);
            pg_out_int16(o, (uint16_t)pg_types[r->cols[i].type].len);
            pg_out_int32(o, 0xffffffffu); /* typmod -1 */
            pg_out_int16(o, 0);           /* text */
        }
        pg_out_end(o);
        size_t nrows = r->ncells / r->ncols;
        for (size_t row = 0; row < nrows; row++) {
            pg_out_begin(o, 'D');
            pg_out_int16(o, (uint16_t)r->ncols);
            for (int i = 0; i < r->ncols; i++) {
                const char *v = r->cells[row * r->ncols + i];
                if (!v) {
                    pg_out_int32(o, 0xffffffffu);
                    continue;
                }
                size_t n = strlen(v);
                pg_out_int32(o, (uint32_t)n);
                pg_out_bytes(o, v, n);
            }
            pg_out_end(o);
        }
    }
    pg_out_begin(o, 'C');
    pg_out_str(o, r->tag[0] ? r->tag : "SHOW");
    pg_out_end(o);
    pg_out_ready(o, 'I');
}

uint16_t admin_my_errno(const char *sqlstate)
{
    if (!strcmp(sqlstate, "42501"))
        return 1227; /* ER_SPECIFIC_ACCESS_DENIED_ERROR */
    if (!strcmp(sqlstate, "53200"))
        return 1041; /* ER_OUT_OF_RESOURCES */
    return 1064;     /* ER_PARSE_ERROR: an invalid console command */
}

#define MY_TYPE_LONGLONG   0x08
#define MY_TYPE_VAR_STRING 0xfd
#define MY_CHARSET_UTF8MB4 45
#define MY_CHARSET_BINARY  63
#define MY_NUM_FLAG        0x8000

static void my_coldef(struct my_out *o, uint8_t seq, const char *name, enum admin_type t,
                      uint64_t caps)
{
    bool num = t != ADMIN_TEXT;
    my_out_begin(o, seq);
    my_out_lenenc_str(o, "def", 3);
    my_out_lenenc_str(o, "weir", 4); /* schema */
    my_out_lenenc_str(o, "", 0);     /* table */
    my_out_lenenc_str(o, "", 0);     /* org_table */
    my_out_lenenc_str(o, name, strlen(name));
    my_out_lenenc_str(o, name, strlen(name));
    if (caps & MARIADB_CLIENT_EXTENDED_METADATA)
        my_out_lenenc_str(o, "", 0); /* no extended type information */
    my_out_lenenc(o, 0x0c);
    my_out_int2(o, num ? MY_CHARSET_BINARY : MY_CHARSET_UTF8MB4);
    my_out_int4(o, num ? 20 : 1024);
    my_out_int1(o, num ? MY_TYPE_LONGLONG : MY_TYPE_VAR_STRING);
    my_out_int2(o, num ? MY_NUM_FLAG : 0);
    my_out_int1(o, 0); /* decimals */
    my_out_int2(o, 0); /* filler */
    my_out_end(o);
}

/* The notice of SHOW HELP has no place in MySQL: it becomes a one-column result. */
static void my_notice_rows(struct my_out *o, const struct admin_result *r, uint64_t caps)
{
    uint8_t seq = 1;
    my_out_begin(o, seq++);
    my_out_lenenc(o, 1);
    my_out_end(o);
    my_coldef(o, seq++, "help", ADMIN_TEXT, caps);
    my_out_eof(o, seq++, 0, SERVER_STATUS_AUTOCOMMIT);
    const char *p = r->notice;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *line = p;
        while (n > 0 && *line == '\t') {
            line++;
            n--;
        }
        my_out_begin(o, seq++);
        my_out_lenenc_str(o, line, n);
        my_out_end(o);
        p = nl ? nl + 1 : p + strlen(p);
    }
    my_out_eof(o, seq, 0, SERVER_STATUS_AUTOCOMMIT);
}

void admin_write_my(struct pg_out *out, const struct admin_result *r, uint64_t caps)
{
    struct my_out o;
    my_out_init(&o);
    if (r->sqlstate[0]) {
        my_out_err(&o, 1, admin_my_errno(r->sqlstate), r->sqlstate, "%s", r->error);
    } else if (r->ncols == 0 && r->notice[0]) {
        my_notice_rows(&o, r, caps);
    } else if (r->ncols == 0) {
        my_out_ok(&o, 1, caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    } else {
        uint8_t seq = 1;
        my_out_begin(&o, seq++);
        my_out_lenenc(&o, (uint64_t)r->ncols);
        my_out_end(&o);
        for (int i = 0; i < r->ncols; i++)
            my_coldef(&o, seq++, r->cols[i].name, r->cols[i].type, caps);
        my_out_eof(&o, seq++, 0, SERVER_STATUS_AUTOCOMMIT);
        size_t nrows = r->ncells / r->ncols;
        for (size_t row = 0; row < nrows; row++) {
            my_out_begin(&o, seq++);
            for (int i = 0; i < r->ncols; i++) {
                const char *v = r->cells[row * r->ncols + i];
                if (v)
                    my_out_lenenc_str(&o, v, strlen(v));
                else
                    my_out_int1(&o, 0xfb);
            }
            my_out_end(&o);
        }
        my_out_eof(&o, seq, 0, SERVER_STATUS_AUTOCOMMIT);
    }
    pg_out_bytes(out, o.data, o.len);
    if (o.failed)
        out->failed = true;
    my_out_free(&o);
}
