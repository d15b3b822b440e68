/*
 * listener.c -- listening sockets and accept: per-worker SO_REUSEPORT TCP
 * sockets (both protocols' ports and /metrics), and unix sockets that every
 * worker watches.
 */
#include "pooler/core/listener.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pooler/core/log.h"

/*
 * A unix socket path can be bound only once, and SO_REUSEPORT does not spread
 * a unix socket's connections, so there is one listening socket per path,
 * opened before the workers start, and every worker's loop watches it. A new
 * connection wakes the workers; the first to call accept() gets it, the others
 * get EAGAIN. The least busy worker tends to be first, which balances well
 * enough for local clients, and no fd crosses threads.
 */
struct unix_listener {
    int fd; /* -1 once closed */
    enum backend_kind kind;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev; /* the file weir bound, so that only that one is ever unlinked */
    ino_t ino;
    atomic_int watchers; /* workers still watching; the last to stop drains and closes it */
};

#define UNIX_LISTENERS_MAX 2 /* PostgreSQL and MySQL */
static struct unix_listener unix_ls[UNIX_LISTENERS_MAX];
static int n_unix;

/* Closes u and removes its file, unless another process has put its own socket there. */
static void unix_close(struct unix_listener *u)
{
    if (u->fd == -1)
        return;
    close(u->fd);
    u->fd = -1;
    struct stat st;
    if (lstat(u->path, &st) == 0 && st.st_dev == u->dev && st.st_ino == u->ino)
        unlink(u->path);
}

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
    worker_hooks.accept(w, fd, l->kind, l->metrics, (struct sockaddr *)&ss, sl);
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
        if (l->metrics) {
            w->listeners[kept++] = *l; /* /metrics stays up while weir drains */
        } else if (l->share) {
            /* The last worker to stop watching takes what came meanwhile, then closes. */
            if (atomic_fetch_sub(&l->share->watchers, 1) == 1) {
                while (accept_one(w, l))
                    ;
                unix_close(l->share);
            }
        } else {
            close(l->fd);
        }
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
        ls[w->nlisteners] = (struct listener){.fd = fd, .kind = kind, .metrics = metrics};
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
    }
    free(addrs);
    return rc;
}

/* Is something accepting connections on the unix socket at path? */
static bool unix_alive(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return false;
    /* EAGAIN: its backlog is full, so it is alive. ECONNREFUSED: a file nobody listens on. */
    bool alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
    close(fd);
    return alive;
}

/*
 * Opens the unix socket dir/name. It is bound under a temporary name, given
 * its mode and group, and renamed over the final name, so a client always
 * finds either the previous socket or the new one at the path, never none:
 * a leftover file from a crash is replaced, and so is the socket of a weir
 * still running (online restart), which keeps serving what it has accepted
 * and leaves the path alone when it exits (unix_close).
 */
static int unix_open(const char *name, enum backend_kind kind, char *err, size_t errlen)
{
    const struct config *cfg = weir.cfg;
    struct unix_listener *u = &unix_ls[n_unix];
    char tmp[sizeof(u->path)];
    snprintf(u->path, sizeof(u->path), "%s/%s", cfg->unix_socket_dir, name);
    int n = snprintf(tmp, sizeof(tmp), "%s.new.%ld", u->path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp) ||
        (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "unix socket %s: path too long for its temporary name", u->path);
        return WR_ERROR;
    }
    const char *what = "";
    int fd = -1;
    struct stat st;
    if (lstat(u->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "unix socket %s: the file exists and is not a socket", u->path);
            return WR_ERROR;
        }
        if (unix_alive(u->path))
            log_warning("unix socket %s: another process listens on it; taking it over (its "
                        "clients stay with it)",
                        u->path);
        else
            log_info("unix socket %s: replacing a stale socket file nobody listens on", u->path);
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tmp);
    unlink(tmp); /* our own leftover, from a process that had this pid */
    what = "socket";
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
        goto failed;
    what = "bind";
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
        goto failed;
    what = "chmod";
    if (chmod(tmp, cfg->unix_socket_mode) == -1)
        goto failed_bound;
    if (cfg->unix_socket_group && cfg->unix_socket_group[0]) {
        struct group gr, *found = NULL;
        char buf[4096];
        what = "unix_socket_group";
        if (getgrnam_r(cfg->unix_socket_group, &gr, buf, sizeof(buf), &found) != 0 || !found) {
            errno = ENOENT;
            goto failed_bound;
        }
        what = "chown";
        if (chown(tmp, (uid_t)-1, gr.gr_gid) == -1)
            goto failed_bound;
    }
    what = "listen";
    if (listen(fd, 4096) == -1 || lstat(tmp, &st) == -1)
        goto failed_bound;
    what = "rename";
    if (rename(tmp, u->path) == -1)
        goto failed_bound;
    u->fd = fd;
    u->kind = kind;
    u->dev = st.st_dev;
    u->ino = st.st_ino;
    atomic_store(&u->watchers, 0);
    n_unix++;
    return WR_OK;
