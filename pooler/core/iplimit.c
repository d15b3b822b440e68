/*
 * iplimit.c -- the per-address table (see iplimit.h): a chained hash under
 * one mutex, with a seeded hash so that addresses chosen by a client (an
 * IPv6 /64 holds plenty) cannot pile up in one chain.
 *
 * An entry with open connections is never dropped (its count must meet its
 * release); one without sits on the idle list, least recently seen first.
 * Whatever an idle entry remembers runs out a known time after it was last
 * touched: its bucket is full after burst/rate seconds, its failures leave
 * the window, its ban ends. So the sweep frees from the head of the idle
 * list while the head is older than the longest of those, and never walks
 * further.
 */
#include "pooler/core/iplimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "pooler/core/worker.h"

#define BUCKETS 16384 /* power of two; chains stay short up to the idle cap */

struct ip_entry {
    struct ip_entry *hnext;       /* hash chain */
    struct ip_entry *prev, *next; /* on the idle list (conns == 0), oldest first */
    uint8_t ip[16];
    uint8_t family;
    int conns;        /* open connections counted by iplimit_admit */
    double tokens;    /* the bucket, as of tok_at */
    double tok_at;    /* when tokens was last brought up to date */
    int fails;        /* failed logins since fail_from */
    double fail_from; /* start of the current failure window */
    double ban_until;
    double touched; /* last admit, release or failure */
    uint64_t refused;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_entry *table[BUCKETS];                       /* [lock] */
static struct ip_entry idle = {.prev = &idle, .next = &idle}; /* list head [lock] */
static int nidle, nentries;                                   /* [lock] */
static uint64_t seed;
static atomic_ullong refusals[IPLIMIT_NREASONS];

static const char *const reason_names[IPLIMIT_NREASONS] = {
    "", "conn_per_ip", "conn_rate", "auth_failures", "pending_logins", "proxy_header",
};

const char *iplimit_reason_name(enum iplimit_reason r)
{
    return (unsigned)r < IPLIMIT_NREASONS ? reason_names[r] : "?";
}

void iplimit_init(void)
{
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        arc4random_buf(&seed, sizeof(seed));
}

/* The key: IPv4 (also IPv4-mapped IPv6) in the first 4 bytes, the rest zero. */
static void make_key(int family, const uint8_t *ip, uint8_t key[16], uint8_t *fam)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, 16);
    if (family == AF_INET6 && memcmp(ip, v4mapped, sizeof(v4mapped))) {
        memcpy(key, ip, 16);
        *fam = AF_INET6;
    } else {
        memcpy(key, family == AF_INET6 ? ip + 12 : ip, 4);
        *fam = AF_INET;
    }
}

static unsigned hash_key(const uint8_t key[16], uint8_t fam)
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = (seed ^ fam ^ a) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h = (h ^ b) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (unsigned)h & (BUCKETS - 1);
}

static struct ip_entry *find(const uint8_t key[16], uint8_t fam, unsigned h)
{
    struct ip_entry *e = table[h];
    while (e && (e->family != fam || memcmp(e->ip, key, 16)))
        e = e->hnext;
    return e;
}

static void idle_unlink(struct ip_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
    nidle--;
}

static void idle_append(struct ip_entry *e)
{
    e->prev = idle.prev;
    e->next = &idle;
    idle.prev->next = e;
    idle.prev = e;
    nidle++;
}

