/*
 * Extended attributes: the stat as zkCli names it (user.zk.cZxid ...), user.zk.path and
 * user.zk.acl (read and write, zkCli's "scheme:id:perms" lines). Values are always fetched
 * fresh: scripts read dataVersion for compare-and-set.
 */
#include "zkfs.h"
#include "ops_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct getxattr_again {
	fuse_req_t req;
	fuse_ino_t ino;
	size_t size;
	char name[];
};

static void getxattr_again_cb(void *arg)
{
	struct getxattr_again *a = arg;

	op_getxattr(a->req, a->ino, a->name, a->size);
	free(a);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
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
	if (in->creating) {
		/* a new file not created yet: the stat comes from the server */
		struct getxattr_again *a = malloc(sizeof(*a) + strlen(name) + 1);

		if (a) {
			a->req = req;
			a->ino = ino;
			a->size = size;
			strcpy(a->name, name);
			if (fh_commit_then(in, getxattr_again_cb, a))
				return;
			free(a);
		}
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

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
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

struct setacl {
	fuse_req_t req;
	fuse_ino_t ino;
};

static void setacl_reply(void *arg)
{
	fuse_reply_err((fuse_req_t)arg, 0);
}

/*
 * ZooKeeper sends no watch event for an ACL change, so our own is the only one we can act
 * on: the cached stat (aclVersion) and data are dropped, in the kernel too, before the
 * reply, so a read after setfattr asks the server (EACCES if READ was given away).
 */
static void setacl_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	struct setacl *q = arg;
	fuse_req_t req = q->req;
	struct zinode *in = rc ? NULL : inode_get(q->ino);

	free(q);
	if (!in) {
		fuse_reply_err(req, zkfs_errno(rc));
		return;
	}
	in->have_st = 0;
	in->data_valid = 0;
	if (in->nlookup > 0 && in->ino != FUSE_ROOT_ID)
		nt_inval_inode(in, !in->is_dir);
	inode_after_inval(in, setacl_reply, req);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct zinode *in = inode_get(ino);
	struct zk_acl_list acl;
	struct setacl *q;
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
	q = malloc(sizeof(*q));
	if (!q) {
		zk_acl_list_release(&acl);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	q->req = req;
	q->ino = ino;
	if (zkc_set_acl(g_fs->zk, in->path, &acl, -1, setacl_cb, q)) {
		free(q);
		fuse_reply_err(req, EIO);
	}
	zk_acl_list_release(&acl);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, strncmp(name, "user.zk.", 8) == 0 ? EPERM : ENOTSUP);
}

