/*
 * Unit tests for common/config.c: zoo.cfg syntax (java.util.Properties), keys, defaults,
 * derived values, server.N lines, dataDir/myid, the -D words of SERVER_JVMFLAGS/JVMFLAGS,
 * the 4lw whitelist and the messages. Each test runs in a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

struct fx {
	char dir[256];
	char old_cwd[4096];
	struct zk_config c;
	char err[1024];
	char logs[16384];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(f->dir) || !getcwd(f->old_cwd, sizeof(f->old_cwd)) || chdir(f->dir))
		return -1;
	unsetenv("SERVER_JVMFLAGS");
	unsetenv("JVMFLAGS");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];

	if (chdir(f->old_cwd))
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	unsetenv("SERVER_JVMFLAGS");
	unsetenv("JVMFLAGS");
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* Writes zoo.cfg and loads it, capturing what the parser logs into f->logs. */
static int load(struct fx *f, const char *text)
{
	int saved = dup(2), fd, rc;
	ssize_t n;

	write_file("zoo.cfg", text);
	fd = open("log.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	f->err[0] = 0;
	rc = config_load(&f->c, "zoo.cfg", f->err, sizeof(f->err));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, f->logs, sizeof(f->logs) - 1, 0);
	f->logs[n > 0 ? n : 0] = 0;
	close(fd);
	return rc;
}

static void load_ok(struct fx *f, const char *text)
{
	if (load(f, text)) {
		print_error("unexpected error: %s\n", f->err);
		fail();
	}
}

static void load_err(struct fx *f, const char *text, const char *want)
{
	assert_int_equal(load(f, text), -1);
	if (!strstr(f->err, want)) {
		print_error("error \"%s\" does not contain \"%s\"\n", f->err, want);
		fail();
	}
}

static void has_log(struct fx *f, const char *want)
{
	if (!strstr(f->logs, want)) {
		print_error("log does not contain \"%s\":\n%s\n", want, f->logs);
		fail();
	}
}

/* config_defaults gives Apache's defaults, with session timeouts derived from tickTime 3000. */
static void test_defaults(void **state)
{
	struct zk_config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.tick_time, 3000);
	assert_int_equal(c.min_session_timeout, 6000);
	assert_int_equal(c.max_session_timeout, 60000);
	assert_int_equal(c.max_client_cnxns, 60);
	assert_int_equal(c.autopurge_snap_retain, 3);
	assert_int_equal(c.autopurge_interval_h, 0);
	assert_int_equal(c.standalone_enabled, 1);
	assert_int_equal(c.reconfig_enabled, 0);
	assert_int_equal(c.snap_count, 100000);
	assert_int_equal(c.snap_size_kb, 4194304);
	assert_int_equal(c.prealloc_kb, 65536);
	assert_int_equal(c.force_sync, 1);
	assert_int_equal(c.jute_maxbuffer, 0xFFFFF);
	assert_int_equal(c.global_outstanding_limit, 1000);
	assert_int_equal(c.container_check_ms, 60000);
	assert_int_equal(c.listen_backlog, -1);
	assert_int_equal(c.sync_enabled, 1);
	assert_string_equal(c.data_dir, "");
	assert_int_equal(c.nservers, 0);
}

/* A minimal standalone file: tickTime defaults to 3000, dataLogDir to dataDir. */
static void test_minimal(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/var/zk\nclientPort=2181\n");
	assert_string_equal(f->c.path, "zoo.cfg");
	assert_int_equal(f->c.tick_time, 3000);
	assert_string_equal(f->c.data_dir, "/var/zk");
	assert_string_equal(f->c.data_log_dir, "/var/zk");
	assert_int_equal(f->c.client_port, 2181);
	assert_int_equal(f->c.min_session_timeout, 6000);
	assert_int_equal(f->c.max_session_timeout, 60000);
	assert_false(config_is_quorum(&f->c));
	assert_int_equal(f->c.myid, 0);
}

