/* metrics.c -- Prometheus /metrics on the worker loops: read the request head, render, write. */
#include "pooler/admin/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pooler/core/iplimit.h"
#include "pooler/core/log.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/stats.h"
#include "protocol/http/http_req.h"
#include "protocol/pg/pg_sql.h"

#define HEAD_RESERVE 256 /* bytes kept in front of the body for the HTTP response head */

enum scrape_state {
    SCRAPE_READ,   /* reading the request head; rio armed */
    SCRAPE_WRITE,  /* writing the response; wio armed while the socket is full */
    SCRAPE_LINGER, /* answered and write side shut: discarding input until the peer's FIN */
};

/* One scrape connection, on worker->scrapes, owned by that worker's thread. */
struct scrape {
    struct list wnode;
    struct worker *w;
    int fd;
    ev_io rio;
    ev_io wio;
    enum scrape_state state;
    ev_tstamp deadline; /* closed by the sweep after this */
    char *in;           /* METRICS_MAX_REQUEST bytes while reading, else NULL */
    size_t inlen;
    char *alloc; /* the response's allocation */
    char *out;   /* the response: head then body, inside alloc */
    size_t outlen;
    size_t outsent;
};

/* ---- string builder: a sticky `failed` flag, so callers check once at the end ---- */

struct sb {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
};

static bool sb_grow(struct sb *b, size_t need)
{
    if (b->failed)
        return false;
    if (b->len + need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + need)
        cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->buf = p;
    b->cap = cap;
    return true;
}

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (!sb_grow(b, n))
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static void sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !b->failed; pass++) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf ? b->buf + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        sb_grow(b, (size_t)n + 1);
    }
}

/* ---- rendering ---- */

bool metrics_escape_label(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(dst);
    for (const char *s = value; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        size_t k = rep ? 2 : 1;
        if (n + k >= cap)
            return false;
        if (rep)
            memcpy(dst + n, rep, 2);
        else
            dst[n] = *s;
        n += k;
    }
    dst[n] = '\0';
    return true;
}

