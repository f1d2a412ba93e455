/*
 * zkclient internals that the unit tests reach: frame reassembly, server-list parsing and
 * the watch registry used for re-arming after a re-connect. Not for other modules.
 */
#ifndef ZK_CLIENT_I_H
#define ZK_CLIENT_I_H

#include <stddef.h>
#include <stdint.h>

#include "zkproto.h"

/*
 * Frame reassembly over a byte stream: feed whatever arrived; each call consumes bytes
 * from (*p, *n) and returns 1 with a whole payload in *frame and *len (malloc'd, the caller
 * frees it), 0 when all input was consumed without completing a frame, or ZMARSHALLINGERROR
 * for a negative or too large length (the stream is then unusable).
 */
struct zkc_framer {
	uint8_t hdr[4];
	size_t hdr_have;
	uint8_t *body;
	int32_t body_len;
	size_t body_have;
	int32_t max;
};

void zkc_framer_init(struct zkc_framer *f, int32_t max);
void zkc_framer_release(struct zkc_framer *f);
int zkc_framer_feed(struct zkc_framer *f, const uint8_t **p, size_t *n,
		    uint8_t **frame, int32_t *len);

/* "h1:p1,h2[:p2][/chroot]" -> hosts; chroot "" for none ("/" alone also means none). */
struct zkc_hostport {
	char host[256];
	int port;
};
int zkc_parse_servers(const char *s, struct zkc_hostport **hosts, int *nhosts, char **chroot);

/* Watch registry: path -> kinds (bit set). One-shot kinds are dropped by the events that
 * fire them (client-protocol.md §15). */
enum {
	ZKC_W_DATA = 1,		/* getData, or exists on an existing node */
	ZKC_W_EXIST = 2,	/* exists on a missing node */
	ZKC_W_CHILD = 4,
	ZKC_W_PERSISTENT = 8,
	ZKC_W_RECURSIVE = 16,
};
struct zkc_watches;
struct zkc_watches *zkc_watches_new(void);
void zkc_watches_free(struct zkc_watches *w);
int zkc_watches_add(struct zkc_watches *w, const char *path, int kinds);
/* Applies an event of the given type on path to the one-shot entries. */
void zkc_watches_fired(struct zkc_watches *w, int type, const char *path);
int zkc_watches_get(const struct zkc_watches *w, const char *path);
void zkc_watches_clear(struct zkc_watches *w);
int zkc_watches_count(const struct zkc_watches *w);
/* The setWatches(2) request that re-arms everything: vectors filled in req->watches[0..4]
 * (data, exist, child, persistent, recursive), type SETWATCHES2 when any persistent watch
 * exists. chroot is prefixed to each path. Returns 0, ZNOTHING when there is nothing to
 * re-arm, or ZSYSTEMERROR. */
int zkc_watches_request(const struct zkc_watches *w, const char *chroot, int64_t rel_zxid,
			struct zk_req *req);

#endif
