/* test_proxy_hdr.c -- unit tests of the PROXY protocol v1/v2 header parser. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "protocol/proxy/proxy_hdr.h"
#include "tests/tap.h"

static char err[200];

static int parse(const void *b, size_t n, struct proxy_hdr *h)
{
    err[0] = 0;
    return proxy_hdr_parse(b, n, h, err, sizeof(err));
}

static int parse_s(const char *s, struct proxy_hdr *h)
{
    return parse(s, strlen(s), h);
}

/* Every proper prefix of a complete header must ask for more. */
static bool prefixes_again(const void *b, size_t n)
{
    struct proxy_hdr h;
    for (size_t i = 0; i < n; i++)
        if (proxy_hdr_parse(b, i, &h, err, sizeof(err)) != WR_AGAIN)
            return false;
    return true;
}

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header: signature, ver_cmd, fam, then body of n bytes. Returns its length. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body, size_t n)
{
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)n;
    memcpy(out + 16, body, n);
    return 16 + n;
}

int main(void)
{
    no_plan();
    struct proxy_hdr h;
    char ip[64];

    /* ---- v1 ---- */
    const char *tcp4 = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 6432\r\n";
    is_int(parse_s(tcp4, &h), WR_OK, "v1 TCP4");
    is_int(h.version, 1, "version 1");
    is_int(h.cmd, PROXY_CMD_PROXY, "a relayed client");
    is_int(h.family, PROXY_FAM_INET, "IPv4");
    inet_ntop(AF_INET, h.src, ip, sizeof(ip));
    is_str(ip, "192.0.2.7", "source address");
    inet_ntop(AF_INET, h.dst, ip, sizeof(ip));
    is_str(ip, "198.51.100.1", "destination address");
    is_int(h.src_port, 56324, "source port");
    is_int(h.dst_port, 6432, "destination port");
    is_int(h.len, strlen(tcp4), "length up to the LF");
    ok(prefixes_again(tcp4, strlen(tcp4)), "every prefix of it: WR_AGAIN");

    char buf[PROXY_V2_MAX + 64];
    snprintf(buf, sizeof(buf), "%s%s", tcp4, "\0\0\0\x08\x04\xd2\x16\x2f");
    is_int(parse(buf, strlen(tcp4) + 8, &h), WR_OK, "client bytes after the line");
    is_int(h.len, strlen(tcp4), "... are not part of the header");

    const char *tcp6 = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
    is_int(parse_s(tcp6, &h), WR_OK, "v1 TCP6");
    is_int(h.family, PROXY_FAM_INET6, "IPv6");
    inet_ntop(AF_INET6, h.src, ip, sizeof(ip));
    is_str(ip, "2001:db8::1", "IPv6 source");
    is_int(h.src_port, 65535, "port 65535");
    is_int(h.dst_port, 0, "port 0");

    const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    is_int((int)strlen(longest), PROXY_V1_MAX, "the spec's longest line is 107 bytes");
    is_int(parse_s(longest, &h), WR_OK, "... and is accepted");
    is_int(parse_s(longest + 8, &h), WR_ERROR, "(a line not starting with PROXY is not)");
    const char *full6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    is_int(parse_s(full6, &h), WR_OK, "the longest TCP6 line");
    is_int(parse_s("PROXY UNKNOWN\r\n", &h), WR_OK, "v1 UNKNOWN");
    is_int(h.family, PROXY_FAM_NONE, "UNKNOWN carries no address");
    is_int(h.cmd, PROXY_CMD_PROXY, "UNKNOWN is not LOCAL");
    is_int(parse_s("PROXY UNKNOWN whatever 1 2 3 4 5 6 7\r\n", &h), WR_OK,
           "UNKNOWN: the rest of the line is ignored");

    is_int(parse_s("", &h), WR_AGAIN, "nothing yet");
    is_int(parse_s("PRO", &h), WR_AGAIN, "the start of the signature");
    is_int(parse_s("PROXY TCP4 1.2.3.4", &h), WR_AGAIN, "half a line");
    is_int(parse(buf, 0, &h), WR_AGAIN, "empty input");
    static const uint8_t startup[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    is_int(parse(startup, 1, &h), WR_ERROR, "a PostgreSQL packet, at its first byte");
    is_str(err, "not a PROXY protocol header", "... says so");
    is_int(parse_s("PROXZ", &h), WR_ERROR, "a wrong signature byte");
    is_int(parse_s("GET / HTTP/1.1\r\n", &h), WR_ERROR, "HTTP");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", &h), WR_ERROR, "LF without CR");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", &h), WR_ERROR, "CR without LF");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", &h), WR_AGAIN, "CR, LF to come");
    is_int(parse_s("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", &h), WR_ERROR, "two spaces");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", &h), WR_ERROR, "a trailing space");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", &h), WR_ERROR, "a port missing");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", &h), WR_ERROR, "a field too many");
    is_int(parse_s("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", &h), WR_ERROR, "not TCP");
    is_int(parse_s("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", &h), WR_ERROR, "a leading zero");
    is_int(parse_s("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", &h), WR_ERROR, "256 in IPv4");
    is_int(parse_s("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", &h), WR_ERROR, "IPv6 under TCP4");
    is_int(parse_s("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", &h), WR_ERROR, "IPv4 under TCP6");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", &h), WR_ERROR, "port 65536");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", &h), WR_ERROR, "port 01");
    is_int(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", &h), WR_ERROR, "a sign");
    is_int(parse_s("PROXY TCP4 1.2.3.4\x01", &h), WR_ERROR, "a control byte, at once");
    memset(buf, 'A', sizeof(buf));
    memcpy(buf, "PROXY ", 6);
    is_int(parse(buf, 105, &h), WR_AGAIN, "105 bytes without CR: more may come");
    is_int(parse(buf, 106, &h), WR_ERROR, "106 without CR: the line would exceed 107 bytes");
    ok(strstr(err, "107") != NULL, "... says the limit");

    /* ---- v2 ---- */
    uint8_t b[PROXY_V2_MAX + 64];
    uint8_t in4[12] = {192, 0, 2, 9, 127, 0, 0, 1, 0xdc, 0x04, 0x19, 0x1a};
    size_t n = v2(b, 0x21, 0x11, in4, sizeof(in4));
    is_int(parse(b, n, &h), WR_OK, "v2 PROXY TCP over IPv4");
    is_int(h.version, 2, "version 2");
    is_int(h.family, PROXY_FAM_INET, "IPv4");
    inet_ntop(AF_INET, h.src, ip, sizeof(ip));
    is_str(ip, "192.0.2.9", "source address");
    is_int(h.src_port, 56324, "source port");
    is_int(h.dst_port, 6426, "destination port");
    is_int(h.len, 28, "16 + 12 bytes");
    ok(prefixes_again(b, n), "every prefix of it: WR_AGAIN");

    uint8_t in6[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5, [31] = 1, [32] = 0x30, [33] = 0x39};
    n = v2(b, 0x21, 0x21, in6, sizeof(in6));
    is_int(parse(b, n, &h), WR_OK, "v2 PROXY TCP over IPv6");
    inet_ntop(AF_INET6, h.src, ip, sizeof(ip));
    is_str(ip, "2001:db8::5", "IPv6 source");
    is_int(h.src_port, 12345, "its port");

    uint8_t tlvs[12 + 3 + 5 + 3 + 0 + 3 + 2];
    memcpy(tlvs, in4, 12);
    uint8_t *t = tlvs + 12;
    *t++ = 0x05, *t++ = 0, *t++ = 5, memcpy(t, "abcde", 5), t += 5; /* unique id */
    *t++ = 0x04, *t++ = 0, *t++ = 0;                                /* NOOP, empty */
    *t++ = 0xE0, *t++ = 0, *t++ = 2, *t++ = 1, *t++ = 2;            /* a custom TLV */
    n = v2(b, 0x21, 0x11, tlvs, sizeof(tlvs));
    is_int(parse(b, n, &h), WR_OK, "TLVs are skipped");
    is_int(h.len, n, "... and are part of the header");
    n = v2(b, 0x21, 0x11, tlvs, sizeof(tlvs) - 1);
    is_int(parse(b, n, &h), WR_ERROR, "a TLV longer than the header");
    n = v2(b, 0x21, 0x11, tlvs, 12 + 2);
    is_int(parse(b, n, &h), WR_ERROR, "a TLV header cut short");

    n = v2(b, 0x20, 0x00, "", 0);
    is_int(parse(b, n, &h), WR_OK, "v2 LOCAL");
    is_int(h.cmd, PROXY_CMD_LOCAL, "... is LOCAL");
    n = v2(b, 0x20, 0x11, in4, sizeof(in4));
    is_int(parse(b, n, &h), WR_OK, "LOCAL with an address block (ignored)");
    is_int(h.cmd, PROXY_CMD_LOCAL, "... still LOCAL");
    n = v2(b, 0x21, 0x00, "", 0);
    is_int(parse(b, n, &h), WR_OK, "PROXY with UNSPEC");
    is_int(h.family, PROXY_FAM_NONE, "... carries no address");
    uint8_t unixaddr[216] = {'/', 't'};
    n = v2(b, 0x21, 0x31, unixaddr, sizeof(unixaddr));
    is_int(parse(b, n, &h), WR_OK, "PROXY over a unix socket");
    is_int(h.family, PROXY_FAM_NONE, "... keeps the connection's address");

    n = v2(b, 0x21, 0x11, in4, 8);
    is_int(parse(b, n, &h), WR_ERROR, "IPv4 block cut short");
    n = v2(b, 0x21, 0x21, in4, 12);
    is_int(parse(b, n, &h), WR_ERROR, "IPv6 block cut short");
    n = v2(b, 0x21, 0x12, in4, sizeof(in4));
    is_int(parse(b, n, &h), WR_ERROR, "UDP");
    is_int(parse(b, 12, &h), WR_AGAIN, "signature only");
    b[12] = 0x11;
    is_int(parse(b, 13, &h), WR_ERROR, "version 1 in a v2 header, at byte 13");
    b[12] = 0x22;
    is_int(parse(b, 13, &h), WR_ERROR, "command 2, at byte 13");
    b[12] = 0x21;
    b[13] = 0x41;
    is_int(parse(b, 14, &h), WR_ERROR, "family 4, at byte 14");
    b[13] = 0x13;
    is_int(parse(b, 14, &h), WR_ERROR, "transport 3");
    b[3] = 0x0B;
    is_int(parse(b, 4, &h), WR_ERROR, "a wrong signature byte, at once");
    n = v2(b, 0x21, 0x11, in4, sizeof(in4));
    b[14] = 0xff, b[15] = 0xff;
    is_int(parse(b, 16, &h), WR_ERROR, "a 64 KiB header is refused before it arrives");
    ok(strstr(err, "4096") != NULL, "... naming the limit");
    memset(b + 16, 0, PROXY_V2_MAX - 16);
    memcpy(b + 16, in4, 12);
    b[28] = 0x04;
    b[29] = (uint8_t)((PROXY_V2_MAX - 16 - 12 - 3) >> 8);
    b[30] = (uint8_t)(PROXY_V2_MAX - 16 - 12 - 3);
    b[14] = (uint8_t)((PROXY_V2_MAX - 16) >> 8);
    b[15] = (uint8_t)(PROXY_V2_MAX - 16);
    is_int(parse(b, PROXY_V2_MAX, &h), WR_OK, "a header of exactly 4096 bytes");
    is_int(parse(b, PROXY_V2_MAX - 1, &h), WR_AGAIN, "... one byte short: more to come");

    ok(proxy_hdr_looks_like((const uint8_t *)"PROXY TCP4", 10), "looks like v1");
    ok(proxy_hdr_looks_like(sig, 12), "looks like v2");
    ok(!proxy_hdr_looks_like(startup, sizeof(startup)), "a startup packet does not");
    return done_testing();
}
