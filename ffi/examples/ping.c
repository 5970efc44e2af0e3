/*
 * ping: secures a TCP connection with p2psec's C API, then runs a yamux ping over it.
 *
 *   ping dial /ip4/A.B.C.D/tcp/PORT/p2p/PEERID noise|tls
 *   ping listen noise|tls
 *
 * The dialer prints "connected <peer> <security> <muxer>", sends one yamux PING and
 * prints "yamux ping ok <rtt>" when the ACK comes back (exit 0). The listener prints its
 * multiaddr first, then serves connections until SIGINT/SIGTERM: it answers PINGs,
 * refuses every stream the remote opens (we serve none) and frees everything on exit.
 *
 * All I/O is ours (non-blocking sockets and poll()); p2psec only transforms bytes.
 */

#include "p2psec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

#define NS_PER_MS 1000000LL
#define HANDSHAKE_MS 10000      /* connect + upgrade */
#define PING_MS 10000           /* dial: our PING until its ACK */
#define IDLE_MS 60000           /* listen: a connection with no input is closed */
#define CLOSE_MS 2000           /* flushing our last bytes and waiting for the peer's FIN */
#define SIGNAL_CHECK_MS 500     /* see serve() */

#define IN_CAP (128 * 1024)     /* holds a whole Noise frame (65537 B) or TLS record */
#define OUT_HIGH (256 * 1024)   /* stop reading while this much waits for the socket */
#define TX_CHUNK (16 * 1024)    /* room offered to poll_transmit at least */
#define MAX_CONNS 64

#define MUXER "/yamux/1.0.0"
#define PING_NONCE 0x70327073u  /* "p2ps" */

/* yamux framing (https://github.com/hashicorp/yamux/blob/master/spec.md) */
#define YAMUX_HDR 12
#define YAMUX_MAX_DATA (16u * 1024 * 1024)
enum { YT_DATA = 0, YT_WINDOW = 1, YT_PING = 2, YT_GO_AWAY = 3 };
enum { YF_SYN = 1, YF_ACK = 2, YF_FIN = 4, YF_RST = 8 };

/* The only global: set by SIGINT/SIGTERM in listen mode. */
static volatile sig_atomic_t stop_requested;

/* ---------------------------------------------------------------- small helpers */

static int64_t mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("clock_gettime");
        abort(); /* cannot happen on a POSIX system with a monotonic clock */
    }
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* poll() timeout until a deadline, rounded up so we do not wake early and spin. */
static int ms_until(int64_t deadline, int64_t now)
{
    if (deadline <= now)
        return 0;
    int64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static bool unix_now(uint64_t *out)
{
    time_t t = time(NULL);
    if (t == (time_t)-1) {
        perror("time");
        return false;
    }
    *out = (uint64_t)t;
    return true;
}

static void close_fd(int fd)
{
    if (close(fd) != 0)
        perror("close");
}

/* Prints a line on stdout at once: tests read it while we run. */
PRINTF_LIKE(1, 2) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    if (r < 0 || fflush(stdout) != 0)
        perror("stdout");
}

/* A byte queue: data[0..len) is live, cap is allocated. */
struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

static bool buf_reserve(struct buf *b, size_t room)
{
    if (b->cap - b->len >= room)
        return true;
    if (room > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < room)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return false;
    b->data = p;
    b->cap = cap;
    return true;
}

