#include "zkproto.h"

#include <stdlib.h>
#include <string.h>

const char *zk_strerror(int err)
{
	switch (err) {
	case ZOK: return "OK";
	case ZSYSTEMERROR: return "SYSTEMERROR";
	case ZRUNTIMEINCONSISTENCY: return "RUNTIMEINCONSISTENCY";
	case ZDATAINCONSISTENCY: return "DATAINCONSISTENCY";
	case ZCONNECTIONLOSS: return "CONNECTIONLOSS";
	case ZMARSHALLINGERROR: return "MARSHALLINGERROR";
	case ZUNIMPLEMENTED: return "UNIMPLEMENTED";
	case ZOPERATIONTIMEOUT: return "OPERATIONTIMEOUT";
	case ZBADARGUMENTS: return "BADARGUMENTS";
	case ZINVALIDSTATE: return "INVALIDSTATE";
	case ZUNKNOWNSESSION: return "UNKNOWNSESSION";
	case ZNEWCONFIGNOQUORUM: return "NEWCONFIGNOQUORUM";
	case ZRECONFIGINPROGRESS: return "RECONFIGINPROGRESS";
	case ZAPIERROR: return "APIERROR";
	case ZNONODE: return "NONODE";
	case ZNOAUTH: return "NOAUTH";
	case ZBADVERSION: return "BADVERSION";
	case ZNOCHILDRENFOREPHEMERALS: return "NOCHILDRENFOREPHEMERALS";
	case ZNODEEXISTS: return "NODEEXISTS";
	case ZNOTEMPTY: return "NOTEMPTY";
	case ZSESSIONEXPIRED: return "SESSIONEXPIRED";
	case ZINVALIDCALLBACK: return "INVALIDCALLBACK";
	case ZINVALIDACL: return "INVALIDACL";
	case ZAUTHFAILED: return "AUTHFAILED";
	case ZCLOSING: return "CLOSING";
	case ZNOTHING: return "NOTHING";
	case ZSESSIONMOVED: return "SESSIONMOVED";
	case ZNOTREADONLY: return "NOTREADONLY";
	case ZEPHEMERALONLOCALSESSION: return "EPHEMERALONLOCALSESSION";
	case ZNOWATCHER: return "NOWATCHER";
	case ZREQUESTTIMEOUT: return "REQUESTTIMEOUT";
	case ZRECONFIGDISABLED: return "RECONFIGDISABLED";
	case ZSESSIONCLOSEDREQUIRESASLAUTH: return "SESSIONCLOSEDREQUIRESASLAUTH";
	case ZQUOTAEXCEEDED: return "QUOTAEXCEEDED";
	case ZTHROTTLEDOP: return "THROTTLEDOP";
	}
	return "UNKNOWN";
}

const char *zk_opname(int op)
{
	switch (op) {
	case ZOP_NOTIFICATION: return "notification";
	case ZOP_CREATE: return "create";
	case ZOP_DELETE: return "delete";
	case ZOP_EXISTS: return "exists";
	case ZOP_GETDATA: return "getData";
	case ZOP_SETDATA: return "setData";
	case ZOP_GETACL: return "getACL";
	case ZOP_SETACL: return "setACL";
	case ZOP_GETCHILDREN: return "getChildren";
	case ZOP_SYNC: return "sync";
	case ZOP_PING: return "ping";
	case ZOP_GETCHILDREN2: return "getChildren2";
	case ZOP_CHECK: return "check";
	case ZOP_MULTI: return "multi";
	case ZOP_CREATE2: return "create2";
	case ZOP_RECONFIG: return "reconfig";
	case ZOP_CHECKWATCHES: return "checkWatches";
	case ZOP_REMOVEWATCHES: return "removeWatches";
	case ZOP_CREATECONTAINER: return "createContainer";
	case ZOP_DELETECONTAINER: return "deleteContainer";
	case ZOP_CREATETTL: return "createTTL";
	case ZOP_MULTIREAD: return "multiRead";
	case ZOP_AUTH: return "auth";
	case ZOP_SETWATCHES: return "setWatches";
	case ZOP_SASL: return "sasl";
	case ZOP_GETEPHEMERALS: return "getEphemerals";
	case ZOP_GETALLCHILDRENNUMBER: return "getAllChildrenNumber";
	case ZOP_SETWATCHES2: return "setWatches2";
	case ZOP_ADDWATCH: return "addWatch";
	case ZOP_WHOAMI: return "whoAmI";
	case ZOP_CREATESESSION: return "createSession";
	case ZOP_CLOSESESSION: return "closeSession";
	case ZOP_ERROR: return "error";
	}
	return "unknown";
}

