/*
 * log.c -- timestamped, single-write log lines (text or JSON) to stderr, an
 * optional log file and syslog.
 */
#include "pooler/core/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pooler/core/worker.h"

#define LINE_MAX_BYTES 4096

static atomic_int cli_verbosity;
/* The log file keeps its descriptor number for life: reopening dup3()s over it. */
static atomic_int file_fd = -1;
static atomic_bool file_on;
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;

/* What openlog() was last called with; syslog() runs under the same lock. */
static pthread_mutex_t syslog_lock = PTHREAD_MUTEX_INITIALIZER;
static char *syslog_ident_open;
static int syslog_facility_open = -1;

void log_set_verbosity(int v)
{
    atomic_store(&cli_verbosity, v);
}

int log_verbosity(void)
{
    int v = atomic_load(&cli_verbosity);
    if (v < 0)
        return -1;
    const struct config *cfg = weir.cfg;
    return v + (cfg ? cfg->verbose : 0);
}

bool log_enabled(enum log_level lvl)
{
    return lvl >= LOG_LVL_WARNING || (int)lvl >= 1 - log_verbosity();
}

int log_open_file(const char *path)
{
    int rc = 0;
    pthread_mutex_lock(&file_lock);
    int old = atomic_load(&file_fd);
    if (!path) {
        atomic_store(&file_on, false);
        /* Let go of the file without freeing the descriptor number. */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (old != -1 && null != -1)
            dup3(null, old, O_CLOEXEC);
        if (null != -1)
            close(null);
        goto out;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1) {
        rc = -1;
        goto out;
    }
    if (old == -1) {
        atomic_store(&file_fd, fd);
    } else {
        /* Atomic for writers: a write goes to the old file or the new one. */
        if (dup3(fd, old, O_CLOEXEC) == -1)
            rc = -1;
        close(fd);
    }
    if (rc == 0)
        atomic_store(&file_on, true);
out:
    pthread_mutex_unlock(&file_lock);
    return rc;
}

int log_reopen(void)
{
    const struct config *cfg = weir.cfg;
    return log_open_file(cfg ? cfg->logfile : NULL);
}

/* ---- escaping ---- */

/*
 * Text escaping: control characters as \xNN and backslashes doubled; quotes
 * too when quotes is set. Stops before an escape that would not fit.
 */
static size_t text_escape(char *dst, size_t cap, const char *src, bool quotes)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (; src && *src && o + 5 < cap; src++) {
        unsigned char ch = (unsigned char)*src;
        if (ch < 0x20 || ch == 0x7f) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        } else if (ch == '\\' || (quotes && ch == '"')) {
            dst[o++] = '\\';
            dst[o++] = ch;
        } else {
            dst[o++] = ch;
        }
    }
    dst[o] = 0;
    return o;
}

const char *log_escape(char *dst, size_t cap, const char *src)
{
    text_escape(dst, cap, src, true);
    return dst;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static int utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t log_json_escape(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap == 0)
        return 0;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s) {
        char esc[8];
        size_t elen;
        int adv = 1;
        unsigned char ch = *s;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            elen = 2;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            esc[0] = '\\';
            esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
            elen = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            elen = 6;
        } else if (ch < 0x80) {
            esc[0] = (char)ch;
            elen = 1;
        } else if ((adv = utf8_seq(s)) > 0) {
            memcpy(esc, s, adv);
            elen = adv;
        } else {
            memcpy(esc, "\\ufffd", 6);
            elen = 6;
            adv = 1;
        }
        if (o + elen + 1 > cap)
            break;
        memcpy(dst + o, esc, elen);
        o += elen;
        s += adv;
    }
    dst[o] = 0;
    return o;
}

/* ---- formatting ---- */

struct line {
    char *buf;
    size_t cap; /* room left for content, the tail reserve excluded */
    size_t len;
};

static void put(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len + n > l->cap)
        n = l->cap - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_json(struct line *l, const char *s)
{
    /* +1: log_json_escape writes a NUL, which the next put overwrites. */
    l->len += log_json_escape(l->buf + l->len, l->cap + 1 - l->len, s);
}

static void put_text(struct line *l, const char *s, bool quotes)
{
    l->len += text_escape(l->buf + l->len, l->cap + 1 - l->len, s, quotes);
}

static void put_json_field(struct line *l, const char *name, const char *value)
{
    if (!value)
        return;
    put(l, ",\"");
    put(l, name);
    put(l, "\":\"");
    put_json(l, value);
    put(l, "\"");
}

static void put_json_id(struct line *l, const char *name, unsigned long long id)
{
    char num[48];
    snprintf(num, sizeof(num), ",\"%s\":%llu", name, id);
    put(l, num);
}

static const char *const level_text[] = {"DEBUG", "LOG", "WARNING", "ERROR"};
static const char *const level_json[] = {"debug", "info", "warning", "error"};

