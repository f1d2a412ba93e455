/*
 * txnlog.c: see txnlog.h for the format and the torn-vs-corrupt rules.
 */
#include "checksum.h"
#include "txnlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512
#define WINDOW (1 << 20)
/* A payload longer than this is not a record (jute.maxbuffer is far below it). */
#define MAX_PAYLOAD (1 << 30)

/* ---- Adler-32 ------------------------------------------------------------------------ */

uint32_t txnlog_adler32(uint32_t a, const uint8_t *p, size_t len)
{
	return cksum_adler32(a, p, len);
}

/* ---- writing ------------------------------------------------------------------------ */

void txnlog_put_header(struct buf *b)
{
	buf_put_int(b, TXNLOG_MAGIC);
	buf_put_int(b, TXNLOG_VERSION);
	buf_put_long(b, 0);
}

void txnlog_put_entry(struct buf *b, const struct zk_txn *txn)
{
	size_t start = b->len, plen;
	uint32_t sum;

	/* Reserve checksum and length, encode the payload in place, then backpatch. */
	buf_put_long(b, 0);
	buf_put_int(b, 0);
	txn_encode(txn, b);
	if (b->oom)
		return;
	plen = b->len - start - 12;
	sum = txnlog_adler32(1, b->p + start + 12, plen);
	be64_put(b->p + start, (int64_t)sum);
	be32_put(b->p + start + 8, (int32_t)plen);
	buf_put_u8(b, TXNLOG_EOR);
}

int64_t txnlog_padded_size(int64_t position, int64_t file_size, int64_t prealloc)
{
	if (prealloc > 0 && position + 4096 >= file_size) {
		if (position > file_size) {
			file_size = position + prealloc;
			file_size -= file_size % prealloc;
		} else {
			file_size += prealloc;
		}
	}
	return file_size;
}

/* ---- a sliding read window over the file --------------------------------------------- */

struct win {
	struct vfs_file *f;
	int64_t size;
	uint8_t *p;
	size_t cap;
	int64_t off;	/* file offset of p[0] */
	size_t len;	/* valid bytes in p */
	int err;	/* -errno of the first failed read */
};

/* Returns a pointer to n bytes at off (off + n <= size), or NULL on a read error. */
static const uint8_t *win_get(struct win *w, int64_t off, size_t n)
{
	int64_t got;
	size_t want;

	if (off >= w->off && off + (int64_t)n <= w->off + (int64_t)w->len)
		return w->p + (off - w->off);
	want = n > WINDOW ? n : WINDOW;
	if ((int64_t)want > w->size - off)
		want = (size_t)(w->size - off);
	if (want > w->cap) {
		uint8_t *np = realloc(w->p, want);

		if (!np) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->p = np;
		w->cap = want;
	}
	got = vfs_pread(w->f, w->p, want, off);
	if (got < 0 || (size_t)got < n) {
		w->err = got < 0 ? (int)got : -EIO;
		w->len = 0;
		return NULL;
	}
	w->off = off;
	w->len = (size_t)got;
	return w->p;
}

/* ---- one record ---------------------------------------------------------------------- */

enum rec { REC_OK, REC_SKIP, REC_END, REC_BAD, REC_PARTIAL, REC_IOERR };

struct rec_info {
	int32_t len;		/* payload length as stored */
	int64_t zxid;		/* from the payload if readable, else -1 */
	const char *why;
};

/*
 * Checks the record at off; on REC_OK with t != NULL, *t holds the decoded txn. A record
 * whose header zxid is <= skip_upto is checked (length, EOR, checksum, a whole TxnHeader)
 * but not decoded: REC_SKIP, *t untouched.
 */
static enum rec rec_check(struct win *w, int64_t off, struct zk_txn *t, struct rec_info *ri,
			  int64_t skip_upto)
{
	const uint8_t *h, *pl;
	int64_t left = w->size - off;
	uint32_t sum;
	struct zk_txn tmp;

	ri->len = 0;
	ri->zxid = -1;
	ri->why = NULL;
	if (left < 12) {
		const uint8_t *b = left > 0 ? win_get(w, off, (size_t)left) : NULL;
		int64_t i;

		if (left > 0 && !b)
			return REC_IOERR;
		for (i = 0; i < left && !b[i]; i++)
			;
		if (i == left)
			return REC_END;	/* the end of the file, or zeros up to it */
		ri->why = "partial record header";
		return REC_PARTIAL;
	}
	h = win_get(w, off, 12);
	if (!h)
		return REC_IOERR;
	ri->len = be32_get(h + 8);
	if (ri->len == 0)
		return REC_END;
	if (ri->len < 0 || ri->len > MAX_PAYLOAD) {
		ri->why = "invalid record length";
		return REC_BAD;
	}
	if (left < 12 + (int64_t)ri->len + 1) {
		ri->why = "partial record";
		return REC_PARTIAL;
	}
	sum = (uint32_t)be32_get(h + 4);
	if (be32_get(h) != 0) {
		ri->why = "checksum mismatch";
		return REC_BAD;
	}
	pl = win_get(w, off, 12 + (size_t)ri->len + 1);
	if (!pl)
		return REC_IOERR;
	pl += 12;
	if (ri->len >= 20)
		ri->zxid = be64_get(pl + 12);
	if (pl[ri->len] != TXNLOG_EOR) {
		ri->why = "missing end-of-record marker";
		return REC_BAD;
	}
	if (txnlog_adler32(1, pl, (size_t)ri->len) != sum) {
		ri->why = "checksum mismatch";
		return REC_BAD;
	}
	if (ri->len >= 32 && ri->zxid <= skip_upto)
		return REC_SKIP;
	if (txn_decode(t ? t : &tmp, pl, (size_t)ri->len)) {
		ri->why = "undecodable payload";
		return REC_BAD;
	}
	if (!t)
		txn_release(&tmp);
	return REC_OK;
}

