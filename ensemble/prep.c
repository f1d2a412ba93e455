/*
 * prep: Apache's PrepRequestProcessor for one server — validation in Apache's order, and
 * the outstanding-changes list that lets writes be pipelined.
 *
 * A change record is what a path will look like once every prepared txn is applied:
 * exists or deleted, versions, child counter, child count, ephemeral owner, ACL. The
 * newest record of a path shadows the tree; records are kept in prepare order (FIFO) and
 * dropped once the tree has applied their zxid. A multi that fails rolls back the records
 * its earlier ops made (each record remembers the one it shadowed while the multi runs).
 */
#include "prep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "path.h"

#define CONTAINER_OWNER ((int64_t)0x8000000000000000ULL)

struct rec {
	struct hmap_entry e;	/* in the path map while it is the newest for its path */
	struct rec *next;	/* FIFO */
	struct rec *shadowed;	/* previous newest record of the path, during a multi only */
	int in_map;
	int64_t zxid;
	int deleted;
	int32_t version, aversion, counter, nchildren;
	int64_t owner;		/* raw ephemeralOwner */
	struct zk_acl_list acl;
	char path[];
};

struct zk_prep {
	const struct zk_tree *tree;
	struct prep_opts opts;
	struct hmap map;
	struct rec *head, *tail;
	uint64_t k0, k1;
};

struct zk_prep *prep_new(const struct zk_tree *tree, const struct prep_opts *opts)
{
	struct zk_prep *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->tree = tree;
	if (opts)
		p->opts = *opts;
	hmap_init(&p->map);
	p->k0 = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
	p->k1 = 0x5bd1e9955bd1e995ULL ^ (uint64_t)(uintptr_t)&p->map;
	return p;
}

static void rec_free(struct rec *r)
{
	zk_acl_list_release(&r->acl);
	free(r);
}

void prep_reset(struct zk_prep *p)
{
	struct rec *r, *n;

	for (r = p->head; r; r = n) {
		n = r->next;
		if (r->in_map)
			hmap_remove(&p->map, &r->e);
		rec_free(r);
	}
	p->head = p->tail = NULL;
}

void prep_free(struct zk_prep *p)
{
	if (!p)
		return;
	prep_reset(p);
	hmap_release(&p->map);
	free(p);
}

void prep_applied(struct zk_prep *p, int64_t zxid)
{
	struct rec *r;

	while ((r = p->head) && r->zxid <= zxid) {
		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		if (r->in_map)
			hmap_remove(&p->map, &r->e);
		rec_free(r);
	}
}

/* The root is "" as a parent and "/" as a request path: one record for both. */
static const char *key_of(const char *path)
{
	return strcmp(path, "/") ? path : "";
}

static uint32_t hash_path(const struct zk_prep *p, const char *path)
{
	path = key_of(path);
	return (uint32_t)hmap_hash(p->k0, p->k1, path, strlen(path));
}

static struct rec *map_find(const struct zk_prep *p, const char *path)
{
	uint32_t h = hash_path(p, path);
	struct hmap_entry *e;

	path = key_of(path);
	for (e = hmap_bucket(&p->map, h); e; e = e->next) {
		struct rec *r = (struct rec *)e;

		if (e->hash == h && !strcmp(r->path, path))
			return r;
	}
	return NULL;
}

/*
 * The state a path will have: its newest record, or the tree. Fills *out (a scratch record
 * whose acl is borrowed, never freed by the caller) and returns 0, or ZNONODE.
 */
struct view {
	int32_t version, aversion, counter, nchildren;
	int64_t owner;
	const struct zk_acl_list *acl;
};

static int lookup(const struct zk_prep *p, const char *path, struct view *v)
{
	const struct rec *r = map_find(p, path);
	const struct zk_node *n;
	struct zk_stat st;

	if (r) {
		if (r->deleted)
			return ZNONODE;
		v->version = r->version;
		v->aversion = r->aversion;
		v->counter = r->counter;
		v->nchildren = r->nchildren;
		v->owner = r->owner;
		v->acl = &r->acl;
		return 0;
	}
	n = tree_lookup(p->tree, *path ? path : "/");
	if (!n)
		return ZNONODE;
	node_stat(n, &st);
	v->version = st.version;
	v->aversion = st.aversion;
	v->counter = node_child_counter(n);
	v->nchildren = node_num_children(n);
	v->owner = node_ephemeral_owner(n);
	v->acl = node_acl(n);
	return 0;
}

