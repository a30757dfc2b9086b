/* lg_narrator.c — the offline narrator (see lg_narrator.h for the contract).
 *
 * Design: one static rule table. Each rule has an id, a title, a sentence
 * explaining the mechanism, how to verify the hypothesis, a match predicate
 * over the facts, an evidence printer, and one recommendation (with its
 * verification) per lane. Rules run in table order and every matched rule
 * contributes a hypothesis and a recommendation for the requested lane, so
 * output order never depends on hashing or input size.
 *
 * Figures: the only numbers printed are the facts' own `text` (verbatim) or
 * `value` through lg_fmt_number. Thresholds live in lg_narrator_opts_t (one
 * configuration table, see lg_narrator_opts_default) and are never printed,
 * so the narrator's output passes its own groundedness check.
 *
 * Strings from facts are printed inline with newlines flattened and
 * backticks replaced, so hostile facts cannot break the markdown structure.
 * Threading: pure function of its inputs; safe from any thread.
 */
#include "lg_narrator.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lg_error.h"
#include "lg_fmt.h"
#include "str.h"

/* ---- fact vocabulary (README "Narrator rules") ------------------------- */
static const char *const F_COST[] = { "cost_total_usd", "total_cost_usd", "total_cost", "cost_usd", NULL };
static const char *const F_SHARE[] = { "cost_share_pct", "share_of_total_pct", NULL };
static const char *const F_RANK[] = { "cost_rank", NULL };
static const char *const F_RUNS[] = { "runs_total", "total_runs", NULL };
static const char *const F_FAILED[] = { "runs_failed", "failed_runs", NULL };
static const char *const F_FAILRATE[] = { "failure_rate_pct", NULL };
static const char *const F_RETRIES[] = { "retries_total", "retry_count", "retries", NULL };
static const char *const F_SPOT[] = { "spot_ratio", "avg_spot_ratio", NULL };
static const char *const F_SPOT_PCT[] = { "spot_ratio_pct", "spot_share_pct", NULL };
static const char *const F_EVICT[] = { "evictions_total", "eviction_count", "evictions", "spot_evictions", NULL };
static const char *const F_EVICT_COST[] = { "eviction_cost_usd", NULL };
static const char *const F_RT_CHANGE[] = { "runtime_change_pct", "duration_change_pct", NULL };
static const char *const F_RT_TREND[] = { "runtime_trend", NULL };
static const char *const F_RT_RECENT[] = { "runtime_recent_avg_minutes", "runtime_recent_avg_mins", NULL };
static const char *const F_RT_BASE[] = { "runtime_baseline_avg_minutes", "runtime_baseline_avg_mins", NULL };
static const char *const F_COST_CHANGE[] = { "cost_change_pct", NULL };
static const char *const F_TIMEOUTS[] = { "timeouts_total", "timeout_count", NULL };
static const char *const F_UPSTREAM[] = { "upstream_failures", "upstream_failed_runs", NULL };
static const char *const F_SKIPPED[] = { "runs_skipped", "skipped_runs", NULL };
static const char *const F_ANOM_Z[] = { "anomaly_z", "anomaly_max_z", "z_score", NULL };
static const char *const F_ANOM_VAL[] = { "anomaly_value_usd", NULL };
static const char *const F_ANOM_EXP[] = { "anomaly_expected_usd", NULL };
static const char *const F_ANOM_DEV[] = { "anomaly_pct_deviation", NULL };
static const char *const F_CPU[] = { "cpu_util_pct", "avg_cpu_utilization_pct", "avg_cpu_utilization", NULL };
static const char *const F_MEM[] = { "memory_gb_avg", "avg_memory_gb", NULL };

static const char *const K_SPOT[] = { "spot", "evict", "preempt", "reclaim", NULL };
static const char *const K_TIMEOUT[] = { "timeout", "timed out", NULL };
static const char *const K_UPSTREAM[] = { "upstream", "dependency", NULL };

void
lg_narrator_opts_default (lg_narrator_opts_t *o)
{
    o->regression_change_pct = 20;
    o->growth_change_pct = 20;
    o->concentration_share_pct = 20;
    o->retry_failure_rate_pct = 10;
    o->chronic_failure_rate_pct = 20;
    o->anomaly_z = 3;
    o->cpu_low_pct = 30;
    o->cpu_high_pct = 85;
    o->spot_exposure_ratio = 0.5;
}

static const char *const s_lanes[4] = { "Understand", "Diagnose", "Optimize", "Monitor" };

const char *
lg_lane_normalize (const char *lane)
{
    if (lane)
        for (int i = 0; i < 4; i++)
            if (str_ieq (lane, s_lanes[i]))
                return s_lanes[i];
    return "Diagnose";
}

static int
s_lane_index (const char *lane)
{
    const char *l = lg_lane_normalize (lane);
    for (int i = 0; i < 4; i++)
        if (l == s_lanes[i])
            return i;
    return 1;
}

/* ---- evaluation context -------------------------------------------------- */
typedef struct {
    const lg_facts_t *f;
    const lg_narrator_opts_t *o;
} s_ctx_t;

static bool
s_val (const s_ctx_t *c, const char *const *names, double *out)
{
    return lg_facts_value (c->f, names, out);
}

static bool
s_gt (const s_ctx_t *c, const char *const *names, double thr)
{
    double v;
    return s_val (c, names, &v) && v > thr;
}

static bool
s_ge (const s_ctx_t *c, const char *const *names, double thr)
{
    double v;
    return s_val (c, names, &v) && v >= thr;
}

