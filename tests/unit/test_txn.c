#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "txn.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static void hdr(struct zk_txn *t, int32_t type)
{
	memset(t, 0, sizeof(*t));
	t->hdr.client_id = 0x0100007fc7110000LL;
	t->hdr.cxid = 42;
	t->hdr.zxid = 0x100000007LL;
	t->hdr.time = 0x1a207763b5dLL;
	t->hdr.type = type;
}

static void acl1(struct zk_acl_list *a, int32_t perms, const char *scheme, const char *id)
{
	a->n = 1;
	a->packed = 0;
	a->v = calloc(1, sizeof(*a->v));
	a->v[0].perms = perms;
	a->v[0].id.scheme = strdup(scheme);
	a->v[0].id.id = strdup(id);
}

static struct zk_txn_op *add(struct zk_txn *t, int32_t type, const char *path, const char *data)
{
	struct zk_txn_op *o = txn_add_op(t);

	assert_non_null(o);
	o->type = type;
	if (path)
		o->path = strdup(path);
	if (data) {
		o->data_len = (int32_t)strlen(data);
		o->data = (uint8_t *)strdup(data);
	}
	return o;
}

static void assert_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_op_equal(const struct zk_txn_op *a, const struct zk_txn_op *b)
{
	assert_int_equal(a->type, b->type);
	assert_str_eq(a->path, b->path);
	assert_int_equal(a->data_len, b->data_len);
	if (a->data_len > 0)
		assert_memory_equal(a->data, b->data, (size_t)a->data_len);
	assert_true((a->data == NULL) == (b->data == NULL));
	assert_true(zk_acl_list_equal(&a->acl, &b->acl));
	assert_int_equal(a->ephemeral, b->ephemeral);
	assert_int_equal(a->parent_cversion, b->parent_cversion);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->err, b->err);
}

static void assert_txn_equal(const struct zk_txn *a, const struct zk_txn *b)
{
	int32_t i;

	assert_memory_equal(&a->hdr.client_id, &b->hdr.client_id, sizeof(int64_t));
	assert_int_equal(a->hdr.cxid, b->hdr.cxid);
	assert_int_equal(a->hdr.zxid, b->hdr.zxid);
	assert_int_equal(a->hdr.time, b->hdr.time);
	assert_int_equal(a->hdr.type, b->hdr.type);
	assert_int_equal(a->timeout, b->timeout);
	assert_int_equal(a->close_paths.n < 0 ? 0 : a->close_paths.n, b->close_paths.n);
	for (i = 0; i < b->close_paths.n; i++)
		assert_string_equal(a->close_paths.v[i], b->close_paths.v[i]);
	assert_int_equal(a->nops, b->nops);
	for (i = 0; i < a->nops; i++)
		assert_op_equal(&a->ops[i], &b->ops[i]);
	assert_int_equal(a->has_digest, b->has_digest);
	if (a->has_digest)
		assert_int_equal(a->digest, b->digest);
}

/* Encodes t (with and without a digest), decodes, compares, releases t. */
static void roundtrip(struct zk_txn *t)
{
	int pass;

	for (pass = 0; pass < 2; pass++) {
		struct buf b = BUF_INIT;
		struct zk_txn d;

		t->has_digest = pass;
		t->digest = pass ? 0x173adb887LL : 0;
		txn_encode(t, &b);
		assert_false(b.oom);
		assert_int_equal(txn_decode(&d, b.p, b.len), 0);
		assert_txn_equal(t, &d);
		txn_release(&d);
		buf_release(&b);
	}
	txn_release(t);
}

