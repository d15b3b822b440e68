/* test_pg_auth.c -- unit tests of md5 and SCRAM-SHA-256 server-side authentication. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "protocol/pg/pg_auth.h"
#include "tests/tap.h"

/*
 * RFC 7677 section 3 test vector (user "user", password "pencil"). The
 * verifier was derived independently with python3:
 *   sp = hashlib.pbkdf2_hmac('sha256', b'pencil', b64decode(salt), 4096, 32)
 *   ck = hmac.new(sp, b'Client Key', 'sha256').digest()
 *   StoredKey = sha256(ck); ServerKey = hmac.new(sp, b'Server Key', 'sha256')
 * and the same script reproduced the RFC's proof and ServerSignature from
 * AuthMessage = client-first-bare "," server-first "," client-final-without-proof.
 */
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_VERIFIER                                                                               \
    "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"            \
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE ",s=" RFC_SALT_B64 ",i=4096"
#define RFC_CLIENT_FINAL                                                                           \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO" RFC_SERVER_NONCE                                               \
    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/*
 * Made by PostgreSQL 15 itself: initdb --auth=scram-sha-256 with password
 * "secret-pw", then SELECT rolpassword FROM pg_authid (postgres --single).
 */
#define PG15_VERIFIER                                                                              \
    "SCRAM-SHA-256$4096:Un4hNCY4+jZ2/PLOlEksWw==$ChL1MI7rhz5QVIVrGwnja2jdvL9IweHJwOzs3cjiFcI=:"    \
    "11ulVNTQvybAtbV2q9yBwyRraJwcXr3/HQvFf2+W4So="

static const uint8_t *u8(const char *s)
{
    return (const uint8_t *)s;
}

static void test_md5(void)
{
    char out[PG_MD5_LEN + 1];
    const uint8_t salt[4] = {1, 2, 3, 4};

    /* printf 'passworduser' | md5sum */
    pg_md5_secret("password", "user", out);
    is_str(out, "md54d45974e13472b5a0be3533de4666414", "md5 secret of password/user");

    /* python3: 'md5' + md5(b'4d45974e13472b5a0be3533de4666414' + bytes([1,2,3,4])).hexdigest() */
    const char *resp = "md5a3576f1ae039b8996bc4fc2720f9c71a";
    ok(pg_md5_check(out, salt, resp), "md5 challenge: right response");
    const uint8_t salt2[4] = {1, 2, 3, 5};
    ok(!pg_md5_check(out, salt2, resp), "md5 challenge: other salt");
    ok(!pg_md5_check(out, salt, "md5a3576f1ae039b8996bc4fc2720f9c71b"), "md5: wrong response");
    ok(!pg_md5_check(out, salt, "md5a3576f1ae039b8996bc4fc2720f9c71"), "md5: short response");
    ok(!pg_md5_check(out, salt, "md5a3576f1ae039b8996bc4fc2720f9c71aa"), "md5: long response");
    ok(!pg_md5_check(out, salt, ""), "md5: empty response");
    ok(!pg_md5_check("password", salt, resp), "md5: plain secret is not an md5 secret");

    is_int(pg_secret_kind(out), PG_SECRET_MD5, "kind: md5");
    is_int(pg_secret_kind("md54d45974e13472b5a0be3533de466641"), PG_SECRET_PLAIN,
           "kind: md5 with 31 digits is plain");
    is_int(pg_secret_kind("md54d45974e13472b5a0be3533de466641g"), PG_SECRET_PLAIN,
           "kind: md5 with a non-hex digit is plain");
    is_int(pg_secret_kind("hunter2"), PG_SECRET_PLAIN, "kind: plain");
    is_int(pg_secret_kind(""), PG_SECRET_PLAIN, "kind: empty is plain");
    is_int(pg_secret_kind(RFC_VERIFIER), PG_SECRET_SCRAM, "kind: scram");
    is_int(pg_secret_kind("SCRAM-SHA-256$4096:abc"), PG_SECRET_PLAIN,
           "kind: broken scram is plain");
}

