/* admin_show.c -- the rows of the console's SHOW commands, computed once for both protocols. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pooler/admin/admin_int.h"
#include "pooler/session/client.h"
#include "pooler/session/sess_pg.h"
#include "pooler/session/ps.h"
#include "pooler/admin/lifecycle.h"
#include "pooler/core/iplimit.h"
#include "pooler/core/log.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"
#include "protocol/pg/pg_sql.h"

/* ---- SHOW ---- */

const char admin_help_text[] =
    "SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION|STATE\n"
    "\tSHOW HOSTS|DNS_HOSTS\n"
    "\tSHOW LISTS|MEM|LIMITS\n"
    "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES\n"
    "\tSET key = arg\n"
    "\tRELOAD\n"
    "\tPAUSE [<db>]\n"
    "\tRESUME [<db>]\n"
    "\tDISABLE <db>\n"
    "\tENABLE <db>\n"
    "\tRECONNECT [<db>]\n"
    "\tKILL [<db>]\n"
    "\tKILL_CLIENT <id>\n"
    "\tSHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]\n"
    "\tWAIT_CLOSE [<db>]";

static void fmt_time(char *b, size_t n, ev_tstamp t);

static const char *backend_name(enum backend_kind k)
{
    return k == BACKEND_MYSQL ? "mysql" : "postgres";
}

#define T ADMIN_TEXT
#define I ADMIN_INT4
#define N ADMIN_NUMERIC

void admin_show_pools(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"database", T},
        {"user", T},
        {"cl_active", I},
        {"cl_waiting", I},
        {"cl_active_cancel_req", I},
        {"cl_waiting_cancel_req", I},
        {"sv_active", I},
        {"sv_active_cancel", I},
        {"sv_being_canceled", I},
        {"sv_idle", I},
        {"sv_used", I},
        {"sv_tested", I},
        {"sv_login", I},
        {"maxwait", I},
        {"maxwait_us", I},
        {"pool_mode", T},
        {"backend", T},
        {"paused", I},
        {"health", T},
    };
    admin_res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    struct stats_pool *p;
    int n = stats_pools(&p);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        admin_cell(r, p[i].database);
        admin_cell(r, p[i].user);
        admin_cell_int(r, p[i].cl_active);
        admin_cell_int(r, p[i].cl_waiting);
        admin_cell_int(r, 0);
        admin_cell_int(r, 0);
        admin_cell_int(r, p[i].sv_active);
        admin_cell_int(r, 0);
        admin_cell_int(r, 0);
        admin_cell_int(r, p[i].sv_idle);
        admin_cell_int(r, p[i].sv_used);
        admin_cell_int(r, p[i].sv_tested);
        admin_cell_int(r, p[i].sv_login);
        long long us = (long long)(p[i].maxwait * 1e6);
        admin_cell_int(r, us / 1000000);
        admin_cell_int(r, us % 1000000);
        admin_cell(r, config_pool_mode_name(p[i].pool_mode));
        admin_cell(r, backend_name(p[i].backend));
        admin_cell_int(r, p[i].paused);
        admin_cell(r, p[i].login_failing ? "login_failing" : p[i].paused ? "paused" : "ok");
    }
    free(p);
}

