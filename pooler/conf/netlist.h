/*
 * netlist.h -- lists of networks ("10.0.0.0/8, 192.0.2.7, fd00::/8") parsed
 * once from the configuration and matched against a client's address:
 * proxy_protocol_networks.
 */
#ifndef WEIR_NETLIST_H
#define WEIR_NETLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

#define NETLIST_MAX 32 /* networks in one list; a 199-byte line holds fewer anyway */

struct net_cidr {
    uint8_t addr[16]; /* network order, host bits cleared; IPv4 in the first 4 bytes */
    uint8_t family;   /* AF_INET or AF_INET6 */
    uint8_t bits;     /* prefix length: 0..32 or 0..128 */
};

/* A fixed array, so a struct config holding one is copied by assignment. */
struct netlist {
    int n;
    struct net_cidr nets[NETLIST_MAX];
};

/*
 * Parses comma- (or space-) separated numeric addresses, each with an
 * optional /bits, into *out. An address alone is that one host. Host bits
 * beyond the prefix are cleared (10.1.2.3/8 is 10.0.0.0/8). Empty text gives
 * an empty list. WR_ERROR with a reason naming the bad entry in err.
 */
int netlist_parse(const char *text, struct netlist *out, char *err, size_t errlen) WR_MUST_CHECK;

/*
 * Is ip (family AF_INET: 4 bytes, AF_INET6: 16 bytes) inside one of the
 * networks? An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches as IPv4.
 */
bool netlist_match(const struct netlist *nl, int family, const uint8_t *ip);

/* One entry, "addr" or "addr/bits", into *c (host bits cleared). False when it is not one. */
bool net_cidr_parse(const char *s, struct net_cidr *c);
/* Is ip inside c? An IPv4-mapped IPv6 address matches as IPv4. */
bool net_cidr_match(const struct net_cidr *c, int family, const uint8_t *ip);

#endif
