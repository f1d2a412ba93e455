#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static int level = -1;
static int to_syslog;

void log_syslog_open(const char *ident);
void log_syslog_write(int level, const char *msg);

void log_use_syslog(const char *ident)
{
	log_syslog_open(ident);
	to_syslog = 1;
}

static const char *names[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };

void log_set_level(enum log_level l)
{
	level = l;
}

int log_enabled(enum log_level l)
{
	if (level < 0) {
		const char *e = getenv("ZK_LOG_LEVEL");

		level = LOG_INFO;
		if (e && !strcasecmp(e, "error"))
			level = LOG_ERROR;
		else if (e && !strcasecmp(e, "warn"))
			level = LOG_WARN;
		else if (e && !strcasecmp(e, "debug"))
			level = LOG_DEBUG;
	}
	return (int)l <= level;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (!log_enabled(l))
		return;
	if (to_syslog) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		log_syslog_write((int)l, line);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03d %s ", ts, (int)(tv.tv_usec / 1000), names[l]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	/* One fputs per line so lines from threads do not interleave. */
	n = (int)strlen(line);
	line[n] = '\n';
	line[n + 1] = 0;
	fputs(line, stderr);
}
