/* rt_config.c — reads rt_config_t from the shared configuration (cfg.h):
 * COPILOT_RETRIEVAL_* environment variables or the config file, with the
 * usual OPENAI_* aliases for the embeddings provider. Kept apart from the
 * rest of the library so programs that build an rt_config_t themselves do
 * not pull in cfg.
 */
#include "rt_internal.h"

#include <string.h>

static int
s_int (cfg_t *cfg, const char *key, int def, int min, int max, int *out)
{
    int64_t v = 0;
    if (cfg_int (cfg, key, def, min, max, &v) != CFG_OK)
        return rt__fail (RT_E_ARG, "%s", cfg_error (cfg));
    *out = (int) v;
    return RT_OK;
}

static int
s_str (cfg_t *cfg, const char *key, char *out, size_t size)
{
    const char *v = cfg_get (cfg, key);
    if (!v)
        return RT_OK;
    if (str_copy (out, size, v) != 0)
        return rt__fail (RT_E_ARG, "%s: value longer than %zu bytes", key, size - 1);
    return RT_OK;
}

int
rt_config_load (cfg_t *cfg, rt_config_t *o)
{
    rt_config_defaults (o);
    if (!cfg)
        return RT_OK;
    int rc = RT_OK;
    if ((rc = s_str (cfg, "retrieval.embedder", o->embedder, sizeof o->embedder)) < 0)
        return rc;
    if (strcmp (o->embedder, "lsa") != 0 && strcmp (o->embedder, "openai") != 0)
        return rt__fail (RT_E_ARG, "retrieval.embedder='%s': expected lsa or openai", o->embedder);
    static const char *const base_keys[] = {"retrieval.openai.base_url", "OPENAI_BASE_URL", NULL};
    static const char *const key_keys[] = {"retrieval.openai.api_key", "OPENAI_API_KEY", NULL};
    static const char *const model_keys[] = {"retrieval.openai.model", "OPENAI_EMBEDDING_MODEL", NULL};
    const char *v;
    if ((v = cfg_get_any (cfg, base_keys)) && str_copy (o->openai_base_url, sizeof o->openai_base_url, v))
        return rt__fail (RT_E_ARG, "retrieval.openai.base_url is too long");
    if ((v = cfg_get_any (cfg, key_keys)) && str_copy (o->openai_api_key, sizeof o->openai_api_key, v))
        return rt__fail (RT_E_ARG, "retrieval.openai.api_key is too long");
    if ((v = cfg_get_any (cfg, model_keys)) && str_copy (o->openai_model, sizeof o->openai_model, v))
        return rt__fail (RT_E_ARG, "retrieval.openai.model is too long");
    if ((rc = s_int (cfg, "retrieval.dim", 0, 0, 65536, &o->dim)) < 0
        || (rc = s_int (cfg, "retrieval.flat_max", o->flat_max, 0, 1 << 30, &o->flat_max)) < 0
        || (rc = s_int (cfg, "retrieval.hnsw_m", o->hnsw_m, 4, 128, &o->hnsw_m)) < 0
        || (rc = s_int (cfg, "retrieval.ef_search", o->ef_search, 1, 4096, &o->ef_search)) < 0
        || (rc = s_int (cfg, "retrieval.ef_construction", o->ef_construction, 1, 4096, &o->ef_construction)) < 0
        || (rc = s_int (cfg, "retrieval.chunk_max", o->chunk_max, 200, 100000, &o->chunk_max)) < 0
        || (rc = s_int (cfg, "retrieval.chunk_overlap", o->chunk_overlap, 0, 50000, &o->chunk_overlap)) < 0
        || (rc = s_int (cfg, "retrieval.rrf_k", o->rrf_k, 1, 100000, &o->rrf_k)) < 0
        || (rc = s_int (cfg, "retrieval.keyword_prune_min_docs", o->keyword_prune_min_docs, 1, INT32_MAX,
                        &o->keyword_prune_min_docs)) < 0
        || (rc = s_int (cfg, "retrieval.threads", o->threads, 1, 256, &o->threads)) < 0
        || (rc = s_int (cfg, "retrieval.lsa.max_features", o->lsa.max_features, 16, 1 << 22,
                        &o->lsa.max_features)) < 0
        || (rc = s_int (cfg, "retrieval.lsa.min_df", o->lsa.min_df, 1, 1 << 20, &o->lsa.min_df)) < 0
        || (rc = s_int (cfg, "retrieval.lsa.fit_sample", o->lsa.fit_sample, 16, 1 << 24, &o->lsa.fit_sample)) < 0
        || (rc = s_int (cfg, "retrieval.lsa.power_iters", o->lsa.power_iters, 0, 20, &o->lsa.power_iters)) < 0
        || (rc = s_int (cfg, "retrieval.openai.timeout_ms", o->openai_timeout_ms, 100, 600000,
                        &o->openai_timeout_ms)) < 0
        || (rc = s_int (cfg, "retrieval.openai.max_retries", o->openai_max_retries, -1, 10,
                        &o->openai_max_retries)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.runs_per_job", 60, 1, 1 << 20, &o->telemetry.runs_per_job)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_failed_runs", 2000, 1, 1 << 24,
                        &o->telemetry.max_failed_runs)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_usage", 200, 1, 1 << 24, &o->telemetry.max_usage)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_notable_events", 2000, 1, 1 << 24,
                        &o->telemetry.max_notable_events)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_other_events", 100, 1, 1 << 24,
                        &o->telemetry.max_other_events)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_evictions", 2000, 1, 1 << 24,
                        &o->telemetry.max_evictions)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_queries", 300, 1, 1 << 24, &o->telemetry.max_queries)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_changes", 2000, 1, 1 << 24, &o->telemetry.max_changes)) < 0
        || (rc = s_int (cfg, "retrieval.telemetry.max_anomalies", 1000, 1, 1 << 24,
                        &o->telemetry.max_anomalies)) < 0)
        return rc;
    if (o->chunk_max <= 2 * o->chunk_overlap)
        return rt__fail (RT_E_ARG, "retrieval.chunk_max (%d) must exceed twice retrieval.chunk_overlap (%d)",
                         o->chunk_max, o->chunk_overlap);
    if (cfg_double (cfg, "retrieval.keyword_max_df", o->keyword_max_df, 0.01, 1.0, &o->keyword_max_df) != CFG_OK)
        return rt__fail (RT_E_ARG, "%s", cfg_error (cfg));
    if ((rc = s_str (cfg, "retrieval.docs_dir", o->docs_dir, sizeof o->docs_dir)) < 0
        || (rc = s_str (cfg, "retrieval.runbooks_dir", o->runbooks_dir, sizeof o->runbooks_dir)) < 0)
        return rc;
    return RT_OK;
}
