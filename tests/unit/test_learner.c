/*
 * The Zab learner (ensemble/learner.c) against a scripted leader: the DIFF sync with
 * proposals and commits, the NEWLEADER ACK waiting for the log and going before the
 * proposals' ACKs, broadcast, TRUNC, and protocol violations. test_zab_learner.sh runs
 * the SNAP path against Apache 3.8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "learner.h"
#include "qpkt.h"

struct rec {
	struct buf sent;	/* everything sent to the leader */
	char events[4096];	/* "log 0x.. apply 0x.. epoch1=.. synced failed ..." */
	int failed;
	int64_t logged;
	struct learner *l;
};

static void ev(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(r->events);

	va_start(ap, fmt);
	vsnprintf(r->events + n, sizeof(r->events) - n, fmt, ap);
	va_end(ap);
}

static void io_send(void *ctx, const uint8_t *p, size_t len)
{
	buf_put(&((struct rec *)ctx)->sent, p, len);
}

static void io_epoch(void *ctx, int which, int64_t e)
{
	ev(ctx, "epoch%d=%lld ", which, (long long)e);
}

static void io_snapshot(void *ctx, struct zk_tree *t, struct storage_session *s, int32_t n,
			int64_t zxid)
{
	tree_free(t);
	free(s);
	ev(ctx, "snap ");
}

static void io_persist(void *ctx)
{
	ev(ctx, "persist ");
}

static void io_truncate(void *ctx, int64_t zxid)
{
	ev(ctx, "trunc %llx ", (unsigned long long)zxid);
}

static void io_log(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	((struct rec *)ctx)->logged = zxid;
	ev(ctx, "log %llx ", (unsigned long long)zxid);
}

static void io_apply(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	ev(ctx, "apply %llx ", (unsigned long long)zxid);
}

static void io_synced(void *ctx, int64_t epoch)
{
	ev(ctx, "synced ");
}

static void io_failed(void *ctx, const char *why)
{
	((struct rec *)ctx)->failed++;
	ev(ctx, "failed(%s) ", why);
}

static void setup(struct rec *r, int observer, int64_t accepted, int64_t last_zxid)
{
	struct learner_io io = { r, io_send, io_epoch, io_snapshot, io_persist, io_truncate,
				 io_log, io_apply, io_synced, io_failed };
	struct learner_cfg cfg;

	memset(r, 0, sizeof(*r));
	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = 3;
	cfg.observer = observer;
	cfg.accepted_epoch = accepted;
	cfg.current_epoch = accepted;
	cfg.last_zxid = last_zxid;
	r->logged = -1;
	r->l = learner_new(&cfg, &io);
	assert_non_null(r->l);
	learner_start(r->l);
}

static void done(struct rec *r)
{
	learner_free(r->l);
	buf_release(&r->sent);
}

/* Feeds one packet from the leader, one byte at a time. */
static void leader(struct rec *r, int32_t type, int64_t zxid, const void *data, int32_t len)
{
	struct buf b = BUF_INIT;
	size_t i;

	qpkt_encode(&b, type, zxid, data, len);
	for (i = 0; i < b.len; i++)
		learner_input(r->l, b.p + i, 1);
	buf_release(&b);
}

/* The packets sent so far as "TYPE:zxid" words, and forgets them. */
static void sent(struct rec *r, char *out, size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	while (off < r->sent.len) {
		struct qpkt q;
		ssize_t n = qpkt_decode(r->sent.p + off, r->sent.len - off, 1 << 20, &q);
		size_t k = strlen(out);

		assert_true(n > 0);
		snprintf(out + k, outlen - k, "%s:%llx ", qpkt_type_name(q.type),
			 (unsigned long long)q.zxid);
		off += (size_t)n;
	}
	buf_reset(&r->sent);
}