static const char debian_sample[] =
	"# The number of milliseconds of each tick\n"
	"tickTime=2000\n"
	"# The number of ticks that the initial \n"
	"# synchronization phase can take\n"
	"initLimit=10\n"
	"syncLimit=5\n"
	"dataDir=/tmp/zookeeper\n"
	"clientPort=2181\n"
	"#maxClientCnxns=60\n"
	"#autopurge.snapRetainCount=3\n"
	"#autopurge.purgeInterval=1\n"
	"## Metrics Providers\n"
	"#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"
	"#metricsProvider.httpPort=7000\n";

/* Debian's sample zoo.cfg (the installed one, and a copy) parses with its values. */
static void test_debian_sample(void **state)
{
	struct fx *f = *state;
	const char *paths[] = { "/etc/zookeeper/conf_example/zoo.cfg", "copy" };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (i == 0) {
			if (access(paths[0], R_OK))
				continue;
			f->err[0] = 0;
			assert_int_equal(config_load(&f->c, paths[0], f->err, sizeof(f->err)), 0);
		} else {
			load_ok(f, debian_sample);
			assert_string_equal(f->logs, "");
		}
		assert_int_equal(f->c.tick_time, 2000);
		assert_int_equal(f->c.init_limit, 10);
		assert_int_equal(f->c.sync_limit, 5);
		assert_string_equal(f->c.data_dir, "/tmp/zookeeper");
		assert_int_equal(f->c.client_port, 2181);
		assert_int_equal(f->c.min_session_timeout, 4000);
		assert_int_equal(f->c.max_session_timeout, 40000);
		assert_int_equal(f->c.max_client_cnxns, 60);
		assert_false(config_is_quorum(&f->c));
	}
}

/* key=value, key:value, key value, blanks around the separator and a blank separator. */
static void test_separators(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir:/a\n"
		   "clientPort 2181\n"
		   "  tickTime   =   1000   \n"
		   "initLimit\t:\t7\n");
	assert_string_equal(f->c.data_dir, "/a");
	assert_int_equal(f->c.client_port, 2181);
	assert_int_equal(f->c.tick_time, 1000);
	assert_int_equal(f->c.init_limit, 7);
	/* Only one separator is eaten: "= 4" is the value, which is not a number. */
	load_err(f, "dataDir=/a\nsyncLimit = = 4\n", "zoo.cfg:2: syncLimit: '= 4' is not a number");
}

/* # and ! start comments only at the start of a line (after blanks). */
static void test_comments(void **state)
{
	struct fx *f = *state;

	load_ok(f, "# comment\n"
		   "   ! another comment\n"
		   "\n"
		   "   \t\n"
		   "dataDir=/data # not a comment\n"
		   "#clientPort=1\n"
		   "!clientPort=2\n"
		   "clientPort=2181\n");
	assert_string_equal(f->c.data_dir, "/data # not a comment");
	assert_int_equal(f->c.client_port, 2181);
}

/* A trailing odd backslash continues the line; the next line's leading blanks go. */
static void test_continuation(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/very/\\\n"
		   "        long/\\\n"
		   "\t#not-a-comment\n"
		   "clientPort=21\\\n"
		   "   81\n"
		   "tickTime=2000\n");
	assert_string_equal(f->c.data_dir, "/very/long/#not-a-comment");
	assert_int_equal(f->c.client_port, 2181);
	assert_int_equal(f->c.tick_time, 2000);
	/* An even number of backslashes is an escaped backslash, not a continuation. */
	load_ok(f, "dataDir=C:\\\\\nclientPort=2181\n");
	assert_string_equal(f->c.data_dir, "C:\\");
	assert_int_equal(f->c.client_port, 2181);
	/* A backslash on the last line of the file is dropped. */
	load_ok(f, "clientPort=2181\ndataDir=/x\\");
	assert_string_equal(f->c.data_dir, "/x");
}

/* Escapes: \t \n, \uXXXX (as UTF-8), \= and \: inside a key or value, and CR/CRLF endings. */
static void test_escapes_and_newlines(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\\u00e9j\\u00E0\\=x\\:y\r\n"
		   "clientPort=2181\r"
		   "4lw.commands.whitelist=\\u0072uok, \\u0073tat\r\n");
	assert_string_equal(f->c.data_dir, "/d\xc3\xa9j\xc3\xa0=x:y");
	assert_int_equal(f->c.client_port, 2181);
	assert_string_equal(f->c.fourlw_whitelist, "ruok, stat");
	/* "\u" needs four hex digits. */
	load_err(f, "dataDir=/d\nclientPort=\\u12\n", "zoo.cfg:2: malformed \\uxxxx escape");
}

