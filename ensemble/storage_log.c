/*
 * storage_log.c: the txn log writer (group commit).
 *
 *   storage_append()  loop thread: encodes the entry into st->queue
 *   storage_flush()   loop thread, from the check handle at the end of every loop
 *                     iteration: moves st->queue to st->pend (under st->mu) and, if no
 *                     log job runs, submits one
 *   log_work()        worker: takes *everything* in st->pend, writes it ([create
 *                     log.<zxid> + header], extend the preallocation, one pwrite, [zeros
 *                     ahead: ZERO_STEP], fdatasync, [fsync the directory of a new file]),
 *                     publishes the durable zxid and wakes the loop (st->progress); then
 *                     takes st->pend again, until it finds it empty
 *   progress_cb() /   loop thread: on_durable(zxid, 0) for what the writer made durable
 *   log_done()
 *
 * Why the worker keeps going instead of returning after each batch: under load the loop
 * fills st->pend while an fdatasync runs, and the next write should start the moment the
 * fdatasync returns. Going through the loop between batches cost two thread hand-offs
 * (34 us each under load, measured) per fdatasync of ~250 us; now the replies to one batch
 * go out while the next one is being synced.
 *
 * Ownership: while a log job runs (st->writing), the worker owns the file state (st->f,
 * log_path, durable_off, alloc, zeroed); otherwise the loop does. st->pend and the w_*
 * results are shared, under st->mu. Everything else is the loop's.
 *
 * A failed batch stops the writer: it cuts the file back, drops st->pend (those txns
 * follow the lost ones) and sets w_failed, which makes storage_flush() drop pushes too,
 * until log_done() has reported the failure (on_durable(last durable zxid, ZSYSTEMERROR)).
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
#define ZERO_LOW (256 << 10)
/*
 * A lone txn (one client writing, nothing in flight) is written and synced on the loop
 * thread when the disk is fast: the two thread hand-offs of the worker path cost ~70 us
 * here (34 us each way under load), more than half a fast fdatasync, and the lean 1-client
 * bench gains 20-40%. A slow disk (average above INLINE_SYNC_US) would stall every other
 * client for each lone write, so there the worker keeps doing it; batches of more than one
 * txn (load) always go to the worker.
 */
#define INLINE_SYNC_US 300.0

struct log_job {
	struct storage_job base;
	struct zk_storage *st;		/* NULL once orphaned by storage_close/abandon */
	/* The batch being written (reset for each one). */
	struct vfs_file *f;		/* NULL: create path */
	int roll;			/* start a new file with this batch */
	int64_t off;			/* where data goes */
	int64_t size_before;		/* file size known before the batch */
	int64_t size_after;		/* preallocated size needed */
	int64_t zero_from, zero_to;	/* zeros to write past the data (may be empty) */
	int64_t ntxns, first_zxid, last_zxid;
	int rc;				/* 0 or -errno */
	int cut_ok;			/* after a failure: the file is back at `off` */
	int64_t fsyncs;
	double sync_us;			/* time of the write and fdatasync */
	struct buf data;		/* swapped with st->pend: buffers circulate */
	struct buf hdr;			/* a new file: header + data */
	char path[PATH_LEN];
	char errmsg[PATH_LEN + 128];
};

/* ---- the worker side ---------------------------------------------------------------- */

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

/* Under st->mu: forgets what was handed over and not taken. */
static void pend_drop(struct zk_storage *st)
{
	buf_reset(&st->pend);
	st->pend_txns = 0;
	st->pend_roll = 0;
}

/* Under st->mu: moves all of st->pend into the job. 0 if there is nothing to write. */
static int batch_take(struct zk_storage *st, struct log_job *j)
{
	struct buf t;

	if (st->w_failed || st->pend.len == 0)
		return 0;
	buf_reset(&j->data);
	t = j->data;
	j->data = st->pend;
	st->pend = t;
	j->ntxns = st->pend_txns;
	j->first_zxid = st->pend_first;
	j->last_zxid = st->pend_last;
	j->roll = st->pend_roll;
	pend_drop(st);		/* st->pend now holds the job's old (empty) buffer */
	return 1;
}

