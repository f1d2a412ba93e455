/*
 * The write path of zkfs: open files (struct zfh), open/read/write/flush/fsync/release,
 * create/mknod/mkdir, publishing a handle's content, and re-creating open ephemerals after a
 * session expiry.
 *
 * Writes: a handle keeps the whole new content; it is published with one setData when a
 * write looks final (its size is not a multiple of the page size, which is what a shell's
 * echo or the last chunk of cp produce), at FLUSH/FSYNC when writes are pending, 200 ms
 * after the last write on a handle kept open, and at RELEASE. An O_TRUNC at open is only
 * published with the first write (so watchers never see an empty intermediate), or at
 * RELEASE when nothing was written (": > f"). A FLUSH with no writes behind it commits
 * nothing.
 */
#include "zkfs.h"
#include "ops_i.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define DEBOUNCE_MS 200
#define APPEND_RETRIES 20

/* ---- open files ------------------------------------------------------------------------- */

struct pubwait {
	struct pubwait *next;
	void (*fn)(int err, void *arg);
	void *arg;
};

struct zfh {
	uv_timer_t debounce;	/* first: the handle's memory is freed in its close callback */
	struct zinode *in;	/* pinned */
	int noop;		/* the notifier's replay handle */
	int view;
	int32_t vversion;
	char *path;
	int flags;
	int writable;
	int append;
	uint8_t *data;		/* content (append: the base it was read as) */
	size_t len, cap;
	uint8_t *app;		/* append mode: bytes appended so far, unpublished */
	size_t app_len;
	int32_t base_version;	/* -1: overwrite whatever is there */
	int dirty;
	unsigned gen;		/* bumped by every change to the content */
	int trunc_pending;
	int ephemeral;
	int eph_flags;
	int publishing;
	int retries;
	int err;		/* sticky publish error, reported by the next write/flush */
	int need_barrier;	/* other inodes' invalidations queued: FLUSH waits for them */
	int create_pending;	/* a new file not created yet: the first publish creates it */
	int empty_flushes;	/* FLUSHes seen while create_pending with nothing written */
	struct pubwait *waiters;
	struct zfh *next_eph;
	int timer_init;
};

off_t fh_size(const struct zfh *fh)
{
	if (!fh || fh->noop || !fh->writable)
		return -1;
	return (off_t)(fh->append ? fh->len + fh->app_len : fh->len);
}

static int buf_reserve(uint8_t **p, size_t *cap, size_t need)
{
	size_t nc;
	uint8_t *n;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	n = realloc(*p, nc);
	if (!n)
		return -1;
	*p = n;
	*cap = nc;
	return 0;
}

static int fh_set_content(struct zfh *fh, const uint8_t *d, int32_t len)
{
	size_t l = len > 0 ? (size_t)len : 0;

	fh->len = 0;
	if (buf_reserve(&fh->data, &fh->cap, l + 1))
		return -1;
	if (l)
		memcpy(fh->data, d, l);
	fh->len = l;
	return 0;
}

static struct zfh *fh_new(struct zinode *in, int flags)
{
	struct zfh *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->path = strdup(in->path);
	if (!fh->path) {
		free(fh);
		return NULL;
	}
	fh->in = in;
	in->pins++;
	fh->view = in->view;
	fh->vversion = in->vversion;
	fh->flags = flags;
	fh->writable = (flags & O_ACCMODE) != O_RDONLY;
	fh->append = fh->writable && (flags & O_APPEND);
	fh->base_version = -1;
	return fh;
}

static void fh_free_cb(uv_handle_t *h)
{
	struct zfh *fh = (struct zfh *)h;

	free(fh->path);
	free(fh->data);
	free(fh->app);
	free(fh);
}

static void fh_free(struct zfh *fh)
{
	struct zfh **pp;

	for (pp = &g_fs->ephemerals; *pp; pp = &(*pp)->next_eph) {
		if (*pp == fh) {
			*pp = fh->next_eph;
			break;
		}
	}
	if (fh->in && fh->in->creating == fh)
		fh->in->creating = NULL;
	if (fh->in)
		inode_unpin(fh->in);
	fh->in = NULL;
	if (fh->timer_init)
		uv_close((uv_handle_t *)&fh->debounce, fh_free_cb);
	else
		fh_free_cb((uv_handle_t *)fh);
}

size_t max_data(const char *path)
{
	size_t pl = strlen(path) + strlen(zkc_chroot(g_fs->zk));
	size_t overhead = 32 + pl;	/* headers, path, lengths, version */

	return ZK_DEFAULT_MAXBUFFER > overhead ? ZK_DEFAULT_MAXBUFFER - overhead : 0;
}

/* ---- publishing ----------------------------------------------------------------------- */

struct pub {
	struct zfh *fh;
	uint8_t *data;
	size_t len;
	unsigned gen;
	size_t app_len;
	struct zexpect *ex;
	int err;
	int creating;		/* sent as the deferred create of a new file */
};

static void publish(struct zfh *fh, void (*fn)(int, void *), void *arg);

