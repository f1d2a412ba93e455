/*
 * fle_peer: a server that only runs leader election, over the real election port: the
 * election state machine (ensemble/election.c) on the connection manager
 * (ensemble/qcnx.c), configured from a zoo.cfg (server.N lines, dataDir/myid) like
 * zkensemble. Test scaffolding for test_election.sh until the server runs elections
 * itself: it takes part with Apache ZooKeeper 3.8 servers or with other fle_peers.
 *
 *   fle_peer zoo.cfg [LAST_ZXID_HEX [EPOCH [lead]]]
 *     prints "looking round N" when a round starts and
 *     "decided <leading|following|observing> leader <sid> round <n>" when it ends, then
 *     keeps answering LOOKING servers until SIGTERM.
 *   With "lead", a server elected leader also runs Zab's leader side (ensemble/leader.c)
 *   on its quorum port: learners (Apache followers) sync, it prints "established epoch N",
 *   pings every tickTime/2, turns the sessions the followers forward (createSession,
 *   closeSession) into txns so that their clients can connect, and on SIGUSR1 proposes
 *   10 creates (/zab<i>, data "v<i>"), printing "commit 0x..." as each commits. Its own
 *   log is memory (durable at once): a protocol test, not a server. When it loses its
 *   quorum it prints "lost leadership: ..." and exits (Apache would look again).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "election.h"
#include "log.h"
#include "datatree.h"
#include "epochs.h"
#include "leader.h"
#include "vfs.h"
#include "qcnx.h"
#include "txn.h"
#include "zkproto.h"

struct lconn_h {
	uv_tcp_t tcp;
	int id;
	int open;
	struct peer *p;
};

struct peer {
	uv_loop_t *loop;
	struct qcnx *q;
	struct fle *e;
	uv_timer_t timer;
	uv_signal_t sigterm, sigint;
	struct buf out;
	int64_t myid;
	/* Leader mode. */
	int lead;
	const struct zk_config *cfg;
	struct leader *leader;
	struct zk_tree *tree;
	uv_tcp_t qlisten;
	uv_timer_t ping;
	uv_signal_t sigusr1;
	struct lconn_h *lc[64];
	int nlc;
	int64_t nproposed;
	int64_t sessions[256];	/* live sessions (committed createSession, no closeSession) */
	int nsessions;
};

static void start_leading(struct peer *p, int64_t last_zxid, int64_t epoch);
/* This server's database, as given on the command line (it leads from it). */
static int64_t start_zxid, start_epoch;

static void on_timer(uv_timer_t *t)
{
	struct peer *p = t->data;

	fle_timeout(p->e);
}

static void io_send(void *ctx, int64_t to, const struct fle_msg *m)
{
	struct peer *p = ctx;

	buf_reset(&p->out);
	fle_encode(&p->out, m);
	qcnx_send(p->q, to, p->out.p, p->out.len);
}

static void io_timer(void *ctx, int64_t ms)
{
	struct peer *p = ctx;

	if (ms > 0)
		uv_timer_start(&p->timer, on_timer, (uint64_t)ms, 0);
	else
		uv_timer_stop(&p->timer);
}

static void io_decided(void *ctx, enum fle_state st, int64_t leader, int64_t zxid,
		       int64_t election_epoch, int64_t peer_epoch)
{
	static const char *names[] = { "looking", "following", "leading", "observing" };

	struct peer *p = ctx;

	printf("decided %s leader %" PRId64 " round %" PRId64 "\n", names[st], leader,
	       election_epoch);
	fflush(stdout);
	if (p->lead && st == FLE_LEADING && !p->leader)
		start_leading(p, start_zxid, start_epoch);
}

static void on_msg(void *ctx, int64_t sid, const uint8_t *b, size_t len)
{
	struct peer *p = ctx;
	struct fle_msg m;

	if (fle_decode(b, len, &m)) {
		log_warn("fle_peer: undecodable notification of %zu bytes from %" PRId64, len, sid);
		return;
	}
	m.sid = sid;
	fle_receive(p->e, &m);
}

