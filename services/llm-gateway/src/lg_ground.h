/* lg_ground.h — groundedness check: are the figures in an answer present in
 * the facts and context the model was given?
 *
 * Extraction (lg_ground_scan) recognises $1,234.56, 12.3%, 1.2k / 3.4M / 2B,
 * "12 percent", "5 million", plain and negative numbers. It skips what is not
 * a figure: identifiers (J-1001, gpt-4, run_12, p95, 3a4f), dates
 * (2025-12-05 [12:30[:00]]), times (12:30), versions (1.2.3), ordinals (2nd),
 * markdown list markers ("1. " at a line start) and bare years 1990-2099.
 *
 * Matching tolerates the rounding shown on both sides: a figure with d
 * decimals (times its k/M/B scale) matches a reference value when they differ
 * by at most half a unit in the last shown place of each. A percentage also
 * matches a ratio reference times 100, and a bare value <= 1 matches a
 * percentage reference divided by 100. Signs are ignored ("fell 12%").
 * Bare integers up to `ignore_int_max` (default 2) are not checked: they are
 * usually prose ("two options", "step 1").
 */
#ifndef LG_GROUND_H
#define LG_GROUND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double value;    /* absolute value, scale applied */
    double tol;      /* half a unit of the last shown place, scale applied */
    int decimals;
    bool pct;
    bool usd;
    bool bare;       /* no $, %, decimals or scale suffix */
    size_t off;      /* byte offset of the figure as shown (incl. $ and sign) */
    size_t len;
} lg_number_t;

/* Called for every figure found; return non-zero to stop the scan. */
typedef int (*lg_number_fn) (void *arg, const lg_number_t *num, const char *text);

/* Scans `len` bytes of `text`. Returns the number of figures reported. */
size_t lg_ground_scan (const char *text, size_t len, lg_number_fn fn, void *arg);

typedef struct _lg_ground_t lg_ground_t;

typedef struct {
    bool grounded;          /* no ungrounded figure */
    uint32_t checked;       /* figures compared */
    char **ungrounded;      /* figures as shown, de-duplicated, in answer order */
    size_t n_ungrounded;
} lg_grounding_t;

lg_ground_t *lg_ground_new (void);
void lg_ground_destroy (lg_ground_t **self_p);
void lg_ground_set_ignore_int_max (lg_ground_t *self, int max);

/* Adds one exact reference value. 0 or LG_E_NOMEM. */
int lg_ground_add_value (lg_ground_t *self, double v);
/* Adds every figure found in `text` (NULL-safe), each with its shown tolerance. */
int lg_ground_add_text (lg_ground_t *self, const char *text);
/* Adds every JSON number (exact) and every figure inside JSON strings of
 * `json`; when it is not valid JSON the whole text is scanned instead. */
int lg_ground_add_json (lg_ground_t *self, const char *json);
size_t lg_ground_refs (const lg_ground_t *self);

/* Checks `answer` against the references; fills *out (caller clears it
 * with lg_grounding_clear). 0 or LG_E_NOMEM. */
int lg_ground_check (lg_ground_t *self, const char *answer, lg_grounding_t *out);
void lg_grounding_clear (lg_grounding_t *g);
#endif
