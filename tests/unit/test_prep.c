/*
 * Unit tests for ensemble/prep.c: Apache's PrepRequestProcessor order and codes
 * (client-protocol.md §7.2-§7.7, §8.3, §14), the outstanding-changes list, and the txns
 * it logs (server-formats.md §4). Every txn prep makes is applied to a real datatree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "prep.h"

#define SID 0x0100000012340000LL
#define SID2 0x0100000012340001LL
#define NOW 1700000000000LL
#define CONTAINER_OWNER ((int64_t)0x8000000000000000ULL)

struct fx {
	struct zk_tree *t;
	struct zk_prep *p;
	struct zk_ids ids;
	int64_t zxid;
	int32_t xid;
};

static struct fx *fx_new(int extended, int skip_acl)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct prep_opts o = { extended, skip_acl };

	assert_non_null(f);
	f->t = tree_new();
	assert_non_null(f->t);
	f->p = prep_new(f->t, &o);
	assert_non_null(f->p);
	ids_init(&f->ids, "127.0.0.1");
	return f;
}

static void fx_free(struct fx *f)
{
	prep_free(f->p);
	tree_free(f->t);
	ids_release(&f->ids);
	free(f);
}

static void set_acl1(struct zk_acl_list *a, int32_t perms, const char *scheme, const char *id)
{
	zk_acl_list_release(a);
	a->n = 1;
	a->packed = 0;
	a->v = calloc(1, sizeof(*a->v));
	a->v[0].perms = perms;
	a->v[0].id.scheme = scheme ? strdup(scheme) : NULL;
	a->v[0].id.id = id ? strdup(id) : NULL;
}

/* A request with OPEN_ACL_UNSAFE, null data, version -1. */
static void req_init(struct fx *f, struct zk_req *q, int32_t type, const char *path)
{
	memset(q, 0, sizeof(*q));
	q->xid = ++f->xid;
	q->type = type;
	if (path) {
		q->path = strdup(path);
		q->path_len = (int32_t)strlen(path);
	} else {
		q->path_len = -1;
	}
	q->data_len = -1;
	q->version = -1;
	q->ttl = -1;
	set_acl1(&q->acl, ZPERM_ALL, "world", "anyone");
}

static void req_data(struct zk_req *q, const char *data)
{
	free(q->data);
	q->data = (uint8_t *)strdup(data);
	q->data_len = (int32_t)strlen(data);
}

/* Prepares q (from session sid) with the next zxid; the txn must be released. */
static void prep_as(struct fx *f, const struct zk_req *q, int64_t sid, struct zk_txn *t)
{
	f->zxid++;
	assert_int_equal(prep_request(f->p, q, sid, &f->ids, f->zxid, NOW + f->zxid, t), 0);
	assert_int_equal(t->hdr.zxid, f->zxid);
	assert_int_equal(t->hdr.client_id, sid);
	assert_int_equal(t->hdr.cxid, q->xid);
	assert_int_equal(t->hdr.time, NOW + f->zxid);
	assert_int_equal(t->has_digest, 0);
}

/* Applies a prepared txn to the tree and tells prep; returns the reply's err. */
static int apply(struct fx *f, struct zk_txn *t, struct zk_resp *out)
{
	struct zk_resp r;
	int err;

	memset(&r, 0, sizeof(r));
	assert_int_equal(tree_apply(f->t, t, &r, NULL, NULL), 0);
	prep_applied(f->p, t->hdr.zxid);
	err = r.err;
	if (out)
		*out = r;
	else
		zk_resp_release(&r);
	txn_release(t);
	return err;
}

/* The code prep gives q: 0 for a normal txn, else the error txn's code. Applied. */
static int run(struct fx *f, struct zk_req *q)
{
	struct zk_txn t;
	int rc = 0;

	prep_as(f, q, SID, &t);
	if (t.hdr.type == ZOP_ERROR) {
		assert_int_equal(t.nops, 1);
		assert_int_equal(t.ops[0].type, ZOP_ERROR);
		rc = t.ops[0].err;
		assert_int_not_equal(rc, 0);
	}
	apply(f, &t, NULL);
	zk_req_release(q);
	return rc;
}

static int create_flags(struct fx *f, const char *path, int32_t flags)
{
	struct zk_req q;

	req_init(f, &q, ZOP_CREATE, path);
	q.flags = flags;
	return run(f, &q);
}

static int create(struct fx *f, const char *path)
{
	return create_flags(f, path, 0);
}

static struct zk_stat stat_of(struct fx *f, const char *path)
{
	const struct zk_node *n = tree_lookup(f->t, path);
	struct zk_stat st;

	assert_non_null(n);
	node_stat(n, &st);
	return st;
}

/* ---- create ---------------------------------------------------------------------------- */

/* A create logs CreateTxn{path, data, acl, ephemeral 0, parentCVersion C+1} under the
 * request's header, and the tree applies it as Apache does. */
static void test_create_txn(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;
	struct zk_stat st;

	req_init(f, &q, ZOP_CREATE, "/a");
	req_data(&q, "hello");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_CREATE);
	assert_int_equal(t.nops, 1);
	assert_int_equal(t.ops[0].type, ZOP_CREATE);
	assert_string_equal(t.ops[0].path, "/a");
	assert_int_equal(t.ops[0].data_len, 5);
	assert_memory_equal(t.ops[0].data, "hello", 5);
	assert_int_equal(t.ops[0].acl.n, 1);
	assert_string_equal(t.ops[0].acl.v[0].id.scheme, "world");
	assert_int_equal(t.ops[0].ephemeral, 0);
	assert_int_equal(t.ops[0].parent_cversion, 1);	/* "/" has C = 0 in a fresh tree */
	assert_int_equal(apply(f, &t, NULL), 0);
	zk_req_release(&q);
	st = stat_of(f, "/a");
	assert_int_equal(st.czxid, f->zxid);
	assert_int_equal(st.ctime, NOW + f->zxid);
	/* create2 logs as 15 (3.8.2+), null data stays null */
	req_init(f, &q, ZOP_CREATE2, "/b");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_CREATE2);
	assert_int_equal(t.ops[0].type, ZOP_CREATE2);
	assert_int_equal(t.ops[0].data_len, -1);
	assert_int_equal(t.ops[0].parent_cversion, 2);
	apply(f, &t, NULL);
	zk_req_release(&q);
	fx_free(f);
}

