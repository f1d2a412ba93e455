/*
 * tree_snap: the datatree as a snapshot body (server-formats.md §5.1): tree_snap_size(),
 * tree_snap_write() and tree_snap_read(), declared in datatree.h. Part of the datatree
 * module: it sees the tree's internals through datatree_i.h.
 */
#include "buf.h"
#include "datatree_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_acl_index(const void *a, const void *b)
{
	const struct acl_entry *x = *(struct acl_entry *const *)a;
	const struct acl_entry *y = *(struct acl_entry *const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

size_t tree_snap_size(const struct zk_tree *t)
{
	size_t acl = 4;
	struct hmap_iter it;
	struct hmap_entry *e;
	int32_t i;

	hmap_iter_init(&it, &t->acls);
	while ((e = hmap_iter_next(&it))) {
		const struct acl_entry *a = container_of(e, struct acl_entry, h);

		acl += 12;
		for (i = 0; i < a->acl.n; i++)
			acl += 12 + (a->acl.v[i].id.scheme ? strlen(a->acl.v[i].id.scheme) : 0) +
			       (a->acl.v[i].id.id ? strlen(a->acl.v[i].id.id) : 0);
	}
	/* Per node: path and data lengths (8), acl (8), StatPersisted (60); then "/". */
	return acl + (size_t)t->data_size + (size_t)t->nodes.n * 76 + 5;
}

void tree_snap_write(const struct zk_tree *t, struct buf *b)
{
	struct acl_entry **acls = NULL;
	const struct zk_node *n;
	struct hmap_iter it;
	struct hmap_entry *e;
	uint32_t i = 0;

	/* Paths, data and 76 bytes of framing per node (+ the ACL map): one allocation. */
	buf_grow(b, tree_snap_size(t));
	if (t->acls.n) {
		acls = malloc(sizeof(*acls) * t->acls.n);
		if (!acls) {
			b->oom = 1;
			return;
		}
		hmap_iter_init(&it, &t->acls);
		while ((e = hmap_iter_next(&it)))
			acls[i++] = container_of(e, struct acl_entry, h);
		/* Sorted by index so that equal trees give equal bytes. */
		qsort(acls, i, sizeof(*acls), cmp_acl_index);
	}
	buf_put_int(b, (int32_t)t->acls.n);
	for (i = 0; i < t->acls.n; i++) {
		buf_put_long(b, acls[i]->index);
		zk_acl_list_put(b, &acls[i]->acl);
	}
	free(acls);
	for (n = t->root; n; n = preorder_next(t, n, t->root)) {
		size_t plen = strlen(n->path), dlen = (size_t)dlen0(n->data_len);
		struct node_ext x;
		uint8_t *o;

		/* One bounds check per node, then the fields in place. */
		if (buf_grow(b, 4 + plen + 4 + dlen + 8 + 60))
			return;
		o = b->p + b->len;
		be32_put(o, (int32_t)plen);
		memcpy(o + 4, n->path, plen);
		o += 4 + plen;
		be32_put(o, n->data_len);
		if (dlen)
			memcpy(o + 4, node_data_at(n, plen), dlen);
		o += 4 + dlen;
		ext_get(n, plen, &x);
		be64_put(o, n->acl ? n->acl->index : -1);
		be64_put(o + 8, n->czxid);
		be64_put(o + 16, x.mzxid);
		be64_put(o + 24, n->ctime);
		be64_put(o + 32, x.mtime);
		be32_put(o + 40, n->version);
		be32_put(o + 44, n->cversion);
		be32_put(o + 48, n->aversion);
		be64_put(o + 52, x.owner);
		be64_put(o + 60, x.pzxid);
		b->len = (size_t)(o + 68 - b->p);
	}
	buf_put_str(b, "/", 1);
}

struct acl_slot {
	int64_t index;
	struct acl_entry *e;
};

static int cmp_slot(const void *a, const void *b)
{
	const struct acl_slot *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

#define SNAP_FAIL(...) do { \
	if (errmsg && errlen) \
		snprintf(errmsg, errlen, __VA_ARGS__); \
	goto out; \
} while (0)

/* A length-prefixed field read in place: -1 for null, -2 when it does not fit. */
static int32_t rd_span(struct rd *r, const uint8_t **p)
{
	int32_t n = rd_int(r);

	*p = NULL;
	if (r->err)
		return -2;
	if (n == -1)
		return -1;
	if (n < 0 || (size_t)n > rd_left(r) || (r->max > 0 && n > r->max)) {
		r->err = 1;
		return -2;
	}
	*p = r->p + r->off;
	rd_skip(r, (size_t)n);
	return n;
}

/*
 * In pre-order a node's parent is usually the previous node (its first child) or the
 * previous node's parent (a sibling): look there first, then in the table.
 */
static struct zk_node *snap_parent(const struct zk_tree *t, struct zk_node *last,
				   struct zk_node *last_parent, const char *p, size_t len)
{
	if (last && path_is(last, p, len))
		return last;
	if (last_parent && path_is(last_parent, p, len))
		return last_parent;
	return find(t, p, len);
}

int tree_snap_read(struct zk_tree *t, struct rd *r, char *errmsg, size_t errlen)
{
	struct acl_slot *slots = NULL;
	struct zk_node *last = NULL, *last_parent = NULL;
	struct hmap_iter it;
	struct hmap_entry *he;
	int32_t nacl, i, nslots = 0;
	int rc = ZMARSHALLINGERROR;

	if (t->root || t->nodes.n)
		SNAP_FAIL("snapshot read: tree is not empty");
	nacl = rd_int(r);
	/* Each entry takes at least 12 bytes: a count beyond that is a lie. */
	if (r->err || nacl < 0 || (size_t)nacl > rd_left(r) / 12)
		SNAP_FAIL("snapshot acl map: bad size %d", nacl);
	if (nacl && !(slots = malloc(sizeof(*slots) * (size_t)nacl)))
		goto oom;
	for (i = 0; i < nacl; i++) {
		struct zk_acl_list a = { .n = 0, .v = NULL };
		struct acl_entry *e;
		uint32_t h;
		int64_t index = rd_long(r);

		zk_acl_list_get(r, &a);
		if (r->err || a.n < 0) {
			zk_acl_list_release(&a);
			SNAP_FAIL("snapshot acl map: entry %d does not parse", i);
		}
		/* The same list under two indexes: both indexes share one entry. */
		h = acl_hash(t, &a);
		e = acl_find(t, &a, h);
		if (!e && !(e = acl_insert(t, &a, h, index))) {
			zk_acl_list_release(&a);
			goto oom;
		}
		zk_acl_list_release(&a);
		if (index > t->acl_index)
			t->acl_index = index;
		slots[nslots].index = index;
		slots[nslots++].e = e;
	}
	if (nslots)
		qsort(slots, (size_t)nslots, sizeof(*slots), cmp_slot);
	for (i = 1; i < nslots; i++)
		if (slots[i].index == slots[i - 1].index)
			SNAP_FAIL("snapshot acl map: index %lld appears twice",
				  (long long)slots[i].index);

	for (;;) {
		const uint8_t *path, *data, *st;
		struct node_ext x;
		int32_t plen, dlen;
		int64_t aclidx;
		struct zk_node *n, *parent = NULL;
		struct acl_slot key, *slot;
		uint32_t h;

		plen = rd_span(r, &path);
		if (plen < 0)
			SNAP_FAIL("snapshot node list: truncated or bad path length");
		if (plen == 1 && path[0] == '/')
			break;
		dlen = rd_span(r, &data);
		aclidx = rd_long(r);
		if (r->err || dlen < -1 || rd_left(r) < 60)
			SNAP_FAIL("snapshot node '%.*s': truncated", plen, (const char *)path);
		if (memchr(path, 0, (size_t)plen))
			SNAP_FAIL("snapshot node list: path with a NUL byte");
		if (plen > 0) {
			const uint8_t *slash = memrchr(path, '/', (size_t)plen);

			if (!slash)
				SNAP_FAIL("snapshot node '%.*s': path has no '/'", plen,
					  (const char *)path);
			parent = snap_parent(t, last, last_parent, (const char *)path,
					     (size_t)(slash - path));
			if (!parent)
				SNAP_FAIL("snapshot node '%.*s': parent missing (not pre-order)",
					  plen, (const char *)path);
		} else if (t->root) {
			SNAP_FAIL("snapshot node list: root appears twice");
		}
		h = path_hash(t, (const char *)path, (size_t)plen);
		if (find_h(t, (const char *)path, (size_t)plen, h))
			SNAP_FAIL("snapshot node '%.*s' appears twice", plen, (const char *)path);
		/* StatPersisted (60 bytes, checked above): it decides the layout. */
		st = r->p + r->off;
		rd_skip(r, 60);
		x.mzxid = be64_get(st + 8);
		x.mtime = be64_get(st + 24);
		x.owner = be64_get(st + 44);
		x.pzxid = be64_get(st + 52);
		n = node_alloc((const char *)path, (size_t)plen, data, dlen, x.owner,
			       (uint8_t)((x.mzxid != be64_get(st) || x.mtime != be64_get(st + 16) ?
					  F_MOD : 0) | (x.pzxid != be64_get(st) ? F_PZXID : 0)));
		if (!n)
			goto oom;
		n->czxid = be64_get(st);
		n->ctime = be64_get(st + 16);
		n->version = be32_get(st + 32);
		n->cversion = be32_get(st + 36);
		n->aversion = be32_get(st + 40);
		if (n->flags & F_MOD)
			ext_put(n, F_MOD, x.mzxid, x.mtime);
		if (n->flags & F_PZXID)
			ext_put(n, F_PZXID, x.pzxid, 0);
		if (aclidx != -1) {
			key.index = aclidx;
			slot = nslots ? bsearch(&key, slots, (size_t)nslots, sizeof(*slots), cmp_slot) : NULL;
			if (!slot) {
				node_free(n);
				SNAP_FAIL("snapshot node '%.*s': acl %lld not in the acl map", plen,
					  (const char *)path, (long long)aclidx);
			}
			n->acl = slot->e;
			n->acl->refs++;
		}
		if (nt_reserve(&t->nodes, 1) || index_reserve(t, x.owner)) {
			acl_unref(t, n->acl);
			node_free(n);
			goto oom;
		}
		node_attach(t, parent, n, h);
		last = n;
		last_parent = parent;
	}
	if (!t->root)
		SNAP_FAIL("snapshot node list: no root");
	/* setupQuota(): the quota'd paths and their stats come from the limit nodes. */
	if (quota_setup(t))
		goto oom;
	rc = 0;
out:
	/* purgeUnused(): entries no node refers to are dropped. */
	hmap_iter_init(&it, &t->acls);
	while ((he = hmap_iter_next(&it))) {
		struct acl_entry *e = container_of(he, struct acl_entry, h);

		if (e->refs <= 0)
			acl_entry_free(t, e);
	}
	free(slots);
	return rc;
oom:
	rc = ZSYSTEMERROR;
	if (errmsg && errlen)
		snprintf(errmsg, errlen, "snapshot read: out of memory");
	goto out;
}
