/*
 * sess_pg.c -- the session state of a PostgreSQL client in transaction and
 * statement pooling (sess_pg.h): settings that follow it, pins, and the
 * login values RESET returns to.
 *
 * Records ("cycles"): a classified text's ops wait in a FIFO until the
 * ReadyForQuery that ends its cycle (a simple Query's own, a Parse's next
 * Sync). Each record counts the client ReadyForQuery messages still to come
 * before its own (`left`); an ErrorResponse marks the record whose answer is
 * being read. Texts the scan lets through leave no record, so most cycles
 * cost nothing here. The transaction status of every ReadyForQuery keeps
 * `in_block` right even for BEGIN and COMMIT weir did not parse.
 */
#include "pooler/session/sess_pg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/session/client.h"
#include "protocol/pg/pg_options.h"
#include "protocol/pg/pg_sql.h"

struct pg_cycle {
    struct pg_cycle *next;
    int left;      /* client ReadyForQuery messages until the one ending this cycle */
    bool err;      /* an ErrorResponse came in it */
    bool injected; /* weir's set_config of the login values follows the text */
    bool unparsed; /* libpg_query refused the text */
    int nstmts;
    int nops;
    struct pg_sql_op *ops;
};

struct pg_sess {
    struct settings login;        /* settings from the options string */
    struct param_set *login_want; /* tracked parameters chosen at login (startup packet, options) */
    struct settings cur;          /* the client's settings, as its server holds them */
    struct pg_sql_op *tent;       /* settings of the open transaction block, in order */
    int ntent, captent;
    struct pg_cycle *head, *tail;  /* texts whose outcome is not known yet */
    bool in_block;                 /* a transaction block is open */
    bool doomed;                   /* it failed: only its rollback can follow */
    unsigned pins;                 /* PG_PIN_* */
    char *inject_sql;              /* weir's query waiting to follow the client's text */
    int inject_left;               /* client ReadyForQuery messages before its answer */
    bool inject_active;            /* its answer is being read */
    uint32_t inject_params;        /* tracked parameters it sets again (bits of param ids) */
    bool inject_armed;             /* the client's text went out: it may be sent */
    struct pg_sql_scan *long_scan; /* a text too long for the buffer, scanned as it passes */
};

static struct pg_sess *sess_of(struct client *c)
{
    if (!c->sess)
        c->sess = calloc(1, sizeof(*c->sess));
    return c->sess;
}

/* ---- pins ---- */

static void pin(struct client *c, unsigned mask)
{
    struct pg_sess *x = c->sess;
    unsigned added = mask & ~x->pins;
    if (!added)
        return;
    struct worker *w = c->w;
    if (!x->pins)
        stats_add(&w->pinned, 1);
    for (int i = 0; i < PG_PIN_NREASONS; i++)
        if (added & (1u << i))
            stats_add(&w->pins[i], 1);
    x->pins |= added;
    c->pinned = true;
    char names[160];
    log_client(c, LOG_LVL_DEBUG, "pinned to its server: %s",
               pg_pin_names(added, names, sizeof(names)));
}

static void unpin(struct client *c, unsigned mask)
{
    struct pg_sess *x = c->sess;
    if (!(x->pins & mask))
        return;
    x->pins &= ~mask;
    if (!x->pins) {
        stats_add(&c->w->pinned, UINT64_MAX);
        c->pinned = false;
        log_client(c, LOG_LVL_DEBUG, "no longer pinned");
    }
}

unsigned sess_pg_pins(const struct client *c)
{
    return c->sess ? c->sess->pins : 0;
}

/* ---- ops ---- */

static void op_free(struct pg_sql_op *op)
{
    free(op->name);
    free(op->value);
    op->name = op->value = NULL;
}

static void drop_tentative(struct pg_sess *x)
{
    for (int i = 0; i < x->ntent; i++)
        op_free(&x->tent[i]);
    x->ntent = 0;
}

/* An outcome weir cannot know: the client keeps its server, whose state is then its own. */
static void uncertain(struct client *c)
{
    drop_tentative(c->sess);
    pin(c, PG_PIN_SET);
}

