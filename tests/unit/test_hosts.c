/*
 * test_hosts.c -- unit tests of a database entry's host list (parsing), the
 * per-host breaker's state machine and the DNS cache (TTL floor and ceiling,
 * stale answers, failures, unreachable addresses), and the login's walk over
 * a host list (order, roles, breakers, refused logins, prefer-standby's two
 * passes) with no server behind the addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pooler/conf/config.h"
#include "pooler/conf/hostlist.h"
#include "pooler/pool/breaker.h"
#include "pooler/core/worker.h"
#include "pooler/pool/dns.h"
#include "pooler/pool/hosts.h"
#include "tests/tap.h"

static void test_hostlist(void)
{
    struct host_spec *h;
    int n;
    char err[256];

    ok(hostlist_parse("db1.example.com,10.0.0.2,::1,/var/run/postgresql", "5432", 5432, &h, &n, err,
                      sizeof(err)) == WR_OK,
       "names, IPv4, IPv6 and a socket path parse");
    is_int(n, 4, "four hosts");
    is_str(h[0].name, "db1.example.com", "first host");
    is_str(h[2].name, "::1", "IPv6 address kept whole");
    is_str(h[3].name, "/var/run/postgresql", "socket path");
    ok(h[0].port == 5432 && h[3].port == 5432, "one port for every host");
    struct host_spec *d = hostlist_dup(h, n);
    ok(d && !strcmp(d[1].name, "10.0.0.2") && d[1].port == 5432, "a copy has the same hosts");
    hostlist_free(d, n);
    hostlist_free(h, n);

    ok(hostlist_parse("a,b,c", "5432,5433,5434", 5432, &h, &n, err, sizeof(err)) == WR_OK &&
           n == 3 && h[0].port == 5432 && h[1].port == 5433 && h[2].port == 5434,
       "a port per host");
    hostlist_free(h, n);
    ok(hostlist_parse("a", NULL, 3306, &h, &n, err, sizeof(err)) == WR_OK && h[0].port == 3306,
       "no port: the backend's default");
    hostlist_free(h, n);

    ok(hostlist_parse("a,b,c", "1,2", 5432, &h, &n, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "3 hosts but 2 ports"),
       "two ports for three hosts is refused: %s", err);
    ok(hostlist_parse("a,,c", NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "empty host"),
       "an empty item is refused: %s", err);
    ok(hostlist_parse("a,", NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR,
       "a trailing comma is refused");
    ok(hostlist_parse("bad host", NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "bad host"),
       "a name with a space is refused: %s", err);
    ok(hostlist_parse("a..b", NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR,
       "an empty label is refused");
    ok(hostlist_parse("a", "0", 5432, &h, &n, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "bad port"),
       "port 0 is refused: %s", err);
    ok(hostlist_parse("a,b", "5432,x", 5432, &h, &n, err, sizeof(err)) == WR_ERROR,
       "a port that is not a number is refused");
    char many[256] = "";
    for (int i = 0; i <= HOSTLIST_MAX; i++)
        strcat(many, i ? ",h" : "h");
    ok(hostlist_parse(many, NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "more than"),
       "more than HOSTLIST_MAX hosts is refused: %s", err);
    char longname[300];
    memset(longname, 'a', 280);
    longname[280] = 0;
    ok(hostlist_parse(longname, NULL, 5432, &h, &n, err, sizeof(err)) == WR_ERROR,
       "a 280-byte name is refused");

    is_int(hostlist_parse_tsa("read-write"), TSA_READ_WRITE, "read-write");
    is_int(hostlist_parse_tsa("prefer-standby"), TSA_PREFER_STANDBY, "prefer-standby");
    is_int(hostlist_parse_tsa("ANY"), TSA_ANY, "names are case-insensitive");
    is_int(hostlist_parse_tsa("master"), -1, "an unknown value is -1");
    is_str(hostlist_tsa_name(TSA_STANDBY), "standby", "standby's name");
    is_int(hostlist_parse_lb("random"), LB_RANDOM, "random");
    is_int(hostlist_parse_lb("disable"), LB_DISABLE, "disable");
    is_int(hostlist_parse_lb("round-robin"), -1, "an unknown balance is -1");
    ok(hostlist_is_numeric("127.0.0.1") && hostlist_is_numeric("fe80::1") &&
           !hostlist_is_numeric("localhost"),
       "numeric addresses are told from names");
}

static void test_breaker(void)
{
    struct breaker_conf c = {.threshold = 3, .backoff = 1, .backoff_max = 5};
    struct breaker b = {0};
    bool probe;
    ok(breaker_allow(&b, 0, &probe) && !probe, "closed: a login may go");
    ok(!breaker_failure(&b, &c, 0, 0.5) && !breaker_failure(&b, &c, 0, 0.5),
       "two failures keep it closed");
    is_int(b.state, BREAKER_CLOSED, "still closed");
    breaker_success(&b);
    is_int(b.failures, 0, "a success forgets the failures (they must be consecutive)");
    breaker_failure(&b, &c, 10, 0.5);
    breaker_failure(&b, &c, 10, 0.5);
    ok(breaker_failure(&b, &c, 10, 0.5), "the third failure opens it");
    is_int(b.state, BREAKER_OPEN, "open");
    ok(b.next_probe >= 10.8 && b.next_probe <= 11.2, "first back-off 1 s, jittered (%.2f)",
       b.next_probe - 10);
    ok(!breaker_allow(&b, 10.5, &probe), "open: logins skip it");
    ok(!breaker_would_allow(&b, 10.5) && breaker_would_allow(&b, 11.5), "would_allow follows");
    ok(!breaker_failure(&b, &c, 10.6, 0.5) && b.next_probe <= 11.2,
       "a late failure while open does not stretch the back-off");
    ok(breaker_allow(&b, 11.5, &probe) && probe, "after the back-off one login probes");
    is_int(b.state, BREAKER_HALF_OPEN, "half-open");
    ok(!breaker_allow(&b, 11.6, &probe), "half-open: no second login");
    breaker_failure(&b, &c, 12, 0.0);
    is_int(b.state, BREAKER_OPEN, "a failed probe opens it again");
    ok(b.next_probe - 12 >= 1.59 && b.next_probe - 12 <= 1.61,
       "the back-off doubled (2 s x 0.8 jitter = %.2f)", b.next_probe - 12);
    ok(breaker_allow(&b, 14, &probe) && probe, "second probe");
    breaker_failure(&b, &c, 14, 0.999);
    ok(b.next_probe - 14 <= 5.0 && b.next_probe - 14 > 4.7, "4 s x 1.2 = 4.8 s (%.2f)",
       b.next_probe - 14);
    ok(breaker_allow(&b, 19, &probe) && probe, "third probe");
    breaker_failure(&b, &c, 19, 0.999);
    ok(b.next_probe - 19 <= 5.0 + 1e-9, "capped at backoff_max (%.2f)", b.next_probe - 19);
    ok(breaker_allow(&b, 25, &probe) && probe, "fourth probe");
    breaker_abandon(&b, 25);
    ok(b.state == BREAKER_OPEN && breaker_allow(&b, 25, &probe) && probe,
       "an abandoned probe lets another probe at once");
    breaker_success(&b);
    ok(b.state == BREAKER_CLOSED && b.failures == 0 && b.opens == 0, "a probe's success closes it");
    struct breaker one = {0};
    struct breaker_conf c1 = {.threshold = 1, .backoff = 2, .backoff_max = 60};
    ok(breaker_failure(&one, &c1, 0, 0.5) && one.state == BREAKER_OPEN,
       "threshold 1: the first failure opens it");
    is_str(breaker_state_name(BREAKER_HALF_OPEN), "half-open", "state names");
}

static void test_dns_cache(void)
{
    struct dns_cache c = {0};
    char addrs[DNS_MAX_ADDRS][DNS_ADDRLEN], err[128];
    int n;
    bool query;
    is_int(dns_cache_lookup(&c, "db.test", 100, addrs, &n, &query, err, sizeof(err)), DNS_PENDING,
           "first lookup: pending");
    ok(query, "... and the caller starts a query");
    dns_cache_lookup(&c, "db.test", 100.5, addrs, &n, &query, err, sizeof(err));
    ok(!query, "a second lookup does not start another");
    const char two[][DNS_ADDRLEN] = {"10.0.0.1", "10.0.0.2"};
    dns_cache_answer(&c, "db.test", two, 2, 300, 101, DNS_MIN_TTL, 15);
    is_int(dns_cache_lookup(&c, "db.test", 102, addrs, &n, &query, err, sizeof(err)), DNS_FOUND,
           "answered: found");
    ok(n == 2 && !strcmp(addrs[0], "10.0.0.1") && !query, "both addresses, no query");
    is_int((int)c.head->ttl, 15, "a 300 s TTL is capped at dns_max_ttl");
    dns_cache_lookup(&c, "db.test", 116.5, addrs, &n, &query, err, sizeof(err));
    ok(n == 2 && query, "expired: the stale addresses are used while a query refreshes them");
    const char one[][DNS_ADDRLEN] = {"10.0.0.3"};
    dns_cache_answer(&c, "db.test", one, 1, 0, 117, DNS_MIN_TTL, 15);
    ok(c.head->ttl == DNS_MIN_TTL, "a 0 s TTL is raised to the floor");
    dns_cache_lookup(&c, "db.test", 117.5, addrs, &n, &query, err, sizeof(err));
    ok(n == 1 && !strcmp(addrs[0], "10.0.0.3") && !query, "the new answer replaced the old");

    dns_cache_answer(&c, "db.test", two, 2, 60, 120, DNS_MIN_TTL, 15);
    dns_cache_unreachable(&c, "db.test", "10.0.0.1", 121);
    dns_cache_lookup(&c, "db.test", 121, addrs, &n, &query, err, sizeof(err));
    ok(n == 2 && !strcmp(addrs[0], "10.0.0.2") && !strcmp(addrs[1], "10.0.0.1"),
       "an unreachable address goes last");
    ok(query, "... and the name is resolved again");
    dns_cache_answer(&c, "db.test", two, 2, 60, 122, DNS_MIN_TTL, 15);
    dns_cache_lookup(&c, "db.test", 122, addrs, &n, &query, err, sizeof(err));
    ok(!strcmp(addrs[0], "10.0.0.2"), "it stays last while answers still carry it");

    dns_cache_lookup(&c, "gone.test", 200, addrs, &n, &query, err, sizeof(err));
    dns_cache_failed(&c, "gone.test", "Domain name not found", 201, 15);
    is_int(dns_cache_lookup(&c, "gone.test", 205, addrs, &n, &query, err, sizeof(err)), DNS_FAILED,
           "a failure is remembered");
    ok(strstr(err, "not found") && !query, "with its reason, and no new query: %s", err);
    is_int(dns_cache_lookup(&c, "gone.test", 217, addrs, &n, &query, err, sizeof(err)), DNS_PENDING,
           "after dns_nxdomain_ttl the name is asked again");
    ok(query, "... with a new query");

    dns_cache_failed(&c, "db.test", "Timeout while contacting DNS servers", 300, 15);
    is_int(dns_cache_lookup(&c, "db.test", 301, addrs, &n, &query, err, sizeof(err)), DNS_FOUND,
           "a failed refresh keeps the last addresses");
    is_int(c.n, 2, "two names cached");
    dns_cache_free(&c);
}

/* Loads text as a configuration file; WR_OK or WR_ERROR with err. */
static int load(const char *text, struct config **cfg, char *err, size_t errlen)
{
    char path[] = "/tmp/test_hosts.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    int rc = config_load(path, cfg, err, errlen);
    unlink(path);
    return rc;
}

