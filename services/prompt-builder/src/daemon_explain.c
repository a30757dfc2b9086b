/* daemon_explain.c — the Explain pipeline of the prompt-builder daemon.
 *
 * One ExplainRequest (report, params, selection, chip id | free question):
 *   0. idempotency: a request id already in the history replays the stored
 *      reply (no backend or LLM call); the same id with a different request
 *      (fingerprint = SHA-256 of the canonical request) is INVALID_ARGUMENT;
 *   1. RunReport(report, params) at report-service → effective params, data
 *      version, SQL, selections with their chips; the selection is looked up
 *      by (entity_type, entity_id) and the chip by id (unknown → NOT_FOUND
 *      naming it); a chip click without an entity takes the chip's entity;
 *   2. routing (pbd_route): telemetry / docs / runbooks + reason; a free
 *      question without a selection is anchored on a `job_id=`-style anchor
 *      or node id found in its text;
 *   3. EntityFacts(entity) at report-service;
 *   4. Subgraph(anchors = entity node id + the facts' related ids) at
 *      graph-service;
 *   5. Search(telemetry, entity_ids = subgraph node ids), Search(docs),
 *      Search(runbooks) per routing at the retrieval router;
 *   6. pbd_prompt_build (fixed sections, token budget) + pbd_facts_json;
 *   7. Complete at llm-gateway;
 *   8. sources block + evidence list appended by code (pbd_cite);
 *   9. history row (seq assigned at commit), reply stored for replays,
 *      CommentaryEvent published on commentary.v1.<report_id>.
 *
 * Backend failures (documented in README "Failure behaviour"):
 *   report-service or llm-gateway down/timeout → UNAVAILABLE naming it (no
 *   answer is possible without facts or a model; the llm-gateway itself
 *   falls back to its narrator when a provider fails);
 *   graph-service or retrieval down → degrade: answer from the facts, with a
 *   visible note in the prompt, in ExplainReply.note and in the markdown;
 *   EntityFacts NOT_FOUND/INVALID (e.g. an entity type without facts) →
 *   answer without facts, with a note.
 *
 * Threading (daemon_pool.c): the handler runs step 0 on the loop thread
 * (validation, fingerprint, replay from the history), then defers the
 * request and queues steps 1-8 on a worker (prompt_builder.workers, default
 * 4). The worker calls the backends synchronously on its OWN bus clients
 * (pd_worker_call): each call is capped by its configured timeout and by the
 * Explain request's own deadline. Read-only calls are sent IDEMPOTENT (one
 * resend); Complete is not (a resend could pay for a second completion).
 * Step 9 (history, publish) and the reply run back on the loop thread, which
 * alone owns the history connection, the PUB socket and the server. So
 * Ping/Metrics/Commentary are answered while explains are in flight, and up
 * to `workers` explains progress concurrently.
 * A request whose id is already in flight with the same fingerprint waits
 * for that one and is answered like a duplicate (replay from the history, no
 * second completion); with a different fingerprint it is INVALID_ARGUMENT.
 * Nothing in the answer depends on which worker ran it or on timing: the
 * same request gives the same answer.
 *
 * Memory: reply messages follow env.h's ownership rule (every attached
 * string is env_strdup'ed). pbd_* inputs borrow from the backend replies,
 * which live until the end of the request.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "daemon_internal.h"
#include "log.h"
#include "metrics.h"
#include "pbd_cite.h"
#include "pbd_error.h"
#include "pbd_facts.h"
#include "pbd_prompt.h"
#include "pbd_route.h"
#include "str.h"

#define SVC_NAME "prompt-builder"
#define MAX_ANCHORS 12
#define MAX_FILTER_IDS 200
#define NOTES_MAX 4096
#define BLOCKS_MAX (256 * 1024)
#define ANSWER_MAX (2 * 1024 * 1024)
#define EVIDENCE_ROW_KEYS_MAX 200

typedef struct {
    int code;            /* Copilot__V1__ErrorCode, 0 = none */
    char detail[128];
    char msg[768];
} pd_err_t;

typedef struct pd_waiter {
    bus_request_t *rq;
    struct pd_waiter *next;
} pd_waiter_t;

/* Everything one request holds; freed in s_ctx_free. */
typedef struct pd_ctx {
    pd_app_t *app;
    pd_worker_t *worker;       /* set while the pipeline runs on a worker */
    bus_request_t *rq;         /* the deferred request (loop thread) */
    pd_waiter_t *waiters;      /* same request id, same fingerprint, arrived meanwhile */
    struct pd_ctx *next;       /* app->inflight list */
    int rc;                    /* pipeline result (worker → loop) */
    pd_err_t err;
    Copilot__V1__ExplainReply *out;
    buf_t *sources_json;
    const env_t *req;
    const Copilot__V1__ExplainRequest *er;
    char request_id[ENV_ID_LEN + 64];
    char fingerprint[65];
    int64_t t0;

    env_t *report_rep;
    env_t *facts_rep;
    env_t *graph_rep;
    env_t *tel_rep;
    env_t *docs_rep;
    env_t *rb_rep;
    env_t *llm_rep;

    const Copilot__V1__ReportResult *result;
    const Copilot__V1__Selection *selection;
    const Copilot__V1__Chip *chip;
    const char *entity_type;
    const char *entity_id;
    char anchor_type[64];
    char anchor_id[160];
    char node_id[256];
    const char *question;
    pbd_route_t route;

    pbd_param_t *params;
    pbd_number_t *payload;
    pbd_fact_t *facts;
    size_t n_facts;
    pbd_hit_t *hits[3];
    size_t n_hits[3];
    buf_t *notes;
    pbd_prompt_t *prompt;
    buf_t *facts_json;
} pd_ctx_t;

/* ------------------------------------------------------------ metrics --- */

static void
s_count (const char *name, const char *help, const char *labels)
{
    metric_inc (metrics_counter (metrics_global (), name, help, labels));
}

static void
s_count_outcome (const char *outcome)
{
    char labels[96];
    str_fmt (labels, sizeof labels, "outcome=\"%s\"", outcome);
    s_count ("copilot_explain_total", "Explain requests by outcome (ok, replay, error code name)", labels);
}

static void
s_count_degraded (const char *backend)
{
    char esc[96], labels[128];
    metrics_escape_label (backend, esc, sizeof esc);
    str_fmt (labels, sizeof labels, "backend=\"%s\"", esc);
    s_count ("copilot_explain_degraded_total", "Explain answers given without a backend (graph, retrieval)", labels);
}

/* ------------------------------------------------------------ helpers --- */

static bool
s_has (const char *s)
{
    return s && *s;
}

static void
s_err (pd_err_t *err, int code, const char *detail, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
static void
s_err (pd_err_t *err, int code, const char *detail, const char *fmt, ...)
{
    err->code = code;
    str_copy (err->detail, sizeof err->detail, detail ? detail : "");
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->msg, sizeof err->msg, fmt, ap);
    va_end (ap);
}

