/* hosts.c -- host records, their breakers and roles, and the login walk (see hosts.h). */
#include "pooler/pool/hosts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/core/log.h"
#include "pooler/core/worker.h"

struct host {
    struct host *next;
    char *name;
    int port;
    enum backend_kind kind;
    bool by_name; /* resolved through the DNS cache (not numeric, not a socket path) */
    char label[280];
    /* [hosts_lock] from here on */
    struct breaker br;
    enum host_role role;
    bool read_only;
    long long logins;
    long long failed;
    char addr[DNS_ADDRLEN];
    char last_error[256];
};

static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host *all_hosts;

/* Called with hosts_lock held; NULL when out of memory. */
static struct host *host_get(enum backend_kind kind, const char *name, int port)
{
    for (struct host *h = all_hosts; h; h = h->next)
        if (h->kind == kind && h->port == port && !strcmp(h->name, name))
            return h;
    struct host *h = calloc(1, sizeof(*h));
    if (!h || !(h->name = strdup(name))) {
        free(h);
        return NULL;
    }
    h->kind = kind;
    h->port = port;
    h->by_name = name[0] != '/' && !hostlist_is_numeric(name);
    if (name[0] == '/' || !strchr(name, ':'))
        snprintf(h->label, sizeof(h->label), "%s:%d", name, port);
    else
        snprintf(h->label, sizeof(h->label), "[%s]:%d", name, port);
    h->next = all_hosts;
    all_hosts = h;
    return h;
}

const char *host_label(const struct host *h)
{
    return h->label;
}

const char *host_name(const struct host *h)
{
    return h->name;
}

int host_port(const struct host *h)
{
    return h->port;
}

const char *host_role_name(enum host_role r)
{
    static const char *const names[] = {"unknown", "primary", "standby"};
    return names[r];
}

/* Does a server of this role fit tsa (in pass 0 or 1 of prefer-standby)? */
static bool fits(enum target_attrs tsa, int pass, bool standby, bool read_only)
{
    switch (tsa) {
    case TSA_ANY:
        return true;
    case TSA_READ_WRITE:
        return !standby && !read_only;
    case TSA_READ_ONLY:
        return standby || read_only;
    case TSA_PRIMARY:
        return !standby;
    case TSA_STANDBY:
        return standby;
    case TSA_PREFER_STANDBY:
        return pass > 0 || standby;
    }
    return true;
}

/* May host h be tried in this pass, from what is known of it? [hosts_lock] */
static bool known_misfit(const struct host_walk *hw, const struct host *h)
{
    return h->role != ROLE_UNKNOWN &&
           !fits(hw->tsa, hw->pass, h->role == ROLE_STANDBY, h->read_only);
}

