/* hba.c -- parser and matcher of auth_hba_file (see hba.h). */
#include "pooler/conf/hba.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pooler/conf/netlist.h"
#include "pooler/conf/textfile.h"

enum hba_type { T_LOCAL, T_HOST, T_HOSTSSL, T_HOSTNOSSL };

/* One database or user name of a rule; a quoted word is never a keyword. */
struct hba_name {
    char *text;
    bool quoted;
};

struct hba_rule {
    int line;
    uint8_t type;   /* enum hba_type */
    uint8_t method; /* enum hba_method */
    bool any_addr;
    struct net_cidr net;
    struct hba_name *dbs, *users;
    int ndbs, nusers;
};

struct hba {
    atomic_int refs;
    struct hba_rule *rules;
    int n;
};

/* A field: its items (comma-separated in the file). */
struct field {
    struct hba_name *items;
    int n;
};

#define MAX_FIELDS 8

struct line_parse {
    const char *p, *end;
    int line;
    char *err;
    size_t errlen;
};

static bool fail(struct line_parse *lp, const char *fmt, ...)
{
    int n = snprintf(lp->err, lp->errlen, "line %d: ", lp->line);
    if (n < 0 || (size_t)n >= lp->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lp->err + n, lp->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static void field_free(struct field *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->items[i].text);
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* One item at lp->p: a "quoted" word ("" inside is one quote) or a bare run. */
static bool read_item(struct line_parse *lp, struct hba_name *out)
{
    const char *p = lp->p, *end = lp->end;
    size_t cap = 32, len = 0;
    char *t = malloc(cap);
    if (!t)
        return fail(lp, "out of memory");
    bool quoted = p < end && *p == '"';
    if (quoted)
        p++;
    for (;;) {
        if (p >= end || *p == '\n') {
            if (quoted) {
                free(t);
                return fail(lp, "unterminated quoted name");
            }
            break;
        }
        if (quoted && *p == '"') {
            if (p + 1 < end && p[1] == '"') {
                p++;
            } else {
                p++;
                break;
            }
        } else if (!quoted && (blank(*p) || *p == ',' || *p == '#')) {
            break;
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *n = realloc(t, cap);
            if (!n) {
                free(t);
                return fail(lp, "out of memory");
            }
            t = n;
        }
        t[len++] = *p++;
    }
    t[len] = '\0';
    if (len == 0 && !quoted) {
        free(t);
        return fail(lp, "empty name in a list");
    }
    out->text = t;
    out->quoted = quoted;
    lp->p = p;
    return true;
}

/* The fields of the line at lp->p (up to its newline, past a comment). */
static bool read_fields(struct line_parse *lp, struct field *f, int *nf)
{
    *nf = 0;
    for (;;) {
        while (lp->p < lp->end && blank(*lp->p))
            lp->p++;
        if (lp->p >= lp->end || *lp->p == '\n' || *lp->p == '#')
            break;
        if (*nf == MAX_FIELDS)
            return fail(lp, "too many fields");
        struct field *cur = &f[(*nf)++];
        for (;;) {
            struct hba_name *n = realloc(cur->items, sizeof(*n) * (size_t)(cur->n + 1));
            if (!n)
                return fail(lp, "out of memory");
            cur->items = n;
            if (!read_item(lp, &cur->items[cur->n]))
                return false;
            cur->n++;
            if (lp->p < lp->end && *lp->p == ',') {
                lp->p++;
                continue;
            }
            break;
        }
        if (lp->p < lp->end && !blank(*lp->p) && *lp->p != '\n' && *lp->p != '#')
            return fail(lp, "unexpected character '%c'", *lp->p);
    }
    while (lp->p < lp->end && *lp->p != '\n')
        lp->p++;
    return true;
}

/* The field's single bare word, or NULL. */
static const char *word(const struct field *f)
{
    return f->n == 1 && !f->items[0].quoted ? f->items[0].text : NULL;
}

static bool check_names(struct line_parse *lp, const struct field *f, bool database)
{
    for (int i = 0; i < f->n; i++) {
        const struct hba_name *n = &f->items[i];
        if (n->quoted)
            continue;
        if (n->text[0] == '@')
            return fail(lp, "@file lists are not supported (\"%.64s\")", n->text);
        if (!database && n->text[0] == '+')
            return fail(lp, "+group user lists are not supported (\"%.64s\")", n->text);
        if (f->n > 1 && (!strcmp(n->text, "all") || (database && !strcmp(n->text, "sameuser"))))
            return fail(lp, "\"%s\" cannot be part of a list", n->text);
    }
    return true;
}

static int mask_bits(const uint8_t *m, int bytes)
{
    int bits = 0;
    for (int i = 0; i < bytes * 8; i++) {
        bool one = m[i / 8] & (0x80u >> (i % 8));
        if (one && bits != i)
            return -1; /* not contiguous */
        if (one)
            bits++;
    }
    return bits;
}

/* ADDRESS [MASK] from f[*at], advancing *at. */
static bool parse_address(struct line_parse *lp, struct field *f, int nf, int *at,
                          struct hba_rule *r)
{
    const char *a = word(&f[*at]);
    if (!a)
        return fail(lp, "the address must be a single unquoted word");
    (*at)++;
    if (!strcmp(a, "all")) {
        r->any_addr = true;
        return true;
    }
    if (!strcmp(a, "samehost") || !strcmp(a, "samenet"))
        return fail(lp, "%s is not supported", a);
    if (strchr(a, '/')) {
        if (!net_cidr_parse(a, &r->net))
            return fail(lp, "bad address \"%.64s\"", a);
        return true;
    }
    uint8_t ip[16];
    int family = inet_pton(AF_INET, a, ip) == 1    ? AF_INET
                 : inet_pton(AF_INET6, a, ip) == 1 ? AF_INET6
                                                   : 0;
    if (!family)
        return fail(lp, "\"%.64s\" is not an IP address (host names are not supported)", a);
    /* "addr mask": the mask is the next field, when that is an address too */
    int bits = family == AF_INET ? 32 : 128;
    const char *m = *at < nf ? word(&f[*at]) : NULL;
    uint8_t mb[16];
    if (m && inet_pton(family, m, mb) == 1) {
        bits = mask_bits(mb, family == AF_INET ? 4 : 16);
        if (bits < 0)
            return fail(lp, "bad mask \"%.64s\"", m);
        (*at)++;
    }
    char text[INET6_ADDRSTRLEN + 8];
    snprintf(text, sizeof(text), "%s/%d", a, bits);
    if (!net_cidr_parse(text, &r->net))
        return fail(lp, "bad address \"%.64s\"", a);
    return true;
}

static const char *const method_names[] = {
    [HBA_NONE] = "none",         [HBA_TRUST] = "trust", [HBA_REJECT] = "reject",
    [HBA_PASSWORD] = "password", [HBA_MD5] = "md5",     [HBA_SCRAM] = "scram-sha-256",
    [HBA_CERT] = "cert",
};

const char *hba_method_name(enum hba_method m)
{
    return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : "?";
}

/* The rule of one line's fields into *r (which takes the name lists). */
static bool parse_rule(struct line_parse *lp, struct field *f, int nf, struct hba_rule *r)
{
    static const char *const types[] = {"local", "host", "hostssl", "hostnossl"};
    const char *t = word(&f[0]);
    int type = -1;
    for (int i = 0; t && i < 4; i++)
        if (!strcmp(t, types[i]))
            type = i;
    if (type < 0)
        return fail(lp, "unknown connection type \"%.32s\" (local, host, hostssl, hostnossl)",
                    f[0].n ? f[0].items[0].text : "");
    r->type = (uint8_t)type;
    int need = type == T_LOCAL ? 4 : 5;
    if (nf < need)
        return fail(lp, "too few fields: %s DATABASE USER%s METHOD", types[type],
                    type == T_LOCAL ? "" : " ADDRESS");
    if (!check_names(lp, &f[1], true) || !check_names(lp, &f[2], false))
        return false;
    int at = 3;
    if (type != T_LOCAL && !parse_address(lp, f, nf, &at, r))
        return false;
    if (at >= nf)
        return fail(lp, "no method");
    const char *m = word(&f[at]);
    int method = HBA_NONE;
    for (int i = HBA_TRUST; m && i <= HBA_CERT; i++)
        if (!strcmp(m, method_names[i]))
            method = i;
    if (method == HBA_NONE)
        return fail(lp,
                    "method \"%.32s\" is not supported (trust, reject, password, md5, "
                    "scram-sha-256, cert)",
                    f[at].n ? f[at].items[0].text : "");
    if (at + 1 < nf)
        return fail(lp, "options after the method are not supported (\"%.64s\")",
                    f[at + 1].items[0].text);
    r->method = (uint8_t)method;
    r->dbs = f[1].items;
    r->ndbs = f[1].n;
    r->users = f[2].items;
    r->nusers = f[2].n;
    f[1].items = f[2].items = NULL;
    f[1].n = f[2].n = 0;
    return true;
}

static void rule_free(struct hba_rule *r)
{
    struct field d = {r->dbs, r->ndbs}, u = {r->users, r->nusers};
    field_free(&d);
    field_free(&u);
}

static void hba_free(struct hba *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        rule_free(&h->rules[i]);
    free(h->rules);
    free(h);
}

int hba_parse(const char *text, size_t len, struct hba **out, char *err, size_t errlen)
{
    *out = NULL;
    struct hba *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    atomic_init(&h->refs, 1);
    struct line_parse lp = {.p = text, .end = text + len, .line = 0, .err = err, .errlen = errlen};
    while (lp.p < lp.end) {
        lp.line++;
        struct field f[MAX_FIELDS] = {{0}};
        int nf = 0;
        bool ok = read_fields(&lp, f, &nf);
        if (ok && nf > 0) {
            struct hba_rule *rules = realloc(h->rules, sizeof(*rules) * (size_t)(h->n + 1));
            ok = rules != NULL || fail(&lp, "out of memory");
            if (ok) {
                h->rules = rules;
                struct hba_rule *r = &rules[h->n];
                memset(r, 0, sizeof(*r));
                r->line = lp.line;
                ok = parse_rule(&lp, f, nf, r);
                if (ok)
                    h->n++;
            }
        }
        for (int i = 0; i < MAX_FIELDS; i++)
            field_free(&f[i]);
        if (!ok) {
            hba_free(h);
            return WR_ERROR;
        }
        if (lp.p < lp.end)
            lp.p++; /* the newline */
    }
    *out = h;
    return WR_OK;
}

int hba_load(const char *path, struct hba **out, char *err, size_t errlen)
{
    *out = NULL;
    char *text;
    size_t len;
    if (textfile_read(path, &text, &len, err, errlen) != WR_OK)
        return WR_ERROR;
    char why[256];
    int rc = hba_parse(text ? text : "", len, out, why, sizeof(why));
    if (rc != WR_OK)
        snprintf(err, errlen, "%s: %s", path, why);
    textfile_free(text, len);
    return rc;
}

struct hba *hba_ref(struct hba *h)
{
    if (h)
        atomic_fetch_add(&h->refs, 1);
    return h;
}

void hba_unref(struct hba *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1)
        hba_free(h);
}

int hba_count(const struct hba *h)
{
    return h ? h->n : 0;
}

static bool name_in(const struct hba_name *names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i].text, want))
            return true;
    return false;
}

