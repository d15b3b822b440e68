/*
 * admin.c -- the admin console's commands: parsing, permissions, the rows of
 * every SHOW, and the route-level operations (PAUSE, RESUME, DISABLE, ENABLE,
 * RECONNECT, KILL, KILL_CLIENT, WAIT_CLOSE, RELOAD, SET, SHUTDOWN). Both
 * protocols call admin_input; only the framing of input and the encoder of
 * the answer differ (admin_wire.c).
 */
#include "pooler/admin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pooler/client.h"
#include "pooler/lifecycle.h"
#include "pooler/log.h"
#include "pooler/route.h"
#include "pooler/server.h"
#include "pooler/stats.h"
#include "pooler/worker.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"

#define ADMIN_QUERY_MAX (64 * 1024)

enum job_kind {
    JOB_CLIENTS,    /* SHOW CLIENTS: rows of each worker's clients */
    JOB_SERVERS,    /* SHOW SERVERS */
    JOB_CLOSE_IDLE, /* PAUSE, RECONNECT: idle servers that must go, go */
    JOB_KILL,       /* KILL: clients and servers of the database(s) */
    JOB_KILL_CLIENT /* KILL_CLIENT id */
};

enum wait_kind { WAIT_NOTHING = 0, WAIT_PAUSE, WAIT_CLOSE };

struct admin_job {
    struct list all_node; /* on all_jobs [jobs_lock] */
    enum job_kind kind;
    enum wait_kind then_wait; /* after the workers' part: wait for servers to go */
    pthread_mutex_t lock;
    int pending;           /* workers that have not run their part [lock] */
    struct worker *origin; /* the console client's worker */
    struct client *client; /* NULL once the console client left [origin only] */
    bool all;              /* every database */
    char db[64];
    uint64_t id;
    int found; /* KILL_CLIENT [lock] */
    struct admin_result res;
    /* waiting (PAUSE, WAIT_CLOSE) [wait_lock] */
    struct admin_job *wait_next;
    bool waiting;
    bool notified; /* a MSG_ADMIN_CHECK is on its way */
};

/* Every job alive, so that what a stop interrupts is freed (admin_free_all). */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list all_jobs = LIST_INIT(all_jobs);
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static struct admin_job *waits;
static atomic_int nwaits;

static struct db_entry console_db_pg = {.name = "weir", .host = "", .dbname = "weir"};
static struct db_entry console_db_my = {
    .name = "weir", .host = "", .dbname = "weir", .backend = BACKEND_MYSQL};

bool admin_is_console_db(const char *dbname)
{
    return dbname && (!strcmp(dbname, "weir") || !strcmp(dbname, "pgbouncer"));
}

const struct db_entry *admin_db_entry(enum backend_kind kind)
{
    return kind == BACKEND_MYSQL ? &console_db_my : &console_db_pg;
}

/* ---- results ---- */

static void res_init(struct admin_result *r)
{
    memset(r, 0, sizeof(*r));
}

static void res_clear(struct admin_result *r)
{
    for (size_t i = 0; i < r->ncells; i++)
        free(r->cells[i]);
    free(r->cells);
    res_init(r);
}

static void res_cols(struct admin_result *r, const struct admin_col *cols, int n)
{
    r->ncols = n < ADMIN_MAX_COLS ? n : ADMIN_MAX_COLS;
    memcpy(r->cols, cols, sizeof(*cols) * r->ncols);
    snprintf(r->tag, sizeof(r->tag), "SHOW");
}

static void res_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void res_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
}

/* Appends a cell (v copied; NULL = SQL NULL). */
static void cell(struct admin_result *r, const char *v)
{
    if (r->failed)
        return;
    if (r->ncells == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        char **cells = realloc(r->cells, sizeof(*cells) * cap);
        if (!cells) {
            r->failed = true;
            return;
        }
        r->cells = cells;
        r->cap = cap;
    }
    char *copy = NULL;
    if (v && !(copy = strdup(v))) {
        r->failed = true;
        return;
    }
    r->cells[r->ncells++] = copy;
}

static void cell_int(struct admin_result *r, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    cell(r, b);
}

static void cell_u64(struct admin_result *r, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    cell(r, b);
}

/* Moves the rows of src to the end of dst (same columns). */
static void res_take_rows(struct admin_result *dst, struct admin_result *src)
{
    for (size_t i = 0; i < src->ncells; i++) {
        if (dst->failed)
            break;
        cell(dst, src->cells[i]);
    }
    if (src->failed)
        dst->failed = true;
}

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

/* ---- permissions ---- */

/* True when user is in the comma/space separated list. */
static bool in_list(const char *list, const char *user)
{
    if (!list || !user)
        return false;
    size_t ul = strlen(user);
    const char *p = list;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *e = p;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        if ((size_t)(e - p) == ul && !strncmp(p, user, ul))
            return true;
        p = e;
    }
    return false;
}

static int permission(const char *user)
{
    if (in_list(weir.cfg->admin_users, user))
        return ADMIN_FULL;
    if (in_list(weir.cfg->stats_users, user))
        return ADMIN_STATS;
    return ADMIN_NONE;
}

/* ---- answering ---- */

static bool is_my(const struct client *c)
{
    return c->proto == &client_my_proto;
}

/* Writes the result for c and flushes. False when c was closed (write error). */
static bool answer(struct client *c, struct admin_result *r)
{
    if (r->failed) {
        res_clear(r);
        res_error(r, "53200", "out of memory");
    }
    if (is_my(c))
        admin_write_my(&c->out, r, c->my_caps);
    else
        admin_write_pg(&c->out, r);
    if (c->out.failed || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to console client");
        return false;
    }
    return true;
}

