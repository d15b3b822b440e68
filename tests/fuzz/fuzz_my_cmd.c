/* fuzz_my_cmd.c -- libFuzzer target for KILL and USE recognition and COM_CHANGE_USER parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copies so that any read past the end is caught. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    uint64_t id;
    enum my_kill_kind k = my_kill_parse(p, size, &id);
    if (k != MY_KILL_NONE && size > MY_KILL_MAX_LEN)
        __builtin_trap();
    char name[MY_DB_NAME_MAX + 1];
    if (my_use_parse(p, size, name) == WR_OK && (!name[0] || strlen(name) > MY_DB_NAME_MAX))
        __builtin_trap();
    uint32_t id32;
    (void)my_process_kill_parse(p, size, &id32);
    struct my_change_user cu;
    char err[100];
    uint64_t caps[] = {0, CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH};
    for (int i = 0; i < 2; i++) {
        if (my_change_user_parse(p, size, caps[i], &cu, err, sizeof(err)) == WR_OK) {
            const uint8_t *end = p + size;
            if ((const uint8_t *)cu.user + strlen(cu.user) >= end ||
                (const uint8_t *)cu.database + strlen(cu.database) >= end ||
                (cu.auth_len && cu.auth + cu.auth_len > end) ||
                (cu.plugin && (const uint8_t *)cu.plugin + strlen(cu.plugin) >= end))
                __builtin_trap();
        }
    }
    free(p);
    return 0;
}
