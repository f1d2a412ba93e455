/*
 * storage_i.h: storage internals that tests (and the simulator) need: the file interface
 * and the executor that runs blocking work can both be swapped.
 *
 * The executor contract (what storage_open() uses by default is the libuv threadpool):
 *  - submit() arranges for job->work(job) to run off the loop thread and then
 *    job->done(job) on the loop thread. It never calls either inside submit().
 *  - work() touches only the job (and the files it was handed); done() may touch storage.
 *  - wait() returns once job->work() has finished, running it right away if the executor
 *    has not started it yet. done() still follows later, from the executor, as usual
 *    (storage marks such a job orphaned so that done() only frees it).
 * A test executor keeps submitted jobs in a list and runs them when the test says, so a
 * whole write+fsync path runs synchronously and deterministically on the sim vfs.
 */
#ifndef ZK_STORAGE_I_H
#define ZK_STORAGE_I_H

#include "storage.h"
#include "vfs.h"

struct storage_exec;

struct storage_job {
	void (*work)(struct storage_job *job);
	void (*done)(struct storage_job *job);
	struct storage_job *next;	/* free for the executor's use */
	int work_ran;			/* set by the executor once work() returned */
	void *exec_data;		/* free for the executor's use */
};

struct storage_exec {
	int (*submit)(struct storage_exec *ex, struct storage_job *job);
	void (*wait)(struct storage_exec *ex, struct storage_job *job);
	void (*free)(struct storage_exec *ex);	/* called by storage_close; may be NULL */
};

/*
 * storage_open() with a chosen file interface and executor (both borrowed; they must
 * outlive the storage). loop may be NULL: then nothing starts a batch by itself and the
 * caller calls storage_flush().
 */
int storage_open_with(uv_loop_t *loop, const struct storage_opts *opts, struct vfs *vfs,
		      struct storage_exec *exec, storage_durable_fn on_durable, void *ctx,
		      struct zk_storage **out, char *errmsg, size_t errlen);

/* Starts writing what is queued if no batch is in flight. With a loop, a uv_check handle
 * does this at the end of every loop iteration (group commit, like Redis's beforeSleep). */
void storage_flush(struct zk_storage *st);

/* Frees st without any I/O and without callbacks, as if the process had died. */
void storage_abandon(struct zk_storage *st);

int storage_purge_vfs(struct vfs *vfs, const char *data_dir, const char *log_dir, int retain,
		      char *errmsg, size_t errlen);

/* Time snapshots spent giving way to a busy txn log, in ms. */
int64_t storage_snap_paced_ms(const struct zk_storage *st);

/* Highest zxid reported durable (or loaded); -1 before anything. */
int64_t storage_durable_zxid(const struct zk_storage *st);

#endif