static void pub_finish(void *arg)
{
	struct pub *p = arg;
	struct zfh *fh = p->fh;
	struct pubwait *w, *list = fh->waiters;

	fh->publishing = 0;
	fh->waiters = NULL;
	free(p->data);
	/* whoever waits may have written more meanwhile: the first waiter publishes again */
	while ((w = list)) {
		list = w->next;
		if (p->err)
			w->fn(p->err, w->arg);
		else
			publish(fh, w->fn, w->arg);
		free(w);
	}
	free(p);
}

static void pub_refetched(struct zkc *c, int rc, const struct zk_resp *r, void *arg);
static int pub_send(struct pub *p);

/*
 * The reply to a deferred create (see deferred_create). NODEEXISTS: another client made the
 * node meanwhile, and without O_EXCL we write over it like open(O_TRUNC) of an existing file
 * would (returns 1: resent as a setData). Another error: the name the kernel holds has no
 * node, so its entry goes. Success: the inode learns its czxid and the parent its child.
 */
static int pub_created(struct pub *p, int rc, const struct zk_resp *r)
{
	struct zfh *fh = p->fh;
	struct zinode *in = fh->in;

	p->creating = 0;
	fh->create_pending = 0;
	if (in && in->creating == fh)
		in->creating = NULL;
	if (rc == ZNODEEXISTS && !(fh->flags & O_EXCL) && pub_send(p) == 0)
		return 1;
	if (rc == 0) {
		if (in)
			inode_set_czxid(in, r->stat.czxid);
		parent_changed(fh->path);
		watch_child_note(fh->path, 1);
		watch_node_known(fh->path);
	} else if (in) {
		char *pp = path_parent(fh->path);
		struct zinode *pin = pp ? inode_known(pp) : NULL;

		in->deleted = 1;
		if (pin)
			nt_inval_entry(pin->ino, path_base(fh->path));
		free(pp);
	}
	return 0;
}

static void pub_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct pub *p = arg;
	struct zfh *fh = p->fh;
	int invals = 0;

	expect_remove(p->ex);
	p->ex = NULL;
	if (p->creating && pub_created(p, rc, r))
		return;
	if (rc == ZBADVERSION && fh->append && fh->retries++ < APPEND_RETRIES) {
		/* someone else changed the file: append to what is there now */
		if (zkc_get_data(g_fs->zk, fh->path, 0, pub_refetched, p) == 0)
			return;
	}
	if (rc == 0) {
		fh->retries = 0;
		fh->base_version = r->stat.version;
		if (fh->append) {
			/* the published bytes become the base; later appends stay pending */
			memmove(fh->app, fh->app + p->app_len, fh->app_len - p->app_len);
			fh->app_len -= p->app_len;
			fh_set_content(fh, p->data, (int32_t)p->len);
		}
		if (fh->gen == p->gen)
			fh->dirty = 0;
		fh->trunc_pending = 0;
		if (fh->in)
			fh->in->own_mzxid = r->stat.mzxid;
		invals = update_path(fh->path, &r->stat, p->data, (int32_t)p->len, 1, fh->in);
		if (fh->in && fh->in->czxid == 0)
			inode_set_czxid(fh->in, r->stat.czxid);	/* and its key */
		if (fh->append && fh->in && fh->in->nlookup > 0) {
			/* our base may have moved under the kernel's cached pages */
			nt_inval_inode(fh->in, 1);
		}
	} else {
		p->err = rc == ZBADVERSION ? ESTALE : zkfs_errno(rc);
		fh->err = p->err;
	}
	/*
	 * Readers of other views of this node must see the new content once the writer's
	 * close (FLUSH) or fsync returns, so those wait for the invalidations queued here. A
	 * WRITE reply must not: the writing process holds the locks of its pages until we
	 * answer, and an invalidation of those pages queued before the barrier (ours above
	 * for an append, or a replay's) would wait for it forever.
	 */
	if (invals)
		fh->need_barrier = 1;
	pub_finish(p);
}

static int pub_send(struct pub *p)
{
	struct zfh *fh = p->fh;
	int32_t version = fh->view == V_VERSION || fh->append ? fh->base_version : -1;

	if (fh->create_pending) {
		/* a new file: created with its data, one txn and one version */
		p->creating = 1;
		p->ex = expect_for(fh->view, ZEV_CREATED, fh->path);
		if (zkc_create(g_fs->zk, fh->path, p->data, (int32_t)p->len, NULL, ZMODE_PERSISTENT,
			       pub_cb, p)) {
			/* not sent: give up the deferral (what waits for it must not loop) */
			expect_remove(p->ex);
			p->creating = 0;
			fh->create_pending = 0;
			if (fh->in && fh->in->creating == fh)
				fh->in->creating = NULL;
			return -1;
		}
		return 0;
	}
	p->ex = expect_for(fh->view, ZEV_DATA_CHANGED, fh->path);
	if (zkc_set_data(g_fs->zk, fh->path, p->data, (int32_t)p->len, version, pub_cb, p)) {
		expect_remove(p->ex);
		return -1;
	}
	return 0;
}