static bool
s_contains_any (const char *s, const char *const *kw)
{
    if (s == NULL)
        return false;
    for (size_t k = 0; kw[k]; k++)
        if (str_icontains (s, kw[k]))
            return true;
    return false;
}

static bool
s_sig_matches (const lg_signature_t *s, const char *const *kw)
{
    return s_contains_any (s->signature, kw) || s_contains_any (s->text, kw);
}

static bool
s_any_sig (const s_ctx_t *c, const char *const *kw)
{
    for (size_t i = 0; i < lg_facts_n_signatures (c->f); i++)
        if (s_sig_matches (lg_facts_signature (c->f, i), kw))
            return true;
    return false;
}

static bool
s_event_matches (const lg_event_t *e, const char *const *kw)
{
    return s_contains_any (e->type, kw) || s_contains_any (e->text, kw);
}

static bool
s_any_event (const s_ctx_t *c, const char *const *kw)
{
    for (size_t i = 0; i < lg_facts_n_events (c->f); i++)
        if (s_event_matches (lg_facts_event (c->f, i), kw))
            return true;
    return false;
}

static bool
s_runtime_rising (const s_ctx_t *c, double thr)
{
    if (s_ge (c, F_RT_CHANGE, thr))
        return true;
    const lg_fact_t *t = lg_facts_find (c->f, F_RT_TREND);
    static const char *const rising[] = { "rising", "increas", "growing", "up", NULL };
    return t && s_contains_any (t->text, rising);
}

static bool
s_failed_upstream_dep (const s_ctx_t *c)
{
    for (size_t i = 0; i < lg_facts_n_dependencies (c->f); i++) {
        const lg_dependency_t *d = lg_facts_dependency (c->f, i);
        if (d->relation && str_ieq (d->relation, "upstream") && d->status
            && (str_icontains (d->status, "fail") || str_icontains (d->status, "error")))
            return true;
    }
    return false;
}

/* ---- rule predicates ------------------------------------------------------ */
static bool
m_eviction (const s_ctx_t *c)
{
    return s_gt (c, F_EVICT, 0) || s_any_sig (c, K_SPOT) || s_any_event (c, K_SPOT);
}
static bool
m_regression (const s_ctx_t *c)
{
    return lg_facts_n_changes (c->f) > 0
           && (s_ge (c, F_RT_CHANGE, c->o->regression_change_pct)
               || s_ge (c, F_COST_CHANGE, c->o->regression_change_pct));
}
static bool
s_has_timeouts (const s_ctx_t *c)
{
    return s_gt (c, F_TIMEOUTS, 0) || s_any_sig (c, K_TIMEOUT);
}
static bool
m_growth (const s_ctx_t *c)
{
    return s_runtime_rising (c, c->o->growth_change_pct) && s_has_timeouts (c);
}
static bool
m_time_limit (const s_ctx_t *c)
{
    return s_has_timeouts (c) && !s_runtime_rising (c, c->o->growth_change_pct);
}
static bool
m_cascade (const s_ctx_t *c)
{
    return s_gt (c, F_UPSTREAM, 0) || s_gt (c, F_SKIPPED, 0) || s_any_sig (c, K_UPSTREAM)
           || s_failed_upstream_dep (c);
}
static bool
m_concentration (const s_ctx_t *c)
{
    return s_ge (c, F_SHARE, c->o->concentration_share_pct);
}
static bool
m_retries (const s_ctx_t *c)
{
    return s_gt (c, F_RETRIES, 0) && s_ge (c, F_FAILRATE, c->o->retry_failure_rate_pct);
}
static bool
m_chronic (const s_ctx_t *c)
{
    return s_ge (c, F_FAILRATE, c->o->chronic_failure_rate_pct);
}
static bool
m_anomaly (const s_ctx_t *c)
{
    double z;
    return s_val (c, F_ANOM_Z, &z) && fabs (z) >= c->o->anomaly_z;
}
static bool
m_underused (const s_ctx_t *c)
{
    double v;
    return s_val (c, F_CPU, &v) && v < c->o->cpu_low_pct;
}
static bool
m_saturated (const s_ctx_t *c)
{
    return s_ge (c, F_CPU, c->o->cpu_high_pct);
}
static double
s_spot_ratio (const s_ctx_t *c, bool *ok)
{
    double v;
    *ok = true;
    if (s_val (c, F_SPOT, &v))
        return v;
    if (s_val (c, F_SPOT_PCT, &v))
        return v / 100.0;
    *ok = false;
    return 0;
}
static bool
m_spot_exposure (const s_ctx_t *c)
{
    bool ok;
    double r = s_spot_ratio (c, &ok);
    return ok && r >= c->o->spot_exposure_ratio && !m_eviction (c);
}
static bool
m_config_change (const s_ctx_t *c)
{
    return lg_facts_n_changes (c->f) > 0 && !m_regression (c);
}

/* ---- printing helpers ------------------------------------------------------ */
#define S_TRY(x)                                                                                             \
    do {                                                                                                     \
        int rc_ = (x);                                                                                       \
        if (rc_ != 0)                                                                                        \
            return rc_;                                                                                      \
    } while (0)

/* Appends a string from the facts on one line: newlines become spaces,
 * backticks become quotes. */
static int
s_inline (buf_t *out, const char *s)
{
    if (s == NULL)
        return 0;
    char tmp[256];
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        else if (ch == '`')
            ch = '\'';
        tmp[o++] = ch;
        if (o == sizeof tmp) {
            S_TRY (buf_append (out, tmp, o));
            o = 0;
        }
    }
    return o ? buf_append (out, tmp, o) : 0;
}

