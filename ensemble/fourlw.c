/*
 * Four-letter words on the client port, formatted as Apache ZooKeeper 3.8 prints them
 * (../shared/spec/four-letter-words.md), so zkServer.sh status, zktop and the Prometheus
 * exporters parse our output unchanged.
 */
#include "server_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <dirent.h>
#include <unistd.h>

#include "log.h"

static const char *const words[] = {
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr",
	"ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs", NULL
};

static const uint8_t telnet_close[4] = { 0xff, 0xf4, 0xff, 0xfd };

int fourlw_is_word(const uint8_t *p4)
{
	int i;

	if (!memcmp(p4, telnet_close, 4))
		return 1;
	for (i = 0; words[i]; i++)
		if (!memcmp(p4, words[i], 4))
			return 1;
	return 0;
}

const char *server_lop_name(int32_t op)
{
	switch (op) {
	case ZOP_PING: return "PING";
	case ZOP_CREATESESSION: return "SESS";
	case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
		return "CREA";
	case ZOP_DELETE: case ZOP_DELETECONTAINER: return "DELE";
	case ZOP_SETDATA: return "SETD";
	case ZOP_SETACL: return "SETA";
	case ZOP_GETDATA: return "GETD";
	case ZOP_GETACL: return "GETA";
	case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2: return "GETC";
	case ZOP_GETALLCHILDRENNUMBER: return "GETACN";
	case ZOP_GETEPHEMERALS: return "GETE";
	case ZOP_EXISTS: return "EXIS";
	case ZOP_SYNC: return "SYNC";
	case ZOP_CHECK: return "CHEC";
	case ZOP_MULTI: return "MULT";
	case ZOP_MULTIREAD: return "MLTR";
	case ZOP_SETWATCHES: return "SETW";
	case ZOP_SETWATCHES2: return "STW2";
	case ZOP_ADDWATCH: return "ADDW";
	case ZOP_CHECKWATCHES: return "CHKW";
	case ZOP_REMOVEWATCHES: return "REMW";
	case ZOP_WHOAMI: return "HOMI";
	case ZOP_RECONFIG: return "RECO";
	case ZOP_CLOSESESSION: return "CLOS";
	}
	return "NA";
}

void server_reset_stats(struct zk_server *s)
{
	s->packets_received = 0;
	s->packets_sent = 0;
	s->min_lat = 0;
	s->max_lat = 0;
	s->sum_lat = 0;
	s->cnt_lat = 0;
	s->last_resp_size = -1;
	s->min_resp_size = -1;
	s->max_resp_size = -1;
}

void conn_reset_stats(struct conn *c)
{
	c->recved = 0;
	c->sent = 0;
	c->last_lat = 0;
	c->min_lat = 0;
	c->max_lat = 0;
	c->sum_lat = 0;
	c->cnt_lat = 0;
	c->last_cxid = -1;
	c->last_zxid = -1;
	c->last_resp_ms = 0;
	c->last_op = -1000;
}

/* Java's Double.toString for the small non-negative values we print (latency averages):
 * at least one decimal, at most four after rounding, no trailing zeros beyond the first. */
static void put_java_double(FILE *f, double v)
{
	char tmp[64];
	char *dot, *end;

	snprintf(tmp, sizeof(tmp), "%.4f", v);
	dot = strchr(tmp, '.');
	end = tmp + strlen(tmp) - 1;
	while (end > dot + 1 && *end == '0')
		*end-- = 0;
	fputs(tmp, f);
}

static double avg_lat(int64_t sum, int64_t cnt)
{
	return cnt ? (double)sum / (double)cnt : 0.0;
}

static void put_conn_line(FILE *f, struct conn *c, int full)
{
	fprintf(f, " %s[%d](queued=%d,recved=%lld,sent=%lld", c->addr,
		c->state == CONN_CLOSING ? 0 : (c->reading ? 1 : 0), (int)c->nqueued,
		(long long)c->recved, (long long)c->sent);
	if (full && c->session_id) {
		fprintf(f, ",sid=0x%llx,lop=%s,est=%lld,to=%d", (unsigned long long)c->session_id,
			server_lop_name(c->last_op), (long long)c->est_wall_ms, c->timeout);
		if (c->last_cxid >= 0)
			fprintf(f, ",lcxid=0x%x", (unsigned)c->last_cxid);
		fprintf(f, ",lzxid=0x%llx,lresp=%lld,llat=%lld,minlat=%lld,avglat=%lld,maxlat=%lld",
			(unsigned long long)c->last_zxid, (long long)c->last_resp_ms,
			(long long)c->last_lat, (long long)c->min_lat,
			(long long)(c->cnt_lat ? c->sum_lat / c->cnt_lat : 0), (long long)c->max_lat);
	}
	fputs(")\n", f);
}

