/*
 * libFuzzer target: the txn log payload decoder, which reads whatever a damaged disk
 * or a hostile file hands it during recovery.
 */
#include <stddef.h>
#include <stdint.h>

#include "txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zk_txn t;
	struct buf b = BUF_INIT;

	if (txn_decode(&t, data, size) == 0) {
		txn_encode(&t, &b);
		buf_release(&b);
		txn_release(&t);
	}
	return 0;
}
