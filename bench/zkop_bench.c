/*
 * zkop_bench: the C-client side of bench/zkfs.sh, on Apache's own C client (libzookeeper_mt).
 *
 *   zkop_bench create HOST:PORT N PREFIX        N synchronous creates of "x\n" at PREFIX/fNNNN
 *   zkop_bench set HOST:PORT N PREFIX           N synchronous setData("x\n") on the same nodes
 *       both print "ops=<n> secs=<s> per_op_us=<us>"
 *   zkop_bench inotify HOST:PORT N ZNODE FILE   N samples: setData(ZNODE) through the server,
 *       then wait for the inotify event that zkfs raises on FILE (ZNODE seen through a mount);
 *       prints "samples=<n> p50_ms=.. p99_ms=.. max_ms=.. missed=<n>", latencies measured from
 *       the set's completion (an event that came before the reply counts as 0)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>
#define THREADED 1
#include <zookeeper/zookeeper.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static zhandle_t *connect_wait(const char *hosts)
{
	zhandle_t *zh = zookeeper_init(hosts, NULL, 30000, NULL, NULL, 0);
	int i;

	for (i = 0; zh && i < 1000 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
		usleep(10000);
	if (!zh || zoo_state(zh) != ZOO_CONNECTED_STATE) {
		fprintf(stderr, "zkop_bench: cannot connect to %s\n", hosts);
		exit(1);
	}
	return zh;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_write(const char *hosts, long n, const char *prefix, int set)
{
	zhandle_t *zh = connect_wait(hosts);
	char path[256];
	double t0;
	long i;
	int rc;

	if (!set)
		zoo_create(zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%04ld", prefix, i);
		if (set)
			rc = zoo_set(zh, path, "x\n", 2, -1);
		else
			rc = zoo_create(zh, path, "x\n", 2, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
		if (rc != ZOK) {
			fprintf(stderr, "zkop_bench: %s %s: %s\n", set ? "set" : "create", path,
				zerror(rc));
			return 1;
		}
	}
	t0 = now() - t0;
	printf("ops=%ld secs=%.3f per_op_us=%.0f\n", n, t0, t0 * 1e6 / (double)n);
	zookeeper_close(zh);
	return 0;
}

/* Reads every queued event without blocking longer than ms; returns how many were read. */
static int drain(int fd, int ms)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int got = 0;

	while (poll(&p, 1, ms) > 0) {
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
		got++;
	}
	return got;
}

static int cmd_inotify(const char *hosts, long n, const char *znode, const char *file)
{
	zhandle_t *zh = connect_wait(hosts);
	double *lat = calloc((size_t)n, sizeof(double));
	char data[32], buf[4096] __attribute__((aligned(8)));
	struct pollfd p;
	long i, k = 0, missed = 0;
	int fd = inotify_init1(IN_CLOEXEC);

	if (fd < 0 || !lat) {
		fprintf(stderr, "zkop_bench: inotify_init1: %s\n", strerror(errno));
		return 1;
	}
	if (inotify_add_watch(fd, file, IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB) < 0) {
		fprintf(stderr, "zkop_bench: watch %s: %s\n", file, strerror(errno));
		return 1;
	}
	p.fd = fd;
	p.events = POLLIN;
	for (i = 0; i < n; i++) {
		double done;
		int rc;

		snprintf(data, sizeof(data), "v%ld\n", i);
		rc = zoo_set(zh, znode, data, (int)strlen(data), -1);
		done = now();
		if (rc != ZOK) {
			fprintf(stderr, "zkop_bench: set %s: %s\n", znode, zerror(rc));
			return 1;
		}
		/* bounded: a sample whose event is not there within 5 s is counted as missed */
		if (poll(&p, 1, 5000) <= 0 || read(fd, buf, sizeof(buf)) <= 0) {
			missed++;
			continue;
		}
		lat[k++] = now() - done;
		/* the rest of this change's events (MODIFY then CLOSE_WRITE) must not start the
		 * next sample's clock */
		drain(fd, 20);
	}
	qsort(lat, (size_t)k, sizeof(double), cmp_d);
	printf("samples=%ld p50_ms=%.2f p99_ms=%.2f max_ms=%.2f missed=%ld\n", k,
	       k ? lat[k / 2] * 1e3 : 0, k ? lat[k * 99 / 100] * 1e3 : 0,
	       k ? lat[k - 1] * 1e3 : 0, missed);
	close(fd);
	free(lat);
	zookeeper_close(zh);
	return missed ? 1 : 0;
}

int main(int argc, char **argv)
{
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	if (argc == 5 && !strcmp(argv[1], "create"))
		return cmd_write(argv[2], atol(argv[3]), argv[4], 0);
	if (argc == 5 && !strcmp(argv[1], "set"))
		return cmd_write(argv[2], atol(argv[3]), argv[4], 1);
	if (argc == 6 && !strcmp(argv[1], "inotify"))
		return cmd_inotify(argv[2], atol(argv[3]), argv[4], argv[5]);
	fprintf(stderr, "usage: zkop_bench create|set HOST:PORT N PREFIX\n"
			"       zkop_bench inotify HOST:PORT N ZNODE FILE\n");
	return 2;
}
