/* test_pbd_route.c — routing decisions for a table of questions (free text,
 * chips, selections, text anchors) with the expected corpora, primary corpus,
 * anchor and the reason text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pbd_error.h"
#include "pbd_route.h"

typedef struct {
    const char *question;
    const char *chip_id;
    const char *chip_label;
    const char *etype, *eid;
    bool telemetry, docs, runbooks;
    const char *primary;
    const char *anchor;
    const char *reason_has; /* substring expected in the reason */
} route_case_t;

static const route_case_t s_cases[] = {
    /* 1. The reference's docs intent without an anchor: docs only. */
    {"What is a job cluster?", NULL, NULL, NULL, NULL, false, true, false, "docs", "",
     "docs only: docs question ('what is')"},
    /* 2. How-do-I + configure: docs only. */
    {"How do I configure autoscaling for my pipelines", NULL, NULL, NULL, NULL, false, true, false, "docs",
     "", "docs: intent 'how do i'"},
    /* 3. Best practice on pools (keyword and intent). */
    {"Best practices for instance pools", NULL, NULL, NULL, NULL, false, true, false, "docs", "",
     "docs: intent 'best practices', keyword 'pools'"},
    /* 4. An entity anchor in the text: telemetry first, no docs. */
    {"Why did job_id=J-FIN-DAILY cost more last week?", NULL, NULL, NULL, NULL, true, false, false,
     "telemetry", "job::J-FIN-DAILY", "telemetry first: anchored on job_id=J-FIN-DAILY (text)"},
    /* 5. Anchor + docs intent: both, telemetry first. */
    {"How do I reduce cost for job_id=J-ML-TRAINING", NULL, NULL, NULL, NULL, true, true, false,
     "telemetry", "job::J-ML-TRAINING", "docs: intent 'how do i'"},
    /* 6. A selection with a chip about spot: telemetry first + docs keyword. */
    {"Explain the spot exposure of job (J-FIN-DAILY)", "job:cost:J-FIN-DAILY", "Optimize cost", "job",
     "J-FIN-DAILY", true, true, false, "telemetry", "job::J-FIN-DAILY", "docs: keyword 'spot'"},
    /* 7. A diagnostic chip kind: runbooks even without a diagnostic word. */
    {"Did it change recently? Give hypotheses, each with a way to verify it.", "core:spike:job:J-FIN-DAILY",
     "Why a spike?", "job", "J-FIN-DAILY", true, false, true, "telemetry", "job::J-FIN-DAILY",
     "runbooks: diagnostic 'core:spike:' (chip kind)"},
    /* 8. Failures in the question: runbooks. */
    {"Why are runs of job_id=J-ROUTE-OPT failing?", NULL, NULL, NULL, NULL, true, false, true, "telemetry",
     "job::J-ROUTE-OPT", "runbooks: diagnostic 'fail' (question)"},
    /* 9. Eviction + spot on a compute selection: all three. */
    {"Which evictions hit this cluster's spot nodes?", NULL, NULL, "compute", "C-123", true, true, true,
     "telemetry", "compute::C-123", "runbooks: diagnostic 'evict' (question)"},
    /* 10. Unanchored usage question: telemetry only (default). */
    {"Which jobs cost the most this month?", NULL, NULL, NULL, NULL, true, false, false, "telemetry", "",
     "telemetry first: usage question without an entity anchor"},
    /* 11. Docs intent + diagnostic, no anchor: docs first, telemetry and runbooks added. */
    {"How to fix driver OOM errors", NULL, NULL, NULL, NULL, true, true, true, "docs", "",
     "docs first: docs question without an entity anchor"},
    /* 12. Word boundaries: "dbutils" must not match "dbu", "limited" not "limit". */
    {"dbutils calls were limited yesterday for job::J-HR-WEEKLY", NULL, NULL, NULL, NULL, true, false, false,
     "telemetry", "job::J-HR-WEEKLY", "anchored on job::J-HR-WEEKLY (text)"},
    /* 13. DBU keyword on a selection. */
    {"Break down the DBU usage", NULL, NULL, "job", "J-LEGACY-ETL", true, true, false, "telemetry",
     "job::J-LEGACY-ETL", "docs: keyword 'dbu'"},
    /* 14. compute_type anchor: anchored but no node id. */
    {"compute_type=JOB_COMPUTE spend trend", NULL, NULL, NULL, NULL, true, false, false, "telemetry", "",
     "anchored on compute_type=JOB_COMPUTE (text)"},
    /* 15. A selection whose type has no node (compute_type): anchored, no node id. */
    {"What drives this?", NULL, NULL, "compute_type", "ALL_PURPOSE", true, false, false, "telemetry", "",
     "anchored on compute_type ALL_PURPOSE (selection)"},
    /* 16. Regression in the chip label only. */
    {"Summarise what changed for job (J-SUPPLY-RAW)", "report:job_cost:job:J-SUPPLY-RAW:3",
     "Runtime regression after config change", "job", "J-SUPPLY-RAW", true, false, true, "telemetry",
     "job::J-SUPPLY-RAW", "runbooks: diagnostic 'regress' (chip label)"},
    /* 17. Settings question (plural) about a warehouse keyword, no anchor. */
    {"Which settings matter for a SQL warehouse?", NULL, NULL, NULL, NULL, false, true, false, "docs", "",
     "docs: intent 'settings'"},
    /* 18. run_id anchor maps to a jobrun node; the selection would win, here none. */
    {"Show run_id=R-42. what happened?", NULL, NULL, NULL, NULL, true, false, false, "telemetry",
     "jobrun::R-42", "anchored on run_id=R-42 (text)"},
};

