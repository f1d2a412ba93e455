/*
 * test_storage: the txn log, snapshots, recovery, purge and the crash simulator.
 *
 * Most tests run storage on the simulated file system (vfs_sim.h) with a synchronous
 * executor, so every write, fsync and crash is deterministic. A few run it for real on
 * the libuv threadpool in a temporary directory.
 *
 *   STORAGE_CRASH_SEEDS=N   crash-simulator runs (default 300)
 *   STORAGE_CRASH_SEED=S    run only seed S (to replay a failure)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "datatree.h"
#include "log.h"
#include "snapfile.h"
#include "storage_i.h"
#include "txnlog.h"
#include "vfs_sim.h"

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a synchronous executor -------------------------------------------------------- */

struct texec {
	struct storage_exec base;
	struct storage_job *head, *tail;
	int n;
};

static int tx_submit(struct storage_exec *ex, struct storage_job *job)
{
	struct texec *x = (struct texec *)ex;

	job->next = NULL;
	if (x->tail)
		x->tail->next = job;
	else
		x->head = job;
	x->tail = job;
	x->n++;
	return 0;
}

static void tx_wait(struct storage_exec *ex, struct storage_job *job)
{
	if (!job->work_ran) {
		job->work(job);
		job->work_ran = 1;
	}
}

static void texec_init(struct texec *x)
{
	memset(x, 0, sizeof(*x));
	x->base.submit = tx_submit;
	x->base.wait = tx_wait;
}

static struct storage_job *texec_pop(struct texec *x)
{
	struct storage_job *job = x->head;

	if (!job)
		return NULL;
	x->head = job->next;
	if (!x->head)
		x->tail = NULL;
	x->n--;
	return job;
}

/* Runs the oldest job (work, then done); 0 if there was none. */
static int pump(struct texec *x)
{
	struct storage_job *job = texec_pop(x);

	if (!job)
		return 0;
	if (!job->work_ran) {
		job->work(job);
		job->work_ran = 1;
	}
	job->done(job);
	return 1;
}

static void pump_all(struct texec *x)
{
	while (pump(x))
		;
}

/* After storage_abandon(): the process is dead, so no work runs; done() frees. */
static void drain_dead(struct texec *x)
{
	struct storage_job *job;

	while ((job = texec_pop(x)))
		job->done(job);
}

/* ---- durability reports ------------------------------------------------------------ */

struct dur {
	int calls, failures;
	int64_t zxid, max_ok;
	int status;
};

static void on_dur(void *ctx, int64_t zxid, int status)
{
	struct dur *d = ctx;

	d->calls++;
	d->zxid = zxid;
	d->status = status;
	if (status == 0 && zxid > d->max_ok)
		d->max_ok = zxid;
	if (status)
		d->failures++;
}

/* ---- txns --------------------------------------------------------------------------- */

static void open_acl(struct zk_acl_list *a)
{
	a->n = 1;
	a->packed = 0;
	a->v = calloc(1, sizeof(*a->v));
	a->v[0].perms = ZPERM_ALL;
	a->v[0].id.scheme = strdup("world");
	a->v[0].id.id = strdup("anyone");
}

/* create /n<zxid> with data of dlen bytes (pattern from the zxid). */
static void mk_create(struct zk_txn *t, int64_t zxid, int dlen)
{
	struct zk_txn_op *o;
	char path[64];
	int i;

	memset(t, 0, sizeof(*t));
	t->hdr.client_id = 0x100;
	t->hdr.cxid = (int32_t)zxid;
	t->hdr.zxid = zxid;
	t->hdr.time = 1700000000000LL + zxid;
	t->hdr.type = ZOP_CREATE;
	o = txn_add_op(t);
	snprintf(path, sizeof(path), "/n%" PRId64, zxid);
	o->type = ZOP_CREATE;
	o->path = strdup(path);
	o->data = malloc((size_t)dlen + 1);
	for (i = 0; i < dlen; i++)
		o->data[i] = (uint8_t)('a' + (zxid + i) % 26);
	o->data_len = dlen;
	open_acl(&o->acl);
	o->parent_cversion = -1;
}

static void mk_error(struct zk_txn *t, int64_t zxid)
{
	struct zk_txn_op *o;

	memset(t, 0, sizeof(*t));
	t->hdr.client_id = 0x100;
	t->hdr.zxid = zxid;
	t->hdr.time = 1700000000000LL + zxid;
	t->hdr.type = ZOP_ERROR;
	o = txn_add_op(t);
	o->type = ZOP_ERROR;
	o->err = ZNONODE;
}

static int append_create(struct zk_storage *st, int64_t zxid, int dlen)
{
	struct zk_txn t;
	int rc;

	mk_create(&t, zxid, dlen);
	rc = storage_append(st, &t);
	txn_release(&t);
	return rc;
}

static int has_node(const struct zk_tree *t, int64_t zxid)
{
	char path[64];

	snprintf(path, sizeof(path), "/n%" PRId64, zxid);
	return tree_lookup(t, path) != NULL;
}

/* ---- stderr capture (warnings are part of the contract) ------------------------------ */

static char cap_text[1 << 16];
static int cap_saved = -1;
static FILE *cap_file;

static void cap_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	cap_saved = dup(2);
	dup2(fileno(cap_file), 2);
}

static const char *cap_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	rewind(cap_file);
	n = fread(cap_text, 1, sizeof(cap_text) - 1, cap_file);
	cap_text[n] = '\0';
	fclose(cap_file);
	return cap_text;
}

/* ---- fixtures on the simulated file system ------------------------------------------- */

struct fx {
	struct vfs *v;
	struct texec x;
	struct dur d;
	struct storage_opts o;
	struct zk_storage *st;
	struct zk_tree *tree;
	char err[1024];
	int64_t ntxn_cb, nsess_cb;
};

static void fx_txn_cb(void *ctx, const struct zk_txn *t)
{
	((struct fx *)ctx)->ntxn_cb++;
}

static void fx_sess_cb(void *ctx, int64_t id, int32_t timeout)
{
	((struct fx *)ctx)->nsess_cb++;
}

static void fx_init(struct fx *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->v = vfs_sim_new(seed);
	f->o.data_dir = "/d";
	f->o.snap_count = 100000;
	f->o.snap_size_kb = 4194304;
	f->o.prealloc_kb = 64;
	f->o.force_sync = 1;
	f->o.seed = seed;
}

static int fx_open(struct fx *f)
{
	texec_init(&f->x);
	memset(&f->d, 0, sizeof(f->d));
	return storage_open_with(NULL, &f->o, f->v, &f->x.base, on_dur, &f->d, &f->st,
				 f->err, sizeof(f->err));
}

static int fx_load(struct fx *f)
{
	struct storage_load_cb cb = { f, fx_sess_cb, fx_txn_cb };

	f->ntxn_cb = f->nsess_cb = 0;
	f->err[0] = '\0';
	return storage_load(f->st, &f->tree, &cb, f->err, sizeof(f->err));
}

/* Opens and loads; the load must succeed. */
static void fx_start(struct fx *f)
{
	assert_int_equal(fx_open(f), 0);
	if (fx_load(f))
		fail_msg("load: %s", f->err);
}

static void fx_stop(struct fx *f)
{
	if (f->st)
		storage_close(f->st);
	f->st = NULL;
	pump_all(&f->x);
	if (f->tree)
		tree_free(f->tree);
	f->tree = NULL;
}

static void fx_free(struct fx *f)
{
	fx_stop(f);
	vfs_sim_free(f->v);
}

/* Appends create /n<from..to>, one durable batch each when `each`, else one batch. */
static void fx_write(struct fx *f, int64_t from, int64_t to, int dlen, int each)
{
	int64_t z;

	for (z = from; z <= to; z++) {
		assert_int_equal(append_create(f->st, z, dlen), 0);
		if (each) {
			storage_flush(f->st);
			pump_all(&f->x);
		}
	}
	storage_flush(f->st);
	pump_all(&f->x);
	assert_int_equal(f->d.max_ok, to);
}

static int64_t file_size(struct vfs *v, const char *path)
{
	struct vfs_file *fh;
	int64_t size = -1;

	if (vfs_open(v, path, VFS_RDONLY, &fh))
		return -1;
	vfs_size(fh, &size);
	vfs_close(fh);
	return size;
}

static void poke(struct vfs *v, const char *path, int64_t off, const void *p, size_t n)
{
	struct vfs_file *fh;

	assert_int_equal(vfs_open(v, path, VFS_RDWR, &fh), 0);
	assert_int_equal(vfs_pwrite(fh, p, n, off), 0);
	assert_int_equal(vfs_sync(fh, 0), 0);
	vfs_close(fh);
}

static void cut(struct vfs *v, const char *path, int64_t size)
{
	struct vfs_file *fh;

	assert_int_equal(vfs_open(v, path, VFS_RDWR, &fh), 0);
	assert_int_equal(vfs_truncate(fh, size), 0);
	assert_int_equal(vfs_sync(fh, 0), 0);
	vfs_close(fh);
}

