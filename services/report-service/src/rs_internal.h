/* rs_internal.h — internal types of rs_engine shared by its .c files:
 * the compiled registry (rs_registry.c), result tables (rs_table.c),
 * parameters (rs_params.c), the selection/chip builder (rs_chips.c), the
 * entity-facts builder (rs_facts.c) and the cache (rs_cache.c).
 * Nothing here is a public contract; see include/rs_engine.h for that.
 */
#ifndef RS_INTERNAL_H
#define RS_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "rs_anomaly.h"
#include "rs_engine.h"
#include "rs_expr.h"

#define RS_ERRSZ 512
#define RS_TEXT_CAP (1u << 20)    /* cap of any one rendered label/prompt/banner */
#define RS_MAX_ROWS 2000000       /* cap of rows one report query may return */
/* Layout of the rs_* rollup tables written by sql/refresh/derived.sql
 * (rs_rollup_state.layout); rollups of another layout are not used. */
#define RS_ROLLUP_LAYOUT 2
#define RS_STR_(x) #x
#define RS_STR(x) RS_STR_ (x)

/* ====================================================================== */
/* registry                                                                */
/* ====================================================================== */
typedef struct {
    rs_expr_t *expr;
    bool desc;
} rs_order_t;

typedef struct {
    rs_expr_t *where;        /* NULL = every row */
    rs_order_t *order;
    int norder;
    rs_expr_t *limit;        /* NULL = no limit */
} rs_pick_t;

typedef struct {
    rs_expr_t *when;
    rs_tmpl_t *text;
} rs_tag_t;

/* A text: a template, or an expression, plus optional conditional tags
 * rendered as  template + open + tag1 + sep + tag2 ... + close  (open/close
 * only when at least one tag applies). */
typedef struct {
    rs_tmpl_t *tmpl;
    rs_expr_t *expr;
    rs_tag_t *tags;
    int ntags;
    const char *sep, *open, *close;
} rs_text_t;

typedef enum { RS_PK_DATE, RS_PK_WORKSPACE, RS_PK_INT, RS_PK_NUMBER, RS_PK_STRING } rs_pkind_t;

typedef struct {
    const char *name;
    const char *kind_name;
    rs_pkind_t kind;
    const char *description;
    const char *def;         /* textual default, NULL = computed */
    double min, max;
} rs_pspec_t;

typedef struct {
    const char *name;
    rs_expr_t *expr;
    rs_text_t text;
    bool is_text;
} rs_computed_t;

typedef enum {
    RS_AGG_SUM, RS_AGG_MEAN, RS_AGG_COUNT, RS_AGG_COUNT_DISTINCT, RS_AGG_MAX, RS_AGG_MIN,
    RS_AGG_FIRST, RS_AGG_JOIN, RS_AGG_EXPR, RS_AGG_TOP_GROUPS
} rs_agg_t;

typedef struct {
    const char *name;
    rs_agg_t agg;
    const char *source;      /* NULL = main rows, else an extra dataset name */
    rs_expr_t *expr, *where;
    const char *sep;
    int limit;
    bool has_empty;
    double empty;
} rs_measure_t;

typedef struct {
    const char *id, *label, *measure, *format;
} rs_kpi_t;

typedef struct {
    rs_expr_t *when;
    const char *level;
    rs_tmpl_t *text;
} rs_banner_t;

typedef struct {
    const char *id, *title;
    rs_expr_t *where;
    rs_order_t *order;
    int norder;
    rs_expr_t *limit;
    const char **columns;
    int ncolumns;
} rs_tspec_t;

typedef struct {
    const char *key;
    int index;               /* position in the report's (or core) rule list */
    rs_tmpl_t *id;           /* core chips only */
    rs_tmpl_t *label;
    const char *lane;
    int lane_idx;
    rs_expr_t *when;
    rs_tmpl_t *prompt;
} rs_chiprule_t;

typedef struct {
    const char *name;
    rs_expr_t *expr;
} rs_payload_t;

