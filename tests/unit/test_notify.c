/*
 * test_notify.c -- unit tests of the sd_notify sender (pooler/notify.c): a
 * datagram socket the test binds (a path, then an abstract name) stands in
 * for systemd's $NOTIFY_SOCKET.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pooler/core/notify.h"
#include "tests/tap.h"

/* Binds a datagram socket at name ('@' = abstract namespace). Returns the fd or -1. */
static int bind_dgram(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t salen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&sa, salen) == -1)
        return -1;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Receives one datagram into buf as a string; "" on timeout. */
static const char *recv_msg(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void check_socket(const char *name, const char *what)
{
    char buf[1024], want[128];
    int fd = bind_dgram(name);
    if (!ok(fd != -1, "%s: bound %s", what, name))
        return;
    setenv("NOTIFY_SOCKET", name, 1);

    is_int(notify_ready(), 1, "notify_ready sent");
    snprintf(want, sizeof(want), "READY=1\nMAINPID=%d", (int)getpid());
    is_str(recv_msg(fd, buf, sizeof(buf)), want, "READY=1 with MAINPID");

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long before = (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
    is_int(notify_reloading(), 1, "notify_reloading sent");
    recv_msg(fd, buf, sizeof(buf));
    unsigned long long usec = 0;
    ok(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec) == 1,
       "RELOADING=1 then MONOTONIC_USEC");
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long after = (unsigned long long)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
    ok(usec >= before && usec <= after, "MONOTONIC_USEC is CLOCK_MONOTONIC now (%llu)", usec);

    is_int(notify_stopping(), 1, "notify_stopping sent");
    is_str(recv_msg(fd, buf, sizeof(buf)), "STOPPING=1", "STOPPING=1");

    is_int(notify_status("%d clients\non %s", 3, "two lines"), 1, "notify_status sent");
    is_str(recv_msg(fd, buf, sizeof(buf)), "STATUS=3 clients on two lines", "STATUS= is one line");
    close(fd);
    if (name[0] == '/')
        unlink(name);
}

int main(void)
{
    unsetenv("NOTIFY_SOCKET");
    is_int(notify_ready(), 0, "no NOTIFY_SOCKET: nothing sent, 0");

    char dir[] = "/tmp/weir-notify-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[128];
    snprintf(path, sizeof(path), "%s/notify", dir);
    check_socket(path, "path socket");
    rmdir(dir);

    char abstract[64];
    snprintf(abstract, sizeof(abstract), "@weir-test-notify-%d", (int)getpid());
    check_socket(abstract, "abstract socket");

    setenv("NOTIFY_SOCKET", "relative/path", 1);
    errno = 0;
    ok(notify_ready() == -1 && errno == EINVAL, "a relative NOTIFY_SOCKET is refused");
    setenv("NOTIFY_SOCKET", "/nonexistent/weir/notify", 1);
    is_int(notify_ready(), -1, "a socket nobody listens on: -1");
    return done_testing();
}
