/* config.c -- INI parsing (libinih), defaults and validation of weir's configuration. */
#include "pooler/conf/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * Lines reach libinih through this reader, which counts them (the Debian
 * build of libinih passes no line numbers), refuses lines longer than inih's
 * fixed 200-byte buffer instead of letting it split them, and hides ';'
 * inside single-quoted values from inih's inline-comment rule.
 */
#define QUOTED_SEMICOLON '\x1f'

struct line_reader {
    FILE *f;
    int lineno;
    bool too_long;
    int open_header; /* line of a "[section" without its ']', or 0 */
    char header[64]; /* that line's text */
};

struct parse_ctx {
    struct config *cfg;
    struct line_reader *lr;
    char *err;
    size_t errlen;
    bool failed;
    bool unknown;        /* set_main met a key it does not know */
    const char *section; /* the section of the line being read */
};

/*
 * Appends one warning line to cfg->notes. conf/ is data only and sits below
 * the logger, so whoever loaded the file logs the lines (config.h).
 */
static void cfg_note(struct config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cfg_note(struct config *cfg, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t have = cfg->notes ? strlen(cfg->notes) : 0;
    char *n = realloc(cfg->notes, have + strlen(line) + 2);
    if (!n)
        return; /* out of memory: the warning is lost, the setting still ignored */
    snprintf(n + have, strlen(line) + 2, "%s\n", line);
    cfg->notes = n;
}

static void cfg_error(struct parse_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cfg_error(struct parse_ctx *ctx, const char *fmt, ...)
{
    /* A run-time SET (no file) gets no file:line prefix. */
    int n = ctx->lr->f ? snprintf(ctx->err, ctx->errlen, "%s:%d: ", ctx->cfg->path, ctx->lr->lineno)
                       : 0;
    if (n < 0 || (size_t)n >= ctx->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
    va_end(ap);
}

static char *read_line(char *str, int num, void *stream)
{
    struct line_reader *lr = stream;
    if (!fgets(str, num, lr->f))
        return NULL;
    lr->lineno++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(lr->f)) {
        lr->too_long = true;
        return NULL;
    }
    /* inih would take "[databases" as a syntax error and go on in section "": stop here. */
    const char *first = str + strspn(str, " \t");
    if (*first == '[' && !strchr(first, ']')) {
        lr->open_header = lr->lineno;
        snprintf(lr->header, sizeof(lr->header), "%.*s", (int)strcspn(first, " \t\r\n;#"), first);
        return NULL;
    }
    bool quoted = false;
    for (char *p = str; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (*p == ';' && quoted)
            *p = QUOTED_SEMICOLON;
    }
    return str;
}

static void restore_semicolons(char *s)
{
    for (; *s; s++)
        if (*s == QUOTED_SEMICOLON)
            *s = ';';
}

static const char *pool_mode_names[] = {"session", "transaction", "statement"};

const char *config_pool_mode_name(enum pool_mode m)
{
    return pool_mode_names[m];
}

static int parse_pool_mode(const char *v)
{
    for (int i = 0; i < 3; i++)
        if (strcasecmp(v, pool_mode_names[i]) == 0)
            return i;
    return -1;
}

static bool parse_int(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end || n < min || n > max)
        return false;
    *out = n;
    return true;
}

static bool parse_seconds(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end || !(d >= 0 && d <= 1e9))
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "true")) {
        *out = 1;
        return true;
    }
    if (!strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "false")) {
        *out = 0;
        return true;
    }
    return false;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
}

/*
 * Splits "key=value key='quoted value'" connection strings (libpq's
 * conninfo syntax) and calls fn for each pair. Returns false on bad syntax.
 */
static bool parse_connstr(const char *s, bool (*fn)(void *arg, const char *k, const char *v),
                          void *arg)
{
    char key[64], val[1024];
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return true;
        size_t kl = 0;
        while (*p && *p != '=' && !isspace((unsigned char)*p)) {
            if (kl + 1 >= sizeof(key))
                return false;
            key[kl++] = *p++;
        }
        key[kl] = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=' || kl == 0)
            return false;
        p++;
        while (isspace((unsigned char)*p))
            p++;
        size_t vl = 0;
        if (*p == '\'') {
            p++;
            for (;;) {
                if (!*p)
                    return false;
                if (*p == '\\' && p[1]) {
                    p++;
                } else if (*p == '\'') {
                    p++;
                    break;
                }
                if (vl + 1 >= sizeof(val))
                    return false;
                val[vl++] = *p++;
            }
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (vl + 1 >= sizeof(val))
                    return false;
                val[vl++] = *p++;
            }
        }
        val[vl] = 0;
        if (!fn(arg, key, val))
            return false;
    }
}

/* ---- unknown keys: the nearest known one, for "did you mean ...?" ---- */

/*
 * Optimal string alignment distance (Levenshtein plus adjacent swaps, so
 * "defualt" is one edit from "default"), case-insensitive. Keys are short:
 * longer strings are reported as far.
 */
static int edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXLEN || lb >= MAXLEN)
        return INT_MAX;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

