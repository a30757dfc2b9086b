/* lg_client.h — one HTTP attempt against an OpenAI-compatible
 * /chat/completions endpoint over libcurl (easy API), plain or streamed.
 *
 * Works for OpenAI, xAI Grok, Gemini's OpenAI-compatible endpoint, Ollama,
 * vLLM and the llama.cpp server: they share the request and response shape.
 * Streaming uses Server-Sent Events ("data: {chunk}" ... "data: [DONE]")
 * when the server answers text/event-stream; a server that ignores
 * "stream": true and answers JSON is handled too.
 *
 * Hard limits on every call: CURLOPT_TIMEOUT_MS, CONNECTTIMEOUT_MS,
 * NOSIGNAL, a low-speed (stall) abort, and a cap on bytes received. The API
 * key goes only into the Authorization header; every error text is passed
 * through lg_redact first. Retries, back-off and the circuit breaker live in
 * lg_gateway, not here. Thread-safe: each call uses its own curl handle
 * (lg_client_global_init must have run once).
 */
#ifndef LG_CLIENT_H
#define LG_CLIENT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Streaming delta callback: `text` (len bytes, not NUL-terminated) was
 * appended to the answer. Return 0 to continue, non-zero to abort. */
typedef int (*lg_delta_fn) (void *arg, const char *text, size_t len);

typedef struct {
    const char *base_url;          /* ".../v1"; "/chat/completions" is appended */
    const char *api_key;           /* NULL = no Authorization header */
    const char *model;
    const char *system_prompt;     /* NULL/"" = no system message */
    const char *prompt;
    double temperature;
    uint32_t max_tokens;
    const char *max_tokens_field;  /* "max_tokens" or "max_completion_tokens" */
    bool stream;
    bool stream_usage;             /* add stream_options.include_usage */
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    int64_t stall_timeout_ms;
    size_t max_bytes;              /* cap on the response body / streamed text */
    lg_delta_fn on_delta;
    void *delta_arg;
    const atomic_bool *cancel;     /* optional: abort when it becomes true */
} lg_call_t;

typedef struct {
    int rc;                  /* LG_OK or an LG_E_* code */
    long http_status;        /* 0 when no response */
    int curl_code;           /* CURLcode */
    int64_t retry_after_ms;  /* from Retry-After / retry-after-ms, -1 when absent */
    char *text;              /* malloc'd answer when rc == 0 */
    char model[128];         /* model reported by the provider */
    uint32_t tokens_in, tokens_out;
    bool usage;              /* the provider reported token usage */
    char finish_reason[32];
    char error[320];         /* what went wrong, redacted, for notes and logs */
    int64_t elapsed_ms;
    size_t bytes;            /* response bytes received */
    bool streamed;           /* the answer arrived as SSE */
} lg_result_t;

/* curl_global_init, once per process (thread-safe through pthread_once). */
void lg_client_global_init (void);

/* Performs one attempt. Fills *res (clear it with lg_result_clear) and
 * returns res->rc. */
int lg_client_call (const lg_call_t *call, lg_result_t *res);
void lg_result_clear (lg_result_t *res);

/* Overwrites, in place, every occurrence of `secret` (when at least 4 bytes)
 * and every token following "Bearer " with '*'. NULL-safe. */
void lg_redact (char *s, const char *secret);
#endif
