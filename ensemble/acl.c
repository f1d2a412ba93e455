/*
 * ACLs as Apache ZooKeeper 3.8 checks them (client-protocol.md §14): built-in world and
 * auth schemes, the digest and ip providers, and the superDigest bypass.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

void ids_init(struct zk_ids *ids, const char *client_ip)
{
	memset(ids, 0, sizeof(*ids));
	ids->v = calloc(1, sizeof(*ids->v));
	if (!ids->v)
		return;
	ids->v[0].scheme = strdup("ip");
	ids->v[0].id = strdup(client_ip ? client_ip : "");
	if (ids->v[0].scheme && ids->v[0].id) {
		ids->n = 1;
	} else {
		free(ids->v[0].scheme);
		free(ids->v[0].id);
	}
}

void ids_release(struct zk_ids *ids)
{
	int32_t i;

	for (i = 0; i < ids->n; i++) {
		free(ids->v[i].scheme);
		free(ids->v[i].id);
	}
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

static int ids_push(struct zk_ids *ids, const char *scheme, const char *id)
{
	struct zk_id *v;
	int32_t i;

	for (i = 0; i < ids->n; i++)
		if (!strcmp(ids->v[i].scheme, scheme) && !strcmp(ids->v[i].id, id))
			return 0;
	v = realloc(ids->v, sizeof(*v) * (size_t)(ids->n + 1));
	if (!v)
		return ZSYSTEMERROR;
	ids->v = v;
	v[ids->n].scheme = strdup(scheme);
	v[ids->n].id = strdup(id);
	if (!v[ids->n].scheme || !v[ids->n].id) {
		free(v[ids->n].scheme);
		free(v[ids->n].id);
		return ZSYSTEMERROR;
	}
	ids->n++;
	return 0;
}

int ids_copy(struct zk_ids *dst, const struct zk_ids *src)
{
	int32_t i;

	memset(dst, 0, sizeof(*dst));
	dst->super = src->super;
	for (i = 0; i < src->n; i++) {
		if (ids_push(dst, src->v[i].scheme, src->v[i].id)) {
			ids_release(dst);
			return ZSYSTEMERROR;
		}
	}
	return 0;
}

static char *digest_of(const char *data, size_t len)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
	const char *colon = memchr(data, ':', len);
	size_t ulen = colon ? (size_t)(colon - data) : len;
	char *out;

	SHA1((const unsigned char *)data, len, md);
	EVP_EncodeBlock(b64, md, SHA_DIGEST_LENGTH);
	out = malloc(ulen + 1 + sizeof(b64));
	if (!out)
		return NULL;
	memcpy(out, data, ulen);
	out[ulen] = ':';
	strcpy(out + ulen + 1, (const char *)b64);
	return out;
}

char *acl_digest(const char *user_password)
{
	return digest_of(user_password, strlen(user_password));
}

int ids_auth(struct zk_ids *ids, const char *scheme, const uint8_t *auth, int32_t len,
	     const char *superdigest)
{
	char *id;
	int rc;

	if (!scheme)
		return ZAUTHFAILED;
	if (!strcmp(scheme, "digest")) {
		id = digest_of(auth ? (const char *)auth : "", len > 0 ? (size_t)len : 0);
		if (!id)
			return ZSYSTEMERROR;
		rc = ids_push(ids, "digest", id);
		if (!rc && superdigest && !strcmp(id, superdigest)) {
			ids->super = 1;
			rc = ids_push(ids, "super", "");
		}
		free(id);
		return rc;
	}
	if (!strcmp(scheme, "ip"))
		return 0;	/* the connection already holds its address */
	return ZAUTHFAILED;
}

/* Java's String.split(":") on a digest id: exactly two parts, trailing empties dropped. */
static int digest_id_valid(const char *id)
{
	const char *c = strchr(id, ':');
	size_t n = strlen(id);

	if (!c)
		return 0;
	if (strchr(c + 1, ':')) {
		/* "a:b:" splits into 2 (trailing empty dropped), "a:b:c" into 3 */
		const char *c2 = strchr(c + 1, ':');
		size_t k = (size_t)(c2 - id);

		for (; k < n; k++)
			if (id[k] != ':')
				return 0;
	}
	/* "user:" splits into ["user"]: one part. */
	return c[1] && c[1] != ':';
}

