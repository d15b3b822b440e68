/*
 * keys.c -- the [weir] keys, listed once. Each row of keys[] gives a key's
 * name (its struct config field's name), its kind (string, integer with its
 * range, seconds, boolean, one of a list of names, octal file mode), whether
 * a reload applies it, and its default as the file would say it. The table
 * drives the defaults, parsing, SHOW CONFIG (config_each, in the table's
 * order), copies of the strings and the "did you mean" candidates.
 *
 * Adding a key: a field in struct config (config.h), a row here, a line in
 * etc/weir.ini and the README's reference. The FIELD macros refuse to compile
 * a row whose kind does not match its field's type.
 *
 * Also here: the PgBouncer keys weir does not implement (a warning, not an
 * error, so a pgbouncer.ini moves over) and the run-time SET (config_set).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/conf/config_int.h"

enum key_kind {
    KEY_STR,  /* char *: a copy of the text; NULL until set ("" is set and empty) */
    KEY_INT,  /* int in min..max, decimal */
    KEY_SEC,  /* double: seconds from 0 to 1e9, fractions allowed */
    KEY_BOOL, /* int: 1 for 1 on yes true, 0 for 0 off no false (any case) */
    KEY_ENUM, /* an enum: the index of the value's name in names */
    KEY_MODE, /* int: a file mode, octal as chmod takes it ("0660", "660"), at most 0777 */
};

struct key {
    const char *name;
    enum key_kind kind;
    size_t off;               /* of the field in struct config */
    bool reloadable;          /* false: takes effect only at start (listening sockets, workers) */
    const char *def;          /* the default as the file would say it; NULL: unset (strings only) */
    long min, max;            /* KEY_INT */
    const char *const *names; /* KEY_ENUM: value i is names[i]; NULL-terminated */
    bool any_case;            /* KEY_ENUM: names match whatever their case */
};

/* The field's offset, when its type is the one given (a compile error otherwise). */
/* clang-format off */
#define FIELD(f, type) _Generic(((struct config *)0)->f, type: offsetof(struct config, f))
/* An enum field: compatible with int or unsigned int, so written as an int. */
#define ENUM_FIELD(f)                                                                              \
    _Generic(((struct config *)0)->f, int: offsetof(struct config, f),                             \
                                      unsigned: offsetof(struct config, f))

