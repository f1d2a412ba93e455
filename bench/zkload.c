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
 *   zkload lean HOST:PORT CLIENTS SECONDS PREFIX    as write, but the N sessions are raw
 *                                                   protocol connections driven by one
 *                                                   epoll thread (see cmd_lean)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define THREADED 1
#include <zookeeper/zookeeper.h>

#include "clock.h"

static const char *hosts;
static double deadline;
static const char *prefix;
static char payload[100];

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
	double *all, t0, c0;
	long total = 0, k = 0;
	int i;
	zhandle_t *zh = connect_wait();

	zoo_create(zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	zookeeper_close(zh);
	t0 = now();
	c0 = cpu_secs();
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
	printf("creates=%ld secs=%.2f rate=%.0f p50_us=%.0f p99_us=%.0f client_cpu_us=%.0f\n",
	       total, secs, (double)total / secs, k ? all[k / 2] * 1e6 : 0,
	       k ? all[k * 99 / 100] * 1e6 : 0, total ? (cpu_secs() - c0) * 1e6 / (double)total : 0);
	return 0;
}

/*
 * The lean client. Apache's multi-threaded C client spends ~120 µs of CPU per synchronous
 * call here (three thread hand-offs, a self-pipe wake-up), so with 32 sessions on a 2-core
 * machine the client, not the server, sets the pace and every server looks the same. This
 * mode speaks the wire protocol directly: one thread, one epoll set, each session a socket
 * with exactly one create outstanding, as a synchronous client would have. It checks every
 * reply's xid and error code; it does not ping (a point lasts far less than the 30 s
 * session timeout and every request resets it).
 */
struct lconn {
	int fd;
	int id;
	int32_t xid;
	long n;
	double t0;
	unsigned char in[512];
	size_t inlen;
};

static void put32(unsigned char **p, uint32_t v)
{
	uint32_t be = htonl(v);

	memcpy(*p, &be, 4);
	*p += 4;
}

static void put64(unsigned char **p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p, (uint32_t)v);
}

static void put_str(unsigned char **p, const char *s, size_t n)
{
	put32(p, (uint32_t)n);
	memcpy(*p, s, n);
	*p += n;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t be;

	memcpy(&be, p, 4);
	return ntohl(be);
}

static void write_all(int fd, const void *b, size_t n)
{
	const char *p = b;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("zkload: write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, void *b, size_t n)
{
	char *p = b;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "zkload: connection closed during handshake\n");
			exit(1);
		}
		p += r;
		n -= (size_t)r;
	}
}