typedef struct {
    const char *name;
    const char *sql_file;
    const char *sql;
    const char *sql_fast_file; /* rollup variant (NULL = none) */
    const char *sql_fast;
} rs_extra_t;

typedef struct {
    const char *id, *title, *pillar, *description, *status;
    int order;
    bool available;
    rs_pspec_t *params;      /* report-specific parameters */
    int nparams;
    int lookback_days;       /* 0 = from defaults to the earliest usage date */
    const char *sql_file;
    const char *sql;
    const char *sql_fast_file;  /* "sql_fast": rollup-based variant, same columns and figures (NULL = none) */
    const char *sql_fast;
    const char *fast_guard;     /* "sql_fast_guard": inline SQL returning 1 when the variant applies to the bound parameters (NULL = always) */
    rs_extra_t *extras;
    int nextras;
    json_t *column_labels;   /* borrowed object or NULL */
    rs_computed_t *computed;
    int ncomputed;
    rs_measure_t *measures;
    int nmeasures;
    rs_kpi_t *kpis;
    int nkpis;
    rs_banner_t *banners;
    int nbanners;
    rs_tspec_t *tables;
    int ntables;
    json_t *chart;           /* borrowed template */
    rs_expr_t *out_where;    /* rows_output: which rows the result lists (NULL = all) */
    rs_expr_t *out_limit;
    bool out_scope_output;   /* rows_output.scope "output": tables, chart and selections
                                see only the listed rows (default "all": every row) */
    const char *entity_type;   /* fixed type, or NULL when entity_type_expr is used */
    rs_expr_t *entity_type_expr;
    rs_expr_t *entity_id, *entity_name;
    rs_pick_t *picks;
    int npicks;
    bool has_fallback;
    int fallback_min;
    rs_pick_t fallback;
    rs_order_t *sel_order;
    int nsel_order;
    rs_expr_t *sel_limit;
    rs_text_t sel_label;
    rs_payload_t *payload;
    int npayload;
    rs_chiprule_t *chips;
    int nchips;
    bool has_detector;
    bool has_forecaster;
    rs_expr_t *fc_horizon, *fc_backtest;
    const char *det_entity, *det_date, *det_value;
    rs_expr_t *det_z, *det_minh, *det_window;
    bool det_rolling;
} rs_report_t;

typedef struct {
    const char *type;        /* "*" = fallback */
    rs_tmpl_t *anchor;
} rs_etype_t;

typedef struct _rs_registry_t {
    json_t *root;
    const char *default_report;
    const char *lanes[4];
    json_t *thresholds;      /* borrowed object name -> number */
    rs_pspec_t *common;
    int ncommon;
    rs_etype_t *etypes;
    int netypes;
    rs_chiprule_t *core;
    int ncore;
    rs_report_t *reports;
    int nreports;
    const char *facts_rank_fast;  /* facts_job_rank.fast.sql, includes expanded (EntityFacts) */
    /* ownership lists */
    void **allocs;
    int nallocs, capallocs;
    rs_expr_t **exprs;
    int nexprs, capexprs;
    rs_tmpl_t **tmpls;
    int ntmpls, captmpls;
} rs_registry_t;

/* Loads registry.json and the SQL files it names, from `dir` when non-NULL
 * (development), else from the files embedded in the library. NULL with the
 * reason in err. */
rs_registry_t *rs_registry_load (const char *dir, char *err, size_t errsz);
void rs_registry_destroy (rs_registry_t **self_p);
const rs_report_t *rs_registry_find (const rs_registry_t *self, const char *id);
/* Threshold value; NaN when unknown. */
double rs_registry_threshold (const rs_registry_t *self, const char *name);
/* Lane index of a lane name (unknown names fall back to Diagnose, as in the
 * reference, §3.1). */
int rs_registry_lane (const rs_registry_t *self, const char *lane);