void admin_login(struct client *c)
{
    c->admin = (uint8_t)permission(c->user);
    if (c->admin == ADMIN_NONE) {
        client_fail(c, "28000", "not allowed");
        return;
    }
    if (is_my(c)) {
        struct my_out o;
        my_out_init(&o);
        my_out_ok(&o, c->my_seq, c->my_caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
        pg_out_bytes(&c->out, o.data, o.len);
        if (o.failed)
            c->out.failed = true;
        my_out_free(&o);
    } else {
        pg_out_auth(&c->out, 0, NULL, 0);
        /* A PostgreSQL-like version: drivers refuse servers older than 8.0. */
        pg_out_param_status(&c->out, "server_version", "15.0 (weir " WEIR_VERSION ")");
        pg_out_param_status(&c->out, "server_encoding", "UTF8");
        pg_out_param_status(&c->out, "client_encoding", "UTF8");
        pg_out_param_status(&c->out, "DateStyle", "ISO");
        pg_out_param_status(&c->out, "TimeZone", "UTC");
        pg_out_param_status(&c->out, "standard_conforming_strings", "on");
        pg_out_param_status(&c->out, "integer_datetimes", "on");
        client_cancel_register(c->w, c);
        pg_out_backend_key(&c->out, c->cancel_pid, c->cancel_key);
        pg_out_ready(&c->out, 'I');
    }
    c->state = CL_ADMIN;
    c->deadline = 0;
    c->welcomed = true;
    c->last_active = ev_now(c->w->loop);
    if (weir.cfg->log_connections)
        log_info(CLIENT_FMT " console login (%s)", CLIENT_ARGS(c),
                 c->admin == ADMIN_FULL ? "admin" : "stats");
    if (c->out.failed || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

/* ---- SHOW ---- */

static const char help_text[] =
    "SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION|STATE\n"
    "\tSHOW LISTS|MEM\n"
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
    "\tSHUTDOWN\n"
    "\tWAIT_CLOSE [<db>]";

static const char *backend_name(enum backend_kind k)
{
    return k == BACKEND_MYSQL ? "mysql" : "postgres";
}

#define T ADMIN_TEXT
#define I ADMIN_INT4
#define N ADMIN_NUMERIC

static void show_pools(struct admin_result *r)
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
    };
    res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    struct stats_pool *p;
    int n = stats_pools(&p);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        cell(r, p[i].database);
        cell(r, p[i].user);
        cell_int(r, p[i].cl_active);
        cell_int(r, p[i].cl_waiting);
        cell_int(r, 0);
        cell_int(r, 0);
        cell_int(r, p[i].sv_active);
        cell_int(r, 0);
        cell_int(r, 0);
        cell_int(r, p[i].sv_idle);
        cell_int(r, p[i].sv_used);
        cell_int(r, 0);
        cell_int(r, p[i].sv_login);
        long long us = (long long)(p[i].maxwait * 1e6);
        cell_int(r, us / 1000000);
        cell_int(r, us % 1000000);
        cell(r, config_pool_mode_name(p[i].pool_mode));
        cell(r, backend_name(p[i].backend));
        cell_int(r, p[i].paused);
    }
    free(p);
}

enum stats_view { VIEW_STATS, VIEW_TOTALS, VIEW_AVERAGES };

static void show_stats(struct admin_result *r, enum stats_view v)
{
    static const struct admin_col stats_cols[] = {
        {"database", T},         {"total_xact_count", N}, {"total_query_count", N},
        {"total_received", N},   {"total_sent", N},       {"total_xact_time", N},
        {"total_query_time", N}, {"total_wait_time", N},  {"avg_xact_count", N},
        {"avg_query_count", N},  {"avg_recv", N},         {"avg_sent", N},
        {"avg_xact_time", N},    {"avg_query_time", N},   {"avg_wait_time", N},
        {"backend", T},
    };
    static const struct admin_col part_cols[] = {
        {"database", T},   {"xact_count", N}, {"query_count", N}, {"bytes_received", N},
        {"bytes_sent", N}, {"xact_time", N},  {"query_time", N},  {"wait_time", N},
    };
    if (v == VIEW_STATS)
        res_cols(r, stats_cols, sizeof(stats_cols) / sizeof(stats_cols[0]));
    else
        res_cols(r, part_cols, sizeof(part_cols) / sizeof(part_cols[0]));
    struct stats_db *d;
    int n = stats_databases(&d);
    if (n < 0) {
        r->failed = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct stats_totals *t = &d[i].totals;
        const struct stats_avg *a = &d[i].avg;
        cell(r, d[i].database);
        if (v != VIEW_AVERAGES) {
            cell_u64(r, t->xact_count);
            cell_u64(r, t->query_count);
            cell_u64(r, t->bytes_recv);
            cell_u64(r, t->bytes_sent);
            cell_u64(r, t->xact_us);
            cell_u64(r, t->query_us);
            cell_u64(r, t->wait_us);
        }
        if (v != VIEW_TOTALS) {
            cell_u64(r, a->xact_count);
            cell_u64(r, a->query_count);
            cell_u64(r, a->bytes_recv);
            cell_u64(r, a->bytes_sent);
            cell_u64(r, a->xact_us);
            cell_u64(r, a->query_us);
            cell_u64(r, a->wait_us);
        }
        if (v == VIEW_STATS)
            cell(r, backend_name(d[i].backend));
    }
    free(d);
}

