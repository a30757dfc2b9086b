/* lg_gateway.h — the llm-gateway engine (library lg_llm): one call turns a
 * completion request into an answer.
 *
 *   provider chosen (request, else configured default)
 *     -> narrator when the provider is "narrator" or not usable (no key)
 *     -> cache lookup (sha256 of provider, base URL, model, parameters, prompts)
 *     -> provider call with retries (exponential back-off, Retry-After on 429),
 *        a circuit breaker per provider, one overall time budget
 *     -> on failure: the offline narrator with a visible note (fallback)
 *     -> groundedness check of the answer against facts + context + prompt
 *     -> accounting (ledger row + metrics: tokens, latency, cost, outcome)
 *
 * The same object serves the daemon (several worker threads) and the CLI.
 * Thread-safe: breakers and the cache have their own locks, metrics are
 * atomic; each call uses its own curl handle. API keys never appear in the
 * reply, logs, metrics or errors.
 */
#ifndef LG_GATEWAY_H
#define LG_GATEWAY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "lg_client.h"
#include "lg_config.h"
#include "lg_error.h"
#include "lg_ground.h"

typedef struct _lg_gateway_t lg_gateway_t;

/* A completion request (strings borrowed; NULL = ""). Mirrors
 * copilot.v1.CompletionRequest. */
typedef struct {
    const char *request_id;
    const char *system_prompt;
    const char *prompt;
    const char *facts_json;   /* format: lg_facts.h / README */
    const char *lane;         /* overrides facts.chip.lane when non-empty */
    const char *provider;     /* "" = configured default */
    const char *model;        /* "" = the provider's configured model */
    const char *context;      /* retrieval context, used by the grounding check */
    double temperature;       /* <= 0 = configured default */
    uint32_t max_tokens;      /* 0 = configured default */
    uint32_t timeout_ms;      /* 0 = configured default; whole budget incl. retries */
    bool no_cache;
    int64_t deadline_unix_ms; /* 0 = none; an earlier absolute deadline shortens the budget */
    lg_delta_fn on_delta;     /* optional streaming callback (when streaming is on) */
    void *delta_arg;
} lg_request_t;

/* Outcome names used in the reply, the ledger and metrics. */
#define LG_OUTCOME_OK "ok"              /* provider answered */
#define LG_OUTCOME_CACHED "cached"      /* served from the cache */
#define LG_OUTCOME_FALLBACK "fallback"  /* provider failed or unusable; narrator answered */
#define LG_OUTCOME_NARRATOR "narrator"  /* narrator is the configured provider */

typedef struct {
    char *text;               /* markdown answer (malloc'd) */
    char provider[32];        /* who answered: provider name or "narrator" */
    char model[128];
    char note[512];           /* visible note (why a fallback happened), "" when none */
    char outcome[16];
    uint32_t tokens_in, tokens_out;
    bool tokens_estimated;    /* provider reported no usage; chars/4 estimate */
    int64_t latency_ms;
    bool cached;
    bool fallback;
    double cost_usd;          /* estimated cost of this answer (0 for cache hits and the narrator) */
    bool priced;              /* the price table knew the model */
    int attempts;             /* provider attempts made */
    char finish_reason[32];
    char cache_key[65];       /* "" when the cache was not consulted */
    bool streamed;
    lg_grounding_t grounding;
    char error[320];          /* request errors (lg_gateway_complete < 0), redacted */
} lg_reply_t;

/* Creates the engine from configuration (lg_config_load), opens the state
 * file (cache + ledger) unless llm.cache=false, loads the price table.
 * NULL on failure with the reason in err. */
lg_gateway_t *lg_gateway_new (cfg_t *cfg, char *err, size_t errsize);
/* Same from an already loaded config; takes ownership of its keys (*conf is
 * zeroed). */
lg_gateway_t *lg_gateway_new_with (lg_config_t *conf, char *err, size_t errsize);
void lg_gateway_destroy (lg_gateway_t **self_p);

/* Answers one request. Returns 0 (reply filled; provider failures are not
 * errors, they produce a fallback answer) or LG_E_INVALID (malformed
 * facts_json, unknown provider; reply->error says which), LG_E_TOOBIG
 * (prompt above llm.max_prompt_bytes), LG_E_NOMEM. Always clear the reply. */
int lg_gateway_complete (lg_gateway_t *self, const lg_request_t *req, lg_reply_t *reply);
void lg_reply_clear (lg_reply_t *reply);

/* Makes in-flight and future calls give up quickly (shutdown). */
void lg_gateway_cancel (lg_gateway_t *self);

/* Read-only view of the effective configuration. */
const lg_config_t *lg_gateway_config (const lg_gateway_t *self);
/* One line describing the configured provider for logs, without secrets,
 * e.g. "provider=openai model=gpt-4.1-mini base_url=https://... key=OPENAI_API_KEY". */
void lg_gateway_describe (const lg_gateway_t *self, char *out, size_t size);
/* Breaker state of a provider (for tests and readiness detail). */
int lg_gateway_breaker_state (lg_gateway_t *self, lg_prov_t p);
/* The state file (NULL when the cache is disabled). */
struct _lg_cache_t *lg_gateway_cache (lg_gateway_t *self);
#endif
