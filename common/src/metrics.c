/* metrics.c — metrics registry rendered in Prometheus text format 0.0.4
 * (c-patterns §8.1; https://prometheus.io/docs/instrumenting/exposition_formats).
 *
 * Data structures: a registry holds families (name, help, type, histogram
 * bounds) kept sorted by name; each family holds its series (one per label
 * body) kept sorted by label text. Both arrays are sorted on insert, so
 * rendering is deterministic without sorting and lookups are binary
 * searches. Series are allocated individually: a metric_t pointer stays
 * valid for the registry's lifetime even when the arrays grow.
 *
 * Concurrency: registration and rendering hold the registry mutex. Updates
 * touch only the series' atomics: counters and gauges store the IEEE-754
 * bits of a double in an atomic uint64 and add with a compare-and-swap loop;
 * histograms keep one atomic count per bucket (non-cumulative) plus the sum.
 * Rendering makes buckets cumulative and derives _count from the same bucket
 * reads, so le="+Inf" always equals _count even while other threads observe.
 *
 * The process registry (metrics_global) is created once with pthread_once and
 * never freed, so threads still running during exit can keep updating it.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

struct _metric_t {
    mtype_t type;
    char *labels;                 /* "" when the series has no labels */
    _Atomic uint64_t bits;        /* counter/gauge value (double bits) */
    size_t nb;                    /* histogram: number of finite bounds */
    const double *bounds;         /* histogram: the family's bounds */
    _Atomic uint64_t *buckets;    /* histogram: nb + 1 counts, last is +Inf */
    _Atomic uint64_t sum_bits;    /* histogram: sum (double bits) */
};

typedef struct {
    char *name;
    char *help;
    mtype_t type;
    double *bounds;
    size_t nb;
    metric_t **series;
    size_t n, alloc;
} family_t;

struct _metrics_t {
    pthread_mutex_t mu;
    family_t **fams;
    size_t n, alloc;
};

static const double s_default_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,    0.25,  0.5,    1,     2.5,   5,    10 };

static uint64_t
s_bits (double v)
{
    uint64_t u;
    memcpy (&u, &v, sizeof u);
    return u;
}

static double
s_double (uint64_t u)
{
    double v;
    memcpy (&v, &u, sizeof v);
    return v;
}

static void
s_atomic_add (_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit (a, memory_order_relaxed);
    for (;;) {
        uint64_t nw = s_bits (s_double (old) + v);
        if (atomic_compare_exchange_weak_explicit (a, &old, nw, memory_order_relaxed,
                                                   memory_order_relaxed))
            return;
    }
}

/* ---- registry ------------------------------------------------------------ */

