/*
 * datatree internals shared by the three files of the datatree module: datatree.c (the
 * node table, sets, ACL cache, lifecycle, queries and apply), quota.c (Apache's quota
 * bookkeeping) and tree_snap.c (the tree as a snapshot body). Nothing else includes this
 * file: everywhere else struct zk_tree and struct zk_node stay the opaque types of
 * datatree.h.
 *
 * The layout below is explained at the top of datatree.c. Its small accessors are static
 * inline here; the functions that keep the table, the sets, the ACL cache, the digest and
 * the data size consistent are defined (and commented) where their section is.
 */
#ifndef ZK_DATATREE_I_H
#define ZK_DATATREE_I_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "datatree.h"
#include "hashmap.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct acl_entry {
	struct hmap_entry h;	/* keyed by list content */
	int64_t index;
	int64_t refs;
	struct zk_acl_list acl;
};

struct node_set {
	struct zk_node **v;
	uint32_t n, cap;
};

/* A quota'd path as PathTrie spells it (see quota.c). */
struct quota {
	struct hmap_entry h;
	uint32_t len;		/* of path */
	char *stats;		/* "/zookeeper/quota" + path + "/zookeeper_stats", inside this allocation */
	uint32_t slen;
	char path[];
};

/*
 * The allocation: this struct (path[] starts at offset 69, not at sizeof), then
 *   path      NUL-terminated
 *   extras    only the fields whose flag is set, in this order (unaligned: see ext_get):
 *               F_OWNER  ephemeralOwner (8) and the set slot index (4); fixed at creation
 *               F_MOD    mzxid and mtime (16), once they differ from czxid and ctime
 *               F_PZXID  pzxid (8), once it differs from czxid
 *             A leaf that was never changed has none; a node gains F_MOD or F_PZXID
 *             (node_grow(): a new allocation, links moved over) when first changed.
 *   data      inline when data_len <= the room left in the allocation (at least 8 bytes),
 *             else the 8 bytes hold a pointer to a separate malloc (node_data_ptr())
 */
enum { F_OWNER = 1, F_MOD = 2, F_PZXID = 4 };

struct zk_node {
	struct zk_node *child, *next, *prev;
	struct acl_entry *acl;	/* NULL = OPEN_ACL_UNSAFE (index -1) */
	int64_t czxid, ctime;
	int32_t version;
	int32_t cversion;	/* child-creation counter C, as StatPersisted stores it */
	int32_t aversion;
	int32_t data_len;	/* -1 for null */
	int32_t nchildren;
	uint8_t flags;
	char path[];
};

/* The fields kept in the extras, with their implied values filled in. */
struct node_ext {
	int64_t owner, mzxid, mtime, pzxid;
};

/* Open addressing, linear probing; hash[i] == 0 marks an empty slot. */
struct node_table {
	uint32_t *hash;
	struct zk_node **v;
	uint32_t mask;		/* capacity - 1 (a power of two); 0 while empty */
	uint32_t n;
};

struct zk_tree {
	struct node_table nodes;
	struct zk_node *root;
	uint64_t k0, k1;	/* hash key */
	int64_t last_zxid;
	uint64_t digest;
	int64_t data_size;	/* sum of path and data lengths over znodes */
	struct hmap acls;
	int64_t acl_index;	/* last index handed out */
	struct hmap sessions;
	struct hmap quotas;	/* struct quota: the paths under a quota (Apache's pTrie) */
	struct node_set containers, ttls;
};

/* ---- layout accessors ---------------------------------------------------------------- */

static inline uint32_t path_hash(const struct zk_tree *t, const char *p, size_t len)
{
	return (uint32_t)hmap_hash(t->k0, t->k1, p, len);
}

/* The table's form of a path hash: never 0, which marks empty slots. */
static inline uint32_t nt_key(uint32_t h)
{
	return h ? h : 1;
}

static inline int path_is(const struct zk_node *n, const char *p, size_t len)
{
	/* strncmp: never reads past the NUL of a shorter stored path. */
	return strncmp(n->path, p, len) == 0 && n->path[len] == 0;
}

static inline struct zk_node *find_h(const struct zk_tree *t, const char *p, size_t len, uint32_t h)
{
	const struct node_table *nt = &t->nodes;
	uint32_t i;

	if (!nt->hash)
		return NULL;
	h = nt_key(h);
	for (i = h & nt->mask; nt->hash[i]; i = (i + 1) & nt->mask)
		if (nt->hash[i] == h && path_is(nt->v[i], p, len))
			return nt->v[i];
	return NULL;
}

