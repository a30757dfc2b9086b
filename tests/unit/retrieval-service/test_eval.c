/* test_eval.c — retrieval quality and index behaviour on the fixture DB.
 *
 * Builds the full index (telemetry from the fixture + built-in knowledge base
 * and runbooks) into a temporary directory once, then:
 *   - evaluation set (eval_set.tsv): recall@k per corpus for hybrid, vector
 *     and keyword search, asserted against fixed floors;
 *   - corpus facts: graph-node ids (jobrun::, never run::), per-type counts;
 *   - anomaly documents: one per detector anomaly (10 on the fixture, 5
 *     critical), ids anomaly::<entity pk>:<date>, the max_anomalies bound;
 *   - entity-id filters;
 *   - HNSW recall@10 against exact search on the real embeddings, and the
 *     HNSW path of the index builder;
 *   - determinism: a second build gives the same version, byte-identical
 *     model and vector files, and identical results;
 *   - dimension / embedder mismatch and argument errors;
 *   - keyword pruning: with retrieval.keyword_prune_min_docs reached, BM25
 *     ignores terms (judged after stemming) above retrieval.keyword_max_df.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"
#include "vs_faiss.h"

#define MAX_CASES 256

typedef struct {
    char corpus[16];
    int k;
    char expected[512];
    char question[512];
} eval_case_t;

static char s_tmp[256];
static char s_dir1[300], s_dir2[300], s_dir3[300];
static eval_case_t s_cases[MAX_CASES];
static int s_ncases;
static rt_config_t s_cfg;

static int
load_cases (void)
{
    FILE *f = fopen (RT_EVAL_SET, "r");
    if (!f)
        return -1;
    char line[2048];
    while (fgets (line, sizeof line, f) && s_ncases < MAX_CASES) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn (line, "\n")] = '\0';
        char *save = NULL;
        char *c = strtok_r (line, "\t", &save), *k = strtok_r (NULL, "\t", &save),
             *e = strtok_r (NULL, "\t", &save), *q = strtok_r (NULL, "\t", &save);
        if (!c || !k || !e || !q)
            continue;
        eval_case_t *ec = &s_cases[s_ncases++];
        snprintf (ec->corpus, sizeof ec->corpus, "%s", strcmp (c, "*") == 0 ? "" : c);
        ec->k = (int) strtol (k, NULL, 10);
        snprintf (ec->expected, sizeof ec->expected, "%s", e);
        snprintf (ec->question, sizeof ec->question, "%s", q);
    }
    fclose (f);
    return s_ncases > 0 ? 0 : -1;
}

static int
group_setup (void **state)
{
    (void) state;
    snprintf (s_tmp, sizeof s_tmp, "/tmp/rt_eval_XXXXXX");
    if (!mkdtemp (s_tmp))
        return -1;
    snprintf (s_dir1, sizeof s_dir1, "%s/a", s_tmp);
    snprintf (s_dir2, sizeof s_dir2, "%s/b", s_tmp);
    snprintf (s_dir3, sizeof s_dir3, "%s/hnsw", s_tmp);
    if (load_cases () != 0) {
        fprintf (stderr, "cannot read %s\n", RT_EVAL_SET);
        return -1;
    }
    rt_config_defaults (&s_cfg);
    rt_build_stats_t st;
    int rc = rt_index_build (RT_FIXTURE_DB, s_dir1, &s_cfg, NULL, NULL, &st);
    if (rc != RT_OK) {
        fprintf (stderr, "build failed: %s\n", rt_last_error ());
        return -1;
    }
    printf ("fixture index: telemetry %zu, docs %zu, runbooks %zu documents; dim %d; %.2f MiB; "
            "corpus %.2f s, embed %.2f s, index %.2f s; version %s\n",
            st.docs[0], st.docs[1], st.docs[2], st.dim, (double) st.bytes / 1048576.0, st.seconds_load,
            st.seconds_embed, st.seconds_index, st.index_version);
    return 0;
}

static int
group_teardown (void **state)
{
    (void) state;
    const char *dirs[3] = {s_dir1, s_dir2, s_dir3};
    const char *files[] = {"meta.sqlite", "telemetry.faiss", "docs.faiss", "runbooks.faiss", "embedder.lsa", NULL};
    for (int d = 0; d < 3; d++) {
        char p[400];
        for (int i = 0; files[i]; i++) {
            snprintf (p, sizeof p, "%s/%s", dirs[d], files[i]);
            unlink (p);
        }
        rmdir (dirs[d]);
    }
    rmdir (s_tmp);
    return 0;
}

/* recall of one case: fraction of expected prefixes matched by some hit */
static double
case_recall (rt_index_t *ix, const eval_case_t *ec, rt_mode_t mode, char *first_hit, size_t fsize)
{
    rt_query_t q = {.corpus = ec->corpus, .query = ec->question, .k = ec->k, .mode = mode};
    rt_result_t *res = NULL;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    char exp[512];
    snprintf (exp, sizeof exp, "%s", ec->expected);
    int total = 0, found = 0;
    char *save = NULL;
    for (char *e = strtok_r (exp, "|", &save); e; e = strtok_r (NULL, "|", &save)) {
        total++;
        for (size_t i = 0; i < rt_result_count (res); i++)
            if (strncmp (rt_result_hit (res, i)->doc->doc_id, e, strlen (e)) == 0) {
                found++;
                break;
            }
    }
    if (first_hit)
        snprintf (first_hit, fsize, "%s", rt_result_count (res) ? rt_result_hit (res, 0)->doc->doc_id : "-");
    rt_result_destroy (&res);
    return total ? (double) found / total : 0.0;
}

