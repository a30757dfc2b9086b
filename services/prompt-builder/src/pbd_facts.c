/* pbd_facts.c — the structured facts handed to the llm-gateway.
 *
 * The offline narrator and the grounding check read every figure from this
 * document, so it carries the EntityFacts exactly (names, values, units,
 * source tables, row keys) plus who asked what (report, entity, chip). It is
 * written by hand with the project's one JSON string escaper (buf_json_str)
 * so key order and number formatting (pbd_fmt_number) are fixed.
 *
 * EntityFacts (report.proto Fact) has no structured lists, so the lists the
 * narrator's rules read are derived from report-service's fact texts, whose
 * formats are fixed in services/report-service/src/rs_facts.c:
 *   error_signature  "<signature> (<n> runs, last <ts>)", value = count
 *                    → error_signatures[{signature,count,last_seen,text,...}]
 *   config_change    "<ts>: <field> changed from <old> to <new>[ by <who>]"
 *                    → config_changes[{ts,field,old,new,entity_id,text,...}]
 *   upstream_job / downstream_job, row key "<up>-><down>"
 *                    → dependencies[{id,relation,text}]
 * A text that does not match keeps only the fields that can be read (text,
 * source). The facts themselves are always passed through unchanged.
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

/* ,"key":"<n bytes of s>" */
static int
s_kvn (buf_t *b, bool *first, const char *key, const char *s, size_t n)
{
    if (!s || n == 0)
        return 0;
    int rc = buf_puts (b, *first ? "" : ",");
    *first = false;
    rc = rc ? rc : buf_json_str (b, key);
    rc = rc ? rc : buf_puts (b, ":");
    rc = rc ? rc : buf_json_strn (b, s, n);
    return rc;
}

/* Last occurrence of `needle` in s, or NULL. */
static const char *
s_rfind (const char *s, const char *needle)
{
    const char *last = NULL;
    for (const char *p = strstr (s, needle); p; p = strstr (p + 1, needle))
        last = p;
    return last;
}

static bool
s_is_fact (const pbd_fact_t *f, const char *name)
{
    return f->name && strcmp (f->name, name) == 0 && s_has (f->text);
}

/* "error_signatures" from report-service facts named error_signature, text
 * "<signature> (<n> runs, last <ts>)" (rs_facts.c); the count is the value. */
static int
s_signatures (buf_t *b, const pbd_input_t *in)
{
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < in->n_facts && rc == 0; i++) {
        const pbd_fact_t *f = &in->facts[i];
        if (!s_is_fact (f, "error_signature"))
            continue;
        rc = buf_puts (b, n++ ? ",{" : ",\"error_signatures\":[{");
        bool first = true;
        const char *paren = s_rfind (f->text, " (");
        size_t slen = paren ? (size_t) (paren - f->text) : strlen (f->text);
        rc = rc ? rc : s_kvn (b, &first, "signature", f->text, slen);
        if (rc == 0 && f->has_value && isfinite (f->value))
            rc = s_knum (b, &first, "count", f->value);
        const char *last = paren ? strstr (paren, ", last ") : NULL;
        if (rc == 0 && last) {
            last += strlen (", last ");
            const char *end = strrchr (last, ')');
            if (end && end > last)
                rc = s_kvn (b, &first, "last_seen", last, (size_t) (end - last));
        }
        rc = rc ? rc : s_kv (b, &first, "text", f->text);
        rc = rc ? rc : s_kv (b, &first, "source_table", f->source_table);
        rc = rc ? rc : buf_puts (b, "}");
    }
    if (rc == 0 && n)
        rc = buf_puts (b, "]");
    return rc;
}

/* "config_changes" from facts named config_change, text
 * "<ts>: <field> changed from <old> to <new>[ by <who>]" (rs_facts.c). */
