/* my_auth.c -- mysql_native_password and caching_sha2_password scrambles on OpenSSL. */
#include "protocol/mysql/my_auth.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* out = hash(a || b) with the given digest; out must hold the digest size. */
static void digest2(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
                    uint8_t *out)
{
    unsigned int olen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 || EVP_DigestUpdate(ctx, b, blen) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &olen) != 1)
        memset(out, 0, (size_t)EVP_MD_size(md)); /* a zero hash never matches a real one */
    EVP_MD_CTX_free(ctx);
}

static void xor_into(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = a[i] ^ b[i];
}

int my_scramble_generate(uint8_t scramble[MY_SCRAMBLE_LEN])
{
    size_t n = 0;
    while (n < MY_SCRAMBLE_LEN) {
        uint8_t b[MY_SCRAMBLE_LEN];
        if (RAND_bytes(b, sizeof(b)) != 1)
            return WR_ERROR;
        for (size_t i = 0; i < sizeof(b) && n < MY_SCRAMBLE_LEN; i++) {
            uint8_t c = b[i] & 0x7f;
            if (c != 0 && c != '$')
                scramble[n++] = c;
        }
    }
    return WR_OK;
}

size_t my_native_token(const char *password, const uint8_t scramble[MY_SCRAMBLE_LEN],
                       uint8_t out[MY_NATIVE_TOKEN_LEN])
{
    uint8_t stage1[20], stage2[20], mix[20];
    if (password == NULL || password[0] == '\0')
        return 0;
    SHA1((const uint8_t *)password, strlen(password), stage1);
    SHA1(stage1, sizeof(stage1), stage2);
    digest2(EVP_sha1(), scramble, MY_SCRAMBLE_LEN, stage2, sizeof(stage2), mix);
    xor_into(out, stage1, mix, MY_NATIVE_TOKEN_LEN);
    OPENSSL_cleanse(stage1, sizeof(stage1));
    return MY_NATIVE_TOKEN_LEN;
}

void my_native_secret_from_password(const char *password, struct my_native_secret *out)
{
    uint8_t stage1[20];
    memset(out, 0, sizeof(*out));
    if (password == NULL || password[0] == '\0') {
        out->empty = true;
        return;
    }
    SHA1((const uint8_t *)password, strlen(password), stage1);
    SHA1(stage1, sizeof(stage1), out->stage2);
    OPENSSL_cleanse(stage1, sizeof(stage1));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int my_native_secret_parse(const char *hash, struct my_native_secret *out)
{
    memset(out, 0, sizeof(*out));
    if (hash == NULL)
        return WR_ERROR;
    if (hash[0] == '\0') {
        out->empty = true;
        return WR_OK;
    }
    if (hash[0] != '*' || strlen(hash) != MY_NATIVE_HASH_LEN)
        return WR_ERROR;
    for (int i = 0; i < 20; i++) {
        int hi = hex_value(hash[1 + 2 * i]), lo = hex_value(hash[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return WR_ERROR;
        out->stage2[i] = (uint8_t)(hi << 4 | lo);
    }
    return WR_OK;
}

void my_native_secret_format(const struct my_native_secret *s, char out[MY_NATIVE_HASH_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    if (s->empty) {
        out[0] = '\0';
        return;
    }
    out[0] = '*';
    for (int i = 0; i < 20; i++) {
        out[1 + 2 * i] = hex[s->stage2[i] >> 4];
        out[2 + 2 * i] = hex[s->stage2[i] & 15];
    }
    out[MY_NATIVE_HASH_LEN] = '\0';
}

bool my_native_check_stage1(const struct my_native_secret *s,
                            const uint8_t scramble[MY_SCRAMBLE_LEN], const uint8_t *token,
                            size_t token_len, uint8_t stage1_out[20], bool *has_stage1)
{
    uint8_t mix[20], stage1[20], check[20];
    if (has_stage1)
        *has_stage1 = false;
    if (s->empty)
        return token_len == 0;
    if (token_len != MY_NATIVE_TOKEN_LEN)
        return false;
    digest2(EVP_sha1(), scramble, MY_SCRAMBLE_LEN, s->stage2, sizeof(s->stage2), mix);
    xor_into(stage1, token, mix, sizeof(stage1));
    SHA1(stage1, sizeof(stage1), check);
    bool good = CRYPTO_memcmp(check, s->stage2, sizeof(check)) == 0;
    if (good && stage1_out) {
        memcpy(stage1_out, stage1, sizeof(stage1));
        if (has_stage1)
            *has_stage1 = true;
    }
    OPENSSL_cleanse(stage1, sizeof(stage1));
    return good;
}

bool my_native_check(const struct my_native_secret *s, const uint8_t scramble[MY_SCRAMBLE_LEN],
                     const uint8_t *token, size_t token_len)
{
    return my_native_check_stage1(s, scramble, token, token_len, NULL, NULL);
}

void my_native_token_stage1(const uint8_t stage1[20], const uint8_t scramble[MY_SCRAMBLE_LEN],
                            uint8_t out[MY_NATIVE_TOKEN_LEN])
{
    uint8_t stage2[20], mix[20];
    SHA1(stage1, 20, stage2);
    digest2(EVP_sha1(), scramble, MY_SCRAMBLE_LEN, stage2, sizeof(stage2), mix);
    xor_into(out, stage1, mix, MY_NATIVE_TOKEN_LEN);
}

size_t my_sha2_token(const char *password, const uint8_t scramble[MY_SCRAMBLE_LEN],
                     uint8_t out[MY_SHA2_TOKEN_LEN])
{
    uint8_t h1[32], h2[32], mix[32];
    if (password == NULL || password[0] == '\0')
        return 0;
    SHA256((const uint8_t *)password, strlen(password), h1);
    SHA256(h1, sizeof(h1), h2);
    digest2(EVP_sha256(), h2, sizeof(h2), scramble, MY_SCRAMBLE_LEN, mix);
    xor_into(out, h1, mix, MY_SHA2_TOKEN_LEN);
    OPENSSL_cleanse(h1, sizeof(h1));
    return MY_SHA2_TOKEN_LEN;
}

void my_sha2_secret_from_password(const char *password, struct my_sha2_secret *out)
{
    uint8_t h1[32];
    memset(out, 0, sizeof(*out));
    if (password == NULL || password[0] == '\0') {
        out->empty = true;
        return;
    }
    SHA256((const uint8_t *)password, strlen(password), h1);
    SHA256(h1, sizeof(h1), out->stage2);
    OPENSSL_cleanse(h1, sizeof(h1));
}

bool my_sha2_check(const struct my_sha2_secret *s, const uint8_t scramble[MY_SCRAMBLE_LEN],
                   const uint8_t *token, size_t token_len)
{
    uint8_t mix[32], h1[32], check[32];
    if (s->empty)
        return token_len == 0;
    if (token_len != MY_SHA2_TOKEN_LEN)
        return false;
    digest2(EVP_sha256(), s->stage2, sizeof(s->stage2), scramble, MY_SCRAMBLE_LEN, mix);
    xor_into(h1, token, mix, sizeof(h1));
    SHA256(h1, sizeof(h1), check);
    OPENSSL_cleanse(h1, sizeof(h1));
    return CRYPTO_memcmp(check, s->stage2, sizeof(check)) == 0;
}