static void test_verifiers(void)
{
    struct scram_secret s, s2;
    char buf[256];
    uint8_t salt[16];

    is_int(EVP_DecodeBlock(salt, u8(RFC_SALT_B64), 24), 18, "decode RFC salt");
    is_int(scram_secret_from_password("pencil", salt, 16, 4096, &s), WR_OK, "derive RFC verifier");
    is_int(scram_format_verifier(&s, buf, sizeof(buf)), (int)strlen(RFC_VERIFIER),
           "format returns its length");
    is_str(buf, RFC_VERIFIER, "derived verifier matches python3");
    is_int(scram_parse_verifier(buf, &s2), WR_OK, "parse formatted verifier");
    ok(memcmp(&s, &s2, sizeof(s)) == 0, "verifier round trip");
    ok(scram_check_plain(&s2, "pencil"), "check_plain: right password");
    ok(!scram_check_plain(&s2, "pencil "), "check_plain: wrong password");
    is_int(scram_format_verifier(&s, buf, strlen(RFC_VERIFIER)), -1, "format: cap too small");
    is_int(scram_format_verifier(&s, buf, strlen(RFC_VERIFIER) + 1), (int)strlen(RFC_VERIFIER),
           "format: exact cap");

    is_int(scram_parse_verifier(PG15_VERIFIER, &s), WR_OK, "parse PostgreSQL 15 verifier");
    is_int(s.iterations, 4096, "pg15: iterations");
    is_int(s.salt_len, 16, "pg15: salt length");
    ok(scram_check_plain(&s, "secret-pw"), "pg15: right password");
    ok(!scram_check_plain(&s, "secret-PW"), "pg15: wrong password");
    is_int(scram_format_verifier(&s, buf, sizeof(buf)), (int)strlen(PG15_VERIFIER), "pg15: format");
    is_str(buf, PG15_VERIFIER, "pg15: formats back identically");

    is_int(scram_secret_generate("pw", &s), WR_OK, "generate");
    is_int(scram_secret_generate("pw", &s2), WR_OK, "generate again");
    ok(s.salt_len == 16 && s.iterations == SCRAM_DEFAULT_ITERATIONS, "generate: 16-byte salt");
    ok(memcmp(s.salt, s2.salt, 16) != 0, "generate: salts differ");
    ok(scram_check_plain(&s, "pw") && !scram_check_plain(&s, "pW"), "generate: check_plain");

    uint8_t bigsalt[SCRAM_SALT_MAX + 1] = {0};
    is_int(scram_secret_from_password("pw", bigsalt, sizeof(bigsalt), 1, &s), WR_ERROR,
           "derive: salt too long");
    is_int(scram_secret_from_password("pw", bigsalt, SCRAM_SALT_MAX, 1, &s), WR_OK,
           "derive: salt at maximum");
    is_int(scram_format_verifier(&s, buf, sizeof(buf)) > 0, 1, "format: 64-byte salt");
    is_int(scram_parse_verifier(buf, &s2), WR_OK, "parse: 64-byte salt");
    is_int(scram_secret_from_password("pw", bigsalt, 0, 1, &s), WR_ERROR, "derive: empty salt");
    is_int(scram_secret_from_password("pw", bigsalt, 8, 0, &s), WR_ERROR, "derive: 0 iterations");

    static const char *const bad[] = {
        "",
        "SCRAM-SHA-256$",
        "SCRAM-SHA-1$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$0:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$-1:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$99999999999:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096x:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3Otc=nkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:" RFC_SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:extra",
        /* 68-byte salt */
        "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAA$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "malformed verifier %zu rejected", i);
        is_int(scram_parse_verifier(bad[i], &s), WR_ERROR, name);
    }
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((uint8_t *)out, in, (int)n);
}

/*
 * Plays the client: from the password and the server-first-message, builds
 * the client-final-message into `final` and the expected server-final into
 * `want_v`. The test's own OpenSSL computation, independent of pg_auth.c.
 */
