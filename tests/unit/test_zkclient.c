/* Unit tests for the parts of zkclient that need no server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zkclient.h"
#include "zkclient_i.h"

static size_t mkframe(uint8_t *out, const char *payload, int32_t len)
{
	be32_put(out, len);
	memcpy(out + 4, payload, (size_t)len);
	return (size_t)len + 4;
}

/* A frame split at every possible byte boundary is reassembled intact. */
static void test_framer_split_everywhere(void **state)
{
	uint8_t wire[64];
	size_t total = mkframe(wire, "hello, zookeeper", 16);
	size_t cut;

	for (cut = 0; cut <= total; cut++) {
		struct zkc_framer f;
		const uint8_t *p = wire;
		size_t n = cut;
		uint8_t *frame = NULL;
		int32_t len = -1;
		int r;

		zkc_framer_init(&f, 1024);
		r = zkc_framer_feed(&f, &p, &n, &frame, &len);
		if (cut < total) {
			assert_int_equal(r, 0);
			assert_int_equal(n, 0);
			n = total - cut;
			r = zkc_framer_feed(&f, &p, &n, &frame, &len);
		}
		assert_int_equal(r, 1);
		assert_int_equal(len, 16);
		assert_memory_equal(frame, "hello, zookeeper", 16);
		assert_int_equal(n, 0);
		free(frame);
		zkc_framer_release(&f);
	}
}

/* Several frames in one read come out one per call, leaving the rest unconsumed. */
static void test_framer_many_in_one_read(void **state)
{
	uint8_t wire[64];
	size_t total = 0;
	struct zkc_framer f;
	const uint8_t *p = wire;
	size_t n;
	uint8_t *frame;
	int32_t len;

	total += mkframe(wire + total, "ab", 2);
	total += mkframe(wire + total, "", 0);
	total += mkframe(wire + total, "xyz", 3);
	n = total;
	zkc_framer_init(&f, 1024);
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(frame, "ab", 2);
	free(frame);
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), 1);
	assert_int_equal(len, 0);
	assert_non_null(frame);
	free(frame);
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), 1);
	assert_int_equal(len, 3);
	free(frame);
	assert_int_equal(n, 0);
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), 0);
	zkc_framer_release(&f);
}

/* A negative or oversized length is an error, before anything is allocated for it. */
static void test_framer_rejects_bad_length(void **state)
{
	uint8_t neg[4] = { 0xff, 0xff, 0xff, 0xfe }, big[4] = { 0, 0, 4, 1 };
	struct zkc_framer f;
	const uint8_t *p;
	size_t n;
	uint8_t *frame;
	int32_t len;

	zkc_framer_init(&f, 1024);
	p = neg;
	n = 4;
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), ZMARSHALLINGERROR);
	zkc_framer_release(&f);
	zkc_framer_init(&f, 1024);
	p = big;
	n = 4;
	assert_int_equal(zkc_framer_feed(&f, &p, &n, &frame, &len), ZMARSHALLINGERROR);
	zkc_framer_release(&f);
}

/* Server lists: ports default to 2181, the chroot is split off, junk is refused. */
static void test_parse_servers(void **state)
{
	struct zkc_hostport *h;
	int n;
	char *chroot;

	assert_int_equal(zkc_parse_servers("a:1,b,[::1]:3/app/x", &h, &n, &chroot), 0);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].host, "a");
	assert_int_equal(h[0].port, 1);
	assert_string_equal(h[1].host, "b");
	assert_int_equal(h[1].port, 2181);
	assert_string_equal(h[2].host, "::1");
	assert_int_equal(h[2].port, 3);
	assert_string_equal(chroot, "/app/x");
	free(h);
	free(chroot);
	assert_int_equal(zkc_parse_servers("127.0.0.1:2181/", &h, &n, &chroot), 0);
	assert_string_equal(chroot, "");
	free(h);
	free(chroot);
	assert_int_equal(zkc_parse_servers("", &h, &n, &chroot), ZBADARGUMENTS);
	assert_int_equal(zkc_parse_servers("h:0", &h, &n, &chroot), ZBADARGUMENTS);
	assert_int_equal(zkc_parse_servers("h:12x", &h, &n, &chroot), ZBADARGUMENTS);
	assert_int_equal(zkc_parse_servers("h:1/a/", &h, &n, &chroot), ZBADARGUMENTS);
	assert_int_equal(zkc_parse_servers(",", &h, &n, &chroot), ZBADARGUMENTS);
}

