/*
 * server.c -- server connection life cycle on a worker: the steps a pool
 * decides (connect, hand over, move between workers), health checks, the
 * answers to the set-up session/handoff.c sends, clean-up after the client
 * (drain outstanding results with a cancel, ROLLBACK, DISCARD ALL,
 * server_reset_query), cancels, idle watching and timeouts. The login
 * itself is server_login.c.
 */
#include "pooler/pool/server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pooler/core/log.h"
#include "pooler/pool/stats.h"
#include "pooler/core/worker.h"
#include "protocol/mysql/my_cmd.h"
#include "protocol/mysql/my_charset.h"

#define RESET_TIMEOUT 30.0 /* seconds a clean-up may take before the server is closed */

/*
 * What weir needs to follow a MySQL session: every system variable and the
 * schema, and a flag for any other change. Transaction boundaries come from
 * the status flags; session_track_transaction_info stays off because MariaDB
 * turns its query cache off for a session that tracks it (LOCK TABLES, which
 * only that tracker reports, is seen in the statement's text: my_pin.h).
 */
const char server_my_session_sql[] =
    "SET SESSION progress_report_time = 0, session_track_state_change = ON, "
    "session_track_schema = ON, session_track_system_variables = '*'";

struct server_hooks server_hooks;

static void server_reset_continue(struct server *s);
static void send_my_command(struct server *s, uint8_t cmd);

static bool is_tested(enum server_state st)
{
    return st == SV_CHECK || st == SV_RESET;
}

/*
 * Changes s's state, keeping the gauge of servers being checked or cleaned
 * (SHOW POOLS sv_tested) in the owner worker's slot: both states begin and
 * end on one worker, so the sum over workers is exact.
 */
void server_set_state(struct server *s, enum server_state st)
{
    if (is_tested(s->state) != is_tested(st))
        stats_add(&stats_slot_of(s->pool, s->w)->tested, is_tested(st) ? 1 : UINT64_MAX);
    if ((s->state == SV_ACTIVE) != (st == SV_ACTIVE)) {
        /*
         * While linked to a client, libev calls the relay directly: the swap
         * costs two stores per handoff and nothing per forwarded message.
         */
        bool active = st == SV_ACTIVE;
        ev_set_cb(&s->rio, active ? server_hooks.active_read : server_read_cb);
        ev_set_cb(&s->wio, active ? server_hooks.active_write : server_write_cb);
    }
    s->state = st;
}

void server_watch(struct server *s)
{
    if (!ev_is_active(&s->rio))
        ev_io_start(s->w->loop, &s->rio);
}

void server_unwatch(struct server *s)
{
    ev_io_stop(s->w->loop, &s->rio);
    ev_io_stop(s->w->loop, &s->wio);
}

static void server_drop_buffer(struct server *s)
{
    buf_put(&s->w->bufs, s->in);
    s->in = NULL;
    s->in_remaining = 0;
}

void server_free(struct server *s)
{
    if (s->gen_taken) {
        pool_server_freed(s->pool, s);
        server_hooks
            .gone(); /* a console may be waiting for this server to go (PAUSE, WAIT_CLOSE) */
    }
    if (s->bc)
        s->ops->close(s->bc);
    free(s->walk);
    if (s->my_stmts)
        server_hooks.forget_stmts(s);
    pg_out_free(&s->out);
    param_clear_all(&s->params);
    settings_clear(&s->settings);
    ps_cache_free(s->ps);
    free(s);
}

void server_free_at_exit(struct server *s)
{
    /*
     * Off its idle list first: another worker may still be answering a
     * console or /metrics request that walks every idle list.
     */
    if (list_linked(&s->idle_node))
        pool_unpark(s->pool, s);
    s->gen_taken = false; /* no other pool bookkeeping at exit */
    list_del(&s->wnode);
    server_unwatch(s);
    server_drop_buffer(s);
    server_free(s);
}

