/*
 * prep: turns a client write request into a txn, as Apache's PrepRequestProcessor does.
 *
 * Contract:
 *  - Pure: the tree is only read; time and zxid come in as arguments.
 *  - Writes are pipelined: a request is validated against the tree *plus* every txn
 *    prepared but not yet applied (the "outstanding changes", Apache's ChangeRecord list),
 *    so two creates of the same path in flight give NODEEXISTS to the second, and
 *    sequential names and versions account for in-flight txns. prep_applied() drops the
 *    records of txns the tree has applied; prep_reset() drops all of them (new leader,
 *    failed log write).
 *  - Every write produces a txn and consumes the zxid given: a failing request becomes an
 *    error txn (ZOP_ERROR op with the code), a failing multi a multi txn with error ops
 *    (server-formats.md §4.1), exactly as Apache logs them.
 *  - Txns carry no TxnDigest (has_digest = 0): Apache reads entries without one, and
 *    computing the post-apply digest at prep time would mean simulating the apply.
 *  - Validation order and error codes follow client-protocol.md §7.2-§7.7 and §8.3.
 *
 * Ownership: req, ids borrowed; *out is initialised and owned by the caller afterwards.
 */
#ifndef ZK_PREP_H
#define ZK_PREP_H

#include <stdint.h>
#include "zkproto.h"
#include "txn.h"
#include "datatree.h"
#include "acl.h"

struct prep_opts {
	int extended_types;	/* zookeeper.extendedTypesEnabled: TTL nodes */
	int skip_acl;		/* zookeeper.skipACL=yes */
};

struct zk_prep;

struct zk_prep *prep_new(const struct zk_tree *tree, const struct prep_opts *opts);
void prep_free(struct zk_prep *p);

/*
 * A client write (create*, delete, setData, setACL, multi, reconfig) from session_id.
 * Fills out with hdr {session_id, req->xid, zxid, now_ms, type} and the body. Returns 0
 * (out holds a txn, possibly an error txn) or ZSYSTEMERROR on allocation failure.
 */
int prep_request(struct zk_prep *p, const struct zk_req *req, int64_t session_id,
		 const struct zk_ids *ids, int64_t zxid, int64_t now_ms, struct zk_txn *out);

/* createSession (cxid 0) and closeSession (paths = the session's ephemerals, in flight
 * creates included, in-flight deletes excluded). */
int prep_create_session(struct zk_prep *p, int64_t session_id, int32_t timeout,
			int64_t zxid, int64_t now_ms, struct zk_txn *out);
int prep_close_session(struct zk_prep *p, int64_t session_id, int32_t cxid, int64_t zxid,
		       int64_t now_ms, struct zk_txn *out);
/* Server-generated delete of a container or expired TTL node (deleteContainer txn). */
int prep_reap(struct zk_prep *p, const char *path, int64_t zxid, int64_t now_ms,
	      struct zk_txn *out);

/* The tree has applied every txn up to zxid. */
void prep_applied(struct zk_prep *p, int64_t zxid);
void prep_reset(struct zk_prep *p);

#endif
