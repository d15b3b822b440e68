/*
 * hostlist.h -- the hosts of a [databases] entry: "host=a,b,c" with "port="
 * given once or once per host (libpq's rule), and how a login picks among
 * them (target_session_attrs and load_balance_hosts, libpq's names and
 * meanings). Data only: the walk over the hosts is pool/hosts.c's.
 */
#ifndef WEIR_HOSTLIST_H
#define WEIR_HOSTLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/result.h"

#define HOSTLIST_MAX 16 /* hosts in one entry */

/* One host of an entry. */
struct host_spec {
    char *name; /* numeric address, host name, or unix socket path (starts with '/') */
    int port;
};

/* Which servers a login accepts (libpq's target_session_attrs). */
enum target_attrs {
    TSA_ANY = 0,        /* any server */
    TSA_READ_WRITE,     /* writes allowed: not in recovery, default_transaction_read_only off */
    TSA_READ_ONLY,      /* writes refused: in recovery or default_transaction_read_only on */
    TSA_PRIMARY,        /* not in recovery (MySQL: read_only off) */
    TSA_STANDBY,        /* in recovery (MySQL: read_only on) */
    TSA_PREFER_STANDBY, /* a standby when one is up, else any */
};

/* How new server connections spread over the fitting hosts (libpq's load_balance_hosts). */
enum load_balance {
    LB_DISABLE = 0, /* in the order of the list */
    LB_RANDOM,      /* a random order for each new connection */
};

/*
 * Splits hosts ("a,b,c") and ports ("5432" or "5432,5433,5434"; NULL:
 * default_port for every host) into *out (malloc'ed, n entries; free with
 * hostlist_free). A host is a numeric address, a host name (letters, digits,
 * '-', '.', '_') or a unix socket path; empty items, more than HOSTLIST_MAX
 * hosts and a port count that is neither 1 nor the host count are errors
 * (WR_ERROR with err set, nothing allocated).
 */
int hostlist_parse(const char *hosts, const char *ports, int default_port, struct host_spec **out,
                   int *n, char *err, size_t errlen) WR_MUST_CHECK;
void hostlist_free(struct host_spec *h, int n);
/* A deep copy of n specs, or NULL when out of memory (or n is 0). */
struct host_spec *hostlist_dup(const struct host_spec *h, int n);

/* Parses a target_session_attrs value; -1 when unknown. */
int hostlist_parse_tsa(const char *v);
const char *hostlist_tsa_name(enum target_attrs t);
/* Parses a load_balance_hosts value; -1 when unknown. */
int hostlist_parse_lb(const char *v);
const char *hostlist_lb_name(enum load_balance lb);

/* True when name is a numeric IPv4 or IPv6 address. */
bool hostlist_is_numeric(const char *name);

#endif
