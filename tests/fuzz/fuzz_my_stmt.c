/* fuzz_my_stmt.c -- libFuzzer target for the COM_STMT_* heads, the GET_LOCK scan and the pin
 * scan (my_pin.h).
 *
 * Input: bytes 0-1 the statement's parameter count (little-endian), byte 2 the piece size for
 * the GET_LOCK scan (0 = 1), then one payload, read as a prepare OK, an EXECUTE or
 * BULK_EXECUTE head (whole and cut short), SEND_LONG_DATA, CLOSE/RESET/FETCH, and SQL text.
 * Checks: a head lies inside its payload and parses the same from any longer prefix, a
 * shorter prefix asks for more, the rewritten head has the announced length, and the scan in
 * pieces finds GET_LOCK exactly when the scan of the whole text does, and the pin scan in
 * pieces says what the whole text says, SET NAMES's collation included. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_pin.h"
#include "protocol/mysql/my_stmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exec_head(const uint8_t *p, uint32_t len, uint16_t nparams)
{
    struct my_exec_head h;
    int rc = my_exec_head_parse(p, len, len, nparams, &h);
    if (rc == WR_AGAIN)
        __builtin_trap(); /* the whole payload never asks for more */
    if (rc != WR_OK)
        return;
    if (h.head_len > len || h.types_at > h.head_len ||
        (h.types && (h.types != p + h.types_at || h.types_at + 2u * nparams > len)))
        __builtin_trap();
    struct my_exec_head g;
    if (h.head_len > 0 && my_exec_head_parse(p, h.head_len - 1, len, nparams, &g) != WR_AGAIN)
        __builtin_trap();
    if (my_exec_head_parse(p, h.head_len, len, nparams, &g) != WR_OK || g.head_len != h.head_len ||
        g.stmt_id != h.stmt_id || g.bound != h.bound)
        __builtin_trap();
    uint32_t n = my_exec_head_typed_len(&h);
    uint8_t *out = malloc(n);
    uint8_t *types = calloc(1, 2u * nparams + 1);
    if (out && types && my_exec_head_with_types(out, &h, p, 7, types) != n)
        __builtin_trap();
    free(out);
    free(types);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint16_t nparams = (uint16_t)(data[0] | data[1] << 8);
    size_t step = data[2] ? data[2] : 1;
    size_t len = size - 3;
    /* Exact-size copy so that any read past the end is caught. */
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return 0;
    memcpy(p, data + 3, len);

    struct my_prep_ok ok;
    (void)my_prep_ok_parse(p, len, &ok);
    if (len > 0) {
        exec_head(p, (uint32_t)len, nparams);
        /* The same bytes as each command that has a head. */
        uint8_t saved = p[0];
        p[0] = COM_STMT_EXECUTE;
        exec_head(p, (uint32_t)len, nparams);
        p[0] = COM_STMT_BULK_EXECUTE;
        exec_head(p, (uint32_t)len, nparams);
        uint32_t id, rows;
        uint16_t param;
        p[0] = COM_STMT_SEND_LONG_DATA;
        (void)my_long_data_parse(p, len, &id, &param);
        for (uint8_t cmd = COM_STMT_CLOSE; cmd <= COM_STMT_FETCH; cmd++) {
            p[0] = cmd;
            (void)my_stmt_id_parse(p, len, &id, &rows);
        }
        p[0] = saved;
    }

    bool whole = my_has_get_lock(p, len);
    struct my_lock_scan st = {{0}, 0};
    bool pieces = false;
    for (size_t at = 0; at < len; at += step)
        pieces |= my_lock_scan_feed(&st, p + at, len - at < step ? len - at : step);
    if (whole != pieces)
        __builtin_trap();

    struct my_pin_scan ws, ps;
    my_pin_scan_init(&ws);
    enum my_pin_why why = my_pin_scan_feed(&ws, p, len), why_pieces = MY_PIN_NONE;
    if (!why)
        why = my_pin_scan_end(&ws);
    my_pin_scan_init(&ps);
    for (size_t at = 0; at < len && !why_pieces; at += step)
        why_pieces = my_pin_scan_feed(&ps, p + at, len - at < step ? len - at : step);
    if (!why_pieces)
        why_pieces = my_pin_scan_end(&ps);
    if (why != why_pieces)
        __builtin_trap();
    /* What SET NAMES leaves is the same too (a collation's name cut anywhere). */
    if (!why && (ws.names != ps.names || strcmp(ws.collate, ps.collate) ||
                 strlen(ws.collate) != ws.collate_len))
        __builtin_trap();
    free(p);
    return 0;
}