void admin_show_stats(struct admin_result *r, enum stats_view v)
{
    static const struct admin_col stats_cols[] = {
        {"database", T},
        {"total_xact_count", N},
        {"total_query_count", N},
        {"total_received", N},
        {"total_sent", N},
        {"total_xact_time", N},
        {"total_query_time", N},
        {"total_wait_time", N},
        {"total_client_parse_count", N},
        {"total_server_parse_count", N},
        {"total_bind_count", N},
        {"avg_xact_count", N},
        {"avg_query_count", N},
        {"avg_recv", N},
        {"avg_sent", N},
        {"avg_xact_time", N},
        {"avg_query_time", N},
        {"avg_wait_time", N},
        {"avg_client_parse_count", N},
        {"avg_server_parse_count", N},
        {"avg_bind_count", N},
        {"backend", T},
    };
    static const struct admin_col part_cols[] = {
        {"database", T},           {"xact_count", N}, {"query_count", N},
        {"bytes_received", N},     {"bytes_sent", N}, {"xact_time", N},
        {"query_time", N},         {"wait_time", N},  {"client_parse_count", N},
        {"server_parse_count", N}, {"bind_count", N},
    };
    if (v == VIEW_STATS)
        admin_res_cols(r, stats_cols, sizeof(stats_cols) / sizeof(stats_cols[0]));
    else
        admin_res_cols(r, part_cols, sizeof(part_cols) / sizeof(part_cols[0]));
    struct stats_db *d;
    int n = stats_databases(&d);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct stats_totals *t = &d[i].totals;
        const struct stats_avg *a = &d[i].avg;
        admin_cell(r, d[i].database);
        if (v != VIEW_AVERAGES) {
            admin_cell_u64(r, t->xact_count);
            admin_cell_u64(r, t->query_count);
            admin_cell_u64(r, t->bytes_recv);
            admin_cell_u64(r, t->bytes_sent);
            admin_cell_u64(r, t->xact_us);
            admin_cell_u64(r, t->query_us);
            admin_cell_u64(r, t->wait_us);
            admin_cell_u64(r, t->client_parse_count);
            admin_cell_u64(r, t->server_parse_count);
            admin_cell_u64(r, t->bind_count);
        }
        if (v != VIEW_TOTALS) {
            admin_cell_u64(r, a->xact_count);
            admin_cell_u64(r, a->query_count);
            admin_cell_u64(r, a->bytes_recv);
            admin_cell_u64(r, a->bytes_sent);
            admin_cell_u64(r, a->xact_us);
            admin_cell_u64(r, a->query_us);
            admin_cell_u64(r, a->wait_us);
            admin_cell_u64(r, a->client_parse_count);
            admin_cell_u64(r, a->server_parse_count);
            admin_cell_u64(r, a->bind_count);
        }
        if (v == VIEW_STATS)
            admin_cell(r, backend_name(d[i].backend));
    }
    free(d);
}

void admin_show_databases(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"name", T},
        {"host", T},
        {"port", I},
        {"database", T},
        {"force_user", T},
        {"pool_size", I},
        {"min_pool_size", I},
        {"reserve_pool", I},
        {"pool_mode", T},
        {"max_connections", I},
        {"current_connections", I},
        {"paused", I},
        {"disabled", I},
        {"backend", T},
    };
    admin_res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    const struct config *cfg = weir.cfg;
    for (int i = 0; i < cfg->ndbs; i++) {
        const struct db_entry *db = &cfg->dbs[i];
        int servers, stale;
        pool_db_counts(db->name, &servers, &stale);
        admin_cell(r, db->name);
        admin_cell(r, db->host);
        admin_cell_int(r, db->port);
        admin_cell(r, db->dbname);
        admin_cell(r, db->user);
        admin_cell_int(r, config_pool_size(cfg, db, NULL));
        admin_cell_int(r, config_min_pool_size(cfg, db));
        admin_cell_int(r, config_reserve_pool_size(cfg, db));
        admin_cell(r, db->pool_mode >= 0 ? config_pool_mode_name(db->pool_mode) : NULL);
        admin_cell_int(r, config_max_db_connections(cfg, db));
        admin_cell_int(r, servers);
        admin_cell_int(r, pool_db_paused(db->name));
        admin_cell_int(r, pool_db_disabled(db->name));
        admin_cell(r, backend_name(db->backend));
    }
}