/* Ephemeral modes set ephemeral in the CreateTxn; containers and TTL nodes get their own
 * txn types; TTL needs extendedTypesEnabled. */
static void test_create_kinds(void **state)
{
	struct fx *f = fx_new(1, 0);
	struct zk_req q;
	struct zk_txn t;

	req_init(f, &q, ZOP_CREATE, "/e");
	q.flags = ZMODE_EPHEMERAL;
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.ops[0].ephemeral, 1);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(node_ephemeral_owner(tree_lookup(f->t, "/e")), SID);

	req_init(f, &q, ZOP_CREATE, "/es-");
	q.flags = ZMODE_EPHEMERAL_SEQUENTIAL;
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.ops[0].ephemeral, 1);
	assert_string_equal(t.ops[0].path, "/es-0000000001");
	apply(f, &t, NULL);
	zk_req_release(&q);

	req_init(f, &q, ZOP_CREATECONTAINER, "/c");
	q.flags = ZMODE_CONTAINER;
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_CREATECONTAINER);
	assert_int_equal(t.ops[0].type, ZOP_CREATECONTAINER);
	assert_int_equal(t.ops[0].ephemeral, 0);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(node_ephemeral_owner(tree_lookup(f->t, "/c")), CONTAINER_OWNER);

	req_init(f, &q, ZOP_CREATETTL, "/t");
	q.flags = ZMODE_PERSISTENT_WITH_TTL;
	q.ttl = 5000;
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_CREATETTL);
	assert_int_equal(t.ops[0].ttl, 5000);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(node_ephemeral_owner(tree_lookup(f->t, "/t")),
			 (int64_t)(0xFF00000000000000ULL | 5000));
	/* children of containers and TTL nodes are fine; of ephemerals not */
	assert_int_equal(create(f, "/c/x"), 0);
	assert_int_equal(create(f, "/t/x"), 0);
	assert_int_equal(create(f, "/e/x"), ZNOCHILDRENFOREPHEMERALS);

	/* TTL bounds: 0 < ttl <= 0xFFFFFFFFFF */
	req_init(f, &q, ZOP_CREATETTL, "/t2");
	q.flags = ZMODE_PERSISTENT_WITH_TTL;
	q.ttl = 0;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_CREATETTL, "/t2");
	q.flags = ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
	q.ttl = 0x10000000000LL;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_CREATETTL, "/t2-");
	q.flags = ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
	q.ttl = 0xFFFFFFFFFFLL;
	assert_int_equal(run(f, &q), 0);
	/* a TTL mode through opcode 1 has ttl -1: BADARGUMENTS */
	assert_int_equal(create_flags(f, "/t3", ZMODE_PERSISTENT_WITH_TTL), ZBADARGUMENTS);
	/* createTTL with a non-TTL mode: refused (Apache 3.8.0 logs it and then dies
	 * applying it) */
	req_init(f, &q, ZOP_CREATETTL, "/t4");
	q.flags = ZMODE_PERSISTENT;
	q.ttl = -1;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	/* ttl >= 0 is invalid for a non-TTL mode */
	req_init(f, &q, ZOP_CREATETTL, "/t4");
	q.flags = ZMODE_PERSISTENT;
	q.ttl = 10;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	fx_free(f);

	f = fx_new(0, 0);
	req_init(f, &q, ZOP_CREATETTL, "/t");
	q.flags = ZMODE_PERSISTENT_WITH_TTL;
	q.ttl = 5000;
	assert_int_equal(run(f, &q), ZUNIMPLEMENTED);
	fx_free(f);
}

/* Create's validation order: flags, TTL, path shape, ACL fix-up, parent, CREATE on the
 * parent, sequential suffix + full path check, existence, ephemeral parent. Each row
 * breaks two rules; the earlier one must win. Failures are error txns that consume the
 * zxid and change nothing. */
