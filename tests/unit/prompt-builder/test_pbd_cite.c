/* test_pbd_cite.c — sources block (exact bytes: blank line, header, em dash,
 * de-duplication by URL, retrieval order, runbooks), evidence list, answer
 * finishing, and the commentary history (idempotency, seq, listing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "pbd_cite.h"
#include "pbd_error.h"
#include "pbd_history.h"

#define EM "\xe2\x80\x94"

static void
test_sources_docs_exact (void **state)
{
    (void) state;
    pbd_hit_t docs[] = {
        {.doc_id = "doc::a#x/0", .title = "Compute configuration", .url = "https://docs.databricks.com/aws/en/compute/configure"},
        {.doc_id = "doc::b#y/0", .title = "Pools", .url = "https://docs.databricks.com/aws/en/compute/pools"},
        {.doc_id = "doc::a#z/1", .title = "Compute configuration (again)", .url = "https://docs.databricks.com/aws/en/compute/configure"},
        {.doc_id = "doc::c#w/0", .title = "", .url = "https://docs.databricks.com/aws/en/compute/photon"},
    };
    buf_t *b = buf_new (4096);
    pbd_source_t *src = NULL;
    size_t n = 0;
    assert_int_equal (pbd_cite_sources (docs, 4, NULL, 0, b, &src, &n), 0);
    assert_string_equal (buf_data (b), "\nSources (Databricks Docs):\n"
                                       "- Compute configuration " EM " https://docs.databricks.com/aws/en/compute/configure\n"
                                       "- Pools " EM " https://docs.databricks.com/aws/en/compute/pools\n"
                                       "- https://docs.databricks.com/aws/en/compute/photon " EM " https://docs.databricks.com/aws/en/compute/photon\n");
    assert_int_equal (n, 3);
    assert_string_equal (src[0].title, "Compute configuration");
    assert_string_equal (src[1].url, "https://docs.databricks.com/aws/en/compute/pools");
    assert_string_equal (src[2].corpus, "docs");
    free (src);

    /* Nothing used: nothing appended. */
    buf_reset (b);
    assert_int_equal (pbd_cite_sources (NULL, 0, NULL, 0, b, &src, &n), 0);
    assert_string_equal (buf_data (b), "");
    assert_int_equal (n, 0);
    assert_null (src);

    /* Finishing an answer: exactly one blank line before the block, trailing
     * newline at the end (the reference's format). */
    buf_t *ans = buf_new (4096);
    buf_reset (b);
    assert_int_equal (pbd_cite_sources (docs, 1, NULL, 0, b, NULL, NULL), 0);
    assert_int_equal (pbd_cite_finish ("The answer.\n\n\n", buf_data (b), ans), 0);
    assert_string_equal (buf_data (ans), "The answer.\n\nSources (Databricks Docs):\n- Compute configuration " EM
                                         " https://docs.databricks.com/aws/en/compute/configure\n");
    assert_int_equal (pbd_cite_finish ("No sources", "", ans), 0);
    assert_string_equal (buf_data (ans), "No sources\n");
    buf_destroy (&ans);
    buf_destroy (&b);
}

static void
test_sources_runbooks_and_both (void **state)
{
    (void) state;
    pbd_hit_t docs[] = {{.doc_id = "doc::s#1/0", .title = "Spot", .url = "https://docs.databricks.com/spot"}};
    pbd_hit_t rb[] = {
        {.doc_id = "runbook::DBX-SPOT-01", .title = "DATABRICKS: Spot eviction storm"},
        {.doc_id = "runbook::DBX-SPOT-01", .title = "duplicate chunk id"},
        {.doc_id = "runbook::K8S-1", .title = "Probe failures", .url = "https://runbooks.example/k8s#1"},
        {.doc_id = "runbook::K8S-2", .title = "Same URL as docs", .url = "https://docs.databricks.com/spot"},
    };
    buf_t *b = buf_new (4096);
    assert_int_equal (pbd_cite_sources (NULL, 0, rb, 3, b, NULL, NULL), 0);
    assert_string_equal (buf_data (b), "\nSources (Runbooks):\n"
                                       "- [Runbook] DATABRICKS: Spot eviction storm (ID: runbook::DBX-SPOT-01)\n"
                                       "- Probe failures " EM " https://runbooks.example/k8s#1\n");
    buf_reset (b);
    pbd_source_t *src = NULL;
    size_t n = 0;
    assert_int_equal (pbd_cite_sources (docs, 1, rb, 4, b, &src, &n), 0);
    assert_string_equal (buf_data (b), "\nSources (Databricks Docs, Runbooks):\n"
                                       "- Spot " EM " https://docs.databricks.com/spot\n"
                                       "- [Runbook] DATABRICKS: Spot eviction storm (ID: runbook::DBX-SPOT-01)\n"
                                       "- Probe failures " EM " https://runbooks.example/k8s#1\n");
    assert_int_equal (n, 3);
    assert_string_equal (src[1].corpus, "runbooks");
    assert_string_equal (src[1].url, "");
    free (src);
    /* Cap reached: error and the buffer is unchanged. */
    buf_t *small = buf_new (30);
    assert_int_equal (pbd_cite_sources (docs, 1, NULL, 0, small, NULL, NULL), PBD_E_TOOBIG);
    assert_string_equal (buf_data (small), "");
    buf_destroy (&small);
    buf_destroy (&b);
}