void server_close(struct server *s, const char *reason)
{
    struct worker *w = s->w;
    struct pool *r = s->pool;
    log_server(s, weir.cfg->log_disconnections ? LOG_LVL_INFO : LOG_LVL_DEBUG, "closing: %s",
               reason);
    struct client *requeue = NULL;
    if (s->client) {
        struct client *c = s->client;
        s->client = NULL;
        if (s->state == SV_CHECK) {
            requeue = c; /* the health check failed: the client never knew this server */
            server_hooks.lost(c, NULL);
        } else {
            server_hooks.lost(c, reason);
        }
    }
    server_unwatch(s);
    server_drop_buffer(s);
    list_del(&s->wnode);
    bool connecting = s->state == SV_CONNECTING;
    if (connecting && s->walk)
        host_walk_abandon(s->walk, ev_now(w->loop)); /* weir's own doing, not the host's */
    server_set_state(s, SV_CLOSED);
    if (s->bc) {
        s->ops->close(s->bc);
        s->bc = NULL;
        s->ssl = NULL; /* the connector's: freed by close */
    }
    struct pool_step st;
    if (connecting)
        pool_connect_abandoned(r, w, &st); /* real login failures go through connect_failed */
    else
        pool_server_gone(r, w, s, &st);
    if (s->cancels_pending == 0)
        server_free(s);
    server_apply_step(w, r, &st);
    if (requeue)
        server_hooks.requeue(requeue);
}

/* ---- handing servers around ---- */

static void server_move(struct server *s, struct pool_waiter *c)
{
    server_unwatch(s);
    server_drop_buffer(s);
    list_del(&s->wnode);
    s->state = SV_MOVING;
    struct msg *m = msg_new(MSG_SERVER);
    m->server = s;
    m->waiter = c;
    worker_post(c->w, m);
}

void server_apply_step(struct worker *w, struct pool *r, struct pool_step *st)
{
    struct server *s = st->assigned;
    st->assigned = NULL;
    while (s) {
        struct server *next = s->assign_next;
        struct pool_waiter *c = s->assign_waiter;
        s->assign_next = NULL;
        s->assign_waiter = NULL;
        if (c->w == w)
            server_hooks.take(c, s);
        else
            server_move(s, c);
        s = next;
    }
    for (int i = 0; i < st->nconnect; i++)
        server_connect(w, r);
    if (st->wake_worker >= 0 && st->wake_worker != w->id) {
        struct msg *m = msg_new(MSG_DISPATCH);
        m->pool = r;
        worker_post(&weir.workers[st->wake_worker], m);
    }
    struct list *n;
    while ((n = list_pop(&st->failed))) {
        struct pool_waiter *c = list_entry(n, struct pool_waiter, node);
        const char *sqlstate = st->fail_sqlstate[0] ? st->fail_sqlstate : "08006";
        if (c->w == w) {
            server_hooks.wait_failed(c, sqlstate, st->fail_text);
        } else {
            struct msg *m = msg_new(MSG_ERROR);
            m->waiter = c;
            snprintf(m->sqlstate, sizeof(m->sqlstate), "%s", sqlstate);
            snprintf(m->text, sizeof(m->text), "%s", st->fail_text);
            worker_post(c->w, m);
        }
    }
    if (st->close) {
        struct server *gone = st->close;
        st->close = NULL;
        server_close(gone, st->close_reason ? st->close_reason : "not wanted back in its pool");
    }
}

void server_adopt(struct worker *w, struct server *s, struct pool_waiter *c)
{
    s->w = w;
    s->state = SV_IDLE;
    list_add_tail(&w->servers, &s->wnode);
    server_watch(s);
    server_hooks.take(c, s);
}

bool server_check_due(const struct server *s)
{
    return ev_now(s->w->loop) - s->last_used > weir.cfg->server_check_delay;
}

/* MySQL: does s's entry care which role its host has (the role query is worth a round trip)? */
static bool wants_my_role(const struct server *s)
{
    return s->kind == BACKEND_MYSQL && s->host && s->pool->db->target_session_attrs != TSA_ANY;
}

