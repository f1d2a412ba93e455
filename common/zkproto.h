/*
 * zkproto: the ZooKeeper 3.8 client protocol — constants, records, and their jute codec.
 * See ../shared/spec/client-protocol.md for every field; numbers here are the wire values.
 *
 * Ownership: every pointer inside a decoded record is a separate malloc'd copy owned by the
 * record; *_release() frees them and zeroes the record. Encoders only borrow.
 * Strings decoded from the wire are NUL-terminated copies; their *_len fields keep the
 * real length (which is -1 for a null string/buffer, as sent by kazoo and the C client).
 *
 * Error convention for the whole project: functions return 0 or a negative enum zk_err
 * whose values are ZooKeeper's wire codes. errno values never mix into this space.
 */
#ifndef ZK_PROTO_H
#define ZK_PROTO_H

#include <stdint.h>
#include "buf.h"

enum zk_err {
	ZOK = 0,
	ZSYSTEMERROR = -1,
	ZRUNTIMEINCONSISTENCY = -2,
	ZDATAINCONSISTENCY = -3,
	ZCONNECTIONLOSS = -4,
	ZMARSHALLINGERROR = -5,
	ZUNIMPLEMENTED = -6,
	ZOPERATIONTIMEOUT = -7,
	ZBADARGUMENTS = -8,
	ZINVALIDSTATE = -9,
	ZUNKNOWNSESSION = -12,
	ZNEWCONFIGNOQUORUM = -13,
	ZRECONFIGINPROGRESS = -14,
	ZAPIERROR = -100,
	ZNONODE = -101,
	ZNOAUTH = -102,
	ZBADVERSION = -103,
	ZNOCHILDRENFOREPHEMERALS = -108,
	ZNODEEXISTS = -110,
	ZNOTEMPTY = -111,
	ZSESSIONEXPIRED = -112,
	ZINVALIDCALLBACK = -113,
	ZINVALIDACL = -114,
	ZAUTHFAILED = -115,
	ZCLOSING = -116,
	ZNOTHING = -117,
	ZSESSIONMOVED = -118,
	ZNOTREADONLY = -119,
	ZEPHEMERALONLOCALSESSION = -120,
	ZNOWATCHER = -121,
	ZREQUESTTIMEOUT = -122,
	ZRECONFIGDISABLED = -123,
	ZSESSIONCLOSEDREQUIRESASLAUTH = -124,
	ZQUOTAEXCEEDED = -125,
	ZTHROTTLEDOP = -127,
};

enum zk_op {
	ZOP_NOTIFICATION = 0,
	ZOP_CREATE = 1,
	ZOP_DELETE = 2,
	ZOP_EXISTS = 3,
	ZOP_GETDATA = 4,
	ZOP_SETDATA = 5,
	ZOP_GETACL = 6,
	ZOP_SETACL = 7,
	ZOP_GETCHILDREN = 8,
	ZOP_SYNC = 9,
	ZOP_PING = 11,
	ZOP_GETCHILDREN2 = 12,
	ZOP_CHECK = 13,
	ZOP_MULTI = 14,
	ZOP_CREATE2 = 15,
	ZOP_RECONFIG = 16,
	ZOP_CHECKWATCHES = 17,
	ZOP_REMOVEWATCHES = 18,
	ZOP_CREATECONTAINER = 19,
	ZOP_DELETECONTAINER = 20,
	ZOP_CREATETTL = 21,
	ZOP_MULTIREAD = 22,
	ZOP_AUTH = 100,
	ZOP_SETWATCHES = 101,
	ZOP_SASL = 102,
	ZOP_GETEPHEMERALS = 103,
	ZOP_GETALLCHILDRENNUMBER = 104,
	ZOP_SETWATCHES2 = 105,
	ZOP_ADDWATCH = 106,
	ZOP_WHOAMI = 107,
	ZOP_CREATESESSION = -10,
	ZOP_CLOSESESSION = -11,
	ZOP_ERROR = -1,
};

enum zk_xid {
	ZXID_NOTIFICATION = -1,
	ZXID_PING = -2,
	ZXID_AUTH = -4,
	ZXID_SETWATCHES = -8,
};

enum zk_event_type {
	ZEV_NONE = -1,
	ZEV_CREATED = 1,
	ZEV_DELETED = 2,
	ZEV_DATA_CHANGED = 3,
	ZEV_CHILDREN_CHANGED = 4,
};