static void client_final(const char *password, const char *client_first_bare,
                         const char *server_first, const char *cbind_b64, char *final,
                         size_t final_cap, char *want_v)
{
    uint8_t salt[128], salted[32], ck[32], sk[32], svk[32], sig[32], proof[32];
    unsigned int n;
    char auth[2048], salt_b64[200], proof_b64[64];
    int iter = 0;
    const char *r = strstr(server_first, "r=") + 2, *s = strstr(server_first, ",s=") + 3;

    sscanf(strstr(server_first, ",i=") + 3, "%d", &iter);
    snprintf(salt_b64, sizeof(salt_b64), "%.*s", (int)(strstr(s, ",") - s), s);
    int slen = EVP_DecodeBlock(salt, u8(salt_b64), (int)strlen(salt_b64));
    slen -= salt_b64[strlen(salt_b64) - 1] == '=';
    slen -= salt_b64[strlen(salt_b64) - 2] == '=';

    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, slen, iter, EVP_sha256(), 32, salted);
    HMAC(EVP_sha256(), salted, 32, u8("Client Key"), 10, ck, &n);
    SHA256(ck, 32, sk);
    HMAC(EVP_sha256(), salted, 32, u8("Server Key"), 10, svk, &n);

    int wlen = snprintf(final, final_cap, "c=%s,r=%.*s", cbind_b64, (int)(strstr(r, ",") - r), r);
    snprintf(auth, sizeof(auth), "%s,%s,%s", client_first_bare, server_first, final);
    HMAC(EVP_sha256(), sk, 32, u8(auth), strlen(auth), sig, &n);
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ sig[i];
    b64(proof, 32, proof_b64);
    snprintf(final + wlen, final_cap - (size_t)wlen, ",p=%s", proof_b64);
    HMAC(EVP_sha256(), svk, 32, u8(auth), strlen(auth), sig, &n);
    strcpy(want_v, "v=");
    b64(sig, 32, want_v + 2);
}

static int first(struct scram_server *st, const struct scram_secret *sec, const char *msg,
                 char *out, size_t cap)
{
    size_t n = 0;
    int rc = scram_server_first(st, sec, u8(msg), strlen(msg), out, cap, &n);
    if (rc == WR_OK && n != strlen(out))
        return 99;
    return rc;
}

static int final(struct scram_server *st, const char *msg, char *out, size_t cap)
{
    size_t n = 0;
    int rc = scram_server_final(st, u8(msg), strlen(msg), out, cap, &n);
    if (rc == WR_OK && n != strlen(out))
        return 99;
    if (rc != WR_OK && n != 0)
        return 98;
    return rc;
}

