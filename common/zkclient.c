/*
 * zkclient: see zkclient.h for the contract.
 *
 * Happy path: zkc_new -> timer tick starts a connection to hosts[next] -> TCP connected ->
 * ConnectRequest -> ConnectResponse (session) -> auths, setWatches, queued requests go out
 * -> replies are matched against the head of the sent queue by xid.
 *
 * Failure modes:
 *  - connect refused / handshake silent past the connect timeout / read silent for 2T/3 /
 *    an xid out of order: the connection is dropped (conn_lost) and the next host tried;
 *    after a whole round of failures we back off before the next round.
 *  - the server closes without answering a ConnectRequest (our lastZxidSeen is ahead of
 *    it): same as a refused connection, so another server is tried.
 *  - ConnectResponse with timeOut <= 0: the session expired; every pending request fails
 *    with ZSESSIONEXPIRED, watches are forgotten and a new session is started at once.
 *  - request timeout: the callback gets ZOPERATIONTIMEOUT; a request already sent stays in
 *    the sent queue as a zombie so that the FIFO xid matching of later replies still holds.
 *
 * One 50 ms timer drives pings, timeouts and re-connects; a coarse tick keeps the state
 * machine in one place and costs nothing next to a network round trip.
 */
#include "zkclient.h"
#include "zkclient_i.h"

#include <errno.h>
#include <stddef.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define TICK_MS 50
#define DEFAULT_MAX_FRAME (4 * 1024 * 1024)
#define CLOSE_WAIT_MS 1000

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define container_of_timer(h) container_of((uv_timer_t *)(h), struct zkc, timer)

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_CONNECTED, S_CLOSING, S_CLOSED };

struct pend {
	struct pend *next;
	int32_t xid;
	int32_t type;
	zkc_reply_cb cb;
	void *arg;
	uint64_t deadline;	/* uv_now ms; 0 = none */
	uint8_t *frame;		/* whole frame, length prefix included */
	size_t frame_len;
	int done;		/* callback already called (timed out); reply is dropped */
	int watch_kinds;	/* what to remember when the reply succeeds */
	char *watch_path;	/* relative to the chroot */
};

struct queue {
	struct pend *head, *tail;
};

struct auth {
	struct auth *next;
	char *scheme;
	uint8_t *data;
	int32_t len;
	zkc_reply_cb cb;	/* first reply only */
	void *arg;
};

struct conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct zkc *c;
	struct zkc_framer fr;
	int closing;
};

struct wreq {
	uv_write_t w;
	size_t len;
	uint8_t data[];
};

struct zkc {
	uv_loop_t *loop;
	uv_timer_t timer;
	int nhandles;		/* timer + live conns; c is freed when it drops to 0 */
	struct zkc_hostport *hosts;
	int nhosts;
	int next_host;
	int fails_in_round;
	uint64_t retry_at;
	int backoff_ms;
	char *chroot;
	size_t chroot_len;
	int req_timeout;
	int sess_timeout_req;
	int32_t max_frame;
	zkc_watch_cb watch_cb;
	zkc_state_cb state_cb;
	void *arg;

	struct conn *conn;
	int state;
	int pub_state;
	uint64_t conn_started;
	uint64_t last_send;
	uint64_t last_recv;
	uint64_t close_deadline;

	int64_t session_id;
	uint8_t passwd[ZK_PASSWD_LEN];
	int timeout;		/* negotiated */
	int64_t last_zxid;
	int32_t next_xid;

	struct queue unsent;
	struct queue sent;
	struct queue auth_sent;	/* AuthPackets waiting for their -4 reply */
	struct auth *auths;
	struct zkc_watches *watches;

	zkc_close_cb close_cb;
	void *close_arg;
	char rbuf[65536];
};

/* ---- queues ---------------------------------------------------------------------------- */

static void q_push(struct queue *q, struct pend *p)
{
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
}

static void q_push_front(struct queue *q, struct pend *p)
{
	p->next = q->head;
	q->head = p;
	if (!q->tail)
		q->tail = p;
}

static struct pend *q_pop(struct queue *q)
{
	struct pend *p = q->head;

	if (p) {
		q->head = p->next;
		if (!q->head)
			q->tail = NULL;
		p->next = NULL;
	}
	return p;
}

static void pend_free(struct pend *p)
{
	free(p->frame);
	free(p->watch_path);
	free(p);
}

static int op_is_read(int type)
{
	switch (type) {
	case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETACL: case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2: case ZOP_SYNC: case ZOP_MULTIREAD: case ZOP_ADDWATCH:
	case ZOP_GETALLCHILDRENNUMBER: case ZOP_GETEPHEMERALS: case ZOP_WHOAMI:
	case ZOP_CHECKWATCHES:
		return 1;
	}
	return 0;
}

