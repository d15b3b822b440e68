/*
 * tls.c -- the TLS transport on OpenSSL: the context clients are accepted
 * with (rebuilt on every reload, swapped under a mutex: a login takes the
 * lock once, forwarding never), the non-blocking server-side handshake, and
 * reads and writes through a session (tls.h says the streaming rules).
 *
 * PostgreSQL 17's direct TLS: weir has already read the ClientHello when it
 * sees that the first byte is a TLS record (0x16) rather than a startup
 * packet's length. Those bytes go into a memory BIO that serves as the
 * session's read side until it is empty; then the socket takes over
 * (SSL_set0_rbio), so later reads cost nothing extra.
 */
#include "pooler/core/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "protocol/result.h"

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *accept_ctx; /* [accept_lock] NULL: client TLS is off */

bool tls_protocols_parse(const char *protocols, int *min, int *max)
{
    static const struct {
        const char *name;
        int lo, hi;
    } names[] = {
        {"secure", TLS1_2_VERSION, TLS1_3_VERSION},  {"all", TLS1_VERSION, TLS1_3_VERSION},
        {"legacy", TLS1_VERSION, TLS1_3_VERSION},    {"tlsv1.0", TLS1_VERSION, TLS1_VERSION},
        {"tlsv1.1", TLS1_1_VERSION, TLS1_1_VERSION}, {"tlsv1.2", TLS1_2_VERSION, TLS1_2_VERSION},
        {"tlsv1.3", TLS1_3_VERSION, TLS1_3_VERSION},
    };
    if (!protocols || !*protocols)
        protocols = "secure";
    int lo = 0, hi = 0;
    const char *p = protocols;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            size_t i;
            for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i].name) == n && !strncasecmp(p, names[i].name, n))
                    break;
            if (i == sizeof(names) / sizeof(names[0]))
                return false;
            if (!lo || names[i].lo < lo)
                lo = names[i].lo;
            if (names[i].hi > hi)
                hi = names[i].hi;
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (!lo)
        return false;
    *min = lo;
    *max = hi;
    return true;
}

const char *tls_ciphers_list(const char *ciphers)
{
    /* PgBouncer's aliases. */
    if (!ciphers || !*ciphers || !strcasecmp(ciphers, "default") || !strcasecmp(ciphers, "fast"))
        return "HIGH:!aNULL:!MD5:!3DES:!CAMELLIA:!ARIA";
    if (!strcasecmp(ciphers, "normal"))
        return "HIGH:MEDIUM:+3DES:!aNULL";
    if (!strcasecmp(ciphers, "secure"))
        return "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";
    if (!strcasecmp(ciphers, "all"))
        return "ALL";
    return ciphers;
}

/* The last OpenSSL error as text into err (and the queue emptied). */
static void ssl_error_text(const char *what, char *err, size_t errlen)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, reason[0] ? ": " : "", reason);
}

