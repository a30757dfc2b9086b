/* test_pbd_contract.c — the facts_json the prompt builder writes is accepted
 * by the llm-gateway's own parser (lg_facts), field by field: the contract
 * of services/llm-gateway/README.md checked from both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "lg_facts.h"
#include "pbd_facts.h"

static void
test_lg_parses_our_facts (void **state)
{
    (void) state;
    static const char *const keys[] = {"J-FIN-DAILY-2025-12-05-R02", "J-FIN-DAILY-2025-12-06-R02"};
    static const char *const k1[] = {"J-FIN-DAILY-2025-12-07-R03"};
    pbd_fact_t facts[] = {
        {.name = "job_name", .text = "Daily Financial Aggregation", .source_table = "jobs"},
        {.name = "cost_total_usd", .value = 5548.9989504, .has_value = true, .unit = "usd",
         .source_table = "compute_usage", .row_keys = keys, .n_row_keys = 2},
        {.name = "cost_share_pct", .value = 2.77, .has_value = true, .unit = "pct", .text = "2.8% of job cost",
         .source_table = "compute_usage"},
        {.name = "error_signature", .value = 9, .has_value = true, .unit = "count", .source_table = "job_runs",
         .text = "SpotInstanceTerminated: Instance reclaimed during peak usage (9 runs, last 2025-12-07 03:26:10)",
         .row_keys = k1, .n_row_keys = 1},
        {.name = "config_change", .source_table = "config_changes",
         .text = "2025-12-01 08:00:00: spot_bid_max changed from 100 to 80"},
    };
    pbd_number_t payload[] = {{"total_runs", 54}};
    pbd_chip_t chip = {"core:spike:job:J-FIN-DAILY", "Diagnose", "Why a spike?", "job_id=J-FIN-DAILY\nDid it spike?"};
    pbd_route_t r = {0};
    pbd_input_t in = {.report_id = "job_cost", .report_title = "Job Cost & Reliability", .data_version = "fp:1",
                      .entity_type = "job", .entity_id = "J-FIN-DAILY", .entity_label = "Daily Financial Aggregation",
                      .chip = &chip, .question = chip.prompt, .facts = facts, .n_facts = 5, .payload = payload,
                      .n_payload = 1, .route = &r};
    buf_t *b = buf_new (1 << 16);
    assert_int_equal (pbd_facts_json (&in, b), 0);
    int rc = 0;
    char err[256] = "";
    lg_facts_t *f = lg_facts_parse (buf_data (b), &rc, err, sizeof err);
    if (!f)
        fprintf (stderr, "lg_facts_parse: %s\n%s\n", err, buf_data (b));
    assert_non_null (f);
    assert_string_equal (lg_facts_report_id (f), "job_cost");
    assert_string_equal (lg_facts_entity_type (f), "job");
    assert_string_equal (lg_facts_entity_id (f), "J-FIN-DAILY");
    assert_string_equal (lg_facts_entity_label (f), "Daily Financial Aggregation");
    assert_string_equal (lg_facts_chip_kind (f), "spike");
    assert_string_equal (lg_facts_chip_lane (f), "Diagnose");
    assert_int_equal (lg_facts_count (f), 5);
    /* Numeric facts first (report order), textual ones after. */
    const lg_fact_t *f0 = lg_facts_at (f, 0);
    assert_string_equal (f0->name, "cost_total_usd");
    assert_true (f0->has_value);
    assert_true (f0->value == 5548.9989504);
    assert_int_equal (f0->n_row_keys, 2);
    assert_string_equal (lg_facts_at (f, 1)->name, "cost_share_pct");
    assert_string_equal (lg_facts_at (f, 2)->name, "error_signature");
    const lg_fact_t *f3 = lg_facts_at (f, 3);
    assert_string_equal (f3->name, "job_name");
    assert_false (f3->has_value);
    assert_string_equal (f3->text, "Daily Financial Aggregation");
    assert_string_equal (lg_facts_at (f, 4)->name, "config_change");
    /* A chip click carries no "question". */
    assert_string_equal (lg_facts_question (f), "");
    assert_int_equal (lg_facts_n_signatures (f), 1);
    assert_string_equal (lg_facts_signature (f, 0)->signature, "SpotInstanceTerminated: Instance reclaimed during peak usage");
    assert_true (lg_facts_signature (f, 0)->count == 9);
    assert_int_equal (lg_facts_n_changes (f), 1);
    assert_string_equal (lg_facts_change (f, 0)->field, "spot_bid_max");
    assert_string_equal (lg_facts_change (f, 0)->new_value, "80");
    lg_facts_destroy (&f);
    buf_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lg_parses_our_facts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
