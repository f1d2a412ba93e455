/*
 * The FUSE low-level operations of zkfs (DESIGN.md §3): the dispatch table, name lookup and
 * the mapping of znodes to attributes, getattr, unlink/rmdir and directory listing. Every
 * operation that needs the server submits ZooKeeper requests and answers the kernel from
 * their callbacks; nothing here blocks the loop.
 *
 * The other operations live in their own modules (declarations shared between them in
 * ops_i.h): file.c the write path (open, read, write, flush, release, create, publishing),
 * rename.c rename and truncation, xattr.c the extended attributes, cache.c the node cache
 * and the expectations that tell our own changes from remote ones.
 */
#include "zkfs.h"
#include "ops_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define LONG_TIMEOUT 3600.0

const char *const view_names[V_COUNT] = {
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

char *path_join(const char *dir, const char *name)
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
int name_ok(const char *n)
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

int view_flags(int view)
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

double entry_timeout(const struct zinode *in)
{
	if (in->kind != K_NODE)
		return LONG_TIMEOUT;
	if (in->view != V_NONE)
		return 0;
	return g_fs->timeout_s;
}

double attr_timeout(const struct zinode *in)
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

void reply_entry(fuse_req_t req, struct zinode *in)
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

void reply_attr(fuse_req_t req, struct zinode *in, off_t size_override)
{
	struct stat st;

	zkfs_fill_attr(in, &st);
	if (size_override >= 0) {
		st.st_size = size_override;
		st.st_blocks = (st.st_size + 511) / 512;
	}
	fuse_reply_attr(req, &st, attr_timeout(in));
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
	/* a directory's hidden .data entry is a file whatever the node is */
	in = inode_find_or_add(K_NODE, l->view, l->vversion, l->path, st->czxid,
			       l->view == V_DATA && l->vversion == DATA_SELF ? 0 :
			       shown_as_dir(l->view, st, null_data));
	if (!in) {
		fuse_reply_err(l->req, ENOMEM);
		goto out;
	}
	in->deleted = 0;
	inode_set_stat(in, st);
	if (d)
		inode_set_data(in, d->data, d->data_len);
	if (in->is_dir && in->view == V_NONE)
		watch_dir_known(in->path);
	reply_entry(l->req, in);
out:
	free(l->path);
	free(l);
}

void start_lookup(fuse_req_t req, int view, int32_t vv, char *path)
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
	if (p->view == V_DATA && p->is_dir && p->kind != K_VERSIONDIR &&
	    strcmp(name, DATA_SELF_NAME) == 0) {
		/* .data/<path>/.data: the directory's own data (it wins over a child of that
		 * name, which stays reachable through the plain tree) */
		path = strdup(p->path);
		if (!path)
			fuse_reply_err(req, ENOMEM);
		else
			start_lookup(req, V_DATA, DATA_SELF, path);
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

void getattr_fresh(fuse_req_t req, struct zinode *in, off_t size_override)
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
	int view;
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
		if (q->view == V_NONE)
			watch_child_note(q->path, 0);
	}
	fuse_reply_err(q->req, zkfs_errno(rc));
	free(q->path);
	free(q);
}

static void do_delete(fuse_req_t req, fuse_ino_t parent, const char *name);

struct delete_again {
	fuse_req_t req;
	fuse_ino_t parent;
	char name[];
};

static void delete_again_cb(void *arg)
{
	struct delete_again *a = arg;

	do_delete(a->req, a->parent, a->name);
	free(a);
}

/* A new file of this mount whose create is deferred: create it first, then run again. */
static int delete_after_create(fuse_req_t req, struct zinode *p, const char *name)
{
	char *path = path_join(p->path, name);
	struct zinode *in = path ? inode_known(path) : NULL;
	struct delete_again *a;

	free(path);
	if (!in || !in->creating || !(a = malloc(sizeof(*a) + strlen(name) + 1)))
		return 0;
	a->req = req;
	a->parent = p->ino;
	strcpy(a->name, name);
	if (fh_commit_then(in, delete_again_cb, a))
		return 1;
	free(a);
	return 0;
}

static void do_delete(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zinode *p = inode_get(parent);
	struct delq *q;

	if (!p || p->kind != K_NODE) {
		fuse_reply_err(req, p ? EPERM : ENOENT);
		return;
	}
	if (p->view == V_NONE && !notifier_is_caller(req) && delete_after_create(req, p, name))
		return;
	if (p->view == V_DATA && strcmp(name, DATA_SELF_NAME) == 0) {
		/* the hidden entry is the directory itself, not a child */
		fuse_reply_err(req, EPERM);
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
	q->view = p->view;
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

/* ---- directories ------------------------------------------------------------------------ */

struct dirh {
	char **names;
	int n;
};

struct dirq {
	fuse_req_t req;
	struct fuse_file_info fi;
	int view;
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
		for (i = 0; d->names && i < r->children.n; i++) {
			/* in .data/ that name is the hidden entry, never listed */
			if (q->view == V_DATA && !strcmp(r->children.v[i], DATA_SELF_NAME))
				continue;
			if ((d->names[d->n] = strdup(r->children.v[i])))
				d->n++;
		}
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
	q->view = in->view;
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

