/* hostlist.c -- parsing of a [databases] entry's host and port lists and host choice keys. */
#include "pooler/conf/hostlist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tsa_names[] = {"any",     "read-write", "read-only",
                                        "primary", "standby",    "prefer-standby"};
static const char *const lb_names[] = {"disable", "random"};

int hostlist_parse_tsa(const char *v)
{
    for (int i = 0; i < (int)(sizeof(tsa_names) / sizeof(tsa_names[0])); i++)
        if (!strcasecmp(v, tsa_names[i]))
            return i;
    return -1;
}

const char *hostlist_tsa_name(enum target_attrs t)
{
    return tsa_names[t];
}

int hostlist_parse_lb(const char *v)
{
    for (int i = 0; i < 2; i++)
        if (!strcasecmp(v, lb_names[i]))
            return i;
    return -1;
}

const char *hostlist_lb_name(enum load_balance lb)
{
    return lb_names[lb];
}

bool hostlist_is_numeric(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* A host name as DNS allows it (RFC 1123 labels, '_' tolerated), at most 253 bytes. */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

/* Splits s at commas into at most max items (start, length); -1 when there are more. */
static int split(const char *s, const char *item[], size_t len[], int max)
{
    int n = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (n == max)
            return -1;
        item[n] = p;
        len[n++] = l;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

int hostlist_parse(const char *hosts, const char *ports, int default_port, struct host_spec **out,
                   int *n, char *err, size_t errlen)
{
    const char *hitem[HOSTLIST_MAX], *pitem[HOSTLIST_MAX];
    size_t hlen[HOSTLIST_MAX], plen[HOSTLIST_MAX];
    int nh = split(hosts, hitem, hlen, HOSTLIST_MAX);
    if (nh < 0) {
        snprintf(err, errlen, "more than %d hosts", HOSTLIST_MAX);
        return WR_ERROR;
    }
    int np = ports ? split(ports, pitem, plen, HOSTLIST_MAX) : 0;
    if (np < 0 || (ports && np != 1 && np != nh)) {
        snprintf(err, errlen, "%d hosts but %d ports: give one port, or one per host", nh,
                 np < 0 ? HOSTLIST_MAX + 1 : np);
        return WR_ERROR;
    }
    int portv[HOSTLIST_MAX];
    for (int i = 0; i < np; i++) {
        char buf[8], *end;
        if (plen[i] == 0 || plen[i] >= sizeof(buf)) {
            snprintf(err, errlen, "bad port \"%.*s\"", (int)(plen[i] > 16 ? 16 : plen[i]),
                     pitem[i]);
            return WR_ERROR;
        }
        memcpy(buf, pitem[i], plen[i]);
        buf[plen[i]] = 0;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (errno || *end || v < 1 || v > 65535) {
            snprintf(err, errlen, "bad port \"%s\"", buf);
            return WR_ERROR;
        }
        portv[i] = (int)v;
    }
    for (int i = 0; i < nh; i++) {
        char buf[256];
        if (hlen[i] == 0 || hlen[i] >= sizeof(buf)) {
            snprintf(err, errlen, hlen[i] ? "host name too long" : "empty host in the list");
            return WR_ERROR;
        }
        memcpy(buf, hitem[i], hlen[i]);
        buf[hlen[i]] = 0;
        if (buf[0] != '/' && !hostlist_is_numeric(buf) && !valid_name(buf, hlen[i])) {
            snprintf(err, errlen,
                     "bad host \"%s\" (a numeric address, a host name or a socket "
                     "path)",
                     buf);
            return WR_ERROR;
        }
    }
    struct host_spec *h = calloc(nh, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    for (int i = 0; i < nh; i++) {
        h[i].name = strndup(hitem[i], hlen[i]);
        h[i].port = np == 0 ? default_port : portv[np == 1 ? 0 : i];
        if (!h[i].name) {
            hostlist_free(h, i);
            snprintf(err, errlen, "out of memory");
            return WR_ERROR;
        }
    }
    *out = h;
    *n = nh;
    return WR_OK;
}

void hostlist_free(struct host_spec *h, int n)
{
    for (int i = 0; h && i < n; i++)
        free(h[i].name);
    free(h);
}

struct host_spec *hostlist_dup(const struct host_spec *h, int n)
{
    if (n == 0)
        return NULL;
    struct host_spec *d = calloc(n, sizeof(*d));
    if (!d)
        return NULL;
    for (int i = 0; i < n; i++) {
        d[i].port = h[i].port;
        if (!(d[i].name = strdup(h[i].name))) {
            hostlist_free(d, i);
            return NULL;
        }
    }
    return d;
}