static void show_databases(struct admin_result *r)
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
    res_cols(r, cols, sizeof(cols) / sizeof(cols[0]));
    const struct config *cfg = weir.cfg;
    for (int i = 0; i < cfg->ndbs; i++) {
        const struct db_entry *db = &cfg->dbs[i];
        int servers, stale;
        route_db_counts(db->name, &servers, &stale);
        cell(r, db->name);
        cell(r, db->host);
        cell_int(r, db->port);
        cell(r, db->dbname);
        cell(r, db->user);
        cell_int(r, config_pool_size(cfg, db, NULL));
        cell_int(r, config_min_pool_size(cfg, db));
        cell_int(r, config_reserve_pool_size(cfg, db));
        cell(r, db->pool_mode >= 0 ? config_pool_mode_name(db->pool_mode) : NULL);
        cell_int(r, config_max_db_connections(cfg, db));
        cell_int(r, servers);
        cell_int(r, route_db_paused(db->name));
        cell_int(r, route_db_disabled(db->name));
        cell(r, backend_name(db->backend));
    }
}

static void show_users(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"name", T}, {"pool_mode", T}};
    res_cols(r, cols, 2);
    const struct config *cfg = weir.cfg;
    for (int i = 0; i < cfg->nusers; i++) {
        cell(r, cfg->users[i].name);
        cell(r,
             cfg->users[i].pool_mode >= 0 ? config_pool_mode_name(cfg->users[i].pool_mode) : NULL);
    }
    /* Users with pools that have no [users] entry. */
    struct route **routes;
    int n = routes_snapshot(&routes);
    for (int i = 0; i < n; i++) {
        const char *u = routes[i]->user;
        bool seen = config_find_user(cfg, u) != NULL;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(routes[j]->user, u);
        if (!seen) {
            cell(r, u);
            cell(r, NULL);
        }
    }
    free(routes);
}

static void config_row(void *arg, const char *key, const char *value, bool reloadable)
{
    struct admin_result *r = arg;
    cell(r, key);
    cell(r, value);
    cell(r, NULL);
    cell(r, reloadable ? "yes" : "no");
}

static void show_config(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"key", T}, {"value", T}, {"default", T}, {"changeable", T}};
    res_cols(r, cols, 4);
    config_each(weir.cfg, config_row, r);
}

static void show_lists(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"list", T}, {"items", I}};
    res_cols(r, cols, 2);
    struct stats_pool *p;
    int npools = stats_pools(&p);
    int users = 0, servers = 0, logged = 0;
    for (int i = 0; i < npools; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(p[j].user, p[i].user);
        users += !seen;
        servers += p[i].sv_active + p[i].sv_idle + p[i].sv_used + p[i].sv_login;
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
        cell(r, names[i]);
        cell_int(r, vals[i]);
    }
}

static void show_mem(struct admin_result *r)
{
    static const struct admin_col cols[] = {
        {"name", T}, {"size", I}, {"used", I}, {"free", I}, {"memtotal", I}};
    res_cols(r, cols, 5);
    struct stats_pool *p;
    int npools = stats_pools(&p);
    long long servers = 0;
    for (int i = 0; i < npools; i++)
        servers += p[i].sv_active + p[i].sv_idle + p[i].sv_used + p[i].sv_login;
    free(p);
    struct route **routes;
    int nroutes = routes_snapshot(&routes);
    free(routes);
    long long clients = atomic_load(&weir.nclients);
    struct {
        const char *name;
        long long size, used;
    } rows[] = {
        {"client_cache", sizeof(struct client), clients},
        {"server_cache", sizeof(struct server), servers},
        {"pool_cache", sizeof(struct route), nroutes > 0 ? nroutes : 0},
        {"iobuf", IOBUF_SIZE, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cell(r, rows[i].name);
        cell_int(r, rows[i].size);
        cell_int(r, rows[i].used);
        cell_int(r, 0);
        cell_int(r, rows[i].size * rows[i].used);
    }
}

static void show_version(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"version", T}};
    res_cols(r, cols, 1);
    cell(r, "weir " WEIR_VERSION);
}

static void show_state(struct admin_result *r)
{
    static const struct admin_col cols[] = {{"key", T}, {"value", T}};
    res_cols(r, cols, 2);
    const struct config *cfg = weir.cfg;
    bool all_paused = cfg->ndbs > 0;
    for (int i = 0; i < cfg->ndbs && all_paused; i++)
        all_paused = route_db_paused(cfg->dbs[i].name);
    static const char *modes[] = {"none", "wait_clients", "wait_servers", "now"};
    enum shutdown_mode m = weir_shutdown_mode();
    const char *rows[][2] = {
        {"active", all_paused || m != SHUTDOWN_NONE ? "no" : "yes"},
        {"paused", all_paused ? "yes" : "no"},
        {"suspended", "no"},
        {"shutdown", (unsigned)m < 4 ? modes[m] : "?"},
    };
    for (int i = 0; i < 4; i++) {
        cell(r, rows[i][0]);
        cell(r, rows[i][1]);
    }
}

static const struct admin_col conn_cols[] = {
    {"type", T},         {"user", T},       {"database", T},
    {"state", T},        {"addr", T},       {"port", I},
    {"local_addr", T},   {"local_port", I}, {"connect_time", T},
    {"request_time", T}, {"wait", I},       {"wait_us", I},
    {"close_needed", I}, {"ptr", T},        {"link", T},
    {"remote_pid", I},   {"tls", T},        {"application_name", T},
    {"id", N},           {"backend", T},    {"worker", I},
};

