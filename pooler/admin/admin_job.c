/*
 * admin_job.c -- console work that needs every worker (SHOW CLIENTS/SERVERS,
 * KILL, KILL_CLIENT, closing idle servers for PAUSE and RECONNECT): a job is
 * posted to each worker's inbox, each does its part on its own objects, the
 * last posts it back to the console client's worker. PAUSE and WAIT_CLOSE
 * then wait on a list that admin_notify() wakes when servers go.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pooler/admin/admin_int.h"
#include "pooler/session/client.h"
#include "pooler/admin/lifecycle.h"
#include "pooler/core/log.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"

/* Every job alive, so that what a stop interrupts is freed (admin_free_all). */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list all_jobs = LIST_INIT(all_jobs);
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static struct admin_job *waits;
static atomic_int nwaits;

/* ---- jobs on every worker ---- */

struct admin_job *admin_job_new(struct client *c, enum job_kind kind, const char *db)
{
    struct admin_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->kind = kind;
    job->origin = c->w;
    job->client = c;
    job->all = !db;
    if (db)
        snprintf(job->db, sizeof(job->db), "%s", db);
    pthread_mutex_init(&job->lock, NULL);
    admin_res_init(&job->res);
    pthread_mutex_lock(&jobs_lock);
    list_add_tail(&all_jobs, &job->all_node);
    pthread_mutex_unlock(&jobs_lock);
    return job;
}

static void job_free(struct admin_job *job)
{
    pthread_mutex_lock(&jobs_lock);
    list_del(&job->all_node);
    pthread_mutex_unlock(&jobs_lock);
    admin_res_clear(&job->res);
    pthread_mutex_destroy(&job->lock);
    free(job);
}

/* Posts the job to every worker; the console client reads nothing more until it is answered. */
void admin_job_start(struct client *c, struct admin_job *job)
{
    c->admin_job = job;
    client_watch(c, EV_READ, false);
    job->pending = weir.nworkers;
    for (int i = 0; i < weir.nworkers; i++) {
        struct msg *m = msg_new(MSG_ADMIN);
        m->job = job;
        worker_post(&weir.workers[i], m);
    }
}

static bool job_db_match(const struct admin_job *job, const char *dbname)
{
    return job->all || (dbname && !strcmp(job->db, dbname));
}

/* Idle servers of the job's database(s) that must go (paused, older generation), go. */
static void close_idle(struct worker *w, struct admin_job *job)
{
    bool again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->servers)
        {
            struct server *s = list_entry(pos, struct server, wnode);
            if (s->state != SV_IDLE || !job_db_match(job, s->pool->db->name) ||
                !pool_must_close(s->pool, s))
                continue;
            server_close(s, job->kind == JOB_KILL ? "KILL from the console"
                                                  : "closed by the console (PAUSE/RECONNECT)");
            again = true; /* closing may have changed the list: walk it again */
            break;
        }
    }
}

/* KILL: every client (not consoles) and server of the job's database(s). */
static void kill_all(struct worker *w, struct admin_job *job)
{
    bool again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->clients)
        {
            struct client *c = list_entry(pos, struct client, wnode);
            if (c->zombie || !c->db || session_is_console_db(c->db->name) ||
                !job_db_match(job, c->db->name))
                continue;
            client_fail(c, "08P01", "database killed from the console (KILL)");
            again = true;
            break;
        }
    }
    again = true;
    while (again) {
        again = false;
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &w->servers)
        {
            struct server *s = list_entry(pos, struct server, wnode);
            if (s->state == SV_CLOSED || !job_db_match(job, s->pool->db->name))
                continue;
            server_close(s, "KILL from the console");
            again = true;
            break;
        }
    }
}

static bool kill_client(struct worker *w, uint64_t id)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->clients)
    {
        struct client *c = list_entry(pos, struct client, wnode);
        if (c->id != id || c->zombie)
            continue;
        client_fail(c, "08P01", "client killed from the console (KILL_CLIENT)");
        return true;
    }
    return false;
}

void admin_job_run(struct worker *w, struct admin_job *job)
{
    struct admin_result part;
    admin_res_init(&part);
    bool found = false;
    switch (job->kind) {
    case JOB_CLIENTS:
        part.ncols = job->res.ncols;
        admin_rows_clients(w, &part);
        break;
    case JOB_SERVERS:
        part.ncols = job->res.ncols;
        admin_rows_servers(w, &part);
        break;
    case JOB_CLOSE_IDLE:
        close_idle(w, job);
        break;
    case JOB_KILL:
        kill_all(w, job);
        break;
    case JOB_KILL_CLIENT:
        found = kill_client(w, job->id);
        break;
    }
    pthread_mutex_lock(&job->lock);
    admin_res_take_rows(&job->res, &part);
    job->found += found;
    bool last = --job->pending == 0;
    pthread_mutex_unlock(&job->lock);
    admin_res_clear(&part);
    if (last) {
        struct msg *m = msg_new(MSG_ADMIN_DONE);
        m->job = job;
        worker_post(job->origin, m);
    }
}

/* ---- waiting for servers to go (PAUSE, WAIT_CLOSE) ---- */

