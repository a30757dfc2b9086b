/* rt_util.c — shared plumbing of rt_retrieval: error codes and the
 * thread-local last-error text, the document set, small string and hashing
 * helpers, a seeded generator, file helpers and configuration defaults.
 *
 * The docset owns every string of every document: rt_docset_add deep-copies
 * into one malloc'd block per document, so freeing is one free() per doc and
 * pointers handed out by rt_docset_get stay valid until the set changes
 * (growth moves the array of structs, never the strings).
 * Sorting is canonical (corpus order, then doc_id with strcmp) so indexes are
 * built in the same order on every machine. Lookup by doc_id uses an
 * open-addressing hash (linear probing), rebuilt after growth and sorting.
 */
#include "rt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static _Thread_local char s_err[1024];

int
rt__fail (int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (s_err, sizeof s_err, fmt, ap);
    va_end (ap);
    if (n < 0)
        s_err[0] = '\0';
    return code;
}

void
rt__clear_error (void)
{
    s_err[0] = '\0';
}

const char *
rt_last_error (void)
{
    return s_err;
}

const char *
rt_strerror (int code)
{
    switch (code) {
    case RT_OK: return "ok";
    case RT_E_ARG: return "invalid argument";
    case RT_E_NOMEM: return "out of memory";
    case RT_E_DB: return "database error";
    case RT_E_IO: return "file or directory error";
    case RT_E_FORMAT: return "malformed input";
    case RT_E_DIM: return "embedder or dimension mismatch";
    case RT_E_EMBED: return "embedder failure";
    case RT_E_HTTP: return "embeddings API transport failure";
    case RT_E_FAISS: return "vector index failure";
    case RT_E_NOTFOUND: return "not found";
    case RT_E_UNIMPLEMENTED: return "not implemented";
    case RT_E_TOOBIG: return "size limit exceeded";
    default: return "unknown retrieval error";
    }
}

const char *const rt__corpus_names[3] = {RT_CORPUS_TELEMETRY, RT_CORPUS_DOCS, RT_CORPUS_RUNBOOKS};

int
rt__corpus_index (const char *corpus)
{
    if (!corpus)
        return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp (corpus, rt__corpus_names[i]) == 0)
            return i;
    return -1;
}

bool
rt_corpus_valid (const char *corpus)
{
    return rt__corpus_index (corpus) >= 0;
}

void
rt__slug (const char *text, size_t len, char *out, size_t size)
{
    size_t o = 0;
    bool dash = false;
    if (size == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char) text[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o > 0 && o + 2 < size)
                out[o++] = '-';
            dash = false;
            out[o++] = (char) c;
        } else if (c >= 'A' && c <= 'Z') {
            if (dash && o > 0 && o + 2 < size)
                out[o++] = '-';
            dash = false;
            out[o++] = (char) (c - 'A' + 'a');
        } else {
            dash = true;
        }
    }
    out[o] = '\0';
}