int zk_op_is_write(int op)
{
	switch (op) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
	case ZOP_DELETE: case ZOP_DELETECONTAINER: case ZOP_SETDATA: case ZOP_SETACL:
	case ZOP_MULTI: case ZOP_RECONFIG: case ZOP_CREATESESSION: case ZOP_CLOSESESSION:
		return 1;
	}
	return 0;
}

int zk_op_known(int op)
{
	switch (op) {
	case ZOP_CREATE: case ZOP_DELETE: case ZOP_EXISTS: case ZOP_GETDATA:
	case ZOP_SETDATA: case ZOP_GETACL: case ZOP_SETACL: case ZOP_GETCHILDREN:
	case ZOP_SYNC: case ZOP_PING: case ZOP_GETCHILDREN2: case ZOP_MULTI:
	case ZOP_CREATE2: case ZOP_RECONFIG: case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES:
	case ZOP_CREATECONTAINER: case ZOP_DELETECONTAINER: case ZOP_CREATETTL:
	case ZOP_MULTIREAD: case ZOP_AUTH: case ZOP_SETWATCHES: case ZOP_SASL:
	case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER: case ZOP_SETWATCHES2:
	case ZOP_ADDWATCH: case ZOP_WHOAMI: case ZOP_CLOSESESSION:
	case ZOP_CREATESESSION:	/* a client sending it gets MARSHALLINGERROR, as Apache */
		return 1;
	}
	return 0;
}

/* ---- shared records ---------------------------------------------------------------- */

void zk_stat_put(struct buf *b, const struct zk_stat *s)
{
	buf_put_long(b, s->czxid);
	buf_put_long(b, s->mzxid);
	buf_put_long(b, s->ctime);
	buf_put_long(b, s->mtime);
	buf_put_int(b, s->version);
	buf_put_int(b, s->cversion);
	buf_put_int(b, s->aversion);
	buf_put_long(b, s->ephemeral_owner);
	buf_put_int(b, s->data_length);
	buf_put_int(b, s->num_children);
	buf_put_long(b, s->pzxid);
}

void zk_stat_get(struct rd *r, struct zk_stat *s)
{
	s->czxid = rd_long(r);
	s->mzxid = rd_long(r);
	s->ctime = rd_long(r);
	s->mtime = rd_long(r);
	s->version = rd_int(r);
	s->cversion = rd_int(r);
	s->aversion = rd_int(r);
	s->ephemeral_owner = rd_long(r);
	s->data_length = rd_int(r);
	s->num_children = rd_int(r);
	s->pzxid = rd_long(r);
}

void zk_acl_list_put(struct buf *b, const struct zk_acl_list *a)
{
	int32_t i;

	/* Never send a null vector: the C client cannot read one. */
	buf_put_int(b, a->n < 0 ? 0 : a->n);
	for (i = 0; i < a->n; i++) {
		buf_put_int(b, a->v[i].perms);
		buf_put_str(b, a->v[i].id.scheme ? a->v[i].id.scheme : "", -1);
		buf_put_str(b, a->v[i].id.id ? a->v[i].id.id : "", -1);
	}
}

/*
 * ACL lists are copied and freed several times per create (request, outstanding change,
 * txn): each is one allocation holding the array and then its strings.
 */
static struct zk_acl *acl_block(int32_t n, size_t strbytes, char **strs)
{
	size_t head = (size_t)n * sizeof(struct zk_acl);
	struct zk_acl *v = malloc(head + strbytes);

