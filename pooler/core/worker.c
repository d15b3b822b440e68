/*
 * worker.c -- worker threads, each with its own libev loop, an inbox for
 * cross-thread work (mutex-protected list + ev_async, libev's pattern) and
 * a sweep timer that checks timeouts coarsely instead of one timer per
 * connection.
 */
#include "pooler/core/worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/core/listener.h"
#include "pooler/core/log.h"

#define SWEEP_INTERVAL 0.25 /* seconds; the granularity of every timeout */

struct daemon weir;
struct worker_hooks worker_hooks;

uint64_t weir_next_id(void)
{
    return atomic_fetch_add(&weir.next_id, 1) + 1;
}

struct msg *msg_new(enum msg_kind kind)
{
    struct msg *m = calloc(1, sizeof(*m));
    if (!m) {
        log_error("out of memory posting a message between workers");
        abort();
    }
    m->kind = kind;
    return m;
}

void worker_post(struct worker *to, struct msg *m)
{
    m->next = NULL;
    pthread_mutex_lock(&to->inbox_lock);
    if (to->inbox_tail)
        to->inbox_tail->next = m;
    else
        to->inbox_head = m;
    to->inbox_tail = m;
    pthread_mutex_unlock(&to->inbox_lock);
    ev_async_send(to->loop, &to->wake);
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    struct worker *w = ev_userdata(loop);
    pthread_mutex_lock(&w->inbox_lock);
    struct msg *m = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    while (m) {
        struct msg *next = m->next;
        if (m->kind == MSG_STOP)
            ev_break(w->loop, EVBREAK_ALL);
        else if (m->kind == MSG_LISTEN_STOP)
            listener_drain_close(w);
        else
            worker_hooks.msg(w, m);
        free(m);
        m = next;
    }
}

static void sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = ev_userdata(loop);
    ev_tstamp now = ev_now(loop);
    worker_hooks.sweep(w, now);
    buf_pool_trim(&w->bufs);
    listener_resume(w);
}

int workers_init(char *err, size_t errlen)
{
    int n = weir.cfg->workers;
    weir.workers = calloc(n, sizeof(*weir.workers));
    if (!weir.workers) {
        snprintf(err, errlen, "out of memory");
        return WR_ERROR;
    }
    weir.nworkers = n;
    for (int i = 0; i < n; i++) {
        struct worker *w = &weir.workers[i];
        w->id = i;
        w->loop = ev_loop_new(EVFLAG_NOENV | EVFLAG_NOSIGMASK);
        if (!w->loop) {
            snprintf(err, errlen, "cannot create event loop");
            return WR_ERROR;
        }
        ev_set_userdata(w->loop, w);
        pthread_mutex_init(&w->inbox_lock, NULL);
        ev_async_init(&w->wake, wake_cb);
        ev_async_start(w->loop, &w->wake);
        ev_timer_init(&w->sweep, sweep_cb, SWEEP_INTERVAL, SWEEP_INTERVAL);
        ev_timer_start(w->loop, &w->sweep);
        /* The sweep alone must not keep a loop alive, nor must the async watcher. */
        buf_pool_init(&w->bufs);
        slab_init(&w->client_slab);
        list_init(&w->clients);
        list_init(&w->servers);
        list_init(&w->scrapes);
        if (listener_open(w, err, errlen) != WR_OK)
            return WR_ERROR;
    }
    return WR_OK;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    listener_start(w);
    ev_run(w->loop, 0);
    /* Stopped: close what this worker owns. */
    listener_close(w);
    worker_hooks.stopped(w);
    return NULL;
}

int workers_start(void)
{
    for (int i = 0; i < weir.nworkers; i++) {
        if (pthread_create(&weir.workers[i].thread, NULL, worker_main, &weir.workers[i]) != 0) {
            log_error("cannot start worker thread %d", i);
            return WR_ERROR;
        }
    }
    return WR_OK;
}

void workers_stop(void)
{
    /*
     * Cancel requests post back to workers: let the queue empty first (bounded),
     * then close it so nothing posts to a worker that is gone.
     */
    int dropped = 0;
    int left = backend_cancels_stop(3.0, &dropped);
    if (dropped > 0 || left > 0)
        log_warning("shutdown: %d cancel requests not sent, %d still being sent are abandoned",
                    dropped, left);
    for (int i = 0; i < weir.nworkers; i++)
        worker_post(&weir.workers[i], msg_new(MSG_STOP));
    for (int i = 0; i < weir.nworkers; i++)
        pthread_join(weir.workers[i].thread, NULL);
    /* Messages nobody read: servers in transit are closed, the rest is dropped. */
    for (int i = 0; i < weir.nworkers; i++) {
        struct worker *w = &weir.workers[i];
        struct msg *m = w->inbox_head;
        while (m) {
            struct msg *next = m->next;
            worker_hooks.unread(m);
            free(m);
            m = next;
        }
        w->inbox_head = w->inbox_tail = NULL;
    }
    for (int i = 0; i < weir.nworkers; i++) {
        struct worker *w = &weir.workers[i];
        buf_pool_destroy(&w->bufs);
        slab_destroy(&w->client_slab);
        ev_async_stop(w->loop, &w->wake);
        ev_timer_stop(w->loop, &w->sweep);
        ev_loop_destroy(w->loop);
        pthread_mutex_destroy(&w->inbox_lock);
    }
    free(weir.workers);
    weir.workers = NULL;
    weir.nworkers = 0;
}