/* Records the new state of a path (in_multi: remember what it shadows, for rollback). */
static int add_rec(struct zk_prep *p, const char *path, int64_t zxid, int deleted,
		   const struct view *v, const struct zk_acl_list *acl, int in_multi)
{
	size_t len;
	struct rec *r, *old;

	path = key_of(path);
	len = strlen(path);
	r = calloc(1, sizeof(*r) + len + 1);
	if (!r)
		return ZSYSTEMERROR;
	memcpy(r->path, path, len + 1);
	r->zxid = zxid;
	r->deleted = deleted;
	if (!deleted && v) {
		r->version = v->version;
		r->aversion = v->aversion;
		r->counter = v->counter;
		r->nchildren = v->nchildren;
		r->owner = v->owner;
		if (acl && zk_acl_list_copy(&r->acl, acl)) {
			free(r);
			return ZSYSTEMERROR;
		}
	}
	old = map_find(p, path);
	if (old) {
		hmap_remove(&p->map, &old->e);
		old->in_map = 0;
	}
	r->shadowed = in_multi ? old : NULL;
	hmap_add(&p->map, &r->e, hash_path(p, path));
	r->in_map = 1;
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	return 0;
}

/* Undoes the records added after `mark` (the tail before the multi began). */
static void rollback(struct zk_prep *p, struct rec *mark)
{
	struct rec **stack = NULL, *r;
	size_t n = 0, cap = 0, i;

	for (r = mark ? mark->next : p->head; r; r = r->next) {
		if (n == cap) {
			struct rec **ns;

			cap = cap ? cap * 2 : 16;
			ns = realloc(stack, cap * sizeof(*ns));
			if (!ns)
				break;
			stack = ns;
		}
		stack[n++] = r;
	}
	/* Newest first, so each path ends up with the record it had before the multi. */
	for (i = n; i-- > 0;) {
		r = stack[i];
		if (r->in_map)
			hmap_remove(&p->map, &r->e);
		if (r->shadowed) {
			hmap_add(&p->map, &r->shadowed->e, hash_path(p, r->shadowed->path));
			r->shadowed->in_map = 1;
		}
		rec_free(r);
	}
	free(stack);
	if (mark)
		mark->next = NULL;
	else
		p->head = NULL;
	p->tail = mark;
}

static void clear_shadows(struct zk_prep *p, struct rec *mark)
{
	struct rec *r;

	for (r = mark ? mark->next : p->head; r; r = r->next)
		r->shadowed = NULL;
}

static int check_acl(const struct zk_prep *p, const struct zk_acl_list *acl, int32_t perm,
		     const struct zk_ids *ids)
{
	if (p->opts.skip_acl)
		return 0;
	return acl_check(acl, perm, ids);
}

/* EphemeralType.get(owner) == NORMAL: containers carry the sign bit alone; a 0xFF top
 * byte means TTL only while extended types are enabled (else it reads as a session). */
static int is_normal_ephemeral(const struct zk_prep *p, int64_t owner)
{
	if (owner == 0 || owner == CONTAINER_OWNER)
		return 0;
	if (p->opts.extended_types && ((uint64_t)owner >> 56) == 0xFF)
		return 0;
	return 1;
}

/* Splits off the parent ("" for the root's children). 0 or ZBADARGUMENTS. */
static int parent_of(const char *path, int32_t len, char **parent)
{
	const char *slash;

	if (!path || len < 0 || memchr(path, 0, (size_t)len))
		return ZBADARGUMENTS;
	slash = strrchr(path, '/');
	if (!slash)
		return ZBADARGUMENTS;
	*parent = strndup(path, (size_t)(slash - path));
	return *parent ? 0 : ZSYSTEMERROR;
}

static int valid_path(const char *path, int32_t len)
{
	return path && len >= 0 && path_valid(path, (size_t)len, NULL);
}

static int copy_data(struct zk_txn_op *o, const uint8_t *data, int32_t len)
{
	o->data_len = len;
	if (len < 0)
		return 0;
	o->data = malloc((size_t)len + 1);
	if (!o->data)
		return ZSYSTEMERROR;
	if (len)
		memcpy(o->data, data, (size_t)len);
	return 0;
}

#define MAX_TTL 0xFFFFFFFFFFLL

