/*
 * cclient: a transcript of the ZooKeeper C client (Debian libzookeeper-mt 3.8) against one
 * server, for test_diff_cclient.sh.
 *
 *   cclient HOST:PORT
 *
 * One line per call: session, call, "->", the C error name and the result (Stats carry the
 * tags normalise.py maps: @z zxid, @s session id, @t time). Every call goes through the async
 * API and waits for its completion: the mt library runs completions and watchers on one
 * completion thread in the order the server's frames arrived, so a watch event printed before
 * the reply of the write that caused it is the server's order, not a race. Events for another
 * session are made deterministic by a round trip on the watching session (settle) before the
 * transcript goes on.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define THREADED	/* the sync API of libzookeeper_mt */
#include <zookeeper/zookeeper.h>

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void out(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_mu);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static const char *rcname(int rc)
{
	switch (rc) {
	case ZOK: return "ZOK";
	case ZSYSTEMERROR: return "ZSYSTEMERROR";
	case ZRUNTIMEINCONSISTENCY: return "ZRUNTIMEINCONSISTENCY";
	case ZDATAINCONSISTENCY: return "ZDATAINCONSISTENCY";
	case ZCONNECTIONLOSS: return "ZCONNECTIONLOSS";
	case ZMARSHALLINGERROR: return "ZMARSHALLINGERROR";
	case ZUNIMPLEMENTED: return "ZUNIMPLEMENTED";
	case ZOPERATIONTIMEOUT: return "ZOPERATIONTIMEOUT";
	case ZBADARGUMENTS: return "ZBADARGUMENTS";
	case ZINVALIDSTATE: return "ZINVALIDSTATE";
	case ZAPIERROR: return "ZAPIERROR";
	case ZNONODE: return "ZNONODE";
	case ZNOAUTH: return "ZNOAUTH";
	case ZBADVERSION: return "ZBADVERSION";
	case ZNOCHILDRENFOREPHEMERALS: return "ZNOCHILDRENFOREPHEMERALS";
	case ZNODEEXISTS: return "ZNODEEXISTS";
	case ZNOTEMPTY: return "ZNOTEMPTY";
	case ZSESSIONEXPIRED: return "ZSESSIONEXPIRED";
	case ZINVALIDCALLBACK: return "ZINVALIDCALLBACK";
	case ZINVALIDACL: return "ZINVALIDACL";
	case ZAUTHFAILED: return "ZAUTHFAILED";
	case ZCLOSING: return "ZCLOSING";
	case ZNOTHING: return "ZNOTHING";
	case ZSESSIONMOVED: return "ZSESSIONMOVED";
	case ZNOTREADONLY: return "ZNOTREADONLY";
	case ZNOWATCHER: return "ZNOWATCHER";
	default: {
		static __thread char buf[32];
		snprintf(buf, sizeof(buf), "rc%d", rc);
		return buf;
	}
	}
}

static const char *evname(int type)
{
	if (type == ZOO_CREATED_EVENT)
		return "NodeCreated";
	if (type == ZOO_DELETED_EVENT)
		return "NodeDeleted";
	if (type == ZOO_CHANGED_EVENT)
		return "NodeDataChanged";
	if (type == ZOO_CHILD_EVENT)
		return "NodeChildrenChanged";
	if (type == ZOO_SESSION_EVENT)
		return "Session";
	if (type == ZOO_NOTWATCHING_EVENT)
		return "NotWatching";
	return "Unknown";
}

static void fmt_stat(char *buf, size_t len, const struct Stat *s)
{
	snprintf(buf, len,
		 "v=%d cv=%d av=%d nc=%d dl=%d eo=@s:%llx cz=@z:%llx mz=@z:%llx pz=@z:%llx "
		 "ct=@t:%lld mt=@t:%lld",
		 s->version, s->cversion, s->aversion, s->numChildren, s->dataLength,
		 (unsigned long long)s->ephemeralOwner, (unsigned long long)s->czxid,
		 (unsigned long long)s->mzxid, (unsigned long long)s->pzxid,
		 (long long)s->ctime, (long long)s->mtime);
}

