/*
 * qcnx.c: the election port's connections (see qcnx.h). Everything runs on the loop
 * thread. A connection's memory is freed only in its close callback, so a struct qconn
 * stays valid through any callback that closes it.
 */
#include "qcnx.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

enum qc_state {
	QC_CONNECTING,		/* outgoing, not connected yet */
	QC_HANDSHAKE,		/* incoming, waiting for the initial message */
	QC_ESTABLISHED,		/* the pair's connection */
	QC_CLOSE_AFTER_WRITE,	/* outgoing to a larger sid: initial message, then close */
	QC_CLOSING,
};

struct qpeer;

struct qconn {
	struct qcnx *q;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	int writing;
	struct buf wbuf;
	struct buf in;
	enum qc_state state;
	struct qpeer *peer;		/* NULL until an incoming one has said who it is */
	uint64_t since;			/* uv_now at creation, for the handshake timeout */
	struct qconn *next, *prev;
};

struct qpeer {
	int64_t sid;
	int have_addr;
	struct sockaddr_in addr;
	char addrstr[300];		/* "host:port", as we announce it (self) */
	struct qconn *conn;		/* established */
	struct qconn *connecting;	/* an outgoing attempt */
	struct buf pending;		/* not sent yet (latest wins) */
	int has_pending;
	struct buf last;		/* the last one sent: sent again on a new connection */
	int has_last;
};

struct selfmsg {
	struct selfmsg *next;
	size_t len;
	uint8_t p[];
};

struct qcnx {
	uv_loop_t *loop;
	int64_t myid;
	struct qpeer *peers;
	int npeers, cap;
	int nconfigured;		/* peers[0 .. nconfigured) came from the configuration */
	int self;			/* index of this server in peers */
	uv_tcp_t listener;
	uv_async_t wake;		/* self-delivery */
	uv_timer_t sweep;
	int handles;			/* open libuv handles, conns included */
	struct qconn *conns;
	struct selfmsg *self_head, *self_tail;
	qcnx_msg_fn on_msg;
	void *ctx;
	int closing;
};

static void conn_close(struct qconn *c);
static void send_frame(struct qconn *c, const uint8_t *p, size_t len);

/* ---- peers ---------------------------------------------------------------------------- */

static struct qpeer *find_peer(struct qcnx *q, int64_t sid)
{
	int i;

	for (i = 0; i < q->npeers; i++)
		if (q->peers[i].sid == sid)
			return &q->peers[i];
	return NULL;
}

