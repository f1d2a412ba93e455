/*
 * Remote changes -> kernel invalidations + inotify replays (DESIGN.md §3), and the session
 * life cycle (watch registration, cache distrust after a disconnection, ephemerals
 * re-created after an expiry).
 *
 * For every event not caused by this mount (see expect_consume), the node is fetched again
 * (so caches hold the new stat/data before anyone is woken), its kernel caches are
 * invalidated, and the change is replayed through the mount by the notifier when the
 * kernel knows the node or its parent directory (an inotify watch pins its inode).
 */
#include "zkfs.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

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
	if (expect_consume(type, path))
		return;
	log_debug("remote change %d on '%s'", type, path);
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

		/* one-shot mode only: names are unknown, so only the attributes go */
		if (in)
			nt_inval_inode(in, 0);
		break;
	}
	}
}

static void addwatch_cb(struct zkc *c, int rc, const struct zk_resp *r, void *arg)
{
	if (rc == 0) {
		g_fs->persistent_watch = 1;
		g_fs->cache_trusted = 1;
		g_fs->timeout_s = 3600.0;
		return;
	}
	log_warn("persistent recursive watch refused (%s): using one-shot watches and short "
		 "cache timeouts", zk_strerror(rc));
	g_fs->persistent_watch = 0;
	g_fs->cache_trusted = 0;
	g_fs->timeout_s = 1.0;
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
		if (new_session) {
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
