/*
 * admin.c -- the admin console's login, permissions, command parsing and the
 * pool-level operations (PAUSE, RESUME, DISABLE, ENABLE, RECONNECT, KILL,
 * KILL_CLIENT, WAIT_CLOSE, RELOAD, SET, SHUTDOWN), and the framing of its
 * input on both protocols. SHOW rows come from admin_show.c, work on every
 * worker from admin_job.c, the encoders from admin_wire.c.
 */
#include "pooler/admin/admin_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pooler/session/client.h"
#include "pooler/admin/lifecycle.h"
#include "pooler/core/log.h"
#include "pooler/pool/pool.h"
#include "pooler/pool/server.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_handshake.h"
#include "protocol/mysql/my_packet.h"

#define ADMIN_QUERY_MAX (64 * 1024)

/* ---- permissions ---- */

/* True when user is in the comma/space separated list. */
static bool in_list(const char *list, const char *user)
{
    if (!list || !user)
        return false;
    size_t ul = strlen(user);
    const char *p = list;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *e = p;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        if ((size_t)(e - p) == ul && !strncmp(p, user, ul))
            return true;
        p = e;
    }
    return false;
}

static int permission(const char *user)
{
    if (in_list(weir.cfg->admin_users, user))
        return ADMIN_FULL;
    if (in_list(weir.cfg->stats_users, user))
        return ADMIN_STATS;
    return ADMIN_NONE;
}

/* ---- answering ---- */

bool admin_is_my(const struct client *c)
{
    return c->proto == &client_my_proto;
}

/* Writes the result for c and flushes. False when c was closed (write error). */
bool admin_answer(struct client *c, struct admin_result *r)
{
    if (r->failed) {
        admin_res_clear(r);
        admin_res_error(r, "53200", "out of memory");
    }
    if (admin_is_my(c))
        admin_write_my(client_out(c), r, c->my->caps);
    else
        admin_write_pg(client_out(c), r);
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR) {
        client_close(c, "cannot write to console client");
        return false;
    }
    return true;
}