static int
s_label (buf_t *out, const lg_fact_t *f)
{
    if (f->label && f->label[0])
        return s_inline (out, f->label);
    /* Humanise the machine name: underscores to spaces, first letter upper. */
    char tmp[128];
    str_copy (tmp, sizeof tmp, f->name);
    for (char *p = tmp; *p; p++)
        if (*p == '_')
            *p = ' ';
    if (tmp[0] >= 'a' && tmp[0] <= 'z')
        tmp[0] = (char) (tmp[0] - 'a' + 'A');
    return s_inline (out, tmp);
}

static int
s_value (buf_t *out, const lg_fact_t *f)
{
    if (f->text && f->text[0])
        return s_inline (out, f->text);
    if (f->has_value)
        return lg_fmt_number (out, f->value, f->unit);
    return buf_puts (out, "(no value)");
}

/* "   - Label: **value** (`table`)" for the first fact named in `names`. */
static int
s_ev_fact (buf_t *out, const s_ctx_t *c, const char *const *names)
{
    const lg_fact_t *f = lg_facts_find (c->f, names);
    if (f == NULL)
        return 0;
    S_TRY (buf_puts (out, "   - "));
    S_TRY (s_label (out, f));
    S_TRY (buf_puts (out, ": **"));
    S_TRY (s_value (out, f));
    S_TRY (buf_puts (out, "**"));
    if (f->source_table && f->source_table[0]) {
        S_TRY (buf_puts (out, " (`"));
        S_TRY (s_inline (out, f->source_table));
        S_TRY (buf_puts (out, "`)"));
    }
    return buf_puts (out, "\n");
}

static int
s_ev_sigs (buf_t *out, const s_ctx_t *c, const char *const *kw, size_t max)
{
    size_t shown = 0, matched = 0;
    for (size_t i = 0; i < lg_facts_n_signatures (c->f); i++) {
        const lg_signature_t *s = lg_facts_signature (c->f, i);
        if (kw && !s_sig_matches (s, kw))
            continue;
        matched++;
        if (shown == max)
            continue;
        shown++;
        S_TRY (buf_puts (out, "   - Error signature `"));
        S_TRY (s_inline (out, s->signature));
        S_TRY (buf_puts (out, "`"));
        if (s->has_count) {
            S_TRY (buf_puts (out, " — occurrences **"));
            S_TRY (lg_fmt_number (out, s->count, "count"));
            S_TRY (buf_puts (out, "**"));
        }
        if (s->first_seen && s->last_seen) {
            S_TRY (buf_puts (out, " (from "));
            S_TRY (s_inline (out, s->first_seen));
            S_TRY (buf_puts (out, " to "));
            S_TRY (s_inline (out, s->last_seen));
            S_TRY (buf_puts (out, ")"));
        }
        S_TRY (buf_puts (out, "\n"));
    }
    if (matched > shown)
        S_TRY (buf_puts (out, "   - Further matching error signatures are omitted.\n"));
    return 0;
}

static int
s_ev_events (buf_t *out, const s_ctx_t *c, const char *const *kw, size_t max)
{
    size_t shown = 0, matched = 0;
    for (size_t i = 0; i < lg_facts_n_events (c->f); i++) {
        const lg_event_t *e = lg_facts_event (c->f, i);
        if (kw && !s_event_matches (e, kw))
            continue;
        matched++;
        if (shown == max)
            continue;
        shown++;
        S_TRY (buf_puts (out, "   - Event `"));
        S_TRY (s_inline (out, e->type ? e->type : "event"));
        S_TRY (buf_puts (out, "`"));
        if (e->ts) {
            S_TRY (buf_puts (out, " at "));
            S_TRY (s_inline (out, e->ts));
        }
        if (e->text) {
            S_TRY (buf_puts (out, ": "));
            S_TRY (s_inline (out, e->text));
        }
        S_TRY (buf_puts (out, "\n"));
    }
    if (matched > shown)
        S_TRY (buf_puts (out, "   - Further matching events are omitted.\n"));
    return 0;
}

static int
s_change_line (buf_t *out, const lg_change_t *ch, const char *indent)
{
    S_TRY (buf_puts (out, indent));
    S_TRY (buf_puts (out, "Configuration change"));
    if (ch->field) {
        S_TRY (buf_puts (out, " of `"));
        S_TRY (s_inline (out, ch->field));
        S_TRY (buf_puts (out, "`"));
    }
    if (ch->old_value || ch->new_value) {
        S_TRY (buf_puts (out, " from `"));
        S_TRY (s_inline (out, ch->old_value ? ch->old_value : "?"));
        S_TRY (buf_puts (out, "` to `"));
        S_TRY (s_inline (out, ch->new_value ? ch->new_value : "?"));
        S_TRY (buf_puts (out, "`"));
    }
    if (ch->ts) {
        S_TRY (buf_puts (out, " on "));
        S_TRY (s_inline (out, ch->ts));
    }
    if (ch->text) {
        S_TRY (buf_puts (out, ": "));
        S_TRY (s_inline (out, ch->text));
    }
    return buf_puts (out, "\n");
}

static int
s_ev_changes (buf_t *out, const s_ctx_t *c, size_t max)
{
    size_t n = lg_facts_n_changes (c->f);
    for (size_t i = 0; i < n && i < max; i++)
        S_TRY (s_change_line (out, lg_facts_change (c->f, i), "   - "));
    if (n > max)
        S_TRY (buf_puts (out, "   - Further configuration changes are omitted.\n"));
    return 0;
}

