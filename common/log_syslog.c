/*
 * The syslog side of log.c, in a file of its own because <syslog.h> defines LOG_INFO and
 * LOG_DEBUG as macros, which would clash with log.h's level names.
 */
#include <syslog.h>

void log_syslog_open(const char *ident);
void log_syslog_write(int level, const char *msg);

void log_syslog_open(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* level: log.h's order (error, warn, info, debug). */
void log_syslog_write(int level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	syslog(prio[level < 0 ? 0 : level > 3 ? 3 : level], "%s", msg);
}