/* When the process started (Unix time), from /proc as the Go and Python clients do; 0 = unknown. */
static double process_start_time(void)
{
    static _Atomic double cached;
    double v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v != 0)
        return v;
    char buf[4096];
    unsigned long long btime = 0, ticks = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        while (fgets(buf, sizeof(buf), f))
            if (sscanf(buf, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    f = fopen("/proc/self/stat", "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        /* Fields after the command name (which may hold spaces): state is field 3, starttime 22. */
        char *p = strrchr(buf, ')');
        for (int field = 2; p && field < 22; field++)
            p = strchr(p + 1, ' ');
        if (p)
            ticks = strtoull(p + 1, NULL, 10);
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || !ticks || hz <= 0)
        return 0;
    v = (double)btime + (double)ticks / (double)hz;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

static void family(struct sb *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from microseconds, exactly (no float rounding). */
static void sb_usec(struct sb *b, uint64_t us)
{
    sb_printf(b, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

enum pool_field {
    PF_CL_ACTIVE,
    PF_CL_WAITING,
    PF_SV_ACTIVE,
    PF_SV_IDLE,
    PF_SV_USED,
    PF_SV_LOGIN,
    PF_PAUSED,
    PF_XACTS,
    PF_QUERIES,
    PF_RECV,
    PF_SENT,
    PF_CLIENT_PARSES,
    PF_SERVER_PARSES,
    PF_BINDS,
};

static const struct {
    const char *name, *type, *help;
    enum pool_field field;
} pool_metrics[] = {
    {"weir_pool_clients_active", "gauge",
     "Logged-in clients of the pool that are not waiting for a server.", PF_CL_ACTIVE},
    {"weir_pool_clients_waiting", "gauge", "Clients queued for a server.", PF_CL_WAITING},
    {"weir_pool_servers_active", "gauge",
     "Server connections linked to a client, or being cleaned or checked.", PF_SV_ACTIVE},
    {"weir_pool_servers_idle", "gauge", "Idle server connections ready for use.", PF_SV_IDLE},
    {"weir_pool_servers_used", "gauge",
     "Idle server connections that need a health check before use.", PF_SV_USED},
    {"weir_pool_servers_login", "gauge", "Server connections logging in.", PF_SV_LOGIN},
    {"weir_pool_paused", "gauge", "1 while the pool is paused (console PAUSE), else 0.", PF_PAUSED},
    {"weir_pool_transactions_total", "counter", "Transactions completed through the pool.",
     PF_XACTS},
    {"weir_pool_queries_total", "counter", "Queries answered through the pool.", PF_QUERIES},
    {"weir_pool_received_bytes_total", "counter", "Bytes received from the pool's clients.",
     PF_RECV},
    {"weir_pool_sent_bytes_total", "counter", "Bytes sent to the pool's clients.", PF_SENT},
    {"weir_pool_client_parses_total", "counter",
     "Prepared statements the pool's clients created (PgBouncer's total_client_parse_count).",
     PF_CLIENT_PARSES},
    {"weir_pool_server_parses_total", "counter",
     "Statements weir prepared on the pool's servers (PgBouncer's total_server_parse_count).",
     PF_SERVER_PARSES},
    {"weir_pool_binds_total", "counter",
     "Executions of clients' prepared statements (PgBouncer's total_bind_count).", PF_BINDS},
};

static uint64_t pool_value(const struct stats_pool *p, enum pool_field f)
{
    switch (f) {
    case PF_CL_ACTIVE:
        return (uint64_t)p->cl_active;
    case PF_CL_WAITING:
        return (uint64_t)p->cl_waiting;
    case PF_SV_ACTIVE:
        return (uint64_t)p->sv_active;
    case PF_SV_IDLE:
        return (uint64_t)p->sv_idle;
    case PF_SV_USED:
        return (uint64_t)p->sv_used;
    case PF_SV_LOGIN:
        return (uint64_t)p->sv_login;
    case PF_PAUSED:
        return p->paused ? 1 : 0;
    case PF_XACTS:
        return p->totals.xact_count;
    case PF_QUERIES:
        return p->totals.query_count;
    case PF_RECV:
        return p->totals.bytes_recv;
    case PF_SENT:
        return p->totals.bytes_sent;
    case PF_CLIENT_PARSES:
        return p->totals.client_parse_count;
    case PF_SERVER_PARSES:
        return p->totals.server_parse_count;
    case PF_BINDS:
        return p->totals.bind_count;
    }
    return 0;
}

static const struct {
    const char *name, *help;
    enum stats_hist h;
} pool_hists[] = {
    {"weir_pool_wait_seconds", "Time clients spent queued for a server.", STATS_H_WAIT},
    {"weir_pool_query_seconds", "Query duration, from the query to its answer.", STATS_H_QUERY},
    {"weir_pool_transaction_seconds", "Transaction duration, from its first query to its end.",
     STATS_H_XACT},
};

static uint64_t hist_sum_us(const struct stats_totals *t, enum stats_hist h)
{
    return h == STATS_H_WAIT ? t->wait_us : h == STATS_H_QUERY ? t->query_us : t->xact_us;
}

/* The labels identifying pool p, escaped: database="..",user="..",backend="..",pool_mode="..". */
static void pool_labels(char *dst, size_t cap, const struct stats_pool *p)
{
    /* database and user are at most 63 bytes each, so 2x that escaped fits in cap >= 400. */
    snprintf(dst, cap, "database=\"");
    metrics_escape_label(dst, cap, p->database);
    strncat(dst, "\",user=\"", cap - strlen(dst) - 1);
    metrics_escape_label(dst, cap, p->user);
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, "\",backend=\"%s\",pool_mode=\"%s\"",
             p->backend == BACKEND_MYSQL ? "mysql" : "postgres",
             config_pool_mode_name(p->pool_mode));
}

#define LABELS_CAP 400

static void sb_u64(struct sb *b, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_put(b, tmp + sizeof(tmp) - n, n);
}

/*
 * One sample line, "name suffix{labels extra} value": the bulk of a scrape,
 * so written with copies rather than a printf each (500 pools: 40k lines).
 */
static void sample(struct sb *b, const char *name, const char *suffix, const char *labels,
                   const char *extra, uint64_t v)
{
    sb_str(b, name);
    sb_str(b, suffix);
    sb_put(b, "{", 1);
    sb_str(b, labels);
    sb_str(b, extra);
    sb_put(b, "} ", 2);
    sb_u64(b, v);
    sb_put(b, "\n", 1);
}

static void render_pools(struct sb *b, const struct stats_pool *pools, int np,
                         char (*labels)[LABELS_CAP])
{
    char le[STATS_NBOUNDS + 1][32], kind[STATS_ERR_COUNT][48];
    for (int j = 0; j < STATS_NBOUNDS; j++)
        snprintf(le[j], sizeof(le[j]), ",le=\"%g\"", stats_bounds[j]);
    snprintf(le[STATS_NBOUNDS], sizeof(le[STATS_NBOUNDS]), ",le=\"+Inf\"");
    for (int e = 0; e < STATS_ERR_COUNT; e++)
        snprintf(kind[e], sizeof(kind[e]), ",kind=\"%s\"", stats_error_name(e));

    for (size_t m = 0; m < sizeof(pool_metrics) / sizeof(pool_metrics[0]); m++) {
        family(b, pool_metrics[m].name, pool_metrics[m].type, pool_metrics[m].help);
        for (int i = 0; i < np; i++)
            sample(b, pool_metrics[m].name, "", labels[i], "",
                   pool_value(&pools[i], pool_metrics[m].field));
    }
    family(b, "weir_pool_max_wait_seconds", "gauge",
           "How long the oldest client in the pool's queue has been waiting.");
    for (int i = 0; i < np; i++)
        sb_printf(b, "weir_pool_max_wait_seconds{%s} %.6f\n", labels[i], pools[i].maxwait);
    family(b, "weir_pool_errors_total", "counter", "Errors counted against the pool, by kind.");
    for (int i = 0; i < np; i++)
        for (int e = 0; e < STATS_ERR_COUNT; e++)
            sample(b, "weir_pool_errors_total", "", labels[i], kind[e], pools[i].totals.errors[e]);
    for (size_t k = 0; k < sizeof(pool_hists) / sizeof(pool_hists[0]); k++) {
        const char *name = pool_hists[k].name;
        enum stats_hist h = pool_hists[k].h;
        family(b, name, "histogram", pool_hists[k].help);
        for (int i = 0; i < np; i++) {
            const struct stats_totals *t = &pools[i].totals;
            uint64_t cum = 0;
            for (int j = 0; j <= STATS_NBOUNDS; j++) {
                cum += t->hist[h][j];
                sample(b, name, "_bucket", labels[i], le[j], cum);
            }
            sb_printf(b, "%s_sum{%s} ", name, labels[i]);
            sb_usec(b, hist_sum_us(t, h));
            sb_put(b, "\n", 1);
            sample(b, name, "_count", labels[i], "", cum);
        }
    }
}

/* The edge: refusals by reason, addresses limited now, logins in progress (docs/edge.md). */
static void render_edge(struct sb *b)
{
    uint64_t refused[IPLIMIT_NREASONS];
    iplimit_refusals(refused);
    family(b, "weir_refused_connections_total", "counter",
           "Client connections refused before login by the edge limits, by reason.");
    for (int r = IPLIMIT_OK + 1; r < IPLIMIT_NREASONS; r++)
        sb_printf(b, "weir_refused_connections_total{reason=\"%s\"} %" PRIu64 "\n",
                  iplimit_reason_name(r), refused[r]);
    struct iplimit_row *rows = NULL;
    int entries = 0, limited = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = iplimit_snapshot((double)ts.tv_sec + ts.tv_nsec / 1e9, &rows, &entries);
    /* Rows of one address are adjacent (one per reason): count addresses, not rows. */
    for (int i = 0; i < n; i++)
        limited += i == 0 || rows[i].family != rows[i - 1].family ||
                   memcmp(rows[i].ip, rows[i - 1].ip, sizeof(rows[i].ip));
    free(rows);
    if (n < 0) {
        b->failed = true;
        return;
    }
    family(b, "weir_limited_addresses", "gauge",
           "Client addresses refused now by a per-address limit (ban, rate or connection cap).");
    sb_printf(b, "weir_limited_addresses %d\n", limited);
    family(b, "weir_tracked_addresses", "gauge",
           "Client addresses the per-address limits keep state for.");
    sb_printf(b, "weir_tracked_addresses %d\n", entries);
    family(b, "weir_pending_logins", "gauge",
           "Client connections open and not yet authenticated (max_pending_logins).");
    sb_printf(b, "weir_pending_logins %d\n", atomic_load(&weir.npending));
}

static void render_daemon(struct sb *b)
{
    family(b, "weir_up", "gauge", "1 when weir answers the scrape.");
    sb_str(b, "weir_up 1\n");
    family(b, "weir_info", "gauge", "weir's version, as a label; the value is 1.");
    char ver[64] = "";
    metrics_escape_label(ver, sizeof(ver), WEIR_VERSION);
    sb_printf(b, "weir_info{version=\"%s\"} 1\n", ver);
    family(b, "weir_start_time_seconds", "gauge",
           "When the weir process started, in seconds since the Unix epoch.");
    sb_printf(b, "weir_start_time_seconds %.2f\n", process_start_time());
    family(b, "weir_workers", "gauge", "Worker threads (event loops).");
    sb_printf(b, "weir_workers %d\n", weir.nworkers);
    family(b, "weir_clients_connected", "gauge", "Client connections open on every port.");
    sb_printf(b, "weir_clients_connected %d\n", atomic_load(&weir.nclients));
    uint64_t errs[STATS_ERR_COUNT];
    stats_global_errors(errs);
    family(b, "weir_errors_total", "counter",
           "Errors by kind, over the whole daemon (including those before a client had a pool).");
    for (int e = 0; e < STATS_ERR_COUNT; e++)
        sb_printf(b, "weir_errors_total{kind=\"%s\"} %" PRIu64 "\n", stats_error_name(e), errs[e]);
    /* Per-worker counters of session/sess_pg.c, summed (each written by its worker only). */
    uint64_t pinned = 0, pins[PG_PIN_NREASONS] = {0};
    for (int i = 0; i < weir.nworkers; i++) {
        pinned += atomic_load_explicit(&weir.workers[i].pinned, memory_order_relaxed);
        for (int r = 0; r < PG_PIN_NREASONS; r++)
            pins[r] += atomic_load_explicit(&weir.workers[i].pins[r], memory_order_relaxed);
    }
    family(b, "weir_pinned_clients", "gauge",
           "PostgreSQL clients pinned to their server by session state that cannot move.");
    sb_printf(b, "weir_pinned_clients %" PRIu64 "\n", pinned);
    family(b, "weir_client_pins_total", "counter",
           "Times a PostgreSQL client was pinned to its server, by reason.");
    for (int r = 0; r < PG_PIN_NREASONS; r++)
        sb_printf(b, "weir_client_pins_total{reason=\"%s\"} %" PRIu64 "\n", pg_pin_name(r),
                  pins[r]);
    render_edge(b);
}

/* The database hosts (SHOW HOSTS): breaker state, role, logins. */
static void render_hosts(struct sb *b)
{
    struct host_row *h;
    int n = hosts_rows(ev_time(), &h);
    if (n < 0) {
        b->failed = true;
        return;
    }
    char(*labels)[LABELS_CAP] = n ? malloc(sizeof(*labels) * (size_t)n) : NULL;
    if (n && !labels) {
        b->failed = true;
        free(h);
        return;
    }
    for (int i = 0; i < n; i++) {
        snprintf(labels[i], LABELS_CAP, "host=\"");
        metrics_escape_label(labels[i], LABELS_CAP, h[i].host);
        size_t l = strlen(labels[i]);
        snprintf(labels[i] + l, LABELS_CAP - l, "\",port=\"%d\",backend=\"%s\"", h[i].port,
                 h[i].kind == BACKEND_MYSQL ? "mysql" : "postgres");
    }
    family(b, "weir_host_up", "gauge",
           "1 while the host's breaker is closed (logins go to it), 0 while open or probed.");
    for (int i = 0; i < n; i++)
        sb_printf(b, "weir_host_up{%s} %d\n", labels[i], h[i].state == BREAKER_CLOSED);
    family(b, "weir_host_breaker_state", "gauge",
           "The host's breaker: 0 closed, 1 open (skipped), 2 half-open (one probe login).");
    for (int i = 0; i < n; i++)
        sb_printf(b, "weir_host_breaker_state{%s} %d\n", labels[i], (int)h[i].state);
    family(b, "weir_host_standby", "gauge",
           "1 when the host was last seen as a standby (MySQL: read_only), 0 as a primary, "
           "-1 not known.");
    for (int i = 0; i < n; i++)
        sb_printf(b, "weir_host_standby{%s} %d\n", labels[i],
                  h[i].role == ROLE_UNKNOWN ? -1 : h[i].role == ROLE_STANDBY);
    family(b, "weir_host_logins_total", "counter", "Successful server logins to the host.");
    for (int i = 0; i < n; i++)
        sb_printf(b, "weir_host_logins_total{%s} %lld\n", labels[i], h[i].logins);
    family(b, "weir_host_login_failures_total", "counter",
           "Connects or logins to the host that failed (counted by its breaker).");
    for (int i = 0; i < n; i++)
        sb_printf(b, "weir_host_login_failures_total{%s} %lld\n", labels[i], h[i].failed);
    free(labels);
    free(h);
}

char *metrics_render(size_t reserve, size_t *len)
{
    struct sb b = {0};
    char(*labels)[LABELS_CAP] = NULL;
    struct stats_pool *pools = NULL;
    int np = stats_pools(&pools);
    if (np < 0)
        goto failed;
    if (np > 0 && !(labels = malloc(sizeof(*labels) * (size_t)np)))
        goto failed;
    for (int i = 0; i < np; i++)
        pool_labels(labels[i], LABELS_CAP, &pools[i]);
    /* About 8 KiB per pool: size once instead of doubling through the render. */
    sb_grow(&b, reserve + 4096 + (size_t)np * 8192);
    b.len = reserve;
    render_daemon(&b);
    render_pools(&b, pools, np, labels);
    render_hosts(&b);
    if (b.failed)
        goto failed;
    free(labels);
    free(pools);
    *len = b.len - reserve;
    return b.buf + reserve;
failed:
    free(b.buf);
    free(labels);
    free(pools);
    return NULL;
}

/* ---- HTTP ---- */

static void scrape_close(struct scrape *s)
{
    ev_io_stop(s->w->loop, &s->rio);
    ev_io_stop(s->w->loop, &s->wio);
    close(s->fd);
    list_del(&s->wnode);
    free(s->in);
    free(s->alloc);
    free(s);
}

static void scrape_write(struct scrape *s);

/*
 * Queues the response: status line, head, and body (which metrics_render put
 * HEAD_RESERVE bytes into alloc; NULL for the short error bodies), then
 * starts writing. `head_only` answers HEAD: the same head, no body.
 */
static void respond(struct scrape *s, const char *status, const char *extra, const char *ctype,
                    char *alloc, char *body, size_t bodylen, bool head_only)
{
    char head[HEAD_RESERVE];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: close\r\n\r\n",
                      status, ctype, bodylen, extra);
    if (hl < 0 || (size_t)hl >= sizeof(head)) {
        free(alloc);
        scrape_close(s);
        return;
    }
    if (!alloc) {
        /* A short error, its body on the caller's stack: copy it behind the room for the head. */
        alloc = malloc(HEAD_RESERVE + bodylen);
        if (!alloc) {
            scrape_close(s);
            return;
        }
        memcpy(alloc + HEAD_RESERVE, body, bodylen);
        body = alloc + HEAD_RESERVE;
    }
    /* The head goes right before the body, in the room left for it. */
    s->alloc = alloc;
    s->out = body - hl;
    memcpy(s->out, head, (size_t)hl);
    s->outlen = (size_t)hl + (head_only ? 0 : bodylen);
    s->outsent = 0;
    free(s->in);
    s->in = NULL;
    s->state = SCRAPE_WRITE;
    ev_io_stop(s->w->loop, &s->rio);
    s->deadline = ev_now(s->w->loop) + METRICS_WRITE_TIMEOUT;
    scrape_write(s);
}

/* A short text/plain error; `head_only` for a HEAD request (no body). */
static void respond_error(struct scrape *s, int code, const char *reason, const char *extra,
                          bool head_only)
{
    char status[64], body[96];
    snprintf(status, sizeof(status), "%d %s", code, reason);
    int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);
    respond(s, status, extra, "text/plain; charset=utf-8", NULL, body, (size_t)n, head_only);
}

static void handle_request(struct scrape *s)
{
    struct http_req req;
    int rc = http_req_parse(s->in, s->inlen, &req);
    if (rc == WR_AGAIN && s->inlen < METRICS_MAX_REQUEST)
        return;
    if (rc == WR_AGAIN) {
        respond_error(s, 431, "Request Header Fields Too Large", "", false);
        return;
    }
    if (rc == WR_ERROR) {
        respond_error(s, 400, "Bad Request", "", false);
        return;
    }
    /* Bytes after the head (a body, a pipelined request) are ignored: the answer closes. */
    bool get = req.method_len == 3 && !memcmp(req.method, "GET", 3);
    bool head = req.method_len == 4 && !memcmp(req.method, "HEAD", 4);
    if (req.path_len != 8 || memcmp(req.target, "/metrics", 8) != 0) {
        respond_error(s, 404, "Not Found", "", head);
        return;
    }
    if (!get && !head) {
        respond_error(s, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", false);
        return;
    }
    size_t len;
    char *body = metrics_render(HEAD_RESERVE, &len);
    if (!body) {
        log_warning("metrics: out of memory rendering a scrape");
        respond_error(s, 503, "Service Unavailable", "", head);
        return;
    }
    respond(s, "200 OK", "", "text/plain; version=0.0.4; charset=utf-8", body - HEAD_RESERVE, body,
            len, head);
}

static void scrape_write(struct scrape *s)
{
    while (s->outsent < s->outlen) {
        ssize_t n = send(s->fd, s->out + s->outsent, s->outlen - s->outsent, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Full: wait for room (once armed, wio stays so until the end). */
            if (!ev_is_active(&s->wio))
                ev_io_start(s->w->loop, &s->wio);
            return;
        }
        if (n <= 0) {
            scrape_close(s);
            return;
        }
        s->outsent += (size_t)n;
        s->deadline = ev_now(s->w->loop) + METRICS_WRITE_TIMEOUT;
    }
    /*
     * Sent. Closing now could reset the connection if the client's bytes are
     * still unread (a body, a second request), and a reset can destroy the
     * answer in flight: shut the write side and read until the peer's FIN.
     */
    ev_io_stop(s->w->loop, &s->wio);
    free(s->alloc);
    s->alloc = s->out = NULL;
    shutdown(s->fd, SHUT_WR);
    s->state = SCRAPE_LINGER;
    s->deadline = ev_now(s->w->loop) + METRICS_LINGER;
    ev_io_start(s->w->loop, &s->rio);
}

static void read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct scrape *s = (struct scrape *)((char *)io - offsetof(struct scrape, rio));
    if (s->state == SCRAPE_LINGER) {
        char junk[4096];
        ssize_t n = read(s->fd, junk, sizeof(junk));
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            scrape_close(s);
        return;
    }
    ssize_t n = read(s->fd, s->in + s->inlen, METRICS_MAX_REQUEST - s->inlen);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        scrape_close(s); /* gone before a whole request */
        return;
    }
    s->inlen += (size_t)n;
    handle_request(s);
}

static void write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    scrape_write((struct scrape *)((char *)io - offsetof(struct scrape, wio)));
}

