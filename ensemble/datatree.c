/*
 * datatree: znodes, their index structures and the apply function. The structs of the
 * layout below and the helpers shared with quota.c (quota bookkeeping) and tree_snap.c
 * (the snapshot body) are in datatree_i.h.
 *
 * Layout (why it looks like this: ~210 bytes per 100-byte znode all-in, O(1) lookups):
 *  - One malloc per znode holds a 69-byte struct, the full path (NUL-terminated), the
 *    stat fields that differ from their creation values (owner, mzxid/mtime, pzxid: see
 *    struct zk_node; an unchanged leaf has none), and the data when it fits the
 *    allocation (else a pointer to it: see node_data_ptr()). The path is stored once;
 *    the node's name is its last component, its parent the node named by the path up to
 *    the last '/' (no parent pointer: a hash lookup finds it where one is needed).
 *    The root is stored with path "" (as Apache's snapshots and digests name it) and
 *    tree_lookup() maps "/" to it.
 *  - t->nodes is an open-addressing table of node pointers keyed by full path (SipHash
 *    keyed per tree), with each slot's 32-bit hash in a separate array: a probe touches
 *    no node until the hashes match, and a node carries no hash-chain fields.
 *  - Children hang off their parent in an intrusive doubly-linked list (child/next/prev)
 *    in creation order, so listing a node costs its child count and unlinking is O(1).
 *  - ACL lists are shared through a reference-counted cache with Apache's numbering
 *    (ReferenceCountedACLCache): NULL entry = index -1 = OPEN_ACL_UNSAFE, other lists
 *    get 1, 2, 3... in order of first use.
 *  - A znode is in at most one "set" (session ephemerals, containers, TTL nodes), chosen
 *    by its ephemeralOwner, which never changes; its slot index there (stored with the
 *    owner) makes removal O(1).
 *  - t->digest is the 3.8 tree digest, adjusted around every change (server-formats §7).
 *
 * Apply follows Apache's DataTree.processTxn: create of an existing node, delete or
 * update of a missing one are no-ops that report the error (replay over a fuzzy
 * snapshot, server-formats §6); a multi containing an error op applies nothing.
 */
#include "checksum.h"
#include "datatree.h"
#include "datatree_i.h"
#include "hashmap.h"

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OWNER_CONTAINER ((int64_t)UINT64_C(0x8000000000000000))
#define OWNER_TTL_BITS UINT64_C(0xFF00000000000000)
#define TTL_VALUE_MASK UINT64_C(0x000000FFFFFFFFFF)

enum { OWN_NONE, OWN_EPHEMERAL, OWN_CONTAINER, OWN_TTL };

struct eph_session {
	struct hmap_entry h;	/* keyed by session id */
	int64_t sid;
	struct node_set set;
};

struct apply_ctx {
	tree_event_fn ev;
	void *ctx;
};

static struct zk_acl open_acl_v[1] = { { ZPERM_ALL, { "world", "anyone" } } };
static const struct zk_acl_list open_acl = { .n = 1, .v = open_acl_v };

/* ---- small helpers -------------------------------------------------------------------- */

static int owner_kind(int64_t owner)
{
	uint64_t u = (uint64_t)owner;

	if (owner == 0)
		return OWN_NONE;
	if (owner == OWNER_CONTAINER)
		return OWN_CONTAINER;
	/* EphemeralType.TTL: top byte 0xFF, extended-type bits 40..55 zero. */
	if ((u & OWNER_TTL_BITS) == OWNER_TTL_BITS && ((u >> 40) & 0xFFFF) == 0)
		return OWN_TTL;
	return OWN_EPHEMERAL;
}

/* ---- the node table ------------------------------------------------------------------- */

/* Moves every entry into a table of cap slots (a power of two). */
static int nt_resize(struct node_table *nt, uint32_t cap)
{
	uint32_t *hash = calloc(cap, sizeof(*hash));
	struct zk_node **v = malloc(sizeof(*v) * cap);
	uint32_t i, j;

	if (!hash || !v) {
		free(hash);
		free(v);
		return -1;
	}
	for (i = 0; nt->hash && i <= nt->mask; i++) {
		if (!nt->hash[i])
			continue;
		for (j = nt->hash[i] & (cap - 1); hash[j]; j = (j + 1) & (cap - 1))
			;
		hash[j] = nt->hash[i];
		v[j] = nt->v[i];
	}
	free(nt->hash);
	free(nt->v);
	nt->hash = hash;
	nt->v = v;
	nt->mask = cap - 1;
	return 0;
}

/* Room for n more entries at a load factor of at most 4/5. Returns 0 or -1. */
int nt_reserve(struct node_table *nt, uint32_t more)
{
	uint64_t want = (uint64_t)nt->n + more, cap = nt->hash ? (uint64_t)nt->mask + 1 : 0;

	if (want * 5 <= cap * 4)
		return 0;
	if (cap < 16)
		cap = 16;
	while (want * 5 > cap * 4)
		cap *= 2;
	if (cap > (UINT64_C(1) << 31))
		return -1;
	return nt_resize(nt, (uint32_t)cap);
}

/* Inserts n (not present) under hash h; the caller has made room with nt_reserve(). */
static void nt_add(struct node_table *nt, struct zk_node *n, uint32_t h)
{
	uint32_t i;

	h = nt_key(h);
	for (i = h & nt->mask; nt->hash[i]; i = (i + 1) & nt->mask)
		;
	nt->hash[i] = h;
	nt->v[i] = n;
	nt->n++;
}

/*
 * Removes n, stored under hash h. Linear probing has no tombstones: the entries after the
 * hole in its run move back into it unless their home slot lies cyclically in (hole, j].
 */
