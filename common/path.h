/*
 * path: ZooKeeper path validation, as Apache's PathUtils.validatePath judges the UTF-16 form
 * of a path (client-protocol.md §7.14), applied to the UTF-8 bytes clients send.
 *
 * Valid iff non-empty, starts with '/', and unless it is "/": no trailing '/', no empty
 * component, no "." or ".." component, and no character that Java rejects: NUL,
 * U+0001-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF. Bytes that are not UTF-8
 * decode to U+FFFD in Java, and 4-byte sequences to surrogates, so both are invalid too.
 */
#ifndef ZK_PATH_H
#define ZK_PATH_H

#include <stddef.h>

/* 1 if valid, else 0 and *why (if given) points at a static reason. */
int path_valid(const char *p, size_t len, const char **why);

#endif