#define STR(f, reload, def)         {#f, KEY_STR, FIELD(f, char *), reload, def, 0, 0, NULL, false}
#define INT(f, lo, hi, reload, def) {#f, KEY_INT, FIELD(f, int), reload, def, lo, hi, NULL, false}
#define SEC(f, reload, def)         {#f, KEY_SEC, FIELD(f, double), reload, def, 0, 0, NULL, false}
#define BOOL(f, reload, def)        {#f, KEY_BOOL, FIELD(f, int), reload, def, 0, 1, NULL, false}
#define MODE(f, reload, def)        {#f, KEY_MODE, FIELD(f, int), reload, def, 0, 0777, NULL, false}
#define ENUM(f, names, any_case, reload, def)                                                      \
    {#f, KEY_ENUM, ENUM_FIELD(f), reload, def, 0, 0, names, any_case}
/* clang-format on */

#define AT_START false
#define RELOAD   true
#define EXACT    false
#define ANY_CASE true

static const char *const auth_type_names[] = {
    [AUTH_TRUST] = "trust",         [AUTH_PLAIN] = "plain", [AUTH_MD5] = "md5",
    [AUTH_SCRAM] = "scram-sha-256", [AUTH_HBA] = "hba",     [AUTH_CERT] = "cert",
    [AUTH_CERT + 1] = NULL};
static const char *const pool_mode_names[] = {[POOL_SESSION] = "session",
                                              [POOL_TRANSACTION] = "transaction",
                                              [POOL_STATEMENT] = "statement",
                                              [POOL_STATEMENT + 1] = NULL};
static const char *const tls_mode_names[] = {
    [TLS_DISABLE] = "disable",   [TLS_ALLOW] = "allow",         [TLS_PREFER] = "prefer",
    [TLS_REQUIRE] = "require",   [TLS_VERIFY_CA] = "verify-ca", [TLS_VERIFY_FULL] = "verify-full",
    [TLS_VERIFY_FULL + 1] = NULL};
static const char *const log_format_names[] = {
    [LOG_FORMAT_TEXT] = "text", [LOG_FORMAT_JSON] = "json", [LOG_FORMAT_JSON + 1] = NULL};

/* In the order of the reference (README, SHOW CONFIG). */
static const struct key keys[] = {
    STR(listen_addr, AT_START, "127.0.0.1"),
    INT(listen_port, 1, 65535, AT_START, "6432"),
    INT(mysql_listen_port, 0, 65535, AT_START, "0"),
    STR(unix_socket_dir, AT_START, "/tmp"),
    MODE(unix_socket_mode, AT_START, "0777"),
    STR(unix_socket_group, AT_START, NULL),
    ENUM(auth_type, auth_type_names, EXACT, RELOAD, "md5"),
    STR(auth_file, RELOAD, NULL),
    STR(auth_hba_file, RELOAD, NULL),
    STR(auth_user, RELOAD, NULL),
    STR(mysql_auth_query, RELOAD,
        "SELECT authentication_string FROM mysql.user WHERE User = ? AND plugin = "
        "'mysql_native_password' AND password_expired = 'N' AND is_role = 'N'"),
    STR(auth_query, RELOAD,
        "SELECT rolname, CASE WHEN rolvaliduntil < pg_catalog.now() THEN NULL ELSE rolpassword "
        "END FROM pg_catalog.pg_authid WHERE rolname = $1 AND rolcanlogin"),
    STR(auth_dbname, RELOAD, NULL),
    INT(auth_query_cache_seconds, 0, 86400, RELOAD, "30"),
    STR(admin_users, RELOAD, NULL),
    STR(stats_users, RELOAD, NULL),
    ENUM(pool_mode, pool_mode_names, ANY_CASE, RELOAD, "session"),
    INT(default_pool_size, 1, 100000, RELOAD, "20"),
    INT(max_client_conn, 1, 10000000, RELOAD, "10000"),
    INT(workers, 0, 255, AT_START, "0"), /* the worker goes in a cancel key's top byte */
    STR(server_reset_query, RELOAD, "DISCARD ALL"),
    SEC(client_login_timeout, RELOAD, "60"),
    SEC(query_wait_timeout, RELOAD, "120"),
    SEC(server_connect_timeout, RELOAD, "15"),
    SEC(server_login_retry, RELOAD, "15"),
    SEC(server_idle_timeout, RELOAD, "600"),
    SEC(server_lifetime, RELOAD, "3600"),
    SEC(server_check_delay, RELOAD, "30"),
    STR(server_check_query, RELOAD, ""),
    BOOL(server_reset_query_always, RELOAD, "0"),
    SEC(client_idle_timeout, RELOAD, "0"),
    SEC(query_timeout, RELOAD, "0"),
    SEC(idle_transaction_timeout, RELOAD, "0"),
    INT(min_pool_size, 0, 100000, RELOAD, "0"),
    INT(reserve_pool_size, 0, 100000, RELOAD, "0"),
    SEC(reserve_pool_timeout, RELOAD, "5"),
    INT(max_db_connections, 0, 1000000, RELOAD, "0"),
    INT(max_user_connections, 0, 1000000, RELOAD, "0"),
    INT(max_prepared_statements, 0, 1000000, RELOAD, "200"),
    STR(track_extra_parameters, AT_START, NULL),
    BOOL(log_connections, RELOAD, "1"),
    BOOL(log_disconnections, RELOAD, "1"),
    BOOL(log_pooler_errors, RELOAD, "1"),
    INT(verbose, 0, 10, RELOAD, "0"),
    STR(logfile, RELOAD, NULL),
    ENUM(log_format, log_format_names, EXACT, RELOAD, "text"),
    BOOL(syslog, RELOAD, "0"),
    STR(syslog_ident, RELOAD, "weir"),
    STR(syslog_facility, RELOAD, "daemon"),
    STR(metrics_addr, AT_START, NULL),
    INT(metrics_port, 0, 65535, AT_START, "0"),
    SEC(stats_period, RELOAD, "60"),
    BOOL(allow_local_infile, RELOAD, "0"),
    STR(mysql_default_database, RELOAD, NULL),
    SEC(dns_max_ttl, RELOAD, "15"),
    SEC(dns_nxdomain_ttl, RELOAD, "15"),
    STR(dns_nameservers, AT_START, ""),
    INT(host_breaker_failures, 1, 1000, RELOAD, "3"),
    SEC(host_breaker_backoff, RELOAD, "1"),
    SEC(host_breaker_backoff_max, RELOAD, "30"),
    /* The edge (docs/edge.md); proxy_protocol_networks is parsed by config_check. */
    STR(proxy_protocol_networks, RELOAD, NULL),
    INT(max_client_conn_per_ip, 0, 10000000, RELOAD, "0"),
    SEC(client_conn_rate, RELOAD, "0"), /* a rate, read like seconds: 0 to 10^9, fractions */
    INT(client_conn_burst, 0, 10000000, RELOAD, "0"),
    INT(auth_failure_limit, 0, 1000000, RELOAD, "0"),
    SEC(auth_failure_window, RELOAD, "60"),
    SEC(auth_failure_ban, RELOAD, "300"),
    INT(max_pending_logins, 0, 10000000, RELOAD, "0"),
    /* TLS (docs/tls.md): files are re-read on every reload. */
    ENUM(client_tls_sslmode, tls_mode_names, ANY_CASE, RELOAD, "disable"),
    STR(client_tls_key_file, RELOAD, NULL),
    STR(client_tls_cert_file, RELOAD, NULL),
    STR(client_tls_ca_file, RELOAD, NULL),
    STR(client_tls_protocols, RELOAD, "secure"),
    STR(client_tls_ciphers, RELOAD, "fast"),
    ENUM(server_tls_sslmode, tls_mode_names, ANY_CASE, RELOAD, "prefer"),
    STR(server_tls_ca_file, RELOAD, NULL),
    STR(server_tls_key_file, RELOAD, NULL),
    STR(server_tls_cert_file, RELOAD, NULL),
    STR(server_tls_protocols, RELOAD, "secure"),
    STR(server_tls_ciphers, RELOAD, "fast"),
    INT(peer_id, 0, PEER_ID_MAX, AT_START, "0"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/*
 * [pgbouncer] keys of PgBouncer's that weir does not implement: a
 * pgbouncer.ini that carries them still loads (with a warning), so moving
 * over takes little editing. Any other unknown key is an error. A key weir
 * comes to implement leaves this list (keys[] is looked at first anyway).
 */
static const char *const pgbouncer_only_keys[] = {"pidfile",
                                                  "user",
                                                  "max_db_client_connections",
                                                  "max_user_client_connections",
                                                  "server_round_robin",
                                                  "ignore_startup_parameters",
                                                  "disable_pqexec",
                                                  "application_name_add_host",
                                                  "conffile",
                                                  "service_name",
                                                  "job_name",
                                                  "query_wait_notify",
                                                  "scram_iterations",
                                                  "auth_ident_file",
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
                                                  "client_tls_ecdhcurve",
                                                  "client_tls_dheparams",
                                                  "client_tls13_ciphers",
                                                  "server_tls13_ciphers",
                                                  NULL};

/* ---- values ---- */

bool conf_parse_int(const char *v, long min, long max, long *out)
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

/* Octal, as chmod and PgBouncer take it ("0777", "777", "0660"). */
static bool parse_mode(const char *v, int *out)
{
    char *end;
    errno = 0;
    long m = strtol(v, &end, 8);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end || m < 0 || m > 0777)
        return false;
    *out = (int)m;
    return true;
}

static int name_index(const char *const *names, bool any_case, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (any_case ? !strcasecmp(v, names[i]) : !strcmp(v, names[i]))
            return i;
    return -1;
}

int conf_parse_pool_mode(const char *v)
{
    return name_index(pool_mode_names, true, v);
}

const char *config_pool_mode_name(enum pool_mode m)
{
    return pool_mode_names[m];
}

int config_parse_tls_mode(const char *name)
{
    return name_index(tls_mode_names, true, name);
}

const char *config_tls_mode_name(enum tls_mode m)
{
    return m >= TLS_DISABLE && m <= TLS_VERIFY_FULL ? tls_mode_names[m] : "?";
}

bool conf_set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst != NULL;
}

/* ---- the table at work ---- */

enum apply { APPLY_OK, APPLY_BAD, APPLY_NOMEM };

/* Parses v as key k's kind and stores it in cfg; nothing is stored on APPLY_BAD. */
static enum apply key_apply(struct config *cfg, const struct key *k, const char *v)
{
    char *field = (char *)cfg + k->off;
    long n;
    double d;
    int i;
    switch (k->kind) {
    case KEY_STR:
        return conf_set_str((char **)field, v) ? APPLY_OK : APPLY_NOMEM;
    case KEY_INT:
        if (!conf_parse_int(v, k->min, k->max, &n))
            return APPLY_BAD;
        *(int *)field = (int)n;
        return APPLY_OK;
    case KEY_SEC:
        if (!parse_seconds(v, &d))
            return APPLY_BAD;
        *(double *)field = d;
        return APPLY_OK;
    case KEY_BOOL:
        if (!parse_bool(v, &i))
            return APPLY_BAD;
        *(int *)field = i;
        return APPLY_OK;
    case KEY_ENUM:
        if ((i = name_index(k->names, k->any_case, v)) < 0)
            return APPLY_BAD;
        *(int *)field = i;
        return APPLY_OK;
    case KEY_MODE:
        if (!parse_mode(v, &i))
            return APPLY_BAD;
        *(int *)field = i;
        return APPLY_OK;
    }
    return APPLY_BAD;
}

/* The place of a KEY_STR key's string in cfg (cfg is const for readers only). */
static char **str_field(const struct config *cfg, const struct key *k)
{
    return (char **)((const char *)cfg + k->off);
}

bool keys_init(struct config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (!keys[i].def)
            continue;
        enum apply r = key_apply(cfg, &keys[i], keys[i].def);
        if (r == APPLY_NOMEM)
            return false;
        if (r != APPLY_OK)
            abort(); /* a default its own key refuses: the table is wrong */
    }
    return true;
}