static bool buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return true;
    if (!buf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

static void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- p2psec errors */

/* A failure's text: from the failed handle, else from this thread's last error (calls
 * that fail outside a handle, or before one exists, leave it there). */
static void error_text(char *buf, size_t cap, const p2psec_dialer *d,
                       const p2psec_listener *l, const p2psec_channel *ch)
{
    size_t w = 0;
    p2psec_status st = P2PSEC_INVALID_ARGUMENT;
    if (ch != NULL)
        st = p2psec_channel_last_error(ch, buf, cap, &w);
    else if (d != NULL)
        st = p2psec_dialer_last_error(d, buf, cap, &w);
    else if (l != NULL)
        st = p2psec_listener_last_error(l, buf, cap, &w);
    if (st == P2PSEC_OK && w > 0)
        return;
    st = p2psec_last_error(buf, cap, &w);
    if (st == P2PSEC_OK && w > 0)
        return;
    snprintf(buf, cap, "%s",
             st == P2PSEC_BUFFER_TOO_SMALL ? "(error text too long)" : "(no error text)");
}

static void report(p2psec_status st, const p2psec_dialer *d, const p2psec_listener *l,
                   const p2psec_channel *ch)
{
    char text[1024];
    error_text(text, sizeof text, d, l, ch);
    fprintf(stderr, "error %s: %s\n", p2psec_status_name(st), text);
}

static const char *security_name(p2psec_security s)
{
    switch (s) {
    case P2PSEC_SECURITY_NOISE:
        return "noise";
    case P2PSEC_SECURITY_TLS:
        return "tls";
    case P2PSEC_SECURITY_SECIO:
        return "secio";
    default:
        return "none";
    }
}

/* A fresh Ed25519 identity and an upgrade config offering one security and yamux. */
static p2psec_status make_config(const char *security, uint64_t now, p2psec_keypair **kp,
                                 p2psec_config **cfg)
{
    p2psec_status st = p2psec_keypair_generate(P2PSEC_KEY_ED25519, kp);
    if (st == P2PSEC_OK)
        st = p2psec_config_new(*kp, now, NULL, cfg);
    if (st == P2PSEC_OK)
        st = p2psec_config_set_security(*cfg, security);
    if (st == P2PSEC_OK)
        st = p2psec_config_set_muxers(*cfg, MUXER);
    return st;
}

/* ---------------------------------------------------------------- one upgrade, either role */

/* Exactly one of d and l is set until into_channel takes it. */
struct upgrade {
    p2psec_dialer *d;
    p2psec_listener *l;
};

static p2psec_status up_input(struct upgrade *u, const uint8_t *p, size_t n, size_t *used)
{
    return u->d ? p2psec_dialer_handle_input(u->d, p, n, used)
                : p2psec_listener_handle_input(u->l, p, n, used);
}

static size_t up_pending(const struct upgrade *u)
{
    return u->d ? p2psec_dialer_pending_transmit(u->d) : p2psec_listener_pending_transmit(u->l);
}

static p2psec_status up_transmit(struct upgrade *u, uint8_t *out, size_t cap, size_t *w)
{
    return u->d ? p2psec_dialer_poll_transmit(u->d, out, cap, w)
                : p2psec_listener_poll_transmit(u->l, out, cap, w);
}

static p2psec_status up_event(struct upgrade *u, p2psec_event *ev)
{
    return u->d ? p2psec_dialer_poll_event(u->d, ev) : p2psec_listener_poll_event(u->l, ev);
}

static bool up_complete(const struct upgrade *u)
{
    return u->d ? p2psec_dialer_is_complete(u->d) : p2psec_listener_is_complete(u->l);
}

/* On OK the library has freed the handle and set our pointer to NULL. */
static p2psec_status up_into_channel(struct upgrade *u, p2psec_channel **ch)
{
    return u->d ? p2psec_dialer_into_channel(&u->d, ch)
                : p2psec_listener_into_channel(&u->l, ch);
}

static void up_free(struct upgrade *u)
{
    p2psec_dialer_free(&u->d);
    p2psec_listener_free(&u->l);
}

/* ---------------------------------------------------------------- a connection */

enum phase { PH_UPGRADE, PH_MUX, PH_CLOSING, PH_DONE };

struct yamux {
    uint8_t hdr[YAMUX_HDR]; /* a header split across reads */
    size_t hdr_len;
    uint32_t skip;          /* data payload still to discard */
    struct buf out;         /* frames not yet taken by p2psec_channel_write */
    int64_t ping_sent;      /* dial: when our PING was queued */
    int64_t rtt_ns;
    bool ping_acked;
    bool go_away;
    uint32_t go_away_code;
};

struct conn {
    int fd;
    bool dialing;                   /* the dialer pings, the listener answers */
    enum phase phase;
    bool ok;                        /* dial: our PING was answered */
    bool eof;                       /* TCP end of stream: what is in `in` still counts */
    bool peer_closed;               /* the channel says the peer closed it (TLS close_notify) */
    bool shut;                      /* closing: our write side is shut */
    int64_t deadline;               /* the current phase's limit (monotonic ns) */
    struct upgrade up;
    p2psec_channel *ch;
    const p2psec_peer_id *expected; /* dial: the id from the multiaddr */
    struct buf in;                  /* ciphertext read, not yet consumed */
    struct buf out;                 /* ciphertext not yet written */
    struct yamux mx;
};

/* Takes ownership of fd and the upgrade handle, whatever it returns: conn_free them. */
static bool conn_init(struct conn *c, int fd, struct upgrade up, const p2psec_peer_id *expected)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->up = up;
    c->dialing = up.d != NULL;
    c->phase = PH_UPGRADE;
    c->expected = expected;
    c->deadline = mono_ns() + HANDSHAKE_MS * NS_PER_MS;
    if (!buf_reserve(&c->in, IN_CAP)) {
        fprintf(stderr, "error: out of memory\n");
        return false;
    }
    return true;
}

