/*
 * zkload: a load generator on Apache's own C client (libzookeeper_mt), so both servers are
 * measured by the same independent client.
 *
 *   zkload write HOST:PORT CLIENTS SECONDS PREFIX   N sessions, each a synchronous create
 *                                                   loop of 100-byte znodes; prints
 *                                                   "creates=<n> secs=<s> rate=<n/s> p50_us=.. p99_us=.."
 *   zkload fill HOST:PORT COUNT PREFIX              COUNT 100-byte znodes under PREFIX,
 *                                                   pipelined (async) on one session
 *   zkload count HOST:PORT PATH                     prints the child count of PATH
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define THREADED 1
#include <zookeeper/zookeeper.h>

static const char *hosts;
static double deadline;
static const char *prefix;
static char payload[100];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static zhandle_t *connect_wait(void)
{
	zhandle_t *zh = zookeeper_init(hosts, NULL, 30000, NULL, NULL, 0);
	int i;

	for (i = 0; zh && i < 1000 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
		usleep(10000);
	if (!zh || zoo_state(zh) != ZOO_CONNECTED_STATE) {
		fprintf(stderr, "zkload: cannot connect to %s\n", hosts);
		exit(1);
	}
	return zh;
}

struct worker {
	pthread_t th;
	int id;
	long n;
	double *lat;
	long cap;
};

static void *write_loop(void *arg)
{
	struct worker *w = arg;
	zhandle_t *zh = connect_wait();
	char path[256];

	while (now() < deadline) {
		double t0 = now();
		int rc;

		snprintf(path, sizeof(path), "%s/c%d-%ld", prefix, w->id, w->n);
		rc = zoo_create(zh, path, payload, sizeof(payload), &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
		if (rc != ZOK) {
			fprintf(stderr, "zkload: create %s: %s\n", path, zerror(rc));
			exit(1);
		}
		if (w->n < w->cap)
			w->lat[w->n] = now() - t0;
		w->n++;
	}
	zookeeper_close(zh);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_write(int clients, double secs)
{
	struct worker *w = calloc((size_t)clients, sizeof(*w));
	double *all, t0;
	long total = 0, k = 0;
	int i;
	zhandle_t *zh = connect_wait();

	zoo_create(zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	zookeeper_close(zh);
	t0 = now();
	deadline = t0 + secs;
	for (i = 0; i < clients; i++) {
		w[i].id = i;
		w[i].cap = 1000000;
		w[i].lat = malloc(sizeof(double) * (size_t)w[i].cap);
		pthread_create(&w[i].th, NULL, write_loop, &w[i]);
	}
	for (i = 0; i < clients; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
	}
	secs = now() - t0;
	all = malloc(sizeof(double) * (size_t)(total ? total : 1));
	for (i = 0; i < clients; i++) {
		long j;

		for (j = 0; j < w[i].n && j < w[i].cap; j++)
			all[k++] = w[i].lat[j];
	}
	qsort(all, (size_t)k, sizeof(double), cmp_d);
	printf("creates=%ld secs=%.2f rate=%.0f p50_us=%.0f p99_us=%.0f\n", total, secs,
	       (double)total / secs, k ? all[k / 2] * 1e6 : 0, k ? all[k * 99 / 100] * 1e6 : 0);
	return 0;
}

static volatile long done_count, err_count;

static void create_done(int rc, const char *value, const void *data)
{
	(void)value;
	(void)data;
	if (rc != ZOK && rc != ZNODEEXISTS)
		__sync_fetch_and_add(&err_count, 1);
	__sync_fetch_and_add(&done_count, 1);
}

static int cmd_fill(long count)
{
	zhandle_t *zh = connect_wait();
	char path[256];
	long i;

	zoo_create(zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/n%07ld", prefix, i);
		while (i - done_count > 2000)
			usleep(200);
		if (zoo_acreate(zh, path, payload, sizeof(payload), &ZOO_OPEN_ACL_UNSAFE, 0,
				create_done, NULL) != ZOK)
			__sync_fetch_and_add(&err_count, 1), __sync_fetch_and_add(&done_count, 1);
	}
	while (done_count < count)
		usleep(1000);
	zookeeper_close(zh);
	if (err_count) {
		fprintf(stderr, "zkload: %ld creates failed\n", err_count);
		return 1;
	}
	return 0;
}

static int cmd_count(const char *path)
{
	zhandle_t *zh = connect_wait();
	struct Stat st;
	int rc = zoo_exists(zh, path, 0, &st);

	if (rc != ZOK) {
		fprintf(stderr, "zkload: exists %s: %s\n", path, zerror(rc));
		return 1;
	}
	printf("%d\n", st.numChildren);
	zookeeper_close(zh);
	return 0;
}

int main(int argc, char **argv)
{
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	memset(payload, 'x', sizeof(payload));
	if (argc < 3)
		goto usage;
	hosts = argv[2];
	if (!strcmp(argv[1], "write") && argc == 6) {
		prefix = argv[5];
		return cmd_write(atoi(argv[3]), atof(argv[4]));
	}
	if (!strcmp(argv[1], "fill") && argc == 5) {
		prefix = argv[4];
		return cmd_fill(atol(argv[3]));
	}
	if (!strcmp(argv[1], "count") && argc == 4)
		return cmd_count(argv[3]);
usage:
	fprintf(stderr, "usage: zkload write HOST:PORT CLIENTS SECONDS PREFIX\n"
			"       zkload fill HOST:PORT COUNT PREFIX\n"
			"       zkload count HOST:PORT PATH\n");
	return 2;
}
