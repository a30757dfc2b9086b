/* lg_breaker.h — circuit breaker for one provider endpoint.
 *
 * CLOSED: calls pass; `threshold` consecutive failures open the circuit.
 * OPEN: calls are refused until `cooldown_ms` has passed since opening, then
 * the breaker turns HALF_OPEN and lets exactly one probe call through.
 * HALF_OPEN: the probe's success closes the circuit, its failure re-opens it
 * (a new cool-down starts). Time is passed in by the caller (monotonic ms),
 * which keeps the logic testable. Thread-safe (internal mutex), so several
 * worker threads may share one breaker.
 */
#ifndef LG_BREAKER_H
#define LG_BREAKER_H
#include <stdbool.h>
#include <stdint.h>

typedef struct _lg_breaker_t lg_breaker_t;

typedef enum { LG_BREAKER_CLOSED = 0, LG_BREAKER_OPEN = 1, LG_BREAKER_HALF_OPEN = 2 } lg_breaker_state_t;

/* threshold >= 1, cooldown_ms >= 0. NULL on OOM. */
lg_breaker_t *lg_breaker_new (int threshold, int64_t cooldown_ms);
void lg_breaker_destroy (lg_breaker_t **self_p);

/* May a call start at `now_ms`? True in CLOSED; in OPEN only once the
 * cool-down has elapsed (the breaker then turns HALF_OPEN and this caller is
 * the probe); in HALF_OPEN false while the probe is outstanding. */
bool lg_breaker_allow (lg_breaker_t *self, int64_t now_ms);

/* Records the outcome of an allowed call. Returns true when this call made
 * the breaker (re-)open, so the caller can count trips. */
bool lg_breaker_record (lg_breaker_t *self, bool success, int64_t now_ms);

/* Releases a HALF_OPEN probe slot without a verdict (the call was abandoned
 * before reaching the provider, e.g. the deadline had passed). */
void lg_breaker_release (lg_breaker_t *self);

lg_breaker_state_t lg_breaker_state (lg_breaker_t *self);
/* Consecutive failures counted so far. */
int lg_breaker_failures (lg_breaker_t *self);
const char *lg_breaker_state_name (lg_breaker_state_t s);
#endif
