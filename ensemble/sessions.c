/*
 * Session tracker: a hash of live sessions plus expiry buckets keyed by tick boundary, as
 * Apache's ExpiryQueue does, so an expiry pass only looks at the buckets that are due.
 *
 * Like the ExpiryQueue (and so the dump 4lw), a bucket emptied by touches stays until its
 * time has passed, and a closing session stays in its bucket; an expiry pass drops due
 * buckets whole and reports only the sessions that were not closing already.
 */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkproto.h"

struct sess {
	int64_t id;
	int32_t timeout;
	int64_t expire_at;	/* bucket boundary, ms */
	int closing;
	struct sess *hnext;		/* hash chain */
	struct sess *bprev, *bnext;	/* bucket list */
	struct bucket *bucket;
};

struct bucket {
	int64_t at;
	struct sess *head;
	int64_t n;
	struct bucket *next, *prev;	/* sorted by at */
};

struct zk_sessions {
	int32_t tick;
	int64_t next_id;
	int64_t count;
	size_t nbuckets_hash;
	struct sess **hash;
	struct bucket *buckets, *btail;	/* ascending expiry */
};

static size_t hash_id(const struct zk_sessions *s, int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)(x & (s->nbuckets_hash - 1));
}

struct zk_sessions *sessions_new(int32_t tick_ms, int64_t server_id, int64_t now_ms)
{
	struct zk_sessions *s = calloc(1, sizeof(*s));
	uint64_t t = (uint64_t)now_ms;

	if (!s)
		return NULL;
	s->tick = tick_ms > 0 ? tick_ms : 1;
	s->nbuckets_hash = 1024;
	s->hash = calloc(s->nbuckets_hash, sizeof(*s->hash));
	if (!s->hash) {
		free(s);
		return NULL;
	}
	/*
	 * Apache: ((t << 24) >>> 8) | (sid << 56), t a millisecond clock. Our monotonic clock
	 * restarts near zero at every start, so mix in the wall clock: ids must not repeat
	 * across restarts while old sessions may still be in the log.
	 */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	s->next_id = (int64_t)(((t << 24) >> 8) | ((uint64_t)server_id << 56));
	return s;
}

static void bucket_unlink(struct zk_sessions *s, struct sess *x)
{
	struct bucket *b = x->bucket;

	if (!b)
		return;
	if (x->bprev)
		x->bprev->bnext = x->bnext;
	else
		b->head = x->bnext;
	if (x->bnext)
		x->bnext->bprev = x->bprev;
	x->bprev = x->bnext = NULL;
	x->bucket = NULL;
	b->n--;
}

/* Frees the first bucket (due or empty); its sessions must be gone already. */
static void bucket_pop(struct zk_sessions *s)
{
	struct bucket *b = s->buckets;

	s->buckets = b->next;
	if (s->buckets)
		s->buckets->prev = NULL;
	else
		s->btail = NULL;
	free(b);
}

static int bucket_link(struct zk_sessions *s, struct sess *x, int64_t at)
{
	struct bucket *after, *b;

	/* A touch almost always lands in the newest bucket: search from the tail. */
	for (after = s->btail; after && after->at > at; after = after->prev)
		;
	if (after && after->at == at) {
		b = after;
	} else {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -1;
		b->at = at;
		b->prev = after;
		b->next = after ? after->next : s->buckets;
		if (b->next)
			b->next->prev = b;
		else
			s->btail = b;
		if (after)
			after->next = b;
		else
			s->buckets = b;
	}
	x->bucket = b;
	x->bprev = NULL;
	x->bnext = b->head;
	if (b->head)
		b->head->bprev = x;
	b->head = x;
	b->n++;
	return 0;
}

static int64_t deadline(const struct zk_sessions *s, int64_t now, int32_t timeout)
{
	return ((now + timeout) / s->tick + 1) * s->tick;
}

void sessions_free(struct zk_sessions *s)
{
	size_t i;
	struct bucket *b, *n;

	if (!s)
		return;
	for (i = 0; i < s->nbuckets_hash; i++) {
		struct sess *x = s->hash[i], *nx;

		for (; x; x = nx) {
			nx = x->hnext;
			free(x);
		}
	}
	for (b = s->buckets; b; b = n) {
		n = b->next;
		free(b);
	}
	free(s->hash);
	free(s);
}

int64_t sessions_next_id(struct zk_sessions *s)
{
	int64_t id = s->next_id++;

	if ((uint64_t)id == 0x8000000000000000ULL)
		id = s->next_id++;
	return id;
}