static int resolve(const char *host, int port, struct sockaddr_in *out)
{
	struct addrinfo hints, *res = NULL;

	if (uv_ip4_addr(host, port, out) == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -1;
	*out = *(struct sockaddr_in *)res->ai_addr;
	out->sin_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

/*
 * A server not in the configuration introduced itself: remember it (and where it listens,
 * from its initial message, if that is a numeric IPv4 "host:port"), as Apache does. Only
 * MAX_STRANGERS of them: anyone can reach the port, and a pre-3.5 initial message is any
 * positive long.
 */
#define MAX_STRANGERS 64

static struct qpeer *add_peer(struct qcnx *q, int64_t sid, const char *addr, size_t alen)
{
	struct qpeer *p;
	char tmp[300];
	char *colon;

	if (q->npeers >= q->nconfigured + MAX_STRANGERS) {
		log_warn("election port: too many unknown servers, refusing sid %lld",
			 (long long)sid);
		return NULL;
	}
	if (q->npeers == q->cap) {
		int cap = q->cap * 2;
		struct qpeer *v = realloc(q->peers, sizeof(*v) * (size_t)cap);
		int i;

		if (!v)
			return NULL;
		/* Connections point at their peer: repoint them after the move. */
		for (i = 0; i < q->npeers; i++) {
			if (v[i].conn)
				v[i].conn->peer = &v[i];
			if (v[i].connecting)
				v[i].connecting->peer = &v[i];
		}
		q->peers = v;
		q->cap = cap;
	}
	p = &q->peers[q->npeers++];
	memset(p, 0, sizeof(*p));
	p->sid = sid;
	if (alen < sizeof(tmp)) {
		memcpy(tmp, addr, alen);
		tmp[alen] = '\0';
		colon = strrchr(tmp, ':');
		if (colon) {
			*colon = '\0';
			p->have_addr = uv_ip4_addr(tmp, atoi(colon + 1), &p->addr) == 0;
		}
	}
	return p;
}

/* ---- connections -------------------------------------------------------------------- */

static void conn_closed_cb(uv_handle_t *h);

static void handle_closed(struct qcnx *q)
{
	int i;

	if (--q->handles > 0 || !q->closing)
		return;
	while (q->self_head) {
		struct selfmsg *m = q->self_head;

		q->self_head = m->next;
		free(m);
	}
	for (i = 0; i < q->npeers; i++) {
		buf_release(&q->peers[i].pending);
		buf_release(&q->peers[i].last);
	}
	free(q->peers);
	free(q);
}

static void conn_closed_cb(uv_handle_t *h)
{
	struct qconn *c = h->data;
	struct qcnx *q = c->q;

	if (c->prev)
		c->prev->next = c->next;
	else
		q->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_release(&c->wbuf);
	buf_release(&c->in);
	free(c);
	handle_closed(q);
}

static void conn_close(struct qconn *c)
{
	if (c->state == QC_CLOSING)
		return;
	c->state = QC_CLOSING;
	if (c->peer && c->peer->conn == c)
		c->peer->conn = NULL;
	if (c->peer && c->peer->connecting == c)
		c->peer->connecting = NULL;
	uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static struct qconn *conn_new(struct qcnx *q, enum qc_state state)
{
	struct qconn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (uv_tcp_init(q->loop, &c->tcp)) {
		free(c);
		return NULL;
	}
	c->q = q;
	c->state = state;
	c->since = uv_now(q->loop);
	c->tcp.data = c;
	c->next = q->conns;
	if (q->conns)
		q->conns->prev = c;
	q->conns = c;
	q->handles++;
	return c;
}

static void write_cb(uv_write_t *req, int status)
{
	struct qconn *c = req->data;
	struct qpeer *p = c->peer;

	c->writing = 0;
	buf_reset(&c->wbuf);
	if (c->state == QC_CLOSING)
		return;
	if (status < 0 || c->state == QC_CLOSE_AFTER_WRITE) {
		conn_close(c);
		return;
	}
	if (c->state == QC_ESTABLISHED && p && p->has_pending) {
		p->has_pending = 0;
		send_frame(c, p->pending.p, p->pending.len);
	}
}

/* Writes what is in wbuf. */
static void start_write(struct qconn *c)
{
	uv_buf_t ub = uv_buf_init((char *)c->wbuf.p, (unsigned)c->wbuf.len);

	if (c->wbuf.oom) {
		conn_close(c);
		return;
	}
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, write_cb)) {
		conn_close(c);
		return;
	}
	c->writing = 1;
}

static void send_frame(struct qconn *c, const uint8_t *p, size_t len)
{
	struct qpeer *peer = c->peer;

	if (peer && p != peer->last.p) {
		buf_reset(&peer->last);
		buf_put(&peer->last, p, len);
		peer->has_last = !peer->last.oom;
	}
	buf_reset(&c->wbuf);
	buf_put_int(&c->wbuf, (int32_t)len);
	buf_put(&c->wbuf, p, len);
	start_write(c);
}

/* The pair's connection is up: what was waiting goes, or the last message again. */
static void established(struct qconn *c)
{
	struct qpeer *p = c->peer;

	if (p->conn && p->conn != c)
		conn_close(p->conn);
	p->conn = c;
	c->state = QC_ESTABLISHED;
	if (c->writing)
		return;		/* write_cb sends the pending one */
	if (p->has_pending) {
		p->has_pending = 0;
		send_frame(c, p->pending.p, p->pending.len);
	} else if (p->has_last) {
		send_frame(c, p->last.p, p->last.len);
	}
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	struct qconn *c = h->data;

	(void)hint;
	if (buf_grow(&c->in, 4096)) {
		ub->base = NULL;
		ub->len = 0;
		return;
	}
	ub->base = (char *)c->in.p + c->in.len;
	ub->len = c->in.cap - c->in.len;
}

static void connect_to(struct qcnx *q, struct qpeer *p);

/* The initial message of an incoming connection; 1 when it is complete, 0 for more, -1 bad. */
static int handshake(struct qconn *c, size_t *used)
{
	struct qcnx *q = c->q;
	const uint8_t *d = c->in.p;
	size_t n = c->in.len;
	int64_t v, sid;
	int32_t alen = 0;
	const char *addr = "";
	struct qpeer *p;

	if (n < 8)
		return 0;
	v = be64_get(d);
	if (v >= 0) {
		sid = v;	/* a pre-3.5 server: its bare sid */
		*used = 8;
	} else if (v == QCNX_PROTOCOL_V1 || v == QCNX_PROTOCOL_V1 + 1) {
		if (n < 20)
			return 0;
		sid = be64_get(d + 8);
		alen = be32_get(d + 16);
		if (alen < 1 || alen > 2048) {
			log_warn("election port: initial message with address length %d, closing",
				 alen);
			return -1;
		}
		if (n < 20 + (size_t)alen)
			return 0;
		addr = (const char *)d + 20;
		*used = 20 + (size_t)alen;
	} else {
		log_warn("election port: unknown protocol version %lld, closing", (long long)v);
		return -1;
	}
	if (sid == q->myid) {
		log_warn("election port: a connection claims our own sid %lld, closing",
			 (long long)sid);
		return -1;
	}
	p = find_peer(q, sid);
	if (!p)
		p = add_peer(q, sid, addr, (size_t)alen);
	if (!p)
		return -1;
	c->peer = p;
	if (sid < q->myid) {
		/* The larger sid keeps the pair's connection: ours, opened now. */
		c->peer = NULL;
		if (!p->conn && !p->connecting)
			connect_to(q, p);
		return -1;
	}
	established(c);
	return 1;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *ub)
{
	struct qconn *c = s->data;
	size_t off = 0;

	(void)ub;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->in.len += (size_t)nread;
	if (c->state == QC_HANDSHAKE) {
		size_t used = 0;
		int r = handshake(c, &used);

		if (r < 0) {
			conn_close(c);
			return;
		}
		if (r == 0)
			return;
		off = used;
	}
	while (c->state == QC_ESTABLISHED && c->in.len - off >= 4) {
		int32_t len = be32_get(c->in.p + off);

		if (len <= 0 || len > QCNX_MAX_FRAME) {
			log_warn("election port: frame of %d bytes from sid %lld, closing", len,
				 (long long)c->peer->sid);
			conn_close(c);
			return;
		}
		if (c->in.len - off < 4 + (size_t)len)
			break;
		c->q->on_msg(c->q->ctx, c->peer->sid, c->in.p + off + 4, (size_t)len);
		off += 4 + (size_t)len;
	}
	if (c->state == QC_CLOSING)
		return;
	if (c->state != QC_ESTABLISHED && c->state != QC_HANDSHAKE) {
		off = c->in.len;	/* nothing to read on a connection we are closing */
	}
	memmove(c->in.p, c->in.p + off, c->in.len - off);
	c->in.len -= off;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct qconn *c = req->data;
	struct qcnx *q = c->q;
	struct qpeer *p = c->peer;
	const char *me = q->peers[q->self].addrstr;

	if (c->state == QC_CLOSING)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (p->connecting == c)
		p->connecting = NULL;
	uv_tcp_nodelay(&c->tcp, 1);
	buf_reset(&c->wbuf);
	buf_put_long(&c->wbuf, QCNX_PROTOCOL_V1);
	buf_put_long(&c->wbuf, q->myid);
	buf_put_int(&c->wbuf, (int32_t)strlen(me));
	buf_put(&c->wbuf, me, strlen(me));
	if (p->sid > q->myid) {
		/* It keeps the pair's connection: tell it we are here, and it connects back. */
		c->state = QC_CLOSE_AFTER_WRITE;
		start_write(c);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb)) {
		conn_close(c);
		return;
	}
	start_write(c);
	established(c);
}

