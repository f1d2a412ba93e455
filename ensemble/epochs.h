/*
 * epochs: the quorum's acceptedEpoch and currentEpoch files in <dataDir>/version-2, in
 * Apache ZooKeeper's format (../shared/spec/server-formats.md §9): the epoch as decimal
 * ASCII, no newline, written atomically through <name>.tmp. Zab persists them through the
 * learner's and the leader's epoch() callbacks before it goes on.
 */
#ifndef ZK_EPOCHS_H
#define ZK_EPOCHS_H

#include <stddef.h>
#include <stdint.h>

#include "vfs.h"

#define EPOCHS_ACCEPTED "acceptedEpoch"
#define EPOCHS_CURRENT "currentEpoch"

/*
 * Reads both files from dir (the version-2 directory) as Apache's QuorumPeer.loadDataBase
 * does, given the last logged zxid:
 *  - a missing file is recreated from the epoch of last_zxid;
 *  - currentEpoch below the epoch of last_zxid is an error, unless currentEpoch.tmp exists
 *    (a crash between logging the new epoch's txns and renaming the file): then its value
 *    is taken and the file written;
 *  - acceptedEpoch below currentEpoch is an error.
 * 0, or -1 with errmsg naming the file.
 */
int epochs_load(struct vfs *v, const char *dir, int64_t last_zxid, int64_t *accepted,
		int64_t *current, char *errmsg, size_t errlen);

/* Writes one of them (EPOCHS_ACCEPTED or EPOCHS_CURRENT) atomically. 0 or -1. */
int epochs_write(struct vfs *v, const char *dir, const char *name, int64_t epoch,
		 char *errmsg, size_t errlen);

#endif
