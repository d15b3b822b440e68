/* notify.c -- sd_notify's datagram protocol on $NOTIFY_SOCKET, without libsystemd. */
#include "pooler/core/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    /* '/' is a filesystem path, '@' the abstract namespace (a leading NUL). */
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t salen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    int saved = errno;
    close(fd);
    if (n == -1) {
        errno = saved;
        return -1;
    }
    return 1;
}

int notify_ready(void)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
    return notify_send(msg);
}

int notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[80];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    return notify_send(msg);
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
    char msg[512] = "STATUS=";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
    va_end(ap);
    /* One line: a newline would start another assignment. */
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return notify_send(msg);
}
