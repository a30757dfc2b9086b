/* test_config.c — provider and parameter resolution from COPILOT_* keys and
 * the reference's environment names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lg_config.h"
#include "lg_error.h"
#include "lg_gateway.h"

static const char *const s_vars[] = {
    "LLM_PROVIDER", "OPENAI_API_KEY", "OPENAI_CHAT_MODEL", "OPENAI_MODEL", "OPENAI_BASE_URL", "GEMINI_API_KEY",
    "GOOGLE_API_KEY", "GEMINI_CHAT_MODEL", "GROK_API_KEY", "XAI_API_KEY", "GROK_CHAT_MODEL", "GROK_API_BASE",
    "LLM_TEMPERATURE", "LLM_TEMP", "LLM_TIMEOUT", "LLM_MAX_TOKENS", "VLLM_MODEL", "OLLAMA_MODEL",
    "COPILOT_LLM_PROVIDER", "COPILOT_LLM_API_KEY", "COPILOT_LLM_MODEL", "COPILOT_LLM_BASE_URL",
    "COPILOT_LLM_TEMPERATURE", "COPILOT_LLM_TIMEOUT_MS", "COPILOT_LLM_CACHE_DB", "COPILOT_DATA_DIR",
    "COPILOT_RUN_DIR", "COPILOT_LLM_STREAM", NULL,
};

static int
s_clean (void **state)
{
    (void) state;
    for (size_t i = 0; s_vars[i]; i++)
        unsetenv (s_vars[i]);
    return 0;
}

static int
s_load (lg_config_t *c, char *err, size_t errsize)
{
    const char *e = NULL;
    cfg_t *cfg = cfg_new (NULL, &e);
    assert_non_null (cfg);
    int rc = lg_config_load (cfg, c, err, errsize);
    cfg_destroy (&cfg);
    return rc;
}

static void
test_defaults_narrator (void **state)
{
    (void) state;
    lg_config_t c;
    char err[300];
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_int_equal (c.provider, LG_PROV_NARRATOR);
    assert_true (c.temperature > 0.199 && c.temperature < 0.201);
    assert_int_equal (c.timeout_ms, 30000);
    assert_int_equal (c.max_tokens, 1024);
    assert_int_equal (c.retries, 2);
    assert_false (c.stream);
    assert_true (c.prov[LG_PROV_OLLAMA].usable); /* local providers need no key */
    assert_string_equal (c.prov[LG_PROV_OLLAMA].base_url, "http://localhost:11434/v1");
    assert_false (c.prov[LG_PROV_VLLM].usable);  /* no default model */
    assert_non_null (strstr (c.prov[LG_PROV_VLLM].unusable_reason, "VLLM_MODEL"));
    lg_config_clear (&c);
}

static void
test_openai_from_reference_names (void **state)
{
    (void) state;
    setenv ("OPENAI_API_KEY", "sk-test-SECRET-123456", 1);
    setenv ("OPENAI_CHAT_MODEL", "gpt-4o-mini", 1);
    setenv ("LLM_TEMPERATURE", "0.5", 1);
    setenv ("LLM_TIMEOUT", "12.5", 1);
    lg_config_t c;
    char err[300];
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_int_equal (c.provider, LG_PROV_OPENAI);
    const lg_provider_conf_t *p = &c.prov[LG_PROV_OPENAI];
    assert_true (p->usable);
    assert_string_equal (p->api_key, "sk-test-SECRET-123456");
    assert_string_equal (p->key_source, "OPENAI_API_KEY");
    assert_string_equal (p->model, "gpt-4o-mini");
    assert_string_equal (p->base_url, "https://api.openai.com/v1");
    assert_true (c.temperature > 0.499 && c.temperature < 0.501);
    assert_int_equal (c.timeout_ms, 12500);
    /* The description names where the key came from, never the key. */
    lg_gateway_t *gw = NULL;
    setenv ("COPILOT_LLM_CACHE", "false", 1);
    const char *e = NULL;
    cfg_t *cfg = cfg_new (NULL, &e);
    gw = lg_gateway_new (cfg, err, sizeof err);
    assert_non_null (gw);
    char desc[600];
    lg_gateway_describe (gw, desc, sizeof desc);
    assert_non_null (strstr (desc, "key=from OPENAI_API_KEY"));
    assert_null (strstr (desc, "SECRET"));
    lg_gateway_destroy (&gw);
    cfg_destroy (&cfg);
    unsetenv ("COPILOT_LLM_CACHE");
    lg_config_clear (&c);
}