static bool is_pgbouncer_only(const char *k)
{
    for (const char *const *p = pgbouncer_only_keys; *p; p++)
        if (!strcmp(k, *p))
            return true;
    return false;
}

/* The [weir] key nearest to k, or NULL. */
static const char *nearest_key(const char *k)
{
    struct suggest s;
    suggest_start(&s, k);
    for (size_t i = 0; i < NKEYS; i++)
        suggest_add(&s, keys[i].name);
    return suggest_pick(&s);
}

bool keys_set(struct parse_ctx *ctx, const char *k, const char *v)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(k, keys[i].name))
            continue;
        switch (key_apply(ctx->cfg, &keys[i], v)) {
        case APPLY_OK:
            return true;
        case APPLY_NOMEM:
            return false;
        case APPLY_BAD:
            break;
        }
        conf_error(ctx, "invalid value \"%s\" for %s", v, k);
        return false;
    }
    char hint[96];
    if (!ctx->lineno) {
        conf_error(ctx, "unknown setting \"%.64s\"%s", k,
                   suggest_text(nearest_key(k), hint, sizeof(hint)));
        return false;
    }
    /* A pgbouncer.ini carries keys weir does not implement: those warn; anything else is a typo. */
    if (is_pgbouncer_only(k)) {
        conf_note(ctx->cfg, "%s:%d: PgBouncer setting \"%s\" is not supported by weir; ignored",
                  ctx->cfg->path, ctx->lineno, k);
        return true;
    }
    conf_error(ctx, "unknown setting \"%.64s\" in [%s]%s", k, ctx->section,
               suggest_text(nearest_key(k), hint, sizeof(hint)));
    return false;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    struct parse_ctx ctx = {cfg, 0, err, errlen, "weir"};
    err[0] = 0;
    if (!keys_set(&ctx, key, value)) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    return config_check(cfg, err, errlen);
}

