/* rs_pb.c — JSON results <-> protobuf-c messages (see rs_pb.h).
 *
 * Design: builders allocate every string with malloc (s_dup) and every
 * repeated field with realloc (PUSH), attaching each piece to its parent as
 * soon as it exists, so on any failure freeing the root with
 * protobuf_c_message_free_unpacked releases everything. Readers never trust
 * the message: NULL elements and missing sub-messages are skipped.
 */
#include "rs_pb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_grow (void **p, size_t n, size_t esz)
{
    void *q = realloc (*p, n * esz);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

#define PUSH(arr, n, item) \
    (s_grow ((void **) &(arr), (size_t) (n) + 1, sizeof *(arr)) == 0 ? ((arr)[(n)++] = (item), 0) : -1)

static char *
s_dup (const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen (s);
    char *d = malloc (n + 1);
    if (d)
        memcpy (d, s, n + 1);
    return d;
}

/* Replaces a proto3 string field (initially protobuf_c_empty_string). */
static int
s_set (char **field, const char *s)
{
    char *d = s_dup (s);
    if (!d)
        return -1;
    *field = d;
    return 0;
}

static const char *
s_str (json_t *o, const char *k)
{
    const char *v = json_string_value (json_object_get (o, k));
    return v ? v : "";
}

static double
s_num (json_t *o, const char *k)
{
    json_t *v = json_object_get (o, k);
    return json_is_number (v) ? json_number_value (v) : 0.0;
}

static char *
s_dump (json_t *v)
{
    if (!v || json_is_null (v))
        return s_dup ("");
    return json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- ReportResult ------------------------------------------------------- */
static Copilot__V1__Value *
s_value (json_t *v)
{
    Copilot__V1__Value *x = malloc (sizeof *x);
    if (!x)
        return NULL;
    copilot__v1__value__init (x);
    if (json_is_integer (v)) {
        x->kind_case = COPILOT__V1__VALUE__KIND_INT_VALUE;
        x->int_value = (int64_t) json_integer_value (v);
    } else if (json_is_real (v)) {
        x->kind_case = COPILOT__V1__VALUE__KIND_REAL_VALUE;
        x->real_value = json_real_value (v);
    } else if (json_is_string (v)) {
        x->kind_case = COPILOT__V1__VALUE__KIND_TEXT_VALUE;
        x->text_value = s_dup (json_string_value (v));
        if (!x->text_value) {
            free (x);
            return NULL;
        }
    } else if (json_is_boolean (v)) {
        x->kind_case = COPILOT__V1__VALUE__KIND_INT_VALUE;
        x->int_value = json_is_true (v);
    } else {
        x->kind_case = COPILOT__V1__VALUE__KIND_IS_NULL;
        x->is_null = 1;
    }
    return x;
}

static Copilot__V1__Chip *
s_chip (json_t *c)
{
    Copilot__V1__Chip *x = malloc (sizeof *x);
    if (!x)
        return NULL;
    copilot__v1__chip__init (x);
    if (s_set (&x->id, s_str (c, "id")) || s_set (&x->lane, s_str (c, "lane")) ||
        s_set (&x->label, s_str (c, "label")) || s_set (&x->prompt, s_str (c, "prompt")) ||
        s_set (&x->entity_type, s_str (c, "entity_type")) || s_set (&x->entity_id, s_str (c, "entity_id"))) {
        protobuf_c_message_free_unpacked (&x->base, NULL);
        return NULL;
    }
    return x;
}

Copilot__V1__ReportResult *
rs_pb_report_result (json_t *res)
{
    if (!json_is_object (res))
        return NULL;
    Copilot__V1__ReportResult *r = malloc (sizeof *r);
    if (!r)
        return NULL;
    copilot__v1__report_result__init (r);
    json_t *payload_text = json_array ();
    if (!payload_text || s_set (&r->report_id, s_str (res, "report_id")) || s_set (&r->title, s_str (res, "title")) ||
        s_set (&r->sql, s_str (res, "sql")) || s_set (&r->data_version, s_str (res, "data_version")))
        goto oom;
    r->cached = json_is_true (json_object_get (res, "cached"));
    json_t *total = json_object_get (res, "rows_total");
    r->rows_total = json_is_integer (total) ? (int64_t) json_integer_value (total)
                                            : (int64_t) json_array_size (json_object_get (res, "rows"));

    const char *k;
    json_t *v;
    json_object_foreach (json_object_get (res, "params"), k, v) {
        Copilot__V1__Param *p = malloc (sizeof *p);
        if (!p)
            goto oom;
        copilot__v1__param__init (p);
        if (PUSH (r->params, r->n_params, p)) {
            free (p);
            goto oom;
        }
        char *txt = json_is_string (v) ? s_dup (json_string_value (v)) : json_is_null (v) ? s_dup ("") : s_dump (v);
        if (!txt || s_set (&p->key, k))
            goto oom_txt;
        p->value = txt;
        continue;
    oom_txt:
        free (txt);
        goto oom;
    }

    size_t i, j;
    json_t *c;
    json_t *cols = json_object_get (res, "columns");
    json_array_foreach (cols, i, c) {
        Copilot__V1__Column *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__column__init (x);
        if (PUSH (r->columns, r->n_columns, x)) {
            free (x);
            goto oom;
        }
        if (s_set (&x->name, s_str (c, "name")) || s_set (&x->type, s_str (c, "type")) ||
            s_set (&x->label, s_str (c, "label")))
            goto oom;
    }
    json_t *row;
    json_array_foreach (json_object_get (res, "rows"), i, row) {
        Copilot__V1__Row *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__row__init (x);
        if (PUSH (r->rows, r->n_rows, x)) {
            free (x);
            goto oom;
        }
        json_array_foreach (cols, j, c) {
            Copilot__V1__Value *val = s_value (json_object_get (row, s_str (c, "name")));
            if (!val)
                goto oom;
            if (PUSH (x->values, x->n_values, val)) {
                protobuf_c_message_free_unpacked (&val->base, NULL);
                goto oom;
            }
        }
    }
    json_array_foreach (json_object_get (res, "kpis"), i, c) {
        Copilot__V1__Kpi *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__kpi__init (x);
        if (PUSH (r->kpis, r->n_kpis, x)) {
            free (x);
            goto oom;
        }
        x->value = s_num (c, "value");
        if (s_set (&x->id, s_str (c, "id")) || s_set (&x->label, s_str (c, "label")) ||
            s_set (&x->format, s_str (c, "format")) || s_set (&x->text, s_str (c, "text")))
            goto oom;
    }
    json_array_foreach (json_object_get (res, "banners"), i, c) {
        Copilot__V1__Banner *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__banner__init (x);
        if (PUSH (r->banners, r->n_banners, x)) {
            free (x);
            goto oom;
        }
        if (s_set (&x->level, s_str (c, "level")) || s_set (&x->text, s_str (c, "text")))
            goto oom;
    }
    json_t *sel;
    json_array_foreach (json_object_get (res, "selections"), i, sel) {
        Copilot__V1__Selection *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__selection__init (x);
        if (PUSH (r->selections, r->n_selections, x)) {
            free (x);
            goto oom;
        }
        if (s_set (&x->entity_type, s_str (sel, "entity_type")) || s_set (&x->entity_id, s_str (sel, "entity_id")) ||
            s_set (&x->label, s_str (sel, "label")))
            goto oom;
        json_t *texts = json_object ();
        if (!texts || json_array_append_new (payload_text, texts))
            goto oom;
        json_object_foreach (json_object_get (sel, "payload"), k, v) {
            if (!json_is_number (v)) {
                json_object_set (texts, k, v);
                continue;
            }
            Copilot__V1__NamedNumber *nn = malloc (sizeof *nn);
            if (!nn)
                goto oom;
            copilot__v1__named_number__init (nn);
            if (PUSH (x->payload, x->n_payload, nn)) {
                free (nn);
                goto oom;
            }
            nn->value = json_number_value (v);
            if (s_set (&nn->name, k))
                goto oom;
        }
        json_array_foreach (json_object_get (sel, "chips"), j, c) {
            Copilot__V1__Chip *ch = s_chip (c);
            if (!ch)
                goto oom;
            if (PUSH (x->chips, x->n_chips, ch)) {
                protobuf_c_message_free_unpacked (&ch->base, NULL);
                goto oom;
            }
        }
    }
    r->chart_spec_json = s_dump (json_object_get (res, "chart_spec"));
    json_t *extra = json_object ();
    if (extra) {
        json_object_set (extra, "tables", json_object_get (res, "tables"));
        json_object_set (extra, "datasets", json_object_get (res, "extra"));
        json_object_set (extra, "measures", json_object_get (res, "measures"));
        json_object_set (extra, "payload_text", payload_text);
        json_object_set (extra, "pillar", json_object_get (res, "pillar"));
        json_object_set (extra, "description", json_object_get (res, "description"));
    }
    r->extra_json = extra ? s_dump (extra) : NULL;
    json_decref (extra);
    if (!r->chart_spec_json || !r->extra_json)
        goto oom;
    json_decref (payload_text);
    return r;
oom:
    json_decref (payload_text);
    protobuf_c_message_free_unpacked (&r->base, NULL);
    return NULL;
}

static json_t *
s_value_json (const Copilot__V1__Value *v)
{
    if (!v)
        return json_null ();
    switch (v->kind_case) {
    case COPILOT__V1__VALUE__KIND_INT_VALUE:
        return json_integer ((json_int_t) v->int_value);
    case COPILOT__V1__VALUE__KIND_REAL_VALUE:
        return isfinite (v->real_value) ? json_real (v->real_value) : json_null ();
    case COPILOT__V1__VALUE__KIND_TEXT_VALUE:
        return json_string (v->text_value ? v->text_value : "");
    default:
        return json_null ();
    }
}

static json_t *
s_parse (const char *text)
{
    if (!text || !text[0])
        return json_null ();
    json_t *j = json_loads (text, JSON_DECODE_ANY, NULL);
    return j ? j : json_null ();
}

json_t *
rs_pb_report_result_json (const Copilot__V1__ReportResult *r)
{
    if (!r)
        return NULL;
    json_t *o = json_object ();
    json_t *extra = s_parse (r->extra_json);
    json_object_set_new (o, "report_id", json_string (r->report_id));
    json_object_set_new (o, "title", json_string (r->title));
    json_object_set (o, "pillar", json_object_get (extra, "pillar") ? json_object_get (extra, "pillar") : json_null ());
    json_object_set (o, "description",
                     json_object_get (extra, "description") ? json_object_get (extra, "description") : json_null ());
    json_t *p = json_object ();
    for (size_t i = 0; i < r->n_params; i++)
        if (r->params[i])
            json_object_set_new (p, r->params[i]->key, r->params[i]->value[0] ? json_string (r->params[i]->value) : json_null ());
    json_object_set_new (o, "params", p);
    json_object_set_new (o, "data_version", json_string (r->data_version));
    json_t *cols = json_array ();
    for (size_t i = 0; i < r->n_columns; i++)
        if (r->columns[i])
            json_array_append_new (cols, json_pack ("{s:s, s:s, s:s}", "name", r->columns[i]->name, "type",
                                                    r->columns[i]->type, "label", r->columns[i]->label));
    json_object_set_new (o, "columns", cols);
    json_t *rows = json_array ();
    for (size_t i = 0; i < r->n_rows; i++) {
        json_t *ro = json_object ();
        const Copilot__V1__Row *row = r->rows[i];
        for (size_t j = 0; row && j < row->n_values && j < r->n_columns; j++)
            if (r->columns[j])
                json_object_set_new (ro, r->columns[j]->name, s_value_json (row->values[j]));
        json_array_append_new (rows, ro);
    }
    json_object_set_new (o, "rows", rows);
    json_t *kpis = json_array ();
    for (size_t i = 0; i < r->n_kpis; i++)
        if (r->kpis[i])
            json_array_append_new (kpis, json_pack ("{s:s, s:s, s:f, s:s, s:s}", "id", r->kpis[i]->id, "label",
                                                    r->kpis[i]->label, "value", r->kpis[i]->value, "format",
                                                    r->kpis[i]->format, "text", r->kpis[i]->text));
    json_object_set_new (o, "kpis", kpis);
    json_t *bans = json_array ();
    for (size_t i = 0; i < r->n_banners; i++)
        if (r->banners[i])
            json_array_append_new (bans, json_pack ("{s:s, s:s}", "level", r->banners[i]->level, "text", r->banners[i]->text));
    json_object_set_new (o, "banners", bans);
    json_object_set (o, "tables", json_object_get (extra, "tables") ? json_object_get (extra, "tables") : json_null ());
    json_object_set_new (o, "chart_spec", s_parse (r->chart_spec_json));
    json_t *sels = json_array ();
    json_t *ptext = json_object_get (extra, "payload_text");
    for (size_t i = 0; i < r->n_selections; i++) {
        const Copilot__V1__Selection *s = r->selections[i];
        if (!s)
            continue;
        json_t *so = json_pack ("{s:s, s:s, s:s}", "entity_type", s->entity_type, "entity_id", s->entity_id, "label", s->label);
        json_t *pl = json_object ();
        for (size_t j = 0; j < s->n_payload; j++)
            if (s->payload[j])
                json_object_set_new (pl, s->payload[j]->name, json_real (s->payload[j]->value));
        json_object_update (pl, json_array_get (ptext, i));
        json_object_set_new (so, "payload", pl);
        json_t *chips = json_array ();
        for (size_t j = 0; j < s->n_chips; j++) {
            const Copilot__V1__Chip *c = s->chips[j];
            if (c)
                json_array_append_new (chips, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", c->id, "lane", c->lane,
                                                         "label", c->label, "prompt", c->prompt, "entity_type",
                                                         c->entity_type, "entity_id", c->entity_id));
        }
        json_object_set_new (so, "chips", chips);
        json_array_append_new (sels, so);
    }
    json_object_set_new (o, "selections", sels);
    json_object_set (o, "extra", json_object_get (extra, "datasets") ? json_object_get (extra, "datasets") : json_null ());
    json_object_set (o, "measures", json_object_get (extra, "measures") ? json_object_get (extra, "measures") : json_null ());
    json_object_set_new (o, "sql", json_string (r->sql));
    json_object_set_new (o, "cached", json_boolean (r->cached));
    json_object_set_new (o, "rows_total", json_integer ((json_int_t) r->rows_total));
    json_decref (extra);
    return o;
}

/* ---- ListReports -------------------------------------------------------- */
Copilot__V1__ListReportsReply *
rs_pb_list (json_t *list)
{
    Copilot__V1__ListReportsReply *r = malloc (sizeof *r);
    if (!r)
        return NULL;
    copilot__v1__list_reports_reply__init (r);
    size_t i, j;
    json_t *rep, *p;
    json_array_foreach (json_object_get (list, "reports"), i, rep) {
        Copilot__V1__ReportInfo *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__report_info__init (x);
        if (PUSH (r->reports, r->n_reports, x)) {
            free (x);
            goto oom;
        }
        x->order = (uint32_t) s_num (rep, "order");
        if (s_set (&x->id, s_str (rep, "id")) || s_set (&x->title, s_str (rep, "title")) ||
            s_set (&x->pillar, s_str (rep, "pillar")) || s_set (&x->description, s_str (rep, "description")) ||
            s_set (&x->status, s_str (rep, "status")))
            goto oom;
        json_array_foreach (json_object_get (rep, "params"), j, p) {
            Copilot__V1__ParamSpec *ps = malloc (sizeof *ps);
            if (!ps)
                goto oom;
            copilot__v1__param_spec__init (ps);
            if (PUSH (x->params, x->n_params, ps)) {
                free (ps);
                goto oom;
            }
            if (s_set (&ps->name, s_str (p, "name")) || s_set (&ps->kind, s_str (p, "kind")) ||
                s_set (&ps->description, s_str (p, "description")) || s_set (&ps->default_value, s_str (p, "default")))
                goto oom;
        }
    }
    return r;
oom:
    protobuf_c_message_free_unpacked (&r->base, NULL);
    return NULL;
}

json_t *
rs_pb_list_json (const Copilot__V1__ListReportsReply *r)
{
    if (!r)
        return NULL;
    json_t *o = json_object (), *reps = json_array ();
    for (size_t i = 0; i < r->n_reports; i++) {
        const Copilot__V1__ReportInfo *x = r->reports[i];
        if (!x)
            continue;
        json_t *ro = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:i}", "id", x->id, "title", x->title, "pillar", x->pillar,
                                "description", x->description, "status", x->status, "order", (int) x->order);
        json_t *pa = json_array ();
        for (size_t j = 0; j < x->n_params; j++)
            if (x->params[j])
                json_array_append_new (pa, json_pack ("{s:s, s:s, s:s, s:s}", "name", x->params[j]->name, "kind",
                                                      x->params[j]->kind, "description", x->params[j]->description,
                                                      "default", x->params[j]->default_value));
        json_object_set_new (ro, "params", pa);
        json_array_append_new (reps, ro);
    }
    json_object_set_new (o, "reports", reps);
    return o;
}

