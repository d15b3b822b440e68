/*
 * load.c -- reading a config file: the line reader that feeds libinih, the
 * sections ([weir] or [pgbouncer], [databases], [users]) and their errors with
 * file and line, then config_load's checks once the file is read.
 *
 * Lines reach libinih through read_line, which counts them (the Debian build
 * of libinih passes no line numbers), refuses lines longer than inih's fixed
 * 200-byte buffer instead of letting it split them, stops at a section header
 * without its ']', and hides ';' inside single-quoted values from inih's
 * inline-comment rule.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/conf/config_int.h"

#define QUOTED_SEMICOLON '\x1f'

struct line_reader {
    FILE *f;
    int lineno;
    bool too_long;
    int open_header; /* line of a "[section" without its ']', or 0 */
    char header[64]; /* that line's text */
};

/* What config_line carries between libinih's calls. */
struct file_parse {
    struct parse_ctx ctx;
    const struct line_reader *lr;
    bool failed; /* the first error is in ctx.err; later lines are skipped */
};

void conf_note(struct config *cfg, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t have = cfg->notes ? strlen(cfg->notes) : 0;
    char *n = realloc(cfg->notes, have + strlen(line) + 2);
    if (!n)
        return; /* out of memory: the warning is lost, the setting still ignored */
    snprintf(n + have, strlen(line) + 2, "%s\n", line);
    cfg->notes = n;
}

void conf_error(struct parse_ctx *ctx, const char *fmt, ...)
{
    int n =
        ctx->lineno ? snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->cfg->path, ctx->lineno) : 0;
    if (n < 0 || (size_t)n >= ctx->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
    va_end(ap);
}

static char *read_line(char *str, int num, void *stream)
{
    struct line_reader *lr = stream;
    if (!fgets(str, num, lr->f))
        return NULL;
    lr->lineno++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(lr->f)) {
        lr->too_long = true;
        return NULL;
    }
    /* inih would take "[databases" as a syntax error and go on in section "": stop here. */
    const char *first = str + strspn(str, " \t");
    if (*first == '[' && !strchr(first, ']')) {
        lr->open_header = lr->lineno;
        snprintf(lr->header, sizeof(lr->header), "%.*s", (int)strcspn(first, " \t\r\n;#"), first);
        return NULL;
    }
    bool quoted = false;
    for (char *p = str; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (*p == ';' && quoted)
            *p = QUOTED_SEMICOLON;
    }
    return str;
}

static void restore_semicolons(char *s)
{
    for (; *s; s++)
        if (*s == QUOTED_SEMICOLON)
            *s = ';';
}

static const char *const section_names[] = {"databases", "weir",  "pgbouncer",
                                            "users",     "peers", NULL};

static int config_line(void *user, const char *section, const char *name, const char *raw)
{
    struct file_parse *fp = user;
    struct parse_ctx *ctx = &fp->ctx;
    if (fp->failed)
        return 0; /* inih goes on after an error: keep the first one */
    char value[256];
    snprintf(value, sizeof(value), "%s", raw);
    restore_semicolons(value);
    bool good;
    ctx->lineno = fp->lr->lineno;
    ctx->section = section;
    if (!strcmp(section, "databases"))
        good = entries_add_db(ctx, name, value);
    else if (!strcmp(section, "weir") || !strcmp(section, "pgbouncer"))
        good = keys_set(ctx, name, value);
    else if (!strcmp(section, "users"))
        good = entries_add_user(ctx, name, value);
    else if (!strcmp(section, "peers"))
        good = peers_add(ctx, name, value);
    else if (!section[0]) {
        conf_error(ctx, "\"%s\" is outside any section (put it under [weir] or [databases])", name);
        good = false;
    } else {
        char hint[96];
        conf_error(ctx, "unknown section [%s]%s", section,
                   suggest_text(suggest_of(section, section_names), hint, sizeof(hint)));
        good = false;
    }
    if (!good) {
        if (!ctx->err[0])
            conf_error(ctx, "out of memory");
        fp->failed = true;
        return 0;
    }
    return 1;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
    err[0] = 0;
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || !(cfg->path = strdup(path)) || !keys_init(cfg)) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    struct line_reader lr = {fopen(path, "r"), 0, false, 0, ""};
    if (!lr.f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto failed;
    }
    struct file_parse fp = {{cfg, 0, err, errlen, ""}, &lr, false};
    int r = ini_parse_stream(read_line, &lr, config_line, &fp);
    fclose(lr.f);
    if (fp.failed)
        goto failed;
    if (lr.open_header && !(r > 0 && r < lr.open_header)) {
        snprintf(err, errlen, "%s:%d: section header %s is missing its ]", path, lr.open_header,
                 lr.header);
        goto failed;
    }
    if (lr.too_long) {
        snprintf(err, errlen, "%s:%d: line too long (at most 199 bytes)", path, lr.lineno);
        goto failed;
    }
    if (r > 0) {
        snprintf(err, errlen, "%s:%d: syntax error", path, r);
        goto failed;
    }
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 ? (int)n : 1;
    }
    entries_finish(cfg);
    if (config_check(cfg, err, errlen) != WR_OK)
        goto failed;
    *out = cfg;
    return WR_OK;
failed:
    config_free(cfg);
    return WR_ERROR;
}
