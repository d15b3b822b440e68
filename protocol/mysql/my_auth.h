/*
 * my_auth.h -- MySQL/MariaDB password scrambles: mysql_native_password and
 * the fast path of caching_sha2_password, client tokens and server checks.
 * Built on OpenSSL primitives; no I/O.
 *
 * mysql_native_password (MY_NATIVE_TOKEN_LEN bytes):
 *   token  = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)))
 *   stored = SHA1(SHA1(pw)) ("stage2"), shown in mysql.user as "*" + 40 hex
 * caching_sha2_password fast path (MY_SHA2_TOKEN_LEN bytes):
 *   token  = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble)
 *   the server keeps SHA256(SHA256(pw)) in its cache
 * An empty password sends an empty token with either plugin.
 */
#ifndef WEIR_MY_AUTH_H
#define WEIR_MY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mysql/my_handshake.h"
#include "protocol/result.h"

#define MY_NATIVE_TOKEN_LEN 20
#define MY_NATIVE_HASH_LEN  41 /* "*" + 40 upper-case hex digits, without NUL */
#define MY_SHA2_TOKEN_LEN   32

/*
 * Fills scramble with MY_SCRAMBLE_LEN random bytes in 1..127 and never '$'
 * (as servers do: clients treat the scramble as a C string). WR_OK or
 * WR_ERROR (no randomness available).
 */
int my_scramble_generate(uint8_t scramble[MY_SCRAMBLE_LEN]) WR_MUST_CHECK;

/*
 * Client token for mysql_native_password. Writes MY_NATIVE_TOKEN_LEN bytes
 * to out and returns that length, or returns 0 (out untouched) for an empty
 * password.
 */
size_t my_native_token(const char *password, const uint8_t scramble[MY_SCRAMBLE_LEN],
                       uint8_t out[MY_NATIVE_TOKEN_LEN]);

/*
 * What a server stores for mysql_native_password: stage2 = SHA1(SHA1(pw)).
 * `empty` marks an account without a password (which only accepts an empty
 * token).
 */
struct my_native_secret {
    bool empty;
    uint8_t stage2[20];
};

/* Derives the stored form from a plain password ("" gives an empty secret). */
void my_native_secret_from_password(const char *password, struct my_native_secret *out);

/*
 * Parses a stored secret: "*" + 40 hex digits (either case) as in
 * mysql.user.authentication_string, or "" for no password. WR_OK or WR_ERROR.
 */
int my_native_secret_parse(const char *hash, struct my_native_secret *out) WR_MUST_CHECK;

/* Formats the "*" + 40 upper-case hex form into out (42 bytes with NUL). */
void my_native_secret_format(const struct my_native_secret *s, char out[MY_NATIVE_HASH_LEN + 1]);

/*
 * Server check of a mysql_native_password token against the scramble we
 * sent: stage1 = token XOR SHA1(scramble || stage2); valid iff SHA1(stage1)
 * equals stage2 (constant-time compare). An empty secret accepts exactly an
 * empty token; a non-empty one needs a 20-byte token.
 */
bool my_native_check(const struct my_native_secret *s, const uint8_t scramble[MY_SCRAMBLE_LEN],
                     const uint8_t *token, size_t token_len);

/*
 * my_native_check that also gives, when the token is good, the client's
 * stage1 = SHA1(pw): what weir needs to log in to a server as that user
 * without knowing the password (my_native_token_stage1). *has_stage1 is
 * false for an empty password (there is none to pass on).
 */
bool my_native_check_stage1(const struct my_native_secret *s,
                            const uint8_t scramble[MY_SCRAMBLE_LEN], const uint8_t *token,
                            size_t token_len, uint8_t stage1[20], bool *has_stage1);

/* The client token for a scramble from stage1 = SHA1(pw): stage1 XOR SHA1(scramble ||
 * SHA1(stage1)). */
void my_native_token_stage1(const uint8_t stage1[20], const uint8_t scramble[MY_SCRAMBLE_LEN],
                            uint8_t out[MY_NATIVE_TOKEN_LEN]);

/*
 * Client token for caching_sha2_password's fast path: MY_SHA2_TOKEN_LEN bytes
 * written and returned, or 0 for an empty password.
 */
size_t my_sha2_token(const char *password, const uint8_t scramble[MY_SCRAMBLE_LEN],
                     uint8_t out[MY_SHA2_TOKEN_LEN]);

/* What the fast path checks against: SHA256(SHA256(pw)). */
struct my_sha2_secret {
    bool empty;
    uint8_t stage2[32];
};

void my_sha2_secret_from_password(const char *password, struct my_sha2_secret *out);

/*
 * Server check of a caching_sha2_password fast-path token: x = token XOR
 * SHA256(stage2 || scramble); valid iff SHA256(x) equals stage2 (constant
 * time). Empty secrets accept exactly an empty token.
 */
bool my_sha2_check(const struct my_sha2_secret *s, const uint8_t scramble[MY_SCRAMBLE_LEN],
                   const uint8_t *token, size_t token_len);

#endif
