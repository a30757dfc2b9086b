/* lg_gateway.c — the llm-gateway engine (see lg_gateway.h for the flow).
 *
 * Data: the resolved configuration (which owns the API keys), one circuit
 * breaker per provider, the state file (cache + ledger, lg_cache), the
 * price table, and a cancel flag checked by sleeps and curl transfers.
 *
 * Retry policy (s_call_with_retries): one overall budget per request
 * (timeout_ms, shortened by the envelope deadline); every attempt gets what
 * is left of it; after a retryable failure we wait backoff_ms * 2^(n-1)
 * (capped at backoff_max_ms) or, for 429, the provider's Retry-After (given
 * up when longer than retry_after_max_ms); no wait may cross the budget.
 * Only retryable failures count against the breaker; a 4xx other than 429
 * says nothing about the provider's health.
 *
 * Grounding runs on the answer body (the provider's text or the narrator's
 * markdown), never on our own note, whose figures (HTTP status, attempt
 * count) are not claims about the data.
 *
 * Metrics (registry metrics_global(), labels bounded by the provider list
 * and configured model names):
 *   copilot_llm_requests_total{provider,outcome}
 *   copilot_llm_request_seconds{provider}                   histogram
 *   copilot_llm_attempts_total{provider,result}
 *   copilot_llm_retries_total{provider}
 *   copilot_llm_tokens_total{provider,direction}
 *   copilot_llm_cost_usd_total{provider,model}
 *   copilot_llm_cache_total{result}                         hit|miss|store_error
 *   copilot_llm_breaker_state{provider}                     0 closed, 1 open, 2 half-open
 *   copilot_llm_breaker_trips_total{provider}
 *   copilot_llm_grounding_checks_total{provider}
 *   copilot_llm_ungrounded_figures_total{provider}
 *   copilot_llm_ungrounded_answers_total{provider}
 */
#include "lg_gateway.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "lg_breaker.h"
#include "lg_cache.h"
#include "lg_facts.h"
#include "lg_narrator.h"
#include "lg_price.h"
#include "log.h"
#include "metrics.h"
#include "str.h"

struct _lg_gateway_t {
    lg_config_t conf;
    lg_breaker_t *breaker[LG_PROV_COUNT];
    lg_cache_t *cache;
    lg_prices_t *prices;
    atomic_bool cancel;
};

/* ---- metrics helpers ---------------------------------------------------------- */
static metric_t *
s_counter (const char *name, const char *help, const char *fmt, const char *a, const char *b)
{
    char ea[160] = "", eb[160] = "", labels[400];
    if (a)
        metrics_escape_label (a, ea, sizeof ea);
    if (b)
        metrics_escape_label (b, eb, sizeof eb);
    snprintf (labels, sizeof labels, fmt, ea, eb);
    return metrics_counter (metrics_global (), name, help, labels);
}

static void
s_count (const char *name, const char *help, const char *fmt, const char *a, const char *b, double v)
{
    metric_t *m = s_counter (name, help, fmt, a, b);
    if (m)
        metric_add (m, v);
}

static void
s_breaker_gauge (lg_gateway_t *self, lg_prov_t p)
{
    char labels[64];
    snprintf (labels, sizeof labels, "provider=\"%s\"", lg_prov_name (p));
    metric_t *m = metrics_gauge (metrics_global (), "copilot_llm_breaker_state",
                                 "Circuit breaker state per provider (0 closed, 1 open, 2 half-open)", labels);
    if (m)
        metric_set (m, (double) lg_breaker_state (self->breaker[p]));
}

/* ---- construction ----------------------------------------------------------------- */
lg_gateway_t *
lg_gateway_new_with (lg_config_t *conf, char *err, size_t errsize)
{
    lg_client_global_init ();
    lg_gateway_t *self = calloc (1, sizeof *self);
    if (self == NULL) {
        snprintf (err, errsize, "out of memory");
        lg_config_clear (conf);
        return NULL;
    }
    self->conf = *conf;
    memset (conf, 0, sizeof *conf);
    atomic_init (&self->cancel, false);
    for (int p = 0; p < LG_PROV_COUNT; p++) {
        self->breaker[p] = lg_breaker_new ((int) self->conf.breaker_threshold, self->conf.breaker_cooldown_ms);
        if (self->breaker[p] == NULL) {
            snprintf (err, errsize, "out of memory");
            goto fail;
        }
    }
    char perr[256];
    self->prices = self->conf.prices_file[0] ? lg_prices_load_file (self->conf.prices_file, perr, sizeof perr)
                                             : lg_prices_builtin (perr, sizeof perr);
    if (self->prices == NULL) {
        snprintf (err, errsize, "price table: %s", perr);
        goto fail;
    }
    if (self->conf.cache_enabled) {
        char cerr[600];
        self->cache = lg_cache_open (self->conf.cache_db, cerr, sizeof cerr);
        if (self->cache == NULL) {
            snprintf (err, errsize, "llm.cache_db: %s", cerr);
            goto fail;
        }
    }
    for (int p = 0; p < LG_PROV_COUNT; p++)
        s_breaker_gauge (self, (lg_prov_t) p);
    return self;
fail:
    lg_gateway_destroy (&self);
    return NULL;
}

