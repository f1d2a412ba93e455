#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zkproto.h"

#define MAXBUF ZK_DEFAULT_MAXBUFFER

/* ---- helpers ---------------------------------------------------------------------------- */

static void assert_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_strvec_eq(const struct zk_strvec *a, const struct zk_strvec *b)
{
	int32_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_str_eq(a->v[i], b->v[i]);
}

static void assert_acl_eq(const struct zk_acl_list *a, const struct zk_acl_list *b)
{
	assert_int_equal(a->n < 0 ? 0 : a->n, b->n < 0 ? 0 : b->n);
	assert_true(zk_acl_list_equal(a, b));
}

static void assert_data_eq(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen)
{
	assert_int_equal(alen, blen);
	assert_true((a == NULL) == (b == NULL));
	if (alen > 0)
		assert_memory_equal(a, b, (size_t)alen);
}

static void assert_stat_eq(const struct zk_stat *a, const struct zk_stat *b)
{
	assert_int_equal(a->czxid, b->czxid);
	assert_int_equal(a->mzxid, b->mzxid);
	assert_int_equal(a->ctime, b->ctime);
	assert_int_equal(a->mtime, b->mtime);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->cversion, b->cversion);
	assert_int_equal(a->aversion, b->aversion);
	assert_int_equal(a->ephemeral_owner, b->ephemeral_owner);
	assert_int_equal(a->data_length, b->data_length);
	assert_int_equal(a->num_children, b->num_children);
	assert_int_equal(a->pzxid, b->pzxid);
}

static void assert_req_eq(const struct zk_req *a, const struct zk_req *b)
{
	int32_t i;

	assert_int_equal(a->xid, b->xid);
	assert_int_equal(a->type, b->type);
	assert_str_eq(a->path, b->path);
	assert_int_equal(a->path_len, b->path_len);
	assert_data_eq(a->data, a->data_len, b->data, b->data_len);
	assert_acl_eq(&a->acl, &b->acl);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->watch, b->watch);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->auth_type, b->auth_type);
	assert_str_eq(a->scheme, b->scheme);
	assert_int_equal(a->rel_zxid, b->rel_zxid);
	for (i = 0; i < 5; i++)
		assert_strvec_eq(&a->watches[i], &b->watches[i]);
	assert_int_equal(a->nops, b->nops);
	for (i = 0; i < a->nops; i++)
		assert_req_eq(&a->ops[i], &b->ops[i]);
}

static void assert_resp_eq(const struct zk_resp *a, const struct zk_resp *b)
{
	int32_t i;

	assert_int_equal(a->xid, b->xid);
	assert_int_equal(a->zxid, b->zxid);
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->type, b->type);
	assert_str_eq(a->path, b->path);
	assert_stat_eq(&a->stat, &b->stat);
	assert_data_eq(a->data, a->data_len, b->data, b->data_len);
	assert_acl_eq(&a->acl, &b->acl);
	assert_strvec_eq(&a->children, &b->children);
	assert_int_equal(a->number, b->number);
	assert_int_equal(a->nwho, b->nwho);
	for (i = 0; i < a->nwho; i++) {
		assert_str_eq(a->who[i].scheme, b->who[i].scheme);
		assert_str_eq(a->who[i].user, b->who[i].user);
	}
	assert_int_equal(a->nresults, b->nresults);
	for (i = 0; i < a->nresults; i++)
		assert_resp_eq(&a->results[i], &b->results[i]);
	assert_int_equal(a->event_type, b->event_type);
	assert_int_equal(a->state, b->state);
}

static void set_path(struct zk_req *q, const char *p)
{
	q->path = strdup(p);
	q->path_len = (int32_t)strlen(p);
}

static void set_data(uint8_t **d, int32_t *len, const char *s)
{
	*len = (int32_t)strlen(s);
	*d = (uint8_t *)strdup(s);
}

static void acl_push(struct zk_acl_list *a, int32_t perms, const char *scheme, const char *id)
{
	a->v = realloc(a->v, sizeof(*a->v) * (size_t)(a->n + 1));
	a->v[a->n].perms = perms;
	a->v[a->n].id.scheme = strdup(scheme);
	a->v[a->n].id.id = strdup(id);
	a->n++;
}

static struct zk_req *req_init(struct zk_req *q, int32_t type, const char *path)
{
	memset(q, 0, sizeof(*q));
	q->xid = 17;
	q->type = type;
	if (path)
		set_path(q, path);
	return q;
}

