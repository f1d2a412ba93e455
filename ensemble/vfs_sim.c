/*
 * vfs_sim.c: see vfs_sim.h. Files are inodes with a current and a durable image plus the
 * list of unsynced changes that turn one into the other; names map to inodes in a current
 * and a durable namespace plus the list of unsynced namespace changes.
 */
#include "vfs_sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512

/* Bytes [0, dlen) are stored; [dlen, size) read as zeros (sparse: preallocation costs
 * nothing). */
struct image {
	uint8_t *p;
	size_t dlen, cap;
	int64_t size;
};

enum { CH_WRITE, CH_TRUNC };

struct change {
	int kind;
	int64_t off;		/* write offset, or the new size */
	uint8_t *p;
	size_t n;
	struct change *next;
};

struct inode {
	struct image cur, dur;
	struct change *head, *tail;
	struct inode *next_all;
};

struct entry {
	char *path;
	struct inode *ino;
};

struct ns {
	struct entry *v;
	size_t n, cap;
};

enum { NS_CREATE, NS_UNLINK, NS_RENAME };

struct ns_change {
	int kind;
	char *dir;
	char *a, *b;		/* path (create/unlink), from/to (rename) */
	struct inode *ino;	/* create */
	struct ns_change *next;
};

struct fault {
	int64_t countdown;
	int err;
	int persistent;
	int firing;
};

struct sim {
	struct vfs vfs;
	uint64_t rng;
	struct inode *inodes;
	struct ns cur, dur;
	struct ns_change *nhead, *ntail;
	char **dirs;
	size_t ndirs;
	struct fault faults[VFS_SIM_NOPS];
	int64_t calls[VFS_SIM_NOPS];
	void (*hook[VFS_SIM_NOPS])(void *ctx);
	void *hook_ctx[VFS_SIM_NOPS];
	int64_t power_left;	/* -1: no cut planned */
	int power_off;
	uint64_t epoch;		/* bumped by each crash; handles of older epochs are dead */
};

struct sim_file {
	struct vfs_file base;
	struct inode *ino;
	uint64_t epoch;
};

static uint64_t rnd(uint64_t *s)
{
	/* splitmix64: small, seedable, good enough for fault choices. */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* ---- images ------------------------------------------------------------------------- */

static int all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int image_write(struct image *im, int64_t off, const uint8_t *p, size_t n)
{
	size_t end = (size_t)off + n;

	if ((size_t)off >= im->dlen && all_zero(p, n)) {
		/* Zeros past the stored bytes: only the size moves. */
		if ((int64_t)end > im->size)
			im->size = (int64_t)end;
		return 0;
	}
	if (end > im->cap) {
		size_t cap = im->cap ? im->cap : 4096;
		uint8_t *np;

		while (cap < end)
			cap *= 2;
		np = realloc(im->p, cap);
		if (!np)
			return -ENOMEM;
		im->p = np;
		im->cap = cap;
	}
	if ((size_t)off > im->dlen)
		memset(im->p + im->dlen, 0, (size_t)off - im->dlen);
	memcpy(im->p + off, p, n);
	if (end > im->dlen)
		im->dlen = end;
	if ((int64_t)end > im->size)
		im->size = (int64_t)end;
	return 0;
}

static void image_truncate(struct image *im, int64_t size)
{
	if ((size_t)size < im->dlen)
		im->dlen = (size_t)size;
	im->size = size;
}

static int64_t image_read(const struct image *im, uint8_t *p, size_t n, int64_t off)
{
	size_t got, i;

	if (off >= im->size)
		return 0;
	got = (size_t)(im->size - off) < n ? (size_t)(im->size - off) : n;
	for (i = 0; i < got; i++) {
		size_t at = (size_t)off + i;

		p[i] = at < im->dlen ? im->p[at] : 0;
	}
	return (int64_t)got;
}

static int image_copy(struct image *dst, const struct image *src)
{
	if (src->dlen > dst->cap) {
		uint8_t *np = realloc(dst->p, src->dlen);

		if (!np)
			return -ENOMEM;
		dst->p = np;
		dst->cap = src->dlen;
	}
	if (src->dlen)
		memcpy(dst->p, src->p, src->dlen);
	dst->dlen = src->dlen;
	dst->size = src->size;
	return 0;
}

static void changes_free(struct inode *ino)
{
	struct change *c, *n;

	for (c = ino->head; c; c = n) {
		n = c->next;
		free(c->p);
		free(c);
	}
	ino->head = ino->tail = NULL;
}

static int change_add(struct inode *ino, int kind, int64_t off, const void *p, size_t n)
{
	struct change *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->kind = kind;
	c->off = off;
	if (n) {
		c->p = malloc(n);
		if (!c->p) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->p, p, n);
		c->n = n;
	}
	if (ino->tail)
		ino->tail->next = c;
	else
		ino->head = c;
	ino->tail = c;
	return 0;
}

