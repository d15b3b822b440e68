/*
 * sendonce.h -- a few bytes sent to an address on a new connection, which is
 * then closed: connect, write, close, without blocking the loop and without
 * waiting for an answer (a cancel request forwarded to a peer).
 */
#ifndef WEIR_SENDONCE_H
#define WEIR_SENDONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <ev.h>

/* The most bytes one send may carry. */
#define SENDONCE_MAX 64

/*
 * Starts sending data (n <= SENDONCE_MAX bytes, copied) to sa on loop; what
 * names the send in log lines. Gives up after timeout seconds. False (and a
 * log line) when it could not even start; every later failure is logged.
 */
bool send_once(struct ev_loop *loop, const struct sockaddr *sa, socklen_t salen, const void *data,
               size_t n, double timeout, const char *what);

#endif
