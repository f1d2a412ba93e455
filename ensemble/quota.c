/*
 * quota: the datatree's quota bookkeeping, called by datatree.c's create, delete and
 * setData and by tree_snap.c after a snapshot load. Part of the datatree module: it sees
 * the tree's internals through datatree_i.h.
 *
 * Apache's server-side quota bookkeeping (DataTree pTrie, updateQuotaStat and friends).
 * A path is quota'd while /zookeeper/quota<path>/zookeeper_limits exists; every create,
 * delete and setData under the longest quota'd prefix rewrites that prefix's
 * zookeeper_stats node in place ("count=N,bytes=M", StatsTrack's text) with no stat
 * change and no event. The set is keyed by the path as PathTrie sees it: the components
 * that are not blank once trimmed, joined by '/'. Only property nodes of the trie matter
 * to findMaxPrefix, so a set of those paths behaves exactly like the trie.
 */
#include "datatree_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_ROOT "/zookeeper/quota"
#define QUOTA_ROOT_LEN 16
#define LIMIT_NODE "zookeeper_limits"
#define STAT_NODE "zookeeper_stats"

/* Java's String.trim() leaves nothing: every char is <= ' ' (PathTrie drops these). */
static int comp_blank(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] > ' ')
			return 0;
	return 1;
}

/*
 * PathTrie's view of a path: "/" + the non-blank components joined by '/', or "" when
 * there are none. Returns p itself when it already has that form (the usual case), else
 * a malloc'd copy the caller frees; NULL only when memory runs out.
 */
static char *quota_norm(const char *p, size_t len, size_t *olen)
{
	size_t i = 0, j, o = 0;
	int plain = len > 0 && p[0] == '/';
	char *out;

	while (plain && i < len) {
		j = i + 1;
		while (j < len && p[j] != '/')
			j++;
		if (comp_blank(p + i + 1, j - i - 1))
			plain = 0;
		i = j;
	}
	if (plain) {
		*olen = len;
		return (char *)p;
	}
	out = malloc(len + 2);
	if (!out)
		return NULL;
	for (i = 0; i < len; i = j + 1) {
		j = i;
		while (j < len && p[j] != '/')
			j++;
		if (!comp_blank(p + i, j - i)) {
			out[o++] = '/';
			memcpy(out + o, p + i, j - i);
			o += j - i;
		}
	}
	out[o] = 0;
	*olen = o;
	return out;
}

static struct quota *quota_find(const struct zk_tree *t, const char *p, size_t len)
{
	uint32_t h = path_hash(t, p, len);
	struct hmap_entry *e;

	for (e = hmap_bucket(&t->quotas, h); e; e = e->next) {
		struct quota *q = container_of(e, struct quota, h);

		if (e->hash == h && q->len == len && memcmp(q->path, p, len) == 0)
			return q;
	}
	return NULL;
}

/* pTrie.addPath(raw). A path with no components would mark the trie's root, which
 * findMaxPrefix never reports, so it is left out. */
static int quota_add(struct zk_tree *t, const char *raw, size_t rlen)
{
	size_t len;
	char *p = quota_norm(raw, rlen, &len);
	struct quota *q;
	int rc = 0;

	if (!p)
		return ZSYSTEMERROR;
	if (len == 0 || len > UINT32_MAX - 64 || quota_find(t, p, len))
		goto out;
	q = malloc(sizeof(*q) + 2 * len + QUOTA_ROOT_LEN + sizeof(STAT_NODE) + 2);
	if (!q) {
		rc = ZSYSTEMERROR;
		goto out;
	}
	q->len = (uint32_t)len;
	memcpy(q->path, p, len);
	q->path[len] = 0;
	q->stats = q->path + len + 1;
	memcpy(q->stats, QUOTA_ROOT, QUOTA_ROOT_LEN);
	memcpy(q->stats + QUOTA_ROOT_LEN, p, len);
	memcpy(q->stats + QUOTA_ROOT_LEN + len, "/" STAT_NODE, sizeof(STAT_NODE) + 1);
	q->slen = (uint32_t)(QUOTA_ROOT_LEN + len + sizeof(STAT_NODE));
	if (hmap_add(&t->quotas, &q->h, path_hash(t, p, len))) {
		free(q);
		rc = ZSYSTEMERROR;
	}
out:
	if (p != raw)
		free(p);
	return rc;
}