static void nt_del(struct node_table *nt, const struct zk_node *n, uint32_t h)
{
	uint32_t i, j, home;

	h = nt_key(h);
	for (i = h & nt->mask; nt->hash[i]; i = (i + 1) & nt->mask)
		if (nt->v[i] == n)
			break;
	if (!nt->hash[i])
		return;
	nt->n--;
	for (j = i;;) {
		nt->hash[i] = 0;
		do {
			j = (j + 1) & nt->mask;
			if (!nt->hash[j])
				return;
			home = nt->hash[j] & nt->mask;
		} while (i <= j ? (i < home && home <= j) : (i < home || home <= j));
		nt->hash[i] = nt->hash[j];
		nt->v[i] = nt->v[j];
		i = j;
	}
}

/* Points the entry of old (stored under hash h) at its replacement. */
static void nt_replace(struct node_table *nt, const struct zk_node *old, struct zk_node *new,
		       uint32_t h)
{
	uint32_t i;

	h = nt_key(h);
	for (i = h & nt->mask; nt->hash[i]; i = (i + 1) & nt->mask)
		if (nt->v[i] == old) {
			nt->v[i] = new;
			return;
		}
}

static void nt_release(struct node_table *nt)
{
	free(nt->hash);
	free(nt->v);
	memset(nt, 0, sizeof(*nt));
}

/* The path events and replies use: the root is "/" there. */
static const char *ev_path(const struct zk_node *n)
{
	return n->path[0] ? n->path : "/";
}

static void emit(const struct apply_ctx *ac, int type, const char *path,
		 const struct zk_node *n)
{
	if (ac && ac->ev)
		ac->ev(ac->ctx, type, path, node_acl(n));
}

static int64_t node_owner(const struct zk_node *n)
{
	return n->flags & F_OWNER ? ld64(extras(n, strlen(n->path))) : 0;
}

static int64_t node_pzxid(const struct zk_node *n)
{
	return n->flags & F_PZXID ?
	       ld64(extras(n, strlen(n->path)) + extra_off(n->flags, F_PZXID)) : n->czxid;
}

static int64_t node_mtime(const struct zk_node *n)
{
	return n->flags & F_MOD ?
	       ld64(extras(n, strlen(n->path)) + extra_off(n->flags, F_MOD) + 8) : n->ctime;
}

/* Room for data inside the allocation (always at least a pointer's worth). */
static size_t inline_cap(const struct zk_node *n, size_t plen)
{
	return malloc_usable_size((void *)n) - (size_t)(data_area(n, plen) - (uint8_t *)n);
}

/* Where the data is: inline when it fits, else behind the pointer stored inline. */
uint8_t *node_data_at(const struct zk_node *n, size_t plen)
{
	uint8_t *in = data_area(n, plen), *p;

	if (n->data_len < 0)
		return NULL;
	if ((size_t)n->data_len <= inline_cap(n, plen))
		return in;
	memcpy(&p, in, sizeof(p));
	return p;
}

uint8_t *node_data_ptr(const struct zk_node *n)
{
	return node_data_at(n, strlen(n->path));
}

/* The set slot index of a node with an owner. */
static uint32_t set_slot(const struct zk_node *n)
{
	uint32_t v;

	memcpy(&v, extras(n, strlen(n->path)) + 8, sizeof(v));
	return v;
}

static void set_slot_put(struct zk_node *n, uint32_t v)
{
	memcpy(extras(n, strlen(n->path)) + 8, &v, sizeof(v));
}

/*
 * A node with its path and data in one allocation, room for the extras of flags (the
 * caller stores them with ext_put), links and stat zeroed; owner stored.
 */
struct zk_node *node_alloc(const char *path, size_t plen, const uint8_t *data, int32_t dlen,
			   int64_t owner, uint8_t flags)
{
	size_t dsize = (size_t)dlen0(dlen), size;
	struct zk_node *n;

	if (plen > INT32_MAX)
		return NULL;
	if (owner)
		flags |= F_OWNER;
	size = offsetof(struct zk_node, path) + plen + 1 + extras_len(flags) +
	       (dsize > sizeof(void *) ? dsize : sizeof(void *));
	n = malloc(size);
	if (!n)
		return NULL;
	memset(n, 0, offsetof(struct zk_node, path));
	memcpy(n->path, path, plen);
	n->path[plen] = 0;
	n->flags = flags;
	if (owner)
		st64(extras(n, plen), owner);
	n->data_len = dlen < 0 ? -1 : dlen;
	/* Always fits: the allocation was sized for it. */
	if (dlen > 0)
		memcpy(data_area(n, plen), data, dsize);
	return n;
}

void node_free(struct zk_node *n)
{
	size_t plen = strlen(n->path);
	uint8_t *p = node_data_at(n, plen);

	if (p && p != data_area(n, plen))
		free(p);
	free(n);
}

/* Replaces the data, in place when it fits the node's allocation. */
int node_set_data(struct zk_node *n, const uint8_t *data, int32_t dlen)
{
	size_t plen = strlen(n->path);
	uint8_t *in = data_area(n, plen), *old = node_data_at(n, plen), *p = NULL;

	if (dlen >= 0 && (size_t)dlen > inline_cap(n, plen)) {
		p = malloc((size_t)dlen);
		if (!p)
			return ZSYSTEMERROR;
		memcpy(p, data, (size_t)dlen);
	}
	if (old && old != in)
		free(old);
	if (p)
		memcpy(in, &p, sizeof(p));
	else if (dlen > 0)
		memcpy(in, data, (size_t)dlen);
	n->data_len = dlen < 0 ? -1 : dlen;
	return 0;
}

/* The 60-byte stat block of the digest (DigestCalculator's order, not StatPersisted's). */
static void digest_stat(uint8_t *b, const struct zk_node *n, size_t plen)
{
	struct node_ext x;

	ext_get(n, plen, &x);
	be64_put(b, n->czxid);
	be64_put(b + 8, x.mzxid);
	be64_put(b + 16, x.pzxid);
	be64_put(b + 24, n->ctime);
	be64_put(b + 32, x.mtime);
	be32_put(b + 40, n->version);
	be32_put(b + 44, n->cversion);
	be32_put(b + 48, n->aversion);
	be64_put(b + 52, x.owner);
}

