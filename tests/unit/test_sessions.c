/* Unit tests for ensemble/sessions.c: ids, Java's password, tick-bucket expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_vector),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_expiry_bucket),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
