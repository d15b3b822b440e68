/*
 * main.c -- weir's entry point: command line, loading the configuration and
 * auth file (--check stops there), starting the workers with the signals
 * blocked, then the main thread's loop (admin/lifecycle.c) until shutdown.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pooler/conf/config.h"
#include "pooler/dispatch.h"
#include "pooler/admin/lifecycle.h"
#include "pooler/core/listener.h"
#include "pooler/core/log.h"
#include "pooler/core/notify.h"
#include "pooler/conf/params.h"
#include "pooler/pool/dns.h"
#include "pooler/pool/hosts.h"
#include "pooler/pool/pool.h"
#include "pooler/conf/userlist.h"
#include "pooler/core/worker.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: weir [options] CONFIG.ini\n"
               "  --check     validate the configuration and exit\n"
               "  -v          more logging (repeat for more)\n"
               "  -q          quiet: warnings and errors only\n"
               "  --version   print the version and exit\n"
               "  --help      this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'c'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},  {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0},
    };
    int check = 0, verbose = 0, quiet = 0, ch;
    while ((ch = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            check = 1;
            break;
        case 'V':
            printf("weir %s\n", WEIR_VERSION);
            return 0;
        case 'v':
            verbose++;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    char err[512];
    struct config *cfg;
    if (config_load(argv[optind], &cfg, err, sizeof(err)) != WR_OK) {
        log_error("configuration: %s", err);
        return 1;
    }
    lifecycle_log_notes(cfg);
    struct userlist *users = NULL;
    if (cfg->auth_file && userlist_load(cfg->auth_file, &users, err, sizeof(err)) != WR_OK) {
        log_error("auth_file: %s", err);
        config_free(cfg);
        return 1;
    }
    if (lifecycle_tls_configure(cfg, err, sizeof(err)) != WR_OK) {
        log_error("TLS: %s", err);
        userlist_free(users);
        config_free(cfg);
        return 1;
    }
    if (check) {
        printf("%s: configuration is valid (%d databases, %d users in auth_file)\n", cfg->path,
               cfg->ndbs, userlist_count(users));
        userlist_free(users);
        config_free(cfg);
        return 0;
    }
    /* From here on log lines follow the file's log_format, verbose, syslog. */
    weir.cfg = cfg;
    weir.users = users;
    log_set_verbosity(quiet ? -1 : verbose);
    if (cfg->track_extra_parameters) {
        char *list = strdup(cfg->track_extra_parameters), *save = NULL;
        for (char *n = list ? strtok_r(list, ", ", &save) : NULL; n;
             n = strtok_r(NULL, ", ", &save))
            if (!param_register_extra(n) && param_lookup(n) < 0)
                log_warning("track_extra_parameters: cannot track \"%s\" (at most 8)", n);
        free(list);
    }
    if (cfg->logfile && log_open_file(cfg->logfile) != 0)
        log_warning("cannot open logfile %s", cfg->logfile);

    signal(SIGPIPE, SIG_IGN);
    /* Workers inherit a mask that blocks the signals the main thread handles. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    int status = 1;
    if (dispatch_init() != WR_OK) {
        log_error("out of memory");
        goto out;
    }
    if (workers_init(err, sizeof(err)) != WR_OK) {
        log_error("%s", err);
        goto out;
    }
    if (dns_start(cfg, err, sizeof(err)) != WR_OK) {
        log_error("%s", err);
        goto out;
    }
    if (workers_start() != WR_OK)
        goto out;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    notify_ready();

    struct ev_loop *loop = ev_default_loop(EVFLAG_NOENV);
    log_info("weir %s: configuration %s, %d workers", WEIR_VERSION, cfg->path, cfg->workers);
    listener_log_all();
    lifecycle_run(loop);
    log_info("shutting down");
    dns_stop();
    workers_stop();
    dispatch_free_all();
    ev_loop_destroy(loop);
    status = 0;
out:
    listener_unix_close_all();
    dns_stop();
    dns_free_all();
    hosts_free_all();
    pools_free_all();
    userlist_free(weir.users);
    config_free((struct config *)weir.cfg);
    lifecycle_free_all();
    return status;
}
