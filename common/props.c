/*
 * props.c: text in java.util.Properties syntax, as Apache ZooKeeper reads zoo.cfg and its
 * dynamic file (key=value, key:value or "key value" per logical line, # and ! comments,
 * backslash escapes and continuations, \uXXXX, last duplicate wins). Split from config.c.
 */
#include "props.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_putc(struct sbuf *b, char ch)
{
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 128;
		char *p = realloc(b->p, cap);

		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	b->p[b->len++] = ch;
	b->p[b->len] = 0;
	return 0;
}

void props_release(struct props *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->v[i].key);
		free(ps->v[i].value);
	}
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

struct prop *props_find(const struct props *ps, const char *key)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].key, key))
			return &ps->v[i];
	return NULL;
}

/* Takes ownership of key and value. A duplicate key replaces the value: last wins. */
static int props_set(struct props *ps, char *key, char *value, int line)
{
	struct prop *p = props_find(ps, key);

	if (p) {
		free(key);
		free(p->value);
		p->value = value;
		p->line = line;
		return 0;
	}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 32;
		struct prop *v = realloc(ps->v, cap * sizeof(*v));

		if (!v) {
			free(key);
			free(value);
			return -1;
		}
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n].key = key;
	ps->v[ps->n].value = value;
	ps->v[ps->n].line = line;
	ps->v[ps->n].used = 0;
	ps->n++;
	return 0;
}

static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\f';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int put_utf8(struct sbuf *b, unsigned cp)
{
	int rc = 0;

	if (cp < 0x80) {
		rc |= sb_putc(b, (char)cp);
	} else if (cp < 0x800) {
		rc |= sb_putc(b, (char)(0xC0 | (cp >> 6)));
		rc |= sb_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		rc |= sb_putc(b, (char)(0xE0 | (cp >> 12)));
		rc |= sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		rc |= sb_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		rc |= sb_putc(b, (char)(0xF0 | (cp >> 18)));
		rc |= sb_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		rc |= sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		rc |= sb_putc(b, (char)(0x80 | (cp & 0x3F)));
	}
	return rc;
}

static int read_u4(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int h = hexval(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	*out = v;
	return 0;
}

/*
 * Properties.loadConvert: \t \n \r \f, \uXXXX (written out as UTF-8; a surrogate pair is
 * joined), any other \x is x. Then String.trim() as ZooKeeper does (every char <= ' ').
 * Returns a malloc'd string, or NULL with *bad set for a malformed \u escape.
 */
static char *unescape_trim(const char *s, size_t n, int *bad)
{
	struct sbuf b = { 0 };
	size_t i = 0, start, end;
	char *out;

	*bad = 0;
	if (sb_putc(&b, 0))
		return NULL;
	b.len = 0;
	while (i < n) {
		char ch = s[i++];
		unsigned cp, lo;

		if (ch != '\\' || i == n) {
			if (sb_putc(&b, ch))
				goto oom;
			continue;
		}
		ch = s[i++];
		switch (ch) {
		case 't': ch = '\t'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 'f': ch = '\f'; break;
		case 'u':
			if (read_u4(s + i, n - i, &cp)) {
				*bad = 1;
				goto oom;
			}
			i += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && n - i >= 6 && s[i] == '\\' &&
			    s[i + 1] == 'u' && !read_u4(s + i + 2, n - i - 2, &lo) &&
			    lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			}
			if (put_utf8(&b, cp))
				goto oom;
			continue;
		default:
			break;
		}
		if (sb_putc(&b, ch))
			goto oom;
	}
	start = 0;
	end = b.len;
	while (start < end && (unsigned char)b.p[start] <= ' ')
		start++;
	while (end > start && (unsigned char)b.p[end - 1] <= ' ')
		end--;
	out = strndup(b.p + start, end - start);
	free(b.p);
	return out;
oom:
	free(b.p);
	return NULL;
}

