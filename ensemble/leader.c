/*
 * leader.c: Zab, the leader's side (see leader.h). Quorums are majorities of the voting
 * members, the leader included; observers never count.
 */
#include "leader.h"

#include <stdlib.h>
#include <string.h>

#include "qpkt.h"

enum cstate {
	CS_NEW,			/* connected, nothing heard */
	CS_INFO,		/* FOLLOWERINFO/OBSERVERINFO in, epoch not fixed yet */
	CS_EPOCH_SENT,		/* LEADERINFO out, waiting for ACKEPOCH */
	CS_ACKED_EPOCH,		/* waiting for the epoch to be established by a quorum */
	CS_SYNCING,		/* sync and NEWLEADER out, waiting for the NEWLEADER ACK */
	CS_NEWLEADER_ACKED,	/* waiting for the quorum to form */
	CS_BROADCAST,		/* UPTODATE out */
	CS_GONE,
};

enum lphase { LP_DISCOVERY, LP_WAIT_ACKEPOCH, LP_SYNC, LP_BROADCAST };

struct lconn {
	int id;
	enum cstate st;
	int64_t sid;
	int observer;
	int vi;			/* voter index, -1 for observers and strangers */
	int64_t accepted_epoch;
	int32_t peer_epoch;	/* from ACKEPOCH: -1 if it had accepted this epoch */
	int64_t peer_zxid;
	int64_t heard_ms;	/* when its last packet arrived */
	struct buf in;
};

struct prop {
	int64_t zxid;
	uint8_t *txn;
	size_t len;
	uint8_t *acks;		/* by voter index */
};

struct leader {
	struct leader_cfg cfg;
	int64_t *voters;
	char *config;
	int self_vi;
	struct leader_io io;
	enum lphase phase;
	int64_t new_epoch;
	int64_t max_accepted;
	int64_t last_committed;
	int64_t last_proposed;
	int64_t self_logged;
	struct lconn *conns;
	int nconns;
	struct prop *out;	/* outstanding, in zxid order */
	int nout, capout;
	struct prop *done;	/* the last committed, oldest first */
	int ndone, capdone;
	struct buf tmp;
	int64_t now_ms, started_ms;
	int have_time;
	int lost;
};

/* ---- helpers ------------------------------------------------------------------------ */

static int voter_index(const struct leader *l, int64_t sid)
{
	int i;

	for (i = 0; i < l->cfg.nvoters; i++)
		if (l->voters[i] == sid)
			return i;
	return -1;
}

static struct lconn *conn_of(struct leader *l, int id)
{
	int i;

	for (i = 0; i < l->nconns; i++)
		if (l->conns[i].id == id && l->conns[i].st != CS_GONE)
			return &l->conns[i];
	return NULL;
}

static void send_pkt(struct leader *l, struct lconn *c, int32_t type, int64_t zxid,
		     const void *data, int32_t len)
{
	buf_reset(&l->tmp);
	qpkt_encode(&l->tmp, type, zxid, data, len);
	l->io.send(l->io.ctx, c->id, l->tmp.p, l->tmp.len);
}

static void drop(struct leader *l, struct lconn *c, const char *why)
{
	c->st = CS_GONE;
	buf_release(&c->in);
	l->io.drop(l->io.ctx, c->id, why);
}

/* Do the voters with a connection in state >= min (plus the leader) make a quorum?
 * epoch_acks_only: an ACKEPOCH for an epoch it had (-1) does not count; heard_ms > 0: only
 * learners heard from within that long count. */