/* ---- namespaces --------------------------------------------------------------------- */

static struct entry *ns_find(struct ns *ns, const char *path)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i].path, path))
			return &ns->v[i];
	return NULL;
}

static int ns_set(struct ns *ns, const char *path, struct inode *ino)
{
	struct entry *e = ns_find(ns, path);

	if (e) {
		e->ino = ino;
		return 0;
	}
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		struct entry *nv = realloc(ns->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		ns->v = nv;
		ns->cap = cap;
	}
	ns->v[ns->n].path = strdup(path);
	if (!ns->v[ns->n].path)
		return -ENOMEM;
	ns->v[ns->n].ino = ino;
	ns->n++;
	return 0;
}

static void ns_del(struct ns *ns, const char *path)
{
	struct entry *e = ns_find(ns, path);

	if (!e)
		return;
	free(e->path);
	*e = ns->v[--ns->n];
}

static void ns_release(struct ns *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i].path);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	char *d = malloc(n + 2);

	if (!d)
		return NULL;
	if (n == 0) {
		strcpy(d, "/");
	} else {
		memcpy(d, path, n);
		d[n] = '\0';
	}
	return d;
}

static int ns_change_add(struct sim *s, int kind, const char *a, const char *b,
			 struct inode *ino)
{
	struct ns_change *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->kind = kind;
	c->dir = dir_of(a);
	c->a = strdup(a);
	c->b = b ? strdup(b) : NULL;
	c->ino = ino;
	if (!c->dir || !c->a || (b && !c->b)) {
		free(c->dir);
		free(c->a);
		free(c->b);
		free(c);
		return -ENOMEM;
	}
	if (s->ntail)
		s->ntail->next = c;
	else
		s->nhead = c;
	s->ntail = c;
	return 0;
}

static void ns_change_apply(struct ns *ns, const struct ns_change *c)
{
	struct entry *e;

	switch (c->kind) {
	case NS_CREATE:
		ns_set(ns, c->a, c->ino);
		break;
	case NS_UNLINK:
		ns_del(ns, c->a);
		break;
	case NS_RENAME:
		e = ns_find(ns, c->a);
		if (e) {
			struct inode *ino = e->ino;

			ns_del(ns, c->a);
			ns_set(ns, c->b, ino);
		}
		break;
	}
}

static void ns_change_free(struct ns_change *c)
{
	free(c->dir);
	free(c->a);
	free(c->b);
	free(c);
}

static int dir_exists(const struct sim *s, const char *dir)
{
	size_t i;

	if (!strcmp(dir, "/"))
		return 1;
	for (i = 0; i < s->ndirs; i++)
		if (!strcmp(s->dirs[i], dir))
			return 1;
	return 0;
}

/* ---- faults and power --------------------------------------------------------------- */

