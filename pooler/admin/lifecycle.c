/*
 * lifecycle.c -- reload, run-time SET and shutdown, for signals and the admin
 * console alike, and the main thread's loop that carries them out.
 *
 * A reload builds a whole new struct config (and userlist), publishes it with
 * one pointer store, and tells the pools (pools_reconfigure). The old ones
 * are kept until exit: clients and pools still point into them, and a few
 * kilobytes per reload is cheaper than reference counts on the hot path.
 *
 * Shutdown: SIGTERM (or SHUTDOWN WAIT_FOR_CLIENTS) closes the listening
 * sockets -- after accepting what is already queued, so a successor process
 * on the same port (SO_REUSEPORT) takes every new connection -- and exits
 * once no pooled client is left. SIGINT does the same but exits once no
 * server is linked to a client; pool balancing pauses meanwhile, so clients
 * only wait. SIGQUIT, a second SIGTERM or SIGINT, and console SHUTDOWN exit
 * at once.
 */
#include "pooler/admin/lifecycle.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/config.h"
#include "pooler/core/log.h"
#include "pooler/core/notify.h"
#include "pooler/core/tls.h"
#include "pooler/pool/pool.h"
#include "pooler/conf/userlist.h"
#include "pooler/core/worker.h"

#define SHUTDOWN_CHECK_INTERVAL 0.1

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

struct retired {
    struct retired *next;
    struct config *cfg;
    struct userlist *users;
};
static struct retired *retired_list; /* [reload_lock] */

static struct ev_loop *_Atomic main_loop; /* set while lifecycle_run runs */
static ev_async shutdown_async;
static ev_timer shutdown_check;
static ev_signal signals[4];

/* The [weir] keys config_each marks as taking effect only at start, with their values. */
#define START_KEYS_MAX 16
struct start_values {
    const char *key[START_KEYS_MAX];
    char value[START_KEYS_MAX][256];
    int n;
};

static void collect_start(void *arg, const char *key, const char *value, bool reloadable)
{
    struct start_values *sv = arg;
    if (reloadable || sv->n == START_KEYS_MAX)
        return;
    sv->key[sv->n] = key;
    snprintf(sv->value[sv->n], sizeof(sv->value[0]), "%s", value);
    sv->n++;
}

/* Settings that only take effect at start: keep the running value, say so. */
static void keep_start_settings(struct config *next, const struct config *cur)
{
    struct start_values was = {.n = 0}, now = {.n = 0};
    config_each(cur, collect_start, &was);
    config_each(next, collect_start, &now);
    for (int i = 0; i < was.n && i < now.n; i++) {
        if (!strcmp(was.value[i], now.value[i]))
            continue;
        log_warning("reload: %s changes only at restart; keeping %s", was.key[i], was.value[i]);
        char err[256];
        if (config_set(next, was.key[i], was.value[i], err, sizeof(err)) != WR_OK)
            log_warning("reload: cannot keep %s: %s", was.key[i], err);
    }
}

int lifecycle_tls_configure(const struct config *cfg, char *err, size_t errlen)
{
    struct tls_opts o = {
        .mode = cfg->client_tls_sslmode,
        .key_file = cfg->client_tls_key_file,
        .cert_file = cfg->client_tls_cert_file,
        .ca_file = cfg->client_tls_ca_file,
        .protocols = cfg->client_tls_protocols,
        .ciphers = cfg->client_tls_ciphers,
    };
    int lo, hi;
    if (!tls_protocols_parse(cfg->server_tls_protocols, &lo, &hi)) {
        snprintf(err, errlen, "server_tls_protocols: unknown value \"%s\"",
                 cfg->server_tls_protocols);
        return WR_ERROR;
    }
    return tls_accept_configure(&o, err, errlen);
}

/* Servers logged in with other server_tls_* settings are replaced as they are released. */
static void server_tls_follow(const struct config *cur, const struct config *next)
{
    if (config_same_server_tls(cur, next))
        return;
    log_info("reload: server_tls_* changed: servers are replaced as they are released");
    for (int i = 0; i < next->ndbs; i++)
        pool_db_reconnect(next->dbs[i].name);
}