static void test_diff_sync_and_broadcast(void **state)
{
	struct rec r;
	char s[1024];
	uint8_t proto[4];

	setup(&r, 0, 1, 0x100000002LL);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "FOLLOWERINFO:100000000 ");
	be32_put(proto, QP_PROTOCOL_VERSION);
	leader(&r, QP_LEADERINFO, 0x200000000LL, proto, 4);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "ACKEPOCH:100000002 ");	/* our last zxid */
	assert_string_equal(r.events, "epoch0=2 ");
	assert_string_equal(learner_phase(r.l), "sync");
	/* DIFF: two proposals, one committed before NEWLEADER. */
	leader(&r, QP_DIFF, 0x100000004LL, NULL, -1);
	leader(&r, QP_PROPOSAL, 0x100000003LL, "t3", 2);
	leader(&r, QP_COMMIT, 0x100000003LL, NULL, -1);
	leader(&r, QP_PROPOSAL, 0x100000004LL, "t4", 2);
	assert_string_equal(r.events, "epoch0=2 ");	/* nothing applied or logged yet */
	leader(&r, QP_NEWLEADER, 0x200000000LL, "cfg", 3);
	/* Both go to the log; the ACK waits until they are durable. */
	assert_string_equal(r.events, "epoch0=2 log 100000003 log 100000004 epoch1=2 ");
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "");
	learner_logged(r.l, 0x100000003LL);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "");
	learner_logged(r.l, 0x100000004LL);
	sent(&r, s, sizeof(s));
	/* The NEWLEADER ACK first: the leader reads the first ACK as that one. */
	assert_string_equal(s, "ACK:200000000 ACK:100000003 ACK:100000004 ");
	leader(&r, QP_UPTODATE, -1, NULL, -1);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "ACK:200000000 ");
	/* After UPTODATE: what was committed during the sync is applied; 4 waits. */
	assert_non_null(strstr(r.events, "synced apply 100000003 "));
	assert_null(strstr(r.events, "apply 100000004"));
	assert_string_equal(learner_phase(r.l), "broadcast");
	leader(&r, QP_COMMIT, 0x100000004LL, NULL, -1);
	assert_non_null(strstr(r.events, "apply 100000004 "));
	/* Broadcast: PROPOSAL -> log -> ACK after it is durable; COMMIT -> apply. */
	leader(&r, QP_PROPOSAL, 0x200000001LL, "t", 1);
	leader(&r, QP_PROPOSAL, 0x200000002LL, "u", 1);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "");
	learner_logged(r.l, 0x200000002LL);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "ACK:200000001 ACK:200000002 ");
	leader(&r, QP_COMMIT, 0x200000001LL, NULL, -1);
	leader(&r, QP_PING, 0x200000002LL, NULL, -1);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "PING:200000002 ");
	/* A COMMIT that skips the oldest proposal is fatal. */
	leader(&r, QP_PROPOSAL, 0x200000003LL, "v", 1);
	leader(&r, QP_COMMIT, 0x200000003LL, NULL, -1);
	assert_int_equal(r.failed, 1);
	assert_string_equal(learner_phase(r.l), "failed");
	assert_int_equal(learner_input(r.l, (const uint8_t *)"x", 1), -1);
	assert_int_equal(r.failed, 1);	/* once */
	done(&r);
}

static void test_trunc_and_epochs(void **state)
{
	struct rec r;
	char s[256];
	uint8_t proto[4];

	/* This epoch was accepted before: ACKEPOCH says -1 and nothing is persisted. */
	setup(&r, 0, 2, 0x200000009LL);
	be32_put(proto, QP_PROTOCOL_VERSION);
	buf_reset(&r.sent);
	leader(&r, QP_LEADERINFO, 0x200000000LL, proto, 4);
	assert_int_equal(be32_get(r.sent.p + r.sent.len - 8), -1);
	assert_string_equal(r.events, "");
	leader(&r, QP_TRUNC, 0x200000007LL, NULL, -1);
	leader(&r, QP_NEWLEADER, 0x200000000LL, NULL, -1);
	/* TRUNC, then the snapshot at NEWLEADER, then the ACK (nothing to log). */
	assert_string_equal(r.events, "trunc 200000007 persist epoch1=2 ");
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "ACKEPOCH:200000009 ACK:200000000 ");
	done(&r);

	/* A leader with an older epoch than one we accepted is refused. */
	setup(&r, 0, 5, 0);
	leader(&r, QP_LEADERINFO, 0x300000000LL, proto, 4);
	assert_int_equal(r.failed, 1);
	done(&r);
}

