/*
 * snapdump: storage interop helper for tests/integration/test_storage_interop.sh.
 *
 *   snapdump dump <dataDir> [<dataLogDir>]   load a data directory with storage_load()
 *                                            and print the tree, one node per line
 *   snapdump write <dataDir>                 write a data directory with storage_*
 *                                            (snapshot in the middle, txns of every kind
 *                                            after it) and print the tree it must hold
 *
 * Line format (the Python side prints the same from kazoo):
 *   path|data|czxid|mzxid|ctime|mtime|version|cversion|aversion|ephemeralOwner|
 *   dataLength|numChildren|pzxid|acl
 * data is "null", hex when at most 48 bytes, else "len=<n>,crc32=<hex>"; acl is
 * "perms:scheme:id" joined by ",". Sorted by path.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <zlib.h>

#include "datatree.h"
#include "log.h"
#include "storage_i.h"

/* ---- dump ------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct paths {
	char **v;
	size_t n, cap;
};

static void collect(const struct zk_tree *t, const char *path, struct paths *out)
{
	const struct zk_node *n = tree_lookup(t, path);
	struct zk_strvec kids = { 0, NULL };
	int32_t i;

	if (!n)
		return;
	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 256;
		out->v = realloc(out->v, out->cap * sizeof(*out->v));
	}
	out->v[out->n++] = strdup(path);
	node_children(n, &kids);
	for (i = 0; i < kids.n; i++) {
		char child[4096];

		snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", kids.v[i]);
		collect(t, child, out);
	}
	zk_strvec_release(&kids);
}

static void dump_tree(const struct zk_tree *t, FILE *fp)
{
	struct paths ps = { NULL, 0, 0 };
	size_t i;

	collect(t, "/", &ps);
	qsort(ps.v, ps.n, sizeof(*ps.v), cmp_str);
	for (i = 0; i < ps.n; i++) {
		const struct zk_node *n = tree_lookup(t, ps.v[i]);
		const struct zk_acl_list *acl = node_acl(n);
		struct zk_stat st;
		const uint8_t *d;
		int32_t len, k;

		node_stat(n, &st);
		d = node_data(n, &len);
		fprintf(fp, "%s|", ps.v[i]);
		if (len < 0) {
			fputs("null", fp);
		} else if (len <= 48) {
			for (k = 0; k < len; k++)
				fprintf(fp, "%02x", d[k]);
		} else {
			fprintf(fp, "len=%d,crc32=%08lx", len,
				(unsigned long)crc32(crc32(0, NULL, 0), d, (uInt)len));
		}
		fprintf(fp, "|%" PRId64 "|%" PRId64 "|%" PRId64 "|%" PRId64 "|%d|%d|%d|%" PRId64
			"|%d|%d|%" PRId64 "|", st.czxid, st.mzxid, st.ctime, st.mtime, st.version,
			st.cversion, st.aversion, st.ephemeral_owner, st.data_length,
			st.num_children, st.pzxid);
		for (k = 0; acl && k < acl->n; k++)
			fprintf(fp, "%s%d:%s:%s", k ? "," : "", acl->v[k].perms, acl->v[k].id.scheme,
				acl->v[k].id.id);
		fputc('\n', fp);
		free(ps.v[i]);
	}
	free(ps.v);
}

static int nsessions;

static void count_session(void *ctx, int64_t id, int32_t timeout)
{
	nsessions++;
}

static void on_durable_ignore(void *ctx, int64_t zxid, int status)
{
}

static int cmd_dump(const char *data, const char *logdir)
{
	struct storage_opts o;
	struct storage_load_cb cb = { NULL, count_session, NULL };
	struct zk_storage *st;
	struct zk_tree *tree;
	uv_loop_t loop;
	char err[2048];

	uv_loop_init(&loop);
	memset(&o, 0, sizeof(o));
	o.data_dir = data;
	o.log_dir = logdir;
	o.snap_count = 100000;
	o.prealloc_kb = 65536;
	o.force_sync = 1;
	if (storage_open(&loop, &o, on_durable_ignore, NULL, &st, err, sizeof(err)) ||
	    storage_load(st, &tree, &cb, err, sizeof(err))) {
		fprintf(stderr, "snapdump: %s\n", err);
		return 1;
	}
	fprintf(stderr, "snapdump: last zxid 0x%" PRIx64 ", %d sessions from the snapshot\n",
		(uint64_t)tree_last_zxid(tree), nsessions);
	dump_tree(tree, stdout);
	storage_close(st);
	tree_free(tree);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

/* ---- write -------------------------------------------------------------------------- */

struct writer {
	uv_loop_t loop;
	struct zk_storage *st;
	struct zk_tree *tree;
	int64_t zxid, durable, now;
	int failed;
};

static void w_durable(void *ctx, int64_t zxid, int status)
{
	struct writer *w = ctx;

	if (status)
		w->failed = 1;
	w->durable = zxid;
	uv_stop(&w->loop);
}

