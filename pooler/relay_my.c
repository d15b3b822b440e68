/*
 * relay_my.c -- the MySQL half of the relay: packet headers (3-byte length,
 * sequence id) instead of PostgreSQL messages. Client packets with sequence
 * id 0 start commands, which are queued; the server's packets are fed to the
 * response tracker of protocol/mysql (whole only when it must look inside:
 * OK, ERR, EOF, column counts), so `outstanding` counts the commands still
 * waiting for the end of their response.
 */
#include "pooler/relay.h"

#include "pooler/worker.h"

enum scan_result relay_my_scan_client(struct client *c, struct server *s, struct iobuf *b)
{
    struct my_track_state *t = &s->my;
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (c->in_remaining) {
            uint32_t k = avail < c->in_remaining ? avail : c->in_remaining;
            b->parsed += k;
            c->in_remaining -= k;
            continue;
        }
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        bool starts_command = !t->c2s_cont && seq == 0;
        if (starts_command) {
            if (len == 0)
                return SCAN_ERROR;
            if (avail < 5)
                return SCAN_OK; /* the command byte is still on its way */
            uint8_t cmd = b->data[b->parsed + 4];
            if (cmd == COM_QUIT) {
                b->recv = b->parsed;
                return SCAN_TERMINATE;
            }
            if (my_cmd_has_response(cmd)) {
                if (t->qlen == sizeof(t->queue))
                    return SCAN_ERROR; /* nobody pipelines 16 commands without reading */
                t->queue[(t->qhead + t->qlen++) % sizeof(t->queue)] = cmd;
                if (s->outstanding++ == 0)
                    s->query_start = ev_now(c->w->loop);
            }
        } else if (!t->c2s_cont && len == 0 && t->busy && t->resp.infile) {
            /* The empty packet that ends a LOCAL INFILE upload. */
            if (my_resp_infile_sent(&t->resp) != WR_OK)
                return SCAN_ERROR;
        }
        t->c2s_cont = len == MY_MAX_PAYLOAD;
        b->parsed += 4;
        c->in_remaining = len;
    }
    return SCAN_OK;
}

enum scan_result relay_my_scan_server(struct server *s, struct client *c, struct iobuf *b)
{
    struct my_track_state *t = &s->my;
    while (b->parsed < b->recv) {
        uint32_t avail = b->recv - b->parsed;
        if (s->in_remaining) {
            uint32_t k = avail < s->in_remaining ? avail : s->in_remaining;
            b->parsed += k;
            s->in_remaining -= k;
            continue;
        }
        uint32_t len;
        uint8_t seq;
        if (my_pkt_peek(b->data + b->parsed, avail, &len, &seq) != WR_OK)
            return SCAN_OK;
        if (!t->busy && t->qlen > 0) {
            my_resp_start(&t->resp, t->queue[t->qhead], s->my_caps);
            t->qhead = (t->qhead + 1) % sizeof(t->queue);
            t->qlen--;
            t->busy = true;
        }
        if (t->busy) {
            if (len > 0 && avail < 5)
                return SCAN_OK;
            uint8_t first = len > 0 ? b->data[b->parsed + 4] : 0;
            bool whole = avail >= 4 + len;
            if (!whole && my_resp_wants_whole(&t->resp, first, len)) {
                if (4 + len <= b->cap)
                    return SCAN_OK;
                return SCAN_ERROR;
            }
            uint32_t have = avail - 4 < len ? avail - 4 : len;
            int rc = my_resp_feed(&t->resp, b->data + b->parsed + 4, have, len);
            if (rc == WR_ERROR)
                return SCAN_ERROR;
            if (rc == WR_DONE) {
                t->busy = false;
                if (t->resp.has_status)
                    t->status = t->resp.status;
                if (s->outstanding > 0)
                    s->outstanding--;
                c->last_active = ev_now(c->w->loop);
            }
        }
        /* Packets outside any response (an ERR before the server hangs up) just pass. */
        b->parsed += 4;
        s->in_remaining = len;
    }
    return SCAN_OK;
}