static void
s_note (pd_ctx_t *c, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_note (pd_ctx_t *c, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    if (buf_len (c->notes) > 0)
        buf_puts (c->notes, "\n");
    buf_puts (c->notes, line);
    log_warn ("explain.degraded", "%s", line);
}

/* Synchronous call with the request's deadline and a per-backend timeout.
 * 0 and *out (owned by caller) when the reply has body `expect`; otherwise
 * -1 with err filled (code from the backend's Error, or from the local
 * deadline/unavailable envelope). */
static int
s_call (pd_ctx_t *c, const char *service, env_t *req, int expect, int64_t timeout_ms, bool idempotent,
        env_t **out, pd_err_t *err)
{
    *out = NULL;
    int64_t rem = env_remaining_ms (c->req);
    if (rem != INT64_MAX) {
        rem -= 20; /* leave time to answer */
        if (rem < timeout_ms)
            timeout_ms = rem;
    }
    if (timeout_ms <= 0) {
        env_free (req);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED, service,
               "the Explain deadline passed before %s could be called", service);
        return -1;
    }
    if (req->header && c->req->header) {
        const char *trace = s_has (c->req->header->trace_id) ? c->req->header->trace_id : c->request_id;
        env_set_str (&req->header->trace_id, trace);
    }
    env_t *rep = NULL;
    int rc = pd_worker_call (c->worker, service, req, &rep, (int) timeout_ms, idempotent ? BUS_CALL_IDEMPOTENT : 0);
    env_free (req);
    if (!rep) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, service,
               "cannot reach %s: no client (%s; check its endpoint configuration)", service, bus_strerror (rc));
        return -1;
    }
    if (env_is_error (rep)) {
        const Copilot__V1__Error *e = env_error (rep);
        int code = e->code ? (int) e->code : COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
        if (rc == BUS_E_DEADLINE || rc == BUS_E_UNAVAILABLE || rc == BUS_E_CLOSED)
            s_err (err, code, service, "%s did not answer within %lld ms (%s)", service, (long long) timeout_ms,
                   e->message ? e->message : "");
        else
            s_err (err, code, service, "%s: %s", service, e->message ? e->message : "error");
        env_free (rep);
        return -1;
    }
    if ((int) rep->body_case != expect) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, service, "%s answered with an unexpected %s", service,
               env_body_name ((int) rep->body_case));
        env_free (rep);
        return -1;
    }
    *out = rep;
    return 0;
}

/* Maps a failure of a REQUIRED backend onto the reply error. */
static void
s_required_failed (pd_err_t *err, const char *service)
{
    if (err->code == COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE
        || err->code == COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED) {
        char msg[sizeof err->msg];
        str_copy (msg, sizeof msg, err->msg);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, service, "%s is unavailable: %s", service, msg);
    }
}

static int
s_copy_params (Copilot__V1__Param ***dst, size_t *n_dst, Copilot__V1__Param *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
        if (!p)
            return -1;
        p->key = env_strdup (src[i]->key);
        p->value = env_strdup (src[i]->value);
        if (!p->key || !p->value || ENV_APPEND (*dst, *n_dst, p) != 0) {
            protobuf_c_message_free_unpacked (&p->base, NULL);
            return -1;
        }
    }
    return 0;
}

static int
s_cmp_param_ptr (const void *a, const void *b)
{
    const Copilot__V1__Param *pa = *(Copilot__V1__Param *const *) a;
    const Copilot__V1__Param *pb = *(Copilot__V1__Param *const *) b;
    int c = strcmp (pa->key, pb->key);
    return c ? c : strcmp (pa->value, pb->value);
}

/* SHA-256 of the canonical request (fields joined by 0x1f, params sorted). */
static int
s_fingerprint (const Copilot__V1__ExplainRequest *er, char out[65])
{
    buf_t *b = buf_new (1 << 20);
    if (!b)
        return -1;
    Copilot__V1__Param **sorted = NULL;
    if (er->n_params) {
        sorted = calloc (er->n_params, sizeof *sorted);
        if (!sorted) {
            buf_destroy (&b);
            return -1;
        }
        memcpy (sorted, er->params, er->n_params * sizeof *sorted);
        qsort (sorted, er->n_params, sizeof *sorted, s_cmp_param_ptr);
    }
    int rc = buf_printf (b, "%s\x1f", er->report_id);
    for (size_t i = 0; i < er->n_params && rc == 0; i++)
        rc = buf_printf (b, "%s=%s\x1e", sorted[i]->key, sorted[i]->value);
    rc = rc ? rc
            : buf_printf (b, "\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", er->entity_type, er->entity_id, er->chip_id, er->question,
                          er->session_id);
    if (rc == 0)
        str_sha256_hex (buf_data (b), buf_len (b), out);
    free (sorted);
    buf_destroy (&b);
    return rc == 0 ? 0 : -1;
}

/* --------------------------------------------------------- pipeline ---- */

static int
s_run_report (pd_ctx_t *c, pd_err_t *err)
{
    const Copilot__V1__ExplainRequest *er = c->er;
    env_t *req = env_new (SVC_NAME);
    Copilot__V1__RunReportRequest *rr = env_msg_new (&copilot__v1__run_report_request__descriptor);
    if (!req || !rr) {
        env_free (req);
        if (rr)
            protobuf_c_message_free_unpacked (&rr->base, NULL);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    rr->report_id = env_strdup (er->report_id);
    if (!rr->report_id || s_copy_params (&rr->params, &rr->n_params, er->params, er->n_params) != 0
        || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, rr) != 0) {
        env_free (req);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    const char *svc = c->app->conf.report_service;
    if (s_call (c, svc, req, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, c->app->conf.report_timeout_ms, true,
                &c->report_rep, err)
        != 0) {
        s_required_failed (err, svc);
        return -1;
    }
    c->result = c->report_rep->run_report_reply->result;
    if (!c->result) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, svc, "%s returned a RunReport reply without a result", svc);
        return -1;
    }
    return 0;
}

/* Finds the selection and the chip. */
static int
s_find_selection (pd_ctx_t *c, pd_err_t *err)
{
    const Copilot__V1__ExplainRequest *er = c->er;
    const Copilot__V1__ReportResult *r = c->result;
    bool has_entity = s_has (er->entity_type) && s_has (er->entity_id);
    if (has_entity) {
        for (size_t i = 0; i < r->n_selections && !c->selection; i++)
            if (strcmp (r->selections[i]->entity_type, er->entity_type) == 0
                && strcmp (r->selections[i]->entity_id, er->entity_id) == 0)
                c->selection = r->selections[i];
        c->entity_type = er->entity_type;
        c->entity_id = er->entity_id;
    }
    if (!s_has (er->chip_id))
        return 0;
    if (has_entity && !c->selection) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND, "entity_id",
               "unknown chip '%s': %s %s is not a selection of report '%s' for these parameters", er->chip_id,
               er->entity_type, er->entity_id, er->report_id);
        return -1;
    }
    for (size_t i = 0; i < r->n_selections && !c->chip; i++) {
        const Copilot__V1__Selection *s = r->selections[i];
        if (c->selection && s != c->selection)
            continue;
        for (size_t k = 0; k < s->n_chips; k++)
            if (strcmp (s->chips[k]->id, er->chip_id) == 0) {
                c->chip = s->chips[k];
                c->selection = s;
                break;
            }
    }
    if (!c->chip) {
        if (has_entity)
            s_err (err, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND, "chip_id",
                   "unknown chip '%s' for %s %s in report '%s'", er->chip_id, er->entity_type, er->entity_id,
                   er->report_id);
        else
            s_err (err, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND, "chip_id", "unknown chip '%s' in report '%s'",
                   er->chip_id, er->report_id);
        return -1;
    }
    if (!has_entity) {
        c->entity_type = s_has (c->chip->entity_type) ? c->chip->entity_type : c->selection->entity_type;
        c->entity_id = s_has (c->chip->entity_id) ? c->chip->entity_id : c->selection->entity_id;
    }
    return 0;
}

