/* cmd_explain.c — `copilot explain`: ask the running prompt-builder to
 * explain a selection of a report, by chip id or with a free question.
 *
 * Sends one ExplainRequest over the bus (endpoint of "prompt-builder"
 * resolved from the configuration exactly as the daemons do: --endpoint,
 * else COPILOT_PROMPT_BUILDER_ENDPOINT / prompt_builder.endpoint, else
 * ipc://<run_dir>/prompt-builder.sock) and prints the answer markdown
 * followed by a short footer (route, provider/model, grounding, tokens,
 * latency, commentary seq, note), or the whole reply as JSON with --json.
 * --request-id makes a retry idempotent: the daemon replays the stored
 * answer. --list-chips asks report-service for the selection's chips.
 * Output bytes depend only on the reply (no clock, no hash order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bus.h"
#include "cfg.h"
#include "cli.h"
#include "env.h"
#include "str.h"
#include "svc.h"

#define MAX_PARAMS 16
#define PING_TIMEOUT_MS 3000

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot explain --report ID [--entity TYPE:ID] (--chip CHIP_ID | --question TEXT)\n"
             "                       [--from DATE] [--to DATE] [--workspace W] [--params k=v,k=v]\n"
             "                       [--request-id ID] [--session ID] [--debug] [--json]\n"
             "                       [--timeout MS] [--endpoint EP] [--config FILE]\n"
             "       copilot explain --report ID --entity TYPE:ID --list-chips [...]\n"
             "\n"
             "Asks the running prompt-builder to explain a selection of a report: the chip's\n"
             "prompt (or your question) is answered from the entity's facts, its usage subgraph,\n"
             "telemetry hits and, when routing says so, docs and runbooks; sources and evidence\n"
             "are appended by code.\n"
             "\n"
             "options:\n"
             "  --report ID        report id (e.g. job_cost)\n"
             "  --entity TYPE:ID   the selected entity (e.g. job:J-FIN-DAILY)\n"
             "  --chip CHIP_ID     chip to click (see --list-chips), e.g. job:cost:J-FIN-DAILY\n"
             "  --question TEXT    a free question instead of a chip\n"
             "  --from/--to DATE   report window (YYYY-MM-DD); --workspace W; --params k=v,...\n"
             "  --request-id ID    idempotency key: the same id returns the stored answer\n"
             "  --session ID       session id stored with the commentary\n"
             "  --debug            also print the prompt, context, subgraph, hits and SQL\n"
             "  --json             print the whole reply as JSON\n"
             "  --list-chips       list the chips of the selection (asks report-service)\n"
             "  --timeout MS       overall deadline (default 90000)\n"
             "  --endpoint EP      prompt-builder endpoint (default from the configuration)\n"
             "  --config FILE      configuration file (COPILOT_* environment wins)\n"
             "  -h, --help         this text\n"
             "\n"
             "Exit status: 0 answered, 1 the daemon reported an error (code and message on\n"
             "stderr) or could not be reached, 2 usage error.\n"
             "\n"
             "examples:\n"
             "  copilot explain --report job_cost --entity job:J-FIN-DAILY --list-chips\n"
             "  copilot explain --report job_cost --entity job:J-FIN-DAILY --chip job:cost:J-FIN-DAILY\n"
             "  copilot explain --report job_cost --question \"Why did spend rise in December?\"\n");
}

typedef struct {
    char *key;
    char *value;
} s_kv_t;

static int
s_add_param (s_kv_t *kv, int *n, const char *key, size_t klen, const char *value, size_t vlen)
{
    if (*n >= MAX_PARAMS)
        return -1;
    kv[*n].key = str_ndup (key, klen);
    kv[*n].value = str_ndup (value, vlen);
    if (!kv[*n].key || !kv[*n].value) {
        free (kv[*n].key);
        free (kv[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

/* "k=v,k=v" → kv. 0 or -1 (malformed). */
static int
s_parse_params (const char *text, s_kv_t *kv, int *n)
{
    const char *p = text;
    while (*p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        const char *eq = memchr (p, '=', len);
        if (!eq || eq == p)
            return -1;
        if (s_add_param (kv, n, p, (size_t) (eq - p), eq + 1, len - (size_t) (eq - p) - 1) != 0)
            return -1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int
s_attach_params (Copilot__V1__Param ***arr, size_t *n_arr, const s_kv_t *kv, int n)
{
    for (int i = 0; i < n; i++) {
        Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
        if (!p)
            return -1;
        p->key = env_strdup (kv[i].key);
        p->value = env_strdup (kv[i].value);
        if (!p->key || !p->value || ENV_APPEND (*arr, *n_arr, p) != 0) {
            protobuf_c_message_free_unpacked (&p->base, NULL);
            return -1;
        }
    }
    return 0;
}

/* Prints an Error reply on stderr; returns CLI_FAIL. */
static int
s_print_error (const char *target, const env_t *rep)
{
    const Copilot__V1__Error *e = env_error (rep);
    fprintf (stderr, "copilot explain: %s: %s: %s%s%s%s\n", target, env_code_name (e ? (int) e->code : 0),
             e && e->message ? e->message : "error", e && e->detail && *e->detail ? " (" : "",
             e && e->detail && *e->detail ? e->detail : "", e && e->detail && *e->detail ? ")" : "");
    return CLI_FAIL;
}

static void
s_json_kv (buf_t *b, const char *key, const char *value, bool comma)
{
    if (comma)
        buf_puts (b, ",");
    buf_json_str (b, key);
    buf_puts (b, ":");
    buf_json_str (b, value ? value : "");
}

static void
s_json_num (buf_t *b, const char *key, long long v)
{
    buf_puts (b, ",");
    buf_json_str (b, key);
    buf_printf (b, ":%lld", v);
}

static void
s_json_bool (buf_t *b, const char *key, bool v)
{
    buf_puts (b, ",");
    buf_json_str (b, key);
    buf_puts (b, v ? ":true" : ":false");
}

static void
s_json_strs (buf_t *b, const char *key, char **list, size_t n)
{
    buf_puts (b, ",");
    buf_json_str (b, key);
    buf_puts (b, ":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_puts (b, ",");
        buf_json_str (b, list[i]);
    }
    buf_puts (b, "]");
}

static int
s_print_json (const Copilot__V1__ExplainReply *r)
{
    buf_t *b = buf_new ((size_t) 64 * 1024 * 1024);
    if (!b)
        return CLI_FAIL;
    buf_puts (b, "{");
    s_json_kv (b, "request_id", r->request_id, false);
    s_json_kv (b, "answer_markdown", r->answer_markdown, true);
    buf_puts (b, ",\"sources\":[");
    for (size_t i = 0; i < r->n_sources; i++) {
        buf_puts (b, i ? ",{" : "{");
        s_json_kv (b, "title", r->sources[i]->title, false);
        s_json_kv (b, "url", r->sources[i]->url, true);
        s_json_kv (b, "corpus", r->sources[i]->corpus, true);
        buf_puts (b, "}");
    }
    buf_puts (b, "],\"evidence\":[");
    for (size_t i = 0; i < r->n_evidence; i++) {
        const Copilot__V1__Evidence *e = r->evidence[i];
        buf_puts (b, i ? ",{" : "{");
        s_json_kv (b, "entity_id", e->entity_id, false);
        s_json_kv (b, "label", e->label, true);
        s_json_kv (b, "source_table", e->source_table, true);
        s_json_kv (b, "figure", e->figure, true);
        s_json_strs (b, "row_keys", e->row_keys, e->n_row_keys);
        buf_puts (b, "}");
    }
    buf_puts (b, "]");
    if (r->grounding) {
        buf_puts (b, ",\"grounding\":{\"grounded\":");
        buf_puts (b, r->grounding->grounded ? "true" : "false");
        s_json_num (b, "numbers_checked", r->grounding->numbers_checked);
        s_json_strs (b, "ungrounded", r->grounding->ungrounded, r->grounding->n_ungrounded);
        buf_puts (b, "}");
    }
    s_json_kv (b, "provider", r->provider, true);
    s_json_kv (b, "model", r->model, true);
    s_json_num (b, "latency_ms", r->latency_ms);
    s_json_num (b, "tokens_in", r->tokens_in);
    s_json_num (b, "tokens_out", r->tokens_out);
    if (r->route) {
        buf_puts (b, ",\"route\":{\"telemetry\":");
        buf_puts (b, r->route->telemetry ? "true" : "false");
        s_json_bool (b, "docs", r->route->docs);
        s_json_bool (b, "runbooks", r->route->runbooks);
        s_json_kv (b, "primary", r->route->primary, true);
        s_json_kv (b, "reason", r->route->reason, true);
        buf_puts (b, "}");
    }
    s_json_num (b, "commentary_seq", (long long) r->commentary_seq);
    s_json_bool (b, "cached", r->cached);
    s_json_kv (b, "note", r->note, true);
    s_json_kv (b, "prompt_sha256", r->prompt_sha256, true);
    if (r->debug) {
        const Copilot__V1__DebugInfo *d = r->debug;
        buf_puts (b, ",\"debug\":{");
        s_json_kv (b, "prompt", d->prompt, false);
        s_json_kv (b, "context", d->context, true);
        s_json_kv (b, "subgraph_text", d->subgraph_text, true);
        s_json_kv (b, "sql", d->sql, true);
        buf_puts (b, ",\"hits\":[");
        for (size_t i = 0; i < d->n_hits; i++) {
            const Copilot__V1__SearchHit *h = d->hits[i];
            buf_puts (b, i ? ",{" : "{");
            s_json_kv (b, "doc_id", h->doc_id, false);
            s_json_kv (b, "corpus", h->corpus, true);
            s_json_kv (b, "title", h->title, true);
            s_json_kv (b, "url", h->url, true);
            s_json_num (b, "rank", h->rank);
            buf_puts (b, "}");
        }
        buf_puts (b, "]}");
    }
    int rc = buf_puts (b, "}\n");
    if (rc == 0)
        fputs (buf_data (b), stdout);
    buf_destroy (&b);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

static void
s_print_text (const Copilot__V1__ExplainReply *r)
{
    fputs (r->answer_markdown, stdout);
    if (r->answer_markdown[0] && r->answer_markdown[strlen (r->answer_markdown) - 1] != '\n')
        fputs ("\n", stdout);
    printf ("\n---\n");
    if (r->route)
        printf ("route: telemetry=%s docs=%s runbooks=%s — %s\n", r->route->telemetry ? "yes" : "no",
                r->route->docs ? "yes" : "no", r->route->runbooks ? "yes" : "no", r->route->reason);
    printf ("provider: %s%s%s%s\n", r->provider, r->model[0] ? " (" : "", r->model, r->model[0] ? ")" : "");
    if (r->grounding) {
        printf ("grounded: %s (%u numbers checked", r->grounding->grounded ? "yes" : "no",
                r->grounding->numbers_checked);
        for (size_t i = 0; i < r->grounding->n_ungrounded; i++)
            printf ("%s%s", i ? ", " : "; ungrounded: ", r->grounding->ungrounded[i]);
        printf (")\n");
    }
    printf ("tokens: %u in, %u out; latency %lld ms%s\n", r->tokens_in, r->tokens_out, (long long) r->latency_ms,
            r->cached ? "; cached" : "");
    printf ("commentary seq: %llu; request id: %s; prompt sha256: %s\n", (unsigned long long) r->commentary_seq,
            r->request_id, r->prompt_sha256);
    if (r->note[0])
        printf ("note: %s\n", r->note);
    if (r->debug) {
        const Copilot__V1__DebugInfo *d = r->debug;
        printf ("\n=== DEBUG: PROMPT ===\n%s\n=== DEBUG: SUBGRAPH ===\n%s\n=== DEBUG: HITS ===\n", d->prompt,
                d->subgraph_text);
        for (size_t i = 0; i < d->n_hits; i++)
            printf ("%s #%u %s%s%s\n", d->hits[i]->corpus, d->hits[i]->rank, d->hits[i]->doc_id,
                    d->hits[i]->url[0] ? " " : "", d->hits[i]->url);
        printf ("=== DEBUG: SQL ===\n%s\n", d->sql);
    }
}

static int
s_list_chips (cfg_t *cfg, const char *report, const char *etype, const char *eid, const s_kv_t *kv, int nkv,
              int timeout)
{
    char ep[512];
    if (svc_endpoint_of (cfg, "report-service", ep, sizeof ep) != 0)
        return cli_error ("explain", "cannot resolve the report-service endpoint");
    env_t *req = env_new ("cli");
    Copilot__V1__RunReportRequest *rr = env_msg_new (&copilot__v1__run_report_request__descriptor);
    if (!req || !rr || !(rr->report_id = env_strdup (report)) || s_attach_params (&rr->params, &rr->n_params, kv, nkv)
        || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, rr) != 0) {
        env_free (req);
        return cli_error ("explain", "out of memory");
    }
    env_t *rep = NULL;
    bus_call (ep, req, &rep, timeout);
    env_free (req);
    if (!rep)
        return cli_error ("explain", "cannot call report-service at %s", ep);
    int rc = CLI_OK;
    if (env_is_error (rep))
        rc = s_print_error ("report-service", rep);
    else if (rep->body_case != COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY || !rep->run_report_reply->result)
        rc = cli_error ("explain", "report-service answered with %s", env_body_name ((int) rep->body_case));
    else {
        const Copilot__V1__ReportResult *r = rep->run_report_reply->result;
        const Copilot__V1__Selection *sel = NULL;
        for (size_t i = 0; i < r->n_selections && !sel; i++)
            if (strcmp (r->selections[i]->entity_type, etype) == 0 && strcmp (r->selections[i]->entity_id, eid) == 0)
                sel = r->selections[i];
        if (!sel)
            rc = cli_error ("explain", "%s:%s is not a selection of report %s", etype, eid, report);
        else
            for (size_t k = 0; k < sel->n_chips; k++)
                printf ("%-10s %-44s %s\n", sel->chips[k]->lane, sel->chips[k]->id, sel->chips[k]->label);
    }
    env_free (rep);
    return rc;
}

int
cmd_explain (int argc, char **argv)
{
    const char *report = NULL, *entity = NULL, *chip = NULL, *question = NULL, *from = NULL, *to = NULL;
    const char *workspace = NULL, *params = NULL, *request_id = NULL, *session = NULL, *timeout_s = NULL;
    const char *endpoint = NULL, *config = NULL;
    bool debug = false, json = false, list = false;
    const cli_opt_t opts[] = {{"report", &report, NULL},       {"entity", &entity, NULL},
                              {"chip", &chip, NULL},           {"question", &question, NULL},
                              {"from", &from, NULL},           {"to", &to, NULL},
                              {"workspace", &workspace, NULL}, {"params", &params, NULL},
                              {"request-id", &request_id, NULL}, {"session", &session, NULL},
                              {"timeout", &timeout_s, NULL},   {"endpoint", &endpoint, NULL},
                              {"config", &config, NULL},       {"debug", NULL, &debug},
                              {"json", NULL, &json},           {"list-chips", NULL, &list},
                              {NULL, NULL, NULL}};
    int rc = cli_parse ("explain", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    if (!report) {
        cli_error ("explain", "--report is required (see copilot explain --help)");
        return CLI_USAGE;
    }
    if (!list && ((chip == NULL) == (question == NULL))) {
        cli_error ("explain", "give exactly one of --chip and --question");
        return CLI_USAGE;
    }
    char etype[64] = "", eid[256] = "";
    if (entity) {
        const char *colon = strchr (entity, ':');
        if (!colon || colon == entity || !colon[1] || (size_t) (colon - entity) >= sizeof etype
            || str_copy (eid, sizeof eid, colon + 1) != 0) {
            cli_error ("explain", "--entity '%s': expected TYPE:ID, e.g. job:J-FIN-DAILY", entity);
            return CLI_USAGE;
        }
        memcpy (etype, entity, (size_t) (colon - entity));
        etype[colon - entity] = '\0';
    }
    if (list && !entity) {
        cli_error ("explain", "--list-chips needs --entity TYPE:ID");
        return CLI_USAGE;
    }
    int timeout = 90000;
    if (timeout_s && str_to_int (timeout_s, 1, 3600000, &timeout) != 0) {
        cli_error ("explain", "--timeout '%s': expected milliseconds in [1, 3600000]", timeout_s);
        return CLI_USAGE;
    }
    s_kv_t kv[MAX_PARAMS];
    int nkv = 0;
    if ((from && s_add_param (kv, &nkv, "from", 4, from, strlen (from)))
        || (to && s_add_param (kv, &nkv, "to", 2, to, strlen (to)))
        || (workspace && s_add_param (kv, &nkv, "workspace", 9, workspace, strlen (workspace)))
        || (params && s_parse_params (params, kv, &nkv))) {
        for (int i = 0; i < nkv; i++) {
            free (kv[i].key);
            free (kv[i].value);
        }
        cli_error ("explain", "--params: expected key=value[,key=value...] (at most %d)", MAX_PARAMS);
        return CLI_USAGE;
    }

    const char *cerr = NULL;
    cfg_t *cfg = cfg_new (config, &cerr);
    env_t *req = NULL, *rep = NULL;
    char ep[512];
    rc = CLI_FAIL;
    if (!cfg) {
        cli_error ("explain", "%s", cerr ? cerr : "cannot load the configuration");
        goto done;
    }
    if (list) {
        rc = s_list_chips (cfg, report, etype, eid, kv, nkv, timeout);
        goto done;
    }
    if (endpoint)
        str_copy (ep, sizeof ep, endpoint);
    else if (svc_endpoint_of (cfg, "prompt-builder", ep, sizeof ep) != 0) {
        cli_error ("explain", "cannot resolve the prompt-builder endpoint");
        goto done;
    }
    req = env_new ("cli");
    Copilot__V1__ExplainRequest *er = env_msg_new (&copilot__v1__explain_request__descriptor);
    if (!req || !er) {
        if (er)
            protobuf_c_message_free_unpacked (&er->base, NULL);
        cli_error ("explain", "out of memory");
        goto done;
    }
    er->report_id = env_strdup (report);
    er->entity_type = env_strdup (etype);
    er->entity_id = env_strdup (eid);
    er->chip_id = env_strdup (chip ? chip : "");
    er->question = env_strdup (question ? question : "");
    er->session_id = env_strdup (session ? session : "");
    er->debug = debug;
    if (!er->report_id || !er->entity_type || !er->entity_id || !er->chip_id || !er->question || !er->session_id
        || s_attach_params (&er->params, &er->n_params, kv, nkv) != 0
        || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST, er) != 0
        || (request_id && env_set_str (&req->header->request_id, request_id) != 0)) {
        cli_error ("explain", "out of memory");
        goto done;
    }
    /* A quick Ping first: a daemon that is not running is reported in a few
     * seconds instead of at the end of the Explain deadline. */
    {
        env_t *ping = env_new ("cli");
        Copilot__V1__PingRequest *pr = env_msg_new (&copilot__v1__ping_request__descriptor);
        env_t *pong = NULL;
        if (ping && pr && env_set_body (ping, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, pr) == 0)
            bus_call (ep, ping, &pong, timeout < PING_TIMEOUT_MS ? timeout : PING_TIMEOUT_MS);
        env_free (ping);
        bool up = pong && pong->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY;
        env_free (pong);
        if (!up) {
            cli_error ("explain", "prompt-builder is not reachable at %s (is it running? see copilot up / copilot status)",
                       ep);
            goto done;
        }
    }
    bus_call (ep, req, &rep, timeout);
    if (!rep) {
        cli_error ("explain", "cannot call prompt-builder at %s", ep);
        goto done;
    }
    if (env_is_error (rep)) {
        rc = s_print_error ("prompt-builder", rep);
        goto done;
    }
    if (rep->body_case != COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY) {
        cli_error ("explain", "prompt-builder answered with %s", env_body_name ((int) rep->body_case));
        goto done;
    }
    if (json)
        rc = s_print_json (rep->explain_reply);
    else {
        s_print_text (rep->explain_reply);
        rc = CLI_OK;
    }
done:
    for (int i = 0; i < nkv; i++) {
        free (kv[i].key);
        free (kv[i].value);
    }
    env_free (req);
    env_free (rep);
    cfg_destroy (&cfg);
    return rc;
}