static void
test_eval_recall (void **state)
{
    (void) state;
    rt_index_t *ix = rt_index_open (s_dir1, &s_cfg);
    assert_non_null (ix);
    const char *mode_names[3] = {"hybrid", "vector", "keyword"};
    const char *groups[4] = {"telemetry", "docs", "runbooks", ""};
    double sum[3][4] = {{0}}, all[3] = {0};
    int cnt[4] = {0};
    for (int c = 0; c < s_ncases; c++) {
        int g = 3;
        for (int j = 0; j < 3; j++)
            if (strcmp (s_cases[c].corpus, groups[j]) == 0)
                g = j;
        cnt[g]++;
        for (int m = 0; m < 3; m++) {
            char first[256];
            double r = case_recall (ix, &s_cases[c], (rt_mode_t) m, first, sizeof first);
            sum[m][g] += r;
            all[m] += r;
            if (r < 1.0 && m == 0)
                printf ("  partial (%s, recall %.2f): %s -> top hit %s\n", mode_names[m], r,
                        s_cases[c].question, first);
        }
    }
    double rec[3][4], tot[3];
    for (int m = 0; m < 3; m++) {
        for (int g = 0; g < 4; g++)
            rec[m][g] = cnt[g] ? sum[m][g] / cnt[g] : 1.0;
        tot[m] = all[m] / s_ncases;
        printf ("%-7s recall@k: telemetry %.3f (%d), docs %.3f (%d), runbooks %.3f (%d), all-corpora %.3f (%d);"
                " overall %.3f over %d questions\n",
                mode_names[m], rec[m][0], cnt[0], rec[m][1], cnt[1], rec[m][2], cnt[2], rec[m][3], cnt[3], tot[m],
                s_ncases);
    }
    /* floors (measured values are printed above and recorded in the README) */
    assert_true (cnt[0] >= 20 && cnt[1] >= 30 && cnt[2] >= 10);
    assert_true (rec[0][0] >= 0.90); /* hybrid telemetry */
    assert_true (rec[0][1] >= 0.90); /* hybrid docs */
    assert_true (rec[0][2] >= 0.90); /* hybrid runbooks */
    assert_true (tot[0] >= 0.90);
    assert_true (tot[1] >= 0.85);    /* the local embedder alone, on paraphrases */
    assert_true (rec[1][1] >= 0.85);
    assert_true (tot[2] >= 0.85);
    rt_index_destroy (&ix);
}