static void pub_refetched(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct pub *p = arg;
	struct zfh *fh = p->fh;
	size_t base = r && r->data_len > 0 ? (size_t)r->data_len : 0;
	uint8_t *nd;

	if (rc) {
		p->err = zkfs_errno(rc);
		fh->err = p->err;
		pub_finish(p);
		return;
	}
	nd = malloc(base + p->app_len + 1);
	if (!nd || base + p->app_len > max_data(fh->path)) {
		free(nd);
		p->err = nd ? EFBIG : ENOMEM;
		fh->err = p->err;
		pub_finish(p);
		return;
	}
	if (base)
		memcpy(nd, r->data, base);
	memcpy(nd + base, fh->app, p->app_len);
	free(p->data);
	p->data = nd;
	p->len = base + p->app_len;
	fh->base_version = r->stat.version;
	if (pub_send(p)) {
		p->err = EIO;
		pub_finish(p);
	}
}

/* Publishes the handle's content if it changed; fn(err, arg) when done. */
static void publish(struct zfh *fh, void (*fn)(int, void *), void *arg)
{
	struct pub *p;

	if (fh->publishing) {
		struct pubwait *w = malloc(sizeof(*w)), **pp;

		if (!w) {
			fn(ENOMEM, arg);
			return;
		}
		w->fn = fn;
		w->arg = arg;
		w->next = NULL;
		for (pp = &fh->waiters; *pp; pp = &(*pp)->next)
			;
		*pp = w;
		return;
	}
	if (fh->err) {
		int e = fh->err;

		fh->err = 0;
		fn(e, arg);
		return;
	}
	if (!fh->dirty && !fh->trunc_pending && !fh->create_pending) {
		fn(0, arg);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		fn(ENOMEM, arg);
		return;
	}
	p->fh = fh;
	p->gen = fh->gen;
	p->len = fh->append ? fh->len + fh->app_len : fh->len;
	p->app_len = fh->app_len;
	if (p->len > max_data(fh->path)) {
		free(p);
		fn(EFBIG, arg);
		return;
	}
	p->data = malloc(p->len + 1);
	if (!p->data) {
		free(p);
		fn(ENOMEM, arg);
		return;
	}
	if (fh->len)
		memcpy(p->data, fh->data, fh->len);
	if (fh->append && fh->app_len)
		memcpy(p->data + fh->len, fh->app, fh->app_len);
	fh->publishing = 1;
	{
		struct pubwait *w = malloc(sizeof(*w));

		if (!w) {
			fh->publishing = 0;
			free(p->data);
			free(p);
			fn(ENOMEM, arg);
			return;
		}
		w->fn = fn;
		w->arg = arg;
		w->next = NULL;
		fh->waiters = w;
	}
	if (pub_send(p)) {
		p->err = EIO;
		pub_finish(p);
	}
}

/* The waiter list holds the publisher itself first; publish() for it again finds the
 * content clean and answers at once. */

static void ignore_cb(int err, void *arg)
{
	if (err)
		log_warn("publishing '%s' failed: %s", (char *)arg, strerror(err));
	free(arg);
}

static void debounce_cb(uv_timer_t *t)
{
	struct zfh *fh = (struct zfh *)t;
	char *p = strdup(fh->path);

	if (p)
		publish(fh, ignore_cb, p);
}

int fh_writable(const struct zfh *fh)
{
	return fh && fh->writable && !fh->noop;
}

/* ftruncate on a writable handle: the handle's content changes and is published like a
 * write. */
int fh_truncate(struct zfh *fh, size_t ns)
{
	if (fh->append) {
		/* ftruncate on an O_APPEND handle: fold the appended bytes in first */
		if (buf_reserve(&fh->data, &fh->cap, fh->len + fh->app_len + 1))
			return ENOMEM;
		memcpy(fh->data + fh->len, fh->app, fh->app_len);
		fh->len += fh->app_len;
		fh->app_len = 0;
		fh->append = 0;
	}
	if (buf_reserve(&fh->data, &fh->cap, ns + 1))
		return ENOMEM;
	if (ns > fh->len)
		memset(fh->data + fh->len, 0, ns - fh->len);
	fh->len = ns;
	fh->dirty = 1;
	fh->gen++;
	uv_timer_start(&fh->debounce, debounce_cb, DEBOUNCE_MS, 0);
	return 0;
}

/* ---- open / create ---------------------------------------------------------------------- */

static void reply_open_now(fuse_req_t req, struct zfh *fh, struct fuse_file_info *fi)
{
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi))
		fh_free(fh);
}

struct openq {
	fuse_req_t req;
	struct fuse_file_info fi;
	struct zfh *fh;
	struct fuse_entry_param e;	/* create */
	int create;
};

static void open_ready(void *arg)
{
	struct openq *o = arg;

	o->fi.fh = (uint64_t)(uintptr_t)o->fh;
	o->fi.keep_cache = 1;
	if (o->create) {
		if (fuse_reply_create(o->req, &o->e, &o->fi)) {
			inode_forget(o->fh->in, 1);
			fh_free(o->fh);
		}
	} else if (fuse_reply_open(o->req, &o->fi)) {
		fh_free(o->fh);
	}
	free(o);
}

