#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

#define HMAP_MIN_BUCKETS 16

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hmap_release(struct hmap *m)
{
	free(m->b);
	hmap_init(m);
}

/* Moves every entry into a table of nb buckets (a power of two). */
static int rehash(struct hmap *m, uint32_t nb)
{
	struct hmap_entry **b = calloc(nb, sizeof(*b));
	uint32_t i;

	if (!b)
		return -1;
	for (i = 0; m->b && i <= m->mask; i++) {
		struct hmap_entry *e = m->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->mask = nb - 1;
	return 0;
}

int hmap_reserve(struct hmap *m, uint32_t n)
{
	uint32_t nb = HMAP_MIN_BUCKETS;

	while (nb < n && nb < (UINT32_C(1) << 31))
		nb *= 2;
	if (m->b && nb <= m->mask + 1)
		return 0;
	return rehash(m, nb);
}

int hmap_add(struct hmap *m, struct hmap_entry *e, uint32_t hash)
{
	struct hmap_entry **slot;

	if (!m->b && rehash(m, HMAP_MIN_BUCKETS))
		return -1;
	/* Load factor 1: chains stay short and the bucket array costs 8-16 bytes/entry. */
	if (m->n >= m->mask + 1 && m->mask < (UINT32_C(1) << 31) - 1)
		rehash(m, (m->mask + 1) * 2);
	e->hash = hash;
	slot = &m->b[hash & m->mask];
	e->next = *slot;
	*slot = e;
	m->n++;
	return 0;
}

void hmap_remove(struct hmap *m, struct hmap_entry *e)
{
	struct hmap_entry **pp = &m->b[e->hash & m->mask];

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = e->next;
		e->next = NULL;
		m->n--;
	}
}

void hmap_iter_init(struct hmap_iter *it, const struct hmap *m)
{
	it->m = m;
	it->i = 0;
	it->e = NULL;
	if (!m->b)
		return;
	for (; it->i <= m->mask; it->i++) {
		if (m->b[it->i]) {
			it->e = m->b[it->i];
			return;
		}
	}
}

struct hmap_entry *hmap_iter_next(struct hmap_iter *it)
{
	struct hmap_entry *cur = it->e;

	if (!cur)
		return NULL;
	/* Read ahead so the caller may unlink cur. */
	it->e = cur->next;
	while (!it->e && it->i < it->m->mask) {
		it->i++;
		it->e = it->m->b[it->i];
	}
	return cur;
}

/* ---- SipHash-1-3 -------------------------------------------------------------------- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND do { \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
} while (0)

static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t hmap_hash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + (len & ~(size_t)7);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t m, b = (uint64_t)len << 56;
	size_t left = len & 7;

	for (; p != end; p += 8) {
		m = le64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	while (left--)
		b |= (uint64_t)p[left] << (8 * left);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
