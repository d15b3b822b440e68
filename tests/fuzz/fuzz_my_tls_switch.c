/* fuzz_my_tls_switch.c -- libFuzzer target for the MySQL switch to TLS (my_tls_switch): the
 * bytes a client sent after the greeting, an SSLRequest perhaps with its TLS handshake behind. */
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
    size_t at = 0;
    uint8_t seq = 0;
    char err[128];
    int rc = my_tls_switch(copy, size, &at, &seq, err, sizeof(err));
    if (rc == WR_ERROR && err[0] == '\0')
        __builtin_trap();
    if (rc == WR_OK) {
        /* An SSLRequest: 4 + 32 bytes with CLIENT_SSL, and what follows is a TLS record. */
        if (at != 4 + MY_SSL_REQUEST_LEN || at > size || seq != copy[3])
            __builtin_trap();
        struct my_hs_response r;
        if (my_hs_response_parse(copy + 4, MY_SSL_REQUEST_LEN, &r, err, sizeof(err)) != WR_OK ||
            !r.ssl_request)
            __builtin_trap();
        if (at < size && copy[at] != MY_TLS_HANDSHAKE)
            __builtin_trap();
    }
    /* Every prefix of an SSLRequest asks for more, never decides. */
    if (rc == WR_OK)
        for (size_t n = 0; n < at; n++)
            if (my_tls_switch(copy, n, &at, &seq, err, sizeof(err)) != WR_AGAIN)
                __builtin_trap();
    free(copy);
    return 0;
}
