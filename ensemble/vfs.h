/*
 * vfs: the small file interface the storage layer does all its I/O through, so that a
 * crash-simulating implementation (vfs_sim.h) can stand in for the real one in tests
 * (model: SQLite's os.c VFS and its crash simulator src/test6.c).
 *
 * Contract:
 *  - This is the OS boundary: every call returns 0 (or a byte count) or a negative errno
 *    value. Callers above it (storage) translate that into ZSYSTEMERROR and keep the OS
 *    text (strerror) in their errmsg; -errno never leaves the storage module.
 *  - pwrite writes all n bytes or fails; a failed pwrite may have written a prefix.
 *  - Nothing is durable until sync(): file contents by vfs_sync() on the file, directory
 *    entries (create, rename, unlink) by vfs_sync_dir() on the directory. The simulated
 *    implementation enforces exactly this and nothing more.
 *  - Paths are full paths; list() returns the names (not paths) of the regular files in a
 *    directory, unsorted.
 *  - Thread safety: the POSIX implementation may be used from several threads at once
 *    (on different files). The simulated one is single-threaded: tests drive storage's
 *    worker jobs synchronously (storage_i.h).
 *
 * Ownership: a struct vfs_file belongs to the caller from open() until close(), which
 * frees it even when it reports an error.
 */
#ifndef ZK_VFS_H
#define ZK_VFS_H

#include <stddef.h>
#include <stdint.h>
#include "zkproto.h"

struct vfs;

/*
 * A big write (vfs_write_atomic: snapshots) goes in pieces of VFS_PIECE bytes, and fn is
 * called before each piece after the first: a background writer's chance to give way to
 * latency-sensitive I/O (storage paces snapshots while the txn log is busy).
 */
#define VFS_PIECE ((size_t)256 << 10)
struct vfs_pace {
	void (*fn)(void *ctx, size_t piece);
	void *ctx;
};

struct vfs_file {
	struct vfs *vfs;	/* the implementation that opened it */
};

enum {
	VFS_RDONLY = 0,
	VFS_RDWR = 1,		/* read and write */
	VFS_CREAT = 2,		/* create if missing */
	VFS_EXCL = 4,		/* with VFS_CREAT: fail with -EEXIST if it exists */
	VFS_TRUNC = 8,		/* truncate to 0 at open */
};

struct vfs {
	int (*open)(struct vfs *v, const char *path, int flags, struct vfs_file **out);
	int (*close)(struct vfs_file *f);
	/* Bytes read (short only at end of file) or -errno. */
	int64_t (*pread)(struct vfs_file *f, void *p, size_t n, int64_t off);
	int (*pwrite)(struct vfs_file *f, const void *p, size_t n, int64_t off);
	/* data_only: fdatasync (contents and the size needed to read them back). */
	int (*sync)(struct vfs_file *f, int data_only);
	int (*truncate)(struct vfs_file *f, int64_t size);
	int (*size)(struct vfs_file *f, int64_t *size);
	int (*rename)(struct vfs *v, const char *from, const char *to);
	int (*unlink)(struct vfs *v, const char *path);
	/* Names of the regular files in dir, appended to out (which starts as {0, NULL}). */
	int (*list)(struct vfs *v, const char *dir, struct zk_strvec *out);
	int (*sync_dir)(struct vfs *v, const char *dir);
	/* One level; -EEXIST if it already exists (as a directory or not). */
	int (*mkdir)(struct vfs *v, const char *path);
	/* 0 if path is a directory we can create files in, else -errno (-ENOTDIR, -EACCES). */
	int (*check_dir)(struct vfs *v, const char *path);
	/* Optional (NULL: open + pwrite + fsync): creates or truncates path and makes len bytes
	 * of data its durable contents, in pieces of VFS_PIECE with pace (if not NULL) called
	 * before each piece after the first. */
	int (*write_file)(struct vfs *v, const char *path, const void *data, size_t len,
			  const struct vfs_pace *pace);
};

/* The real file system (POSIX calls). A static singleton: never freed. */
struct vfs *vfs_posix(void);

static inline int vfs_open(struct vfs *v, const char *path, int flags, struct vfs_file **out)
{ return v->open(v, path, flags, out); }
static inline int vfs_close(struct vfs_file *f) { return f->vfs->close(f); }
static inline int64_t vfs_pread(struct vfs_file *f, void *p, size_t n, int64_t off)
{ return f->vfs->pread(f, p, n, off); }
static inline int vfs_pwrite(struct vfs_file *f, const void *p, size_t n, int64_t off)
{ return f->vfs->pwrite(f, p, n, off); }
static inline int vfs_sync(struct vfs_file *f, int data_only) { return f->vfs->sync(f, data_only); }
static inline int vfs_truncate(struct vfs_file *f, int64_t size) { return f->vfs->truncate(f, size); }
static inline int vfs_size(struct vfs_file *f, int64_t *size) { return f->vfs->size(f, size); }
static inline int vfs_rename(struct vfs *v, const char *from, const char *to)
{ return v->rename(v, from, to); }
static inline int vfs_unlink(struct vfs *v, const char *path) { return v->unlink(v, path); }
static inline int vfs_list(struct vfs *v, const char *dir, struct zk_strvec *out)
{ return v->list(v, dir, out); }
static inline int vfs_sync_dir(struct vfs *v, const char *dir) { return v->sync_dir(v, dir); }

/* mkdir -p. 0 or -errno; *failed (if given) gets the component that failed. */
int vfs_mkdirs(struct vfs *v, const char *path, char *failed, size_t failed_len);

/*
 * Replaces dir/name atomically with data: writes dir/tmpname (created or truncated; in
 * pieces, see struct vfs_pace; pace may be NULL), fsyncs it, renames it over dir/name and fsyncs dir. On failure dir/tmpname is removed
 * and dir/name is untouched (old content or absent). Returns 0 or -errno with errmsg
 * naming the step and file ("fsync /d/version-2/.snapshot.5.tmp: Input/output error").
 */
int vfs_write_atomic(struct vfs *v, const char *dir, const char *tmpname, const char *name,
		     const void *data, size_t len, const struct vfs_pace *pace,
		     char *errmsg, size_t errlen);

/* Reads the whole file at path into *out (malloc'd, *len bytes). 0 or -errno. */
int vfs_read_all(struct vfs *v, const char *path, uint8_t **out, size_t *len);
/* The same; prep (if not NULL) is called on the fresh buffer before the read. */
int vfs_read_all_prep(struct vfs *v, const char *path, uint8_t **out, size_t *len,
		      void (*prep)(void *p, size_t len));

/* Sum of the sizes of the regular files in dir (not recursive); 0 if it is missing. */
int64_t vfs_dir_bytes(struct vfs *v, const char *dir);

#endif
