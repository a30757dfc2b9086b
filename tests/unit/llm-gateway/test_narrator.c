/* test_narrator.c — golden answers of the offline narrator.
 *
 * For each facts file in data/ the narrator's markdown must equal the
 * committed data/<name>.md byte for byte, twice in a row (determinism), pass
 * its own groundedness check (every figure comes from the facts), say that
 * the built-in narrator wrote it, and pick the expected hypotheses.
 * LG_UPDATE_GOLDEN=1 rewrites the .md files (review the diff!).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "lg_facts.h"
#include "lg_ground.h"
#include "lg_narrator.h"
#include "lg_test_util.h"

typedef struct {
    const char *name;
    const char *hyp[6];   /* expected hypothesis ids, NULL-terminated */
    const char *lane;     /* expected lane heading */
} golden_t;

static const golden_t s_cases[] = {
    { "fin_daily_spike", { "eviction", "retries", NULL }, "Diagnose" },
    { "route_opt_reliability", { "eviction", NULL }, "Optimize" },
    { "ml_training_regression", { "eviction", "regression", "concentration", "chronic", NULL }, "Diagnose" },
    { "legacy_etl_next", { "data_growth", "chronic", NULL }, "Monitor" },
    { "pareto_legacy_about", { "concentration", NULL }, "Understand" },
    { "supply_transform_cascade", { "cascade", NULL }, "Diagnose" },
    { "anomaly_fin_daily", { "anomaly", NULL }, "Understand" },
    { "warehouse_util", { "time_limit", "underused", NULL }, "Optimize" },
    { "hr_weekly_plain", { NULL }, "Optimize" },
    { "empty", { NULL }, NULL },
};

static char *
s_narrate (const char *json, const char *lane, const char *note)
{
    int rc;
    char err[200];
    lg_facts_t *f = lg_facts_parse (json, &rc, err, sizeof err);
    if (f == NULL)
        fail_msg ("facts did not parse: %s", err);
    buf_t *b = buf_new (1 << 20);
    assert_non_null (b);
    assert_int_equal (lg_narrate (f, lane, note, NULL, b), 0);
    char *out = buf_detach (b);
    buf_destroy (&b);
    lg_facts_destroy (&f);
    return out;
}

static void
test_golden (void **state)
{
    (void) state;
    bool update = getenv ("LG_UPDATE_GOLDEN") != NULL;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const golden_t *g = &s_cases[i];
        char path[512], gpath[512];
        snprintf (path, sizeof path, "%s/%s.json", LG_TEST_DATA, g->name);
        snprintf (gpath, sizeof gpath, "%s/%s.md", LG_TEST_DATA, g->name);
        char *json = lg_test_slurp (path);
        assert_non_null (json);
        char *a = s_narrate (json, NULL, NULL);
        char *b = s_narrate (json, NULL, NULL);
        assert_string_equal (a, b);
        if (update)
            assert_int_equal (lg_test_write (gpath, a), 0);
        char *want = lg_test_slurp (gpath);
        if (want == NULL)
            fail_msg ("missing golden file %s (run with LG_UPDATE_GOLDEN=1)", gpath);
        if (strcmp (want, a) != 0) {
            fprintf (stderr, "--- %s differs; got:\n%s\n", gpath, a);
            fail ();
        }
        assert_non_null (strstr (a, "built-in narrator"));

        /* Every figure in the answer is grounded in the facts. */
        lg_ground_t *gr = lg_ground_new ();
        assert_int_equal (lg_ground_add_json (gr, json), 0);
        lg_grounding_t res;
        assert_int_equal (lg_ground_check (gr, a, &res), 0);
        if (!res.grounded) {
            for (size_t k = 0; k < res.n_ungrounded; k++)
                fprintf (stderr, "%s: ungrounded figure %s\n", g->name, res.ungrounded[k]);
            fail ();
        }
        lg_grounding_clear (&res);
        lg_ground_destroy (&gr);

        /* Hypotheses and lane. */
        int rc;
        lg_facts_t *f = lg_facts_parse (json, &rc, NULL, 0);
        assert_non_null (f);
        const char *ids[16];
        size_t n = lg_narrate_hypotheses (f, NULL, ids, 16);
        size_t want_n = 0;
        while (g->hyp[want_n])
            want_n++;
        if (n != want_n) {
            for (size_t k = 0; k < n && k < 16; k++)
                fprintf (stderr, "%s: got hypothesis %s\n", g->name, ids[k]);
            fail_msg ("%s: %zu hypotheses, expected %zu", g->name, n, want_n);
        }
        for (size_t k = 0; k < n; k++)
            assert_string_equal (ids[k], g->hyp[k]);
        if (g->lane) {
            char heading[64];
            snprintf (heading, sizeof heading, "### Recommendations — %s\n", g->lane);
            assert_non_null (strstr (a, heading));
        }
        lg_facts_destroy (&f);
        free (a);
        free (b);
        free (want);
        free (json);
    }
}

