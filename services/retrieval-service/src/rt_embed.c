/* rt_embed.c — embedders: the local deterministic LSA embedder and the
 * dispatch to the OpenAI-compatible client (rt_openai.c).
 *
 * Local embedder ("lsa"), in three steps:
 *  1. Features. Text is lower-cased; words are runs of [a-z0-9] (and UTF-8
 *     bytes). Four feature groups are hashed with 64-bit FNV-1a (the group
 *     lives in the top two bits of the key): word unigrams (stop words
 *     dropped), word bigrams, character 3..5-grams of "<word>" (so "evicted"
 *     and "eviction" share "<evi", "evic"...), and compound tokens such as
 *     "j-route-opt" or "r5.xlarge". Term frequency is 1 + ln(count).
 *  2. TF-IDF. idf = ln((1 + N) / (1 + df)) + 1 over the fitting texts; the
 *     vocabulary keeps features with df >= min_df, the max_features most
 *     frequent ones (ties by key). Each group's vector is scaled to a fixed
 *     group weight, then the whole vector is L2-normalised.
 *  3. LSA. A truncated SVD of the (documents x features) TF-IDF matrix by
 *     randomized subspace iteration (Halko, Martinsson, Tropp 2011): a seeded
 *     random start (splitmix64), `power_iters` rounds of A^T / A products with
 *     modified Gram-Schmidt re-orthonormalisation, a Rayleigh-Ritz step that
 *     diagonalises the small l x l matrix (Householder + implicit QL), and
 *     sign-normalised singular vectors. An embedding is the projection of
 *     the TF-IDF vector onto the top `dim` right singular vectors, unit-norm.
 *     Words that co-occur (spot / eviction / preemption) land near each other
 *     even when a query shares no literal word with a document.
 * Everything runs single-threaded in double precision with a fixed loop
 * order, so the same texts and options give bit-identical models and
 * vectors on a given build.
 *
 * The model file (embedder.lsa) is: magic "RTLSA001", u32 dim, u32 nfeat,
 * u32 rank, u32 reserved, u64 keys[nfeat] (sorted), f32 idf[nfeat],
 * f32 proj[nfeat * dim]; host byte order (little-endian on our targets).
 */
#include "rt_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Implemented in rt_openai.c. */
int rt__openai_embed (const char *base_url, const char *api_key, const char *model, int timeout_ms,
                      int max_retries, int retry_base_ms, const char *const *texts, size_t n,
                      int expect_dim, float *out, int *dim_out);

enum { KIND_LSA = 1, KIND_OPENAI = 2 };
enum { G_WORD = 0, G_BIGRAM = 1, G_CHAR = 2, G_COMPOUND = 3 };
static const double s_group_w[4] = {1.0, 0.6, 0.7, 0.5};

struct _rt_embedder_t {
    int kind;
    int dim;
    char name[160];
    /* lsa */
    uint32_t nfeat, rank;
    uint64_t *keys;
    float *idf;
    float *proj; /* nfeat x dim */
    /* openai */
    char *base_url, *api_key, *model;
    int batch, timeout_ms, max_retries, retry_base_ms;
};

/* ------------------------------------------------------------------------ */
/* features                                                                  */

typedef struct {
    uint64_t *k;
    size_t n, cap;
} s_keys_t;

static int
s_keys_push (s_keys_t *v, uint64_t k)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        uint64_t *nk = realloc (v->k, nc * sizeof *nk);
        if (!nk)
            return RT_E_NOMEM;
        v->k = nk;
        v->cap = nc;
    }
    v->k[v->n++] = k;
    return RT_OK;
}

static uint64_t
s_key (int group, const char *s, size_t n)
{
    uint64_t h = rt__fnv1a (RT_FNV_OFFSET, &group, 1);
    h = rt__fnv1a (h, s, n);
    return (h & ~(3ULL << 62)) | ((uint64_t) group << 62);
}