	if (v) {
		memset(v, 0, head);
		*strs = (char *)v + head;
	}
	return v;
}

static char *put_packed(char **strs, const char *s, int32_t len)
{
	char *d = *strs;

	if (len < 0)
		return NULL;
	memcpy(d, s, (size_t)len);
	d[len] = 0;
	*strs += len + 1;
	return d;
}

void zk_acl_list_get(struct rd *r, struct zk_acl_list *a)
{
	int32_t i, n = rd_vec_count(r), l1, l2;
	struct rd probe;
	size_t bytes = 0;
	char *strs;

	a->n = n;
	a->v = NULL;
	a->packed = 0;
	if (n <= 0)
		return;
	probe = *r;
	for (i = 0; i < n && !probe.err; i++) {
		rd_int(&probe);
		rd_str_ref(&probe, &l1);
		rd_str_ref(&probe, &l2);
		bytes += (size_t)(l1 < 0 ? 0 : l1) + 1 + (size_t)(l2 < 0 ? 0 : l2) + 1;
	}
	if (probe.err) {
		*r = probe;
		a->n = 0;
		return;
	}
	a->v = acl_block(n, bytes, &strs);
	if (!a->v) {
		r->err = 1;
		a->n = 0;
		return;
	}
	a->packed = 1;
	for (i = 0; i < n; i++) {
		const char *s1, *s2;

		a->v[i].perms = rd_int(r);
		s1 = rd_str_ref(r, &l1);
		a->v[i].id.scheme = put_packed(&strs, s1, l1);
		s2 = rd_str_ref(r, &l2);
		a->v[i].id.id = put_packed(&strs, s2, l2);
	}
}

int zk_acl_list_copy(struct zk_acl_list *dst, const struct zk_acl_list *src)
{
	int32_t i;
	size_t bytes = 0;
	char *strs;

	dst->n = src->n;
	dst->v = NULL;
	dst->packed = 0;
	if (src->n <= 0)
		return 0;
	for (i = 0; i < src->n; i++) {
		const struct zk_id *id = &src->v[i].id;

		bytes += (id->scheme ? strlen(id->scheme) : 0) + 1 + (id->id ? strlen(id->id) : 0) + 1;
	}
	dst->v = acl_block(src->n, bytes, &strs);
	if (!dst->v) {
		dst->n = 0;
		return -1;
	}
	dst->packed = 1;
	for (i = 0; i < src->n; i++) {
		const struct zk_id *id = &src->v[i].id;

		dst->v[i].perms = src->v[i].perms;
		dst->v[i].id.scheme = put_packed(&strs, id->scheme,
						 id->scheme ? (int32_t)strlen(id->scheme) : -1);
		dst->v[i].id.id = put_packed(&strs, id->id, id->id ? (int32_t)strlen(id->id) : -1);
	}
	return 0;
}

int zk_acl_list_unpack(struct zk_acl_list *a)
{
	struct zk_acl *v;
	int32_t i;

	if (!a->packed)
		return 0;
	v = calloc((size_t)a->n, sizeof(*v));
	if (!v)
		return -1;
	for (i = 0; i < a->n; i++) {
		v[i].perms = a->v[i].perms;
		if ((a->v[i].id.scheme && !(v[i].id.scheme = strdup(a->v[i].id.scheme))) ||
		    (a->v[i].id.id && !(v[i].id.id = strdup(a->v[i].id.id)))) {
			struct zk_acl_list t = { i + 1, v, 0 };

			zk_acl_list_release(&t);
			return -1;
		}
	}
	free(a->v);
	a->v = v;
	a->packed = 0;
	return 0;
}

static int streq_null(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int zk_acl_list_equal(const struct zk_acl_list *a, const struct zk_acl_list *b)
{
	int32_t i, na = a->n < 0 ? 0 : a->n, nb = b->n < 0 ? 0 : b->n;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++) {
		if (a->v[i].perms != b->v[i].perms ||
		    !streq_null(a->v[i].id.scheme, b->v[i].id.scheme) ||
		    !streq_null(a->v[i].id.id, b->v[i].id.id))
			return 0;
	}
	return 1;
}