struct nearest {
    const char *word;
    const char *best;
    int dist;
};

static void nearest_add(struct nearest *n, const char *candidate)
{
    int d = edit_distance(n->word, candidate);
    /* A longer or shorter spelling of a key ("max_client_connections") counts as near. */
    size_t lw = strlen(n->word), lc = strlen(candidate);
    if (d > 3 && lw >= 6 && lc >= 6 && !strncasecmp(n->word, candidate, lw < lc ? lw : lc))
        d = 3;
    if (d < n->dist) {
        n->dist = d;
        n->best = candidate;
    }
}

/*
 * The candidate close enough to be what was meant, or NULL: at most a third
 * of the word's length in edits (so "port" never suggests "user"), and 3 at
 * most.
 */
static const char *nearest_pick(const struct nearest *n)
{
    int len = (int)strlen(n->word);
    int limit = len / 3 < 3 ? len / 3 : 3;
    if (limit < 1)
        limit = 1;
    return n->best && n->dist <= limit ? n->best : NULL;
}

static const char *nearest_of(const char *word, const char *const *list)
{
    struct nearest n = {word, NULL, INT_MAX};
    for (; *list; list++)
        nearest_add(&n, *list);
    return nearest_pick(&n);
}

/* Formats "; did you mean x?" into out (empty when nothing is near). */
static const char *did_you_mean(const char *best, char *out, size_t n)
{
    if (best)
        snprintf(out, n, "; did you mean %s?", best);
    else
        out[0] = 0;
    return out;
}

static const char *const db_keys[] = {"host",
                                      "port",
                                      "dbname",
                                      "user",
                                      "password",
                                      "pool_size",
                                      "pool_mode",
                                      "min_pool_size",
                                      "reserve_pool",
                                      "reserve_pool_size",
                                      "max_db_connections",
                                      "backend",
                                      "target_session_attrs",
                                      "load_balance_hosts",
                                      NULL};

static const char *const user_keys[] = {"pool_mode", "pool_size", "max_user_connections", NULL};

static const char *const section_names[] = {"databases", "weir", "pgbouncer", "users", NULL};

/*
 * [pgbouncer] keys of PgBouncer's that weir does not implement: a
 * pgbouncer.ini that carries them still loads (with a warning), so moving
 * over takes little editing. Any other unknown key is an error.
 */
static const char *const pgbouncer_only_keys[] = {"pidfile",
                                                  "user",
                                                  "max_db_client_connections",
                                                  "max_user_client_connections",
                                                  "server_round_robin",
                                                  "ignore_startup_parameters",
                                                  "peer_id",
                                                  "disable_pqexec",
                                                  "application_name_add_host",
                                                  "conffile",
                                                  "service_name",
                                                  "job_name",
                                                  "query_wait_notify",
                                                  "scram_iterations",
                                                  "auth_hba_file",
                                                  "auth_ident_file",
                                                  "auth_user",
                                                  "auth_query",
                                                  "auth_dbname",
                                                  "log_stats",
                                                  "server_fast_close",
                                                  "autodb_idle_timeout",
                                                  "dns_zone_check_period",
                                                  "resolv_conf",
                                                  "cancel_wait_timeout",
                                                  "transaction_timeout",
                                                  "suspend_timeout",
                                                  "pkt_buf",
                                                  "max_packet_size",
                                                  "listen_backlog",
                                                  "sbuf_loopcnt",
                                                  "so_reuseport",
                                                  "tcp_defer_accept",
                                                  "tcp_socket_buffer",
                                                  "tcp_keepalive",
                                                  "tcp_keepcnt",
                                                  "tcp_keepidle",
                                                  "tcp_keepintvl",
                                                  "tcp_user_timeout",
                                                  "client_tls_sslmode",
                                                  "client_tls_key_file",
                                                  "client_tls_cert_file",
                                                  "client_tls_ca_file",
                                                  "client_tls_protocols",
                                                  "client_tls_ciphers",
                                                  "client_tls_ecdhcurve",
                                                  "client_tls_dheparams",
                                                  "client_tls13_ciphers",
                                                  "server_tls_sslmode",
                                                  "server_tls_ca_file",
                                                  "server_tls_key_file",
                                                  "server_tls_cert_file",
                                                  "server_tls_protocols",
                                                  "server_tls_ciphers",
                                                  "server_tls13_ciphers",
                                                  NULL};

static bool is_pgbouncer_only(const char *k)
{
    for (const char *const *p = pgbouncer_only_keys; *p; p++)
        if (!strcmp(k, *p))
            return true;
    return false;
}

static void near_main_key(void *arg, const char *key, const char *value, bool reloadable)
{
    (void)value;
    (void)reloadable;
    nearest_add(arg, key);
}

/* The [weir] key nearest to k, or NULL. */
static const char *nearest_main_key(const struct config *cfg, const char *k)
{
    struct nearest n = {k, NULL, INT_MAX};
    config_each(cfg, near_main_key, &n);
    return nearest_pick(&n);
}

struct db_parse {
    struct db_entry *db;
    char *err;
    size_t errlen;
};

