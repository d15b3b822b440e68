/* netlist.c -- lists of IPv4/IPv6 networks from the configuration (see netlist.h). */
#include "pooler/conf/netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool net_cidr_parse(const char *s, struct net_cidr *c)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= sizeof(addr))
        return false;
    memcpy(addr, s, al);
    addr[al] = '\0';
    memset(c, 0, sizeof(*c));
    int max;
    if (inet_pton(AF_INET, addr, c->addr) == 1) {
        c->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
        c->family = AF_INET6;
        max = 128;
    } else {
        return false;
    }
    int bits = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return false;
        bits = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return false;
            bits = bits * 10 + (*p - '0');
        }
        if (bits > max)
            return false;
    }
    c->bits = (uint8_t)bits;
    for (int i = bits; i < max; i++)
        c->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return true;
}

int netlist_parse(const char *text, struct netlist *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        char entry[64];
        snprintf(entry, sizeof(entry), "%.*s", (int)(n < 63 ? n : 63), p);
        if (out->n == NETLIST_MAX) {
            snprintf(err, errlen, "more than %d networks", NETLIST_MAX);
            return WR_ERROR;
        }
        if (n >= sizeof(entry) || !net_cidr_parse(entry, &out->nets[out->n])) {
            snprintf(err, errlen, "\"%s\" is not a numeric address or address/bits", entry);
            return WR_ERROR;
        }
        out->n++;
        p += n;
    }
    return WR_OK;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole))
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a[whole] & mask) == net[whole];
}

bool net_cidr_match(const struct net_cidr *c, int family, const uint8_t *ip)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && !memcmp(ip, v4mapped, sizeof(v4mapped))) {
        family = AF_INET;
        ip += 12;
    }
    return c->family == family && prefix_match(ip, c->addr, c->bits);
}

bool netlist_match(const struct netlist *nl, int family, const uint8_t *ip)
{
    for (int i = 0; i < nl->n; i++)
        if (net_cidr_match(&nl->nets[i], family, ip))
            return true;
    return false;
}