void zk_acl_list_release(struct zk_acl_list *a)
{
	int32_t i;

	for (i = 0; a->v && !a->packed && i < a->n; i++) {
		free(a->v[i].id.scheme);
		free(a->v[i].id.id);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
	a->packed = 0;
}

void zk_strvec_put(struct buf *b, const struct zk_strvec *v)
{
	int32_t i;

	buf_put_int(b, v->n < 0 ? 0 : v->n);
	for (i = 0; i < v->n; i++)
		buf_put_str(b, v->v[i] ? v->v[i] : "", -1);
}

void zk_strvec_get(struct rd *r, struct zk_strvec *v)
{
	int32_t i, n = rd_vec_count(r);

	v->n = n;
	v->v = NULL;
	if (n <= 0)
		return;
	v->v = calloc((size_t)n, sizeof(*v->v));
	if (!v->v) {
		r->err = 1;
		v->n = 0;
		return;
	}
	for (i = 0; i < n && !r->err; i++)
		v->v[i] = rd_str(r, NULL);
}

void zk_strvec_release(struct zk_strvec *v)
{
	int32_t i;

	for (i = 0; v->v && i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

int zk_strvec_push(struct zk_strvec *v, const char *s)
{
	int32_t n = v->n < 0 ? 0 : v->n;
	char **nv;
	char *copy = strdup(s);

	if (!copy)
		return -1;
	/* Grow in powers of two so a 10,000-child listing is not quadratic. */
	if ((n & (n - 1)) == 0) {
		nv = realloc(v->v, sizeof(*nv) * (size_t)(n ? 2 * n : 1));
		if (!nv) {
			free(copy);
			return -1;
		}
		v->v = nv;
	}
	v->v[n] = copy;
	v->n = n + 1;
	return 0;
}

/* ---- connect ------------------------------------------------------------------------ */

int zk_connect_req_decode(struct zk_connect_req *c, const uint8_t *p, size_t len)
{
	struct rd r;
	int32_t plen;

	memset(c, 0, sizeof(*c));
	rd_init(&r, p, len, 0);
	c->protocol_version = rd_int(&r);
	c->last_zxid = rd_long(&r);
	c->timeout = rd_int(&r);
	c->session_id = rd_long(&r);
	plen = rd_int(&r);
	if (r.err || plen < -1 || (plen > 0 && (size_t)plen > rd_left(&r)))
		return ZMARSHALLINGERROR;
	c->passwd_len = plen;
	if (plen > 0) {
		memcpy(c->passwd, r.p + r.off, plen < ZK_PASSWD_LEN ? (size_t)plen : ZK_PASSWD_LEN);
		rd_skip(&r, (size_t)plen);
	}
	if (rd_left(&r) >= 1) {
		c->has_readonly = 1;
		c->readonly = rd_bool(&r);
	}
	return r.err ? ZMARSHALLINGERROR : 0;
}

void zk_connect_req_encode(const struct zk_connect_req *c, struct buf *b)
{
	buf_put_int(b, c->protocol_version);
	buf_put_long(b, c->last_zxid);
	buf_put_int(b, c->timeout);
	buf_put_long(b, c->session_id);
	buf_put_buffer(b, c->passwd, ZK_PASSWD_LEN);
	if (c->has_readonly)
		buf_put_bool(b, c->readonly);
}

int zk_connect_resp_decode(struct zk_connect_resp *c, const uint8_t *p, size_t len)
{
	struct rd r;
	int32_t plen;

	memset(c, 0, sizeof(*c));
	rd_init(&r, p, len, 0);
	c->protocol_version = rd_int(&r);
	c->timeout = rd_int(&r);
	c->session_id = rd_long(&r);
	plen = rd_int(&r);
	if (r.err || plen < 0 || (size_t)plen > rd_left(&r))
		return ZMARSHALLINGERROR;
	memcpy(c->passwd, r.p + r.off, plen < ZK_PASSWD_LEN ? (size_t)plen : ZK_PASSWD_LEN);
	rd_skip(&r, (size_t)plen);
	if (rd_left(&r) >= 1) {
		c->has_readonly = 1;
		c->readonly = rd_bool(&r);
	}
	return r.err ? ZMARSHALLINGERROR : 0;
}

void zk_connect_resp_encode(const struct zk_connect_resp *c, struct buf *b)
{
	buf_put_int(b, c->protocol_version);
	buf_put_int(b, c->timeout);
	buf_put_long(b, c->session_id);
	buf_put_buffer(b, c->passwd, ZK_PASSWD_LEN);
	if (c->has_readonly)
		buf_put_bool(b, c->readonly);
}

/* ---- requests ----------------------------------------------------------------------- */

static void get_path(struct rd *r, struct zk_req *q)
{
	q->path = rd_str(r, &q->path_len);
}

static void get_data(struct rd *r, struct zk_req *q)
{
	q->data = rd_buffer(r, &q->data_len);
}

/* Decodes the body of one op (no RequestHeader). Used at top level and inside multi. */
static int req_body_get(struct rd *r, struct zk_req *q)
{
	int i;

	switch (q->type) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		get_path(r, q);
		get_data(r, q);
		zk_acl_list_get(r, &q->acl);
		q->flags = rd_int(r);
		if (q->type == ZOP_CREATETTL)
			q->ttl = rd_long(r);
		break;
	case ZOP_DELETE: case ZOP_CHECK:
		get_path(r, q);
		q->version = rd_int(r);
		break;
	case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2:
		get_path(r, q);
		q->watch = rd_bool(r);
		break;
	case ZOP_SETDATA:
		get_path(r, q);
		get_data(r, q);
		q->version = rd_int(r);
		break;
	case ZOP_GETACL: case ZOP_SYNC: case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER:
		get_path(r, q);
		break;
	case ZOP_SETACL:
		get_path(r, q);
		zk_acl_list_get(r, &q->acl);
		q->version = rd_int(r);
		break;
	case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES: case ZOP_ADDWATCH:
		get_path(r, q);
		q->mode = rd_int(r);
		break;
	case ZOP_AUTH:
		q->auth_type = rd_int(r);
		q->scheme = rd_str(r, NULL);
		get_data(r, q);
		break;
	case ZOP_SETWATCHES: case ZOP_SETWATCHES2:
		q->rel_zxid = rd_long(r);
		for (i = 0; i < (q->type == ZOP_SETWATCHES2 ? 5 : 3); i++)
			zk_strvec_get(r, &q->watches[i]);
		break;
	case ZOP_DELETECONTAINER:
		/* Internal op; the body is the raw path bytes, not a jute string. */
		q->path_len = (int32_t)rd_left(r);
		q->path = malloc((size_t)q->path_len + 1);
		if (!q->path) {
			r->err = 1;
			break;
		}
		memcpy(q->path, r->p + r->off, (size_t)q->path_len);
		q->path[q->path_len] = 0;
		rd_skip(r, (size_t)q->path_len);
		break;
	case ZOP_RECONFIG:
		/* joining, leaving, newMembers, curConfigId: kept only to answer in order. */
		free(rd_str(r, NULL));
		free(rd_str(r, NULL));
		free(rd_str(r, NULL));
		rd_long(r);
		break;
	case ZOP_SASL:
		get_data(r, q);
		break;
	case ZOP_PING: case ZOP_CLOSESESSION: case ZOP_WHOAMI: case ZOP_CREATESESSION:
		break;
	default:
		return ZUNIMPLEMENTED;
	}
	return r->err ? ZMARSHALLINGERROR : 0;
}

static int multi_op_allowed(int outer, int op)
{
	if (outer == ZOP_MULTIREAD)
		return op == ZOP_GETCHILDREN || op == ZOP_GETDATA;
	switch (op) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
	case ZOP_DELETE: case ZOP_SETDATA: case ZOP_CHECK:
		return 1;
	}
	return 0;
}

static int multi_get(struct rd *r, struct zk_req *q)
{
	int32_t cap = 0;

	for (;;) {
		int32_t type = rd_int(r);
		int done = rd_bool(r);
		struct zk_req *op;

		rd_int(r);	/* err, always -1 in requests */
		if (r->err)
			return ZMARSHALLINGERROR;
		if (done)
			return 0;
		if (!multi_op_allowed(q->type, type))
			return ZMARSHALLINGERROR;
		if (q->nops == cap) {
			struct zk_req *n;

			cap = cap ? 2 * cap : 4;
			n = realloc(q->ops, sizeof(*n) * (size_t)cap);
			if (!n)
				return ZMARSHALLINGERROR;
			q->ops = n;
		}
		op = &q->ops[q->nops++];
		memset(op, 0, sizeof(*op));
		op->type = type;
		op->xid = q->xid;
		if (req_body_get(r, op))
			return ZMARSHALLINGERROR;
	}
}

int zk_req_decode(struct zk_req *req, const uint8_t *p, size_t len, int32_t maxbuf)
{
	struct rd r;
	int rc;

	memset(req, 0, sizeof(*req));
	rd_init(&r, p, len, maxbuf);
	req->xid = rd_int(&r);
	req->type = rd_int(&r);
	if (r.err)
		return ZMARSHALLINGERROR;
	if (req->type == ZOP_MULTI || req->type == ZOP_MULTIREAD)
		rc = multi_get(&r, req);
	else if (req->type == ZOP_CHECK || !zk_op_known(req->type))
		return ZUNIMPLEMENTED;
	else
		rc = req_body_get(&r, req);
	return rc;
}

static void req_body_put(struct buf *b, const struct zk_req *q)
{
	int i;

	switch (q->type) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		buf_put_str(b, q->path, -1);
		buf_put_buffer(b, q->data, q->data_len);
		zk_acl_list_put(b, &q->acl);
		buf_put_int(b, q->flags);
		if (q->type == ZOP_CREATETTL)
			buf_put_long(b, q->ttl);
		break;
	case ZOP_DELETE: case ZOP_CHECK:
		buf_put_str(b, q->path, -1);
		buf_put_int(b, q->version);
		break;
	case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2:
		buf_put_str(b, q->path, -1);
		buf_put_bool(b, q->watch);
		break;
	case ZOP_SETDATA:
		buf_put_str(b, q->path, -1);
		buf_put_buffer(b, q->data, q->data_len);
		buf_put_int(b, q->version);
		break;
	case ZOP_GETACL: case ZOP_SYNC: case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER:
		buf_put_str(b, q->path, -1);
		break;
	case ZOP_SETACL:
		buf_put_str(b, q->path, -1);
		zk_acl_list_put(b, &q->acl);
		buf_put_int(b, q->version);
		break;
	case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES: case ZOP_ADDWATCH:
		buf_put_str(b, q->path, -1);
		buf_put_int(b, q->mode);
		break;
	case ZOP_AUTH:
		buf_put_int(b, q->auth_type);
		buf_put_str(b, q->scheme, -1);
		buf_put_buffer(b, q->data, q->data_len);
		break;
	case ZOP_SETWATCHES: case ZOP_SETWATCHES2:
		buf_put_long(b, q->rel_zxid);
		for (i = 0; i < (q->type == ZOP_SETWATCHES2 ? 5 : 3); i++)
			zk_strvec_put(b, &q->watches[i]);
		break;
	case ZOP_DELETECONTAINER:
		/* Raw path bytes, as the decoder reads them. */
		if (q->path)
			buf_put(b, q->path, q->path_len >= 0 ? (size_t)q->path_len : strlen(q->path));
		break;
	case ZOP_SASL:
		buf_put_buffer(b, q->data, q->data_len);
		break;
	case ZOP_MULTI: case ZOP_MULTIREAD:
		for (i = 0; i < q->nops; i++) {
			buf_put_int(b, q->ops[i].type);
			buf_put_bool(b, 0);
			buf_put_int(b, -1);
			req_body_put(b, &q->ops[i]);
		}
		buf_put_int(b, -1);
		buf_put_bool(b, 1);
		buf_put_int(b, -1);
		break;
	default:
		break;
	}
}

