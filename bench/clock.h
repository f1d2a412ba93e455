/* bench/clock.h: the clocks zkload and zkload_st share. */
#ifndef ZK_BENCH_CLOCK_H
#define ZK_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: with the C client at 32 sessions it, not the server, sets the
 * pace on a small machine, and the bench reports it per create to show that. */
static inline double cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#endif
