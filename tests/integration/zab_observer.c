/*
 * zab_observer: joins a running ensemble's leader as an observer over the quorum port and
 * keeps a replica of its tree with our codec and data tree: OBSERVERINFO, LEADERINFO ->
 * ACKEPOCH, the sync (SNAP and its stream, or DIFF/TRUNC with PROPOSAL+COMMIT pairs),
 * NEWLEADER -> ACK, UPTODATE -> ACK, then INFORM (committed txns) and PING -> PING.
 * Test scaffolding for test_zab_observer.sh: it checks our quorum packet codec, snapshot
 * stream reader and txn decoder against Apache ZooKeeper 3.8's leader.
 *
 *   zab_observer HOST:PORT SID DUMPFILE
 *     prints one line per sync step and per INFORM; on SIGUSR1 writes the tree to
 *     DUMPFILE (one line per znode, sorted: path czxid mzxid pzxid version cversion
 *     aversion ephemeralOwner numChildren data-hex) and prints "dumped"; exits when the
 *     leader goes away or on SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "datatree.h"
#include "qpkt.h"
#include "txn.h"
#include "zkproto.h"

#define MAX_DATA (0xfffff + 1024)

static volatile sig_atomic_t want_dump;
static const char *dump_file;
static int fd = -1;
static struct buf in = BUF_INIT;
static struct zk_tree *tree;

static void on_usr1(int sig)
{
	(void)sig;
	want_dump = 1;
}

static void die(const char *what)
{
	printf("error: %s\n", what);
	fflush(stdout);
	exit(1);
}

/* More bytes from the leader into `in`; exits when it goes away. */
static void fill(void)
{
	ssize_t n;

	if (buf_grow(&in, 65536))
		die("out of memory");
	do
		n = read(fd, in.p + in.len, in.cap - in.len);
	while (n < 0 && errno == EINTR && !want_dump);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		printf("leader closed the connection\n");
		fflush(stdout);
		exit(0);
	}
	in.len += (size_t)n;
}

static void consume(size_t n)
{
	memmove(in.p, in.p + n, in.len - n);
	in.len -= n;
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

static void dump(const char *file)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		die("cannot write the dump");
	dump_node(f, "/");
	fclose(f);
	if (rename(tmp, file))
		die("cannot rename the dump");
	printf("dumped\n");
	fflush(stdout);
}

