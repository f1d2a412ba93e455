/*
 * epochs.c: acceptedEpoch / currentEpoch (see epochs.h).
 */
#include "epochs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Java's Long.parseLong of the first line: digits with an optional sign, nothing else. */
static int parse_epoch(const uint8_t *p, size_t len, int64_t *out)
{
	char tmp[32];
	char *end;
	size_t n = 0;

	while (n < len && p[n] != '\n' && p[n] != '\r')
		n++;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (!(tmp[0] == '-' || tmp[0] == '+' || (tmp[0] >= '0' && tmp[0] <= '9')))
		return -1;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	return errno || *end ? -1 : 0;
}

/* 1 and *out set, 0 if the file is missing, -1 (errmsg set) if it cannot be read or parsed. */
static int read_epoch(struct vfs *v, const char *dir, const char *name, int64_t *out,
		      char *errmsg, size_t errlen)
{
	char path[4200];
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = vfs_read_all(v, path, &data, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		snprintf(errmsg, errlen, "cannot read %s: %s", path, strerror(-rc));
		return -1;
	}
	rc = parse_epoch(data, len, out);
	free(data);
	if (rc) {
		snprintf(errmsg, errlen, "%s does not hold an epoch", path);
		return -1;
	}
	return 1;
}

int epochs_write(struct vfs *v, const char *dir, const char *name, int64_t epoch,
		 char *errmsg, size_t errlen)
{
	char text[32], tmp[64];
	int n = snprintf(text, sizeof(text), "%" PRId64, epoch);

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	return vfs_write_atomic(v, dir, tmp, name, text, (size_t)n, NULL, errmsg, errlen) ? -1 : 0;
}

int epochs_load(struct vfs *v, const char *dir, int64_t last_zxid, int64_t *accepted,
		int64_t *current, char *errmsg, size_t errlen)
{
	int64_t zepoch = last_zxid > 0 ? (int64_t)((uint64_t)last_zxid >> 32) : 0;
	int rc;

	rc = read_epoch(v, dir, EPOCHS_CURRENT, current, errmsg, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*current = zepoch;
		if (epochs_write(v, dir, EPOCHS_CURRENT, *current, errmsg, errlen))
			return -1;
	}
	if (zepoch > *current) {
		int64_t t;

		/* Crashed after logging the new epoch's txns, before the rename: the tmp file
		 * has the epoch we had acknowledged (Apache takes it as it is). */
		rc = read_epoch(v, dir, EPOCHS_CURRENT ".tmp", &t, errmsg, errlen);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			*current = t;
			if (epochs_write(v, dir, EPOCHS_CURRENT, t, errmsg, errlen))
				return -1;
		} else {
			snprintf(errmsg, errlen, "%s/%s is %" PRId64 ", older than the epoch %" PRId64
				 " of the last logged zxid 0x%" PRIx64, dir, EPOCHS_CURRENT, *current,
				 zepoch, (uint64_t)last_zxid);
			return -1;
		}
	}
	rc = read_epoch(v, dir, EPOCHS_ACCEPTED, accepted, errmsg, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*accepted = zepoch;
		if (epochs_write(v, dir, EPOCHS_ACCEPTED, *accepted, errmsg, errlen))
			return -1;
	}
	if (*accepted < *current) {
		snprintf(errmsg, errlen, "%s/%s is %" PRId64 ", below %s %" PRId64, dir,
			 EPOCHS_ACCEPTED, *accepted, EPOCHS_CURRENT, *current);
		return -1;
	}
	return 0;
}