static inline struct zk_node *find(const struct zk_tree *t, const char *p, size_t len)
{
	return find_h(t, p, len, path_hash(t, p, len));
}

static inline int64_t dlen0(int32_t len)
{
	return len > 0 ? len : 0;
}

static inline size_t extras_len(uint8_t flags)
{
	return (flags & F_OWNER ? 12 : 0) + (flags & F_MOD ? 16 : 0) + (flags & F_PZXID ? 8 : 0);
}

/* Offset of a flag's field within the extras of a node with these flags. */
static inline size_t extra_off(uint8_t flags, int flag)
{
	size_t off = 0;

	if (flag == F_OWNER)
		return 0;
	off += flags & F_OWNER ? 12 : 0;
	if (flag == F_MOD)
		return off;
	return off + (flags & F_MOD ? 16 : 0);
}

static inline uint8_t *extras(const struct zk_node *n, size_t plen)
{
	return (uint8_t *)n->path + plen + 1;
}

static inline uint8_t *data_area(const struct zk_node *n, size_t plen)
{
	return extras(n, plen) + extras_len(n->flags);
}

static inline int64_t ld64(const uint8_t *p)
{
	int64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st64(uint8_t *p, int64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void ext_get(const struct zk_node *n, size_t plen, struct node_ext *x)
{
	const uint8_t *e = extras(n, plen);

	x->owner = n->flags & F_OWNER ? ld64(e) : 0;
	x->mzxid = n->czxid;
	x->mtime = n->ctime;
	x->pzxid = n->czxid;
	if (n->flags & F_MOD) {
		e = extras(n, plen) + extra_off(n->flags, F_MOD);
		x->mzxid = ld64(e);
		x->mtime = ld64(e + 8);
	}
	if (n->flags & F_PZXID)
		x->pzxid = ld64(extras(n, plen) + extra_off(n->flags, F_PZXID));
}

/* Stores a field the node has room for (its flag is set). */
static inline void ext_put(struct zk_node *n, int flag, int64_t a, int64_t b)
{
	uint8_t *e = extras(n, strlen(n->path)) + extra_off(n->flags, flag);

	st64(e, a);
	if (flag == F_MOD)
		st64(e + 8, b);
}

static inline const char *node_name(const struct zk_node *n)
{
	const char *s = strrchr(n->path, '/');

	return s ? s + 1 : n->path;
}

/* ---- defined in datatree.c ----------------------------------------------------------- */

int nt_reserve(struct node_table *nt, uint32_t more);
uint8_t *node_data_at(const struct zk_node *n, size_t plen);
uint8_t *node_data_ptr(const struct zk_node *n);
struct zk_node *node_alloc(const char *path, size_t plen, const uint8_t *data, int32_t dlen,
			   int64_t owner, uint8_t flags);
void node_free(struct zk_node *n);
int node_set_data(struct zk_node *n, const uint8_t *data, int32_t dlen);
uint64_t node_digest(const struct zk_node *n);
struct zk_node *preorder_next(const struct zk_tree *t, const struct zk_node *c,
			      const struct zk_node *top);
int index_reserve(struct zk_tree *t, int64_t owner);
uint32_t acl_hash(const struct zk_tree *t, const struct zk_acl_list *a);
struct acl_entry *acl_find(const struct zk_tree *t, const struct zk_acl_list *a, uint32_t h);
struct acl_entry *acl_insert(struct zk_tree *t, const struct zk_acl_list *a, uint32_t h,
			     int64_t index);
void acl_entry_free(struct zk_tree *t, struct acl_entry *e);
void acl_unref(struct zk_tree *t, struct acl_entry *e);
void node_attach(struct zk_tree *t, struct zk_node *parent, struct zk_node *n, uint32_t h);

/* ---- defined in quota.c: the quota side of each change (ZSYSTEMERROR when memory runs out) */

int quota_update(struct zk_tree *t, const char *path, size_t plen, int64_t count_diff,
		 int64_t bytes_diff);
int quota_created(struct zk_tree *t, struct zk_node *n);
int quota_deleted(struct zk_tree *t, const char *path, size_t plen, int32_t dlen);
int quota_setup(struct zk_tree *t);

#endif