static void
test_corpus_facts (void **state)
{
    (void) state;
    rt_index_t *ix = rt_index_open (s_dir1, &s_cfg);
    assert_non_null (ix);
    assert_int_equal (rt_index_count (ix, "runbooks"), 11);
    assert_true (rt_index_count (ix, "docs") >= 40);
    assert_int_equal (rt_index_dim (ix), 256);
    assert_string_equal (rt_index_embedder (ix), "lsa");
    /* telemetry ids are graph node ids; job runs use jobrun:: */
    const char *ids[] = {"job::J-FIN-DAILY", "user::U-ALICE", "compute::WH-HR", "workspace::OU-CHICOLA",
                         "eviction::EVICT-J-ROUTE-OPT-2025-11-28-RRUN-J-ROUTE-OPT-20251128-03",
                         "query::Q-ADHOC-0064", NULL};
    for (int i = 0; ids[i]; i++) {
        rt_query_t q = {.corpus = "telemetry", .query = ids[i], .k = 3, .mode = RT_MODE_KEYWORD};
        rt_result_t *res = NULL;
        assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
        assert_true (rt_result_count (res) >= 1);
        bool found = false;
        for (size_t h = 0; h < rt_result_count (res); h++)
            if (strcmp (rt_result_hit (res, h)->doc->doc_id, ids[i]) == 0)
                found = true;
        if (!found)
            fprintf (stderr, "keyword search for %s did not return it\n", ids[i]);
        assert_true (found);
        rt_result_destroy (&res);
    }
    rt_query_t q = {.corpus = "telemetry", .query = "Job Run Status FAILED", .k = 50, .mode = RT_MODE_KEYWORD};
    rt_result_t *res = NULL;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    size_t runs = 0;
    for (size_t h = 0; h < rt_result_count (res); h++) {
        const char *id = rt_result_hit (res, h)->doc->doc_id;
        assert_false (strncmp (id, "run::", 5) == 0);
        if (strncmp (id, "jobrun::", 8) == 0) {
            runs++;
            /* a run document names its job as an entity */
            assert_non_null (strstr (rt_result_hit (res, h)->doc->entity_ids, "job::J-"));
        }
    }
    assert_true (runs >= 10);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);
}

/* One telemetry document per anomaly of the report engine's detector, with
 * the graph's node id anomaly::<entity pk>:<date>: 10 on the fixture, 5 of
 * them critical. */
static void
test_anomaly_docs (void **state)
{
    (void) state;
    rt_docset_t *ds = rt_docset_new ();
    assert_non_null (ds);
    assert_int_equal (rt_telemetry_load (RT_FIXTURE_DB, NULL, ds), RT_OK);
    int n = 0, critical = 0;
    for (size_t i = 0; i < rt_docset_size (ds); i++) {
        const rt_doc_t *d = rt_docset_get (ds, i);
        if (strcmp (d->type, "anomaly") != 0)
            continue;
        n++;
        assert_true (strncmp (d->doc_id, "anomaly::", 9) == 0);
        assert_true (strncmp (d->entity_ids, d->doc_id, strlen (d->doc_id)) == 0);
        if (strstr (d->text, "Severity: critical\n"))
            critical++;
    }
    assert_int_equal (n, 10);
    assert_int_equal (critical, 5);
    long at = rt_docset_find (ds, "anomaly::J-FIN-DAILY:2025-12-05");
    assert_true (at >= 0);
    const rt_doc_t *d = rt_docset_get (ds, (size_t) at);
    assert_string_equal (d->entity_ids, "anomaly::J-FIN-DAILY:2025-12-05 job::J-FIN-DAILY");
    assert_non_null (strstr (d->text, "Entity: job::J-FIN-DAILY (Daily Financial Aggregation)\n"));
    assert_non_null (strstr (d->text, "Date: 2025-12-05\n"));
    assert_non_null (strstr (d->text, "Daily Cost: $224.29\n"));
    assert_non_null (strstr (d->text, "Expected Cost: $115.64 (expected range $86.54 to $144.74)\n"));
    assert_non_null (strstr (d->text, "Z-Score: 11.20\n"));
    assert_non_null (strstr (d->text, "Severity: critical\n"));
    at = rt_docset_find (ds, "anomaly::APC-FINANCE:2025-12-01");
    assert_true (at >= 0);
    d = rt_docset_get (ds, (size_t) at);
    assert_string_equal (d->entity_ids, "anomaly::APC-FINANCE:2025-12-01 compute::APC-FINANCE");
    assert_non_null (strstr (d->meta_json, "\"severity\":\"critical\""));
    rt_docset_destroy (&ds);
    /* the bound keeps the largest |z| */
    ds = rt_docset_new ();
    rt_telemetry_opts_t o = {.max_anomalies = 2};
    assert_int_equal (rt_telemetry_load (RT_FIXTURE_DB, &o, ds), RT_OK);
    n = 0;
    for (size_t i = 0; i < rt_docset_size (ds); i++)
        if (strcmp (rt_docset_get (ds, i)->type, "anomaly") == 0)
            n++;
    assert_int_equal (n, 2);
    assert_true (rt_docset_find (ds, "anomaly::J-ML-TRAINING:2025-12-04") >= 0); /* z 14.08 */
    assert_true (rt_docset_find (ds, "anomaly::J-FIN-DAILY:2025-12-05") >= 0);   /* z 11.20 */
    rt_docset_destroy (&ds);
}