/* Counts a call of op and returns the error it must fail with, or 0. */
static int gate(struct sim *s, enum vfs_sim_op op, int mutating)
{
	struct fault *f = &s->faults[op];

	s->calls[op]++;
	if (s->hook[op]) {
		void (*fn)(void *) = s->hook[op];

		s->hook[op] = NULL;	/* once: the hook may call the vfs itself */
		fn(s->hook_ctx[op]);
	}
	if (s->power_off)
		return -EIO;
	if (mutating && s->power_left >= 0) {
		if (s->power_left == 0) {
			s->power_off = 1;
			return -EIO;
		}
		s->power_left--;
	}
	if (f->firing)
		return -f->err;
	if (f->countdown > 0 && --f->countdown == 0) {
		f->firing = f->persistent;
		return -f->err;
	}
	return 0;
}

/* ---- the vfs ------------------------------------------------------------------------ */

#define SIM(v) ((struct sim *)(v))

static int dead(const struct sim_file *f)
{
	return f->epoch != SIM(f->base.vfs)->epoch;
}

static int sim_open(struct vfs *v, const char *path, int flags, struct vfs_file **out)
{
	struct sim *s = SIM(v);
	struct entry *e;
	struct sim_file *f;
	struct inode *ino;
	char *dir;
	int rc = gate(s, VFS_SIM_OPEN, (flags & (VFS_CREAT | VFS_TRUNC)) != 0);

	if (rc)
		return rc;
	e = ns_find(&s->cur, path);
	if (e && (flags & VFS_CREAT) && (flags & VFS_EXCL))
		return -EEXIST;
	if (!e && !(flags & VFS_CREAT))
		return -ENOENT;
	dir = dir_of(path);
	if (!dir)
		return -ENOMEM;
	rc = dir_exists(s, dir) ? 0 : -ENOENT;
	free(dir);
	if (rc)
		return rc;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (e) {
		ino = e->ino;
	} else {
		ino = calloc(1, sizeof(*ino));
		if (!ino) {
			free(f);
			return -ENOMEM;
		}
		ino->next_all = s->inodes;
		s->inodes = ino;
		if (ns_set(&s->cur, path, ino) || ns_change_add(s, NS_CREATE, path, NULL, ino)) {
			free(f);
			return -ENOMEM;
		}
	}
	if ((flags & VFS_TRUNC) && ino->cur.size) {
		image_truncate(&ino->cur, 0);
		if (change_add(ino, CH_TRUNC, 0, NULL, 0)) {
			free(f);
			return -ENOMEM;
		}
	}
	f->base.vfs = v;
	f->ino = ino;
	f->epoch = s->epoch;
	*out = &f->base;
	return 0;
}

static int sim_close(struct vfs_file *vf)
{
	free(vf);
	return 0;
}

static int64_t sim_pread(struct vfs_file *vf, void *p, size_t n, int64_t off)
{
	struct sim_file *f = (struct sim_file *)vf;

	if (dead(f) || SIM(vf->vfs)->power_off)
		return -EIO;
	return image_read(&f->ino->cur, p, n, off);
}

static int sim_pwrite(struct vfs_file *vf, const void *p, size_t n, int64_t off)
{
	struct sim_file *f = (struct sim_file *)vf;
	struct sim *s = SIM(vf->vfs);
	int rc;

	if (dead(f))
		return -EIO;
	rc = gate(s, VFS_SIM_WRITE, 1);
	if (rc && !s->power_off && n > 1) {
		/* A failing write (ENOSPC) may have written part of its bytes. */
		size_t part = (size_t)below(&s->rng, n);

		if (part && image_write(&f->ino->cur, off, p, part) == 0)
			change_add(f->ino, CH_WRITE, off, p, part);
	}
	if (rc)
		return rc;
	rc = image_write(&f->ino->cur, off, p, n);
	if (rc)
		return rc;
	return change_add(f->ino, CH_WRITE, off, p, n);
}