static int64_t peek(struct vfs *v, const char *path, int64_t off, void *p, size_t n)
{
	struct vfs_file *fh;
	int64_t got;

	assert_int_equal(vfs_open(v, path, VFS_RDONLY, &fh), 0);
	got = vfs_pread(fh, p, n, off);
	vfs_close(fh);
	return got;
}

/* Offsets of the records of a log file (walking the length fields). */
static int record_offsets(struct vfs *v, const char *path, int64_t *offs, int max)
{
	int64_t off = TXNLOG_HDR_LEN, size = file_size(v, path);
	uint8_t h[12];
	int n = 0;

	while (n < max && off + 12 <= size && peek(v, path, off, h, 12) == 12) {
		int32_t len = be32_get(h + 8);

		if (len <= 0)
			break;
		offs[n++] = off;
		off += TXNLOG_REC_OVERHEAD + len;
	}
	offs[n] = off;
	return n;
}

static int exists(struct vfs *v, const char *path)
{
	return file_size(v, path) >= 0;
}

/* ---- format ------------------------------------------------------------------------ */

/* A log entry is checksum(adler32 of payload) + length + payload + 0x42, as Apache's. */
static void test_entry_format(void **state)
{
	struct buf b = BUF_INIT, pl = BUF_INIT;
	struct zk_txn t;

	mk_create(&t, 7, 5);
	txnlog_put_entry(&b, &t);
	txn_encode(&t, &pl);
	assert_int_equal(b.len, pl.len + 13);
	assert_int_equal(be32_get(b.p), 0);
	assert_int_equal((uint32_t)be32_get(b.p + 4),
			 (uint32_t)adler32(adler32(0, NULL, 0), pl.p, (uInt)pl.len));
	assert_int_equal(be32_get(b.p + 8), (int32_t)pl.len);
	assert_memory_equal(b.p + 12, pl.p, pl.len);
	assert_int_equal(b.p[b.len - 1], 0x42);
	buf_reset(&b);
	txnlog_put_header(&b);
	assert_int_equal(b.len, 16);
	assert_memory_equal(b.p, "ZKLG\0\0\0\2\0\0\0\0\0\0\0\0", 16);
	buf_release(&b);
	buf_release(&pl);
	txn_release(&t);
}

/* Apache's FilePadding rule: +preAllocSize within 4 KiB of the end, rounding when past it. */
static void test_padding_rule(void **state)
{
	int64_t p = 64 * 1024 * 1024;

	assert_int_equal(txnlog_padded_size(16, 16, p), 16 + p);
	assert_int_equal(txnlog_padded_size(100, 16 + p, p), 16 + p);
	assert_int_equal(txnlog_padded_size(16 + p - 4096, 16 + p, p), 16 + 2 * p);
	assert_int_equal(txnlog_padded_size(3 * p + 5, 16 + p, p), 4 * p);
	assert_int_equal(txnlog_padded_size(100, 16, 0), 16);
}

/* A fresh dataDir gets snapshot.0 at load, 457 bytes for the default tree, as Apache. */
static void test_fresh_snapshot0(void **state)
{
	struct fx f;
	uint8_t *p;
	size_t len;
	struct snapfile sf;

	fx_init(&f, 1);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 0);
	assert_int_equal(vfs_read_all(f.v, "/d/version-2/snapshot.0", &p, &len), 0);
	assert_int_equal(len, 457);
	assert_memory_equal(p, "ZKSN\0\0\0\2\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0", 20);
	assert_true(snapfile_tail_ok(p, len));
	assert_int_equal(snapfile_read(p, len, &sf, f.err, sizeof(f.err)), 0);
	/* Nothing applied since start: the empty ZxidDigest (0, 2, 0). */
	assert_memory_equal(p + len - 33, "\0\0\0\0\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0\0", 20);
	snapfile_release(&sf);
	free(p);
	fx_free(&f);
}

/* Appends come back after a restart: log.1 holds them, sized by preallocation. */
static void test_roundtrip(void **state)
{
	struct fx f;
	int64_t z, fsyncs, txns;

	fx_init(&f, 2);
	fx_start(&f);
	fx_write(&f, 1, 50, 10, 0);
	storage_stats(f.st, &fsyncs, &txns);
	assert_int_equal(txns, 50);
	assert_int_equal(fsyncs, 1);
	assert_int_equal(file_size(f.v, "/d/version-2/log.1"), 16 + 64 * 1024);
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(f.ntxn_cb, 50);
	for (z = 1; z <= 50; z++)
		assert_true(has_node(f.tree, z));
	assert_int_equal(tree_last_zxid(f.tree), 50);
	/* Appends after a restart go to a new file. */
	fx_write(&f, 51, 52, 10, 0);
	assert_true(exists(f.v, "/d/version-2/log.33"));
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 52);
	fx_free(&f);
}

/*
 * Preallocated space gets real zeros a step ahead of the records (so an fdatasync does not
 * have to allocate blocks), written by the batch that comes within 256 KiB of them; a
 * failed zero write costs the batch nothing and the next batch tries again.
 */
static void test_zero_fill(void **state)
{
	struct fx f;
	int64_t w;

	fx_init(&f, 70);
	f.o.prealloc_kb = 65536;
	fx_start(&f);
	w = vfs_sim_calls(f.v, VFS_SIM_WRITE);
	fx_write(&f, 1, 10, 10, 0);
	/* header + records, the preallocation byte, 1 MiB of zeros in 64 KiB writes */
	assert_int_equal(vfs_sim_calls(f.v, VFS_SIM_WRITE) - w, 2 + 16);
	w = vfs_sim_calls(f.v, VFS_SIM_WRITE);
	fx_write(&f, 11, 20, 10, 0);
	assert_int_equal(vfs_sim_calls(f.v, VFS_SIM_WRITE) - w, 1);
	/* 800 KB of records: near the zeroed end, so the next MiB is due; its first zero
	 * write fails. */
	vfs_sim_fault(f.v, VFS_SIM_WRITE, 2, ENOSPC, 0);
	w = vfs_sim_calls(f.v, VFS_SIM_WRITE);
	fx_write(&f, 21, 28, 100000, 0);
	assert_int_equal(vfs_sim_calls(f.v, VFS_SIM_WRITE) - w, 2);
	assert_int_equal(f.d.failures, 0);
	w = vfs_sim_calls(f.v, VFS_SIM_WRITE);
	fx_write(&f, 29, 29, 10, 0);
	assert_int_equal(vfs_sim_calls(f.v, VFS_SIM_WRITE) - w, 1 + 16);
	assert_int_equal(file_size(f.v, "/d/version-2/log.1"), 16 + (64 << 20));
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(f.ntxn_cb, 29);
	assert_int_equal(tree_last_zxid(f.tree), 29);
	fx_free(&f);
}

/* Appends made while a batch is in flight form the next batch: one fsync per batch. */
static void append_during_fsync(void *ctx)
{
	struct fx *f = ctx;
	int i;

	/* The loop thread, while the worker's fdatasync runs: more appends, handed over at
	 * the end of each loop iteration. */
	for (i = 27; i <= 41; i++) {
		assert_int_equal(append_create(f->st, i, 3), 0);
		if (i % 5 == 1)
			storage_flush(f->st);
	}
}

static void test_group_commit(void **state)
{
	struct fx f;
	int64_t fsyncs, txns;
	int i;

	fx_init(&f, 3);
	fx_start(&f);
	for (i = 1; i <= 10; i++)
		assert_int_equal(append_create(f.st, i, 3), 0);
	storage_flush(f.st);
	assert_int_equal(f.x.n, 1);
	/* Handed over while the job waits for a worker: they join its batch. */
	for (i = 11; i <= 25; i++) {
		assert_int_equal(append_create(f.st, i, 3), 0);
		storage_flush(f.st);
	}
	assert_int_equal(f.x.n, 1);	/* one writer at a time */
	assert_int_equal(f.d.calls, 0);
	pump(&f.x);
	assert_int_equal(f.d.calls, 1);
	assert_int_equal(f.d.zxid, 25);
	assert_int_equal(f.x.n, 0);
	storage_stats(f.st, &fsyncs, &txns);
	assert_int_equal(fsyncs, 1);
	assert_int_equal(txns, 25);

	/* Appends handed over during an fsync are written by the same job as soon as that
	 * fsync returns, in one more batch, without a round trip through the loop. */
	vfs_sim_hook(f.v, VFS_SIM_SYNC, append_during_fsync, &f);
	assert_int_equal(append_create(f.st, 26, 3), 0);
	storage_flush(f.st);
	pump(&f.x);
	assert_int_equal(f.x.n, 0);
	assert_int_equal(f.d.calls, 2);
	assert_int_equal(f.d.zxid, 41);
	assert_int_equal(f.d.status, 0);
	storage_stats(f.st, &fsyncs, &txns);
	assert_int_equal(fsyncs, 3);
	assert_int_equal(txns, 41);
	/* zxids must grow. */
	assert_int_equal(append_create(f.st, 25, 3), ZSYSTEMERROR);
	fx_free(&f);
}

