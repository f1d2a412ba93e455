/*
 * Fast Leader Election (ensemble/election.c): the notification format, the vote order,
 * and a simulator that runs whole elections of 3-7 servers over a network with seeded
 * delays, losses and restarts (ELECTION_SEEDS=N for more than the default 5000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "election.h"

/* ---- wire --------------------------------------------------------------------------- */

static void test_wire(void **state)
{
	static const char cfg[] = "server.1=127.0.0.1:2888:3888:participant\nversion=0";
	struct fle_msg m = { 3, FLE_FOLLOWING, 3, 0x100000002LL, 1, 1, 2,
			     (const uint8_t *)cfg, (int32_t)strlen(cfg) };
	struct fle_msg d;
	struct buf b;
	uint8_t old[40];

	buf_init(&b);
	fle_encode(&b, &m);
	/* §4.1: state int, leader, zxid, electionEpoch, peerEpoch longs, version, configLength */
	assert_int_equal(b.len, 44 + strlen(cfg));
	assert_int_equal(be32_get(b.p), 1);
	assert_int_equal(be64_get(b.p + 4), 3);
	assert_int_equal(be64_get(b.p + 12), 0x100000002LL);
	assert_int_equal(be64_get(b.p + 20), 1);
	assert_int_equal(be64_get(b.p + 28), 1);
	assert_int_equal(be32_get(b.p + 36), 2);
	assert_int_equal(be32_get(b.p + 40), (int32_t)strlen(cfg));
	assert_memory_equal(b.p + 44, cfg, strlen(cfg));
	assert_int_equal(fle_decode(b.p, b.len, &d), 0);
	assert_int_equal(d.state, FLE_FOLLOWING);
	assert_int_equal(d.leader, 3);
	assert_int_equal(d.zxid, 0x100000002LL);
	assert_int_equal(d.election_epoch, 1);
	assert_int_equal(d.peer_epoch, 1);
	assert_int_equal(d.version, 2);
	assert_int_equal(d.config_len, (int32_t)strlen(cfg));
	assert_memory_equal(d.config, cfg, strlen(cfg));

	/* Older forms: 40 bytes (no version), 28 bytes (no peerEpoch: from the zxid). */
	memcpy(old, b.p, 40);
	assert_int_equal(fle_decode(old, 40, &d), 0);
	assert_int_equal(d.version, 0);
	assert_int_equal(d.peer_epoch, 1);
	assert_int_equal(fle_decode(old, 28, &d), 0);
	assert_int_equal(d.peer_epoch, 1);	/* 0x100000002 >> 32 */
	assert_int_equal(fle_decode(old, 27, &d), -1);
	/* A config length past the end is refused. */
	be32_put(b.p + 40, (int32_t)strlen(cfg) + 1);
	assert_int_equal(fle_decode(b.p, b.len, &d), -1);
	be32_put(b.p + 40, -1);
	assert_int_equal(fle_decode(b.p, b.len, &d), -1);
	buf_release(&b);
}

/* ---- a simulated network ------------------------------------------------------------ */

#define MAXS 8

enum ev_kind { EV_DELIVER, EV_TIMER, EV_START };

struct ev {
	int64_t at;
	int64_t seq;		/* ties in time run in the order scheduled */
	enum ev_kind kind;
	int to;			/* server index */
	int gen;		/* EV_TIMER: stale if the server re-armed since */
	int life;		/* EV_DELIVER: dropped if the receiver restarted since */
	struct fle_msg m;
};

struct server;

struct sim {
	uint64_t rng;
	int64_t now, seq;
	struct ev *q;
	int nq, capq;
	int n;			/* servers: index i has sid i + 1 */
	int nvoters;		/* the first nvoters are voters, the rest observers */
	int64_t voters[MAXS];
	int drop_pct;		/* chance a message is lost (a connection dropped) */
	int max_latency;
	int64_t last_at[MAXS][MAXS];	/* per-pair FIFO */
	/* The last notification each server sent each other one: QuorumCnxManager sends it
	 * again when a connection comes up, so a server that starts late still gets it. */
	struct fle_msg last[MAXS][MAXS];
	int has_last[MAXS][MAXS];
	struct server *s[MAXS];
	int64_t messages;
};

struct server {
	struct sim *sim;
	int idx;
	struct fle *e;
	int gen;
	int life;
	int decided;
	enum fle_state state;
	int64_t leader, round;
	int64_t zxid, epoch;	/* its database */
};