lg_gateway_t *
lg_gateway_new (cfg_t *cfg, char *err, size_t errsize)
{
    lg_config_t conf;
    if (lg_config_load (cfg, &conf, err, errsize) != 0)
        return NULL;
    return lg_gateway_new_with (&conf, err, errsize);
}

void
lg_gateway_destroy (lg_gateway_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    lg_gateway_t *self = *self_p;
    for (int p = 0; p < LG_PROV_COUNT; p++)
        lg_breaker_destroy (&self->breaker[p]);
    lg_cache_close (&self->cache);
    lg_prices_destroy (&self->prices);
    lg_config_clear (&self->conf);
    free (self);
    *self_p = NULL;
}

void
lg_gateway_cancel (lg_gateway_t *self)
{
    atomic_store (&self->cancel, true);
}

const lg_config_t *
lg_gateway_config (const lg_gateway_t *self)
{
    return &self->conf;
}

struct _lg_cache_t *
lg_gateway_cache (lg_gateway_t *self)
{
    return self->cache;
}

int
lg_gateway_breaker_state (lg_gateway_t *self, lg_prov_t p)
{
    return (p >= 0 && p < LG_PROV_COUNT) ? (int) lg_breaker_state (self->breaker[p]) : -1;
}

void
lg_gateway_describe (const lg_gateway_t *self, char *out, size_t size)
{
    const lg_provider_conf_t *pc = &self->conf.prov[self->conf.provider];
    if (self->conf.provider == LG_PROV_NARRATOR) {
        snprintf (out, size, "provider=narrator (offline, deterministic) cache=%s", self->conf.cache_enabled ? "on" : "off");
        return;
    }
    snprintf (out, size, "provider=%s model=%s base_url=%s key=%s%s stream=%s timeout_ms=%lld retries=%lld cache=%s",
              pc->name, pc->model, pc->base_url, pc->key_source[0] ? "from " : "none", pc->key_source,
              self->conf.stream ? "on" : "off", (long long) self->conf.timeout_ms, (long long) self->conf.retries,
              self->conf.cache_enabled ? "on" : "off");
}

/* ---- helpers ---------------------------------------------------------------------- */
static const char *
s_result_name (int rc)
{
    switch (rc) {
    case LG_OK: return "ok";
    case LG_E_TIMEOUT: return "timeout";
    case LG_E_NETWORK: return "network";
    case LG_E_RATE: return "rate_limited";
    case LG_E_SERVER: return "server_error";
    case LG_E_MALFORMED: return "malformed";
    case LG_E_EMPTY: return "empty";
    case LG_E_HTTP: return "rejected";
    case LG_E_TOOBIG: return "too_big";
    case LG_E_DEADLINE: return "cancelled";
    default: return "other";
    }
}

/* Sleeps up to ms in slices, returning early on cancel. */
static void
s_sleep (lg_gateway_t *self, int64_t ms)
{
    while (ms > 0 && !atomic_load (&self->cancel)) {
        int64_t step = ms < 50 ? ms : 50;
        clock_sleep_ms (step);
        ms -= step;
    }
}

static uint32_t
s_estimate_tokens (const char *a, const char *b)
{
    size_t n = (a ? strlen (a) : 0) + (b ? strlen (b) : 0);
    return (uint32_t) ((n + 3) / 4);
}

typedef struct {
    int rc;
    int attempts;
    char error[320];
    lg_result_t res;   /* the successful attempt */
} s_outcome_t;