static void conn_free(struct conn *c)
{
    up_free(&c->up);
    p2psec_channel_free(&c->ch);
    if (c->fd >= 0)
        close_fd(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->mx.out);
}

/* Moves what the upgrade or the channel wants sent into c->out. False on failure, with
 * *st the library's status (P2PSEC_OK: we ran out of memory). */
static bool take_transmit(struct conn *c, p2psec_status *st)
{
    for (;;) {
        size_t pending = c->ch ? p2psec_channel_pending_transmit(c->ch) : up_pending(&c->up);
        *st = P2PSEC_OK;
        if (!buf_reserve(&c->out, pending > TX_CHUNK ? pending : TX_CHUNK))
            return false;
        size_t room = c->out.cap - c->out.len, w = 0;
        uint8_t *at = c->out.data + c->out.len;
        *st = c->ch ? p2psec_channel_poll_transmit(c->ch, at, room, &w)
                    : up_transmit(&c->up, at, room, &w);
        if (*st == P2PSEC_BUFFER_TOO_SMALL && w > room) {
            /* the pending size was only a hint: grow to what it asks for and retry */
            *st = P2PSEC_OK;
            if (!buf_reserve(&c->out, w))
                return false;
            continue;
        }
        if (*st != P2PSEC_OK)
            return false;
        if (w == 0)
            return true;
        c->out.len += w < room ? w : room;
    }
}

/* Writes as much of c->out as the socket takes now; 0 or an errno. */
static int sock_write(struct conn *c)
{
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
        }
        buf_consume(&c->out, (size_t)n);
    }
    return 0;
}

/* Reads what arrived into the room of c->in; 0 or an errno. */
static int sock_read(struct conn *c, bool *got)
{
    while (!c->eof && c->in.len < c->in.cap) {
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
        }
        if (n == 0)
            c->eof = true;
        c->in.len += (size_t)n;
        *got = *got || n > 0;
    }
    return 0;
}

/* Ends a connection after a failure: the failed machine may owe the peer a last message
 * (a TLS alert, a multistream "na"), which goes out if the socket takes it now. */
static void conn_abort(struct conn *c)
{
    p2psec_status ignored;
    if (c->phase == PH_UPGRADE || c->phase == PH_MUX) {
        (void)take_transmit(c, &ignored);
        (void)sock_write(c);
    }
    c->phase = PH_DONE;
}

static void conn_fail_p2p(struct conn *c, p2psec_status st)
{
    report(st, c->up.d, c->up.l, c->ch);
    conn_abort(c);
}

PRINTF_LIKE(2, 3) static void conn_fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    conn_abort(c);
}

static void conn_fail_errno(struct conn *c, const char *what, int err)
{
    if (c->phase == PH_CLOSING) {
        c->phase = PH_DONE; /* a peer that is gone before our goodbye is no failure */
        return;
    }
    conn_fail(c, "%s: %s", what, strerror(err));
}

static bool conn_transmit(struct conn *c)
{
    p2psec_status st;
    if (take_transmit(c, &st))
        return true;
    if (st == P2PSEC_OK)
        conn_fail(c, "out of memory");
    else
        conn_fail_p2p(c, st);
    return false;
}

static short conn_events(const struct conn *c)
{
    short ev = 0;
    if (!c->eof && c->in.len < c->in.cap && c->out.len < OUT_HIGH)
        ev |= POLLIN;
    if (c->out.len > 0)
        ev |= POLLOUT;
    return ev;
}

/* Ends our side politely: TLS queues its close_notify, FIN follows the last byte. */
static void start_close(struct conn *c)
{
    p2psec_status st = p2psec_channel_close(c->ch);
    if (st != P2PSEC_OK) {
        conn_fail_p2p(c, st);
        return;
    }
    if (!conn_transmit(c))
        return;
    c->phase = PH_CLOSING;
    c->deadline = mono_ns() + CLOSE_MS * NS_PER_MS;
}

/* After our last byte: shut our side, then wait for the peer's FIN (closing at once
 * could turn unread input into an RST that discards our last bytes at the peer). */
static void closing_progress(struct conn *c)
{
    c->in.len = 0; /* nothing is decrypted after our goodbye */
    if (c->out.len > 0)
        return;
    if (!c->shut) {
        if (shutdown(c->fd, SHUT_WR) != 0) {
            c->phase = PH_DONE;
            return;
        }
        c->shut = true;
    }
    if (c->eof)
        c->phase = PH_DONE;
}

/* ---------------------------------------------------------------- yamux */