/* The last of duplicate keys wins, and its line is the one errors name. */
static void test_last_duplicate_wins(void **state)
{
	struct fx *f = *state;

	load_ok(f, "tickTime=1000\ndataDir=/a\ntickTime=2500\ndataDir=/b\n");
	assert_int_equal(f->c.tick_time, 2500);
	assert_string_equal(f->c.data_dir, "/b");
	load_err(f, "tickTime=1000\ndataDir=/a\ntickTime=x\n", "zoo.cfg:3: tickTime: 'x' is not a number");
}

/* Errors say file:line, the key and the value, as in the examples of the brief. */
static void test_error_messages(void **state)
{
	struct fx *f = *state;

	load_err(f, "# a\n#b\n\n\n\ndataDir=/d\ntickTime=abc\n",
		 "zoo.cfg:7: tickTime: 'abc' is not a number");
	assert_string_equal(f->err, "zoo.cfg:7: tickTime: 'abc' is not a number");
	load_err(f, "dataDir=/d\nclientPort=70000\n", "zoo.cfg:2: clientPort: port 70000 is out of range");
	load_err(f, "dataDir=/d\nmaxClientCnxns=12x\n", "zoo.cfg:2: maxClientCnxns: '12x' is not a number");
	load_err(f, "dataDir=/d\ninitLimit=99999999999\n", "initLimit: '99999999999' is not a number");
	load_err(f, "dataDir=/d\nstandaloneEnabled=yes\n",
		 "zoo.cfg:2: standaloneEnabled: 'yes' is not true or false");
	load_err(f, "dataDir=/d\npeerType=leader\n", "zoo.cfg:2: peerType: 'leader'");
	load_err(f, "dataDir=/d\nelectionAlg=1\n", "zoo.cfg:2: electionAlg: 1 is not supported");
	load_err(f, "clientPort=2181\n", "zoo.cfg: dataDir is not set");
	load_err(f, "dataDir=/d\ntickTime=0\n", "zoo.cfg:2: tickTime is not set");
	load_err(f, "dataDir=/d\nclientPortAddress=127.0.0.1\n",
		 "zoo.cfg:2: clientPortAddress is set but clientPort is not set");
	assert_int_equal(config_load(&f->c, "missing.cfg", f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "missing.cfg: cannot read config"));
}

/* Booleans take true/false in any case; numbers take a sign. */
static void test_value_forms(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nclientPort=+2181\nstandaloneEnabled=FALSE\nreconfigEnabled=True\n"
		   "maxClientCnxns=-1\nsyncEnabled=false\nlocalSessionsEnabled=true\n"
		   "quorumListenOnAllIPs=true\nclientPortListenBacklog=128\n"
		   "secureClientPort=2281\nsecureClientPortAddress=127.0.0.2\n");
	assert_int_equal(f->c.client_port, 2181);
	assert_int_equal(f->c.standalone_enabled, 0);
	assert_int_equal(f->c.reconfig_enabled, 1);
	assert_int_equal(f->c.max_client_cnxns, -1);
	assert_int_equal(f->c.sync_enabled, 0);
	assert_int_equal(f->c.local_sessions_enabled, 1);
	assert_int_equal(f->c.quorum_listen_on_all_ips, 1);
	assert_int_equal(f->c.listen_backlog, 128);
	assert_int_equal(f->c.secure_client_port, 2281);
	assert_string_equal(f->c.secure_client_port_address, "127.0.0.2");
}

/* Session timeouts derive from the final tickTime; -1 means the default; min > max fails. */
static void test_session_timeouts(void **state)
{
	struct fx *f = *state;

	load_ok(f, "minSessionTimeout=-1\ndataDir=/d\ntickTime=1000\n");
	assert_int_equal(f->c.min_session_timeout, 2000);
	assert_int_equal(f->c.max_session_timeout, 20000);
	load_ok(f, "dataDir=/d\ntickTime=1000\nminSessionTimeout=500\nmaxSessionTimeout=90000\n");
	assert_int_equal(f->c.min_session_timeout, 500);
	assert_int_equal(f->c.max_session_timeout, 90000);
	load_err(f, "dataDir=/d\ntickTime=1000\nminSessionTimeout=30000\n",
		 "zoo.cfg:3: minSessionTimeout 30000 must not be larger than maxSessionTimeout 20000");
}

