/* gw_prom.h — merge Prometheus text expositions from several processes.
 *
 * /metrics of the gateway serves its own registry plus every backend's
 * (Metrics RPC). Plain concatenation is invalid exposition (a family's HELP
 * and TYPE may appear only once, and two processes can emit the same series),
 * so the sources are merged: every sample gets a label source="<name>", and
 * samples are grouped by family with one HELP/TYPE each. Families are output
 * sorted by name; within a family samples keep source order, then input
 * order. Deterministic for deterministic input.
 */
#ifndef GW_PROM_H
#define GW_PROM_H
#include <stddef.h>
#include "buf.h"

typedef struct _gw_prom_t gw_prom_t;

gw_prom_t *gw_prom_new (void);
void gw_prom_destroy (gw_prom_t **self_p);

/* Adds one exposition text from `source` (a label value; escaped here).
 * Malformed lines are skipped. 0, or -1 on OOM. */
int gw_prom_add (gw_prom_t *self, const char *source, const char *text);

/* Renders the merged exposition into out (ends with "\n" when non-empty).
 * 0 or a BUF_E_* code. */
int gw_prom_render (gw_prom_t *self, buf_t *out);

#endif
