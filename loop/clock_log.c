/*
 * loop/clock_log.c - the real env's clock and logger.
 *
 * Clock: CLOCK_MONOTONIC in seconds (a double), the one clock of the env;
 * timers, receive stamps and stream deadlines are all on it.
 *
 * Logger: memberlist-shaped lines, "2026/11/25 18:00:00 [INFO] memberlist:
 * msg", to cfg.log_fd with one write() each. The wall-clock timestamp is
 * for people reading the log only; nothing is timed with it.
 */
#include "loop/loop_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double
nc__loop_ts_seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

double
nc__loop_mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return nc__loop_ts_seconds(&ts);
}

double
nc__loop_op_now(struct nc_env *env)
{
	(void)env;
	return nc__loop_mono_now();
}

static const char *
level_name(enum nc_log_level level)
{
	switch (level) {
	case NC_LOG_DEBUG:
		return "DEBUG";
	case NC_LOG_INFO:
		return "INFO";
	case NC_LOG_WARN:
		return "WARN";
	default:
		return "ERR";
	}
}

/**
 * "2026/11/25 18:00:00 [INFO] memberlist: msg\n", written with one
 * write() so lines from several processes sharing a file do not mix.
 */
void
nc__loop_op_log(struct nc_env *env, enum nc_log_level level, const char *module,
		const char *msg)
{
	struct nc_env_real *e = nc__loop_real(env);
	if (level < env->log_level)
		return;
	char line[1024];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);
	int m = snprintf(line + n, sizeof(line) - (size_t)n, "[%s] %s: %s\n",
			 level_name(level), module, msg);
	size_t len = (size_t)n + (size_t)m;
	if (len >= sizeof(line)) {
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	ssize_t w = write(e->cfg.log_fd, line, len);
	(void)w;
}

void
nc__loop_logf(struct nc_env_real *e, enum nc_log_level level, const char *fmt,
	      ...)
{
	if (level < e->base.log_level)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nc__loop_op_log(&e->base, level, "memberlist", msg);
}
