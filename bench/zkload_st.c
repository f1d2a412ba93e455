/*
 * zkload_st: N sessions of Apache's *single-threaded* C client (libzookeeper_st, Debian's
 * libzookeeper-st2) driven from one poll loop, each keeping one asynchronous create of a
 * 100-byte znode outstanding, as an event-driven application would use the library.
 *
 *   zkload_st HOST:PORT CLIENTS SECONDS PREFIX
 *     prints "creates=<n> secs=<s> rate=<n/s> p50_us=.. p99_us=.. client_cpu_us=.."
 *
 * Why a second C-client driver: zkload's `write` mode (libzookeeper_mt, one thread per
 * session calling zoo_create) spends ~120 us of client CPU per create in thread hand-offs
 * (caller -> I/O thread -> completion thread -> caller), so on a 2-core machine it cannot
 * drive any server past ~15k creates/s. The single-threaded library does the same protocol
 * work with none of those hand-offs, so with it the servers set the pace.
 *
 * Built against libzookeeper_st.so.2 by path: Debian's libzookeeper-st-dev conflicts with
 * libzookeeper-mt-dev (the tests need the latter), and the header is the same file; without
 * THREADED it declares the single-threaded API.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "clock.h"

struct sess {
	zhandle_t *zh;
	int id;
	int connected;
	int busy;		/* a create is outstanding */
	long n;
	double t0;		/* when the outstanding create was sent */
};

static const char *prefix;
static char payload[100];
static double deadline;
static double *lat;
static long nlat, cap_lat;
static long total;
static int failed;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct sess *s = (struct sess *)zoo_get_context(zh);

	if (!s || type != ZOO_SESSION_EVENT)
		return;
	if (state == ZOO_CONNECTED_STATE)
		s->connected = 1;
	else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
		failed = 1;
}

static void send_next(struct sess *s);

static void created(int rc, const char *value, const void *data)
{
	struct sess *s = (struct sess *)data;
	double t = now();

	s->busy = 0;
	if (rc != ZOK) {
		fprintf(stderr, "zkload_st: create failed: %s\n", zerror(rc));
		failed = 1;
		return;
	}
	if (nlat < cap_lat)
		lat[nlat++] = t - s->t0;
	s->n++;
	total++;
	if (t < deadline)
		send_next(s);
}

static void send_next(struct sess *s)
{
	char path[256];
	int rc;

	snprintf(path, sizeof(path), "%s/s%d-%ld", prefix, s->id, s->n);
	s->t0 = now();
	rc = zoo_acreate(s->zh, path, payload, sizeof(payload), &ZOO_OPEN_ACL_UNSAFE, 0,
			 created, s);
	if (rc != ZOK) {
		fprintf(stderr, "zkload_st: acreate %s: %s\n", path, zerror(rc));
		failed = 1;
		return;
	}
	s->busy = 1;
}

static void parent_created(int rc, const char *value, const void *data)
{
	*(int *)data = rc == ZOK || rc == ZNODEEXISTS ? 1 : -1;
}

/* One round of the event loop over every handle: poll, then let the library work. */
static int pump(struct sess *v, int n, int max_ms)
{
	struct pollfd pfd[1024];
	int i, rc, timeout = max_ms;

	for (i = 0; i < n; i++) {
		int fd = -1, interest = 0;
		struct timeval tv = { 0, 0 };

		rc = zookeeper_interest(v[i].zh, &fd, &interest, &tv);
		if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) {
			fprintf(stderr, "zkload_st: zookeeper_interest: %s\n", zerror(rc));
			return -1;
		}
		pfd[i].fd = fd;
		pfd[i].events = (short)((interest & ZOOKEEPER_READ ? POLLIN : 0) |
					(interest & ZOOKEEPER_WRITE ? POLLOUT : 0));
		pfd[i].revents = 0;
		if (tv.tv_sec * 1000 + tv.tv_usec / 1000 < timeout)
			timeout = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
	}
	if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
		return -1;
	for (i = 0; i < n; i++) {
		int ev = (pfd[i].revents & (POLLIN | POLLHUP | POLLERR) ? ZOOKEEPER_READ : 0) |
			 (pfd[i].revents & POLLOUT ? ZOOKEEPER_WRITE : 0);

		/* Called even without events: the library runs its timers (pings) here. */
		zookeeper_process(v[i].zh, ev);
	}
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sess *v;
	int n, i, up, parent = 0;
	double secs, t0, c0, limit;

	if (argc != 5 || (n = atoi(argv[2])) < 1 || n > 1000 || (secs = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: zkload_st HOST:PORT CLIENTS SECONDS PREFIX\n");
		return 2;
	}
	prefix = argv[4];
	memset(payload, 'x', sizeof(payload));
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	v = calloc((size_t)n, sizeof(*v));
	cap_lat = 4000000;
	lat = malloc(sizeof(double) * (size_t)cap_lat);
	if (!v || !lat)
		return 1;
	for (i = 0; i < n; i++) {
		v[i].id = i;
		v[i].zh = zookeeper_init(argv[1], watcher, 30000, NULL, &v[i], 0);
		if (!v[i].zh) {
			fprintf(stderr, "zkload_st: zookeeper_init: %s\n", strerror(errno));
			return 1;
		}
	}
	limit = now() + 10;
	do {
		if (pump(v, n, 10) < 0 || failed)
			return 1;
		for (up = 0, i = 0; i < n; i++)
			up += v[i].connected;
	} while (up < n && now() < limit);
	if (up < n) {
		fprintf(stderr, "zkload_st: only %d of %d sessions connected to %s\n", up, n,
			argv[1]);
		return 1;
	}
	zoo_acreate(v[0].zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, parent_created, &parent);
	while (!parent && now() < limit)
		if (pump(v, n, 10) < 0)
			return 1;
	if (parent != 1) {
		fprintf(stderr, "zkload_st: cannot create %s\n", prefix);
		return 1;
	}

	t0 = now();
	c0 = cpu_secs();
	deadline = t0 + secs;
	for (i = 0; i < n; i++)
		send_next(&v[i]);
	for (;;) {
		int busy = 0;

		if (pump(v, n, 100) < 0 || failed)
			return 1;
		for (i = 0; i < n; i++)
			busy += v[i].busy;
		if (!busy && now() >= deadline)
			break;
	}
	secs = now() - t0;
	qsort(lat, (size_t)nlat, sizeof(double), cmp_d);
	printf("creates=%ld secs=%.2f rate=%.0f p50_us=%.0f p99_us=%.0f client_cpu_us=%.0f\n",
	       total, secs, (double)total / secs, nlat ? lat[nlat / 2] * 1e6 : 0,
	       nlat ? lat[nlat * 99 / 100] * 1e6 : 0,
	       total ? (cpu_secs() - c0) / (double)total * 1e6 : 0);
	for (i = 0; i < n; i++)
		zookeeper_close(v[i].zh);
	return 0;
}
