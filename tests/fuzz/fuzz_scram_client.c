/*
 * fuzz_scram_client.c -- libFuzzer target for the client side of SCRAM-SHA-256 (weir logging
 * in to a server): whatever a server sends as its server-first and server-final messages.
 * Input: server-first, a NUL, server-final. The client runs with given keys (the pass-through
 * case), so no PBKDF2 slows the runs; the parsing is the same with a password.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t ck[SCRAM_KEY_LEN] = {1, 2, 3}, sk[SCRAM_KEY_LEN] = {4, 5, 6};
    struct scram_client st;
    char out[1024];
    size_t n;
    scram_client_keys(&st, ck, sk);
    if (scram_client_first_with_nonce(&st, "rOprNGfwEbeRWgbNEkqO", out, sizeof(out), &n) != WR_OK)
        __builtin_trap();
    const uint8_t *sep = memchr(data, 0, size);
    size_t first_len = sep ? (size_t)(sep - data) : size;
    /* exact-size copies, so any read past the end is an ASan report */
    uint8_t *first = malloc(first_len ? first_len : 1);
    if (!first)
        return 0;
    memcpy(first, data, first_len);
    int rc = scram_client_final(&st, first, first_len, out, sizeof(out), &n);
    free(first);
    if (rc == WR_OK && (n != strlen(out) || strncmp(out, "c=biws,r=rOprNGfwEbeRWgbNEkqO", 29)))
        __builtin_trap(); /* a final message echoes our nonce first */
    if (sep) {
        size_t final_len = size - first_len - 1;
        uint8_t *fin = malloc(final_len ? final_len : 1);
        if (!fin)
            return 0;
        memcpy(fin, sep + 1, final_len);
        int v = scram_client_verify(&st, fin, final_len);
        free(fin);
        if (rc != WR_OK && v != WR_ERROR)
            __builtin_trap(); /* no verification after a refused server-first */
    }
    scram_client_clear(&st);
    return 0;
}
