/* dl_time.h — calendar arithmetic in UTC without the C library's time zone
 * machinery (deterministic, allocation-free, fast enough for tens of
 * millions of timestamps). Days count from 1970-01-01; seconds from the
 * epoch. Formats are the telemetry DB's: 'YYYY-MM-DD' and
 * 'YYYY-MM-DD HH:MM:SS'. */
#ifndef COPILOT_DL_TIME_H
#define COPILOT_DL_TIME_H
#include <stddef.h>
#include <stdint.h>

#define DL_DAY_SECONDS 86400

/* Days since 1970-01-01 of the civil date y-m-d (proleptic Gregorian). */
int64_t dl_days_from_civil (int y, int m, int d);
/* Inverse of dl_days_from_civil. */
void dl_civil_from_days (int64_t days, int *y, int *m, int *d);
/* Day of week, 0 = Monday .. 6 = Sunday. */
int dl_weekday (int64_t days);
/* Writes 'YYYY-MM-DD' (11 bytes with NUL) into out. */
void dl_fmt_date (int64_t days, char out[11]);
/* Writes 'YYYYMMDD' (9 bytes with NUL) into out. */
void dl_fmt_ymd (int64_t days, char out[9]);
/* Writes 'YYYY-MM-DD HH:MM:SS' (20 bytes with NUL) into out. */
void dl_fmt_ts (int64_t secs, char out[20]);
/* Parses 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DDTHH:MM:SS' with an
 * optional fraction and an optional 'Z' or '+00:00'/'-hh:mm' offset, into
 * seconds since the epoch (UTC). 0 or -1 when malformed. */
int dl_parse_ts (const char *s, int64_t *secs_out);
/* Parses 'YYYY-MM-DD' strictly into days. 0 or -1. */
int dl_parse_date (const char *s, int64_t *days_out);

#endif
