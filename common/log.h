/*
 * log: one-line log messages to stderr, "2026-11-23 20:32:48.123 WARN  message" (or to
 * syslog after log_use_syslog()).
 * The level comes from ZK_LOG_LEVEL (error, warn, info, debug; default info).
 * Library code logs and returns; it never exits.
 */
#ifndef ZK_LOG_H
#define ZK_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
/* From now on messages go to syslog (facility daemon) as ident instead of stderr: for a
 * daemon whose stderr is /dev/null. */
void log_use_syslog(const char *ident);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
