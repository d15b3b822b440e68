/*
 * client_my_sha2.c -- caching_sha2_password for MySQL clients, so MySQL 8
 * clients (whose default plugin it is) log in without a plugin switch.
 *
 * The fast path checks the token against SHA256(SHA256(password)): known at
 * once for a plain-text secret in auth_file, and cached here after a full
 * authentication for a user auth_file knows only by its native hash (the
 * cache entry remembers which hash it was verified against, so a changed
 * auth_file entry is never served from it). Otherwise the client is asked
 * for a full authentication (AuthMoreData 0x04): over TLS or a unix socket
 * it sends the password itself; otherwise it asks for weir's RSA public key
 * (0x02) and sends the password XOR the scramble, RSA-OAEP encrypted. A
 * password sent in the clear over plain TCP is refused, as MySQL does. The key pair is
 * made on first need (2048 bits, a one-time pause of the worker that needs
 * it, well under a second) and lives as long as the process.
 *
 * Users auth_file lacks (looked up on the server) and PostgreSQL verifiers
 * keep the switch to mysql_native_password, which the lookups check.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/userlist.h"
#include "pooler/session/client.h"
#include "pooler/session/client_my_int.h"
#include "protocol/mysql/my_auth.h"

#define SHA2_FAST_OK 3 /* AuthMoreData: fast authentication succeeded, OK follows */
#define SHA2_FULL    4 /* AuthMoreData: full authentication needed */
#define SHA2_KEY_ASK 2 /* the client asks for the public key */
#define SHA2_CACHE   256
#define SHA2_PW_MAX  256

/* ---- the cache of SHA256(SHA256(pw)) for users known by their native hash ---- */

