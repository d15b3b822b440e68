/* fuzz_pg_startup.c -- libFuzzer target for the PostgreSQL startup packet parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_startup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse(const uint8_t *data, size_t size, struct pg_startup *s)
{
    char err[128];
    /* An exact-size copy, so any read past `size` is an ASan report. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return WR_ERROR;
    memcpy(copy, data, size);
    int rc = pg_startup_parse(copy, size, s, err, sizeof(err));
    if (rc == WR_OK && s->kind == PG_STARTUP_NORMAL) {
        /* Every returned string is NUL-terminated inside the packet. */
        for (int i = 0; i < s->nparams; i++) {
            const char *n = s->params[i].name, *v = s->params[i].value;
            if (n < (char *)copy || v + strlen(v) >= (char *)copy + s->pkt_len)
                __builtin_trap();
        }
        if (s->user == NULL || s->user[0] == '\0' || s->database == NULL ||
            pg_startup_param(s, "user") != s->user)
            __builtin_trap();
    }
    if (rc == WR_OK && (s->pkt_len > size || s->pkt_len < 8 || s->pkt_len > PG_STARTUP_MAX_LEN))
        __builtin_trap();
    if (rc == WR_ERROR && err[0] == '\0')
        __builtin_trap();
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_startup s;
    int rc = parse(data, size, &s);

    /* Resumability: every shorter prefix of a complete packet is WR_AGAIN. */
    if (rc == WR_OK && s.pkt_len <= 256) {
        size_t pkt_len = s.pkt_len;
        for (size_t n = 0; n < pkt_len; n++)
            if (parse(data, n, &s) != WR_AGAIN)
                __builtin_trap();
    }
    return 0;
}