static uint64_t srnd(struct sim *s)
{
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void push(struct sim *s, struct ev *ev)
{
	int i;

	if (s->nq == s->capq) {
		s->capq = s->capq ? s->capq * 2 : 256;
		s->q = realloc(s->q, sizeof(*s->q) * (size_t)s->capq);
		assert_non_null(s->q);
	}
	ev->seq = s->seq++;
	/* A binary heap on (at, seq). */
	i = s->nq++;
	while (i > 0) {
		int p = (i - 1) / 2;

		if (s->q[p].at < ev->at || (s->q[p].at == ev->at && s->q[p].seq < ev->seq))
			break;
		s->q[i] = s->q[p];
		i = p;
	}
	s->q[i] = *ev;
}

static int pop(struct sim *s, struct ev *out)
{
	struct ev last;
	int i = 0;

	if (s->nq == 0)
		return 0;
	*out = s->q[0];
	last = s->q[--s->nq];
	for (;;) {
		int c = 2 * i + 1;

		if (c >= s->nq)
			break;
		if (c + 1 < s->nq && (s->q[c + 1].at < s->q[c].at ||
				      (s->q[c + 1].at == s->q[c].at && s->q[c + 1].seq < s->q[c].seq)))
			c++;
		if (last.at < s->q[c].at || (last.at == s->q[c].at && last.seq < s->q[c].seq))
			break;
		s->q[i] = s->q[c];
		i = c;
	}
	s->q[i] = last;
	return 1;
}

static void deliver_later(struct sim *s, int from, int t, const struct fle_msg *m)
{
	struct ev ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = EV_DELIVER;
	ev.to = t;
	ev.life = s->s[t]->life;
	ev.m = *m;
	ev.at = s->now + (t == from ? 0 : 1 + (int64_t)(srnd(s) % (uint64_t)s->max_latency));
	if (ev.at < s->last_at[from][t])
		ev.at = s->last_at[from][t];
	s->last_at[from][t] = ev.at;
	push(s, &ev);
}

static void io_send(void *ctx, int64_t to, const struct fle_msg *m)
{
	struct server *sv = ctx;
	struct sim *s = sv->sim;
	struct fle_msg copy = *m;
	int t = (int)to - 1;

	assert_true(t >= 0 && t < s->n);
	s->messages++;
	copy.config = NULL;	/* the text is not kept past the call */
	copy.config_len = 0;
	s->last[sv->idx][t] = copy;
	s->has_last[sv->idx][t] = 1;
	if (t != sv->idx && s->drop_pct && (int)(srnd(s) % 100) < s->drop_pct)
		return;
	deliver_later(s, sv->idx, t, &copy);
}

static void io_timer(void *ctx, int64_t ms)
{
	struct server *sv = ctx;
	struct ev ev;

	sv->gen++;
	if (ms <= 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = EV_TIMER;
	ev.to = sv->idx;
	ev.gen = sv->gen;
	ev.at = sv->sim->now + ms;
	push(sv->sim, &ev);
}

static void io_decided(void *ctx, enum fle_state st, int64_t leader, int64_t zxid,
		       int64_t election_epoch, int64_t peer_epoch)
{
	struct server *sv = ctx;

	sv->decided = 1;
	sv->state = st;
	sv->leader = leader;
	sv->round = election_epoch;
}

static void server_boot(struct sim *s, int i)
{
	struct server *sv = s->s[i];
	struct fle_members mem = { s->voters, s->nvoters };
	struct fle_io io = { sv, io_send, io_timer, io_decided };
	int k;

	fle_free(sv->e);
	sv->life++;
	sv->gen++;
	sv->decided = 0;
	sv->e = fle_new(i + 1, &mem, &io, "version=0", 9);
	assert_non_null(sv->e);
	fle_start(sv->e, sv->zxid, sv->epoch);
	/* Its connections come up: each peer's last notification to it arrives again. */
	for (k = 0; k < s->n; k++)
		if (k != i && s->has_last[k][i])
			deliver_later(s, k, i, &s->last[k][i]);
}

static void sim_init(struct sim *s, uint64_t seed, int n, int nvoters)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->rng = seed * 0x2545F4914F6CDD1DULL + 7;
	s->n = n;
	s->nvoters = nvoters;
	s->max_latency = 1 + (int)(srnd(s) % 50);
	for (i = 0; i < nvoters; i++)
		s->voters[i] = i + 1;
	for (i = 0; i < n; i++) {
		s->s[i] = calloc(1, sizeof(*s->s[i]));
		assert_non_null(s->s[i]);
		s->s[i]->sim = s;
		s->s[i]->idx = i;
		/* Databases from a few epochs, most in the last: ties broken by zxid, then sid. */
		s->s[i]->epoch = (int64_t)(srnd(s) % 3);
		s->s[i]->zxid = (s->s[i]->epoch << 32) | (int64_t)(srnd(s) % 4);
	}
}

static void sim_free(struct sim *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		fle_free(s->s[i]->e);
		free(s->s[i]);
	}
	free(s->q);
}

