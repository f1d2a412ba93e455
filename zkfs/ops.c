/*
 * The FUSE low-level operations of zkfs (DESIGN.md §3). Every operation that needs the
 * server submits ZooKeeper requests and answers the kernel from their callbacks; nothing
 * here blocks the loop.
 *
 * Writes: a handle keeps the whole new content; it is published with one setData when a
 * write looks final (its size is not a multiple of the page size, which is what a shell's
 * echo or the last chunk of cp produce), at FLUSH/FSYNC when writes are pending, 200 ms
 * after the last write on a handle kept open, and at RELEASE. An O_TRUNC at open is only
 * published with the first write (so watchers never see an empty intermediate), or at
 * RELEASE when nothing was written (": > f"). A FLUSH with no writes behind it commits
 * nothing.
 *
 * Own changes vs remote ones: before sending a write through the plain tree we register the
 * events it will cause (expect_for); the server sends those events before the write's reply,
 * so the watch callback consumes them and only replays the other changes (other clients',
 * and ours made through a view, which the kernel saw under the view's name only).
 */
#include "zkfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LONG_TIMEOUT 3600.0
#define DEBOUNCE_MS 200
#define APPEND_RETRIES 20

static const char *view_names[V_COUNT] = {
	[V_DATA] = ".data", [V_EPH] = ".ephemeral", [V_SEQ] = ".sequential",
	[V_EPHSEQ] = ".ephemeral-sequential", [V_VERSION] = ".version",
};

int zkfs_errno(int zerr)
{
	switch (zerr) {
	case ZOK: return 0;
	case ZNONODE: return ENOENT;
	case ZNODEEXISTS: return EEXIST;
	case ZNOTEMPTY: return ENOTEMPTY;
	case ZNOAUTH: return EACCES;
	case ZAUTHFAILED: return EACCES;
	case ZBADVERSION: return ESTALE;
	case ZBADARGUMENTS: return EINVAL;
	case ZINVALIDACL: return EINVAL;
	case ZNOCHILDRENFOREPHEMERALS: return EPERM;
	case ZOPERATIONTIMEOUT: return ETIMEDOUT;
	case ZNOTREADONLY: return EROFS;
	case ZUNIMPLEMENTED: return ENOTSUP;
	case ZQUOTAEXCEEDED: return EDQUOT;
	}
	return EIO;
}

/* ---- paths and names -------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return p;
}

char *path_parent(const char *path)
{
	const char *sl = strrchr(path, '/');

	if (!sl || sl == path)
		return strdup("/");
	return strndup(path, (size_t)(sl - path));
}

const char *path_base(const char *path)
{
	const char *sl = strrchr(path, '/');

	return sl ? sl + 1 : path;
}

/* PathUtils.validatePath for one component (client-protocol.md §7.14), on UTF-8 bytes. */
static int name_ok(const char *n)
{
	const uint8_t *p = (const uint8_t *)n;
	size_t l = strlen(n);

	if (l == 0 || l > 255 || !strcmp(n, ".") || !strcmp(n, ".."))
		return 0;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 0;	/* U+0080-U+009F */
		if (p[0] == 0xed && p[1] >= 0xa0)
			return 0;	/* surrogates U+D800-U+DFFF */
		if (p[0] == 0xee)
			return 0;	/* U+E000-U+EFFF */
		if (p[0] == 0xef && p[1] >= 0x80 && p[1] <= 0xa3)
			return 0;	/* U+F000-U+F8FF */
		if (p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xb0)
			return 0;	/* U+FFF0-U+FFFF */
	}
	return 1;
}

static int view_flags(int view)
{
	switch (view) {
	case V_EPH: return ZMODE_EPHEMERAL;
	case V_SEQ: return ZMODE_PERSISTENT_SEQUENTIAL;
	case V_EPHSEQ: return ZMODE_EPHEMERAL_SEQUENTIAL;
	}
	return ZMODE_PERSISTENT;
}

/* Directory or file, per view (DESIGN.md §3). */
int shown_as_dir(int view, const struct zk_stat *st, int null_data)
{
	switch (view) {
	case V_NONE:
		return st->num_children > 0 || null_data;
	case V_EPH: case V_SEQ: case V_EPHSEQ:
		/* existing nodes are path components of a create, including the empty leaves
		 * kazoo's ensure_path leaves behind; a leaf with data (or an ephemeral, which
		 * cannot have children) is a file, so an O_EXCL create of it is EEXIST */
		return st->num_children > 0 || null_data ||
		       (st->data_length == 0 && st->ephemeral_owner == 0);
	default:
		return st->num_children > 0;
	}
}

static double entry_timeout(const struct zinode *in)
{
	if (in->kind != K_NODE)
		return LONG_TIMEOUT;
	if (in->view != V_NONE)
		return 0;
	return g_fs->timeout_s;
}

static double attr_timeout(const struct zinode *in)
{
	if (in->kind != K_NODE)
		return LONG_TIMEOUT;
	if (in->view != V_NONE)
		return 0;
	return g_fs->timeout_s;
}