static int lean_connect(void)
{
	char host[256];
	const char *colon = strrchr(hosts, ':');
	struct sockaddr_in sa;
	unsigned char req[64], *p = req + 4, resp[4 + 64];
	int fd, one = 1;

	if (!colon || (size_t)(colon - hosts) >= sizeof(host)) {
		fprintf(stderr, "zkload: lean mode needs one HOST:PORT\n");
		exit(2);
	}
	memcpy(host, hosts, (size_t)(colon - hosts));
	host[colon - hosts] = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "zkload: lean mode needs a numeric IPv4 host\n");
		exit(2);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("zkload: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly */
	put32(&p, 0);
	put64(&p, 0);
	put32(&p, 30000);
	put64(&p, 0);
	put_str(&p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	*p++ = 0;
	p = req;
	put32(&p, 45);
	write_all(fd, req, 49);
	read_all(fd, resp, 4);
	if (get32(resp) < 16 || get32(resp) > 64) {
		fprintf(stderr, "zkload: unexpected ConnectResponse length %u\n", get32(resp));
		exit(1);
	}
	read_all(fd, resp + 4, get32(resp));
	if (get32(resp + 8) == 0) {
		fprintf(stderr, "zkload: session refused by %s\n", hosts);
		exit(1);
	}
	return fd;
}

static void lean_send(struct lconn *c)
{
	unsigned char req[512], *p = req + 4;
	char path[256];
	int n = snprintf(path, sizeof(path), "%s/c%d-%ld", prefix, c->id, c->n);

	put32(&p, (uint32_t)++c->xid);
	put32(&p, 1);				/* create */
	put_str(&p, path, (size_t)n);
	put_str(&p, payload, sizeof(payload));
	put32(&p, 1);				/* one ACL: world:anyone, all perms */
	put32(&p, 31);
	put_str(&p, "world", 5);
	put_str(&p, "anyone", 6);
	put32(&p, 0);				/* persistent */
	n = (int)(p - req);
	p = req;
	put32(&p, (uint32_t)(n - 4));
	c->t0 = now();
	write_all(c->fd, req, (size_t)n);
}

static int cmd_lean(int clients, double secs)
{
	struct lconn *cs = calloc((size_t)clients, sizeof(*cs));
	long cap = 4000000, k = 0, total = 0, outstanding = 0;
	double *lat = malloc(sizeof(double) * (size_t)cap), t0, c0, deadline_l;
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(0), i;
	zhandle_t *zh = connect_wait();

	zoo_create(zh, prefix, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	zookeeper_close(zh);
	for (i = 0; i < clients; i++) {
		cs[i].fd = lean_connect();
		cs[i].id = i;
		ev.events = EPOLLIN;
		ev.data.ptr = &cs[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	t0 = now();
	c0 = cpu_secs();
	deadline_l = t0 + secs;
	for (i = 0; i < clients; i++, outstanding++)
		lean_send(&cs[i]);
	while (outstanding) {
		int n = epoll_wait(ep, evs, 64, 1000), j;

		if (n < 0 && errno == EINTR)
			continue;
		for (j = 0; j < n; j++) {
			struct lconn *c = evs[j].data.ptr;
			ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
			uint32_t len;

			if (r <= 0) {
				fprintf(stderr, "zkload: server closed a session\n");
				exit(1);
			}
			c->inlen += (size_t)r;
			if (c->inlen < 4 || c->inlen < 4 + (len = get32(c->in)))
				continue;
			/* One request outstanding: the reply is the whole buffer. */
			if (len < 16 || c->inlen != 4 + len || (int32_t)get32(c->in + 4) != c->xid) {
				fprintf(stderr, "zkload: unexpected reply (len %u, xid %d)\n", len,
					(int)get32(c->in + 4));
				exit(1);
			}
			if (get32(c->in + 16)) {
				fprintf(stderr, "zkload: create failed with error %d\n",
					(int)get32(c->in + 16));
				exit(1);
			}
			if (k < cap)
				lat[k++] = now() - c->t0;
			c->n++;
			total++;
			c->inlen = 0;
			if (now() < deadline_l)
				lean_send(c);
			else
				outstanding--;
		}
	}
	secs = now() - t0;
	for (i = 0; i < clients; i++)
		close(cs[i].fd);
	qsort(lat, (size_t)k, sizeof(double), cmp_d);
	printf("creates=%ld secs=%.2f rate=%.0f p50_us=%.0f p99_us=%.0f client_cpu_us=%.0f\n",
	       total, secs, (double)total / secs, k ? lat[k / 2] * 1e6 : 0,
	       k ? lat[k * 99 / 100] * 1e6 : 0, total ? (cpu_secs() - c0) * 1e6 / (double)total : 0);
	free(lat);
	free(cs);
	close(ep);
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
	if (!strcmp(argv[1], "lean") && argc == 6) {
		prefix = argv[5];
		return cmd_lean(atoi(argv[3]), atof(argv[4]));
	}
	if (!strcmp(argv[1], "fill") && argc == 5) {
		prefix = argv[4];
		return cmd_fill(atol(argv[3]));
	}
	if (!strcmp(argv[1], "count") && argc == 4)
		return cmd_count(argv[3]);
usage:
	fprintf(stderr, "usage: zkload write HOST:PORT CLIENTS SECONDS PREFIX\n"
			"       zkload lean HOST:PORT CLIENTS SECONDS PREFIX\n"
			"       zkload fill HOST:PORT COUNT PREFIX\n"
			"       zkload count HOST:PORT PATH\n");
	return 2;
}