static bool db_matches(const struct hba_rule *r, const struct hba_conn *c)
{
    if (c->replication) {
        for (int i = 0; i < r->ndbs; i++)
            if (!r->dbs[i].quoted && !strcmp(r->dbs[i].text, "replication"))
                return true;
        return false;
    }
    if (r->ndbs == 1 && !r->dbs[0].quoted) {
        if (!strcmp(r->dbs[0].text, "all"))
            return true;
        if (!strcmp(r->dbs[0].text, "sameuser"))
            return !strcmp(c->database, c->user);
    }
    for (int i = 0; i < r->ndbs; i++)
        if (!r->dbs[i].quoted && !strcmp(r->dbs[i].text, "replication"))
            return false;
    return name_in(r->dbs, r->ndbs, c->database);
}

static bool user_matches(const struct hba_rule *r, const struct hba_conn *c)
{
    if (r->nusers == 1 && !r->users[0].quoted && !strcmp(r->users[0].text, "all"))
        return true;
    return name_in(r->users, r->nusers, c->user);
}

static bool conn_matches(const struct hba_rule *r, const struct hba_conn *c)
{
    bool local = c->family == AF_UNIX;
    switch (r->type) {
    case T_LOCAL:
        return local;
    case T_HOSTSSL:
        if (!c->tls)
            return false;
        break;
    case T_HOSTNOSSL:
        if (c->tls)
            return false;
        break;
    }
    if (local)
        return false;
    return r->any_addr || (c->ip && net_cidr_match(&r->net, c->family, c->ip));
}

enum hba_method hba_match(const struct hba *h, const struct hba_conn *c, int *line)
{
    *line = 0;
    for (int i = 0; h && i < h->n; i++) {
        const struct hba_rule *r = &h->rules[i];
        if (conn_matches(r, c) && db_matches(r, c) && user_matches(r, c)) {
            *line = r->line;
            return (enum hba_method)r->method;
        }
    }
    return HBA_NONE;
}
