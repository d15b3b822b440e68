/*
 * entries.c -- the [databases] and [users] entries: "name = key=value ..."
 * lines in libpq's conninfo syntax, their keys with "did you mean" for typos,
 * the defaults of an entry (-1: the global [weir] value), copies and freeing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/conf/config_int.h"

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
                                      "server_tls_sslmode",
                                      "auth_user",
                                      "auth_dbname",
                                      NULL};

static const char *const user_keys[] = {"pool_mode", "pool_size", "max_user_connections", NULL};

/*
 * Splits "key=value key='quoted value'" connection strings (libpq's
 * conninfo syntax) and calls fn for each pair. Returns false on bad syntax
 * or when fn returns false.
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

/* One entry's connection string being read: its reason on failure, or nomem. */
struct entry_parse {
    void *entry; /* struct db_entry or struct user_entry */
    char *err;
    size_t errlen;
    bool nomem;
};

static bool db_pair(void *arg, const char *k, const char *v)
{
    struct entry_parse *ep = arg;
    struct db_entry *db = ep->entry;
    char **str = NULL;
    long n;
    if (!strcmp(k, "host")) {
        str = &db->host;
    } else if (!strcmp(k, "port")) {
        /* One port, or one per host (checked against host= once the entry is read). */
        bool list = strchr(v, ',') && strspn(v, "0123456789,") == strlen(v);
        if (!list && !conf_parse_int(v, 1, 65535, &n))
            goto bad;
        str = &db->ports;
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
    } else if (!strcmp(k, "server_tls_sslmode")) {
        if ((db->server_tls_sslmode = config_parse_tls_mode(v)) < 0)
            goto bad;
    } else if (!strcmp(k, "dbname")) {
        str = &db->dbname;
    } else if (!strcmp(k, "user")) {
        str = &db->user;
    } else if (!strcmp(k, "password")) {
        str = &db->password;
    } else if (!strcmp(k, "auth_user")) {
        str = &db->auth_user;
    } else if (!strcmp(k, "auth_dbname")) {
        str = &db->auth_dbname;
    } else if (!strcmp(k, "pool_size")) {
        if (!conf_parse_int(v, 1, 100000, &n))
            goto bad;
        db->pool_size = (int)n;
    } else if (!strcmp(k, "pool_mode")) {
        if ((db->pool_mode = conf_parse_pool_mode(v)) < 0)
            goto bad;
    } else if (!strcmp(k, "min_pool_size")) {
        if (!conf_parse_int(v, 0, 100000, &n))
            goto bad;
        db->min_pool_size = (int)n;
    } else if (!strcmp(k, "reserve_pool") || !strcmp(k, "reserve_pool_size")) {
        if (!conf_parse_int(v, 0, 100000, &n))
            goto bad;
        db->reserve_pool_size = (int)n;
    } else if (!strcmp(k, "max_db_connections")) {
        if (!conf_parse_int(v, 0, 1000000, &n))
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
        snprintf(ep->err, ep->errlen, "unknown key \"%.64s\" in database entry \"%.64s\"%s", k,
                 db->name, suggest_text(suggest_of(k, db_keys), hint, sizeof(hint)));
        return false;
    }
    if (str && !conf_set_str(str, v)) {
        ep->nomem = true;
        return false;
    }
    return true;
bad:
    snprintf(ep->err, ep->errlen,
             "invalid value \"%.64s\" for \"%.64s\" in database entry \"%.64s\"", v, k, db->name);
    return false;
}

bool entries_add_db(struct parse_ctx *ctx, const char *name, const char *value)
{
    struct config *cfg = ctx->cfg;
    /* "*" may be given once per backend kind: checked once its backend= is read. */
    if (strcmp(name, "*") && config_find_db(cfg, name)) {
        conf_error(ctx, "database \"%s\" defined twice", name);
        return false;
    }
    struct db_entry *dbs = realloc(cfg->dbs, sizeof(*dbs) * (cfg->ndbs + 1));
    if (!dbs)
        return false;
    cfg->dbs = dbs;
    struct db_entry *db = &dbs[cfg->ndbs];
    memset(db, 0, sizeof(*db));
    if (!(db->name = strdup(name)))
        return false;
    cfg->ndbs++;
    db->port = 5432;
    db->pool_size = -1;
    db->pool_mode = -1;
    db->min_pool_size = -1;
    db->reserve_pool_size = -1;
    db->max_db_connections = -1;
    db->server_tls_sslmode = -1;
    char reason[256];
    struct entry_parse ep = {db, reason, sizeof(reason), false};
    snprintf(reason, sizeof(reason), "bad connection string");
    if (!parse_connstr(value, db_pair, &ep)) {
        if (ep.nomem)
            return false;
        conf_error(ctx, "%s", reason);
        return false;
    }
    if (!strcmp(name, "*")) {
        for (int i = 0; i < cfg->ndbs - 1; i++) {
            if (!strcmp(cfg->dbs[i].name, "*") && cfg->dbs[i].backend == db->backend) {
                conf_error(ctx, "database \"*\" defined twice for backend=%s",
                           db->backend == BACKEND_MYSQL ? "mysql" : "postgres");
                return false;
            }
        }
    }
    if ((!db->dbname && !(db->dbname = strdup(name))) ||
        (!db->host && !(db->host = strdup("127.0.0.1"))))
        return false;
    if (db->password && !db->user) {
        conf_error(ctx, "database \"%s\": password= needs user=", name);
        return false;
    }
    int default_port = db->backend == BACKEND_MYSQL ? 3306 : 5432;
    if (hostlist_parse(db->host, db->ports, default_port, &db->hosts, &db->nhosts, reason,
                       sizeof(reason)) != WR_OK) {
        if (!strcmp(reason, "out of memory"))
            return false;
        conf_error(ctx, "database \"%s\": host=%s: %s", name, db->host, reason);
        return false;
    }
    return true;
}