/*
 * CRC-32 of path, data and the stat in digest order (DigestCalculator). Computed for every
 * node at load and twice per change: the pieces go through one contiguous buffer when they
 * fit, so that cksum_crc32() gets one long stretch.
 */
uint64_t node_digest(const struct zk_node *n)
{
	size_t plen = strlen(n->path), dl;
	const uint8_t *data;
	uint8_t b[512];
	uint32_t crc;

	if (plen >= 11 && memcmp(n->path, "/zookeeper/", 11) == 0)
		return 0;
	data = node_data_at(n, plen);
	dl = data && n->data_len > 0 ? (size_t)n->data_len : 0;
	if (plen + dl + 60 <= sizeof(b)) {
		memcpy(b, n->path, plen);
		if (dl)
			memcpy(b + plen, data, dl);
		digest_stat(b + plen + dl, n, plen);
		crc = cksum_crc32(0, b, plen + dl + 60);
	} else {
		digest_stat(b, n, plen);
		crc = cksum_crc32(0, (const uint8_t *)n->path, plen);
		crc = cksum_crc32(crc, data, dl);
		crc = cksum_crc32(crc, b, 60);
	}
	return (uint64_t)crc;
}

/* The node's parent (NULL for the root): the path up to the last '/'. */
static struct zk_node *parent_node(const struct zk_tree *t, const struct zk_node *n)
{
	const char *slash = strrchr(n->path, '/');

	return slash ? find(t, n->path, (size_t)(slash - n->path)) : NULL;
}

/*
 * Next node in pre-order within top's subtree (top itself excluded), or NULL. Climbing
 * back up costs a lookup per level, once per last child.
 */
struct zk_node *preorder_next(const struct zk_tree *t, const struct zk_node *c,
			      const struct zk_node *top)
{
	if (c->child)
		return c->child;
	while (c && c != top) {
		if (c->next)
			return c->next;
		c = parent_node(t, c);
	}
	return NULL;
}

/*
 * Children are kept in creation order (appended), so a snapshot read back lists them as
 * they were written. The first child's prev points at the last one.
 */
static void link_child(struct zk_node *parent, struct zk_node *n)
{
	struct zk_node *first = parent->child;

	n->next = NULL;
	if (!first) {
		parent->child = n;
		n->prev = n;
	} else {
		n->prev = first->prev;
		first->prev->next = n;
		first->prev = n;
	}
	parent->nchildren++;
}

static void unlink_child(struct zk_node *parent, struct zk_node *n)
{
	struct zk_node *first = parent->child;

	if (n == first) {
		parent->child = n->next;
		if (n->next)
			n->next->prev = n->prev;
	} else {
		n->prev->next = n->next;
		if (n->next)
			n->next->prev = n->prev;
		else
			first->prev = n->prev;
	}
	n->next = n->prev = NULL;
	parent->nchildren--;
}

/* ---- ephemeral / container / TTL sets ------------------------------------------------- */

static int set_reserve(struct node_set *s)
{
	struct zk_node **v;
	uint32_t cap;

	if (s->n < s->cap)
		return 0;
	cap = s->cap ? 2 * s->cap : 4;
	v = realloc(s->v, sizeof(*v) * cap);
	if (!v)
		return -1;
	s->v = v;
	s->cap = cap;
	return 0;
}

static void set_add(struct node_set *s, struct zk_node *n)
{
	set_slot_put(n, s->n);
	s->v[s->n++] = n;
}

static void set_del(struct node_set *s, struct zk_node *n)
{
	struct zk_node *last = s->v[--s->n];
	uint32_t i = set_slot(n);

	s->v[i] = last;
	set_slot_put(last, i);
}

static uint32_t sid_hash(int64_t sid)
{
	uint64_t x = (uint64_t)sid * UINT64_C(0x9E3779B97F4A7C15);

	return (uint32_t)(x >> 32) ^ (uint32_t)x;
}

static struct eph_session *sess_find(const struct zk_tree *t, int64_t sid)
{
	uint32_t h = sid_hash(sid);
	struct hmap_entry *e;

	for (e = hmap_bucket(&t->sessions, h); e; e = e->next) {
		struct eph_session *s = container_of(e, struct eph_session, h);

		if (s->sid == sid)
			return s;
	}
	return NULL;
}

/* The set a node with this owner belongs in; creates a session entry when asked. */
static struct node_set *owner_set(struct zk_tree *t, int64_t owner, int create)
{
	struct eph_session *s;

	switch (owner_kind(owner)) {
	case OWN_CONTAINER:
		return &t->containers;
	case OWN_TTL:
		return &t->ttls;
	case OWN_EPHEMERAL:
		s = sess_find(t, owner);
		if (s || !create)
			return s ? &s->set : NULL;
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->sid = owner;
		if (hmap_add(&t->sessions, &s->h, sid_hash(owner))) {
			free(s);
			return NULL;
		}
		return &s->set;
	}
	return NULL;
}

/* Makes sure index_add() for this owner cannot fail. */
int index_reserve(struct zk_tree *t, int64_t owner)
{
	struct node_set *s;

	if (owner_kind(owner) == OWN_NONE)
		return 0;
	s = owner_set(t, owner, 1);
	return s && set_reserve(s) == 0 ? 0 : ZSYSTEMERROR;
}

static void index_add(struct zk_tree *t, struct zk_node *n)
{
	struct node_set *s = owner_set(t, node_owner(n), 0);

	if (s)
		set_add(s, n);
}

static void index_del(struct zk_tree *t, struct zk_node *n)
{
	int64_t owner = node_owner(n);
	struct node_set *s = owner_set(t, owner, 0);

	if (!s)
		return;
	set_del(s, n);
	if (owner_kind(owner) == OWN_EPHEMERAL && s->n == 0) {
		struct eph_session *es = container_of(s, struct eph_session, set);

		hmap_remove(&t->sessions, &es->h);
		free(es->set.v);
		free(es);
	}
}

