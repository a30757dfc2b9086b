/* test_faults.c — the llm-gateway engine against a real loopback fake
 * provider (fake-provider, OpenAI wire format) with scripted faults.
 *
 * Each case names its fault script in the model ("fake/500+ok#tag") and
 * asserts the behaviour: retry then success, fallback to the narrator with a
 * visible note, circuit breaker opening and recovering, cache hit on repeat,
 * grounding flags a made-up figure, and the API key never appearing in logs,
 * metrics, notes or errors. The fake provider requires the key, so every
 * success also proves the Authorization header was sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "clock.h"
#include "lg_cache.h"
#include "lg_gateway.h"
#include "lg_it_util.h"
#include "log.h"
#include "metrics.h"

#define KEY "sk-test-KEY-7d3f9a1b2c"

static pid_t s_fake = -1;
static int s_port;
static char s_dir[64];
static char s_log[128];
static const char *s_facts =
    "{\"report_id\":\"job_cost\",\"report_title\":\"Job Cost & Reliability\","
    "\"entity\":{\"type\":\"job\",\"id\":\"J-FIN-DAILY\",\"label\":\"Daily Financial Aggregation\"},"
    "\"chip\":{\"id\":\"core:spike:job:J-FIN-DAILY\",\"lane\":\"Diagnose\",\"label\":\"Why a spike?\"},"
    "\"facts\":[{\"name\":\"cost_total_usd\",\"label\":\"Total cost\",\"value\":5549.0,\"unit\":\"usd\","
    "\"text\":\"$5,549.00\",\"source_table\":\"compute_usage\"},"
    "{\"name\":\"failure_rate_pct\",\"label\":\"Failure rate\",\"value\":16.67,\"unit\":\"pct\"},"
    "{\"name\":\"evictions_total\",\"label\":\"Spot evictions\",\"value\":9,\"unit\":\"count\"}]}";

static int
s_group_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/lg-it-XXXXXX");
    if (mkdtemp (s_dir) == NULL)
        return -1;
    snprintf (s_log, sizeof s_log, "%s/log.jsonl", s_dir);
    int fd = open (s_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    log_init ("lg-it", LOG_DEBUG);
    log_set_fd (fd);
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

/* A gateway on the fake provider; extra settings as key=value pairs. */
static lg_gateway_t *
s_gateway (const char *const *extra)
{
    const char *e = NULL;
    cfg_t *cfg = cfg_new (NULL, &e);
    assert_non_null (cfg);
    char url[64], db[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v1", s_port);
    static int n;
    snprintf (db, sizeof db, "%s/llm-%d.db", s_dir, n++);
    cfg_set (cfg, "llm.provider", "openai");
    cfg_set (cfg, "llm.base_url", url);
    cfg_set (cfg, "llm.api_key", KEY);
    cfg_set (cfg, "llm.model", "fake/ok");
    cfg_set (cfg, "llm.cache_db", db);
    cfg_set (cfg, "llm.retries", "2");
    cfg_set (cfg, "llm.backoff_ms", "50");
    cfg_set (cfg, "llm.breaker_threshold", "100");
    cfg_set (cfg, "llm.timeout_ms", "5000");
    for (size_t i = 0; extra && extra[i]; i += 2)
        cfg_set (cfg, extra[i], extra[i + 1]);
    char err[300];
    lg_gateway_t *gw = lg_gateway_new (cfg, err, sizeof err);
    if (gw == NULL)
        fail_msg ("gateway: %s", err);
    cfg_destroy (&cfg);
    return gw;
}

static void
s_req (lg_request_t *r, const char *model, const char *answer)
{
    static char prompt[512];
    memset (r, 0, sizeof *r);
    snprintf (prompt, sizeof prompt, "Explain the selection.\nFAKE_ANSWER: %s\n", answer);
    r->request_id = "it";
    r->system_prompt = "You are a usage copilot.";
    r->prompt = prompt;
    r->facts_json = s_facts;
    r->model = model;
    r->no_cache = true;
}

static void
s_assert_no_key (const lg_reply_t *r)
{
    assert_null (strstr (r->note, KEY));
    assert_null (strstr (r->error, KEY));
    if (r->text)
        assert_null (strstr (r->text, KEY));
    assert_null (strstr (r->note, "7d3f9a1b2c"));
}

static void
test_ok_plain (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    s_req (&q, "fake/ok#plain", "Total cost was $5,549.00.");
    lg_reply_t r;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.outcome, "ok");
    assert_string_equal (r.text, "Total cost was $5,549.00.");
    assert_string_equal (r.provider, "openai");
    assert_string_equal (r.model, "fake/ok#plain");
    assert_false (r.fallback);
    assert_false (r.tokens_estimated);
    assert_true (r.tokens_in > 0 && r.tokens_out > 0);
    assert_int_equal (r.attempts, 1);
    assert_true (r.grounding.grounded);
    assert_int_equal (r.grounding.checked, 1);
    assert_string_equal (r.finish_reason, "stop");
    s_assert_no_key (&r);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_429_retry_after_then_ok (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    s_req (&q, "fake/429ra1+ok#ra", "fine");
    lg_reply_t r;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.outcome, "ok");
    assert_int_equal (r.attempts, 2);
    assert_true (r.latency_ms >= 1000); /* Retry-After: 1 honoured, not the 50 ms back-off */
    assert_true (r.latency_ms < 3000);
    lg_reply_clear (&r);
    s_req (&q, "fake/429ms300+429ms300+ok#ms", "fine");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_int_equal (r.attempts, 3);
    assert_true (r.latency_ms >= 600);
    lg_reply_clear (&r);
    /* A Retry-After longer than llm.retry_after_max_ms is not waited for. */
    lg_gateway_destroy (&gw);
    const char *x[] = { "llm.retry_after_max_ms", "500", NULL };
    gw = s_gateway (x);
    s_req (&q, "fake/429ra5+ok#long", "fine");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 1);
    assert_true (r.latency_ms < 1000);
    assert_non_null (strstr (r.note, "rate limit"));
    assert_non_null (strstr (r.note, "Retry-After longer"));
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_500_then_ok_and_always_500 (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    s_req (&q, "fake/500+503+ok#b", "recovered");
    lg_reply_t r;
    int64_t t0 = clock_mono_ms ();
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.text, "recovered");
    assert_int_equal (r.attempts, 3);
    assert_true (clock_mono_ms () - t0 >= 150); /* 50 ms + 100 ms back-off */
    lg_reply_clear (&r);
    assert_int_equal (lg_it_fake_count (s_port, "fake/500+503+ok#b"), 3);

    s_req (&q, "fake/500#always", "never");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_string_equal (r.outcome, "fallback");
    assert_string_equal (r.provider, "narrator");
    assert_int_equal (r.attempts, 3);
    assert_non_null (strstr (r.note, "HTTP 500"));
    assert_non_null (strstr (r.note, "3 attempts"));
    assert_true (strncmp (r.text, "> **Note:** The language model (openai, model fake/500#always) did not answer",
                          77) == 0);
    assert_non_null (strstr (r.text, "built-in narrator"));
    assert_non_null (strstr (r.text, "$5,549.00"));
    assert_true (r.grounding.grounded); /* narrator body only; the note is not a data claim */
    assert_int_equal (lg_it_fake_count (s_port, "fake/500#always"), 3);
    s_assert_no_key (&r);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_timeout (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    s_req (&q, "fake/timeout#t", "never");
    q.timeout_ms = 800;
    lg_reply_t r;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 1); /* the budget is spent; no retry */
    assert_true (r.latency_ms >= 700 && r.latency_ms < 2000);
    assert_non_null (strstr (r.note, "timed out"));
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_malformed_empty_big_400 (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    lg_reply_t r;
    s_req (&q, "fake/malformed+ok#m1", "after malformed");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.text, "after malformed");
    assert_int_equal (r.attempts, 2);
    lg_reply_clear (&r);

    s_req (&q, "fake/malformed#m2", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 3);
    assert_non_null (strstr (r.note, "malformed provider response"));
    lg_reply_clear (&r);

    s_req (&q, "fake/empty#e", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_non_null (strstr (r.note, "empty answer"));
    lg_reply_clear (&r);

    s_req (&q, "fake/big#big", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 1); /* a size cap is not retried */
    assert_non_null (strstr (r.note, "size limit"));
    lg_reply_clear (&r);

    s_req (&q, "fake/400#bad", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 1);
    assert_non_null (strstr (r.note, "HTTP 400: bad request (fake)"));
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_dropped_connection (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    lg_reply_t r;
    s_req (&q, "fake/drop+ok#d1", "after drop");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.text, "after drop");
    assert_int_equal (r.attempts, 2);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
    /* Streamed: one chunk then the connection closes without [DONE]. */
    const char *x[] = { "llm.stream", "true", NULL };
    gw = s_gateway (x);
    s_req (&q, "fake/drop#d2", "one two three four five six");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 3);
    assert_non_null (strstr (r.note, "network error"));
    lg_reply_clear (&r);
    s_req (&q, "fake/drop+ok#d3", "one two three four five six");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.text, "one two three four five six");
    assert_true (r.streamed);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