static int prep_create(struct zk_prep *p, const struct zk_req *q, int64_t sid,
		       const struct zk_ids *ids, int64_t zxid, int in_multi, struct zk_txn_op *o)
{
	int32_t flags = q->flags;
	int ttl_mode = flags == ZMODE_PERSISTENT_WITH_TTL ||
		       flags == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
	int sequential = flags == ZMODE_PERSISTENT_SEQUENTIAL ||
			 flags == ZMODE_EPHEMERAL_SEQUENTIAL ||
			 flags == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
	int ephemeral = flags == ZMODE_EPHEMERAL || flags == ZMODE_EPHEMERAL_SEQUENTIAL;
	int64_t ttl = q->type == ZOP_CREATETTL ? q->ttl : -1;
	char *parent = NULL, *path = NULL;
	struct zk_acl_list acl = { 0, NULL };
	struct view pv, nv;
	int rc;

	if (flags < 0 || flags > 6)
		return ZBADARGUMENTS;
	if (ttl_mode && !p->opts.extended_types)
		return ZUNIMPLEMENTED;
	if (ttl_mode ? (ttl <= 0 || ttl > MAX_TTL) : ttl >= 0)
		return ZBADARGUMENTS;
	/*
	 * Not Apache: 3.8.0 accepts createTTL with a non-TTL mode (ttl < 0), logs a CreateTTLTxn
	 * and then dies applying it (TTL.toEphemeralOwner(-1) throws; observed). Refusing it
	 * here keeps such a txn out of any log an Apache server might replay.
	 */
	if (q->type == ZOP_CREATETTL && !ttl_mode)
		return ZBADARGUMENTS;
	if (!q->path)
		return ZMARSHALLINGERROR;	/* path.lastIndexOf on null */
	if ((rc = parent_of(q->path, q->path_len, &parent)))
		return rc;
	if ((rc = acl_fixup(&q->acl, ids, &acl)))
		goto out;
	if ((rc = lookup(p, parent, &pv)))
		goto out;
	if ((rc = check_acl(p, pv.acl, ZPERM_CREATE, ids)))
		goto out;
	if (sequential) {
		size_t n = strlen(q->path) + 16;

		path = malloc(n);
		if (!path) {
			rc = ZSYSTEMERROR;
			goto out;
		}
		/* Java's %010d: negative counters after overflow print as -000000001. */
		snprintf(path, n, "%s%010d", q->path, pv.counter);
	} else {
		path = strdup(q->path);
		if (!path) {
			rc = ZSYSTEMERROR;
			goto out;
		}
	}
	if (!valid_path(path, (int32_t)strlen(path))) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	if (lookup(p, path, &nv) == 0) {
		rc = ZNODEEXISTS;
		goto out;
	}
	if (is_normal_ephemeral(p, pv.owner)) {
		rc = ZNOCHILDRENFOREPHEMERALS;
		goto out;
	}
	/* Valid: the txn, then the parent's and the node's new state. */
	switch (q->type) {
	case ZOP_CREATECONTAINER: o->type = ZOP_CREATECONTAINER; break;
	case ZOP_CREATETTL: o->type = ZOP_CREATETTL; break;
	case ZOP_CREATE2: o->type = ZOP_CREATE2; break;
	default: o->type = ZOP_CREATE; break;
	}
	o->path = path;
	path = NULL;
	if ((rc = copy_data(o, q->data, q->data_len)))
		goto out;
	o->acl = acl;
	acl.n = 0;
	acl.v = NULL;
	acl.packed = 0;
	o->ephemeral = (q->type == ZOP_CREATE || q->type == ZOP_CREATE2) && ephemeral;
	/* The counter wraps like a Java int. */
	o->parent_cversion = (int32_t)((uint32_t)pv.counter + 1);
	o->ttl = q->type == ZOP_CREATETTL ? ttl : 0;
	pv.counter = o->parent_cversion;
	pv.nchildren++;
	if ((rc = add_rec(p, parent, zxid, 0, &pv, pv.acl, in_multi)))
		goto out;
	memset(&nv, 0, sizeof(nv));
	if (flags == ZMODE_CONTAINER || q->type == ZOP_CREATECONTAINER)
		nv.owner = CONTAINER_OWNER;
	else if (ttl_mode)
		nv.owner = (int64_t)(0xFF00000000000000ULL | (uint64_t)ttl);
	else if (ephemeral)
		nv.owner = sid;
	rc = add_rec(p, o->path, zxid, 0, &nv, &o->acl, in_multi);
out:
	free(parent);
	free(path);
	zk_acl_list_release(&acl);
	return rc;
}

