/*
 * admit.c -- admission of new clients, before their protocol starts: the
 * daemon-wide cap on logins in progress (max_pending_logins), the PROXY
 * protocol header from proxy_protocol_networks (whose address becomes the
 * client's), and the per-address limits of core/iplimit.c checked against
 * that final address. Also the two events the limits follow after
 * admission: a login done (no longer pending) and a login failed (towards
 * auth_failure_limit). Nothing here runs per message.
 */
#include "pooler/session/client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "pooler/core/iplimit.h"
#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "protocol/proxy/proxy_hdr.h"

static bool client_admit_addr(struct client *c);

/* Is c a TCP client (one with an address the per-address limits apply to)? */
static bool client_tcp(const struct client *c)
{
    return c->addr.family == AF_INET || c->addr.family == AF_INET6;
}

/*
 * The daemon-wide cap on logins in progress, then either the wait for a
 * PROXY header or the per-address limits. Unix-socket clients are counted
 * but never refused by the cap, so an operator on the host still reaches the
 * console during a flood. False when c was refused (and closed).
 */
bool client_admit(struct client *c)
{
    const struct config *cfg = weir.cfg;
    int pending = atomic_fetch_add(&weir.npending, 1) + 1;
    c->pending = true;
    if (!client_tcp(c))
        return true;
    if (cfg->max_pending_logins > 0 && pending > cfg->max_pending_logins) {
        iplimit_count(IPLIMIT_PENDING);
        client_fail(c, "53300", "too many logins in progress, try again (max_pending_logins = %d)",
                    cfg->max_pending_logins);
        return false;
    }
    if (cfg->proxy_nets.n > 0 && netlist_match(&cfg->proxy_nets, c->addr.family, c->addr.ip)) {
        c->state = CL_PROXY; /* its address comes in the header; limits apply to that one */
        return true;
    }
    return client_admit_addr(c);
}

/* The per-address limits for c's (final) address. False when refused (c closed). */
static bool client_admit_addr(struct client *c)
{
    if (!client_tcp(c))
        return true;
    const struct config *cfg = weir.cfg;
    bool counted;
    double until;
    char ip[INET6_ADDRSTRLEN] = "?";
    ev_tstamp now = ev_now(c->w->loop);
    enum iplimit_reason r = iplimit_admit(c->addr.family, c->addr.ip, now, &counted, &until);
    c->ip_counted = counted;
    if (r == IPLIMIT_OK)
        return true;
    inet_ntop(c->addr.family, c->addr.ip, ip, sizeof(ip));
    switch (r) {
    case IPLIMIT_PER_IP:
        client_fail(c, "53300", "too many connections from %s (max_client_conn_per_ip = %d)", ip,
                    cfg->max_client_conn_per_ip);
        break;
    case IPLIMIT_RATE:
        client_fail(c, "53300",
                    "too many new connections from %s (client_conn_rate = %g per second): "
                    "try again in %.1f s",
                    ip, cfg->client_conn_rate, until - now);
        break;
    default: {
        char when[64];
        time_t t = (time_t)until;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        client_fail(c, "08004",
                    "too many failed logins from %s: refused until %s (auth_failure_limit)", ip,
                    when);
        break;
    }
    }
    return false;
}

int client_proxy_input(struct client *c)
{
    struct iobuf *b = c->in;
    struct proxy_hdr h;
    char err[160], from[CLIENT_ADDR_TEXT];
    int rc = proxy_hdr_parse(b->data, b->recv, &h, err, sizeof(err));
    if (rc == WR_AGAIN)
        return WR_AGAIN;
    client_addr_text(c, from);
    if (rc == WR_ERROR) {
        iplimit_count(IPLIMIT_PROXY);
        if (proxy_hdr_looks_like(b->data, b->recv))
            client_fail(c, "08P01", "bad PROXY protocol header: %s", err);
        else
            client_fail(c, "08P01",
                        "a PROXY protocol header must come first from %s (proxy_protocol_networks)",
                        from);
        return WR_ERROR;
    }
    b->recv -= (uint32_t)h.len;
    memmove(b->data, b->data + h.len, b->recv);
    if (h.cmd == PROXY_CMD_LOCAL) {
        /* The balancer's own connection: a health check. Nothing to serve, nothing to say. */
        client_close(c, "PROXY LOCAL (a balancer's health check)");
        return WR_ERROR;
    }
    if (h.family == PROXY_FAM_INET) {
        memset(c->addr.ip, 0, sizeof(c->addr.ip));
        memcpy(c->addr.ip, h.src, 4);
        c->addr.family = AF_INET;
    } else if (h.family == PROXY_FAM_INET6) {
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        bool v4 = !memcmp(h.src, v4mapped, sizeof(v4mapped));
        memset(c->addr.ip, 0, sizeof(c->addr.ip));
        memcpy(c->addr.ip, v4 ? h.src + 12 : h.src, v4 ? 4 : 16);
        c->addr.family = v4 ? AF_INET : AF_INET6;
    }
    if (h.family != PROXY_FAM_NONE)
        c->addr.port = h.src_port;
    log_client(c, LOG_LVL_DEBUG, "PROXY v%d header from %s%s", h.version, from,
               h.family == PROXY_FAM_NONE ? " without an address: keeping the balancer's" : "");
    c->state = CL_STARTUP;
    if (!client_admit_addr(c))
        return WR_ERROR;
    if (b->recv == 0) {
        buf_put(&c->w->bufs, b);
        c->in = NULL;
    }
    return WR_OK;
}

bool client_unexpected_proxy(struct client *c, const uint8_t *data, size_t len)
{
    if (!proxy_hdr_looks_like(data, len))
        return false;
    char from[CLIENT_ADDR_TEXT];
    iplimit_count(IPLIMIT_PROXY);
    client_fail(c, "08P01",
                "PROXY protocol header from %s, which is not in proxy_protocol_networks",
                client_addr_text(c, from));
    return true;
}

void client_login_done(struct client *c)
{
    if (c->pending) {
        c->pending = false;
        atomic_fetch_sub(&weir.npending, 1);
    }
}

void client_auth_failed(struct client *c)
{
    double until;
    if (client_tcp(c) &&
        iplimit_auth_failure(c->addr.family, c->addr.ip, ev_now(c->w->loop), &until))
        log_client(c, LOG_LVL_WARNING,
                   "auth_failure_limit: %d failed logins within %g s: the address is refused for "
                   "%g s",
                   weir.cfg->auth_failure_limit, weir.cfg->auth_failure_window,
                   weir.cfg->auth_failure_ban);
}
