/*
 * cancel.c -- the cancel queue: a few reusable threads run the connectors'
 * blocking cancel requests (libpq 15's PQcancel, a MariaDB login plus KILL
 * QUERY) first come, first served, so a storm of cancels waits its turn
 * instead of being refused or costing a thread each.
 *
 * Why threads at all: libpq before 17 has no non-blocking cancel and does
 * not expose the backend's secret key, so a PostgreSQL cancel cannot be sent
 * from an event loop; one queue for both connectors keeps one mechanism.
 *
 * done is called with the queue's lock held. That is what makes shutdown
 * safe: once backend_cancels_stop has closed the queue, no late request can
 * post to a worker that no longer exists.
 *
 * A thread frees its own OpenSSL state (error queue, random generators: the
 * connectors' TLS logins create them) before it says it has stopped, and
 * backend_cancels_stop waits for that: a process that exits while a queue
 * thread is still on its way out would otherwise leave that state behind.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "backends/backend.h"
#include "backends/cancel.h"

/*
 * Requests in flight at once. A request mostly waits: for a login (MySQL) or
 * for the postmaster to fork and answer (PostgreSQL), so the bound is set by
 * latency, not CPU. On a busy 2-CPU machine 100 KILL QUERY took 16 s with 8
 * threads and 4.4 s with 32; PostgreSQL's 100 cancels took about 5 s either
 * way (its postmaster takes them one at a time). Threads start on demand and
 * stay; their stacks are mostly untouched virtual memory.
 */
#define CANCEL_THREADS 32
/* The MariaDB login (TLS, auth plugins) wants more stack than libpq. */
#define CANCEL_STACK (1024 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv;    /* a job was queued, or the queue closed */
static pthread_cond_t drained_cv; /* queued + running reached 0, or a thread stopped */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct cancel_job *head, *tail;
static int queued, running, threads, idle;
static bool closed;

static void init_conds(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&work_cv, &a);
    pthread_cond_init(&drained_cv, &a);
    pthread_condattr_destroy(&a);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ms_since(double t0)
{
    return (int)((now_mono() - t0) * 1000.0 + 0.5);
}

static void *cancel_thread(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head && !closed) {
            idle++;
            pthread_cond_wait(&work_cv, &lock);
            idle--;
        }
        if (closed)
            break; /* backend_cancels_stop answered what was still queued */
        struct cancel_job *job = head;
        head = job->next;
        if (!head)
            tail = NULL;
        queued--;
        running++;
        pthread_mutex_unlock(&lock);

        char err[256] = "";
        bool sent = job->run(job, err, sizeof(err));
        if (!sent && !err[0])
            snprintf(err, sizeof(err), "unknown error");

        pthread_mutex_lock(&lock);
        running--;
        if (!closed)
            job->done(job->arg, sent ? NULL : err, ms_since(job->queued_at));
        job->release(job);
        if (queued + running == 0)
            pthread_cond_broadcast(&drained_cv);
    }
    pthread_mutex_unlock(&lock);
    OPENSSL_thread_stop();
    pthread_mutex_lock(&lock);
    threads--;
    pthread_cond_broadcast(&drained_cv);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Waits on drained_cv until deadline (CLOCK_MONOTONIC seconds); false on an error. */
static bool wait_drained(double deadline)
{
    if (now_mono() >= deadline)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = pthread_cond_timedwait(&drained_cv, &lock, &ts);
    return rc == 0 || rc == ETIMEDOUT;
}

/* Starts one more queue thread; the caller holds lock. Returns 0 or an errno. */
static int start_thread(void)
{
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, CANCEL_STACK);
    int rc = pthread_create(&t, &attr, cancel_thread, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        threads++;
    return rc;
}

bool cancel_submit(struct cancel_job *job, char *err, size_t errlen)
{
    pthread_once(&once, init_conds);
    job->next = NULL;
    job->queued_at = now_mono();
    pthread_mutex_lock(&lock);
    if (closed) {
        pthread_mutex_unlock(&lock);
        snprintf(err, errlen, "weir is shutting down");
        return false;
    }
    if (tail)
        tail->next = job;
    else
        head = job;
    tail = job;
    queued++;
    /* Threads start on demand: one more whenever the waiting jobs outnumber the idle threads. */
    if (queued > idle && threads < CANCEL_THREADS) {
        int rc = start_thread();
        if (rc != 0 && threads == 0) {
            /* Nobody would ever run it: take it back (it is the only one queued). */
            head = tail = NULL;
            queued--;
            pthread_mutex_unlock(&lock);
            snprintf(err, errlen, "cannot start a cancel thread: %s", strerror(rc));
            return false;
        }
        /* A failure with threads running only means the job waits for one of them. */
    }
    pthread_cond_signal(&work_cv);
    pthread_mutex_unlock(&lock);
    return true;
}

int backend_cancels_pending(void)
{
    pthread_mutex_lock(&lock);
    int n = queued + running;
    pthread_mutex_unlock(&lock);
    return n;
}

int backend_cancels_stop(double wait_seconds, int *dropped)
{
    pthread_once(&once, init_conds);
    double deadline = now_mono() + wait_seconds;
    pthread_mutex_lock(&lock);
    while (queued + running > 0 && wait_drained(deadline))
        ;
    closed = true;
    /* What never started is answered now, while the workers can still take the answer. */
    int n = 0;
    while (head) {
        struct cancel_job *job = head;
        head = job->next;
        job->done(job->arg, "weir is shutting down", ms_since(job->queued_at));
        job->release(job);
        n++;
    }
    tail = NULL;
    queued = 0;
    int left = running;
    pthread_cond_broadcast(&work_cv);
    /* The idle threads stop now; those still running a request stop after it. */
    double exit_deadline = now_mono() + 2.0;
    while (threads > running && wait_drained(exit_deadline))
        ;
    pthread_mutex_unlock(&lock);
    if (dropped)
        *dropped = n;
    return left;
}
