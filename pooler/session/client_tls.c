/*
 * client_tls.c -- a client's switch to TLS, both protocols: after weir
 * answered 'S' to an SSLRequest, after a MySQL client's short SSLRequest
 * packet, or at once for PostgreSQL 17's direct TLS. The handshake runs in
 * state CL_TLS under client_login_timeout; once it is done the client is
 * back in CL_STARTUP and speaks through c->ssl from then on.
 *
 * Bytes the client sent behind its request in plain text are never taken
 * into the TLS session (CVE-2021-3935): PostgreSQL's callers refuse the
 * connection when any are buffered behind an SSLRequest. A MySQL client does
 * not wait after its SSLRequest: the ClientHello that came with it in one
 * read, and PostgreSQL 17's direct-TLS ClientHello, are handed to OpenSSL as
 * handshake input (tls_accept's pre bytes), which takes nothing but handshake
 * records before the handshake ends; plain text is refused before that
 * (my_tls_switch).
 */
#include "pooler/session/client.h"

#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"

bool client_tls_on(void)
{
    return weir.cfg->client_tls_sslmode != TLS_DISABLE && tls_accept_ready();
}

bool client_tls_required(void)
{
    return weir.cfg->client_tls_sslmode >= TLS_REQUIRE;
}

void client_tls_start(struct client *c, const uint8_t *pre, size_t npre, bool direct)
{
    char err[256];
    if (!(c->ssl = tls_accept(c->fd, pre, npre, err, sizeof(err)))) {
        client_fail(c, "08P01", "%s", err);
        return;
    }
    c->tls_direct = direct;
    c->state = CL_TLS;
    buf_put(&c->w->bufs, c->in);
    c->in = NULL;
    client_tls_step(c); /* c may be gone after this */
}

void client_tls_step(struct client *c)
{
    char err[256];
    int want = 0;
    int hs = tls_handshake(c->ssl, &want, err, sizeof(err));
    switch (hs) {
    case WR_AGAIN:
        client_watch(c, EV_READ, want == TLS_WANT_READ);
        client_watch(c, EV_WRITE, want == TLS_WANT_WRITE);
        return;
    case WR_OK:
        break;
    default:
        /* Nothing can be said in plain text in the middle of a handshake. */
        log_client(c, LOG_LVL_INFO, "%s", err);
        client_close(c, err);
        return;
    }
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (c->tls_direct && (alpn_len != 10 || memcmp(alpn, "postgresql", 10))) {
        client_close(c, "direct TLS without ALPN \"postgresql\"");
        return;
    }
    char desc[128];
    tls_describe(c->ssl, desc, sizeof(desc));
    log_client(c, LOG_LVL_DEBUG, "TLS %s", desc);
    c->state = CL_STARTUP;
    client_watch(c, EV_WRITE, false);
    client_watch(c, EV_READ, true);
    /* The first message may sit in OpenSSL already: epoll would not say so. */
    if (tls_pending(c->ssl))
        c->proto->readable(c);
}

void client_tls_rearm(struct client *c)
{
    if (tls_pending(c->ssl) && ev_is_active(&c->io) && (c->io.events & EV_READ))
        ev_feed_event(c->w->loop, &c->io, EV_READ);
}
