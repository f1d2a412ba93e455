#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <zlib.h>

#include "datatree.h"
#include "fixtures/apache_tree.h"

/* ---- helpers ---------------------------------------------------------------------------- */

#define SID 0x0100000012340000LL
#define OWNER_CONTAINER ((int64_t)0x8000000000000000ULL)

struct event {
	int type;
	char path[64];
};

static struct event evs[64];
static int nev;

static void ev_cb(void *ctx, int type, const char *path, const struct zk_acl_list *acl)
{
	(void)ctx;
	if (nev < 64) {
		evs[nev].type = type;
		snprintf(evs[nev].path, sizeof(evs[nev].path), "%s", path);
	}
	nev++;
}

static void check_event(int i, int type, const char *path)
{
	assert_true(i < nev);
	assert_int_equal(evs[i].type, type);
	assert_string_equal(evs[i].path, path);
}

static void hdr(struct zk_txn *t, int type, int64_t zxid, int64_t time)
{
	memset(t, 0, sizeof(*t));
	t->hdr.client_id = SID;
	t->hdr.cxid = 1;
	t->hdr.zxid = zxid;
	t->hdr.time = time;
	t->hdr.type = type;
}

static void set_acl_list(struct zk_acl_list *a, int32_t perms, const char *scheme, const char *id)
{
	a->n = 1;
	a->packed = 0;
	a->v = calloc(1, sizeof(*a->v));
	a->v[0].perms = perms;
	a->v[0].id.scheme = strdup(scheme);
	a->v[0].id.id = strdup(id);
}

/* Adds a create-type op; data NULL = null data. */
static struct zk_txn_op *op_create(struct zk_txn *t, int type, const char *path, const char *data,
				   int eph, int32_t pcv)
{
	struct zk_txn_op *o = txn_add_op(t);

	o->type = type;
	o->path = strdup(path);
	if (data) {
		o->data_len = (int32_t)strlen(data);
		o->data = (uint8_t *)strdup(data);
	}
	set_acl_list(&o->acl, ZPERM_ALL, "world", "anyone");
	o->ephemeral = eph;
	o->parent_cversion = pcv;
	return o;
}

static struct zk_txn_op *op_path(struct zk_txn *t, int type, const char *path)
{
	struct zk_txn_op *o = txn_add_op(t);

	o->type = type;
	o->path = strdup(path);
	return o;
}

static struct zk_txn_op *op_setdata(struct zk_txn *t, const char *path, const char *data,
				    int32_t version)
{
	struct zk_txn_op *o = op_path(t, ZOP_SETDATA, path);

	if (data) {
		o->data_len = (int32_t)strlen(data);
		o->data = (uint8_t *)strdup(data);
	}
	o->version = version;
	return o;
}

static struct zk_txn_op *op_error(struct zk_txn *t, int32_t err)
{
	struct zk_txn_op *o = txn_add_op(t);

	o->type = ZOP_ERROR;
	o->err = err;
	return o;
}

/* Applies txn, releases it, returns the reply's err; the reply goes to *out if given. */
static int apply(struct zk_tree *tr, struct zk_txn *t, struct zk_resp *out)
{
	struct zk_resp r;
	int err;

	memset(&r, 0, sizeof(r));
	assert_int_equal(tree_apply(tr, t, &r, ev_cb, NULL), 0);
	txn_release(t);
	if (out) {
		*out = r;
		return out->err;
	}
	err = r.err;
	zk_resp_release(&r);
	return err;
}

static int create(struct zk_tree *tr, int64_t zxid, const char *path, const char *data, int eph)
{
	struct zk_txn t;
	const struct zk_node *parent;
	char pp[256];
	const char *slash = strrchr(path, '/');

	snprintf(pp, sizeof(pp), "%.*s", (int)(slash - path), path);
	parent = tree_lookup(tr, pp[0] ? pp : "/");
	hdr(&t, ZOP_CREATE, zxid, 1000 + zxid);
	op_create(&t, ZOP_CREATE, path, data, eph, parent ? node_child_counter(parent) + 1 : 1);
	return apply(tr, &t, NULL);
}

static int del(struct zk_tree *tr, int64_t zxid, const char *path)
{
	struct zk_txn t;

	hdr(&t, ZOP_DELETE, zxid, 1000 + zxid);
	op_path(&t, ZOP_DELETE, path);
	return apply(tr, &t, NULL);
}

static struct zk_stat stat_of(struct zk_tree *tr, const char *path)
{
	struct zk_stat s;
	const struct zk_node *n = tree_lookup(tr, path);

	assert_non_null(n);
	node_stat(n, &s);
	return s;
}

static void snap(const struct zk_tree *tr, struct buf *b)
{
	buf_init(b);
	tree_snap_write(tr, b);
	assert_false(b->oom);
	/* The size storage reserves (and prefaults) up front is exact. */
	assert_int_equal(b->len, tree_snap_size(tr));
}

static struct zk_tree *reload(const struct zk_tree *tr)
{
	struct zk_tree *t2 = tree_new_empty();
	char err[256] = "";
	struct buf b;
	struct rd r;

	snap(tr, &b);
	rd_init(&r, b.p, b.len, 0);
	if (tree_snap_read(t2, &r, err, sizeof(err)))
		fail_msg("reload: %s", err);
	assert_int_equal(rd_left(&r), 0);
	buf_release(&b);
	return t2;
}

/* Two trees serialize to the same bytes. */
static void assert_same_tree(const struct zk_tree *a, const struct zk_tree *b)
{
	struct buf x, y;

	snap(a, &x);
	snap(b, &y);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.p, y.p, x.len);
	buf_release(&x);
	buf_release(&y);
	assert_int_equal(tree_digest(a), tree_digest(b));
	assert_int_equal(tree_node_count(a), tree_node_count(b));
	assert_int_equal(tree_data_size(a), tree_data_size(b));
}

/* Same nodes with the same stats, data, ACLs and owners under path, in both trees. */
static void assert_same_subtree(const struct zk_tree *a, const struct zk_tree *b, const char *path)
{
	const struct zk_node *x = tree_lookup(a, path), *y = tree_lookup(b, path);
	struct zk_strvec c = { 0, NULL };
	struct zk_stat s1, s2;
	const uint8_t *d1, *d2;
	int32_t l1, l2, i;

	assert_non_null(x);
	assert_non_null(y);
	memset(&s1, 0, sizeof(s1));	/* padding */
	memset(&s2, 0, sizeof(s2));
	node_stat(x, &s1);
	node_stat(y, &s2);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	d1 = node_data(x, &l1);
	d2 = node_data(y, &l2);
	assert_int_equal(l1, l2);
	assert_true((d1 == NULL) == (d2 == NULL));
	if (l1 > 0)
		assert_memory_equal(d1, d2, (size_t)l1);
	assert_true(zk_acl_list_equal(node_acl(x), node_acl(y)));
	assert_int_equal(node_ephemeral_owner(x), node_ephemeral_owner(y));
	assert_int_equal(node_child_counter(x), node_child_counter(y));
	assert_int_equal(node_children(x, &c), 0);
	for (i = 0; i < c.n; i++) {
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", strcmp(path, "/") ? path : "", c.v[i]);
		assert_same_subtree(a, b, p);
	}
	zk_strvec_release(&c);
}

static int has_str(const struct zk_strvec *v, const char *s)
{
	int32_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return 1;
	return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* A fresh tree has Apache's four built-in nodes with their exact stats, ACLs and counts. */
static void test_fresh_tree(void **state)
{
	struct zk_tree *t = tree_new();
	const struct zk_node *n;
	const struct zk_acl_list *a;
	struct zk_stat s;
	int32_t len;

	(void)state;
	assert_non_null(t);
	assert_ptr_equal(tree_lookup(t, "/"), tree_lookup(t, ""));
	s = stat_of(t, "/");
	assert_int_equal(s.cversion, -1);
	assert_int_equal(s.num_children, 1);
	assert_int_equal(s.czxid | s.mzxid | s.pzxid | s.ctime | s.mtime, 0);
	assert_int_equal(s.version | s.aversion | s.data_length, 0);
	s = stat_of(t, "/zookeeper");
	assert_int_equal(s.cversion, -2);
	assert_int_equal(s.num_children, 2);
	s = stat_of(t, "/zookeeper/quota");
	assert_int_equal(s.cversion, 0);
	assert_int_equal(s.aversion, 0);
	s = stat_of(t, "/zookeeper/config");
	assert_int_equal(s.aversion, -1);
	assert_int_equal(s.version, 0);
	n = tree_lookup(t, "/zookeeper/config");
	a = node_acl(n);
	assert_int_equal(a->n, 1);
	assert_int_equal(a->v[0].perms, ZPERM_READ);
	assert_string_equal(a->v[0].id.scheme, "world");
	assert_string_equal(a->v[0].id.id, "anyone");
	a = node_acl(tree_lookup(t, "/"));
	assert_int_equal(a->n, 1);
	assert_int_equal(a->v[0].perms, ZPERM_ALL);
	/* Built-in data is empty, not null. */
	assert_non_null(node_data(tree_lookup(t, "/zookeeper"), &len));
	assert_int_equal(len, 0);
	assert_null(tree_lookup(t, "/zookeeper/"));
	assert_null(tree_lookup(t, "/nope"));
	assert_int_equal(tree_node_count(t), 5);
	assert_int_equal(tree_data_size(t), 44);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/")), 3);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/zookeeper")), 2);
	assert_int_equal(tree_last_zxid(t), 0);
	tree_free(t);
}