static void
s_route (pd_ctx_t *c)
{
    pbd_route_input_t ri = {.question = c->question,
                            .chip_id = c->chip ? c->chip->id : NULL,
                            .chip_label = c->chip ? c->chip->label : NULL,
                            .entity_type = c->entity_type,
                            .entity_id = c->entity_id};
    pbd_route_decide (&ri, &c->route);
    if (s_has (c->entity_type) && s_has (c->entity_id)) {
        if (pbd_node_id (c->entity_type, c->entity_id, c->node_id, sizeof c->node_id) != 0)
            c->node_id[0] = '\0';
        return;
    }
    /* Free question: anchor on the node id found in the text. */
    const char *sep = strstr (c->route.anchor, "::");
    if (sep) {
        size_t tl = (size_t) (sep - c->route.anchor);
        if (tl < sizeof c->anchor_type && strlen (sep + 2) < sizeof c->anchor_id) {
            memcpy (c->anchor_type, c->route.anchor, tl);
            c->anchor_type[tl] = '\0';
            str_copy (c->anchor_id, sizeof c->anchor_id, sep + 2);
            c->entity_type = c->anchor_type;
            c->entity_id = c->anchor_id;
            str_copy (c->node_id, sizeof c->node_id, c->route.anchor);
        }
    }
}

static int
s_entity_facts (pd_ctx_t *c, pd_err_t *err)
{
    if (!s_has (c->entity_type) || !s_has (c->entity_id))
        return 0;
    env_t *req = env_new (SVC_NAME);
    Copilot__V1__EntityFactsRequest *fr = env_msg_new (&copilot__v1__entity_facts_request__descriptor);
    if (!req || !fr) {
        env_free (req);
        if (fr)
            protobuf_c_message_free_unpacked (&fr->base, NULL);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    fr->entity_type = env_strdup (c->entity_type);
    fr->entity_id = env_strdup (c->entity_id);
    fr->report_id = env_strdup (c->er->report_id);
    /* The report's effective window: EntityFacts accepts the common
     * parameters only (rs_engine.h); unset ones (null → "") are left out. */
    static const char *const common[] = {"from", "to", "workspace", "as_of", NULL};
    Copilot__V1__Param *win[8];
    size_t nwin = 0;
    for (size_t i = 0; i < c->result->n_params && nwin < 8; i++)
        for (size_t k = 0; common[k]; k++)
            if (strcmp (c->result->params[i]->key, common[k]) == 0 && s_has (c->result->params[i]->value))
                win[nwin++] = c->result->params[i];
    if (!fr->entity_type || !fr->entity_id || !fr->report_id
        || s_copy_params (&fr->params, &fr->n_params, win, nwin) != 0
        || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, fr) != 0) {
        env_free (req);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    const char *svc = c->app->conf.report_service;
    pd_err_t e = {0};
    if (s_call (c, svc, req, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY, c->app->conf.report_timeout_ms, true,
                &c->facts_rep, &e)
        != 0) {
        if (e.code == COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND || e.code == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT
            || e.code == COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED) {
            s_note (c, "No entity facts for %s %s (%s); the answer rests on the report row and the context only.",
                    c->entity_type, c->entity_id, e.msg);
            return 0;
        }
        *err = e;
        s_required_failed (err, svc);
        return -1;
    }
    const Copilot__V1__EntityFactsReply *fr2 = c->facts_rep->entity_facts_reply;
    if (fr2->n_facts) {
        c->facts = calloc (fr2->n_facts, sizeof *c->facts);
        if (!c->facts) {
            s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < fr2->n_facts; i++) {
        const Copilot__V1__Fact *f = fr2->facts[i];
        pbd_fact_t *p = &c->facts[c->n_facts++];
        p->name = f->name;
        p->text = f->text;
        p->unit = f->unit;
        p->source_table = f->source_table;
        p->row_keys = (const char *const *) f->row_keys;
        p->n_row_keys = f->n_row_keys;
        p->value = f->value;
        /* report-service sends NaN for textual facts (proto3 has no null). */
        p->has_value = isfinite (f->value);
    }
    return 0;
}

static int
s_subgraph (pd_ctx_t *c)
{
    const char *anchors[MAX_ANCHORS];
    size_t n = 0;
    if (s_has (c->node_id))
        anchors[n++] = c->node_id;
    if (c->facts_rep) {
        const Copilot__V1__EntityFactsReply *fr = c->facts_rep->entity_facts_reply;
        for (size_t i = 0; i < fr->n_related_ids && n < MAX_ANCHORS; i++) {
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp (anchors[k], fr->related_ids[i]) == 0;
            if (!dup && s_has (fr->related_ids[i]))
                anchors[n++] = fr->related_ids[i];
        }
    }
    if (n == 0)
        return 0;
    env_t *req = env_new (SVC_NAME);
    Copilot__V1__SubgraphRequest *sr = env_msg_new (&copilot__v1__subgraph_request__descriptor);
    if (!req || !sr) {
        env_free (req);
        if (sr)
            protobuf_c_message_free_unpacked (&sr->base, NULL);
        return -1;
    }
    sr->hops = (uint32_t) c->app->conf.graph_hops;
    sr->node_budget = (uint32_t) c->app->conf.graph_budget;
    for (size_t i = 0; i < n; i++) {
        char *a = env_strdup (anchors[i]);
        if (!a || ENV_APPEND (sr->anchors, sr->n_anchors, a) != 0) {
            free (a);
            protobuf_c_message_free_unpacked (&sr->base, NULL);
            env_free (req);
            return -1;
        }
    }
    if (env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REQUEST, sr) != 0) {
        env_free (req);
        return -1;
    }
    pd_err_t e = {0};
    const char *svc = c->app->conf.graph_service;
    for (;;) {
        /* s_call consumes req; keep a packed copy for a retry. */
        env_t *retry = NULL;
        if (sr->n_anchors > 1) {
            uint8_t *bytes = NULL;
            size_t len = 0;
            if (env_encode (req, &bytes, &len) == 0)
                env_decode (bytes, len, &retry);
            free (bytes);
        }
        if (s_call (c, svc, req, COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REPLY, c->app->conf.graph_timeout_ms, true,
                    &c->graph_rep, &e)
            == 0) {
            env_free (retry);
            break;
        }
        /* An anchor the graph does not know (e.g. an anomaly node before its
         * alert) is dropped and the call repeated with the others. */
        const char *u = strstr (e.msg, "unknown node id '");
        char unknown[256] = "";
        if (e.code == COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND && u) {
            u += strlen ("unknown node id '");
            const char *q = strchr (u, '\'');
            if (q && (size_t) (q - u) < sizeof unknown) {
                memcpy (unknown, u, (size_t) (q - u));
                unknown[q - u] = '\0';
            }
        }
        size_t dropped = 0;
        if (retry && unknown[0]) {
            Copilot__V1__SubgraphRequest *rr = retry->subgraph_request;
            for (size_t i = 0; i < rr->n_anchors; i++) {
                if (strcmp (rr->anchors[i], unknown) == 0) {
                    free (rr->anchors[i]);
                    memmove (&rr->anchors[i], &rr->anchors[i + 1], (rr->n_anchors - i - 1) * sizeof *rr->anchors);
                    rr->n_anchors--;
                    dropped = 1;
                    break;
                }
            }
        }
        if (!dropped || retry->subgraph_request->n_anchors == 0) {
            env_free (retry);
            s_note (c, "Graph context unavailable (%s); telemetry retrieval is filtered to the selected entity only.",
                    e.msg);
            s_count_degraded (svc);
            break;
        }
        log_info ("explain.graph", "anchor %s unknown to %s; retrying without it", unknown, svc);
        req = retry;
        sr = retry->subgraph_request;
    }
    return 0;
}

/* One Search call; a failure becomes a note (degrade). */
static void
s_search (pd_ctx_t *c, const char *corpus, int64_t k, bool filtered, env_t **out)
{
    env_t *req = env_new (SVC_NAME);
    Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
    if (!req || !sr) {
        env_free (req);
        if (sr)
            protobuf_c_message_free_unpacked (&sr->base, NULL);
        s_note (c, "Search of %s skipped: out of memory.", corpus);
        return;
    }
    sr->corpus = env_strdup (corpus);
    sr->query = env_strdup (c->question);
    sr->k = (uint32_t) k;
    bool ok = sr->corpus && sr->query;
    if (ok && filtered) {
        const Copilot__V1__SubgraphReply *g = c->graph_rep ? c->graph_rep->subgraph_reply : NULL;
        if (g && g->n_nodes) {
            for (size_t i = 0; i < g->n_nodes && i < MAX_FILTER_IDS && ok; i++) {
                char *id = env_strdup (g->nodes[i]->id);
                ok = id && ENV_APPEND (sr->entity_ids, sr->n_entity_ids, id) == 0;
                if (!ok)
                    free (id);
            }
        } else if (s_has (c->node_id)) {
            char *id = env_strdup (c->node_id);
            ok = id && ENV_APPEND (sr->entity_ids, sr->n_entity_ids, id) == 0;
            if (!ok)
                free (id);
        }
    }
    if (!ok || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr) != 0) {
        if (!ok)
            protobuf_c_message_free_unpacked (&sr->base, NULL);
        env_free (req);
        s_note (c, "Search of %s skipped: out of memory.", corpus);
        return;
    }
    pd_err_t e = {0};
    const char *svc = c->app->conf.retrieval_service;
    if (s_call (c, svc, req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY, c->app->conf.retrieval_timeout_ms, true, out,
                &e)
        != 0) {
        s_note (c, "Retrieval of %s unavailable (%s); answered from the facts without %s hits.", corpus, e.msg, corpus);
        s_count_degraded (svc);
    }
}

