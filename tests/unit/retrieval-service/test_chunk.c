/* test_chunk.c — chunking, knowledge-base note parsing, runbook parsing and
 * the builtin corpus: size bounds, overlap, coverage, anchors, metadata and
 * the error paths of malformed files; the configuration keys (rt_config_load)
 * that bound the corpora and the embeddings client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "rt.h"

typedef struct {
    const char *base;
    const char *ptr[256];
    size_t len[256];
    int n;
} chunks_t;

static int
collect (const char *c, size_t len, void *arg)
{
    chunks_t *cs = arg;
    if (cs->n >= 256)
        return -99;
    cs->ptr[cs->n] = c;
    cs->len[cs->n] = len;
    cs->n++;
    return 0;
}

static char *
make_text (size_t paragraphs)
{
    static const char *const words[] = {"spot", "instances", "are", "reclaimed", "by", "the",
                                        "provider.", "Autoscaling", "adds", "workers", "when",
                                        "tasks", "queue;", "pools", "keep", "idle", "VMs"};
    size_t cap = paragraphs * 700 + 1;
    char *t = malloc (cap);
    size_t o = 0;
    unsigned r = 7;
    for (size_t p = 0; p < paragraphs; p++) {
        size_t nw = 40 + (p * 37) % 80;
        for (size_t w = 0; w < nw; w++) {
            r = r * 1103515245u + 12345u;
            const char *wd = words[(r >> 8) % 17];
            size_t l = strlen (wd);
            if (o + l + 3 >= cap)
                break;
            memcpy (t + o, wd, l);
            o += l;
            t[o++] = ' ';
        }
        t[o++] = '\n';
        t[o++] = '\n';
    }
    t[o] = '\0';
    return t;
}

static void
test_split_bounds_overlap_coverage (void **state)
{
    (void) state;
    char *text = make_text (30);
    size_t len = strlen (text);
    chunks_t cs = {.base = text};
    assert_int_equal (rt_chunk_split (text, len, 1000, 150, collect, &cs), RT_OK);
    assert_true (cs.n >= (int) (len / 1000));
    size_t covered_to = 0;
    for (int i = 0; i < cs.n; i++) {
        assert_true (cs.len[i] > 0);
        assert_true (cs.len[i] <= 1000);
        size_t start = (size_t) (cs.ptr[i] - text), end = start + cs.len[i];
        /* no gap: every chunk starts at or before the end of the previous one
         * (apart from the whitespace the splitter trims) */
        if (i > 0) {
            for (size_t p = covered_to; p < start; p++)
                assert_true (text[p] == ' ' || text[p] == '\n');
            size_t prev_end = (size_t) (cs.ptr[i - 1] - text) + cs.len[i - 1];
            assert_true (start <= prev_end + 2);
            if (start < prev_end)
                assert_true (prev_end - start <= 150); /* overlap bounded */
        }
        covered_to = end;
    }
    for (size_t p = covered_to; p < len; p++)
        assert_true (text[p] == ' ' || text[p] == '\n');
    /* split points prefer paragraph ends: most chunks end right before a blank line */
    int para_ends = 0;
    for (int i = 0; i + 1 < cs.n; i++) {
        size_t end = (size_t) (cs.ptr[i] - text) + cs.len[i];
        while (end < len && text[end] == ' ')
            end++;
        if (end + 1 < len && text[end] == '\n' && text[end + 1] == '\n')
            para_ends++;
    }
    assert_true (para_ends >= (cs.n - 1) / 2);
    free (text);
}

static void
test_split_small_and_errors (void **state)
{
    (void) state;
    chunks_t cs = {0};
    assert_int_equal (rt_chunk_split ("  short text  ", 14, 1000, 150, collect, &cs), RT_OK);
    assert_int_equal (cs.n, 1);
    assert_int_equal (cs.len[0], 10);
    assert_memory_equal (cs.ptr[0], "short text", 10);
    cs.n = 0;
    assert_int_equal (rt_chunk_split ("   \n\n  ", 7, 1000, 150, collect, &cs), RT_OK);
    assert_int_equal (cs.n, 0);
    assert_int_equal (rt_chunk_split ("x", 1, 300, 150, collect, &cs), RT_E_ARG);
    /* a text without any separator is cut hard, never inside UTF-8 */
    char blob[2500];
    for (size_t i = 0; i + 1 < sizeof blob; i += 2) {
        blob[i] = (char) 0xC3;
        blob[i + 1] = (char) 0xA9; /* é */
    }
    cs.n = 0;
    assert_int_equal (rt_chunk_split (blob, sizeof blob - 1 - ((sizeof blob - 1) % 2), 1000, 150, collect, &cs),
                      RT_OK);
    assert_true (cs.n >= 3);
    for (int i = 0; i < cs.n; i++) {
        assert_true (cs.len[i] <= 1000);
        assert_int_equal ((unsigned char) cs.ptr[i][0], 0xC3);
        assert_int_equal (cs.len[i] % 2, 0);
    }
    /* the callback's error code stops the split */
    char *text = make_text (40);
    chunks_t full = {0};
    full.n = 256;
    assert_int_equal (rt_chunk_split (text, strlen (text), 500, 100, collect, &full), -99);
    free (text);
}

