/*
 * txn: one transaction, as logged, replicated and applied, in Apache ZooKeeper 3.8's
 * record layout (../shared/spec/server-formats.md §3-§4).
 *
 * A txn is a TxnHeader plus a body that depends on hdr.type. Multi txns hold their sub-txns
 * in ops[]; every other type with a body holds exactly one op in ops[0] (nops == 1), so
 * apply code walks ops[] the same way for both. createSession and closeSession carry their
 * record in the txn itself (timeout, close_paths) and have nops == 0.
 *
 * The payload (what goes in a log entry, between length and EOR) is
 *   TxnHeader | record | [TxnDigest]
 * txn_encode() writes exactly that; txn_decode() reads it and accepts entries with and
 * without a digest, and closeSession with or without its paths record.
 *
 * Ownership: a txn owns every pointer in it; txn_release() frees them. Decoders and
 * prep produce owned txns.
 */
#ifndef ZK_TXN_H
#define ZK_TXN_H

#include <stdint.h>
#include "zkproto.h"

struct zk_txn_hdr {
	int64_t client_id;
	int32_t cxid;
	int64_t zxid;
	int64_t time;
	int32_t type;
};

/*
 * One change. type is the opcode (ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER,
 * ZOP_CREATETTL, ZOP_DELETE, ZOP_DELETECONTAINER, ZOP_SETDATA, ZOP_SETACL, ZOP_CHECK,
 * ZOP_RECONFIG) or ZOP_ERROR.
 *   create*:  path, data/data_len, acl, ephemeral (create/create2 only),
 *             parent_cversion (the parent's child-creation counter after this create),
 *             ttl (createTTL only)
 *   delete*:  path
 *   setData/reconfig: path, data, version (the new data version)
 *   setACL:   path, acl, version (the new aversion)
 *   check:    path, version
 *   error:    err
 */
struct zk_txn_op {
	int32_t type;
	char *path;
	uint8_t *data;
	int32_t data_len;	/* -1 = null data */
	struct zk_acl_list acl;
	int ephemeral;
	int32_t parent_cversion;
	int64_t ttl;
	int32_t version;
	int32_t err;
};

struct zk_txn {
	struct zk_txn_hdr hdr;
	int32_t timeout;		/* createSession */
	struct zk_strvec close_paths;	/* closeSession: ephemerals to delete (may be null) */
	int32_t nops;
	struct zk_txn_op *ops;
	int has_digest;
	int64_t digest;			/* TxnDigest.treeDigest, version 2 */
};

/* Appends the log payload (TxnHeader, record, digest if has_digest). */
void txn_encode(const struct zk_txn *t, struct buf *b);
/* Parses a payload; returns 0 or ZMARSHALLINGERROR (the txn is then released). */
int txn_decode(struct zk_txn *t, const uint8_t *p, size_t len);
void txn_release(struct zk_txn *t);
/* Adds one zeroed op and returns it (NULL on allocation failure). */
struct zk_txn_op *txn_add_op(struct zk_txn *t);

#endif