static int
s_changes (buf_t *b, const pbd_input_t *in)
{
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < in->n_facts && rc == 0; i++) {
        const pbd_fact_t *f = &in->facts[i];
        if (!s_is_fact (f, "config_change"))
            continue;
        rc = buf_puts (b, n++ ? ",{" : ",\"config_changes\":[{");
        bool first = true;
        const char *t = f->text;
        const char *colon = strstr (t, ": ");
        const char *from = colon ? strstr (colon, " changed from ") : NULL;
        const char *to = from ? strstr (from + strlen (" changed from "), " to ") : NULL;
        if (colon && from && to) {
            const char *nv = to + strlen (" to ");
            const char *by = strstr (nv, " by ");
            const char *fld = colon + 2;
            const char *ov = from + strlen (" changed from ");
            rc = s_kvn (b, &first, "ts", t, (size_t) (colon - t));
            rc = rc ? rc : s_kvn (b, &first, "field", fld, (size_t) (from - fld));
            rc = rc ? rc : s_kvn (b, &first, "old", ov, (size_t) (to - ov));
            rc = rc ? rc : s_kvn (b, &first, "new", nv, by ? (size_t) (by - nv) : strlen (nv));
        }
        if (rc == 0 && s_has (in->entity_id))
            rc = s_kv (b, &first, "entity_id", in->entity_id);
        rc = rc ? rc : s_kv (b, &first, "text", t);
        rc = rc ? rc : s_kv (b, &first, "source_table", f->source_table);
        if (rc == 0 && f->n_row_keys > 0)
            rc = s_kv (b, &first, "row_key", f->row_keys[0]);
        rc = rc ? rc : buf_puts (b, "}");
    }
    if (rc == 0 && n)
        rc = buf_puts (b, "]");
    return rc;
}

/* "dependencies" from facts named upstream_job / downstream_job, row key
 * "<up>-><down>" (rs_facts.c). */
static int
s_dependencies (buf_t *b, const pbd_input_t *in)
{
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < in->n_facts && rc == 0; i++) {
        const pbd_fact_t *f = &in->facts[i];
        bool up = s_is_fact (f, "upstream_job");
        if (!up && !s_is_fact (f, "downstream_job"))
            continue;
        rc = buf_puts (b, n++ ? ",{" : ",\"dependencies\":[{");
        bool first = true;
        const char *key = f->n_row_keys > 0 ? f->row_keys[0] : NULL;
        const char *arrow = key ? strstr (key, "->") : NULL;
        if (arrow) {
            char id[256];
            const char *job = up ? key : arrow + 2;
            size_t jl = up ? (size_t) (arrow - key) : strlen (arrow + 2);
            if (jl > 0 && jl + 6 < sizeof id) {
                memcpy (id, "job::", 5);
                memcpy (id + 5, job, jl);
                id[5 + jl] = '\0';
                rc = s_kv (b, &first, "id", id);
            }
        }
        rc = rc ? rc : s_kv (b, &first, "relation", up ? "upstream" : "downstream");
        rc = rc ? rc : s_kv (b, &first, "text", f->text);
        rc = rc ? rc : buf_puts (b, "}");
    }
    if (rc == 0 && n)
        rc = buf_puts (b, "]");
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
    /* The contract: "question" only for a free question (no chip). */
    if (!in->chip || !s_has (in->chip->id))
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
    /* Numeric facts first (the narrator's "key figures" are the first
     * three), then textual ones; each group keeps the report's order. */
    size_t emitted = 0;
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < in->n_facts && rc == 0; i++) {
            const pbd_fact_t *f = &in->facts[i];
            bool numeric = f->has_value && isfinite (f->value);
            if (numeric != (pass == 0))
                continue;
            bool f2 = true;
            rc = buf_puts (b, emitted++ ? ",{" : "{");
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
    }
    rc = rc ? rc : buf_puts (b, "]");
    rc = rc ? rc : s_signatures (b, in);
    rc = rc ? rc : s_changes (b, in);
    rc = rc ? rc : s_dependencies (b, in);
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
