/* test_env.c — envelope codec: construction, ownership (ASan checks that
 * env_free releases everything), size cap, version and body checks, errors,
 * deadlines, ids, repeated-field appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "env.h"

static void test_new_header (void **state)
{
    (void) state;
    env_t *e = env_new ("unit");
    assert_non_null (e);
    assert_non_null (e->header);
    assert_int_equal (e->header->schema_version, ENV_SCHEMA_VERSION);
    assert_string_equal (e->header->sender, "unit");
    assert_int_equal (strlen (e->header->request_id), 32);
    assert_true (e->header->sent_unix_ms > 1600000000000LL);
    assert_int_equal (e->body_case, COPILOT__V1__ENVELOPE__BODY__NOT_SET);
    assert_null (env_body (e));
    env_destroy (&e);
    assert_null (e);
    env_destroy (&e);   /* harmless */
}

static void test_ids_unique (void **state)
{
    (void) state;
    char a[ENV_ID_LEN], b[ENV_ID_LEN];
    env_new_id (a);
    env_new_id (b);
    assert_int_equal (strlen (a), 32);
    assert_string_not_equal (a, b);
    /* same per-process prefix, different counter */
    assert_memory_equal (a, b, 16);
    for (int i = 0; i < 32; i++)
        assert_non_null (strchr ("0123456789abcdef", a[i]));
}

static void test_roundtrip_ping_reply (void **state)
{
    (void) state;
    env_t *e = env_new ("unit");
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    assert_non_null (r);
    assert_int_equal (env_set_str (&r->service, "report-service"), 0);
    assert_int_equal (env_set_strf (&r->version, "%d.%d", 1, 2), 0);
    r->pid = 4242;
    r->uptime_ms = 77;
    assert_int_equal (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r), 0);
    assert_ptr_equal (env_body (e), &r->base);
    assert_string_equal (env_body_name ((int) e->body_case), "ping_reply");

    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal (env_encode (e, &data, &len), ENV_OK);
    assert_true (len > 10);
    env_t *d = NULL;
    assert_int_equal (env_decode (data, len, &d), ENV_OK);
    assert_non_null (d);
    assert_int_equal (d->body_case, COPILOT__V1__ENVELOPE__BODY_PING_REPLY);
    assert_string_equal (d->ping_reply->service, "report-service");
    assert_string_equal (d->ping_reply->version, "1.2");
    assert_int_equal (d->ping_reply->pid, 4242);
    assert_string_equal (env_request_id (d), env_request_id (e));

    /* Size cap is checked before unpacking. */
    env_t *x = (env_t *) 0x1;
    assert_int_equal (env_decode_cap (data, len, len - 1, &x), ENV_E_TOOBIG);
    assert_null (x);
    free (data);
    env_free (d);
    env_free (e);
}

static void test_set_body_type_mismatch (void **state)
{
    (void) state;
    env_t *e = env_new (NULL);
    Copilot__V1__PingRequest *p = env_msg_new (&copilot__v1__ping_request__descriptor);
    /* wrong arm for the message type: refused and freed (ASan: no leak) */
    assert_int_equal (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, p), ENV_E_MALFORMED);
    assert_int_equal (e->body_case, COPILOT__V1__ENVELOPE__BODY__NOT_SET);
    /* not a body number at all */
    p = env_msg_new (&copilot__v1__ping_request__descriptor);
    assert_int_equal (env_set_body (e, 1 /* header */, p), ENV_E_MALFORMED);
    assert_int_equal (env_set_body (e, 9999, env_msg_new (&copilot__v1__ping_request__descriptor)),
                      ENV_E_MALFORMED);
    /* replacing a body frees the previous one */
    assert_int_equal (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                                    env_msg_new (&copilot__v1__ping_request__descriptor)), 0);
    assert_int_equal (env_set_error (e, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND, "id",
                                     "no report %s", "x"), 0);
    assert_true (env_is_error (e));
    assert_int_equal (env_error (e)->code, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND);
    assert_string_equal (env_error (e)->message, "no report x");
    assert_string_equal (env_error (e)->detail, "id");
    env_clear_body (e);
    assert_false (env_is_error (e));
    env_free (e);
}