static bool db_pair(void *arg, const char *k, const char *v)
{
    struct db_parse *dp = arg;
    struct db_entry *db = dp->db;
    long n;
    if (!strcmp(k, "host")) {
        set_str(&db->host, v);
    } else if (!strcmp(k, "port")) {
        /* One port, or one per host (checked against host= once the entry is read). */
        bool list = strchr(v, ',') && strspn(v, "0123456789,") == strlen(v);
        if (!list && !parse_int(v, 1, 65535, &n))
            goto bad;
        set_str(&db->ports, v);
        db->port = atoi(v);
        db->port_set = true;
    } else if (!strcmp(k, "target_session_attrs")) {
        int t = hostlist_parse_tsa(v);
        if (t < 0)
            goto bad;
        db->target_session_attrs = t;
    } else if (!strcmp(k, "load_balance_hosts")) {
        int lb = hostlist_parse_lb(v);
        if (lb < 0)
            goto bad;
        db->load_balance_hosts = lb;
    } else if (!strcmp(k, "dbname")) {
        set_str(&db->dbname, v);
    } else if (!strcmp(k, "user")) {
        set_str(&db->user, v);
    } else if (!strcmp(k, "password")) {
        set_str(&db->password, v);
    } else if (!strcmp(k, "pool_size")) {
        if (!parse_int(v, 1, 100000, &n))
            goto bad;
        db->pool_size = (int)n;
    } else if (!strcmp(k, "pool_mode")) {
        if ((db->pool_mode = parse_pool_mode(v)) < 0)
            goto bad;
    } else if (!strcmp(k, "min_pool_size")) {
        if (!parse_int(v, 0, 100000, &n))
            goto bad;
        db->min_pool_size = (int)n;
    } else if (!strcmp(k, "reserve_pool") || !strcmp(k, "reserve_pool_size")) {
        if (!parse_int(v, 0, 100000, &n))
            goto bad;
        db->reserve_pool_size = (int)n;
    } else if (!strcmp(k, "max_db_connections")) {
        if (!parse_int(v, 0, 1000000, &n))
            goto bad;
        db->max_db_connections = (int)n;
    } else if (!strcmp(k, "backend")) {
        if (!strcasecmp(v, "postgres") || !strcasecmp(v, "postgresql"))
            db->backend = BACKEND_POSTGRES;
        else if (!strcasecmp(v, "mysql") || !strcasecmp(v, "mariadb"))
            db->backend = BACKEND_MYSQL;
        else
            goto bad;
    } else {
        char hint[96];
        snprintf(dp->err, dp->errlen, "unknown key \"%.64s\" in database entry \"%.64s\"%s", k,
                 db->name, did_you_mean(nearest_of(k, db_keys), hint, sizeof(hint)));
        return false;
    }
    return true;
bad:
    snprintf(dp->err, dp->errlen,
             "invalid value \"%.64s\" for \"%.64s\" in database entry \"%.64s\"", v, k, db->name);
    return false;
}

static bool add_db(struct parse_ctx *ctx, const char *name, const char *value)
{
    struct config *cfg = ctx->cfg;
    if (config_find_db(cfg, name)) {
        cfg_error(ctx, "database \"%s\" defined twice", name);
        return false;
    }
    struct db_entry *dbs = realloc(cfg->dbs, sizeof(*dbs) * (cfg->ndbs + 1));
    if (!dbs)
        return false;
    cfg->dbs = dbs;
    struct db_entry *db = &dbs[cfg->ndbs++];
    memset(db, 0, sizeof(*db));
    db->name = strdup(name);
    db->port = 5432;
    db->pool_size = -1;
    db->pool_mode = -1;
    db->min_pool_size = -1;
    db->reserve_pool_size = -1;
    db->max_db_connections = -1;
    char reason[256];
    struct db_parse dp = {db, reason, sizeof(reason)};
    snprintf(reason, sizeof(reason), "bad connection string");
    if (!parse_connstr(value, db_pair, &dp)) {
        cfg_error(ctx, "%s", reason);
        return false;
    }
    if (!db->dbname)
        db->dbname = strdup(name);
    if (!db->host)
        db->host = strdup("127.0.0.1");
    if (db->password && !db->user) {
        cfg_error(ctx, "database \"%s\": password= needs user=", name);
        return false;
    }
    int default_port = db->backend == BACKEND_MYSQL ? 3306 : 5432;
    if (!db->host || hostlist_parse(db->host, db->ports, default_port, &db->hosts, &db->nhosts,
                                    reason, sizeof(reason)) != WR_OK) {
        cfg_error(ctx, "database \"%s\": host=%s: %s", name, db->host ? db->host : "",
                  db->host ? reason : "out of memory");
        return false;
    }
    if (!db->port_set)
        db->port = default_port;
    return true;
}

struct user_parse {
    struct user_entry *u;
    char *err;
    size_t errlen;
};

