/* rt_internal.h — internals shared by the rt_*.c files of rt_retrieval.
 * Not part of the public API (rt.h). */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rt.h"
#include "str.h"

/* Records the detail of a failure for rt_last_error() and returns `code`. */
int rt__fail (int code, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Clears the thread's last error. */
void rt__clear_error (void);

/* Corpus order used for sorting and for the per-corpus arrays. -1 if unknown. */
int rt__corpus_index (const char *corpus);
extern const char *const rt__corpus_names[3];

/* Lower-case slug of `text` (ASCII letters and digits kept, runs of anything
 * else become one '-', no leading/trailing '-') into out. */
void rt__slug (const char *text, size_t len, char *out, size_t size);

/* 64-bit FNV-1a over bytes, continuing from `h` (start with RT_FNV_OFFSET). */
#define RT_FNV_OFFSET 14695981039346656037ULL
uint64_t rt__fnv1a (uint64_t h, const void *data, size_t len);

/* splitmix64 generator for deterministic pseudo-random numbers. */
typedef struct { uint64_t s; } rt_rng_t;
uint64_t rt__rng_next (rt_rng_t *r);
/* Uniform double in [-1, 1). */
double rt__rng_sym (rt_rng_t *r);

/* A growable array of malloc'd strings (for entity id lists and the like). */
typedef struct {
    char **v;
    size_t n, cap;
} rt_strv_t;
int rt__strv_push (rt_strv_t *sv, const char *s);   /* copies; 0 or RT_E_NOMEM */
void rt__strv_free (rt_strv_t *sv);
/* Pushes only if not already present (linear scan). */
int rt__strv_push_unique (rt_strv_t *sv, const char *s);
/* Joins with ' ' into a malloc'd string. NULL on OOM. */
char *rt__strv_join (const rt_strv_t *sv);

/* Monotonic seconds, for build statistics. */
double rt__now_s (void);

/* Writes `len` bytes to `path` atomically enough for our use (write + fsync
 * of a temp file is not needed: index dirs are swapped as a whole). */
int rt__write_file (const char *path, const void *data, size_t len);
/* Reads a whole file into a malloc'd NUL-terminated buffer (cap bytes max). */
int rt__read_file (const char *path, size_t cap, char **out, size_t *len_out);

/* Symmetric eigen-decomposition (rt_embed.c): A (n x n, row-major) is
 * replaced by the eigenvectors as columns, eigenvalues to w. 0 or -1. */
int rt__symeig (double *A, int n, double *w);

/* Embedded corpus files (copilot_embed). */
typedef struct { const char *name; const char *data; size_t size; } rt_corpus_file_t;
extern const rt_corpus_file_t rt_corpus_files[];

#endif