static void
test_entity_filter (void **state)
{
    (void) state;
    rt_index_t *ix = rt_index_open (s_dir1, &s_cfg);
    assert_non_null (ix);
    const char *ents[] = {"job::J-ROUTE-OPT"};
    for (int m = 0; m < 3; m++) {
        rt_query_t q = {.corpus = "telemetry", .query = "spot eviction capacity", .k = 10, .entity_ids = ents,
                        .n_entity_ids = 1, .mode = (rt_mode_t) m};
        rt_result_t *res = NULL;
        assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
        assert_true (rt_result_count (res) >= 3);
        for (size_t h = 0; h < rt_result_count (res); h++)
            assert_non_null (strstr (rt_result_hit (res, h)->doc->entity_ids, "job::J-ROUTE-OPT"));
        rt_result_destroy (&res);
    }
    /* two ids: hits about either */
    const char *two[] = {"user::U-ALICE", "compute::WH-HR"};
    rt_query_t q2 = {.query = "query", .k = 20, .entity_ids = two, .n_entity_ids = 2};
    rt_result_t *res = NULL;
    assert_int_equal (rt_index_search (ix, &q2, &res), RT_OK);
    assert_true (rt_result_count (res) >= 5);
    for (size_t h = 0; h < rt_result_count (res); h++) {
        const char *e = rt_result_hit (res, h)->doc->entity_ids;
        assert_true (strstr (e, "user::U-ALICE") || strstr (e, "compute::WH-HR"));
    }
    rt_result_destroy (&res);
    /* unknown id: no hits, not an error */
    const char *none[] = {"job::NOPE"};
    rt_query_t q3 = {.query = "spot", .k = 5, .entity_ids = none, .n_entity_ids = 1};
    assert_int_equal (rt_index_search (ix, &q3, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 0);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);
}

