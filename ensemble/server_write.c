/*
 * server_write.c: the write path of the standalone server. A write request (or a session
 * event) becomes a txn in prep, is appended to the txn log, and once storage reports it
 * durable it is applied to the tree, its watches fire and its reply goes out; a failed log
 * write fails the writes after the last durable zxid. Snapshots are taken here when the
 * log says one is due. In a quorum, this is the part that changes: the txn goes to the
 * leader's proposal instead of straight to the log.
 */
#include "server_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void pending_free(struct pending *p)
{
	txn_release(&p->txn);
	free(p);
}

/*
 * Hands a prepared txn to the log and the pending list. On failure the txn is released
 * and the zxid given back (nothing else was prepared after it in this call).
 */
int submit_txn(struct zk_server *s, struct pending *p)
{
	if (storage_append(s->storage, &p->txn) != 0) {
		log_error("log append failed for zxid 0x%llx", (long long)p->txn.hdr.zxid);
		prep_reset(s->prep);
		s->zxid = p->txn.hdr.zxid - 1;
		pending_free(p);
		return ZSYSTEMERROR;
	}
	if (s->pend_tail)
		s->pend_tail->next = p;
	else
		s->pend_head = p;
	s->pend_tail = p;
	return 0;
}

struct pending *pending_new(struct conn *c, struct entry *e, int32_t type)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->conn = c;
	p->entry = e;
	p->req_type = type;
	return p;
}

/* Server-made closeSession (expiry) and deleteContainer (reaping). */
void submit_close_session(struct zk_server *s, int64_t sid)
{
	struct pending *p = pending_new(NULL, NULL, ZOP_CLOSESESSION);

	if (!p)
		return;
	sessions_set_closing(s->sessions, sid);
	if (prep_close_session(s->prep, sid, 0, ++s->zxid, wall_ms(), &p->txn)) {
		s->zxid--;
		free(p);
		return;
	}
	submit_txn(s, p);
}

void submit_write(struct conn *c, struct entry *e)
{
	struct zk_server *s = c->srv;
	struct pending *p;
	int rc;

	if (!sessions_exists(s->sessions, c->session_id)) {
		put_header_reply(&e->out, e->req.xid, s->zxid, ZSESSIONEXPIRED);
		e->state = E_DONE;
		return;
	}
	p = pending_new(c, e, e->req.type);
	if (!p)
		goto fail;
	if (e->req.type == ZOP_CLOSESESSION) {
		sessions_set_closing(s->sessions, c->session_id);
		rc = prep_close_session(s->prep, c->session_id, e->req.xid, ++s->zxid, wall_ms(),
					&p->txn);
	} else {
		rc = prep_request(s->prep, &e->req, c->session_id, &c->ids, ++s->zxid, wall_ms(),
				  &p->txn);
	}
	if (rc) {
		s->zxid--;
		free(p);
		goto fail;
	}
	if (submit_txn(s, p))
		goto fail;
	e->state = E_WAIT;
	return;
fail:
	/* The outcome is unknown to nobody but us: the write did not happen. Closing the
	 * connection makes clients retry, as after a server crash. */
	e->state = E_DONE;
	e->close_after = 1;
	c->close_when_flushed = 1;
}

/* Builds the client reply of an applied txn in its entry. */
static void complete_pending(struct zk_server *s, struct pending *p, struct zk_resp *reply)
{
	struct conn *c = p->conn;
	struct entry *e = p->entry;

	if (!c || !e)
		return;
	if (p->txn.hdr.type == ZOP_CREATESESSION) {
		c->session_id = p->txn.hdr.client_id;
		c->watcher.session_id = c->session_id;
		c->state = CONN_READY;
		put_connect_resp(c, &e->out, c->timeout, c->session_id);
		e->state = E_DONE;
		return;
	}
	reply->xid = e->req.xid;
	reply->zxid = p->txn.hdr.zxid;
	if (reply->type != ZOP_MULTI && reply->err == 0)
		reply->type = p->req_type;
	if (p->req_type == ZOP_CLOSESESSION) {
		reply->type = -999;
		e->close_after = 1;
	}
	if (p->req_type == ZOP_CREATECONTAINER && reply->err == 0)
		reply->type = ZOP_CREATECONTAINER;
	put_reply(&e->out, reply);
	c->last_zxid = p->txn.hdr.zxid;
	e->state = E_DONE;
}