void zk_req_encode(const struct zk_req *req, struct buf *b)
{
	buf_put_int(b, req->xid);
	buf_put_int(b, req->type);
	req_body_put(b, req);
}

void zk_req_release(struct zk_req *req)
{
	int i;

	free(req->path);
	free(req->data);
	free(req->scheme);
	zk_acl_list_release(&req->acl);
	for (i = 0; i < 5; i++)
		zk_strvec_release(&req->watches[i]);
	for (i = 0; i < req->nops; i++)
		zk_req_release(&req->ops[i]);
	free(req->ops);
	memset(req, 0, sizeof(*req));
}

/* ---- replies ------------------------------------------------------------------------ */

static void resp_body_put(struct buf *b, const struct zk_resp *s)
{
	int32_t i;

	switch (s->type) {
	case ZOP_CREATE:
		buf_put_str(b, s->path ? s->path : "", -1);
		break;
	case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		buf_put_str(b, s->path ? s->path : "", -1);
		zk_stat_put(b, &s->stat);
		break;
	case ZOP_EXISTS: case ZOP_SETDATA: case ZOP_SETACL:
		zk_stat_put(b, &s->stat);
		break;
	case ZOP_GETDATA:
		buf_put_buffer(b, s->data, s->data_len);
		zk_stat_put(b, &s->stat);
		break;
	case ZOP_GETACL:
		zk_acl_list_put(b, &s->acl);
		zk_stat_put(b, &s->stat);
		break;
	case ZOP_GETCHILDREN: case ZOP_GETEPHEMERALS:
		zk_strvec_put(b, &s->children);
		break;
	case ZOP_GETCHILDREN2:
		zk_strvec_put(b, &s->children);
		zk_stat_put(b, &s->stat);
		break;
	case ZOP_SYNC:
		buf_put_str(b, s->path ? s->path : "", -1);
		break;
	case ZOP_GETALLCHILDRENNUMBER:
		buf_put_int(b, s->number);
		break;
	case ZOP_ADDWATCH:
		buf_put_int(b, 0);
		break;
	case ZOP_WHOAMI:
		buf_put_int(b, s->nwho);
		for (i = 0; i < s->nwho; i++) {
			buf_put_str(b, s->who[i].scheme ? s->who[i].scheme : "", -1);
			buf_put_str(b, s->who[i].user ? s->who[i].user : "", -1);
		}
		break;
	case ZOP_MULTI: case ZOP_MULTIREAD:
		for (i = 0; i < s->nresults; i++) {
			const struct zk_resp *o = &s->results[i];

			if (o->type == ZOP_ERROR) {
				buf_put_int(b, -1);
				buf_put_bool(b, 0);
				buf_put_int(b, o->err);
				buf_put_int(b, o->err);
			} else {
				buf_put_int(b, o->type);
				buf_put_bool(b, 0);
				buf_put_int(b, 0);
				resp_body_put(b, o);
			}
		}
		buf_put_int(b, -1);
		buf_put_bool(b, 1);
		buf_put_int(b, -1);
		break;
	case ZOP_NOTIFICATION:
		buf_put_int(b, s->event_type);
		buf_put_int(b, s->state);
		buf_put_str(b, s->path ? s->path : "", -1);
		break;
	default:
		break;
	}
}

