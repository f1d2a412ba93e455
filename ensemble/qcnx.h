/*
 * qcnx: the election port's connections, as Apache's QuorumCnxManager makes them
 * (../shared/spec/quorum-protocol.md §3), on libuv. It moves opaque messages between
 * servers; election.c decides what they say.
 *
 *  - One TCP connection per pair of servers, kept by the larger sid: a connection opened by
 *    the smaller sid only carries its initial message (so that the larger one connects
 *    back); a connection arriving from a smaller sid is closed and answered by connecting
 *    to it.
 *  - Initial message: long -65536 (protocol version 1), long sid, int length, "host:port"
 *    (a first long >= 0 is a pre-3.5 peer's bare sid).
 *  - Frames: int length (1 .. 512 KiB, else the connection is dropped) + body.
 *  - At most one unsent message per peer: a newer one replaces it. When a connection comes
 *    up, the pending message is sent, or else the last one sent, again.
 *  - A connection is attempted when there is something to send and none exists; a failed
 *    attempt waits for the next send (the election re-sends on its timeouts).
 *  - Messages to this server itself are delivered from the loop, never inside qcnx_send().
 *
 * Garbage on the port (a bad initial message, a frame length out of range, nothing within
 * QCNX_HANDSHAKE_MS) closes that connection only.
 */
#ifndef ZK_QCNX_H
#define ZK_QCNX_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define QCNX_PROTOCOL_V1 (-65536LL)
#define QCNX_MAX_FRAME (512 * 1024)
#define QCNX_HANDSHAKE_MS 5000

struct qcnx_peer {
	int64_t sid;
	const char *host;	/* numeric IPv4 or a name (resolved at open) */
	int port;		/* election port */
};

typedef void (*qcnx_msg_fn)(void *ctx, int64_t sid, const uint8_t *p, size_t len);

struct qcnx;

/* peers: every server with an election address, this one included (its entry gives the
 * listening address). 0, or -1 with errmsg set. */
int qcnx_open(uv_loop_t *loop, int64_t myid, const struct qcnx_peer *peers, int npeers,
	      qcnx_msg_fn on_msg, void *ctx, struct qcnx **out, char *errmsg, size_t errlen);
void qcnx_send(struct qcnx *q, int64_t sid, const uint8_t *p, size_t len);
/* Closes every handle; the memory goes once libuv has closed them (run the loop). */
void qcnx_close(struct qcnx *q);

#endif
