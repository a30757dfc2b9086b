/* gw_json.c — protobuf <-> JSON for the HTTP API.
 *
 * Output shape decisions:
 *  - Report rows are objects keyed by column name (the UI and curl users read
 *    them directly); "columns" keeps the order and types.
 *  - The chart spec travels as a JSON string in protobuf (report-service
 *    renders it); here it is parsed and embedded as an object so the browser
 *    can hand it to vega-embed unchanged. An unparsable spec becomes
 *    "chart": null plus "chart_error" — never a 500 for the whole report.
 *  - NaN/Inf reals become null (JSON has no representation for them).
 *  - Repeated Param lists become objects in wire order (deterministic: the
 *    sender's order, no hash order).
 * Input side: bodies are parsed with JSON_REJECT_DUPLICATES and
 * JSON_DISALLOW_NULL off; jansson rejects invalid UTF-8 itself.
 */
#include "gw_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "gw_http.h"
#include "str.h"

typedef Copilot__V1__ErrorCode err_code_t;

int
gw_status_for_error (int code)
{
    switch (code) {
    case COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT: return 400;
    case COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND: return 404;
    case COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED: return 504;
    case COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE: return 503;
    case COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED: return 501;
    case COPILOT__V1__ERROR_CODE__ERROR_INTERNAL: return 500;
    case COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED: return 429;
    case COPILOT__V1__ERROR_CODE__ERROR_UNAUTHENTICATED: return 401;
    case COPILOT__V1__ERROR_CODE__ERROR_PERMISSION_DENIED: return 403;
    case COPILOT__V1__ERROR_CODE__ERROR_VERSION_MISMATCH: return 502;
    case COPILOT__V1__ERROR_CODE__ERROR_FAILED_PRECONDITION: return 409;
    case COPILOT__V1__ERROR_CODE__ERROR_UPSTREAM: return 502;
    default: return 500;
    }
}

/* ---- primitives ---------------------------------------------------------- */

json_t *
gw_json_str (const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen (s);
    if (str_utf8_valid (s, n))
        return json_stringn (s, n);
    /* Replace each byte of an invalid sequence with U+FFFD. */
    buf_t *b = buf_new (n * 3 + 1);
    if (!b)
        return NULL;
    size_t i = 0;
    while (i < n) {
        size_t len = 1;
        unsigned char c = (unsigned char) s[i];
        if (c >= 0xF0)
            len = 4;
        else if (c >= 0xE0)
            len = 3;
        else if (c >= 0xC0)
            len = 2;
        if (i + len <= n && str_utf8_valid (s + i, len)) {
            buf_append (b, s + i, len);
            i += len;
        } else {
            buf_append (b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    json_t *j = json_stringn (buf_data (b), buf_len (b));
    buf_destroy (&b);
    return j;
}

static json_t *
s_real (double v)
{
    if (!isfinite (v))
        return json_null ();
    return json_real (v);
}

static void
s_set (json_t *obj, const char *key, json_t *val)
{
    if (val)
        json_object_set_new (obj, key, val);
}

static void
s_set_str (json_t *obj, const char *key, const char *val)
{
    s_set (obj, key, gw_json_str (val));
}

static json_t *
s_params_obj (Copilot__V1__Param **p, size_t n)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!p[i] || !p[i]->key || !str_utf8_valid (p[i]->key, strlen (p[i]->key)))
            continue;
        s_set_str (o, p[i]->key, p[i]->value);
    }
    return o;
}

static json_t *
s_str_array (char **v, size_t n)
{
    json_t *a = json_array ();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *s = gw_json_str (v[i]);
        if (s)
            json_array_append_new (a, s);
    }
    return a;
}

/* ---- reports ------------------------------------------------------------------ */