/* MySQL: sends the role query; its answer lands in s->my_role (server_internal_input_my). */
static void send_my_role_query(struct server *s)
{
    s->my_role_query = true;
    s->my_role = 0;
    server_send_my_command(s, COM_QUERY, BACKEND_MY_ROLE_SQL);
}

void server_role_suspect(struct server *s)
{
    if (!wants_my_role(s) || s->role_recheck)
        return;
    s->role_recheck = true;
    log_server(s, LOG_LVL_INFO,
               "a write failed as on a read-only server: its role is read again at release");
}

void server_check_start(struct server *s)
{
    const struct config *cfg = weir.cfg;
    server_set_state(s, SV_CHECK);
    s->failed = false;
    s->deadline = ev_now(s->w->loop) + cfg->server_connect_timeout;
    if (wants_my_role(s)) {
        send_my_role_query(s); /* as cheap as a ping, and it tells a demotion */
    } else if (s->kind == BACKEND_MYSQL) {
        send_my_command(s, COM_PING);
    } else {
        s->outstanding = 1;
        pg_out_query(&s->out, cfg->server_check_query);
    }
    if (s->out.failed || server_flush_out(s) == WR_ERROR)
        server_close(s, "cannot send health check");
}

/* ---- clean-up after a client ---- */

static void send_internal(struct server *s, const char *sql)
{
    pg_out_query(&s->out, sql);
    s->outstanding++;
}

/*
 * MySQL: queues a command with an optional argument (COM_PING, COM_QUERY,
 * COM_INIT_DB, COM_RESET_CONNECTION); its answer is tracked in order.
 */
void server_send_my_command(struct server *s, uint8_t cmd, const char *arg)
{
    struct my_out o;
    my_out_init(&o);
    my_out_begin(&o, 0);
    my_out_int1(&o, cmd);
    if (arg)
        my_out_bytes(&o, arg, strlen(arg));
    my_out_end(&o);
    pg_out_bytes(&s->out, o.data, o.len);
    if (o.failed)
        s->out.failed = true;
    my_out_free(&o);
    struct my_track_state *t = &s->my;
    if (!t->busy) {
        my_resp_start(&t->resp, cmd, s->my_caps);
        t->busy = true;
        t->own = 0;
    } else {
        t->queue_own[(t->qhead + t->qlen) % sizeof(t->queue)] = 0;
        t->queue[(t->qhead + t->qlen++) % sizeof(t->queue)] = cmd;
    }
    s->outstanding++;
}

static void send_my_command(struct server *s, uint8_t cmd)
{
    server_send_my_command(s, cmd, NULL);
}

void server_release(struct server *s, bool clean)
{
    s->client = NULL;
    s->served = true;
    s->xact_start = 0;
    if (!clean) {
        server_close(s, "client went away in the middle of a message");
        return;
    }
    if (pool_replication(s->pool)) {
        server_close(s, "replication connection: its client left (never pooled)");
        return;
    }
    if (s->kind == BACKEND_MYSQL && (s->outstanding > 0 || s->my.busy)) {
        /*
         * A MySQL response cannot be cut short; the connection goes. The
         * server would not notice the close while the query runs (a
         * SLEEP, a long scan): cancel it too, so its thread ends now.
         */
        (void)server_cancel(s, SERVER_CANCEL_CLEANUP);
        server_close(s, "client went away during a response");
        return;
    }
    server_set_state(s, SV_RESET);
    s->reset_stage = RESET_DRAIN;
    s->failed = false;
    s->deadline = ev_now(s->w->loop) + RESET_TIMEOUT;
    /* What the client did not read is discarded; a partial message still gets parsed. */
    if (s->in) {
        s->in->sent = s->in->parsed;
        buf_compact(s->in);
    }
    if (s->copy_in) {
        pg_out_copy_fail(&s->out, "client disconnected");
        s->copy_in = false;
    }
    if (s->need_sync) {
        pg_out_sync(&s->out);
        s->outstanding++;
        s->need_sync = false;
    }
    if (s->outstanding > 0)
        (void)server_cancel(s, SERVER_CANCEL_CLEANUP);
    if (s->out.failed || server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot send clean-up");
        return;
    }
    server_watch(s);
    server_reset_continue(s);
}

