/* Unit tests for ensemble/watches.c: Apache's one-shot and persistent watch semantics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