/* ALPN: PostgreSQL's "postgresql" when the client offers it (direct TLS needs it). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char pg[] = "\x0apostgresql";
    (void)ssl;
    (void)arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, pg, sizeof(pg) - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int tls_accept_configure(const struct tls_opts *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;
    int lo, hi;
    if (o->mode == TLS_DISABLE)
        goto install;
    if (!o->key_file || !*o->key_file || !o->cert_file || !*o->cert_file) {
        snprintf(err, errlen,
                 "client_tls_sslmode=%s needs client_tls_key_file and "
                 "client_tls_cert_file",
                 config_tls_mode_name(o->mode));
        return WR_ERROR;
    }
    if (!tls_protocols_parse(o->protocols, &lo, &hi)) {
        snprintf(err, errlen, "client_tls_protocols: unknown value \"%s\"", o->protocols);
        return WR_ERROR;
    }
    ERR_clear_error();
    if (!(ctx = SSL_CTX_new(TLS_server_method()))) {
        ssl_error_text("cannot create a TLS context", err, errlen);
        return WR_ERROR;
    }
    SSL_CTX_set_min_proto_version(ctx, lo);
    SSL_CTX_set_max_proto_version(ctx, hi);
    /* No renegotiation (a write never has to read), no compression (CRIME), no tickets. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* A record in one recv rather than header and body in two. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_set_cipher_list(ctx, tls_ciphers_list(o->ciphers)) != 1) {
        ssl_error_text("client_tls_ciphers refused", err, errlen);
        goto failed;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        ssl_error_text("client_tls_cert_file", err, errlen);
        goto failed;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_error_text("client_tls_key_file", err, errlen);
        goto failed;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error_text("client_tls_key_file does not match client_tls_cert_file", err, errlen);
        goto failed;
    }
    if (o->ca_file && *o->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
            ssl_error_text("client_tls_ca_file", err, errlen);
            goto failed;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
    } else if (o->mode >= TLS_VERIFY_CA) {
        snprintf(err, errlen, "client_tls_sslmode=%s needs client_tls_ca_file",
                 config_tls_mode_name(o->mode));
        goto failed;
    }
    /* verify-ca and verify-full ask for a client certificate (PgBouncer's meaning). */
    if (o->mode >= TLS_VERIFY_CA)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
install:
    pthread_mutex_lock(&accept_lock);
    SSL_CTX *old = accept_ctx;
    accept_ctx = ctx;
    pthread_mutex_unlock(&accept_lock);
    SSL_CTX_free(old); /* sessions made from it hold their own reference */
    return WR_OK;
failed:
    SSL_CTX_free(ctx);
    return WR_ERROR;
}

bool tls_accept_ready(void)
{
    pthread_mutex_lock(&accept_lock);
    bool yes = accept_ctx != NULL;
    pthread_mutex_unlock(&accept_lock);
    return yes;
}

SSL *tls_accept(int fd, const uint8_t *pre, size_t npre, char *err, size_t errlen)
{
    ERR_clear_error();
    pthread_mutex_lock(&accept_lock);
    SSL *ssl = accept_ctx ? SSL_new(accept_ctx) : NULL;
    bool none = accept_ctx == NULL;
    pthread_mutex_unlock(&accept_lock);
    if (!ssl) {
        if (none)
            snprintf(err, errlen, "TLS is not configured (client_tls_sslmode)");
        else
            ssl_error_text("cannot start TLS", err, errlen);
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1)
        goto failed;
    if (npre > 0) {
        BIO *copy = BIO_new(BIO_s_mem());
        if (!copy || BIO_write(copy, pre, (int)npre) != (int)npre) {
            BIO_free(copy);
            goto failed;
        }
        BIO_set_mem_eof_return(copy, -1); /* empty means "retry", not end of stream */
        SSL_set0_rbio(ssl, copy);         /* the socket BIO stays the write side */
    }
    SSL_set_accept_state(ssl);
    return ssl;
failed:
    ssl_error_text("cannot start TLS", err, errlen);
    SSL_free(ssl);
    return NULL;
}

/* Direct TLS: once the bytes read before the handshake are used up, read the socket. */
static void rbio_to_socket(SSL *ssl)
{
    BIO *r = SSL_get_rbio(ssl);
    if (r == SSL_get_wbio(ssl) || BIO_ctrl_pending(r) > 0)
        return;
    BIO *w = SSL_get_wbio(ssl);
    BIO_up_ref(w);
    SSL_set0_rbio(ssl, w);
}

