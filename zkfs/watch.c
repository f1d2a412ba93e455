/*
 * Remote changes -> kernel invalidations + inotify replays (DESIGN.md §3), and the session
 * life cycle (watch registration, cache distrust after a disconnection, ephemerals
 * re-created after an expiry).
 *
 * For every event not caused by this mount (see expect_consume), the node is fetched again
 * (so caches hold the new stat/data before anyone is woken), its kernel caches are
 * invalidated, and the change is replayed through the mount by the notifier when the
 * kernel knows the node or its parent directory (an inotify watch pins its inode).
 *
 * One-shot mode (no persistent recursive watch): a NodeChildrenChanged carries no names, so
 * each directory the kernel knows keeps a child watch and the list of children it last
 * read; on the event the list is read again (re-arming the watch) and the names that came
 * and went are handled as NodeCreated/NodeDeleted would be. Creates and deletes of the
 * children of such a directory are then taken from the difference only (the node's own
 * exists watch may report them too). Changes made through the plain tree of this mount
 * are noted in the list when their reply arrives (replies and the re-read are answered in
 * order), so they are not replayed on top of the kernel's own event.
 */
#include "zkfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- one-shot child watches --------------------------------------------------------- */

struct cwatch {
	struct cwatch *next;
	char *path;
	char **names;		/* sorted */
	int n;
	int valid;		/* names read at least once */
};

static struct cwatch *cwatches;

static struct cwatch *cw_find(const char *path)
{
	struct cwatch *w;

	for (w = cwatches; w; w = w->next)
		if (strcmp(w->path, path) == 0)
			return w;
	return NULL;
}

static void cw_clear_names(struct cwatch *w)
{
	int i;

	for (i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	w->names = NULL;
	w->n = 0;
}

static void cw_remove(const char *path)
{
	struct cwatch **pp, *w;

	for (pp = &cwatches; (w = *pp); pp = &w->next) {
		if (strcmp(w->path, path) == 0) {
			*pp = w->next;
			cw_clear_names(w);
			free(w->path);
			free(w);
			return;
		}
	}
}

/* The parent of path holds a child watch that has been read: the difference reports it. */
static int cw_covers(const char *path)
{
	char *pp = path_parent(path);
	struct cwatch *w = pp && strcmp(path, "/") ? cw_find(pp) : NULL;

	free(pp);
	return w && w->valid;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void created_fetched(int rc, const struct zk_stat *st, int null_data,
			    const struct zk_resp *d, void *arg);
static void deleted(const char *path);

static char *child_path(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	if (p)
		strcpy(stpcpy(stpcpy(p, strcmp(dir, "/") ? dir : ""), "/"), name);
	return p;
}

static void cw_children_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	char *path = arg;
	struct cwatch *w = cw_find(path);
	char **names = NULL;
	int n = 0, i = 0, j = 0;

	if (!w || g_fs->exiting)
		goto out;
	if (rc) {
		/* gone: its NodeDeleted (or the parent's difference) tells the kernel */
		if (rc == ZNONODE)
			cw_remove(path);
		goto out;
	}
	if (r->children.n > 0)
		names = calloc((size_t)r->children.n, sizeof(char *));
	for (; names && n < r->children.n; n++)
		if (!(names[n] = strdup(r->children.v[n])))
			break;
	if (names)
		qsort(names, (size_t)n, sizeof(char *), cmp_name);
	if (w->valid) {
		/* merge the two sorted lists: names only in the new one came, the others went */
		while (i < n || j < w->n) {
			int d = i == n ? 1 : j == w->n ? -1 : strcmp(names[i], w->names[j]);
			char *cp = child_path(path, d < 0 ? names[i] : w->names[j]);

			if (cp && d < 0) {
				log_debug("one-shot: '%s' appeared", cp);
				fetch_node(cp, 0, created_fetched, cp);
				cp = NULL;
			} else if (cp && d > 0) {
				log_debug("one-shot: '%s' went away", cp);
				deleted(cp);
			}
			free(cp);
			if (d <= 0)
				i++;
			if (d >= 0)
				j++;
		}
	}
	cw_clear_names(w);
	w->names = names;
	w->n = names ? n : 0;
	w->valid = 1;
out:
	free(path);
}

static void cw_read(struct cwatch *w)
{
	char *p = strdup(w->path);

	if (p && zkc_get_children2(g_fs->zk, p, 1, cw_children_cb, p))
		free(p);
}

void watch_dir_known(const char *path)
{
	struct cwatch *w;

	if (g_fs->persistent_watch || cw_find(path))
		return;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return;
	}
	w->next = cwatches;
	cwatches = w;
	cw_read(w);
}

