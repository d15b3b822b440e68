/*
 * pg_sql.h -- what a PostgreSQL query text does to the session it runs in.
 *
 * Two steps, so that ordinary queries cost one pass over their bytes:
 *
 *  - pg_sql_scan_*: a keyword scan that never misses. It looks at words only
 *    (a table of identifier bytes, one compare at the start of a word whose
 *    first letter can begin a keyword): SET, RESET, DISCARD, LISTEN, PREPARE,
 *    DECLARE, LOAD, DO ... as the first word of a statement, TEMP, pg_temp,
 *    set_config and the session advisory-lock functions anywhere. It does not
 *    track string literals, so text inside them may match (a false alarm, the
 *    parser then says "nothing"); comments keep a statement start pending and
 *    every word inside one counts as a statement start, so no comment, quote
 *    or dollar quote can hide a statement from it; a U&"..." name (escapes
 *    the words cannot read) flags the text too.
 *  - pg_sql_classify: PostgreSQL's own grammar (libpg_query) for the texts
 *    the scan flagged: the settings each statement changes, in order, and
 *    the state that cannot move to another server (temporary tables, LISTEN,
 *    SQL PREPARE, cursors WITH HOLD, session advisory locks, role changes,
 *    LOAD).
 *
 * The parser reads the text as PostgreSQL does with standard_conforming_strings
 * on and an ASCII-safe client encoding; callers treat a flagged text from a
 * client without both as a statement they cannot read (see docs/pooling.md).
 */
#ifndef WEIR_PG_SQL_H
#define WEIR_PG_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/result.h"

/* pg_sql_scan results (bits). */
#define PG_SQL_SESSION 1u /* may change the session: classify it */
#define PG_SQL_TXN     2u /* a statement may begin, end or roll back a transaction */

/* Streaming state of the keyword scan (a text may arrive in pieces). */
struct pg_sql_scan {
    char word[32];     /* the current word, lower-cased (first 31 bytes) */
    uint8_t wlen;      /* bytes of it seen, saturating at 32 */
    bool in_word;      /* inside an identifier-like word */
    bool word_lead;    /* that word is the first of a statement */
    bool wskip;        /* that word cannot matter (its first letter says so): not kept */
    bool lead;         /* only blanks and comments since the text's start or the last ';' */
    bool pend_lead;    /* lead before a '-' or '/' that may open a comment */
    uint8_t comment;   /* 0 none, 1 line comment, 2 block comment */
    bool comment_semi; /* a ';' inside the comment (it may have been no comment at all) */
    bool comment_lead; /* lead when the comment began */
    uint32_t depth;    /* block comment nesting */
    uint8_t prev;      /* the previous byte, 0 after a two-byte token */
    unsigned found;    /* PG_SQL_* bits so far */
};

void pg_sql_scan_init(struct pg_sql_scan *s);
/* Feeds the next n bytes of the text. */
void pg_sql_scan_feed(struct pg_sql_scan *s, const char *p, size_t n);
/* The text ended: PG_SQL_* bits. */
unsigned pg_sql_scan_end(struct pg_sql_scan *s);
/* The scan of a whole text at once. */
unsigned pg_sql_scan(const char *p, size_t n);

/* Why a client must keep its server: state PostgreSQL keeps per connection. */
enum pg_pin {
    PG_PIN_TEMP = 1u << 0,    /* temporary tables, views, sequences (also pg_temp.x) */
    PG_PIN_LISTEN = 1u << 1,  /* LISTEN */
    PG_PIN_PREPARE = 1u << 2, /* SQL-level PREPARE */
    PG_PIN_CURSOR = 1u << 3,  /* DECLARE ... WITH HOLD */
    PG_PIN_LOCK = 1u << 4,    /* session advisory locks (pg_advisory_lock, pg_try_advisory_lock) */
    PG_PIN_ROLE = 1u << 5,    /* SET ROLE, SET SESSION AUTHORIZATION */
    PG_PIN_LOAD = 1u << 6,    /* LOAD of a library */
    PG_PIN_SET = 1u << 7,     /* a setting weir cannot replay, or whose outcome it cannot know */
    PG_PIN_OTHER = 1u << 8,   /* a DO block touching the session, a text weir could not read */
};
#define PG_PIN_NREASONS 9
/* The short name of pin reason bit i (0..PG_PIN_NREASONS-1): "temp", "listen", ... */
const char *pg_pin_name(int i);
/* Writes the names of the reasons in mask, comma-separated, to out; returns out. */
const char *pg_pin_names(unsigned mask, char *out, size_t cap);

/* One thing a statement does to the session, in the order the statements run. */
enum pg_sql_op_kind {
    PG_OP_SET,         /* name = value (value: SQL text of the value list, literals quoted;
                          NULL for a value weir cannot write, e.g. SET TIME ZONE INTERVAL) */
    PG_OP_RESET,       /* name back to its session default (RESET, SET ... TO DEFAULT) */
    PG_OP_RESET_ALL,   /* RESET ALL */
    PG_OP_DISCARD_ALL, /* DISCARD ALL: RESET ALL, and the state behind every pin is gone */
    PG_OP_UNPIN,       /* the state behind the pin reasons in `unpin` is gone */
    PG_OP_BEGIN,       /* BEGIN, START TRANSACTION */
    PG_OP_COMMIT,      /* COMMIT, END, PREPARE TRANSACTION */
    PG_OP_ROLLBACK,    /* ROLLBACK, ABORT */
    PG_OP_ROLLBACK_TO, /* ROLLBACK TO SAVEPOINT */
};

struct pg_sql_op {
    enum pg_sql_op_kind kind;
    unsigned unpin; /* PG_OP_UNPIN: pin reasons */
    char *name;     /* PG_OP_SET, PG_OP_RESET: the setting, lower-cased (malloc) */
    char *value;    /* PG_OP_SET: e.g. "'public', 'app'" or "42" (malloc); NULL when unknown */
    bool raw;       /* value is the setting's own text (set_config), not a SET value list */
};

#define PG_SQL_MAX_OPS 64 /* more in one text: PG_PIN_SET */

struct pg_sql_effects {
    unsigned pin;  /* pin reasons the text sets whatever its outcome */
    int nstmts;    /* statements in the text */
    bool unparsed; /* the parser refused the text (the server may not) */
    int nops;
    struct pg_sql_op ops[PG_SQL_MAX_OPS];
};

/*
 * Classifies the NUL-terminated query text q (a simple Query, or the text of
 * a Parse). Fills *e (pg_sql_effects_free releases it). WR_OK, or WR_ERROR
 * when out of memory (e then holds nothing).
 */
int pg_sql_classify(const char *q, struct pg_sql_effects *e) WR_MUST_CHECK;
void pg_sql_effects_free(struct pg_sql_effects *e);

/*
 * Appends the SQL literal of value to out[*len..cap) ('...', or E'...' when
 * it holds a backslash), advancing *len past cap when it does not fit.
 */
void pg_sql_quote_literal(char *out, size_t cap, size_t *len, const char *value);
/* Appends name as a SET target: each dot-separated part a quoted identifier. */
void pg_sql_quote_name(char *out, size_t cap, size_t *len, const char *name);

#endif
