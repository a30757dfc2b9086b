/* rs_anomaly.c — z-score anomaly detector, a faithful port of the
 * reference's StatisticalAnomalyDetector (see rs_anomaly.h for the rules).
 *
 * Design: stateless; the engine groups its daily series by entity and calls
 * rs_anomaly_scan once per entity. To reproduce NumPy exactly, the mean is
 * pairwise_sum(history) / n and σ = sqrt(pairwise_sum((h - mean)^2) / n),
 * which is what np.mean and np.std (ddof 0) compute for float64 arrays.
 */
#include "rs_anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

rs_anomaly_opts_t
rs_anomaly_defaults (void)
{
    rs_anomaly_opts_t o = {3.0, 14, true, 7, 5.0, 4.0, 3.0};
    return o;
}

double
rs_pairwise_sum (const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + (size_t) j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return rs_pairwise_sum (a, n2) + rs_pairwise_sum (a + n2, n - n2);
}

rs_severity_t
rs_anomaly_severity (double z, const rs_anomaly_opts_t *o)
{
    double az = fabs (z);
    if (az > o->critical_z)
        return RS_SEV_CRITICAL;
    if (az > o->high_z)
        return RS_SEV_HIGH;
    if (az > o->medium_z)
        return RS_SEV_MEDIUM;
    return RS_SEV_LOW;
}

const char *
rs_severity_name (rs_severity_t s)
{
    switch (s) {
    case RS_SEV_CRITICAL: return "critical";
    case RS_SEV_HIGH: return "high";
    case RS_SEV_MEDIUM: return "medium";
    default: return "low";
    }
}

int
rs_severity_parse (const char *name)
{
    static const char *names[] = {"low", "medium", "high", "critical"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp (name, names[i]) == 0)
            return i;
    return -1;
}

int
rs_anomaly_scan (const double *values, size_t n, const rs_anomaly_opts_t *o, rs_anomaly_t *out,
                 size_t cap)
{
    if (!o || !(o->z_threshold > 0) || o->min_history < 1 || o->window < 0 || (n > 0 && !values))
        return -1;
    size_t minh = (size_t) o->min_history, win = (size_t) o->window;
    if (n < minh)
        return 0;
    size_t maxh = o->rolling ? win + minh : n;
    double *dev = malloc (sizeof *dev * (maxh ? maxh : 1));
    if (!dev)
        return -1;
    int found = 0;
    for (size_t i = minh; i < n; i++) {
        size_t start = 0;
        if (o->rolling && i > win + minh)
            start = i - win - minh;
        const double *h = values + start;
        size_t hn = i - start;
        double mean = rs_pairwise_sum (h, hn) / (double) hn;
        for (size_t k = 0; k < hn; k++) {
            double d = h[k] - mean;
            dev[k] = d * d;
        }
        double sd = sqrt (rs_pairwise_sum (dev, hn) / (double) hn);
        if (sd == 0.0)
            continue;
        double x = values[i];
        double z = (x - mean) / sd;
        if (!(fabs (z) > o->z_threshold))
            continue;
        if ((size_t) found < cap) {
            rs_anomaly_t *a = &out[found];
            memset (a, 0, sizeof *a);
            a->index = i;
            a->value = x;
            a->expected = mean;
            a->expected_low = mean - o->z_threshold * sd;
            a->expected_high = mean + o->z_threshold * sd;
            a->z = z;
            a->pct_deviation = mean > 0 ? (x - mean) / mean * 100.0 : 0.0;
            a->severity = rs_anomaly_severity (z, o);
            a->hist_mean = mean;
            a->hist_std = sd;
            a->hist_min = h[0];
            a->hist_max = h[0];
            for (size_t k = 1; k < hn; k++) {
                if (h[k] < a->hist_min)
                    a->hist_min = h[k];
                if (h[k] > a->hist_max)
                    a->hist_max = h[k];
            }
            a->hist_n = hn;
            a->previous = values[i - 1];
        }
        found++;
    }
    free (dev);
    return found;
}
