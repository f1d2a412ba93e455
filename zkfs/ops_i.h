/*
 * Declarations shared by the modules that implement zkfs's FUSE operations (ops.c,
 * file.c, rename.c, xattr.c, cache.c) and by nothing else. The dispatch table in ops.c is
 * the only user of the op_* functions declared here.
 *
 * An open file is a struct zfh, opaque outside file.c: the other modules only ask for its
 * size as the kernel should see it (fh_size) and truncate it (fh_truncate).
 */
#ifndef ZKFS_OPS_I_H
#define ZKFS_OPS_I_H

#include "zkfs.h"

/* ".data", ".ephemeral", ...: the view directories at the mount root, by enum zkfs_view */
extern const char *const view_names[V_COUNT];

/* ---- names and attributes (ops.c) ---- */
char *path_join(const char *dir, const char *name);
/* PathUtils.validatePath for one component */
int name_ok(const char *n);
/* The create mode a view makes (ZMODE_*). */
int view_flags(int view);
double entry_timeout(const struct zinode *in);
double attr_timeout(const struct zinode *in);
/* Answers an entry for in and counts the lookup. */
void reply_entry(fuse_req_t req, struct zinode *in);
/* size_override >= 0 replaces st_size (a writable handle's size). */
void reply_attr(fuse_req_t req, struct zinode *in, off_t size_override);
/* Looks path up on the server and answers req with its entry; takes path. */
void start_lookup(fuse_req_t req, int view, int32_t vv, char *path);
/* Answers req with in's attributes fetched from the server. */
void getattr_fresh(fuse_req_t req, struct zinode *in, off_t size_override);

/* ---- expectations (cache.c) ---- */
/* An expectation for a change made through view (only the plain tree announces its own). */
struct zexpect *expect_for(int view, int type, const char *path);

/* ---- open files (file.c) ---- */
struct zfh;
/* The size the kernel should see through a writable handle, or -1 (NULL, read-only). */
off_t fh_size(const struct zfh *fh);
int fh_writable(const struct zfh *fh);
/* ftruncate through a writable handle: 0 or an errno. */
int fh_truncate(struct zfh *fh, size_t size);
/*
 * in is a new file whose deferred create has not been answered yet (in->creating): sends
 * it now and calls fn(arg) once answered (whatever the outcome), then returns 1; returns 0
 * (fn not called) when nothing is pending. Operations that ask the server about the file
 * use it to run again afterwards.
 */
int fh_commit_then(struct zinode *in, void (*fn)(void *), void *arg);
/* The largest data a znode at path can hold (jute.maxbuffer minus the request's overhead). */
size_t max_data(const char *path);

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);

/* ---- rename and truncation (rename.c) ---- */
void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	       const char *newname, unsigned int flags);
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);

/* ---- extended attributes (xattr.c) ---- */
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