/* Takes idle entry e out of the table and frees it. */
static void drop(struct ip_entry *e)
{
    idle_unlink(e);
    struct ip_entry **pp = &table[hash_key(e->ip, e->family)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    nentries--;
    free(e);
}

/* The bucket size: client_conn_burst, or one second's worth (at least 1). */
static double burst_of(const struct config *cfg)
{
    if (cfg->client_conn_burst > 0)
        return cfg->client_conn_burst;
    return cfg->client_conn_rate > 1 ? (double)(long)(cfg->client_conn_rate + 0.999999) : 1;
}

/* A new entry (idle, full bucket), the oldest idle one dropped at the cap; NULL out of memory. */
static struct ip_entry *create(const uint8_t key[16], uint8_t fam, unsigned h, double now)
{
    if (nidle >= IPLIMIT_MAX_IDLE)
        drop(idle.next);
    struct ip_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    memcpy(e->ip, key, 16);
    e->family = fam;
    e->tokens = burst_of(weir.cfg);
    e->tok_at = now;
    e->fail_from = now;
    e->touched = now;
    e->hnext = table[h];
    table[h] = e;
    nentries++;
    idle_append(e);
    return e;
}

/* Seen now: an idle entry moves to the young end of the idle list. */
static void touch(struct ip_entry *e, double now)
{
    e->touched = now;
    if (e->conns == 0) {
        idle_unlink(e);
        idle_append(e);
    }
}

/* Brings e's bucket up to now. */
static void refill(struct ip_entry *e, const struct config *cfg, double now)
{
    double burst = burst_of(cfg);
    if (now > e->tok_at)
        e->tokens += (now - e->tok_at) * cfg->client_conn_rate;
    if (e->tokens > burst)
        e->tokens = burst;
    e->tok_at = now > e->tok_at ? now : e->tok_at;
}

enum iplimit_reason iplimit_admit(int family, const uint8_t *ip, double now, bool *counted,
                                  double *until)
{
    const struct config *cfg = weir.cfg;
    *counted = false;
    *until = 0;
    bool tracking = cfg->max_client_conn_per_ip > 0 || cfg->client_conn_rate > 0;
    if (!tracking && cfg->auth_failure_limit <= 0)
        return IPLIMIT_OK;
    uint8_t key[16], fam;
    make_key(family, ip, key, &fam);
    unsigned h = hash_key(key, fam);
    enum iplimit_reason r = IPLIMIT_OK;
    pthread_mutex_lock(&lock);
    struct ip_entry *e = find(key, fam, h);
    if (!e && tracking)
        e = create(key, fam, h, now); /* out of memory: admitted uncounted */
    if (!e)
        goto out;
    if (e->ban_until > now) {
        r = IPLIMIT_BANNED;
        *until = e->ban_until;
    } else if (cfg->client_conn_rate > 0) {
        refill(e, cfg, now);
        if (e->tokens < 1) {
            r = IPLIMIT_RATE;
            *until = now + (1 - e->tokens) / cfg->client_conn_rate;
        } else {
            e->tokens -= 1;
        }
    }
    if (r == IPLIMIT_OK && cfg->max_client_conn_per_ip > 0 &&
        e->conns >= cfg->max_client_conn_per_ip)
        r = IPLIMIT_PER_IP;
    touch(e, now);
    if (r != IPLIMIT_OK) {
        e->refused++;
    } else {
        if (e->conns++ == 0)
            idle_unlink(e);
        *counted = true;
    }
out:
    pthread_mutex_unlock(&lock);
    if (r != IPLIMIT_OK)
        atomic_fetch_add_explicit(&refusals[r], 1, memory_order_relaxed);
    return r;
}

void iplimit_release(int family, const uint8_t *ip, double now)
{
    uint8_t key[16], fam;
    make_key(family, ip, key, &fam);
    unsigned h = hash_key(key, fam);
    pthread_mutex_lock(&lock);
    struct ip_entry *e = find(key, fam, h);
    /* Always there: an entry with connections is never dropped. */
    if (e && e->conns > 0 && --e->conns == 0) {
        e->touched = now;
        idle_append(e);
    }
    pthread_mutex_unlock(&lock);
}

bool iplimit_auth_failure(int family, const uint8_t *ip, double now, double *until)
{
    const struct config *cfg = weir.cfg;
    if (cfg->auth_failure_limit <= 0)
        return false;
    uint8_t key[16], fam;
    make_key(family, ip, key, &fam);
    unsigned h = hash_key(key, fam);
    bool banned = false;
    pthread_mutex_lock(&lock);
    struct ip_entry *e = find(key, fam, h);
    if (!e)
        e = create(key, fam, h, now);
    if (e) {
        if (now - e->fail_from > cfg->auth_failure_window) {
            e->fails = 0;
            e->fail_from = now;
        }
        if (++e->fails >= cfg->auth_failure_limit && e->ban_until <= now) {
            e->ban_until = now + cfg->auth_failure_ban;
            e->fails = 0;
            e->fail_from = now;
            *until = e->ban_until;
            banned = true;
        }
        touch(e, now);
    }
    pthread_mutex_unlock(&lock);
    return banned;
}

void iplimit_count(enum iplimit_reason r)
{
    if (r > IPLIMIT_OK && r < IPLIMIT_NREASONS)
        atomic_fetch_add_explicit(&refusals[r], 1, memory_order_relaxed);
}

void iplimit_refusals(uint64_t out[IPLIMIT_NREASONS])
{
    for (int i = 0; i < IPLIMIT_NREASONS; i++)
        out[i] = atomic_load_explicit(&refusals[i], memory_order_relaxed);
}

int iplimit_snapshot(double now, struct iplimit_row **out, int *entries)
{
    const struct config *cfg = weir.cfg;
    int n = 0, cap = 0;
    struct iplimit_row *rows = NULL;
    bool failed = false;
    pthread_mutex_lock(&lock);
    *entries = nentries;
    for (int b = 0; b < BUCKETS && !failed; b++) {
        for (struct ip_entry *e = table[b]; e && !failed; e = e->hnext) {
            enum iplimit_reason why[3];
            double until[3];
            int k = 0;
            if (e->ban_until > now) {
                why[k] = IPLIMIT_BANNED;
                until[k++] = e->ban_until;
            }
            if (cfg->client_conn_rate > 0) {
                double t =
                    e->tokens + (now > e->tok_at ? (now - e->tok_at) : 0) * cfg->client_conn_rate;
                if (t < 1) {
                    why[k] = IPLIMIT_RATE;
                    until[k++] = now + (1 - t) / cfg->client_conn_rate;
                }
            }
            if (cfg->max_client_conn_per_ip > 0 && e->conns >= cfg->max_client_conn_per_ip) {
                why[k] = IPLIMIT_PER_IP;
                until[k++] = 0;
            }
            for (int i = 0; i < k; i++) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    struct iplimit_row *nr = realloc(rows, sizeof(*rows) * (size_t)cap);
                    if (!nr) {
                        failed = true;
                        break;
                    }
                    rows = nr;
                }
                struct iplimit_row *r = &rows[n++];
                memcpy(r->ip, e->ip, 16);
                r->family = e->family;
                r->reason = why[i];
                r->until = until[i];
                r->conns = e->conns;
                r->failures = now - e->fail_from > cfg->auth_failure_window ? 0 : e->fails;
                r->refused = e->refused;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    if (failed) {
        free(rows);
        return -1;
    }
    *out = rows;
    return n;
}

void iplimit_sweep(double now)
{
    const struct config *cfg = weir.cfg;
    double keep = cfg->auth_failure_window;
    if (cfg->auth_failure_ban > keep)
        keep = cfg->auth_failure_ban;
    if (cfg->client_conn_rate > 0 && burst_of(cfg) / cfg->client_conn_rate > keep)
        keep = burst_of(cfg) / cfg->client_conn_rate;
    pthread_mutex_lock(&lock);
    /* Only the head: the list is in the order entries were last touched. */
    while (idle.next != &idle && now - idle.next->touched > keep && idle.next->ban_until <= now)
        drop(idle.next);
    pthread_mutex_unlock(&lock);
}

void iplimit_free_all(void)
{
    pthread_mutex_lock(&lock);
    for (int b = 0; b < BUCKETS; b++) {
        struct ip_entry *e = table[b];
        while (e) {
            struct ip_entry *next = e->hnext;
            free(e);
            e = next;
        }
        table[b] = NULL;
    }
    idle.prev = idle.next = &idle;
    nidle = nentries = 0;
    pthread_mutex_unlock(&lock);
}
