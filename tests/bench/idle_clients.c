/* idle_clients.c -- holds many idle, logged-in PostgreSQL-protocol client connections for the
 * idle-client memory benchmark, with a few bytes of state per connection (no libpq: a PGconn
 * costs ~40 KB of buffers, which 100k clients cannot afford on one machine).
 *
 * usage: idle_clients -a ADDR[,ADDR...] -p PORT -n N [-U user] [-P password] [-d db]
 *                     [-c in-flight] [-t connect-timeout-s] [-s]
 * -s: every client asks for TLS (SSLRequest) and logs in over it (OpenSSL, no certificate
 * check, SSL_MODE_RELEASE_BUFFERS so that an idle session holds no buffers here either).
 * Connects N clients round-robin over the listed destination addresses (each address has its
 * own ephemeral-port space), speaks the startup packet and answers trust, cleartext and md5
 * authentication (not SCRAM), and waits for ReadyForQuery. Then prints one line:
 *   connected OK FAILED
 * and reads commands from stdin, one a line:
 *   check K   runs "SELECT 1" on K of the connected clients at once (spread over all of them)
 *             and prints "checked OK FAILED"
 * End of stdin closes every connection and exits (0 if no client failed). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connection's state; a client is in exactly one. */
enum conn_state {
    ST_NEW = 0,    /* not started yet */
    ST_CONNECTING, /* non-blocking connect() in progress, waiting for EPOLLOUT */
    ST_TLS,        /* -s: SSLRequest sent, waiting for 'S', then the TLS handshake */
    ST_LOGIN,      /* startup packet sent, reading authentication/parameter messages */
    ST_IDLE,       /* logged in, ReadyForQuery seen, holds no buffer */
    ST_QUERY,      /* "SELECT 1" sent, waiting for ReadyForQuery */
    ST_FAILED      /* closed after an error */
};

struct conn {
    int fd;
    unsigned char state;
    unsigned char got_row; /* DataRow "1" seen during ST_QUERY */
    uint16_t len;          /* bytes in buf */
    unsigned char *buf;    /* only while a reply is being read */
    SSL *ssl;              /* -s: the TLS session */
};

#define BUF_SIZE 4096

static const char *user = "app", *password = "apppass", *dbname = "testdb";
static struct conn *conns;
static long nconns;
static int epfd;
static long in_flight, n_ok, n_failed, n_checked_ok, n_checked_failed, n_querying;
static char first_error[256];
static SSL_CTX *tls_ctx; /* -s */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(struct conn *c, const char *why)
{
    if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%s", why);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->state == ST_QUERY) {
        n_checked_failed++;
        n_querying--;
    } else {
        if (c->state == ST_CONNECTING || c->state == ST_TLS || c->state == ST_LOGIN)
            in_flight--;
        n_failed++;
    }
    c->state = ST_FAILED;
}

/* Writes all of len bytes of a small message; the socket buffer is empty at these points, so
 * a short write is an error. Returns 0 or -1. */
static int send_all(struct conn *c, const void *p, size_t len)
{
    if (c->ssl) {
        size_t w;
        return SSL_write_ex(c->ssl, p, len, &w) == 1 && w == len ? 0 : -1;
    }
    ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
    return w == (ssize_t)len ? 0 : -1;
}

