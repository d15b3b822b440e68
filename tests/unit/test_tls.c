/*
 * test_tls.c -- unit tests of the TLS transport (core/tls.c) over a socketpair: the accepting
 * context and its checks, the handshake (SSLRequest style and direct TLS with bytes already
 * read), reads that take what OpenSSL already holds, writes that stop on a full socket and
 * resume with the same bytes, the protocol and cipher names, tls-server-end-point.
 * The certificate is made here with OpenSSL and written to a temp dir.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "pooler/core/tls.h"
#include "tests/tap.h"

static char dir[] = "/tmp/weir-tls-unit.XXXXXX";
static char key_path[128], cert_path[128];
static X509 *cert;

static void make_cert(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pk);
    X509_NAME *n = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(cert, n);
    X509_sign(cert, pk, EVP_sha256());
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    FILE *f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    f = fopen(cert_path, "w");
    PEM_write_X509(f, cert);
    fclose(f);
    EVP_PKEY_free(pk);
}

/* A client session on fd (the test plays the client), ALPN "postgresql". */
static SSL *client_new(SSL_CTX *cctx, int fd)
{
    SSL *c = SSL_new(cctx);
    SSL_set_fd(c, fd);
    SSL_set_connect_state(c);
    SSL_set_alpn_protos(c, (const unsigned char *)"\x0apostgresql", 11);
    return c;
}

/* Drives both handshakes to the end (both sockets non-blocking). */
static bool handshake(SSL *server, SSL *client)
{
    for (int i = 0; i < 100; i++) {
        char err[256];
        int want;
        int c = SSL_do_handshake(client);
        int s = tls_handshake(server, &want, err, sizeof(err));
        if (s == WR_ERROR) {
            diag("server: %s", err);
            return false;
        }
        if (s == WR_OK && c == 1)
            return true;
    }
    return false;
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void test_names(void)
{
    int lo, hi;
    ok(tls_protocols_parse("secure", &lo, &hi) && lo == TLS1_2_VERSION && hi == TLS1_3_VERSION,
       "secure is TLSv1.2 to TLSv1.3");
    ok(tls_protocols_parse("tlsv1.3", &lo, &hi) && lo == TLS1_3_VERSION && hi == TLS1_3_VERSION,
       "tlsv1.3 alone");
    ok(tls_protocols_parse("tlsv1.1, tlsv1.2", &lo, &hi) && lo == TLS1_1_VERSION &&
           hi == TLS1_2_VERSION,
       "a list: its lowest and highest");
    ok(!tls_protocols_parse("sslv3", &lo, &hi), "an unknown name is refused");
    ok(!tls_protocols_parse(",", &lo, &hi), "an empty list is refused");
    is_str(tls_ciphers_list("HIGH"), "HIGH", "a cipher list passes through");
    ok(strcmp(tls_ciphers_list("fast"), "fast") != 0, "PgBouncer's aliases are resolved");
}

static void test_configure(void)
{
    char err[256];
    struct tls_opts o = {.mode = TLS_REQUIRE, .protocols = "secure", .ciphers = "fast"};
    ok(tls_accept_configure(&o, err, sizeof(err)) == WR_ERROR && strstr(err, "key_file"),
       "require without key and certificate is refused: %s", err);
    o.key_file = cert_path; /* a certificate where the key should be */
    o.cert_file = cert_path;
    ok(tls_accept_configure(&o, err, sizeof(err)) == WR_ERROR, "a bad key file is refused: %s",
       err);
    ok(!tls_accept_ready(), "nothing installed after refusals");
    o.key_file = key_path;
    o.mode = TLS_VERIFY_CA;
    ok(tls_accept_configure(&o, err, sizeof(err)) == WR_ERROR && strstr(err, "ca_file"),
       "verify-ca needs a CA file");
    o.mode = TLS_REQUIRE;
    ok(tls_accept_configure(&o, err, sizeof(err)) == WR_OK, "key and certificate load");
    ok(tls_accept_ready(), "the context is in place");
}

static void test_stream(SSL_CTX *cctx)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    nonblock(sv[0]);
    nonblock(sv[1]);
    char err[256];
    SSL *s = tls_accept(sv[0], NULL, 0, err, sizeof(err));
    SSL *c = client_new(cctx, sv[1]);
    ok(s && handshake(s, c), "handshake over a socketpair");

    /* 40000 bytes from the client, read into a buffer with room for 1000 at a time. */
    static uint8_t big[40000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    size_t n;
    ok(SSL_write_ex(c, big, sizeof(big), &n) == 1 && n == sizeof(big), "the client writes");
    struct iobuf *b = calloc(1, sizeof(*b) + 1000);
    b->cap = 1000;
    static uint8_t got[40000];
    size_t total = 0;
    int reads_with_pending = 0, rounds = 0;
    while (total < sizeof(big) && rounds++ < 1000) {
        ssize_t r = tls_recv(s, b);
        if (r > 0) {
            memcpy(got + total, b->data, b->recv);
            total += b->recv;
            b->recv = b->parsed = b->sent = 0;
            reads_with_pending += tls_pending(s);
        } else if (r != -1) {
            break;
        }
    }
    ok(total == sizeof(big) && !memcmp(got, big, sizeof(big)), "every byte arrives in order");
    ok(reads_with_pending > 0, "OpenSSL held decrypted bytes the socket no longer shows (%d)",
       reads_with_pending);
    is_int(tls_recv(s, b), -1, "then a read would block");

    /* Server to client until the socket is full: WR_AGAIN, then the same bytes resume. */
    static uint8_t out[1 << 20];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13);
    size_t sent = 0;
    int rc = tls_send_raw(s, out, sizeof(out), &sent);
    ok(rc == WR_AGAIN && sent < sizeof(out), "a full socket stops the write (%zu sent)", sent);
    static uint8_t back[1 << 20];
    size_t have = 0;
    for (int i = 0; i < 100000 && have < sizeof(out); i++) {
        if (rc == WR_AGAIN)
            rc = tls_send_raw(s, out, sizeof(out), &sent);
        size_t k;
        if (SSL_read_ex(c, back + have, sizeof(back) - have, &k) == 1)
            have += k;
    }
    ok(rc == WR_OK && have == sizeof(out) && !memcmp(back, out, sizeof(out)),
       "resumed writes deliver 1 MB whole and in order");

    uint8_t h[EVP_MAX_MD_SIZE], want[SHA256_DIGEST_LENGTH];
    size_t hl = 0;
    unsigned wl;
    X509_digest(cert, EVP_sha256(), want, &wl);
    ok(tls_server_end_point(s, h, &hl) && hl == wl && !memcmp(h, want, wl),
       "tls-server-end-point is the SHA-256 of weir's certificate");
    char desc[128];
    tls_describe(s, desc, sizeof(desc));
    ok(!strncmp(desc, "TLSv1.3/", 8), "tls_describe: %s", desc);
    free(b);
    tls_free(s);
    SSL_free(c);
    close(sv[0]);
    close(sv[1]);
}