/* storage_close writes what is still queued. */
static void test_close_flushes(void **state)
{
	struct fx f;

	fx_init(&f, 4);
	fx_start(&f);
	fx_write(&f, 1, 3, 10, 0);
	assert_int_equal(append_create(f.st, 4, 3), 0);
	storage_flush(f.st);
	assert_int_equal(append_create(f.st, 5, 3), 0);
	fx_stop(&f);	/* batch {4} in flight, {5} queued */
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 5);
	fx_free(&f);
}

/* ---- torn tails ------------------------------------------------------------------- */

enum shape {
	PARTIAL_RECORD, PARTIAL_HEADER, ZERO_EOR, GARBAGE_EOR, ZERO_LENGTH, GARBAGE_TAIL,
	ZERO_SECTOR_THEN_VALID, NSHAPES
};

static const char *shape_name[] = {
	"partial record", "partial header", "zero EOR", "garbage EOR", "zero length",
	"garbage tail", "zero sector then valid"
};

/* Each shape of torn tail is cut off with a warning naming the file and offset, and the
 * log takes appends again afterwards. */
static void test_torn_tails(void **state)
{
	const char *log1 = "/d/version-2/log.1";
	int s;

	for (s = 0; s < NSHAPES; s++) {
		struct fx f;
		int64_t offs[16], z, keep = 4;
		uint8_t junk[600];
		const char *out;
		char want[128];
		int n, i;

		fx_init(&f, 10 + (uint64_t)s);
		fx_start(&f);
		fx_write(&f, 1, 6, 1300, 1);
		n = record_offsets(f.v, log1, offs, 15);
		assert_int_equal(n, 6);
		for (i = 0; i < (int)sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 37 + 11);
		switch (s) {
		case PARTIAL_RECORD:	/* records 5 and 6 gone, the file ends inside 5 */
			cut(f.v, log1, offs[4] + 100);
			break;
		case PARTIAL_HEADER:
			cut(f.v, log1, offs[4] + 5);
			break;
		case ZERO_EOR:
			cut(f.v, log1, offs[5]);
			poke(f.v, log1, offs[5] - 1, "\0", 1);
			break;
		case GARBAGE_EOR:
			cut(f.v, log1, offs[5]);
			poke(f.v, log1, offs[5] - 1, "A", 1);
			break;
		case ZERO_LENGTH:
			cut(f.v, log1, offs[5]);
			poke(f.v, log1, offs[4] + 8, "\0\0\0\0", 4);
			break;
		case GARBAGE_TAIL:
			cut(f.v, log1, offs[4]);
			poke(f.v, log1, offs[4], junk, sizeof(junk));
			break;
		case ZERO_SECTOR_THEN_VALID: {
			/* Record 5's middle sector never reached the disk; 6 did. */
			uint8_t zero[512] = { 0 };
			int64_t sec = (offs[4] / 512 + 1) * 512;

			assert_true(sec + 512 < offs[5]);
			poke(f.v, log1, sec, zero, 512);
			break;
		}
		}
		fx_stop(&f);
		cap_begin();
		assert_int_equal(fx_open(&f), 0);
		i = fx_load(&f);
		out = cap_end();
		if (i)
			fail_msg("%s: load failed: %s", shape_name[s], f.err);
		snprintf(want, sizeof(want), "txn log %s at offset %" PRId64, log1, offs[4]);
		if (!strstr(out, want))
			fail_msg("%s: no warning with \"%s\" in: %s", shape_name[s], want, out);
		for (z = 1; z <= keep; z++)
			assert_true(has_node(f.tree, z));
		assert_false(has_node(f.tree, 5));
		assert_false(has_node(f.tree, 6));
		assert_int_equal(tree_last_zxid(f.tree), keep);
		assert_int_equal(file_size(f.v, log1), offs[4]);
		fx_write(&f, 5, 6, 20, 0);
		fx_stop(&f);
		/* Clean now: no warning, everything there. */
		cap_begin();
		assert_int_equal(fx_open(&f), 0);
		i = fx_load(&f);
		out = cap_end();
		assert_int_equal(i, 0);
		if (strstr(out, "torn"))
			fail_msg("%s: second load still warns: %s", shape_name[s], out);
		assert_int_equal(tree_last_zxid(f.tree), 6);
		assert_true(has_node(f.tree, 6));
		fx_free(&f);
	}
}

/* A log file whose header never made it (crash right after creating it) is removed. */
static void test_torn_new_file(void **state)
{
	struct fx f;
	struct vfs_file *fh;
	const char *out;
	int rc;

	fx_init(&f, 20);
	fx_start(&f);
	fx_write(&f, 1, 3, 10, 0);
	fx_stop(&f);
	assert_int_equal(vfs_open(f.v, "/d/version-2/log.4", VFS_RDWR | VFS_CREAT, &fh), 0);
	assert_int_equal(vfs_pwrite(fh, "ZKL", 3, 0), 0);
	vfs_close(fh);
	cap_begin();
	assert_int_equal(fx_open(&f), 0);
	rc = fx_load(&f);
	out = cap_end();
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "/d/version-2/log.4"));
	assert_false(exists(f.v, "/d/version-2/log.4"));
	assert_int_equal(tree_last_zxid(f.tree), 3);
	fx_write(&f, 4, 4, 10, 0);
	fx_free(&f);
}

/* ---- corruption ------------------------------------------------------------------- */

/* Damage to a synced record with valid records after it stops the load, naming the file,
 * offset and zxid. */
static void test_corruption_refused(void **state)
{
	const char *log1 = "/d/version-2/log.1";
	static const char *why[] = { "checksum mismatch", "missing end-of-record marker",
				     "undecodable payload" };
	int k;

	for (k = 0; k < 3; k++) {
		struct fx f;
		int64_t offs[16];
		char want[256];
		uint8_t b[64];

		fx_init(&f, 30 + (uint64_t)k);
		fx_start(&f);
		fx_write(&f, 1, 5, 40, 1);
		assert_int_equal(record_offsets(f.v, log1, offs, 15), 5);
		if (k == 0) {
			/* Flip a data byte of record 2. */
			assert_int_equal(peek(f.v, log1, offs[1] + 60, b, 1), 1);
			b[0] ^= 0x10;
			poke(f.v, log1, offs[1] + 60, b, 1);
		} else if (k == 1) {
			poke(f.v, log1, offs[2] - 1, "A", 1);
		} else {
			/* A payload that checksums but does not decode: txn type 999. */
			uint8_t pl[4096];
			int32_t len;
			uLong sum;

			assert_int_equal(peek(f.v, log1, offs[1], b, 12), 12);
			len = be32_get(b + 8);
			assert_int_equal(peek(f.v, log1, offs[1] + 12, pl, (size_t)len), len);
			be32_put(pl + 28, 999);
			sum = adler32(adler32(0, NULL, 0), pl, (uInt)len);
			be64_put(b, (int64_t)sum);
			poke(f.v, log1, offs[1], b, 8);
			poke(f.v, log1, offs[1] + 12, pl, (size_t)len);
		}
		fx_stop(&f);
		assert_int_equal(fx_open(&f), 0);
		assert_int_equal(fx_load(&f), ZDATAINCONSISTENCY);
		snprintf(want, sizeof(want), "corrupt txn log %s at offset %" PRId64 " (zxid 0x2): %s",
			 log1, offs[1], why[k]);
		if (!strstr(f.err, want))
			fail_msg("expected \"%s\" in \"%s\"", want, f.err);
		assert_null(f.tree);
		/* Nothing was cut off. */
		assert_int_equal(record_offsets(f.v, log1, offs, 15), 5);
		fx_free(&f);
	}
}

/*
 * A record at or below the snapshot's zxid in the log file that holds that zxid is still
 * checked, as Apache's FileTxnIterator reads (and CRC-checks) the records of that file
 * before its start zxid: damage there with valid records after it is refused with file,
 * offset and zxid, not skipped. Two layouts with snapshot.5: the log rolled at the
 * snapshot (log.1 = 1..5, log.6 = 6..10), and a fuzzy one (log.1 = 1..8, log.9 = 9..10).
 */
