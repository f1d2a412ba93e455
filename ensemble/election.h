/*
 * election: Fast Leader Election (Apache's FastLeaderElection, electionAlg=3), as a
 * deterministic state machine (../shared/spec/quorum-protocol.md §4).
 *
 * No I/O and no clock: the owner feeds it events — fle_start() when the server begins
 * looking, fle_receive() for each notification that arrives on the election port,
 * fle_timeout() when the timer it asked for fires — and carries out what it asks for
 * through struct fle_io: send a notification to a server, (re)arm the one timer, and
 * "decided". A simulator can therefore drive thousands of seeded schedules of delays,
 * losses and restarts (tests/unit/test_election.c).
 *
 * Notifications to this server itself go through send() like any other: the owner
 * delivers them back through fle_receive(), as Apache's QuorumCnxManager does for its
 * own sid. The connection layer (one TCP connection per pair, initiated by the larger
 * sid; at most one pending message per peer, re-sent after a reconnect) is the owner's.
 *
 * After deciding, the machine keeps answering: a LOOKING notification gets this server's
 * current vote (state FOLLOWING/LEADING/OBSERVING), which is how a restarted server joins
 * an ensemble that already has a leader. fle_start() begins a new round.
 */
#ifndef ZK_ELECTION_H
#define ZK_ELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum fle_state {
	FLE_LOOKING = 0,
	FLE_FOLLOWING = 1,
	FLE_LEADING = 2,
	FLE_OBSERVING = 3,
};

/* A notification as on the wire (§4.1), plus the sender's sid (known from its connection). */
struct fle_msg {
	int64_t sid;			/* sender */
	int32_t state;			/* enum fle_state */
	int64_t leader;			/* proposed or elected leader */
	int64_t zxid;			/* that leader's last zxid */
	int64_t election_epoch;		/* the sender's logical clock (round) */
	int64_t peer_epoch;		/* that leader's epoch */
	int32_t version;		/* 2; older formats decode as 0 or 1 */
	const uint8_t *config;		/* membership text, not NUL-terminated (may be NULL) */
	int32_t config_len;
};

/*
 * Decodes a notification body (without the 4-byte length of the election connection's
 * framing). Accepts, as Apache does, exactly 28 bytes (no peerEpoch: taken from the zxid),
 * exactly 40 (no version), and 40 or more with a version (above 1: then a config length and
 * the config). config points into p. 0, or -1 if the body is cut short or the config
 * length does not fit.
 */
int fle_decode(const uint8_t *p, size_t len, struct fle_msg *m);
/* Appends the 44+N-byte (version 2) form of m. */
void fle_encode(struct buf *b, const struct fle_msg *m);

struct fle_io {
	void *ctx;
	/* Send m to server `to` (to may be this server: deliver it back). */
	void (*send)(void *ctx, int64_t to, const struct fle_msg *m);
	/* Arm the election timer to fire in ms milliseconds (replacing any armed one); 0
	 * cancels it. */
	void (*timer)(void *ctx, int64_t ms);
	/* The round is over: this server is LEADING, FOLLOWING or OBSERVING leader, elected
	 * in round election_epoch with peer epoch peer_epoch and last zxid zxid. */
	void (*decided)(void *ctx, enum fle_state state, int64_t leader, int64_t zxid,
			int64_t election_epoch, int64_t peer_epoch);
};

/* Membership: the voting sids (copied). An observer is any server not among them: its
 * notifications are answered but never counted, as for any non-member. */
struct fle_members {
	const int64_t *voters;
	int nvoters;
};

struct fle;

/* Apache's timing: finalizeWait 200 ms, maxNotificationInterval 60 s. */
#define FLE_FINALIZE_WAIT_MS 200
#define FLE_MAX_NOTIFICATION_INTERVAL_MS 60000

/* config/config_len: this server's membership text, sent in every notification (copied). */
struct fle *fle_new(int64_t myid, const struct fle_members *members, const struct fle_io *io,
		    const char *config, size_t config_len);
void fle_free(struct fle *e);

/* Begins a round (lookForLeader): last_zxid is the last logged zxid (-1 for a server whose
 * database cannot be trusted yet), epoch the current (accepted) epoch. */
void fle_start(struct fle *e, int64_t last_zxid, int64_t epoch);
void fle_receive(struct fle *e, const struct fle_msg *m);
void fle_timeout(struct fle *e);

/* After a decision, the Zab layer may move on (a new epoch established): what this server
 * answers LOOKING peers with from then on. */
void fle_set_current(struct fle *e, enum fle_state state, int64_t leader, int64_t zxid,
		     int64_t peer_epoch);

enum fle_state fle_state(const struct fle *e);
int64_t fle_round(const struct fle *e);	/* the logical clock */

#endif