void zkfs_fill_attr(const struct zinode *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_uid = g_fs->uid;
	st->st_gid = g_fs->gid;
	st->st_blksize = 4096;
	if (in->kind != K_NODE) {
		st->st_ino = (1ULL << 62) | in->ino;
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	if (in->ino == FUSE_ROOT_ID)
		st->st_ino = 1;
	else if (in->view == V_NONE && in->czxid)
		st->st_ino = (ino_t)in->czxid;
	else
		st->st_ino = (1ULL << 62) | in->ino;
	st->st_mode = in->is_dir ? (S_IFDIR | 0755) : (S_IFREG | 0644);
	if (g_fs->o.ro)
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = in->is_dir ? 2 : 1;
	st->st_size = in->st.data_length;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim.tv_sec = in->st.mtime / 1000;
	st->st_mtim.tv_nsec = (in->st.mtime % 1000) * 1000000;
	st->st_atim = st->st_mtim;
	st->st_ctim.tv_sec = in->st.ctime / 1000;
	st->st_ctim.tv_nsec = (in->st.ctime % 1000) * 1000000;
}

static void reply_entry(fuse_req_t req, struct zinode *in)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = in->ino;
	zkfs_fill_attr(in, &e.attr);
	e.attr_timeout = attr_timeout(in);
	e.entry_timeout = entry_timeout(in);
	in->nlookup++;
	if (fuse_reply_entry(req, &e))
		inode_forget(in, 1);
}

static void reply_attr(fuse_req_t req, struct zinode *in, off_t size_override)
{
	struct stat st;

	zkfs_fill_attr(in, &st);
	if (size_override >= 0) {
		st.st_size = size_override;
		st.st_blocks = (st.st_size + 511) / 512;
	}
	fuse_reply_attr(req, &st, attr_timeout(in));
}

/* ---- expectations ------------------------------------------------------------------------ */

struct zexpect *expect_add(int type, const char *path)
{
	struct zexpect *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->type = type;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return NULL;
	}
	e->next = g_fs->expects;
	g_fs->expects = e;
	return e;
}

/*
 * Only changes made through the plain tree announce themselves there: one made through a
 * view (.ephemeral/x, .version/N/x, .data/x) shows in the kernel under the view's name only,
 * so a watcher of the plain tree on this same mount gets it replayed like a remote change.
 */
static struct zexpect *expect_for(int view, int type, const char *path)
{
	return view == V_NONE ? expect_add(type, path) : NULL;
}

void expect_remove(struct zexpect *e)
{
	struct zexpect **pp;

	if (!e)
		return;
	for (pp = &g_fs->expects; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e->path);
			free(e);
			return;
		}
	}
}

/* A sequential create's expectation is its template path followed by the 10-digit suffix
 * (type + 100 marks it). */
int expect_consume(int type, const char *path)
{
	struct zexpect **pp, *e;

	for (pp = &g_fs->expects; (e = *pp); pp = &e->next) {
		size_t l = strlen(e->path);
		int hit = 0;

		if (e->type == type && strcmp(e->path, path) == 0)
			hit = 1;
		else if (e->type == type + 100 && strncmp(e->path, path, l) == 0 &&
			 strlen(path) == l + 10)
			hit = 1;
		if (hit) {
			/* an expectation stands for one event; keep the record (removed at reply)
			 * but make it match nothing more */
			e->type = -1000;
			return 1;
		}
	}
	return 0;
}

/* ---- cache updates ---------------------------------------------------------------------- */

struct upd {
	const struct zk_stat *st;
	const uint8_t *data;
	int32_t len;
	int have_data;
	struct zinode *exclude;
	int invals;
};

static void upd_one(struct zinode *in, void *arg)
{
	struct upd *u = arg;
	int changed;

	if (in->czxid && u->st->czxid != in->czxid)
		return;		/* another incarnation of the path */
	if (in->deleted)
		return;
	changed = in->have_st && in->st.mzxid != u->st->mzxid;
	inode_set_stat(in, u->st);
	if (u->have_data)
		inode_set_data(in, u->data, u->len);
	if (changed && in != u->exclude && in->nlookup > 0 && !in->is_dir) {
		nt_inval_inode(in, 1);
		u->invals++;
	} else if (changed && in != u->exclude && in->nlookup > 0) {
		nt_inval_inode(in, 0);
		u->invals++;
	}
}

/* Records a fresh stat (and data when have_data) for every inode of path; queues kernel
 * invalidations for those whose content changed. Returns how many were queued. */
int update_path(const char *path, const struct zk_stat *st, const uint8_t *data,
		       int32_t len, int have_data, struct zinode *exclude)
{
	struct upd u = { st, data, len, have_data, exclude, 0 };

	inode_foreach_path(path, upd_one, &u);
	return u.invals;
}

static void mark_deleted_one(struct zinode *in, void *arg)
{
	in->deleted = 1;
	in->have_st = 0;
	in->data_valid = 0;
}

void mark_deleted(const char *path)
{
	inode_foreach_path(path, mark_deleted_one, NULL);
}

/* ---- fetching a node ------------------------------------------------------------------- */


struct fetch {
	char *path;
	int want_data;
	fetch_cb cb;
	void *arg;
	struct zk_stat st;
};

static void fetch_done(struct fetch *f, int rc, const struct zk_resp *r)
{
	if (rc == 0 && r->type == ZOP_GETDATA)
		update_path(f->path, &r->stat, r->data, r->data_len, 1, NULL);
	else if (rc == 0)
		update_path(f->path, &r->stat, NULL, 0, 0, NULL);
	if (rc == 0)
		f->cb(0, &r->stat, r->type == ZOP_GETDATA && r->data_len < 0,
		      r->type == ZOP_GETDATA ? r : NULL, f->arg);
	else
		f->cb(rc, NULL, 0, NULL, f->arg);
	free(f->path);
	free(f);
}