/*
 * Publishes next (and next_users unless NULL), keeping the old ones alive.
 * Called with reload_lock held.
 */
static int publish(struct config *next, struct userlist *next_users)
{
    struct retired *old = calloc(1, sizeof(*old));
    if (!old)
        return WR_ERROR;
    const struct config *cur = weir.cfg;
    keep_start_settings(next, cur);
    old->cfg = (struct config *)cur;
    if (next_users)
        old->users = atomic_exchange(&weir.users, next_users);
    weir.cfg = next;
    old->next = retired_list;
    retired_list = old;
    if ((next->logfile == NULL) != (cur->logfile == NULL) ||
        (next->logfile && strcmp(next->logfile, cur->logfile)))
        if (log_open_file(next->logfile) != 0)
            log_warning("cannot open logfile %s", next->logfile);
    pools_reconfigure(next);
    server_tls_follow(cur, next);
    return WR_OK;
}

int weir_reload(char *err, size_t errlen)
{
    pthread_mutex_lock(&reload_lock);
    struct config *next = NULL;
    struct userlist *users = NULL;
    char why[512];
    if (config_load(weir.cfg->path, &next, why, sizeof(why)) != WR_OK) {
        snprintf(err, errlen, "%s", why);
        goto failed;
    }
    lifecycle_log_notes(next);
    if (next->auth_file && userlist_load(next->auth_file, &users, why, sizeof(why)) != WR_OK) {
        snprintf(err, errlen, "auth_file: %s", why);
        goto failed;
    }
    /* Certificates are read again on every reload; a refused one keeps the running ones. */
    if (lifecycle_tls_configure(next, why, sizeof(why)) != WR_OK) {
        snprintf(err, errlen, "TLS: %s", why);
        goto failed;
    }
    /* Without an auth_file (auth_type trust) the old list stays: nothing reads it. */
    if (publish(next, users) != WR_OK) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    pthread_mutex_unlock(&reload_lock);
    log_info("configuration reloaded from %s (%d databases)", next->path, next->ndbs);
    return WR_OK;
failed:
    pthread_mutex_unlock(&reload_lock);
    userlist_free(users);
    config_free(next);
    log_warning("reload refused, the running configuration stays: %s", err);
    return WR_ERROR;
}

struct key_query {
    const char *key;
    bool start_only;
};

static void find_start_only(void *arg, const char *key, const char *value, bool reloadable)
{
    struct key_query *q = arg;
    if (!reloadable && !strcmp(key, q->key))
        q->start_only = true;
}

/* Keys SET may not change: those that take effect only at start, and auth_file (RELOAD reads it).
 */
static bool start_only(const char *key)
{
    /* the files are read on RELOAD (a SET of anything else keeps what was read) */
    struct key_query q = {key, !strcmp(key, "auth_file") || !strcmp(key, "auth_hba_file")};
    config_each(weir.cfg, find_start_only, &q);
    return q.start_only;
}

int weir_set(const char *key, const char *value, char *err, size_t errlen)
{
    if (start_only(key)) {
        snprintf(err, errlen, "%s cannot be changed while running (edit the file; %s)", key,
                 strcmp(key, "auth_file") && strcmp(key, "auth_hba_file") ? "restart" : "RELOAD");
        return WR_ERROR;
    }
    pthread_mutex_lock(&reload_lock);
    struct config *next = config_dup(weir.cfg);
    if (!next) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }
    if (config_set(next, key, value, err, errlen) != WR_OK || publish(next, NULL) != WR_OK)
        goto failed;
    pthread_mutex_unlock(&reload_lock);
    log_info("SET %s = %s", key, value);
    return WR_OK;
failed:
    pthread_mutex_unlock(&reload_lock);
    config_free(next);
    return WR_ERROR;
}

void weir_shutdown(enum shutdown_mode mode)
{
    int cur = atomic_load(&weir.shutdown);
    while ((int)mode > cur && !atomic_compare_exchange_weak(&weir.shutdown, &cur, (int)mode))
        ;
    struct ev_loop *loop = main_loop;
    if ((int)mode > cur && loop)
        ev_async_send(loop, &shutdown_async);
}

