/*
 * log.h -- weir's log lines: one write(2) per line so threads never interleave.
 *
 * Lines look like: 2026-11-22 08:00:00.123 UTC [1234] LOG C-12 db/user@addr:port message
 * The connection prefix is built by the caller (client_pg.c, server.c).
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO = 1, LOG_LVL_WARNING = 2, LOG_LVL_ERROR = 3 };

/* Verbosity: 0 = LOG and above; 1 = DEBUG too (-v); -1 = warnings only (-q). */
void log_set_verbosity(int v);
int log_verbosity(void);
/* Opens a log file (append) in addition to stderr; NULL closes it. Returns -1 on error. */
int log_open_file(const char *path);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/*
 * Copies src into dst (cap bytes) escaping control characters, quotes and
 * backslashes, so user-controlled strings cannot forge log lines.
 */
const char *log_escape(char *dst, size_t cap, const char *src);

#endif
