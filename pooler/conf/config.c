/*
 * config.c -- a loaded configuration: the rules across keys (config_check),
 * copies for run-time changes, freeing, and the lookups the pools use (an
 * entry by name, the effective limits of a database and user).
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/config_int.h"
#include "pooler/conf/hba.h"

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

int config_check(struct config *cfg, char *err, size_t errlen)
{
    if (cfg->auth_type != AUTH_TRUST && cfg->auth_type != AUTH_CERT && !cfg->auth_file) {
        snprintf(err, errlen, "%s: auth_type needs an auth_file", cfg->path);
        return WR_ERROR;
    }
    /* Read once per loaded file: a copy made for a SET shares what its original read. */
    if (cfg->auth_type == AUTH_HBA && !cfg->hba) {
        if (!cfg->auth_hba_file || !cfg->auth_hba_file[0]) {
            snprintf(err, errlen, "%s: auth_type = hba needs an auth_hba_file", cfg->path);
            return WR_ERROR;
        }
        char *p = resolve_path(cfg->path, cfg->auth_hba_file);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return WR_ERROR;
        }
        free(cfg->auth_hba_file);
        cfg->auth_hba_file = p;
        char why[300];
        if (hba_load(p, &cfg->hba, why, sizeof(why)) != WR_OK) {
            snprintf(err, errlen, "auth_hba_file %s", why);
            return WR_ERROR;
        }
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
    char why[160];
    if (netlist_parse(cfg->proxy_protocol_networks, &cfg->proxy_nets, why, sizeof(why)) != WR_OK) {
        snprintf(err, errlen, "%s: proxy_protocol_networks: %s", cfg->path, why);
        return WR_ERROR;
    }
    if (cfg->peer_id > 0 && cfg->workers > PEER_MAX_WORKERS) {
        /* A peer's cancel keys carry the worker in 6 bits (session/client.c). */
        snprintf(err, errlen, "%s: with peer_id set, workers can be at most %d", cfg->path,
                 PEER_MAX_WORKERS);
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

struct config *config_dup(const struct config *src)
{
    struct config *cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return NULL;
    *cfg = *src;
    /* Own nothing yet, so config_free of a half-made copy frees only what was copied. */
    cfg->path = cfg->notes = NULL;
    cfg->dbs = NULL;
    cfg->autodbs = NULL;
    cfg->users = NULL;
    cfg->ndbs = cfg->nusers = 0;
    cfg->peers = NULL;
    cfg->npeers = 0;
    cfg->hba = hba_ref(src->hba);
    bool ok = keys_dup(cfg, src);
    ok = ok && (cfg->path = strdup(src->path)) != NULL;
    ok = ok && (!src->notes || (cfg->notes = strdup(src->notes)) != NULL);
    ok = ok && entries_dup(cfg, src);
    ok = ok && peers_dup(cfg, src);
    if (!ok) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    autodb_free(cfg);
    entries_free(cfg);
    peers_free(cfg);
    keys_free(cfg);
    hba_unref(cfg->hba);
    free(cfg->path);
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

enum tls_mode config_server_tls_mode(const struct config *cfg, const struct db_entry *db)
{
    return db && db->server_tls_sslmode >= 0 ? (enum tls_mode)db->server_tls_sslmode
                                             : (enum tls_mode)cfg->server_tls_sslmode;
}

const char *config_auth_user(const struct config *cfg, const struct db_entry *db)
{
    const char *u = db && db->auth_user ? db->auth_user : cfg->auth_user;
    return u && u[0] ? u : NULL;
}

const char *config_auth_dbname(const struct config *cfg, const struct db_entry *db)
{
    const char *n = db && db->auth_dbname ? db->auth_dbname : cfg->auth_dbname;
    return n && n[0] ? n : NULL;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

bool config_same_server_tls(const struct config *a, const struct config *b)
{
    return a->server_tls_sslmode == b->server_tls_sslmode &&
           same_text(a->server_tls_ca_file, b->server_tls_ca_file) &&
           same_text(a->server_tls_key_file, b->server_tls_key_file) &&
           same_text(a->server_tls_cert_file, b->server_tls_cert_file) &&
           same_text(a->server_tls_protocols, b->server_tls_protocols) &&
           same_text(a->server_tls_ciphers, b->server_tls_ciphers);
}