/* The §7 digest vectors: fresh tree, then create /a "hello" at zxid 3. */
static void test_digest_vectors(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;

	(void)state;
	assert_int_equal(tree_digest(t), 0x51c6d660);
	/* The observed txn's time (its createSession header starts 0x1a2...). */
	hdr(&x, ZOP_CREATE, 3, 0x1a207763b5dLL);
	op_create(&x, ZOP_CREATE, "/a", "hello", 0, 1);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(tree_digest(t), 0x173adb887LL);
	/* Deleting it again restores the root's counter-free part only: C and pzxid moved. */
	assert_int_equal(del(t, 4, "/a"), 0);
	assert_int_not_equal(tree_digest(t), 0x51c6d660);
	tree_free(t);
}

/* create/delete maintain the node's and the parent's stats, incl. the cversion quirk. */
static void test_create_delete_stats(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;
	struct zk_resp r;
	struct zk_stat s;
	int32_t len;

	(void)state;
	hdr(&x, ZOP_CREATE2, 5, 777);
	op_create(&x, ZOP_CREATE2, "/a", "abc", 0, 1);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.type, ZOP_CREATE2);
	assert_string_equal(r.path, "/a");
	assert_int_equal(r.stat.czxid, 5);
	assert_int_equal(r.stat.mzxid, 5);
	assert_int_equal(r.stat.pzxid, 5);
	assert_int_equal(r.stat.ctime, 777);
	assert_int_equal(r.stat.mtime, 777);
	assert_int_equal(r.stat.data_length, 3);
	assert_int_equal(r.stat.version | r.stat.cversion | r.stat.aversion, 0);
	assert_int_equal(r.stat.ephemeral_owner, 0);
	zk_resp_release(&r);
	assert_int_equal(tree_last_zxid(t), 5);

	assert_int_equal(create(t, 6, "/nope", NULL, 0), 0);
	s = stat_of(t, "/");
	/* C = 2, numChildren 3 -> 1 [observed]. */
	assert_int_equal(s.cversion, 1);
	assert_int_equal(s.num_children, 3);
	assert_int_equal(s.pzxid, 6);
	assert_int_equal(node_child_counter(tree_lookup(t, "/")), 2);
	/* zkCli "create /p" without data keeps null data: dataLength 0, data NULL. */
	assert_null(node_data(tree_lookup(t, "/nope"), &len));
	assert_int_equal(len, -1);
	assert_int_equal(stat_of(t, "/nope").data_length, 0);

	assert_int_equal(create(t, 7, "/a/b", "x", 0), 0);
	assert_int_equal(del(t, 8, "/a/b"), 0);
	s = stat_of(t, "/a");
	assert_int_equal(s.cversion, 2);	/* one create + one delete */
	assert_int_equal(s.num_children, 0);
	assert_int_equal(s.pzxid, 8);
	assert_int_equal(s.mzxid, 5);		/* children do not touch mzxid */
	assert_null(tree_lookup(t, "/a/b"));
	assert_int_equal(tree_node_count(t), 7);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/")), 5);
	tree_free(t);
}

/* setData bumps version/mzxid/mtime and replaces data; setACL bumps only aversion. */
static void test_setdata_setacl(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;
	struct zk_resp r;
	struct zk_stat s;
	const uint8_t *d;
	int32_t len, i;
	char big[600];

	(void)state;
	assert_int_equal(create(t, 2, "/a", "hi", 0), 0);
	hdr(&x, ZOP_SETDATA, 3, 5000);
	op_setdata(&x, "/a", "hello", 1);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.stat.version, 1);
	assert_int_equal(r.stat.mzxid, 3);
	assert_int_equal(r.stat.mtime, 5000);
	assert_int_equal(r.stat.ctime, 1002);
	assert_int_equal(r.stat.data_length, 5);
	zk_resp_release(&r);
	d = node_data(tree_lookup(t, "/a"), &len);
	assert_int_equal(len, 5);
	assert_memory_equal(d, "hello", 5);

	/* Larger than the node's allocation, then back, then null, then empty. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	hdr(&x, ZOP_SETDATA, 4, 5001);
	op_setdata(&x, "/a", big, 2);
	assert_int_equal(apply(t, &x, NULL), 0);
	d = node_data(tree_lookup(t, "/a"), &len);
	assert_int_equal(len, (int32_t)strlen(big));
	for (i = 0; i < len; i++)
		assert_int_equal(d[i], 'z');
	hdr(&x, ZOP_SETDATA, 5, 5002);
	op_setdata(&x, "/a", "q", 3);
	assert_int_equal(apply(t, &x, NULL), 0);
	d = node_data(tree_lookup(t, "/a"), &len);
	assert_int_equal(len, 1);
	assert_int_equal(d[0], 'q');
	hdr(&x, ZOP_SETDATA, 6, 5003);
	op_setdata(&x, "/a", NULL, 4);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_null(node_data(tree_lookup(t, "/a"), &len));
	assert_int_equal(len, -1);
	hdr(&x, ZOP_SETDATA, 7, 5004);
	op_setdata(&x, "/a", "", 5);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_non_null(node_data(tree_lookup(t, "/a"), &len));
	assert_int_equal(len, 0);
	assert_int_equal(tree_data_size(t), 44 + 2);

	nev = 0;
	hdr(&x, ZOP_SETACL, 8, 9999);
	{
		struct zk_txn_op *o = op_path(&x, ZOP_SETACL, "/a");

		set_acl_list(&o->acl, ZPERM_READ | ZPERM_ADMIN, "digest", "u:hash");
		o->version = 1;
	}
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(nev, 0);			/* setACL fires nothing */
	assert_int_equal(r.stat.aversion, 1);
	assert_int_equal(r.stat.mzxid, 7);		/* unchanged */
	assert_int_equal(r.stat.mtime, 5004);
	zk_resp_release(&r);
	s = stat_of(t, "/a");
	assert_int_equal(s.aversion, 1);
	assert_int_equal(node_acl(tree_lookup(t, "/a"))->v[0].perms, ZPERM_READ | ZPERM_ADMIN);
	assert_string_equal(node_acl(tree_lookup(t, "/a"))->v[0].id.scheme, "digest");
	tree_free(t);
}

/* Equal ACL lists are shared and numbered from 2 (1 is the config node's READ list). */
static void test_acl_cache_sharing(void **state)
{
	struct zk_tree *t = tree_new(), *t2;
	struct buf b;
	const uint8_t *p;

	(void)state;
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	assert_int_equal(create(t, 3, "/b", "", 0), 0);
	assert_ptr_equal(node_acl(tree_lookup(t, "/a")), node_acl(tree_lookup(t, "/b")));
	snap(t, &b);
	p = b.p;
	/* Two entries: 1 = READ (config), 2 = the client's OPEN_ACL_UNSAFE copy. */
	assert_int_equal(be32_get(p), 2);
	assert_int_equal(be64_get(p + 4), 1);
	assert_int_equal(be64_get(p + 4 + 35), 2);
	buf_release(&b);
	assert_int_equal(del(t, 4, "/a"), 0);
	assert_int_equal(node_acl(tree_lookup(t, "/b"))->v[0].perms, ZPERM_ALL);
	assert_int_equal(del(t, 5, "/b"), 0);
	snap(t, &b);
	assert_int_equal(be32_get(b.p), 1);	/* unreferenced entry dropped */
	buf_release(&b);
	/* A later list gets a fresh index, never a reused one. */
	assert_int_equal(create(t, 6, "/c", "", 0), 0);
	snap(t, &b);
	assert_int_equal(be32_get(b.p), 2);
	assert_int_equal(be64_get(b.p + 4 + 35), 3);
	buf_release(&b);
	t2 = reload(t);
	assert_same_tree(t, t2);
	tree_free(t2);
	tree_free(t);
}