/* Would server_reset_query run after this server's client (session pooling, or always)? */
static bool reset_query_applies(const struct server *s)
{
    return weir.cfg->server_reset_query[0] &&
           (s->pool->pool_mode == POOL_SESSION || weir.cfg->server_reset_query_always);
}

/*
 * PostgreSQL: a client left state on s that weir cannot replay (s->discard,
 * session/sess_pg.c), or settings a reset query is about to wipe: DISCARD
 * ALL, then the configured reset query if it is another. Its session is then
 * as fresh as after login: no settings left to diff against.
 */
static bool pg_discard_due(const struct server *s)
{
    return s->kind == BACKEND_POSTGRES && (s->discard || (s->settings.n && reset_query_applies(s)));
}

static void pg_discard(struct server *s)
{
    if (s->ps)
        ps_cache_clear(s->ps); /* DISCARD ALL drops weir's prepared statements too */
    send_internal(s, "DISCARD ALL");
    if (reset_query_applies(s) && strcasecmp(weir.cfg->server_reset_query, "DISCARD ALL"))
        send_internal(s, weir.cfg->server_reset_query);
    settings_clear(&s->settings);
    s->discard = false;
}

/*
 * Does s still fit its entry's target_session_attrs? PostgreSQL tells its
 * sessions when a standby is promoted (in_hot_standby in ParameterStatus,
 * which the relay records); a server that stopped fitting goes at release.
 */
static bool server_role_fits(struct server *s)
{
    enum target_attrs tsa = s->pool->db->target_session_attrs;
    if (tsa == TSA_ANY || !s->host)
        return true;
    if (s->kind == BACKEND_MYSQL) {
        /* The role query's answer, once (a health check or RESET_ROLE asked). */
        if (!s->my_role)
            return true;
        bool ro = s->my_role == 2;
        s->my_role = 0;
        if (ro == s->login_read_only)
            return true;
        s->login_standby = s->login_read_only = ro;
        return host_still_fits(s->host, tsa, ro ? "on" : "off", ro ? "on" : "off");
    }
    const char *hs = s->params.v[PARAM_IN_HOT_STANDBY];
    const char *ro = s->params.v[PARAM_DEFAULT_TRANSACTION_READ_ONLY];
    /* As at login (it fitted then): no lock, nothing to tell. */
    if (server_param_on(hs) == s->login_standby && server_param_on(ro) == s->login_read_only)
        return true;
    s->login_standby = server_param_on(hs); /* told once: the host's record now says so */
    s->login_read_only = server_param_on(ro);
    return host_still_fits(s->host, tsa, hs, ro);
}