static int
s_int_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static void
test_hnsw_recall (void **state)
{
    (void) state;
    /* Exact (Flat) telemetry index from the build vs an HNSW32 index over the
     * same vectors; queries: the evaluation questions plus 300 documents. */
    char path[400];
    snprintf (path, sizeof path, "%s/telemetry.faiss", s_dir1);
    vs_index_t *flat = vs_read (path);
    assert_non_null (flat);
    snprintf (path, sizeof path, "%s/embedder.lsa", s_dir1);
    rt_embedder_t *emb = rt_embedder_lsa_load (path);
    assert_non_null (emb);
    int dim = vs_dim (flat);
    int64_t n = vs_ntotal (flat);
    assert_true (n > 500);
    /* telemetry ids are 1..n (telemetry sorts first) */
    float *x = malloc (sizeof (float) * (size_t) n * dim);
    int64_t *ids = malloc (sizeof (int64_t) * (size_t) n);
    assert_non_null (x);
    assert_non_null (ids);
    for (int64_t i = 0; i < n; i++) {
        ids[i] = i + 1;
        assert_int_equal (vs_reconstruct (flat, ids[i], x + i * dim), VS_OK);
    }
    vs_index_t *hnsw = vs_create (dim, "IDMap2,HNSW32", true);
    assert_non_null (hnsw);
    assert_int_equal (vs_set_hnsw_ef (hnsw, 64, 40), VS_OK);
    assert_int_equal (vs_add_with_ids (hnsw, n, x, ids), VS_OK);
    int nq = s_ncases + 300;
    float *q = malloc (sizeof (float) * (size_t) nq * dim);
    assert_non_null (q);
    for (int i = 0; i < s_ncases; i++) {
        const char *t[1] = {s_cases[i].question};
        assert_int_equal (rt_embedder_embed (emb, t, 1, q + (size_t) i * dim), RT_OK);
    }
    for (int i = 0; i < 300; i++)
        memcpy (q + (size_t) (s_ncases + i) * dim, x + (size_t) ((i * 7) % n) * dim, sizeof (float) * dim);
    enum { K = 10 };
    float *s1 = malloc (sizeof (float) * nq * K), *s2 = malloc (sizeof (float) * nq * K);
    int64_t *l1 = malloc (sizeof (int64_t) * nq * K), *l2 = malloc (sizeof (int64_t) * nq * K);
    assert_int_equal (vs_search (flat, nq, q, K, s1, l1), VS_OK);
    assert_int_equal (vs_search (hnsw, nq, q, K, s2, l2), VS_OK);
    int hit = 0, tot = 0;
    for (int i = 0; i < nq; i++) {
        qsort (l2 + i * K, K, sizeof (int64_t), s_int_cmp);
        for (int a = 0; a < K; a++) {
            if (l1[i * K + a] < 0)
                continue;
            tot++;
            if (bsearch (&l1[i * K + a], l2 + i * K, K, sizeof (int64_t), s_int_cmp))
                hit++;
        }
    }
    double recall = (double) hit / tot;
    printf ("HNSW32 (efSearch 64) recall@10 vs exact on %lld telemetry embeddings, %d queries: %.4f\n",
            (long long) n, nq, recall);
    assert_true (recall >= 0.95);
    free (s1);
    free (s2);
    free (l1);
    free (l2);
    free (q);
    free (x);
    free (ids);
    vs_destroy (&hnsw);
    vs_destroy (&flat);
    rt_embedder_destroy (&emb);

    /* The builder's HNSW path: docs + runbooks with flat_max 0. */
    rt_docset_t *ds = rt_docset_new ();
    assert_int_equal (rt_corpus_load_builtin (1000, 150, ds, ds), RT_OK);
    rt_config_t cfg = s_cfg;
    cfg.flat_max = 0;
    assert_int_equal (rt_index_build_docs (ds, s_dir3, &cfg, NULL, NULL, NULL), RT_OK);
    rt_docset_destroy (&ds);
    rt_index_t *ix = rt_index_open (s_dir3, &cfg);
    assert_non_null (ix);
    rt_query_t qq = {.corpus = "docs", .query = "idle instances in a pool", .k = 3, .mode = RT_MODE_VECTOR};
    rt_result_t *res = NULL;
    assert_int_equal (rt_index_search (ix, &qq, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 3);
    assert_non_null (strstr (rt_result_hit (res, 0)->doc->doc_id, "instance-pools"));
    rt_result_destroy (&res);
    rt_index_destroy (&ix);
}

static bool
same_file (const char *a, const char *b)
{
    FILE *fa = fopen (a, "rb"), *fb = fopen (b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc (fa), cb = fgetc (fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose (fa);
    if (fb)
        fclose (fb);
    return same;
}

static void
test_determinism (void **state)
{
    (void) state;
    rt_build_stats_t st;
    assert_int_equal (rt_index_build (RT_FIXTURE_DB, s_dir2, &s_cfg, NULL, NULL, &st), RT_OK);
    rt_index_t *a = rt_index_open (s_dir1, &s_cfg), *b = rt_index_open (s_dir2, &s_cfg);
    assert_non_null (a);
    assert_non_null (b);
    assert_string_equal (rt_index_version (a), rt_index_version (b));
    const char *files[] = {"embedder.lsa", "telemetry.faiss", "docs.faiss", "runbooks.faiss", NULL};
    for (int i = 0; files[i]; i++) {
        char pa[400], pb[400];
        snprintf (pa, sizeof pa, "%s/%s", s_dir1, files[i]);
        snprintf (pb, sizeof pb, "%s/%s", s_dir2, files[i]);
        if (!same_file (pa, pb))
            fprintf (stderr, "%s differs between two builds\n", files[i]);
        assert_true (same_file (pa, pb));
    }
    for (int c = 0; c < s_ncases; c++)
        for (int m = 0; m < 3; m++) {
            rt_query_t q = {.corpus = s_cases[c].corpus, .query = s_cases[c].question, .k = 10, .mode = (rt_mode_t) m};
            rt_result_t *ra = NULL, *rb = NULL;
            assert_int_equal (rt_index_search (a, &q, &ra), RT_OK);
            assert_int_equal (rt_index_search (b, &q, &rb), RT_OK);
            assert_int_equal (rt_result_count (ra), rt_result_count (rb));
            for (size_t h = 0; h < rt_result_count (ra); h++) {
                assert_string_equal (rt_result_hit (ra, h)->doc->doc_id, rt_result_hit (rb, h)->doc->doc_id);
                assert_true (rt_result_hit (ra, h)->score == rt_result_hit (rb, h)->score);
            }
            /* the same index asked twice answers identically too */
            rt_result_t *rc2 = NULL;
            assert_int_equal (rt_index_search (a, &q, &rc2), RT_OK);
            for (size_t h = 0; h < rt_result_count (ra); h++)
                assert_string_equal (rt_result_hit (ra, h)->doc->doc_id, rt_result_hit (rc2, h)->doc->doc_id);
            rt_result_destroy (&ra);
            rt_result_destroy (&rb);
            rt_result_destroy (&rc2);
        }
    rt_index_destroy (&a);
    rt_index_destroy (&b);
}

static void
test_mismatch_and_errors (void **state)
{
    (void) state;
    rt_config_t cfg = s_cfg;
    cfg.dim = 128;
    assert_null (rt_index_open (s_dir1, &cfg));
    assert_non_null (strstr (rt_last_error (), "dimension 256"));
    assert_non_null (strstr (rt_last_error (), "128"));
    cfg = s_cfg;
    snprintf (cfg.embedder, sizeof cfg.embedder, "openai");
    assert_null (rt_index_open (s_dir1, &cfg));
    assert_non_null (strstr (rt_last_error (), "lsa"));
    assert_null (rt_index_open ("/nonexistent/index", &s_cfg));
    assert_non_null (strstr (rt_last_error (), "copilot index"));

    rt_index_t *ix = rt_index_open (s_dir1, &s_cfg);
    assert_non_null (ix);
    rt_result_t *res = NULL;
    rt_query_t q = {.query = "spot", .k = 0};
    assert_int_equal (rt_index_search (ix, &q, &res), RT_E_ARG);
    q.k = 101;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_E_ARG);
    q.k = 5;
    q.corpus = "nope";
    assert_int_equal (rt_index_search (ix, &q, &res), RT_E_NOTFOUND);
    q.corpus = NULL;
    q.query = "";
    assert_int_equal (rt_index_search (ix, &q, &res), RT_E_ARG);
    /* a query of only punctuation is valid and simply finds nothing by keyword */
    q.query = "?!";
    q.mode = RT_MODE_KEYWORD;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 0);
    rt_result_destroy (&res);
    /* FTS5 syntax in user text is quoted, never interpreted */
    q.query = "spot AND (NOT \"eviction) NEAR/2 *";
    q.mode = RT_MODE_HYBRID;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_true (rt_result_count (res) > 0);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);

    /* refusing to replace a directory that is not an index */
    char notidx[300];
    snprintf (notidx, sizeof notidx, "%s/notidx", s_tmp);
    assert_int_equal (mkdir (notidx, 0755), 0);
    char keep[400];
    snprintf (keep, sizeof keep, "%s/keep.txt", notidx);
    FILE *f = fopen (keep, "w");
    assert_non_null (f);
    fputs ("precious", f);
    fclose (f);
    rt_docset_t *ds = rt_docset_new ();
    assert_int_equal (rt_corpus_load_builtin (1000, 150, NULL, ds), RT_OK);
    assert_int_equal (rt_index_build_docs (ds, notidx, &s_cfg, NULL, NULL, NULL), RT_E_IO);
    assert_int_equal (access (keep, F_OK), 0);
    rt_docset_destroy (&ds);
    unlink (keep);
    rmdir (notidx);
}