static void open_fetched(int rc, const struct zk_stat *st, int null_data,
			 const struct zk_resp *d, void *arg)
{
	struct openq *o = arg;
	struct zfh *fh = o->fh;

	if (rc) {
		fuse_reply_err(o->req, zkfs_errno(rc));
		goto fail;
	}
	if (fh->in->czxid && st->czxid != fh->in->czxid) {
		fuse_reply_err(o->req, ENOENT);
		goto fail;
	}
	if (fh->view == V_VERSION && st->version != fh->vversion) {
		fuse_reply_err(o->req, ESTALE);
		goto fail;
	}
	fh->base_version = fh->view == V_VERSION ? fh->vversion : fh->append ? st->version : -1;
	if (fh->trunc_pending)
		fh->len = 0;
	else if (fh_set_content(fh, d ? d->data : NULL, d ? d->data_len : 0)) {
		fuse_reply_err(o->req, ENOMEM);
		goto fail;
	}
	inode_after_inval(fh->in, open_ready, o);
	return;
fail:
	fh_free(fh);
	free(o);
}

struct commitw {
	void (*fn)(void *);
	void *arg;
};

static void commit_done(int err, void *arg)
{
	struct commitw *w = arg;

	w->fn(w->arg);
	free(w);
}

int fh_commit_then(struct zinode *in, void (*fn)(void *), void *arg)
{
	struct commitw *w;

	if (!in || !in->creating || !(w = malloc(sizeof(*w))))
		return 0;
	w->fn = fn;
	w->arg = arg;
	uv_timer_stop(&in->creating->debounce);
	publish(in->creating, commit_done, w);
	return 1;
}

struct open_again {
	fuse_req_t req;
	fuse_ino_t ino;
	struct fuse_file_info fi;
};