/* Next clean-up step once every expected ReadyForQuery has arrived. */
static void server_reset_continue(struct server *s)
{
    if (s->outstanding > 0)
        return;
    if (s->failed) {
        server_close(s, "clean-up query failed");
        return;
    }
    if (!server_role_fits(s)) {
        /* Before any clean-up: a server that goes anyway needs none. */
        server_close(s, "its host's role changed: it no longer fits target_session_attrs");
        return;
    }
    if (s->kind == BACKEND_MYSQL && s->txstatus != 'I') {
        /* COM_RESET_CONNECTION rolls the transaction back. */
        s->my_dirty = true;
        s->txstatus = 'I';
    }
    if (s->reset_stage == RESET_DRAIN && s->txstatus != 'I') {
        s->reset_stage = RESET_ROLLBACK;
        send_internal(s, "ROLLBACK");
    } else if (s->reset_stage < RESET_DEALLOCATE && s->kind == BACKEND_POSTGRES &&
               (s->ps_unsure ||
                (s->ps && s->ps->count && weir.cfg->server_reset_query[0] &&
                 (s->pool->pool_mode == POOL_SESSION || weir.cfg->server_reset_query_always)))) {
        /*
         * weir's statements on the server are no longer known for sure, or the
         * reset query may or may not drop them: drop them all, forget them.
         */
        s->reset_stage = RESET_DEALLOCATE;
        s->ps_unsure = false;
        if (s->ps)
            ps_cache_clear(s->ps);
        send_internal(s, "DEALLOCATE ALL");
    } else if (s->reset_stage < RESET_QUERY && s->kind == BACKEND_MYSQL &&
               (s->my_dirty || s->pool->pool_mode == POOL_SESSION ||
                weir.cfg->server_reset_query_always)) {
        /* Rolls back, drops temporary tables, user variables, prepared statements, locks. */
        s->reset_stage = RESET_QUERY;
        s->my_dirty = false;
        if (s->my_stmts)
            server_hooks.forget_stmts(s); /* the reset closes every statement */
        send_my_command(s, COM_RESET_CONNECTION);
        server_send_my_command(s, COM_QUERY, server_my_session_sql);
        /* COM_RESET_CONNECTION keeps the current schema: go back to the pool's. */
        server_send_my_command(s, COM_INIT_DB, s->pool->db->dbname);
    } else if (s->reset_stage < RESET_QUERY && pg_discard_due(s)) {
        s->reset_stage = RESET_QUERY;
        pg_discard(s);
    } else if (s->reset_stage < RESET_QUERY && reset_query_applies(s)) {
        s->reset_stage = RESET_QUERY;
        send_internal(s, weir.cfg->server_reset_query);
    } else if (s->reset_stage < RESET_ROLE && s->role_recheck) {
        /* A write failed as on a read-only server: is the host still what the entry wants? */
        s->reset_stage = RESET_ROLE;
        s->role_recheck = false;
        send_my_role_query(s);
    } else if (s->txstatus != 'I') {
        server_close(s, "still in a transaction after clean-up");
        return;
    } else if (s->cancels_pending > 0) {
        return; /* server_cancel_done continues */
    } else if (weir.cfg->server_lifetime > 0 &&
               ev_now(s->w->loop) - s->created > weir.cfg->server_lifetime) {
        server_close(s, "server_lifetime reached");
        return;
    } else {
        server_set_state(s, SV_IDLE);
        s->deadline = 0;
        s->last_used = ev_now(s->w->loop);
        server_drop_buffer(s);
        struct pool_step st;
        struct worker *w = s->w;
        struct pool *r = s->pool;
        pool_release(r, w, s, &st);
        server_apply_step(w, r, &st);
        return;
    }
    if (s->out.failed || server_flush_out(s) == WR_ERROR)
        server_close(s, "cannot send clean-up");
}

/* ---- cancel ---- */

/* Indexed by enum server_cancel_why; names the request in the log. */
static const char *const cancel_names[] = {"cancel request", "KILL QUERY", "clean-up cancel"};

static void cancel_done_cb(void *arg, const char *err, int ms)
{
    /* Runs on a cancel queue thread: only post; the owner cannot change while pending. */
    struct msg *m = arg;
    m->arg = ms;
    if (err)
        snprintf(m->text, sizeof(m->text), "%s", err[0] ? err : "unknown error");
    worker_post(m->server->w, m);
}

bool server_cancel(struct server *s, enum server_cancel_why why)
{
    const char *what = cancel_names[why];
    if (!s->bc) {
        log_server(s, LOG_LVL_WARNING, "%s not sent: the connection is already closed", what);
        return false;
    }
    /* The answer is allocated here, so the queue thread has nothing left that can fail. */
    struct msg *m = msg_new(MSG_CANCEL_DONE);
    m->server = s;
    m->key = (uint32_t)why;
    char err[256];
    s->cancels_pending++;
    if (s->ops->cancel(s->bc, cancel_done_cb, m, err, sizeof(err)))
        return true;
    s->cancels_pending--;
    free(m);
    log_server(s, LOG_LVL_WARNING, "%s not sent: %s", what, err);
    return false;
}

