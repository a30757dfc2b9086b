/* lg_config.h — llm-gateway settings resolved once at start-up from cfg.h
 * (COPILOT_* environment, config file, --set) plus the reference system's
 * environment names (LLM_PROVIDER, OPENAI_API_KEY, ...). The full list with
 * defaults is in services/llm-gateway/README.md "Configuration".
 *
 * API keys are held only here and in the curl request headers; nothing in
 * this module (or any lg_ module) logs, prints or returns them. The name of
 * the variable a key came from (e.g. "OPENAI_API_KEY") may be logged.
 * Not thread-safe while loading; read-only afterwards.
 */
#ifndef LG_CONFIG_H
#define LG_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "lg_narrator.h"

/* Known providers. NARRATOR is the built-in offline narrator. */
typedef enum {
    LG_PROV_NARRATOR = 0,
    LG_PROV_OPENAI,
    LG_PROV_GROK,
    LG_PROV_GEMINI,
    LG_PROV_OLLAMA,
    LG_PROV_VLLM,
    LG_PROV_LLAMACPP,
    LG_PROV_COUNT
} lg_prov_t;

/* One provider's connection settings. */
typedef struct {
    lg_prov_t id;
    const char *name;            /* "openai", ... (static) */
    char base_url[512];          /* without trailing slash; ".../chat/completions" is appended */
    char *api_key;               /* malloc'd, NULL when none; NEVER logged */
    char key_source[48];         /* variable/key the key came from, "" when none */
    char model[128];
    bool key_required;           /* hosted providers need a key */
    bool usable;                 /* configured well enough to be called */
    char unusable_reason[160];   /* why not (no key, no model), without secrets */
} lg_provider_conf_t;

typedef struct {
    lg_prov_t provider;          /* configured default provider */
    char provider_source[48];    /* variable that chose it, "" = automatic */
    lg_provider_conf_t prov[LG_PROV_COUNT];
    double temperature;          /* 0.2 */
    int64_t max_tokens;          /* 1024 */
    char max_tokens_field[32];   /* "max_tokens" (or "max_completion_tokens") */
    int64_t timeout_ms;          /* 30000: whole budget of one completion, retries included */
    int64_t connect_timeout_ms;  /* 5000 */
    int64_t stall_timeout_ms;    /* 15000: abort when no byte arrives for this long */
    bool stream;                 /* false */
    bool stream_usage;           /* true: ask for usage in the last stream chunk */
    int64_t retries;             /* 2 (so at most 3 attempts) */
    int64_t backoff_ms;          /* 250, doubled per retry */
    int64_t backoff_max_ms;      /* 4000 */
    int64_t retry_after_max_ms;  /* 20000: a longer Retry-After is not waited for */
    int64_t breaker_threshold;   /* 5 consecutive failed attempts */
    int64_t breaker_cooldown_ms; /* 30000 */
    int64_t max_response_bytes;  /* 1 MiB */
    int64_t max_prompt_bytes;    /* 512 KiB (system + prompt) */
    bool cache_enabled;          /* true */
    char cache_db[1024];         /* state file (cache + accounting) */
    int64_t cache_ttl_s;         /* 0 = entries never expire */
    char prices_file[1024];      /* "" = built-in price table */
    int64_t ground_ignore_int_max; /* 2 */
    bool grounding_footer;       /* true: append a visible line listing ungrounded figures */
    int64_t workers;             /* daemon worker threads, 4 */
    lg_narrator_opts_t narrator;
} lg_config_t;

/* Resolves everything. Returns 0, or LG_E_CONFIG with a message naming the
 * key and the expected form in err (no secrets in it). On error the struct
 * is cleared. Call lg_config_clear when done. */
int lg_config_load (cfg_t *cfg, lg_config_t *out, char *err, size_t errsize);
/* Wipes and frees the keys. NULL-safe. */
void lg_config_clear (lg_config_t *c);

/* Provider by name, accepting aliases (xai -> grok, google -> gemini,
 * llama.cpp -> llamacpp, offline/none/builtin -> narrator). -1 when unknown. */
int lg_prov_parse (const char *name);
const char *lg_prov_name (lg_prov_t p);
#endif