/*
 * The first non-zero byte of p[0, n), or NULL. Word at a time: the preallocated tail of
 * every log file (tens of MiB of zeros) goes through here at each start.
 */
static const uint8_t *first_nonzero(const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i < n && ((uintptr_t)(p + i) & 7); i++)
		if (p[i])
			return p + i;
	for (; i + 64 <= n; i += 64) {
		uint64_t q[8];

		memcpy(q, p + i, sizeof(q));
		if (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7])
			break;
	}
	for (; i < n; i++)
		if (p[i])
			return p + i;
	return NULL;
}

/* True when some sector-sized piece of [from, to) is all zeros. */
static int has_zero_sector(struct win *w, int64_t from, int64_t to)
{
	while (from < to) {
		int64_t next = (from / SECTOR + 1) * SECTOR;
		const uint8_t *p;
		size_t n, i;

		if (next > to)
			next = to;
		n = (size_t)(next - from);
		p = win_get(w, from, n);
		if (!p)
			return 0;
		for (i = 0; i < n && !p[i]; i++)
			;
		if (i == n)
			return 1;
		from = next;
	}
	return 0;
}

/*
 * Looks for a valid record starting anywhere in [from, size). Returns its offset, or -1.
 * *nonzero (if given) says whether any non-zero byte was seen. Long zero runs are skipped
 * a byte scan at a time: a record has a non-zero length, so its start is within 11 bytes
 * before some non-zero byte.
 */
static int64_t find_valid(struct win *w, int64_t from, int *nonzero)
{
	int64_t off = from;
	struct rec_info ri;

	if (nonzero)
		*nonzero = 0;
	while (off + TXNLOG_REC_OVERHEAD + 1 <= w->size) {
		int64_t p = off + 8;
		const uint8_t *b;

		/* Skip to the next non-zero byte at or after off + 8. */
		for (;;) {
			size_t n = WINDOW;
			const uint8_t *hit;

			if (p >= w->size)
				return -1;
			if ((int64_t)n > w->size - p)
				n = (size_t)(w->size - p);
			b = win_get(w, p, n);
			if (!b)
				return -1;
			hit = first_nonzero(b, n);
			if (hit) {
				p += hit - b;
				break;
			}
			p += (int64_t)n;
		}
		if (nonzero)
			*nonzero = 1;
		if (p - 11 > off)
			off = p - 11;
		if (off < from)
			off = from;
		if (rec_check(w, off, NULL, &ri, INT64_MIN) == REC_OK)
			return off;
		off++;
	}
	return -1;
}

/* ---- the scan ---------------------------------------------------------------------- */

static void describe_zxid(char *out, size_t n, const struct rec_info *ri, int64_t last)
{
	if (ri->zxid >= 0)
		snprintf(out, n, "zxid 0x%" PRIx64, (uint64_t)ri->zxid);
	else if (last >= 0)
		snprintf(out, n, "zxid unknown, after 0x%" PRIx64, (uint64_t)last);
	else
		snprintf(out, n, "zxid unknown");
}

int txnlog_scan(struct vfs_file *f, const char *path, txnlog_rec_fn fn, void *ctx,
		struct txnlog_scan *res, char *errmsg, size_t errlen)
{
	return txnlog_scan_after(f, path, INT64_MIN, 0, fn, ctx, res, errmsg, errlen);
}