static int quorum_at(const struct leader *l, enum cstate min, int epoch_acks_only,
		     int64_t heard_ms)
{
	uint8_t seen[256];
	int i, n = 0;

	memset(seen, 0, sizeof(seen));
	if (l->self_vi >= 0) {
		seen[l->self_vi] = 1;
		n++;
	}
	for (i = 0; i < l->nconns; i++) {
		const struct lconn *c = &l->conns[i];

		if (c->st == CS_GONE || c->st < min || c->vi < 0 || seen[c->vi])
			continue;
		if (epoch_acks_only && c->peer_epoch == -1)
			continue;
		if (heard_ms > 0 && l->now_ms - c->heard_ms > heard_ms)
			continue;
		seen[c->vi] = 1;
		n++;
	}
	return n > l->cfg.nvoters / 2;
}

static int prop_quorum(const struct leader *l, const struct prop *p)
{
	int i, n = 0;

	for (i = 0; i < l->cfg.nvoters; i++)
		n += p->acks[i] != 0;
	return n > l->cfg.nvoters / 2;
}

static int prop_init(struct leader *l, struct prop *p, int64_t zxid, const uint8_t *txn,
		     size_t len)
{
	p->zxid = zxid;
	p->len = len;
	p->txn = malloc(len ? len : 1);
	p->acks = calloc((size_t)l->cfg.nvoters, 1);
	if (!p->txn || !p->acks) {
		free(p->txn);
		free(p->acks);
		return -1;
	}
	memcpy(p->txn, txn, len);
	return 0;
}

static void prop_free(struct prop *p)
{
	free(p->txn);
	free(p->acks);
}

/* ---- sync --------------------------------------------------------------------------- */

/* Is zxid one of the kept committed txns (or the one just before the oldest kept)? */
static int in_committed_log(const struct leader *l, int64_t zxid)
{
	int i;

	for (i = 0; i < l->ndone; i++)
		if (l->done[i].zxid == zxid)
			return 1;
	return 0;
}

static void sync_learner(struct leader *l, struct lconn *c)
{
	int64_t peer = c->peer_zxid, last = l->last_committed;
	int i;

	if (peer == last) {
		send_pkt(l, c, QP_DIFF, last, NULL, -1);
	} else if (peer > last) {
		send_pkt(l, c, QP_TRUNC, last, NULL, -1);
	} else if (in_committed_log(l, peer) || (l->ndone && peer == l->done[0].zxid - 1 &&
						 (peer >> 32) == (l->done[0].zxid >> 32))) {
		send_pkt(l, c, QP_DIFF, last, NULL, -1);
		for (i = 0; i < l->ndone; i++) {
			if (l->done[i].zxid <= peer)
				continue;
			send_pkt(l, c, QP_PROPOSAL, l->done[i].zxid, l->done[i].txn,
				 (int32_t)l->done[i].len);
			send_pkt(l, c, QP_COMMIT, l->done[i].zxid, NULL, -1);
		}
	} else {
		struct buf s = BUF_INIT;

		send_pkt(l, c, QP_SNAP, last, NULL, -1);
		l->io.snapshot_stream(l->io.ctx, &s);
		buf_put_str(&s, "BenWasHere", 10);
		l->io.send(l->io.ctx, c->id, s.p, s.len);
		buf_release(&s);
	}
	/* Followers also get what is proposed and not committed yet, to ACK it. */
	if (!c->observer)
		for (i = 0; i < l->nout; i++)
			send_pkt(l, c, QP_PROPOSAL, l->out[i].zxid, l->out[i].txn,
				 (int32_t)l->out[i].len);
	send_pkt(l, c, QP_NEWLEADER, epoch_zxid(l->new_epoch), l->config,
		 (int32_t)strlen(l->config));
	c->st = CS_SYNCING;
}

/* ---- phases ------------------------------------------------------------------------- */

static void fix_epoch(struct leader *l)
{
	uint8_t ver[4];
	int i;

	l->new_epoch = (l->max_accepted > l->cfg.accepted_epoch ?
			l->max_accepted : l->cfg.accepted_epoch) + 1;
	l->cfg.accepted_epoch = l->new_epoch;
	l->io.epoch(l->io.ctx, 0, l->new_epoch);
	l->phase = LP_WAIT_ACKEPOCH;
	be32_put(ver, QP_PROTOCOL_VERSION);
	for (i = 0; i < l->nconns; i++) {
		if (l->conns[i].st == CS_INFO) {
			send_pkt(l, &l->conns[i], QP_LEADERINFO, epoch_zxid(l->new_epoch), ver, 4);
			l->conns[i].st = CS_EPOCH_SENT;
		}
	}
}