/* One-shot watches are dropped by the events that fire them; persistent ones stay. */
static void test_watches_fire_rules(void **state)
{
	struct zkc_watches *w = zkc_watches_new();

	zkc_watches_add(w, "/a", ZKC_W_DATA | ZKC_W_CHILD);
	zkc_watches_add(w, "/r", ZKC_W_RECURSIVE);
	zkc_watches_fired(w, ZEV_DATA_CHANGED, "/a");
	assert_int_equal(zkc_watches_get(w, "/a"), ZKC_W_CHILD);
	zkc_watches_fired(w, ZEV_DELETED, "/a");
	assert_int_equal(zkc_watches_get(w, "/a"), 0);
	zkc_watches_fired(w, ZEV_DELETED, "/r");
	assert_int_equal(zkc_watches_get(w, "/r"), ZKC_W_RECURSIVE);
	assert_int_equal(zkc_watches_count(w), 1);
	zkc_watches_free(w);
}

/* The re-arm request lists each path under its kinds with the chroot prefixed, and uses
 * setWatches2 only when a persistent watch exists. */
static void test_watches_request(void **state)
{
	struct zkc_watches *w = zkc_watches_new();
	struct zk_req req;

	assert_int_equal(zkc_watches_request(w, "", 5, &req), ZNOTHING);
	zkc_watches_add(w, "/a", ZKC_W_DATA);
	zkc_watches_add(w, "/", ZKC_W_CHILD);
	assert_int_equal(zkc_watches_request(w, "/ch", 7, &req), 0);
	assert_int_equal(req.type, ZOP_SETWATCHES);
	assert_int_equal(req.rel_zxid, 7);
	assert_int_equal(req.watches[0].n, 1);
	assert_string_equal(req.watches[0].v[0], "/ch/a");
	assert_int_equal(req.watches[2].n, 1);
	assert_string_equal(req.watches[2].v[0], "/ch");
	zk_req_release(&req);
	zkc_watches_add(w, "/", ZKC_W_RECURSIVE);
	assert_int_equal(zkc_watches_request(w, "", 7, &req), 0);
	assert_int_equal(req.type, ZOP_SETWATCHES2);
	assert_int_equal(req.watches[4].n, 1);
	assert_string_equal(req.watches[4].v[0], "/");
	zk_req_release(&req);
	zkc_watches_free(w);
}

/* A client closed before it ever connected runs its close callback and frees itself. */
static int closed;
static void close_cb(struct zkc *c, void *arg)
{
	closed++;
}

static void req_cb(struct zkc *c, int rc, const struct zk_resp *resp, void *arg)
{
	*(int *)arg = rc;
}

/* Requests queued while no server answers fail with ZCLOSING at close, not silently. */
static void test_close_fails_queued(void **state)
{
	uv_loop_t loop;
	struct zkc *c;
	struct zkc_opts o;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	o.servers = "127.0.0.1:1";
	uv_loop_init(&loop);
	assert_int_equal(zkc_new(&loop, &o, &c), 0);
	assert_int_equal(zkc_get_data(c, "/x", 0, req_cb, &rc), 0);
	assert_int_equal(zkc_get_data(c, "relative", 0, req_cb, &rc), ZBADARGUMENTS);
	uv_run(&loop, UV_RUN_NOWAIT);
	closed = 0;
	zkc_close(c, close_cb, NULL);
	assert_int_equal(rc, ZCLOSING);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A request that cannot be sent times out with ZOPERATIONTIMEOUT after its deadline. */
static void test_request_timeout(void **state)
{
	uv_loop_t loop;
	struct zkc *c;
	struct zkc_opts o;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	o.servers = "127.0.0.1:1";
	o.request_timeout_ms = 120;
	uv_loop_init(&loop);
	assert_int_equal(zkc_new(&loop, &o, &c), 0);
	assert_int_equal(zkc_exists(c, "/x", 0, req_cb, &rc), 0);
	while (rc == 1)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(rc, ZOPERATIONTIMEOUT);
	zkc_close(c, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_split_everywhere),
		cmocka_unit_test(test_framer_many_in_one_read),
		cmocka_unit_test(test_framer_rejects_bad_length),
		cmocka_unit_test(test_parse_servers),
		cmocka_unit_test(test_watches_fire_rules),
		cmocka_unit_test(test_watches_request),
		cmocka_unit_test(test_close_fails_queued),
		cmocka_unit_test(test_request_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
