/* lg_facts.c — parse and validate CompletionRequest.facts_json.
 *
 * Design: the jansson document is kept alive inside lg_facts_t and every
 * string field is a borrowed pointer into it, so parsing allocates only the
 * item arrays. Parsing is strict about types (a key holding the wrong JSON
 * type fails with a message naming "facts[3].value") and lenient about
 * presence and unknown keys, because the format is produced by another
 * service and grows over time. Duplicate keys are rejected (c-patterns §4.2).
 * Threading: immutable after parsing; safe to read from several threads.
 */
#include "lg_facts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_error.h"
#include "str.h"

struct _lg_facts_t {
    json_t *root;
    const char *report_id, *report_title, *question;
    const char *etype, *eid, *elabel;
    const char *chip_id, *chip_lane, *chip_label, *chip_kind;
    char kind_buf[32];
    lg_fact_t *facts;
    size_t n_facts;
    lg_event_t *events;
    size_t n_events;
    lg_change_t *changes;
    size_t n_changes;
    lg_signature_t *sigs;
    size_t n_sigs;
    lg_dependency_t *deps;
    size_t n_deps;
};

typedef struct {
    char *err;
    size_t errsize;
    int rc;
} s_ctx_t;

static int
s_fail (s_ctx_t *c, int rc, const char *where, const char *key, const char *what)
{
    if (c->err && c->errsize)
        snprintf (c->err, c->errsize, "facts_json: %s%s%s %s", where, (where[0] && key[0]) ? "." : "",
                  key, what);
    c->rc = rc;
    return rc;
}

/* Optional string member: NULL when absent or null. */
static int
s_str (s_ctx_t *c, json_t *obj, const char *where, const char *key, const char **out)
{
    json_t *v = json_object_get (obj, key);
    *out = NULL;
    if (v == NULL || json_is_null (v))
        return 0;
    if (!json_is_string (v))
        return s_fail (c, LG_E_INVALID, where, key, "must be a string");
    *out = json_string_value (v);
    return 0;
}

static int
s_num (s_ctx_t *c, json_t *obj, const char *where, const char *key, double *out, bool *has)
{
    json_t *v = json_object_get (obj, key);
    *has = false;
    if (v == NULL || json_is_null (v))
        return 0;
    if (!json_is_number (v))
        return s_fail (c, LG_E_INVALID, where, key, "must be a number");
    *out = json_number_value (v);
    *has = true;
    return 0;
}

/* Validates an optional array member and returns its size. */
static int
s_array (s_ctx_t *c, json_t *root, const char *key, json_t **out, size_t *n)
{
    json_t *v = json_object_get (root, key);
    *out = NULL;
    *n = 0;
    if (v == NULL || json_is_null (v))
        return 0;
    if (!json_is_array (v))
        return s_fail (c, LG_E_INVALID, "", key, "must be an array");
    if (json_array_size (v) > LG_FACTS_MAX_ITEMS)
        return s_fail (c, LG_E_TOOBIG, "", key, "has too many items");
    *out = v;
    *n = json_array_size (v);
    return 0;
}

static int
s_item (s_ctx_t *c, json_t *arr, const char *key, size_t i, char *where, size_t wsize, json_t **item)
{
    snprintf (where, wsize, "%s[%zu]", key, i);
    *item = json_array_get (arr, i);
    if (!json_is_object (*item))
        return s_fail (c, LG_E_INVALID, where, "", "must be an object");
    return 0;
}