static int
s_hits (pd_ctx_t *c, int slot, const env_t *rep)
{
    if (!rep)
        return 0;
    const Copilot__V1__SearchReply *r = rep->search_reply;
    if (r->n_hits == 0)
        return 0;
    c->hits[slot] = calloc (r->n_hits, sizeof *c->hits[slot]);
    if (!c->hits[slot])
        return -1;
    for (size_t i = 0; i < r->n_hits; i++) {
        const Copilot__V1__SearchHit *h = r->hits[i];
        c->hits[slot][i] = (pbd_hit_t){.doc_id = h->doc_id, .corpus = h->corpus, .title = h->title,
                                       .url = h->url, .anchor = h->anchor, .text = h->text};
    }
    c->n_hits[slot] = r->n_hits;
    return 0;
}

static int
s_retrieve (pd_ctx_t *c)
{
    pd_conf_t *cf = &c->app->conf;
    if (c->route.telemetry)
        s_search (c, "telemetry", cf->k_telemetry, true, &c->tel_rep);
    if (c->route.docs)
        s_search (c, "docs", cf->k_docs, false, &c->docs_rep);
    if (c->route.runbooks)
        s_search (c, "runbooks", cf->k_runbooks, false, &c->rb_rep);
    if (s_hits (c, 0, c->tel_rep) || s_hits (c, 1, c->docs_rep) || s_hits (c, 2, c->rb_rep))
        return -1;
    return 0;
}

static void
s_input (pd_ctx_t *c, pbd_input_t *in, pbd_chip_t *chip)
{
    const Copilot__V1__ReportResult *r = c->result;
    memset (in, 0, sizeof *in);
    in->report_id = c->er->report_id;
    in->report_title = r->title;
    in->data_version = r->data_version;
    in->params = c->params;
    in->n_params = r->n_params;
    in->entity_type = c->entity_type;
    in->entity_id = c->entity_id;
    if (c->facts_rep && s_has (c->facts_rep->entity_facts_reply->label))
        in->entity_label = c->facts_rep->entity_facts_reply->label;
    else if (c->selection)
        in->entity_label = c->selection->label;
    if (c->selection) {
        in->payload = c->payload;
        in->n_payload = c->selection->n_payload;
    }
    if (c->chip) {
        *chip = (pbd_chip_t){c->chip->id, c->chip->lane, c->chip->label, c->chip->prompt};
        in->chip = chip;
    }
    in->question = c->question;
    in->facts = c->facts;
    in->n_facts = c->n_facts;
    in->subgraph_text = c->graph_rep ? c->graph_rep->subgraph_reply->text : NULL;
    in->note = buf_len (c->notes) ? buf_data (c->notes) : NULL;
    in->telemetry = c->hits[0];
    in->n_telemetry = c->n_hits[0];
    in->docs = c->hits[1];
    in->n_docs = c->n_hits[1];
    in->runbooks = c->hits[2];
    in->n_runbooks = c->n_hits[2];
    in->route = &c->route;
}

static int
s_prepare_arrays (pd_ctx_t *c)
{
    const Copilot__V1__ReportResult *r = c->result;
    if (r->n_params) {
        c->params = calloc (r->n_params, sizeof *c->params);
        if (!c->params)
            return -1;
        for (size_t i = 0; i < r->n_params; i++)
            c->params[i] = (pbd_param_t){r->params[i]->key, r->params[i]->value};
    }
    if (c->selection && c->selection->n_payload) {
        c->payload = calloc (c->selection->n_payload, sizeof *c->payload);
        if (!c->payload)
            return -1;
        for (size_t i = 0; i < c->selection->n_payload; i++)
            c->payload[i] = (pbd_number_t){c->selection->payload[i]->name, c->selection->payload[i]->value};
    }
    return 0;
}