#undef T
#undef I
#undef N

/* ---- jobs on every worker ---- */

static struct admin_job *job_new(struct client *c, enum job_kind kind, const char *db)
{
    struct admin_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->kind = kind;
    job->origin = c->w;
    job->client = c;
    job->all = !db;
    if (db)
        snprintf(job->db, sizeof(job->db), "%s", db);
    pthread_mutex_init(&job->lock, NULL);
    res_init(&job->res);
    pthread_mutex_lock(&jobs_lock);
    list_add_tail(&all_jobs, &job->all_node);
    pthread_mutex_unlock(&jobs_lock);
    return job;
}

static void job_free(struct admin_job *job)
{
    pthread_mutex_lock(&jobs_lock);
    list_del(&job->all_node);
    pthread_mutex_unlock(&jobs_lock);
    res_clear(&job->res);
    pthread_mutex_destroy(&job->lock);
    free(job);
}

/* Posts the job to every worker; the console client reads nothing more until it is answered. */
static void job_start(struct client *c, struct admin_job *job)
{
    c->admin_job = job;
    if (!c->read_paused) {
        ev_io_stop(c->w->loop, &c->rio);
        c->read_paused = true;
    }
    job->pending = weir.nworkers;
    for (int i = 0; i < weir.nworkers; i++) {
        struct msg *m = msg_new(MSG_ADMIN);
        m->job = job;
        worker_post(&weir.workers[i], m);
    }
}

static bool job_db_match(const struct admin_job *job, const char *dbname)
{
    return job->all || (dbname && !strcmp(job->db, dbname));
}

static const char *client_state_name(const struct client *c)
{
    switch (c->state) {
    case CL_STARTUP:
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
                     enum backend_kind kind, int worker)
{
    char ip[64], lip[64], t1[40], t2[40], p1[32], p2[32];
    int port, lport;
    split_addr(addr, ip, sizeof(ip), &port);
    split_addr(local, lip, sizeof(lip), &lport);
    fmt_time(t1, sizeof(t1), connect);
    fmt_time(t2, sizeof(t2), request);
    snprintf(p1, sizeof(p1), "%p", ptr);
    snprintf(p2, sizeof(p2), "%p", link);
    long long wus = (long long)(wait * 1e6);
    cell(r, type);
    cell(r, user);
    cell(r, database);
    cell(r, state);
    cell(r, ip);
    cell_int(r, port);
    cell(r, lip);
    cell_int(r, lport);
    cell(r, t1);
    cell(r, t2);
    cell_int(r, wus / 1000000);
    cell_int(r, wus % 1000000);
    cell_int(r, close_needed);
    cell(r, p1);
    cell(r, link ? p2 : NULL);
    cell_int(r, pid);
    cell(r, "");
    cell(r, app ? app : "");
    cell_u64(r, id);
    cell(r, backend_name(kind));
    cell_int(r, worker);
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

static void rows_clients(struct worker *w, struct admin_result *r)
{
    ev_tstamp now = ev_now(w->loop);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
    {
        struct client *c = list_entry(pos, struct client, wnode);
        if (c->zombie)
            continue;
        const char *db = c->admin ? c->dbname : c->db ? c->db->name : c->dbname;
        ev_tstamp wait = c->state == CL_WAITING ? now - c->wait_start : 0;
        conn_row(r, "C", c->user ? c->user : "", db ? db : "", client_state_name(c), c->addr,
                 c->local_addr, c->connect_time, c->last_active ? c->last_active : c->connect_time,
                 wait, 0, c, c->server, c->cancel_pid, c->want.v[PARAM_APPLICATION_NAME], c->id,
                 c->proto == &client_my_proto ? BACKEND_MYSQL : BACKEND_POSTGRES, w->id);
    }
}

static void rows_servers(struct worker *w, struct admin_result *r)
{
    ev_tstamp now = ev_now(w->loop);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->servers)
    {
        struct server *s = list_entry(pos, struct server, wnode);
        if (s->state == SV_CLOSED)
            continue;
        char addr[300], local[80];
        snprintf(addr, sizeof(addr), "%s:%d", s->route->db->host, s->route->db->port);
        local_of(s->state == SV_CONNECTING ? -1 : s->fd, local, sizeof(local));
        bool stale = s->state != SV_CONNECTING && route_must_close(s->route, s);
        conn_row(r, "S", s->route->user, s->route->db->name, server_state_name(s, now), addr, local,
                 s->created, s->last_used ? s->last_used : s->created, 0, stale, s, s->client, 0,
                 "weir", s->id, s->kind, w->id);
    }
}

/* Idle servers of the job's database(s) that must go (paused, older generation), go. */
static void close_idle(struct worker *w, struct admin_job *job)
{
    bool again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->servers)
        {
            struct server *s = list_entry(pos, struct server, wnode);
            if (s->state != SV_IDLE || !job_db_match(job, s->route->db->name) ||
                !route_must_close(s->route, s))
                continue;
            server_close(s, job->kind == JOB_KILL ? "KILL from the console"
                                                  : "closed by the console (PAUSE/RECONNECT)");
            again = true; /* closing may have changed the list: walk it again */
            break;
        }
    }
}

/* KILL: every client (not consoles) and server of the job's database(s). */
static void kill_all(struct worker *w, struct admin_job *job)
{
    bool again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->clients)
        {
            struct client *c = list_entry(pos, struct client, wnode);
            if (c->zombie || c->admin || !c->db || !job_db_match(job, c->db->name))
                continue;
            client_fail(c, "08P01", "database killed from the console (KILL)");
            again = true;
            break;
        }
    }
    again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->servers)
        {
            struct server *s = list_entry(pos, struct server, wnode);
            if (s->state == SV_CLOSED || !job_db_match(job, s->route->db->name))
                continue;
            server_close(s, "KILL from the console");
            again = true;
            break;
        }
    }
}