static int
s_parse_facts (s_ctx_t *c, lg_facts_t *self)
{
    json_t *arr;
    size_t n;
    if (s_array (c, self->root, "facts", &arr, &n) != 0)
        return c->rc;
    if (n == 0)
        return 0;
    self->facts = calloc (n, sizeof *self->facts);
    if (self->facts == NULL)
        return c->rc = LG_E_NOMEM;
    self->n_facts = n;
    for (size_t i = 0; i < n; i++) {
        char w[40];
        json_t *it;
        lg_fact_t *f = &self->facts[i];
        if (s_item (c, arr, "facts", i, w, sizeof w, &it) != 0
            || s_str (c, it, w, "name", &f->name) != 0
            || s_str (c, it, w, "label", &f->label) != 0
            || s_str (c, it, w, "unit", &f->unit) != 0
            || s_str (c, it, w, "text", &f->text) != 0
            || s_str (c, it, w, "source_table", &f->source_table) != 0
            || s_num (c, it, w, "value", &f->value, &f->has_value) != 0)
            return c->rc;
        if (f->name == NULL)
            return s_fail (c, LG_E_INVALID, w, "name", "is required");
        json_t *rk = json_object_get (it, "row_keys");
        if (rk != NULL && !json_is_null (rk)) {
            if (!json_is_array (rk))
                return s_fail (c, LG_E_INVALID, w, "row_keys", "must be an array of strings");
            size_t m = json_array_size (rk);
            if (m > LG_FACTS_MAX_ITEMS)
                return s_fail (c, LG_E_TOOBIG, w, "row_keys", "has too many items");
            if (m > 0) {
                f->row_keys = calloc (m, sizeof *f->row_keys);
                if (f->row_keys == NULL)
                    return c->rc = LG_E_NOMEM;
                f->n_row_keys = m;
                for (size_t k = 0; k < m; k++) {
                    json_t *s = json_array_get (rk, k);
                    if (!json_is_string (s))
                        return s_fail (c, LG_E_INVALID, w, "row_keys", "must be an array of strings");
                    f->row_keys[k] = json_string_value (s);
                }
            }
        }
    }
    return 0;
}

static int
s_parse_events (s_ctx_t *c, lg_facts_t *self)
{
    json_t *arr;
    size_t n;
    if (s_array (c, self->root, "events", &arr, &n) != 0 || n == 0)
        return c->rc;
    if ((self->events = calloc (n, sizeof *self->events)) == NULL)
        return c->rc = LG_E_NOMEM;
    self->n_events = n;
    for (size_t i = 0; i < n; i++) {
        char w[40];
        json_t *it;
        lg_event_t *e = &self->events[i];
        if (s_item (c, arr, "events", i, w, sizeof w, &it) != 0 || s_str (c, it, w, "ts", &e->ts) != 0
            || s_str (c, it, w, "type", &e->type) != 0 || s_str (c, it, w, "entity_id", &e->entity_id) != 0
            || s_str (c, it, w, "text", &e->text) != 0
            || s_str (c, it, w, "source_table", &e->source_table) != 0
            || s_str (c, it, w, "row_key", &e->row_key) != 0)
            return c->rc;
    }
    return 0;
}

static int
s_parse_changes (s_ctx_t *c, lg_facts_t *self)
{
    json_t *arr;
    size_t n;
    if (s_array (c, self->root, "config_changes", &arr, &n) != 0 || n == 0)
        return c->rc;
    if ((self->changes = calloc (n, sizeof *self->changes)) == NULL)
        return c->rc = LG_E_NOMEM;
    self->n_changes = n;
    for (size_t i = 0; i < n; i++) {
        char w[48];
        json_t *it;
        lg_change_t *e = &self->changes[i];
        if (s_item (c, arr, "config_changes", i, w, sizeof w, &it) != 0
            || s_str (c, it, w, "ts", &e->ts) != 0 || s_str (c, it, w, "entity_id", &e->entity_id) != 0
            || s_str (c, it, w, "field", &e->field) != 0 || s_str (c, it, w, "old", &e->old_value) != 0
            || s_str (c, it, w, "new", &e->new_value) != 0 || s_str (c, it, w, "text", &e->text) != 0
            || s_str (c, it, w, "source_table", &e->source_table) != 0
            || s_str (c, it, w, "row_key", &e->row_key) != 0)
            return c->rc;
    }
    return 0;
}

static int
s_parse_sigs (s_ctx_t *c, lg_facts_t *self)
{
    json_t *arr;
    size_t n;
    if (s_array (c, self->root, "error_signatures", &arr, &n) != 0 || n == 0)
        return c->rc;
    if ((self->sigs = calloc (n, sizeof *self->sigs)) == NULL)
        return c->rc = LG_E_NOMEM;
    self->n_sigs = n;
    for (size_t i = 0; i < n; i++) {
        char w[48];
        json_t *it;
        lg_signature_t *e = &self->sigs[i];
        if (s_item (c, arr, "error_signatures", i, w, sizeof w, &it) != 0
            || s_str (c, it, w, "signature", &e->signature) != 0
            || s_str (c, it, w, "first_seen", &e->first_seen) != 0
            || s_str (c, it, w, "last_seen", &e->last_seen) != 0 || s_str (c, it, w, "text", &e->text) != 0
            || s_str (c, it, w, "source_table", &e->source_table) != 0
            || s_num (c, it, w, "count", &e->count, &e->has_count) != 0)
            return c->rc;
        if (e->signature == NULL)
            return s_fail (c, LG_E_INVALID, w, "signature", "is required");
    }
    return 0;
}

