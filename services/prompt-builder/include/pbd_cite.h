/* pbd_cite.h — citations appended by code, never left to the model.
 *
 * Sources block (seed-copilot §6.3, generalised): when docs or runbook hits
 * were used, a blank line, a header line, then one line per unique URL in
 * retrieval order (docs first, then runbooks), "- {title} — {url}" with an
 * em dash (U+2014), each line ending in '\n'. Headers:
 *   docs only      "Sources (Databricks Docs):"   (exactly the reference's)
 *   runbooks only  "Sources (Runbooks):"
 *   both           "Sources (Databricks Docs, Runbooks):"
 * A runbook hit without a URL is cited as "- [Runbook] {title} (ID: {doc_id})"
 * (the reference's RC format) and de-duplicated by doc id. A hit without a
 * title uses its URL as the title.
 *
 * Evidence list: one entry per fact that names its source table, in fact
 * order: the figure, the table and the row keys behind it.
 */
#ifndef PBD_CITE_H
#define PBD_CITE_H
#include <stddef.h>

#include "buf.h"
#include "pbd_types.h"

/* Appends the sources block for the hits actually used (pass the kept
 * prefix of each list) to `out`; appends nothing when both lists are empty.
 * When sources_out is non-NULL it receives a malloc'd array (free() it; the
 * strings are borrowed from the hits) of the cited entries, one per line, and
 * *n_out their count. 0, PBD_E_INVALID, PBD_E_NOMEM, PBD_E_TOOBIG (buf cap). */
int pbd_cite_sources (const pbd_hit_t *docs, size_t n_docs, const pbd_hit_t *runbooks, size_t n_runbooks,
                      buf_t *out, pbd_source_t **sources_out, size_t *n_out);

/* One evidence entry. Strings are borrowed from the fact; figure is the
 * formatted value ("123.45 usd", or the fact's text cut to fit). */
typedef struct {
    const char *label;
    const char *source_table;
    const char *const *row_keys;
    size_t n_row_keys;
    char figure[192];
} pbd_evidence_t;

/* Evidence for `facts`: *out receives a malloc'd array (free() it; NULL when
 * *n_out is 0). 0, PBD_E_INVALID or PBD_E_NOMEM. */
int pbd_cite_evidence (const pbd_fact_t *facts, size_t n_facts, pbd_evidence_t **out, size_t *n_out);

/* Appends the markdown evidence block ("\nEvidence (rows behind the figures
 * of <entity>):\n- {label} = {figure} — {table}: k1, k2 ... (+N more)\n") for
 * `ev`; nothing when n is 0. `entity` may be NULL. Shows at most 5 row keys
 * per line. 0 or PBD_E_TOOBIG / PBD_E_NOMEM. */
int pbd_cite_evidence_block (const pbd_evidence_t *ev, size_t n, const char *entity, buf_t *out);

/* Finishes an answer: `answer` with its trailing newlines removed, one '\n',
 * then `blocks` (which start with their own blank line) — or answer + '\n'
 * when blocks is empty. Writes into out (reset first). 0 or PBD_E_TOOBIG /
 * PBD_E_NOMEM. */
int pbd_cite_finish (const char *answer, const char *blocks, buf_t *out);

#endif
