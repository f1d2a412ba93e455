/*
 * config: zoo.cfg as Apache ZooKeeper reads it (java.util.Properties syntax; quorum-protocol.md
 * §1), plus the -Dkey=value words of SERVER_JVMFLAGS / JVMFLAGS in the environment for the
 * settings Apache only takes as system properties (DESIGN.md §1). zoo.cfg wins over the
 * environment.
 *
 * Errors name the key and the line: "zoo.cfg:7: tickTime: 'abc' is not a number".
 * Unknown keys are kept and warned about (as Apache turns them into properties), never fatal;
 * JVM-only keys (serverCnxnFactory, authProvider.N, admin.*, ssl.*) are logged as ignored.
 */
#ifndef ZK_CONFIG_H
#define ZK_CONFIG_H

#include <stdint.h>

#define ZK_MAX_SERVERS 255

struct zk_server_cfg {
	int64_t id;
	char host[256];
	int quorum_port;
	int election_port;
	int observer;			/* :observer */
	char client_host[256];		/* from ;[host:]port, "" if absent */
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
	struct zk_server_cfg servers[ZK_MAX_SERVERS];
};

/* Defaults for everything; data_dir empty. */
void config_defaults(struct zk_config *c);

/*
 * Reads path into c (after config_defaults + environment). Returns 0, or -1 with a message
 * naming the file, line and key in errmsg. Warnings go to the log.
 */
int config_load(struct zk_config *c, const char *path, char *errmsg, size_t errlen);

/* Distributed iff >= 1 server line and (standaloneEnabled=false or >= 2 voters). */
int config_is_quorum(const struct zk_config *c);

/* Whether a four-letter word is enabled by 4lw.commands.whitelist (srvr always). */
int config_4lw_enabled(const struct zk_config *c, const char *word);

#endif
