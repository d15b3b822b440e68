/*
 * fuzz_hba.c -- libFuzzer target for the auth_hba_file parser (pooler/conf/hba.c, built into
 * this target with netlist.c): any text an operator's file may hold. A file that parses is
 * matched against a few connections, so the rules it produced are read back too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pooler/conf/hba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past `size` is an ASan report. */
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct hba *h = NULL;
    char err[256];
    if (hba_parse(copy, size, &h, err, sizeof(err)) == WR_OK) {
        static const uint8_t v4[4] = {127, 0, 0, 1};
        static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
        const struct hba_conn conns[] = {
            {.family = AF_UNIX, .database = "shop", .user = "app"},
            {.family = AF_INET, .ip = v4, .tls = true, .database = "app", .user = "app"},
            {.family = AF_INET6, .ip = v6, .database = "", .user = "all"},
            {.family = AF_INET, .ip = v4, .replication = true, .database = "x", .user = "y"},
        };
        for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++) {
            int line;
            enum hba_method m = hba_match(h, &conns[i], &line);
            if ((m == HBA_NONE) != (line == 0) || m > HBA_CERT)
                abort(); /* a match names its line; nothing else does */
        }
        hba_unref(h);
    } else if (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "line ", 5) != 0) {
        abort(); /* every refusal names its line */
    }
    free(copy);
    return 0;
}
