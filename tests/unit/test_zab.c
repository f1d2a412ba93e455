/*
 * Zab end to end between our leader (ensemble/leader.c) and our learners
 * (ensemble/learner.c), in a seeded simulator: byte streams split at random, deliveries
 * interleaved at random, logs that become durable at random moments, learners that join
 * late (DIFF or SNAP) and followers that drop and come back. Checked:
 *  - the leader commits a txn only when a quorum of voters has it durably logged;
 *  - every learner applies exactly the leader's committed sequence, and in the end every
 *    replica equals the leader's tree.
 * ZAB_SEEDS=N for more than the default 400.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "datatree.h"
#include "leader.h"
#include "learner.h"
#include "qpkt.h"
#include "txn.h"
#include "zkproto.h"

#define MAXN 8
#define MAXTXN 400

/* Over all seeds: how the learners were synced. */
static int64_t total_truncs, total_snaps, total_history_runs;

struct pipe {
	struct buf b;
};

struct node;

struct sim {
	uint64_t rng;
	int n, nvoters;		/* node 0 leads; nodes < nvoters vote */
	int64_t voters[MAXN];
	struct node *nodes[MAXN];
	struct leader *leader;
	struct zk_tree *ltree;
	int64_t committed[MAXTXN + 16];
	int ncommitted;
	int64_t proposed;
	int64_t leader_logged_to, leader_log_pending;
	uint8_t durable[MAXTXN + 16][MAXN];	/* [txn index][node] logged durably */
	int established;
	int lost;
	int history;		/* txns the leader starts with (epoch 1, committed) */
	int truncs, diffs;
	int touched[MAXN];	/* sessions touched through each learner's PING replies */
	uint64_t seed;
};

struct node {
	struct sim *s;
	int idx;
	int observer;
	int up;			/* connected */
	int gen;		/* connection generation (conn id = idx * 1000 + gen) */
	struct learner *l;
	struct pipe to_leader, from_leader;
	struct zk_tree *tree;
	int64_t applied;	/* last applied zxid */
	int napplied_seq;	/* how far into s->committed it has applied */
	int64_t log_pending;	/* highest zxid passed to log(), not yet durable */
	int64_t log_durable;
	int64_t accepted, current;
	int synced;
	int64_t ahead;		/* > 0: its log runs past the leader's history to here, uncommitted */
};

