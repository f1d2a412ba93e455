/*
 * The notifier thread (see zkfs.h and DESIGN.md §3 "Watches as inotify").
 *
 * The loop thread queues tasks; this thread runs them in order: kernel cache invalidations
 * (fuse_lowlevel_notify_*), replays of remote changes as real syscalls on the mount (which
 * the loop serves as no-ops because the caller is this thread), and barriers that hand a
 * callback back to the loop once everything queued before them is done.
 *
 * Replays use *at() calls relative to a descriptor of the mount root, opened per replay and
 * checked to be the FUSE root, so that after an unmount they touch nothing beneath it.
 *
 * Which syscall gives which inotify event:
 *   modify: open(O_WRONLY) + ftruncate(current size) + close -> IN_OPEN, IN_MODIFY,
 *           IN_CLOSE_WRITE. (ftruncate rather than a 1-byte pwrite: a write through the
 *           page cache would extend an empty file's cached size.)
 *   attrib: utimensat(UTIME_OMIT) -> IN_ATTRIB (directories whose data changed)
 *   create: mknod(S_IFREG) / mkdir -> IN_CREATE in the parent
 *   delete: unlink / rmdir -> IN_DELETE in the parent, IN_DELETE_SELF on the node
 */
#include "zkfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

struct ntask {
	struct ntask *next;
	int kind;
	fuse_ino_t ino;
	fuse_ino_t parent;	/* replays: the parent directory's node id */
	struct zinode *in;	/* pinned; done callbacks run on the loop */
	off_t off, len;
	char *name;
	char *path;
	int is_dir;
	off_t size;
	void (*fn)(void *);
	void *arg;
};

struct notifier {
	pthread_t th;
	pid_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ntask *head, *tail;
	struct ntask *done_head, *done_tail;	/* back to the loop */
	uv_async_t async;
	int stop;
	dev_t dev;		/* the mount's device, learnt at the first replay */
	/* the replay in progress, for lookups from this thread */
	int cur_kind;
	fuse_ino_t cur_parent;
	char *cur_name;
	fuse_ino_t cur_ino;
	struct zkfs *fs;
};

