/*
 * zab_learner: joins a running ensemble's leader over the quorum port as a follower or an
 * observer, with our Zab learner (ensemble/learner.c: the handshake, the sync from a
 * snapshot stream or a diff, ACKs, commits) and data tree, and keeps a replica of the
 * leader's tree. Test scaffolding for test_zab_learner.sh: it checks our side of Zab
 * against Apache ZooKeeper 3.8's leader, until zkensemble runs Zab itself. Its "log" is
 * memory: a txn counts as logged once the packet that carried it has been handled (no
 * disk: this is a protocol test).
 *
 *   zab_learner follower|observer HOST:PORT SID DUMPFILE
 *     prints one line per step (LEADERINFO, SNAP/DIFF, NEWLEADER, UPTODATE, each applied
 *     txn); on SIGUSR1 writes the tree to DUMPFILE (one line per znode: path czxid mzxid
 *     pzxid version cversion aversion ephemeralOwner numChildren data-hex) and prints
 *     "dumped"; exits when the leader goes away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "datatree.h"
#include "learner.h"
#include "txn.h"
#include "zkproto.h"

static volatile sig_atomic_t want_dump;
static const char *dump_file;
static int fd = -1;
static struct zk_tree *tree;
static int64_t last_logged = -1;
static int64_t napplied;

static void on_usr1(int sig)
{
	(void)sig;
	want_dump = 1;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void dump_node(FILE *f, const char *path)
{
	const struct zk_node *n = tree_lookup(tree, path);
	struct zk_strvec kids = { 0, NULL };
	struct zk_stat st;
	const uint8_t *d;
	int32_t len, i;

	if (!n)
		return;
	node_stat(n, &st);
	d = node_data(n, &len);
	fprintf(f, "%s %" PRId64 " %" PRId64 " %" PRId64 " %d %d %d %" PRId64 " %d ", path,
		st.czxid, st.mzxid, st.pzxid, st.version, st.cversion, st.aversion,
		st.ephemeral_owner, st.num_children);
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", d[i]);
	fputc('\n', f);
	if (node_children(n, &kids))
		return;
	for (i = 0; i < kids.n; i++) {
		char child[4096];

		snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", kids.v[i]);
		dump_node(f, child);
	}
	zk_strvec_release(&kids);
}

static void dump(void)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dump_file);
	f = fopen(tmp, "w");
	if (!f)
		return;
	dump_node(f, "/");
	fclose(f);
	rename(tmp, dump_file);
	say("dumped");
}

/* ---- what the learner asks for ------------------------------------------------------ */

static void io_send(void *ctx, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			say("error: write to the leader failed");
			exit(1);
		}
		off += (size_t)n;
	}
}

static void io_epoch(void *ctx, int which, int64_t epoch)
{
	say("%s epoch %" PRId64, which ? "current" : "accepted", epoch);
}

static void io_snapshot(void *ctx, struct zk_tree *t, struct storage_session *s, int32_t ns,
			int64_t zxid)
{
	tree_free(tree);
	tree = t;
	free(s);
	say("SNAP at 0x%" PRIx64 ": %d sessions, %" PRId64 " znodes", (uint64_t)zxid, ns,
	    tree_node_count(t));
}

static void io_persist(void *ctx)
{
	say("snapshot taken");
}

static void io_truncate(void *ctx, int64_t zxid)
{
	say("TRUNC to 0x%" PRIx64, (uint64_t)zxid);
}

static void io_log(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	last_logged = zxid;
}

static void io_apply(void *ctx, int64_t zxid, const uint8_t *txn, size_t len)
{
	struct zk_txn t;
	struct zk_resp r;

	if (txn_decode(&t, txn, len)) {
		say("error: undecodable txn 0x%" PRIx64, (uint64_t)zxid);
		exit(1);
	}
	memset(&r, 0, sizeof(r));
	if (tree_apply(tree, &t, &r, NULL, NULL)) {
		say("error: apply failed");
		exit(1);
	}
	napplied++;
	say("apply 0x%" PRIx64 " type %d", (uint64_t)t.hdr.zxid, t.hdr.type);
	zk_resp_release(&r);
	txn_release(&t);
}

static void io_synced(void *ctx, int64_t epoch)
{
	say("UPTODATE: epoch %" PRId64 ", synced at 0x%" PRIx64 ", %" PRId64 " znodes", epoch,
	    (uint64_t)tree_last_zxid(tree), tree_node_count(tree));
}

static void io_failed(void *ctx, const char *why)
{
	say("error: %s", why);
	exit(1);
}

int main(int argc, char **argv)
{
	struct learner_io io = { NULL, io_send, io_epoch, io_snapshot, io_persist, io_truncate,
				 io_log, io_apply, io_synced, io_failed };
	struct learner_cfg cfg;
	struct learner *l;
	struct sockaddr_in sa;
	struct sigaction act;
	char host[256];
	const char *colon;
	uint8_t b[65536];
	int one = 1;

	if (argc != 5 || (strcmp(argv[1], "follower") && strcmp(argv[1], "observer")) ||
	    !(colon = strrchr(argv[2], ':')) || colon - argv[2] >= (int)sizeof(host)) {
		fprintf(stderr, "usage: zab_learner follower|observer HOST:PORT SID DUMPFILE\n");
		return 2;
	}
	memcpy(host, argv[2], (size_t)(colon - argv[2]));
	host[colon - argv[2]] = '\0';
	dump_file = argv[4];
	/* No SA_RESTART: a dump request interrupts a blocked read. */
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_usr1;
	sigaction(SIGUSR1, &act, NULL);
	tree = tree_new();
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (!tree || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		say("error: cannot connect to the leader");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	/* An empty database that never accepted an epoch. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = strtoll(argv[3], NULL, 10);
	cfg.observer = !strcmp(argv[1], "observer");
	l = learner_new(&cfg, &io);
	if (!l)
		return 1;
	learner_start(l);
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n < 0 && errno == EINTR) {
			n = 0;
		} else if (n <= 0) {
			say("leader closed the connection");
			return 0;
		}
		if (n > 0 && learner_input(l, b, (size_t)n))
			return 1;
		/* Everything handed to the log so far is "durable" now. */
		if (last_logged >= 0)
			learner_logged(l, last_logged);
		if (want_dump) {
			want_dump = 0;
			dump();
		}
	}
}