/* ---- evidence printers ----------------------------------------------------- */
static int
e_eviction (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_EVICT));
    S_TRY (s_ev_fact (o, c, F_EVICT_COST));
    S_TRY (s_ev_fact (o, c, F_SPOT));
    S_TRY (s_ev_fact (o, c, F_SPOT_PCT));
    S_TRY (s_ev_fact (o, c, F_RETRIES));
    S_TRY (s_ev_sigs (o, c, K_SPOT, 3));
    return s_ev_events (o, c, K_SPOT, 3);
}
static int
e_regression (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_changes (o, c, 3));
    S_TRY (s_ev_fact (o, c, F_RT_CHANGE));
    S_TRY (s_ev_fact (o, c, F_RT_BASE));
    S_TRY (s_ev_fact (o, c, F_RT_RECENT));
    return s_ev_fact (o, c, F_COST_CHANGE);
}
static int
e_growth (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_RT_CHANGE));
    S_TRY (s_ev_fact (o, c, F_RT_TREND));
    S_TRY (s_ev_fact (o, c, F_RT_BASE));
    S_TRY (s_ev_fact (o, c, F_RT_RECENT));
    S_TRY (s_ev_fact (o, c, F_TIMEOUTS));
    return s_ev_sigs (o, c, K_TIMEOUT, 3);
}
static int
e_time_limit (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_TIMEOUTS));
    return s_ev_sigs (o, c, K_TIMEOUT, 3);
}
static int
e_cascade (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_UPSTREAM));
    S_TRY (s_ev_fact (o, c, F_SKIPPED));
    S_TRY (s_ev_sigs (o, c, K_UPSTREAM, 3));
    for (size_t i = 0; i < lg_facts_n_dependencies (c->f); i++) {
        const lg_dependency_t *d = lg_facts_dependency (c->f, i);
        if (!(d->relation && str_ieq (d->relation, "upstream")))
            continue;
        S_TRY (buf_puts (o, "   - Upstream `"));
        S_TRY (s_inline (o, d->id ? d->id : "?"));
        S_TRY (buf_puts (o, "`"));
        if (d->label) {
            S_TRY (buf_puts (o, " ("));
            S_TRY (s_inline (o, d->label));
            S_TRY (buf_puts (o, ")"));
        }
        if (d->status) {
            S_TRY (buf_puts (o, " status "));
            S_TRY (s_inline (o, d->status));
        }
        if (d->text) {
            S_TRY (buf_puts (o, ": "));
            S_TRY (s_inline (o, d->text));
        }
        S_TRY (buf_puts (o, "\n"));
    }
    return 0;
}
static int
e_concentration (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_SHARE));
    S_TRY (s_ev_fact (o, c, F_COST));
    return s_ev_fact (o, c, F_RANK);
}
static int
e_retries (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_RETRIES));
    S_TRY (s_ev_fact (o, c, F_FAILRATE));
    S_TRY (s_ev_fact (o, c, F_FAILED));
    return s_ev_fact (o, c, F_RUNS);
}
static int
e_chronic (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_FAILRATE));
    S_TRY (s_ev_fact (o, c, F_FAILED));
    S_TRY (s_ev_fact (o, c, F_RUNS));
    return s_ev_sigs (o, c, NULL, 2);
}
static int
e_anomaly (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_ANOM_Z));
    S_TRY (s_ev_fact (o, c, F_ANOM_VAL));
    S_TRY (s_ev_fact (o, c, F_ANOM_EXP));
    S_TRY (s_ev_fact (o, c, F_ANOM_DEV));
    return s_ev_fact (o, c, F_COST_CHANGE);
}
static int
e_cpu (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_CPU));
    return s_ev_fact (o, c, F_MEM);
}
static int
e_spot (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_fact (o, c, F_SPOT));
    return s_ev_fact (o, c, F_SPOT_PCT);
}
static int
e_config (buf_t *o, const s_ctx_t *c)
{
    S_TRY (s_ev_changes (o, c, 3));
    return s_ev_fact (o, c, F_RT_CHANGE);
}

/* ---- the rule table ---------------------------------------------------------- */
typedef struct {
    const char *id;
    const char *title;
    const char *why;
    const char *verify;
    bool (*match) (const s_ctx_t *c);
    int (*evidence) (buf_t *o, const s_ctx_t *c);
    const char *rec[4];        /* Understand, Diagnose, Optimize, Monitor */
    const char *rec_verify[4];
} s_rule_t;