/* autopurge.snapRetainCount below 3 is raised to 3 with a warning; the interval is kept. */
static void test_autopurge(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=24\n");
	assert_int_equal(f->c.autopurge_snap_retain, 3);
	assert_int_equal(f->c.autopurge_interval_h, 24);
	has_log(f, "autopurge.snapRetainCount 1 is below 3");
	load_ok(f, "dataDir=/d\nautopurge.snapRetainCount=10\n");
	assert_int_equal(f->c.autopurge_snap_retain, 10);
}

/* dataLogDir is kept when given. */
static void test_data_log_dir(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\ndataLogDir=/fast/log\n");
	assert_string_equal(f->c.data_dir, "/d");
	assert_string_equal(f->c.data_log_dir, "/fast/log");
}

static void write_myid(const char *dir, const char *text)
{
	char path[512];

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/myid", dir);
	write_file(path, text);
}

/* server.N lines: hosts, ports, roles, client parts, IPv6 in brackets. */
static void test_server_lines(void **state)
{
	struct fx *f = *state;
	const struct zk_server_cfg *s;

	write_myid("data", "2\n");
	load_ok(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\n"
		   "server.1=zk1.example.com:2888:3888\n"
		   "server.2=127.0.0.1:2889:3889:participant;2182\n"
		   "server.3=[::1]:2890:3890:OBSERVER;[fe80::1]:2183\n"
		   "server.4 = 10.0.0.4:2891:3891;10.0.0.4:2184\n");
	assert_int_equal(f->c.nservers, 4);
	assert_true(config_is_quorum(&f->c));
	s = &f->c.servers[0];
	assert_int_equal(s->id, 1);
	assert_string_equal(s->host, "zk1.example.com");
	assert_int_equal(s->quorum_port, 2888);
	assert_int_equal(s->election_port, 3888);
	assert_int_equal(s->observer, 0);
	assert_int_equal(s->client_port, 0);
	assert_string_equal(s->client_host, "");
	s = &f->c.servers[1];
	assert_int_equal(s->id, 2);
	assert_int_equal(s->client_port, 2182);
	assert_string_equal(s->client_host, "");
	s = &f->c.servers[2];
	assert_string_equal(s->host, "::1");
	assert_int_equal(s->observer, 1);
	assert_string_equal(s->client_host, "fe80::1");
	assert_int_equal(s->client_port, 2183);
	s = &f->c.servers[3];
	assert_string_equal(s->client_host, "10.0.0.4");
	assert_int_equal(s->client_port, 2184);
	/* This server (myid 2) takes its client port from its own line. */
	assert_int_equal(f->c.myid, 2);
	assert_int_equal(f->c.client_port, 2182);
	assert_int_equal(f->c.peer_observer, 0);
}

/* Malformed server lines fail with the key and line named. */
static void test_server_line_errors(void **state)
{
	struct fx *f = *state;

	load_err(f, "dataDir=/d\nserver.1=host:2888\n", "zoo.cfg:2: server.1: 'host:2888' does not have the form");
	load_err(f, "dataDir=/d\nserver.1=h:1:2:observer:x\n", "zoo.cfg:2: server.1:");
	load_err(f, "dataDir=/d\nserver.1=h:2888:2888\n", "quorum and election port must be different");
	load_err(f, "dataDir=/d\nserver.1=h:2888:3888:leader\n", "'leader' is neither participant nor observer");
	load_err(f, "dataDir=/d\nserver.x=h:2888:3888\n", "zoo.cfg:2: server.x: server id 'x' is not a number");
	load_err(f, "dataDir=/d\nserver.1=h:28a8:3888\n", "quorum port '28a8' is not a port number");
	load_err(f, "dataDir=/d\nserver.1=h:2888:3888;21x\n", "client port '21x' is not a port number");
	load_err(f, "dataDir=/d\nserver.1=h:2888:3888;a:b:2181\n", "client address");
	load_err(f, "dataDir=/d\nserver.1=[::1:2888:3888\n", "no matching ']'");
	load_err(f, "dataDir=/d\nserver.1=h:1:2\nserver.01=h:3:4\n", "server id 1 is given twice");
	load_err(f, "dataDir=/d\nserver.1=a:1:2|b:1:2\n", "multiAddress.enabled is not true");
	load_err(f, "dataDir=/d\ngroup.1=1:2:3\n", "hierarchical quorums");
}