static void
test_route_table (void **state)
{
    (void) state;
    size_t n = sizeof s_cases / sizeof s_cases[0];
    assert_true (n >= 12);
    for (size_t i = 0; i < n; i++) {
        const route_case_t *c = &s_cases[i];
        pbd_route_input_t in = {.question = c->question,
                                .chip_id = c->chip_id,
                                .chip_label = c->chip_label,
                                .entity_type = c->etype,
                                .entity_id = c->eid};
        pbd_route_t r;
        assert_int_equal (pbd_route_decide (&in, &r), PBD_OK);
        if (r.telemetry != c->telemetry || r.docs != c->docs || r.runbooks != c->runbooks
            || strcmp (r.primary, c->primary) != 0 || strcmp (r.anchor, c->anchor) != 0
            || !strstr (r.reason, c->reason_has))
            fprintf (stderr, "case %zu '%s': got t=%d d=%d r=%d primary=%s anchor='%s' reason='%s'\n", i + 1,
                     c->question, r.telemetry, r.docs, r.runbooks, r.primary, r.anchor, r.reason);
        assert_int_equal (r.telemetry, c->telemetry);
        assert_int_equal (r.docs, c->docs);
        assert_int_equal (r.runbooks, c->runbooks);
        assert_string_equal (r.primary, c->primary);
        assert_string_equal (r.anchor, c->anchor);
        assert_non_null (strstr (r.reason, c->reason_has));
    }
}

static void
test_route_full_reason (void **state)
{
    (void) state;
    pbd_route_input_t in = {.question = "Why is the spot eviction rate of job (J-FIN-DAILY) high?",
                            .chip_id = "job:reliability:J-FIN-DAILY",
                            .chip_label = "Reliability check",
                            .entity_type = "job",
                            .entity_id = "J-FIN-DAILY"};
    pbd_route_t a, b;
    assert_int_equal (pbd_route_decide (&in, &a), 0);
    assert_string_equal (a.reason, "telemetry first: anchored on job::J-FIN-DAILY (selection); docs: keyword "
                                   "'spot'; runbooks: diagnostic 'job:reliability:' (chip kind)");
    assert_string_equal (a.anchor_source, "selection");
    /* Pure function: same input, same output bytes. */
    assert_int_equal (pbd_route_decide (&in, &b), 0);
    assert_memory_equal (&a, &b, sizeof a);
}

static void
test_route_args (void **state)
{
    (void) state;
    pbd_route_t r;
    pbd_route_input_t in = {0};
    assert_int_equal (pbd_route_decide (NULL, &r), PBD_E_INVALID);
    assert_int_equal (pbd_route_decide (&in, NULL), PBD_E_INVALID);
    /* Empty question: telemetry by default. */
    assert_int_equal (pbd_route_decide (&in, &r), 0);
    assert_true (r.telemetry);
    assert_false (r.docs);
    assert_false (r.runbooks);
}

static void
test_node_id (void **state)
{
    (void) state;
    char out[64];
    assert_int_equal (pbd_node_id ("job", "J-FIN-DAILY", out, sizeof out), 0);
    assert_string_equal (out, "job::J-FIN-DAILY");
    assert_int_equal (pbd_node_id ("cluster", "c1", out, sizeof out), 0);
    assert_string_equal (out, "compute::c1");
    assert_int_equal (pbd_node_id ("job_run", "r1", out, sizeof out), 0);
    assert_string_equal (out, "jobrun::r1");
    assert_int_equal (pbd_node_id ("anomaly", "J-X:2025-01-02", out, sizeof out), 0);
    assert_string_equal (out, "anomaly::J-X:2025-01-02");
    assert_int_equal (pbd_node_id ("compute_type", "JOBS", out, sizeof out), -1);
    assert_int_equal (pbd_node_id ("job", "", out, sizeof out), -1);
    char small[8];
    assert_int_equal (pbd_node_id ("job", "J-FIN-DAILY", small, sizeof small), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_route_table),
        cmocka_unit_test (test_route_full_reason),
        cmocka_unit_test (test_route_args),
        cmocka_unit_test (test_node_id),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
