/* fuzz_http_req.c -- libFuzzer target for the HTTP/1.x request-head parser (/metrics). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http/http_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past `size` is an ASan report. */
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct http_req r;
    int rc = http_req_parse(copy, size, &r);
    if (rc == WR_OK) {
        /* Everything returned lies inside the head, and the head inside the input. */
        if (r.head_len == 0 || r.head_len > size || r.method != copy || r.method_len == 0 ||
            r.target < copy || r.target + r.target_len > copy + r.head_len ||
            r.path_len > r.target_len || r.minor < 0 || r.minor > 9)
            __builtin_trap();
        /* The head alone parses the same; one byte less is incomplete. */
        struct http_req again;
        if (http_req_parse(copy, r.head_len, &again) != WR_OK || again.head_len != r.head_len ||
            http_req_parse(copy, r.head_len - 1, &again) != WR_AGAIN)
            __builtin_trap();
    } else if (rc == WR_AGAIN) {
        /* Resumable: a prefix of an incomplete head is incomplete too. */
        struct http_req again;
        if (http_req_parse(copy, size / 2, &again) != WR_AGAIN)
            __builtin_trap();
    } else if (rc == WR_ERROR) {
        /* ... and more input never repairs a head that is already wrong. */
        char *more = malloc(size + 4);
        if (more) {
            memcpy(more, copy, size);
            memcpy(more + size, "\r\n\r\n", 4);
            struct http_req again;
            if (http_req_parse(more, size + 4, &again) != WR_ERROR)
                __builtin_trap();
            free(more);
        }
    } else {
        __builtin_trap();
    }
    free(copy);
    return 0;
}