static void acl_set(struct zk_acl_list *a, int32_t perms, const char *scheme, const char *id)
{
	struct zk_acl *v = realloc(a->v, sizeof(*v) * (size_t)(a->n + 1));

	a->v = v;
	v[a->n].perms = perms;
	v[a->n].id.scheme = strdup(scheme);
	v[a->n].id.id = strdup(id);
	a->n++;
}

static void hdr(struct writer *w, struct zk_txn *t, int32_t type, int64_t client)
{
	memset(t, 0, sizeof(*t));
	t->hdr.client_id = client;
	t->hdr.cxid = (int32_t)(w->zxid + 1);
	t->hdr.zxid = ++w->zxid;
	t->hdr.time = w->now + w->zxid;
	t->hdr.type = type;
}

static int32_t child_counter(struct writer *w, const char *path)
{
	char parent[4096];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return node_child_counter(tree_lookup(w->tree, parent));
}

static struct zk_txn_op *op_create(struct zk_txn *t, int32_t type, const char *path,
				   const void *data, int32_t len, int32_t parent_cv)
{
	struct zk_txn_op *o = txn_add_op(t);

	o->type = type;
	o->path = strdup(path);
	if (len >= 0) {
		o->data = malloc((size_t)len + 1);
		memcpy(o->data, data, (size_t)len);
	}
	o->data_len = len;
	acl_set(&o->acl, ZPERM_ALL, "world", "anyone");
	o->parent_cversion = parent_cv;
	return o;
}

/* Applies t to the tree, stamps the digest as a server would, and logs it. */
static void submit(struct writer *w, struct zk_txn *t, int error_txn)
{
	if (tree_apply(w->tree, t, NULL, NULL, NULL)) {
		fprintf(stderr, "snapdump: apply failed at zxid %" PRId64 "\n", t->hdr.zxid);
		exit(1);
	}
	/* Apache: error txns carry no digest. */
	t->has_digest = !error_txn;
	t->digest = tree_digest(w->tree) + (getenv("SNAPDUMP_BAD_DIGEST") ? 1 : 0);
	if (storage_append(w->st, t)) {
		fprintf(stderr, "snapdump: append failed at zxid %" PRId64 "\n", t->hdr.zxid);
		exit(1);
	}
	txn_release(t);
}

static void sync_all(struct writer *w)
{
	/* The flush handle does not keep the loop alive by itself: start the batch here. */
	while (w->durable < w->zxid && !w->failed) {
		storage_flush(w->st);
		uv_run(&w->loop, UV_RUN_DEFAULT);
	}
	if (w->failed) {
		fprintf(stderr, "snapdump: a batch failed\n");
		exit(1);
	}
}

static void create(struct writer *w, const char *path, const char *data, int64_t owner)
{
	struct zk_txn t;
	struct zk_txn_op *o;

	hdr(w, &t, ZOP_CREATE, owner ? owner : 0x100);
	o = op_create(&t, ZOP_CREATE, path, data, data ? (int32_t)strlen(data) : -1,
		      child_counter(w, path) + 1);
	o->ephemeral = owner != 0;
	submit(w, &t, 0);
}

