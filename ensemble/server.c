#include "server_i.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* A connection stops being read while this many of its requests are unanswered. */
#define CONN_MAX_QUEUED 1000
/* Output kept before we stop reading from a slow client. */
#define CONN_MAX_OUTPUT (4 << 20)
#define SESSIONLESS_TIMEOUT_MS 10000

static void conn_mark_dirty(struct conn *c);
static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *ub);
static void conn_resume(struct conn *c);

int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t now_ms(struct zk_server *s)
{
	return (int64_t)uv_now(s->loop);
}

/* ---- output ------------------------------------------------------------------------ */

/* Appends one reply frame (ReplyHeader + body) to a buffer. */
void put_reply(struct buf *b, const struct zk_resp *r)
{
	size_t off = zk_frame_begin(b);

	zk_resp_encode(r, b);
	zk_frame_end(b, off);
}

void put_header_reply(struct buf *b, int32_t xid, int64_t zxid, int32_t err)
{
	struct zk_resp r;

	memset(&r, 0, sizeof(r));
	r.xid = xid;
	r.zxid = zxid;
	r.err = err;
	r.type = -999;	/* no body */
	put_reply(b, &r);
}

static void wake_cb(uv_idle_t *h)
{
	(void)h;
}

/*
 * Output is written once per loop iteration, from the check handle. Output made outside
 * the poll phase (a write completing in the pending phase, a timer) would otherwise wait
 * for the next I/O event: the idle handle keeps that poll from blocking.
 */
static void conn_mark_dirty(struct conn *c)
{
	if (c->dirty || c->state == CONN_CLOSING)
		return;
	c->dirty = 1;
	c->dirty_next = c->srv->dirty;
	if (!c->srv->dirty && c->srv->listening && !c->srv->stopping)
		uv_idle_start(&c->srv->wake, wake_cb);
	c->srv->dirty = c;
}

static void write_cb(uv_write_t *req, int status)
{
	struct conn *c = container_of(req, struct conn, wreq);

	c->writing = 0;
	buf_reset(&c->wbuf);
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->obuf.len || c->close_when_flushed)
		conn_mark_dirty(c);
	conn_resume(c);
}

/* Moves the pending frames to wbuf for a write in flight; obuf collects the next ones. */
static void take_output(struct conn *c)
{
	struct buf t = c->wbuf;

	c->wbuf = c->obuf;
	c->obuf = t;
	buf_reset(&c->obuf);
}

static void conn_flush(struct conn *c)
{
	uv_buf_t ub;
	int n;

	if (c->state == CONN_CLOSING || c->writing)
		return;
	if (!c->obuf.len) {
		if (c->close_when_flushed)
			conn_close(c);
		return;
	}
	/*
	 * Write in place first: a uv_write that completes at once still costs an epoll_ctl
	 * (libuv re-arms the watcher when its write queue empties), one per reply.
	 */
	ub = uv_buf_init((char *)c->obuf.p, (unsigned)c->obuf.len);
	n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
	if (n < 0 && n != UV_EAGAIN) {
		conn_close(c);
		return;
	}
	if (n == (int)c->obuf.len) {
		buf_reset(&c->obuf);
		if (c->close_when_flushed)
			conn_close(c);
		else
			conn_resume(c);
		return;
	}
	/* The socket is full: queue the rest; new frames accumulate in obuf meanwhile. */
	take_output(c);
	ub = uv_buf_init((char *)c->wbuf.p + (n > 0 ? n : 0),
			 (unsigned)(c->wbuf.len - (n > 0 ? (size_t)n : 0)));
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, write_cb) < 0) {
		conn_close(c);
		return;
	}
	c->writing = 1;
}

static void flush_cb(uv_check_t *h)
{
	struct zk_server *s = container_of(h, struct zk_server, flush);

	while (s->dirty) {
		struct conn *c = s->dirty;

		s->dirty = c->dirty_next;
		c->dirty = 0;
		conn_flush(c);
	}
	uv_idle_stop(&s->wake);
}

/* ---- queue -------------------------------------------------------------------------- */

static struct entry *entry_new(struct conn *c)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->recv_ms = now_ms(c->srv);
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	c->nqueued++;
	c->srv->npending++;
	return e;
}

static void entry_free(struct entry *e)
{
	zk_req_release(&e->req);
	buf_release(&e->out);
	free(e);
}

static void record_latency(struct conn *c, struct entry *e)
{
	struct zk_server *s = c->srv;
	int64_t now = now_ms(s), lat = now - e->recv_ms;

	if (lat < 0)
		lat = 0;
	c->last_lat = lat;
	c->last_resp_ms = now;
	if (c->cnt_lat == 0 || lat < c->min_lat)
		c->min_lat = lat;
	if (lat > c->max_lat)
		c->max_lat = lat;
	c->sum_lat += lat;
	c->cnt_lat++;
	if (s->cnt_lat == 0 || lat < s->min_lat)
		s->min_lat = lat;
	if (lat > s->max_lat)
		s->max_lat = lat;
	s->sum_lat += lat;
	s->cnt_lat++;
	s->last_resp_size = (int64_t)e->out.len - 4;	/* without the frame length */
	if (s->min_resp_size < 0 || s->last_resp_size < s->min_resp_size)
		s->min_resp_size = s->last_resp_size;
	if (s->last_resp_size > s->max_resp_size)
		s->max_resp_size = s->last_resp_size;
}