static int
s_complete (pd_ctx_t *c, pd_err_t *err)
{
    env_t *req = env_new (SVC_NAME);
    Copilot__V1__CompletionRequest *cr = env_msg_new (&copilot__v1__completion_request__descriptor);
    if (!req || !cr) {
        env_free (req);
        if (cr)
            protobuf_c_message_free_unpacked (&cr->base, NULL);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    cr->system_prompt = env_strdup (pbd_prompt_system (c->prompt));
    cr->prompt = env_strdup (pbd_prompt_user (c->prompt));
    cr->facts_json = env_strdup (buf_data (c->facts_json));
    cr->lane = env_strdup (c->chip ? c->chip->lane : "");
    cr->context = env_strdup (pbd_prompt_context (c->prompt));
    cr->max_tokens = (uint32_t) c->app->conf.llm_max_tokens;
    int64_t t = c->app->conf.llm_timeout_ms;
    int64_t rem = env_remaining_ms (c->req);
    if (rem != INT64_MAX && rem - 50 < t)
        t = rem - 50;
    cr->timeout_ms = t > 0 ? (uint32_t) t : 1;
    if (!cr->system_prompt || !cr->prompt || !cr->facts_json || !cr->lane || !cr->context
        || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REQUEST, cr) != 0) {
        env_free (req);
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    const char *svc = c->app->conf.llm_service;
    /* The gateway's own timeout covers retries; give the bus a little more. */
    if (s_call (c, svc, req, COPILOT__V1__ENVELOPE__BODY_COMPLETION_REPLY, c->app->conf.llm_timeout_ms + 2000, false,
                &c->llm_rep, err)
        != 0) {
        s_required_failed (err, svc);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------ reply build ---- */

static Copilot__V1__SearchHit *
s_hit_copy (const Copilot__V1__SearchHit *h)
{
    Copilot__V1__SearchHit *o = env_msg_new (&copilot__v1__search_hit__descriptor);
    if (!o)
        return NULL;
    o->doc_id = env_strdup (h->doc_id);
    o->corpus = env_strdup (h->corpus);
    o->title = env_strdup (h->title);
    o->url = env_strdup (h->url);
    o->anchor = env_strdup (h->anchor);
    o->text = env_strdup (h->text);
    o->score = h->score;
    o->rank = h->rank;
    bool ok = o->doc_id && o->corpus && o->title && o->url && o->anchor && o->text;
    for (size_t i = 0; i < h->n_entity_ids && ok; i++) {
        char *id = env_strdup (h->entity_ids[i]);
        ok = id && ENV_APPEND (o->entity_ids, o->n_entity_ids, id) == 0;
        if (!ok)
            free (id);
    }
    if (!ok) {
        protobuf_c_message_free_unpacked (&o->base, NULL);
        return NULL;
    }
    return o;
}

static int
s_debug (pd_ctx_t *c, Copilot__V1__ExplainReply *out)
{
    Copilot__V1__DebugInfo *d = env_msg_new (&copilot__v1__debug_info__descriptor);
    if (!d)
        return -1;
    out->debug = d;
    d->prompt = env_strdup (pbd_prompt_full (c->prompt));
    d->context = env_strdup (pbd_prompt_context (c->prompt));
    d->subgraph_text = env_strdup (c->graph_rep ? c->graph_rep->subgraph_reply->text : "");
    d->sql = env_strdup (c->result->sql);
    if (!d->prompt || !d->context || !d->subgraph_text || !d->sql)
        return -1;
    const env_t *reps[3] = {c->tel_rep, c->docs_rep, c->rb_rep};
    for (int k = 0; k < 3; k++) {
        if (!reps[k])
            continue;
        const Copilot__V1__SearchReply *r = reps[k]->search_reply;
        for (size_t i = 0; i < r->n_hits; i++) {
            Copilot__V1__SearchHit *h = s_hit_copy (r->hits[i]);
            if (!h || ENV_APPEND (d->hits, d->n_hits, h) != 0) {
                if (h)
                    protobuf_c_message_free_unpacked (&h->base, NULL);
                return -1;
            }
        }
    }
    return 0;
}

static Copilot__V1__Source *
s_source_msg (const char *title, const char *url, const char *corpus)
{
    Copilot__V1__Source *s = env_msg_new (&copilot__v1__source__descriptor);
    if (!s)
        return NULL;
    s->title = env_strdup (title);
    s->url = env_strdup (url);
    s->corpus = env_strdup (corpus);
    if (!s->title || !s->url || !s->corpus) {
        protobuf_c_message_free_unpacked (&s->base, NULL);
        return NULL;
    }
    return s;
}

/* Answer markdown, sources and evidence. */
static int
s_answer (pd_ctx_t *c, Copilot__V1__ExplainReply *out, buf_t *sources_json)
{
    const Copilot__V1__CompletionReply *cr = c->llm_rep->completion_reply;
    buf_t *blocks = buf_new (BLOCKS_MAX), *answer = buf_new (ANSWER_MAX);
    pbd_source_t *src = NULL;
    pbd_evidence_t *ev = NULL;
    size_t n_src = 0, n_ev = 0;
    int rc = -1;
    if (!blocks || !answer)
        goto done;
    if (buf_len (c->notes) > 0) {
        buf_puts (blocks, "\nNote: ");
        buf_puts (blocks, buf_data (c->notes));
        buf_puts (blocks, "\n");
    }
    if (pbd_cite_sources (c->hits[1], pbd_prompt_kept (c->prompt, 1), c->hits[2], pbd_prompt_kept (c->prompt, 2),
                          blocks, &src, &n_src)
        != 0)
        goto done;
    if (pbd_cite_evidence (c->facts, c->n_facts, &ev, &n_ev) != 0)
        goto done;
    if (pbd_cite_evidence_block (ev, n_ev, s_has (c->node_id) ? c->node_id : c->entity_id, blocks) != 0)
        goto done;
    if (pbd_cite_finish (cr->text, buf_data (blocks), answer) != 0)
        goto done;
    if (!(out->answer_markdown = buf_detach (answer)))
        goto done;
    for (size_t i = 0; i < n_src; i++) {
        Copilot__V1__Source *s = s_source_msg (src[i].title, src[i].url, src[i].corpus);
        if (!s || ENV_APPEND (out->sources, out->n_sources, s) != 0) {
            if (s)
                protobuf_c_message_free_unpacked (&s->base, NULL);
            goto done;
        }
    }
    if (pbd_sources_json (src, n_src, sources_json) != 0)
        goto done;
    for (size_t i = 0; i < n_ev; i++) {
        Copilot__V1__Evidence *e = env_msg_new (&copilot__v1__evidence__descriptor);
        if (!e)
            goto done;
        e->entity_id = env_strdup (s_has (c->node_id) ? c->node_id : (c->entity_id ? c->entity_id : ""));
        e->label = env_strdup (ev[i].label);
        e->source_table = env_strdup (ev[i].source_table);
        e->figure = env_strdup (ev[i].figure);
        bool ok = e->entity_id && e->label && e->source_table && e->figure;
        size_t nk = ev[i].n_row_keys < EVIDENCE_ROW_KEYS_MAX ? ev[i].n_row_keys : EVIDENCE_ROW_KEYS_MAX;
        for (size_t k = 0; k < nk && ok; k++) {
            char *key = env_strdup (ev[i].row_keys[k]);
            ok = key && ENV_APPEND (e->row_keys, e->n_row_keys, key) == 0;
            if (!ok)
                free (key);
        }
        if (!ok || ENV_APPEND (out->evidence, out->n_evidence, e) != 0) {
            protobuf_c_message_free_unpacked (&e->base, NULL);
            goto done;
        }
    }
    rc = 0;
done:
    free (src);
    free (ev);
    buf_destroy (&blocks);
    buf_destroy (&answer);
    return rc;
}

static int
s_fill_reply (pd_ctx_t *c, Copilot__V1__ExplainReply *out, buf_t *sources_json)
{
    const Copilot__V1__CompletionReply *cr = c->llm_rep->completion_reply;
    out->request_id = env_strdup (c->request_id);
    out->provider = env_strdup (cr->provider);
    out->model = env_strdup (cr->model);
    out->prompt_sha256 = env_strdup (pbd_prompt_sha256 (c->prompt));
    if (!out->request_id || !out->provider || !out->model || !out->prompt_sha256)
        return -1;
    out->tokens_in = cr->tokens_in;
    out->tokens_out = cr->tokens_out;
    out->cached = cr->cached;
    if (s_answer (c, out, sources_json) != 0)
        return -1;
    /* Grounding as the gateway computed it. */
    Copilot__V1__Grounding *g = env_msg_new (&copilot__v1__grounding__descriptor);
    if (!g)
        return -1;
    out->grounding = g;
    if (cr->grounding) {
        g->grounded = cr->grounding->grounded;
        g->numbers_checked = cr->grounding->numbers_checked;
        for (size_t i = 0; i < cr->grounding->n_ungrounded; i++) {
            char *u = env_strdup (cr->grounding->ungrounded[i]);
            if (!u || ENV_APPEND (g->ungrounded, g->n_ungrounded, u) != 0) {
                free (u);
                return -1;
            }
        }
    }
    Copilot__V1__RouteDecision *rd = env_msg_new (&copilot__v1__route_decision__descriptor);
    if (!rd)
        return -1;
    out->route = rd;
    rd->telemetry = c->route.telemetry;
    rd->docs = c->route.docs;
    rd->runbooks = c->route.runbooks;
    rd->reason = env_strdup (c->route.reason);
    rd->primary = env_strdup (c->route.primary);
    if (!rd->reason || !rd->primary)
        return -1;
    /* Visible note: our degrade notes, then the gateway's (e.g. fallback). */
    buf_t *note = buf_new (NOTES_MAX * 2);
    if (!note)
        return -1;
    if (buf_len (c->notes))
        buf_puts (note, buf_data (c->notes));
    if (s_has (cr->note)) {
        if (buf_len (note))
            buf_puts (note, "\n");
        buf_puts (note, cr->note);
    }
    if (pbd_prompt_over_budget (c->prompt)) {
        if (buf_len (note))
            buf_puts (note, "\n");
        buf_puts (note, "The facts alone exceed the prompt token budget; nothing else was included.");
    }
    out->note = buf_detach (note);
    buf_destroy (&note);
    if (!out->note)
        return -1;
    if (c->er->debug && s_debug (c, out) != 0)
        return -1;
    out->latency_ms = clock_mono_ms () - c->t0;
    return 0;
}

/* ---------------------------------------------------- history/publish -- */

static Copilot__V1__Source **
s_sources_from_json (const char *json, size_t *n_out)
{
    *n_out = 0;
    json_error_t jerr;
    json_t *arr = json_loads (json ? json : "[]", 0, &jerr);
    if (!json_is_array (arr)) {
        json_decref (arr);
        return NULL;
    }
    Copilot__V1__Source **list = NULL;
    size_t n = 0;
    for (size_t i = 0; i < json_array_size (arr); i++) {
        json_t *o = json_array_get (arr, i);
        Copilot__V1__Source *s = s_source_msg (json_string_value (json_object_get (o, "title")),
                                               json_string_value (json_object_get (o, "url")),
                                               json_string_value (json_object_get (o, "corpus")));
        if (!s || ENV_APPEND (list, n, s) != 0) {
            if (s)
                protobuf_c_message_free_unpacked (&s->base, NULL);
            break;
        }
    }
    json_decref (arr);
    *n_out = n;
    return list;
}

Copilot__V1__CommentaryEvent *
pd_event_from_entry (const pbd_entry_t *e)
{
    Copilot__V1__CommentaryEvent *ev = env_msg_new (&copilot__v1__commentary_event__descriptor);
    if (!ev)
        return NULL;
    ev->seq = e->seq;
    ev->request_id = env_strdup (e->request_id);
    ev->report_id = env_strdup (e->report_id);
    ev->entity_type = env_strdup (e->entity_type);
    ev->entity_id = env_strdup (e->entity_id);
    ev->chip_id = env_strdup (e->chip_id);
    ev->question = env_strdup (e->question);
    ev->answer_markdown = env_strdup (e->answer_markdown);
    ev->provider = env_strdup (e->provider);
    ev->session_id = env_strdup (e->session_id);
    ev->created_unix_ms = e->created_unix_ms;
    ev->sources = s_sources_from_json (e->sources_json, &ev->n_sources);
    if (!ev->request_id || !ev->report_id || !ev->entity_type || !ev->entity_id || !ev->chip_id || !ev->question
        || !ev->answer_markdown || !ev->provider || !ev->session_id) {
        protobuf_c_message_free_unpacked (&ev->base, NULL);
        return NULL;
    }
    return ev;
}

/* Stores the answer, then publishes it. Failures here never fail the
 * Explain: the answer is returned with a note. */
static void
s_store_and_publish (pd_ctx_t *c, Copilot__V1__ExplainReply *out, const char *sources_json)
{
    pd_app_t *app = c->app;
    pbd_entry_t e = {.request_id = c->request_id,
                     .fingerprint = c->fingerprint,
                     .report_id = (char *) c->er->report_id,
                     .entity_type = (char *) (c->entity_type ? c->entity_type : ""),
                     .entity_id = (char *) (c->entity_id ? c->entity_id : ""),
                     .chip_id = (char *) c->er->chip_id,
                     .question = (char *) c->question,
                     .session_id = (char *) c->er->session_id,
                     .answer_markdown = out->answer_markdown,
                     .provider = out->provider,
                     .model = out->model,
                     .sources_json = (char *) sources_json,
                     .created_unix_ms = clock_wall_ms ()};
    uint64_t seq = 0;
    int rc = app->hist ? pbd_history_insert (app->hist, &e, &seq) : PBD_E_DB;
    if (rc != 0) {
        log_error ("history.insert", "commentary not stored: %s",
                   app->hist ? pbd_history_error (app->hist) : "history database not open");
        char *n = NULL;
        if (env_set_strf (&n, "%s%sThe answer was not stored in the commentary history (%s).", out->note,
                          s_has (out->note) ? "\n" : "", pbd_strerror (rc))
            == 0) {
            free (out->note);
            out->note = n;
        }
        return;
    }
    out->commentary_seq = seq;
    /* The stored reply is what a duplicate request gets back. */
    size_t len = protobuf_c_message_get_packed_size (&out->base);
    uint8_t *blob = malloc (len ? len : 1);
    if (blob) {
        protobuf_c_message_pack (&out->base, blob);
        if (pbd_history_set_reply (app->hist, seq, blob, len) != 0)
            log_error ("history.reply", "reply not stored: %s", pbd_history_error (app->hist));
        free (blob);
    }
    /* Publish commentary.v1.<report_id>. */
    e.seq = seq;
    Copilot__V1__CommentaryEvent *ev = pd_event_from_entry (&e);
    env_t *env = env_new (SVC_NAME);
    char topic[PUBSUB_TOPIC_MAX + 1];
    bool ok = ev && env && str_fmt (topic, sizeof topic, "commentary.v1.%s", c->er->report_id) == 0;
    if (!ok && ev)
        protobuf_c_message_free_unpacked (&ev->base, NULL);
    /* env_set_body frees ev itself when it fails. */
    if (!ok || env_set_body (env, COPILOT__V1__ENVELOPE__BODY_COMMENTARY_EVENT, ev) != 0) {
        env_free (env);
        log_error ("commentary.publish", "cannot build the commentary event for seq %llu", (unsigned long long) seq);
        return;
    }
    rc = svc_publish (app->svc, topic, env);
    if (rc != 0 && rc != BUS_E_UNAVAILABLE) {
        log_warn ("commentary.publish", "publish of seq %llu on %s failed: %s", (unsigned long long) seq, topic,
                  bus_strerror (rc));
    } else if (env->header) {
        pbd_history_set_published (app->hist, seq, env->header->publisher_id, env->header->seq);
        s_count ("copilot_commentary_published_total", "Commentary events published", NULL);
    }
    env_free (env);
}

/* ---------------------------------------------------------- handler ---- */

static void
s_ctx_free (pd_ctx_t *c)
{
    env_free (c->report_rep);
    env_free (c->facts_rep);
    env_free (c->graph_rep);
    env_free (c->tel_rep);
    env_free (c->docs_rep);
    env_free (c->rb_rep);
    env_free (c->llm_rep);
    free (c->params);
    free (c->payload);
    free (c->facts);
    for (int i = 0; i < 3; i++)
        free (c->hits[i]);
    buf_destroy (&c->notes);
    buf_destroy (&c->facts_json);
    pbd_prompt_destroy (&c->prompt);
    buf_destroy (&c->sources_json);
    if (c->out)
        protobuf_c_message_free_unpacked (&c->out->base, NULL);
    c->out = NULL;
    while (c->waiters) {
        pd_waiter_t *w = c->waiters;
        c->waiters = w->next;
        bus_request_destroy (&w->rq);
        free (w);
    }
    bus_request_destroy (&c->rq);
}

/* Replays a stored reply for a duplicate request id. 1 = replied, 0 = not
 * stored, -1 = error set in err. */
static int
s_replay (pd_ctx_t *c, env_t *reply, pd_err_t *err)
{
    if (!c->app->hist)
        return 0;
    pbd_entry_t *e = NULL;
    int rc = pbd_history_get (c->app->hist, c->request_id, &e);
    if (rc == PBD_E_NOTFOUND)
        return 0;
    if (rc != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "history", "commentary history lookup failed: %s",
               pbd_history_error (c->app->hist));
        return -1;
    }
    if (strcmp (e->fingerprint, c->fingerprint) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "request_id",
               "request id %s was already used for a different Explain request (seq %llu)", c->request_id,
               (unsigned long long) e->seq);
        pbd_entry_destroy (&e);
        return -1;
    }
    Copilot__V1__ExplainReply *out = NULL;
    if (e->reply && e->reply_len)
        out = copilot__v1__explain_reply__unpack (NULL, e->reply_len, e->reply);
    if (!out) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "history",
               "request id %s is stored (seq %llu) but its reply could not be read", c->request_id,
               (unsigned long long) e->seq);
        pbd_entry_destroy (&e);
        return -1;
    }
    if (!c->er->debug && out->debug) {
        protobuf_c_message_free_unpacked (&out->debug->base, NULL);
        out->debug = NULL;
    }
    char *n = NULL;
    if (env_set_strf (&n, "%s%sReplayed from the commentary history (seq %llu): no new completion.", out->note,
                      s_has (out->note) ? "\n" : "", (unsigned long long) e->seq)
        == 0) {
        if (out->note && out->note != protobuf_c_empty_string)
            free (out->note);
        out->note = n;
    }
    pbd_entry_destroy (&e);
    if (env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY, out) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    return 1;
}

