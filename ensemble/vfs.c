/*
 * vfs.c: the POSIX implementation of the file interface, and helpers built on the
 * interface alone (so they work the same on the simulated one).
 */
#include "vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct posix_file {
	struct vfs_file base;
	int fd;
};

static int px_open(struct vfs *v, const char *path, int flags, struct vfs_file **out)
{
	int oflags = O_CLOEXEC | ((flags & VFS_RDWR) ? O_RDWR : O_RDONLY);
	struct posix_file *f;
	int fd;

	if (flags & VFS_CREAT)
		oflags |= O_CREAT;
	if (flags & VFS_EXCL)
		oflags |= O_EXCL;
	if (flags & VFS_TRUNC)
		oflags |= O_TRUNC;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	do
		fd = open(path, oflags, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		int e = errno;

		free(f);
		return -e;
	}
	f->base.vfs = v;
	f->fd = fd;
	*out = &f->base;
	return 0;
}

static int px_close(struct vfs_file *vf)
{
	struct posix_file *f = (struct posix_file *)vf;
	int rc = close(f->fd) ? -errno : 0;

	free(f);
	/* EINTR from close: the descriptor is gone on Linux either way. */
	return rc == -EINTR ? 0 : rc;
}

static int64_t px_pread(struct vfs_file *vf, void *p, size_t n, int64_t off)
{
	struct posix_file *f = (struct posix_file *)vf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(f->fd, (char *)p + done, n - done, (off_t)(off + (int64_t)done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (int64_t)done;
}

static int px_pwrite(struct vfs_file *vf, const void *p, size_t n, int64_t off)
{
	struct posix_file *f = (struct posix_file *)vf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(f->fd, (const char *)p + done, n - done,
				   (off_t)(off + (int64_t)done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int px_sync(struct vfs_file *vf, int data_only)
{
	struct posix_file *f = (struct posix_file *)vf;
	int r;

	/* No retry on EINTR-free failure: after a failed fsync the kernel may have dropped
	 * the dirty pages, so a second fsync that "succeeds" proves nothing. */
	do
		r = data_only ? fdatasync(f->fd) : fsync(f->fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/*
 * Large files (snapshots: ~220 MB per million znodes) bypass the page cache: copying them
 * into it was 15% of the server's CPU at a million znodes under load, and their writeback
 * then competed with the txn log's fdatasyncs. O_DIRECT needs aligned buffers, offsets and
 * lengths: the data goes through an aligned bounce buffer, the tail is padded to a block
 * and the file cut back to len. A file system without O_DIRECT (tmpfs) gets plain writes.
 */
#define DIRECT_MIN ((size_t)16 << 20)
#define DIRECT_CHUNK ((size_t)8 << 20)
#define DIRECT_ALIGN 4096

static int write_all_fd(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		off += w;
		n -= (size_t)w;
	}
	return 0;
}

static void pace_before(const struct vfs_pace *pace, size_t off, size_t piece)
{
	if (pace && off > 0)
		pace->fn(pace->ctx, piece);
}

static int px_write_file(struct vfs *v, const char *path, const void *data, size_t len,
			 const struct vfs_pace *pace)
{
	const uint8_t *src = data;
	uint8_t *bounce = NULL;
	int direct = len >= DIRECT_MIN, fd, rc = 0;
	size_t off;

	do
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0),
			  0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && direct && errno == EINVAL) {
		direct = 0;
		do
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		while (fd < 0 && errno == EINTR);
	}
	if (fd < 0)
		return -errno;
	/* mmap, not malloc: freeing 8 MiB from malloc raises glibc's mmap threshold, and
	 * later buffers of that size would stay in the heap (measured: +8 MB RSS). */
	if (direct) {
		bounce = mmap(NULL, DIRECT_CHUNK, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (bounce == MAP_FAILED)
			bounce = NULL;
	}
	if (!bounce) {
		for (off = 0; rc == 0 && off < len; off += VFS_PIECE) {
			size_t n = len - off < VFS_PIECE ? len - off : VFS_PIECE;

			pace_before(pace, off, n);
			rc = write_all_fd(fd, src + off, n, (off_t)off);
		}
	} else {
		for (off = 0; rc == 0 && off < len; off += DIRECT_CHUNK) {
			size_t n = len - off < DIRECT_CHUNK ? len - off : DIRECT_CHUNK;
			size_t padded = (n + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
			size_t q;

			memcpy(bounce, src + off, n);
			memset(bounce + n, 0, padded - n);
			/* VFS_PIECE is a multiple of DIRECT_ALIGN: every piece stays aligned. */
			for (q = 0; rc == 0 && q < padded; q += VFS_PIECE) {
				size_t m = padded - q < VFS_PIECE ? padded - q : VFS_PIECE;

				pace_before(pace, off + q, m);
				rc = write_all_fd(fd, bounce + q, m, (off_t)(off + q));
			}
		}
		munmap(bounce, DIRECT_CHUNK);
		if (rc == 0 && ftruncate(fd, (off_t)len) < 0)
			rc = -errno;
	}
	/* O_DIRECT skips the page cache, not the device's cache or the metadata. */
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	return rc;
}

static int px_truncate(struct vfs_file *vf, int64_t size)
{
	struct posix_file *f = (struct posix_file *)vf;
	int r;

	do
		r = ftruncate(f->fd, (off_t)size);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int px_size(struct vfs_file *vf, int64_t *size)
{
	struct posix_file *f = (struct posix_file *)vf;
	struct stat sb;

	if (fstat(f->fd, &sb) < 0)
		return -errno;
	*size = (int64_t)sb.st_size;
	return 0;
}

static int px_rename(struct vfs *v, const char *from, const char *to)
{
	return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(struct vfs *v, const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int px_list(struct vfs *v, const char *dir, struct zk_strvec *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	if (out->n < 0)
		out->n = 0;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			char path[4096];
			struct stat sb;

			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
		} else if (de->d_type != DT_REG) {
			continue;
		}
		if (zk_strvec_push(out, de->d_name)) {
			rc = -ENOMEM;
			break;
		}
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

static int px_sync_dir(struct vfs *v, const char *dir)
{
	int fd, rc = 0;

	do
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)	/* some file systems cannot fsync a dir */
		rc = -errno;
	close(fd);
	return rc;
}

static int px_mkdir(struct vfs *v, const char *path)
{
	return mkdir(path, 0755) < 0 ? -errno : 0;
}

static int px_check_dir(struct vfs *v, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if (access(path, W_OK | X_OK) < 0)
		return -errno;
	return 0;
}

static struct vfs posix_vfs = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.sync = px_sync,
	.write_file = px_write_file,
	.truncate = px_truncate,
	.size = px_size,
	.rename = px_rename,
	.unlink = px_unlink,
	.list = px_list,
	.sync_dir = px_sync_dir,
	.mkdir = px_mkdir,
	.check_dir = px_check_dir,
};

struct vfs *vfs_posix(void)
{
	return &posix_vfs;
}

/* ---- helpers on the interface ------------------------------------------------------- */

int vfs_mkdirs(struct vfs *v, const char *path, char *failed, size_t failed_len)
{
	char p[4096];
	size_t i, n = strlen(path);
	int rc;

	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	/* Walk each prefix ending before a '/', then the whole path. */
	for (i = 1; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		p[i] = '\0';
		rc = v->mkdir(v, p);
		if (rc == -EEXIST)
			rc = v->check_dir(v, p) == -ENOTDIR ? -ENOTDIR : 0;
		if (rc) {
			if (failed)
				snprintf(failed, failed_len, "%s", p);
			return rc;
		}
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

int vfs_write_atomic(struct vfs *v, const char *dir, const char *tmpname, const char *name,
		     const void *data, size_t len, const struct vfs_pace *pace,
		     char *errmsg, size_t errlen)
{
	char tmp[4096], dst[4096];
	struct vfs_file *f = NULL;
	const char *step;
	size_t off;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s", dir, tmpname);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (v->write_file) {
		step = "write";
		rc = v->write_file(v, tmp, data, len, pace);
		if (rc) {
			vfs_unlink(v, tmp);
			goto err;
		}
		goto written;
	}
	step = "create";
	rc = vfs_open(v, tmp, VFS_RDWR | VFS_CREAT | VFS_TRUNC, &f);
	if (rc)
		goto err;
	step = "write";
	for (off = 0; rc == 0 && off < len; off += VFS_PIECE) {
		size_t n = len - off < VFS_PIECE ? len - off : VFS_PIECE;

		pace_before(pace, off, n);
		rc = vfs_pwrite(f, (const uint8_t *)data + off, n, (int64_t)off);
	}
	if (rc)
		goto err_after_create;
	step = "fsync";
	rc = vfs_sync(f, 0);
	if (rc)
		goto err_after_create;
	step = "close";
	rc = vfs_close(f);
	f = NULL;
	if (rc)
		goto err_after_create;
written:
	step = "rename";
	rc = vfs_rename(v, tmp, dst);
	if (rc)
		goto err_after_create;
	/* The rename is only durable once the directory is. */
	rc = vfs_sync_dir(v, dir);
	if (rc) {
		snprintf(errmsg, errlen, "fsync directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	return 0;

err_after_create:
	if (f)
		vfs_close(f);
	vfs_unlink(v, tmp);
err:
	snprintf(errmsg, errlen, "%s %s: %s", step, tmp, strerror(-rc));
	return rc;
}

int vfs_read_all(struct vfs *v, const char *path, uint8_t **out, size_t *len)
{
	return vfs_read_all_prep(v, path, out, len, NULL);
}

int vfs_read_all_prep(struct vfs *v, const char *path, uint8_t **out, size_t *len,
		      void (*prep)(void *p, size_t len))
{
	struct vfs_file *f;
	int64_t size, got;
	uint8_t *p;
	int rc;

	rc = vfs_open(v, path, VFS_RDONLY, &f);
	if (rc)
		return rc;
	rc = vfs_size(f, &size);
	if (rc)
		goto out;
	if ((uint64_t)size > SIZE_MAX - 1) {
		rc = -EFBIG;
		goto out;
	}
	p = malloc(size > 0 ? (size_t)size : 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	if (prep)
		prep(p, (size_t)size);
	got = vfs_pread(f, p, (size_t)size, 0);
	if (got < 0) {
		rc = (int)got;
		free(p);
		goto out;
	}
	*out = p;
	*len = (size_t)got;
out:
	vfs_close(f);
	return rc;
}

int64_t vfs_dir_bytes(struct vfs *v, const char *dir)
{
	struct zk_strvec names = { 0, NULL };
	int64_t total = 0;
	int32_t i;

	if (vfs_list(v, dir, &names) == 0) {
		for (i = 0; i < names.n; i++) {
			char path[4096];
			struct vfs_file *f;
			int64_t size;

			snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
			if (vfs_open(v, path, VFS_RDONLY, &f))
				continue;
			if (vfs_size(f, &size) == 0)
				total += size;
			vfs_close(f);
		}
	}
	zk_strvec_release(&names);
	return total;
}