static const char *NOTE = "---\n"
                          "title: Test note\n"
                          "source: https://docs.databricks.com/aws/en/compute/test\n"
                          "topic: testing\n"
                          "---\n"
                          "\n"
                          "# Test note\n"
                          "\n"
                          "Intro paragraph about clusters.\n"
                          "\n"
                          "## First section {#first}\n"
                          "\n"
                          "Body of the first section.\n"
                          "\n"
                          "```\n"
                          "## not a heading inside a fence\n"
                          "```\n"
                          "\n"
                          "## Second Section: Details!\n"
                          "\n"
                          "Second body.\n"
                          "\n"
                          "## First section {#first}\n"
                          "\n"
                          "Repeated anchor.\n";

static void
test_note_sections (void **state)
{
    (void) state;
    rt_docset_t *ds = rt_docset_new ();
    assert_int_equal (rt_docs_parse_note ("docs/test-note.md", NOTE, strlen (NOTE), 1000, 150, ds), RT_OK);
    assert_int_equal (rt_docset_size (ds), 4);
    const rt_doc_t *d0 = rt_docset_get (ds, 0), *d1 = rt_docset_get (ds, 1), *d2 = rt_docset_get (ds, 2),
                   *d3 = rt_docset_get (ds, 3);
    assert_string_equal (d0->doc_id, "doc::test-note#test-note/1");
    assert_string_equal (d0->corpus, "docs");
    assert_string_equal (d0->url, "https://docs.databricks.com/aws/en/compute/test");
    assert_string_equal (d0->text, "Test note\n\nIntro paragraph about clusters.");
    assert_string_equal (d1->doc_id, "doc::test-note#first/1");
    assert_string_equal (d1->anchor, "first");
    assert_non_null (strstr (d1->text, "Test note — First section\n\nBody of the first section."));
    assert_non_null (strstr (d1->text, "## not a heading inside a fence"));
    assert_string_equal (d2->anchor, "second-section-details");
    assert_string_equal (d3->anchor, "first-2");
    assert_non_null (strstr (d1->meta_json, "\"topic\":\"testing\""));
    assert_non_null (strstr (d1->meta_json, "\"parts\":1"));
    rt_docset_destroy (&ds);

    /* missing source / title are format errors naming the file */
    ds = rt_docset_new ();
    const char *bad = "---\ntitle: x\n---\n# x\ntext\n";
    assert_int_equal (rt_docs_parse_note ("docs/bad.md", bad, strlen (bad), 1000, 150, ds), RT_E_FORMAT);
    assert_non_null (strstr (rt_last_error (), "docs/bad.md"));
    const char *bad2 = "---\nsource: https://docs.databricks.com/x\n---\n# x\ntext\n";
    assert_int_equal (rt_docs_parse_note ("docs/bad2.md", bad2, strlen (bad2), 1000, 150, ds), RT_E_FORMAT);
    const char *bad3 = "---\ntitle: x\nsource: https://docs.databricks.com/x\n# x\ntext\n";
    assert_int_equal (rt_docs_parse_note ("docs/bad3.md", bad3, strlen (bad3), 1000, 150, ds), RT_E_FORMAT);
    rt_docset_destroy (&ds);
}

static const char *RUNBOOK = "# Runbook title\n"
                             "\n"
                             "## Chunk RB-T-001\n"
                             "\n"
                             "```yaml\n"
                             "chunk_id: RB-T-001\n"
                             "platform_id: databricks\n"
                             "topic: Test topic\n"
                             "applies_to: [job_cluster, \"sql warehouse\"]\n"
                             "severity: high\n"
                             "signals:\n"
                             "  - first signal\n"
                             "  - 'second: signal'\n"
                             "```\n"
                             "\n"
                             "**content**\n"
                             "\n"
                             "Do the first thing.\n"
                             "Then the second.\n"
                             "\n"
                             "##   Chunk   RB-T-002  \n"
                             "```yaml\n"
                             "platform_id: databricks\n"
                             "topic: Other\n"
                             "```\n"
                             "**content**\n"
                             "Second content.\n";