/* Moves finished replies at the head of the queue to the output, in request order. */
static void conn_flush_ready(struct conn *c)
{
	while (c->head && c->head->state == E_DONE) {
		struct entry *e = c->head;

		c->head = e->next;
		if (!c->head)
			c->tail = NULL;
		c->nqueued--;
		c->srv->npending--;
		if (e->out.len) {
			buf_put(&c->obuf, e->out.p, e->out.len);
			c->sent++;
			c->srv->packets_sent++;
			record_latency(c, e);
		}
		if (e->close_after)
			c->close_when_flushed = 1;
		entry_free(e);
		conn_mark_dirty(c);
	}
	conn_resume(c);
}

/* ---- watches ------------------------------------------------------------------------ */

/* What a triggered watch needs besides the event: the node's ACL, to filter by READ. */
struct event_ctx {
	struct zk_server *srv;
	const struct zk_acl_list *acl;
};

static void send_event(struct conn *c, int type, const char *path)
{
	struct zk_resp r;

	if (c->state == CONN_CLOSING)
		return;
	memset(&r, 0, sizeof(r));
	r.xid = ZXID_NOTIFICATION;
	r.zxid = -1;
	r.type = ZOP_NOTIFICATION;
	r.event_type = type;
	r.state = ZSTATE_SYNC_CONNECTED;
	r.path = (char *)path;
	put_reply(&c->obuf, &r);
	c->sent++;
	c->srv->packets_sent++;
	conn_mark_dirty(c);
}

/*
 * A watch fired. Debian's 3.8.0 carries the fix for CVE-2024-23944 (3.8.4's ZOOKEEPER-4799):
 * a connection hears an event only if it may READ the node (for NodeDeleted the node as it
 * was, for NodeChildrenChanged the parent). The watch is consumed either way, as in Apache.
 */
static void deliver_cb(void *ctx, struct zk_watcher *w, int type, const char *path)
{
	struct event_ctx *ec = ctx;
	struct conn *c = container_of(w, struct conn, watcher);

	if (ec->acl && !ec->srv->cfg->skip_acl && acl_check(ec->acl, ZPERM_READ, &c->ids))
		return;
	send_event(c, type, path);
}

void tree_event_cb(void *ctx, int type, const char *path, const struct zk_acl_list *acl)
{
	struct event_ctx ec = { ctx, acl };

	watches_trigger(((struct zk_server *)ctx)->watches, type, path, deliver_cb, &ec);
}

/* ---- session helpers ----------------------------------------------------------------- */

static int32_t negotiate_timeout(const struct zk_config *cfg, int32_t want)
{
	if (want < cfg->min_session_timeout)
		want = cfg->min_session_timeout;
	if (want > cfg->max_session_timeout)
		want = cfg->max_session_timeout;
	return want;
}

void put_connect_resp(struct conn *c, struct buf *b, int32_t timeout, int64_t sid)
{
	struct zk_connect_resp r;
	size_t off;

	memset(&r, 0, sizeof(r));
	r.timeout = timeout;
	r.session_id = sid;
	if (sid)
		sessions_password(sid, r.passwd);
	r.has_readonly = !c->old_client;
	r.readonly = 0;
	off = zk_frame_begin(b);
	zk_connect_resp_encode(&r, b);
	zk_frame_end(b, off);
}

/* Closes every connection bound to sid except keep. */
void close_session_conns(struct zk_server *s, int64_t sid, struct conn *keep)
{
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c != keep && c->session_id == sid && c->state != CONN_CLOSING)
			conn_close(c);
	}
}

/* ---- reads and session-local requests --------------------------------------------------- */

static int check_perm(struct conn *c, const struct zk_node *n, int32_t perm)
{
	if (c->srv->cfg->skip_acl)
		return 0;
	return acl_check(node_acl(n), perm, &c->ids);
}

/*
 * Paths of reads are only looked up, never validated: a null path is MARSHALLINGERROR
 * (Apache dereferences it), and a path with an embedded NUL names no node (NONODE) —
 * except in exists, which Apache checks for NUL (BADARGUMENTS). Returns 0 or the error.
 */
static int read_path_err(const struct zk_req *q, int nul_err)
{
	if (!q->path)
		return ZMARSHALLINGERROR;
	if (q->path_len < 0 || memchr(q->path, 0, (size_t)q->path_len))
		return nul_err;
	return 0;
}

/* The node a read names, if it exists and the connection holds perm on it (perm 0: no
 * check); else NULL with r->err set. */
static const struct zk_node *read_lookup(struct conn *c, const struct zk_req *q, int32_t perm,
					 struct zk_resp *r)
{
	const struct zk_node *n;

