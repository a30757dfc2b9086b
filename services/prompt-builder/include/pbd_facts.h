/* pbd_facts.h — CompletionRequest.facts_json for the llm-gateway, built from
 * EntityFacts + selection + chip (format: services/llm-gateway/README.md and
 * lg_facts.h):
 *   {"report_id","report_title","data_version","question",
 *    "entity":{"type","id","label","node_id"},
 *    "chip":{"id","lane","label","kind"},
 *    "facts":[{"name","value","unit","text","source_table","row_keys":[..]}],
 *    "error_signatures":[..], "config_changes":[..], "dependencies":[..]
 *      (derived from the facts named error_signature, config_change,
 *       upstream_job / downstream_job; see pbd_facts.c),
 *    "selection":{"payload":[{"name","value"}]}}
 * Keys in this fixed order; absent parts are omitted (no entity without a
 * selection, no chip for a free question, "value" only for numeric facts,
 * empty strings left out). Deterministic bytes for the same input.
 */
#ifndef PBD_FACTS_H
#define PBD_FACTS_H
#include "buf.h"
#include "pbd_types.h"

/* Appends the JSON document for `in` to out. 0, PBD_E_INVALID, PBD_E_TOOBIG
 * (buffer cap; out is restored) or PBD_E_NOMEM. */
int pbd_facts_json (const pbd_input_t *in, buf_t *out);

/* Chip kind from a chip id, as lg_facts derives it: "core:spike:..." →
 * "spike", "job:cost:..." → "cost", "compute:util:..." → "util",
 * "report:..." → "report"; "" when unknown. Writes into out. */
void pbd_chip_kind (const char *chip_id, char *out, size_t size);

#endif