metrics_t *
metrics_new (void)
{
    metrics_t *self = calloc (1, sizeof *self);
    if (self == NULL)
        return NULL;
    if (pthread_mutex_init (&self->mu, NULL) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

static void
s_metric_free (metric_t *m)
{
    if (m == NULL)
        return;
    free (m->labels);
    free ((void *) m->buckets);
    free (m);
}

static void
s_family_free (family_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        s_metric_free (f->series[i]);
    free (f->series);
    free (f->name);
    free (f->help);
    free (f->bounds);
    free (f);
}

void
metrics_destroy (metrics_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    metrics_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        s_family_free (self->fams[i]);
    free (self->fams);
    pthread_mutex_destroy (&self->mu);
    free (self);
    *self_p = NULL;
}

static metrics_t *s_global;
static pthread_once_t s_global_once = PTHREAD_ONCE_INIT;

static void
s_global_init (void)
{
    s_global = metrics_new ();
}

metrics_t *
metrics_global (void)
{
    pthread_once (&s_global_once, s_global_init);
    return s_global;
}

static bool
s_valid_name (const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'
               || (p != name && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Index of the first element >= key (binary search over sorted strings). */
#define LOWER_BOUND(arr, n, field, key, out)                     \
    do {                                                         \
        size_t lo_ = 0, hi_ = (n);                               \
        while (lo_ < hi_) {                                      \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                 \
            if (strcmp ((arr)[mid_]->field, (key)) < 0)          \
                lo_ = mid_ + 1;                                  \
            else                                                 \
                hi_ = mid_;                                      \
        }                                                        \
        (out) = lo_;                                             \
    } while (0)

static int
s_grow (void **arr, size_t *alloc, size_t n, size_t elem)
{
    if (n < *alloc)
        return 0;
    size_t na = *alloc ? *alloc * 2 : 8;
    void *p = realloc (*arr, na * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    *alloc = na;
    return 0;
}

static metric_t *
s_register (metrics_t *self, const char *name, const char *help, const char *labels, mtype_t type,
            const double *bounds, size_t nb)
{
    if (self == NULL || !s_valid_name (name))
        return NULL;
    if (labels == NULL)
        labels = "";
    if (strchr (labels, '\n') != NULL)
        return NULL;   /* label values must be escaped by the caller */
    if (type == M_HISTOGRAM) {
        if (bounds == NULL || nb == 0) {
            bounds = s_default_bounds;
            nb = sizeof s_default_bounds / sizeof s_default_bounds[0];
        }
        for (size_t i = 0; i < nb; i++) {
            if (!isfinite (bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return NULL;
        }
    }
    metric_t *result = NULL;
    pthread_mutex_lock (&self->mu);
    size_t fi;
    LOWER_BOUND (self->fams, self->n, name, name, fi);
    family_t *f = NULL;
    if (fi < self->n && strcmp (self->fams[fi]->name, name) == 0) {
        f = self->fams[fi];
        if (f->type != type)
            goto done;
        if (type == M_HISTOGRAM
            && (f->nb != nb || memcmp (f->bounds, bounds, nb * sizeof *bounds) != 0))
            goto done;
    } else {
        if (s_grow ((void **) &self->fams, &self->alloc, self->n, sizeof *self->fams) != 0)
            goto done;
        f = calloc (1, sizeof *f);
        if (f == NULL)
            goto done;
        f->type = type;
        f->name = str_dup (name);
        f->help = str_dup (help ? help : "");
        if (type == M_HISTOGRAM) {
            f->nb = nb;
            f->bounds = malloc (nb * sizeof *bounds);
            if (f->bounds)
                memcpy (f->bounds, bounds, nb * sizeof *bounds);
        }
        if (f->name == NULL || f->help == NULL || (type == M_HISTOGRAM && f->bounds == NULL)) {
            s_family_free (f);
            f = NULL;
            goto done;
        }
        memmove (self->fams + fi + 1, self->fams + fi, (self->n - fi) * sizeof *self->fams);
        self->fams[fi] = f;
        self->n++;
    }
    size_t si;
    LOWER_BOUND (f->series, f->n, labels, labels, si);
    if (si < f->n && strcmp (f->series[si]->labels, labels) == 0) {
        result = f->series[si];
        goto done;
    }
    if (s_grow ((void **) &f->series, &f->alloc, f->n, sizeof *f->series) != 0)
        goto done;
    metric_t *m = calloc (1, sizeof *m);
    if (m == NULL)
        goto done;
    m->type = type;
    m->labels = str_dup (labels);
    atomic_init (&m->bits, s_bits (0.0));
    atomic_init (&m->sum_bits, s_bits (0.0));
    if (type == M_HISTOGRAM) {
        m->nb = f->nb;
        m->bounds = f->bounds;
        m->buckets = calloc (f->nb + 1, sizeof *m->buckets);
        if (m->buckets != NULL) {
            for (size_t i = 0; i <= f->nb; i++)
                atomic_init (&m->buckets[i], 0);
        }
    }
    if (m->labels == NULL || (type == M_HISTOGRAM && m->buckets == NULL)) {
        s_metric_free (m);
        goto done;
    }
    memmove (f->series + si + 1, f->series + si, (f->n - si) * sizeof *f->series);
    f->series[si] = m;
    f->n++;
    result = m;
done:
    /* A family created above keeps existing even if its first series failed
     * (OOM); it renders with no series. */
    pthread_mutex_unlock (&self->mu);
    return result;
}

metric_t *
metrics_counter (metrics_t *self, const char *name, const char *help, const char *labels)
{
    return s_register (self, name, help, labels, M_COUNTER, NULL, 0);
}

metric_t *
metrics_gauge (metrics_t *self, const char *name, const char *help, const char *labels)
{
    return s_register (self, name, help, labels, M_GAUGE, NULL, 0);
}

metric_t *
metrics_histogram (metrics_t *self, const char *name, const char *help, const char *labels,
                   const double *bounds, size_t nbounds)
{
    return s_register (self, name, help, labels, M_HISTOGRAM, bounds, nbounds);
}

/* ---- updates ------------------------------------------------------------- */

void
metric_inc (metric_t *m)
{
    metric_add (m, 1.0);
}

void
metric_add (metric_t *m, double v)
{
    if (m == NULL || m->type == M_HISTOGRAM || isnan (v))
        return;
    if (m->type == M_COUNTER && !(v >= 0))
        return;   /* counters only go up */
    s_atomic_add (&m->bits, v);
}

void
metric_set (metric_t *m, double v)
{
    if (m == NULL || m->type != M_GAUGE)
        return;
    atomic_store_explicit (&m->bits, s_bits (v), memory_order_relaxed);
}

void
metric_observe (metric_t *m, double v)
{
    if (m == NULL || m->type != M_HISTOGRAM || isnan (v))
        return;
    size_t i = 0;
    while (i < m->nb && v > m->bounds[i])
        i++;
    atomic_fetch_add_explicit (&m->buckets[i], 1, memory_order_relaxed);
    s_atomic_add (&m->sum_bits, v);
}

double
metric_value (metric_t *m)
{
    if (m == NULL)
        return 0.0;
    if (m->type != M_HISTOGRAM)
        return s_double (atomic_load_explicit (&m->bits, memory_order_relaxed));
    uint64_t c = 0;
    for (size_t i = 0; i <= m->nb; i++)
        c += atomic_load_explicit (&m->buckets[i], memory_order_relaxed);
    return (double) c;
}

/* ---- rendering ----------------------------------------------------------- */

/* Shortest of %.15g / %.17g that reads back exactly; Prometheus spellings
 * for the special values. */
static void
s_fmt (double v, char out[32])
{
    if (isnan (v)) {
        str_copy (out, 32, "NaN");
        return;
    }
    if (isinf (v)) {
        str_copy (out, 32, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf (out, 32, "%.15g", v);
    if (strtod (out, NULL) != v)
        snprintf (out, 32, "%.17g", v);
}

int
metrics_escape_label (const char *value, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return -1;
    size_t o = 0;
    for (const char *p = value ? value : ""; *p; p++) {
        const char *rep = NULL;
        char one[2] = { *p, '\0' };
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        else
            rep = one;
        size_t k = strlen (rep);
        if (o + k >= size) {
            out[o] = '\0';
            return -1;
        }
        memcpy (out + o, rep, k);
        o += k;
    }
    out[o] = '\0';
    return 0;
}

static int
s_help_line (buf_t *out, const family_t *f)
{
    static const char *const tnames[] = { "counter", "gauge", "histogram" };
    int rc = buf_printf (out, "# HELP %s", f->name);
    if (rc == 0 && f->help[0]) {
        rc = buf_puts (out, " ");
        for (const char *p = f->help; rc == 0 && *p; p++) {
            if (*p == '\\')
                rc = buf_puts (out, "\\\\");
            else if (*p == '\n')
                rc = buf_puts (out, "\\n");
            else
                rc = buf_append (out, p, 1);
        }
    }
    if (rc == 0)
        rc = buf_printf (out, "\n# TYPE %s %s\n", f->name, tnames[f->type]);
    return rc;
}

/* name{labels} or name{labels,extra} or name{extra} or name. */
static int
s_series_name (buf_t *out, const char *name, const char *suffix, const char *labels,
               const char *extra)
{
    int rc = buf_printf (out, "%s%s", name, suffix);
    bool has_l = labels[0] != '\0', has_e = extra != NULL;
    if (rc != 0 || (!has_l && !has_e))
        return rc;
    return buf_printf (out, "{%s%s%s}", labels, (has_l && has_e) ? "," : "", has_e ? extra : "");
}

static int
s_render_family (buf_t *out, const family_t *f)
{
    int rc = s_help_line (out, f);
    char num[32];
    for (size_t s = 0; rc == 0 && s < f->n; s++) {
        const metric_t *m = f->series[s];
        if (f->type != M_HISTOGRAM) {
            s_fmt (s_double (atomic_load_explicit (&m->bits, memory_order_relaxed)), num);
            rc = s_series_name (out, f->name, "", m->labels, NULL);
            if (rc == 0)
                rc = buf_printf (out, " %s\n", num);
            continue;
        }
        uint64_t cum = 0;
        for (size_t i = 0; rc == 0 && i <= m->nb; i++) {
            cum += atomic_load_explicit (&m->buckets[i], memory_order_relaxed);
            char le[48];
            if (i < m->nb)
                s_fmt (m->bounds[i], num);
            else
                str_copy (num, sizeof num, "+Inf");
            str_fmt (le, sizeof le, "le=\"%s\"", num);
            rc = s_series_name (out, f->name, "_bucket", m->labels, le);
            if (rc == 0)
                rc = buf_printf (out, " %llu\n", (unsigned long long) cum);
        }
        s_fmt (s_double (atomic_load_explicit (&m->sum_bits, memory_order_relaxed)), num);
        if (rc == 0)
            rc = s_series_name (out, f->name, "_sum", m->labels, NULL);
        if (rc == 0)
            rc = buf_printf (out, " %s\n", num);
        if (rc == 0)
            rc = s_series_name (out, f->name, "_count", m->labels, NULL);
        if (rc == 0)
            rc = buf_printf (out, " %llu\n", (unsigned long long) cum);
    }
    return rc;
}

int
metrics_render (metrics_t *self, buf_t *out)
{
    if (self == NULL || out == NULL)
        return BUF_E_NOMEM;
    size_t mark = buf_len (out);
    int rc = 0;
    pthread_mutex_lock (&self->mu);
    for (size_t i = 0; rc == 0 && i < self->n; i++)
        rc = s_render_family (out, self->fams[i]);
    pthread_mutex_unlock (&self->mu);
    if (rc != 0)
        buf_truncate (out, mark);
    return rc;
}