static bool user_pair(void *arg, const char *k, const char *v)
{
    struct user_parse *up = arg;
    struct user_entry *u = up->u;
    long n;
    if (!strcmp(k, "pool_mode")) {
        if ((u->pool_mode = parse_pool_mode(v)) < 0)
            goto bad;
    } else if (!strcmp(k, "pool_size")) {
        if (!parse_int(v, 1, 100000, &n))
            goto bad;
        u->pool_size = (int)n;
    } else if (!strcmp(k, "max_user_connections")) {
        if (!parse_int(v, 0, 1000000, &n))
            goto bad;
        u->max_user_connections = (int)n;
    } else {
        char hint[96];
        snprintf(up->err, up->errlen, "unknown key \"%.64s\" for user \"%.64s\"%s", k, u->name,
                 did_you_mean(nearest_of(k, user_keys), hint, sizeof(hint)));
        return false;
    }
    return true;
bad:
    snprintf(up->err, up->errlen, "bad settings for user \"%.64s\": invalid value \"%.64s\" for %s",
             u->name, v, k);
    return false;
}

static bool add_user(struct parse_ctx *ctx, const char *name, const char *value)
{
    struct config *cfg = ctx->cfg;
    struct user_entry *us = realloc(cfg->users, sizeof(*us) * (cfg->nusers + 1));
    if (!us)
        return false;
    cfg->users = us;
    struct user_entry *u = &us[cfg->nusers++];
    u->name = strdup(name);
    u->pool_mode = -1;
    u->pool_size = -1;
    u->max_user_connections = -1;
    char reason[256];
    struct user_parse up = {u, reason, sizeof(reason)};
    snprintf(reason, sizeof(reason), "bad settings for user \"%.64s\"", name);
    if (!parse_connstr(value, user_pair, &up)) {
        cfg_error(ctx, "%s", reason);
        return false;
    }
    return true;
}

static bool set_main(struct parse_ctx *ctx, const char *k, const char *v)
{
    struct config *cfg = ctx->cfg;
    long n;
    double d;
    int b;

#define INT_KEY(name, field, lo, hi)                                                               \
    if (!strcmp(k, name)) {                                                                        \
        if (!parse_int(v, lo, hi, &n))                                                             \
            goto bad;                                                                              \
        cfg->field = (int)n;                                                                       \
        return true;                                                                               \
    }
#define SEC_KEY(name, field)                                                                       \
    if (!strcmp(k, name)) {                                                                        \
        if (!parse_seconds(v, &d))                                                                 \
            goto bad;                                                                              \
        cfg->field = d;                                                                            \
        return true;                                                                               \
    }
#define BOOL_KEY(name, field)                                                                      \
    if (!strcmp(k, name)) {                                                                        \
        if (!parse_bool(v, &b))                                                                    \
            goto bad;                                                                              \
        cfg->field = b;                                                                            \
        return true;                                                                               \
    }
#define STR_KEY(name, field)                                                                       \
    if (!strcmp(k, name)) {                                                                        \
        set_str(&cfg->field, v);                                                                   \
        return true;                                                                               \
    }

    STR_KEY("listen_addr", listen_addr)
    INT_KEY("listen_port", listen_port, 1, 65535)
    INT_KEY("mysql_listen_port", mysql_listen_port, 0, 65535)
    STR_KEY("unix_socket_dir", unix_socket_dir)
    STR_KEY("unix_socket_group", unix_socket_group)
    if (!strcmp(k, "unix_socket_mode")) {
        /* Octal, as chmod and PgBouncer take it ("0777", "777", "0660"). */
        char *end;
        errno = 0;
        long m = strtol(v, &end, 8);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (errno || end == v || *end || m < 0 || m > 0777)
            goto bad;
        cfg->unix_socket_mode = (int)m;
        return true;
    }
    STR_KEY("auth_file", auth_file)
    STR_KEY("admin_users", admin_users)
    STR_KEY("stats_users", stats_users)
    INT_KEY("default_pool_size", default_pool_size, 1, 100000)
    INT_KEY("max_client_conn", max_client_conn, 1, 10000000)
    INT_KEY("workers", workers, 0, 256)
    STR_KEY("server_reset_query", server_reset_query)
    SEC_KEY("client_login_timeout", client_login_timeout)
    SEC_KEY("query_wait_timeout", query_wait_timeout)
    SEC_KEY("server_connect_timeout", server_connect_timeout)
    SEC_KEY("server_login_retry", server_login_retry)
    SEC_KEY("server_idle_timeout", server_idle_timeout)
    SEC_KEY("server_lifetime", server_lifetime)
    SEC_KEY("server_check_delay", server_check_delay)
    STR_KEY("server_check_query", server_check_query)
    BOOL_KEY("server_reset_query_always", server_reset_query_always)
    SEC_KEY("client_idle_timeout", client_idle_timeout)
    SEC_KEY("query_timeout", query_timeout)
    SEC_KEY("idle_transaction_timeout", idle_transaction_timeout)
    INT_KEY("min_pool_size", min_pool_size, 0, 100000)
    INT_KEY("reserve_pool_size", reserve_pool_size, 0, 100000)
    SEC_KEY("reserve_pool_timeout", reserve_pool_timeout)
    INT_KEY("max_db_connections", max_db_connections, 0, 1000000)
    INT_KEY("max_user_connections", max_user_connections, 0, 1000000)
    INT_KEY("max_prepared_statements", max_prepared_statements, 0, 1000000)
    STR_KEY("track_extra_parameters", track_extra_parameters)
    BOOL_KEY("log_connections", log_connections)
    BOOL_KEY("log_disconnections", log_disconnections)
    BOOL_KEY("log_pooler_errors", log_pooler_errors)
    INT_KEY("verbose", verbose, 0, 10)
    STR_KEY("logfile", logfile)
    BOOL_KEY("syslog", syslog)
    STR_KEY("syslog_ident", syslog_ident)
    STR_KEY("syslog_facility", syslog_facility)
    STR_KEY("metrics_addr", metrics_addr)
    INT_KEY("metrics_port", metrics_port, 0, 65535)
    SEC_KEY("stats_period", stats_period)
    BOOL_KEY("allow_local_infile", allow_local_infile)
    SEC_KEY("dns_max_ttl", dns_max_ttl)
    SEC_KEY("dns_nxdomain_ttl", dns_nxdomain_ttl)
    STR_KEY("dns_nameservers", dns_nameservers)
    INT_KEY("host_breaker_failures", host_breaker_failures, 1, 1000)
    SEC_KEY("host_breaker_backoff", host_breaker_backoff)
    SEC_KEY("host_breaker_backoff_max", host_breaker_backoff_max)
    if (!strcmp(k, "log_format")) {
        if (!strcmp(v, "text"))
            cfg->log_format = LOG_FORMAT_TEXT;
        else if (!strcmp(v, "json"))
            cfg->log_format = LOG_FORMAT_JSON;
        else
            goto bad;
        return true;
    }
    if (!strcmp(k, "auth_type")) {
        if (!strcmp(v, "trust"))
            cfg->auth_type = AUTH_TRUST;
        else if (!strcmp(v, "plain"))
            cfg->auth_type = AUTH_PLAIN;
        else if (!strcmp(v, "md5"))
            cfg->auth_type = AUTH_MD5;
        else if (!strcmp(v, "scram-sha-256"))
            cfg->auth_type = AUTH_SCRAM;
        else
            goto bad;
        return true;
    }
    if (!strcmp(k, "pool_mode")) {
        int m = parse_pool_mode(v);
        if (m < 0)
            goto bad;
        cfg->pool_mode = m;
        return true;
    }
    ctx->unknown = true;
    if (!ctx->lr->f)
        return true; /* config_set: the caller reports it */
    /* A pgbouncer.ini carries keys weir does not implement: those warn; anything else is a typo. */
    if (is_pgbouncer_only(k)) {
        cfg_note(cfg, "%s:%d: PgBouncer setting \"%s\" is not supported by weir; ignored",
                 cfg->path, ctx->lr->lineno, k);
        return true;
    }
    char hint[96];
    cfg_error(ctx, "unknown setting \"%.64s\" in [%s]%s", k, ctx->section,
              did_you_mean(nearest_main_key(cfg, k), hint, sizeof(hint)));
    return false;
bad:
    cfg_error(ctx, "invalid value \"%s\" for %s", v, k);
    return false;
#undef INT_KEY
#undef SEC_KEY
#undef BOOL_KEY
#undef STR_KEY
}