void watch_child_note(const char *path, int added)
{
	char *pp = path_parent(path);
	struct cwatch *w = pp ? cw_find(pp) : NULL;
	const char *name = path_base(path);
	int i;

	free(pp);
	if (!w || !w->valid || g_fs->persistent_watch)
		return;
	for (i = 0; i < w->n && strcmp(w->names[i], name) < 0; i++)
		;
	if (added && (i == w->n || strcmp(w->names[i], name))) {
		char **nv = realloc(w->names, sizeof(char *) * (size_t)(w->n + 1));
		char *nm = strdup(name);

		if (nv)
			w->names = nv;
		if (!nv || !nm) {
			free(nm);
			return;
		}
		memmove(nv + i + 1, nv + i, sizeof(char *) * (size_t)(w->n - i));
		nv[i] = nm;
		w->n++;
	} else if (!added && i < w->n && !strcmp(w->names[i], name)) {
		free(w->names[i]);
		memmove(w->names + i, w->names + i + 1, sizeof(char *) * (size_t)(w->n - i - 1));
		w->n--;
	}
}

static void rearm_fetched(int rc, const struct zk_stat *st, int null_data,
			  const struct zk_resp *d, void *arg)
{
	free(arg);
}

void watch_node_known(const char *path)
{
	char *p;

	if (g_fs->persistent_watch || !(p = strdup(path)))
		return;
	/* fetch_node arms an exists/data watch in one-shot mode (and refreshes the caches) */
	fetch_node(p, 0, rearm_fetched, p);
}

/* A new session has none of the old watches: read every list again (no replay: changes
 * made while we were away only invalidate caches) and re-arm the root's. */
static void oneshot_start(void)
{
	struct cwatch *w;

	for (w = cwatches; w; w = w->next)
		w->valid = 0;
	if (!cw_find("/"))
		watch_dir_known("/");
	for (w = cwatches; w; w = w->next)
		cw_read(w);
}

static void inval_pages(struct zinode *in, void *arg)
{
	if (in->nlookup > 0 && !in->deleted)
		nt_inval_inode(in, !in->is_dir);
}

/* The kernel knows path itself or its parent: a replay can reach a watcher. */
static int replay_wanted(const char *path, struct zinode **parent)
{
	char *pp = path_parent(path);
	struct zinode *p = pp ? inode_known(pp) : NULL;

	free(pp);
	*parent = p && p->is_dir ? p : NULL;
	return *parent || inode_known(path);
}

struct dataview {
	const char *path;
	const struct zk_stat *st;
};

/* A file of the .data view that the kernel knows (.data/<path>, or .data/<path>/.data for a
 * directory) gets the same IN_MODIFY, unless the change is our own write through it. */
static void replay_data_view(struct zinode *in, void *arg)
{
	struct dataview *v = arg;
	char *vp = NULL;
	int self = in->vversion == DATA_SELF;

	if (in->kind != K_NODE || in->view != V_DATA || in->is_dir || in->nlookup == 0 ||
	    in->deleted || in->own_mzxid == v->st->mzxid)
		return;
	if (!self && !strcmp(v->path, "/"))
		return;
	if (asprintf(&vp, "/.data%s%s", strcmp(v->path, "/") ? v->path : "",
		     self ? "/" DATA_SELF_NAME : "") < 0)
		return;
	nt_replay(NT_REPLAY_MODIFY, vp, 0, v->st->data_length, NULL);
	free(vp);
}

static void data_changed_fetched(int rc, const struct zk_stat *st, int null_data,
				 const struct zk_resp *d, void *arg)
{
	char *path = arg;
	struct zinode *known, *parent;

	if (rc)
		goto out;	/* gone meanwhile: its NodeDeleted follows */
	inode_foreach_path(path, inval_pages, NULL);
	known = inode_known(path);
	if (known && known->is_dir != shown_as_dir(V_NONE, st, null_data)) {
		/* a mkdir'd node got data (or lost it): new type, new inode */
		char *pp = path_parent(path);
		struct zinode *p = pp ? inode_known(pp) : NULL;

		if (p)
			nt_inval_entry(p->ino, path_base(path));
		free(pp);
		goto out;
	}
	{
		struct dataview v = { path, st };

		inode_foreach_path(path, replay_data_view, &v);
	}
	if (replay_wanted(path, &parent)) {
		if (shown_as_dir(V_NONE, st, null_data))
			nt_replay(NT_REPLAY_ATTRIB, path, 1, 0, NULL);
		else
			nt_replay(NT_REPLAY_MODIFY, path, 0, st->data_length, NULL);
	}
out:
	free(path);
}

static void created_fetched(int rc, const struct zk_stat *st, int null_data,
			    const struct zk_resp *d, void *arg)
{
	char *path = arg;
	struct zinode *parent;

	if (rc)
		goto out;
	replay_wanted(path, &parent);
	if (parent) {
		nt_inval_entry(parent->ino, path_base(path));
		nt_replay(NT_REPLAY_CREATE, path, shown_as_dir(V_NONE, st, null_data), 0, NULL);
	}
	parent_changed(path);
out:
	free(path);
}

