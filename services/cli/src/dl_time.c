/* dl_time.c — civil-date arithmetic (Howard Hinnant's days_from_civil /
 * civil_from_days algorithms) and fixed-width formatting by hand, because
 * the generator formats tens of millions of timestamps and must not depend
 * on TZ or locale. */
#include "dl_time.h"

#include <string.h>

int64_t
dl_days_from_civil (int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (unsigned) ((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

void
dl_civil_from_days (int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned) (z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t) yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned dd = doy - (153 * mp + 2) / 5 + 1;
    const unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int) (yy + (mm <= 2));
    *m = (int) mm;
    *d = (int) dd;
}

int
dl_weekday (int64_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday = 0). */
    int64_t w = (days + 3) % 7;
    return (int) (w < 0 ? w + 7 : w);
}

static void
s_put2 (char *p, int v)
{
    p[0] = (char) ('0' + (v / 10) % 10);
    p[1] = (char) ('0' + v % 10);
}

static void
s_put4 (char *p, int v)
{
    p[0] = (char) ('0' + (v / 1000) % 10);
    p[1] = (char) ('0' + (v / 100) % 10);
    p[2] = (char) ('0' + (v / 10) % 10);
    p[3] = (char) ('0' + v % 10);
}

void
dl_fmt_date (int64_t days, char out[11])
{
    int y, m, d;
    dl_civil_from_days (days, &y, &m, &d);
    s_put4 (out, y);
    out[4] = '-';
    s_put2 (out + 5, m);
    out[7] = '-';
    s_put2 (out + 8, d);
    out[10] = '\0';
}

void
dl_fmt_ymd (int64_t days, char out[9])
{
    int y, m, d;
    dl_civil_from_days (days, &y, &m, &d);
    s_put4 (out, y);
    s_put2 (out + 4, m);
    s_put2 (out + 6, d);
    out[8] = '\0';
}

void
dl_fmt_ts (int64_t secs, char out[20])
{
    int64_t days = secs >= 0 ? secs / DL_DAY_SECONDS : -((-secs + DL_DAY_SECONDS - 1) / DL_DAY_SECONDS);
    int64_t rem = secs - days * DL_DAY_SECONDS;
    dl_fmt_date (days, out);
    out[10] = ' ';
    s_put2 (out + 11, (int) (rem / 3600));
    out[13] = ':';
    s_put2 (out + 14, (int) (rem / 60 % 60));
    out[16] = ':';
    s_put2 (out + 17, (int) (rem % 60));
    out[19] = '\0';
}

static int
s_digits (const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int
s_parse_date_prefix (const char *s, int64_t *days)
{
    int y, m, d;
    if (strlen (s) < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    if (s_digits (s, 4, &y) || s_digits (s + 5, 2, &m) || s_digits (s + 8, 2, &d))
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    int64_t z = dl_days_from_civil (y, m, d);
    int yy, mm, dd;
    dl_civil_from_days (z, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d)
        return -1; /* 2025-02-30 */
    *days = z;
    return 0;
}

int
dl_parse_date (const char *s, int64_t *days_out)
{
    if (!s || strlen (s) != 10)
        return -1;
    return s_parse_date_prefix (s, days_out);
}

int
dl_parse_ts (const char *s, int64_t *secs_out)
{
    int64_t days;
    if (!s || s_parse_date_prefix (s, &days))
        return -1;
    const char *p = s + 10;
    int64_t secs = days * DL_DAY_SECONDS;
    if (*p == '\0') {
        *secs_out = secs;
        return 0;
    }
    if (*p != ' ' && *p != 'T')
        return -1;
    p++;
    int hh, mi, ss = 0;
    if (strlen (p) < 5 || p[2] != ':' || s_digits (p, 2, &hh) || s_digits (p + 3, 2, &mi))
        return -1;
    p += 5;
    if (*p == ':') {
        if (s_digits (p + 1, 2, &ss))
            return -1;
        p += 3;
    }
    if (hh > 23 || mi > 59 || ss > 60)
        return -1;
    secs += hh * 3600 + mi * 60 + ss;
    if (*p == '.') { /* fraction: ignored (second resolution) */
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (s_digits (p, 2, &oh))
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (s_digits (p, 2, &om))
            return -1;
        p += 2;
        secs -= sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0')
        return -1;
    *secs_out = secs;
    return 0;
}
