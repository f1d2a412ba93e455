/*
 * learner.c: Zab, the learner's side (see learner.h). The sync follows Apache 3.8's
 * Learner.syncWithLeader: until NEWLEADER, a SNAP'd learner applies commits directly (its
 * snapshot comes at NEWLEADER), a DIFF'd one keeps proposals to log at NEWLEADER and the
 * commits to apply after UPTODATE.
 */
#include "learner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "qpkt.h"

enum phase {
	PH_INIT,
	PH_DISCOVERY,		/* sent *INFO, waiting for LEADERINFO */
	PH_SYNC_START,		/* sent ACKEPOCH, waiting for DIFF / SNAP / TRUNC */
	PH_SNAP_STREAM,		/* reading the snapshot stream after SNAP */
	PH_SYNC,		/* proposals and commits until NEWLEADER / UPTODATE */
	PH_BROADCAST,
	PH_FAILED,
};

/*
 * Where a snapshot stream is: it has no length, so its end is found by walking its
 * records as they arrive, resuming where the last arrival stopped (the tree is parsed
 * once, when it is all there).
 */
enum scan_stage {
	SC_SESS_N, SC_SESS, SC_ACL_N, SC_ACL, SC_ACL_ITEM, SC_PATH, SC_NODE, SC_SIG,
};

struct snapscan {
	enum scan_stage stage;
	size_t off;
	int64_t left;		/* sessions or ACL entries still to come */
	int64_t vec;		/* ACLs of the current entry still to come */
};

/* A proposal (or an INFORM during the sync) kept until it is committed / logged. */
struct held {
	int64_t zxid;
	int committed;
	int logged;
	size_t len;
	uint8_t *txn;
};

struct learner {
	struct learner_cfg cfg;
	struct learner_io io;
	enum phase phase;
	int64_t new_epoch;
	struct buf in;
	struct buf out;

	int write_to_log;	/* Apache's writeToTxnLog */
	int snapshot_needed;
	int newleader_ack_due;	/* NEWLEADER seen; ACK once the held proposals are logged */
	int64_t newleader_zxid;
	struct snapscan scan;

	/* Proposals not yet committed (follower), or INFORMs to apply after UPTODATE. */
	struct held *held;
	int nheld, capheld;
	/* Logged and not yet ACKed (broadcast), oldest first. */
	int64_t *unacked;
	int nunacked, capunacked;
	int64_t logged;		/* highest zxid reported durable */
	int64_t last_logged;	/* highest zxid passed to log() */
	int64_t now_ms, started_ms, heard_ms;
	int have_time;
};

/* ---- helpers ------------------------------------------------------------------------ */

static void fail(struct learner *l, const char *why)
{
	if (l->phase == PH_FAILED)
		return;
	l->phase = PH_FAILED;
	l->io.failed(l->io.ctx, why);
}

static void send_pkt(struct learner *l, int32_t type, int64_t zxid, const void *data, int32_t len)
{
	buf_reset(&l->out);
	qpkt_encode(&l->out, type, zxid, data, len);
	l->io.send(l->io.ctx, l->out.p, l->out.len);
}

static int hold(struct learner *l, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct held *h;

	if (l->nheld == l->capheld) {
		int cap = l->capheld ? l->capheld * 2 : 64;
		struct held *v = realloc(l->held, sizeof(*v) * (size_t)cap);

		if (!v)
			return -1;
		l->held = v;
		l->capheld = cap;
	}
	h = &l->held[l->nheld];
	h->txn = malloc(len ? len : 1);
	if (!h->txn)
		return -1;
	memcpy(h->txn, txn, len);
	h->len = len;
	h->zxid = zxid;
	h->committed = 0;
	h->logged = 0;
	l->nheld++;
	return 0;
}

static void drop_oldest(struct learner *l)
{
	free(l->held[0].txn);
	memmove(l->held, l->held + 1, sizeof(*l->held) * (size_t)--l->nheld);
}

static void log_txn(struct learner *l, int64_t zxid, const uint8_t *txn, size_t len)
{
	if (l->nunacked == l->capunacked) {
		int cap = l->capunacked ? l->capunacked * 2 : 64;
		int64_t *v = realloc(l->unacked, sizeof(*v) * (size_t)cap);

		if (!v) {
			fail(l, "out of memory");
			return;
		}
		l->unacked = v;
		l->capunacked = cap;
	}
	l->unacked[l->nunacked++] = zxid;
	l->last_logged = zxid;
	l->io.log(l->io.ctx, zxid, txn, len);
}

