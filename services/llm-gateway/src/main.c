/* main.c — the llm-gateway daemon: answers CompletionRequest over the bus.
 *
 * Threading: svc.h runs everything on the loop thread, but a completion can
 * take seconds (provider round trips, retries, back-off). So the handler
 * defers the request (svc_defer) and queues a job; `llm.workers` threads
 * take jobs, run lg_gateway_complete (thread-safe) and push the finished job
 * onto a done list, then wake the loop with a uv_async_t. The loop thread
 * alone builds reply envelopes and calls bus_request_reply, because bus
 * objects belong to the loop thread. Workers only read the request envelope,
 * which stays valid and untouched until its reply.
 *
 * Back-pressure: at most `llm.queue_max` (default 64) jobs wait; more are
 * answered RESOURCE_EXHAUSTED at once.
 *
 * Shutdown: svc drains (waits for deferred requests up to drain_ms); then
 * on_close cancels the engine (curl transfers abort at their next progress
 * tick, sleeps end), stops and joins the workers, replies to whatever
 * finished, frees what did not, and closes the async handle.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_cache.h"
#include "lg_gateway.h"
#include "str.h"
#include "svc.h"

typedef struct s_job {
    bus_request_t *rq;
    lg_reply_t reply;
    int rc;
    struct s_job *next;
} s_job_t;

typedef struct {
    svc_t *svc;
    lg_gateway_t *gw;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    s_job_t *todo_head, *todo_tail;
    s_job_t *done_head;
    size_t queued;
    size_t queue_max;
    bool stop;
    pthread_t *threads;
    int nthreads;
    uv_async_t async;
    bool async_open;
} s_app_t;

static char *
s_dup (const char *s)
{
    return env_strdup (s ? s : "");
}

static int
s_param (Copilot__V1__CompletionReply *out, const char *key, const char *value)
{
    Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
    if (p == NULL)
        return -1;
    p->key = s_dup (key);
    p->value = s_dup (value);
    if (p->key == NULL || p->value == NULL || ENV_APPEND (out->usage, out->n_usage, p) != 0) {
        protobuf_c_message_free_unpacked (&p->base, NULL);
        return -1;
    }
    return 0;
}

/* Builds the reply envelope body from a finished job (loop thread). */
static int
s_fill_reply (s_job_t *job, env_t *reply)
{
    if (job->rc != 0) {
        Copilot__V1__ErrorCode code = job->rc == LG_E_INVALID  ? COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT
                                      : job->rc == LG_E_TOOBIG ? COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED
                                                               : COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
        return env_set_error (reply, code, NULL, "%s", job->reply.error[0] ? job->reply.error : lg_strerror (job->rc));
    }
    lg_reply_t *r = &job->reply;
    Copilot__V1__CompletionReply *out = env_msg_new (&copilot__v1__completion_reply__descriptor);
    Copilot__V1__Grounding *g = env_msg_new (&copilot__v1__grounding__descriptor);
    if (out == NULL || g == NULL)
        goto oom;
    out->grounding = g;
    g = NULL;
    out->text = s_dup (r->text);
    out->provider = s_dup (r->provider);
    out->model = s_dup (r->model);
    out->note = s_dup (r->note);
    if (!out->text || !out->provider || !out->model || !out->note)
        goto oom;
    out->tokens_in = r->tokens_in;
    out->tokens_out = r->tokens_out;
    out->latency_ms = r->latency_ms;
    out->cached = r->cached;
    out->fallback = r->fallback;
    out->cost_usd = r->cost_usd;
    out->grounding->grounded = r->grounding.grounded;
    out->grounding->numbers_checked = r->grounding.checked;
    for (size_t i = 0; i < r->grounding.n_ungrounded; i++) {
        char *s = s_dup (r->grounding.ungrounded[i]);
        if (s == NULL || ENV_APPEND (out->grounding->ungrounded, out->grounding->n_ungrounded, s) != 0) {
            free (s);
            goto oom;
        }
    }
    char num[32];
    snprintf (num, sizeof num, "%d", r->attempts);
    if (s_param (out, "outcome", r->outcome) || s_param (out, "attempts", num)
        || s_param (out, "tokens_estimated", r->tokens_estimated ? "true" : "false")
        || s_param (out, "priced", r->priced ? "true" : "false")
        || s_param (out, "streamed", r->streamed ? "true" : "false")
        || s_param (out, "finish_reason", r->finish_reason) || s_param (out, "cache_key", r->cache_key))
        goto oom;
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REPLY, out);
oom:
    if (g)
        protobuf_c_message_free_unpacked (&g->base, NULL);
    if (out)
        protobuf_c_message_free_unpacked (&out->base, NULL);
    return -1;
}

