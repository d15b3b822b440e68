/* my_kill_storm.c -- many MySQL clients interrupted by KILL QUERY at once, for
 * t09_cancel_storm.t.
 *
 * usage: my_kill_storm HOST WEIR_PORT DIRECT_PORT USER PASSWORD DB N GO_FILE TIMEOUT
 * N clients log in through weir (WEIR_PORT) and run SELECT SLEEP(60), each on its own
 * thread; once the server (DIRECT_PORT, straight to MariaDB as the same user) runs all N,
 * prints "running", waits for GO_FILE to exist, then 10 killer connections through weir send
 * KILL QUERY <id> for every client (the id each client got from weir) at once. Every wait is
 * bounded by TIMEOUT seconds. Prints
 * "my_kill_storm: n=N interrupted=I other=O kill_failed=K sent_in=S.SSSs last=L.LLLs"
 * (interrupted: SLEEP returned 1 or error 1317; sent_in: first to last KILL answered; last:
 * first KILL to the last SLEEP's end). Exit 0 when all N were interrupted. */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1000
#define KILLERS   10

struct sleeper {
    MYSQL *my;
    unsigned long id; /* the thread id weir gave this client */
    char result[64];  /* "1", "0", "error N" */
    double ended;
};

static struct sleeper sleepers[MAX_CONNS];
static MYSQL *killers[KILLERS];
static int n, kill_failed;
static double kill_first, kill_last;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static MYSQL *login(const char *host, int port, const char *user, const char *pw, const char *db,
                    unsigned timeout)
{
    MYSQL *my = mysql_init(NULL);
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    if (!mysql_real_connect(my, host, user, pw, db, (unsigned)port, NULL, 0)) {
        fprintf(stderr, "my_kill_storm: connect: %s\n", mysql_error(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

static void *sleep_one(void *arg)
{
    struct sleeper *s = arg;
    if (mysql_query(s->my, "SELECT SLEEP(60)") != 0) {
        snprintf(s->result, sizeof(s->result), "error %u", mysql_errno(s->my));
    } else {
        /* An interrupted SLEEP may also fail while its result is read (error 1317). */
        MYSQL_RES *res = mysql_store_result(s->my);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        if (row && row[0])
            snprintf(s->result, sizeof(s->result), "%s", row[0]);
        else
            snprintf(s->result, sizeof(s->result), "error %u", mysql_errno(s->my));
        mysql_free_result(res);
    }
    s->ended = now();
    return NULL;
}

static void *kill_some(void *arg)
{
    long k = (long)(size_t)arg;
    pthread_barrier_wait(&barrier);
    for (int i = (int)k; i < n; i += KILLERS) {
        char q[64];
        snprintf(q, sizeof(q), "KILL QUERY %lu", sleepers[i].id);
        double t = now();
        int rc = mysql_query(killers[k], q);
        double e = now();
        pthread_mutex_lock(&lock);
        if (rc != 0) {
            kill_failed++;
            fprintf(stderr, "my_kill_storm: %s: %s\n", q, mysql_error(killers[k]));
        }
        if (kill_first == 0 || t < kill_first)
            kill_first = t;
        if (e > kill_last)
            kill_last = e;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* Sessions of the direct server running SELECT SLEEP(60), or -1. */
static int running(MYSQL *direct)
{
    if (mysql_query(direct, "SELECT count(*) FROM information_schema.PROCESSLIST "
                            "WHERE INFO = 'SELECT SLEEP(60)'") != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(direct);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    int r = row && row[0] ? atoi(row[0]) : -1;
    mysql_free_result(res);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: %s HOST WEIR_PORT DIRECT_PORT USER PASSWORD DB N GO_FILE TIMEOUT\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *user = argv[4], *pw = argv[5], *db = argv[6];
    int wport = atoi(argv[2]), dport = atoi(argv[3]);
    n = atoi(argv[7]);
    unsigned timeout = (unsigned)atoi(argv[9]);
    if (n < 1 || n > MAX_CONNS)
        return 2;
    mysql_library_init(0, NULL, NULL);
    pthread_t threads[MAX_CONNS];
    for (int i = 0; i < n; i++) {
        if (!(sleepers[i].my = login(host, wport, user, pw, db, timeout)))
            return 1;
        sleepers[i].id = mysql_thread_id(sleepers[i].my);
    }
    for (int k = 0; k < KILLERS; k++)
        if (!(killers[k] = login(host, wport, user, pw, db, timeout)))
            return 1;
    MYSQL *direct = login(host, dport, user, pw, db, timeout);
    if (!direct)
        return 1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&threads[i], NULL, sleep_one, &sleepers[i]) != 0)
            return 1;
    /* KILL only what really runs: a KILL that arrives before its query interrupts nothing. */
    double deadline = now() + timeout;
    int r;
    while ((r = running(direct)) != n && now() < deadline)
        usleep(50 * 1000);
    if (r != n) {
        fprintf(stderr, "my_kill_storm: only %d of %d queries running\n", r, n);
        return 1;
    }
    printf("running\n");
    fflush(stdout);
    while (access(argv[8], F_OK) != 0 && now() < deadline)
        usleep(20 * 1000);

    pthread_t kt[KILLERS];
    pthread_barrier_init(&barrier, NULL, KILLERS);
    for (long k = 0; k < KILLERS; k++)
        if (pthread_create(&kt[k], NULL, kill_some, (void *)(size_t)k) != 0)
            return 1;
    for (int k = 0; k < KILLERS; k++)
        pthread_join(kt[k], NULL);
    /* Each sleeper's own read timeout bounds this join. */
    int interrupted = 0, other = 0;
    double last = kill_first;
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        if (!strcmp(sleepers[i].result, "1") || !strcmp(sleepers[i].result, "error 1317")) {
            interrupted++;
        } else {
            other++;
            fprintf(stderr, "my_kill_storm: client %d (id %lu): %s\n", i, sleepers[i].id,
                    sleepers[i].result);
        }
        if (sleepers[i].ended > last)
            last = sleepers[i].ended;
        mysql_close(sleepers[i].my);
    }
    printf("my_kill_storm: n=%d interrupted=%d other=%d kill_failed=%d sent_in=%.3fs last=%.3fs\n",
           n, interrupted, other, kill_failed, kill_last - kill_first, last - kill_first);
    for (int k = 0; k < KILLERS; k++)
        mysql_close(killers[k]);
    mysql_close(direct);
    return interrupted == n && kill_failed == 0 ? 0 : 1;
}