/* Children, unordered: normalise.py sorts the braces. */
static void fmt_strings(char *buf, size_t len, const struct String_vector *v)
{
	size_t n = 0;

	n += snprintf(buf + n, len - n, "{");
	for (int i = 0; v && i < v->count && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? "," : "", v->data[i]);
	if (n < len)
		snprintf(buf + n, len - n, "}");
}

/* ACL lists, unordered: normalise.py sorts the braces. */
static void fmt_acl(char *buf, size_t len, const struct ACL_vector *v)
{
	size_t n = 0;

	n += snprintf(buf + n, len - n, "{");
	for (int i = 0; v && i < v->count && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%d:%s:%s", i ? "," : "", v->data[i].perms,
			      v->data[i].id.scheme, v->data[i].id.id);
	if (n < len)
		snprintf(buf + n, len - n, "}");
}

static void fmt_data(char *buf, size_t len, const char *value, int value_len)
{
	size_t n = 0;

	if (value_len < 0 || !value) {
		snprintf(buf, len, "null(len=%d)", value_len);
		return;
	}
	n += snprintf(buf, len, "'");
	for (int i = 0; i < value_len && n + 5 < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf[n++] = (char)c;
		else
			n += snprintf(buf + n, len - n, "\\x%02x", c);
	}
	snprintf(buf + n, len - n, "'");
}

/* ---- sessions ---------------------------------------------------------------------------- */

#define MAX_PENDING 64

/*
 * Notifications wait in pending until this session's next line (printed from the same
 * completion thread, so same-session order is the server's) or a settle: another session's
 * completion thread must not race with this one for the transcript order.
 */
struct session {
	const char *name;
	zhandle_t *zh;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
	char *pending[MAX_PENDING];
	int npending;
};

static void session_flush(struct session *s)
{
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->npending; i++) {
		out("%s", s->pending[i]);
		free(s->pending[i]);
	}
	s->npending = 0;
	pthread_mutex_unlock(&s->mu);
}

static void session_event(struct session *s, int type, int state, const char *path,
			  const char *how)
{
	char line[1024];

	snprintf(line, sizeof(line), "EVENT %s %s %s state=%d%s", s->name, evname(type), path,
		 state, how);
	pthread_mutex_lock(&s->mu);
	if (s->npending < MAX_PENDING)
		s->pending[s->npending++] = strdup(line);
	pthread_mutex_unlock(&s->mu);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct session *s = ctx;

	if (type == ZOO_SESSION_EVENT) {
		pthread_mutex_lock(&s->mu);
		s->state = state;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	session_event(s, type, state, path, " (default watcher)");
}

/* A watch set by a w-call: ctx is the session. Client-local removal notices are not the
 * server's doing and are left out. */
static void watch_cb(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct session *s = ctx;

	if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT)
		return;
	session_event(s, type, state, path, "");
}

