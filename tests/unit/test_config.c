/*
 * test_config.c -- unit tests of the configuration: config_load (defaults, every key, databases,
 * users, errors), SHOW CONFIG's config_each, the run-time config_set and config_dup.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "pooler/conf/config.h"
#include "tests/tap.h"

/* A known bug: reported as TAP "# TODO" so it does not fail the file (tap.h has no helper). */
#define todo_ok(cond, reason, name)                                                                \
    do {                                                                                           \
        int todo_c_ = (cond);                                                                      \
        printf("%sok %d - %s # TODO %s\n", todo_c_ ? "" : "not ", ++tap_run, name, reason);        \
    } while (0)

static char dir[] = "/tmp/weir-test-config-XXXXXX";
static char path[PATH_MAX]; /* dir/weir.ini */
static char err[512];

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* Writes text as the config file and loads it; *cfg is NULL unless WR_OK. */
static int load(const char *text, struct config **cfg)
{
    write_file(path, text);
    *cfg = NULL;
    err[0] = 0;
    int r = config_load(path, cfg, err, sizeof(err));
    if (r != WR_OK && *cfg)
        diag("  config_load failed but returned a config");
    return r;
}

/* Loads a config that must be valid; NULL (and a failed check) otherwise. */
static struct config *load_ok(const char *text, const char *name)
{
    struct config *cfg;
    int r = load(text, &cfg);
    if (!ok(r == WR_OK, "loads: %s", name)) {
        diag("  error: %s", err);
        return NULL;
    }
    return cfg;
}

/* Loads a config that must be rejected with an error containing each of want1, want2. */
static void load_bad(const char *text, const char *want1, const char *want2, const char *name)
{
    struct config *cfg;
    int r = load(text, &cfg);
    int good = r == WR_ERROR && cfg == NULL && (!want1 || strstr(err, want1)) &&
               (!want2 || strstr(err, want2));
    if (!ok(good, "rejected: %s", name))
        diag("  r=%d error: '%s' (want '%s' and '%s')", r, err, want1 ? want1 : "",
             want2 ? want2 : "");
    config_free(cfg);
}

#define TRUST "[weir]\nauth_type = trust\n"

static void test_defaults(void)
{
    struct config *cfg = load_ok(TRUST, "minimal config");
    if (!cfg)
        return;
    is_str(cfg->path, path, "path is kept");
    is_str(cfg->listen_addr, "127.0.0.1", "default listen_addr");
    is_int(cfg->listen_port, 6432, "default listen_port");
    is_int(cfg->default_pool_size, 20, "default default_pool_size");
    is_int(cfg->pool_mode, POOL_SESSION, "default pool_mode is session");
    is_str(cfg->server_reset_query, "DISCARD ALL", "default server_reset_query");
    is_int(cfg->max_client_conn, 10000, "default max_client_conn");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    is_int(cfg->workers, n > 0 ? n : 1, "workers resolved to the number of CPUs");
    ok(cfg->client_login_timeout == 60, "default client_login_timeout 60");
    ok(cfg->query_wait_timeout == 120, "default query_wait_timeout 120");
    ok(cfg->server_connect_timeout == 15, "default server_connect_timeout 15");
    ok(cfg->log_connections == 1 && cfg->log_disconnections == 1, "connections logged by default");
    is_int(cfg->verbose, 0, "default verbose 0");
    ok(cfg->auth_file == NULL && cfg->admin_users == NULL && cfg->stats_users == NULL &&
           cfg->logfile == NULL,
       "optional strings default to NULL");
    is_int(cfg->ndbs, 0, "no databases");
    is_int(cfg->nusers, 0, "no users");
    ok(config_find_db(cfg, "x") == NULL, "config_find_db of a missing name is NULL");
    ok(config_find_user(cfg, "x") == NULL, "config_find_user of a missing name is NULL");
    is_str(config_pool_mode_name(POOL_SESSION), "session", "pool mode name: session");
    is_str(config_pool_mode_name(POOL_TRANSACTION), "transaction", "pool mode name: transaction");
    is_str(config_pool_mode_name(POOL_STATEMENT), "statement", "pool mode name: statement");
    config_free(cfg);

    load_bad("", "auth_type needs an auth_file", path,
             "an empty file (default auth_type md5 needs auth_file)");
}