typedef struct {
    int n;
    buf_t *b;
} deltas_t;

static int
s_on_delta (void *arg, const char *t, size_t len)
{
    deltas_t *d = arg;
    d->n++;
    buf_append (d->b, t, len);
    return 0;
}

static void
test_streams (void **state)
{
    (void) state;
    const char *x[] = { "llm.stream", "true", NULL };
    lg_gateway_t *gw = s_gateway (x);
    lg_request_t q;
    lg_reply_t r;
    deltas_t d = { 0, buf_new (4096) };
    s_req (&q, "fake/slow150#s1", "The job cost $5,549.00 over the period with spot evictions.");
    q.on_delta = s_on_delta;
    q.delta_arg = &d;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.outcome, "ok");
    assert_true (r.streamed);
    assert_true (d.n >= 3);
    assert_string_equal (buf_data (d.b), r.text);
    assert_string_equal (r.text, "The job cost $5,549.00 over the period with spot evictions.");
    assert_true (r.latency_ms >= 400); /* the chunks really arrived slowly */
    assert_false (r.tokens_estimated); /* usage came in the last chunk */
    lg_reply_clear (&r);
    buf_destroy (&d.b);

    /* A stream that stalls after one chunk hits the budget and falls back. */
    s_req (&q, "fake/stall#s2", "one two three four");
    q.timeout_ms = 1000;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_true (r.latency_ms < 2500);
    assert_non_null (strstr (r.note, "timed out"));
    lg_reply_clear (&r);

    /* No usage in the stream: tokens are estimated. */
    s_req (&q, "fake/nousage#s3", "short answer");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.tokens_estimated);
    assert_int_equal (r.tokens_out, 3); /* 12 bytes / 4 */
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_circuit_breaker (void **state)
{
    (void) state;
    const char *x[] = { "llm.breaker_threshold", "3", "llm.retries", "0", "llm.breaker_cooldown_ms", "400", NULL };
    lg_gateway_t *gw = s_gateway (x);
    lg_request_t q;
    lg_reply_t r;
    for (int i = 0; i < 3; i++) {
        s_req (&q, "fake/500#br", "x");
        assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
        assert_true (r.fallback);
        assert_int_equal (r.attempts, 1);
        lg_reply_clear (&r);
    }
    assert_int_equal (lg_gateway_breaker_state (gw, LG_PROV_OPENAI), 1); /* open */
    assert_int_equal (lg_it_fake_count (s_port, "fake/500#br"), 3);
    /* Open: the provider is not called at all. */
    s_req (&q, "fake/ok#br-open", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 0);
    assert_non_null (strstr (r.note, "circuit breaker open"));
    assert_true (r.latency_ms < 200);
    lg_reply_clear (&r);
    assert_int_equal (lg_it_fake_count (s_port, "fake/ok#br-open"), 0);
    /* After the cool-down a probe goes through and closes the circuit. */
    clock_sleep_ms (450);
    s_req (&q, "fake/ok#br-probe", "back");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_string_equal (r.outcome, "ok");
    assert_string_equal (r.text, "back");
    lg_reply_clear (&r);
    assert_int_equal (lg_gateway_breaker_state (gw, LG_PROV_OPENAI), 0);
    lg_gateway_destroy (&gw);
}

