/*
 * qpkt: Zab's QuorumPacket, as leader and learners exchange it on the quorum port
 * (../shared/spec/quorum-protocol.md §5.1). There is no length prefix: each direction is a
 * stream of jute records
 *
 *   int type, long zxid, buffer data (-1 = null), vector<Id> authinfo (-1 = null)
 *
 * so the decoder works on whatever has arrived and says whether a whole packet is there.
 * Pure: no I/O.
 */
#ifndef ZK_QPKT_H
#define ZK_QPKT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

enum qpkt_type {
	QP_REQUEST = 1,
	QP_PROPOSAL = 2,
	QP_ACK = 3,
	QP_COMMIT = 4,
	QP_PING = 5,
	QP_REVALIDATE = 6,
	QP_SYNC = 7,
	QP_INFORM = 8,
	QP_COMMITANDACTIVATE = 9,
	QP_NEWLEADER = 10,
	QP_FOLLOWERINFO = 11,
	QP_UPTODATE = 12,
	QP_DIFF = 13,
	QP_TRUNC = 14,
	QP_SNAP = 15,
	QP_OBSERVERINFO = 16,
	QP_LEADERINFO = 17,
	QP_ACKEPOCH = 18,
	QP_INFORMANDACTIVATE = 19,
};

/* The first zxid of an epoch, epoch << 32 as Java computes it (wrapping, where a signed
 * shift in C would be undefined: a peer can claim any epoch). */
static inline int64_t epoch_zxid(int64_t epoch)
{
	return (int64_t)((uint64_t)epoch << 32);
}

/* LearnerInfo.protocolVersion and LEADERINFO's data. */
#define QP_PROTOCOL_VERSION 0x10000

struct qpkt {
	int32_t type;
	int64_t zxid;
	const uint8_t *data;	/* into the input; NULL when null */
	int32_t data_len;	/* -1 for null */
	int32_t nauth;		/* -1 for null */
	const uint8_t *auth;	/* the encoded Ids (ustring scheme, ustring id each) */
	size_t auth_len;
};

/*
 * One packet from the start of p[0..len): the bytes it takes, 0 if it is not all there yet,
 * or -1 if it is malformed (a negative length other than -1, data over max_data, a
 * string in authinfo over max_data). Apache's limit is jute.maxbuffer + 1024.
 */
ssize_t qpkt_decode(const uint8_t *p, size_t len, int32_t max_data, struct qpkt *out);

/* A packet with null authinfo; data_len -1 for null data. */
void qpkt_encode(struct buf *b, int32_t type, int64_t zxid, const void *data, int32_t data_len);

/* LearnerInfo (FOLLOWERINFO / OBSERVERINFO data): long sid, int protocolVersion, long
 * configVersion. Decode: 0 or -1 (too short). */
void qpkt_learner_info(struct buf *b, int64_t sid, int32_t protocol, int64_t config_version);
int qpkt_learner_info_decode(const uint8_t *p, size_t len, int64_t *sid, int32_t *protocol,
			     int64_t *config_version);

/* "LEADERINFO", "PROPOSAL", ... or "UNKNOWN". */
const char *qpkt_type_name(int32_t type);

#endif
