/* metrics.h — process-wide metrics registry in Prometheus text format 0.0.4.
 *
 * Counters, gauges and fixed-bucket histograms, each family with up to a few
 * label values set at registration. Updates are lock-free atomics and safe
 * from any thread; registration and rendering take a mutex. Names follow the
 * Prometheus conventions (copilot_ prefix, base units, counters end _total).
 */
#ifndef COPILOT_METRICS_H
#define COPILOT_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

typedef struct _metrics_t metrics_t;             /* a registry */
typedef struct _metric_t metric_t;               /* one series (name + labels) */

/* The process registry, created on first use (thread-safe). It is never
 * freed, so threads still running during exit may keep updating it. */
metrics_t *metrics_global (void);
metrics_t *metrics_new (void);
void metrics_destroy (metrics_t **self_p);

/* Returns the series for (name, labels), creating it on first call; the same
 * pointer on later calls with equal name and labels. `labels` is NULL or a
 * Prometheus label body such as `service="gateway",code="200"` (caller
 * escapes values with metrics_escape_label). `help` is used on creation.
 * Returns NULL on OOM or when name is reused with another type. */
metric_t *metrics_counter (metrics_t *self, const char *name, const char *help, const char *labels);
metric_t *metrics_gauge (metrics_t *self, const char *name, const char *help, const char *labels);
/* `bounds` are strictly ascending finite upper bounds (le); +Inf is implicit.
 * NULL/0 uses the default latency buckets (0.0005 .. 10 seconds). NULL also
 * when the bounds are invalid or differ from the family's first registration.
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; labels must not contain a raw
 * newline (else NULL). */
metric_t *metrics_histogram (metrics_t *self, const char *name, const char *help, const char *labels,
                             const double *bounds, size_t nbounds);

/* Updates ignore a NULL metric, the wrong metric type, NaN, and negative
 * counter increments (programming errors must not crash a daemon). */
void metric_inc (metric_t *m);                  /* counter/gauge += 1 */
void metric_add (metric_t *m, double v);        /* counter (v >= 0) / gauge */
void metric_set (metric_t *m, double v);        /* gauge */
void metric_observe (metric_t *m, double v);    /* histogram */
double metric_value (metric_t *m);              /* counter/gauge value; histogram count */

/* Appends every family (HELP, TYPE, series; histograms as _bucket/_sum/_count)
 * sorted by name then labels (byte order), ending with "\n". Values use the
 * shortest of %.15g/%.17g that reads back exactly (+Inf, -Inf, NaN spelled
 * the Prometheus way). An empty help text gives "# HELP name". 0 or a BUF_E_*
 * code (then nothing is appended). */
int metrics_render (metrics_t *self, buf_t *out);
/* Escapes a label value (backslash, quote, newline) into out. 0 or -1 (truncated). */
int metrics_escape_label (const char *value, char *out, size_t size);

#endif