static bool
s_word_char (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static const char *const s_stop[] = {
    "a",    "an",   "and",  "are",  "as",   "at",   "be",    "but",  "by",   "for", "from",
    "has",  "have", "if",   "in",   "into", "is",   "it",    "its",  "of",   "on",  "or",
    "so",   "than", "that", "the",  "then", "there", "these", "this", "to",   "was", "were",
    "will", "with", "you",  "your", "we",   "our",  "can",   "do",   "does", "not", NULL};

static bool
s_is_stop (const char *w, size_t n)
{
    for (int i = 0; s_stop[i]; i++)
        if (strlen (s_stop[i]) == n && memcmp (s_stop[i], w, n) == 0)
            return true;
    return false;
}

static int
s_u64_cmp (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Extracts the sorted unique feature keys of `text` with their counts. */
static int
s_features (const char *text, s_keys_t *raw, uint64_t **keys, uint32_t **counts, size_t *n)
{
    raw->n = 0;
    size_t len = strlen (text);
    char *low = malloc (len + 1);
    if (!low)
        return RT_E_NOMEM;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        low[i] = (char) ((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    low[len] = '\0';
    int rc = RT_OK;
    const char *prev = NULL;
    size_t prevn = 0;
    size_t i = 0;
    while (i < len && rc == RT_OK) {
        /* compound token: a run of non-blank bytes, punctuation trimmed */
        if (!(low[i] == ' ' || low[i] == '\n' || low[i] == '\t' || low[i] == '\r')
            && (i == 0 || low[i - 1] == ' ' || low[i - 1] == '\n' || low[i - 1] == '\t'
                || low[i - 1] == '\r')) {
            size_t a = i, b = i;
            while (b < len && !(low[b] == ' ' || low[b] == '\n' || low[b] == '\t' || low[b] == '\r'))
                b++;
            while (a < b && !s_word_char ((unsigned char) low[a]))
                a++;
            while (b > a && !s_word_char ((unsigned char) low[b - 1]))
                b--;
            bool inner = false;
            size_t ndig = 0;
            for (size_t p = a; p < b; p++) {
                if (!s_word_char ((unsigned char) low[p]))
                    inner = true;
                ndig += (low[p] >= '0' && low[p] <= '9');
            }
            if (inner && b - a <= 64 && ndig < 4)
                rc = s_keys_push (raw, s_key (G_COMPOUND, low + a, b - a));
        }
        if (rc != RT_OK)
            break;
        if (!s_word_char ((unsigned char) low[i])) {
            i++;
            continue;
        }
        size_t a = i;
        while (i < len && s_word_char ((unsigned char) low[i]))
            i++;
        const char *w = low + a;
        size_t wn = i - a;
        size_t ndig = 0;
        for (size_t p = 0; p < wn; p++)
            ndig += (w[p] >= '0' && w[p] <= '9');
        /* stop words and digit-heavy tokens (dates, ids, amounts) carry no
         * topical meaning; BM25 still matches them exactly */
        if (s_is_stop (w, wn) || ndig >= 4) {
            prev = NULL;
            continue;
        }
        rc = s_keys_push (raw, s_key (G_WORD, w, wn));
        if (rc == RT_OK && prev) {
            char bg[130];
            size_t pl = prevn > 64 ? 64 : prevn, cl = wn > 64 ? 64 : wn;
            memcpy (bg, prev, pl);
            bg[pl] = ' ';
            memcpy (bg + pl + 1, w, cl);
            rc = s_keys_push (raw, s_key (G_BIGRAM, bg, pl + 1 + cl));
        }
        prev = w;
        prevn = wn;
        bool digits = true;
        for (size_t p = 0; p < wn; p++)
            if (!(w[p] >= '0' && w[p] <= '9'))
                digits = false;
        if (rc == RT_OK && !digits && wn >= 3 && wn <= 32) {
            char pad[36];
            pad[0] = '<';
            memcpy (pad + 1, w, wn);
            pad[wn + 1] = '>';
            size_t pn = wn + 2;
            for (size_t g = 3; g <= 5 && rc == RT_OK; g++)
                for (size_t s = 0; s + g <= pn && rc == RT_OK; s++)
                    rc = s_keys_push (raw, s_key (G_CHAR, pad + s, g));
        }
    }
    free (low);
    if (rc != RT_OK)
        return rc;
    if (raw->n > 1)
        qsort (raw->k, raw->n, sizeof *raw->k, s_u64_cmp);
    size_t u = 0;
    for (size_t r = 0; r < raw->n; r++)
        if (r == 0 || raw->k[r] != raw->k[r - 1])
            u++;
    *keys = malloc ((u ? u : 1) * sizeof **keys);
    *counts = malloc ((u ? u : 1) * sizeof **counts);
    if (!*keys || !*counts) {
        free (*keys);
        free (*counts);
        *keys = NULL;
        *counts = NULL;
        return RT_E_NOMEM;
    }
    size_t o = 0;
    for (size_t r = 0; r < raw->n; r++) {
        if (r == 0 || raw->k[r] != raw->k[r - 1]) {
            (*keys)[o] = raw->k[r];
            (*counts)[o] = 1;
            o++;
        } else {
            (*counts)[o - 1]++;
        }
    }
    *n = u;
    return RT_OK;
}

/* Weighted, group-normalised, unit-norm TF-IDF of one text over the
 * vocabulary (sorted keys/idf). Writes up to nfeat (col, weight) pairs. */
static int
s_tfidf (const uint64_t *vkeys, const float *idf, uint32_t nfeat, const uint64_t *keys,
         const uint32_t *counts, size_t n, uint32_t *cols, double *vals, size_t *nnz)
{
    size_t o = 0;
    double gnorm[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = nfeat;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (vkeys[mid] < keys[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nfeat && vkeys[lo] == keys[i]) {
            double w = (1.0 + log ((double) counts[i])) * (double) idf[lo];
            cols[o] = (uint32_t) lo;
            vals[o] = w;
            gnorm[keys[i] >> 62] += w * w;
            o++;
        }
    }
    double scale[4];
    for (int g = 0; g < 4; g++)
        scale[g] = gnorm[g] > 0 ? s_group_w[g] / sqrt (gnorm[g]) : 0.0;
    double total = 0;
    for (size_t i = 0; i < o; i++) {
        vals[i] *= scale[vkeys[cols[i]] >> 62];
        total += vals[i] * vals[i];
    }
    if (total > 0) {
        double inv = 1.0 / sqrt (total);
        for (size_t i = 0; i < o; i++)
            vals[i] *= inv;
    }
    *nnz = o;
    return RT_OK;
}

/* ------------------------------------------------------------------------ */
/* df counting: open-addressing hash u64 -> u32                              */

typedef struct {
    uint64_t *k;
    uint32_t *v;
    size_t cap, n;
} s_map_t;

static int
s_map_inc (s_map_t *m, uint64_t key)
{
    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1u << 14;
        uint64_t *nk = calloc (nc, sizeof *nk);
        uint32_t *nv = calloc (nc, sizeof *nv);
        if (!nk || !nv) {
            free (nk);
            free (nv);
            return RT_E_NOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->k[i]) {
                size_t s = (size_t) (m->k[i] * 0x9E3779B97F4A7C15ULL) & (nc - 1);
                while (nk[s])
                    s = (s + 1) & (nc - 1);
                nk[s] = m->k[i];
                nv[s] = m->v[i];
            }
        free (m->k);
        free (m->v);
        m->k = nk;
        m->v = nv;
        m->cap = nc;
    }
    size_t s = (size_t) (key * 0x9E3779B97F4A7C15ULL) & (m->cap - 1);
    while (m->k[s] && m->k[s] != key)
        s = (s + 1) & (m->cap - 1);
    if (!m->k[s]) {
        m->k[s] = key;
        m->n++;
    }
    m->v[s]++;
    return RT_OK;
}

typedef struct {
    uint64_t key;
    uint32_t df;
} s_kdf_t;

static int
s_kdf_cmp (const void *a, const void *b)
{
    const s_kdf_t *x = a, *y = b;
    if (x->df != y->df)
        return x->df > y->df ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int
s_kdf_key_cmp (const void *a, const void *b)
{
    const s_kdf_t *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* ------------------------------------------------------------------------ */
/* dense linear algebra helpers (double, row-major)                          */

/* Orthonormalises the columns of M (rows x cols, row-major) in place by
 * modified Gram-Schmidt, twice ("twice is enough"). The columns are first
 * copied into contiguous rows of a transposed buffer so every inner loop is
 * sequential. Columns that vanish (rank deficiency) are set to zero.
 * Returns RT_OK or RT_E_NOMEM. */
static int
s_orth (double *M, size_t rows, size_t cols)
{
    double *T = malloc (rows * cols * sizeof *T);
    if (!T)
        return RT_E_NOMEM;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            T[c * rows + r] = M[r * cols + c];
    for (size_t c = 0; c < cols; c++) {
        double *v = T + c * rows;
        double n0 = 0;
        for (size_t r = 0; r < rows; r++)
            n0 += v[r] * v[r];
        for (int pass = 0; pass < 2; pass++)
            for (size_t j = 0; j < c; j++) {
                const double *u = T + j * rows;
                double d = 0;
                for (size_t r = 0; r < rows; r++)
                    d += u[r] * v[r];
                for (size_t r = 0; r < rows; r++)
                    v[r] -= d * u[r];
            }
        double nn = 0;
        for (size_t r = 0; r < rows; r++)
            nn += v[r] * v[r];
        double inv = (nn > 1e-24 && nn > 1e-20 * n0) ? 1.0 / sqrt (nn) : 0.0;
        for (size_t r = 0; r < rows; r++)
            v[r] *= inv;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            M[r * cols + c] = T[c * rows + r];
    free (T);
    return RT_OK;
}

/* Eigen-decomposition of the symmetric n x n matrix A (row-major; replaced
 * by the eigenvectors, one per COLUMN) by Householder reduction to
 * tridiagonal form followed by the implicit QL algorithm with Wilkinson-style
 * shifts (the classic tred2/tqli pair, O(n^3)). Eigenvalues go to w[n] in no
 * particular order. Returns 0, or -1 if QL failed to converge (then the
 * results are unusable) or on OOM. */
int
rt__symeig (double *A, int n, double *w)
{
    double *e = calloc ((size_t) n + 1, sizeof *e);
    if (!e)
        return -1;
    double *d = w;
#define a(i, j) A[(size_t) (i) * (size_t) n + (size_t) (j)]
    for (int i = n - 1; i > 0; i--) {
        int l = i - 1;
        double h = 0.0, scale = 0.0;
        if (l > 0) {
            for (int k = 0; k <= l; k++)
                scale += fabs (a (i, k));
            if (scale == 0.0) {
                e[i] = a (i, l);
            } else {
                for (int k = 0; k <= l; k++) {
                    a (i, k) /= scale;
                    h += a (i, k) * a (i, k);
                }
                double f = a (i, l);
                double g = f >= 0.0 ? -sqrt (h) : sqrt (h);
                e[i] = scale * g;
                h -= f * g;
                a (i, l) = f - g;
                f = 0.0;
                for (int j = 0; j <= l; j++) {
                    a (j, i) = a (i, j) / h;
                    g = 0.0;
                    for (int k = 0; k <= j; k++)
                        g += a (j, k) * a (i, k);
                    for (int k = j + 1; k <= l; k++)
                        g += a (k, j) * a (i, k);
                    e[j] = g / h;
                    f += e[j] * a (i, j);
                }
                double hh = f / (h + h);
                for (int j = 0; j <= l; j++) {
                    f = a (i, j);
                    e[j] = g = e[j] - hh * f;
                    for (int k = 0; k <= j; k++)
                        a (j, k) -= (f * e[k] + g * a (i, k));
                }
            }
        } else {
            e[i] = a (i, l);
        }
        d[i] = h;
    }
    d[0] = 0.0;
    e[0] = 0.0;
    for (int i = 0; i < n; i++) {
        if (d[i] != 0.0) {
            for (int j = 0; j < i; j++) {
                double g = 0.0;
                for (int k = 0; k < i; k++)
                    g += a (i, k) * a (k, j);
                for (int k = 0; k < i; k++)
                    a (k, j) -= g * a (k, i);
            }
        }
        d[i] = a (i, i);
        a (i, i) = 1.0;
        for (int j = 0; j < i; j++)
            a (j, i) = a (i, j) = 0.0;
    }
    /* implicit QL on the tridiagonal (d, e) */
    for (int i = 1; i < n; i++)
        e[i - 1] = e[i];
    if (n > 0)
        e[n - 1] = 0.0;
    int rc = 0;
    for (int l = 0; l < n && rc == 0; l++) {
        int iter = 0, m;
        do {
            for (m = l; m < n - 1; m++) {
                double dd = fabs (d[m]) + fabs (d[m + 1]);
                if (fabs (e[m]) <= 1e-15 * dd)
                    break;
            }
            if (m != l) {
                if (iter++ == 100) {
                    rc = -1;
                    break;
                }
                double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
                double r = hypot (g, 1.0);
                g = d[m] - d[l] + e[l] / (g + (g >= 0.0 ? fabs (r) : -fabs (r)));
                double s = 1.0, c = 1.0, p = 0.0;
                int i;
                for (i = m - 1; i >= l; i--) {
                    double f = s * e[i], b = c * e[i];
                    e[i + 1] = (r = hypot (f, g));
                    if (r == 0.0) {
                        d[i + 1] -= p;
                        e[m] = 0.0;
                        break;
                    }
                    s = f / r;
                    c = g / r;
                    g = d[i + 1] - p;
                    r = (d[i] - g) * s + 2.0 * c * b;
                    d[i + 1] = g + (p = s * r);
                    g = c * r - b;
                    for (int k = 0; k < n; k++) {
                        f = a (k, i + 1);
                        a (k, i + 1) = s * a (k, i) + c * f;
                        a (k, i) = c * a (k, i) - s * f;
                    }
                }
                if (r == 0.0 && i >= l)
                    continue;
                d[l] -= p;
                e[l] = g;
                e[m] = 0.0;
            }
        } while (m != l);
    }
#undef a
    free (e);
    return rc;
}

/* Y (n x l) = A Z, A in CSR (n rows), Z (m x l). */
static void
s_mul_a (const uint32_t *rowptr, const uint32_t *cols, const double *vals, size_t n, const double *Z,
         double *Y, size_t l)
{
    memset (Y, 0, n * l * sizeof *Y);
    for (size_t r = 0; r < n; r++) {
        double *yr = Y + r * l;
        for (uint32_t p = rowptr[r]; p < rowptr[r + 1]; p++) {
            const double v = vals[p], *zr = Z + (size_t) cols[p] * l;
            for (size_t c = 0; c < l; c++)
                yr[c] += v * zr[c];
        }
    }
}

/* Z (m x l) = A^T Y. */
static void
s_mul_at (const uint32_t *rowptr, const uint32_t *cols, const double *vals, size_t n, const double *Y,
          double *Z, size_t m, size_t l)
{
    memset (Z, 0, m * l * sizeof *Z);
    for (size_t r = 0; r < n; r++) {
        const double *yr = Y + r * l;
        for (uint32_t p = rowptr[r]; p < rowptr[r + 1]; p++) {
            const double v = vals[p];
            double *zr = Z + (size_t) cols[p] * l;
            for (size_t c = 0; c < l; c++)
                zr[c] += v * yr[c];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* fit                                                                       */

static void
s_fill_lsa_defaults (rt_lsa_opts_t *o)
{
    if (o->dim <= 0)
        o->dim = 256;
    if (o->max_features <= 0)
        o->max_features = 65536;
    if (o->min_df <= 0)
        o->min_df = 1;
    if (o->fit_sample <= 0)
        o->fit_sample = 8000;
    if (o->power_iters < 0)
        o->power_iters = 2;
    if (o->seed == 0)
        o->seed = 42;
}

static rt_embedder_t *
s_new_lsa (int dim)
{
    rt_embedder_t *e = calloc (1, sizeof *e);
    if (!e)
        return NULL;
    e->kind = KIND_LSA;
    e->dim = dim;
    str_copy (e->name, sizeof e->name, "lsa");
    return e;
}

rt_embedder_t *
rt_embedder_lsa_fit (const char *const *texts, size_t n, const rt_lsa_opts_t *opts)
{
    rt_lsa_opts_t o = {0};
    if (opts)
        o = *opts;
    s_fill_lsa_defaults (&o);
    if (!texts || n == 0) {
        rt__fail (RT_E_ARG, "lsa fit: no texts");
        return NULL;
    }
    if (o.dim > 4096) {
        rt__fail (RT_E_ARG, "lsa fit: dim %d too large (max 4096)", o.dim);
        return NULL;
    }
    /* Deterministic sample: every (n / fit_sample)-th text by stride. */
    size_t ns = n <= (size_t) o.fit_sample ? n : (size_t) o.fit_sample;
    size_t *pick = malloc (ns * sizeof *pick);
    rt_embedder_t *e = NULL;
    s_keys_t raw = {0};
    s_map_t df = {0};
    uint64_t **dkeys = calloc (ns, sizeof *dkeys);
    uint32_t **dcounts = calloc (ns, sizeof *dcounts);
    size_t *dn = calloc (ns, sizeof *dn);
    s_kdf_t *kdf = NULL;
    uint32_t *rowptr = NULL, *cols = NULL;
    double *vals = NULL, *Y = NULL, *Z = NULL, *C = NULL, *W = NULL, *ev = NULL;
    int rc = RT_OK;
    if (!pick || !dkeys || !dcounts || !dn) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < ns; i++)
        pick[i] = (size_t) ((double) i * (double) n / (double) ns);

    /* 1. features and document frequencies */
    for (size_t i = 0; i < ns && rc == RT_OK; i++) {
        rc = s_features (texts[pick[i]] ? texts[pick[i]] : "", &raw, &dkeys[i], &dcounts[i], &dn[i]);
        for (size_t j = 0; rc == RT_OK && j < dn[i]; j++)
            rc = s_map_inc (&df, dkeys[i][j]);
    }
    if (rc != RT_OK)
        goto cleanup;

    /* 2. vocabulary: df >= min_df, top max_features by (df desc, key asc) */
    size_t nk = 0;
    kdf = malloc ((df.n ? df.n : 1) * sizeof *kdf);
    if (!kdf) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    for (size_t s = 0; s < df.cap; s++)
        if (df.k[s] && df.v[s] >= (uint32_t) o.min_df)
            kdf[nk++] = (s_kdf_t){df.k[s], df.v[s]};
    if (nk == 0 && o.min_df > 1) {
        /* tiny corpora: fall back to every feature */
        for (size_t s = 0; s < df.cap; s++)
            if (df.k[s])
                kdf[nk++] = (s_kdf_t){df.k[s], df.v[s]};
    }
    if (nk == 0) {
        rt__fail (RT_E_EMBED, "lsa fit: the texts have no features");
        rc = RT_E_EMBED;
        goto cleanup;
    }
    qsort (kdf, nk, sizeof *kdf, s_kdf_cmp);
    if (nk > (size_t) o.max_features)
        nk = (size_t) o.max_features;
    e = s_new_lsa (o.dim);
    if (!e) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    e->nfeat = (uint32_t) nk;
    e->keys = malloc (nk * sizeof *e->keys);
    e->idf = malloc (nk * sizeof *e->idf);
    e->proj = calloc (nk * (size_t) o.dim, sizeof *e->proj);
    if (!e->keys || !e->idf || !e->proj) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    {
        /* keys sorted ascending for binary search; idf alongside */
        s_kdf_t *byk = malloc (nk * sizeof *byk);
        if (!byk) {
            rc = RT_E_NOMEM;
            goto cleanup;
        }
        memcpy (byk, kdf, nk * sizeof *byk);
        qsort (byk, nk, sizeof *byk, s_kdf_key_cmp);
        for (size_t i = 0; i < nk; i++) {
            e->keys[i] = byk[i].key;
            e->idf[i] = (float) (log ((1.0 + (double) ns) / (1.0 + (double) byk[i].df)) + 1.0);
        }
        free (byk);
    }

    /* 3. CSR matrix of the sample */
    size_t total = 0;
    for (size_t i = 0; i < ns; i++)
        total += dn[i];
    rowptr = malloc ((ns + 1) * sizeof *rowptr);
    cols = malloc ((total ? total : 1) * sizeof *cols);
    vals = malloc ((total ? total : 1) * sizeof *vals);
    if (!rowptr || !cols || !vals || total > UINT32_MAX) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    rowptr[0] = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t z = 0;
        s_tfidf (e->keys, e->idf, e->nfeat, dkeys[i], dcounts[i], dn[i], cols + rowptr[i],
                 vals + rowptr[i], &z);
        rowptr[i + 1] = rowptr[i] + (uint32_t) z;
        free (dkeys[i]);
        free (dcounts[i]);
        dkeys[i] = NULL;
        dcounts[i] = NULL;
    }

    /* 4. randomized subspace iteration for the top right singular vectors */
    size_t m = nk;
    size_t l = (size_t) o.dim + 8;
    if (l > ns)
        l = ns;
    if (l > m)
        l = m;
    Y = calloc (ns * l, sizeof *Y); /* ns x l */
    Z = calloc (m * l, sizeof *Z);  /* m x l */
    C = calloc (l * l, sizeof *C);
    W = calloc (l * l, sizeof *W);
    ev = calloc (l, sizeof *ev);
    if (!Y || !Z || !C || !W || !ev) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    rt_rng_t rng = {o.seed};
    for (size_t i = 0; i < m * l; i++)
        Z[i] = rt__rng_sym (&rng);
    /* Y = orth(A Z0); then q rounds of Y = orth(A A^T Y). Only the small
     * n x l block is re-orthonormalised: one A A^T product between two
     * orthonormalisations is well within double precision. */
    for (int it = 0; it <= o.power_iters; it++) {
        if (it > 0)
            s_mul_at (rowptr, cols, vals, ns, Y, Z, m, l); /* Z = A^T Y */
        s_mul_a (rowptr, cols, vals, ns, Z, Y, l);         /* Y = A Z */
        if (s_orth (Y, ns, l) != RT_OK) {
            rc = RT_E_NOMEM;
            goto cleanup;
        }
    }
    /* Rayleigh-Ritz: Z = A^T Q (= B^T), Y2 = A Z, C = Q^T Y2 = B B^T. */
    s_mul_at (rowptr, cols, vals, ns, Y, Z, m, l);
    {
        double *Y2 = calloc (ns * l, sizeof *Y2);
        if (!Y2) {
            rc = RT_E_NOMEM;
            goto cleanup;
        }
        s_mul_a (rowptr, cols, vals, ns, Z, Y2, l);
        for (size_t r = 0; r < ns; r++) {
            const double *qr = Y + r * l, *yr = Y2 + r * l;
            for (size_t a = 0; a < l; a++) {
                double qa = qr[a];
                if (qa == 0)
                    continue;
                double *ca = C + a * l;
                for (size_t b = 0; b < l; b++)
                    ca[b] += qa * yr[b];
            }
        }
        free (Y2);
    }
    for (size_t a = 0; a < l; a++)
        for (size_t b = 0; b < a; b++) {
            double v = 0.5 * (C[a * l + b] + C[b * l + a]);
            C[a * l + b] = v;
            C[b * l + a] = v;
        }
    if (rt__symeig (C, (int) l, ev) != 0) {
        rt__fail (RT_E_EMBED, "lsa fit: eigen-decomposition did not converge");
        rc = RT_E_EMBED;
        goto cleanup;
    }
    memcpy (W, C, l * l * sizeof *W);
    /* order eigenpairs by eigenvalue desc (selection sort; l is small) */
    size_t *ord = malloc (l * sizeof *ord);
    if (!ord) {
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < l; i++)
        ord[i] = i;
    for (size_t i = 0; i < l; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < l; j++)
            if (ev[ord[j]] > ev[ord[best]])
                best = j;
        size_t t = ord[i];
        ord[i] = ord[best];
        ord[best] = t;
    }
    double top = l > 0 && ev[ord[0]] > 0 ? ev[ord[0]] : 0;
    size_t kk = (size_t) o.dim < l ? (size_t) o.dim : l;
    uint32_t rank = 0;
    /* rank: components with a meaningful eigenvalue */
    for (size_t c = 0; c < kk; c++) {
        double lam = ev[ord[c]];
        if (!(lam > 1e-12 * top) || top == 0)
            break;
        rank++;
    }
    /* V = Z W_r diag(1/sqrt(lambda)) computed row by row as axpy updates
     * (vectorisable without reassociation); then each column's sign is
     * fixed so its largest-magnitude component is positive. */
    double *Mw = calloc (l * (rank ? rank : 1), sizeof *Mw), *acc = malloc ((rank ? rank : 1) * sizeof *acc);
    double *best = calloc (rank ? rank : 1, sizeof *best);
    if (!Mw || !acc || !best) {
        free (Mw);
        free (acc);
        free (best);
        free (ord);
        rc = RT_E_NOMEM;
        goto cleanup;
    }
    for (size_t a = 0; a < l; a++)
        for (size_t c = 0; c < rank; c++)
            Mw[a * rank + c] = W[a * l + ord[c]] / sqrt (ev[ord[c]]);
    for (size_t r = 0; r < m; r++) {
        const double *zr = Z + r * l;
        memset (acc, 0, rank * sizeof *acc);
        for (size_t a = 0; a < l; a++) {
            const double za = zr[a], *mr = Mw + a * rank;
            if (za == 0)
                continue;
            for (size_t c = 0; c < rank; c++)
                acc[c] += za * mr[c];
        }
        float *pr = e->proj + r * (size_t) o.dim;
        for (size_t c = 0; c < rank; c++) {
            pr[c] = (float) acc[c];
            if (fabs (acc[c]) > fabs (best[c]))
                best[c] = acc[c];
        }
    }
    for (size_t c = 0; c < rank; c++)
        if (best[c] < 0)
            for (size_t r = 0; r < m; r++)
                e->proj[r * (size_t) o.dim + c] = -e->proj[r * (size_t) o.dim + c];
    free (Mw);
    free (acc);
    free (best);
    free (ord);
    e->rank = rank;
    if (rank == 0) {
        rt__fail (RT_E_EMBED, "lsa fit: the TF-IDF matrix has rank 0");
        rc = RT_E_EMBED;
    }

cleanup:
    if (rc == RT_E_NOMEM)
        rt__fail (RT_E_NOMEM, "lsa fit: out of memory");
    if (dkeys)
        for (size_t i = 0; i < ns; i++)
            free (dkeys[i]);
    if (dcounts)
        for (size_t i = 0; i < ns; i++)
            free (dcounts[i]);
    free (dkeys);
    free (dcounts);
    free (dn);
    free (pick);
    free (raw.k);
    free (df.k);
    free (df.v);
    free (kdf);
    free (rowptr);
    free (cols);
    free (vals);
    free (Y);
    free (Z);
    free (C);
    free (W);
    free (ev);
    if (rc != RT_OK)
        rt_embedder_destroy (&e);
    return e;
}

/* ------------------------------------------------------------------------ */
/* persistence                                                               */

static const char s_magic[8] = {'R', 'T', 'L', 'S', 'A', '0', '0', '1'};

int
rt_embedder_lsa_save (const rt_embedder_t *self, const char *path)
{
    if (!self || self->kind != KIND_LSA || !path)
        return rt__fail (RT_E_ARG, "lsa save: not a local embedder");
    FILE *f = fopen (path, "wb");
    if (!f)
        return rt__fail (RT_E_IO, "cannot create %s: %s", path, strerror (errno));
    uint32_t hdr[4] = {(uint32_t) self->dim, self->nfeat, self->rank, 0};
    size_t nf = self->nfeat, np = nf * (size_t) self->dim;
    bool ok = fwrite (s_magic, 1, 8, f) == 8 && fwrite (hdr, sizeof hdr, 1, f) == 1
              && fwrite (self->keys, sizeof *self->keys, nf, f) == nf
              && fwrite (self->idf, sizeof *self->idf, nf, f) == nf
              && fwrite (self->proj, sizeof *self->proj, np, f) == np;
    if (fclose (f) != 0)
        ok = false;
    return ok ? RT_OK : rt__fail (RT_E_IO, "cannot write %s: %s", path, strerror (errno));
}

rt_embedder_t *
rt_embedder_lsa_load (const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (rt__read_file (path, (size_t) 1 << 31, &data, &len) != RT_OK)
        return NULL;
    rt_embedder_t *e = NULL;
    uint32_t hdr[4];
    if (len < 8 + sizeof hdr || memcmp (data, s_magic, 8) != 0) {
        rt__fail (RT_E_FORMAT, "%s is not an lsa model (bad magic)", path);
        goto done;
    }
    memcpy (hdr, data + 8, sizeof hdr);
    size_t dim = hdr[0], nf = hdr[1];
    if (dim == 0 || dim > 4096 || nf == 0 || hdr[2] > dim
        || len != 8 + sizeof hdr + nf * (8 + 4) + nf * dim * 4) {
        rt__fail (RT_E_FORMAT, "%s: lsa model header and size disagree", path);
        goto done;
    }
    e = s_new_lsa ((int) dim);
    if (!e)
        goto done;
    e->nfeat = (uint32_t) nf;
    e->rank = hdr[2];
    e->keys = malloc (nf * sizeof *e->keys);
    e->idf = malloc (nf * sizeof *e->idf);
    e->proj = malloc (nf * dim * sizeof *e->proj);
    if (!e->keys || !e->idf || !e->proj) {
        rt__fail (RT_E_NOMEM, "out of memory loading %s", path);
        rt_embedder_destroy (&e);
        goto done;
    }
    const char *p = data + 8 + sizeof hdr;
    memcpy (e->keys, p, nf * 8);
    p += nf * 8;
    memcpy (e->idf, p, nf * 4);
    p += nf * 4;
    memcpy (e->proj, p, nf * dim * 4);
    for (size_t i = 1; i < nf; i++)
        if (e->keys[i] <= e->keys[i - 1]) {
            rt__fail (RT_E_FORMAT, "%s: lsa vocabulary is not sorted", path);
            rt_embedder_destroy (&e);
            break;
        }
done:
    free (data);
    return e;
}

/* ------------------------------------------------------------------------ */
/* OpenAI-compatible client                                                  */

rt_embedder_t *
rt_embedder_openai_new (const rt_openai_opts_t *opts)
{
    if (!opts || !opts->base_url || !*opts->base_url || !opts->model || !*opts->model) {
        rt__fail (RT_E_ARG, "openai embedder: base_url and model are required");
        return NULL;
    }
    if (opts->dim < 0 || opts->dim > 65536) {
        rt__fail (RT_E_ARG, "openai embedder: dim %d out of range", opts->dim);
        return NULL;
    }
    rt_embedder_t *e = calloc (1, sizeof *e);
    if (!e) {
        rt__fail (RT_E_NOMEM, "out of memory");
        return NULL;
    }
    e->kind = KIND_OPENAI;
    e->dim = opts->dim;
    e->base_url = str_dup (opts->base_url);
    e->api_key = str_dup (opts->api_key ? opts->api_key : "");
    e->model = str_dup (opts->model);
    e->batch = opts->batch > 0 ? opts->batch : 64;
    e->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    e->max_retries = opts->max_retries < 0 ? 0 : opts->max_retries > 0 ? opts->max_retries : 2;
    e->retry_base_ms = opts->retry_base_ms > 0 ? opts->retry_base_ms : 500;
    if (str_fmt (e->name, sizeof e->name, "openai:%s", opts->model) != 0 || !e->base_url
        || !e->api_key || !e->model) {
        rt__fail (RT_E_ARG, "openai embedder: model name too long or out of memory");
        rt_embedder_destroy (&e);
    }
    return e;
}

/* ------------------------------------------------------------------------ */
/* common interface                                                          */

int
rt_embedder_embed (rt_embedder_t *self, const char *const *texts, size_t n, float *out)
{
    if (!self || (n > 0 && (!texts || !out)))
        return rt__fail (RT_E_ARG, "rt_embedder_embed: bad arguments");
    if (self->kind == KIND_OPENAI) {
        if (self->dim <= 0)
            return rt__fail (RT_E_ARG, "openai embedder: dimension unknown; call rt_embedder_prepare first");
        for (size_t off = 0; off < n; off += (size_t) self->batch) {
            size_t cnt = n - off < (size_t) self->batch ? n - off : (size_t) self->batch;
            int dim = 0;
            int rc = rt__openai_embed (self->base_url, self->api_key, self->model, self->timeout_ms,
                                       self->max_retries, self->retry_base_ms, texts + off, cnt, self->dim,
                                       out + off * (size_t) self->dim, &dim);
            if (rc < 0)
                return rc;
        }
        /* normalise (the API's vectors usually are, we do not rely on it) */
        for (size_t i = 0; i < n; i++) {
            float *v = out + i * (size_t) self->dim;
            double s = 0;
            for (int d = 0; d < self->dim; d++)
                s += (double) v[d] * v[d];
            if (s > 0) {
                float inv = (float) (1.0 / sqrt (s));
                for (int d = 0; d < self->dim; d++)
                    v[d] *= inv;
            }
        }
        return RT_OK;
    }
    /* local */
    s_keys_t raw = {0};
    uint32_t *cols = malloc ((self->nfeat ? self->nfeat : 1) * sizeof *cols);
    double *vals = malloc ((self->nfeat ? self->nfeat : 1) * sizeof *vals);
    double *acc = malloc ((size_t) self->dim * sizeof *acc);
    int rc = RT_OK;
    if (!cols || !vals || !acc)
        rc = rt__fail (RT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == RT_OK; i++) {
        uint64_t *keys = NULL;
        uint32_t *counts = NULL;
        size_t nk = 0, nnz = 0;
        if (s_features (texts[i] ? texts[i] : "", &raw, &keys, &counts, &nk) != RT_OK) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            break;
        }
        s_tfidf (self->keys, self->idf, self->nfeat, keys, counts, nk, cols, vals, &nnz);
        free (keys);
        free (counts);
        memset (acc, 0, (size_t) self->dim * sizeof *acc);
        for (size_t p = 0; p < nnz; p++) {
            const float *row = self->proj + (size_t) cols[p] * (size_t) self->dim;
            double v = vals[p];
            for (int d = 0; d < self->dim; d++)
                acc[d] += v * row[d];
        }
        double s = 0;
        for (int d = 0; d < self->dim; d++)
            s += acc[d] * acc[d];
        double inv = s > 0 ? 1.0 / sqrt (s) : 0.0;
        float *dst = out + i * (size_t) self->dim;
        for (int d = 0; d < self->dim; d++)
            dst[d] = (float) (acc[d] * inv);
    }
    free (raw.k);
    free (cols);
    free (vals);
    free (acc);
    return rc;
}

int
rt_embedder_prepare (rt_embedder_t *self)
{
    if (!self)
        return rt__fail (RT_E_ARG, "rt_embedder_prepare: NULL embedder");
    if (self->kind != KIND_OPENAI || self->dim > 0)
        return RT_OK;
    const char *probe[1] = {"dimension probe"};
    int dim = 0;
    int rc = rt__openai_embed (self->base_url, self->api_key, self->model, self->timeout_ms,
                               self->max_retries, self->retry_base_ms, probe, 1, 0, NULL, &dim);
    if (rc < 0)
        return rc;
    self->dim = dim;
    return RT_OK;
}

int
rt_embedder_dim (const rt_embedder_t *self)
{
    return self ? self->dim : 0;
}

const char *
rt_embedder_name (const rt_embedder_t *self)
{
    return self ? self->name : "";
}

void
rt_embedder_destroy (rt_embedder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_embedder_t *e = *self_p;
    free (e->keys);
    free (e->idf);
    free (e->proj);
    free (e->base_url);
    if (e->api_key) {
        memset (e->api_key, 0, strlen (e->api_key)); /* do not leave keys in freed memory */
        free (e->api_key);
    }
    free (e->model);
    free (e);
    *self_p = NULL;
}