/* Calls the callback of every entry of q with rc (those not done yet) and frees them. */
static void fail_queue(struct zkc *c, struct queue *q, int rc)
{
	struct queue tmp = *q;
	struct pend *p;

	q->head = q->tail = NULL;
	while ((p = q_pop(&tmp))) {
		if (!p->done && p->cb)
			p->cb(c, rc, NULL, p->arg);
		pend_free(p);
	}
}

/* ---- sending --------------------------------------------------------------------------- */

static void write_cb(uv_write_t *w, int status)
{
	free(w);
}

static int conn_send(struct zkc *c, const uint8_t *data, size_t len)
{
	struct wreq *wr;
	uv_buf_t b;
	int r;

	if (!c->conn || c->conn->closing)
		return -1;
	wr = malloc(sizeof(*wr) + len);
	if (!wr)
		return -1;
	memcpy(wr->data, data, len);
	wr->len = len;
	b = uv_buf_init((char *)wr->data, (unsigned)len);
	r = uv_write(&wr->w, (uv_stream_t *)&c->conn->tcp, &b, 1, write_cb);
	if (r) {
		free(wr);
		return -1;
	}
	c->last_send = uv_now(c->loop);
	return 0;
}

/* Encodes req (with chroot applied) as one frame into b. */
static int encode_frame(struct zkc *c, const struct zk_req *req, struct buf *b)
{
	struct zk_req tmp = *req;
	struct zk_req *ops = NULL;
	char *paths[64];
	int npaths = 0, i, rc = 0;
	size_t off;

	if (c->chroot_len && req->path) {
		size_t pl = strlen(req->path);
		char *full = malloc(c->chroot_len + pl + 1);

		if (!full)
			return ZSYSTEMERROR;
		memcpy(full, c->chroot, c->chroot_len);
		if (strcmp(req->path, "/") == 0)
			full[c->chroot_len] = 0;
		else
			memcpy(full + c->chroot_len, req->path, pl + 1);
		tmp.path = full;
		paths[npaths++] = full;
	}
	if (c->chroot_len && req->nops > 0) {
		if (req->nops > 63)
			return ZBADARGUMENTS;
		ops = malloc(sizeof(*ops) * (size_t)req->nops);
		if (!ops) {
			rc = ZSYSTEMERROR;
			goto out;
		}
		for (i = 0; i < req->nops; i++) {
			size_t pl;
			char *full;

			ops[i] = req->ops[i];
			if (!ops[i].path)
				continue;
			pl = strlen(ops[i].path);
			full = malloc(c->chroot_len + pl + 1);
			if (!full) {
				rc = ZSYSTEMERROR;
				goto out;
			}
			memcpy(full, c->chroot, c->chroot_len);
			memcpy(full + c->chroot_len, ops[i].path, pl + 1);
			ops[i].path = full;
			paths[npaths++] = full;
		}
		tmp.ops = ops;
	}
	off = zk_frame_begin(b);
	zk_req_encode(&tmp, b);
	zk_frame_end(b, off);
	if (b->oom)
		rc = ZSYSTEMERROR;
out:
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	free(ops);
	return rc;
}

static void send_special(struct zkc *c, const struct zk_req *req)
{
	struct buf b = BUF_INIT;

	if (encode_frame(c, req, &b) == 0)
		conn_send(c, b.p, b.len);
	buf_release(&b);
}

static void send_auth(struct zkc *c, struct auth *a)
{
	struct zk_req req;
	struct buf b = BUF_INIT;
	struct pend *p;
	size_t off;

	memset(&req, 0, sizeof(req));
	req.xid = ZXID_AUTH;
	req.type = ZOP_AUTH;
	req.scheme = a->scheme;
	req.data = a->data;
	req.data_len = a->len;
	off = zk_frame_begin(&b);
	zk_req_encode(&req, &b);
	zk_frame_end(&b, off);
	p = calloc(1, sizeof(*p));
	if (!b.oom && p && conn_send(c, b.p, b.len) == 0) {
		p->xid = ZXID_AUTH;
		p->type = ZOP_AUTH;
		p->watch_path = (char *)a;	/* identifies the auth on reply */
		q_push(&c->auth_sent, p);
		p = NULL;
	}
	free(p);
	buf_release(&b);
}

static void flush_unsent(struct zkc *c)
{
	struct pend *p;

	while (c->state == S_CONNECTED && (p = q_pop(&c->unsent))) {
		if (conn_send(c, p->frame, p->frame_len)) {
			q_push_front(&c->unsent, p);
			return;
		}
		q_push(&c->sent, p);
	}
}

/* ---- connection lifecycle -------------------------------------------------------------- */

static void start_connect(struct zkc *c);
static void conn_lost(struct zkc *c, const char *why);

static void set_pub_state(struct zkc *c, int st, int new_session)
{
	int changed = c->pub_state != st;

	c->pub_state = st;
	if ((changed || st == ZSTATE_SYNC_CONNECTED) && c->state_cb)
		c->state_cb(c, st, new_session, c->arg);
}