static void test_create_order(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;

	assert_int_equal(create(f, "/a"), 0);
	assert_int_equal(create_flags(f, "/eph", ZMODE_EPHEMERAL), 0);
	/* bad flags beat a bad path; flags 7 and -1 are unknown too */
	assert_int_equal(create_flags(f, "nopath", 9), ZBADARGUMENTS);
	assert_int_equal(create_flags(f, "/x", 7), ZBADARGUMENTS);
	assert_int_equal(create_flags(f, "/x", -1), ZBADARGUMENTS);
	/* TTL without extended types beats an empty ACL */
	req_init(f, &q, ZOP_CREATE, "/x");
	q.flags = ZMODE_PERSISTENT_WITH_TTL;
	zk_acl_list_release(&q.acl);
	assert_int_equal(run(f, &q), ZUNIMPLEMENTED);
	/* a path without '/' beats an empty ACL */
	req_init(f, &q, ZOP_CREATE, "x");
	zk_acl_list_release(&q.acl);
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	/* an embedded NUL */
	req_init(f, &q, ZOP_CREATE, "/x");
	q.path = realloc(q.path, 5);
	memcpy(q.path, "/x\0y", 5);
	q.path_len = 4;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	/* a null path: Java dereferences it (MARSHALLINGERROR), but bad flags come first */
	req_init(f, &q, ZOP_CREATE, NULL);
	assert_int_equal(run(f, &q), ZMARSHALLINGERROR);
	req_init(f, &q, ZOP_CREATE, NULL);
	q.flags = 9;
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	/* ACL fix-up beats a missing parent; null and a bad scheme are INVALIDACL */
	req_init(f, &q, ZOP_CREATE, "/nope/x");
	zk_acl_list_release(&q.acl);
	q.acl.n = -1;
	assert_int_equal(run(f, &q), ZINVALIDACL);
	req_init(f, &q, ZOP_CREATE, "/nope/x");
	set_acl1(&q.acl, 31, "auth", "");
	assert_int_equal(run(f, &q), ZINVALIDACL);	/* ip is not an authenticated id */
	/* a null world id is a Java NullPointerException: MARSHALLINGERROR */
	req_init(f, &q, ZOP_CREATE, "/x");
	set_acl1(&q.acl, 31, "world", NULL);
	assert_int_equal(run(f, &q), ZMARSHALLINGERROR);
	/* a missing parent beats an invalid final path ("/nope/" -> parent "/nope") */
	assert_int_equal(create(f, "/nope/"), ZNONODE);
	/* the full path check comes after the parent: "/a/" is invalid, "/a/." too */
	assert_int_equal(create(f, "/a/"), ZBADARGUMENTS);
	assert_int_equal(create(f, "/a/."), ZBADARGUMENTS);
	assert_int_equal(create(f, "/a/.."), ZBADARGUMENTS);
	assert_int_equal(create(f, "/a/..."), 0);
	assert_int_equal(create(f, "/a/\x01"), ZBADARGUMENTS);
	assert_int_equal(create(f, "/a/\xc2\x80"), ZBADARGUMENTS);	/* U+0080 */
	assert_int_equal(create(f, "/a/\xff"), ZBADARGUMENTS);	/* not UTF-8 */
	assert_int_equal(create(f, "/a/\xf0\x9f\x98\x80"), ZBADARGUMENTS);	/* surrogates */
	assert_int_equal(create(f, "/a/\xc3\xa9"), 0);			/* é */
	/* ...but a sequential "/a/" gets its suffix first and is valid */
	assert_int_equal(create_flags(f, "/a/", ZMODE_PERSISTENT_SEQUENTIAL), 0);
	assert_non_null(tree_lookup(f->t, "/a/0000000002"));	/* after "..." and "é" */
	/* existence beats an ephemeral parent */
	assert_int_equal(create(f, "/a"), ZNODEEXISTS);
	assert_int_equal(create(f, "/"), ZNODEEXISTS);
	assert_int_equal(create(f, "/eph/c"), ZNOCHILDRENFOREPHEMERALS);
	/* an error txn: header type -1, one ErrorTxn, zxid consumed, nothing changed */
	req_init(f, &q, ZOP_CREATE, "/a");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_ERROR);
	assert_int_equal(t.nops, 1);
	assert_int_equal(t.ops[0].type, ZOP_ERROR);
	assert_int_equal(t.ops[0].err, ZNODEEXISTS);
	assert_int_equal(apply(f, &t, NULL), ZNODEEXISTS);
	zk_req_release(&q);
	assert_int_equal(tree_last_zxid(f->t), f->zxid);
	fx_free(f);
}

/* CREATE is needed on the parent (checked before existence); a digest identity or super
 * passes; zookeeper.skipACL bypasses everything. */
static void test_create_perms(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	char *digest = acl_digest("u:p");

	req_init(f, &q, ZOP_CREATE, "/r");
	set_acl1(&q.acl, ZPERM_ALL & ~ZPERM_CREATE, "world", "anyone");
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(create(f, "/r/x"), ZNOAUTH);
	/* NOAUTH beats NODEEXISTS: the node does not even get looked at */
	req_init(f, &q, ZOP_CREATE, "/d");
	set_acl1(&q.acl, ZPERM_ALL, "digest", digest);
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(create(f, "/d/x"), ZNOAUTH);
	ids_auth(&f->ids, "digest", (const uint8_t *)"u:p", 3, NULL);
	assert_int_equal(create(f, "/d/x"), 0);
	ids_release(&f->ids);
	ids_init(&f->ids, "127.0.0.1");
	assert_int_equal(create(f, "/d/x"), ZNOAUTH);	/* exists, but NOAUTH first */
	/* auth expands to the caller's digest ids */
	ids_auth(&f->ids, "digest", (const uint8_t *)"u:p", 3, NULL);
	req_init(f, &q, ZOP_CREATE, "/mine");
	set_acl1(&q.acl, ZPERM_ALL, "auth", "");
	assert_int_equal(run(f, &q), 0);
	assert_string_equal(node_acl(tree_lookup(f->t, "/mine"))->v[0].id.id, digest);
	ids_release(&f->ids);
	/* super bypasses */
	ids_init(&f->ids, "127.0.0.1");
	ids_auth(&f->ids, "digest", (const uint8_t *)"admin:pw", 8, NULL);
	assert_int_equal(create(f, "/r/y"), ZNOAUTH);
	ids_release(&f->ids);
	ids_init(&f->ids, "127.0.0.1");
	{
		char *sd = acl_digest("admin:pw");

		ids_auth(&f->ids, "digest", (const uint8_t *)"admin:pw", 8, sd);
		free(sd);
	}
	assert_int_equal(create(f, "/r/y"), 0);
	fx_free(f);
	/* skipACL */
	f = fx_new(0, 1);
	req_init(f, &q, ZOP_CREATE, "/r");
	set_acl1(&q.acl, 0, "world", "anyone");
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(create(f, "/r/x"), 0);
	fx_free(f);
	free(digest);
}

/* Sequential names are the parent's child-creation counter C before the create, %010d:
 * every create under the parent counts, deletes do not. */
