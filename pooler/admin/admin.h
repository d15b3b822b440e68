/*
 * admin.h -- the admin console: the virtual database `weir` (alias
 * `pgbouncer`) on both ports. One place runs the commands (admin.c) and
 * computes their rows (admin_show.c); two small encoders write them as
 * PostgreSQL or MySQL result sets (admin_wire.c).
 *
 * Commands that need other workers' clients and servers (SHOW CLIENTS,
 * SHOW SERVERS, KILL, KILL_CLIENT, closing idle servers for PAUSE and
 * RECONNECT) post a job to every worker's inbox; each worker does its part
 * on its own objects and the last one posts the job back to the console
 * client's worker, which answers. PAUSE and WAIT_CLOSE then wait for the
 * servers to go: every server freed calls admin_notify(), which wakes the
 * waiting consoles (no polling).
 */
#ifndef WEIR_ADMIN_H
#define WEIR_ADMIN_H

#include "pooler/session/client.h"

/*
 * A console client c authenticated (auth bytes already queued): checks
 * admin_users / stats_users, refuses the login ("not allowed") or welcomes
 * it (ParameterStatus/ReadyForQuery, or MySQL's OK) and puts it in CL_ADMIN.
 */
void admin_login(struct client *c);
/* Input arrived from a console client (c->in holds it): PostgreSQL or MySQL framing. */
void admin_input(struct client *c);
/* A console client is being freed: forget it in a job still running for it. */
void admin_client_gone(struct client *c);

/* Worker side of the jobs (the inbox messages dispatch.c hands over). */
void admin_job_run(struct worker *w, struct admin_job *job);
void admin_job_done(struct worker *w, struct admin_job *job);
void admin_wait_check(struct worker *w, struct admin_job *job);
/* At exit, after the workers stopped: frees the jobs a stop interrupted. */
void admin_free_all(void);
/* Servers of some pool went away: wake the consoles waiting in PAUSE or WAIT_CLOSE. */
void admin_notify(void);
/* Fills h with the console's entry points that sessions call (console_hooks). */
void admin_hooks_fill(struct console_hooks *h);

/* ---- results, shared by the commands and the two encoders ---- */

enum admin_type { ADMIN_TEXT = 0, ADMIN_INT4, ADMIN_NUMERIC };

struct admin_col {
    const char *name;
    enum admin_type type;
};

#define ADMIN_MAX_COLS 32

struct admin_result {
    int ncols;
    struct admin_col cols[ADMIN_MAX_COLS];
    char **cells; /* row-major, ncols per row; NULL = SQL NULL */
    size_t ncells;
    size_t cap;
    bool failed;       /* out of memory */
    char tag[64];      /* command tag; empty with an error */
    char notice[1200]; /* a NOTICE before the result (SHOW HELP) */
    char sqlstate[6];  /* set: the command failed with error */
    char error[320];
};

/* PostgreSQL: NoticeResponse, RowDescription, DataRows, CommandComplete or ErrorResponse. */
void admin_write_pg(struct pg_out *o, const struct admin_result *r);
/* MySQL: a text result set (column defs, EOF, rows, EOF), an OK or an ERR; seq starts at 1. */
void admin_write_my(struct pg_out *o, const struct admin_result *r, uint64_t caps);
/* A MySQL error code for a console SQLSTATE. */
uint16_t admin_my_errno(const char *sqlstate);

#endif
