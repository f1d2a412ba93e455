/*
 * libFuzzer target: a Zab leader fed whatever learners (or anyone who reaches the quorum
 * port) send it, on two connections at once, with proposals and durable-log reports mixed
 * in. The leader must drop bad connections cleanly, never read past its input or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "leader.h"

static void nop_send(void *c, int conn, const uint8_t *p, size_t n)
{
	(void)c; (void)conn; (void)p; (void)n;
}
static void nop_drop(void *c, int conn, const char *w) { (void)c; (void)conn; (void)w; }
static void nop_epoch(void *c, int w, int64_t e) { (void)c; (void)w; (void)e; }
static void stream(void *c, struct buf *out)
{
	(void)c;
	buf_put_int(out, 0);
}
static void nop_txn(void *c, int64_t z, const uint8_t *p, size_t n)
{
	(void)c; (void)z; (void)p; (void)n;
}
static void nop_est(void *c, int64_t e) { (void)c; (void)e; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t voters[] = { 1, 2, 3 };
	struct leader_io io = { .send = nop_send, .drop = nop_drop, .epoch = nop_epoch,
				.snapshot_stream = stream, .log = nop_txn, .commit = nop_txn,
				.established = nop_est };
	struct leader_cfg cfg;
	struct leader *l;
	size_t off = 0;
	int64_t now = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = 1;
	cfg.voters = voters;
	cfg.nvoters = 3;
	cfg.config = "version=0";
	cfg.max_data = 4096;
	cfg.sync_ms = 2000;
	l = leader_new(&cfg, &io);
	if (!l)
		return 0;
	leader_tick(l, now);
	leader_connected(l, 1);
	leader_connected(l, 2);
	/* Each chunk: one control byte (which connection, what else happens), then bytes. */
	while (off < size) {
		uint8_t ctl = data[off++];
		size_t n = 1 + ctl % 48;

		if (n > size - off)
			n = size - off;
		leader_input(l, 1 + (ctl >> 7), data + off, n);
		off += n;
		if (ctl & 0x40) {
			uint8_t txn[4] = { 1, 2, 3, 4 };

			leader_propose(l, leader_next_zxid(l), txn, sizeof(txn));
			leader_logged(l, leader_next_zxid(l) - 1);
		}
		if (ctl & 0x20) {
			now += 700;
			leader_tick(l, now);
			leader_ping(l);
		}
	}
	leader_free(l);
	return 0;
}