/* Runs until every server decided (1) or the simulated time limit passed (0). */
static int sim_run(struct sim *s, int64_t until)
{
	struct ev ev;

	while (pop(s, &ev)) {
		struct server *sv = s->s[ev.to];
		int all = 1, i;

		s->now = ev.at;
		if (s->now > until)
			return 0;
		switch (ev.kind) {
		case EV_START:
			server_boot(s, ev.to);
			break;
		case EV_TIMER:
			if (sv->e && ev.gen == sv->gen)
				fle_timeout(sv->e);
			break;
		case EV_DELIVER:
			if (sv->e && ev.life == sv->life)
				fle_receive(sv->e, &ev.m);
			break;
		}
		for (i = 0; i < s->n; i++)
			all = all && s->s[i]->e && s->s[i]->decided;
		if (all)
			return 1;
	}
	return 0;
}

/* The voter with the best (epoch, zxid, sid). */
static int64_t best_voter(const struct sim *s)
{
	int i, b = 0;

	for (i = 1; i < s->nvoters; i++) {
		const struct server *x = s->s[i], *y = s->s[b];

		if (x->epoch > y->epoch || (x->epoch == y->epoch && (x->zxid > y->zxid ||
		    (x->zxid == y->zxid && i > b))))
			b = i;
	}
	return b + 1;
}

static void start_all(struct sim *s, int spread_ms)
{
	int i;

	for (i = 0; i < s->n; i++) {
		struct ev ev;

		memset(&ev, 0, sizeof(ev));
		ev.kind = EV_START;
		ev.to = i;
		ev.at = spread_ms ? (int64_t)(srnd(s) % (uint64_t)spread_ms) : 0;
		push(s, &ev);
	}
}

/* Every server decided for `leader`: it LEADING, voters FOLLOWING, observers OBSERVING. */
static void check_agree(const struct sim *s, int64_t leader, uint64_t seed)
{
	int i;

	for (i = 0; i < s->n; i++) {
		const struct server *sv = s->s[i];
		enum fle_state want = i + 1 == leader ? FLE_LEADING :
				      i < s->nvoters ? FLE_FOLLOWING : FLE_OBSERVING;

		if (!sv->decided || sv->leader != leader || sv->state != want) {
			int k;

			for (k = 0; k < s->n; k++)
				print_message("  server %d: epoch %lld zxid %llx decided %d state %d "
					      "leader %lld round %lld\n", k + 1,
					      (long long)s->s[k]->epoch,
					      (unsigned long long)s->s[k]->zxid, s->s[k]->decided,
					      s->s[k]->state, (long long)s->s[k]->leader,
					      (long long)s->s[k]->round);
			print_message("  max latency %d ms, drop %d%%, now %lld\n", s->max_latency,
				      s->drop_pct, (long long)s->now);
			fail_msg("seed %llu: server %d decided %d state %d for %lld, expected %d for "
				 "%lld", (unsigned long long)seed, i + 1, sv->decided, sv->state,
				 (long long)sv->leader, want, (long long)leader);
		}
	}
}

/* Three empty servers: sid 3 leads (observed on Apache 3.8.0). */
static void test_three_empty(void **state)
{
	struct sim s;
	int i;

	sim_init(&s, 1, 3, 3);
	for (i = 0; i < 3; i++)
		s.s[i]->zxid = s.s[i]->epoch = 0;
	start_all(&s, 0);
	assert_true(sim_run(&s, 60000));
	check_agree(&s, 3, 1);
	/* One round; a decision takes finalizeWait after the votes settle. */
	for (i = 0; i < 3; i++)
		assert_int_equal(s.s[i]->round, 1);
	assert_true(s.now >= FLE_FINALIZE_WAIT_MS && s.now < 2 * FLE_FINALIZE_WAIT_MS + 100);
	sim_free(&s);
}

/* The most up-to-date voter wins, even with the lowest sid; an observer never wins. */
static void test_best_vote(void **state)
{
	struct sim s;

	sim_init(&s, 2, 4, 3);
	s.s[0]->epoch = 2;
	s.s[0]->zxid = 0x200000005LL;
	s.s[1]->epoch = 2;
	s.s[1]->zxid = 0x200000004LL;
	s.s[2]->epoch = 1;
	s.s[2]->zxid = 0x100000009LL;
	s.s[3]->epoch = 3;	/* the observer is ahead of everyone */
	s.s[3]->zxid = 0x300000001LL;
	start_all(&s, 0);
	assert_true(sim_run(&s, 60000));
	check_agree(&s, 1, 2);
	sim_free(&s);
}

/* A server that restarts after the others decided joins their leader (their FOLLOWING /
 * LEADING answers), whether or not its round matches theirs. */
