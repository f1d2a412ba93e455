/*
 * The inode table (see zkfs.h). Three hash indexes over the same nodes: by FUSE node id,
 * by key (what makes two lookups the same inode) and by znode path (what a watch event
 * names). Node ids come from a counter and are never reused while the mount lives.
 */
#include "zkfs.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096

static struct zinode *by_ino[NBUCKETS];
static struct zinode *by_key[NBUCKETS];
static struct zinode *by_path[NBUCKETS];
static uint64_t next_ino = 2;
static uint64_t unique_seq;

static unsigned hstr(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h % NBUCKETS;
}

static char *make_key(int kind, int view, int32_t vversion, const char *path, int64_t czxid,
		      int is_dir)
{
	char *k = NULL;

	if (asprintf(&k, "%d|%d|%d|%lld|%d|%s", kind, view, vversion, (long long)czxid, is_dir,
		     path) < 0)
		return NULL;
	return k;
}

static void link_in(struct zinode *in)
{
	unsigned h = (unsigned)(in->ino % NBUCKETS);

	in->next_ino = by_ino[h];
	by_ino[h] = in;
	h = hstr(in->key);
	in->next_key = by_key[h];
	by_key[h] = in;
	h = hstr(in->path);
	in->next_path = by_path[h];
	by_path[h] = in;
}

static void unlink_from(struct zinode **head, struct zinode *in, size_t off)
{
	struct zinode **pp = head;

	while (*pp && *pp != in)
		pp = (struct zinode **)((char *)*pp + off);
	if (*pp)
		*pp = *(struct zinode **)((char *)in + off);
}

static struct zinode *new_inode(fuse_ino_t ino, int kind, int view, int32_t vversion,
				const char *path, int64_t czxid, int is_dir, char *key)
{
	struct zinode *in = calloc(1, sizeof(*in));

	if (!in) {
		free(key);
		return NULL;
	}
	in->ino = ino;
	in->kind = kind;
	in->view = view;
	in->vversion = vversion;
	in->path = strdup(path);
	in->key = key;
	in->czxid = czxid;
	in->is_dir = is_dir;
	if (!in->path) {
		free(in->key);
		free(in);
		return NULL;
	}
	link_in(in);
	return in;
}

void inode_table_init(void)
{
	struct zinode *root = new_inode(FUSE_ROOT_ID, K_NODE, V_NONE, 0, "/", 0, 1,
					make_key(K_NODE, V_NONE, 0, "/", 0, 1));

	/* the root is never forgotten */
	if (root)
		root->nlookup = 1;
}

struct zinode *inode_get(fuse_ino_t ino)
{
	struct zinode *in;

	for (in = by_ino[ino % NBUCKETS]; in; in = in->next_ino)
		if (in->ino == ino)
			return in;
	return NULL;
}

struct zinode *inode_find_or_add(int kind, int view, int32_t vversion, const char *path,
				 int64_t czxid, int is_dir)
{
	char *key;
	struct zinode *in;

	/* the root's czxid is learnt later; it stays node 1 */
	if (kind == K_NODE && view == V_NONE && strcmp(path, "/") == 0)
		return inode_get(FUSE_ROOT_ID);
	key = make_key(kind, view, vversion, path, czxid, is_dir);
	if (!key)
		return NULL;
	for (in = by_key[hstr(key)]; in; in = in->next_key) {
		if (!in->unique && strcmp(in->key, key) == 0) {
			free(key);
			return in;
		}
	}
	return new_inode(next_ino++, kind, view, vversion, path, czxid, is_dir, key);
}

struct zinode *inode_add_unique(int view, const char *path, int64_t czxid, int is_dir)
{
	char *key = NULL;
	struct zinode *in;

	if (asprintf(&key, "u|%llu", (unsigned long long)++unique_seq) < 0)
		return NULL;
	in = new_inode(next_ino++, K_NODE, view, 0, path, czxid, is_dir, key);
	if (in)
		in->unique = 1;
	return in;
}

