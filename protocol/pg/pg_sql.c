/*
 * pg_sql.c -- the keyword scan and the libpg_query classifier of pg_sql.h.
 *
 * The classifier walks libpg_query's protobuf tree: statements at the top
 * (VariableSetStmt, DiscardStmt, ListenStmt, ...) by their node type, and
 * every node below them generically through protobuf-c's descriptors, to
 * find function calls (set_config, the advisory-lock functions) and
 * relations (TEMP, pg_temp) wherever they sit: in a target list, a CTE, a
 * subquery of a subquery.
 */
#include "protocol/pg/pg_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

/* ---- the keyword scan ---- */

/* Bytes that continue a word: PostgreSQL's identifier bytes (high-bit bytes included). */
static const uint8_t ident[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
    ['_'] = 1,         ['$'] = 1,         [0x80 ... 0xff] = 1,
};

struct kw {
    const char *w;
    uint8_t len;
};
#define KW(s)                                                                                      \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

/* Keywords that matter as the first word of a statement. */
static const struct kw lead_words[] = {
    KW("set"),        KW("reset"),   KW("discard"), KW("listen"), KW("unlisten"), KW("prepare"),
    KW("deallocate"), KW("declare"), KW("close"),   KW("load"),   KW("do"),       {NULL, 0},
};
/* Transaction control, first word of a statement. */
static const struct kw txn_words[] = {
    KW("begin"), KW("start"),     KW("commit"),  KW("end"), KW("rollback"),
    KW("abort"), KW("savepoint"), KW("release"), {NULL, 0},
};
/* Anywhere, besides temp, temporary, set_config and pg_temp*: the session advisory locks. */
static const struct kw lock_words[] = {
    KW("pg_advisory_lock"),       KW("pg_advisory_lock_shared"),
    KW("pg_try_advisory_lock"),   KW("pg_try_advisory_lock_shared"),
    KW("pg_advisory_unlock_all"), {NULL, 0},
};

static bool in_list(const struct kw *list, const char *w, size_t n)
{
    for (; list->w; list++)
        if (list->len == n && !memcmp(list->w, w, n))
            return true;
    return false;
}

/* First letters of the words that matter anywhere: temp..., set_config, pg_... */
static bool any_first(uint8_t c)
{
    return c == 't' || c == 's' || c == 'p';
}

static void end_word(struct pg_sql_scan *s)
{
    size_t n = s->wlen;
    const char *w = s->word;
    if (n > sizeof(s->word) - 1) {
        /* Longer than any keyword; only the pg_temp prefix can still match (pg_temp_12.x). */
        if (!memcmp(w, "pg_temp", 7))
            s->found |= PG_SQL_SESSION;
        return;
    }
    if (s->word_lead) {
        if (in_list(lead_words, w, n))
            s->found |= PG_SQL_SESSION;
        else if (in_list(txn_words, w, n))
            s->found |= PG_SQL_TXN;
    }
    switch (w[0]) {
    case 't':
        if ((n == 4 && !memcmp(w, "temp", 4)) || (n == 9 && !memcmp(w, "temporary", 9)))
            s->found |= PG_SQL_SESSION;
        break;
    case 's':
        if (n == 10 && !memcmp(w, "set_config", 10))
            s->found |= PG_SQL_SESSION;
        break;
    case 'p':
        if (n >= 7 && w[1] == 'g' && w[2] == '_' &&
            (!memcmp(w, "pg_temp", 7) || in_list(lock_words, w, n)))
            s->found |= PG_SQL_SESSION;
        break;
    default:
        break;
    }
}

void pg_sql_scan_init(struct pg_sql_scan *s)
{
    memset(s, 0, sizeof(*s));
    s->lead = true;
}

