#include "sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../common/log.h"

struct zk_sender {
	uv_loop_t *loop;
	uv_async_t async;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct sender_job *in_head, *in_tail;	/* submitted, not taken by the thread */
	struct sender_job *out_head, *out_tail;	/* written, not handed back */
	int idle;
	int stop;
	/* loop thread only */
	sender_done_fn done;
	void *arg;
	void (*closed)(void *arg);
};

static void append(struct sender_job **head, struct sender_job **tail, struct sender_job *first,
		   struct sender_job *last)
{
	if (*tail)
		(*tail)->next = first;
	else
		*head = first;
	*tail = last;
}

static void send_one(struct sender_job *j)
{
	while (j->written < j->len) {
		ssize_t n = send(j->fd, j->p + j->written, j->len - j->written,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			j->written += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;	/* the loop finishes it with uv_write */
		j->err = n < 0 ? -errno : -EPIPE;
		return;
	}
}

static void *sender_main(void *arg)
{
	struct zk_sender *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct sender_job *batch, *last, *j;

		while (!s->in_head && !s->stop) {
			s->idle = 1;
			pthread_cond_wait(&s->cv, &s->mu);
			s->idle = 0;
		}
		if (!s->in_head)
			break;
		batch = s->in_head;
		last = s->in_tail;
		s->in_head = s->in_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		for (j = batch; j; j = j->next)
			send_one(j);
		pthread_mutex_lock(&s->mu);
		append(&s->out_head, &s->out_tail, batch, last);
		/* One wake-up of the loop per batch, however many sockets it held. */
		uv_async_send(&s->async);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void hand_back(struct zk_sender *s)
{
	struct sender_job *j, *next;

	pthread_mutex_lock(&s->mu);
	j = s->out_head;
	s->out_head = s->out_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		s->done(j, s->arg);
	}
}

static void async_cb(uv_async_t *h)
{
	hand_back(h->data);
}

static void closed_cb(uv_handle_t *h)
{
	struct zk_sender *s = h->data;
	void (*closed)(void *) = s->closed;
	void *arg = s->arg;

	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	if (closed)
		closed(arg);
}

struct zk_sender *sender_new(uv_loop_t *loop, sender_done_fn done, void *arg)
{
	struct zk_sender *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->done = done;
	s->arg = arg;
	if (pthread_mutex_init(&s->mu, NULL))
		goto fail_mu;
	if (pthread_cond_init(&s->cv, NULL))
		goto fail_cv;
	if (uv_async_init(loop, &s->async, async_cb))
		goto fail_async;
	s->async.data = s;
	if (pthread_create(&s->th, NULL, sender_main, s)) {
		log_warn("cannot start the reply sender thread: writing replies on the loop");
		/* The handle is live: it is closed (and s freed) through the loop. */
		s->closed = NULL;
		uv_close((uv_handle_t *)&s->async, closed_cb);
		return NULL;
	}
	return s;

fail_async:
	pthread_cond_destroy(&s->cv);
fail_cv:
	pthread_mutex_destroy(&s->mu);
fail_mu:
	free(s);
	return NULL;
}

void sender_submit(struct zk_sender *s, struct sender_job *j)
{
	int wake;

	j->next = NULL;
	j->written = 0;
	j->err = 0;
	pthread_mutex_lock(&s->mu);
	append(&s->in_head, &s->in_tail, j, j);
	wake = s->idle;
	pthread_mutex_unlock(&s->mu);
	if (wake)
		pthread_cond_signal(&s->cv);
}

void sender_close(struct zk_sender *s, void (*closed)(void *arg))
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_cond_signal(&s->cv);
	pthread_join(s->th, NULL);
	/* The thread wrote everything it was given before it stopped. */
	hand_back(s);
	s->closed = closed;
	uv_close((uv_handle_t *)&s->async, closed_cb);
}
