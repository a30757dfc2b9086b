/* test_gw_json.c — protobuf -> JSON shapes, JSON body -> ExplainRequest
 * rules, report query parameters, error status mapping, UTF-8 repair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "gw_json.h"

static char *
s_dump (json_t *j)
{
    char *s = json_dumps (j, GW_JSON_DUMP_FLAGS);
    json_decref (j);
    return s;
}

static Copilot__V1__Value *
s_val_int (int64_t v)
{
    Copilot__V1__Value *x = env_msg_new (&copilot__v1__value__descriptor);
    x->kind_case = COPILOT__V1__VALUE__KIND_INT_VALUE;
    x->int_value = v;
    return x;
}

static Copilot__V1__Value *
s_val_text (const char *t)
{
    Copilot__V1__Value *x = env_msg_new (&copilot__v1__value__descriptor);
    x->kind_case = COPILOT__V1__VALUE__KIND_TEXT_VALUE;
    x->text_value = env_strdup (t);
    return x;
}

static Copilot__V1__Value *
s_val_real (double d)
{
    Copilot__V1__Value *x = env_msg_new (&copilot__v1__value__descriptor);
    x->kind_case = COPILOT__V1__VALUE__KIND_REAL_VALUE;
    x->real_value = d;
    return x;
}

static void
t_report_result (void **state)
{
    (void) state;
    Copilot__V1__ReportResult *r = env_msg_new (&copilot__v1__report_result__descriptor);
    env_set_str (&r->report_id, "cost_by_job");
    env_set_str (&r->title, "Cost by job");
    Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
    env_set_str (&p->key, "from");
    env_set_str (&p->value, "2024-01-01");
    ENV_APPEND (r->params, r->n_params, p);
    const char *cols[] = { "job_id", "cost", "runs" };
    for (int i = 0; i < 3; i++) {
        Copilot__V1__Column *c = env_msg_new (&copilot__v1__column__descriptor);
        env_set_str (&c->name, cols[i]);
        env_set_str (&c->type, i == 0 ? "text" : i == 1 ? "real" : "integer");
        ENV_APPEND (r->columns, r->n_columns, c);
    }
    Copilot__V1__Row *row = env_msg_new (&copilot__v1__row__descriptor);
    ENV_APPEND (row->values, row->n_values, s_val_text ("j1"));
    ENV_APPEND (row->values, row->n_values, s_val_real (12.5));
    ENV_APPEND (row->values, row->n_values, s_val_int (9007199254740993LL));
    ENV_APPEND (r->rows, r->n_rows, row);
    Copilot__V1__Row *row2 = env_msg_new (&copilot__v1__row__descriptor);
    ENV_APPEND (row2->values, row2->n_values, s_val_text ("bad\xff"));
    ENV_APPEND (row2->values, row2->n_values, s_val_real (NAN));
    Copilot__V1__Value *nul = env_msg_new (&copilot__v1__value__descriptor);
    nul->kind_case = COPILOT__V1__VALUE__KIND_IS_NULL;
    nul->is_null = 1;
    ENV_APPEND (row2->values, row2->n_values, nul);
    ENV_APPEND (r->rows, r->n_rows, row2);
    Copilot__V1__Kpi *k = env_msg_new (&copilot__v1__kpi__descriptor);
    env_set_str (&k->id, "total");
    k->value = 0.1;
    env_set_str (&k->text, "$0");
    ENV_APPEND (r->kpis, r->n_kpis, k);
    env_set_str (&r->chart_spec_json, "{\"mark\":\"bar\",\"data\":{\"values\":[1,2]}}");
    Copilot__V1__Selection *s = env_msg_new (&copilot__v1__selection__descriptor);
    env_set_str (&s->entity_type, "job");
    env_set_str (&s->entity_id, "j1");
    Copilot__V1__NamedNumber *nn = env_msg_new (&copilot__v1__named_number__descriptor);
    env_set_str (&nn->name, "cost");
    nn->value = 12.5;
    ENV_APPEND (s->payload, s->n_payload, nn);
    Copilot__V1__Chip *ch = env_msg_new (&copilot__v1__chip__descriptor);
    env_set_str (&ch->id, "job:why");
    env_set_str (&ch->lane, "Diagnose");
    env_set_str (&ch->prompt, "job_id=j1 why?");
    ENV_APPEND (s->chips, s->n_chips, ch);
    ENV_APPEND (r->selections, r->n_selections, s);
    env_set_str (&r->sql, "SELECT 1");
    env_set_str (&r->data_version, "v7");
    r->rows_total = 40; /* rows_output listed 2 of 40 */
    char *out = s_dump (gw_json_report_result (r));
    assert_non_null (out);
    assert_string_equal (
        out,
        "{\"report_id\":\"cost_by_job\",\"title\":\"Cost by job\",\"params\":{\"from\":\"2024-01-01\"},"
        "\"columns\":[{\"name\":\"job_id\",\"type\":\"text\",\"label\":\"\"},{\"name\":\"cost\",\"type\":"
        "\"real\",\"label\":\"\"},{\"name\":\"runs\",\"type\":\"integer\",\"label\":\"\"}],"
        "\"rows\":[{\"job_id\":\"j1\",\"cost\":12.5,\"runs\":9007199254740993},"
        "{\"job_id\":\"bad\xef\xbf\xbd\",\"cost\":null,\"runs\":null}],"
        "\"kpis\":[{\"id\":\"total\",\"label\":\"\",\"value\":0.1,\"format\":\"\",\"text\":\"$0\"}],"
        "\"chart\":{\"mark\":\"bar\",\"data\":{\"values\":[1,2]}},"
        "\"selections\":[{\"entity_type\":\"job\",\"entity_id\":\"j1\",\"label\":\"\",\"payload\":{\"cost\":12.5},"
        "\"chips\":[{\"id\":\"job:why\",\"lane\":\"Diagnose\",\"label\":\"\",\"prompt\":\"job_id=j1 why?\","
        "\"entity_type\":\"\",\"entity_id\":\"\"}]}],"
        "\"sql\":\"SELECT 1\",\"data_version\":\"v7\",\"banners\":[],\"cached\":false,\"rows_total\":40,\"extra\":null}");
    free (out);
    /* A broken chart spec does not break the report. */
    env_set_str (&r->chart_spec_json, "{\"mark\":");
    json_t *j = gw_json_report_result (r);
    assert_true (json_is_null (json_object_get (j, "chart")));
    assert_non_null (json_object_get (j, "chart_error"));
    json_decref (j);
    protobuf_c_message_free_unpacked (&r->base, NULL);
}