uint64_t
rt__fnv1a (uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t
rt__rng_next (rt_rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double
rt__rng_sym (rt_rng_t *r)
{
    return (double) (rt__rng_next (r) >> 11) / 4503599627370496.0 - 1.0;
}

int
rt__strv_push (rt_strv_t *sv, const char *s)
{
    if (sv->n == sv->cap) {
        size_t nc = sv->cap ? sv->cap * 2 : 8;
        char **nv = realloc (sv->v, nc * sizeof *nv);
        if (!nv)
            return rt__fail (RT_E_NOMEM, "out of memory");
        sv->v = nv;
        sv->cap = nc;
    }
    char *d = str_dup (s ? s : "");
    if (!d)
        return rt__fail (RT_E_NOMEM, "out of memory");
    sv->v[sv->n++] = d;
    return RT_OK;
}

int
rt__strv_push_unique (rt_strv_t *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp (sv->v[i], s) == 0)
            return RT_OK;
    return rt__strv_push (sv, s);
}

void
rt__strv_free (rt_strv_t *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free (sv->v[i]);
    free (sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

char *
rt__strv_join (const rt_strv_t *sv)
{
    size_t len = 1;
    for (size_t i = 0; i < sv->n; i++)
        len += strlen (sv->v[i]) + 1;
    char *out = malloc (len), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < sv->n; i++) {
        size_t l = strlen (sv->v[i]);
        if (i)
            *p++ = ' ';
        memcpy (p, sv->v[i], l);
        p += l;
    }
    *p = '\0';
    return out;
}

double
rt__now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
rt__write_file (const char *path, const void *data, size_t len)
{
    FILE *f = fopen (path, "wb");
    if (!f)
        return rt__fail (RT_E_IO, "cannot create %s: %s", path, strerror (errno));
    size_t w = len ? fwrite (data, 1, len, f) : 0;
    int rc = fclose (f);
    if (w != len || rc != 0)
        return rt__fail (RT_E_IO, "cannot write %s: %s", path, strerror (errno));
    return RT_OK;
}

int
rt__read_file (const char *path, size_t cap, char **out, size_t *len_out)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return rt__fail (RT_E_IO, "cannot open %s: %s", path, strerror (errno));
    struct stat st;
    if (fstat (fileno (f), &st) != 0 || st.st_size < 0) {
        fclose (f);
        return rt__fail (RT_E_IO, "cannot stat %s", path);
    }
    if ((size_t) st.st_size > cap) {
        fclose (f);
        return rt__fail (RT_E_TOOBIG, "%s is larger than %zu bytes", path, cap);
    }
    size_t len = (size_t) st.st_size;
    char *buf = malloc (len + 1);
    if (!buf) {
        fclose (f);
        return rt__fail (RT_E_NOMEM, "out of memory reading %s", path);
    }
    size_t r = len ? fread (buf, 1, len, f) : 0;
    fclose (f);
    if (r != len) {
        free (buf);
        return rt__fail (RT_E_IO, "short read on %s", path);
    }
    buf[len] = '\0';
    *out = buf;
    if (len_out)
        *len_out = len;
    return RT_OK;
}

/* ------------------------------------------------------------------------ */
/* docset                                                                    */

struct _rt_docset_t {
    rt_doc_t *docs;
    char **blocks;   /* blocks[i] holds every string of docs[i] */
    size_t n, cap;
    size_t *slots;   /* open-addressing hash of doc_id -> index + 1 (0 = empty) */
    size_t nslots;   /* power of two, kept at least 2 * cap */
};

static size_t
s_slot_of (const char *doc_id, size_t nslots)
{
    return (size_t) rt__fnv1a (RT_FNV_OFFSET, doc_id, strlen (doc_id)) & (nslots - 1);
}

static void
s_rehash (rt_docset_t *self)
{
    memset (self->slots, 0, self->nslots * sizeof *self->slots);
    for (size_t i = 0; i < self->n; i++) {
        size_t s = s_slot_of (self->docs[i].doc_id, self->nslots);
        while (self->slots[s])
            s = (s + 1) & (self->nslots - 1);
        self->slots[s] = i + 1;
    }
}

rt_docset_t *
rt_docset_new (void)
{
    rt_docset_t *self = calloc (1, sizeof *self);
    if (!self)
        rt__fail (RT_E_NOMEM, "out of memory");
    return self;
}

void
rt_docset_destroy (rt_docset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_docset_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free (self->blocks[i]);
    free (self->blocks);
    free (self->docs);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

int
rt_docset_add (rt_docset_t *self, const rt_doc_t *doc)
{
    if (!self || !doc || !doc->doc_id || !*doc->doc_id || !doc->corpus || !*doc->corpus
        || !doc->text || !*doc->text)
        return rt__fail (RT_E_ARG, "document needs doc_id, corpus and text");
    if (rt_docset_find (self, doc->doc_id) >= 0)
        return rt__fail (RT_E_FORMAT, "duplicate document id %s", doc->doc_id);
    const char *src[10] = {doc->doc_id, doc->corpus,      doc->type,        doc->title,
                           doc->url,    doc->anchor,      doc->text,        doc->entity_ids,
                           doc->source_file, doc->meta_json};
    size_t lens[10], total = 0;
    for (int i = 0; i < 10; i++) {
        if (!src[i])
            src[i] = (i == 9) ? "{}" : "";
        lens[i] = strlen (src[i]);
        total += lens[i] + 1;
    }
    if (self->n == self->cap) {
        size_t nc = self->cap ? self->cap * 2 : 64;
        rt_doc_t *nd = realloc (self->docs, nc * sizeof *nd);
        if (!nd)
            return rt__fail (RT_E_NOMEM, "out of memory");
        self->docs = nd;
        char **nb = realloc (self->blocks, nc * sizeof *nb);
        if (!nb)
            return rt__fail (RT_E_NOMEM, "out of memory");
        self->blocks = nb;
        self->cap = nc;
        size_t *ns = calloc (nc * 4, sizeof *ns);
        if (!ns)
            return rt__fail (RT_E_NOMEM, "out of memory");
        free (self->slots);
        self->slots = ns;
        self->nslots = nc * 4;
        s_rehash (self);
    }
    char *block = malloc (total), *p = block;
    if (!block)
        return rt__fail (RT_E_NOMEM, "out of memory");
    const char *dst[10];
    for (int i = 0; i < 10; i++) {
        memcpy (p, src[i], lens[i] + 1);
        dst[i] = p;
        p += lens[i] + 1;
    }
    rt_doc_t d = {dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6], dst[7], dst[8], dst[9]};
    self->docs[self->n] = d;
    self->blocks[self->n] = block;
    size_t s = s_slot_of (d.doc_id, self->nslots);
    while (self->slots[s])
        s = (s + 1) & (self->nslots - 1);
    self->slots[s] = self->n + 1;
    self->n++;
    return RT_OK;
}

size_t
rt_docset_size (const rt_docset_t *self)
{
    return self ? self->n : 0;
}

const rt_doc_t *
rt_docset_get (const rt_docset_t *self, size_t i)
{
    return (self && i < self->n) ? &self->docs[i] : NULL;
}

static int
s_doc_cmp (const rt_doc_t *a, const rt_doc_t *b)
{
    int ca = rt__corpus_index (a->corpus), cb = rt__corpus_index (b->corpus);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    return strcmp (a->doc_id, b->doc_id);
}

int
rt_docset_sort (rt_docset_t *self)
{
    if (!self || self->n < 2)
        return RT_OK;
    /* Sort an index permutation, then apply it to both arrays. A bottom-up
     * merge sort keeps it stable and needs no global comparator context. */
    size_t n = self->n;
    size_t *idx = malloc (n * sizeof *idx), *tmp = malloc (n * sizeof *tmp);
    rt_doc_t *nd = malloc (n * sizeof *nd);
    char **nb = malloc (n * sizeof *nb);
    if (!idx || !tmp || !nd || !nb) {
        free (idx);
        free (tmp);
        free (nd);
        free (nb);
        return rt__fail (RT_E_NOMEM, "out of memory sorting documents");
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = s_doc_cmp (&self->docs[idx[a]], &self->docs[idx[b]]) <= 0 ? idx[a++]
                                                                                    : idx[b++];
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        size_t *sw = idx;
        idx = tmp;
        tmp = sw;
    }
    for (size_t i = 0; i < n; i++) {
        nd[i] = self->docs[idx[i]];
        nb[i] = self->blocks[idx[i]];
    }
    free (self->docs);
    free (self->blocks);
    self->docs = nd;
    self->blocks = nb;
    s_rehash (self);
    free (idx);
    free (tmp);
    return RT_OK;
}

long
rt_docset_find (const rt_docset_t *self, const char *doc_id)
{
    if (!self || !doc_id || self->nslots == 0)
        return -1;
    size_t s = s_slot_of (doc_id, self->nslots);
    while (self->slots[s]) {
        size_t i = self->slots[s] - 1;
        if (strcmp (self->docs[i].doc_id, doc_id) == 0)
            return (long) i;
        s = (s + 1) & (self->nslots - 1);
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* configuration defaults                                                    */

void
rt_config_defaults (rt_config_t *out)
{
    memset (out, 0, sizeof *out);
    str_copy (out->embedder, sizeof out->embedder, "lsa");
    out->dim = 0;
    str_copy (out->openai_base_url, sizeof out->openai_base_url, "https://api.openai.com/v1");
    str_copy (out->openai_model, sizeof out->openai_model, "text-embedding-3-small");
    out->openai_timeout_ms = 30000;
    out->openai_max_retries = 2;
    out->flat_max = 50000;
    out->hnsw_m = 32;
    out->ef_search = 64;
    out->ef_construction = 40;
    out->chunk_max = 1000;
    out->chunk_overlap = 150;
    out->rrf_k = 60;
    out->keyword_max_df = 0.05;
    out->keyword_prune_min_docs = 100000;
    out->threads = 1;
    out->lsa.dim = 256;
    out->lsa.max_features = 65536;
    out->lsa.min_df = 1;
    out->lsa.fit_sample = 8000;
    out->lsa.power_iters = 2;
    out->lsa.seed = 42;
}
