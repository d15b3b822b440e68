/* pg_auth.c -- md5 and SCRAM-SHA-256 password checks, server side, on OpenSSL. */
#include "protocol/pg/pg_auth.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SCRAM_PREFIX        "SCRAM-SHA-256$"
#define SCRAM_NONCE_RAW     18  /* random bytes in our half of the nonce, as PostgreSQL */
#define SCRAM_FINAL_MAX     512 /* longest client-final-message we accept */
#define SCRAM_PROOF_B64_LEN 44  /* base64 of 32 bytes */
#define B64_LEN(n)          (((n) + 2) / 3 * 4)

/* Exchange states; unusual values so a struct that was not zeroed is unlikely to pass. */
enum {
    ST_INIT = 0,              /* zeroed: expecting client-first */
    ST_WAIT_FINAL_N = 0x5c41, /* server-first sent, client said gs2 "n,," */
    ST_WAIT_FINAL_Y = 0x5c42, /* server-first sent, client said gs2 "y,," */
    ST_WAIT_FINAL_P = 0x5c43, /* server-first sent, client said "p=tls-server-end-point,," */
    ST_FINISHED = 0x5c4f,     /* final step ran (either outcome); nothing more accepted */
};

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes B64_LEN(n) characters and a NUL to out. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = b64_chars[v >> 18 & 63];
        *out++ = b64_chars[v >> 12 & 63];
        *out++ = b64_chars[v >> 6 & 63];
        *out++ = b64_chars[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = b64_chars[v >> 18 & 63];
        *out++ = b64_chars[v >> 12 & 63];
        *out++ = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Strict decode of in[0..n): padded, no whitespace. Returns the decoded
 * length, or -1 when malformed or when it would not fit in cap bytes.
 */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n == 0 || n % 4 != 0 || n > INT_MAX)
        return -1;
    size_t pad = in[n - 1] == '=' ? (in[n - 2] == '=' ? 2 : 1) : 0;
    size_t outlen = n / 4 * 3 - pad;
    if (outlen > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            bool last_group = i + 4 == n;
            if (last_group && in[i + k] == '=' && k >= 4 - (int)pad)
                v[k] = 0;
            else if ((v[k] = b64_value(in[i + k])) < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        for (int k = 0; k < 3 && o < outlen; k++)
            out[o++] = b[k];
    }
    return (int)outlen;
}

static bool is_hex32(const char *s)
{
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[32] == '\0';
}

enum pg_secret_kind pg_secret_kind(const char *secret)
{
    struct scram_secret tmp;

    if (strncmp(secret, "md5", 3) == 0 && strlen(secret) == PG_MD5_LEN && is_hex32(secret + 3))
        return PG_SECRET_MD5;
    if (scram_parse_verifier(secret, &tmp) == WR_OK) {
        OPENSSL_cleanse(&tmp, sizeof(tmp));
        return PG_SECRET_SCRAM;
    }
    return PG_SECRET_PLAIN;
}

/* out = "md5" + hex(md5(a || b)) and a NUL. */
static void md5_hex(const void *a, size_t alen, const void *b, size_t blen,
                    char out[PG_MD5_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memcpy(out, "md5", 3);
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, a, alen) != 1 || EVP_DigestUpdate(ctx, b, blen) != 1 ||
        EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 || dlen != 16) {
        /* Cannot hash (e.g. MD5 disabled by FIPS): a value no client response can match. */
        memset(out + 3, 'x', 32);
    } else {
        for (int i = 0; i < 16; i++) {
            out[3 + 2 * i] = hex[digest[i] >> 4];
            out[4 + 2 * i] = hex[digest[i] & 15];
        }
    }
    out[PG_MD5_LEN] = '\0';
    EVP_MD_CTX_free(ctx);
}

void pg_md5_secret(const char *password, const char *user, char out[PG_MD5_LEN + 1])
{
    md5_hex(password, strlen(password), user, strlen(user), out);
}