static void put32(unsigned char *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

static int send_startup(struct conn *c)
{
    unsigned char pkt[512];
    size_t n = 8;
    n += (size_t)snprintf((char *)pkt + n, sizeof pkt - n, "user%c%s%cdatabase%c%s%c", 0, user, 0,
                          0, dbname, 0);
    pkt[n++] = 0;
    put32(pkt, (uint32_t)n);
    put32(pkt + 4, 196608);
    return send_all(c, pkt, n);
}

static void md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    for (unsigned i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static int send_password(struct conn *c, const unsigned char *salt)
{
    char tmp[512], inner[33], outer[33];
    unsigned char pkt[64 + 512];
    const char *pw = password;
    if (salt) {
        int n = snprintf(tmp, sizeof tmp, "%s%s", password, user);
        md5_hex(tmp, (size_t)n, inner);
        memcpy(tmp, inner, 32);
        memcpy(tmp + 32, salt, 4);
        md5_hex(tmp, 36, outer);
        snprintf(tmp, sizeof tmp, "md5%s", outer);
        pw = tmp;
    }
    size_t len = strlen(pw) + 1;
    if (len > 512)
        return -1;
    pkt[0] = 'p';
    put32(pkt + 1, (uint32_t)(4 + len));
    memcpy(pkt + 5, pw, len);
    return send_all(c, pkt, 5 + len);
}

static int send_select1(struct conn *c)
{
    static const char q[] = "SELECT 1";
    unsigned char pkt[32];
    pkt[0] = 'Q';
    put32(pkt + 1, 4 + sizeof q);
    memcpy(pkt + 5, q, sizeof q);
    return send_all(c, pkt, 5 + sizeof q);
}

static void error_text(const unsigned char *body, size_t len, char *out, size_t outlen)
{
    const unsigned char *p = body, *end = body + len;
    snprintf(out, outlen, "ErrorResponse");
    while (p < end && *p) {
        const unsigned char *z = memchr(p + 1, 0, (size_t)(end - p - 1));
        if (!z)
            break;
        if (*p == 'M')
            snprintf(out, outlen, "server error: %s", (const char *)p + 1);
        p = z + 1;
    }
}

/* Handles one complete message. Returns 0 to go on, -1 after fail(). */
static int on_message(struct conn *c, unsigned char type, const unsigned char *body, size_t len)
{
    char why[256];
    switch (type) {
    case 'R': {
        uint32_t code;
        if (len < 4)
            goto bad;
        memcpy(&code, body, 4);
        code = ntohl(code);
        if (code == 0)
            return 0;
        if (code == 3 || (code == 5 && len >= 8)) {
            if (send_password(c, code == 5 ? body + 4 : NULL) == 0)
                return 0;
            fail(c, "send password");
            return -1;
        }
        snprintf(why, sizeof why, "unsupported authentication request %u", code);
        fail(c, why);
        return -1;
    }
    case 'E':
        error_text(body, len, why, sizeof why);
        fail(c, why);
        return -1;
    case 'D':
        /* one column of length 1 holding "1" */
        if (len >= 7 && body[len - 1] == '1')
            c->got_row = 1;
        return 0;
    case 'Z':
        if (c->state == ST_LOGIN) {
            c->state = ST_IDLE;
            in_flight--;
            n_ok++;
        } else if (c->state == ST_QUERY) {
            if (!c->got_row) {
                fail(c, "SELECT 1 returned no row");
                return -1;
            }
            c->state = ST_IDLE;
            n_querying--;
            n_checked_ok++;
        }
        return 0;
    default: /* S, K, N, T, C: nothing to do */
        return 0;
    }
bad:
    fail(c, "malformed message");
    return -1;
}

static void on_readable(struct conn *c)
{
    if (!c->buf) {
        c->buf = malloc(BUF_SIZE);
        c->len = 0;
        if (!c->buf) {
            fail(c, "out of memory");
            return;
        }
    }
    for (;;) {
        ssize_t r;
        if (c->ssl) {
            size_t got = 0;
            int rc = SSL_read_ex(c->ssl, c->buf + c->len, BUF_SIZE - c->len, &got);
            int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            r = rc == 1 ? (ssize_t)got : e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
            if (r < 0)
                errno = EPROTO;
        } else {
            r = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
        }
        if (r == 0) {
            fail(c, "server closed the connection");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            fail(c, strerror(errno));
            return;
        }
        c->len += (uint16_t)r;
        size_t pos = 0;
        while (c->len - pos >= 5) {
            uint32_t mlen;
            memcpy(&mlen, c->buf + pos + 1, 4);
            mlen = ntohl(mlen);
            if (mlen < 4 || mlen > BUF_SIZE - 1) {
                fail(c, "message too long for the idle client");
                return;
            }
            if (c->len - pos < 1 + mlen)
                break;
            if (on_message(c, c->buf[pos], c->buf + pos + 5, mlen - 4) < 0)
                return;
            pos += 1 + mlen;
        }
        memmove(c->buf, c->buf + pos, c->len - pos);
        c->len -= (uint16_t)pos;
        if ((size_t)r < BUF_SIZE && !(c->ssl && SSL_pending(c->ssl)))
            break;
    }
    if (c->state == ST_IDLE && c->len == 0) {
        free(c->buf);
        c->buf = NULL;
    }
}

static void on_writable(struct conn *c)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        fail(c, strerror(err));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (tls_ctx) {
        unsigned char req[8];
        put32(req, 8);
        put32(req + 4, 80877103);
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1 || send_all(c, req, 8) == -1) {
            fail(c, "send SSLRequest");
            return;
        }
        c->state = ST_TLS;
        return;
    }
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1 || send_startup(c) == -1) {
        fail(c, "send startup packet");
        return;
    }
    c->state = ST_LOGIN;
}

/* -s: the answer to the SSLRequest, then the handshake, then the startup packet over TLS. */
static void on_tls(struct conn *c)
{
    if (!c->ssl) {
        unsigned char a;
        ssize_t r = recv(c->fd, &a, 1, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r != 1 || a != 'S') {
            fail(c, r == 1 ? "the server refused TLS" : "no answer to the SSLRequest");
            return;
        }
        if (!(c->ssl = SSL_new(tls_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1) {
            fail(c, "SSL_new");
            return;
        }
        SSL_set_connect_state(c->ssl);
    }
    int rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
        int e = SSL_get_error(c->ssl, rc);
        struct epoll_event ev = {.events = EPOLLIN | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0),
                                 .data.ptr = c};
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
            return;
        fail(c, "TLS handshake failed");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1 || send_startup(c) == -1) {
        fail(c, "send startup packet over TLS");
        return;
    }
    c->state = ST_LOGIN;
}

