/* fuzz_scram.c -- libFuzzer target for the SCRAM-SHA-256 server steps and verifier parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7677's verifier for password "pencil"; fixed so runs are reproducible. */
#define VERIFIER                                                                                   \
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"    \
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

/*
 * Input: client-first-message, a NUL, client-final-message. The server nonce
 * is fixed so the fuzzer can echo it and reach the proof check. The whole
 * input, NUL-terminated, is also fed to the verifier parser.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct scram_secret secret;
    static int have_secret;
    struct scram_server st;
    char out[1024];
    size_t out_len;

    if (!have_secret) {
        if (scram_parse_verifier(VERIFIER, &secret) != WR_OK)
            __builtin_trap();
        have_secret = 1;
    }

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct scram_secret parsed;
    if (scram_parse_verifier(text, &parsed) == WR_OK) {
        char back[512];
        if (scram_format_verifier(&parsed, back, sizeof(back)) < 0)
            __builtin_trap();
    }
    (void)pg_secret_kind(text);
    free(text);

    const uint8_t *sep = memchr(data, 0, size);
    size_t first_len = sep ? (size_t)(sep - data) : size;
    uint8_t *first = malloc(first_len ? first_len : 1);
    if (first == NULL)
        return 0;
    memcpy(first, data, first_len);

    memset(&st, 0, sizeof(st));
    /* A client-first that asks for channel binding runs with SCRAM-SHA-256-PLUS chosen, one
     * saying "y" with PLUS offered: both the binding and the downgrade paths are reached. */
    static const uint8_t cbind[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    if (first_len > 0 && (first[0] == 'p' || (first[0] == 'y' && size % 2)))
        scram_server_channel_binding(&st, cbind, sizeof(cbind), first[0] == 'p');
    int rc = scram_server_first_with_nonce(&st, &secret, first, first_len, SERVER_NONCE, out,
                                           sizeof(out), &out_len);
    free(first);
    if (rc == WR_OK && (out_len != strlen(out) || out_len >= sizeof(out)))
        __builtin_trap();
    if (sep != NULL) {
        size_t final_len = size - first_len - 1;
        uint8_t *final = malloc(final_len ? final_len : 1);
        if (final == NULL)
            return 0;
        memcpy(final, sep + 1, final_len);
        rc = scram_server_final(&st, final, final_len, out, sizeof(out), &out_len);
        free(final);
        if (rc == WR_OK && out_len != strlen(out))
            __builtin_trap();
        if (scram_server_final(&st, sep + 1, final_len, out, sizeof(out), &out_len) != WR_ERROR)
            __builtin_trap(); /* a replay must always fail */
    }
    scram_server_clear(&st);
    return 0;
}