static void test_rejoin(void **state)
{
	struct sim s;
	int r;

	for (r = 0; r < 2; r++) {
		sim_init(&s, 3 + (uint64_t)r, 5, 5);
		start_all(&s, 50);
		assert_true(sim_run(&s, 60000));
		check_agree(&s, best_voter(&s), 3);
		/* A follower restarts: r = 0 with a fresh round counter (1, equal to theirs),
		 * r = 1 after two more local rounds (3, ahead of theirs). */
		{
			int f = best_voter(&s) == 1 ? 1 : 0;

			server_boot(&s, f);
			if (r == 1) {
				fle_start(s.s[f]->e, s.s[f]->zxid, s.s[f]->epoch);
				fle_start(s.s[f]->e, s.s[f]->zxid, s.s[f]->epoch);
			}
			assert_true(sim_run(&s, s.now + 60000));
			check_agree(&s, best_voter(&s), 3);
		}
		sim_free(&s);
	}
}

/* A server with an untrusted empty database (last zxid -1) takes no part in the vote but
 * still learns the leader once the others decide. */
static void test_untrusted_joins(void **state)
{
	struct sim s;

	sim_init(&s, 4, 3, 3);
	s.s[0]->zxid = -1;
	s.s[1]->epoch = s.s[2]->epoch = 1;
	s.s[1]->zxid = 0x100000001LL;
	s.s[2]->zxid = 0x100000001LL;
	start_all(&s, 0);
	assert_true(sim_run(&s, 60000));
	check_agree(&s, 3, 4);
	sim_free(&s);
}

/*
 * Seeded elections. Without losses, and with every server started within 100 ms and every
 * message delivered within 50 ms (< finalizeWait), all servers agree on the best voter.
 * With losses (a dropped connection loses the pending notification; timeouts re-send),
 * every server still decides, each for a voting member.
 */
static void test_simulator(void **state)
{
	const char *env = getenv("ELECTION_SEEDS");
	uint64_t seeds = env ? strtoull(env, NULL, 10) : 5000, seed;
	int64_t msgs = 0, lossy = 0, max_ms = 0, restarts = 0;

	for (seed = 1; seed <= seeds; seed++) {
		struct sim s;
		int nv, n, i;

		{
			uint64_t r = seed * 0x9E3779B97F4A7C15ULL;

			nv = 3 + (int)((r >> 7) % 3) * 2;	/* 3, 5, 7 voters */
			n = nv + (int)((r >> 17) % 2);		/* maybe an observer */
		}
		if (n > MAXS)
			n = MAXS;
		sim_init(&s, seed, n, nv);
		if (seed % 3 == 0) {
			s.drop_pct = 5 + (int)(srnd(&s) % 30);
			lossy++;
		}
		start_all(&s, 100);
		if (!sim_run(&s, 30 * 60 * 1000))
			fail_msg("seed %llu: no decision after 30 simulated minutes",
				 (unsigned long long)seed);
		if (!s.drop_pct) {
			int64_t leader = best_voter(&s);

			check_agree(&s, leader, seed);
			if (seed % 2) {
				/* A server other than the leader restarts, maybe several local
				 * rounds ahead, and joins the same leader. */
				int f = (int)(srnd(&s) % (uint64_t)(s.n - 1)), k;

				if (f + 1 >= leader)
					f++;
				server_boot(&s, f);
				for (k = (int)(srnd(&s) % 3); k > 0; k--)
					fle_start(s.s[f]->e, s.s[f]->zxid, s.s[f]->epoch);
				if (!sim_run(&s, s.now + 30 * 60 * 1000))
					fail_msg("seed %llu: server %d did not rejoin",
						 (unsigned long long)seed, f + 1);
				check_agree(&s, leader, seed);
				restarts++;
			}
		} else {
			for (i = 0; i < s.n; i++)
				if (s.s[i]->leader < 1 || s.s[i]->leader > s.nvoters)
					fail_msg("seed %llu: server %d follows non-voter %lld",
						 (unsigned long long)seed, i + 1,
						 (long long)s.s[i]->leader);
		}
		msgs += s.messages;
		if (s.now > max_ms)
			max_ms = s.now;
		sim_free(&s);
	}
	print_message("election simulator: %llu seeds (%lld with losses, %lld with a restart), "
		      "%lld notifications, slowest decision %lld ms\n", (unsigned long long)seeds,
		      (long long)lossy, (long long)restarts, (long long)msgs, (long long)max_ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire),
		cmocka_unit_test(test_three_empty),
		cmocka_unit_test(test_best_vote),
		cmocka_unit_test(test_rejoin),
		cmocka_unit_test(test_untrusted_joins),
		cmocka_unit_test(test_simulator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