/* With multiAddress.enabled the first of several addresses is used. */
static void test_multi_address(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nserver.1=a:1:2|b:3:4\nmultiAddress.enabled=true\n");
	assert_int_equal(f->c.nservers, 1);
	assert_string_equal(f->c.servers[0].host, "a");
	assert_int_equal(f->c.servers[0].quorum_port, 1);
	has_log(f, "only the first of 2 addresses is used");
}

/* Quorum mode needs initLimit, syncLimit and a myid that is in the list. */
static void test_quorum_requirements(void **state)
{
	struct fx *f = *state;
	const char *servers = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
			      "server.3=127.0.0.1:2890:3890\n";
	char text[1024];

	snprintf(text, sizeof(text), "dataDir=data\nsyncLimit=2\n%s", servers);
	load_err(f, text, "zoo.cfg: initLimit is not set");
	snprintf(text, sizeof(text), "dataDir=data\ninitLimit=2\n%s", servers);
	load_err(f, text, "zoo.cfg: syncLimit is not set");
	snprintf(text, sizeof(text), "dataDir=data\ninitLimit=5\nsyncLimit=2\n%s", servers);
	load_err(f, text, "myid file is missing");
	write_myid("data", "7");
	load_err(f, text, "myid 7 (from data/myid) is not in the server list");
	write_myid("data", "abc\n");
	load_err(f, text, "data/myid: serverid 'abc' is not a number");
	/* Long.parseLong: no blanks around the number. */
	write_myid("data", " 1\n");
	load_err(f, text, "serverid ' 1' is not a number");
	write_myid("data", "");
	load_err(f, text, "serverid '' is not a number");
	/* Only the first line counts; CRLF and no newline are fine. */
	write_myid("data", "3\r\ngarbage\n");
	load_ok(f, text);
	assert_int_equal(f->c.myid, 3);
	write_myid("data", "1");
	load_ok(f, text);
	assert_int_equal(f->c.myid, 1);
	assert_int_equal(f->c.client_port, 0);
}

/* One server line with standaloneEnabled=true is standalone (and ignores a bad myid). */
static void test_single_server_standalone(void **state)
{
	struct fx *f = *state;

	write_myid("data", "replace this text with the cluster-unique zookeeper's instance id (1-255)\n");
	load_ok(f, "dataDir=data\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\n");
	assert_false(config_is_quorum(&f->c));
	assert_int_equal(f->c.nservers, 1);
	assert_int_equal(f->c.myid, 0);
	has_log(f, "only one server specified");
	has_log(f, "is not a number; ignored in standalone mode");
	/* standaloneEnabled=false makes even one server a quorum. */
	write_myid("data", "1\n");
	load_ok(f, "dataDir=data\nclientPort=2181\ninitLimit=5\nsyncLimit=2\nstandaloneEnabled=false\n"
		   "server.1=127.0.0.1:2888:3888\n");
	assert_true(config_is_quorum(&f->c));
	assert_int_equal(f->c.myid, 1);
	/* A standalone server still takes its client port from its own line. */
	load_ok(f, "dataDir=data\nserver.1=127.0.0.1:2888:3888;127.0.0.5:2999\n");
	assert_int_equal(f->c.client_port, 2999);
	assert_string_equal(f->c.client_port_address, "127.0.0.5");
	/* Observers without participants are refused. */
	load_err(f, "dataDir=data\nserver.1=127.0.0.1:2888:3888:observer\n", "observers without participants");
}