bool pg_md5_response(const char *md5_secret, const uint8_t salt[4], char out[PG_MD5_LEN + 1])
{
    if (pg_secret_kind(md5_secret) != PG_SECRET_MD5)
        return false;
    md5_hex(md5_secret + 3, 32, salt, 4, out);
    return out[3] != 'x';
}

bool pg_md5_check(const char *md5_secret, const uint8_t salt[4], const char *response)
{
    char expected[PG_MD5_LEN + 1];

    if (pg_secret_kind(md5_secret) != PG_SECRET_MD5 || strlen(response) != PG_MD5_LEN)
        return false;
    md5_hex(md5_secret + 3, 32, salt, 4, expected);
    if (expected[3] == 'x')
        return false;
    return CRYPTO_memcmp(expected, response, PG_MD5_LEN) == 0;
}

int scram_parse_verifier(const char *verifier, struct scram_secret *out)
{
    const char *p = verifier, *sep;
    char *end;
    int n;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) != 0)
        goto failed;
    p += strlen(SCRAM_PREFIX);
    if (*p < '1' || *p > '9')
        goto failed;
    long iter = strtol(p, &end, 10);
    if (*end != ':' || iter < 1 || iter > INT_MAX)
        goto failed;
    out->iterations = (int)iter;
    p = end + 1;

    sep = strchr(p, '$');
    if (sep == NULL)
        goto failed;
    n = b64_decode(p, (size_t)(sep - p), out->salt, sizeof(out->salt));
    if (n < 1)
        goto failed;
    out->salt_len = (size_t)n;
    p = sep + 1;

    sep = strchr(p, ':');
    if (sep == NULL ||
        b64_decode(p, (size_t)(sep - p), out->stored_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
        goto failed;
    p = sep + 1;
    if (b64_decode(p, strlen(p), out->server_key, SCRAM_KEY_LEN) != SCRAM_KEY_LEN)
        goto failed;
    return WR_OK;

failed:
    OPENSSL_cleanse(out, sizeof(*out));
    return WR_ERROR;
}

static bool hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &olen) != NULL &&
           olen == SCRAM_KEY_LEN;
}

int scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                               int iterations, struct scram_secret *out)
{
    uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    size_t pwlen = strlen(password);
    int rc = WR_ERROR;

    memset(out, 0, sizeof(*out));
    if (salt_len < 1 || salt_len > SCRAM_SALT_MAX || iterations < 1 || pwlen > INT_MAX)
        return WR_ERROR;
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len, iterations, EVP_sha256(),
                          SCRAM_KEY_LEN, salted) != 1)
        goto done;
    if (!hmac_sha256(salted, SCRAM_KEY_LEN, "Client Key", 10, client_key) ||
        !hmac_sha256(salted, SCRAM_KEY_LEN, "Server Key", 10, out->server_key))
        goto done;
    SHA256(client_key, SCRAM_KEY_LEN, out->stored_key);
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    rc = WR_OK;
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    if (rc != WR_OK)
        OPENSSL_cleanse(out, sizeof(*out));
    return rc;
}

int scram_secret_generate(const char *password, struct scram_secret *out)
{
    uint8_t salt[16];

    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        memset(out, 0, sizeof(*out));
        return WR_ERROR;
    }
    return scram_secret_from_password(password, salt, sizeof(salt), SCRAM_DEFAULT_ITERATIONS, out);
}

bool scram_check_plain(const struct scram_secret *secret, const char *password)
{
    struct scram_secret mine;

    if (scram_secret_from_password(password, secret->salt, secret->salt_len, secret->iterations,
                                   &mine) != WR_OK)
        return false;
    bool ok = (CRYPTO_memcmp(mine.stored_key, secret->stored_key, SCRAM_KEY_LEN) |
               CRYPTO_memcmp(mine.server_key, secret->server_key, SCRAM_KEY_LEN)) == 0;
    OPENSSL_cleanse(&mine, sizeof(mine));
    return ok;
}

