/*
 * dns.c -- the DNS cache and the resolver thread (see dns.h).
 *
 * The thread owns the c-ares channel: it polls c-ares's sockets, an eventfd
 * that wakes it for new queries, and c-ares's own timeouts, so a name server
 * that never answers costs the thread a timer and no worker anything. A
 * query ends within c-ares's tries (QUERY_TIMEOUT_MS doubled per try); the
 * logins that wait for it have their own deadline (server_connect_timeout).
 */
#include "pooler/pool/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"

#define QUERY_TIMEOUT_MS 1500
#define QUERY_TRIES      2

/* ---- the cache (plain data) ---- */

static struct dns_entry *find(struct dns_cache *c, const char *name)
{
    for (struct dns_entry *e = c->head; e; e = e->next)
        if (!strcmp(e->name, name))
            return e;
    return NULL;
}

static struct dns_entry *find_or_add(struct dns_cache *c, const char *name)
{
    struct dns_entry *e = find(c, name);
    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    e->next = c->head;
    c->head = e;
    c->n++;
    return e;
}

enum dns_result dns_cache_lookup(struct dns_cache *c, const char *name, double now,
                                 char addrs[][DNS_ADDRLEN], int *naddrs, bool *query, char *err,
                                 size_t errlen)
{
    *naddrs = 0;
    *query = false;
    struct dns_entry *e = find_or_add(c, name);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return DNS_FAILED;
    }
    if (now >= e->expires && !e->querying) {
        e->querying = true;
        *query = true;
    }
    if (e->naddrs > 0) {
        /* Good addresses first, in the order of the answer. */
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < e->naddrs; i++)
                if (e->bad[i] == (pass == 1))
                    memcpy(addrs[(*naddrs)++], e->addrs[i], DNS_ADDRLEN);
        e->hits++;
        return DNS_FOUND;
    }
    if (e->error[0] && !e->querying) {
        snprintf(err, errlen, "%s", e->error);
        return DNS_FAILED;
    }
    e->misses++;
    return DNS_PENDING;
}

void dns_cache_answer(struct dns_cache *c, const char *name, const char addrs[][DNS_ADDRLEN], int n,
                      double ttl, double now, double min_ttl, double max_ttl)
{
    struct dns_entry *e = find_or_add(c, name);
    if (!e)
        return;
    /* An address that a login could not reach stays marked while the answer still has it. */
    bool bad[DNS_MAX_ADDRS] = {false};
    for (int i = 0; i < n && i < DNS_MAX_ADDRS; i++)
        for (int j = 0; j < e->naddrs; j++)
            if (e->bad[j] && !strcmp(e->addrs[j], addrs[i]))
                bad[i] = true;
    e->naddrs = 0;
    for (int i = 0; i < n && i < DNS_MAX_ADDRS; i++) {
        snprintf(e->addrs[i], DNS_ADDRLEN, "%s", addrs[i]);
        e->bad[i] = bad[i];
        e->naddrs++;
    }
    if (ttl < min_ttl)
        ttl = min_ttl;
    if (ttl > max_ttl)
        ttl = max_ttl;
    e->ttl = ttl;
    e->expires = now + ttl;
    e->querying = false;
    e->error[0] = 0;
}

void dns_cache_failed(struct dns_cache *c, const char *name, const char *err, double now,
                      double keep)
{
    struct dns_entry *e = find_or_add(c, name);
    if (!e)
        return;
    snprintf(e->error, sizeof(e->error), "%s", err);
    e->expires = now + (keep > DNS_MIN_TTL ? keep : DNS_MIN_TTL);
    e->querying = false;
}

void dns_cache_unreachable(struct dns_cache *c, const char *name, const char *addr, double now)
{
    struct dns_entry *e = find(c, name);
    if (!e)
        return;
    for (int i = 0; i < e->naddrs; i++)
        if (!strcmp(e->addrs[i], addr))
            e->bad[i] = true;
    if (e->expires > now)
        e->expires = now; /* the next lookup starts a fresh query */
}

void dns_cache_free(struct dns_cache *c)
{
    struct dns_entry *e = c->head;
    while (e) {
        struct dns_entry *next = e->next;
        free(e->name);
        free(e);
        e = next;
    }
    c->head = NULL;
    c->n = 0;
}

/* ---- the shared cache and the resolver thread ---- */

struct pending {
    struct pending *next;
    char name[256];
};

static struct {
    pthread_mutex_t lock; /* cache, queue, stop */
    struct dns_cache cache;
    struct pending *queue;
    bool stop;
    bool running;
    int wake_fd;
    pthread_t thread;
    ares_channel channel;
    double min_ttl, nx_ttl;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1};