static bool yamux_queue(struct conn *c, uint8_t type, uint16_t flags, uint32_t stream,
                        uint32_t length)
{
    const uint8_t f[YAMUX_HDR] = {
        0, type, (uint8_t)(flags >> 8), (uint8_t)flags,
        (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream,
        (uint8_t)(length >> 24), (uint8_t)(length >> 16), (uint8_t)(length >> 8), (uint8_t)length,
    };
    if (buf_append(&c->mx.out, f, sizeof f))
        return true;
    conn_fail(c, "out of memory");
    return false;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A SYN opens a stream; we serve none, so it gets an RST at once. */
static bool refuse_stream(struct conn *c, uint32_t stream, uint16_t flags)
{
    if (stream == 0 || !(flags & YF_SYN) || (flags & YF_RST))
        return true;
    return yamux_queue(c, YT_WINDOW, YF_RST, stream, 0);
}

static bool yamux_ping(struct conn *c, uint16_t flags, uint32_t value)
{
    if (flags & YF_SYN) {
        if (!yamux_queue(c, YT_PING, YF_ACK, 0, value))
            return false;
        if (!c->dialing)
            say("yamux ping answered\n");
        return true;
    }
    if ((flags & YF_ACK) && c->dialing && !c->mx.ping_acked && value == PING_NONCE) {
        c->mx.ping_acked = true;
        c->mx.rtt_ns = mono_ns() - c->mx.ping_sent;
    }
    return true;
}

static bool yamux_frame(struct conn *c)
{
    const uint8_t *h = c->mx.hdr;
    uint16_t flags = (uint16_t)(h[2] << 8 | h[3]);
    uint32_t stream = be32(h + 4), length = be32(h + 8);
    if (h[0] != 0) {
        conn_fail(c, "yamux: unsupported version %u", (unsigned)h[0]);
        return false;
    }
    switch (h[1]) {
    case YT_DATA:
        if (length > YAMUX_MAX_DATA) {
            conn_fail(c, "yamux: data frame of %lu bytes", (unsigned long)length);
            return false;
        }
        c->mx.skip = length; /* no stream of ours: the payload is dropped */
        return refuse_stream(c, stream, flags);
    case YT_WINDOW:
        return refuse_stream(c, stream, flags);
    case YT_PING:
        return yamux_ping(c, flags, length);
    case YT_GO_AWAY:
        c->mx.go_away = true;
        c->mx.go_away_code = length;
        return true;
    default:
        conn_fail(c, "yamux: unknown frame type %u", (unsigned)h[1]);
        return false;
    }
}

/* Plaintext from the channel, in pieces of any size: headers are gathered, data
 * payloads skipped, so nothing is buffered beyond one header. */
static bool yamux_input(struct conn *c, const uint8_t *p, size_t n)
{
    struct yamux *m = &c->mx;
    while (n > 0) {
        size_t k;
        if (m->skip > 0) {
            k = n < m->skip ? n : m->skip;
            m->skip -= (uint32_t)k;
        } else {
            k = YAMUX_HDR - m->hdr_len;
            k = n < k ? n : k;
            memcpy(m->hdr + m->hdr_len, p, k);
            m->hdr_len += k;
            if (m->hdr_len == YAMUX_HDR) {
                m->hdr_len = 0;
                if (!yamux_frame(c))
                    return false;
            }
        }
        p += k;
        n -= k;
    }
    return true;
}

/* ---------------------------------------------------------------- the secure channel */

/* Takes all plaintext the channel holds (it consumes no more input while some waits). */
static bool mux_read(struct conn *c)
{
    uint8_t plain[16 * 1024];
    for (;;) {
        size_t n = 0;
        p2psec_status st = p2psec_channel_read(c->ch, plain, sizeof plain, &n);
        if (st == P2PSEC_WOULD_BLOCK)
            return true;
        if (st == P2PSEC_CLOSED) {
            c->peer_closed = true;
            return true;
        }
        if (st != P2PSEC_OK) {
            conn_fail_p2p(c, st);
            return false;
        }
        if (n == 0)
            return true;
        if (!yamux_input(c, plain, n))
            return false;
    }
}

/* Decrypts what arrived, alternating input and reads until no input is consumed. */
static bool mux_feed(struct conn *c)
{
    size_t used;
    do {
        if (!mux_read(c))
            return false;
        used = 0;
        if (c->in.len == 0 || c->peer_closed)
            break; /* nothing counts after the peer's close_notify */
        p2psec_status st = p2psec_channel_handle_input(c->ch, c->in.data, c->in.len, &used);
        if (st == P2PSEC_CLOSED) {
            c->peer_closed = true;
            break;
        }
        if (st != P2PSEC_OK) {
            conn_fail_p2p(c, st);
            return false;
        }
        buf_consume(&c->in, used);
    } while (used > 0);
    return true;
}

/* Hands queued yamux frames to the channel, and its ciphertext to c->out. */
static bool mux_flush(struct conn *c)
{
    while (c->mx.out.len > 0) {
        size_t took = 0;
        p2psec_status st = p2psec_channel_write(c->ch, c->mx.out.data, c->mx.out.len, &took);
        if (st != P2PSEC_OK) {
            conn_fail_p2p(c, st);
            return false;
        }
        buf_consume(&c->mx.out, took);
        if (!conn_transmit(c))
            return false;
        if (took == 0)
            break; /* full even after transmitting: try again next round */
    }
    return conn_transmit(c);
}

static void mux_progress(struct conn *c)
{
    if (!mux_feed(c) || !mux_flush(c))
        return;
    if (c->dialing && c->mx.ping_acked) {
        c->ok = true;
        say("yamux ping ok %.3fms\n", (double)c->mx.rtt_ns / 1e6);
        /* GoAway 0 (normal termination) tells the remote's yamux we are done */
        if (yamux_queue(c, YT_GO_AWAY, 0, 0, 0) && mux_flush(c))
            start_close(c);
    } else if (c->mx.go_away || c->eof || c->peer_closed) {
        if (!c->dialing)
            start_close(c);
        else if (c->mx.go_away)
            conn_fail(c, "remote sent yamux go away (code %lu) before the ping ack",
                      (unsigned long)c->mx.go_away_code);
        else
            conn_fail(c, "peer closed the connection before the ping ack");
    } else if (c->in.len == c->in.cap) {
        conn_fail(c, "encrypted frame larger than the input buffer");
    }
}

/* Prints "connected <peer> <security> <muxer>" once the channel is up. */
static bool announce(struct conn *c)
{
    p2psec_peer_id *remote = NULL;
    char id[P2PSEC_PEER_ID_TEXT_MAX], muxer[256];
    size_t w = 0;
    p2psec_status st = p2psec_channel_remote_peer_id(c->ch, &remote);
    if (st == P2PSEC_OK)
        st = p2psec_peer_id_to_string(remote, id, sizeof id, &w);
    if (st == P2PSEC_OK)
        st = p2psec_channel_muxer(c->ch, muxer, sizeof muxer, &w);
    /* the dialer already enforced it; checking costs nothing */
    bool same = st == P2PSEC_OK &&
                (c->expected == NULL || p2psec_peer_id_equal(remote, c->expected));
    p2psec_peer_id_free(&remote);
    if (st != P2PSEC_OK) {
        conn_fail_p2p(c, st);
        return false;
    }
    if (!same) {
        fprintf(stderr, "error %s: remote peer %s is not the one dialed\n",
                p2psec_status_name(P2PSEC_PEER_ID_MISMATCH), id);
        conn_abort(c);
        return false;
    }
    say("connected %s %s %s\n", id, security_name(p2psec_channel_security(c->ch)), muxer);
    if (strcmp(muxer, MUXER) != 0) {
        conn_fail(c, "no yamux agreed (muxer \"%s\")", muxer);
        return false;
    }
    return true;
}

static bool enter_mux(struct conn *c)
{
    p2psec_status st = up_into_channel(&c->up, &c->ch);
    if (st != P2PSEC_OK) {
        conn_fail_p2p(c, st);
        return false;
    }
    if (!announce(c))
        return false;
    c->phase = PH_MUX;
    if (!c->dialing) {
        c->deadline = mono_ns() + IDLE_MS * NS_PER_MS;
        return true;
    }
    c->mx.ping_sent = mono_ns();
    c->deadline = c->mx.ping_sent + PING_MS * NS_PER_MS;
    return yamux_queue(c, YT_PING, YF_SYN, 0, PING_NONCE);
}

/* ---------------------------------------------------------------- the upgrade */

static bool drain_events(struct conn *c)
{
    p2psec_event ev;
    for (;;) {
        p2psec_status st = up_event(&c->up, &ev);
        if (st == P2PSEC_WOULD_BLOCK)
            return true;
        if (st != P2PSEC_OK) {
            conn_fail_p2p(c, st);
            return false;
        }
    }
}

static void upgrade_progress(struct conn *c)
{
    while (c->in.len > 0 && !up_complete(&c->up)) {
        size_t used = 0;
        p2psec_status st = up_input(&c->up, c->in.data, c->in.len, &used);
        if (st != P2PSEC_OK) {
            conn_fail_p2p(c, st);
            return;
        }
        buf_consume(&c->in, used);
        if (used == 0)
            break; /* a partial message: wait for more bytes */
    }
    if (!drain_events(c) || !conn_transmit(c))
        return;
    if (up_complete(&c->up)) {
        /* bytes left in c->in are the channel's: mux_progress feeds them to it */
        if (enter_mux(c))
            mux_progress(c);
    } else if (c->eof) {
        conn_fail(c, "peer closed the connection during the handshake");
    } else if (c->in.len == c->in.cap) {
        conn_fail(c, "handshake message larger than the input buffer");
    }
}

/* ---------------------------------------------------------------- driving a connection */

/* One round: read what arrived, let the machines work, write what they produced. */
static void conn_step(struct conn *c, short revents)
{
    if (c->phase == PH_DONE)
        return;
    if (revents & POLLNVAL) {
        conn_fail(c, "poll: invalid socket");
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        bool got = false;
        int err = sock_read(c, &got);
        if (err != 0) {
            conn_fail_errno(c, "recv", err);
            return;
        }
        if (got && c->phase == PH_MUX && !c->dialing)
            c->deadline = mono_ns() + IDLE_MS * NS_PER_MS;
    }
    if (c->phase == PH_UPGRADE)
        upgrade_progress(c);
    else if (c->phase == PH_MUX)
        mux_progress(c);
    if (c->phase == PH_DONE)
        return;
    int err = sock_write(c);
    if (err != 0) {
        conn_fail_errno(c, "send", err);
        return;
    }
    if (c->phase == PH_CLOSING)
        closing_progress(c);
}

static void conn_expire(struct conn *c)
{
    switch (c->phase) {
    case PH_UPGRADE:
        conn_fail(c, "handshake not complete after %d s", HANDSHAKE_MS / 1000);
        break;
    case PH_MUX:
        if (c->dialing) {
            conn_fail(c, "no yamux ping ack within %d s", PING_MS / 1000);
        } else {
            fprintf(stderr, "closing a connection idle for %d s\n", IDLE_MS / 1000);
            start_close(c);
        }
        break;
    case PH_CLOSING:
        c->phase = PH_DONE;
        break;
    case PH_DONE:
        break;
    }
}

/* ---------------------------------------------------------------- sockets */

static bool set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        perror("fcntl");
        return false;
    }
    return true;
}