static void test_observer(void **state)
{
	struct rec r;
	char s[256];
	uint8_t proto[4];

	setup(&r, 1, 0, 0);
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "OBSERVERINFO:0 ");
	be32_put(proto, QP_PROTOCOL_VERSION);
	leader(&r, QP_LEADERINFO, 0x100000000LL, proto, 4);
	leader(&r, QP_DIFF, 0, NULL, -1);
	leader(&r, QP_NEWLEADER, 0x100000000LL, NULL, -1);
	leader(&r, QP_INFORM, 0x100000001LL, "i", 1);	/* between NEWLEADER and UPTODATE */
	assert_null(strstr(r.events, "apply"));
	leader(&r, QP_UPTODATE, -1, NULL, -1);
	assert_non_null(strstr(r.events, "synced log 100000001 apply 100000001 "));
	leader(&r, QP_INFORM, 0x100000002LL, "j", 1);
	assert_non_null(strstr(r.events, "log 100000002 apply 100000002 "));
	sent(&r, s, sizeof(s));
	assert_string_equal(s, "ACKEPOCH:0 ACK:100000000 ACK:100000000 ");
	/* Observers get no proposals. */
	leader(&r, QP_PROPOSAL, 0x100000003LL, "p", 1);
	assert_int_equal(r.failed, 1);
	done(&r);
}

/* A snapshot stream, byte by byte, ends the sync's first step with the leader's tree. */
static void test_snap_stream(void **state)
{
	struct rec r;
	struct buf b = BUF_INIT;
	struct zk_tree *t = tree_new();
	uint8_t proto[4];
	size_t i;

	setup(&r, 1, 0, 0);
	be32_put(proto, QP_PROTOCOL_VERSION);
	leader(&r, QP_LEADERINFO, 0x100000000LL, proto, 4);
	leader(&r, QP_SNAP, 0x100000005LL, NULL, -1);
	buf_put_int(&b, 1);	/* one session */
	buf_put_long(&b, 0x1234);
	buf_put_int(&b, 30000);
	tree_snap_write(t, &b);
	tree_free(t);
	buf_put_str(&b, "BenWasHere", 10);
	qpkt_encode(&b, QP_NEWLEADER, 0x100000000LL, NULL, -1);
	for (i = 0; i < b.len; i++)
		assert_int_equal(learner_input(r.l, b.p + i, 1), 0);
	assert_string_equal(r.events, "epoch0=1 snap persist epoch1=1 ");
	assert_int_equal(r.failed, 0);
	buf_release(&b);
	done(&r);
}