static void maybe_free(struct zkc *c)
{
	zkc_close_cb cb;
	void *arg;
	struct auth *a;

	if (c->state != S_CLOSED || c->nhandles > 0)
		return;
	cb = c->close_cb;
	arg = c->close_arg;
	if (cb)
		cb(c, arg);
	while ((a = c->auths)) {
		c->auths = a->next;
		free(a->scheme);
		free(a->data);
		free(a);
	}
	zkc_watches_free(c->watches);
	free(c->hosts);
	free(c->chroot);
	free(c);
}

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *cn = (struct conn *)h;
	struct zkc *c = cn->c;

	zkc_framer_release(&cn->fr);
	free(cn);
	c->nhandles--;
	maybe_free(c);
}

static void conn_detach(struct zkc *c)
{
	struct conn *cn = c->conn;

	if (!cn)
		return;
	c->conn = NULL;
	cn->closing = 1;
	uv_close((uv_handle_t *)&cn->tcp, conn_close_cb);
}

static void timer_close_cb(uv_handle_t *h)
{
	struct zkc *c = container_of_timer(h);

	c->nhandles--;
	maybe_free(c);
}

static void finish_close(struct zkc *c)
{
	conn_detach(c);
	fail_queue(c, &c->sent, ZCLOSING);
	fail_queue(c, &c->unsent, ZCLOSING);
	fail_queue(c, &c->auth_sent, ZCLOSING);
	if (c->state != S_CLOSED) {
		c->state = S_CLOSED;
		uv_close((uv_handle_t *)&c->timer, timer_close_cb);
	}
}

static void schedule_retry(struct zkc *c)
{
	uint64_t now = uv_now(c->loop);

	c->state = S_IDLE;
	c->fails_in_round++;
	if (c->fails_in_round >= c->nhosts) {
		/* every server failed once: back off before the next round */
		c->fails_in_round = 0;
		c->retry_at = now + (uint64_t)c->backoff_ms;
		if (c->backoff_ms < 1000)
			c->backoff_ms *= 2;
	} else {
		c->retry_at = now;
	}
}

/*
 * The connection broke (or was given up). Sent reads go back to the front of the unsent
 * queue in their order; sent writes fail with ZCONNECTIONLOSS (they may have been applied).
 */
static void conn_lost(struct zkc *c, const char *why)
{
	int was_connected = c->state == S_CONNECTED;
	struct queue reads = { NULL, NULL }, failed = { NULL, NULL };
	struct pend *p;

	if (c->state == S_CLOSING) {
		finish_close(c);
		return;
	}
	if (c->state == S_CLOSED)
		return;
	if (c->conn)
		log_debug("zk connection to %s:%d lost: %s", c->hosts[(c->next_host + c->nhosts - 1) % c->nhosts].host,
			  c->hosts[(c->next_host + c->nhosts - 1) % c->nhosts].port, why);
	conn_detach(c);
	while ((p = q_pop(&c->sent))) {
		if (p->done)
			pend_free(p);
		else if (op_is_read(p->type))
			q_push(&reads, p);
		else
			q_push(&failed, p);
	}
	if (reads.head) {
		reads.tail->next = c->unsent.head;
		if (!c->unsent.head)
			c->unsent.tail = reads.tail;
		c->unsent.head = reads.head;
	}
	/* auths are all re-sent after the handshake; their callbacks wait for that */
	while ((p = q_pop(&c->auth_sent)))
		pend_free(p);
	if (was_connected)
		c->fails_in_round = 0;
	schedule_retry(c);
	if (was_connected)
		set_pub_state(c, ZSTATE_DISCONNECTED, 0);
	fail_queue(c, &failed, ZCONNECTIONLOSS);
}

static void alloc_cb(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
	struct conn *cn = (struct conn *)h;

	/* read_cb consumes the whole slab before the next read, so one per client suffices */
	*b = uv_buf_init(cn->c->rbuf, sizeof(cn->c->rbuf));
}

static void session_expired(struct zkc *c)
{
	log_warn("zk session 0x%llx expired", (unsigned long long)c->session_id);
	conn_detach(c);
	c->session_id = 0;
	memset(c->passwd, 0, sizeof(c->passwd));
	zkc_watches_clear(c->watches);
	c->state = S_IDLE;
	c->retry_at = uv_now(c->loop);
	c->fails_in_round = 0;
	fail_queue(c, &c->sent, ZSESSIONEXPIRED);
	fail_queue(c, &c->unsent, ZSESSIONEXPIRED);
	fail_queue(c, &c->auth_sent, ZSESSIONEXPIRED);
	set_pub_state(c, ZSTATE_EXPIRED, 0);
}