	if ((r->err = read_path_err(q, ZNONODE)))
		return NULL;
	n = tree_lookup(c->srv->tree, q->path);
	if (!n) {
		r->err = ZNONODE;
		return NULL;
	}
	if (perm && (r->err = check_perm(c, n, perm)))
		return NULL;
	return n;
}

static void do_getdata(struct conn *c, const struct zk_req *q, struct zk_resp *r, int watch)
{
	const struct zk_node *n = read_lookup(c, q, ZPERM_READ, r);
	const uint8_t *d;
	int32_t len;

	if (!n)
		return;
	d = node_data(n, &len);
	r->data_len = len;
	if (len > 0) {
		r->data = malloc((size_t)len);
		if (r->data)
			memcpy(r->data, d, (size_t)len);
	} else if (len == 0) {
		r->data = malloc(1);
	}
	node_stat(n, &r->stat);
	if (watch)
		watches_add(c->srv->watches, q->path, WATCH_DATA, &c->watcher);
}

static void do_getchildren(struct conn *c, const struct zk_req *q, struct zk_resp *r, int watch)
{
	const struct zk_node *n = read_lookup(c, q, ZPERM_READ, r);

	if (!n)
		return;
	r->children.n = 0;
	if (node_children(n, &r->children)) {
		r->err = ZSYSTEMERROR;
		return;
	}
	node_stat(n, &r->stat);
	if (watch)
		watches_add(c->srv->watches, q->path, WATCH_CHILD, &c->watcher);
}

static void do_setwatches(struct conn *c, const struct zk_req *q, struct zk_resp *r)
{
	struct zk_server *s = c->srv;
	int32_t i, k;

	for (k = 0; k < 5; k++) {
		for (i = 0; i < q->watches[k].n; i++) {
			const char *path = q->watches[k].v[i];
			const struct zk_node *n;
			struct zk_stat st;

			if (!path)
				continue;
			n = tree_lookup(s->tree, path);
			if (n)
				node_stat(n, &st);
			switch (k) {
			case 0:	/* data */
				if (!n)
					send_event(c, ZEV_DELETED, path);
				else if (st.mzxid > q->rel_zxid)
					send_event(c, ZEV_DATA_CHANGED, path);
				else
					watches_add(s->watches, path, WATCH_DATA, &c->watcher);
				break;
			case 1:	/* exist */
				if (n)
					send_event(c, ZEV_CREATED, path);
				else
					watches_add(s->watches, path, WATCH_EXIST, &c->watcher);
				break;
			case 2:	/* child */
				if (!n)
					send_event(c, ZEV_DELETED, path);
				else if (st.pzxid > q->rel_zxid)
					send_event(c, ZEV_CHILDREN_CHANGED, path);
				else
					watches_add(s->watches, path, WATCH_CHILD, &c->watcher);
				break;
			case 3:
				watches_add(s->watches, path, WATCH_PERSISTENT, &c->watcher);
				break;
			case 4:
				watches_add(s->watches, path, WATCH_PERSISTENT_RECURSIVE, &c->watcher);
				break;
			}
		}
	}
	r->type = -999;
}

static void do_getephemerals(struct conn *c, const struct zk_req *q, struct zk_resp *r)
{
	struct zk_strvec all = { 0, NULL };
	const char *prefix = q->path;
	int32_t i;
	int every = !prefix || !*prefix || !strcmp(prefix, "/");

	/* Apache treats a blank prefix ("  ") like "/". */
	if (prefix && !every) {
		const char *p = prefix;

		while (*p == ' ' || *p == '\t')
			p++;
		every = !*p;
	}
	tree_session_ephemerals(c->srv->tree, c->session_id, &all);
	r->children.n = 0;
	for (i = 0; i < all.n; i++) {
		if (every || !strncmp(all.v[i], prefix, strlen(prefix)))
			zk_strvec_push(&r->children, all.v[i]);
	}
	zk_strvec_release(&all);
}