static void on_signal(uv_signal_t *s, int signum)
{
	/* A test driver: nothing to flush. */
	exit(0);
}

/* The membership text as Apache writes it (quorum-protocol.md §1.4). */
static void membership(const struct zk_config *c, struct buf *b)
{
	char line[700];
	int i, j;
	int64_t last = INT64_MIN;

	for (i = 0; i < c->nservers; i++) {
		const struct zk_server_cfg *s = NULL;

		for (j = 0; j < c->nservers; j++)
			if (c->servers[j].id > last && (!s || c->servers[j].id < s->id))
				s = &c->servers[j];
		last = s->id;
		snprintf(line, sizeof(line), "server.%" PRId64 "=%s:%d:%d:%s", s->id, s->host,
			 s->quorum_port, s->election_port, s->observer ? "observer" : "participant");
		buf_put(b, line, strlen(line));
		if (s->client_port) {
			snprintf(line, sizeof(line), ";%s:%d",
				 s->client_host[0] ? s->client_host : "0.0.0.0", s->client_port);
			buf_put(b, line, strlen(line));
		}
		buf_put(b, "\n", 1);
	}
	snprintf(line, sizeof(line), "version=%" PRIx64, (uint64_t)c->config_version);
	buf_put(b, line, strlen(line));
}

/* ---- leader mode ------------------------------------------------------------------- */

static void write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void l_send(void *ctx, int conn, const uint8_t *b, size_t len)
{
	struct peer *p = ctx;
	struct lconn_h *h = conn < p->nlc ? p->lc[conn] : NULL;
	uv_write_t *w;
	uv_buf_t ub;

	if (!h || !h->open)
		return;
	w = malloc(sizeof(*w) + len);
	if (!w)
		return;
	memcpy(w + 1, b, len);
	ub = uv_buf_init((char *)(w + 1), (unsigned)len);
	w->data = w;
	if (uv_write(w, (uv_stream_t *)&h->tcp, &ub, 1, write_done))
		free(w);
}

static void lconn_closed(uv_handle_t *hd)
{
	(void)hd;	/* kept in p->lc until exit: ids stay unique */
}

static void l_drop(void *ctx, int conn, const char *why)
{
	struct peer *p = ctx;
	struct lconn_h *h = conn < p->nlc ? p->lc[conn] : NULL;

	log_warn("leader: dropping learner connection %d: %s", conn, why);
	if (h && h->open) {
		h->open = 0;
		uv_close((uv_handle_t *)&h->tcp, lconn_closed);
	}
}

/* Persisted as Apache does, in <dataDir>/version-2 (ensemble/epochs.c). */
static void l_epoch(void *ctx, int which, int64_t e)
{
	struct peer *p = ctx;
	char dir[4200], err[512];

	snprintf(dir, sizeof(dir), "%s/version-2", p->cfg->data_dir);
	if (vfs_mkdirs(vfs_posix(), dir, NULL, 0) ||
	    epochs_write(vfs_posix(), dir, which ? EPOCHS_CURRENT : EPOCHS_ACCEPTED, e, err,
			 sizeof(err)))
		fprintf(stderr, "fle_peer: cannot persist the epoch: %s\n", err);
	printf("%s epoch %" PRId64 "\n", which ? "current" : "accepted", e);
	fflush(stdout);
}

static void l_stream(void *ctx, struct buf *out)
{
	struct peer *p = ctx;

	buf_put_int(out, 0);
	tree_snap_write(p->tree, out);
}

static void l_log(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	/* Memory is the log here: durable at once. Deferred, as a real fsync would be. */
	struct peer *p = ctx;

	(void)txn;
	(void)len;
	p->nproposed = zxid;
}