static void test_corruption_below_snapshot_refused(void **state)
{
	const char *log1 = "/d/version-2/log.1";
	int fuzzy;

	for (fuzzy = 0; fuzzy < 2; fuzzy++) {
		int64_t offs[16], z, last1 = fuzzy ? 8 : 5;
		struct fx f;
		char want[256];
		uint8_t b[1];

		fx_init(&f, 35 + (uint64_t)fuzzy);
		fx_start(&f);
		fx_write(&f, 1, last1, 40, 1);
		for (z = 1; z <= 5; z++) {
			struct zk_txn t;

			mk_create(&t, z, 40);
			tree_apply(f.tree, &t, NULL, NULL, NULL);
			txn_release(&t);
		}
		assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
		pump_all(&f.x);
		fx_write(&f, last1 + 1, 10, 40, 1);
		fx_stop(&f);
		assert_true(exists(f.v, "/d/version-2/snapshot.5"));
		assert_true(exists(f.v, fuzzy ? "/d/version-2/log.9" : "/d/version-2/log.6"));
		assert_int_equal(record_offsets(f.v, log1, offs, 15), last1);

		/* Undamaged, the load replays 6..10 only. */
		fx_start(&f);
		assert_int_equal(f.ntxn_cb, 5);
		assert_int_equal(tree_last_zxid(f.tree), 10);
		fx_stop(&f);

		/* Flip a data byte of record 2 (zxid 2 <= 5): refused, naming file, offset, zxid. */
		assert_int_equal(peek(f.v, log1, offs[1] + 60, b, 1), 1);
		b[0] ^= 0x10;
		poke(f.v, log1, offs[1] + 60, b, 1);
		assert_int_equal(fx_open(&f), 0);
		assert_int_equal(fx_load(&f), ZDATAINCONSISTENCY);
		snprintf(want, sizeof(want), "corrupt txn log %s at offset %" PRId64
			 " (zxid 0x2): checksum mismatch", log1, offs[1]);
		if (!strstr(f.err, want))
			fail_msg("expected \"%s\" in \"%s\"", want, f.err);
		assert_null(f.tree);
		assert_int_equal(record_offsets(f.v, log1, offs, 15), last1);
		fx_free(&f);
	}
}

/* ---- snapshots ---------------------------------------------------------------------- */

/* Writes 1..5, snapshot.5, 6..10, snapshot.a, 11..12 and returns the fixture stopped. */
static void two_snapshots(struct fx *f, uint64_t seed)
{
	struct storage_session sess[2] = { { 0x100, 30000 }, { 0x200, 4000 } };

	fx_init(f, seed);
	fx_start(f);
	fx_write(f, 1, 5, 10, 0);
	for (int64_t z = 1; z <= 5; z++) {
		struct zk_txn t;

		mk_create(&t, z, 10);
		tree_apply(f->tree, &t, NULL, NULL, NULL);
		txn_release(&t);
	}
	assert_int_equal(storage_snapshot(f->st, f->tree, sess, 2), 0);
	pump_all(&f->x);
	fx_write(f, 6, 10, 10, 0);
	for (int64_t z = 6; z <= 10; z++) {
		struct zk_txn t;

		mk_create(&t, z, 10);
		tree_apply(f->tree, &t, NULL, NULL, NULL);
		txn_release(&t);
	}
	assert_int_equal(storage_snapshot(f->st, f->tree, sess, 1), 0);
	pump_all(&f->x);
	fx_write(f, 11, 12, 10, 0);
	fx_stop(f);
	assert_true(exists(f->v, "/d/version-2/snapshot.5"));
	assert_true(exists(f->v, "/d/version-2/snapshot.a"));
	assert_true(exists(f->v, "/d/version-2/log.1"));
	assert_true(exists(f->v, "/d/version-2/log.6"));
	assert_true(exists(f->v, "/d/version-2/log.b"));
}

/* Snapshots roll the log; load takes the newest snapshot and replays only what follows. */
static void test_snapshot_and_replay(void **state)
{
	struct fx f;
	int64_t z;

	two_snapshots(&f, 40);
	fx_start(&f);
	assert_int_equal(f.nsess_cb, 1);
	assert_int_equal(f.ntxn_cb, 2);
	for (z = 1; z <= 12; z++)
		assert_true(has_node(f.tree, z));
	assert_int_equal(tree_last_zxid(f.tree), 12);
	fx_free(&f);
}

/*
 * A fuzzy snapshot (Apache's: named zxid 10, but serialised while 11..15 were applied, so
 * its digest is stamped at 15) replays 11..20 over a tree that already has 11..15: the
 * txns' own digests cannot match inside that window and must not be compared there; after
 * it they are, and a wrong one is reported.
 */
static void test_fuzzy_snapshot_digests(void **state)
{
	int bad;

	for (bad = 0; bad < 2; bad++) {
		struct fx f;
		struct zk_tree *ref = tree_new(), *at15 = tree_new();
		struct buf b = { 0 };
		struct vfs_file *fh;
		const char *out;
		int64_t z, d15 = 0;

		fx_init(&f, 80 + (uint64_t)bad);
		fx_start(&f);
		for (z = 1; z <= 20; z++) {
			struct zk_txn t;

			struct zk_stat root;

			mk_create(&t, z, 10);
			/* As prep stamps it (the stored counter, not Stat's cversion): a replayed
			 * create must not count twice. */
			node_stat(tree_lookup(ref, "/"), &root);
			t.ops[0].parent_cversion = (root.cversion + root.num_children) / 2 + 1;
			assert_int_equal(tree_apply(ref, &t, NULL, NULL, NULL), 0);
			if (z <= 15)
				assert_int_equal(tree_apply(at15, &t, NULL, NULL, NULL), 0);
			if (z == 15)
				d15 = tree_digest(ref);
			t.has_digest = 1;
			t.digest = tree_digest(ref) ^ (bad && z == 18 ? 1 : 0);
			assert_int_equal(storage_append(f.st, &t), 0);
			txn_release(&t);
		}
		storage_flush(f.st);
		pump_all(&f.x);
		fx_stop(&f);
		snapfile_write(&b, at15, NULL, 0, 15, d15);
		assert_int_equal(vfs_open(f.v, "/d/version-2/snapshot.a", VFS_RDWR | VFS_CREAT,
					  &fh), 0);
		assert_int_equal(vfs_pwrite(fh, b.p, b.len, 0), 0);
		vfs_close(fh);
		buf_release(&b);
		cap_begin();
		assert_int_equal(fx_open(&f), 0);
		z = fx_load(&f);
		out = cap_end();
		assert_int_equal(z, 0);
		assert_int_equal(tree_last_zxid(f.tree), 20);
		assert_int_equal(tree_digest(f.tree), tree_digest(ref));
		assert_null(strstr(out, "differs from the snapshot"));
		if (bad)
			assert_non_null(strstr(out, "tree digest mismatch after zxid 0x12"));
		else
			assert_null(strstr(out, "mismatch"));
		tree_free(ref);
		tree_free(at15);
		fx_free(&f);
	}
}

/* A snapshot with a bad checksum, or cut short, is skipped for the previous one. */
static void test_snapshot_fallback(void **state)
{
	int k;

	for (k = 0; k < 2; k++) {
		struct fx f;
		const char *out;
		uint8_t b;
		int64_t z;
		int rc;

		two_snapshots(&f, 41 + (uint64_t)k);
		if (k == 0) {
			/* Flip a byte of /n3's data, so only the checksum can notice. */
			uint8_t *p;
			size_t len;
			const uint8_t *hit;

			assert_int_equal(vfs_read_all(f.v, "/d/version-2/snapshot.a", &p, &len), 0);
			hit = memmem(p, len, "defghijklm", 10);
			assert_non_null(hit);
			b = hit[4] ^ 1;
			poke(f.v, "/d/version-2/snapshot.a", hit + 4 - p, &b, 1);
			free(p);
		} else {
			cut(f.v, "/d/version-2/snapshot.a",
			    file_size(f.v, "/d/version-2/snapshot.a") - 3);
		}
		cap_begin();
		assert_int_equal(fx_open(&f), 0);
		rc = fx_load(&f);
		out = cap_end();
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "skipping snapshot /d/version-2/snapshot.a"));
		assert_non_null(strstr(out, k == 0 ? "checksum mismatch" : "incomplete"));
		assert_int_equal(f.nsess_cb, 2);	/* snapshot.5's sessions */
		assert_int_equal(f.ntxn_cb, 7);		/* 6..12 replayed */
		for (z = 1; z <= 12; z++)
			assert_true(has_node(f.tree, z));
		fx_free(&f);
	}
}

/* A snapshot compressed by zookeeper.snapshot.compression.method=gz loads too. */
static void test_gz_snapshot(void **state)
{
	struct fx f;
	uint8_t *p, *gz;
	size_t len;
	z_stream zs;
	struct vfs_file *fh;

	two_snapshots(&f, 45);
	assert_int_equal(vfs_read_all(f.v, "/d/version-2/snapshot.a", &p, &len), 0);
	gz = malloc(len + 1024);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = p;
	zs.avail_in = (uInt)len;
	zs.next_out = gz;
	zs.avail_out = (uInt)(len + 1024);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(vfs_open(f.v, "/d/version-2/snapshot.a.gz", VFS_RDWR | VFS_CREAT, &fh), 0);
	assert_int_equal(vfs_pwrite(fh, gz, zs.total_out, 0), 0);
	vfs_close(fh);
	deflateEnd(&zs);
	vfs_unlink(f.v, "/d/version-2/snapshot.a");
	fx_start(&f);
	assert_int_equal(f.nsess_cb, 1);	/* snapshot.a's, not snapshot.5's */
	assert_int_equal(f.ntxn_cb, 2);
	assert_int_equal(tree_last_zxid(f.tree), 12);
	free(p);
	free(gz);
	fx_free(&f);
}

