/*
 * floor.c -- the cheapest proxy there can be, as a yardstick for the benchmark.
 *
 * Each accepted client gets its own server connection (no pooling, no protocol: bytes are
 * relayed as they come), and each readable socket costs one recv and one send to its peer,
 * from one level-triggered epoll set per thread that is never re-armed. That is the floor
 * the benchmark measures the poolers against: four syscalls per query and answer plus the
 * epoll_wait, nothing else. What a pooler spends above this figure is its own work; what
 * this figure costs on a machine is the kernel's price of putting any process between a
 * client and its server there.
 *
 *   floor LISTEN_PORT SERVER THREADS
 *     SERVER: HOST:PORT (IPv4) or the path of a unix socket
 *
 * Listens on 127.0.0.1:LISTEN_PORT with one SO_REUSEPORT socket per thread. Not part of
 * weir: built by tests/bench/run only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct side {
    int fd;
    struct side *peer;
};

static struct sockaddr_storage server;
static socklen_t server_len;
static int listen_port;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int server_connect(void)
{
    int fd = socket(server.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&server, server_len) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    if (server.ss_family == AF_INET)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* send all of buf; on a full socket wait for it (rare with query-sized messages) */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, -1);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

static void pair_close(int ep, struct side *s)
{
    struct side *p = s->peer;
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
    close(s->fd);
    close(p->fd);
    free(s < p ? s : p);
}

static void accept_one(int ep, int lfd)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    int sfd = server_connect();
    if (sfd < 0) {
        close(cfd);
        return;
    }
    struct side *two = calloc(2, sizeof *two);
    if (!two)
        die("calloc");
    two[0] = (struct side){.fd = cfd, .peer = &two[1]};
    two[1] = (struct side){.fd = sfd, .peer = &two[0]};
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &two[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
    e.data.ptr = &two[1];
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
}

static void *loop(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);

    static __thread char buf[65536];
    struct epoll_event ev[256];
    for (;;) {
        int n = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            struct side *s = ev[i].data.ptr;
            if (!s) {
                accept_one(ep, lfd);
                continue;
            }
            ssize_t got = recv(s->fd, buf, sizeof buf, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (got <= 0 || send_all(s->peer->fd, buf, (size_t)got) < 0) {
                /* the pair's other side may be later in this batch: drop it from there */
                for (int j = i + 1; j < n; j++)
                    if (ev[j].data.ptr == s->peer)
                        ev[j].data.ptr = NULL, ev[j].events = 0;
                pair_close(ep, s);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: floor LISTEN_PORT HOST:PORT|UNIX_PATH THREADS\n");
        return 2;
    }
    listen_port = atoi(argv[1]);
    int threads = atoi(argv[3]);
    const char *colon = strrchr(argv[2], ':');
    if (argv[2][0] == '/') {
        struct sockaddr_un *u = (struct sockaddr_un *)&server;
        u->sun_family = AF_UNIX;
        snprintf(u->sun_path, sizeof u->sun_path, "%s", argv[2]);
        server_len = sizeof *u;
    } else if (colon) {
        struct sockaddr_in *in = (struct sockaddr_in *)&server;
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(colon - argv[2]), argv[2]);
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
            die("server address");
        server_len = sizeof *in;
    } else {
        fprintf(stderr, "floor: server is HOST:PORT or a unix socket path\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (threads < 1)
        threads = 1;
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, loop, NULL))
            die("pthread_create");
    }
    loop(NULL);
    return 0;
}