static void test_main_keys(void)
{
    struct config *cfg = load_ok("; leading comment\n"
                                 "[weir]\n"
                                 "listen_addr = 0.0.0.0\n"
                                 "listen_port = 7000\n"
                                 "auth_type = scram-sha-256\n"
                                 "auth_file = /etc/weir/users.txt\n"
                                 "admin_users = admin, root\n"
                                 "stats_users = stats\n"
                                 "pool_mode = session\n"
                                 "default_pool_size = 7\n"
                                 "max_client_conn = 500\n"
                                 "workers = 3\n"
                                 "server_reset_query = RESET ALL\n"
                                 "client_login_timeout = 2.5\n"
                                 "query_wait_timeout = 0\n"
                                 "server_connect_timeout = 1e1\n"
                                 "log_connections = off\n"
                                 "log_disconnections = no\n"
                                 "verbose = 2\n"
                                 "logfile = /var/log/weir.log\n",
                                 "every [weir] key");
    if (cfg) {
        is_str(cfg->listen_addr, "0.0.0.0", "listen_addr");
        is_int(cfg->listen_port, 7000, "listen_port");
        is_int(cfg->auth_type, AUTH_SCRAM, "auth_type scram-sha-256");
        is_str(cfg->auth_file, "/etc/weir/users.txt", "absolute auth_file kept as is");
        is_str(cfg->admin_users, "admin, root", "admin_users");
        is_str(cfg->stats_users, "stats", "stats_users");
        is_int(cfg->pool_mode, POOL_SESSION, "pool_mode");
        is_int(cfg->default_pool_size, 7, "default_pool_size");
        is_int(cfg->max_client_conn, 500, "max_client_conn");
        is_int(cfg->workers, 3, "workers");
        is_str(cfg->server_reset_query, "RESET ALL", "server_reset_query");
        ok(cfg->client_login_timeout == 2.5, "client_login_timeout 2.5");
        ok(cfg->query_wait_timeout == 0, "query_wait_timeout 0");
        ok(cfg->server_connect_timeout == 10, "server_connect_timeout 1e1");
        is_int(cfg->log_connections, 0, "log_connections off");
        is_int(cfg->log_disconnections, 0, "log_disconnections no");
        is_int(cfg->verbose, 2, "verbose");
        is_str(cfg->logfile, "/var/log/weir.log", "logfile");
        config_free(cfg);
    }

    static const struct {
        const char *kv;
        int want;
        enum auth_type type;
    } auths[] = {
        {"auth_type = trust\n", 1, AUTH_TRUST},
        {"auth_type = plain\nauth_file = u\n", 1, AUTH_PLAIN},
        {"auth_type = md5\nauth_file = u\n", 1, AUTH_MD5},
        {"auth_file = u\n", 1, AUTH_MD5},
    };
    for (size_t i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[weir]\n%s", auths[i].kv);
        cfg = load_ok(text, auths[i].kv);
        if (cfg)
            is_int(cfg->auth_type, auths[i].type, "auth_type value");
        config_free(cfg);
    }

    static const struct {
        const char *kv;
        int value;
    } bools[] = {{"1", 1}, {"on", 1}, {"Yes", 1}, {"TRUE", 1}, {"0", 0}, {"OFF", 0}, {"false", 0}};
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), TRUST "log_connections = %s\nlog_disconnections = %s\n",
                 bools[i].kv, bools[i].kv);
        cfg = load_ok(text, bools[i].kv);
        if (cfg)
            ok(cfg->log_connections == bools[i].value && cfg->log_disconnections == bools[i].value,
               "boolean '%s' is %d", bools[i].kv, bools[i].value);
        config_free(cfg);
    }

    cfg = load_ok(TRUST "listen_port = 1\ndefault_pool_size = 100000\nworkers = 255\n"
                        "max_client_conn = 10000000\nverbose = 10\npool_mode = SESSION\n"
                        "listen_port = 65535\n",
                  "boundary values");
    if (cfg) {
        is_int(cfg->listen_port, 65535, "the later of two settings wins");
        is_int(cfg->default_pool_size, 100000, "default_pool_size 100000");
        is_int(cfg->workers, 255, "workers 255");
        is_int(cfg->max_client_conn, 10000000, "max_client_conn 10000000");
        is_int(cfg->verbose, 10, "verbose 10");
        is_int(cfg->pool_mode, POOL_SESSION, "pool_mode is case-insensitive");
        config_free(cfg);
    }

    cfg = load_ok(TRUST "listen_port = 6543 ; a comment\nserver_reset_query =\n",
                  "inline comment and empty string value");
    if (cfg) {
        is_int(cfg->listen_port, 6543, "an inline comment after a value is dropped");
        is_str(cfg->server_reset_query, "", "an empty server_reset_query is kept empty");
        config_free(cfg);
    }

    cfg = load_ok("[pgbouncer]\nauth_type = trust\nlisten_port = 6500\n", "[pgbouncer] section");
    if (cfg) {
        is_int(cfg->listen_port, 6500, "[pgbouncer] is an alias of [weir]");
        config_free(cfg);
    }

    cfg = load_ok(TRUST "ignore_startup_parameters = extra_float_digits\npidfile = /tmp/x.pid\n",
                  "PgBouncer keys weir does not implement only warn");
    config_free(cfg);
}

static void test_main_invalid(void)
{
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"listen_port", "0"},
        {"listen_port", "65536"},
        {"listen_port", "64x"},
        {"listen_port", "0x10"},
        {"listen_port", "-1"},
        {"listen_port", ""},
        {"default_pool_size", "0"},
        {"default_pool_size", "100001"},
        {"default_pool_size", "99999999999999999999"},
        {"max_client_conn", "0"},
        {"max_client_conn", "10000001"},
        {"workers", "-1"},
        {"workers", "256"},
        {"workers", "two"},
        {"verbose", "11"},
        {"verbose", "-1"},
        {"client_login_timeout", "-1"},
        {"client_login_timeout", "soon"},
        {"client_login_timeout", "2s"},
        {"query_wait_timeout", "1e10"},
        {"query_wait_timeout", "inf"},
        {"server_connect_timeout", ""},
        {"log_connections", "2"},
        {"log_connections", "maybe"},
        {"log_disconnections", "y"},
        {"auth_type", "MD5"},
        {"auth_type", "pam"},
        {"auth_type", ""},
        {"pool_mode", "sessions"},
        {"pool_mode", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], name[128];
        snprintf(text, sizeof(text), TRUST "%s = %s\n", bad[i].key, bad[i].value);
        snprintf(name, sizeof(name), "%s = '%s'", bad[i].key, bad[i].value);
        load_bad(text, bad[i].key, path, name);
    }

    struct config *cfg;
    int r = load(TRUST "client_login_timeout = nan\n", &cfg);
    ok(r == WR_ERROR, "rejected: client_login_timeout = nan");
    diag("  r=%d error: '%s'", r, r == WR_OK ? "" : err);
    config_free(cfg);

    r = load(TRUST "listen_port = 0\ndefault_pool_size = 0\n", &cfg);
    ok(r == WR_ERROR && strstr(err, "listen_port"),
       "with two bad lines, the error names the first");
    diag("  r=%d error: '%s'", r, r == WR_OK ? "" : err);
    config_free(cfg);

    r = load(TRUST "\nlisten_port = 0\n", &cfg);
    ok(r == WR_ERROR && strstr(err, "weir.ini:4:"), "an invalid value's error names its line");
    diag("  r=%d error: '%s'", r, r == WR_OK ? "" : err);
    config_free(cfg);

    load_bad("[weir]\nauth_type = md5\n", "auth_file", NULL, "md5 without auth_file");
    load_bad("[weir]\nauth_type = scram-sha-256\n", "auth_file", NULL, "scram without auth_file");
    load_bad("[weir]\nauth_type = plain\n", "auth_file", NULL, "plain without auth_file");
    load_bad(TRUST "[other]\nx = 1\n", "unknown section [other]", path, "unknown section");
    load_bad("auth_type = trust\n", ":1: \"auth_type\" is outside any section", path,
             "a key before any section");
    load_bad(TRUST "[Weir]\nlisten_port = 1\n", "unknown section [Weir]", NULL,
             "section names are case-sensitive");
    load_bad(TRUST "this line has no equals sign\n", ":3: syntax error", path, "syntax error");
    load_bad(TRUST "[unterminated\n", ":3: section header [unterminated is missing its ]", path,
             "unterminated section header");

    err[0] = 0;
    cfg = NULL;
    r = config_load("/nonexistent/weir.ini", &cfg, err, sizeof(err));
    ok(r == WR_ERROR && cfg == NULL, "a missing file fails");
    ok(strstr(err, "/nonexistent/weir.ini") && strstr(err, "cannot open") &&
           strstr(err, "No such file"),
       "the error names the file and the reason");
}

