/* daemon_pool.c — the prompt-builder's worker pool: Explain pipelines run on
 * `prompt_builder.workers` threads so the loop thread (svc.h) stays free for
 * Ping, Metrics, Commentary and new requests.
 *
 * Shape (same as llm-gateway's main.c): the loop submits a task (work fn +
 * done fn + arg); a worker runs `work` and pushes the task on a done list,
 * then wakes the loop with a uv_async_t; the loop runs `done` (reply,
 * history, publish: everything that touches loop-owned objects). Tasks
 * finish in completion order; replies are routed by their deferred request.
 *
 * Each worker owns one bus client per backend daemon (graph, retrieval,
 * report, llm), created on first use in the worker thread from endpoints the
 * loop resolved at start (cfg is only read on the loop). zmq sockets are not
 * shared between threads; the zmq context is (it is thread-safe), so CURVE
 * settings installed on it apply to the workers' sockets too.
 *
 * Shutdown (pd_pool_close, an svc on_close hook): finished tasks are
 * answered; if a worker is still inside a backend call, the zmq context is
 * shut down (zmq_ctx_shutdown) so that blocking call returns at once instead
 * of after its timeout (up to prompt_builder.llm_timeout_ms); the workers are
 * joined; tasks that never ran, or ran after the shutdown, get done(ran=false)
 * so their owner frees them without replying.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon_internal.h"
#include "log.h"
#include "str.h"

#define PD_MAX_BACKENDS 4

typedef struct pd_task {
    pd_work_fn work;
    pd_done_fn done;
    void *arg;
    struct pd_task *next;
} pd_task_t;

struct _pd_worker_t {
    pd_pool_t *pool;
    pthread_t th;
    bus_client_t *clients[PD_MAX_BACKENDS];
};

struct _pd_pool_t {
    pd_app_t *app;
    char names[PD_MAX_BACKENDS][128];
    char endpoints[PD_MAX_BACKENDS][256];
    int nbackends;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pd_task_t *todo_head, *todo_tail, *done_head, *done_tail;
    size_t queued;
    size_t queue_max;
    int busy;
    bool stop;
    bool ctx_shut;
    pd_worker_t *workers;
    int nworkers;
    uv_async_t async;
    bool async_open;
    metric_t *m_queue, *m_busy;
};

/* ---------------------------------------------------------------- worker */

int
pd_worker_call (pd_worker_t *w, const char *service, env_t *req, env_t **reply_out, int timeout_ms, unsigned flags)
{
    *reply_out = NULL;
    pd_pool_t *p = w->pool;
    int i = 0;
    while (i < p->nbackends && strcmp (p->names[i], service) != 0)
        i++;
    if (i == p->nbackends)
        return BUS_E_INVALID;
    if (!w->clients[i]) {
        w->clients[i] = bus_client_new (svc_zctx (p->app->svc), p->endpoints[i], "prompt-builder", service);
        if (!w->clients[i]) {
            log_error ("pool.client", "cannot create a client for %s at %s: %s", service, p->endpoints[i],
                       bus_last_error ());
            return BUS_E_INVALID;
        }
    }
    return bus_client_call (w->clients[i], req, reply_out, timeout_ms, flags);
}

static void *
s_worker (void *arg)
{
    pd_worker_t *w = arg;
    pd_pool_t *p = w->pool;
    for (;;) {
        pthread_mutex_lock (&p->mu);
        while (!p->stop && !p->todo_head)
            pthread_cond_wait (&p->cv, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock (&p->mu);
            break;
        }
        pd_task_t *t = p->todo_head;
        p->todo_head = t->next;
        if (!p->todo_head)
            p->todo_tail = NULL;
        t->next = NULL;
        p->queued--;
        p->busy++;
        metric_set (p->m_queue, (double) p->queued);
        metric_set (p->m_busy, (double) p->busy);
        pthread_mutex_unlock (&p->mu);

        t->work (w, t->arg);

        pthread_mutex_lock (&p->mu);
        p->busy--;
        metric_set (p->m_busy, (double) p->busy);
        if (p->done_tail)
            p->done_tail->next = t;
        else
            p->done_head = t;
        p->done_tail = t;
        pthread_mutex_unlock (&p->mu);
        uv_async_send (&p->async);
    }
    for (int i = 0; i < PD_MAX_BACKENDS; i++)
        bus_client_destroy (&w->clients[i]);
    return NULL;
}

/* ------------------------------------------------------------------ loop */

static void
s_process_done (pd_pool_t *p, bool ran)
{
    pthread_mutex_lock (&p->mu);
    pd_task_t *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock (&p->mu);
    while (list) {
        pd_task_t *n = list->next;
        list->done (p->app, list->arg, ran);
        free (list);
        list = n;
    }
}

