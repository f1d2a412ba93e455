/*
 * The QuorumPacket codec (ensemble/qpkt.c): bytes observed from Apache 3.8, packets that
 * arrive in pieces, and malformed ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qpkt.h"

/* quorum-protocol.md §5.2 [observed]: LEADERINFO = type 17, zxid 0x100000000, data
 * 00010000, authinfo -1. */
static void test_leaderinfo_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t proto[4];
	struct buf b = BUF_INIT;
	struct qpkt q;

	be32_put(proto, QP_PROTOCOL_VERSION);
	qpkt_encode(&b, QP_LEADERINFO, 0x100000000LL, proto, 4);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	assert_int_equal(qpkt_decode(b.p, b.len, 1 << 20, &q), (ssize_t)sizeof(want));
	assert_int_equal(q.type, QP_LEADERINFO);
	assert_int_equal(q.zxid, 0x100000000LL);
	assert_int_equal(q.data_len, 4);
	assert_int_equal(be32_get(q.data), QP_PROTOCOL_VERSION);
	assert_int_equal(q.nauth, -1);
	assert_string_equal(qpkt_type_name(q.type), "LEADERINFO");
	buf_release(&b);
}

/* Every prefix of a stream of packets is "not yet"; the whole one decodes packet by packet. */
static void test_stream_in_pieces(void **state)
{
	struct buf b = BUF_INIT;
	struct qpkt q;
	size_t cut, off;
	ssize_t n;
	int count;

	qpkt_encode(&b, QP_UPTODATE, -1, NULL, -1);
	qpkt_encode(&b, QP_PROPOSAL, 0x100000001LL, "payload", 7);
	/* A REQUEST with authinfo: one Id (digest, "u:hash"). */
	buf_put_int(&b, QP_REQUEST);
	buf_put_long(&b, -1);
	buf_put_buffer(&b, "req", 3);
	buf_put_int(&b, 1);
	buf_put_str(&b, "digest", 6);
	buf_put_str(&b, "u:hash", 6);
	for (cut = 0; cut < 16; cut++)
		assert_int_equal(qpkt_decode(b.p, cut, 1 << 20, &q), 0);
	for (off = 0, count = 0; off < b.len; off += (size_t)n, count++) {
		/* A packet cut anywhere before its end is not there yet. */
		n = qpkt_decode(b.p + off, b.len - off, 1 << 20, &q);
		assert_true(n > 0);
		for (cut = 0; cut < (size_t)n; cut++)
			assert_int_equal(qpkt_decode(b.p + off, cut, 1 << 20, &q), 0);
		n = qpkt_decode(b.p + off, b.len - off, 1 << 20, &q);
		if (count == 0) {
			assert_int_equal(q.type, QP_UPTODATE);
			assert_null(q.data);
			assert_int_equal(q.data_len, -1);
		} else if (count == 1) {
			assert_int_equal(q.type, QP_PROPOSAL);
			assert_memory_equal(q.data, "payload", 7);
		} else {
			assert_int_equal(q.type, QP_REQUEST);
			assert_int_equal(q.nauth, 1);
			assert_int_equal(q.auth_len, 4 + 6 + 4 + 6);
		}
	}
	assert_int_equal(count, 3);
	buf_release(&b);
}

static void test_malformed(void **state)
{
	struct buf b = BUF_INIT;
	struct qpkt q;

	/* data length -2 */
	buf_put_int(&b, QP_ACK);
	buf_put_long(&b, 5);
	buf_put_int(&b, -2);
	assert_int_equal(qpkt_decode(b.p, b.len, 1 << 20, &q), -1);
	/* data over the limit */
	buf_reset(&b);
	buf_put_int(&b, QP_PROPOSAL);
	buf_put_long(&b, 5);
	buf_put_int(&b, (1 << 20) + 1);
	assert_int_equal(qpkt_decode(b.p, b.len, 1 << 20, &q), -1);
	/* authinfo count -5, or more Ids than the limit allows */
	buf_reset(&b);
	qpkt_encode(&b, QP_PING, 1, NULL, -1);
	be32_put(b.p + b.len - 4, -5);
	assert_int_equal(qpkt_decode(b.p, b.len, 1 << 20, &q), -1);
	be32_put(b.p + b.len - 4, INT32_MAX);
	assert_int_equal(qpkt_decode(b.p, b.len, 1 << 20, &q), -1);
	buf_release(&b);
}

static void test_learner_info(void **state)
{
	struct buf b = BUF_INIT;
	int64_t sid, ver;
	int32_t proto;

	qpkt_learner_info(&b, 4, QP_PROTOCOL_VERSION, 0x100000000LL);
	assert_int_equal(b.len, 20);
	assert_int_equal(qpkt_learner_info_decode(b.p, b.len, &sid, &proto, &ver), 0);
	assert_int_equal(sid, 4);
	assert_int_equal(proto, QP_PROTOCOL_VERSION);
	assert_int_equal(ver, 0x100000000LL);
	/* Older forms: no configVersion, no protocolVersion. */
	assert_int_equal(qpkt_learner_info_decode(b.p, 12, &sid, &proto, &ver), 0);
	assert_int_equal(ver, 0);
	assert_int_equal(qpkt_learner_info_decode(b.p, 8, &sid, &proto, &ver), 0);
	assert_int_equal(proto, 0);
	assert_int_equal(qpkt_learner_info_decode(b.p, 7, &sid, &proto, &ver), -1);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaderinfo_bytes),
		cmocka_unit_test(test_stream_in_pieces),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_learner_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
