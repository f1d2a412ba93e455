/*
 * sessions: the session tracker — ids, passwords, timeouts and expiry in tickTime buckets
 * (client-protocol.md §3.4, §3.5, §16). Pure: "now" is a monotonic ms value passed in.
 *
 * A session touched at t expires at ((t + timeout) / tick + 1) * tick. Expired sessions
 * are marked closing and handed to the caller, which commits a closeSession txn and then
 * calls sessions_remove(). A closing session cannot be touched or re-attached.
 */
#ifndef ZK_SESSIONS_H
#define ZK_SESSIONS_H

#include <stdint.h>
#include <stdio.h>

struct zk_sessions;

struct zk_sessions *sessions_new(int32_t tick_ms, int64_t server_id, int64_t now_ms);
void sessions_free(struct zk_sessions *s);

/* The next fresh session id ((sid << 56) | clock-based counter, never the container mark). */
int64_t sessions_next_id(struct zk_sessions *s);
/* Java's deterministic password: java.util.Random(id ^ 0xB3415C00).nextBytes(16). */
void sessions_password(int64_t session_id, uint8_t out[16]);

/* Adds (or re-adds after recovery) a live session with its timeout. 0 or -1 on OOM. */
int sessions_add(struct zk_sessions *s, int64_t id, int32_t timeout_ms, int64_t now_ms);
/* 0 if live (and its deadline is pushed), ZSESSIONEXPIRED if unknown or closing. */
int sessions_touch(struct zk_sessions *s, int64_t id, int64_t now_ms);
int sessions_exists(const struct zk_sessions *s, int64_t id);	/* live, not closing */
int32_t sessions_timeout(const struct zk_sessions *s, int64_t id);	/* -1 if unknown */
void sessions_set_closing(struct zk_sessions *s, int64_t id);
void sessions_remove(struct zk_sessions *s, int64_t id);

/* Marks every session due at now as closing and appends its id to out[] (up to max);
 * returns how many. */
int sessions_expire(struct zk_sessions *s, int64_t now_ms, int64_t *out, int max);
/* Next bucket boundary at which something may expire, or -1 when there are no sessions. */
int64_t sessions_next_deadline(const struct zk_sessions *s);

int64_t sessions_count(const struct zk_sessions *s);
/* For snapshots: every live or closing session and its timeout. */
void sessions_foreach(const struct zk_sessions *s,
		      void (*fn)(void *ctx, int64_t id, int32_t timeout_ms), void *ctx);
/* The dump 4lw's "Session Sets" part; wall_offset_ms converts monotonic to wall clock. */
void sessions_dump(const struct zk_sessions *s, int64_t wall_offset_ms, FILE *out);

#endif