int scram_format_verifier(const struct scram_secret *secret, char *out, size_t cap)
{
    char salt[B64_LEN(SCRAM_SALT_MAX) + 1];
    char stored[B64_LEN(SCRAM_KEY_LEN) + 1], server[B64_LEN(SCRAM_KEY_LEN) + 1];

    if (secret->iterations < 1 || secret->salt_len < 1 || secret->salt_len > SCRAM_SALT_MAX)
        return -1;
    b64_encode(secret->salt, secret->salt_len, salt);
    b64_encode(secret->stored_key, SCRAM_KEY_LEN, stored);
    b64_encode(secret->server_key, SCRAM_KEY_LEN, server);
    int n =
        snprintf(out, cap, SCRAM_PREFIX "%d:%s$%s:%s", secret->iterations, salt, stored, server);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

/* Printable ASCII except ',' (RFC 5802's "printable"), non-empty. */
static bool is_nonce(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    return true;
}

static int server_first(struct scram_server *st, const struct scram_secret *secret,
                        const uint8_t *msg, size_t len, const char *server_nonce, char *out,
                        size_t cap, size_t *out_len)
{
    const char *m = (const char *)msg, *end, *p, *comma;
    char salt[B64_LEN(SCRAM_SALT_MAX) + 1];
    int next_state;

    *out_len = 0;
    /* Replayed, or the struct was not zeroed: either way this exchange is over. */
    int was = st->state;
    st->state = ST_FINISHED; /* any failure ends the exchange */
    if (was != ST_INIT)
        return WR_ERROR;
    if (secret->iterations < 1 || secret->salt_len < 1 || secret->salt_len > SCRAM_SALT_MAX)
        return WR_ERROR;
    if (len < 3 || memchr(m, '\0', len) != NULL)
        return WR_ERROR;
    end = m + len;

    /*
     * gs2-header: cbind flag, then an empty authzid ("a=" is not supported).
     * "p=" only with SCRAM-SHA-256-PLUS chosen, and then it must be sent; "y"
     * (the client could bind, but thinks the server cannot) while PLUS was
     * offered is a downgrade: refused, as PostgreSQL does.
     */
    static const char tse[] = "p=" SCRAM_CHANNEL_BINDING ",,";
    size_t gs2_len = 3;
    if (m[0] == 'p') {
        if (st->plus != SCRAM_PLUS_CHOSEN || len < sizeof(tse) - 1 ||
            memcmp(m, tse, sizeof(tse) - 1) != 0)
            return WR_ERROR;
        next_state = ST_WAIT_FINAL_P;
        gs2_len = sizeof(tse) - 1;
    } else {
        if (st->plus == SCRAM_PLUS_CHOSEN)
            return WR_ERROR; /* PLUS chosen, no binding sent */
        if (m[0] == 'n')
            next_state = ST_WAIT_FINAL_N;
        else if (m[0] == 'y' && st->plus != SCRAM_PLUS_OFFERED)
            next_state = ST_WAIT_FINAL_Y;
        else
            return WR_ERROR;
        if (m[1] != ',' || m[2] != ',')
            return WR_ERROR;
    }

    /* client-first-bare: n=<user>,r=<nonce> and nothing else. */
    const char *bare = m + gs2_len;
    size_t bare_len = (size_t)(end - bare);
    if (bare_len >= sizeof(st->client_first_bare))
        return WR_ERROR;
    if (bare_len < 2 || bare[0] != 'n' || bare[1] != '=')
        return WR_ERROR; /* also rejects the reserved "m=" extension */
    comma = memchr(bare, ',', bare_len);
    if (comma == NULL)
        return WR_ERROR;
    p = comma + 1; /* the user name is ignored: the startup packet's one counts */
    if (end - p < 2 || p[0] != 'r' || p[1] != '=')
        return WR_ERROR;
    p += 2;
    size_t cnonce_len = (size_t)(end - p); /* a ',' here means extensions: rejected */
    if (!is_nonce(p, cnonce_len))
        return WR_ERROR;

    size_t snonce_len = strlen(server_nonce);
    if (!is_nonce(server_nonce, snonce_len) || cnonce_len + snonce_len >= sizeof(st->nonce))
        return WR_ERROR;

    st->secret = *secret;
    memcpy(st->nonce, p, cnonce_len);
    memcpy(st->nonce + cnonce_len, server_nonce, snonce_len + 1);
    memcpy(st->client_first_bare, bare, bare_len);
    st->client_first_bare[bare_len] = '\0';

    b64_encode(secret->salt, secret->salt_len, salt);
    int n = snprintf(st->server_first, sizeof(st->server_first), "r=%s,s=%s,i=%d", st->nonce, salt,
                     secret->iterations);
    if (n < 0 || (size_t)n >= sizeof(st->server_first) || (size_t)n >= cap)
        return WR_ERROR;
    memcpy(out, st->server_first, (size_t)n + 1);
    *out_len = (size_t)n;
    st->state = next_state;
    return WR_OK;
}

int scram_server_first(struct scram_server *st, const struct scram_secret *secret,
                       const uint8_t *msg, size_t len, char *out, size_t cap, size_t *out_len)
{
    uint8_t raw[SCRAM_NONCE_RAW];
    char nonce[B64_LEN(SCRAM_NONCE_RAW) + 1];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        *out_len = 0;
        st->state = ST_FINISHED;
        return WR_ERROR;
    }
    b64_encode(raw, sizeof(raw), nonce);
    return server_first(st, secret, msg, len, nonce, out, cap, out_len);
}

