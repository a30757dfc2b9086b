/* rs_forecast.c — simple trend + weekly seasonality forecaster (see
 * rs_forecast.h for the rules and the one deliberate fix). Means use the
 * NumPy-compatible pairwise sum so figures match the reference's np.mean. */
#include "rs_forecast.h"

#include "rs_anomaly.h"

int
rs_forecast (const double *v, size_t n, int horizon, double *out)
{
    if (!v || !out || horizon < 1 || n < RS_FORECAST_MIN_POINTS)
        return -1;
    const size_t tw = 14, season = 7;
    const double *recent = v + (n - tw);
    double level = rs_pairwise_sum (recent, tw) / (double) tw;
    double xbar = (double) (tw - 1) / 2.0, sxy = 0.0, sxx = 0.0;
    for (size_t i = 0; i < tw; i++) {
        sxy += ((double) i - xbar) * (recent[i] - level);
        sxx += ((double) i - xbar) * ((double) i - xbar);
    }
    double slope = sxy / sxx;
    double seasonal[7];
    for (size_t p = 0; p < season; p++) {
        double s = 0.0;
        size_t k = 0;
        for (size_t i = p; i < n; i += season, k++)
            s += v[i];
        seasonal[p] = k ? s / (double) k : level;
    }
    for (int d = 1; d <= horizon; d++) {
        double base = level + slope * (double) d;
        double f = level > 0 ? base * seasonal[(n + (size_t) d - 1) % season] / level : base;
        out[d - 1] = f > 0 ? f : 0.0;
    }
    return 0;
}