void server_cancel_done(const struct msg *m)
{
    struct server *s = m->server;
    const char *what = cancel_names[m->key];
    /* Logged only now: "forwarded" means the server has taken the request. */
    if (m->text[0])
        log_server(s, LOG_LVL_WARNING, "%s to S-%llu not sent (%d ms): %s", what,
                   (unsigned long long)s->id, m->arg, m->text);
    else
        log_server(s, m->key == SERVER_CANCEL_CLEANUP ? LOG_LVL_DEBUG : LOG_LVL_INFO,
                   "%s forwarded to S-%llu (%d ms)", what, (unsigned long long)s->id, m->arg);
    s->cancels_pending--;
    if (s->state == SV_CLOSED) {
        if (s->cancels_pending == 0)
            server_free(s);
        return;
    }
    if (s->state == SV_RESET)
        server_reset_continue(s);
}

/* ---- I/O ---- */

int server_flush_out(struct server *s)
{
    if (s->out.len == 0)
        return WR_OK;
    int rc = io_send_raw(s->fd, s->ssl, s->out.data, s->out.len, &s->out_sent);
    if (rc == WR_OK) {
        pg_out_reset(&s->out);
        s->out_sent = 0;
        ev_io_stop(s->w->loop, &s->wio);
    } else if (rc == WR_AGAIN) {
        ev_io_start(s->w->loop, &s->wio);
    }
    return rc;
}

/*
 * Consumes what the server says in SETUP and RESET: nothing is forwarded.
 * ParameterStatus updates the cache, ErrorResponse marks the step failed,
 * ReadyForQuery counts down `outstanding`.
 */
static void server_internal_done(struct server *s);

/*
 * Reads the answers to weir's own queries into s->in. Returns the buffer, or
 * NULL when the server was closed (EOF, error, out of memory).
 */
static struct iobuf *server_read_internal(struct server *s)
{
    if (!s->in && !(s->in = buf_get(&s->w->bufs))) {
        server_close(s, "out of memory");
        return NULL;
    }
    ssize_t n = io_recv(s->fd, s->ssl, s->in);
    if (n == 0 || n == -2) {
        server_close(s, n == 0 ? "server closed the connection" : strerror(errno));
        return NULL;
    }
    if (tls_pending(s->ssl))
        ev_feed_event(s->w->loop, &s->rio, EV_READ); /* OpenSSL holds more: no epoll wake-up */
    return s->in;
}

/* MySQL: a row of the role query: either flag on means the server takes no writes. */
static void read_my_role(struct server *s, const uint8_t *p, uint32_t len)
{
    struct my_in in;
    my_in_init(&in, p, len);
    bool ro = false;
    for (int i = 0; i < 2; i++) {
        bool null = false;
        uint64_t n = my_in_lenenc(&in, &null);
        const uint8_t *v = null ? NULL : my_in_bytes(&in, (size_t)n);
        if (v && !(n == 1 && v[0] == '0'))
            ro = true;
    }
    s->my_role = ro ? 2 : 1;
}

/*
 * MySQL: the answers to weir's own commands (OK or ERR) are read and dropped;
 * the role query's row is read (read_my_role).
 */