static const s_rule_t s_rules[] = {
    { "eviction", "Spot capacity was reclaimed (evictions)",
      "Spot instances were taken back by the cloud provider; each eviction kills or restarts work, and the "
      "retry pays again for the lost time.",
      "List the SPOT_EVICTION events and `eviction_details` rows for this entity's clusters and check that "
      "failed or retried runs end at those eviction times.",
      m_eviction, e_eviction,
      { "Treat this entity as spot-dependent: its cost and reliability follow spot availability.",
        "Match each failed or retried run to an eviction time to confirm evictions caused the failures.",
        "Keep the driver on on-demand capacity and use spot-with-fallback to on-demand for workers (or lower "
        "the spot share) on this entity.",
        "Alert on SPOT_EVICTION events and on retries per run for this entity's clusters." },
      { "The eviction events above fall inside this entity's run windows.",
        "Every failed run in the window has an eviction within its start and end time.",
        "After the change, compare failed runs and retry cost with the same window before it.",
        "Replay the alert over the events above; it must fire on each eviction." } },
    { "regression", "Performance regression after a configuration change",
      "Runtime or cost jumped after the configuration changed, which points at the change rather than at "
      "the data.",
      "Compare runtime and cost per run before and after the change date in `job_runs` and `compute_usage`.",
      m_regression, e_regression,
      { "The configuration change is the main event in this entity's recent history.",
        "Diff the configuration before and after the change and test each difference against the runtime "
        "jump.",
        "Roll back the change (or the part of it that slowed runs) on one run first, then for all runs.",
        "Alert on runtime per run against its pre-change baseline, and record every configuration change as "
        "an event." },
      { "The change date lines up with the first slower run.",
        "Runs before the change date are consistently faster than runs after it.",
        "The rolled-back run returns to the pre-change runtime and cost.",
        "The alert would have fired on the first run after the change." } },
    { "data_growth", "Growing input data (runtime rising, timeouts)",
      "Runtime keeps rising and work now hits time limits, which is what growing input volume does to a job "
      "whose sizing stayed the same.",
      "Compare input row counts or bytes read per run over the period with the runtime trend; they should "
      "rise together.",
      m_growth, e_growth,
      { "This entity's workload grows over time, so its runtime and cost do too.",
        "Check input volume per run against runtime; confirm the timeouts happen on the largest inputs.",
        "Process incrementally (only new partitions), prune or compact input, or size compute to the current "
        "volume; raise the timeout only as a stop-gap.",
        "Track runtime per run and input volume together and alert before runs approach the timeout." },
      { "Runtime and input volume move together in the run history.",
        "The runs that timed out read more data than the runs that succeeded.",
        "Runtime per unit of input stays flat or falls after the change.",
        "The alert fires on the slowest recent runs in the history." } },
    { "time_limit", "Work is hitting its time limit",
      "Timeouts without a rising runtime trend point at individual heavy runs or queries rather than steady "
      "growth.",
      "Find the timed-out runs or queries and compare their inputs and plans with ones that finished.",
      m_time_limit, e_time_limit,
      { "Some of this entity's work does not finish within its configured time limit.",
        "Inspect the timed-out runs or queries: input size, plan, and concurrent load when they ran.",
        "Optimise the heavy queries (filters, partition pruning, result limits) or route them to larger "
        "compute.",
        "Alert on timeouts and killed queries for this entity." },
      { "The timeouts cluster on specific runs or queries.",
        "The timed-out work differs from finished work in input or plan.",
        "The same work finishes within the limit after the change.",
        "Replaying the history triggers the alert on the timeouts listed above." } },
    { "cascade", "Upstream failure cascade",
      "A failure upstream stopped or skipped this entity's runs; the root cause sits in the dependency, not "
      "here.",
      "Line up the upstream job's failed runs with this entity's skipped or failed runs by time.",
      m_cascade, e_cascade,
      { "This entity depends on upstream work; its reliability is bounded by theirs.",
        "Find the first failing upstream run and check that every skipped run here follows it.",
        "Fix the upstream failure first; add retries with back-off on the upstream task rather than here.",
        "Alert on upstream failures so downstream owners learn before their runs are skipped." },
      { "The dependency is visible in the job description or graph.",
        "Every skipped run here starts after an upstream failure.",
        "Skipped runs stop once the upstream job succeeds again.",
        "The alert fires on the upstream failure listed above." } },
    { "concentration", "Cost concentration",
      "A large share of total spend sits in this one entity, so any saving here moves the total.",
      "Re-run the Pareto report for the same period and confirm this entity's rank and share.",
      m_concentration, e_concentration,
      { "This entity is one of the main contributors to total spend.",
        "Break its cost down by run and by compute to see whether a few runs or the steady state dominate.",
        "Start cost work here: right-size compute, use job compute instead of all-purpose, and remove "
        "unneeded runs.",
        "Track this entity's share of total spend and alert when it grows." },
      { "The Pareto report shows the same share.",
        "The breakdown adds up to the entity's total cost.",
        "Its share of total spend falls in the period after the change.",
        "The alert threshold sits above today's share and below the peak." } },
    { "retries", "Retries are multiplying cost",
      "Failed attempts are retried, so each failure is paid for more than once.",
      "Count attempts per logical run in `job_runs` and sum the cost of the failed attempts.",
      m_retries, e_retries,
      { "Part of this entity's cost is spent on attempts that failed.",
        "Group failures by error signature to find the cause behind most retries.",
        "Fix the dominant failure cause; cap retries and add back-off so failures stop costing full runs.",
        "Alert on the failure rate and on attempts per run." },
      { "Failed attempts appear next to successful retries in the run list.",
        "One signature accounts for most failed attempts.",
        "Attempts per run and the cost of failed attempts fall after the fix.",
        "The alert fires on the failure rate shown above." } },
    { "chronic", "Chronic unreliability",
      "A high share of runs fails over the whole period, which suggests a persistent defect rather than a "
      "one-off incident.",
      "Plot failures per day; a steady rate (not one burst) confirms a chronic problem.",
      m_chronic, e_chronic,
      { "This entity fails often enough to matter for anyone depending on it.",
        "Group the failed runs by error signature and by day to separate chronic from incident failures.",
        "Fix the top error signature; schedule a refactor when the code path is known to be fragile.",
        "Alert on the failure rate over a rolling window." },
      { "Failures spread across the period.",
        "The top signature explains most failed runs.",
        "The failure rate falls after the fix.",
        "The alert would have fired repeatedly in the period shown." } },
    { "anomaly", "Statistical cost anomaly",
      "At least one day's cost lies far outside its recent history (by z-score).",
      "Open the anomaly report for this entity and compare the anomalous day's runs with the days before "
      "it.",
      m_anomaly, e_anomaly,
      { "This entity had an unusual day compared with its own history.",
        "Compare the anomalous day's runs, retries and compute with a normal day.",
        "Remove the cause of the extra cost on the anomalous day (retries, oversizing, duplicate runs).",
        "Keep anomaly alerts on for this entity." },
      { "The anomaly report lists the same day.",
        "The difference between the days explains the extra cost.",
        "Cost on comparable days returns to the expected range.",
        "The alert fires on the anomalous day in a replay." } },
    { "underused", "Compute is under-used",
      "Low CPU utilisation means the cluster is larger than the work needs.",
      "Check utilisation per run in `compute_usage`; it should stay low across runs, not only on average.",
      m_underused, e_cpu,
      { "This entity pays for more compute than it uses.",
        "Confirm the low utilisation holds across runs and is not caused by waiting on I/O.",
        "Use fewer or smaller workers, or enable autoscaling with a lower minimum.",
        "Track utilisation per run and alert when it stays low." },
      { "Utilisation is low in most runs.",
        "The runs are not I/O bound.",
        "Runtime stays within its SLA with the smaller cluster.",
        "The alert fires on the current utilisation." } },
    { "saturated", "Compute is saturated",
      "Very high CPU utilisation means the cluster is too small or skewed, which slows runs and raises "
      "failure risk.",
      "Check utilisation and runtime per run; saturated runs should be the slow ones.",
      m_saturated, e_cpu,
      { "This entity runs its compute at the limit.",
        "Check for data skew and for runs that are slow while saturated.",
        "Add workers or enable autoscaling with a higher maximum; fix skewed joins.",
        "Alert on sustained high utilisation together with runtime." },
      { "High utilisation appears in most runs.",
        "The slow runs are the saturated ones.",
        "Runtime falls and utilisation stays below saturation after the change.",
        "The alert fires on the current utilisation." } },
    { "spot_exposure", "High spot exposure",
      "Most of this entity's capacity is spot; no eviction shows in these facts, but the risk is real.",
      "Check `eviction_details` over a longer period for this entity's clusters.",
      m_spot_exposure, e_spot,
      { "This entity relies mostly on spot capacity.",
        "Check whether past failures coincide with capacity events in a longer window.",
        "Keep the spot share where the SLA allows, with fallback to on-demand and the driver on on-demand.",
        "Alert on SPOT_EVICTION events for this entity's clusters." },
      { "The spot ratio above is the entity's current setting.",
        "A longer window shows whether evictions occur.",
        "Runs keep their SLA after the change.",
        "The alert fires on any eviction in a replay." } },
    { "config_change", "Recent configuration change",
      "The configuration changed; these facts show no matching jump in runtime or cost.",
      "Compare runs before and after the change date to confirm nothing else moved.",
      m_config_change, e_config,
      { "This entity's configuration changed recently.",
        "Check whether the change explains any behaviour the report shows.",
        "Keep the change if runtime and cost stayed the same or improved.",
        "Record configuration changes as events and watch the runs after each one." },
      { "The change is listed in the events.",
        "Runs before and after the change behave alike.",
        "Cost per run after the change is not higher.",
        "The next change shows up as an event." } },
};
#define S_NRULES (sizeof s_rules / sizeof s_rules[0])