/* a.b.c.d[/bits], IPv4 only, as Apache's IPAuthenticationProvider.isValid. */
static int parse_ip(const char *s, uint32_t *addr, int *bits)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr in;
	char *end;
	long b = 32;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, &in) != 1)
		return 0;
	if (slash) {
		if (!slash[1])
			return 0;
		b = strtol(slash + 1, &end, 10);
		if (*end || b < 0 || b > 32)
			return 0;
	}
	*addr = ntohl(in.s_addr);
	*bits = (int)b;
	return 1;
}

/*
 * Apache keeps a connection's identities in a ConcurrentHashMap-backed set, so "auth"
 * expansion and whoAmI list them in that map's iteration order: by bin
 * (spread(Id.hashCode()) & 15 for the default 16-bin table), then insertion order.
 * Reproducing it keeps ACL lists and whoAmI output identical to Apache's.
 */
static int32_t java_str_hash(const char *s)
{
	uint32_t h = 0;

	for (; *s; s++)
		h = 31 * h + (unsigned char)*s;
	return (int32_t)h;
}

static uint32_t id_bin(const struct zk_id *id)
{
	uint32_t h = 17;

	h = 37 * h + (uint32_t)java_str_hash(id->scheme);
	h = 37 * h + (uint32_t)java_str_hash(id->id);
	return ((h ^ (h >> 16)) & 0x7fffffff) & 15;
}

/* order[] gets the indexes of ids in Apache's iteration order. */
static void ids_order(const struct zk_ids *ids, int32_t *order)
{
	int32_t i, n = 0;
	uint32_t b;

	for (b = 0; b < 16; b++)
		for (i = 0; i < ids->n; i++)
			if (id_bin(&ids->v[i]) == b)
				order[n++] = i;
}

int acl_fixup(const struct zk_acl_list *in, const struct zk_ids *ids, struct zk_acl_list *out)
{
	int32_t i, j, k;

	out->n = 0;
	out->v = NULL;
	if (in->n <= 0 || !in->v)
		return ZINVALIDACL;
	int32_t *order = malloc(sizeof(*order) * (size_t)(ids->n + 1));

	if (!order)
		return ZSYSTEMERROR;
	ids_order(ids, order);
	out->v = calloc((size_t)in->n * (size_t)(ids->n + 1), sizeof(*out->v));
	if (!out->v) {
		free(order);
		return ZSYSTEMERROR;
	}
	for (i = 0; i < in->n; i++) {
		const struct zk_acl *a = &in->v[i];
		int dup = 0;

		for (j = 0; j < i; j++) {
			const struct zk_acl *b = &in->v[j];

			if (a->perms == b->perms && a->id.scheme && b->id.scheme &&
			    !strcmp(a->id.scheme, b->id.scheme) &&
			    ((!a->id.id && !b->id.id) ||
			     (a->id.id && b->id.id && !strcmp(a->id.id, b->id.id))))
				dup = 1;
		}
		if (dup)
			continue;
		if (!a->id.scheme)
			goto invalid;
		if (!strcmp(a->id.scheme, "world") && a->id.id && !strcmp(a->id.id, "anyone")) {
			/* kept as is */
		} else if (!strcmp(a->id.scheme, "auth")) {
			int any = 0;

			for (k = 0; k < ids->n; k++) {
				const struct zk_id *id = &ids->v[order[k]];
				int32_t m;

				/* Only authenticated providers: digest (not ip, not super). */
				if (strcmp(id->scheme, "digest"))
					continue;
				any = 1;
				for (m = 0; m < out->n; m++)
					if (out->v[m].perms == a->perms &&
					    !strcmp(out->v[m].id.scheme, id->scheme) &&
					    !strcmp(out->v[m].id.id, id->id))
						break;
				if (m < out->n)
					continue;
				out->v[out->n].perms = a->perms;
				out->v[out->n].id.scheme = strdup(id->scheme);
				out->v[out->n].id.id = strdup(id->id);
				out->n++;
			}
			if (!any)
				goto invalid;
			continue;
		} else if (!strcmp(a->id.scheme, "digest")) {
			if (!a->id.id || !digest_id_valid(a->id.id))
				goto invalid;
		} else if (!strcmp(a->id.scheme, "ip")) {
			uint32_t ad;
			int bits;

			if (!a->id.id || !parse_ip(a->id.id, &ad, &bits))
				goto invalid;
		} else {
			goto invalid;
		}
		out->v[out->n].perms = a->perms;
		out->v[out->n].id.scheme = strdup(a->id.scheme);
		out->v[out->n].id.id = strdup(a->id.id ? a->id.id : "");
		out->n++;
	}
	for (i = 0; i < out->n; i++)
		if (!out->v[i].id.scheme || !out->v[i].id.id)
			goto nomem;
	free(order);
	return 0;
invalid:
	free(order);
	zk_acl_list_release(out);
	return ZINVALIDACL;
nomem:
	free(order);
	zk_acl_list_release(out);
	return ZSYSTEMERROR;
}