static void open_again_cb(void *arg)
{
	struct open_again *a = arg;

	op_open(a->req, a->ino, &a->fi);
	free(a);
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	struct openq *o;
	struct zfh *fh;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->creating && !notifier_is_caller(req)) {
		struct open_again *a = malloc(sizeof(*a));

		if (a) {
			a->req = req;
			a->ino = ino;
			a->fi = *fi;
			if (fh_commit_then(in, open_again_cb, a))
				return;
			free(a);
		}
	}
	if (in->is_dir || in->kind != K_NODE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fh = fh_new(in, fi->flags);
	if (!fh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (notifier_is_caller(req)) {
		fh->noop = 1;
		fh->writable = 0;
		reply_open_now(req, fh, fi);
		return;
	}
	if (fh->writable && g_fs->o.ro) {
		fh_free(fh);
		fuse_reply_err(req, EROFS);
		return;
	}
	if (fh->writable) {
		uv_timer_init(g_fs->loop, &fh->debounce);
		fh->timer_init = 1;
	}
	if (fh->writable && (fi->flags & O_TRUNC)) {
		fh->trunc_pending = 1;
		fh->len = 0;
		if (fh->view != V_VERSION && !fh->append) {
			reply_open_now(req, fh, fi);
			return;
		}
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		fh_free(fh);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	o->req = req;
	o->fi = *fi;
	o->fh = fh;
	/* a cached copy kept current by the persistent watch serves the open */
	if (!fh->writable && g_fs->cache_trusted && in->data_valid && in->have_st &&
	    !in->deleted && in->view == V_NONE) {
		struct zk_resp r;

		memset(&r, 0, sizeof(r));
		r.type = ZOP_GETDATA;
		r.data = in->data;
		r.data_len = in->data_null ? -1 : in->data_len;
		r.stat = in->st;
		open_fetched(0, &in->st, in->data_null, &r, o);
		return;
	}
	fetch_node(in->path, 1, open_fetched, o);
}

static void reply_slice(fuse_req_t req, const uint8_t *d, size_t len, const uint8_t *d2,
			size_t len2, size_t size, off_t off)
{
	size_t n;

	if (off < 0 || (size_t)off >= len + len2) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((size_t)off < len) {
		n = len - (size_t)off;
		fuse_reply_buf(req, (const char *)d + off, n > size ? size : n);
		return;
	}
	n = len2 - ((size_t)off - len);
	fuse_reply_buf(req, (const char *)d2 + ((size_t)off - len), n > size ? size : n);
}

struct readq {
	fuse_req_t req;
	fuse_ino_t ino;
	size_t size;
	off_t off;
};

static void read_fetched(int rc, const struct zk_stat *st, int null_data,
			 const struct zk_resp *d, void *arg)
{
	struct readq *q = arg;

	if (rc)
		fuse_reply_err(q->req, zkfs_errno(rc));
	else
		reply_slice(q->req, d->data, d->data_len > 0 ? (size_t)d->data_len : 0, NULL, 0,
			    q->size, q->off);
	free(q);
}

/*
 * Read-only handles read the newest data this mount knows, never a snapshot from their open:
 * every read fills the kernel's shared page cache, and a stale snapshot filling it after an
 * invalidation would hand old data to a later reader (a lost update in counter.sh).
 */
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;
	struct zinode *in = fh->in;
	struct readq *q;

	if (fh->noop) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (fh->writable || !g_fs->cache_trusted || !in || in->deleted) {
		reply_slice(req, fh->data, fh->len, fh->app, fh->append ? fh->app_len : 0, size, off);
		return;
	}
	if (in->data_valid) {
		reply_slice(req, in->data, (size_t)in->data_len, NULL, 0, size, off);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->ino = ino;
	q->size = size;
	q->off = off;
	fetch_node(in->path, 1, read_fetched, q);
}

struct writeq {
	fuse_req_t req;
	size_t size;
};

static void write_done(int err, void *arg)
{
	struct writeq *w = arg;

	if (err)
		fuse_reply_err(w->req, err);
	else
		fuse_reply_write(w->req, w->size);
	free(w);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;
	struct writeq *w;

	if (fh->noop) {
		fuse_reply_write(req, size);
		return;
	}
	if (fh->err) {
		int e = fh->err;

		fh->err = 0;
		fuse_reply_err(req, e);
		return;
	}
	if (fh->append) {
		if (fh->len + fh->app_len + size > max_data(fh->path)) {
			fuse_reply_err(req, EFBIG);
			return;
		}
		{
			uint8_t *n = realloc(fh->app, fh->app_len + size + 1);

			if (!n) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
			fh->app = n;
		}
		memcpy(fh->app + fh->app_len, buf, size);
		fh->app_len += size;
	} else {
		size_t end = (size_t)off + size;

		if (off < 0 || end > max_data(fh->path)) {
			fuse_reply_err(req, EFBIG);
			return;
		}
		if (buf_reserve(&fh->data, &fh->cap, end + 1)) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if ((size_t)off > fh->len)
			memset(fh->data + fh->len, 0, (size_t)off - fh->len);
		memcpy(fh->data + off, buf, size);
		if (end > fh->len)
			fh->len = end;
	}
	fh->dirty = 1;
	fh->gen++;
	if (size % 4096 != 0) {
		/* looks like the last piece: publish now so errors reach write() */
		w = malloc(sizeof(*w));
		if (!w) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		w->req = req;
		w->size = size;
		uv_timer_stop(&fh->debounce);
		publish(fh, write_done, w);
		return;
	}
	uv_timer_start(&fh->debounce, debounce_cb, DEBOUNCE_MS, 0);
	fuse_reply_write(req, size);
}

struct flushq {
	fuse_req_t req;
	struct zfh *fh;		/* alive: RELEASE comes after the last FLUSH */
};

static void flush_barrier_cb(void *arg)
{
	fuse_reply_err((fuse_req_t)arg, 0);
}

/* Answers a FLUSH/FSYNC once the other views' invalidations of our writes are done. */
static void flush_after_barrier(fuse_req_t req, struct zfh *fh, int err)
{
	if (!err && fh->need_barrier) {
		fh->need_barrier = 0;
		nt_barrier(flush_barrier_cb, req);
		return;
	}
	fuse_reply_err(req, err);
}

static void flush_published(int err, void *arg)
{
	struct flushq *q = arg;

	flush_after_barrier(q->req, q->fh, err);
	free(q);
}

static void flush_publish(fuse_req_t req, struct zfh *fh)
{
	struct flushq *q = malloc(sizeof(*q));

	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->fh = fh;
	publish(fh, flush_published, q);
}

/*
 * Whether the process closing fh still has the file open on another descriptor, as bash's
 * "> f" does (open, dup2, close, then the writes). Reads /proc/PID/fd, whose links the
 * kernel resolves from its dentry cache without asking us (no FUSE request, no deadlock).
 * Unknown (no /proc, a path too long): 1, i.e. wait as before.
 */
static int caller_holds_file(fuse_req_t req, const struct zfh *fh)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const char *mnt = strcmp(g_fs->o.mountpoint, "/") ? g_fs->o.mountpoint : "";
	char dir[64], want[PATH_MAX], got[PATH_MAX], link[64 + 256];
	struct dirent *e;
	int held = 0;
	DIR *d;

	if ((size_t)snprintf(want, sizeof(want), "%s%s", mnt, fh->path) >= sizeof(want))
		return 1;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)ctx->pid);
	d = opendir(dir);
	if (!d)
		return 1;
	while (!held && (e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, got, sizeof(got) - 1);
		if (n <= 0)
			continue;
		got[n] = 0;
		held = !strcmp(got, want);
	}
	closedir(d);
	return held;
}

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;

	if (fh->create_pending && !fh->dirty && !fh->publishing &&
	    (fh->empty_flushes++ > 0 || !caller_holds_file(req, fh))) {
		/*
		 * A new file closed without a write. bash's "> f" closes it twice (the dup2'd
		 * copy, then the restore) and a write can only follow the first close, while
		 * that copy is still open; so create at a close that leaves the caller no other
		 * descriptor (creat() + close(), Python's open().close()) or at the second one,
		 * and other clients see the file when close returns.
		 */
		uv_timer_stop(&fh->debounce);
		flush_publish(req, fh);
		return;
	}
	if (fh->noop || !fh->writable ||
	    (!fh->dirty && !fh->publishing && !fh->err && !fh->need_barrier)) {
		fuse_reply_err(req, 0);
		return;
	}
	uv_timer_stop(&fh->debounce);
	/* a truncation with nothing written is left to RELEASE: see the header comment */
	if (!fh->dirty && !fh->publishing) {
		int e = fh->err;

		fh->err = 0;
		flush_after_barrier(req, fh, e);
		return;
	}
	flush_publish(req, fh);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;

	if (fh->noop || !fh->writable) {
		fuse_reply_err(req, 0);
		return;
	}
	uv_timer_stop(&fh->debounce);
	flush_publish(req, fh);
}