static bool user_pair(void *arg, const char *k, const char *v)
{
    struct entry_parse *ep = arg;
    struct user_entry *u = ep->entry;
    long n;
    if (!strcmp(k, "pool_mode")) {
        if ((u->pool_mode = conf_parse_pool_mode(v)) < 0)
            goto bad;
    } else if (!strcmp(k, "pool_size")) {
        if (!conf_parse_int(v, 1, 100000, &n))
            goto bad;
        u->pool_size = (int)n;
    } else if (!strcmp(k, "max_user_connections")) {
        if (!conf_parse_int(v, 0, 1000000, &n))
            goto bad;
        u->max_user_connections = (int)n;
    } else {
        char hint[96];
        snprintf(ep->err, ep->errlen, "unknown key \"%.64s\" for user \"%.64s\"%s", k, u->name,
                 suggest_text(suggest_of(k, user_keys), hint, sizeof(hint)));
        return false;
    }
    return true;
bad:
    snprintf(ep->err, ep->errlen, "bad settings for user \"%.64s\": invalid value \"%.64s\" for %s",
             u->name, v, k);
    return false;
}

bool entries_add_user(struct parse_ctx *ctx, const char *name, const char *value)
{
    struct config *cfg = ctx->cfg;
    struct user_entry *us = realloc(cfg->users, sizeof(*us) * (cfg->nusers + 1));
    if (!us)
        return false;
    cfg->users = us;
    struct user_entry *u = &us[cfg->nusers];
    if (!(u->name = strdup(name)))
        return false;
    cfg->nusers++;
    u->pool_mode = -1;
    u->pool_size = -1;
    u->max_user_connections = -1;
    char reason[256];
    struct entry_parse ep = {u, reason, sizeof(reason), false};
    snprintf(reason, sizeof(reason), "bad settings for user \"%.64s\"", name);
    if (!parse_connstr(value, user_pair, &ep)) {
        conf_error(ctx, "%s", reason);
        return false;
    }
    return true;
}

void entries_finish(struct config *cfg)
{
    for (int i = 0; i < cfg->ndbs; i++) {
        struct db_entry *db = &cfg->dbs[i];
        if (db->backend == BACKEND_MYSQL && !db->port_set)
            db->port = 3306;
    }
}

static bool dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

bool entries_copy_db(struct db_entry *d, const struct db_entry *s)
{
    *d = *s;
    d->name = d->host = d->dbname = d->user = d->password = d->ports = NULL;
    d->auth_user = d->auth_dbname = NULL;
    d->hosts = NULL;
    d->nhosts = 0;
    if (!(dup_str(&d->name, s->name) && dup_str(&d->host, s->host) &&
          dup_str(&d->dbname, s->dbname) && dup_str(&d->user, s->user) &&
          dup_str(&d->password, s->password) && dup_str(&d->ports, s->ports) &&
          dup_str(&d->auth_user, s->auth_user) && dup_str(&d->auth_dbname, s->auth_dbname)))
        return false;
    if (s->nhosts && !(d->hosts = hostlist_dup(s->hosts, s->nhosts)))
        return false;
    d->nhosts = s->nhosts;
    return true;
}

bool entries_dup(struct config *cfg, const struct config *src)
{
    if (src->ndbs && !(cfg->dbs = calloc(src->ndbs, sizeof(*cfg->dbs))))
        return false;
    for (int i = 0; i < src->ndbs; i++) {
        cfg->ndbs++;
        if (!entries_copy_db(&cfg->dbs[i], &src->dbs[i]))
            return false;
    }
    if (src->nusers && !(cfg->users = calloc(src->nusers, sizeof(*cfg->users))))
        return false;
    for (int i = 0; i < src->nusers; i++) {
        cfg->users[i] = src->users[i];
        cfg->users[i].name = NULL;
        cfg->nusers++;
        if (!dup_str(&cfg->users[i].name, src->users[i].name))
            return false;
    }
    return true;
}

void entries_free_db(struct db_entry *db)
{
    free(db->name);
    free(db->host);
    free(db->dbname);
    free(db->user);
    free(db->password);
    free(db->ports);
    free(db->auth_user);
    free(db->auth_dbname);
    hostlist_free(db->hosts, db->nhosts);
}

void entries_free(struct config *cfg)
{
    for (int i = 0; i < cfg->ndbs; i++)
        entries_free_db(&cfg->dbs[i]);
    for (int i = 0; i < cfg->nusers; i++)
        free(cfg->users[i].name);
    free(cfg->dbs);
    free(cfg->users);
}

bool conf_connstr(const char *s, bool (*fn)(void *arg, const char *k, const char *v), void *arg)
{
    return parse_connstr(s, fn, arg);
}
