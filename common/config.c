/*
 * config: zoo.cfg read the way Apache ZooKeeper 3.8's QuorumPeerConfig reads it.
 *
 * Happy path: the file is split into key/value pairs by the java.util.Properties rules
 * (props_parse), the -D words of SERVER_JVMFLAGS and JVMFLAGS are applied first, then every
 * zoo.cfg key through one table (keys[]), then the server.N lines (they depend on
 * standaloneEnabled and multiAddress.enabled, which may come later in the file), then the
 * derived values and the checks of QuorumPeerConfig.parseProperties/checkValidity.
 *
 * Failure modes: a value of one of zoo.cfg's own keys that Java would reject is an error
 * naming file, line and key; a bad value for a setting Java reads as a system property is a
 * warning (Java's Integer.getInteger silently keeps the default; we at least say so); unknown
 * keys warn; JVM-only keys log that they are ignored.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "props.h"

/* ---- Java number parsing ------------------------------------------------------------- */

/* Long.parseLong / Integer.parseInt: optional sign, decimal digits, nothing else. */
static int parse_java_long(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *p = s;
	int neg = 0;
	uint64_t v = 0, lim;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (lim - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg) {
		if (v == (uint64_t)INT64_MAX + 1) {
			if (min > INT64_MIN)
				return -1;
			*out = INT64_MIN;
			return 0;
		}
		*out = -(int64_t)v;
	} else {
		*out = (int64_t)v;
	}
	return *out < min || *out > max ? -1 : 0;
}

static int parse_port(const char *s, int *out)
{
	int64_t v;

	if (parse_java_long(s, 0, 65535, &v))
		return -1;
	*out = (int)v;
	return 0;
}

/* ---- the key table ------------------------------------------------------------------- */

enum kind {
	K_INT,		/* Integer.parseInt / Long.parseLong by field size; error if bad */
	K_PORT,		/* 0..65535 */
	K_BOOL,		/* QuorumPeerConfig.parseBoolean: "true"/"false" in any case */
	K_STR,
	K_PEERTYPE,
	K_ELECTIONALG,
	K_MULTIADDR,	/* multiAddress.enabled, kept by the loader */
	K_VERSION,	/* version=<hex> of a static membership */
	K_P_INT,	/* system properties, Java's lenient reading */
	K_P_LONG,
	K_P_BOOL,	/* Boolean.getBoolean */
	K_P_YES,	/* equals("yes") */
	K_P_NOTNO,	/* !equals("no") */
	K_P_STR,
	K_IGN_INT,	/* recognised by Apache, no effect here: checked, then logged */
	K_IGN_BOOL,
	K_IGN_STR,
};

/* Flags of a property: Apache's property name is "zookeeper." + name. */
#define KF_ZK_PREFIX 1

#define FLD(f) offsetof(struct zk_config, f), sizeof(((struct zk_config *)0)->f)
#define NOFLD 0, 0

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;
	int flags;
	int64_t min;	/* properties: smaller values warn and keep the default */
};

