/*
 * libFuzzer target: the election notification decoder (anything a peer, or anyone who can
 * reach the election port, can send), and the state machine fed with what decodes. The
 * decoder must never read past the message; the machine must take any vote without
 * crashing.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "election.h"

static void nop_send(void *ctx, int64_t to, const struct fle_msg *m)
{
	(void)ctx;
	(void)to;
	(void)m;
}

static void nop_timer(void *ctx, int64_t ms)
{
	(void)ctx;
	(void)ms;
}

static void nop_decided(void *ctx, enum fle_state st, int64_t leader, int64_t zxid,
			int64_t election_epoch, int64_t peer_epoch)
{
	(void)ctx;
	(void)st;
	(void)leader;
	(void)zxid;
	(void)election_epoch;
	(void)peer_epoch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t voters[] = { 1, 2, 3 };
	struct fle_members mem = { voters, 3 };
	struct fle_io io = { NULL, nop_send, nop_timer, nop_decided };
	struct fle_msg m;
	struct fle *e;
	struct buf b = BUF_INIT;
	size_t off = 0;

	e = fle_new(2, &mem, &io, "version=0", 9);
	if (!e)
		return 0;
	fle_start(e, 5, 0);
	/* The input is a run of messages, each: 1 byte sender sid, 1 byte length, body. */
	while (off + 2 <= size) {
		uint8_t sid = data[off], len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = (uint8_t)(size - off);
		if (fle_decode(data + off, len, &m) == 0) {
			m.sid = sid % 5;
			fle_encode(&b, &m);
			buf_reset(&b);
			fle_receive(e, &m);
			if (sid & 0x80)
				fle_timeout(e);
		}
		off += len;
	}
	buf_release(&b);
	fle_free(e);
	return 0;
}
