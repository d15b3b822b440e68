/* my_stmt.c -- MariaDB Connector/C's binary prepared statements (mysql_stmt_*) driven line by
 * line, for the prepared-statement tests (t56, t57, t58 through MyStmt.pm).
 *
 * usage: my_stmt HOST PORT USER PASSWORD DB
 * Reads commands from stdin, one per line; each answer ends with a line holding a single ".".
 * Connections and statements are named by the test (A, B, s1, ...):
 *   connect C                    log in               -> "connected"
 *   query C SQL...               text protocol        -> "row: v1|v2" lines, "ok N", "error N msg"
 *   prepare C S SQL...           mysql_stmt_prepare   -> "prepared id=N params=P cols=C"
 *   direct C S SQL...            mariadb_stmt_execute_direct (PREPARE and EXECUTE of the last
 *                                prepared statement, sent together), then every row
 *   bind C S P1 P2 ...           parameters: i:INT d:DOUBLE s:TEXT (%20 for a space) n (NULL)
 *                                b:LEN (a blob of LEN bytes sent with mysql_stmt_send_long_data,
 *                                64 KiB chunks, chunk k filled with 'a' + k % 26)
 *   exec C S                     long data, mysql_stmt_execute, every row (or, with a cursor,
 *                                none)                -> "row: ..." lines, "ok N", "error N msg"
 *   longdata C S PARAM LEN       mysql_stmt_send_long_data alone
 *   cursor C S                   STMT_ATTR_CURSOR_TYPE read-only, STMT_ATTR_PREFETCH_ROWS 1
 *   fetch C S N                  up to N rows         -> "row: ..." lines, "end" at the end
 *   reset C S | close C S        mysql_stmt_reset / mysql_stmt_close
 *   reset_conn C | disconnect C  mysql_reset_connection / mysql_close
 * Values print as text, NULL as NULL, long ones as "<N bytes>". Exit 0 at the end of input. */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXC   8
#define MAXS   16
#define MAXP   16
#define COLBUF 256

struct param {
    enum enum_field_types type;
    long long i;
    double d;
    char s[256];
    unsigned long slen;
    my_bool null;
    unsigned long blob; /* bytes of long data, 0 = none */
};

struct stmt {
    char name[32];
    MYSQL_STMT *st;
    struct param p[MAXP];
    MYSQL_BIND b[MAXP];
    int np;
    int cursor;
    MYSQL_BIND rb[MAXP];
    char rbuf[MAXP][COLBUF];
    unsigned long rlen[MAXP];
    my_bool rnull[MAXP], rerr[MAXP];
    unsigned ncols;
};

struct conn {
    char name[32];
    MYSQL *my;
    struct stmt s[MAXS];
};

static struct conn conns[MAXC];
static const char *host, *user, *password, *db;
static unsigned port;

static struct conn *conn_get(const char *name, int create)
{
    for (int i = 0; i < MAXC; i++)
        if (conns[i].my && !strcmp(conns[i].name, name))
            return &conns[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAXC; i++)
        if (!conns[i].my) {
            snprintf(conns[i].name, sizeof(conns[i].name), "%s", name);
            return &conns[i];
        }
    return NULL;
}

static struct stmt *stmt_get(struct conn *c, const char *name, int create)
{
    for (int i = 0; i < MAXS; i++)
        if (c->s[i].st && !strcmp(c->s[i].name, name))
            return &c->s[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAXS; i++)
        if (!c->s[i].st) {
            memset(&c->s[i], 0, sizeof(c->s[i]));
            snprintf(c->s[i].name, sizeof(c->s[i].name), "%s", name);
            return &c->s[i];
        }
    return NULL;
}

static void stmt_err(MYSQL_STMT *st)
{
    printf("error %u %s\n", mysql_stmt_errno(st), mysql_stmt_error(st));
}

/* Binds every result column as text. */
static int bind_result(struct stmt *s)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(s->st);
    s->ncols = meta ? mysql_num_fields(meta) : 0;
    if (meta)
        mysql_free_result(meta);
    if (s->ncols == 0)
        return 0;
    if (s->ncols > MAXP)
        s->ncols = MAXP;
    memset(s->rb, 0, sizeof(s->rb));
    for (unsigned i = 0; i < s->ncols; i++) {
        s->rb[i].buffer_type = MYSQL_TYPE_STRING;
        s->rb[i].buffer = s->rbuf[i];
        s->rb[i].buffer_length = COLBUF;
        s->rb[i].length = &s->rlen[i];
        s->rb[i].is_null = &s->rnull[i];
        s->rb[i].error = &s->rerr[i];
    }
    return mysql_stmt_bind_result(s->st, s->rb) ? -1 : 1;
}

static void print_row(struct stmt *s)
{
    printf("row:");
    for (unsigned i = 0; i < s->ncols; i++) {
        printf(i ? "|" : " ");
        if (s->rnull[i])
            printf("NULL");
        else if (s->rlen[i] > 64 || s->rlen[i] >= COLBUF)
            printf("<%lu bytes>", s->rlen[i]);
        else
            printf("%.*s", (int)s->rlen[i], s->rbuf[i]);
    }
    printf("\n");
}