static bool kill_client(struct worker *w, uint64_t id)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
    {
        struct client *c = list_entry(pos, struct client, wnode);
        if (c->id != id || c->zombie)
            continue;
        client_fail(c, "08P01", "client killed from the console (KILL_CLIENT)");
        return true;
    }
    return false;
}

void admin_job_run(struct worker *w, struct admin_job *job)
{
    struct admin_result part;
    res_init(&part);
    bool found = false;
    switch (job->kind) {
    case JOB_CLIENTS:
        part.ncols = job->res.ncols;
        rows_clients(w, &part);
        break;
    case JOB_SERVERS:
        part.ncols = job->res.ncols;
        rows_servers(w, &part);
        break;
    case JOB_CLOSE_IDLE:
        close_idle(w, job);
        break;
    case JOB_KILL:
        kill_all(w, job);
        break;
    case JOB_KILL_CLIENT:
        found = kill_client(w, job->id);
        break;
    }
    pthread_mutex_lock(&job->lock);
    res_take_rows(&job->res, &part);
    job->found += found;
    bool last = --job->pending == 0;
    pthread_mutex_unlock(&job->lock);
    res_clear(&part);
    if (last) {
        struct msg *m = msg_new(MSG_ADMIN_DONE);
        m->job = job;
        worker_post(job->origin, m);
    }
}

/* ---- waiting for servers to go (PAUSE, WAIT_CLOSE) ---- */

static bool wait_satisfied(const struct admin_job *job)
{
    int servers, stale;
    route_db_counts(job->all ? NULL : job->db, &servers, &stale);
    return job->then_wait == WAIT_PAUSE ? servers == 0 : stale == 0;
}

static void resume_reading(struct client *c)
{
    c->admin_job = NULL;
    if (c->read_paused && c->fd != -1) {
        ev_io_start(c->w->loop, &c->rio);
        c->read_paused = false;
    }
}

/* The job is over for its console client: answer, free, go on reading. */
static void job_finish(struct admin_job *job)
{
    struct client *c = job->client;
    bool alive = false;
    if (c) {
        resume_reading(c);
        alive = answer(c, &job->res);
    }
    job_free(job);
    /* Commands that arrived while this one ran. */
    if (alive && c->in && c->in->recv && c->state == CL_ADMIN)
        admin_input(c);
}

/* Checks a job's wait; answers or (re)registers it. Runs on the origin worker. */
static void wait_step(struct admin_job *job)
{
    if (job->client && !wait_satisfied(job)) {
        pthread_mutex_lock(&wait_lock);
        if (!job->waiting) {
            job->waiting = true;
            job->wait_next = waits;
            waits = job;
            atomic_fetch_add(&nwaits, 1);
        }
        pthread_mutex_unlock(&wait_lock);
        /* A server may have gone between the check and the registration: check again. */
        if (!wait_satisfied(job))
            return;
    }
    pthread_mutex_lock(&wait_lock);
    bool in_flight = job->notified;
    if (job->waiting) {
        struct admin_job **pp = &waits;
        while (*pp && *pp != job)
            pp = &(*pp)->wait_next;
        if (*pp)
            *pp = job->wait_next;
        job->waiting = false;
        atomic_fetch_sub(&nwaits, 1);
    }
    pthread_mutex_unlock(&wait_lock);
    if (in_flight) {
        /* A MSG_ADMIN_CHECK still names the job: it finishes there. */
        pthread_mutex_lock(&wait_lock);
        job->then_wait = WAIT_NOTHING;
        pthread_mutex_unlock(&wait_lock);
        return;
    }
    job_finish(job);
}

void admin_job_done(struct worker *w, struct admin_job *job)
{
    if (!job->client) {
        job_free(job);
        return;
    }
    if (job->kind == JOB_KILL_CLIENT && job->found == 0) {
        res_clear(&job->res);
        res_error(&job->res, "08P01", "no such client: %llu", (unsigned long long)job->id);
    }
    if (job->then_wait != WAIT_NOTHING) {
        wait_step(job);
        return;
    }
    job_finish(job);
}

void admin_wait_check(struct worker *w, struct admin_job *job)
{
    pthread_mutex_lock(&wait_lock);
    job->notified = false;
    bool still = job->waiting;
    bool over = job->then_wait == WAIT_NOTHING;
    pthread_mutex_unlock(&wait_lock);
    if (over) {
        job_finish(job); /* wait_step saw it satisfied while this message was on its way */
        return;
    }
    if (!job->client) {
        if (still) {
            pthread_mutex_lock(&wait_lock);
            struct admin_job **pp = &waits;
            while (*pp && *pp != job)
                pp = &(*pp)->wait_next;
            if (*pp) {
                *pp = job->wait_next;
                atomic_fetch_sub(&nwaits, 1);
            }
            job->waiting = false;
            pthread_mutex_unlock(&wait_lock);
        }
        job_free(job);
        return;
    }
    if (still)
        wait_step(job);
}

void admin_notify(void)
{
    if (atomic_load(&nwaits) == 0)
        return;
    pthread_mutex_lock(&wait_lock);
    for (struct admin_job *job = waits; job; job = job->wait_next) {
        if (job->notified)
            continue;
        job->notified = true;
        struct msg *m = msg_new(MSG_ADMIN_CHECK);
        m->job = job;
        worker_post(job->origin, m);
    }
    pthread_mutex_unlock(&wait_lock);
}

