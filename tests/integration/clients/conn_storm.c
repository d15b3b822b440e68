/* conn_storm.c -- a reconnect storm from one source address, for t73_conn_storm.t.
 *
 * usage: conn_storm HOST PORT SOURCE_ADDR RATE MAX SECONDS
 * Opens up to MAX connections, RATE a second, for at most SECONDS, each bound to SOURCE_ADDR:
 * sends a PostgreSQL startup packet (user app, database testdb), reads the first answer and
 * hangs up. Counts answers: 'R' (admitted to the password prompt), ErrorResponse 53300
 * (refused by a limit), anything else. Prints
 * "conn_storm: admitted=A refused=R other=O cpu=C.CCC" (cpu: this process's user + system
 * seconds), so that the storm's own cost is known. Written in C so that the storm costs the
 * machine little beside what it costs weir. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t startup_packet(unsigned char *p)
{
    static const char params[] = "user\0app\0database\0testdb\0";
    size_t n = 8 + sizeof(params); /* sizeof counts the list's closing NUL */
    uint32_t len = htonl((uint32_t)n), ver = htonl(196608);
    memcpy(p, &len, 4);
    memcpy(p + 4, &ver, 4);
    memcpy(p + 8, params, sizeof(params));
    return n;
}

/* 'R', 'r' (ErrorResponse 53300), 'E' (another error) or 0 (nothing readable). */
static char first_answer(int fd)
{
    unsigned char buf[1024];
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got >= 5) {
            uint32_t len;
            memcpy(&len, buf + 1, 4);
            len = ntohl(len);
            if (buf[0] != 'E' || got >= 1 + (size_t)len || len > sizeof(buf) - 1)
                break;
        }
    }
    if (got < 5)
        return 0;
    if (buf[0] != 'E')
        return (char)buf[0];
    for (size_t i = 5; i + 6 <= got; i++) /* fields: a type byte, then a C string */
        if (buf[i] == 'C' && buf[i - 1] == 0 && !memcmp(buf + i + 1, "53300", 6))
            return 'r';
    return 'E';
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT SOURCE_ADDR RATE MAX SECONDS\n", argv[0]);
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    struct sockaddr_in from = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
        inet_pton(AF_INET, argv[3], &from.sin_addr) != 1) {
        fprintf(stderr, "conn_storm: HOST and SOURCE_ADDR must be IPv4 addresses\n");
        return 2;
    }
    double rate = atof(argv[4]), secs = atof(argv[6]);
    long max = atol(argv[5]), admitted = 0, refused = 0, other = 0;
    unsigned char pkt[64];
    size_t pktlen = startup_packet(pkt);
    struct timeval tmo = {.tv_sec = 2};
    double start = now();
    for (long n = 1; n <= max; n++) {
        double t = now();
        if (t > start + secs)
            break;
        double due = start + n / rate;
        if (due > t)
            usleep((useconds_t)((due - t) * 1e6));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            other++;
            continue;
        }
        /* the port is picked at connect(), where the storm's own TIME_WAIT ports can be reused:
         * bind() alone would search an ever fuller port range, at a growing cost */
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
        char a = 0;
        if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0 &&
            connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
            write(fd, pkt, pktlen) == (ssize_t)pktlen)
            a = first_answer(fd);
        close(fd);
        if (a == 'R')
            admitted++;
        else if (a == 'r')
            refused++;
        else
            other++;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("conn_storm: admitted=%ld refused=%ld other=%ld cpu=%.3f\n", admitted, refused, other,
           cpu);
    return 0;
}
