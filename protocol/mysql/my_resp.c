/* my_resp.c -- response completion tracking, OK packets and session-state entries. */
#include "protocol/mysql/my_resp.h"

#include <string.h>

#define PROGRESS_ERRNO 0xFFFF /* MariaDB progress reports travel as ERR with this code */

bool my_cmd_has_response(uint8_t cmd)
{
    return cmd != COM_QUIT && cmd != COM_STMT_CLOSE && cmd != COM_STMT_SEND_LONG_DATA;
}

void my_resp_start(struct my_resp *r, uint8_t command, uint64_t caps)
{
    memset(r, 0, sizeof(*r));
    r->caps = caps;
    r->command = command;
    switch (command) {
    case COM_QUIT:
    case COM_STMT_CLOSE:
    case COM_STMT_SEND_LONG_DATA:
        r->state = MY_RS_DONE;
        break;
    case COM_QUERY:
    case COM_PROCESS_INFO:
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
        r->state = MY_RS_FIRST;
        break;
    case COM_STMT_FETCH:
        r->state = MY_RS_ROWS;
        break;
    case COM_STMT_PREPARE:
        r->state = MY_RS_PREP_FIRST;
        break;
    case COM_FIELD_LIST:
        r->state = MY_RS_FIELDS;
        break;
    case COM_STATISTICS:
        r->state = MY_RS_STRING;
        break;
    case COM_INIT_DB:
    case COM_PING:
    case COM_STMT_RESET:
    case COM_RESET_CONNECTION:
    case COM_SET_OPTION:
    case COM_REFRESH:
    case COM_PROCESS_KILL:
    case COM_DEBUG:
    case COM_SHUTDOWN:
    case COM_CREATE_DB:
    case COM_DROP_DB:
        r->state = MY_RS_SIMPLE;
        break;
    default: /* COM_CHANGE_USER (an auth dialogue), replication, unknown */
        r->state = MY_RS_BAD;
        break;
    }
}

static bool deprecate_eof(const struct my_resp *r)
{
    return (r->caps & CLIENT_DEPRECATE_EOF) != 0;
}

/*
 * Does a 0xFE packet of this length end a block of rows or definitions?
 * Rows can start with 0xFE only when their first field is 16 MiB or longer,
 * which makes their packet exactly 0xFFFFFF long; a 4.1 EOF is 5 bytes.
 */
static bool is_terminator(const struct my_resp *r, uint8_t b0, uint32_t len)
{
    if (b0 != MY_EOF_HEADER)
        return false;
    return deprecate_eof(r) ? len < MY_MAX_PAYLOAD : len < 9;
}

bool my_resp_wants_whole(const struct my_resp *r, uint8_t first_byte, uint32_t payload_len)
{
    if (r->cont)
        return false;
    switch (r->state) {
    case MY_RS_FIRST:
    case MY_RS_COLDEFS_EOF:
    case MY_RS_PREP_FIRST:
    case MY_RS_PREP_PARAMS_EOF:
    case MY_RS_PREP_COLS_EOF:
    case MY_RS_SIMPLE:
        return true;
    case MY_RS_ROWS:
    case MY_RS_FIELDS:
        return first_byte == MY_ERR_HEADER || is_terminator(r, first_byte, payload_len);
    case MY_RS_STRING:
        return first_byte == MY_ERR_HEADER;
    default:
        return false;
    }
}

/* Takes the status of an EOF (5 bytes) or an OK-form packet. WR_OK or WR_ERROR. */
static int take_status(struct my_resp *r, const uint8_t *p, size_t len)
{
    if (len == 5 && p[0] == MY_EOF_HEADER) {
        if (my_eof_parse(p, len, &r->warnings, &r->status) != WR_OK)
            return WR_ERROR;
    } else if (len == 1 && p[0] == MY_EOF_HEADER) {
        return WR_OK; /* pre-4.1 EOF: no flags */
    } else {
        struct my_ok ok;
        if (my_ok_parse(p, len, r->caps, &ok) != WR_OK)
            return WR_ERROR;
        r->status = ok.status;
        r->warnings = ok.warnings;
    }
    r->has_status = true;
    return WR_OK;
}

/* One result ended with OK/EOF: chain to the next one or finish. */
static int end_result(struct my_resp *r, const uint8_t *p, size_t len)
{
    if (take_status(r, p, len) != WR_OK)
        return WR_ERROR;
    r->results++;
    if (r->status & SERVER_MORE_RESULTS_EXISTS) {
        r->state = MY_RS_FIRST;
        return WR_AGAIN;
    }
    r->state = MY_RS_DONE;
    return WR_DONE;
}

/* An ERR packet: a MariaDB progress report (response goes on) or the end. */
static int on_err(struct my_resp *r, const uint8_t *p, size_t len)
{
    struct my_err e;
    if (my_err_parse(p, len, &e) != WR_OK)
        return WR_ERROR;
    if (e.code == PROGRESS_ERRNO && (r->caps & MARIADB_CLIENT_PROGRESS))
        return WR_AGAIN;
    r->error = true;
    r->error_code = e.code;
    r->results++;
    r->state = MY_RS_DONE;
    return WR_DONE;
}