static int config_line(void *user, const char *section, const char *name, const char *raw)
{
    struct parse_ctx *ctx = user;
    if (ctx->failed)
        return 0; /* inih goes on after an error: keep the first one */
    char value[256];
    snprintf(value, sizeof(value), "%s", raw);
    restore_semicolons(value);
    bool good;
    ctx->section = section;
    if (!strcmp(section, "databases"))
        good = add_db(ctx, name, value);
    else if (!strcmp(section, "weir") || !strcmp(section, "pgbouncer"))
        good = set_main(ctx, name, value);
    else if (!strcmp(section, "users"))
        good = add_user(ctx, name, value);
    else if (!section[0]) {
        cfg_error(ctx, "\"%s\" is outside any section (put it under [weir] or [databases])", name);
        good = false;
    } else {
        char hint[96];
        cfg_error(ctx, "unknown section [%s]%s", section,
                  did_you_mean(nearest_of(section, section_names), hint, sizeof(hint)));
        good = false;
    }
    if (!good) {
        if (!ctx->err[0])
            cfg_error(ctx, "out of memory");
        ctx->failed = true;
        return 0;
    }
    return 1;
}

/* Makes a path relative to the config file's directory, as PgBouncer users expect. */
static char *resolve_path(const char *cfg_path, const char *p)
{
    if (p[0] == '/')
        return strdup(p);
    const char *slash = strrchr(cfg_path, '/');
    if (!slash)
        return strdup(p);
    size_t dl = slash - cfg_path;
    char *out = malloc(dl + 1 + strlen(p) + 1);
    if (out)
        sprintf(out, "%.*s/%s", (int)dl, cfg_path, p);
    return out;
}

