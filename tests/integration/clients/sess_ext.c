/* sess_ext.c -- several libpq connections taking turns, through the simple and the extended
 * protocol and pipelines, for t94_extended_session_state.t.
 *
 * usage: sess_ext CONNINFO STEP...
 * A STEP is "<n><mode>:<sql>": connection n (1..4, opened on first use) runs sql with
 *   q  PQexec (simple Query)
 *   p  PQexecParams, no parameters (Parse of the unnamed statement, Bind, Execute, Sync)
 *   n  PQprepare as the named statement "s<step>", then PQexecPrepared
 *   P  a pipeline: the lines of sql each sent with PQsendQueryParams, one Sync at the end
 *   S  a pipeline: the lines of sql each sent with PQsendQueryParams and its own Sync
 * and prints one line: the first value of each result that has rows, else its command tag,
 * or "ERR <sqlstate>", results joined by ','. Exit 0 unless a connection failed. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNS 4

static void print_result(PGresult *r, int *first)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC)
        return;
    printf("%s", *first ? "" : ",");
    *first = 0;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
        printf("%s", PQgetvalue(r, 0, 0));
    else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        printf("%s", PQcmdStatus(r));
    else if (st == PGRES_PIPELINE_ABORTED)
        printf("ABORTED");
    else
        printf("ERR %s", PQresultErrorField(r, PG_DIAG_SQLSTATE)
                             ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                             : "?");
}

/* Sends each line of sql in pipeline mode (a Sync after each when sync_each), prints results. */
static void pipeline(PGconn *c, char *sql, int sync_each)
{
    int first = 1, syncs = 0;
    if (!PQenterPipelineMode(c)) {
        printf("ERR pipeline\n");
        return;
    }
    for (char *line = strtok(sql, "\n"); line; line = strtok(NULL, "\n")) {
        PQsendQueryParams(c, line, 0, NULL, NULL, NULL, NULL, 0);
        if (sync_each) {
            PQpipelineSync(c);
            syncs++;
        }
    }
    if (!sync_each) {
        PQpipelineSync(c);
        syncs++;
    }
    while (syncs > 0) {
        PGresult *r = PQgetResult(c);
        if (!r)
            continue; /* the end of one query's results */
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC)
            syncs--;
        print_result(r, &first);
        PQclear(r);
    }
    PQexitPipelineMode(c);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sess_ext CONNINFO STEP...\n");
        return 2;
    }
    PGconn *conns[MAX_CONNS] = {0};
    for (int i = 2; i < argc; i++) {
        char *step = argv[i];
        int n = step[0] - '1';
        char mode = step[1];
        if (n < 0 || n >= MAX_CONNS || step[2] != ':') {
            fprintf(stderr, "bad step: %s\n", step);
            return 2;
        }
        char *sql = step + 3;
        if (!conns[n]) {
            conns[n] = PQconnectdb(argv[1]);
            if (PQstatus(conns[n]) != CONNECTION_OK) {
                fprintf(stderr, "connect: %s", PQerrorMessage(conns[n]));
                return 1;
            }
        }
        PGconn *c = conns[n];
        if (mode == 'P' || mode == 'S') {
            pipeline(c, sql, mode == 'S');
            fflush(stdout);
            continue;
        }
        PGresult *r;
        if (mode == 'n') {
            char name[32];
            snprintf(name, sizeof(name), "s%d", i);
            PQclear(PQprepare(c, name, sql, 0, NULL));
            r = PQexecPrepared(c, name, 0, NULL, NULL, NULL, 0);
        } else if (mode == 'p') {
            r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
        } else {
            r = PQexec(c, sql);
        }
        int first = 1;
        print_result(r, &first);
        printf("\n");
        fflush(stdout);
        PQclear(r);
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i])
            PQfinish(conns[i]);
    return 0;
}