static void test_rfc_exchange(void)
{
    struct scram_secret sec;
    struct scram_server st;
    char out[512];
    size_t n = 0;

    if (scram_parse_verifier(RFC_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the RFC verifier");
    memset(&st, 0, sizeof(st));
    is_int(scram_server_first_with_nonce(&st, &sec, u8(RFC_CLIENT_FIRST), strlen(RFC_CLIENT_FIRST),
                                         RFC_SERVER_NONCE, out, sizeof(out), &n),
           WR_OK, "RFC 7677: server-first");
    is_str(out, RFC_SERVER_FIRST, "RFC 7677: server-first bytes");
    is_int(n, strlen(RFC_SERVER_FIRST), "RFC 7677: server-first length");
    is_int(final(&st, RFC_CLIENT_FINAL, out, sizeof(out)), WR_OK, "RFC 7677: proof accepted");
    is_str(out, RFC_SERVER_FINAL, "RFC 7677: server-final matches the RFC");
    scram_server_clear(&st);

    /* The test's own client code reproduces the RFC client-final. */
    char cf[256], want_v[64];
    client_final("pencil", &RFC_CLIENT_FIRST[3], RFC_SERVER_FIRST, "biws", cf, sizeof(cf), want_v);
    is_str(cf, RFC_CLIENT_FINAL, "test client reproduces the RFC client-final");
    is_str(want_v, RFC_SERVER_FINAL, "test client reproduces the RFC server-final");
}

/* Runs step 1 with a fresh struct and returns the client-final for `password`. */
static int start(struct scram_server *st, const struct scram_secret *sec, const char *cfirst,
                 const char *password, const char *cbind, char *cf, size_t cfcap, char *want_v)
{
    char sfirst[512];

    memset(st, 0, sizeof(*st));
    int rc = first(st, sec, cfirst, sfirst, sizeof(sfirst));
    if (rc == WR_OK)
        client_final(password, strchr(cfirst + 2, ',') + 1, sfirst, cbind, cf, cfcap, want_v);
    return rc;
}

static void test_exchange(void)
{
    struct scram_secret sec;
    struct scram_server st;
    char sfirst[512], cf[512], out[128], want_v[64];
    const char *cfirst = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";

    if (scram_parse_verifier(PG15_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the pg15 verifier");

    /* Right password. */
    is_int(start(&st, &sec, cfirst, "secret-pw", "biws", cf, sizeof(cf), want_v), WR_OK,
           "exchange: server-first");
    ok(strncmp(st.nonce, "fyko+d2lbbFgONRv9qkxdawL", 24) == 0 && strlen(st.nonce) == 24 + 24,
       "exchange: nonce = client nonce + 24 base64 chars");
    ok(strstr(st.server_first, ",s=Un4hNCY4+jZ2/PLOlEksWw==,i=4096") != NULL,
       "exchange: server-first carries salt and iterations");
    is_int(final(&st, cf, out, sizeof(out)), WR_OK, "exchange: right password accepted");
    is_str(out, want_v, "exchange: server signature");

    /* Replays and out-of-order steps. */
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "replayed client-final rejected");
    is_int(first(&st, &sec, cfirst, sfirst, sizeof(sfirst)), WR_ERROR,
           "client-first after the exchange rejected");
    scram_server_clear(&st);
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "client-final before client-first");
    is_int(first(&st, &sec, cfirst, sfirst, sizeof(sfirst)), WR_ERROR,
           "out-of-order client-final ended the exchange");
    scram_server_clear(&st);
    is_int(first(&st, &sec, cfirst, sfirst, sizeof(sfirst)), WR_OK, "cleared struct restarts");
    is_int(first(&st, &sec, cfirst, sfirst, sizeof(sfirst)), WR_ERROR,
           "replayed client-first rejected");
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "final of an aborted exchange rejected");

    /* The old client-final against a new exchange: its nonce no longer matches. */
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, cfirst, sfirst, sizeof(sfirst)), WR_OK, "second exchange");
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "client-final of another exchange");

    /* Wrong password. */
    is_int(start(&st, &sec, cfirst, "secret-pW", "biws", cf, sizeof(cf), want_v), WR_OK,
           "wrong password: server-first");
    is_int(final(&st, cf, out, sizeof(out)), WR_DONE, "wrong password is WR_DONE");
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "no second try after WR_DONE");

    /* A user name in client-first is ignored; "y,," is accepted with c=eSws. */
    is_int(start(&st, &sec, "y,,n=someone,r=abc", "secret-pw", "eSws", cf, sizeof(cf), want_v),
           WR_OK, "gs2 y: server-first");
    is_int(final(&st, cf, out, sizeof(out)), WR_OK, "gs2 y: accepted with c=eSws");
    is_int(start(&st, &sec, "y,,n=someone,r=abc", "secret-pw", "biws", cf, sizeof(cf), want_v),
           WR_OK, "gs2 y with c=biws: server-first");
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "gs2 y with c=biws rejected");
    is_int(start(&st, &sec, cfirst, "secret-pw", "eSws", cf, sizeof(cf), want_v), WR_OK,
           "gs2 n with c=eSws: server-first");
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "gs2 n with c=eSws rejected");

    /* Output buffers too small. */
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, cfirst, sfirst, 20), WR_ERROR, "server-first: cap too small");
    is_int(start(&st, &sec, cfirst, "secret-pw", "biws", cf, sizeof(cf), want_v), WR_OK,
           "small final cap: server-first");
    is_int(final(&st, cf, out, 46), WR_ERROR, "server-final: cap too small");
    is_int(start(&st, &sec, cfirst, "secret-pw", "biws", cf, sizeof(cf), want_v), WR_OK,
           "exact final cap: server-first");
    is_int(final(&st, cf, out, 47), WR_OK, "server-final: exact cap");
}

