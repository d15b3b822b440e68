/* ps_pipeline.c -- libpq pipeline-mode client with named prepared statements, for the
 * integration tests: in each round one pipeline prepares NSTMTS statements (PQsendPrepare, the
 * first round only, or again after DEALLOCATE ALL), executes each of them several times
 * (PQsendQueryPrepared), includes one Parse the server rejects in its own sync segment, then
 * checks every result in order.
 *
 * usage: ps_pipeline CONNINFO [NSTMTS [ROUNDS]]
 * Prints one line per failure and "ps_pipeline ok: ..." on success; exit 0 on success. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXECS 3 /* executions of each statement per round */

static int fail(PGconn *conn, const char *what)
{
    fprintf(stderr, "ps_pipeline: %s: %s\n", what, conn ? PQerrorMessage(conn) : "");
    if (conn)
        PQfinish(conn);
    return 1;
}

/* The next result must have status want; then the NULL that ends it (not after a sync). */
static int expect(PGconn *conn, ExecStatusType want, const char *what, int i, PGresult **out)
{
    PGresult *res = PQgetResult(conn);
    if (!res || PQresultStatus(res) != want) {
        fprintf(stderr, "ps_pipeline: %s %d: got %s, want %s: %s\n", what, i,
                res ? PQresStatus(PQresultStatus(res)) : "(null)", PQresStatus(want),
                res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        return 1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    if (want == PGRES_PIPELINE_SYNC)
        return 0;
    res = PQgetResult(conn);
    if (res) {
        fprintf(stderr, "ps_pipeline: %s %d: extra result %s\n", what, i,
                PQresStatus(PQresultStatus(res)));
        PQclear(res);
        return 1;
    }
    return 0;
}

static int round_trip(PGconn *conn, int n, int round, int prepare)
{
    char name[32], sql[128], arg[32];
    const char *values[1] = {arg};
    for (int s = 0; prepare && s < n; s++) {
        snprintf(name, sizeof name, "st%d", s);
        snprintf(sql, sizeof sql, "SELECT $1::int + %d, '%s'::text", s * 1000, name);
        if (!PQsendPrepare(conn, name, sql, 1, NULL))
            return fail(NULL, "send prepare");
    }
    for (int e = 0; e < EXECS; e++)
        for (int s = 0; s < n; s++) {
            snprintf(name, sizeof name, "st%d", s);
            snprintf(arg, sizeof arg, "%d", round * 10 + e);
            if (!PQsendQueryPrepared(conn, name, 1, values, NULL, NULL, 0)) {
                fprintf(stderr, "ps_pipeline: send execute: %s\n", PQerrorMessage(conn));
                return 1;
            }
        }
    if (!PQpipelineSync(conn))
        return 1;
    /* A segment with an error: the Parse fails, the execution after it is skipped. */
    if (!PQsendPrepare(conn, "broken", "SELEC 1", 0, NULL) ||
        !PQsendQueryPrepared(conn, "st0", 1, values, NULL, NULL, 0) || !PQpipelineSync(conn))
        return 1;

    for (int s = 0; prepare && s < n; s++)
        if (expect(conn, PGRES_COMMAND_OK, "prepare", s, NULL))
            return 1;
    for (int e = 0; e < EXECS; e++)
        for (int s = 0; s < n; s++) {
            PGresult *res;
            if (expect(conn, PGRES_TUPLES_OK, "execute", s, &res))
                return 1;
            char want_name[32];
            snprintf(want_name, sizeof want_name, "st%d", s);
            int want = s * 1000 + round * 10 + e;
            if (PQntuples(res) != 1 || atoi(PQgetvalue(res, 0, 0)) != want ||
                strcmp(PQgetvalue(res, 0, 1), want_name)) {
                fprintf(stderr, "ps_pipeline: round %d exec %d of %s: got %s %s, want %d\n", round,
                        e, want_name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), want);
                PQclear(res);
                return 1;
            }
            PQclear(res);
        }
    if (expect(conn, PGRES_PIPELINE_SYNC, "sync", 0, NULL))
        return 1;
    PGresult *res = PQgetResult(conn);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!res || PQresultStatus(res) != PGRES_FATAL_ERROR || !state || strcmp(state, "42601")) {
        fprintf(stderr, "ps_pipeline: the broken Parse: got %s %s\n",
                res ? PQresStatus(PQresultStatus(res)) : "(null)", state ? state : "");
        PQclear(res);
        return 1;
    }
    PQclear(res);
    if ((res = PQgetResult(conn))) {
        fprintf(stderr, "ps_pipeline: extra result after the error\n");
        PQclear(res);
        return 1;
    }
    if (expect(conn, PGRES_PIPELINE_ABORTED, "aborted execute", 0, NULL) ||
        expect(conn, PGRES_PIPELINE_SYNC, "sync after error", 0, NULL))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ps_pipeline CONNINFO [NSTMTS [ROUNDS]]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 5, rounds = argc > 3 ? atoi(argv[3]) : 10;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK)
        return fail(conn, "connect");
    for (int r = 0; r < rounds; r++) {
        /* Every fourth round starts over: the client's statements are deallocated first. */
        int prepare = r == 0 || r % 4 == 0;
        if (r > 0 && prepare) {
            PGresult *res = PQexec(conn, "DEALLOCATE ALL");
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                PQclear(res);
                return fail(conn, "DEALLOCATE ALL");
            }
            PQclear(res);
        }
        if (!PQenterPipelineMode(conn))
            return fail(conn, "enter pipeline mode");
        if (round_trip(conn, n, r, prepare))
            return fail(conn, "round");
        if (!PQexitPipelineMode(conn))
            return fail(conn, "exit pipeline mode");
    }
    printf("ps_pipeline ok: %d statements, %d rounds\n", n, rounds);
    PQfinish(conn);
    return 0;
}