failed_bound:
    unlink(tmp);
failed:
    snprintf(err, errlen, "cannot listen on unix socket %s: %s: %s", u->path, what,
             strerror(errno));
    if (fd != -1)
        close(fd);
    return WR_ERROR;
}

/* Opens the daemon's unix sockets (once, for worker 0) and lets w watch them. */
static int unix_attach(struct worker *w, char *err, size_t errlen)
{
    const struct config *cfg = weir.cfg;
    if (!cfg->unix_socket_dir || !cfg->unix_socket_dir[0])
        return WR_OK;
    if (w->id == 0) {
        char name[64];
        snprintf(name, sizeof(name), ".s.PGSQL.%d", cfg->listen_port);
        if (unix_open(name, BACKEND_POSTGRES, err, errlen) != WR_OK)
            return WR_ERROR;
        snprintf(name, sizeof(name), ".s.MYSQL.%d", cfg->mysql_listen_port);
        if (cfg->mysql_listen_port && unix_open(name, BACKEND_MYSQL, err, errlen) != WR_OK)
            return WR_ERROR;
    }
    for (int i = 0; i < n_unix; i++) {
        struct listener *ls = realloc(w->listeners, sizeof(*ls) * (w->nlisteners + 1));
        if (!ls) {
            snprintf(err, errlen, "out of memory");
            return WR_ERROR;
        }
        w->listeners = ls;
        ls[w->nlisteners++] =
            (struct listener){.fd = unix_ls[i].fd, .kind = unix_ls[i].kind, .share = &unix_ls[i]};
        atomic_fetch_add(&unix_ls[i].watchers, 1);
    }
    return WR_OK;
}

void listener_unix_close_all(void)
{
    for (int i = 0; i < n_unix; i++)
        unix_close(&unix_ls[i]);
    n_unix = 0;
}

/* "host:port", with brackets round an IPv6 host. */
static void log_tcp(const char *what, const char *host, int port, const char *suffix)
{
    bool v6 = strchr(host, ':') != NULL;
    log_info("%s%s%s%s:%d%s", what, v6 ? "[" : "", host, v6 ? "]" : "", port, suffix);
}

void listener_log_all(void)
{
    const struct config *cfg = weir.cfg;
    char *addrs = strdup(cfg->listen_addr), *save = NULL;
    for (char *a = addrs ? strtok_r(addrs, ", ", &save) : NULL; a; a = strtok_r(NULL, ", ", &save))
        log_tcp("listening for PostgreSQL on ", a, cfg->listen_port, "");
    free(addrs);
    addrs = cfg->mysql_listen_port ? strdup(cfg->listen_addr) : NULL;
    for (char *a = addrs ? strtok_r(addrs, ", ", &save) : NULL; a; a = strtok_r(NULL, ", ", &save))
        log_tcp("listening for MySQL on ", a, cfg->mysql_listen_port, "");
    free(addrs);
    for (int i = 0; i < n_unix; i++)
        log_info("listening for %s on unix socket %s",
                 unix_ls[i].kind == BACKEND_MYSQL ? "MySQL" : "PostgreSQL", unix_ls[i].path);
    addrs = cfg->metrics_port ? strdup(cfg->metrics_addr && *cfg->metrics_addr ? cfg->metrics_addr
                                                                               : cfg->listen_addr)
                              : NULL;
    for (char *a = addrs ? strtok_r(addrs, ", ", &save) : NULL; a; a = strtok_r(NULL, ", ", &save))
        log_tcp("Prometheus metrics on http://", a, cfg->metrics_port, "/metrics");
    free(addrs);
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
    if (rc == WR_OK)
        rc = unix_attach(w, err, errlen);
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
        if (!w->listeners[i].share) /* closed by listener_unix_close_all once no loop watches */
            close(w->listeners[i].fd);
    }
    free(w->listeners);
    w->listeners = NULL;
    w->nlisteners = 0;
}