static void test_databases(void)
{
    struct config *cfg =
        load_ok(TRUST "[databases]\n"
                      "plain =\n"
                      "full = host=10.0.0.1 port=5433 dbname=real user=bob password=pw "
                      "pool_size=5 pool_mode=session backend=postgres\n"
                      "quoted = host='/var/run/postgresql' user = 'a b' password='it\\'s ok'\n"
                      "spaced = dbname = 'x y'   port = 6000\n"
                      "back = password='a\\\\b' user=u backend=PostgreSQL\n",
                "databases");
    if (!cfg)
        return;
    is_int(cfg->ndbs, 5, "five databases");

    const struct db_entry *d = config_find_db(cfg, "plain");
    ok(d != NULL, "an empty entry is a database");
    if (d) {
        is_str(d->dbname, "plain", "dbname defaults to the entry name");
        is_str(d->host, "127.0.0.1", "host defaults to 127.0.0.1");
        is_int(d->port, 5432, "port defaults to 5432");
        ok(d->user == NULL && d->password == NULL, "no forced user or password");
        is_int(d->pool_size, -1, "pool_size unset is -1");
        is_int(d->pool_mode, -1, "pool_mode unset is -1");
        is_int(d->backend, BACKEND_POSTGRES, "backend defaults to postgres");
        is_int(config_pool_size(cfg, d, NULL), 20, "effective pool size is default_pool_size");
        is_int(config_pool_mode(cfg, d, NULL), POOL_SESSION, "effective pool mode is global");
    }

    d = config_find_db(cfg, "full");
    ok(d != NULL, "full entry found");
    if (d) {
        is_str(d->host, "10.0.0.1", "host");
        is_int(d->port, 5433, "port");
        is_str(d->dbname, "real", "dbname");
        is_str(d->user, "bob", "user");
        is_str(d->password, "pw", "password");
        is_int(d->pool_size, 5, "pool_size");
        is_int(d->pool_mode, POOL_SESSION, "pool_mode");
        is_int(config_pool_size(cfg, d, NULL), 5, "effective pool size from the entry");
    }

    d = config_find_db(cfg, "quoted");
    if (ok(d != NULL, "quoted entry found")) {
        is_str(d->host, "/var/run/postgresql", "quoted unix socket directory");
        is_str(d->user, "a b", "quoted value with a space, blanks around '='");
        is_str(d->password, "it's ok", "backslash-escaped quote inside quotes");
        is_str(d->dbname, "quoted", "dbname still defaults to the name");
    }
    d = config_find_db(cfg, "spaced");
    if (ok(d != NULL, "spaced entry found")) {
        is_str(d->dbname, "x y", "quoted dbname");
        is_int(d->port, 6000, "port after extra blanks");
    }
    d = config_find_db(cfg, "back");
    if (ok(d != NULL, "backslash entry found"))
        is_str(d->password, "a\\b", "an escaped backslash inside quotes");
    ok(config_find_db(cfg, "Plain") == NULL, "database names are case-sensitive");
    config_free(cfg);

    load_bad(TRUST "[databases]\nx = password=secret\n", "password= needs user=", "\"x\"",
             "password without user");
    load_bad(TRUST "[databases]\nx = host=h sslmode=disable\n", "unknown key \"sslmode\"", "\"x\"",
             "unknown key in a database entry");
    load_bad(TRUST "[databases]\nx = host=a\ny = host=b\nx = host=c\n", "\"x\" defined twice", path,
             "duplicate database");
    load_bad(TRUST "[databases]\nx = port=0\n", "\"port\"", "\"x\"", "port 0");
    load_bad(TRUST "[databases]\nx = port=65536\n", "\"port\"", NULL, "port 65536");
    load_bad(TRUST "[databases]\nx = port=abc\n", "invalid value \"abc\"", NULL, "port abc");
    load_bad(TRUST "[databases]\nx = pool_size=0\n", "\"pool_size\"", NULL, "pool_size 0");
    load_bad(TRUST "[databases]\nx = pool_mode=bogus\n", "\"pool_mode\"", NULL, "pool_mode bogus");
    load_bad(TRUST "[databases]\nx = backend=oracle\n", "\"backend\"", NULL, "backend oracle");
    {
        struct config *my = load_ok(TRUST "mysql_listen_port = 6033\n[databases]\n"
                                          "x = backend=mysql\ny = backend=mariadb port=3307\n",
                                    "backend mysql");
        if (my) {
            is_int(my->mysql_listen_port, 6033, "mysql_listen_port");
            is_int(config_find_db(my, "x")->backend, BACKEND_MYSQL, "backend=mysql");
            is_int(config_find_db(my, "x")->port, 3306, "a MySQL entry defaults to port 3306");
            is_int(config_find_db(my, "y")->port, 3307, "an explicit port stays");
        }
        config_free(my);
    }
    load_bad(TRUST "[databases]\nx = host\n", "bad connection string", NULL, "a key without '='");
    load_bad(TRUST "[databases]\nx = =v\n", "bad connection string", NULL, "'=' without a key");
    load_bad(TRUST "[databases]\nx = password='open user=u\n", "bad connection string", NULL,
             "unterminated quote");

    /* A value longer than inih's default 200-byte line: must load whole or fail, never truncate. */
    char text[1024], pw[301];
    memset(pw, 'p', 300);
    pw[300] = 0;
    snprintf(text, sizeof(text), TRUST "[databases]\nlong = user=u password=%s port=5555\n", pw);
    int r = load(text, &cfg);
    const struct db_entry *ld = cfg ? config_find_db(cfg, "long") : NULL;
    int whole = ld && ld->password && !strcmp(ld->password, pw) && ld->port == 5555;
    ok(r == WR_ERROR || whole, "a 300-byte password is loaded whole or rejected");
    ok(r == WR_ERROR && strstr(err, "line too long"),
       "a database line longer than inih's 200-byte buffer is rejected, not split");
    diag("  r=%d error: '%s'", r, r == WR_OK ? "" : err);
    config_free(cfg);

    /* The same in [weir]: the tail of a long line with an '=' becomes an unknown key (a warning).
     */
    char query[260];
    snprintf(query, sizeof(query), "SELECT pg_advisory_unlock_all() /* %0200d */ WHERE 1 = 1", 0);
    snprintf(text, sizeof(text), TRUST "server_reset_query = %s\n", query);
    r = load(text, &cfg);
    ok(r == WR_ERROR || (cfg && !strcmp(cfg->server_reset_query, query)),
       "a 250-byte server_reset_query is loaded whole or rejected");
    diag("  r=%d server_reset_query: '%s'", r, cfg ? cfg->server_reset_query : err);
    config_free(cfg);

    r = load(TRUST "[databases]\nx = user=u password='a ;b'\n", &cfg);
    ld = cfg ? config_find_db(cfg, "x") : NULL;
    ok(r == WR_OK && ld && !strcmp(ld->password, "a ;b"),
       "a quoted password containing ' ;' loads");
    diag("  r=%d error: '%s'", r, r == WR_OK ? "" : err);
    config_free(cfg);
}