static int session_open(struct session *s, const char *name, const char *host,
			const clientid_t *cid)
{
	struct timespec ts;

	memset(s, 0, sizeof(*s));
	s->name = name;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->zh = zookeeper_init(host, session_watcher, 10000, cid, s, 0);
	if (!s->zh) {
		out("%s zookeeper_init failed", name);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	pthread_mutex_lock(&s->mu);
	while (s->state != ZOO_CONNECTED_STATE && s->state != ZOO_EXPIRED_SESSION_STATE &&
	       s->state != ZOO_AUTH_FAILED_STATE) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	if (s->state == ZOO_CONNECTED_STATE)
		out("%s connected session=@s:%llx timeout=%d passwd_len=16", name,
		    (unsigned long long)zoo_client_id(s->zh)->client_id, zoo_recv_timeout(s->zh));
	else
		out("%s not connected (state %d)", name, s->state);
	return s->state == ZOO_CONNECTED_STATE ? 0 : -1;
}

static void session_close(struct session *s)
{
	int rc = zookeeper_close(s->zh);

	session_flush(s);
	out("%s close -> %s", s->name, rcname(rc));
	s->zh = NULL;
}

/* ---- one call at a time ------------------------------------------------------------------ */

struct call {
	struct session *s;
	char label[512];
	int quiet;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int rc;
	zoo_op_result_t *results;	/* multi */
	int nresults;
	const char *what[16];		/* multi op kinds */
};

static void call_init(struct call *c, struct session *s, const char *fmt, ...)
{
	va_list ap;

	memset(c, 0, sizeof(*c));
	c->s = s;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	va_start(ap, fmt);
	vsnprintf(c->label, sizeof(c->label), fmt, ap);
	va_end(ap);
}

/* Called from the completion thread: prints the result, then wakes the caller. */
static void call_done(const void *data, int rc, const char *fmt, ...)
{
	struct call *c = (struct call *)data;
	char res[8192] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(res, sizeof(res), fmt, ap);
		va_end(ap);
	}
	session_flush(c->s);
	if (!c->quiet)
		out("%s %s -> %s%s%s", c->s->name, c->label, rcname(rc), *res ? " " : "", res);
	pthread_mutex_lock(&c->mu);
	c->rc = rc;
	c->done = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Waits for the completion of a call whose submission returned submit_rc. */
static int call_wait(struct call *c, int submit_rc)
{
	struct timespec ts;

	if (submit_rc != ZOK) {
		if (!c->quiet)
			out("%s %s -> %s (not sent)", c->s->name, c->label, rcname(submit_rc));
		return submit_rc;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	pthread_mutex_lock(&c->mu);
	while (!c->done) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) {
			pthread_mutex_unlock(&c->mu);
			out("%s %s -> no completion within 15 s", c->s->name, c->label);
			return ZOPERATIONTIMEOUT;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return c->rc;
}

static void void_cb(int rc, const void *data)
{
	call_done(data, rc, NULL);
}

static void stat_cb(int rc, const struct Stat *st, const void *data)
{
	char s[512];

	if (rc == ZOK && st) {
		fmt_stat(s, sizeof(s), st);
		call_done(data, rc, "%s", s);
	} else {
		call_done(data, rc, NULL);
	}
}

static void string_cb(int rc, const char *value, const void *data)
{
	call_done(data, rc, rc == ZOK ? "%s" : NULL, value);
}

static void string_stat_cb(int rc, const char *value, const struct Stat *st, const void *data)
{
	char s[512];

	if (rc == ZOK) {
		fmt_stat(s, sizeof(s), st);
		call_done(data, rc, "%s %s", value, s);
	} else {
		call_done(data, rc, NULL);
	}
}

static void data_cb(int rc, const char *value, int value_len, const struct Stat *st,
		    const void *data)
{
	char s[512], d[1024];

	if (rc == ZOK) {
		fmt_stat(s, sizeof(s), st);
		fmt_data(d, sizeof(d), value, value_len);
		call_done(data, rc, "data=%s %s", d, s);
	} else {
		call_done(data, rc, NULL);
	}
}

static void strings_cb(int rc, const struct String_vector *v, const void *data)
{
	char b[4096];

	if (rc == ZOK) {
		fmt_strings(b, sizeof(b), v);
		call_done(data, rc, "children=%s", b);
	} else {
		call_done(data, rc, NULL);
	}
}

static void strings_stat_cb(int rc, const struct String_vector *v, const struct Stat *st,
			    const void *data)
{
	char b[4096], s[512];

	if (rc == ZOK) {
		fmt_strings(b, sizeof(b), v);
		fmt_stat(s, sizeof(s), st);
		call_done(data, rc, "children=%s %s", b, s);
	} else {
		call_done(data, rc, NULL);
	}
}

static void acl_cb(int rc, struct ACL_vector *acl, struct Stat *st, const void *data)
{
	char a[2048], s[512];

	if (rc == ZOK) {
		fmt_acl(a, sizeof(a), acl);
		fmt_stat(s, sizeof(s), st);
		call_done(data, rc, "%s %s", a, s);
	} else {
		call_done(data, rc, NULL);
	}
}

static void multi_cb(int rc, const void *data)
{
	const struct call *c = data;
	char b[8192], s[512];
	size_t n = 0;

	n += snprintf(b, sizeof(b), "[");
	for (int i = 0; i < c->nresults && n < sizeof(b); i++) {
		const zoo_op_result_t *r = &c->results[i];

		n += snprintf(b + n, sizeof(b) - n, "%s%s", i ? ", " : "", rcname(r->err));
		if (r->err == ZOK && r->value && n < sizeof(b))
			n += snprintf(b + n, sizeof(b) - n, " %.*s", r->valuelen, r->value);
		if (r->err == ZOK && r->stat && c->what[i] && !strcmp(c->what[i], "set") &&
		    n < sizeof(b)) {
			fmt_stat(s, sizeof(s), r->stat);
			n += snprintf(b + n, sizeof(b) - n, " %s", s);
		}
	}
	if (n < sizeof(b))
		snprintf(b + n, sizeof(b) - n, "]");
	call_done(data, rc, "%s", b);
}

/* ---- helpers, one transcript line each --------------------------------------------------- */

static struct ACL open_acl_entry = { 31 /* ZOO_PERM_ALL, an extern const */, { "world", "anyone" } };
static struct ACL_vector open_acl = { 1, &open_acl_entry };

static int do_create(struct session *s, const char *path, const char *value, int len,
		     int mode, const struct ACL_vector *acl)
{
	struct call c;

	call_init(&c, s, "create(%s, len=%d, mode=%d)", path, len, mode);
	return call_wait(&c, zoo_acreate(s->zh, path, value, len, acl ? acl : &open_acl, mode,
					 string_cb, &c));
}

static int do_create2(struct session *s, const char *path, const char *value, int len,
		      int mode)
{
	struct call c;

	call_init(&c, s, "create2(%s, len=%d, mode=%d)", path, len, mode);
	return call_wait(&c, zoo_acreate2(s->zh, path, value, len, &open_acl, mode,
					  string_stat_cb, &c));
}

static int do_create_ttl(struct session *s, const char *path, int mode, int64_t ttl)
{
	struct call c;

	call_init(&c, s, "create_ttl(%s, mode=%d, ttl=%lld)", path, mode, (long long)ttl);
	return call_wait(&c, zoo_acreate_ttl(s->zh, path, "", 0, &open_acl, mode, ttl,
					     string_cb, &c));
}

static int do_get(struct session *s, const char *path, int watch)
{
	struct call c;

	call_init(&c, s, "get(%s%s)", path, watch ? ", watch" : "");
	if (watch)
		return call_wait(&c, zoo_awget(s->zh, path, watch_cb, s, data_cb, &c));
	return call_wait(&c, zoo_aget(s->zh, path, 0, data_cb, &c));
}

static int do_exists(struct session *s, const char *path, int watch)
{
	struct call c;

	call_init(&c, s, "exists(%s%s)", path, watch ? ", watch" : "");
	if (watch)
		return call_wait(&c, zoo_awexists(s->zh, path, watch_cb, s, stat_cb, &c));
	return call_wait(&c, zoo_aexists(s->zh, path, 0, stat_cb, &c));
}

static int do_set(struct session *s, const char *path, const char *value, int version)
{
	struct call c;

	call_init(&c, s, "set(%s, %s, v=%d)", path, value ? value : "NULL", version);
	return call_wait(&c, zoo_aset(s->zh, path, value, value ? (int)strlen(value) : -1,
				      version, stat_cb, &c));
}

static int do_delete(struct session *s, const char *path, int version)
{
	struct call c;

	call_init(&c, s, "delete(%s, v=%d)", path, version);
	return call_wait(&c, zoo_adelete(s->zh, path, version, void_cb, &c));
}

static int do_children(struct session *s, const char *path, int watch)
{
	struct call c;

	call_init(&c, s, "get_children(%s%s)", path, watch ? ", watch" : "");
	if (watch)
		return call_wait(&c, zoo_awget_children(s->zh, path, watch_cb, s, strings_cb, &c));
	return call_wait(&c, zoo_aget_children(s->zh, path, 0, strings_cb, &c));
}

static int do_children2(struct session *s, const char *path, int watch)
{
	struct call c;

	call_init(&c, s, "get_children2(%s%s)", path, watch ? ", watch" : "");
	if (watch)
		return call_wait(&c, zoo_awget_children2(s->zh, path, watch_cb, s,
							 strings_stat_cb, &c));
	return call_wait(&c, zoo_aget_children2(s->zh, path, 0, strings_stat_cb, &c));
}

static int do_get_acl(struct session *s, const char *path)
{
	struct call c;

	call_init(&c, s, "get_acl(%s)", path);
	return call_wait(&c, zoo_aget_acl(s->zh, path, acl_cb, &c));
}

static int do_set_acl(struct session *s, const char *path, int version,
		      struct ACL_vector *acl, const char *desc)
{
	struct call c;

	call_init(&c, s, "set_acl(%s, v=%d, %s)", path, version, desc);
	return call_wait(&c, zoo_aset_acl(s->zh, path, version, acl, void_cb, &c));
}

static int do_auth(struct session *s, const char *scheme, const char *cred)
{
	struct call c;

	call_init(&c, s, "add_auth(%s, %s)", scheme, cred);
	return call_wait(&c, zoo_add_auth(s->zh, scheme, cred, (int)strlen(cred), void_cb, &c));
}

static void sync_cb(int rc, const char *value, const void *data)
{
	call_done(data, rc, rc == ZOK ? "%s" : NULL, value);
}

static int do_sync(struct session *s, const char *path)
{
	struct call c;

	call_init(&c, s, "sync(%s)", path);
	return call_wait(&c, zoo_async(s->zh, path, sync_cb, &c));
}

/* A round trip without a line: notifications queued before it have been printed. */
static void settle(struct session *s)
{
	struct call c;

	call_init(&c, s, "settle");
	c.quiet = 1;
	call_wait(&c, zoo_aexists(s->zh, "/", 0, stat_cb, &c));
}

static void do_remove_watches(struct session *s, const char *path, ZooWatcherType type,
			      const char *tname)
{
	/* The sync call: the async one takes a pointer to a completion pointer in 3.8.0. */
	int rc = zoo_remove_watches(s->zh, path, type, watch_cb, s, 0);

	session_flush(s);
	out("%s remove_watches(%s, %s) -> %s", s->name, path, tname, rcname(rc));
}

static void do_remove_all_watches(struct session *s, const char *path, ZooWatcherType type,
				  const char *tname)
{
	int rc = zoo_remove_all_watches(s->zh, path, type, 0);

	session_flush(s);
	out("%s remove_all_watches(%s, %s) -> %s", s->name, path, tname, rcname(rc));
}

static void section(const char *title)
{
	out("## %s", title);
}

/* ---- the transcript ---------------------------------------------------------------------- */

static void multis(struct session *s1)
{
	struct call c;
	zoo_op_t ops[6];
	zoo_op_result_t res[6];
	char p0[256], p1[256], p2[256];
	struct Stat st;

	do_create(s1, "/m", "", 0, 0, NULL);
	do_create(s1, "/m/del", "", 0, 0, NULL);
	memset(res, 0, sizeof(res));
	zoo_create_op_init(&ops[0], "/m/a", "x", 1, &open_acl, 0, p0, sizeof(p0));
	zoo_create_op_init(&ops[1], "/m/s-", "", 0, &open_acl, ZOO_SEQUENCE, p1, sizeof(p1));
	zoo_set_op_init(&ops[2], "/m", "multi", 5, 0, &st);
	zoo_check_op_init(&ops[3], "/m", 1);
	zoo_delete_op_init(&ops[4], "/m/del", 0);
	zoo_create_op_init(&ops[5], "/m/e", "", 0, &open_acl, ZOO_EPHEMERAL, p2, sizeof(p2));
	call_init(&c, s1, "multi(create, create seq, set v0, check v1, delete, create eph)");
	c.results = res;
	c.nresults = 6;
	c.what[2] = "set";
	call_wait(&c, zoo_amulti(s1->zh, 6, ops, res, multi_cb, &c));
	do_children2(s1, "/m", 0);

	memset(res, 0, sizeof(res));
	zoo_create_op_init(&ops[0], "/m/b", "", 0, &open_acl, 0, p0, sizeof(p0));
	zoo_delete_op_init(&ops[1], "/m/missing", -1);
	zoo_set_op_init(&ops[2], "/m", "no", 2, -1, &st);
	call_init(&c, s1, "multi(create, delete missing, set)");
	c.results = res;
	c.nresults = 3;
	call_wait(&c, zoo_amulti(s1->zh, 3, ops, res, multi_cb, &c));
	do_exists(s1, "/m/b", 0);

	memset(res, 0, sizeof(res));
	zoo_check_op_init(&ops[0], "/m", 7);
	zoo_create_op_init(&ops[1], "/m/c", "", 0, &open_acl, 0, p0, sizeof(p0));
	call_init(&c, s1, "multi(check bad version, create)");
	c.results = res;
	c.nresults = 2;
	call_wait(&c, zoo_amulti(s1->zh, 2, ops, res, multi_cb, &c));

	memset(res, 0, sizeof(res));
	zoo_create_op_init(&ops[0], "/m/d", "", 0, &open_acl, 0, p0, sizeof(p0));
	zoo_create_op_init(&ops[1], "/m/d/x", "", 0, &open_acl, 0, p1, sizeof(p1));
	zoo_delete_op_init(&ops[2], "/m/d/x", -1);
	zoo_delete_op_init(&ops[3], "/m/d", -1);
	call_init(&c, s1, "multi(create, create child, delete child, delete)");
	c.results = res;
	c.nresults = 4;
	call_wait(&c, zoo_amulti(s1->zh, 4, ops, res, multi_cb, &c));

	memset(res, 0, sizeof(res));
	zoo_create_op_init(&ops[0], "/m/e2", "", 0, &open_acl, ZOO_EPHEMERAL, p0, sizeof(p0));
	zoo_create_op_init(&ops[1], "/m/e2/x", "", 0, &open_acl, 0, p1, sizeof(p1));
	call_init(&c, s1, "multi(create eph, create under it)");
	c.results = res;
	c.nresults = 2;
	call_wait(&c, zoo_amulti(s1->zh, 2, ops, res, multi_cb, &c));

	memset(res, 0, sizeof(res));
	call_init(&c, s1, "multi(empty)");
	c.results = res;
	c.nresults = 0;
	call_wait(&c, zoo_amulti(s1->zh, 0, ops, res, multi_cb, &c));
	do_get(s1, "/m", 0);
}

int main(int argc, char **argv)
{
	struct session s1, s2, s3;
	const char *host;
	char big[100];

	if (argc != 2) {
		fprintf(stderr, "usage: cclient HOST:PORT\n");
		return 2;
	}
	host = argv[1];
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	zoo_set_log_stream(stderr);
	zoo_deterministic_conn_order(1);
	if (session_open(&s1, "c1", host, NULL) || session_open(&s2, "c2", host, NULL))
		return 1;

	section("initial tree");
	do_get(&s1, "/", 0);
	do_children(&s1, "/", 0);
	do_children2(&s1, "/zookeeper", 0);
	do_get(&s1, "/zookeeper/config", 0);
	do_get_acl(&s1, "/zookeeper/config");
	do_exists(&s1, "/nope", 0);

	section("create");
	do_create(&s1, "/c", "data", 4, 0, NULL);
	do_create(&s1, "/c", "data", 4, 0, NULL);
	do_create(&s1, "/c/null", NULL, -1, 0, NULL);
	do_get(&s1, "/c/null", 0);
	do_create(&s1, "/c/empty", "", 0, 0, NULL);
	do_get(&s1, "/c/empty", 0);
	do_create2(&s1, "/c/s-", "seq", 3, ZOO_PERSISTENT_SEQUENTIAL);
	do_create2(&s1, "/c/s-", "seq", 3, ZOO_PERSISTENT_SEQUENTIAL);
	do_create(&s1, "/c/e", "eph", 3, ZOO_EPHEMERAL, NULL);
	do_create2(&s1, "/c/es-", "", 0, ZOO_EPHEMERAL_SEQUENTIAL);
	do_create(&s1, "/c/e/x", "", 0, 0, NULL);
	do_create(&s1, "/nope/x", "", 0, 0, NULL);
	do_create2(&s1, "/cont", "c", 1, ZOO_CONTAINER);
	do_create(&s1, "/cont2", "c", 1, ZOO_CONTAINER, NULL);
	do_create_ttl(&s1, "/ttl", ZOO_PERSISTENT_WITH_TTL, 1000);
	memset(big, 'b', sizeof(big));
	do_create(&s1, "/c/bin", big, sizeof(big), 0, NULL);
	do_create(&s1, "/c/nul", "a\0b", 3, 0, NULL);
	do_get(&s1, "/c/nul", 0);
	do_get(&s1, "/c", 0);
	do_children2(&s1, "/c", 0);
	do_get(&s1, "/c/e", 0);

	section("get set delete");
	do_set(&s1, "/c", "v1", 0);
	do_set(&s1, "/c", "v2", 0);
	do_set(&s1, "/c", "v2", -1);
	do_set(&s1, "/c", NULL, -1);
	do_get(&s1, "/c", 0);
	do_set(&s1, "/nope", "x", -1);
	do_exists(&s1, "/c", 0);
	do_delete(&s1, "/c", -1);
	do_delete(&s1, "/c/empty", 5);
	do_delete(&s1, "/c/empty", 0);
	do_delete(&s1, "/c/empty", -1);
	do_delete(&s1, "/", -1);
	do_delete(&s1, "/zookeeper", -1);
	do_get(&s1, "/nope", 0);
	do_children(&s1, "/nope", 0);

	section("acl and auth");
	{
		struct ACL e[2] = { { ZOO_PERM_ALL, { "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=" } },
				    { ZOO_PERM_READ, { "world", "anyone" } } };
		struct ACL_vector v = { 2, e };
		struct ACL bad = { ZOO_PERM_ALL, { "digest", "user:" } };
		struct ACL_vector vbad = { 1, &bad };
		struct ACL ipe = { ZOO_PERM_ALL, { "ip", "10.0.0.0/8" } };
		struct ACL_vector vip = { 1, &ipe };
		struct ACL authe = { ZOO_PERM_ALL, { "auth", "" } };
		struct ACL_vector vauth = { 1, &authe };
		struct ACL_vector empty = { 0, NULL };

		do_create(&s1, "/acl", "secret", 6, 0, &v);
		do_get_acl(&s1, "/acl");
		do_get(&s1, "/acl", 0);
		do_set(&s1, "/acl", "x", -1);
		do_create(&s1, "/acl/c", "", 0, 0, NULL);
		do_set_acl(&s1, "/acl", -1, &open_acl, "open");
		do_create(&s1, "/badacl", "", 0, 0, &vbad);
		do_create(&s1, "/emptyacl", "", 0, 0, &empty);
		do_create(&s1, "/authacl", "", 0, 0, &vauth);
		do_auth(&s2, "digest", "user1:pass1");
		do_get_acl(&s2, "/acl");
		do_set(&s2, "/acl", "y", -1);
		do_create(&s2, "/acl/c", "", 0, 0, NULL);
		do_set_acl(&s2, "/acl", 3, &v, "digest+world, bad version");
		do_set_acl(&s2, "/acl", 0, &vip, "ip 10/8");
		do_get_acl(&s2, "/acl");
		do_get(&s2, "/acl", 0);
		do_create(&s2, "/authacl", "", 0, 0, &vauth);
		do_get_acl(&s2, "/authacl");
		do_get_acl(&s1, "/authacl");
		do_set_acl(&s1, "/nope", -1, &open_acl, "open");
		do_set_acl(&s2, "/authacl", -1, &empty, "empty");
	}
	if (session_open(&s3, "c3", host, NULL) == 0) {
		do_auth(&s3, "nosuch", "x");
		out("c3 state=%d", zoo_state(s3.zh));	/* ZOO_AUTH_FAILED_STATE */
		session_close(&s3);
	}

	section("sync");
	do_sync(&s1, "/");
	do_sync(&s1, "/nope");

	section("multi");
	multis(&s1);

	section("watches, same session");
	do_create(&s1, "/w", "0", 1, 0, NULL);
	do_get(&s1, "/w", 1);
	do_set(&s1, "/w", "1", -1);
	do_set(&s1, "/w", "2", -1);
	do_exists(&s1, "/w/new", 1);
	do_create(&s1, "/w/new", "", 0, 0, NULL);
	do_children(&s1, "/w", 1);
	do_create(&s1, "/w/c2", "", 0, 0, NULL);
	do_children2(&s1, "/w", 1);
	do_get(&s1, "/w/c2", 1);
	do_exists(&s1, "/w/c2", 1);
	do_delete(&s1, "/w/c2", -1);
	do_get(&s1, "/w/none", 1);
	do_create(&s1, "/w/none", "", 0, 0, NULL);
	do_get(&s1, "/w", 1);
	do_remove_watches(&s1, "/w", ZWATCHTYPE_DATA, "data");
	do_remove_watches(&s1, "/w", ZWATCHTYPE_DATA, "data");
	do_set(&s1, "/w", "3", -1);
	do_children(&s1, "/w", 1);
	do_remove_all_watches(&s1, "/w", ZWATCHTYPE_ANY, "any");
	do_create(&s1, "/w/c3", "", 0, 0, NULL);
	do_remove_all_watches(&s1, "/w", ZWATCHTYPE_CHILD, "child");

	section("watches, two sessions");
	do_get(&s2, "/w", 1);
	do_children(&s2, "/w", 1);
	do_exists(&s2, "/w/x", 1);
	do_set(&s1, "/w", "from c1", -1);
	settle(&s2);
	do_create(&s1, "/w/x", "", 0, 0, NULL);
	settle(&s2);
	do_create(&s1, "/w/eph", "", 0, ZOO_EPHEMERAL, NULL);
	do_exists(&s2, "/w/eph", 1);
	do_children(&s2, "/w", 1);
	do_get(&s2, "/w/eph", 0);

	section("ephemerals vanish on close");
	session_close(&s1);
	settle(&s2);
	do_exists(&s2, "/w/eph", 0);
	do_exists(&s2, "/m/e", 0);
	do_children(&s2, "/c", 0);
	do_get(&s2, "/", 0);
	session_close(&s2);
	return 0;
}