int scram_server_first_with_nonce(struct scram_server *st, const struct scram_secret *secret,
                                  const uint8_t *msg, size_t len, const char *server_nonce,
                                  char *out, size_t cap, size_t *out_len)
{
    return server_first(st, secret, msg, len, server_nonce, out, cap, out_len);
}

int scram_server_final(struct scram_server *st, const uint8_t *msg, size_t len, char *out,
                       size_t cap, size_t *out_len)
{
    const char *m = (const char *)msg, *end, *p, *comma;
    char auth_msg[sizeof(st->client_first_bare) + sizeof(st->server_first) + SCRAM_FINAL_MAX];
    uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    uint8_t stored[SCRAM_KEY_LEN];
    int rc = WR_ERROR;

    *out_len = 0;
    int was = st->state;
    st->state = ST_FINISHED; /* one attempt per exchange; out of order also ends it */
    if (was != ST_WAIT_FINAL_N && was != ST_WAIT_FINAL_Y && was != ST_WAIT_FINAL_P)
        return WR_ERROR;
    /* c=: base64 of the gs2 header ("n,," "biws", "y,," "eSws"), with the binding data for "p=" */
    static const char tse[] = "p=" SCRAM_CHANNEL_BINDING ",,";
    char cbind[B64_LEN(sizeof(tse) - 1 + SCRAM_CBIND_MAX) + 1];
    if (was == ST_WAIT_FINAL_P) {
        uint8_t hdr[sizeof(tse) - 1 + SCRAM_CBIND_MAX];
        memcpy(hdr, tse, sizeof(tse) - 1);
        memcpy(hdr + sizeof(tse) - 1, st->cbind, st->cbind_len);
        b64_encode(hdr, sizeof(tse) - 1 + st->cbind_len, cbind);
    } else {
        memcpy(cbind, was == ST_WAIT_FINAL_N ? "biws" : "eSws", 5);
    }
    size_t cbind_len = strlen(cbind);
    if (len < 2 || len > SCRAM_FINAL_MAX || memchr(m, '\0', len) != NULL)
        goto done;
    end = m + len;

    /* c=<base64 of the gs2 header>, echoed exactly. */
    if (m[0] != 'c' || m[1] != '=')
        goto done;
    p = m + 2;
    comma = memchr(p, ',', (size_t)(end - p));
    if (comma == NULL || (size_t)(comma - p) != cbind_len || memcmp(p, cbind, cbind_len) != 0)
        goto done;

    /* r=<combined nonce>, exactly what we sent. */
    p = comma + 1;
    if (end - p < 2 || p[0] != 'r' || p[1] != '=')
        goto done;
    p += 2;
    comma = memchr(p, ',', (size_t)(end - p));
    size_t nonce_len = strlen(st->nonce);
    if (comma == NULL || (size_t)(comma - p) != nonce_len || memcmp(p, st->nonce, nonce_len) != 0)
        goto done;

    /* p=<proof> must come next (no extensions) and last. */
    const char *without_proof_end = comma;
    p = comma + 1;
    if (end - p < 2 || p[0] != 'p' || p[1] != '=')
        goto done;
    p += 2;
    if (end - p != SCRAM_PROOF_B64_LEN ||
        b64_decode(p, SCRAM_PROOF_B64_LEN, proof, sizeof(proof)) != SCRAM_KEY_LEN)
        goto done;

    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    int n = snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%.*s", st->client_first_bare,
                     st->server_first, (int)(without_proof_end - m), m);
    if (n < 0 || (size_t)n >= sizeof(auth_msg))
        goto done;

    /* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); check H(ClientKey) == StoredKey. */
    if (!hmac_sha256(st->secret.stored_key, SCRAM_KEY_LEN, auth_msg, (size_t)n, sig))
        goto done;
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        client_key[i] = proof[i] ^ sig[i];
    SHA256(client_key, SCRAM_KEY_LEN, stored);
    if (CRYPTO_memcmp(stored, st->secret.stored_key, SCRAM_KEY_LEN) != 0) {
        rc = WR_DONE;
        goto done;
    }

    /* server-final-message: v=base64(HMAC(ServerKey, AuthMessage)) */
    if (cap < 2 + B64_LEN(SCRAM_KEY_LEN) + 1 ||
        !hmac_sha256(st->secret.server_key, SCRAM_KEY_LEN, auth_msg, (size_t)n, sig))
        goto done;
    memcpy(out, "v=", 2);
    b64_encode(sig, SCRAM_KEY_LEN, out + 2);
    *out_len = 2 + B64_LEN(SCRAM_KEY_LEN);
    st->client_key_proof_ok = 1;
    memcpy(st->client_key, client_key, SCRAM_KEY_LEN);
    rc = WR_OK;