int tls_handshake(SSL *ssl, int *want, char *err, size_t errlen)
{
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    /* SSL_get_error looks at the read BIO's retry flag: ask before it is swapped. */
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
    rbio_to_socket(ssl);
    if (r == 1)
        return WR_OK;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? TLS_WANT_READ : TLS_WANT_WRITE;
        /* A memory BIO drained just now: the socket's bytes may already wait. */
        if (e == SSL_ERROR_WANT_READ && SSL_get_rbio(ssl) == SSL_get_wbio(ssl)) {
            ERR_clear_error();
            r = SSL_do_handshake(ssl);
            if (r == 1)
                return WR_OK;
            e = SSL_get_error(ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                *want = e == SSL_ERROR_WANT_READ ? TLS_WANT_READ : TLS_WANT_WRITE;
                return WR_AGAIN;
            }
        } else {
            return WR_AGAIN;
        }
    }
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        snprintf(err, errlen, "TLS handshake failed: %s",
                 errno ? strerror(errno) : "connection closed");
    else
        ssl_error_text("TLS handshake failed", err, errlen);
    return WR_ERROR;
}

void tls_free(SSL *ssl)
{
    if (!ssl)
        return;
    ERR_clear_error();
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl); /* one close_notify, no waiting for the peer's */
    SSL_free(ssl);
    ERR_clear_error();
}

void tls_adopt(SSL *ssl)
{
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

ssize_t tls_recv(SSL *ssl, struct iobuf *b)
{
    if (buf_space(b) == 0)
        buf_compact(b);
    if (buf_space(b) == 0) {
        errno = ENOBUFS;
        return -2;
    }
    ssize_t total = 0;
    /* One read from the socket, then whatever OpenSSL holds without asking it again. */
    do {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_read_ex(ssl, b->data + b->recv, buf_space(b), &n);
        if (r == 1) {
            b->recv += n;
            total += n;
            continue;
        }
        int e = SSL_get_error(ssl, r);
        if (total > 0)
            break; /* an error after data: reported by the next read */
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -1;
        if (e == SSL_ERROR_ZERO_RETURN ||
            (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
            return 0;
        if (e != SSL_ERROR_SYSCALL || ERR_peek_error() != 0)
            errno = EPROTO;
        ERR_clear_error();
        return -2;
    } while (buf_space(b) > 0 && SSL_has_pending(ssl));
    return total;
}

int tls_send_raw(SSL *ssl, const uint8_t *data, size_t len, size_t *sent)
{
    while (*sent < len) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_write_ex(ssl, data + *sent, len - *sent, &n);
        if (r == 1) {
            *sent += n;
            continue;
        }
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            return WR_AGAIN;
        if (e != SSL_ERROR_SYSCALL || ERR_peek_error() != 0)
            errno = EPROTO;
        ERR_clear_error();
        return WR_ERROR;
    }
    return WR_OK;
}

void tls_describe(SSL *ssl, char *out, size_t len)
{
    if (!ssl) {
        if (len)
            out[0] = 0;
        return;
    }
    snprintf(out, len, "%s/%s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

bool tls_peer_cn(SSL *ssl, char *out, size_t len)
{
    if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
        return false;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return false;
    X509_NAME *name = X509_get_subject_name(cert);
    int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    bool ok = false;
    if (i >= 0 && X509_NAME_get_index_by_NID(name, NID_commonName, i) < 0) { /* exactly one */
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, d);
        /* a CN with a NUL inside could pass for a shorter name */
        if (n > 0 && (size_t)n < len && memchr(utf8, 0, (size_t)n) == NULL) {
            memcpy(out, utf8, (size_t)n);
            out[n] = '\0';
            ok = true;
        }
        OPENSSL_free(utf8);
    }
    X509_free(cert);
    return ok;
}

bool tls_server_end_point(SSL *ssl, uint8_t *out, size_t *len)
{
    X509 *cert = ssl ? SSL_get_certificate(ssl) : NULL;
    if (!cert)
        return false;
    int md_nid, pk_nid;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid))
        return false;
    const EVP_MD *md;
    if (md_nid == NID_md5 || md_nid == NID_sha1)
        md = EVP_sha256(); /* RFC 5929 section 4.1 */
    else if (!(md = EVP_get_digestbynid(md_nid)))
        return false;
    unsigned n = 0;
    if (X509_digest(cert, md, out, &n) != 1)
        return false;
    *len = n;
    return true;
}