/* ---- EntityFacts -------------------------------------------------------- */
Copilot__V1__EntityFactsReply *
rs_pb_facts (json_t *facts)
{
    Copilot__V1__EntityFactsReply *r = malloc (sizeof *r);
    if (!r)
        return NULL;
    copilot__v1__entity_facts_reply__init (r);
    if (s_set (&r->entity_type, s_str (facts, "entity_type")) || s_set (&r->entity_id, s_str (facts, "entity_id")) ||
        s_set (&r->label, s_str (facts, "label")) || s_set (&r->data_version, s_str (facts, "data_version")))
        goto oom;
    size_t i, j;
    json_t *f, *k;
    json_array_foreach (json_object_get (facts, "facts"), i, f) {
        Copilot__V1__Fact *x = malloc (sizeof *x);
        if (!x)
            goto oom;
        copilot__v1__fact__init (x);
        if (PUSH (r->facts, r->n_facts, x)) {
            free (x);
            goto oom;
        }
        json_t *v = json_object_get (f, "value");
        x->value = json_is_number (v) ? json_number_value (v) : NAN;
        if (s_set (&x->name, s_str (f, "name")) || s_set (&x->text, s_str (f, "text")) ||
            s_set (&x->unit, s_str (f, "unit")) || s_set (&x->source_table, s_str (f, "source_table")))
            goto oom;
        json_array_foreach (json_object_get (f, "row_keys"), j, k) {
            char *d = s_dup (json_string_value (k));
            if (!d || PUSH (x->row_keys, x->n_row_keys, d)) {
                free (d);
                goto oom;
            }
        }
    }
    json_array_foreach (json_object_get (facts, "related_ids"), i, k) {
        char *d = s_dup (json_string_value (k));
        if (!d || PUSH (r->related_ids, r->n_related_ids, d)) {
            free (d);
            goto oom;
        }
    }
    return r;
oom:
    protobuf_c_message_free_unpacked (&r->base, NULL);
    return NULL;
}

