#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "checksum.h"

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n + 64);
	size_t i;

	assert_non_null(p);
	srand(seed);
	for (i = 0; i < n + 64; i++)
		p[i] = (uint8_t)rand();
	return p;
}

/* Both checksums equal zlib's for every length 0..600 at every alignment 0..15, over
 * random bytes, so the SIMD paths (64 bytes and up) and their tails are covered. */
static void test_matches_zlib_small(void **state)
{
	uint8_t *buf = random_bytes(700, 1);
	size_t len, off;

	(void)state;
	for (off = 0; off < 16; off++) {
		for (len = 0; len <= 600; len++) {
			const uint8_t *p = buf + off;

			assert_int_equal(cksum_crc32(0, p, len), (uint32_t)crc32(0, p, (uInt)len));
			assert_int_equal(cksum_adler32(1, p, len), (uint32_t)adler32(1, p, (uInt)len));
		}
	}
	free(buf);
}

/* Long inputs (Adler-32's modulo is taken every 5552 bytes), all-0xff bytes (the largest
 * sums), and a running checksum continued over several pieces. */
static void test_matches_zlib_large_and_chained(void **state)
{
	size_t n = 3 << 20, cut1 = 100003, cut2 = 2000001;
	uint8_t *buf = random_bytes(n, 2), *ff = malloc(n);
	uint32_t c, a;

	(void)state;
	assert_non_null(ff);
	memset(ff, 0xff, n);
	assert_int_equal(cksum_crc32(0, buf, n), (uint32_t)crc32(0, buf, (uInt)n));
	assert_int_equal(cksum_adler32(1, buf, n), (uint32_t)adler32(1, buf, (uInt)n));
	assert_int_equal(cksum_adler32(1, ff, n), (uint32_t)adler32(1, ff, (uInt)n));
	assert_int_equal(cksum_crc32(0, ff, n), (uint32_t)crc32(0, ff, (uInt)n));
	c = cksum_crc32(0, buf, cut1);
	c = cksum_crc32(c, buf + cut1, cut2 - cut1);
	c = cksum_crc32(c, buf + cut2, n - cut2);
	assert_int_equal(c, (uint32_t)crc32(0, buf, (uInt)n));
	a = cksum_adler32(1, buf, cut1);
	a = cksum_adler32(a, buf + cut1, cut2 - cut1);
	a = cksum_adler32(a, buf + cut2, n - cut2);
	assert_int_equal(a, (uint32_t)adler32(1, buf, (uInt)n));
	free(buf);
	free(ff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_zlib_small),
		cmocka_unit_test(test_matches_zlib_large_and_chained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