static void fetch_data_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	fetch_done(arg, rc, r);
}

static void fetch_exists_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct fetch *f = arg;

	/* dataLength 0 with no children: only getData tells null data (a directory) from an
	 * empty file */
	if (rc == 0 && r->stat.data_length == 0 && r->stat.num_children == 0) {
		if (zkc_get_data(g_fs->zk, f->path, !g_fs->persistent_watch, fetch_data_cb, f) == 0)
			return;
		rc = ZSYSTEMERROR;
	}
	fetch_done(f, rc, r);
}

/* Stat (and data when want_data, or when needed to tell null data) of path. */
void fetch_node(const char *path, int want_data, fetch_cb cb, void *arg)
{
	struct fetch *f = calloc(1, sizeof(*f));
	int rc = ZSYSTEMERROR;

	if (f && (f->path = strdup(path))) {
		f->want_data = want_data;
		f->cb = cb;
		f->arg = arg;
		if (want_data)
			rc = zkc_get_data(g_fs->zk, path, !g_fs->persistent_watch, fetch_data_cb, f);
		else
			rc = zkc_exists(g_fs->zk, path, !g_fs->persistent_watch, fetch_exists_cb, f);
		if (rc == 0)
			return;
		free(f->path);
	}
	free(f);
	cb(rc, NULL, 0, NULL, arg);
}

/*
 * A child of parent_path appeared or went away: refresh the parent's attributes and, when
 * that flips its type (a file gained a child, or a directory with data lost its last one),
 * drop the grandparent's entry first so the kernel looks it up again as a new inode.
 */
static void parent_fetched(int rc, const struct zk_stat *st, int null_data,
			   const struct zk_resp *d, void *arg)
{
	char *ppath = arg;
	struct zinode *pin = inode_known(ppath);

	if (rc == 0 && pin && pin->ino != FUSE_ROOT_ID &&
	    shown_as_dir(V_NONE, st, null_data) != pin->is_dir) {
		char *gp = path_parent(ppath);
		struct zinode *gin = gp ? inode_known(gp) : NULL;

		if (gin)
			nt_inval_entry(gin->ino, path_base(ppath));
		free(gp);
	} else if (pin) {
		nt_inval_inode(pin, 0);
	}
	free(ppath);
}

void parent_changed(const char *path)
{
	char *pp = path_parent(path);

	if (pp)
		fetch_node(pp, 0, parent_fetched, pp);
}

/* ---- lookup ------------------------------------------------------------------------------ */

struct lookup {
	fuse_req_t req;
	int view;
	int32_t vversion;
	char *path;
};

static void lookup_fetched(int rc, const struct zk_stat *st, int null_data,
			   const struct zk_resp *d, void *arg)
{
	struct lookup *l = arg;
	struct zinode *in;

	if (rc) {
		fuse_reply_err(l->req, zkfs_errno(rc));
		goto out;
	}
	in = inode_find_or_add(K_NODE, l->view, l->vversion, l->path, st->czxid,
			       shown_as_dir(l->view, st, null_data));
	if (!in) {
		fuse_reply_err(l->req, ENOMEM);
		goto out;
	}
	in->deleted = 0;
	inode_set_stat(in, st);
	if (d)
		inode_set_data(in, d->data, d->data_len);
	reply_entry(l->req, in);
out:
	free(l->path);
	free(l);
}

static void start_lookup(fuse_req_t req, int view, int32_t vv, char *path)
{
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l) {
		free(path);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	l->req = req;
	l->view = view;
	l->vversion = vv;
	l->path = path;
	fetch_node(path, 0, lookup_fetched, l);
}

