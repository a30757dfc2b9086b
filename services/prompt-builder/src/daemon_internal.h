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
    int64_t workers;                /* Explain worker threads */
    int64_t queue_max;              /* Explains waiting for a worker */
} pd_conf_t;

typedef struct _pd_pool_t pd_pool_t;
typedef struct _pd_worker_t pd_worker_t;

typedef struct {
    svc_t *svc;
    pd_conf_t conf;
    pbd_history_t *hist;            /* loop thread only */
    pd_pool_t *pool;                /* daemon_pool.c */
    void *inflight;                 /* Explains in flight (daemon_explain.c, loop thread only) */
} pd_app_t;

/* ---- worker pool (daemon_pool.c) ----------------------------------------
 * work runs on a worker thread; done runs on the loop thread afterwards with
 * ran = true, or with ran = false when the pool closed before the task could
 * run or be answered (free it without replying). */
typedef void (*pd_work_fn) (pd_worker_t *w, void *arg);
typedef void (*pd_done_fn) (pd_app_t *app, void *arg, bool ran);

/* Loop thread, before svc_run: resolves the backend endpoints (conf service
 * names), starts `nworkers` threads and the wake-up handle; sets app->pool
 * (also on failure: call pd_pool_close + pd_pool_destroy). 0 or -1. */
int pd_pool_start (pd_app_t *app, int nworkers, size_t queue_max);
/* Loop thread: queues a task. 0, BUS_E_BUSY (queue_max tasks waiting),
 * BUS_E_CLOSED (closing) or BUS_E_NOMEM; on error nothing is called. */
int pd_pool_submit (pd_app_t *app, pd_work_fn work, pd_done_fn done, void *arg);
size_t pd_pool_queue_max (pd_app_t *app);
/* Worker thread: synchronous call to a backend daemon (one of the conf
 * service names) on this worker's own client. Same results as
 * bus_client_call; BUS_E_INVALID with *reply_out NULL for an unknown service
 * or a client that cannot be created. */
int pd_worker_call (pd_worker_t *w, const char *service, env_t *req, env_t **reply_out, int timeout_ms,
                    unsigned flags);
/* svc on_close hook body: answers finished tasks, interrupts blocked backend
 * calls (zmq_ctx_shutdown) if a worker is busy, joins the workers, calls
 * done(ran=false) for the rest, closes the wake-up handle. */
void pd_pool_close (pd_app_t *app);
/* After svc_destroy (the loop has closed the handle): frees the pool. */
void pd_pool_destroy (pd_app_t *app);

/* on_close hook for Explains: closes the pool, then frees what is left. */
void pd_explain_close (svc_t *svc, void *arg);

/* Explain handler (svc_handler_fn shape; arg = pd_app_t). */
int pd_on_explain (svc_t *svc, const env_t *req, env_t *reply, void *arg);
/* Commentary handler (history and SSE replay). */
int pd_on_commentary (svc_t *svc, const env_t *req, env_t *reply, void *arg);

/* Builds a CommentaryEvent (heap, env.h ownership) from a stored entry.
 * NULL on OOM. */
Copilot__V1__CommentaryEvent *pd_event_from_entry (const pbd_entry_t *e);

#endif
