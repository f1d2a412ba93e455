/*
 * qpkt.c: the QuorumPacket codec (see qpkt.h).
 */
#include "qpkt.h"

/* A jute length at p (need 4 bytes): -1 (null) or 0..max; -2 if malformed. */
static int64_t length_at(const uint8_t *p, int32_t max)
{
	int32_t n = be32_get(p);

	if (n == -1)
		return -1;
	if (n < 0 || n > max)
		return -2;
	return n;
}

ssize_t qpkt_decode(const uint8_t *p, size_t len, int32_t max_data, struct qpkt *out)
{
	size_t off = 16;
	int64_t n;
	int32_t i;

	if (len < off)
		return 0;
	out->type = be32_get(p);
	out->zxid = be64_get(p + 4);
	n = length_at(p + 12, max_data);
	if (n == -2)
		return -1;
	out->data_len = (int32_t)n;
	out->data = n >= 0 ? p + off : NULL;
	if (n > 0)
		off += (size_t)n;
	if (len < off + 4)
		return 0;
	out->nauth = be32_get(p + off);
	off += 4;
	out->auth = p + off;
	if (out->nauth < -1)
		return -1;
	/* Each Id is two ustrings; a count can claim no more than the bytes can hold. */
	if (out->nauth > max_data / 8)
		return -1;
	for (i = 0; i < 2 * (out->nauth > 0 ? out->nauth : 0); i++) {
		if (len < off + 4)
			return 0;
		n = length_at(p + off, max_data);
		if (n == -2)
			return -1;
		off += 4 + (n > 0 ? (size_t)n : 0);
	}
	if (len < off)
		return 0;
	out->auth_len = (size_t)(p + off - out->auth);
	return (ssize_t)off;
}

void qpkt_encode(struct buf *b, int32_t type, int64_t zxid, const void *data, int32_t data_len)
{
	buf_put_int(b, type);
	buf_put_long(b, zxid);
	buf_put_buffer(b, data, data_len);
	buf_put_int(b, -1);
}

void qpkt_learner_info(struct buf *b, int64_t sid, int32_t protocol, int64_t config_version)
{
	buf_put_long(b, sid);
	buf_put_int(b, protocol);
	buf_put_long(b, config_version);
}

int qpkt_learner_info_decode(const uint8_t *p, size_t len, int64_t *sid, int32_t *protocol,
			     int64_t *config_version)
{
	/* Before 3.5 LearnerInfo had no configVersion; older still, no protocolVersion. */
	if (len < 8)
		return -1;
	*sid = be64_get(p);
	*protocol = len >= 12 ? be32_get(p + 8) : 0;
	*config_version = len >= 20 ? be64_get(p + 12) : 0;
	return 0;
}

const char *qpkt_type_name(int32_t type)
{
	static const char *names[] = {
		"UNKNOWN", "REQUEST", "PROPOSAL", "ACK", "COMMIT", "PING", "REVALIDATE", "SYNC",
		"INFORM", "COMMITANDACTIVATE", "NEWLEADER", "FOLLOWERINFO", "UPTODATE", "DIFF",
		"TRUNC", "SNAP", "OBSERVERINFO", "LEADERINFO", "ACKEPOCH", "INFORMANDACTIVATE",
	};

	return type > 0 && type <= QP_INFORMANDACTIVATE ? names[type] : names[0];
}
