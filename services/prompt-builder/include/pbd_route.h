/* pbd_route.h — routing: which corpora an Explain question is answered from.
 *
 * Rules (deterministic, no LLM call; see the design comment in pbd_route.c):
 *   - entity-anchored questions (a selection, an `job_id=`-style anchor or a
 *     graph node id such as `job::J-X` in the text) go to TELEMETRY first;
 *   - "what is / what does / how do i / how to / how does / configure /
 *     setting(s) / best practice(s) / limit(s)" questions (the reference's
 *     intent regexes) and the reference's topic keywords (compute, cluster,
 *     spot, photon, dbu, warehouse, ...) add DOCS;
 *   - diagnostic questions or chips (failure, eviction, spike, regression,
 *     error, OOM, ...; chips core:spike, job:reliability, compute:stability)
 *     add RUNBOOKS;
 *   - a docs-intent question without an anchor and without a diagnostic term
 *     is docs only; every other question keeps telemetry.
 * Matching is ASCII case-insensitive on word boundaries (the reference's
 * plain substring test matched "dbu" inside other words).
 */
#ifndef PBD_ROUTE_H
#define PBD_ROUTE_H
#include <stdbool.h>
#include <stddef.h>

/* What the router looks at. Every pointer may be NULL (= absent). */
typedef struct {
    const char *question;    /* the text asked: chip prompt or free question */
    const char *chip_id;     /* chip id when a chip was clicked */
    const char *chip_label;  /* chip label (also scanned for diagnostic terms) */
    const char *entity_type; /* selection, when there is one */
    const char *entity_id;
} pbd_route_input_t;

#define PBD_ROUTE_REASON_MAX 512
#define PBD_ROUTE_ANCHOR_MAX 192

typedef struct {
    bool telemetry;
    bool docs;
    bool runbooks;
    /* "telemetry" or "docs": which corpus leads (its hits are trimmed last). */
    char primary[16];
    /* Graph node id the question is anchored on ("" when none or when the
     * anchor has no node, e.g. compute_type=...). The selection wins over
     * anchors found in the text. */
    char anchor[PBD_ROUTE_ANCHOR_MAX];
    /* Where the anchor came from: "selection", "text" or "". */
    char anchor_source[16];
    /* One line for humans, e.g. "telemetry first: anchored on job::J-X
     * (selection); docs: keyword 'spot'; runbooks: diagnostic term 'fail'
     * (chip)". Deterministic for the same input. */
    char reason[PBD_ROUTE_REASON_MAX];
} pbd_route_t;

/* Decides the route for `in` into *out (always fully written). Returns 0, or
 * PBD_E_INVALID when in or out is NULL. Pure function; thread-safe. */
int pbd_route_decide (const pbd_route_input_t *in, pbd_route_t *out);

/* Graph node id for a selection's (entity_type, entity_id) into out:
 * "<type>::<id>" for the graph types (workspace user job compute jobrun usage
 * event eviction query configchange anomaly) and the aliases cluster,
 * warehouse, compute_id (→ compute), run, job_run (→ jobrun), sql_query
 * (→ query). 0, or -1 when the type has no graph node (e.g. compute_type),
 * an argument is empty, or the id does not fit. */
int pbd_node_id (const char *entity_type, const char *entity_id, char *out, size_t size);

#endif