static void test_sequential(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;

	assert_int_equal(create(f, "/s"), 0);
	assert_int_equal(create_flags(f, "/s/q-", ZMODE_PERSISTENT_SEQUENTIAL), 0);
	assert_non_null(tree_lookup(f->t, "/s/q-0000000000"));
	assert_int_equal(create(f, "/s/plain"), 0);
	req_init(f, &q, ZOP_DELETE, "/s/plain");
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(create_flags(f, "/s/q-", ZMODE_PERSISTENT_SEQUENTIAL), 0);
	assert_non_null(tree_lookup(f->t, "/s/q-0000000002"));
	assert_int_equal(node_child_counter(tree_lookup(f->t, "/s")), 3);
	/* root's C starts at 0 although it has /zookeeper */
	assert_int_equal(create_flags(f, "/", ZMODE_PERSISTENT_SEQUENTIAL), 0);
	assert_non_null(tree_lookup(f->t, "/0000000001"));
	fx_free(f);

	/* A counter at INT32_MAX wraps as a Java int: the next names print like Java's
	 * String.format("%010d", -2147483648). */
	f = fx_new(0, 0);
	memset(&t, 0, sizeof(t));
	t.hdr.client_id = SID;
	t.hdr.zxid = ++f->zxid;
	t.hdr.time = NOW;
	t.hdr.type = ZOP_CREATE;
	{
		struct zk_txn_op *o = txn_add_op(&t);

		o->type = ZOP_CREATE;
		o->path = strdup("/w");
		o->parent_cversion = 1;
		o = NULL;
	}
	assert_int_equal(apply(f, &t, NULL), 0);
	memset(&t, 0, sizeof(t));
	t.hdr.client_id = SID;
	t.hdr.zxid = ++f->zxid;
	t.hdr.time = NOW;
	t.hdr.type = ZOP_CREATE;
	{
		struct zk_txn_op *o = txn_add_op(&t);

		o->type = ZOP_CREATE;
		o->path = strdup("/w/x");
		o->parent_cversion = 2147483647;
	}
	assert_int_equal(apply(f, &t, NULL), 0);
	assert_int_equal(node_child_counter(tree_lookup(f->t, "/w")), 2147483647);
	req_init(f, &q, ZOP_CREATE, "/w/s");
	q.flags = ZMODE_PERSISTENT_SEQUENTIAL;
	prep_as(f, &q, SID, &t);
	assert_string_equal(t.ops[0].path, "/w/s2147483647");
	assert_int_equal(t.ops[0].parent_cversion, INT32_MIN);
	txn_release(&t);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/w/s");
	q.flags = ZMODE_PERSISTENT_SEQUENTIAL;
	prep_as(f, &q, SID, &t);
	assert_string_equal(t.ops[0].path, "/w/s-2147483648");
	txn_release(&t);
	zk_req_release(&q);
	{
		char want[32];

		snprintf(want, sizeof(want), "%010d", -1);
		assert_string_equal(want, "-000000001");	/* C's %010d is Java's */
	}
	fx_free(f);
}

/* ---- pipelining ------------------------------------------------------------------------ */

/* Txns prepared but not applied are seen by later requests: a second create of the same
 * path is NODEEXISTS, a sequential create counts the in-flight create, a delete in flight
 * frees the name, a child of an in-flight ephemeral is refused. */
static void test_outstanding(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t[8];
	int n = 0, i;

	assert_int_equal(create(f, "/p"), 0);
	req_init(f, &q, ZOP_CREATE, "/p/a");
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n++].ops[0].parent_cversion, 1);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/p/a");
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n].hdr.type, ZOP_ERROR);
	assert_int_equal(t[n++].ops[0].err, ZNODEEXISTS);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/p/s-");
	q.flags = ZMODE_PERSISTENT_SEQUENTIAL;
	prep_as(f, &q, SID, &t[n]);
	assert_string_equal(t[n].ops[0].path, "/p/s-0000000001");
	assert_int_equal(t[n++].ops[0].parent_cversion, 2);
	zk_req_release(&q);
	/* delete of the in-flight node, then create it again: both fine */
	req_init(f, &q, ZOP_DELETE, "/p/a");
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n++].hdr.type, ZOP_DELETE);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/p/a");
	q.flags = ZMODE_EPHEMERAL;
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n].hdr.type, ZOP_CREATE);
	assert_int_equal(t[n++].ops[0].parent_cversion, 3);
	zk_req_release(&q);
	/* the in-flight node is ephemeral: no children */
	req_init(f, &q, ZOP_CREATE, "/p/a/c");
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n++].ops[0].err, ZNOCHILDRENFOREPHEMERALS);
	zk_req_release(&q);
	/* the parent has in-flight children: NOTEMPTY */
	req_init(f, &q, ZOP_DELETE, "/p");
	prep_as(f, &q, SID, &t[n]);
	assert_int_equal(t[n++].ops[0].err, ZNOTEMPTY);
	zk_req_release(&q);
	for (i = 0; i < n; i++)
		apply(f, &t[i], NULL);
	assert_non_null(tree_lookup(f->t, "/p/a"));
	assert_non_null(tree_lookup(f->t, "/p/s-0000000001"));
	assert_int_equal(node_ephemeral_owner(tree_lookup(f->t, "/p/a")), SID);
	assert_int_equal(node_child_counter(tree_lookup(f->t, "/p")), 3);
	/* with everything applied, prep answers from the tree alone */
	assert_int_equal(create(f, "/p/a"), ZNODEEXISTS);
	fx_free(f);
}

/* Versions in flight count: two setData(version 0) in a row, the second is BADVERSION;
 * setData(version 1) after it is fine and logs version 2. */
static void test_outstanding_versions(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t[3];

	assert_int_equal(create(f, "/v"), 0);
	req_init(f, &q, ZOP_SETDATA, "/v");
	q.version = 0;
	prep_as(f, &q, SID, &t[0]);
	assert_int_equal(t[0].ops[0].version, 1);
	zk_req_release(&q);
	req_init(f, &q, ZOP_SETDATA, "/v");
	q.version = 0;
	prep_as(f, &q, SID, &t[1]);
	assert_int_equal(t[1].ops[0].err, ZBADVERSION);
	zk_req_release(&q);
	req_init(f, &q, ZOP_SETDATA, "/v");
	q.version = 1;
	req_data(&q, "x");
	prep_as(f, &q, SID, &t[2]);
	assert_int_equal(t[2].hdr.type, ZOP_SETDATA);
	assert_int_equal(t[2].ops[0].version, 2);
	zk_req_release(&q);
	apply(f, &t[0], NULL);
	apply(f, &t[1], NULL);
	apply(f, &t[2], NULL);
	assert_int_equal(stat_of(f, "/v").version, 2);
	fx_free(f);
}

