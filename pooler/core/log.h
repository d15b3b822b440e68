/*
 * log.h -- weir's log lines: one write(2) per line so threads never interleave.
 *
 * Text lines look like:
 *   2026-11-22 08:00:00.123 UTC [1234] LOG C-12 db/user@127.0.0.1:5555 login (...)
 * JSON lines (log_format = json) are one object per line:
 *   {"ts":"2026-11-22T08:00:00.123Z","pid":1234,"level":"info","client_id":12,
 *    "database":"db","user":"user","addr":"127.0.0.1:5555","msg":"login (...)"}
 *
 * Lines go to stderr, to `logfile` when set (append; log_reopen() after a
 * rotation) and to syslog when `syslog` is set. Settings are read from the
 * global weir.cfg on every line, so a reload takes effect at once; before
 * weir.cfg is set, lines are text on stderr.
 *
 * Lines about a connection go through log_conn_vmsg, which names it (id,
 * database, user, address) in separate JSON fields; the layers that own
 * connections wrap it (log_client in session/, log_server in pool/), so the
 * logger itself knows no client, server or pool. Every string in a
 * line is escaped (control characters, and in JSON quotes and invalid UTF-8),
 * so user-controlled names cannot forge lines: callers need not escape.
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO = 1, LOG_LVL_WARNING = 2, LOG_LVL_ERROR = 3 };

/*
 * Command-line verbosity: 0 = LOG and above; n > 0 = DEBUG too (-v); -1 =
 * warnings only (-q). The config's `verbose` is added on every line unless -q.
 */
void log_set_verbosity(int v);
/* The verbosity in force now (command line + weir.cfg->verbose, or -1). */
int log_verbosity(void);
/* Whether a line of level lvl would be written now. */
bool log_enabled(enum log_level lvl);

/*
 * Opens path (append, created 0640) as the log file, in addition to stderr;
 * NULL stops writing to a file. Safe while other threads log: an open log
 * file keeps its descriptor number and is swapped with dup2. Returns -1 on
 * error (the previous file, if any, stays in use).
 */
int log_open_file(const char *path);
/*
 * Reopens weir.cfg->logfile (SIGHUP after logrotate moved the file away).
 * Returns -1 when it cannot be opened; 0 otherwise.
 */
int log_reopen(void);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/* What a line is about, for log_conn_vmsg. Strings may be NULL (left out). */
struct log_conn {
    char kind;             /* 'C' client, 'S' server, 0 none */
    unsigned long long id; /* C-id / S-id */
    unsigned long long
        peer_id; /* the linked server (of a client) or client (of a server); 0 none */
    const char *database;
    const char *user;
    const char *addr; /* client "ip:port", or server "host:port" */
    const char *app;  /* application_name */
};
void log_conn_vmsg(enum log_level lvl, const struct log_conn *conn, const char *fmt, va_list ap);

/*
 * Formats one complete line (with its '\n') into buf (cap bytes, at least
 * 256): text or JSON, as log_format says. With for_syslog, a text line leaves
 * out the timestamp and pid that syslog adds itself. Returns the length.
 * Exposed for the unit test.
 */
size_t log_format_line(char *buf, size_t cap, bool json, bool for_syslog, enum log_level lvl,
                       const struct log_conn *conn, const char *msg);
/* The syslog priority for lvl; facility is a syslog_facility name. -1: unknown facility. */
int log_syslog_priority(enum log_level lvl, const char *facility);

/*
 * Copies src into dst (cap bytes) escaping control characters, quotes and
 * backslashes, so user-controlled strings cannot forge log lines.
 */
const char *log_escape(char *dst, size_t cap, const char *src);
/*
 * Copies src into dst (cap bytes) as the inside of a JSON string: quotes,
 * backslashes and control characters escaped, invalid UTF-8 as U+FFFD.
 * Stops before an escape that would not fit. Returns the length written.
 */
size_t log_json_escape(char *dst, size_t cap, const char *src);

/*
 * Copies a library's error message into out[0..len) on one line: the line
 * breaks and tabs of libpq's multi-line messages become ". " or a space, and
 * a trailing newline goes.
 */
void log_tidy(char *out, size_t len, const char *text);

#endif