static void test_pool_mode(void)
{
    struct config *cfg = load_ok(TRUST "pool_mode = transaction\n[databases]\nx =\n"
                                       "y = pool_mode=statement\nz = pool_mode=session\n"
                                       "[users]\nu = pool_mode=session\n",
                                 "transaction, statement and session modes load");
    if (cfg) {
        is_int(cfg->pool_mode, POOL_TRANSACTION, "global pool_mode transaction");
        is_int(config_pool_mode(cfg, config_find_db(cfg, "y"), NULL), POOL_STATEMENT,
               "database pool_mode statement");
        is_int(config_pool_mode(cfg, config_find_db(cfg, "x"), config_find_user(cfg, "u")),
               POOL_SESSION, "user pool_mode overrides the database's");
    }
    config_free(cfg);
    load_bad(TRUST "pool_mode = batch\n", "pool_mode", NULL, "unknown pool_mode");
}

static void test_users(void)
{
    struct config *cfg = load_ok(TRUST "default_pool_size = 9\n"
                                       "[databases]\n"
                                       "d = \n"
                                       "d3 = pool_size=3\n"
                                       "[users]\n"
                                       "alice = pool_size=4\n"
                                       "bob = pool_mode=session\n"
                                       "carol = pool_mode=session pool_size=6\n",
                                 "[users] section");
    if (!cfg)
        return;
    is_int(cfg->nusers, 3, "three users");
    const struct user_entry *a = config_find_user(cfg, "alice");
    const struct user_entry *b = config_find_user(cfg, "bob");
    const struct user_entry *c = config_find_user(cfg, "carol");
    const struct db_entry *d = config_find_db(cfg, "d");
    const struct db_entry *d3 = config_find_db(cfg, "d3");
    if (!ok(a && b && c && d && d3, "users and databases found")) {
        config_free(cfg);
        return;
    }
    ok(a->pool_size == 4 && a->pool_mode == -1, "alice: pool_size set, pool_mode unset");
    ok(b->pool_size == -1 && b->pool_mode == POOL_SESSION, "bob: pool_mode set, pool_size unset");
    ok(c->pool_size == 6 && c->pool_mode == POOL_SESSION, "carol: both set");

    is_int(config_pool_size(cfg, d, NULL), 9, "no overrides: default_pool_size");
    is_int(config_pool_size(cfg, d, a), 4, "a user's pool_size overrides the default");
    is_int(config_pool_size(cfg, d, b), 9, "a user without pool_size: default");
    is_int(config_pool_size(cfg, d3, NULL), 3, "a database's pool_size overrides the default");
    is_int(config_pool_size(cfg, d3, a), 3, "a database's pool_size beats the user's");

    /* Modes other than session are rejected at load, so exercise precedence on copies. */
    struct db_entry dt = *d;
    struct user_entry ut = *b, un = *a;
    dt.pool_mode = POOL_TRANSACTION;
    ut.pool_mode = POOL_STATEMENT;
    is_int(config_pool_mode(cfg, d, NULL), POOL_SESSION, "no overrides: global pool_mode");
    is_int(config_pool_mode(cfg, &dt, NULL), POOL_TRANSACTION, "a database's mode beats global");
    is_int(config_pool_mode(cfg, &dt, &un), POOL_TRANSACTION, "a user without mode: database's");
    is_int(config_pool_mode(cfg, &dt, &ut), POOL_STATEMENT, "a user's mode beats the database's");
    is_int(config_pool_mode(cfg, d, &ut), POOL_STATEMENT, "a user's mode beats global");
    config_free(cfg);

    load_bad(TRUST "[users]\nu = pool_size=0\n", "bad settings for user \"u\"", path,
             "user pool_size 0");
    load_bad(TRUST "[users]\nu = pool_size=many\n", "\"u\"", NULL, "user pool_size many");
    load_bad(TRUST "[users]\nu = max_connections=5\n", "\"u\"", NULL, "unknown user key");
    load_bad(TRUST "[users]\nu = pool_mode=fast\n", "\"u\"", NULL, "user pool_mode fast");
    load_bad(TRUST "[users]\nu = pool_size\n", "\"u\"", NULL, "user key without value");
}

static void test_auth_file(void)
{
    struct config *cfg = load_ok("[weir]\nauth_file = users.txt\n", "relative auth_file");
    if (cfg) {
        char want[PATH_MAX + 16];
        snprintf(want, sizeof(want), "%s/users.txt", dir);
        is_str(cfg->auth_file, want, "auth_file is resolved against the config file's directory");
        config_free(cfg);
    }
    cfg = load_ok("[weir]\nauth_file = sub/dir/u.txt\n", "relative auth_file in a subdirectory");
    if (cfg) {
        char want[PATH_MAX + 16];
        snprintf(want, sizeof(want), "%s/sub/dir/u.txt", dir);
        is_str(cfg->auth_file, want, "a relative path with directories");
        config_free(cfg);
    }

    /* A config path without a directory: the auth_file stays relative to the cwd. */
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) && chdir(dir) == 0) {
        write_file("weir.ini", "[weir]\nauth_file = users.txt\n");
        cfg = NULL;
        int r = config_load("weir.ini", &cfg, err, sizeof(err));
        ok(r == WR_OK, "a config path without a directory loads");
        if (cfg)
            is_str(cfg->auth_file, "users.txt", "its auth_file stays as written");
        config_free(cfg);
        if (chdir(cwd) != 0)
            diag("cannot go back to %s", cwd);
    }
}