/* ====================================================================== */
/* tables                                                                  */
/* ====================================================================== */
typedef struct {
    char *name;
    char *type;              /* "integer", "real", "text", "null" (no non-NULL value) */
} rs_col_t;

typedef struct {
    int ncols, capcols;
    rs_col_t *cols;
    size_t nrows, caprows;
    rs_value_t **colv;       /* column-major: colv[col][row], caprows each */
    rs_arena_t strings;      /* text cells */
} rs_table_t;

rs_table_t *rs_table_new (void);
void rs_table_destroy (rs_table_t **self_p);
/* Runs `stmt` (already bound) to completion into a new table. NULL on error
 * (message in err). */
rs_table_t *rs_table_from_stmt (sqlite3_stmt *stmt, char *err, size_t errsz);
/* A new table with the columns of `src` and its rows `idx[0..n-1]`, in that
 * order. Text cells are borrowed from `src`, which must outlive the result.
 * NULL on OOM. */
rs_table_t *rs_table_subset (const rs_table_t *src, const size_t *idx, size_t n);
/* Appends a row (all NULL); returns its index or -1. */
long rs_table_add_row (rs_table_t *self);
/* Appends a column (all NULL); returns its index or -1. */
int rs_table_add_col (rs_table_t *self, const char *name, const char *type);
int rs_table_col (const rs_table_t *self, const char *name);
rs_value_t *rs_table_cell (rs_table_t *self, size_t row, int col);
const rs_value_t *rs_table_cell_c (const rs_table_t *self, size_t row, int col);
/* Stores a copy of v (strings copied into the table). 0 or -1. */
int rs_table_set (rs_table_t *self, size_t row, int col, rs_value_t v);
/* JSON of a value (NULL/NaN/inf -> null, is_int -> integer). New reference. */
json_t *rs_value_json (const rs_value_t *v);
/* Row as a JSON object keyed by column names (all columns or the listed ones). */
json_t *rs_table_row_json (const rs_table_t *self, size_t row, const char *const *cols, int ncols);

/* Row scope: names resolve to the row's columns, plus "row_index" (first).
 * A context is meant to be reused across the rows of one pass (set .row):
 * it memoizes name -> column by the name's address (registry names live as
 * long as the compiled registry), so after the first row a lookup is a
 * pointer compare instead of a strcmp over every column. Initialise with
 * rs_rowctx_init; valid while the table
 * gains no column. */
#define RS_ROWCTX_MEMO 16
typedef struct {
    const rs_table_t *table;
    size_t row;
    int n;
    const char *names[RS_ROWCTX_MEMO];
    int cols[RS_ROWCTX_MEMO]; /* -2 = row_index */
} rs_rowctx_t;
void rs_rowctx_init (rs_rowctx_t *ctx, const rs_table_t *table, size_t row);
/* rs_scope_t lookup over an rs_rowctx_t: 0, or -1 when no such column. */
int rs_row_lookup (void *ud, const char *name, rs_value_t *out);

/* ====================================================================== */
/* parameters                                                              */
/* ====================================================================== */
typedef struct {
    const char *name;
    char *text;              /* NULL = unset (workspace) */
    double num;
    bool is_num;
} rs_pval_t;

typedef struct {
    int n;
    rs_pval_t v[32];         /* common params first, then report params (registry order) */
} rs_pset_t;

/* Validates `in` against the report's parameters and resolves defaults
 * (data_min/data_max = MIN/MAX(usage_date), NULL when there is no data).
 * 0, or RS_E_INVALID with the exact message in err. */
int rs_params_resolve (const rs_registry_t *reg, const rs_report_t *rep, const rs_param_t *in, size_t nin,
                       const char *data_min, const char *data_max, db_t *db, rs_pset_t *out,
                       char *err, size_t errsz);
void rs_params_clear (rs_pset_t *ps);
const rs_pval_t *rs_params_get (const rs_pset_t *ps, const char *name);
/* Canonical "k=v\n" text of the resolved set (cache key input). */
int rs_params_canonical (const rs_pset_t *ps, buf_t *out);

