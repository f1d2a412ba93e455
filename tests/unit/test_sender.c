#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "sender.h"

/* ---- helpers ---------------------------------------------------------------------------- */

struct done_log {
	uv_loop_t *loop;
	struct sender_job *got[16];
	int n, want;
	int closed;
};

static void on_done(struct sender_job *j, void *arg)
{
	struct done_log *d = arg;

	assert_true(d->n < 16);
	d->got[d->n++] = j;
	if (d->n == d->want)
		uv_stop(d->loop);
}

static void on_closed(void *arg)
{
	((struct done_log *)arg)->closed = 1;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

static size_t drain(int fd, uint8_t *out, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Jobs for several sockets are written completely and handed back on the loop, each once. */
static void test_writes_and_hands_back(void **state)
{
	uv_loop_t loop;
	struct done_log d;
	struct zk_sender *s;
	struct sender_job jobs[4];
	int sv[4][2], i;
	char msg[4][32];
	uint8_t buf[64];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&d, 0, sizeof(d));
	d.loop = &loop;
	d.want = 4;
	s = sender_new(&loop, on_done, &d);
	assert_non_null(s);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 4; i++) {
		pair(sv[i]);
		snprintf(msg[i], sizeof(msg[i]), "reply for socket %d", i);
		jobs[i].fd = sv[i][0];
		jobs[i].p = (const uint8_t *)msg[i];
		jobs[i].len = strlen(msg[i]);
		sender_submit(s, &jobs[i]);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(d.n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(jobs[i].written, strlen(msg[i]));
		assert_int_equal(jobs[i].err, 0);
		assert_int_equal(drain(sv[i][1], buf, sizeof(buf)), strlen(msg[i]));
		assert_memory_equal(buf, msg[i], strlen(msg[i]));
	}
	sender_close(s, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(d.closed, 1);
	for (i = 0; i < 4; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A socket whose buffer fills is reported short (no error, no blocking): the loop finishes
 * it with uv_write; a socket whose peer is gone reports an error without a SIGPIPE. */
static void test_full_and_broken_sockets(void **state)
{
	uv_loop_t loop;
	struct done_log d;
	struct zk_sender *s;
	struct sender_job full, broken;
	int a[2], b[2];
	size_t big = 16 << 20;
	uint8_t *data = calloc(1, big);

	(void)state;
	assert_non_null(data);
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&d, 0, sizeof(d));
	d.loop = &loop;
	d.want = 2;
	s = sender_new(&loop, on_done, &d);
	assert_non_null(s);
	pair(a);
	pair(b);
	close(b[1]);
	memset(&full, 0, sizeof(full));
	full.fd = a[0];
	full.p = data;
	full.len = big;
	memset(&broken, 0, sizeof(broken));
	broken.fd = b[0];
	broken.p = data;
	broken.len = 10;
	sender_submit(s, &full);
	sender_submit(s, &broken);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(d.n, 2);
	assert_int_equal(full.err, 0);
	assert_true(full.written > 0 && full.written < big);
	assert_int_equal(broken.err, -EPIPE);
	sender_close(s, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(d.closed, 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	free(data);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* sender_close hands back jobs still in flight before the thread stops. */
static void test_close_hands_back_in_flight(void **state)
{
	uv_loop_t loop;
	struct done_log d;
	struct zk_sender *s;
	struct sender_job j;
	int sv[2];
	uint8_t buf[8];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	memset(&d, 0, sizeof(d));
	d.loop = &loop;
	d.want = -1;	/* no uv_stop: the loop below must run the close callback */
	s = sender_new(&loop, on_done, &d);
	assert_non_null(s);
	pair(sv);
	memset(&j, 0, sizeof(j));
	j.fd = sv[0];
	j.p = (const uint8_t *)"bye";
	j.len = 3;
	sender_submit(s, &j);
	sender_close(s, on_closed);	/* without running the loop in between */
	assert_int_equal(d.n, 1);
	assert_int_equal(j.written, 3);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(d.closed, 1);
	assert_int_equal(drain(sv[1], buf, sizeof(buf)), 3);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_and_hands_back),
		cmocka_unit_test(test_full_and_broken_sockets),
		cmocka_unit_test(test_close_hands_back_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