static void server_internal_input_my(struct server *s)
{
    struct iobuf *b = server_read_internal(s);
    if (!b)
        return;
    while (b->parsed < b->recv && s->outstanding > 0) {
        uint32_t avail = b->recv - b->parsed, len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK || avail < 4 + len)
            break;
        if (4 + len > b->cap) {
            server_close(s, "oversized answer to an internal command");
            return;
        }
        struct my_track_state *t = &s->my;
        uint8_t before = t->resp.state;
        int rc = my_resp_feed(&t->resp, b->data + b->parsed + 4, len, len);
        if (s->my_role_query && before == MY_RS_ROWS && rc == WR_AGAIN)
            read_my_role(s, b->data + b->parsed + 4, len);
        if (s->my_role_query && rc == WR_DONE)
            s->my_role_query = false;
        if (rc == WR_DONE && t->resp.error) {
            struct my_err e;
            if (s->state == SV_SETUP && !s->setup_error[0] &&
                my_err_parse(b->data + b->parsed + 4, len, &e) == WR_OK) {
                snprintf(s->setup_error, sizeof(s->setup_error), "%.*s", (int)e.message_len,
                         e.message);
                snprintf(s->setup_sqlstate, sizeof(s->setup_sqlstate), "08P01");
            }
            s->failed = true;
        }
        b->parsed += 4 + len;
        if (rc == WR_ERROR) {
            server_close(s, "protocol error from server");
            return;
        }
        if (rc == WR_DONE) {
            t->busy = false;
            s->outstanding--;
            if (t->qlen > 0) {
                my_resp_start(&t->resp, t->queue[t->qhead], s->my_caps);
                t->qhead = (t->qhead + 1) % sizeof(t->queue);
                t->qlen--;
                t->busy = true;
            }
        }
    }
    b->sent = b->parsed;
    buf_compact(b);
    if (s->outstanding > 0)
        return;
    if (b->recv > 0) {
        server_close(s, "unexpected data from server");
        return;
    }
    server_internal_done(s);
}

static void server_internal_input(struct server *s)
{
    if (s->kind == BACKEND_MYSQL) {
        server_internal_input_my(s);
        return;
    }
    struct iobuf *b = server_read_internal(s);
    if (!b)
        return;
    while (b->parsed < b->recv && s->outstanding > 0) {
        uint32_t avail = b->recv - b->parsed;
        if (buf_skip_body(b, &s->in_remaining))
            continue;
        char type;
        uint32_t body;
        int rc = pg_msg_peek(b->data + b->parsed, avail, BUF_MAX_BODY, &type, &body);
        if (rc == WR_AGAIN)
            break;
        if (rc == WR_ERROR) {
            server_close(s, "protocol error from server");
            return;
        }
        bool inspect = type == 'Z' || type == 'E' || type == 'S' || type == 'G';
        bool fits = PG_HDR_LEN + body <= b->cap;
        if (inspect && fits && avail < PG_HDR_LEN + body)
            break; /* wait for the whole message */
        const uint8_t *msg = b->data + b->parsed + PG_HDR_LEN;
        if (inspect && fits) {
            struct pg_error_fields ef;
            struct pg_in in;
            switch (type) {
            case 'Z':
                s->txstatus = body > 0 ? (char)msg[0] : 'E';
                s->outstanding--;
                break;
            case 'E':
                if (pg_error_parse(msg, body, &ef) == WR_OK && s->state == SV_SETUP &&
                    !s->setup_error[0]) {
                    snprintf(s->setup_error, sizeof(s->setup_error), "%s", ef.message);
                    snprintf(s->setup_sqlstate, sizeof(s->setup_sqlstate), "%s", ef.sqlstate);
                }
                /* In the drain, errors are the client's own (or the cancel's); they do not count.
                 */
                if (s->state != SV_RESET || s->reset_stage != RESET_DRAIN)
                    s->failed = true;
                break;
            case 'S': {
                pg_in_init(&in, msg, body);
                const char *name = pg_in_str(&in), *value = pg_in_str(&in);
                int id = name && value ? param_lookup(name) : -1;
                if (id >= 0)
                    param_set(&s->params, id, value);
                break;
            }
            case 'G':
                /* COPY FROM STDIN started by a query we are draining: refuse the data. */
                pg_out_copy_fail(&s->out, "client disconnected");
                break;
            }
            b->parsed += PG_HDR_LEN + body;
        } else {
            b->parsed += PG_HDR_LEN;
            s->in_remaining = body;
        }
    }
    b->sent = b->parsed;
    buf_compact(b);
    if (s->out.len && server_flush_out(s) == WR_ERROR) {
        server_close(s, "cannot write to server");
        return;
    }
    if (s->outstanding > 0)
        return;
    if (b->recv > 0 || s->in_remaining) {
        server_close(s, "unexpected data from server");
        return;
    }
    server_internal_done(s);
}