json_t *
gw_json_report_list (const Copilot__V1__ListReportsReply *r)
{
    json_t *root = json_object ();
    json_t *arr = json_array ();
    if (!root || !arr) {
        json_decref (root);
        json_decref (arr);
        return NULL;
    }
    for (size_t i = 0; r && i < r->n_reports; i++) {
        const Copilot__V1__ReportInfo *ri = r->reports[i];
        if (!ri)
            continue;
        json_t *o = json_object ();
        if (!o)
            continue;
        s_set_str (o, "id", ri->id);
        s_set_str (o, "title", ri->title);
        s_set_str (o, "pillar", ri->pillar);
        s_set_str (o, "description", ri->description);
        s_set_str (o, "status", ri->status);
        s_set (o, "order", json_integer (ri->order));
        json_t *ps = json_array ();
        for (size_t j = 0; ps && j < ri->n_params; j++) {
            const Copilot__V1__ParamSpec *p = ri->params[j];
            if (!p)
                continue;
            json_t *po = json_object ();
            if (!po)
                continue;
            s_set_str (po, "name", p->name);
            s_set_str (po, "kind", p->kind);
            s_set_str (po, "description", p->description);
            s_set_str (po, "default", p->default_value);
            json_array_append_new (ps, po);
        }
        s_set (o, "params", ps);
        json_array_append_new (arr, o);
    }
    json_object_set_new (root, "reports", arr);
    return root;
}

static json_t *
s_value (const Copilot__V1__Value *v)
{
    if (!v)
        return json_null ();
    switch (v->kind_case) {
    case COPILOT__V1__VALUE__KIND_INT_VALUE: return json_integer ((json_int_t) v->int_value);
    case COPILOT__V1__VALUE__KIND_REAL_VALUE: return s_real (v->real_value);
    case COPILOT__V1__VALUE__KIND_TEXT_VALUE: return gw_json_str (v->text_value);
    default: return json_null ();
    }
}

static json_t *
s_chip (const Copilot__V1__Chip *c)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_set_str (o, "id", c->id);
    s_set_str (o, "lane", c->lane);
    s_set_str (o, "label", c->label);
    s_set_str (o, "prompt", c->prompt);
    s_set_str (o, "entity_type", c->entity_type);
    s_set_str (o, "entity_id", c->entity_id);
    return o;
}

/* Parses an embedded JSON document (chart spec, extra); NULL when empty. */
static json_t *
s_embedded (const char *text, char *err, size_t err_size)
{
    err[0] = '\0';
    if (!text || !text[0])
        return NULL;
    json_error_t je;
    json_t *j = json_loads (text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j)
        snprintf (err, err_size, "embedded JSON invalid at line %d column %d: %s", je.line,
                  je.column, je.text);
    return j;
}

json_t *
gw_json_report_result (const Copilot__V1__ReportResult *r)
{
    json_t *o = json_object ();
    if (!o || !r)
        return o;
    s_set_str (o, "report_id", r->report_id);
    s_set_str (o, "title", r->title);
    s_set (o, "params", s_params_obj (r->params, r->n_params));
    json_t *cols = json_array ();
    for (size_t i = 0; cols && i < r->n_columns; i++) {
        const Copilot__V1__Column *c = r->columns[i];
        if (!c)
            continue;
        json_t *co = json_object ();
        if (!co)
            continue;
        s_set_str (co, "name", c->name);
        s_set_str (co, "type", c->type);
        s_set_str (co, "label", c->label);
        json_array_append_new (cols, co);
    }
    s_set (o, "columns", cols);
    json_t *rows = json_array ();
    for (size_t i = 0; rows && i < r->n_rows; i++) {
        const Copilot__V1__Row *row = r->rows[i];
        json_t *ro = json_object ();
        if (!ro)
            continue;
        for (size_t j = 0; row && j < row->n_values && j < r->n_columns; j++) {
            const char *name = r->columns[j] ? r->columns[j]->name : NULL;
            if (!name || !str_utf8_valid (name, strlen (name)))
                continue;
            s_set (ro, name, s_value (row->values[j]));
        }
        json_array_append_new (rows, ro);
    }
    s_set (o, "rows", rows);
    json_t *kpis = json_array ();
    for (size_t i = 0; kpis && i < r->n_kpis; i++) {
        const Copilot__V1__Kpi *k = r->kpis[i];
        if (!k)
            continue;
        json_t *ko = json_object ();
        if (!ko)
            continue;
        s_set_str (ko, "id", k->id);
        s_set_str (ko, "label", k->label);
        s_set (ko, "value", s_real (k->value));
        s_set_str (ko, "format", k->format);
        s_set_str (ko, "text", k->text);
        json_array_append_new (kpis, ko);
    }
    s_set (o, "kpis", kpis);
    char err[256];
    json_t *chart = s_embedded (r->chart_spec_json, err, sizeof err);
    s_set (o, "chart", chart ? chart : json_null ());
    if (err[0])
        s_set_str (o, "chart_error", err);
    json_t *sels = json_array ();
    for (size_t i = 0; sels && i < r->n_selections; i++) {
        const Copilot__V1__Selection *s = r->selections[i];
        if (!s)
            continue;
        json_t *so = json_object ();
        if (!so)
            continue;
        s_set_str (so, "entity_type", s->entity_type);
        s_set_str (so, "entity_id", s->entity_id);
        s_set_str (so, "label", s->label);
        json_t *pl = json_object ();
        for (size_t j = 0; pl && j < s->n_payload; j++) {
            const Copilot__V1__NamedNumber *nn = s->payload[j];
            if (nn && nn->name && str_utf8_valid (nn->name, strlen (nn->name)))
                s_set (pl, nn->name, s_real (nn->value));
        }
        s_set (so, "payload", pl);
        json_t *chips = json_array ();
        for (size_t j = 0; chips && j < s->n_chips; j++) {
            json_t *co = s->chips[j] ? s_chip (s->chips[j]) : NULL;
            if (co)
                json_array_append_new (chips, co);
        }
        s_set (so, "chips", chips);
        json_array_append_new (sels, so);
    }
    s_set (o, "selections", sels);
    s_set_str (o, "sql", r->sql);
    s_set_str (o, "data_version", r->data_version);
    json_t *banners = json_array ();
    for (size_t i = 0; banners && i < r->n_banners; i++) {
        const Copilot__V1__Banner *b = r->banners[i];
        if (!b)
            continue;
        json_t *bo = json_object ();
        if (!bo)
            continue;
        s_set_str (bo, "level", b->level);
        s_set_str (bo, "text", b->text);
        json_array_append_new (banners, bo);
    }
    s_set (o, "banners", banners);
    s_set (o, "cached", json_boolean (r->cached));
    s_set (o, "rows_total", json_integer ((json_int_t) r->rows_total));
    json_t *extra = s_embedded (r->extra_json, err, sizeof err);
    s_set (o, "extra", extra ? extra : json_null ());
    return o;
}

