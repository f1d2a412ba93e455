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

/* Id validity as Apache 3.8.0 judged each of these in create (recorded on a real server):
 * ip parts are Java parseInt()s, digest ids are Java split(":") into exactly two. */
static void test_fixup_apache_table(void **state)
{
	static const struct { const char *scheme, *id; int rc; } cases[] = {
		{ "ip", "001.2.3.4", 0 }, { "ip", "+1.2.3.4", 0 }, { "ip", "1.2.3.4/ 8", ZINVALIDACL },
		{ "ip", "1.2.3.4/08", 0 }, { "ip", "1.2.3.4/+8", 0 }, { "ip", "-0.2.3.4", 0 },
		{ "ip", "1.2.3.4/33", ZINVALIDACL }, { "ip", "1.2.3", ZINVALIDACL },
		{ "ip", "1.2.3.4.", ZINVALIDACL }, { "ip", " 1.2.3.4", ZINVALIDACL },
		{ "ip", "1.2.3.4/", ZINVALIDACL }, { "ip", "256.1.1.1", ZINVALIDACL },
		{ "ip", "1.2.3.4/8/9", ZINVALIDACL }, { "ip", "::1", ZINVALIDACL },
		{ "digest", "a:b", 0 }, { "digest", ":b", 0 }, { "digest", "a:", ZINVALIDACL },
		{ "digest", "a:b:", 0 }, { "digest", "a::b", ZINVALIDACL }, { "digest", "a:b::", 0 },
		{ "digest", ":", ZINVALIDACL }, { "digest", "", ZINVALIDACL },
		{ "digest", "ab", ZINVALIDACL }, { "digest", "a:b\nc", 0 },
		{ "world", "anyone", 0 }, { "world", "x", ZINVALIDACL }, { "super", "", ZINVALIDACL },
		{ "auth", NULL, 0 }, { "world", NULL, ZMARSHALLINGERROR },
		{ NULL, "x", ZINVALIDACL }, { "x509", "CN=a", ZINVALIDACL },
		{ "digest", NULL, ZMARSHALLINGERROR }, { "ip", NULL, ZMARSHALLINGERROR },
	};
	struct zk_ids ids;
	struct zk_acl v[1];
	struct zk_acl_list in = { 1, v }, out;
	size_t i;

	ids_init(&ids, "127.0.0.1");
	ids_auth(&ids, "digest", (const uint8_t *)"u:p", 3, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v[0] = one(31, cases[i].scheme, cases[i].id);
		if (acl_fixup(&in, &ids, &out) != cases[i].rc)
			fail_msg("%s:%s: want %d", cases[i].scheme ? cases[i].scheme : "(null)",
				 cases[i].id ? cases[i].id : "(null)", cases[i].rc);
		zk_acl_list_release(&out);
	}
	ids_release(&ids);
}

/* auth expansion appends every digest identity and never de-duplicates against the
 * explicit entries (Apache's getACL shows the digest twice for [digest:u:h, auth:]). */
static void test_fixup_auth_no_dedupe(void **state)
{
	struct zk_ids ids;
	char *d = acl_digest("u:p");
	struct zk_acl v[2] = { one(31, "digest", d), one(31, "auth", "") };
	struct zk_acl_list in = { 2, v }, out;

	ids_init(&ids, "127.0.0.1");
	ids_auth(&ids, "digest", (const uint8_t *)"u:p", 3, NULL);
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0].id.id, d);
	assert_string_equal(out.v[1].id.id, d);
	zk_acl_list_release(&out);
	/* auth:"" and auth:"x" are different entries: both expand */
	v[0] = one(31, "auth", "x");
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	assert_int_equal(out.n, 2);
	zk_acl_list_release(&out);
	/* a super identity has no provider: auth expands to the digest id only */
	ids_release(&ids);
	ids_init(&ids, "127.0.0.1");
	ids_auth(&ids, "digest", (const uint8_t *)"u:p", 3, d);
	assert_true(ids.super);
	in.n = 1;
	v[0] = one(31, "auth", "");
	assert_int_equal(acl_fixup(&in, &ids, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0].id.scheme, "digest");
	zk_acl_list_release(&out);
	ids_release(&ids);
	free(d);
}