json_t *
rs_pb_facts_json (const Copilot__V1__EntityFactsReply *r)
{
    if (!r)
        return NULL;
    json_t *o = json_pack ("{s:s, s:s, s:s, s:s}", "entity_type", r->entity_type, "entity_id", r->entity_id, "label",
                           r->label, "data_version", r->data_version);
    json_t *fa = json_array ();
    for (size_t i = 0; i < r->n_facts; i++) {
        const Copilot__V1__Fact *f = r->facts[i];
        if (!f)
            continue;
        json_t *fo = json_pack ("{s:s}", "name", f->name);
        json_object_set_new (fo, "value", isfinite (f->value) ? json_real (f->value) : json_null ());
        json_object_set_new (fo, "text", json_string (f->text));
        json_object_set_new (fo, "unit", json_string (f->unit));
        json_object_set_new (fo, "source_table", json_string (f->source_table));
        json_t *keys = json_array ();
        for (size_t j = 0; j < f->n_row_keys; j++)
            json_array_append_new (keys, json_string (f->row_keys[j] ? f->row_keys[j] : ""));
        json_object_set_new (fo, "row_keys", keys);
        json_array_append_new (fa, fo);
    }
    json_object_set_new (o, "facts", fa);
    json_t *rel = json_array ();
    for (size_t i = 0; i < r->n_related_ids; i++)
        json_array_append_new (rel, json_string (r->related_ids[i] ? r->related_ids[i] : ""));
    json_object_set_new (o, "related_ids", rel);
    return o;
}