void zk_resp_encode(const struct zk_resp *resp, struct buf *b)
{
	buf_put_int(b, resp->xid);
	buf_put_long(b, resp->zxid);
	buf_put_int(b, resp->err);
	if (resp->err == 0)
		resp_body_put(b, resp);
}

static int resp_body_get(struct rd *r, struct zk_resp *s)
{
	int32_t i, n;

	switch (s->type) {
	case ZOP_CREATE:
		s->path = rd_str(r, NULL);
		break;
	case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		s->path = rd_str(r, NULL);
		zk_stat_get(r, &s->stat);
		break;
	case ZOP_EXISTS: case ZOP_SETDATA: case ZOP_SETACL:
		zk_stat_get(r, &s->stat);
		break;
	case ZOP_GETDATA:
		s->data = rd_buffer(r, &s->data_len);
		zk_stat_get(r, &s->stat);
		break;
	case ZOP_GETACL:
		zk_acl_list_get(r, &s->acl);
		zk_stat_get(r, &s->stat);
		break;
	case ZOP_GETCHILDREN: case ZOP_GETEPHEMERALS:
		zk_strvec_get(r, &s->children);
		break;
	case ZOP_GETCHILDREN2:
		zk_strvec_get(r, &s->children);
		zk_stat_get(r, &s->stat);
		break;
	case ZOP_SYNC:
		s->path = rd_str(r, NULL);
		break;
	case ZOP_GETALLCHILDRENNUMBER:
		s->number = rd_int(r);
		break;
	case ZOP_ADDWATCH:
		if (rd_left(r) >= 4)
			rd_int(r);
		break;
	case ZOP_WHOAMI:
		n = rd_vec_count(r);
		if (n > 0) {
			s->who = calloc((size_t)n, sizeof(*s->who));
			if (!s->who)
				return ZMARSHALLINGERROR;
			s->nwho = n;
			for (i = 0; i < n && !r->err; i++) {
				s->who[i].scheme = rd_str(r, NULL);
				s->who[i].user = rd_str(r, NULL);
			}
		}
		break;
	case ZOP_MULTI: case ZOP_MULTIREAD: {
		int32_t cap = 0;

		for (;;) {
			int32_t type = rd_int(r), err;
			int done = rd_bool(r);
			struct zk_resp *o;

			err = rd_int(r);
			if (r->err)
				return ZMARSHALLINGERROR;
			if (done)
				break;
			/* A result is never itself a multi: refusing keeps the recursion one deep. */
			if (type == ZOP_MULTI || type == ZOP_MULTIREAD)
				return ZMARSHALLINGERROR;
			if (s->nresults == cap) {
				struct zk_resp *nr;

				cap = cap ? 2 * cap : 4;
				nr = realloc(s->results, sizeof(*nr) * (size_t)cap);
				if (!nr)
					return ZMARSHALLINGERROR;
				s->results = nr;
			}
			o = &s->results[s->nresults++];
			memset(o, 0, sizeof(*o));
			o->type = type;
			o->err = err;
			if (type == ZOP_ERROR) {
				o->err = rd_int(r);
			} else if (resp_body_get(r, o)) {
				return ZMARSHALLINGERROR;
			}
		}
		break;
	}
	case ZOP_NOTIFICATION:
		s->event_type = rd_int(r);
		s->state = rd_int(r);
		s->path = rd_str(r, NULL);
		break;
	default:
		break;
	}
	return r->err ? ZMARSHALLINGERROR : 0;
}