static uint64_t rnd(struct sim *s)
{
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int tindex(int64_t zxid)
{
	return (int)(zxid & 0xffffffff);
}

static void open_acl(struct zk_acl_list *a)
{
	a->n = 1;
	a->packed = 0;
	a->v = calloc(1, sizeof(*a->v));
	a->v[0].perms = ZPERM_ALL;
	a->v[0].id.scheme = strdup("world");
	a->v[0].id.id = strdup("anyone");
}

static void mk_txn(struct buf *b, int64_t zxid)
{
	struct zk_txn t;
	struct zk_txn_op *o;
	char path[64];

	memset(&t, 0, sizeof(t));
	t.hdr.client_id = 0x100;
	t.hdr.cxid = (int32_t)zxid;
	t.hdr.zxid = zxid;
	t.hdr.time = 1700000000000LL + zxid;
	t.hdr.type = ZOP_CREATE;
	o = txn_add_op(&t);
	snprintf(path, sizeof(path), "/n%lld", (long long)tindex(zxid));
	o->type = ZOP_CREATE;
	o->path = strdup(path);
	o->data = (uint8_t *)strdup("data");
	o->data_len = 4;
	open_acl(&o->acl);
	o->parent_cversion = -1;
	txn_encode(&t, b);
	txn_release(&t);
}

static void apply_to(struct zk_tree *tree, const uint8_t *p, size_t len)
{
	struct zk_txn t;
	struct zk_resp r;

	assert_int_equal(txn_decode(&t, p, len), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tree_apply(tree, &t, &r, NULL, NULL), 0);
	zk_resp_release(&r);
	txn_release(&t);
}

/* ---- the leader's io ---------------------------------------------------------------- */

static struct node *node_of_conn(struct sim *s, int conn)
{
	struct node *n = s->nodes[conn / 1000];

	return n && n->up && n->gen == conn % 1000 ? n : NULL;
}

static void l_send(void *ctx, int conn, const uint8_t *p, size_t len)
{
	struct node *n = node_of_conn(ctx, conn);

	if (n)
		buf_put(&n->from_leader.b, p, len);
}

static void l_drop(void *ctx, int conn, const char *why)
{
	struct sim *s = ctx;

	fail_msg("seed %llu: the leader dropped node %d: %s", (unsigned long long)s->seed,
		 conn / 1000, why);
}

static void l_epoch(void *ctx, int which, int64_t e)
{
}

static void l_stream(void *ctx, struct buf *out)
{
	struct sim *s = ctx;

	buf_put_int(out, 0);
	tree_snap_write(s->ltree, out);
}

static void l_log(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct sim *s = ctx;

	s->leader_log_pending = zxid;
}

static void l_commit(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct sim *s = ctx;
	int i, n = 0;

	/* Safety: a quorum of voters has it on disk. */
	for (i = 0; i < s->nvoters; i++)
		n += s->durable[tindex(zxid)][i];
	if (n <= s->nvoters / 2)
		fail_msg("seed %llu: 0x%llx committed with %d of %d voters logged",
			 (unsigned long long)s->seed, (unsigned long long)zxid, n, s->nvoters);
	assert_true(s->ncommitted < MAXTXN + 16);
	s->committed[s->ncommitted++] = zxid;
	apply_to(s->ltree, txn, len);
}

static void l_established(void *ctx, int64_t epoch)
{
	((struct sim *)ctx)->established = 1;
}

static void l_touch(void *ctx, int64_t session, int32_t timeout)
{
	struct sim *s = ctx;

	assert_true(session >= 0x1000 && session < 0x1000 + MAXN);
	assert_int_equal(timeout, 30000);
	s->touched[session - 0x1000]++;
}

static void l_lost(void *ctx, const char *why)
{
	((struct sim *)ctx)->lost++;
}

/* ---- a learner's io ----------------------------------------------------------------- */

static void n_send(void *ctx, const uint8_t *p, size_t len)
{
	buf_put(&((struct node *)ctx)->to_leader.b, p, len);
}

static void n_epoch(void *ctx, int which, int64_t e)
{
	struct node *n = ctx;

	if (which)
		n->current = e;
	else
		n->accepted = e;
}

static void n_snapshot(void *ctx, struct zk_tree *t, struct storage_session *ss, int32_t ns,
		       int64_t zxid)
{
	struct node *n = ctx;
	struct sim *s = n->s;
	int i;

	tree_free(n->tree);
	n->tree = t;
	free(ss);
	n->applied = zxid;
	total_snaps++;
	/* It now holds everything the leader had committed up to zxid. */
	for (i = 0; i < s->ncommitted && s->committed[i] <= zxid; i++)
		;
	n->napplied_seq = i;
}

static void n_persist(void *ctx)
{
}

static void n_truncate(void *ctx, int64_t zxid)
{
	struct node *n = ctx;

	/* Only an uncommitted tail may go: never below what it applied. */
	if (!n->ahead || zxid < n->applied)
		fail_msg("seed %llu: TRUNC to 0x%llx for node %d (applied 0x%llx)",
			 (unsigned long long)n->s->seed, (unsigned long long)zxid, n->idx,
			 (unsigned long long)n->applied);
	n->ahead = 0;
	n->s->truncs++;
	total_truncs++;
}

static void n_log(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	((struct node *)ctx)->log_pending = zxid;
}

static void n_apply(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct node *n = ctx;
	struct sim *s = n->s;

	/* Exactly the leader's sequence, in order. */
	if (n->napplied_seq >= s->ncommitted || s->committed[n->napplied_seq] != zxid)
		fail_msg("seed %llu: node %d applied 0x%llx, expected 0x%llx",
			 (unsigned long long)s->seed, n->idx, (unsigned long long)zxid,
			 (unsigned long long)(n->napplied_seq < s->ncommitted ?
					      s->committed[n->napplied_seq] : -1));
	n->napplied_seq++;
	n->applied = zxid;
	apply_to(n->tree, txn, len);
}

static void n_synced(void *ctx, int64_t epoch)
{
	((struct node *)ctx)->synced = 1;
}

/* Each learner has one client session, 0x1000 + its index. */
static void n_touches(void *ctx, struct buf *out)
{
	struct node *n = ctx;

	buf_put_long(out, 0x1000 + n->idx);
	buf_put_int(out, 30000);
}

static void n_failed(void *ctx, const char *why)
{
	struct node *n = ctx;

	fail_msg("seed %llu: node %d failed: %s", (unsigned long long)n->s->seed, n->idx, why);
}

/* ---- the simulation ----------------------------------------------------------------- */

static void node_connect(struct sim *s, struct node *n)
{
	struct learner_io io = { n, n_send, n_epoch, n_snapshot, n_persist, n_truncate,
				 n_log, n_apply, n_synced, n_failed, n_touches };
	struct learner_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = n->idx + 1;
	cfg.observer = n->observer;
	cfg.accepted_epoch = n->accepted;
	cfg.current_epoch = n->current;
	cfg.last_zxid = n->ahead ? n->ahead : n->applied;
	learner_free(n->l);
	n->l = learner_new(&cfg, &io);
	assert_non_null(n->l);
	n->gen++;
	n->up = 1;
	n->synced = 0;
	n->log_pending = n->log_durable = -1;
	buf_reset(&n->to_leader.b);
	buf_reset(&n->from_leader.b);
	leader_connected(s->leader, n->idx * 1000 + n->gen);
	learner_start(n->l);
}

static void node_disconnect(struct sim *s, struct node *n)
{
	leader_disconnected(s->leader, n->idx * 1000 + n->gen);
	n->up = 0;
	buf_reset(&n->to_leader.b);
	buf_reset(&n->from_leader.b);
}

/* Moves a random prefix of a pipe. */
static size_t chunk(struct sim *s, struct pipe *p)
{
	size_t n;

	if (!p->b.len)
		return 0;
	n = 1 + (size_t)(rnd(s) % (p->b.len < 300 ? p->b.len : 300));
	return n;
}

static void pop(struct pipe *p, size_t n)
{
	memmove(p->b.p, p->b.p + n, p->b.len - n);
	p->b.len -= n;
}

/* One random step; 0 when nothing was left to do. */
static int step(struct sim *s, int may_churn)
{
	int k = (int)(rnd(s) % 8), i;
	struct node *n = s->nodes[1 + (int)(rnd(s) % (uint64_t)(s->n - 1))];

	switch (k) {
	case 0:
	case 1:
		if (n->up && n->from_leader.b.len) {
			size_t c = chunk(s, &n->from_leader);
			struct buf tmp = BUF_INIT;

			buf_put(&tmp, n->from_leader.b.p, c);
			pop(&n->from_leader, c);
			learner_input(n->l, tmp.p, tmp.len);
			buf_release(&tmp);
			return 1;
		}
		break;
	case 2:
	case 3:
		if (n->up && n->to_leader.b.len) {
			size_t c = chunk(s, &n->to_leader);
			struct buf tmp = BUF_INIT;

			buf_put(&tmp, n->to_leader.b.p, c);
			pop(&n->to_leader, c);
			leader_input(s->leader, n->idx * 1000 + n->gen, tmp.p, tmp.len);
			buf_release(&tmp);
			return 1;
		}
		break;
	case 4:
		if (n->up && n->log_pending > n->log_durable) {
			int64_t z;

			n->log_durable = n->log_pending;
			for (z = n->log_durable; z > 0 && tindex(z) <= MAXTXN; z--) {
				if (s->durable[tindex(z)][n->idx])
					break;
				if ((z >> 32) == (n->log_durable >> 32))
					s->durable[tindex(z)][n->idx] = 1;
				else
					break;
			}
			learner_logged(n->l, n->log_durable);
			return 1;
		}
		break;
	case 5:
		if (s->leader_log_pending > s->leader_logged_to) {
			int64_t z;

			z = s->leader_logged_to + 1;
			if (z < ((s->leader_log_pending >> 32) << 32))
				z = ((s->leader_log_pending >> 32) << 32) + 1;
			for (; z <= s->leader_log_pending; z++)
				s->durable[tindex(z)][0] = 1;
			s->leader_logged_to = s->leader_log_pending;
			leader_logged(s->leader, s->leader_logged_to);
			return 1;
		}
		break;
	case 6:
		if (may_churn && s->established && tindex(s->proposed) < MAXTXN && rnd(s) % 3 == 0) {
			struct buf b = BUF_INIT;
			int64_t z = leader_next_zxid(s->leader);

			mk_txn(&b, z);
			assert_int_equal(leader_propose(s->leader, z, b.p, b.len), 0);
			s->proposed = z;
			buf_release(&b);
			return 1;
		}
		break;
	case 7:
		if (may_churn && rnd(s) % 40 == 0) {
			/* A learner drops; one that is down comes back. */
			if (n->up && n->synced)
				node_disconnect(s, n);
			else if (!n->up && (!n->ahead || s->established))
				node_connect(s, n);
			return 1;
		}
		break;
	}
	/* Anything at all left to move? */
	if (s->leader_log_pending > s->leader_logged_to)
		return 1;
	for (i = 1; i < s->n; i++) {
		struct node *m = s->nodes[i];

		if (m->up && (m->to_leader.b.len || m->from_leader.b.len ||
			      m->log_pending > m->log_durable))
			return 1;
	}
	return 0;
}

static void run_seed(uint64_t seed)
{
	struct leader_io lio;
	struct leader_cfg cfg;
	struct sim *s = calloc(1, sizeof(*s));
	int i, h, steps, ntxn;

	assert_non_null(s);
	s->seed = seed;
	s->rng = seed * 0x2545F4914F6CDD1DULL + 3;
	s->nvoters = 3 + 2 * (int)(rnd(s) % 2);
	s->n = s->nvoters + (int)(rnd(s) % 2);
	for (i = 0; i < s->nvoters; i++)
		s->voters[i] = i + 1;
	s->ltree = tree_new();
	lio = (struct leader_io){ .ctx = s, .send = l_send, .drop = l_drop, .epoch = l_epoch,
				  .snapshot_stream = l_stream, .log = l_log, .commit = l_commit,
				  .established = l_established, .touch = l_touch, .lost = l_lost };
	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = 1;
	cfg.voters = s->voters;
	cfg.nvoters = s->nvoters;
	cfg.config = "version=0";
	cfg.sync_ms = 2500;
	/* A third of the runs start after an election: the leader has a history of epoch 1
	 * (preloaded for DIFFs), and the learners have prefixes of it, nothing, or a tail the
	 * leader never committed (TRUNC). */
	s->history = seed % 3 == 0 ? 5 + (int)(rnd(s) % 60) : 0;
	total_history_runs += s->history > 0;
	if (s->history) {
		cfg.last_zxid = (1LL << 32) | s->history;
		cfg.accepted_epoch = cfg.current_epoch = 1;
	}
	s->leader = leader_new(&cfg, &lio);
	assert_non_null(s->leader);
	s->leader_logged_to = s->leader_log_pending = 0;
	for (i = 1; i < s->n; i++) {
		struct node *n = calloc(1, sizeof(*n));

		assert_non_null(n);
		n->s = s;
		n->idx = i;
		n->observer = i >= s->nvoters;
		n->tree = tree_new();
		s->nodes[i] = n;
	}
	for (h = 1; h <= s->history; h++) {
		struct buf b = BUF_INIT;
		int64_t z = (1LL << 32) | h;

		mk_txn(&b, z);
		assert_int_equal(leader_preload(s->leader, z, b.p, b.len), 0);
		apply_to(s->ltree, b.p, b.len);
		s->committed[s->ncommitted++] = z;
		for (i = 1; i < s->n; i++) {
			struct node *n = s->nodes[i];

			if (n->napplied_seq == h - 1 && (i % 3 != 1 || h <= s->history / 2) &&
			    !(i % 3 == 0 && h == 1)) {
				apply_to(n->tree, b.p, b.len);
				n->applied = z;
				n->napplied_seq = h;
				n->accepted = n->current = 1;
			}
		}
		buf_release(&b);
	}
	/* Node 2 (when it follows the full history) logged two more that never committed. */
	if (s->history && s->nodes[2]->napplied_seq == s->history && !s->nodes[2]->observer)
		s->nodes[2]->ahead = ((1LL << 32) | s->history) + 2;
	/* A quorum connects at once, the rest later (one that is ahead only after the new epoch
	 * is established: before, it would be "ahead of the leader" and dropped). */
	for (i = 1; i < s->n; i++)
		if (!s->nodes[i]->ahead && (i <= s->nvoters / 2 || rnd(s) % 2))
			node_connect(s, s->nodes[i]);
	ntxn = 20 + (int)(rnd(s) % 200);
	for (steps = 0; steps < 200000 && tindex(s->proposed) < ntxn; steps++)
		step(s, 1);
	if (!s->established)
		fail_msg("seed %llu: never established", (unsigned long long)seed);
	/* Everyone comes back; everything drains. */
	for (i = 1; i < s->n; i++)
		if (!s->nodes[i]->up)
			node_connect(s, s->nodes[i]);
	for (steps = 0; steps < 2000000; steps++)
		if (!step(s, 0) && steps > 1000)
			break;
	if (s->ncommitted != s->history + (s->proposed ? tindex(s->proposed) : 0)) {
		for (i = 1; i < s->n; i++)
			print_message("  node %d: up %d synced %d observer %d applied 0x%llx logged 0x%llx/0x%llx phase %s pipes %zu/%zu\n",
				      i, s->nodes[i]->up, s->nodes[i]->synced, s->nodes[i]->observer,
				      (unsigned long long)s->nodes[i]->applied,
				      (unsigned long long)s->nodes[i]->log_durable,
				      (unsigned long long)s->nodes[i]->log_pending,
				      s->nodes[i]->l ? learner_phase(s->nodes[i]->l) : "-",
				      s->nodes[i]->to_leader.b.len, s->nodes[i]->from_leader.b.len);
		print_message("  leader logged 0x%llx/0x%llx, n %d voters %d\n",
			      (unsigned long long)s->leader_logged_to,
			      (unsigned long long)s->leader_log_pending, s->n, s->nvoters);
		fail_msg("seed %llu: %d of %d proposals committed", (unsigned long long)seed,
			 s->ncommitted - s->history, tindex(s->proposed));
	}
	for (i = 1; i < s->n; i++) {
		struct node *n = s->nodes[i];

		if (!n->synced || n->applied != leader_last_committed(s->leader) ||
		    tree_digest(n->tree) != tree_digest(s->ltree))
			fail_msg("seed %llu: node %d (synced %d) at 0x%llx, leader at 0x%llx",
				 (unsigned long long)seed, i, n->synced,
				 (unsigned long long)n->applied,
				 (unsigned long long)leader_last_committed(s->leader));
	}
	/* A round of pings: every learner answers with its session, and the leader hears it. */
	leader_ping(s->leader);
	for (steps = 0; steps < 200000; steps++)
		if (!step(s, 0) && steps > 1000)
			break;
	for (i = 1; i < s->n; i++)
		if (s->touched[i] < 1)
			fail_msg("seed %llu: node %d's session was not touched", (unsigned long long)seed, i);
	/* The clock: everyone was just heard from; then a learner is silent past syncLimit.
	 * With a quorum still heard (3 voters: the leader and one follower) leadership holds;
	 * with every follower silent it is lost, once. */
	leader_tick(s->leader, 1000000);
	for (i = 1; i < s->n; i++) {
		struct buf b = BUF_INIT;

		qpkt_encode(&b, QP_PING, 0, "", 0);
		leader_input(s->leader, i * 1000 + s->nodes[i]->gen, b.p, b.len);
		buf_release(&b);
	}
	leader_tick(s->leader, 1001000);
	assert_int_equal(s->lost, 0);
	{
		struct buf b = BUF_INIT;

		/* Only followers 1 .. nvoters/2 speak again: with the leader, a bare quorum. */
		qpkt_encode(&b, QP_PING, 0, "", 0);
		for (i = 1; i <= s->nvoters / 2; i++)
			leader_input(s->leader, i * 1000 + s->nodes[i]->gen, b.p, b.len);
		buf_release(&b);
	}
	leader_tick(s->leader, 1003000);	/* the others silent for 3 s > 2.5 s */
	assert_int_equal(s->lost, 0);
	leader_tick(s->leader, 1006000);	/* everyone silent */
	assert_int_equal(s->lost, 1);
	leader_tick(s->leader, 1007000);
	assert_int_equal(s->lost, 1);
	for (i = 1; i < s->n; i++) {
		learner_free(s->nodes[i]->l);
		tree_free(s->nodes[i]->tree);
		buf_release(&s->nodes[i]->to_leader.b);
		buf_release(&s->nodes[i]->from_leader.b);
		free(s->nodes[i]);
	}
	leader_free(s->leader);
	tree_free(s->ltree);
	free(s);
}

static void test_simulated_zab(void **state)
{
	const char *env = getenv("ZAB_SEEDS");
	uint64_t n = env ? strtoull(env, NULL, 10) : 400, seed;

	for (seed = 1; seed <= n; seed++)
		run_seed(seed);
	print_message("zab simulator: %llu seeds, %lld starting from a history; learners synced "
		      "by %lld snapshots and %lld truncations (the rest by DIFF)\n",
		      (unsigned long long)n, (long long)total_history_runs, (long long)total_snaps,
		      (long long)total_truncs);
	/* The scenarios must really happen. */
	assert_true(total_truncs > 0);
	assert_true(total_snaps > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulated_zab),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