static struct zk_req *multi_add(struct zk_req *m, int32_t type, const char *path)
{
	m->ops = realloc(m->ops, sizeof(*m->ops) * (size_t)(m->nops + 1));
	req_init(&m->ops[m->nops], type, path);
	m->ops[m->nops].xid = m->xid;
	return &m->ops[m->nops++];
}

/* Encodes q, decodes it, compares; every strict prefix must fail. Releases q. */
static void req_roundtrip(struct zk_req *q)
{
	struct buf b = BUF_INIT;
	struct zk_req d;
	size_t cut;

	zk_req_encode(q, &b);
	assert_false(b.oom);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_req_eq(q, &d);
	zk_req_release(&d);
	/* deleteContainer's body is "the rest of the frame": no prefix is short. */
	for (cut = 0; q->type != ZOP_DELETECONTAINER && cut < b.len; cut++) {
		assert_int_equal(zk_req_decode(&d, b.p, cut, MAXBUF), ZMARSHALLINGERROR);
		zk_req_release(&d);
	}
	buf_release(&b);
	zk_req_release(q);
}

static void resp_roundtrip(struct zk_resp *s)
{
	struct buf b = BUF_INIT;
	struct zk_resp d;
	size_t cut;
	int has_body = s->err == 0 && s->type != ZOP_DELETE && s->type != ZOP_CLOSESESSION &&
		       s->type != ZOP_PING && s->type != ZOP_CHECK && s->type != ZOP_SETWATCHES &&
		       s->type != ZOP_ADDWATCH;	/* its 4 zero bytes are optional */

	zk_resp_encode(s, &b);
	assert_false(b.oom);
	memset(&d, 0, sizeof(d));
	d.type = s->type;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_resp_eq(s, &d);
	zk_resp_release(&d);
	/* Prefixes that cut the header or a body always fail. */
	for (cut = 0; cut < (has_body ? b.len : 16); cut++) {
		memset(&d, 0, sizeof(d));
		d.type = s->type;
		assert_int_equal(zk_resp_decode(&d, b.p, cut, MAXBUF), ZMARSHALLINGERROR);
		zk_resp_release(&d);
	}
	buf_release(&b);
	zk_resp_release(s);
}

static struct zk_resp *resp_init(struct zk_resp *s, int32_t type)
{
	memset(s, 0, sizeof(*s));
	s->xid = 23;
	s->zxid = 0x100000005LL;
	s->type = type;
	return s;
}

static void fill_stat(struct zk_stat *st, int64_t seed)
{
	st->czxid = seed;
	st->mzxid = seed + 1;
	st->ctime = 1795421518685LL;
	st->mtime = 1795421518686LL;
	st->version = 3;
	st->cversion = -1;
	st->aversion = -1;
	st->ephemeral_owner = (int64_t)0x0100007fc7110000ULL;
	st->data_length = 5;
	st->num_children = 2;
	st->pzxid = seed + 2;
}