static void start_sync(struct leader *l)
{
	int i;

	l->phase = LP_SYNC;
	l->cfg.current_epoch = l->new_epoch;
	l->io.epoch(l->io.ctx, 1, l->new_epoch);
	l->last_proposed = epoch_zxid(l->new_epoch);
	for (i = 0; i < l->nconns; i++)
		if (l->conns[i].st == CS_ACKED_EPOCH)
			sync_learner(l, &l->conns[i]);
}

static void establish(struct leader *l)
{
	int i;

	l->phase = LP_BROADCAST;
	l->io.established(l->io.ctx, l->new_epoch);
	for (i = 0; i < l->nconns; i++) {
		if (l->conns[i].st == CS_NEWLEADER_ACKED) {
			send_pkt(l, &l->conns[i], QP_UPTODATE, -1, NULL, -1);
			l->conns[i].st = CS_BROADCAST;
		}
	}
}

/* Keeps a committed txn (taking p's memory) for DIFFs, dropping the oldest past the limit. */
static void keep_done(struct leader *l, struct prop *p)
{
	if (l->ndone == l->capdone) {
		if (l->ndone < LEADER_COMMITTED_KEPT) {
			int cap = l->capdone ? l->capdone * 2 : 64;
			struct prop *v = realloc(l->done, sizeof(*v) * (size_t)cap);

			if (v) {
				l->done = v;
				l->capdone = cap;
			}
		}
		if (l->ndone == l->capdone && l->ndone > 0) {
			prop_free(&l->done[0]);
			memmove(l->done, l->done + 1, sizeof(*l->done) * (size_t)--l->ndone);
		}
	}
	if (l->ndone < l->capdone)
		l->done[l->ndone++] = *p;
	else
		prop_free(p);
}

static void try_commit(struct leader *l)
{
	while (l->nout && prop_quorum(l, &l->out[0])) {
		struct prop p = l->out[0];
		int i;

		memmove(l->out, l->out + 1, sizeof(*l->out) * (size_t)--l->nout);
		l->last_committed = p.zxid;
		for (i = 0; i < l->nconns; i++) {
			struct lconn *c = &l->conns[i];

			if (c->st < CS_SYNCING || c->st == CS_GONE)
				continue;
			if (c->observer)
				send_pkt(l, c, QP_INFORM, p.zxid, p.txn, (int32_t)p.len);
			else
				send_pkt(l, c, QP_COMMIT, p.zxid, NULL, -1);
		}
		l->io.commit(l->io.ctx, p.zxid, p.txn, p.len);
		keep_done(l, &p);
	}
}

static void ack(struct leader *l, struct lconn *c, int64_t zxid)
{
	int i;

	if (c->vi < 0 || c->observer)
		return;
	for (i = 0; i < l->nout; i++) {
		if (l->out[i].zxid == zxid) {
			l->out[i].acks[c->vi] = 1;
			try_commit(l);
			return;
		}
	}
	/* An ACK for something committed already (or unknown): nothing to do. */
}