/* Step 0, loop thread: 1 = answered from the history (reply filled), 0 =
 * run the pipeline, -1 = error in err. */
static int
s_explain_prepare (pd_ctx_t *c, env_t *reply, pd_err_t *err)
{
    const Copilot__V1__ExplainRequest *er = c->er;
    if (!s_has (er->report_id)) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "report_id", "report_id is required");
        return -1;
    }
    if (!s_has (er->chip_id) && !s_has (er->question)) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "chip_id",
               "either chip_id or question is required");
        return -1;
    }
    if (s_has (er->entity_type) != s_has (er->entity_id)) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, s_has (er->entity_type) ? "entity_id" : "entity_type",
               "entity_type and entity_id go together (got only %s)", s_has (er->entity_type) ? "entity_type" : "entity_id");
        return -1;
    }
    if (s_fingerprint (er, c->fingerprint) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, NULL, "request too large");
        return -1;
    }
    int r = s_replay (c, reply, err);
    if (r > 0)
        s_count_outcome ("replay");
    return r;
}

/* Steps 1-8, worker thread: fills c->out and c->sources_json. 0 or -1 with
 * err filled. Touches no loop-owned object (history, PUB, server). */
static int
s_explain_compute (pd_ctx_t *c, pd_err_t *err)
{
    const Copilot__V1__ExplainRequest *er = c->er;
    if (!(c->notes = buf_new (NOTES_MAX)) || !(c->facts_json = buf_new (4 * 1024 * 1024))) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    if (s_run_report (c, err) != 0 || s_find_selection (c, err) != 0)
        return -1;
    c->question = c->chip ? c->chip->prompt : er->question;
    if (!s_has (c->question)) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_FAILED_PRECONDITION, "chip_id", "chip '%s' has no prompt text",
               er->chip_id);
        return -1;
    }
    s_route (c);
    if (s_entity_facts (c, err) != 0)
        return -1;
    if (s_subgraph (c) != 0 || s_retrieve (c) != 0 || s_prepare_arrays (c) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    pbd_input_t in;
    pbd_chip_t chip;
    s_input (c, &in, &chip);
    pbd_prompt_opts_t po = {.budget_tokens = (size_t) c->app->conf.budget_tokens,
                            .hit_text_max = (size_t) c->app->conf.hit_text_max};
    int rc = pbd_prompt_build (&in, &po, &c->prompt);
    if (rc == 0)
        rc = pbd_facts_json (&in, c->facts_json);
    if (rc != 0) {
        s_err (err,
               rc == PBD_E_TOOBIG ? COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED
                                  : COPILOT__V1__ERROR_CODE__ERROR_INTERNAL,
               "prompt", "prompt assembly failed: %s", pbd_strerror (rc));
        return -1;
    }
    if (s_complete (c, err) != 0)
        return -1;

    c->out = env_msg_new (&copilot__v1__explain_reply__descriptor);
    c->sources_json = buf_new (1 << 20);
    if (!c->out || !c->sources_json || s_fill_reply (c, c->out, c->sources_json) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory building the reply");
        return -1;
    }
    return 0;
}