/* No snapshot but txn logs: refuse to start, as Apache does. */
static void test_logs_without_snapshot(void **state)
{
	struct fx f;

	two_snapshots(&f, 43);
	vfs_unlink(f.v, "/d/version-2/snapshot.0");
	vfs_unlink(f.v, "/d/version-2/snapshot.5");
	vfs_unlink(f.v, "/d/version-2/snapshot.a");
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_load(&f), ZDATAINCONSISTENCY);
	assert_non_null(strstr(f.err, "no valid snapshot in /d/version-2"));
	assert_non_null(strstr(f.err, "log.1"));
	fx_free(&f);
}

/* The snapshot trigger fires between snapCount/2 and snapCount txns, re-drawn each time. */
static void test_snapshot_trigger(void **state)
{
	struct fx f;
	int64_t z = 0;
	int round;

	fx_init(&f, 44);
	f.o.snap_count = 20;
	fx_start(&f);
	for (round = 0; round < 5; round++) {
		int n = 0;

		while (!storage_snapshot_due(f.st)) {
			assert_int_equal(append_create(f.st, ++z, 1), 0);
			n++;
		}
		assert_true(n > 10 && n <= 20);
		assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
		assert_false(storage_snapshot_due(f.st));
		pump_all(&f.x);
	}
	storage_flush(f.st);
	pump_all(&f.x);
	fx_free(&f);
}

/* ---- truncation -------------------------------------------------------------------- */

/* Zab TRUNC cuts the log after a zxid, removes later files and snapshots, and appends
 * continue from there. */
static void test_truncate(void **state)
{
	struct fx f;
	int64_t z;

	two_snapshots(&f, 70);	/* snapshot.0 .5 .a; log.1 (1-5) log.6 (6-10) log.b (11-12) */
	fx_start(&f);
	fx_write(&f, 13, 20, 10, 0);	/* log.d */
	assert_int_equal(storage_truncate(f.st, 15, f.err, sizeof(f.err)), 0);
	f.d.max_ok = 0;
	assert_true(exists(f.v, "/d/version-2/log.d"));
	assert_true(exists(f.v, "/d/version-2/snapshot.a"));
	assert_int_equal(append_create(f.st, 15, 3), ZSYSTEMERROR);	/* not above 15 */
	fx_write(&f, 16, 16, 10, 0);
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 16);
	assert_false(has_node(f.tree, 17));
	assert_true(has_node(f.tree, 15));
	/* Back into the first file: later logs and snapshot.a go. */
	assert_int_equal(storage_truncate(f.st, 7, f.err, sizeof(f.err)), 0);
	assert_false(exists(f.v, "/d/version-2/snapshot.a"));
	assert_true(exists(f.v, "/d/version-2/snapshot.5"));
	assert_false(exists(f.v, "/d/version-2/log.b"));
	assert_false(exists(f.v, "/d/version-2/log.d"));
	assert_false(exists(f.v, "/d/version-2/log.10"));
	assert_true(exists(f.v, "/d/version-2/log.6"));
	tree_free(f.tree);
	f.tree = NULL;
	assert_int_equal(fx_load(&f), 0);
	assert_int_equal(tree_last_zxid(f.tree), 7);
	for (z = 1; z <= 7; z++)
		assert_true(has_node(f.tree, z));
	assert_false(has_node(f.tree, 8));
	fx_write(&f, 8, 9, 10, 0);
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 9);
	assert_int_equal(f.ntxn_cb, 4);	/* 6, 7 from log.6, 8, 9 from log.8 */
	fx_free(&f);
}

/* ---- purge ------------------------------------------------------------------------ */

static void fake_file(struct vfs *v, const char *path, int valid_snap)
{
	struct vfs_file *fh;
	static const uint8_t tail[16] = { 'Z', 'K', 'S', 'N', 0, 0, 0, 2, 9, 9, 9, 0, 0, 0, 1, '/' };

	assert_int_equal(vfs_open(v, path, VFS_RDWR | VFS_CREAT | VFS_TRUNC, &fh), 0);
	assert_int_equal(vfs_pwrite(fh, tail, valid_snap ? 16 : 8, 0), 0);
	vfs_close(fh);
}

/* Purge keeps the newest N valid snapshots and the logs needed to replay from them. */
static void test_purge(void **state)
{
	struct vfs *v = vfs_sim_new(50);
	static const char *snaps[] = { "0", "5", "a", "f", "14", "19" };
	static const char *logs[] = { "1", "6", "9", "b", "10", "15", "1a" };
	char path[128], err[256];
	size_t i;

	assert_int_equal(vfs_mkdirs(v, "/d/version-2", NULL, 0), 0);
	assert_int_equal(vfs_mkdirs(v, "/l/version-2", NULL, 0), 0);
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/d/version-2/snapshot.%s", snaps[i]);
		/* snapshot.19 (the newest) is incomplete: it does not count. */
		fake_file(v, path, i != 5);
	}
	for (i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "/l/version-2/log.%s", logs[i]);
		fake_file(v, path, 0);
	}
	fake_file(v, "/d/version-2/acceptedEpoch", 0);
	assert_int_equal(storage_purge_vfs(v, "/d", "/l", 2, err, sizeof(err)), ZBADARGUMENTS);
	assert_int_equal(storage_purge_vfs(v, "/d", "/l", 3, err, sizeof(err)), 0);
	/* Newest 3 valid: 0x14, 0xf, 0xa -> Z = 0xa; keep log.9 (largest <= 0xa) and later. */
	assert_false(exists(v, "/d/version-2/snapshot.0"));
	assert_false(exists(v, "/d/version-2/snapshot.5"));
	assert_true(exists(v, "/d/version-2/snapshot.a"));
	assert_true(exists(v, "/d/version-2/snapshot.f"));
	assert_true(exists(v, "/d/version-2/snapshot.14"));
	assert_true(exists(v, "/d/version-2/snapshot.19"));
	assert_false(exists(v, "/l/version-2/log.1"));
	assert_false(exists(v, "/l/version-2/log.6"));
	assert_true(exists(v, "/l/version-2/log.9"));
	assert_true(exists(v, "/l/version-2/log.b"));
	assert_true(exists(v, "/l/version-2/log.1a"));
	assert_true(exists(v, "/d/version-2/acceptedEpoch"));
	/* Fewer valid snapshots than asked for: the oldest valid one sets the line. */
	assert_int_equal(storage_purge_vfs(v, "/d", "/l", 10, err, sizeof(err)), 0);
	assert_true(exists(v, "/d/version-2/snapshot.a"));
	assert_true(exists(v, "/l/version-2/log.9"));
	vfs_sim_free(v);
}

/* A real purge after real snapshots leaves a directory that still loads. */
static void test_purge_then_load(void **state)
{
	struct fx f;
	char err[256];

	two_snapshots(&f, 51);
	/* snapshot.0, .5, .a exist: with 3 kept nothing goes; add two more. */
	fx_start(&f);
	fx_write(&f, 13, 14, 10, 0);
	for (int64_t z = 11; z <= 14; z++) {
		struct zk_txn t;

		mk_create(&t, z, 10);
		tree_apply(f.tree, &t, NULL, NULL, NULL);
		txn_release(&t);
	}
	assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
	pump_all(&f.x);
	fx_write(&f, 15, 15, 10, 0);
	fx_stop(&f);
	assert_int_equal(storage_purge_vfs(f.v, "/d", NULL, 3, err, sizeof(err)), 0);
	/* Kept: snapshot.e, .a, .5 -> Z = 5; log.1 is the largest start <= 5, so it stays. */
	assert_false(exists(f.v, "/d/version-2/snapshot.0"));
	assert_true(exists(f.v, "/d/version-2/snapshot.5"));
	assert_true(exists(f.v, "/d/version-2/log.1"));
	assert_true(exists(f.v, "/d/version-2/log.6"));
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 15);
	fx_free(&f);
}

/*
 * Snapshots give way to a busy txn log: while log batches keep being synced, a snapshot
 * past its first 4 MiB is written at SNAP_BUSY_BPS (32 MiB/s: 7.8 ms per 256 KiB piece);
 * with the log idle it goes at full speed. The hook plays the loop thread and the log writer, syncing one more
 * txn just before each piece of the snapshot.
 */
struct busy_log {
	struct fx *f;
	int64_t next;
	int left;
};

static void log_batch_now(void *ctx)
{
	struct busy_log *b = ctx;

	assert_int_equal(append_create(b->f->st, b->next++, 10), 0);
	storage_flush(b->f->st);
	pump(&b->f->x);		/* the log job: write, fdatasync */
	if (--b->left > 0)
		vfs_sim_hook(b->f->v, VFS_SIM_WRITE, log_batch_now, b);
}