static void on_packet(struct leader *l, struct lconn *c, const struct qpkt *q)
{
	uint8_t ver[4];

	switch (c->st) {
	case CS_NEW: {
		int64_t sid, cfgver;
		int32_t proto;

		if ((q->type != QP_FOLLOWERINFO && q->type != QP_OBSERVERINFO) || !q->data ||
		    qpkt_learner_info_decode(q->data, (size_t)q->data_len, &sid, &proto, &cfgver)) {
			drop(l, c, "expected FOLLOWERINFO or OBSERVERINFO");
			return;
		}
		c->sid = sid;
		c->observer = q->type == QP_OBSERVERINFO;
		c->vi = c->observer ? -1 : voter_index(l, sid);
		if (!c->observer && c->vi < 0) {
			drop(l, c, "a follower that is not a voting member");
			return;
		}
		c->accepted_epoch = (int64_t)((uint64_t)q->zxid >> 32);
		/* A second connection from the same server replaces the first. */
		for (int i = 0; i < l->nconns; i++)
			if (&l->conns[i] != c && l->conns[i].st != CS_GONE &&
			    l->conns[i].st != CS_NEW && l->conns[i].sid == sid)
				drop(l, &l->conns[i], "replaced by a new connection");
		if (l->phase == LP_DISCOVERY) {
			if (c->accepted_epoch > l->max_accepted)
				l->max_accepted = c->accepted_epoch;
			c->st = CS_INFO;
			if (quorum_at(l, CS_INFO, 0, 0))
				fix_epoch(l);
		} else {
			be32_put(ver, QP_PROTOCOL_VERSION);
			send_pkt(l, c, QP_LEADERINFO, epoch_zxid(l->new_epoch), ver, 4);
			c->st = CS_EPOCH_SENT;
		}
		return;
	}
	case CS_EPOCH_SENT:
		if (q->type != QP_ACKEPOCH || !q->data || q->data_len < 4) {
			drop(l, c, "expected ACKEPOCH");
			return;
		}
		c->peer_epoch = be32_get(q->data);
		c->peer_zxid = q->zxid;
		if (c->peer_epoch != -1 &&
		    (c->peer_epoch > l->cfg.current_epoch ||
		     (c->peer_epoch == l->cfg.current_epoch && c->peer_zxid > l->cfg.last_zxid))) {
			drop(l, c, "the learner is ahead of the leader");
			return;
		}
		c->st = CS_ACKED_EPOCH;
		if (l->phase == LP_WAIT_ACKEPOCH) {
			if (quorum_at(l, CS_ACKED_EPOCH, 1, 0))
				start_sync(l);
		} else if (l->phase >= LP_SYNC) {
			sync_learner(l, c);
		}
		return;
	case CS_SYNCING:
		if (q->type != QP_ACK || q->zxid != epoch_zxid(l->new_epoch)) {
			drop(l, c, "expected the NEWLEADER ACK");
			return;
		}
		c->st = CS_NEWLEADER_ACKED;
		if (l->phase == LP_BROADCAST) {
			send_pkt(l, c, QP_UPTODATE, -1, NULL, -1);
			c->st = CS_BROADCAST;
		} else if (quorum_at(l, CS_NEWLEADER_ACKED, 0, 0)) {
			establish(l);
		}
		return;
	case CS_NEWLEADER_ACKED:
	case CS_BROADCAST:
		if (q->type == QP_ACK) {
			if (q->zxid != epoch_zxid(l->new_epoch))
				ack(l, c, q->zxid);
		} else if (q->type == QP_REQUEST) {
			if (!q->data || q->data_len < 16) {
				drop(l, c, "a REQUEST too short for its header");
				return;
			}
			if (l->io.request)
				l->io.request(l->io.ctx, c->id, q->data, (size_t)q->data_len);
		} else if (q->type == QP_REVALIDATE) {
			if (!q->data || q->data_len < 12) {
				drop(l, c, "a REVALIDATE too short");
				return;
			}
			if (l->io.revalidate)
				l->io.revalidate(l->io.ctx, c->id, be64_get(q->data),
						 be32_get(q->data + 8));
			else
				leader_revalidated(l, c->id, be64_get(q->data), 0);
		} else if (q->type == QP_PING) {
			int32_t i;

			/* (long sessionId, int timeout)* of the sessions its clients kept alive */
			for (i = 0; q->data && i + 12 <= q->data_len && l->io.touch; i += 12)
				l->io.touch(l->io.ctx, be64_get(q->data + i), be32_get(q->data + i + 8));
		} else {
			drop(l, c, "unexpected packet from a learner");
		}
		return;
	default:
		drop(l, c, "a packet where none was expected");
		return;
	}
}

