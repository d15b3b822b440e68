/* churn.c -- connection churn load for the integration tests: THREADS threads each loop
 * connect / query / disconnect for SECONDS, so that server connections keep moving between
 * weir's workers.
 *
 * usage: churn CONNINFO THREADS SECONDS
 * Prints "churn: sessions=N failures=M" (and each failure); exit 0 when M == 0 and N > 0. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *conninfo;
static double deadline;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long sessions, failures;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one session; returns 0 on success, prints the reason and returns 1 otherwise. */
static int session(long id)
{
    int rc = 1;
    char arg[32];
    const char *values[1] = {arg};
    PGresult *res = NULL;
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "churn: connect: %s", PQerrorMessage(conn));
        goto done;
    }
    snprintf(arg, sizeof arg, "%ld", id);
    res = PQexecParams(conn, "SELECT $1::bigint + 1", 1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || atol(PQgetvalue(res, 0, 0)) != id + 1) {
        fprintf(stderr, "churn: query: %s", PQerrorMessage(conn));
        goto done;
    }
    PQclear(res);
    res = PQexec(conn, "SELECT count(*) FROM pg_class");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "churn: query 2: %s", PQerrorMessage(conn));
        goto done;
    }
    rc = 0;
done:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static void *run(void *arg)
{
    long id = (long)(size_t)arg * 1000000;
    while (now() < deadline) {
        int bad = session(id++);
        pthread_mutex_lock(&lock);
        sessions++;
        failures += bad;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: churn CONNINFO THREADS SECONDS\n");
        return 2;
    }
    conninfo = argv[1];
    int nthreads = atoi(argv[2]);
    deadline = now() + atof(argv[3]);
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    if (!threads)
        return 2;
    for (int i = 0; i < nthreads; i++)
        pthread_create(&threads[i], NULL, run, (void *)(size_t)i);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    printf("churn: sessions=%ld failures=%ld\n", sessions, failures);
    return failures == 0 && sessions > 0 ? 0 : 1;
}