/* ---- ACL cache ------------------------------------------------------------------------ */

uint32_t acl_hash(const struct zk_tree *t, const struct zk_acl_list *a)
{
	uint64_t h = (uint64_t)(a->n < 0 ? 0 : a->n);
	int32_t i;

	for (i = 0; i < a->n; i++) {
		const char *s = a->v[i].id.scheme ? a->v[i].id.scheme : "";
		const char *id = a->v[i].id.id ? a->v[i].id.id : "";

		h = hmap_hash(t->k0 ^ h, t->k1 + (uint64_t)(uint32_t)a->v[i].perms, s, strlen(s));
		h = hmap_hash(t->k0 ^ h, t->k1, id, strlen(id));
	}
	return (uint32_t)h;
}

struct acl_entry *acl_find(const struct zk_tree *t, const struct zk_acl_list *a, uint32_t h)
{
	struct hmap_entry *e;

	for (e = hmap_bucket(&t->acls, h); e; e = e->next) {
		struct acl_entry *ae = container_of(e, struct acl_entry, h);

		if (e->hash == h && zk_acl_list_equal(&ae->acl, a))
			return ae;
	}
	return NULL;
}

/* A new, unreferenced cache entry with the given index (takes a copy of a). */
struct acl_entry *acl_insert(struct zk_tree *t, const struct zk_acl_list *a, uint32_t h,
			     int64_t index)
{
	struct acl_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (zk_acl_list_copy(&e->acl, a) || hmap_add(&t->acls, &e->h, h)) {
		zk_acl_list_release(&e->acl);
		free(e);
		return NULL;
	}
	e->index = index;
	return e;
}

/* Counts one more user of list a (convertAcls); a null list is OPEN_ACL_UNSAFE (-1). */
static int acl_ref(struct zk_tree *t, const struct zk_acl_list *a, struct acl_entry **out)
{
	struct acl_entry *e;
	uint32_t h;

	*out = NULL;
	if (a->n < 0)
		return 0;
	h = acl_hash(t, a);
	e = acl_find(t, a, h);
	if (!e) {
		e = acl_insert(t, a, h, t->acl_index + 1);
		if (!e)
			return ZSYSTEMERROR;
		t->acl_index++;
	}
	e->refs++;
	*out = e;
	return 0;
}

void acl_entry_free(struct zk_tree *t, struct acl_entry *e)
{
	hmap_remove(&t->acls, &e->h);
	zk_acl_list_release(&e->acl);
	free(e);
}

void acl_unref(struct zk_tree *t, struct acl_entry *e)
{
	if (e && --e->refs <= 0)
		acl_entry_free(t, e);
}

/* ---- growing a node ------------------------------------------------------------------- */

/*
 * Moves n into a new allocation with room for the extras field of flag (zeroed) and
 * points everything that refers to n at it: the path table, its siblings or its parent's
 * child pointer (or the root), its set slot. Children do not point at their parent.
 * Returns the new node, or NULL (n untouched) when memory runs out.
 */
static struct zk_node *node_grow(struct zk_tree *t, struct zk_node *n, int flag)
{
	struct zk_node *parent = parent_node(t, n);
	size_t plen = strlen(n->path), head, fsize = flag == F_MOD ? 16 : 8;
	size_t old_off = (size_t)(data_area(n, plen) - (uint8_t *)n), stored;
	uint8_t *ext = NULL;
	struct zk_node *m;

	if (n->data_len < 0)
		stored = 0;
	else if ((size_t)n->data_len <= malloc_usable_size(n) - old_off)
		stored = (size_t)n->data_len;
	else
		stored = sizeof(void *);	/* the pointer to the data */
	head = offsetof(struct zk_node, path) + plen + 1 + extra_off(n->flags | flag, flag);
	m = malloc(old_off + fsize + (stored > sizeof(void *) ? stored : sizeof(void *)));
	if (!m)
		return NULL;
	memcpy(m, n, head);
	memset((uint8_t *)m + head, 0, fsize);
	memcpy((uint8_t *)m + head + fsize, (uint8_t *)n + head, old_off + stored - head);
	m->flags |= (uint8_t)flag;
	if (stored == sizeof(void *) && n->data_len > (int32_t)sizeof(void *)) {
		/* External data that now fits inline must move in: inline iff it fits. */
		size_t cap = malloc_usable_size(m) - (old_off + fsize);

		memcpy(&ext, (uint8_t *)m + old_off + fsize, sizeof(ext));
		if ((size_t)n->data_len <= cap)
			memcpy((uint8_t *)m + old_off + fsize, ext, (size_t)n->data_len);
		else
			ext = NULL;
	}
	nt_replace(&t->nodes, n, m, path_hash(t, n->path, plen));
	if (!parent) {
		t->root = m;
	} else {
		if (parent->child == n)
			parent->child = m;
		else
			n->prev->next = m;
		if (n->next)
			n->next->prev = m;
		else
			parent->child->prev = m;	/* the first child's prev is the last */
	}
	if (m->flags & F_OWNER) {
		struct node_set *s = owner_set(t, node_owner(m), 0);

		if (s)
			s->v[set_slot(m)] = m;
	}
	free(ext);
	free(n);
	return m;
}

/*
 * Sets mzxid and mtime (F_MOD) or pzxid (F_PZXID, b unused), growing the node when the
 * value needs room it has not got (*np is updated). Returns 0, or ZSYSTEMERROR with
 * nothing changed.
 */
static int node_set_ext(struct zk_tree *t, struct zk_node **np, int flag, int64_t a, int64_t b)
{
	struct zk_node *n = *np;

	if (!(n->flags & flag)) {
		if (a == n->czxid && (flag != F_MOD || b == n->ctime))
			return 0;
		n = node_grow(t, n, flag);
		if (!n)
			return ZSYSTEMERROR;
		*np = n;
	}
	ext_put(n, flag, a, b);
	return 0;
}

