/* Unit tests for ensemble/watches.c: Apache's one-shot and persistent watch semantics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "watches.h"
#include "zkproto.h"

struct got {
	int n;
	struct zk_watcher *w[16];
	int type[16];
	char path[16][64];
};

static void deliver(void *ctx, struct zk_watcher *w, int type, const char *path)
{
	struct got *g = ctx;

	if (g->n < 16) {
		g->w[g->n] = w;
		g->type[g->n] = type;
		snprintf(g->path[g->n], sizeof(g->path[0]), "%s", path);
	}
	g->n++;
}

/* A data watch fires once on NodeDataChanged and is gone afterwards. */
static void test_oneshot_data(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	assert_int_equal(watches_add(ws, "/a", WATCH_DATA, &a), 0);
	assert_int_equal(watches_count(ws), 1);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/a", deliver, &g);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/a", deliver, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.type[0], ZEV_DATA_CHANGED);
	assert_int_equal(watches_count(ws), 0);
	watches_free(ws);
}

/* Delete of a node with both a data and a child watch gives one NodeDeleted. */
static void test_delete_dedup(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	watches_add(ws, "/a", WATCH_DATA, &a);
	watches_add(ws, "/a", WATCH_CHILD, &a);
	watches_trigger(ws, ZEV_DELETED, "/a", deliver, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(watches_count(ws), 0);
	watches_free(ws);
}

/* A child watch does not hear data changes; it hears NodeChildrenChanged. */
static void test_child_table(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	watches_add(ws, "/p", WATCH_CHILD, &a);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/p", deliver, &g);
	assert_int_equal(g.n, 0);
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/p", deliver, &g);
	assert_int_equal(g.n, 1);
	watches_free(ws);
}

/* Persistent: stays, hears own events and NodeChildrenChanged, not grandchildren. */
static void test_persistent(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	watches_add(ws, "/p", WATCH_PERSISTENT, &a);
	watches_trigger(ws, ZEV_CREATED, "/p", deliver, &g);
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/p", deliver, &g);
	watches_trigger(ws, ZEV_CREATED, "/p/x", deliver, &g);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/p", deliver, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.type[1], ZEV_CHILDREN_CHANGED);
	assert_int_equal(g.type[2], ZEV_DATA_CHANGED);
	watches_free(ws);
}

/* Recursive: every descendant's created/deleted/changed, never NodeChildrenChanged. */
static void test_recursive(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 }, root = { 2, 0 };
	struct got g = { 0 };

	watches_add(ws, "/r", WATCH_PERSISTENT_RECURSIVE, &a);
	watches_add(ws, "/", WATCH_PERSISTENT_RECURSIVE, &root);
	watches_add(ws, "/r/x", WATCH_DATA, &a);
	watches_trigger(ws, ZEV_CREATED, "/r", deliver, &g);
	assert_int_equal(g.n, 2);
	g.n = 0;
	watches_trigger(ws, ZEV_DATA_CHANGED, "/r/x", deliver, &g);
	/* a hears it once (data watch and recursive watch), root once */
	assert_int_equal(g.n, 2);
	g.n = 0;
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/r", deliver, &g);
	assert_int_equal(g.n, 0);
	watches_trigger(ws, ZEV_DELETED, "/r/x/y/z", deliver, &g);
	assert_int_equal(g.n, 2);
	watches_free(ws);
}

/* removeWatches/checkWatches by type, and removal of everything of a closed connection. */
static void test_remove(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 }, b = { 2, 0 };
	struct got g = { 0 };

	watches_add(ws, "/a", WATCH_DATA, &a);
	watches_add(ws, "/a", WATCH_CHILD, &b);
	assert_int_equal(watches_check(ws, "/a", ZWT_CHILDREN, &a), ZNOWATCHER);
	assert_int_equal(watches_check(ws, "/a", ZWT_DATA, &a), 0);
	assert_int_equal(watches_remove(ws, "/a", ZWT_CHILDREN, &a), ZNOWATCHER);
	assert_int_equal(watches_remove(ws, "/a", ZWT_ANY, &a), 0);
	assert_int_equal(watches_remove(ws, "/a", ZWT_ANY, &a), ZNOWATCHER);
	watches_remove_watcher(ws, &b);
	watches_trigger(ws, ZEV_DELETED, "/a", deliver, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(watches_count(ws), 0);
	watches_free(ws);
}

/* wchs counts data-table watches only, in Apache's format. */
static void test_dump(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 0x1000070c7110008LL, 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	watches_dump_summary(ws, f);
	watches_add(ws, "/notyet", WATCH_EXIST, &a);
	watches_add(ws, "/c", WATCH_CHILD, &a);
	watches_dump_summary(ws, f);
	watches_dump_by_session(ws, f);
	fclose(f);
	assert_string_equal(text, "0 connections watching 0 paths\nTotal watches:0\n"
				  "1 connections watching 1 paths\nTotal watches:1\n"
				  "0x1000070c7110008\n\t/notyet\n\n");
	free(text);
	watches_free(ws);
}

