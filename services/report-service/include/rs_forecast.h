/* rs_forecast.h — the reference's SimpleForecaster (seed-copilot §7), used
 * by the cost_forecast report.
 *
 * Needs at least trend_window + season (14 + 7 = 21) points. slope = least
 * squares slope over the last 14 values; seasonal factor of phase p = mean of
 * values[p], values[p+7], ...; level = mean of the last 14 values; the
 * forecast for day d (1-based) after the series is
 *   max(0, (level + slope·d) · seasonal[(n + d − 1) mod 7] / level)
 * (without the seasonal factor when level <= 0). The reference indexed the
 * seasonal factor with (n + d) mod 7, one day off: the phase of the d-th new
 * point is n + d − 1; we use that. Pure function, thread-safe.
 */
#ifndef RS_FORECAST_H
#define RS_FORECAST_H
#include <stddef.h>

#define RS_FORECAST_MIN_POINTS 21

/* Writes `horizon` forecasts to out. 0, or -1 when n < 21, horizon < 1 or an
 * argument is NULL. */
int rs_forecast (const double *values, size_t n, int horizon, double *out);

#endif