/* pTrie.deletePath(raw). */
static int quota_del(struct zk_tree *t, const char *raw, size_t rlen)
{
	size_t len;
	char *p = quota_norm(raw, rlen, &len);
	struct quota *q;

	if (!p)
		return ZSYSTEMERROR;
	q = len ? quota_find(t, p, len) : NULL;
	if (q) {
		hmap_remove(&t->quotas, &q->h);
		free(q);
	}
	if (p != raw)
		free(p);
	return 0;
}

/* getMaxPrefixWithQuota(): the longest quota'd prefix of path at a component boundary. */
static int quota_prefix(const struct zk_tree *t, const char *path, size_t plen,
			struct quota **out)
{
	size_t len, end;
	char *p;

	*out = NULL;
	if (t->quotas.n == 0)
		return 0;
	p = quota_norm(path, plen, &len);
	if (!p)
		return ZSYSTEMERROR;
	for (end = len; end > 0; end--) {
		if (end < len && p[end] != '/')
			continue;
		if ((*out = quota_find(t, p, end)))
			break;
	}
	if (p != path)
		free(p);
	return 0;
}

/* Replaces a node's data outside any txn's stat change: digest and data size follow. */
static int node_rewrite(struct zk_tree *t, struct zk_node *n, const char *s, size_t len)
{
	uint64_t before = node_digest(n);
	int64_t old_len = dlen0(n->data_len);

	if (node_set_data(n, (const uint8_t *)s, (int32_t)len))
		return ZSYSTEMERROR;
	t->digest += node_digest(n) - before;
	t->data_size += dlen0(n->data_len) - old_len;
	return 0;
}

struct stat_kv {
	const char *k;
	size_t klen;
	int64_t v;
};

