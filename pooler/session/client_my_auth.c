/*
 * client_my_auth.c -- MySQL users the auth file does not know, looked up on
 * the server: with auth_user set, a client's mysql_native_password token is
 * checked against what mysql_auth_query returns for its name (the hashes in
 * mysql.user), run as auth_user on the first host of the client's entry (or
 * of mysql_default_database's, for a login without a database).
 *
 * The lookup (auth_lookup.c) is blocking work, a Connector/C login and a
 * query on the cancel queue's threads; the client waits in its login state.
 * A good token also yields SHA1(password): the pool's logins pass through
 * (server_login.c), so the password lives on the server only.
 *
 * Answers are kept auth_query_cache_seconds (default 30; auth_lookup.c).
 * A token that does not match what is kept looks the user up again once, so
 * a new password works at once; an old one keeps working in weir until the
 * entry expires, but the server, which has the new hash, refuses the pass-
 * through login.
 */
#include "pooler/session/client_my_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend.h"
#include "pooler/conf/userlist.h"
#include "pooler/core/log.h"
#include "pooler/core/worker.h"
#include "pooler/pool/server.h"
#include "protocol/mysql/my_auth.h"

/* Is the token good for one of the hashes in rows (one per line)? Sets the auth state's stage1. */
static bool check_rows(struct my_auth_state *as, const char *rows)
{
    const char *p = rows;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char hash[MY_NATIVE_HASH_LEN + 1];
        struct my_native_secret ns;
        if (n == MY_NATIVE_HASH_LEN) {
            memcpy(hash, p, n);
            hash[n] = 0;
            if (my_native_secret_parse(hash, &ns) == WR_OK &&
                my_native_check_stage1(&ns, as->scramble, as->token, as->token_len, as->stage1,
                                       &as->has_stage1))
                return true;
        }
        p += n + (nl != NULL);
    }
    return false;
}

/* The entry whose server the user is looked up on: the client's, or the default one. */
static const struct db_entry *lookup_entry(const struct client *c)
{
    if (c->db)
        return c->db;
    const char *def = weir.cfg->mysql_default_database;
    return def && def[0] ? config_find_db_for(weir.cfg, def, BACKEND_MYSQL) : NULL;
}

/* Queues the lookup of c's user on db's first host. False when it cannot (logged). */
static bool lookup_start(struct client *c, const struct db_entry *db, const char *key)
{
    const struct config *cfg = weir.cfg;
    const char *auth_user = config_auth_user(cfg, db);
    const char *pw = userlist_secret(weir.users, auth_user);
    struct backend_params bp = {
        .host = db->hosts[0].name,
        .port = db->hosts[0].port,
        .user = auth_user,
        .password = pw && pw[0] != '*' ? pw : NULL,
    };
    server_tls_params(cfg, db, &bp);
    return auth_lookup_start(c, &backend_mysql_ops, &bp, cfg->mysql_auth_query, key);
}

enum my_verify client_my_verify(struct client *c, const uint8_t *token, size_t len)
{
    const struct config *cfg = weir.cfg;
    struct my_auth_state *as = c->auth;
    if (cfg->auth_type == AUTH_TRUST || userlist_secret(weir.users, c->user) ||
        !config_auth_user(cfg, lookup_entry(c)) || !cfg->mysql_auth_query ||
        !cfg->mysql_auth_query[0] || !as)
        return client_my_check_token(c, token, len) ? MY_VERIFY_OK : MY_VERIFY_DENIED;
    const struct db_entry *db = lookup_entry(c);
    if (!db || db->nhosts < 1 || len > sizeof(as->token)) {
        if (!db)
            log_client(c, LOG_LVL_INFO,
                       "user %s is not in the auth file, and a login without a database has no "
                       "server to look it up on (mysql_default_database)",
                       c->user);
        return MY_VERIFY_DENIED;
    }
    memcpy(as->token, token, len);
    as->token_len = (uint8_t)len;
    char key[300], rows[BACKEND_LOOKUP_MAX + 1];
    auth_lookup_key(db, config_auth_user(weir.cfg, db), c->user, key, sizeof(key));
    if (auth_lookup_cached(key, rows, sizeof(rows))) {
        if (check_rows(as, rows))
            return MY_VERIFY_OK;
        /* a password changed since? Ask the server once more. */
    }
    if (!lookup_start(c, db, key))
        return MY_VERIFY_DENIED;
    as->waiting = true;
    return MY_VERIFY_WAIT;
}

void client_my_lookup_reply(struct client *c, const struct msg *m)
{
    struct my_auth_state *as = c->auth;
    if (!as || !as->waiting)
        return; /* gone meanwhile (closed, timed out) */
    as->waiting = false;
    if (m->arg) {
        log_client(c, LOG_LVL_WARNING, "looking user %s up failed: %s", c->user, m->text);
    } else if (check_rows(as, m->text)) {
        client_my_authenticated(c);
        return;
    }
    client_auth_failed(c);
    client_fail(c, "28000", "Access denied for user '%s'", c->user);
}