static void
s_call_with_retries (lg_gateway_t *self, lg_prov_t p, lg_call_t *call, int64_t budget_end, s_outcome_t *out)
{
    const lg_config_t *c = &self->conf;
    const char *pname = lg_prov_name (p);
    lg_breaker_t *br = self->breaker[p];
    memset (out, 0, sizeof *out);
    out->rc = LG_E_DEADLINE;
    str_copy (out->error, sizeof out->error, "no time left in the request budget");
    for (;;) {
        if (atomic_load (&self->cancel)) {
            out->rc = LG_E_DEADLINE;
            str_copy (out->error, sizeof out->error, "cancelled (shutting down)");
            return;
        }
        int64_t now = clock_mono_ms ();
        int64_t left = budget_end - now;
        if (left <= 0)
            return;
        if (!lg_breaker_allow (br, now)) {
            out->rc = LG_E_BREAKER;
            if (out->attempts == 0)
                str_copy (out->error, sizeof out->error, "circuit breaker open after repeated failures");
            else
                str_append (out->error, sizeof out->error, "; circuit breaker now open");
            s_breaker_gauge (self, p);
            return;
        }
        s_breaker_gauge (self, p);
        out->attempts++;
        call->timeout_ms = left;
        lg_result_t res;
        int rc = lg_client_call (call, &res);
        s_count ("copilot_llm_attempts_total", "Provider attempts by result", "provider=\"%s\",result=\"%s\"",
                 pname, s_result_name (rc), 1);
        if (rc == 0) {
            if (lg_breaker_record (br, true, clock_mono_ms ()))
                s_count ("copilot_llm_breaker_trips_total", "Times a provider circuit breaker opened",
                         "provider=\"%s\"%s", pname, "", 1);
            s_breaker_gauge (self, p);
            out->rc = 0;
            out->res = res;
            return;
        }
        out->rc = rc;
        str_copy (out->error, sizeof out->error, res.error);
        int64_t retry_after = res.retry_after_ms;
        log_emit (LOG_WARN, "llm.attempt_failed", "provider %s attempt %d failed: %s", pname, out->attempts,
                  res.error);
        lg_result_clear (&res);
        if (lg_error_retryable (rc)) {
            if (lg_breaker_record (br, false, clock_mono_ms ())) {
                s_count ("copilot_llm_breaker_trips_total", "Times a provider circuit breaker opened",
                         "provider=\"%s\"%s", pname, "", 1);
                log_emit (LOG_WARN, "llm.breaker_open", "circuit breaker for %s opened after %d consecutive failures",
                          pname, lg_breaker_failures (br));
            }
        }
        else
            lg_breaker_release (br);
        s_breaker_gauge (self, p);
        if (!lg_error_retryable (rc) || out->attempts > c->retries)
            return;
        int64_t delay = c->backoff_ms;
        for (int i = 1; i < out->attempts && delay < c->backoff_max_ms; i++)
            delay *= 2;
        if (delay > c->backoff_max_ms)
            delay = c->backoff_max_ms;
        if (rc == LG_E_RATE && retry_after >= 0) {
            if (retry_after > c->retry_after_max_ms) {
                str_append (out->error, sizeof out->error, "; Retry-After longer than llm.retry_after_max_ms");
                return;
            }
            delay = retry_after;
        }
        if (clock_mono_ms () + delay >= budget_end) {
            str_append (out->error, sizeof out->error, "; no time left for a retry");
            return;
        }
        s_count ("copilot_llm_retries_total", "Provider retries", "provider=\"%s\"%s", pname, "", 1);
        s_sleep (self, delay);
    }
}

static int
s_narrate (lg_gateway_t *self, const lg_facts_t *facts, const char *lane, const char *note, lg_reply_t *r,
           buf_t **body_out)
{
    buf_t *body = buf_new ((size_t) self->conf.max_response_bytes);
    if (body == NULL)
        return LG_E_NOMEM;
    int rc = lg_narrate (facts, lane, NULL, &self->conf.narrator, body);
    if (rc != 0) {
        buf_destroy (&body);
        return rc;
    }
    str_copy (r->provider, sizeof r->provider, "narrator");
    str_copy (r->model, sizeof r->model, self->conf.prov[LG_PROV_NARRATOR].model);
    if (note && note[0])
        str_copy (r->note, sizeof r->note, note);
    *body_out = body;
    return 0;
}

/* Grounding references: facts_json (numbers + figures in strings), context,
 * prompt and system prompt (what the model saw). */
