/*
 * zkclient: an asynchronous ZooKeeper client on a libuv loop.
 *
 * What it does (client-protocol.md §1-§4, §9, §15, §16):
 *  - connects to one server of a list "host:port,host:port[/chroot]", performs the session
 *    handshake, and keeps the session across connection losses: it rotates through the
 *    servers, re-attaches with (sessionId, passwd, lastZxidSeen), re-sends every auth, then
 *    re-arms watches with setWatches (setWatches2 when persistent watches exist);
 *  - pings when nothing was sent for T/3 and drops a connection silent for 2T/3;
 *  - matches replies to requests by xid in FIFO order; every request gets exactly one
 *    callback: the reply, or ZOPERATIONTIMEOUT (request timeout), ZCONNECTIONLOSS (a write
 *    in flight when the connection broke: it may or may not have been applied),
 *    ZSESSIONEXPIRED, or ZCLOSING. Reads in flight when a connection breaks are re-sent on
 *    the next connection (they are idempotent), so they only fail by timeout;
 *  - reports watch events (paths with the chroot stripped) and session state changes;
 *  - after an expiry it reports ZSTATE_EXPIRED, forgets its watches and immediately starts a
 *    new session (the owner re-creates its ephemerals and watches when it sees
 *    ZSTATE_SYNC_CONNECTED with new_session set).
 *
 * Callback rules (libuv's, STYLE.md practice 6): a call that returns an error never calls its
 * callback; a callback never runs inside the call that registered it. Reply callbacks get
 * the decoded reply borrowed for the duration of the call (NULL when no reply arrived).
 *
 * Ownership: requests passed to zkc_submit() are borrowed (encoded at once). The struct zkc
 * is owned by the caller from zkc_new() until the close callback of zkc_close() has run;
 * it is freed right after that callback returns.
 *
 * Threads: everything runs on the loop thread; nothing here is thread safe.
 */
#ifndef ZK_CLIENT_H
#define ZK_CLIENT_H

#include <stdint.h>
#include <uv.h>

#include "zkproto.h"

struct zkc;

/* rc is 0 or a negative zk_err; resp is the reply (resp->err == rc) or NULL. For multi, rc
 * is the outer err (0); zkc_multi_err() finds the first failing op. */
typedef void (*zkc_reply_cb)(struct zkc *c, int rc, const struct zk_resp *resp, void *arg);
/* A watch notification; path is relative to the chroot. */
typedef void (*zkc_watch_cb)(struct zkc *c, int type, const char *path, void *arg);
/*
 * Session state: ZSTATE_SYNC_CONNECTED (new_session tells a fresh session from a
 * re-attached one), ZSTATE_DISCONNECTED, ZSTATE_EXPIRED, ZSTATE_AUTH_FAILED, ZSTATE_CLOSED.
 */
typedef void (*zkc_state_cb)(struct zkc *c, int state, int new_session, void *arg);
typedef void (*zkc_close_cb)(struct zkc *c, void *arg);

struct zkc_opts {
	const char *servers;		/* "h:p,h:p[/chroot]"; a missing port means 2181 */
	int session_timeout_ms;		/* requested; default 30000 */
	int request_timeout_ms;		/* per request; 0 = wait as long as the session lives */
	int32_t max_frame;		/* largest reply accepted; default 4 MiB */
	zkc_watch_cb watch_cb;
	zkc_state_cb state_cb;
	void *arg;			/* passed to watch_cb and state_cb */
};

/* Parses the server list and starts connecting. Errors: ZBADARGUMENTS (bad list, with a
 * message logged), ZSYSTEMERROR (allocation). */
int zkc_new(uv_loop_t *loop, const struct zkc_opts *opts, struct zkc **out);
/* Ends the session (closeSession when connected), fails pending requests with ZCLOSING,
 * closes every handle, calls cb (may be NULL), then frees c. */
void zkc_close(struct zkc *c, zkc_close_cb cb, void *arg);

int zkc_state(const struct zkc *c);		/* ZSTATE_* */
int64_t zkc_session_id(const struct zkc *c);
int zkc_negotiated_timeout(const struct zkc *c);	/* ms; 0 before the first session */
int64_t zkc_last_zxid(const struct zkc *c);
const char *zkc_chroot(const struct zkc *c);	/* "" when none */
void zkc_set_request_timeout(struct zkc *c, int ms);

/*
 * Sends any request (xid is assigned here; paths are relative to the chroot). Watches asked
 * for by exists/getData/getChildren(2) and addWatch are remembered for re-arming when the
 * call succeeds. Returns 0 (cb will be called exactly once) or ZBADARGUMENTS/ZCLOSING/
 * ZSYSTEMERROR (cb never called).
 */
int zkc_submit(struct zkc *c, const struct zk_req *req, zkc_reply_cb cb, void *arg);

/* Convenience wrappers around zkc_submit. data_len -1 sends null data. acl NULL means
 * world:anyone:cdrwa (OPEN_ACL_UNSAFE). */
int zkc_exists(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg);
int zkc_get_data(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg);
int zkc_get_children2(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg);
int zkc_create(struct zkc *c, const char *path, const void *data, int32_t data_len,
	       const struct zk_acl_list *acl, int flags, zkc_reply_cb cb, void *arg);
int zkc_delete(struct zkc *c, const char *path, int32_t version, zkc_reply_cb cb, void *arg);
int zkc_set_data(struct zkc *c, const char *path, const void *data, int32_t data_len,
		 int32_t version, zkc_reply_cb cb, void *arg);
int zkc_get_acl(struct zkc *c, const char *path, zkc_reply_cb cb, void *arg);
int zkc_set_acl(struct zkc *c, const char *path, const struct zk_acl_list *acl,
		int32_t version, zkc_reply_cb cb, void *arg);
int zkc_sync(struct zkc *c, const char *path, zkc_reply_cb cb, void *arg);
/* mode: ZADDWATCH_PERSISTENT or ZADDWATCH_PERSISTENT_RECURSIVE. */
int zkc_add_watch(struct zkc *c, const char *path, int mode, zkc_reply_cb cb, void *arg);
/*
 * Adds an identity (e.g. "digest", "user:password"); it is sent now when connected and again
 * after every re-connect. cb (may be NULL) gets the first reply; a failed auth makes the
 * server close the connection, reported as ZSTATE_AUTH_FAILED, and the auth is forgotten.
 */
int zkc_add_auth(struct zkc *c, const char *scheme, const void *data, int32_t len,
		 zkc_reply_cb cb, void *arg);

/* The first non-zero op error of a multi reply, or 0. */
int zkc_multi_err(const struct zk_resp *resp);

/*
 * Synchronous layer, for start-up code and tools only: runs the loop (UV_RUN_ONCE) until
 * the condition holds. Never call it from inside a loop callback.
 *   zkc_wait_connected: 0 once a session is established, ZOPERATIONTIMEOUT after
 *   timeout_ms, ZAUTHFAILED / ZCLOSING when those happen first.
 *   zkc_call: submits req and waits; *resp (caller releases it) gets the reply when the
 *   return value is the reply's err; it is zeroed otherwise.
 */
int zkc_wait_connected(struct zkc *c, int timeout_ms);
int zkc_call(struct zkc *c, const struct zk_req *req, struct zk_resp *resp);

#endif
