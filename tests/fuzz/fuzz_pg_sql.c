/*
 * fuzz_pg_sql.c -- libFuzzer target for the session keyword scan and the
 * libpg_query classifier: the input is a query text. The scan fed in two
 * pieces (split at the first byte's value) must agree with the scan of the
 * whole; whatever the classifier finds, the scan must have flagged; the classifier's ops
 * must carry what their kind promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copy so that any read past the end is caught; NUL-terminated for the parser. */
    char *q = malloc(size + 1);
    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = 0;
    unsigned whole = pg_sql_scan(q, size);
    struct pg_sql_scan s;
    pg_sql_scan_init(&s);
    size_t cut = size ? data[0] % (size + 1) : 0;
    pg_sql_scan_feed(&s, q, cut);
    pg_sql_scan_feed(&s, q + cut, size - cut);
    if (pg_sql_scan_end(&s) != whole)
        __builtin_trap();
    struct pg_sql_effects e;
    if (pg_sql_classify(q, &e) == WR_OK) {
        /*
         * The scan must never miss what the grammar finds (it only decides whether the grammar
         * is asked): any pin but "other" (a tree too deep to walk) or any session op needs
         * PG_SQL_SESSION, transaction control either bit.
         */
        if ((e.pin & ~(unsigned)PG_PIN_OTHER) && !(whole & PG_SQL_SESSION))
            __builtin_trap();
        for (int i = 0; i < e.nops; i++) {
            const struct pg_sql_op *op = &e.ops[i];
            if (op->kind < PG_OP_BEGIN && !(whole & PG_SQL_SESSION))
                __builtin_trap();
            if (op->kind >= PG_OP_BEGIN && !whole)
                __builtin_trap();
            if ((op->kind == PG_OP_SET || op->kind == PG_OP_RESET) && !op->name)
                __builtin_trap();
            if (op->kind == PG_OP_SET && op->value) {
                char buf[8192];
                size_t len = 0;
                pg_sql_quote_name(buf, sizeof(buf), &len, op->name);
                if (len < sizeof(buf) && strlen(buf) != len)
                    __builtin_trap();
            }
        }
        pg_sql_effects_free(&e);
    }
    free(q);
    return 0;
}