/* ---- tree lifecycle ------------------------------------------------------------------- */

struct zk_tree *tree_new_empty(void)
{
	struct zk_tree *t = calloc(1, sizeof(*t));
	uint64_t seed;

	if (!t)
		return NULL;
	hmap_init(&t->acls);
	hmap_init(&t->sessions);
	hmap_init(&t->quotas);
	/*
	 * The hash key only has to be unknown to clients, not random: the datatree makes no
	 * syscalls, so take it from the allocation address (ASLR) and a constant.
	 */
	seed = (uint64_t)(uintptr_t)t * UINT64_C(0x9E3779B97F4A7C15);
	t->k0 = seed ^ UINT64_C(0x5a4b534e2f7a6b31);
	t->k1 = (seed << 29 | seed >> 35) ^ UINT64_C(0x0123456789abcdef);
	return t;
}

/*
 * Adds a fully built node under parent (NULL for the root): hash, child list, sets,
 * digest, data size. The caller has reserved its set slot and a table slot
 * (nt_reserve), and the node is not present.
 */
void node_attach(struct zk_tree *t, struct zk_node *parent, struct zk_node *n, uint32_t h)
{
	nt_add(&t->nodes, n, h);
	if (parent)
		link_child(parent, n);
	else
		t->root = n;
	t->data_size += (int64_t)strlen(n->path) + dlen0(n->data_len);
	t->digest += node_digest(n);
	index_add(t, n);
}

static struct zk_node *add_builtin(struct zk_tree *t, struct zk_node *parent, const char *path,
				   const struct zk_acl_list *acl)
{
	struct zk_node *n = node_alloc(path, strlen(path), (const uint8_t *)"", 0, 0, 0);

	if (!n)
		return NULL;
	if (acl && acl_ref(t, acl, &n->acl)) {
		free(n);
		return NULL;
	}
	if (nt_reserve(&t->nodes, 1)) {
		acl_unref(t, n->acl);
		free(n);
		return NULL;
	}
	/* Linking a child changes nothing the parent's digest covers. */
	node_attach(t, parent, n, path_hash(t, n->path, strlen(n->path)));
	return n;
}

struct zk_tree *tree_new(void)
{
	static struct zk_acl read_v[1] = { { ZPERM_READ, { "world", "anyone" } } };
	static const struct zk_acl_list read_acl = { .n = 1, .v = read_v };
	struct zk_tree *t = tree_new_empty();
	struct zk_node *root, *zk, *config;

	if (!t)
		return NULL;
	/* Apache's DataTree(); config before quota as snapshot.0 lists them. */
	if (!(root = add_builtin(t, NULL, "", NULL)) ||
	    !(zk = add_builtin(t, root, "/zookeeper", NULL)) ||
	    !(config = add_builtin(t, zk, "/zookeeper/config", &read_acl)) ||
	    !add_builtin(t, zk, "/zookeeper/quota", NULL)) {
		tree_free(t);
		return NULL;
	}
	/* addConfigNode() ends with setACL(READ_ACL_UNSAFE, version -1). */
	config->aversion = -1;
	return t;
}

void tree_free(struct zk_tree *t)
{
	struct hmap_iter it;
	struct hmap_entry *e;
	uint32_t i;

	if (!t)
		return;
	for (i = 0; t->nodes.hash && i <= t->nodes.mask; i++)
		if (t->nodes.hash[i])
			node_free(t->nodes.v[i]);
	hmap_iter_init(&it, &t->acls);
	while ((e = hmap_iter_next(&it))) {
		struct acl_entry *a = container_of(e, struct acl_entry, h);

		zk_acl_list_release(&a->acl);
		free(a);
	}
	hmap_iter_init(&it, &t->sessions);
	while ((e = hmap_iter_next(&it))) {
		struct eph_session *s = container_of(e, struct eph_session, h);

		free(s->set.v);
		free(s);
	}
	nt_release(&t->nodes);
	hmap_release(&t->acls);
	hmap_iter_init(&it, &t->quotas);
	while ((e = hmap_iter_next(&it)))
		free(container_of(e, struct quota, h));
	hmap_release(&t->sessions);
	hmap_release(&t->quotas);
	free(t->containers.v);
	free(t->ttls.v);
	free(t);
}

/* ---- queries -------------------------------------------------------------------------- */

const struct zk_node *tree_lookup(const struct zk_tree *t, const char *path)
{
	if (path[0] == '/' && path[1] == 0)
		return t->root;
	return find(t, path, strlen(path));
}

void node_stat(const struct zk_node *n, struct zk_stat *out)
{
	struct node_ext x;

	ext_get(n, strlen(n->path), &x);
	out->czxid = n->czxid;
	out->mzxid = x.mzxid;
	out->ctime = n->ctime;
	out->mtime = x.mtime;
	out->version = n->version;
	/* 2*C - numChildren in Java int arithmetic (wraps). */
	out->cversion = (int32_t)((uint32_t)n->cversion * 2u - (uint32_t)n->nchildren);
	out->aversion = n->aversion;
	out->ephemeral_owner = owner_kind(x.owner) == OWN_EPHEMERAL ? x.owner : 0;
	out->data_length = (int32_t)dlen0(n->data_len);
	out->num_children = n->nchildren;
	out->pzxid = x.pzxid;
}

const uint8_t *node_data(const struct zk_node *n, int32_t *len)
{
	*len = n->data_len;
	return node_data_ptr(n);
}

const struct zk_acl_list *node_acl(const struct zk_node *n)
{
	return n->acl ? &n->acl->acl : &open_acl;
}

int32_t node_num_children(const struct zk_node *n)
{
	return n->nchildren;
}

int64_t node_ephemeral_owner(const struct zk_node *n)
{
	return node_owner(n);
}