static int is_protected(const char *path)
{
	return !strcmp(path, "/") || !strcmp(path, "/zookeeper") ||
	       !strcmp(path, "/zookeeper/quota") || !strcmp(path, "/zookeeper/config");
}

static int prep_delete(struct zk_prep *p, const struct zk_req *q, const struct zk_ids *ids,
		       int64_t zxid, int in_multi, struct zk_txn_op *o)
{
	char *parent = NULL;
	struct view pv, nv;
	int rc;

	if (!q->path)
		return ZMARSHALLINGERROR;	/* path.lastIndexOf on null */
	if ((rc = parent_of(q->path, q->path_len, &parent)))
		return rc;
	if (is_protected(q->path)) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	if ((rc = lookup(p, parent, &pv)))
		goto out;
	if ((rc = check_acl(p, pv.acl, ZPERM_DELETE, ids)))
		goto out;
	if ((rc = lookup(p, q->path, &nv)))
		goto out;
	if (q->version != -1 && q->version != nv.version) {
		rc = ZBADVERSION;
		goto out;
	}
	if (nv.nchildren > 0) {
		rc = ZNOTEMPTY;
		goto out;
	}
	o->type = ZOP_DELETE;
	o->path = strdup(q->path);
	if (!o->path) {
		rc = ZSYSTEMERROR;
		goto out;
	}
	pv.nchildren--;
	if ((rc = add_rec(p, parent, zxid, 0, &pv, pv.acl, in_multi)))
		goto out;
	rc = add_rec(p, q->path, zxid, 1, NULL, NULL, in_multi);
out:
	free(parent);
	return rc;
}

static int prep_setdata(struct zk_prep *p, const struct zk_req *q, const struct zk_ids *ids,
			int64_t zxid, int in_multi, struct zk_txn_op *o)
{
	struct view nv;
	int rc;

	if (!valid_path(q->path, q->path_len))
		return ZBADARGUMENTS;
	if ((rc = lookup(p, q->path, &nv)))
		return rc;
	if ((rc = check_acl(p, nv.acl, ZPERM_WRITE, ids)))
		return rc;
	if (q->version != -1 && q->version != nv.version)
		return ZBADVERSION;
	o->type = ZOP_SETDATA;
	o->path = strdup(q->path);
	if (!o->path || copy_data(o, q->data, q->data_len))
		return ZSYSTEMERROR;
	o->version = nv.version + 1;
	nv.version = o->version;
	return add_rec(p, q->path, zxid, 0, &nv, nv.acl, in_multi);
}

static int prep_setacl(struct zk_prep *p, const struct zk_req *q, const struct zk_ids *ids,
		       int64_t zxid, struct zk_txn_op *o)
{
	struct zk_acl_list acl = { 0, NULL };
	struct view nv;
	int rc;

	if (!valid_path(q->path, q->path_len))
		return ZBADARGUMENTS;
	if ((rc = acl_fixup(&q->acl, ids, &acl)))
		return rc;
	if ((rc = lookup(p, q->path, &nv)))
		goto out;
	if ((rc = check_acl(p, nv.acl, ZPERM_ADMIN, ids)))
		goto out;
	if (q->version != -1 && q->version != nv.aversion) {
		rc = ZBADVERSION;
		goto out;
	}
	o->type = ZOP_SETACL;
	o->path = strdup(q->path);
	if (!o->path) {
		rc = ZSYSTEMERROR;
		goto out;
	}
	o->acl = acl;
	acl.n = 0;
	acl.v = NULL;
	acl.packed = 0;
	o->version = nv.aversion + 1;
	nv.aversion = o->version;
	rc = add_rec(p, q->path, zxid, 0, &nv, &o->acl, 0);
out:
	zk_acl_list_release(&acl);
	return rc;
}

static int prep_check(struct zk_prep *p, const struct zk_req *q, const struct zk_ids *ids,
		      struct zk_txn_op *o)
{
	struct view nv;
	int rc;