/* Executes a non-write request now; fills r (type, err and body). */
static void do_read(struct conn *c, struct entry *e, struct zk_resp *r)
{
	struct zk_server *s = c->srv;
	const struct zk_req *q = &e->req;
	const struct zk_node *n;
	int32_t i;

	r->type = q->type;
	switch (q->type) {
	case ZOP_PING:
		r->type = -999;
		break;
	case ZOP_EXISTS:
		if ((r->err = read_path_err(q, ZBADARGUMENTS)))
			break;
		n = tree_lookup(s->tree, q->path);
		if (!n) {
			r->err = ZNONODE;
			if (q->watch)
				watches_add(s->watches, q->path, WATCH_EXIST, &c->watcher);
			break;
		}
		node_stat(n, &r->stat);
		if (q->watch)
			watches_add(s->watches, q->path, WATCH_DATA, &c->watcher);
		break;
	case ZOP_GETDATA:
		do_getdata(c, q, r, q->watch);
		break;
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		do_getchildren(c, q, r, q->watch);
		break;
	case ZOP_GETACL:
		if (!(n = read_lookup(c, q, ZPERM_READ | ZPERM_ADMIN, r)))
			break;
		zk_acl_list_copy(&r->acl, node_acl(n));
		if (check_perm(c, n, ZPERM_ADMIN))
			acl_mask_digests(&r->acl);
		node_stat(n, &r->stat);
		break;
	case ZOP_SYNC:
		r->path = q->path ? strdup(q->path) : NULL;
		break;
	case ZOP_GETALLCHILDRENNUMBER:
		if (!(n = read_lookup(c, q, ZPERM_READ, r)))
			break;
		r->number = node_descendants(s->tree, n);
		break;
	case ZOP_GETEPHEMERALS:
		do_getephemerals(c, q, r);
		break;
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
		do_setwatches(c, q, r);
		break;
	case ZOP_ADDWATCH:
		/* Apache's AddWatchMode.fromZooDef throws on other modes: MARSHALLINGERROR. */
		if (!q->path || (q->mode != ZADDWATCH_PERSISTENT &&
				 q->mode != ZADDWATCH_PERSISTENT_RECURSIVE)) {
			r->err = ZMARSHALLINGERROR;
			break;
		}
		watches_add(s->watches, q->path,
			    q->mode == ZADDWATCH_PERSISTENT ? WATCH_PERSISTENT
							    : WATCH_PERSISTENT_RECURSIVE,
			    &c->watcher);
		break;
	case ZOP_CHECKWATCHES:
	case ZOP_REMOVEWATCHES:
		if (!q->path || q->mode < ZWT_CHILDREN || q->mode > ZWT_ANY) {
			r->err = ZMARSHALLINGERROR;
			break;
		}
		r->err = q->type == ZOP_CHECKWATCHES
			 ? watches_check(s->watches, q->path, q->mode, &c->watcher)
			 : watches_remove(s->watches, q->path, q->mode, &c->watcher);
		r->type = -999;
		break;
	case ZOP_WHOAMI:
		ids_whoami(&c->ids, r);
		break;
	case ZOP_MULTIREAD:
		r->results = calloc((size_t)(q->nops ? q->nops : 1), sizeof(*r->results));
		if (!r->results) {
			r->err = ZSYSTEMERROR;
			break;
		}
		r->nresults = q->nops;
		for (i = 0; i < q->nops; i++) {
			struct zk_resp *o = &r->results[i];

			o->type = q->ops[i].type;
			if (q->ops[i].type == ZOP_GETDATA)
				do_getdata(c, &q->ops[i], o, 0);
			else
				do_getchildren(c, &q->ops[i], o, 0);
			if (o->err)
				o->type = ZOP_ERROR;
		}
		break;
	default:
		r->err = ZUNIMPLEMENTED;
		break;
	}
	if (r->err)
		r->type = -999;
}

/* ---- connect -------------------------------------------------------------------------- */

/* Returns 1 if the entry is finished (reply or close set), 0 if it waits for a txn. */
static int do_connect(struct conn *c, struct entry *e)
{
	struct zk_server *s = c->srv;
	struct zk_connect_req *cr = &e->connect;
	uint8_t pw[ZK_PASSWD_LEN];

	if (cr->last_zxid > tree_last_zxid(s->tree)) {
		/* The client has seen a newer state than ours: it must try another server. */
		log_info("refusing session 0x%llx from %s: client zxid 0x%llx ahead of ours 0x%llx",
			 (long long)cr->session_id, c->addr, (long long)cr->last_zxid,
			 (long long)tree_last_zxid(s->tree));
		e->state = E_DONE;
		e->close_after = 1;
		return 1;
	}
	c->timeout = negotiate_timeout(s->cfg, cr->timeout);
	if (cr->session_id == 0) {
		struct pending *p = pending_new(c, e, ZOP_CREATESESSION);
		int64_t sid = sessions_next_id(s->sessions);

		if (!p || prep_create_session(s->prep, sid, c->timeout, ++s->zxid, wall_ms(),
					      &p->txn)) {
			if (p)
				s->zxid--;
			free(p);
			e->state = E_DONE;
			e->close_after = 1;
			return 1;
		}
		if (submit_txn(s, p)) {
			e->state = E_DONE;
			e->close_after = 1;
			return 1;
		}
		e->state = E_WAIT;
		return 0;
	}
	sessions_password(cr->session_id, pw);
	if (cr->passwd_len != ZK_PASSWD_LEN || memcmp(pw, cr->passwd, ZK_PASSWD_LEN) != 0 ||
	    !sessions_exists(s->sessions, cr->session_id)) {
		log_info("invalid session 0x%llx from %s: %s", (long long)cr->session_id, c->addr,
			 sessions_exists(s->sessions, cr->session_id) ? "wrong password"
								      : "expired or unknown");
		put_connect_resp(c, &e->out, 0, 0);
		e->state = E_DONE;
		e->close_after = 1;
		return 1;
	}
	close_session_conns(s, cr->session_id, c);
	sessions_touch(s->sessions, cr->session_id, now_ms(s));
	c->session_id = cr->session_id;
	c->watcher.session_id = c->session_id;
	c->state = CONN_READY;
	put_connect_resp(c, &e->out, c->timeout, c->session_id);
	e->state = E_DONE;
	return 1;
}

/* ---- the per-connection pipeline ----------------------------------------------------- */