static void test_snapshot_paced(void **state)
{
	struct busy_log b;
	struct fx f;
	int64_t z, t0, took;

	fx_init(&f, 21);
	fx_start(&f);
	/* ~6.4 MB of snapshot: 25 pieces, the first 16 (4 MiB) unpaced. */
	for (z = 1; z <= 4000; z++) {
		struct zk_txn t;

		assert_int_equal(append_create(f.st, z, 1500), 0);
		mk_create(&t, z, 1500);
		tree_apply(f.tree, &t, NULL, NULL, NULL);
		txn_release(&t);
	}
	storage_flush(f.st);
	pump_all(&f.x);

	/* Log idle for longer than LOG_BUSY_NS: full speed. */
	usleep(30 * 1000);
	assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
	pump_all(&f.x);
	assert_int_equal(storage_snap_paced_ms(f.st), 0);

	/* Log busy: past the first 4 MiB, each piece waits 7.8 ms. */
	b.f = &f;
	b.next = 4001;
	b.left = 40;
	usleep(30 * 1000);
	for (z = 4001; z <= 4010; z++) {
		struct zk_txn t;

		mk_create(&t, z, 10);
		tree_apply(f.tree, &t, NULL, NULL, NULL);
		txn_release(&t);
	}
	vfs_sim_hook(f.v, VFS_SIM_WRITE, log_batch_now, &b);
	b.next = 4011;
	t0 = monotonic_ms();
	assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
	pump(&f.x);	/* the snapshot job, with log jobs run from the hook */
	took = monotonic_ms() - t0;
	vfs_sim_hook(f.v, VFS_SIM_WRITE, NULL, NULL);
	pump_all(&f.x);
	assert_true(storage_snap_paced_ms(f.st) >= 3 * 7);
	assert_true(took >= 3 * 7);
	fx_stop(&f);
	fx_start(&f);
	assert_true(tree_last_zxid(f.tree) >= 4010);
	assert_non_null(tree_lookup(f.tree, "/n4010"));
	fx_free(&f);
}

/* ---- write failures ---------------------------------------------------------------- */

/* ENOSPC in a batch: on_durable reports the failure with the last durable zxid, the partial
 * batch is cut off, the queue is dropped, and appends work again once space returns. */
static void test_enospc(void **state)
{
	struct fx f;
	int64_t size_before, offs[16];

	fx_init(&f, 60);
	fx_start(&f);
	fx_write(&f, 1, 3, 100, 0);
	size_before = file_size(f.v, "/d/version-2/log.1");
	record_offsets(f.v, "/d/version-2/log.1", offs, 15);
	vfs_sim_fault(f.v, VFS_SIM_WRITE, 1, ENOSPC, 0);
	assert_int_equal(append_create(f.st, 4, 3000), 0);
	assert_int_equal(append_create(f.st, 5, 3000), 0);
	storage_flush(f.st);
	assert_int_equal(append_create(f.st, 6, 10), 0);	/* queued behind */
	cap_begin();
	pump_all(&f.x);
	assert_non_null(strstr(cap_end(), "No space left on device"));
	assert_int_equal(f.d.failures, 1);
	assert_true(f.d.status < 0);
	assert_int_equal(f.d.zxid, 3);
	/* Cut back to the durable end, which is also what the next batch pads from. */
	assert_int_equal(file_size(f.v, "/d/version-2/log.1"), offs[3]);
	assert_true(size_before > offs[3]);
	/* The server hands the zxids out again. */
	fx_write(&f, 4, 6, 10, 0);
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 6);
	assert_int_equal(f.ntxn_cb, 6);
	fx_free(&f);
}

/* EIO from fsync is a failed batch too; so is a failure creating a new log file. */
static void test_fsync_eio_and_create_failure(void **state)
{
	struct fx f;

	fx_init(&f, 61);
	fx_start(&f);
	fx_write(&f, 1, 2, 10, 0);
	vfs_sim_fault(f.v, VFS_SIM_SYNC, 1, EIO, 0);
	assert_int_equal(append_create(f.st, 3, 10), 0);
	storage_flush(f.st);
	cap_begin();
	pump_all(&f.x);
	cap_end();
	assert_int_equal(f.d.failures, 1);
	assert_int_equal(f.d.zxid, 2);
	fx_write(&f, 3, 3, 10, 0);
	/* Roll, then fail the create of log.4. */
	assert_int_equal(storage_snapshot(f.st, f.tree, NULL, 0), 0);
	pump_all(&f.x);
	vfs_sim_fault(f.v, VFS_SIM_OPEN, 1, ENOSPC, 0);
	assert_int_equal(append_create(f.st, 4, 10), 0);
	storage_flush(f.st);
	cap_begin();
	pump_all(&f.x);
	assert_non_null(strstr(cap_end(), "create /d/version-2/log.4"));
	assert_int_equal(f.d.failures, 2);
	assert_int_equal(f.d.zxid, 3);
	assert_false(exists(f.v, "/d/version-2/log.4"));
	fx_write(&f, 4, 5, 10, 0);
	assert_true(exists(f.v, "/d/version-2/log.4"));
	fx_stop(&f);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 5);
	fx_free(&f);
}

/* If the failed batch cannot even be cut off, storage refuses later appends. */
static void test_broken_after_failed_cut(void **state)
{
	struct fx f;

	fx_init(&f, 62);
	fx_start(&f);
	fx_write(&f, 1, 2, 10, 0);
	vfs_sim_fault(f.v, VFS_SIM_WRITE, 1, EIO, 0);
	vfs_sim_fault(f.v, VFS_SIM_TRUNCATE, 1, EIO, 0);
	assert_int_equal(append_create(f.st, 3, 10), 0);
	storage_flush(f.st);
	cap_begin();
	pump_all(&f.x);
	assert_non_null(strstr(cap_end(), "refusing further appends"));
	assert_int_equal(append_create(f.st, 3, 10), ZSYSTEMERROR);
	fx_free(&f);
}

/* ---- the real file system --------------------------------------------------------- */

static char tmpdir[256];

static void mk_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_storage.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

/* A data dir that cannot be created fails storage_open with the path named. */
static void test_open_unwritable(void **state)
{
	struct storage_opts o;
	struct zk_storage *st;
	char path[300], err[512];
	FILE *fp;

	mk_tmpdir();
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fp = fopen(path, "w");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/file/data", tmpdir);
	memset(&o, 0, sizeof(o));
	o.data_dir = path;
	o.force_sync = 1;
	assert_int_equal(storage_open(NULL, &o, on_dur, NULL, &st, err, sizeof(err)),
			 ZSYSTEMERROR);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "Not a directory"));
	rm_tmpdir();
}

struct uvctx {
	struct dur d;
	int64_t want;
	uv_loop_t *loop;
};

static void uv_dur(void *ctx, int64_t zxid, int status)
{
	struct uvctx *u = ctx;

	on_dur(&u->d, zxid, status);
	if (zxid >= u->want)
		uv_stop(u->loop);
}

struct feeder {
	uv_timer_t timer;
	struct zk_storage *st;
	int64_t next, last;
};

static void feed_cb(uv_timer_t *t)
{
	struct feeder *fd = (struct feeder *)t;
	int i;

	/* A burst per loop iteration, as a busy server would append. */
	for (i = 0; i < 50 && fd->next <= fd->last; i++)
		assert_int_equal(append_create(fd->st, fd->next++, 20), 0);
	if (fd->next > fd->last)
		uv_timer_stop(t);
}

struct timer_append {
	uv_timer_t append, watchdog, keepalive;
	struct zk_storage *st;
	struct uvctx *u;
	int timed_out;
};

static void ta_append_cb(uv_timer_t *t)
{
	struct timer_append *ta = t->data;

	assert_int_equal(append_create(ta->st, 1, 10), 0);
}

static void ta_watchdog_cb(uv_timer_t *t)
{
	struct timer_append *ta = t->data;

	ta->timed_out = 1;
	uv_stop(ta->u->loop);
}

static void ta_noop_cb(uv_timer_t *t)
{
	(void)t;
}

/* An append made from a timer (as session expiry makes one) is written at once, even while
 * other handles would let the loop sleep in poll until their next event. */
static void test_timer_append_not_delayed(void **state)
{
	uv_loop_t loop;
	struct storage_opts o;
	struct zk_storage *st;
	struct zk_tree *tree;
	struct uvctx u;
	struct timer_append ta;
	char err[512];

	(void)state;
	mk_tmpdir();
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&o, 0, sizeof(o));
	o.data_dir = tmpdir;
	o.snap_count = 100000;
	o.force_sync = 1;
	memset(&u, 0, sizeof(u));
	u.loop = &loop;
	u.want = 1;
	assert_int_equal(storage_open(&loop, &o, uv_dur, &u, &st, err, sizeof(err)), 0);
	assert_int_equal(storage_load(st, &tree, NULL, err, sizeof(err)), 0);
	memset(&ta, 0, sizeof(ta));
	ta.st = st;
	ta.u = &u;
	uv_timer_init(&loop, &ta.append);
	uv_timer_init(&loop, &ta.watchdog);
	uv_timer_init(&loop, &ta.keepalive);
	ta.append.data = ta.watchdog.data = &ta;
	uv_timer_start(&ta.append, ta_append_cb, 1, 0);
	/* Without the fix the loop sleeps until this timer: the next event it knows of. */
	uv_timer_start(&ta.watchdog, ta_watchdog_cb, 1000, 0);
	uv_timer_start(&ta.keepalive, ta_noop_cb, 5000, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ta.timed_out, 0);
	assert_int_equal(u.d.max_ok, 1);
	uv_close((uv_handle_t *)&ta.append, NULL);
	uv_close((uv_handle_t *)&ta.watchdog, NULL);
	uv_close((uv_handle_t *)&ta.keepalive, NULL);
	storage_close(st);
	tree_free(tree);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	rm_tmpdir();
}