static void push(struct zk_strvec *v, const char *s)
{
	assert_int_equal(zk_strvec_push(v, s), 0);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Every create flavour, with data, null data and empty data, round-trips. */
static void test_req_create(void **state)
{
	struct zk_req q;

	(void)state;
	req_init(&q, ZOP_CREATE, "/a");
	set_data(&q.data, &q.data_len, "hello");
	acl_push(&q.acl, 31, "world", "anyone");
	q.flags = 3;
	req_roundtrip(&q);
	req_init(&q, ZOP_CREATE2, "/a/s-");
	q.data_len = -1;	/* zkCli "create /p" */
	acl_push(&q.acl, 1, "digest", "u:hash=");
	acl_push(&q.acl, 31, "auth", "");
	q.flags = 2;
	req_roundtrip(&q);
	req_init(&q, ZOP_CREATECONTAINER, "/c");
	set_data(&q.data, &q.data_len, "");
	acl_push(&q.acl, 31, "world", "anyone");
	q.flags = 4;
	req_roundtrip(&q);
	req_init(&q, ZOP_CREATETTL, "/t");
	set_data(&q.data, &q.data_len, "x");
	acl_push(&q.acl, 31, "world", "anyone");
	q.flags = 5;
	q.ttl = 0xFFFFFFFFFFLL;
	req_roundtrip(&q);
}

/* Path-only and path+flag requests round-trip, incl. a null path. */
static void test_req_simple(void **state)
{
	static const int32_t watched[] = { ZOP_EXISTS, ZOP_GETDATA, ZOP_GETCHILDREN, ZOP_GETCHILDREN2 };
	static const int32_t pathonly[] = { ZOP_GETACL, ZOP_SYNC, ZOP_GETEPHEMERALS,
					    ZOP_GETALLCHILDRENNUMBER };
	static const int32_t moded[] = { ZOP_CHECKWATCHES, ZOP_REMOVEWATCHES, ZOP_ADDWATCH };
	static const int32_t bare[] = { ZOP_PING, ZOP_CLOSESESSION, ZOP_WHOAMI };
	struct zk_req q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(watched) / sizeof(watched[0]); i++) {
		req_init(&q, watched[i], "/a/b");
		q.watch = 1;
		req_roundtrip(&q);
	}
	for (i = 0; i < sizeof(pathonly) / sizeof(pathonly[0]); i++) {
		req_init(&q, pathonly[i], "/x");
		req_roundtrip(&q);
	}
	for (i = 0; i < sizeof(moded) / sizeof(moded[0]); i++) {
		req_init(&q, moded[i], "/w");
		q.mode = 3;
		req_roundtrip(&q);
	}
	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		req_init(&q, bare[i], NULL);
		q.xid = bare[i] == ZOP_PING ? ZXID_PING : 5;
		req_roundtrip(&q);
	}
	/* getEphemerals with a null prefix: path NULL, path_len -1. */
	req_init(&q, ZOP_GETEPHEMERALS, NULL);
	q.path_len = -1;
	req_roundtrip(&q);
	req_init(&q, ZOP_DELETE, "/a");
	q.version = -1;
	req_roundtrip(&q);
	req_init(&q, ZOP_SETDATA, "/a");
	set_data(&q.data, &q.data_len, "world");
	q.version = 4;
	req_roundtrip(&q);
	req_init(&q, ZOP_SETDATA, "/a");
	q.data_len = -1;
	q.version = -1;
	req_roundtrip(&q);
	req_init(&q, ZOP_SETACL, "/a");
	acl_push(&q.acl, 31, "ip", "127.0.0.1");
	q.version = 0;
	req_roundtrip(&q);
	req_init(&q, ZOP_DELETECONTAINER, "/container");
	req_roundtrip(&q);
	req_init(&q, ZOP_SASL, NULL);
	set_data(&q.data, &q.data_len, "token");
	req_roundtrip(&q);
}

/* auth, setWatches and setWatches2 round-trip, incl. empty watch lists. */
static void test_req_auth_setwatches(void **state)
{
	struct zk_req q;

	(void)state;
	req_init(&q, ZOP_AUTH, NULL);
	q.xid = ZXID_AUTH;
	q.scheme = strdup("digest");
	set_data(&q.data, &q.data_len, "user1:pw");
	req_roundtrip(&q);
	req_init(&q, ZOP_SETWATCHES, NULL);
	q.xid = ZXID_SETWATCHES;
	q.rel_zxid = 0x100000009LL;
	push(&q.watches[0], "/a");
	push(&q.watches[0], "/b");
	push(&q.watches[2], "/");
	req_roundtrip(&q);
	req_init(&q, ZOP_SETWATCHES2, NULL);
	q.xid = ZXID_SETWATCHES;
	push(&q.watches[1], "/e");
	push(&q.watches[3], "/p");
	push(&q.watches[4], "/r");
	req_roundtrip(&q);
}

/* multi with every allowed write op and multiRead round-trip; empty multi too. */
static void test_req_multi(void **state)
{
	struct zk_req q, *o;

	(void)state;
	req_init(&q, ZOP_MULTI, NULL);
	o = multi_add(&q, ZOP_CREATE, "/m1");
	set_data(&o->data, &o->data_len, "1");
	acl_push(&o->acl, 31, "world", "anyone");
	o = multi_add(&q, ZOP_CREATE2, "/m2");
	o->data_len = -1;
	acl_push(&o->acl, 31, "world", "anyone");
	o->flags = 1;
	o = multi_add(&q, ZOP_CREATECONTAINER, "/m3");
	set_data(&o->data, &o->data_len, "");
	acl_push(&o->acl, 31, "world", "anyone");
	o->flags = 4;
	o = multi_add(&q, ZOP_CREATETTL, "/m4");
	set_data(&o->data, &o->data_len, "t");
	acl_push(&o->acl, 31, "world", "anyone");
	o->flags = 5;
	o->ttl = 100;
	multi_add(&q, ZOP_DELETE, "/d")->version = 2;
	o = multi_add(&q, ZOP_SETDATA, "/s");
	set_data(&o->data, &o->data_len, "v");
	o->version = -1;
	multi_add(&q, ZOP_CHECK, "/c")->version = 7;
	req_roundtrip(&q);
	req_init(&q, ZOP_MULTIREAD, NULL);
	multi_add(&q, ZOP_GETDATA, "/a");
	multi_add(&q, ZOP_GETCHILDREN, "/");
	req_roundtrip(&q);
	req_init(&q, ZOP_MULTI, NULL);
	req_roundtrip(&q);
}