static bool socket_setup(int fd)
{
    int one = 1;
    if (!set_nonblocking(fd))
        return false;
    /* pings are tiny: Nagle's algorithm would hold them back and skew the RTT */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        perror("setsockopt TCP_NODELAY");
        return false;
    }
    return true;
}

union sockaddr_any {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

struct target {
    union sockaddr_any addr;
    socklen_t addr_len;
    char peer_id[P2PSEC_PEER_ID_TEXT_MAX];
};

/* Waits for a non-blocking connect() to finish, until the deadline. */
static bool wait_connected(int fd, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int64_t now = mono_ns();
        if (now >= deadline) {
            fprintf(stderr, "error: connect: timed out\n");
            return false;
        }
        int n = poll(&p, 1, ms_until(deadline, now));
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR) {
            perror("poll");
            return false;
        }
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "error: connect: %s\n", strerror(err));
        return false;
    }
    return true;
}

static int tcp_connect(const struct target *t, int64_t deadline)
{
    int fd = socket(t->addr.sa.sa_family, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    if (socket_setup(fd)) {
        if (connect(fd, &t->addr.sa, t->addr_len) == 0)
            return fd;
        if (errno != EINPROGRESS)
            fprintf(stderr, "error: connect: %s\n", strerror(errno));
        else if (wait_connected(fd, deadline))
            return fd;
    }
    close_fd(fd);
    return -1;
}

/* A listening socket on 127.0.0.1 and a port the system picks. */
static int tcp_listen(unsigned *port)
{
    union sockaddr_any a;
    socklen_t len = sizeof a.v4;
    memset(&a, 0, sizeof a);
    a.v4.sin_family = AF_INET;
    a.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    const char *failed = bind(fd, &a.sa, len) != 0          ? "bind"
                         : listen(fd, 1024) != 0              ? "listen"
                         : getsockname(fd, &a.sa, &len) != 0 ? "getsockname"
                                                              : NULL;
    if (failed == NULL && set_nonblocking(fd)) {
        *port = ntohs(a.v4.sin_port);
        return fd;
    }
    if (failed != NULL)
        perror(failed);
    close_fd(fd);
    return -1;
}

/* Splits the next "/part" off *s into out; false if there is none or it does not fit. */
static bool next_part(const char **s, char *out, size_t cap)
{
    if (**s != '/')
        return false;
    const char *start = *s + 1;
    size_t n = strcspn(start, "/");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, start, n);
    out[n] = '\0';
    *s = start + n;
    return true;
}

