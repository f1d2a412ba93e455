/*
 * election.c: Fast Leader Election as a state machine (see election.h). The structure
 * follows Apache's lookForLeader and its WorkerReceiver, which answers notifications in
 * every state; the quorum is a majority of the voting members (QuorumMaj).
 */
#include "election.h"

#include <stdlib.h>
#include <string.h>

/* A vote as FastLeaderElection keeps it in recvset / outofelection. */
struct vote {
	int set;
	int32_t state;
	int32_t version;
	int64_t leader, zxid, election_epoch, peer_epoch;
};

struct fle {
	int64_t myid;
	int voter;			/* myid is a voting member */
	int64_t *voters;
	int nvoters;
	struct fle_io io;
	char *config;
	int32_t config_len;

	enum fle_state state;
	int64_t logicalclock;
	int64_t init_id, init_zxid, init_epoch;	/* this server's own vote, for the round */
	int64_t prop_leader, prop_zxid, prop_epoch;
	struct vote *recvset;		/* by voter index */
	struct vote *outofelection;	/* by voter index */
	int finalizing;			/* a quorum agrees: waiting finalizeWait for better */
	int64_t not_timeout;
	struct vote current;		/* after deciding: what LOOKING peers are told */
};

/* ---- wire --------------------------------------------------------------------------- */

int fle_decode(const uint8_t *p, size_t len, struct fle_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len < 28)
		return -1;
	m->state = be32_get(p);
	m->leader = be64_get(p + 4);
	m->zxid = be64_get(p + 12);
	m->election_epoch = be64_get(p + 20);
	if (len == 28) {
		/* Before peerEpoch existed: the proposed leader's epoch is its zxid's. */
		m->peer_epoch = (int64_t)((uint64_t)m->zxid >> 32);
		return 0;
	}
	if (len < 36)
		return -1;
	m->peer_epoch = be64_get(p + 28);
	if (len == 40)
		return 0;	/* the 40-byte form: no version */
	if (len < 40)
		return -1;
	m->version = be32_get(p + 36);
	if (m->version <= 1)
		return 0;
	if (len < 44)
		return -1;
	m->config_len = be32_get(p + 40);
	if (m->config_len < 0 || (size_t)m->config_len > len - 44)
		return -1;
	m->config = p + 44;
	return 0;
}

void fle_encode(struct buf *b, const struct fle_msg *m)
{
	buf_put_int(b, m->state);
	buf_put_long(b, m->leader);
	buf_put_long(b, m->zxid);
	buf_put_long(b, m->election_epoch);
	buf_put_long(b, m->peer_epoch);
	buf_put_int(b, 2);
	buf_put_int(b, m->config_len);
	if (m->config_len > 0)
		buf_put(b, m->config, (size_t)m->config_len);
}

/* ---- helpers ------------------------------------------------------------------------ */

static int voter_index(const struct fle *e, int64_t sid)
{
	int i;

	for (i = 0; i < e->nvoters; i++)
		if (e->voters[i] == sid)
			return i;
	return -1;
}

/* Apache's totalOrderPredicate: does (id, zxid, epoch) beat (cid, czxid, cepoch)? Only a
 * voting member can win. */
static int beats(const struct fle *e, int64_t id, int64_t zxid, int64_t epoch, int64_t cid,
		 int64_t czxid, int64_t cepoch)
{
	if (voter_index(e, id) < 0)
		return 0;
	return epoch > cepoch || (epoch == cepoch && (zxid > czxid || (zxid == czxid && id > cid)));
}

/* Vote.equals: LOOKING votes compare everything; established ones the leader (and its
 * epoch, unless only one side is a pre-version-1 notification). */
static int vote_eq(const struct vote *a, const struct vote *b)
{
	if (a->state == FLE_LOOKING || b->state == FLE_LOOKING)
		return a->leader == b->leader && a->zxid == b->zxid &&
		       a->election_epoch == b->election_epoch && a->peer_epoch == b->peer_epoch;
	if ((a->version > 0) != (b->version > 0))
		return a->leader == b->leader;
	return a->leader == b->leader && a->peer_epoch == b->peer_epoch;
}

static int has_quorum(const struct fle *e, const struct vote *set, const struct vote *v)
{
	int i, n = 0;

	for (i = 0; i < e->nvoters; i++)
		if (set[i].set && vote_eq(&set[i], v))
			n++;
	return n > e->nvoters / 2;
}

static struct vote vote_of(const struct fle_msg *m)
{
	struct vote v = { 1, m->state, m->version, m->leader, m->zxid, m->election_epoch,
			  m->peer_epoch };

	return v;
}

static void send_vote(struct fle *e, int64_t to, enum fle_state state, int64_t leader,
		      int64_t zxid, int64_t election_epoch, int64_t peer_epoch)
{
	struct fle_msg m = { e->myid, (int32_t)state, leader, zxid, election_epoch, peer_epoch, 2,
			     (const uint8_t *)e->config, e->config_len };

	e->io.send(e->io.ctx, to, &m);
}

