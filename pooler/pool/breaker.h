/*
 * breaker.h -- a circuit breaker per database host: consecutive connect or
 * login failures open it, so logins skip the host for a back-off that grows
 * (doubling, with jitter) up to a ceiling; then one login probes it
 * (half-open); a success closes it, a failure opens it again for longer.
 * Pure state and time: the caller holds the lock and passes the clock.
 */
#ifndef WEIR_BREAKER_H
#define WEIR_BREAKER_H

#include <stdbool.h>

enum breaker_state {
    BREAKER_CLOSED = 0, /* logins go ahead */
    BREAKER_OPEN,       /* logins skip the host until next_probe */
    BREAKER_HALF_OPEN,  /* one probe login is on its way; others skip the host */
};

struct breaker_conf {
    int threshold;      /* consecutive failures that open it (>= 1) */
    double backoff;     /* first open period, seconds */
    double backoff_max; /* ceiling of the open period */
};

struct breaker {
    enum breaker_state state;
    int failures;      /* consecutive failures (all states) */
    int opens;         /* times opened since it was last closed: the back-off's exponent */
    double next_probe; /* OPEN: when a probe may go */
};

/*
 * May a login try the host at time now? In OPEN once next_probe has come,
 * the answer is yes for this caller only: the breaker turns HALF_OPEN and
 * *probe is set, and the caller must report the outcome (success, failure
 * or abandon).
 */
bool breaker_allow(struct breaker *b, double now, bool *probe);
/* A login to the host succeeded: closed, failures forgotten. */
void breaker_success(struct breaker *b);
/*
 * A connect or login failed at time now; jitter01 in [0, 1) spreads the
 * back-off (0.8 to 1.2 times the doubled period, capped at backoff_max).
 * Returns true when this failure opened the breaker.
 */
bool breaker_failure(struct breaker *b, const struct breaker_conf *c, double now, double jitter01);
/* A probe weir gave up itself (not the host's fault): another may probe now. */
void breaker_abandon(struct breaker *b, double now);
/* Would a login be allowed at now (without taking the probe)? */
bool breaker_would_allow(const struct breaker *b, double now);
const char *breaker_state_name(enum breaker_state s);

#endif