/* PING back, with the sessions our clients kept alive since the last one. */
static void ping_reply(struct learner *l, int64_t zxid)
{
	struct buf t = BUF_INIT;

	if (l->io.touches)
		l->io.touches(l->io.ctx, &t);
	send_pkt(l, QP_PING, zxid, t.len ? t.p : (const uint8_t *)"", (int32_t)t.len);
	buf_release(&t);
}

/* The learner's vote of confidence: ACK(newEpoch << 32). */
static void ack_newleader(struct learner *l)
{
	l->newleader_ack_due = 0;
	send_pkt(l, QP_ACK, l->newleader_zxid, NULL, -1);
}

/* ---- the snapshot stream ------------------------------------------------------------ */

/* A jute length at p: -1..max, or -2 if malformed (allow_null: -1 is a valid value). */
static int64_t jlen(const uint8_t *p, int32_t max, int allow_null)
{
	int32_t n = be32_get(p);

	if (n < (allow_null ? -1 : 0) || n > max)
		return -2;
	return n;
}

/*
 * Walks the stream (int sessions, (long, int)*, int acls, (long index, vector<ACL>)*,
 * (ustring path, buffer data, long acl, 60-byte stat)*, "/", ustring signature) over what
 * has arrived: 1 with *end set when it is all there, 0 for more, -1 if malformed.
 */
static int snap_scan(struct snapscan *s, const uint8_t *p, size_t len, int32_t max, size_t *end)
{
	for (;;) {
		size_t o = s->off, need;
		int64_t n, m;

		switch (s->stage) {
		case SC_SESS_N:
		case SC_ACL_N:
			if (len - o < 4)
				return 0;
			n = be32_get(p + o);
			if (n < 0)
				return -1;
			s->left = n;
			s->off += 4;
			s->stage = s->stage == SC_SESS_N ? SC_SESS : SC_ACL;
			break;
		case SC_SESS:
			if (s->left == 0) {
				s->stage = SC_ACL_N;
				break;
			}
			if (len - o < 12)
				return 0;
			s->off += 12;
			s->left--;
			break;
		case SC_ACL:
			if (s->left == 0) {
				s->stage = SC_PATH;
				break;
			}
			if (len - o < 12)
				return 0;
			n = be32_get(p + o + 8);
			if (n < -1)
				return -1;
			s->vec = n > 0 ? n : 0;
			s->off += 12;
			s->left--;
			s->stage = SC_ACL_ITEM;
			break;
		case SC_ACL_ITEM:	/* int perms, ustring scheme, ustring id */
			if (s->vec == 0) {
				s->stage = SC_ACL;
				break;
			}
			if (len - o < 8)
				return 0;
			if ((n = jlen(p + o + 4, max, 1)) == -2)
				return -1;
			need = 8 + (size_t)(n > 0 ? n : 0);
			if (len - o < need + 4)
				return 0;
			if ((m = jlen(p + o + need, max, 1)) == -2)
				return -1;
			need += 4 + (size_t)(m > 0 ? m : 0);
			if (len - o < need)
				return 0;
			s->off += need;
			s->vec--;
			break;
		case SC_PATH:
			if (len - o < 4)
				return 0;
			if ((n = jlen(p + o, max, 0)) == -2)
				return -1;
			if (len - o < 4 + (size_t)n)
				return 0;
			s->off += 4 + (size_t)n;
			s->stage = n == 1 && p[o + 4] == '/' ? SC_SIG : SC_NODE;
			break;
		case SC_NODE:		/* buffer data, long acl, StatPersisted (60 bytes) */
			if (len - o < 4)
				return 0;
			if ((n = jlen(p + o, max, 1)) == -2)
				return -1;
			need = 4 + (size_t)(n > 0 ? n : 0) + 8 + 60;
			if (len - o < need)
				return 0;
			s->off += need;
			s->stage = SC_PATH;
			break;
		case SC_SIG:
			if (len - o < 4)
				return 0;
			if ((n = jlen(p + o, max, 0)) == -2)
				return -1;
			if (len - o < 4 + (size_t)n)
				return 0;
			*end = o + 4 + (size_t)n;
			return 1;
		}
	}
}