struct sha2_entry {
    char user[64];
    uint8_t secret_sum[32]; /* SHA256 of the auth_file secret it was verified against */
    uint8_t stage2[32];
    uint8_t stage1[20]; /* SHA1(password), for the pool's pass-through login (as the token gives) */
    bool used;
};
static struct sha2_entry sha2_cache[SHA2_CACHE];
static pthread_mutex_t sha2_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const char *user)
{
    uint32_t h = 2166136261u;
    for (const char *p = user; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % SHA2_CACHE;
}

static bool cache_get(const char *user, const char *secret, struct my_sha2_secret *out,
                      uint8_t stage1[20])
{
    if (strlen(user) >= sizeof(sha2_cache[0].user))
        return false;
    uint8_t sum[32];
    SHA256((const uint8_t *)secret, strlen(secret), sum);
    bool hit = false;
    pthread_mutex_lock(&sha2_lock);
    struct sha2_entry *e = &sha2_cache[slot_of(user)];
    if (e->used && !strcmp(e->user, user) && !CRYPTO_memcmp(e->secret_sum, sum, sizeof(sum))) {
        out->empty = false;
        memcpy(out->stage2, e->stage2, sizeof(out->stage2));
        memcpy(stage1, e->stage1, sizeof(e->stage1));
        hit = true;
    }
    pthread_mutex_unlock(&sha2_lock);
    return hit;
}

static void cache_put(const char *user, const char *secret, const char *password,
                      const uint8_t stage1[20])
{
    if (strlen(user) >= sizeof(sha2_cache[0].user))
        return;
    struct my_sha2_secret s;
    my_sha2_secret_from_password(password, &s);
    pthread_mutex_lock(&sha2_lock);
    struct sha2_entry *e = &sha2_cache[slot_of(user)];
    strcpy(e->user, user);
    SHA256((const uint8_t *)secret, strlen(secret), e->secret_sum);
    memcpy(e->stage2, s.stage2, sizeof(e->stage2));
    memcpy(e->stage1, stage1, sizeof(e->stage1));
    e->used = true;
    pthread_mutex_unlock(&sha2_lock);
    OPENSSL_cleanse(&s, sizeof(s));
}

/* ---- the RSA key pair for full authentication without TLS ---- */

static EVP_PKEY *rsa_key;
static char *rsa_pem;
static size_t rsa_pem_len;
static pthread_once_t rsa_once = PTHREAD_ONCE_INIT;

static void rsa_make(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *b = k ? BIO_new(BIO_s_mem()) : NULL;
    char *data = NULL;
    long n = 0;
    if (b && PEM_write_bio_PUBKEY(b, k) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
        (rsa_pem = malloc((size_t)n + 1))) {
        memcpy(rsa_pem, data, (size_t)n);
        rsa_pem[n] = '\0';
        rsa_pem_len = (size_t)n;
        rsa_key = k;
        k = NULL;
        log_info("caching_sha2_password: RSA key pair made for full authentication without TLS");
    } else {
        log_warning("caching_sha2_password: cannot make an RSA key pair");
    }
    BIO_free(b);
    EVP_PKEY_free(k);
}

/* RSA-OAEP decrypts in[0..len) into out (cap bytes). Bytes written, or -1. */
static int rsa_decrypt(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    EVP_PKEY_CTX *ctx = rsa_key ? EVP_PKEY_CTX_new(rsa_key, NULL) : NULL;
    size_t n = cap;
    int rc = -1;
    if (ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
        EVP_PKEY_decrypt(ctx, out, &n, in, len) == 1)
        rc = (int)n;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* ---- the exchange ---- */

static void more_data(struct client *c, const void *data, size_t len)
{
    struct my_out o;
    my_out_init(&o);
    my_out_auth_more_data(&o, c->my->seq, data, len);
    client_my_queue(c, &o);
    c->my->seq++;
}

/* auth_file's secret for c, when caching_sha2_password can use it: plain text or a native hash. */
static const char *usable_secret(struct client *c)
{
    const char *secret = userlist_secret(weir.users, c->user);
    if (!secret || !strncmp(secret, "md5", 3) || !strncmp(secret, "SCRAM-SHA-256$", 14))
        return NULL;
    return secret;
}

/*
 * The client's caching_sha2_password token. An empty one while the user has a
 * password is a client that did not use the greeting's scramble for this
 * plugin (MariaDB Connector/C, when the greeting named another): it is asked
 * again with an AuthSwitchRequest to caching_sha2_password, once.
 */
static void sha2_token(struct client *c, const char *secret, const uint8_t *token, size_t len,
                       bool may_switch)
{
    struct my_auth_state *as = c->auth;
    c->state = CL_AUTH;
    if (len == 0 && secret[0] && may_switch) {
        client_my_auth_switch_to(c, MY_SHA2_PLUGIN);
        return;
    }
    struct my_sha2_secret s;
    uint8_t stage1[20] = {0};
    bool known = false, cached = false;
    if (secret[0] != '*') {
        my_sha2_secret_from_password(secret, &s);
        known = true;
    } else {
        known = cached = cache_get(c->user, secret, &s, stage1);
    }
    if (known) {
        bool good = my_sha2_check(&s, as->scramble, token, len);
        OPENSSL_cleanse(&s, sizeof(s));
        if (good && cached) {
            memcpy(as->stage1, stage1, sizeof(stage1)); /* the pass-through login's, as at first */
            as->has_stage1 = true;
        }
        OPENSSL_cleanse(stage1, sizeof(stage1));
        if (!good) {
            client_my_verified(c, MY_VERIFY_DENIED);
            return;
        }
        more_data(c, (const uint8_t[]){SHA2_FAST_OK}, 1);
        client_my_verified(c, MY_VERIFY_OK);
        return;
    }
    as->sha2_full = true;
    more_data(c, (const uint8_t[]){SHA2_FULL}, 1);
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

bool client_my_sha2_begin(struct client *c, const uint8_t *token, size_t len)
{
    const char *secret = c->auth ? usable_secret(c) : NULL;
    if (!secret)
        return false; /* the caller switches the client to mysql_native_password */
    sha2_token(c, secret, token, len, true);
    return true;
}

/* Checks a password the client sent in full against auth_file's secret for it. */
static bool full_check(struct client *c, const char *secret, const char *password)
{
    struct my_auth_state *as = c->auth;
    if (secret[0] != '*') {
        size_t n = strlen(password);
        return n == strlen(secret) && CRYPTO_memcmp(password, secret, n) == 0;
    }
    struct my_native_secret want, got;
    if (my_native_secret_parse(secret, &want) != WR_OK)
        return false;
    my_native_secret_from_password(password, &got);
    bool good =
        want.empty == got.empty && CRYPTO_memcmp(want.stage2, got.stage2, sizeof(want.stage2)) == 0;
    if (good && !got.empty) {
        /* SHA1(password): the pool logs in to the server with it (pass-through) */
        SHA1((const uint8_t *)password, strlen(password), as->stage1);
        as->has_stage1 = true;
    }
    OPENSSL_cleanse(&want, sizeof(want));
    OPENSSL_cleanse(&got, sizeof(got));
    return good;
}

void client_my_sha2_input(struct client *c, const uint8_t *payload, size_t len)
{
    struct my_auth_state *as = c->auth;
    const char *secret = usable_secret(c);
    if (!secret) {
        client_my_verified(c, MY_VERIFY_DENIED);
        return;
    }
    if (as->sha2_switched) {
        as->sha2_switched = false;
        sha2_token(c, secret, payload, len, false);
        return;
    }
    /* in the clear only where nobody else can read it, as MySQL servers do */
    bool secure = c->ssl || c->addr.family == AF_UNIX;
    if (!secure && len == 1 && payload[0] == SHA2_KEY_ASK) {
        pthread_once(&rsa_once, rsa_make);
        if (!rsa_pem) {
            client_fail(c, "08P01", "caching_sha2_password: no RSA key to send; connect with TLS");
            return;
        }
        more_data(c, rsa_pem, rsa_pem_len); /* the PEM text after AuthMoreData's 0x01 */
        if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
            client_close(c, "cannot write to client");
        return;
    }
    char pw[SHA2_PW_MAX + 1];
    size_t n = 0;
    if (secure) {
        /* the password itself, NUL-terminated, inside TLS or on a unix socket */
        if (len == 0 || len > SHA2_PW_MAX || payload[len - 1] != 0) {
            client_fail(c, "08P01", "bad handshake: malformed caching_sha2_password password");
            return;
        }
        memcpy(pw, payload, len);
        n = len - 1;
    } else {
        uint8_t plain[1024];
        int got = rsa_key ? rsa_decrypt(payload, len, plain, sizeof(plain)) : -1;
        if (got <= 0 || got > SHA2_PW_MAX) {
            OPENSSL_cleanse(plain, sizeof(plain));
            client_auth_failed(c);
            client_fail(c, "28000",
                        "Access denied for user '%s' (caching_sha2_password: the "
                        "password did not decrypt)",
                        c->user);
            return;
        }
        for (int i = 0; i < got; i++)
            pw[i] = (char)(plain[i] ^ as->scramble[i % MY_SCRAMBLE_LEN]);
        OPENSSL_cleanse(plain, sizeof(plain));
        n = (size_t)got - 1;
        if (pw[n] != 0) { /* the password's NUL, once the scramble is taken off */
            OPENSSL_cleanse(pw, sizeof(pw));
            client_my_verified(c, MY_VERIFY_DENIED);
            return;
        }
    }
    pw[n] = '\0';
    if (memchr(pw, 0, n)) { /* a NUL inside: not a password anyone typed */
        OPENSSL_cleanse(pw, sizeof(pw));
        client_my_verified(c, MY_VERIFY_DENIED);
        return;
    }
    bool good = full_check(c, secret, pw);
    if (good && secret[0] == '*')
        cache_put(c->user, secret, pw, as->stage1);
    OPENSSL_cleanse(pw, sizeof(pw));
    as->sha2_full = false;
    client_my_verified(c, good ? MY_VERIFY_OK : MY_VERIFY_DENIED);
}