static void handshake_done(struct zkc *c, const uint8_t *frame, int32_t len)
{
	struct zk_connect_resp r;
	struct zk_req sw;
	struct auth *a;
	int new_session;

	if (zk_connect_resp_decode(&r, frame, (size_t)len)) {
		conn_lost(c, "bad ConnectResponse");
		return;
	}
	if (r.timeout <= 0 || r.session_id == 0) {
		if (c->session_id == 0) {
			conn_lost(c, "server refused a new session");
			return;
		}
		session_expired(c);
		return;
	}
	new_session = c->session_id != r.session_id;
	c->session_id = r.session_id;
	memcpy(c->passwd, r.passwd, sizeof(c->passwd));
	c->timeout = r.timeout;
	c->state = S_CONNECTED;
	c->fails_in_round = 0;
	c->backoff_ms = 100;
	log_debug("zk session 0x%llx established, timeout %d ms",
		  (unsigned long long)c->session_id, c->timeout);
	for (a = c->auths; a; a = a->next)
		send_auth(c, a);
	if (!new_session && zkc_watches_request(c->watches, c->chroot, c->last_zxid, &sw) == 0) {
		sw.xid = ZXID_SETWATCHES;
		send_special(c, &sw);
		zk_req_release(&sw);
	}
	flush_unsent(c);
	set_pub_state(c, ZSTATE_SYNC_CONNECTED, new_session);
}

/* Strips the chroot from a server path in place; returns 0 if the path is outside it. */
static int strip_chroot(struct zkc *c, char *path)
{
	if (!path || !c->chroot_len)
		return 1;
	if (strncmp(path, c->chroot, c->chroot_len) != 0)
		return 0;
	if (path[c->chroot_len] == 0) {
		strcpy(path, "/");
		return 1;
	}
	if (path[c->chroot_len] != '/')
		return 0;
	memmove(path, path + c->chroot_len, strlen(path + c->chroot_len) + 1);
	return 1;
}

static void handle_notification(struct zkc *c, const uint8_t *frame, int32_t len)
{
	struct zk_resp r;

	memset(&r, 0, sizeof(r));
	r.type = ZOP_NOTIFICATION;
	if (zk_resp_decode(&r, frame, (size_t)len, c->max_frame) || !r.path) {
		zk_resp_release(&r);
		conn_lost(c, "bad notification");
		return;
	}
	if (strip_chroot(c, r.path)) {
		zkc_watches_fired(c->watches, r.event_type, r.path);
		if (c->watch_cb)
			c->watch_cb(c, r.event_type, r.path, c->arg);
	}
	zk_resp_release(&r);
}

static void handle_auth_reply(struct zkc *c, int32_t err)
{
	struct pend *p = q_pop(&c->auth_sent);
	struct auth *a, **pp;

	if (!p)
		return;
	for (pp = &c->auths; (a = *pp); pp = &a->next)
		if ((char *)a == p->watch_path)
			break;
	p->watch_path = NULL;
	if (a) {
		zkc_reply_cb cb = a->cb;
		void *arg = a->arg;

		a->cb = NULL;
		if (err) {
			/* a failing identity would fail every re-connect: forget it */
			*pp = a->next;
			free(a->scheme);
			free(a->data);
			free(a);
		}
		if (cb) {
			struct zk_resp r;

			memset(&r, 0, sizeof(r));
			r.xid = ZXID_AUTH;
			r.err = err;
			r.type = ZOP_AUTH;
			cb(c, err, &r, arg);
		}
	}
	pend_free(p);
	if (err)
		set_pub_state(c, ZSTATE_AUTH_FAILED, 0);
}