/* Fetches up to n rows (n < 0: all); prints "end" when the result is over. */
static void fetch_rows(struct stmt *s, long n)
{
    for (long k = 0; n < 0 || k < n; k++) {
        int rc = mysql_stmt_fetch(s->st);
        if (rc == MYSQL_NO_DATA) {
            printf("end\n");
            return;
        }
        if (rc == 1) {
            stmt_err(s->st);
            return;
        }
        print_row(s);
    }
}

static void blob_send(struct stmt *s, unsigned param, unsigned long len)
{
    static char chunk[65536];
    for (unsigned long off = 0, k = 0; off < len; off += sizeof(chunk), k++) {
        unsigned long n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
        memset(chunk, 'a' + (int)(k % 26), n);
        if (mysql_stmt_send_long_data(s->st, param, chunk, n)) {
            printf("longdata: ");
            stmt_err(s->st);
            return;
        }
    }
}

/* "i:42" etc. into s->p[k] and s->b[k]. */
static int parse_param(struct stmt *s, int k, char *v)
{
    struct param *p = &s->p[k];
    MYSQL_BIND *b = &s->b[k];
    memset(p, 0, sizeof(*p));
    memset(b, 0, sizeof(*b));
    if (!strcmp(v, "n")) {
        p->null = 1;
        b->buffer_type = MYSQL_TYPE_NULL;
        b->is_null = &p->null;
        return 0;
    }
    if (strlen(v) < 2 || v[1] != ':')
        return -1;
    char *a = v + 2;
    switch (v[0]) {
    case 'i':
        p->i = strtoll(a, NULL, 10);
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &p->i;
        return 0;
    case 'd':
        p->d = strtod(a, NULL);
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &p->d;
        return 0;
    case 's': {
        unsigned long n = 0;
        for (char *q = a; *q && n + 1 < sizeof(p->s); q++) {
            if (q[0] == '%' && q[1] == '2' && q[2] == '0') {
                p->s[n++] = ' ';
                q += 2;
            } else {
                p->s[n++] = *q;
            }
        }
        p->slen = n;
        b->buffer_type = MYSQL_TYPE_STRING;
        b->buffer = p->s;
        b->buffer_length = n;
        b->length = &p->slen;
        return 0;
    }
    case 'b':
        p->blob = strtoul(a, NULL, 10);
        b->buffer_type = MYSQL_TYPE_LONG_BLOB;
        return 0;
    default:
        return -1;
    }
}

