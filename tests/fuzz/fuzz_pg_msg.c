/*
 * fuzz_pg_msg.c -- libFuzzer target for PostgreSQL message framing, the frontend message check
 * and ErrorResponse parsing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);

    /* Walk a stream of messages as a session would. */
    size_t off = 0;
    for (;;) {
        char type;
        uint32_t body_len;
        if (pg_msg_peek(copy + off, size - off, 1 << 16, &type, &body_len) != WR_OK)
            break;
        if (body_len > size - off - PG_HDR_LEN)
            break; /* incomplete body */
        const uint8_t *body = copy + off + PG_HDR_LEN;
        /* A fixed-size message is accepted only with its exact body length. */
        const char *bad = pg_frontend_check(type, body_len);
        if (!bad && (type == 'S' || type == 'H' || type == 'X' || type == 'c') && body_len != 0)
            __builtin_trap();
        struct pg_error_fields f;
        if (pg_error_parse(body, body_len, &f) == WR_OK) {
            if (f.severity == NULL || f.sqlstate == NULL || f.message == NULL)
                __builtin_trap();
            /* Rebuild and re-parse: the message must survive. */
            struct pg_out o;
            pg_out_init(&o);
            pg_out_error(&o, f.severity, f.sqlstate, "%s", f.message);
            struct pg_error_fields g;
            if (o.failed || pg_error_parse(o.data + PG_HDR_LEN, o.len - PG_HDR_LEN, &g) != WR_OK ||
                strcmp(g.message, f.message) != 0 || strcmp(g.severity, f.severity) != 0)
                __builtin_trap();
            pg_out_free(&o);
        }
        /* Read the body field by field until the reader fails. */
        struct pg_in in;
        pg_in_init(&in, body, body_len);
        while (!in.failed && in.p < in.end) {
            switch (pg_in_byte(&in) % 4) {
            case 0:
                (void)pg_in_int16(&in);
                break;
            case 1:
                (void)pg_in_int32(&in);
                break;
            case 2:
                (void)pg_in_str(&in);
                break;
            default:
                (void)pg_in_bytes(&in, pg_in_byte(&in));
                break;
            }
            if (in.p > in.end)
                __builtin_trap();
        }
        off += PG_HDR_LEN + body_len;
    }
    free(copy);
    return 0;
}