static void
test_lane_override_and_note (void **state)
{
    (void) state;
    char path[512];
    snprintf (path, sizeof path, "%s/fin_daily_spike.json", LG_TEST_DATA);
    char *json = lg_test_slurp (path);
    assert_non_null (json);
    char *a = s_narrate (json, "monitor", "provider failed");
    assert_true (strncmp (a, "> **Note:** provider failed\n\n", 29) == 0);
    assert_non_null (strstr (a, "### Recommendations — Monitor\n"));
    assert_null (strstr (a, "### Recommendations — Diagnose"));
    /* Eviction recommendation for the Monitor lane. */
    assert_non_null (strstr (a, "Alert on SPOT_EVICTION events and on retries per run"));
    free (a);
    a = s_narrate (json, "no-such-lane", NULL);
    assert_non_null (strstr (a, "### Recommendations — Diagnose\n"));
    free (a);
    free (json);
    assert_string_equal (lg_lane_normalize ("OPTIMIZE"), "Optimize");
    assert_string_equal (lg_lane_normalize (NULL), "Diagnose");
}

static void
test_hostile_strings (void **state)
{
    (void) state;
    const char *json = "{\"entity\":{\"type\":\"job\",\"id\":\"J-1\",\"label\":\"evil\\n### Injected\\n`code`\"},"
                       "\"facts\":[{\"name\":\"cost_total_usd\",\"label\":\"Cost\\r\\n- fake\",\"value\":12.5,"
                       "\"unit\":\"usd\"}]}";
    char *a = s_narrate (json, NULL, NULL);
    assert_null (strstr (a, "\n### Injected"));
    assert_null (strstr (a, "\n- fake"));
    assert_null (strstr (a, "`code`"));
    assert_non_null (strstr (a, "$12.50"));
    free (a);
}

static void
test_thresholds_configurable (void **state)
{
    (void) state;
    const char *json = "{\"facts\":[{\"name\":\"cost_share_pct\",\"value\":15,\"unit\":\"pct\"}]}";
    int rc;
    lg_facts_t *f = lg_facts_parse (json, &rc, NULL, 0);
    assert_non_null (f);
    lg_narrator_opts_t o;
    lg_narrator_opts_default (&o);
    const char *ids[4];
    assert_int_equal (lg_narrate_hypotheses (f, &o, ids, 4), 0);
    o.concentration_share_pct = 10;
    assert_int_equal (lg_narrate_hypotheses (f, &o, ids, 4), 1);
    assert_string_equal (ids[0], "concentration");
    lg_facts_destroy (&f);
}

static void
test_facts_errors (void **state)
{
    (void) state;
    int rc;
    char err[200];
    assert_null (lg_facts_parse ("{\"facts\":[{\"name\":\"x\",\"value\":\"12\"}]}", &rc, err, sizeof err));
    assert_int_equal (rc, -1);
    assert_string_equal (err, "facts_json: facts[0].value must be a number");
    assert_null (lg_facts_parse ("{\"facts\":[{\"value\":1}]}", &rc, err, sizeof err));
    assert_string_equal (err, "facts_json: facts[0].name is required");
    assert_null (lg_facts_parse ("{\"entity\":[]}", &rc, err, sizeof err));
    assert_string_equal (err, "facts_json: entity must be an object");
    assert_null (lg_facts_parse ("{\"a\":1,\"a\":2}", &rc, err, sizeof err));
    assert_non_null (strstr (err, "invalid JSON"));
    assert_null (lg_facts_parse ("[1]", &rc, err, sizeof err));
    assert_null (lg_facts_parse ("{\"events\":[3]}", &rc, err, sizeof err));
    assert_string_equal (err, "facts_json: events[0] must be an object");
    lg_facts_t *f = lg_facts_parse ("{\"chip\":{\"id\":\"core:spike:job:J-1\"},\"unknown_key\":{\"x\":1}}", &rc, err,
                                    sizeof err);
    assert_non_null (f);
    assert_string_equal (lg_facts_chip_kind (f), "spike");
    lg_facts_destroy (&f);
    f = lg_facts_parse (NULL, &rc, err, sizeof err);
    assert_non_null (f);
    assert_true (lg_facts_empty (f));
    lg_facts_destroy (&f);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_golden),
        cmocka_unit_test (test_lane_override_and_note),
        cmocka_unit_test (test_hostile_strings),
        cmocka_unit_test (test_thresholds_configurable),
        cmocka_unit_test (test_facts_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
