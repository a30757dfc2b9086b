/* lg_cache.h — the llm-gateway's own SQLite state file: the response cache
 * and the per-answer accounting ledger.
 *
 * Cache key: SHA-256 (hex) over a versioned, length-prefixed serialisation of
 * (provider, base URL, model, temperature, max tokens, system prompt, prompt),
 * so no two different inputs share a key by concatenation. Only successful
 * provider answers are stored (never narrator or fallback answers).
 * Thread-safe: one connection guarded by a mutex.
 */
#ifndef LG_CACHE_H
#define LG_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _lg_cache_t lg_cache_t;

typedef struct {
    char *text;          /* malloc'd */
    char *model;         /* model as reported by the provider, malloc'd */
    uint32_t tokens_in, tokens_out;
    double cost_usd;
    int64_t created_ms;
    int64_t hits;        /* hits before this one */
} lg_cache_entry_t;

/* One answer for the ledger (strings borrowed). */
typedef struct {
    int64_t ts_ms;
    const char *request_id, *provider, *model, *outcome, *cache_key;
    uint32_t tokens_in, tokens_out;
    bool tokens_estimated;
    int64_t latency_ms;
    double cost_usd;
    bool cached, fallback;
    int attempts;
    uint32_t ungrounded;
} lg_account_t;

/* Opens (creating the file, its parent directory and the schema). NULL on
 * failure with the reason in err. */
lg_cache_t *lg_cache_open (const char *path, char *err, size_t errsize);
void lg_cache_close (lg_cache_t **self_p);

/* Computes the key into out[65]. Any string may be NULL (treated as ""). */
void lg_cache_key (const char *provider, const char *base_url, const char *model, double temperature,
                   uint32_t max_tokens, const char *system_prompt, const char *prompt, char out[65]);

/* Looks up `key`. Returns 1 and fills *out (free with lg_cache_entry_clear)
 * on a hit, 0 on a miss or an entry older than ttl_s (ttl_s 0 = no expiry),
 * LG_E_DB on failure. A hit increments the entry's hit counter. */
int lg_cache_get (lg_cache_t *self, const char *key, int64_t ttl_s, int64_t now_ms, lg_cache_entry_t *out);
/* Stores (or replaces) an entry. 0 or LG_E_DB. */
int lg_cache_put (lg_cache_t *self, const char *key, const char *provider, const lg_cache_entry_t *e);
void lg_cache_entry_clear (lg_cache_entry_t *e);

/* Appends one answer to the ledger. 0 or LG_E_DB. */
int lg_cache_account (lg_cache_t *self, const lg_account_t *a);
/* Ledger totals (for tests and the CLI): answers, sum of tokens and cost,
 * optionally filtered by outcome (NULL = all). 0 or LG_E_DB. */
int lg_cache_totals (lg_cache_t *self, const char *outcome, int64_t *answers, int64_t *tokens_in,
                     int64_t *tokens_out, double *cost_usd);
/* Number of cache entries. */
int64_t lg_cache_entries (lg_cache_t *self);
const char *lg_cache_path (lg_cache_t *self);
#endif