/* Tracked parameters every server reports: ParameterStatus carries them (relay.c). */
static bool reported(const char *name)
{
    int id = param_lookup(name);
    return id >= 0 && id < PARAM_BUILTIN_SETTABLE;
}

static void reset_to_login(struct client *c, bool injected)
{
    struct pg_sess *x = c->sess;
    if (!(injected ? settings_copy(&x->cur, &x->login) : settings_copy(&x->cur, NULL)))
        uncertain(c);
}

/* Applies a committed op to the client's settings and pins. */
static void apply(struct client *c, const struct pg_sql_op *op, bool injected)
{
    struct pg_sess *x = c->sess;
    const struct setting *l;
    switch (op->kind) {
    case PG_OP_SET:
        if (reported(op->name))
            return;
        if (!op->value || !settings_put(&x->cur, op->name, op->value, op->raw))
            uncertain(c);
        return;
    case PG_OP_RESET:
        if (reported(op->name))
            return;
        if (injected && (l = settings_get(&x->login, op->name))) {
            if (!settings_put(&x->cur, l->name, l->value, l->raw))
                uncertain(c);
        } else {
            settings_del(&x->cur, op->name);
        }
        return;
    case PG_OP_RESET_ALL:
        reset_to_login(c, injected);
        return;
    case PG_OP_DISCARD_ALL:
        unpin(c, ~0u);
        reset_to_login(c, injected);
        return;
    case PG_OP_UNPIN:
        unpin(c, op->unpin);
        return;
    default:
        return;
    }
}

/* Moves op into the open block's tentative list. */
static void keep_tentative(struct client *c, struct pg_sql_op *op)
{
    struct pg_sess *x = c->sess;
    if (x->ntent == x->captent) {
        int cap = x->captent ? 2 * x->captent : 8;
        struct pg_sql_op *nt = cap <= 1024 ? realloc(x->tent, (size_t)cap * sizeof(*nt)) : NULL;
        if (!nt) {
            uncertain(c);
            return;
        }
        x->tent = nt;
        x->captent = cap;
    }
    x->tent[x->ntent++] = *op;
    op->name = op->value = NULL;
}

static void commit_block(struct client *c, bool injected)
{
    struct pg_sess *x = c->sess;
    if (!x->doomed)
        for (int i = 0; i < x->ntent; i++)
            apply(c, &x->tent[i], injected);
    drop_tentative(x);
    x->in_block = false;
    x->doomed = false;
}

static bool has_txn_op(const struct pg_cycle *cy)
{
    for (int i = 0; i < cy->nops; i++)
        if (cy->ops[i].kind >= PG_OP_BEGIN)
            return true;
    return false;
}

/* The ReadyForQuery of a recorded cycle came: settle what its text did. */
static void settle(struct client *c, struct pg_cycle *cy)
{
    struct pg_sess *x = c->sess;
    if (cy->unparsed && !cy->err)
        pin(c, PG_PIN_OTHER); /* the server ran what weir could not read */
    if (cy->injected && cy->err) {
        /* weir's set_config ran after a failed text: the server may hold login values it undid. */
        uncertain(c);
        return;
    }
    if (cy->err) {
        if (has_txn_op(cy) && cy->nstmts > 1) {
            uncertain(c); /* which statements ran before the error is not known */
        } else if (has_txn_op(cy)) {
            if (cy->ops[0].kind == PG_OP_COMMIT)
                drop_tentative(x); /* a COMMIT that failed rolled back */
            else if (cy->ops[0].kind == PG_OP_ROLLBACK && x->ntent)
                uncertain(c);
        } else if (x->in_block) {
            x->doomed = true;
        }
        /* Outside a block the failed text was one implicit transaction: none of it stays. */
        return;
    }
    for (int i = 0; i < cy->nops; i++) {
        struct pg_sql_op *op = &cy->ops[i];
        switch (op->kind) {
        case PG_OP_BEGIN:
            x->in_block = true;
            break;
        case PG_OP_COMMIT:
            commit_block(c, cy->injected);
            break;
        case PG_OP_ROLLBACK:
            drop_tentative(x);
            x->in_block = false;
            x->doomed = false;
            break;
        case PG_OP_ROLLBACK_TO:
            if (x->ntent)
                uncertain(c); /* which of them the savepoint undid is not known */
            x->doomed = false;
            break;
        default:
            if (x->in_block)
                keep_tentative(c, op);
            else
                apply(c, op, cy->injected);
            break;
        }
    }
}