static void
t_status_map (void **state)
{
    (void) state;
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT), 400);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND), 404);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED), 504);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE), 503);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED), 501);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_INTERNAL), 500);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED), 429);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_UNAUTHENTICATED), 401);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_PERMISSION_DENIED), 403);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_VERSION_MISMATCH), 502);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_FAILED_PRECONDITION), 409);
    assert_int_equal (gw_status_for_error (COPILOT__V1__ERROR_CODE__ERROR_UPSTREAM), 502);
    assert_int_equal (gw_status_for_error (999), 500);
}

static Copilot__V1__ExplainRequest *
s_explain (const char *text, char *err, size_t n)
{
    json_t *doc = gw_json_parse_body (text, strlen (text), err, n);
    if (!doc)
        return NULL;
    Copilot__V1__ExplainRequest *r = gw_json_to_explain (doc, err, n);
    json_decref (doc);
    return r;
}

static void
t_explain_body (void **state)
{
    (void) state;
    char err[256];
    Copilot__V1__ExplainRequest *r = s_explain (
        "{\"report_id\":\"cost_by_job\",\"entity_type\":\"job\",\"entity_id\":\"j1\","
        "\"chip_id\":\"job:why\",\"params\":{\"from\":\"2024-01-01\",\"to\":\"2024-02-01\"},\"debug\":true}",
        err, sizeof err);
    assert_non_null (r);
    assert_string_equal (r->chip_id, "job:why");
    assert_true (r->debug);
    assert_int_equal (r->n_params, 2);
    assert_string_equal (r->params[0]->key, "from");
    assert_string_equal (r->params[1]->value, "2024-02-01");
    protobuf_c_message_free_unpacked (&r->base, NULL);
    r = s_explain ("{\"question\":\"why is cost up?\",\"session_id\":\"s1\"}", err, sizeof err);
    assert_non_null (r);
    assert_string_equal (r->question, "why is cost up?");
    protobuf_c_message_free_unpacked (&r->base, NULL);
    static const char *bad[] = {
        "",                                             /* empty */
        "[]",                                           /* not an object */
        "{\"question\":\"a\"} x",                       /* trailing data */
        "{\"question\":\"a\",\"question\":\"b\"}",      /* duplicate key */
        "{\"question\":\"\xff\"}",                      /* invalid UTF-8 */
        "{\"question\":\"   \"}",                       /* empty question */
        "{}",                                           /* neither chip nor question */
        "{\"chip_id\":\"x\"}",                          /* chip without entity */
        "{\"question\":\"a\",\"extra\":1}",             /* unknown key */
        "{\"question\":1}",                             /* wrong type */
        "{\"question\":\"a\",\"debug\":\"yes\"}",
        "{\"question\":\"a\",\"params\":[1]}",
        "{\"question\":\"a\",\"params\":{\"from\":\"2024-13-01\"}}",
        "{\"question\":\"a\",\"params\":{\"from\":\"2024-02-01\",\"to\":\"2024-01-01\"}}",
        "{\"question\":\"a\",\"params\":{\"Bad Key\":\"x\"}}",
        "{\"question\":\"a\",\"report_id\":\"../x\"}",
        "{\"question\":\"a\\u0000b\"}",                 /* NUL inside a string */
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        r = s_explain (bad[i], err, sizeof err);
        if (r)
            fail_msg ("accepted: %s", bad[i]);
        assert_true (err[0] != '\0');
    }
}

