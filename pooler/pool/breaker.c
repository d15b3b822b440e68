/* breaker.c -- the per-host circuit breaker's state machine (see breaker.h). */
#include "pooler/pool/breaker.h"

bool breaker_allow(struct breaker *b, double now, bool *probe)
{
    *probe = false;
    switch (b->state) {
    case BREAKER_CLOSED:
        return true;
    case BREAKER_OPEN:
        if (now < b->next_probe)
            return false;
        b->state = BREAKER_HALF_OPEN;
        *probe = true;
        return true;
    case BREAKER_HALF_OPEN:
        return false;
    }
    return false;
}

bool breaker_would_allow(const struct breaker *b, double now)
{
    return b->state == BREAKER_CLOSED || (b->state == BREAKER_OPEN && now >= b->next_probe);
}

void breaker_success(struct breaker *b)
{
    b->state = BREAKER_CLOSED;
    b->failures = 0;
    b->opens = 0;
    b->next_probe = 0;
}

bool breaker_failure(struct breaker *b, const struct breaker_conf *c, double now, double jitter01)
{
    b->failures++;
    if (b->state == BREAKER_CLOSED && b->failures < c->threshold)
        return false;
    /* A failed probe, a failure while open (a login that started before), or the threshold. */
    bool opened = b->state != BREAKER_OPEN;
    if (b->state != BREAKER_OPEN || now >= b->next_probe) {
        b->opens++;
        double d = c->backoff;
        for (int i = 1; i < b->opens && d < c->backoff_max; i++)
            d *= 2;
        d *= 0.8 + 0.4 * jitter01;
        if (d > c->backoff_max)
            d = c->backoff_max;
        b->next_probe = now + d;
    }
    b->state = BREAKER_OPEN;
    return opened;
}

void breaker_abandon(struct breaker *b, double now)
{
    if (b->state == BREAKER_HALF_OPEN) {
        b->state = BREAKER_OPEN;
        b->next_probe = now;
    }
}

const char *breaker_state_name(enum breaker_state s)
{
    static const char *const names[] = {"closed", "open", "half-open"};
    return names[s];
}