/* The column count packet that opens a result set. */
static int on_column_count(struct my_resp *r, const uint8_t *p, size_t len)
{
    struct my_in in;
    bool meta = true;
    my_in_init(&in, p, len);
    uint64_t n = my_in_lenenc(&in, NULL);
    if ((r->caps & MARIADB_CLIENT_CACHE_METADATA) && my_in_left(&in) > 0)
        meta = my_in_int1(&in) != 0;
    if (!my_in_done(&in) || n == 0)
        return WR_ERROR;
    if (meta) {
        r->left = n;
        r->state = MY_RS_COLDEFS;
    } else {
        r->state = deprecate_eof(r) ? MY_RS_ROWS : MY_RS_COLDEFS_EOF;
    }
    return WR_AGAIN;
}

static int on_prepare_ok(struct my_resp *r, const uint8_t *p, size_t len)
{
    struct my_in in;
    my_in_init(&in, p, len);
    (void)my_in_int1(&in);
    r->stmt_id = my_in_int4(&in);
    r->prep_cols = my_in_int2(&in);
    uint16_t params = my_in_int2(&in);
    if (in.failed)
        return WR_ERROR;
    if (len >= 12)
        r->warnings = my_get16(p + 10);
    if (params > 0) {
        r->left = params;
        r->state = MY_RS_PREP_PARAMS;
    } else if (r->prep_cols > 0) {
        r->left = r->prep_cols;
        r->state = MY_RS_PREP_COLS;
    } else {
        r->results++;
        r->state = MY_RS_DONE;
        return WR_DONE;
    }
    return WR_AGAIN;
}

/* After the parameter block of a prepare: columns, or the end. */
static int prepare_after_params(struct my_resp *r)
{
    if (r->prep_cols > 0) {
        r->left = r->prep_cols;
        r->state = MY_RS_PREP_COLS;
        return WR_AGAIN;
    }
    r->results++;
    r->state = MY_RS_DONE;
    return WR_DONE;
}

/* A 4.1 EOF closing a block of definitions; WR_OK or WR_ERROR. */
static int expect_eof(struct my_resp *r, const uint8_t *p, uint32_t len)
{
    if (len == 0 || !is_terminator(r, p[0], len))
        return WR_ERROR;
    return take_status(r, p, len);
}

int my_resp_feed(struct my_resp *r, const uint8_t *p, size_t avail, uint32_t len)
{
    if (avail > len || (len > 0 && (avail == 0 || p == NULL)))
        return WR_ERROR;
    if (r->cont) {
        r->cont = len == MY_MAX_PAYLOAD;
        if (!r->cont && r->state == MY_RS_STRING) {
            r->results++;
            r->state = MY_RS_DONE;
            return WR_DONE;
        }
        return WR_AGAIN;
    }
    if (r->state == MY_RS_DONE || r->state == MY_RS_BAD || r->state == MY_RS_INFILE)
        return WR_ERROR;
    if (len == 0 && r->state != MY_RS_STRING)
        return WR_ERROR; /* no OK, ERR, EOF, row or definition is empty */
    uint8_t b0 = len ? p[0] : 0;
    if (my_resp_wants_whole(r, b0, len) && (avail < len || len == MY_MAX_PAYLOAD))
        return WR_ERROR; /* decisions need whole packets, and these are never 16 MiB */
    r->cont = len == MY_MAX_PAYLOAD;

    switch (r->state) {
    case MY_RS_FIRST:
        if (b0 == MY_OK_HEADER)
            return end_result(r, p, len);
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (b0 == MY_INFILE_HEADER) {
            if (r->command != COM_QUERY)
                return WR_ERROR;
            r->infile = true;
            r->state = MY_RS_INFILE;
            return WR_AGAIN;
        }
        if (b0 == MY_EOF_HEADER)
            return WR_ERROR;
        return on_column_count(r, p, len);

    case MY_RS_COLDEFS:
        if (--r->left == 0)
            r->state = deprecate_eof(r) ? MY_RS_ROWS : MY_RS_COLDEFS_EOF;
        return WR_AGAIN;

    case MY_RS_COLDEFS_EOF:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (expect_eof(r, p, len) != WR_OK)
            return WR_ERROR;
        /* A cursor was opened: rows come later, through COM_STMT_FETCH. */
        if ((r->command == COM_STMT_EXECUTE || r->command == COM_STMT_BULK_EXECUTE) &&
            (r->status & SERVER_STATUS_CURSOR_EXISTS)) {
            r->results++;
            r->state = MY_RS_DONE;
            return WR_DONE;
        }
        r->state = MY_RS_ROWS;
        return WR_AGAIN;

    case MY_RS_ROWS:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (is_terminator(r, b0, len))
            return end_result(r, p, len);
        return WR_AGAIN; /* a row */

    case MY_RS_PREP_FIRST:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (b0 != MY_OK_HEADER)
            return WR_ERROR;
        return on_prepare_ok(r, p, len);

    case MY_RS_PREP_PARAMS:
        if (--r->left == 0) {
            if (!deprecate_eof(r))
                r->state = MY_RS_PREP_PARAMS_EOF;
            else
                return prepare_after_params(r);
        }
        return WR_AGAIN;

    case MY_RS_PREP_PARAMS_EOF:
        if (expect_eof(r, p, len) != WR_OK)
            return WR_ERROR;
        return prepare_after_params(r);

    case MY_RS_PREP_COLS:
        if (--r->left > 0)
            return WR_AGAIN;
        if (!deprecate_eof(r)) {
            r->state = MY_RS_PREP_COLS_EOF;
            return WR_AGAIN;
        }
        r->results++;
        r->state = MY_RS_DONE;
        return WR_DONE;

    case MY_RS_PREP_COLS_EOF:
        if (expect_eof(r, p, len) != WR_OK)
            return WR_ERROR;
        r->results++;
        r->state = MY_RS_DONE;
        return WR_DONE;

    case MY_RS_FIELDS:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (is_terminator(r, b0, len)) {
            if (take_status(r, p, len) != WR_OK)
                return WR_ERROR;
            r->results++;
            r->state = MY_RS_DONE;
            return WR_DONE;
        }
        return WR_AGAIN;

    case MY_RS_STRING:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (r->cont)
            return WR_AGAIN; /* finishes with the last continuation packet */
        r->results++;
        r->state = MY_RS_DONE;
        return WR_DONE;

    case MY_RS_SIMPLE:
        if (b0 == MY_ERR_HEADER)
            return on_err(r, p, len);
        if (b0 != MY_OK_HEADER && b0 != MY_EOF_HEADER)
            return WR_ERROR;
        if (take_status(r, p, len) != WR_OK)
            return WR_ERROR;
        r->results++;
        r->state = MY_RS_DONE;
        return WR_DONE;

    default:
        return WR_ERROR;
    }
}

