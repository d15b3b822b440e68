/* fuzz_my_packet.c -- libFuzzer target for MySQL packet framing and the field reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);

    size_t off = 0;
    for (;;) {
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(copy + off, size - off, &len, &seq) != WR_OK)
            break;
        if (len > size - off - MY_HDR_LEN)
            break; /* incomplete payload */
        const uint8_t *p = copy + off + MY_HDR_LEN;
        struct my_err e;
        if (my_err_parse(p, len, &e) == WR_OK &&
            (e.message + e.message_len != (const char *)p + len))
            __builtin_trap();
        uint16_t w, st;
        (void)my_eof_parse(p, len, &w, &st);

        /* Read the payload field by field until the reader fails. */
        struct my_in in;
        size_t n;
        bool is_null;
        my_in_init(&in, p, len);
        while (!in.failed && in.p < in.end) {
            const uint8_t *s = NULL;
            switch (my_in_int1(&in) % 8) {
            case 0:
                (void)my_in_int2(&in);
                break;
            case 1:
                (void)my_in_int3(&in);
                break;
            case 2:
                (void)my_in_int8(&in);
                break;
            case 3:
                (void)my_in_lenenc(&in, &is_null);
                break;
            case 4:
                s = my_in_lenenc_str(&in, &n);
                if (s != NULL && s + n > in.end)
                    __builtin_trap();
                break;
            case 5:
                (void)my_in_str(&in);
                break;
            case 6:
                (void)my_in_bytes(&in, my_in_int1(&in));
                break;
            default:
                (void)my_in_rest(&in, &n);
                break;
            }
            if (in.p > in.end)
                __builtin_trap();
        }

        /* Re-frame the payload with the builder and walk it back. */
        if (len < 4096) {
            struct my_out o;
            my_out_init(&o);
            my_out_begin(&o, seq);
            my_out_bytes(&o, p, len);
            my_out_end(&o);
            uint32_t l2;
            uint8_t s2;
            if (o.failed || my_pkt_peek(o.data, o.len, &l2, &s2) != WR_OK || l2 != len ||
                s2 != seq || memcmp(o.data + MY_HDR_LEN, p, len) != 0)
                __builtin_trap();
            my_out_free(&o);
        }
        off += MY_HDR_LEN + len;
    }
    free(copy);
    return 0;
}