static void put_summary(FILE *f, struct zk_server *s)
{
	fprintf(f, "Latency min/avg/max: %lld/", (long long)s->min_lat);
	put_java_double(f, avg_lat(s->sum_lat, s->cnt_lat));
	fprintf(f, "/%lld\n", (long long)s->max_lat);
	fprintf(f, "Received: %lld\n", (long long)s->packets_received);
	fprintf(f, "Sent: %lld\n", (long long)s->packets_sent);
	fprintf(f, "Connections: %lld\n", (long long)s->nconns);
	fprintf(f, "Outstanding: %lld\n", (long long)s->npending);
	fprintf(f, "Zxid: 0x%llx\n", (unsigned long long)tree_last_zxid(s->tree));
	fprintf(f, "Mode: standalone\n");
	fprintf(f, "Node count: %lld\n", (long long)tree_node_count(s->tree));
}

static void version_dir(char *out, size_t n, const char *dir)
{
	snprintf(out, n, "%s/version-2", dir);
}

static void put_conf(FILE *f, struct zk_server *s)
{
	const struct zk_config *cfg = s->cfg;
	const char *logdir = cfg->data_log_dir[0] ? cfg->data_log_dir : cfg->data_dir;
	char d[4200], l[4200];

	version_dir(d, sizeof(d), cfg->data_dir);
	version_dir(l, sizeof(l), logdir);
	fprintf(f, "clientPort=%d\n", cfg->client_port);
	fprintf(f, "secureClientPort=-1\n");
	fprintf(f, "dataDir=%s\n", d);
	fprintf(f, "dataDirSize=%lld\n", (long long)storage_dir_size(cfg->data_dir));
	fprintf(f, "dataLogDir=%s\n", l);
	fprintf(f, "dataLogSize=%lld\n", (long long)storage_dir_size(logdir));
	fprintf(f, "tickTime=%d\n", cfg->tick_time);
	fprintf(f, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
	fprintf(f, "minSessionTimeout=%d\n", cfg->min_session_timeout);
	fprintf(f, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
	fprintf(f, "clientPortListenBacklog=%d\n", cfg->listen_backlog);
	fprintf(f, "serverId=%lld\n", (long long)cfg->myid);
}

static void put_envi(FILE *f)
{
	struct utsname u;
	char host[256] = "<NA>", cwd[4096] = "<NA>";
	const char *user = getenv("USER"), *home = getenv("HOME");
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
	long avail = sysconf(_SC_AVPHYS_PAGES);

	gethostname(host, sizeof(host));
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "<NA>");
	uname(&u);
	fprintf(f, "Environment:\n");
	fprintf(f, "zookeeper.version=%s\n", ZK_VERSION_STRING);
	fprintf(f, "host.name=%s\n", host);
	fprintf(f, "java.version=<NA>\njava.vendor=<NA>\njava.home=<NA>\n");
	fprintf(f, "java.class.path=<NA>\njava.library.path=<NA>\n");
	fprintf(f, "java.io.tmpdir=/tmp\njava.compiler=<NA>\n");
	fprintf(f, "os.name=%s\nos.arch=%s\nos.version=%s\n", u.sysname, u.machine, u.release);
	fprintf(f, "user.name=%s\nuser.home=%s\nuser.dir=%s\n", user ? user : "<NA>",
		home ? home : "<NA>", cwd);
	fprintf(f, "os.memory.free=%ldMB\n", avail * (psize / 1024) / 1024);
	fprintf(f, "os.memory.max=%ldMB\n", pages * (psize / 1024) / 1024);
	fprintf(f, "os.memory.total=%ldMB\n", pages * (psize / 1024) / 1024);
}

static void dump_eph_cb(void *ctx, int64_t sid, const struct zk_strvec *paths)
{
	FILE *f = ctx;
	int32_t i;

	fprintf(f, "0x%llx:\n", (unsigned long long)sid);
	for (i = 0; i < paths->n; i++)
		fprintf(f, "\t%s\n", paths->v[i]);
}

static void count_eph_cb(void *ctx, int64_t sid, const struct zk_strvec *paths)
{
	int64_t *n = ctx;

	(void)sid;
	(void)paths;
	(*n)++;
}

static void sum_eph_cb(void *ctx, int64_t sid, const struct zk_strvec *paths)
{
	int64_t *n = ctx;

	(void)sid;
	*n += paths->n;
}

static void put_dump(FILE *f, struct zk_server *s)
{
	struct conn *c;
	int64_t nsess = 0;

	fprintf(f, "SessionTracker dump:\n");
	sessions_dump(s->sessions, s->wall_offset_ms, f);
	fprintf(f, "ephemeral nodes dump:\n");
	tree_foreach_ephemeral_session(s->tree, count_eph_cb, &nsess);
	fprintf(f, "Sessions with Ephemerals (%lld):\n", (long long)nsess);
	tree_foreach_ephemeral_session(s->tree, dump_eph_cb, f);
	fprintf(f, "Connections dump:\n");
	nsess = s->nconns;
	fprintf(f, "Connections Sets (%d)/(%lld):\n", nsess ? 1 : 0, (long long)nsess);
	if (nsess) {
		fprintf(f, "%lld expire at <unknown>:\n", (long long)nsess);
		for (c = s->conns; c; c = c->next)
			fprintf(f, "\tip: %s sessionId: 0x%llx\n", c->addr,
				(unsigned long long)c->session_id);
	}
}

static int64_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int64_t n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static void put_mntr(FILE *f, struct zk_server *s)
{
	struct rlimit rl;
	int64_t eph = 0, fsyncs = 0, txns = 0;

	tree_foreach_ephemeral_session(s->tree, sum_eph_cb, &eph);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (s->storage)
		storage_stats(s->storage, &fsyncs, &txns);
	fprintf(f, "zk_version\t%s\n", ZK_VERSION_STRING);
	fprintf(f, "zk_server_state\tstandalone\n");
	fprintf(f, "zk_avg_latency\t");
	put_java_double(f, avg_lat(s->sum_lat, s->cnt_lat));
	fprintf(f, "\nzk_max_latency\t%lld\n", (long long)s->max_lat);
	fprintf(f, "zk_min_latency\t%lld\n", (long long)s->min_lat);
	fprintf(f, "zk_packets_received\t%lld\n", (long long)s->packets_received);
	fprintf(f, "zk_packets_sent\t%lld\n", (long long)s->packets_sent);
	fprintf(f, "zk_num_alive_connections\t%lld\n", (long long)s->nconns);
	fprintf(f, "zk_outstanding_requests\t%lld\n", (long long)s->npending);
	fprintf(f, "zk_uptime\t%lld\n", (long long)(uv_now(s->loop) - (uint64_t)s->start_ms));
	fprintf(f, "zk_znode_count\t%lld\n", (long long)tree_node_count(s->tree));
	fprintf(f, "zk_watch_count\t%lld\n", (long long)watches_count(s->watches));
	fprintf(f, "zk_ephemerals_count\t%lld\n", (long long)eph);
	fprintf(f, "zk_approximate_data_size\t%lld\n", (long long)tree_data_size(s->tree));
	fprintf(f, "zk_global_sessions\t%lld\n", (long long)sessions_count(s->sessions));
	fprintf(f, "zk_local_sessions\t0\n");
	fprintf(f, "zk_open_file_descriptor_count\t%lld\n", (long long)count_fds());
	fprintf(f, "zk_max_file_descriptor_count\t%lld\n", (long long)rl.rlim_cur);
	fprintf(f, "zk_connection_drop_probability\t0.0\n");
	fprintf(f, "zk_last_client_response_size\t%lld\n", (long long)s->last_resp_size);
	fprintf(f, "zk_max_client_response_size\t%lld\n", (long long)s->max_resp_size);
	fprintf(f, "zk_min_client_response_size\t%lld\n", (long long)s->min_resp_size);
	fprintf(f, "zk_outstanding_tls_handshake\t0\n");
	fprintf(f, "zk_auth_failed_count\t%lld\n", (long long)s->auth_failed);
	fprintf(f, "zk_non_mtls_remote_conn_count\t0\n");
	fprintf(f, "zk_non_mtls_local_conn_count\t0\n");
	fprintf(f, "zk_fsync_count\t%lld\n", (long long)fsyncs);
	fprintf(f, "zk_txn_count\t%lld\n", (long long)txns);
}

void fourlw_run(struct zk_server *s, struct conn *self, const char *word, const uint8_t *extra,
		size_t extra_len, struct buf *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct conn *c;

	if (!f)
		return;
	/* Apache counts a non-empty answer as sent before composing it (srvr counts itself). */
	if (!(!memcmp(word, telnet_close, 4) && !strcmp(s->cfg->fourlw_whitelist, "*")) &&
	    !(!strcmp(word, "hash") && s->digest_n == 0 && config_4lw_enabled(s->cfg, word)))
		s->packets_sent++;
	if (!memcmp(word, telnet_close, 4)) {
		/* Apache's CloseCommand prints nothing; only "*" whitelists it. */
		if (strcmp(s->cfg->fourlw_whitelist, "*") != 0)
			fprintf(f, "telnet close is not executed because it is not in the whitelist.\n");
		goto done;
	}
	if (!config_4lw_enabled(s->cfg, word)) {
		fprintf(f, "%s is not executed because it is not in the whitelist.\n", word);
		goto done;
	}
	log_debug("four-letter word %s from %s", word, self->addr);
	if (!strcmp(word, "ruok")) {
		fputs("imok", f);
	} else if (!strcmp(word, "srvr")) {
		fprintf(f, "Zookeeper version: %s\n", ZK_VERSION_STRING);
		put_summary(f, s);
	} else if (!strcmp(word, "stat")) {
		fprintf(f, "Zookeeper version: %s\n", ZK_VERSION_STRING);
		fprintf(f, "Clients:\n");
		for (c = s->conns; c; c = c->next)
			put_conn_line(f, c, 0);
		fputs("\n", f);
		put_summary(f, s);
	} else if (!strcmp(word, "cons")) {
		for (c = s->conns; c; c = c->next)
			put_conn_line(f, c, 1);
		fputs("\n", f);
	} else if (!strcmp(word, "conf")) {
		put_conf(f, s);
	} else if (!strcmp(word, "crst")) {
		for (c = s->conns; c; c = c->next)
			conn_reset_stats(c);
		fputs("Connection stats reset.\n", f);
	} else if (!strcmp(word, "srst")) {
		server_reset_stats(s);
		fputs("Server stats reset.\n", f);
	} else if (!strcmp(word, "envi")) {
		put_envi(f);
	} else if (!strcmp(word, "dump")) {
		put_dump(f, s);
	} else if (!strcmp(word, "mntr")) {
		put_mntr(f, s);
	} else if (!strcmp(word, "wchs")) {
		watches_dump_summary(s->watches, f);
	} else if (!strcmp(word, "wchc")) {
		watches_dump_by_session(s->watches, f);
	} else if (!strcmp(word, "wchp")) {
		watches_dump_by_path(s->watches, f);
	} else if (!strcmp(word, "isro")) {
		fputs("rw", f);
	} else if (!strcmp(word, "dirs")) {
		const struct zk_config *cfg = s->cfg;

		fprintf(f, "datadir_size: %lld\n", (long long)storage_dir_size(cfg->data_dir));
		fprintf(f, "logdir_size: %lld\n", (long long)storage_dir_size(
			cfg->data_log_dir[0] ? cfg->data_log_dir : cfg->data_dir));
	} else if (!strcmp(word, "gtmk")) {
		fputs("306", f);
	} else if (!strcmp(word, "stmk")) {
		fprintf(f, "%lld", extra_len >= 8 ? (long long)be64_get(extra) : 306LL);
	} else if (!strcmp(word, "hash")) {
		int32_t i;

		for (i = 0; i < s->digest_n; i++) {
			int32_t k = (s->digest_head + i) % 1024;

			fprintf(f, "%llx: %lld\n", (unsigned long long)s->digest_zxid[k],
				(long long)s->digest_val[k]);
		}
	}
done:
	fclose(f);
	buf_put(out, text, len);
	free(text);
}
