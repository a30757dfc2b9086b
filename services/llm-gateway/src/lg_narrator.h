/* lg_narrator.h — the offline narrator: deterministic markdown built only
 * from structured facts (lg_facts_t). It is the default when no provider key
 * is configured and the fallback when a provider fails.
 *
 * Output sections, always in this order: an optional note, a title line, a
 * Summary, Main drivers, Timeline (when events or configuration changes
 * exist), Hypotheses (chosen by the rules below, fixed order), Recommendations
 * for the lane (Understand | Diagnose | Optimize | Monitor; unknown -> Diagnose),
 * each with how to verify it, and a footer saying the built-in narrator wrote
 * it. Every figure printed is a fact's `text` verbatim or its `value`
 * formatted by lg_fmt_number; thresholds are never printed. Same input, same
 * bytes.
 *
 * Rules (fact names and aliases in README "Narrator rules"):
 *   eviction       evictions > 0, a spot/eviction/preemption error signature,
 *                  or a SPOT/EVICT event
 *   regression     a configuration change and runtime or cost change >= regression_change_pct
 *   data_growth    runtime change >= growth_change_pct (or trend "rising") and timeouts
 *   time_limit     timeouts without a runtime rise
 *   cascade        upstream failures, skipped runs, an upstream/dependency signature,
 *                  or a FAILED upstream dependency
 *   concentration  cost share >= concentration_share_pct
 *   retries        retries > 0 and failure rate >= retry_failure_rate_pct
 *   chronic        failure rate >= chronic_failure_rate_pct
 *   anomaly        |anomaly z| >= anomaly_z
 *   underused      CPU utilisation < cpu_low_pct;  saturated: >= cpu_high_pct
 *   spot_exposure  spot ratio >= spot_exposure_ratio without evictions
 *   config_change  a configuration change that matched no regression
 */
#ifndef LG_NARRATOR_H
#define LG_NARRATOR_H
#include <stddef.h>

#include "buf.h"
#include "lg_facts.h"

typedef struct {
    double regression_change_pct;     /* 20 */
    double growth_change_pct;         /* 20 */
    double concentration_share_pct;   /* 20 */
    double retry_failure_rate_pct;    /* 10 */
    double chronic_failure_rate_pct;  /* 20 */
    double anomaly_z;                 /* 3 */
    double cpu_low_pct;               /* 30 */
    double cpu_high_pct;              /* 85 */
    double spot_exposure_ratio;       /* 0.5 */
} lg_narrator_opts_t;

/* Fills the defaults shown above. */
void lg_narrator_opts_default (lg_narrator_opts_t *opts);

/* Canonical lane name for `lane` (case-insensitive), "Diagnose" when unknown
 * or empty. Static string. */
const char *lg_lane_normalize (const char *lane);

/* Appends the answer to `out`. `lane` overrides the chip's lane when
 * non-empty; `note` (may be NULL) is shown first as a quoted note, e.g. why
 * a provider was not used. `opts` NULL = defaults. 0 or LG_E_TOOBIG/NOMEM. */
int lg_narrate (const lg_facts_t *facts, const char *lane, const char *note, const lg_narrator_opts_t *opts,
                buf_t *out);

/* Ids of the hypotheses that match (rule order), at most `max`; returns the
 * number that matched. For tests and debug output. */
size_t lg_narrate_hypotheses (const lg_facts_t *facts, const lg_narrator_opts_t *opts, const char **ids,
                              size_t max);
#endif
