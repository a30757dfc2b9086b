/* test_vs_faiss.c — unit tests of the FAISS shim: create/add/search on
 * IDMap2,Flat and IDMap2,HNSW32 with inner product on unit-norm vectors,
 * self-query top hit, HNSW recall@10 against exact search on 2k structured
 * vectors, write/read round trip, error paths and the thread-local error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs_faiss.h"

enum { N = 2000, D = 96, LATENT = 32, NQ = 200, K = 10 };

static uint64_t s_rng = 88172645463325252ULL;
static double s_rand (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (double) (s_rng >> 11) / 9007199254740992.0;
}

/* Structured data: points on an 8-dimensional latent subspace, mapped into
 * 64 dimensions by a fixed random matrix, plus a little noise, normalised. */
static void s_make_data (float *x, int n)
{
    static float proj[LATENT][D];
    static int ready = 0;
    if (!ready) {
        for (int i = 0; i < LATENT; i++)
            for (int j = 0; j < D; j++)
                proj[i][j] = (float) (s_rand () * 2 - 1);
        ready = 1;
    }
    for (int r = 0; r < n; r++) {
        float z[LATENT];
        for (int i = 0; i < LATENT; i++)
            z[i] = (float) (s_rand () * 2 - 1);
        double norm = 0;
        for (int j = 0; j < D; j++) {
            float v = 0;
            for (int i = 0; i < LATENT; i++)
                v += z[i] * proj[i][j];
            v += (float) ((s_rand () - 0.5) * 0.05);
            x[(size_t) r * D + j] = v;
            norm += (double) v * v;
        }
        norm = sqrt (norm);
        for (int j = 0; j < D; j++)
            x[(size_t) r * D + j] = (float) (x[(size_t) r * D + j] / norm);
    }
}

static float *s_data;
static int64_t *s_ids;

static int setup (void **state)
{
    (void) state;
    s_data = malloc (sizeof (float) * N * D);
    s_ids = malloc (sizeof (int64_t) * N);
    if (!s_data || !s_ids)
        return -1;
    s_make_data (s_data, N);
    for (int i = 0; i < N; i++)
        s_ids[i] = 1000 + 3 * i; /* non-contiguous ids prove the IDMap works */
    vs_set_threads (1);
    return 0;
}

static int teardown (void **state)
{
    (void) state;
    free (s_data);
    free (s_ids);
    return 0;
}

static void test_flat_self_query (void **state)
{
    (void) state;
    vs_index_t *ix = vs_create (D, "IDMap2,Flat", true);
    assert_non_null (ix);
    assert_int_equal (vs_add_with_ids (ix, N, s_data, s_ids), VS_OK);
    assert_int_equal (vs_ntotal (ix), N);
    assert_int_equal (vs_dim (ix), D);
    assert_false (vs_is_hnsw (ix));
    float sc[K];
    int64_t lab[K];
    for (int i = 0; i < N; i += 97) {
        assert_int_equal (vs_search (ix, 1, s_data + (size_t) i * D, K, sc, lab), VS_OK);
        assert_int_equal (lab[0], s_ids[i]);
        assert_true (fabsf (sc[0] - 1.0f) < 1e-4f);
        for (int j = 1; j < K; j++)
            assert_true (sc[j] <= sc[j - 1]);
    }
    /* reconstruct returns the stored vector; unknown ids are an error */
    float v[D];
    assert_int_equal (vs_reconstruct (ix, s_ids[5], v), VS_OK);
    assert_memory_equal (v, s_data + 5 * D, sizeof v);
    assert_int_equal (vs_reconstruct (ix, 7, v), VS_E_ARG);
    /* remove works on Flat */
    size_t removed = 0;
    int64_t gone[2] = {s_ids[0], s_ids[1]};
    assert_int_equal (vs_remove_ids (ix, gone, 2, &removed), VS_OK);
    assert_int_equal (removed, 2);
    assert_int_equal (vs_ntotal (ix), N - 2);
    assert_int_equal (vs_search (ix, 1, s_data, K, sc, lab), VS_OK);
    assert_true (lab[0] != s_ids[0]);
    /* ef on Flat is unsupported, with a message */
    assert_int_equal (vs_set_hnsw_ef (ix, 64, 0), VS_E_UNSUPPORTED);
    assert_true (strlen (vs_last_error ()) > 0);
    vs_destroy (&ix);
    assert_null (ix);
    vs_destroy (&ix); /* double destroy is harmless */
}