static void push(struct notifier *n, struct ntask *t)
{
	pthread_mutex_lock(&n->mu);
	t->next = NULL;
	if (n->tail)
		n->tail->next = t;
	else
		n->head = t;
	n->tail = t;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

static void finish(struct notifier *n, struct ntask *t)
{
	pthread_mutex_lock(&n->mu);
	t->next = NULL;
	if (n->done_tail)
		n->done_tail->next = t;
	else
		n->done_head = t;
	n->done_tail = t;
	pthread_mutex_unlock(&n->mu);
	uv_async_send(&n->async);
}

static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/*
 * A descriptor of the mount root for one replay. It is not kept open between replays (it
 * would make the mount busy for umount); the device check makes sure that after an unmount
 * nothing lands in the directory underneath.
 */
static int open_root(struct notifier *n)
{
	struct stat st;
	int fd = open(n->fs->o.mountpoint, O_PATH | O_DIRECTORY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || (n->dev && st.st_dev != n->dev) || st.st_ino != 1) {
		close(fd);
		return -1;
	}
	n->dev = st.st_dev;
	return fd;
}

static void set_current(struct notifier *n, const struct ntask *t)
{
	const char *slash = strrchr(t->path, '/');

	pthread_mutex_lock(&n->mu);
	free(n->cur_name);
	n->cur_kind = t->kind;
	n->cur_name = slash ? strdup(slash + 1) : NULL;
	n->cur_ino = t->ino;
	n->cur_parent = t->parent;
	pthread_mutex_unlock(&n->mu);
}

static void clear_current(struct notifier *n)
{
	pthread_mutex_lock(&n->mu);
	n->cur_kind = 0;
	free(n->cur_name);
	n->cur_name = NULL;
	pthread_mutex_unlock(&n->mu);
}

static void run(struct notifier *n, struct ntask *t)
{
	struct fuse_session *se = n->fs->se;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	int fd, root = -1;

	if (t->kind >= NT_REPLAY_MODIFY && t->kind <= NT_REPLAY_DELETE &&
	    (root = open_root(n)) < 0)
		return;

	switch (t->kind) {
	case NT_INVAL_INODE:
		fuse_lowlevel_notify_inval_inode(se, t->ino, t->off, t->len);
		break;
	case NT_INVAL_ENTRY:
		fuse_lowlevel_notify_inval_entry(se, t->ino, t->name, strlen(t->name));
		break;
	case NT_REPLAY_MODIFY:
		fd = openat(root, rel(t->path), O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
		if (fd >= 0) {
			if (ftruncate(fd, t->size))
				log_debug("replay modify '%s': %s", t->path, strerror(errno));
			close(fd);
		}
		break;
	case NT_REPLAY_ATTRIB:
		utimensat(root, rel(t->path), ts, AT_SYMLINK_NOFOLLOW);
		break;
	case NT_REPLAY_CREATE:
		set_current(n, t);
		if (t->is_dir)
			mkdirat(root, rel(t->path), 0755);
		else
			mknodat(root, rel(t->path), S_IFREG | 0644, 0);
		clear_current(n);
		break;
	case NT_REPLAY_DELETE:
		set_current(n, t);
		unlinkat(root, rel(t->path), t->is_dir ? AT_REMOVEDIR : 0);
		clear_current(n);
		break;
	case NT_BARRIER:
		break;
	}
	if (root >= 0)
		close(root);
}

static void *thread_main(void *arg)
{
	struct notifier *n = arg;
	struct ntask *t;

	n->tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&n->mu);
	pthread_cond_broadcast(&n->cv);
	for (;;) {
		while (!n->head && !n->stop)
			pthread_cond_wait(&n->cv, &n->mu);
		if (!n->head && n->stop)
			break;
		t = n->head;
		n->head = t->next;
		if (!n->head)
			n->tail = NULL;
		pthread_mutex_unlock(&n->mu);
		if (!n->stop)
			run(n, t);
		finish(n, t);
		pthread_mutex_lock(&n->mu);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* Completions, on the loop thread. */
static void async_cb(uv_async_t *a)
{
	struct notifier *n = a->data;
	struct ntask *t, *list;

	pthread_mutex_lock(&n->mu);
	list = n->done_head;
	n->done_head = n->done_tail = NULL;
	pthread_mutex_unlock(&n->mu);
	while ((t = list)) {
		list = t->next;
		if (t->kind == NT_INVAL_INODE && t->in)
			inode_inval_done(t->in);
		else if (t->in)
			inode_unpin(t->in);
		if (t->fn)
			t->fn(t->arg);
		free(t->name);
		free(t->path);
		free(t);
	}
}

int notifier_start(struct zkfs *fs)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	n->fs = fs;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	uv_async_init(fs->loop, &n->async, async_cb);
	n->async.data = n;
	fs->nt = n;
	pthread_mutex_lock(&n->mu);
	if (pthread_create(&n->th, NULL, thread_main, n)) {
		pthread_mutex_unlock(&n->mu);
		return -1;
	}
	while (!n->tid)
		pthread_cond_wait(&n->cv, &n->mu);
	pthread_mutex_unlock(&n->mu);
	return 0;
}

static void async_close_cb(uv_handle_t *h)
{
	struct notifier *n = h->data;

	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	free(n);
}

/* Called after the FUSE session has ended: queued replays are dropped, not run. */
void notifier_stop(struct zkfs *fs)
{
	struct notifier *n = fs->nt;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->th, NULL);
	async_cb(&n->async);
	free(n->cur_name);
	fs->nt = NULL;
	uv_close((uv_handle_t *)&n->async, async_close_cb);
}

int notifier_is_caller(fuse_req_t req)
{
	struct notifier *n = g_fs->nt;

	return n && fuse_req_ctx(req)->pid == n->tid;
}

static struct ntask *task(int kind)
{
	struct ntask *t = calloc(1, sizeof(*t));

	if (t)
		t->kind = kind;
	return t;
}

void nt_inval_inode(struct zinode *in, int pages)
{
	struct ntask *t;

	if (!g_fs->nt || g_fs->exiting || !(t = task(NT_INVAL_INODE)))
		return;
	t->ino = in->ino;
	t->in = in;
	t->off = pages ? 0 : -1;
	t->len = 0;
	in->pins++;
	in->inval_pending++;
	if (pages)
		in->kernel_stale = 1;
	push(g_fs->nt, t);
}

void nt_inval_entry(fuse_ino_t parent, const char *name)
{
	struct ntask *t;

	if (!g_fs->nt || g_fs->exiting || !(t = task(NT_INVAL_ENTRY)))
		return;
	t->ino = parent;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return;
	}
	push(g_fs->nt, t);
}

void nt_replay(int kind, const char *path, int is_dir, off_t size, struct zinode *before)
{
	struct ntask *t;

	if (!g_fs->nt || g_fs->exiting || !(t = task(kind)))
		return;
	t->path = strdup(path);
	if (!t->path) {
		free(t);
		return;
	}
	t->is_dir = is_dir;
	t->size = size;
	{
		/* the parent is known to the kernel, or the replay would not be queued */
		char *pp = strdup(path), *sl = pp ? strrchr(pp, '/') : NULL;
		struct zinode *p;

		if (sl)
			*(sl == pp ? sl + 1 : sl) = 0;
		p = pp ? inode_known(pp) : NULL;
		t->parent = p ? p->ino : 0;
		free(pp);
	}
	if (before) {
		t->in = before;
		t->ino = before->ino;
		before->pins++;
	}
	push(g_fs->nt, t);
}

void nt_barrier(void (*fn)(void *), void *arg)
{
	struct ntask *t;

	if (!g_fs->nt || g_fs->exiting || !(t = task(NT_BARRIER))) {
		fn(arg);
		return;
	}
	t->fn = fn;
	t->arg = arg;
	push(g_fs->nt, t);
}

int nt_replay_lookup(fuse_ino_t parent, const char *name, fuse_ino_t *ino)
{
	struct notifier *n = g_fs->nt;
	int hit = 0;

	if (!n)
		return 0;
	pthread_mutex_lock(&n->mu);
	if (n->cur_kind && n->cur_name && n->cur_parent == parent &&
	    strcmp(n->cur_name, name) == 0) {
		hit = 1;
		*ino = n->cur_kind == NT_REPLAY_DELETE ? n->cur_ino : 0;
	}
	pthread_mutex_unlock(&n->mu);
	return hit;
}
