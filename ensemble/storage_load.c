/*
 * storage_load.c: recovery at start (storage_load): finding the newest valid snapshot
 * (plain or gzip'ed, older ones tried when one fails its checks), replaying the txn logs
 * after it, cutting a torn tail off the newest log, refusing to start on corruption or on
 * logs without a snapshot, and removing what a crash left half-written. Moved out of
 * storage.c; struct zk_storage is in storage_priv.h.
 */
#include "storage_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "log.h"
#include "snapfile.h"
#include "txnlog.h"

/* Apache tries this many snapshots, newest first, before giving up. */
#define MAX_SNAP_TRIES 100

/* ---- load --------------------------------------------------------------------------- */

/* The ZxidDigest written with a snapshot: empty while nothing has been applied. */
static void snap_serialise(struct buf *b, const struct zk_tree *tree,
			   const struct storage_session *sessions, int32_t n)
{
	int64_t z = tree_last_zxid(tree);

	snapfile_write(b, tree, sessions, n, z > 0 ? z : 0, z > 0 ? tree_digest(tree) : 0);
}

/* Writes snapshot.<last zxid> on the calling thread (used at load). */
static int write_snapshot_now(struct zk_storage *st, const struct zk_tree *tree,
			      const struct storage_session *sessions, int32_t n,
			      char *errmsg, size_t errlen)
{
	struct buf b = BUF_INIT;
	char name[64], tmp[80], err[PATH_LEN + 128];
	uint64_t z = (uint64_t)tree_last_zxid(tree);
	int rc;

	snprintf(name, sizeof(name), "snapshot.%" PRIx64, z);
	snprintf(tmp, sizeof(tmp), ".snapshot.%" PRIx64 ".tmp", z);
	snap_serialise(&b, tree, sessions, n);
	if (b.oom) {
		buf_release(&b);
		snprintf(errmsg, errlen, "out of memory serialising %s", name);
		return ZSYSTEMERROR;
	}
	rc = vfs_write_atomic(st->vfs, st->snap_dir, tmp, name, b.p, b.len, NULL, err,
			      sizeof(err));
	if (rc) {
		snprintf(errmsg, errlen, "write snapshot: %s", err);
		buf_release(&b);
		return ZSYSTEMERROR;
	}
	log_info("snapshot %s/%s written (%zu bytes)", st->snap_dir, name, b.len);
	buf_release(&b);
	return 0;
}

/* Inflates a gzip'ed snapshot (zookeeper.snapshot.compression.method=gz). */
static int gunzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	size_t cap = inlen * 4 + 4096, len = 0;
	uint8_t *p = malloc(cap);
	int zr;

	if (!p)
		return -1;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(p);
		return -1;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	do {
		if (len == cap) {
			uint8_t *np = realloc(p, cap * 2);

			if (!np) {
				zr = Z_MEM_ERROR;
				break;
			}
			p = np;
			cap *= 2;
		}
		zs.next_out = p + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(p);
		return -1;
	}
	*out = p;
	*outlen = len;
	return 0;
}

/* Reads and fully checks one snapshot file. 0, or non-zero with why set. */
static int try_snapshot(struct zk_storage *st, const struct dfile *d, struct snapfile *sf,
			char *why, size_t whylen)
{
	char path[PATH_LEN];
	uint8_t *p = NULL;
	size_t len = 0;
	int rc;

	storage_path_join(path, st->snap_dir, d->name);
	if (d->snappy) {
		snprintf(why, whylen, "snappy-compressed snapshots are not supported");
		return -1;
	}
	/* the buffer's pages mapped in one call, not faulted in one at a time by the read
	 * (tens of MiB at every start) */
	rc = vfs_read_all_prep(st->vfs, path, &p, &len, snapfile_prefault);
	if (rc) {
		snprintf(why, whylen, "%s", strerror(-rc));
		return -1;
	}
	if (d->gz) {
		uint8_t *raw;
		size_t rawlen;

		if (gunzip(p, len, &raw, &rawlen)) {
			free(p);
			snprintf(why, whylen, "not a complete gzip stream");
			return -1;
		}
		free(p);
		p = raw;
		len = rawlen;
	}
	if (!snapfile_tail_ok(p, len)) {
		free(p);
		snprintf(why, whylen, "incomplete file (%zu bytes, no end marker)", len);
		return -1;
	}
	rc = snapfile_read(p, len, sf, why, whylen);
	free(p);
	return rc;
}