static void l_commit(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct peer *p = ctx;
	struct zk_txn t;
	struct zk_resp r;

	if (txn_decode(&t, txn, len) == 0) {
		int i;

		if (t.hdr.type == ZOP_CREATESESSION && p->nsessions < 256)
			p->sessions[p->nsessions++] = t.hdr.client_id;
		for (i = 0; t.hdr.type == ZOP_CLOSESESSION && i < p->nsessions; i++)
			if (p->sessions[i] == t.hdr.client_id)
				p->sessions[i] = p->sessions[--p->nsessions];
		memset(&r, 0, sizeof(r));
		tree_apply(p->tree, &t, &r, NULL, NULL);
		zk_resp_release(&r);
		txn_release(&t);
	}
	printf("commit 0x%" PRIx64 "\n", (uint64_t)zxid);
	fflush(stdout);
}

static void l_established(void *ctx, int64_t epoch)
{
	printf("established epoch %" PRId64 "\n", epoch);
	fflush(stdout);
}

/* Requests forwarded by learners: sessions (so clients of the Apache followers can
 * connect and read). Other requests are not this test driver's business. */
static void l_request(void *ctx, int conn, const uint8_t *d, size_t len)
{
	struct peer *p = ctx;
	int64_t session = be64_get(d);
	int32_t cxid = be32_get(d + 8), type = be32_get(d + 12);
	struct zk_txn t;
	struct buf b = BUF_INIT;
	int64_t z;

	if (type != ZOP_CREATESESSION && type != ZOP_CLOSESESSION)
		return;
	if (type == ZOP_CREATESESSION && len < 20)
		return;
	z = leader_next_zxid(p->leader);
	memset(&t, 0, sizeof(t));
	t.hdr.client_id = session;
	t.hdr.cxid = cxid;
	t.hdr.zxid = z;
	t.hdr.time = 1700000000000LL;
	t.hdr.type = type;
	if (type == ZOP_CREATESESSION)
		t.timeout = be32_get(d + 16);
	txn_encode(&t, &b);
	txn_release(&t);
	leader_propose(p->leader, z, b.p, b.len);
	leader_logged(p->leader, z);
	buf_release(&b);
	printf("session %s 0x%" PRIx64 "\n", type == ZOP_CREATESESSION ? "created" : "closed",
	       (uint64_t)session);
	fflush(stdout);
}

/* Followers report their clients' sessions in PING replies; the first touch of each is
 * printed (a server would reset the session's expiry). */
static void l_touch(void *ctx, int64_t session, int32_t timeout)
{
	static int64_t seen[64];
	static int nseen;
	int i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == session)
			return;
	if (nseen < 64)
		seen[nseen++] = session;
	printf("touch 0x%" PRIx64 " timeout %d\n", (uint64_t)session, timeout);
	fflush(stdout);
}

/* A client moving to another follower keeps its session if it is live here. */
static void l_revalidate(void *ctx, int conn, int64_t session, int32_t timeout)
{
	struct peer *p = ctx;
	int i, valid = 0;

	for (i = 0; i < p->nsessions; i++)
		valid |= p->sessions[i] == session;
	printf("revalidate 0x%" PRIx64 ": %s\n", (uint64_t)session, valid ? "valid" : "invalid");
	fflush(stdout);
	leader_revalidated(p->leader, conn, session, valid);
}

static void lalloc(uv_handle_t *hd, size_t hint, uv_buf_t *ub)
{
	static char b[65536];

	(void)hd;
	(void)hint;
	*ub = uv_buf_init(b, sizeof(b));
}

static void lread(uv_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
	struct lconn_h *h = s->data;

	if (n < 0) {
		leader_disconnected(h->p->leader, h->id);
		if (h->open) {
			h->open = 0;
			uv_close((uv_handle_t *)&h->tcp, lconn_closed);
		}
		return;
	}
	leader_tick(h->p->leader, (int64_t)uv_now(h->p->loop));
	leader_input(h->p->leader, h->id, (const uint8_t *)ub->base, (size_t)n);
	/* Our "log" is durable by the time the next packet is read. */
	if (h->p->nproposed)
		leader_logged(h->p->leader, h->p->nproposed);
}

