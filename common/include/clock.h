/* clock.h — time helpers. Wall-clock time is used only for logs, deadlines
 * and timestamps; never for report figures (those use the data's dates). */
#ifndef COPILOT_CLOCK_H
#define COPILOT_CLOCK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms (void);
/* Monotonic milliseconds / nanoseconds (CLOCK_MONOTONIC), for durations. */
int64_t clock_mono_ms (void);
int64_t clock_mono_ns (void);
/* Formats `ms` since the epoch as RFC 3339 UTC with milliseconds
 * ("2026-11-24T05:19:20.123Z") into out (>= 25 bytes). Returns 0 or -1. */
int clock_rfc3339 (int64_t ms, char *out, size_t size);
/* Sleeps `ms` milliseconds (nanosleep, restarted on EINTR unless *stop). */
void clock_sleep_ms (int64_t ms);
/* Parses "YYYY-MM-DD" strictly into days since 1970-01-01. 0 or -1. */
int clock_parse_date (const char *s, int64_t *days_out);
/* Formats days since the epoch as "YYYY-MM-DD" into out (>= 11 bytes). */
int clock_format_date (int64_t days, char *out, size_t size);

#endif