static int parse_version(const char *s, int32_t *v)
{
	char *e;
	long n;

	errno = 0;
	n = strtol(s, &e, 10);
	if (errno || e == s || *e || n < -1 || n > INT32_MAX)
		return -1;
	*v = (int32_t)n;
	return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zinode *p = inode_get(parent), *in;
	fuse_ino_t ino;
	char *path;
	int v;

	if (!p) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (notifier_is_caller(req) && nt_replay_lookup(parent, name, &ino)) {
		in = ino ? inode_get(ino) : NULL;
		if (in)
			reply_entry(req, in);
		else
			fuse_reply_err(req, ENOENT);
		return;
	}
	if (p->ino == FUSE_ROOT_ID) {
		for (v = 1; v < V_COUNT; v++) {
			if (strcmp(name, view_names[v]) == 0) {
				in = inode_find_or_add(K_VIEWROOT, v, 0, "/", 0, 1);
				if (!in)
					fuse_reply_err(req, ENOMEM);
				else
					reply_entry(req, in);
				return;
			}
		}
	}
	if (p->kind == K_VIEWROOT && p->view == V_VERSION) {
		int32_t n;

		if (parse_version(name, &n) || n < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		in = inode_find_or_add(K_VERSIONDIR, V_VERSION, n, "/", 0, 1);
		if (!in)
			fuse_reply_err(req, ENOMEM);
		else
			reply_entry(req, in);
		return;
	}
	if (!name_ok(name) || !p->is_dir) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	path = path_join(p->path, name);
	if (!path) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	start_lookup(req, p->view, p->vversion, path);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct zinode *in = inode_get(ino);

	if (in)
		inode_forget(in, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	size_t i;

	for (i = 0; i < count; i++) {
		struct zinode *in = inode_get(f[i].ino);

		if (in)
			inode_forget(in, f[i].nlookup);
	}
	fuse_reply_none(req);
}

/* ---- getattr / setattr ------------------------------------------------------------------ */

struct zfh;
static off_t fh_size(struct zfh *fh);

struct attrq {
	fuse_req_t req;
	fuse_ino_t ino;
	off_t size_override;
};

static void getattr_fetched(int rc, const struct zk_stat *st, int null_data,
			    const struct zk_resp *d, void *arg)
{
	struct attrq *a = arg;
	struct zinode *in = inode_get(a->ino);

	if (!in) {
		fuse_reply_err(a->req, ENOENT);
	} else if (rc) {
		if (rc == ZNONODE)
			in->deleted = 1;
		fuse_reply_err(a->req, zkfs_errno(rc));
	} else if (in->czxid && st->czxid != in->czxid) {
		/* the path now names a re-created node: this inode is gone */
		in->deleted = 1;
		fuse_reply_err(a->req, ENOENT);
	} else {
		inode_set_stat(in, st);
		reply_attr(a->req, in, a->size_override);
	}
	free(a);
}

static void getattr_fresh(fuse_req_t req, struct zinode *in, off_t size_override)
{
	struct attrq *a = calloc(1, sizeof(*a));

	if (!a) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	a->req = req;
	a->ino = in->ino;
	a->size_override = size_override;
	fetch_node(in->path, 0, getattr_fetched, a);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	off_t so = fi && fi->fh ? fh_size((struct zfh *)(uintptr_t)fi->fh) : -1;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->kind != K_NODE) {
		reply_attr(req, in, -1);
		return;
	}
	if (in->have_st && (notifier_is_caller(req) ||
			    (g_fs->cache_trusted && in->view == V_NONE && !in->deleted))) {
		reply_attr(req, in, so);
		return;
	}
	if (in->deleted && notifier_is_caller(req)) {
		reply_attr(req, in, so);
		return;
	}
	getattr_fresh(req, in, so);
}

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
	struct pubwait *waiters;
	struct zfh *next_eph;
	int timer_init;
};

static off_t fh_size(struct zfh *fh)
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
	if (fh->in)
		inode_unpin(fh->in);
	fh->in = NULL;
	if (fh->timer_init)
		uv_close((uv_handle_t *)&fh->debounce, fh_free_cb);
	else
		fh_free_cb((uv_handle_t *)fh);
}

static size_t max_data(const char *path)
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

static void pub_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct pub *p = arg;
	struct zfh *fh = p->fh;
	int invals = 0;

	expect_remove(p->ex);
	p->ex = NULL;
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
		invals = update_path(fh->path, &r->stat, p->data, (int32_t)p->len, 1, fh->in);
		if (fh->in && fh->in->czxid == 0)
			fh->in->czxid = r->stat.czxid;
		if (fh->append && fh->in && fh->in->nlookup > 0) {
			/* our base may have moved under the kernel's cached pages */
			nt_inval_inode(fh->in, 1);
		}
	} else {
		p->err = rc == ZBADVERSION ? ESTALE : zkfs_errno(rc);
		fh->err = p->err;
	}
	/* readers of other views of this node must see the new content once we answer */
	if (invals)
		nt_barrier(pub_finish, p);
	else
		pub_finish(p);
}