static bool blank(uint8_t ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Leaves a comment: a statement may start after it if one could before it or a ';' was inside. */
static void leave_comment(struct pg_sql_scan *s)
{
    s->comment = 0;
    s->lead = s->comment_lead || s->comment_semi;
}

static void enter_comment(struct pg_sql_scan *s, uint8_t kind)
{
    s->comment = kind;
    s->depth = 1;
    s->comment_lead = s->pend_lead;
    s->comment_semi = false;
    s->prev = 0;
}

static inline uint8_t lower(uint8_t ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch;
}

/*
 * The bytes of a word from p[i]: kept (lower-cased, the first 31) when the
 * word may matter, skipped in a tight loop when it cannot. Returns where the
 * word ends (n when it goes on in the next piece).
 */
static size_t word_bytes(struct pg_sql_scan *s, const uint8_t *p, size_t i, size_t n)
{
    if (s->wskip) {
        while (i < n && ident[p[i]])
            i++;
        return i;
    }
    while (i < n && ident[p[i]]) {
        if (s->wlen < sizeof(s->word) - 1)
            s->word[s->wlen] = (char)lower(p[i]);
        if (s->wlen < sizeof(s->word))
            s->wlen++;
        i++;
    }
    return i;
}

void pg_sql_scan_feed(struct pg_sql_scan *s, const char *text, size_t n)
{
    const uint8_t *p = (const uint8_t *)text;
    size_t i = 0;
    while (i < n) {
        uint8_t ch = p[i];
        if (ident[ch] && !s->in_word) {
            s->in_word = true;
            s->wlen = 0;
            /* Inside a comment every word may start a statement: it may be no comment. */
            s->word_lead = s->comment ? true : s->lead;
            s->wskip = !s->word_lead && !any_first(lower(ch));
        }
        if (s->in_word) {
            i = word_bytes(s, p, i, n);
            if (i == n)
                return; /* the word may go on in the next piece */
            s->in_word = false;
            if (!s->wskip)
                end_word(s);
            if (!s->comment)
                s->lead = false;
            s->prev = 'a'; /* a word byte: opens and closes no comment */
            continue;
        }
        i++;
        if (ch == '"' && s->prev == '&')
            s->found |= PG_SQL_SESSION; /* U&"...": a name in escapes the words cannot show */
        if (s->comment == 1) {
            if (ch == ';')
                s->comment_semi = true;
            else if (ch == '\n')
                leave_comment(s);
            s->prev = ch;
            continue;
        }
        if (s->comment == 2) {
            if (ch == ';')
                s->comment_semi = true;
            if (s->prev == '/' && ch == '*') {
                s->depth++;
                s->prev = 0;
            } else if (s->prev == '*' && ch == '/') {
                if (--s->depth == 0)
                    leave_comment(s);
                s->prev = 0;
            } else {
                s->prev = ch;
            }
            continue;
        }
        if (s->prev == '-' && ch == '-') {
            enter_comment(s, 1);
            continue;
        }
        if (s->prev == '/' && ch == '*') {
            enter_comment(s, 2);
            continue;
        }
        if (ch == ';') {
            s->lead = true;
        } else if (!blank(ch)) {
            s->pend_lead = s->lead;
            s->lead = false;
        }
        s->prev = ch;
    }
}

unsigned pg_sql_scan_end(struct pg_sql_scan *s)
{
    if (s->in_word) {
        s->in_word = false;
        if (!s->wskip)
            end_word(s);
    }
    return s->found;
}

unsigned pg_sql_scan(const char *p, size_t n)
{
    struct pg_sql_scan s;
    pg_sql_scan_init(&s);
    pg_sql_scan_feed(&s, p, n);
    return pg_sql_scan_end(&s);
}

/* ---- names ---- */

static const char *const pin_names[PG_PIN_NREASONS] = {
    "temp", "listen", "prepare", "cursor", "advisory_lock", "role", "load", "set", "other",
};

const char *pg_pin_name(int i)
{
    return i >= 0 && i < PG_PIN_NREASONS ? pin_names[i] : "?";
}

const char *pg_pin_names(unsigned mask, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < PG_PIN_NREASONS; i++) {
        if (!(mask & (1u << i)))
            continue;
        int n =
            snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? "," : "", pin_names[i]);
        if (n > 0)
            len += (size_t)n;
    }
    return out;
}

/* ---- quoting ---- */