/* Lane advice when no rule matched. */
static const char *const s_generic_rec[4] = {
    "Read the main drivers above against the report's totals to see what this entity contributes.",
    "Look at the most expensive and the failed runs of this entity for a common cause.",
    "No rule found a clear saving; review the sizing and the schedule of this entity's compute.",
    "Track the main drivers above daily and alert on a sharp change.",
};
static const char *const s_generic_verify[4] = {
    "Re-run the report with the same parameters; its row for this entity shows the same figures.",
    "Query `job_runs` for this entity ordered by cost and by status and compare with the drivers above.",
    "Compare DBUs per run before and after any change.",
    "Replay the alert over the report's history; it must fire on past spikes.",
};

size_t
lg_narrate_hypotheses (const lg_facts_t *facts, const lg_narrator_opts_t *opts, const char **ids, size_t max)
{
    lg_narrator_opts_t def;
    if (opts == NULL) {
        lg_narrator_opts_default (&def);
        opts = &def;
    }
    s_ctx_t c = { facts, opts };
    size_t n = 0;
    for (size_t r = 0; r < S_NRULES; r++)
        if (s_rules[r].match (&c)) {
            if (n < max && ids)
                ids[n] = s_rules[r].id;
            n++;
        }
    return n;
}

/* ---- sections -------------------------------------------------------------- */
static int
s_title (buf_t *o, const lg_facts_t *f)
{
    const char *chip = lg_facts_chip_label (f);
    S_TRY (buf_puts (o, "## "));
    S_TRY (s_inline (o, chip[0] ? chip : "Explanation"));
    const char *label = lg_facts_entity_label (f), *id = lg_facts_entity_id (f);
    if (label[0] || id[0]) {
        S_TRY (buf_puts (o, " — "));
        S_TRY (s_inline (o, label[0] ? label : id));
    }
    return buf_puts (o, "\n\n");
}

