/*
 * my_pin.h -- what in a statement's SQL text ties a MySQL session to its
 * server connection in a way the server's session tracker does not report,
 * or reports without saying what: a user variable assigned (SET @v, @v :=,
 * INTO @v, CALL p(@v), LOAD DATA ... (@v)), and statements that keep state
 * on the connection outside a transaction (LOCK TABLES, FLUSH ... WITH READ
 * LOCK, BACKUP LOCK, HANDLER, XA, EXECUTE IMMEDIATE), and SET CHARACTER SET,
 * whose connection character set the tracker does not report. SET NAMES is
 * noted instead (names, and the COLLATE clause's name in collate): the
 * tracker reports the client's character set only, and the connection's is
 * the same, with that collation or the character set's default.
 *
 * The text passes in pieces; the state carries everything across a cut.
 * String literals, quoted identifiers and comments are skipped; MySQL's
 * executable comments (the text of a version comment, MariaDB's too) are read
 * as SQL. A misread errs towards a needless pin, with one known exception:
 * under sql_mode NO_BACKSLASH_ESCAPES a literal that ends in a backslash
 * ('C:\') is read as going on to the next quote, and what lies between is
 * not looked at.
 */
#ifndef WEIR_MY_PIN_H
#define WEIR_MY_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum my_pin_why {
    MY_PIN_NONE = 0,
    MY_PIN_USER_VAR,  /* a user variable is assigned */
    MY_PIN_STATEMENT, /* a statement that keeps connection state (LOCK TABLES, ...) */
};

struct my_pin_scan {
    uint8_t state; /* code, inside a quote, inside a comment (my_pin.c) */
    uint8_t prev;  /* previous byte of code, and the one before it */
    uint8_t prev2;
    uint8_t at;      /* after '@' (1) or "@@" (2): what the next word is */
    uint8_t var_end; /* a user variable just ended (1), then ':' followed (2) */
    uint8_t kw;      /* the statement's first keyword (my_pin.c), 0 until read */
    uint8_t words;   /* keywords seen in the statement, counted up to 2 */
    bool into;       /* the last keyword was INTO */
    bool esc;        /* a backslash inside a literal: the next byte is taken as is */
    bool star;       /* inside a comment, the last byte was '*' */
    bool version;    /* an executable comment's version number is being skipped */
    bool var_word;   /* the word being read names a variable, not a keyword */
    bool var_quoted; /* the quote being read names a user variable */
    uint8_t wlen;    /* bytes of the current word (kept up to sizeof(word)) */
    uint8_t word[10];
    uint8_t pin;        /* enum my_pin_why, once found */
    bool names;         /* a SET NAMES was seen */
    uint8_t collate_at; /* after its COLLATE: 1, then reading the name (2 plain, 3 quoted) */
    uint8_t collate_len;
    char collate[64]; /* the last SET NAMES's collation, NUL-terminated ("" = the default) */
};

/* Zero state for a new text. */
static inline void my_pin_scan_init(struct my_pin_scan *st)
{
    *st = (struct my_pin_scan){0};
}

/* Reads one more piece of the text; returns what pins (MY_PIN_NONE so far). */
enum my_pin_why my_pin_scan_feed(struct my_pin_scan *st, const uint8_t *p, size_t len);

/* Ends the text: a word at its very end counts too. */
enum my_pin_why my_pin_scan_end(struct my_pin_scan *st);

/* The same over one whole text. */
static inline enum my_pin_why my_pin_text(const uint8_t *p, size_t len)
{
    struct my_pin_scan st;
    my_pin_scan_init(&st);
    if (my_pin_scan_feed(&st, p, len))
        return (enum my_pin_why)st.pin;
    return my_pin_scan_end(&st);
}

#endif