struct relq {
	fuse_req_t req;
	struct zfh *fh;
	struct zexpect *ex;
};

static void release_deleted(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct relq *q = arg;

	expect_remove(q->ex);
	if (rc == 0) {
		mark_deleted(q->fh->path);
		parent_changed(q->fh->path);
	} else if (rc != ZNONODE) {
		log_warn("deleting ephemeral '%s' failed: %s", q->fh->path, zk_strerror(rc));
	}
	fh_free(q->fh);
	free(q);
}

static void release_published(int err, void *arg)
{
	struct relq *q = arg;
	struct zfh *fh = q->fh;

	if (err)
		log_warn("writing '%s' at close failed: %s", fh->path, strerror(err));
	if (fh->ephemeral) {
		fh->ephemeral = 0;
		q->ex = expect_for(fh->view, ZEV_DELETED, fh->path);
		if (zkc_delete(g_fs->zk, fh->path, -1, release_deleted, q) == 0)
			return;
		expect_remove(q->ex);
	}
	fh_free(fh);
	free(q);
}

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;
	struct relq *q;

	/* RELEASE is asynchronous for the caller: answer now, finish in the background */
	fuse_reply_err(req, 0);
	if (fh->timer_init)
		uv_timer_stop(&fh->debounce);
	q = calloc(1, sizeof(*q));
	if (!q) {
		fh_free(fh);
		return;
	}
	q->fh = fh;
	fh->err = 0;
	if (fh->writable && !fh->noop)
		publish(fh, release_published, q);
	else
		release_published(0, q);
}

/* ---- create / mknod / mkdir ------------------------------------------------------------ */

struct createq {
	fuse_req_t req;
	struct fuse_file_info fi;
	int has_fi;
	int view;
	int is_dir;
	int flags;
	char *path;
	struct zexpect *ex;
};

static void create_existing_fetched(int rc, const struct zk_stat *st, int null_data,
				    const struct zk_resp *d, void *arg);

static void create_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct createq *q = arg;
	struct zinode *in;
	int seq = q->flags == ZMODE_PERSISTENT_SEQUENTIAL || q->flags == ZMODE_EPHEMERAL_SEQUENTIAL;

	expect_remove(q->ex);
	q->ex = NULL;
	if (rc == ZNODEEXISTS && q->has_fi && !(q->fi.flags & O_EXCL) && !seq) {
		/* a stale negative entry: open the node that is there */
		fetch_node(q->path, 1, create_existing_fetched, q);
		return;
	}
	if (rc) {
		fuse_reply_err(q->req, zkfs_errno(rc));
		goto out;
	}
	if (seq)
		in = inode_add_unique(q->view, r->path, r->stat.czxid, q->is_dir);
	else
		in = inode_find_or_add(K_NODE, q->view, 0, q->path, r->stat.czxid, q->is_dir);
	if (!in) {
		fuse_reply_err(q->req, ENOMEM);
		goto out;
	}
	in->deleted = 0;
	inode_set_stat(in, &r->stat);
	inode_set_data(in, NULL, q->is_dir ? -1 : 0);
	parent_changed(r->path);
	if (q->view == V_NONE) {
		watch_child_note(r->path, 1);
		if (q->is_dir)
			watch_dir_known(r->path);
	}
	watch_node_known(r->path);
	if (q->has_fi) {
		struct zfh *fh = fh_new(in, q->fi.flags);
		struct fuse_entry_param e;

		if (!fh) {
			fuse_reply_err(q->req, ENOMEM);
			goto out;
		}
		uv_timer_init(g_fs->loop, &fh->debounce);
		fh->timer_init = 1;
		fh->writable = 1;
		fh->base_version = q->view == V_VERSION ? 0 : -1;
		if (q->flags == ZMODE_EPHEMERAL || q->flags == ZMODE_EPHEMERAL_SEQUENTIAL) {
			fh->ephemeral = 1;
			fh->eph_flags = ZMODE_EPHEMERAL;
			fh->next_eph = g_fs->ephemerals;
			g_fs->ephemerals = fh;
		}
		memset(&e, 0, sizeof(e));
		e.ino = in->ino;
		zkfs_fill_attr(in, &e.attr);
		e.attr_timeout = attr_timeout(in);
		e.entry_timeout = seq ? 0 : entry_timeout(in);
		in->nlookup++;
		q->fi.fh = (uint64_t)(uintptr_t)fh;
		q->fi.keep_cache = 1;
		if (fuse_reply_create(q->req, &e, &q->fi)) {
			inode_forget(in, 1);
			fh_free(fh);
		}
	} else {
		reply_entry(q->req, in);
	}
