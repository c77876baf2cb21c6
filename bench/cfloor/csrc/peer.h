/* Shared by the C peers of bench/cfloor (floor.c, zmqpair.c): the payload format, the
 * clock, the pacing and the receiver's bookkeeping. The Go peers (peer.go) implement the
 * same contract; see the package documentation in cfloor.go. */
#ifndef TICKLINE_CFLOOR_PEER_H
#define TICKLINE_CFLOOR_PEER_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 100            /* bytes per message, as in bench/busbench */
#define MAX_COUNT 10000000     /* bound on COUNT before the latency array is allocated */
#define IDLE_READY_NS 2000000000LL /* a receiver gives up 2 s after its last message */
#define IDLE_START_NS 15000000000LL /* or 15 s after start when nothing came */

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* body_byte is byte i (16 <= i < PAYLOAD) of message seq. */
static inline uint8_t body_byte(uint64_t seq, int i) { return (uint8_t)(seq * 131u + (uint64_t)i * 7u); }

/* fill writes seq and the body; stamp() writes the send time just before sending. */
static inline void fill(uint8_t *p, uint64_t seq) {
    put64(p + 8, seq);
    for (int i = 16; i < PAYLOAD; i++) p[i] = body_byte(seq, i);
}

static inline void stamp(uint8_t *p) { put64(p, (uint64_t)now_ns()); }

/* fnv64 hashes p[8:PAYLOAD] (seq and body, not the time stamp). */
static inline uint64_t fnv64(const uint8_t *p) {
    uint64_t h = 14695981039346656037ULL;
    for (int i = 8; i < PAYLOAD; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* pace spins until t0 + i*gap (absolute deadlines: a late send does not push the rest). */
static inline void pace(int64_t t0, int64_t i, int64_t gap) {
    if (gap <= 0) return;
    int64_t due = t0 + i * gap;
    while (now_ns() < due) {
    }
}

/* go_ready reports whether the runner wrote its "go" line on stdin (non-blocking). */
static inline int stdin_ready(void) {
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* wait_line blocks until a line (or EOF) arrives on stdin. */
static inline void wait_line(void) {
    char buf[64];
    if (fgets(buf, sizeof buf, stdin) == NULL) return;
}

/* send_run is a sender's protocol once it has printed its endpoint: warm-up probes (seq 0)
 * every millisecond until the runner writes "go" (they also let a PUB socket find its
 * subscriber), then count messages with seq 1..count at rate messages/s (0: flood) on
 * absolute deadlines, "SENT <count>", and a wait for the runner's last line. send writes
 * the PAYLOAD bytes at p to the peer (ctx is its socket state) and dies on failure. */
static inline void send_run(uint8_t *p, int64_t rate, int64_t count,
                            void (*send)(void *ctx, const uint8_t *p), void *ctx) {
    while (!stdin_ready()) {
        fill(p, 0);
        stamp(p);
        send(ctx, p);
        usleep(1000);
    }
    wait_line();
    int64_t gap = rate > 0 ? 1000000000LL / rate : 0;
    int64_t t0 = now_ns();
    for (int64_t i = 0; i < count; i++) {
        pace(t0, i, gap);
        fill(p, (uint64_t)i + 1);
        stamp(p);
        send(ctx, p);
    }
    printf("SENT %" PRId64 "\n", count);
    fflush(stdout);
    wait_line();
}

/* rx is a receiver's state. */
typedef struct {
    int64_t count, got, bad, dups;
    uint64_t sum;
    int64_t *lat;      /* ns, arrival order */
    int64_t first_sent, last_recv, last_any;
    int ready;
    uint64_t max_seq;
    uint8_t *seen;     /* one bit per seq: duplicates are counted, not summed twice */
} rx;

static inline void rx_init(rx *r, int64_t count) {
    memset(r, 0, sizeof *r);
    r->count = count;
    r->lat = malloc(sizeof(int64_t) * (size_t)count);
    r->seen = calloc((size_t)count / 8 + 1, 1);
    if (!r->lat || !r->seen) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    r->last_any = now_ns();
}

/* rx_on handles one received payload; it returns 1 when COUNT messages have arrived. */
static inline int rx_on(rx *r, const uint8_t *p, size_t n) {
    int64_t now = now_ns();
    r->last_any = now;
    if (n != PAYLOAD) {
        r->bad++;
        return 0;
    }
    uint64_t seq = get64(p + 8);
    if (seq == 0) { /* warm-up probe */
        if (!r->ready) {
            r->ready = 1;
            printf("READY\n");
            fflush(stdout);
        }
        return 0;
    }
    int ok = seq <= (uint64_t)r->count;
    for (int i = 16; ok && i < PAYLOAD; i++) ok = p[i] == body_byte(seq, i);
    if (!ok) {
        r->bad++;
        return 0;
    }
    if (r->seen[seq / 8] & (1u << (seq % 8))) {
        r->dups++;
        return 0;
    }
    r->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    int64_t sent = (int64_t)get64(p);
    if (r->got == 0) r->first_sent = sent;
    r->lat[r->got++] = now - sent;
    r->sum += fnv64(p);
    r->last_recv = now;
    return r->got >= r->count;
}

/* rx_idle reports whether the receiver should give up waiting. */
static inline int rx_idle(rx *r) {
    int64_t lim = r->ready ? IDLE_READY_NS : IDLE_START_NS;
    return now_ns() - r->last_any > lim;
}

/* rx_done writes the latencies to path and the summary line to stdout. */
static inline int rx_done(rx *r, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    for (int64_t i = 0; i < r->got; i++) {
        uint8_t b[8];
        put64(b, (uint64_t)r->lat[i]);
        fwrite(b, 1, 8, f);
    }
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    printf("DONE recv=%" PRId64 " bad=%" PRId64 " dup=%" PRId64 " sum=%016" PRIx64 " first_sent=%" PRId64
           " last_recv=%" PRId64 "\n",
           r->got, r->bad, r->dups, r->sum, r->first_sent, r->last_recv);
    fflush(stdout);
    return 0;
}

/* parse_count reads COUNT, bounded before anything is allocated. */
static inline int64_t parse_count(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end != 0 || v < 1 || v > MAX_COUNT) {
        fprintf(stderr, "count %s out of [1, %d]\n", s, MAX_COUNT);
        exit(2);
    }
    return v;
}

static inline int64_t parse_rate(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end != 0 || v < 0 || v > 100000000) {
        fprintf(stderr, "rate %s out of [0, 1e8]\n", s);
        exit(2);
    }
    return v;
}

#endif
