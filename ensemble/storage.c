/*
 * storage.c: the txn log (group commit), snapshots, recovery and purge, on top of
 * txnlog.c (log file format), snapfile.c (snapshot format) and vfs.h (all file I/O).
 *
 * Happy path of an append:
 *   storage_append()  encodes the entry into the queue (loop thread)
 *   check handle      end of the loop iteration: if no batch is in flight, the whole
 *                     queue becomes one batch (storage_flush) and goes to a worker
 *   log_work()        worker: [create log.<zxid> + header], extend the preallocation,
 *                     one pwrite, [zeros ahead: ZERO_STEP], fdatasync, [fsync the
 *                     directory for a new file]
 *   log_done()        loop thread: the batch is durable; on_durable(zxid, 0); start the
 *                     next batch from whatever queued up meanwhile
 * Failure modes of a batch:
 *   - write/fsync fails: the worker cuts the file back to the last durable offset (and
 *     fsyncs that), or removes a file it had just created. log_done() reports
 *     on_durable(last durable zxid, ZSYSTEMERROR) and drops the queue: everything after
 *     the durable zxid is gone, and the server hands those zxids out again.
 *   - the cut-back fails too: the file's tail is unknown, so the storage refuses every
 *     later append (ZSYSTEMERROR) rather than log reissued zxids behind stale records.
 * Snapshots: serialised on the loop thread into memory (so the content is exactly the
 * tree at its last zxid), then written to .snapshot.<zxid>.tmp, fsynced, renamed to
 * snapshot.<zxid> and the directory fsynced on a worker (vfs_write_atomic).
 */
#include "storage_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "log.h"
#include "snapfile.h"
#include "txnlog.h"

#define PATH_LEN 4096
/* Room left in a path for "/snapshot.<16 hex digits>.tmp" and the like. */
#define DIR_LEN (PATH_LEN - 64)
/* Apache tries this many snapshots, newest first, before giving up. */
#define MAX_SNAP_TRIES 100
/*
 * Apache preallocates by writing one byte at the new end, so the file is sparse and every
 * fdatasync that lands in a hole also has to write the block allocation: measured on this
 * machine's ext4, 167-205 us per small write+fdatasync into a hole against 122 us into
 * blocks already written. So a batch that gets within ZERO_LOW of the written blocks also
 * writes the next ZERO_STEP of zeros past its end (once per ~5,000 txns); the file's
 * contents and size stay exactly Apache's.
 */
#define ZERO_STEP (1 << 20)
#define ZERO_LOW (256 << 10)

struct log_job;
struct snap_job;

struct zk_storage {
	uv_loop_t *loop;
	struct vfs *vfs;
	struct storage_exec *exec;
	int own_exec;
	uv_check_t *check;		/* allocated: freed in its close callback */
	uv_idle_t *kick;		/* active while an append waits for check_cb */
	int kick_on;
	storage_durable_fn on_durable;
	void *ctx;

	char snap_dir[DIR_LEN];		/* <dataDir>/version-2 */
	char log_dir[DIR_LEN];		/* <dataLogDir>/version-2 */
	int32_t snap_count;
	int64_t snap_size_bytes;
	int64_t prealloc;
	int force_sync;
	uint64_t rng;

	/* The open log file (NULL: the next batch creates log.<its first zxid>). */
	struct vfs_file *f;
	char log_path[PATH_LEN];
	int64_t durable_off;		/* end of the last durable record */
	int64_t alloc;			/* file size after preallocation */
	int64_t zeroed;			/* [0, zeroed) has real blocks (see ZERO_STEP) */
	int roll;			/* next batch starts a new file */
	int broken;			/* a failed batch could not be cut off */

	/* Queue: encoded entries not yet handed to a worker. */
	struct buf queue;
	int64_t queued_txns;
	int64_t queued_first_zxid, queued_last_zxid;
	int64_t last_zxid;		/* highest zxid accepted (queued or written) */
	int64_t durable_zxid;

	struct log_job *writing;
	struct log_job *spare;		/* a finished batch kept for the next one */
	struct snap_job *snapping;

	/* Snapshot trigger (Apache's SyncRequestProcessor). */
	int64_t log_count, log_bytes;
	int64_t rand_roll, rand_size;

	int64_t stat_fsyncs, stat_txns;

	int in_callback;
	int closed;
};

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Apache's resetSnapshotStats: new random offsets so servers do not snapshot together. */
static void reset_snapshot_stats(struct zk_storage *st)
{
	st->log_count = 0;
	st->log_bytes = 0;
	st->rand_roll = (int64_t)(rnd(&st->rng) % (uint64_t)(st->snap_count / 2));
	st->rand_size = st->snap_size_bytes / 2 > 0 ?
		(int64_t)(rnd(&st->rng) % (uint64_t)(st->snap_size_bytes / 2)) : 0;
}

struct dfile {
	int64_t zxid;
	char *name;
	int gz;		/* snapshot.<zxid>.gz */
	int snappy;	/* snapshot.<zxid>.snappy */
};

