/* Unit tests for ensemble/acl.c: Apache 3.8's digest, fix-up and permission rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acl.h"

static struct zk_acl one(int perms, const char *scheme, const char *id)
{
	struct zk_acl a = { perms, { (char *)scheme, (char *)id } };

	return a;
}

/* digest = user:base64(sha1("user:password")), the JVM's test vector. */
static void test_digest_vector(void **state)
{
	char *d = acl_digest("user1:pass1");

	assert_string_equal(d, "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=");
	free(d);
}

/* auth adds a digest identity; super is granted by the superDigest; bad schemes fail. */
static void test_auth(void **state)
{
	struct zk_ids ids;

	ids_init(&ids, "127.0.0.1");
	assert_int_equal(ids_auth(&ids, "digest", (const uint8_t *)"user1:pass1", 11,
				  "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ="), 0);
	assert_true(ids.super);
	assert_int_equal(ids_auth(&ids, "kerberos", (const uint8_t *)"x", 1, NULL), ZAUTHFAILED);
	ids_release(&ids);
}

/* Fix-up: empty -> INVALIDACL; auth expands to digest ids only; bad digest/ip ids refused. */
static void test_fixup(void **state)
{
	struct zk_ids ids;
	struct zk_acl v[2];
	struct zk_acl_list in = { 1, v }, out;

	ids_init(&ids, "127.0.0.1");
	in.n = 0;
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);
	in.n = 1;
	v[0] = one(31, "auth", "");
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);	/* ip is not enough */
	ids_auth(&ids, "digest", (const uint8_t *)"user1:pass1", 11, NULL);
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0].id.scheme, "digest");
	assert_string_equal(out.v[0].id.id, "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=");
	zk_acl_list_release(&out);
	v[0] = one(31, "digest", "user:");
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);
	v[0] = one(31, "digest", "a:b:c");
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);
	v[0] = one(31, "ip", "10.0.0.0/33");
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);
	v[0] = one(31, "ip", "10.0.0.0/8");
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	zk_acl_list_release(&out);
	v[0] = one(31, "nosuch", "x");
	assert_int_equal(acl_fixup(&in, &ids, &out), ZINVALIDACL);
	/* exact duplicates are removed */
	in.n = 2;
	v[0] = one(31, "world", "anyone");
	v[1] = one(31, "world", "anyone");
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	assert_int_equal(out.n, 1);
	zk_acl_list_release(&out);
	ids_release(&ids);
}

/* Checks: any matching perm bit of a matching id passes; ip masks; super bypasses. */
static void test_check(void **state)
{
	struct zk_ids ids;
	struct zk_acl v[2] = { one(ZPERM_READ, "ip", "127.0.0.0/8"),
			       one(ZPERM_ALL, "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=") };
	struct zk_acl_list acl = { 2, v };

	ids_init(&ids, "127.0.0.1");
	assert_int_equal(acl_check(&acl, ZPERM_READ, &ids), 0);
	assert_int_equal(acl_check(&acl, ZPERM_WRITE, &ids), ZNOAUTH);
	assert_int_equal(acl_check(&acl, ZPERM_READ | ZPERM_ADMIN, &ids), 0);
	ids_auth(&ids, "digest", (const uint8_t *)"user1:pass1", 11, NULL);
	assert_int_equal(acl_check(&acl, ZPERM_WRITE, &ids), 0);
	ids_release(&ids);
	ids_init(&ids, "10.1.2.3");
	assert_int_equal(acl_check(&acl, ZPERM_READ, &ids), ZNOAUTH);
	ids.super = 1;
	assert_int_equal(acl_check(&acl, ZPERM_ADMIN, &ids), 0);
	ids_release(&ids);
}

/* getACL without ADMIN masks digest ids; whoAmI lists digest users by name. */
static void test_mask_whoami(void **state)
{
	struct zk_acl_list acl = { 0, NULL }, src;
	struct zk_acl v[1] = { one(31, "digest", "u:") };
	struct zk_ids ids;
	struct zk_resp r;
	int32_t i, found = 0;

	src.n = 1;
	src.v = v;
	zk_acl_list_copy(&acl, &src);
	acl_mask_digests(&acl);
	assert_string_equal(acl.v[0].id.id, "u:x");
	zk_acl_list_release(&acl);
	ids_init(&ids, "127.0.0.1");
	ids_auth(&ids, "digest", (const uint8_t *)"user1:pass1", 11, NULL);
	memset(&r, 0, sizeof(r));
	ids_whoami(&ids, &r);
	assert_int_equal(r.nwho, 2);
	for (i = 0; i < r.nwho; i++)
		found += !strcmp(r.who[i].scheme, "digest") && !strcmp(r.who[i].user, "user1");
	assert_int_equal(found, 1);
	zk_resp_release(&r);
	ids_release(&ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_vector),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_fixup),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_mask_whoami),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
