#ifndef ZK_CHECKSUM_H
#define ZK_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(crc, p, len): crc = 0 to start. */
uint32_t cksum_crc32(uint32_t crc, const uint8_t *p, size_t len);
/* zlib's adler32(a, p, len): a = 1 to start. */
uint32_t cksum_adler32(uint32_t a, const uint8_t *p, size_t len);

#endif