void admin_show_users(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"name", T}, {"pool_mode", T}};
    admin_res_cols(r, cols, 2);
    const struct config *cfg = weir.cfg;
    for (int i = 0; i < cfg->nusers; i++) {
        admin_cell(r, cfg->users[i].name);
        admin_cell(r, cfg->users[i].pool_mode >= 0 ? config_pool_mode_name(cfg->users[i].pool_mode)
                                                   : NULL);
    }
    /* Users with pools that have no [users] entry. */
    struct pool **pools;
    int n = pools_snapshot(&pools);
    for (int i = 0; i < n; i++) {
        const char *u = pools[i]->user;
        bool seen = config_find_user(cfg, u) != NULL;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(pools[j]->user, u);
        if (!seen) {
            admin_cell(r, u);
            admin_cell(r, NULL);
        }
    }
    free(pools);
}

static void config_row(void *arg, const char *key, const char *value, bool reloadable)
{
    struct admin_result *r = arg;
    admin_cell(r, key);
    admin_cell(r, value);
    admin_cell(r, NULL);
    admin_cell(r, reloadable ? "yes" : "no");
}

void admin_show_config(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"key", T}, {"value", T}, {"default", T}, {"changeable", T}};
    admin_res_cols(r, cols, 4);
    config_each(weir.cfg, config_row, r);
}

void admin_show_lists(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"list", T}, {"items", I}};
    admin_res_cols(r, cols, 2);
    struct stats_pool *p;
    int npools = stats_pools(&p);
    int users = 0, servers = 0, logged = 0;
    for (int i = 0; i < npools; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(p[j].user, p[i].user);
        users += !seen;
        servers += p[i].sv_active + p[i].sv_idle + p[i].sv_used + p[i].sv_tested + p[i].sv_login;
        logged += p[i].cl_active + p[i].cl_waiting;
    }
    free(p);
    int clients = atomic_load(&weir.nclients);
    const char *names[] = {"databases",    "users",         "pools",        "free_clients",
                           "used_clients", "login_clients", "free_servers", "used_servers",
                           "dns_names",    "dns_zones",     "dns_queries",  "dns_pending"};
    long long vals[] = {weir.cfg->ndbs,
                        users,
                        npools > 0 ? npools : 0,
                        0,
                        clients,
                        clients > logged ? clients - logged : 0,
                        0,
                        servers,
                        0,
                        0,
                        0,
                        0};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        admin_cell(r, names[i]);
        admin_cell_int(r, vals[i]);
    }
}

void admin_show_mem(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"name", T}, {"size", I}, {"used", I}, {"free", I}, {"memtotal", I}};
    admin_res_cols(r, cols, 5);
    struct stats_pool *p;
    int np = stats_pools(&p);
    long long servers = 0;
    for (int i = 0; i < np; i++)
        servers += p[i].sv_active + p[i].sv_idle + p[i].sv_used + p[i].sv_tested + p[i].sv_login;
    free(p);
    struct pool **pools;
    int npools = pools_snapshot(&pools);
    free(pools);
    long long clients = atomic_load(&weir.nclients);
    long my_c, my_cb, my_s, my_sb;
    stmt_my_mem(&my_c, &my_cb, &my_s, &my_sb);
    struct {
        const char *name;
        long long size, used, total; /* total < 0: size * used */
    } rows[] = {
        {"client_cache", sizeof(struct client), clients, -1},
        {"server_cache", sizeof(struct server), servers, -1},
        {"pool_cache", sizeof(struct pool), npools > 0 ? npools : 0, -1},
        {"iobuf", IOBUF_SIZE, 0, -1},
        /* Prepared statements: a client's (fixed part; memtotal adds texts and names) and a
           server's. MySQL's: the fixed parts and texts (kept prepare responses and column
           definitions not counted). */
        {"ps_client_stmt", sizeof(struct ps_stmt), ps_stmt_count(), ps_stmt_bytes()},
        {"ps_server_stmt", sizeof(struct ps_node), ps_cache_nodes(), -1},
        {"my_client_stmt", sizeof(struct stmt_my_client), my_c, my_cb},
        {"my_server_stmt", sizeof(struct stmt_my_server), my_s, my_sb},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        admin_cell(r, rows[i].name);
        admin_cell_int(r, rows[i].size);
        admin_cell_int(r, rows[i].used);
        admin_cell_int(r, 0);
        admin_cell_int(r, rows[i].total >= 0 ? rows[i].total : rows[i].size * rows[i].used);
    }
}

