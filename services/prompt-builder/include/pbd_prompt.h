/* pbd_prompt.h — deterministic prompt assembly with a token budget.
 *
 * Sections, always present and always in this order (empty ones say
 * "(none)"):
 *   SYSTEM (separate string: rules incl. "use only the facts and context;
 *   cite node ids"), then in the user prompt: REPORT, SELECTION, FACTS,
 *   SUBGRAPH, TELEMETRY HITS, DOCS/RUNBOOK HITS, NOTE (only when a note is
 *   given), QUESTION.
 * Budget: tokens are approximated as bytes / 4 (rounded up). When the whole
 * prompt is over budget, the lowest-ranked hits are dropped first (the
 * largest position in its list; ties drop the non-primary corpus first),
 * then subgraph lines from the end; facts, the report, the selection and the
 * question are never trimmed (the result is then flagged over_budget).
 * Every hit text is cut to hit_text_max bytes on a UTF-8 boundary first.
 */
#ifndef PBD_PROMPT_H
#define PBD_PROMPT_H
#include <stdbool.h>
#include <stddef.h>

#include "pbd_types.h"

typedef struct _pbd_prompt_t pbd_prompt_t;

typedef struct {
    size_t budget_tokens;  /* 0 = PBD_DEFAULT_BUDGET_TOKENS */
    size_t hit_text_max;   /* bytes per hit text; 0 = PBD_DEFAULT_HIT_TEXT_MAX */
    size_t max_bytes;      /* hard cap of the assembled prompt; 0 = PBD_DEFAULT_MAX_BYTES */
} pbd_prompt_opts_t;

#define PBD_DEFAULT_BUDGET_TOKENS 6000
#define PBD_DEFAULT_HIT_TEXT_MAX 1200
#define PBD_DEFAULT_MAX_BYTES (512 * 1024)

/* The fixed system prompt (static string). */
const char *pbd_system_prompt (void);

/* Builds the prompt for `in` (see the header comment). opts may be NULL.
 * On success *out owns a new pbd_prompt_t. Returns 0, PBD_E_INVALID
 * (in/out NULL, no question, no route), PBD_E_TOOBIG (the untrimmable part
 * exceeds max_bytes), PBD_E_NOMEM. Pure function: same input, same bytes. */
int pbd_prompt_build (const pbd_input_t *in, const pbd_prompt_opts_t *opts, pbd_prompt_t **out);
/* NULL-safe; sets *self_p = NULL. */
void pbd_prompt_destroy (pbd_prompt_t **self_p);

/* The system prompt sent as CompletionRequest.system_prompt. */
const char *pbd_prompt_system (const pbd_prompt_t *self);
/* The user prompt (REPORT .. QUESTION). */
const char *pbd_prompt_user (const pbd_prompt_t *self);
/* The whole prompt as the debug block shows it: "SYSTEM:\n" + system +
 * "\n\n" + user. Its SHA-256 is pbd_prompt_sha256. */
const char *pbd_prompt_full (const pbd_prompt_t *self);
/* The context part (SELECTION .. DOCS/RUNBOOK HITS), sent as
 * CompletionRequest.context for the grounding check. */
const char *pbd_prompt_context (const pbd_prompt_t *self);
/* Lower-case hex SHA-256 of pbd_prompt_full (64 chars). */
const char *pbd_prompt_sha256 (const pbd_prompt_t *self);
/* Approximate tokens of the full prompt (bytes / 4, rounded up). */
size_t pbd_prompt_tokens (const pbd_prompt_t *self);
/* True when facts etc. alone exceed the budget (nothing left to trim). */
bool pbd_prompt_over_budget (const pbd_prompt_t *self);

/* Hits kept in the prompt, per corpus (0 telemetry, 1 docs, 2 runbooks):
 * the first n of the input list (trimming removes from the end). */
size_t pbd_prompt_kept (const pbd_prompt_t *self, int corpus);
/* Hits dropped by the budget, all corpora; subgraph lines dropped. */
size_t pbd_prompt_dropped_hits (const pbd_prompt_t *self);
size_t pbd_prompt_dropped_graph_lines (const pbd_prompt_t *self);

/* Formats a number the way prompts, evidence and facts_json show it: the
 * shortest of %.15g / %.17g that reads back exactly ("-0" becomes "0",
 * non-finite values "null"). Returns out. */
char *pbd_fmt_number (double v, char *out, size_t size);

/* Formats a number for people (prompt FACTS/SELECTION lines, evidence):
 * integers as integers, |v| >= 1 with two decimals, smaller values with four
 * significant digits, trailing zeros removed ("5548.9989504" → "5549",
 * "16.666…" → "16.67", "0.0999…" → "0.1"). Exact values stay in facts_json.
 * Non-finite values give "null". Returns out. */
char *pbd_fmt_display (double v, char *out, size_t size);

#endif
