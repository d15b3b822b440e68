/* settings.c -- lists of session settings and the SQL that turns one into another. */
#include "pooler/conf/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/pg/pg_sql.h"

static int find(const struct settings *s, const char *name)
{
    for (int i = 0; s && i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return i;
    return -1;
}

const struct setting *settings_get(const struct settings *s, const char *name)
{
    int i = find(s, name);
    return i < 0 ? NULL : &s->v[i];
}

bool settings_put(struct settings *s, const char *name, const char *value, bool raw)
{
    int i = find(s, name);
    char *v = strdup(value);
    if (!v)
        return false;
    if (i >= 0) {
        free(s->v[i].value);
        s->v[i].value = v;
        s->v[i].raw = raw;
        return true;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return false;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        struct setting *nv = realloc(s->v, (size_t)cap * sizeof(*nv));
        if (!nv) {
            free(n);
            free(v);
            return false;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (struct setting){.name = n, .value = v, .raw = raw};
    return true;
}

void settings_del(struct settings *s, const char *name)
{
    int i = find(s, name);
    if (i < 0)
        return;
    free(s->v[i].name);
    free(s->v[i].value);
    s->v[i] = s->v[--s->n];
}

void settings_clear(struct settings *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].value);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

bool settings_copy(struct settings *dst, const struct settings *src)
{
    settings_clear(dst);
    for (int i = 0; src && i < src->n; i++) {
        if (!settings_put(dst, src->v[i].name, src->v[i].value, src->v[i].raw)) {
            settings_clear(dst);
            return false;
        }
    }
    return true;
}

bool settings_same(const struct setting *a, const struct setting *b)
{
    return a && b && a->raw == b->raw && !strcmp(a->value, b->value);
}

static void append(char *q, size_t cap, size_t *len, const char *text)
{
    size_t k = strlen(text);
    if (*len + k < cap)
        memcpy(q + *len, text, k + 1);
    *len += k;
}

void settings_set_sql(const struct setting *st, char *q, size_t cap, size_t *len)
{
    if (st->raw) {
        /* The setting's own text, as the options string and set_config give it. */
        append(q, cap, len, "SELECT pg_catalog.set_config(");
        pg_sql_quote_literal(q, cap, len, st->name);
        append(q, cap, len, ", ");
        pg_sql_quote_literal(q, cap, len, st->value);
        append(q, cap, len, ", false);");
    } else {
        append(q, cap, len, "SET ");
        pg_sql_quote_name(q, cap, len, st->name);
        append(q, cap, len, " TO ");
        append(q, cap, len, st->value);
        append(q, cap, len, ";");
    }
}

void settings_diff_sql(const struct settings *have, const struct settings *want, char *q,
                       size_t cap, size_t *len)
{
    for (int i = 0; want && i < want->n; i++)
        if (!settings_same(settings_get(have, want->v[i].name), &want->v[i]))
            settings_set_sql(&want->v[i], q, cap, len);
    for (int i = 0; have && i < have->n; i++) {
        if (find(want, have->v[i].name) >= 0)
            continue;
        append(q, cap, len, "RESET ");
        pg_sql_quote_name(q, cap, len, have->v[i].name);
        append(q, cap, len, ";");
    }
}