static void send_notifications(struct fle *e)
{
	int i;

	for (i = 0; i < e->nvoters; i++)
		send_vote(e, e->voters[i], FLE_LOOKING, e->prop_leader, e->prop_zxid,
			  e->logicalclock, e->prop_epoch);
}

static void clear_votes(struct fle *e)
{
	memset(e->recvset, 0, sizeof(*e->recvset) * (size_t)e->nvoters);
	memset(e->outofelection, 0, sizeof(*e->outofelection) * (size_t)e->nvoters);
}

static void decide(struct fle *e, int64_t leader, int64_t zxid, int64_t election_epoch,
		   int64_t peer_epoch)
{
	enum fle_state st = leader == e->myid ? FLE_LEADING :
			    e->voter ? FLE_FOLLOWING : FLE_OBSERVING;
	struct vote v = { 1, (int32_t)st, 2, leader, zxid, election_epoch, peer_epoch };

	e->state = st;
	e->current = v;
	e->finalizing = 0;
	clear_votes(e);
	e->io.timer(e->io.ctx, 0);
	e->io.decided(e->io.ctx, st, leader, zxid, election_epoch, peer_epoch);
}

/* checkLeader: a leader other than us must itself say LEADING in the set; if it is us,
 * the round must be ours. */
static int leader_confirmed(const struct fle *e, const struct vote *set, int64_t leader,
			    int64_t election_epoch)
{
	int i;

	if (leader == e->myid)
		return e->logicalclock == election_epoch;
	i = voter_index(e, leader);
	return i >= 0 && set[i].set && set[i].state == FLE_LEADING;
}

/* ---- the machine -------------------------------------------------------------------- */

struct fle *fle_new(int64_t myid, const struct fle_members *members, const struct fle_io *io,
		    const char *config, size_t config_len)
{
	struct fle *e = calloc(1, sizeof(*e));
	int n = members->nvoters > 0 ? members->nvoters : 1;

	if (!e)
		return NULL;
	e->myid = myid;
	e->io = *io;
	e->voters = malloc(sizeof(*e->voters) * (size_t)n);
	e->recvset = calloc((size_t)n, sizeof(*e->recvset));
	e->outofelection = calloc((size_t)n, sizeof(*e->outofelection));
	e->config = malloc(config_len + 1);
	if (!e->voters || !e->recvset || !e->outofelection || !e->config ||
	    config_len > INT32_MAX) {
		fle_free(e);
		return NULL;
	}
	memcpy(e->voters, members->voters, sizeof(*e->voters) * (size_t)members->nvoters);
	e->nvoters = members->nvoters;
	memcpy(e->config, config, config_len);
	e->config_len = (int32_t)config_len;
	e->voter = voter_index(e, myid) >= 0;
	e->state = FLE_LOOKING;
	return e;
}

void fle_free(struct fle *e)
{
	if (!e)
		return;
	free(e->voters);
	free(e->recvset);
	free(e->outofelection);
	free(e->config);
	free(e);
}

enum fle_state fle_state(const struct fle *e)
{
	return e->state;
}

int64_t fle_round(const struct fle *e)
{
	return e->logicalclock;
}

void fle_start(struct fle *e, int64_t last_zxid, int64_t epoch)
{
	e->state = FLE_LOOKING;
	e->logicalclock++;
	clear_votes(e);
	e->finalizing = 0;
	if (e->voter) {
		e->init_id = e->myid;
		e->init_zxid = last_zxid;
		e->init_epoch = epoch;
	} else {
		/* Observers propose a vote that can never win. */
		e->init_id = e->init_zxid = e->init_epoch = INT64_MIN;
	}
	e->prop_leader = e->init_id;
	e->prop_zxid = e->init_zxid;
	e->prop_epoch = e->init_epoch;
	e->not_timeout = FLE_FINALIZE_WAIT_MS;
	send_notifications(e);
	e->io.timer(e->io.ctx, e->not_timeout);
}

void fle_set_current(struct fle *e, enum fle_state state, int64_t leader, int64_t zxid,
		     int64_t peer_epoch)
{
	e->state = state;
	e->current.set = 1;
	e->current.state = (int32_t)state;
	e->current.leader = leader;
	e->current.zxid = zxid;
	e->current.peer_epoch = peer_epoch;
}

