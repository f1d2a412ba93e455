/*
 * snapfile.c: see snapfile.h.
 */
#include "snapfile.h"
#include "txnlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#define SNAP_VERSION 2
#define DIGEST_VERSION 2

/* Adler-32 continued from a over p[0, n). */
static uint32_t adler_more(uint32_t a, const uint8_t *p, size_t n)
{
	return txnlog_adler32(a, p, n);
}

/*
 * Apache's SnapStream.sealStream: the running checksum of every byte so far as a long,
 * then "/". *a is the checksum of b[0, *done); it is carried forward so that the second
 * seal does not read the whole file again.
 */
static void seal(struct buf *b, uint32_t *a, size_t *done)
{
	if (b->oom)
		return;
	*a = adler_more(*a, b->p + *done, b->len - *done);
	*done = b->len;
	buf_put_long(b, (int64_t)*a);
	buf_put_str(b, "/", 1);
}

void snapfile_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)4095;

	/* Best effort: older kernels refuse it, and then the pages fault in one by one. */
	if (len >= (1u << 20) && end > a)
		(void)madvise((void *)a, end - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

void snapfile_write_body(struct buf *b, const struct zk_tree *tree,
			 const struct storage_session *sessions, int32_t nsessions)
{
	size_t need = 16 + 4 + (size_t)(nsessions > 0 ? nsessions : 0) * 12 +
		      tree_snap_size(tree) + SNAPFILE_SEAL_LEN;
	int32_t i;

	/* One allocation of the final size, its pages mapped in one call rather than by
	 * one fault per 4 KiB while the tree is written (the loop thread waits for this). */
	if (buf_grow(b, need) == 0)
		snapfile_prefault(b->p + b->len, need);

	buf_put_int(b, SNAPFILE_MAGIC);
	buf_put_int(b, SNAP_VERSION);
	buf_put_long(b, -1);
	buf_put_int(b, nsessions);
	for (i = 0; i < nsessions; i++) {
		buf_put_long(b, sessions[i].id);
		buf_put_int(b, sessions[i].timeout);
	}
	tree_snap_write(tree, b);
	/* Room for snapfile_seal(), so that it never reallocates (it may run on a worker). */
	buf_grow(b, SNAPFILE_SEAL_LEN);
}

void snapfile_seal(struct buf *b, int64_t digest_zxid, int64_t digest)
{
	uint32_t a = (uint32_t)adler32(0L, Z_NULL, 0);
	size_t done = 0;

	seal(b, &a, &done);
	buf_put_long(b, digest_zxid);
	buf_put_int(b, DIGEST_VERSION);
	buf_put_long(b, digest_zxid ? digest : 0);
	seal(b, &a, &done);
}

void snapfile_write(struct buf *b, const struct zk_tree *tree,
		    const struct storage_session *sessions, int32_t nsessions,
		    int64_t digest_zxid, int64_t digest)
{
	snapfile_write_body(b, tree, sessions, nsessions);
	snapfile_seal(b, digest_zxid, digest);
}

int snapfile_tail_ok(const uint8_t *p, size_t len)
{
	static const uint8_t tail[5] = { 0, 0, 0, 1, '/' };

	return len >= 10 && !memcmp(p + len - 5, tail, 5);
}

/*
 * Reads a sealing checksum + "/" at r, checking it against bytes [0, r->off). *a is the
 * checksum of p[0, *done) and moves forward with each seal (one pass over the file).
 */
static int check_seal(struct rd *r, const uint8_t *p, uint32_t *a, size_t *done,
		      const char *what, char *errmsg, size_t errlen)
{
	uint32_t want = *a = adler_more(*a, p + *done, r->off - *done);
	int32_t slen;
	char *slash;
	int64_t got;
	int ok;

	*done = r->off;
	got = rd_long(r);
	slash = rd_str(r, &slen);
	ok = !r->err && slash && slen == 1 && slash[0] == '/';
	free(slash);
	if (r->err) {
		snprintf(errmsg, errlen, "short read at the %s checksum", what);
		return ZMARSHALLINGERROR;
	}
	if ((uint64_t)got != want) {
		snprintf(errmsg, errlen, "%s checksum mismatch (stored 0x%" PRIx64 ", computed "
			 "0x%" PRIx32 ")", what, (uint64_t)got, want);
		return ZMARSHALLINGERROR;
	}
	if (!ok) {
		snprintf(errmsg, errlen, "missing \"/\" after the %s checksum", what);
		return ZMARSHALLINGERROR;
	}
	return 0;
}

int snapfile_read(const uint8_t *p, size_t len, struct snapfile *out, char *errmsg,
		  size_t errlen)
{
	uint32_t a = (uint32_t)adler32(0L, Z_NULL, 0);
	size_t done = 0;
	struct rd r;
	int32_t i, n;
	int rc;

	memset(out, 0, sizeof(*out));
	rd_init(&r, p, len, 0);
	if (rd_int(&r) != SNAPFILE_MAGIC || r.err) {
		snprintf(errmsg, errlen, "not a snapshot (bad magic)");
		return ZMARSHALLINGERROR;
	}
	if ((i = rd_int(&r)) != SNAP_VERSION) {
		snprintf(errmsg, errlen, "unsupported snapshot version %d", i);
		return ZMARSHALLINGERROR;
	}
	rd_long(&r);	/* dbid */
	n = rd_int(&r);
	/* Each session takes 12 bytes: bound the count before allocating. */
	if (r.err || n < 0 || (size_t)n > rd_left(&r) / 12) {
		snprintf(errmsg, errlen, "invalid session count %d", n);
		return ZMARSHALLINGERROR;
	}
	out->sessions = malloc(sizeof(*out->sessions) * (size_t)(n ? n : 1));
	if (!out->sessions) {
		snprintf(errmsg, errlen, "out of memory");
		return ZSYSTEMERROR;
	}
	for (i = 0; i < n; i++) {
		out->sessions[i].id = rd_long(&r);
		out->sessions[i].timeout = rd_int(&r);
	}
	out->nsessions = n;
	out->tree = tree_new_empty();
	if (!out->tree) {
		snprintf(errmsg, errlen, "out of memory");
		rc = ZSYSTEMERROR;
		goto err;
	}
	rc = tree_snap_read(out->tree, &r, errmsg, errlen);
	if (rc)
		goto err;
	rc = check_seal(&r, p, &a, &done, "snapshot", errmsg, errlen);
	if (rc)
		goto err;
	if (rd_left(&r) > 0) {
		out->digest_zxid = rd_long(&r);
		i = rd_int(&r);
		out->digest = rd_long(&r);
		if (r.err) {
			snprintf(errmsg, errlen, "short read in the digest section");
			rc = ZMARSHALLINGERROR;
			goto err;
		}
		rc = check_seal(&r, p, &a, &done, "digest", errmsg, errlen);
		if (rc)
			goto err;
		/* Another digest version cannot be compared; Apache logs and ignores it. */
		out->has_digest = i == DIGEST_VERSION && out->digest_zxid != 0;
	}
	if (rd_left(&r) > 0) {
		snprintf(errmsg, errlen, "%zu unexpected bytes after the end", rd_left(&r));
		rc = ZMARSHALLINGERROR;
		goto err;
	}
	return 0;
err:
	snapfile_release(out);
	return rc;
}

void snapfile_release(struct snapfile *s)
{
	if (s->tree)
		tree_free(s->tree);
	free(s->sessions);
	memset(s, 0, sizeof(*s));
}