/* Sequential names use C, which counts every create (deleted children included). */
static void test_sequential_counter(void **state)
{
	struct zk_tree *t = tree_new();
	const struct zk_node *q;

	(void)state;
	assert_int_equal(create(t, 2, "/q", NULL, 0), 0);
	q = tree_lookup(t, "/q");
	assert_int_equal(node_child_counter(q), 0);
	assert_int_equal(create(t, 3, "/q/x-0000000000", "", 0), 0);
	assert_int_equal(create(t, 4, "/q/x-0000000001", "", 0), 0);
	assert_int_equal(del(t, 5, "/q/x-0000000000"), 0);
	q = tree_lookup(t, "/q");
	assert_int_equal(node_child_counter(q), 2);
	assert_int_equal(stat_of(t, "/q").cversion, 3);
	assert_int_equal(create(t, 6, "/q/y", "", 0), 0);
	assert_int_equal(node_child_counter(tree_lookup(t, "/q")), 3);
	tree_free(t);
}

/* Ephemerals are indexed by session; closeSession deletes them (listed or not). */
static void test_ephemerals_close_session(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_strvec v = { 0, NULL };
	struct zk_txn x;
	struct zk_stat s;

	(void)state;
	assert_int_equal(create(t, 2, "/e1", "", 1), 0);
	assert_int_equal(create(t, 3, "/e2", "", 1), 0);
	assert_int_equal(create(t, 4, "/p", "", 0), 0);
	s = stat_of(t, "/e1");
	assert_int_equal(s.ephemeral_owner, SID);
	assert_int_equal(node_ephemeral_owner(tree_lookup(t, "/e1")), SID);
	assert_int_equal(tree_session_ephemerals(t, SID, &v), 0);
	assert_int_equal(v.n, 2);
	assert_true(has_str(&v, "/e1") && has_str(&v, "/e2"));
	zk_strvec_release(&v);
	assert_int_equal(tree_session_ephemerals(t, SID + 1, &v), 0);
	assert_int_equal(v.n, 0);

	/* Listed path first, then whatever else the session owns. */
	nev = 0;
	hdr(&x, ZOP_CLOSESESSION, 10, 2000);
	zk_strvec_push(&x.close_paths, "/e2");
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_null(tree_lookup(t, "/e1"));
	assert_null(tree_lookup(t, "/e2"));
	assert_non_null(tree_lookup(t, "/p"));
	assert_int_equal(nev, 4);
	check_event(0, ZEV_DELETED, "/e2");
	check_event(1, ZEV_CHILDREN_CHANGED, "/");
	check_event(2, ZEV_DELETED, "/e1");
	check_event(3, ZEV_CHILDREN_CHANGED, "/");
	assert_int_equal(tree_session_ephemerals(t, SID, &v), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(stat_of(t, "/").pzxid, 10);
	assert_int_equal(tree_last_zxid(t), 10);

	/* closeSession without a paths record (older logs). */
	assert_int_equal(create(t, 11, "/e3", "", 1), 0);
	hdr(&x, ZOP_CLOSESESSION, 12, 2001);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_null(tree_lookup(t, "/e3"));
	assert_int_equal(tree_node_count(t), 6);
	tree_free(t);
}

static void count_sessions_cb(void *ctx, int64_t sid, const struct zk_strvec *paths)
{
	int *n = ctx;

	assert_int_equal(sid, SID);
	assert_int_equal(paths->n, 2);
	(*n)++;
}

/* tree_foreach_ephemeral_session reports each owning session once with its paths. */
static void test_foreach_ephemeral_session(void **state)
{
	struct zk_tree *t = tree_new();
	int n = 0;

	(void)state;
	assert_int_equal(create(t, 2, "/e1", "", 1), 0);
	assert_int_equal(create(t, 3, "/e2", "", 1), 0);
	tree_foreach_ephemeral_session(t, count_sessions_cb, &n);
	assert_int_equal(n, 1);
	tree_free(t);
}

/* Containers are reapable once used and empty; TTL nodes once idle past their TTL. */
static void test_container_ttl_reapable(void **state)
{
	struct zk_tree *t = tree_new(), *t2;
	struct zk_strvec v = { 0, NULL };
	struct zk_txn x;
	struct zk_txn_op *o;
	struct zk_resp r;

	(void)state;
	hdr(&x, ZOP_CREATECONTAINER, 2, 100);
	op_create(&x, ZOP_CREATECONTAINER, "/c", "", 0, 1);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.stat.ephemeral_owner, 0);
	zk_resp_release(&r);
	assert_int_equal(node_ephemeral_owner(tree_lookup(t, "/c")), OWNER_CONTAINER);
	hdr(&x, ZOP_CREATETTL, 3, 100);
	o = op_create(&x, ZOP_CREATETTL, "/t", "", 0, 2);
	o->ttl = 5000;
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(stat_of(t, "/t").ephemeral_owner, 0);
	assert_int_equal(node_ephemeral_owner(tree_lookup(t, "/t")), (int64_t)(0xFF00000000000000ULL | 5000));

	assert_int_equal(tree_reapable(t, 1000, &v), 0);
	assert_int_equal(v.n, 0);		/* never-used container, young TTL */
	assert_int_equal(create(t, 4, "/c/x", "", 0), 0);
	assert_int_equal(tree_reapable(t, 1000, &v), 0);
	assert_int_equal(v.n, 0);		/* container has a child */
	assert_int_equal(del(t, 5, "/c/x"), 0);
	assert_int_equal(tree_reapable(t, 5100, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0], "/c");
	zk_strvec_release(&v);
	assert_int_equal(tree_reapable(t, 5101, &v), 0);
	assert_int_equal(v.n, 2);		/* 5101 - 100 > 5000 */
	assert_true(has_str(&v, "/c") && has_str(&v, "/t"));
	zk_strvec_release(&v);
	/* Containers and TTL nodes are not anyone's ephemerals. */
	assert_int_equal(tree_session_ephemerals(t, OWNER_CONTAINER, &v), 0);
	assert_int_equal(v.n, 0);

	/* The sets survive a snapshot round trip. */
	t2 = reload(t);
	assert_int_equal(tree_reapable(t2, 5101, &v), 0);
	assert_int_equal(v.n, 2);
	zk_strvec_release(&v);
	tree_free(t2);

	hdr(&x, ZOP_DELETECONTAINER, 6, 6000);
	op_path(&x, ZOP_DELETECONTAINER, "/c");
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(tree_reapable(t, 9999, &v), 0);
	assert_int_equal(v.n, 1);
	zk_strvec_release(&v);
	tree_free(t);
}

/* A multi with an error op changes nothing, fires nothing, and answers Apache's list. */
static void test_multi_failed(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;
	struct zk_resp r;
	int64_t digest;

	(void)state;
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	digest = tree_digest(t);
	nev = 0;
	/* As logged: create /m1 ok, delete /zzz failed, setData /a after the failure. */
	hdr(&x, ZOP_MULTI, 3, 100);
	op_create(&x, ZOP_CREATE, "/m1", "", 0, 2);
	op_error(&x, ZNONODE);
	op_error(&x, ZRUNTIMEINCONSISTENCY);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.type, ZOP_MULTI);
	assert_int_equal(r.nresults, 3);
	assert_int_equal(r.results[0].type, ZOP_ERROR);
	assert_int_equal(r.results[0].err, 0);
	assert_int_equal(r.results[1].type, ZOP_ERROR);
	assert_int_equal(r.results[1].err, ZNONODE);
	assert_int_equal(r.results[2].type, ZOP_ERROR);
	assert_int_equal(r.results[2].err, ZRUNTIMEINCONSISTENCY);
	zk_resp_release(&r);
	assert_null(tree_lookup(t, "/m1"));
	assert_int_equal(nev, 0);
	assert_int_equal(tree_digest(t), digest);
	assert_int_equal(tree_last_zxid(t), 3);

	/* Non-error ops logged after the error also turn into ErrorResult(-2). */
	hdr(&x, ZOP_MULTI, 4, 100);
	op_error(&x, ZBADVERSION);
	op_setdata(&x, "/a", "x", 1);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.results[0].err, ZBADVERSION);
	assert_int_equal(r.results[1].type, ZOP_ERROR);
	assert_int_equal(r.results[1].err, ZRUNTIMEINCONSISTENCY);
	zk_resp_release(&r);
	assert_int_equal(stat_of(t, "/a").version, 0);

	/* A top-level error txn reports its code and changes nothing. */
	hdr(&x, ZOP_ERROR, 5, 100);
	op_error(&x, ZNODEEXISTS);
	assert_int_equal(apply(t, &x, &r), ZNODEEXISTS);
	zk_resp_release(&r);
	assert_int_equal(tree_digest(t), digest);
	tree_free(t);
}