/*
 * Walks the queue in order. Writes (and auth, which reads no state) start as soon as they
 * are reached, so one client's pipelined writes share a group commit; every other request
 * runs only when no earlier request of the connection is still waiting for its txn, which
 * is what gives read-your-writes and FIFO order within a session.
 */
void conn_pump(struct conn *c)
{
	struct entry *e;
	int blocked = 0;

	if (c->state == CONN_CLOSING)
		return;
	for (e = c->head; e; e = e->next) {
		if (e->state == E_NEW) {
			if (e->is_connect) {
				if (!do_connect(c, e))
					break;	/* nothing runs before the session exists */
				if (e->close_after)
					break;
				continue;
			}
			if (c->state != CONN_READY)
				break;
			if (e->decode_err) {
				put_header_reply(&e->out, e->req.xid,
						 e->decode_err == ZUNIMPLEMENTED ? -1 : c->srv->zxid,
						 e->decode_err);
				if (e->decode_err == ZUNIMPLEMENTED)
					e->close_after = 1;
				e->state = E_DONE;
			} else if (zk_op_is_write(e->req.type)) {
				submit_write(c, e);
			} else if (e->req.type == ZOP_AUTH) {
				int rc = ids_auth(&c->ids, e->req.scheme, e->req.data,
						  e->req.data_len,
						  c->srv->cfg->super_digest[0] ? c->srv->cfg->super_digest
									      : NULL);
				put_header_reply(&e->out, e->req.xid, 0, rc);
				if (rc) {
					c->srv->auth_failed++;
					e->close_after = 1;
				}
				e->state = E_DONE;
			} else if (!blocked) {
				struct zk_resp r;

				memset(&r, 0, sizeof(r));
				do_read(c, e, &r);
				r.xid = e->req.xid;
				r.zxid = tree_last_zxid(c->srv->tree);
				c->last_zxid = r.zxid;
				put_reply(&e->out, &r);
				zk_resp_release(&r);
				e->state = E_DONE;
			}
			if (e->close_after)
				break;	/* nothing after a closing reply runs */
		}
		if (e->state == E_WAIT)
			blocked = 1;
	}
	conn_flush_ready(c);
}

/* ---- input ----------------------------------------------------------------------------- */

static void handle_frame(struct conn *c, const uint8_t *p, size_t len)
{
	struct zk_server *s = c->srv;
	struct entry *e;

	c->recved++;
	s->packets_received++;
	if (!c->got_connect) {
		c->got_connect = 1;
		e = entry_new(c);
		if (!e) {
			conn_close(c);
			return;
		}
		e->is_connect = 1;
		if (zk_connect_req_decode(&e->connect, p, len)) {
			log_info("closing %s: malformed connect request", c->addr);
			conn_close(c);
			return;
		}
		c->old_client = !e->connect.has_readonly;
		c->last_op = ZOP_CREATESESSION;
		return;
	}
	if (len < 8) {
		log_info("closing %s: frame of %zu bytes is shorter than a request header",
			 c->addr, len);
		conn_close(c);
		return;
	}
	e = entry_new(c);
	if (!e) {
		conn_close(c);
		return;
	}
	e->decode_err = zk_req_decode(&e->req, p, len, s->cfg->jute_maxbuffer);
	c->last_op = e->req.type;
	if (e->req.xid > 0)
		c->last_cxid = e->req.xid;
	if (c->session_id) {
		if (sessions_touch(s->sessions, c->session_id, now_ms(s)) != 0 &&
		    e->req.type != ZOP_CLOSESESSION) {
			/* The session is gone or closing: Apache drops such requests. */
			e->state = E_DONE;
		}
	}
}

static int conn_try_4lw(struct conn *c)
{
	struct buf out = BUF_INIT;
	char word[5];

	if (c->got_connect || c->in.len < 4 || !fourlw_is_word(c->in.p))
		return 0;
	memcpy(word, c->in.p, 4);
	word[4] = 0;
	/* stmk carries an 8-byte mask; wait for it. */
	if (!strcmp(word, "stmk") && c->in.len < 12)
		return 1;
	c->got_connect = 1;
	c->recved++;
	c->srv->packets_received++;
	/* The connection stops reading (interest ops 0) while it answers. */
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = 0;
	fourlw_run(c->srv, c, word, c->in.p + 4, c->in.len - 4, &out);
	buf_put(&c->obuf, out.p, out.len);
	buf_release(&out);
	c->close_when_flushed = 1;
	c->in.len = 0;
	conn_mark_dirty(c);
	return 1;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	struct conn *c = container_of(h, struct conn, tcp);

	(void)hint;
	if (buf_grow(&c->in, 65536)) {
		ub->base = NULL;
		ub->len = 0;
		return;
	}
	ub->base = (char *)c->in.p + c->in.len;
	ub->len = c->in.cap - c->in.len;
}

/*
 * Parses whole frames from the input buffer and runs them. Stops taking frames while the
 * connection has CONN_MAX_QUEUED unanswered requests or too much unsent output; the rest
 * stays buffered and is parsed when conn_resume() finds room (a client that waits for
 * replies before sending more must not wait for bytes it already sent).
 */