enum shutdown_mode weir_shutdown_mode(void)
{
    return atomic_load_explicit(&weir.shutdown, memory_order_relaxed);
}

/* ---- the main thread's loop ---- */

static void check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    enum shutdown_mode m = weir_shutdown_mode();
    if (m == SHUTDOWN_NOW ||
        (m == SHUTDOWN_WAIT_CLIENTS &&
         atomic_load(&weir.nclients) - atomic_load(&weir.nconsole) == 0) ||
        (m == SHUTDOWN_WAIT_SERVERS && pools_busy_servers() == 0))
        ev_break(loop, EVBREAK_ALL);
}

static void shutdown_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    enum shutdown_mode m = weir_shutdown_mode();
    if (m == SHUTDOWN_NOW) {
        notify_stopping();
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (ev_is_active(&shutdown_check))
        return; /* already draining; check_cb follows the stronger mode */
    notify_stopping();
    log_info("shutting down: no new connections; exiting when every %s",
             m == SHUTDOWN_WAIT_CLIENTS ? "client has left" : "server is released");
    for (int i = 0; i < weir.nworkers; i++)
        worker_post(&weir.workers[i], msg_new(MSG_LISTEN_STOP));
    ev_timer_start(loop, &shutdown_check);
}

static void signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    char err[512];
    switch (sig->signum) {
    case SIGHUP:
        log_info("SIGHUP: reloading the configuration");
        if (log_reopen() != 0) /* log rotation */
            log_warning("cannot reopen logfile %s", weir.cfg->logfile);
        notify_reloading();
        if (weir_reload(err, sizeof(err)) != WR_OK)
            notify_status("reload refused: %s", err);
        notify_ready();
        return;
    case SIGTERM:
    case SIGINT: {
        enum shutdown_mode want =
            sig->signum == SIGTERM ? SHUTDOWN_WAIT_CLIENTS : SHUTDOWN_WAIT_SERVERS;
        /* The same signal again means: now. */
        enum shutdown_mode cur = weir_shutdown_mode();
        if (cur == want) {
            log_info("%s again: exiting now", strsignal(sig->signum));
            want = SHUTDOWN_NOW;
        } else {
            log_info("%s received", strsignal(sig->signum));
        }
        weir_shutdown(want);
        return;
    }
    default:
        log_info("%s received: exiting now", strsignal(sig->signum));
        weir_shutdown(SHUTDOWN_NOW);
        return;
    }
}

void lifecycle_run(struct ev_loop *loop)
{
    main_loop = loop;
    ev_async_init(&shutdown_async, shutdown_cb);
    ev_async_start(loop, &shutdown_async);
    ev_timer_init(&shutdown_check, check_cb, SHUTDOWN_CHECK_INTERVAL, SHUTDOWN_CHECK_INTERVAL);
    int signums[4] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
    for (int i = 0; i < 4; i++) {
        ev_signal_init(&signals[i], signal_cb, signums[i]);
        ev_signal_start(loop, &signals[i]);
    }
    /* A SHUTDOWN that came before the loop existed. */
    if (weir_shutdown_mode() != SHUTDOWN_NONE)
        ev_async_send(loop, &shutdown_async);
    ev_run(loop, 0);
    for (int i = 0; i < 4; i++)
        ev_signal_stop(loop, &signals[i]);
    ev_timer_stop(loop, &shutdown_check);
    ev_async_stop(loop, &shutdown_async);
    main_loop = NULL;
}

void lifecycle_free_all(void)
{
    pthread_mutex_lock(&reload_lock);
    while (retired_list) {
        struct retired *r = retired_list;
        retired_list = r->next;
        config_free(r->cfg);
        userlist_free(r->users);
        free(r);
    }
    pthread_mutex_unlock(&reload_lock);
}

void lifecycle_log_notes(const struct config *cfg)
{
    for (const char *p = cfg->notes; p && *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        log_warning("%.*s", len, p);
        p += len + (nl != NULL);
    }
}