/* ---- explain / commentary ------------------------------------------------------ */

static json_t *
s_sources (Copilot__V1__Source **v, size_t n)
{
    json_t *a = json_array ();
    for (size_t i = 0; a && i < n; i++) {
        if (!v[i])
            continue;
        json_t *o = json_object ();
        if (!o)
            continue;
        s_set_str (o, "title", v[i]->title);
        s_set_str (o, "url", v[i]->url);
        s_set_str (o, "corpus", v[i]->corpus);
        json_array_append_new (a, o);
    }
    return a;
}

static json_t *
s_hit (const Copilot__V1__SearchHit *h)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_set_str (o, "doc_id", h->doc_id);
    s_set_str (o, "corpus", h->corpus);
    s_set_str (o, "title", h->title);
    s_set_str (o, "url", h->url);
    s_set_str (o, "anchor", h->anchor);
    s_set_str (o, "text", h->text);
    s_set (o, "score", s_real (h->score));
    s_set (o, "entity_ids", s_str_array (h->entity_ids, h->n_entity_ids));
    s_set (o, "rank", json_integer (h->rank));
    s_set_str (o, "type", h->type);
    char err[256];
    json_t *meta = s_embedded (h->meta_json, err, sizeof err);
    s_set (o, "meta", meta ? meta : json_null ());
    return o;
}