static bool wait_satisfied(const struct admin_job *job)
{
    int servers, stale;
    pool_db_counts(job->all ? NULL : job->db, &servers, &stale);
    return job->then_wait == WAIT_PAUSE ? servers == 0 : stale == 0;
}

static void resume_reading(struct client *c)
{
    c->admin_job = NULL;
    if (c->fd != -1)
        client_watch(c, EV_READ, true);
}

/* The job is over for its console client: answer, free, go on reading. */
static void job_finish(struct admin_job *job)
{
    struct client *c = job->client;
    bool alive = false;
    if (c) {
        resume_reading(c);
        alive = admin_answer(c, &job->res);
    }
    job_free(job);
    /* Commands that arrived while this one ran. */
    if (alive && c->in && c->in->recv && c->state == CL_ADMIN)
        admin_input(c);
}

/* Checks a job's wait; answers or (re)registers it. Runs on the origin worker. */
static void wait_step(struct admin_job *job)
{
    if (job->client && !wait_satisfied(job)) {
        pthread_mutex_lock(&wait_lock);
        if (!job->waiting) {
            job->waiting = true;
            job->wait_next = waits;
            waits = job;
            atomic_fetch_add(&nwaits, 1);
        }
        pthread_mutex_unlock(&wait_lock);
        /* A server may have gone between the check and the registration: check again. */
        if (!wait_satisfied(job))
            return;
    }
    pthread_mutex_lock(&wait_lock);
    bool in_flight = job->notified;
    if (job->waiting) {
        struct admin_job **pp = &waits;
        while (*pp && *pp != job)
            pp = &(*pp)->wait_next;
        if (*pp)
            *pp = job->wait_next;
        job->waiting = false;
        atomic_fetch_sub(&nwaits, 1);
    }
    pthread_mutex_unlock(&wait_lock);
    if (in_flight) {
        /* A MSG_ADMIN_CHECK still names the job: it finishes there. */
        pthread_mutex_lock(&wait_lock);
        job->then_wait = WAIT_NOTHING;
        pthread_mutex_unlock(&wait_lock);
        return;
    }
    job_finish(job);
}

void admin_job_done(struct worker *w, struct admin_job *job)
{
    if (!job->client) {
        job_free(job);
        return;
    }
    if (job->kind == JOB_KILL_CLIENT && job->found == 0) {
        admin_res_clear(&job->res);
        admin_res_error(&job->res, "08P01", "no such client: %llu", (unsigned long long)job->id);
    }
    if (job->then_wait != WAIT_NOTHING) {
        wait_step(job);
        return;
    }
    job_finish(job);
}

void admin_wait_check(struct worker *w, struct admin_job *job)
{
    pthread_mutex_lock(&wait_lock);
    job->notified = false;
    bool still = job->waiting;
    bool over = job->then_wait == WAIT_NOTHING;
    pthread_mutex_unlock(&wait_lock);
    if (over) {
        job_finish(job); /* wait_step saw it satisfied while this message was on its way */
        return;
    }
    if (!job->client) {
        if (still) {
            pthread_mutex_lock(&wait_lock);
            struct admin_job **pp = &waits;
            while (*pp && *pp != job)
                pp = &(*pp)->wait_next;
            if (*pp) {
                *pp = job->wait_next;
                atomic_fetch_sub(&nwaits, 1);
            }
            job->waiting = false;
            pthread_mutex_unlock(&wait_lock);
        }
        job_free(job);
        return;
    }
    if (still)
        wait_step(job);
}

void admin_notify(void)
{
    if (atomic_load(&nwaits) == 0)
        return;
    pthread_mutex_lock(&wait_lock);
    for (struct admin_job *job = waits; job; job = job->wait_next) {
        if (job->notified)
            continue;
        job->notified = true;
        struct msg *m = msg_new(MSG_ADMIN_CHECK);
        m->job = job;
        worker_post(job->origin, m);
    }
    pthread_mutex_unlock(&wait_lock);
}

void admin_free_all(void)
{
    struct list *n;
    pthread_mutex_lock(&wait_lock);
    waits = NULL;
    atomic_store(&nwaits, 0);
    pthread_mutex_unlock(&wait_lock);
    for (;;) {
        pthread_mutex_lock(&jobs_lock);
        n = list_pop(&all_jobs);
        pthread_mutex_unlock(&jobs_lock);
        if (!n)
            break;
        struct admin_job *job = list_entry(n, struct admin_job, all_node);
        list_init(&job->all_node);
        admin_res_clear(&job->res);
        pthread_mutex_destroy(&job->lock);
        free(job);
    }
}

void admin_client_gone(struct client *c)
{
    struct admin_job *job = c->admin_job;
    if (!job)
        return;
    c->admin_job = NULL;
    job->client = NULL;
    pthread_mutex_lock(&wait_lock);
    bool waiting = job->waiting, in_flight = job->notified;
    if (waiting && !in_flight) {
        struct admin_job **pp = &waits;
        while (*pp && *pp != job)
            pp = &(*pp)->wait_next;
        if (*pp)
            *pp = job->wait_next;
        job->waiting = false;
        atomic_fetch_sub(&nwaits, 1);
    }
    pthread_mutex_unlock(&wait_lock);
    /* Still on the workers (MSG_ADMIN_DONE frees it) or a check in flight (it frees it). */
    if (waiting && !in_flight)
        job_free(job);
}
