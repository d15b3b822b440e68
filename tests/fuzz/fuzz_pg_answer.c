/*
 * fuzz_pg_answer.c -- libFuzzer target for the answer to a query weir sends on its own after a
 * login (protocol/pg/pg_login.c, pg_answer_input: the role query, an auth_query lookup): rows,
 * errors and whatever else a server sends up to ReadyForQuery. Fed in two parts (split at the
 * first byte's value) to reach the partial-message paths too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end are reported */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct pg_answer a;
    pg_answer_init(&a);
    size_t split = size ? copy[0] % (size + 1) : 0, used;
    int rc = pg_answer_input(&a, copy, split, &used);
    if (used > split)
        __builtin_trap();
    if (rc == WR_AGAIN) {
        size_t at = used;
        rc = pg_answer_input(&a, copy + at, size - at, &used);
        if (used > size - at)
            __builtin_trap();
    }
    if (a.rows_len > PG_ANSWER_ROWS_MAX || strlen(a.rows) != a.rows_len)
        __builtin_trap(); /* the rows stay in bounds and are one string */
    if ((rc == WR_ERROR || a.failed) && a.error[0] == '\0')
        __builtin_trap(); /* every failure says why */
    free(copy);
    return 0;
}