static int
s_parse_deps (s_ctx_t *c, lg_facts_t *self)
{
    json_t *arr;
    size_t n;
    if (s_array (c, self->root, "dependencies", &arr, &n) != 0 || n == 0)
        return c->rc;
    if ((self->deps = calloc (n, sizeof *self->deps)) == NULL)
        return c->rc = LG_E_NOMEM;
    self->n_deps = n;
    for (size_t i = 0; i < n; i++) {
        char w[48];
        json_t *it;
        lg_dependency_t *e = &self->deps[i];
        if (s_item (c, arr, "dependencies", i, w, sizeof w, &it) != 0 || s_str (c, it, w, "id", &e->id) != 0
            || s_str (c, it, w, "label", &e->label) != 0 || s_str (c, it, w, "relation", &e->relation) != 0
            || s_str (c, it, w, "status", &e->status) != 0 || s_str (c, it, w, "text", &e->text) != 0)
            return c->rc;
    }
    return 0;
}

static int
s_object (s_ctx_t *c, json_t *root, const char *key, json_t **out)
{
    json_t *v = json_object_get (root, key);
    *out = NULL;
    if (v == NULL || json_is_null (v))
        return 0;
    if (!json_is_object (v))
        return s_fail (c, LG_E_INVALID, "", key, "must be an object");
    *out = v;
    return 0;
}

/* Derives the chip kind from its id: "core:<kind>:...", "job:<kind>:...",
 * "compute:<kind>:...", "report:...". */
static void
s_derive_kind (lg_facts_t *self)
{
    const char *id = self->chip_id;
    self->kind_buf[0] = '\0';
    if (id == NULL)
        return;
    if (str_starts_with (id, "report:")) {
        str_copy (self->kind_buf, sizeof self->kind_buf, "report");
        return;
    }
    const char *p = strchr (id, ':');
    if (p == NULL)
        return;
    const char *q = strchr (p + 1, ':');
    size_t n = q ? (size_t) (q - p - 1) : strlen (p + 1);
    if (n == 0 || n >= sizeof self->kind_buf)
        return;
    memcpy (self->kind_buf, p + 1, n);
    self->kind_buf[n] = '\0';
}

