/* lg_facts.h — the structured facts a completion request carries
 * (CompletionRequest.facts_json), parsed and validated.
 *
 * Format (documented with examples in services/llm-gateway/README.md):
 *   {"report_id","report_title","data_version","question",
 *    "entity":{"type","id","label"},
 *    "chip":{"id","lane","label","kind"},
 *    "facts":[{"name","label","value","unit","text","source_table","row_keys":[..]}],
 *    "events":[{"ts","type","entity_id","text","source_table","row_key"}],
 *    "config_changes":[{"ts","entity_id","field","old","new","text","source_table","row_key"}],
 *    "error_signatures":[{"signature","count","first_seen","last_seen","text","source_table"}],
 *    "dependencies":[{"id","label","relation","status","text"}]}
 * Every key is optional; unknown keys are ignored (forward compatibility);
 * a key with the wrong JSON type is an error naming the key. Strings are
 * borrowed from the parsed document and live as long as the lg_facts_t.
 */
#ifndef LG_FACTS_H
#define LG_FACTS_H
#include <stdbool.h>
#include <stddef.h>

typedef struct _lg_facts_t lg_facts_t;

typedef struct {
    const char *name;           /* machine name, e.g. "cost_total_usd" */
    const char *label;          /* human label or NULL */
    const char *unit;           /* usd, pct, ratio, count, minutes, seconds, ... or NULL */
    const char *text;           /* value as the report shows it, or a textual fact */
    const char *source_table;
    const char **row_keys;
    size_t n_row_keys;
    double value;
    bool has_value;
} lg_fact_t;

typedef struct {
    const char *ts, *type, *entity_id, *text, *source_table, *row_key;
} lg_event_t;

typedef struct {
    const char *ts, *entity_id, *field, *old_value, *new_value, *text, *source_table, *row_key;
} lg_change_t;

typedef struct {
    const char *signature, *first_seen, *last_seen, *text, *source_table;
    double count;
    bool has_count;
} lg_signature_t;

typedef struct {
    const char *id, *label, *relation, *status, *text;
} lg_dependency_t;

/* Limits on list lengths (a larger list is LG_E_TOOBIG). */
#define LG_FACTS_MAX_ITEMS 512

/* Parses `json` (NULL or "" means no facts: an empty set). Returns NULL on
 * failure and sets *rc_out (LG_E_INVALID / LG_E_TOOBIG / LG_E_NOMEM) and, when
 * err is non-NULL, a message naming the offending key into err[errsize]. */
lg_facts_t *lg_facts_parse (const char *json, int *rc_out, char *err, size_t errsize);
void lg_facts_destroy (lg_facts_t **self_p);

/* Top-level strings; "" when absent (never NULL). */
const char *lg_facts_report_id (const lg_facts_t *self);
const char *lg_facts_report_title (const lg_facts_t *self);
const char *lg_facts_question (const lg_facts_t *self);
const char *lg_facts_entity_type (const lg_facts_t *self);
const char *lg_facts_entity_id (const lg_facts_t *self);
const char *lg_facts_entity_label (const lg_facts_t *self);
const char *lg_facts_chip_id (const lg_facts_t *self);
const char *lg_facts_chip_lane (const lg_facts_t *self);
const char *lg_facts_chip_label (const lg_facts_t *self);
/* chip.kind, or derived from the chip id ("core:spike:..." -> "spike",
 * "job:cost:..." -> "cost", "report:..." -> "report"); "" when unknown. */
const char *lg_facts_chip_kind (const lg_facts_t *self);

size_t lg_facts_count (const lg_facts_t *self);
const lg_fact_t *lg_facts_at (const lg_facts_t *self, size_t i);
/* First fact whose name equals one of `names` (NULL-terminated), in the
 * order of `names`; NULL when none. */
const lg_fact_t *lg_facts_find (const lg_facts_t *self, const char *const *names);
/* Numeric value of lg_facts_find(...), true when found with a value. */
bool lg_facts_value (const lg_facts_t *self, const char *const *names, double *out);

size_t lg_facts_n_events (const lg_facts_t *self);
const lg_event_t *lg_facts_event (const lg_facts_t *self, size_t i);
size_t lg_facts_n_changes (const lg_facts_t *self);
const lg_change_t *lg_facts_change (const lg_facts_t *self, size_t i);
size_t lg_facts_n_signatures (const lg_facts_t *self);
const lg_signature_t *lg_facts_signature (const lg_facts_t *self, size_t i);
size_t lg_facts_n_dependencies (const lg_facts_t *self);
const lg_dependency_t *lg_facts_dependency (const lg_facts_t *self, size_t i);
/* True when nothing at all was supplied (no entity, facts or lists). */
bool lg_facts_empty (const lg_facts_t *self);
#endif
