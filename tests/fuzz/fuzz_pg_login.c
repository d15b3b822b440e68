/*
 * fuzz_pg_login.c -- libFuzzer target for weir's own PostgreSQL login (protocol/pg/pg_login.c):
 * whatever a server sends from the startup packet to ReadyForQuery. The login holds an md5
 * secret and SCRAM keys but no password, so no PBKDF2 slows the runs. The input is fed in two
 * parts (split at its first byte's value) to reach the partial-message paths too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t ck[SCRAM_KEY_LEN] = {1}, sk[SCRAM_KEY_LEN] = {2};
    uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end are reported */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct pg_login l;
    struct pg_out o;
    pg_out_init(&o);
    pg_login_init(&l, "app", NULL, "md5e8fb1bce2ad3a1e9b7af5c8ea50bf7d5", ck, sk);
    size_t split = size ? copy[0] % (size + 1) : 0, at = 0, used;
    int rc = pg_login_input(&l, copy, split, &used, &o);
    if (used > split)
        __builtin_trap();
    at = used;
    if (rc == WR_AGAIN) {
        rc = pg_login_input(&l, copy + at, size - at, &used, &o);
        if (used > size - at)
            __builtin_trap();
    }
    if (rc == WR_ERROR && l.error[0] == '\0')
        __builtin_trap(); /* every failure says why */
    pg_login_clear(&l);
    pg_out_free(&o);
    free(copy);
    return 0;
}