void pg_sql_quote_literal(char *out, size_t cap, size_t *len, const char *value)
{
    size_t n = *len;
    bool backslash = strchr(value, '\\') != NULL;
    if (backslash) {
        if (n < cap)
            out[n] = 'E';
        n++;
    }
    if (n < cap)
        out[n] = '\'';
    n++;
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\') {
            if (n < cap)
                out[n] = *p;
            n++;
        }
        if (n < cap)
            out[n] = *p;
        n++;
    }
    if (n < cap)
        out[n] = '\'';
    n++;
    if (n < cap)
        out[n] = 0;
    *len = n;
}

void pg_sql_quote_name(char *out, size_t cap, size_t *len, const char *name)
{
    size_t n = *len;
    bool open = false;
    for (const char *p = name;; p++) {
        if (!open && *p) {
            if (n < cap)
                out[n] = '"';
            n++;
            open = true;
        }
        if (*p == '.' || !*p) {
            if (open) {
                if (n < cap)
                    out[n] = '"';
                n++;
                open = false;
            }
            if (!*p)
                break;
            if (n < cap)
                out[n] = '.';
            n++;
            continue;
        }
        if (*p == '"') {
            if (n < cap)
                out[n] = '"';
            n++;
        }
        if (n < cap)
            out[n] = *p;
        n++;
    }
    if (n < cap)
        out[n] = 0;
    *len = n;
}

/* ---- the classifier ---- */

struct walk {
    struct pg_sql_effects *e;
    bool oom;
};

#define WALK_MAX_DEPTH 2000 /* deeper trees count as unreadable (PG_PIN_OTHER) */

static struct pg_sql_op *add_op(struct walk *w, enum pg_sql_op_kind kind)
{
    struct pg_sql_effects *e = w->e;
    if (e->nops == PG_SQL_MAX_OPS) {
        e->pin |= PG_PIN_SET; /* more changes than weir keeps track of in one text */
        return NULL;
    }
    struct pg_sql_op *op = &e->ops[e->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    return op;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p |= 0x20;
    return d;
}

/*
 * A search_path naming pg_temp makes plain CREATE TABLE create temporary
 * tables: that client keeps its server from the start.
 */
static void check_search_path(struct walk *w, const char *name, const char *value)
{
    if (value && !strcasecmp(name, "search_path") && strcasestr(value, "pg_temp"))
        w->e->pin |= PG_PIN_TEMP;
}

static void add_set(struct walk *w, const char *name, char *value)
{
    check_search_path(w, name, value);
    struct pg_sql_op *op = add_op(w, PG_OP_SET);
    if (!op) {
        free(value);
        return;
    }
    op->name = lower_dup(name);
    op->value = value;
    if (!op->name)
        w->oom = true;
}

static void add_reset(struct walk *w, const char *name)
{
    struct pg_sql_op *op = add_op(w, PG_OP_RESET);
    if (op && !(op->name = lower_dup(name)))
        w->oom = true;
}

/* A string constant's text, or NULL. */
static const char *const_string(const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST)
        return NULL;
    const PgQuery__AConst *c = n->a_const;
    return !c->isnull && c->val_case == PG_QUERY__A__CONST__VAL_SVAL && c->sval ? c->sval->sval
                                                                                : NULL;
}

/* A boolean constant (true, false, 'on', 1 ...): 1, 0, or -1 when it is none. */
static int const_bool(const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const->isnull)
        return -1;
    const PgQuery__AConst *c = n->a_const;
    switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        return c->boolval->boolval ? 1 : 0;
    case PG_QUERY__A__CONST__VAL_IVAL:
        return c->ival->ival != 0;
    case PG_QUERY__A__CONST__VAL_SVAL: {
        const char *s = c->sval->sval;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "t") ||
            !strcasecmp(s, "yes") || !strcmp(s, "1"))
            return 1;
        if (!strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcasecmp(s, "f") ||
            !strcasecmp(s, "no") || !strcmp(s, "0"))
            return 0;
        return -1;
    }
    default:
        return -1;
    }
}

/*
 * The SQL text of a SET value list: string constants as literals, numbers as
 * they are. NULL (*unknown set) for anything else; NULL alone when out of memory.
 */
