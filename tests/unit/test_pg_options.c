/* test_pg_options.c -- unit tests of the `options` startup parameter parser. */
#include <stdio.h>
#include <string.h>

#include "protocol/pg/pg_options.h"
#include "tests/tap.h"

/* A test name with printf arguments. */
static char nm[512];
#define NAME(...) (snprintf(nm, sizeof(nm), __VA_ARGS__), nm)

static void test_ok(void)
{
    struct pg_options o;
    char err[200], st[6];
    is_int(pg_options_parse("-c search_path=app", &o, err, sizeof(err), st), WR_OK, "-c pair");
    is_int(o.n, 1, "-c pair: one");
    is_str(o.opt[0].name, "search_path", "-c pair: name");
    is_str(o.opt[0].value, "app", "-c pair: value");
    pg_options_free(&o);

    is_int(pg_options_parse("  -cstatement_timeout=5s --work-mem=8MB -c Geqo=off ", &o, err,
                            sizeof(err), st),
           WR_OK, "three forms");
    is_int(o.n, 3, "three forms: three settings");
    is_str(o.opt[0].name, "statement_timeout", "-cname=value");
    is_str(o.opt[1].name, "work_mem", "--name=value: dashes become underscores");
    is_str(o.opt[1].value, "8MB", "--name=value: value");
    is_str(o.opt[2].name, "geqo", "name lower-cased");
    pg_options_free(&o);

    is_int(
        pg_options_parse("-c application_name=my\\ app\\\\x -c x.y=a=b", &o, err, sizeof(err), st),
        WR_OK, "escapes");
    is_str(o.opt[0].value, "my app\\x", "backslash keeps a space and a backslash");
    is_str(o.opt[1].value, "a=b", "only the first = splits");
    pg_options_free(&o);

    is_int(pg_options_parse("", &o, err, sizeof(err), st), WR_OK, "empty");
    is_int(o.n, 0, "empty: nothing");
    pg_options_free(&o);

    is_int(pg_options_parse("-c x.y=", &o, err, sizeof(err), st), WR_OK, "empty value");
    is_str(o.opt[0].value, "", "empty value kept");
    pg_options_free(&o);
}

static void test_errors(void)
{
    static const struct {
        const char *s, *state, *msg;
    } cases[] = {
        {"-d 5", "08P01", "unsupported startup option \"-d\""},
        {"-c search_path=a -B 100", "08P01", "unsupported startup option \"-B\""},
        {"-c", "42601", "-c requires a value"},
        {"-c work_mem", "42601", "-c work_mem requires a value"},
        {"--work_mem", "42601", "--work_mem requires a value"},
        {"-c =x", "42601", "-c =x requires a value"},
        {"search_path=a", "42601",
         "invalid command-line argument for server process: search_path=a"},
        {"-", "42601", "invalid command-line argument"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pg_options o;
        char err[200] = "", st[6] = "";
        is_int(pg_options_parse(cases[i].s, &o, err, sizeof(err), st), WR_ERROR,
               NAME("refused: %s", cases[i].s));
        is_str(st, cases[i].state, NAME("sqlstate of: %s", cases[i].s));
        ok(strstr(err, cases[i].msg) != NULL, "message of %s: %s", cases[i].s, err);
    }
    char many[2000] = "";
    for (int i = 0; i < PG_OPTIONS_MAX + 1; i++)
        strcat(many, "-c a.b=1 ");
    struct pg_options o;
    char err[200], st[6];
    is_int(pg_options_parse(many, &o, err, sizeof(err), st), WR_ERROR, "too many settings");
    is_str(st, "54000", "too many: sqlstate");
}

int main(void)
{
    no_plan();
    test_ok();
    test_errors();
    return done_testing();
}