static void
test_cache_hit_on_repeat (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    lg_reply_t r;
    s_req (&q, "fake/ok#cache", "cached answer with $5,549.00");
    q.no_cache = false;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_false (r.cached);
    assert_string_equal (r.outcome, "ok");
    uint32_t tin = r.tokens_in;
    char key[65];
    memcpy (key, r.cache_key, sizeof key);
    assert_int_equal (strlen (key), 64);
    lg_reply_clear (&r);
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.cached);
    assert_string_equal (r.outcome, "cached");
    assert_string_equal (r.text, "cached answer with $5,549.00");
    assert_string_equal (r.cache_key, key);
    assert_int_equal (r.tokens_in, tin);
    assert_true (r.cost_usd == 0);
    assert_true (r.grounding.grounded);
    lg_reply_clear (&r);
    assert_int_equal (lg_it_fake_count (s_port, "fake/ok#cache"), 1);
    /* no_cache bypasses it; a different temperature is a different key. */
    q.no_cache = true;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_false (r.cached);
    lg_reply_clear (&r);
    q.no_cache = false;
    q.temperature = 0.7;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_false (r.cached);
    lg_reply_clear (&r);
    assert_int_equal (lg_it_fake_count (s_port, "fake/ok#cache"), 3);
    /* The ledger has one row per answer. */
    int64_t n;
    assert_int_equal (lg_cache_totals (lg_gateway_cache (gw), NULL, &n, NULL, NULL, NULL), 0);
    assert_int_equal (n, 4);
    assert_int_equal (lg_cache_totals (lg_gateway_cache (gw), "cached", &n, NULL, NULL, NULL), 0);
    assert_int_equal (n, 1);
    lg_gateway_destroy (&gw);
}