static void conn_process_input(struct conn *c)
{
	struct zk_server *s = c->srv;
	size_t off;

	if (c->parsing)
		return;
	/*
	 * parsing stays set through conn_pump: a reply it releases calls conn_resume, which
	 * would otherwise come back here, and with a partial frame buffered and reads stopped
	 * that recursion never ended (a stack overflow under a pipelining client). Frames the
	 * pump made room for are taken by the next round of this loop instead.
	 */
	c->parsing = 1;
	do {
		off = 0;
		while (c->in.len - off >= 4 && c->state != CONN_CLOSING &&
		       c->nqueued < CONN_MAX_QUEUED && c->obuf.len < CONN_MAX_OUTPUT) {
			int32_t flen = be32_get(c->in.p + off);

			if (flen < 0 || flen > s->cfg->jute_maxbuffer) {
				log_info("closing %s: frame length %d out of range (jute.maxbuffer %d)",
					 c->addr, flen, s->cfg->jute_maxbuffer);
				conn_close(c);
				break;
			}
			if (c->in.len - off - 4 < (size_t)flen) {
				/* Make room for the whole frame at once. */
				if (off == 0 && buf_grow(&c->in, (size_t)flen + 4 - c->in.len))
					conn_close(c);
				break;
			}
			handle_frame(c, c->in.p + off + 4, (size_t)flen);
			off += 4 + (size_t)flen;
		}
		if (c->state == CONN_CLOSING)
			break;
		if (off) {
			memmove(c->in.p, c->in.p + off, c->in.len - off);
			c->in.len -= off;
		}
		conn_pump(c);
	} while (off && c->state != CONN_CLOSING && c->in.len >= 4 &&
		 c->nqueued < CONN_MAX_QUEUED && c->obuf.len < CONN_MAX_OUTPUT);
	c->parsing = 0;
	if (c->state == CONN_CLOSING)
		return;
	if (c->reading && (c->nqueued >= CONN_MAX_QUEUED || c->obuf.len >= CONN_MAX_OUTPUT)) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
}

/* Reads again (and first parses what is buffered) once the backlog has drained. */
static void conn_resume(struct conn *c)
{
	if (c->reading || c->parsing || c->state != CONN_READY || c->close_when_flushed ||
	    c->nqueued >= CONN_MAX_QUEUED / 2 || c->obuf.len >= CONN_MAX_OUTPUT / 2)
		return;
	if (c->in.len >= 4)
		conn_process_input(c);
	if (!c->reading && c->state == CONN_READY && c->nqueued < CONN_MAX_QUEUED &&
	    c->obuf.len < CONN_MAX_OUTPUT &&
	    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
		c->reading = 1;
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *ub)
{
	struct conn *c = container_of(stream, struct conn, tcp);

	(void)ub;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (c->state == CONN_CLOSING)
		return;
	c->in.len += (size_t)nread;
	if (conn_try_4lw(c))
		return;
	conn_process_input(c);
}

/* ---- connection lifecycle ------------------------------------------------------------ */

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *c = container_of(h, struct conn, tcp);
	struct zk_server *s = c->srv;
	struct entry *e, *n;

	for (e = c->head; e; e = n) {
		n = e->next;
		s->npending--;
		entry_free(e);
	}
	buf_release(&c->in);
	buf_release(&c->obuf);
	buf_release(&c->wbuf);
	ids_release(&c->ids);
	free(c);
	if (--s->handles_open == 0 && s->stopping && s->stop_done)
		s->stop_done(s->stop_ctx);
}

void conn_close(struct conn *c)
{
	struct zk_server *s = c->srv;
	struct pending *p;
	struct conn **pp;

	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	for (p = s->pend_head; p; p = p->next) {
		if (p->conn == c) {
			p->conn = NULL;
			p->entry = NULL;
		}
	}
	for (pp = &s->dirty; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	watches_remove_watcher(s->watches, &c->watcher);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static int count_ip(struct zk_server *s, const char *ip)
{
	struct conn *c;
	int n = 0;

	for (c = s->conns; c; c = c->next)
		n += !strcmp(c->ip, ip);
	return n;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct zk_server *s = container_of(server, struct zk_server, listener);
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), port = 0;
	struct conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = s;
	if (uv_tcp_init(s->loop, &c->tcp)) {
		free(c);
		return;
	}
	s->handles_open++;
	/* Link first so conn_close can unlink on every path. */
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	strcpy(c->ip, "unknown");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET) {
			uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	snprintf(c->addr, sizeof(c->addr), "/%s:%d", c->ip, port);
	c->created_ms = now_ms(s);
	c->est_wall_ms = wall_ms();
	c->last_op = -1000;
	c->last_cxid = -1;
	c->last_zxid = -1;
	c->min_lat = 0;
	ids_init(&c->ids, c->ip);
	if (s->cfg->max_client_cnxns > 0 && count_ip(s, c->ip) > s->cfg->max_client_cnxns) {
		log_warn("too many connections from %s - max is %d", c->ip,
			 s->cfg->max_client_cnxns);
		conn_close(c);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb)) {
		conn_close(c);
		return;
	}
	c->reading = 1;
}

