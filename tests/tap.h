/*
 * tap.h -- a minimal Test Anything Protocol emitter for weir's C tests.
 *
 * Usage: plan(N) or no_plan(); ok(cond, fmt, ...); is_int(got, want, name);
 * is_str(got, want, name); done_testing() returns the exit status.
 */
#ifndef WEIR_TAP_H
#define WEIR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}

static inline void no_plan(void)
{
    tap_planned = -1;
}

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_run++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

static inline int __attribute__((format(printf, 2, 3))) ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

#define is_int(got, want, name)                                                                    \
    do {                                                                                           \
        long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                           \
        if (!ok(tap_g_ == tap_w_, "%s", name))                                                     \
            diag("  got: %lld, expected: %lld", tap_g_, tap_w_);                                   \
    } while (0)

#define is_str(got, want, name)                                                                    \
    do {                                                                                           \
        const char *tap_g_ = (got), *tap_w_ = (want);                                              \
        int tap_eq_ = (tap_g_ && tap_w_) ? strcmp(tap_g_, tap_w_) == 0 : tap_g_ == tap_w_;         \
        if (!ok(tap_eq_, "%s", name))                                                              \
            diag("  got: '%s', expected: '%s'", tap_g_ ? tap_g_ : "(null)",                        \
                 tap_w_ ? tap_w_ : "(null)");                                                      \
    } while (0)

/* Call at the end of main: prints the plan if none was given, returns exit status. */
static inline int done_testing(void)
{
    if (tap_planned < 0 || tap_planned == 0)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run)
        printf("# planned %d tests but ran %d\n", tap_planned, tap_run);
    if (tap_failed)
        printf("# failed %d of %d tests\n", tap_failed, tap_run);
    return (tap_failed || (tap_planned > 0 && tap_planned != tap_run)) ? 1 : 0;
}

#endif