json_t *
gw_json_explain_reply (const Copilot__V1__ExplainReply *r)
{
    json_t *o = json_object ();
    if (!o || !r)
        return o;
    s_set_str (o, "request_id", r->request_id);
    s_set_str (o, "answer_markdown", r->answer_markdown);
    s_set (o, "sources", s_sources (r->sources, r->n_sources));
    json_t *ev = json_array ();
    for (size_t i = 0; ev && i < r->n_evidence; i++) {
        const Copilot__V1__Evidence *e = r->evidence[i];
        if (!e)
            continue;
        json_t *eo = json_object ();
        if (!eo)
            continue;
        s_set_str (eo, "entity_id", e->entity_id);
        s_set_str (eo, "label", e->label);
        s_set_str (eo, "source_table", e->source_table);
        s_set (eo, "row_keys", s_str_array (e->row_keys, e->n_row_keys));
        s_set_str (eo, "figure", e->figure);
        json_array_append_new (ev, eo);
    }
    s_set (o, "evidence", ev);
    if (r->grounding) {
        json_t *g = json_object ();
        if (g) {
            s_set (g, "grounded", json_boolean (r->grounding->grounded));
            s_set (g, "numbers_checked", json_integer (r->grounding->numbers_checked));
            s_set (g, "ungrounded",
                   s_str_array (r->grounding->ungrounded, r->grounding->n_ungrounded));
        }
        s_set (o, "grounding", g);
    } else {
        s_set (o, "grounding", json_null ());
    }
    s_set_str (o, "provider", r->provider);
    s_set_str (o, "model", r->model);
    s_set (o, "latency_ms", json_integer (r->latency_ms));
    s_set (o, "tokens_in", json_integer (r->tokens_in));
    s_set (o, "tokens_out", json_integer (r->tokens_out));
    if (r->route) {
        json_t *ro = json_object ();
        if (ro) {
            s_set (ro, "telemetry", json_boolean (r->route->telemetry));
            s_set (ro, "docs", json_boolean (r->route->docs));
            s_set (ro, "runbooks", json_boolean (r->route->runbooks));
            s_set_str (ro, "reason", r->route->reason);
        }
        s_set (o, "route", ro);
    } else {
        s_set (o, "route", json_null ());
    }
    if (r->debug) {
        json_t *d = json_object ();
        if (d) {
            s_set_str (d, "prompt", r->debug->prompt);
            s_set_str (d, "context", r->debug->context);
            s_set_str (d, "subgraph", r->debug->subgraph_text);
            json_t *hits = json_array ();
            for (size_t i = 0; hits && i < r->debug->n_hits; i++)
                if (r->debug->hits[i])
                    json_array_append_new (hits, s_hit (r->debug->hits[i]));
            s_set (d, "hits", hits);
            s_set_str (d, "sql", r->debug->sql);
        }
        s_set (o, "debug", d);
    } else {
        s_set (o, "debug", json_null ());
    }
    s_set (o, "commentary_seq", json_integer ((json_int_t) r->commentary_seq));
    s_set (o, "cached", json_boolean (r->cached));
    s_set_str (o, "note", r->note);
    s_set_str (o, "prompt_sha256", r->prompt_sha256);
    return o;
}

json_t *
gw_json_commentary_event (const Copilot__V1__CommentaryEvent *e)
{
    json_t *o = json_object ();
    if (!o || !e)
        return o;
    s_set (o, "seq", json_integer ((json_int_t) e->seq));
    s_set_str (o, "request_id", e->request_id);
    s_set_str (o, "report_id", e->report_id);
    s_set_str (o, "entity_type", e->entity_type);
    s_set_str (o, "entity_id", e->entity_id);
    s_set_str (o, "chip_id", e->chip_id);
    s_set_str (o, "question", e->question);
    s_set_str (o, "answer_markdown", e->answer_markdown);
    s_set_str (o, "provider", e->provider);
    s_set (o, "created_unix_ms", json_integer (e->created_unix_ms));
    s_set (o, "sources", s_sources (e->sources, e->n_sources));
    s_set_str (o, "session_id", e->session_id);
    return o;
}

json_t *
gw_json_commentary_reply (const Copilot__V1__CommentaryReply *r)
{
    json_t *o = json_object ();
    json_t *a = json_array ();
    if (!o || !a) {
        json_decref (o);
        json_decref (a);
        return NULL;
    }
    for (size_t i = 0; r && i < r->n_items; i++)
        if (r->items[i])
            json_array_append_new (a, gw_json_commentary_event (r->items[i]));
    json_object_set_new (o, "items", a);
    s_set (o, "last_seq", json_integer (r ? (json_int_t) r->last_seq : 0));
    return o;
}

json_t *
gw_json_alert_list (const Copilot__V1__ListAlertsReply *r)
{
    json_t *o = json_object ();
    json_t *a = json_array ();
    if (!o || !a) {
        json_decref (o);
        json_decref (a);
        return NULL;
    }
    for (size_t i = 0; r && i < r->n_alerts; i++)
        if (r->alerts[i])
            json_array_append_new (a, gw_json_alert (r->alerts[i]));
    json_object_set_new (o, "alerts", a);
    s_set (o, "total", json_integer (r ? (json_int_t) r->total : 0));
    return o;
}