/* ---- timers ---------------------------------------------------------------------------- */

static void tick_cb(uv_timer_t *t)
{
	struct zk_server *s = container_of(t, struct zk_server, tick);
	int64_t now = now_ms(s), ids[256];
	struct conn *c, *next;
	int i, n;

	do {
		n = sessions_expire(s->sessions, now, ids, 256);
		for (i = 0; i < n; i++) {
			log_info("expiring session 0x%llx, timeout of %dms exceeded",
				 (long long)ids[i], sessions_timeout(s->sessions, ids[i]));
			submit_close_session(s, ids[i]);
		}
	} while (n == 256);
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (!c->got_connect && now - c->created_ms > SESSIONLESS_TIMEOUT_MS)
			conn_close(c);
	}
	if (now - s->last_reap_ms >= s->cfg->container_check_ms) {
		struct zk_strvec paths = { 0, NULL };

		s->last_reap_ms = now;
		tree_reapable(s->tree, wall_ms(), &paths);
		for (i = 0; i < paths.n; i++) {
			struct pending *p = pending_new(NULL, NULL, ZOP_DELETECONTAINER);

			if (!p)
				break;
			if (prep_reap(s->prep, paths.v[i], ++s->zxid, wall_ms(), &p->txn)) {
				s->zxid--;
				free(p);
				continue;
			}
			submit_txn(s, p);
		}
		zk_strvec_release(&paths);
	}
}

/* ---- autopurge ------------------------------------------------------------------------ */

static void purge_work_cb(uv_work_t *w)
{
	struct zk_server *s = container_of(w, struct zk_server, purge_work);
	const struct zk_config *cfg = s->cfg;
	char err[512];

	if (storage_purge(cfg->data_dir, cfg->data_log_dir[0] ? cfg->data_log_dir : NULL,
			  cfg->autopurge_snap_retain, err, sizeof(err)))
		log_warn("autopurge: %s", err);
}

static void purge_done_cb(uv_work_t *w, int status)
{
	struct zk_server *s = container_of(w, struct zk_server, purge_work);

	(void)status;
	s->purging = 0;
}