static int pub_send(struct pub *p)
{
	struct zfh *fh = p->fh;
	int32_t version = fh->view == V_VERSION || fh->append ? fh->base_version : -1;

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
	if (!fh->dirty && !fh->trunc_pending) {
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

static void reply_err_cb(int err, void *arg)
{
	fuse_reply_err((fuse_req_t)arg, err);
}

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

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	struct openq *o;
	struct zfh *fh;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
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
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
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

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;

	if (fh->noop || !fh->writable || (!fh->dirty && !fh->publishing && !fh->err)) {
		fuse_reply_err(req, 0);
		return;
	}
	uv_timer_stop(&fh->debounce);
	/* a truncation with nothing written is left to RELEASE: see the header comment */
	if (!fh->dirty && !fh->publishing) {
		int e = fh->err;

		fh->err = 0;
		fuse_reply_err(req, e);
		return;
	}
	publish(fh, reply_err_cb, req);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct zfh *fh = (struct zfh *)(uintptr_t)fi->fh;

	if (fh->noop || !fh->writable) {
		fuse_reply_err(req, 0);
		return;
	}
	uv_timer_stop(&fh->debounce);
	publish(fh, reply_err_cb, req);
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

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

static void do_create(fuse_req_t req, struct zinode *p, char *path, int is_dir,
		      struct fuse_file_info *fi)
{
	struct createq *q = calloc(1, sizeof(*q));
	int flags = view_flags(p->view);
	int seq;

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

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
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

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
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

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
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

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

/* ---- unlink / rmdir ------------------------------------------------------------------- */

struct delq {
	fuse_req_t req;
	char *path;
	struct zexpect *ex;
};

static void delete_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct delq *q = arg;

	expect_remove(q->ex);
	if (rc == 0) {
		mark_deleted(q->path);
		parent_changed(q->path);
	}
	fuse_reply_err(q->req, zkfs_errno(rc));
	free(q->path);
	free(q);
}

static void do_delete(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zinode *p = inode_get(parent);
	struct delq *q;

	if (!p || p->kind != K_NODE) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	if (notifier_is_caller(req)) {
		/* the replay of a remote delete: the node is already gone */
		fuse_reply_err(req, 0);
		return;
	}
	if (g_fs->o.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->path = path_join(p->path, name))) {
		free(q);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->ex = expect_for(p->view, ZEV_DELETED, q->path);
	if (zkc_delete(g_fs->zk, q->path, -1, delete_cb, q)) {
		expect_remove(q->ex);
		free(q->path);
		free(q);
		fuse_reply_err(req, EIO);
	}
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_delete(req, parent, name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_delete(req, parent, name);
}

/* ---- rename: one multi (create new + delete old at its version) ----------------------- */

struct renq {
	fuse_req_t req;
	char *from, *to;
	unsigned flags;
	struct zk_resp old;	/* getData of from */
	struct zk_acl_list acl;
	int32_t to_version;	/* -2: target absent */
	int to_is_dir;
	struct zexpect *ex[3];
	fuse_ino_t newparent;
};

static void ren_free(struct renq *q)
{
	int i;

	for (i = 0; i < 3; i++)
		expect_remove(q->ex[i]);
	free(q->from);
	free(q->to);
	free(q->old.data);
	zk_acl_list_release(&q->acl);
	free(q);
}

static void ren_fail(struct renq *q, int err)
{
	fuse_reply_err(q->req, err);
	ren_free(q);
}

static void ren_multi_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct renq *q = arg;
	struct zinode *np;

	if (rc == 0)
		rc = zkc_multi_err(r);
	if (rc) {
		ren_fail(q, rc == ZBADVERSION ? EAGAIN : zkfs_errno(rc));
		return;
	}
	mark_deleted(q->from);
	if (q->to_version >= 0)
		mark_deleted(q->to);
	/* the kernel moves its dentry to the new name; let it look the new node up afresh */
	np = inode_get(q->newparent);
	fuse_reply_err(q->req, 0);
	if (np)
		nt_inval_entry(np->ino, path_base(q->to));
	parent_changed(q->from);
	parent_changed(q->to);
	ren_free(q);
}

static void ren_send(struct renq *q)
{
	struct zk_req m, ops[3];
	int n = 0;

	memset(&m, 0, sizeof(m));
	memset(ops, 0, sizeof(ops));
	if (q->to_version >= 0) {
		ops[n].type = ZOP_DELETE;
		ops[n].path = q->to;
		ops[n].version = q->to_version;
		q->ex[2] = expect_add(ZEV_DELETED, q->to);
		n++;
	}
	ops[n].type = ZOP_CREATE;
	ops[n].path = q->to;
	ops[n].data = q->old.data;
	ops[n].data_len = q->old.data_len;
	ops[n].acl = q->acl;
	ops[n].flags = ZMODE_PERSISTENT;
	n++;
	ops[n].type = ZOP_DELETE;
	ops[n].path = q->from;
	ops[n].version = q->old.stat.version;
	n++;
	q->ex[0] = expect_add(ZEV_CREATED, q->to);
	q->ex[1] = expect_add(ZEV_DELETED, q->from);
	m.type = ZOP_MULTI;
	m.nops = n;
	m.ops = ops;
	if (zkc_submit(g_fs->zk, &m, ren_multi_cb, q))
		ren_fail(q, EIO);
}

static void ren_target_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct renq *q = arg;

	if (rc == ZNONODE) {
		q->to_version = -2;
	} else if (rc) {
		ren_fail(q, zkfs_errno(rc));
		return;
	} else if (q->flags & RENAME_NOREPLACE) {
		ren_fail(q, EEXIST);
		return;
	} else if (r->stat.num_children > 0) {
		ren_fail(q, ENOTEMPTY);
		return;
	} else {
		q->to_version = r->stat.version;
	}
	ren_send(q);
}

static void ren_acl_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct renq *q = arg;

	if (rc) {
		ren_fail(q, zkfs_errno(rc));
		return;
	}
	if (zk_acl_list_copy(&q->acl, &r->acl)) {
		ren_fail(q, ENOMEM);
		return;
	}
	if (zkc_exists(g_fs->zk, q->to, 0, ren_target_cb, q))
		ren_fail(q, EIO);
}

static void ren_old_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct renq *q = arg;

	if (rc) {
		ren_fail(q, zkfs_errno(rc));
		return;
	}
	if (r->stat.num_children > 0) {
		/* only leaves move atomically; mv falls back to copy + delete */
		ren_fail(q, EXDEV);
		return;
	}
	if (r->stat.ephemeral_owner) {
		/* an ephemeral cannot be re-created for its owner session by us */
		ren_fail(q, EXDEV);
		return;
	}
	q->old.stat = r->stat;
	q->old.data_len = r->data_len;
	q->old.data = malloc((size_t)(r->data_len > 0 ? r->data_len : 0) + 1);
	if (!q->old.data) {
		ren_fail(q, ENOMEM);
		return;
	}
	if (r->data_len > 0)
		memcpy(q->old.data, r->data, (size_t)r->data_len);
	if (zkc_get_acl(g_fs->zk, q->from, ren_acl_cb, q))
		ren_fail(q, EIO);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct zinode *p = inode_get(parent), *np = inode_get(newparent);
	struct renq *q;

	if (!p || !np) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (flags & RENAME_EXCHANGE || p->kind != K_NODE || np->kind != K_NODE ||
	    p->view != V_NONE || np->view != V_NONE) {
		fuse_reply_err(req, p->view != np->view ? EXDEV : EINVAL);
		return;
	}
	if (g_fs->o.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!name_ok(newname)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->flags = flags;
	q->newparent = newparent;
	q->from = path_join(p->path, name);
	q->to = path_join(np->path, newname);
	if (!q->from || !q->to) {
		ren_fail(q, ENOMEM);
		return;
	}
	if (strcmp(q->from, q->to) == 0) {
		ren_fail(q, 0);
		return;
	}
	if (zkc_get_data(g_fs->zk, q->from, 0, ren_old_cb, q))
		ren_fail(q, EIO);
}