static int sim_sync(struct vfs_file *vf, int data_only)
{
	struct sim_file *f = (struct sim_file *)vf;
	int rc;

	if (dead(f))
		return -EIO;
	rc = gate(SIM(vf->vfs), VFS_SIM_SYNC, 1);
	if (rc)
		return rc;
	rc = image_copy(&f->ino->dur, &f->ino->cur);
	if (rc)
		return rc;
	changes_free(f->ino);
	return 0;
}

static int sim_truncate(struct vfs_file *vf, int64_t size)
{
	struct sim_file *f = (struct sim_file *)vf;
	int rc;

	if (dead(f))
		return -EIO;
	rc = gate(SIM(vf->vfs), VFS_SIM_TRUNCATE, 1);
	if (rc)
		return rc;
	if (size > f->ino->cur.size) {
		f->ino->cur.size = size;
	} else {
		image_truncate(&f->ino->cur, size);
	}
	return change_add(f->ino, CH_TRUNC, size, NULL, 0);
}

static int sim_size(struct vfs_file *vf, int64_t *size)
{
	struct sim_file *f = (struct sim_file *)vf;

	if (dead(f) || SIM(vf->vfs)->power_off)
		return -EIO;
	*size = f->ino->cur.size;
	return 0;
}

static int sim_rename(struct vfs *v, const char *from, const char *to)
{
	struct sim *s = SIM(v);
	struct entry *e;
	struct inode *ino;
	int rc = gate(s, VFS_SIM_RENAME, 1);

	if (rc)
		return rc;
	e = ns_find(&s->cur, from);
	if (!e)
		return -ENOENT;
	ino = e->ino;
	ns_del(&s->cur, from);
	if (ns_set(&s->cur, to, ino))
		return -ENOMEM;
	return ns_change_add(s, NS_RENAME, from, to, NULL);
}

static int sim_unlink(struct vfs *v, const char *path)
{
	struct sim *s = SIM(v);
	int rc = gate(s, VFS_SIM_UNLINK, 1);

	if (rc)
		return rc;
	if (!ns_find(&s->cur, path))
		return -ENOENT;
	ns_del(&s->cur, path);
	return ns_change_add(s, NS_UNLINK, path, NULL, NULL);
}

static int sim_list(struct vfs *v, const char *dir, struct zk_strvec *out)
{
	struct sim *s = SIM(v);
	size_t i, dl = strlen(dir);

	if (s->power_off)
		return -EIO;
	if (!dir_exists(s, dir))
		return -ENOENT;
	if (out->n < 0)
		out->n = 0;
	for (i = 0; i < s->cur.n; i++) {
		const char *p = s->cur.v[i].path;

		if (!strncmp(p, dir, dl) && p[dl] == '/' && !strchr(p + dl + 1, '/'))
			if (zk_strvec_push(out, p + dl + 1))
				return -ENOMEM;
	}
	return 0;
}

static int sim_sync_dir(struct vfs *v, const char *dir)
{
	struct sim *s = SIM(v);
	struct ns_change *c, *next, *prev = NULL;
	int rc = gate(s, VFS_SIM_SYNC, 1);

	if (rc)
		return rc;
	if (!dir_exists(s, dir))
		return -ENOENT;
	for (c = s->nhead; c; c = next) {
		next = c->next;
		if (strcmp(c->dir, dir)) {
			prev = c;
			continue;
		}
		ns_change_apply(&s->dur, c);
		if (prev)
			prev->next = next;
		else
			s->nhead = next;
		if (s->ntail == c)
			s->ntail = prev;
		ns_change_free(c);
	}
	return 0;
}

