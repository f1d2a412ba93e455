/*
 * acceptedEpoch / currentEpoch (ensemble/epochs.c) on the simulated file system: Apache's
 * format, the rules QuorumPeer.loadDataBase applies, and crashes during a write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "epochs.h"
#include "vfs_sim.h"

static struct vfs *fresh(void)
{
	struct vfs *v = vfs_sim_new(1);
	char failed[256];

	assert_non_null(v);
	assert_int_equal(vfs_mkdirs(v, "/d/version-2", failed, sizeof(failed)), 0);
	return v;
}

static void put(struct vfs *v, const char *name, const char *text)
{
	char err[256];
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%s.w", name);
	assert_int_equal(vfs_write_atomic(v, "/d/version-2", tmp, name, text, strlen(text), NULL,
					  err, sizeof(err)), 0);
}

static char *get(struct vfs *v, const char *name)
{
	char path[128];
	uint8_t *d = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/d/version-2/%s", name);
	if (vfs_read_all(v, path, &d, &len))
		return NULL;
	d = realloc(d, len + 1);
	d[len] = '\0';
	return (char *)d;
}

static void test_missing_files_are_made(void **state)
{
	struct vfs *v = fresh();
	int64_t a = -1, c = -1;
	char err[256], *s;

	/* From the epoch of the last logged zxid, in Apache's format: digits, no newline. */
	assert_int_equal(epochs_load(v, "/d/version-2", 0x300000007LL, &a, &c, err, sizeof(err)), 0);
	assert_int_equal(a, 3);
	assert_int_equal(c, 3);
	s = get(v, EPOCHS_CURRENT);
	assert_string_equal(s, "3");
	free(s);
	s = get(v, EPOCHS_ACCEPTED);
	assert_string_equal(s, "3");
	free(s);
	/* A fresh database: epoch 0. */
	vfs_sim_free(v);
	v = fresh();
	assert_int_equal(epochs_load(v, "/d/version-2", 0, &a, &c, err, sizeof(err)), 0);
	assert_int_equal(a, 0);
	assert_int_equal(c, 0);
	vfs_sim_free(v);
}

static void test_rules(void **state)
{
	struct vfs *v = fresh();
	int64_t a, c;
	char err[256];

	/* Written by Apache: "1" with no newline; a trailing newline is fine too. */
	put(v, EPOCHS_CURRENT, "1");
	put(v, EPOCHS_ACCEPTED, "2\n");
	assert_int_equal(epochs_load(v, "/d/version-2", 0x100000005LL, &a, &c, err, sizeof(err)), 0);
	assert_int_equal(a, 2);
	assert_int_equal(c, 1);
	/* acceptedEpoch below currentEpoch: refused, naming the file. */
	put(v, EPOCHS_ACCEPTED, "0");
	assert_int_equal(epochs_load(v, "/d/version-2", 0x100000005LL, &a, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "acceptedEpoch is 0, below currentEpoch 1"));
	/* The log is ahead of currentEpoch: refused... */
	put(v, EPOCHS_ACCEPTED, "2");
	assert_int_equal(epochs_load(v, "/d/version-2", 0x200000001LL, &a, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "currentEpoch is 1, older than the epoch 2"));
	/* ...unless a currentEpoch.tmp was left by a crash: its value is taken and kept. */
	put(v, EPOCHS_CURRENT ".tmp", "2");
	assert_int_equal(epochs_load(v, "/d/version-2", 0x200000001LL, &a, &c, err, sizeof(err)), 0);
	assert_int_equal(c, 2);
	{
		char *s = get(v, EPOCHS_CURRENT);

		assert_string_equal(s, "2");
		free(s);
	}
	/* Garbage is an error, not an epoch. */
	put(v, EPOCHS_CURRENT, "two");
	assert_int_equal(epochs_load(v, "/d/version-2", 0, &a, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "currentEpoch does not hold an epoch"));
	put(v, EPOCHS_CURRENT, "");
	assert_int_equal(epochs_load(v, "/d/version-2", 0, &a, &c, err, sizeof(err)), -1);
	vfs_sim_free(v);
}

/* A crash at any point of a write leaves the old value or the new one, never a mix. */
static void test_crash_during_write(void **state)
{
	int64_t n;

	for (n = 0; n < 12; n++) {
		struct vfs *v = fresh();
		int64_t a, c;
		char err[256];

		put(v, EPOCHS_CURRENT, "4");
		put(v, EPOCHS_ACCEPTED, "4");
		vfs_sim_cut_power_after(v, n);
		epochs_write(v, "/d/version-2", EPOCHS_ACCEPTED, 15, err, sizeof(err));
		vfs_sim_crash(v, (uint64_t)n * 7 + 1);
		assert_int_equal(epochs_load(v, "/d/version-2", 0x400000001LL, &a, &c, err,
					     sizeof(err)), 0);
		assert_true(a == 4 || a == 15);
		assert_int_equal(c, 4);
		vfs_sim_free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_files_are_made),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_crash_during_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
