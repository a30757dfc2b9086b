/* rs_engine.h — the report engine (library rs_engine) used by the
 * report-service daemon, the CLI (`copilot report ...`) and the tests.
 *
 * The engine interprets the report registry (sql/reports/registry.json plus
 * one SQL file per report, embedded in the library): it validates the
 * parameters, runs the report's SQL on a READ-ONLY SQLite connection, runs
 * the anomaly detector where the registry asks for it, computes KPIs,
 * banners, tables, the Vega-Lite chart spec (data inlined), the selections
 * and their chips (four lanes), and caches results keyed by
 * (report, resolved parameters, data version).
 *
 * Result JSON of rs_engine_run (key order is fixed):
 *   { report_id, title, pillar, description,
 *     params: {from, to, workspace, as_of, <report params>},   effective values
 *     data_version, columns: [{name, type, label}], rows: [{col: value}],
 *     kpis: [{id, label, value, format, text}], banners: [{level, text}],
 *     tables: [{id, title, columns, rows}], chart_spec: {...Vega-Lite...},
 *     selections: [{entity_type, entity_id, label, payload: {...},
 *                   chips: [{id, lane, label, prompt, entity_type, entity_id, source}]}],
 *     extra: {<dataset>: [rows]}, sql, cached }
 *
 * Threading: an rs_engine_t belongs to one thread (it owns a db handle and
 * the cache). Errors: functions return 0 or a negative RS_E_* code and keep a
 * human message in rs_engine_error(); for RS_E_INVALID the message names
 * the parameter and the accepted form, e.g.
 *   "from: expected a date YYYY-MM-DD, got '2025-13-01'".
 */
#ifndef RS_ENGINE_H
#define RS_ENGINE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _rs_engine_t rs_engine_t;

enum {
    RS_OK = 0,
    RS_E_INVALID = -1,        /* bad parameter (message names it) */
    RS_E_NOTFOUND = -2,       /* unknown report id / entity */
    RS_E_DB = -3,             /* SQLite error (open, query) */
    RS_E_REGISTRY = -4,       /* registry or SQL file broken */
    RS_E_NOMEM = -5,
    RS_E_UNIMPLEMENTED = -6,  /* report is "planned", not built yet */
    RS_E_TOOBIG = -7          /* a size cap was hit */
};

typedef struct {
    const char *key;
    const char *value;
} rs_param_t;

/* Rollup variants (see rs_engine_set_fast_mode). */
typedef enum {
    RS_FAST_AUTO = 0, /* use a report's "sql_fast" variant when the rollups are current and exact (default) */
    RS_FAST_OFF = 1   /* always run the raw report SQL (the definition) */
} rs_fast_mode_t;

typedef struct {
    const char *registry_dir; /* NULL = embedded registry + SQL (normal case) */
    size_t cache_entries;     /* 0 = 64; results kept per (report, params, data version) */
} rs_options_t;

/* Opens `db_path` read-only and loads the registry. NULL on failure with the
 * reason in err (may be NULL). `opts` may be NULL. */
rs_engine_t *rs_engine_new (const char *db_path, const rs_options_t *opts, char *err, size_t errsz);
/* Closes the DB and frees everything. NULL-safe; sets *self_p = NULL. */
void rs_engine_destroy (rs_engine_t **self_p);

/* Registry listing: {default_report, lanes, reports: [{id, title, pillar,
 * description, status, order, params: [{name, kind, description, default}]}]}
 * in registry order. *out is a new reference. 0 or RS_E_*. */
int rs_engine_list (rs_engine_t *self, json_t **out);

/* Runs one report (see the result shape above). *out is a new reference the
 * caller decrefs. 0, RS_E_NOTFOUND (unknown id), RS_E_UNIMPLEMENTED
 * (planned), RS_E_INVALID (parameters), RS_E_DB, RS_E_REGISTRY, RS_E_NOMEM. */
int rs_engine_run (rs_engine_t *self, const char *report_id, const rs_param_t *params, size_t nparams,
                   json_t **out);

/* EntityFacts: the figures about one entity (entity_type job, compute_type,
 * compute, anomaly — anomaly ids are "<entity_id>:<YYYY-MM-DD>") with their
 * source table and row keys:
 *   {entity_type, entity_id, label, data_version, params,
 *    facts: [{name, value, text, unit, source_table, row_keys: [...]}],
 *    related_ids: ["job::J-X", ...]}
 * Accepts the common parameters (from, to, workspace, as_of). */
int rs_engine_entity_facts (rs_engine_t *self, const char *entity_type, const char *entity_id,
                            const rs_param_t *params, size_t nparams, json_t **out);

/* Runs the anomaly detector over the whole daily series (parameters as for
 * the anomaly_detection report) and returns every anomaly in a stable order
 * (entity_id, date): [{alert_id, severity, entity_type, entity_id,
 * entity_name, date, value, expected, expected_low, expected_high, z_score,
 * pct_deviation}]. Used by the daemon to publish alerts. */
int rs_engine_detect (rs_engine_t *self, const rs_param_t *params, size_t nparams, json_t **out);

/* Drops every cached result (call on data.changed) and forgets the data
 * version so it is re-read. */
void rs_engine_invalidate (rs_engine_t *self);
/* Current data version: "v<version>@<updated_at>" from the data_version
 * table, or "fp:<16 hex>" (a fingerprint of table sizes) when the DB has no
 * such table (the raw reference fixture). NULL on a DB error. */
const char *rs_engine_data_version (rs_engine_t *self);
/* Number of cached results and lifetime hit/miss counters. */
size_t rs_engine_cache_size (rs_engine_t *self);
void rs_engine_cache_stats (rs_engine_t *self, unsigned long *hits, unsigned long *misses);

/* Message of the last failure of this engine ("" when none). */
const char *rs_engine_error (rs_engine_t *self);

/* Chooses between the raw report SQL and the rollup variants for the next
 * runs of this engine. Results are cached per (report, params, data
 * version) whatever the mode: both variants give the same figures. */
void rs_engine_set_fast_mode (rs_engine_t *self, rs_fast_mode_t mode);
/* True when the DB's report rollups (rs_rollup_state) were built for the
 * current data_version.version and are exact (one usage row per run, dated
 * on the run's start date). False on the raw fixture or stale rollups. */
bool rs_engine_rollups_current (rs_engine_t *self);
/* "fast" or "raw": the variant the last computed (not cached) report run
 * used. "raw" before any run. */
const char *rs_engine_last_variant (rs_engine_t *self);
const char *rs_strerror (int code);

#endif