void admin_show_version(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"version", T}};
    admin_res_cols(r, cols, 1);
    admin_cell(r, "weir " WEIR_VERSION);
}

/* SHOW HOSTS: every database host weir has used, its breaker and its role. */
void admin_show_hosts(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"host", T},      {"port", I},       {"backend", T},    {"state", T},
        {"failures", I},  {"last_error", T}, {"next_probe", N}, {"role", T},
        {"read_only", I}, {"addr", T},       {"logins", N},     {"failed", N},
    };
    admin_res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    struct host_row *h;
    int n = hosts_rows(ev_time(), &h);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        char probe[32];
        snprintf(probe, sizeof(probe), "%.1f", h[i].next_probe_in);
        admin_cell(r, h[i].host);
        admin_cell_int(r, h[i].port);
        admin_cell(r, backend_name(h[i].kind));
        admin_cell(r, breaker_state_name(h[i].state));
        admin_cell_int(r, h[i].failures);
        admin_cell(r, h[i].last_error[0] ? h[i].last_error : NULL);
        admin_cell(r, h[i].state == BREAKER_OPEN ? probe : NULL);
        admin_cell(r, host_role_name(h[i].role));
        admin_cell_int(r, h[i].read_only);
        admin_cell(r, h[i].addr[0] ? h[i].addr : NULL);
        admin_cell_int(r, h[i].logins);
        admin_cell_int(r, h[i].failed);
    }
    free(h);
}

/* SHOW DNS_HOSTS: PgBouncer's columns (hostname, ttl, addrs), then weir's. */
void admin_show_dns_hosts(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"hostname", T}, {"ttl", N},      {"addrs", T}, {"expires_in", N},
        {"error", T},    {"querying", I}, {"hits", N},  {"misses", N},
    };
    admin_res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    struct dns_row *d;
    int n = dns_rows(ev_time(), &d);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        char ttl[32], left[32];
        snprintf(ttl, sizeof(ttl), "%.0f", d[i].ttl);
        snprintf(left, sizeof(left), "%.1f", d[i].expires_in);
        admin_cell(r, d[i].name);
        admin_cell(r, ttl);
        admin_cell(r, d[i].addrs);
        admin_cell(r, left);
        admin_cell(r, d[i].error[0] ? d[i].error : NULL);
        admin_cell_int(r, d[i].querying);
        admin_cell_int(r, d[i].hits);
        admin_cell_int(r, d[i].misses);
    }
    free(d);
}

void admin_show_state(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"key", T}, {"value", T}};
    admin_res_cols(r, cols, 2);
    const struct config *cfg = weir.cfg;
    bool all_paused = cfg->ndbs > 0;
    for (int i = 0; i < cfg->ndbs && all_paused; i++)
        all_paused = pool_db_paused(cfg->dbs[i].name);
    static const char *modes[] = {"none", "wait_clients", "wait_servers", "now"};
    enum shutdown_mode m = weir_shutdown_mode();
    const char *rows[][2] = {
        {"active", all_paused || m != SHUTDOWN_NONE ? "no" : "yes"},
        {"paused", all_paused ? "yes" : "no"},
        {"suspended", "no"},
        {"shutdown", (unsigned)m < 4 ? modes[m] : "?"},
    };
    for (int i = 0; i < 4; i++) {
        admin_cell(r, rows[i][0]);
        admin_cell(r, rows[i][1]);
    }
}

/*
 * SHOW LIMITS: the client addresses a per-address limit refuses now, one row
 * per address and reason, with when the refusal ends (NULL: when one of the
 * address's connections closes).
 */