static int
s_entity_ref (buf_t *o, const lg_facts_t *f)
{
    const char *label = lg_facts_entity_label (f), *id = lg_facts_entity_id (f), *type = lg_facts_entity_type (f);
    S_TRY (buf_puts (o, "**"));
    S_TRY (s_inline (o, label[0] ? label : id[0] ? id : "The selection"));
    S_TRY (buf_puts (o, "**"));
    if (type[0] || id[0]) {
        S_TRY (buf_puts (o, " ("));
        if (type[0]) {
            S_TRY (buf_puts (o, "`"));
            S_TRY (s_inline (o, type));
            S_TRY (buf_puts (o, "`"));
        }
        if (id[0]) {
            S_TRY (buf_puts (o, type[0] ? " `" : "`"));
            S_TRY (s_inline (o, id));
            S_TRY (buf_puts (o, "`"));
        }
        S_TRY (buf_puts (o, ")"));
    }
    return 0;
}

static int
s_summary (buf_t *o, const s_ctx_t *c, const char **hyp, size_t nh)
{
    const lg_facts_t *f = c->f;
    S_TRY (buf_puts (o, "### Summary\n\n"));
    S_TRY (s_entity_ref (o, f));
    const char *title = lg_facts_report_title (f);
    if (!title[0])
        title = lg_facts_report_id (f);
    if (title[0]) {
        S_TRY (buf_puts (o, " in the report *"));
        S_TRY (s_inline (o, title));
        S_TRY (buf_puts (o, "*"));
    }
    S_TRY (buf_puts (o, ".\n"));
    size_t shown = 0;
    for (size_t i = 0; i < lg_facts_count (f) && shown < 3; i++) {
        const lg_fact_t *x = lg_facts_at (f, i);
        if (!x->has_value)
            continue;
        S_TRY (buf_puts (o, shown == 0 ? "Key figures: " : "; "));
        S_TRY (s_label (o, x));
        S_TRY (buf_puts (o, " **"));
        S_TRY (s_value (o, x));
        S_TRY (buf_puts (o, "**"));
        shown++;
    }
    if (shown)
        S_TRY (buf_puts (o, ".\n"));
    if (nh == 0)
        S_TRY (buf_puts (o, "No rule-based hypothesis matched these facts, so no cause is suggested.\n"));
    else {
        S_TRY (buf_puts (o, "What the rules point to: "));
        for (size_t i = 0; i < nh; i++) {
            for (size_t r = 0; r < S_NRULES; r++)
                if (strcmp (s_rules[r].id, hyp[i]) == 0) {
                    if (i)
                        S_TRY (buf_puts (o, "; "));
                    S_TRY (buf_puts (o, s_rules[r].title));
                }
        }
        S_TRY (buf_puts (o, ".\n"));
    }
    const char *q = lg_facts_question (f);
    if (q[0])
        S_TRY (buf_puts (o, "The built-in narrator does not interpret free questions; it summarises the "
                            "facts for the selection.\n"));
    return buf_puts (o, "\n");
}

static int
s_drivers (buf_t *o, const s_ctx_t *c)
{
    const lg_facts_t *f = c->f;
    S_TRY (buf_puts (o, "### Main drivers\n\n"));
    size_t shown = 0, max = 8;
    for (size_t i = 0; i < lg_facts_count (f); i++) {
        const lg_fact_t *x = lg_facts_at (f, i);
        if (!x->has_value && !(x->text && x->text[0]))
            continue;
        if (shown == max) {
            S_TRY (buf_puts (o, "- Further facts are omitted.\n"));
            break;
        }
        shown++;
        S_TRY (buf_puts (o, "- "));
        S_TRY (s_label (o, x));
        S_TRY (buf_puts (o, ": **"));
        S_TRY (s_value (o, x));
        S_TRY (buf_puts (o, "**"));
        if (x->source_table && x->source_table[0]) {
            S_TRY (buf_puts (o, " — source `"));
            S_TRY (s_inline (o, x->source_table));
            S_TRY (buf_puts (o, "`"));
            if (x->n_row_keys) {
                S_TRY (buf_puts (o, ", rows "));
                for (size_t k = 0; k < x->n_row_keys && k < 3; k++) {
                    S_TRY (buf_puts (o, k ? ", `" : "`"));
                    S_TRY (s_inline (o, x->row_keys[k]));
                    S_TRY (buf_puts (o, "`"));
                }
                if (x->n_row_keys > 3)
                    S_TRY (buf_puts (o, " and more"));
            }
        }
        S_TRY (buf_puts (o, "\n"));
    }
    if (shown == 0)
        S_TRY (buf_puts (o, "- No figures were supplied for this selection.\n"));
    return buf_puts (o, "\n");
}

typedef struct {
    const char *ts;
    const lg_event_t *ev;
    const lg_change_t *ch;
    size_t order;
} s_tl_t;

