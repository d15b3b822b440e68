/* test_userlist.c -- unit tests of the PgBouncer-style auth file parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/conf/userlist.h"
#include "tests/tap.h"

/* Parses a string literal; on failure err holds the reason. */
static int parse(const char *text, struct userlist **ul, char *err, size_t errlen)
{
    *ul = NULL;
    err[0] = 0;
    return userlist_parse(text, strlen(text), ul, err, errlen);
}

/* Expects text to be rejected with an error naming the line ("line N:"). */
static void rejects(const char *text, int line, const char *name)
{
    struct userlist *ul;
    char err[200], want[32];
    int r = parse(text, &ul, err, sizeof(err));
    snprintf(want, sizeof(want), "line %d:", line);
    if (!ok(r == WR_ERROR && strstr(err, want) != NULL, "rejected: %s", name))
        diag("  r=%d err='%s', expected '%s'", r, err, want);
    if (r == WR_OK)
        userlist_free(ul);
}

static void test_parse(void)
{
    struct userlist *ul;
    char err[200];

    ok(parse("\"alice\" \"secret1\"\n\"bob\" \"md5abc\"\n", &ul, err, sizeof(err)) == WR_OK,
       "two plain lines parse");
    is_int(userlist_count(ul), 2, "two users");
    is_str(userlist_secret(ul, "alice"), "secret1", "alice's secret");
    is_str(userlist_secret(ul, "bob"), "md5abc", "bob's secret");
    ok(userlist_secret(ul, "carol") == NULL, "a missing user gives NULL");
    ok(userlist_secret(ul, "Alice") == NULL, "lookup is case-sensitive");
    ok(userlist_secret(ul, "") == NULL, "the empty user is not listed");
    userlist_free(ul);

    ok(parse("\"o\"\"brien\" \"pa\"\"ss\"\"\"\n", &ul, err, sizeof(err)) == WR_OK,
       "doubled quotes parse");
    is_str(userlist_secret(ul, "o\"brien"), "pa\"ss\"", "a doubled quote stands for one quote");
    userlist_free(ul);

    ok(parse("\"\"\"\" \"x\"\n", &ul, err, sizeof(err)) == WR_OK, "a user that is one quote");
    is_str(userlist_secret(ul, "\""), "x", "the user named '\"' is found");
    userlist_free(ul);

    ok(parse("\"sp ace\" \"a b\tc\"\n", &ul, err, sizeof(err)) == WR_OK, "blanks inside quotes");
    is_str(userlist_secret(ul, "sp ace"), "a b\tc", "blanks inside quotes are kept");
    userlist_free(ul);

    const char *mixed = "; a comment\n"
                        "# another comment\n"
                        "\n"
                        "   \t\n"
                        "  ; indented comment\n"
                        "\"u1\" \"s1\"\r\n"
                        "\r\n"
                        "\t\"u2\"\t\"s2\"   \n"
                        "\"u3\" \"s3\" \"extra\" field 42\n"
                        "\"u4\" \"s4\"";
    ok(parse(mixed, &ul, err, sizeof(err)) == WR_OK, "comments, blanks, CRLF, extra fields parse");
    if (ul) {
        is_int(userlist_count(ul), 4, "four users among comments and blank lines");
        is_str(userlist_secret(ul, "u1"), "s1", "a CRLF line has no CR in the secret");
        is_str(userlist_secret(ul, "u2"), "s2", "tabs separate and indent");
        is_str(userlist_secret(ul, "u3"), "s3", "fields after the secret are ignored");
        is_str(userlist_secret(ul, "u4"), "s4", "the last line needs no newline");
        ok(userlist_secret(ul, "; a comment") == NULL, "comments are not users");
        userlist_free(ul);
    }

    ok(parse("\"u\" \"\"\n", &ul, err, sizeof(err)) == WR_OK, "an empty secret is accepted");
    is_str(userlist_secret(ul, "u"), "", "the empty secret is stored");
    userlist_free(ul);

    ok(parse("\"u\" \"first\"\n\"u\" \"second\"\n", &ul, err, sizeof(err)) == WR_OK,
       "a repeated user parses");
    is_str(userlist_secret(ul, "u"), "first", "the first line for a user wins");
    userlist_free(ul);

    ok(parse("", &ul, err, sizeof(err)) == WR_OK, "empty text parses");
    is_int(userlist_count(ul), 0, "empty text has no users");
    ok(userlist_secret(ul, "x") == NULL, "no secret in an empty list");
    userlist_free(ul);

    ok(parse("; only\n# comments\n", &ul, err, sizeof(err)) == WR_OK, "only comments parse");
    is_int(userlist_count(ul), 0, "only comments: no users");
    userlist_free(ul);

    /* Long tokens make the token buffer grow. */
    char big[3000];
    char *secret = malloc(2000);
    memset(secret, 'S', 1999);
    secret[1999] = 0;
    snprintf(big, sizeof(big), "\"longuser\" \"%s\"\n", secret);
    ok(parse(big, &ul, err, sizeof(err)) == WR_OK, "a 1999-byte secret parses");
    is_str(userlist_secret(ul, "longuser"), secret, "the long secret is intact");
    userlist_free(ul);
    free(secret);

    /* Parsing honours len: bytes after it are not read. */
    const char *cut = "\"a\" \"b\"\n\"c\" \"d\"\n";
    ok(userlist_parse(cut, 8, &ul, err, sizeof(err)) == WR_OK, "parse of the first 8 bytes");
    is_int(userlist_count(ul), 1, "only the first line was within len");
    userlist_free(ul);
    ok(userlist_parse(cut, 6, &ul, err, sizeof(err)) == WR_ERROR,
       "a secret cut short by len is rejected");

    ok(userlist_secret(NULL, "x") == NULL, "userlist_secret(NULL) is NULL");
    is_int(userlist_count(NULL), 0, "userlist_count(NULL) is 0");
    userlist_free(NULL);
    ok(1, "userlist_free(NULL) is harmless");
}

