/*
 * peers.c -- the [peers] section (PgBouncer's): "id = host=... port=...",
 * the other weir processes of a group, each with its peer_id. A cancel
 * request whose key names another peer is forwarded there (session/).
 *
 * The address is resolved when the file is loaded (getaddrinfo, on the
 * thread that loads it, never on a worker loop), so a forward costs no
 * lookup. A host starting with '/' is a unix socket directory, as in
 * [databases]: peers sharing one TCP port with SO_REUSEPORT need it, since
 * the shared port cannot pick a process.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "pooler/conf/config_int.h"

struct peer_parse {
    struct parse_ctx *ctx;
    char *host;
    long port;
};

static bool peer_pair(void *arg, const char *k, const char *v)
{
    struct peer_parse *pp = arg;
    if (!strcmp(k, "host"))
        return conf_set_str(&pp->host, v);
    if (!strcmp(k, "port")) {
        if (!conf_parse_int(v, 1, 65535, &pp->port)) {
            conf_error(pp->ctx, "[peers]: port \"%s\" is not a port number", v);
            return false;
        }
        return true;
    }
    if (!strcmp(k, "pool_size"))
        return true; /* PgBouncer's connections for forwarding: weir opens one per cancel */
    conf_error(pp->ctx, "[peers]: unknown key \"%s\" (host, port)", k);
    return false;
}

/* Fills p->addr from host and port. False with ctx->err set. */
static bool peer_resolve(struct parse_ctx *ctx, struct peer_entry *p)
{
    if (p->host[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&p->addr;
        un->sun_family = AF_UNIX;
        int n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d", p->host, p->port);
        if (n < 0 || (size_t)n >= sizeof(un->sun_path)) {
            conf_error(ctx, "[peers]: socket path in \"%.100s\" is too long", p->host);
            return false;
        }
        p->addrlen = (socklen_t)sizeof(*un);
        return true;
    }
    char port[8];
    snprintf(port, sizeof(port), "%d", p->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(p->host, port, &hints, &res);
    if (rc != 0 || !res) {
        conf_error(ctx, "[peers]: cannot resolve \"%.100s\": %s", p->host, gai_strerror(rc));
        return false;
    }
    memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
    p->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

bool peers_add(struct parse_ctx *ctx, const char *name, const char *value)
{
    struct config *cfg = ctx->cfg;
    long id;
    if (!conf_parse_int(name, 1, PEER_ID_MAX, &id)) {
        conf_error(ctx, "[peers]: \"%s\" is not a peer id (1 to %d)", name, PEER_ID_MAX);
        return false;
    }
    for (int i = 0; i < cfg->npeers; i++)
        if (cfg->peers[i].id == id) {
            conf_error(ctx, "[peers]: peer %ld is listed twice", id);
            return false;
        }
    struct peer_parse pp = {.ctx = ctx, .port = 6432};
    if (!conf_connstr(value, peer_pair, &pp)) {
        if (!ctx->err[0])
            conf_error(ctx, "[peers]: bad connection string for peer %ld", id);
        free(pp.host);
        return false;
    }
    if (!pp.host || !pp.host[0]) {
        conf_error(ctx, "[peers]: peer %ld needs host=", id);
        free(pp.host);
        return false;
    }
    struct peer_entry *grown = realloc(cfg->peers, (cfg->npeers + 1) * sizeof(*grown));
    if (!grown) {
        free(pp.host);
        return false;
    }
    cfg->peers = grown;
    struct peer_entry *p = &cfg->peers[cfg->npeers];
    memset(p, 0, sizeof(*p));
    p->id = (int)id;
    p->host = pp.host;
    p->port = (int)pp.port;
    if (!peer_resolve(ctx, p)) {
        free(p->host);
        return false;
    }
    cfg->npeers++;
    return true;
}

const struct peer_entry *config_find_peer(const struct config *cfg, int id)
{
    for (int i = 0; i < cfg->npeers; i++)
        if (cfg->peers[i].id == id)
            return &cfg->peers[i];
    return NULL;
}

bool peers_dup(struct config *cfg, const struct config *src)
{
    if (src->npeers && !(cfg->peers = calloc(src->npeers, sizeof(*cfg->peers))))
        return false;
    for (int i = 0; i < src->npeers; i++) {
        cfg->peers[i] = src->peers[i];
        cfg->peers[i].host = NULL;
        cfg->npeers++;
        if (!(cfg->peers[i].host = strdup(src->peers[i].host)))
            return false;
    }
    return true;
}

void peers_free(struct config *cfg)
{
    for (int i = 0; i < cfg->npeers; i++)
        free(cfg->peers[i].host);
    free(cfg->peers);
}