enum zk_state {
	ZSTATE_DISCONNECTED = 0,
	ZSTATE_SYNC_CONNECTED = 3,
	ZSTATE_AUTH_FAILED = 4,
	ZSTATE_CONNECTED_READONLY = 5,
	ZSTATE_EXPIRED = -112,
	ZSTATE_CLOSED = 7,
};

enum zk_perm {
	ZPERM_READ = 1,
	ZPERM_WRITE = 2,
	ZPERM_CREATE = 4,
	ZPERM_DELETE = 8,
	ZPERM_ADMIN = 16,
	ZPERM_ALL = 31,
};

enum zk_create_mode {
	ZMODE_PERSISTENT = 0,
	ZMODE_EPHEMERAL = 1,
	ZMODE_PERSISTENT_SEQUENTIAL = 2,
	ZMODE_EPHEMERAL_SEQUENTIAL = 3,
	ZMODE_CONTAINER = 4,
	ZMODE_PERSISTENT_WITH_TTL = 5,
	ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* WatcherType in checkWatches/removeWatches; AddWatchMode in addWatch. */
enum { ZWT_CHILDREN = 1, ZWT_DATA = 2, ZWT_ANY = 3 };
enum { ZADDWATCH_PERSISTENT = 0, ZADDWATCH_PERSISTENT_RECURSIVE = 1 };

#define ZK_DEFAULT_MAXBUFFER 0xFFFFF
#define ZK_PASSWD_LEN 16
#define ZK_STAT_SIZE 68

const char *zk_strerror(int err);	/* "NONODE"-style names, for logs and tools */
const char *zk_opname(int op);		/* "create", "getData", ...; "unknown" otherwise */
int zk_op_is_write(int op);		/* goes through the txn path */
int zk_op_known(int op);		/* valid at top level in 3.8 */

struct zk_id {
	char *scheme;
	char *id;
};

struct zk_acl {
	int32_t perms;
	struct zk_id id;
};

struct zk_acl_list {
	int32_t n;		/* -1 for a null vector (treated as empty) */
	struct zk_acl *v;
	int packed;		/* 1: the strings live in v's allocation (one free) */
};

struct zk_strvec {
	int32_t n;		/* -1 for a null vector */
	char **v;
};

struct zk_stat {
	int64_t czxid;
	int64_t mzxid;
	int64_t ctime;
	int64_t mtime;
	int32_t version;
	int32_t cversion;
	int32_t aversion;
	int64_t ephemeral_owner;
	int32_t data_length;
	int32_t num_children;
	int64_t pzxid;
};

struct zk_connect_req {
	int32_t protocol_version;
	int64_t last_zxid;
	int32_t timeout;
	int64_t session_id;
	int32_t passwd_len;
	uint8_t passwd[ZK_PASSWD_LEN];	/* first min(passwd_len, 16) bytes */
	int has_readonly;		/* 0 for old clients (go-zookeeper) */
	int readonly;
};

struct zk_connect_resp {
	int32_t protocol_version;
	int32_t timeout;
	int64_t session_id;
	uint8_t passwd[ZK_PASSWD_LEN];
	int has_readonly;
	int readonly;
};

/*
 * One request of any opcode. Which fields are meaningful depends on type:
 *   create/create2/createContainer/createTTL: path, data, acl, flags, ttl (TTL only)
 *   delete: path, version          exists/getData/getChildren(2): path, watch
 *   setData: path, data, version   getACL: path   setACL: path, acl, version
 *   sync/getAllChildrenNumber/getEphemerals: path   check: path, version
 *   checkWatches/removeWatches: path, mode (= WatcherType)   addWatch: path, mode
 *   auth: auth_type, scheme, data (the auth bytes)
 *   setWatches(2): rel_zxid, watches[0..2] (data, exist, child), [3..4] (persistent,
 *                  persistent recursive; setWatches2 only)
 *   multi/multiRead: ops[0..nops)
 *   ping/closeSession/whoAmI: nothing
 */
struct zk_req {
	int32_t xid;
	int32_t type;
	char *path;
	int32_t path_len;
	uint8_t *data;
	int32_t data_len;	/* -1 = null */
	struct zk_acl_list acl;
	int32_t flags;
	int64_t ttl;
	int32_t version;
	int watch;
	int32_t mode;
	int32_t auth_type;
	char *scheme;
	int64_t rel_zxid;
	struct zk_strvec watches[5];
	int32_t nops;
	struct zk_req *ops;
};

/* One result inside a multi reply (type is the op's result type or -1 for an error). */
struct zk_resp;

struct zk_client_info {
	char *scheme;
	char *user;
};

/*
 * One reply of any opcode (type is the opcode it answers; needed to encode/decode the
 * body, which is only present when err == 0).
 *   create: path   create2/createContainer/createTTL: path, stat
 *   exists/setData/setACL: stat   getData: data, stat   getACL: acl, stat
 *   getChildren: children   getChildren2: children, stat   sync: path
 *   getEphemerals: children   getAllChildrenNumber: number   addWatch: (4-byte 0)
 *   whoAmI: who[0..nwho)   multi/multiRead: results[0..nresults)
 *   notification (xid -1): event_type, state, path
 */
struct zk_resp {
	int32_t xid;
	int64_t zxid;
	int32_t err;
	int32_t type;
	char *path;
	struct zk_stat stat;
	uint8_t *data;
	int32_t data_len;
	struct zk_acl_list acl;
	struct zk_strvec children;
	int32_t number;
	int32_t nwho;
	struct zk_client_info *who;
	int32_t nresults;
	struct zk_resp *results;
	int32_t event_type;
	int32_t state;
};

/* -- primitives shared by other record families (txns, snapshots) -- */
void zk_stat_put(struct buf *b, const struct zk_stat *s);
void zk_stat_get(struct rd *r, struct zk_stat *s);
void zk_acl_list_put(struct buf *b, const struct zk_acl_list *a);
void zk_acl_list_get(struct rd *r, struct zk_acl_list *a);
/* Turns a packed list into one whose strings can be replaced one by one. */
int zk_acl_list_unpack(struct zk_acl_list *a);
int zk_acl_list_copy(struct zk_acl_list *dst, const struct zk_acl_list *src);
int zk_acl_list_equal(const struct zk_acl_list *a, const struct zk_acl_list *b);
void zk_acl_list_release(struct zk_acl_list *a);
void zk_strvec_put(struct buf *b, const struct zk_strvec *v);
void zk_strvec_get(struct rd *r, struct zk_strvec *v);
void zk_strvec_release(struct zk_strvec *v);
/* Appends a copy of s; returns 0 or -1 on allocation failure. Only for vectors built by
 * push from an empty {0, NULL} (capacity grows in powers of two), never decoded ones. */
int zk_strvec_push(struct zk_strvec *v, const char *s);

/* -- connect handshake (no RequestHeader / ReplyHeader) -- */
int zk_connect_req_decode(struct zk_connect_req *c, const uint8_t *p, size_t len);
void zk_connect_req_encode(const struct zk_connect_req *c, struct buf *b);
int zk_connect_resp_decode(struct zk_connect_resp *c, const uint8_t *p, size_t len);
void zk_connect_resp_encode(const struct zk_connect_resp *c, struct buf *b);

/*
 * Requests. decode() parses a whole frame payload (RequestHeader included) and returns 0,
 * ZMARSHALLINGERROR for a body that does not parse (req->xid/type are still set when the
 * header parsed), or ZUNIMPLEMENTED for an unknown opcode. Trailing bytes are allowed, as
 * in Java. encode() appends the payload without the frame length.
 */
int zk_req_decode(struct zk_req *req, const uint8_t *p, size_t len, int32_t maxbuf);
void zk_req_encode(const struct zk_req *req, struct buf *b);
void zk_req_release(struct zk_req *req);

/* Replies: encode appends ReplyHeader (+ body when err == 0). decode needs resp->type set
 * by the caller (from its pending request) before the call. */
void zk_resp_encode(const struct zk_resp *resp, struct buf *b);
int zk_resp_decode(struct zk_resp *resp, const uint8_t *p, size_t len, int32_t maxbuf);
void zk_resp_release(struct zk_resp *resp);

/* Frames: a 4-byte big-endian length then the payload. */
size_t zk_frame_begin(struct buf *b);		/* reserves the length, returns its offset */
void zk_frame_end(struct buf *b, size_t off);	/* backpatches the length */

#endif
