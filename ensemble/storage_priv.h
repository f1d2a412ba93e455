/*
 * storage_priv.h: what storage.c shares with storage_load.c (recovery at start) and
 * storage_purge.c (purge and directory sizes): the definition of struct zk_storage and
 * the helpers that list and name the files of a version-2 directory. Private to those
 * three files; tests use storage_i.h.
 */
#ifndef ZK_STORAGE_PRIV_H
#define ZK_STORAGE_PRIV_H

#include "storage_i.h"

#include <stdatomic.h>
#include <time.h>

#define PATH_LEN 4096
/* Room left in a path for "/snapshot.<16 hex digits>.tmp" and the like. */
#define DIR_LEN (PATH_LEN - 64)

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
	uv_async_t *progress;		/* the log writer made a batch durable */
	storage_durable_fn on_durable;
	void *ctx;

	char snap_dir[DIR_LEN];		/* <dataDir>/version-2 */
	char log_dir[DIR_LEN];		/* <dataLogDir>/version-2 */
	int32_t snap_count;
	int64_t snap_size_bytes;
	int64_t prealloc;
	int force_sync;
	uint64_t rng;

	/*
	 * The open log file (NULL: the next batch creates log.<its first zxid>). While a log
	 * job runs (writing != NULL) these belong to the worker, otherwise to the loop
	 * thread (storage_log.c).
	 */
	struct vfs_file *f;
	char log_path[PATH_LEN];
	int64_t durable_off;		/* end of the last durable record */
	int64_t alloc;			/* file size after preallocation */
	int64_t zeroed;			/* [0, zeroed) has real blocks (ZERO_STEP) */

	/* Loop thread: encoded entries not yet handed to the writer. */
	struct buf queue;
	int64_t queued_txns;
	int64_t queued_first_zxid, queued_last_zxid;
	int64_t last_zxid;		/* highest zxid accepted (queued or written) */
	int64_t durable_zxid;		/* highest reported durable (or loaded) */
	int roll;			/* the next hand-over starts a new file */
	int broken;			/* a failed batch could not be cut off */
	struct log_job *job;		/* the log writer's job, reused */
	struct log_job *writing;	/* == job while it is out with the executor */
	struct snap_job *snapping;

	/* Shared between the loop and the writer, under mu. */
	uv_mutex_t mu;
	int mu_ok;
	struct buf pend;		/* handed over, not yet taken by the writer */
	int64_t pend_txns, pend_first, pend_last;
	int pend_roll;			/* pend starts a new file */
	int64_t w_zxid;			/* the writer's highest durable zxid */
	int64_t w_fsyncs, w_txns;
	double w_sync_us;
	int w_failed;			/* the writer stopped on a failed batch */
	_Atomic int64_t log_flush_ns;	/* when the writer's last fdatasync ended (paces
					 * snapshots); no lock */
	int w_dropped_roll;		/* ...and dropped a pend that started a new file */

	/* Snapshot trigger (Apache's SyncRequestProcessor). */
	int64_t log_count, log_bytes;
	int64_t rand_roll, rand_size;

	/* Copies of the writer's results, for the loop thread. */
	int64_t stat_fsyncs, stat_txns;
	int64_t stat_snap_paced_ns;	/* snapshots giving way to the log (storage.c) */
	double sync_us;			/* moving average of a batch's write + fdatasync */

	int in_callback;
	int closed;
};

struct dfile {
	int64_t zxid;
	char *name;
	int gz;		/* snapshot.<zxid>.gz */
	int snappy;	/* snapshot.<zxid>.snappy */
};

/* The files of dir named <prefix>.<hex>, sorted by zxid ascending. 0 or -errno. */
int storage_list_files(struct vfs *vfs, const char *dir, const char *prefix,
		       struct dfile **out, int *nout);
void storage_dfiles_free(struct dfile *v, int n);
static inline int64_t storage_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* storage_log.c: the txn log writer. */
int storage_log_init(struct zk_storage *st);
void storage_log_free(struct zk_storage *st);
void storage_log_stop(struct zk_storage *st, int wait);
void storage_log_drop(struct zk_storage *st);
void storage_log_write_rest(struct zk_storage *st);
void storage_free(struct zk_storage *st);

/* dir + "/" + name into out[PATH_LEN]; directories are checked at open to leave room. */
void storage_path_join(char *out, const char *dir, const char *name);

#endif