static bool parse_port(const char *text, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;
    for (i = 0; text[i] != '\0'; i++) {
        if (text[i] < '0' || text[i] > '9' || i >= 5)
            return false;
        v = v * 10 + (unsigned long)(text[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* /ip4/A.B.C.D/tcp/PORT/p2p/ID or /ip6/ADDR/tcp/PORT/p2p/ID (/ipfs/ is the old name). */
static bool parse_multiaddr(const char *s, struct target *t)
{
    char proto[8], value[P2PSEC_PEER_ID_TEXT_MAX];
    uint16_t port;
    memset(t, 0, sizeof *t);
    if (!next_part(&s, proto, sizeof proto) || !next_part(&s, value, sizeof value))
        return false;
    if (strcmp(proto, "ip4") == 0) {
        t->addr.v4.sin_family = AF_INET;
        t->addr_len = sizeof t->addr.v4;
        if (inet_pton(AF_INET, value, &t->addr.v4.sin_addr) != 1)
            return false;
    } else if (strcmp(proto, "ip6") == 0) {
        t->addr.v6.sin6_family = AF_INET6;
        t->addr_len = sizeof t->addr.v6;
        if (inet_pton(AF_INET6, value, &t->addr.v6.sin6_addr) != 1)
            return false;
    } else {
        return false;
    }
    if (!next_part(&s, proto, sizeof proto) || strcmp(proto, "tcp") != 0 ||
        !next_part(&s, value, sizeof value) || !parse_port(value, &port))
        return false;
    if (t->addr.sa.sa_family == AF_INET)
        t->addr.v4.sin_port = htons(port);
    else
        t->addr.v6.sin6_port = htons(port);
    if (!next_part(&s, proto, sizeof proto) ||
        (strcmp(proto, "p2p") != 0 && strcmp(proto, "ipfs") != 0) ||
        !next_part(&s, t->peer_id, sizeof t->peer_id))
        return false;
    return *s == '\0';
}

/* ---------------------------------------------------------------- dial */

static bool dial_loop(struct conn *c)
{
    conn_step(c, 0); /* the dialer speaks first */
    while (c->phase != PH_DONE) {
        int64_t now = mono_ns();
        if (now >= c->deadline) {
            conn_expire(c);
            conn_step(c, 0);
            continue;
        }
        struct pollfd p = { .fd = c->fd, .events = conn_events(c) };
        int n = poll(&p, 1, ms_until(c->deadline, now));
        if (n < 0 && errno != EINTR) {
            conn_fail(c, "poll: %s", strerror(errno));
            break;
        }
        if (n > 0)
            conn_step(c, p.revents);
    }
    return c->ok;
}

static int run_dial(const char *multiaddr, const char *security)
{
    struct target t;
    if (!parse_multiaddr(multiaddr, &t)) {
        fprintf(stderr, "ping: bad multiaddr \"%s\" (want /ip4/A.B.C.D/tcp/PORT/p2p/PEERID)\n",
                multiaddr);
        return 2;
    }
    int64_t deadline = mono_ns() + HANDSHAKE_MS * NS_PER_MS;
    uint64_t now;
    if (!unix_now(&now))
        return 1;
    p2psec_keypair *kp = NULL;
    p2psec_config *cfg = NULL;
    p2psec_peer_id *expected = NULL;
    p2psec_dialer *d = NULL;
    int rc = 1;

    p2psec_status st = p2psec_peer_id_from_string(t.peer_id, &expected);
    if (st == P2PSEC_OK)
        st = make_config(security, now, &kp, &cfg);
    if (st == P2PSEC_OK)
        st = p2psec_dialer_new(cfg, expected, now, NULL, &d);
    if (st != P2PSEC_OK) {
        report(st, NULL, NULL, NULL);
    } else {
        int fd = tcp_connect(&t, deadline);
        if (fd >= 0) {
            struct conn c;
            struct upgrade up = { .d = d };
            d = NULL; /* the connection owns it now */
            if (conn_init(&c, fd, up, expected)) {
                c.deadline = deadline; /* the connect time counts */
                rc = dial_loop(&c) ? 0 : 1;
            }
            conn_free(&c);
        }
    }
    p2psec_dialer_free(&d);
    p2psec_config_free(&cfg);
    p2psec_peer_id_free(&expected);
    p2psec_keypair_free(&kp);
    return rc;
}

/* ---------------------------------------------------------------- listen */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static bool set_signal(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll() must return EINTR */
    if (sigaction(sig, &sa, NULL) == 0)
        return true;
    perror("sigaction");
    return false;
}

/* Makes an accepted socket a connection in *c; false if it had to be dropped. */
static bool admit(int fd, const p2psec_config *cfg, struct conn *c)
{
    p2psec_listener *l = NULL;
    uint64_t now;
    if (!socket_setup(fd) || !unix_now(&now)) {
        close_fd(fd);
        return false;
    }
    p2psec_status st = p2psec_listener_new(cfg, now, NULL, &l);
    if (st != P2PSEC_OK) {
        report(st, NULL, NULL, NULL);
        close_fd(fd);
        return false;
    }
    struct upgrade up = { .l = l };
    if (conn_init(c, fd, up, NULL))
        return true;
    conn_free(c);
    return false;
}

/* Accepts what is waiting, up to MAX_CONNS connections. */
static void accept_all(int lfd, const p2psec_config *cfg, struct conn *conns, size_t *count)
{
    while (*count < MAX_CONNS) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            if (admit(fd, cfg, &conns[*count]))
                (*count)++;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept");
            return;
        }
    }
}

/* Frees finished connections, keeping the array dense. */
static void reap(struct conn *conns, size_t *count)
{
    size_t i = 0;
    while (i < *count) {
        if (conns[i].phase != PH_DONE) {
            i++;
            continue;
        }
        conn_free(&conns[i]);
        conns[i] = conns[--*count];
    }
}

static void serve(int lfd, const p2psec_config *cfg, struct conn *conns, size_t *count)
{
    struct pollfd fds[MAX_CONNS + 1];
    while (!stop_requested) {
        int64_t now = mono_ns();
        /* bounded: a signal that lands between the flag check and poll() is seen soon */
        int timeout = SIGNAL_CHECK_MS;
        fds[0] = (struct pollfd){ .fd = *count < MAX_CONNS ? lfd : -1, .events = POLLIN };
        for (size_t i = 0; i < *count; i++) {
            fds[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = conn_events(&conns[i]) };
            int t = ms_until(conns[i].deadline, now);
            timeout = t < timeout ? t : timeout;
        }
        if (poll(fds, (nfds_t)(*count + 1), timeout) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return;
        }
        now = mono_ns();
        for (size_t i = 0; i < *count; i++) {
            bool expired = now >= conns[i].deadline;
            if (expired)
                conn_expire(&conns[i]);
            if (expired || fds[i + 1].revents != 0)
                conn_step(&conns[i], fds[i + 1].revents);
        }
        reap(conns, count);
        if (fds[0].revents & POLLIN)
            accept_all(lfd, cfg, conns, count);
    }
}

static int run_listen(const char *security)
{
    p2psec_keypair *kp = NULL;
    p2psec_config *cfg = NULL;
    p2psec_peer_id *self = NULL;
    char id[P2PSEC_PEER_ID_TEXT_MAX];
    size_t w = 0;
    unsigned port = 0;
    uint64_t now;
    int rc = 1;
    if (!unix_now(&now))
        return 1;

    p2psec_status st = make_config(security, now, &kp, &cfg);
    if (st == P2PSEC_OK)
        st = p2psec_config_local_peer_id(cfg, &self);
    if (st == P2PSEC_OK)
        st = p2psec_peer_id_to_string(self, id, sizeof id, &w);
    if (st != P2PSEC_OK) {
        report(st, NULL, NULL, NULL);
    } else if (set_signal(SIGINT, on_signal) && set_signal(SIGTERM, on_signal)) {
        int lfd = tcp_listen(&port);
        if (lfd >= 0) {
            struct conn conns[MAX_CONNS];
            size_t count = 0;
            say("/ip4/127.0.0.1/tcp/%u/p2p/%s\n", port, id);
            serve(lfd, cfg, conns, &count);
            while (count > 0)
                conn_free(&conns[--count]);
            close_fd(lfd);
            rc = stop_requested ? 0 : 1;
        }
    }
    p2psec_peer_id_free(&self);
    p2psec_config_free(&cfg);
    p2psec_keypair_free(&kp);
    return rc;
}

/* ---------------------------------------------------------------- main */

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s dial /ip4/A.B.C.D/tcp/PORT/p2p/PEERID noise|tls\n"
            "       %s listen noise|tls\n",
            argv0, argv0);
    return 2;
}

static bool known_security(const char *s)
{
    return strcmp(s, "noise") == 0 || strcmp(s, "tls") == 0;
}

int main(int argc, char **argv)
{
    const char *argv0 = argc > 0 ? argv[0] : "ping";
    /* a peer that goes away must give us EPIPE, not kill us */
    if (!set_signal(SIGPIPE, SIG_IGN))
        return 1;
    if (argc == 4 && strcmp(argv[1], "dial") == 0 && known_security(argv[3]))
        return run_dial(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "listen") == 0 && known_security(argv[2]))
        return run_listen(argv[2]);
    return usage(argv0);
}
