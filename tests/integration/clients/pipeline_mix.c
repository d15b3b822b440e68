/* pipeline_mix.c -- libpq pipeline-mode client for the transaction-pooling tests: many of
 * these run at once through a small pool, each checking that every result it reads is the
 * answer to its own query (no result crosses to another client).
 *
 * usage: pipeline_mix CONNINFO CLIENT_ID [NQUERIES [SYNC_EVERY]]
 * Sends NQUERIES "SELECT $1::int, pg_backend_pid()" with $1 = CLIENT_ID*1000+i, a
 * PQpipelineSync after every SYNC_EVERY queries, keeping one synced batch in flight while the
 * next is sent; every third batch's Sync is sent late (after a flush request and a pause).
 * Prints "pipeline_mix ok: ..." and exits 0 when every value matched; else prints why, exit 1. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int client_id;

/* Sends queries first..last-1 and a Sync (late for some batches). Returns 0 on success. */
static int send_batch(PGconn *conn, int first, int last, int batch)
{
    for (int i = first; i < last; i++) {
        char arg[32];
        const char *values[1] = {arg};
        snprintf(arg, sizeof arg, "%d", client_id * 1000 + i);
        if (!PQsendQueryParams(conn, "SELECT $1::int, pg_backend_pid()", 1, NULL, values, NULL,
                               NULL, 0)) {
            fprintf(stderr, "pipeline_mix %d: send %d: %s\n", client_id, i, PQerrorMessage(conn));
            return 1;
        }
    }
    if (batch % 3 == 2) {
        /* The server sees the queries before their Sync: a late Sync must still bind them. */
        if (!PQsendFlushRequest(conn) || PQflush(conn) != 0) {
            fprintf(stderr, "pipeline_mix %d: flush: %s\n", client_id, PQerrorMessage(conn));
            return 1;
        }
        usleep(20000);
    }
    if (!PQpipelineSync(conn)) {
        fprintf(stderr, "pipeline_mix %d: sync: %s\n", client_id, PQerrorMessage(conn));
        return 1;
    }
    return 0;
}

/* Reads the results of queries first..last-1 and the sync; checks each value. */
static int read_batch(PGconn *conn, int first, int last, int *pids, int *npids)
{
    for (int i = first; i < last; i++) {
        int want = client_id * 1000 + i;
        PGresult *res = PQgetResult(conn);
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "pipeline_mix %d: result %d: %s %s\n", client_id, i,
                    res ? PQresStatus(PQresultStatus(res)) : "(null)", PQerrorMessage(conn));
            PQclear(res);
            return 1;
        }
        int got = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;
        if (got != want) {
            fprintf(stderr, "pipeline_mix %d: result %d: got %d, want %d (misrouted)\n", client_id,
                    i, got, want);
            PQclear(res);
            return 1;
        }
        int pid = atoi(PQgetvalue(res, 0, 1));
        int seen = 0;
        for (int k = 0; k < *npids; k++)
            seen |= pids[k] == pid;
        if (!seen && *npids < 64)
            pids[(*npids)++] = pid;
        PQclear(res);
        res = PQgetResult(conn);
        if (res) {
            fprintf(stderr, "pipeline_mix %d: result %d: extra result %s\n", client_id, i,
                    PQresStatus(PQresultStatus(res)));
            PQclear(res);
            return 1;
        }
    }
    PGresult *res = PQgetResult(conn);
    if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        fprintf(stderr, "pipeline_mix %d: expected sync after %d: %s\n", client_id, last,
                res ? PQresStatus(PQresultStatus(res)) : "(null)");
        PQclear(res);
        return 1;
    }
    PQclear(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pipeline_mix CONNINFO CLIENT_ID [NQUERIES [SYNC_EVERY]]\n");
        return 2;
    }
    client_id = atoi(argv[2]);
    int n = argc > 3 ? atoi(argv[3]) : 200;
    int every = argc > 4 ? atoi(argv[4]) : 5;
    if (n < 1 || every < 1)
        return 2;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pipeline_mix %d: connect: %s\n", client_id, PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    if (!PQenterPipelineMode(conn)) {
        fprintf(stderr, "pipeline_mix %d: enter pipeline: %s\n", client_id, PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    int pids[64], npids = 0, rc = 0;
    int prev_first = -1, prev_last = -1, batch = 0;
    for (int first = 1; first <= n && !rc; first += every, batch++) {
        int last = first + every > n + 1 ? n + 1 : first + every;
        rc = send_batch(conn, first, last, batch);
        if (!rc && prev_first >= 0)
            rc = read_batch(conn, prev_first, prev_last, pids, &npids);
        prev_first = first;
        prev_last = last;
    }
    if (!rc && prev_first >= 0)
        rc = read_batch(conn, prev_first, prev_last, pids, &npids);
    if (!rc && !PQexitPipelineMode(conn)) {
        fprintf(stderr, "pipeline_mix %d: exit pipeline: %s\n", client_id, PQerrorMessage(conn));
        rc = 1;
    }
    if (!rc)
        printf("pipeline_mix ok: client %d, %d queries, %d server pids\n", client_id, n, npids);
    PQfinish(conn);
    return rc;
}