/* ---- API ---------------------------------------------------------------------------- */

struct leader *leader_new(const struct leader_cfg *cfg, const struct leader_io *io)
{
	struct leader *l = calloc(1, sizeof(*l));
	const char *text = cfg->config ? cfg->config : "";

	if (!l)
		return NULL;
	l->cfg = *cfg;
	if (l->cfg.max_data <= 0)
		l->cfg.max_data = 0xfffff + 1024;
	l->voters = malloc(sizeof(*l->voters) * (size_t)(cfg->nvoters > 0 ? cfg->nvoters : 1));
	l->config = strdup(text);
	if (!l->voters || !l->config || cfg->nvoters > 255) {
		leader_free(l);
		return NULL;
	}
	memcpy(l->voters, cfg->voters, sizeof(*l->voters) * (size_t)cfg->nvoters);
	l->cfg.voters = l->voters;
	l->self_vi = voter_index(l, cfg->myid);
	l->io = *io;
	l->last_committed = cfg->last_zxid;
	l->last_proposed = cfg->last_zxid;
	l->self_logged = cfg->last_zxid;
	l->max_accepted = cfg->accepted_epoch;
	/* Alone a quorum (one voter): the epoch is ours to fix at once. */
	if (quorum_at(l, CS_INFO, 0, 0))
		fix_epoch(l);
	if (l->phase == LP_WAIT_ACKEPOCH && quorum_at(l, CS_ACKED_EPOCH, 1, 0))
		start_sync(l);
	if (l->phase == LP_SYNC && quorum_at(l, CS_NEWLEADER_ACKED, 0, 0))
		establish(l);
	return l;
}

void leader_free(struct leader *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->nconns; i++)
		buf_release(&l->conns[i].in);
	for (i = 0; i < l->nout; i++)
		prop_free(&l->out[i]);
	for (i = 0; i < l->ndone; i++)
		prop_free(&l->done[i]);
	free(l->conns);
	free(l->out);
	free(l->done);
	free(l->voters);
	free(l->config);
	buf_release(&l->tmp);
	free(l);
}

int leader_preload(struct leader *l, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct prop p;

	if (l->nconns || zxid > l->cfg.last_zxid ||
	    (l->ndone && zxid <= l->done[l->ndone - 1].zxid))
		return -1;
	if (prop_init(l, &p, zxid, txn, len))
		return -1;
	keep_done(l, &p);
	return 0;
}

void leader_connected(struct leader *l, int conn)
{
	struct lconn *v = realloc(l->conns, sizeof(*v) * (size_t)(l->nconns + 1));

	if (!v)
		return;
	l->conns = v;
	memset(&v[l->nconns], 0, sizeof(v[0]));
	v[l->nconns].id = conn;
	v[l->nconns].vi = -1;
	v[l->nconns].heard_ms = l->now_ms;
	l->nconns++;
}

