/*
 * dispatch.h -- the top of the daemon wires the layers together: what each
 * worker does with its inbox messages, sweeps and accepted connections, and
 * the callbacks through which pool/ and session/ reach the layers above them.
 */
#ifndef WEIR_DISPATCH_H
#define WEIR_DISPATCH_H

#include "protocol/result.h"

/* Fills every layer's hooks; call once before workers_init. WR_ERROR when out of memory. */
int dispatch_init(void) WR_MUST_CHECK;
/* After workers_stop: frees what the stop interrupted (console jobs, statistics). */
void dispatch_free_all(void);

#endif
