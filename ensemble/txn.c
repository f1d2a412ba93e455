#include "txn.h"

#include <stdlib.h>
#include <string.h>

static void op_body_put(struct buf *b, const struct zk_txn_op *o)
{
	switch (o->type) {
	case ZOP_CREATE: case ZOP_CREATE2:
		buf_put_str(b, o->path, -1);
		buf_put_buffer(b, o->data, o->data_len);
		zk_acl_list_put(b, &o->acl);
		buf_put_bool(b, o->ephemeral);
		buf_put_int(b, o->parent_cversion);
		break;
	case ZOP_CREATECONTAINER:
		buf_put_str(b, o->path, -1);
		buf_put_buffer(b, o->data, o->data_len);
		zk_acl_list_put(b, &o->acl);
		buf_put_int(b, o->parent_cversion);
		break;
	case ZOP_CREATETTL:
		buf_put_str(b, o->path, -1);
		buf_put_buffer(b, o->data, o->data_len);
		zk_acl_list_put(b, &o->acl);
		buf_put_int(b, o->parent_cversion);
		buf_put_long(b, o->ttl);
		break;
	case ZOP_DELETE: case ZOP_DELETECONTAINER:
		buf_put_str(b, o->path, -1);
		break;
	case ZOP_SETDATA: case ZOP_RECONFIG:
		buf_put_str(b, o->path, -1);
		buf_put_buffer(b, o->data, o->data_len);
		buf_put_int(b, o->version);
		break;
	case ZOP_SETACL:
		buf_put_str(b, o->path, -1);
		zk_acl_list_put(b, &o->acl);
		buf_put_int(b, o->version);
		break;
	case ZOP_CHECK:
		buf_put_str(b, o->path, -1);
		buf_put_int(b, o->version);
		break;
	case ZOP_ERROR:
		buf_put_int(b, o->err);
		break;
	}
}

static int op_body_get(struct rd *r, struct zk_txn_op *o)
{
	switch (o->type) {
	case ZOP_CREATE: case ZOP_CREATE2:
		o->path = rd_str(r, NULL);
		o->data = rd_buffer(r, &o->data_len);
		zk_acl_list_get(r, &o->acl);
		o->ephemeral = rd_bool(r);
		/* CreateTxnV0 (very old logs) has no parentCVersion: -1 means "counter + 1". */
		o->parent_cversion = rd_left(r) >= 4 ? rd_int(r) : -1;
		break;
	case ZOP_CREATECONTAINER:
		o->path = rd_str(r, NULL);
		o->data = rd_buffer(r, &o->data_len);
		zk_acl_list_get(r, &o->acl);
		o->parent_cversion = rd_int(r);
		break;
	case ZOP_CREATETTL:
		o->path = rd_str(r, NULL);
		o->data = rd_buffer(r, &o->data_len);
		zk_acl_list_get(r, &o->acl);
		o->parent_cversion = rd_int(r);
		o->ttl = rd_long(r);
		break;
	case ZOP_DELETE: case ZOP_DELETECONTAINER:
		o->path = rd_str(r, NULL);
		break;
	case ZOP_SETDATA: case ZOP_RECONFIG:
		o->path = rd_str(r, NULL);
		o->data = rd_buffer(r, &o->data_len);
		o->version = rd_int(r);
		break;
	case ZOP_SETACL:
		o->path = rd_str(r, NULL);
		zk_acl_list_get(r, &o->acl);
		o->version = rd_int(r);
		break;
	case ZOP_CHECK:
		o->path = rd_str(r, NULL);
		o->version = rd_int(r);
		break;
	case ZOP_ERROR:
		o->err = rd_int(r);
		break;
	default:
		return ZMARSHALLINGERROR;
	}
	if (!r->err && o->type != ZOP_ERROR && !o->path)
		return ZMARSHALLINGERROR;
	return r->err ? ZMARSHALLINGERROR : 0;
}