static char *value_sql(PgQuery__Node **args, size_t nargs, bool *unknown)
{
    char buf[4096];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < nargs; i++) {
        const PgQuery__Node *n = args[i];
        if (i) {
            if (len + 2 < sizeof(buf))
                memcpy(buf + len, ", ", 3);
            len += 2;
        }
        if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const->isnull) {
            *unknown = true;
            return NULL;
        }
        const PgQuery__AConst *c = n->a_const;
        char num[64];
        switch (c->val_case) {
        case PG_QUERY__A__CONST__VAL_SVAL:
            pg_sql_quote_literal(buf, sizeof(buf), &len, c->sval->sval);
            continue;
        case PG_QUERY__A__CONST__VAL_IVAL:
            snprintf(num, sizeof(num), "%d", (int)c->ival->ival);
            break;
        case PG_QUERY__A__CONST__VAL_FVAL:
            snprintf(num, sizeof(num), "%.60s", c->fval->fval);
            break;
        case PG_QUERY__A__CONST__VAL_BOOLVAL:
            snprintf(num, sizeof(num), "%s", c->boolval->boolval ? "true" : "false");
            break;
        default:
            *unknown = true;
            return NULL;
        }
        size_t k = strlen(num);
        if (len + k < sizeof(buf))
            memcpy(buf + len, num, k + 1);
        len += k;
    }
    if (len >= sizeof(buf) || nargs == 0) {
        *unknown = true;
        return NULL;
    }
    return strdup(buf);
}

/* Settings that live for one transaction: SET of them never outlasts it. */
static bool transaction_scoped(const char *name)
{
    return !strcasecmp(name, "transaction_isolation") ||
           !strcasecmp(name, "transaction_read_only") ||
           !strcasecmp(name, "transaction_deferrable");
}

static void classify_set(struct walk *w, const PgQuery__VariableSetStmt *v)
{
    struct pg_sql_effects *e = w->e;
    if (v->is_local)
        return; /* SET LOCAL ends with its transaction */
    const char *name = v->name ? v->name : "";
    bool role = !strcasecmp(name, "role") || !strcasecmp(name, "session_authorization");
    switch (v->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
        if (role) {
            e->pin |= PG_PIN_ROLE;
            return;
        }
        if (transaction_scoped(name))
            return;
        bool unknown = false;
        char *value = value_sql(v->args, v->n_args, &unknown);
        if (!value && !unknown) {
            w->oom = true;
            return;
        }
        add_set(w, name, value); /* NULL: the caller decides (pin, or a reported parameter) */
        return;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
        if (role)
            e->pin |= PG_PIN_ROLE; /* kept pinned: simpler than following roles */
        else if (!transaction_scoped(name))
            add_reset(w, name);
        return;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
        add_op(w, PG_OP_RESET_ALL);
        return;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
        if (!strcasecmp(name, "SESSION CHARACTERISTICS")) {
            /* SET SESSION CHARACTERISTICS AS TRANSACTION ...: the default_transaction_* settings.
             */
            for (size_t i = 0; i < v->n_args; i++) {
                const PgQuery__Node *n = v->args[i];
                if (!n || n->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) {
                    e->pin |= PG_PIN_SET;
                    continue;
                }
                const PgQuery__DefElem *d = n->def_elem;
                char target[64];
                snprintf(target, sizeof(target), "default_%s", d->defname);
                PgQuery__Node *arg = d->arg;
                bool unknown = false;
                char *value = NULL;
                int b = const_bool(arg);
                if (const_string(arg) || b < 0)
                    value = value_sql(&arg, 1, &unknown);
                else
                    value = strdup(b ? "true" : "false");
                if (unknown) {
                    e->pin |= PG_PIN_SET;
                    continue;
                }
                if (!value) {
                    w->oom = true;
                    return;
                }
                add_set(w, target, value);
            }
        }
        /* SET TRANSACTION ..., SET TRANSACTION SNAPSHOT: this transaction only. */
        return;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
        return; /* SET x FROM CURRENT: the value it already has */
    default:
        e->pin |= PG_PIN_SET;
        return;
    }
}

/* The last name of a possibly qualified function name. */
static const char *func_name(const PgQuery__FuncCall *f)
{
    if (f->n_funcname == 0)
        return "";
    const PgQuery__Node *n = f->funcname[f->n_funcname - 1];
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : "";
}