void admin_login(struct client *c)
{
    c->admin = (uint8_t)permission(c->user);
    if (c->admin == ADMIN_NONE) {
        client_fail(c, "28000", "not allowed");
        return;
    }
    if (c->counted)
        atomic_fetch_add(&weir.nconsole, 1); /* a shutdown does not wait for consoles */
    if (admin_is_my(c)) {
        struct my_out o;
        my_out_init(&o);
        my_out_ok(&o, c->my->seq, c->my->caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
        client_my_queue(c, &o);
    } else {
        struct pg_out *o = client_out(c);
        pg_out_auth(o, 0, NULL, 0);
        /* A PostgreSQL-like version: drivers refuse servers older than 8.0. */
        pg_out_param_status(o, "server_version", "15.0 (weir " WEIR_VERSION ")");
        pg_out_param_status(o, "server_encoding", "UTF8");
        pg_out_param_status(o, "client_encoding", "UTF8");
        pg_out_param_status(o, "DateStyle", "ISO");
        pg_out_param_status(o, "TimeZone", "UTC");
        pg_out_param_status(o, "standard_conforming_strings", "on");
        pg_out_param_status(o, "integer_datetimes", "on");
        client_cancel_register(c->w, c);
        pg_out_backend_key(o, c->cancel_pid, c->cancel_key);
        pg_out_ready(o, 'I');
    }
    c->state = CL_ADMIN;
    c->deadline = 0;
    c->welcomed = true;
    c->last_active = ev_now(c->w->loop);
    if (weir.cfg->log_connections)
        log_client(c, LOG_LVL_INFO, "console login (%s)",
                   c->admin == ADMIN_FULL ? "admin" : "stats");
    if (client_out_failed(c) || client_flush_out(c) == WR_ERROR)
        client_close(c, "cannot write to client");
}

/* ---- commands ---- */

/* Next word of *p (letters, digits, _ . - and quoted "..."), upper-cased into w when upper. */
static bool next_word(const char **p, char *w, size_t n, bool upper)
{
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    size_t l = 0;
    if (*s == '"') {
        s++;
        while (*s && *s != '"' && l + 1 < n)
            w[l++] = *s++;
        if (*s == '"')
            s++;
    } else {
        while (*s && !isspace((unsigned char)*s) && *s != '=' && l + 1 < n) {
            char ch = *s++;
            w[l++] = upper ? (char)toupper((unsigned char)ch) : ch;
        }
    }
    w[l] = 0;
    *p = s;
    return l > 0;
}

static bool at_end(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return !*p;
}

static bool db_known(struct admin_result *r, const char *db)
{
    if (db && !config_find_db(weir.cfg, db)) {
        admin_res_error(r, "08P01", "no such database: %s", db);
        return false;
    }
    return true;
}

/* SET key = value (or TO): the value may be quoted '...'. */
static void cmd_set(struct admin_result *r, const char *p)
{
    char key[128], value[512];
    if (!next_word(&p, key, sizeof(key), false)) {
        admin_res_error(r, "08P01", "SET needs: SET key = value");
        return;
    }
    for (char *k = key; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '=')
        p++;
    else if (!strncasecmp(p, "to", 2) && isspace((unsigned char)p[2]))
        p += 2;
    else {
        admin_res_error(r, "08P01", "SET needs: SET key = value");
        return;
    }
    while (isspace((unsigned char)*p))
        p++;
    size_t l = 0;
    if (*p == '\'') {
        p++;
        while (*p && l + 1 < sizeof(value)) {
            if (*p == '\'' && p[1] == '\'')
                p++;
            else if (*p == '\'')
                break;
            value[l++] = *p++;
        }
    } else {
        while (*p && l + 1 < sizeof(value))
            value[l++] = *p++;
        while (l > 0 && isspace((unsigned char)value[l - 1]))
            l--;
    }
    value[l] = 0;
    char err[256] = "";
    if (weir_set(key, value, err, sizeof(err)) != WR_OK) {
        admin_res_error(r, "08P01", "%s", err[0] ? err : "SET failed");
        return;
    }
    log_info("console: SET %s = %s", key, value);
    snprintf(r->tag, sizeof(r->tag), "SET");
}

/*
 * Runs one command for console client c. Returns true when r holds the
 * answer; false when a job took over (it answers later).
 */
static bool run_command(struct client *c, const char *sql, struct admin_result *r)
{
    const char *p = sql;
    char cmd[32], arg[128];
    if (!next_word(&p, cmd, sizeof(cmd), true)) {
        snprintf(r->tag, sizeof(r->tag), "EMPTY"); /* an empty query */
        return true;
    }
    /* SELECT x is SHOW x, as in PgBouncer. */
    bool is_show = !strcmp(cmd, "SHOW") || !strcmp(cmd, "SELECT");
    if (!is_show && c->admin != ADMIN_FULL) {
        admin_res_error(r, "42501", "permission denied: %s needs admin access (admin_users)", cmd);
        return true;
    }
    if (is_show) {
        char what[32];
        next_word(&p, what, sizeof(what), true);
        if (!at_end(p))
            goto invalid;
        if (!strcmp(what, "HELP")) {
            snprintf(r->notice, sizeof(r->notice), "Console usage\n\t%s", admin_help_text);
            snprintf(r->tag, sizeof(r->tag), "SHOW");
        } else if (!strcmp(what, "POOLS")) {
            admin_show_pools(r);
        } else if (!strcmp(what, "STATS")) {
            admin_show_stats(r, VIEW_STATS);
        } else if (!strcmp(what, "STATS_TOTALS")) {
            admin_show_stats(r, VIEW_TOTALS);
        } else if (!strcmp(what, "STATS_AVERAGES")) {
            admin_show_stats(r, VIEW_AVERAGES);
        } else if (!strcmp(what, "DATABASES")) {
            admin_show_databases(r);
        } else if (!strcmp(what, "USERS")) {
            admin_show_users(r);
        } else if (!strcmp(what, "CONFIG")) {
            admin_show_config(r);
        } else if (!strcmp(what, "LISTS")) {
            admin_show_lists(r);
        } else if (!strcmp(what, "MEM")) {
            admin_show_mem(r);
        } else if (!strcmp(what, "VERSION")) {
            admin_show_version(r);
        } else if (!strcmp(what, "STATE")) {
            admin_show_state(r);
        } else if (!strcmp(what, "HOSTS")) {
            admin_show_hosts(r);
        } else if (!strcmp(what, "DNS_HOSTS")) {
            admin_show_dns_hosts(r);
        } else if (!strcmp(what, "LIMITS")) {
            admin_show_limits(r);
        } else if (!strcmp(what, "CLIENTS") || !strcmp(what, "SERVERS")) {
            struct admin_job *job =
                admin_job_new(c, what[0] == 'C' ? JOB_CLIENTS : JOB_SERVERS, NULL);
            if (!job) {
                r->failed = true;
                return true;
            }
            admin_res_cols(&job->res, admin_conn_cols,
                           sizeof(admin_conn_cols) / sizeof(admin_conn_cols[0]));
            admin_job_start(c, job);
            return false;
        } else {
            goto invalid;
        }
        return true;
    }
    if (!strcmp(cmd, "SET")) {
        cmd_set(r, p);
        return true;
    }
    bool has_arg = next_word(&p, arg, sizeof(arg), false);
    if (!at_end(p))
        goto invalid;
    const char *db = has_arg ? arg : NULL;
    snprintf(r->tag, sizeof(r->tag), "%s", cmd);
    if (!strcmp(cmd, "RELOAD") && !has_arg) {
        char err[256] = "";
        if (weir_reload(err, sizeof(err)) != WR_OK)
            admin_res_error(r, "08P01", "%s", err[0] ? err : "reload failed");
        return true;
    }
    if (!strcmp(cmd, "SHUTDOWN")) {
        /* PgBouncer 1.23's variants wait like SIGTERM / SIGINT. */
        enum shutdown_mode mode = SHUTDOWN_NOW;
        if (has_arg && !strcasecmp(arg, "WAIT_FOR_CLIENTS"))
            mode = SHUTDOWN_WAIT_CLIENTS;
        else if (has_arg && !strcasecmp(arg, "WAIT_FOR_SERVERS"))
            mode = SHUTDOWN_WAIT_SERVERS;
        else if (has_arg)
            goto invalid;
        log_info("console: SHUTDOWN %s by %s", has_arg ? arg : "", c->user);
        weir_shutdown(mode);
        return true;
    }
    if (!strcmp(cmd, "KILL_CLIENT")) {
        char *end;
        unsigned long long id = has_arg ? strtoull(arg, &end, 10) : 0;
        if (!has_arg || *end || id == 0) {
            admin_res_error(r, "08P01", "KILL_CLIENT needs a client id (SHOW CLIENTS, column id)");
            return true;
        }
        struct admin_job *job = admin_job_new(c, JOB_KILL_CLIENT, NULL);
        if (!job) {
            r->failed = true;
            return true;
        }
        job->id = id;
        snprintf(job->res.tag, sizeof(job->res.tag), "KILL_CLIENT");
        admin_job_start(c, job);
        return false;
    }
    bool need_db = !strcmp(cmd, "DISABLE") || !strcmp(cmd, "ENABLE");
    bool any_db = !strcmp(cmd, "PAUSE") || !strcmp(cmd, "RESUME") || !strcmp(cmd, "RECONNECT") ||
                  !strcmp(cmd, "KILL") || !strcmp(cmd, "WAIT_CLOSE");
    if (!need_db && !any_db)
        goto invalid;
    if (need_db && !has_arg) {
        admin_res_error(r, "08P01", "%s needs a database name", cmd);
        return true;
    }
    if (!db_known(r, db))
        return true;
    log_info("console: %s %s by %s", cmd, db ? db : "(all)", c->user);
    if (!strcmp(cmd, "DISABLE") || !strcmp(cmd, "ENABLE")) {
        pool_db_set_disabled(db, cmd[0] == 'D');
        return true;
    }
    if (!strcmp(cmd, "RESUME")) {
        pool_db_pause(c->w, db, false);
        return true;
    }
    enum job_kind kind = JOB_CLOSE_IDLE;
    enum wait_kind then = WAIT_NOTHING;
    if (!strcmp(cmd, "PAUSE")) {
        pool_db_pause(c->w, db, true);
        then = WAIT_PAUSE;
    } else if (!strcmp(cmd, "RECONNECT")) {
        pool_db_reconnect(db);
    } else if (!strcmp(cmd, "KILL")) {
        /* As PgBouncer: the database stays paused until RESUME. */
        pool_db_pause(c->w, db, true);
        kind = JOB_KILL;
    } else { /* WAIT_CLOSE */
        then = WAIT_CLOSE;
    }
    struct admin_job *job = admin_job_new(c, kind, db);
    if (!job) {
        r->failed = true;
        return true;
    }
    job->then_wait = then;
    snprintf(job->res.tag, sizeof(job->res.tag), "%s", cmd);
    admin_job_start(c, job);
    return false;
invalid:
    admin_res_clear(r);
    admin_res_error(r, "08P01", "invalid command '%s', use SHOW HELP;", sql);
    return true;
}

struct key_search {
    const char *key;
    bool found;
};

static void key_cb(void *arg, const char *key, const char *value, bool reloadable)
{
    struct key_search *ks = arg;
    if (!strcasecmp(key, ks->key))
        ks->found = true;
}

/*
 * MySQL drivers set session variables when they connect (SET NAMES utf8mb4,
 * SET autocommit = 1): a SET of anything that is not a [weir] key is
 * accepted and does nothing, so they can use the console.
 */
static bool my_session_set(const char *text)
{
    const char *p = text;
    char w[32], key[128];
    if (!next_word(&p, w, sizeof(w), true) || strcmp(w, "SET"))
        return false;
    if (!next_word(&p, key, sizeof(key), false))
        return true;
    struct key_search ks = {key, false};
    config_each(weir.cfg, key_cb, &ks);
    return !ks.found;
}

/* One query text from the console client. False when c was closed. */
static bool console_query(struct client *c, const char *sql)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s", sql);
    /* Trailing semicolons and blanks go; one statement per query. */
    size_t l = strlen(text);
    while (l > 0 && (text[l - 1] == ';' || isspace((unsigned char)text[l - 1])))
        text[--l] = 0;
    struct admin_result r;
    admin_res_init(&r);
    if (admin_is_my(c) && !strncasecmp(text, "select @@version_comment", 24)) {
        /* The mariadb CLI asks this at start: answer like a server would. */
        static const struct admin_col col = {"@@version_comment", ADMIN_TEXT};
        admin_res_cols(&r, &col, 1);
        snprintf(r.tag, sizeof(r.tag), "SELECT");
        admin_cell(&r, "weir admin console");
    } else if (admin_is_my(c) && my_session_set(text)) {
        snprintf(r.tag, sizeof(r.tag), "SET"); /* an OK */
    } else if (!run_command(c, text, &r)) {
        admin_res_clear(&r);
        return true;
    }
    if (r.sqlstate[0]) {
        log_client(c, LOG_LVL_INFO, "console error: %s", r.error);
    }
    bool alive = admin_answer(c, &r);
    admin_res_clear(&r);
    return alive;
}

