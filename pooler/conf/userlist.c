/* userlist.c -- parser of PgBouncer-style auth files ("user" "secret" per line). */
#include "pooler/conf/userlist.h"
#include "pooler/conf/textfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct user_secret {
    char *user;
    char *secret;
};

struct userlist {
    struct user_secret *items;
    int n;
};

/* Reads one "quoted" token at *pp (within end); returns malloc'd text or NULL. */
static char *read_quoted(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p >= end || *p != '"')
        return NULL;
    p++;
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (;;) {
        if (p >= end || *p == '\n') {
            free(out);
            return NULL;
        }
        if (*p == '"') {
            if (p + 1 < end && p[1] == '"') {
                p++;
            } else {
                p++;
                break;
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        out[len++] = *p++;
    }
    out[len] = 0;
    *pp = p;
    return out;
}

static void skip_blanks(const char **pp, const char *end)
{
    while (*pp < end && (**pp == ' ' || **pp == '\t' || **pp == '\r'))
        (*pp)++;
}

int userlist_parse(const char *text, size_t len, struct userlist **out, char *err, size_t errlen)
{
    struct userlist *ul = calloc(1, sizeof(*ul));
    if (!ul)
        return WR_ERROR;
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        lineno++;
        skip_blanks(&p, end);
        if (p >= end)
            break;
        if (*p == '\n' || *p == ';' || *p == '#') {
            while (p < end && *p != '\n')
                p++;
            p++;
            continue;
        }
        char *user = read_quoted(&p, end);
        skip_blanks(&p, end);
        char *secret = user ? read_quoted(&p, end) : NULL;
        if (!user || !secret || !user[0]) {
            free(user);
            free(secret);
            snprintf(err, errlen, "line %d: expected \"user\" \"secret\"", lineno);
            userlist_free(ul);
            return WR_ERROR;
        }
        /* Anything after the two tokens (PgBouncer allows extra fields) is ignored. */
        while (p < end && *p != '\n')
            p++;
        p++;
        struct user_secret *items = realloc(ul->items, sizeof(*items) * (ul->n + 1));
        if (!items) {
            free(user);
            free(secret);
            userlist_free(ul);
            return WR_ERROR;
        }
        ul->items = items;
        ul->items[ul->n].user = user;
        ul->items[ul->n].secret = secret;
        ul->n++;
    }
    *out = ul;
    return WR_OK;
}

int userlist_load(const char *path, struct userlist **out, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (textfile_read(path, &text, &len, err, errlen) != WR_OK)
        return WR_ERROR;
    char lerr[200];
    int r = userlist_parse(text ? text : "", len, out, lerr, sizeof(lerr));
    if (r != WR_OK)
        snprintf(err, errlen, "%s: %s", path, lerr);
    textfile_free(text, len);
    return r;
}

void userlist_free(struct userlist *ul)
{
    if (!ul)
        return;
    for (int i = 0; i < ul->n; i++) {
        free(ul->items[i].user);
        /* Secrets are wiped before their memory goes back to malloc. */
        explicit_bzero(ul->items[i].secret, strlen(ul->items[i].secret));
        free(ul->items[i].secret);
    }
    free(ul->items);
    free(ul);
}

static const struct user_secret *find(const struct userlist *ul, const char *user)
{
    for (int i = 0; ul && i < ul->n; i++)
        if (!strcmp(ul->items[i].user, user))
            return &ul->items[i];
    return NULL;
}

const char *userlist_secret(const struct userlist *ul, const char *user)
{
    const struct user_secret *e = find(ul, user);
    return e ? e->secret : NULL;
}

const char *userlist_name(const struct userlist *ul, const char *user)
{
    const struct user_secret *e = find(ul, user);
    return e ? e->user : NULL;
}

int userlist_count(const struct userlist *ul)
{
    return ul ? ul->n : 0;
}
