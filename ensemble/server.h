/*
 * server: the standalone zkensemble — client connections on libuv, the request pipeline
 * (decode -> prep -> log append -> durable -> apply -> watches -> reply), sessions and
 * four-letter words.
 *
 * Happy path of a write: the connection's queue hands the request to prep, which makes a
 * txn with the next zxid; the txn goes to storage (group commit) and onto the server's
 * pending list; when storage reports it durable, the tree applies it, watches fire into
 * the connections' output, and the reply is placed in the request's slot. Replies leave
 * in request order, once per loop iteration per connection (one write for all of them).
 *
 * Failure modes: a malformed frame closes only its connection; a failed log write fails
 * the txns that did not reach disk (their clients see the connection close, as with a
 * server crash, and retry) while the server keeps serving reads and retries writes.
 */
#ifndef ZK_SERVER_H
#define ZK_SERVER_H

#include <uv.h>
#include "config.h"

struct zk_server;

int server_new(uv_loop_t *loop, const struct zk_config *cfg, struct zk_server **out,
	       char *errmsg, size_t errlen);
/* Starts listening on the client port. */
int server_start(struct zk_server *s, char *errmsg, size_t errlen);
/* Stops accepting, closes every connection, flushes the log; done runs when all handles
 * are closed (the loop can then end). Sessions stay in the log, as after a crash. */
void server_stop(struct zk_server *s, void (*done)(void *ctx), void *ctx);
void server_free(struct zk_server *s);

#endif