/* ---- setattr ---------------------------------------------------------------------------- */

struct truncq {
	fuse_req_t req;
	fuse_ino_t ino;
	off_t size;
	char *path;
	int view;
	struct zexpect *ex;
};

static void trunc_set_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct truncq *q = arg;
	struct zinode *in = inode_get(q->ino);

	expect_remove(q->ex);
	if (rc) {
		fuse_reply_err(q->req, rc == ZBADVERSION ? EAGAIN : zkfs_errno(rc));
	} else {
		update_path(q->path, &r->stat, NULL, 0, 0, in);
		if (in) {
			in->data_valid = 0;
			reply_attr(q->req, in, -1);
		} else {
			fuse_reply_err(q->req, ENOENT);
		}
	}
	free(q->path);
	free(q);
}

static void trunc_get_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct truncq *q = arg;
	size_t cur = r && r->data_len > 0 ? (size_t)r->data_len : 0;
	uint8_t *nd;

	if (rc) {
		fuse_reply_err(q->req, zkfs_errno(rc));
		goto fail;
	}
	if ((size_t)q->size > max_data(q->path)) {
		fuse_reply_err(q->req, EFBIG);
		goto fail;
	}
	nd = calloc(1, (size_t)q->size + 1);
	if (!nd) {
		fuse_reply_err(q->req, ENOMEM);
		goto fail;
	}
	memcpy(nd, r->data, cur < (size_t)q->size ? cur : (size_t)q->size);
	q->ex = expect_for(q->view, ZEV_DATA_CHANGED, q->path);
	rc = zkc_set_data(g_fs->zk, q->path, nd, (int32_t)q->size, r->stat.version, trunc_set_cb, q);
	free(nd);
	if (rc == 0)
		return;
	expect_remove(q->ex);
	fuse_reply_err(q->req, EIO);