/* ---- input framing ---- */

static void pg_input(struct client *c)
{
    struct iobuf *b = c->in;
    while (c->admin_job == NULL && c->fd != -1 && (b = c->in) && b->parsed < b->recv) {
        char type;
        uint32_t body;
        int rc =
            pg_msg_peek(b->data + b->parsed, b->recv - b->parsed, ADMIN_QUERY_MAX, &type, &body);
        if (rc == WR_AGAIN || (rc == WR_OK && b->recv - b->parsed < PG_HDR_LEN + body)) {
            if (rc == WR_OK && PG_HDR_LEN + body > b->cap) {
                client_fail(c, "08P01", "console query too long");
                return;
            }
            break;
        }
        if (rc == WR_ERROR) {
            client_fail(c, "08P01", "invalid message from console client");
            return;
        }
        char sql[1024];
        const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
        b->parsed += PG_HDR_LEN + body;
        b->sent = b->parsed;
        switch (type) {
        case 'Q':
            snprintf(sql, sizeof(sql), "%.*s", (int)(body ? body - 1 : 0), (const char *)msg);
            if (!console_query(c, sql))
                return;
            break;
        case 'X':
            client_close(c, "client terminated the session");
            return;
        case 'S': {
            c->in_remaining = 0; /* the error of an extended-protocol batch was sent */
            pg_out_ready(client_out(c), 'I');
            if (client_flush_out(c) == WR_ERROR) {
                client_close(c, "cannot write to console client");
                return;
            }
            break;
        }
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'H':
        case 'C':
        case 'F':
            /* One error per batch, then wait for its Sync (in_remaining marks it). */
            if (!c->in_remaining) {
                c->in_remaining = 1;
                pg_out_error(client_out(c), "ERROR", "08P01",
                             "the admin console supports only the simple query protocol");
                if (client_flush_out(c) == WR_ERROR) {
                    client_close(c, "cannot write to console client");
                    return;
                }
            }
            break;
        default:
            client_fail(c, "08P01", "unexpected message type '%c' on the console", type);
            return;
        }
    }
    if (c->fd != -1 && c->in && c->in->parsed == c->in->recv) {
        buf_put(&c->w->bufs, c->in);
        c->in = NULL;
    } else if (c->fd != -1 && c->in) {
        buf_compact(c->in);
    }
}