static int ip_matches(const char *acl_id, const char *client)
{
	uint32_t a, c;
	int bits, cb;
	uint32_t mask;

	if (!parse_ip(acl_id, &a, &bits) || !parse_ip(client, &c, &cb))
		return 0;
	mask = bits == 0 ? 0 : 0xFFFFFFFFu << (32 - bits);
	return (a & mask) == (c & mask);
}

int acl_check(const struct zk_acl_list *acl, int32_t perm, const struct zk_ids *ids)
{
	int32_t i, k;

	if (ids->super)
		return 0;
	if (!acl || acl->n <= 0)
		return 0;
	for (i = 0; i < acl->n; i++) {
		const struct zk_acl *a = &acl->v[i];

		if (!(a->perms & perm) || !a->id.scheme)
			continue;
		if (!strcmp(a->id.scheme, "world")) {
			if (a->id.id && !strcmp(a->id.id, "anyone"))
				return 0;
			continue;
		}
		for (k = 0; k < ids->n; k++) {
			const struct zk_id *id = &ids->v[k];

			if (strcmp(id->scheme, a->id.scheme))
				continue;
			if (!strcmp(a->id.scheme, "ip")) {
				if (a->id.id && ip_matches(a->id.id, id->id))
					return 0;
			} else if (a->id.id && !strcmp(a->id.id, id->id)) {
				return 0;
			}
		}
	}
	return ZNOAUTH;
}

void acl_mask_digests(struct zk_acl_list *acl)
{
	int32_t i;

	for (i = 0; i < acl->n; i++) {
		char *id = acl->v[i].id.id, *c;

		if (!acl->v[i].id.scheme || strcmp(acl->v[i].id.scheme, "digest") || !id)
			continue;
		c = strchr(id, ':');
		if (c) {
			size_t n = (size_t)(c - id) + 1;
			char *m = malloc(n + 2);

			if (!m)
				continue;
			memcpy(m, id, n);
			m[n] = 'x';
			m[n + 1] = 0;
			free(id);
			acl->v[i].id.id = m;
		}
	}
}

int ids_whoami(const struct zk_ids *ids, struct zk_resp *resp)
{
	int32_t i, n = 0, *order;

	order = malloc(sizeof(*order) * (size_t)(ids->n + 1));
	if (!order)
		return ZSYSTEMERROR;
	ids_order(ids, order);
	resp->who = calloc((size_t)(ids->n ? ids->n : 1), sizeof(*resp->who));
	if (!resp->who) {
		free(order);
		return ZSYSTEMERROR;
	}
	for (i = 0; i < ids->n; i++) {
		const struct zk_id *id = &ids->v[order[i]];
		const char *c;

		if (!strcmp(id->scheme, "super"))
			continue;
		resp->who[n].scheme = strdup(id->scheme);
		c = strchr(id->id, ':');
		if (!strcmp(id->scheme, "digest") && c)
			resp->who[n].user = strndup(id->id, (size_t)(c - id->id));
		else
			resp->who[n].user = strdup(id->id);
		n++;
	}
	free(order);
	resp->nwho = n;
	return 0;
}