static void apply_pending(struct zk_server *s, struct pending *p)
{
	struct zk_resp reply;
	const struct zk_txn *t = &p->txn;

	memset(&reply, 0, sizeof(reply));
	if (tree_apply(s->tree, t, &reply, tree_event_cb, s) != 0)
		log_error("apply of zxid 0x%llx ran out of memory", (long long)t->hdr.zxid);
	prep_applied(s->prep, t->hdr.zxid);
	if ((t->hdr.zxid & 127) == 0) {
		int32_t i = (s->digest_head + s->digest_n) % 1024;

		s->digest_zxid[i] = t->hdr.zxid;
		s->digest_val[i] = tree_digest(s->tree);
		if (s->digest_n < 1024)
			s->digest_n++;
		else
			s->digest_head = (s->digest_head + 1) % 1024;
	}
	if (t->hdr.type == ZOP_CREATESESSION) {
		sessions_add(s->sessions, t->hdr.client_id, t->timeout, now_ms(s));
	} else if (t->hdr.type == ZOP_CLOSESESSION) {
		sessions_remove(s->sessions, t->hdr.client_id);
		if (!p->conn)
			close_session_conns(s, t->hdr.client_id, NULL);
	}
	complete_pending(s, p, &reply);
	zk_resp_release(&reply);
	if (p->conn) {
		/* Reads queued behind this write run now, against the state it produced. */
		conn_pump(p->conn);
	}
}

void durable_cb(void *ctx, int64_t durable_zxid, int status)
{
	struct zk_server *s = ctx;
	struct pending *p;

	while ((p = s->pend_head) && p->txn.hdr.zxid <= durable_zxid) {
		s->pend_head = p->next;
		if (!s->pend_head)
			s->pend_tail = NULL;
		apply_pending(s, p);
		pending_free(p);
	}
	if (status < 0) {
		/* Storage dropped everything after durable_zxid (disk full, I/O error): those
		 * writes did not happen. Their clients get SYSTEMERROR (Apache would have shut
		 * down instead); session txns close their connection so the client retries. The
		 * zxids are handed out again. */
		log_error("txn log write failed: failing %lld writes after zxid 0x%llx",
			  (long long)(s->zxid - durable_zxid), (long long)durable_zxid);
		struct pending *failed = s->pend_head;

		prep_reset(s->prep);
		s->zxid = tree_last_zxid(s->tree);
		/* Detach first: replies below may let connections submit new writes. */
		s->pend_head = s->pend_tail = NULL;
		while ((p = failed)) {
			struct conn *c = p->conn;

			failed = p->next;
			if (p->txn.hdr.type == ZOP_CLOSESESSION && c) {
				/* The session lives on; its owner may close it again. */
				sessions_add(s->sessions, p->txn.hdr.client_id, c->timeout, now_ms(s));
			}
			if (c && p->entry && p->txn.hdr.type != ZOP_CREATESESSION &&
			    p->txn.hdr.type != ZOP_CLOSESESSION) {
				put_header_reply(&p->entry->out, p->entry->req.xid, s->zxid,
						 ZSYSTEMERROR);
				p->entry->state = E_DONE;
				pending_free(p);
				conn_pump(c);
				continue;
			}
			if (c)
				conn_close(c);
			pending_free(p);
		}
	}
	if (storage_snapshot_due(s->storage))
		take_snapshot(s);
}

struct snap_sessions {
	struct storage_session *v;
	int32_t n, cap;
};

static void collect_session(void *ctx, int64_t id, int32_t timeout)
{
	struct snap_sessions *ss = ctx;

	if (ss->n == ss->cap) {
		int32_t cap = ss->cap ? ss->cap * 2 : 64;
		struct storage_session *v = realloc(ss->v, sizeof(*v) * (size_t)cap);

		if (!v)
			return;
		ss->v = v;
		ss->cap = cap;
	}
	ss->v[ss->n].id = id;
	ss->v[ss->n].timeout = timeout;
	ss->n++;
}

void take_snapshot(struct zk_server *s)
{
	struct snap_sessions ss = { NULL, 0, 0 };

	sessions_foreach(s->sessions, collect_session, &ss);
	if (storage_snapshot(s->storage, s->tree, ss.v, ss.n) != 0)
		log_warn("snapshot at zxid 0x%llx failed", (long long)tree_last_zxid(s->tree));
	free(ss.v);
}
