/*
 * libFuzzer target: the client request decoder and the connect handshake decoder, i.e.
 * everything a hostile client can put in a frame. The decoders must never read out of
 * bounds, leak, or allocate more than the frame can justify.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zkproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zk_req req;
	struct zk_connect_req cr;
	struct buf b = BUF_INIT;

	zk_connect_req_decode(&cr, data, size);
	if (zk_req_decode(&req, data, size, ZK_DEFAULT_MAXBUFFER) == 0) {
		/* Whatever decodes must encode again without trouble. */
		zk_req_encode(&req, &b);
		buf_release(&b);
	}
	zk_req_release(&req);
	return 0;
}