/* Every worker looks again at its logins waiting for a name. */
static void tell_workers(void)
{
    for (int i = 0; i < weir.nworkers; i++)
        worker_post(&weir.workers[i], msg_new(MSG_DNS));
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    char *name = arg;
    if (status == ARES_EDESTRUCTION) {
        if (res)
            ares_freeaddrinfo(res);
        free(name);
        return;
    }
    double now = ev_time();
    char addrs[DNS_MAX_ADDRS][DNS_ADDRLEN];
    int n = 0;
    int ttl = -1;
    if (status == ARES_SUCCESS && res) {
        for (struct ares_addrinfo_node *a = res->nodes; a && n < DNS_MAX_ADDRS; a = a->ai_next) {
            const void *src = a->ai_family == AF_INET
                                  ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                  : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                !inet_ntop(a->ai_family, src, addrs[n], DNS_ADDRLEN))
                continue;
            bool dup = false;
            for (int i = 0; i < n && !dup; i++)
                dup = !strcmp(addrs[i], addrs[n]);
            if (dup)
                continue;
            if (ttl < 0 || a->ai_ttl < ttl)
                ttl = a->ai_ttl;
            n++;
        }
    }
    if (res)
        ares_freeaddrinfo(res);
    /* The running configuration's (a reload changes them); configurations live until exit. */
    const struct config *cfg = weir.cfg;
    double max_ttl = cfg && cfg->dns_max_ttl > DNS_MIN_TTL ? cfg->dns_max_ttl : DNS_MIN_TTL;
    double nx_ttl = cfg ? cfg->dns_nxdomain_ttl : R.nx_ttl;
    pthread_mutex_lock(&R.lock);
    if (n > 0) {
        dns_cache_answer(&R.cache, name, (const char(*)[DNS_ADDRLEN])addrs, n, ttl, now, R.min_ttl,
                         max_ttl);
    } else {
        char err[128];
        snprintf(err, sizeof(err), "%s",
                 status == ARES_SUCCESS ? "no address in the answer" : ares_strerror(status));
        dns_cache_failed(&R.cache, name, err, now, nx_ttl);
    }
    pthread_mutex_unlock(&R.lock);
    if (n > 0)
        log_debug("dns: %s resolved: %d address(es), ttl %d s", name, n, ttl);
    else
        log_warning("dns: could not resolve %s: %s", name,
                    status == ARES_SUCCESS ? "no address" : ares_strerror(status));
    free(name);
    tell_workers();
}

static void start_queries(void)
{
    pthread_mutex_lock(&R.lock);
    struct pending *q = R.queue;
    R.queue = NULL;
    pthread_mutex_unlock(&R.lock);
    while (q) {
        struct pending *next = q->next;
        char *name = strdup(q->name);
        if (name) {
            struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
            ares_getaddrinfo(R.channel, name, NULL, &hints, on_answer, name);
        } else {
            pthread_mutex_lock(&R.lock);
            dns_cache_failed(&R.cache, q->name, "out of memory", ev_time(), DNS_MIN_TTL);
            pthread_mutex_unlock(&R.lock);
        }
        free(q);
        q = next;
    }
}

static void *resolver_main(void *arg)
{
    for (;;) {
        start_queries();
        pthread_mutex_lock(&R.lock);
        bool stop = R.stop;
        pthread_mutex_unlock(&R.lock);
        if (stop)
            break;
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        /* c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit: test unsigned. */
        unsigned bits = (unsigned)ares_getsock(R.channel, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM + 1];
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = R.wake_fd, .events = POLLIN};
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (bits & (1u << i) ? POLLIN : 0) |
                       (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0);
            if (ev)
                pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        struct timeval tv, *tvp = ares_timeout(R.channel, NULL, &tv);
        int ms = tvp ? (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000) : -1;
        int rc = poll(pfd, n, ms);
        if (rc < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            if (read(R.wake_fd, &v, sizeof(v)) < 0) {
                /* nothing to drain */
            }
        }
        bool any = false;
        for (int i = 1; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            any = true;
            bool r = pfd[i].revents & (POLLIN | POLLERR | POLLHUP);
            bool w = pfd[i].revents & (POLLOUT | POLLERR | POLLHUP);
            ares_process_fd(R.channel, r ? pfd[i].fd : ARES_SOCKET_BAD,
                            w ? pfd[i].fd : ARES_SOCKET_BAD);
        }
        if (!any)
            ares_process_fd(R.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    }
    return NULL;
}

