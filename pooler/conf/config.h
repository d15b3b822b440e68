/*
 * config.h -- weir's configuration: the INI file (PgBouncer-compatible names)
 * parsed with libinih into an immutable struct config.
 *
 * Sections: [databases] (name = "key=value ..." connection settings),
 * [weir] (also accepted as [pgbouncer] so a pgbouncer.ini moves over),
 * [users] (name = "pool_mode=... pool_size=..." per-user overrides).
 *
 * The [weir] keys are listed once, in the table of conf/keys.c (name, kind,
 * field, reloadable, default): a new key is a field below and a row there.
 */
#ifndef WEIR_CONFIG_H
#define WEIR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "pooler/conf/hba.h"
#include "pooler/conf/hostlist.h"
#include "pooler/conf/netlist.h"
#include "protocol/result.h"

enum pool_mode { POOL_SESSION = 0, POOL_TRANSACTION = 1, POOL_STATEMENT = 2 };
/* hba: per connection, from auth_hba_file (hba.h); cert: the client certificate's CN is the user.
 */
enum auth_type {
    AUTH_TRUST = 0,
    AUTH_PLAIN = 1,
    AUTH_MD5 = 2,
    AUTH_SCRAM = 3,
    AUTH_HBA = 4,
    AUTH_CERT = 5,
};
enum backend_kind { BACKEND_POSTGRES = 0, BACKEND_MYSQL = 1 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Entries a configuration makes from its "*" entries at most (one per database name asked). */
#define AUTODB_MAX 10000

struct autodbs;

/* sslmode values (client_tls_sslmode, server_tls_sslmode): PgBouncer's and libpq's names. */
enum tls_mode {
    TLS_DISABLE = 0,
    TLS_ALLOW,
    TLS_PREFER,
    TLS_REQUIRE,
    TLS_VERIFY_CA,
    TLS_VERIFY_FULL,
};

struct db_entry {
    char *name;              /* the name clients ask for */
    char *host;              /* as written: one host or a comma-separated list (hostlist.h) */
    int port;                /* the first host's port: default 5432, or 3306 for backend=mysql */
    bool port_set;           /* given in the entry */
    char *ports;             /* port= as written (one, or one per host), or NULL */
    struct host_spec *hosts; /* host= split: numeric addresses, names, socket paths */
    int nhosts;
    enum target_attrs target_session_attrs; /* which servers a login accepts */
    enum load_balance load_balance_hosts;   /* order of the hosts for each new login */
    char *dbname;                           /* database on the server; defaults to name */
    char *user;                             /* forced login user, or NULL: the client's own */
    char *password;                         /* password of the forced user, or NULL */
    int pool_size;                          /* -1: default_pool_size */
    int pool_mode;                          /* -1: global pool_mode */
    int min_pool_size;                      /* -1: global min_pool_size */
    int reserve_pool_size;                  /* -1: global reserve_pool_size */
    int max_db_connections;                 /* -1: global max_db_connections */
    int server_tls_sslmode;                 /* -1: global server_tls_sslmode (enum tls_mode) */
    char *auth_user;                        /* this database's auth_user, or NULL: the global */
    char *auth_dbname;                      /* this database's auth_dbname, or NULL: the global */
    enum backend_kind backend;
};

/* Peer ids go in the top byte of cancel keys; the worker then has 6 bits (session/client.c). */
#define PEER_ID_MAX      255
#define PEER_MAX_WORKERS 63

/* Another weir of the group ([peers]): where its cancel requests go. */
struct peer_entry {
    int id;
    char *host; /* as written: an address, a name or a unix socket directory */
    int port;
    struct sockaddr_storage addr; /* resolved when the file was loaded */
    socklen_t addrlen;
};

struct user_entry {
    char *name;
    int pool_mode;            /* -1: unset */
    int pool_size;            /* -1: unset */
    int max_user_connections; /* -1: unset */
};

struct config {
    char *path;
    char *listen_addr;
    int listen_port;
    int mysql_listen_port;   /* 0 = off */
    char *unix_socket_dir;   /* directory of the unix sockets; "" = none (default /tmp) */
    int unix_socket_mode;    /* their file mode (default 0777) */
    char *unix_socket_group; /* group to give them, or NULL: the process's own */
    enum auth_type auth_type;
    char *auth_file;
    char *auth_hba_file;    /* auth_type = hba: the rules */
    struct hba *hba;        /* parsed from it by config_check (shared by copies) */
    char *auth_user;        /* who weir logs in as to look users up and to switch to them */
    char *mysql_auth_query; /* MySQL: the lookup ('?' is the user); "" = none */
    char *auth_query;       /* PostgreSQL: the lookup ($1 is the user); "" = none */
    char *auth_dbname;      /* PostgreSQL: the entry the lookup logs in to; NULL: the client's */
    int auth_query_cache_seconds; /* how long looked-up secrets are used again */
    char *admin_users;
    char *stats_users;
    enum pool_mode pool_mode;
    int default_pool_size;
    int max_client_conn;
    int workers; /* resolved: never 0 after config_load */
    char *server_reset_query;
    double client_login_timeout;
    double query_wait_timeout;
    double server_connect_timeout;
    double server_login_retry;
    double server_idle_timeout;
    double server_lifetime;
    double server_check_delay;
    char *server_check_query;
    int server_reset_query_always;
    double client_idle_timeout;
    double query_timeout;
    double idle_transaction_timeout;
    int min_pool_size;
    int reserve_pool_size;
    double reserve_pool_timeout;
    int max_db_connections;      /* 0 = no limit */
    int max_user_connections;    /* 0 = no limit */
    int max_prepared_statements; /* per server connection; 0 = statements pass through untouched */
    char *track_extra_parameters;
    int log_connections;
    int log_disconnections;
    int log_pooler_errors;
    int verbose;
    char *logfile;
    enum log_format log_format;
    int syslog;             /* also log to syslog */
    char *notes;            /* warnings from loading ("line\n" each) for the caller to log */
    char *syslog_ident;     /* default "weir" */
    char *syslog_facility;  /* default "daemon" */
    char *metrics_addr;     /* default: listen_addr */
    int metrics_port;       /* Prometheus /metrics, 0 = off */
    double stats_period;    /* seconds between SHOW STATS_AVERAGES updates */
    int allow_local_infile; /* MySQL LOAD DATA LOCAL INFILE passes through when set */
    /* Host names and host lists (pool/hosts.c, pool/dns.c). */
    double dns_max_ttl;              /* ceiling of a cached answer's TTL */
    double dns_nxdomain_ttl;         /* how long a failed lookup is remembered */
    char *dns_nameservers;           /* "addr[:port],...", or "": the system's resolv.conf */
    int host_breaker_failures;       /* consecutive failures that open a host's breaker */
    double host_breaker_backoff;     /* first back-off of an open breaker (doubles, with jitter) */
    double host_breaker_backoff_max; /* its ceiling */
    /* The edge: PROXY protocol and per-address limits (docs/edge.md). */
    char *proxy_protocol_networks; /* as written; "" = off */
    struct netlist proxy_nets;     /* parsed from it by config_check */
    int max_client_conn_per_ip;    /* 0 = no limit */
    double client_conn_rate;       /* new connections per second per address; 0 = off */
    int client_conn_burst;         /* bucket size; 0 = one second's worth (at least 1) */
    int auth_failure_limit;        /* failed logins within the window that ban; 0 = off */
    double auth_failure_window;    /* seconds */
    double auth_failure_ban;       /* seconds */
    int max_pending_logins;        /* connected, not yet authenticated, daemon-wide; 0 = no limit */
    /* TLS (docs/tls.md): clients of both ports, and the connectors' logins to servers. */
    int client_tls_sslmode; /* enum tls_mode */
    char *client_tls_key_file;
    char *client_tls_cert_file;
    char *client_tls_ca_file;
    char *client_tls_protocols;
    char *client_tls_ciphers;
    int server_tls_sslmode; /* enum tls_mode; a [databases] entry may override it */
    char *server_tls_ca_file;
    char *server_tls_key_file;
    char *server_tls_cert_file;
    char *server_tls_protocols;
    char *server_tls_ciphers;
    int peer_id;              /* this process in its [peers] group; 0 = no peering */
    struct peer_entry *peers; /* [peers] */
    int npeers;
    char *mysql_default_database; /* MySQL: entry of a client that logged in without one */
    struct db_entry *dbs;
    int ndbs;
    struct user_entry *users;
    int nusers;
    struct autodbs *autodbs; /* entries made from a "*" entry (autodb.c), or NULL */
};

/*
 * Loads and validates a configuration file. On WR_ERROR, err holds the reason
 * (file, line, key) and nothing is allocated. The result is freed with
 * config_free.
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen) WR_MUST_CHECK;
void config_free(struct config *cfg);
/* A deep copy (for run-time changes), or NULL when out of memory. */
struct config *config_dup(const struct config *cfg);
/*
 * Sets one [weir] key as if the file said "key = value". WR_ERROR with err
 * for an unknown key or a bad value; cfg is then unchanged except perhaps
 * that key.
 */
int config_set(struct config *cfg, const char *key, const char *value, char *err,
               size_t errlen) WR_MUST_CHECK;

const struct db_entry *config_find_db(const struct config *cfg, const char *name);
/* The [peers] entry of peer id, or NULL. */
const struct peer_entry *config_find_peer(const struct config *cfg, int id);
/*
 * The entry that serves database `name` to a client of `kind`: the entry of
 * that name (of either kind, so the caller can say which port serves it),
 * else one made from the "*" entry of that kind, with name and dbname set to
 * `name` and the rest as the "*" entry says. Made entries stay with cfg (one
 * per name, at most AUTODB_MAX) until cfg is freed; safe from any thread.
 * NULL when neither exists, for the name "*" itself, or out of memory.
 */
const struct db_entry *config_find_db_for(const struct config *cfg, const char *name,
                                          enum backend_kind kind);
/* Is db a "*" entry? */
bool config_db_is_wildcard(const struct db_entry *db);
const struct user_entry *config_find_user(const struct config *cfg, const char *name);

/* Effective limits for a database and user. */
int config_pool_size(const struct config *cfg, const struct db_entry *db,
                     const struct user_entry *u);
int config_min_pool_size(const struct config *cfg, const struct db_entry *db);
int config_reserve_pool_size(const struct config *cfg, const struct db_entry *db);
int config_max_db_connections(const struct config *cfg, const struct db_entry *db);
int config_max_user_connections(const struct config *cfg, const struct user_entry *u);
enum pool_mode config_pool_mode(const struct config *cfg, const struct db_entry *db,
                                const struct user_entry *u);

const char *config_pool_mode_name(enum pool_mode m);
/* The sslmode a database's servers are logged in with (its own, else server_tls_sslmode). */
enum tls_mode config_server_tls_mode(const struct config *cfg, const struct db_entry *db);
/* A database's auth_user and auth_dbname (its own, else the global one), or NULL for none. */
const char *config_auth_user(const struct config *cfg, const struct db_entry *db);
const char *config_auth_dbname(const struct config *cfg, const struct db_entry *db);
/* The enum tls_mode called name ("disable" ... "verify-full"), or -1. */
int config_parse_tls_mode(const char *name);
/* The name of sslmode m. */
const char *config_tls_mode_name(enum tls_mode m);
/* True when a and b log in to servers with the same server_tls_* settings. */
bool config_same_server_tls(const struct config *a, const struct config *b);

/*
 * Calls fn for every [weir] key with its current value as text, in the
 * order of the reference; reloadable is false for keys that take effect
 * only at start (listening sockets, workers).
 */
void config_each(const struct config *cfg,
                 void (*fn)(void *arg, const char *key, const char *value, bool reloadable),
                 void *arg);

#endif
