/* clock.c — time helpers.
 *
 * Wall-clock time (CLOCK_REALTIME) is only for log timestamps, deadlines
 * carried on the wire and record stamps; durations use CLOCK_MONOTONIC.
 *
 * Civil-date conversion uses Howard Hinnant's days_from_civil /
 * civil_from_days algorithms (proleptic Gregorian calendar, exact for any
 * int64 day count we can meet), so no timegm()/gmtime_r() and no TZ
 * dependence. Negative values (before 1970) use floor division.
 *
 * Threading: every function is reentrant.
 */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t
clock_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
clock_mono_ms (void)
{
    return clock_mono_ns () / 1000000;
}

void
clock_sleep_ms (int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec req = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L };
    struct timespec rem;
    while (nanosleep (&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

static int64_t
s_floor_div (int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static int64_t
s_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = s_floor_div (y, 400);
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void
s_civil_from_days (int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = s_floor_div (z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool
s_leap (int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_days_in_month (int64_t y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return (m == 2 && s_leap (y)) ? 29 : dim[m - 1];
}

int
clock_rfc3339 (int64_t ms, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return -1;
    int64_t days = s_floor_div (ms, 86400000);
    int64_t rest = ms - days * 86400000;   /* [0, 86399999] */
    int64_t y;
    int mo, d;
    if (days < -719528 || days > 2932896) {
        out[0] = '\0';
        return -1;
    }
    s_civil_from_days (days, &y, &mo, &d);
    if (y < 0 || y > 9999) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf (out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int) y, mo, d,
                      (int) (rest / 3600000), (int) (rest / 60000 % 60), (int) (rest / 1000 % 60),
                      (int) (rest % 1000));
    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}

static int
s_digits (const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int
clock_parse_date (const char *s, int64_t *days_out)
{
    if (s == NULL || days_out == NULL)
        return -1;
    /* Exactly "YYYY-MM-DD": 10 characters, dashes at 4 and 7. */
    for (int i = 0; i < 10; i++) {
        if (s[i] == '\0')
            return -1;
    }
    if (s[10] != '\0' || s[4] != '-' || s[7] != '-')
        return -1;
    int y = s_digits (s, 4), m = s_digits (s + 5, 2), d = s_digits (s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > s_days_in_month (y, m))
        return -1;
    *days_out = s_days_from_civil (y, m, d);
    return 0;
}

int
clock_format_date (int64_t days, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return -1;
    int64_t y;
    int m, d;
    /* 0000-01-01 .. 9999-12-31; also keeps the arithmetic far from overflow. */
    if (days < -719528 || days > 2932896) {
        out[0] = '\0';
        return -1;
    }
    s_civil_from_days (days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf (out, size, "%04d-%02d-%02d", (int) y, m, d);
    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}
