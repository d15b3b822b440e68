/*
 * lifecycle.h -- the daemon-wide operations an operator triggers: reload the
 * configuration, change one setting, shut down. Signals (main thread) and the
 * admin console (any worker) both come here, so the two behave alike.
 *
 * Each function may be called from any thread.
 */
#ifndef WEIR_LIFECYCLE_H
#define WEIR_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "pooler/core/worker.h"
#include "protocol/result.h"

/*
 * Re-reads the configuration file and auth_file (SIGHUP, RELOAD). On success
 * the new settings take effect for every pool without dropping clients. On
 * WR_ERROR nothing changes and err holds the reason.
 */
int weir_reload(char *err, size_t errlen) WR_MUST_CHECK;

/*
 * Changes one [weir] setting at run time (console SET key = value), as if
 * the file said so, until the next reload. WR_ERROR with err for an unknown
 * key, a bad value, or a key that only takes effect at start.
 */
int weir_set(const char *key, const char *value, char *err, size_t errlen) WR_MUST_CHECK;

/* Starts a shutdown; a stronger mode overrides a weaker one already running. */
void weir_shutdown(enum shutdown_mode mode);

/* The shutdown in progress, SHUTDOWN_NONE while running normally. */
enum shutdown_mode weir_shutdown_mode(void);

/*
 * The main thread's part: handles the signals (SIGHUP reload, SIGTERM,
 * SIGINT, SIGQUIT) and shutdown requests on loop until weir should exit.
 */
struct ev_loop;
void lifecycle_run(struct ev_loop *loop);
/* Logs the warnings loading cfg collected (cfg->notes), one line each. */
void lifecycle_log_notes(const struct config *cfg);
/* Frees the configurations reloads replaced (at exit, after the workers stopped). */
void lifecycle_free_all(void);

/*
 * Loads the client TLS context from cfg's client_tls_* (certificates read
 * now) and checks server_tls_*; at start and on every reload. WR_ERROR with
 * err: the running TLS settings stay.
 */
int lifecycle_tls_configure(const struct config *cfg, char *err, size_t errlen);

#endif
