/*
 * pg_auth.h -- password checks of PostgreSQL authentication: md5 hashing,
 * SCRAM-SHA-256 (RFC 5802/7677) verifiers, the server half of the SASL
 * exchange (with SCRAM-SHA-256-PLUS), and the client half for weir's own
 * logins, with a password or with a verifier's keys (pass-through). Built on
 * OpenSSL primitives; no I/O.
 *
 * Secrets as stored in an auth file, as PgBouncer and pg_authid store them:
 *   plain text, "md5" + 32 hex digits, or
 *   "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>".
 */
#ifndef WEIR_PG_AUTH_H
#define WEIR_PG_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define PG_MD5_LEN               35 /* "md5" + 32 hex digits, without NUL */
#define SCRAM_KEY_LEN            32
#define SCRAM_SALT_MAX           64
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_MECHANISM          "SCRAM-SHA-256"

enum pg_secret_kind { PG_SECRET_PLAIN, PG_SECRET_MD5, PG_SECRET_SCRAM };

/* Classifies a stored secret by its form. */
enum pg_secret_kind pg_secret_kind(const char *secret);

/* out = "md5" + hex(md5(password || user)), NUL-terminated (36 bytes). */
void pg_md5_secret(const char *password, const char *user, char out[PG_MD5_LEN + 1]);

/*
 * Checks a client's md5 response (what it sent in PasswordMessage) against a
 * stored md5 secret and the 4-byte salt we sent: expected =
 * "md5" + hex(md5(secret_hex_part || salt)). Constant-time compare.
 */
bool pg_md5_check(const char *md5_secret, const uint8_t salt[4], const char *response);

/*
 * The client's answer to an md5 challenge from the stored md5 secret alone
 * (the server needs no more: pass-through). False when secret is not one.
 */
bool pg_md5_response(const char *md5_secret, const uint8_t salt[4], char out[PG_MD5_LEN + 1]);

struct scram_secret {
    int iterations;
    uint8_t salt[SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
};

/* Parses a SCRAM-SHA-256 verifier string. WR_OK or WR_ERROR. */
int scram_parse_verifier(const char *verifier, struct scram_secret *out) WR_MUST_CHECK;

/*
 * Derives a verifier from a plain password (no SASLprep: passwords are used
 * as given, which matches PostgreSQL for ASCII passwords). WR_OK/WR_ERROR.
 */
int scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                               int iterations, struct scram_secret *out) WR_MUST_CHECK;

/* Same, with a fresh random 16-byte salt and SCRAM_DEFAULT_ITERATIONS. */
int scram_secret_generate(const char *password, struct scram_secret *out) WR_MUST_CHECK;

/* True when `password` matches the verifier (constant-time on the keys). */
bool scram_check_plain(const struct scram_secret *secret, const char *password);

/* Formats a verifier string; returns bytes written (excluding NUL) or -1. */
int scram_format_verifier(const struct scram_secret *secret, char *out, size_t cap);

/*
 * Server side of one SASL SCRAM-SHA-256 exchange. Start from a zeroed struct
 * (or one passed through scram_server_clear); each step is accepted once, in
 * order.
 */
#define SCRAM_CBIND_MAX       64 /* EVP_MAX_MD_SIZE: the longest certificate hash */
#define SCRAM_CHANNEL_BINDING "tls-server-end-point"
#define SCRAM_MECHANISM_PLUS  "SCRAM-SHA-256-PLUS"
enum { SCRAM_PLUS_NONE = 0, SCRAM_PLUS_OFFERED = 1, SCRAM_PLUS_CHOSEN = 2 };

struct scram_server {
    struct scram_secret secret;
    int state;    /* internal */
    uint8_t plus; /* SCRAM_PLUS_*: scram_server_channel_binding */
    uint8_t cbind_len;
    uint8_t cbind[SCRAM_CBIND_MAX]; /* tls-server-end-point data of the client's TLS session */
    char nonce[128];                /* client nonce + server nonce */
    char client_first_bare[512];
    char server_first[512];
    uint8_t client_key_proof_ok; /* internal */
    /* After a valid proof: the ClientKey recovered from it (proof XOR ClientSignature), with
     * which weir can log in to a server holding the same verifier (pass-through). */
    uint8_t client_key[SCRAM_KEY_LEN];
};

/*
 * Step 1: takes the client-first-message (the data of SASLInitialResponse,
 * mechanism already checked by the caller) and writes the server-first-
 * message into out (NUL-terminated), *out_len set. Supports gs2 headers
 * "n,," and "y,,", and "p=tls-server-end-point,," when the client chose
 * SCRAM-SHA-256-PLUS (scram_server_channel_binding); a binding request
 * without it, none with it, and "y" while PLUS was offered (a downgrade) are
 * WR_ERROR. WR_OK or WR_ERROR (malformed).
 */
