/*
 * snapfile: a snapshot file (snapshot.<hex zxid>) in Apache ZooKeeper 3.8's format
 * (../shared/spec/server-formats.md §5.1), serialised to and parsed from memory.
 *
 *   FileHeader   "ZKSN" (0x5A4B534E) int, version 2 int, dbid -1 long
 *   sessions     int count, then (long id, int timeout) each
 *   tree body    tree_snap_write(): ACL cache, nodes in pre-order, "/" end marker
 *   long         Adler-32 of every byte above
 *   ustring      "/"
 *   long zxid, int 2, long digest      ZxidDigest (zxid 0, digest 0 when nothing applied)
 *   long         Adler-32 of every byte of the file before this field
 *   ustring      "/"
 *
 * Readers accept a file without the digest section (digest disabled, older servers).
 */
#ifndef ZK_SNAPFILE_H
#define ZK_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "datatree.h"
#include "storage.h"

#define SNAPFILE_MAGIC 0x5A4B534E

/* Appends the whole file. digest_zxid 0 writes the empty ZxidDigest (0, 2, 0). */
void snapfile_write(struct buf *b, const struct zk_tree *tree,
		    const struct storage_session *sessions, int32_t nsessions,
		    int64_t digest_zxid, int64_t digest);

/*
 * The same file in two steps, so that the checksums (a pass over the whole file) can be
 * computed off the event loop: snapfile_write_body() appends everything up to the first
 * checksum and reserves room for the rest; snapfile_seal() appends the checksums and the
 * digest section to a buffer holding exactly one body, without reallocating it.
 */
#define SNAPFILE_SEAL_LEN 64
void snapfile_write_body(struct buf *b, const struct zk_tree *tree,
			 const struct storage_session *sessions, int32_t nsessions);
void snapfile_seal(struct buf *b, int64_t digest_zxid, int64_t digest);

/* Maps in the pages of a large fresh buffer in one call (MADV_POPULATE_WRITE), best effort. */
void snapfile_prefault(void *p, size_t len);

/* Apache's quick check before parsing: at least 10 bytes, ending 00 00 00 01 2F. */
int snapfile_tail_ok(const uint8_t *p, size_t len);

struct snapfile {
	struct zk_tree *tree;
	struct storage_session *sessions;	/* malloc'd */
	int32_t nsessions;
	int has_digest;
	int64_t digest_zxid, digest;
};

/*
 * Parses a whole file, checksums included. Returns 0 with *out filled (release with
 * snapfile_release), or ZMARSHALLINGERROR with the reason in errmsg ("checksum mismatch",
 * "short read in the node list", ...).
 */
int snapfile_read(const uint8_t *p, size_t len, struct snapfile *out, char *errmsg,
		  size_t errlen);
void snapfile_release(struct snapfile *s);

#endif
