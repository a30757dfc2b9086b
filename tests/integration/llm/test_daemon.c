/* test_daemon.c — the llm-gateway daemon as a real process on the bus, with
 * and without the fake provider.
 *
 * With the provider: a completion, a cache hit on repeat, a fallback with a
 * note on 5xx, INVALID_ARGUMENT for malformed facts, the narrator's golden
 * answer byte-identical through the daemon, a slow provider call that does
 * not block other requests (worker threads), metrics, SIGTERM exit 0, and
 * the API key absent from the daemon's log. Without a provider: the offline
 * narrator is the default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "env.h"
#include "lg_it_util.h"

#define KEY "sk-daemon-KEY-93be71c0aa"

static pid_t s_fake = -1;
static int s_port;
static char s_dir[64];

static int
s_group_setup (void **state)
{
    (void) state;
    static const char *const vars[] = { "LLM_PROVIDER", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                                        "GROK_API_KEY", "XAI_API_KEY", "COPILOT_LLM_PROVIDER", "COPILOT_LLM_API_KEY",
                                        NULL };
    for (size_t i = 0; vars[i]; i++)
        unsetenv (vars[i]);
    snprintf (s_dir, sizeof s_dir, "/tmp/lg-itd-XXXXXX");
    if (mkdtemp (s_dir) == NULL)
        return -1;
    char line[128];
    const char *argv[] = { FAKE_PROVIDER, "--require-key", KEY, NULL };
    s_fake = lg_it_spawn (argv, NULL, NULL, "READY port=", line, sizeof line, 10000);
    if (s_fake < 0)
        return -1;
    s_port = (int) strtol (line + 11, NULL, 10);
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    lg_it_stop (s_fake, SIGTERM, 2000);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

static env_t *
s_request (const char *model, const char *provider, const char *prompt, const char *facts, uint32_t timeout_ms)
{
    env_t *e = env_new ("test");
    Copilot__V1__CompletionRequest *cr = env_msg_new (&copilot__v1__completion_request__descriptor);
    assert_non_null (e);
    assert_non_null (cr);
    assert_int_equal (env_set_str (&cr->model, model), 0);
    assert_int_equal (env_set_str (&cr->provider, provider), 0);
    assert_int_equal (env_set_str (&cr->prompt, prompt), 0);
    assert_int_equal (env_set_str (&cr->system_prompt, "You are a usage copilot."), 0);
    assert_int_equal (env_set_str (&cr->facts_json, facts), 0);
    cr->timeout_ms = timeout_ms;
    assert_int_equal (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REQUEST, cr), 0);
    return e;
}

static const Copilot__V1__CompletionReply *
s_call (const char *ep, env_t *req, env_t **reply)
{
    int rc = bus_call (ep, req, reply, 10000);
    assert_int_equal (rc, 0);
    assert_non_null (*reply);
    if ((*reply)->body_case != COPILOT__V1__ENVELOPE__BODY_COMPLETION_REPLY) {
        const Copilot__V1__Error *err = env_error (*reply);
        fail_msg ("expected a CompletionReply, got %s: %s", env_body_name ((int) (*reply)->body_case),
                  err ? err->message : "");
    }
    return (*reply)->completion_reply;
}

static const char *
s_usage (const Copilot__V1__CompletionReply *r, const char *key)
{
    for (size_t i = 0; i < r->n_usage; i++)
        if (strcmp (r->usage[i]->key, key) == 0)
            return r->usage[i]->value;
    return "";
}

static pid_t
s_start_daemon (const char *tag, const char *const *env_extra, char *ep, size_t epsize, char *log, size_t logsize)
{
    snprintf (ep, epsize, "ipc://%s/%s.sock", s_dir, tag);
    snprintf (log, logsize, "%s/%s.log", s_dir, tag);
    const char *argv[] = { LLM_GATEWAY, "--endpoint", ep, NULL };
    char line[256];
    pid_t pid = lg_it_spawn (argv, env_extra, log, "READY llm-gateway", line, sizeof line, 10000);
    if (pid < 0) {
        char *l = lg_it_slurp (log);
        fail_msg ("daemon did not start; log:\n%s", l ? l : "");
    }
    return pid;
}

static int s_async_done;
static env_t *s_async_reply;

static void
s_on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c, (void) status, (void) arg;
    s_async_done = 1;
    s_async_reply = reply;
}

static void
test_daemon_with_fake_provider (void **state)
{
    (void) state;
    static char e_run[128], e_url[128], e_db[128];
    snprintf (e_run, sizeof e_run, "COPILOT_RUN_DIR=%s/run", s_dir);
    snprintf (e_url, sizeof e_url, "COPILOT_LLM_BASE_URL=http://127.0.0.1:%d/v1", s_port);
    snprintf (e_db, sizeof e_db, "COPILOT_LLM_CACHE_DB=%s/llm.db", s_dir);
    const char *env_extra[] = { e_run, e_url, e_db, "COPILOT_LLM_PROVIDER=openai", "OPENAI_API_KEY=" KEY,
                                "COPILOT_LLM_MODEL=fake/ok", "COPILOT_LLM_BACKOFF_MS=20", "COPILOT_LOG_LEVEL=debug",
                                "COPILOT_LLM_WORKERS=3", NULL };
    char ep[160], log[160];
    pid_t d = s_start_daemon ("with", env_extra, ep, sizeof ep, log, sizeof log);

    const char *facts = "{\"entity\":{\"type\":\"job\",\"id\":\"J-1\"},\"facts\":[{\"name\":\"cost_total_usd\","
                        "\"value\":5549,\"unit\":\"usd\"}]}";
    /* A completion, then the same again from the cache. */
    env_t *req = s_request ("fake/ok#d1", "", "Q\nFAKE_ANSWER: It cost $5,549.00.", facts, 0), *rep = NULL;
    const Copilot__V1__CompletionReply *r = s_call (ep, req, &rep);
    assert_string_equal (r->text, "It cost $5,549.00.");
    assert_string_equal (r->provider, "openai");
    assert_false (r->cached);
    assert_false (r->fallback);
    assert_true (r->grounding->grounded);
    assert_int_equal (r->grounding->numbers_checked, 1);
    assert_true (r->tokens_in > 0);
    assert_string_equal (s_usage (r, "outcome"), "ok");
    assert_string_equal (s_usage (r, "attempts"), "1");
    env_free (rep);
    r = s_call (ep, req, &rep);
    assert_true (r->cached);
    assert_string_equal (s_usage (r, "outcome"), "cached");
    env_free (rep);
    env_free (req);
    assert_int_equal (lg_it_fake_count (s_port, "fake/ok#d1"), 1);

    /* Provider failure: fallback with a visible note. */
    req = s_request ("fake/500#d2", "", "Q", facts, 0);
    r = s_call (ep, req, &rep);
    assert_true (r->fallback);
    assert_string_equal (r->provider, "narrator");
    assert_non_null (strstr (r->note, "HTTP 500"));
    assert_true (strncmp (r->text, "> **Note:** ", 12) == 0);
    env_free (rep);
    env_free (req);

    /* Malformed facts: INVALID_ARGUMENT naming the key. */
    req = s_request ("fake/ok#d3", "", "Q", "{\"facts\":{}}", 0);
    assert_int_equal (bus_call (ep, req, &rep, 10000), 0);
    const Copilot__V1__Error *err = env_error (rep);
    assert_non_null (err);
    assert_int_equal (err->code, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT);
    assert_string_equal (err->message, "facts_json: facts must be an array");
    env_free (rep);
    env_free (req);

    /* The narrator through the daemon: the golden answer, byte for byte. */
    char path[512];
    snprintf (path, sizeof path, "%s/fin_daily_spike.json", LG_TEST_DATA);
    char *gfacts = lg_it_slurp (path);
    snprintf (path, sizeof path, "%s/fin_daily_spike.md", LG_TEST_DATA);
    char *golden = lg_it_slurp (path);
    assert_non_null (gfacts);
    assert_non_null (golden);
    req = s_request ("", "narrator", "Why a spike?", gfacts, 0);
    r = s_call (ep, req, &rep);
    assert_string_equal (r->text, golden);
    assert_string_equal (r->provider, "narrator");
    assert_false (r->fallback);
    assert_true (r->grounding->grounded);
    env_free (rep);
    env_free (req);
    free (gfacts);
    free (golden);

    /* A slow provider call does not block the daemon: while it waits, a
     * narrator request and a Ping are answered. */
    void *zctx = zmq_ctx_new ();
    bus_client_t *cl = bus_client_new (zctx, ep, "test", NULL);
    assert_non_null (cl);
    env_t *slow = s_request ("fake/timeout#d4", "", "Q", facts, 1500);
    s_async_done = 0;
    int64_t t0 = clock_mono_ms ();
    assert_int_equal (bus_client_send (cl, slow, 10000, 0, s_on_reply, NULL), 0);
    bus_client_poll (cl, 100);
    req = s_request ("", "narrator", "Q", facts, 0);
    r = s_call (ep, req, &rep);
    assert_string_equal (r->provider, "narrator");
    assert_true (clock_mono_ms () - t0 < 1000);
    env_free (rep);
    env_free (req);
    assert_int_equal (s_async_done, 0);
    while (!s_async_done && clock_mono_ms () - t0 < 8000)
        bus_client_poll (cl, 100);
    assert_int_equal (s_async_done, 1);
    assert_int_equal (s_async_reply->body_case, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REPLY);
    assert_true (s_async_reply->completion_reply->fallback);
    assert_non_null (strstr (s_async_reply->completion_reply->note, "timed out"));
    env_free (s_async_reply);
    env_free (slow);
    bus_client_destroy (&cl);
    zmq_ctx_term (zctx);

    /* Metrics over the bus. */
    req = env_new ("test");
    Copilot__V1__MetricsRequest *mr = env_msg_new (&copilot__v1__metrics_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, mr);
    assert_int_equal (bus_call (ep, req, &rep, 5000), 0);
    assert_int_equal (rep->body_case, COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY);
    const char *mt = rep->metrics_reply->text;
    assert_non_null (strstr (mt, "copilot_llm_requests_total{provider=\"openai\",outcome=\"cached\"} 1"));
    assert_non_null (strstr (mt, "copilot_llm_requests_total{provider=\"openai\",outcome=\"fallback\"} 2"));
    assert_non_null (strstr (mt, "copilot_llm_tokens_total{provider=\"openai\",direction=\"in\"}"));
    assert_non_null (strstr (mt, "copilot_llm_request_seconds_bucket"));
    assert_null (strstr (mt, KEY));
    env_free (rep);
    env_free (req);

    /* SIGTERM with a provider call in flight: the drain waits briefly, then
     * the call is cancelled; the daemon exits promptly (0, or 5 when the
     * drain deadline abandoned work) instead of waiting for the provider. */
    zctx = zmq_ctx_new ();
    cl = bus_client_new (zctx, ep, "test", NULL);
    slow = s_request ("fake/timeout#d5", "", "Q", facts, 20000);
    s_async_done = 0;
    assert_int_equal (bus_client_send (cl, slow, 30000, 0, s_on_reply, NULL), 0);
    bus_client_poll (cl, 300);
    t0 = clock_mono_ms ();
    int st = lg_it_stop (d, SIGTERM, 5000);
    fprintf (stderr, "drain: exit %d after %lld ms\n", st, (long long) (clock_mono_ms () - t0));
    assert_true (st == 0 || st == 5);
    assert_true (clock_mono_ms () - t0 < 4000);
    bus_client_poll (cl, 200);
    if (s_async_done)
        env_free (s_async_reply);
    env_free (slow);
    bus_client_destroy (&cl);
    zmq_ctx_term (zctx);
    char *logs = lg_it_slurp (log);
    assert_non_null (logs);
    assert_non_null (strstr (logs, "key=from OPENAI_API_KEY"));
    assert_non_null (strstr (logs, "llm.fallback"));
    assert_null (strstr (logs, KEY));
    assert_null (strstr (logs, "93be71c0aa"));
    assert_null (strstr (logs, "ERROR: AddressSanitizer"));
    assert_null (strstr (logs, "runtime error:"));
    free (logs);
}