	if (!valid_path(q->path, q->path_len))
		return ZBADARGUMENTS;
	if ((rc = lookup(p, q->path, &nv)))
		return rc;
	if ((rc = check_acl(p, nv.acl, ZPERM_READ, ids)))
		return rc;
	if (q->version != -1 && q->version != nv.version)
		return ZBADVERSION;
	o->type = ZOP_CHECK;
	o->path = strdup(q->path);
	o->version = nv.version + 1;
	return o->path ? 0 : ZSYSTEMERROR;
}

/* One op of a request (top level or inside a multi). On failure o is left for the caller
 * to turn into an error op. */
static int prep_op(struct zk_prep *p, const struct zk_req *q, int64_t sid,
		   const struct zk_ids *ids, int64_t zxid, int in_multi, struct zk_txn_op *o)
{
	/* A null path: create and delete dereference it (MARSHALLINGERROR), setData, setACL
	 * and check fail PathUtils.validatePath (BADARGUMENTS), as Apache 3.8.0 answers. */
	switch (q->type) {
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		return prep_create(p, q, sid, ids, zxid, in_multi, o);
	case ZOP_DELETE:
		return prep_delete(p, q, ids, zxid, in_multi, o);
	case ZOP_SETDATA:
		return prep_setdata(p, q, ids, zxid, in_multi, o);
	case ZOP_SETACL:
		return prep_setacl(p, q, ids, zxid, o);
	case ZOP_CHECK:
		return prep_check(p, q, ids, o);
	case ZOP_RECONFIG:
		return ZRECONFIGDISABLED;
	case ZOP_CREATESESSION:
		/* Sent by a client as a request: Apache reads a timeout int from the body and
		 * answers an empty one with MARSHALLINGERROR (observed). A longer body would make
		 * it log a createSession for the caller's own session; we refuse that too. */
		return ZMARSHALLINGERROR;
	}
	return ZUNIMPLEMENTED;
}

static void op_clear(struct zk_txn_op *o)
{
	free(o->path);
	free(o->data);
	zk_acl_list_release(&o->acl);
	memset(o, 0, sizeof(*o));
	o->data_len = -1;
}

static void hdr_init(struct zk_txn *out, int64_t sid, int32_t cxid, int64_t zxid,
		     int64_t now_ms, int32_t type)
{
	memset(out, 0, sizeof(*out));
	out->hdr.client_id = sid;
	out->hdr.cxid = cxid;
	out->hdr.zxid = zxid;
	out->hdr.time = now_ms;
	out->hdr.type = type;
}

int prep_request(struct zk_prep *p, const struct zk_req *req, int64_t session_id,
		 const struct zk_ids *ids, int64_t zxid, int64_t now_ms, struct zk_txn *out)
{
	struct zk_txn_op *o;
	int32_t i;
	int rc;

	hdr_init(out, session_id, req->xid, zxid, now_ms, req->type);
	if (req->type == ZOP_MULTI) {
		struct rec *mark = p->tail;
		int failed = 0;

		/* Apache reads every op's path before preparing any (getPendingChanges): a null
		 * one fails the whole request with MARSHALLINGERROR. */
		for (i = 0; i < req->nops; i++)
			if (!req->ops[i].path)
				goto whole_error_marshalling;
		for (i = 0; i < req->nops; i++) {
			o = txn_add_op(out);
			if (!o) {
				rollback(p, mark);
				goto nomem;
			}
			if (failed) {
				o->type = ZOP_ERROR;
				o->err = ZRUNTIMEINCONSISTENCY;
				continue;
			}
			rc = prep_op(p, &req->ops[i], session_id, ids, zxid, 1, o);
			if (rc == ZSYSTEMERROR) {
				rollback(p, mark);
				goto nomem;
			}
			if (rc == ZMARSHALLINGERROR) {
				/* A Java exception other than KeeperException escapes the op loop:
				 * the whole request becomes one error txn. */
				rollback(p, mark);
				txn_release(out);
				goto whole_error_marshalling;
			}
			if (rc) {
				op_clear(o);
				o->type = ZOP_ERROR;
				o->err = rc;
				failed = 1;
				rollback(p, mark);
			}
		}
		if (!failed)
			clear_shadows(p, mark);
		return 0;
	}
	o = txn_add_op(out);
	if (!o)
		goto nomem;
	rc = prep_op(p, req, session_id, ids, zxid, 0, o);
	if (rc == ZSYSTEMERROR)
		goto nomem;
	if (rc) {
		op_clear(o);
		o->type = ZOP_ERROR;
		o->err = rc;
		out->hdr.type = ZOP_ERROR;
		return 0;
	}
	/* The txn carries the op's type (create2 logs as 15, as in 3.8.2+). */
	out->hdr.type = o->type;
	return 0;
whole_error_marshalling:
	hdr_init(out, session_id, req->xid, zxid, now_ms, ZOP_ERROR);
	o = txn_add_op(out);
	if (!o)
		goto nomem;
	o->type = ZOP_ERROR;
	o->err = ZMARSHALLINGERROR;
	return 0;
nomem:
	txn_release(out);
	return ZSYSTEMERROR;
}