/* prep_reset forgets in-flight changes (their txns were never logged); prep_applied keeps
 * the records of txns not yet applied. */
static void test_reset_applied(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t, t2;

	req_init(f, &q, ZOP_CREATE, "/r");
	prep_as(f, &q, SID, &t);
	txn_release(&t);
	prep_reset(f->p);
	f->zxid--;
	assert_int_equal(run(f, &q), 0);
	/* two in flight, the first applied: the second is still seen */
	req_init(f, &q, ZOP_CREATE, "/r/a");
	prep_as(f, &q, SID, &t);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/r/b");
	prep_as(f, &q, SID, &t2);
	zk_req_release(&q);
	apply(f, &t, NULL);
	req_init(f, &q, ZOP_CREATE, "/r/b");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.ops[0].err, ZNODEEXISTS);
	txn_release(&t);
	zk_req_release(&q);
	f->zxid--;
	apply(f, &t2, NULL);
	fx_free(f);
}

/* The root is "" as a parent and "/" as a path: a setACL of "/" in flight already guards
 * creates under the root. */
static void test_root_record(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;

	req_init(f, &q, ZOP_SETACL, "/");
	set_acl1(&q.acl, ZPERM_ALL & ~ZPERM_CREATE, "world", "anyone");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_SETACL);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/x");
	{
		struct zk_txn t2;

		prep_as(f, &q, SID, &t2);
		assert_int_equal(t2.ops[0].err, ZNOAUTH);
		txn_release(&t2);
	}
	zk_req_release(&q);
	apply(f, &t, NULL);
	fx_free(f);
}

/* ---- delete, setData, setACL ----------------------------------------------------------- */

/* Delete: protected paths and bad shapes -8, parent -101, DELETE on the parent -102
 * (before the node is looked at), node -101, version -103, children -111. */
static void test_delete(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	static const char *prot[] = { "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config" };
	size_t i;

	for (i = 0; i < 4; i++) {
		req_init(f, &q, ZOP_DELETE, prot[i]);
		assert_int_equal(run(f, &q), ZBADARGUMENTS);
	}
	req_init(f, &q, ZOP_DELETE, "noslash");
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_DELETE, NULL);
	assert_int_equal(run(f, &q), ZMARSHALLINGERROR);
	req_init(f, &q, ZOP_DELETE, "/no/x");
	assert_int_equal(run(f, &q), ZNONODE);
	req_init(f, &q, ZOP_CREATE, "/locked");
	set_acl1(&q.acl, ZPERM_ALL & ~ZPERM_DELETE, "world", "anyone");
	assert_int_equal(run(f, &q), 0);
	req_init(f, &q, ZOP_DELETE, "/locked/missing");
	assert_int_equal(run(f, &q), ZNOAUTH);
	req_init(f, &q, ZOP_DELETE, "/missing");
	assert_int_equal(run(f, &q), ZNONODE);
	assert_int_equal(create(f, "/d"), 0);
	assert_int_equal(create(f, "/d/c"), 0);
	req_init(f, &q, ZOP_DELETE, "/d");
	q.version = 3;
	assert_int_equal(run(f, &q), ZBADVERSION);	/* version before NOTEMPTY */
	req_init(f, &q, ZOP_DELETE, "/d");
	q.version = 0;
	assert_int_equal(run(f, &q), ZNOTEMPTY);
	req_init(f, &q, ZOP_DELETE, "/d/c");
	q.version = 0;
	assert_int_equal(run(f, &q), 0);
	req_init(f, &q, ZOP_DELETE, "/d");
	assert_int_equal(run(f, &q), 0);
	assert_null(tree_lookup(f->t, "/d"));
	/* delete does not run the full path check: "/a/" looks up "/a/" */
	assert_int_equal(create(f, "/a"), 0);
	req_init(f, &q, ZOP_DELETE, "/a/");
	assert_int_equal(run(f, &q), ZNONODE);
	fx_free(f);
}

/* setData: path check -8, node -101, WRITE -102, version -103; logs the new version; a
 * null path is BADARGUMENTS (PathUtils), not MARSHALLINGERROR. */
static void test_setdata(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;

	req_init(f, &q, ZOP_SETDATA, "/a/");
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_SETDATA, NULL);
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_SETDATA, "/missing");
	assert_int_equal(run(f, &q), ZNONODE);
	req_init(f, &q, ZOP_CREATE, "/ro");
	set_acl1(&q.acl, ZPERM_READ, "world", "anyone");
	assert_int_equal(run(f, &q), 0);
	req_init(f, &q, ZOP_SETDATA, "/ro");
	q.version = 7;
	assert_int_equal(run(f, &q), ZNOAUTH);	/* WRITE before version */
	assert_int_equal(create(f, "/w"), 0);
	req_init(f, &q, ZOP_SETDATA, "/w");
	q.version = 7;
	assert_int_equal(run(f, &q), ZBADVERSION);
	req_init(f, &q, ZOP_SETDATA, "/w");
	req_data(&q, "new");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_SETDATA);
	assert_string_equal(t.ops[0].path, "/w");
	assert_int_equal(t.ops[0].version, 1);
	assert_int_equal(t.ops[0].data_len, 3);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(stat_of(f, "/w").version, 1);
	/* setData on "/" is allowed (only deletes are protected) */
	req_init(f, &q, ZOP_SETDATA, "/");
	assert_int_equal(run(f, &q), 0);
	fx_free(f);
}

/* setACL: path -8, ACL fix-up -114 (before the node), node -101, ADMIN -102, aversion
 * -103; logs the new aversion and the expanded list. */