static void
t_report_params (void **state)
{
    (void) state;
    char err[256];
    Copilot__V1__RunReportRequest *m = env_msg_new (&copilot__v1__run_report_request__descriptor);
    assert_int_equal (gw_query_to_report_params ("from=2024-01-01&to=2024-01-31&workspace=ws%201&top_n=5&access_token=x",
                                                 m, err, sizeof err), 0);
    assert_int_equal (m->n_params, 4);
    assert_string_equal (m->params[2]->key, "workspace");
    assert_string_equal (m->params[2]->value, "ws 1");
    protobuf_c_message_free_unpacked (&m->base, NULL);
    static const char *bad[] = { "from=2024-1-1", "to=yesterday", "as_of=2024-02-30",
                                 "from=2024-02-01&to=2024-01-01", "workspace=", "workspace=a%3Cb",
                                 "Top=1", "from=2024-01-01&from=2024-01-02", "x=%zz",
                                 "x=%ff", NULL };
    for (int i = 0; bad[i]; i++) {
        m = env_msg_new (&copilot__v1__run_report_request__descriptor);
        err[0] = '\0';
        if (gw_query_to_report_params (bad[i], m, err, sizeof err) == 0)
            fail_msg ("accepted: %s", bad[i]);
        assert_true (err[0] != '\0');
        protobuf_c_message_free_unpacked (&m->base, NULL);
    }
}

static void
t_other_replies (void **state)
{
    (void) state;
    Copilot__V1__SearchReply *s = env_msg_new (&copilot__v1__search_reply__descriptor);
    Copilot__V1__SearchHit *h = env_msg_new (&copilot__v1__search_hit__descriptor);
    env_set_str (&h->doc_id, "job::1");
    h->score = 0.5;
    h->rank = 1;
    env_set_str (&h->type, "job");
    env_set_str (&h->meta_json, "{\"k\":[1,2]}");
    char *e = env_strdup ("job::1");
    ENV_APPEND (h->entity_ids, h->n_entity_ids, e);
    ENV_APPEND (s->hits, s->n_hits, h);
    env_set_str (&s->served_by, "r1");
    char *out = s_dump (gw_json_search_reply (s));
    assert_string_equal (out, "{\"hits\":[{\"doc_id\":\"job::1\",\"corpus\":\"\",\"title\":\"\",\"url\":\"\","
                              "\"anchor\":\"\",\"text\":\"\",\"score\":0.5,\"entity_ids\":[\"job::1\"],"
                              "\"rank\":1,\"type\":\"job\",\"meta\":{\"k\":[1,2]}}],\"embedder\":\"\",\"dim\":0,"
                              "\"index_version\":\"\",\"served_by\":\"r1\"}");
    free (out);
    protobuf_c_message_free_unpacked (&s->base, NULL);
    Copilot__V1__ExplainReply *x = env_msg_new (&copilot__v1__explain_reply__descriptor);
    env_set_str (&x->answer_markdown, "**hi**");
    json_t *j = gw_json_explain_reply (x);
    assert_true (json_is_null (json_object_get (j, "debug")));
    assert_true (json_is_null (json_object_get (j, "grounding")));
    assert_string_equal (json_string_value (json_object_get (j, "answer_markdown")), "**hi**");
    json_decref (j);
    protobuf_c_message_free_unpacked (&x->base, NULL);
    Copilot__V1__Alert *a = env_msg_new (&copilot__v1__alert__descriptor);
    env_set_str (&a->alert_id, "job::1:2024-01-01");
    a->z_score = INFINITY;
    j = gw_json_alert (a);
    assert_true (json_is_null (json_object_get (j, "z_score")));
    json_decref (j);
    protobuf_c_message_free_unpacked (&a->base, NULL);
}

static void
t_utils (void **state)
{
    (void) state;
    json_t *s = gw_json_str ("ok\xc3\x28x");
    assert_string_equal (json_string_value (s), "ok\xef\xbf\xbd(x");
    json_decref (s);
    s = gw_json_str (NULL);
    assert_string_equal (json_string_value (s), "");
    json_decref (s);
    assert_true (gw_valid_ident ("cost_by_job", 64));
    assert_false (gw_valid_ident ("", 64));
    assert_false (gw_valid_ident ("a/b", 64));
    assert_false (gw_valid_ident ("abcdef", 3));
    assert_true (gw_valid_node_type ("jobrun"));
    assert_false (gw_valid_node_type ("jobs"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (t_report_result), cmocka_unit_test (t_status_map),
        cmocka_unit_test (t_explain_body),  cmocka_unit_test (t_report_params),
        cmocka_unit_test (t_other_replies), cmocka_unit_test (t_utils),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