static void test_malformed(void)
{
    rejects("alice secret\n", 1, "unquoted tokens");
    rejects("\"alice\"\n", 1, "a user without a secret");
    rejects("\"alice\" secret\n", 1, "an unquoted secret");
    rejects("\"alice\" \"secret\n", 1, "an unterminated secret");
    rejects("\"alice\n\" \"x\"\n", 1, "a newline inside a quoted user");
    rejects("\"\" \"x\"\n", 1, "an empty user");
    rejects("\"a\" \"b\"\n\"c\" \"d\"\n\"e\" \"f\"\"\n", 3,
            "an unterminated secret ending in \"\"");
    rejects("; c\n\n\"a\" \"b\"\r\n# c\n\"bad\n", 5, "the line number counts comments and blanks");
    rejects("\"a\" \"b\"\n  x\n", 2, "garbage on a line of its own");
    rejects("\"a\"\"b\"\n", 1, "a doubled quote is not a separator");
}

static void test_load(void)
{
    struct userlist *ul = NULL;
    char err[300];
    err[0] = 0;
    ok(userlist_load("/nonexistent/weir-userlist.txt", &ul, err, sizeof(err)) == WR_ERROR,
       "loading a missing file fails");
    ok(strstr(err, "/nonexistent/weir-userlist.txt") != NULL, "the error names the file");
    ok(strstr(err, "No such file") != NULL, "the error says why");

    char path[] = "/tmp/weir-test-userlist-XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0, "temp file created");
    if (fd < 0)
        return;
    /* More than the 4096-byte read chunk, so the loader's buffer grows. */
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 500; i++)
        fprintf(f, "\"user%03d\" \"md5%029d\"\n", i, i);
    fprintf(f, "\"last\" \"secret\"");
    fclose(f);
    ok(userlist_load(path, &ul, err, sizeof(err)) == WR_OK, "loading a 20 KB file works");
    if (ul) {
        is_int(userlist_count(ul), 501, "all 501 users loaded");
        char want[40];
        snprintf(want, sizeof(want), "md5%029d", 250);
        is_str(userlist_secret(ul, "user250"), want, "a user in the middle");
        is_str(userlist_secret(ul, "last"), "secret", "the last user");
        userlist_free(ul);
    }

    f = fopen(path, "w");
    fputs("\"ok\" \"fine\"\nbroken\n", f);
    fclose(f);
    ul = NULL;
    ok(userlist_load(path, &ul, err, sizeof(err)) == WR_ERROR, "loading a malformed file fails");
    ok(strstr(err, path) && strstr(err, "line 2"), "the error names the file and line");
    ok(ul == NULL, "nothing is returned on error");

    f = fopen(path, "w");
    fclose(f);
    ok(userlist_load(path, &ul, err, sizeof(err)) == WR_OK, "loading an empty file works");
    is_int(userlist_count(ul), 0, "an empty file has no users");
    userlist_free(ul);
    unlink(path);
}

int main(void)
{
    test_parse();
    test_malformed();
    test_load();
    return done_testing();
}