static void classify_call(struct walk *w, const PgQuery__FuncCall *f)
{
    struct pg_sql_effects *e = w->e;
    const char *name = func_name(f);
    if (!strcmp(name, "pg_advisory_lock") || !strcmp(name, "pg_advisory_lock_shared") ||
        !strcmp(name, "pg_try_advisory_lock") || !strcmp(name, "pg_try_advisory_lock_shared")) {
        e->pin |= PG_PIN_LOCK;
    } else if (!strcmp(name, "pg_advisory_unlock_all")) {
        struct pg_sql_op *op = add_op(w, PG_OP_UNPIN);
        if (op)
            op->unpin = PG_PIN_LOCK;
    } else if (!strcmp(name, "set_config")) {
        if (f->n_args != 3) {
            e->pin |= PG_PIN_SET;
            return;
        }
        const char *guc = const_string(f->args[0]);
        int local = const_bool(f->args[2]);
        if (local == 1)
            return; /* is_local: this transaction only */
        if (!guc || local < 0 || !const_string(f->args[1])) {
            e->pin |= PG_PIN_SET; /* values weir cannot see (parameters, expressions) */
            return;
        }
        if (!strcasecmp(guc, "role") || !strcasecmp(guc, "session_authorization")) {
            e->pin |= PG_PIN_ROLE;
            return;
        }
        if (transaction_scoped(guc))
            return;
        char *value = strdup(const_string(f->args[1]));
        if (!value) {
            w->oom = true;
            return;
        }
        add_set(w, guc, value);
        if (w->e->nops && w->e->ops[w->e->nops - 1].value == value)
            w->e->ops[w->e->nops - 1].raw = true;
    }
}

static void check_relation(struct walk *w, const PgQuery__RangeVar *r)
{
    /* CREATE TEMP ..., SELECT INTO TEMP, CREATE TABLE pg_temp.x (also pg_temp_3.x). */
    if ((r->relpersistence && r->relpersistence[0] == 't') ||
        (r->schemaname && !strncmp(r->schemaname, "pg_temp", 7)))
        w->e->pin |= PG_PIN_TEMP;
}

static void walk_message(struct walk *w, const ProtobufCMessage *m, int depth);

/* Every message under m, whatever its type. */
static void walk_fields(struct walk *w, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* Members of a oneof share storage: only the one the case names is there. */
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                walk_message(w, arr[j], depth + 1);
        } else {
            walk_message(w, *(ProtobufCMessage *const *)(base + f->offset), depth + 1);
        }
    }
}

static void walk_message(struct walk *w, const ProtobufCMessage *m, int depth)
{
    if (!m)
        return;
    if (depth > WALK_MAX_DEPTH) {
        w->e->pin |= PG_PIN_OTHER;
        return;
    }
    if (m->descriptor == &pg_query__func_call__descriptor)
        classify_call(w, (const PgQuery__FuncCall *)m);
    else if (m->descriptor == &pg_query__range_var__descriptor)
        check_relation(w, (const PgQuery__RangeVar *)m);
    walk_fields(w, m, depth);
}

/* The body of a DO block, or NULL. */
static const char *do_body(const PgQuery__DoStmt *d)
{
    for (size_t i = 0; i < d->n_args; i++) {
        const PgQuery__Node *n = d->args[i];
        if (n && n->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            !strcmp(n->def_elem->defname, "as"))
            return n->def_elem->arg && n->def_elem->arg->node_case == PG_QUERY__NODE__NODE_STRING
                       ? n->def_elem->arg->string->sval
                       : NULL;
    }
    return NULL;
}

/* A DO body may run anything: any session keyword anywhere in it pins. */
static bool do_touches_session(const char *body)
{
    struct pg_sql_scan s;
    pg_sql_scan_init(&s);
    /* Every word of the body counts as a statement start: PL/pgSQL puts statements after BEGIN. */
    s.comment = 1;
    s.comment_lead = true;
    s.depth = 1;
    for (const char *p = body; *p; p++) {
        if (*p == '\n') {
            pg_sql_scan_feed(&s, " ", 1);
            continue;
        }
        pg_sql_scan_feed(&s, p, 1);
    }
    return (pg_sql_scan_end(&s) & PG_SQL_SESSION) != 0;
}