done:
    OPENSSL_cleanse(proof, sizeof(proof));
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(stored, sizeof(stored));
    return rc;
}

void scram_server_channel_binding(struct scram_server *st, const uint8_t *data, size_t len,
                                  bool chosen)
{
    if (len == 0 || len > SCRAM_CBIND_MAX)
        return; /* nothing to bind to: PLUS stays unoffered */
    memcpy(st->cbind, data, len);
    st->cbind_len = (uint8_t)len;
    st->plus = chosen ? SCRAM_PLUS_CHOSEN : SCRAM_PLUS_OFFERED;
}

void scram_server_choose_plus(struct scram_server *st)
{
    if (st->plus == SCRAM_PLUS_OFFERED)
        st->plus = SCRAM_PLUS_CHOSEN;
}

void scram_server_clear(struct scram_server *st)
{
    OPENSSL_cleanse(st, sizeof(*st));
}

/* ---- client side ---- */

enum { CL_INIT = 0, CL_FIRST_SENT = 0x6c41, CL_FINAL_SENT = 0x6c42, CL_DONE = 0x6c4f };

int scram_client_password(struct scram_client *st, const char *password)
{
    memset(st, 0, sizeof(*st));
    size_t n = strlen(password);
    if (n >= sizeof(st->password))
        return WR_ERROR;
    memcpy(st->password, password, n + 1);
    return WR_OK;
}

