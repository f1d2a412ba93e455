/*
 * ACLs as Apache ZooKeeper 3.8 checks them (client-protocol.md §14): built-in world and
 * auth schemes, the digest and ip providers, and the superDigest bypass.
 */
#include "acl.h"

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

/*
 * Java's Integer.parseInt on s[0..n): an optional sign, then at least one ASCII digit,
 * within int range ("+8", "-0" and "08" are all numbers to Java; " 8" is not).
 */
static int java_parse_int(const char *s, size_t n, long long *out)
{
	long long v = 0;
	size_t i = 0;
	int neg = 0;

	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
		if (v > 2147483648LL)
			return 0;
	}
	v = neg ? -v : v;
	if (v > 2147483647LL)
		return 0;
	*out = v;
	return 1;
}

/*
 * a.b.c.d[/bits], IPv4 only, as Apache's IPAuthenticationProvider: id.split("/", 2), the
 * address split on '.' into exactly four parseInt()s in 0..255, bits a parseInt() in 0..32.
 */
static int parse_ip(const char *s, uint32_t *addr, int *bits)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s), i, start = 0;
	uint32_t a = 0;
	long long v;
	int parts = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (++parts > 4 || !java_parse_int(s + start, i - start, &v) || v < 0 || v > 255)
			return 0;
		a = (a << 8) | (uint32_t)v;
		start = i + 1;
	}
	if (parts != 4)
		return 0;
	v = 32;
	if (slash && (!java_parse_int(slash + 1, strlen(slash + 1), &v) || v < 0 || v > 32))
		return 0;
	*addr = a;
	*bits = (int)v;
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
	out->packed = 0;	/* strings strdup'd one by one below */
	if (in->n <= 0 || !in->v)
		return ZINVALIDACL;
	int32_t *order = malloc(sizeof(*order) * (size_t)(ids->n + 1));

	int ordered = 0;	/* the order costs a hash per identity: only "auth" needs it */

	if (!order)
		return ZSYSTEMERROR;
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
		/* Java calls a method on a null id for these schemes: NullPointerException,
		 * which the server answers as MARSHALLINGERROR. */
		if (!a->id.id && (!strcmp(a->id.scheme, "world") || !strcmp(a->id.scheme, "digest") ||
				  !strcmp(a->id.scheme, "ip")))
			goto npe;
		if (!strcmp(a->id.scheme, "world") && !strcmp(a->id.id, "anyone")) {
			/* kept as is */
		} else if (!strcmp(a->id.scheme, "auth")) {
			int any = 0;

			if (!ordered) {
				ids_order(ids, order);
				ordered = 1;
			}
			for (k = 0; k < ids->n; k++) {
				const struct zk_id *id = &ids->v[order[k]];

				/* Only authenticated providers: digest (not ip, not super). Apache
				 * does not de-duplicate what the expansion adds. */
				if (strcmp(id->scheme, "digest"))
					continue;
				any = 1;
				out->v[out->n].perms = a->perms;
				out->v[out->n].id.scheme = strdup(id->scheme);
				out->v[out->n].id.id = strdup(id->id);
				out->n++;
			}
			if (!any)
				goto invalid;
			continue;
		} else if (!strcmp(a->id.scheme, "digest")) {
			if (!digest_id_valid(a->id.id))
				goto invalid;
		} else if (!strcmp(a->id.scheme, "ip")) {
			uint32_t ad;
			int bits;

			if (!parse_ip(a->id.id, &ad, &bits))
				goto invalid;
		} else {
			goto invalid;
		}
		out->v[out->n].perms = a->perms;
		out->v[out->n].id.scheme = strdup(a->id.scheme);
		out->v[out->n].id.id = strdup(a->id.id);
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
npe:
	free(order);
	zk_acl_list_release(out);
	return ZMARSHALLINGERROR;
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

	if (!acl || acl->n <= 0)
		return 0;
	if (!ids)
		return ZNOAUTH;
	if (ids->super)
		return 0;
	for (k = 0; k < ids->n; k++)
		if (!strcmp(ids->v[k].scheme, "super"))
			return 0;
	for (i = 0; i < acl->n; i++) {
		const struct zk_acl *a = &acl->v[i];
		int ip;

		if (!(a->perms & perm) || !a->id.scheme || !a->id.id)
			continue;
		if (!strcmp(a->id.scheme, "world") && !strcmp(a->id.id, "anyone"))
			return 0;
		/* Only schemes with a provider match (ip, digest); others never do. */
		ip = !strcmp(a->id.scheme, "ip");
		if (!ip && strcmp(a->id.scheme, "digest"))
			continue;
		for (k = 0; k < ids->n; k++) {
			const struct zk_id *id = &ids->v[k];

			if (strcmp(id->scheme, a->id.scheme))
				continue;
			if (ip ? ip_matches(a->id.id, id->id) : !strcmp(a->id.id, id->id))
				return 0;
		}
	}
	return ZNOAUTH;
}

/* Length of a Java line terminator at p (which '.' does not match), else 0. */
static size_t line_end(const unsigned char *p)
{
	if (p[0] == '\n' || p[0] == '\r')
		return 1;
	if (p[0] == 0xC2 && p[1] == 0x85)
		return 2;	/* U+0085 */
	if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
		return 3;	/* U+2028, U+2029 */
	return 0;
}

/* id.replaceAll(":.*", ":x"): every ':' up to the end of its line becomes ":x". */
static char *mask_id(const char *id)
{
	const unsigned char *p = (const unsigned char *)id;
	char *m = malloc(2 * strlen(id) + 1), *o = m;

	if (!m)
		return NULL;
	while (*p) {
		if (*p != ':') {
			*o++ = (char)*p++;
			continue;
		}
		*o++ = ':';
		*o++ = 'x';
		while (*p && !line_end(p))
			p++;
	}
	*o = 0;
	return m;
}

void acl_mask_digests(struct zk_acl_list *acl)
{
	int32_t i;

	if (zk_acl_list_unpack(acl))
		return;
	for (i = 0; i < acl->n; i++) {
		char *id = acl->v[i].id.id, *m;

		if (!acl->v[i].id.scheme || strcmp(acl->v[i].id.scheme, "digest") || !id)
			continue;
		m = mask_id(id);
		if (!m)
			continue;
		free(id);
		acl->v[i].id.id = m;
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

		/* ("super", "") is listed too: no provider, so the user is the id itself. */
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
