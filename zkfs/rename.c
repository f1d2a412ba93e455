/*
 * Renames and truncation. A rename of a leaf is one multi (create new + delete old at its
 * version), so editors that save by rename and sed -i are atomic; anything else is EXDEV
 * (mv copies and deletes). A truncate of an open writable handle changes the handle's
 * content (file.c); any other one is a setData at the version it read.
 */
#include "zkfs.h"
#include "ops_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	watch_child_note(q->from, 0);
	watch_child_note(q->to, 1);
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

struct rename_again {
	fuse_req_t req;
	fuse_ino_t parent, newparent;
	unsigned int flags;
	char *name, *newname;
};

static void rename_again_cb(void *arg)
{
	struct rename_again *a = arg;

	op_rename(a->req, a->parent, a->name, a->newparent, a->newname, a->flags);
	free(a->name);
	free(a->newname);
	free(a);
}

/* The source is a new file whose create is deferred: create it first, then run again. */
static int rename_after_create(fuse_req_t req, struct zinode *p, const char *name,
			       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	char *path = path_join(p->path, name);
	struct zinode *in = path ? inode_known(path) : NULL;
	struct rename_again *a;

	free(path);
	if (!in || !in->creating || !(a = calloc(1, sizeof(*a))))
		return 0;
	a->req = req;
	a->parent = p->ino;
	a->newparent = newparent;
	a->flags = flags;
	a->name = strdup(name);
	a->newname = strdup(newname);
	if (a->name && a->newname && fh_commit_then(in, rename_again_cb, a))
		return 1;
	free(a->name);
	free(a->newname);
	free(a);
	return 0;
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct zinode *p = inode_get(parent), *np = inode_get(newparent);
	struct renq *q;

	if (!p || !np) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (p->kind == K_NODE && p->view == V_NONE &&
	    rename_after_create(req, p, name, newparent, newname, flags))
		return;
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

struct setattr_again {
	fuse_req_t req;
	fuse_ino_t ino;
	struct stat attr;
	int to_set;
	int has_fi;
	struct fuse_file_info fi;
};

static void setattr_again_cb(void *arg)
{
	struct setattr_again *a = arg;

	op_setattr(a->req, a->ino, &a->attr, a->to_set, a->has_fi ? &a->fi : NULL);
	free(a);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct zinode *in = inode_get(ino);
	struct zfh *fh = fi ? (struct zfh *)(uintptr_t)fi->fh : NULL;

	if (!in) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (in->creating && !notifier_is_caller(req)) {
		/* touch of a new file: it exists for everyone when touch returns */
		struct setattr_again *a = calloc(1, sizeof(*a));

		if (a) {
			a->req = req;
			a->ino = ino;
			a->attr = *attr;
			a->to_set = to_set;
			if (fi) {
				a->fi = *fi;
				a->has_fi = 1;
			}
			if (fh_commit_then(in, setattr_again_cb, a))
				return;
			free(a);
		}
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
	if (fh_writable(fh)) {
		int err = fh_truncate(fh, (size_t)attr->st_size);

		if (err)
			fuse_reply_err(req, err);
		else
			reply_attr(req, in, attr->st_size);
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

