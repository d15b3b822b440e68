/*
 * my_pin.c -- the scan of my_pin.h: a small lexer that follows quotes and
 * comments byte by byte in code, and skips the inside of literals and
 * comments with memchr (bulk INSERTs are mostly literals).
 */
#include "protocol/mysql/my_pin.h"

#include <string.h>
#include <strings.h>

enum { S_CODE = 0, S_SQ, S_DQ, S_BT, S_LINE, S_BLOCK, S_OPEN, S_OPEN_M };

/* First keywords that matter. */
enum {
    KW_NONE = 0,
    KW_OTHER,
    KW_SET,     /* SET @v = ..., and SET sql_mode = @v too: any user variable pins */
    KW_CALL,    /* CALL p(@out) */
    KW_LOAD,    /* LOAD DATA ... (@col) SET c = @col */
    KW_EXECUTE, /* EXECUTE IMMEDIATE runs text this scan cannot see */
    KW_HOLDS,   /* LOCK, FLUSH, BACKUP, HANDLER, XA: state outside a transaction */
};

static const struct {
    const char *name;
    uint8_t kw;
} first_words[] = {
    {"SET", KW_SET},         {"CALL", KW_CALL},     {"LOAD", KW_LOAD},
    {"EXECUTE", KW_EXECUTE}, {"LOCK", KW_HOLDS},    {"FLUSH", KW_HOLDS},
    {"BACKUP", KW_HOLDS},    {"HANDLER", KW_HOLDS}, {"XA", KW_HOLDS},
};

static bool is_word_byte(uint8_t ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || ch >= 0x80;
}

