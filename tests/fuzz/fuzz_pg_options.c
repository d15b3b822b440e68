/* fuzz_pg_options.c -- libFuzzer target for the `options` startup parameter parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A startup parameter is a C string: stop at the first NUL, as the startup parser does. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct pg_options o;
    char err[200], state[6];
    if (pg_options_parse(s, &o, err, sizeof(err), state) == WR_OK) {
        if (o.n < 0 || o.n > PG_OPTIONS_MAX)
            __builtin_trap();
        for (int i = 0; i < o.n; i++) {
            const char *n = o.opt[i].name;
            if (!n[0] || strchr(n, '=') || strchr(n, '-') || strlen(o.opt[i].value) > size)
                __builtin_trap();
        }
        pg_options_free(&o);
    } else if (strlen(state) != 5 || !err[0]) {
        __builtin_trap();
    }
    free(s);
    return 0;
}