/* ---- Alert -------------------------------------------------------------- */
Copilot__V1__Alert *
rs_pb_alert (json_t *a)
{
    Copilot__V1__Alert *x = malloc (sizeof *x);
    if (!x)
        return NULL;
    copilot__v1__alert__init (x);
    x->value = s_num (a, "value");
    x->expected = s_num (a, "expected");
    x->expected_low = s_num (a, "expected_low");
    x->expected_high = s_num (a, "expected_high");
    x->z_score = s_num (a, "z_score");
    x->pct_deviation = s_num (a, "pct_deviation");
    char msg[600];
    snprintf (msg, sizeof msg, "%s cost anomaly: %s (%s) on %s cost $%.2f, expected $%.2f (%+.0f%%, z = %.2f)",
              s_str (a, "severity"), s_str (a, "entity_name"), s_str (a, "entity_id"), s_str (a, "date"), x->value,
              x->expected, x->pct_deviation, x->z_score);
    if (s_set (&x->alert_id, s_str (a, "alert_id")) || s_set (&x->severity, s_str (a, "severity")) ||
        s_set (&x->entity_type, s_str (a, "entity_type")) || s_set (&x->entity_id, s_str (a, "entity_id")) ||
        s_set (&x->entity_name, s_str (a, "entity_name")) || s_set (&x->date, s_str (a, "date")) ||
        s_set (&x->message, msg) || s_set (&x->report_id, "anomaly_detection")) {
        protobuf_c_message_free_unpacked (&x->base, NULL);
        return NULL;
    }
    return x;
}