static void send_pkt(int32_t type, int64_t zxid, const void *data, int32_t len)
{
	struct buf b = BUF_INIT;
	size_t off = 0;

	qpkt_encode(&b, type, zxid, data, len);
	while (off < b.len) {
		ssize_t n = write(fd, b.p + off, b.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write to the leader failed");
		off += (size_t)n;
	}
	buf_release(&b);
}

static void dump(const char *file);

/* The next packet (copied out of `in`, so it survives later reads). */
static struct qpkt next(struct buf *hold)
{
	struct qpkt q;
	ssize_t n;

	for (;;) {
		n = qpkt_decode(in.p, in.len, MAX_DATA, &q);
		if (n < 0)
			die("malformed packet from the leader");
		if (n > 0)
			break;
		fill();
		if (want_dump) {
			want_dump = 0;
			dump(dump_file);
		}
	}
	buf_reset(hold);
	buf_put(hold, in.p, (size_t)n);
	consume((size_t)n);
	qpkt_decode(hold->p, hold->len, MAX_DATA, &q);
	return q;
}

static void apply(const struct qpkt *q, const char *what)
{
	struct zk_txn t;
	struct zk_resp r;

	if (!q->data || txn_decode(&t, q->data, (size_t)q->data_len))
		die("undecodable txn");
	memset(&r, 0, sizeof(r));
	if (tree_apply(tree, &t, &r, NULL, NULL))
		die("apply failed");
	printf("%s 0x%" PRIx64 " type %d\n", what, (uint64_t)t.hdr.zxid, t.hdr.type);
	fflush(stdout);
	zk_resp_release(&r);
	txn_release(&t);
}

/* The SNAP stream: sessions, the tree body, "BenWasHere"; parsed once it is all here. The
 * tree is the leader's at zxid. */
static void read_snap_stream(int64_t zxid)
{
	char err[256];

	for (;;) {
		struct rd r;
		int32_t ns, i, siglen;
		const char *sig;
		struct zk_tree *t = tree_new_empty();

		if (!t)
			die("out of memory");
		rd_init(&r, in.p, in.len, 0);
		ns = rd_int(&r);
		for (i = 0; i < ns && !r.err; i++) {
			rd_long(&r);
			rd_int(&r);
		}
		if (!r.err && tree_snap_read(t, &r, err, sizeof(err)) == 0) {
			sig = rd_str_ref(&r, &siglen);
			if (!r.err) {
				if (siglen != 10 || memcmp(sig, "BenWasHere", 10))
					die("the snapshot stream does not end with BenWasHere");
				tree_free(tree);
				tree = t;
				tree_set_last_zxid(tree, zxid);
				printf("snapshot stream: %d sessions, %" PRId64 " znodes\n", ns,
				       tree_node_count(t));
				fflush(stdout);
				consume(r.off);
				return;
			}
		}
		tree_free(t);
		if (in.len > (64u << 20))
			die("snapshot stream too large or unreadable");
		fill();
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct buf hold = BUF_INIT, li = BUF_INIT;
	struct buf pending[1024];
	int npending = 0, one = 1;
	int64_t sid, new_epoch = 0;
	char host[256];
	const char *colon;
	uint8_t ep[4];

	if (argc != 4 || !(colon = strrchr(argv[1], ':')) || colon - argv[1] >= (int)sizeof(host)) {
		fprintf(stderr, "usage: zab_observer HOST:PORT SID DUMPFILE\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	sid = strtoll(argv[2], NULL, 10);
	dump_file = argv[3];
	{
		struct sigaction act;

		/* No SA_RESTART: a dump request interrupts a blocked read. */
		memset(&act, 0, sizeof(act));
		act.sa_handler = on_usr1;
		sigaction(SIGUSR1, &act, NULL);
	}
	tree = tree_new();
	if (!tree)
		die("out of memory");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad host");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to the leader");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	/* Discovery: our acceptedEpoch is 0, our last zxid 0 (an empty database). */
	qpkt_learner_info(&li, sid, QP_PROTOCOL_VERSION, 0);
	send_pkt(QP_OBSERVERINFO, 0, li.p, (int32_t)li.len);
	for (;;) {
		struct qpkt q = next(&hold);

		switch (q.type) {
		case QP_LEADERINFO:
			new_epoch = (int64_t)((uint64_t)q.zxid >> 32);
			printf("LEADERINFO epoch %" PRId64 " protocol 0x%x\n", new_epoch,
			       q.data_len >= 4 ? (unsigned)be32_get(q.data) : 0);
			be32_put(ep, 0);	/* our currentEpoch */
			send_pkt(QP_ACKEPOCH, 0, ep, 4);
			break;
		case QP_SNAP:
			printf("SNAP 0x%" PRIx64 "\n", (uint64_t)q.zxid);
			read_snap_stream(q.zxid);
			break;
		case QP_DIFF:
			printf("DIFF 0x%" PRIx64 "\n", (uint64_t)q.zxid);
			break;
		case QP_TRUNC:
			die("TRUNC for an empty database");
			break;
		case QP_PROPOSAL:
			if (npending == 1024)
				die("too many proposals during the sync");
			buf_init(&pending[npending]);
			buf_put(&pending[npending++], hold.p, hold.len);
			break;
		case QP_COMMIT: {
			struct qpkt p;

			if (npending == 0)
				break;
			qpkt_decode(pending[0].p, pending[0].len, MAX_DATA, &p);
			if (p.zxid != q.zxid)
				die("COMMIT for a zxid other than the oldest proposal");
			apply(&p, "commit");
			buf_release(&pending[0]);
			memmove(pending, pending + 1, sizeof(pending[0]) * (size_t)--npending);
			break;
		}
		case QP_NEWLEADER:
			printf("NEWLEADER 0x%" PRIx64 " (%d bytes of config)\n", (uint64_t)q.zxid,
			       q.data_len);
			send_pkt(QP_ACK, new_epoch << 32, NULL, -1);
			break;
		case QP_UPTODATE:
			printf("UPTODATE: synced at 0x%" PRIx64 ", %" PRId64 " znodes\n",
			       (uint64_t)tree_last_zxid(tree), tree_node_count(tree));
			send_pkt(QP_ACK, new_epoch << 32, NULL, -1);
			break;
		case QP_INFORM:
			apply(&q, "inform");
			break;
		case QP_PING:
			/* No sessions of ours to report. */
			send_pkt(QP_PING, q.zxid, "", 0);
			break;
		default:
			printf("ignored %s 0x%" PRIx64 "\n", qpkt_type_name(q.type), (uint64_t)q.zxid);
			break;
		}
		fflush(stdout);
		if (want_dump) {
			want_dump = 0;
			dump(dump_file);
		}
	}
}
