/*
 * storage_purge.c: purge (storage_purge, storage_purge_vfs: keep the newest snapRetainCount
 * valid snapshots and the logs they need, as Apache's PurgeTxnLog does) and the size of a
 * data directory (storage_dir_size). Moved out of storage.c; it needs only the file
 * listing helpers of storage_priv.h, not an open storage.
 */
#include "storage_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* ---- purge and sizes ---------------------------------------------------------------- */

/* Apache's SnapStream.isValidSnapshot: a cheap look at the file, not a full parse. */
static int snap_looks_valid(struct vfs *vfs, const char *path, const struct dfile *d)
{
	static const uint8_t tail[5] = { 0, 0, 0, 1, '/' };
	static const uint8_t snappy[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
	struct vfs_file *f;
	uint8_t b[8];
	int64_t size;
	int ok = 0;

	if (vfs_open(vfs, path, VFS_RDONLY, &f))
		return 0;
	if (vfs_size(f, &size) == 0) {
		if (d->gz)
			ok = size >= 2 && vfs_pread(f, b, 2, 0) == 2 && b[0] == 0x1f && b[1] == 0x8b;
		else if (d->snappy)
			ok = size >= 8 && vfs_pread(f, b, 8, 0) == 8 && !memcmp(b, snappy, 8);
		else
			ok = size >= 10 && vfs_pread(f, b, 5, size - 5) == 5 && !memcmp(b, tail, 5);
	}
	vfs_close(f);
	return ok;
}

static int purge_file(struct vfs *vfs, const char *dir, const char *name, int *failed,
		      char *errmsg, size_t errlen)
{
	char path[PATH_LEN];
	int rc;

	storage_path_join(path, dir, name);
	log_info("purge: removing %s", path);
	rc = vfs_unlink(vfs, path);
	if (rc && rc != -ENOENT && !*failed) {
		snprintf(errmsg, errlen, "remove %s: %s", path, strerror(-rc));
		*failed = 1;
	}
	return rc;
}

int storage_purge_vfs(struct vfs *vfs, const char *data_dir, const char *log_dir, int retain,
		      char *errmsg, size_t errlen)
{
	char snap_dir[PATH_LEN], ldir[PATH_LEN];
	struct dfile *snaps = NULL, *logs = NULL;
	int nsnaps = 0, nlogs = 0, i, picked = 0, failed = 0, rc;
	int64_t z = -1, keep_from = 0;

	if (retain < 3) {
		snprintf(errmsg, errlen, "snapRetainCount must be at least 3 (got %d)", retain);
		return ZBADARGUMENTS;
	}
	snprintf(snap_dir, sizeof(snap_dir), "%s/version-2", data_dir);
	snprintf(ldir, sizeof(ldir), "%s/version-2", log_dir && log_dir[0] ? log_dir : data_dir);
	rc = storage_list_files(vfs, snap_dir, "snapshot", &snaps, &nsnaps);
	if (rc == 0)
		rc = storage_list_files(vfs, ldir, "log", &logs, &nlogs);
	if (rc) {
		snprintf(errmsg, errlen, "list %s: %s", nsnaps || !snaps ? snap_dir : ldir,
			 strerror(-rc));
		rc = ZSYSTEMERROR;
		goto out;
	}
	/* The oldest of the newest `retain` valid snapshots sets the line. */
	for (i = nsnaps - 1; i >= 0 && picked < retain; i--) {
		char path[PATH_LEN];

		storage_path_join(path, snap_dir, snaps[i].name);
		if (snap_looks_valid(vfs, path, &snaps[i])) {
			z = snaps[i].zxid;
			picked++;
		}
	}
	rc = 0;
	if (z < 0)
		goto out;	/* no valid snapshot: touch nothing */
	/* Keep the log holding z + the ones after it (Apache's getSnapshotLogs(z)). */
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid <= z)
			keep_from = logs[i].zxid;
	for (i = 0; i < nsnaps; i++)
		if (snaps[i].zxid < z)
			purge_file(vfs, snap_dir, snaps[i].name, &failed, errmsg, errlen);
	for (i = 0; i < nlogs; i++)
		if (logs[i].zxid < z && logs[i].zxid < keep_from)
			purge_file(vfs, ldir, logs[i].name, &failed, errmsg, errlen);
	vfs_sync_dir(vfs, snap_dir);
	if (strcmp(snap_dir, ldir))
		vfs_sync_dir(vfs, ldir);
	rc = failed ? ZSYSTEMERROR : 0;
out:
	storage_dfiles_free(snaps, nsnaps);
	storage_dfiles_free(logs, nlogs);
	return rc;
}

int storage_purge(const char *data_dir, const char *log_dir, int retain,
		  char *errmsg, size_t errlen)
{
	return storage_purge_vfs(vfs_posix(), data_dir, log_dir, retain, errmsg, errlen);
}

int64_t storage_dir_size(const char *dir)
{
	char v2[PATH_LEN];

	snprintf(v2, sizeof(v2), "%s/version-2", dir);
	return vfs_dir_bytes(vfs_posix(), v2);
}
