/* lg_fmt.c — number formatting for the offline narrator.
 *
 * snprintf with "%.Nf" does the rounding (glibc rounds the exact binary
 * value, so results are reproducible), then we insert thousands separators
 * ourselves instead of relying on the locale's grouping flag.
 */
#include "lg_fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "str.h"

/* Appends the absolute value of v with `dec` decimals and comma grouping. */
static int
s_grouped (buf_t *out, double v, int dec)
{
    char raw[64], res[96];
    if (snprintf (raw, sizeof raw, "%.*f", dec, fabs (v)) >= (int) sizeof raw)
        return BUF_E_TOOBIG;
    const char *dot = strchr (raw, '.');
    size_t ilen = dot ? (size_t) (dot - raw) : strlen (raw);
    size_t o = 0;
    for (size_t i = 0; i < ilen; i++) {
        if (i > 0 && (ilen - i) % 3 == 0)
            res[o++] = ',';
        res[o++] = raw[i];
    }
    res[o] = '\0';
    if (dot)
        str_append (res, sizeof res, dot);
    return buf_puts (out, res);
}

static bool
s_is (const char *unit, const char *name)
{
    return unit != NULL && str_ieq (unit, name);
}

int
lg_fmt_number (buf_t *out, double v, const char *unit)
{
    if (!isfinite (v))
        return buf_puts (out, "n/a");
    /* Avoid printing "-0.0". */
    bool neg = v < 0 && fabs (v) >= 0.005;
    int rc;
    if (s_is (unit, "usd")) {
        if ((rc = buf_puts (out, neg ? "-$" : "$")) != 0)
            return rc;
        return s_grouped (out, v, 2);
    }
    if (s_is (unit, "pct"))
        return buf_printf (out, "%.1f%%", fabs (v) < 0.05 ? 0.0 : v);
    if (s_is (unit, "ratio"))
        return buf_printf (out, "%.2f", fabs (v) < 0.005 ? 0.0 : v);
    if (s_is (unit, "count") || s_is (unit, "dbu")) {
        int dec = (v == floor (v) && !s_is (unit, "dbu")) ? 0 : 1;
        if (neg && (rc = buf_puts (out, "-")) != 0)
            return rc;
        if ((rc = s_grouped (out, v, dec)) != 0)
            return rc;
        return s_is (unit, "dbu") ? buf_puts (out, " DBU") : 0;
    }
    const char *suffix = s_is (unit, "minutes") ? " min"
                         : s_is (unit, "seconds") ? " s"
                         : s_is (unit, "hours")   ? " h"
                         : s_is (unit, "gb")      ? " GB"
                                                  : NULL;
    if (suffix)
        return buf_printf (out, "%.1f%s", fabs (v) < 0.05 ? 0.0 : v, suffix);
    char tmp[64];
    if (snprintf (tmp, sizeof tmp, "%.2f", fabs (v) < 0.005 ? 0.0 : v) >= (int) sizeof tmp)
        return BUF_E_TOOBIG;
    size_t n = strlen (tmp);
    while (n > 0 && tmp[n - 1] == '0')
        tmp[--n] = '\0';
    if (n > 0 && tmp[n - 1] == '.')
        tmp[--n] = '\0';
    return buf_puts (out, tmp);
}
