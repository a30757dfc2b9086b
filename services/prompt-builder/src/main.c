/* main.c — the prompt-builder daemon: Explain (chip click or free question →
 * grounded, cited answer) and Commentary (history, SSE replay), plus the
 * built-in Ping/Metrics of svc.h. The pipeline is in daemon_explain.c, the
 * domain code in the pbd_prompt library.
 *
 * Configuration (cfg.h: COPILOT_PROMPT_BUILDER_<KEY> env, config file, --set):
 *   prompt_builder.history_db         commentary SQLite file; default
 *                                     <data_dir>/prompt-builder.db when data_dir
 *                                     is set, else <run_dir>/data/prompt-builder.db
 *   prompt_builder.report_service     daemon names (endpoints resolve through
 *   prompt_builder.graph_service      <name>.endpoint, svc.h): report-service,
 *   prompt_builder.retrieval_service  graph-service, retrieval-router,
 *   prompt_builder.llm_service        llm-gateway
 *   prompt_builder.report_timeout_ms  10000   RunReport / EntityFacts
 *   prompt_builder.graph_timeout_ms   5000    Subgraph
 *   prompt_builder.retrieval_timeout_ms 5000  each Search
 *   prompt_builder.llm_timeout_ms     60000   Complete (passed as timeout_ms)
 *   prompt_builder.graph_hops         2
 *   prompt_builder.graph_budget       40      nodes
 *   prompt_builder.k_telemetry        8
 *   prompt_builder.k_docs             4
 *   prompt_builder.k_runbooks         4
 *   prompt_builder.budget_tokens      6000    prompt budget (bytes / 4)
 *   prompt_builder.hit_text_max       1200    bytes of one hit's text
 *   prompt_builder.llm_max_tokens     0       0 = llm-gateway default
 *   prompt_builder.commentary_limit_max 500
 *   prompt_builder.workers            4       Explain pipelines running at once
 *   prompt_builder.queue_max          64      Explains waiting for a worker
 *                                             (more: RESOURCE_EXHAUSTED)
 *
 * Threading: the loop thread (svc.h) answers Ping, Metrics and Commentary,
 * validates Explains and replays duplicates from the history; each new
 * Explain is deferred and its pipeline (synchronous calls to the other
 * daemons, bounded by timeouts and the request deadline) runs on one of the
 * worker threads of daemon_pool.c, each with its own bus clients. History
 * writes, commentary publication and replies go back to the loop thread.
 * Start-up fails (exit PROC_EXIT_CONFIG) when the history file cannot be
 * opened: the daemon would otherwise lose idempotency and history.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_internal.h"
#include "log.h"
#include "str.h"

static int
s_int (cfg_t *cfg, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    if (cfg_int (cfg, key, def, min, max, out) != 0) {
        log_error ("config", "%s", cfg_error (cfg));
        return -1;
    }
    return 0;
}

static int
s_load_conf (svc_t *svc, pd_conf_t *c)
{
    cfg_t *cfg = svc_cfg (svc);
    cfg_str (cfg, "prompt_builder.report_service", "report-service", &c->report_service);
    cfg_str (cfg, "prompt_builder.graph_service", "graph-service", &c->graph_service);
    cfg_str (cfg, "prompt_builder.retrieval_service", "retrieval-router", &c->retrieval_service);
    cfg_str (cfg, "prompt_builder.llm_service", "llm-gateway", &c->llm_service);
    if (s_int (cfg, "prompt_builder.report_timeout_ms", 10000, 100, 600000, &c->report_timeout_ms)
        || s_int (cfg, "prompt_builder.graph_timeout_ms", 5000, 100, 600000, &c->graph_timeout_ms)
        || s_int (cfg, "prompt_builder.retrieval_timeout_ms", 5000, 100, 600000, &c->retrieval_timeout_ms)
        || s_int (cfg, "prompt_builder.llm_timeout_ms", 60000, 100, 600000, &c->llm_timeout_ms)
        || s_int (cfg, "prompt_builder.graph_hops", 2, 1, 6, &c->graph_hops)
        || s_int (cfg, "prompt_builder.graph_budget", 40, 1, 1000, &c->graph_budget)
        || s_int (cfg, "prompt_builder.k_telemetry", 8, 1, 100, &c->k_telemetry)
        || s_int (cfg, "prompt_builder.k_docs", 4, 1, 50, &c->k_docs)
        || s_int (cfg, "prompt_builder.k_runbooks", 4, 1, 50, &c->k_runbooks)
        || s_int (cfg, "prompt_builder.budget_tokens", 6000, 200, 1000000, &c->budget_tokens)
        || s_int (cfg, "prompt_builder.hit_text_max", 1200, 64, 100000, &c->hit_text_max)
        || s_int (cfg, "prompt_builder.llm_max_tokens", 0, 0, 1000000, &c->llm_max_tokens)
        || s_int (cfg, "prompt_builder.commentary_limit_max", 500, 1, 1000, &c->commentary_limit_max)
        || s_int (cfg, "prompt_builder.workers", 4, 1, 64, &c->workers)
        || s_int (cfg, "prompt_builder.queue_max", 64, 1, 100000, &c->queue_max))
        return -1;
    const char *hist = cfg_get (cfg, "prompt_builder.history_db");
    const char *data_dir = cfg_get (cfg, "data_dir");
    int w;
    if (hist && *hist)
        w = str_copy (c->history_db, sizeof c->history_db, hist);
    else if (data_dir && *data_dir)
        w = str_fmt (c->history_db, sizeof c->history_db, "%s/prompt-builder.db", data_dir);
    else {
        char run_dir[512];
        if (svc_run_dir (cfg, run_dir, sizeof run_dir) != 0) {
            log_error ("config", "run_dir: path too long");
            return -1;
        }
        char dir[700];
        if (str_fmt (dir, sizeof dir, "%s/data", run_dir) != 0) {
            log_error ("config", "run_dir: path too long");
            return -1;
        }
        if (mkdir (dir, 0700) != 0 && errno != EEXIST)
            log_warn ("config", "cannot create %s: %s", dir, strerror (errno));
        w = str_fmt (c->history_db, sizeof c->history_db, "%s/prompt-builder.db", dir);
    }
    if (w != 0) {
        log_error ("config", "prompt_builder.history_db: path longer than %zu bytes", sizeof c->history_db - 1);
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new ("prompt-builder", argc, argv, &rc);
    if (!svc)
        return rc;
    pd_app_t app = {.svc = svc};
    if (s_load_conf (svc, &app.conf) != 0) {
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    char err[512] = "";
    app.hist = pbd_history_open (app.conf.history_db, err, sizeof err);
    if (!app.hist) {
        log_error ("history.open", "%s: %s", app.conf.history_db, err);
        fprintf (stderr, "prompt-builder: cannot open the commentary history %s: %s\n", app.conf.history_db, err);
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    log_info ("history.open", "commentary history at %s", app.conf.history_db);
    if (pd_pool_start (&app, (int) app.conf.workers, (size_t) app.conf.queue_max) != 0) {
        log_error ("startup", "cannot start the Explain worker pool");
        fprintf (stderr, "prompt-builder: cannot start the Explain worker pool\n");
        pd_explain_close (svc, &app);
        uv_run (svc_loop (svc), UV_RUN_NOWAIT);
        svc_destroy (&svc);
        pd_pool_destroy (&app);
        pbd_history_destroy (&app.hist);
        return PROC_EXIT_FAILURE;
    }
    svc_on_close (svc, pd_explain_close, &app);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST, pd_on_explain, &app);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REQUEST, pd_on_commentary, &app);
    svc_declare_family (svc, "commentary");
    char detail[1200];
    str_fmt (detail, sizeof detail, "[+]history %s [+]workers %lld", app.conf.history_db, (long long) app.conf.workers);
    svc_set_ready (svc, true, detail);
    rc = svc_run (svc);
    svc_destroy (&svc);
    pd_pool_destroy (&app);
    pbd_history_destroy (&app.hist);
    return rc;
}