/* Many watchers on one path, many paths: triggering and teardown stay consistent. */
static void test_scale(void **state)
{
	static struct zk_watcher w[10000];
	struct zk_watches *ws = watches_new();
	struct got g = { 0 };
	char p[32];
	int i;

	for (i = 0; i < 10000; i++) {
		w[i].session_id = i;
		watches_add(ws, "/hot", WATCH_DATA, &w[i]);
		snprintf(p, sizeof(p), "/n%d", i);
		watches_add(ws, p, WATCH_CHILD, &w[i]);
	}
	watches_trigger(ws, ZEV_DATA_CHANGED, "/hot", deliver, &g);
	assert_int_equal(g.n, 10000);
	for (i = 0; i < 10000; i++)
		watches_remove_watcher(ws, &w[i]);
	assert_int_equal(watches_count(ws), 0);
	watches_free(ws);
}

static char *dump_text(const struct zk_watches *ws, int which)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (which == 0)
		watches_dump_summary(ws, f);
	else if (which == 1)
		watches_dump_by_session(ws, f);
	else
		watches_dump_by_path(ws, f);
	fclose(f);
	return text;
}

static void assert_dump(const struct zk_watches *ws, int which, const char *want)
{
	char *text = dump_text(ws, which);

	assert_string_equal(text, want);
	free(text);
}

/* A recursive watch whose data part was removed keeps its child part, which hears
 * NodeDeleted of the subtree but no creates or data changes (Apache 3.8.0, observed). */
static void test_recursive_child_part(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	watches_add(ws, "/r", WATCH_PERSISTENT_RECURSIVE, &a);
	assert_int_equal(watches_count(ws), 2);
	assert_int_equal(watches_remove(ws, "/r", ZWT_DATA, &a), 0);
	assert_int_equal(watches_check(ws, "/r", ZWT_DATA, &a), ZNOWATCHER);
	assert_int_equal(watches_check(ws, "/r", ZWT_CHILDREN, &a), 0);
	assert_int_equal(watches_count(ws), 1);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/r/x", deliver, &g);
	watches_trigger(ws, ZEV_CREATED, "/r/y", deliver, &g);
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/r", deliver, &g);
	assert_int_equal(g.n, 0);
	watches_trigger(ws, ZEV_DELETED, "/r/x", deliver, &g);
	watches_trigger(ws, ZEV_DELETED, "/r", deliver, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.path[0], "/r/x");
	assert_int_equal(g.type[1], ZEV_DELETED);
	/* a persistent watch's data part removed: NodeChildrenChanged still comes */
	watches_add(ws, "/p", WATCH_PERSISTENT, &a);
	assert_int_equal(watches_remove(ws, "/p", ZWT_DATA, &a), 0);
	g.n = 0;
	watches_trigger(ws, ZEV_DATA_CHANGED, "/p", deliver, &g);
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/p", deliver, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.type[0], ZEV_CHILDREN_CHANGED);
	watches_free(ws);
}

/* A one-shot and a persistent watch on one path: one event, the persistent one stays. */
static void test_oneshot_and_persistent(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 };
	struct got g = { 0 };

	watches_add(ws, "/p", WATCH_PERSISTENT, &a);
	watches_add(ws, "/p", WATCH_DATA, &a);
	watches_add(ws, "/p", WATCH_CHILD, &a);
	watches_trigger(ws, ZEV_DATA_CHANGED, "/p", deliver, &g);
	assert_int_equal(g.n, 1);
	watches_trigger(ws, ZEV_DELETED, "/p", deliver, &g);
	assert_int_equal(g.n, 2);
	watches_trigger(ws, ZEV_CREATED, "/p", deliver, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(watches_count(ws), 2);	/* only the persistent parts remain */
	/* same watcher twice on the same kind: still one registration */
	watches_add(ws, "/q", WATCH_DATA, &a);
	watches_add(ws, "/q", WATCH_DATA, &a);
	assert_int_equal(watches_count(ws), 3);
	watches_free(ws);
}

/* checkWatches/removeWatches answer for the asking connection only (client-protocol.md
 * §7.15; Apache 3.8.0's checkWatches says OK when any connection watches the path). */
static void test_check_own_only(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 1, 0 }, b = { 2, 0 };

	watches_add(ws, "/w", WATCH_DATA, &b);
	assert_int_equal(watches_check(ws, "/w", ZWT_DATA, &a), ZNOWATCHER);
	assert_int_equal(watches_remove(ws, "/w", ZWT_DATA, &a), ZNOWATCHER);
	assert_int_equal(watches_check(ws, "/w", ZWT_ANY, &b), 0);
	assert_int_equal(watches_check(ws, "/nowhere", ZWT_ANY, &b), ZNOWATCHER);
	watches_free(ws);
}