/* Masking is Java's replaceAll(":.*", ":x"): '.' stops at line terminators. */
static void test_mask_regex(void **state)
{
	static const char *cases[][2] = {
		{ "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=", "user1:x" }, { "a:b:c", "a:x" },
		{ "a:b\nc", "a:x\nc" }, { "a:b\nc:d", "a:x\nc:x" }, { "u:", "u:x" },
		{ ":", ":x" }, { "nocolon", "nocolon" }, { "a:b\xe2\x80\xa8" "c", "a:x\xe2\x80\xa8" "c" },
	};
	struct zk_acl v[2];
	struct zk_acl_list src = { 2, v }, acl;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v[0] = one(31, "digest", cases[i][0]);
		v[1] = one(31, "ip", cases[i][0]);	/* other schemes are left alone */
		assert_int_equal(zk_acl_list_copy(&acl, &src), 0);
		acl_mask_digests(&acl);
		assert_string_equal(acl.v[0].id.id, cases[i][1]);
		assert_string_equal(acl.v[1].id.id, cases[i][0]);
		zk_acl_list_release(&acl);
	}
}

/* A superDigest login shows in whoAmI as ("super", "") before the digest and ip entries,
 * the order Apache 3.8.0 answered for the same identities. */
static void test_whoami_super(void **state)
{
	struct zk_ids ids;
	struct zk_resp r;

	ids_init(&ids, "127.0.0.1");
	assert_int_equal(ids_auth(&ids, "digest", (const uint8_t *)"super:secret", 12,
				  "super:lK75jTNcA+U9vtVEw5vB51mj/w4="), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(ids_whoami(&ids, &r), 0);
	assert_int_equal(r.nwho, 3);
	assert_string_equal(r.who[0].scheme, "super");
	assert_string_equal(r.who[0].user, "");
	assert_string_equal(r.who[1].scheme, "digest");
	assert_string_equal(r.who[1].user, "super");
	assert_string_equal(r.who[2].scheme, "ip");
	assert_string_equal(r.who[2].user, "127.0.0.1");
	zk_resp_release(&r);
	ids_release(&ids);
}

/* Only ip and digest entries can match an identity; an empty ACL passes everyone; an
 * explicit "auth ip" adds nothing; repeated logins are kept once. */
static void test_check_providers(void **state)
{
	struct zk_ids ids;
	struct zk_acl v[1] = { one(31, "x509", "CN=a") };
	struct zk_acl_list acl = { 1, v }, empty = { -1, NULL };
	struct zk_id extra[2] = { { (char *)"ip", (char *)"127.0.0.1" },
				  { (char *)"x509", (char *)"CN=a" } };
	struct zk_ids fake = { 2, extra, 0 };

	assert_int_equal(acl_check(&acl, ZPERM_READ, &fake), ZNOAUTH);
	assert_int_equal(acl_check(&empty, ZPERM_ADMIN, &fake), 0);
	v[0] = one(31, "ip", "127.0.0.1/32");
	assert_int_equal(acl_check(&acl, ZPERM_READ, &fake), 0);
	v[0] = one(31, "ip", "0.0.0.0/0");
	assert_int_equal(acl_check(&acl, ZPERM_READ, &fake), 0);
	v[0] = one(31, "ip", "127.0.0.2");
	assert_int_equal(acl_check(&acl, ZPERM_READ, &fake), ZNOAUTH);
	ids_init(&ids, "127.0.0.1");
	assert_int_equal(ids_auth(&ids, "ip", (const uint8_t *)"x", 1, NULL), 0);
	assert_int_equal(ids_auth(&ids, "digest", (const uint8_t *)"u:p", 3, NULL), 0);
	assert_int_equal(ids_auth(&ids, "digest", (const uint8_t *)"u:p", 3, NULL), 0);
	assert_int_equal(ids.n, 2);
	assert_int_equal(ids_auth(&ids, NULL, NULL, 0, NULL), ZAUTHFAILED);
	assert_int_equal(ids_auth(&ids, "world", (const uint8_t *)"anyone", 6, NULL), ZAUTHFAILED);
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
		cmocka_unit_test(test_fixup_apache_table),
		cmocka_unit_test(test_fixup_auth_no_dedupe),
		cmocka_unit_test(test_mask_regex),
		cmocka_unit_test(test_whoami_super),
		cmocka_unit_test(test_check_providers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