static void deleted(const char *path)
{
	struct zinode *known = inode_known(path), *parent;

	replay_wanted(path, &parent);
	if (parent) {
		struct zinode *before = known;

		if (!before) {
			/* the kernel never looked it up: answer the replay's lookup with a
			 * stand-in of the node as it was */
			before = inode_add_unique(V_NONE, path, 0, 0);
			if (before) {
				before->have_st = 1;
				before->deleted = 1;
			}
		}
		if (before)
			nt_replay(NT_REPLAY_DELETE, path, before->is_dir, 0, before);
	} else if (known) {
		nt_inval_inode(known, 0);
	}
	mark_deleted(path);
	parent_changed(path);
}

void zkfs_watch_cb(struct zkc *c, int type, const char *path, void *arg)
{
	char *p;

	if (type == ZEV_NONE || g_fs->exiting)
		return;
	if (expect_consume(type, path)) {
		/* one-shot: our own change used up the node's watch */
		if (!g_fs->persistent_watch && (type == ZEV_DATA_CHANGED || type == ZEV_CREATED))
			watch_node_known(path);
		return;
	}
	log_debug("remote change %d on '%s'", type, path);
	if (!g_fs->persistent_watch) {
		if (type == ZEV_DELETED)
			cw_remove(path);
		/* one-shot: the parent's difference reports its children's creates and deletes */
		if ((type == ZEV_CREATED || type == ZEV_DELETED) && cw_covers(path))
			return;
	}
	switch (type) {
	case ZEV_DATA_CHANGED:
	case ZEV_CREATED:
		p = strdup(path);
		if (p)
			fetch_node(p, 0, type == ZEV_CREATED ? created_fetched : data_changed_fetched, p);
		break;
	case ZEV_DELETED:
		deleted(path);
		break;
	case ZEV_CHILDREN_CHANGED: {
		struct zinode *in = inode_known(path);
		struct cwatch *w;

		/* one-shot mode only: the names come from reading the list again */
		if (in)
			nt_inval_inode(in, 0);
		w = cw_find(path);
		if (w && !in && strcmp(path, "/")) {
			/* the kernel forgot the directory: let its watch go (this was its last
			 * event); a later lookup arms a new one */
			cw_remove(path);
		} else if (w) {
			cw_read(w);
		}
		break;
	}
	}
}

static void addwatch_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	if (rc == 0) {
		g_fs->persistent_watch = 1;
		g_fs->cache_trusted = 1;
		zkfs_set_cache_timeout(3600.0);
		return;
	}
	log_warn("persistent recursive watch refused (%s): using one-shot watches and short "
		 "cache timeouts", zk_strerror(rc));
	g_fs->persistent_watch = 0;
	g_fs->cache_trusted = 0;
	zkfs_set_cache_timeout(1.0);
	oneshot_start();
}

static void distrust(struct zinode *in, void *arg)
{
	if (in->kind != K_NODE)
		return;
	in->have_st = 0;
	in->data_valid = 0;
	if (in->nlookup > 0 && in->ino != FUSE_ROOT_ID)
		nt_inval_inode(in, !in->is_dir);
}

void zkfs_state_cb(struct zkc *c, int state, int new_session, void *arg)
{
	switch (state) {
	case ZSTATE_SYNC_CONNECTED:
		if (new_session && g_fs->o.watch_oneshot) {
			g_fs->persistent_watch = 0;
			g_fs->cache_trusted = 0;
			zkfs_set_cache_timeout(1.0);
			oneshot_start();
		} else if (new_session) {
			if (zkc_add_watch(c, "/", ZADDWATCH_PERSISTENT_RECURSIVE, addwatch_cb, NULL))
				addwatch_cb(c, ZSYSTEMERROR, NULL, NULL);
		} else if (g_fs->persistent_watch) {
			/* re-armed by the client's setWatches2 */
			g_fs->cache_trusted = 1;
		}
		if (g_fs->had_session) {
			/* changes made while we were away sent no events */
			inode_foreach(distrust, NULL);
		}
		if (new_session && g_fs->had_session)
			zkfs_recreate_ephemerals();
		g_fs->had_session = 1;
		break;
	case ZSTATE_DISCONNECTED:
		g_fs->cache_trusted = 0;
		log_info("disconnected from zookeeper; re-connecting");
		break;
	case ZSTATE_EXPIRED:
		g_fs->cache_trusted = 0;
		log_warn("zookeeper session expired; starting a new one");
		break;
	case ZSTATE_AUTH_FAILED:
		log_error("zookeeper authentication failed");
		break;
	}
}