/* ====================================================================== */
/* engine internals used by several files                                  */
/* ====================================================================== */
/* Scope for names "th.*", "param.*", "report.*" (root of every chain). */
typedef struct {
    const rs_registry_t *reg;
    const rs_report_t *rep;
    const rs_pset_t *params;
    json_t *measures;        /* object name -> value (JSON), may be NULL */
} rs_globals_t;
int rs_globals_lookup (void *ud, const char *name, rs_value_t *out);
int rs_globals_call (void *ud, const char *fn, const rs_value_t *args, int nargs, rs_arena_t *arena,
                     rs_value_t *out, char *err, size_t errsz);

/* Renders an rs_text_t into out. 0 or -1 (err). */
int rs_text_render (const rs_text_t *t, const rs_scope_t *scope, rs_arena_t *arena, buf_t *out,
                    char *err, size_t errsz);

/* Builds the selections (with their chips) of one report run. */
int rs_build_selections (const rs_registry_t *reg, const rs_report_t *rep, const rs_table_t *rows,
                         const rs_scope_t *globals, rs_arena_t *arena, json_t *out_array,
                         char *err, size_t errsz);
/* Chips of one selection: report chips then core chips, de-duplicated by
 * id, ordered by lane. `payload` is the selection's payload object. */
int rs_build_chips (const rs_registry_t *reg, const rs_report_t *rep, const char *entity_type,
                    const char *entity_id, const char *entity_name, const char *label, json_t *payload,
                    const rs_scope_t *globals, rs_arena_t *arena, json_t *out_array, char *err,
                    size_t errsz);
/* Evaluates a pick (filter, stable sort, limit) over the rows; fills idx
 * (capacity rows->nrows) and returns the count, or -1 (err). */
long rs_pick_rows (const rs_pick_t *pick, const rs_table_t *rows, const rs_scope_t *globals,
                   rs_arena_t *arena, size_t *idx, char *err, size_t errsz);
/* Stable sort of idx[0..n) by orders. 0 or -1. */
int rs_sort_rows (const rs_order_t *order, int norder, const rs_table_t *rows, const rs_scope_t *globals,
                  rs_arena_t *arena, size_t *idx, size_t n, char *err, size_t errsz);
/* Evaluates an optional limit expression: -1 = none. */
long rs_eval_limit (const rs_expr_t *limit, const rs_scope_t *scope, rs_arena_t *arena, char *err,
                    size_t errsz);

/* ---- cache ------------------------------------------------------------ */
typedef struct _rs_cache_t rs_cache_t;
rs_cache_t *rs_cache_new (size_t capacity);
void rs_cache_destroy (rs_cache_t **self_p);
/* Borrowed reference or NULL. A hit moves the entry to the front. */
json_t *rs_cache_get (rs_cache_t *self, const char *key);
/* Stores a new reference to value (evicting the least recently used). */
int rs_cache_put (rs_cache_t *self, const char *key, json_t *value);
void rs_cache_clear (rs_cache_t *self);
size_t rs_cache_size (const rs_cache_t *self);

/* ---- entity facts (rs_facts.c) ---------------------------------------- */
int rs_facts_build (rs_engine_t *eng, db_t *db, const rs_registry_t *reg, const char *entity_type,
                    const char *entity_id, const rs_pset_t *params, json_t *out, char *err,
                    size_t errsz);
/* Engine hooks used by rs_facts.c */
int rs_engine__anomalies (rs_engine_t *self, const rs_param_t *params, size_t nparams, json_t **out);
/* Rollup variants allowed (fast mode not OFF) and current. */
bool rs_engine__fast_allowed (rs_engine_t *self);
/* The anomalies of one entity (same objects and figures as the entity's
 * entries of rs_engine__anomalies), computed from that entity's rows only. */
int rs_engine__entity_anomalies (rs_engine_t *self, const char *entity_id, const rs_param_t *params, size_t nparams,
                                 json_t **out);

#endif
