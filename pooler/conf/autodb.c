/*
 * autodb.c -- the catch-all "*" entry of [databases] (PgBouncer's fallback):
 * a database no entry names is served with the "*" entry of the client's
 * backend kind, as if the file had "name = <the * settings> dbname=name".
 *
 * The made entries live with the configuration that made them, like the
 * file's own entries: pools and clients point at them, and a configuration is
 * kept until shutdown once a reload replaced it (admin/lifecycle.c). Each is
 * made once per name and stays; at most AUTODB_MAX per configuration, so a
 * client trying names cannot grow weir without bound. A reload makes them
 * anew from the new "*" entry as pools ask (pools_reconfigure compares).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/config_int.h"

struct autodbs {
    struct db_entry **v; /* one allocation each: pointers stay valid as v grows */
    int n, cap;
};

/* Guards every configuration's autodbs: taken once per login that asks for an unlisted name. */
static pthread_mutex_t autodb_lock = PTHREAD_MUTEX_INITIALIZER;

bool config_db_is_wildcard(const struct db_entry *db)
{
    return !strcmp(db->name, "*");
}

static const struct db_entry *wildcard_of(const struct config *cfg, enum backend_kind kind)
{
    for (int i = 0; i < cfg->ndbs; i++)
        if (config_db_is_wildcard(&cfg->dbs[i]) && cfg->dbs[i].backend == kind)
            return &cfg->dbs[i];
    return NULL;
}

/* Called with autodb_lock held: a copy of star named `name`, kept in a, or NULL. */
static const struct db_entry *autodb_make(struct autodbs *a, const struct db_entry *star,
                                          const char *name)
{
    if (a->n == AUTODB_MAX)
        return NULL;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        struct db_entry **v = realloc(a->v, sizeof(*v) * cap);
        if (!v)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    struct db_entry *db = calloc(1, sizeof(*db));
    if (!db)
        return NULL;
    bool ok = entries_copy_db(db, star);
    free(db->name);
    free(db->dbname);
    db->name = strdup(name);
    db->dbname = strdup(name);
    if (!ok || !db->name || !db->dbname) {
        entries_free_db(db);
        free(db);
        return NULL;
    }
    a->v[a->n++] = db;
    return db;
}

const struct db_entry *config_find_db_for(const struct config *cfg, const char *name,
                                          enum backend_kind kind)
{
    if (!strcmp(name, "*"))
        return NULL;
    const struct db_entry *db = config_find_db(cfg, name);
    if (db)
        return db;
    const struct db_entry *star = wildcard_of(cfg, kind);
    if (!star || !name[0])
        return NULL;
    pthread_mutex_lock(&autodb_lock);
    /* The holder belongs to cfg, made on first use: the only field written after loading. */
    struct autodbs *a = cfg->autodbs;
    if (!a && (a = calloc(1, sizeof(*a))))
        ((struct config *)cfg)->autodbs = a;
    if (a) {
        for (int i = 0; i < a->n; i++) {
            if (a->v[i]->backend == kind && !strcmp(a->v[i]->name, name)) {
                db = a->v[i];
                break;
            }
        }
        if (!db)
            db = autodb_make(a, star, name);
    }
    pthread_mutex_unlock(&autodb_lock);
    return db;
}

void autodb_free(struct config *cfg)
{
    struct autodbs *a = cfg->autodbs;
    if (!a)
        return;
    for (int i = 0; i < a->n; i++) {
        entries_free_db(a->v[i]);
        free(a->v[i]);
    }
    free(a->v);
    free(a);
    cfg->autodbs = NULL;
}