static void
s_finish (s_app_t *app, s_job_t *job)
{
    const env_t *req = bus_request_env (job->rq);
    env_t *reply = env_reply_new (req, "llm-gateway");
    if (reply && s_fill_reply (job, reply) != 0)
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory building the reply");
    if (reply) {
        int rc = bus_request_reply (&job->rq, reply);
        if (rc != 0)
            log_emit (LOG_WARN, "llm.reply_failed", "could not send a completion reply: %s", bus_strerror (rc));
        env_free (reply);
    }
    bus_request_destroy (&job->rq);
    lg_reply_clear (&job->reply);
    free (job);
    (void) app;
}

/* Loop thread: send every finished job. */
static void
s_on_async (uv_async_t *h)
{
    s_app_t *app = h->data;
    pthread_mutex_lock (&app->mu);
    s_job_t *list = app->done_head;
    app->done_head = NULL;
    pthread_mutex_unlock (&app->mu);
    /* The list is LIFO; reverse it so replies go out in completion order. */
    s_job_t *rev = NULL;
    while (list) {
        s_job_t *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        s_job_t *n = rev->next;
        s_finish (app, rev);
        rev = n;
    }
}

static void *
s_worker (void *arg)
{
    s_app_t *app = arg;
    for (;;) {
        pthread_mutex_lock (&app->mu);
        while (!app->stop && app->todo_head == NULL)
            pthread_cond_wait (&app->cv, &app->mu);
        if (app->todo_head == NULL) {
            pthread_mutex_unlock (&app->mu);
            return NULL;
        }
        s_job_t *job = app->todo_head;
        app->todo_head = job->next;
        if (app->todo_head == NULL)
            app->todo_tail = NULL;
        app->queued--;
        pthread_mutex_unlock (&app->mu);

        const env_t *env = bus_request_env (job->rq);
        const Copilot__V1__CompletionRequest *cr = env->completion_request;
        lg_request_t rq = { 0 };
        rq.request_id = env_request_id (env);
        if (env->header)
            log_set_context (env->header->request_id, env->header->trace_id);
        rq.system_prompt = cr->system_prompt;
        rq.prompt = cr->prompt;
        rq.facts_json = cr->facts_json;
        rq.lane = cr->lane;
        rq.provider = cr->provider;
        rq.model = cr->model;
        rq.context = cr->context;
        rq.temperature = cr->temperature;
        rq.max_tokens = cr->max_tokens;
        rq.timeout_ms = cr->timeout_ms;
        rq.no_cache = cr->no_cache;
        rq.deadline_unix_ms = env->header ? env->header->deadline_unix_ms : 0;
        job->rc = lg_gateway_complete (app->gw, &rq, &job->reply);
        if (job->rc == 0)
            log_emit (LOG_INFO, "llm.complete", "provider=%s model=%s outcome=%s latency_ms=%lld tokens_in=%u "
                      "tokens_out=%u ungrounded=%zu attempts=%d",
                      job->reply.provider, job->reply.model, job->reply.outcome, (long long) job->reply.latency_ms,
                      job->reply.tokens_in, job->reply.tokens_out, job->reply.grounding.n_ungrounded,
                      job->reply.attempts);
        else
            log_emit (LOG_WARN, "llm.request_rejected", "%s", job->reply.error);
        log_set_context (NULL, NULL);

        pthread_mutex_lock (&app->mu);
        job->next = app->done_head;
        app->done_head = job;
        pthread_mutex_unlock (&app->mu);
        uv_async_send (&app->async);
    }
}