static void connect_to(struct qcnx *q, struct qpeer *p)
{
	struct qconn *c;

	if (!p->have_addr || q->closing)
		return;
	c = conn_new(q, QC_CONNECTING);
	if (!c)
		return;
	c->peer = p;
	c->creq.data = c;
	if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&p->addr, connect_cb)) {
		conn_close(c);
		return;
	}
	p->connecting = c;
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct qcnx *q = server->data;
	struct qconn *c;

	if (status < 0 || q->closing)
		return;
	c = conn_new(q, QC_HANDSHAKE);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) ||
	    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb)) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
}

/* ---- self-delivery, timeouts -------------------------------------------------------- */

static void wake_cb(uv_async_t *h)
{
	struct qcnx *q = h->data;

	while (q->self_head && !q->closing) {
		struct selfmsg *m = q->self_head;

		q->self_head = m->next;
		if (!q->self_head)
			q->self_tail = NULL;
		q->on_msg(q->ctx, q->myid, m->p, m->len);
		free(m);
	}
}

static void sweep_cb(uv_timer_t *h)
{
	struct qcnx *q = h->data;
	struct qconn *c, *next;
	uint64_t now = uv_now(q->loop);

	for (c = q->conns; c; c = next) {
		next = c->next;
		if ((c->state == QC_HANDSHAKE || c->state == QC_CONNECTING) &&
		    now - c->since > QCNX_HANDSHAKE_MS)
			conn_close(c);
	}
}

