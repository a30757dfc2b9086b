/* vs_faiss.h — the project's extern "C" shim over FAISS 1.7.3 (C++ only in
 * Debian: libfaiss.a holds no C-API objects, c-patterns §6.1).
 *
 * A vs_index_t wraps one faiss::Index built by faiss::index_factory, always
 * behind IDMap2 so vectors carry our own int64 ids. Supported factory strings
 * are "IDMap2,Flat" (exact) and "IDMap2,HNSW<M>" (approximate); others are
 * passed through to FAISS and may work. Inner-product metric is meant for
 * unit-norm vectors (so IP ranks like cosine).
 *
 * Errors: functions return 0 / a negative VS_E_* code, constructors return
 * NULL; the message of the last failure on the calling thread is in
 * vs_last_error(). No C++ exception ever crosses into C. A vs_index_t is not
 * thread-safe for writes; concurrent vs_search calls on one index are safe
 * (FAISS const search) as long as nothing adds or changes parameters.
 */
#ifndef VS_FAISS_H
#define VS_FAISS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _vs_index_t vs_index_t;

enum {
    VS_OK = 0,
    VS_E_ARG = -1,         /* invalid argument (NULL, dim <= 0, k <= 0 ...) */
    VS_E_FAISS = -2,       /* FAISS threw; see vs_last_error() */
    VS_E_IO = -3,          /* read or write failed */
    VS_E_NOMEM = -4,
    VS_E_UNSUPPORTED = -5, /* operation not available for this index type */
};

/* Creates an empty index of dimension `dim` from a FAISS factory string
 * ("IDMap2,Flat", "IDMap2,HNSW32"). `metric_ip` selects inner product (true)
 * or L2 (false). NULL on failure (vs_last_error()). */
vs_index_t *vs_create (int dim, const char *factory, bool metric_ip);

/* Frees the index and sets *self_p = NULL. NULL-safe. */
void vs_destroy (vs_index_t **self_p);

/* Adds `n` row-major vectors of dimension vs_dim() with the given ids.
 * For HNSW, efConstruction must be set before the first add. 0 or VS_E_*. */
int vs_add_with_ids (vs_index_t *self, int64_t n, const float *x, const int64_t *ids);

/* k-NN search for `nq` queries. Writes nq*k scores (inner products, or
 * squared L2 distances) and labels; missing results have label -1.
 * Results per query are ordered best first. 0 or VS_E_*. */
int vs_search (const vs_index_t *self, int64_t nq, const float *q, int k, float *scores,
               int64_t *labels);

/* Copies the stored vector with id `id` into out[vs_dim()]. VS_E_ARG when the
 * id is unknown. 0 or VS_E_*. */
int vs_reconstruct (const vs_index_t *self, int64_t id, float *out);

/* Removes ids; *removed receives the count. VS_E_UNSUPPORTED on HNSW (FAISS
 * 1.7.3 throws there). */
int vs_remove_ids (vs_index_t *self, const int64_t *ids, size_t n, size_t *removed);

/* Number of stored vectors, dimension, and whether the index is HNSW. */
int64_t vs_ntotal (const vs_index_t *self);
int vs_dim (const vs_index_t *self);
bool vs_is_hnsw (const vs_index_t *self);

/* Sets HNSW efSearch and/or efConstruction (values <= 0 leave a setting
 * alone). VS_E_UNSUPPORTED when the index is not HNSW. */
int vs_set_hnsw_ef (vs_index_t *self, int ef_search, int ef_construction);

/* Persists to / loads from a file (FAISS native format). vs_read returns NULL
 * on failure (vs_last_error()). */
int vs_write (const vs_index_t *self, const char *path);
vs_index_t *vs_read (const char *path);

/* Process-wide knobs: OpenMP threads used by FAISS (n >= 1) and the query
 * batch size from which FAISS uses BLAS for exact search. */
void vs_set_threads (int n);
void vs_set_blas_threshold (int n);

/* Message of the last failure on this thread ("" when none). */
const char *vs_last_error (void);
/* Static text for a VS_E_* code. */
const char *vs_strerror (int code);

#ifdef __cplusplus
}
#endif
#endif
