/* lg_config.c — resolve llm-gateway settings from cfg.h and the reference's
 * environment names.
 *
 * Lookup order for every setting: the project key (cfg: --set, then
 * COPILOT_<KEY>, then the config file), then the reference/provider aliases
 * read verbatim from the environment (cfg_get_any). Values are validated with
 * messages that name the variable the value came from and the accepted form.
 *
 * Provider choice: llm.provider / LLM_PROVIDER when set; otherwise the first
 * hosted provider whose key is present (openai, gemini, grok); otherwise the
 * offline narrator. A hosted provider without a key is marked unusable (the
 * gateway then answers with the narrator and says why).
 *
 * Keys are copied into malloc'd memory and wiped (explicit_bzero) on clear.
 */
#include "lg_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_error.h"
#include "str.h"

typedef struct {
    const char *name;
    const char *base_url;
    const char *const key_vars[4];
    const char *const model_vars[4];
    const char *const base_vars[3];
    const char *default_model;   /* NULL: must be configured */
    bool key_required;
} s_prov_def_t;

static const s_prov_def_t s_defs[LG_PROV_COUNT] = {
    [LG_PROV_NARRATOR] = { "narrator", "", { NULL }, { NULL }, { NULL }, "builtin-narrator", false },
    [LG_PROV_OPENAI] = { "openai", "https://api.openai.com/v1", { "OPENAI_API_KEY", NULL },
                         { "OPENAI_CHAT_MODEL", "OPENAI_MODEL", NULL }, { "OPENAI_BASE_URL", NULL },
                         "gpt-4.1-mini", true },
    [LG_PROV_GROK] = { "grok", "https://api.x.ai/v1", { "GROK_API_KEY", "XAI_API_KEY", NULL },
                       { "GROK_CHAT_MODEL", "GROK_MODEL", NULL }, { "GROK_API_BASE", "XAI_BASE_URL", NULL },
                       "grok-3-mini", true },
    [LG_PROV_GEMINI] = { "gemini", "https://generativelanguage.googleapis.com/v1beta/openai",
                         { "GEMINI_API_KEY", "GOOGLE_API_KEY", NULL }, { "GEMINI_CHAT_MODEL", "GEMINI_MODEL", NULL },
                         { "GEMINI_BASE_URL", NULL }, "gemini-2.0-flash", true },
    [LG_PROV_OLLAMA] = { "ollama", "http://localhost:11434/v1", { "OLLAMA_API_KEY", NULL },
                         { "OLLAMA_MODEL", NULL }, { "OLLAMA_BASE_URL", NULL }, "llama3.2", false },
    [LG_PROV_VLLM] = { "vllm", "http://localhost:8000/v1", { "VLLM_API_KEY", NULL }, { "VLLM_MODEL", NULL },
                       { "VLLM_BASE_URL", NULL }, NULL, false },
    [LG_PROV_LLAMACPP] = { "llamacpp", "http://localhost:8080/v1", { "LLAMACPP_API_KEY", NULL },
                           { "LLAMACPP_MODEL", NULL }, { "LLAMACPP_BASE_URL", NULL }, "local", false },
};

const char *
lg_prov_name (lg_prov_t p)
{
    return (p >= 0 && p < LG_PROV_COUNT) ? s_defs[p].name : "unknown";
}

int
lg_prov_parse (const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < LG_PROV_COUNT; i++)
        if (str_ieq (name, s_defs[i].name))
            return i;
    static const struct {
        const char *alias;
        lg_prov_t p;
    } aliases[] = {
        { "xai", LG_PROV_GROK },           { "google", LG_PROV_GEMINI },   { "llama.cpp", LG_PROV_LLAMACPP },
        { "llama-cpp", LG_PROV_LLAMACPP }, { "offline", LG_PROV_NARRATOR }, { "none", LG_PROV_NARRATOR },
        { "builtin", LG_PROV_NARRATOR },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (str_ieq (name, aliases[i].alias))
            return (int) aliases[i].p;
    return -1;
}

/* The first set key among `keys`; *src gets the name it came from. */
static const char *
s_any (cfg_t *cfg, const char *const *keys, const char **src)
{
    for (size_t i = 0; keys[i]; i++) {
        const char *one[2] = { keys[i], NULL };
        const char *v = cfg_get_any (cfg, one);
        if (v) {
            if (src)
                *src = keys[i];
            return v;
        }
    }
    return NULL;
}