void txn_encode(const struct zk_txn *t, struct buf *b)
{
	int32_t i;

	buf_put_long(b, t->hdr.client_id);
	buf_put_int(b, t->hdr.cxid);
	buf_put_long(b, t->hdr.zxid);
	buf_put_long(b, t->hdr.time);
	buf_put_int(b, t->hdr.type);
	switch (t->hdr.type) {
	case ZOP_CREATESESSION:
		buf_put_int(b, t->timeout);
		break;
	case ZOP_CLOSESESSION:
		zk_strvec_put(b, &t->close_paths);
		break;
	case ZOP_MULTI:
		buf_put_int(b, t->nops);
		for (i = 0; i < t->nops; i++) {
			size_t off;

			buf_put_int(b, t->ops[i].type);
			off = b->len;
			buf_put_int(b, 0);
			op_body_put(b, &t->ops[i]);
			buf_set_int(b, off, (int32_t)(b->len - off - 4));
		}
		break;
	default:
		if (t->nops > 0)
			op_body_put(b, &t->ops[0]);
		break;
	}
	if (t->has_digest) {
		buf_put_int(b, 2);
		buf_put_long(b, t->digest);
	}
}

struct zk_txn_op *txn_add_op(struct zk_txn *t)
{
	struct zk_txn_op *n;

	/* Grow by powers of two; nops is the count, capacity is implied. */
	if ((t->nops & (t->nops - 1)) == 0) {
		n = realloc(t->ops, sizeof(*n) * (size_t)(t->nops ? 2 * t->nops : 1));
		if (!n)
			return NULL;
		t->ops = n;
	}
	n = &t->ops[t->nops++];
	memset(n, 0, sizeof(*n));
	n->data_len = -1;
	return n;
}

int txn_decode(struct zk_txn *t, const uint8_t *p, size_t len)
{
	struct rd r;
	int32_t i, n;

	memset(t, 0, sizeof(*t));
	rd_init(&r, p, len, 0);
	t->hdr.client_id = rd_long(&r);
	t->hdr.cxid = rd_int(&r);
	t->hdr.zxid = rd_long(&r);
	t->hdr.time = rd_long(&r);
	t->hdr.type = rd_int(&r);
	if (r.err)
		goto fail;
	switch (t->hdr.type) {
	case ZOP_CREATESESSION:
		t->timeout = rd_int(&r);
		break;
	case ZOP_CLOSESESSION:
		/*
		 * Older logs have no record here; a digest (12 bytes: int 2, long) may follow
		 * instead. Twelve bytes starting with 2 would be a record of two empty paths,
		 * which no server writes, so only those are read as the digest (a one-path
		 * record without a digest is also 12 bytes long).
		 */
		if (rd_left(&r) > 0 && !(rd_left(&r) == 12 && be32_get(r.p + r.off) == 2))
			zk_strvec_get(&r, &t->close_paths);
		break;
	case ZOP_MULTI:
		n = rd_vec_count(&r);
		for (i = 0; i < n && !r.err; i++) {
			struct zk_txn_op *o = txn_add_op(t);
			int32_t type, blen;
			struct rd sub;

			if (!o)
				goto fail;
			type = rd_int(&r);
			blen = rd_int(&r);
			if (r.err || blen < 0 || (size_t)blen > rd_left(&r))
				goto fail;
			o->type = type;
			rd_init(&sub, r.p + r.off, (size_t)blen, 0);
			if (op_body_get(&sub, o))
				goto fail;
			rd_skip(&r, (size_t)blen);
		}
		break;
	default: {
		struct zk_txn_op *o = txn_add_op(t);

		if (!o)
			goto fail;
		o->type = t->hdr.type;
		if (op_body_get(&r, o))
			goto fail;
		break;
	}
	}
	if (r.err)
		goto fail;
	if (rd_left(&r) >= 12) {
		if (rd_int(&r) == 2) {
			t->has_digest = 1;
			t->digest = rd_long(&r);
		}
	}
	return 0;
fail:
	txn_release(t);
	return ZMARSHALLINGERROR;
}

void txn_release(struct zk_txn *t)
{
	int32_t i;

	for (i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
		zk_acl_list_release(&t->ops[i].acl);
	}
	free(t->ops);
	zk_strvec_release(&t->close_paths);
	memset(t, 0, sizeof(*t));
}