static void
test_runbook (void **state)
{
    (void) state;
    rt_docset_t *ds = rt_docset_new ();
    assert_int_equal (rt_runbook_parse ("runbooks/t.md", RUNBOOK, strlen (RUNBOOK), ds), RT_OK);
    assert_int_equal (rt_docset_size (ds), 2);
    const rt_doc_t *a = rt_docset_get (ds, 0), *b = rt_docset_get (ds, 1);
    assert_string_equal (a->doc_id, "runbook::RB-T-001");
    assert_string_equal (a->corpus, "runbooks");
    assert_string_equal (a->anchor, "RB-T-001");
    assert_string_equal (a->title, "Test topic");
    assert_string_equal (a->text, "[RUNBOOK] platform=databricks topic=Test topic id=RB-T-001\n\n"
                                  "Do the first thing.\nThen the second.");
    assert_string_equal (a->meta_json,
                         "{\"chunk_id\":\"RB-T-001\",\"platform_id\":\"databricks\",\"topic\":\"Test topic\","
                         "\"applies_to\":[\"job_cluster\",\"sql warehouse\"],\"severity\":\"high\","
                         "\"signals\":[\"first signal\",\"second: signal\"]}");
    assert_string_equal (b->doc_id, "runbook::RB-T-002");
    assert_string_equal (b->text, "[RUNBOOK] platform=databricks topic=Other id=RB-T-002\n\nSecond content.");
    rt_docset_destroy (&ds);

    ds = rt_docset_new ();
    const char *noyaml = "## Chunk X\n**content**\ntext\n";
    assert_int_equal (rt_runbook_parse ("runbooks/x.md", noyaml, strlen (noyaml), ds), RT_E_FORMAT);
    const char *nocontent = "## Chunk X\n```yaml\ntopic: t\n```\ntext\n";
    assert_int_equal (rt_runbook_parse ("runbooks/x.md", nocontent, strlen (nocontent), ds), RT_E_FORMAT);
    const char *mismatch = "## Chunk X\n```yaml\nchunk_id: Y\n```\n**content**\ntext\n";
    assert_int_equal (rt_runbook_parse ("runbooks/x.md", mismatch, strlen (mismatch), ds), RT_E_FORMAT);
    const char *none = "# nothing here\n";
    assert_int_equal (rt_runbook_parse ("runbooks/x.md", none, strlen (none), ds), RT_E_FORMAT);
    assert_int_equal (rt_docset_size (ds), 0);
    rt_docset_destroy (&ds);
}

static void
test_builtin_corpus (void **state)
{
    (void) state;
    rt_docset_t *docs = rt_docset_new (), *rbs = rt_docset_new ();
    assert_int_equal (rt_corpus_load_builtin (1000, 150, docs, rbs), RT_OK);
    size_t nd = rt_docset_size (docs), nr = rt_docset_size (rbs);
    printf ("builtin corpus: %zu docs chunks, %zu runbook chunks\n", nd, nr);
    assert_true (nd >= 12); /* at least one chunk per required topic */
    assert_true (nr >= 4);
    for (size_t i = 0; i < nd; i++) {
        const rt_doc_t *d = rt_docset_get (docs, i);
        assert_true (strlen (d->text) <= 1000);
        assert_true (strncmp (d->url, "https://docs.databricks.com/", 28) == 0);
        assert_true (strlen (d->anchor) > 0);
        assert_string_equal (d->corpus, "docs");
    }
    /* every required topic has a note */
    static const char *const topics[] = {"spot", "autoscal", "pool", "dbu", "photon", "serverless",
                                         "warehouse", "polic", "all-purpose", "instance", "memory", "retr",
                                         NULL};
    for (int t = 0; topics[t]; t++) {
        bool found = false;
        for (size_t i = 0; i < nd && !found; i++)
            if (strstr (rt_docset_get (docs, i)->doc_id, topics[t]))
                found = true;
        if (!found)
            fprintf (stderr, "no note for topic %s\n", topics[t]);
        assert_true (found);
    }
    for (size_t i = 0; i < nr; i++)
        assert_true (strncmp (rt_docset_get (rbs, i)->text, "[RUNBOOK] platform=", 19) == 0);
    rt_docset_destroy (&docs);
    rt_docset_destroy (&rbs);
}