/* reconfig's body parses (and is dropped); the header survives. */
static void test_req_reconfig(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_req d;

	(void)state;
	buf_put_int(&b, 9);
	buf_put_int(&b, ZOP_RECONFIG);
	buf_put_str(&b, "server.4=h:1:2", -1);
	buf_put_str(&b, NULL, -1);
	buf_put_str(&b, NULL, -1);
	buf_put_long(&b, -1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_int_equal(d.xid, 9);
	assert_int_equal(d.type, ZOP_RECONFIG);
	zk_req_release(&d);
	assert_int_equal(zk_req_decode(&d, b.p, b.len - 1, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	buf_release(&b);
}

/* Null vectors from the wire stay distinguishable (-1) and are re-encoded as empty. */
static void test_req_null_vectors(void **state)
{
	struct buf b = BUF_INIT, again = BUF_INIT;
	struct zk_req d;

	(void)state;
	buf_put_int(&b, 1);
	buf_put_int(&b, ZOP_CREATE);
	buf_put_str(&b, "/a", -1);
	buf_put_buffer(&b, NULL, -1);
	buf_put_int(&b, -1);		/* null ACL vector */
	buf_put_int(&b, 0);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_null(d.data);
	assert_int_equal(d.data_len, -1);
	assert_int_equal(d.acl.n, -1);
	assert_null(d.acl.v);
	zk_req_encode(&d, &again);
	/* the C client cannot read a null vector: it goes out as count 0 */
	assert_int_equal(be32_get(again.p + 8 + 6 + 4), 0);
	zk_req_release(&d);
	buf_release(&again);
	buf_release(&b);

	buf_put_int(&b, ZXID_SETWATCHES);
	buf_put_int(&b, ZOP_SETWATCHES);
	buf_put_long(&b, 5);
	buf_put_int(&b, -1);
	buf_put_int(&b, 0);
	buf_put_int(&b, -1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_int_equal(d.watches[0].n, -1);
	assert_int_equal(d.watches[1].n, 0);
	assert_int_equal(d.watches[2].n, -1);
	zk_req_release(&d);
	buf_release(&b);

	/* A null path in exists decodes as NULL with path_len -1. */
	buf_put_int(&b, 3);
	buf_put_int(&b, ZOP_EXISTS);
	buf_put_str(&b, NULL, -1);
	buf_put_bool(&b, 1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_null(d.path);
	assert_int_equal(d.path_len, -1);
	assert_int_equal(d.watch, 1);
	zk_req_release(&d);
	buf_release(&b);
}

/* Negative lengths, lengths over maxbuf and counts beyond the bytes left are refused. */
static void test_req_hostile_lengths(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_req d;
	int32_t bad[] = { -2, -0x7fffffff - 1, 0x7fffffff, 100 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_put_int(&b, 1);
		buf_put_int(&b, ZOP_GETDATA);
		buf_put_int(&b, bad[i]);
		buf_put(&b, "/abc", 4);
		buf_put_bool(&b, 0);
		assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
		assert_int_equal(d.xid, 1);
		assert_int_equal(d.type, ZOP_GETDATA);
		zk_req_release(&d);
		buf_reset(&b);
	}
	/* A path longer than maxbuf, though present in full. */
	buf_put_int(&b, 1);
	buf_put_int(&b, ZOP_GETDATA);
	buf_put_str(&b, "/0123456789abcdef", -1);
	buf_put_bool(&b, 0);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, 16), ZMARSHALLINGERROR);
	zk_req_release(&d);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, 17), 0);
	zk_req_release(&d);
	buf_reset(&b);
	/* Data over maxbuf. */
	buf_put_int(&b, 1);
	buf_put_int(&b, ZOP_SETDATA);
	buf_put_str(&b, "/a", -1);
	buf_put_buffer(&b, "0123456789", 10);
	buf_put_int(&b, -1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, 9), ZMARSHALLINGERROR);
	zk_req_release(&d);
	buf_reset(&b);
	/* ACL count larger than the bytes left. */
	buf_put_int(&b, 1);
	buf_put_int(&b, ZOP_CREATE);
	buf_put_str(&b, "/a", -1);
	buf_put_buffer(&b, "", 0);
	buf_put_int(&b, 1000);
	buf_put_int(&b, 31);
	buf_put_str(&b, "world", -1);
	buf_put_str(&b, "anyone", -1);
	buf_put_int(&b, 0);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	buf_reset(&b);
	/* A watch-list count larger than the bytes left, and a negative one. */
	buf_put_int(&b, ZXID_SETWATCHES);
	buf_put_int(&b, ZOP_SETWATCHES);
	buf_put_long(&b, 0);
	buf_put_int(&b, 0x7fffffff);
	buf_put_int(&b, 0);
	buf_put_int(&b, 0);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	/* Java's BinaryIndex reads any negative count but -1 as an empty vector. */
	be32_put(b.p + 16, -5);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_int_equal(d.watches[0].n, 0);
	zk_req_release(&d);
	buf_reset(&b);
	/* A short header, an unknown opcode, check outside multi. */
	buf_put_int(&b, 1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	buf_put_int(&b, 999);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZUNIMPLEMENTED);
	assert_int_equal(d.type, 999);
	zk_req_release(&d);
	be32_put(b.p + 4, ZOP_CHECK);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZUNIMPLEMENTED);
	zk_req_release(&d);
	buf_reset(&b);
	/* Ops a multi may not carry. */
	buf_put_int(&b, 1);
	buf_put_int(&b, ZOP_MULTI);
	buf_put_int(&b, ZOP_GETDATA);
	buf_put_bool(&b, 0);
	buf_put_int(&b, -1);
	buf_put_str(&b, "/a", -1);
	buf_put_bool(&b, 0);
	buf_put_int(&b, -1);
	buf_put_bool(&b, 1);
	buf_put_int(&b, -1);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	be32_put(b.p + 4, ZOP_MULTIREAD);
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), 0);
	zk_req_release(&d);
	be32_put(b.p + 8, ZOP_MULTI);	/* nested */
	assert_int_equal(zk_req_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_req_release(&d);
	buf_release(&b);
}

