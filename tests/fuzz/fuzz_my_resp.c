/* fuzz_my_resp.c -- libFuzzer target for the response tracker: a command byte, caps, then packets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);

    /* Byte 0: command; byte 1: capability choices; byte 2: streaming choices. */
    static const uint64_t opt[] = {CLIENT_DEPRECATE_EOF, CLIENT_SESSION_TRACK,
                                   MARIADB_CLIENT_CACHE_METADATA, MARIADB_CLIENT_PROGRESS};
    uint64_t caps = CLIENT_PROTOCOL_41;
    for (int i = 0; i < 4; i++)
        if (copy[1] & (1 << i))
            caps |= opt[i];
    struct my_resp r;
    my_resp_start(&r, copy[0], caps);
    bool stream = copy[2] & 1;

    size_t off = 3;
    while (off < size) {
        /* Packets here carry a 2-byte length to keep inputs small; huge lengths via flag. */
        if (size - off < 3)
            break;
        uint32_t plen = (uint32_t)copy[off] | (uint32_t)copy[off + 1] << 8;
        bool huge = copy[off + 2] & 1;
        bool infile_done = copy[off + 2] & 2;
        off += 3;
        size_t have = size - off;
        uint32_t len = plen;
        if (huge)
            len = MY_MAX_PAYLOAD;
        size_t avail = len < have ? len : have;
        if (len > 0 && avail == 0)
            break;
        if (stream && len > 0 && !my_resp_wants_whole(&r, copy[off], len) && avail > 1)
            avail = 1;
        /* An exact-size copy of what is fed. */
        uint8_t *p = malloc(avail ? avail : 1);
        if (p == NULL)
            break;
        memcpy(p, copy + off, avail);
        int rc = my_resp_feed(&r, avail ? p : NULL, avail, len);
        free(p);
        off += avail;
        if (rc == WR_DONE) {
            if (!my_resp_done(&r) || r.results == 0)
                __builtin_trap();
            break;
        }
        if (rc == WR_ERROR)
            break;
        if (rc != WR_AGAIN)
            __builtin_trap();
        if (r.infile && infile_done && my_resp_infile_sent(&r) != WR_OK)
            __builtin_trap();
    }
    free(copy);
    return 0;
}
