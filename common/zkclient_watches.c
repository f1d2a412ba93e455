/*
 * zkclient_watches.c: the client library's registry of the watches a session holds (path
 * -> kinds), which it re-registers with setWatches after a reconnect. Split from
 * zkclient.c; the contract is in zkclient_i.h.
 */
#include "zkclient.h"
#include "zkclient_i.h"

#include <stdlib.h>
#include <string.h>

/* ---- watch registry -------------------------------------------------------------------- */

struct wentry {
	struct wentry *next;
	int kinds;
	char path[];
};

#define WBUCKETS 1024

struct zkc_watches {
	struct wentry *b[WBUCKETS];
	int count;
};

static unsigned hash_str(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

struct zkc_watches *zkc_watches_new(void)
{
	return calloc(1, sizeof(struct zkc_watches));
}

void zkc_watches_clear(struct zkc_watches *w)
{
	int i;

	for (i = 0; i < WBUCKETS; i++) {
		while (w->b[i]) {
			struct wentry *e = w->b[i];

			w->b[i] = e->next;
			free(e);
		}
	}
	w->count = 0;
}

void zkc_watches_free(struct zkc_watches *w)
{
	if (!w)
		return;
	zkc_watches_clear(w);
	free(w);
}

static struct wentry **wfind(struct zkc_watches *w, const char *path)
{
	struct wentry **pp = &w->b[hash_str(path) % WBUCKETS];

	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	return pp;
}

int zkc_watches_add(struct zkc_watches *w, const char *path, int kinds)
{
	struct wentry **pp = wfind(w, path);
	size_t l;

	if (*pp) {
		(*pp)->kinds |= kinds;
		return 0;
	}
	l = strlen(path);
	*pp = malloc(sizeof(**pp) + l + 1);
	if (!*pp)
		return ZSYSTEMERROR;
	(*pp)->next = NULL;
	(*pp)->kinds = kinds;
	memcpy((*pp)->path, path, l + 1);
	w->count++;
	return 0;
}

int zkc_watches_get(const struct zkc_watches *w, const char *path)
{
	struct wentry **pp = wfind((struct zkc_watches *)w, path);

	return *pp ? (*pp)->kinds : 0;
}

int zkc_watches_count(const struct zkc_watches *w)
{
	return w->count;
}

void zkc_watches_fired(struct zkc_watches *w, int type, const char *path)
{
	struct wentry **pp = wfind(w, path), *e = *pp;
	int clear = 0;

	if (!e)
		return;
	switch (type) {
	case ZEV_CREATED:
	case ZEV_DATA_CHANGED:
		clear = ZKC_W_DATA | ZKC_W_EXIST;
		break;
	case ZEV_DELETED:
		clear = ZKC_W_DATA | ZKC_W_EXIST | ZKC_W_CHILD;
		break;
	case ZEV_CHILDREN_CHANGED:
		clear = ZKC_W_CHILD;
		break;
	}
	e->kinds &= ~clear;
	if (!e->kinds) {
		*pp = e->next;
		free(e);
		w->count--;
	}
}

int zkc_watches_request(const struct zkc_watches *w, const char *chroot, int64_t rel_zxid,
			struct zk_req *req)
{
	static const int kind_of[5] = { ZKC_W_DATA, ZKC_W_EXIST, ZKC_W_CHILD,
					ZKC_W_PERSISTENT, ZKC_W_RECURSIVE };
	int i, k, persistent = 0;
	size_t cl = strlen(chroot);

	memset(req, 0, sizeof(*req));
	if (w->count == 0)
		return ZNOTHING;
	req->rel_zxid = rel_zxid;
	for (i = 0; i < WBUCKETS; i++) {
		const struct wentry *e;

		for (e = w->b[i]; e; e = e->next) {
			char *full;
			size_t pl = strlen(e->path);

			full = malloc(cl + pl + 1);
			if (!full)
				goto oom;
			memcpy(full, chroot, cl);
			/* the chroot itself is "/" relative to it */
			if (cl && strcmp(e->path, "/") == 0)
				full[cl] = 0;
			else
				memcpy(full + cl, e->path, pl + 1);
			for (k = 0; k < 5; k++) {
				if (!(e->kinds & kind_of[k]))
					continue;
				if (k >= 3)
					persistent = 1;
				if (zk_strvec_push(&req->watches[k], full)) {
					free(full);
					goto oom;
				}
			}
			free(full);
		}
	}
	req->type = persistent ? ZOP_SETWATCHES2 : ZOP_SETWATCHES;
	return 0;
oom:
	for (k = 0; k < 5; k++)
		zk_strvec_release(&req->watches[k]);
	return ZSYSTEMERROR;
}