fail:
	free(q->path);
	free(q);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	struct zfh *fh = fi ? (struct zfh *)(uintptr_t)fi->fh : NULL;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (notifier_is_caller(req) || !(to_set & FUSE_SET_ATTR_SIZE)) {
		/* modes, owners and times are not stored: accept and show what is there */
		if (in->kind != K_NODE || in->have_st || notifier_is_caller(req))
			reply_attr(req, in, fh_size(fh));
		else
			getattr_fresh(req, in, fh_size(fh));
		return;
	}
	if (in->is_dir) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (g_fs->o.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (attr->st_size < 0 || (size_t)attr->st_size > max_data(in->path)) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (fh && fh->writable && !fh->noop) {
		size_t ns = (size_t)attr->st_size;

		if (fh->append) {
			/* ftruncate on an O_APPEND handle: fold the appended bytes in first */
			if (buf_reserve(&fh->data, &fh->cap, fh->len + fh->app_len + 1)) {
				fuse_reply_err(req, ENOMEM);
				return;
			}
			memcpy(fh->data + fh->len, fh->app, fh->app_len);
			fh->len += fh->app_len;
			fh->app_len = 0;
			fh->append = 0;
		}
		if (buf_reserve(&fh->data, &fh->cap, ns + 1)) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (ns > fh->len)
			memset(fh->data + fh->len, 0, ns - fh->len);
		fh->len = ns;
		fh->dirty = 1;
		fh->gen++;
		uv_timer_start(&fh->debounce, debounce_cb, DEBOUNCE_MS, 0);
		reply_attr(req, in, (off_t)ns);
		return;
	}
	{
		struct truncq *q = calloc(1, sizeof(*q));

		if (!q || !(q->path = strdup(in->path))) {
			free(q);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		q->req = req;
		q->ino = ino;
		q->view = in->view;
		q->size = attr->st_size;
		if (zkc_get_data(g_fs->zk, q->path, 0, trunc_get_cb, q)) {
			free(q->path);
			free(q);
			fuse_reply_err(req, EIO);
		}
	}
}

/* ---- directories ------------------------------------------------------------------------ */

struct dirh {
	char **names;
	int n;
};

struct dirq {
	fuse_req_t req;
	struct fuse_file_info fi;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void opendir_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct dirq *q = arg;
	struct dirh *d;
	int i;

	if (rc) {
		fuse_reply_err(q->req, zkfs_errno(rc));
		free(q);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d && r->children.n > 0) {
		d->names = calloc((size_t)r->children.n, sizeof(char *));
		for (i = 0; d->names && i < r->children.n; i++)
			if ((d->names[d->n] = strdup(r->children.v[i])))
				d->n++;
		if (d->names)
			qsort(d->names, (size_t)d->n, sizeof(char *), cmp_str);
	}
	if (!d) {
		fuse_reply_err(q->req, ENOMEM);
		free(q);
		return;
	}
	q->fi.fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(q->req, &q->fi)) {
		for (i = 0; i < d->n; i++)
			free(d->names[i]);
		free(d->names);
		free(d);
	}
	free(q);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	struct dirq *q;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!in->is_dir) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (in->kind == K_VIEWROOT && in->view == V_VERSION) {
		struct dirh *d = calloc(1, sizeof(*d));

		if (!d) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		fi->fh = (uint64_t)(uintptr_t)d;
		if (fuse_reply_open(req, fi))
			free(d);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->fi = *fi;
	if (zkc_get_children2(g_fs->zk, in->path, !g_fs->persistent_watch, opendir_cb, q)) {
		free(q);
		fuse_reply_err(req, EIO);
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	off_t i;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off; i < d->n + 2; i++) {
		struct stat st;
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->names[i - 2];
		size_t need;

		memset(&st, 0, sizeof(st));
		/* d_type unknown: ls and find stat what they need */
		st.st_ino = i < 2 ? 1 : 0x100000000ULL + (uint64_t)i;
		need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	int i;

	for (i = 0; d && i < d->n; i++)
		free(d->names[i]);
	if (d)
		free(d->names);
	free(d);
	fuse_reply_err(req, 0);
}

/* ---- extended attributes --------------------------------------------------------------- */

static const char *xattr_names[] = {
	"user.zk.cZxid", "user.zk.ctime", "user.zk.mZxid", "user.zk.mtime", "user.zk.pZxid",
	"user.zk.cversion", "user.zk.dataVersion", "user.zk.aclVersion",
	"user.zk.ephemeralOwner", "user.zk.dataLength", "user.zk.numChildren",
	"user.zk.path", "user.zk.acl", NULL
};

static void java_date(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%a %b %d %H:%M:%S %Z %Y", &tm);
}

static int format_stat_xattr(const char *name, const struct zk_stat *s, char *out, size_t n)
{
	const char *f = name + strlen("user.zk.");

	if (!strcmp(f, "cZxid"))
		snprintf(out, n, "0x%" PRIx64, (uint64_t)s->czxid);
	else if (!strcmp(f, "ctime"))
		java_date(out, n, s->ctime);
	else if (!strcmp(f, "mZxid"))
		snprintf(out, n, "0x%" PRIx64, (uint64_t)s->mzxid);
	else if (!strcmp(f, "mtime"))
		java_date(out, n, s->mtime);
	else if (!strcmp(f, "pZxid"))
		snprintf(out, n, "0x%" PRIx64, (uint64_t)s->pzxid);
	else if (!strcmp(f, "cversion"))
		snprintf(out, n, "%d", s->cversion);
	else if (!strcmp(f, "dataVersion"))
		snprintf(out, n, "%d", s->version);
	else if (!strcmp(f, "aclVersion"))
		snprintf(out, n, "%d", s->aversion);
	else if (!strcmp(f, "ephemeralOwner"))
		snprintf(out, n, "0x%" PRIx64, (uint64_t)s->ephemeral_owner);
	else if (!strcmp(f, "dataLength"))
		snprintf(out, n, "%d", s->data_length);
	else if (!strcmp(f, "numChildren"))
		snprintf(out, n, "%d", s->num_children);
	else
		return -1;
	return 0;
}

static void reply_xattr_value(fuse_req_t req, const char *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

struct xq {
	fuse_req_t req;
	fuse_ino_t ino;
	char *name;
	size_t size;
};

static char *acl_text(const struct zk_acl_list *a)
{
	struct buf b = BUF_INIT;
	int32_t i;
	char *s;
	size_t l;

	for (i = 0; i < a->n; i++) {
		char perms[8];
		int k = 0, p = a->v[i].perms;

		if (p & ZPERM_CREATE) perms[k++] = 'c';
		if (p & ZPERM_DELETE) perms[k++] = 'd';
		if (p & ZPERM_READ) perms[k++] = 'r';
		if (p & ZPERM_WRITE) perms[k++] = 'w';
		if (p & ZPERM_ADMIN) perms[k++] = 'a';
		perms[k] = 0;
		buf_put(&b, a->v[i].id.scheme, strlen(a->v[i].id.scheme));
		buf_put(&b, ":", 1);
		buf_put(&b, a->v[i].id.id, strlen(a->v[i].id.id));
		buf_put(&b, ":", 1);
		buf_put(&b, perms, strlen(perms));
		buf_put(&b, "\n", 1);
	}
	buf_put_u8(&b, 0);
	if (b.oom) {
		buf_release(&b);
		return NULL;
	}
	s = (char *)buf_detach(&b, &l);
	return s;
}

/* Answers once the kernel caches of the node are as fresh as what we answer: a reader who
 * gets a dataVersion and then reads the file sees at least that version. */
struct xreply {
	fuse_req_t req;
	char *val;
	size_t len, size;
};

static void xreply_now(void *arg)
{
	struct xreply *x = arg;

	reply_xattr_value(x->req, x->val, x->len, x->size);
	free(x->val);
	free(x);
}

static void getxattr_fetched(int rc, const struct zk_stat *st, int null_data,
			     const struct zk_resp *d, void *arg)
{
	struct xq *q = arg;
	struct zinode *in = inode_get(q->ino);
	struct xreply *x;
	char v[128];

	if (rc || !in) {
		fuse_reply_err(q->req, rc ? zkfs_errno(rc) : ENOENT);
		goto out;
	}
	if (format_stat_xattr(q->name, st, v, sizeof(v))) {
		fuse_reply_err(q->req, ENODATA);
		goto out;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->val = strdup(v))) {
		free(x);
		fuse_reply_err(q->req, ENOMEM);
		goto out;
	}
	x->req = q->req;
	x->len = strlen(v);
	x->size = q->size;
	{
		struct zinode *main = inode_known(in->path);

		inode_after_inval(main ? main : in, xreply_now, x);
	}
out:
	free(q->name);
	free(q);
}

static void getacl_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct xq *q = arg;
	char *t;

	if (rc) {
		fuse_reply_err(q->req, zkfs_errno(rc));
	} else if (!(t = acl_text(&r->acl))) {
		fuse_reply_err(q->req, ENOMEM);
	} else {
		reply_xattr_value(q->req, t, strlen(t), q->size);
		free(t);
	}
	free(q->name);
	free(q);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct zinode *in = inode_get(ino);
	struct xq *q;
	int i, known = 0;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (i = 0; xattr_names[i]; i++)
		if (!strcmp(name, xattr_names[i]))
			known = 1;
	if (!known || in->kind != K_NODE) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (!strcmp(name, "user.zk.path")) {
		const char *root = g_fs->o.root;
		char *full = NULL;

		if (asprintf(&full, "%s%s", root,
			     *root && !strcmp(in->path, "/") ? "" : in->path) < 0) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		reply_xattr_value(req, full, strlen(full), size);
		free(full);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->name = strdup(name))) {
		free(q);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->ino = ino;
	q->size = size;
	if (!strcmp(name, "user.zk.acl")) {
		if (zkc_get_acl(g_fs->zk, in->path, getacl_cb, q)) {
			free(q->name);
			free(q);
			fuse_reply_err(req, EIO);
		}
		return;
	}
	/* always fresh: scripts read dataVersion for compare-and-set */
	fetch_node(in->path, 0, getxattr_fetched, q);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct zinode *in = inode_get(ino);
	struct buf b = BUF_INIT;
	int i;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->kind == K_NODE)
		for (i = 0; xattr_names[i]; i++)
			buf_put(&b, xattr_names[i], strlen(xattr_names[i]) + 1);
	if (b.oom)
		fuse_reply_err(req, ENOMEM);
	else
		reply_xattr_value(req, (const char *)b.p, b.len, size);
	buf_release(&b);
}