/* ---- search / graph / events ------------------------------------------------------ */

json_t *
gw_json_search_reply (const Copilot__V1__SearchReply *r)
{
    json_t *o = json_object ();
    if (!o || !r)
        return o;
    json_t *hits = json_array ();
    for (size_t i = 0; hits && i < r->n_hits; i++)
        if (r->hits[i])
            json_array_append_new (hits, s_hit (r->hits[i]));
    s_set (o, "hits", hits);
    s_set_str (o, "embedder", r->embedder);
    s_set (o, "dim", json_integer (r->dim));
    s_set_str (o, "index_version", r->index_version);
    s_set_str (o, "served_by", r->served_by);
    return o;
}

static json_t *
s_nodes (Copilot__V1__GraphNode **v, size_t n)
{
    json_t *a = json_array ();
    for (size_t i = 0; a && i < n; i++) {
        if (!v[i])
            continue;
        json_t *o = json_object ();
        if (!o)
            continue;
        s_set_str (o, "id", v[i]->id);
        s_set_str (o, "type", v[i]->type);
        s_set_str (o, "label", v[i]->label);
        s_set (o, "score", s_real (v[i]->score));
        s_set (o, "props", s_params_obj (v[i]->props, v[i]->n_props));
        json_array_append_new (a, o);
    }
    return a;
}

static json_t *
s_edges (Copilot__V1__GraphEdge **v, size_t n)
{
    json_t *a = json_array ();
    for (size_t i = 0; a && i < n; i++) {
        if (!v[i])
            continue;
        json_t *o = json_object ();
        if (!o)
            continue;
        s_set_str (o, "src", v[i]->src);
        s_set_str (o, "dst", v[i]->dst);
        s_set_str (o, "type", v[i]->type);
        json_array_append_new (a, o);
    }
    return a;
}

json_t *
gw_json_neighbors_reply (const Copilot__V1__NeighborsReply *r)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_set_str (o, "mode", "neighbors");
    s_set (o, "nodes", r ? s_nodes (r->nodes, r->n_nodes) : json_array ());
    s_set (o, "edges", r ? s_edges (r->edges, r->n_edges) : json_array ());
    return o;
}

json_t *
gw_json_subgraph_reply (const Copilot__V1__SubgraphReply *r)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_set_str (o, "mode", "subgraph");
    s_set (o, "nodes", r ? s_nodes (r->nodes, r->n_nodes) : json_array ());
    s_set (o, "edges", r ? s_edges (r->edges, r->n_edges) : json_array ());
    s_set_str (o, "text", r ? r->text : "");
    s_set_str (o, "data_version", r ? r->data_version : "");
    return o;
}

json_t *
gw_json_alert (const Copilot__V1__Alert *a)
{
    json_t *o = json_object ();
    if (!o || !a)
        return o;
    s_set_str (o, "alert_id", a->alert_id);
    s_set_str (o, "severity", a->severity);
    s_set_str (o, "entity_type", a->entity_type);
    s_set_str (o, "entity_id", a->entity_id);
    s_set_str (o, "entity_name", a->entity_name);
    s_set_str (o, "date", a->date);
    s_set (o, "value", s_real (a->value));
    s_set (o, "expected", s_real (a->expected));
    s_set (o, "expected_low", s_real (a->expected_low));
    s_set (o, "expected_high", s_real (a->expected_high));
    s_set (o, "z_score", s_real (a->z_score));
    s_set (o, "pct_deviation", s_real (a->pct_deviation));
    s_set_str (o, "message", a->message);
    s_set_str (o, "report_id", a->report_id);
    return o;
}

json_t *
gw_json_data_changed (const Copilot__V1__DataChanged *d)
{
    json_t *o = json_object ();
    if (!o || !d)
        return o;
    s_set_str (o, "data_version", d->data_version);
    s_set_str (o, "reason", d->reason);
    s_set (o, "rows_written", json_integer (d->rows_written));
    return o;
}

/* ---- input ------------------------------------------------------------------------ */