static void
s_on_async (uv_async_t *h)
{
    s_process_done (h->data, true);
}

static int
s_add_backend (pd_pool_t *p, const char *name)
{
    if (!name || !*name)
        return 0;
    for (int i = 0; i < p->nbackends; i++)
        if (strcmp (p->names[i], name) == 0)
            return 0;
    if (p->nbackends >= PD_MAX_BACKENDS || str_copy (p->names[p->nbackends], sizeof p->names[0], name) != 0)
        return -1;
    if (svc_endpoint_of (svc_cfg (p->app->svc), name, p->endpoints[p->nbackends], sizeof p->endpoints[0]) != 0) {
        log_error ("pool.endpoint", "cannot resolve the endpoint of %s", name);
        return -1;
    }
    p->nbackends++;
    return 0;
}

int
pd_pool_start (pd_app_t *app, int nworkers, size_t queue_max)
{
    pd_pool_t *p = calloc (1, sizeof *p);
    if (!p)
        return -1;
    p->app = app;
    p->queue_max = queue_max;
    pthread_mutex_init (&p->mu, NULL);
    pthread_cond_init (&p->cv, NULL);
    metrics_t *m = metrics_global ();
    p->m_queue = metrics_gauge (m, "copilot_explain_queue_depth", "Explain requests waiting for a worker", NULL);
    p->m_busy = metrics_gauge (m, "copilot_explain_workers_busy", "Workers running an Explain pipeline", NULL);
    app->pool = p;
    const pd_conf_t *c = &app->conf;
    if (s_add_backend (p, c->report_service) || s_add_backend (p, c->graph_service)
        || s_add_backend (p, c->retrieval_service) || s_add_backend (p, c->llm_service))
        return -1;
    if (uv_async_init (svc_loop (app->svc), &p->async, s_on_async) != 0)
        return -1;
    p->async.data = p;
    p->async_open = true;
    p->workers = calloc ((size_t) nworkers, sizeof *p->workers);
    if (!p->workers)
        return -1;
    for (int i = 0; i < nworkers; i++) {
        p->workers[i].pool = p;
        if (pthread_create (&p->workers[i].th, NULL, s_worker, &p->workers[i]) != 0)
            break;
        p->nworkers++;
    }
    return p->nworkers > 0 ? 0 : -1;
}

int
pd_pool_submit (pd_app_t *app, pd_work_fn work, pd_done_fn done, void *arg)
{
    pd_pool_t *p = app->pool;
    if (!p)
        return BUS_E_CLOSED;
    pd_task_t *t = calloc (1, sizeof *t);
    if (!t)
        return BUS_E_NOMEM;
    t->work = work;
    t->done = done;
    t->arg = arg;
    pthread_mutex_lock (&p->mu);
    int rc = p->stop ? BUS_E_CLOSED : p->queued >= p->queue_max ? BUS_E_BUSY : 0;
    if (rc == 0) {
        if (p->todo_tail)
            p->todo_tail->next = t;
        else
            p->todo_head = t;
        p->todo_tail = t;
        p->queued++;
        metric_set (p->m_queue, (double) p->queued);
        pthread_cond_signal (&p->cv);
    }
    pthread_mutex_unlock (&p->mu);
    if (rc != 0)
        free (t);
    return rc;
}

size_t
pd_pool_queue_max (pd_app_t *app)
{
    return app->pool ? app->pool->queue_max : 0;
}

void
pd_pool_close (pd_app_t *app)
{
    pd_pool_t *p = app->pool;
    if (!p)
        return;
    pthread_mutex_lock (&p->mu);
    p->stop = true;
    pthread_cond_broadcast (&p->cv);
    bool busy = p->busy > 0;
    pthread_mutex_unlock (&p->mu);
    /* what finished before the close is still answered */
    s_process_done (p, true);
    if (busy && app->svc) {
        log_warn ("pool.close", "interrupting Explain pipelines still waiting for a backend");
        zmq_ctx_shutdown (svc_zctx (app->svc));
        p->ctx_shut = true;
    }
    for (int i = 0; i < p->nworkers; i++)
        pthread_join (p->workers[i].th, NULL);
    p->nworkers = 0;
    s_process_done (p, !p->ctx_shut);
    while (p->todo_head) {
        pd_task_t *t = p->todo_head;
        p->todo_head = t->next;
        t->done (app, t->arg, false);
        free (t);
    }
    p->todo_tail = NULL;
    if (p->async_open) {
        uv_close ((uv_handle_t *) &p->async, NULL);
        p->async_open = false;
    }
}

void
pd_pool_destroy (pd_app_t *app)
{
    pd_pool_t *p = app->pool;
    if (!p)
        return;
    free (p->workers);
    pthread_cond_destroy (&p->cv);
    pthread_mutex_destroy (&p->mu);
    free (p);
    app->pool = NULL;
}
