/*
 * leader: the leader's side of Zab (Apache's Leader / LearnerHandler;
 * ../shared/spec/quorum-protocol.md §5) as a state machine, the counterpart of learner.c.
 * Learner connections are numbered by the owner; their bytes go in with leader_input(),
 * and what to do comes out through struct leader_io. No sockets, files or clock.
 *
 *   discovery   FOLLOWERINFO/OBSERVERINFO from a quorum of voters (the leader counts):
 *               new epoch = 1 + the largest accepted epoch; LEADERINFO; ACKEPOCH from a
 *               quorum (a learner ahead of the leader is dropped)
 *   sync        per learner: DIFF (+ PROPOSAL/COMMIT of what it misses, from the last
 *               LEADER_COMMITTED_KEPT committed txns), TRUNC, or SNAP + snapshot stream;
 *               then the outstanding proposals, NEWLEADER; established once a quorum
 *               ACKed NEWLEADER, then UPTODATE
 *   broadcast   leader_propose(): PROPOSAL to followers; a txn commits when a quorum of
 *               voters (the leader after its own log) ACKed it and everything before it
 *               committed: COMMIT to followers, INFORM to observers, commit() here
 */
#ifndef ZK_LEADER_H
#define ZK_LEADER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define LEADER_COMMITTED_KEPT 500

struct leader_cfg {
	int64_t myid;
	const int64_t *voters;
	int nvoters;
	int64_t accepted_epoch;
	int64_t current_epoch;
	int64_t last_zxid;		/* the leader's last logged (and committed) zxid */
	const char *config;		/* membership text for NEWLEADER */
	int32_t max_data;		/* jute.maxbuffer + 1024 */
	int64_t init_ms;		/* initLimit * tickTime: to get established (0: none) */
	int64_t sync_ms;		/* syncLimit * tickTime: a learner silent this long does
					 * not count for the quorum (0: never checked) */
};

struct leader_io {
	void *ctx;
	void (*send)(void *ctx, int conn, const uint8_t *p, size_t len);
	/* Close that connection (a protocol error, or a learner ahead of us); no more input
	 * or sends for it. */
	void (*drop)(void *ctx, int conn, const char *why);
	/* Persist acceptedEpoch (which 0) or currentEpoch (which 1). */
	void (*epoch)(void *ctx, int which, int64_t epoch);
	/* Appends the database as a snapshot stream (int sessions, (long id, int timeout)*,
	 * tree body) at the leader's last committed zxid; the leader adds "BenWasHere". */
	void (*snapshot_stream)(void *ctx, struct buf *out);
	/* Log a proposal of ours durably, then call leader_logged(). */
	void (*log)(void *ctx, int64_t zxid, const uint8_t *txn, size_t len);
	/* A quorum has it: apply and answer, in zxid order. */
	void (*commit)(void *ctx, int64_t zxid, const uint8_t *txn, size_t len);
	/* A quorum synced with the new epoch: serve. */
	void (*established)(void *ctx, int64_t epoch);
	/* A learner forwarded a client request (REQUEST: long sessionId, int cxid, int type,
	 * then the request's body): the owner turns it into a txn and proposes it. May be
	 * NULL (requests are then ignored). */
	void (*request)(void *ctx, int conn, const uint8_t *data, size_t len);
	/* A learner asks whether a client's session may move to it (REVALIDATE: long
	 * sessionId, int timeout): the owner answers with leader_revalidated(). May be NULL
	 * (then every session is refused). */
	void (*revalidate)(void *ctx, int conn, int64_t session, int32_t timeout);
	/* A learner's PING reply touched a session of one of its clients (the owner's session
	 * tracker resets its expiry). May be NULL. */
	void (*touch)(void *ctx, int64_t session, int32_t timeout);
	/* Leadership is over (no quorum established within init_ms, or fewer than a quorum of
	 * voters heard from within sync_ms): go back to looking. Nothing is called after it. */
	void (*lost)(void *ctx, const char *why);
};

struct leader;

struct leader *leader_new(const struct leader_cfg *cfg, const struct leader_io *io);
void leader_free(struct leader *l);

/* Before any learner connects: a txn of the leader's own history (committed, at most
 * cfg.last_zxid, in increasing order), kept for DIFFs; the last LEADER_COMMITTED_KEPT
 * count. A leader after an election preloads the tail of its log. 0, or -1 (out of
 * order, or out of memory). */
int leader_preload(struct leader *l, int64_t zxid, const uint8_t *txn, size_t len);

void leader_connected(struct leader *l, int conn);
void leader_input(struct leader *l, int conn, const uint8_t *p, size_t len);
void leader_disconnected(struct leader *l, int conn);

/* Broadcast (after established): the zxid for the next txn, then the txn (its payload as
 * in the txn log: TxnHeader with that zxid + record + digest). 0, or -1 if not leading. */
int64_t leader_next_zxid(const struct leader *l);
int leader_propose(struct leader *l, int64_t zxid, const uint8_t *txn, size_t len);
/* The answer to a revalidate() question. */
void leader_revalidated(struct leader *l, int conn, int64_t session, int valid);
/* Our own log is durable up to zxid: our ACKs. */
void leader_logged(struct leader *l, int64_t zxid);

/* PING(last proposed zxid) to every learner past its sync: the owner calls it every
 * tickTime/2, as Apache's leader does (a learner that hears nothing for syncLimit ticks
 * gives up on its leader). */
void leader_ping(struct leader *l);
/* The time, in ms on any monotonic clock (also pass it before the first input): checks
 * init_ms and sync_ms. Call it with every ping. */
void leader_tick(struct leader *l, int64_t now_ms);

int leader_is_established(const struct leader *l);
int64_t leader_epoch(const struct leader *l);
int64_t leader_last_committed(const struct leader *l);

#endif