static void classify_stmt(struct walk *w, const PgQuery__Node *n)
{
    struct pg_sql_effects *e = w->e;
    struct pg_sql_op *op;
    if (!n)
        return;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        classify_set(w, n->variable_set_stmt);
        return;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        switch (n->discard_stmt->target) {
        case PG_QUERY__DISCARD_MODE__DISCARD_ALL:
            add_op(w, PG_OP_DISCARD_ALL);
            break;
        case PG_QUERY__DISCARD_MODE__DISCARD_TEMP:
            if ((op = add_op(w, PG_OP_UNPIN)))
                op->unpin = PG_PIN_TEMP;
            break;
        default:
            break; /* DISCARD PLANS, SEQUENCES */
        }
        return;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
        e->pin |= PG_PIN_LISTEN;
        return;
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
        if ((!n->unlisten_stmt->conditionname || !n->unlisten_stmt->conditionname[0]) &&
            (op = add_op(w, PG_OP_UNPIN)))
            op->unpin = PG_PIN_LISTEN; /* UNLISTEN * */
        return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
        e->pin |= PG_PIN_PREPARE;
        break; /* its query may hold more */
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        if ((!n->deallocate_stmt->name || !n->deallocate_stmt->name[0]) &&
            (op = add_op(w, PG_OP_UNPIN)))
            op->unpin = PG_PIN_PREPARE; /* DEALLOCATE ALL */
        return;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        if (n->declare_cursor_stmt->options & 0x0020) /* CURSOR_OPT_HOLD */
            e->pin |= PG_PIN_CURSOR;
        break;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
        if ((!n->close_portal_stmt->portalname || !n->close_portal_stmt->portalname[0]) &&
            (op = add_op(w, PG_OP_UNPIN)))
            op->unpin = PG_PIN_CURSOR; /* CLOSE ALL */
        return;
    case PG_QUERY__NODE__NODE_LOAD_STMT:
        e->pin |= PG_PIN_LOAD;
        return;
    case PG_QUERY__NODE__NODE_DO_STMT: {
        const char *body = do_body(n->do_stmt);
        if (!body || do_touches_session(body))
            e->pin |= PG_PIN_OTHER;
        return;
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        switch (n->transaction_stmt->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
            add_op(w, PG_OP_BEGIN);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
            add_op(w, PG_OP_COMMIT);
            if (n->transaction_stmt->chain)
                add_op(w, PG_OP_BEGIN);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
            add_op(w, PG_OP_ROLLBACK);
            if (n->transaction_stmt->chain)
                add_op(w, PG_OP_BEGIN);
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
            add_op(w, PG_OP_ROLLBACK_TO);
            break;
        default:
            break; /* SAVEPOINT, RELEASE, COMMIT/ROLLBACK PREPARED */
        }
        return;
    default:
        break;
    }
    walk_message(w, &n->base, 0);
}

int pg_sql_classify(const char *q, struct pg_sql_effects *e)
{
    memset(e, 0, sizeof(*e));
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(q);
    if (r.error) {
        e->unparsed = true;
        pg_query_free_protobuf_parse_result(r);
        return WR_OK;
    }
    PgQuery__ParseResult *tree =
        pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
    pg_query_free_protobuf_parse_result(r);
    if (!tree)
        return WR_ERROR;
    struct walk w = {.e = e};
    e->nstmts = (int)tree->n_stmts;
    for (size_t i = 0; i < tree->n_stmts && !w.oom; i++)
        if (tree->stmts[i])
            classify_stmt(&w, tree->stmts[i]->stmt);
    pg_query__parse_result__free_unpacked(tree, NULL);
    if (w.oom) {
        pg_sql_effects_free(e);
        return WR_ERROR;
    }
    return WR_OK;
}

void pg_sql_effects_free(struct pg_sql_effects *e)
{
    for (int i = 0; i < e->nops; i++) {
        free(e->ops[i].name);
        free(e->ops[i].value);
    }
    memset(e, 0, sizeof(*e));
}