/* clientPort must agree with this server's ";port" when both are given. */
static void test_client_port_clash(void **state)
{
	struct fx *f = *state;

	write_myid("data", "1\n");
	load_err(f, "dataDir=data\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"
		    "server.1=127.0.0.1:2888:3888;2182\nserver.2=127.0.0.1:2889:3889;2183\n",
		 "zoo.cfg:2: clientPort 0.0.0.0:2181 differs from the client address 0.0.0.0:2182 of server.1");
	load_ok(f, "dataDir=data\nclientPort=2182\ninitLimit=5\nsyncLimit=2\n"
		   "server.1=127.0.0.1:2888:3888;2182\nserver.2=127.0.0.1:2889:3889;2183\n");
	assert_int_equal(f->c.client_port, 2182);
}

/* peerType that disagrees with the server list: the list wins, with a warning. */
static void test_peer_type(void **state)
{
	struct fx *f = *state;

	write_myid("data", "3\n");
	load_ok(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\npeerType=participant\n"
		   "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
		   "server.3=127.0.0.1:2890:3890:observer\n");
	assert_int_equal(f->c.peer_observer, 1);
	has_log(f, "peerType participant does not match server.3");
	load_ok(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\npeerType=Observer\n"
		   "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
		   "server.3=127.0.0.1:2890:3890:observer\n");
	assert_int_equal(f->c.peer_observer, 1);
}

/* dynamicConfigFile holds the server lines; the version comes from the name's hex suffix. */
static void test_dynamic_config(void **state)
{
	struct fx *f = *state;

	write_myid("data", "1\n");
	write_file("zoo.cfg.dynamic.100000000",
		   "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n"
		   "server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n"
		   "server.3=127.0.0.1:2890:3890:participant;127.0.0.1:2183\n");
	load_ok(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\n"
		   "dynamicConfigFile=zoo.cfg.dynamic.100000000\n");
	assert_int_equal(f->c.nservers, 3);
	assert_int_equal(f->c.config_version, 0x100000000LL);
	assert_int_equal(f->c.client_port, 2181);
	assert_string_equal(f->c.client_port_address, "127.0.0.1");
	assert_string_equal(f->c.dynamic_config_file, "zoo.cfg.dynamic.100000000");
	load_err(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:1:2\n"
		    "dynamicConfigFile=zoo.cfg.dynamic.100000000\n",
		 "zoo.cfg:4: server.1: must be in the dynamic config file");
	write_file("zoo.cfg.dynamic", "server.1=127.0.0.1:2888:3888\nversion=1\n");
	load_err(f, "dataDir=data\ndynamicConfigFile=zoo.cfg.dynamic\n",
		 "zoo.cfg.dynamic:2: version: a dynamic file must not hold version=");
	write_file("zoo.cfg.dynamic", "server.1=127.0.0.1:2888\n");
	load_err(f, "dataDir=data\ndynamicConfigFile=zoo.cfg.dynamic\n", "zoo.cfg.dynamic:1: server.1:");
	load_err(f, "dataDir=data\ndynamicConfigFile=nope\n", "nope: cannot read dynamicConfigFile");
}

/* -D words of SERVER_JVMFLAGS and JVMFLAGS set the system-property settings. */
static void test_environment(void **state)
{
	struct fx *f = *state;

	setenv("SERVER_JVMFLAGS",
	       "-Xmx512m -Dzookeeper.extendedTypesEnabled=true -Djute.maxbuffer=4194304 "
	       "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= "
	       "-Dreadonlymode.enabled=true -Dzookeeper.skipACL=yes -Dzookeeper.snapCount=5000 "
	       "-Dzookeeper.preAllocSize=1024 -Dzookeeper.forceSync=no "
	       "-Dzookeeper.emulate353TTLNodes=TRUE -Dznode.container.checkIntervalMs=1000 "
	       "-Dzookeeper.4lw.commands.whitelist=* -Dlog4j.configuration=x -DsnapCount=7", 1);
	setenv("JVMFLAGS", "-Djute.maxbuffer=2097152", 1);
	load_ok(f, "dataDir=/d\n");
	assert_int_equal(f->c.extended_types, 1);
	assert_int_equal(f->c.emulate353_ttl_nodes, 1);
	/* JVMFLAGS comes after SERVER_JVMFLAGS on the java command line. */
	assert_int_equal(f->c.jute_maxbuffer, 2097152);
	assert_string_equal(f->c.super_digest, "super:abc=");
	assert_int_equal(f->c.readonly_mode, 1);
	assert_int_equal(f->c.skip_acl, 1);
	/* -DsnapCount is not a property Apache reads: only zookeeper.snapCount counts. */
	assert_int_equal(f->c.snap_count, 5000);
	assert_int_equal(f->c.prealloc_kb, 1024);
	assert_int_equal(f->c.force_sync, 0);
	assert_int_equal(f->c.container_check_ms, 1000);
	assert_string_equal(f->c.fourlw_whitelist, "*");
	assert_true(config_4lw_enabled(&f->c, "mntr"));
}