static void test_config_entries(void)
{
    struct config *cfg;
    char err[512];
    ok(load("[databases]\n"
            "app = host=pg1.internal,pg2.internal port=5432,5433 target_session_attrs=read-write "
            "load_balance_hosts=random\n"
            "shop = backend=mysql host=localhost,127.0.0.1 target_session_attrs=standby\n"
            "one = host=localhost\n"
            "[weir]\nauth_type = trust\ndns_max_ttl = 30\nhost_breaker_failures = 2\n"
            "dns_nameservers = 127.0.0.1:5353\n",
            &cfg, err, sizeof(err)) == WR_OK,
       "entries with host lists load: %s", err);
    const struct db_entry *app = config_find_db(cfg, "app");
    ok(app->nhosts == 2 && !strcmp(app->hosts[1].name, "pg2.internal") &&
           app->hosts[1].port == 5433 && app->port == 5432,
       "app: two hosts with their ports, the first one's port as the entry's");
    ok(app->target_session_attrs == TSA_READ_WRITE && app->load_balance_hosts == LB_RANDOM,
       "app: read-write, random");
    const struct db_entry *shop = config_find_db(cfg, "shop");
    ok(shop->nhosts == 2 && shop->hosts[0].port == 3306 && shop->hosts[1].port == 3306 &&
           shop->target_session_attrs == TSA_STANDBY,
       "shop: MySQL's default port on each host, standby");
    ok(config_find_db(cfg, "one")->nhosts == 1, "a single name is a list of one");
    ok(cfg->dns_max_ttl == 30 && cfg->host_breaker_failures == 2 &&
           !strcmp(cfg->dns_nameservers, "127.0.0.1:5353"),
       "dns_max_ttl, host_breaker_failures, dns_nameservers");
    struct config *copy = config_dup(cfg);
    ok(copy && config_find_db(copy, "app")->nhosts == 2 &&
           !strcmp(config_find_db(copy, "app")->hosts[0].name, "pg1.internal") &&
           config_find_db(copy, "app")->hosts[0].name != app->hosts[0].name,
       "config_dup copies the host lists");
    config_free(copy);
    ok(config_set(cfg, "host_breaker_backoff_max", "120", err, sizeof(err)) == WR_OK &&
           cfg->host_breaker_backoff_max == 120,
       "host_breaker_backoff_max is settable at run time");
    config_free(cfg);

    ok(load("[databases]\napp = host=a,b,c port=1,2\n[weir]\nauth_type = trust\n", &cfg, err,
            sizeof(err)) == WR_ERROR &&
           strstr(err, "database \"app\"") && strstr(err, "3 hosts but 2 ports"),
       "a port count that fits no host count is an error naming the entry: %s", err);
    ok(load("[databases]\napp = host=a target_session_attrs=master\n[weir]\nauth_type = trust\n",
            &cfg, err, sizeof(err)) == WR_ERROR &&
           strstr(err, "target_session_attrs"),
       "an unknown target_session_attrs is an error: %s", err);
    ok(load("[databases]\napp = host=a load_balance_hosts=yes\n[weir]\nauth_type = trust\n", &cfg,
            err, sizeof(err)) == WR_ERROR,
       "an unknown load_balance_hosts is an error");
    ok(load("[databases]\napp = host=a port=5432,x\n[weir]\nauth_type = trust\n", &cfg, err,
            sizeof(err)) == WR_ERROR,
       "a bad port list is an error: %s", err);
}