void admin_free_all(void)
{
    struct list *n;
    pthread_mutex_lock(&wait_lock);
    waits = NULL;
    atomic_store(&nwaits, 0);
    pthread_mutex_unlock(&wait_lock);
    for (;;) {
        pthread_mutex_lock(&jobs_lock);
        n = list_pop(&all_jobs);
        pthread_mutex_unlock(&jobs_lock);
        if (!n)
            break;
        struct admin_job *job = list_entry(n, struct admin_job, all_node);
        list_init(&job->all_node);
        res_clear(&job->res);
        pthread_mutex_destroy(&job->lock);
        free(job);
    }
}

void admin_client_gone(struct client *c)
{
    struct admin_job *job = c->admin_job;
    if (!job)
        return;
    c->admin_job = NULL;
    job->client = NULL;
    pthread_mutex_lock(&wait_lock);
    bool waiting = job->waiting, in_flight = job->notified;
    if (waiting && !in_flight) {
        struct admin_job **pp = &waits;
        while (*pp && *pp != job)
            pp = &(*pp)->wait_next;
        if (*pp)
            *pp = job->wait_next;
        job->waiting = false;
        atomic_fetch_sub(&nwaits, 1);
    }
    pthread_mutex_unlock(&wait_lock);
    /* Still on the workers (MSG_ADMIN_DONE frees it) or a check in flight (it frees it). */
    if (waiting && !in_flight)
        job_free(job);
}

/* ---- commands ---- */

/* Next word of *p (letters, digits, _ . - and quoted "..."), upper-cased into w when upper. */
static bool next_word(const char **p, char *w, size_t n, bool upper)
{
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    size_t l = 0;
    if (*s == '"') {
        s++;
        while (*s && *s != '"' && l + 1 < n)
            w[l++] = *s++;
        if (*s == '"')
            s++;
    } else {
        while (*s && !isspace((unsigned char)*s) && *s != '=' && l + 1 < n) {
            char ch = *s++;
            w[l++] = upper ? (char)toupper((unsigned char)ch) : ch;
        }
    }
    w[l] = 0;
    *p = s;
    return l > 0;
}

static bool at_end(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return !*p;
}

static bool db_known(struct admin_result *r, const char *db)
{
    if (db && !config_find_db(weir.cfg, db)) {
        res_error(r, "08P01", "no such database: %s", db);
        return false;
    }
    return true;
}

/* SET key = value (or TO): the value may be quoted '...'. */
static void cmd_set(struct admin_result *r, const char *p)
{
    char key[128], value[512];
    if (!next_word(&p, key, sizeof(key), false)) {
        res_error(r, "08P01", "SET needs: SET key = value");
        return;
    }
    for (char *k = key; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '=')
        p++;
    else if (!strncasecmp(p, "to", 2) && isspace((unsigned char)p[2]))
        p += 2;
    else {
        res_error(r, "08P01", "SET needs: SET key = value");
        return;
    }
    while (isspace((unsigned char)*p))
        p++;
    size_t l = 0;
    if (*p == '\'') {
        p++;
        while (*p && l + 1 < sizeof(value)) {
            if (*p == '\'' && p[1] == '\'')
                p++;
            else if (*p == '\'')
                break;
            value[l++] = *p++;
        }
    } else {
        while (*p && l + 1 < sizeof(value))
            value[l++] = *p++;
        while (l > 0 && isspace((unsigned char)value[l - 1]))
            l--;
    }
    value[l] = 0;
    char err[256] = "";
    if (weir_set(key, value, err, sizeof(err)) != WR_OK) {
        res_error(r, "08P01", "%s", err[0] ? err : "SET failed");
        return;
    }
    log_info("console: SET %s = %s", key, value);
    snprintf(r->tag, sizeof(r->tag), "SET");
}

/*
 * Runs one command for console client c. Returns true when r holds the
 * answer; false when a job took over (it answers later).
 */