/* ---- replies ------------------------------------------------------------------------------ */

/* Every reply body round-trips; error replies carry no body. */
static void test_resp_bodies(void **state)
{
	static const int32_t statonly[] = { ZOP_EXISTS, ZOP_SETDATA, ZOP_SETACL };
	static const int32_t create2[] = { ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL };
	static const int32_t nobody[] = { ZOP_DELETE, ZOP_CLOSESESSION, ZOP_PING, ZOP_SETWATCHES };
	struct zk_resp s;
	size_t i;

	(void)state;
	resp_init(&s, ZOP_CREATE);
	s.path = strdup("/a/s-0000000000");
	resp_roundtrip(&s);
	for (i = 0; i < 3; i++) {
		resp_init(&s, create2[i]);
		s.path = strdup("/x");
		fill_stat(&s.stat, 5);
		resp_roundtrip(&s);
		resp_init(&s, statonly[i]);
		fill_stat(&s.stat, 9);
		resp_roundtrip(&s);
	}
	for (i = 0; i < sizeof(nobody) / sizeof(nobody[0]); i++) {
		resp_init(&s, nobody[i]);
		resp_roundtrip(&s);
	}
	resp_init(&s, ZOP_GETDATA);
	set_data(&s.data, &s.data_len, "hello");
	fill_stat(&s.stat, 1);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETDATA);
	s.data_len = -1;
	fill_stat(&s.stat, 1);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETDATA);
	set_data(&s.data, &s.data_len, "");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETACL);
	acl_push(&s.acl, 31, "world", "anyone");
	acl_push(&s.acl, 1, "digest", "user:x");
	fill_stat(&s.stat, 2);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETCHILDREN);
	push(&s.children, "a");
	push(&s.children, "zookeeper");
	push(&s.children, "nope");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETCHILDREN2);
	push(&s.children, "a");
	fill_stat(&s.stat, 7);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETCHILDREN2);
	fill_stat(&s.stat, 7);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETEPHEMERALS);
	push(&s.children, "/e1");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_SYNC);
	s.path = strdup("/a");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETALLCHILDRENNUMBER);
	s.number = 7;
	resp_roundtrip(&s);
	resp_init(&s, ZOP_ADDWATCH);
	resp_roundtrip(&s);
	resp_init(&s, ZOP_WHOAMI);
	s.nwho = 2;
	s.who = calloc(2, sizeof(*s.who));
	s.who[0].scheme = strdup("digest");
	s.who[0].user = strdup("user1");
	s.who[1].scheme = strdup("ip");
	s.who[1].user = strdup("127.0.0.1");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_GETDATA);
	s.err = ZNONODE;
	resp_roundtrip(&s);
	resp_init(&s, ZOP_CREATE);
	s.err = ZNODEEXISTS;
	resp_roundtrip(&s);
}