static void maybe_free(struct zinode *in)
{
	if (in->ino == FUSE_ROOT_ID || in->nlookup > 0 || in->pins > 0 || in->waiters)
		return;
	unlink_from(&by_ino[in->ino % NBUCKETS], in, offsetof(struct zinode, next_ino));
	unlink_from(&by_key[hstr(in->key)], in, offsetof(struct zinode, next_key));
	unlink_from(&by_path[hstr(in->path)], in, offsetof(struct zinode, next_path));
	free(in->path);
	free(in->key);
	free(in->data);
	free(in);
}

void inode_set_czxid(struct zinode *in, int64_t czxid)
{
	char *key;

	if (in->czxid == czxid)
		return;
	in->czxid = czxid;
	if (in->unique || in->ino == FUSE_ROOT_ID)
		return;
	key = make_key(in->kind, in->view, in->vversion, in->path, czxid, in->is_dir);
	if (!key)
		return;
	unlink_from(&by_key[hstr(in->key)], in, offsetof(struct zinode, next_key));
	free(in->key);
	in->key = key;
	in->next_key = by_key[hstr(key)];
	by_key[hstr(key)] = in;
}

void inode_forget(struct zinode *in, uint64_t n)
{
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	maybe_free(in);
}

void inode_unpin(struct zinode *in)
{
	if (in->pins > 0)
		in->pins--;
	maybe_free(in);
}

void inode_foreach_path(const char *path, void (*fn)(struct zinode *, void *), void *arg)
{
	struct zinode *in, *next;

	for (in = by_path[hstr(path)]; in; in = next) {
		next = in->next_path;
		if (strcmp(in->path, path) == 0 && in->kind == K_NODE)
			fn(in, arg);
	}
}

void inode_foreach(void (*fn)(struct zinode *, void *), void *arg)
{
	struct zinode *in, *next;
	int i;

	for (i = 0; i < NBUCKETS; i++) {
		for (in = by_ino[i]; in; in = next) {
			next = in->next_ino;
			fn(in, arg);
		}
	}
}

struct zinode *inode_known(const char *path)
{
	struct zinode *in;

	for (in = by_path[hstr(path)]; in; in = in->next_path)
		if (in->kind == K_NODE && in->view == V_NONE && !in->deleted &&
		    in->nlookup > 0 && strcmp(in->path, path) == 0)
			return in;
	return NULL;
}

void inode_set_stat(struct zinode *in, const struct zk_stat *st)
{
	if (in->have_st && in->st.mzxid != st->mzxid)
		in->data_valid = 0;
	in->st = *st;
	in->have_st = 1;
	if (!in->czxid && in->ino == FUSE_ROOT_ID)
		in->czxid = st->czxid;
}

void inode_set_data(struct zinode *in, const uint8_t *data, int32_t len)
{
	uint8_t *d = malloc((size_t)(len > 0 ? len : 0) + 1);

	if (!d) {
		in->data_valid = 0;
		return;
	}
	if (len > 0)
		memcpy(d, data, (size_t)len);
	free(in->data);
	in->data = d;
	in->data_len = len > 0 ? len : 0;
	in->data_null = len < 0;
	in->data_valid = 1;
}

void inode_after_inval(struct zinode *in, void (*fn)(void *), void *arg)
{
	struct zwaiter *w;

	if (in->inval_pending <= 0) {
		fn(arg);
		return;
	}
	w = malloc(sizeof(*w));
	if (!w) {
		fn(arg);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->next = in->waiters;
	in->waiters = w;
}

void inode_inval_done(struct zinode *in)
{
	struct zwaiter *w;

	if (in->inval_pending > 0)
		in->inval_pending--;
	if (in->inval_pending == 0) {
		in->kernel_stale = 0;
		while ((w = in->waiters)) {
			in->waiters = w->next;
			w->fn(w->arg);
			free(w);
		}
	}
	inode_unpin(in);
}
