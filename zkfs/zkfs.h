/*
 * zkfs internals: one libuv loop thread serves the FUSE session (fuse_session_fd in a
 * uv_poll_t) and talks to ZooKeeper through common/zkclient; FUSE replies are sent from the
 * client's completion callbacks. A second thread, the notifier, performs every kernel cache
 * invalidation (a notify from the serving thread could deadlock on locks held by a request
 * it has not answered yet) and replays remote changes through the mount so that inotify
 * sees them (DESIGN.md §3). Requests whose caller is the notifier thread are recognised by
 * fuse_req_ctx(req)->pid and turned into no-ops.
 *
 * Inodes: the FUSE node id is our own counter; the inode table maps a key (view, path,
 * czxid, type) to it, so a re-created znode or a file that became a directory is a new
 * inode for the kernel. st_ino is the znode's czxid (views get ids of their own).
 * Lookup counts follow the low-level contract: +1 per entry reply, -n per forget; an inode
 * is freed when its count and its internal pins are both zero.
 */
#ifndef ZKFS_H
#define ZKFS_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "zkclient.h"
#include "zkproto.h"

enum zkfs_view {
	V_NONE = 0,	/* the plain tree */
	V_DATA,		/* .data/ */
	V_EPH,		/* .ephemeral/ */
	V_SEQ,		/* .sequential/ */
	V_EPHSEQ,	/* .ephemeral-sequential/ */
	V_VERSION,	/* .version/<N>/ */
	V_COUNT
};

/*
 * Inside the .data view every directory has a hidden entry ".data": that znode's own data as
 * a plain file (.data/services/.data is /services's data). Its inode has the directory's
 * path, view V_DATA and vversion DATA_SELF, so its key (and inode number) is its own.
 */
#define DATA_SELF_NAME ".data"
#define DATA_SELF 1

enum zkfs_kind {
	K_NODE,		/* a znode seen through a view (V_NONE: the plain tree) */
	K_VIEWROOT,	/* /.data, /.version, ... */
	K_VERSIONDIR,	/* /.version/<N> */
};

struct zfh;

struct zinode {
	fuse_ino_t ino;
	uint64_t nlookup;
	int pins;		/* internal references (queued notifier work) */
	int kind;
	int view;
	int32_t vversion;	/* V_VERSION: N; V_DATA: DATA_SELF for a directory's .data */
	char *path;		/* znode path relative to the mount root ("/" for it) */
	char *key;
	int64_t czxid;
	int is_dir;
	int unique;		/* a sequential create's own inode, never found by key */
	struct zk_stat st;
	int have_st;		/* st is current (kept so by the watch) */
	uint8_t *data;		/* cached data (files) */
	int32_t data_len;
	int data_valid;
	int data_null;
	int kernel_stale;	/* the kernel may hold old pages/attrs: no keep_cache */
	int inval_pending;	/* queued kernel invalidations not done yet */
	int deleted;
	struct zwaiter *waiters;	/* run once inval_pending drops to 0 */
	struct zfh *creating;	/* a new file whose create waits for its first write (file.c) */
	int64_t own_mzxid;	/* mzxid of our last write through this inode: no replay to it */
	struct zinode *next_ino, *next_key, *next_path;
};

struct zwaiter {
	struct zwaiter *next;
	void (*fn)(void *arg);
	void *arg;
};

struct zkfs_opts {
	char *servers;
	char *root;		/* "" or "/prefix" */
	char *mountpoint;	/* absolute */
	int timeout_ms;
	int session_timeout_ms;
	int ro;
	int foreground;
	int debug;
	int allow_other;
	char *auth;		/* "user:password" (digest) or NULL */
	int watch_oneshot;	/* -o watch=oneshot: never ask for a persistent watch */
	long uid, gid;		/* -o uid=/gid=: owner shown for every file; -1: ours */
	double attr_timeout_s;	/* -o attr_timeout=: cap on kernel cache times; <0: none */
	char *logfile;		/* -o logfile=: where the daemon logs (NULL: syslog) */
};

struct zkfs {
	struct zkfs_opts o;
	uv_loop_t *loop;
	struct zkc *zk;
	struct fuse_session *se;
	uv_poll_t fuse_poll;
	struct fuse_buf fbuf;
	uv_signal_t sigint, sigterm;
	int exiting;
	int persistent_watch;	/* 1: recursive watch on root; 0: one-shot watches (old server) */
	int cache_trusted;	/* connected and watched: cached stats and data are current */
	double timeout_s;	/* kernel attr/entry timeout */
	uid_t uid;
	gid_t gid;
	uint64_t next_ino;
	uint64_t view_ino_base;
	int had_session;

	/* expectations: events our own writes will cause, consumed instead of replayed */
	struct zexpect *expects;
	/* open files that own an ephemeral znode (re-created after a session expiry) */
	struct zfh *ephemerals;

	struct notifier *nt;
};

extern struct zkfs *g_fs;

/* Sets how long the kernel may cache entries and attributes (capped by -o attr_timeout). */
void zkfs_set_cache_timeout(double seconds);