/* Step 9, loop thread, after a successful pipeline: store, publish, body. */
static int
s_explain_finish (pd_ctx_t *c, env_t *reply, pd_err_t *err)
{
    const Copilot__V1__ExplainRequest *er = c->er;
    Copilot__V1__ExplainReply *out = c->out;
    s_store_and_publish (c, out, buf_data (c->sources_json));
    log_info ("explain.done", "report %s entity %s %s chip %s: %s, provider %s, %u+%u tokens, seq %llu, %lld ms",
              er->report_id, c->entity_type ? c->entity_type : "-", c->entity_id ? c->entity_id : "-",
              s_has (er->chip_id) ? er->chip_id : "(question)", c->route.reason, out->provider, out->tokens_in,
              out->tokens_out, (unsigned long long) out->commentary_seq, (long long) out->latency_ms);
    c->out = NULL; /* env_set_body owns it now, even when it fails */
    if (env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY, out) != 0) {
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    s_count_outcome ("ok");
    return 0;
}

/* Sets the Error body for a failed request and counts it. */
static void
s_fail_reply (pd_err_t *err, env_t *reply)
{
    if (!err->code)
        s_err (err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "explain failed");
    log_warn ("explain.failed", "%s (%s)", err->msg, env_code_name (err->code));
    s_count_outcome (env_code_name (err->code));
    env_set_error (reply, (Copilot__V1__ErrorCode) err->code, err->detail[0] ? err->detail : NULL, "%s", err->msg);
}