int32_t node_child_counter(const struct zk_node *n)
{
	return n->cversion;
}

int node_children(const struct zk_node *n, struct zk_strvec *out)
{
	const struct zk_node *c;

	for (c = n->child; c; c = c->next)
		if (zk_strvec_push(out, node_name(c)))
			return ZSYSTEMERROR;
	return 0;
}

int32_t node_descendants(const struct zk_tree *t, const struct zk_node *n)
{
	const struct zk_node *c;
	int32_t count = 0;

	/* getAllChildrenNumber("/") is nodes.size() - 2: every znode but the root. */
	if (n == t->root)
		return (int32_t)t->nodes.n - 1;
	for (c = preorder_next(t, n, n); c; c = preorder_next(t, c, n))
		count++;
	return count;
}

int64_t tree_last_zxid(const struct zk_tree *t)
{
	return t->last_zxid;
}

void tree_set_last_zxid(struct zk_tree *t, int64_t zxid)
{
	t->last_zxid = zxid;
}

int64_t tree_node_count(const struct zk_tree *t)
{
	/* Apache maps the root under both "" and "/". */
	return (int64_t)t->nodes.n + (t->root ? 1 : 0);
}

int64_t tree_data_size(const struct zk_tree *t)
{
	/* approximateDataSize() counts the "/" alias of the root too: path 1 + root data. */
	if (!t->root)
		return t->data_size;
	return t->data_size + 1 + dlen0(t->root->data_len);
}

int64_t tree_digest(const struct zk_tree *t)
{
	return (int64_t)t->digest;
}

static int push_paths(const struct node_set *s, struct zk_strvec *out)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (zk_strvec_push(out, s->v[i]->path))
			return ZSYSTEMERROR;
	return 0;
}

int tree_session_ephemerals(const struct zk_tree *t, int64_t session_id, struct zk_strvec *out)
{
	const struct eph_session *s;

	if (owner_kind(session_id) != OWN_EPHEMERAL)
		return 0;
	s = sess_find(t, session_id);
	return s ? push_paths(&s->set, out) : 0;
}

void tree_foreach_ephemeral_session(const struct zk_tree *t,
				    void (*fn)(void *ctx, int64_t sid, const struct zk_strvec *paths),
				    void *ctx)
{
	struct hmap_iter it;
	struct hmap_entry *e;

	hmap_iter_init(&it, &t->sessions);
	while ((e = hmap_iter_next(&it))) {
		struct eph_session *s = container_of(e, struct eph_session, h);
		struct zk_strvec v = { 0, NULL };

		if (push_paths(&s->set, &v) == 0)
			fn(ctx, s->sid, &v);
		zk_strvec_release(&v);
	}
}

int tree_reapable(const struct zk_tree *t, int64_t now_ms, struct zk_strvec *out)
{
	uint32_t i;

	/* ContainerManager.getCandidates(): C > 0 keeps never-used containers alive. */
	for (i = 0; i < t->containers.n; i++) {
		const struct zk_node *n = t->containers.v[i];

		if (n->nchildren == 0 && n->cversion > 0 && zk_strvec_push(out, n->path))
			return ZSYSTEMERROR;
	}
	for (i = 0; i < t->ttls.n; i++) {
		const struct zk_node *n = t->ttls.v[i];
		int64_t ttl = (int64_t)((uint64_t)node_owner(n) & TTL_VALUE_MASK);

		if (n->nchildren == 0 && ttl != 0 && now_ms - node_mtime(n) > ttl &&
		    zk_strvec_push(out, n->path))
			return ZSYSTEMERROR;
	}
	return 0;
}

/* ---- changes ---------------------------------------------------------------------------- */

/* The parent of path (up to its last '/'), or NULL. */
static struct zk_node *parent_of(const struct zk_tree *t, const char *path, size_t plen)
{
	const char *slash = memrchr(path, '/', plen);

	return slash ? find(t, path, (size_t)(slash - path)) : NULL;
}

/* DataTree.createNode. */
static int create_node(struct zk_tree *t, const char *path, const uint8_t *data, int32_t dlen,
		       const struct zk_acl_list *acl, int64_t owner, int32_t parent_cv,
		       int64_t zxid, int64_t time, struct zk_stat *stat,
		       const struct apply_ctx *ac)
{
	size_t plen = strlen(path);
	struct zk_node *parent = parent_of(t, path, plen), *n;
	uint64_t before;
	uint32_t h;

	if (!parent)
		return ZNONODE;
	h = path_hash(t, path, plen);
	/* "/" is the root, stored as "". */
	if ((plen == 1 && path[0] == '/') || find_h(t, path, plen, h))
		return ZNODEEXISTS;
	n = node_alloc(path, plen, data, dlen, owner, 0);
	if (!n)
		return ZSYSTEMERROR;
	if (acl_ref(t, acl, &n->acl)) {
		node_free(n);
		return ZSYSTEMERROR;
	}
	if (index_reserve(t, owner) || nt_reserve(&t->nodes, 1)) {
		acl_unref(t, n->acl);
		node_free(n);
		return ZSYSTEMERROR;
	}
	/* mzxid, mtime and pzxid are the creation values: nothing to store. */
	n->czxid = zxid;
	n->ctime = time;

	before = node_digest(parent);
	if (parent_cv == -1)
		parent_cv = parent->cversion + 1;
	/* Replay may bring an older counter than the snapshot has: only ever raise it. */
	if (parent_cv > parent->cversion) {
		if (node_set_ext(t, &parent, F_PZXID, zxid, 0)) {
			acl_unref(t, n->acl);
			node_free(n);
			return ZSYSTEMERROR;
		}
		parent->cversion = parent_cv;
	}
	node_attach(t, parent, n, h);
	t->digest += node_digest(parent) - before;

	/* The reply's stat is taken before the quota code may rewrite this node's data. */
	if (stat)
		node_stat(n, stat);
	if (quota_created(t, n))
		return ZSYSTEMERROR;
	emit(ac, ZEV_CREATED, n->path, n);
	emit(ac, ZEV_CHILDREN_CHANGED, ev_path(parent), parent);
	return 0;
}