json_t *
gw_json_parse_body (const char *body, size_t len, char *err, size_t err_size)
{
    if (len == 0) {
        snprintf (err, err_size, "request body is empty; expected a JSON object");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb (body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf (err, err_size, "invalid JSON at line %d column %d: %s", je.line, je.column,
                  je.text);
        return NULL;
    }
    if (!json_is_object (j)) {
        json_decref (j);
        snprintf (err, err_size, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

bool
gw_valid_ident (const char *s, size_t max)
{
    size_t n = s ? strlen (s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

bool
gw_valid_node_type (const char *type)
{
    static const char *types[] = { "workspace", "user", "job", "compute", "jobrun",
                                   "usage", "event", "eviction", "query",
                                   "configchange", "anomaly", NULL };
    for (int i = 0; types[i]; i++)
        if (strcmp (types[i], type) == 0)
            return true;
    return false;
}

static int
s_add_param (Copilot__V1__Param ***arr, size_t *n, const char *k, const char *v)
{
    Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
    if (!p)
        return -1;
    if (env_set_str (&p->key, k) || env_set_str (&p->value, v)
        || ENV_APPEND (*arr, *n, p) != 0) {
        protobuf_c_message_free_unpacked (&p->base, NULL);
        return -1;
    }
    return 0;
}

/* Same validation for report parameters from a query string or a JSON body. */
static int
s_check_param (const char *k, const char *v, char *err, size_t err_size)
{
    if (strcmp (k, "from") == 0 || strcmp (k, "to") == 0 || strcmp (k, "as_of") == 0) {
        int64_t d;
        if (clock_parse_date (v, &d) != 0) {
            snprintf (err, err_size, "parameter '%s' must be a date YYYY-MM-DD", k);
            return -1;
        }
        return 0;
    }
    if (strcmp (k, "workspace") == 0) {
        size_t n = strlen (v);
        if (n == 0 || n > 128) {
            snprintf (err, err_size, "parameter 'workspace' must be 1-128 characters");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            char c = v[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == ' ' || c == '.' || c == '_' || c == ':' || c == '-')) {
                snprintf (err, err_size, "parameter 'workspace' contains an unsupported character");
                return -1;
            }
        }
        return 0;
    }
    size_t kn = strlen (k);
    if (kn == 0 || kn > 64) {
        snprintf (err, err_size, "parameter names must be 1-64 characters");
        return -1;
    }
    for (size_t i = 0; i < kn; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            snprintf (err, err_size, "parameter name '%.64s' must be lower-case [a-z0-9_]", k);
            return -1;
        }
    }
    if (strlen (v) > 256 || !str_utf8_valid (v, strlen (v))) {
        snprintf (err, err_size, "parameter '%s' value is too long or not UTF-8", k);
        return -1;
    }
    return 0;
}

static int
s_check_range (Copilot__V1__Param **p, size_t n, char *err, size_t err_size)
{
    const char *from = NULL, *to = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp (p[i]->key, "from") == 0)
            from = p[i]->value;
        else if (strcmp (p[i]->key, "to") == 0)
            to = p[i]->value;
    }
    if (from && to && strcmp (from, to) > 0) {
        snprintf (err, err_size, "'from' (%s) is after 'to' (%s)", from, to);
        return -1;
    }
    return 0;
}

int
gw_query_to_report_params (const char *query, Copilot__V1__RunReportRequest *req, char *err,
                           size_t err_size)
{
    size_t pos = 0;
    char k[128], v[512];
    int rc;
    while ((rc = gw_query_next (query, &pos, k, sizeof k, v, sizeof v)) != 0) {
        if (rc < 0) {
            snprintf (err, err_size, "malformed query string (bad percent-encoding or too long)");
            return -1;
        }
        if (!str_utf8_valid (k, strlen (k)) || !str_utf8_valid (v, strlen (v))) {
            snprintf (err, err_size, "query string is not valid UTF-8");
            return -1;
        }
        if (strcmp (k, "access_token") == 0)
            continue;
        if (s_check_param (k, v, err, err_size) != 0)
            return -1;
        for (size_t i = 0; i < req->n_params; i++) {
            if (strcmp (req->params[i]->key, k) == 0) {
                snprintf (err, err_size, "parameter '%s' given more than once", k);
                return -1;
            }
        }
        if (req->n_params >= 16) {
            snprintf (err, err_size, "too many parameters (at most 16)");
            return -1;
        }
        if (s_add_param (&req->params, &req->n_params, k, v) != 0) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
    }
    return s_check_range (req->params, req->n_params, err, err_size);
}

static int
s_opt_str (json_t *body, const char *key, size_t max, char **field, char *err, size_t err_size)
{
    json_t *v = json_object_get (body, key);
    if (!v || json_is_null (v))
        return 0;
    if (!json_is_string (v)) {
        snprintf (err, err_size, "'%s' must be a string", key);
        return -1;
    }
    if (json_string_length (v) > max) {
        snprintf (err, err_size, "'%s' is longer than %zu bytes", key, max);
        return -1;
    }
    if (memchr (json_string_value (v), '\0', json_string_length (v))) {
        snprintf (err, err_size, "'%s' contains a NUL character", key);
        return -1;
    }
    if (env_set_str (field, json_string_value (v)) != 0) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

Copilot__V1__ExplainRequest *
gw_json_to_explain (json_t *body, char *err, size_t err_size)
{
    static const char *allowed[] = { "report_id", "params", "entity_type", "entity_id",
                                     "chip_id", "question", "debug", "session_id", NULL };
    const char *key;
    json_t *val;
    json_object_foreach (body, key, val) {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            if (strcmp (allowed[i], key) == 0)
                ok = true;
        if (!ok) {
            snprintf (err, err_size, "unknown field '%.64s' (allowed: report_id, params, "
                      "entity_type, entity_id, chip_id, question, debug, session_id)", key);
            return NULL;
        }
    }
    Copilot__V1__ExplainRequest *r = env_msg_new (&copilot__v1__explain_request__descriptor);
    if (!r) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    if (s_opt_str (body, "report_id", 64, &r->report_id, err, err_size)
        || s_opt_str (body, "entity_type", 32, &r->entity_type, err, err_size)
        || s_opt_str (body, "entity_id", 256, &r->entity_id, err, err_size)
        || s_opt_str (body, "chip_id", 128, &r->chip_id, err, err_size)
        || s_opt_str (body, "question", 4000, &r->question, err, err_size)
        || s_opt_str (body, "session_id", 64, &r->session_id, err, err_size))
        goto fail;
    json_t *dbg = json_object_get (body, "debug");
    if (dbg && !json_is_null (dbg)) {
        if (!json_is_boolean (dbg)) {
            snprintf (err, err_size, "'debug' must be true or false");
            goto fail;
        }
        r->debug = json_is_true (dbg);
    }
    json_t *params = json_object_get (body, "params");
    if (params && !json_is_null (params)) {
        if (!json_is_object (params)) {
            snprintf (err, err_size, "'params' must be an object of strings");
            goto fail;
        }
        if (json_object_size (params) > 16) {
            snprintf (err, err_size, "too many params (at most 16)");
            goto fail;
        }
        /* jansson iterates objects in insertion order: deterministic. */
        json_object_foreach (params, key, val) {
            if (!json_is_string (val)) {
                snprintf (err, err_size, "params.%.64s must be a string", key);
                goto fail;
            }
            if (s_check_param (key, json_string_value (val), err, err_size) != 0)
                goto fail;
            if (s_add_param (&r->params, &r->n_params, key, json_string_value (val)) != 0) {
                snprintf (err, err_size, "out of memory");
                goto fail;
            }
        }
        if (s_check_range (r->params, r->n_params, err, err_size) != 0)
            goto fail;
    }
    if (r->report_id[0] && !gw_valid_ident (r->report_id, 64)) {
        snprintf (err, err_size, "'report_id' must be 1-64 characters of [A-Za-z0-9_.:-]");
        goto fail;
    }
    if (r->entity_type[0] && !gw_valid_ident (r->entity_type, 32)) {
        snprintf (err, err_size, "'entity_type' must be an identifier");
        goto fail;
    }
    if (r->chip_id[0]) {
        if (!r->report_id[0] || !r->entity_type[0] || !r->entity_id[0]) {
            snprintf (err, err_size,
                      "'chip_id' needs 'report_id', 'entity_type' and 'entity_id'");
            goto fail;
        }
    } else {
        char *q = r->question;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (!*q) {
            snprintf (err, err_size, "give either 'chip_id' (with report_id, entity_type, "
                      "entity_id) or a non-empty 'question'");
            goto fail;
        }
    }
    return r;
fail:
    protobuf_c_message_free_unpacked (&r->base, NULL);
    return NULL;
}