static void run(char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " ", &save);
    char *cn = cmd ? strtok_r(NULL, " ", &save) : NULL;
    if (!cmd || !cn) {
        printf("error 0 bad command\n");
        return;
    }
    struct conn *c = conn_get(cn, !strcmp(cmd, "connect"));
    if (!c) {
        printf("error 0 no connection %s\n", cn);
        return;
    }
    if (!strcmp(cmd, "connect")) {
        c->my = mysql_init(NULL);
        unsigned timeout = 60;
        mysql_optionsv(c->my, MYSQL_OPT_READ_TIMEOUT, &timeout);
        mysql_optionsv(c->my, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
        if (!mysql_real_connect(c->my, host, user, password, db, port, NULL, 0)) {
            printf("error %u %s\n", mysql_errno(c->my), mysql_error(c->my));
            mysql_close(c->my);
            c->my = NULL;
            return;
        }
        printf("connected\n");
        return;
    }
    if (!strcmp(cmd, "disconnect")) {
        for (int i = 0; i < MAXS; i++)
            if (c->s[i].st)
                mysql_stmt_close(c->s[i].st);
        mysql_close(c->my);
        memset(c, 0, sizeof(*c));
        printf("ok\n");
        return;
    }
    if (!strcmp(cmd, "reset_conn")) {
        if (mysql_reset_connection(c->my))
            printf("error %u %s\n", mysql_errno(c->my), mysql_error(c->my));
        else
            printf("ok\n");
        return;
    }
    if (!strcmp(cmd, "query")) {
        char *sql = save;
        if (!sql || mysql_query(c->my, sql)) {
            printf("error %u %s\n", mysql_errno(c->my), mysql_error(c->my));
            return;
        }
        do {
            MYSQL_RES *res = mysql_store_result(c->my);
            if (!res) {
                if (mysql_field_count(c->my))
                    printf("error %u %s\n", mysql_errno(c->my), mysql_error(c->my));
                else
                    printf("ok %llu\n", (unsigned long long)mysql_affected_rows(c->my));
                continue;
            }
            MYSQL_ROW row;
            unsigned n = mysql_num_fields(res);
            while ((row = mysql_fetch_row(res))) {
                printf("row:");
                for (unsigned i = 0; i < n; i++)
                    printf("%s%s", i ? "|" : " ", row[i] ? row[i] : "NULL");
                printf("\n");
            }
            mysql_free_result(res);
        } while (mysql_next_result(c->my) == 0);
        return;
    }
    char *sn = strtok_r(NULL, " ", &save);
    if (!sn) {
        printf("error 0 no statement name\n");
        return;
    }
    struct stmt *s = stmt_get(c, sn, !strcmp(cmd, "prepare") || !strcmp(cmd, "direct"));
    if (!s) {
        printf("error 0 no statement %s\n", sn);
        return;
    }
    if (!strcmp(cmd, "prepare")) {
        char *sql = save ? save : "";
        if (!s->st)
            s->st = mysql_stmt_init(c->my);
        if (mysql_stmt_prepare(s->st, sql, strlen(sql))) {
            stmt_err(s->st);
            mysql_stmt_close(s->st);
            s->st = NULL;
            return;
        }
        printf("prepared id=%lu params=%lu cols=%u\n", s->st->stmt_id,
               mysql_stmt_param_count(s->st), mysql_stmt_field_count(s->st));
    } else if (!strcmp(cmd, "direct")) {
        /* MariaDB's PREPARE and EXECUTE of "the last prepared statement" in one go. */
        char *sql = save ? save : "";
        if (!s->st)
            s->st = mysql_stmt_init(c->my);
        if (mariadb_stmt_execute_direct(s->st, sql, strlen(sql))) {
            stmt_err(s->st);
            return;
        }
        int r = bind_result(s);
        if (r < 0) {
            stmt_err(s->st);
            return;
        }
        if (r == 0) {
            printf("ok %llu\n", (unsigned long long)mysql_stmt_affected_rows(s->st));
            return;
        }
        if (mysql_stmt_store_result(s->st)) {
            stmt_err(s->st);
            return;
        }
        fetch_rows(s, -1);
        mysql_stmt_free_result(s->st);
    } else if (!strcmp(cmd, "bind")) {
        s->np = 0;
        char *v;
        while ((v = strtok_r(NULL, " ", &save)) && s->np < MAXP)
            if (parse_param(s, s->np++, v)) {
                printf("error 0 bad parameter %s\n", v);
                return;
            }
        if (mysql_stmt_bind_param(s->st, s->b))
            stmt_err(s->st);
        else
            printf("ok\n");
    } else if (!strcmp(cmd, "exec")) {
        for (int k = 0; k < s->np; k++)
            if (s->p[k].blob)
                blob_send(s, (unsigned)k, s->p[k].blob);
        if (mysql_stmt_execute(s->st)) {
            stmt_err(s->st);
            return;
        }
        int r = bind_result(s);
        if (r < 0) {
            stmt_err(s->st);
            return;
        }
        if (r == 0) {
            printf("ok %llu\n", (unsigned long long)mysql_stmt_affected_rows(s->st));
            return;
        }
        if (s->cursor) {
            printf("cursor open\n");
            return;
        }
        if (mysql_stmt_store_result(s->st)) {
            stmt_err(s->st);
            return;
        }
        fetch_rows(s, -1);
        mysql_stmt_free_result(s->st);
    } else if (!strcmp(cmd, "longdata")) {
        char *pn = strtok_r(NULL, " ", &save), *ln = strtok_r(NULL, " ", &save);
        if (!pn || !ln) {
            printf("error 0 usage: longdata C S PARAM LEN\n");
            return;
        }
        blob_send(s, (unsigned)atoi(pn), strtoul(ln, NULL, 10));
        printf("ok\n");
    } else if (!strcmp(cmd, "cursor")) {
        unsigned long type = CURSOR_TYPE_READ_ONLY, rows = 1;
        if (mysql_stmt_attr_set(s->st, STMT_ATTR_CURSOR_TYPE, &type) ||
            mysql_stmt_attr_set(s->st, STMT_ATTR_PREFETCH_ROWS, &rows)) {
            stmt_err(s->st);
            return;
        }
        s->cursor = 1;
        printf("ok\n");
    } else if (!strcmp(cmd, "fetch")) {
        char *nn = strtok_r(NULL, " ", &save);
        fetch_rows(s, nn ? atol(nn) : -1);
    } else if (!strcmp(cmd, "reset")) {
        if (mysql_stmt_reset(s->st))
            stmt_err(s->st);
        else
            printf("ok\n");
    } else if (!strcmp(cmd, "close")) {
        my_bool bad = mysql_stmt_close(s->st);
        s->st = NULL;
        printf(bad ? "error closing\n" : "ok\n");
    } else {
        printf("error 0 unknown command %s\n", cmd);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = (unsigned)atoi(argv[2]);
    user = argv[3];
    password = argv[4];
    db = argv[5];
    setvbuf(stdout, NULL, _IOLBF, 0);
    static char line[65536];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0])
            run(line);
        printf(".\n");
        fflush(stdout);
    }
    for (int i = 0; i < MAXC; i++)
        if (conns[i].my)
            mysql_close(conns[i].my);
    return 0;
}