static void test_bad_input(void **state)
{
	struct rec r;
	static const uint8_t junk[] = { 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0 };

	/* A data length of -16. */
	setup(&r, 0, 0, 0);
	assert_int_equal(learner_input(r.l, junk, sizeof(junk)), -1);
	assert_int_equal(r.failed, 1);
	done(&r);
	/* Not LEADERINFO first. */
	setup(&r, 0, 0, 0);
	leader(&r, QP_UPTODATE, -1, NULL, -1);
	assert_int_equal(r.failed, 1);
	done(&r);
	/* A snapshot stream that does not end with the signature. */
	setup(&r, 1, 0, 0);
	{
		uint8_t proto[4];
		struct buf b = BUF_INIT;

		be32_put(proto, QP_PROTOCOL_VERSION);
		leader(&r, QP_LEADERINFO, 0x100000000LL, proto, 4);
		leader(&r, QP_SNAP, 0x100000000LL, NULL, -1);
		struct zk_tree *t = tree_new();
		size_t i;

		buf_put_int(&b, 0);	/* sessions */
		tree_snap_write(t, &b);
		tree_free(t);
		buf_put_str(&b, "BenWasHerX", 10);
		/* Byte by byte: every prefix is "more to come" until the signature is wrong. */
		for (i = 0; i < b.len && !r.failed; i++)
			learner_input(r.l, b.p + i, 1);
		assert_int_equal(i, b.len);
		buf_release(&b);
	}
	assert_int_equal(r.failed, 1);
	done(&r);
	/* Malformed streams are refused as soon as the bad field arrives: a negative session
	 * count, a node whose data length is -5. */
	{
		static const int32_t bad_at[] = { -1, -5 };
		int k;

		for (k = 0; k < 2; k++) {
			uint8_t proto[4];
			struct buf b = BUF_INIT;

			setup(&r, 1, 0, 0);
			be32_put(proto, QP_PROTOCOL_VERSION);
			leader(&r, QP_LEADERINFO, 0x100000000LL, proto, 4);
			leader(&r, QP_SNAP, 0x100000000LL, NULL, -1);
			if (k == 0) {
				buf_put_int(&b, bad_at[k]);
			} else {
				buf_put_int(&b, 0);		/* sessions */
				buf_put_int(&b, 0);		/* ACL entries */
				buf_put_str(&b, "", 0);		/* the root's path */
				buf_put_int(&b, bad_at[k]);	/* its data length */
			}
			learner_input(r.l, b.p, b.len);
			assert_int_equal(r.failed, 1);
			buf_release(&b);
			done(&r);
		}
	}
}

/* initLimit before the sync is done, syncLimit of silence after it. */
static void test_timeouts(void **state)
{
	struct rec r;
	uint8_t proto[4];

	setup(&r, 1, 0, 0);
	learner_free(r.l);
	{
		struct learner_io io = { &r, io_send, io_epoch, io_snapshot, io_persist,
					 io_truncate, io_log, io_apply, io_synced, io_failed };
		struct learner_cfg cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.myid = 4;
		cfg.observer = 1;
		cfg.init_ms = 5000;
		cfg.sync_ms = 2500;
		r.l = learner_new(&cfg, &io);
		learner_tick(r.l, 100000);
		learner_start(r.l);
	}
	be32_put(proto, QP_PROTOCOL_VERSION);
	learner_tick(r.l, 103000);
	leader(&r, QP_LEADERINFO, 0x100000000LL, proto, 4);
	learner_tick(r.l, 104000);
	leader(&r, QP_DIFF, 0, NULL, -1);
	leader(&r, QP_NEWLEADER, 0x100000000LL, NULL, -1);
	leader(&r, QP_UPTODATE, -1, NULL, -1);
	assert_int_equal(r.failed, 0);
	/* Synced at 104 s; pings keep it alive, silence past 2.5 s ends it. */
	learner_tick(r.l, 106000);
	leader(&r, QP_PING, 0, NULL, -1);
	learner_tick(r.l, 108400);
	assert_int_equal(r.failed, 0);
	learner_tick(r.l, 108600);
	assert_int_equal(r.failed, 1);
	assert_non_null(strstr(r.events, "syncLimit"));
	done(&r);

	/* Never synced: initLimit. */
	setup(&r, 0, 0, 0);
	learner_free(r.l);
	{
		struct learner_io io = { &r, io_send, io_epoch, io_snapshot, io_persist,
					 io_truncate, io_log, io_apply, io_synced, io_failed };
		struct learner_cfg cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.myid = 3;
		cfg.init_ms = 5000;
		r.l = learner_new(&cfg, &io);
		learner_tick(r.l, 0);
		learner_start(r.l);
	}
	learner_tick(r.l, 4999);
	assert_int_equal(r.failed, 0);
	learner_tick(r.l, 5001);
	assert_int_equal(r.failed, 1);
	assert_non_null(strstr(r.events, "initLimit"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_sync_and_broadcast),
		cmocka_unit_test(test_trunc_and_epochs),
		cmocka_unit_test(test_observer),
		cmocka_unit_test(test_snap_stream),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_timeouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
