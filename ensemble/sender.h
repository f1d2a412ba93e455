/*
 * sender: a thread that writes reply bytes to client sockets.
 *
 * On loopback a send() costs the sender the receiver's TCP processing as well (~10 µs
 * here), a third of what the loop thread spends per request. When one loop iteration
 * has replies for many connections, handing the writes to this thread lets them run on
 * another core while the loop goes on decoding and applying.
 *
 * The loop thread owns every job: it submits a job, must not touch the job's bytes or
 * close its socket until done() hands it back (on the loop thread, via a uv_async), and
 * finishes whatever the thread could not write (a full socket) itself.
 */
#ifndef ZK_SENDER_H
#define ZK_SENDER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sender_job {
	struct sender_job *next;
	int fd;
	const uint8_t *p;
	size_t len;
	size_t written;		/* result: bytes sent (< len: the socket was full, or err) */
	int err;		/* result: 0 or a negative errno other than EAGAIN */
};

struct zk_sender;

typedef void (*sender_done_fn)(struct sender_job *j, void *arg);

/* Starts the thread. NULL if it cannot (the caller then writes inline). */
struct zk_sender *sender_new(uv_loop_t *loop, sender_done_fn done, void *arg);

/* Loop thread: queue a job. */
void sender_submit(struct zk_sender *s, struct sender_job *j);

/* Loop thread: waits for the jobs in flight, hands them back through done(), stops the
 * thread and closes the async handle; closed(arg) runs once the handle is closed. */
void sender_close(struct zk_sender *s, void (*closed)(void *arg));

#endif