static bool run_command(struct client *c, const char *sql, struct admin_result *r)
{
    const char *p = sql;
    char cmd[32], arg[128];
    if (!next_word(&p, cmd, sizeof(cmd), true)) {
        snprintf(r->tag, sizeof(r->tag), "EMPTY"); /* an empty query */
        return true;
    }
    bool is_show = !strcmp(cmd, "SHOW");
    if (!is_show && c->admin != ADMIN_FULL) {
        res_error(r, "42501", "permission denied: %s needs admin access (admin_users)", cmd);
        return true;
    }
    if (is_show) {
        char what[32];
        next_word(&p, what, sizeof(what), true);
        if (!at_end(p))
            goto invalid;
        if (!strcmp(what, "HELP")) {
            snprintf(r->notice, sizeof(r->notice), "Console usage\n\t%s", help_text);
            snprintf(r->tag, sizeof(r->tag), "SHOW");
        } else if (!strcmp(what, "POOLS")) {
            show_pools(r);
        } else if (!strcmp(what, "STATS")) {
            show_stats(r, VIEW_STATS);
        } else if (!strcmp(what, "STATS_TOTALS")) {
            show_stats(r, VIEW_TOTALS);
        } else if (!strcmp(what, "STATS_AVERAGES")) {
            show_stats(r, VIEW_AVERAGES);
        } else if (!strcmp(what, "DATABASES")) {
            show_databases(r);
        } else if (!strcmp(what, "USERS")) {
            show_users(r);
        } else if (!strcmp(what, "CONFIG")) {
            show_config(r);
        } else if (!strcmp(what, "LISTS")) {
            show_lists(r);
        } else if (!strcmp(what, "MEM")) {
            show_mem(r);
        } else if (!strcmp(what, "VERSION")) {
            show_version(r);
        } else if (!strcmp(what, "STATE")) {
            show_state(r);
        } else if (!strcmp(what, "CLIENTS") || !strcmp(what, "SERVERS")) {
            struct admin_job *job = job_new(c, what[0] == 'C' ? JOB_CLIENTS : JOB_SERVERS, NULL);
            if (!job) {
                r->failed = true;
                return true;
            }
            res_cols(&job->res, conn_cols, sizeof(conn_cols) / sizeof(conn_cols[0]));
            job_start(c, job);
            return false;
        } else {
            goto invalid;
        }
        return true;
    }
    if (!strcmp(cmd, "SET")) {
        cmd_set(r, p);
        return true;
    }
    bool has_arg = next_word(&p, arg, sizeof(arg), false);
    if (!at_end(p))
        goto invalid;
    const char *db = has_arg ? arg : NULL;
    snprintf(r->tag, sizeof(r->tag), "%s", cmd);
    if (!strcmp(cmd, "RELOAD") && !has_arg) {
        char err[256] = "";
        if (weir_reload(err, sizeof(err)) != WR_OK)
            res_error(r, "08P01", "%s", err[0] ? err : "reload failed");
        return true;
    }
    if (!strcmp(cmd, "SHUTDOWN") && !has_arg) {
        log_info("console: SHUTDOWN by %s", c->user);
        weir_shutdown(SHUTDOWN_NOW);
        return true;
    }
    if (!strcmp(cmd, "KILL_CLIENT")) {
        char *end;
        unsigned long long id = has_arg ? strtoull(arg, &end, 10) : 0;
        if (!has_arg || *end || id == 0) {
            res_error(r, "08P01", "KILL_CLIENT needs a client id (SHOW CLIENTS, column id)");
            return true;
        }
        struct admin_job *job = job_new(c, JOB_KILL_CLIENT, NULL);
        if (!job) {
            r->failed = true;
            return true;
        }
        job->id = id;
        snprintf(job->res.tag, sizeof(job->res.tag), "KILL_CLIENT");
        job_start(c, job);
        return false;
    }
    bool need_db = !strcmp(cmd, "DISABLE") || !strcmp(cmd, "ENABLE");
    bool any_db = !strcmp(cmd, "PAUSE") || !strcmp(cmd, "RESUME") || !strcmp(cmd, "RECONNECT") ||
                  !strcmp(cmd, "KILL") || !strcmp(cmd, "WAIT_CLOSE");
    if (!need_db && !any_db)
        goto invalid;
    if (need_db && !has_arg) {
        res_error(r, "08P01", "%s needs a database name", cmd);
        return true;
    }
    if (!db_known(r, db))
        return true;
    log_info("console: %s %s by %s", cmd, db ? db : "(all)", c->user);
    if (!strcmp(cmd, "DISABLE") || !strcmp(cmd, "ENABLE")) {
        route_db_set_disabled(db, cmd[0] == 'D');
        return true;
    }
    if (!strcmp(cmd, "RESUME")) {
        route_db_pause(c->w, db, false);
        return true;
    }
    enum job_kind kind = JOB_CLOSE_IDLE;
    enum wait_kind then = WAIT_NOTHING;
    if (!strcmp(cmd, "PAUSE")) {
        route_db_pause(c->w, db, true);
        then = WAIT_PAUSE;
    } else if (!strcmp(cmd, "RECONNECT")) {
        route_db_reconnect(db);
    } else if (!strcmp(cmd, "KILL")) {
        /* As PgBouncer: the database stays paused until RESUME. */
        route_db_pause(c->w, db, true);
        kind = JOB_KILL;
    } else { /* WAIT_CLOSE */
        then = WAIT_CLOSE;
    }
    struct admin_job *job = job_new(c, kind, db);
    if (!job) {
        r->failed = true;
        return true;
    }
    job->then_wait = then;
    snprintf(job->res.tag, sizeof(job->res.tag), "%s", cmd);
    job_start(c, job);
    return false;
invalid:
    res_clear(r);
    res_error(r, "08P01", "invalid command '%s', use SHOW HELP;", sql);
    return true;
}

struct key_search {
    const char *key;
    bool found;
};

static void key_cb(void *arg, const char *key, const char *value, bool reloadable)
{
    struct key_search *ks = arg;
    if (!strcasecmp(key, ks->key))
        ks->found = true;
}

/*
 * MySQL drivers set session variables when they connect (SET NAMES utf8mb4,
 * SET autocommit = 1): a SET of anything that is not a [weir] key is
 * accepted and does nothing, so they can use the console.
 */
static bool my_session_set(const char *text)
{
    const char *p = text;
    char w[32], key[128];
    if (!next_word(&p, w, sizeof(w), true) || strcmp(w, "SET"))
        return false;
    if (!next_word(&p, key, sizeof(key), false))
        return true;
    struct key_search ks = {key, false};
    config_each(weir.cfg, key_cb, &ks);
    return !ks.found;
}