struct replay {
	struct zk_storage *st;
	struct zk_tree *tree;
	const struct storage_load_cb *cb;
	const char *path;
	int64_t snap_zxid;
	int64_t applied;	/* highest zxid applied so far */
	int64_t snap_digest_zxid, snap_digest;
	int has_snap_digest;
	int digest_warned;
	int64_t nreplayed;
};

static void compare_snap_digest(struct replay *r)
{
	if (!r->has_snap_digest || r->applied < r->snap_digest_zxid)
		return;
	if (r->applied == r->snap_digest_zxid && tree_digest(r->tree) != r->snap_digest)
		log_warn("tree digest 0x%" PRIx64 " at zxid 0x%" PRIx64 " differs from the "
			 "snapshot's 0x%" PRIx64, (uint64_t)tree_digest(r->tree),
			 (uint64_t)r->applied, (uint64_t)r->snap_digest);
	r->has_snap_digest = 0;
}

static int replay_rec(void *ctx, const struct zk_txn *txn, int64_t off)
{
	struct replay *r = ctx;
	int rc;

	if (txn->hdr.zxid <= r->applied) {
		if (txn->hdr.zxid > r->snap_zxid)
			log_warn("txn log %s: zxid 0x%" PRIx64 " at offset %" PRId64 " is not above "
				 "0x%" PRIx64 "; skipped", r->path, (uint64_t)txn->hdr.zxid, off,
				 (uint64_t)r->applied);
		return 0;
	}
	rc = tree_apply(r->tree, txn, NULL, NULL, NULL);
	if (rc)
		return rc;
	r->applied = txn->hdr.zxid;
	r->nreplayed++;
	/*
	 * Until the replay reaches the snapshot's digest zxid the tree may already hold txns
	 * a fuzzy snapshot caught after its own zxid, so a txn's digest cannot match yet:
	 * like Apache's compareDigest, compare only once out of that window.
	 */
	if (txn->has_digest && !r->has_snap_digest && !r->digest_warned &&
	    tree_digest(r->tree) != txn->digest) {
		/* Apache logs this and carries on; so do we, once per load. */
		log_warn("tree digest mismatch after zxid 0x%" PRIx64 " in %s (log 0x%" PRIx64
			 ", tree 0x%" PRIx64 ")", (uint64_t)txn->hdr.zxid, r->path,
			 (uint64_t)txn->digest, (uint64_t)tree_digest(r->tree));
		r->digest_warned = 1;
	}
	compare_snap_digest(r);
	if (r->cb && r->cb->txn)
		r->cb->txn(r->cb->ctx, txn);
	return 0;
}

/* Cuts a torn tail off (or removes a file with no complete record). */
static int repair_log(struct zk_storage *st, struct vfs_file *f, const char *path,
		      const struct txnlog_scan *res, char *errmsg, size_t errlen)
{
	char extra[128] = "";
	int rc;

	if (res->valid_after >= 0)
		snprintf(extra, sizeof(extra), "; the records from offset %" PRId64 " on were "
			 "never synced and are dropped with it", res->valid_after);
	if (res->nrecords == 0) {
		log_warn("torn txn log %s: %s and no complete record; removing it%s", path,
			 res->why, extra);
		rc = vfs_unlink(st->vfs, path);
		if (rc == 0)
			rc = vfs_sync_dir(st->vfs, st->log_dir);
		if (rc) {
			snprintf(errmsg, errlen, "remove torn txn log %s: %s", path, strerror(-rc));
			return ZSYSTEMERROR;
		}
		return 0;
	}
	log_warn("torn tail in txn log %s at offset %" PRId64 " (after zxid 0x%" PRIx64 "): %s; "
		 "truncating %" PRId64 " bytes%s", path, res->end, (uint64_t)res->last_zxid,
		 res->why, res->size - res->end, extra);
	rc = vfs_truncate(f, res->end);
	if (rc == 0)
		rc = vfs_sync(f, 0);
	if (rc) {
		snprintf(errmsg, errlen, "truncate torn txn log %s at offset %" PRId64 ": %s",
			 path, res->end, strerror(-rc));
		return ZSYSTEMERROR;
	}
	return 0;
}