/* Where the batch goes and how far the file grows; the worker owns the file state. */
static int batch_layout(struct zk_storage *st, struct log_job *j)
{
	int64_t pos, size;
	size_t i;

	j->f = NULL;
	j->size_before = j->size_after = 0;
	j->zero_from = j->zero_to = 0;
	j->rc = 0;
	j->cut_ok = 0;
	j->fsyncs = 0;
	j->sync_us = 0;
	j->path[0] = j->errmsg[0] = '\0';
	if (st->f && j->roll) {
		/* Every batch of the old file is durable: nothing else uses it. */
		vfs_close(st->f);
		st->f = NULL;
	}
	if (!st->f) {
		snprintf(j->path, sizeof(j->path), "%s/log.%" PRIx64, st->log_dir,
			 (uint64_t)j->first_zxid);
		buf_reset(&j->hdr);
		txnlog_put_header(&j->hdr);
		buf_put(&j->hdr, j->data.p, j->data.len);
		if (j->hdr.oom) {
			j->hdr.oom = 0;
			j->rc = -ENOMEM;
			snprintf(j->errmsg, sizeof(j->errmsg), "out of memory for a batch of %s",
				 j->path);
			j->cut_ok = 1;
			return -1;
		}
		/* Apache pads right after writing the header. */
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
	for (i = 0; i < j->data.len;) {
		int64_t rec = TXNLOG_REC_OVERHEAD + be32_get(j->data.p + i + 8);

		size = txnlog_padded_size(pos, size, st->prealloc);
		pos += rec;
		i += (size_t)rec;
	}
	j->size_after = size;
	if (st->prealloc > 0 && st->force_sync) {
		int64_t from = j->f ? st->zeroed : 0;	/* NULL: a new file */

		if (from < pos)
			from = pos;
		if (pos + ZERO_LOW > from && from < size) {
			j->zero_from = from;
			j->zero_to = from + ZERO_STEP < size ? from + ZERO_STEP : size;
		}
	}
	if (!j->f) {
		struct buf t = j->data;

		j->data = j->hdr;
		j->hdr = t;
		j->off = 0;
	}
	return 0;
}

static void batch_write(struct zk_storage *st, struct log_job *j)
{
	int64_t end = j->off + (int64_t)j->data.len;
	const char *step;
	int created = 0;
	int64_t t0, now;

	if (!j->f) {
		step = "create";
		j->rc = vfs_open(st->vfs, j->path, VFS_RDWR | VFS_CREAT | VFS_EXCL, &j->f);
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
	t0 = storage_now_ns();
	j->rc = vfs_pwrite(j->f, j->data.p, j->data.len, j->off);
	if (j->rc)
		goto fail;
	if (j->zero_to > j->zero_from)
		write_zeros(j);
	if (st->force_sync) {
		step = "fsync";
		j->rc = vfs_sync(j->f, 1);
		j->fsyncs++;
		if (j->rc)
			goto fail;
		now = storage_now_ns();
		j->sync_us = (double)(now - t0) / 1000.0;
		atomic_store(&st->log_flush_ns, now);
		if (created) {
			/* The new file's name must survive a crash too. */
			step = "fsync directory of";
			j->rc = vfs_sync_dir(st->vfs, st->log_dir);
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
		j->cut_ok = vfs_unlink(st->vfs, j->path) == 0;
		if (j->cut_ok && st->force_sync)
			vfs_sync_dir(st->vfs, st->log_dir);
		return;
	}
	/* Cut the partial batch off, so no half record is left behind. */
	j->cut_ok = vfs_truncate(j->f, j->off) == 0 &&
		    (!st->force_sync || vfs_sync(j->f, 1) == 0);
}

/* After the write: the file state, then the shared results. 0, or -1 if the batch failed. */
static int batch_apply(struct zk_storage *st, struct log_job *j)
{
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
		j->f = NULL;
		uv_mutex_lock(&st->mu);
		st->w_zxid = j->last_zxid;
		st->w_txns += j->ntxns;
		st->w_fsyncs += j->fsyncs;
		if (j->sync_us > 0)
			st->w_sync_us = st->w_sync_us > 0 ?
				0.9 * st->w_sync_us + 0.1 * j->sync_us : j->sync_us;
		uv_mutex_unlock(&st->mu);
		return 0;
	}
	if (j->f && j->f == st->f) {
		st->alloc = j->off;
	} else if (j->f) {
		vfs_close(j->f);
	}
	j->f = NULL;
	uv_mutex_lock(&st->mu);
	st->w_fsyncs += j->fsyncs;
	st->w_failed = 1;
	/* Whatever came in behind the failed batch follows the lost zxids: it goes too. */
	st->w_dropped_roll = st->pend_roll;
	pend_drop(st);
	uv_mutex_unlock(&st->mu);
	return -1;
}

static void log_work(struct storage_job *base)
{
	struct log_job *j = (struct log_job *)base;
	struct zk_storage *st = j->st;
	int more;

	if (!st)
		return;		/* orphaned before it ran: the process "died" (abandon) */
	for (;;) {
		uv_mutex_lock(&st->mu);
		more = batch_take(st, j);
		uv_mutex_unlock(&st->mu);
		if (!more)
			return;
		if (batch_layout(st, j) == 0)
			batch_write(st, j);
		more = batch_apply(st, j) == 0;
		if (st->progress)
			uv_async_send(st->progress);
		if (!more)
			return;
	}
}

/* ---- the loop side ------------------------------------------------------------------ */

static void log_job_free(struct log_job *j)
{
	if (j->f && !j->st)
		vfs_close(j->f);	/* orphaned: nobody else will close it */
	buf_release(&j->data);
	buf_release(&j->hdr);
	free(j);
}

/* Copies the writer's results; returns the highest durable zxid it reached, which also
 * raises st->durable_zxid only if called with failed != NULL (progress_cb reports its own). */
static int64_t take_results(struct zk_storage *st, int *failed)
{
	int64_t z;

	uv_mutex_lock(&st->mu);
	z = st->w_zxid;
	st->stat_fsyncs = st->w_fsyncs;
	st->stat_txns = st->w_txns;
	st->sync_us = st->w_sync_us;
	if (failed)
		*failed = st->w_failed;
	uv_mutex_unlock(&st->mu);
	if (failed && z > st->durable_zxid)
		st->durable_zxid = z;
	return z;
}

/* Calls on_durable; returns 1 if st was freed inside it (storage_close from the callback). */
static int report(struct zk_storage *st, int64_t zxid, int status)
{
	st->in_callback++;
	st->on_durable(st->ctx, zxid, status);
	st->in_callback--;
	if (st->closed) {
		if (!st->in_callback && !st->writing)
			storage_free(st);
		return 1;
	}
	return 0;
}

static void progress_cb(uv_async_t *h)
{
	struct zk_storage *st = h->data;
	int64_t z;

	if (!st || st->closed || st->in_callback)
		return;
	z = take_results(st, NULL);
	if (z > st->durable_zxid) {
		st->durable_zxid = z;
		report(st, z, 0);
	}
}

/* The failed batch's report: logs, and puts the loop's state back at the durable zxid. */
static void fail_batch(struct zk_storage *st, struct log_job *j)
{
	int dropped_roll;

	log_error("txn log: %s; txns 0x%" PRIx64 "..0x%" PRIx64 " are not durable",
		  j->errmsg, (uint64_t)j->first_zxid, (uint64_t)j->last_zxid);
	if (!j->cut_ok) {
		log_error("txn log %s could not be cut back to offset %" PRId64 " after the "
			  "failure; refusing further appends (restart the server)",
			  j->path, j->off);
		st->broken = 1;
	}
	uv_mutex_lock(&st->mu);
	dropped_roll = st->w_dropped_roll || j->roll;
	st->w_failed = 0;
	st->w_dropped_roll = 0;
	pend_drop(st);
	uv_mutex_unlock(&st->mu);
	/* A roll that was dropped with its batch still applies; a new file needs none. */
	st->roll = (st->roll || dropped_roll) && st->f;
	buf_reset(&st->queue);
	st->queued_txns = 0;
	st->last_zxid = st->durable_zxid;
}

/* Executor: the job found nothing more to write, or stopped on a failure. */
static void log_done(struct storage_job *base)
{
	struct log_job *j = (struct log_job *)base;
	struct zk_storage *st = j->st;
	int failed;

	if (!st) {
		log_job_free(j);
		return;
	}
	st->writing = NULL;
	if (st->closed) {
		/* Abandoned while the job was out; the job is st->job and goes with st. */
		if (!st->in_callback)
			storage_free(st);
		return;
	}
	take_results(st, &failed);
	if (failed) {
		fail_batch(st, j);
		if (report(st, st->durable_zxid, ZSYSTEMERROR))
			return;
	} else {
		/* Start the next batch before the replies: applying and answering this one takes
		 * the loop longer than an fsync, and the disk would sit idle meanwhile. */
		storage_flush(st);
		if (report(st, st->durable_zxid, 0))
			return;
	}
	storage_flush(st);
}

static struct log_job *get_job(struct zk_storage *st)
{
	if (!st->job) {
		st->job = calloc(1, sizeof(*st->job));
		if (!st->job)
			return NULL;
		st->job->base.work = log_work;
		st->job->base.done = log_done;
		st->job->st = st;
	}
	return st->job;
}

/* Loop thread: the queue goes to the writer. */
static void push_queue(struct zk_storage *st)
{
	uv_mutex_lock(&st->mu);
	if (st->w_failed) {
		/* These follow zxids that are lost: log_done() reports and resets. */
		buf_reset(&st->queue);
		st->queued_txns = 0;
	} else if (st->pend.len == 0) {
		struct buf t = st->pend;

		st->pend = st->queue;
		st->queue = t;
		st->pend_txns = st->queued_txns;
		st->pend_first = st->queued_first_zxid;
		st->pend_last = st->queued_last_zxid;
		st->pend_roll = st->roll;
		st->roll = 0;
		st->queued_txns = 0;
	} else if (!st->roll) {
		buf_put(&st->pend, st->queue.p, st->queue.len);
		if (!st->pend.oom) {
			st->pend_txns += st->queued_txns;
			st->pend_last = st->queued_last_zxid;
			buf_reset(&st->queue);
			st->queued_txns = 0;
		}
		st->pend.oom = 0;	/* the queue stays and tries again next time */
	}
	/* else: a roll waits until the writer has taken what belongs to the old file. */
	uv_mutex_unlock(&st->mu);
}

void storage_flush(struct zk_storage *st)
{
	int lone;

	if (st->closed || st->broken)
		return;
	lone = st->queued_txns == 1;
	if (st->queue.len)
		push_queue(st);
	if (st->writing)
		return;
	uv_mutex_lock(&st->mu);
	if (st->pend.len == 0 || st->w_failed) {
		uv_mutex_unlock(&st->mu);
		return;
	}
	lone = lone && st->pend_txns == 1;
	uv_mutex_unlock(&st->mu);
	if (!get_job(st))
		return;		/* out of memory: the next flush tries again */
	st->writing = st->job;
	st->job->base.work_ran = 0;
	if ((st->loop && lone && st->f && st->force_sync && st->sync_us > 0 &&
	     st->sync_us < INLINE_SYNC_US) ||
	    st->exec->submit(st->exec, &st->job->base)) {
		/* A lone txn on a fast disk, or the executor failed (uv_queue_work only fails
		 * on bad arguments: rather than lose the batch, write it here). st may be gone
		 * after log_done(): touch nothing after it. */
		log_work(&st->job->base);
		st->job->base.work_ran = 1;
		log_done(&st->job->base);
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

/* ---- set-up and tear-down (storage.c) ---------------------------------------------- */

static void handle_closed_cb(uv_handle_t *h)
{
	free(h);
}

int storage_log_init(struct zk_storage *st)
{
	if (uv_mutex_init(&st->mu))
		return -1;
	st->mu_ok = 1;
	st->w_zxid = -1;
	if (!st->loop)
		return 0;
	st->check = calloc(1, sizeof(*st->check));
	if (!st->check || uv_check_init(st->loop, st->check) ||
	    uv_check_start(st->check, check_cb)) {
		free(st->check);
		st->check = NULL;
		return -1;
	}
	st->check->data = st;
	/* Batching must not keep the loop alive on its own. */
	uv_unref((uv_handle_t *)st->check);
	st->progress = calloc(1, sizeof(*st->progress));
	if (!st->progress || uv_async_init(st->loop, st->progress, progress_cb)) {
		free(st->progress);
		st->progress = NULL;
		return -1;
	}
	st->progress->data = st;
	uv_unref((uv_handle_t *)st->progress);
	st->kick = calloc(1, sizeof(*st->kick));
	if (!st->kick || uv_idle_init(st->loop, st->kick)) {
		free(st->kick);
		st->kick = NULL;	/* appends from timers then wait for the next event */
	} else {
		uv_unref((uv_handle_t *)st->kick);
	}
	return 0;
}

void storage_log_free(struct zk_storage *st)
{
	if (st->kick) {
		uv_close((uv_handle_t *)st->kick, handle_closed_cb);
		st->kick = NULL;
	}
	if (st->check) {
		st->check->data = NULL;
		uv_close((uv_handle_t *)st->check, handle_closed_cb);
		st->check = NULL;
	}
	if (st->progress) {
		st->progress->data = NULL;
		uv_close((uv_handle_t *)st->progress, handle_closed_cb);
		st->progress = NULL;
	}
	if (st->f)
		vfs_close(st->f);
	st->f = NULL;
	/* An outstanding job was orphaned (it frees itself); otherwise it is ours. */
	if (st->job && !st->writing)
		log_job_free(st->job);
	st->job = NULL;
	buf_release(&st->queue);
	buf_release(&st->pend);
	if (st->mu_ok)
		uv_mutex_destroy(&st->mu);
	st->mu_ok = 0;
}

/*
 * Stops the writer. wait: let a running job finish and take over its results (no
 * callbacks); otherwise (the process "died") the job is left to free itself. Either way
 * the job is orphaned: its done() only frees it.
 */
void storage_log_stop(struct zk_storage *st, int wait)
{
	struct log_job *j = st->writing;
	int failed;

	if (!j)
		return;
	if (wait) {
		st->exec->wait(st->exec, &j->base);
		take_results(st, &failed);
		if (failed)
			fail_batch(st, j);
	} else if (j->f == st->f) {
		j->f = NULL;	/* storage closes it */
	}
	j->st = NULL;
	st->writing = NULL;
	st->job = NULL;
}

/* Drops what is queued and not yet written (storage_truncate). Writer stopped. */
void storage_log_drop(struct zk_storage *st)
{
	buf_reset(&st->queue);
	st->queued_txns = 0;
	uv_mutex_lock(&st->mu);
	pend_drop(st);
	st->w_zxid = -1;	/* the truncation may lower durable_zxid: don't raise it back */
	uv_mutex_unlock(&st->mu);
	st->roll = 0;
	if (st->f) {
		vfs_close(st->f);
		st->f = NULL;
	}
}

/* Runs the writer on this thread until st->pend is empty, without callbacks. */
static void write_here(struct zk_storage *st)
{
	struct log_job *j = get_job(st);
	int failed;

	if (!j) {
		log_error("txn log: out of memory writing the queue at close");
		return;
	}
	log_work(&j->base);
	take_results(st, &failed);
	if (failed)
		fail_batch(st, j);
}

/* Writes whatever is queued on this thread (storage_close). Writer stopped. */
void storage_log_write_rest(struct zk_storage *st)
{
	if (st->broken) {
		if (st->queued_txns)
			log_error("txn log: dropping %" PRId64 " queued txns at close: the log is "
				  "unusable", st->queued_txns);
		return;
	}
	if (st->queue.len)
		push_queue(st);
	if (st->roll && st->queue.len) {
		/* A roll waited for the writer: write the old file's part first. */
		write_here(st);
		push_queue(st);
	}
	write_here(st);
}