/* Multi and multiRead replies round-trip with every result type, errors included. */
static void test_resp_multi(void **state)
{
	struct zk_resp s, *r;

	(void)state;
	resp_init(&s, ZOP_MULTI);
	s.nresults = 6;
	s.results = calloc(6, sizeof(*s.results));
	r = s.results;
	r[0].type = ZOP_CREATE;
	r[0].path = strdup("/m1");
	r[1].type = ZOP_CREATE2;
	r[1].path = strdup("/m2");
	fill_stat(&r[1].stat, 3);
	r[2].type = ZOP_DELETE;
	r[3].type = ZOP_SETDATA;
	fill_stat(&r[3].stat, 4);
	r[4].type = ZOP_CHECK;
	r[5].type = ZOP_ERROR;
	r[5].err = ZBADVERSION;
	resp_roundtrip(&s);
	resp_init(&s, ZOP_MULTIREAD);
	s.nresults = 3;
	s.results = calloc(3, sizeof(*s.results));
	r = s.results;
	r[0].type = ZOP_GETDATA;
	set_data(&r[0].data, &r[0].data_len, "x");
	fill_stat(&r[0].stat, 1);
	r[1].type = ZOP_ERROR;
	r[1].err = ZNONODE;
	r[2].type = ZOP_GETCHILDREN;
	push(&r[2].children, "c");
	resp_roundtrip(&s);
	resp_init(&s, ZOP_MULTI);
	resp_roundtrip(&s);
}

/* The failed multi reply is byte for byte the observed one (client-protocol §8.3). */
static void test_resp_multi_observed_bytes(void **state)
{
	static const uint8_t want[] = {
		0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x9b, 0xff, 0xff, 0xff, 0x9b,
		0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfe,
		0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff,
	};
	struct zk_resp s;
	struct buf b = BUF_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.xid = 7;
	s.zxid = 8;
	s.type = ZOP_MULTI;
	s.nresults = 3;
	s.results = calloc(3, sizeof(*s.results));
	s.results[0].type = ZOP_ERROR;
	s.results[1].type = ZOP_ERROR;
	s.results[1].err = ZNONODE;
	s.results[2].type = ZOP_ERROR;
	s.results[2].err = ZRUNTIMEINCONSISTENCY;
	zk_resp_encode(&s, &b);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	zk_resp_release(&s);
	buf_release(&b);
}

/* A notification is xid -1 with the observed WatcherEvent bytes. */
static void test_resp_notification(void **state)
{
	static const uint8_t want[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
		0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0x2f, 0x61,
	};
	struct zk_resp s, d;
	struct buf b = BUF_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.xid = ZXID_NOTIFICATION;
	s.zxid = -1;
	s.type = ZOP_NOTIFICATION;
	s.event_type = ZEV_DATA_CHANGED;
	s.state = ZSTATE_SYNC_CONNECTED;
	s.path = strdup("/a");
	zk_resp_encode(&s, &b);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	/* The decoder recognises it by xid whatever type the caller expected. */
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETDATA;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_resp_eq(&s, &d);
	zk_resp_release(&d);
	zk_resp_release(&s);
	buf_release(&b);
}

/* Null strings and vectors in replies: null decodes as NULL/-1, NULL encodes as "". */
static void test_resp_nulls(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_resp s, d;

	(void)state;
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_int(&b, 0);
	buf_put_int(&b, -1);	/* null children vector */
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETCHILDREN;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_int_equal(d.children.n, -1);
	zk_resp_release(&d);
	buf_reset(&b);
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_int(&b, 0);
	buf_put_str(&b, NULL, -1);
	memset(&d, 0, sizeof(d));
	d.type = ZOP_CREATE;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_null(d.path);
	zk_resp_release(&d);
	buf_reset(&b);
	resp_init(&s, ZOP_CREATE);
	zk_resp_encode(&s, &b);
	assert_int_equal(b.len, 16 + 4);
	assert_int_equal(be32_get(b.p + 16), 0);
	buf_release(&b);
}