static void test_setacl(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t;
	char *digest = acl_digest("u:p");

	req_init(f, &q, ZOP_SETACL, "bad");
	assert_int_equal(run(f, &q), ZBADARGUMENTS);
	req_init(f, &q, ZOP_SETACL, "/missing");
	zk_acl_list_release(&q.acl);
	assert_int_equal(run(f, &q), ZINVALIDACL);
	req_init(f, &q, ZOP_SETACL, "/missing");
	assert_int_equal(run(f, &q), ZNONODE);
	req_init(f, &q, ZOP_CREATE, "/n");
	set_acl1(&q.acl, ZPERM_ALL & ~ZPERM_ADMIN, "world", "anyone");
	assert_int_equal(run(f, &q), 0);
	req_init(f, &q, ZOP_SETACL, "/n");
	q.version = 5;
	assert_int_equal(run(f, &q), ZNOAUTH);	/* ADMIN before aversion */
	assert_int_equal(create(f, "/m"), 0);
	req_init(f, &q, ZOP_SETACL, "/m");
	q.version = 5;
	assert_int_equal(run(f, &q), ZBADVERSION);
	ids_auth(&f->ids, "digest", (const uint8_t *)"u:p", 3, NULL);
	req_init(f, &q, ZOP_SETACL, "/m");
	q.version = 0;
	set_acl1(&q.acl, ZPERM_ALL, "auth", "");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_SETACL);
	assert_int_equal(t.ops[0].version, 1);
	assert_string_equal(t.ops[0].acl.v[0].id.scheme, "digest");
	assert_string_equal(t.ops[0].acl.v[0].id.id, digest);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(stat_of(f, "/m").aversion, 1);
	free(digest);
	fx_free(f);
}

/* ---- multi ----------------------------------------------------------------------------- */

static struct zk_req *multi_init(struct fx *f, struct zk_req *q, int nops)
{
	memset(q, 0, sizeof(*q));
	q->xid = ++f->xid;
	q->type = ZOP_MULTI;
	q->path_len = -1;
	q->data_len = -1;
	q->nops = nops;
	q->ops = calloc((size_t)nops, sizeof(*q->ops));
	return q->ops;
}

/* A successful multi: one txn, one zxid, each op its own type and record in order; later
 * ops see earlier ones (create then create a child, delete child then parent); check logs
 * version + 1 as Apache does. */
static void test_multi_success(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q, *ops;
	struct zk_txn t;
	struct zk_resp r;

	assert_int_equal(create(f, "/old"), 0);
	assert_int_equal(create(f, "/old/c"), 0);
	ops = multi_init(f, &q, 7);
	req_init(f, &ops[0], ZOP_CREATE, "/m");
	req_init(f, &ops[1], ZOP_CREATE2, "/m/c");
	req_init(f, &ops[2], ZOP_CHECK, "/m");
	ops[2].version = 0;
	req_init(f, &ops[3], ZOP_SETDATA, "/m");
	ops[3].version = 0;
	req_init(f, &ops[4], ZOP_CREATE, "/m/s-");
	ops[4].flags = ZMODE_PERSISTENT_SEQUENTIAL;
	req_init(f, &ops[5], ZOP_DELETE, "/old/c");
	req_init(f, &ops[6], ZOP_DELETE, "/old");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_MULTI);
	assert_int_equal(t.nops, 7);
	assert_int_equal(t.ops[0].type, ZOP_CREATE);
	assert_int_equal(t.ops[1].type, ZOP_CREATE2);
	assert_int_equal(t.ops[1].parent_cversion, 1);
	assert_int_equal(t.ops[2].type, ZOP_CHECK);
	assert_int_equal(t.ops[2].version, 1);
	assert_int_equal(t.ops[3].type, ZOP_SETDATA);
	assert_int_equal(t.ops[3].version, 1);
	assert_string_equal(t.ops[4].path, "/m/s-0000000001");
	assert_int_equal(t.ops[5].type, ZOP_DELETE);
	assert_int_equal(t.ops[6].type, ZOP_DELETE);
	assert_int_equal(apply(f, &t, &r), 0);
	assert_int_equal(r.nresults, 7);
	assert_int_equal(r.results[0].type, ZOP_CREATE);
	assert_int_equal(r.results[1].type, ZOP_CREATE2);
	assert_int_equal(r.results[6].err, 0);
	zk_resp_release(&r);
	zk_req_release(&q);
	assert_null(tree_lookup(f->t, "/old"));
	assert_int_equal(stat_of(f, "/m/c").czxid, f->zxid);
	assert_int_equal(stat_of(f, "/m").version, 1);
	/* an empty multi is an empty MultiTxn */
	multi_init(f, &q, 0);
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_MULTI);
	assert_int_equal(t.nops, 0);
	apply(f, &t, NULL);
	zk_req_release(&q);
	fx_free(f);
}

/* A failing multi (server-formats.md §4.1): ops before the failure keep their normal
 * records, the failing op is ErrorTxn{code}, later ops ErrorTxn{-2}; nothing is applied
 * and the in-flight records of the earlier ops are rolled back. */