/* Typos fail the load with the file, the line and the nearest known key (issue: --check). */
static void test_unknown_keys(void)
{
    load_bad(TRUST "defualt_pool_size = 5\n", ":3: unknown setting \"defualt_pool_size\" in [weir]",
             "did you mean default_pool_size?", "a swapped pair of letters in [weir]");
    load_bad("[pgbouncer]\nauth_type = trust\nlisten_prot = 1\n", ":3: unknown setting",
             "in [pgbouncer]; did you mean listen_port?", "a typo in [pgbouncer]");
    load_bad(TRUST "max_client_connections = 5\n", "unknown setting",
             "did you mean max_client_conn?", "a longer spelling of a [weir] key");
    load_bad(TRUST "unix_socket_mod = 0700\n", "did you mean unix_socket_mode?", path,
             "a letter missing from a unix socket key");
    load_bad(TRUST "frobnicate = 1\n", "unknown setting \"frobnicate\" in [weir]", NULL,
             "a key near nothing");
    struct config *cfg;
    int r = load(TRUST "frobnicate = 1\n", &cfg);
    ok(r == WR_ERROR && !strstr(err, "did you mean"), "nothing near: no suggestion");
    config_free(cfg);

    load_bad(TRUST "[databases]\nx = host=h prot=5432\n", ":4: unknown key \"prot\"",
             "did you mean port?", "a typo in a database entry");
    load_bad(TRUST "[databases]\nx = host=h pool_sise=3\n", "database entry \"x\"",
             "did you mean pool_size?", "a typo in a database entry's pool_size");
    load_bad(TRUST "[users]\nu = pool_sizes=3\n", ":4: unknown key \"pool_sizes\" for user \"u\"",
             "did you mean pool_size?", "a typo in a [users] entry");
    load_bad(TRUST "[user]\nu = pool_size=3\n", "unknown section [user]", "did you mean users?",
             "a typo in a section name");
    load_bad(TRUST "[databases\nx = host=h\n", ":3: section header [databases is missing its ]",
             path, "[databases without its ]");
    load_bad("[weir\nauth_type = trust\n", ":1: section header [weir is missing its ]", NULL,
             "[weir without its ], first line");

    /* The console's SET says the same, without a file and line. */
    cfg = load_ok(TRUST, "a config to SET on");
    if (cfg) {
        r = config_set(cfg, "defualt_pool_size", "5", err, sizeof(err));
        ok(r == WR_ERROR && strstr(err, "did you mean default_pool_size?"),
           "SET of a misspelt key suggests the right one");
        diag("  error: '%s'", err);
        config_free(cfg);
    }
}

static void test_unix_socket_keys(void)
{
    struct config *cfg = load_ok(TRUST, "unix socket defaults");
    if (cfg) {
        is_str(cfg->unix_socket_dir, "/tmp", "default unix_socket_dir /tmp");
        is_int(cfg->unix_socket_mode, 0777, "default unix_socket_mode 0777");
        ok(cfg->unix_socket_group == NULL, "default unix_socket_group unset");
        config_free(cfg);
    }
    cfg = load_ok(TRUST "unix_socket_dir =\nunix_socket_mode = 0660\nunix_socket_group = root\n",
                  "unix socket keys");
    if (cfg) {
        is_str(cfg->unix_socket_dir, "", "an empty unix_socket_dir (no unix socket)");
        is_int(cfg->unix_socket_mode, 0660, "unix_socket_mode is octal");
        is_str(cfg->unix_socket_group, "root", "unix_socket_group");
        config_free(cfg);
    }
    cfg = load_ok(TRUST "unix_socket_dir = run\nunix_socket_mode = 700\n",
                  "relative unix_socket_dir");
    if (cfg) {
        char want[PATH_MAX + 16];
        snprintf(want, sizeof(want), "%s/run", dir);
        is_str(cfg->unix_socket_dir, want, "resolved against the config file's directory");
        is_int(cfg->unix_socket_mode, 0700, "unix_socket_mode without a leading 0 is octal too");
        config_free(cfg);
    }
    load_bad(TRUST "unix_socket_mode = 0778\n", "invalid value \"0778\" for unix_socket_mode", NULL,
             "unix_socket_mode 0778 is not octal");
    load_bad(TRUST "unix_socket_mode = 01777\n", "unix_socket_mode", NULL,
             "unix_socket_mode with the sticky bit");
    load_bad(TRUST "unix_socket_group = no-such-group-weir\n", "no such group", NULL,
             "an unknown unix_socket_group");
    char text[400], longdir[200];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = 0;
    snprintf(text, sizeof(text), TRUST "unix_socket_dir = %.180s\n", longdir);
    load_bad(text, "too long for a socket path", NULL, "a unix_socket_dir too long for sun_path");
}

/* ---- SHOW CONFIG (config_each), SET (config_set) and copies (config_dup) ---- */

/* The [weir] keys with their values as config_each shows them. */
#define SHOWN_MAX 96
struct shown {
    const char *key[SHOWN_MAX];
    char value[SHOWN_MAX][256];
    bool reloadable[SHOWN_MAX];
    int n;
};

static void collect(void *arg, const char *key, const char *value, bool reloadable)
{
    struct shown *s = arg;
    if (s->n == SHOWN_MAX)
        return;
    s->key[s->n] = key;
    snprintf(s->value[s->n], sizeof(s->value[0]), "%s", value);
    s->reloadable[s->n] = reloadable;
    s->n++;
}

static bool same_shown(const struct shown *a, const struct shown *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->key[i], b->key[i]) || strcmp(a->value[i], b->value[i]) ||
            a->reloadable[i] != b->reloadable[i])
            return false;
    return true;
}

