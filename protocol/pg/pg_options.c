/* pg_options.c -- the `options` startup parameter: the settings it carries (pg_options.h). */
#include "protocol/pg/pg_options.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Splits s into words at unescaped blanks; a backslash keeps the next byte
 * as it is. Writes the words, each NUL-terminated, into out (as long as s
 * plus one) and returns their number, or -1 when there are more than max.
 */
static int split(const char *s, char *out, char **words, int max)
{
    int n = 0;
    while (*s) {
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        char *w = out;
        bool escape = false;
        for (; *s; s++) {
            if (is_space(*s) && !escape)
                break;
            if (!escape && *s == '\\') {
                escape = true;
                continue;
            }
            escape = false;
            *out++ = *s;
        }
        *out++ = 0;
        if (n == max)
            return -1;
        words[n++] = w;
    }
    return n;
}

static int fail(char *err, size_t errlen, char sqlstate[6], const char *state, const char *fmt,
                const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    memcpy(sqlstate, state, 6);
    return WR_ERROR;
}

/* "name=value" of -c or --: splits it in place, normalising the name. */
static bool name_value(char *arg, char **name, char **value)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return false;
    *eq = 0;
    for (char *p = arg; *p; p++) {
        if (*p == '-')
            *p = '_';
        else if (*p >= 'A' && *p <= 'Z')
            *p |= 0x20;
    }
    *name = arg;
    *value = eq + 1;
    return true;
}

int pg_options_parse(const char *s, struct pg_options *out, char *err, size_t errlen,
                     char sqlstate[6])
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(s);
    /* Each setting takes one word ("-cx=y") or two ("-c" "x=y"). */
    enum { MAX_WORDS = 2 * PG_OPTIONS_MAX };
    char **words = malloc(MAX_WORDS * sizeof(*words));
    out->store = malloc(len + 1);
    if (!words || !out->store) {
        free(words);
        pg_options_free(out);
        return fail(err, errlen, sqlstate, "53200", "%s", "out of memory");
    }
    int nw = split(s, out->store, words, MAX_WORDS);
    int rc = WR_OK;
    if (nw < 0)
        rc = fail(err, errlen, sqlstate, "54000", "%s", "too many settings in options");
    for (int i = 0; i < nw && rc == WR_OK; i++) {
        char *w = words[i], *name, *value;
        if (w[0] != '-' || !w[1]) {
            rc = fail(err, errlen, sqlstate, "42601",
                      "invalid command-line argument for server process: %s", w);
            break;
        }
        char *arg;
        bool longopt = w[1] == '-';
        if (longopt) {
            arg = w + 2;
        } else if (w[1] == 'c') {
            if (w[2]) {
                arg = w + 2;
            } else if (i + 1 < nw) {
                arg = words[++i];
            } else {
                rc = fail(err, errlen, sqlstate, "42601", "%s", "-c requires a value");
                break;
            }
        } else {
            char sw[3] = {'-', w[1], 0};
            rc = fail(err, errlen, sqlstate, "08P01",
                      "unsupported startup option \"%s\": only -c name=value and --name=value "
                      "settings can be applied to a pooled session",
                      sw);
            break;
        }
        if (!name_value(arg, &name, &value)) {
            rc = fail(err, errlen, sqlstate, "42601",
                      longopt ? "--%s requires a value" : "-c %s requires a value", arg);
            break;
        }
        if (out->n == PG_OPTIONS_MAX) {
            rc = fail(err, errlen, sqlstate, "54000", "%s", "too many settings in options");
            break;
        }
        out->opt[out->n].name = name;
        out->opt[out->n].value = value;
        out->n++;
    }
    free(words);
    if (rc != WR_OK)
        pg_options_free(out);
    return rc;
}

void pg_options_free(struct pg_options *o)
{
    free(o->store);
    memset(o, 0, sizeof(*o));
}
