/*
 * libFuzzer target: a Zab learner fed whatever a leader (or anyone who reaches the quorum
 * port from the learner's side) sends: packets, a snapshot stream, in any split. The
 * learner must fail cleanly or carry on, never read past its input or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learner.h"

static void nop_send(void *c, const uint8_t *p, size_t n) { (void)c; (void)p; (void)n; }
static void nop_epoch(void *c, int w, int64_t e) { (void)c; (void)w; (void)e; }
static void take_snapshot(void *c, struct zk_tree *t, struct storage_session *s, int32_t n,
			  int64_t z)
{
	(void)c; (void)n; (void)z;
	tree_free(t);
	free(s);
}
static void nop_persist(void *c) { (void)c; }
static void nop_trunc(void *c, int64_t z) { (void)c; (void)z; }
static void nop_txn(void *c, int64_t z, const uint8_t *p, size_t n)
{
	(void)c; (void)z; (void)p; (void)n;
}
static void nop_synced(void *c, int64_t e) { (void)c; (void)e; }
static void nop_failed(void *c, const char *w) { (void)c; (void)w; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct learner_io io = { NULL, nop_send, nop_epoch, take_snapshot, nop_persist,
				 nop_trunc, nop_txn, nop_txn, nop_synced, nop_failed };
	struct learner_cfg cfg;
	struct learner *l;
	size_t off = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.myid = 3;
	cfg.observer = size > 0 && (data[0] & 1);
	cfg.max_data = 4096;
	l = learner_new(&cfg, &io);
	if (!l)
		return 0;
	learner_start(l);
	/* Split the input at the positions its own bytes suggest. */
	while (off < size) {
		size_t n = 1 + data[off] % 64;

		if (n > size - off)
			n = size - off;
		if (learner_input(l, data + off, n))
			break;
		learner_logged(l, (int64_t)off);
		off += n;
	}
	learner_free(l);
	return 0;
}
