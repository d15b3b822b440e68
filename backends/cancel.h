/*
 * cancel.h -- the cancel queue the connectors share: a job runs one blocking
 * cancel request on one of a few reusable threads, in the order asked for.
 * Private to backends/; the pooler sees only backend.h.
 */
#ifndef WEIR_BACKEND_CANCEL_H
#define WEIR_BACKEND_CANCEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * One cancel request. A connector embeds this in its own job (copies of what
 * the request needs, never a pointer into the live connection, which may be
 * closed while the job waits) and fills run, release, done and arg.
 */
struct cancel_job {
    struct cancel_job *next;
    /* Sends the request, blocking; true once the server has taken it, else err says why. */
    bool (*run)(struct cancel_job *job, char *err, size_t errlen);
    /* Frees the job (and wipes any secret in it). */
    void (*release)(struct cancel_job *job);
    /* The caller's callback: err NULL when sent; ms from submit to the end. */
    void (*done)(void *arg, const char *err, int ms);
    void *arg;
    double queued_at; /* set by cancel_submit */
};

/*
 * Queues job; a queue thread runs it and then calls done (exactly once) and
 * release. Returns false, with err set and nothing called, only when the job
 * cannot be queued: weir is shutting down, or not one thread can be started.
 * The caller then still owns job.
 */
bool cancel_submit(struct cancel_job *job, char *err, size_t errlen);

#endif