static void
test_grounding_flags_made_up_number (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    lg_reply_t r;
    metric_t *m = metrics_counter (metrics_global (), "copilot_llm_ungrounded_figures_total", "",
                                   "provider=\"openai\"");
    double before = m ? metric_value (m) : 0;
    /* Hex-encoded so the answer's figures are not in the prompt itself. */
    const char *answer = "The job cost $5,549.00 and failed 16.7% of runs; 99 runs were lost to $123,456.78 of "
                         "waste after 9 evictions.";
    char prompt[600] = "Explain the selection.\nFAKE_ANSWER_HEX: ";
    size_t o = strlen (prompt);
    for (const char *p = answer; *p && o + 3 < sizeof prompt; p++)
        o += (size_t) snprintf (prompt + o, sizeof prompt - o, "%02x", (unsigned char) *p);
    s_req (&q, "fake/ok#ground", "unused");
    q.prompt = prompt;
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_false (r.grounding.grounded);
    assert_int_equal (r.grounding.checked, 5);
    assert_int_equal (r.grounding.n_ungrounded, 2);
    assert_string_equal (r.grounding.ungrounded[0], "99");
    assert_string_equal (r.grounding.ungrounded[1], "$123,456.78");
    assert_non_null (strstr (r.text, "\n\n> **Grounding:** figures not found in the facts or context: 99, "
                                     "$123,456.78.\n"));
    m = metrics_counter (metrics_global (), "copilot_llm_ungrounded_figures_total", "", "provider=\"openai\"");
    assert_non_null (m);
    assert_true (metric_value (m) - before == 2);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

static void
test_key_never_leaks (void **state)
{
    (void) state;
    lg_gateway_t *gw = s_gateway (NULL);
    lg_request_t q;
    lg_reply_t r;
    /* The provider echoes the Authorization header in its error message. */
    s_req (&q, "fake/echokey#k", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_non_null (strstr (r.note, "Incorrect API key provided: Bearer *"));
    s_assert_no_key (&r);
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
    /* Logs (everything this process logged, at debug level) and metrics. */
    char *logs = lg_it_slurp (s_log);
    assert_non_null (logs);
    assert_true (strlen (logs) > 0);
    assert_non_null (strstr (logs, "Incorrect API key provided")); /* the failure was logged ... */
    assert_null (strstr (logs, KEY));                              /* ... without the key */
    assert_null (strstr (logs, "7d3f9a1b2c"));
    free (logs);
    buf_t *b = buf_new (1 << 20);
    assert_int_equal (metrics_render (metrics_global (), b), 0);
    assert_non_null (strstr (buf_data (b), "copilot_llm_requests_total{provider=\"openai\",outcome=\"fallback\"}"));
    assert_null (strstr (buf_data (b), KEY));
    buf_destroy (&b);
}

static void
test_not_configured_and_invalid (void **state)
{
    (void) state;
    const char *e = NULL;
    cfg_t *cfg = cfg_new (NULL, &e);
    char db[128], err[300];
    snprintf (db, sizeof db, "%s/nokey.db", s_dir);
    cfg_set (cfg, "llm.provider", "openai");
    cfg_set (cfg, "llm.cache_db", db);
    unsetenv ("OPENAI_API_KEY");
    unsetenv ("COPILOT_LLM_API_KEY");
    lg_gateway_t *gw = lg_gateway_new (cfg, err, sizeof err);
    assert_non_null (gw);
    cfg_destroy (&cfg);
    lg_request_t q;
    lg_reply_t r;
    s_req (&q, "", "x");
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_true (r.fallback);
    assert_int_equal (r.attempts, 0);
    assert_string_equal (r.note, "The language model is not configured: no API key configured for openai (set "
                                 "OPENAI_API_KEY or COPILOT_LLM_API_KEY). This answer comes from the built-in "
                                 "narrator.");
    lg_reply_clear (&r);
    /* Explicit narrator: no note, no fallback. */
    q.provider = "narrator";
    assert_int_equal (lg_gateway_complete (gw, &q, &r), 0);
    assert_false (r.fallback);
    assert_string_equal (r.outcome, "narrator");
    assert_string_equal (r.note, "");
    assert_true (strncmp (r.text, "## Why a spike?", 15) == 0);
    lg_reply_clear (&r);
    /* Bad requests are errors, not fallbacks. */
    q.provider = "bard";
    assert_int_equal (lg_gateway_complete (gw, &q, &r), LG_E_INVALID);
    assert_non_null (strstr (r.error, "provider 'bard' is unknown"));
    lg_reply_clear (&r);
    q.provider = NULL;
    q.facts_json = "{\"facts\": 3}";
    assert_int_equal (lg_gateway_complete (gw, &q, &r), LG_E_INVALID);
    assert_string_equal (r.error, "facts_json: facts must be an array");
    lg_reply_clear (&r);
    lg_gateway_destroy (&gw);
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ok_plain),
        cmocka_unit_test (test_429_retry_after_then_ok),
        cmocka_unit_test (test_500_then_ok_and_always_500),
        cmocka_unit_test (test_timeout),
        cmocka_unit_test (test_malformed_empty_big_400),
        cmocka_unit_test (test_dropped_connection),
        cmocka_unit_test (test_streams),
        cmocka_unit_test (test_circuit_breaker),
        cmocka_unit_test (test_cache_hit_on_repeat),
        cmocka_unit_test (test_grounding_flags_made_up_number),
        cmocka_unit_test (test_key_never_leaks),
        cmocka_unit_test (test_not_configured_and_invalid),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
