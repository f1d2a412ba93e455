/*
 * zkclient_wire.c: the client library's framing (length-prefixed frames out of a byte
 * stream, with a size limit) and the parsing of "host:port,host:port/chroot" server
 * lists. Split from zkclient.c; the contract is in zkclient_i.h / zkclient.h.
 */
#include "zkclient.h"
#include "zkclient_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- frames ---------------------------------------------------------------------------- */

void zkc_framer_init(struct zkc_framer *f, int32_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void zkc_framer_release(struct zkc_framer *f)
{
	free(f->body);
	f->body = NULL;
	f->hdr_have = 0;
	f->body_have = 0;
}

int zkc_framer_feed(struct zkc_framer *f, const uint8_t **p, size_t *n,
		    uint8_t **frame, int32_t *len)
{
	while (*n > 0) {
		if (f->hdr_have < 4) {
			size_t k = 4 - f->hdr_have;

			if (k > *n)
				k = *n;
			memcpy(f->hdr + f->hdr_have, *p, k);
			f->hdr_have += k;
			*p += k;
			*n -= k;
			if (f->hdr_have < 4)
				return 0;
			f->body_len = be32_get(f->hdr);
			if (f->body_len < 0 || f->body_len > f->max)
				return ZMARSHALLINGERROR;
			/* One spare byte so that an empty frame still has a non-NULL buffer. */
			f->body = malloc((size_t)f->body_len + 1);
			if (!f->body)
				return ZMARSHALLINGERROR;
			f->body_have = 0;
		}
		if (f->body_have < (size_t)f->body_len) {
			size_t k = (size_t)f->body_len - f->body_have;

			if (k > *n)
				k = *n;
			memcpy(f->body + f->body_have, *p, k);
			f->body_have += k;
			*p += k;
			*n -= k;
		}
		if (f->body_have == (size_t)f->body_len)
			break;
	}
	if (f->hdr_have < 4 || f->body_have < (size_t)f->body_len)
		return 0;
	*frame = f->body;
	*len = f->body_len;
	f->body = NULL;
	f->hdr_have = 0;
	f->body_have = 0;
	return 1;
}

/* ---- server list ----------------------------------------------------------------------- */

int zkc_parse_servers(const char *s, struct zkc_hostport **hosts, int *nhosts, char **chroot)
{
	const char *slash, *end, *q;
	struct zkc_hostport *h = NULL;
	int n = 0;

	*hosts = NULL;
	*nhosts = 0;
	*chroot = NULL;
	if (!s || !*s)
		return ZBADARGUMENTS;
	slash = strchr(s, '/');
	end = slash ? slash : s + strlen(s);
	for (q = s; q < end;) {
		const char *comma = memchr(q, ',', (size_t)(end - q));
		const char *e = comma ? comma : end;
		const char *colon = NULL, *hs = q, *he;
		struct zkc_hostport *nh;
		size_t hl;

		/* [v6addr]:port, or host:port with the last colon as separator */
		if (*q == '[') {
			const char *rb = memchr(q, ']', (size_t)(e - q));

			if (!rb)
				goto bad;
			hs = q + 1;
			he = rb;
			if (rb + 1 < e && rb[1] == ':')
				colon = rb + 1;
		} else {
			const char *c;

			for (c = q; c < e; c++)
				if (*c == ':')
					colon = c;
			he = colon ? colon : e;
		}
		hl = (size_t)(he - hs);
		if (hl == 0 || hl >= sizeof(h->host))
			goto bad;
		nh = realloc(h, sizeof(*h) * (size_t)(n + 1));
		if (!nh)
			goto bad;
		h = nh;
		memcpy(h[n].host, hs, hl);
		h[n].host[hl] = 0;
		h[n].port = 2181;
		if (colon) {
			char *ep;
			long port = strtol(colon + 1, &ep, 10);

			if (ep != e || port <= 0 || port > 65535)
				goto bad;
			h[n].port = (int)port;
		}
		n++;
		q = comma ? comma + 1 : end;
	}
	if (n == 0)
		goto bad;
	if (slash && strcmp(slash, "/") != 0) {
		size_t l = strlen(slash);

		if (slash[l - 1] == '/' || strstr(slash, "//"))
			goto bad;
		*chroot = strdup(slash);
	} else {
		*chroot = strdup("");
	}
	if (!*chroot)
		goto bad;
	*hosts = h;
	*nhosts = n;
	return 0;
bad:
	free(h);
	return ZBADARGUMENTS;
}
