/* my_stmt.c -- COM_STMT_* heads and packets, and the GET_LOCK scan. */
#include "protocol/mysql/my_stmt.h"

#include <string.h>

int my_prep_ok_parse(const uint8_t *p, size_t len, struct my_prep_ok *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 9 || p[0] != MY_OK_HEADER)
        return WR_ERROR;
    out->stmt_id = my_get32(p + 1);
    out->ncols = my_get16(p + 5);
    out->nparams = my_get16(p + 7);
    if (len >= 12)
        out->warnings = my_get16(p + 10);
    return WR_OK;
}

int my_exec_head_parse(const uint8_t *p, size_t avail, uint32_t len, uint16_t nparams,
                       struct my_exec_head *h)
{
    memset(h, 0, sizeof(*h));
    if (avail > len || len == 0)
        return WR_ERROR;
    if (avail == 0)
        return WR_AGAIN;
    h->command = p[0];
    h->nparams = nparams;
    uint32_t fixed = p[0] == COM_STMT_EXECUTE ? 10 : p[0] == COM_STMT_BULK_EXECUTE ? 7 : 0;
    if (fixed == 0 || len < fixed)
        return WR_ERROR;
    if (avail < fixed)
        return WR_AGAIN;
    h->stmt_id = my_get32(p + 1);
    uint32_t types = 2u * nparams;
    if (p[0] == COM_STMT_BULK_EXECUTE) {
        h->flags = my_get16(p + 5);
        h->iterations = 0;
        h->bound = (h->flags & MY_BULK_SEND_TYPES) != 0;
        h->bitmap_at = 7;
        h->types_at = 7;
        h->head_len = 7 + (h->bound ? types : 0);
    } else {
        h->flags = p[5];
        h->iterations = my_get32(p + 6);
        h->bitmap_at = 10;
        if (nparams == 0) {
            /* Nothing follows the fixed part; extra bytes are the server's to ignore. */
            h->types_at = 10;
            h->head_len = 10;
            return WR_OK;
        }
        uint32_t flag_at = 10 + (nparams + 7u) / 8;
        if (len < flag_at + 1)
            return WR_ERROR;
        if (avail < flag_at + 1)
            return WR_AGAIN;
        if (p[flag_at] > 1)
            return WR_ERROR;
        h->bound = p[flag_at] == 1;
        h->types_at = flag_at + 1;
        h->head_len = h->types_at + (h->bound ? types : 0);
    }
    if (len < h->head_len)
        return WR_ERROR;
    if (avail < h->head_len)
        return WR_AGAIN;
    if (h->bound && nparams > 0)
        h->types = p + h->types_at;
    return WR_OK;
}

uint32_t my_exec_head_with_types(uint8_t *dst, const struct my_exec_head *h, const uint8_t *orig,
                                 uint32_t stmt_id, const uint8_t *types)
{
    uint32_t n = h->bound ? h->head_len : h->types_at;
    memmove(dst, orig, n);
    my_put_le(dst + 1, stmt_id, 4);
    if (h->bound)
        return n;
    if (h->command == COM_STMT_BULK_EXECUTE)
        my_put_le(dst + 5, h->flags | MY_BULK_SEND_TYPES, 2);
    else if (h->nparams > 0)
        dst[n - 1] = 1; /* new_params_bound_flag */
    memcpy(dst + n, types, 2u * h->nparams);
    return n + 2u * h->nparams;
}

int my_long_data_parse(const uint8_t *p, size_t avail, uint32_t *stmt_id, uint16_t *param)
{
    if (avail < MY_LONG_DATA_HEAD || p[0] != COM_STMT_SEND_LONG_DATA)
        return WR_ERROR;
    *stmt_id = my_get32(p + 1);
    *param = my_get16(p + 5);
    return WR_OK;
}