/* Direct TLS: the ClientHello was read before weir knew it was TLS. */
static void test_direct(SSL_CTX *cctx)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    nonblock(sv[0]);
    nonblock(sv[1]);
    SSL *c = client_new(cctx, sv[1]);
    SSL_do_handshake(c); /* sends the ClientHello */
    uint8_t hello[4096];
    ssize_t n = read(sv[0], hello, sizeof(hello));
    ok(n > 5 && hello[0] == 0x16, "a ClientHello was read off the socket (%zd bytes)", n);
    char err[256];
    SSL *s = tls_accept(sv[0], hello, (size_t)n, err, sizeof(err));
    ok(s && handshake(s, c), "the handshake goes on from the bytes already read");
    const unsigned char *alpn;
    unsigned alen;
    SSL_get0_alpn_selected(s, &alpn, &alen);
    ok(alen == 10 && !memcmp(alpn, "postgresql", 10), "ALPN postgresql selected");
    size_t k;
    SSL_write_ex(c, "hello", 5, &k);
    struct iobuf *b = calloc(1, sizeof(*b) + 64);
    b->cap = 64;
    ssize_t r = -1;
    for (int i = 0; i < 100 && r == -1; i++)
        r = tls_recv(s, b);
    ok(r == 5 && !memcmp(b->data, "hello", 5), "later reads come from the socket");
    free(b);
    tls_free(s);
    SSL_free(c);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_cert();
    test_names();
    test_configure();
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    test_stream(cctx);
    test_direct(cctx);
    SSL_CTX_free(cctx);
    struct tls_opts off = {.mode = TLS_DISABLE};
    char err[64];
    ok(tls_accept_configure(&off, err, sizeof(err)) == WR_OK && !tls_accept_ready(),
       "disable drops the context");
    X509_free(cert);
    unlink(key_path);
    unlink(cert_path);
    rmdir(dir);
    return done_testing();
}
