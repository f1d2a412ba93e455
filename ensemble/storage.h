/*
 * storage: the durable txn log and snapshots, in Apache ZooKeeper 3.8's on-disk formats
 * (../shared/spec/server-formats.md), with group commit and recovery.
 *
 * Happy path: the loop thread calls storage_append() for each txn as it is prepared;
 * at the end of each loop iteration what was appended goes to the log writer, which
 * writes and fsyncs on a worker (libuv threadpool) and, while an fsync is in flight,
 * collects everything handed over meanwhile into its next batch. When a batch is durable
 * the on_durable callback runs on the loop thread with the highest durable zxid. Nothing
 * is acknowledged to anyone before that callback.
 *
 * Threading: every function here and every callback runs on the loop thread; only the
 * log writer and the writing of a snapshot file run on the libuv threadpool. on_durable
 * never runs inside storage_append()/storage_flush-like calls. Snapshot files are written
 * at a limited rate while the log is busy (storage.c, SNAP_BUSY_BPS).
 *
 * Failure modes:
 *  - write/fsync error (ENOSPC, EIO): on_durable gets status < 0 (ZSYSTEMERROR) and the
 *    zxid of the last txn that *is* durable; the failed batch is cut off the file
 *    (truncate to the last durable offset) so no half record is left. Everything queued
 *    behind the failed batch is dropped too: after the callback, storage expects the
 *    next append to carry any zxid above durable_zxid (the server reissues them). Later
 *    appends retry. If even the cut-off fails, every later append fails (restart).
 *  - Recovery: a torn tail (partial record, or zeros/garbage after the last good record
 *    with nothing valid after it) is truncated with a warning; a record that fails its
 *    checksum but is followed by valid records is corruption: storage_load() fails with
 *    the file, offset and zxid in errmsg. A snapshot that fails its checksum is skipped
 *    for the previous one, with a warning.
 *
 * storage knows nothing of sessions or connections: sessions come and go as (id, timeout)
 * pairs.
 */
#ifndef ZK_STORAGE_H
#define ZK_STORAGE_H

#include <stdint.h>
#include <uv.h>
#include "txn.h"
#include "datatree.h"

/* Values as Apache reads them (fill from struct zk_config); a zeroed struct means
 * forceSync=no and no preallocation. snap_count < 2 is raised to 2. */
struct storage_opts {
	const char *data_dir;		/* snapshots (and logs when log_dir is NULL) */
	const char *log_dir;		/* dataLogDir, or NULL */
	int32_t snap_count;		/* zookeeper.snapCount, default 100000 */
	int64_t snap_size_kb;		/* zookeeper.snapSizeLimitInKb, default 4194304 */
	int64_t prealloc_kb;		/* zookeeper.preAllocSize, default 65536 */
	int force_sync;			/* zookeeper.forceSync (default 1) */
	uint64_t seed;			/* randomises the snapshot trigger */
};

struct zk_storage;

typedef void (*storage_durable_fn)(void *ctx, int64_t durable_zxid, int status);

struct storage_session {
	int64_t id;
	int32_t timeout;
};

struct storage_load_cb {
	void *ctx;
	/* A session from the snapshot. */
	void (*session)(void *ctx, int64_t id, int32_t timeout);
	/* Each txn replayed from the logs (zxid > snapshot zxid), after the tree applied it. */
	void (*txn)(void *ctx, const struct zk_txn *txn);
};

/* Creates dataDir/version-2 (and the log dir) if missing; fails with the path named if a
 * directory cannot be created or written. */
int storage_open(uv_loop_t *loop, const struct storage_opts *opts,
		 storage_durable_fn on_durable, void *ctx,
		 struct zk_storage **out, char *errmsg, size_t errlen);

/*
 * Loads the newest valid snapshot and replays the logs after it into a new tree, fixes a
 * torn tail, and positions the log for appends. A fresh dataDir gives a fresh tree and
 * writes snapshot.0, as Apache does. Returns 0 or a negative code with errmsg set:
 * ZDATAINCONSISTENCY for corruption or logs without any valid snapshot, ZSYSTEMERROR for
 * I/O errors. Callbacks run inside this call. Apache also writes a snapshot after every
 * load; storage cannot (it does not know the sessions): the server may call
 * storage_snapshot() right after loading to do the same. The first append after a load
 * opens a new log.<zxid>, as Apache does after a restart.
 */
int storage_load(struct zk_storage *st, struct zk_tree **tree,
		 const struct storage_load_cb *cb, char *errmsg, size_t errlen);

/* Queues a txn (its zxid must be larger than every earlier one). 0 or ZSYSTEMERROR. */
int storage_append(struct zk_storage *st, const struct zk_txn *txn);

/* True when snapCount/snapSize (with Apache's randomisation) says a snapshot is due. */
int storage_snapshot_due(const struct zk_storage *st);
/*
 * Rolls the log and writes snapshot.<last zxid> of tree + sessions: serialised now on
 * the calling thread, written, fsynced, renamed and the directory fsynced on a worker.
 * Skipped (returns 0) if one is already being written.
 */
int storage_snapshot(struct zk_storage *st, const struct zk_tree *tree,
		     const struct storage_session *sessions, int32_t nsessions);

/*
 * Zab TRUNC (Apache's FileTxnSnapLog.truncateLog): removes every logged txn with a zxid
 * above zxid — the tail of the file holding it, every later log file, and every snapshot
 * named above it — then reloads nothing: call storage_load() again for the tree.
 * Synchronous, on the calling thread. A batch in flight is finished first and appends not
 * yet written are dropped, without on_durable for either. The next append opens a new
 * log file. Returns 0 or ZSYSTEMERROR with errmsg set.
 */
int storage_truncate(struct zk_storage *st, int64_t zxid, char *errmsg, size_t errlen);

/* Flushes what is queued, waits for workers, closes files. */
void storage_close(struct zk_storage *st);

/* Keeps the newest `retain` (>= 3) snapshots and the logs they need (server-formats.md
 * §10). Synchronous; used by autopurge (on a worker) and `zkensemble purge`. */
int storage_purge(const char *data_dir, const char *log_dir, int retain,
		  char *errmsg, size_t errlen);

/* Bytes of the files in <dir>/version-2, dir being dataDir or dataLogDir as configured
 * (Apache's datadir_size / logdir_size in the dirs 4lw). */
int64_t storage_dir_size(const char *dir);

/* Stats for mntr / bench: number of fsyncs and txns written since start. */
void storage_stats(const struct zk_storage *st, int64_t *fsyncs, int64_t *txns);

#endif