/* A config that gives every [weir] key a value other than its default. */
static const char every_key[] = "[weir]\n"
                                "listen_addr = 0.0.0.0\n"
                                "listen_port = 7001\n"
                                "mysql_listen_port = 7002\n"
                                "unix_socket_dir = /run/weir\n"
                                "unix_socket_mode = 0640\n"
                                "unix_socket_group = root\n"
                                "auth_type = plain\n"
                                "auth_file = /etc/weir/users.txt\n"
                                "auth_hba_file = /etc/weir/hba.conf\n"
                                "admin_users = admin\n"
                                "stats_users = stats\n"
                                "pool_mode = Statement\n"
                                "default_pool_size = 3\n"
                                "max_client_conn = 4\n"
                                "workers = 5\n"
                                "server_reset_query = RESET ALL\n"
                                "client_login_timeout = 1.5\n"
                                "query_wait_timeout = 2\n"
                                "server_connect_timeout = 3\n"
                                "server_login_retry = 4\n"
                                "server_idle_timeout = 5\n"
                                "server_lifetime = 6\n"
                                "server_check_delay = 7\n"
                                "server_check_query = SELECT 1\n"
                                "server_reset_query_always = yes\n"
                                "client_idle_timeout = 8\n"
                                "query_timeout = 9\n"
                                "idle_transaction_timeout = 10\n"
                                "min_pool_size = 1\n"
                                "reserve_pool_size = 2\n"
                                "reserve_pool_timeout = 0.25\n"
                                "max_db_connections = 11\n"
                                "max_user_connections = 12\n"
                                "max_prepared_statements = 13\n"
                                "track_extra_parameters = search_path\n"
                                "log_connections = off\n"
                                "log_disconnections = off\n"
                                "log_pooler_errors = off\n"
                                "verbose = 2\n"
                                "logfile = /var/log/weir.log\n"
                                "log_format = json\n"
                                "syslog = on\n"
                                "syslog_ident = w\n"
                                "syslog_facility = local0\n"
                                "metrics_addr = 127.0.0.2\n"
                                "metrics_port = 9127\n"
                                "stats_period = 30\n"
                                "allow_local_infile = 1\n"
                                "mysql_default_database = shop\n"
                                "dns_max_ttl = 60\n"
                                "dns_nxdomain_ttl = 5\n"
                                "dns_nameservers = 127.0.0.1:5353\n"
                                "host_breaker_failures = 5\n"
                                "host_breaker_backoff = 2\n"
                                "host_breaker_backoff_max = 90\n"
                                "proxy_protocol_networks = 10.0.0.0/8, fd00::/8\n"
                                "max_client_conn_per_ip = 50\n"
                                "client_conn_rate = 2.5\n"
                                "client_conn_burst = 10\n"
                                "auth_failure_limit = 5\n"
                                "auth_failure_window = 30\n"
                                "auth_failure_ban = 120\n"
                                "max_pending_logins = 1000\n"
                                "peer_id = 7\n"
                                "client_tls_sslmode = verify-full\n"
                                "client_tls_key_file = k.pem\n"
                                "client_tls_cert_file = c.pem\n"
                                "client_tls_ca_file = ca.pem\n"
                                "client_tls_protocols = tlsv1.3\n"
                                "client_tls_ciphers = secure\n"
                                "server_tls_sslmode = verify-ca\n"
                                "server_tls_ca_file = sca.pem\n"
                                "server_tls_key_file = sk.pem\n"
                                "server_tls_cert_file = sc.pem\n"
                                "server_tls_protocols = all\n"
                                "server_tls_ciphers = normal\n"
                                "auth_user = looker\n"
                                "mysql_auth_query = SELECT h FROM t WHERE u = ?\n"
                                "auth_query = SELECT u, p FROM t WHERE u = $1\n"
                                "auth_dbname = a\n"
                                "auth_query_cache_seconds = 5\n"
                                "[databases]\n"
                                "a = host=h port=5433 user=u password='p q' pool_size=3 "
                                "server_tls_sslmode=disable\n"
                                "b = backend=mysql\n"
                                "[users]\n"
                                "u = pool_mode=session max_user_connections=2\n";

/* The catch-all "*" entries: one per backend kind, entries made from them per name asked. */
static void test_wildcard(void)
{
    load_bad(TRUST "[databases]\n* = host=a\n* = host=b\n", "\"*\" defined twice", path,
             "two \"*\" entries of one backend are refused");
    struct config *cfg = load_ok(TRUST "[databases]\n* = host=pg port=5433\n"
                                       "* = backend=mysql host=my user=u password=p\n"
                                       "shop = backend=mysql host=s\n",
                                 "a \"*\" entry per backend");
    if (!cfg)
        return;
    const struct db_entry *a = config_find_db_for(cfg, "sales", BACKEND_MYSQL);
    ok(a && !strcmp(a->name, "sales") && !strcmp(a->dbname, "sales") && !strcmp(a->host, "my") &&
           a->port == 3306 && a->user && !strcmp(a->user, "u") && a->backend == BACKEND_MYSQL,
       "an unlisted MySQL name gets the mysql \"*\" settings with its own name and dbname");
    ok(config_find_db_for(cfg, "sales", BACKEND_MYSQL) == a, "the same name gets the same entry");
    const struct db_entry *p = config_find_db_for(cfg, "sales", BACKEND_POSTGRES);
    ok(p && p != a && p->backend == BACKEND_POSTGRES && p->port == 5433 && !strcmp(p->host, "pg"),
       "a PostgreSQL client of that name gets the postgres \"*\" settings");
    const struct db_entry *s = config_find_db_for(cfg, "shop", BACKEND_POSTGRES);
    ok(s && !strcmp(s->host, "s") && s->backend == BACKEND_MYSQL,
       "a listed entry wins over \"*\" whatever its kind (the port then says which serves it)");
    ok(!config_find_db_for(cfg, "*", BACKEND_MYSQL), "nobody connects to \"*\" itself");
    ok(!config_find_db_for(cfg, "", BACKEND_MYSQL), "an empty name gets no entry");
    struct config *copy = config_dup(cfg);
    ok(copy && config_find_db_for(copy, "sales", BACKEND_MYSQL) != a,
       "a copy (a reload) makes its own entries");
    config_free(copy);
    config_free(cfg);
    cfg = load_ok(TRUST "[databases]\nshop = host=s\n", "no \"*\" entry");
    ok(cfg && !config_find_db_for(cfg, "sales", BACKEND_POSTGRES),
       "without \"*\" an unlisted name gets nothing");
    config_free(cfg);
}