/* 1: parsed and handed over, 0: needs more bytes, -1: bad. */
static int snap_stream(struct learner *l, int64_t zxid, size_t *used)
{
	struct storage_session *sess = NULL;
	struct zk_tree *t;
	struct rd r;
	int32_t ns, i, siglen;
	const char *sig;
	size_t end;
	char err[256];
	int rc = snap_scan(&l->scan, l->in.p, l->in.len, l->cfg.max_data, &end);

	if (rc <= 0)
		return rc;
	/* All of it is here: any failure now is a bad stream. */
	rd_init(&r, l->in.p, end, 0);
	ns = rd_int(&r);
	sess = malloc(sizeof(*sess) * (size_t)(ns > 0 ? ns : 1));
	t = tree_new_empty();
	if (!sess || !t || ns < 0)
		goto bad;
	for (i = 0; i < ns; i++) {
		sess[i].id = rd_long(&r);
		sess[i].timeout = rd_int(&r);
	}
	if (r.err || tree_snap_read(t, &r, err, sizeof(err)))
		goto bad;
	sig = rd_str_ref(&r, &siglen);
	if (r.err || siglen != 10 || memcmp(sig, "BenWasHere", 10))
		goto bad;
	tree_set_last_zxid(t, zxid);
	*used = end;
	l->io.snapshot(l->io.ctx, t, sess, ns, zxid);
	return 1;
bad:
	if (t)
		tree_free(t);
	free(sess);
	return -1;
}

/* ---- packets ------------------------------------------------------------------------ */

static void on_discovery(struct learner *l, const struct qpkt *q)
{
	uint8_t ep[4];

	if (q->type != QP_LEADERINFO) {
		fail(l, "expected LEADERINFO");
		return;
	}
	l->new_epoch = (int64_t)((uint64_t)q->zxid >> 32);
	if (l->new_epoch < l->cfg.accepted_epoch) {
		fail(l, "the leader's epoch is older than one we accepted");
		return;
	}
	if (l->new_epoch > l->cfg.accepted_epoch) {
		l->cfg.accepted_epoch = l->new_epoch;
		l->io.epoch(l->io.ctx, 0, l->new_epoch);
		be32_put(ep, (int32_t)l->cfg.current_epoch);
	} else {
		be32_put(ep, -1);	/* this epoch was accepted before */
	}
	if (l->phase == PH_FAILED)
		return;
	send_pkt(l, QP_ACKEPOCH, l->cfg.last_zxid, ep, 4);
	l->phase = PH_SYNC_START;
}

static void on_sync_start(struct learner *l, const struct qpkt *q)
{
	switch (q->type) {
	case QP_DIFF:
		l->snapshot_needed = 0;
		l->write_to_log = 1;
		l->phase = PH_SYNC;
		break;
	case QP_SNAP:
		l->snapshot_needed = 1;
		l->write_to_log = 0;
		l->newleader_zxid = q->zxid;	/* the stream's zxid, until NEWLEADER */
		memset(&l->scan, 0, sizeof(l->scan));
		l->phase = PH_SNAP_STREAM;
		break;
	case QP_TRUNC:
		l->snapshot_needed = 1;
		l->write_to_log = 0;
		l->io.truncate(l->io.ctx, q->zxid);
		l->phase = PH_SYNC;
		break;
	default:
		fail(l, "expected DIFF, SNAP or TRUNC");
	}
}

static void commit_oldest(struct learner *l, int64_t zxid)
{
	if (l->nheld == 0)
		return;		/* Apache: "Committing without seeing txn", ignored */
	if (l->held[0].zxid != zxid) {
		fail(l, "COMMIT is not for the oldest proposal");
		return;
	}
	l->io.apply(l->io.ctx, zxid, l->held[0].txn, l->held[0].len);
	drop_oldest(l);
}

