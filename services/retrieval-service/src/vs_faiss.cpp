/* vs_faiss.cpp — extern "C" shim over FAISS 1.7.3 (see vs_faiss.h).
 *
 * Design: a vs_index_t owns one faiss::Index* produced by index_factory. The
 * factory string always starts with IDMap2 in our use, so the outer object
 * is a faiss::IndexIDMap2 and the inner index (Flat or HNSW) is reached via
 * ->index for HNSW parameters. Every entry point runs its body inside a
 * try/catch(...) that turns any exception into a negative code plus a
 * thread-local message: no exception may unwind through C frames.
 *
 * Why IDMap2 and not IDMap: IDMap2 keeps a reverse map, which gives us
 * reconstruct(id) for exact re-scoring of filtered candidates.
 * remove_ids throws for HNSW in 1.7.3; we check and report UNSUPPORTED
 * before calling it rather than relying on the exception text.
 */
#include "vs_faiss.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

struct _vs_index_t {
    faiss::Index *index;
};

namespace {

thread_local char tl_error[512];

void set_error (const char *what)
{
    std::snprintf (tl_error, sizeof tl_error, "%s", what ? what : "unknown error");
}

void clear_error ()
{
    tl_error[0] = '\0';
}

faiss::IndexHNSW *hnsw_of (const vs_index_t *self)
{
    faiss::Index *inner = self->index;
    if (auto *m2 = dynamic_cast<faiss::IndexIDMap2 *> (inner))
        inner = m2->index;
    else if (auto *m = dynamic_cast<faiss::IndexIDMap *> (inner))
        inner = m->index;
    return dynamic_cast<faiss::IndexHNSW *> (inner);
}

template <typename F> int guarded (F fn)
{
    try {
        clear_error ();
        return fn ();
    } catch (const std::bad_alloc &) {
        set_error ("out of memory");
        return VS_E_NOMEM;
    } catch (const std::exception &e) {
        set_error (e.what ());
        return VS_E_FAISS;
    } catch (...) {
        set_error ("unknown C++ exception");
        return VS_E_FAISS;
    }
}

} // namespace