int zk_resp_decode(struct zk_resp *resp, const uint8_t *p, size_t len, int32_t maxbuf)
{
	struct rd r;
	int32_t type = resp->type;

	memset(resp, 0, sizeof(*resp));
	resp->type = type;
	rd_init(&r, p, len, maxbuf);
	resp->xid = rd_int(&r);
	resp->zxid = rd_long(&r);
	resp->err = rd_int(&r);
	if (r.err)
		return ZMARSHALLINGERROR;
	if (resp->xid == ZXID_NOTIFICATION)
		resp->type = ZOP_NOTIFICATION;
	if (resp->err != 0)
		return 0;
	return resp_body_get(&r, resp);
}

void zk_resp_release(struct zk_resp *resp)
{
	int32_t i;

	free(resp->path);
	free(resp->data);
	zk_acl_list_release(&resp->acl);
	zk_strvec_release(&resp->children);
	for (i = 0; i < resp->nwho; i++) {
		free(resp->who[i].scheme);
		free(resp->who[i].user);
	}
	free(resp->who);
	for (i = 0; i < resp->nresults; i++)
		zk_resp_release(&resp->results[i]);
	free(resp->results);
	memset(resp, 0, sizeof(*resp));
}

size_t zk_frame_begin(struct buf *b)
{
	size_t off = b->len;

	buf_put_int(b, 0);
	return off;
}

void zk_frame_end(struct buf *b, size_t off)
{
	buf_set_int(b, off, (int32_t)(b->len - off - 4));
}
