/*
 * admin_int.h -- what the admin console's files share: admin.c (login,
 * commands, input), admin_show.c (the rows of every SHOW), admin_job.c (work
 * posted to every worker, waits for servers to go), admin_wire.c (results and
 * their two encoders). Not for other modules: they use admin.h.
 */
#ifndef WEIR_ADMIN_INT_H
#define WEIR_ADMIN_INT_H

#include "pooler/admin/admin.h"

enum job_kind {
    JOB_CLIENTS,    /* SHOW CLIENTS: rows of each worker's clients */
    JOB_SERVERS,    /* SHOW SERVERS */
    JOB_CLOSE_IDLE, /* PAUSE, RECONNECT: idle servers that must go, go */
    JOB_KILL,       /* KILL: clients and servers of the database(s) */
    JOB_KILL_CLIENT /* KILL_CLIENT id */
};

enum wait_kind { WAIT_NOTHING = 0, WAIT_PAUSE, WAIT_CLOSE };

struct admin_job {
    struct list all_node; /* on all_jobs [jobs_lock] */
    enum job_kind kind;
    enum wait_kind then_wait; /* after the workers' part: wait for servers to go */
    pthread_mutex_t lock;
    int pending;           /* workers that have not run their part [lock] */
    struct worker *origin; /* the console client's worker */
    struct client *client; /* NULL once the console client left [origin only] */
    bool all;              /* every database */
    char db[64];
    uint64_t id;
    int found; /* KILL_CLIENT [lock] */
    struct admin_result res;
    /* waiting (PAUSE, WAIT_CLOSE) [wait_lock] */
    struct admin_job *wait_next;
    bool waiting;
    bool notified; /* a MSG_ADMIN_CHECK is on its way */
};

/* ---- results (admin_wire.c) ---- */

void admin_res_init(struct admin_result *r);
/* Frees the cells and empties r. */
void admin_res_clear(struct admin_result *r);
/* Sets the columns (and the tag SHOW). */
void admin_res_cols(struct admin_result *r, const struct admin_col *cols, int n);
void admin_res_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends a cell (v copied; NULL = SQL NULL); out of memory sets r->failed. */
void admin_cell(struct admin_result *r, const char *v);
void admin_cell_int(struct admin_result *r, long long v);
void admin_cell_u64(struct admin_result *r, uint64_t v);
/* Copies the rows of src to the end of dst (same columns). */
void admin_res_take_rows(struct admin_result *dst, struct admin_result *src);

/* ---- SHOW (admin_show.c); each fills r with its columns and rows ---- */

extern const char admin_help_text[];
#define ADMIN_NCONN_COLS 22
/* SHOW CLIENTS and SHOW SERVERS: PgBouncer's columns, then id, backend, worker. */
extern const struct admin_col admin_conn_cols[ADMIN_NCONN_COLS];
enum stats_view { VIEW_STATS, VIEW_TOTALS, VIEW_AVERAGES };
void admin_show_pools(struct admin_result *r);
void admin_show_stats(struct admin_result *r, enum stats_view v);
void admin_show_databases(struct admin_result *r);
void admin_show_users(struct admin_result *r);
void admin_show_config(struct admin_result *r);
void admin_show_lists(struct admin_result *r);
void admin_show_mem(struct admin_result *r);
void admin_show_version(struct admin_result *r);
void admin_show_state(struct admin_result *r);
void admin_show_hosts(struct admin_result *r);
void admin_show_dns_hosts(struct admin_result *r);
void admin_show_limits(struct admin_result *r);
/* Rows of worker w's own clients / servers (run on w). */
void admin_rows_clients(struct worker *w, struct admin_result *r);
void admin_rows_servers(struct worker *w, struct admin_result *r);

/* ---- jobs (admin_job.c) ---- */

/* A job for console client c on database db (NULL: every database); NULL out of memory. */
struct admin_job *admin_job_new(struct client *c, enum job_kind kind, const char *db);
/* Posts the job to every worker; c reads nothing more until it is answered. */
void admin_job_start(struct client *c, struct admin_job *job);

/* ---- admin.c ---- */

bool admin_is_my(const struct client *c);
/* Writes the result for c and flushes. False when c was closed (write error). */
bool admin_answer(struct client *c, struct admin_result *r);

#endif