/* Rules across keys, checked after a load and after a run-time SET. */
static int config_check(struct config *cfg, char *err, size_t errlen)
{
    if (cfg->auth_type != AUTH_TRUST && !cfg->auth_file) {
        snprintf(err, errlen, "%s: auth_type needs an auth_file", cfg->path);
        return WR_ERROR;
    }
    if (cfg->unix_socket_dir && cfg->unix_socket_dir[0]) {
        if (cfg->unix_socket_dir[0] != '/') {
            char *p = resolve_path(cfg->path, cfg->unix_socket_dir);
            if (!p) {
                snprintf(err, errlen, "out of memory");
                return WR_ERROR;
            }
            free(cfg->unix_socket_dir);
            cfg->unix_socket_dir = p;
        }
        /* The longest name weir binds there: the MySQL socket's temporary name (listener.c). */
        if (strlen(cfg->unix_socket_dir) + sizeof("/.s.MYSQL.65535.new.4294967295") > 108) {
            snprintf(err, errlen, "%s: unix_socket_dir \"%.200s\" is too long for a socket path",
                     cfg->path, cfg->unix_socket_dir);
            return WR_ERROR;
        }
    }
    if (cfg->unix_socket_group && cfg->unix_socket_group[0]) {
        struct group gr, *found = NULL;
        char buf[4096];
        if (getgrnam_r(cfg->unix_socket_group, &gr, buf, sizeof(buf), &found) != 0 || !found) {
            snprintf(err, errlen, "%s: unix_socket_group \"%.64s\": no such group", cfg->path,
                     cfg->unix_socket_group);
            return WR_ERROR;
        }
    }
    if (cfg->auth_file && cfg->auth_file[0] != '/') {
        char *p = resolve_path(cfg->path, cfg->auth_file);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return WR_ERROR;
        }
        free(cfg->auth_file);
        cfg->auth_file = p;
    }
    return WR_OK;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    cfg->path = strdup(path);
    cfg->listen_addr = strdup("127.0.0.1");
    cfg->listen_port = 6432;
    cfg->unix_socket_dir = strdup("/tmp");
    cfg->unix_socket_mode = 0777;
    cfg->auth_type = AUTH_MD5;
    cfg->pool_mode = POOL_SESSION;
    cfg->default_pool_size = 20;
    cfg->max_client_conn = 10000;
    cfg->server_reset_query = strdup("DISCARD ALL");
    cfg->client_login_timeout = 60;
    cfg->query_wait_timeout = 120;
    cfg->server_connect_timeout = 15;
    cfg->server_login_retry = 15;
    cfg->server_idle_timeout = 600;
    cfg->server_lifetime = 3600;
    cfg->server_check_delay = 30;
    cfg->server_check_query = strdup("");
    cfg->reserve_pool_timeout = 5;
    cfg->max_prepared_statements = 200;
    cfg->log_connections = 1;
    cfg->log_disconnections = 1;
    cfg->log_pooler_errors = 1;
    cfg->syslog_ident = strdup("weir");
    cfg->syslog_facility = strdup("daemon");
    cfg->stats_period = 60;
    cfg->dns_max_ttl = 15;
    cfg->dns_nxdomain_ttl = 15;
    cfg->dns_nameservers = strdup("");
    cfg->host_breaker_failures = 3;
    cfg->host_breaker_backoff = 1;
    cfg->host_breaker_backoff_max = 30;

    err[0] = 0;
    struct line_reader lr = {fopen(path, "r"), 0, false, 0, ""};
    if (!lr.f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto failed;
    }
    struct parse_ctx ctx = {cfg, &lr, err, errlen, false, false, ""};
    int r = ini_parse_stream(read_line, &lr, config_line, &ctx);
    fclose(lr.f);
    if (ctx.failed)
        goto failed;
    if (lr.open_header && !(r > 0 && r < lr.open_header)) {
        snprintf(err, errlen, "%s:%d: section header %s is missing its ]", path, lr.open_header,
                 lr.header);
        goto failed;
    }
    if (lr.too_long) {
        snprintf(err, errlen, "%s:%d: line too long (at most 199 bytes)", path, lr.lineno);
        goto failed;
    }
    if (r > 0) {
        snprintf(err, errlen, "%s:%d: syntax error", path, r);
        goto failed;
    }
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 ? (int)n : 1;
    }
    for (int i = 0; i < cfg->ndbs; i++) {
        struct db_entry *db = &cfg->dbs[i];
        if (db->backend == BACKEND_MYSQL && !db->port_set)
            db->port = 3306;
    }
    if (config_check(cfg, err, errlen) != WR_OK)
        goto failed;
    *out = cfg;
    return WR_OK;
