/*
 * config: zoo.cfg as Apache ZooKeeper reads it (java.util.Properties syntax; quorum-protocol.md
 * §1), plus the -Dkey=value words of SERVER_JVMFLAGS / JVMFLAGS in the environment for the
 * settings Apache only takes as system properties (DESIGN.md §1). zoo.cfg wins over the
 * environment.
 *
 * Errors name the key and the line: "zoo.cfg:7: tickTime: 'abc' is not a number".
 * Unknown keys are kept and warned about (as Apache turns them into properties), never fatal;
 * JVM-only keys (serverCnxnFactory, authProvider.N, admin.*, ssl.*, metricsProvider.*) are
 * logged as ignored.
 *
 * Settings Apache reads as system properties (zookeeper.snapCount, jute.maxbuffer, ...) are
 * accepted in zoo.cfg with or without the "zookeeper." prefix and from -D words of
 * SERVER_JVMFLAGS then JVMFLAGS (the later word wins, as on the java command line). They keep
 * Java's lenient reading (a bad number warns and keeps the default; booleans follow
 * Boolean.getBoolean, skipACL only "yes", forceSync off only for "no"); zoo.cfg's own keys
 * (tickTime, clientPort, ...) are strict and a bad value is an error.
 *
 * After config_load every field holds its effective value: defaults applied, session timeouts
 * derived from tickTime, data_log_dir filled in, client_port/client_port_address taken from
 * this server's "server.N=...;[host:]port" part when it has one, peer_observer from its
 * server line.
 */
#ifndef ZK_CONFIG_H
#define ZK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ZK_MAX_SERVERS 255

struct zk_server_cfg {
	int64_t id;
	char host[256];
	int quorum_port;
	int election_port;
	int observer;			/* :observer */
	char client_host[256];		/* from ;[host:]port, "" if absent (= 0.0.0.0) */
	int client_port;		/* 0 if absent */
};

struct zk_config {
	char path[4096];		/* the zoo.cfg file */
	int32_t tick_time;		/* default 3000 */
	int32_t init_limit;		/* 0 = unset */
	int32_t sync_limit;
	char data_dir[4096];
	char data_log_dir[4096];	/* = data_dir when unset */
	int client_port;		/* 0 = unset */
	char client_port_address[256];
	int32_t max_client_cnxns;	/* default 60 */
	int32_t min_session_timeout;	/* default 2 * tick */
	int32_t max_session_timeout;	/* default 20 * tick */
	int32_t autopurge_snap_retain;	/* default 3, raised to 3 */
	int32_t autopurge_interval_h;	/* default 0 = off */
	char fourlw_whitelist[1024];	/* raw value; "" = unset (only srvr) */
	int standalone_enabled;		/* default 1 */
	int reconfig_enabled;		/* default 0 */
	int peer_observer;		/* peerType=observer */
	int32_t snap_count;		/* default 100000 */
	int64_t snap_size_kb;		/* default 4194304 */
	int64_t prealloc_kb;		/* default 65536 */
	int force_sync;			/* default 1 */
	int32_t jute_maxbuffer;		/* default 0xFFFFF (-Djute.maxbuffer) */
	int extended_types;		/* zookeeper.extendedTypesEnabled */
	int skip_acl;			/* zookeeper.skipACL=yes */
	char super_digest[512];		/* zookeeper.DigestAuthenticationProvider.superDigest */
	int readonly_mode;		/* readonlymode.enabled */
	int32_t global_outstanding_limit;	/* default 1000 */
	int64_t container_check_ms;	/* znode.container.checkIntervalMs, default 60000 */
	int32_t listen_backlog;		/* clientPortListenBacklog, -1 */
	int64_t myid;			/* from dataDir/myid in quorum mode, else 0 */
	int nservers;
	struct zk_server_cfg servers[ZK_MAX_SERVERS];	/* in file order */
	int32_t secure_client_port;	/* 0 = unset (TLS listener) */
	char secure_client_port_address[256];
	int quorum_listen_on_all_ips;	/* default 0 */
	int sync_enabled;		/* default 1 (observers log txns) */
	int local_sessions_enabled;	/* default 0 */
	int local_sessions_upgrading_enabled;	/* default 0 */
	int emulate353_ttl_nodes;	/* zookeeper.emulate353TTLNodes */
	char dynamic_config_file[4096];	/* "" = server lines are in zoo.cfg */
	int64_t config_version;		/* hex suffix of the dynamic file name, else 0 */
};

/* Defaults for everything (session timeouts for the default tick); data_dir empty. */
void config_defaults(struct zk_config *c);

/*
 * Fills c: config_defaults, then the environment's -D words, then path (zoo.cfg wins), then
 * the dynamic file, derived values, dataDir/myid and validation. Returns 0, or -1 with a
 * message naming the file, line and key in errmsg. Warnings go to the log.
 */
int config_load(struct zk_config *c, const char *path, char *errmsg, size_t errlen);

/* Distributed iff >= 1 server line and (standaloneEnabled=false or >= 2 voters). */
int config_is_quorum(const struct zk_config *c);

/* Whether a four-letter word is enabled by 4lw.commands.whitelist (srvr always). */
int config_4lw_enabled(const struct zk_config *c, const char *word);

#endif
