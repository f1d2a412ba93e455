/*
 * libFuzzer target: the QuorumPacket stream decoder (what a peer, or anyone who reaches the
 * quorum port, can send) and the LearnerInfo decoder. A stream is decoded packet by packet
 * as the leader or a learner would; nothing may be read past the input.
 */
#include <stddef.h>
#include <stdint.h>

#include "qpkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct qpkt q;
		ssize_t n = qpkt_decode(data + off, size - off, 4096, &q);

		if (n <= 0)
			break;
		if (q.data && (q.type == QP_FOLLOWERINFO || q.type == QP_OBSERVERINFO)) {
			int64_t sid, ver;
			int32_t proto;

			qpkt_learner_info_decode(q.data, (size_t)q.data_len, &sid, &proto, &ver);
		}
		off += (size_t)n;
	}
	return 0;
}
