/*
 * tls.h -- the transport under sessions and server connections: plain
 * sockets, or OpenSSL. Client TLS sessions are weir's own (accepted with the
 * client_tls_* context); server TLS sessions are the connector's (libpq's
 * SSL*, MariaDB Connector/C's), borrowed after its login and never freed here.
 *
 * The io_* functions are what the forwarding code calls: one branch on the
 * SSL pointer, no indirect call, so plain forwarding pays nothing for TLS (a
 * vtable would cost an indirect call per read and write on the hot path).
 *
 * Streaming rules over TLS: tls_recv takes what OpenSSL already holds
 * without waiting for the socket (tls_pending then says a read watcher must
 * be fed by hand: epoll cannot see bytes OpenSSL has taken off the socket);
 * a write that returns WANT_READ/WANT_WRITE is retried later with the same
 * bytes at the front (partial writes and moving buffers are allowed, the
 * unsent bytes stay at the front of the caller's buffer); idle sessions keep
 * no OpenSSL buffers (SSL_MODE_RELEASE_BUFFERS).
 */
#ifndef WEIR_TLS_H
#define WEIR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "pooler/conf/config.h" /* enum tls_mode */
#include "pooler/core/buf.h"

/* What a context is built from: plain values, borrowed for the call. */
struct tls_opts {
    int mode;              /* enum tls_mode */
    const char *key_file;  /* PEM private key, or NULL */
    const char *cert_file; /* PEM certificate chain, or NULL */
    const char *ca_file;   /* PEM CA bundle to verify the peer with, or NULL */
    const char *protocols; /* "secure", "all", "legacy" or a list of tlsv1.0 .. tlsv1.3 */
    const char *ciphers;   /* "fast", "normal", "secure", "all", "default" or an OpenSSL list */
};

/*
 * The lowest and highest protocol versions (TLS1_VERSION .. TLS1_3_VERSION)
 * a protocols value allows. False when it names something else.
 */
bool tls_protocols_parse(const char *protocols, int *min, int *max);
/* The OpenSSL cipher list a ciphers value stands for (its aliases resolved). */
const char *tls_ciphers_list(const char *ciphers);

/*
 * Builds the context that accepts clients from o (client_tls_*) and makes
 * it the one tls_accept uses from now on; sessions already running keep the
 * context they began with. With mode disable the current context is dropped.
 * WR_ERROR with err when a file or value is refused: the current context
 * stays. Called at start and on every reload (certificates are re-read).
 */
int tls_accept_configure(const struct tls_opts *o, char *err, size_t errlen);
/* True when a context for clients is in place. */
bool tls_accept_ready(void);

/*
 * A new TLS session on client socket fd, server side, from the current
 * context; pre[0..npre) are bytes already read from the socket that belong
 * to the handshake (PostgreSQL's direct TLS: the ClientHello weir read while
 * expecting a startup packet). NULL (err set) when there is no context or
 * memory. The caller owns it: tls_free.
 */
SSL *tls_accept(int fd, const uint8_t *pre, size_t npre, char *err, size_t errlen);

/* tls_handshake wants the socket readable or writable. */
enum { TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };

/*
 * Advances the server-side handshake. WR_OK done; WR_AGAIN: call again when
 * the socket is ready for *want; WR_ERROR: err says why (OpenSSL's reason).
 */
int tls_handshake(SSL *ssl, int *want, char *err, size_t errlen) WR_MUST_CHECK;

/* Ends a session weir owns (a close_notify, best effort) and frees it. NULL is fine. */
void tls_free(SSL *ssl);

/*
 * Prepares a connector's session for raw forwarding after its login
 * (partial writes, moving buffers, released buffers).
 */
void tls_adopt(SSL *ssl);

/* recv through TLS into b: as buf_recv (>0 bytes, 0 EOF, -1 would block, -2 error, errno). */
ssize_t tls_recv(SSL *ssl, struct iobuf *b);
/* send through TLS: as buf_send_raw (WR_OK, WR_AGAIN, WR_ERROR). */
int tls_send_raw(SSL *ssl, const uint8_t *data, size_t len, size_t *sent);

/*
 * True when OpenSSL holds bytes of ssl that no read has taken yet: the
 * socket may stay silent, so the read watcher must be fed (ev_feed_event).
 */
static inline bool tls_pending(SSL *ssl)
{
    return ssl && SSL_has_pending(ssl);
}

/* "TLSv1.3/TLS_AES_256_GCM_SHA384" for SHOW CLIENTS, or "" when ssl is NULL. */
void tls_describe(SSL *ssl, char *out, size_t len);

/*
 * tls-server-end-point channel binding data (RFC 5929) of the session: the
 * hash of weir's own certificate with the hash of its signature algorithm
 * (SHA-256 for MD5 and SHA-1). out needs EVP_MAX_MD_SIZE bytes. False when
 * there is no certificate or its algorithm has no single hash.
 */
bool tls_server_end_point(SSL *ssl, uint8_t *out, size_t *len);

/*
 * The common name of the client's certificate, when it sent one that
 * verified (client_tls_sslmode verify-ca / verify-full ask for one). False
 * when there is none, it did not verify, or its CN does not fit out (len).
 */
bool tls_peer_cn(SSL *ssl, char *out, size_t len);

/* ---- the calls of the forwarding code: plain or TLS (see the top) ---- */

static inline ssize_t io_recv(int fd, SSL *ssl, struct iobuf *b)
{
    return __builtin_expect(ssl == NULL, 1) ? buf_recv(fd, b) : tls_recv(ssl, b);
}

static inline int io_send_raw(int fd, SSL *ssl, const uint8_t *data, size_t len, size_t *sent)
{
    return __builtin_expect(ssl == NULL, 1) ? buf_send_raw(fd, data, len, sent)
                                            : tls_send_raw(ssl, data, len, sent);
}

static inline int io_send(int fd, SSL *ssl, struct iobuf *b)
{
    size_t sent = b->sent;
    int rc = io_send_raw(fd, ssl, b->data, b->parsed, &sent);
    b->sent = (uint32_t)sent;
    return rc;
}

#endif