static void on_sync(struct learner *l, const struct qpkt *q)
{
	int i;

	switch (q->type) {
	case QP_PROPOSAL:
		if (!q->data || hold(l, q->zxid, q->data, (size_t)q->data_len))
			fail(l, "bad PROPOSAL");
		break;
	case QP_COMMIT:
		if (!l->write_to_log) {
			commit_oldest(l, q->zxid);
			break;
		}
		for (i = 0; i < l->nheld; i++)
			if (l->held[i].zxid == q->zxid)
				l->held[i].committed = 1;
		break;
	case QP_INFORM:
		if (!q->data) {
			fail(l, "bad INFORM");
		} else if (!l->write_to_log) {
			l->io.apply(l->io.ctx, q->zxid, q->data, (size_t)q->data_len);
		} else if (hold(l, q->zxid, q->data, (size_t)q->data_len) == 0) {
			l->held[l->nheld - 1].committed = 1;
		} else {
			fail(l, "out of memory");
		}
		break;
	case QP_NEWLEADER:
		l->newleader_zxid = q->zxid;
		if (l->snapshot_needed)
			l->io.persist(l->io.ctx);
		l->write_to_log = 1;
		l->cfg.current_epoch = l->new_epoch;
		l->newleader_ack_due = 1;
		if (!l->cfg.observer) {
			/* The proposals of the sync go to the log now; the ACK waits for them. */
			for (i = 0; i < l->nheld && l->phase != PH_FAILED; i++) {
				l->held[i].logged = 1;
				log_txn(l, l->held[i].zxid, l->held[i].txn, l->held[i].len);
			}
		}
		l->io.epoch(l->io.ctx, 1, l->new_epoch);
		/* ACKs now if nothing waits for the disk (the log may have been synchronous). */
		if (l->phase != PH_FAILED)
			learner_logged(l, l->logged);
		break;
	case QP_UPTODATE:
		if (l->newleader_ack_due) {
			fail(l, "UPTODATE before our NEWLEADER ACK");
			break;
		}
		l->phase = PH_BROADCAST;
		send_pkt(l, QP_ACK, epoch_zxid(l->new_epoch), NULL, -1);
		l->io.synced(l->io.ctx, l->new_epoch);
		/* Proposals that came after NEWLEADER go to the log now (Apache logs them
		 * after UPTODATE too), and get their ACKs once durable. */
		for (i = 0; !l->cfg.observer && i < l->nheld && l->phase != PH_FAILED; i++) {
			if (!l->held[i].logged) {
				l->held[i].logged = 1;
				log_txn(l, l->held[i].zxid, l->held[i].txn, l->held[i].len);
			}
		}
		/* What was committed during the sync is applied now, in order; the rest
		 * waits for its COMMIT. Observers log what they apply, and get INFORMs, not
		 * COMMITs, from here on: their uncommitted proposals go. */
		while (l->nheld && l->held[0].committed && l->phase != PH_FAILED) {
			if (l->cfg.observer)
				l->io.log(l->io.ctx, l->held[0].zxid, l->held[0].txn, l->held[0].len);
			l->io.apply(l->io.ctx, l->held[0].zxid, l->held[0].txn, l->held[0].len);
			drop_oldest(l);
		}
		while (l->cfg.observer && l->nheld)
			drop_oldest(l);
		break;
	case QP_PING:
		ping_reply(l, q->zxid);
		break;
	default:
		fail(l, "unexpected packet during the sync");
	}
}

static void on_broadcast(struct learner *l, const struct qpkt *q)
{
	switch (q->type) {
	case QP_PROPOSAL:
		if (l->cfg.observer) {
			fail(l, "a PROPOSAL sent to an observer");
		} else if (!q->data || hold(l, q->zxid, q->data, (size_t)q->data_len)) {
			fail(l, "bad PROPOSAL");
		} else {
			log_txn(l, q->zxid, q->data, (size_t)q->data_len);
		}
		break;
	case QP_COMMIT:
		commit_oldest(l, q->zxid);
		break;
	case QP_INFORM:
		if (!q->data) {
			fail(l, "bad INFORM");
			break;
		}
		l->io.log(l->io.ctx, q->zxid, q->data, (size_t)q->data_len);
		l->io.apply(l->io.ctx, q->zxid, q->data, (size_t)q->data_len);
		break;
	case QP_PING:
		ping_reply(l, q->zxid);
		break;
	case QP_SYNC:
	case QP_REVALIDATE:
		break;		/* answers to requests this learner does not send yet */
	default:
		fail(l, "unexpected packet");
	}
}

/* ---- API ---------------------------------------------------------------------------- */

struct learner *learner_new(const struct learner_cfg *cfg, const struct learner_io *io)
{
	struct learner *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cfg = *cfg;
	if (l->cfg.max_data <= 0)
		l->cfg.max_data = 0xfffff + 1024;
	l->io = *io;
	l->logged = -1;
	l->last_logged = -1;
	return l;
}

void learner_free(struct learner *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->nheld; i++)
		free(l->held[i].txn);
	free(l->held);
	free(l->unacked);
	buf_release(&l->in);
	buf_release(&l->out);
	free(l);
}