/* A successful multi applies every op in order with per-op result types and events. */
static void test_multi_success(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;
	struct zk_txn_op *o;
	struct zk_resp r;

	(void)state;
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	assert_int_equal(create(t, 3, "/d", "", 0), 0);
	nev = 0;
	hdr(&x, ZOP_MULTI, 4, 300);
	op_create(&x, ZOP_CREATE, "/m1", "1", 0, 3);
	op_create(&x, ZOP_CREATE2, "/m2", "2", 0, 4);
	o = op_path(&x, ZOP_CHECK, "/a");
	o->version = 0;
	op_setdata(&x, "/a", "new", 1);
	op_path(&x, ZOP_DELETE, "/d");
	op_create(&x, ZOP_CREATECONTAINER, "/m3", "", 0, 5);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nresults, 6);
	assert_int_equal(r.results[0].type, ZOP_CREATE);
	assert_string_equal(r.results[0].path, "/m1");
	assert_int_equal(r.results[1].type, ZOP_CREATE2);
	assert_string_equal(r.results[1].path, "/m2");
	assert_int_equal(r.results[1].stat.czxid, 4);
	assert_int_equal(r.results[2].type, ZOP_CHECK);
	assert_int_equal(r.results[3].type, ZOP_SETDATA);
	assert_int_equal(r.results[3].stat.version, 1);
	assert_int_equal(r.results[3].stat.data_length, 3);
	assert_int_equal(r.results[4].type, ZOP_DELETE);
	assert_int_equal(r.results[5].type, ZOP_CREATE2);
	assert_int_equal(r.results[5].stat.ephemeral_owner, 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(r.results[i].err, 0);
	zk_resp_release(&r);
	assert_int_equal(nev, 9);
	check_event(0, ZEV_CREATED, "/m1");
	check_event(1, ZEV_CHILDREN_CHANGED, "/");
	check_event(2, ZEV_CREATED, "/m2");
	check_event(3, ZEV_CHILDREN_CHANGED, "/");
	check_event(4, ZEV_DATA_CHANGED, "/a");
	check_event(5, ZEV_DELETED, "/d");
	check_event(6, ZEV_CHILDREN_CHANGED, "/");
	check_event(7, ZEV_CREATED, "/m3");
	check_event(8, ZEV_CHILDREN_CHANGED, "/");
	/* all sub-ops share the multi's zxid */
	assert_int_equal(stat_of(t, "/m1").czxid, 4);
	assert_int_equal(stat_of(t, "/a").mzxid, 4);
	assert_int_equal(stat_of(t, "/").pzxid, 4);
	assert_int_equal(node_child_counter(tree_lookup(t, "/")), 5);
	tree_free(t);
}

/* Events: create, delete, setData in Apache's order, deeper parents named in full. */
static void test_event_order(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;

	(void)state;
	nev = 0;
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	assert_int_equal(create(t, 3, "/a/b", "", 0), 0);
	hdr(&x, ZOP_SETDATA, 4, 1);
	op_setdata(&x, "/a/b", "v", 1);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(del(t, 5, "/a/b"), 0);
	hdr(&x, ZOP_SETDATA, 6, 1);
	op_setdata(&x, "/", "rootdata", 1);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(nev, 8);
	check_event(0, ZEV_CREATED, "/a");
	check_event(1, ZEV_CHILDREN_CHANGED, "/");
	check_event(2, ZEV_CREATED, "/a/b");
	check_event(3, ZEV_CHILDREN_CHANGED, "/a");
	check_event(4, ZEV_DATA_CHANGED, "/a/b");
	check_event(5, ZEV_DELETED, "/a/b");
	check_event(6, ZEV_CHILDREN_CHANGED, "/a");
	check_event(7, ZEV_DATA_CHANGED, "/");
	/* Failed changes fire nothing. */
	nev = 0;
	assert_int_equal(del(t, 7, "/zz"), ZNONODE);
	assert_int_equal(create(t, 8, "/a", "", 0), ZNODEEXISTS);
	assert_int_equal(create(t, 9, "/no/x", "", 0), ZNONODE);
	assert_int_equal(nev, 0);
	tree_free(t);
}

/* Replaying txns over a tree that already has them converges to the same tree. */
static void test_idempotent_replay(void **state)
{
	struct zk_tree *live = tree_new(), *fuzzy = NULL;
	struct zk_txn x;
	struct buf mid;
	struct rd r;
	char err[128];
	int pass;

	(void)state;
	/*
	 * Fuzzy snapshot: taken after zxid 3, replay restarts from zxid 2, so the replay sees
	 * create /a (zxid 2) and create /b (zxid 3) again on top of nodes that exist.
	 */
	assert_int_equal(create(live, 1, "/x", "", 0), 0);
	for (pass = 0; pass < 2; pass++) {
		struct zk_tree *t = pass ? fuzzy : live;
		int expect = pass ? ZNODEEXISTS : 0;

		hdr(&x, ZOP_CREATE, 2, 10);
		op_create(&x, ZOP_CREATE, "/a", "1", 0, 2);
		assert_int_equal(apply(t, &x, NULL), expect);
		hdr(&x, ZOP_CREATE, 3, 11);
		op_create(&x, ZOP_CREATE, "/x/b", "1", 0, 1);
		assert_int_equal(apply(t, &x, NULL), expect);
		if (!pass) {
			snap(live, &mid);
			fuzzy = tree_new_empty();
			rd_init(&r, mid.p, mid.len, 0);
			assert_int_equal(tree_snap_read(fuzzy, &r, err, sizeof(err)), 0);
			buf_release(&mid);
			tree_set_last_zxid(fuzzy, 1);
		}
		hdr(&x, ZOP_SETDATA, 4, 12);
		op_setdata(&x, "/a", "2", 1);
		assert_int_equal(apply(t, &x, NULL), 0);
		assert_int_equal(del(t, 5, "/x/b"), 0);
		hdr(&x, ZOP_SETACL, 6, 13);
		op_path(&x, ZOP_SETACL, "/a")->version = 1;
		assert_int_equal(apply(t, &x, NULL), 0);
	}
	assert_same_tree(live, fuzzy);
	assert_int_equal(tree_last_zxid(fuzzy), 6);

	/* A snapshot taken even later: the deletes and updates miss their nodes. */
	assert_int_equal(del(fuzzy, 5, "/x/b"), ZNONODE);
	hdr(&x, ZOP_SETDATA, 7, 12);
	op_setdata(&x, "/gone", "2", 1);
	assert_int_equal(apply(fuzzy, &x, NULL), ZNONODE);
	hdr(&x, ZOP_SETACL, 8, 13);
	op_path(&x, ZOP_SETACL, "/gone")->version = 1;
	assert_int_equal(apply(fuzzy, &x, NULL), ZNONODE);
	/* A replayed create over an existing node raises the parent's counter and pzxid. */
	hdr(&x, ZOP_CREATE, 9, 14);
	op_create(&x, ZOP_CREATE, "/x/c", "", 0, 1);
	assert_int_equal(apply(fuzzy, &x, NULL), 0);
	hdr(&x, ZOP_CREATE, 10, 14);
	op_create(&x, ZOP_CREATE, "/x/c", "", 0, 7);
	assert_int_equal(apply(fuzzy, &x, NULL), ZNODEEXISTS);
	assert_int_equal(node_child_counter(tree_lookup(fuzzy, "/x")), 7);
	assert_int_equal(stat_of(fuzzy, "/x").pzxid, 10);
	/* ...but never lowers it. */
	hdr(&x, ZOP_CREATE, 11, 14);
	op_create(&x, ZOP_CREATE, "/x/c", "", 0, 3);
	assert_int_equal(apply(fuzzy, &x, NULL), ZNODEEXISTS);
	assert_int_equal(node_child_counter(tree_lookup(fuzzy, "/x")), 7);
	assert_int_equal(stat_of(fuzzy, "/x").pzxid, 10);
	/* A replayed delete of a vanished child still moves the parent's pzxid forward. */
	assert_int_equal(del(fuzzy, 12, "/x/gone"), ZNONODE);
	assert_int_equal(stat_of(fuzzy, "/x").pzxid, 12);
	tree_free(fuzzy);
	tree_free(live);
}

/* A fresh tree's snapshot body is byte for byte Apache's snapshot.0 (§5.2). */
static void test_snapshot_fresh_bytes(void **state)
{
	struct zk_tree *t = tree_new();
	struct buf b;
	size_t off = 0;
	const uint8_t *p;

	(void)state;
	snap(t, &b);
	p = b.p;
	assert_int_equal(b.len, 391);
	assert_int_equal(be32_get(p), 1);
	assert_int_equal(be64_get(p + 4), 1);
	assert_int_equal(be32_get(p + 12), 1);
	assert_int_equal(be32_get(p + 16), ZPERM_READ);
	assert_memory_equal(p + 20, "\0\0\0\5world\0\0\0\6anyone", 19);
	off = 39;
	/* root "" */
	assert_int_equal(be32_get(p + off), 0);
	assert_int_equal(be32_get(p + off + 4), 0);
	assert_int_equal(be64_get(p + off + 8), -1);
	off += 16 + 60;
	assert_int_equal(be32_get(p + off), 10);
	assert_memory_equal(p + off + 4, "/zookeeper", 10);
	off += 4 + 10 + 4 + 8 + 60;
	assert_int_equal(be32_get(p + off), 17);
	assert_memory_equal(p + off + 4, "/zookeeper/config", 17);
	assert_int_equal(be64_get(p + off + 4 + 17 + 4), 1);
	/* stat: aversion (after 4 longs, version, cversion) is -1 */
	assert_int_equal(be32_get(p + off + 4 + 17 + 12 + 40), -1);
	off += 4 + 17 + 4 + 8 + 60;
	assert_int_equal(be32_get(p + off), 16);
	assert_memory_equal(p + off + 4, "/zookeeper/quota", 16);
	off += 4 + 16 + 4 + 8 + 60;
	assert_memory_equal(p + off, "\0\0\0\1/", 5);
	buf_release(&b);
	tree_free(t);
}

