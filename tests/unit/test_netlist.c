/* test_netlist.c -- unit tests of network lists (proxy_protocol_networks) and their config key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "pooler/conf/config.h"
#include "pooler/conf/netlist.h"
#include "tests/tap.h"

static bool in(const struct netlist *nl, const char *addr)
{
    uint8_t ip[16];
    if (inet_pton(AF_INET, addr, ip) == 1)
        return netlist_match(nl, AF_INET, ip);
    if (inet_pton(AF_INET6, addr, ip) == 1)
        return netlist_match(nl, AF_INET6, ip);
    return false;
}

int main(void)
{
    no_plan();
    struct netlist nl;
    char err[200];
    is_int(
        netlist_parse("10.0.0.0/8, 192.0.2.7,fd00::/8  ::1 172.16.5.9/12", &nl, err, sizeof(err)),
        WR_OK, "a list of five");
    is_int(nl.n, 5, "five networks");
    ok(in(&nl, "10.255.1.2"), "inside a /8");
    ok(!in(&nl, "11.0.0.1"), "outside it");
    ok(in(&nl, "192.0.2.7"), "a host alone");
    ok(!in(&nl, "192.0.2.8"), "its neighbour");
    ok(in(&nl, "fd12:3456::1"), "inside an IPv6 /8");
    ok(!in(&nl, "fe80::1"), "outside it");
    ok(in(&nl, "::1"), "IPv6 loopback as a host");
    ok(in(&nl, "::ffff:10.1.2.3"), "an IPv4-mapped IPv6 address matches as IPv4");
    ok(in(&nl, "172.31.255.255"), "host bits of 172.16.5.9/12 were cleared: the /12 matches");
    ok(!in(&nl, "172.32.0.0"), "... and ends where it should");
    is_int(netlist_parse("", &nl, err, sizeof(err)), WR_OK, "empty: off");
    is_int(nl.n, 0, "no network");
    ok(!in(&nl, "127.0.0.1"), "nothing matches");
    is_int(netlist_parse("0.0.0.0/0", &nl, err, sizeof(err)), WR_OK, "everything");
    ok(in(&nl, "203.0.113.1"), "any IPv4 address");
    ok(!in(&nl, "2001:db8::1"), "no IPv6 address");
    is_int(netlist_parse("10.0.0.0/33", &nl, err, sizeof(err)), WR_ERROR, "/33 for IPv4");
    ok(strstr(err, "10.0.0.0/33") != NULL, "the error names the entry");
    is_int(netlist_parse("::/129", &nl, err, sizeof(err)), WR_ERROR, "/129 for IPv6");
    is_int(netlist_parse("10.0.0.0/", &nl, err, sizeof(err)), WR_ERROR, "a slash without bits");
    is_int(netlist_parse("10.0.0.0/x", &nl, err, sizeof(err)), WR_ERROR, "bits not a number");
    is_int(netlist_parse("haproxy.local", &nl, err, sizeof(err)), WR_ERROR, "a host name");
    is_int(netlist_parse("/8", &nl, err, sizeof(err)), WR_ERROR, "bits without an address");
    char many[400] = "";
    for (int i = 0; i < NETLIST_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
    is_int(netlist_parse(many, &nl, err, sizeof(err)), WR_ERROR, "more than the maximum");

    /* The [weir] key: loaded, checked, shown. */
    char path[] = "/tmp/test_netlist_XXXXXX";
    int fd = mkstemp(path);
    const char *ini = "[weir]\nauth_type = trust\nproxy_protocol_networks = 127.0.0.2/32, ::1\n"
                      "max_client_conn_per_ip = 5\nclient_conn_rate = 2.5\n";
    ok(fd >= 0 && write(fd, ini, strlen(ini)) == (ssize_t)strlen(ini), "config written");
    close(fd);
    struct config *cfg = NULL;
    is_int(config_load(path, &cfg, err, sizeof(err)), WR_OK, "a config with the edge keys loads");
    if (cfg) {
        is_int(cfg->proxy_nets.n, 2, "two proxy networks parsed");
        is_int(cfg->max_client_conn_per_ip, 5, "max_client_conn_per_ip");
        ok(cfg->client_conn_rate == 2.5, "client_conn_rate takes a fraction");
        ok(cfg->auth_failure_window == 60 && cfg->auth_failure_ban == 300,
           "auth_failure_window and auth_failure_ban defaults");
        struct config *copy = config_dup(cfg);
        ok(copy && copy->proxy_nets.n == 2 &&
               !strcmp(copy->proxy_protocol_networks, cfg->proxy_protocol_networks),
           "a copy keeps the list");
        is_int(config_set(copy, "proxy_protocol_networks", "10.0.0.0/99", err, sizeof(err)),
               WR_ERROR, "SET of a bad list is refused");
        ok(strstr(err, "proxy_protocol_networks") != NULL, "... naming the key");
        config_free(copy);
        config_free(cfg);
    }
    const char *bad = "[weir]\nauth_type = trust\nproxy_protocol_networks = 10.0.0.0/8 lb.local\n";
    fd = open(path, O_WRONLY | O_TRUNC);
    ok(fd >= 0 && write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad), "bad config written");
    close(fd);
    is_int(config_load(path, &cfg, err, sizeof(err)), WR_ERROR, "a host name in the list fails");
    ok(strstr(err, "lb.local") != NULL, "... naming it");
    unlink(path);
    return done_testing();
}
