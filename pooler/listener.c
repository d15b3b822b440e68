/* listener.c -- per-worker SO_REUSEPORT listening sockets and accept. */
#include "pooler/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/client.h"
#include "pooler/log.h"
#include "pooler/metrics.h"

/* Accepts one connection from l; false when there is none (or no descriptor for it). */
static bool accept_one(struct worker *w, struct listener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: pause accepting until the next sweep instead of spinning. */
            log_warning("accept: %s; pausing new connections", strerror(errno));
            ev_io_stop(w->loop, &l->io);
        }
        return false;
    }
    if (l->metrics)
        metrics_accept(w, fd);
    else if (l->kind == BACKEND_MYSQL)
        client_my_accept(w, fd, (struct sockaddr *)&ss, sl);
    else
        client_accept(w, fd, (struct sockaddr *)&ss, sl);
    return true;
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct listener *l = (struct listener *)((char *)io - offsetof(struct listener, io));
    accept_one(ev_userdata(loop), l);
}

void listener_drain_close(struct worker *w)
{
    /*
     * Connections the kernel already queued on these sockets would be reset
     * by close(): take them first. (With net.ipv4.tcp_migrate_req=1 the kernel
     * also moves handshakes still in flight to another process on the port.)
     */
    int kept = 0;
    for (int i = 0; i < w->nlisteners; i++) {
        struct listener *l = &w->listeners[i];
        if (!l->metrics) {
            while (accept_one(w, l))
                ;
        }
        /* libev holds pointers to started watchers: stop before the array is compacted. */
        ev_io_stop(w->loop, &l->io);
        if (l->metrics)
            w->listeners[kept++] = *l; /* /metrics stays up while weir drains */
        else
            close(l->fd);
    }
    w->nlisteners = kept;
    for (int i = 0; i < kept; i++) {
        ev_io_init(&w->listeners[i].io, accept_cb, w->listeners[i].fd, EV_READ);
        ev_io_start(w->loop, &w->listeners[i].io);
    }
}

static int open_one(struct worker *w, const char *host, int port, enum backend_kind kind,
                    bool metrics, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    const char *node = strcmp(host, "*") == 0 ? NULL : host;
    int rc = getaddrinfo(node, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen_addr \"%s\": %s (numeric addresses only)", host,
                 gai_strerror(rc));
        return WR_ERROR;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd == -1)
            goto sockfail;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* Accepted sockets inherit it: no setsockopt per connection. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 || listen(fd, 4096) == -1) {
            close(fd);
            goto sockfail;
        }
        struct listener *ls = realloc(w->listeners, sizeof(*ls) * (w->nlisteners + 1));
        if (!ls) {
            close(fd);
            goto sockfail;
        }
        w->listeners = ls;
        ls[w->nlisteners].fd = fd;
        ls[w->nlisteners].kind = kind;
        ls[w->nlisteners].metrics = metrics;
        w->nlisteners++;
    }
    freeaddrinfo(res);
    return WR_OK;
sockfail:
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    freeaddrinfo(res);
    return WR_ERROR;
}

/* Opens w's Prometheus sockets: metrics_port on each of metrics_addr (default listen_addr). */
static int open_metrics(struct worker *w, char *err, size_t errlen)
{
    const struct config *cfg = weir.cfg;
    /* SO_REUSEPORT would let both sockets share the port and split its connections. */
    if (cfg->metrics_port == cfg->listen_port || cfg->metrics_port == cfg->mysql_listen_port) {
        snprintf(err, errlen, "metrics_port %d is also a pool port", cfg->metrics_port);
        return WR_ERROR;
    }
    char *addrs =
        strdup(cfg->metrics_addr && *cfg->metrics_addr ? cfg->metrics_addr : cfg->listen_addr);
    if (!addrs) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    int rc = WR_OK;
    char *save = NULL;
    for (char *a = strtok_r(addrs, ", ", &save); a && rc == WR_OK;
         a = strtok_r(NULL, ", ", &save)) {
        rc = open_one(w, a, cfg->metrics_port, BACKEND_POSTGRES, true, err, errlen);
        if (rc == WR_OK && w->id == 0)
            log_info("Prometheus metrics on http://%s%s%s:%d/metrics", strchr(a, ':') ? "[" : "", a,
                     strchr(a, ':') ? "]" : "", cfg->metrics_port);
    }
    free(addrs);
    return rc;
}

int listener_open(struct worker *w, char *err, size_t errlen)
{
    char *addrs = strdup(weir.cfg->listen_addr);
    if (!addrs) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    int rc = WR_OK;
    char *save = NULL;
    for (char *a = strtok_r(addrs, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
        if ((rc = open_one(w, a, weir.cfg->listen_port, BACKEND_POSTGRES, false, err, errlen)) !=
            WR_OK)
            break;
        if (weir.cfg->mysql_listen_port &&
            (rc = open_one(w, a, weir.cfg->mysql_listen_port, BACKEND_MYSQL, false, err, errlen)) !=
                WR_OK)
            break;
    }
    free(addrs);
    if (rc == WR_OK && weir.cfg->metrics_port)
        rc = open_metrics(w, err, errlen);
    return rc;
}

void listener_start(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++) {
        ev_io_init(&w->listeners[i].io, accept_cb, w->listeners[i].fd, EV_READ);
        ev_io_start(w->loop, &w->listeners[i].io);
    }
}

void listener_resume(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++)
        if (!ev_is_active(&w->listeners[i].io))
            ev_io_start(w->loop, &w->listeners[i].io);
}

void listener_close(struct worker *w)
{
    for (int i = 0; i < w->nlisteners; i++) {
        ev_io_stop(w->loop, &w->listeners[i].io);
        close(w->listeners[i].fd);
    }
    free(w->listeners);
    w->listeners = NULL;
    w->nlisteners = 0;
}
