/*
 * fuzz_proxy_hdr.c -- libFuzzer target for the PROXY protocol v1/v2 header
 * parser: whatever a balancer (or anyone in a listed network) sends first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proxy/proxy_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past `size` is an ASan report. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct proxy_hdr h;
    char err[128];
    int rc = proxy_hdr_parse(copy, size, &h, err, sizeof(err));
    if (rc == WR_OK) {
        /* The header lies inside the input and inside the limits of its version. */
        if (h.len == 0 || h.len > size || (h.version == 1 && h.len > PROXY_V1_MAX) ||
            (h.version == 2 && (h.len < PROXY_V2_HDR || h.len > PROXY_V2_MAX)) ||
            (h.version != 1 && h.version != 2) ||
            (h.family != PROXY_FAM_NONE && h.family != PROXY_FAM_INET &&
             h.family != PROXY_FAM_INET6) ||
            (h.cmd == PROXY_CMD_LOCAL && h.version != 2))
            __builtin_trap();
        /* The header alone parses the same; one byte less asks for more. */
        struct proxy_hdr again;
        if (proxy_hdr_parse(copy, h.len, &again, err, sizeof(err)) != WR_OK || again.len != h.len ||
            again.family != h.family || memcmp(again.src, h.src, sizeof(h.src)) ||
            again.src_port != h.src_port ||
            proxy_hdr_parse(copy, h.len - 1, &again, err, sizeof(err)) != WR_AGAIN)
            __builtin_trap();
        if (!proxy_hdr_looks_like(copy, size))
            __builtin_trap();
    } else if (rc == WR_AGAIN) {
        /* Resumable: a prefix of an incomplete header is incomplete too. */
        struct proxy_hdr again;
        if (proxy_hdr_parse(copy, size / 2, &again, err, sizeof(err)) != WR_AGAIN)
            __builtin_trap();
    } else if (rc == WR_ERROR) {
        /* More input never repairs a header that is already wrong. */
        uint8_t *more = malloc(size + 2);
        if (more) {
            memcpy(more, copy, size);
            memcpy(more + size, "\r\n", 2);
            struct proxy_hdr again;
            if (proxy_hdr_parse(more, size + 2, &again, err, sizeof(err)) != WR_ERROR)
                __builtin_trap();
            free(more);
        }
        if (err[0] == '\0')
            __builtin_trap();
    } else {
        __builtin_trap();
    }
    free(copy);
    return 0;
}