lg_facts_t *
lg_facts_parse (const char *json, int *rc_out, char *err, size_t errsize)
{
    s_ctx_t c = { err, errsize, 0 };
    json_error_t jerr;
    lg_facts_t *self = calloc (1, sizeof *self);
    if (err && errsize)
        err[0] = '\0';
    if (self == NULL) {
        c.rc = LG_E_NOMEM;
        goto fail;
    }
    if (json == NULL || json[0] == '\0')
        self->root = json_object ();
    else
        self->root = json_loads (json, JSON_REJECT_DUPLICATES, &jerr);
    if (self->root == NULL) {
        if (err && errsize)
            snprintf (err, errsize, "facts_json: invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        c.rc = LG_E_INVALID;
        goto fail;
    }
    if (!json_is_object (self->root)) {
        s_fail (&c, LG_E_INVALID, "", "(document)", "must be a JSON object");
        goto fail;
    }
    json_t *ent, *chip;
    if (s_str (&c, self->root, "", "report_id", &self->report_id) != 0
        || s_str (&c, self->root, "", "report_title", &self->report_title) != 0
        || s_str (&c, self->root, "", "question", &self->question) != 0
        || s_object (&c, self->root, "entity", &ent) != 0 || s_object (&c, self->root, "chip", &chip) != 0)
        goto fail;
    if (ent && (s_str (&c, ent, "entity", "type", &self->etype) != 0
                || s_str (&c, ent, "entity", "id", &self->eid) != 0
                || s_str (&c, ent, "entity", "label", &self->elabel) != 0))
        goto fail;
    if (chip && (s_str (&c, chip, "chip", "id", &self->chip_id) != 0
                 || s_str (&c, chip, "chip", "lane", &self->chip_lane) != 0
                 || s_str (&c, chip, "chip", "label", &self->chip_label) != 0
                 || s_str (&c, chip, "chip", "kind", &self->chip_kind) != 0))
        goto fail;
    if (s_parse_facts (&c, self) != 0 || s_parse_events (&c, self) != 0 || s_parse_changes (&c, self) != 0
        || s_parse_sigs (&c, self) != 0 || s_parse_deps (&c, self) != 0)
        goto fail;
    if (self->chip_kind == NULL) {
        s_derive_kind (self);
        self->chip_kind = self->kind_buf;
    }
    if (rc_out)
        *rc_out = 0;
    return self;
fail:
    if (rc_out)
        *rc_out = c.rc ? c.rc : LG_E_INVALID;
    lg_facts_destroy (&self);
    return NULL;
}

void
lg_facts_destroy (lg_facts_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    lg_facts_t *self = *self_p;
    for (size_t i = 0; i < self->n_facts; i++)
        free (self->facts[i].row_keys);
    free (self->facts);
    free (self->events);
    free (self->changes);
    free (self->sigs);
    free (self->deps);
    json_decref (self->root);
    free (self);
    *self_p = NULL;
}

#define S_OR_EMPTY(x) ((x) ? (x) : "")
const char *lg_facts_report_id (const lg_facts_t *self) { return S_OR_EMPTY (self->report_id); }
const char *lg_facts_report_title (const lg_facts_t *self) { return S_OR_EMPTY (self->report_title); }
const char *lg_facts_question (const lg_facts_t *self) { return S_OR_EMPTY (self->question); }
const char *lg_facts_entity_type (const lg_facts_t *self) { return S_OR_EMPTY (self->etype); }
const char *lg_facts_entity_id (const lg_facts_t *self) { return S_OR_EMPTY (self->eid); }
const char *lg_facts_entity_label (const lg_facts_t *self) { return S_OR_EMPTY (self->elabel); }
const char *lg_facts_chip_id (const lg_facts_t *self) { return S_OR_EMPTY (self->chip_id); }
const char *lg_facts_chip_lane (const lg_facts_t *self) { return S_OR_EMPTY (self->chip_lane); }
const char *lg_facts_chip_label (const lg_facts_t *self) { return S_OR_EMPTY (self->chip_label); }
const char *lg_facts_chip_kind (const lg_facts_t *self) { return S_OR_EMPTY (self->chip_kind); }

size_t lg_facts_count (const lg_facts_t *self) { return self->n_facts; }
const lg_fact_t *
lg_facts_at (const lg_facts_t *self, size_t i)
{
    return i < self->n_facts ? &self->facts[i] : NULL;
}

const lg_fact_t *
lg_facts_find (const lg_facts_t *self, const char *const *names)
{
    for (size_t k = 0; names[k]; k++)
        for (size_t i = 0; i < self->n_facts; i++)
            if (strcmp (self->facts[i].name, names[k]) == 0)
                return &self->facts[i];
    return NULL;
}

bool
lg_facts_value (const lg_facts_t *self, const char *const *names, double *out)
{
    for (size_t k = 0; names[k]; k++)
        for (size_t i = 0; i < self->n_facts; i++)
            if (self->facts[i].has_value && strcmp (self->facts[i].name, names[k]) == 0) {
                *out = self->facts[i].value;
                return true;
            }
    return false;
}

size_t lg_facts_n_events (const lg_facts_t *self) { return self->n_events; }
const lg_event_t *
lg_facts_event (const lg_facts_t *self, size_t i)
{
    return i < self->n_events ? &self->events[i] : NULL;
}
size_t lg_facts_n_changes (const lg_facts_t *self) { return self->n_changes; }
const lg_change_t *
lg_facts_change (const lg_facts_t *self, size_t i)
{
    return i < self->n_changes ? &self->changes[i] : NULL;
}
size_t lg_facts_n_signatures (const lg_facts_t *self) { return self->n_sigs; }
const lg_signature_t *
lg_facts_signature (const lg_facts_t *self, size_t i)
{
    return i < self->n_sigs ? &self->sigs[i] : NULL;
}
size_t lg_facts_n_dependencies (const lg_facts_t *self) { return self->n_deps; }
const lg_dependency_t *
lg_facts_dependency (const lg_facts_t *self, size_t i)
{
    return i < self->n_deps ? &self->deps[i] : NULL;
}

bool
lg_facts_empty (const lg_facts_t *self)
{
    return self->eid == NULL && self->n_facts == 0 && self->n_events == 0 && self->n_changes == 0
           && self->n_sigs == 0 && self->n_deps == 0;
}