int my_stmt_id_parse(const uint8_t *p, size_t len, uint32_t *stmt_id, uint32_t *rows)
{
    if (len < 1)
        return WR_ERROR;
    size_t want = p[0] == COM_STMT_FETCH                             ? 9
                  : p[0] == COM_STMT_CLOSE || p[0] == COM_STMT_RESET ? 5
                                                                     : 0;
    if (want == 0 || len != want)
        return WR_ERROR;
    *stmt_id = my_get32(p + 1);
    if (p[0] == COM_STMT_FETCH && rows)
        *rows = my_get32(p + 5);
    return WR_OK;
}

/* Opens a command packet (sequence id 0) with command byte cmd. */
static void command(struct my_out *o, uint8_t cmd)
{
    my_out_begin(o, 0);
    my_out_int1(o, cmd);
}

void my_out_stmt_prepare(struct my_out *o, const void *text, size_t len)
{
    command(o, COM_STMT_PREPARE);
    my_out_bytes(o, text, len);
    my_out_end(o);
}

void my_out_stmt_close(struct my_out *o, uint32_t stmt_id)
{
    command(o, COM_STMT_CLOSE);
    my_out_int4(o, stmt_id);
    my_out_end(o);
}

void my_out_stmt_long_data(struct my_out *o, uint32_t stmt_id, uint16_t param, const void *data,
                           size_t len)
{
    command(o, COM_STMT_SEND_LONG_DATA);
    my_out_int4(o, stmt_id);
    my_out_int2(o, param);
    my_out_bytes(o, data, len);
    my_out_end(o);
}

void my_out_init_db(struct my_out *o, const char *schema, size_t len)
{
    command(o, COM_INIT_DB);
    my_out_bytes(o, schema, len);
    my_out_end(o);
}

/* ---- GET_LOCK ---- */

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/* Is the '_' at s[i] the middle of "get_lock"? (3 bytes before it and 4 after must exist.) */
static bool get_lock_at(const uint8_t *s, size_t len, size_t i)
{
    return i >= 3 && i + 4 < len && lower(s[i - 3]) == 'g' && lower(s[i - 2]) == 'e' &&
           lower(s[i - 1]) == 't' && lower(s[i + 1]) == 'l' && lower(s[i + 2]) == 'o' &&
           lower(s[i + 3]) == 'c' && lower(s[i + 4]) == 'k';
}

/*
 * The '_' of GET_LOCK is what is searched for, with memchr: glibc's memchr
 * reads a vector of bytes per step, and '_' is rarer in SQL than any letter
 * of the name (sysbench's statements have none), so text without the name
 * costs about one vectorised pass; each '_' found costs a few compares.
 */
static bool scan(const uint8_t *s, size_t len)
{
    const uint8_t *p = s, *end = s + len;
    while (p < end && (p = memchr(p, '_', (size_t)(end - p)))) {
        if (get_lock_at(s, len, (size_t)(p - s)))
            return true;
        p++;
    }
    return false;
}

bool my_lock_scan_feed(struct my_lock_scan *st, const uint8_t *p, size_t len)
{
    if (len == 0)
        return false;
    bool found = false;
    if (st->n > 0) {
        /* A name across the cut: the kept tail and the piece's first 7 bytes. */
        uint8_t w[14];
        size_t head = len < 7 ? len : 7;
        memcpy(w, st->tail, st->n);
        memcpy(w + st->n, p, head);
        found = scan(w, st->n + head);
    }
    if (!found)
        found = scan(p, len);
    /* Keep the last 7 bytes of (tail + piece) for the next piece. */
    uint8_t t[14];
    size_t n = 0;
    if (len < 7) {
        memcpy(t, st->tail, st->n);
        n = st->n;
    }
    size_t take = len < 7 ? len : 7;
    memcpy(t + n, p + len - take, take);
    n += take;
    size_t keep = n < 7 ? n : 7;
    memcpy(st->tail, t + n - keep, keep);
    st->n = (uint8_t)keep;
    return found;
}