static void laccept(uv_stream_t *srv, int status)
{
	struct peer *p = srv->data;
	struct lconn_h *h;

	if (status < 0 || p->nlc == 64)
		return;
	h = calloc(1, sizeof(*h));
	if (!h)
		return;
	uv_tcp_init(p->loop, &h->tcp);
	h->tcp.data = h;
	h->p = p;
	h->id = p->nlc;
	if (uv_accept(srv, (uv_stream_t *)&h->tcp)) {
		uv_close((uv_handle_t *)&h->tcp, NULL);
		return;
	}
	h->open = 1;
	p->lc[p->nlc++] = h;
	uv_tcp_nodelay(&h->tcp, 1);
	leader_connected(p->leader, h->id);
	uv_read_start((uv_stream_t *)&h->tcp, lalloc, lread);
}

static void on_ping(uv_timer_t *t)
{
	struct peer *p = t->data;

	leader_tick(p->leader, (int64_t)uv_now(p->loop));
	leader_ping(p->leader);
}

/* Apache would go back to looking; this driver reports it and ends. */
static void l_lost(void *ctx, const char *why)
{
	printf("lost leadership: %s\n", why);
	fflush(stdout);
	exit(0);
}

/* SIGUSR1: ten creates. */
static void on_propose(uv_signal_t *s, int signum)
{
	struct peer *p = s->data;
	int i;

	for (i = 0; i < 10 && leader_is_established(p->leader); i++) {
		int64_t z = leader_next_zxid(p->leader);
		struct zk_txn t;
		struct zk_txn_op *o;
		struct buf b = BUF_INIT;
		char path[64], data[64];

		memset(&t, 0, sizeof(t));
		t.hdr.client_id = 0;
		t.hdr.cxid = 0;
		t.hdr.zxid = z;
		t.hdr.time = 1700000000000LL;
		t.hdr.type = ZOP_CREATE;
		o = txn_add_op(&t);
		snprintf(path, sizeof(path), "/zab%" PRId64, z & 0xffffffff);
		snprintf(data, sizeof(data), "v%" PRId64, z & 0xffffffff);
		o->type = ZOP_CREATE;
		o->path = strdup(path);
		o->data = (uint8_t *)strdup(data);
		o->data_len = (int32_t)strlen(data);
		o->acl.n = 1;
		o->acl.v = calloc(1, sizeof(*o->acl.v));
		o->acl.v[0].perms = ZPERM_ALL;
		o->acl.v[0].id.scheme = strdup("world");
		o->acl.v[0].id.id = strdup("anyone");
		o->parent_cversion = -1;
		txn_encode(&t, &b);
		txn_release(&t);
		leader_propose(p->leader, z, b.p, b.len);
		buf_release(&b);
	}
	leader_logged(p->leader, p->nproposed);
}

