/* pbd_facts.c — the structured facts handed to the llm-gateway.
 *
 * The offline narrator and the grounding check read every figure from this
 * document, so it carries the EntityFacts exactly (names, values, units,
 * source tables, row keys) plus who asked what (report, entity, chip). It is
 * written by hand with the project's one JSON string escaper (buf_json_str)
 * so key order and number formatting (pbd_fmt_number) are fixed.
 */
#include "pbd_facts.h"

#include <math.h>
#include <string.h>

#include "pbd_error.h"
#include "pbd_prompt.h"
#include "str.h"

static bool
s_has (const char *s)
{
    return s && *s;
}

/* ,"key":"value" when value is non-empty (first = no leading comma). */
static int
s_kv (buf_t *b, bool *first, const char *key, const char *value)
{
    if (!s_has (value))
        return 0;
    int rc = buf_puts (b, *first ? "" : ",");
    *first = false;
    rc = rc ? rc : buf_json_str (b, key);
    rc = rc ? rc : buf_puts (b, ":");
    rc = rc ? rc : buf_json_str (b, value);
    return rc;
}

static int
s_knum (buf_t *b, bool *first, const char *key, double v)
{
    char num[64];
    int rc = buf_puts (b, *first ? "" : ",");
    *first = false;
    rc = rc ? rc : buf_json_str (b, key);
    rc = rc ? rc : buf_printf (b, ":%s", pbd_fmt_number (v, num, sizeof num));
    return rc;
}

void
pbd_chip_kind (const char *chip_id, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    out[0] = '\0';
    if (!s_has (chip_id))
        return;
    if (str_starts_with (chip_id, "report:")) {
        str_copy (out, size, "report");
        return;
    }
    static const char *const prefixes[] = {"core:", "job:", "compute:", NULL};
    for (size_t i = 0; prefixes[i]; i++) {
        if (!str_starts_with (chip_id, prefixes[i]))
            continue;
        const char *k = chip_id + strlen (prefixes[i]);
        const char *e = strchr (k, ':');
        size_t n = e ? (size_t) (e - k) : strlen (k);
        if (n + 1 > size)
            n = size - 1;
        memcpy (out, k, n);
        out[n] = '\0';
        return;
    }
}

int
pbd_facts_json (const pbd_input_t *in, buf_t *b)
{
    if (!in || !b || (in->n_facts && !in->facts) || (in->n_payload && !in->payload))
        return PBD_E_INVALID;
    size_t mark = buf_len (b);
    bool first = true;
    int rc = buf_puts (b, "{");
    rc = rc ? rc : s_kv (b, &first, "report_id", in->report_id);
    rc = rc ? rc : s_kv (b, &first, "report_title", in->report_title);
    rc = rc ? rc : s_kv (b, &first, "data_version", in->data_version);
    rc = rc ? rc : s_kv (b, &first, "question", in->question);
    if (rc == 0 && s_has (in->entity_type) && s_has (in->entity_id)) {
        bool f2 = true;
        char node[256];
        rc = buf_puts (b, first ? "\"entity\":{" : ",\"entity\":{");
        first = false;
        rc = rc ? rc : s_kv (b, &f2, "type", in->entity_type);
        rc = rc ? rc : s_kv (b, &f2, "id", in->entity_id);
        rc = rc ? rc : s_kv (b, &f2, "label", in->entity_label);
        if (rc == 0 && pbd_node_id (in->entity_type, in->entity_id, node, sizeof node) == 0)
            rc = s_kv (b, &f2, "node_id", node);
        rc = rc ? rc : buf_puts (b, "}");
    }
    if (rc == 0 && in->chip && s_has (in->chip->id)) {
        bool f2 = true;
        char kind[64];
        pbd_chip_kind (in->chip->id, kind, sizeof kind);
        rc = buf_puts (b, first ? "\"chip\":{" : ",\"chip\":{");
        first = false;
        rc = rc ? rc : s_kv (b, &f2, "id", in->chip->id);
        rc = rc ? rc : s_kv (b, &f2, "lane", in->chip->lane);
        rc = rc ? rc : s_kv (b, &f2, "label", in->chip->label);
        rc = rc ? rc : s_kv (b, &f2, "kind", kind);
        rc = rc ? rc : buf_puts (b, "}");
    }
    if (rc == 0) {
        rc = buf_puts (b, first ? "\"facts\":[" : ",\"facts\":[");
        first = false;
    }
    for (size_t i = 0; i < in->n_facts && rc == 0; i++) {
        const pbd_fact_t *f = &in->facts[i];
        bool f2 = true;
        rc = buf_puts (b, i ? ",{" : "{");
        rc = rc ? rc : s_kv (b, &f2, "name", s_has (f->name) ? f->name : "unnamed");
        if (rc == 0 && f->has_value && isfinite (f->value))
            rc = s_knum (b, &f2, "value", f->value);
        rc = rc ? rc : s_kv (b, &f2, "unit", f->unit);
        rc = rc ? rc : s_kv (b, &f2, "text", f->text);
        rc = rc ? rc : s_kv (b, &f2, "source_table", f->source_table);
        if (rc == 0 && f->n_row_keys > 0) {
            rc = buf_puts (b, ",\"row_keys\":[");
            for (size_t k = 0; k < f->n_row_keys && rc == 0; k++) {
                rc = buf_puts (b, k ? "," : "");
                rc = rc ? rc : buf_json_str (b, f->row_keys[k] ? f->row_keys[k] : "");
            }
            rc = rc ? rc : buf_puts (b, "]");
        }
        rc = rc ? rc : buf_puts (b, "}");
    }
    rc = rc ? rc : buf_puts (b, "]");
    if (rc == 0 && in->n_payload > 0) {
        rc = buf_puts (b, ",\"selection\":{\"payload\":[");
        for (size_t i = 0; i < in->n_payload && rc == 0; i++) {
            bool f2 = true;
            rc = buf_puts (b, i ? ",{" : "{");
            rc = rc ? rc : s_kv (b, &f2, "name", s_has (in->payload[i].name) ? in->payload[i].name : "unnamed");
            if (rc == 0 && isfinite (in->payload[i].value))
                rc = s_knum (b, &f2, "value", in->payload[i].value);
            rc = rc ? rc : buf_puts (b, "}");
        }
        rc = rc ? rc : buf_puts (b, "]}");
    }
    rc = rc ? rc : buf_puts (b, "}");
    if (rc) {
        buf_truncate (b, mark);
        return rc == BUF_E_TOOBIG ? PBD_E_TOOBIG : PBD_E_NOMEM;
    }
    return 0;
}