extern "C" {

vs_index_t *vs_create (int dim, const char *factory, bool metric_ip)
{
    if (dim <= 0 || !factory) {
        set_error ("vs_create: dim must be > 0 and factory non-NULL");
        return nullptr;
    }
    vs_index_t *self = nullptr;
    int rc = guarded ([&] () -> int {
        faiss::Index *ix = faiss::index_factory (
            dim, factory, metric_ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
        self = new _vs_index_t{ix};
        return VS_OK;
    });
    return rc == VS_OK ? self : nullptr;
}

void vs_destroy (vs_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    try {
        delete (*self_p)->index;
    } catch (...) {
        /* destructors of FAISS objects do not throw; swallow defensively */
    }
    delete *self_p;
    *self_p = nullptr;
}

int vs_add_with_ids (vs_index_t *self, int64_t n, const float *x, const int64_t *ids)
{
    if (!self || n < 0 || (n > 0 && (!x || !ids))) {
        set_error ("vs_add_with_ids: bad arguments");
        return VS_E_ARG;
    }
    if (n == 0)
        return VS_OK;
    return guarded ([&] () -> int {
        self->index->add_with_ids ((faiss::Index::idx_t) n, x,
                                   reinterpret_cast<const faiss::Index::idx_t *> (ids));
        return VS_OK;
    });
}

int vs_search (const vs_index_t *self, int64_t nq, const float *q, int k, float *scores,
               int64_t *labels)
{
    if (!self || nq < 0 || k <= 0 || (nq > 0 && (!q || !scores || !labels))) {
        set_error ("vs_search: bad arguments");
        return VS_E_ARG;
    }
    if (nq == 0)
        return VS_OK;
    return guarded ([&] () -> int {
        self->index->search ((faiss::Index::idx_t) nq, q, (faiss::Index::idx_t) k, scores,
                             reinterpret_cast<faiss::Index::idx_t *> (labels));
        return VS_OK;
    });
}

int vs_reconstruct (const vs_index_t *self, int64_t id, float *out)
{
    if (!self || !out) {
        set_error ("vs_reconstruct: bad arguments");
        return VS_E_ARG;
    }
    auto *m2 = dynamic_cast<faiss::IndexIDMap2 *> (self->index);
    if (m2 && m2->rev_map.find ((faiss::Index::idx_t) id) == m2->rev_map.end ()) {
        set_error ("vs_reconstruct: unknown id");
        return VS_E_ARG;
    }
    return guarded ([&] () -> int {
        self->index->reconstruct ((faiss::Index::idx_t) id, out);
        return VS_OK;
    });
}

int vs_remove_ids (vs_index_t *self, const int64_t *ids, size_t n, size_t *removed)
{
    if (!self || (n > 0 && !ids)) {
        set_error ("vs_remove_ids: bad arguments");
        return VS_E_ARG;
    }
    if (hnsw_of (self)) {
        set_error ("vs_remove_ids: not supported by HNSW indexes in FAISS 1.7.3");
        return VS_E_UNSUPPORTED;
    }
    return guarded ([&] () -> int {
        faiss::IDSelectorBatch sel (n, reinterpret_cast<const faiss::Index::idx_t *> (ids));
        size_t r = self->index->remove_ids (sel);
        if (removed)
            *removed = r;
        return VS_OK;
    });
}

int64_t vs_ntotal (const vs_index_t *self)
{
    return self ? (int64_t) self->index->ntotal : 0;
}

int vs_dim (const vs_index_t *self)
{
    return self ? (int) self->index->d : 0;
}

bool vs_is_hnsw (const vs_index_t *self)
{
    if (!self)
        return false;
    try {
        return hnsw_of (self) != nullptr;
    } catch (...) {
        return false;
    }
}

int vs_set_hnsw_ef (vs_index_t *self, int ef_search, int ef_construction)
{
    if (!self) {
        set_error ("vs_set_hnsw_ef: NULL index");
        return VS_E_ARG;
    }
    faiss::IndexHNSW *h = hnsw_of (self);
    if (!h) {
        set_error ("vs_set_hnsw_ef: index is not HNSW");
        return VS_E_UNSUPPORTED;
    }
    if (ef_search > 0)
        h->hnsw.efSearch = ef_search;
    if (ef_construction > 0)
        h->hnsw.efConstruction = ef_construction;
    return VS_OK;
}

int vs_write (const vs_index_t *self, const char *path)
{
    if (!self || !path) {
        set_error ("vs_write: bad arguments");
        return VS_E_ARG;
    }
    int rc = guarded ([&] () -> int {
        faiss::write_index (self->index, path);
        return VS_OK;
    });
    return rc == VS_E_FAISS ? VS_E_IO : rc;
}

vs_index_t *vs_read (const char *path)
{
    if (!path) {
        set_error ("vs_read: NULL path");
        return nullptr;
    }
    vs_index_t *self = nullptr;
    guarded ([&] () -> int {
        faiss::Index *ix = faiss::read_index (path, 0);
        self = new _vs_index_t{ix};
        return VS_OK;
    });
    return self;
}

void vs_set_threads (int n)
{
    if (n >= 1)
        omp_set_num_threads (n);
}

void vs_set_blas_threshold (int n)
{
    if (n >= 1)
        faiss::distance_compute_blas_threshold = n;
}

const char *vs_last_error (void)
{
    return tl_error;
}

const char *vs_strerror (int code)
{
    switch (code) {
    case VS_OK: return "ok";
    case VS_E_ARG: return "invalid argument";
    case VS_E_FAISS: return "FAISS error";
    case VS_E_IO: return "index file read/write failed";
    case VS_E_NOMEM: return "out of memory";
    case VS_E_UNSUPPORTED: return "operation not supported by this index type";
    default: return "unknown vs error";
    }
}

} // extern "C"