/* Every answer to weir's own queries is in: go on with the check, set-up or clean-up. */
static void server_internal_done(struct server *s)
{
    server_drop_buffer(s);
    if (s->state == SV_CHECK) {
        if (s->failed) {
            server_close(s, "health check failed");
            return;
        }
        /* The check's answer carries what changed meanwhile (in_hot_standby after a promotion). */
        if (!server_role_fits(s)) {
            server_close(s, "health check: its host's role changed, it no longer fits "
                            "target_session_attrs");
            return;
        }
        s->deadline = 0;
        server_hooks.checked(s, s->client);
    } else if (s->state == SV_SETUP) {
        server_hooks.setup_done(s, s->client);
    } else {
        server_reset_continue(s);
    }
}

void server_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct server *s = (struct server *)((char *)io - offsetof(struct server, rio));
    uint8_t byte;
    ssize_t n;
    switch (s->state) {
    case SV_CONNECTING:
        server_login_step(s);
        break;
    case SV_IDLE:
        n = recv(s->fd, &byte, 1, MSG_PEEK);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            break;
        server_close(s, n == 0  ? "server closed the connection while idle"
                        : n > 0 ? "unexpected data from idle server"
                                : strerror(errno));
        break;
    case SV_CHECK:
    case SV_SETUP:
    case SV_RESET:
        server_internal_input(s);
        break;
    default: /* SV_ACTIVE reads through server_hooks.active_read (server_set_state) */
        break;
    }
}

void server_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct server *s = (struct server *)((char *)io - offsetof(struct server, wio));
    if (s->out.len) {
        if (server_flush_out(s) == WR_ERROR)
            server_close(s, "cannot write to server");
        return;
    }
    ev_io_stop(loop, io); /* SV_ACTIVE writes through server_hooks.active_write */
}

void server_sweep(struct worker *w, ev_tstamp now)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->servers)
    {
        struct server *s = list_entry(pos, struct server, wnode);
        if (s->state == SV_IDLE) {
            const struct config *cfg = weir.cfg;
            if (pool_retired(s->pool))
                server_close(s, "its pool was replaced by a configuration reload");
            else if (pool_must_close(s->pool, s)) /* server_tls_* changed, RECONNECT, PAUSE */
                server_close(s, "its settings changed (reload or console): replaced");
            else if (cfg->server_lifetime > 0 && now - s->created > cfg->server_lifetime)
                server_close(s, "server_lifetime reached");
            else if (cfg->server_idle_timeout > 0 &&
                     now - s->last_used > cfg->server_idle_timeout && pool_may_shrink(s->pool, s))
                server_close(s, "server_idle_timeout reached");
            continue;
        }
        if (s->deadline == 0 || now < s->deadline)
            continue;
        if (s->state == SV_CHECK)
            server_close(s, "health check took too long");
        else if (s->state == SV_CONNECTING)
            server_login_timed_out(s);
        else if (s->state == SV_RESET)
            server_close(s, "clean-up took too long");
    }
}

/* ---- log lines ---- */

void log_server(const struct server *s, enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    const struct db_entry *db = s->pool->db;
    char addr[300];
    if (s->host)
        snprintf(addr, sizeof(addr), "%s", host_label(s->host));
    else
        snprintf(addr, sizeof(addr), "%s:%d", db->host ? db->host : "-", db->port);
    struct log_conn conn = {
        .kind = 'S',
        .id = (unsigned long long)s->id,
        .peer_id = s->client ? (unsigned long long)server_hooks.client_id(s->client) : 0,
        .database = db->name,
        .user = s->pool->user,
        .addr = addr,
    };
    va_list ap;
    va_start(ap, fmt);
    log_conn_vmsg(lvl, &conn, fmt, ap);
    va_end(ap);
}