void admin_show_limits(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"addr", T},        {"reason", T},   {"until", T},
        {"connections", I}, {"failures", I}, {"refused", N},
    };
    admin_res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    struct iplimit_row *rows = NULL;
    int entries;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = iplimit_snapshot((double)ts.tv_sec + ts.tv_nsec / 1e9, &rows, &entries);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        char ip[INET6_ADDRSTRLEN] = "?", until[40];
        inet_ntop(rows[i].family, rows[i].ip, ip, sizeof(ip));
        admin_cell(r, ip);
        admin_cell(r, iplimit_reason_name(rows[i].reason));
        if (rows[i].until > 0)
            fmt_time(until, sizeof(until), rows[i].until);
        admin_cell(r, rows[i].until > 0 ? until : NULL);
        admin_cell_int(r, rows[i].conns);
        admin_cell_int(r, rows[i].failures);
        admin_cell_u64(r, rows[i].refused);
    }
    free(rows);
}

const struct admin_col admin_conn_cols[ADMIN_NCONN_COLS] = {
    {"type", T},         {"user", T},       {"database", T},
    {"state", T},        {"addr", T},       {"port", I},
    {"local_addr", T},   {"local_port", I}, {"connect_time", T},
    {"request_time", T}, {"wait", I},       {"wait_us", I},
    {"close_needed", I}, {"ptr", T},        {"link", T},
    {"remote_pid", I},   {"tls", T},        {"application_name", T},
    {"id", N},           {"backend", T},    {"worker", I},
    {"pinned", T}, /* weir's own, last: why a client keeps its server (docs/pooling.md) */
};

#undef T
#undef I
#undef N