int my_resp_infile_sent(struct my_resp *r)
{
    if (r->state != MY_RS_INFILE)
        return WR_ERROR;
    r->infile = false;
    r->state = MY_RS_FIRST;
    return WR_OK;
}

int my_ok_parse(const uint8_t *payload, size_t len, uint64_t caps, struct my_ok *out)
{
    struct my_in in;
    memset(out, 0, sizeof(*out));
    if (len < 7 || (payload[0] != MY_OK_HEADER && payload[0] != MY_EOF_HEADER))
        return WR_ERROR;
    my_in_init(&in, payload, len);
    out->header = my_in_int1(&in);
    out->affected_rows = my_in_lenenc(&in, NULL);
    out->insert_id = my_in_lenenc(&in, NULL);
    out->status = my_in_int2(&in);
    out->warnings = my_in_int2(&in);
    if (in.failed)
        return WR_ERROR;
    if (caps & CLIENT_SESSION_TRACK) {
        if (my_in_left(&in) > 0)
            out->info = my_in_lenenc_str(&in, &out->info_len);
        if ((out->status & SERVER_SESSION_STATE_CHANGED) && my_in_left(&in) > 0)
            out->session_state = my_in_lenenc_str(&in, &out->session_state_len);
    } else {
        out->info = my_in_rest(&in, &out->info_len);
    }
    if (in.failed)
        return WR_ERROR;
    if (out->info_len == 0)
        out->info = NULL;
    return WR_OK;
}

int my_track_next(struct my_track_iter *it, struct my_track *e)
{
    struct my_in *in = &it->in;
    struct my_in d;

    if (in->failed)
        return WR_ERROR;
    if (in->p == in->end)
        return WR_DONE;
    memset(e, 0, sizeof(*e));
    e->type = my_in_int1(in);
    e->data = my_in_lenenc_str(in, &e->data_len);
    if (in->failed)
        return WR_ERROR;

    my_in_init(&d, e->data, e->data_len);
    switch (e->type) {
    case SESSION_TRACK_SYSTEM_VARIABLES:
        e->name = my_in_lenenc_str(&d, &e->name_len);
        e->value = my_in_lenenc_str(&d, &e->value_len);
        break;
    case SESSION_TRACK_GTIDS:
        (void)my_in_int1(&d); /* encoding specification; 0 is the only one */
        e->value = my_in_lenenc_str(&d, &e->value_len);
        break;
    case SESSION_TRACK_SCHEMA:
    case SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
    case SESSION_TRACK_TRANSACTION_STATE:
        e->value = my_in_lenenc_str(&d, &e->value_len);
        break;
    default: /* STATE_CHANGE ("1"/"0" directly) and types we do not know */
        e->value = e->data;
        e->value_len = e->data_len;
        d.p = d.end;
        break;
    }
    if (!my_in_done(&d)) {
        in->failed = true;
        return WR_ERROR;
    }
    return WR_OK;
}
