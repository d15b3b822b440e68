/*
 * iplimit.h -- per-client-address limits, shared by every worker: open
 * connections (max_client_conn_per_ip), a token bucket on new connections
 * (client_conn_rate, client_conn_burst) and a ban after failed logins
 * (auth_failure_limit, _window, _ban). Also the daemon-wide counters of
 * refused connections by reason, for the console and /metrics.
 *
 * Cost: one lookup under one mutex when a connection is admitted, one when
 * it closes (only for those it counted) and one per failed login; nothing
 * per message. With every limit off, admitting takes no lock at all.
 *
 * Memory: one entry per address with open connections (bounded by the
 * client count) plus at most IPLIMIT_MAX_IDLE entries of addresses without
 * any, kept for their bucket, failures or ban: the least recently seen is
 * dropped first when the cap is reached, and the sweep frees those whose
 * state has run out.
 */
#ifndef WEIR_IPLIMIT_H
#define WEIR_IPLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define IPLIMIT_MAX_IDLE 65536

enum iplimit_reason {
    IPLIMIT_OK = 0,
    IPLIMIT_PER_IP,  /* max_client_conn_per_ip reached */
    IPLIMIT_RATE,    /* over client_conn_rate */
    IPLIMIT_BANNED,  /* auth_failure_limit failed logins: banned for auth_failure_ban */
    IPLIMIT_PENDING, /* max_pending_logins reached (daemon-wide; counted here) */
    IPLIMIT_PROXY,   /* PROXY header missing, malformed, or from outside proxy_protocol_networks */
    IPLIMIT_NREASONS,
};

/* "conn_per_ip", "conn_rate", "auth_failures", "pending_logins", "proxy_header" ("" for OK). */
const char *iplimit_reason_name(enum iplimit_reason r);

/* Sets up the table (a random hash seed). Call once before workers start. */
void iplimit_init(void);
/* Frees every entry (at exit, once no worker runs). */
void iplimit_free_all(void);

/*
 * A new connection from (family AF_INET/AF_INET6, ip: 4 or 16 bytes) at time
 * now (seconds, wall clock) under the current limits. IPLIMIT_OK, with
 * *counted true when the connection is now counted against its address
 * (iplimit_release must follow at its close); or the reason it is refused,
 * counted, with *until the time the refusal ends (0: when a connection of
 * the address closes).
 */
enum iplimit_reason iplimit_admit(int family, const uint8_t *ip, double now, bool *counted,
                                  double *until);
/* A connection iplimit_admit counted has closed. */
void iplimit_release(int family, const uint8_t *ip, double now);
/*
 * A login from the address failed (wrong password, unknown user). True when
 * it was the failure that banned the address (until *until).
 */
bool iplimit_auth_failure(int family, const uint8_t *ip, double now, double *until);
/* Counts a refusal decided elsewhere (IPLIMIT_PENDING, IPLIMIT_PROXY). */
void iplimit_count(enum iplimit_reason r);

/* Refusals by reason since start (index IPLIMIT_OK unused). */
void iplimit_refusals(uint64_t out[IPLIMIT_NREASONS]);

/* One address currently limited, for SHOW LIMITS. */
struct iplimit_row {
    uint8_t ip[16];
    int family;
    enum iplimit_reason reason;
    double until; /* 0: until one of its connections closes */
    int conns;    /* its open connections */
    int failures; /* failed logins in the current window */
    uint64_t refused;
};
/*
 * The addresses limited at time now: one row per address and reason, in
 * *out (malloc'ed; free it). Returns the count, -1 when out of memory.
 * *entries gets the number of addresses the table holds.
 */
int iplimit_snapshot(double now, struct iplimit_row **out, int *entries);
/* Frees the entries of idle addresses whose bucket, failures and ban have run out. */
void iplimit_sweep(double now);

#endif