/* SCRAM-SHA-256-PLUS: tls-server-end-point channel binding and the downgrade check. */
static void test_channel_binding(void)
{
    struct scram_secret sec;
    struct scram_server st;
    char sfirst[512], cf[512], out[128], want_v[64], cbind[128], other[128];
    uint8_t cb[32], hdr[24 + 32];
    for (int i = 0; i < 32; i++)
        cb[i] = (uint8_t)(i * 7 + 1);
    memcpy(hdr, "p=tls-server-end-point,,", 24);
    memcpy(hdr + 24, cb, 32);
    b64(hdr, sizeof(hdr), cbind);
    hdr[30] ^= 1;
    b64(hdr, sizeof(hdr), other);
    if (scram_parse_verifier(PG15_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the pg15 verifier");
    const char *pfirst = "p=tls-server-end-point,,n=,r=abcdef";
    const char *bare = strstr(pfirst, ",,") + 2;

    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), true);
    is_int(first(&st, &sec, pfirst, sfirst, sizeof(sfirst)), WR_OK, "PLUS: server-first");
    client_final("secret-pw", bare, sfirst, cbind, cf, sizeof(cf), want_v);
    is_int(final(&st, cf, out, sizeof(out)), WR_OK, "PLUS: the binding data echoed: accepted");
    is_str(out, want_v, "PLUS: server signature");

    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), true);
    is_int(first(&st, &sec, pfirst, sfirst, sizeof(sfirst)), WR_OK, "PLUS, other data: first");
    client_final("secret-pw", bare, sfirst, other, cf, sizeof(cf), want_v);
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR,
           "PLUS: another session's binding data (a man in the middle) refused");

    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), true);
    is_int(first(&st, &sec, pfirst, sfirst, sizeof(sfirst)), WR_OK, "PLUS, c=biws: first");
    client_final("secret-pw", bare, sfirst, "biws", cf, sizeof(cf), want_v);
    is_int(final(&st, cf, out, sizeof(out)), WR_ERROR, "PLUS: a final without the binding refused");

    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), true);
    is_int(first(&st, &sec, "n,,n=,r=abcdef", sfirst, sizeof(sfirst)), WR_ERROR,
           "PLUS chosen, gs2 n: refused");
    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), true);
    is_int(first(&st, &sec, "p=tls-unique,,n=,r=abcdef", sfirst, sizeof(sfirst)), WR_ERROR,
           "PLUS: another binding type refused");
    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), false);
    is_int(first(&st, &sec, "y,,n=,r=abcdef", sfirst, sizeof(sfirst)), WR_ERROR,
           "PLUS offered, gs2 y: a downgrade, refused");
    memset(&st, 0, sizeof(st));
    scram_server_channel_binding(&st, cb, sizeof(cb), false);
    is_int(first(&st, &sec, "n,,n=,r=abcdef", sfirst, sizeof(sfirst)), WR_OK,
           "PLUS offered, the client cannot bind (gs2 n): server-first");
    client_final("secret-pw", "n=,r=abcdef", sfirst, "biws", cf, sizeof(cf), want_v);
    is_int(final(&st, cf, out, sizeof(out)), WR_OK, "... and accepted");
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, pfirst, sfirst, sizeof(sfirst)), WR_ERROR,
           "PLUS not offered: a binding request refused");
    scram_server_clear(&st);
}

