/*
 * dns.h -- database host names resolved without blocking a loop: a cache of
 * answers and a resolver thread driving c-ares.
 *
 * A lookup never waits: it returns the cached addresses (fresh, or stale
 * while a new query refreshes them), or says a query is on its way; when an
 * answer (or a failure) arrives, every worker gets MSG_DNS and the logins
 * that waited look again. Answers are kept for their TTL, clamped between
 * DNS_MIN_TTL and dns_max_ttl; failures for dns_nxdomain_ttl. A login that
 * could not reach a cached address marks it (it goes last in the list) and
 * forgets the answer, so the name is resolved again.
 *
 * The cache itself (struct dns_cache, dns_cache_*) is plain data with the
 * clock passed in, for the unit tests; dns_* wrap it in a lock and the thread.
 */
#ifndef WEIR_DNS_H
#define WEIR_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "pooler/conf/config.h"

#define DNS_MAX_ADDRS 8
#define DNS_ADDRLEN   46  /* INET6_ADDRSTRLEN */
#define DNS_MIN_TTL   1.0 /* seconds: the floor of a cached answer's lifetime */

enum dns_result {
    DNS_FOUND,   /* addresses copied (maybe stale: a refresh was started) */
    DNS_PENDING, /* no address yet: a query is on its way */
    DNS_FAILED,  /* the last query failed (remembered for dns_nxdomain_ttl): err says why */
};

struct dns_entry {
    struct dns_entry *next;
    char *name;
    char addrs[DNS_MAX_ADDRS][DNS_ADDRLEN];
    bool bad[DNS_MAX_ADDRS]; /* a login could not reach it: tried last */
    int naddrs;
    double ttl;       /* of the last answer, clamped */
    double expires;   /* the answer (or the failure) is good until then */
    bool querying;    /* a query is on its way */
    char error[128];  /* why the last query failed, "" after a good answer */
    long long hits;   /* lookups answered from the cache */
    long long misses; /* lookups that had to wait */
};

struct dns_cache {
    struct dns_entry *head;
    int n;
};

/*
 * Looks name up at time now. DNS_FOUND copies up to DNS_MAX_ADDRS addresses
 * (good ones first); DNS_PENDING and DNS_FAILED copy none. *query is set when
 * the caller must start a query for name (the entry is then marked querying).
 */
enum dns_result dns_cache_lookup(struct dns_cache *c, const char *name, double now,
                                 char addrs[][DNS_ADDRLEN], int *naddrs, bool *query, char *err,
                                 size_t errlen);
/* An answer for name: n addresses, ttl as the server gave it (clamped to [min_ttl, max_ttl]). */
void dns_cache_answer(struct dns_cache *c, const char *name, const char addrs[][DNS_ADDRLEN], int n,
                      double ttl, double now, double min_ttl, double max_ttl);
/* A failed query for name: err is kept until now + keep (stale addresses stay usable). */
void dns_cache_failed(struct dns_cache *c, const char *name, const char *err, double now,
                      double keep);
/* A login could not reach addr of name: it goes last, and the answer is refreshed. */
void dns_cache_unreachable(struct dns_cache *c, const char *name, const char *addr, double now);
void dns_cache_free(struct dns_cache *c);

/*
 * Starts the resolver thread with cfg's dns_nameservers (empty: the system's
 * resolv.conf and hosts file). WR_ERROR with err when c-ares cannot start.
 */
int dns_start(const struct config *cfg, char *err, size_t errlen) WR_MUST_CHECK;
/* Stops the thread (idempotent); later lookups that need a query fail at once. */
void dns_stop(void);
/* Frees the cache (at exit, after the workers stopped). */
void dns_free_all(void);
/* dns_cache_lookup on the shared cache; a query it needs is handed to the thread. */
enum dns_result dns_lookup(const char *name, double now, char addrs[][DNS_ADDRLEN], int *naddrs,
                           char *err, size_t errlen);
/* dns_cache_unreachable on the shared cache. */
void dns_unreachable(const char *name, const char *addr, double now);

/* One cached name, for SHOW DNS_HOSTS and /metrics. */
struct dns_row {
    char name[256];
    double ttl;
    double expires_in; /* seconds left, negative when stale */
    char addrs[DNS_MAX_ADDRS * (DNS_ADDRLEN + 1)];
    char error[128];
    bool querying;
    long long hits, misses;
};
/* The cached names (*out malloc'ed); count, -1 when out of memory. */
int dns_rows(double now, struct dns_row **out);

#endif
