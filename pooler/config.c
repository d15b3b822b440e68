/* config.c -- INI parsing (libinih), defaults and validation of weir's configuration. */
#include "pooler/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pooler/log.h"

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
};

struct parse_ctx {
    struct config *cfg;
    struct line_reader *lr;
    char *err;
    size_t errlen;
    bool failed;
    bool unknown; /* set_main met a key it does not know */
};

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
        if (!parse_int(v, 1, 65535, &n))
            goto bad;
        db->port = (int)n;
        db->port_set = true;
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
        snprintf(dp->err, dp->errlen, "unknown key \"%.64s\" in database entry \"%.64s\"", k,
                 db->name);
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
    return true;
}

static bool user_pair(void *arg, const char *k, const char *v)
{
    struct user_entry *u = arg;
    long n;
    if (!strcmp(k, "pool_mode"))
        return (u->pool_mode = parse_pool_mode(v)) >= 0;
    if (!strcmp(k, "pool_size") && parse_int(v, 1, 100000, &n)) {
        u->pool_size = (int)n;
        return true;
    }
    if (!strcmp(k, "max_user_connections") && parse_int(v, 0, 1000000, &n)) {
        u->max_user_connections = (int)n;
        return true;
    }
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
    if (!parse_connstr(value, user_pair, u)) {
        cfg_error(ctx, "bad settings for user \"%s\"", name);
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
    /* A pgbouncer.ini carries many keys weir does not know (yet): warn, go on. */
    ctx->unknown = true;
    if (!ctx->lr->f)
        return true; /* config_set: the caller reports it */
    log_warning("%s:%d: unknown setting \"%s\" ignored", cfg->path, ctx->lr->lineno, k);
    return true;
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
    if (!strcmp(section, "databases"))
        good = add_db(ctx, name, value);
    else if (!strcmp(section, "weir") || !strcmp(section, "pgbouncer"))
        good = set_main(ctx, name, value);
    else if (!strcmp(section, "users"))
        good = add_user(ctx, name, value);
    else {
        cfg_error(ctx, "unknown section [%s]", section);
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
    cfg->log_connections = 1;
    cfg->log_disconnections = 1;
    cfg->log_pooler_errors = 1;
    cfg->syslog_ident = strdup("weir");
    cfg->syslog_facility = strdup("daemon");
    cfg->stats_period = 60;

    err[0] = 0;
    struct line_reader lr = {fopen(path, "r"), 0, false};
    if (!lr.f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto failed;
    }
    struct parse_ctx ctx = {cfg, &lr, err, errlen, false, false};
    int r = ini_parse_stream(read_line, &lr, config_line, &ctx);
    fclose(lr.f);
    if (ctx.failed)
        goto failed;
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
    }
    for (int i = 0; i < cfg->nusers; i++)
        free(cfg->users[i].name);
    free(cfg->dbs);
    free(cfg->users);
    free(cfg->path);
    free(cfg->listen_addr);
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
                     &cfg->auth_file,
                     &cfg->admin_users,
                     &cfg->stats_users,
                     &cfg->server_reset_query,
                     &cfg->server_check_query,
                     &cfg->track_extra_parameters,
                     &cfg->logfile,
                     &cfg->syslog_ident,
                     &cfg->syslog_facility,
                     &cfg->metrics_addr};
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
        d->name = d->host = d->dbname = d->user = d->password = NULL;
        cfg->ndbs++;
        ok = dup_str(&d->name, s->name) && dup_str(&d->host, s->host) &&
             dup_str(&d->dbname, s->dbname) && dup_str(&d->user, s->user) &&
             dup_str(&d->password, s->password);
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
    struct line_reader lr = {NULL, 0, false};
    struct parse_ctx ctx = {cfg, &lr, err, errlen, false, false};
    err[0] = 0;
    if (!set_main(&ctx, key, value)) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    if (ctx.unknown) {
        snprintf(err, errlen, "unknown setting \"%.64s\"", key);
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
#undef EACH_STR
#undef EACH_INT
#undef EACH_SEC
}
