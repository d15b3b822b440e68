/*
 * sendonce.c -- see sendonce.h. One allocation per send holds the socket's
 * watchers and the bytes; it frees itself when the bytes are written, the
 * connection fails, or the timer fires. A send still pending when its loop
 * is destroyed at shutdown is abandoned with it (at most timeout seconds of
 * sends).
 */
#include "pooler/core/sendonce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/core/log.h"

struct send_once {
    ev_io io;
    ev_timer timer;
    char what[48];
    size_t n, done;
    unsigned char data[SENDONCE_MAX];
};

static void finish(struct ev_loop *loop, struct send_once *so, const char *failure)
{
    if (failure)
        log_warning("%s not sent: %s", so->what, failure);
    ev_io_stop(loop, &so->io);
    ev_timer_stop(loop, &so->timer);
    close(so->io.fd);
    free(so);
}

static void writable(struct ev_loop *loop, ev_io *io, int revents)
{
    struct send_once *so = (struct send_once *)io;
    if (so->done == 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
            finish(loop, so, strerror(err));
            return;
        }
    }
    ssize_t w = send(io->fd, so->data + so->done, so->n - so->done, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            finish(loop, so, strerror(errno));
        return;
    }
    so->done += (size_t)w;
    if (so->done == so->n)
        finish(loop, so, NULL);
}

static void timed_out(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct send_once *so = (struct send_once *)((char *)t - offsetof(struct send_once, timer));
    finish(loop, so, "no connection in time");
}

bool send_once(struct ev_loop *loop, const struct sockaddr *sa, socklen_t salen, const void *data,
               size_t n, double timeout, const char *what)
{
    if (n > SENDONCE_MAX)
        return false;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warning("%s not sent: socket: %s", what, strerror(errno));
        return false;
    }
    if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
        log_warning("%s not sent: %s", what, strerror(errno));
        close(fd);
        return false;
    }
    struct send_once *so = calloc(1, sizeof(*so));
    if (!so) {
        log_warning("%s not sent: out of memory", what);
        close(fd);
        return false;
    }
    memcpy(so->data, data, n);
    so->n = n;
    strncpy(so->what, what, sizeof(so->what) - 1);
    ev_io_init(&so->io, writable, fd, EV_WRITE);
    ev_timer_init(&so->timer, timed_out, timeout, 0);
    ev_io_start(loop, &so->io);
    ev_timer_start(loop, &so->timer);
    return true;
}
