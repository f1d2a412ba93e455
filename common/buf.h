/*
 * buf: the growable byte buffer and the bounded reader behind every jute record.
 *
 * Invariants (writer, struct buf):
 *  - p is NULL only while cap == 0; len <= cap; bytes [0, len) are valid.
 *  - Growth failure is sticky: once oom is set every later put is a no-op, so an encoder
 *    can write a whole record and check buf.oom once at the end.
 *  - buf_release() frees p and returns the buffer to the empty state; buf_detach()
 *    hands p to the caller.
 *
 * Invariants (reader, struct rd):
 *  - Never reads outside [p, p + len). Every length taken from the input is checked
 *    against the bytes left *before* anything is allocated, and against max (jute's
 *    maxbuffer) when max > 0.
 *  - Errors are sticky: after the first short read or bad length, err is set, every
 *    later get returns 0/NULL and leaves its output zeroed. Decoders check rd.err once.
 *
 * Encoding is Apache jute's BinaryOutputArchive: big-endian ints and longs, a ustring or
 * buffer is an int32 length then bytes, length -1 meaning null.
 */
#ifndef ZK_BUF_H
#define ZK_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int oom;
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
/* Drops the contents, keeps the allocation. */
void buf_reset(struct buf *b);
/* Ensures room for n more bytes; returns 0 or -1 (and sets oom). */
int buf_grow(struct buf *b, size_t n);
uint8_t *buf_detach(struct buf *b, size_t *len);

void buf_put(struct buf *b, const void *data, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_bool(struct buf *b, int v);
void buf_put_int(struct buf *b, int32_t v);
void buf_put_long(struct buf *b, int64_t v);
/* A jute ustring: s == NULL writes -1 (null). len < 0 means strlen(s). */
void buf_put_str(struct buf *b, const char *s, int32_t len);
/* A jute buffer: len == -1 writes null; data may be NULL only when len <= 0. */
void buf_put_buffer(struct buf *b, const void *data, int32_t len);
/* Overwrites 4 bytes at off (used to backpatch frame lengths). */
void buf_set_int(struct buf *b, size_t off, int32_t v);

/* Big-endian helpers for fixed headers. */
static inline int32_t be32_get(const uint8_t *p)
{
	return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
			 ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}
static inline int64_t be64_get(const uint8_t *p)
{
	return (int64_t)(((uint64_t)(uint32_t)be32_get(p) << 32) |
			 (uint64_t)(uint32_t)be32_get(p + 4));
}
static inline void be32_put(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = u >> 24; p[1] = u >> 16; p[2] = u >> 8; p[3] = u;
}
static inline void be64_put(uint8_t *p, int64_t v)
{
	be32_put(p, (int32_t)((uint64_t)v >> 32));
	be32_put(p + 4, (int32_t)(uint64_t)v);
}

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	int32_t max;	/* largest acceptable string/buffer/vector length; 0 = no limit */
	int err;
};

void rd_init(struct rd *r, const void *p, size_t len, int32_t max);
static inline size_t rd_left(const struct rd *r) { return r->err ? 0 : r->len - r->off; }
uint8_t rd_u8(struct rd *r);
int rd_bool(struct rd *r);
int32_t rd_int(struct rd *r);
int64_t rd_long(struct rd *r);
/*
 * A ustring as a freshly allocated NUL-terminated copy. *len (if given) gets the length,
 * -1 for null (then NULL is returned and no error is set). Embedded NULs are kept in the
 * copy; callers that need C strings check memchr or use rd_path().
 */
/* As rd_str without the copy: a pointer into the input (not NUL-terminated), NULL for a
 * null string (*len = -1) or an error. */
const char *rd_str_ref(struct rd *r, int32_t *len);
char *rd_str(struct rd *r, int32_t *len);
/* A jute buffer as an allocated copy (always one spare NUL byte); *len = -1 for null. */
uint8_t *rd_buffer(struct rd *r, int32_t *len);
/* A vector count: -1 (null) is returned as -1 without error; other negative counts are
 * an empty vector (as Java's BinaryIndex); otherwise 0..max, and never more than the
 * bytes left. */
int32_t rd_vec_count(struct rd *r);
/* Skips n bytes. */
void rd_skip(struct rd *r, size_t n);

#endif
