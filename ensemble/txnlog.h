/*
 * txnlog: one transaction log file (log.<hex zxid>) in Apache ZooKeeper 3.8's format
 * (../shared/spec/server-formats.md §3): encoding entries, Apache's preallocation rule,
 * and a scanner that tells a torn tail from corruption.
 *
 * File format:
 *   FileHeader  magic "ZKLG" (0x5A4B4C47) int, version 2 int, dbid 0 long   (16 bytes)
 *   Entry*      checksum long (Adler-32 of the payload, upper 32 bits 0),
 *               length int, payload (txn_encode()), EOR byte 0x42
 *   zeros       up to the preallocated size
 *
 * How the writer keeps torn tails recognisable (storage.c):
 *  - Records are only ever written into space that reads as zeros: preallocated space
 *    (extended by writing one zero byte at the new end, as Apache does), or space cut
 *    back by ftruncate after a failed write or a repaired tail. A log file is never
 *    appended to after a restart: the first append opens log.<its zxid>.
 *  - One batch is in flight at a time and is fsynced before the next is written, so at
 *    most the last batch of the last file can be partly on disk after a crash.
 *  - On a crash the file system may write any subset of that batch's 512-byte sectors
 *    (page writeback has no order), or a prefix of it with the last sector torn.
 *    A sector that was not written reads as zeros.
 *
 * How the scanner classifies the first record that does not check out (at offset off):
 *  - end of log: fewer than 12 bytes left, or length 0 (preallocated zeros). Clean when
 *    every byte after it is zero, otherwise a torn tail.
 *  - torn tail: the record runs past the end of the file; or some sector-sized piece of
 *    it (the record split at 512-byte boundaries, ignoring the checksum's upper 4 bytes,
 *    which are always zero) is all zeros — a sector the crash never wrote; or no valid
 *    record starts anywhere after it in the file.
 *  - corruption: anything else — a bad checksum, a missing EOR or an undecodable payload
 *    with every sector present and a valid record somewhere after it. Data that was
 *    fsynced has been damaged; recovery must stop and name the file and offset.
 * The file header gets the same treatment: 16 zero bytes (or a short file) is a file
 * created just before a crash, torn; a wrong non-zero header before valid records is
 * corruption.
 * A torn tail is cut off by the caller (truncate at `end`, which also zeroes whatever
 * follows for later appends); valid records after a torn record were part of the same
 * unsynced batch and are dropped with it (the warning says where they were).
 */
#ifndef ZK_TXNLOG_H
#define ZK_TXNLOG_H

#include <stdint.h>
#include "buf.h"
#include "txn.h"
#include "vfs.h"

#define TXNLOG_MAGIC 0x5A4B4C47
#define TXNLOG_VERSION 2
#define TXNLOG_HDR_LEN 16
#define TXNLOG_EOR 0x42
/* checksum (8) + length (4) before the payload, EOR (1) after it */
#define TXNLOG_REC_OVERHEAD 13

/*
 * zlib's adler32(a, p, len) (a = 1 to start), SIMD where the CPU has it: the checksum of
 * log records and snapshots, computed over every byte written and read at each start.
 */
uint32_t txnlog_adler32(uint32_t a, const uint8_t *p, size_t len);

/* Appends the 16-byte FileHeader. */
void txnlog_put_header(struct buf *b);
/* Appends one entry for txn: checksum, length, payload, EOR. */
void txnlog_put_entry(struct buf *b, const struct zk_txn *txn);

/*
 * Apache's FilePadding.calculateFileSizeWithPadding: the file size needed before writing
 * at position, given the current (preallocated) size. Grows by prealloc when position is
 * within 4 KiB of the end; 0 or negative prealloc disables preallocation.
 */
int64_t txnlog_padded_size(int64_t position, int64_t file_size, int64_t prealloc);

enum txnlog_end {
	TXNLOG_CLEAN,		/* the log ends at `end`, only zeros (or nothing) after it */
	TXNLOG_TORN,		/* torn tail at `end`: truncate there */
};

struct txnlog_scan {
	enum txnlog_end state;
	int64_t end;		/* offset just past the last good record (0: bad header) */
	int64_t size;		/* file size */
	int64_t nrecords;	/* good records */
	int64_t first_zxid, last_zxid;	/* -1 when there are none */
	int64_t valid_after;	/* TORN: offset of a valid record after the tear, or -1 */
	char why[160];		/* TORN: what was found at `end` */
};

/*
 * Called for each good record in order with the decoded txn (borrowed: it is released
 * after the call) and its offset. A non-zero return stops the scan and is returned.
 */
typedef int (*txnlog_rec_fn)(void *ctx, const struct zk_txn *txn, int64_t off);

/*
 * Reads the log file f (named path, for messages) from the start. Returns 0 with *res
 * filled, ZDATAINCONSISTENCY for corruption ("corrupt txn log <path> at offset <n> (zxid
 * 0x..): checksum mismatch; ..."), ZSYSTEMERROR for an I/O error, or fn's return value;
 * errmsg says which.
 */
int txnlog_scan(struct vfs_file *f, const char *path, txnlog_rec_fn fn, void *ctx,
		struct txnlog_scan *res, char *errmsg, size_t errlen);

/*
 * txnlog_scan, except that records whose zxid is <= after are verified exactly as the
 * others (length, end-of-record marker, checksum, a whole TxnHeader) and counted, but not
 * decoded nor passed to fn: recovery reads the records below the snapshot's zxid only to
 * check them, as Apache's FileTxnIterator does while it fast-forwards.
 * sealed: the file cannot end in a torn batch because a later log file exists (each batch
 * is synced before the next is written, and a new file starts only with a later batch).
 * Its log then ends at the first all-zero record header, as Apache reads it, without the
 * check that every byte after it is zero (a read of the whole preallocated tail).
 */
int txnlog_scan_after(struct vfs_file *f, const char *path, int64_t after, int sealed,
		      txnlog_rec_fn fn, void *ctx, struct txnlog_scan *res, char *errmsg,
		      size_t errlen);

#endif
