/*
 * server internals shared by server.c and fourlw.c (the four-letter words read the same
 * connections and statistics). Nothing else includes this file.
 *
 * Ownership:
 *  - A conn is freed only in its uv_close callback. Before that, every pending txn that
 *    points at it is detached (pending.conn = NULL) and its watcher is removed.
 *  - Entries belong to their conn's queue; a pending txn borrows its entry and is the only
 *    one that may complete it while it is in E_WAIT.
 */
#ifndef ZK_SERVER_I_H
#define ZK_SERVER_I_H

#include <stdint.h>
#include <uv.h>

#include "acl.h"
#include "buf.h"
#include "config.h"
#include "datatree.h"
#include "prep.h"
#include "server.h"
#include "sessions.h"
#include "storage.h"
#include "watches.h"
#include "zkproto.h"

#define ZK_VERSION_STRING "3.8.0-zkensemble, built on 2026-11-23 00:00 UTC"

enum entry_state { E_NEW, E_WAIT, E_DONE };

/* One request in a connection's FIFO; its reply waits here until every earlier one left. */
struct entry {
	struct entry *next;
	struct zk_req req;
	int decode_err;		/* ZMARSHALLINGERROR / ZUNIMPLEMENTED from the decoder */
	int is_connect;
	struct zk_connect_req connect;
	int state;
	struct buf out;		/* the encoded reply frame */
	int close_after;	/* close the connection once this reply is sent */
	int64_t recv_ms;
};

enum conn_state { CONN_NEW, CONN_READY, CONN_CLOSING };

struct conn {
	uv_tcp_t tcp;
	struct zk_server *srv;
	struct conn *prev, *next;
	struct conn *dirty_next;
	int dirty;
	struct zk_watcher watcher;
	struct zk_ids ids;
	char ip[64];
	char addr[96];		/* "/127.0.0.1:36802", as Java prints it */
	int state;
	int got_connect;	/* a ConnectRequest was received (4lw no longer recognised) */
	int old_client;		/* ConnectRequest without readOnly: reply without it */
	int64_t session_id;
	int32_t timeout;
	int reading;
	int parsing;		/* inside conn_process_input (no re-entry from a pump) */
	struct buf in;
	struct entry *head, *tail;
	int32_t nqueued;
	struct buf obuf;	/* frames waiting for the next write */
	struct buf wbuf;	/* frames being written */
	int writing;		/* wbuf is being written */
	uv_write_t wreq;
	int close_when_flushed;
	/* statistics for stat/cons */
	int64_t created_ms;	/* monotonic */
	int64_t est_wall_ms;
	int64_t recved, sent;
	int32_t last_op;
	int32_t last_cxid;
	int64_t last_zxid;
	int64_t last_resp_ms;
	int64_t last_lat, min_lat, max_lat, sum_lat, cnt_lat;
};

/* A txn between prep and apply. */
struct pending {
	struct pending *next;
	struct zk_txn txn;
	struct conn *conn;	/* NULL for server-made txns or when the conn closed */
	struct entry *entry;
	int32_t req_type;
};

struct zk_server {
	uv_loop_t *loop;
	const struct zk_config *cfg;
	struct zk_tree *tree;
	struct zk_prep *prep;
	struct zk_watches *watches;
	struct zk_sessions *sessions;
	struct zk_storage *storage;
	uv_tcp_t listener;
	int listening;
	uv_timer_t tick;
	uv_check_t flush;
	uv_idle_t wake;		/* active while output waits: keeps poll from blocking */
	uv_timer_t purge_timer;		/* autopurge.purgeInterval */
	uv_work_t purge_work;
	int purging;
	int handles_open;
	void (*stop_done)(void *ctx);
	void *stop_ctx;
	int stopping;

	int64_t zxid;			/* last zxid handed out */
	struct pending *pend_head, *pend_tail;
	int64_t npending;
	struct conn *conns;
	int64_t nconns;
	struct conn *dirty;
	int64_t last_reap_ms;

	/* statistics */
	int64_t start_ms;
	int64_t packets_received, packets_sent;
	int64_t min_lat, max_lat, sum_lat, cnt_lat;
	int64_t auth_failed;
	int64_t last_resp_size, min_resp_size, max_resp_size;
	int64_t wall_offset_ms;		/* wall clock - monotonic clock */
	/* the hash 4lw: tree digests at zxids divisible by 128, the last 1024, as a ring */
	int64_t digest_zxid[1024], digest_val[1024];
	int32_t digest_n, digest_head;
};

/* fourlw.c */
/* server.c, shared with server_write.c. */
int64_t wall_ms(void);
int64_t now_ms(struct zk_server *s);
void put_reply(struct buf *b, const struct zk_resp *r);
void put_header_reply(struct buf *b, int32_t xid, int64_t zxid, int32_t err);
void close_session_conns(struct zk_server *s, int64_t sid, struct conn *keep);
void put_connect_resp(struct conn *c, struct buf *b, int32_t timeout, int64_t sid);
void tree_event_cb(void *ctx, int type, const char *path, const struct zk_acl_list *acl);
/* Runs what can run of a connection's queued requests, in order. */
void conn_pump(struct conn *c);
void conn_close(struct conn *c);

/* server_write.c: txns from requests and session events, the log, apply, reply. */
struct pending *pending_new(struct conn *c, struct entry *e, int32_t type);
void pending_free(struct pending *p);
int submit_txn(struct zk_server *s, struct pending *p);
void submit_write(struct conn *c, struct entry *e);
void submit_close_session(struct zk_server *s, int64_t sid);
/* storage's on_durable: applies and answers everything up to durable_zxid. */
void durable_cb(void *ctx, int64_t durable_zxid, int status);
void take_snapshot(struct zk_server *s);

int fourlw_is_word(const uint8_t *p4);
void fourlw_run(struct zk_server *s, struct conn *c, const char *word, const uint8_t *extra,
		size_t extra_len, struct buf *out);
void server_reset_stats(struct zk_server *s);
void conn_reset_stats(struct conn *c);
const char *server_lop_name(int32_t op);

#endif
