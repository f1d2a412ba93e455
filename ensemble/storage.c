/*
 * storage.c: the txn log (group commit), snapshots and truncation, on top of
 * txnlog.c (log file format), snapfile.c (snapshot format) and vfs.h (all file I/O).
 * Recovery at start is in storage_load.c, purge and sizes in storage_purge.c; the three
 * share struct zk_storage and the file listing helpers through storage_priv.h.
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
 *   (a lone txn on a fast disk skips the worker: log_work and log_done on the loop, see
 *   INLINE_SYNC_US)
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
#include "storage_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "snapfile.h"
#include "txnlog.h"

/*
 * Apache preallocates by writing one byte at the new end, so the file is sparse and every
 * fdatasync that lands in a hole also has to write the block allocation: measured on this
 * machine's ext4, 167-205 us per small write+fdatasync into a hole against 122 us into
 * blocks already written. So a batch that gets within ZERO_LOW of the written blocks also
 * writes the next ZERO_STEP of zeros past its end (once per ~5,000 txns); the file's
 * contents and size stay exactly Apache's.
 */
#define ZERO_STEP (1 << 20)
/*
 * A lone txn (one client writing, nothing in flight) is written and synced on the loop
 * thread when the disk is fast: the two thread hand-offs of the worker path cost ~70 us
 * here (34 us each way under load), more than half a fast fdatasync, and the lean 1-client
 * bench gains 20-40%. A slow disk (average above INLINE_SYNC_US) would stall every other
 * client for each lone write, so there the worker keeps doing it; batches of more than one
 * txn (load) always go to the worker.
 */
#define INLINE_SYNC_US 300.0
#define ZERO_LOW (256 << 10)

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

void storage_dfiles_free(struct dfile *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The files of dir named <prefix>.<hex>, sorted by zxid ascending. 0 or -errno. */
int storage_list_files(struct vfs *vfs, const char *dir, const char *prefix,
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
void storage_path_join(char *out, const char *dir, const char *name)
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
	double sync_us;			/* time of the write and fdatasync */
	/* The big strings last: a batch zeroes only the fields above (one per fsync). */
	char path[PATH_LEN];
	char dir[PATH_LEN];
	char errmsg[PATH_LEN + 128];
};

/*
 * Only an optimisation, over a range that reads as zeros anyway: a failure (a full disk)
 * leaves the range as it was and the next batch tries again.
 */
static double mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

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
	double t0;

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
	t0 = mono_us();
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
		j->sync_us = mono_us() - t0;
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
	if (j->sync_us > 0)
		st->sync_us = st->sync_us > 0 ? 0.9 * st->sync_us + 0.1 * j->sync_us : j->sync_us;
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
	if (st->loop && j->ntxns == 1 && j->f && j->force_sync && st->sync_us > 0 &&
	    st->sync_us < INLINE_SYNC_US) {
		log_work(&j->base);
		j->base.work_ran = 1;
		log_done(&j->base);	/* st may be gone after it */
		return;
	}
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
	rc = storage_list_files(st->vfs, st->log_dir, "snapshot", &v, &n);
	if (rc == 0) {
		storage_dfiles_free(v, n);
		if (n > 0) {
			snprintf(errmsg, errlen, "log directory %s has snapshot files: check that "
				 "dataLogDir and dataDir are set correctly", st->log_dir);
			return ZBADARGUMENTS;
		}
	}
	rc = storage_list_files(st->vfs, st->snap_dir, "log", &v, &n);
	if (rc == 0) {
		storage_dfiles_free(v, n);
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
	rc = storage_list_files(st->vfs, st->snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc == 0)
		rc = storage_list_files(st->vfs, st->log_dir, "log", &logs, &nlogs);
	if (rc) {
		snprintf(errmsg, errlen, "truncate: list %s: %s", nsnaps ? st->log_dir : st->snap_dir,
			 strerror(-rc));
		rc = ZSYSTEMERROR;
		goto out;
	}
	/* Snapshots first: a newer one left behind would bring the cut txns back at load. */
	for (i = nsnaps - 1; i >= 0 && snaps[i].zxid > zxid; i--) {
		storage_path_join(path, st->snap_dir, snaps[i].name);
		log_info("truncate to 0x%" PRIx64 ": removing %s", (uint64_t)zxid, path);
		rc = vfs_unlink(st->vfs, path);
		if (rc)
			goto err_io;
	}
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid <= zxid)
			keep = i;
	for (i = nlogs - 1; i > keep; i--) {
		storage_path_join(path, st->log_dir, logs[i].name);
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

		storage_path_join(path, st->log_dir, logs[keep].name);
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
	storage_dfiles_free(snaps, nsnaps);
	storage_dfiles_free(logs, nlogs);
	return rc;
}