void scram_client_keys(struct scram_client *st, const uint8_t client_key[SCRAM_KEY_LEN],
                       const uint8_t server_key[SCRAM_KEY_LEN])
{
    memset(st, 0, sizeof(*st));
    st->keys_given = true;
    memcpy(st->client_key, client_key, SCRAM_KEY_LEN);
    memcpy(st->server_key, server_key, SCRAM_KEY_LEN);
}

int scram_client_first_with_nonce(struct scram_client *st, const char *nonce, char *out, size_t cap,
                                  size_t *out_len)
{
    *out_len = 0;
    size_t n = strlen(nonce);
    if (st->state != CL_INIT || !is_nonce(nonce, n) || n >= sizeof(st->nonce)) {
        st->state = CL_DONE;
        return WR_ERROR;
    }
    memcpy(st->nonce, nonce, n + 1);
    int w = snprintf(st->client_first_bare, sizeof(st->client_first_bare), "n=,r=%s", nonce);
    if (w < 0 || (size_t)w >= sizeof(st->client_first_bare) || (size_t)w + 3 >= cap) {
        st->state = CL_DONE;
        return WR_ERROR;
    }
    memcpy(out, "n,,", 3);
    memcpy(out + 3, st->client_first_bare, (size_t)w + 1);
    *out_len = (size_t)w + 3;
    st->state = CL_FIRST_SENT;
    return WR_OK;
}

int scram_client_first(struct scram_client *st, char *out, size_t cap, size_t *out_len)
{
    uint8_t raw[SCRAM_NONCE_RAW];
    char nonce[B64_LEN(SCRAM_NONCE_RAW) + 1];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        *out_len = 0;
        st->state = CL_DONE;
        return WR_ERROR;
    }
    b64_encode(raw, sizeof(raw), nonce);
    return scram_client_first_with_nonce(st, nonce, out, cap, out_len);
}

/* One "x=value" attribute at *p (within end), value up to the next ',' or end. */
static bool attr(const char **p, const char *end, char name, const char **val, size_t *vlen)
{
    const char *q = *p;
    if (end - q < 2 || q[0] != name || q[1] != '=')
        return false;
    q += 2;
    const char *comma = memchr(q, ',', (size_t)(end - q));
    *val = q;
    *vlen = (size_t)((comma ? comma : end) - q);
    *p = comma ? comma + 1 : end;
    return true;
}