failed:
    config_free(cfg);
    return WR_ERROR;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->ndbs; i++) {
        struct db_entry *db = &cfg->dbs[i];
        free(db->name);
        free(db->host);
        free(db->dbname);
        free(db->user);
        free(db->password);
        free(db->ports);
        hostlist_free(db->hosts, db->nhosts);
    }
    for (int i = 0; i < cfg->nusers; i++)
        free(cfg->users[i].name);
    free(cfg->dbs);
    free(cfg->users);
    free(cfg->path);
    free(cfg->listen_addr);
    free(cfg->unix_socket_dir);
    free(cfg->unix_socket_group);
    free(cfg->auth_file);
    free(cfg->admin_users);
    free(cfg->stats_users);
    free(cfg->server_reset_query);
    free(cfg->server_check_query);
    free(cfg->track_extra_parameters);
    free(cfg->logfile);
    free(cfg->syslog_ident);
    free(cfg->syslog_facility);
    free(cfg->metrics_addr);
    free(cfg->dns_nameservers);
    free(cfg->notes);
    free(cfg);
}

const struct db_entry *config_find_db(const struct config *cfg, const char *name)
{
    for (int i = 0; i < cfg->ndbs; i++)
        if (!strcmp(cfg->dbs[i].name, name))
            return &cfg->dbs[i];
    return NULL;
}

const struct user_entry *config_find_user(const struct config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nusers; i++)
        if (!strcmp(cfg->users[i].name, name))
            return &cfg->users[i];
    return NULL;
}

int config_min_pool_size(const struct config *cfg, const struct db_entry *db)
{
    return db->min_pool_size >= 0 ? db->min_pool_size : cfg->min_pool_size;
}

int config_reserve_pool_size(const struct config *cfg, const struct db_entry *db)
{
    return db->reserve_pool_size >= 0 ? db->reserve_pool_size : cfg->reserve_pool_size;
}

int config_max_db_connections(const struct config *cfg, const struct db_entry *db)
{
    return db->max_db_connections >= 0 ? db->max_db_connections : cfg->max_db_connections;
}

int config_max_user_connections(const struct config *cfg, const struct user_entry *u)
{
    return u && u->max_user_connections >= 0 ? u->max_user_connections : cfg->max_user_connections;
}

int config_pool_size(const struct config *cfg, const struct db_entry *db,
                     const struct user_entry *u)
{
    if (db->pool_size > 0)
        return db->pool_size;
    if (u && u->pool_size > 0)
        return u->pool_size;
    return cfg->default_pool_size;
}

enum pool_mode config_pool_mode(const struct config *cfg, const struct db_entry *db,
                                const struct user_entry *u)
{
    if (u && u->pool_mode >= 0)
        return u->pool_mode;
    if (db->pool_mode >= 0)
        return db->pool_mode;
    return cfg->pool_mode;
}

/* ---- copies and run-time changes ---- */

static bool dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

struct config *config_dup(const struct config *src)
{
    struct config *cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return NULL;
    *cfg = *src;
    /* Own nothing yet, so config_free of a half-made copy frees only what was copied. */
    char **strs[] = {&cfg->path,
                     &cfg->listen_addr,
                     &cfg->unix_socket_dir,
                     &cfg->unix_socket_group,
                     &cfg->auth_file,
                     &cfg->admin_users,
                     &cfg->stats_users,
                     &cfg->server_reset_query,
                     &cfg->server_check_query,
                     &cfg->track_extra_parameters,
                     &cfg->logfile,
                     &cfg->syslog_ident,
                     &cfg->syslog_facility,
                     &cfg->metrics_addr,
                     &cfg->dns_nameservers,
                     &cfg->notes};
    const char *orig[sizeof(strs) / sizeof(strs[0])];
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        orig[i] = *strs[i];
        *strs[i] = NULL;
    }
    cfg->dbs = NULL;
    cfg->users = NULL;
    int ndbs = cfg->ndbs, nusers = cfg->nusers;
    cfg->ndbs = cfg->nusers = 0;
    bool ok = true;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        ok &= dup_str(strs[i], orig[i]);
    if (ok && ndbs && !(cfg->dbs = calloc(ndbs, sizeof(*cfg->dbs))))
        ok = false;
    for (int i = 0; ok && i < ndbs; i++) {
        struct db_entry *d = &cfg->dbs[i];
        const struct db_entry *s = &src->dbs[i];
        *d = *s;
        d->name = d->host = d->dbname = d->user = d->password = d->ports = NULL;
        d->hosts = NULL;
        d->nhosts = 0;
        cfg->ndbs++;
        ok = dup_str(&d->name, s->name) && dup_str(&d->host, s->host) &&
             dup_str(&d->dbname, s->dbname) && dup_str(&d->user, s->user) &&
             dup_str(&d->password, s->password) && dup_str(&d->ports, s->ports) &&
             (d->hosts = hostlist_dup(s->hosts, s->nhosts)) != NULL;
        if (d->hosts)
            d->nhosts = s->nhosts;
    }
    if (ok && nusers && !(cfg->users = calloc(nusers, sizeof(*cfg->users))))
        ok = false;
    for (int i = 0; ok && i < nusers; i++) {
        cfg->users[i] = src->users[i];
        cfg->users[i].name = NULL;
        cfg->nusers++;
        ok = dup_str(&cfg->users[i].name, src->users[i].name);
    }
    if (!ok) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    struct line_reader lr = {NULL, 0, false, 0, ""};
    struct parse_ctx ctx = {cfg, &lr, err, errlen, false, false, "weir"};
    err[0] = 0;
    if (!set_main(&ctx, key, value)) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    if (ctx.unknown) {
        char hint[96];
        snprintf(err, errlen, "unknown setting \"%.64s\"%s", key,
                 did_you_mean(nearest_main_key(cfg, key), hint, sizeof(hint)));
        return WR_ERROR;
    }
    return config_check(cfg, err, errlen);
}

