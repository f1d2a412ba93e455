/*
 * vfs_sim: an in-memory file system behind the vfs interface that simulates power loss,
 * for crash tests of the storage layer (model: SQLite src/test6.c).
 *
 * What it models:
 *  - Every file has a durable image and a list of unsynced changes (writes, truncates).
 *    Reads see all changes. vfs_sync() on the file makes its changes durable.
 *  - Directory entries (create, rename, unlink) are unsynced until vfs_sync_dir() on
 *    their directory. Directories themselves are durable at once.
 *  - vfs_sim_crash() is a power loss and reboot: for each file it keeps all, drops all,
 *    keeps each 512-byte sector of each unsynced write independently, or keeps a prefix
 *    of the changes in order whose last sector may be torn into garbage. Unsynced
 *    directory changes survive as a prefix, in order, per directory. Every open file
 *    handle then fails with -EIO (the process died); only close works on them.
 *  - A dropped write leaves what was there before: zeros in space that was never
 *    written (preallocated or past the end), as on ext4/xfs, never stale data.
 *  - Faults: vfs_sim_fault() makes the nth next call of one kind fail with an errno
 *    (once or from then on); a failing write (ENOSPC) first writes a random prefix.
 *    vfs_sim_cut_power_after() makes every call after the nth next mutating or sync call
 *    fail with -EIO and change nothing, freezing the unsynced state for vfs_sim_crash().
 *
 * Single-threaded; every random choice comes from the seed. Meant for tests; it lives in
 * the library so the unit tests and tests/sim can share it.
 */
#ifndef ZK_VFS_SIM_H
#define ZK_VFS_SIM_H

#include <stdint.h>
#include "vfs.h"

enum vfs_sim_op {
	VFS_SIM_OPEN,
	VFS_SIM_WRITE,
	VFS_SIM_SYNC,		/* file sync and directory sync */
	VFS_SIM_TRUNCATE,
	VFS_SIM_RENAME,
	VFS_SIM_UNLINK,
	VFS_SIM_NOPS
};

struct vfs *vfs_sim_new(uint64_t seed);
void vfs_sim_free(struct vfs *v);

/* The countdown-th next call of op (1 = the next one) fails with -err; with persistent,
 * every later one too until vfs_sim_clear_faults(). */
void vfs_sim_fault(struct vfs *v, enum vfs_sim_op op, int64_t countdown, int err, int persistent);
void vfs_sim_clear_faults(struct vfs *v);

/* fn(ctx) runs once, at the start of the next call of op: a test's way to act "while"
 * that call is in flight (appends arriving during an fsync). */
void vfs_sim_hook(struct vfs *v, enum vfs_sim_op op, void (*fn)(void *ctx), void *ctx);

/* Power is lost right after the next n mutating/sync calls (n = 0: now; -1: never). */
void vfs_sim_cut_power_after(struct vfs *v, int64_t n);
int vfs_sim_power_is_off(const struct vfs *v);

/* Crash and reboot as described above; choices drawn from seed. Power is back on. */
void vfs_sim_crash(struct vfs *v, uint64_t seed);

/* Calls of op made so far (failed ones included). */
int64_t vfs_sim_calls(const struct vfs *v, enum vfs_sim_op op);

#endif