static void start_leading(struct peer *p, int64_t last_zxid, int64_t epoch)
{
	static int64_t voters[ZK_MAX_SERVERS];
	struct leader_io lio = { .ctx = p, .send = l_send, .drop = l_drop, .epoch = l_epoch,
				 .snapshot_stream = l_stream, .log = l_log, .commit = l_commit,
				 .established = l_established, .request = l_request,
				 .revalidate = l_revalidate, .touch = l_touch, .lost = l_lost };
	struct leader_cfg lc;
	const struct zk_server_cfg *me = NULL;
	struct sockaddr_in sa;
	int i, nv = 0;

	for (i = 0; i < p->cfg->nservers; i++) {
		if (!p->cfg->servers[i].observer)
			voters[nv++] = p->cfg->servers[i].id;
		if (p->cfg->servers[i].id == p->myid)
			me = &p->cfg->servers[i];
	}
	memset(&lc, 0, sizeof(lc));
	lc.myid = p->myid;
	lc.voters = voters;
	lc.nvoters = nv;
	lc.accepted_epoch = epoch;
	lc.current_epoch = epoch;
	lc.last_zxid = last_zxid;
	lc.config = "";
	lc.init_ms = (int64_t)p->cfg->tick_time * p->cfg->init_limit;
	lc.sync_ms = (int64_t)p->cfg->tick_time * p->cfg->sync_limit;
	p->tree = tree_new();
	p->leader = leader_new(&lc, &lio);
	if (p->leader)
		leader_tick(p->leader, (int64_t)uv_now(p->loop));
	if (!p->leader || !p->tree || !me || uv_ip4_addr(me->host, me->quorum_port, &sa)) {
		fprintf(stderr, "fle_peer: cannot lead\n");
		exit(1);
	}
	uv_tcp_init(p->loop, &p->qlisten);
	p->qlisten.data = p;
	if (uv_tcp_bind(&p->qlisten, (struct sockaddr *)&sa, 0) ||
	    uv_listen((uv_stream_t *)&p->qlisten, 16, laccept)) {
		fprintf(stderr, "fle_peer: cannot listen on the quorum port %d\n", me->quorum_port);
		exit(1);
	}
	uv_timer_init(p->loop, &p->ping);
	p->ping.data = p;
	uv_timer_start(&p->ping, on_ping, (uint64_t)p->cfg->tick_time / 2,
		       (uint64_t)p->cfg->tick_time / 2);
	uv_signal_init(p->loop, &p->sigusr1);
	p->sigusr1.data = p;
	uv_signal_start(&p->sigusr1, on_propose, SIGUSR1);
}

int main(int argc, char **argv)
{
	static struct zk_config cfg;
	struct peer p;
	struct qcnx_peer peers[ZK_MAX_SERVERS];
	int64_t voters[ZK_MAX_SERVERS];
	struct fle_members mem;
	struct fle_io io;
	struct buf text = BUF_INIT;
	char err[1024];
	int64_t zxid = argc > 2 ? (int64_t)strtoull(argv[2], NULL, 16) : 0;
	int64_t epoch = argc > 3 ? strtoll(argv[3], NULL, 10) : 0;

	start_zxid = zxid;
	start_epoch = epoch;
	int i, nv = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fle_peer zoo.cfg [LAST_ZXID_HEX [EPOCH]]\n");
		return 2;
	}
	if (config_load(&cfg, argv[1], err, sizeof(err))) {
		fprintf(stderr, "fle_peer: %s\n", err);
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.loop = uv_default_loop();
	p.myid = cfg.myid;
	p.cfg = &cfg;
	p.lead = argc > 4 && !strcmp(argv[4], "lead");
	for (i = 0; i < cfg.nservers; i++) {
		peers[i].sid = cfg.servers[i].id;
		peers[i].host = cfg.servers[i].host;
		peers[i].port = cfg.servers[i].election_port;
		if (!cfg.servers[i].observer)
			voters[nv++] = cfg.servers[i].id;
	}
	if (qcnx_open(p.loop, cfg.myid, peers, cfg.nservers, on_msg, &p, &p.q, err,
		      sizeof(err))) {
		fprintf(stderr, "fle_peer: %s\n", err);
		return 1;
	}
	membership(&cfg, &text);
	mem.voters = voters;
	mem.nvoters = nv;
	io.ctx = &p;
	io.send = io_send;
	io.timer = io_timer;
	io.decided = io_decided;
	p.e = fle_new(cfg.myid, &mem, &io, (const char *)text.p, text.len);
	if (!p.e)
		return 1;
	uv_timer_init(p.loop, &p.timer);
	p.timer.data = &p;
	uv_signal_init(p.loop, &p.sigterm);
	p.sigterm.data = &p;
	uv_signal_start(&p.sigterm, on_signal, SIGTERM);
	uv_signal_init(p.loop, &p.sigint);
	p.sigint.data = &p;
	uv_signal_start(&p.sigint, on_signal, SIGINT);
	printf("looking round 1\n");
	fflush(stdout);
	fle_start(p.e, zxid, epoch);
	uv_run(p.loop, UV_RUN_DEFAULT);
	fle_free(p.e);
	buf_release(&text);
	buf_release(&p.out);
	return 0;
}