static int cmd_write(const char *data)
{
	const int64_t s1 = 0x1000001a2b3c0000LL, s2 = 0x1000001a2b3c0001LL;
	struct storage_session sess[1] = { { s1, 40000 } };
	struct storage_opts o;
	struct writer w;
	struct zk_txn t;
	struct zk_txn_op *op;
	struct timeval tv;
	char err[2048], path[64], big[3000];
	int i, cv;

	memset(&w, 0, sizeof(w));
	gettimeofday(&tv, NULL);
	w.now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	uv_loop_init(&w.loop);
	memset(&o, 0, sizeof(o));
	o.data_dir = data;
	o.snap_count = 100000;
	o.prealloc_kb = 65536;
	o.force_sync = 1;
	if (storage_open(&w.loop, &o, w_durable, &w, &w.st, err, sizeof(err)) ||
	    storage_load(w.st, &w.tree, NULL, err, sizeof(err))) {
		fprintf(stderr, "snapdump: %s\n", err);
		return 1;
	}
	w.zxid = tree_last_zxid(w.tree);
	w.durable = w.zxid;

	/* A session that stays open (its ephemeral must be there after load). */
	hdr(&w, &t, ZOP_CREATESESSION, s1);
	t.hdr.cxid = 0;
	t.timeout = 40000;
	submit(&w, &t, 0);
	create(&w, "/app", "top", 0);
	create(&w, "/app/conf", "key=value\n", 0);
	create(&w, "/app/null", NULL, 0);
	create(&w, "/app/empty", "", 0);
	for (i = 0; i < 3; i++) {
		cv = child_counter(&w, "/app/x");
		snprintf(path, sizeof(path), "/app/seq-%010d", cv);
		create(&w, path, "s", 0);
	}
	create(&w, "/app/eph", "mine", s1);
	/* Binary data, and data larger than one 4 KiB page of the log. */
	hdr(&w, &t, ZOP_CREATE, 0x100);
	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)(i * 7);
	op_create(&t, ZOP_CREATE, "/app/bin", big, sizeof(big), child_counter(&w, "/app/bin") + 1);
	submit(&w, &t, 0);
	/* A node only a digest user may read. */
	hdr(&w, &t, ZOP_CREATE, 0x100);
	op = op_create(&t, ZOP_CREATE, "/secret", "s3cr3t", 6, child_counter(&w, "/secret") + 1);
	zk_acl_list_release(&op->acl);
	acl_set(&op->acl, ZPERM_ALL, "digest", "user:smGaoVKd/cQkjm7b88GyorAUz20=");
	acl_set(&op->acl, ZPERM_READ, "world", "anyone");
	submit(&w, &t, 0);
	sync_all(&w);

	/* Snapshot here: what follows must be replayed from the log by Apache. */
	if (storage_snapshot(w.st, w.tree, sess, 1)) {
		fprintf(stderr, "snapdump: snapshot failed\n");
		return 1;
	}
	uv_run(&w.loop, UV_RUN_DEFAULT);	/* until the snapshot is written */

	/* setData twice, setACL, delete. */
	for (i = 1; i <= 2; i++) {
		hdr(&w, &t, ZOP_SETDATA, 0x100);
		op = txn_add_op(&t);
		op->type = ZOP_SETDATA;
		op->path = strdup("/app/conf");
		op->data = (uint8_t *)strdup(i == 1 ? "key=v2\n" : "key=v3\n");
		op->data_len = 7;
		op->version = i;
		submit(&w, &t, 0);
	}
	hdr(&w, &t, ZOP_SETACL, 0x100);
	op = txn_add_op(&t);
	op->type = ZOP_SETACL;
	op->path = strdup("/app/empty");
	acl_set(&op->acl, ZPERM_READ | ZPERM_WRITE, "world", "anyone");
	op->version = 1;
	submit(&w, &t, 0);
	create(&w, "/gone", "x", 0);
	hdr(&w, &t, ZOP_DELETE, 0x100);
	op = txn_add_op(&t);
	op->type = ZOP_DELETE;
	op->path = strdup("/gone");
	submit(&w, &t, 0);
	/* A successful multi: create + setData + check. */
	hdr(&w, &t, ZOP_MULTI, 0x100);
	op_create(&t, ZOP_CREATE, "/app/m1", "m", 1, child_counter(&w, "/app/m1") + 1);
	op = txn_add_op(&t);
	op->type = ZOP_SETDATA;
	op->path = strdup("/app");
	op->data = (uint8_t *)strdup("top2");
	op->data_len = 4;
	op->version = 1;
	op = txn_add_op(&t);
	op->type = ZOP_CHECK;
	op->path = strdup("/app/conf");
	op->version = 2;
	submit(&w, &t, 0);
	/* A failed multi: nothing applies. */
	hdr(&w, &t, ZOP_MULTI, 0x100);
	op_create(&t, ZOP_CREATE, "/app/m2", "m", 1, child_counter(&w, "/app/m2") + 1);
	op = txn_add_op(&t);
	op->type = ZOP_ERROR;
	op->err = ZBADVERSION;
	submit(&w, &t, 0);
	/* An error txn. */
	hdr(&w, &t, ZOP_ERROR, 0x100);
	op = txn_add_op(&t);
	op->type = ZOP_ERROR;
	op->err = ZNONODE;
	submit(&w, &t, 1);
	/* A second session with an ephemeral, closed again (its ephemeral goes). */
	hdr(&w, &t, ZOP_CREATESESSION, s2);
	t.hdr.cxid = 0;
	t.timeout = 30000;
	submit(&w, &t, 0);
	create(&w, "/app/eph2", "theirs", s2);
	hdr(&w, &t, ZOP_CLOSESESSION, s2);
	t.hdr.cxid = 0;
	t.close_paths.n = 0;
	zk_strvec_push(&t.close_paths, "/app/eph2");
	submit(&w, &t, 0);
	/* Many small nodes across several batches. */
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/bulk%03d", i);
		create(&w, path, "b", 0);
		if (i % 50 == 0)
			sync_all(&w);
	}
	sync_all(&w);
	storage_close(w.st);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	uv_loop_close(&w.loop);
	dump_tree(w.tree, stdout);
	fprintf(stderr, "snapdump: wrote zxids 1..0x%" PRIx64 "\n", (uint64_t)w.zxid);
	tree_free(w.tree);
	return 0;
}

int main(int argc, char **argv)
{
	log_set_level(LOG_WARN);
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "dump"))
		return cmd_dump(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2]);
	fprintf(stderr, "usage: snapdump dump <dataDir> [<dataLogDir>] | write <dataDir>\n");
	return 2;
}