int scram_client_final(struct scram_client *st, const uint8_t *server_first, size_t len, char *out,
                       size_t cap, size_t *out_len)
{
    const char *m = (const char *)server_first, *end = m + len, *p = m;
    const char *nonce, *salt_b64, *iter;
    size_t nonce_len, salt_len, iter_len;
    uint8_t salt[SCRAM_SALT_MAX + 3], salted[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
    uint8_t sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
    char auth_msg[sizeof(st->client_first_bare) + 600 + 200];
    char final_wo[SCRAM_CLIENT_NONCE_MAX + 16];
    int rc = WR_ERROR;

    *out_len = 0;
    int was = st->state;
    st->state = CL_DONE;
    if (was != CL_FIRST_SENT || len == 0 || len > 600 || memchr(m, '\0', len) != NULL)
        goto done;
    /* r=<our nonce + theirs>,s=<salt>,i=<iterations>, and nothing more (m= is refused) */
    size_t ours = strlen(st->nonce);
    if (!attr(&p, end, 'r', &nonce, &nonce_len) || nonce_len <= ours ||
        nonce_len > SCRAM_CLIENT_NONCE_MAX || memcmp(nonce, st->nonce, ours) != 0 ||
        !is_nonce(nonce, nonce_len))
        goto done;
    if (!attr(&p, end, 's', &salt_b64, &salt_len) || salt_len > B64_LEN(SCRAM_SALT_MAX))
        goto done;
    int salt_n = b64_decode(salt_b64, salt_len, salt, sizeof(salt));
    if (salt_n < 1 || salt_n > SCRAM_SALT_MAX)
        goto done;
    if (!attr(&p, end, 'i', &iter, &iter_len) || p != end || iter_len < 1 || iter_len > 7)
        goto done;
    long iterations = 0;
    for (size_t i = 0; i < iter_len; i++) {
        if (iter[i] < '0' || iter[i] > '9')
            goto done;
        iterations = iterations * 10 + (iter[i] - '0');
    }
    if (iterations < 1 || iterations > SCRAM_CLIENT_ITER_MAX)
        goto done;

    if (!st->keys_given) {
        if (PKCS5_PBKDF2_HMAC(st->password, (int)strlen(st->password), salt, salt_n,
                              (int)iterations, EVP_sha256(), SCRAM_KEY_LEN, salted) != 1 ||
            !hmac_sha256(salted, SCRAM_KEY_LEN, "Client Key", 10, st->client_key) ||
            !hmac_sha256(salted, SCRAM_KEY_LEN, "Server Key", 10, st->server_key))
            goto done;
    }
    int w = snprintf(final_wo, sizeof(final_wo), "c=biws,r=%.*s", (int)nonce_len, nonce);
    if (w < 0 || (size_t)w >= sizeof(final_wo))
        goto done;
    int a = snprintf(auth_msg, sizeof(auth_msg), "%s,%.*s,%s", st->client_first_bare, (int)len, m,
                     final_wo);
    if (a < 0 || (size_t)a >= sizeof(auth_msg))
        goto done;
    SHA256(st->client_key, SCRAM_KEY_LEN, stored);
    if (!hmac_sha256(stored, SCRAM_KEY_LEN, auth_msg, (size_t)a, sig))
        goto done;
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        proof[i] = st->client_key[i] ^ sig[i];
    if (!hmac_sha256(st->server_key, SCRAM_KEY_LEN, auth_msg, (size_t)a, st->server_signature))
        goto done;
    if ((size_t)w + 3 + SCRAM_PROOF_B64_LEN + 1 > cap)
        goto done;
    memcpy(out, final_wo, (size_t)w);
    memcpy(out + w, ",p=", 3);
    b64_encode(proof, SCRAM_KEY_LEN, out + w + 3);
    *out_len = (size_t)w + 3 + SCRAM_PROOF_B64_LEN;
    st->state = CL_FINAL_SENT;
    rc = WR_OK;
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(stored, sizeof(stored));
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(proof, sizeof(proof));
    OPENSSL_cleanse(auth_msg, sizeof(auth_msg));
    return rc;
}

int scram_client_verify(struct scram_client *st, const uint8_t *server_final, size_t len)
{
    const char *m = (const char *)server_final;
    uint8_t sig[SCRAM_KEY_LEN + 3];
    int was = st->state;
    st->state = CL_DONE;
    if (was != CL_FINAL_SENT || len < 2 || memchr(m, '\0', len) != NULL)
        return WR_ERROR;
    if (m[0] == 'e' && m[1] == '=')
        return WR_DONE;
    if (m[0] != 'v' || m[1] != '=' || len != 2 + SCRAM_PROOF_B64_LEN ||
        b64_decode(m + 2, SCRAM_PROOF_B64_LEN, sig, sizeof(sig)) != SCRAM_KEY_LEN)
        return WR_ERROR;
    bool good = CRYPTO_memcmp(sig, st->server_signature, SCRAM_KEY_LEN) == 0;
    OPENSSL_cleanse(sig, sizeof(sig));
    return good ? WR_OK : WR_ERROR;
}

void scram_client_clear(struct scram_client *st)
{
    OPENSSL_cleanse(st, sizeof(*st));
}
