/*
 * acl: identities of a connection, authentication, ACL fix-up and permission checks,
 * as Apache ZooKeeper 3.8 does them (client-protocol.md §14). Pure; OpenSSL's SHA-1 only.
 */
#ifndef ZK_ACL_H
#define ZK_ACL_H

#include <stdint.h>
#include "zkproto.h"

/* The identities a connection holds: ip:<addr> first, then whatever auth packets add. */
struct zk_ids {
	int32_t n;
	struct zk_id *v;
	int super;		/* authenticated as the superDigest user: bypasses every check */
};

void ids_init(struct zk_ids *ids, const char *client_ip);
void ids_release(struct zk_ids *ids);
int ids_copy(struct zk_ids *dst, const struct zk_ids *src);

/*
 * An auth packet. scheme "digest" with "user:password" adds digest:user:<b64 sha1>; it
 * sets super when that id equals superdigest ("user:b64" form, may be NULL). scheme "ip"
 * adds nothing new. Anything else -> ZAUTHFAILED (the caller then closes the connection).
 */
int ids_auth(struct zk_ids *ids, const char *scheme, const uint8_t *auth, int32_t len,
	     const char *superdigest);

/* "user:password" -> "user:base64(sha1(user:password))", malloc'd. */
char *acl_digest(const char *user_password);

/*
 * Validates and expands an ACL list for create/setACL: removes exact duplicates, expands
 * auth (every authenticated non-ip identity), checks digest/ip ids. 0 or ZINVALIDACL;
 * ZMARSHALLINGERROR for a null id under world/digest/ip (Java dereferences it and the
 * server answers the NullPointerException with MARSHALLINGERROR); ZSYSTEMERROR on OOM.
 */
int acl_fixup(const struct zk_acl_list *in, const struct zk_ids *ids, struct zk_acl_list *out);

/* 0 if ids may do perm on a node with this ACL, else ZNOAUTH. An empty ACL and a super
 * identity pass everything; zookeeper.skipACL is the caller's business. */
int acl_check(const struct zk_acl_list *acl, int32_t perm, const struct zk_ids *ids);

/* getACL without ADMIN: every digest id shows as "user:x". */
void acl_mask_digests(struct zk_acl_list *acl);

/* whoAmI entries: scheme and user (digest -> part before ':'). */
int ids_whoami(const struct zk_ids *ids, struct zk_resp *resp);

#endif
