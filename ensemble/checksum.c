/*
 * The two checksums of ZooKeeper's files, zlib-compatible, with SIMD where the CPU has it
 * (chosen at run time): Adler-32 over log records and snapshots, CRC-32 for the tree digest.
 */
#include "checksum.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_CRC_PCLMUL 1

/*
 * CRC-32 (zlib's polynomial, reflected) by carry-less multiplication: fold 64 bytes at a
 * time, then 16, then Barrett-reduce (Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", the constants of zlib's and Linux's SIMD versions).
 * len >= 64 and a multiple of 16; crc is the raw (pre-inverted) register.
 */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_pclmul(uint32_t crc, const uint8_t *buf, size_t len)
{
	const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
	const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
	const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
	const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
	const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
	__m128i x1, x2, x3, x4, x5, x6, x7, x8;

	x1 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x00));
	x2 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x10));
	x3 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x20));
	x4 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x30));
	x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
	buf += 64;
	len -= 64;
	while (len >= 64) {
		x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
		x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
		x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
		x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
		x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
		x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
		x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
		x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x5),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x00)));
		x2 = _mm_xor_si128(_mm_xor_si128(x2, x6),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x10)));
		x3 = _mm_xor_si128(_mm_xor_si128(x3, x7),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x20)));
		x4 = _mm_xor_si128(_mm_xor_si128(x4, x8),
				   _mm_loadu_si128((const __m128i *)(const void *)(buf + 0x30)));
		buf += 64;
		len -= 64;
	}
	/* Fold the four lanes into one. */
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
	x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
	x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
	x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
	while (len >= 16) {
		x2 = _mm_loadu_si128((const __m128i *)(const void *)buf);
		x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
		x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
		x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
		buf += 16;
		len -= 16;
	}
	/* 128 -> 64 bits. */
	x2 = _mm_clmulepi64_si128(x1, k3k4, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_and_si128(x1, mask32);
	x1 = _mm_clmulepi64_si128(x1, k5k0, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	/* Barrett reduction to 32 bits. */
	x2 = _mm_and_si128(x1, mask32);
	x2 = _mm_clmulepi64_si128(x2, poly, 0x10);
	x2 = _mm_and_si128(x2, mask32);
	x2 = _mm_clmulepi64_si128(x2, poly, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int crc_pclmul_ok(void)
{
	static int ok = -1;

	if (ok < 0)
		ok = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
	return ok;
}
#endif

uint32_t cksum_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
#ifdef HAVE_CRC_PCLMUL
	if (len >= 64 && crc_pclmul_ok()) {
		size_t n = len & ~(size_t)15;

		crc = ~crc32_pclmul(~crc, p, n);
		p += n;
		len -= n;
	}
#endif
	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = (uint32_t)crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_ADLER_SSSE3 1

#define ADLER_BASE 65521u
/* Largest n such that 255n(n+1)/2 + (n+1)(BASE-1) fits 32 bits (zlib's NMAX). */
#define ADLER_NMAX 5552

/*
 * Adler-32 over 32-byte blocks with SSSE3 (the method of Chromium's adler32_simd.c): per
 * block, s1 gains the byte sum (psadbw) and s2 the position-weighted sum (pmaddubsw with
 * weights 32..1) plus 32 times the s1 of all earlier blocks. len is a multiple of 32.
 */
__attribute__((target("ssse3")))
static uint32_t adler32_ssse3(uint32_t adler, const uint8_t *buf, size_t len)
{
	const __m128i tap1 = _mm_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17);
	const __m128i tap2 = _mm_setr_epi8(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
	const __m128i zero = _mm_setzero_si128();
	const __m128i ones = _mm_set1_epi16(1);
	uint32_t s1 = adler & 0xffff, s2 = adler >> 16;
	size_t blocks = len / 32;

	while (blocks) {
		size_t n = ADLER_NMAX / 32;
		__m128i v_ps, v_s1, v_s2;

		if (n > blocks)
			n = blocks;
		blocks -= n;
		v_ps = _mm_set_epi32(0, 0, 0, (int)(s1 * (uint32_t)n));
		v_s2 = _mm_set_epi32(0, 0, 0, (int)s2);
		v_s1 = _mm_setzero_si128();
		do {
			const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)buf);
			const __m128i b2 = _mm_loadu_si128((const __m128i *)(const void *)(buf + 16));

			v_ps = _mm_add_epi32(v_ps, v_s1);
			v_s1 = _mm_add_epi32(v_s1, _mm_sad_epu8(b1, zero));
			v_s2 = _mm_add_epi32(v_s2, _mm_madd_epi16(_mm_maddubs_epi16(b1, tap1), ones));
			v_s1 = _mm_add_epi32(v_s1, _mm_sad_epu8(b2, zero));
			v_s2 = _mm_add_epi32(v_s2, _mm_madd_epi16(_mm_maddubs_epi16(b2, tap2), ones));
			buf += 32;
		} while (--n);
		v_s2 = _mm_add_epi32(v_s2, _mm_slli_epi32(v_ps, 5));
		v_s1 = _mm_add_epi32(v_s1, _mm_shuffle_epi32(v_s1, _MM_SHUFFLE(2, 3, 0, 1)));
		v_s1 = _mm_add_epi32(v_s1, _mm_shuffle_epi32(v_s1, _MM_SHUFFLE(1, 0, 3, 2)));
		s1 += (uint32_t)_mm_cvtsi128_si32(v_s1);
		v_s2 = _mm_add_epi32(v_s2, _mm_shuffle_epi32(v_s2, _MM_SHUFFLE(2, 3, 0, 1)));
		v_s2 = _mm_add_epi32(v_s2, _mm_shuffle_epi32(v_s2, _MM_SHUFFLE(1, 0, 3, 2)));
		s2 = (uint32_t)_mm_cvtsi128_si32(v_s2);
		s1 %= ADLER_BASE;
		s2 %= ADLER_BASE;
	}
	return s1 | (s2 << 16);
}

static int adler_ssse3_ok(void)
{
	static int ok = -1;

	if (ok < 0)
		ok = __builtin_cpu_supports("ssse3");
	return ok;
}
#endif

uint32_t cksum_adler32(uint32_t a, const uint8_t *p, size_t len)
{
#ifdef HAVE_ADLER_SSSE3
	if (len >= 64 && adler_ssse3_ok()) {
		size_t n = len & ~(size_t)31;

		a = adler32_ssse3(a, p, n);
		p += n;
		len -= n;
	}
#endif
	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;

		a = (uint32_t)adler32(a, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return a;
}