static bool my_simple(struct client *c, uint16_t code, const char *msg)
{
    struct my_out o;
    my_out_init(&o);
    if (msg)
        my_out_err(&o, 1, code, "HY000", "%s", msg);
    else
        my_out_ok(&o, 1, c->my->caps, 0, 0, SERVER_STATUS_AUTOCOMMIT, 0, NULL);
    return client_my_reply(c, &o);
}

static void my_input(struct client *c)
{
    struct iobuf *b;
    while (c->admin_job == NULL && c->fd != -1 && (b = c->in) && b->parsed < b->recv) {
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, b->recv - b->parsed, &len, &seq) != WR_OK)
            break;
        if (4 + len > b->cap) {
            client_fail(c, "08P01", "console query too long");
            return;
        }
        if (b->recv - b->parsed < 4 + len)
            break;
        const uint8_t *p = b->data + b->parsed + 4;
        b->parsed += 4 + len;
        b->sent = b->parsed;
        uint8_t cmd = len ? p[0] : 0;
        char sql[1024];
        bool alive = true;
        switch (cmd) {
        case COM_QUERY:
            snprintf(sql, sizeof(sql), "%.*s", (int)(len - 1), (const char *)p + 1);
            alive = console_query(c, sql);
            break;
        case COM_QUIT:
            client_close(c, "client terminated the session");
            return;
        case COM_PING:
            alive = my_simple(c, 0, NULL);
            break;
        case COM_INIT_DB:
            if (len - 1 == strlen(c->dbname) && !memcmp(p + 1, c->dbname, len - 1))
                alive = my_simple(c, 0, NULL);
            else
                alive = my_simple(c, 1044, "the admin console has no other database");
            break;
        default:
            alive = my_simple(c, 1047, "the admin console answers only text queries (COM_QUERY)");
            break;
        }
        if (!alive)
            return;
    }
    if (c->fd != -1 && c->in && c->in->parsed == c->in->recv) {
        buf_put(&c->w->bufs, c->in);
        c->in = NULL;
    } else if (c->fd != -1 && c->in) {
        buf_compact(c->in);
    }
}

void admin_input(struct client *c)
{
    c->last_active = ev_now(c->w->loop);
    if (admin_is_my(c))
        my_input(c);
    else
        pg_input(c);
}

void admin_hooks_fill(struct console_hooks *h)
{
    h->login = admin_login;
    h->input = admin_input;
    h->gone = admin_client_gone;
}
