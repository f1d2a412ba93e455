/*
 * props: java.util.Properties text, the syntax of zoo.cfg (quorum-protocol.md §1.1). Used
 * by config.c; not a public API.
 */
#ifndef ZK_PROPS_H
#define ZK_PROPS_H

#include <stddef.h>

struct prop {
	char *key;
	char *value;
	int line;		/* where the key started */
	int used;		/* consumed by the loader (unknown keys are the rest) */
};

struct props {
	struct prop *v;
	size_t n, cap;
};

/* Parses text into ps (a later duplicate key replaces an earlier one). 0, or -1 with
 * errmsg naming src and the line. */
int props_parse(struct props *ps, const char *t, size_t len, const char *src,
		char *errmsg, size_t errlen);
struct prop *props_find(const struct props *ps, const char *key);
void props_release(struct props *ps);

/* The whole file at path (NUL-terminated, *outlen bytes); errmsg says what it is ("config",
 * "myid", ...) on failure. 0 or -1. */
int props_read_file(const char *path, char **out, size_t *outlen, char *errmsg,
		    size_t errlen, const char *what);

#endif
