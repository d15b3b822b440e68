/* my_change_user.c -- mysql_change_user() of MariaDB Connector/C through weir, for t26.
 *
 * usage: my_change_user HOST PORT USER PASSWORD DB NEWUSER NEWPASSWORD NEWDB
 * Logs in as USER, sets a user variable, changes to NEWUSER on NEWDB, shows what the session
 * is then, changes back with a wrong password, then tries one more query. Prints one line per
 * step ("name: result"); the test compares them. Exit 0 unless a step could not run at all. */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>

static MYSQL *my;

/* Runs sql and prints its single-row result as "name: v1 | v2 ..." or "name: error N". */
static void show(const char *name, const char *sql)
{
    if (mysql_query(my, sql)) {
        printf("%s: error %u %s\n", name, mysql_errno(my), mysql_error(my));
        return;
    }
    MYSQL_RES *res = mysql_store_result(my);
    if (!res) {
        printf("%s: ok\n", name);
        return;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    unsigned n = mysql_num_fields(res);
    printf("%s:", name);
    for (unsigned i = 0; row && i < n; i++)
        printf("%s %s", i ? " |" : "", row[i] ? row[i] : "NULL");
    printf("\n");
    mysql_free_result(res);
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB NEWUSER NEWPASSWORD NEWDB\n",
                argv[0]);
        return 2;
    }
    my = mysql_init(NULL);
    if (!mysql_real_connect(my, argv[1], argv[3], argv[4], argv[5], atoi(argv[2]), NULL, 0)) {
        printf("connect: error %u %s\n", mysql_errno(my), mysql_error(my));
        return 1;
    }
    printf("thread id before: %lu\n", mysql_thread_id(my));
    show("before", "SELECT CURRENT_USER(), DATABASE()");
    show("set", "SET @v = 42");
    show("var", "SELECT @v");
    if (mysql_change_user(my, argv[6], argv[7], argv[8]))
        printf("change: error %u %s\n", mysql_errno(my), mysql_error(my));
    else
        printf("change: ok\n");
    printf("thread id after: %lu\n", mysql_thread_id(my));
    show("after", "SELECT CURRENT_USER(), DATABASE()");
    show("var after", "SELECT @v");
    show("again", "SELECT 1 + 1");
    if (mysql_change_user(my, argv[3], "wrong-password", argv[5]))
        printf("bad change: error %u\n", mysql_errno(my));
    else
        printf("bad change: ok\n");
    show("after bad change", "SELECT 1");
    mysql_close(my);
    return 0;
}