/* zoo.cfg wins over the environment. */
static void test_file_wins_over_environment(void **state)
{
	struct fx *f = *state;

	setenv("SERVER_JVMFLAGS", "-Dzookeeper.snapCount=5000 -Dzookeeper.4lw.commands.whitelist=*", 1);
	setenv("JVMFLAGS", "-Djute.maxbuffer=4194304 -Dzookeeper.extendedTypesEnabled=true", 1);
	load_ok(f, "dataDir=/d\nsnapCount=200\n4lw.commands.whitelist=ruok\n"
		   "jute.maxbuffer=1000\nzookeeper.extendedTypesEnabled=false\n");
	assert_int_equal(f->c.snap_count, 200);
	assert_string_equal(f->c.fourlw_whitelist, "ruok");
	assert_int_equal(f->c.jute_maxbuffer, 1000);
	assert_int_equal(f->c.extended_types, 0);
}

/* Property settings in zoo.cfg work with or without "zookeeper.", read as Java reads them. */
static void test_properties_in_file(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nclientPort=2181\nzookeeper.snapCount=1000\nextendedTypesEnabled=true\n"
		   "skipACL=yes\nzookeeper.forceSync=no\npreAllocSize=2048\nsnapSizeLimitInKb=-1\n"
		   "readonlymode.enabled=true\nzookeeper.jute.maxbuffer=3000000\n"
		   "DigestAuthenticationProvider.superDigest=super:xyz\n"
		   "globalOutstandingLimit=50\nemulate353TTLNodes=true\n");
	assert_int_equal(f->c.snap_count, 1000);
	assert_int_equal(f->c.extended_types, 1);
	assert_int_equal(f->c.skip_acl, 1);
	assert_int_equal(f->c.force_sync, 0);
	assert_int_equal(f->c.prealloc_kb, 2048);
	assert_int_equal(f->c.snap_size_kb, -1);
	assert_int_equal(f->c.readonly_mode, 1);
	assert_int_equal(f->c.jute_maxbuffer, 3000000);
	assert_string_equal(f->c.super_digest, "super:xyz");
	assert_int_equal(f->c.global_outstanding_limit, 50);
	assert_int_equal(f->c.emulate353_ttl_nodes, 1);
	assert_string_equal(f->logs, "");
}

/* Bad property values are warnings that keep the default (Java's Integer.getInteger). */
static void test_lenient_properties(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nsnapCount=lots\nskipACL=true\nforceSync=off\nextendedTypesEnabled=1\n"
		   "zookeeper.snapCount=1\n");
	/* snapCount: the later zookeeper.snapCount=1 is a different key; raised to 2. */
	assert_int_equal(f->c.snap_count, 2);
	assert_int_equal(f->c.skip_acl, 0);
	assert_int_equal(f->c.force_sync, 1);
	assert_int_equal(f->c.extended_types, 0);
	has_log(f, "zoo.cfg:2: snapCount: 'lots' is not a number; keeping the default");
	has_log(f, "zoo.cfg:3: skipACL: 'true' is neither yes nor no");
	has_log(f, "zoo.cfg:4: forceSync: 'off' is neither yes nor no");
	has_log(f, "zoo.cfg:6: snapCount: 1 is too small; using 2");
	setenv("JVMFLAGS", "-Djute.maxbuffer=big", 1);
	load_ok(f, "dataDir=/d\n");
	assert_int_equal(f->c.jute_maxbuffer, 0xFFFFF);
	has_log(f, "JVMFLAGS: jute.maxbuffer: 'big' is not a number");
}