static double s_recall_at_k (vs_index_t *exact, vs_index_t *approx, const float *q, int nq)
{
    float *s1 = malloc (sizeof (float) * nq * K), *s2 = malloc (sizeof (float) * nq * K);
    int64_t *l1 = malloc (sizeof (int64_t) * nq * K), *l2 = malloc (sizeof (int64_t) * nq * K);
    assert_non_null (s1);
    assert_non_null (s2);
    assert_non_null (l1);
    assert_non_null (l2);
    assert_int_equal (vs_search (exact, nq, q, K, s1, l1), VS_OK);
    assert_int_equal (vs_search (approx, nq, q, K, s2, l2), VS_OK);
    int hit = 0;
    for (int i = 0; i < nq; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                if (l1[i * K + a] == l2[i * K + b]) {
                    hit++;
                    break;
                }
    free (s1);
    free (s2);
    free (l1);
    free (l2);
    return (double) hit / (nq * K);
}

static void test_hnsw_recall_and_persistence (void **state)
{
    (void) state;
    vs_index_t *flat = vs_create (D, "IDMap2,Flat", true);
    vs_index_t *hnsw = vs_create (D, "IDMap2,HNSW32", true);
    assert_non_null (flat);
    assert_non_null (hnsw);
    assert_true (vs_is_hnsw (hnsw));
    assert_int_equal (vs_set_hnsw_ef (hnsw, 64, 40), VS_OK);
    assert_int_equal (vs_add_with_ids (flat, N, s_data, s_ids), VS_OK);
    assert_int_equal (vs_add_with_ids (hnsw, N, s_data, s_ids), VS_OK);

    float *q = malloc (sizeof (float) * NQ * D);
    assert_non_null (q);
    s_make_data (q, NQ);
    double recall = s_recall_at_k (flat, hnsw, q, NQ);
    printf ("HNSW32 efSearch=64 recall@10 vs Flat on %d x %d: %.4f\n", N, D, recall);
    assert_true (recall >= 0.95);

    /* efSearch matters: a tiny efSearch must not beat a large one */
    assert_int_equal (vs_set_hnsw_ef (hnsw, 8, 0), VS_OK);
    double low = s_recall_at_k (flat, hnsw, q, NQ);
    assert_int_equal (vs_set_hnsw_ef (hnsw, 128, 0), VS_OK);
    double high = s_recall_at_k (flat, hnsw, q, NQ);
    printf ("recall@10 efSearch=8: %.4f, efSearch=128: %.4f\n", low, high);
    assert_true (high >= low);
    assert_true (high >= 0.95);

    /* remove is refused on HNSW */
    size_t removed = 99;
    assert_int_equal (vs_remove_ids (hnsw, s_ids, 1, &removed), VS_E_UNSUPPORTED);

    /* write / read round trip keeps results identical */
    char path[] = "/tmp/vs_faiss_testXXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
    assert_int_equal (vs_write (hnsw, path), VS_OK);
    vs_index_t *back = vs_read (path);
    assert_non_null (back);
    assert_true (vs_is_hnsw (back));
    assert_int_equal (vs_ntotal (back), N);
    assert_int_equal (vs_set_hnsw_ef (back, 128, 0), VS_OK);
    float s1[K], s2[K];
    int64_t l1[K], l2[K];
    assert_int_equal (vs_search (hnsw, 1, q, K, s1, l1), VS_OK);
    assert_int_equal (vs_search (back, 1, q, K, s2, l2), VS_OK);
    assert_memory_equal (l1, l2, sizeof l1);
    /* self-query through the reloaded index */
    assert_int_equal (vs_search (back, 1, s_data + 10 * D, K, s2, l2), VS_OK);
    assert_int_equal (l2[0], s_ids[10]);
    unlink (path);
    free (q);
    vs_destroy (&back);
    vs_destroy (&flat);
    vs_destroy (&hnsw);
}

static void test_errors (void **state)
{
    (void) state;
    assert_null (vs_create (0, "IDMap2,Flat", true));
    assert_true (strlen (vs_last_error ()) > 0);
    assert_null (vs_create (8, "NoSuchIndexType", true));
    assert_true (strlen (vs_last_error ()) > 0);
    assert_null (vs_read ("/nonexistent/dir/index.faiss"));
    assert_true (strlen (vs_last_error ()) > 0);
    vs_index_t *ix = vs_create (8, "IDMap2,Flat", true);
    assert_non_null (ix);
    float q[8] = {1};
    float sc[1];
    int64_t lab[1];
    assert_int_equal (vs_search (ix, 1, q, 0, sc, lab), VS_E_ARG);
    assert_int_equal (vs_search (ix, 1, q, 1, sc, lab), VS_OK); /* empty index: label -1 */
    assert_int_equal (lab[0], -1);
    assert_int_equal (vs_write (ix, "/nonexistent/dir/x.faiss"), VS_E_IO);
    assert_string_not_equal (vs_strerror (VS_E_IO), "unknown vs error");
    vs_destroy (&ix);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_flat_self_query),
        cmocka_unit_test (test_hnsw_recall_and_persistence),
        cmocka_unit_test (test_errors),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
