/* Unit tests for ensemble/sessions.c: ids, Java's password, tick-bucket expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sessions.h"
#include "zkproto.h"

/* The password is java.util.Random(id ^ 0xB3415C00).nextBytes(16) (JVM test vector). */
static void test_password_vector(void **state)
{
	static const uint8_t want[16] = { 0x06, 0x75, 0x19, 0xbe, 0x1b, 0x69, 0x17, 0xb2,
					  0x54, 0xce, 0x4a, 0xd3, 0x5c, 0x9a, 0x4b, 0xcf };
	uint8_t pw[16];

	sessions_password(0x0100007f4e3c0000LL, pw);
	assert_memory_equal(pw, want, 16);
}

/* Ids carry the server id in the top byte and increase by one. */
static void test_ids(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	int64_t a = sessions_next_id(s), b = sessions_next_id(s);

	assert_int_equal((uint64_t)a >> 56, 1);
	assert_int_equal(b, a + 1);
	sessions_free(s);
}

/* A session touched at t expires at ((t + timeout) / tick + 1) * tick, not before. */
static void test_expiry_bucket(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	int64_t out[4];

	sessions_add(s, 42, 4000, 1000);	/* (5000/2000 + 1) * 2000 = 6000 */
	assert_int_equal(sessions_next_deadline(s), 6000);
	assert_int_equal(sessions_expire(s, 5999, out, 4), 0);
	sessions_touch(s, 42, 3000);		/* (7000/2000 + 1) * 2000 = 8000 */
	assert_int_equal(sessions_expire(s, 6000, out, 4), 0);
	assert_int_equal(sessions_expire(s, 8000, out, 4), 1);
	assert_int_equal(out[0], 42);
	/* expired = closing: no touch, no re-attach, still known until removed */
	assert_int_equal(sessions_touch(s, 42, 8000), ZSESSIONEXPIRED);
	assert_false(sessions_exists(s, 42));
	assert_int_equal(sessions_timeout(s, 42), 4000);
	sessions_remove(s, 42);
	assert_int_equal(sessions_count(s), 0);
	assert_int_equal(sessions_next_deadline(s), -1);
	sessions_free(s);
}

static void count_cb(void *ctx, int64_t id, int32_t timeout)
{
	(*(int *)ctx)++;
}

/* Many sessions: the table grows, foreach sees each once, the dump lists buckets. */
static void test_many(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int i, n = 0;

	for (i = 0; i < 5000; i++)
		assert_int_equal(sessions_add(s, 1000 + i, 4000 + (i % 3) * 2000, 0), 0);
	assert_int_equal(sessions_count(s), 5000);
	sessions_foreach(s, count_cb, &n);
	assert_int_equal(n, 5000);
	f = open_memstream(&text, &len);
	sessions_dump(s, 0, f);
	fclose(f);
	assert_non_null(strstr(text, "Session Sets (3)/(5000):\n"));
	free(text);
	sessions_free(s);
}

static char *dump(const struct zk_sessions *s, int64_t wall_offset)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	sessions_dump(s, wall_offset, f);
	fclose(f);
	return text;
}

/* The dump is ExpiryQueue.dump: a bucket emptied by a touch stays listed ("0 expire at")
 * until its time passes, dates are Java's Date.toString, ids 0x-hex. */
static void test_dump_format(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	/* bucket 6000 shows as the wall time 2026-11-23 08:14:04 UTC */
	int64_t off = 1795421644000LL - 6000;
	char *t;

	setenv("TZ", "UTC", 1);
	tzset();
	sessions_add(s, 0x2a, 4000, 1000);		/* bucket 6000 */
	sessions_touch(s, 0x2a, 3000);			/* bucket 8000, 6000 left empty */
	assert_int_equal(sessions_next_deadline(s), 8000);
	t = dump(s, off);
	assert_string_equal(t, "Session Sets (2)/(1):\n"
			       "0 expire at Mon Nov 23 08:14:04 UTC 2026:\n"
			       "1 expire at Mon Nov 23 08:14:06 UTC 2026:\n"
			       "\t0x2a\n");
	free(t);
	/* the empty bucket goes once its time has passed */
	assert_int_equal(sessions_expire(s, 6000, NULL, 0), 0);
	t = dump(s, off);
	assert_string_equal(t, "Session Sets (1)/(1):\n"
			       "1 expire at Mon Nov 23 08:14:06 UTC 2026:\n"
			       "\t0x2a\n");
	free(t);
	sessions_free(s);
}

