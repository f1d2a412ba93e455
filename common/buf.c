#include "buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_release(struct buf *b)
{
	free(b->p);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = 0;
}

int buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (b->oom)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	want = b->len + n;
	if (want < b->len)
		goto fail;
	cap = b->cap ? b->cap : 64;
	while (cap < want) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = 1;
	return -1;
}

uint8_t *buf_detach(struct buf *b, size_t *len)
{
	uint8_t *p = b->p;

	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

void buf_put(struct buf *b, const void *data, size_t n)
{
	if (!n || buf_grow(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_bool(struct buf *b, int v)
{
	buf_put_u8(b, v ? 1 : 0);
}

void buf_put_int(struct buf *b, int32_t v)
{
	uint8_t x[4];

	be32_put(x, v);
	buf_put(b, x, 4);
}

void buf_put_long(struct buf *b, int64_t v)
{
	uint8_t x[8];

	be64_put(x, v);
	buf_put(b, x, 8);
}

void buf_put_str(struct buf *b, const char *s, int32_t len)
{
	if (!s) {
		buf_put_int(b, -1);
		return;
	}
	if (len < 0)
		len = (int32_t)strlen(s);
	buf_put_int(b, len);
	buf_put(b, s, (size_t)len);
}

void buf_put_buffer(struct buf *b, const void *data, int32_t len)
{
	if (len < 0) {
		buf_put_int(b, -1);
		return;
	}
	buf_put_int(b, len);
	buf_put(b, data, (size_t)len);
}

void buf_set_int(struct buf *b, size_t off, int32_t v)
{
	if (b->oom || off + 4 > b->len)
		return;
	be32_put(b->p + off, v);
}

void rd_init(struct rd *r, const void *p, size_t len, int32_t max)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->max = max;
	r->err = 0;
}

static const uint8_t *take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

int rd_bool(struct rd *r)
{
	return rd_u8(r) != 0;
}

int32_t rd_int(struct rd *r)
{
	const uint8_t *p = take(r, 4);

	return p ? be32_get(p) : 0;
}

int64_t rd_long(struct rd *r)
{
	const uint8_t *p = take(r, 8);

	return p ? be64_get(p) : 0;
}

/* Reads a length prefix: -1 passes through, other negatives and oversize fail. */
static int32_t rd_len(struct rd *r)
{
	int32_t n = rd_int(r);

	if (r->err)
		return -2;
	if (n == -1)
		return -1;
	if (n < 0 || (r->max > 0 && n > r->max) || (size_t)n > r->len - r->off) {
		r->err = 1;
		return -2;
	}
	return n;
}

const char *rd_str_ref(struct rd *r, int32_t *len)
{
	int32_t n = rd_len(r);
	const uint8_t *p;

	*len = -1;
	if (n < 0)
		return NULL;
	p = take(r, (size_t)n);
	if (!p)
		return NULL;
	*len = n;
	return (const char *)p;
}

char *rd_str(struct rd *r, int32_t *len)
{
	int32_t n = rd_len(r);
	const uint8_t *p;
	char *s;

	if (len)
		*len = n < 0 ? -1 : n;
	if (n < 0)
		return NULL;
	p = take(r, (size_t)n);
	s = malloc((size_t)n + 1);
	if (!p || !s) {
		free(s);
		r->err = 1;
		if (len)
			*len = -1;
		return NULL;
	}
	memcpy(s, p, (size_t)n);
	s[n] = 0;
	return s;
}

uint8_t *rd_buffer(struct rd *r, int32_t *len)
{
	return (uint8_t *)rd_str(r, len);
}

int32_t rd_vec_count(struct rd *r)
{
	int32_t n = rd_int(r);

	if (r->err)
		return 0;
	if (n == -1)
		return -1;
	/* Java's BinaryIndex treats any other negative count as an empty vector. */
	if (n < 0)
		return 0;
	/* Every element takes at least one byte, so a count above the bytes left is a lie. */
	if ((size_t)n > r->len - r->off || (r->max > 0 && n > r->max)) {
		r->err = 1;
		return 0;
	}
	return n;
}

void rd_skip(struct rd *r, size_t n)
{
	take(r, n);
}
