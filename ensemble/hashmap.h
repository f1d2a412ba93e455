/*
 * hashmap: an intrusive chained hash table, in the manner of git's hashmap.h.
 *
 * Contract:
 *  - The caller embeds struct hmap_entry in its own struct, computes the hash and compares
 *    keys itself while walking a bucket chain (hmap_bucket() then e->next). The table
 *    never owns, copies or frees entries; hmap_release() frees only the bucket array.
 *  - hmap_init() allocates nothing. The first hmap_add() allocates the buckets; after that
 *    hmap_add() cannot fail: when doubling the bucket array fails the table keeps its
 *    size and chains get longer (correct, just slower).
 *  - The bucket count is a power of two and grows when entries exceed buckets, so a
 *    table of n entries costs about 8..16 bytes per entry plus the embedded entries.
 *  - Iteration order is unspecified. hmap_iter_next() reads ahead, so the entry it just
 *    returned may be removed (not others) while iterating.
 *
 * hmap_hash() is SipHash-1-3 keyed by the caller: keys here are client-chosen paths, and
 * a fixed unkeyed hash would let one client build long chains on purpose.
 */
#ifndef ZK_HASHMAP_H
#define ZK_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_entry {
	struct hmap_entry *next;
	uint32_t hash;
};

struct hmap {
	struct hmap_entry **b;
	uint32_t mask;		/* bucket count - 1; meaningless while b == NULL */
	uint32_t n;		/* entries */
};

struct hmap_iter {
	const struct hmap *m;
	uint32_t i;
	struct hmap_entry *e;
};

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m);
/* Makes room for n entries without further growth; returns 0 or -1. */
int hmap_reserve(struct hmap *m, uint32_t n);
/* Inserts e under hash; returns 0, or -1 only when the first allocation fails. */
int hmap_add(struct hmap *m, struct hmap_entry *e, uint32_t hash);
/* Unlinks e, which must be in the table. */
void hmap_remove(struct hmap *m, struct hmap_entry *e);
/* First entry of the chain that holds hash (entries of other hashes may be mixed in). */
static inline struct hmap_entry *hmap_bucket(const struct hmap *m, uint32_t hash)
{
	return m->b ? m->b[hash & m->mask] : NULL;
}

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m);
struct hmap_entry *hmap_iter_next(struct hmap_iter *it);

uint64_t hmap_hash(uint64_t k0, uint64_t k1, const void *p, size_t len);

#endif