void metrics_accept(struct worker *w, int fd)
{
    int open = 0;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->scrapes) open++;
    struct scrape *s = open < METRICS_MAX_SCRAPES ? calloc(1, sizeof(*s)) : NULL;
    if (s && !(s->in = malloc(METRICS_MAX_REQUEST))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        close(fd); /* too many scrapes at once, or out of memory */
        return;
    }
    /*
     * The response waits in our buffer anyway: a bounded kernel buffer keeps a
     * scraper that stops reading from pinning megabytes after weir let go, and
     * lets METRICS_WRITE_TIMEOUT see it stall.
     */
    int sndbuf = METRICS_SNDBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    s->w = w;
    s->fd = fd;
    s->state = SCRAPE_READ;
    s->deadline = ev_now(w->loop) + METRICS_READ_TIMEOUT;
    list_add_tail(&w->scrapes, &s->wnode);
    ev_io_init(&s->rio, read_cb, fd, EV_READ);
    ev_io_init(&s->wio, write_cb, fd, EV_WRITE);
    ev_io_start(w->loop, &s->rio);
}

void metrics_sweep(struct worker *w, ev_tstamp now)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->scrapes)
    {
        struct scrape *s = list_entry(pos, struct scrape, wnode);
        if (now > s->deadline)
            scrape_close(s);
    }
}

void metrics_close_all(struct worker *w)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->scrapes) scrape_close(list_entry(pos, struct scrape, wnode));
}