/* On the libuv threadpool with real files: everything appended becomes durable, in fewer
 * fsyncs than txns, and a reload sees it all (Apache's file layout included). */
/*
 * With a loop, a lone txn on a fast disk is written and synced on the loop thread (no
 * worker hand-offs); the first batch (no timing yet) and batches of several txns go to the
 * executor.
 */
static void test_inline_lone_txn(void **state)
{
	uv_loop_t loop;
	struct fx f;
	char err[512];

	assert_int_equal(uv_loop_init(&loop), 0);
	fx_init(&f, 90);
	texec_init(&f.x);
	assert_int_equal(storage_open_with(&loop, &f.o, f.v, &f.x.base, on_dur, &f.d, &f.st, err,
					   sizeof(err)), 0);
	assert_int_equal(storage_load(f.st, &f.tree, NULL, err, sizeof(err)), 0);
	pump_all(&f.x);
	assert_int_equal(append_create(f.st, 1, 10), 0);
	storage_flush(f.st);
	assert_int_equal(f.x.n, 1);		/* no fdatasync timing yet: the worker */
	pump_all(&f.x);
	assert_int_equal(f.d.max_ok, 1);
	assert_int_equal(append_create(f.st, 2, 10), 0);
	storage_flush(f.st);
	assert_int_equal(f.x.n, 0);		/* inline: durable before flush returns */
	assert_int_equal(f.d.max_ok, 2);
	assert_int_equal(append_create(f.st, 3, 10), 0);
	assert_int_equal(append_create(f.st, 4, 10), 0);
	storage_flush(f.st);
	assert_int_equal(f.x.n, 1);		/* a batch of two: the worker */
	assert_int_equal(f.d.max_ok, 2);
	pump_all(&f.x);
	assert_int_equal(f.d.max_ok, 4);
	storage_close(f.st);
	f.st = NULL;
	tree_free(f.tree);
	f.tree = NULL;
	pump_all(&f.x);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	fx_start(&f);
	assert_int_equal(tree_last_zxid(f.tree), 4);
	fx_free(&f);
}

/*
 * vfs_write_atomic on the real file system: a file over 16 MiB goes through O_DIRECT with
 * a bounce buffer, its tail padded to a block and cut back; small ones are plain writes.
 * Both read back byte for byte at their exact size.
 */
static void count_piece(void *ctx, size_t piece)
{
	size_t *sum = ctx;

	sum[0]++;
	sum[1] += piece;
}

static void test_write_atomic_direct(void **state)
{
	static const size_t sizes[] = { 123, ((size_t)20 << 20) + 123, (size_t)16 << 20 };
	char path[400], err[512];
	size_t i, k;

	mk_tmpdir();
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k], got_len = 0;
		uint8_t *data = malloc(len), *got = NULL;
		struct stat sb;

		assert_non_null(data);
		for (i = 0; i < len; i++)
			data[i] = (uint8_t)((i * 2654435761u) >> 13);
		size_t pieces[2] = { 0, 0 };
		size_t npieces = (len + VFS_PIECE - 1) / VFS_PIECE;

		assert_int_equal(vfs_write_atomic(vfs_posix(), tmpdir, ".f.tmp", "f", data, len,
						  &(struct vfs_pace){ count_piece, pieces },
						  err, sizeof(err)), 0);
		/* The pacer ran before every piece but the first, each at most VFS_PIECE. */
		assert_int_equal(pieces[0], npieces - 1);
		assert_true(pieces[1] + VFS_PIECE >= len && pieces[1] < len);
		snprintf(path, sizeof(path), "%s/f", tmpdir);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal((size_t)sb.st_size, len);
		assert_int_equal(vfs_read_all(vfs_posix(), path, &got, &got_len), 0);
		assert_int_equal(got_len, len);
		assert_memory_equal(got, data, len);
		snprintf(path, sizeof(path), "%s/.f.tmp", tmpdir);
		assert_int_not_equal(stat(path, &sb), 0);
		free(got);
		free(data);
	}
	rm_tmpdir();
}

static void test_real_loop(void **state)
{
	uv_loop_t loop;
	struct storage_opts o;
	struct zk_storage *st;
	struct zk_tree *tree;
	struct uvctx u;
	struct feeder fd;
	struct stat sb;
	char err[512], path[400];
	int64_t fsyncs, txns;

	mk_tmpdir();
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&o, 0, sizeof(o));
	o.data_dir = tmpdir;
	o.snap_count = 100000;
	o.prealloc_kb = 65536;
	o.force_sync = 1;
	memset(&u, 0, sizeof(u));
	u.loop = &loop;
	u.want = 2000;
	assert_int_equal(storage_open(&loop, &o, uv_dur, &u, &st, err, sizeof(err)), 0);
	assert_int_equal(storage_load(st, &tree, NULL, err, sizeof(err)), 0);
	memset(&fd, 0, sizeof(fd));
	fd.st = st;
	fd.next = 1;
	fd.last = 2000;
	uv_timer_init(&loop, &fd.timer);
	uv_timer_start(&fd.timer, feed_cb, 0, 1);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(u.d.max_ok, 2000);
	assert_int_equal(u.d.failures, 0);
	storage_stats(st, &fsyncs, &txns);
	assert_int_equal(txns, 2000);
	assert_true(fsyncs >= 1 && fsyncs < txns);
	print_message("real loop: 2000 txns in %" PRId64 " fsyncs\n", fsyncs);
	/* One more that only storage_close writes. */
	assert_int_equal(append_create(st, 2001, 5), 0);
	storage_close(st);
	tree_free(tree);
	uv_close((uv_handle_t *)&fd.timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	snprintf(path, sizeof(path), "%s/version-2/log.1", tmpdir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 16 + 64 * 1024 * 1024);
	snprintf(path, sizeof(path), "%s/version-2/snapshot.0", tmpdir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 457);
	assert_true(storage_dir_size(tmpdir) >= 16 + 64 * 1024 * 1024 + 457);

	assert_int_equal(storage_open(NULL, &o, on_dur, NULL, &st, err, sizeof(err)), 0);
	if (storage_load(st, &tree, NULL, err, sizeof(err)))
		fail_msg("reload: %s", err);
	assert_int_equal(tree_last_zxid(tree), 2001);
	assert_true(has_node(tree, 1234));
	storage_close(st);
	tree_free(tree);
	rm_tmpdir();
}

/* ---- the crash simulator ------------------------------------------------------------ */

struct crun {
	uint64_t seed, rng;
	struct vfs *v;
	struct zk_tree *tree;	/* the "server's" tree: durable txns applied */
	int64_t acked;		/* highest zxid reported durable, ever */
	int64_t next;		/* next zxid to hand out */
	int64_t pend[4096];	/* appended, not yet durable */
	int npend;
	int broken;
	int64_t reports, fails;
	struct zk_storage *st;	/* this life's storage */
};

static uint64_t crnd(struct crun *c)
{
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Txn zxid z is an error txn when z % 7 == 0, else create /n<z>; data size varies. */
static void crash_txn(struct zk_txn *t, int64_t z)
{
	if (z % 7 == 0)
		mk_error(t, z);
	else
		mk_create(t, z, (int)((z * 131) % 1300));
}

static void crash_dur(void *ctx, int64_t zxid, int status)
{
	struct crun *c = ctx;
	int i, k = 0;

	c->reports++;
	for (i = 0; i < c->npend && c->pend[i] <= zxid; i++) {
		struct zk_txn t;

		crash_txn(&t, c->pend[i]);
		assert_int_equal(tree_apply(c->tree, &t, NULL, NULL, NULL), 0);
		txn_release(&t);
		k++;
	}
	memmove(c->pend, c->pend + k, sizeof(c->pend[0]) * (size_t)(c->npend - k));
	c->npend -= k;
	if (zxid > c->acked)
		c->acked = zxid;
	if (status < 0) {
		/* As the server: everything after zxid is gone; reissue those zxids. */
		c->fails++;
		c->npend = 0;
		c->next = zxid + 1;
	}
}

/* Restores stderr (captured during crash runs), shows the run's log tail, and fails. */
#define crash_fail(...) do {						\
		const char *log_ = cap_end();				\
		size_t l_ = strlen(log_);					\
		fprintf(stderr, "---- log tail ----\n%s\n", log_ + (l_ > 6000 ? l_ - 6000 : 0)); \
		fail_msg(__VA_ARGS__);					\
	} while (0)