int prep_create_session(struct zk_prep *p, int64_t session_id, int32_t timeout,
			int64_t zxid, int64_t now_ms, struct zk_txn *out)
{
	(void)p;
	hdr_init(out, session_id, 0, zxid, now_ms, ZOP_CREATESESSION);
	out->timeout = timeout;
	return 0;
}

static int strvec_has(const struct zk_strvec *v, const char *s)
{
	int32_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s))
			return 1;
	return 0;
}

static void strvec_drop(struct zk_strvec *v, const char *s)
{
	int32_t i;

	for (i = 0; i < v->n; i++) {
		if (!strcmp(v->v[i], s)) {
			free(v->v[i]);
			v->v[i] = v->v[v->n - 1];
			v->n--;
			return;
		}
	}
}

int prep_close_session(struct zk_prep *p, int64_t session_id, int32_t cxid, int64_t zxid,
		       int64_t now_ms, struct zk_txn *out)
{
	struct zk_strvec es = { 0, NULL };
	struct rec *r;
	int32_t i;

	hdr_init(out, session_id, cxid, zxid, now_ms, ZOP_CLOSESESSION);
	if (tree_session_ephemerals(p->tree, session_id, &es))
		goto nomem;
	/* In-flight changes, in prepare order: creates of ours add, deletes remove. */
	for (r = p->head; r; r = r->next) {
		if (r->deleted)
			strvec_drop(&es, r->path);
		else if (r->owner == session_id && !strvec_has(&es, r->path) &&
			 zk_strvec_push(&es, r->path))
			goto nomem;
	}
	for (i = 0; i < es.n; i++) {
		char *parent = NULL;
		struct view pv;

		if (parent_of(es.v[i], (int32_t)strlen(es.v[i]), &parent) == 0 &&
		    lookup(p, parent, &pv) == 0) {
			pv.nchildren--;
			add_rec(p, parent, zxid, 0, &pv, pv.acl, 0);
		}
		free(parent);
		add_rec(p, es.v[i], zxid, 1, NULL, NULL, 0);
	}
	out->close_paths = es;
	return 0;
nomem:
	zk_strvec_release(&es);
	txn_release(out);
	return ZSYSTEMERROR;
}

int prep_reap(struct zk_prep *p, const char *path, int64_t zxid, int64_t now_ms,
	      struct zk_txn *out)
{
	struct zk_txn_op *o;
	char *parent = NULL;
	struct view nv, pv;
	int rc;

	hdr_init(out, 0, 0, zxid, now_ms, ZOP_DELETECONTAINER);
	o = txn_add_op(out);
	if (!o)
		return ZSYSTEMERROR;
	rc = parent_of(path, (int32_t)strlen(path), &parent);
	if (!rc && is_protected(path))
		rc = ZBADARGUMENTS;
	if (!rc)
		rc = lookup(p, path, &nv);
	if (!rc && nv.nchildren > 0)
		rc = ZNOTEMPTY;
	if (!rc && is_normal_ephemeral(p, nv.owner))
		rc = ZBADVERSION;
	if (!rc)
		rc = lookup(p, parent, &pv);
	if (!rc) {
		o->type = ZOP_DELETECONTAINER;
		o->path = strdup(path);
		if (!o->path)
			rc = ZSYSTEMERROR;
	}
	if (!rc) {
		pv.nchildren--;
		add_rec(p, parent, zxid, 0, &pv, pv.acl, 0);
		add_rec(p, path, zxid, 1, NULL, NULL, 0);
	}
	free(parent);
	if (rc == ZSYSTEMERROR) {
		txn_release(out);
		return rc;
	}
	if (rc) {
		op_clear(o);
		o->type = ZOP_ERROR;
		o->err = rc;
		out->hdr.type = ZOP_ERROR;
	}
	return 0;
}