/* Long.parseLong: optional sign, ASCII digits, no overflow. */
static int parse_long(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0, lim;
	size_t i = 0;
	int neg = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/*
 * new StatsTrack(text): pairs split on runs of ',' or ';', each pair split on '=' as
 * Java's String.split does (trailing empty pieces dropped); an empty value is -1, a later
 * key overrides an earlier one. Returns the number of keys, or -1 where Java would throw.
 */
static int stats_parse(const char *s, size_t len, struct stat_kv *kv)
{
	size_t i = 0, j, end = len;
	int n = 0, k;

	/* Trailing separators give only empty pieces, which split() drops. */
	while (end > 0 && (s[end - 1] == ',' || s[end - 1] == ';'))
		end--;
	if (end == 0)
		return 0;
	while (i <= end) {
		const char *pc = s + i, *eq, *v;
		size_t plen, vlen, klen, tail;
		int64_t val = -1;

		j = i;
		while (j < end && s[j] != ',' && s[j] != ';')
			j++;
		plen = j - i;
		/* "a=5=" splits as [a, 5]; "a=" and "a" have no second piece. */
		tail = plen;
		while (tail > 0 && pc[tail - 1] == '=')
			tail--;
		eq = memchr(pc, '=', tail);
		if (!eq)
			return -1;
		klen = (size_t)(eq - pc);
		v = eq + 1;
		vlen = (size_t)(pc + tail - v);
		if (memchr(v, '=', vlen))
			vlen = (size_t)((const char *)memchr(v, '=', vlen) - v);
		if (vlen > 0 && parse_long(v, vlen, &val))
			return -1;
		for (k = 0; k < n; k++)
			if (kv[k].klen == klen && memcmp(kv[k].k, pc, klen) == 0)
				break;
		kv[k].k = pc;
		kv[k].klen = klen;
		kv[k].v = val;
		if (k == n)
			n++;
		/* Skip the run of separators. */
		while (j < end && (s[j] == ',' || s[j] == ';'))
			j++;
		if (j >= end)
			break;
		i = j;
	}
	return n;
}

static int kv_is(const struct stat_kv *kv, const char *key)
{
	return kv->klen == strlen(key) && memcmp(kv->k, key, kv->klen) == 0;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct stat_kv *x = a, *y = b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->k, y->k, m);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* StatsTrack.toString(): count and bytes first, then "=" and the other keys sorted. */
static int stats_format(struct zk_tree *t, struct zk_node *n, int64_t count, int64_t bytes,
			struct stat_kv *kv, int nkv)
{
	size_t cap = 64, o;
	char *s;
	int i, rc;

	for (i = 0; i < nkv; i++)
		cap += kv[i].klen + 24;
	s = malloc(cap);
	if (!s)
		return ZSYSTEMERROR;
	o = (size_t)sprintf(s, "count=%lld,bytes=%lld", (long long)count, (long long)bytes);
	if (nkv > 0) {
		qsort(kv, (size_t)nkv, sizeof(*kv), cmp_kv);
		s[o++] = '=';
		for (i = 0; i < nkv; i++) {
			s[o++] = ';';
			memcpy(s + o, kv[i].k, kv[i].klen);
			o += kv[i].klen;
			o += (size_t)sprintf(s + o, "=%lld", (long long)kv[i].v);
		}
	}
	rc = node_rewrite(t, n, s, o);
	free(s);
	return rc;
}

/*
 * updateQuotaStat(): adds the diffs to the stats node's count and bytes. Text Apache
 * could not parse (it would throw) leaves the node as it is.
 */
static int stats_add(struct zk_tree *t, struct zk_node *n, int64_t count_diff, int64_t bytes_diff)
{
	size_t len = (size_t)dlen0(n->data_len);
	struct stat_kv *kv;
	int64_t count = -1, bytes = -1;
	int nkv, i, o = 0, rc = 0;

	kv = malloc(sizeof(*kv) * (len / 2 + 2));
	if (!kv)
		return ZSYSTEMERROR;
	nkv = stats_parse((const char *)node_data_ptr(n), len, kv);
	if (nkv < 0)
		goto out;
	for (i = 0; i < nkv; i++) {
		if (kv_is(&kv[i], "count"))
			count = kv[i].v;
		else if (kv_is(&kv[i], "bytes"))
			bytes = kv[i].v;
		else
			kv[o++] = kv[i];
	}
	/* Java long arithmetic wraps. */
	count = (int64_t)((uint64_t)count + (uint64_t)count_diff);
	bytes = (int64_t)((uint64_t)bytes + (uint64_t)bytes_diff);
	rc = stats_format(t, n, count, bytes, kv, o);
out:
	free(kv);
	return rc;
}

/* The quota'd prefix over path, if any, counts the change. */
int quota_update(struct zk_tree *t, const char *path, size_t plen, int64_t count_diff,
		 int64_t bytes_diff)
{
	struct quota *q;
	struct zk_node *stats;

	if (t->quotas.n == 0)
		return 0;
	if (quota_prefix(t, path, plen, &q))
		return ZSYSTEMERROR;
	if (!q)
		return 0;
	stats = find(t, q->stats, q->slen);
	/* Apache logs "Missing node for stat" and goes on. */
	return stats ? stats_add(t, stats, count_diff, bytes_diff) : 0;
}

/* updateQuotaForPath(raw): the stats node gets the subtree's node count and data bytes. */
static int quota_recount(struct zk_tree *t, const char *raw, size_t rlen, struct zk_node *stats)
{
	const struct zk_node *top = find(t, raw, rlen), *c;
	int32_t count = 0;
	int64_t bytes = 0;

	for (c = top; c; c = preorder_next(t, c, top)) {
		count++;	/* Counts.count is a Java int */
		bytes += dlen0(c->data_len);
	}
	return stats_format(t, stats, count, bytes, NULL, 0);
}

/* The quota side of createNode(), after the node is in the tree. */
int quota_created(struct zk_tree *t, struct zk_node *n)
{
	size_t plen = strlen(n->path), parent_len;
	const char *name;

	if (plen > QUOTA_ROOT_LEN + 1 && memcmp(n->path, QUOTA_ROOT, QUOTA_ROOT_LEN) == 0) {
		name = node_name(n);
		parent_len = (size_t)(name - 1 - n->path);
		/* parentName.startsWith("/zookeeper/quota"), a string test as in Apache. */
		if (parent_len >= QUOTA_ROOT_LEN) {
			const char *raw = n->path + QUOTA_ROOT_LEN;
			size_t rlen = parent_len - QUOTA_ROOT_LEN;

			if (strcmp(name, LIMIT_NODE) == 0 && rlen > 0 && quota_add(t, raw, rlen))
				return ZSYSTEMERROR;
			/* statPath(trimQuotaPath(parent)) is this very node. */
			if (strcmp(name, STAT_NODE) == 0 && quota_recount(t, raw, rlen, n))
				return ZSYSTEMERROR;
		}
	}
	return quota_update(t, n->path, plen, 1, dlen0(n->data_len));
}

/* The quota side of deleteNode(), after the node left the tree. */
int quota_deleted(struct zk_tree *t, const char *path, size_t plen, int32_t dlen)
{
	const char *slash = memrchr(path, '/', plen);
	size_t parent_len = slash ? (size_t)(slash - path) : 0;

	/*
	 * parentName.startsWith("/zookeeper"), then substring(16): Apache throws when the
	 * parent is shorter or trims to "" (deletePath("")), so those change nothing here.
	 */
	if (slash && parent_len > QUOTA_ROOT_LEN && memcmp(path, "/zookeeper", 10) == 0 &&
	    strcmp(slash + 1, LIMIT_NODE) == 0 &&
	    quota_del(t, path + QUOTA_ROOT_LEN, parent_len - QUOTA_ROOT_LEN))
		return ZSYSTEMERROR;
	return quota_update(t, path, plen, -1, -dlen0(dlen));
}

/*
 * setupQuota() after a snapshot load: every leaf under /zookeeper/quota whose path ends
 * in "/zookeeper_limits" marks the path before the first "/zookeeper_limits" as quota'd,
 * and its stats node is recounted.
 */
int quota_setup(struct zk_tree *t)
{
	struct zk_node *top = find(t, QUOTA_ROOT, QUOTA_ROOT_LEN), *c;
	static const char end[] = "/" LIMIT_NODE;
	const size_t elen = sizeof(end) - 1;

	for (c = top; c; c = preorder_next(t, c, top)) {
		size_t rlen, slen, clen = strlen(c->path);
		const char *first;
		struct zk_node *stats;
		char *sp;

		if (c->child || clen < elen || memcmp(c->path + clen - elen, end, elen))
			continue;
		first = strstr(c->path, end);
		rlen = (size_t)(first - c->path) - QUOTA_ROOT_LEN;
		slen = QUOTA_ROOT_LEN + rlen + sizeof(STAT_NODE) + 1;
		sp = malloc(slen);
		if (!sp)
			return ZSYSTEMERROR;
		sprintf(sp, QUOTA_ROOT "%.*s/" STAT_NODE, (int)rlen, c->path + QUOTA_ROOT_LEN);
		stats = find(t, sp, strlen(sp));
		free(sp);
		if (stats && quota_recount(t, c->path + QUOTA_ROOT_LEN, rlen, stats))
			return ZSYSTEMERROR;
		if (rlen > 0 && quota_add(t, c->path + QUOTA_ROOT_LEN, rlen))
			return ZSYSTEMERROR;
	}
	return 0;
}