/* 200 synthetic documents: every one says "cluster" and "failed", four
 * also say "zebra". Below keyword_prune_min_docs every term counts; with
 * pruning on, the common terms are left out of BM25 — "failing" too, since
 * it is indexed as the same stem as "failed". */
static void
test_keyword_prune (void **state)
{
    (void) state;
    char dir[300];
    snprintf (dir, sizeof dir, "%s/prune", s_tmp);
    rt_docset_t *ds = rt_docset_new ();
    assert_non_null (ds);
    for (int i = 0; i < 200; i++) {
        char id[32], text[160];
        snprintf (id, sizeof id, "job::P-%03d", i);
        snprintf (text, sizeof text, "Cluster c-%03d failed at step %d.%s", i, i % 7,
                  i % 60 == 7 ? " A zebra crossing blocked it." : "");
        rt_doc_t d = {id, "telemetry", "job", id, "", "", text, id, "", "{}"};
        assert_int_equal (rt_docset_add (ds, &d), RT_OK);
    }
    rt_config_t cfg = s_cfg;
    assert_int_equal (rt_index_build_docs (ds, dir, &cfg, NULL, NULL, NULL), RT_OK);
    rt_docset_destroy (&ds);

    rt_query_t q = {.corpus = "telemetry", .query = "failing zebra", .k = 10, .mode = RT_MODE_KEYWORD};
    rt_result_t *res = NULL;
    rt_index_t *ix = rt_index_open (dir, &cfg);  /* default: 200 < 100000 documents, no pruning */
    assert_non_null (ix);
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 10);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);

    cfg.keyword_prune_min_docs = 100;
    cfg.keyword_max_df = 0.05;
    ix = rt_index_open (dir, &cfg);
    assert_non_null (ix);
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 4);  /* only "zebra" scored: P-007, -067, -127, -187 */
    for (size_t i = 0; i < rt_result_count (res); i++)
        assert_non_null (strstr (rt_result_hit (res, i)->doc->text, "zebra"));
    rt_result_destroy (&res);
    q.query = "cluster failed";  /* nothing but common terms: no keyword list */
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 0);
    rt_result_destroy (&res);
    q.query = "cluster failed";  /* hybrid still answers from the vectors */
    q.mode = RT_MODE_HYBRID;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 10);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);

    cfg.keyword_max_df = 1.0;  /* 1 = never prune */
    ix = rt_index_open (dir, &cfg);
    assert_non_null (ix);
    q.mode = RT_MODE_KEYWORD;
    assert_int_equal (rt_index_search (ix, &q, &res), RT_OK);
    assert_int_equal (rt_result_count (res), 10);
    rt_result_destroy (&res);
    rt_index_destroy (&ix);

    const char *files[] = {"meta.sqlite", "telemetry.faiss", "docs.faiss", "runbooks.faiss", "embedder.lsa", NULL};
    for (int i = 0; files[i]; i++) {
        char p[400];
        snprintf (p, sizeof p, "%s/%s", dir, files[i]);
        unlink (p);
    }
    rmdir (dir);
}

int
main (void)
{
    if (access (RT_FIXTURE_DB, R_OK) != 0) {
        fprintf (stderr, "fixture %s missing: skipped\n", RT_FIXTURE_DB);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_eval_recall),     cmocka_unit_test (test_corpus_facts),
        cmocka_unit_test (test_anomaly_docs),
        cmocka_unit_test (test_entity_filter),   cmocka_unit_test (test_hnsw_recall),
        cmocka_unit_test (test_determinism),     cmocka_unit_test (test_mismatch_and_errors),
        cmocka_unit_test (test_keyword_prune),
    };
    return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