static int replay_logs(struct zk_storage *st, struct replay *r, char *errmsg, size_t errlen)
{
	struct dfile *logs;
	int n, i, start = 0, rc;
	int64_t prev_last = -1;

	rc = storage_list_files(st->vfs, st->log_dir, "log", &logs, &n);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", st->log_dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	/*
	 * Start with the file holding the snapshot's zxid, the largest start zxid <= it, as
	 * Apache's FileTxnIterator does (it takes every file from snap_zxid + 1 on plus the
	 * one before): its records up to the snapshot are not replayed, but their checksums
	 * are checked, so damage there is refused as Apache refuses it.
	 */
	for (i = 0; i < n; i++)
		if (logs[i].zxid <= r->snap_zxid)
			start = i;
	for (i = start; i < n; i++) {
		char path[PATH_LEN];
		struct vfs_file *f;
		struct txnlog_scan res;

		storage_path_join(path, st->log_dir, logs[i].name);
		rc = vfs_open(st->vfs, path, VFS_RDWR, &f);
		if (rc) {
			snprintf(errmsg, errlen, "open txn log %s: %s", path, strerror(-rc));
			rc = ZSYSTEMERROR;
			goto out;
		}
		r->path = path;
		/* Only the newest file can end in a torn batch: the others are read up to
		 * their end marker, not through their preallocated zeros. */
		rc = txnlog_scan_after(f, path, r->snap_zxid, i < n - 1, replay_rec, r, &res,
				       errmsg, errlen);
		if (rc == 0 && res.state == TXNLOG_TORN)
			rc = repair_log(st, f, path, &res, errmsg, errlen);
		if (rc == 0 && res.state == TXNLOG_CLEAN && res.nrecords == 0) {
			/* A header and nothing else: useless, and its name would clash with the
			 * next file the log creates. */
			log_info("removing empty txn log %s", path);
			if (vfs_unlink(st->vfs, path) == 0)
				vfs_sync_dir(st->vfs, st->log_dir);
		}
		vfs_close(f);
		if (rc) {
			if (!errmsg[0])
				snprintf(errmsg, errlen, "replay %s: %s", path, zk_strerror(rc));
			goto out;
		}
		if (res.nrecords > 0) {
			if (prev_last >= 0 && res.first_zxid <= prev_last)
				log_warn("txn log %s starts at zxid 0x%" PRIx64 ", not above the "
					 "previous file's last 0x%" PRIx64, path,
					 (uint64_t)res.first_zxid, (uint64_t)prev_last);
			prev_last = res.last_zxid;
		}
	}
	rc = 0;
out:
	storage_dfiles_free(logs, n);
	return rc;
}

/* Removes snapshot temp files a crash left behind. */
static void remove_temps(struct zk_storage *st)
{
	struct zk_strvec names = { 0, NULL };
	int32_t i;

	if (vfs_list(st->vfs, st->snap_dir, &names))
		return;
	for (i = 0; i < names.n; i++) {
		size_t l = strlen(names.v[i]);

		if (!strncmp(names.v[i], ".snapshot.", 10) && l > 4 &&
		    !strcmp(names.v[i] + l - 4, ".tmp")) {
			char path[PATH_LEN];

			storage_path_join(path, st->snap_dir, names.v[i]);
			log_info("removing unfinished snapshot %s", path);
			vfs_unlink(st->vfs, path);
		}
	}
	zk_strvec_release(&names);
}