out:
	free(q->path);
	free(q);
}

static void create_existing_fetched(int rc, const struct zk_stat *st, int null_data,
				    const struct zk_resp *d, void *arg)
{
	struct createq *q = arg;
	struct zinode *in;
	struct openq *o;
	struct zfh *fh;

	if (rc) {
		fuse_reply_err(q->req, zkfs_errno(rc));
		goto out;
	}
	if (shown_as_dir(q->view, st, null_data)) {
		fuse_reply_err(q->req, EISDIR);
		goto out;
	}
	in = inode_find_or_add(K_NODE, q->view, 0, q->path, st->czxid, 0);
	o = calloc(1, sizeof(*o));
	fh = in ? fh_new(in, q->fi.flags) : NULL;
	if (!in || !o || !fh) {
		free(o);
		if (fh)
			fh_free(fh);
		fuse_reply_err(q->req, ENOMEM);
		goto out;
	}
	in->deleted = 0;
	inode_set_stat(in, st);
	uv_timer_init(g_fs->loop, &fh->debounce);
	fh->timer_init = 1;
	if (q->fi.flags & O_TRUNC)
		fh->trunc_pending = 1;
	o->req = q->req;
	o->fi = q->fi;
	o->fh = fh;
	o->create = 1;
	o->e.ino = in->ino;
	zkfs_fill_attr(in, &o->e.attr);
	o->e.attr_timeout = attr_timeout(in);
	o->e.entry_timeout = entry_timeout(in);
	in->nlookup++;
	open_fetched(0, st, null_data, d, o);
out:
	free(q->path);
	free(q);
}

/* Common checks for making a new name in parent; returns the new path or NULL (replied). */
static char *new_name_path(fuse_req_t req, struct zinode *p, const char *name)
{
	char *path;

	if (!p || (p->kind == K_VIEWROOT && p->view == V_VERSION)) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return NULL;
	}
	if (g_fs->o.ro) {
		fuse_reply_err(req, EROFS);
		return NULL;
	}
	if (p->ino == FUSE_ROOT_ID) {
		int v;

		for (v = 1; v < V_COUNT; v++) {
			if (strcmp(name, view_names[v]) == 0) {
				fuse_reply_err(req, EEXIST);
				return NULL;
			}
		}
	}
	if (!name_ok(name)) {
		fuse_reply_err(req, EINVAL);
		return NULL;
	}
	path = path_join(p->path, name);
	if (!path)
		fuse_reply_err(req, ENOMEM);
	return path;
}

/*
 * A new file opened for writing is created by its first publish, with its data: one txn
 * instead of create + setData, and watchers never see it empty. Its inode exists at once
 * (czxid 0 until the create); the parent is checked from the cache at open, which the
 * persistent watch keeps current (so only then: cache_trusted, the plain tree), and
 * O_EXCL, ephemeral and sequential creates are made at open as before. The create is sent
 * by the first write that publishes, fsync, a FLUSH after an earlier empty one, SETATTR
 * (touch), any other operation of this mount on the file (fh_commit_then), 200 ms after
 * open, or RELEASE; its errors reach write() (or the operation that waited).
 * Returns 0 when it took the request (and path).
 */
static int deferred_create(fuse_req_t req, struct zinode *p, char *path,
			   struct fuse_file_info *fi)
{
	struct zinode *in;
	struct zfh *fh;
	struct fuse_entry_param e;
	struct zk_stat st;
	struct timespec now;

	if (!g_fs->cache_trusted || p->kind != K_NODE || p->view != V_NONE ||
	    (!p->have_st && p->ino != FUSE_ROOT_ID) || p->deleted || (fi->flags & (O_EXCL | O_APPEND)) || (fi->flags & O_ACCMODE) == O_RDONLY)
		return -1;
	if (p->st.ephemeral_owner) {
		fuse_reply_err(req, EPERM);	/* ZNOCHILDRENFOREPHEMERALS */
		free(path);
		return 0;
	}
	in = inode_find_or_add(K_NODE, V_NONE, 0, path, 0, 0);
	if (!in || in->creating || in->nlookup > 0)
		return -1;	/* an earlier deferred create of the name is still open */
	fh = fh_new(in, fi->flags);
	if (!fh)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&st, 0, sizeof(st));
	st.ctime = st.mtime = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	in->deleted = 0;
	inode_set_stat(in, &st);
	inode_set_data(in, NULL, 0);
	in->creating = fh;
	uv_timer_init(g_fs->loop, &fh->debounce);
	fh->timer_init = 1;
	fh->writable = 1;
	fh->create_pending = 1;
	uv_timer_start(&fh->debounce, debounce_cb, DEBOUNCE_MS, 0);
	memset(&e, 0, sizeof(e));
	e.ino = in->ino;
	zkfs_fill_attr(in, &e.attr);
	e.attr_timeout = attr_timeout(in);
	e.entry_timeout = entry_timeout(in);
	in->nlookup++;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi)) {
		inode_forget(in, 1);
		fh_free(fh);
	}
	free(path);
	return 0;
}

