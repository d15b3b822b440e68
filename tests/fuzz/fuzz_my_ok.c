/* fuzz_my_ok.c -- libFuzzer target for OK packet parsing and the session-state iterator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const uint8_t *block, size_t len)
{
    struct my_track_iter it;
    struct my_track e;
    const uint8_t *end = block + len;
    int rc;
    my_track_init(&it, block, len);
    while ((rc = my_track_next(&it, &e)) == WR_OK) {
        if (e.data_len && e.data + e.data_len > end)
            __builtin_trap();
        if (e.value_len && (e.value < e.data || e.value + e.value_len > e.data + e.data_len))
            __builtin_trap();
        if (e.name_len && (e.name < e.data || e.name + e.name_len > e.data + e.data_len))
            __builtin_trap();
    }
    if (rc != WR_DONE && rc != WR_ERROR)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t caps = CLIENT_PROTOCOL_41 | ((data[0] & 1) ? CLIENT_SESSION_TRACK : 0);
    size_t n = size - 1;
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, n);
    struct my_ok ok;
    if (my_ok_parse(copy, n, caps, &ok) == WR_OK) {
        if (ok.info_len && ok.info + ok.info_len > copy + n)
            __builtin_trap();
        if (ok.session_state) {
            if (ok.session_state + ok.session_state_len > copy + n)
                __builtin_trap();
            walk(ok.session_state, ok.session_state_len);
        }
    }
    walk(copy, n); /* the iterator on raw input too */
    free(copy);
    return 0;
}