/* The loaded tree holds exactly the txns 1..last, and last covers every acked txn. */
static void crash_verify(struct crun *c, const struct zk_tree *t)
{
	int64_t last = tree_last_zxid(t), z, creates = 0;

	if (last < c->acked)
		crash_fail("seed %" PRIu64 ": acked zxid 0x%" PRIx64 " lost (loaded 0x%" PRIx64 ")",
			 c->seed, c->acked, last);
	for (z = 1; z <= last; z++) {
		if (z % 7 == 0)
			continue;
		creates++;
		if (!has_node(t, z))
			crash_fail("seed %" PRIu64 ": /n%" PRId64 " missing (loaded 0x%" PRIx64 ")",
				 c->seed, z, last);
	}
	/* Nothing beyond last: default tree (4 nodes + map's +1) plus our creates. */
	if (tree_node_count(t) != 5 + creates)
		crash_fail("seed %" PRIu64 ": %" PRId64 " nodes, expected %" PRId64, c->seed,
			 tree_node_count(t), 5 + creates);
}

/* Totals over all runs, to show the simulator exercised what it claims to. */
static struct {
	int64_t crashes, acked, failures, torn_loads, dropped_after_tear, snapshots_skipped;
	int64_t purged;
} ctot;

static void count_log(const char *log)
{
	const char *p;

	for (p = log; (p = strstr(p, "torn")); p++)
		ctot.torn_loads++;
	for (p = log; (p = strstr(p, "never synced and are dropped")); p++)
		ctot.dropped_after_tear++;
	for (p = log; (p = strstr(p, "skipping snapshot")); p++)
		ctot.snapshots_skipped++;
	for (p = log; (p = strstr(p, "purge: removing")); p++)
		ctot.purged++;
}

/* Appends 1-4 txns, as the server's loop thread does for a burst of requests. */
static void crash_append(struct crun *c)
{
	int k, n = 1 + (int)(crnd(c) % 4);

	for (k = 0; k < n && c->npend < 4000 && !c->broken; k++) {
		struct zk_txn t;

		crash_txn(&t, c->next);
		if (storage_append(c->st, &t)) {
			c->broken = 1;
			txn_release(&t);
			break;
		}
		txn_release(&t);
		c->pend[c->npend++] = c->next++;
	}
}

static void crash_hook(void *ctx)
{
	struct crun *c = ctx;

	if (!c->st || c->broken || vfs_sim_power_is_off(c->v))
		return;
	crash_append(c);
	if (crnd(c) % 2)
		storage_flush(c->st);
}

static void crash_run(uint64_t seed)
{
	static const int64_t prealloc[] = { 0, 1, 4, 64 };
	struct crun c;
	struct storage_opts o;
	int life, lives;
	char err[1024];

	cap_begin();
	memset(&c, 0, sizeof(c));
	c.seed = seed;
	c.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	c.v = vfs_sim_new(seed);
	memset(&o, 0, sizeof(o));
	o.data_dir = "/d";
	o.log_dir = crnd(&c) % 2 ? "/l" : NULL;
	o.snap_count = 2 + (int32_t)(crnd(&c) % 60);
	o.snap_size_kb = 4194304;
	o.prealloc_kb = prealloc[crnd(&c) % 4];
	o.force_sync = 1;
	o.seed = seed;
	lives = 1 + (int)(crnd(&c) % 6);
	for (life = 0; life <= lives; life++) {
		struct texec x;
		struct zk_storage *st;
		int steps, i;

		texec_init(&x);
		if (storage_open_with(NULL, &o, c.v, &x.base, crash_dur, &c, &st, err, sizeof(err)))
			crash_fail("seed %" PRIu64 ": open: %s", seed, err);
		c.st = st;
		if (storage_load(st, &c.tree, NULL, err, sizeof(err)))
			crash_fail("seed %" PRIu64 " life %d: load failed after a crash: %s", seed, life,
				 err);
		crash_verify(&c, c.tree);
		if (life == lives) {
			storage_close(st);
			pump_all(&x);
			tree_free(c.tree);
			break;
		}
		/* Whatever was recovered is on disk now: it counts as acked from here on. */
		c.acked = tree_last_zxid(c.tree);
		c.next = c.acked + 1;
		c.npend = 0;
		c.broken = 0;
		/* The power goes after a random number of mutating calls, maybe mid-batch. */
		vfs_sim_cut_power_after(c.v, (int64_t)(crnd(&c) % (10 + crnd(&c) % 150)));
		if (crnd(&c) % 3 == 0)
			vfs_sim_fault(c.v, crnd(&c) % 2 ? VFS_SIM_WRITE : VFS_SIM_SYNC,
				      1 + (int64_t)(crnd(&c) % 20), crnd(&c) % 2 ? ENOSPC : EIO, 0);
		steps = 10 + (int)(crnd(&c) % 200);
		for (i = 0; i < steps; i++) {
			uint64_t r = crnd(&c) % 10;

			if (r < 5 && !c.broken) {
				crash_append(&c);
				/* Sometimes the loop thread appends again while the worker's next
				 * write or fsync is in flight. */
				if (crnd(&c) % 4 == 0)
					vfs_sim_hook(c.v, crnd(&c) % 2 ? VFS_SIM_SYNC : VFS_SIM_WRITE,
						     crash_hook, &c);
			} else if (r < 8) {
				pump(&x);
			} else if (r < 9) {
				storage_flush(st);
			} else if (crnd(&c) % 5 == 0) {
				/* Autopurge may run at any time; it must never remove what load
				 * needs. */
				storage_purge_vfs(c.v, "/d", o.log_dir, 3, err, sizeof(err));
			} else if (storage_snapshot_due(st) || crnd(&c) % 4 == 0) {
				storage_snapshot(st, c.tree, NULL, 0);
			}
		}
		if (crnd(&c) % 2)
			pump_all(&x);
		/* Crash: the process dies with whatever is in flight; the disk keeps, drops or
		 * tears each unsynced write. */
		c.st = NULL;
		vfs_sim_hook(c.v, VFS_SIM_SYNC, NULL, NULL);
		vfs_sim_hook(c.v, VFS_SIM_WRITE, NULL, NULL);
		storage_abandon(st);
		drain_dead(&x);
		ctot.crashes++;
		ctot.acked += c.acked;
		vfs_sim_crash(c.v, crnd(&c));
		vfs_sim_clear_faults(c.v);
		tree_free(c.tree);
		c.tree = NULL;
	}
	vfs_sim_free(c.v);
	ctot.failures += c.fails;
	count_log(cap_end());
}

/* Across many seeded crashes (power cut at any I/O call, unsynced writes kept, dropped or
 * torn), every txn reported durable survives, and load never fails. */
static void test_crash_simulator(void **state)
{
	const char *one = getenv("STORAGE_CRASH_SEED");
	const char *n = getenv("STORAGE_CRASH_SEEDS");
	uint64_t seeds = n ? strtoull(n, NULL, 10) : 300, s;

	if (one) {
		crash_run(strtoull(one, NULL, 10));
		print_message("crash simulator: seed %s\n", one);
	} else {
		for (s = 1; s <= seeds; s++)
			crash_run(s);
		print_message("crash simulator: %" PRIu64 " seeds\n", seeds);
	}
	print_message("  %" PRId64 " crashes, %" PRId64 " acked zxids checked, %" PRId64
		      " failed batches, %" PRId64 " torn-tail warnings (%" PRId64 " with synced-"
		      "looking records after the tear), %" PRId64 " snapshots skipped, %" PRId64
		      " files purged\n", ctot.crashes, ctot.acked, ctot.failures, ctot.torn_loads,
		      ctot.dropped_after_tear, ctot.snapshots_skipped, ctot.purged);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_format),
		cmocka_unit_test(test_padding_rule),
		cmocka_unit_test(test_fresh_snapshot0),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_zero_fill),
		cmocka_unit_test(test_close_flushes),
		cmocka_unit_test(test_torn_tails),
		cmocka_unit_test(test_torn_new_file),
		cmocka_unit_test(test_corruption_refused),
		cmocka_unit_test(test_corruption_below_snapshot_refused),
		cmocka_unit_test(test_snapshot_and_replay),
		cmocka_unit_test(test_snapshot_fallback),
		cmocka_unit_test(test_fuzzy_snapshot_digests),
		cmocka_unit_test(test_gz_snapshot),
		cmocka_unit_test(test_logs_without_snapshot),
		cmocka_unit_test(test_snapshot_trigger),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_purge_then_load),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_fsync_eio_and_create_failure),
		cmocka_unit_test(test_broken_after_failed_cut),
		cmocka_unit_test(test_open_unwritable),
		cmocka_unit_test(test_real_loop),
		cmocka_unit_test(test_write_atomic_direct),
		cmocka_unit_test(test_snapshot_paced),
		cmocka_unit_test(test_inline_lone_txn),
		cmocka_unit_test(test_timer_append_not_delayed),
		cmocka_unit_test(test_crash_simulator),
	};

	log_set_level(LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