static const struct key keys[] = {
	{ "dataDir", K_STR, FLD(data_dir), 0, 0 },
	{ "dataLogDir", K_STR, FLD(data_log_dir), 0, 0 },
	{ "clientPort", K_PORT, FLD(client_port), 0, 0 },
	{ "clientPortAddress", K_STR, FLD(client_port_address), 0, 0 },
	{ "secureClientPort", K_PORT, FLD(secure_client_port), 0, 0 },
	{ "secureClientPortAddress", K_STR, FLD(secure_client_port_address), 0, 0 },
	{ "tickTime", K_INT, FLD(tick_time), 0, 0 },
	{ "initLimit", K_INT, FLD(init_limit), 0, 0 },
	{ "syncLimit", K_INT, FLD(sync_limit), 0, 0 },
	{ "maxClientCnxns", K_INT, FLD(max_client_cnxns), 0, 0 },
	{ "minSessionTimeout", K_INT, FLD(min_session_timeout), 0, 0 },
	{ "maxSessionTimeout", K_INT, FLD(max_session_timeout), 0, 0 },
	{ "autopurge.snapRetainCount", K_INT, FLD(autopurge_snap_retain), 0, 0 },
	{ "autopurge.purgeInterval", K_INT, FLD(autopurge_interval_h), 0, 0 },
	{ "standaloneEnabled", K_BOOL, FLD(standalone_enabled), 0, 0 },
	{ "reconfigEnabled", K_BOOL, FLD(reconfig_enabled), 0, 0 },
	{ "peerType", K_PEERTYPE, FLD(peer_observer), 0, 0 },
	{ "electionAlg", K_ELECTIONALG, NOFLD, 0, 0 },
	{ "quorumListenOnAllIPs", K_BOOL, FLD(quorum_listen_on_all_ips), 0, 0 },
	{ "syncEnabled", K_BOOL, FLD(sync_enabled), 0, 0 },
	{ "localSessionsEnabled", K_BOOL, FLD(local_sessions_enabled), 0, 0 },
	{ "localSessionsUpgradingEnabled", K_BOOL, FLD(local_sessions_upgrading_enabled), 0, 0 },
	{ "clientPortListenBacklog", K_INT, FLD(listen_backlog), 0, 0 },
	{ "dynamicConfigFile", K_STR, FLD(dynamic_config_file), 0, 0 },
	{ "multiAddress.enabled", K_MULTIADDR, NOFLD, 0, 0 },
	{ "version", K_VERSION, FLD(config_version), 0, 0 },

	/* Settings Apache takes as system properties (unknown key k -> zookeeper.k). */
	{ "4lw.commands.whitelist", K_P_STR, FLD(fourlw_whitelist), KF_ZK_PREFIX, 0 },
	{ "extendedTypesEnabled", K_P_BOOL, FLD(extended_types), KF_ZK_PREFIX, 0 },
	{ "emulate353TTLNodes", K_P_BOOL, FLD(emulate353_ttl_nodes), KF_ZK_PREFIX, 0 },
	{ "DigestAuthenticationProvider.superDigest", K_P_STR, FLD(super_digest), KF_ZK_PREFIX, 0 },
	{ "skipACL", K_P_YES, FLD(skip_acl), KF_ZK_PREFIX, 0 },
	/* ZooKeeperServer.getSnapCount raises anything below 2 to 2. */
	{ "snapCount", K_P_INT, FLD(snap_count), KF_ZK_PREFIX, 2 },
	{ "snapSizeLimitInKb", K_P_LONG, FLD(snap_size_kb), KF_ZK_PREFIX, INT64_MIN },
	{ "preAllocSize", K_P_LONG, FLD(prealloc_kb), KF_ZK_PREFIX, INT64_MIN },
	{ "forceSync", K_P_NOTNO, FLD(force_sync), KF_ZK_PREFIX, 0 },
	{ "globalOutstandingLimit", K_P_INT, FLD(global_outstanding_limit), KF_ZK_PREFIX,
	  INT64_MIN },
	{ "readonlymode.enabled", K_P_BOOL, FLD(readonly_mode), 0, 0 },
	{ "jute.maxbuffer", K_P_INT, FLD(jute_maxbuffer), 0, 1 },
	{ "znode.container.checkIntervalMs", K_P_INT, FLD(container_check_ms), 0, 1 },

	/* Recognised by QuorumPeerConfig; checked like Apache, but they change nothing here. */
	{ "observerMasterPort", K_IGN_INT, NOFLD, 0, 0 },
	{ "connectToLearnerMasterLimit", K_IGN_INT, NOFLD, 0, 0 },
	{ "sslQuorum", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "portUnification", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "sslQuorumReloadCertFiles", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "quorum.auth.enableSasl", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "quorum.auth.serverRequireSasl", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "quorum.auth.learnerRequireSasl", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "quorum.auth.learner.saslLoginContext", K_IGN_STR, NOFLD, 0, 0 },
	{ "quorum.auth.server.saslLoginContext", K_IGN_STR, NOFLD, 0, 0 },
	{ "quorum.auth.kerberos.servicePrincipal", K_IGN_STR, NOFLD, 0, 0 },
	{ "quorum.cnxn.threads.size", K_IGN_INT, NOFLD, 0, 0 },
	{ "multiAddress.reachabilityCheckTimeoutMs", K_IGN_INT, NOFLD, 0, 0 },
	{ "multiAddress.reachabilityCheckEnabled", K_IGN_BOOL, NOFLD, 0, 0 },
	{ "oraclePath", K_IGN_STR, NOFLD, 0, 0 },
};

/* Keys (after any "zookeeper." prefix) that only configure the JVM's own machinery. */
static const char *const jvm_only[] = {
	"serverCnxnFactory", "authProvider.", "admin.", "ssl.", "metricsProvider.",
	"jvm.pause.", "jmx.", "clientCnxnSocket", "sasl.", "X509Util.", "netty.",
};

/* Apache properties with no counterpart in zkensemble: said once at info, not warned. */
static const char *const apache_props[] = {
	"commitLogCount", "snapshot.trust.empty", "fsync.warningthresholdms",
	"maxResponseCacheSize", "maxGetChildrenResponseCacheSize", "digest.enabled",
	"connection_throttle_", "request_throttle_", "learner.", "leader.", "flushDelay",
	"maxWriteQueuePollTime", "maxBatchSize", "txnLogSizeLimitInKb", "closeSessionTxn.enabled",
	"audit.enable", "enforceQuota", "largeRequestMaxBytes", "largeRequestThreshold",
	"znode.container.maxPerMinute", "snapshot.compression.method", "watchManagerName",
	"datadir.autocreate", "db.autocreate", "requestThrottler.", "throttled_op_wait_time",
};

static int has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static int list_match(const char *const *list, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		if (list[i][l - 1] == '.' || list[i][l - 1] == '_' ? has_prefix(key, list[i])
								  : !strcmp(key, list[i]))
			return 1;
	}
	return 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A key as written in zoo.cfg: its own name, or a property name with or without "zookeeper.". */