int txnlog_scan_after(struct vfs_file *f, const char *path, int64_t after, int sealed,
		      txnlog_rec_fn fn, void *ctx, struct txnlog_scan *res, char *errmsg,
		      size_t errlen)
{
	struct win w = { f, 0, NULL, 0, 0, 0, 0 };
	int64_t off, valid;
	struct rec_info ri;
	enum rec rc;
	char zx[64];
	int ret = 0, nonzero;

	memset(res, 0, sizeof(*res));
	res->first_zxid = res->last_zxid = -1;
	res->valid_after = -1;
	ret = vfs_size(f, &w.size);
	if (ret) {
		snprintf(errmsg, errlen, "read txn log %s: %s", path, strerror(-ret));
		return ZSYSTEMERROR;
	}
	res->size = w.size;

	/* File header. A missing or damaged header with nothing valid after it is a file
	 * created just before a crash. */
	{
		const uint8_t *h = w.size >= TXNLOG_HDR_LEN ? win_get(&w, 0, TXNLOG_HDR_LEN) : NULL;

		if (w.err)
			goto ioerr;
		if (!h || be32_get(h) != TXNLOG_MAGIC) {
			int zero_hdr = h && has_zero_sector(&w, 0, TXNLOG_HDR_LEN);

			valid = find_valid(&w, TXNLOG_HDR_LEN, &nonzero);
			if (w.err)
				goto ioerr;
			/* A header of zeros is a sector the crash never wrote: torn, whatever
			 * follows. A wrong non-zero header before valid records is damage. */
			if (valid >= 0 && !zero_hdr) {
				snprintf(errmsg, errlen, "corrupt txn log %s at offset 0: invalid file "
					 "header, but a valid record follows at offset %" PRId64,
					 path, valid);
				ret = ZDATAINCONSISTENCY;
				goto out;
			}
			res->state = TXNLOG_TORN;
			res->end = 0;
			res->valid_after = valid;
			snprintf(res->why, sizeof(res->why), "%s file header",
				 w.size < TXNLOG_HDR_LEN ? "partial" : zero_hdr ? "unwritten" :
				 "invalid");
			goto out;
		}
		if (be32_get(h + 4) != TXNLOG_VERSION) {
			snprintf(errmsg, errlen, "txn log %s: unsupported format version %d",
				 path, be32_get(h + 4));
			ret = ZDATAINCONSISTENCY;
			goto out;
		}
	}

	off = TXNLOG_HDR_LEN;
	for (;;) {
		struct zk_txn t;

		memset(&t, 0, sizeof(t));
		rc = rec_check(&w, off, &t, &ri, after);
		if (rc == REC_IOERR)
			goto ioerr;
		if (rc == REC_SKIP) {
			if (res->first_zxid < 0)
				res->first_zxid = ri.zxid;
			res->last_zxid = ri.zxid;
			res->nrecords++;
			off += TXNLOG_REC_OVERHEAD + ri.len;
			continue;
		}
		if (rc != REC_OK)
			break;
		if (res->first_zxid < 0)
			res->first_zxid = t.hdr.zxid;
		res->last_zxid = t.hdr.zxid;
		res->nrecords++;
		ret = fn ? fn(ctx, &t, off) : 0;
		txn_release(&t);
		if (ret)
			goto out;
		off += TXNLOG_REC_OVERHEAD + ri.len;
	}
	res->end = off;

	if (rc == REC_END && off + 12 > w.size) {
		res->state = TXNLOG_CLEAN;
		goto out;
	}
	if (rc == REC_END && sealed) {
		/* A zero record header in a file no batch can be torn in: the end, as Apache
		 * reads it, without reading the preallocated rest. */
		const uint8_t *h = win_get(&w, off, 12);

		if (!h)
			goto ioerr;
		if (!h[0] && !h[1] && !h[2] && !h[3] && !h[4] && !h[5] && !h[6] && !h[7]) {
			res->state = TXNLOG_CLEAN;
			goto out;
		}
	}
	if (rc == REC_PARTIAL) {
		/* Runs past the end of the file: nothing can follow it. */
		res->state = TXNLOG_TORN;
		snprintf(res->why, sizeof(res->why), "%s", ri.why);
		goto out;
	}
	valid = find_valid(&w, off + 1, &nonzero);
	if (w.err)
		goto ioerr;
	if (rc == REC_END) {
		/* Zeros: the end, unless something was written after them. */
		const uint8_t *h = win_get(&w, off, 12);

		if (!h)
			goto ioerr;
		if (!nonzero && !h[0] && !h[1] && !h[2] && !h[3] && !h[4] && !h[5] && !h[6] &&
		    !h[7]) {
			res->state = TXNLOG_CLEAN;
			goto out;
		}
		res->state = TXNLOG_TORN;
		res->valid_after = valid;
		snprintf(res->why, sizeof(res->why), "zero-length record followed by stray bytes");
		goto out;
	}
	/* REC_BAD. */
	if (valid >= 0 &&
	    !has_zero_sector(&w, off + 4, ri.len > 0 ? off + 12 + ri.len + 1 : off + 12)) {
		describe_zxid(zx, sizeof(zx), &ri, res->last_zxid);
		snprintf(errmsg, errlen, "corrupt txn log %s at offset %" PRId64 " (%s): %s; a valid "
			 "record follows at offset %" PRId64 ", so this is damage to synced data, not "
			 "a torn write", path, off, zx, ri.why, valid);
		ret = ZDATAINCONSISTENCY;
		goto out;
	}
	if (w.err)
		goto ioerr;
	res->state = TXNLOG_TORN;
	res->valid_after = valid;
	snprintf(res->why, sizeof(res->why), "%s%s", ri.why,
		 valid >= 0 ? " (a sector of it was never written)" : "");
	goto out;

ioerr:
	snprintf(errmsg, errlen, "read txn log %s: %s", path, strerror(-w.err));
	ret = ZSYSTEMERROR;
out:
	free(w.p);
	return ret;
}