/* Display name of a key for messages: dotted keys also show their env name. */
static void
s_keyname (const char *key, char *out, size_t size)
{
    bool dotted = strchr (key, '.') != NULL;
    if (!dotted) {
        str_copy (out, size, key);
        return;
    }
    char env[96] = "COPILOT_";
    size_t o = strlen (env);
    for (const char *p = key; *p && o + 1 < sizeof env; p++)
        env[o++] = (*p == '.' || *p == '-') ? '_' : (char) ((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
    env[o] = '\0';
    snprintf (out, size, "%s (%s)", key, env);
}

static int
s_double (cfg_t *cfg, const char *const *keys, double def, double min, double max, double *out, char *err,
          size_t errsize)
{
    const char *src = NULL;
    const char *v = s_any (cfg, keys, &src);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    double d;
    if (str_to_double (v, &d) != 0 || d < min || d > max) {
        char kn[160];
        s_keyname (src, kn, sizeof kn);
        snprintf (err, errsize, "%s='%.40s': expected a number in [%g, %g]", kn, v, min, max);
        return LG_E_CONFIG;
    }
    *out = d;
    return 0;
}

static int
s_int (cfg_t *cfg, const char *const *keys, int64_t def, int64_t min, int64_t max, int64_t mult, int64_t *out,
       char *err, size_t errsize)
{
    const char *src = NULL;
    const char *v = s_any (cfg, keys, &src);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    int64_t d;
    /* Keys read as seconds (LLM_TIMEOUT) may be fractional. */
    double f;
    bool ok;
    if (mult != 1) {
        ok = str_to_double (v, &f) == 0 && f * (double) mult >= (double) min && f * (double) mult <= (double) max;
        d = ok ? (int64_t) (f * (double) mult + 0.5) : 0;
    }
    else
        ok = str_to_i64 (v, &d) == 0 && d >= min && d <= max;
    if (!ok) {
        char kn[160];
        s_keyname (src, kn, sizeof kn);
        if (mult != 1)
            snprintf (err, errsize, "%s='%.40s': expected seconds in [%g, %g]", kn, v, (double) min / (double) mult,
                      (double) max / (double) mult);
        else
            snprintf (err, errsize, "%s='%.40s': expected an integer in [%lld, %lld]", kn, v, (long long) min,
                      (long long) max);
        return LG_E_CONFIG;
    }
    *out = d;
    return 0;
}

static int
s_bool (cfg_t *cfg, const char *const *keys, bool def, bool *out, char *err, size_t errsize)
{
    const char *src = NULL;
    const char *v = s_any (cfg, keys, &src);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (str_ieq (v, "1") || str_ieq (v, "true") || str_ieq (v, "yes") || str_ieq (v, "on"))
        *out = true;
    else if (str_ieq (v, "0") || str_ieq (v, "false") || str_ieq (v, "no") || str_ieq (v, "off"))
        *out = false;
    else {
        char kn[160];
        s_keyname (src, kn, sizeof kn);
        snprintf (err, errsize, "%s='%.40s': expected true or false", kn, v);
        return LG_E_CONFIG;
    }
    return 0;
}

static int
s_url_ok (const char *u)
{
    return str_starts_with (u, "http://") || str_starts_with (u, "https://");
}

/* Provider-specific connection settings. The project keys (llm.base_url,
 * llm.api_key, llm.model) apply to the configured default provider only;
 * provider-named keys (llm.openai.api_key ...) and the vendors' variables
 * apply to their provider. */
static int
s_load_provider (cfg_t *cfg, lg_config_t *c, lg_prov_t p, char *err, size_t errsize)
{
    const s_prov_def_t *d = &s_defs[p];
    lg_provider_conf_t *pc = &c->prov[p];
    pc->id = p;
    pc->name = d->name;
    pc->key_required = d->key_required;
    if (p == LG_PROV_NARRATOR) {
        str_copy (pc->model, sizeof pc->model, d->default_model);
        pc->usable = true;
        return 0;
    }
    bool is_default = c->provider == p;
    char k_url[64], k_key[64], k_model[64];
    snprintf (k_url, sizeof k_url, "llm.%s.base_url", d->name);
    snprintf (k_key, sizeof k_key, "llm.%s.api_key", d->name);
    snprintf (k_model, sizeof k_model, "llm.%s.model", d->name);

    const char *ukeys[6] = { 0 }, *kkeys[8] = { 0 }, *mkeys[8] = { 0 };
    size_t nu = 0, nk = 0, nm = 0;
    if (is_default) {
        ukeys[nu++] = "llm.base_url";
        kkeys[nk++] = "llm.api_key";
        mkeys[nm++] = "llm.model";
    }
    ukeys[nu++] = k_url;
    kkeys[nk++] = k_key;
    mkeys[nm++] = k_model;
    for (size_t i = 0; d->base_vars[i]; i++)
        ukeys[nu++] = d->base_vars[i];
    for (size_t i = 0; d->key_vars[i]; i++)
        kkeys[nk++] = d->key_vars[i];
    for (size_t i = 0; d->model_vars[i]; i++)
        mkeys[nm++] = d->model_vars[i];

    const char *src = NULL;
    const char *url = s_any (cfg, ukeys, &src);
    if (url) {
        if (!s_url_ok (url)) {
            char kn[160];
            s_keyname (src, kn, sizeof kn);
            snprintf (err, errsize, "%s='%.60s': expected an http:// or https:// URL", kn, url);
            return LG_E_CONFIG;
        }
        if (str_copy (pc->base_url, sizeof pc->base_url, url) != 0) {
            char kn[160];
            s_keyname (src, kn, sizeof kn);
            snprintf (err, errsize, "%s: URL longer than %zu bytes", kn, sizeof pc->base_url - 1);
            return LG_E_CONFIG;
        }
    }
    else
        str_copy (pc->base_url, sizeof pc->base_url, d->base_url);
    size_t ul = strlen (pc->base_url);
    while (ul > 0 && pc->base_url[ul - 1] == '/')
        pc->base_url[--ul] = '\0';

    const char *key = s_any (cfg, kkeys, &src);
    if (key) {
        pc->api_key = str_dup (key);
        if (pc->api_key == NULL)
            return LG_E_NOMEM;
        str_copy (pc->key_source, sizeof pc->key_source, src);
    }
    const char *model = s_any (cfg, mkeys, &src);
    if (model == NULL)
        model = d->default_model;
    if (model && str_copy (pc->model, sizeof pc->model, model) != 0) {
        snprintf (err, errsize, "model name for %s is longer than %zu bytes", d->name, sizeof pc->model - 1);
        return LG_E_CONFIG;
    }
    pc->usable = true;
    if (d->key_required && pc->api_key == NULL) {
        pc->usable = false;
        snprintf (pc->unusable_reason, sizeof pc->unusable_reason, "no API key configured for %s (set %s or %s)",
                  d->name, d->key_vars[0], is_default ? "COPILOT_LLM_API_KEY" : k_key);
    }
    else if (pc->model[0] == '\0') {
        pc->usable = false;
        snprintf (pc->unusable_reason, sizeof pc->unusable_reason,
                  "no model configured for %s (set %s or COPILOT_LLM_MODEL)", d->name, d->model_vars[0]);
    }
    return 0;
}

int
lg_config_load (cfg_t *cfg, lg_config_t *c, char *err, size_t errsize)
{
    memset (c, 0, sizeof *c);
    if (err && errsize)
        err[0] = '\0';
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsize = sizeof dummy;
    }
    int rc = 0;
    /* Provider. */
    static const char *const pkeys[] = { "llm.provider", "LLM_PROVIDER", NULL };
    const char *src = NULL;
    const char *pname = s_any (cfg, pkeys, &src);
    if (pname) {
        int p = lg_prov_parse (pname);
        if (p < 0) {
            char kn[160];
            s_keyname (src, kn, sizeof kn);
            snprintf (err, errsize,
                      "%s='%.40s': expected one of openai, grok, gemini, ollama, vllm, llamacpp, narrator", kn, pname);
            return LG_E_CONFIG;
        }
        c->provider = (lg_prov_t) p;
        str_copy (c->provider_source, sizeof c->provider_source, src);
    }
    else {
        static const char *const okeys[] = { "llm.api_key", "llm.openai.api_key", "OPENAI_API_KEY", NULL };
        static const char *const gkeys[] = { "llm.gemini.api_key", "GEMINI_API_KEY", "GOOGLE_API_KEY", NULL };
        static const char *const xkeys[] = { "llm.grok.api_key", "GROK_API_KEY", "XAI_API_KEY", NULL };
        if (s_any (cfg, okeys, NULL))
            c->provider = LG_PROV_OPENAI;
        else if (s_any (cfg, gkeys, NULL))
            c->provider = LG_PROV_GEMINI;
        else if (s_any (cfg, xkeys, NULL))
            c->provider = LG_PROV_GROK;
        else
            c->provider = LG_PROV_NARRATOR;
    }
    for (int p = 0; p < LG_PROV_COUNT && rc == 0; p++)
        rc = s_load_provider (cfg, c, (lg_prov_t) p, err, errsize);
    if (rc != 0)
        goto fail;

#define K(...) ((const char *const[]){ __VA_ARGS__, NULL })
    if ((rc = s_double (cfg, K ("llm.temperature", "LLM_TEMPERATURE", "LLM_TEMP"), 0.2, 0, 2, &c->temperature, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.max_tokens", "LLM_MAX_TOKENS"), 1024, 1, 1000000, 1, &c->max_tokens, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.timeout_ms"), -1, 100, 3600000, 1, &c->timeout_ms, err, errsize))
        || (rc = s_int (cfg, K ("llm.connect_timeout_ms"), 5000, 50, 600000, 1, &c->connect_timeout_ms, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.stall_timeout_ms"), 15000, 1000, 3600000, 1, &c->stall_timeout_ms, err,
                        errsize))
        || (rc = s_bool (cfg, K ("llm.stream", "LLM_STREAM"), false, &c->stream, err, errsize))
        || (rc = s_bool (cfg, K ("llm.stream_usage"), true, &c->stream_usage, err, errsize))
        || (rc = s_int (cfg, K ("llm.retries"), 2, 0, 10, 1, &c->retries, err, errsize))
        || (rc = s_int (cfg, K ("llm.backoff_ms"), 250, 0, 60000, 1, &c->backoff_ms, err, errsize))
        || (rc = s_int (cfg, K ("llm.backoff_max_ms"), 4000, 0, 600000, 1, &c->backoff_max_ms, err, errsize))
        || (rc = s_int (cfg, K ("llm.retry_after_max_ms"), 20000, 0, 600000, 1, &c->retry_after_max_ms, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.breaker_threshold"), 5, 1, 1000, 1, &c->breaker_threshold, err, errsize))
        || (rc = s_int (cfg, K ("llm.breaker_cooldown_ms"), 30000, 0, 3600000, 1, &c->breaker_cooldown_ms, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.max_response_bytes"), 1 << 20, 1024, 64 << 20, 1, &c->max_response_bytes, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.max_prompt_bytes"), 512 << 10, 1024, 16 << 20, 1, &c->max_prompt_bytes, err,
                        errsize))
        || (rc = s_bool (cfg, K ("llm.cache"), true, &c->cache_enabled, err, errsize))
        || (rc = s_int (cfg, K ("llm.cache_ttl_s"), 0, 0, INT64_C (10) * 365 * 86400, 1, &c->cache_ttl_s, err,
                        errsize))
        || (rc = s_int (cfg, K ("llm.grounding_ignore_int_max"), 2, -1, 1000000, 1, &c->ground_ignore_int_max, err,
                        errsize))
        || (rc = s_bool (cfg, K ("llm.grounding_footer"), true, &c->grounding_footer, err, errsize))
        || (rc = s_int (cfg, K ("llm.workers"), 4, 1, 64, 1, &c->workers, err, errsize)))
        goto fail;
    /* Timeout: llm.timeout_ms, else LLM_TIMEOUT in seconds (reference name). */
    if (c->timeout_ms < 0
        && (rc = s_int (cfg, K ("LLM_TIMEOUT"), 30000, 100, 3600000, 1000, &c->timeout_ms, err, errsize)))
        goto fail;
    const char *mtf = NULL;
    cfg_str (cfg, "llm.max_tokens_field", "max_tokens", &mtf);
    if (strcmp (mtf, "max_tokens") != 0 && strcmp (mtf, "max_completion_tokens") != 0) {
        snprintf (err, errsize,
                  "llm.max_tokens_field (COPILOT_LLM_MAX_TOKENS_FIELD)='%.40s': expected max_tokens or "
                  "max_completion_tokens",
                  mtf);
        rc = LG_E_CONFIG;
        goto fail;
    }
    str_copy (c->max_tokens_field, sizeof c->max_tokens_field, mtf);

    /* Narrator thresholds: one configuration table (seed-copilot §11 item 24). */
    lg_narrator_opts_default (&c->narrator);
    lg_narrator_opts_t *n = &c->narrator;
    if ((rc = s_double (cfg, K ("llm.narrator.regression_change_pct"), n->regression_change_pct, 0, 1e6,
                        &n->regression_change_pct, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.growth_change_pct"), n->growth_change_pct, 0, 1e6,
                           &n->growth_change_pct, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.concentration_share_pct"), n->concentration_share_pct, 0, 100,
                           &n->concentration_share_pct, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.retry_failure_rate_pct"), n->retry_failure_rate_pct, 0, 100,
                           &n->retry_failure_rate_pct, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.chronic_failure_rate_pct"), n->chronic_failure_rate_pct, 0, 100,
                           &n->chronic_failure_rate_pct, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.anomaly_z"), n->anomaly_z, 0, 1e3, &n->anomaly_z, err, errsize))
        || (rc = s_double (cfg, K ("llm.narrator.cpu_low_pct"), n->cpu_low_pct, 0, 100, &n->cpu_low_pct, err,
                           errsize))
        || (rc = s_double (cfg, K ("llm.narrator.cpu_high_pct"), n->cpu_high_pct, 0, 100, &n->cpu_high_pct, err,
                           errsize))
        || (rc = s_double (cfg, K ("llm.narrator.spot_exposure_ratio"), n->spot_exposure_ratio, 0, 1,
                           &n->spot_exposure_ratio, err, errsize)))
        goto fail;
#undef K

    /* State file: llm.cache_db, else <data_dir>/llm-gateway.db, else
     * <run_dir>/llm-gateway.db (run_dir as in svc.h). */
    const char *db = cfg_get (cfg, "llm.cache_db");
    const char *dd = cfg_get (cfg, "data_dir");
    const char *rd = cfg_get (cfg, "run_dir");
    int w;
    if (db && db[0])
        w = str_copy (c->cache_db, sizeof c->cache_db, db);
    else if (dd && dd[0])
        w = str_fmt (c->cache_db, sizeof c->cache_db, "%s/llm-gateway.db", dd);
    else if (rd && rd[0])
        w = str_fmt (c->cache_db, sizeof c->cache_db, "%s/llm-gateway.db", rd);
    else
        w = str_fmt (c->cache_db, sizeof c->cache_db, "/tmp/copilot-%u/llm-gateway.db", (unsigned) getuid ());
    if (w != 0) {
        snprintf (err, errsize, "llm.cache_db (COPILOT_LLM_CACHE_DB): path longer than %zu bytes",
                  sizeof c->cache_db - 1);
        rc = LG_E_CONFIG;
        goto fail;
    }
    const char *pf = cfg_get (cfg, "llm.prices_file");
    if (pf && str_copy (c->prices_file, sizeof c->prices_file, pf) != 0) {
        snprintf (err, errsize, "llm.prices_file (COPILOT_LLM_PRICES_FILE): path too long");
        rc = LG_E_CONFIG;
        goto fail;
    }
    return 0;
fail:
    lg_config_clear (c);
    return rc ? rc : LG_E_CONFIG;
}

void
lg_config_clear (lg_config_t *c)
{
    if (c == NULL)
        return;
    for (int p = 0; p < LG_PROV_COUNT; p++)
        if (c->prov[p].api_key) {
            explicit_bzero (c->prov[p].api_key, strlen (c->prov[p].api_key));
            free (c->prov[p].api_key);
            c->prov[p].api_key = NULL;
        }
}