int scram_server_first(struct scram_server *st, const struct scram_secret *secret,
                       const uint8_t *msg, size_t len, char *out, size_t cap,
                       size_t *out_len) WR_MUST_CHECK;

/*
 * Step 2: takes the client-final-message, verifies channel binding echo,
 * nonce and ClientProof. WR_OK: proof valid, server-final-message ("v=...")
 * written to out. WR_DONE: well-formed but wrong password. WR_ERROR:
 * malformed or out of order.
 */
int scram_server_final(struct scram_server *st, const uint8_t *msg, size_t len, char *out,
                       size_t cap, size_t *out_len) WR_MUST_CHECK;

/*
 * Before step 1, for a client on TLS: data is the session's tls-server-end-
 * point binding (len at most SCRAM_CBIND_MAX; 0 leaves PLUS unoffered), and
 * chosen says the client picked SCRAM-SHA-256-PLUS (it then must bind, and
 * its final message must carry the data). Offered but not chosen, a client
 * saying "y" is refused (RFC 5802's downgrade check).
 */
void scram_server_channel_binding(struct scram_server *st, const uint8_t *data, size_t len,
                                  bool chosen);
/* Offered earlier (above), then chosen by the client's SASLInitialResponse. */
void scram_server_choose_plus(struct scram_server *st);

/* Wipes key material and resets the struct for a new exchange. */
void scram_server_clear(struct scram_server *st);

/*
 * For tests only: scram_server_first with a fixed server nonce (printable,
 * no ','), so known test vectors such as RFC 7677's can be replayed.
 */
int scram_server_first_with_nonce(struct scram_server *st, const struct scram_secret *secret,
                                  const uint8_t *msg, size_t len, const char *server_nonce,
                                  char *out, size_t cap, size_t *out_len) WR_MUST_CHECK;

/*
 * Client side of one SASL SCRAM-SHA-256 exchange (weir logging in to a
 * server), with a password, or with the ClientKey and ServerKey of the
 * server's verifier (pass-through: the ClientKey recovered from a client's
 * proof, the ServerKey from the verifier, so the server is still checked).
 * Start from scram_client_password or scram_client_keys; then first, final,
 * verify, each once and in order. What the server sends is bounded: a nonce
 * of at most SCRAM_CLIENT_NONCE_MAX characters that starts with ours, a salt
 * of at most SCRAM_SALT_MAX bytes, iterations from 1 to
 * SCRAM_CLIENT_ITER_MAX, no extensions; anything else is WR_ERROR.
 */
#define SCRAM_CLIENT_NONCE_MAX 256
#define SCRAM_CLIENT_ITER_MAX  (1 << 20)

struct scram_client {
    int state;          /* internal */
    bool keys_given;    /* ClientKey and ServerKey given, no password */
    char password[256]; /* or the password (no SASLprep, as the server side) */
    uint8_t client_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
    char nonce[48];                          /* our nonce */
    char client_first_bare[64];              /* "n=,r=<nonce>" */
    uint8_t server_signature[SCRAM_KEY_LEN]; /* what server-final must carry */
};

/* Starts an exchange with a password (WR_ERROR: too long). */
int scram_client_password(struct scram_client *st, const char *password) WR_MUST_CHECK;
/* Starts an exchange with the verifier's keys. */
void scram_client_keys(struct scram_client *st, const uint8_t client_key[SCRAM_KEY_LEN],
                       const uint8_t server_key[SCRAM_KEY_LEN]);
/* Step 1: the client-first-message ("n,,n=,r=<nonce>") into out. WR_OK or WR_ERROR. */
int scram_client_first(struct scram_client *st, char *out, size_t cap,
                       size_t *out_len) WR_MUST_CHECK;
/* For tests: step 1 with a fixed nonce (printable, no ','). */
int scram_client_first_with_nonce(struct scram_client *st, const char *nonce, char *out, size_t cap,
                                  size_t *out_len) WR_MUST_CHECK;
/* Step 2: takes the server-first-message, writes the client-final-message. */
int scram_client_final(struct scram_client *st, const uint8_t *server_first, size_t len, char *out,
                       size_t cap, size_t *out_len) WR_MUST_CHECK;
/*
 * Step 3: the server-final-message. WR_OK: "v=" with the right signature;
 * WR_DONE: the server said "e=..." (it refused); WR_ERROR: anything else,
 * a wrong signature included (not the server it claims to be).
 */
int scram_client_verify(struct scram_client *st, const uint8_t *server_final,
                        size_t len) WR_MUST_CHECK;
void scram_client_clear(struct scram_client *st);

#endif