/* Hostile reply lengths and counts are refused; a nested multi result is refused. */
static void test_resp_hostile(void **state)
{
	struct buf b = BUF_INIT;
	struct zk_resp d;
	int depth;

	(void)state;
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_int(&b, 0);
	buf_put_int(&b, 0x40000000);	/* children count */
	buf_put_str(&b, "a", -1);
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETCHILDREN;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_resp_release(&d);
	/* A negative count other than -1 is an empty vector, as Java reads it. */
	be32_put(b.p + 16, -3);
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETCHILDREN;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), 0);
	assert_int_equal(d.children.n, 0);
	zk_resp_release(&d);
	/* whoAmI with a count beyond the bytes left */
	memset(&d, 0, sizeof(d));
	d.type = ZOP_WHOAMI;
	be32_put(b.p + 16, 0x7fffffff);
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_resp_release(&d);
	buf_reset(&b);
	/* getData whose data length exceeds maxbuf */
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_int(&b, 0);
	buf_put_buffer(&b, "0123456789", 10);
	for (int i = 0; i < 68; i++)
		buf_put_u8(&b, 0);
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETDATA;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, 8), ZMARSHALLINGERROR);
	zk_resp_release(&d);
	memset(&d, 0, sizeof(d));
	d.type = ZOP_GETDATA;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, 10), 0);
	zk_resp_release(&d);
	buf_reset(&b);
	/* A multi reply whose results claim to be multis, nested deeply: refused at once. */
	buf_put_int(&b, 1);
	buf_put_long(&b, 2);
	buf_put_int(&b, 0);
	for (depth = 0; depth < 100000; depth++) {
		buf_put_int(&b, ZOP_MULTI);
		buf_put_bool(&b, 0);
		buf_put_int(&b, 0);
	}
	/* ...and well formed: every level is closed by its done header. */
	for (depth = 0; depth <= 100000; depth++) {
		buf_put_int(&b, -1);
		buf_put_bool(&b, 1);
		buf_put_int(&b, -1);
	}
	memset(&d, 0, sizeof(d));
	d.type = ZOP_MULTI;
	assert_int_equal(zk_resp_decode(&d, b.p, b.len, MAXBUF), ZMARSHALLINGERROR);
	zk_resp_release(&d);
	buf_release(&b);
}

/* ---- connect ------------------------------------------------------------------------------ */

