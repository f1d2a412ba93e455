/*
 * datatree: the znode tree and the pure function that applies a txn to it.
 *
 * Contract:
 *  - Pure: no I/O, no clock, no libuv. Time enters only through txn headers.
 *  - tree_apply() is deterministic: the same tree and txn give the same tree, reply and
 *    events on every server. It is idempotent for replay over a fuzzy snapshot
 *    (server-formats.md §6): create of an existing node, delete of a missing node,
 *    setData/setACL of a missing node are ignored (create still raises the parent's
 *    child-creation counter and pzxid to the txn's values).
 *  - A multi whose ops contain an error op changes nothing (server-formats.md §4.1).
 *  - Stat semantics are Apache's exactly (client-protocol.md §10): the node stores the
 *    child-creation counter C; clients see cversion = 2*C - numChildren.
 *  - The tree keeps the per-session ephemeral index, the container and TTL sets, and the
 *    3.8 tree digest (server-formats.md §7) up to date on every change.
 *  - A fresh tree holds "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config" as a
 *    fresh Apache server does (client-protocol.md §10 table).
 *
 * Ownership: nodes belong to the tree; pointers returned by lookups stay valid until the
 * next tree_apply()/tree_free(). Paths passed in are borrowed.
 */
#ifndef ZK_DATATREE_H
#define ZK_DATATREE_H

#include <stdint.h>
#include "zkproto.h"
#include "txn.h"

struct zk_tree;
struct zk_node;

struct zk_tree *tree_new(void);
void tree_free(struct zk_tree *t);

/* Exact-path lookup ("/" and "" are the root). NULL when missing. */
const struct zk_node *tree_lookup(const struct zk_tree *t, const char *path);

/* Client-visible Stat (cversion computed, ephemeralOwner 0 for container/TTL nodes). */
void node_stat(const struct zk_node *n, struct zk_stat *out);
/* Data and its length; *len = -1 and NULL for null data. */
const uint8_t *node_data(const struct zk_node *n, int32_t *len);
const struct zk_acl_list *node_acl(const struct zk_node *n);
int32_t node_num_children(const struct zk_node *n);
/* Raw ephemeralOwner as stored (container marker / TTL encoding included). */
int64_t node_ephemeral_owner(const struct zk_node *n);
/* Internal child-creation counter C (next sequential suffix). */
int32_t node_child_counter(const struct zk_node *n);
/* Appends the children's names (unsorted) to out, which must start as {0, NULL}. */
int node_children(const struct zk_node *n, struct zk_strvec *out);
/* Number of descendants (node excluded), as getAllChildrenNumber. */
int32_t node_descendants(const struct zk_tree *t, const struct zk_node *n);

int64_t tree_last_zxid(const struct zk_tree *t);
void tree_set_last_zxid(struct zk_tree *t, int64_t zxid);
/* Internal node-map size as Apache reports it: number of znodes + 1. */
int64_t tree_node_count(const struct zk_tree *t);
/* Approximate bytes of node data, for mntr's approximate_data_size. */
int64_t tree_data_size(const struct zk_tree *t);
int64_t tree_digest(const struct zk_tree *t);

/* Ephemeral paths owned by a session (full paths), appended to out (start {0, NULL}). */
int tree_session_ephemerals(const struct zk_tree *t, int64_t session_id,
			    struct zk_strvec *out);
/* Calls fn for every session that owns ephemerals, with its paths (for the dump 4lw). */
void tree_foreach_ephemeral_session(const struct zk_tree *t,
				    void (*fn)(void *ctx, int64_t sid, const struct zk_strvec *paths),
				    void *ctx);
/*
 * Container and TTL reaping (leader only): appends the paths that should be deleted now:
 * containers with cversion > 0 and no children, TTL nodes with no children whose
 * now - mtime > ttl. The caller turns each into a deleteContainer/delete txn.
 */
int tree_reapable(const struct zk_tree *t, int64_t now_ms, struct zk_strvec *out);

/*
 * Event sink for watches: called once per event, in Apache's order, while applying.
 * type is ZEV_CREATED / ZEV_DELETED / ZEV_DATA_CHANGED / ZEV_CHILDREN_CHANGED; acl is the
 * ACL of the node the event names (for NodeDeleted, the deleted node's, still valid during
 * the call), which decides who may hear it (READ, as Apache since CVE-2024-23944).
 */
typedef void (*tree_event_fn)(void *ctx, int type, const char *path,
			      const struct zk_acl_list *acl);

/*
 * Applies txn and fills reply (may be NULL during replay) with err and the op's result
 * body: create -> path (+stat for create2/container/TTL), setData/setACL -> stat,
 * multi -> results[] with per-op types and errors, error txn -> err. reply->type is set
 * to the txn's type (the server may override it with the request's opcode).
 * createSession/closeSession: closeSession deletes the listed paths, then every ephemeral
 * hdr.client_id still owns (Apache's killSession; a null or absent list deletes them all).
 * Multi results: create -> type 1 + path; create2/container/TTL -> type 15 + path + stat;
 * delete -> 2; setData -> 5 + stat; check -> 13; error -> -1 + err; reply->err is 0.
 * A delete of a node that has children (prep never logs one) is refused with ZNOTEMPTY.
 * reply must start zeroed; xid and zxid are left to the caller.
 * Updates last_zxid to hdr.zxid (never backwards, as Apache's lastProcessedZxid).
 * Returns 0, or ZSYSTEMERROR on allocation failure: every structure is still consistent
 * but a multi or closeSession may be half applied, so the caller must stop (Apache exits).
 */
int tree_apply(struct zk_tree *t, const struct zk_txn *txn, struct zk_resp *reply,
	       tree_event_fn ev, void *ev_ctx);

/*
 * Sets /zookeeper/config as a quorum peer does at start (ZKDatabase.initConfigInZKDatabase):
 * data = the membership text, dataVersion -1, mzxid = the config version, mtime = time_ms.
 * Not a txn: no events, last_zxid unchanged. Returns 0, ZNONODE or ZSYSTEMERROR.
 */
int tree_set_config(struct zk_tree *t, const uint8_t *data, int32_t len, int64_t version,
		    int64_t time_ms);

/*
 * Snapshot body (server-formats.md §5.1) after the sessions section: ACL cache, nodes in
 * pre-order with the root as "", the "/" end marker. No checksums, no header: the
 * storage layer frames it. tree_snap_read() fills an empty tree (from tree_new_empty())
 * and returns 0, ZMARSHALLINGERROR (or ZSYSTEMERROR when memory runs out) with a reason
 * in errmsg; after a failure the tree is consistent but partial: free it.
 * Lengths are checked against r->max (jute.maxbuffer) when it is set.
 */
void tree_snap_write(const struct zk_tree *t, struct buf *b);
/* The bytes tree_snap_write() appends (exact for this tree). */
size_t tree_snap_size(const struct zk_tree *t);
struct zk_tree *tree_new_empty(void);
int tree_snap_read(struct zk_tree *t, struct rd *r, char *errmsg, size_t errlen);

#endif