static void handle_closed_cb(uv_handle_t *h)
{
	handle_closed(h->data);
}

/* ---- API ---------------------------------------------------------------------------- */

void qcnx_send(struct qcnx *q, int64_t sid, const uint8_t *p, size_t len)
{
	struct qpeer *peer;

	if (q->closing || len == 0 || len > QCNX_MAX_FRAME)
		return;
	if (sid == q->myid) {
		struct selfmsg *m = malloc(sizeof(*m) + len);

		if (!m)
			return;
		m->next = NULL;
		m->len = len;
		memcpy(m->p, p, len);
		if (q->self_tail)
			q->self_tail->next = m;
		else
			q->self_head = m;
		q->self_tail = m;
		uv_async_send(&q->wake);
		return;
	}
	peer = find_peer(q, sid);
	if (!peer)
		return;
	if (peer->conn && !peer->conn->writing) {
		peer->has_pending = 0;
		send_frame(peer->conn, p, len);
		return;
	}
	buf_reset(&peer->pending);
	buf_put(&peer->pending, p, len);
	peer->has_pending = !peer->pending.oom;
	if (!peer->conn && !peer->connecting)
		connect_to(q, peer);
}

int qcnx_open(uv_loop_t *loop, int64_t myid, const struct qcnx_peer *peers, int npeers,
	      qcnx_msg_fn on_msg, void *ctx, struct qcnx **out, char *errmsg, size_t errlen)
{
	struct qcnx *q = calloc(1, sizeof(*q));
	int i, rc;

	*out = NULL;
	if (!q)
		goto oom;
	q->peers = calloc((size_t)npeers + 4, sizeof(*q->peers));
	if (!q->peers)
		goto oom;
	q->cap = npeers + 4;
	q->loop = loop;
	q->myid = myid;
	q->on_msg = on_msg;
	q->ctx = ctx;
	q->self = -1;
	for (i = 0; i < npeers; i++) {
		struct qpeer *p = &q->peers[q->npeers++];

		p->sid = peers[i].sid;
		snprintf(p->addrstr, sizeof(p->addrstr), "%s:%d", peers[i].host, peers[i].port);
		p->have_addr = resolve(peers[i].host, peers[i].port, &p->addr) == 0;
		if (!p->have_addr)
			log_warn("election: cannot resolve %s for server %lld; it is left out until "
				 "it connects", peers[i].host, (long long)p->sid);
		if (p->sid == myid)
			q->self = i;
	}
	q->nconfigured = q->npeers;
	if (q->self < 0 || !q->peers[q->self].have_addr) {
		snprintf(errmsg, errlen, "election: no usable address for this server (%lld)",
			 (long long)myid);
		goto err;
	}
	uv_tcp_init(loop, &q->listener);
	q->listener.data = q;
	q->handles++;
	uv_async_init(loop, &q->wake, wake_cb);
	q->wake.data = q;
	q->handles++;
	uv_timer_init(loop, &q->sweep);
	q->sweep.data = q;
	q->handles++;
	uv_timer_start(&q->sweep, sweep_cb, 1000, 1000);
	rc = uv_tcp_bind(&q->listener, (const struct sockaddr *)&q->peers[q->self].addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&q->listener, 64, accept_cb);
	if (rc) {
		snprintf(errmsg, errlen, "election port %s: %s", q->peers[q->self].addrstr,
			 uv_strerror(rc));
		qcnx_close(q);
		return -1;
	}
	*out = q;
	return 0;
oom:
	snprintf(errmsg, errlen, "out of memory");
err:
	if (q)
		free(q->peers);
	free(q);
	return -1;
}

void qcnx_close(struct qcnx *q)
{
	struct qconn *c, *next;

	if (!q || q->closing)
		return;
	q->closing = 1;
	for (c = q->conns; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	uv_close((uv_handle_t *)&q->listener, handle_closed_cb);
	uv_close((uv_handle_t *)&q->wake, handle_closed_cb);
	uv_close((uv_handle_t *)&q->sweep, handle_closed_cb);
}
