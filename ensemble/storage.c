/*
 * storage.c: opening and closing storage, snapshots and truncation, on top of txnlog.c
 * (log file format), snapfile.c (snapshot format) and vfs.h (all file I/O). The txn log
 * writer (appends, group commit) is in storage_log.c, recovery at start in
 * storage_load.c, purge and sizes in storage_purge.c; they share struct zk_storage and
 * the file listing helpers through storage_priv.h.
 *
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

/* ---- snapshots ---------------------------------------------------------------------- */

/*
 * While the txn log is busy, a snapshot is written at no more than SNAP_BUSY_BPS. Every
 * log fdatasync flushes the disk's write cache, with whatever snapshot data sits in it: on
 * this machine a bulk O_DIRECT writer at full speed (390 MB/s) took a 2 KiB
 * write+fdatasync from 89 us to 40 ms, and at a million znodes (a 300 MB snapshot every
 * two seconds under 32 writers) creates/s fell from 48k to 35k. At 32 MiB/s (a tenth of
 * this disk) the log keeps its pace. A busy server with a big tree then writes fewer
 * snapshots: one that comes due while the last is still being written is skipped, as
 * Apache does ("too busy to snapshot"), and recovery replays a longer log (536k txns in
 * 0.83 s, measured). With the log idle for LOG_BUSY_NS, a snapshot goes at full speed.
 */
#define SNAP_BUSY_BPS ((int64_t)32 << 20)
#define LOG_BUSY_NS ((int64_t)20 * 1000 * 1000)
/* The first SNAP_BURST bytes go unpaced: a small snapshot costs the disk a few ms once, and
 * pacing it would only make the next one due find it still running (and skip). */
#define SNAP_BURST ((size_t)4 << 20)

struct snap_job {
	struct storage_job base;
	struct zk_storage *st;
	struct vfs *vfs;
	/* st->log_flush_ns: st outlives a running snapshot job (close waits for it). */
	const _Atomic int64_t *log_flush_ns;
	int64_t next_ns;		/* pacing: the earliest time for the next piece */
	size_t written;			/* bytes handed to the pacer so far */
	int64_t paced_ns;		/* time spent giving way to the log */
	char dir[PATH_LEN];
	char name[64], tmpname[80];
	struct buf data;		/* the body; the worker seals it */
	int64_t digest_zxid, digest;
	int rc;
	char errmsg[PATH_LEN + 128];
};

static void snap_pace(void *ctx, size_t piece)
{
	struct snap_job *j = ctx;
	int64_t now = storage_now_ns();

	j->written += piece;
	if (j->written <= SNAP_BURST || now - atomic_load(j->log_flush_ns) > LOG_BUSY_NS) {
		j->next_ns = now;
		return;
	}
	if (j->next_ns > now) {
		struct timespec ts = { (time_t)((j->next_ns - now) / 1000000000),
				       (long)((j->next_ns - now) % 1000000000) };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		j->paced_ns += j->next_ns - now;
		now = j->next_ns;
	}
	j->next_ns = now + (int64_t)piece * 1000000000 / SNAP_BUSY_BPS;
}

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
	j->next_ns = storage_now_ns();
	j->rc = vfs_write_atomic(j->vfs, j->dir, j->tmpname, j->name, j->data.p, j->data.len,
				 &(struct vfs_pace){ snap_pace, j }, j->errmsg, sizeof(j->errmsg));
}

static void snap_report(struct snap_job *j)
{
	if (j->rc)
		log_error("snapshot %s/%s failed: %s", j->dir, j->name, j->errmsg);
	else if (j->paced_ns >= 1000000)
		log_info("snapshot %s/%s written (%zu bytes; %" PRId64 " ms giving way to the "
			 "txn log)", j->dir, j->name, j->data.len, j->paced_ns / 1000000);
	else
		log_info("snapshot %s/%s written (%zu bytes)", j->dir, j->name, j->data.len);
}

static void snap_done(struct storage_job *base)
{
	struct snap_job *j = (struct snap_job *)base;

	if (j->st) {
		j->st->snapping = NULL;
		j->st->stat_snap_paced_ns += j->paced_ns;
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
	j->log_flush_ns = &st->log_flush_ns;
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
	if (storage_log_init(st)) {
		snprintf(errmsg, errlen, "cannot start the txn log writer");
		rc = ZSYSTEMERROR;
		goto err;
	}
	*out = st;
	return 0;
err:
	storage_log_free(st);
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

void storage_free(struct zk_storage *st)
{
	storage_log_free(st);
	if (st->own_exec && st->exec->free)
		st->exec->free(st->exec);
	free(st);
}

/* Detaches in-flight jobs so their done() only frees them. */
static void orphan_jobs(struct zk_storage *st, int wait)
{
	storage_log_stop(st, wait);
	if (st->snapping) {
		struct snap_job *j = st->snapping;

		if (wait) {
			st->exec->wait(st->exec, &j->base);
			st->stat_snap_paced_ns += j->paced_ns;
			snap_report(j);
		}
		j->st = NULL;
		st->snapping = NULL;
	}
}

void storage_close(struct zk_storage *st)
{
	if (!st || st->closed)
		return;
	orphan_jobs(st, 1);
	/* Whatever is still queued is written here, on this thread. */
	storage_log_write_rest(st);
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

int64_t storage_snap_paced_ms(const struct zk_storage *st)
{
	return st->stat_snap_paced_ns / 1000000;
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
	storage_log_drop(st);
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
