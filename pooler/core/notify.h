/*
 * notify.h -- a tiny sd_notify(3) without libsystemd: tells systemd (or any
 * supervisor that sets $NOTIFY_SOCKET) that weir is ready, reloading or
 * stopping, and what it is doing.
 *
 * Each call sends one datagram to the unix socket named by $NOTIFY_SOCKET (a
 * path, or an abstract-namespace name when it starts with '@'). Without
 * $NOTIFY_SOCKET the calls do nothing and return 0. Callable from any thread.
 */
#ifndef WEIR_NOTIFY_H
#define WEIR_NOTIFY_H

/*
 * Sends state (newline-separated KEY=VALUE assignments, e.g. "READY=1").
 * Returns 1 when sent, 0 when $NOTIFY_SOCKET is not set, -1 on error (errno).
 */
int notify_send(const char *state);
/* READY=1 with MAINPID: start-up is done, workers are accepting. */
int notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC= (systemd >= 253 wants both for Type=notify-reload). */
int notify_reloading(void);
/* STOPPING=1: shutdown has started. */
int notify_stopping(void);
/* STATUS=<text>: a one-line status shown by systemctl status. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