void config_each(const struct config *cfg,
                 void (*fn)(void *arg, const char *key, const char *value, bool reloadable),
                 void *arg)
{
    char b[64];
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        const char *field = (const char *)cfg + k->off;
        const char *text = b;
        switch (k->kind) {
        case KEY_STR:
            text = *(char *const *)field ? *(char *const *)field : "";
            break;
        case KEY_INT:
        case KEY_BOOL:
            snprintf(b, sizeof(b), "%d", *(const int *)field);
            break;
        case KEY_SEC:
            snprintf(b, sizeof(b), "%g", *(const double *)field);
            break;
        case KEY_ENUM:
            text = k->names[*(const int *)field];
            break;
        case KEY_MODE:
            snprintf(b, sizeof(b), "0%o", (unsigned)*(const int *)field);
            break;
        }
        fn(arg, k->name, text, k->reloadable);
    }
}

bool keys_dup(struct config *cfg, const struct config *src)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == KEY_STR)
            *str_field(cfg, &keys[i]) = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *s = keys[i].kind == KEY_STR ? *str_field(src, &keys[i]) : NULL;
        if (s && !(*str_field(cfg, &keys[i]) = strdup(s)))
            return false;
    }
    return true;
}

void keys_free(struct config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == KEY_STR)
            free(*str_field(cfg, &keys[i]));
}