static void
test_project_keys_win (void **state)
{
    (void) state;
    setenv ("LLM_PROVIDER", "grok", 1);
    setenv ("COPILOT_LLM_PROVIDER", "gemini", 1);
    setenv ("GOOGLE_API_KEY", "g-key-1234", 1);
    setenv ("COPILOT_LLM_TIMEOUT_MS", "2500", 1);
    setenv ("LLM_TIMEOUT", "99", 1);
    setenv ("COPILOT_LLM_BASE_URL", "http://127.0.0.1:9/v1/", 1);
    lg_config_t c;
    char err[300];
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_int_equal (c.provider, LG_PROV_GEMINI);
    assert_string_equal (c.provider_source, "llm.provider");
    const lg_provider_conf_t *p = &c.prov[LG_PROV_GEMINI];
    assert_true (p->usable);
    assert_string_equal (p->key_source, "GOOGLE_API_KEY");
    assert_string_equal (p->model, "gemini-2.0-flash");
    assert_string_equal (p->base_url, "http://127.0.0.1:9/v1"); /* trailing slash removed */
    assert_int_equal (c.timeout_ms, 2500);
    /* The project base URL applies to the default provider only. */
    assert_string_equal (c.prov[LG_PROV_GROK].base_url, "https://api.x.ai/v1");
    lg_config_clear (&c);
}

static void
test_grok_and_missing_key (void **state)
{
    (void) state;
    setenv ("LLM_PROVIDER", "xai", 1);
    setenv ("GROK_CHAT_MODEL", "grok-3", 1);
    lg_config_t c;
    char err[300];
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_int_equal (c.provider, LG_PROV_GROK);
    assert_false (c.prov[LG_PROV_GROK].usable);
    assert_string_equal (c.prov[LG_PROV_GROK].unusable_reason,
                         "no API key configured for grok (set GROK_API_KEY or COPILOT_LLM_API_KEY)");
    assert_string_equal (c.prov[LG_PROV_GROK].model, "grok-3");
    lg_config_clear (&c);
    setenv ("GROK_API_KEY", "xai-abcdef", 1);
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_true (c.prov[LG_PROV_GROK].usable);
    lg_config_clear (&c);
}

static void
test_invalid_values (void **state)
{
    (void) state;
    lg_config_t c;
    char err[300];
    setenv ("LLM_TEMPERATURE", "abc", 1);
    assert_int_equal (s_load (&c, err, sizeof err), LG_E_CONFIG);
    assert_string_equal (err, "LLM_TEMPERATURE='abc': expected a number in [0, 2]");
    unsetenv ("LLM_TEMPERATURE");
    setenv ("COPILOT_LLM_PROVIDER", "bard", 1);
    assert_int_equal (s_load (&c, err, sizeof err), LG_E_CONFIG);
    assert_string_equal (err, "llm.provider (COPILOT_LLM_PROVIDER)='bard': expected one of openai, grok, gemini, "
                              "ollama, vllm, llamacpp, narrator");
    unsetenv ("COPILOT_LLM_PROVIDER");
    setenv ("LLM_TIMEOUT", "-1", 1);
    assert_int_equal (s_load (&c, err, sizeof err), LG_E_CONFIG);
    assert_string_equal (err, "LLM_TIMEOUT='-1': expected seconds in [0.1, 3600]");
    unsetenv ("LLM_TIMEOUT");
    setenv ("OPENAI_BASE_URL", "ftp://x", 1);
    assert_int_equal (s_load (&c, err, sizeof err), LG_E_CONFIG);
    assert_string_equal (err, "OPENAI_BASE_URL='ftp://x': expected an http:// or https:// URL");
}

static void
test_cache_db_location (void **state)
{
    (void) state;
    lg_config_t c;
    char err[300];
    setenv ("COPILOT_DATA_DIR", "/tmp/lg-data", 1);
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_string_equal (c.cache_db, "/tmp/lg-data/llm-gateway.db");
    lg_config_clear (&c);
    setenv ("COPILOT_LLM_CACHE_DB", "/tmp/x/state.db", 1);
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_string_equal (c.cache_db, "/tmp/x/state.db");
    lg_config_clear (&c);
    unsetenv ("COPILOT_LLM_CACHE_DB");
    unsetenv ("COPILOT_DATA_DIR");
    setenv ("COPILOT_RUN_DIR", "/tmp/lg-run", 1);
    assert_int_equal (s_load (&c, err, sizeof err), 0);
    assert_string_equal (c.cache_db, "/tmp/lg-run/llm-gateway.db");
    lg_config_clear (&c);
}

static void
test_prov_parse (void **state)
{
    (void) state;
    assert_int_equal (lg_prov_parse ("OpenAI"), LG_PROV_OPENAI);
    assert_int_equal (lg_prov_parse ("llama.cpp"), LG_PROV_LLAMACPP);
    assert_int_equal (lg_prov_parse ("offline"), LG_PROV_NARRATOR);
    assert_int_equal (lg_prov_parse ("google"), LG_PROV_GEMINI);
    assert_int_equal (lg_prov_parse ("nope"), -1);
    assert_string_equal (lg_prov_name (LG_PROV_VLLM), "vllm");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_defaults_narrator, s_clean),
        cmocka_unit_test_setup (test_openai_from_reference_names, s_clean),
        cmocka_unit_test_setup (test_project_keys_win, s_clean),
        cmocka_unit_test_setup (test_grok_and_missing_key, s_clean),
        cmocka_unit_test_setup (test_invalid_values, s_clean),
        cmocka_unit_test_setup (test_cache_db_location, s_clean),
        cmocka_unit_test_setup (test_prov_parse, s_clean),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