/* Snapshot write -> read gives an identical tree: stats, data null vs empty, ACLs, sets. */
static void test_snapshot_roundtrip(void **state)
{
	struct zk_tree *t = tree_new(), *t2;
	struct zk_strvec v = { 0, NULL };
	struct zk_txn x;
	struct zk_txn_op *o;
	int32_t l1;

	(void)state;
	assert_int_equal(create(t, 2, "/a", "data", 0), 0);
	assert_int_equal(create(t, 3, "/a/null", NULL, 0), 0);
	assert_int_equal(create(t, 4, "/a/empty", "", 0), 0);
	hdr(&x, ZOP_CREATE, 5, 50);
	o = op_create(&x, ZOP_CREATE, "/a/acl", "z", 0, 4);
	zk_acl_list_release(&o->acl);
	set_acl_list(&o->acl, ZPERM_READ, "digest", "user:abc=");
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(create(t, 6, "/e", "eph", 1), 0);
	hdr(&x, ZOP_CREATECONTAINER, 7, 70);
	op_create(&x, ZOP_CREATECONTAINER, "/c", "", 0, 3);
	assert_int_equal(apply(t, &x, NULL), 0);
	hdr(&x, ZOP_CREATETTL, 8, 80);
	op_create(&x, ZOP_CREATETTL, "/t", "", 0, 4)->ttl = 10;
	assert_int_equal(apply(t, &x, NULL), 0);
	hdr(&x, ZOP_SETDATA, 9, 90);
	op_setdata(&x, "/a", "data2", 1);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(del(t, 10, "/a/empty"), 0);
	assert_int_equal(create(t, 11, "/a/empty", "", 0), 0);

	t2 = reload(t);
	assert_same_tree(t, t2);
	assert_same_subtree(t, t2, "/");
	assert_same_subtree(t2, t, "/");
	assert_null(node_data(tree_lookup(t2, "/a/null"), &l1));
	assert_non_null(node_data(tree_lookup(t2, "/a/empty"), &l1));
	assert_string_equal(node_acl(tree_lookup(t2, "/a/acl"))->v[0].id.id, "user:abc=");
	assert_int_equal(tree_session_ephemerals(t2, SID, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0], "/e");
	zk_strvec_release(&v);
	assert_int_equal(node_descendants(t2, tree_lookup(t2, "/")), node_descendants(t, tree_lookup(t, "/")));
	/* The reloaded tree keeps working: the digest tracks further changes identically. */
	assert_int_equal(create(t, 12, "/a/more", "", 0), 0);
	assert_int_equal(create(t2, 12, "/a/more", "", 0), 0);
	assert_same_tree(t, t2);
	tree_free(t2);
	tree_free(t);
}

static int snap_read_bytes(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct zk_tree *t = tree_new_empty();
	struct rd r;
	int rc;

	rd_init(&r, p, len, 0);
	rc = tree_snap_read(t, &r, err, errlen);
	tree_free(t);
	return rc;
}

/* The snapshot reader rejects truncation, lies and broken structure with a reason. */
static void test_snapshot_read_rejects(void **state)
{
	struct zk_tree *t = tree_new();
	struct buf b, bad;
	char err[256];
	size_t cut;

	(void)state;
	assert_int_equal(create(t, 2, "/a", "x", 0), 0);
	assert_int_equal(create(t, 3, "/a/b", "y", 0), 0);
	snap(t, &b);
	assert_int_equal(snap_read_bytes(b.p, b.len, err, sizeof(err)), 0);
	/* Every truncation fails cleanly. */
	for (cut = 0; cut < b.len; cut++) {
		err[0] = 0;
		assert_int_equal(snap_read_bytes(b.p, cut, err, sizeof(err)), ZMARSHALLINGERROR);
		assert_true(err[0] != 0);
	}
	/* A hostile ACL map size. */
	buf_init(&bad);
	buf_put_int(&bad, 0x7fffffff);
	assert_int_equal(snap_read_bytes(bad.p, bad.len, err, sizeof(err)), ZMARSHALLINGERROR);
	buf_reset(&bad);
	buf_put_int(&bad, -3);
	assert_int_equal(snap_read_bytes(bad.p, bad.len, err, sizeof(err)), ZMARSHALLINGERROR);
	/* A child before its parent. */
	buf_reset(&bad);
	buf_put_int(&bad, 0);
	buf_put_str(&bad, "", 0);
	buf_put_buffer(&bad, "", 0);
	buf_put_long(&bad, -1);
	for (int i = 0; i < 60; i++)
		buf_put_u8(&bad, 0);
	buf_put_str(&bad, "/x/y", -1);
	buf_put_buffer(&bad, "", 0);
	buf_put_long(&bad, -1);
	for (int i = 0; i < 60; i++)
		buf_put_u8(&bad, 0);
	buf_put_str(&bad, "/", -1);
	assert_int_equal(snap_read_bytes(bad.p, bad.len, err, sizeof(err)), ZMARSHALLINGERROR);
	assert_non_null(strstr(err, "parent"));
	/* A missing ACL index. */
	buf_reset(&bad);
	buf_put_int(&bad, 0);
	buf_put_str(&bad, "", 0);
	buf_put_buffer(&bad, "", 0);
	buf_put_long(&bad, 7);
	for (int i = 0; i < 60; i++)
		buf_put_u8(&bad, 0);
	buf_put_str(&bad, "/", -1);
	assert_int_equal(snap_read_bytes(bad.p, bad.len, err, sizeof(err)), ZMARSHALLINGERROR);
	assert_non_null(strstr(err, "acl 7"));
	/* No root at all. */
	buf_reset(&bad);
	buf_put_int(&bad, 0);
	buf_put_str(&bad, "/", -1);
	assert_int_equal(snap_read_bytes(bad.p, bad.len, err, sizeof(err)), ZMARSHALLINGERROR);
	/* A path over maxbuffer. */
	{
		struct zk_tree *e = tree_new_empty();
		struct rd r;

		rd_init(&r, b.p, b.len, 4);
		assert_int_equal(tree_snap_read(e, &r, err, sizeof(err)), ZMARSHALLINGERROR);
		tree_free(e);
	}
	buf_release(&bad);
	buf_release(&b);
	tree_free(t);
}

/* getAllChildrenNumber: "/" counts every znode but itself; a subtree counts recursively. */
static void test_descendants(void **state)
{
	struct zk_tree *t = tree_new();

	(void)state;
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	assert_int_equal(create(t, 3, "/a/b", "", 0), 0);
	assert_int_equal(create(t, 4, "/a/b/c", "", 0), 0);
	assert_int_equal(create(t, 5, "/d", "", 0), 0);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/")), 7);	/* [observed] */
	assert_int_equal(node_descendants(t, tree_lookup(t, "/a")), 2);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/a/b/c")), 0);
	assert_int_equal(tree_node_count(t), 9);
	tree_free(t);
}