void leader_input(struct leader *l, int conn, const uint8_t *p, size_t len)
{
	struct lconn *c = conn_of(l, conn);
	size_t off = 0;

	if (!c || l->lost)
		return;
	buf_put(&c->in, p, len);
	while (c->st != CS_GONE && off < c->in.len) {
		struct qpkt q;
		ssize_t n = qpkt_decode(c->in.p + off, c->in.len - off, l->cfg.max_data, &q);

		if (n < 0) {
			drop(l, c, "malformed packet");
			return;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		c->heard_ms = l->now_ms;
		on_packet(l, c, &q);
		if (l->lost)
			return;
		c = conn_of(l, conn);	/* on_packet may have grown or dropped connections */
		if (!c)
			return;
	}
	if (off > 0 && c->st != CS_GONE) {
		memmove(c->in.p, c->in.p + off, c->in.len - off);
		c->in.len -= off;
	}
}

void leader_disconnected(struct leader *l, int conn)
{
	struct lconn *c = conn_of(l, conn);

	if (c) {
		c->st = CS_GONE;
		buf_release(&c->in);
	}
}

int64_t leader_next_zxid(const struct leader *l)
{
	return l->last_proposed + 1;
}

int leader_propose(struct leader *l, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct prop *p;
	int i;

	if (l->lost || l->phase != LP_BROADCAST || zxid != l->last_proposed + 1)
		return -1;
	if (l->nout == l->capout) {
		int cap = l->capout ? l->capout * 2 : 64;
		struct prop *v = realloc(l->out, sizeof(*v) * (size_t)cap);

		if (!v)
			return -1;
		l->out = v;
		l->capout = cap;
	}
	p = &l->out[l->nout];
	if (prop_init(l, p, zxid, txn, len))
		return -1;
	l->nout++;
	l->last_proposed = zxid;
	for (i = 0; i < l->nconns; i++) {
		struct lconn *c = &l->conns[i];

		if (c->st >= CS_SYNCING && c->st != CS_GONE && !c->observer)
			send_pkt(l, c, QP_PROPOSAL, zxid, txn, (int32_t)len);
	}
	l->io.log(l->io.ctx, zxid, txn, len);
	return 0;
}

void leader_revalidated(struct leader *l, int conn, int64_t session, int valid)
{
	struct lconn *c = conn_of(l, conn);
	uint8_t d[9];

	if (!c || l->lost)
		return;
	be64_put(d, session);
	d[8] = valid ? 1 : 0;
	send_pkt(l, c, QP_REVALIDATE, -1, d, 9);
}

void leader_logged(struct leader *l, int64_t zxid)
{
	int i;

	if (zxid <= l->self_logged)
		return;
	l->self_logged = zxid;
	if (l->self_vi < 0)
		return;
	for (i = 0; i < l->nout && l->out[i].zxid <= zxid; i++)
		l->out[i].acks[l->self_vi] = 1;
	try_commit(l);
}

void leader_tick(struct leader *l, int64_t now_ms)
{
	int i;

	if (l->lost)
		return;
	l->now_ms = now_ms;
	if (!l->have_time) {
		l->have_time = 1;
		l->started_ms = now_ms;
		for (i = 0; i < l->nconns; i++)
			l->conns[i].heard_ms = now_ms;
		return;
	}
	if (l->phase != LP_BROADCAST) {
		if (l->cfg.init_ms > 0 && now_ms - l->started_ms > l->cfg.init_ms) {
			l->lost = 1;
			if (l->io.lost)
				l->io.lost(l->io.ctx, "no quorum established within initLimit");
		}
		return;
	}
	if (l->cfg.sync_ms <= 0)
		return;
	/* Apache's "Not sufficient followers synced": the voters heard from lately, us
	 * included, must still be a quorum. */
	if (!quorum_at(l, CS_NEWLEADER_ACKED, 0, l->cfg.sync_ms)) {
		l->lost = 1;
		if (l->io.lost)
			l->io.lost(l->io.ctx, "not sufficient followers synced, only synced with sids");
	}
}

void leader_ping(struct leader *l)
{
	int i;

	if (l->lost)
		return;
	for (i = 0; i < l->nconns; i++)
		if (l->conns[i].st == CS_BROADCAST)
			send_pkt(l, &l->conns[i], QP_PING, l->last_proposed, NULL, -1);
}

int leader_is_established(const struct leader *l)
{
	return l->phase == LP_BROADCAST;
}

int64_t leader_epoch(const struct leader *l)
{
	return l->new_epoch;
}

int64_t leader_last_committed(const struct leader *l)
{
	return l->last_committed;
}