/* The walk's next attempt as "addr:port", or "wait" / "end". */
static const char *next(struct host_walk *hw, double now)
{
    static char buf[128];
    const char *name, *addr;
    int port;
    enum host_walk_result r = host_walk_next(hw, now, &name, &addr, &port);
    if (r == WALK_TRY)
        snprintf(buf, sizeof(buf), "%s:%d", addr, port);
    else
        snprintf(buf, sizeof(buf), "%s", r == WALK_WAIT_DNS ? "wait" : "end");
    return buf;
}

static void test_walk(void)
{
    struct config *cfg;
    char err[512];
    if (load("[databases]\n"
             "rw = host=10.9.0.1,10.9.0.2,10.9.0.3 port=1,2,3 target_session_attrs=read-write\n"
             "ps = host=10.9.1.1,10.9.1.2 port=1 target_session_attrs=prefer-standby\n"
             "two = host=10.9.2.1,10.9.2.2 port=1\n"
             "[weir]\nauth_type = trust\nhost_breaker_failures = 1\n"
             "host_breaker_backoff = 10\nhost_breaker_backoff_max = 10\n",
             &cfg, err, sizeof(err)) != WR_OK) {
        ok(0, "walk config: %s", err);
        return;
    }
    weir.cfg = cfg;
    const struct db_entry *rw = config_find_db(cfg, "rw");
    struct host_walk hw;
    ok(host_walk_begin(&hw, rw, 100), "a walk begins");
    is_str(next(&hw, 100), "10.9.0.1:1", "the first host first");
    host_walk_failed(&hw, 100, "08006", "connection refused");
    is_str(next(&hw, 100), "10.9.0.2:2", "refused: the next host");
    ok(!host_walk_connected(&hw, 100, ROLE_STANDBY, false), "a standby does not fit read-write");
    is_str(next(&hw, 100), "10.9.0.3:3", "so the walk goes on");
    ok(host_walk_connected(&hw, 100, ROLE_PRIMARY, false), "a primary fits");

    host_walk_begin(&hw, rw, 101);
    is_str(next(&hw, 101), "10.9.0.3:3",
           "next login: the open host skipped, the known standby put last, the primary first");
    host_walk_failed(&hw, 101, "08006", "timeout");
    is_str(next(&hw, 101), "10.9.0.2:2", "then the known standby is still tried (promoted?)");
    ok(host_walk_connected(&hw, 101, ROLE_PRIMARY, false), "it was promoted: it fits now");

    host_walk_begin(&hw, rw, 102);
    is_str(next(&hw, 102), "10.9.0.2:2", "the promoted host is tried first now");
    host_walk_failed(&hw, 102, "28P01", "password authentication failed");
    is_str(next(&hw, 102), "end", "a refused login ends the walk");
    is_str(hw.sqlstate, "28P01", "with the server's SQLSTATE");
    ok(strstr(hw.error, "password") != NULL, "and its text: %s", hw.error);

    char text[320];
    ok(!hosts_all_down(rw, 103, text, sizeof(text)), "a refused login left its host up");
    host_walk_begin(&hw, rw, 103);
    is_str(next(&hw, 103), "10.9.0.2:2", "first host");
    host_walk_failed(&hw, 103, "08006", "refused");
    is_str(next(&hw, 103), "end", "every other host is open (threshold 1)");
    ok(strstr(hw.error, "no host fits target_session_attrs=read-write") &&
           strstr(hw.error, "10.9.0.1:1: down, next probe in"),
       "the error names each host: %s", hw.error);
    ok(hosts_all_down(rw, 104, text, sizeof(text)) && strstr(text, "every host is down"),
       "every host down: %s", text);
    ok(!hosts_all_down(rw, 200, text, sizeof(text)), "no longer once a probe is due");
    host_walk_begin(&hw, rw, 200);
    const char *first = next(&hw, 200);
    ok(!strcmp(first, "10.9.0.2:2") || !strcmp(first, "10.9.0.1:1") || !strcmp(first, "10.9.0.3:3"),
       "after the back-off one host is probed: %s", first);
    host_walk_abandon(&hw, 200);
    host_walk_begin(&hw, rw, 200);
    ok(strcmp(next(&hw, 200), "end"), "an abandoned probe lets the next login probe");
    host_walk_abandon(&hw, 200);

    const struct db_entry *ps = config_find_db(cfg, "ps");
    host_walk_begin(&hw, ps, 300);
    is_str(next(&hw, 300), "10.9.1.1:1", "prefer-standby: the first host");
    ok(!host_walk_connected(&hw, 300, ROLE_PRIMARY, false),
       "a primary does not fit the first pass");
    is_str(next(&hw, 300), "10.9.1.2:1", "the second host");
    host_walk_failed(&hw, 300, "08006", "refused");
    is_str(next(&hw, 300), "10.9.1.1:1", "no standby up: the second pass takes the primary");
    ok(host_walk_connected(&hw, 300, ROLE_PRIMARY, false), "and it fits there");

    const struct db_entry *two = config_find_db(cfg, "two");
    host_walk_begin(&hw, two, 400);
    is_str(next(&hw, 400), "10.9.2.1:1", "any: the first host");
    ok(host_walk_connected(&hw, 400, ROLE_UNKNOWN, false), "any server fits, role unknown");
    struct host_row *rows;
    int n = hosts_rows(400, &rows);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(rows[i].host, "10.9.0.2")) {
            seen++;
            ok(rows[i].role == ROLE_PRIMARY && rows[i].logins == 2 && rows[i].failed == 1,
               "SHOW HOSTS row: role %s, logins %lld, failed %lld", host_role_name(rows[i].role),
               rows[i].logins, rows[i].failed);
        }
        if (!strcmp(rows[i].host, "10.9.2.1"))
            ok(rows[i].role == ROLE_UNKNOWN, "a role that was not asked stays unknown");
    }
    is_int(seen, 1, "one record per host and port");
    free(rows);
    struct host *h = host_walk_host(&hw);
    ok(h && !strcmp(host_label(h), "10.9.2.1:1"), "the walk is at the host it logged in to");
    ok(h && host_still_fits(h, TSA_STANDBY, "on", "off"),
       "a server now in hot standby fits standby");
    ok(h && !host_still_fits(h, TSA_READ_WRITE, "on", NULL), "but no longer read-write");
    ok(h && host_still_fits(h, TSA_PREFER_STANDBY, "off", NULL),
       "prefer-standby keeps a primary it has");
    hosts_free_all();
    weir.cfg = NULL;
    config_free(cfg);
}

int main(void)
{
    test_config_entries();
    test_walk();
    test_hostlist();
    test_breaker();
    test_dns_cache();
    return done_testing();
}