static void test_multi_failure(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q, *ops;
	struct zk_txn t;
	struct zk_resp r;

	assert_int_equal(create(f, "/a"), 0);
	ops = multi_init(f, &q, 3);
	req_init(f, &ops[0], ZOP_CREATE, "/m1");
	req_init(f, &ops[1], ZOP_DELETE, "/zzz");
	req_init(f, &ops[2], ZOP_SETDATA, "/a");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_MULTI);
	assert_int_equal(t.nops, 3);
	assert_int_equal(t.ops[0].type, ZOP_CREATE);
	assert_string_equal(t.ops[0].path, "/m1");
	assert_int_equal(t.ops[1].type, ZOP_ERROR);
	assert_int_equal(t.ops[1].err, ZNONODE);
	assert_int_equal(t.ops[2].type, ZOP_ERROR);
	assert_int_equal(t.ops[2].err, ZRUNTIMEINCONSISTENCY);
	zk_req_release(&q);
	/* rolled back before the txn is applied: /m1 is free, "/"'s counter unchanged */
	{
		struct zk_req c;
		struct zk_txn t2;

		req_init(f, &c, ZOP_CREATE, "/m1-");
		c.flags = ZMODE_PERSISTENT_SEQUENTIAL;
		prep_as(f, &c, SID, &t2);
		assert_string_equal(t2.ops[0].path, "/m1-0000000001");
		zk_req_release(&c);
		assert_int_equal(apply(f, &t, &r), 0);
		assert_int_equal(r.nresults, 3);
		assert_int_equal(r.results[0].type, ZOP_ERROR);
		assert_int_equal(r.results[0].err, 0);
		assert_int_equal(r.results[1].err, ZNONODE);
		assert_int_equal(r.results[2].err, ZRUNTIMEINCONSISTENCY);
		zk_resp_release(&r);
		apply(f, &t2, NULL);
	}
	assert_null(tree_lookup(f->t, "/m1"));
	assert_int_equal(create(f, "/m1"), 0);
	/* a multi that fails on a name an earlier op took in the same multi */
	ops = multi_init(f, &q, 2);
	req_init(f, &ops[0], ZOP_CREATE, "/dup");
	req_init(f, &ops[1], ZOP_CREATE, "/dup");
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.ops[1].err, ZNODEEXISTS);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_null(tree_lookup(f->t, "/dup"));
	/* the rollback restores records that were in flight before the multi */
	{
		struct zk_txn pre, t3;
		struct zk_req c;

		req_init(f, &c, ZOP_CREATE, "/pre");
		prep_as(f, &c, SID, &pre);
		zk_req_release(&c);
		ops = multi_init(f, &q, 2);
		req_init(f, &ops[0], ZOP_DELETE, "/pre");
		req_init(f, &ops[1], ZOP_DELETE, "/nothere");
		prep_as(f, &q, SID, &t);
		zk_req_release(&q);
		req_init(f, &c, ZOP_CREATE, "/pre");
		prep_as(f, &c, SID, &t3);
		assert_int_equal(t3.ops[0].err, ZNODEEXISTS);
		zk_req_release(&c);
		apply(f, &pre, NULL);
		apply(f, &t, NULL);
		apply(f, &t3, NULL);
		assert_non_null(tree_lookup(f->t, "/pre"));
	}
	fx_free(f);
}

/* A null path anywhere in a multi, or a Java NullPointerException in an op (a null world
 * id), fails the whole request with MARSHALLINGERROR: one error txn, earlier ops undone. */
static void test_multi_marshalling(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q, *ops;
	struct zk_txn t;

	ops = multi_init(f, &q, 2);
	req_init(f, &ops[0], ZOP_CREATE, "/m1");
	req_init(f, &ops[1], ZOP_CREATE, NULL);
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_ERROR);
	assert_int_equal(t.nops, 1);
	assert_int_equal(t.ops[0].err, ZMARSHALLINGERROR);
	assert_int_equal(apply(f, &t, NULL), ZMARSHALLINGERROR);
	zk_req_release(&q);
	ops = multi_init(f, &q, 2);
	req_init(f, &ops[0], ZOP_CREATE, "/m2");
	req_init(f, &ops[1], ZOP_CREATE, "/m3");
	set_acl1(&ops[1].acl, 31, "world", NULL);
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_ERROR);
	assert_int_equal(t.ops[0].err, ZMARSHALLINGERROR);
	apply(f, &t, NULL);
	zk_req_release(&q);
	assert_int_equal(create(f, "/m2"), 0);	/* its record was rolled back */
	/* after a KeeperException the rest is not prepared: no NullPointerException */
	ops = multi_init(f, &q, 2);
	req_init(f, &ops[0], ZOP_DELETE, "/nothere");
	req_init(f, &ops[1], ZOP_CREATE, "/m3");
	set_acl1(&ops[1].acl, 31, "world", NULL);
	prep_as(f, &q, SID, &t);
	assert_int_equal(t.hdr.type, ZOP_MULTI);
	assert_int_equal(t.ops[0].err, ZNONODE);
	assert_int_equal(t.ops[1].err, ZRUNTIMEINCONSISTENCY);
	apply(f, &t, NULL);
	zk_req_release(&q);
	fx_free(f);
}

/* reconfig is disabled (standalone): an error txn RECONFIGDISABLED; a createSession sent
 * as a request is MARSHALLINGERROR, as Apache answers an empty one. */
static void test_reconfig(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;

	req_init(f, &q, ZOP_RECONFIG, NULL);
	assert_int_equal(run(f, &q), ZRECONFIGDISABLED);
	req_init(f, &q, ZOP_CREATESESSION, NULL);
	assert_int_equal(run(f, &q), ZMARSHALLINGERROR);
	fx_free(f);
}

/* ---- sessions and reaping -------------------------------------------------------------- */

static int has(const struct zk_strvec *v, const char *s)
{
	int32_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s))
			return 1;
	return 0;
}

/* createSession logs the timeout with cxid 0; closeSession lists the session's ephemerals
 * including in-flight creates and excluding in-flight deletes, and frees their names for
 * later requests at once. */