void sessions_password(int64_t session_id, uint8_t out[16])
{
	/* java.util.Random(seed).nextBytes(16): one 32-bit output per 4 bytes, low byte first. */
	uint64_t seed = ((uint64_t)session_id ^ 0xB3415C00ULL ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);
	int i, j;

	for (i = 0; i < 16; i += 4) {
		uint32_t r;

		seed = (seed * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
		r = (uint32_t)(seed >> 16);
		for (j = 0; j < 4; j++, r >>= 8)
			out[i + j] = (uint8_t)r;
	}
}

static struct sess *find(const struct zk_sessions *s, int64_t id)
{
	struct sess *x;

	for (x = s->hash[hash_id(s, id)]; x; x = x->hnext)
		if (x->id == id)
			return x;
	return NULL;
}

static void grow(struct zk_sessions *s)
{
	size_t n = s->nbuckets_hash * 2, i;
	struct sess **h = calloc(n, sizeof(*h));

	if (!h)
		return;
	for (i = 0; i < s->nbuckets_hash; i++) {
		struct sess *x = s->hash[i], *nx;

		for (; x; x = nx) {
			uint64_t v = (uint64_t)x->id;
			size_t k;

			nx = x->hnext;
			v ^= v >> 33;
			v *= 0xff51afd7ed558ccdULL;
			v ^= v >> 33;
			k = (size_t)(v & (n - 1));
			x->hnext = h[k];
			h[k] = x;
		}
	}
	free(s->hash);
	s->hash = h;
	s->nbuckets_hash = n;
}

int sessions_add(struct zk_sessions *s, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
	struct sess *x = find(s, id);

	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return -1;
		x->id = id;
		if ((size_t)s->count >= s->nbuckets_hash)
			grow(s);
		x->hnext = s->hash[hash_id(s, id)];
		s->hash[hash_id(s, id)] = x;
		s->count++;
	} else {
		bucket_unlink(s, x);
	}
	x->timeout = timeout_ms;
	x->closing = 0;
	x->expire_at = deadline(s, now_ms, timeout_ms);
	return bucket_link(s, x, x->expire_at);
}

int sessions_touch(struct zk_sessions *s, int64_t id, int64_t now_ms)
{
	struct sess *x = find(s, id);
	int64_t at;

	if (!x || x->closing)
		return ZSESSIONEXPIRED;
	at = deadline(s, now_ms, x->timeout);
	if (at == x->expire_at && x->bucket)
		return 0;
	bucket_unlink(s, x);
	x->expire_at = at;
	bucket_link(s, x, at);
	return 0;
}

int sessions_exists(const struct zk_sessions *s, int64_t id)
{
	struct sess *x = find(s, id);

	return x && !x->closing;
}

int32_t sessions_timeout(const struct zk_sessions *s, int64_t id)
{
	struct sess *x = find(s, id);

	return x ? x->timeout : -1;
}

void sessions_set_closing(struct zk_sessions *s, int64_t id)
{
	struct sess *x = find(s, id);

	if (!x)
		return;
	x->closing = 1;
}

void sessions_remove(struct zk_sessions *s, int64_t id)
{
	struct sess **pp = &s->hash[hash_id(s, id)], *x;

	for (; (x = *pp); pp = &x->hnext) {
		if (x->id == id) {
			*pp = x->hnext;
			bucket_unlink(s, x);
			free(x);
			s->count--;
			return;
		}
	}
}

int sessions_expire(struct zk_sessions *s, int64_t now_ms, int64_t *out, int max)
{
	int n = 0;

	while (s->buckets && s->buckets->at <= now_ms) {
		struct sess *x = s->buckets->head;

		if (!x) {
			bucket_pop(s);
			continue;
		}
		if (!x->closing) {
			if (n == max)
				break;
			x->closing = 1;
			out[n++] = x->id;
		}
		bucket_unlink(s, x);
	}
	return n;
}

int64_t sessions_next_deadline(const struct zk_sessions *s)
{
	const struct bucket *b;

	for (b = s->buckets; b; b = b->next)
		if (b->n > 0)
			return b->at;
	return -1;
}

int64_t sessions_count(const struct zk_sessions *s)
{
	return s->count;
}

void sessions_foreach(const struct zk_sessions *s,
		      void (*fn)(void *ctx, int64_t id, int32_t timeout_ms), void *ctx)
{
	size_t i;

	for (i = 0; i < s->nbuckets_hash; i++) {
		struct sess *x;

		for (x = s->hash[i]; x; x = x->hnext)
			fn(ctx, x->id, x->timeout);
	}
}

void sessions_dump(const struct zk_sessions *s, int64_t wall_offset_ms, FILE *out)
{
	const struct bucket *b;
	int64_t nb = 0;

	for (b = s->buckets; b; b = b->next)
		nb++;
	/* ExpiryQueue.dump: buckets (empty ones too), then every tracked session. */
	fprintf(out, "Session Sets (%lld)/(%lld):\n", (long long)nb, (long long)s->count);
	for (b = s->buckets; b; b = b->next) {
		const struct sess *x;
		time_t t = (time_t)((b->at + wall_offset_ms) / 1000);
		struct tm tm;
		char when[64];

		/* Java's Date.toString in the local zone: "Mon Nov 23 08:14:04 UTC 2026". */
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Z %Y", &tm);
		fprintf(out, "%lld expire at %s:\n", (long long)b->n, when);
		for (x = b->head; x; x = x->bnext)
			fprintf(out, "\t0x%llx\n", (unsigned long long)x->id);
	}
}