/* Every client ReadyForQuery: the transaction status is the truth about blocks. */
static void sync_status(struct client *c, char status)
{
    struct pg_sess *x = c->sess;
    if (status == 'I') {
        if (x->in_block && x->ntent)
            uncertain(c); /* the block ended in a way weir did not see (a procedure's COMMIT) */
        x->in_block = false;
        x->doomed = false;
    } else {
        x->in_block = true;
        if (status == 'E')
            x->doomed = true;
    }
}

static void cycle_free(struct pg_cycle *cy)
{
    for (int i = 0; i < cy->nops; i++)
        op_free(&cy->ops[i]);
    free(cy->ops);
    free(cy);
}

/* ---- client texts ---- */

/* Client encodings whose bytes libpg_query would read differently from the server. */
static bool unreadable(const struct client *c)
{
    static const char *const unsafe[] = {"SJIS", "SHIFT_JIS_2004", "BIG5", "GBK",
                                         "UHC",  "GB18030",        "JOHAB"};
    const char *scs = client_param(c, PARAM_STANDARD_CONFORMING_STRINGS);
    if (scs && strcasecmp(scs, "on"))
        return true; /* backslashes in '...' escape: the parser reads quotes differently */
    const char *enc = client_param(c, PARAM_CLIENT_ENCODING);
    for (size_t i = 0; enc && i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
        if (!strcasecmp(enc, unsafe[i]))
            return true;
    return false;
}

static bool transaction_pooling(const struct client *c)
{
    return c->pool && c->pool->pool_mode != POOL_SESSION;
}

bool sess_pg_watching(const struct client *c)
{
    if (c->pool && pool_replication(c->pool))
        return false; /* replication commands, not SQL */
    return transaction_pooling(c) || (c->sess && (c->sess->login.n || c->sess->login_want));
}

static void append_set_config(char *q, size_t cap, size_t *len, const char *name, const char *value)
{
    static const char fn[] = "pg_catalog.set_config(";
    const char *lead = *len ? ", " : "SELECT ";
    size_t k = strlen(lead);
    if (*len + k + sizeof(fn) < cap) {
        memcpy(q + *len, lead, k);
        memcpy(q + *len + k, fn, sizeof(fn));
    }
    *len += k + sizeof(fn) - 1;
    pg_sql_quote_literal(q, cap, len, name);
    if (*len + 2 < cap)
        memcpy(q + *len, ", ", 3);
    *len += 2;
    pg_sql_quote_literal(q, cap, len, value);
    if (*len + 8 < cap)
        memcpy(q + *len, ", false)", 9);
    *len += 8;
}

/* The login value of name (tracked or from options), or NULL. */
static const char *login_value(const struct pg_sess *x, const char *name)
{
    int id = param_lookup(name);
    if (id >= 0 && id < PARAM_NSETTABLE)
        return x->login_want ? x->login_want->v[id] : NULL;
    const struct setting *st = settings_get(&x->login, name);
    return st ? st->value : NULL;
}

/*
 * The set_config query that puts back the login values a text's RESETs
 * take away, or NULL when there is none to put back (or out of memory).
 * *params gets the tracked parameters it sets.
 */
static char *login_sql(const struct pg_sess *x, const struct pg_sql_effects *e, uint32_t *params)
{
    char q[8192];
    size_t len = 0;
    *params = 0;
    for (int i = 0; i < e->nops; i++) {
        const struct pg_sql_op *op = &e->ops[i];
        if (op->kind == PG_OP_RESET) {
            const char *v = login_value(x, op->name);
            int id = param_lookup(op->name);
            if (v)
                append_set_config(q, sizeof(q), &len, op->name, v);
            if (v && id >= 0 && id < PARAM_NSETTABLE)
                *params |= 1u << id;
        } else if (op->kind == PG_OP_RESET_ALL || op->kind == PG_OP_DISCARD_ALL) {
            for (int id = 0; x->login_want && id < PARAM_NSETTABLE; id++) {
                if (!x->login_want->v[id])
                    continue;
                append_set_config(q, sizeof(q), &len, param_name(id), x->login_want->v[id]);
                *params |= 1u << id;
            }
            for (int j = 0; j < x->login.n; j++)
                append_set_config(q, sizeof(q), &len, x->login.v[j].name, x->login.v[j].value);
        }
    }
    if (len == 0 || len >= sizeof(q))
        return NULL;
    return strdup(q);
}

bool sess_pg_client_text(struct client *c, bool parse, const char *stmt, const char *q,
                         uint32_t len, int owed, enum sess_text *what)
{
    *what = SESS_PASS;
    struct pg_sess *x = c->sess;
    unsigned found = pg_sql_scan(q, len);
    bool txn_matters = x && (x->ntent || x->head);
    if (!(found & PG_SQL_SESSION) && !((found & PG_SQL_TXN) && txn_matters))
        return true;
    if (!(x = sess_of(c)))
        return false;
    bool pooled = transaction_pooling(c);
    if (unreadable(c)) {
        if (pooled)
            pin(c, PG_PIN_OTHER);
        return true;
    }
    struct pg_sql_effects e;
    if (pg_sql_classify(q, &e) != WR_OK)
        return false;
    if (pooled)
        pin(c, e.pin);
    if (parse && stmt[0]) {
        /* A named statement runs when and as often as the client likes: keep it on one server. */
        if (pooled && (e.nops || e.unparsed))
            pin(c, PG_PIN_SET);
        pg_sql_effects_free(&e);
        return true;
    }
    if (e.nops == 0 && !e.unparsed) {
        pg_sql_effects_free(&e);
        return true;
    }
    struct pg_cycle *cy = calloc(1, sizeof(*cy));
    if (!cy) {
        pg_sql_effects_free(&e);
        return false;
    }
    if (e.nops && !(cy->ops = malloc((size_t)e.nops * sizeof(*cy->ops)))) {
        free(cy);
        pg_sql_effects_free(&e);
        return false;
    }
    cy->left = owed + 1;
    cy->nstmts = e.nstmts;
    cy->unparsed = e.unparsed;
    if (!parse && (x->login.n || x->login_want)) {
        uint32_t params;
        char *sql = login_sql(x, &e, &params);
        if (sql && (x->inject_sql || x->inject_left || x->inject_active)) {
            /* One put-back at a time; a second RESET already in flight is left to the server. */
            free(sql);
            if (pooled)
                pin(c, PG_PIN_SET);
        } else if (sql) {
            x->inject_sql = sql;
            x->inject_left = owed + 1;
            x->inject_params = params;
            cy->injected = true;
            *what = SESS_INJECT;
        }
    }
    memcpy(cy->ops, e.ops, (size_t)e.nops * sizeof(*cy->ops));
    cy->nops = e.nops;
    e.nops = 0; /* the strings moved to the record */
    pg_sql_effects_free(&e);
    if (x->tail)
        x->tail->next = cy;
    else
        x->head = cy;
    x->tail = cy;
    return true;
}

void sess_pg_long_text_begin(struct client *c)
{
    struct pg_sess *x = sess_of(c);
    if (!x || !(x->long_scan = malloc(sizeof(*x->long_scan)))) {
        if (x && transaction_pooling(c))
            pin(c, PG_PIN_OTHER);
        return;
    }
    pg_sql_scan_init(x->long_scan);
    c->long_text = true;
}

void sess_pg_long_text_feed(struct client *c, const uint8_t *p, uint32_t n)
{
    pg_sql_scan_feed(c->sess->long_scan, (const char *)p, n);
}

void sess_pg_long_text_end(struct client *c)
{
    struct pg_sess *x = c->sess;
    c->long_text = false;
    unsigned found = pg_sql_scan_end(x->long_scan);
    free(x->long_scan);
    x->long_scan = NULL;
    /* Too long to read whole: a text that may touch the session keeps its server. */
    if ((found & PG_SQL_SESSION) && transaction_pooling(c))
        pin(c, PG_PIN_OTHER);
}

bool sess_pg_inject_due(const struct client *c)
{
    return c->sess && c->sess->inject_sql && c->sess->inject_armed;
}

void sess_pg_inject_arm(struct client *c)
{
    c->sess->inject_armed = true;
}

enum sess_text sess_pg_pending_text(const struct client *c)
{
    return c->sess && c->sess->inject_sql && !c->sess->inject_armed ? SESS_INJECT : SESS_PASS;
}

bool sess_pg_inject_send(struct client *c, struct server *s)
{
    struct pg_sess *x = c->sess;
    pg_out_query(&s->out, x->inject_sql);
    free(x->inject_sql);
    x->inject_sql = NULL;
    x->inject_armed = false;
    s->outstanding++;
    if (s->out.failed || server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot send the client's login values");
        return false;
    }
    return true;
}

/* ---- server messages ---- */

enum sess_msg sess_pg_server_msg(struct client *c, struct server *s, struct iobuf *b, char type,
                                 uint32_t body)
{
    struct pg_sess *x = c->sess;
    uint32_t avail = b->recv - b->parsed, whole = PG_HDR_LEN + body;
    if (x->inject_active) {
        if (type == 'S')
            return SESS_KEEP; /* the login values the client is back on: it sees them */
        if (type == 'Z') {
            /* It stands in for the client's own, held back below: one answer, as PostgreSQL's. */
            x->inject_active = false;
            return SESS_KEEP;
        }
        if (avail < whole)
            return whole <= b->cap ? SESS_WAIT : SESS_BROKEN;
        const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
        if (type == 'E') {
            struct pg_error_fields ef;
            if (pg_error_parse(msg, body, &ef) == WR_OK)
                log_client(c, LOG_LVL_WARNING, "putting back login values failed: %s", ef.message);
            uncertain(c);
        }
        memmove(b->data + b->parsed, b->data + b->parsed + whole, avail - whole);
        b->recv -= whole;
        return SESS_DROPPED;
    }
    if (type == 'E') {
        for (struct pg_cycle *cy = x->head; cy; cy = cy->next)
            if (cy->left == 1)
                cy->err = true;
        return SESS_KEEP;
    }
    if (type == 'S' && x->inject_left == 1 && x->inject_params) {
        /* The server's default of a parameter weir sets back at once: the client sees only that. */
        if (avail < whole)
            return whole <= b->cap ? SESS_WAIT : SESS_KEEP;
        struct pg_in in;
        pg_in_init(&in, b->data + b->parsed + PG_HDR_LEN, body);
        const char *name = pg_in_str(&in);
        int id = name ? param_lookup(name) : -1;
        if (id < 0 || id >= PARAM_NSETTABLE || !(x->inject_params & (1u << id)))
            return SESS_KEEP;
        memmove(b->data + b->parsed, b->data + b->parsed + whole, avail - whole);
        b->recv -= whole;
        return SESS_DROPPED;
    }
    if (type != 'Z')
        return SESS_KEEP;
    if (avail < whole)
        return SESS_WAIT;
    char status = body > 0 ? (char)b->data[b->parsed + PG_HDR_LEN] : 'E';
    for (struct pg_cycle *cy = x->head; cy; cy = cy->next)
        cy->left--;
    while (x->head && x->head->left <= 0) {
        struct pg_cycle *cy = x->head;
        x->head = cy->next;
        if (!x->head)
            x->tail = NULL;
        settle(c, cy);
        cycle_free(cy);
    }
    sync_status(c, status);
    if (x->inject_left > 0 && --x->inject_left == 0) {
        /*
         * The client's text is answered; weir's query's answer follows. This
         * ReadyForQuery is held back: the one ending weir's answer goes to the
         * client instead, after the ParameterStatus of the values put back.
         */
        x->inject_active = true;
        s->outstanding--;
        memmove(b->data + b->parsed, b->data + b->parsed + whole, avail - whole);
        b->recv -= whole;
        return SESS_DROPPED;
    }
    return SESS_KEEP;
}

/* ---- handing servers on ---- */

void sess_pg_leave(struct client *c, struct server *s)
{
    struct pg_sess *x = c->sess;
    if (x && (x->pins || x->head || x->inject_sql || x->inject_left || x->inject_active ||
              c->long_text)) {
        /* State weir cannot replay, or texts whose outcome it will not see: a clean slate. */
        s->discard = true;
        settings_clear(&s->settings);
        return;
    }
    if (!settings_copy(&s->settings, x ? &x->cur : NULL))
        s->discard = true;
}

void sess_pg_setup_sql(const struct client *c, const struct server *s, char *q, size_t cap,
                       size_t *len)
{
    settings_diff_sql(&s->settings, c->sess ? &c->sess->cur : NULL, q, cap, len);
}

bool sess_pg_setup_done(const struct client *c, struct server *s)
{
    return settings_copy(&s->settings, c->sess ? &c->sess->cur : NULL);
}

/* ---- login ---- */

bool sess_pg_login_options(struct client *c, const char *options)
{
    struct pg_options o;
    char err[256], state[6];
    if (pg_options_parse(options, &o, err, sizeof(err), state) != WR_OK) {
        client_fail(c, state, "%s", err);
        return false;
    }
    struct pg_sess *x = sess_of(c);
    bool ok = x != NULL;
    for (int i = 0; ok && i < o.n; i++) {
        const char *name = o.opt[i].name, *value = o.opt[i].value;
        int id = param_lookup(name);
        if (!strcmp(name, "role") || !strcmp(name, "session_authorization")) {
            pg_options_free(&o);
            client_fail(c, "0A000",
                        "options: \"%s\" cannot be set at login through weir (SET it in the "
                        "session, which then keeps its server)",
                        name);
            return false;
        }
        if (id >= 0 && id < PARAM_NSETTABLE)
            ok = client_want_set(c, id, value);
        else
            ok = settings_put(&x->login, name, value, true) &&
                 settings_put(&x->cur, name, value, true);
        if (ok && !strcmp(name, "search_path") && strcasestr(value, "pg_temp"))
            pin(c, PG_PIN_TEMP); /* CREATE TABLE makes temporary tables: see pg_sql.c */
    }
    pg_options_free(&o);
    if (!ok)
        client_fail(c, "53200", "out of memory");
    return ok;
}

bool sess_pg_login_done(struct client *c)
{
    if (!c->want)
        return true;
    struct pg_sess *x = sess_of(c);
    if (!x || !(x->login_want = calloc(1, sizeof(*x->login_want))))
        return false;
    for (int i = 0; i < PARAM_NSETTABLE; i++)
        if (c->want->v[i] && !param_set(x->login_want, i, c->want->v[i]))
            return false;
    return true;
}

bool sess_pg_has_login_settings(const struct client *c)
{
    return c->sess && c->sess->login.n > 0;
}

void sess_pg_free(struct client *c)
{
    struct pg_sess *x = c->sess;
    if (!x)
        return;
    if (x->pins)
        stats_add(&c->w->pinned, UINT64_MAX);
    settings_clear(&x->login);
    settings_clear(&x->cur);
    if (x->login_want) {
        param_clear_all(x->login_want);
        free(x->login_want);
    }
    drop_tentative(x);
    free(x->tent);
    while (x->head) {
        struct pg_cycle *cy = x->head;
        x->head = cy->next;
        cycle_free(cy);
    }
    free(x->inject_sql);
    free(x->long_scan);
    free(x);
    c->sess = NULL;
    c->long_text = false;
}