/* ---- the [weir] keys with their current values (console SHOW CONFIG) ---- */

static const char *auth_type_names[] = {"trust", "plain", "md5", "scram-sha-256"};

void config_each(const struct config *cfg,
                 void (*fn)(void *arg, const char *key, const char *value, bool reloadable),
                 void *arg)
{
    char b[64];
#define EACH_STR(name, field, reload) fn(arg, name, cfg->field ? cfg->field : "", reload)
#define EACH_INT(name, field, reload)                                                              \
    do {                                                                                           \
        snprintf(b, sizeof(b), "%d", cfg->field);                                                  \
        fn(arg, name, b, reload);                                                                  \
    } while (0)
#define EACH_SEC(name, field, reload)                                                              \
    do {                                                                                           \
        snprintf(b, sizeof(b), "%g", cfg->field);                                                  \
        fn(arg, name, b, reload);                                                                  \
    } while (0)
    EACH_STR("listen_addr", listen_addr, false);
    EACH_INT("listen_port", listen_port, false);
    EACH_INT("mysql_listen_port", mysql_listen_port, false);
    EACH_STR("unix_socket_dir", unix_socket_dir, false);
    snprintf(b, sizeof(b), "0%o", (unsigned)cfg->unix_socket_mode);
    fn(arg, "unix_socket_mode", b, false);
    EACH_STR("unix_socket_group", unix_socket_group, false);
    fn(arg, "auth_type", auth_type_names[cfg->auth_type], true);
    EACH_STR("auth_file", auth_file, true);
    EACH_STR("admin_users", admin_users, true);
    EACH_STR("stats_users", stats_users, true);
    fn(arg, "pool_mode", config_pool_mode_name(cfg->pool_mode), true);
    EACH_INT("default_pool_size", default_pool_size, true);
    EACH_INT("max_client_conn", max_client_conn, true);
    EACH_INT("workers", workers, false);
    EACH_STR("server_reset_query", server_reset_query, true);
    EACH_SEC("client_login_timeout", client_login_timeout, true);
    EACH_SEC("query_wait_timeout", query_wait_timeout, true);
    EACH_SEC("server_connect_timeout", server_connect_timeout, true);
    EACH_SEC("server_login_retry", server_login_retry, true);
    EACH_SEC("server_idle_timeout", server_idle_timeout, true);
    EACH_SEC("server_lifetime", server_lifetime, true);
    EACH_SEC("server_check_delay", server_check_delay, true);
    EACH_STR("server_check_query", server_check_query, true);
    EACH_INT("server_reset_query_always", server_reset_query_always, true);
    EACH_SEC("client_idle_timeout", client_idle_timeout, true);
    EACH_SEC("query_timeout", query_timeout, true);
    EACH_SEC("idle_transaction_timeout", idle_transaction_timeout, true);
    EACH_INT("min_pool_size", min_pool_size, true);
    EACH_INT("reserve_pool_size", reserve_pool_size, true);
    EACH_SEC("reserve_pool_timeout", reserve_pool_timeout, true);
    EACH_INT("max_db_connections", max_db_connections, true);
    EACH_INT("max_user_connections", max_user_connections, true);
    EACH_INT("max_prepared_statements", max_prepared_statements, true);
    EACH_STR("track_extra_parameters", track_extra_parameters, false);
    EACH_INT("log_connections", log_connections, true);
    EACH_INT("log_disconnections", log_disconnections, true);
    EACH_INT("log_pooler_errors", log_pooler_errors, true);
    EACH_INT("verbose", verbose, true);
    EACH_STR("logfile", logfile, true);
    fn(arg, "log_format", cfg->log_format == LOG_FORMAT_JSON ? "json" : "text", true);
    EACH_INT("syslog", syslog, true);
    EACH_STR("syslog_ident", syslog_ident, true);
    EACH_STR("syslog_facility", syslog_facility, true);
    EACH_STR("metrics_addr", metrics_addr, false);
    EACH_INT("metrics_port", metrics_port, false);
    EACH_SEC("stats_period", stats_period, true);
    EACH_INT("allow_local_infile", allow_local_infile, true);
    EACH_SEC("dns_max_ttl", dns_max_ttl, true);
    EACH_SEC("dns_nxdomain_ttl", dns_nxdomain_ttl, true);
    EACH_STR("dns_nameservers", dns_nameservers, false);
    EACH_INT("host_breaker_failures", host_breaker_failures, true);
    EACH_SEC("host_breaker_backoff", host_breaker_backoff, true);
    EACH_SEC("host_breaker_backoff_max", host_breaker_backoff_max, true);
#undef EACH_STR
#undef EACH_INT
#undef EACH_SEC
}
