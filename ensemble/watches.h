/*
 * watches: one-shot data/exist/child watches and persistent (recursive) watches, keyed by
 * (watcher, path), triggered by the tree's apply events (client-protocol.md §15).
 *
 * Contract:
 *  - Pure and single-threaded; no I/O. Delivery is a callback the server turns into a
 *    notification frame queued on the connection.
 *  - Apache's tables: "data" (exists/getData), "child" (getChildren); persistent watches
 *    live in both. A watcher gets at most one event per path per trigger.
 *  - One-shot watches are removed as they fire; persistent ones stay. Recursive watches
 *    match every descendant and never get NodeChildrenChanged.
 *
 * A watcher is a struct zk_watcher embedded in the server's connection; the module stores
 * pointers to it and never frees it. watches_remove_watcher() must be called before the
 * connection is freed.
 */
#ifndef ZK_WATCHES_H
#define ZK_WATCHES_H

#include <stdint.h>
#include <stdio.h>

struct zk_watcher {
	int64_t session_id;	/* for wchc/wchp dumps */
	uint64_t mark;		/* private to watches.c: last trigger that reached it */
};

enum watch_kind {
	WATCH_DATA = 1,			/* getData; exists on an existing node */
	WATCH_EXIST = 2,		/* exists on a missing node (kept in the data table) */
	WATCH_CHILD = 3,		/* getChildren(2) */
	WATCH_PERSISTENT = 4,		/* addWatch mode 0 */
	WATCH_PERSISTENT_RECURSIVE = 5,	/* addWatch mode 1 */
};

struct zk_watches;

typedef void (*watch_deliver_fn)(void *ctx, struct zk_watcher *w, int type, const char *path);

struct zk_watches *watches_new(void);
void watches_free(struct zk_watches *ws);

int watches_add(struct zk_watches *ws, const char *path, enum watch_kind kind,
		struct zk_watcher *w);
/* An apply event (ZEV_*); calls deliver for each watcher that should hear it. */
void watches_trigger(struct zk_watches *ws, int type, const char *path,
		     watch_deliver_fn deliver, void *ctx);
/* checkWatches / removeWatches with WatcherType 1/2/3: 0 or ZNOWATCHER. */
int watches_check(struct zk_watches *ws, const char *path, int wtype, struct zk_watcher *w);
int watches_remove(struct zk_watches *ws, const char *path, int wtype, struct zk_watcher *w);
void watches_remove_watcher(struct zk_watches *ws, struct zk_watcher *w);

/* 4lw: wchs (data-table summary), wchc (by session), wchp (by path), in Apache's format
 * (four-letter-words.md). total_data counts watches in the data table. */
void watches_dump_summary(const struct zk_watches *ws, FILE *out);
void watches_dump_by_session(const struct zk_watches *ws, FILE *out);
void watches_dump_by_path(const struct zk_watches *ws, FILE *out);
int64_t watches_count(const struct zk_watches *ws);

#endif
