/*
 * test_log.c -- unit tests of log lines (pooler/log.c): text and JSON shapes,
 * escaping of hostile strings, syslog priorities, the log file and its reopen
 * after a rename. Lines are captured by pointing stderr at a pipe.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "pooler/conf/config.h"
#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "tests/tap.h"

static int pipe_rd;

/* Reads what the logger wrote to stderr since the last call. */
static const char *captured(char *buf, size_t cap)
{
    ssize_t n = read(pipe_rd, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static const char *file_text(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

int main(void)
{
    char buf[8192], esc[256];
    struct config cfg = {0};
    cfg.syslog_ident = "weir";
    cfg.syslog_facility = "daemon";
    weir.cfg = &cfg;

    int fds[2];
    if (pipe2(fds, O_NONBLOCK) == -1)
        return 1;
    fflush(stderr);
    int saved_stderr = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    pipe_rd = fds[0];

    /* ---- escaping ---- */
    is_str(log_escape(esc, sizeof(esc), "a\"b\\c\nd\x01"), "a\\\"b\\\\c\\x0ad\\x01",
           "log_escape: quotes, backslash, control characters");
    log_json_escape(esc, sizeof(esc), "q\"b\\n\n\t\x01\x7f é \xff\xc3");
    is_str(esc, "q\\\"b\\\\n\\n\\t\\u0001\\u007f é \\ufffd\\ufffd",
           "log_json_escape: JSON escapes, UTF-8 kept, invalid bytes U+FFFD");
    log_json_escape(esc, 8, "abc\"def");
    is_str(esc, "abc\\\"de", "log_json_escape stops before the cap, never inside an escape");
    log_json_escape(esc, 5, "ab\ncd");
    is_str(esc, "ab\\n", "  (an escape that does not fit is left out whole)");

    /* ---- text lines ---- */
    log_set_verbosity(0);
    log_info("plain %d", 42);
    const char *out = captured(buf, sizeof(buf));
    ok(strstr(out, " UTC [") && strstr(out, "] LOG plain 42\n"), "text: timestamp, pid, level");
    log_debug("hidden");
    is_str(captured(buf, sizeof(buf)), "", "debug lines need -v");
    cfg.verbose = 1;
    log_debug("shown");
    ok(strstr(captured(buf, sizeof(buf)), "DEBUG shown") != NULL,
       "config verbose = 1 is read on every line");
    cfg.verbose = 0;
    log_set_verbosity(-1);
    log_info("quiet");
    log_warning("loud");
    out = captured(buf, sizeof(buf));
    ok(!strstr(out, "quiet") && strstr(out, "WARNING loud"), "-q keeps warnings only");
    log_set_verbosity(0);

    struct log_conn conn = {.kind = 'C',
                            .id = 7,
                            .peer_id = 9,
                            .database = "db",
                            .user = "ev\"il\nLOG forged",
                            .addr = "127.0.0.1:5555",
                            .app = "app\r\n"};
    size_t n = log_format_line(buf, sizeof(buf), false, false, LOG_LVL_INFO, &conn,
                               "login\nERROR fake line");
    ok(strstr(buf,
              "LOG C-7 db/ev\\\"il\\x0aLOG forged@127.0.0.1:5555 login\\x0aERROR fake line\n") !=
           NULL,
       "text: connection prefix, hostile user and message escaped");
    ok(n == strlen(buf) && memchr(buf, '\n', n) == buf + n - 1,
       "text: exactly one newline, at the end");
    log_format_line(buf, sizeof(buf), false, true, LOG_LVL_WARNING, &conn, "m");
    ok(!strncmp(buf, "WARNING C-7 ", 12) && !strchr(buf, '\n'),
       "syslog text: no timestamp, pid or newline");

    /* ---- JSON lines ---- */
    n = log_format_line(buf, sizeof(buf), true, false, LOG_LVL_INFO, &conn, "say \"hi\"\n");
    ok(!strncmp(buf, "{\"ts\":\"", 7) && strstr(buf, "Z\",\"pid\":") &&
           strstr(buf, ",\"level\":\"info\",\"client_id\":7,\"server_id\":9,\"database\":\"db\","
                       "\"user\":\"ev\\\"il\\nLOG forged\",\"addr\":\"127.0.0.1:5555\","
                       "\"application_name\":\"app\\r\\n\",\"msg\":\"say \\\"hi\\\"\\n\"}\n"),
       "json: fields of a client line");
    ok(memchr(buf, '\n', n) == buf + n - 1, "json: one line");
    struct log_conn sv = {.kind = 'S', .id = 3, .peer_id = 7, .database = "db", .user = "u"};
    log_format_line(buf, sizeof(buf), true, false, LOG_LVL_ERROR, &sv, "x");
    ok(strstr(buf, "\"level\":\"error\",\"server_id\":3,\"client_id\":7,\"database\":\"db\","
                   "\"user\":\"u\",\"msg\":\"x\"}") != NULL,
       "json: server line names its client");
    char big[6000];
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    n = log_format_line(buf, 1024, true, false, LOG_LVL_INFO, NULL, big);
    ok(n < 1024 && !strcmp(buf + n - 3, "\"}\n") && buf[n - 4] == '"' && buf[n - 5] == '\\',
       "json: a long message is cut between escapes and the object closed");
    cfg.log_format = LOG_FORMAT_JSON;
    log_warning("via log_msg");
    out = captured(buf, sizeof(buf));
    ok(!strncmp(out, "{\"ts\":", 6) &&
           strstr(out, "\"level\":\"warning\",\"msg\":\"via log_msg\"}\n"),
       "log_format = json is read on every line");
    cfg.log_format = LOG_FORMAT_TEXT;

    /* ---- syslog priorities ---- */
    is_int(log_syslog_priority(LOG_LVL_ERROR, "daemon"), LOG_DAEMON | LOG_ERR,
           "ERROR -> daemon.err");
    is_int(log_syslog_priority(LOG_LVL_INFO, "local3"), LOG_LOCAL3 | LOG_INFO,
           "LOG -> local3.info");
    is_int(log_syslog_priority(LOG_LVL_DEBUG, "USER"), LOG_USER | LOG_DEBUG, "DEBUG -> user.debug");
    is_int(log_syslog_priority(LOG_LVL_WARNING, "nonsense"), -1, "unknown facility: -1");

    /* ---- log file and reopen ---- */
    char dir[] = "/tmp/weir-log-XXXXXX", path[128], moved[128], text[4096];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/weir.log", dir);
    snprintf(moved, sizeof(moved), "%s/weir.log.1", dir);
    cfg.logfile = path;
    is_int(log_reopen(), 0, "log_reopen opens logfile");
    log_info("first");
    ok(strstr(file_text(path, text, sizeof(text)), "LOG first\n") != NULL, "line in the file");
    rename(path, moved);
    log_info("second");
    is_int(log_reopen(), 0, "log_reopen after rename");
    log_info("third");
    file_text(moved, text, sizeof(text));
    ok(strstr(text, "second") && !strstr(text, "third"), "the old file got lines until the reopen");
    file_text(path, text, sizeof(text));
    ok(strstr(text, "third") && !strstr(text, "second"), "the new file gets lines after it");
    cfg.logfile = NULL;
    log_reopen();
    log_info("fourth");
    ok(!strstr(file_text(path, text, sizeof(text)), "fourth"), "logfile unset: no more file lines");
    cfg.logfile = "/nonexistent-dir/weir.log";
    is_int(log_reopen(), -1, "unwritable logfile: -1");
    unlink(path);
    unlink(moved);
    rmdir(dir);
    captured(buf, sizeof(buf));

    dup2(saved_stderr, STDERR_FILENO);
    weir.cfg = NULL;
    return done_testing();
}