static void test_show_config(void)
{
    struct config *def = load_ok(TRUST, "defaults to show");
    struct config *all = load_ok(every_key, "every [weir] key set");
    if (!def || !all) {
        config_free(def);
        config_free(all);
        return;
    }
    struct shown d = {.n = 0}, a = {.n = 0};
    config_each(def, collect, &d);
    config_each(all, collect, &a);
    ok(d.n == a.n && d.n < SHOWN_MAX, "config_each shows the same keys whatever their values (%d)",
       d.n);
    int differ = 0;
    for (int i = 0; i < d.n && i < a.n; i++)
        differ += strcmp(d.value[i], a.value[i]) != 0;
    is_int(
        differ, d.n,
        "every_key gives each key a value other than its default (a new key needs a line there)");

    /* The shown text reads back: each value SET to itself shows the same. */
    static const char *const texts[] = {"listen_port",
                                        "7001",
                                        "unix_socket_mode",
                                        "0640",
                                        "pool_mode",
                                        "statement",
                                        "auth_type",
                                        "plain",
                                        "client_login_timeout",
                                        "1.5",
                                        "reserve_pool_timeout",
                                        "0.25",
                                        "server_reset_query_always",
                                        "1",
                                        "log_format",
                                        "json",
                                        "log_connections",
                                        "0",
                                        "server_check_query",
                                        "SELECT 1"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i += 2) {
        const char *v = NULL;
        for (int j = 0; j < a.n; j++)
            if (!strcmp(a.key[j], texts[i]))
                v = a.value[j];
        ok(v && !strcmp(v, texts[i + 1]), "%s shows as '%s' (got '%s')", texts[i], texts[i + 1],
           v ? v : "nothing");
    }
    int bad = 0;
    for (int i = 0; i < a.n; i++) {
        if (config_set(all, a.key[i], a.value[i], err, sizeof(err)) != WR_OK) {
            diag("  SET %s = '%s': %s", a.key[i], a.value[i], err);
            bad++;
        }
    }
    is_int(bad, 0, "every key takes the text config_each shows for it");
    struct shown again = {.n = 0};
    config_each(all, collect, &again);
    ok(same_shown(&a, &again), "and shows the same after");

    /*
     * The keys a reload cannot change: the listening sockets, workers, tracked parameters,
     * the resolver's name servers.
     */
    char start[512] = "";
    for (int i = 0; i < d.n; i++)
        if (!d.reloadable[i])
            snprintf(start + strlen(start), sizeof(start) - strlen(start), "%s ", d.key[i]);
    is_str(start,
           "listen_addr listen_port mysql_listen_port unix_socket_dir unix_socket_mode "
           "unix_socket_group workers track_extra_parameters metrics_addr metrics_port "
           "dns_nameservers peer_id ",
           "the start-only keys");
    config_free(def);
    config_free(all);
}

static void test_set(void)
{
    struct config *cfg = load_ok(TRUST, "a config to SET on");
    if (!cfg)
        return;
    int r = config_set(cfg, "listen_port", "70000", err, sizeof(err));
    ok(r == WR_ERROR, "SET of a bad value fails");
    is_str(err, "invalid value \"70000\" for listen_port", "without a file and line");
    is_int(cfg->listen_port, 6432, "and leaves the value as it was");
    r = config_set(cfg, "unix_socket_mode", "0800", err, sizeof(err));
    is_int(cfg->unix_socket_mode, 0777, "a bad unix_socket_mode leaves it as it was");
    r = config_set(cfg, "auth_type", "MD5", err, sizeof(err));
    ok(r == WR_ERROR && cfg->auth_type == AUTH_TRUST, "auth_type names are case-sensitive");
    r = config_set(cfg, "log_format", "JSON", err, sizeof(err));
    ok(r == WR_ERROR && cfg->log_format == LOG_FORMAT_TEXT, "log_format names are case-sensitive");
    r = config_set(cfg, "pidfile", "/tmp/x.pid", err, sizeof(err));
    ok(r == WR_ERROR, "a PgBouncer-only key is unknown to SET (it only warns in a file)");
    is_str(err, "unknown setting \"pidfile\"", "and named");
    r = config_set(cfg, "query_timeout", "2.5", err, sizeof(err));
    ok(r == WR_OK && cfg->query_timeout == 2.5, "SET query_timeout 2.5");
    r = config_set(cfg, "logfile", "/tmp/weir-test.log", err, sizeof(err));
    ok(r == WR_OK && cfg->logfile && !strcmp(cfg->logfile, "/tmp/weir-test.log"), "SET logfile");
    r = config_set(cfg, "logfile", "/tmp/weir-test2.log", err, sizeof(err));
    ok(r == WR_OK && !strcmp(cfg->logfile, "/tmp/weir-test2.log"),
       "SET a string twice (the first copy is freed)");
    /* Last: a SET that breaks a rule leaves the key set (the console works on a copy). */
    r = config_set(cfg, "auth_type", "md5", err, sizeof(err));
    ok(r == WR_ERROR && strstr(err, "auth_type needs an auth_file"),
       "SET checks the rules across keys");
    config_free(cfg);
}

static void test_dup(void)
{
    struct config *cfg = load_ok(every_key, "a config to copy");
    if (!cfg)
        return;
    struct config *copy = config_dup(cfg);
    if (!ok(copy != NULL, "config_dup")) {
        config_free(cfg);
        return;
    }
    struct shown a = {.n = 0}, b = {.n = 0};
    config_each(cfg, collect, &a);
    config_each(copy, collect, &b);
    ok(same_shown(&a, &b), "the copy shows the same [weir] keys");
    ok(copy->listen_addr != cfg->listen_addr && copy->path != cfg->path &&
           !strcmp(copy->path, cfg->path),
       "the copy owns its strings");
    ok(copy->ndbs == 2 && copy->dbs != cfg->dbs && !strcmp(copy->dbs[0].password, "p q") &&
           copy->dbs[0].password != cfg->dbs[0].password && copy->dbs[1].port == 3306,
       "the copy owns its databases");
    ok(copy->nusers == 1 && copy->users[0].name != cfg->users[0].name &&
           copy->users[0].max_user_connections == 2,
       "the copy owns its users");
    int r = config_set(copy, "admin_users", "root", err, sizeof(err));
    ok(r == WR_OK && !strcmp(copy->admin_users, "root") && !strcmp(cfg->admin_users, "admin"),
       "a SET on the copy leaves the original alone");
    config_free(cfg);
    config_free(copy);
}