size_t log_format_line(char *buf, size_t cap, bool json, bool for_syslog, enum log_level lvl,
                       const struct log_conn *conn, const char *msg)
{
    struct timeval tv;
    struct tm tm;
    char ts[64];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    /* Reserve: closing quote, brace and newline of a JSON line, and the NUL. */
    struct line l = {buf, cap - 4, 0};
    if (json) {
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
        char head[160];
        snprintf(head, sizeof(head), "{\"ts\":\"%s\",\"pid\":%d,\"level\":\"%s\"", ts,
                 (int)getpid(), level_json[lvl]);
        put(&l, head);
        if (conn && conn->kind == 'C') {
            put_json_id(&l, "client_id", conn->id);
            if (conn->peer_id)
                put_json_id(&l, "server_id", conn->peer_id);
        } else if (conn && conn->kind == 'S') {
            put_json_id(&l, "server_id", conn->id);
            if (conn->peer_id)
                put_json_id(&l, "client_id", conn->peer_id);
        }
        if (conn && conn->kind) {
            put_json_field(&l, "database", conn->database);
            put_json_field(&l, "user", conn->user);
            put_json_field(&l, "addr", conn->addr);
            put_json_field(&l, "application_name", conn->app);
        }
        put(&l, ",\"msg\":\"");
        put_json(&l, msg);
        memcpy(buf + l.len, "\"}\n", 3);
        l.len += 3;
        buf[l.len] = 0;
        return l.len;
    }
    if (!for_syslog) {
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%03d UTC [%d] ", (int)(tv.tv_usec / 1000),
                 (int)getpid());
        put(&l, ts);
    }
    put(&l, level_text[lvl]);
    put(&l, " ");
    if (conn && conn->kind) {
        char id[32];
        snprintf(id, sizeof(id), "%c-%llu ", conn->kind, conn->id);
        put(&l, id);
        put_text(&l, conn->database ? conn->database : "-", true);
        put(&l, "/");
        put_text(&l, conn->user ? conn->user : "-", true);
        if (conn->addr) {
            put(&l, "@");
            put_text(&l, conn->addr, true);
        }
        put(&l, " ");
    }
    put_text(&l, msg, false);
    if (!for_syslog)
        buf[l.len++] = '\n';
    buf[l.len] = 0;
    return l.len;
}

static const struct {
    const char *name;
    int code;
} facilities[] = {
    {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
    {"daemon", LOG_DAEMON}, {"ftp", LOG_FTP},           {"lpr", LOG_LPR},
    {"mail", LOG_MAIL},     {"news", LOG_NEWS},         {"syslog", LOG_SYSLOG},
    {"user", LOG_USER},     {"uucp", LOG_UUCP},         {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},     {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

static int facility_code(const char *name)
{
    for (size_t i = 0; name && i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (!strcasecmp(name, facilities[i].name))
            return facilities[i].code;
    return -1;
}

int log_syslog_priority(enum log_level lvl, const char *facility)
{
    static const int pri[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    int f = facility_code(facility);
    return f == -1 ? -1 : f | pri[lvl];
}

/* Sends a formatted line to syslog, (re)opening it when ident or facility changed. */
static void syslog_line(const struct config *cfg, enum log_level lvl, const char *line)
{
    const char *ident = cfg->syslog_ident ? cfg->syslog_ident : "weir";
    int pri = log_syslog_priority(lvl, cfg->syslog_facility);
    if (pri == -1)
        pri = log_syslog_priority(lvl, "daemon"); /* unknown facility name */
    int facility = pri & LOG_FACMASK;
    pthread_mutex_lock(&syslog_lock);
    if (!syslog_ident_open || strcmp(syslog_ident_open, ident) != 0 ||
        syslog_facility_open != facility) {
        char *copy = strdup(ident);
        if (copy) {
            /* openlog keeps the pointer: the old copy is freed only after it switched. */
            openlog(copy, LOG_PID | LOG_NDELAY, facility);
            free(syslog_ident_open);
            syslog_ident_open = copy;
            syslog_facility_open = facility;
        }
    }
    syslog(pri, "%s", line);
    pthread_mutex_unlock(&syslog_lock);
}

void log_conn_vmsg(enum log_level lvl, const struct log_conn *conn, const char *fmt, va_list ap)
{
    if (!log_enabled(lvl))
        return;
    char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES + 512];
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = 0;
    const struct config *cfg = weir.cfg;
    bool json = cfg && cfg->log_format == LOG_FORMAT_JSON;
    size_t n = log_format_line(line, sizeof(line), json, false, lvl, conn, msg);
    /* One write per line: concurrent threads never interleave within a line. */
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nothing sensible to do */
    }
    int fd = atomic_load(&file_fd);
    if (fd != -1 && atomic_load(&file_on) && write(fd, line, n) < 0) {
        /* same */
    }
    if (cfg && cfg->syslog) {
        if (!json)
            log_format_line(line, sizeof(line), false, true, lvl, conn, msg);
        else
            line[n - 1] = 0; /* no newline in a syslog message */
        syslog_line(cfg, lvl, line);
    }
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
    log_conn_vmsg(lvl, NULL, fmt, ap);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, fmt, ap);
    va_end(ap);
}

/*
 * Copies a library's error message into out[0..len) on one line: the line
 * breaks and tabs of libpq's multi-line messages become ". " or a space, and
 * the trailing newline goes.
 */
void log_tidy(char *out, size_t len, const char *text)
{
    size_t n = 0;
    bool gap = false;
    for (const char *p = text; *p && n + 3 < len; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            gap = gap || n > 0;
            if (*p == ' ' || !n || strchr(".:;!?", out[n - 1]))
                continue;
            out[n++] = '.'; /* a line break after a sentence without its full stop */
            continue;
        }
        if (gap)
            out[n++] = ' ';
        gap = false;
        out[n++] = *p;
    }
    out[n] = 0;
}