static void test_sessions(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_req q;
	struct zk_txn t, inflight, del, close, other;

	assert_int_equal(prep_create_session(f->p, SID, 30000, ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_CREATESESSION);
	assert_int_equal(t.hdr.cxid, 0);
	assert_int_equal(t.hdr.client_id, SID);
	assert_int_equal(t.timeout, 30000);
	apply(f, &t, NULL);
	assert_int_equal(create_flags(f, "/e1", ZMODE_EPHEMERAL), 0);
	assert_int_equal(create_flags(f, "/e2", ZMODE_EPHEMERAL), 0);
	req_init(f, &q, ZOP_CREATE, "/o");
	q.flags = ZMODE_EPHEMERAL;
	prep_as(f, &q, SID2, &t);
	apply(f, &t, NULL);
	zk_req_release(&q);
	req_init(f, &q, ZOP_CREATE, "/e3");
	q.flags = ZMODE_EPHEMERAL;
	prep_as(f, &q, SID, &inflight);
	zk_req_release(&q);
	req_init(f, &q, ZOP_DELETE, "/e2");
	prep_as(f, &q, SID, &del);
	zk_req_release(&q);
	assert_int_equal(prep_close_session(f->p, SID, 77, ++f->zxid, NOW, &close), 0);
	assert_int_equal(close.hdr.type, ZOP_CLOSESESSION);
	assert_int_equal(close.hdr.cxid, 77);
	assert_int_equal(close.close_paths.n, 2);
	assert_true(has(&close.close_paths, "/e1"));
	assert_true(has(&close.close_paths, "/e3"));
	/* another session may take /e1 right away */
	req_init(f, &q, ZOP_CREATE, "/e1");
	prep_as(f, &q, SID2, &other);
	assert_int_equal(other.hdr.type, ZOP_CREATE);
	zk_req_release(&q);
	apply(f, &inflight, NULL);
	apply(f, &del, NULL);
	apply(f, &close, NULL);
	apply(f, &other, NULL);
	assert_null(tree_lookup(f->t, "/e2"));
	assert_null(tree_lookup(f->t, "/e3"));
	assert_int_equal(node_ephemeral_owner(tree_lookup(f->t, "/e1")), 0);
	assert_non_null(tree_lookup(f->t, "/o"));
	fx_free(f);
}

/* Reaping a container or TTL node: a deleteContainer txn from session 0, cxid 0; refused
 * (error txn) when it has children, is a plain ephemeral, is missing or protected. */
static void test_reap(void **state)
{
	struct fx *f = fx_new(1, 0);
	struct zk_req q;
	struct zk_txn t;

	req_init(f, &q, ZOP_CREATECONTAINER, "/c");
	q.flags = ZMODE_CONTAINER;
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(create(f, "/c/x"), 0);
	assert_int_equal(create_flags(f, "/e", ZMODE_EPHEMERAL), 0);
	assert_int_equal(prep_reap(f->p, "/c", ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_ERROR);
	assert_int_equal(t.ops[0].err, ZNOTEMPTY);
	apply(f, &t, NULL);
	assert_int_equal(prep_reap(f->p, "/e", ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.ops[0].err, ZBADVERSION);
	apply(f, &t, NULL);
	assert_int_equal(prep_reap(f->p, "/gone", ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.ops[0].err, ZNONODE);
	apply(f, &t, NULL);
	assert_int_equal(prep_reap(f->p, "/zookeeper", ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.ops[0].err, ZBADARGUMENTS);
	apply(f, &t, NULL);
	req_init(f, &q, ZOP_DELETE, "/c/x");
	assert_int_equal(run(f, &q), 0);
	assert_int_equal(prep_reap(f->p, "/c", ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_DELETECONTAINER);
	assert_int_equal(t.hdr.client_id, 0);
	assert_int_equal(t.hdr.cxid, 0);
	assert_int_equal(t.ops[0].type, ZOP_DELETECONTAINER);
	assert_string_equal(t.ops[0].path, "/c");
	/* in flight: a second reap of the same node sees it gone */
	{
		struct zk_txn t2;

		assert_int_equal(prep_reap(f->p, "/c", ++f->zxid, NOW, &t2), 0);
		assert_int_equal(t2.ops[0].err, ZNONODE);
		apply(f, &t, NULL);
		apply(f, &t2, NULL);
	}
	assert_null(tree_lookup(f->t, "/c"));
	fx_free(f);
}

/* Without extended types a 0xFF-top-byte owner reads as a session (EphemeralType.get):
 * a TTL node's children are refused as an ephemeral's would be. */
static void test_ttl_owner_without_extended(void **state)
{
	struct fx *f = fx_new(1, 0);
	struct zk_req q;
	struct zk_prep *plain;
	struct prep_opts o = { 0, 0 };
	struct zk_txn t;

	req_init(f, &q, ZOP_CREATETTL, "/t");
	q.flags = ZMODE_PERSISTENT_WITH_TTL;
	q.ttl = 1000;
	assert_int_equal(run(f, &q), 0);
	plain = prep_new(f->t, &o);
	req_init(f, &q, ZOP_CREATE, "/t/x");
	assert_int_equal(prep_request(plain, &q, SID, &f->ids, ++f->zxid, NOW, &t), 0);
	assert_int_equal(t.ops[0].err, ZNOCHILDRENFOREPHEMERALS);
	txn_release(&t);
	zk_req_release(&q);
	prep_free(plain);
	fx_free(f);
}

/* Many pipelined creates under one parent (a 10,000-deep in-flight list) get consecutive
 * sequential names and all apply. */
static void test_many_inflight(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct zk_txn *t = calloc(10000, sizeof(*t));
	struct zk_req q;
	int i;

	assert_int_equal(create(f, "/q"), 0);
	for (i = 0; i < 10000; i++) {
		req_init(f, &q, ZOP_CREATE, "/q/n-");
		q.flags = ZMODE_PERSISTENT_SEQUENTIAL;
		prep_as(f, &q, SID, &t[i]);
		assert_int_equal(t[i].ops[0].parent_cversion, i + 1);
		zk_req_release(&q);
	}
	for (i = 0; i < 10000; i++)
		assert_int_equal(apply(f, &t[i], NULL), 0);
	assert_int_equal(node_num_children(tree_lookup(f->t, "/q")), 10000);
	assert_non_null(tree_lookup(f->t, "/q/n-0000009999"));
	free(t);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_txn),
		cmocka_unit_test(test_create_kinds),
		cmocka_unit_test(test_create_order),
		cmocka_unit_test(test_create_perms),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_outstanding),
		cmocka_unit_test(test_outstanding_versions),
		cmocka_unit_test(test_reset_applied),
		cmocka_unit_test(test_root_record),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_setdata),
		cmocka_unit_test(test_setacl),
		cmocka_unit_test(test_multi_success),
		cmocka_unit_test(test_multi_failure),
		cmocka_unit_test(test_multi_marshalling),
		cmocka_unit_test(test_reconfig),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_reap),
		cmocka_unit_test(test_ttl_owner_without_extended),
		cmocka_unit_test(test_many_inflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