static int
s_on_complete (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    s_app_t *app = arg;
    (void) req;
    pthread_mutex_lock (&app->mu);
    bool full = app->queued >= app->queue_max;
    pthread_mutex_unlock (&app->mu);
    if (full) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, "llm.queue_max",
                       "llm-gateway has %zu completions queued; try again shortly", app->queue_max);
        return -1;
    }
    s_job_t *job = calloc (1, sizeof *job);
    if (job == NULL)
        return -1;
    job->rq = svc_defer (svc);
    if (job->rq == NULL) {
        free (job);
        return -1;
    }
    pthread_mutex_lock (&app->mu);
    if (app->todo_tail)
        app->todo_tail->next = job;
    else
        app->todo_head = job;
    app->todo_tail = job;
    app->queued++;
    pthread_cond_signal (&app->cv);
    pthread_mutex_unlock (&app->mu);
    return SVC_DEFERRED;
}

static void
s_on_close (svc_t *svc, void *arg)
{
    s_app_t *app = arg;
    (void) svc;
    lg_gateway_cancel (app->gw);
    pthread_mutex_lock (&app->mu);
    app->stop = true;
    pthread_cond_broadcast (&app->cv);
    pthread_mutex_unlock (&app->mu);
    for (int i = 0; i < app->nthreads; i++)
        pthread_join (app->threads[i], NULL);
    app->nthreads = 0;
    /* Jobs that never started: abandon (the client hits its deadline). */
    while (app->todo_head) {
        s_job_t *j = app->todo_head;
        app->todo_head = j->next;
        bus_request_destroy (&j->rq);
        free (j);
    }
    app->todo_tail = NULL;
    s_on_async (&app->async);
    if (app->async_open) {
        uv_close ((uv_handle_t *) &app->async, NULL);
        app->async_open = false;
    }
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new ("llm-gateway", argc, argv, &rc);
    if (svc == NULL)
        return rc;
    s_app_t app = { 0 };
    app.svc = svc;
    pthread_mutex_init (&app.mu, NULL);
    pthread_cond_init (&app.cv, NULL);
    char err[700];
    app.gw = lg_gateway_new (svc_cfg (svc), err, sizeof err);
    if (app.gw == NULL) {
        log_emit (LOG_ERROR, "config", "%s", err);
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    int64_t qmax;
    if (cfg_int (svc_cfg (svc), "llm.queue_max", 64, 1, 100000, &qmax) != 0) {
        log_emit (LOG_ERROR, "config", "%s", cfg_error (svc_cfg (svc)));
        lg_gateway_destroy (&app.gw);
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    app.queue_max = (size_t) qmax;
    const lg_config_t *conf = lg_gateway_config (app.gw);
    char desc[900];
    lg_gateway_describe (app.gw, desc, sizeof desc);
    log_emit (LOG_INFO, "llm.config", "%s", desc);
    if (conf->provider != LG_PROV_NARRATOR && !conf->prov[conf->provider].usable)
        log_emit (LOG_WARN, "llm.provider_unusable", "%s; answers come from the built-in narrator",
                  conf->prov[conf->provider].unusable_reason);

    if (uv_async_init (svc_loop (svc), &app.async, s_on_async) != 0) {
        log_emit (LOG_ERROR, "startup", "uv_async_init failed");
        lg_gateway_destroy (&app.gw);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    app.async.data = &app;
    app.async_open = true;
    app.threads = calloc ((size_t) conf->workers, sizeof *app.threads);
    for (int i = 0; app.threads && i < conf->workers; i++) {
        if (pthread_create (&app.threads[i], NULL, s_worker, &app) != 0)
            break;
        app.nthreads++;
    }
    if (app.nthreads == 0) {
        log_emit (LOG_ERROR, "startup", "could not start worker threads");
        uv_close ((uv_handle_t *) &app.async, NULL);
        uv_run (svc_loop (svc), UV_RUN_NOWAIT);
        free (app.threads);
        lg_gateway_destroy (&app.gw);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REQUEST, s_on_complete, &app);
    svc_on_close (svc, s_on_close, &app);
    char detail[1200];
    lg_cache_t *cache = lg_gateway_cache (app.gw);
    snprintf (detail, sizeof detail, "[+]%s [+]workers %d %s%s", desc, app.nthreads, cache ? "[+]state " : "",
              cache ? lg_cache_path (cache) : "");
    svc_set_ready (svc, true, detail);
    rc = svc_run (svc);
    svc_destroy (&svc);
    free (app.threads);
    lg_gateway_destroy (&app.gw);
    pthread_cond_destroy (&app.cv);
    pthread_mutex_destroy (&app.mu);
    return rc;
}
