/* cancel_storm.c -- many PostgreSQL clients cancelled at once, for t09_cancel_storm.t.
 *
 * usage: cancel_storm CONNINFO DIRECT_CONNINFO N GO_FILE TIMEOUT
 * Opens N connections with CONNINFO (through weir) and sends SELECT pg_sleep(60) on each;
 * waits (DIRECT_CONNINFO, straight to PostgreSQL) until the server runs all N, prints
 * "running", waits for GO_FILE to exist, then cancels all N at once, one thread per
 * connection, and collects the results for at most TIMEOUT seconds. Prints
 * "cancel_storm: n=N cancelled=C other=O unanswered=U sent_in=S.SSSs last=L.LLLs"
 * (sent_in: first to last PQcancel returned; last: first cancel to the last result).
 * Exit 0 when every query ended with SQLSTATE 57014. */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1000

static PGconn *conns[MAX_CONNS];
static PGcancel *cancels[MAX_CONNS];
static double cancel_start[MAX_CONNS], cancel_end[MAX_CONNS];
static pthread_barrier_t barrier;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sessions of DIRECT_CONNINFO's server running our pg_sleep(60), or -1. */
static int running(PGconn *direct)
{
    PGresult *r = PQexec(direct, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                 "AND query = 'SELECT pg_sleep(60)'");
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

static void *cancel_one(void *arg)
{
    long i = (long)(size_t)arg;
    char err[256];
    pthread_barrier_wait(&barrier);
    cancel_start[i] = now();
    if (!PQcancel(cancels[i], err, sizeof(err)))
        fprintf(stderr, "cancel_storm: PQcancel %ld: %s\n", i, err);
    cancel_end[i] = now();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s CONNINFO DIRECT_CONNINFO N GO_FILE TIMEOUT\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[3]);
    double timeout = atof(argv[5]);
    if (n < 1 || n > MAX_CONNS)
        return 2;
    for (int i = 0; i < n; i++) {
        conns[i] = PQconnectdb(argv[1]);
        if (PQstatus(conns[i]) != CONNECTION_OK) {
            fprintf(stderr, "cancel_storm: connect %d: %s", i, PQerrorMessage(conns[i]));
            return 1;
        }
        if (!PQsendQuery(conns[i], "SELECT pg_sleep(60)")) {
            fprintf(stderr, "cancel_storm: send %d: %s", i, PQerrorMessage(conns[i]));
            return 1;
        }
        cancels[i] = PQgetCancel(conns[i]);
    }
    PGconn *direct = PQconnectdb(argv[2]);
    if (PQstatus(direct) != CONNECTION_OK) {
        fprintf(stderr, "cancel_storm: direct connect: %s", PQerrorMessage(direct));
        return 1;
    }
    /* Cancel only what really runs: a cancel that arrives before its query cancels nothing. */
    double deadline = now() + timeout;
    int r;
    while ((r = running(direct)) != n && now() < deadline)
        usleep(50 * 1000);
    if (r != n) {
        fprintf(stderr, "cancel_storm: only %d of %d queries running\n", r, n);
        return 1;
    }
    printf("running\n");
    fflush(stdout);
    while (access(argv[4], F_OK) != 0 && now() < deadline)
        usleep(20 * 1000);

    pthread_t threads[MAX_CONNS];
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (long i = 0; i < n; i++)
        if (pthread_create(&threads[i], NULL, cancel_one, (void *)(size_t)i) != 0) {
            fprintf(stderr, "cancel_storm: thread %ld\n", i);
            return 1;
        }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    double first = cancel_start[0], sent = cancel_end[0];
    for (int i = 1; i < n; i++) {
        if (cancel_start[i] < first)
            first = cancel_start[i];
        if (cancel_end[i] > sent)
            sent = cancel_end[i];
    }

    /* Collect: each connection ends with one result (an error or the row) and then NULL. */
    int cancelled = 0, other = 0, left = n;
    double last = first;
    char *done = calloc((size_t)n, 1);
    struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
    deadline = now() + timeout;
    while (left > 0 && now() < deadline) {
        int k = 0;
        int idx[MAX_CONNS];
        for (int i = 0; i < n; i++)
            if (!done[i]) {
                pfd[k].fd = PQsocket(conns[i]);
                pfd[k].events = POLLIN;
                idx[k++] = i;
            }
        if (poll(pfd, (nfds_t)k, 200) < 0)
            break;
        for (int j = 0; j < k; j++) {
            int i = idx[j];
            if (!pfd[j].revents)
                continue;
            if (!PQconsumeInput(conns[i])) {
                fprintf(stderr, "cancel_storm: conn %d: %s", i, PQerrorMessage(conns[i]));
                other++;
                done[i] = 1;
                left--;
                continue;
            }
            while (!done[i] && !PQisBusy(conns[i])) {
                PGresult *res = PQgetResult(conns[i]);
                if (!res) {
                    done[i] = 1;
                    left--;
                    last = now();
                    break;
                }
                const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                if (st && !strcmp(st, "57014")) {
                    cancelled++;
                } else {
                    other++;
                    fprintf(stderr, "cancel_storm: conn %d: %s %s", i,
                            PQresStatus(PQresultStatus(res)), PQresultErrorMessage(res));
                }
                PQclear(res);
            }
        }
    }
    printf("cancel_storm: n=%d cancelled=%d other=%d unanswered=%d sent_in=%.3fs last=%.3fs\n", n,
           cancelled, other, left, sent - first, last - first);
    for (int i = 0; i < n; i++) {
        PQfreeCancel(cancels[i]);
        PQfinish(conns[i]);
    }
    PQfinish(direct);
    free(done);
    free(pfd);
    return cancelled == n && left == 0 ? 0 : 1;
}