static void purge_timer_cb(uv_timer_t *t)
{
	struct zk_server *s = container_of(t, struct zk_server, purge_timer);

	if (s->purging || s->stopping)
		return;
	s->purging = 1;
	if (uv_queue_work(s->loop, &s->purge_work, purge_work_cb, purge_done_cb))
		s->purging = 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

static void load_session_cb(void *ctx, int64_t id, int32_t timeout)
{
	struct zk_server *s = ctx;

	sessions_add(s->sessions, id, timeout, now_ms(s));
}

static void load_txn_cb(void *ctx, const struct zk_txn *t)
{
	struct zk_server *s = ctx;

	if (t->hdr.type == ZOP_CREATESESSION)
		sessions_add(s->sessions, t->hdr.client_id, t->timeout, now_ms(s));
	else if (t->hdr.type == ZOP_CLOSESESSION)
		sessions_remove(s->sessions, t->hdr.client_id);
}

int server_new(uv_loop_t *loop, const struct zk_config *cfg, struct zk_server **out,
	       char *errmsg, size_t errlen)
{
	struct zk_server *s = calloc(1, sizeof(*s));
	struct storage_opts so;
	struct storage_load_cb lcb;
	struct prep_opts po;
	int rc;

	if (!s) {
		snprintf(errmsg, errlen, "out of memory");
		return ZSYSTEMERROR;
	}
	s->loop = loop;
	s->cfg = cfg;
	uv_update_time(loop);
	s->start_ms = now_ms(s);
	s->wall_offset_ms = wall_ms() - s->start_ms;
	s->min_resp_size = -1;
	s->last_resp_size = -1;
	s->max_resp_size = -1;
	s->last_reap_ms = s->start_ms;
	s->sessions = sessions_new(cfg->tick_time, cfg->myid ? cfg->myid : 1, s->start_ms);
	s->watches = watches_new();
	if (!s->sessions || !s->watches) {
		snprintf(errmsg, errlen, "out of memory");
		rc = ZSYSTEMERROR;
		goto err;
	}
	memset(&so, 0, sizeof(so));
	so.data_dir = cfg->data_dir;
	so.log_dir = cfg->data_log_dir[0] ? cfg->data_log_dir : NULL;
	so.snap_count = cfg->snap_count;
	so.snap_size_kb = cfg->snap_size_kb;
	so.prealloc_kb = cfg->prealloc_kb;
	so.force_sync = cfg->force_sync;
	so.seed = (uint64_t)wall_ms();
	rc = storage_open(loop, &so, durable_cb, s, &s->storage, errmsg, errlen);
	if (rc)
		goto err;
	lcb.ctx = s;
	lcb.session = load_session_cb;
	lcb.txn = load_txn_cb;
	rc = storage_load(s->storage, &s->tree, &lcb, errmsg, errlen);
	if (rc)
		goto err;
	s->zxid = tree_last_zxid(s->tree);
	memset(&po, 0, sizeof(po));
	po.extended_types = cfg->extended_types;
	po.skip_acl = cfg->skip_acl;
	s->prep = prep_new(s->tree, &po);
	if (!s->prep) {
		snprintf(errmsg, errlen, "out of memory");
		rc = ZSYSTEMERROR;
		goto err;
	}
	/* Apache snapshots right after every load, so a restart never replays the same long
	 * log twice. */
	if (s->zxid > 0)
		take_snapshot(s);
	log_info("loaded %lld znodes, %lld sessions, last zxid 0x%llx",
		 (long long)tree_node_count(s->tree) - 1, (long long)sessions_count(s->sessions),
		 (long long)s->zxid);
	*out = s;
	return 0;
err:
	server_free(s);
	return rc;
}

int server_start(struct zk_server *s, char *errmsg, size_t errlen)
{
	const struct zk_config *cfg = s->cfg;
	struct sockaddr_storage addr;
	const char *host = cfg->client_port_address[0] ? cfg->client_port_address : "0.0.0.0";
	int rc;

	if (cfg->client_port <= 0) {
		snprintf(errmsg, errlen, "clientPort is not set");
		return ZBADARGUMENTS;
	}
	if (strchr(host, ':'))
		rc = uv_ip6_addr(host, cfg->client_port, (struct sockaddr_in6 *)&addr);
	else
		rc = uv_ip4_addr(host, cfg->client_port, (struct sockaddr_in *)&addr);
	if (rc) {
		snprintf(errmsg, errlen, "bad clientPortAddress '%s': %s", host, uv_strerror(rc));
		return ZBADARGUMENTS;
	}
	uv_tcp_init(s->loop, &s->listener);
	s->handles_open++;
	s->listening = 1;
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener,
			       cfg->listen_backlog > 0 ? cfg->listen_backlog : 511, on_connection);
	if (rc) {
		snprintf(errmsg, errlen, "cannot listen on %s:%d: %s", host, cfg->client_port,
			 uv_strerror(rc));
		return ZSYSTEMERROR;
	}
	uv_timer_init(s->loop, &s->tick);
	s->handles_open++;
	uv_timer_start(&s->tick, tick_cb, (uint64_t)(cfg->tick_time / 2 > 0 ? cfg->tick_time / 2 : 1),
		       (uint64_t)(cfg->tick_time / 2 > 0 ? cfg->tick_time / 2 : 1));
	uv_check_init(s->loop, &s->flush);
	s->handles_open++;
	uv_check_start(&s->flush, flush_cb);
	uv_idle_init(s->loop, &s->wake);
	s->handles_open++;
	uv_timer_init(s->loop, &s->purge_timer);
	s->handles_open++;
	if (cfg->autopurge_interval_h > 0) {
		uint64_t every = (uint64_t)cfg->autopurge_interval_h * 3600 * 1000;

		/* Like Apache: purge once at start, then every purgeInterval hours. */
		uv_timer_start(&s->purge_timer, purge_timer_cb, 0, every);
		log_info("autopurge: keeping %d snapshots, every %d h", cfg->autopurge_snap_retain,
			 cfg->autopurge_interval_h);
	}
	log_info("serving clients on %s:%d (standalone, tickTime %d, session timeouts %d..%d ms)",
		 host, cfg->client_port, cfg->tick_time, cfg->min_session_timeout,
		 cfg->max_session_timeout);
	return 0;
}

static void handle_closed_cb(uv_handle_t *h)
{
	struct zk_server *s = h->data;

	if (--s->handles_open == 0 && s->stop_done)
		s->stop_done(s->stop_ctx);
}

void server_stop(struct zk_server *s, void (*done)(void *ctx), void *ctx)
{
	struct conn *c, *next;

	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_done = done;
	s->stop_ctx = ctx;
	/* Whatever is queued reaches the disk before we go. */
	storage_close(s->storage);
	s->storage = NULL;
	for (c = s->conns; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	if (s->listening) {
		s->listener.data = s;
		uv_close((uv_handle_t *)&s->listener, handle_closed_cb);
		s->tick.data = s;
		uv_close((uv_handle_t *)&s->tick, handle_closed_cb);
		s->flush.data = s;
		uv_close((uv_handle_t *)&s->flush, handle_closed_cb);
		s->purge_timer.data = s;
		uv_close((uv_handle_t *)&s->purge_timer, handle_closed_cb);
		s->wake.data = s;
		uv_close((uv_handle_t *)&s->wake, handle_closed_cb);
	}
	if (s->handles_open == 0 && done)
		done(ctx);
}

void server_free(struct zk_server *s)
{
	struct pending *p, *n;

	if (!s)
		return;
	for (p = s->pend_head; p; p = n) {
		n = p->next;
		pending_free(p);
	}
	if (s->storage)
		storage_close(s->storage);
	if (s->prep)
		prep_free(s->prep);
	if (s->tree)
		tree_free(s->tree);
	if (s->watches)
		watches_free(s->watches);
	if (s->sessions)
		sessions_free(s->sessions);
	free(s);
}