/* setCversionPzxid(): a replayed create of an existing node still raises the counter. */
static int raise_parent_counter(struct zk_tree *t, const char *path, int32_t parent_cv, int64_t zxid)
{
	struct zk_node *parent = parent_of(t, path, strlen(path));

	if (!parent)
		return ZNONODE;
	if (parent_cv == -1)
		parent_cv = parent->cversion + 1;
	if (parent_cv > parent->cversion) {
		uint64_t before = node_digest(parent);

		if (node_set_ext(t, &parent, F_PZXID, zxid, 0))
			return ZSYSTEMERROR;
		parent->cversion = parent_cv;
		t->digest += node_digest(parent) - before;
	}
	return 0;
}

/* DataTree.deleteNode. Allocates only for quota bookkeeping (ZSYSTEMERROR). */
static int delete_node(struct zk_tree *t, const char *path, int64_t zxid, const struct apply_ctx *ac)
{
	size_t plen = strlen(path);
	struct zk_node *parent = parent_of(t, path, plen), *n;
	uint64_t before;
	int rc;

	if (!parent)
		return ZNONODE;
	n = find(t, path, plen);
	/*
	 * Apache would drop the node and orphan its children in the hash map; prep never lets
	 * that happen, so refuse rather than break the tree's invariants.
	 */
	if (n && n->child)
		return ZNOTEMPTY;
	/* The parent's pzxid moves even when the child is already gone (fuzzy snapshot). */
	before = node_digest(parent);
	if (zxid > node_pzxid(parent) && node_set_ext(t, &parent, F_PZXID, zxid, 0))
		return ZSYSTEMERROR;
	if (n)
		unlink_child(parent, n);
	t->digest += node_digest(parent) - before;
	if (!n)
		return ZNONODE;

	nt_del(&t->nodes, n, path_hash(t, path, plen));
	t->digest -= node_digest(n);
	t->data_size -= (int64_t)plen + dlen0(n->data_len);
	index_del(t, n);
	rc = quota_deleted(t, n->path, plen, n->data_len);
	emit(ac, ZEV_DELETED, n->path, n);
	emit(ac, ZEV_CHILDREN_CHANGED, ev_path(parent), parent);
	acl_unref(t, n->acl);
	node_free(n);
	return rc;
}

static int set_data(struct zk_tree *t, const char *path, const uint8_t *data, int32_t dlen,
		    int32_t version, int64_t zxid, int64_t time, struct zk_stat *stat,
		    const struct apply_ctx *ac)
{
	struct zk_node *n = (struct zk_node *)tree_lookup(t, path);
	uint64_t before;
	int64_t old_len;

	if (!n)
		return ZNONODE;
	before = node_digest(n);
	old_len = dlen0(n->data_len);
	if (node_set_data(n, data, dlen))
		return ZSYSTEMERROR;
	if (node_set_ext(t, &n, F_MOD, zxid, time)) {
		/* Half applied (the caller stops), but digest and size match the tree. */
		t->digest += node_digest(n) - before;
		t->data_size += dlen0(n->data_len) - old_len;
		return ZSYSTEMERROR;
	}
	n->version = version;
	t->digest += node_digest(n) - before;
	t->data_size += dlen0(n->data_len) - old_len;
	if (stat)
		node_stat(n, stat);
	if (quota_update(t, path, strlen(path), 0, dlen0(n->data_len) - old_len))
		return ZSYSTEMERROR;
	emit(ac, ZEV_DATA_CHANGED, path, n);
	return 0;
}

static int set_acl(struct zk_tree *t, const char *path, const struct zk_acl_list *acl,
		   int32_t version, struct zk_stat *stat)
{
	struct zk_node *n = (struct zk_node *)tree_lookup(t, path);
	struct acl_entry *e;
	uint64_t before;

	if (!n)
		return ZNONODE;
	if (acl_ref(t, acl, &e))
		return ZSYSTEMERROR;
	before = node_digest(n);
	acl_unref(t, n->acl);
	n->acl = e;
	n->aversion = version;
	t->digest += node_digest(n) - before;
	if (stat)
		node_stat(n, stat);
	return 0;
}

int tree_set_config(struct zk_tree *t, const uint8_t *data, int32_t len, int64_t version,
		    int64_t time_ms)
{
	struct zk_node *n = find(t, "/zookeeper/config", 17);
	uint64_t before;
	int64_t old_len;
	int rc;

	if (!n)
		return ZNONODE;
	before = node_digest(n);
	old_len = dlen0(n->data_len);
	if (node_set_data(n, data, len))
		return ZSYSTEMERROR;
	/* ZKDatabase.initConfigInZKDatabase: setData(config, text, -1, version, now). */
	n->version = -1;
	rc = node_set_ext(t, &n, F_MOD, version, time_ms);
	t->digest += node_digest(n) - before;
	t->data_size += dlen0(n->data_len) - old_len;
	return rc;
}

/* The result type a multi reply shows for a sub-txn type (FinalRequestProcessor). */
static int32_t multi_result_type(int32_t type)
{
	switch (type) {
	case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		return ZOP_CREATE2;
	case ZOP_DELETECONTAINER:
		return ZOP_DELETE;
	}
	return type;
}

/*
 * Applies one change. *err gets the op's result code (0 or a ZooKeeper error, which is
 * not a failure of apply); returns ZSYSTEMERROR only when memory ran out.
 */
static int apply_op(struct zk_tree *t, const struct zk_txn_hdr *hdr, const struct zk_txn_op *op,
		    struct zk_resp *res, const struct apply_ctx *ac, int *err)
{
	struct zk_stat *stat = res ? &res->stat : NULL;
	int64_t owner;
	int rc;

