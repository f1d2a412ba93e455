/*
 * zkensemble: one ZooKeeper-compatible server.
 *
 *   zkensemble <zoo.cfg>                         run in the foreground (like QuorumPeerMain)
 *   zkensemble purge <dataDir> [<dataLogDir>] -n <count>   keep the newest count snapshots
 *   zkensemble --version
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "server_i.h"
#include "storage.h"

static struct zk_config cfg;

struct runner {
	uv_loop_t *loop;
	struct zk_server *srv;
	uv_signal_t sigint, sigterm;
	int stopping;
};

static void stopped_cb(void *ctx)
{
	struct runner *r = ctx;

	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct runner *r = h->data;

	if (r->stopping) {
		log_warn("second signal: exiting now");
		exit(1);
	}
	r->stopping = 1;
	log_info("signal %d: shutting down", signum);
	server_stop(r->srv, stopped_cb, r);
}

static void usage_to(FILE *f)
{
	fprintf(f,
		"usage: zkensemble <zoo.cfg>                     run a server (foreground)\n"
		"       zkensemble purge <dataDir> [<dataLogDir>] -n <count>\n"
		"                                                keep the newest count (>= 3)\n"
		"                                                snapshots and the logs they need\n"
		"       zkensemble --version | --help\n"
		"scripts/zkensemble.sh start|stop|status|restart [zoo.cfg] runs it as a daemon.\n");
}

static int usage(void)
{
	usage_to(stderr);
	return 2;
}

static int cmd_purge(int argc, char **argv)
{
	const char *data = NULL, *logd = NULL;
	char err[512];
	int count = -1, i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (!data)
			data = argv[i];
		else if (!logd)
			logd = argv[i];
		else
			return usage();
	}
	if (!data || count < 3) {
		fprintf(stderr, "zkensemble purge: need a dataDir and -n <count> with count >= 3\n");
		return 2;
	}
	if (storage_purge(data, logd, count, err, sizeof(err))) {
		fprintf(stderr, "zkensemble purge: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct runner r;
	char err[1024];

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("zkensemble %s\n", ZK_VERSION_STRING);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_to(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "purge"))
		return cmd_purge(argc, argv);
	if (argc != 2)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	config_defaults(&cfg);
	if (config_load(&cfg, argv[1], err, sizeof(err))) {
		log_error("invalid configuration: %s", err);
		return 2;
	}
	if (config_is_quorum(&cfg)) {
		log_error("%s: replicated mode (server.N lines for %d servers) is not supported yet;"
			  " remove the server lines to run standalone", argv[1], cfg.nservers);
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.loop = uv_default_loop();
	if (server_new(r.loop, &cfg, &r.srv, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		return 1;
	}
	if (server_start(r.srv, err, sizeof(err))) {
		log_error("cannot start: %s", err);
		server_free(r.srv);
		return 1;
	}
	uv_signal_init(r.loop, &r.sigint);
	uv_signal_init(r.loop, &r.sigterm);
	r.sigint.data = &r;
	r.sigterm.data = &r;
	uv_signal_start(&r.sigint, signal_cb, SIGINT);
	uv_signal_start(&r.sigterm, signal_cb, SIGTERM);
	uv_run(r.loop, UV_RUN_DEFAULT);
	server_free(r.srv);
	uv_loop_close(r.loop);
	log_info("stopped");
	return 0;
}