/* Properties.load0: the key ends at the first unescaped '=', ':' or blank. */
static int split_line(struct props *ps, const char *line, size_t len, int lineno,
		      const char *src, char *errmsg, size_t errlen)
{
	size_t klen = 0, vstart = len;
	int has_sep = 0, bs = 0, bad = 0;
	char *key, *value;

	while (klen < len) {
		char ch = line[klen];

		if ((ch == '=' || ch == ':') && !bs) {
			vstart = klen + 1;
			has_sep = 1;
			break;
		}
		if (is_ws(ch) && !bs) {
			vstart = klen + 1;
			break;
		}
		bs = ch == '\\' ? !bs : 0;
		klen++;
	}
	while (vstart < len) {
		char ch = line[vstart];

		if (!is_ws(ch)) {
			if (!has_sep && (ch == '=' || ch == ':'))
				has_sep = 1;
			else
				break;
		}
		vstart++;
	}
	key = unescape_trim(line, klen, &bad);
	if (!key)
		goto fail;
	value = unescape_trim(line + vstart, len - vstart, &bad);
	if (!value) {
		free(key);
		goto fail;
	}
	if (props_set(ps, key, value, lineno))
		goto fail;
	return 0;
fail:
	if (bad)
		snprintf(errmsg, errlen, "%s:%d: malformed \\uxxxx escape", src, lineno);
	else
		snprintf(errmsg, errlen, "%s:%d: out of memory", src, lineno);
	return -1;
}

/* Consumes one line terminator (\n, \r or \r\n) at *i, if there is one. */
static int eat_newline(const char *t, size_t len, size_t *i)
{
	if (*i < len && t[*i] == '\r') {
		(*i)++;
		if (*i < len && t[*i] == '\n')
			(*i)++;
		return 1;
	}
	if (*i < len && t[*i] == '\n') {
		(*i)++;
		return 1;
	}
	return 0;
}

/*
 * Properties.LineReader: blank lines and lines whose first non-blank char is '#' or '!' are
 * skipped; a line ending in an odd number of backslashes continues on the next line, whose
 * leading blanks are dropped (an empty continuation line ends the logical line). Lines end
 * at \n, \r or \r\n. Each pair is recorded with the number of the line it starts on.
 */
int props_parse(struct props *ps, const char *t, size_t len, const char *src,
		char *errmsg, size_t errlen)
{
	struct sbuf raw = { 0 };
	size_t i = 0;
	int lineno = 1, rc = -1;

	while (i < len) {
		int start_line;

		while (i < len && is_ws(t[i]))
			i++;
		if (eat_newline(t, len, &i)) {
			lineno++;
			continue;
		}
		if (i >= len)
			break;
		if (t[i] == '#' || t[i] == '!') {
			while (i < len && t[i] != '\r' && t[i] != '\n')
				i++;
			if (eat_newline(t, len, &i))
				lineno++;
			continue;
		}
		start_line = lineno;
		raw.len = 0;
		for (;;) {
			size_t seg = raw.len, nb = 0;
			int at_eof;

			while (i < len && t[i] != '\r' && t[i] != '\n')
				if (sb_putc(&raw, t[i++]))
					goto oom;
			while (raw.len - nb > seg && raw.p[raw.len - nb - 1] == '\\')
				nb++;
			at_eof = !eat_newline(t, len, &i);
			if (!at_eof)
				lineno++;
			if (nb % 2 == 0)
				break;
			raw.len--;	/* the continuation backslash */
			if (at_eof)
				break;
			while (i < len && is_ws(t[i]))
				i++;
		}
		if (split_line(ps, raw.p ? raw.p : "", raw.len, start_line, src, errmsg, errlen))
			goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(errmsg, errlen, "%s: out of memory", src);
out:
	free(raw.p);
	return rc;
}

int props_read_file(const char *path, char **out, size_t *outlen, char *errmsg,
		    size_t errlen, const char *what)
{
	FILE *f = fopen(path, "rb");
	struct sbuf b = { 0 };
	char chunk[4096];
	size_t n;

	if (!f) {
		snprintf(errmsg, errlen, "%s: cannot read %s: %s", path, what, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		size_t k;

		for (k = 0; k < n; k++)
			if (sb_putc(&b, chunk[k])) {
				fclose(f);
				free(b.p);
				snprintf(errmsg, errlen, "%s: out of memory", path);
				return -1;
			}
	}
	if (ferror(f)) {
		snprintf(errmsg, errlen, "%s: cannot read %s: %s", path, what, strerror(errno));
		fclose(f);
		free(b.p);
		return -1;
	}
	fclose(f);
	*out = b.p ? b.p : strdup("");
	*outlen = b.len;
	return *out ? 0 : -1;
}