	if (op->type == ZOP_ERROR) {
		*err = op->err;
		return 0;
	}
	if (!op->path) {
		*err = ZBADARGUMENTS;
		return 0;
	}
	switch (op->type) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		if (op->type == ZOP_CREATECONTAINER)
			owner = OWNER_CONTAINER;
		else if (op->type == ZOP_CREATETTL)
			owner = (int64_t)(OWNER_TTL_BITS | ((uint64_t)op->ttl & TTL_VALUE_MASK));
		else
			owner = op->ephemeral ? hdr->client_id : 0;
		if (res && !(res->path = strdup(op->path)))
			return ZSYSTEMERROR;
		rc = create_node(t, op->path, op->data, op->data_len, &op->acl, owner,
				 op->parent_cversion, hdr->zxid, hdr->time, stat, ac);
		if (rc == ZNODEEXISTS) {
			int r2 = raise_parent_counter(t, op->path, op->parent_cversion, hdr->zxid);

			if (r2 == ZSYSTEMERROR)
				return ZSYSTEMERROR;
			if (r2)
				rc = ZNONODE;
		}
		break;
	case ZOP_DELETE: case ZOP_DELETECONTAINER:
		rc = delete_node(t, op->path, hdr->zxid, ac);
		break;
	case ZOP_SETDATA: case ZOP_RECONFIG:
		rc = set_data(t, op->path, op->data, op->data_len, op->version, hdr->zxid,
			      hdr->time, stat, ac);
		if (rc == 0 && res && op->type == ZOP_RECONFIG && op->data_len >= 0) {
			/* reconfig answers with GetDataResponse: the new config and its stat. */
			if (!(res->data = malloc((size_t)op->data_len + 1)))
				return ZSYSTEMERROR;
			if (op->data_len)
				memcpy(res->data, op->data, (size_t)op->data_len);
			res->data_len = op->data_len;
		}
		break;
	case ZOP_SETACL:
		rc = set_acl(t, op->path, &op->acl, op->version, stat);
		break;
	default:	/* check (and anything newer): nothing to change */
		rc = 0;
		break;
	}
	if (rc == ZSYSTEMERROR)
		return ZSYSTEMERROR;
	*err = rc;
	return 0;
}

/*
 * MultiTxn (server-formats §4.1): when any sub-txn is an error nothing is applied and the
 * others answer ErrorResult(0) before the first error and ErrorResult(-2) after it.
 */
static int apply_multi(struct zk_tree *t, const struct zk_txn *txn, struct zk_resp *reply,
		       const struct apply_ctx *ac)
{
	int failed = 0, post_failed = 0, err;
	int32_t i;

	for (i = 0; i < txn->nops; i++)
		if (txn->ops[i].type == ZOP_ERROR)
			failed = 1;
	if (reply && txn->nops > 0) {
		reply->results = calloc((size_t)txn->nops, sizeof(*reply->results));
		if (!reply->results)
			return ZSYSTEMERROR;
		reply->nresults = txn->nops;
	}
	for (i = 0; i < txn->nops; i++) {
		const struct zk_txn_op *op = &txn->ops[i];
		struct zk_resp *res = reply ? &reply->results[i] : NULL;

		if (op->type == ZOP_ERROR) {
			post_failed = 1;
			err = op->err;
		} else if (failed) {
			err = post_failed ? ZRUNTIMEINCONSISTENCY : ZOK;
		} else {
			if (apply_op(t, &txn->hdr, op, res, ac, &err))
				return ZSYSTEMERROR;
			if (res) {
				res->type = multi_result_type(op->type);
				res->err = err;
			}
			continue;
		}
		if (res) {
			res->type = ZOP_ERROR;
			res->err = err;
		}
	}
	return 0;
}

/* killSession(): the txn's paths first, then whatever the session still owns. */
static int close_session(struct zk_tree *t, const struct zk_txn *txn, const struct apply_ctx *ac)
{
	int64_t sid = txn->hdr.client_id;
	struct eph_session *s;
	uint32_t i;
	int32_t k;
	int rc;

	for (k = 0; k < txn->close_paths.n; k++)
		if (txn->close_paths.v[k] &&
		    delete_node(t, txn->close_paths.v[k], txn->hdr.zxid, ac) == ZSYSTEMERROR)
			return ZSYSTEMERROR;
	if (owner_kind(sid) != OWN_EPHEMERAL)
		return 0;
	/* Delete from the end of the set so each removal is O(1); skip what refuses. */
	i = UINT32_MAX;
	while ((s = sess_find(t, sid)) && s->set.n > 0) {
		if (i > s->set.n)
			i = s->set.n;
		if (i == 0)
			break;
		rc = delete_node(t, s->set.v[i - 1]->path, txn->hdr.zxid, ac);
		if (rc == ZSYSTEMERROR)
			return ZSYSTEMERROR;
		if (rc != 0)
			i--;
	}
	return 0;
}

int tree_apply(struct zk_tree *t, const struct zk_txn *txn, struct zk_resp *reply,
	       tree_event_fn ev, void *ev_ctx)
{
	struct apply_ctx ac = { ev, ev_ctx };
	int rc = 0, err = 0;

	if (reply) {
		reply->type = txn->hdr.type;
		reply->err = 0;
	}
	switch (txn->hdr.type) {
	case ZOP_CREATESESSION:
		break;
	case ZOP_CLOSESESSION:
		rc = close_session(t, txn, &ac);
		break;
	case ZOP_MULTI:
		rc = apply_multi(t, txn, reply, &ac);
		break;
	default:
		if (txn->nops < 1)
			break;
		rc = apply_op(t, &txn->hdr, &txn->ops[0], reply, &ac, &err);
		if (reply)
			reply->err = err;
		break;
	}
	/* lastProcessedZxid only moves forward. */
	if (txn->hdr.zxid > t->last_zxid)
		t->last_zxid = txn->hdr.zxid;
	return rc;
}