/* ---- inode table (inode.c) ---- */
void inode_table_init(void);
struct zinode *inode_get(fuse_ino_t ino);
/* Finds or makes the inode for key; new ones start with nlookup 0. */
struct zinode *inode_find_or_add(int kind, int view, int32_t vversion, const char *path,
				 int64_t czxid, int is_dir);
struct zinode *inode_add_unique(int view, const char *path, int64_t czxid, int is_dir);
void inode_forget(struct zinode *in, uint64_t n);
void inode_unpin(struct zinode *in);
/* Calls fn for each inode whose znode path is path (any view). */
void inode_foreach_path(const char *path, void (*fn)(struct zinode *, void *), void *arg);
void inode_foreach(void (*fn)(struct zinode *, void *), void *arg);
/* The plain-tree inode for path that the kernel knows (nlookup > 0, not deleted) or NULL. */
struct zinode *inode_known(const char *path);
void inode_set_stat(struct zinode *in, const struct zk_stat *st);
/* A node created after its inode (a deferred create) learns its czxid, and its key with it. */
void inode_set_czxid(struct zinode *in, int64_t czxid);
void inode_set_data(struct zinode *in, const uint8_t *data, int32_t len);
/* Runs fn once the kernel invalidations queued for in are done (at once if none). */
void inode_after_inval(struct zinode *in, void (*fn)(void *), void *arg);
void inode_inval_done(struct zinode *in);

/* ---- expectations (cache.c) ---- */
struct zexpect {
	struct zexpect *next;
	int type;
	char *path;
};
struct zexpect *expect_add(int type, const char *path);
void expect_remove(struct zexpect *e);
int expect_consume(int type, const char *path);

/* ---- one-shot watches (watch.c) ----
 * Without a persistent recursive watch (-o watch=oneshot, or a server older than 3.6),
 * every directory the kernel knows holds a child watch and a copy of its children; each
 * NodeChildrenChanged re-arms it and the difference is replayed as creates and deletes.
 * Data, exists and deletion watches on single nodes come with every fetch_node. */
/* The kernel knows the directory path (plain tree): keep a child watch on it. */
void watch_dir_known(const char *path);
/* The kernel learnt of path without a fetch (our own create): arm its data watch. */
void watch_node_known(const char *path);
/* A create (added) or delete of path made through the plain tree of this mount: it makes
 * its own inotify event, so the next difference must not contain it. */
void watch_child_note(const char *path, int added);

/* ---- notifier (notifier.c) ---- */
enum ntask_kind {
	NT_INVAL_INODE,		/* ino, off, len */
	NT_INVAL_ENTRY,		/* parent, name */
	NT_REPLAY_MODIFY,	/* path, size: open O_WRONLY + ftruncate(size) + close */
	NT_REPLAY_ATTRIB,	/* path: utimensat */
	NT_REPLAY_CREATE,	/* path, is_dir: mknod / mkdir */
	NT_REPLAY_DELETE,	/* path, is_dir, ino (the entry answered to its lookup) */
	NT_BARRIER,		/* fn(arg) on the loop thread */
};
int notifier_start(struct zkfs *fs);
void notifier_stop(struct zkfs *fs);
int notifier_is_caller(fuse_req_t req);
/* Queues invalidation of in's attributes and (pages != 0) its page cache; counts in
 * in->inval_pending until done. */
void nt_inval_inode(struct zinode *in, int pages);
void nt_inval_entry(fuse_ino_t parent, const char *name);
void nt_replay(int kind, const char *path, int is_dir, off_t size, struct zinode *before);
void nt_barrier(void (*fn)(void *), void *arg);
/*
 * While the notifier replays a create or delete, a lookup of that name from the notifier
 * answers from the view before the change: returns 1 with *ino = 0 for "absent" (create)
 * or the inode to answer (delete); 0 when the lookup is not the replayed one.
 */
int nt_replay_lookup(fuse_ino_t parent, const char *name, fuse_ino_t *ino);

/* ---- node cache (cache.c) ---- */
typedef void (*fetch_cb)(int rc, const struct zk_stat *st, int null_data,
			 const struct zk_resp *data, void *arg);
/* Stat (and data when want_data, or when needed to tell null data) of path; updates the
 * caches of every inode of path on the way. */
void fetch_node(const char *path, int want_data, fetch_cb cb, void *arg);
int update_path(const char *path, const struct zk_stat *st, const uint8_t *data,
		int32_t len, int have_data, struct zinode *exclude);
void mark_deleted(const char *path);
void parent_changed(const char *path);

/* ---- operations (ops.c; the rest of them in file.c, rename.c, xattr.c: ops_i.h) ---- */
int shown_as_dir(int view, const struct zk_stat *st, int null_data);
char *path_parent(const char *path);
const char *path_base(const char *path);

extern const struct fuse_lowlevel_ops zkfs_ops;
void zkfs_watch_cb(struct zkc *c, int type, const char *path, void *arg);
void zkfs_state_cb(struct zkc *c, int state, int new_session, void *arg);
/* After a session expiry: every open .ephemeral file's node again, with its last data
 * (file.c). */
void zkfs_recreate_ephemerals(void);
int zkfs_errno(int zerr);
void zkfs_fill_attr(const struct zinode *in, struct stat *st);

#endif
