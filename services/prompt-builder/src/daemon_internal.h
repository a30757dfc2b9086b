/* daemon_internal.h — shared state of the prompt-builder daemon (main.c,
 * daemon_explain.c, daemon_commentary.c). Not part of the pbd_prompt
 * library: these files talk to other daemons through svc.h. */
#ifndef PBD_DAEMON_INTERNAL_H
#define PBD_DAEMON_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pbd_history.h"
#include "svc.h"

/* Daemon settings (config keys prompt_builder.*, documented in main.c and
 * services/prompt-builder/README.md). */
typedef struct {
    char history_db[1024];
    const char *report_service;     /* daemon names, owned by cfg */
    const char *graph_service;
    const char *retrieval_service;
    const char *llm_service;
    int64_t report_timeout_ms;
    int64_t graph_timeout_ms;
    int64_t retrieval_timeout_ms;
    int64_t llm_timeout_ms;
    int64_t graph_hops;
    int64_t graph_budget;
    int64_t k_telemetry;
    int64_t k_docs;
    int64_t k_runbooks;
    int64_t budget_tokens;
    int64_t hit_text_max;
    int64_t llm_max_tokens;         /* 0 = the gateway's default */
    int64_t commentary_limit_max;
} pd_conf_t;

typedef struct {
    svc_t *svc;
    pd_conf_t conf;
    pbd_history_t *hist;
} pd_app_t;

/* Explain handler (svc_handler_fn shape; arg = pd_app_t). */
int pd_on_explain (svc_t *svc, const env_t *req, env_t *reply, void *arg);
/* Commentary handler (history and SSE replay). */
int pd_on_commentary (svc_t *svc, const env_t *req, env_t *reply, void *arg);

/* Builds a CommentaryEvent (heap, env.h ownership) from a stored entry.
 * NULL on OOM. */
Copilot__V1__CommentaryEvent *pd_event_from_entry (const pbd_entry_t *e);

#endif
