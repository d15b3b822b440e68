/* pipeline.c -- libpq pipeline-mode client for the integration tests: sends several
 * PQsendQueryParams in one pipeline, syncs, and checks every result in order.
 *
 * usage: pipeline CONNINFO [NQUERIES [ROUNDS]]
 * Prints one line per failure and "pipeline ok: ..." on success; exit 0 on success. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(PGconn *conn, const char *what)
{
    fprintf(stderr, "pipeline: %s: %s\n", what, conn ? PQerrorMessage(conn) : "");
    if (conn)
        PQfinish(conn);
    return 1;
}

/* Sends n queries "SELECT $1::int * 2, repeat('p', $1::int)" in pipeline mode, then a Sync,
 * then reads and checks the n results and the PGRES_PIPELINE_SYNC. Returns 0 when all match. */
static int round_trip(PGconn *conn, int n, int round)
{
    for (int i = 0; i < n; i++) {
        char arg[32];
        const char *values[1] = {arg};
        snprintf(arg, sizeof arg, "%d", round * 1000 + i);
        if (!PQsendQueryParams(conn, "SELECT $1::int * 2, repeat('p', $1::int % 5000)", 1, NULL,
                               values, NULL, NULL, 0)) {
            fprintf(stderr, "pipeline: send %d: %s\n", i, PQerrorMessage(conn));
            return 1;
        }
    }
    if (!PQpipelineSync(conn)) {
        fprintf(stderr, "pipeline: sync: %s\n", PQerrorMessage(conn));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        int v = round * 1000 + i;
        PGresult *res = PQgetResult(conn);
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "pipeline: result %d: %s %s\n", i,
                    res ? PQresStatus(PQresultStatus(res)) : "(null)", PQerrorMessage(conn));
            PQclear(res);
            return 1;
        }
        if (PQntuples(res) != 1 || atoi(PQgetvalue(res, 0, 0)) != 2 * v ||
            PQgetlength(res, 0, 1) != v % 5000) {
            fprintf(stderr, "pipeline: result %d out of order or wrong: got %s\n", i,
                    PQgetvalue(res, 0, 0));
            PQclear(res);
            return 1;
        }
        PQclear(res);
        res = PQgetResult(conn); /* NULL ends each query's results */
        if (res) {
            fprintf(stderr, "pipeline: result %d: extra result\n", i);
            PQclear(res);
            return 1;
        }
    }
    PGresult *res = PQgetResult(conn);
    if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        fprintf(stderr, "pipeline: expected PIPELINE_SYNC, got %s\n",
                res ? PQresStatus(PQresultStatus(res)) : "(null)");
        PQclear(res);
        return 1;
    }
    PQclear(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pipeline CONNINFO [NQUERIES [ROUNDS]]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 20;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK)
        return fail(conn, "connect");
    if (!PQenterPipelineMode(conn))
        return fail(conn, "enter pipeline mode");
    for (int r = 0; r < rounds; r++) {
        if (round_trip(conn, n, r) != 0) {
            PQfinish(conn);
            return 1;
        }
    }
    if (!PQexitPipelineMode(conn))
        return fail(conn, "exit pipeline mode");
    PGresult *res = PQexec(conn, "SELECT 'after pipeline'");
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        strcmp(PQgetvalue(res, 0, 0), "after pipeline") != 0) {
        PQclear(res);
        return fail(conn, "query after pipeline");
    }
    PQclear(res);
    PQfinish(conn);
    printf("pipeline ok: %d rounds of %d queries\n", rounds, n);
    return 0;
}
