/*
 * hosts.h -- the hosts behind the [databases] entries: one record per
 * (backend, host, port), shared by every entry and pool that names it, with
 * the host's breaker (breaker.h), its last known role and what its last login
 * said; and the walk one new server login makes over its entry's hosts.
 *
 * The walk is libpq's multi-host login done by weir: hosts in the list's
 * order (or a random one, load_balance_hosts=random), each of a name's
 * addresses in turn, until a login reaches a server that fits
 * target_session_attrs. weir remembers what it learnt, so later walks skip
 * hosts whose breaker is open (entries of more than one host; single-host
 * entries keep server_login_retry) and try hosts known not to fit last.
 * Only failures the host is to blame for count against it: a refused login
 * (SQLSTATE classes 28, 3D, 42: bad password, no such database, access
 * denied) would fail on every host alike, so it ends the walk instead.
 */
#ifndef WEIR_HOSTS_H
#define WEIR_HOSTS_H

#include <stdbool.h>

#include "pooler/conf/config.h"
#include "pooler/pool/breaker.h"
#include "pooler/pool/dns.h"

enum host_role {
    ROLE_UNKNOWN = 0,
    ROLE_PRIMARY, /* PostgreSQL: not in recovery; MySQL: read_only off */
    ROLE_STANDBY, /* PostgreSQL: in hot standby; MySQL: read_only (or innodb_read_only) on */
};

struct host; /* private to hosts.c */

/* One login's walk over its entry's hosts (embedded in the connecting server). */
struct host_walk {
    struct host *hosts[HOSTLIST_MAX];
    int n;
    enum target_attrs tsa;
    enum load_balance lb;
    bool skip_open; /* skip hosts whose breaker is open (more than one host) */
    int order[HOSTLIST_MAX];
    int norder;
    int pos;       /* next place in order */
    int pass;      /* prefer-standby: 0 standbys only, 1 any */
    unsigned down; /* hosts (bit per index) that failed in this walk */
    int cur;       /* index of the host being tried, or -1 */
    bool probe;    /* the current attempt is its host's half-open probe */
    char addrs[DNS_MAX_ADDRS][DNS_ADDRLEN];
    int naddrs;
    int addr_i;      /* the address being tried */
    char why[320];   /* what each host said, for the error when none fits */
    char error[384]; /* the last failure's text */
    char sqlstate[6];
    bool refused; /* a login was refused (not the host's fault): the walk ends */
};

enum host_walk_result {
    WALK_TRY,      /* log in to (name, addr, port) */
    WALK_WAIT_DNS, /* the next host's name is being resolved: call again after MSG_DNS */
    WALK_END,      /* nothing left: hw->error and hw->sqlstate say why */
};

/*
 * Starts a walk over db's hosts (records created on first use; they live
 * until exit). False when out of memory.
 */
bool host_walk_begin(struct host_walk *hw, const struct db_entry *db, double now);
/*
 * The next host and address to try. On WALK_TRY *name is the host as
 * written (for libpq's host=, TLS and logs), *addr the numeric address to
 * connect to (the name itself when numeric or a socket path), *port its port.
 */
enum host_walk_result host_walk_next(struct host_walk *hw, double now, const char **name,
                                     const char **addr, int *port);
/* The attempt at the current address failed with sqlstate and text. */
void host_walk_failed(struct host_walk *hw, double now, const char *sqlstate, const char *text);
/*
 * Logged in at the current host, whose role the server just told (ROLE_UNKNOWN
 * when it was not asked: target_session_attrs=any on MySQL): true when it
 * fits target_session_attrs (the walk ends there), false when the caller
 * must close it and go on.
 */
bool host_walk_connected(struct host_walk *hw, double now, enum host_role role, bool read_only);
/*
 * server_connect_timeout passed: the current attempt, or the wait for the
 * next host's name, failed with text.
 */
void host_walk_timeout(struct host_walk *hw, double now, const char *text);
/* weir gave the login up itself (KILL, PAUSE, shutdown): nothing counts against the host. */
void host_walk_abandon(struct host_walk *hw, double now);
/* The host the walk is at (its current attempt), or NULL. */
struct host *host_walk_host(const struct host_walk *hw);
/* WALK_WAIT_DNS: the name being resolved. */
const char *host_walk_waiting_for(const struct host_walk *hw);

/* "name:port" of h (a string that lives as long as h). */
const char *host_label(const struct host *h);
/* h's name as configured, and its port (fixed for h's life). */
const char *host_name(const struct host *h);
int host_port(const struct host *h);
/*
 * A server of h reported its role again (ParameterStatus in_hot_standby,
 * default_transaction_read_only): records a change and says whether the
 * server still fits tsa. NULL values leave that part as it was.
 */
bool host_still_fits(struct host *h, enum target_attrs tsa, const char *in_hot_standby,
                     const char *read_only);
/*
 * True when db has more than one host and every one is down (breaker open,
 * no probe due): new clients get text (why) at once instead of waiting.
 */
bool hosts_all_down(const struct db_entry *db, double now, char *text, size_t len);

/* One host, for SHOW HOSTS and /metrics. */
struct host_row {
    char host[256];
    int port;
    enum backend_kind kind;
    enum breaker_state state;
    int failures;         /* consecutive */
    long long logins;     /* successful logins */
    long long failed;     /* failed attempts, all time */
    double next_probe_in; /* seconds until a probe may go (open), else 0 */
    enum host_role role;
    bool read_only;
    char addr[DNS_ADDRLEN]; /* the address of the last attempt */
    char last_error[256];
};
/* Every host record (*out malloc'ed); count, -1 when out of memory. */
int hosts_rows(double now, struct host_row **out);
const char *host_role_name(enum host_role r);
/* Frees every record (at exit). */
void hosts_free_all(void);

#endif
