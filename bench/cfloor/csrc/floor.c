/* floor.c — the C raw-socket floor of bench/cfloor: one length-prefixed write(2) per
 * message on a TCP (TCP_NODELAY) or unix stream socket, a buffered read loop on the other
 * side. Nothing on the same socket type can be cheaper; a Go sender's distance from it is
 * the Go runtime's cost.
 *
 *   floor send tcp|ipc BIND RATE COUNT       BIND: 127.0.0.1 (port chosen) or a socket path
 *   floor recv tcp|ipc ENDPOINT COUNT OUT
 *
 * The contract (EP/READY/go/SENT/quit/DONE lines, payload, pacing) is in peer.h and in
 * the package documentation of cfloor.go. */
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAX_FRAME 65536 /* a length prefix above this is a protocol error */

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int write_all(int fd, const uint8_t *b, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* floor_out is a sender's socket and its one frame: the length prefix, then the payload
 * send_run fills in place. */
typedef struct {
    int fd;
    uint8_t frame[4 + PAYLOAD];
} floor_out;

/* send_frame writes the whole frame with one write call (p is its payload, already filled). */
static void send_frame(void *ctx, const uint8_t *p) {
    floor_out *o = ctx;
    (void)p;
    if (write_all(o->fd, o->frame, sizeof o->frame) < 0) die("write");
}

static int do_send(int tcp, const char *bind_to, int64_t rate, int64_t count) {
    int ln;
    if (tcp) {
        ln = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        if (ln < 0 || inet_pton(AF_INET, bind_to, &a.sin_addr) != 1) die("socket");
        if (bind(ln, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
        socklen_t al = sizeof a;
        if (listen(ln, 1) < 0 || getsockname(ln, (struct sockaddr *)&a, &al) < 0) die("listen");
        printf("EP tcp://%s:%d\n", bind_to, ntohs(a.sin_port));
    } else {
        ln = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (ln < 0 || strlen(bind_to) >= sizeof a.sun_path) die("socket");
        strcpy(a.sun_path, bind_to);
        if (bind(ln, (struct sockaddr *)&a, sizeof a) < 0 || listen(ln, 1) < 0) die("bind");
        printf("EP ipc://%s\n", bind_to);
    }
    fflush(stdout);
    int fd = accept(ln, NULL, NULL);
    if (fd < 0) die("accept");
    if (tcp) nodelay(fd);
    floor_out o = {.fd = fd};
    o.frame[0] = PAYLOAD; /* little-endian uint32 length */
    o.frame[1] = o.frame[2] = o.frame[3] = 0;
    send_run(o.frame + 4, rate, count, send_frame, &o);
    close(fd);
    close(ln);
    if (!tcp) unlink(bind_to);
    return 0;
}

static int do_recv(int tcp, const char *ep, int64_t count, const char *out) {
    int fd;
    if (tcp) {
        const char *hp = ep + strlen("tcp://");
        const char *colon = strrchr(hp, ':');
        if (strncmp(ep, "tcp://", 6) != 0 || !colon || colon - hp >= 64) {
            fprintf(stderr, "bad endpoint %s\n", ep);
            return 2;
        }
        char host[64];
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("address");
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
        nodelay(fd);
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strncmp(ep, "ipc://", 6) != 0 || strlen(ep + 6) >= sizeof a.sun_path) {
            fprintf(stderr, "bad endpoint %s\n", ep);
            return 2;
        }
        strcpy(a.sun_path, ep + 6);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000}; /* wake to check idleness */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    rx r;
    rx_init(&r, count);
    static uint8_t buf[1 << 16];
    size_t have = 0;
    int done = 0;
    while (!done) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (rx_idle(&r)) break;
                continue;
            }
            die("read");
        }
        if (n == 0) break;
        have += (size_t)n;
        size_t off = 0;
        while (!done && have - off >= 4) {
            uint32_t len = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 | (uint32_t)buf[off + 2] << 16 |
                           (uint32_t)buf[off + 3] << 24;
            if (len > MAX_FRAME || len + 4 > sizeof buf) {
                fprintf(stderr, "frame length %u over %d\n", len, MAX_FRAME);
                r.bad++;
                done = 1;
                break;
            }
            if (have - off < 4 + len) break;
            done = rx_on(&r, buf + off + 4, len);
            off += 4 + len;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    close(fd);
    return rx_done(&r, out);
}

int main(int argc, char **argv) {
    if (argc < 2) goto usage;
    int tcp = argc > 2 && strcmp(argv[2], "tcp") == 0;
    if (argc > 2 && !tcp && strcmp(argv[2], "ipc") != 0) goto usage;
    if (strcmp(argv[1], "send") == 0 && argc == 6) return do_send(tcp, argv[3], parse_rate(argv[4]), parse_count(argv[5]));
    if (strcmp(argv[1], "recv") == 0 && argc == 6) return do_recv(tcp, argv[3], parse_count(argv[4]), argv[5]);
usage:
    fprintf(stderr, "usage: floor send tcp|ipc BIND RATE COUNT | floor recv tcp|ipc ENDPOINT COUNT OUT\n");
    return 2;
}