/* zkCli's "scheme:id:perms" lines; the id may itself contain ':' (digest). */
static int parse_acl(const char *text, size_t len, struct zk_acl_list *out)
{
	char *s = strndup(text, len), *line, *save = NULL;
	int rc = 0;

	out->n = 0;
	out->v = NULL;
	out->packed = 0;
	if (!s)
		return -ENOMEM;
	for (line = strtok_r(s, "\n,", &save); line; line = strtok_r(NULL, "\n,", &save)) {
		char *first = strchr(line, ':'), *last = strrchr(line, ':'), *p;
		struct zk_acl *nv;
		int perms = 0;

		while (*line == ' ')
			line++;
		if (!*line)
			continue;
		if (!first || first == last) {
			rc = -EINVAL;
			break;
		}
		for (p = last + 1; *p && *p != ' ' && *p != '\r'; p++) {
			switch (*p) {
			case 'c': perms |= ZPERM_CREATE; break;
			case 'd': perms |= ZPERM_DELETE; break;
			case 'r': perms |= ZPERM_READ; break;
			case 'w': perms |= ZPERM_WRITE; break;
			case 'a': perms |= ZPERM_ADMIN; break;
			default: rc = -EINVAL;
			}
		}
		if (rc)
			break;
		nv = realloc(out->v, sizeof(*nv) * (size_t)(out->n + 1));
		if (!nv) {
			rc = -ENOMEM;
			break;
		}
		out->v = nv;
		nv[out->n].perms = perms;
		nv[out->n].id.scheme = strndup(line, (size_t)(first - line));
		nv[out->n].id.id = strndup(first + 1, (size_t)(last - first - 1));
		out->n++;
	}
	free(s);
	if (!rc && out->n == 0)
		rc = -EINVAL;
	if (rc)
		zk_acl_list_release(out);
	return rc;
}

static void setacl_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	fuse_reply_err((fuse_req_t)arg, zkfs_errno(rc));
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct zinode *in = inode_get(ino);
	struct zk_acl_list acl;
	int rc;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strcmp(name, "user.zk.acl") != 0 || in->kind != K_NODE) {
		fuse_reply_err(req, strncmp(name, "user.zk.", 8) == 0 ? EPERM : ENOTSUP);
		return;
	}
	if (g_fs->o.ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = parse_acl(value, size, &acl);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (zkc_set_acl(g_fs->zk, in->path, &acl, -1, setacl_cb, req))
		fuse_reply_err(req, EIO);
	zk_acl_list_release(&acl);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, strncmp(name, "user.zk.", 8) == 0 ? EPERM : ENOTSUP);
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

/* ---- misc ------------------------------------------------------------------------------- */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs s;

	memset(&s, 0, sizeof(s));
	s.f_bsize = 4096;
	s.f_frsize = 4096;
	s.f_blocks = 1 << 20;
	s.f_bfree = 1 << 19;
	s.f_bavail = 1 << 19;
	s.f_files = 1 << 20;
	s.f_ffree = 1 << 19;
	s.f_namemax = 255;
	fuse_reply_statfs(req, &s);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* our invalidations decide when cached pages go */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~FUSE_CAP_READDIRPLUS;
}

const struct fuse_lowlevel_ops zkfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.link = op_link,
	.rename = op_rename,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
};