static bool is_space(uint8_t ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static bool word_is(const struct my_pin_scan *st, const char *name)
{
    size_t n = strlen(name);
    return st->wlen == n && !memcmp(st->word, name, n);
}

static void pin(struct my_pin_scan *st, enum my_pin_why why)
{
    if (!st->pin)
        st->pin = (uint8_t)why;
}

/* n more bytes of the collation's name; what no collation's name has (too long, not ASCII
 * letters, digits and '_') pins. */
static void collate_add(struct my_pin_scan *st, const uint8_t *p, size_t n)
{
    bool bad = n >= sizeof(st->collate) - st->collate_len;
    for (size_t i = 0; i < n && !bad; i++)
        bad = !(is_word_byte(p[i]) && p[i] < 0x80 && p[i] != '$');
    if (bad) {
        pin(st, MY_PIN_STATEMENT);
        return;
    }
    memcpy(st->collate + st->collate_len, p, n);
    st->collate_len += (uint8_t)n;
    st->collate[st->collate_len] = 0;
}

/* A user variable starts here: in a SET, CALL or LOAD, or after INTO, it is being assigned. */
static void user_var(struct my_pin_scan *st)
{
    if (st->into || st->kw == KW_SET || st->kw == KW_CALL || st->kw == KW_LOAD)
        pin(st, MY_PIN_USER_VAR);
}

/* The word being read ended. */
static void end_word(struct my_pin_scan *st)
{
    if (st->wlen == 0)
        return;
    if (st->collate_at == 2) {
        st->collate_at = 0;
        st->wlen = 0;
        if (st->collate_len == 7 && !strncasecmp(st->collate, "DEFAULT", 7))
            st->collate_len = 0;
        st->collate[st->collate_len] = 0;
        return;
    }
    if (st->var_word) {
        st->var_word = false;
        if (st->at == 1)
            st->var_end = 1; /* @name: ":=" may follow */
        st->at = 0;
    } else if (st->words == 0) {
        st->kw = KW_OTHER;
        for (size_t i = 0; i < sizeof(first_words) / sizeof(first_words[0]); i++)
            if (word_is(st, first_words[i].name))
                st->kw = first_words[i].kw;
        if (st->kw == KW_HOLDS)
            pin(st, MY_PIN_STATEMENT);
        st->words = 1;
        st->into = false;
    } else {
        if (st->words == 1 && st->kw == KW_EXECUTE && word_is(st, "IMMEDIATE"))
            pin(st, MY_PIN_STATEMENT);
        if (st->kw == KW_SET) {
            if (word_is(st, "NAMES")) {
                st->names = true;
                st->collate_len = 0;
                st->collate[0] = 0;
            } else if (word_is(st, "COLLATE") && st->names) {
                st->collate_at = 1;
            } else if (word_is(st, "CHARACTER") || word_is(st, "CHARSET")) {
                pin(st, MY_PIN_STATEMENT); /* the connection takes the database's */
            }
        }
        st->words = 2;
        st->into = word_is(st, "INTO");
    }
    st->wlen = 0;
}

/* One byte of code (not in a quote or comment). */
static void code_byte(struct my_pin_scan *st, uint8_t ch)
{
    if (st->version) {
        if (ch >= '0' && ch <= '9')
            return; /* the version of an executable comment is not a word */
        st->version = false;
    }
    if (is_word_byte(ch)) {
        if (st->collate_at == 1 && st->wlen == 0)
            st->collate_at = 2;
        if (st->collate_at == 2)
            collate_add(st, &ch, 1);
        if (st->wlen == 0) {
            if (st->at == 1) {
                user_var(st);
                st->var_word = true;
            } else if (st->at == 2) {
                st->var_word = true; /* @@name: a system variable, not a keyword */
            }
            if (st->var_end && !st->var_word)
                st->var_end = 0;
        }
        if (st->wlen < sizeof(st->word))
            st->word[st->wlen] = ch >= 'a' && ch <= 'z' ? (uint8_t)(ch & ~0x20) : ch;
        if (st->wlen < UINT8_MAX)
            st->wlen++;
        st->prev2 = st->prev;
        st->prev = ch;
        return;
    }
    end_word(st);
    uint8_t p1 = st->prev, p2 = st->prev2;
    st->prev2 = p1;
    st->prev = ch;
    if (is_space(ch)) {
        if (p1 == '-' && p2 == '-')
            st->state = S_LINE;
        return;
    }
    if (st->collate_at == 1) {
        if (ch == '\'' || ch == '"' || ch == '`')
            st->collate_at = 3;
        else
            pin(st, MY_PIN_STATEMENT); /* not a name after COLLATE: cannot follow it */
    }
    if (st->var_end == 1 && ch == ':') {
        st->var_end = 2;
        return;
    }
    if (st->var_end == 2 && ch == '=') {
        pin(st, MY_PIN_USER_VAR);
        st->var_end = 0;
        return;
    }
    st->var_end = 0;
    switch (ch) {
    case '@':
        if (st->at == 1 && p1 == '@') {
            st->at = 2;
        } else {
            st->at = 1;
        }
        return; /* INTO stays in force for the variable that follows */
    case '\'':
    case '"':
    case '`':
        if (st->at == 1) {
            user_var(st); /* @'quoted name' */
            st->var_quoted = true;
        }
        st->at = 0;
        st->state = ch == '\'' ? S_SQ : ch == '"' ? S_DQ : S_BT;
        break;
    case '#':
        st->state = S_LINE;
        break;
    case '*':
        if (p1 == '/') {
            st->state = S_OPEN;
            st->prev = 0;
        }
        break;
    case ';':
        st->kw = KW_NONE;
        st->words = 0;
        break;
    default:
        break;
    }
    if (ch != '@')
        st->at = 0;
    st->into = false;
}

enum my_pin_why my_pin_scan_feed(struct my_pin_scan *st, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && !st->pin) {
        uint8_t ch = p[i];
        switch (st->state) {
        case S_CODE:
            code_byte(st, ch);
            i++;
            break;
        case S_SQ:
        case S_DQ:
        case S_BT: {
            if (st->esc) {
                st->esc = false;
                i++;
                break;
            }
            uint8_t q = st->state == S_SQ ? '\'' : st->state == S_DQ ? '"' : '`';
            const uint8_t *e = memchr(p + i, q, len - i);
            size_t stop = e ? (size_t)(e - p) : len;
            if (st->state != S_BT) {
                const uint8_t *b = memchr(p + i, '\\', stop - i);
                if (b) {
                    if (st->collate_at == 3)
                        pin(st, MY_PIN_STATEMENT); /* no collation's name has one */
                    st->esc = true;
                    i = (size_t)(b - p) + 1;
                    break;
                }
            }
            if (st->collate_at == 3)
                collate_add(st, p + i, stop - i);
            i = stop;
            if (e) {
                i++;
                if (st->collate_at == 3)
                    st->collate_at = 0;
                st->state = S_CODE;
                st->prev = q;
                st->prev2 = 0;
                if (st->var_quoted) {
                    st->var_quoted = false;
                    st->var_end = 1; /* @'name': ":=" may follow */
                }
            }
            break;
        }
        case S_LINE: {
            const uint8_t *e = memchr(p + i, '\n', len - i);
            i = e ? (size_t)(e - p) + 1 : len;
            if (e) {
                st->state = S_CODE;
                st->prev = st->prev2 = '\n';
            }
            break;
        }
        case S_OPEN:
            /* Just after the comment opener: a bang (or M and a bang) makes it executable. */
            if (ch == '!') {
                st->state = S_CODE;
                st->version = true;
                i++;
            } else if (ch == 'M') {
                st->state = S_OPEN_M;
                i++;
            } else {
                st->state = S_BLOCK;
                st->star = false;
            }
            break;
        case S_OPEN_M:
            if (ch == '!') {
                st->state = S_CODE;
                st->version = true;
                i++;
            } else {
                st->state = S_BLOCK; /* an ordinary comment that starts with M */
                st->star = false;
            }
            break;
        case S_BLOCK:
            if (st->star && ch == '/') {
                st->state = S_CODE;
                st->prev = st->prev2 = ' '; /* a comment separates like a space */
                i++;
                break;
            }
            st->star = ch == '*';
            i++;
            if (!st->star) {
                const uint8_t *e = memchr(p + i, '*', len - i);
                i = e ? (size_t)(e - p) : len;
            }
            break;
        default:
            i = len;
            break;
        }
    }
    return (enum my_pin_why)st->pin;
}

enum my_pin_why my_pin_scan_end(struct my_pin_scan *st)
{
    if (st->state == S_CODE && !st->pin)
        end_word(st);
    return (enum my_pin_why)st->pin;
}