static void
s_send (bus_request_t **rq_p, env_t *reply)
{
    int rc = bus_request_reply (rq_p, reply);
    if (rc != 0)
        log_warn ("explain.reply", "could not send a deferred reply: %s", bus_strerror (rc));
}

static void
s_inflight_remove (pd_app_t *app, pd_ctx_t *c)
{
    for (pd_ctx_t **pp = (pd_ctx_t **) &app->inflight; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            c->next = NULL;
            return;
        }
}

/* Worker thread. */
static void
s_work (pd_worker_t *w, void *arg)
{
    pd_ctx_t *c = arg;
    c->worker = w;
    const char *trace = c->req->header && s_has (c->req->header->trace_id) ? c->req->header->trace_id : NULL;
    log_set_context (c->request_id, trace);
    c->rc = s_explain_compute (c, &c->err);
    log_set_context (NULL, NULL);
    c->worker = NULL;
}

/* Loop thread: the pipeline finished (or the pool closed: ran = false). */
static void
s_done (pd_app_t *app, void *arg, bool ran)
{
    pd_ctx_t *c = arg;
    s_inflight_remove (app, c);
    if (ran) {
        env_t *reply = env_reply_new (c->req, SVC_NAME);
        if (reply) {
            if (c->rc != 0 || s_explain_finish (c, reply, &c->err) != 0) {
                c->rc = -1;
                s_fail_reply (&c->err, reply);
            }
            s_send (&c->rq, reply);
            env_free (reply);
        }
        /* the same request id arrived meanwhile: answered as a duplicate */
        while (c->waiters) {
            pd_waiter_t *w = c->waiters;
            c->waiters = w->next;
            const env_t *wreq = bus_request_env (w->rq);
            env_t *wr = env_reply_new (wreq, SVC_NAME);
            if (wr) {
                pd_ctx_t tmp = {.app = app, .req = wreq, .er = wreq->explain_request};
                str_copy (tmp.request_id, sizeof tmp.request_id, c->request_id);
                str_copy (tmp.fingerprint, sizeof tmp.fingerprint, c->fingerprint);
                pd_err_t err = c->err;
                int r = c->rc == 0 ? s_replay (&tmp, wr, &err) : -1;
                if (r > 0)
                    s_count_outcome ("replay");
                else {
                    if (r == 0)
                        s_err (&err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "history",
                               "request id %s was answered but its reply is not in the history", c->request_id);
                    s_fail_reply (&err, wr);
                }
                s_send (&w->rq, wr);
                env_free (wr);
            }
            bus_request_destroy (&w->rq);
            free (w);
        }
    }
    s_ctx_free (c);
    free (c);
}

int
pd_on_explain (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    pd_app_t *app = arg;
    pd_ctx_t *c = calloc (1, sizeof *c);
    if (!c) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
        return -1;
    }
    c->app = app;
    c->req = req;
    c->er = req->explain_request;
    c->t0 = clock_mono_ms ();
    const char *rid = env_request_id (req);
    if (s_has (rid))
        str_copy (c->request_id, sizeof c->request_id, rid);
    else
        env_new_id (c->request_id);
    pd_err_t err = {0};
    int r = s_explain_prepare (c, reply, &err);
    if (r == 0) {
        pd_ctx_t *same = app->inflight;
        while (same && strcmp (same->request_id, c->request_id) != 0)
            same = same->next;
        if (same && strcmp (same->fingerprint, c->fingerprint) != 0) {
            s_err (&err, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "request_id",
                   "request id %s is already in use by a different Explain request in flight", c->request_id);
            r = -1;
        } else if (same) {
            pd_waiter_t *w = calloc (1, sizeof *w);
            if (w && (w->rq = svc_defer (svc)) != NULL) {
                pd_waiter_t **pp = &same->waiters;
                while (*pp)
                    pp = &(*pp)->next;
                *pp = w;
                s_ctx_free (c);
                free (c);
                return SVC_DEFERRED;
            }
            free (w);
            s_err (&err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "out of memory");
            r = -1;
        } else if ((c->rq = svc_defer (svc)) != NULL) {
            int prc = pd_pool_submit (app, s_work, s_done, c);
            if (prc == 0) {
                c->next = app->inflight;
                app->inflight = c;
                return SVC_DEFERRED;
            }
            /* deferred already: answer here (allowed inside the handler) */
            if (prc == BUS_E_BUSY)
                s_err (&c->err, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, "prompt_builder.queue_max",
                       "prompt-builder has %zu explains queued; try again shortly", pd_pool_queue_max (app));
            else
                s_err (&c->err, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, NULL,
                       "prompt-builder cannot queue the explain (%s)", bus_strerror (prc));
            env_t *er = env_reply_new (req, SVC_NAME);
            if (er) {
                s_fail_reply (&c->err, er);
                s_send (&c->rq, er);
                env_free (er);
            }
            s_ctx_free (c);
            free (c);
            return SVC_DEFERRED;
        } else {
            s_err (&err, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "cannot defer the request");
            r = -1;
        }
    }
    s_ctx_free (c);
    free (c);
    if (r < 0) {
        s_fail_reply (&err, reply);
        return -1;
    }
    return 0;
}

void
pd_explain_close (svc_t *svc, void *arg)
{
    (void) svc;
    pd_app_t *app = arg;
    pd_pool_close (app);
    /* every task got its done call; nothing can be left in flight */
    while (app->inflight) {
        pd_ctx_t *c = app->inflight;
        app->inflight = c->next;
        s_ctx_free (c);
        free (c);
    }
}