static void test_peers(void)
{
    struct config *cfg = load_ok(TRUST "peer_id = 2\nworkers = 4\n[peers]\n"
                                       "1 = host=127.0.0.1 port=7001\n"
                                       "2 = host=/run/weir2 port=7001 pool_size=4\n"
                                       "3 = host=::1\n",
                                 "[peers] with an address, a socket directory, IPv6");
    if (cfg) {
        ok(cfg->peer_id == 2 && cfg->npeers == 3, "peer_id and three peers");
        const struct peer_entry *p1 = config_find_peer(cfg, 1);
        const struct peer_entry *p2 = config_find_peer(cfg, 2);
        const struct peer_entry *p3 = config_find_peer(cfg, 3);
        ok(p1 && p1->addr.ss_family == AF_INET && p1->port == 7001, "peer 1: TCP 127.0.0.1:7001");
        ok(p2 && p2->addr.ss_family == AF_UNIX &&
               !strcmp(((struct sockaddr_un *)&p2->addr)->sun_path, "/run/weir2/.s.PGSQL.7001"),
           "peer 2: the unix socket in its directory");
        ok(p3 && p3->addr.ss_family == AF_INET6 && p3->port == 6432, "peer 3: IPv6, port 6432");
        ok(!config_find_peer(cfg, 4), "no peer 4");
        struct config *copy = config_dup(cfg);
        ok(copy && copy->npeers == 3 && copy->peers != cfg->peers &&
               copy->peers[0].host != cfg->peers[0].host &&
               !strcmp(copy->peers[1].host, "/run/weir2"),
           "the copy owns its peers");
        config_free(copy);
        config_free(cfg);
    }
    load_bad(TRUST "[peers]\n0 = host=h\n", "[peers]: \"0\" is not a peer id", NULL, "peer id 0");
    load_bad(TRUST "[peers]\n256 = host=h\n", "is not a peer id (1 to 255)", NULL, "peer id 256");
    load_bad(TRUST "[peers]\n1 = port=5\n", "peer 1 needs host=", NULL, "a peer without host");
    load_bad(TRUST "[peers]\n1 = host=127.0.0.1\n1 = host=127.0.0.2\n", "peer 1 is listed twice",
             NULL, "a peer twice");
    load_bad(TRUST "[peers]\n1 = host=a dbname=x\n", "unknown key \"dbname\"", NULL,
             "a key peers do not have");
    load_bad(TRUST "peer_id = 1\nworkers = 64\n", "with peer_id set, workers can be at most 63",
             NULL, "peer_id with 64 workers");
    load_bad(TRUST "peer_id = 256\n", "peer_id", NULL, "peer_id 256");
    load_bad(TRUST "[peer]\n1 = host=a\n", "unknown section [peer]", "peers", "[peer] misspelt");
}

static void test_tls_keys(void)
{
    struct config *cfg = load_ok(TRUST "server_tls_sslmode = require\n[databases]\n"
                                       "a = host=h\nb = host=h server_tls_sslmode=VERIFY-FULL\n",
                                 "TLS keys");
    if (cfg) {
        is_int(cfg->client_tls_sslmode, TLS_DISABLE, "client_tls_sslmode defaults to disable");
        is_int(config_server_tls_mode(cfg, config_find_db(cfg, "a")), TLS_REQUIRE,
               "an entry without its own sslmode takes server_tls_sslmode");
        is_int(config_server_tls_mode(cfg, config_find_db(cfg, "b")), TLS_VERIFY_FULL,
               "an entry's server_tls_sslmode wins (any case)");
        struct config *other = config_dup(cfg);
        ok(other && config_same_server_tls(cfg, other), "a copy has the same server TLS");
        char why[128];
        ok(other && config_set(other, "server_tls_ca_file", "x.pem", why, sizeof(why)) == WR_OK &&
               !config_same_server_tls(cfg, other),
           "a changed server_tls_ca_file is a change");
        config_free(other);
        config_free(cfg);
    }
    load_bad(TRUST "client_tls_sslmode = sometimes\n", "client_tls_sslmode", NULL,
             "an unknown client_tls_sslmode");
    load_bad(TRUST "[databases]\na = host=h server_tls_sslmode=maybe\n", "server_tls_sslmode", NULL,
             "an unknown server_tls_sslmode in an entry");
}

/* auth_user and auth_dbname: global, and per database entry (PgBouncer's keys). */
static void test_auth_lookup_keys(void)
{
    struct config *cfg = load_ok(TRUST "auth_user = looker\nauth_dbname = meta\n[databases]\n"
                                       "a = host=h\nb = host=h auth_user=other auth_dbname=b\n"
                                       "meta = host=h dbname=postgres\n",
                                 "auth lookup keys");
    if (cfg) {
        const struct db_entry *a = config_find_db(cfg, "a"), *b = config_find_db(cfg, "b");
        is_str(config_auth_user(cfg, a), "looker", "an entry without auth_user takes the global");
        is_str(config_auth_dbname(cfg, a), "meta", "... and auth_dbname");
        is_str(config_auth_user(cfg, b), "other", "an entry's auth_user wins");
        is_str(config_auth_dbname(cfg, b), "b", "... and its auth_dbname");
        struct config *copy = config_dup(cfg);
        ok(copy && !strcmp(config_auth_user(copy, config_find_db(copy, "b")), "other"),
           "a copy keeps the entry's auth_user");
        config_free(copy);
        config_free(cfg);
    }
    cfg = load_ok(TRUST "[databases]\na = host=h\n", "no auth_user");
    if (cfg) {
        ok(!config_auth_user(cfg, config_find_db(cfg, "a")), "none set: no auth_user");
        config_free(cfg);
    }
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/weir.ini", dir);

    test_defaults();
    test_main_keys();
    test_main_invalid();
    test_databases();
    test_pool_mode();
    test_users();
    test_auth_file();
    test_unknown_keys();
    test_unix_socket_keys();
    test_show_config();
    test_wildcard();
    test_set();
    test_dup();
    test_peers();
    test_tls_keys();
    test_auth_lookup_keys();

    unlink(path);
    rmdir(dir);
    return done_testing();
}