/* "2026-11-22 10:42:58 UTC", as PgBouncer prints times. */
static void fmt_time(char *b, size_t n, ev_tstamp t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(b, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Splits "ip:port" (the last colon) into its parts. */
static void split_addr(const char *addr, char *ip, size_t n, int *port)
{
    const char *colon = strrchr(addr, ':');
    size_t l = colon ? (size_t)(colon - addr) : strlen(addr);
    snprintf(ip, n, "%.*s", (int)l, addr);
    *port = colon ? atoi(colon + 1) : 0;
}

static const char *client_state_name(const struct client *c)
{
    switch (c->state) {
    case CL_PROXY:
    case CL_STARTUP:
    case CL_TLS:
    case CL_AUTH:
        return "login";
    case CL_WAITING:
        return "waiting";
    default:
        return "active";
    }
}

static const char *server_state_name(const struct server *s, ev_tstamp now)
{
    switch (s->state) {
    case SV_CONNECTING:
        return "new";
    case SV_IDLE:
        return now - s->last_used > weir.cfg->server_check_delay ? "used" : "idle";
    case SV_CHECK:
    case SV_RESET:
        return "tested";
    default:
        return "active";
    }
}

static void conn_row(struct admin_result *r, const char *type, const char *user,
                     const char *database, const char *state, const char *addr, const char *local,
                     ev_tstamp connect, ev_tstamp request, ev_tstamp wait, int close_needed,
                     const void *ptr, const void *link, long long pid, const char *app, uint64_t id,
                     enum backend_kind kind, int worker, const char *pinned, SSL *ssl)
{
    char tls[128];
    tls_describe(ssl, tls, sizeof(tls)); /* "TLSv1.3/TLS_AES_256_GCM_SHA384", "" when plain */
    char ip[64], lip[64], t1[40], t2[40], p1[32], p2[32];
    int port, lport;
    split_addr(addr, ip, sizeof(ip), &port);
    split_addr(local, lip, sizeof(lip), &lport);
    fmt_time(t1, sizeof(t1), connect);
    fmt_time(t2, sizeof(t2), request);
    snprintf(p1, sizeof(p1), "%p", ptr);
    snprintf(p2, sizeof(p2), "%p", link);
    long long wus = (long long)(wait * 1e6);
    admin_cell(r, type);
    admin_cell(r, user);
    admin_cell(r, database);
    admin_cell(r, state);
    admin_cell(r, ip);
    admin_cell_int(r, port);
    admin_cell(r, lip);
    admin_cell_int(r, lport);
    admin_cell(r, t1);
    admin_cell(r, t2);
    admin_cell_int(r, wus / 1000000);
    admin_cell_int(r, wus % 1000000);
    admin_cell_int(r, close_needed);
    admin_cell(r, p1);
    admin_cell(r, link ? p2 : NULL);
    admin_cell_int(r, pid);
    admin_cell(r, tls);
    admin_cell(r, app ? app : "");
    admin_cell_u64(r, id);
    admin_cell(r, backend_name(kind));
    admin_cell_int(r, worker);
    admin_cell(r, pinned);
}

static void local_of(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    snprintf(out, n, ":0");
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

/* "ip:port" a client reached weir on, asked of the kernel only when SHOW CLIENTS wants it. */
static void local_addr(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (fd != -1 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

void admin_rows_clients(struct worker *w, struct admin_result *r)
{
    ev_tstamp now = ev_now(w->loop);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
    {
        struct client *c = list_entry(pos, struct client, wnode);
        if (c->zombie)
            continue;
        const char *db = c->admin ? c->dbname : c->db ? c->db->name : c->dbname;
        ev_tstamp wait = c->state == CL_WAITING ? now - c->wait.start : 0;
        char addr[CLIENT_ADDR_TEXT], laddr[64];
        local_addr(c->fd, laddr, sizeof(laddr));
        client_addr_text(c, addr);
        if (c->addr.family == AF_UNIX) {
            /* addr "unix" as in PgBouncer, port the client's pid; the socket's name says nothing */
            uint32_t pid;
            memcpy(&pid, c->addr.ip, sizeof(pid));
            snprintf(addr, sizeof(addr), "unix:%u", (unsigned)pid);
            snprintf(laddr, sizeof(laddr), "unix:0");
        }
        char pinned[160] = "";
        if (c->proto == &client_my_proto && c->pinned)
            snprintf(pinned, sizeof(pinned), "session_state"); /* MySQL's own tracking */
        else
            pg_pin_names(sess_pg_pins(c), pinned, sizeof(pinned));
        conn_row(r, "C", c->user ? c->user : "", db ? db : "", client_state_name(c), addr, laddr,
                 c->connect_time, c->last_active ? c->last_active : c->connect_time, wait, 0, c,
                 c->server, c->cancel_pid, client_param(c, PARAM_APPLICATION_NAME), c->id,
                 c->proto == &client_my_proto ? BACKEND_MYSQL : BACKEND_POSTGRES, w->id, pinned,
                 c->ssl);
    }
}

void admin_rows_servers(struct worker *w, struct admin_result *r)
{
    ev_tstamp now = ev_now(w->loop);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->servers)
    {
        struct server *s = list_entry(pos, struct server, wnode);
        if (s->state == SV_CLOSED)
            continue;
        char addr[300], local[80];
        if (s->host)
            snprintf(addr, sizeof(addr), "%s:%d", host_name(s->host), host_port(s->host));
        else
            snprintf(addr, sizeof(addr), "%s:%d", s->pool->db->host, s->pool->db->port);
        local_of(s->state == SV_CONNECTING ? -1 : s->fd, local, sizeof(local));
        bool stale = s->state != SV_CONNECTING && pool_must_close(s->pool, s);
        conn_row(r, "S", s->pool->user, s->pool->db->name, server_state_name(s, now), addr, local,
                 s->created, s->last_used ? s->last_used : s->created, 0, stale, s, s->client, 0,
                 "weir", s->id, s->kind, w->id, "", s->state == SV_CONNECTING ? NULL : s->ssl);
    }
}