static const struct key *key_for_file(const char *k)
{
	const char *bare = has_prefix(k, "zookeeper.") ? k + 10 : NULL;
	size_t i;

	for (i = 0; i < NELEM(keys); i++) {
		int prop = keys[i].kind >= K_P_INT && keys[i].kind <= K_P_STR;

		if (!strcmp(k, keys[i].name))
			return &keys[i];
		if (prop && bare && !strcmp(bare, keys[i].name))
			return &keys[i];
	}
	return NULL;
}

/* A -D property name: exactly the name Apache reads. */
static const struct key *key_for_property(const char *k)
{
	const char *bare = has_prefix(k, "zookeeper.") ? k + 10 : NULL;
	size_t i;

	for (i = 0; i < NELEM(keys); i++) {
		if (keys[i].kind < K_P_INT || keys[i].kind > K_P_STR)
			continue;
		if (keys[i].flags & KF_ZK_PREFIX) {
			if (bare && !strcmp(bare, keys[i].name))
				return &keys[i];
		} else if (!strcmp(k, keys[i].name)) {
			return &keys[i];
		}
	}
	return NULL;
}

/* ---- the loader ---------------------------------------------------------------------- */

struct loader {
	struct zk_config *c;
	const char *src;	/* file name for messages */
	char *errmsg;
	size_t errlen;
	int multi_address;
	int peer_type_set;
	int client_addr_set;
	int secure_addr_set;
	const struct prop *server_line[ZK_MAX_SERVERS];	/* for messages, parallel to servers */
	const char *server_src[ZK_MAX_SERVERS];
};