/* A node with 10,000 children lists them all quickly and deletes them one by one. */
static void test_many_children(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_strvec v = { 0, NULL };
	struct timespec a, b;
	char path[64];
	int i;

	(void)state;
	assert_int_equal(create(t, 2, "/big", NULL, 0), 0);
	for (i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "/big/n%05d", i);
		assert_int_equal(create(t, 3 + i, path, "", 0), 0);
	}
	assert_int_equal(node_num_children(tree_lookup(t, "/big")), 10000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(node_children(tree_lookup(t, "/big"), &v), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(v.n, 10000);
	assert_true(has_str(&v, "n00000") && has_str(&v, "n09999"));
	/* Generous bound: the listing is linear and takes ~1 ms. */
	assert_true((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 100000000L);
	zk_strvec_release(&v);
	for (i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "/big/n%05d", i);
		assert_int_equal(del(t, 20000 + i, path), 0);
	}
	assert_int_equal(node_num_children(tree_lookup(t, "/big")), 0);
	assert_int_equal(stat_of(t, "/big").cversion, 20000);
	assert_int_equal(tree_node_count(t), 6);
	tree_free(t);
}

/* Data of length n, a pattern from seed; "" for 0. */
static char *pattern(int n, int seed)
{
	char *d = malloc((size_t)n + 1);
	int i;

	for (i = 0; i < n; i++)
		d[i] = (char)('a' + (seed + i) % 26);
	d[n] = 0;
	return d;
}

/*
 * The 3.8 tree digest recomputed from a snapshot body with zlib's crc32 (server-formats
 * §7), independently of the tree's own (incremental, SIMD) computation.
 */
static uint64_t digest_from_snapshot(const struct zk_tree *tr)
{
	struct buf b;
	struct rd r;
	uint64_t sum = 0;
	int32_t nacl, i, k, n;

	snap(tr, &b);
	rd_init(&r, b.p, b.len, 0);
	nacl = rd_int(&r);
	for (i = 0; i < nacl; i++) {
		rd_long(&r);
		n = rd_int(&r);
		for (k = 0; k < n; k++) {
			int32_t l;

			rd_int(&r);
			free(rd_str(&r, &l));
			free(rd_str(&r, &l));
		}
	}
	for (;;) {
		int32_t plen, dlen;
		char *path = rd_str(&r, &plen);
		uint8_t *data, st[60], d[60];
		uLong crc;

		assert_false(r.err);
		if (plen == 1 && path[0] == '/') {
			free(path);
			break;
		}
		data = rd_buffer(&r, &dlen);
		rd_long(&r);	/* acl */
		memcpy(st, r.p + r.off, 60);
		rd_skip(&r, 60);
		/* StatPersisted czxid mzxid ctime mtime version cversion aversion owner pzxid
		 * -> czxid mzxid pzxid ctime mtime version cversion aversion owner */
		memcpy(d, st, 16);
		memcpy(d + 16, st + 52, 8);
		memcpy(d + 24, st + 16, 16);
		memcpy(d + 40, st + 32, 12);
		memcpy(d + 52, st + 44, 8);
		if (!(plen >= 11 && memcmp(path, "/zookeeper/", 11) == 0)) {
			crc = crc32(0L, Z_NULL, 0);
			crc = crc32(crc, (const Bytef *)path, (uInt)plen);
			if (dlen > 0)
				crc = crc32(crc, data, (uInt)dlen);
			crc = crc32(crc, d, 60);
			sum += (uint64_t)crc;
		}
		free(path);
		free(data);
	}
	buf_release(&b);
	return sum;
}

/*
 * Random creates (plain, ephemeral of a few sessions, containers; data null, empty, tiny,
 * 100 bytes, larger than any node), setData growing and shrinking, deletes and session
 * closes over a model: every node is found with its data and owner, deleted ones are
 * gone, and the incrementally kept digest, counts and data size equal those of the tree
 * rebuilt from a snapshot (which computes them from scratch).
 */
static void test_random_ops_model(void **state)
{
	enum { N = 3000, STEPS = 20000 };
	static const int sizes[] = { -1, 0, 3, 8, 9, 100, 700, 5000 };
	struct zk_tree *t = tree_new(), *t2;
	static int64_t owner[N];
	static int len[N], seed[N], live[N], kid[N];
	uint64_t rng = 12345;
	int64_t zxid = 10;
	char path[64];
	int step, i;

	(void)state;
	assert_int_equal(create(t, zxid++, "/r", NULL, 0), 0);
	for (step = 0; step < STEPS; step++) {
		struct zk_txn tx;
		int op, k;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (int)((rng >> 33) % N);
		op = (int)((rng >> 20) % 10);
		snprintf(path, sizeof(path), "/r/n%d", k);
		if (!live[k] && op < 7) {
			int sz = sizes[(rng >> 40) % 8], kind = (int)((rng >> 50) % 4);
			char *d = sz >= 0 ? pattern(sz, k + step) : NULL;
			const struct zk_node *parent = tree_lookup(t, "/r");
			struct zk_txn_op *o;

			hdr(&tx, kind == 3 ? ZOP_CREATECONTAINER : ZOP_CREATE, zxid++, 5000 + step);
			tx.hdr.client_id = 0x100 + kind;
			o = op_create(&tx, kind == 3 ? ZOP_CREATECONTAINER : ZOP_CREATE, path, d,
				      kind == 1 || kind == 2, node_child_counter(parent) + 1);
			if (sz > 0) {
				/* op_create took strlen: fine, patterns have no NUL. */
				assert_int_equal(o->data_len, sz);
			}
			assert_int_equal(apply(t, &tx, NULL), 0);
			live[k] = 1;
			len[k] = sz;
			seed[k] = k + step;
			owner[k] = kind == 3 ? (int64_t)UINT64_C(0x8000000000000000) :
				   kind ? 0x100 + kind : 0;
			free(d);
		} else if (live[k] && op < 4) {
			int sz = sizes[(rng >> 40) % 8];
			char *d = sz >= 0 ? pattern(sz, k + step) : NULL;

			hdr(&tx, ZOP_SETDATA, zxid++, 5000 + step);
			op_setdata(&tx, path, d, 1);
			assert_int_equal(apply(t, &tx, NULL), 0);
			len[k] = sz;
			seed[k] = k + step;
			free(d);
		} else if (live[k] && op < 8) {
			if (kid[k]) {
				char cp[80];

				snprintf(cp, sizeof(cp), "%s/c", path);
				assert_int_equal(del(t, zxid++, cp), 0);
				kid[k] = 0;
			}
			assert_int_equal(del(t, zxid++, path), 0);
			live[k] = 0;
		} else if (live[k] && op == 8 && !kid[k] && (owner[k] == 0 || owner[k] < 0)) {
			/* A child: the node gains a pzxid (and moves) while it has siblings. */
			char cp[80];

			snprintf(cp, sizeof(cp), "%s/c", path);
			assert_int_equal(create(t, zxid++, cp, "child", 0), 0);
			kid[k] = 1;
		} else if (op == 9 && (rng >> 60) == 0) {
			/* Close session 0x101: its ephemerals go. */
			hdr(&tx, ZOP_CLOSESESSION, zxid++, 5000 + step);
			tx.hdr.client_id = 0x101;
			assert_int_equal(apply(t, &tx, NULL), 0);
			for (i = 0; i < N; i++)
				if (live[i] && owner[i] == 0x101)
					live[i] = 0;
		}
	}
	nev = 0;
	for (i = 0; i < N; i++) {
		const struct zk_node *n;
		const uint8_t *d;
		int32_t dl;

		snprintf(path, sizeof(path), "/r/n%d", i);
		n = tree_lookup(t, path);
		if (!live[i]) {
			assert_null(n);
			continue;
		}
		assert_non_null(n);
		d = node_data(n, &dl);
		assert_int_equal(dl, len[i]);
		if (len[i] > 0) {
			char *want = pattern(len[i], seed[i]);

			assert_memory_equal(d, want, (size_t)len[i]);
			free(want);
		} else if (len[i] < 0) {
			assert_null(d);
		}
		assert_int_equal(node_ephemeral_owner(n), owner[i]);
		assert_int_equal(node_num_children(n), kid[i]);
		snprintf(path, sizeof(path), "/r/n%d/c", i);
		assert_true((tree_lookup(t, path) != NULL) == kid[i]);
	}
	assert_int_equal(tree_digest(t), (int64_t)digest_from_snapshot(t));
	t2 = reload(t);
	assert_same_tree(t, t2);
	tree_free(t2);
	tree_free(t);
}

/* /zookeeper/config takes the membership text with version -1 and leaves the digest. */
static void test_set_config(void **state)
{
	struct zk_tree *t = tree_new();
	const char *cfg = "server.1=127.0.0.1:2888:3888:participant\nversion=100000000";
	int64_t digest = tree_digest(t);
	struct zk_stat s;
	const uint8_t *d;
	int32_t len;

	(void)state;
	assert_int_equal(tree_set_config(t, (const uint8_t *)cfg, (int32_t)strlen(cfg),
					 0x100000000LL, 1234), 0);
	s = stat_of(t, "/zookeeper/config");
	assert_int_equal(s.version, -1);
	assert_int_equal(s.aversion, -1);
	assert_int_equal(s.mzxid, 0x100000000LL);
	assert_int_equal(s.mtime, 1234);
	d = node_data(tree_lookup(t, "/zookeeper/config"), &len);
	assert_int_equal(len, (int32_t)strlen(cfg));
	assert_memory_equal(d, cfg, (size_t)len);
	assert_int_equal(tree_digest(t), digest);
	assert_int_equal(tree_last_zxid(t), 0);
	tree_free(t);
}

/* Odd txns are harmless: createSession changes nothing, delete refuses a non-empty node. */
static void test_odd_txns(void **state)
{
	struct zk_tree *t = tree_new();
	struct zk_txn x;
	int64_t digest = tree_digest(t);

	(void)state;
	hdr(&x, ZOP_CREATESESSION, 1, 1);
	x.timeout = 30000;
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(tree_digest(t), digest);
	assert_int_equal(tree_last_zxid(t), 1);
	assert_int_equal(create(t, 2, "/a", "", 0), 0);
	assert_int_equal(create(t, 3, "/a/b", "", 0), 0);
	assert_int_equal(del(t, 4, "/a"), ZNOTEMPTY);
	assert_non_null(tree_lookup(t, "/a/b"));
	/* Replay without a reply or a sink. */
	hdr(&x, ZOP_DELETE, 5, 1);
	op_path(&x, ZOP_DELETE, "/a/b");
	assert_int_equal(tree_apply(t, &x, NULL, NULL, NULL), 0);
	txn_release(&x);
	assert_null(tree_lookup(t, "/a/b"));
	/* last_zxid never goes backwards. */
	hdr(&x, ZOP_CREATESESSION, 2, 1);
	assert_int_equal(apply(t, &x, NULL), 0);
	assert_int_equal(tree_last_zxid(t), 5);
	tree_free(t);
}

/*
 * Apache 3.8.0's own DataTree applied this log (fixtures/GenApacheTree.java): after every
 * txn our digest equals the TxnDigest it logged, errors agree, and its snapshot loads into
 * the same tree.
 */
static void test_apache_fixture(void **state)
{
	struct zk_tree *t = tree_new(), *t2 = tree_new_empty(), *t3;
	size_t off = 0, k = 0;
	char err[256];
	struct rd r;

	(void)state;
	while (off < sizeof(apache_txns)) {
		int32_t n = be32_get(apache_txns + off);
		struct zk_txn x;
		struct zk_resp rep;

		off += 4;
		assert_int_equal(txn_decode(&x, apache_txns + off, (size_t)n), 0);
		off += (size_t)n;
		assert_true(x.has_digest);
		memset(&rep, 0, sizeof(rep));
		assert_int_equal(tree_apply(t, &x, &rep, NULL, NULL), 0);
		if (tree_digest(t) != x.digest)
			fail_msg("zxid 0x%llx: digest %llx, Apache %llx", (long long)x.hdr.zxid,
				 (long long)tree_digest(t), (long long)x.digest);
		assert_true(k < sizeof(apache_errs) / sizeof(apache_errs[0]));
		/* Apache's rc.err of a multi is its first sub-error; the client sees 0. */
		if (x.hdr.type != ZOP_MULTI)
			assert_int_equal(rep.err, apache_errs[k]);
		k++;
		zk_resp_release(&rep);
		txn_release(&x);
	}
	assert_int_equal(k, sizeof(apache_errs) / sizeof(apache_errs[0]));
	assert_int_equal(tree_digest(t), apache_digest);
	assert_int_equal(tree_node_count(t), apache_node_count);
	assert_int_equal(tree_data_size(t), apache_data_size);
	assert_int_equal(node_descendants(t, tree_lookup(t, "/")), apache_all_children);

	rd_init(&r, apache_snap, sizeof(apache_snap), ZK_DEFAULT_MAXBUFFER);
	if (tree_snap_read(t2, &r, err, sizeof(err)))
		fail_msg("apache snapshot: %s", err);
	assert_int_equal(rd_left(&r), 0);
	assert_int_equal(tree_digest(t2), apache_digest);
	assert_int_equal(tree_node_count(t2), apache_node_count);
	assert_int_equal(tree_data_size(t2), apache_data_size);
	assert_same_subtree(t, t2, "/");
	assert_same_subtree(t2, t, "/");
	/* Same size as Apache's bytes (sibling order may differ: theirs is hash order). */
	{
		struct buf b;

		snap(t2, &b);
		assert_int_equal(b.len, sizeof(apache_snap));
		buf_release(&b);
	}
	t3 = reload(t2);
	assert_same_tree(t2, t3);
	tree_free(t3);
	tree_free(t2);
	tree_free(t);
}

/* ---- quotas ----------------------------------------------------------------------------- */

static void set_data(struct zk_tree *tr, int64_t zxid, const char *path, const char *data)
{
	struct zk_txn t;

	hdr(&t, ZOP_SETDATA, zxid, 1000 + zxid);
	op_setdata(&t, path, data, 1);
	assert_int_equal(apply(tr, &t, NULL), 0);
}

static void assert_data(struct zk_tree *tr, const char *path, const char *want)
{
	const struct zk_node *n = tree_lookup(tr, path);
	const uint8_t *d;
	int32_t len;

	assert_non_null(n);
	d = node_data(n, &len);
	assert_int_equal(len, (int32_t)strlen(want));
	assert_memory_equal(d, want, strlen(want));
}

/* zkCli's setquota: the quota node, its limits, then its stats (Apache's order). */
static void set_quota(struct zk_tree *tr, int64_t zxid, const char *path)
{
	char p[256];

	snprintf(p, sizeof(p), "/zookeeper/quota%s", path);
	if (!tree_lookup(tr, p))
		assert_int_equal(create(tr, zxid, p, "", 0), 0);
	snprintf(p, sizeof(p), "/zookeeper/quota%s/zookeeper_limits", path);
	assert_int_equal(create(tr, zxid + 1, p, "count=5,bytes=-1", 0), 0);
	snprintf(p, sizeof(p), "/zookeeper/quota%s/zookeeper_stats", path);
	assert_int_equal(create(tr, zxid + 2, p, "count=0,bytes=0", 0), 0);
}

/*
 * Creating the stats node counts the subtree; creates, setData and deletes under the quota
 * rewrite it in place (no version change, no event); other paths leave it alone.
 */
static void test_quota_stats_follow_changes(void **state)
{
	struct zk_tree *t = tree_new(), *plain = tree_new(), *t2;
	const char *sp = "/zookeeper/quota/q/zookeeper_stats";
	struct zk_resp r;
	struct zk_txn x;
	struct zk_stat before, after;

	(void)state;
	assert_int_equal(create(t, 2, "/q", NULL, 0), 0);
	assert_int_equal(create(t, 3, "/q/a", "xy", 0), 0);
	assert_int_equal(create(t, 4, "/qq", "zzzz", 0), 0);
	/* The create reply's stat is the stats node as created, before the rewrite. */
	assert_int_equal(create(t, 10, "/zookeeper/quota/q", "", 0), 0);
	assert_int_equal(create(t, 11, "/zookeeper/quota/q/zookeeper_limits", "count=5,bytes=-1", 0), 0);
	hdr(&x, ZOP_CREATE2, 12, 1012);
	op_create(&x, ZOP_CREATE2, sp, "count=0,bytes=0", 0, 3);
	assert_int_equal(apply(t, &x, &r), 0);
	assert_int_equal(r.stat.data_length, 15);
	zk_resp_release(&r);
	assert_data(t, sp, "count=2,bytes=2");
	before = stat_of(t, sp);

	nev = 0;
	assert_int_equal(create(t, 13, "/q/b", "abc", 0), 0);
	assert_int_equal(nev, 2);
	check_event(0, ZEV_CREATED, "/q/b");
	check_event(1, ZEV_CHILDREN_CHANGED, "/q");
	assert_data(t, sp, "count=3,bytes=5");
	nev = 0;
	set_data(t, 14, "/q/b", "a");
	assert_int_equal(nev, 1);
	assert_data(t, sp, "count=3,bytes=3");
	set_data(t, 15, "/q", "12345");
	assert_data(t, sp, "count=3,bytes=8");
	assert_int_equal(create(t, 16, "/q/a/deep", "", 0), 0);
	assert_data(t, sp, "count=4,bytes=8");
	assert_int_equal(del(t, 17, "/q/b"), 0);
	assert_data(t, sp, "count=3,bytes=7");
	/* "/qq" shares the prefix string but not the component. */
	assert_int_equal(create(t, 18, "/qq/x", "abc", 0), 0);
	set_data(t, 19, "/qq", "");
	assert_data(t, sp, "count=3,bytes=7");
	after = stat_of(t, sp);
	assert_int_equal(before.version, after.version);
	assert_int_equal(before.mzxid, after.mzxid);
	assert_int_equal(before.mtime, after.mtime);
	assert_int_equal(before.cversion, after.cversion);

	/* Nodes under /zookeeper/ contribute nothing to the digest, stats rewrites included. */
	assert_int_equal(create(plain, 2, "/q", NULL, 0), 0);
	assert_int_equal(create(plain, 3, "/q/a", "xy", 0), 0);
	assert_int_equal(create(plain, 4, "/qq", "zzzz", 0), 0);
	assert_int_equal(create(plain, 13, "/q/b", "abc", 0), 0);
	set_data(plain, 14, "/q/b", "a");
	set_data(plain, 15, "/q", "12345");
	assert_int_equal(create(plain, 16, "/q/a/deep", "", 0), 0);
	assert_int_equal(del(plain, 17, "/q/b"), 0);
	assert_int_equal(create(plain, 18, "/qq/x", "abc", 0), 0);
	set_data(plain, 19, "/qq", "");
	assert_int_equal(tree_digest(t), tree_digest(plain));

	/* Data size and digest agree with a tree rebuilt from the snapshot. */
	t2 = reload(t);
	assert_same_tree(t, t2);
	tree_free(t2);
	tree_free(plain);
	tree_free(t);
}

/* The longest quota'd prefix counts; deleting a limits node hands the subtree back up. */
static void test_quota_nested_and_removed(void **state)
{
	struct zk_tree *t = tree_new();
	const char *sq = "/zookeeper/quota/q/zookeeper_stats";
	const char *sa = "/zookeeper/quota/q/a/zookeeper_stats";

	(void)state;
	assert_int_equal(create(t, 2, "/q", "", 0), 0);
	assert_int_equal(create(t, 3, "/q/a", "", 0), 0);
	set_quota(t, 10, "/q");
	set_quota(t, 20, "/q/a");
	assert_data(t, sq, "count=2,bytes=0");
	assert_data(t, sa, "count=1,bytes=0");
	assert_int_equal(create(t, 30, "/q/a/x", "1234", 0), 0);
	assert_data(t, sq, "count=2,bytes=0");
	assert_data(t, sa, "count=2,bytes=4");
	assert_int_equal(create(t, 31, "/q/y", "1", 0), 0);
	assert_data(t, sq, "count=3,bytes=1");
	/* A quota on a path that does not exist yet counts its creation. */
	set_quota(t, 40, "/later");
	assert_data(t, "/zookeeper/quota/later/zookeeper_stats", "count=0,bytes=0");
	assert_int_equal(create(t, 43, "/later", "abc", 0), 0);
	assert_data(t, "/zookeeper/quota/later/zookeeper_stats", "count=1,bytes=3");

	/* delquota: limits and stats go; /q/a's changes now count for /q. */
	assert_int_equal(del(t, 50, "/zookeeper/quota/q/a/zookeeper_limits"), 0);
	assert_int_equal(del(t, 51, sa), 0);
	assert_int_equal(create(t, 52, "/q/a/z", "22", 0), 0);
	assert_data(t, sq, "count=4,bytes=3");
	/* With the limits gone but the stats node left, nothing counts any more. */
	assert_int_equal(del(t, 53, "/zookeeper/quota/q/zookeeper_limits"), 0);
	assert_int_equal(create(t, 54, "/q/w", "", 0), 0);
	assert_data(t, sq, "count=4,bytes=3");
	tree_free(t);
}

/*
 * StatsTrack's text: extra keys survive sorted after "=", missing values count from -1,
 * and text Apache cannot parse is left as it is.
 */
static void test_quota_stats_text(void **state)
{
	struct zk_tree *t = tree_new();
	const char *sp = "/zookeeper/quota/q/zookeeper_stats";

	(void)state;
	assert_int_equal(create(t, 2, "/q", "", 0), 0);
	set_quota(t, 10, "/q");
	set_data(t, 20, sp, "count=1,bytes=2=;countHardLimit=5;byteHardLimit=7");
	assert_int_equal(create(t, 21, "/q/a", "xyz", 0), 0);
	assert_data(t, sp, "count=2,bytes=5=;byteHardLimit=7;countHardLimit=5");
	set_data(t, 22, sp, "");
	assert_int_equal(create(t, 23, "/q/b", "xyz", 0), 0);
	assert_data(t, sp, "count=0,bytes=2");
	set_data(t, 24, sp, "bytes=10;;count==1,x==3,count=7,");
	assert_int_equal(create(t, 25, "/q/c", "", 0), 0);
	assert_data(t, sp, "count=8,bytes=10=;x=-1");
	set_data(t, 26, sp, "count=,bytes=1");
	assert_int_equal(create(t, 27, "/q/d", "", 0), 0);
	assert_data(t, sp, "count=,bytes=1");
	set_data(t, 26, sp, ",count=1");
	assert_int_equal(del(t, 27, "/q/d"), 0);
	assert_data(t, sp, ",count=1");
	set_data(t, 26, sp, "=5,count=1");
	assert_int_equal(create(t, 27, "/q/d", "", 0), 0);
	assert_data(t, sp, "count=2,bytes=-1=;=5");
	set_data(t, 26, sp, "garbage");
	assert_int_equal(del(t, 27, "/q/d"), 0);
	assert_data(t, sp, "garbage");
	set_data(t, 28, sp, "count=1,bytes=99999999999999999999");
	assert_int_equal(create(t, 29, "/q/d", "", 0), 0);
	assert_data(t, sp, "count=1,bytes=99999999999999999999");
	tree_free(t);
}

/*
 * A snapshot load rebuilds the quota'd set from the limit nodes and recounts every stats
 * node; blank path components are ignored as PathTrie does.
 */
static void test_quota_snapshot_rebuild(void **state)
{
	struct zk_tree *t = tree_new(), *t2;
	const char *sp = "/zookeeper/quota/q/zookeeper_stats";

	(void)state;
	assert_int_equal(create(t, 2, "/q", "ab", 0), 0);
	assert_int_equal(create(t, 3, "/q/a", "c", 0), 0);
	assert_int_equal(create(t, 4, "/r", "", 0), 0);
	set_quota(t, 10, "/q");
	/* A stale count (as a fuzzy snapshot may hold) is corrected on load. */
	set_data(t, 20, sp, "count=99,bytes=99");
	assert_int_equal(create(t, 21, "/zookeeper/quota/ ", "", 0), 0);
	assert_int_equal(create(t, 22, "/zookeeper/quota/ /r", "", 0), 0);
	assert_int_equal(create(t, 23, "/zookeeper/quota/ /r/zookeeper_stats", "", 0), 0);
	assert_int_equal(create(t, 24, "/zookeeper/quota/ /r/zookeeper_limits", "count=1", 0), 0);
	/* The stats node was created first: it counted "/ /r", which does not exist. */
	assert_data(t, "/zookeeper/quota/ /r/zookeeper_stats", "count=0,bytes=0");

	t2 = reload(t);
	assert_data(t2, sp, "count=2,bytes=3");
	assert_int_equal(create(t2, 30, "/q/b", "1234", 0), 0);
	assert_data(t2, sp, "count=3,bytes=7");
	/* "/ /r" is "/r" to the trie, whose stats node lives at statPath("/r"): missing. */
	assert_int_equal(create(t2, 31, "/r/x", "1", 0), 0);
	assert_data(t2, "/zookeeper/quota/ /r/zookeeper_stats", "count=0,bytes=0");
	assert_int_equal(create(t2, 32, "/zookeeper/quota/r", "", 0), 0);
	assert_int_equal(create(t2, 33, "/zookeeper/quota/r/zookeeper_stats", "", 0), 0);
	assert_data(t2, "/zookeeper/quota/r/zookeeper_stats", "count=2,bytes=1");
	assert_int_equal(create(t2, 34, "/r/y", "22", 0), 0);
	assert_data(t2, "/zookeeper/quota/r/zookeeper_stats", "count=3,bytes=3");
	/* A tree without limit nodes loads with no quotas. */
	tree_free(t);
	t = tree_new();
	t2 = (tree_free(t2), reload(t));
	assert_int_equal(create(t2, 2, "/q", "", 0), 0);
	assert_same_tree(t2, t2);
	tree_free(t2);
	tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_tree),
		cmocka_unit_test(test_digest_vectors),
		cmocka_unit_test(test_create_delete_stats),
		cmocka_unit_test(test_setdata_setacl),
		cmocka_unit_test(test_acl_cache_sharing),
		cmocka_unit_test(test_sequential_counter),
		cmocka_unit_test(test_ephemerals_close_session),
		cmocka_unit_test(test_foreach_ephemeral_session),
		cmocka_unit_test(test_container_ttl_reapable),
		cmocka_unit_test(test_multi_failed),
		cmocka_unit_test(test_multi_success),
		cmocka_unit_test(test_event_order),
		cmocka_unit_test(test_idempotent_replay),
		cmocka_unit_test(test_snapshot_fresh_bytes),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_snapshot_read_rejects),
		cmocka_unit_test(test_descendants),
		cmocka_unit_test(test_many_children),
		cmocka_unit_test(test_random_ops_model),
		cmocka_unit_test(test_set_config),
		cmocka_unit_test(test_odd_txns),
		cmocka_unit_test(test_apache_fixture),
		cmocka_unit_test(test_quota_stats_follow_changes),
		cmocka_unit_test(test_quota_nested_and_removed),
		cmocka_unit_test(test_quota_stats_text),
		cmocka_unit_test(test_quota_snapshot_rebuild),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