static void start_connect(struct conn *c, const struct sockaddr_in *to)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    in_flight++;
    c->state = ST_CONNECTING;
    if (c->fd == -1) {
        fail(c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)to, sizeof *to) == -1 && errno != EINPROGRESS) {
        fail(c, strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
        fail(c, strerror(errno));
}

static void run_loop(int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(epfd, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c->state == ST_CONNECTING)
            on_writable(c);
        else if (c->state == ST_TLS)
            on_tls(c);
        else if (c->state == ST_LOGIN || c->state == ST_QUERY || c->state == ST_IDLE)
            on_readable(c);
    }
}

static void check(long k, double timeout)
{
    long ready = 0, idx = 0;
    n_checked_ok = n_checked_failed = 0;
    for (long i = 0; i < nconns; i++)
        ready += conns[i].state == ST_IDLE;
    if (k > ready)
        k = ready;
    long step = k ? ready / k : 1, seen = 0;
    for (long i = 0; i < nconns && idx < k; i++) {
        if (conns[i].state != ST_IDLE)
            continue;
        if (seen++ % step)
            continue;
        struct conn *c = &conns[i];
        c->state = ST_QUERY;
        c->got_row = 0;
        n_querying++;
        idx++;
        if (send_select1(c) == -1)
            fail(c, "send query");
    }
    double deadline = now() + timeout;
    while (n_querying > 0 && now() < deadline)
        run_loop(100);
    for (long i = 0; i < nconns && n_querying > 0; i++)
        if (conns[i].state == ST_QUERY)
            fail(&conns[i], "SELECT 1 timed out");
    printf("checked %ld %ld\n", n_checked_ok, n_checked_failed);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char *addrs = NULL;
    int port = 0, opt;
    long max_in_flight = 128;
    double timeout = 120;
    while ((opt = getopt(argc, argv, "a:p:n:U:P:d:c:t:s")) != -1) {
        switch (opt) {
        case 'a':
            addrs = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            nconns = atol(optarg);
            break;
        case 'U':
            user = optarg;
            break;
        case 'P':
            password = optarg;
            break;
        case 'd':
            dbname = optarg;
            break;
        case 'c':
            max_in_flight = atol(optarg);
            break;
        case 't':
            timeout = atof(optarg);
            break;
        case 's':
            if (!(tls_ctx = SSL_CTX_new(TLS_client_method())))
                return 1;
            SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
            SSL_CTX_set_mode(tls_ctx, SSL_MODE_RELEASE_BUFFERS);
            break;
        default:
            fprintf(stderr, "usage: idle_clients -a ADDR[,ADDR] -p PORT -n N [-U user] "
                            "[-P password] [-d db] [-c in-flight] [-t seconds] [-s]\n");
            return 2;
        }
    }
    if (!addrs || port <= 0 || nconns <= 0)
        return 2;
    struct sockaddr_in to[64];
    int nto = 0;
    for (char *a = strtok(addrs, ","); a && nto < 64; a = strtok(NULL, ",")) {
        memset(&to[nto], 0, sizeof to[nto]);
        to[nto].sin_family = AF_INET;
        to[nto].sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, a, &to[nto].sin_addr) != 1) {
            fprintf(stderr, "idle_clients: bad address %s\n", a);
            return 2;
        }
        nto++;
    }
    conns = calloc((size_t)nconns, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || epfd == -1)
        return 1;
    long next = 0;
    double deadline = now() + timeout;
    while ((next < nconns || in_flight > 0) && now() < deadline) {
        while (next < nconns && in_flight < max_in_flight) {
            start_connect(&conns[next], &to[next % nto]);
            next++;
        }
        run_loop(100);
    }
    for (long i = 0; i < nconns; i++)
        if (conns[i].state == ST_CONNECTING || conns[i].state == ST_TLS ||
            conns[i].state == ST_LOGIN || conns[i].state == ST_NEW)
            fail(&conns[i], "login timed out");
    if (n_failed)
        fprintf(stderr, "idle_clients: %ld logins failed; first: %s\n", n_failed, first_error);
    printf("connected %ld %ld\n", n_ok, n_failed);
    fflush(stdout);

    /* Hold the clients; answer commands until stdin closes. Idle connections that the
     * server closes are noticed here. */
    char line[64];
    struct pollfd pfd[2] = {{.fd = 0, .events = POLLIN}, {.fd = epfd, .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) == -1 && errno != EINTR)
            break;
        if (pfd[1].revents)
            run_loop(0);
        if (!pfd[0].revents)
            continue;
        if (!fgets(line, sizeof line, stdin))
            break;
        long k;
        if (sscanf(line, "check %ld", &k) == 1)
            check(k, 30);
    }
    long lost = n_failed;
    for (long i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    return lost || n_checked_failed ? 1 : 0;
}