static int fail(struct loader *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(ld->errmsg, ld->errlen, "%s:%d: ", ld->src, line);
	else
		n = snprintf(ld->errmsg, ld->errlen, "%s: ", ld->src);
	if (n < 0 || (size_t)n >= ld->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->errmsg + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void *field(struct zk_config *c, const struct key *k)
{
	return (char *)c + k->off;
}

static void set_num(struct zk_config *c, const struct key *k, int64_t v)
{
	if (k->size == sizeof(int64_t)) {
		int64_t x = v;

		memcpy(field(c, k), &x, sizeof(x));
	} else {
		int32_t x = (int32_t)v;

		memcpy(field(c, k), &x, sizeof(x));
	}
}

static int set_str(struct loader *ld, const struct key *k, const char *v, int line)
{
	if (strlen(v) >= k->size)
		return fail(ld, line, "%s: value is too long (at most %zu bytes)", k->name,
			    k->size - 1);
	memcpy(field(ld->c, k), v, strlen(v) + 1);
	return 0;
}

static int java_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true"))
		*out = 1;
	else if (!strcasecmp(v, "false"))
		*out = 0;
	else
		return -1;
	return 0;
}

/*
 * A system-property setting, read as Java reads it. where is "zoo.cfg:12" or "JVMFLAGS";
 * a value Java would quietly ignore keeps the current one and is warned about.
 */
static void apply_property(struct zk_config *c, const struct key *k, const char *v,
			   const char *where)
{
	int64_t n;
	int b;

	switch (k->kind) {
	case K_P_INT:
	case K_P_LONG:
		if (parse_java_long(v, k->kind == K_P_INT ? INT32_MIN : INT64_MIN,
				    k->kind == K_P_INT ? INT32_MAX : INT64_MAX, &n)) {
			log_warn("%s: %s: '%s' is not a number; keeping the default", where, k->name, v);
			return;
		}
		if (n < k->min) {
			log_warn("%s: %s: %s is too small; using %lld", where, k->name, v,
				 (long long)k->min);
			n = k->min;
		}
		set_num(c, k, n);
		return;
	case K_P_BOOL:
		if (java_bool(v, &b)) {
			log_warn("%s: %s: '%s' is not true or false; taken as false (as Java does)",
				 where, k->name, v);
			b = 0;
		}
		set_num(c, k, b);
		return;
	case K_P_YES:
		if (strcmp(v, "yes") && strcmp(v, "no"))
			log_warn("%s: %s: '%s' is neither yes nor no; taken as no (as Apache does)",
				 where, k->name, v);
		set_num(c, k, !strcmp(v, "yes"));
		return;
	case K_P_NOTNO:
		if (strcmp(v, "yes") && strcmp(v, "no"))
			log_warn("%s: %s: '%s' is neither yes nor no; taken as yes (as Apache does)",
				 where, k->name, v);
		set_num(c, k, strcmp(v, "no") != 0);
		return;
	case K_P_STR:
		if (strlen(v) >= k->size) {
			log_warn("%s: %s: value is too long (at most %zu bytes); ignored", where,
				 k->name, k->size - 1);
			return;
		}
		memcpy(field(c, k), v, strlen(v) + 1);
		return;
	default:
		return;
	}
}

static int apply_key(struct loader *ld, const struct key *k, const struct prop *p)
{
	struct zk_config *c = ld->c;
	const char *v = p->value;
	char where[4200];
	int64_t n;
	int b;

	switch (k->kind) {
	case K_INT:
		if (parse_java_long(v, k->size == 8 ? INT64_MIN : INT32_MIN,
				    k->size == 8 ? INT64_MAX : INT32_MAX, &n))
			return fail(ld, p->line, "%s: '%s' is not a number", k->name, v);
		set_num(c, k, n);
		return 0;
	case K_PORT:
		if (parse_java_long(v, INT32_MIN, INT32_MAX, &n))
			return fail(ld, p->line, "%s: '%s' is not a number", k->name, v);
		if (n < 0 || n > 65535)
			return fail(ld, p->line, "%s: port %s is out of range (0-65535)", k->name, v);
		set_num(c, k, n);
		return 0;
	case K_BOOL:
		if (java_bool(v, &b))
			return fail(ld, p->line, "%s: '%s' is not true or false", k->name, v);
		set_num(c, k, b);
		return 0;
	case K_STR:
		if (k->off == offsetof(struct zk_config, client_port_address))
			ld->client_addr_set = 1;
		if (k->off == offsetof(struct zk_config, secure_client_port_address))
			ld->secure_addr_set = 1;
		return set_str(ld, k, v, p->line);
	case K_PEERTYPE:
		if (!strcasecmp(v, "observer"))
			c->peer_observer = 1;
		else if (!strcasecmp(v, "participant"))
			c->peer_observer = 0;
		else
			return fail(ld, p->line, "peerType: '%s' is neither observer nor participant",
				    v);
		ld->peer_type_set = 1;
		return 0;
	case K_ELECTIONALG:
		if (parse_java_long(v, INT32_MIN, INT32_MAX, &n))
			return fail(ld, p->line, "electionAlg: '%s' is not a number", v);
		if (n != 3)
			return fail(ld, p->line, "electionAlg: %s is not supported; only 3 is", v);
		return 0;
	case K_MULTIADDR:
		if (java_bool(v, &b))
			return fail(ld, p->line, "%s: '%s' is not true or false", k->name, v);
		ld->multi_address = b;
		return 0;
	case K_VERSION: {
		char *end;
		unsigned long long x;

		errno = 0;
		x = strtoull(v, &end, 16);
		if (!*v || *end || errno || *v == '-' || *v == '+')
			return fail(ld, p->line, "version: '%s' is not a hex number", v);
		c->config_version = (int64_t)x;
		return 0;
	}
	case K_P_INT:
	case K_P_LONG:
	case K_P_BOOL:
	case K_P_YES:
	case K_P_NOTNO:
	case K_P_STR:
		snprintf(where, sizeof(where), "%s:%d", ld->src, p->line);
		apply_property(c, k, v, where);
		return 0;
	case K_IGN_INT:
		if (parse_java_long(v, INT32_MIN, INT32_MAX, &n))
			return fail(ld, p->line, "%s: '%s' is not a number", k->name, v);
		log_info("%s:%d: %s is not used by zkensemble; ignored", ld->src, p->line, k->name);
		return 0;
	case K_IGN_BOOL:
		if (java_bool(v, &b))
			return fail(ld, p->line, "%s: '%s' is not true or false", k->name, v);
		if (b)
			log_warn("%s:%d: %s=true is not supported by zkensemble; ignored", ld->src,
				 p->line, k->name);
		return 0;
	case K_IGN_STR:
		log_info("%s:%d: %s is not used by zkensemble; ignored", ld->src, p->line, k->name);
		return 0;
	}
	return 0;
}

/* ---- server.N lines ------------------------------------------------------------------ */

struct parts {
	char *v[8];
	int n;
};

/*
 * Java's s.split(sep) keeping at most 8 parts: trailing empty parts are dropped. Modifies s.
 * Returns -1 when there are more than 8 parts.
 */
static int split(char *s, char sep, struct parts *out)
{
	char *p = s;

	out->n = 0;
	for (;;) {
		char *q = strchr(p, sep);

		if (out->n == 8)
			return -1;
		out->v[out->n++] = p;
		if (!q)
			break;
		*q = 0;
		p = q + 1;
	}
	while (out->n > 1 && !out->v[out->n - 1][0])
		out->n--;
	if (out->n == 1 && !out->v[0][0])
		out->n = 0;
	return 0;
}

/* ConfigUtils.getHostAndPort: "[v6]:a:b" keeps the bracketed host whole. Modifies s. */
static int host_and_port(char *s, struct parts *out, const char **why)
{
	*why = NULL;
	if (s[0] == '[') {
		char *close = strchr(s, ']');
		size_t len = strlen(s);

		if (!close) {
			*why = "starts with '[' but has no matching ']'";
			return -1;
		}
		if ((size_t)(close - s) + 2 == len) {
			*why = "has no port after the colon";
			return -1;
		}
		*close = 0;
		if ((size_t)(close - s) + 2 < len) {
			if (split(close + 2, ':', out) || out->n == 8)
				return -1;
			memmove(&out->v[1], &out->v[0], (size_t)out->n * sizeof(out->v[0]));
			out->v[0] = s + 1;
			out->n++;
			return 0;
		}
		out->v[0] = s + 1;
		out->n = 1;
		return 0;
	}
	return split(s, ':', out);
}

static int copy_host(char *dst, size_t size, const char *host)
{
	if (strlen(host) >= size)
		return -1;
	memcpy(dst, host, strlen(host) + 1);
	return 0;
}

static int parse_server(struct loader *ld, const struct prop *p, const char *src, int line,
			struct zk_server_cfg *s)
{
	static const char form[] = "does not have the form "
		"host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";
	struct parts sc, addrs, hp, cp;
	const char *why;
	char *copy = strdup(p->value);
	int rc = -1, i;
	int64_t sid;

	memset(s, 0, sizeof(*s));
	if (!copy)
		return fail(ld, line, "out of memory");
	ld->src = src;
	if (parse_java_long(p->key + 7, INT64_MIN, INT64_MAX, &sid)) {
		fail(ld, line, "%s: server id '%s' is not a number", p->key, p->key + 7);
		goto out;
	}
	s->id = sid;
	if (split(copy, ';', &sc) || sc.n < 1 || sc.n > 2) {
		fail(ld, line, "%s: '%s' %s", p->key, p->value, form);
		goto out;
	}
	if (sc.n == 2) {
		if (host_and_port(sc.v[1], &cp, &why) || cp.n < 1 || cp.n > 2) {
			fail(ld, line, "%s: client address '%s' %s", p->key, sc.v[1],
			     why ? why : "is not [host:]port");
			goto out;
		}
		if (parse_port(cp.v[cp.n - 1], &s->client_port)) {
			fail(ld, line, "%s: client port '%s' is not a port number", p->key,
			     cp.v[cp.n - 1]);
			goto out;
		}
		if (cp.n == 2 && copy_host(s->client_host, sizeof(s->client_host), cp.v[0])) {
			fail(ld, line, "%s: client host is too long", p->key);
			goto out;
		}
	}
	if (split(sc.v[0], '|', &addrs) || addrs.n < 1) {
		fail(ld, line, "%s: '%s' %s", p->key, p->value, form);
		goto out;
	}
	if (addrs.n > 1 && !ld->multi_address) {
		fail(ld, line, "%s: several addresses given but multiAddress.enabled is not true",
		     p->key);
		goto out;
	}
	if (addrs.n > 1)
		log_warn("%s:%d: %s: only the first of %d addresses is used", src, line, p->key,
			 addrs.n);
	/* Every address is checked as Apache does; the first one is kept. */
	for (i = addrs.n - 1; i >= 0; i--) {
		int q, e, obs = 0;

		if (host_and_port(addrs.v[i], &hp, &why) || hp.n < 3 || hp.n > 4) {
			fail(ld, line, "%s: '%s' %s", p->key, p->value, why ? why : form);
			goto out;
		}
		if (parse_port(hp.v[1], &q)) {
			fail(ld, line, "%s: quorum port '%s' is not a port number", p->key, hp.v[1]);
			goto out;
		}
		if (parse_port(hp.v[2], &e)) {
			fail(ld, line, "%s: election port '%s' is not a port number", p->key, hp.v[2]);
			goto out;
		}
		if (q == e) {
			fail(ld, line, "%s: quorum and election port must be different (both %d)",
			     p->key, q);
			goto out;
		}
		if (hp.n == 4) {
			if (!strcasecmp(hp.v[3], "observer")) {
				obs = 1;
			} else if (strcasecmp(hp.v[3], "participant")) {
				fail(ld, line, "%s: '%s' is neither participant nor observer", p->key,
				     hp.v[3]);
				goto out;
			}
		}
		if (!hp.v[0][0]) {
			fail(ld, line, "%s: '%s' has an empty host", p->key, p->value);
			goto out;
		}
		if (copy_host(s->host, sizeof(s->host), hp.v[0])) {
			fail(ld, line, "%s: host is too long", p->key);
			goto out;
		}
		s->quorum_port = q;
		s->election_port = e;
		s->observer = obs;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

static int add_server(struct loader *ld, const struct prop *p, const char *src)
{
	struct zk_config *c = ld->c;
	struct zk_server_cfg s;
	const char *saved = ld->src;
	int i;

	if (parse_server(ld, p, src, p->line, &s)) {
		ld->src = saved;
		return -1;
	}
	for (i = 0; i < c->nservers; i++)
		if (c->servers[i].id == s.id) {
			fail(ld, p->line, "%s: server id %lld is given twice", p->key, (long long)s.id);
			ld->src = saved;
			return -1;
		}
	ld->src = saved;
	if (c->nservers == ZK_MAX_SERVERS)
		return fail(ld, p->line, "%s: more than %d servers", p->key, ZK_MAX_SERVERS);
	ld->server_line[c->nservers] = p;
	ld->server_src[c->nservers] = src;
	c->servers[c->nservers++] = s;
	return 0;
}

static int is_server_key(const char *k)
{
	return has_prefix(k, "server.");
}

/* QuorumPeerConfig.parseDynamicConfig marks any group* or weight* key hierarchical. */
static int is_hierarchy_key(const char *k)
{
	return has_prefix(k, "group") || has_prefix(k, "weight");
}

/*
 * dynamicConfigFile: only server.N lines (no version=; it comes from the name's hex suffix,
 * as in zoo.cfg.dynamic.100000000).
 */
static int load_dynamic(struct loader *ld, struct props *dyn)
{
	struct zk_config *c = ld->c;
	const char *path = c->dynamic_config_file, *dot;
	char *text = NULL;
	size_t len, i;
	int rc = -1;

	if (props_read_file(path, &text, &len, ld->errmsg, ld->errlen, "dynamicConfigFile"))
		return -1;
	if (props_parse(dyn, text, len, path, ld->errmsg, ld->errlen))
		goto out;
	dot = strrchr(path, '.');
	if (dot && dot[1]) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(dot + 1, &end, 16);
		if (!*end && !errno && dot[1] != '-' && dot[1] != '+')
			c->config_version = (int64_t)v;
	}
	for (i = 0; i < dyn->n; i++) {
		struct prop *p = &dyn->v[i];
		const char *saved = ld->src;

		ld->src = path;
		if (!strcmp(p->key, "version")) {
			fail(ld, p->line, "version: a dynamic file must not hold version=");
			ld->src = saved;
			goto out;
		}
		if (is_hierarchy_key(p->key)) {
			fail(ld, p->line, "%s: hierarchical quorums (group/weight) are not supported",
			     p->key);
			ld->src = saved;
			goto out;
		}
		if (!is_server_key(p->key)) {
			fail(ld, p->line, "%s: not allowed in a dynamic config file", p->key);
			ld->src = saved;
			goto out;
		}
		ld->src = saved;
		if (add_server(ld, p, path))
			goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

/* ---- dataDir/myid -------------------------------------------------------------------- */

/*
 * QuorumPeerConfig.setupMyId: absent (or not a regular file) leaves *found 0; otherwise the
 * first line must be a Long.parseLong number, with no blanks around it.
 */
static int read_myid(struct loader *ld, int64_t *id, int *found)
{
	char path[4200], *text = NULL, *nl;
	size_t len;
	struct stat st;
	char err[256];
	int nul = 0;

	*found = 0;
	snprintf(path, sizeof(path), "%s/myid", ld->c->data_dir);
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (props_read_file(path, &text, &len, err, sizeof(err), "myid")) {
		snprintf(ld->errmsg, ld->errlen, "%s", err);
		return -1;
	}
	/* BufferedReader.readLine: the line ends at \n, \r or the end of the file. */
	for (nl = text; nl < text + len && *nl != '\n' && *nl != '\r'; nl++)
		if (!*nl)
			nul = 1;
	*nl = 0;
	if (nul || parse_java_long(text, INT64_MIN, INT64_MAX, id)) {
		snprintf(ld->errmsg, ld->errlen, "%s: serverid '%.64s' is not a number", path,
			 text);
		free(text);
		return -1;
	}
	free(text);
	*found = 1;
	return 0;
}

/* ---- environment --------------------------------------------------------------------- */

/* The -Dkey=value words of one variable, split on blanks as the shell splits $JVMFLAGS. */
static void apply_env_var(struct zk_config *c, const char *var)
{
	const char *v = getenv(var);
	char *copy, *save = NULL, *w;

	if (!v || !*v)
		return;
	copy = strdup(v);
	if (!copy)
		return;
	for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		const struct key *k;
		char *eq;

		if (strncmp(w, "-D", 2))
			continue;
		w += 2;
		eq = strchr(w, '=');
		if (eq)
			*eq++ = 0;
		k = key_for_property(w);
		if (!k)
			continue;
		apply_property(c, k, eq ? eq : "", var);
	}
	free(copy);
}

/* ---- public -------------------------------------------------------------------------- */

void config_defaults(struct zk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->tick_time = 3000;
	c->max_client_cnxns = 60;
	c->min_session_timeout = 2 * c->tick_time;
	c->max_session_timeout = 20 * c->tick_time;
	c->autopurge_snap_retain = 3;
	c->standalone_enabled = 1;
	c->snap_count = 100000;
	c->snap_size_kb = 4194304;
	c->prealloc_kb = 65536;
	c->force_sync = 1;
	c->jute_maxbuffer = 0xFFFFF;
	c->global_outstanding_limit = 1000;
	c->container_check_ms = 60000;
	c->listen_backlog = -1;
	c->sync_enabled = 1;
}

static int voters(const struct zk_config *c)
{
	int i, n = 0;

	for (i = 0; i < c->nservers; i++)
		n += !c->servers[i].observer;
	return n;
}

int config_is_quorum(const struct zk_config *c)
{
	return c->nservers >= 1 && (!c->standalone_enabled || voters(c) >= 2);
}

static int line_of(const struct props *ps, const char *key)
{
	const struct prop *p = props_find(ps, key);

	return p ? p->line : 0;
}

static const char *log_key(const char *k)
{
	return has_prefix(k, "zookeeper.") ? k + 10 : k;
}

/* Every key of zoo.cfg except server.N; those wait until their switches are known. */
static int apply_file(struct loader *ld, struct props *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		struct prop *p = &ps->v[i];
		const struct key *k;

		if (is_server_key(p->key))
			continue;
		if (is_hierarchy_key(p->key))
			return fail(ld, p->line,
				    "%s: hierarchical quorums (group/weight) are not supported",
				    p->key);
		k = key_for_file(p->key);
		if (k) {
			if (apply_key(ld, k, p))
				return -1;
			continue;
		}
		if (list_match(jvm_only, NELEM(jvm_only), log_key(p->key))) {
			log_info("%s:%d: %s only configures Apache ZooKeeper's JVM; ignored", ld->src,
				 p->line, p->key);
			continue;
		}
		if (list_match(apache_props, NELEM(apache_props), log_key(p->key))) {
			log_info("%s:%d: %s is not used by zkensemble; ignored", ld->src, p->line,
				 p->key);
			continue;
		}
		log_warn("%s:%d: unknown key '%s'; ignored", ld->src, p->line, p->key);
	}
	return 0;
}

static int apply_servers(struct loader *ld, struct props *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		struct prop *p = &ps->v[i];

		if (!is_server_key(p->key))
			continue;
		if (ld->c->dynamic_config_file[0])
			return fail(ld, p->line, "%s: must be in the dynamic config file %s",
				    p->key, ld->c->dynamic_config_file);
		if (add_server(ld, p, ld->src))
			return -1;
	}
	return 0;
}

/* The membership checks of parseDynamicConfig, then this server's own line. */
static int check_servers(struct loader *ld)
{
	struct zk_config *c = ld->c;
	int nv = voters(c), nobs = c->nservers - nv;

	if (!c->nservers)
		return 0;
	if (nv == 0) {
		if (!c->standalone_enabled)
			return fail(ld, 0, "standaloneEnabled=false needs at least one participant");
		if (nobs > 0)
			return fail(ld, 0, "observers without participants is not a valid ensemble");
	} else if (nv == 1 && c->standalone_enabled) {
		/* Apache keeps this for HBase: one server line means standalone. */
		log_error("%s: only one server specified (ignored; running standalone)", ld->src);
		if (nobs > 0)
			return fail(ld, 0, "observers without a quorum is not a valid ensemble");
	} else if (nv <= 2) {
		log_warn("%s: %d voting servers tolerate no failure; use at least 3", ld->src, nv);
	} else if (nv % 2 == 0) {
		log_warn("%s: %d voting servers: an odd number is better", ld->src, nv);
	}
	return 0;
}

static const struct zk_server_cfg *find_server(const struct zk_config *c, int64_t id, int *idx)
{
	int i;

	for (i = 0; i < c->nservers; i++)
		if (c->servers[i].id == id) {
			*idx = i;
			return &c->servers[i];
		}
	return NULL;
}

/* setupClientPort: this server's ";[host:]port" part wins over clientPort, unless they clash. */
static int own_client_port(struct loader *ld, const struct props *ps, int64_t id)
{
	struct zk_config *c = ld->c;
	const struct zk_server_cfg *s;
	int idx;

	s = find_server(c, id, &idx);
	if (!s || !s->client_port)
		return 0;
	if (c->client_port) {
		const char *sh = s->client_host[0] ? s->client_host : "0.0.0.0";
		int any = !ld->client_addr_set || !strcmp(c->client_port_address, "0.0.0.0") ||
			  !strcmp(c->client_port_address, "::");

		if (c->client_port != s->client_port ||
		    (!any && strcmp(c->client_port_address, sh)))
			return fail(ld, line_of(ps, "clientPort"),
				    "clientPort %s:%d differs from the client address %s:%d of %s",
				    ld->client_addr_set ? c->client_port_address : "0.0.0.0",
				    c->client_port, sh, s->client_port,
				    ld->server_line[idx]->key);
	}
	c->client_port = s->client_port;
	if (s->client_host[0])
		snprintf(c->client_port_address, sizeof(c->client_port_address), "%s",
			 s->client_host);
	return 0;
}

static int finish(struct loader *ld, struct props *ps)
{
	struct zk_config *c = ld->c;
	int64_t myid = 0;
	int found = 0, quorum, idx;
	const struct zk_server_cfg *me;

	if (c->autopurge_snap_retain < 3) {
		log_warn("%s: autopurge.snapRetainCount %d is below 3; using 3", ld->src,
			 c->autopurge_snap_retain);
		c->autopurge_snap_retain = 3;
	}
	if (!c->data_dir[0])
		return fail(ld, line_of(ps, "dataDir"), "dataDir is not set");
	if (!c->data_log_dir[0])
		memcpy(c->data_log_dir, c->data_dir, sizeof(c->data_log_dir));
	if (!c->client_port && ld->client_addr_set)
		return fail(ld, line_of(ps, "clientPortAddress"),
			    "clientPortAddress is set but clientPort is not set");
	if (!c->secure_client_port && ld->secure_addr_set)
		return fail(ld, line_of(ps, "secureClientPortAddress"),
			    "secureClientPortAddress is set but secureClientPort is not set");
	if (c->tick_time == 0)
		return fail(ld, line_of(ps, "tickTime"), "tickTime is not set");
	if (c->tick_time < 0)
		return fail(ld, line_of(ps, "tickTime"), "tickTime: %d is negative", c->tick_time);
	if (c->min_session_timeout == -1)
		c->min_session_timeout = 2 * c->tick_time;
	if (c->max_session_timeout == -1)
		c->max_session_timeout = 20 * c->tick_time;
	if (c->min_session_timeout > c->max_session_timeout)
		return fail(ld, line_of(ps, "minSessionTimeout"),
			    "minSessionTimeout %d must not be larger than maxSessionTimeout %d",
			    c->min_session_timeout, c->max_session_timeout);
	if (check_servers(ld))
		return -1;

	quorum = config_is_quorum(c);
	if (read_myid(ld, &myid, &found)) {
		if (quorum)
			return -1;
		/* Standalone never uses the id; Debian's placeholder myid must not stop it. */
		log_warn("%s; ignored in standalone mode", ld->errmsg);
		ld->errmsg[0] = 0;
		found = 0;
	}
	if (found && own_client_port(ld, ps, myid))
		return -1;
	if (!quorum) {
		if (!c->client_port && !c->secure_client_port)
			log_warn("%s: neither clientPort nor secureClientPort is set: no client "
				 "can connect", ld->src);
		return 0;
	}

	/* checkValidity, distributed mode. */
	if (c->init_limit == 0)
		return fail(ld, line_of(ps, "initLimit"), "initLimit is not set");
	if (c->sync_limit == 0)
		return fail(ld, line_of(ps, "syncLimit"), "syncLimit is not set");
	if (c->init_limit < 0)
		return fail(ld, line_of(ps, "initLimit"), "initLimit: %d is negative", c->init_limit);
	if (c->sync_limit < 0)
		return fail(ld, line_of(ps, "syncLimit"), "syncLimit: %d is negative", c->sync_limit);
	if (!found)
		return fail(ld, 0, "myid file is missing: %s/myid must hold this server's id",
			    c->data_dir);
	me = find_server(c, myid, &idx);
	if (!me)
		return fail(ld, 0, "myid %lld (from %s/myid) is not in the server list",
			    (long long)myid, c->data_dir);
	if (c->extended_types && myid > 254)
		return fail(ld, 0, "myid %lld: extendedTypesEnabled needs a server id of at most 254",
			    (long long)myid);
	if (myid < 0 || myid > 255)
		log_warn("%s: myid %lld is outside 0-255; session ids carry only its low byte",
			 ld->src, (long long)myid);
	c->myid = myid;
	/* setupPeerType: the server list decides. */
	if (ld->peer_type_set && c->peer_observer != me->observer)
		log_warn("%s: peerType %s does not match %s (%s); using the server line", ld->src,
			 c->peer_observer ? "observer" : "participant",
			 ld->server_line[idx]->key, me->observer ? "observer" : "participant");
	c->peer_observer = me->observer;
	return 0;
}

int config_load(struct zk_config *c, const char *path, char *errmsg, size_t errlen)
{
	struct props ps = { 0 }, dyn = { 0 };
	struct loader ld;
	char *text = NULL;
	size_t len;
	int rc = -1;

	config_defaults(c);
	if (errlen)
		errmsg[0] = 0;
	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	ld.src = path;
	ld.errmsg = errmsg;
	ld.errlen = errlen;
	if (strlen(path) >= sizeof(c->path)) {
		snprintf(errmsg, errlen, "%.200s...: path is too long", path);
		return -1;
	}
	memcpy(c->path, path, strlen(path) + 1);

	/* zkServer.sh runs java $SERVER_JVMFLAGS $JVMFLAGS: the later -D wins. */
	apply_env_var(c, "SERVER_JVMFLAGS");
	apply_env_var(c, "JVMFLAGS");

	if (props_read_file(path, &text, &len, errmsg, errlen, "config"))
		return -1;
	if (props_parse(&ps, text, len, path, errmsg, errlen))
		goto out;
	/* -1 = "not given" until finish() derives them from the final tickTime. */
	c->min_session_timeout = -1;
	c->max_session_timeout = -1;
	if (apply_file(&ld, &ps))
		goto out;
	if (c->dynamic_config_file[0]) {
		if (apply_servers(&ld, &ps) || load_dynamic(&ld, &dyn))
			goto out;
	} else if (apply_servers(&ld, &ps)) {
		goto out;
	}
	if (finish(&ld, &ps))
		goto out;
	rc = 0;
out:
	free(text);
	props_release(&ps);
	props_release(&dyn);
	return rc;
}

/* FourLetterCommands.cmd2String: the words "*" stands for. */
static const char *const known_words[] = {
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
	"mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
};

static int known_word(const char *w)
{
	size_t i;

	for (i = 0; i < NELEM(known_words); i++)
		if (!strcmp(w, known_words[i]))
			return 1;
	return 0;
}

int config_4lw_enabled(const struct zk_config *c, const char *word)
{
	const char *p = c->fourlw_whitelist;

	if (!strcmp(word, "srvr"))
		return 1;
	if (!strcmp(word, "isro") && c->readonly_mode)
		return 1;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p, *e = p + n;

		/* String.trim() of each entry. */
		while (s < e && (unsigned char)*s <= ' ')
			s++;
		while (e > s && (unsigned char)e[-1] <= ' ')
			e--;
		if (e == s)
			;	/* an empty entry enables nothing */
		else if (e - s == 1 && *s == '*')
			return known_word(word);
		else if ((size_t)(e - s) == strlen(word) && !strncmp(s, word, (size_t)(e - s)))
			return 1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}