static void why_add(struct host_walk *hw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void why_add(struct host_walk *hw, const char *fmt, ...)
{
    size_t used = strlen(hw->why);
    if (used + 4 >= sizeof(hw->why))
        return;
    if (used)
        used += snprintf(hw->why + used, sizeof(hw->why) - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hw->why + used, sizeof(hw->why) - used, fmt, ap);
    va_end(ap);
}

/*
 * The order of this pass: the list's (or a random one), hosts known not to
 * fit moved last (their role may have changed: a standby promoted), hosts
 * already down in this walk left out. [hosts_lock]
 */
static void plan_pass(struct host_walk *hw)
{
    int idx[HOSTLIST_MAX];
    for (int i = 0; i < hw->n; i++)
        idx[i] = i;
    if (hw->lb == LB_RANDOM) {
        for (int i = hw->n - 1; i > 0; i--) {
            int j = (int)(random() % (i + 1));
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
    }
    hw->norder = 0;
    hw->pos = 0;
    for (int group = 0; group < 2; group++)
        for (int k = 0; k < hw->n; k++) {
            int i = idx[k];
            if (hw->down & (1u << i))
                continue;
            if (known_misfit(hw, hw->hosts[i]) == (group == 1))
                hw->order[hw->norder++] = i;
        }
}

bool host_walk_begin(struct host_walk *hw, const struct db_entry *db, double now)
{
    memset(hw, 0, sizeof(*hw));
    hw->n = db->nhosts;
    hw->tsa = db->target_session_attrs;
    hw->lb = db->load_balance_hosts;
    hw->skip_open = db->nhosts > 1;
    hw->cur = -1;
    pthread_mutex_lock(&hosts_lock);
    for (int i = 0; i < hw->n; i++) {
        if (!(hw->hosts[i] = host_get(db->backend, db->hosts[i].name, db->hosts[i].port))) {
            pthread_mutex_unlock(&hosts_lock);
            return false;
        }
    }
    plan_pass(hw);
    pthread_mutex_unlock(&hosts_lock);
    return true;
}

struct host *host_walk_host(const struct host_walk *hw)
{
    return hw->cur >= 0 ? hw->hosts[hw->cur] : NULL;
}

const char *host_walk_waiting_for(const struct host_walk *hw)
{
    return hw->pos < hw->norder ? hw->hosts[hw->order[hw->pos]]->name : "";
}

static double jitter(void)
{
    return (double)(random() % 1000) / 1000.0;
}

static struct breaker_conf breaker_conf(void)
{
    const struct config *cfg = weir.cfg;
    return (struct breaker_conf){cfg->host_breaker_failures, cfg->host_breaker_backoff,
                                 cfg->host_breaker_backoff_max};
}

/* h failed: count it, maybe open its breaker. [hosts_lock] */
static void host_failed(struct host *h, double now, const char *text)
{
    struct breaker_conf bc = breaker_conf();
    h->failed++;
    snprintf(h->last_error, sizeof(h->last_error), "%s", text);
    if (breaker_failure(&h->br, &bc, now, jitter()))
        log_warning("host %s: breaker open after %d failure(s), next probe in %.1f s: %s", h->label,
                    h->br.failures, h->br.next_probe - now, text);
}

enum host_walk_result host_walk_next(struct host_walk *hw, double now, const char **name,
                                     const char **addr, int *port)
{
    if (hw->refused)
        return WALK_END;
    if (hw->cur >= 0 && hw->addr_i < hw->naddrs) {
        struct host *h = hw->hosts[hw->cur];
        *name = h->name;
        *addr = hw->addrs[hw->addr_i];
        *port = h->port;
        return WALK_TRY;
    }
    hw->cur = -1;
    pthread_mutex_lock(&hosts_lock);
    for (;;) {
        while (hw->pos < hw->norder) {
            int i = hw->order[hw->pos];
            struct host *h = hw->hosts[i];
            if (hw->skip_open && !breaker_would_allow(&h->br, now)) {
                if (h->br.state == BREAKER_OPEN)
                    why_add(hw, "%s: down, next probe in %.1f s (%s)", h->label,
                            h->br.next_probe - now, h->last_error);
                else
                    why_add(hw, "%s: down, being probed (%s)", h->label, h->last_error);
                hw->pos++;
                continue;
            }
            if (h->by_name) {
                char err[128];
                enum dns_result r =
                    dns_lookup(h->name, now, hw->addrs, &hw->naddrs, err, sizeof(err));
                if (r == DNS_PENDING) {
                    pthread_mutex_unlock(&hosts_lock);
                    return WALK_WAIT_DNS;
                }
                if (r == DNS_FAILED) {
                    char text[200];
                    snprintf(text, sizeof(text), "could not resolve \"%s\": %s", h->name, err);
                    host_failed(h, now, text);
                    why_add(hw, "%s: %s", h->label, text);
                    snprintf(hw->error, sizeof(hw->error), "%s", text);
                    snprintf(hw->sqlstate, sizeof(hw->sqlstate), "08001");
                    hw->down |= 1u << i;
                    hw->pos++;
                    continue;
                }
            } else {
                snprintf(hw->addrs[0], DNS_ADDRLEN, "%s", h->name[0] == '/' ? "" : h->name);
                hw->naddrs = 1;
            }
            bool probe = false;
            if (hw->skip_open) {
                if (!breaker_allow(&h->br, now, &probe)) {
                    hw->pos++;
                    continue;
                }
            } else if (h->br.state == BREAKER_OPEN && now >= h->br.next_probe) {
                h->br.state = BREAKER_HALF_OPEN; /* shown as probed; the login goes anyway */
                probe = true;
            }
            hw->probe = probe;
            hw->cur = i;
            hw->addr_i = 0;
            hw->pos++;
            pthread_mutex_unlock(&hosts_lock);
            *name = h->name;
            *addr = h->name[0] == '/' ? h->name : hw->addrs[0];
            *port = h->port;
            return WALK_TRY;
        }
        if (hw->tsa == TSA_PREFER_STANDBY && hw->pass == 0) {
            hw->pass = 1; /* no standby: any server will do */
            plan_pass(hw);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&hosts_lock);
    if (!hw->error[0] || hw->n > 1) {
        if (hw->tsa == TSA_ANY)
            snprintf(hw->error, sizeof(hw->error), "no host could be reached: %s", hw->why);
        else
            snprintf(hw->error, sizeof(hw->error), "no host fits target_session_attrs=%s: %s",
                     hostlist_tsa_name(hw->tsa), hw->why);
        snprintf(hw->sqlstate, sizeof(hw->sqlstate), "08001");
    }
    return WALK_END;
}

/* A refused login is the client's or the configuration's problem, the same on every host. */
static bool host_to_blame(const char *sqlstate)
{
    return strncmp(sqlstate, "28", 2) && strncmp(sqlstate, "3D", 2) && strncmp(sqlstate, "42", 2);
}

void host_walk_failed(struct host_walk *hw, double now, const char *sqlstate, const char *text)
{
    if (hw->cur < 0)
        return;
    struct host *h = hw->hosts[hw->cur];
    snprintf(hw->error, sizeof(hw->error), "%s", text);
    snprintf(hw->sqlstate, sizeof(hw->sqlstate), "%s", sqlstate);
    pthread_mutex_lock(&hosts_lock);
    snprintf(h->addr, sizeof(h->addr), "%s", hw->addrs[hw->addr_i]);
    if (!host_to_blame(sqlstate)) {
        /* The server answered: the host is up. */
        breaker_success(&h->br);
        snprintf(h->last_error, sizeof(h->last_error), "%s", text);
        hw->refused = true;
        hw->cur = -1;
        pthread_mutex_unlock(&hosts_lock);
        return;
    }
    if (h->by_name)
        dns_unreachable(h->name, hw->addrs[hw->addr_i], now);
    if (++hw->addr_i < hw->naddrs) {
        pthread_mutex_unlock(&hosts_lock);
        return; /* the name's next address */
    }
    host_failed(h, now, text);
    pthread_mutex_unlock(&hosts_lock);
    why_add(hw, "%s: %s", h->label, text);
    hw->down |= 1u << hw->cur;
    hw->cur = -1;
}

bool host_walk_connected(struct host_walk *hw, double now, enum host_role role, bool read_only)
{
    if (hw->cur < 0)
        return true;
    struct host *h = hw->hosts[hw->cur];
    pthread_mutex_lock(&hosts_lock);
    breaker_success(&h->br);
    h->logins++;
    h->last_error[0] = 0;
    snprintf(h->addr, sizeof(h->addr), "%s", hw->addrs[hw->addr_i]);
    if (role != ROLE_UNKNOWN) {
        if (h->role != ROLE_UNKNOWN && (h->role != role || h->read_only != read_only))
            log_info("host %s: now %s%s (was %s%s)", h->label, host_role_name(role),
                     read_only ? ", read-only" : "", host_role_name(h->role),
                     h->read_only ? ", read-only" : "");
        h->role = role;
        h->read_only = read_only;
    }
    pthread_mutex_unlock(&hosts_lock);
    if (role == ROLE_UNKNOWN || fits(hw->tsa, hw->pass, role == ROLE_STANDBY, read_only))
        return true;
    why_add(hw, "%s: %s", h->label,
            role == ROLE_STANDBY ? "a standby"
            : read_only          ? "read-only"
                                 : "a primary");
    hw->cur = -1;
    return false;
}

void host_walk_timeout(struct host_walk *hw, double now, const char *text)
{
    if (hw->cur >= 0) {
        host_walk_failed(hw, now, "08006", text);
        return;
    }
    if (hw->pos >= hw->norder)
        return;
    /* Waiting for the name of the host at pos. */
    int i = hw->order[hw->pos++];
    struct host *h = hw->hosts[i];
    pthread_mutex_lock(&hosts_lock);
    host_failed(h, now, text);
    pthread_mutex_unlock(&hosts_lock);
    why_add(hw, "%s: %s", h->label, text);
    snprintf(hw->error, sizeof(hw->error), "%s", text);
    snprintf(hw->sqlstate, sizeof(hw->sqlstate), "08001");
    hw->down |= 1u << i;
}

void host_walk_abandon(struct host_walk *hw, double now)
{
    if (hw->cur < 0 || !hw->probe)
        return;
    pthread_mutex_lock(&hosts_lock);
    breaker_abandon(&hw->hosts[hw->cur]->br, now);
    pthread_mutex_unlock(&hosts_lock);
    hw->cur = -1;
}

static bool is_on(const char *v)
{
    return v && (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true"));
}

bool host_still_fits(struct host *h, enum target_attrs tsa, const char *in_hot_standby,
                     const char *read_only)
{
    pthread_mutex_lock(&hosts_lock);
    bool standby = in_hot_standby ? is_on(in_hot_standby) : h->role == ROLE_STANDBY;
    bool ro = read_only ? is_on(read_only) : h->read_only;
    enum host_role role = standby ? ROLE_STANDBY : ROLE_PRIMARY;
    if (h->role != role || h->read_only != ro) {
        log_info("host %s: now %s%s (was %s%s)", h->label, host_role_name(role),
                 ro ? ", read-only" : "", host_role_name(h->role),
                 h->read_only ? ", read-only" : "");
        h->role = role;
        h->read_only = ro;
    }
    pthread_mutex_unlock(&hosts_lock);
    /* prefer-standby takes a primary when it must: only a standby-only entry loses it. */
    return fits(tsa, 1, standby, ro);
}

bool hosts_all_down(const struct db_entry *db, double now, char *text, size_t len)
{
    if (db->nhosts < 2)
        return false;
    bool down = true;
    size_t used = snprintf(text, len, "every host is down:");
    pthread_mutex_lock(&hosts_lock);
    for (int i = 0; i < db->nhosts && down; i++) {
        struct host *h = host_get(db->backend, db->hosts[i].name, db->hosts[i].port);
        if (!h || h->br.state != BREAKER_OPEN || now >= h->br.next_probe) {
            down = false;
            break;
        }
        if (used < len)
            used += snprintf(text + used, len - used, "%s %s (next probe in %.1f s: %s)",
                             i ? ";" : "", h->label, h->br.next_probe - now, h->last_error);
    }
    pthread_mutex_unlock(&hosts_lock);
    return down;
}

int hosts_rows(double now, struct host_row **out)
{
    pthread_mutex_lock(&hosts_lock);
    int n = 0;
    for (struct host *h = all_hosts; h; h = h->next)
        n++;
    struct host_row *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows) {
        pthread_mutex_unlock(&hosts_lock);
        return -1;
    }
    /* Oldest first: the order hosts were first used in. */
    int i = n;
    for (struct host *h = all_hosts; h; h = h->next) {
        struct host_row *r = &rows[--i];
        snprintf(r->host, sizeof(r->host), "%s", h->name);
        r->port = h->port;
        r->kind = h->kind;
        r->state = h->br.state;
        r->failures = h->br.failures;
        r->logins = h->logins;
        r->failed = h->failed;
        r->next_probe_in =
            h->br.state == BREAKER_OPEN && h->br.next_probe > now ? h->br.next_probe - now : 0;
        r->role = h->role;
        r->read_only = h->read_only;
        snprintf(r->addr, sizeof(r->addr), "%s", h->addr);
        snprintf(r->last_error, sizeof(r->last_error), "%s", h->last_error);
    }
    pthread_mutex_unlock(&hosts_lock);
    *out = rows;
    return n;
}

void hosts_free_all(void)
{
    pthread_mutex_lock(&hosts_lock);
    while (all_hosts) {
        struct host *next = all_hosts->next;
        free(all_hosts->name);
        free(all_hosts);
        all_hosts = next;
    }
    pthread_mutex_unlock(&hosts_lock);
}
