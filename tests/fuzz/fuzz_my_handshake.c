/* fuzz_my_handshake.c -- libFuzzer target for the HandshakeResponse41 and AuthSwitchRequest
 * parsers, and the SSLRequest that switches a MySQL client to TLS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql/my_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past `size` is an ASan report. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    const uint8_t *end = copy + size;

    struct my_hs_response r;
    char err[128];
    int rc = my_hs_response_parse(copy, size, &r, err, sizeof(err));
    if (rc == WR_ERROR && err[0] == '\0')
        __builtin_trap();
    /* The TLS switch: an SSLRequest is exactly its 32 bytes and carries CLIENT_SSL. */
    if (rc == WR_OK && r.ssl_request && (size != MY_SSL_REQUEST_LEN || !(r.caps & CLIENT_SSL)))
        __builtin_trap();
    if (rc == WR_OK && !r.ssl_request) {
        if (r.user == NULL || (const uint8_t *)r.user + strlen(r.user) >= end)
            __builtin_trap();
        if (r.auth_len && (r.auth == NULL || r.auth + r.auth_len > end))
            __builtin_trap();
        if (r.database && (const uint8_t *)r.database + strlen(r.database) >= end)
            __builtin_trap();
        if (r.plugin && (const uint8_t *)r.plugin + strlen(r.plugin) >= end)
            __builtin_trap();
        if (r.attrs && r.attrs + r.attrs_len > end)
            __builtin_trap();
        size_t pos = 0, kl, vl;
        const uint8_t *k, *v;
        while (my_hs_attr_next(&r, &pos, &k, &kl, &v, &vl))
            if (k + kl > end || v + vl > end)
                __builtin_trap();
        if (pos != r.attrs_len)
            __builtin_trap();
        /* Rebuild and re-parse: the same fields come back. */
        struct my_out o;
        my_out_init(&o);
        my_out_hs_response(&o, 1, &r);
        struct my_hs_response r2;
        if (!o.failed) {
            if (my_hs_response_parse(o.data + 4, o.len - 4, &r2, err, sizeof(err)) != WR_OK ||
                r2.caps != r.caps || strcmp(r2.user, r.user) != 0 || r2.auth_len != r.auth_len)
                __builtin_trap();
        }
        my_out_free(&o);
    }
    const char *plugin;
    const uint8_t *d;
    size_t dl;
    if (my_auth_switch_parse(copy, size, &plugin, &d, &dl) == WR_OK && d + dl != end)
        __builtin_trap();
    free(copy);
    return 0;
}