static int decode_bytes(struct buf *b, struct zk_txn *out)
{
	int rc = txn_decode(out, b->p, b->len);

	buf_release(b);
	return rc;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* createSession and closeSession (with paths, empty, null list) round-trip. */
static void test_session_txns(void **state)
{
	struct zk_txn t;

	(void)state;
	hdr(&t, ZOP_CREATESESSION);
	t.timeout = 30000;
	roundtrip(&t);
	hdr(&t, ZOP_CLOSESESSION);
	zk_strvec_push(&t.close_paths, "/e1");
	zk_strvec_push(&t.close_paths, "/a/e2");
	roundtrip(&t);
	hdr(&t, ZOP_CLOSESESSION);
	roundtrip(&t);
	/* A null list is written as an empty one. */
	hdr(&t, ZOP_CLOSESESSION);
	t.close_paths.n = -1;
	roundtrip(&t);
}

/* closeSession from older logs carries no record, with or without a digest after it. */
static void test_close_session_without_record(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_txn t;

	(void)state;
	buf_put_long(&b, 5);
	buf_put_int(&b, 0);
	buf_put_long(&b, 9);
	buf_put_long(&b, 1000);
	buf_put_int(&b, ZOP_CLOSESESSION);
	assert_int_equal(decode_bytes(&b, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_CLOSESESSION);
	assert_int_equal(t.hdr.client_id, 5);
	assert_int_equal(t.nops, 0);
	assert_int_equal(t.close_paths.n, 0);
	assert_null(t.close_paths.v);
	assert_false(t.has_digest);
	txn_release(&t);

	buf_put_long(&b, 5);
	buf_put_int(&b, 0);
	buf_put_long(&b, 9);
	buf_put_long(&b, 1000);
	buf_put_int(&b, ZOP_CLOSESESSION);
	buf_put_int(&b, 2);
	buf_put_long(&b, 0x1234);
	assert_int_equal(decode_bytes(&b, &t), 0);
	assert_int_equal(t.close_paths.n, 0);
	assert_true(t.has_digest);
	assert_int_equal(t.digest, 0x1234);
	txn_release(&t);

	/* A 12-byte record (one 4-byte path) without a digest is a record, not a digest. */
	buf_put_long(&b, 5);
	buf_put_int(&b, 0);
	buf_put_long(&b, 9);
	buf_put_long(&b, 1000);
	buf_put_int(&b, ZOP_CLOSESESSION);
	buf_put_int(&b, 1);
	buf_put_str(&b, "/abc", -1);
	assert_int_equal(decode_bytes(&b, &t), 0);
	assert_int_equal(t.close_paths.n, 1);
	assert_string_equal(t.close_paths.v[0], "/abc");
	assert_false(t.has_digest);
	txn_release(&t);
}

/* Every create flavour round-trips, incl. null vs empty data and ACLs. */
static void test_create_txns(void **state)
{
	struct zk_txn t;
	struct zk_txn_op *o;

	(void)state;
	hdr(&t, ZOP_CREATE);
	o = add(&t, ZOP_CREATE, "/a", "hello");
	acl1(&o->acl, 31, "world", "anyone");
	o->ephemeral = 1;
	o->parent_cversion = 3;
	roundtrip(&t);
	hdr(&t, ZOP_CREATE2);
	o = add(&t, ZOP_CREATE2, "/a/b", NULL);
	acl1(&o->acl, 1, "digest", "u:xyz=");
	o->parent_cversion = 0x7fffffff;
	roundtrip(&t);
	hdr(&t, ZOP_CREATE);
	o = add(&t, ZOP_CREATE, "/empty", "");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 1;
	roundtrip(&t);
	hdr(&t, ZOP_CREATECONTAINER);
	o = add(&t, ZOP_CREATECONTAINER, "/c", "x");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 9;
	roundtrip(&t);
	hdr(&t, ZOP_CREATETTL);
	o = add(&t, ZOP_CREATETTL, "/t", "y");
	acl1(&o->acl, 31, "ip", "127.0.0.1");
	o->parent_cversion = 2;
	o->ttl = 0xFFFFFFFFFFLL;
	roundtrip(&t);
}

/* CreateTxnV0 (no parentCVersion) decodes with parent_cversion -1. */
static void test_create_v0(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_txn t;
	struct zk_acl_list a;

	(void)state;
	acl1(&a, 31, "world", "anyone");
	buf_put_long(&b, 1);
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_long(&b, 3);
	buf_put_int(&b, ZOP_CREATE);
	buf_put_str(&b, "/old", -1);
	buf_put_buffer(&b, "d", 1);
	zk_acl_list_put(&b, &a);
	buf_put_bool(&b, 0);
	zk_acl_list_release(&a);
	assert_int_equal(decode_bytes(&b, &t), 0);
	assert_int_equal(t.nops, 1);
	assert_string_equal(t.ops[0].path, "/old");
	assert_int_equal(t.ops[0].parent_cversion, -1);
	txn_release(&t);
}

/* delete, deleteContainer, setData, reconfig, setACL, check and error round-trip. */
static void test_other_txns(void **state)
{
	struct zk_txn t;
	struct zk_txn_op *o;

	(void)state;
	hdr(&t, ZOP_DELETE);
	add(&t, ZOP_DELETE, "/a", NULL);
	roundtrip(&t);
	hdr(&t, ZOP_DELETECONTAINER);
	add(&t, ZOP_DELETECONTAINER, "/c", NULL);
	roundtrip(&t);
	hdr(&t, ZOP_SETDATA);
	o = add(&t, ZOP_SETDATA, "/a", "new");
	o->version = 7;
	roundtrip(&t);
	hdr(&t, ZOP_SETDATA);
	o = add(&t, ZOP_SETDATA, "/a", NULL);
	o->version = 8;
	roundtrip(&t);
	hdr(&t, ZOP_RECONFIG);
	o = add(&t, ZOP_RECONFIG, "/zookeeper/config", "server.1=h:1:2\nversion=1");
	o->version = -1;
	roundtrip(&t);
	hdr(&t, ZOP_SETACL);
	o = add(&t, ZOP_SETACL, "/a", NULL);
	o->acl.n = 2;
	o->acl.packed = 0;
	o->acl.v = calloc(2, sizeof(*o->acl.v));
	o->acl.v[0].perms = 1;
	o->acl.v[0].id.scheme = strdup("world");
	o->acl.v[0].id.id = strdup("anyone");
	o->acl.v[1].perms = 31;
	o->acl.v[1].id.scheme = strdup("auth");
	o->acl.v[1].id.id = strdup("");
	o->version = 4;
	roundtrip(&t);
	hdr(&t, ZOP_CHECK);
	o = add(&t, ZOP_CHECK, "/a", NULL);
	o->version = 3;
	roundtrip(&t);
	hdr(&t, ZOP_ERROR);
	o = add(&t, ZOP_ERROR, NULL, NULL);
	o->err = ZNODEEXISTS;
	roundtrip(&t);
}

/* A multi of every sub-txn type, and a failed multi with its ErrorTxns, round-trip. */
static void test_multi_txns(void **state)
{
	struct zk_txn t;
	struct zk_txn_op *o;

	(void)state;
	hdr(&t, ZOP_MULTI);
	o = add(&t, ZOP_CREATE, "/m1", "1");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 5;
	o = add(&t, ZOP_CREATE2, "/m2", NULL);
	acl1(&o->acl, 31, "world", "anyone");
	o->ephemeral = 1;
	o->parent_cversion = 6;
	o = add(&t, ZOP_CREATECONTAINER, "/m3", "");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 7;
	o = add(&t, ZOP_CREATETTL, "/m4", "x");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 8;
	o->ttl = 1000;
	add(&t, ZOP_CHECK, "/a", NULL)->version = 2;
	add(&t, ZOP_SETDATA, "/a", "v")->version = 3;
	add(&t, ZOP_DELETE, "/d", NULL);
	add(&t, ZOP_DELETECONTAINER, "/dc", NULL);
	roundtrip(&t);

	hdr(&t, ZOP_MULTI);
	o = add(&t, ZOP_CREATE, "/m1", "");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 5;
	add(&t, ZOP_ERROR, NULL, NULL)->err = ZNONODE;
	add(&t, ZOP_ERROR, NULL, NULL)->err = ZRUNTIMEINCONSISTENCY;
	roundtrip(&t);

	hdr(&t, ZOP_MULTI);
	roundtrip(&t);
}

/* The observed failed-multi tail decodes to ops {create, error -101, error -2}. */
static void test_multi_observed_layout(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_txn t;

	(void)state;
	hdr(&t, ZOP_MULTI);
	txn_add_op(&t)->type = ZOP_ERROR;
	t.ops[0].err = ZNONODE;
	txn_encode(&t, &b);
	txn_release(&t);
	/* count 1 | type -1, length 4, err */
	assert_int_equal(b.len, 32 + 4 + 4 + 4 + 4);
	assert_int_equal(be32_get(b.p + 32), 1);
	assert_int_equal(be32_get(b.p + 36), -1);
	assert_int_equal(be32_get(b.p + 40), 4);
	assert_int_equal(be32_get(b.p + 44), ZNONODE);
	buf_release(&b);
}

/* Hostile or damaged payloads are rejected without reading out of bounds. */
static void test_decode_rejects(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_txn t, d;
	struct zk_txn_op *o;
	size_t cut;

	(void)state;
	/* Truncations of a multi: every cut inside a record fails. */
	hdr(&t, ZOP_MULTI);
	o = add(&t, ZOP_CREATE, "/m1", "data");
	acl1(&o->acl, 31, "world", "anyone");
	o->parent_cversion = 5;
	add(&t, ZOP_SETDATA, "/a", "v")->version = 3;
	txn_encode(&t, &b);
	txn_release(&t);
	for (cut = 0; cut < b.len; cut++)
		assert_int_equal(txn_decode(&d, b.p, cut), ZMARSHALLINGERROR);
	assert_int_equal(txn_decode(&d, b.p, b.len), 0);
	txn_release(&d);
	/* A sub-record length beyond the payload. */
	be32_put(b.p + 32 + 4 + 4, 0x7ffffff0);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	/* A negative sub-record length. */
	be32_put(b.p + 32 + 4 + 4, -7);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	/* A count larger than the bytes left. */
	be32_put(b.p + 32, 0x10000000);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	buf_release(&b);

	/* A nested multi and an unknown type. */
	hdr(&t, ZOP_MULTI);
	add(&t, ZOP_DELETE, "/x", NULL);
	txn_encode(&t, &b);
	txn_release(&t);
	be32_put(b.p + 36, ZOP_MULTI);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	be32_put(b.p + 28, 77);	/* top-level type */
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	buf_release(&b);

	/* A null path where one is required; a negative string length. */
	hdr(&t, ZOP_DELETE);
	add(&t, ZOP_DELETE, "/x", NULL);
	txn_encode(&t, &b);
	txn_release(&t);
	be32_put(b.p + 32, -1);
	assert_int_equal(txn_decode(&d, b.p, 36), ZMARSHALLINGERROR);
	be32_put(b.p + 32, -9);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	buf_release(&b);

	/* A hostile ACL count in a create. */
	hdr(&t, ZOP_CREATE);
	o = add(&t, ZOP_CREATE, "/a", "");
	acl1(&o->acl, 31, "world", "anyone");
	txn_encode(&t, &b);
	txn_release(&t);
	be32_put(b.p + 32 + 4 + 2 + 4, 0x01000000);
	assert_int_equal(txn_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_txns),
		cmocka_unit_test(test_close_session_without_record),
		cmocka_unit_test(test_create_txns),
		cmocka_unit_test(test_create_v0),
		cmocka_unit_test(test_other_txns),
		cmocka_unit_test(test_multi_txns),
		cmocka_unit_test(test_multi_observed_layout),
		cmocka_unit_test(test_decode_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