static void
test_evidence (void **state)
{
    (void) state;
    static const char *const keys[] = {"jobrun::1", "jobrun::2", "jobrun::3", "jobrun::4", "jobrun::5", "jobrun::6", "jobrun::7"};
    pbd_fact_t facts[] = {
        {.name = "cost_total_usd", .unit = "usd", .value = 812.25, .has_value = true, .source_table = "compute_usage",
         .row_keys = keys, .n_row_keys = 2},
        {.name = "no_source", .value = 1, .has_value = true},
        {.name = "failed_runs", .value = 7, .has_value = true, .source_table = "job_runs", .row_keys = keys, .n_row_keys = 7},
        {.name = "top_error", .text = "SPOT_INSTANCE_TERMINATION\n(line 2)", .source_table = "job_runs"},
    };
    pbd_evidence_t *ev = NULL;
    size_t n = 0;
    assert_int_equal (pbd_cite_evidence (facts, 4, &ev, &n), 0);
    assert_int_equal (n, 3);
    assert_string_equal (ev[0].figure, "812.25 usd");
    assert_string_equal (ev[1].figure, "7");
    assert_int_equal (ev[1].n_row_keys, 7);
    assert_string_equal (ev[2].figure, "SPOT_INSTANCE_TERMINATION (line 2)");
    buf_t *b = buf_new (4096);
    assert_int_equal (pbd_cite_evidence_block (ev, n, "job::J-FIN-DAILY", b), 0);
    assert_string_equal (buf_data (b), "\nEvidence (rows behind the figures of job::J-FIN-DAILY):\n"
                                       "- cost_total_usd = 812.25 usd " EM " compute_usage: jobrun::1, jobrun::2\n"
                                       "- failed_runs = 7 " EM " job_runs: jobrun::1, jobrun::2, jobrun::3, jobrun::4, jobrun::5 (+2 more)\n"
                                       "- top_error = SPOT_INSTANCE_TERMINATION (line 2) " EM " job_runs\n");
    free (ev);
    /* UTF-8 text longer than the figure is cut on a character boundary. */
    char longtext[400];
    for (size_t i = 0; i + 2 < sizeof longtext; i += 2) {
        longtext[i] = (char) 0xc3;
        longtext[i + 1] = (char) 0xa9;
    }
    longtext[sizeof longtext - 2] = '\0';
    pbd_fact_t lf = {.name = "t", .text = longtext, .source_table = "x"};
    assert_int_equal (pbd_cite_evidence (&lf, 1, &ev, &n), 0);
    assert_true (strlen (ev[0].figure) % 2 == 0);
    free (ev);
    assert_int_equal (pbd_cite_evidence (NULL, 0, &ev, &n), 0);
    assert_int_equal (n, 0);
    buf_destroy (&b);
}