/* ConnectRequest: 45 bytes with readOnly, 44 without (go-zookeeper); both round-trip. */
static void test_connect_req(void **state)
{
	struct zk_connect_req c, d;
	struct buf b = BUF_INIT;
	int ro;

	(void)state;
	for (ro = 0; ro < 2; ro++) {
		memset(&c, 0, sizeof(c));
		c.last_zxid = 0x100000003LL;
		c.timeout = 30000;
		c.session_id = 0x0100007fc7110000LL;
		c.passwd_len = 16;
		memcpy(c.passwd, "0123456789abcdef", 16);
		c.has_readonly = ro;
		c.readonly = ro;
		zk_connect_req_encode(&c, &b);
		assert_int_equal(b.len, ro ? 45 : 44);
		assert_int_equal(zk_connect_req_decode(&d, b.p, b.len), 0);
		assert_int_equal(d.protocol_version, 0);
		assert_int_equal(d.last_zxid, c.last_zxid);
		assert_int_equal(d.timeout, 30000);
		assert_int_equal(d.session_id, c.session_id);
		assert_int_equal(d.passwd_len, 16);
		assert_memory_equal(d.passwd, c.passwd, 16);
		assert_int_equal(d.has_readonly, ro);
		assert_int_equal(d.readonly, ro);
		/* Cutting into the password fails; the readOnly byte is optional. */
		assert_int_equal(zk_connect_req_decode(&d, b.p, 43), ZMARSHALLINGERROR);
		assert_int_equal(zk_connect_req_decode(&d, b.p, 20), ZMARSHALLINGERROR);
		buf_reset(&b);
	}
	/* Hostile password lengths. */
	memset(&c, 0, sizeof(c));
	zk_connect_req_encode(&c, &b);
	be32_put(b.p + 24, -5);
	assert_int_equal(zk_connect_req_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	be32_put(b.p + 24, 0x7fffffff);
	assert_int_equal(zk_connect_req_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	be32_put(b.p + 24, 17);
	assert_int_equal(zk_connect_req_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
	/* A null password (-1) is accepted as none. */
	be32_put(b.p + 24, -1);
	assert_int_equal(zk_connect_req_decode(&d, b.p, 28), 0);
	assert_int_equal(d.passwd_len, -1);
	assert_false(d.has_readonly);
	buf_release(&b);
}

/* ConnectResponse: 37 bytes for new clients, 36 for old; the observed bytes decode. */
static void test_connect_resp(void **state)
{
	static const uint8_t observed[] = {
		0, 0, 0, 0, 0, 0, 0x75, 0x30, 0x01, 0, 0, 0x70, 0xc7, 0x11, 0, 0, 0, 0, 0, 0x10,
		0x55, 0xa4, 0x46, 0x9d, 0xbe, 0x87, 0xa9, 0x6f, 0xbb, 0x4b, 0x4c, 0x6a, 0x37, 0x89,
		0x8c, 0x5e, 0,
	};
	struct zk_connect_resp c, d;
	struct buf b = BUF_INIT;
	int ro;

	(void)state;
	assert_int_equal(zk_connect_resp_decode(&d, observed, sizeof(observed)), 0);
	assert_int_equal(d.timeout, 30000);
	assert_int_equal(d.session_id, 0x01000070c7110000LL);
	assert_int_equal(d.passwd[0], 0x55);
	assert_int_equal(d.passwd[15], 0x5e);
	assert_true(d.has_readonly);
	assert_false(d.readonly);
	zk_connect_resp_encode(&d, &b);
	assert_int_equal(b.len, sizeof(observed));
	assert_memory_equal(b.p, observed, sizeof(observed));
	buf_reset(&b);
	for (ro = 0; ro < 2; ro++) {
		memset(&c, 0, sizeof(c));
		c.timeout = 4000;
		c.session_id = 77;
		memset(c.passwd, 0xab, 16);
		c.has_readonly = ro;
		c.readonly = ro;
		zk_connect_resp_encode(&c, &b);
		assert_int_equal(b.len, ro ? 37 : 36);
		assert_int_equal(zk_connect_resp_decode(&d, b.p, b.len), 0);
		assert_int_equal(d.timeout, 4000);
		assert_int_equal(d.session_id, 77);
		assert_memory_equal(d.passwd, c.passwd, 16);
		assert_int_equal(d.has_readonly, ro);
		assert_int_equal(d.readonly, ro);
		assert_int_equal(zk_connect_resp_decode(&d, b.p, 35), ZMARSHALLINGERROR);
		be32_put(b.p + 16, -1);
		assert_int_equal(zk_connect_resp_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
		be32_put(b.p + 16, 0x7fffffff);
		assert_int_equal(zk_connect_resp_decode(&d, b.p, b.len), ZMARSHALLINGERROR);
		buf_reset(&b);
	}
	buf_release(&b);
}

/* ---- buf ---------------------------------------------------------------------------------- */

/* The reader never reads past the end and errors are sticky. */
static void test_rd_sticky(void **state)
{
	static const uint8_t p[] = { 0, 0, 0, 5, 'a', 'b' };
	struct rd r;
	int32_t len;

	(void)state;
	rd_init(&r, p, sizeof(p), 0);
	assert_null(rd_str(&r, &len));
	assert_int_equal(len, -1);
	assert_true(r.err);
	assert_int_equal(rd_int(&r), 0);
	assert_int_equal(rd_long(&r), 0);
	assert_int_equal(rd_u8(&r), 0);
	assert_int_equal(rd_left(&r), 0);
	assert_int_equal(rd_vec_count(&r), 0);
}

/* Frames carry a backpatched big-endian length. */
static void test_frame(void **state)
{
	struct buf b = BUF_INIT;
	size_t off;

	(void)state;
	off = zk_frame_begin(&b);
	buf_put(&b, "abcde", 5);
	zk_frame_end(&b, off);
	assert_int_equal(b.len, 9);
	assert_int_equal(be32_get(b.p), 5);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_req_create),
		cmocka_unit_test(test_req_simple),
		cmocka_unit_test(test_req_auth_setwatches),
		cmocka_unit_test(test_req_multi),
		cmocka_unit_test(test_req_reconfig),
		cmocka_unit_test(test_req_null_vectors),
		cmocka_unit_test(test_req_hostile_lengths),
		cmocka_unit_test(test_resp_bodies),
		cmocka_unit_test(test_resp_multi),
		cmocka_unit_test(test_resp_multi_observed_bytes),
		cmocka_unit_test(test_resp_notification),
		cmocka_unit_test(test_resp_nulls),
		cmocka_unit_test(test_resp_hostile),
		cmocka_unit_test(test_connect_req),
		cmocka_unit_test(test_connect_resp),
		cmocka_unit_test(test_rd_sticky),
		cmocka_unit_test(test_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