static void do_create(fuse_req_t req, struct zinode *p, char *path, int is_dir,
		      struct fuse_file_info *fi)
{
	struct createq *q;
	int flags = view_flags(p->view);
	int seq;

	if (fi && !is_dir && view_flags(p->view) == ZMODE_PERSISTENT &&
	    deferred_create(req, p, path, fi) == 0)
		return;
	q = calloc(1, sizeof(*q));

	if (!q) {
		free(path);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (is_dir && (flags == ZMODE_EPHEMERAL))
		flags = ZMODE_PERSISTENT;	/* ephemerals cannot hold children */
	if (is_dir && flags == ZMODE_EPHEMERAL_SEQUENTIAL)
		flags = ZMODE_PERSISTENT_SEQUENTIAL;
	seq = flags == ZMODE_PERSISTENT_SEQUENTIAL || flags == ZMODE_EPHEMERAL_SEQUENTIAL;
	q->req = req;
	q->view = p->kind == K_VERSIONDIR ? V_VERSION : p->view;
	q->is_dir = is_dir;
	q->flags = flags;
	q->path = path;
	if (fi) {
		q->fi = *fi;
		q->has_fi = 1;
	}
	q->ex = expect_for(q->view, seq ? ZEV_CREATED + 100 : ZEV_CREATED, path);
	if (zkc_create(g_fs->zk, path, "", is_dir ? -1 : 0, NULL, flags, create_cb, q)) {
		expect_remove(q->ex);
		free(q->path);
		free(q);
		fuse_reply_err(req, EIO);
	}
}

/* A replayed create from the notifier: answer with the node that now exists. */
static void op_lookup_for_notifier(fuse_req_t req, struct zinode *p, const char *name)
{
	char *path = path_join(p->path, name);

	if (!path) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	start_lookup(req, p->view, p->vversion, path);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct zinode *p = inode_get(parent);
	char *path;

	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (p && p->kind == K_VERSIONDIR) {
		/* compare-and-set works on existing nodes only */
		fuse_reply_err(req, ENOENT);
		return;
	}
	path = new_name_path(req, p, name);
	if (path)
		do_create(req, p, path, 0, fi);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct zinode *p = inode_get(parent);
	char *path;

	if (p && notifier_is_caller(req)) {
		op_lookup_for_notifier(req, p, name);
		return;
	}
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (p && p->kind == K_VERSIONDIR) {
		fuse_reply_err(req, EPERM);
		return;
	}
	path = new_name_path(req, p, name);
	if (path)
		do_create(req, p, path, 0, NULL);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct zinode *p = inode_get(parent);
	char *path;

	if (p && notifier_is_caller(req)) {
		op_lookup_for_notifier(req, p, name);
		return;
	}
	if (p && p->kind == K_VERSIONDIR) {
		fuse_reply_err(req, EPERM);
		return;
	}
	path = new_name_path(req, p, name);
	if (path)
		do_create(req, p, path, 1, NULL);
}

/* ---- session expiry ----------------------------------------------------------------- */

struct recq {
	char *path;
	struct zexpect *ex;
};

static void adopt_one(struct zinode *in, void *arg)
{
	const struct zk_stat *st = arg;

	in->czxid = st->czxid;
	in->deleted = 0;
	inode_set_stat(in, st);
}

static void recreate_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct recq *q = arg;

	expect_remove(q->ex);
	if (rc == 0)
		inode_foreach_path(q->path, adopt_one, (void *)&r->stat);
	else
		log_warn("re-creating ephemeral '%s' after session expiry failed: %s", q->path,
			 zk_strerror(rc));
	free(q->path);
	free(q);
}

void zkfs_recreate_ephemerals(void)
{
	struct zfh *fh;

	for (fh = g_fs->ephemerals; fh; fh = fh->next_eph) {
		struct recq *q = calloc(1, sizeof(*q));
		uint8_t *d;
		size_t len = fh->len + (fh->append ? fh->app_len : 0);

		if (!q || !(q->path = strdup(fh->path)) || !(d = malloc(len + 1))) {
			if (q)
				free(q->path);
			free(q);
			continue;
		}
		memcpy(d, fh->data ? fh->data : (uint8_t *)"", fh->len);
		if (fh->append && fh->app_len)
			memcpy(d + fh->len, fh->app, fh->app_len);
		q->ex = expect_for(fh->view, ZEV_CREATED, fh->path);
		log_info("re-creating ephemeral '%s' in the new session", fh->path);
		if (zkc_create(g_fs->zk, fh->path, d, (int32_t)len, NULL, ZMODE_EPHEMERAL,
			       recreate_cb, q)) {
			expect_remove(q->ex);
			free(q->path);
			free(q);
		}
		free(d);
	}
}

