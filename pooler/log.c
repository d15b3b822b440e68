/* log.c -- timestamped, single-write log lines to stderr and an optional file. */
#include "pooler/log.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Both change at run time (reload, log rotation) while workers log. */
static atomic_int verbosity;
static atomic_int file_fd = -1;

void log_set_verbosity(int v)
{
    atomic_store_explicit(&verbosity, v, memory_order_relaxed);
}
int log_verbosity(void)
{
    return atomic_load_explicit(&verbosity, memory_order_relaxed);
}

int log_open_file(const char *path)
{
    if (!path) {
        int old = atomic_exchange(&file_fd, -1);
        if (old != -1)
            close(old);
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1)
        return -1;
    /* dup2 swaps the file behind the same number, so a writer never hits a closed fd. */
    int cur = atomic_load(&file_fd);
    if (cur == -1 && atomic_compare_exchange_strong(&file_fd, &cur, fd))
        return 0;
    int rc = dup2(fd, cur) == -1 ? -1 : 0;
    close(fd);
    return rc;
}

static const char *level_name[] = {"DEBUG", "LOG", "WARNING", "ERROR"};

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
    if ((int)lvl < 1 - log_verbosity() && lvl < LOG_LVL_WARNING)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - n, ".%03d UTC [%d] %s ", (int)(tv.tv_usec / 1000),
                  (int)getpid(), level_name[lvl]);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line: concurrent threads never interleave within a line. */
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nothing sensible to do */
    }
    int fd = atomic_load_explicit(&file_fd, memory_order_relaxed);
    if (fd != -1 && write(fd, line, n) < 0) {
        /* same */
    }
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, fmt, ap);
    va_end(ap);
}

const char *log_escape(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!src)
        src = "";
    for (; *src && o + 5 < cap; src++) {
        unsigned char ch = (unsigned char)*src;
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            if (ch == '"' || ch == '\\') {
                dst[o++] = ch;
            } else {
                dst[o++] = 'x';
                dst[o++] = hex[ch >> 4];
                dst[o++] = hex[ch & 15];
            }
        } else {
            dst[o++] = ch;
        }
    }
    dst[o] = 0;
    return dst;
}
