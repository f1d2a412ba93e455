/*
 * learner: the follower's and observer's side of Zab with a leader (Apache's Learner /
 * Follower / Observer; ../shared/spec/quorum-protocol.md §5), as a state machine: the bytes
 * the leader sends go in (learner_input), and what to do comes out through struct
 * learner_io — bytes to send back, epochs to persist, a database to load from the leader's
 * snapshot stream, a log to truncate, txns to log durably and to apply. No sockets, files
 * or clock, so it runs the same under a test driver, the server and a simulator.
 *
 *   discovery   FOLLOWERINFO/OBSERVERINFO -> LEADERINFO -> ACKEPOCH
 *   sync        DIFF | SNAP + snapshot stream | TRUNC, then PROPOSAL/COMMIT (or INFORM)
 *               pairs, NEWLEADER -> ACK (once the proposals it carried are logged),
 *               UPTODATE -> ACK, then the txns committed during the sync are applied
 *   broadcast   PROPOSAL -> log -> ACK (per zxid, after learner_logged), COMMIT -> apply
 *               (strictly the oldest proposal); observers: INFORM -> log and apply;
 *               PING -> PING
 *
 * Any protocol violation (an unexpected packet, a COMMIT that is not for the oldest
 * proposal, a malformed packet or stream) calls failed() once; the owner drops the
 * connection and goes back to looking. Nothing is called after failed().
 */
#ifndef ZK_LEARNER_H
#define ZK_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "datatree.h"
#include "storage.h"

struct learner_cfg {
	int64_t myid;
	int observer;
	int64_t accepted_epoch;
	int64_t current_epoch;
	int64_t last_zxid;		/* last logged */
	int64_t config_version;
	int32_t max_data;		/* jute.maxbuffer + 1024 */
	int64_t init_ms;		/* initLimit * tickTime: to be synced (0: none) */
	int64_t sync_ms;		/* syncLimit * tickTime: silence from the leader (0: none) */
};

struct learner_io {
	void *ctx;
	/* Bytes for the leader, in order. */
	void (*send)(void *ctx, const uint8_t *p, size_t len);
	/* Persist acceptedEpoch (which 0) or currentEpoch (which 1) before going on. */
	void (*epoch)(void *ctx, int which, int64_t epoch);
	/* The leader's database at zxid replaces ours (the tree and sessions pass to the
	 * owner). */
	void (*snapshot)(void *ctx, struct zk_tree *tree, struct storage_session *sessions,
			 int32_t nsessions, int64_t zxid);
	/* Make what we have durable as a snapshot (NEWLEADER after a SNAP or TRUNC). */
	void (*persist)(void *ctx);
	/* Drop every logged txn above zxid (TRUNC). */
	void (*truncate)(void *ctx, int64_t zxid);
	/* Log a txn durably (its payload: TxnHeader + record + digest, as in the txn log);
	 * call learner_logged() when it is. */
	void (*log)(void *ctx, int64_t zxid, const uint8_t *txn, size_t len);
	/* A committed txn, in zxid order. */
	void (*apply)(void *ctx, int64_t zxid, const uint8_t *txn, size_t len);
	/* UPTODATE: serve clients from now on. */
	void (*synced)(void *ctx, int64_t epoch);
	void (*failed)(void *ctx, const char *why);
	/* For the reply to the leader's PING: append (long sessionId, int timeout) for each
	 * session of this server's clients active since the last ping, so that the leader
	 * does not expire them. May be NULL (no sessions here). */
	void (*touches)(void *ctx, struct buf *out);
};

struct learner;

struct learner *learner_new(const struct learner_cfg *cfg, const struct learner_io *io);
void learner_free(struct learner *l);

/* Sends FOLLOWERINFO or OBSERVERINFO. */
void learner_start(struct learner *l);
/* Bytes from the leader (any split). 0, or -1 once failed() was called. */
int learner_input(struct learner *l, const uint8_t *p, size_t len);
/* Every txn passed to log() up to zxid is durable. */
void learner_logged(struct learner *l, int64_t zxid);
/* The time in ms on any monotonic clock; call it before learner_start and with every
 * input. Not synced within init_ms, or nothing from the leader for sync_ms once synced
 * (Apache's socket read timeouts): failed(). */
void learner_tick(struct learner *l, int64_t now_ms);

/* For 4lw and tests: "discovery", "sync", "broadcast", "failed". */
const char *learner_phase(const struct learner *l);
int64_t learner_epoch(const struct learner *l);

#endif