static void
test_docset (void **state)
{
    (void) state;
    rt_docset_t *ds = rt_docset_new ();
    rt_doc_t a = {.doc_id = "job::B", .corpus = "telemetry", .text = "b"};
    rt_doc_t b = {.doc_id = "doc::a#x/1", .corpus = "docs", .text = "a"};
    rt_doc_t c = {.doc_id = "job::A", .corpus = "telemetry", .text = "a"};
    rt_doc_t bad = {.doc_id = "", .corpus = "docs", .text = "a"};
    assert_int_equal (rt_docset_add (ds, &a), RT_OK);
    assert_int_equal (rt_docset_add (ds, &b), RT_OK);
    assert_int_equal (rt_docset_add (ds, &c), RT_OK);
    assert_int_equal (rt_docset_add (ds, &a), RT_E_FORMAT);
    assert_int_equal (rt_docset_add (ds, &bad), RT_E_ARG);
    assert_int_equal (rt_docset_sort (ds), RT_OK);
    assert_string_equal (rt_docset_get (ds, 0)->doc_id, "job::A");
    assert_string_equal (rt_docset_get (ds, 1)->doc_id, "job::B");
    assert_string_equal (rt_docset_get (ds, 2)->doc_id, "doc::a#x/1");
    assert_int_equal (rt_docset_find (ds, "job::B"), 1);
    assert_int_equal (rt_docset_find (ds, "nope"), -1);
    assert_string_equal (rt_docset_get (ds, 0)->meta_json, "{}");
    rt_docset_destroy (&ds);
    assert_null (ds);
}

/* Every retrieval.telemetry.* bound and the OpenAI client's timeout and
 * retries reach rt_config_t; an out-of-range value is RT_E_ARG naming the key. */
static void
test_config_keys (void **state)
{
    (void) state;
    const char *err = NULL;
    cfg_t *cfg = cfg_new (NULL, &err);
    assert_non_null (cfg);
    rt_config_t o;
    assert_int_equal (rt_config_load (cfg, &o), RT_OK);
    assert_int_equal (o.openai_timeout_ms, 30000);
    assert_int_equal (o.openai_max_retries, 2);
    assert_int_equal (o.telemetry.max_anomalies, 1000);
    assert_int_equal (o.telemetry.max_queries, 300);
    static const struct {
        const char *key, *val;
    } kv[] = {
        {"retrieval.openai.timeout_ms", "1500"},        {"retrieval.openai.max_retries", "-1"},
        {"retrieval.telemetry.runs_per_job", "7"},      {"retrieval.telemetry.max_failed_runs", "11"},
        {"retrieval.telemetry.max_usage", "13"},        {"retrieval.telemetry.max_notable_events", "17"},
        {"retrieval.telemetry.max_other_events", "19"}, {"retrieval.telemetry.max_evictions", "23"},
        {"retrieval.telemetry.max_queries", "29"},      {"retrieval.telemetry.max_changes", "31"},
        {"retrieval.telemetry.max_anomalies", "37"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal (cfg_set (cfg, kv[i].key, kv[i].val), 0);
    assert_int_equal (rt_config_load (cfg, &o), RT_OK);
    assert_int_equal (o.openai_timeout_ms, 1500);
    assert_int_equal (o.openai_max_retries, -1);
    assert_int_equal (o.telemetry.runs_per_job, 7);
    assert_int_equal (o.telemetry.max_failed_runs, 11);
    assert_int_equal (o.telemetry.max_usage, 13);
    assert_int_equal (o.telemetry.max_notable_events, 17);
    assert_int_equal (o.telemetry.max_other_events, 19);
    assert_int_equal (o.telemetry.max_evictions, 23);
    assert_int_equal (o.telemetry.max_queries, 29);
    assert_int_equal (o.telemetry.max_changes, 31);
    assert_int_equal (o.telemetry.max_anomalies, 37);

    assert_int_equal (cfg_set (cfg, "retrieval.telemetry.max_anomalies", "0"), 0);
    assert_int_equal (rt_config_load (cfg, &o), RT_E_ARG);
    assert_non_null (strstr (rt_last_error (), "retrieval.telemetry.max_anomalies"));
    assert_int_equal (cfg_set (cfg, "retrieval.telemetry.max_anomalies", "37"), 0);
    assert_int_equal (cfg_set (cfg, "retrieval.openai.timeout_ms", "soon"), 0);
    assert_int_equal (rt_config_load (cfg, &o), RT_E_ARG);
    assert_non_null (strstr (rt_last_error (), "retrieval.openai.timeout_ms"));
    cfg_destroy (&cfg);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_split_bounds_overlap_coverage),
        cmocka_unit_test (test_split_small_and_errors),
        cmocka_unit_test (test_note_sections),
        cmocka_unit_test (test_runbook),
        cmocka_unit_test (test_builtin_corpus),
        cmocka_unit_test (test_docset),
        cmocka_unit_test (test_config_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
