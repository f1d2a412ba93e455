#include "path.h"

#include <stdint.h>

static int bad_char(uint32_t c)
{
	return c == 0 || (c >= 0x01 && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
	       (c >= 0xD800 && c <= 0xF8FF) || (c >= 0xFFF0 && c <= 0xFFFF);
}

/* Decodes one UTF-8 character; returns its length, or 0 for a sequence Java would turn
 * into U+FFFD (or into surrogates, for 4-byte sequences): both are invalid in a path. */
static size_t utf8_next(const unsigned char *p, size_t left, uint32_t *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xE0) == 0xC0 && left >= 2 && (p[1] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
		return *cp >= 0x80 ? 2 : 0;
	}
	if ((p[0] & 0xF0) == 0xE0 && left >= 3 && (p[1] & 0xC0) == 0x80 &&
	    (p[2] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) |
		      (p[2] & 0x3F);
		return *cp >= 0x800 ? 3 : 0;
	}
	return 0;
}

int path_valid(const char *p, size_t len, const char **why)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, start;
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!p || len == 0) {
		*why = "path length must be > 0";
		return 0;
	}
	if (s[0] != '/') {
		*why = "path must start with / character";
		return 0;
	}
	if (len == 1)
		return 1;
	if (s[len - 1] == '/') {
		*why = "path must not end with / character";
		return 0;
	}
	for (i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_next(s + i, len - i, &c);

		if (!n || bad_char(c)) {
			*why = "invalid character in path";
			return 0;
		}
		i += n;
	}
	for (start = 1; start <= len; ) {
		size_t end = start;

		while (end < len && s[end] != '/')
			end++;
		if (end == start) {
			*why = "empty node name specified";
			return 0;
		}
		if ((end - start == 1 && s[start] == '.') ||
		    (end - start == 2 && s[start] == '.' && s[start + 1] == '.')) {
			*why = "relative paths not allowed";
			return 0;
		}
		start = end + 1;
	}
	return 1;
}
