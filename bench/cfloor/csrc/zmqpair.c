/* zmqpair.c — libzmq PUB→SUB in C for bench/cfloor: the reference ZeroMQ implementation
 * the bus is compared with. Each message is two frames, topic then the 100-byte payload,
 * as the bus and the zmq4 pair send them; the SUB subscribes to the topic prefix "bbo.".
 * High-water marks are raised to 1M messages so a flood is lossless (drops would show as
 * recv < sent).
 *
 *   zmqpair send tcp|ipc BIND RATE COUNT     BIND: 127.0.0.1 (port chosen) or a socket path
 *   zmqpair recv tcp|ipc ENDPOINT COUNT OUT
 *
 * The contract (EP/READY/go/SENT/quit/DONE lines, payload, pacing) is in peer.h and in
 * the package documentation of cfloor.go. */
#include "peer.h"

#include <zmq.h>

static const char topic[] = "bbo.binance.BTC-USDT";

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
}

static void send_msg(void *s, const uint8_t *p) {
    while (zmq_send(s, topic, sizeof topic - 1, ZMQ_SNDMORE) < 0)
        if (zmq_errno() != EINTR) die("zmq_send");
    while (zmq_send(s, p, PAYLOAD, 0) < 0)
        if (zmq_errno() != EINTR) die("zmq_send");
}

static int do_send(int tcp, const char *bind_to, int64_t rate, int64_t count) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUB);
    int hwm = 1000000;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    char ep[512];
    if (tcp)
        snprintf(ep, sizeof ep, "tcp://%s:*", bind_to);
    else
        snprintf(ep, sizeof ep, "ipc://%s", bind_to);
    if (zmq_bind(s, ep) < 0) die("zmq_bind");
    size_t len = sizeof ep;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) < 0) die("ZMQ_LAST_ENDPOINT");
    printf("EP %s\n", ep);
    fflush(stdout);
    uint8_t p[PAYLOAD];
    send_run(p, rate, count, send_msg, s); /* the probes also cover PUB dropping until SUB joins */
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

static int do_recv(const char *ep, int64_t count, const char *out) {
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 1000000, tmo = 100, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo); /* wake to check idleness */
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "bbo.", 4);
    if (zmq_connect(s, ep) < 0) die("zmq_connect");
    rx r;
    rx_init(&r, count);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int done = 0, part = 0;
    while (!done) {
        if (zmq_msg_recv(&m, s, 0) < 0) {
            if (zmq_errno() == EINTR) continue;
            if (zmq_errno() == EAGAIN) {
                if (rx_idle(&r)) break;
                continue;
            }
            die("zmq_msg_recv");
        }
        int more = zmq_msg_more(&m);
        if (part == 1) /* the payload frame */
            done = rx_on(&r, zmq_msg_data(&m), zmq_msg_size(&m));
        else if (!more) /* a one-frame message is not ours */
            r.bad++;
        part = more ? part + 1 : 0;
    }
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rx_done(&r, out);
}

int main(int argc, char **argv) {
    if (argc < 3) goto usage;
    int tcp = strcmp(argv[2], "tcp") == 0;
    if (!tcp && strcmp(argv[2], "ipc") != 0) goto usage;
    if (strcmp(argv[1], "send") == 0 && argc == 6) return do_send(tcp, argv[3], parse_rate(argv[4]), parse_count(argv[5]));
    if (strcmp(argv[1], "recv") == 0 && argc == 6) return do_recv(argv[3], parse_count(argv[4]), argv[5]);
usage:
    fprintf(stderr, "usage: zmqpair send tcp|ipc BIND RATE COUNT | zmqpair recv tcp|ipc ENDPOINT COUNT OUT\n");
    return 2;
}
