/*
 * The node cache seen from the operations: fetching a node's stat (and data) from the
 * server while refreshing every inode of its path, marking deletions, refreshing a parent
 * whose children changed, and the expectations.
 *
 * Own changes vs remote ones: before sending a write through the plain tree we register the
 * events it will cause (expect_for); the server sends those events before the write's reply,
 * so the watch callback consumes them and only replays the other changes (other clients',
 * and ours made through a view, which the kernel saw under the view's name only).
 */
#include "zkfs.h"
#include "ops_i.h"

#include <stdlib.h>
#include <string.h>

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
struct zexpect *expect_for(int view, int type, const char *path)
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