/* "<prefix>.<hex>" (snapshots also ".gz"/".snappy"); -1 if the name is not one. */
static int64_t parse_name(const char *name, const char *prefix, int *gz, int *snappy)
{
	size_t pl = strlen(prefix), i;
	const char *h, *end;
	uint64_t z = 0;

	*gz = *snappy = 0;
	if (strncmp(name, prefix, pl) || name[pl] != '.')
		return -1;
	h = name + pl + 1;
	end = strchr(h, '.');
	if (!end) {
		end = h + strlen(h);
	} else if (!strcmp(prefix, "snapshot") && !strcmp(end, ".gz")) {
		*gz = 1;
	} else if (!strcmp(prefix, "snapshot") && !strcmp(end, ".snappy")) {
		*snappy = 1;
	} else {
		return -1;
	}
	if (end == h || end - h > 16)
		return -1;
	for (i = 0; h + i < end; i++) {
		char c = h[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		z = z << 4 | (uint64_t)d;
	}
	/* Java's Long.parseLong(s, 16) rejects anything above Long.MAX_VALUE. */
	return z > INT64_MAX ? -1 : (int64_t)z;
}

static int dfile_cmp(const void *a, const void *b)
{
	const struct dfile *x = a, *y = b;

	if (x->zxid != y->zxid)
		return x->zxid < y->zxid ? -1 : 1;
	/* Plain before compressed at the same zxid. */
	return (x->gz + 2 * x->snappy) - (y->gz + 2 * y->snappy);
}

static void dfiles_free(struct dfile *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The files of dir named <prefix>.<hex>, sorted by zxid ascending. 0 or -errno. */
static int list_files(struct vfs *vfs, const char *dir, const char *prefix,
		      struct dfile **out, int *nout)
{
	struct zk_strvec names = { 0, NULL };
	struct dfile *v = NULL;
	int n = 0, rc;
	int32_t i;

	*out = NULL;
	*nout = 0;
	rc = vfs_list(vfs, dir, &names);
	if (rc)
		goto out;
	v = calloc((size_t)names.n + 1, sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < names.n; i++) {
		int gz, snappy;
		int64_t z = parse_name(names.v[i], prefix, &gz, &snappy);

		if (z < 0)
			continue;
		v[n].zxid = z;
		v[n].gz = gz;
		v[n].snappy = snappy;
		v[n].name = names.v[i];
		names.v[i] = NULL;
		n++;
	}
	qsort(v, (size_t)n, sizeof(*v), dfile_cmp);
	*out = v;
	*nout = n;
out:
	for (i = 0; names.v && i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	return rc;
}

/* dir + "/" + name into out[PATH_LEN]; directories are checked at open to leave room. */
static void path_join(char *out, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + 1 + nl >= PATH_LEN)
		nl = dl + 1 < PATH_LEN ? PATH_LEN - dl - 2 : 0;
	if (dl >= PATH_LEN)
		dl = PATH_LEN - 1;
	memcpy(out, dir, dl);
	out[dl] = '/';
	if (dl + 1 + nl < PATH_LEN) {
		memcpy(out + dl + 1, name, nl);
		out[dl + 1 + nl] = '\0';
	} else {
		out[dl] = '\0';
	}
}

/* ---- executors ---------------------------------------------------------------------- */

/* The libuv threadpool executor. */
struct uv_exec {
	struct storage_exec base;
	uv_loop_t *loop;
};

struct uv_job {
	uv_work_t req;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct storage_job *job;
};

static void uvx_work_cb(uv_work_t *req)
{
	struct uv_job *uj = req->data;

	uj->job->work(uj->job);
	uv_mutex_lock(&uj->mu);
	uj->job->work_ran = 1;
	uv_cond_signal(&uj->cv);
	uv_mutex_unlock(&uj->mu);
}

static void uvx_after_cb(uv_work_t *req, int status)
{
	struct uv_job *uj = req->data;
	struct storage_job *job = uj->job;

	/* work() has returned and signalled: nobody else holds mu or cv now. */
	uv_mutex_destroy(&uj->mu);
	uv_cond_destroy(&uj->cv);
	free(uj);
	job->done(job);
}

static int uvx_submit(struct storage_exec *ex, struct storage_job *job)
{
	struct uv_exec *ux = (struct uv_exec *)ex;
	struct uv_job *uj = calloc(1, sizeof(*uj));
	int rc;

	if (!uj)
		return ZSYSTEMERROR;
	if (uv_mutex_init(&uj->mu)) {
		free(uj);
		return ZSYSTEMERROR;
	}
	if (uv_cond_init(&uj->cv)) {
		uv_mutex_destroy(&uj->mu);
		free(uj);
		return ZSYSTEMERROR;
	}
	uj->job = job;
	uj->req.data = uj;
	job->exec_data = uj;
	rc = uv_queue_work(ux->loop, &uj->req, uvx_work_cb, uvx_after_cb);
	if (rc) {
		uv_mutex_destroy(&uj->mu);
		uv_cond_destroy(&uj->cv);
		free(uj);
		return ZSYSTEMERROR;
	}
	return 0;
}

static void uvx_wait(struct storage_exec *ex, struct storage_job *job)
{
	struct uv_job *uj = job->exec_data;

	uv_mutex_lock(&uj->mu);
	while (!job->work_ran)
		uv_cond_wait(&uj->cv, &uj->mu);
	uv_mutex_unlock(&uj->mu);
}

static void uvx_free(struct storage_exec *ex)
{
	free(ex);
}

static struct storage_exec *uv_exec_new(uv_loop_t *loop)
{
	struct uv_exec *ux = calloc(1, sizeof(*ux));

	if (!ux)
		return NULL;
	ux->base.submit = uvx_submit;
	ux->base.wait = uvx_wait;
	ux->base.free = uvx_free;
	ux->loop = loop;
	return &ux->base;
}

/* ---- log batches -------------------------------------------------------------------- */

struct log_job {
	struct storage_job base;
	struct zk_storage *st;		/* NULL once orphaned by storage_close/abandon */
	struct vfs *vfs;
	struct vfs_file *f;		/* NULL: create path */
	int force_sync;
	int64_t off;			/* where data goes */
	int64_t size_before;		/* file size known before the batch */
	int64_t size_after;		/* preallocated size needed */
	int64_t zero_from, zero_to;	/* zeros to write past the data (may be empty) */
	struct buf data;
	int64_t ntxns, first_zxid, last_zxid;
	/* results */
	int rc;				/* 0 or -errno */
	int cut_ok;			/* after a failure: the file is back at `off` */
	int64_t fsyncs;
	/* The big strings last: a batch zeroes only the fields above (one per fsync). */
	char path[PATH_LEN];
	char dir[PATH_LEN];
	char errmsg[PATH_LEN + 128];
};

/*
 * Only an optimisation, over a range that reads as zeros anyway: a failure (a full disk)
 * leaves the range as it was and the next batch tries again.
 */
static void write_zeros(struct log_job *j)
{
	static const uint8_t zeros[64 << 10];
	int64_t off;

	for (off = j->zero_from; off < j->zero_to; off += (int64_t)sizeof(zeros)) {
		size_t n = sizeof(zeros);

		if (off + (int64_t)n > j->zero_to)
			n = (size_t)(j->zero_to - off);
		if (vfs_pwrite(j->f, zeros, n, off)) {
			j->zero_to = off;
			return;
		}
	}
}

static void log_work(struct storage_job *base)
{
	struct log_job *j = (struct log_job *)base;
	int64_t end = j->off + (int64_t)j->data.len;
	const char *step;
	int created = 0;

	j->rc = 0;
	if (!j->f) {
		step = "create";
		j->rc = vfs_open(j->vfs, j->path, VFS_RDWR | VFS_CREAT | VFS_EXCL, &j->f);
		if (j->rc)
			goto fail;
		created = 1;
	}
	if (j->size_after > j->size_before && j->size_after > end) {
		static const uint8_t zero;

		/* Apache's FilePadding: one zero byte at the new end reserves the space. */
		step = "preallocate";
		j->rc = vfs_pwrite(j->f, &zero, 1, j->size_after - 1);
		if (j->rc)
			goto fail;
	}
	step = "write";
	j->rc = vfs_pwrite(j->f, j->data.p, j->data.len, j->off);
	if (j->rc)
		goto fail;
	if (j->zero_to > j->zero_from)
		write_zeros(j);
	if (j->force_sync) {
		step = "fsync";
		j->rc = vfs_sync(j->f, 1);
		j->fsyncs++;
		if (j->rc)
			goto fail;
		if (created) {
			/* The new file's name must survive a crash too. */
			step = "fsync directory of";
			j->rc = vfs_sync_dir(j->vfs, j->dir);
			if (j->rc)
				goto fail;
		}
	}
	return;

fail:
	snprintf(j->errmsg, sizeof(j->errmsg), "%s %s%s: %s", step, j->path,
		 !strcmp(step, "write") ? " failed" : "", strerror(-j->rc));
	if (!j->f) {
		j->cut_ok = 1;
		return;
	}
	if (created) {
		/* Nothing durable lives in a file this batch created: remove it. */
		vfs_close(j->f);
		j->f = NULL;
		j->cut_ok = vfs_unlink(j->vfs, j->path) == 0;
		if (j->cut_ok && j->force_sync)
			vfs_sync_dir(j->vfs, j->dir);
		return;
	}
	/* Cut the partial batch off, so no half record is left behind. */
	j->cut_ok = vfs_truncate(j->f, j->off) == 0 &&
		    (!j->force_sync || vfs_sync(j->f, 1) == 0);
}

static void log_job_free(struct log_job *j)
{
	if (j->f && !j->st)
		vfs_close(j->f);	/* orphaned: nobody else will close it */
	buf_release(&j->data);
	free(j);
}

static void storage_free(struct zk_storage *st);

/* Applies a finished batch to the storage state; returns the status for on_durable. */
static int log_complete(struct zk_storage *st, struct log_job *j)
{
	st->writing = NULL;
	st->stat_fsyncs += j->fsyncs;
	if (j->rc == 0) {
		if (st->f != j->f) {
			st->f = j->f;
			snprintf(st->log_path, sizeof(st->log_path), "%s", j->path);
			st->zeroed = 0;
		}
		st->durable_off = j->off + (int64_t)j->data.len;
		if (st->zeroed < st->durable_off)
			st->zeroed = st->durable_off;
		if (st->zeroed < j->zero_to)
			st->zeroed = j->zero_to;
		st->alloc = j->size_after > st->durable_off ? j->size_after : st->durable_off;
		st->durable_zxid = j->last_zxid;
		st->stat_txns += j->ntxns;
		j->f = NULL;
		return 0;
	}
	log_error("txn log: %s; txns 0x%" PRIx64 "..0x%" PRIx64 " are not durable",
		  j->errmsg, (uint64_t)j->first_zxid, (uint64_t)j->last_zxid);
	if (!j->cut_ok) {
		log_error("txn log %s could not be cut back to offset %" PRId64 " after the "
			  "failure; refusing further appends (restart the server)",
			  j->path, j->off);
		st->broken = 1;
	}
	if (j->f && j->f == st->f) {
		st->alloc = j->off;
	} else if (j->f) {
		vfs_close(j->f);
	}
	j->f = NULL;
	if (st->f == NULL)
		st->roll = 0;	/* the next batch creates a file anyway */
	/* Everything queued behind the failed batch is dropped: its zxids follow the lost
	 * ones, and the server reissues them. */
	buf_reset(&st->queue);
	st->queued_txns = 0;
	st->last_zxid = st->durable_zxid;
	return ZSYSTEMERROR;
}

static void log_done(struct storage_job *base)
{
	struct log_job *j = (struct log_job *)base;
	struct zk_storage *st = j->st;
	int status;

	if (!st) {
		log_job_free(j);
		return;
	}
	status = log_complete(st, j);
	/*
	 * Keep the job (12 KiB of path buffers) and its data buffer for the next batch:
	 * a fresh malloc of each per fsync was a tenth of the write path's instructions.
	 */
	if (!st->spare && !j->f) {
		buf_reset(&j->data);
		st->spare = j;
	} else {
		log_job_free(j);
	}
	/*
	 * Start the next batch before the replies: applying and answering this batch takes
	 * the loop longer than an fsync, and the disk would sit idle meanwhile.
	 */
	if (status == 0)
		storage_flush(st);
	st->in_callback++;
	st->on_durable(st->ctx, st->durable_zxid, status);
	st->in_callback--;
	if (st->closed) {
		if (!st->in_callback)
			storage_free(st);
		return;
	}
	storage_flush(st);
}

/* Builds the next batch from the queue (NULL if there is nothing to write). */
static struct log_job *batch_new(struct zk_storage *st)
{
	struct log_job *j;
	int64_t pos, size;
	size_t i;

	if (st->queue.len == 0 || st->broken)
		return NULL;
	if (st->spare) {
		struct buf keep = st->spare->data;

		j = st->spare;
		st->spare = NULL;
		memset(j, 0, offsetof(struct log_job, path));
		j->data = keep;
	} else {
		j = malloc(sizeof(*j));
		if (!j)
			return NULL;
		memset(j, 0, offsetof(struct log_job, path));
	}
	j->path[0] = 0;
	j->errmsg[0] = 0;
	j->base.work = log_work;
	j->base.done = log_done;
	j->st = st;
	j->vfs = st->vfs;
	j->force_sync = st->force_sync;
	snprintf(j->dir, sizeof(j->dir), "%s", st->log_dir);
	if (st->f && st->roll) {
		/* Every batch of the old file is durable: nothing else uses it. */
		vfs_close(st->f);
		st->f = NULL;
	}
	st->roll = 0;
	if (!st->f) {
		snprintf(j->path, sizeof(j->path), "%s/log.%" PRIx64, st->log_dir,
			 (uint64_t)st->queued_first_zxid);
		txnlog_put_header(&j->data);
		j->off = 0;
		/* Apache pads right after writing the header. */
		j->size_before = 0;
		size = TXNLOG_HDR_LEN;
		pos = TXNLOG_HDR_LEN;
	} else {
		j->f = st->f;
		snprintf(j->path, sizeof(j->path), "%s", st->log_path);
		j->off = st->durable_off;
		j->size_before = st->alloc;
		size = st->alloc;
		pos = st->durable_off;
	}
	/* Apache's rule is applied before each entry, at the entry's position. */
	for (i = 0; i < st->queue.len;) {
		int64_t rec = TXNLOG_REC_OVERHEAD + be32_get(st->queue.p + i + 8);

		size = txnlog_padded_size(pos, size, st->prealloc);
		pos += rec;
		i += (size_t)rec;
	}
	j->size_after = size;
	if (st->prealloc > 0 && j->force_sync) {
		int64_t from = j->f ? st->zeroed : 0;	/* NULL: a new file */

		if (from < pos)
			from = pos;
		if (pos + ZERO_LOW > from && from < size) {
			j->zero_from = from;
			j->zero_to = from + ZERO_STEP < size ? from + ZERO_STEP : size;
		}
	}
	if (j->data.len == 0) {
		/* No header to put first: swap buffers with the queue instead of copying. */
		struct buf t = j->data;

		j->data = st->queue;
		st->queue = t;
	} else {
		buf_put(&j->data, st->queue.p, st->queue.len);
		if (j->data.oom) {
			buf_release(&j->data);
			free(j);
			return NULL;
		}
	}
	j->ntxns = st->queued_txns;
	j->first_zxid = st->queued_first_zxid;
	j->last_zxid = st->queued_last_zxid;
	buf_reset(&st->queue);
	st->queued_txns = 0;
	return j;
}

void storage_flush(struct zk_storage *st)
{
	struct log_job *j;

	if (st->closed || st->writing)
		return;
	j = batch_new(st);
	if (!j)
		return;
	st->writing = j;
	if (st->exec->submit(st->exec, &j->base)) {
		/* uv_queue_work only fails on bad arguments; rather than lose the batch, write
		 * it here. st may be gone after log_done(): touch nothing after it. */
		log_warn("txn log: could not queue work, writing on the loop thread");
		log_work(&j->base);
		j->base.work_ran = 1;
		log_done(&j->base);
	}
}

static void check_cb(uv_check_t *h)
{
	struct zk_storage *st = h->data;

	if (!st)
		return;
	if (st->kick_on) {
		uv_idle_stop(st->kick);
		st->kick_on = 0;
	}
	storage_flush(st);
}

static void kick_cb(uv_idle_t *h)
{
	(void)h;
}

int storage_append(struct zk_storage *st, const struct zk_txn *txn)
{
	size_t before = st->queue.len;

	if (st->closed || st->broken)
		return ZSYSTEMERROR;
	if (txn->hdr.zxid <= st->last_zxid) {
		log_error("txn log: zxid 0x%" PRIx64 " is not above the last one 0x%" PRIx64,
			  (uint64_t)txn->hdr.zxid, (uint64_t)st->last_zxid);
		return ZSYSTEMERROR;
	}
	txnlog_put_entry(&st->queue, txn);
	if (st->queue.oom) {
		st->queue.oom = 0;
		st->queue.len = before;
		return ZSYSTEMERROR;
	}
	if (st->queued_txns == 0)
		st->queued_first_zxid = txn->hdr.zxid;
	st->queued_txns++;
	st->queued_last_zxid = txn->hdr.zxid;
	st->last_zxid = txn->hdr.zxid;
	st->log_count++;
	st->log_bytes += (int64_t)(st->queue.len - before);
	/*
	 * The batch goes from check_cb, after this iteration's poll; an append made outside
	 * the poll phase (a timer: session expiry) must not let that poll block first.
	 */
	if (st->kick && !st->kick_on) {
		uv_idle_start(st->kick, kick_cb);
		st->kick_on = 1;
	}
	return 0;
}

/* ---- snapshots ---------------------------------------------------------------------- */

struct snap_job {
	struct storage_job base;
	struct zk_storage *st;
	struct vfs *vfs;
	char dir[PATH_LEN];
	char name[64], tmpname[80];
	struct buf data;		/* the body; the worker seals it */
	int64_t digest_zxid, digest;
	int rc;
	char errmsg[PATH_LEN + 128];
};

static void snap_work(struct storage_job *base)
{
	struct snap_job *j = (struct snap_job *)base;

	/* The checksums read the whole file: done here, off the event loop. */
	snapfile_seal(&j->data, j->digest_zxid, j->digest);
	if (j->data.oom) {
		j->rc = ZSYSTEMERROR;
		snprintf(j->errmsg, sizeof(j->errmsg), "out of memory sealing %s", j->name);
		return;
	}
	j->rc = vfs_write_atomic(j->vfs, j->dir, j->tmpname, j->name, j->data.p, j->data.len,
				 j->errmsg, sizeof(j->errmsg));
}

static void snap_report(struct snap_job *j)
{
	if (j->rc)
		log_error("snapshot %s/%s failed: %s", j->dir, j->name, j->errmsg);
	else
		log_info("snapshot %s/%s written (%zu bytes)", j->dir, j->name, j->data.len);
}

static void snap_done(struct storage_job *base)
{
	struct snap_job *j = (struct snap_job *)base;

	if (j->st) {
		j->st->snapping = NULL;
		snap_report(j);
	}
	buf_release(&j->data);
	free(j);
}

/* The ZxidDigest written with a snapshot: empty while nothing has been applied. */
static void snap_serialise(struct buf *b, const struct zk_tree *tree,
			   const struct storage_session *sessions, int32_t n)
{
	int64_t z = tree_last_zxid(tree);

	snapfile_write(b, tree, sessions, n, z > 0 ? z : 0, z > 0 ? tree_digest(tree) : 0);
}

int storage_snapshot(struct zk_storage *st, const struct zk_tree *tree,
		     const struct storage_session *sessions, int32_t nsessions)
{
	struct snap_job *j;
	int64_t z = tree_last_zxid(tree);

	if (st->closed)
		return ZSYSTEMERROR;
	/* As Apache: the trigger resets and the log rolls even when the write is skipped. */
	reset_snapshot_stats(st);
	st->roll = 1;
	if (st->snapping) {
		log_warn("too busy to snapshot at zxid 0x%" PRIx64 ", skipping", (uint64_t)z);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return ZSYSTEMERROR;
	j->base.work = snap_work;
	j->base.done = snap_done;
	j->st = st;
	j->vfs = st->vfs;
	snprintf(j->dir, sizeof(j->dir), "%s", st->snap_dir);
	snprintf(j->name, sizeof(j->name), "snapshot.%" PRIx64, (uint64_t)z);
	snprintf(j->tmpname, sizeof(j->tmpname), ".snapshot.%" PRIx64 ".tmp", (uint64_t)z);
	snapfile_write_body(&j->data, tree, sessions, nsessions);
	j->digest_zxid = z > 0 ? z : 0;
	j->digest = z > 0 ? tree_digest(tree) : 0;
	if (j->data.oom) {
		buf_release(&j->data);
		free(j);
		return ZSYSTEMERROR;
	}
	st->snapping = j;
	if (st->exec->submit(st->exec, &j->base)) {
		st->snapping = NULL;
		buf_release(&j->data);
		free(j);
		return ZSYSTEMERROR;
	}
	return 0;
}

int storage_snapshot_due(const struct zk_storage *st)
{
	return st->log_count > st->snap_count / 2 + st->rand_roll ||
	       (st->snap_size_bytes > 0 && st->log_bytes > st->snap_size_bytes / 2 + st->rand_size);
}

/* ---- open / close ------------------------------------------------------------------- */

static int check_dir_contents(struct zk_storage *st, char *errmsg, size_t errlen)
{
	struct dfile *v;
	int n, rc;

	/* Apache's FileTxnSnapLog checks: a mix-up of dataDir and dataLogDir is fatal. */
	if (!strcmp(st->snap_dir, st->log_dir))
		return 0;
	rc = list_files(st->vfs, st->log_dir, "snapshot", &v, &n);
	if (rc == 0) {
		dfiles_free(v, n);
		if (n > 0) {
			snprintf(errmsg, errlen, "log directory %s has snapshot files: check that "
				 "dataLogDir and dataDir are set correctly", st->log_dir);
			return ZBADARGUMENTS;
		}
	}
	rc = list_files(st->vfs, st->snap_dir, "log", &v, &n);
	if (rc == 0) {
		dfiles_free(v, n);
		if (n > 0) {
			snprintf(errmsg, errlen, "snapshot directory %s has txn log files: check "
				 "that dataLogDir and dataDir are set correctly", st->snap_dir);
			return ZBADARGUMENTS;
		}
	}
	return 0;
}

static int prepare_dir(struct vfs *vfs, const char *dir, const char *what, char *errmsg,
		       size_t errlen)
{
	char failed[PATH_LEN];
	int rc;

	failed[0] = '\0';
	rc = vfs_mkdirs(vfs, dir, failed, sizeof(failed));
	if (rc) {
		if (failed[0] && strcmp(failed, dir))
			snprintf(errmsg, errlen, "cannot create %s %s: %s: %s", what, dir, failed,
				 strerror(-rc));
		else
			snprintf(errmsg, errlen, "cannot create %s %s: %s", what, dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	rc = vfs->check_dir(vfs, dir);
	if (rc) {
		snprintf(errmsg, errlen, "%s %s is not writable: %s", what, dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	return 0;
}

int storage_open_with(uv_loop_t *loop, const struct storage_opts *opts, struct vfs *vfs,
		      struct storage_exec *exec, storage_durable_fn on_durable, void *ctx,
		      struct zk_storage **out, char *errmsg, size_t errlen)
{
	struct zk_storage *st;
	int rc;

	*out = NULL;
	if (!opts->data_dir || !opts->data_dir[0]) {
		snprintf(errmsg, errlen, "dataDir is not set");
		return ZBADARGUMENTS;
	}
	if (strlen(opts->data_dir) + 11 >= DIR_LEN ||
	    (opts->log_dir && strlen(opts->log_dir) + 11 >= DIR_LEN)) {
		snprintf(errmsg, errlen, "data directory path is too long");
		return ZBADARGUMENTS;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(errmsg, errlen, "out of memory");
		return ZSYSTEMERROR;
	}
	st->loop = loop;
	st->vfs = vfs;
	st->exec = exec;
	st->on_durable = on_durable;
	st->ctx = ctx;
	snprintf(st->snap_dir, sizeof(st->snap_dir), "%s/version-2", opts->data_dir);
	snprintf(st->log_dir, sizeof(st->log_dir), "%s/version-2",
		 opts->log_dir && opts->log_dir[0] ? opts->log_dir : opts->data_dir);
	/* Apache: snapCount below 2 is raised to 2. */
	st->snap_count = opts->snap_count < 2 ? 2 : opts->snap_count;
	st->snap_size_bytes = opts->snap_size_kb > 0 ? opts->snap_size_kb * 1024 : 0;
	st->prealloc = opts->prealloc_kb > 0 ? opts->prealloc_kb * 1024 : 0;
	st->force_sync = opts->force_sync;
	st->rng = opts->seed;
	st->last_zxid = -1;
	st->durable_zxid = -1;
	reset_snapshot_stats(st);

	rc = prepare_dir(vfs, st->snap_dir, "data directory", errmsg, errlen);
	if (rc)
		goto err;
	rc = prepare_dir(vfs, st->log_dir, "data log directory", errmsg, errlen);
	if (rc)
		goto err;
	rc = check_dir_contents(st, errmsg, errlen);
	if (rc)
		goto err;
	if (loop) {
		st->check = calloc(1, sizeof(*st->check));
		if (!st->check || uv_check_init(loop, st->check) ||
		    uv_check_start(st->check, check_cb)) {
			free(st->check);
			st->check = NULL;
			snprintf(errmsg, errlen, "cannot start the log flush handle");
			rc = ZSYSTEMERROR;
			goto err;
		}
		st->check->data = st;
		/* Batching must not keep the loop alive on its own. */
		uv_unref((uv_handle_t *)st->check);
		st->kick = calloc(1, sizeof(*st->kick));
		if (!st->kick || uv_idle_init(loop, st->kick)) {
			free(st->kick);
			st->kick = NULL;	/* appends from timers then wait for the next event */
		} else {
			uv_unref((uv_handle_t *)st->kick);
		}
	}
	*out = st;
	return 0;
err:
	free(st);
	return rc;
}

int storage_open(uv_loop_t *loop, const struct storage_opts *opts,
		 storage_durable_fn on_durable, void *ctx,
		 struct zk_storage **out, char *errmsg, size_t errlen)
{
	struct storage_exec *ex = uv_exec_new(loop);
	int rc;

	if (!ex) {
		snprintf(errmsg, errlen, "out of memory");
		return ZSYSTEMERROR;
	}
	rc = storage_open_with(loop, opts, vfs_posix(), ex, on_durable, ctx, out, errmsg, errlen);
	if (rc) {
		ex->free(ex);
		return rc;
	}
	(*out)->own_exec = 1;
	return 0;
}

static void check_closed_cb(uv_handle_t *h)
{
	free(h);
}

static void storage_free(struct zk_storage *st)
{
	if (st->kick) {
		uv_close((uv_handle_t *)st->kick, check_closed_cb);
		st->kick = NULL;
	}
	if (st->check) {
		st->check->data = NULL;
		uv_close((uv_handle_t *)st->check, check_closed_cb);
		st->check = NULL;
	}
	if (st->f)
		vfs_close(st->f);
	if (st->spare)
		log_job_free(st->spare);
	buf_release(&st->queue);
	if (st->own_exec && st->exec->free)
		st->exec->free(st->exec);
	free(st);
}

/* Detaches in-flight jobs so their done() only frees them. */
static void orphan_jobs(struct zk_storage *st, int wait)
{
	if (st->writing) {
		struct log_job *j = st->writing;

		if (wait) {
			st->exec->wait(st->exec, &j->base);
			/* Take over the result; the file handle stays with storage. */
			log_complete(st, j);
		} else if (j->f == st->f) {
			j->f = NULL;	/* storage closes it */
		}
		j->st = NULL;
		st->writing = NULL;
	}
	if (st->snapping) {
		struct snap_job *j = st->snapping;

		if (wait) {
			st->exec->wait(st->exec, &j->base);
			snap_report(j);
		}
		j->st = NULL;
		st->snapping = NULL;
	}
}

void storage_close(struct zk_storage *st)
{
	struct log_job *j;

	if (!st || st->closed)
		return;
	orphan_jobs(st, 1);
	if (st->broken && st->queued_txns)
		log_error("txn log: dropping %" PRId64 " queued txns at close: the log is unusable",
			  st->queued_txns);
	/* Whatever is still queued is written here, on this thread. */
	j = batch_new(st);
	if (j) {
		log_work(&j->base);
		log_complete(st, j);
		log_job_free(j);
	}
	st->closed = 1;
	if (!st->in_callback)
		storage_free(st);
}

void storage_abandon(struct zk_storage *st)
{
	if (!st)
		return;
	orphan_jobs(st, 0);
	st->closed = 1;
	if (!st->in_callback)
		storage_free(st);
}

void storage_stats(const struct zk_storage *st, int64_t *fsyncs, int64_t *txns)
{
	if (fsyncs)
		*fsyncs = st->stat_fsyncs;
	if (txns)
		*txns = st->stat_txns;
}

int64_t storage_durable_zxid(const struct zk_storage *st)
{
	return st->durable_zxid;
}

/* ---- load --------------------------------------------------------------------------- */

/* Writes snapshot.<last zxid> on the calling thread (used at load). */
static int write_snapshot_now(struct zk_storage *st, const struct zk_tree *tree,
			      const struct storage_session *sessions, int32_t n,
			      char *errmsg, size_t errlen)
{
	struct buf b = BUF_INIT;
	char name[64], tmp[80], err[PATH_LEN + 128];
	uint64_t z = (uint64_t)tree_last_zxid(tree);
	int rc;

	snprintf(name, sizeof(name), "snapshot.%" PRIx64, z);
	snprintf(tmp, sizeof(tmp), ".snapshot.%" PRIx64 ".tmp", z);
	snap_serialise(&b, tree, sessions, n);
	if (b.oom) {
		buf_release(&b);
		snprintf(errmsg, errlen, "out of memory serialising %s", name);
		return ZSYSTEMERROR;
	}
	rc = vfs_write_atomic(st->vfs, st->snap_dir, tmp, name, b.p, b.len, err, sizeof(err));
	if (rc) {
		snprintf(errmsg, errlen, "write snapshot: %s", err);
		buf_release(&b);
		return ZSYSTEMERROR;
	}
	log_info("snapshot %s/%s written (%zu bytes)", st->snap_dir, name, b.len);
	buf_release(&b);
	return 0;
}

/* Inflates a gzip'ed snapshot (zookeeper.snapshot.compression.method=gz). */
static int gunzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	size_t cap = inlen * 4 + 4096, len = 0;
	uint8_t *p = malloc(cap);
	int zr;

	if (!p)
		return -1;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(p);
		return -1;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	do {
		if (len == cap) {
			uint8_t *np = realloc(p, cap * 2);

			if (!np) {
				zr = Z_MEM_ERROR;
				break;
			}
			p = np;
			cap *= 2;
		}
		zs.next_out = p + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(p);
		return -1;
	}
	*out = p;
	*outlen = len;
	return 0;
}

/*
 * vfs_read_all(), with the buffer's pages mapped in one call before the read rather than
 * faulted in one at a time by it (tens of MiB at every start).
 */
static int read_file(struct vfs *vfs, const char *path, uint8_t **out, size_t *len)
{
	struct vfs_file *f;
	int64_t size, got;
	uint8_t *p;
	int rc;

	rc = vfs_open(vfs, path, VFS_RDONLY, &f);
	if (rc)
		return rc;
	rc = vfs_size(f, &size);
	if (rc)
		goto out;
	if ((uint64_t)size > SIZE_MAX - 1) {
		rc = -EFBIG;
		goto out;
	}
	p = malloc(size > 0 ? (size_t)size : 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	snapfile_prefault(p, (size_t)size);
	got = vfs_pread(f, p, (size_t)size, 0);
	if (got < 0) {
		rc = (int)got;
		free(p);
		goto out;
	}
	*out = p;
	*len = (size_t)got;
out:
	vfs_close(f);
	return rc;
}

/* Reads and fully checks one snapshot file. 0, or non-zero with why set. */
static int try_snapshot(struct zk_storage *st, const struct dfile *d, struct snapfile *sf,
			char *why, size_t whylen)
{
	char path[PATH_LEN];
	uint8_t *p = NULL;
	size_t len = 0;
	int rc;

	path_join(path, st->snap_dir, d->name);
	if (d->snappy) {
		snprintf(why, whylen, "snappy-compressed snapshots are not supported");
		return -1;
	}
	rc = read_file(st->vfs, path, &p, &len);
	if (rc) {
		snprintf(why, whylen, "%s", strerror(-rc));
		return -1;
	}
	if (d->gz) {
		uint8_t *raw;
		size_t rawlen;

		if (gunzip(p, len, &raw, &rawlen)) {
			free(p);
			snprintf(why, whylen, "not a complete gzip stream");
			return -1;
		}
		free(p);
		p = raw;
		len = rawlen;
	}
	if (!snapfile_tail_ok(p, len)) {
		free(p);
		snprintf(why, whylen, "incomplete file (%zu bytes, no end marker)", len);
		return -1;
	}
	rc = snapfile_read(p, len, sf, why, whylen);
	free(p);
	return rc;
}

struct replay {
	struct zk_storage *st;
	struct zk_tree *tree;
	const struct storage_load_cb *cb;
	const char *path;
	int64_t snap_zxid;
	int64_t applied;	/* highest zxid applied so far */
	int64_t snap_digest_zxid, snap_digest;
	int has_snap_digest;
	int digest_warned;
	int64_t nreplayed;
};

static void compare_snap_digest(struct replay *r)
{
	if (!r->has_snap_digest || r->applied < r->snap_digest_zxid)
		return;
	if (r->applied == r->snap_digest_zxid && tree_digest(r->tree) != r->snap_digest)
		log_warn("tree digest 0x%" PRIx64 " at zxid 0x%" PRIx64 " differs from the "
			 "snapshot's 0x%" PRIx64, (uint64_t)tree_digest(r->tree),
			 (uint64_t)r->applied, (uint64_t)r->snap_digest);
	r->has_snap_digest = 0;
}

static int replay_rec(void *ctx, const struct zk_txn *txn, int64_t off)
{
	struct replay *r = ctx;
	int rc;

	if (txn->hdr.zxid <= r->applied) {
		if (txn->hdr.zxid > r->snap_zxid)
			log_warn("txn log %s: zxid 0x%" PRIx64 " at offset %" PRId64 " is not above "
				 "0x%" PRIx64 "; skipped", r->path, (uint64_t)txn->hdr.zxid, off,
				 (uint64_t)r->applied);
		return 0;
	}
	rc = tree_apply(r->tree, txn, NULL, NULL, NULL);
	if (rc)
		return rc;
	r->applied = txn->hdr.zxid;
	r->nreplayed++;
	if (txn->has_digest && !r->digest_warned && tree_digest(r->tree) != txn->digest) {
		/* Apache logs this and carries on; so do we, once per load. */
		log_warn("tree digest mismatch after zxid 0x%" PRIx64 " in %s (log 0x%" PRIx64
			 ", tree 0x%" PRIx64 ")", (uint64_t)txn->hdr.zxid, r->path,
			 (uint64_t)txn->digest, (uint64_t)tree_digest(r->tree));
		r->digest_warned = 1;
	}
	compare_snap_digest(r);
	if (r->cb && r->cb->txn)
		r->cb->txn(r->cb->ctx, txn);
	return 0;
}

/* Cuts a torn tail off (or removes a file with no complete record). */
static int repair_log(struct zk_storage *st, struct vfs_file *f, const char *path,
		      const struct txnlog_scan *res, char *errmsg, size_t errlen)
{
	char extra[128] = "";
	int rc;

	if (res->valid_after >= 0)
		snprintf(extra, sizeof(extra), "; the records from offset %" PRId64 " on were "
			 "never synced and are dropped with it", res->valid_after);
	if (res->nrecords == 0) {
		log_warn("torn txn log %s: %s and no complete record; removing it%s", path,
			 res->why, extra);
		rc = vfs_unlink(st->vfs, path);
		if (rc == 0)
			rc = vfs_sync_dir(st->vfs, st->log_dir);
		if (rc) {
			snprintf(errmsg, errlen, "remove torn txn log %s: %s", path, strerror(-rc));
			return ZSYSTEMERROR;
		}
		return 0;
	}
	log_warn("torn tail in txn log %s at offset %" PRId64 " (after zxid 0x%" PRIx64 "): %s; "
		 "truncating %" PRId64 " bytes%s", path, res->end, (uint64_t)res->last_zxid,
		 res->why, res->size - res->end, extra);
	rc = vfs_truncate(f, res->end);
	if (rc == 0)
		rc = vfs_sync(f, 0);
	if (rc) {
		snprintf(errmsg, errlen, "truncate torn txn log %s at offset %" PRId64 ": %s",
			 path, res->end, strerror(-rc));
		return ZSYSTEMERROR;
	}
	return 0;
}

static int replay_logs(struct zk_storage *st, struct replay *r, char *errmsg, size_t errlen)
{
	struct dfile *logs;
	int n, i, start = 0, rc;
	int64_t prev_last = -1;

	rc = list_files(st->vfs, st->log_dir, "log", &logs, &n);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", st->log_dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	/*
	 * Start with the file holding the snapshot's zxid, the largest start zxid <= it, as
	 * Apache's FileTxnIterator does (it takes every file from snap_zxid + 1 on plus the
	 * one before): its records up to the snapshot are not replayed, but their checksums
	 * are checked, so damage there is refused as Apache refuses it.
	 */
	for (i = 0; i < n; i++)
		if (logs[i].zxid <= r->snap_zxid)
			start = i;
	for (i = start; i < n; i++) {
		char path[PATH_LEN];
		struct vfs_file *f;
		struct txnlog_scan res;

		path_join(path, st->log_dir, logs[i].name);
		rc = vfs_open(st->vfs, path, VFS_RDWR, &f);
		if (rc) {
			snprintf(errmsg, errlen, "open txn log %s: %s", path, strerror(-rc));
			rc = ZSYSTEMERROR;
			goto out;
		}
		r->path = path;
		/* Only the newest file can end in a torn batch: the others are read up to
		 * their end marker, not through their preallocated zeros. */
		rc = txnlog_scan_after(f, path, r->snap_zxid, i < n - 1, replay_rec, r, &res,
				       errmsg, errlen);
		if (rc == 0 && res.state == TXNLOG_TORN)
			rc = repair_log(st, f, path, &res, errmsg, errlen);
		if (rc == 0 && res.state == TXNLOG_CLEAN && res.nrecords == 0) {
			/* A header and nothing else: useless, and its name would clash with the
			 * next file the log creates. */
			log_info("removing empty txn log %s", path);
			if (vfs_unlink(st->vfs, path) == 0)
				vfs_sync_dir(st->vfs, st->log_dir);
		}
		vfs_close(f);
		if (rc) {
			if (!errmsg[0])
				snprintf(errmsg, errlen, "replay %s: %s", path, zk_strerror(rc));
			goto out;
		}
		if (res.nrecords > 0) {
			if (prev_last >= 0 && res.first_zxid <= prev_last)
				log_warn("txn log %s starts at zxid 0x%" PRIx64 ", not above the "
					 "previous file's last 0x%" PRIx64, path,
					 (uint64_t)res.first_zxid, (uint64_t)prev_last);
			prev_last = res.last_zxid;
		}
	}
	rc = 0;
out:
	dfiles_free(logs, n);
	return rc;
}

/* Removes snapshot temp files a crash left behind. */
static void remove_temps(struct zk_storage *st)
{
	struct zk_strvec names = { 0, NULL };
	int32_t i;

	if (vfs_list(st->vfs, st->snap_dir, &names))
		return;
	for (i = 0; i < names.n; i++) {
		size_t l = strlen(names.v[i]);

		if (!strncmp(names.v[i], ".snapshot.", 10) && l > 4 &&
		    !strcmp(names.v[i] + l - 4, ".tmp")) {
			char path[PATH_LEN];

			path_join(path, st->snap_dir, names.v[i]);
			log_info("removing unfinished snapshot %s", path);
			vfs_unlink(st->vfs, path);
		}
	}
	zk_strvec_release(&names);
}

int storage_load(struct zk_storage *st, struct zk_tree **tree,
		 const struct storage_load_cb *cb, char *errmsg, size_t errlen)
{
	struct dfile *snaps = NULL, *logs = NULL;
	int nsnaps = 0, nlogs = 0, i, tries = 0, rc;
	struct snapfile sf;
	struct replay r;
	char why[512];
	int found = 0;

	*tree = NULL;
	errmsg[0] = '\0';
	memset(&sf, 0, sizeof(sf));
	memset(&r, 0, sizeof(r));
	remove_temps(st);
	rc = list_files(st->vfs, st->snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", st->snap_dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	for (i = nsnaps - 1; i >= 0 && tries < MAX_SNAP_TRIES; i--, tries++) {
		why[0] = '\0';
		rc = try_snapshot(st, &snaps[i], &sf, why, sizeof(why));
		if (rc == 0) {
			found = 1;
			break;
		}
		log_warn("skipping snapshot %s/%s: %s; trying an older one", st->snap_dir,
			 snaps[i].name, why);
	}
	if (!found) {
		rc = list_files(st->vfs, st->log_dir, "log", &logs, &nlogs);
		if (rc) {
			snprintf(errmsg, errlen, "list %s: %s", st->log_dir, strerror(-rc));
			rc = ZSYSTEMERROR;
			goto out;
		}
		if (nlogs > 0) {
			/* Apache: "No snapshot found, but there are log entries." Replaying the
			 * logs onto an empty tree could silently lose everything before them. */
			snprintf(errmsg, errlen, "no valid snapshot in %s but txn logs exist in %s "
				 "(%s ...): refusing to start; restore a snapshot or move the logs "
				 "away", st->snap_dir, st->log_dir, logs[0].name);
			rc = ZDATAINCONSISTENCY;
			goto out;
		}
		sf.tree = tree_new();
		if (!sf.tree) {
			snprintf(errmsg, errlen, "out of memory");
			rc = ZSYSTEMERROR;
			goto out;
		}
		r.snap_zxid = 0;
		tree_set_last_zxid(sf.tree, 0);
		rc = write_snapshot_now(st, sf.tree, NULL, 0, errmsg, errlen);
		if (rc)
			goto out;
	} else {
		r.snap_zxid = snaps[i].zxid;
		/* Apache takes the last processed zxid from the file name. */
		tree_set_last_zxid(sf.tree, r.snap_zxid);
		if (cb && cb->session)
			for (int32_t k = 0; k < sf.nsessions; k++)
				cb->session(cb->ctx, sf.sessions[k].id, sf.sessions[k].timeout);
		log_info("loaded snapshot %s/%s: zxid 0x%" PRIx64 ", %d sessions", st->snap_dir,
			 snaps[i].name, (uint64_t)r.snap_zxid, sf.nsessions);
	}
	r.st = st;
	r.tree = sf.tree;
	r.cb = cb;
	r.applied = r.snap_zxid;
	r.has_snap_digest = sf.has_digest;
	r.snap_digest_zxid = sf.digest_zxid;
	r.snap_digest = sf.digest;
	compare_snap_digest(&r);
	rc = replay_logs(st, &r, errmsg, errlen);
	if (rc)
		goto out;
	if (r.nreplayed)
		log_info("replayed %" PRId64 " txns from the logs, last zxid 0x%" PRIx64,
			 r.nreplayed, (uint64_t)r.applied);
	/* Appends go to a new file, as in Apache after a restart. */
	if (st->f) {
		vfs_close(st->f);
		st->f = NULL;
	}
	st->last_zxid = st->durable_zxid = tree_last_zxid(sf.tree);
	*tree = sf.tree;
	sf.tree = NULL;
	rc = 0;
out:
	snapfile_release(&sf);
	dfiles_free(snaps, nsnaps);
	dfiles_free(logs, nlogs);
	return rc;
}

/* ---- truncation (Zab TRUNC) --------------------------------------------------------- */

struct cut_at {
	int64_t zxid;
	int64_t off;	/* offset of the first record above zxid, -1 if none */
};

static int find_cut(void *ctx, const struct zk_txn *txn, int64_t off)
{
	struct cut_at *c = ctx;

	if (txn->hdr.zxid <= c->zxid)
		return 0;
	c->off = off;
	return 1;	/* stop the scan here */
}

int storage_truncate(struct zk_storage *st, int64_t zxid, char *errmsg, size_t errlen)
{
	struct dfile *snaps = NULL, *logs = NULL;
	int nsnaps = 0, nlogs = 0, i, keep = -1, rc;
	char path[PATH_LEN];

	errmsg[0] = '\0';
	orphan_jobs(st, 1);
	buf_reset(&st->queue);
	st->queued_txns = 0;
	if (st->f) {
		vfs_close(st->f);
		st->f = NULL;
	}
	st->roll = 0;
	rc = list_files(st->vfs, st->snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc == 0)
		rc = list_files(st->vfs, st->log_dir, "log", &logs, &nlogs);
	if (rc) {
		snprintf(errmsg, errlen, "truncate: list %s: %s", nsnaps ? st->log_dir : st->snap_dir,
			 strerror(-rc));
		rc = ZSYSTEMERROR;
		goto out;
	}
	/* Snapshots first: a newer one left behind would bring the cut txns back at load. */
	for (i = nsnaps - 1; i >= 0 && snaps[i].zxid > zxid; i--) {
		path_join(path, st->snap_dir, snaps[i].name);
		log_info("truncate to 0x%" PRIx64 ": removing %s", (uint64_t)zxid, path);
		rc = vfs_unlink(st->vfs, path);
		if (rc)
			goto err_io;
	}
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid <= zxid)
			keep = i;
	for (i = nlogs - 1; i > keep; i--) {
		path_join(path, st->log_dir, logs[i].name);
		log_info("truncate to 0x%" PRIx64 ": removing %s", (uint64_t)zxid, path);
		rc = vfs_unlink(st->vfs, path);
		if (rc)
			goto err_io;
	}
	rc = vfs_sync_dir(st->vfs, st->snap_dir);
	if (rc == 0 && strcmp(st->snap_dir, st->log_dir))
		rc = vfs_sync_dir(st->vfs, st->log_dir);
	if (rc) {
		snprintf(path, sizeof(path), "%s", st->log_dir);
		goto err_io;
	}
	if (keep >= 0) {
		struct cut_at c = { zxid, -1 };
		struct txnlog_scan res;
		struct vfs_file *f;

		path_join(path, st->log_dir, logs[keep].name);
		rc = vfs_open(st->vfs, path, VFS_RDWR, &f);
		if (rc)
			goto err_io;
		rc = txnlog_scan(f, path, find_cut, &c, &res, errmsg, errlen);
		if (rc == 1 || rc == 0) {
			int64_t at = rc == 1 ? c.off : res.end;

			/* Cutting at the end of the last good record also drops a torn tail. */
			rc = 0;
			if (at < res.size) {
				log_info("truncate to 0x%" PRIx64 ": cutting %s at offset %" PRId64,
					 (uint64_t)zxid, path, at);
				rc = vfs_truncate(f, at);
				if (rc == 0)
					rc = vfs_sync(f, 0);
			}
			vfs_close(f);
			if (rc)
				goto err_io;
		} else {
			vfs_close(f);
			goto out;	/* errmsg set by the scan */
		}
	}
	if (st->last_zxid > zxid)
		st->last_zxid = zxid;
	if (st->durable_zxid > zxid)
		st->durable_zxid = zxid;
	rc = 0;
	goto out;

err_io:
	snprintf(errmsg, errlen, "truncate %s: %s", path, strerror(-rc));
	rc = ZSYSTEMERROR;
out:
	dfiles_free(snaps, nsnaps);
	dfiles_free(logs, nlogs);
	return rc;
}

/* ---- purge and sizes ---------------------------------------------------------------- */

/* Apache's SnapStream.isValidSnapshot: a cheap look at the file, not a full parse. */
static int snap_looks_valid(struct vfs *vfs, const char *path, const struct dfile *d)
{
	static const uint8_t tail[5] = { 0, 0, 0, 1, '/' };
	static const uint8_t snappy[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	struct vfs_file *f;
	uint8_t b[8];
	int64_t size;
	int ok = 0;

	if (vfs_open(vfs, path, VFS_RDONLY, &f))
		return 0;
	if (vfs_size(f, &size) == 0) {
		if (d->gz)
			ok = size >= 2 && vfs_pread(f, b, 2, 0) == 2 && b[0] == 0x1f && b[1] == 0x8b;
		else if (d->snappy)
			ok = size >= 8 && vfs_pread(f, b, 8, 0) == 8 && !memcmp(b, snappy, 8);
		else
			ok = size >= 10 && vfs_pread(f, b, 5, size - 5) == 5 && !memcmp(b, tail, 5);
	}
	vfs_close(f);
	return ok;
}

static int purge_file(struct vfs *vfs, const char *dir, const char *name, int *failed,
		      char *errmsg, size_t errlen)
{
	char path[PATH_LEN];
	int rc;

	path_join(path, dir, name);
	log_info("purge: removing %s", path);
	rc = vfs_unlink(vfs, path);
	if (rc && rc != -ENOENT && !*failed) {
		snprintf(errmsg, errlen, "remove %s: %s", path, strerror(-rc));
		*failed = 1;
	}
	return rc;
}

int storage_purge_vfs(struct vfs *vfs, const char *data_dir, const char *log_dir, int retain,
		      char *errmsg, size_t errlen)
{
	char snap_dir[PATH_LEN], ldir[PATH_LEN];
	struct dfile *snaps = NULL, *logs = NULL;
	int nsnaps = 0, nlogs = 0, i, picked = 0, failed = 0, rc;
	int64_t z = -1, keep_from = 0;

	if (retain < 3) {
		snprintf(errmsg, errlen, "snapRetainCount must be at least 3 (got %d)", retain);
		return ZBADARGUMENTS;
	}
	snprintf(snap_dir, sizeof(snap_dir), "%s/version-2", data_dir);
	snprintf(ldir, sizeof(ldir), "%s/version-2", log_dir && log_dir[0] ? log_dir : data_dir);
	rc = list_files(vfs, snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc == 0)
		rc = list_files(vfs, ldir, "log", &logs, &nlogs);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", nsnaps || !snaps ? snap_dir : ldir,
			 strerror(-rc));
		rc = ZSYSTEMERROR;
		goto out;
	}
	/* The oldest of the newest `retain` valid snapshots sets the line. */
	for (i = nsnaps - 1; i >= 0 && picked < retain; i--) {
		char path[PATH_LEN];

		path_join(path, snap_dir, snaps[i].name);
		if (snap_looks_valid(vfs, path, &snaps[i])) {
			z = snaps[i].zxid;
			picked++;
		}
	}
	rc = 0;
	if (z < 0)
		goto out;	/* no valid snapshot: touch nothing */
	/* Keep the log holding z + the ones after it (Apache's getSnapshotLogs(z)). */
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid <= z)
			keep_from = logs[i].zxid;
	for (i = 0; i < nsnaps; i++)
		if (snaps[i].zxid < z)
			purge_file(vfs, snap_dir, snaps[i].name, &failed, errmsg, errlen);
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid < z && logs[i].zxid < keep_from)
			purge_file(vfs, ldir, logs[i].name, &failed, errmsg, errlen);
	vfs_sync_dir(vfs, snap_dir);
	if (strcmp(snap_dir, ldir))
		vfs_sync_dir(vfs, ldir);
	rc = failed ? ZSYSTEMERROR : 0;
out:
	dfiles_free(snaps, nsnaps);
	dfiles_free(logs, nlogs);
	return rc;
}

int storage_purge(const char *data_dir, const char *log_dir, int retain,
		  char *errmsg, size_t errlen)
{
	return storage_purge_vfs(vfs_posix(), data_dir, log_dir, retain, errmsg, errlen);
}

int64_t storage_dir_size(const char *dir)
{
	char v2[PATH_LEN];

	snprintf(v2, sizeof(v2), "%s/version-2", dir);
	return vfs_dir_bytes(vfs_posix(), v2);
}
