/* log.h — structured logging: one JSON object per line on stderr.
 *
 * Fields: ts (RFC 3339 UTC, ms), level, service, pid, event, msg, then the
 * thread's current request_id/trace_id (if set) and caller key/values.
 * All strings go through one JSON escaper. Thread-safe (one write(2) per line).
 */
#ifndef COPILOT_LOG_H
#define COPILOT_LOG_H
#include <stdarg.h>
#include <stdbool.h>

/* A line never exceeds LOG_LINE_MAX bytes (newline included): PIPE_BUF on
 * Linux, so one write(2) to a pipe is atomic and lines from concurrent
 * threads/processes never interleave. Longer messages and values are cut on
 * a character boundary and end with LOG_TRUNC_MARK. Request/trace ids are
 * kept up to LOG_ID_MAX - 1 bytes. */
#define LOG_LINE_MAX 4096
#define LOG_ID_MAX 128
#define LOG_TRUNC_MARK "...[truncated]"

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_FATAL = 4 } log_level_t;

/* Sets the service name stamped on every line (copied). Call once at start. */
void log_init (const char *service, log_level_t min_level);

/* Changes the minimum level; lines below it are dropped. */
void log_set_level (log_level_t level);

/* Parses "debug|info|warn|error|fatal" (case-insensitive). Returns 0 and sets
 * *out, or -1 when the text is not a level name. */
int log_level_parse (const char *text, log_level_t *out);

/* Sets (or clears with NULL) the calling thread's request and trace ids,
 * which are added to every line this thread logs. Strings are copied. */
void log_set_context (const char *request_id, const char *trace_id);

/* Emits one line. `event` is a short machine name ("request.done"); `fmt`
 * is a printf format for the human message `msg`. Optional extra fields are
 * passed with log_emitkv. */
void log_emit (log_level_t level, const char *event, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Like log_emit with a literal message, plus `nkv` extra string fields:
 * kv holds 2*nkv strings, kv[0]=key0, kv[1]=value0, ... A NULL key skips the
 * pair, a NULL value is logged as null. A key that collides with a standard
 * field (ts, level, service, pid, event, msg, request_id, trace_id) is
 * emitted as "x_<key>". If the pairs do not all fit in the line, the rest are
 * dropped and "kv_truncated":true is added. Never exits, even for LOG_FATAL. */
void log_emitkv (log_level_t level, const char *event, const char *msg,
                 const char *const *kv, int nkv);

/* Redirects output to `fd` (default 2). For tests. A write that fails
 * (EAGAIN, EPIPE, ...) drops the line; logging never blocks on retries. */
void log_set_fd (int fd);

#define log_debug(ev, ...) log_emit (LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  log_emit (LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_emit (LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit (LOG_ERROR, ev, __VA_ARGS__)

#endif