/* weir's own SCRAM client against weir's own server, with a password and with the keys. */
static void test_client(void)
{
    struct scram_secret sec;
    struct scram_server sv;
    struct scram_client cl;
    char cfirst[128], sfirst[512], cfinal[512], sfinal[128];
    size_t n;
    if (scram_parse_verifier(PG15_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the pg15 verifier");

    is_int(scram_client_password(&cl, "secret-pw"), WR_OK, "client: password");
    is_int(scram_client_first(&cl, cfirst, sizeof(cfirst), &n), WR_OK, "client: first");
    ok(!strncmp(cfirst, "n,,n=,r=", 8) && n == strlen(cfirst), "client: first is n,,n=,r=...");
    memset(&sv, 0, sizeof(sv));
    is_int(first(&sv, &sec, cfirst, sfirst, sizeof(sfirst)), WR_OK, "server takes it");
    is_int(scram_client_final(&cl, u8(sfirst), strlen(sfirst), cfinal, sizeof(cfinal), &n), WR_OK,
           "client: final");
    is_int(final(&sv, cfinal, sfinal, sizeof(sfinal)), WR_OK, "server: the proof is right");
    is_int(scram_client_verify(&cl, u8(sfinal), strlen(sfinal)), WR_OK,
           "client: the server's signature is right");
    uint8_t recovered[SCRAM_KEY_LEN];
    memcpy(recovered, sv.client_key, sizeof(recovered));

    /* pass-through: the ClientKey the server recovered, the ServerKey from the verifier */
    scram_client_keys(&cl, recovered, sec.server_key);
    is_int(scram_client_first(&cl, cfirst, sizeof(cfirst), &n), WR_OK, "keys: first");
    memset(&sv, 0, sizeof(sv));
    is_int(first(&sv, &sec, cfirst, sfirst, sizeof(sfirst)), WR_OK, "keys: server-first");
    is_int(scram_client_final(&cl, u8(sfirst), strlen(sfirst), cfinal, sizeof(cfinal), &n), WR_OK,
           "keys: final");
    is_int(final(&sv, cfinal, sfinal, sizeof(sfinal)), WR_OK,
           "keys: a login with the recovered ClientKey, no password");
    is_int(scram_client_verify(&cl, u8(sfinal), strlen(sfinal)), WR_OK, "keys: server checked");

    /* a server that does not know the password: its signature is wrong */
    is_int(scram_client_password(&cl, "secret-pw"), WR_OK, "impostor: password");
    is_int(scram_client_first_with_nonce(&cl, "abc", cfirst, sizeof(cfirst), &n), WR_OK,
           "impostor: first");
    const char *sf = "r=abcXYZ,s=Un4hNCY4+jZ2/PLOlEksWw==,i=4096";
    is_int(scram_client_final(&cl, u8(sf), strlen(sf), cfinal, sizeof(cfinal), &n), WR_OK,
           "impostor: final");
    const char *fake = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    is_int(scram_client_verify(&cl, u8(fake), strlen(fake)), WR_ERROR,
           "impostor: a wrong server signature is WR_ERROR");
    is_int(scram_client_password(&cl, "x"), WR_OK, "e=: password");
    is_int(scram_client_first_with_nonce(&cl, "abc", cfirst, sizeof(cfirst), &n), WR_OK, "e=");
    is_int(scram_client_final(&cl, u8(sf), strlen(sf), cfinal, sizeof(cfinal), &n), WR_OK, "e=");
    is_int(scram_client_verify(&cl, u8("e=invalid-proof"), 15), WR_DONE,
           "the server's e= is WR_DONE (refused)");

    /* hostile server-first messages (CVE-2026-6665 among them) */
    static char huge[2048];
    memset(huge, 'A', sizeof(huge) - 1);
    memcpy(huge, "r=abc", 5);
    static const char *const bad[] = {
        "r=xyzDEF,s=Un4hNCY4+jZ2/PLOlEksWw==,i=4096",
        "r=abc,s=Un4hNCY4+jZ2/PLOlEksWw==,i=4096",
        "r=abcD,s=Un4hNCY4+jZ2/PLOlEksWw==,i=0",
        "r=abcD,s=Un4hNCY4+jZ2/PLOlEksWw==,i=99999999",
        "r=abcD,s=Un4hNCY4+jZ2/PLOlEksWw==,i=4096,x=1",
        "r=abcD,s=!!!!,i=4096",
        "r=abcD,i=4096",
        "m=ext,r=abcD,s=Un4hNCY4+jZ2/PLOlEksWw==,i=1",
        "r=abcD,s=Un4hNCY4+jZ2/PLOlEksWw==,i=12a",
        "",
        huge,
    };
    static const char *const why[] = {
        "a nonce that does not start with ours",
        "no nonce of the server's own",
        "0 iterations",
        "iterations past the bound",
        "an extension after i=",
        "a salt that is not base64",
        "no salt",
        "an m= extension first",
        "iterations not a number",
        "an empty message",
        "a 2 KB nonce",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scram_client_password(&cl, "x") != WR_OK ||
            scram_client_first_with_nonce(&cl, "abc", cfirst, sizeof(cfirst), &n) != WR_OK)
            diag("setup failed");
        ok(scram_client_final(&cl, u8(bad[i]), strlen(bad[i]), cfinal, sizeof(cfinal), &n) ==
               WR_ERROR,
           "server-first refused: %s", why[i]);
        ok(scram_client_verify(&cl, u8(fake), strlen(fake)) == WR_ERROR,
           "... and the exchange is over (%s)", why[i]);
    }
    is_int(scram_client_final(&cl, u8(sf), strlen(sf), cfinal, sizeof(cfinal), &n), WR_ERROR,
           "final out of order");
    scram_client_clear(&cl);
}

static void test_malformed_first(void)
{
    struct scram_secret sec;
    struct scram_server st;
    char out[512], name[160];
    static const char *const bad[] = {
        "",
        "n",
        "n,,",
        "p=tls-server-end-point,,n=,r=abc", /* channel binding */
        "x,,n=,r=abc",
        "n,a=admin,n=,r=abc", /* authzid */
        "n;,n=,r=abc",
        "n,,m=ext,n=,r=abc", /* reserved mandatory extension */
        "n,,r=abc",
        "n,,n=user",
        "n,,n=user,",
        "n,,n=user,r=",
        "n,,n=user,x=abc",
        "n,,n=user,r=abc,x=ext", /* extension */
        "n,,n=user,r=ab c",
        "n,,n=user,r=ab\x7f",
        "N,,n=user,r=abc",
    };

    if (scram_parse_verifier(PG15_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the pg15 verifier");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&st, 0, sizeof(st));
        snprintf(name, sizeof(name), "malformed client-first '%s'", bad[i]);
        is_int(first(&st, &sec, bad[i], out, sizeof(out)), WR_ERROR, name);
    }

    /* No data at all. */
    memset(&st, 0, sizeof(st));
    size_t n0 = 1;
    is_int(scram_server_first(&st, &sec, NULL, 0, out, sizeof(out), &n0), WR_ERROR,
           "empty client-first");
    is_int(n0, 0, "empty client-first: no output");

    /* An embedded NUL. */
    memset(&st, 0, sizeof(st));
    size_t n;
    is_int(scram_server_first(&st, &sec, u8("n,,n=u,r=a\0b"), 12, out, sizeof(out), &n), WR_ERROR,
           "client-first with a NUL");

    /* Long inputs: bare must fit 511 bytes, the combined nonce 127. */
    char msg[1200];
    memcpy(msg, "n,,n=", 5);
    memset(msg + 5, 'u', 600);
    strcpy(msg + 5 + 504, ",r=abc"); /* bare = "n=" + 504 + ",r=abc" = 512 bytes */
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_ERROR, "client-first-bare of 512 bytes");
    strcpy(msg + 5 + 503, ",r=abc");
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_OK, "client-first-bare of 511 bytes fits");
    is_int(strlen(st.client_first_bare), 511, "511-byte bare stored whole");
    memset(msg + 5, 'u', 600);
    strcpy(msg + 5 + 600, ",r=abc");
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_ERROR, "client-first-bare of 608 bytes");

    memset(&st, 0, sizeof(st));
    strcpy(msg, "n,,n=,r=");
    memset(msg + 8, 'c', 103);
    msg[8 + 103] = '\0';
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_OK, "client nonce of 103 fits");
    memset(&st, 0, sizeof(st));
    strcat(msg, "c");
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_ERROR, "client nonce of 104 rejected");
    memset(&st, 0, sizeof(st));
    memset(msg + 8, 'c', 1000);
    msg[1008] = '\0';
    is_int(first(&st, &sec, msg, out, sizeof(out)), WR_ERROR, "client nonce of 1000 rejected");

    /* A broken secret. */
    struct scram_secret broken = sec;
    broken.salt_len = SCRAM_SALT_MAX + 1;
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &broken, "n,,n=,r=abc", out, sizeof(out)), WR_ERROR, "oversized salt");
    broken = sec;
    broken.iterations = 0;
    memset(&st, 0, sizeof(st));
    is_int(first(&st, &broken, "n,,n=,r=abc", out, sizeof(out)), WR_ERROR, "zero iterations");
}