static void handle_reply(struct zkc *c, const uint8_t *frame, int32_t len)
{
	int32_t xid, err;
	int64_t zxid;
	struct pend *p;
	struct zk_resp r;
	int rc, i;

	if (len < 16) {
		conn_lost(c, "short reply");
		return;
	}
	xid = be32_get(frame);
	zxid = be64_get(frame + 4);
	err = be32_get(frame + 12);
	if (zxid > c->last_zxid)
		c->last_zxid = zxid;
	switch (xid) {
	case ZXID_NOTIFICATION:
		handle_notification(c, frame, len);
		return;
	case ZXID_PING:
	case ZXID_SETWATCHES:
		return;
	case ZXID_AUTH:
		handle_auth_reply(c, err);
		return;
	}
	p = c->sent.head;
	if (!p || p->xid != xid) {
		log_warn("zk reply xid %d out of order (expected %d)", xid, p ? p->xid : 0);
		conn_lost(c, "xid out of order");
		return;
	}
	q_pop(&c->sent);
	if (p->type == ZOP_CLOSESESSION) {
		pend_free(p);
		finish_close(c);
		return;
	}
	if (p->done) {
		pend_free(p);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.type = p->type;
	rc = zk_resp_decode(&r, frame, (size_t)len, c->max_frame);
	if (rc) {
		zk_resp_release(&r);
		if (p->cb)
			p->cb(c, ZMARSHALLINGERROR, NULL, p->arg);
		pend_free(p);
		return;
	}
	if (p->watch_kinds) {
		int kinds = p->watch_kinds;

		if (p->type == ZOP_EXISTS)
			kinds = r.err == 0 ? ZKC_W_DATA : r.err == ZNONODE ? ZKC_W_EXIST : 0;
		else if (r.err)
			kinds = 0;
		if (kinds)
			zkc_watches_add(c->watches, p->watch_path, kinds);
	}
	strip_chroot(c, r.path);
	for (i = 0; i < r.nresults; i++)
		strip_chroot(c, r.results[i].path);
	if (p->cb)
		p->cb(c, r.err, &r, p->arg);
	zk_resp_release(&r);
	pend_free(p);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *cn = (struct conn *)s;
	struct zkc *c = cn->c;
	const uint8_t *p = (const uint8_t *)b->base;
	size_t n = nread > 0 ? (size_t)nread : 0;

	if (cn->closing || c->conn != cn)
		return;
	if (nread < 0) {
		conn_lost(c, nread == UV_EOF ? "closed by server" : uv_strerror((int)nread));
		return;
	}
	c->last_recv = uv_now(c->loop);
	while (n > 0 && c->conn == cn) {
		uint8_t *frame = NULL;
		int32_t len = 0;
		int r = zkc_framer_feed(&cn->fr, &p, &n, &frame, &len);

		if (r < 0) {
			conn_lost(c, "bad frame length");
			return;
		}
		if (r == 0)
			break;
		if (c->state == S_HANDSHAKE)
			handshake_done(c, frame, len);
		else
			handle_reply(c, frame, len);
		free(frame);
	}
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct conn *cn = req->data;
	struct zkc *c = cn->c;
	struct zk_connect_req cr;
	struct buf b = BUF_INIT;
	size_t off;

	if (cn->closing || c->conn != cn)
		return;
	if (status < 0) {
		conn_lost(c, uv_strerror(status));
		return;
	}
	if (uv_read_start((uv_stream_t *)&cn->tcp, alloc_cb, read_cb)) {
		conn_lost(c, "read start failed");
		return;
	}
	memset(&cr, 0, sizeof(cr));
	cr.protocol_version = 0;
	cr.last_zxid = c->last_zxid;
	cr.timeout = c->sess_timeout_req;
	cr.session_id = c->session_id;
	cr.passwd_len = ZK_PASSWD_LEN;
	memcpy(cr.passwd, c->passwd, ZK_PASSWD_LEN);
	cr.has_readonly = 1;
	cr.readonly = 0;
	off = zk_frame_begin(&b);
	zk_connect_req_encode(&cr, &b);
	zk_frame_end(&b, off);
	c->state = S_HANDSHAKE;
	c->last_recv = uv_now(c->loop);
	if (b.oom || conn_send(c, b.p, b.len))
		conn_lost(c, "cannot send ConnectRequest");
	buf_release(&b);
}

static void start_connect(struct zkc *c)
{
	struct zkc_hostport *h = &c->hosts[c->next_host];
	struct addrinfo hints, *res = NULL;
	struct conn *cn;
	char port[16];
	int r;

	c->next_host = (c->next_host + 1) % c->nhosts;
	c->conn_started = uv_now(c->loop);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", h->port);
	/* Host names are resolved synchronously: server lists are short and mostly literal. */
	r = getaddrinfo(h->host, port, &hints, &res);
	if (r || !res) {
		log_warn("zk server '%s': cannot resolve: %s", h->host, gai_strerror(r));
		if (res)
			freeaddrinfo(res);
		schedule_retry(c);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (!cn) {
		freeaddrinfo(res);
		schedule_retry(c);
		return;
	}
	cn->c = c;
	zkc_framer_init(&cn->fr, c->max_frame);
	uv_tcp_init(c->loop, &cn->tcp);
	uv_tcp_nodelay(&cn->tcp, 1);
	c->nhandles++;
	c->conn = cn;
	c->state = S_CONNECTING;
	cn->creq.data = cn;
	r = uv_tcp_connect(&cn->creq, &cn->tcp, res->ai_addr, connect_cb);
	freeaddrinfo(res);
	if (r)
		conn_lost(c, uv_strerror(r));
}

static void expire_requests(struct zkc *c, uint64_t now)
{
	struct queue timed = { NULL, NULL };
	struct pend *p, **pp;

	for (pp = &c->unsent.head; (p = *pp);) {
		if (p->deadline && now >= p->deadline) {
			*pp = p->next;
			q_push(&timed, p);
		} else {
			pp = &p->next;
		}
	}
	c->unsent.tail = NULL;
	for (p = c->unsent.head; p; p = p->next)
		c->unsent.tail = p;
	fail_queue(c, &timed, ZOPERATIONTIMEOUT);
	for (p = c->sent.head; p; p = p->next) {
		if (!p->done && p->deadline && now >= p->deadline) {
			p->done = 1;
			/* the callback may submit: appending to sent is safe during this walk */
			if (p->cb)
				p->cb(c, ZOPERATIONTIMEOUT, NULL, p->arg);
		}
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct zkc *c = container_of(t, struct zkc, timer);
	uint64_t now = uv_now(c->loop);
	int ct = c->sess_timeout_req / 3;

	if (ct < 500)
		ct = 500;
	if (ct > 5000)
		ct = 5000;
	switch (c->state) {
	case S_IDLE:
		if (now >= c->retry_at)
			start_connect(c);
		break;
	case S_CONNECTING:
	case S_HANDSHAKE:
		if (now - c->conn_started > (uint64_t)ct)
			conn_lost(c, "connect timeout");
		break;
	case S_CONNECTED:
		if (now - c->last_recv > (uint64_t)(2 * c->timeout / 3)) {
			conn_lost(c, "no reply from server for 2/3 of the session timeout");
		} else if (now - c->last_send >= (uint64_t)(c->timeout / 3)) {
			static const uint8_t ping[12] = { 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe,
							  0, 0, 0, ZOP_PING };
			conn_send(c, ping, sizeof(ping));
		}
		break;
	case S_CLOSING:
		if (now >= c->close_deadline) {
			finish_close(c);
			return;
		}
		break;
	default:
		return;
	}
	if (c->state != S_CLOSED)
		expire_requests(c, now);
}

/* ---- public API ------------------------------------------------------------------------ */

int zkc_new(uv_loop_t *loop, const struct zkc_opts *o, struct zkc **out)
{
	struct zkc *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ZSYSTEMERROR;
	rc = zkc_parse_servers(o->servers, &c->hosts, &c->nhosts, &c->chroot);
	if (rc) {
		log_error("bad server list '%s'", o->servers ? o->servers : "");
		free(c);
		return rc;
	}
	c->watches = zkc_watches_new();
	if (!c->watches) {
		free(c->hosts);
		free(c->chroot);
		free(c);
		return ZSYSTEMERROR;
	}
	c->chroot_len = strlen(c->chroot);
	c->loop = loop;
	c->sess_timeout_req = o->session_timeout_ms > 0 ? o->session_timeout_ms : 30000;
	c->req_timeout = o->request_timeout_ms;
	c->max_frame = o->max_frame > 0 ? o->max_frame : DEFAULT_MAX_FRAME;
	c->watch_cb = o->watch_cb;
	c->state_cb = o->state_cb;
	c->arg = o->arg;
	c->next_xid = 1;
	c->backoff_ms = 100;
	c->pub_state = ZSTATE_DISCONNECTED;
	/* start with a random server so that many clients spread over the ensemble */
	c->next_host = (int)(uv_hrtime() % (uint64_t)c->nhosts);
	uv_timer_init(loop, &c->timer);
	c->nhandles = 1;
	c->state = S_IDLE;
	c->retry_at = 0;
	uv_timer_start(&c->timer, tick_cb, 0, TICK_MS);
	*out = c;
	return 0;
}

void zkc_close(struct zkc *c, zkc_close_cb cb, void *arg)
{
	c->close_cb = cb;
	c->close_arg = arg;
	if (c->state == S_CLOSING || c->state == S_CLOSED)
		return;
	fail_queue(c, &c->unsent, ZCLOSING);
	if (c->state == S_CONNECTED) {
		static const uint8_t close_frame[12] = { 0, 0, 0, 8, 0, 0, 0, 0,
							 0xff, 0xff, 0xff, 0xf5 };
		uint8_t f[12];
		struct pend *p = calloc(1, sizeof(*p));

		memcpy(f, close_frame, sizeof(f));
		if (p) {
			p->xid = c->next_xid++;
			p->type = ZOP_CLOSESESSION;
			be32_put(f + 4, p->xid);
			if (conn_send(c, f, sizeof(f)) == 0) {
				q_push(&c->sent, p);
				c->state = S_CLOSING;
				c->close_deadline = uv_now(c->loop) + CLOSE_WAIT_MS;
				/* requests already sent get their replies first; the close reply ends it */
				return;
			}
			free(p);
		}
	}
	c->state = S_CLOSING;
	finish_close(c);
}

int zkc_state(const struct zkc *c)
{
	if (c->state == S_CLOSING || c->state == S_CLOSED)
		return ZSTATE_CLOSED;
	return c->state == S_CONNECTED ? ZSTATE_SYNC_CONNECTED : ZSTATE_DISCONNECTED;
}

int64_t zkc_session_id(const struct zkc *c) { return c->session_id; }
int zkc_negotiated_timeout(const struct zkc *c) { return c->timeout; }
int64_t zkc_last_zxid(const struct zkc *c) { return c->last_zxid; }
const char *zkc_chroot(const struct zkc *c) { return c->chroot; }
void zkc_set_request_timeout(struct zkc *c, int ms) { c->req_timeout = ms; }

static int path_ok(const char *p)
{
	return p && p[0] == '/';
}

int zkc_submit(struct zkc *c, const struct zk_req *req, zkc_reply_cb cb, void *arg)
{
	struct zk_req tmp = *req;
	struct buf b = BUF_INIT;
	struct pend *p;
	int rc, i;

	if (c->state == S_CLOSING || c->state == S_CLOSED)
		return ZCLOSING;
	if (tmp.path && !path_ok(tmp.path))
		return ZBADARGUMENTS;
	for (i = 0; i < tmp.nops; i++)
		if (!path_ok(tmp.ops[i].path))
			return ZBADARGUMENTS;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ZSYSTEMERROR;
	tmp.xid = c->next_xid;
	c->next_xid = c->next_xid == INT32_MAX ? 1 : c->next_xid + 1;
	rc = encode_frame(c, &tmp, &b);
	if (rc) {
		buf_release(&b);
		free(p);
		return rc;
	}
	p->xid = tmp.xid;
	p->type = tmp.type;
	p->cb = cb;
	p->arg = arg;
	p->frame = buf_detach(&b, &p->frame_len);
	if (c->req_timeout > 0)
		p->deadline = uv_now(c->loop) + (uint64_t)c->req_timeout;
	switch (tmp.type) {
	case ZOP_EXISTS:
		p->watch_kinds = tmp.watch ? ZKC_W_DATA : 0;
		break;
	case ZOP_GETDATA:
		p->watch_kinds = tmp.watch ? ZKC_W_DATA : 0;
		break;
	case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2:
		p->watch_kinds = tmp.watch ? ZKC_W_CHILD : 0;
		break;
	case ZOP_ADDWATCH:
		p->watch_kinds = tmp.mode == ZADDWATCH_PERSISTENT_RECURSIVE ? ZKC_W_RECURSIVE
									    : ZKC_W_PERSISTENT;
		break;
	}
	if (p->watch_kinds && !(p->watch_path = strdup(tmp.path))) {
		pend_free(p);
		return ZSYSTEMERROR;
	}
	if (c->state == S_CONNECTED && !c->unsent.head && conn_send(c, p->frame, p->frame_len) == 0)
		q_push(&c->sent, p);
	else
		q_push(&c->unsent, p);
	return 0;
}

static const struct zk_acl open_acl_entry = { ZPERM_ALL, { "world", "anyone" } };

static int simple(struct zkc *c, int type, const char *path, int watch,
		  zkc_reply_cb cb, void *arg)
{
	struct zk_req r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.path = (char *)path;
	r.watch = watch;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_exists(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg)
{
	return simple(c, ZOP_EXISTS, path, watch, cb, arg);
}

int zkc_get_data(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg)
{
	return simple(c, ZOP_GETDATA, path, watch, cb, arg);
}

int zkc_get_children2(struct zkc *c, const char *path, int watch, zkc_reply_cb cb, void *arg)
{
	return simple(c, ZOP_GETCHILDREN2, path, watch, cb, arg);
}

int zkc_get_acl(struct zkc *c, const char *path, zkc_reply_cb cb, void *arg)
{
	return simple(c, ZOP_GETACL, path, 0, cb, arg);
}

int zkc_sync(struct zkc *c, const char *path, zkc_reply_cb cb, void *arg)
{
	return simple(c, ZOP_SYNC, path, 0, cb, arg);
}

int zkc_create(struct zkc *c, const char *path, const void *data, int32_t data_len,
	       const struct zk_acl_list *acl, int flags, zkc_reply_cb cb, void *arg)
{
	struct zk_req r;
	struct zk_acl_list open = { 1, (struct zk_acl *)&open_acl_entry };

	memset(&r, 0, sizeof(r));
	r.type = ZOP_CREATE2;
	r.path = (char *)path;
	r.data = (uint8_t *)data;
	r.data_len = data_len;
	r.acl = acl ? *acl : open;
	r.flags = flags;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_delete(struct zkc *c, const char *path, int32_t version, zkc_reply_cb cb, void *arg)
{
	struct zk_req r;

	memset(&r, 0, sizeof(r));
	r.type = ZOP_DELETE;
	r.path = (char *)path;
	r.version = version;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_set_data(struct zkc *c, const char *path, const void *data, int32_t data_len,
		 int32_t version, zkc_reply_cb cb, void *arg)
{
	struct zk_req r;

	memset(&r, 0, sizeof(r));
	r.type = ZOP_SETDATA;
	r.path = (char *)path;
	r.data = (uint8_t *)data;
	r.data_len = data_len;
	r.version = version;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_set_acl(struct zkc *c, const char *path, const struct zk_acl_list *acl,
		int32_t version, zkc_reply_cb cb, void *arg)
{
	struct zk_req r;

	memset(&r, 0, sizeof(r));
	r.type = ZOP_SETACL;
	r.path = (char *)path;
	r.acl = *acl;
	r.version = version;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_add_watch(struct zkc *c, const char *path, int mode, zkc_reply_cb cb, void *arg)
{
	struct zk_req r;

	memset(&r, 0, sizeof(r));
	r.type = ZOP_ADDWATCH;
	r.path = (char *)path;
	r.mode = mode;
	return zkc_submit(c, &r, cb, arg);
}

int zkc_add_auth(struct zkc *c, const char *scheme, const void *data, int32_t len,
		 zkc_reply_cb cb, void *arg)
{
	struct auth *a, **pp;

	if (c->state == S_CLOSING || c->state == S_CLOSED)
		return ZCLOSING;
	if (!scheme || len < 0)
		return ZBADARGUMENTS;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ZSYSTEMERROR;
	a->scheme = strdup(scheme);
	a->data = malloc((size_t)len + 1);
	if (!a->scheme || !a->data) {
		free(a->scheme);
		free(a->data);
		free(a);
		return ZSYSTEMERROR;
	}
	memcpy(a->data, data, (size_t)len);
	a->len = len;
	a->cb = cb;
	a->arg = arg;
	for (pp = &c->auths; *pp; pp = &(*pp)->next)
		;
	*pp = a;
	if (c->state == S_CONNECTED)
		send_auth(c, a);
	return 0;
}

int zkc_multi_err(const struct zk_resp *resp)
{
	int32_t i;

	if (!resp)
		return ZSYSTEMERROR;
	if (resp->err)
		return resp->err;
	for (i = 0; i < resp->nresults; i++)
		if (resp->results[i].type == ZOP_ERROR && resp->results[i].err)
			return resp->results[i].err;
	return 0;
}

/* ---- synchronous layer ----------------------------------------------------------------- */

int zkc_wait_connected(struct zkc *c, int timeout_ms)
{
	uint64_t end = uv_now(c->loop) + (uint64_t)timeout_ms;

	for (;;) {
		if (c->state == S_CONNECTED)
			return 0;
		if (c->state == S_CLOSING || c->state == S_CLOSED)
			return ZCLOSING;
		if (c->pub_state == ZSTATE_AUTH_FAILED)
			return ZAUTHFAILED;
		if (uv_now(c->loop) >= end)
			return ZOPERATIONTIMEOUT;
		uv_run(c->loop, UV_RUN_ONCE);
	}
}

struct sync_call {
	int done;
	int rc;
	struct zk_resp *out;
};

static void sync_cb(struct zkc *c, int rc, const struct zk_resp *resp, void *arg)
{
	struct sync_call *s = arg;
	int32_t i;

	s->done = 1;
	s->rc = rc;
	if (!resp)
		return;
	/* take a deep copy: resp is released when this callback returns */
	*s->out = *resp;
	s->out->path = resp->path ? strdup(resp->path) : NULL;
	s->out->data = NULL;
	if (resp->data) {
		s->out->data = malloc((size_t)(resp->data_len > 0 ? resp->data_len : 0) + 1);
		if (s->out->data)
			memcpy(s->out->data, resp->data, (size_t)(resp->data_len > 0 ? resp->data_len : 0));
	}
	zk_acl_list_copy(&s->out->acl, &resp->acl);
	memset(&s->out->children, 0, sizeof(s->out->children));
	for (i = 0; i < resp->children.n; i++)
		zk_strvec_push(&s->out->children, resp->children.v[i]);
	if (resp->children.n < 0)
		s->out->children.n = 0;
	s->out->nwho = 0;
	s->out->who = NULL;
	if (resp->nwho > 0 && (s->out->who = calloc((size_t)resp->nwho, sizeof(*s->out->who)))) {
		s->out->nwho = resp->nwho;
		for (i = 0; i < resp->nwho; i++) {
			s->out->who[i].scheme = resp->who[i].scheme ? strdup(resp->who[i].scheme) : NULL;
			s->out->who[i].user = resp->who[i].user ? strdup(resp->who[i].user) : NULL;
		}
	}
	s->out->nresults = 0;
	s->out->results = NULL;
	if (resp->nresults > 0) {
		s->out->results = calloc((size_t)resp->nresults, sizeof(*s->out->results));
		if (s->out->results) {
			s->out->nresults = resp->nresults;
			for (i = 0; i < resp->nresults; i++) {
				s->out->results[i].type = resp->results[i].type;
				s->out->results[i].err = resp->results[i].err;
				s->out->results[i].stat = resp->results[i].stat;
				if (resp->results[i].path)
					s->out->results[i].path = strdup(resp->results[i].path);
			}
		}
	}
}

int zkc_call(struct zkc *c, const struct zk_req *req, struct zk_resp *resp)
{
	struct sync_call s = { 0, 0, resp };
	int rc;

	memset(resp, 0, sizeof(*resp));
	rc = zkc_submit(c, req, sync_cb, &s);
	if (rc)
		return rc;
	while (!s.done)
		uv_run(c->loop, UV_RUN_ONCE);
	return s.rc;
}
