/*
 * dispatch.c -- the daemon's switchboard: the only file that knows every
 * layer, so the layers below it include only what lies under them. It fills
 * core/'s worker hooks (inbox messages, sweeps, accepted connections, exit)
 * and pool/'s server hooks (handoff to sessions, the console's wake-ups).
 */
#include "pooler/dispatch.h"

#include "pooler/admin/admin.h"
#include "pooler/admin/metrics.h"
#include "pooler/core/iplimit.h"
#include "pooler/core/worker.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/session/client.h"
#include "pooler/session/ps.h"

static void handle_msg(struct worker *w, struct msg *m)
{
    struct pool_step st;
    switch (m->kind) {
    case MSG_SERVER:
        server_adopt(w, m->server, m->waiter);
        break;
    case MSG_ERROR:
        server_hooks.wait_failed(m->waiter, m->sqlstate, m->text);
        break;
    case MSG_DISPATCH:
        pool_dispatch(m->pool, w, &st);
        server_apply_step(w, m->pool, &st);
        break;
    case MSG_CANCEL:
        client_cancel_request(w, m->pid, m->key);
        break;
    case MSG_KILL:
        client_kill_request(w, m);
        break;
    case MSG_KILL_DONE:
        client_kill_reply(w, m);
        break;
    case MSG_AUTH_LOOKUP:
        client_lookup_reply(w, m);
        break;
    case MSG_CANCEL_DONE:
        server_cancel_done(m);
        break;
    case MSG_ADMIN:
        admin_job_run(w, m->job);
        break;
    case MSG_ADMIN_DONE:
        admin_job_done(w, m->job);
        break;
    case MSG_ADMIN_CHECK:
        admin_wait_check(w, m->job);
        break;
    case MSG_DNS:
        server_dns_answered(w);
        break;
    case MSG_LISTEN_STOP: /* handled by core/worker.c */
    case MSG_STOP:
        break;
    }
}

static void sweep(struct worker *w, ev_tstamp now)
{
    client_sweep(w, now);
    server_sweep(w, now);
    pools_sweep(w);
    metrics_sweep(w, now);
    if (w->id == 0) {
        stats_period_tick(now);
        iplimit_sweep(now);
    }
}

static void stopped(struct worker *w)
{
    metrics_close_all(w);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
        client_free_at_exit(list_entry(pos, struct client, wnode));
    list_for_each_safe(pos, tmp, &w->servers)
        server_free_at_exit(list_entry(pos, struct server, wnode));
    ps_worker_stopped();
}

/* Messages nobody read at exit: servers in transit are closed, the rest is dropped. */
static void unread(struct msg *m)
{
    if (m->kind == MSG_SERVER)
        server_free_at_exit(m->server);
}

static void accept_conn(struct worker *w, int fd, enum backend_kind kind, bool metrics,
                        const struct sockaddr *sa, socklen_t salen)
{
    if (metrics)
        metrics_accept(w, fd);
    else if (kind == BACKEND_MYSQL)
        client_my_accept(w, fd, sa, salen);
    else
        client_accept(w, fd, sa, salen);
}

int dispatch_init(void)
{
    worker_hooks = (struct worker_hooks){
        .msg = handle_msg,
        .sweep = sweep,
        .stopped = stopped,
        .unread = unread,
        .accept = accept_conn,
    };
    session_hooks_fill(&server_hooks);
    server_hooks.gone = admin_notify;
    admin_hooks_fill(&console_hooks);
    iplimit_init();
    return stats_init(weir.cfg->workers);
}

void dispatch_free_all(void)
{
    admin_free_all(); /* console jobs the stop interrupted (their messages were dropped) */
    stats_free();
    iplimit_free_all();
}