static int
s_ground (lg_gateway_t *self, const lg_request_t *req, const char *answer, lg_grounding_t *out)
{
    lg_ground_t *g = lg_ground_new ();
    if (g == NULL)
        return LG_E_NOMEM;
    lg_ground_set_ignore_int_max (g, (int) self->conf.ground_ignore_int_max);
    int rc = lg_ground_add_json (g, req->facts_json);
    if (rc == 0)
        rc = lg_ground_add_text (g, req->context);
    if (rc == 0)
        rc = lg_ground_add_text (g, req->prompt);
    if (rc == 0)
        rc = lg_ground_add_text (g, req->system_prompt);
    if (rc == 0)
        rc = lg_ground_check (g, answer, out);
    lg_ground_destroy (&g);
    return rc;
}

#define S_STR(x) ((x) ? (x) : "")

int
lg_gateway_complete (lg_gateway_t *self, const lg_request_t *req, lg_reply_t *r)
{
    memset (r, 0, sizeof *r);
    const lg_config_t *c = &self->conf;
    int64_t t0 = clock_mono_ms ();
    int rc = 0;
    lg_facts_t *facts = NULL;
    buf_t *body = NULL;       /* narrator answer */
    char *answer = NULL;      /* provider / cache answer */
    lg_result_t res = { 0 };

    size_t plen = strlen (S_STR (req->prompt)) + strlen (S_STR (req->system_prompt));
    if (plen > (size_t) c->max_prompt_bytes) {
        snprintf (r->error, sizeof r->error, "prompt is %zu bytes; llm.max_prompt_bytes allows %lld", plen,
                  (long long) c->max_prompt_bytes);
        return LG_E_TOOBIG;
    }
    int frc;
    facts = lg_facts_parse (req->facts_json, &frc, r->error, sizeof r->error);
    if (facts == NULL)
        return frc;
    lg_prov_t p = c->provider;
    if (req->provider && req->provider[0]) {
        int q = lg_prov_parse (req->provider);
        if (q < 0) {
            snprintf (r->error, sizeof r->error,
                      "provider '%.40s' is unknown (expected openai, grok, gemini, ollama, vllm, llamacpp, narrator)",
                      req->provider);
            lg_facts_destroy (&facts);
            return LG_E_INVALID;
        }
        p = (lg_prov_t) q;
    }
    const lg_provider_conf_t *pc = &c->prov[p];
    const char *pname = lg_prov_name (p);
    const char *model = (req->model && req->model[0]) ? req->model : pc->model;
    double temperature = req->temperature > 0 ? req->temperature : c->temperature;
    uint32_t max_tokens = req->max_tokens ? req->max_tokens : (uint32_t) c->max_tokens;
    int64_t budget = req->timeout_ms ? (int64_t) req->timeout_ms : c->timeout_ms;
    int64_t budget_end = t0 + budget;
    if (req->deadline_unix_ms > 0) {
        int64_t d = t0 + (req->deadline_unix_ms - clock_wall_ms ());
        if (d < budget_end)
            budget_end = d;
    }

    char note[512] = "";
    if (p == LG_PROV_NARRATOR) {
        str_copy (r->outcome, sizeof r->outcome, LG_OUTCOME_NARRATOR);
        rc = s_narrate (self, facts, req->lane, NULL, r, &body);
    }
    else if (!pc->usable) {
        snprintf (note, sizeof note, "The language model is not configured: %s. This answer comes from the built-in narrator.",
                  pc->unusable_reason);
        str_copy (r->outcome, sizeof r->outcome, LG_OUTCOME_FALLBACK);
        r->fallback = true;
        rc = s_narrate (self, facts, req->lane, note, r, &body);
    }
    else {
        bool use_cache = self->cache != NULL && !req->no_cache;
        if (use_cache) {
            lg_cache_key (pname, pc->base_url, model, temperature, max_tokens, req->system_prompt, req->prompt,
                          r->cache_key);
            lg_cache_entry_t e;
            int hit = lg_cache_get (self->cache, r->cache_key, c->cache_ttl_s, clock_wall_ms (), &e);
            s_count ("copilot_llm_cache_total", "Response cache lookups by result", "result=\"%s\"%s",
                     hit == 1 ? "hit" : hit == 0 ? "miss" : "error", "", 1);
            if (hit == 1) {
                answer = e.text;
                e.text = NULL;
                str_copy (r->model, sizeof r->model, e.model);
                str_copy (r->provider, sizeof r->provider, pname);
                r->tokens_in = e.tokens_in;
                r->tokens_out = e.tokens_out;
                r->cached = true;
                str_copy (r->outcome, sizeof r->outcome, LG_OUTCOME_CACHED);
                lg_cache_entry_clear (&e);
            }
        }
        if (answer == NULL) {
            lg_call_t call = { 0 };
            call.base_url = pc->base_url;
            call.api_key = pc->api_key;
            call.model = model;
            call.system_prompt = req->system_prompt;
            call.prompt = req->prompt;
            call.temperature = temperature;
            call.max_tokens = max_tokens;
            call.max_tokens_field = c->max_tokens_field;
            call.stream = c->stream;
            call.stream_usage = c->stream_usage;
            call.connect_timeout_ms = c->connect_timeout_ms;
            call.stall_timeout_ms = c->stall_timeout_ms;
            call.max_bytes = (size_t) c->max_response_bytes;
            call.on_delta = req->on_delta;
            call.delta_arg = req->delta_arg;
            call.cancel = &self->cancel;
            s_outcome_t oc;
            s_call_with_retries (self, p, &call, budget_end, &oc);
            r->attempts = oc.attempts;
            if (oc.rc == 0) {
                res = oc.res;
                answer = res.text;
                res.text = NULL;
                str_copy (r->provider, sizeof r->provider, pname);
                str_copy (r->model, sizeof r->model, res.model[0] ? res.model : model);
                str_copy (r->finish_reason, sizeof r->finish_reason, res.finish_reason);
                r->streamed = res.streamed;
                if (res.usage) {
                    r->tokens_in = res.tokens_in;
                    r->tokens_out = res.tokens_out;
                }
                else {
                    r->tokens_in = s_estimate_tokens (req->system_prompt, req->prompt);
                    r->tokens_out = s_estimate_tokens (answer, NULL);
                    r->tokens_estimated = true;
                }
                r->cost_usd = lg_prices_cost (self->prices, pname, r->model, r->tokens_in, r->tokens_out, &r->priced);
                str_copy (r->outcome, sizeof r->outcome, LG_OUTCOME_OK);
                if (use_cache) {
                    lg_cache_entry_t e = { answer, r->model, r->tokens_in, r->tokens_out, r->cost_usd,
                                           clock_wall_ms (), 0 };
                    if (lg_cache_put (self->cache, r->cache_key, pname, &e) != 0) {
                        s_count ("copilot_llm_cache_total", "Response cache lookups by result", "result=\"%s\"%s",
                                 "store_error", "", 1);
                        log_emit (LOG_WARN, "llm.cache_store_failed", "could not store the answer in the cache");
                    }
                }
            }
            else {
                char err[320];
                str_copy (err, sizeof err, oc.error);
                lg_redact (err, pc->api_key);
                /* A long provider message may be cut; the note stays one line. */
                if (snprintf (note, sizeof note,
                              "The language model (%s, model %s) did not answer: %s (%s; %d attempt%s). This "
                              "answer comes from the built-in narrator.",
                              pname, model, lg_strerror (oc.rc), err, oc.attempts, oc.attempts == 1 ? "" : "s")
                    >= (int) sizeof note)
                    log_emit (LOG_DEBUG, "llm.note_truncated", "fallback note truncated");
                s_count ("copilot_llm_fallbacks_total", "Answers that fell back to the narrator, by reason",
                         "provider=\"%s\",reason=\"%s\"", pname, oc.rc == LG_E_BREAKER ? "breaker_open" : s_result_name (oc.rc), 1);
                log_emit (LOG_WARN, "llm.fallback", "%s", note);
                str_copy (r->outcome, sizeof r->outcome, LG_OUTCOME_FALLBACK);
                r->fallback = true;
                rc = s_narrate (self, facts, req->lane, note, r, &body);
            }
        }
    }
    if (rc != 0)
        goto done;

    /* Grounding on the answer body, then assemble the visible text. */
    const char *checked = body ? buf_data (body) : answer;
    rc = s_ground (self, req, checked, &r->grounding);
    if (rc != 0)
        goto done;
    {
        buf_t *out = buf_new ((size_t) c->max_response_bytes + sizeof note + 4096);
        if (out == NULL) {
            rc = LG_E_NOMEM;
            goto done;
        }
        int b = 0;
        if (r->note[0]) {
            b = buf_puts (out, "> **Note:** ");
            if (b == 0)
                b = buf_puts (out, r->note);
            if (b == 0)
                b = buf_puts (out, "\n\n");
        }
        if (b == 0)
            b = buf_puts (out, checked);
        if (b == 0 && c->grounding_footer && r->grounding.n_ungrounded > 0) {
            b = buf_puts (out, "\n\n> **Grounding:** figures not found in the facts or context: ");
            for (size_t i = 0; b == 0 && i < r->grounding.n_ungrounded; i++) {
                b = buf_puts (out, i ? ", " : "");
                if (b == 0)
                    b = buf_puts (out, r->grounding.ungrounded[i]);
            }
            if (b == 0)
                b = buf_puts (out, ".\n");
        }
        if (b != 0) {
            buf_destroy (&out);
            rc = b == BUF_E_TOOBIG ? LG_E_TOOBIG : LG_E_NOMEM;
            goto done;
        }
        r->text = buf_detach (out);
        buf_destroy (&out);
        if (r->text == NULL) {
            rc = LG_E_NOMEM;
            goto done;
        }
    }
    r->latency_ms = clock_mono_ms () - t0;

    /* Accounting: metrics and the ledger. */
    const char *who = r->provider;
    s_count ("copilot_llm_requests_total", "Completions by provider and outcome", "provider=\"%s\",outcome=\"%s\"",
             pname, r->outcome, 1);
    {
        char labels[64];
        snprintf (labels, sizeof labels, "provider=\"%s\"", pname);
        /* LLM calls run far longer than RPCs: buckets up to a minute. */
        static const double bounds[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60 };
        metric_t *h = metrics_histogram (metrics_global (), "copilot_llm_request_seconds",
                                         "Completion latency including retries and fallback", labels, bounds,
                                         sizeof bounds / sizeof bounds[0]);
        if (h)
            metric_observe (h, (double) r->latency_ms / 1000.0);
    }
    if (!r->cached && (r->tokens_in || r->tokens_out)) {
        s_count ("copilot_llm_tokens_total", "Tokens sent to and received from providers",
                 "provider=\"%s\",direction=\"%s\"", who, "in", r->tokens_in);
        s_count ("copilot_llm_tokens_total", "Tokens sent to and received from providers",
                 "provider=\"%s\",direction=\"%s\"", who, "out", r->tokens_out);
    }
    if (r->cost_usd > 0) {
        const char *mlabel = strcmp (r->model, pc->model) == 0 || strcmp (model, pc->model) == 0 ? pc->model : "other";
        s_count ("copilot_llm_cost_usd_total", "Estimated provider cost in USD", "provider=\"%s\",model=\"%s\"", who,
                 mlabel, r->cost_usd);
    }
    s_count ("copilot_llm_grounding_checks_total", "Answers checked for grounding", "provider=\"%s\"%s", who, "", 1);
    if (r->grounding.n_ungrounded) {
        s_count ("copilot_llm_ungrounded_figures_total", "Figures in answers not found in facts or context",
                 "provider=\"%s\"%s", who, "", (double) r->grounding.n_ungrounded);
        s_count ("copilot_llm_ungrounded_answers_total", "Answers with at least one ungrounded figure",
                 "provider=\"%s\"%s", who, "", 1);
    }
    if (self->cache) {
        lg_account_t a = { 0 };
        a.ts_ms = clock_wall_ms ();
        a.request_id = req->request_id;
        a.provider = who;
        a.model = r->model;
        a.outcome = r->outcome;
        a.cache_key = r->cache_key;
        a.tokens_in = r->cached ? 0 : r->tokens_in;
        a.tokens_out = r->cached ? 0 : r->tokens_out;
        a.tokens_estimated = r->tokens_estimated;
        a.latency_ms = r->latency_ms;
        a.cost_usd = r->cost_usd;
        a.cached = r->cached;
        a.fallback = r->fallback;
        a.attempts = r->attempts;
        a.ungrounded = (uint32_t) r->grounding.n_ungrounded;
        if (lg_cache_account (self->cache, &a) != 0)
            log_emit (LOG_WARN, "llm.ledger_failed", "could not record the answer in the ledger");
    }
done:
    lg_result_clear (&res);
    free (answer);
    buf_destroy (&body);
    lg_facts_destroy (&facts);
    if (rc != 0) {
        if (!r->error[0])
            str_copy (r->error, sizeof r->error, lg_strerror (rc));
        free (r->text);
        r->text = NULL;
        lg_grounding_clear (&r->grounding);
    }
    return rc;
}

void
lg_reply_clear (lg_reply_t *r)
{
    if (r == NULL)
        return;
    free (r->text);
    lg_grounding_clear (&r->grounding);
    memset (r, 0, sizeof *r);
}
