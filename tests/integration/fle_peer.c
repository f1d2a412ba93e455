/*
 * fle_peer: a server that only runs leader election, over the real election port: the
 * election state machine (ensemble/election.c) on the connection manager
 * (ensemble/qcnx.c), configured from a zoo.cfg (server.N lines, dataDir/myid) like
 * zkensemble. Test scaffolding for test_election.sh until the server runs elections
 * itself: it takes part with Apache ZooKeeper 3.8 servers or with other fle_peers.
 *
 *   fle_peer zoo.cfg [LAST_ZXID_HEX [EPOCH]]
 *     prints "looking round N" when a round starts and
 *     "decided <leading|following|observing> leader <sid> round <n>" when it ends, then
 *     keeps answering LOOKING servers until SIGTERM.
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
#include "qcnx.h"

struct peer {
	uv_loop_t *loop;
	struct qcnx *q;
	struct fle *e;
	uv_timer_t timer;
	uv_signal_t sigterm, sigint;
	struct buf out;
	int64_t myid;
};

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

	printf("decided %s leader %" PRId64 " round %" PRId64 "\n", names[st], leader,
	       election_epoch);
	fflush(stdout);
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
	struct peer *p = s->data;

	qcnx_close(p->q);
	uv_close((uv_handle_t *)&p->timer, NULL);
	uv_close((uv_handle_t *)&p->sigterm, NULL);
	uv_close((uv_handle_t *)&p->sigint, NULL);
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