static void test_malformed_final(void)
{
    struct scram_secret sec;
    struct scram_server st;
    char cf[512], out[128], want_v[64], msg[1024], name[200];
    const char *cfirst = "n,,n=,r=abc";

    if (scram_parse_verifier(PG15_VERIFIER, &sec) != WR_OK)
        diag("cannot parse the pg15 verifier");
    if (start(&st, &sec, cfirst, "secret-pw", "biws", cf, sizeof(cf), want_v) != WR_OK)
        diag("cannot start");
    const struct scram_server saved = st;
    char nonce[128];
    strcpy(nonce, st.nonce);
    const char *proof = strstr(cf, ",p=") + 3;

    struct {
        const char *fmt; /* %1$s nonce, %2$s proof */
        const char *what;
    } cases[] = {
        {"", "empty"},
        {"c=biws", "only c="},
        {"c=biws,r=%1$s", "no proof"},
        {"c=biws,r=%1$s,p=", "empty proof"},
        {"c=biws,r=%1$s,p=%2$s=", "proof with extra padding"},
        {"c=biws,r=%1$s,p=%2$.43s", "proof of 43 chars"},
        {"c=biws,r=%1$s,p=%2$.40sAAAA", "proof of 44 chars decoding to 33 bytes"},
        {"c=biws,r=%1$s,p=%2$.40s!!!=", "proof not base64"},
        {"c=biws,r=%1$s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "proof of 31 bytes"},
        {"c=biws,r=%1$s,x=ext,p=%2$s", "extension before the proof"},
        {"c=biws,r=%1$s,p=%2$s,x=ext", "attribute after the proof"},
        {"c=biws,r=%1$sX,p=%2$s", "nonce with a suffix"},
        {"c=biws,r=%1$.20s,p=%2$s", "nonce truncated"},
        {"c=biws,r=X%1$s,p=%2$s", "nonce with a prefix"},
        {"r=%1$s,c=biws,p=%2$s", "attributes out of order"},
        {"c=biws=,r=%1$s,p=%2$s", "c= with extra character"},
        {"c=,r=%1$s,p=%2$s", "c= empty"},
        {"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=%1$s,p=%2$s", "c= with channel binding"},
        {"C=biws,r=%1$s,p=%2$s", "C= capital"},
        {"c=biws,R=%1$s,p=%2$s", "R= capital"},
        {"c=biws,r=%1$s,P=%2$s", "P= capital"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st = saved;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(msg, sizeof(msg), cases[i].fmt, nonce, proof);
#pragma GCC diagnostic pop
        snprintf(name, sizeof(name), "client-final rejected: %s", cases[i].what);
        is_int(final(&st, msg, out, sizeof(out)), WR_ERROR, name);
    }

    st = saved;
    is_int(scram_server_final(&st, u8(cf), strlen(cf) + 1, out, sizeof(out), &(size_t){0}),
           WR_ERROR, "client-final with a trailing NUL");

    st = saved;
    is_int(scram_server_final(&st, NULL, 0, out, sizeof(out), &(size_t){0}), WR_ERROR,
           "empty client-final");

    st = saved;
    memset(msg, 'A', 1000);
    msg[1000] = '\0';
    is_int(final(&st, msg, out, sizeof(out)), WR_ERROR, "client-final of 1000 bytes");

    st = saved;
    is_int(final(&st, cf, out, sizeof(out)), WR_OK, "the unaltered client-final still works");
    is_str(out, want_v, "and signs");
    scram_server_clear(&st);
}

int main(void)
{
    test_md5();
    test_verifiers();
    test_rfc_exchange();
    test_exchange();
    test_channel_binding();
    test_client();
    test_malformed_first();
    test_malformed_final();
    return done_testing();
}