/* Unknown keys warn; JVM-only keys are logged as ignored; neither is fatal. */
static void test_unknown_and_jvm_keys(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\nfrobnicate=3\n"
		   "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
		   "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
		   "admin.enableServer=false\nadmin.serverPort=8081\n"
		   "ssl.keyStore.location=/k.jks\nmetricsProvider.className=x.Y\n"
		   "metricsProvider.httpPort=7000\nzookeeper.ssl.trustStore.location=/t.jks\n"
		   "fsync.warningthresholdms=100\nsslQuorum=false\nquorum.auth.enableSasl=true\n");
	has_log(f, "WARN  zoo.cfg:2: unknown key 'frobnicate'; ignored");
	has_log(f, "zoo.cfg:3: serverCnxnFactory only configures Apache ZooKeeper's JVM; ignored");
	has_log(f, "zoo.cfg:4: authProvider.1 only configures");
	has_log(f, "zoo.cfg:5: admin.enableServer only configures");
	has_log(f, "zoo.cfg:7: ssl.keyStore.location only configures");
	has_log(f, "zoo.cfg:8: metricsProvider.className only configures");
	has_log(f, "zoo.cfg:10: zookeeper.ssl.trustStore.location only configures");
	has_log(f, "zoo.cfg:11: fsync.warningthresholdms is not used by zkensemble");
	has_log(f, "zoo.cfg:13: quorum.auth.enableSasl=true is not supported");
	assert_null(strstr(f->logs, "unknown key 'admin"));
}

/* 4lw whitelist: only srvr by default, entries trimmed, "*" for every known word, isro
 * with read-only mode, names matched exactly. */
static void test_4lw_whitelist(void **state)
{
	struct zk_config c;

	(void)state;
	config_defaults(&c);
	assert_true(config_4lw_enabled(&c, "srvr"));
	assert_false(config_4lw_enabled(&c, "ruok"));
	assert_false(config_4lw_enabled(&c, "isro"));
	c.readonly_mode = 1;
	assert_true(config_4lw_enabled(&c, "isro"));
	c.readonly_mode = 0;
	strcpy(c.fourlw_whitelist, " ruok , stat,,conf ");
	assert_true(config_4lw_enabled(&c, "ruok"));
	assert_true(config_4lw_enabled(&c, "stat"));
	assert_true(config_4lw_enabled(&c, "conf"));
	assert_true(config_4lw_enabled(&c, "srvr"));
	assert_false(config_4lw_enabled(&c, "mntr"));
	assert_false(config_4lw_enabled(&c, "RUOK"));
	assert_false(config_4lw_enabled(&c, "ruo"));
	assert_false(config_4lw_enabled(&c, ""));
	strcpy(c.fourlw_whitelist, "ruok, * ");
	assert_true(config_4lw_enabled(&c, "mntr"));
	assert_true(config_4lw_enabled(&c, "wchp"));
	assert_true(config_4lw_enabled(&c, "isro"));
	assert_false(config_4lw_enabled(&c, "abcd"));
	assert_false(config_4lw_enabled(&c, "telnet close"));
}

/* The whitelist set in zoo.cfg reaches config_4lw_enabled. */
static void test_4lw_from_file(void **state)
{
	struct fx *f = *state;

	load_ok(f, "dataDir=/d\n4lw.commands.whitelist=mntr, ruok\n");
	assert_true(config_4lw_enabled(&f->c, "mntr"));
	assert_true(config_4lw_enabled(&f->c, "ruok"));
	assert_false(config_4lw_enabled(&f->c, "stat"));
}

/* extendedTypesEnabled limits the server id to 254. */
static void test_extended_types_myid(void **state)
{
	struct fx *f = *state;

	write_myid("data", "255\n");
	load_err(f, "dataDir=data\ninitLimit=5\nsyncLimit=2\nextendedTypesEnabled=true\n"
		    "server.255=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
		 "extendedTypesEnabled needs a server id of at most 254");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debian_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_separators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_continuation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes_and_newlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_duplicate_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_autopurge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_log_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_line_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quorum_requirements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_server_standalone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_port_clash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_wins_over_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_properties_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lenient_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_jvm_keys, setup, teardown),
		cmocka_unit_test(test_4lw_whitelist),
		cmocka_unit_test_setup_teardown(test_4lw_from_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extended_types_myid, setup, teardown),
	};

	log_set_level(LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