int storage_load(struct zk_storage *st, struct zk_tree **tree,
		 const struct storage_load_cb *cb, char *errmsg, size_t errlen)
{
	struct dfile *snaps = NULL, *logs = NULL;
	int nsnaps = 0, nlogs = 0, i, tries = 0, rc;
	struct snapfile sf;
	struct replay r;
	char why[512];
	int found = 0;

	*tree = NULL;
	errmsg[0] = '\0';
	memset(&sf, 0, sizeof(sf));
	memset(&r, 0, sizeof(r));
	remove_temps(st);
	rc = storage_list_files(st->vfs, st->snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", st->snap_dir, strerror(-rc));
		return ZSYSTEMERROR;
	}
	for (i = nsnaps - 1; i >= 0 && tries < MAX_SNAP_TRIES; i--, tries++) {
		why[0] = '\0';
		rc = try_snapshot(st, &snaps[i], &sf, why, sizeof(why));
		if (rc == 0) {
			found = 1;
			break;
		}
		log_warn("skipping snapshot %s/%s: %s; trying an older one", st->snap_dir,
			 snaps[i].name, why);
	}
	if (!found) {
		rc = storage_list_files(st->vfs, st->log_dir, "log", &logs, &nlogs);
		if (rc) {
			snprintf(errmsg, errlen, "list %s: %s", st->log_dir, strerror(-rc));
			rc = ZSYSTEMERROR;
			goto out;
		}
		if (nlogs > 0) {
			/* Apache: "No snapshot found, but there are log entries." Replaying the
			 * logs onto an empty tree could silently lose everything before them. */
			snprintf(errmsg, errlen, "no valid snapshot in %s but txn logs exist in %s "
				 "(%s ...): refusing to start; restore a snapshot or move the logs "
				 "away", st->snap_dir, st->log_dir, logs[0].name);
			rc = ZDATAINCONSISTENCY;
			goto out;
		}
		sf.tree = tree_new();
		if (!sf.tree) {
			snprintf(errmsg, errlen, "out of memory");
			rc = ZSYSTEMERROR;
			goto out;
		}
		r.snap_zxid = 0;
		tree_set_last_zxid(sf.tree, 0);
		rc = write_snapshot_now(st, sf.tree, NULL, 0, errmsg, errlen);
		if (rc)
			goto out;
	} else {
		r.snap_zxid = snaps[i].zxid;
		/* Apache takes the last processed zxid from the file name. */
		tree_set_last_zxid(sf.tree, r.snap_zxid);
		if (cb && cb->session)
			for (int32_t k = 0; k < sf.nsessions; k++)
				cb->session(cb->ctx, sf.sessions[k].id, sf.sessions[k].timeout);
		log_info("loaded snapshot %s/%s: zxid 0x%" PRIx64 ", %d sessions", st->snap_dir,
			 snaps[i].name, (uint64_t)r.snap_zxid, sf.nsessions);
	}
	r.st = st;
	r.tree = sf.tree;
	r.cb = cb;
	r.applied = r.snap_zxid;
	r.has_snap_digest = sf.has_digest;
	r.snap_digest_zxid = sf.digest_zxid;
	r.snap_digest = sf.digest;
	compare_snap_digest(&r);
	rc = replay_logs(st, &r, errmsg, errlen);
	if (rc)
		goto out;
	if (r.nreplayed)
		log_info("replayed %" PRId64 " txns from the logs, last zxid 0x%" PRIx64,
			 r.nreplayed, (uint64_t)r.applied);
	/* Appends go to a new file, as in Apache after a restart. */
	if (st->f) {
		vfs_close(st->f);
		st->f = NULL;
	}
	st->last_zxid = st->durable_zxid = tree_last_zxid(sf.tree);
	*tree = sf.tree;
	sf.tree = NULL;
	rc = 0;
out:
	snapfile_release(&sf);
	storage_dfiles_free(snaps, nsnaps);
	storage_dfiles_free(logs, nlogs);
	return rc;
}