static void test_decode_errors (void **state)
{
    (void) state;
    env_t *out = NULL;
    const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };
    assert_int_equal (env_decode (garbage, sizeof garbage, &out), ENV_E_MALFORMED);
    assert_null (out);

    /* wrong schema version: envelope returned so the caller can answer */
    env_t *e = env_new ("unit");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    e->header->schema_version = 99;
    uint8_t *data;
    size_t len;
    assert_int_equal (env_encode (e, &data, &len), 0);
    assert_int_equal (env_decode (data, len, &out), ENV_E_VERSION);
    assert_non_null (out);
    assert_string_equal (env_request_id (out), env_request_id (e));
    env_destroy (&out);
    free (data);

    /* no body */
    e->header->schema_version = ENV_SCHEMA_VERSION;
    env_clear_body (e);
    assert_int_equal (env_encode (e, &data, &len), 0);
    assert_int_equal (env_decode (data, len, &out), ENV_E_EMPTY);
    env_destroy (&out);
    free (data);

    /* empty input is a valid empty message: no header → version error */
    assert_int_equal (env_decode ((const uint8_t *) "", 0, &out), ENV_E_VERSION);
    env_destroy (&out);
    env_free (e);
    assert_string_equal (env_strerror (ENV_E_TOOBIG), "envelope larger than the size cap");
}

static void test_encode_too_big (void **state)
{
    (void) state;
    env_t *e = env_new ("unit");
    Copilot__V1__MetricsReply *m = env_msg_new (&copilot__v1__metrics_reply__descriptor);
    char *big = malloc (ENV_MAX_BYTES + 1);
    memset (big, 'a', ENV_MAX_BYTES);
    big[ENV_MAX_BYTES] = '\0';
    m->text = big;
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY, m);
    uint8_t *data = (uint8_t *) 0x1;
    size_t len = 5;
    assert_int_equal (env_encode (e, &data, &len), ENV_E_TOOBIG);
    assert_null (data);
    assert_int_equal (len, 0);
    env_free (e);
}

static void test_repeated_append (void **state)
{
    (void) state;
    env_t *e = env_new ("unit");
    Copilot__V1__ListReportsReply *r = env_msg_new (&copilot__v1__list_reports_reply__descriptor);
    for (int i = 0; i < 37; i++) {
        Copilot__V1__ReportInfo *info = env_msg_new (&copilot__v1__report_info__descriptor);
        env_set_strf (&info->id, "report_%02d", i);
        info->order = (uint32_t) i;
        assert_int_equal (ENV_APPEND (r->reports, r->n_reports, info), 0);
    }
    assert_int_equal (r->n_reports, 37);
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY, r);
    uint8_t *data;
    size_t len;
    assert_int_equal (env_encode (e, &data, &len), 0);
    env_t *d;
    assert_int_equal (env_decode (data, len, &d), 0);
    assert_int_equal (d->list_reports_reply->n_reports, 37);
    assert_string_equal (d->list_reports_reply->reports[36]->id, "report_36");
    /* appending to an array allocated by the unpacker (exact size) is safe */
    Copilot__V1__ReportInfo *extra = env_msg_new (&copilot__v1__report_info__descriptor);
    Copilot__V1__ListReportsReply *dr = d->list_reports_reply;
    assert_int_equal (ENV_APPEND (dr->reports, dr->n_reports, extra), 0);
    assert_int_equal (dr->n_reports, 38);
    free (data);
    env_free (d);
    env_free (e);
}

static void test_reply_and_deadlines (void **state)
{
    (void) state;
    env_t *req = env_new ("client");
    env_set_str (&req->header->trace_id, "trace-1");
    assert_int_equal (env_remaining_ms (req), INT64_MAX);
    assert_false (env_expired (req));
    env_set_timeout (req, 200);
    int64_t left = env_remaining_ms (req);
    assert_true (left > 100 && left <= 200);
    assert_false (env_expired (req));
    req->header->deadline_unix_ms = clock_wall_ms () - 1;
    assert_true (env_expired (req));

    env_t *rep = env_reply_new (req, "server");
    assert_string_equal (rep->header->request_id, req->header->request_id);
    assert_string_equal (rep->header->trace_id, "trace-1");
    assert_string_equal (rep->header->sender, "server");
    env_free (rep);

    env_t *err = env_error_new (req, "server", COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                                "down for %d ms", 5);
    assert_string_equal (env_request_id (err), env_request_id (req));
    assert_string_equal (env_error (err)->message, "down for 5 ms");
    assert_string_equal (env_code_name ((int) env_error (err)->code), "unavailable");
    assert_string_equal (env_code_name (0), "ok");
    assert_string_equal (env_code_name (3), "deadline_exceeded");
    assert_string_equal (env_code_name (999), "unknown");
    env_free (err);
    env_free (req);
    assert_string_equal (env_body_name (0), "none");
    assert_string_equal (env_body_name (COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST),
                         "explain_request");
    assert_string_equal (env_body_name (5), "unknown");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_new_header),
        cmocka_unit_test (test_ids_unique),
        cmocka_unit_test (test_roundtrip_ping_reply),
        cmocka_unit_test (test_set_body_type_mismatch),
        cmocka_unit_test (test_decode_errors),
        cmocka_unit_test (test_encode_too_big),
        cmocka_unit_test (test_repeated_append),
        cmocka_unit_test (test_reply_and_deadlines),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
