/* test_hba.c -- unit tests of auth_hba_file: parsing, refusals with their line, and matching. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pooler/conf/hba.h"
#include "tests/tap.h"

static struct hba *parse(const char *text, char *err, size_t errlen)
{
    struct hba *h = NULL;
    if (hba_parse(text, strlen(text), &h, err, errlen) != WR_OK)
        return NULL;
    return h;
}

/* The method for a connection from addr ("unix" for a unix socket). */
static enum hba_method method(const struct hba *h, const char *addr, bool tls, const char *db,
                              const char *user, int *line)
{
    uint8_t ip[16];
    struct hba_conn c = {.tls = tls, .database = db, .user = user};
    if (!strcmp(addr, "unix")) {
        c.family = AF_UNIX;
    } else if (inet_pton(AF_INET, addr, ip) == 1) {
        c.family = AF_INET;
        c.ip = ip;
    } else if (inet_pton(AF_INET6, addr, ip) == 1) {
        c.family = AF_INET6;
        c.ip = ip;
    }
    int l;
    enum hba_method m = hba_match(h, &c, line ? line : &l);
    return m;
}

static void refused(const char *text, const char *want, const char *name)
{
    char err[256] = "";
    struct hba *h = parse(text, err, sizeof(err));
    ok(!h && strstr(err, want), "%s: refused (%s)", name, err);
    hba_unref(h);
}

int main(void)
{
    no_plan();
    char err[256] = "";
    const char *text = "# comment line\n"
                       "\n"
                       "local   all        all                      trust\n"
                       "hostssl shop       app   127.0.0.0/8        scram-sha-256 # tail comment\n"
                       "host    shop       app   127.0.0.1 255.255.255.255  md5\n"
                       "host    \"all\",sales bob,\"Mixed Case\" ::1/128 password\n"
                       "hostnossl sameuser all  10.0.0.0/8         reject\n"
                       "host    replication all 127.0.0.1/32      trust\n"
                       "host    all        cert_user all            cert\n"
                       "host    all        all   192.168.0.0/16     md5\n";
    struct hba *h = parse(text, err, sizeof(err));
    ok(h != NULL, "a file of eight rules parses (%s)", err);
    if (!h)
        return done_testing();
    is_int(hba_count(h), 8, "eight rules");
    int line = 0;
    is_int(method(h, "unix", false, "any", "anyone", &line), HBA_TRUST, "local: trust");
    is_int(line, 3, "... from line 3");
    is_int(method(h, "127.0.0.1", true, "shop", "app", &line), HBA_SCRAM, "hostssl over TLS");
    is_int(line, 4, "... line 4");
    is_int(method(h, "127.0.0.1", false, "shop", "app", &line), HBA_MD5,
           "without TLS the next rule: an address and a mask");
    is_int(method(h, "127.0.0.2", false, "shop", "app", &line), HBA_NONE,
           "the mask is a single host: 127.0.0.2 matches nothing");
    is_int(line, 0, "... no line");
    is_int(method(h, "::1", false, "all", "bob", NULL), HBA_PASSWORD,
           "a quoted \"all\" is a database named all");
    is_int(method(h, "::1", false, "shop", "bob", NULL), HBA_NONE,
           "... and not the keyword (shop is not in that list)");
    is_int(method(h, "::1", false, "sales", "Mixed Case", NULL), HBA_PASSWORD,
           "a quoted user name with a space, in a list");
    is_int(method(h, "::1", false, "sales", "mixed case", NULL), HBA_NONE,
           "names are case-sensitive");
    is_int(method(h, "10.1.2.3", false, "joe", "joe", NULL), HBA_REJECT,
           "sameuser + hostnossl: reject");
    is_int(method(h, "10.1.2.3", true, "joe", "joe", NULL), HBA_NONE,
           "hostnossl does not match a TLS connection");
    is_int(method(h, "10.1.2.3", false, "shop", "joe", NULL), HBA_NONE,
           "sameuser needs the database to be the user");
    struct hba_conn repl = {.family = AF_INET,
                            .ip = (const uint8_t[]){127, 0, 0, 1},
                            .replication = true,
                            .database = "shop",
                            .user = "app"};
    is_int(hba_match(h, &repl, &line), HBA_TRUST, "replication matches a replication connection");
    is_int(line, 8, "... line 8, not the shop rules before it");
    is_int(method(h, "192.168.4.4", false, "replication", "x", NULL), HBA_MD5,
           "... and not an ordinary connection to a database called replication");
    is_int(method(h, "203.0.113.9", false, "shop", "cert_user", NULL), HBA_CERT,
           "address all: cert");
    is_int(method(h, "::ffff:192.168.1.1", false, "x", "y", NULL), HBA_MD5,
           "an IPv4-mapped address matches an IPv4 rule");
    is_int(method(h, "unix", false, "", "anyone", NULL), HBA_TRUST,
           "an empty database (MySQL without one) matches all");
    struct hba *h2 = hba_ref(h);
    hba_unref(h);
    is_int(hba_count(h2), 8, "a second reference keeps the rules");
    hba_unref(h2);

    refused("host all all 127.0.0.1/8 ident\n", "method \"ident\" is not supported",
            "another method");
    refused("hostgssenc all all all trust\n", "unknown connection type", "hostgssenc");
    refused("host all all db.example.com trust\n", "host names are not supported", "a host name");
    refused("host all all samenet trust\n", "samenet is not supported", "samenet");
    refused("local @dbs.txt all trust\n", "@file lists are not supported", "an @file");
    refused("local all +admins trust\n", "+group user lists are not supported", "a +group");
    refused("local all all trust\nhost all all 127.0.0.1/32 md5 clientcert=verify-full\n",
            "line 2: options after the method", "options, on line 2");
    refused("local all all\n", "too few fields", "no method");
    refused("host all all 127.0.0.1/33 md5\n", "bad address", "a prefix too long");
    refused("host all all 127.0.0.1 255.0.255.0 md5\n", "bad mask", "a mask with a hole");
    refused("local \"all all trust\n", "unterminated", "an open quote");
    refused("local all,sameuser all trust\n", "cannot be part of a list", "a keyword in a list");
    refused("local all, all trust\n", "empty name", "an empty name in a list");
    struct hba *e = parse("# nothing but comments\n\n", err, sizeof(err));
    ok(e && hba_count(e) == 0, "a file without rules parses: it refuses everyone");
    is_int(method(e, "127.0.0.1", false, "a", "b", NULL), HBA_NONE, "... as it should");
    hba_unref(e);
    return done_testing();
}