static void
test_daemon_without_provider (void **state)
{
    (void) state;
    static char e_run[128], e_db[128];
    snprintf (e_run, sizeof e_run, "COPILOT_RUN_DIR=%s/run2", s_dir);
    snprintf (e_db, sizeof e_db, "COPILOT_DATA_DIR=%s/data2", s_dir);
    const char *env_extra[] = { e_run, e_db, NULL };
    char ep[160], log[160];
    pid_t d = s_start_daemon ("without", env_extra, ep, sizeof ep, log, sizeof log);
    const char *facts = "{\"entity\":{\"type\":\"job\",\"id\":\"J-2\",\"label\":\"Two\"},\"facts\":[{\"name\":"
                        "\"evictions_total\",\"value\":4,\"unit\":\"count\"}]}";
    env_t *req = s_request ("", "", "Explain", facts, 0), *rep = NULL;
    const Copilot__V1__CompletionReply *r = s_call (ep, req, &rep);
    assert_string_equal (r->provider, "narrator");
    assert_false (r->fallback);
    assert_string_equal (r->note, "");
    assert_string_equal (s_usage (r, "outcome"), "narrator");
    assert_non_null (strstr (r->text, "Spot capacity was reclaimed (evictions)"));
    assert_non_null (strstr (r->text, "built-in narrator"));
    env_free (rep);
    env_free (req);
    assert_int_equal (lg_it_stop (d, SIGTERM, 5000), 0);
    /* The state file went to COPILOT_DATA_DIR. */
    char path[160];
    snprintf (path, sizeof path, "%s/data2/llm-gateway.db", s_dir);
    assert_int_equal (access (path, F_OK), 0);
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_daemon_with_fake_provider),
        cmocka_unit_test (test_daemon_without_provider),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