/* wchs/wchc keep a connection whose data watches all fired or were removed, with no
 * paths, until it closes (Apache's watch2Paths; observed "1 connections watching 0
 * paths" after an exists watch fired). Child-only watchers are never listed. */
static void test_dump_stale_connection(void **state)
{
	struct zk_watches *ws = watches_new();
	struct zk_watcher a = { 0x100000000000aLL, 0 }, b = { 0x100000000000bLL, 0 };
	struct got g = { 0 };

	watches_add(ws, "/w1", WATCH_EXIST, &a);
	watches_add(ws, "/kids", WATCH_CHILD, &b);
	assert_dump(ws, 0, "1 connections watching 1 paths\nTotal watches:1\n");
	watches_trigger(ws, ZEV_CREATED, "/w1", deliver, &g);
	assert_int_equal(g.n, 1);
	assert_dump(ws, 0, "1 connections watching 0 paths\nTotal watches:0\n");
	assert_dump(ws, 1, "0x100000000000a\n\n");
	assert_dump(ws, 2, "\n");
	watches_add(ws, "/w2", WATCH_DATA, &b);
	assert_int_equal(watches_remove(ws, "/w2", ZWT_DATA, &b), 0);
	assert_dump(ws, 0, "2 connections watching 0 paths\nTotal watches:0\n");
	watches_remove_watcher(ws, &a);
	watches_remove_watcher(ws, &b);
	assert_dump(ws, 0, "0 connections watching 0 paths\nTotal watches:0\n");
	assert_dump(ws, 1, "\n");
	/* wchp: a path, then its sessions, one per line */
	watches_add(ws, "/e1", WATCH_DATA, &a);
	watches_add(ws, "/e1", WATCH_PERSISTENT_RECURSIVE, &b);
	{
		char *t = dump_text(ws, 2);

		assert_int_equal(strncmp(t, "/e1\n", 4), 0);
		assert_non_null(strstr(t, "\t0x100000000000a\n"));
		assert_non_null(strstr(t, "\t0x100000000000b\n"));
		assert_int_equal(strlen(t), 4 + 2 * 17 + 1);
		free(t);
	}
	assert_dump(ws, 0, "2 connections watching 1 paths\nTotal watches:2\n");
	assert_int_equal(watches_count(ws), 3);	/* recursive counts in both tables */
	watches_free(ws);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_cb(void *ctx, struct zk_watcher *w, int type, const char *path)
{
	(*(long *)ctx)++;
}

/* 100,000 watched paths, 10,000 one-shot watchers on "/" and one recursive watch there:
 * 100,000 events on deep paths each reach the recursive watcher once without walking the
 * 10,000 registrations on "/" (well under the time that would take). */
static void test_scale_recursive(void **state)
{
	static struct zk_watcher w[10000];
	struct zk_watcher rec = { 7, 0 };
	struct zk_watches *ws = watches_new();
	long n = 0;
	char p[64];
	double t0;
	int i;

	for (i = 0; i < 10000; i++) {
		w[i].session_id = i;
		assert_int_equal(watches_add(ws, "/", WATCH_CHILD, &w[i]), 0);
	}
	assert_int_equal(watches_add(ws, "/", WATCH_PERSISTENT_RECURSIVE, &rec), 0);
	for (i = 0; i < 100000; i++) {
		snprintf(p, sizeof(p), "/a/b%d/c%d", i % 100, i);
		assert_int_equal(watches_add(ws, p, WATCH_DATA, &w[i % 10000]), 0);
	}
	t0 = now_s();
	for (i = 0; i < 100000; i++) {
		snprintf(p, sizeof(p), "/x/y%d/z/%d", i % 100, i);
		watches_trigger(ws, ZEV_CREATED, p, count_cb, &n);
	}
	assert_int_equal(n, 100000);
	/* 10,000 x 100,000 registration visits would take far longer than this */
	assert_true(now_s() - t0 < 2.0);	/* ~0.1 s here; the full walk took 5 s */
	/* the one-shot data watches fire once each, the recursive one with them */
	n = 0;
	for (i = 0; i < 100000; i++) {
		snprintf(p, sizeof(p), "/a/b%d/c%d", i % 100, i);
		watches_trigger(ws, ZEV_DATA_CHANGED, p, count_cb, &n);
	}
	assert_int_equal(n, 200000);
	n = 0;
	watches_trigger(ws, ZEV_CHILDREN_CHANGED, "/", count_cb, &n);
	assert_int_equal(n, 10000);
	assert_int_equal(watches_count(ws), 2);
	watches_free(ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oneshot_data),
		cmocka_unit_test(test_delete_dedup),
		cmocka_unit_test(test_child_table),
		cmocka_unit_test(test_persistent),
		cmocka_unit_test(test_recursive),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_recursive_child_part),
		cmocka_unit_test(test_oneshot_and_persistent),
		cmocka_unit_test(test_check_own_only),
		cmocka_unit_test(test_dump_stale_connection),
		cmocka_unit_test(test_scale_recursive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