/* A notification from a server that is FOLLOWING or LEADING: receivedFollowingNotification. */
static void from_established(struct fle *e, const struct fle_msg *m, int si)
{
	struct vote v = vote_of(m);

	if (m->election_epoch == e->logicalclock) {
		e->recvset[si] = v;
		if (has_quorum(e, e->recvset, &v) &&
		    leader_confirmed(e, e->recvset, m->leader, m->election_epoch)) {
			decide(e, m->leader, m->zxid, m->election_epoch, m->peer_epoch);
			return;
		}
	}
	/* Servers that decided in another round: how a restarted server joins. */
	e->outofelection[si] = v;
	if (has_quorum(e, e->outofelection, &v) &&
	    leader_confirmed(e, e->outofelection, m->leader, m->election_epoch)) {
		e->logicalclock = m->election_epoch;
		decide(e, m->leader, m->zxid, m->election_epoch, m->peer_epoch);
	}
}

static void from_looking(struct fle *e, const struct fle_msg *m, int si)
{
	struct vote mine;

	if (e->init_zxid == -1 || m->zxid == -1)
		return;		/* an empty, untrusted database takes no part */
	if (m->election_epoch > e->logicalclock) {
		e->logicalclock = m->election_epoch;
		clear_votes(e);
		if (beats(e, m->leader, m->zxid, m->peer_epoch, e->init_id, e->init_zxid,
			  e->init_epoch)) {
			e->prop_leader = m->leader;
			e->prop_zxid = m->zxid;
			e->prop_epoch = m->peer_epoch;
		} else {
			e->prop_leader = e->init_id;
			e->prop_zxid = e->init_zxid;
			e->prop_epoch = e->init_epoch;
		}
		send_notifications(e);
	} else if (m->election_epoch < e->logicalclock) {
		return;
	} else if (beats(e, m->leader, m->zxid, m->peer_epoch, e->prop_leader, e->prop_zxid,
			 e->prop_epoch)) {
		e->prop_leader = m->leader;
		e->prop_zxid = m->zxid;
		e->prop_epoch = m->peer_epoch;
		send_notifications(e);
	}
	e->recvset[si] = vote_of(m);
	e->recvset[si].state = FLE_LOOKING;
	mine = (struct vote){ 1, FLE_LOOKING, 2, e->prop_leader, e->prop_zxid, e->logicalclock,
			      e->prop_epoch };
	if (has_quorum(e, e->recvset, &mine)) {
		/* Wait finalizeWait for a better vote before deciding. */
		e->finalizing = 1;
		e->io.timer(e->io.ctx, FLE_FINALIZE_WAIT_MS);
	}
}

void fle_receive(struct fle *e, const struct fle_msg *m)
{
	int si = voter_index(e, m->sid);

	/* WorkerReceiver: a non-member is told our current vote and nothing more. */
	if (si < 0) {
		if (e->state == FLE_LOOKING)
			send_vote(e, m->sid, e->state, e->prop_leader, e->prop_zxid,
				  e->logicalclock, e->prop_epoch);
		else
			send_vote(e, m->sid, e->state, e->current.leader, e->current.zxid,
				  e->logicalclock, e->current.peer_epoch);
		return;
	}
	if (e->state != FLE_LOOKING) {
		/* Decided: a LOOKING peer is told who leads (the round that elected it). */
		if (m->state == FLE_LOOKING)
			send_vote(e, m->sid, e->state, e->current.leader, e->current.zxid,
				  e->current.election_epoch, e->current.peer_epoch);
		return;
	}
	/* A LOOKING peer behind our round is told our proposal, so it catches up. */
	if (m->state == FLE_LOOKING && m->election_epoch < e->logicalclock)
		send_vote(e, m->sid, FLE_LOOKING, e->prop_leader, e->prop_zxid, e->logicalclock,
			  e->prop_epoch);
	if (e->finalizing) {
		/* Only a better vote interrupts the final wait; anything else is dropped. */
		if (!beats(e, m->leader, m->zxid, m->peer_epoch, e->prop_leader, e->prop_zxid,
			   e->prop_epoch))
			return;
		e->finalizing = 0;
	}
	if (voter_index(e, m->leader) < 0)
		goto rearm;	/* a proposed leader that is not a voting member */
	switch (m->state) {
	case FLE_LOOKING:
		from_looking(e, m, si);
		break;
	case FLE_FOLLOWING:
	case FLE_LEADING:
		from_established(e, m, si);
		break;
	default:
		break;		/* OBSERVING: nothing to learn */
	}
	if (e->state != FLE_LOOKING || e->finalizing)
		return;
rearm:
	/* Apache polls its queue again with the same timeout after every message. */
	e->io.timer(e->io.ctx, e->not_timeout);
}

void fle_timeout(struct fle *e)
{
	if (e->state != FLE_LOOKING)
		return;
	if (e->finalizing) {
		decide(e, e->prop_leader, e->prop_zxid, e->logicalclock, e->prop_epoch);
		return;
	}
	send_notifications(e);
	e->not_timeout = e->not_timeout * 2 < FLE_MAX_NOTIFICATION_INTERVAL_MS ?
		e->not_timeout * 2 : FLE_MAX_NOTIFICATION_INTERVAL_MS;
	e->io.timer(e->io.ctx, e->not_timeout);
}