int dns_start(const struct config *cfg, char *err, size_t errlen)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return WR_ERROR;
    }
    struct ares_options opts = {.timeout = QUERY_TIMEOUT_MS, .tries = QUERY_TRIES};
    rc = ares_init_options(&R.channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        goto failed_lib;
    }
    if (cfg->dns_nameservers && cfg->dns_nameservers[0]) {
        rc = ares_set_servers_ports_csv(R.channel, cfg->dns_nameservers);
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "dns_nameservers \"%.100s\": %s", cfg->dns_nameservers,
                     ares_strerror(rc));
            goto failed_channel;
        }
    }
    R.min_ttl = DNS_MIN_TTL;
    R.nx_ttl = cfg->dns_nxdomain_ttl;
    R.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (R.wake_fd == -1) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto failed_channel;
    }
    if (pthread_create(&R.thread, NULL, resolver_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the resolver thread");
        close(R.wake_fd);
        R.wake_fd = -1;
        goto failed_channel;
    }
    pthread_mutex_lock(&R.lock);
    R.running = true;
    pthread_mutex_unlock(&R.lock);
    return WR_OK;
failed_channel:
    ares_destroy(R.channel);
failed_lib:
    ares_library_cleanup();
    return WR_ERROR;
}

void dns_stop(void)
{
    pthread_mutex_lock(&R.lock);
    bool running = R.running;
    R.stop = true;
    R.running = false;
    if (running) {
        uint64_t one = 1;
        if (write(R.wake_fd, &one, sizeof(one)) < 0) {
            /* the counter is full: the thread is awake anyway */
        }
    }
    pthread_mutex_unlock(&R.lock);
    if (!running)
        return;
    pthread_join(R.thread, NULL);
    ares_destroy(R.channel); /* pending queries end with ARES_EDESTRUCTION */
    ares_library_cleanup();
    close(R.wake_fd);
    R.wake_fd = -1;
}

void dns_free_all(void)
{
    pthread_mutex_lock(&R.lock);
    while (R.queue) {
        struct pending *next = R.queue->next;
        free(R.queue);
        R.queue = next;
    }
    dns_cache_free(&R.cache);
    pthread_mutex_unlock(&R.lock);
}

enum dns_result dns_lookup(const char *name, double now, char addrs[][DNS_ADDRLEN], int *naddrs,
                           char *err, size_t errlen)
{
    bool query;
    pthread_mutex_lock(&R.lock);
    enum dns_result res = dns_cache_lookup(&R.cache, name, now, addrs, naddrs, &query, err, errlen);
    struct pending *q = NULL;
    if (query && R.running && !R.stop && (q = calloc(1, sizeof(*q)))) {
        snprintf(q->name, sizeof(q->name), "%s", name);
        q->next = R.queue;
        R.queue = q;
    } else if (query) {
        dns_cache_failed(&R.cache, name,
                         R.running ? "out of memory" : "the resolver is not running", now,
                         DNS_MIN_TTL);
        if (res == DNS_PENDING) {
            snprintf(err, errlen, "%s",
                     R.running ? "out of memory" : "the resolver is not running");
            res = DNS_FAILED;
        }
    }
    if (q) {
        uint64_t one = 1;
        if (write(R.wake_fd, &one, sizeof(one)) < 0) {
            /* the counter is full: the thread is awake anyway */
        }
    }
    pthread_mutex_unlock(&R.lock);
    return res;
}

void dns_unreachable(const char *name, const char *addr, double now)
{
    pthread_mutex_lock(&R.lock);
    dns_cache_unreachable(&R.cache, name, addr, now);
    pthread_mutex_unlock(&R.lock);
}

int dns_rows(double now, struct dns_row **out)
{
    pthread_mutex_lock(&R.lock);
    int n = R.cache.n;
    struct dns_row *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        pthread_mutex_unlock(&R.lock);
        return -1;
    }
    int i = 0;
    for (struct dns_entry *e = R.cache.head; e && i < n; e = e->next, i++) {
        struct dns_row *r = &rows[i];
        snprintf(r->name, sizeof(r->name), "%s", e->name);
        r->ttl = e->ttl;
        r->expires_in = e->expires - now;
        size_t used = 0;
        for (int j = 0; j < e->naddrs; j++)
            used += snprintf(r->addrs + used, sizeof(r->addrs) - used, "%s%s", j ? "," : "",
                             e->addrs[j]);
        snprintf(r->error, sizeof(r->error), "%s", e->error);
        r->querying = e->querying;
        r->hits = e->hits;
        r->misses = e->misses;
    }
    pthread_mutex_unlock(&R.lock);
    *out = rows;
    return i;
}