void learner_start(struct learner *l)
{
	struct buf li = BUF_INIT;

	qpkt_learner_info(&li, l->cfg.myid, QP_PROTOCOL_VERSION, l->cfg.config_version);
	send_pkt(l, l->cfg.observer ? QP_OBSERVERINFO : QP_FOLLOWERINFO,
		 epoch_zxid(l->cfg.accepted_epoch), li.p, (int32_t)li.len);
	buf_release(&li);
	l->phase = PH_DISCOVERY;
}

int learner_input(struct learner *l, const uint8_t *p, size_t len)
{
	size_t off = 0;

	if (l->phase == PH_FAILED)
		return -1;
	l->heard_ms = l->now_ms;
	buf_put(&l->in, p, len);
	if (l->in.oom) {
		fail(l, "out of memory");
		return -1;
	}
	while (l->phase != PH_FAILED && off < l->in.len) {
		struct qpkt q;
		ssize_t n;

		if (l->phase == PH_SNAP_STREAM) {
			size_t used = 0;
			int r;

			/* The stream is parsed from the start of the buffer. */
			if (off > 0) {
				memmove(l->in.p, l->in.p + off, l->in.len - off);
				l->in.len -= off;
				off = 0;
			}
			r = snap_stream(l, l->newleader_zxid, &used);
			if (r < 0) {
				fail(l, "bad snapshot stream");
				break;
			}
			if (r == 0)
				break;
			off = used;
			l->phase = PH_SYNC;
			continue;
		}
		n = qpkt_decode(l->in.p + off, l->in.len - off, l->cfg.max_data, &q);
		if (n < 0) {
			fail(l, "malformed packet");
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		switch (l->phase) {
		case PH_DISCOVERY:
			on_discovery(l, &q);
			break;
		case PH_SYNC_START:
			on_sync_start(l, &q);
			break;
		case PH_SYNC:
			on_sync(l, &q);
			break;
		case PH_BROADCAST:
			on_broadcast(l, &q);
			break;
		default:
			fail(l, "a packet before learner_start");
			break;
		}
	}
	if (l->phase == PH_FAILED)
		return -1;
	if (off > 0) {
		memmove(l->in.p, l->in.p + off, l->in.len - off);
		l->in.len -= off;
	}
	return 0;
}

void learner_logged(struct learner *l, int64_t zxid)
{
	int i, n = 0;

	if (l->phase == PH_FAILED)
		return;
	if (zxid > l->logged)
		l->logged = zxid;
	/* The leader reads the NEWLEADER ACK as the first ACK after NEWLEADER: the
	 * proposals' own ACKs wait behind it. */
	if (l->newleader_ack_due) {
		if (l->logged < l->last_logged)
			return;
		ack_newleader(l);
	}
	/* Each proposal gets its own ACK: the leader counts them per zxid. */
	for (i = 0; i < l->nunacked && l->unacked[i] <= l->logged; i++)
		send_pkt(l, QP_ACK, l->unacked[i], NULL, -1);
	n = i;
	if (n > 0)
		memmove(l->unacked, l->unacked + n,
			sizeof(*l->unacked) * (size_t)(l->nunacked - n));
	l->nunacked -= n;
}

void learner_tick(struct learner *l, int64_t now_ms)
{
	if (l->phase == PH_FAILED)
		return;
	l->now_ms = now_ms;
	if (!l->have_time) {
		l->have_time = 1;
		l->started_ms = l->heard_ms = now_ms;
		return;
	}
	if (l->phase != PH_BROADCAST) {
		if (l->cfg.init_ms > 0 && now_ms - l->started_ms > l->cfg.init_ms)
			fail(l, "not synced with the leader within initLimit");
	} else if (l->cfg.sync_ms > 0 && now_ms - l->heard_ms > l->cfg.sync_ms) {
		fail(l, "nothing from the leader within syncLimit");
	}
}

const char *learner_phase(const struct learner *l)
{
	switch (l->phase) {
	case PH_INIT:
	case PH_DISCOVERY:
		return "discovery";
	case PH_SYNC_START:
	case PH_SNAP_STREAM:
	case PH_SYNC:
		return "sync";
	case PH_BROADCAST:
		return "broadcast";
	default:
		return "failed";
	}
}

int64_t learner_epoch(const struct learner *l)
{
	return l->new_epoch;
}