/* One query text from the console client. False when c was closed. */
static bool console_query(struct client *c, const char *sql)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s", sql);
    /* Trailing semicolons and blanks go; one statement per query. */
    size_t l = strlen(text);
    while (l > 0 && (text[l - 1] == ';' || isspace((unsigned char)text[l - 1])))
        text[--l] = 0;
    struct admin_result r;
    res_init(&r);
    if (is_my(c) && !strncasecmp(text, "select @@version_comment", 24)) {
        /* The mariadb CLI asks this at start: answer like a server would. */
        static const struct admin_col col = {"@@version_comment", ADMIN_TEXT};
        res_cols(&r, &col, 1);
        snprintf(r.tag, sizeof(r.tag), "SELECT");
        cell(&r, "weir admin console");
    } else if (is_my(c) && my_session_set(text)) {
        snprintf(r.tag, sizeof(r.tag), "SET"); /* an OK */
    } else if (!run_command(c, text, &r)) {
        res_clear(&r);
        return true;
    }
    if (r.sqlstate[0]) {
        char esc[400];
        log_info(CLIENT_FMT " console error: %s", CLIENT_ARGS(c),
                 log_escape(esc, sizeof(esc), r.error));
    }
    bool alive = answer(c, &r);
    res_clear(&r);
    return alive;
}

/* ---- input framing ---- */

static void pg_input(struct client *c)
{
    struct iobuf *b = c->in;
    while (c->admin_job == NULL && c->fd != -1 && (b = c->in) && b->parsed < b->recv) {
        char type;
        uint32_t body;
        int rc =
            pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, ADMIN_QUERY_MAX, &type, &body);
        if (rc == WR_AGAIN || (rc == WR_OK && b->recv - b->parsed < PG_HDR_LEN + body)) {
            if (rc == WR_OK && PG_HDR_LEN + body > b->cap) {
                client_fail(c, "08P01", "console query too long");
                return;
            }
            break;
        }
        if (rc == WR_ERROR) {
            client_fail(c, "08P01", "invalid message from console client");
            return;
        }
        char sql[1024];
        const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
        b->parsed += PG_HDR_LEN + body;
        b->sent = b->parsed;
        switch (type) {
        case 'Q':
            snprintf(sql, sizeof(sql), "%.*s", (int)(body ? body - 1 : 0), (const char *)msg);
            if (!console_query(c, sql))
                return;
            break;
        case 'X':
            client_close(c, "client terminated the session");
            return;
        case 'S': {
            c->in_remaining = 0; /* the error of an extended-protocol batch was sent */
            pg_out_ready(&c->out, 'I');
            if (client_flush_out(c) == WR_ERROR) {
                client_close(c, "cannot write to console client");
                return;
            }
            break;
        }
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'H':
        case 'C':
        case 'F':
            /* One error per batch, then wait for its Sync (in_remaining marks it). */
            if (!c->in_remaining) {
                c->in_remaining = 1;
                pg_out_error(&c->out, "ERROR", "08P01",
                             "the admin console supports only the simple query protocol");
                if (client_flush_out(c) == WR_ERROR) {
                    client_close(c, "cannot write to console client");
                    return;
                }
            }
            break;
        default:
            client_fail(c, "08P01", "unexpected message type '%c' on the console", type);
            return;
        }
    }
    if (c->fd != -1 && c->in && c->in->parsed == c->in->recv) {
        buf_put(&c->w->bufs, c->in);
        c->in = NULL;
    } else if (c->fd != -1 && c->in) {
        buf_compact(c->in);
    }
}

static bool my_simple(struct client *c, uint16_t code, const char *msg)
{
    struct my_out o;
    my_out_init(&o);
    if (msg)
        my_out_err(&o, 1, code, "HY000", "%s", msg);
    else
        my_out_ok(&o, 1, c->my_caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    pg_out_bytes(&c->out, o.data, o.len);
    if (o.failed)
        c->out.failed = true;
    my_out_free(&o);
    if (c->out.failed || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to console client");
        return false;
    }
    return true;
}

static void my_input(struct client *c)
{
    struct iobuf *b;
    while (c->admin_job == NULL && c->fd != -1 && (b = c->in) && b->parsed < b->recv) {
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
            break;
        if (4 + len > b->cap) {
            client_fail(c, "08P01", "console query too long");
            return;
        }
        if (b->recv - b->parsed < 4 + len)
            break;
        const uint8_t *p = b->data + b->parsed + 4;
        b->parsed += 4 + len;
        b->sent = b->parsed;
        uint8_t cmd = len ? p[0] : 0;
        char sql[1024];
        bool alive = true;
        switch (cmd) {
        case COM_QUERY:
            snprintf(sql, sizeof(sql), "%.*s", (int)(len - 1), (const char *)p + 1);
            alive = console_query(c, sql);
            break;
        case COM_QUIT:
            client_close(c, "client terminated the session");
            return;
        case COM_PING:
            alive = my_simple(c, 0, NULL);
            break;
        case COM_INIT_DB:
            if (len - 1 == strlen(c->dbname) && !memcmp(p + 1, c->dbname, len - 1))
                alive = my_simple(c, 0, NULL);
            else
                alive = my_simple(c, 1044, "the admin console has no other database");
            break;
        default:
            alive = my_simple(c, 1047, "the admin console answers only text queries (COM_QUERY)");
            break;
        }
        if (!alive)
            return;
    }
    if (c->fd != -1 && c->in && c->in->parsed == c->in->recv) {
        buf_put(&c->w->bufs, c->in);
        c->in = NULL;
    } else if (c->fd != -1 && c->in) {
        buf_compact(c->in);
    }
}

void admin_input(struct client *c)
{
    c->last_active = ev_now(c->w->loop);
    if (is_my(c))
        my_input(c);
    else
        pg_input(c);
}