static int
s_tl_cmp (const void *a, const void *b)
{
    const s_tl_t *x = a, *y = b;
    if (x->ts && y->ts) {
        int r = strcmp (x->ts, y->ts);
        if (r)
            return r;
    }
    else if (x->ts || y->ts)
        return x->ts ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

static int
s_timeline (buf_t *o, const s_ctx_t *c)
{
    size_t ne = lg_facts_n_events (c->f), nc = lg_facts_n_changes (c->f), n = ne + nc;
    if (n == 0)
        return 0;
    s_tl_t *tl = calloc (n, sizeof *tl);
    if (tl == NULL)
        return LG_E_NOMEM;
    for (size_t i = 0; i < ne; i++) {
        tl[i].ev = lg_facts_event (c->f, i);
        tl[i].ts = tl[i].ev->ts;
        tl[i].order = i;
    }
    for (size_t i = 0; i < nc; i++) {
        tl[ne + i].ch = lg_facts_change (c->f, i);
        tl[ne + i].ts = tl[ne + i].ch->ts;
        tl[ne + i].order = ne + i;
    }
    qsort (tl, n, sizeof *tl, s_tl_cmp);
    int rc = buf_puts (o, "### Timeline\n\n");
    size_t max = 10;
    for (size_t i = 0; rc == 0 && i < n && i < max; i++) {
        if (tl[i].ch) {
            rc = s_change_line (o, tl[i].ch, "- ");
            continue;
        }
        const lg_event_t *e = tl[i].ev;
        rc = buf_puts (o, "- ");
        if (rc == 0 && e->ts) {
            rc = s_inline (o, e->ts);
            if (rc == 0)
                rc = buf_puts (o, " — ");
        }
        if (rc == 0)
            rc = buf_puts (o, "`");
        if (rc == 0)
            rc = s_inline (o, e->type ? e->type : "event");
        if (rc == 0)
            rc = buf_puts (o, "`");
        if (rc == 0 && e->text) {
            rc = buf_puts (o, ": ");
            if (rc == 0)
                rc = s_inline (o, e->text);
        }
        if (rc == 0)
            rc = buf_puts (o, "\n");
    }
    if (rc == 0 && n > max)
        rc = buf_puts (o, "- Earlier entries are omitted.\n");
    if (rc == 0)
        rc = buf_puts (o, "\n");
    free (tl);
    return rc;
}

static int
s_hypotheses (buf_t *o, const s_ctx_t *c)
{
    S_TRY (buf_puts (o, "### Hypotheses\n\n"));
    size_t n = 0;
    for (size_t r = 0; r < S_NRULES; r++) {
        const s_rule_t *R = &s_rules[r];
        if (!R->match (c))
            continue;
        n++;
        S_TRY (buf_puts (o, "- **"));
        S_TRY (buf_puts (o, R->title));
        S_TRY (buf_puts (o, "** — "));
        S_TRY (buf_puts (o, R->why));
        S_TRY (buf_puts (o, "\n"));
        S_TRY (R->evidence (o, c));
        S_TRY (buf_puts (o, "   - *How to verify:* "));
        S_TRY (buf_puts (o, R->verify));
        S_TRY (buf_puts (o, "\n"));
    }
    if (n == 0)
        S_TRY (buf_puts (o, "- None of the narrator's rules matched these facts (evictions, configuration "
                            "changes, runtime growth, timeouts, upstream failures, cost share, retries, "
                            "anomalies, utilisation).\n"));
    return buf_puts (o, "\n");
}

static int
s_recommendations (buf_t *o, const s_ctx_t *c, int lane)
{
    S_TRY (buf_puts (o, "### Recommendations — "));
    S_TRY (buf_puts (o, s_lanes[lane]));
    S_TRY (buf_puts (o, "\n\n"));
    size_t n = 0;
    for (size_t r = 0; r < S_NRULES; r++) {
        const s_rule_t *R = &s_rules[r];
        if (!R->match (c))
            continue;
        n++;
        S_TRY (buf_puts (o, "- "));
        S_TRY (buf_puts (o, R->rec[lane]));
        S_TRY (buf_puts (o, "\n  *Verify:* "));
        S_TRY (buf_puts (o, R->rec_verify[lane]));
        S_TRY (buf_puts (o, "\n"));
    }
    if (n == 0) {
        S_TRY (buf_puts (o, "- "));
        S_TRY (buf_puts (o, s_generic_rec[lane]));
        S_TRY (buf_puts (o, "\n  *Verify:* "));
        S_TRY (buf_puts (o, s_generic_verify[lane]));
        S_TRY (buf_puts (o, "\n"));
    }
    return buf_puts (o, "\n");
}

static const char s_footer[] =
    "---\n_Answer from the built-in narrator (offline, deterministic): built only from the structured facts "
    "of this selection; no language model was used._\n";

int
lg_narrate (const lg_facts_t *facts, const char *lane, const char *note, const lg_narrator_opts_t *opts,
            buf_t *out)
{
    lg_narrator_opts_t def;
    if (opts == NULL) {
        lg_narrator_opts_default (&def);
        opts = &def;
    }
    s_ctx_t c = { facts, opts };
    const char *l = (lane && lane[0]) ? lane : lg_facts_chip_lane (facts);
    int li = s_lane_index (l);
    size_t mark = buf_len (out);
    int rc = 0;
    if (note && note[0]) {
        if ((rc = buf_puts (out, "> **Note:** ")) != 0 || (rc = s_inline (out, note)) != 0
            || (rc = buf_puts (out, "\n\n")) != 0)
            goto done;
    }
    if (lg_facts_empty (facts)) {
        rc = buf_puts (out, "No structured facts were supplied for this request, so the built-in narrator has "
                            "nothing to explain. Check that the report returned figures for the selection.\n\n");
        if (rc == 0)
            rc = buf_puts (out, s_footer);
        goto done;
    }
    const char *hyp[S_NRULES];
    size_t nh = lg_narrate_hypotheses (facts, opts, hyp, S_NRULES);
    if ((rc = s_title (out, facts)) != 0 || (rc = s_summary (out, &c, hyp, nh)) != 0
        || (rc = s_drivers (out, &c)) != 0 || (rc = s_timeline (out, &c)) != 0
        || (rc = s_hypotheses (out, &c)) != 0 || (rc = s_recommendations (out, &c, li)) != 0)
        goto done;
    rc = buf_puts (out, s_footer);
done:
    if (rc != 0) {
        buf_truncate (out, mark);
        return rc == BUF_E_TOOBIG ? LG_E_TOOBIG : rc == BUF_E_NOMEM ? LG_E_NOMEM : rc;
    }
    return 0;
}