/* A closing session stays in its bucket and in the count (as Apache's) but is not
 * reported again when the bucket falls due; sessions_add revives it. */
static void test_closing(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	int64_t out[4];
	char *t;
	int n = 0;

	sessions_add(s, 7, 4000, 0);			/* bucket 6000 */
	sessions_set_closing(s, 7);
	assert_false(sessions_exists(s, 7));
	assert_int_equal(sessions_touch(s, 7, 100), ZSESSIONEXPIRED);
	t = dump(s, 0);
	assert_non_null(strstr(t, "Session Sets (1)/(1):\n1 expire at "));
	free(t);
	assert_int_equal(sessions_expire(s, 6000, out, 4), 0);
	t = dump(s, 0);
	assert_string_equal(t, "Session Sets (0)/(1):\n");
	free(t);
	sessions_foreach(s, count_cb, &n);
	assert_int_equal(n, 1);
	/* re-added (a failed closeSession write): live again with a fresh deadline */
	assert_int_equal(sessions_add(s, 7, 4000, 6000), 0);
	assert_true(sessions_exists(s, 7));
	assert_int_equal(sessions_next_deadline(s), 12000);
	sessions_remove(s, 7);
	assert_int_equal(sessions_count(s), 0);
	assert_int_equal(sessions_touch(s, 7, 0), ZSESSIONEXPIRED);
	assert_int_equal(sessions_timeout(s, 7), -1);
	sessions_free(s);
}

/* An expiry pass hands out at most max ids and continues where it stopped next time. */
static void test_expire_max(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	int64_t out[2];
	int i, total = 0, n;

	for (i = 0; i < 5; i++)
		sessions_add(s, 100 + i, 4000, 0);
	while ((n = sessions_expire(s, 6000, out, 2)) > 0) {
		assert_true(n <= 2);
		total += n;
	}
	assert_int_equal(total, 5);
	for (i = 0; i < 5; i++)
		assert_false(sessions_exists(s, 100 + i));
	assert_int_equal(sessions_count(s), 5);
	sessions_free(s);
}

/* A fresh id is (serverId << 56) | (low 40 bits of a ms clock) << 16, counting up: the
 * first of a tracker has zeros in its low 16 bits. */
static void test_id_layout(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 5, 0);
	int64_t id = sessions_next_id(s);
	uint64_t ms = ((uint64_t)id >> 16) & 0xFFFFFFFFFFULL;
	uint64_t wall = (uint64_t)time(NULL) * 1000 & 0xFFFFFFFFFFULL;

	assert_int_equal((uint64_t)id >> 56, 5);
	assert_int_equal(id & 0xFFFF, 0);
	assert_true(ms + 5000 > wall && ms < wall + 5000);
	assert_int_equal(sessions_next_id(s), id + 1);
	sessions_free(s);
}

/* 20,000 sessions touched every 10 ms over a minute: buckets stay few, expiry is exact. */
static void test_many_touches(void **state)
{
	struct zk_sessions *s = sessions_new(2000, 1, 0);
	int64_t out[64], now;
	int i, n;

	for (i = 0; i < 20000; i++)
		sessions_add(s, 1 + i, 6000, 0);
	for (now = 0; now <= 60000; now += 10) {
		for (i = 0; i < 200; i++)
			assert_int_equal(sessions_touch(s, 1 + (int)((now / 10 * 200 + i) % 20000), now), 0);
		assert_int_equal(sessions_expire(s, now, out, 64), 0);
	}
	/* nobody is touched any more: all expire at the latest 6000 + 2000 after 60000 */
	n = 0;
	for (now = 60000; now <= 68000; now += 10) {
		int k;

		while ((k = sessions_expire(s, now, out, 64)) > 0)
			n += k;
	}
	assert_int_equal(n, 20000);
	sessions_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_vector),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_expiry_bucket),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_dump_format),
		cmocka_unit_test(test_closing),
		cmocka_unit_test(test_expire_max),
		cmocka_unit_test(test_id_layout),
		cmocka_unit_test(test_many_touches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
