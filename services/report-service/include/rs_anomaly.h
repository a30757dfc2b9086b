/* rs_anomaly.h — the reference's statistical cost-anomaly detector
 * (seed-copilot §7, ml_statistical_forecasting/anomaly_detector.py), in C.
 *
 * For one entity's series (values in date order, missing days NOT filled):
 *   - series shorter than min_history: no anomalies;
 *   - for each index i in [min_history, n): history = values[max(0, i - window
 *     - min_history), i) with the rolling window (up to window + min_history
 *     previous points, 21 with the defaults), else values[0, i);
 *   - mean and POPULATION standard deviation σ (ddof 0) of the history; the
 *     point is skipped when σ == 0;
 *   - z = (x - mean) / σ; anomaly when |z| > z_threshold (strict);
 *   - expected = mean, range = mean ± z_threshold·σ;
 *   - pct_deviation = (x - mean) / mean · 100, or 0 when mean <= 0;
 *   - severity: |z| > critical_z → critical, > high_z → high, > medium_z →
 *     medium, otherwise low (5 / 4 / 3 by default).
 * Sums use NumPy's pairwise summation so means and σ match the reference
 * bit for bit on the same inputs. Pure functions, thread-safe.
 */
#ifndef RS_ANOMALY_H
#define RS_ANOMALY_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { RS_SEV_LOW = 0, RS_SEV_MEDIUM = 1, RS_SEV_HIGH = 2, RS_SEV_CRITICAL = 3 } rs_severity_t;

typedef struct {
    double z_threshold;   /* 3.0 */
    int min_history;      /* 14 */
    bool rolling;         /* true */
    int window;           /* 7 */
    double critical_z;    /* 5 */
    double high_z;        /* 4 */
    double medium_z;      /* 3 */
} rs_anomaly_opts_t;

typedef struct {
    size_t index;         /* position in the series */
    double value;
    double expected;      /* history mean */
    double expected_low;  /* mean - z_threshold·σ */
    double expected_high; /* mean + z_threshold·σ */
    double z;
    double pct_deviation;
    rs_severity_t severity;
    /* context */
    double hist_mean, hist_std, hist_min, hist_max;
    size_t hist_n;
    double previous;      /* values[index - 1] */
} rs_anomaly_t;

/* The reference defaults above. */
rs_anomaly_opts_t rs_anomaly_defaults (void);

/* Scans one series. Writes up to `cap` anomalies to out (in index order) and
 * returns how many were found in total (which may exceed cap), or -1 on
 * invalid options (z_threshold <= 0, min_history < 1, window < 0, NULL
 * values with n > 0). */
int rs_anomaly_scan (const double *values, size_t n, const rs_anomaly_opts_t *opts,
                     rs_anomaly_t *out, size_t cap);

/* Severity of |z| under opts (also used for thresholds other than 3). */
rs_severity_t rs_anomaly_severity (double z, const rs_anomaly_opts_t *opts);
/* "low", "medium", "high", "critical". */
const char *rs_severity_name (rs_severity_t s);
/* Parses a severity name; -1 when unknown. */
int rs_severity_parse (const char *name);

/* NumPy-compatible pairwise sum (numpy/core/src/umath/loops_utils.h). */
double rs_pairwise_sum (const double *a, size_t n);

#endif