static void
test_history (void **state)
{
    (void) state;
    char dir[] = "/tmp/pbd_hist_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[256];
    snprintf (path, sizeof path, "%s/history.db", dir);
    char err[256] = "";
    pbd_history_t *h = pbd_history_open (path, err, sizeof err);
    assert_non_null (h);
    uint64_t last = 99;
    assert_int_equal (pbd_history_last_seq (h, &last), 0);
    assert_int_equal (last, 0);

    pbd_source_t src[] = {{"Spot", "https://d/spot", "docs", "doc::s"}};
    buf_t *sj = buf_new (1024);
    assert_int_equal (pbd_sources_json (src, 1, sj), 0);
    assert_string_equal (buf_data (sj), "[{\"title\":\"Spot\",\"url\":\"https://d/spot\",\"corpus\":\"docs\",\"doc_id\":\"doc::s\"}]");
    unsigned char blob[] = {1, 2, 0, 3};
    pbd_entry_t e = {.request_id = "req-1", .fingerprint = "fp1", .report_id = "job_cost", .entity_type = "job",
                     .entity_id = "J-FIN-DAILY", .chip_id = "job:cost:J-FIN-DAILY", .answer_markdown = "answer 1",
                     .provider = "offline", .sources_json = (char *) buf_data (sj), .created_unix_ms = 1700000000000,
                     .reply = blob, .reply_len = sizeof blob};
    uint64_t seq1 = 0, seq2 = 0, seq3 = 0;
    assert_int_equal (pbd_history_insert (h, &e, &seq1), 0);
    assert_int_equal (seq1, 1);
    /* Same request id: refused, still one row. */
    assert_int_equal (pbd_history_insert (h, &e, &seq2), PBD_E_EXISTS);
    assert_int_equal (pbd_history_count (h, "req-1"), 1);
    pbd_entry_t e2 = e;
    e2.request_id = "req-2";
    e2.report_id = "job_cost_pareto";
    e2.session_id = "s1";
    e2.reply = NULL;
    e2.reply_len = 0;
    assert_int_equal (pbd_history_insert (h, &e2, &seq2), 0);
    pbd_entry_t e3 = e;
    e3.request_id = "req-3";
    assert_int_equal (pbd_history_insert (h, &e3, &seq3), 0);
    assert_true (seq1 < seq2 && seq2 < seq3);
    assert_int_equal (pbd_history_set_published (h, seq1, "commentary@prompt-builder-1-abcd", 7), 0);
    assert_int_equal (pbd_history_set_published (h, 999, "x", 1), PBD_E_NOTFOUND);
    unsigned char blob2[] = {9, 8, 7};
    assert_int_equal (pbd_history_set_reply (h, seq2, blob2, sizeof blob2), 0);
    assert_int_equal (pbd_history_set_reply (h, 999, blob2, sizeof blob2), PBD_E_NOTFOUND);
    pbd_entry_t *g2 = NULL;
    assert_int_equal (pbd_history_get (h, "req-2", &g2), 0);
    assert_int_equal (g2->reply_len, 3);
    assert_memory_equal (g2->reply, blob2, 3);
    pbd_entry_destroy (&g2);

    pbd_entry_t *got = NULL;
    assert_int_equal (pbd_history_get (h, "req-1", &got), 0);
    assert_int_equal (got->seq, seq1);
    assert_string_equal (got->answer_markdown, "answer 1");
    assert_string_equal (got->sources_json, buf_data (sj));
    assert_string_equal (got->publisher_id, "commentary@prompt-builder-1-abcd");
    assert_int_equal (got->pub_seq, 7);
    assert_int_equal (got->reply_len, sizeof blob);
    assert_memory_equal (got->reply, blob, sizeof blob);
    assert_string_equal (got->question, "");
    pbd_entry_destroy (&got);
    assert_null (got);
    assert_int_equal (pbd_history_get (h, "nope", &got), PBD_E_NOTFOUND);

    pbd_entry_t **list = NULL;
    size_t n = 0;
    assert_int_equal (pbd_history_list (h, 0, 10, "", "", &list, &n), 0);
    assert_int_equal (n, 3);
    assert_int_equal (list[0]->seq, seq1);
    assert_int_equal (list[2]->seq, seq3);
    pbd_entries_free (list, n);
    assert_int_equal (pbd_history_list (h, seq1, 10, "job_cost", "", &list, &n), 0);
    assert_int_equal (n, 1);
    assert_string_equal (list[0]->request_id, "req-3");
    pbd_entries_free (list, n);
    assert_int_equal (pbd_history_list (h, 0, 1, "", "", &list, &n), 0);
    assert_int_equal (n, 1);
    pbd_entries_free (list, n);
    assert_int_equal (pbd_history_list (h, 0, 10, "", "s1", &list, &n), 0);
    assert_int_equal (n, 1);
    assert_string_equal (list[0]->request_id, "req-2");
    pbd_entries_free (list, n);
    assert_int_equal (pbd_history_list (h, 0, 0, "", "", &list, &n), PBD_E_INVALID);
    assert_int_equal (pbd_history_last_seq (h, &last), 0);
    assert_int_equal (last, seq3);
    pbd_history_destroy (&h);
    assert_null (h);

    /* Reopen: rows and the seq counter survive; seqs are never reused. */
    h = pbd_history_open (path, err, sizeof err);
    assert_non_null (h);
    assert_int_equal (pbd_history_count (h, "req-2"), 1);
    pbd_entry_t e4 = e;
    e4.request_id = "req-4";
    uint64_t seq4 = 0;
    assert_int_equal (pbd_history_insert (h, &e4, &seq4), 0);
    assert_int_equal (seq4, seq3 + 1);
    pbd_history_destroy (&h);

    assert_null (pbd_history_open ("/nonexistent-dir/x/history.db", err, sizeof err));
    assert_true (strlen (err) > 0);
    buf_destroy (&sj);
    char p2[300];
    snprintf (p2, sizeof p2, "%s-wal", path);
    unlink (p2);
    snprintf (p2, sizeof p2, "%s-shm", path);
    unlink (p2);
    unlink (path);
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sources_docs_exact),
        cmocka_unit_test (test_sources_runbooks_and_both),
        cmocka_unit_test (test_evidence),
        cmocka_unit_test (test_history),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