static int sim_mkdir(struct vfs *v, const char *path)
{
	struct sim *s = SIM(v);
	char **nd, *parent;
	int ok;

	if (s->power_off)
		return -EIO;
	if (dir_exists(s, path) || ns_find(&s->cur, path))
		return -EEXIST;
	parent = dir_of(path);
	if (!parent)
		return -ENOMEM;
	ok = dir_exists(s, parent);
	free(parent);
	if (!ok)
		return -ENOENT;
	nd = realloc(s->dirs, (s->ndirs + 1) * sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	s->dirs = nd;
	s->dirs[s->ndirs] = strdup(path);
	if (!s->dirs[s->ndirs])
		return -ENOMEM;
	s->ndirs++;
	return 0;
}

static int sim_check_dir(struct vfs *v, const char *path)
{
	struct sim *s = SIM(v);

	if (dir_exists(s, path))
		return 0;
	return ns_find(&s->cur, path) ? -ENOTDIR : -ENOENT;
}

struct vfs *vfs_sim_new(uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->vfs.open = sim_open;
	s->vfs.close = sim_close;
	s->vfs.pread = sim_pread;
	s->vfs.pwrite = sim_pwrite;
	s->vfs.sync = sim_sync;
	s->vfs.truncate = sim_truncate;
	s->vfs.size = sim_size;
	s->vfs.rename = sim_rename;
	s->vfs.unlink = sim_unlink;
	s->vfs.list = sim_list;
	s->vfs.sync_dir = sim_sync_dir;
	s->vfs.mkdir = sim_mkdir;
	s->vfs.check_dir = sim_check_dir;
	s->rng = seed;
	s->power_left = -1;
	return &s->vfs;
}

void vfs_sim_free(struct vfs *v)
{
	struct sim *s = SIM(v);
	struct inode *ino, *next;
	struct ns_change *c, *cn;
	size_t i;

	if (!v)
		return;
	for (ino = s->inodes; ino; ino = next) {
		next = ino->next_all;
		changes_free(ino);
		free(ino->cur.p);
		free(ino->dur.p);
		free(ino);
	}
	for (c = s->nhead; c; c = cn) {
		cn = c->next;
		ns_change_free(c);
	}
	ns_release(&s->cur);
	ns_release(&s->dur);
	for (i = 0; i < s->ndirs; i++)
		free(s->dirs[i]);
	free(s->dirs);
	free(s);
}

void vfs_sim_fault(struct vfs *v, enum vfs_sim_op op, int64_t countdown, int err, int persistent)
{
	struct fault *f = &SIM(v)->faults[op];

	f->countdown = countdown;
	f->err = err;
	f->persistent = persistent;
	f->firing = 0;
}

void vfs_sim_hook(struct vfs *v, enum vfs_sim_op op, void (*fn)(void *ctx), void *ctx)
{
	SIM(v)->hook[op] = fn;
	SIM(v)->hook_ctx[op] = ctx;
}

void vfs_sim_clear_faults(struct vfs *v)
{
	memset(SIM(v)->faults, 0, sizeof(SIM(v)->faults));
}

void vfs_sim_cut_power_after(struct vfs *v, int64_t n)
{
	SIM(v)->power_left = n;
	if (n == 0)
		SIM(v)->power_off = 1;
}

int vfs_sim_power_is_off(const struct vfs *v)
{
	return ((const struct sim *)v)->power_off;
}

int64_t vfs_sim_calls(const struct vfs *v, enum vfs_sim_op op)
{
	return ((const struct sim *)v)->calls[op];
}

/* Applies one unsynced write to the durable image, sector by sector, as mode says. */
enum { KEEP_ALL, DROP_ALL, SECTORS, PREFIX };

static void crash_write(struct sim *s, struct image *im, const struct change *c,
			int mode, int64_t *units_left, int *torn)
{
	size_t done = 0;

	while (done < c->n) {
		int64_t at = c->off + (int64_t)done;
		size_t len = SECTOR - (size_t)(at % SECTOR);
		int keep;

		if (len > c->n - done)
			len = c->n - done;
		if (mode == SECTORS) {
			keep = rnd(&s->rng) & 1;
		} else {	/* PREFIX */
			keep = *units_left > 0;
			if (*units_left == 0 && !*torn) {
				/* The sector being written when the power went: half new bytes,
				 * half garbage, or nothing. */
				size_t part = (size_t)below(&s->rng, len + 1);
				uint8_t junk[SECTOR];
				size_t i;

				*torn = 1;
				for (i = 0; i < len; i++)
					junk[i] = (uint8_t)rnd(&s->rng);
				if (part)
					image_write(im, at, c->p + done, part);
				if (rnd(&s->rng) % 3 == 0)
					image_write(im, at + (int64_t)part, junk, len - part);
			}
			(*units_left)--;
		}
		if (keep)
			image_write(im, at, c->p + done, len);
		done += len;
	}
}

static int64_t count_units(const struct inode *ino)
{
	const struct change *c;
	int64_t n = 0;

	for (c = ino->head; c; c = c->next) {
		if (c->kind == CH_TRUNC) {
			n++;
		} else {
			int64_t first = c->off / SECTOR, last = (c->off + (int64_t)c->n - 1) / SECTOR;

			n += c->n ? last - first + 1 : 0;
		}
	}
	return n;
}

void vfs_sim_crash(struct vfs *v, uint64_t seed)
{
	struct sim *s = SIM(v);
	struct inode *ino;
	struct ns_change *c, *cn;
	size_t i;

	s->rng ^= seed * 0x2545F4914F6CDD1DULL;
	for (ino = s->inodes; ino; ino = ino->next_all) {
		int mode = (int)below(&s->rng, 4), torn = 0;
		int64_t units_left = 0;
		const struct change *ch;

		if (!ino->head)
			continue;
		if (mode == PREFIX)
			units_left = (int64_t)below(&s->rng, (uint64_t)count_units(ino) + 1);
		for (ch = ino->head; ch && mode != DROP_ALL; ch = ch->next) {
			if (ch->kind == CH_TRUNC) {
				int keep = mode == KEEP_ALL || (mode == SECTORS && (rnd(&s->rng) & 1)) ||
					   (mode == PREFIX && units_left-- > 0);

				if (keep) {
					if (ch->off > ino->dur.size)
						ino->dur.size = ch->off;
					else
						image_truncate(&ino->dur, ch->off);
				}
			} else if (mode == KEEP_ALL) {
				image_write(&ino->dur, ch->off, ch->p, ch->n);
			} else {
				crash_write(s, &ino->dur, ch, mode, &units_left, &torn);
			}
		}
		changes_free(ino);
		image_copy(&ino->cur, &ino->dur);
	}
	/* Directory changes: a prefix of each directory's list survives. */
	for (c = s->nhead; c; c = c->next) {
		struct ns_change *d;
		size_t count = 0, keep, k = 0;

		if (!c->dir[0])
			continue;	/* already handled with its directory */
		for (d = c; d; d = d->next)
			if (!strcmp(d->dir, c->dir))
				count++;
		keep = (size_t)below(&s->rng, count + 1);
		for (d = c; d; d = d->next) {
			if (d != c && !strcmp(d->dir, c->dir)) {
				if (k++ < keep)
					ns_change_apply(&s->dur, d);
				d->dir[0] = '\0';
			} else if (d == c) {
				if (k++ < keep)
					ns_change_apply(&s->dur, d);
			}
		}
		c->dir[0] = '\0';
	}
	for (c = s->nhead; c; c = cn) {
		cn = c->next;
		ns_change_free(c);
	}
	s->nhead = s->ntail = NULL;
	ns_release(&s->cur);
	for (i = 0; i < s->dur.n; i++)
		ns_set(&s->cur, s->dur.v[i].path, s->dur.v[i].ino);
	s->power_off = 0;
	s->power_left = -1;
	for (i = 0; i < VFS_SIM_NOPS; i++)
		s->faults[i].firing = 0, s->faults[i].countdown = 0;
	s->epoch++;
}
