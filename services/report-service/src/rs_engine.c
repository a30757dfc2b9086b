/* rs_engine.c — the report engine: registry-driven report runs.
 *
 * One rs_engine_t owns a read-only db_t (common/db.h), the compiled
 * registry, an LRU result cache and an arena for per-run temporaries. A run:
 *   1. validate and resolve the parameters (rs_params.c);
 *   2. compute the data version (data_version table, or a fingerprint of the
 *      reference tables when it is absent) and look the result up in the
 *      cache under sha256(report \n params \n data version);
 *   3. run the report's SQL and extra SQL with every :name parameter bound
 *      (:from :to :workspace :as_of, :th_<threshold>, :<report param>) —
 *      values are always bound, never pasted into SQL. When the registry
 *      declares a rollup variant ("sql_fast", per report and per extra) and
 *      the DB's report rollups (rs_* tables, sql/refresh/derived.sql) were
 *      built for the current data_version and are exact (rs_rollup_state),
 *      the variant runs instead: same columns, same order, same figures,
 *      read from pre-aggregated rows (an optional "sql_fast_guard" query
 *      decides per parameter set). Otherwise — raw fixture, stale or inexact
 *      rollups — the raw SQL, which stays the definition, runs;
 *   4. run the anomaly detector when the registry asks (postprocess);
 *   5. computed columns, measures (in order; later ones may use earlier
 *      ones), KPIs, banners, tables, the Vega-Lite chart with its data
 *      inlined, and the selections with their chips (rs_chips.c);
 *   6. assemble the JSON result (key order fixed, see rs_engine.h).
 * Everything is deterministic: SQL orders have explicit tie-breaks, sorts are
 * stable, no clock or randomness is read. Single-threaded by contract.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "rs_forecast.h"
#include "rs_internal.h"
#include "str.h"

struct _rs_engine_t {
    db_t *db;
    char *db_path;
    rs_registry_t *reg;
    rs_cache_t *cache;
    unsigned long hits, misses;
    rs_arena_t arena;
    char err[RS_ERRSZ];
    /* data version memo */
    char version[160];
    bool have_version;
    char data_min[16], data_max[16];
    bool have_minmax;
    long long stamp[6];
    /* rollup variants: -1 unknown, 0 not usable, 1 current and exact */
    int rollups;
    rs_fast_mode_t fast_mode;
    const char *last_variant;
};

const char *
rs_strerror (int code)
{
    switch (code) {
    case RS_OK: return "ok";
    case RS_E_INVALID: return "invalid argument";
    case RS_E_NOTFOUND: return "not found";
    case RS_E_DB: return "database error";
    case RS_E_REGISTRY: return "report registry error";
    case RS_E_NOMEM: return "out of memory";
    case RS_E_UNIMPLEMENTED: return "not implemented";
    case RS_E_TOOBIG: return "size limit reached";
    default: return "unknown error";
    }
}

static int
s_fail (rs_engine_t *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (e->err, sizeof e->err, fmt, ap);
    va_end (ap);
    return code;
}

const char *
rs_engine_error (rs_engine_t *self)
{
    return self ? self->err : "no engine";
}

rs_engine_t *
rs_engine_new (const char *db_path, const rs_options_t *opts, char *err, size_t errsz)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errsz = sizeof dummy;
    }
    if (!db_path || !db_path[0]) {
        snprintf (err, errsz, "no database path");
        return NULL;
    }
    rs_engine_t *e = calloc (1, sizeof *e);
    if (!e) {
        snprintf (err, errsz, "out of memory");
        return NULL;
    }
    e->reg = rs_registry_load (opts ? opts->registry_dir : NULL, err, errsz);
    if (!e->reg)
        goto fail;
    const char *why = NULL;
    e->db = db_open (db_path, DB_READONLY, 5000, &why);
    if (!e->db) {
        snprintf (err, errsz, "cannot open %s read-only: %s", db_path, why ? why : "unknown error");
        goto fail;
    }
    e->db_path = str_dup (db_path);
    e->rollups = -1;
    e->fast_mode = RS_FAST_AUTO;
    e->last_variant = "raw";
    e->cache = rs_cache_new (opts && opts->cache_entries ? opts->cache_entries : 64);
    if (!e->db_path || !e->cache) {
        snprintf (err, errsz, "out of memory");
        goto fail;
    }
    return e;
fail:
    rs_engine_destroy (&e);
    return NULL;
}

void
rs_engine_destroy (rs_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rs_engine_t *e = *self_p;
    rs_cache_destroy (&e->cache);
    db_close (&e->db);
    rs_registry_destroy (&e->reg);
    rs_arena_clear (&e->arena);
    free (e->db_path);
    free (e);
    *self_p = NULL;
}

/* ---- data version ------------------------------------------------------ */
static void
s_stamp (rs_engine_t *e, long long st[6])
{
    struct stat sb;
    char wal[1100];
    memset (st, 0, sizeof (long long) * 6);
    if (stat (e->db_path, &sb) == 0) {
        st[0] = (long long) sb.st_size;
        st[1] = (long long) sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    }
    if (str_fmt (wal, sizeof wal, "%s-wal", e->db_path) == 0 && stat (wal, &sb) == 0) {
        st[2] = (long long) sb.st_size;
        st[3] = (long long) sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    }
    int64_t dv = 0;
    if (db_query_i64 (e->db, "PRAGMA data_version", &dv) == 0)
        st[4] = (long long) dv;
}

static bool
s_table_exists (rs_engine_t *e, const char *name)
{
    sqlite3_stmt *st = db_prepare (e->db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1");
    if (!st)
        return false;
    sqlite3_bind_text (st, 1, name, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_reset (st);
    return ok;
}

const char *
rs_engine_data_version (rs_engine_t *e)
{
    long long st[6];
    s_stamp (e, st);
    if (e->have_version && memcmp (st, e->stamp, sizeof st) == 0)
        return e->version;
    e->have_version = false;
    e->have_minmax = false;
    e->rollups = -1;
    if (s_table_exists (e, "data_version")) {
        sqlite3_stmt *s = db_prepare (e->db, "SELECT version, COALESCE(updated_at, '') FROM data_version WHERE id = 1");
        if (!s) {
            s_fail (e, RS_E_DB, "data version: %s", db_errmsg (e->db));
            return NULL;
        }
        int rc = sqlite3_step (s);
        if (rc == SQLITE_ROW)
            snprintf (e->version, sizeof e->version, "v%lld@%s", (long long) sqlite3_column_int64 (s, 0),
                      (const char *) sqlite3_column_text (s, 1));
        sqlite3_reset (s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            s_fail (e, RS_E_DB, "data version: %s", db_errmsg (e->db));
            return NULL;
        }
        if (rc == SQLITE_ROW)
            goto done;
    }
    {
        /* raw reference DB: fingerprint of sizes, last rowids and cost total */
        static const char *fp_sql =
            "SELECT (SELECT COUNT(*) FROM compute_usage) || ':' || (SELECT COALESCE(MAX(rowid),0) FROM compute_usage)"
            " || ':' || (SELECT TOTAL(total_cost) FROM compute_usage) || ':' || (SELECT COUNT(*) FROM job_runs)"
            " || ':' || (SELECT COALESCE(MAX(rowid),0) FROM job_runs) || ':' || (SELECT COUNT(*) FROM events)"
            " || ':' || (SELECT COUNT(*) FROM jobs) || ':' || (SELECT COUNT(*) FROM non_job_compute)"
            " || ':' || (SELECT COUNT(*) FROM eviction_details) || ':' || (SELECT COUNT(*) FROM workspace)";
        char txt[512];
        if (db_query_text (e->db, fp_sql, txt, sizeof txt) != 0) {
            s_fail (e, RS_E_DB, "data version: %s", db_errmsg (e->db));
            return NULL;
        }
        char hex[65];
        str_sha256_hex (txt, strlen (txt), hex);
        snprintf (e->version, sizeof e->version, "fp:%.16s", hex);
    }
done:
    memcpy (e->stamp, st, sizeof st);
    e->have_version = true;
    return e->version;
}

static int
s_minmax (rs_engine_t *e)
{
    if (e->have_minmax)
        return 0;
    /* two scalar subqueries: each is one probe of idx_compute_usage_date,
     * while MIN and MAX in one SELECT scan the whole index */
    sqlite3_stmt *s = db_prepare (e->db, "SELECT (SELECT MIN(usage_date) FROM compute_usage),"
                                         " (SELECT MAX(usage_date) FROM compute_usage)");
    if (!s)
        return s_fail (e, RS_E_DB, "%s", db_errmsg (e->db));
    int rc = sqlite3_step (s);
    e->data_min[0] = e->data_max[0] = '\0';
    if (rc == SQLITE_ROW && sqlite3_column_type (s, 0) != SQLITE_NULL) {
        str_copy (e->data_min, sizeof e->data_min, (const char *) sqlite3_column_text (s, 0));
        str_copy (e->data_max, sizeof e->data_max, (const char *) sqlite3_column_text (s, 1));
    }
    sqlite3_reset (s);
    if (rc != SQLITE_ROW)
        return s_fail (e, RS_E_DB, "%s", db_errmsg (e->db));
    e->have_minmax = true;
    return 0;
}

void
rs_engine_invalidate (rs_engine_t *e)
{
    if (!e)
        return;
    rs_cache_clear (e->cache);
    e->have_version = false;
    e->have_minmax = false;
    e->rollups = -1;
}

size_t
rs_engine_cache_size (rs_engine_t *e)
{
    return e ? rs_cache_size (e->cache) : 0;
}

void
rs_engine_cache_stats (rs_engine_t *e, unsigned long *hits, unsigned long *misses)
{
    if (hits)
        *hits = e ? e->hits : 0;
    if (misses)
        *misses = e ? e->misses : 0;
}

/* ---- globals scope ----------------------------------------------------- */
static int
s_json_to_value (json_t *v, rs_value_t *out)
{
    if (json_is_array (v))
        v = json_array_get (v, 0);   /* a list measure reads as its first item */
    if (!v || json_is_null (v))
        *out = rs_vnull ();
    else if (json_is_string (v))
        *out = rs_vstr (json_string_value (v));
    else if (json_is_integer (v))
        *out = rs_vint ((int64_t) json_integer_value (v));
    else if (json_is_real (v))
        *out = rs_vnum (json_real_value (v));
    else if (json_is_boolean (v))
        *out = rs_vint (json_is_true (v));
    else
        return -1;
    return 0;
}

int
rs_globals_lookup (void *ud, const char *name, rs_value_t *out)
{
    const rs_globals_t *g = ud;
    if (strncmp (name, "th.", 3) == 0) {
        double v = rs_registry_threshold (g->reg, name + 3);
        if (isnan (v))
            return -1;
        *out = rs_vnum (v);
        out->is_int = v == nearbyint (v) && fabs (v) < 1e15;
        return 0;
    }
    if (strncmp (name, "param.", 6) == 0) {
        const rs_pval_t *p = g->params ? rs_params_get (g->params, name + 6) : NULL;
        if (!p)
            return -1;
        if (p->is_num) {
            *out = rs_vnum (p->num);
            out->is_int = p->num == nearbyint (p->num);
        } else
            *out = p->text ? rs_vstr (p->text) : rs_vnull ();
        return 0;
    }
    if (strncmp (name, "report.", 7) == 0 && g->rep) {
        const char *k = name + 7;
        const char *v = strcmp (k, "id") == 0 ? g->rep->id : strcmp (k, "title") == 0 ? g->rep->title
                      : strcmp (k, "pillar") == 0 ? g->rep->pillar : NULL;
        if (!v)
            return -1;
        *out = rs_vstr (v);
        return 0;
    }
    json_t *m = g->measures ? json_object_get (g->measures, name) : NULL;
    if (m)
        return s_json_to_value (m, out);
    return -1;
}

int
rs_globals_call (void *ud, const char *fn, const rs_value_t *args, int nargs, rs_arena_t *arena,
                 rs_value_t *out, char *err, size_t errsz)
{
    (void) arena;
    const rs_globals_t *g = ud;
    if (strcmp (fn, "in_measure") == 0) {
        if (nargs != 2 || args[1].type != RS_VSTR) {
            snprintf (err, errsz, "in_measure(value, 'measure name') expected");
            return -2;
        }
        json_t *m = g->measures ? json_object_get (g->measures, args[1].str) : NULL;
        bool found = false;
        size_t i;
        json_t *it;
        if (json_is_array (m) && args[0].type == RS_VSTR)
            json_array_foreach (m, i, it)
                if (json_is_string (it) && strcmp (json_string_value (it), args[0].str) == 0)
                    found = true;
        *out = rs_vint (found);
        return 0;
    }
    return -1;
}

/* ---- SQL ---------------------------------------------------------------- */
static int
s_bind (rs_engine_t *e, sqlite3_stmt *st, const rs_pset_t *ps, const char *file)
{
    int n = sqlite3_bind_parameter_count (st);
    for (int i = 1; i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name (st, i);
        if (!name || name[0] != ':')
            return s_fail (e, RS_E_REGISTRY, "%s: parameter %d must be a :name", file, i);
        const char *k = name + 1;
        int rc;
        if (strncmp (k, "th_", 3) == 0) {
            double v = rs_registry_threshold (e->reg, k + 3);
            if (isnan (v))
                return s_fail (e, RS_E_REGISTRY, "%s: no threshold '%s' in the registry", file, k + 3);
            rc = sqlite3_bind_double (st, i, v);
        } else {
            const rs_pval_t *p = rs_params_get (ps, k);
            if (!p)
                return s_fail (e, RS_E_REGISTRY, "%s: %s is not a parameter of this report", file, name);
            if (p->is_num)
                rc = p->num == nearbyint (p->num) ? sqlite3_bind_int64 (st, i, (sqlite3_int64) p->num)
                                                  : sqlite3_bind_double (st, i, p->num);
            else if (p->text)
                rc = sqlite3_bind_text (st, i, p->text, -1, SQLITE_TRANSIENT);
            else
                rc = sqlite3_bind_null (st, i);
        }
        if (rc != SQLITE_OK)
            return s_fail (e, RS_E_DB, "%s: bind %s: %s", file, name, sqlite3_errstr (rc));
    }
    return 0;
}

static int
s_query (rs_engine_t *e, const char *sql, const char *file, const rs_pset_t *ps, rs_table_t **out)
{
    sqlite3_stmt *st = db_prepare (e->db, sql);
    if (!st)
        return s_fail (e, RS_E_DB, "%s: %s", file, db_errmsg (e->db));
    int rc = s_bind (e, st, ps, file);
    if (rc == 0) {
        char err[RS_ERRSZ];
        *out = rs_table_from_stmt (st, err, sizeof err);
        if (!*out)
            rc = s_fail (e, RS_E_DB, "%s: %s", file, err);
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return rc;
}

/* ---- rollup variants ---------------------------------------------------- */
bool
rs_engine_rollups_current (rs_engine_t *e)
{
    if (!e || !rs_engine_data_version (e))
        return false;
    if (e->rollups >= 0)
        return e->rollups == 1;
    e->rollups = 0;
    if (s_table_exists (e, "rs_rollup_state") && s_table_exists (e, "data_version")) {
        int64_t ok = 0;
        if (db_query_i64 (e->db,
                          "SELECT COALESCE((SELECT s.exact = 1 AND s.built_for_version = v.version"
                          " AND s.layout = " RS_STR (RS_ROLLUP_LAYOUT)
                          " FROM rs_rollup_state s, data_version v WHERE s.id = 1 AND v.id = 1), 0)",
                          &ok)
                == 0
            && ok == 1)
            e->rollups = 1;
    }
    return e->rollups == 1;
}

void
rs_engine_set_fast_mode (rs_engine_t *e, rs_fast_mode_t mode)
{
    if (e)
        e->fast_mode = mode;
}

bool
rs_engine__fast_allowed (rs_engine_t *e)
{
    return e && e->fast_mode != RS_FAST_OFF && rs_engine_rollups_current (e);
}

const char *
rs_engine_last_variant (rs_engine_t *e)
{
    return e ? e->last_variant : "raw";
}

/* Whether this run may use the report's rollup variant: declared, allowed,
 * rollups current and exact, and the guard (if any) returns 1 for the
 * bound parameters. */
static int
s_use_fast (rs_engine_t *e, const rs_report_t *rep, const rs_pset_t *ps, bool *fast)
{
    *fast = false;
    if (!rep->sql_fast || e->fast_mode == RS_FAST_OFF || !rs_engine_rollups_current (e))
        return 0;
    if (!rep->fast_guard) {
        *fast = true;
        return 0;
    }
    sqlite3_stmt *st = db_prepare (e->db, rep->fast_guard);
    if (!st)
        return s_fail (e, RS_E_REGISTRY, "report %s: sql_fast_guard: %s", rep->id, db_errmsg (e->db));
    int rc = s_bind (e, st, ps, "sql_fast_guard");
    if (rc == 0) {
        int s = sqlite3_step (st);
        if (s == SQLITE_ROW)
            *fast = sqlite3_column_int (st, 0) == 1;
        else if (s != SQLITE_DONE)
            rc = s_fail (e, RS_E_DB, "report %s: sql_fast_guard: %s", rep->id, db_errmsg (e->db));
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return rc;
}

/* A "where" that is one bare column name ("is_anomaly") is that cell's
 * truth on every row: the column index, or -1 for any other expression
 * (the interpreter then runs as usual). Same result as rs_expr_truth: the
 * row scope answers a column name before any outer scope. */
static int
s_column_predicate (const rs_expr_t *where, const rs_table_t *t)
{
    const char *src = where ? rs_expr_source (where) : NULL;
    if (!src || !src[0] || !(src[0] == '_' || (src[0] >= 'a' && src[0] <= 'z') || (src[0] >= 'A' && src[0] <= 'Z')))
        return -1;
    for (const char *p = src; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return -1;
    if (strcmp (src, "true") == 0 || strcmp (src, "false") == 0 || strcmp (src, "null") == 0 ||
        strcmp (src, "row_index") == 0)
        return -1;
    return rs_table_col (t, src);
}

/* ---- run globals with an in_measure memo ---------------------------------
 * in_measure(value, 'measure') scans the measure's JSON array on every call;
 * a row pass over a detector series asks it once per row, with rows grouped
 * by entity, so the answer for the previous value is kept (same array, same
 * text). The memo is dropped whenever the measures object changes
 * (s_globals_forget). g must stay the first member: rs_globals_lookup and
 * rs_globals_call take the scope's user data as an rs_globals_t. */
typedef struct {
    rs_globals_t g;
    const json_t *arr;     /* measure array of the memoized answer, NULL = none */
    const char *name_ptr;  /* the measure-name argument it came from (a literal of a compiled expression) */
    const char *last_ptr;  /* the value argument's address (table cells of equal text share one copy) */
    char last[128];        /* the value it was asked for */
    bool found;
} runglobals_t;

static void
s_globals_forget (runglobals_t *rg)
{
    rg->arr = NULL;
    rg->name_ptr = NULL;
    rg->last_ptr = NULL;
}

static int
s_globals_call_memo (void *ud, const char *fn, const rs_value_t *args, int nargs, rs_arena_t *arena, rs_value_t *out,
                     char *err, size_t errsz)
{
    runglobals_t *rg = ud;
    if (strcmp (fn, "in_measure") == 0 && nargs == 2 && args[0].type == RS_VSTR && args[1].type == RS_VSTR &&
        rg->g.measures) {
        if (rg->arr && args[1].str == rg->name_ptr && args[0].str == rg->last_ptr) {
            *out = rs_vint (rg->found); /* same measure literal, same cell text */
            return 0;
        }
        const json_t *m = args[1].str == rg->name_ptr && rg->arr ? rg->arr
                                                                 : json_object_get (rg->g.measures, args[1].str);
        size_t len = strlen (args[0].str);
        if (json_is_array (m) && len < sizeof rg->last) {
            rg->name_ptr = args[1].str;
            rg->last_ptr = args[0].str;
            if (m != rg->arr || strcmp (rg->last, args[0].str) != 0) {
                size_t i;
                json_t *it;
                bool found = false;
                json_array_foreach (m, i, it)
                    if (json_is_string (it) && strcmp (json_string_value (it), args[0].str) == 0)
                        found = true;
                memcpy (rg->last, args[0].str, len + 1);
                rg->arr = m;
                rg->found = found;
            }
            *out = rs_vint (rg->found);
            return 0;
        }
    }
    return rs_globals_call (&rg->g, fn, args, nargs, arena, out, err, errsz);
}

/* ---- detector ----------------------------------------------------------- */
typedef struct {
    const rs_table_t *t;
    int ce, cd;
} grpctx_t;

static int
s_detect (rs_engine_t *e, const rs_report_t *rep, rs_table_t *t, const rs_scope_t *gs)
{
    char err[RS_ERRSZ] = "";
    int ce = rs_table_col (t, rep->det_entity), cd = rs_table_col (t, rep->det_date),
        cv = rs_table_col (t, rep->det_value);
    if (ce < 0 || cd < 0 || cv < 0)
        return s_fail (e, RS_E_REGISTRY, "report %s: detector columns %s/%s/%s not in the result", rep->id,
                       rep->det_entity, rep->det_date, rep->det_value);
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    rs_value_t v;
    if (rs_expr_eval (rep->det_z, gs, &e->arena, &v, err, sizeof err) != 0 || v.type != RS_VNUM)
        return s_fail (e, RS_E_REGISTRY, "report %s: z_threshold: %s", rep->id, err);
    o.z_threshold = v.num;
    if (rs_expr_eval (rep->det_minh, gs, &e->arena, &v, err, sizeof err) != 0 || v.type != RS_VNUM)
        return s_fail (e, RS_E_REGISTRY, "report %s: min_history: %s", rep->id, err);
    o.min_history = (int) v.num;
    if (rs_expr_eval (rep->det_window, gs, &e->arena, &v, err, sizeof err) != 0 || v.type != RS_VNUM)
        return s_fail (e, RS_E_REGISTRY, "report %s: window: %s", rep->id, err);
    o.window = (int) v.num;
    o.rolling = rep->det_rolling;
    double cz = rs_registry_threshold (e->reg, "anomaly_critical_z"), hz = rs_registry_threshold (e->reg, "anomaly_high_z"),
           mz = rs_registry_threshold (e->reg, "anomaly_medium_z");
    if (!isnan (cz))
        o.critical_z = cz;
    if (!isnan (hz))
        o.high_z = hz;
    if (!isnan (mz))
        o.medium_z = mz;

    static const char *names[] = {"anomaly_value", "anomaly_expected", "z_score", "severity", "pct_deviation",
                                  "expected_min", "expected_max", "is_anomaly"};
    static const char *types[] = {"real", "real", "real", "text", "real", "real", "real", "integer"};
    int cols[8];
    for (int i = 0; i < 8; i++)
        if ((cols[i] = rs_table_add_col (t, names[i], types[i])) < 0)
            return s_fail (e, RS_E_NOMEM, "out of memory");
    size_t n = t->nrows;
    /* rows are grouped by entity in date order (SQL ORDER BY entity, date);
     * check it rather than trust it */
    /* is_anomaly = 0 everywhere first (a plain store: the column is typed
     * "integer" already and the value holds no text for the arena) */
    for (size_t r = 0; r < n; r++)
        *rs_table_cell (t, r, cols[7]) = rs_vint (0);
    double *vals = malloc (sizeof *vals * (n ? n : 1));
    rs_anomaly_t *an = malloc (sizeof *an * (n ? n : 1));
    if (!vals || !an) {
        free (vals);
        free (an);
        return s_fail (e, RS_E_NOMEM, "out of memory");
    }
    /* rows non-decreasing by entity are grouped by construction (the SQL
     * orders by entity, date): then the per-group search for a later
     * repeat of the entity, O(rows x entities), is skipped */
    bool sorted = true;
    for (size_t r = 1; r < n && sorted; r++)
        if (rs_value_cmp (rs_table_cell_c (t, r, ce), rs_table_cell_c (t, r - 1, ce)) < 0)
            sorted = false;
    size_t start = 0;
    int rc = 0;
    while (start < n && rc == 0) {
        const rs_value_t *ent = rs_table_cell_c (t, start, ce);
        size_t end = start + 1;
        while (end < n && rs_value_cmp (rs_table_cell_c (t, end, ce), ent) == 0)
            end++;
        for (size_t r = start; r < end; r++) {
            const rs_value_t *x = rs_table_cell_c (t, r, cv);
            vals[r - start] = x->type == RS_VNUM ? x->num : NAN;
            if (r > start && rs_value_cmp (rs_table_cell_c (t, r, cd), rs_table_cell_c (t, r - 1, cd)) <= 0)
                rc = s_fail (e, RS_E_REGISTRY, "report %s: detector input not ordered by %s, %s", rep->id,
                             rep->det_entity, rep->det_date);
        }
        for (size_t r = end; !sorted && r < n && rc == 0; r++)
            if (rs_value_cmp (rs_table_cell_c (t, r, ce), ent) == 0)
                rc = s_fail (e, RS_E_REGISTRY, "report %s: detector input not grouped by %s", rep->id,
                             rep->det_entity);
        if (rc)
            break;
        int found = rs_anomaly_scan (vals, end - start, &o, an, end - start);
        if (found < 0) {
            rc = s_fail (e, RS_E_INVALID, "anomaly detector: invalid options");
            break;
        }
        for (int k = 0; k < found; k++) {
            size_t r = start + an[k].index;
            rs_table_set (t, r, cols[0], rs_vnum (an[k].value));
            rs_table_set (t, r, cols[1], rs_vnum (an[k].expected));
            rs_table_set (t, r, cols[2], rs_vnum (an[k].z));
            rs_table_set (t, r, cols[3], rs_vstr (rs_severity_name (an[k].severity)));
            rs_table_set (t, r, cols[4], rs_vnum (an[k].pct_deviation));
            rs_table_set (t, r, cols[5], rs_vnum (an[k].expected_low));
            rs_table_set (t, r, cols[6], rs_vnum (an[k].expected_high));
            rs_table_set (t, r, cols[7], rs_vint (1));
        }
        start = end;
    }
    free (vals);
    free (an);
    return rc;
}

/* ---- forecaster ---------------------------------------------------------- */
static int
s_forecast_post (rs_engine_t *e, const rs_report_t *rep, rs_table_t *t, const rs_scope_t *gs)
{
    char err[RS_ERRSZ] = "";
    int cd = rs_table_col (t, rep->det_date), cv = rs_table_col (t, rep->det_value);
    if (cd < 0 || cv < 0)
        return s_fail (e, RS_E_REGISTRY, "report %s: forecaster columns %s/%s not in the result", rep->id, rep->det_date,
                       rep->det_value);
    rs_value_t v;
    if (rs_expr_eval (rep->fc_horizon, gs, &e->arena, &v, err, sizeof err) != 0 || v.type != RS_VNUM || v.num < 1 ||
        v.num > 3660)
        return s_fail (e, RS_E_REGISTRY, "report %s: horizon: %s", rep->id, err[0] ? err : "not a positive number");
    int horizon = (int) v.num;
    if (rs_expr_eval (rep->fc_backtest, gs, &e->arena, &v, err, sizeof err) != 0 || v.type != RS_VNUM || v.num < 0)
        return s_fail (e, RS_E_REGISTRY, "report %s: backtest_days: %s", rep->id, err[0] ? err : "not a number");
    size_t hold = (size_t) v.num;
    int ck = rs_table_add_col (t, "kind", "text"), cf = rs_table_add_col (t, "forecast_usd", "real"),
        cb = rs_table_add_col (t, "backtest_forecast_usd", "real");
    if (ck < 0 || cf < 0 || cb < 0)
        return s_fail (e, RS_E_NOMEM, "out of memory");
    size_t n = t->nrows;
    double *vals = malloc (sizeof *vals * (n ? n : 1));
    double *fc = malloc (sizeof *fc * (size_t) (horizon > (int) hold ? horizon : (int) hold + 1));
    if (!vals || !fc) {
        free (vals);
        free (fc);
        return s_fail (e, RS_E_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < n; r++) {
        const rs_value_t *x = rs_table_cell_c (t, r, cv);
        vals[r] = x->type == RS_VNUM ? x->num : 0.0;
        rs_table_set (t, r, ck, rs_vstr ("history"));
    }
    int rc = 0;
    /* backtest: fit on all but the last `hold` points, forecast them */
    if (hold >= 1 && n >= hold + RS_FORECAST_MIN_POINTS && rs_forecast (vals, n - hold, (int) hold, fc) == 0)
        for (size_t k = 0; k < hold; k++)
            rs_table_set (t, n - hold + k, cb, rs_vnum (fc[k]));
    /* the forecast proper, as new rows after the last date */
    int64_t last = 0;
    const rs_value_t *ld = n ? rs_table_cell_c (t, n - 1, cd) : NULL;
    if (n >= RS_FORECAST_MIN_POINTS && ld && ld->type == RS_VSTR && clock_parse_date (ld->str, &last) == 0 &&
        rs_forecast (vals, n, horizon, fc) == 0) {
        for (int d = 1; d <= horizon && rc == 0; d++) {
            char date[16];
            long r = rs_table_add_row (t);
            if (r < 0 || clock_format_date (last + d, date, sizeof date) != 0) {
                rc = s_fail (e, RS_E_NOMEM, "out of memory");
                break;
            }
            rs_table_set (t, (size_t) r, cd, rs_vstr (date));
            rs_table_set (t, (size_t) r, ck, rs_vstr ("forecast"));
            rs_table_set (t, (size_t) r, cf, rs_vnum (fc[d - 1]));
        }
    }
    free (vals);
    free (fc);
    return rc;
}

/* ---- measures ----------------------------------------------------------- */
typedef struct {
    const char *key;
    long count;
    size_t first;
} group_t;

/* qsort context of s_strix_cmp: the value texts of the running measure
 * (a measure runs on one thread at a time: engines are per thread). */
static _Thread_local const char *const *s_sort_strs;

/* Indexes into s_sort_strs by text, then by index. */
static int
s_strix_cmp (const void *a, const void *b)
{
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    int c = strcmp (s_sort_strs[x], s_sort_strs[y]);
    return c ? c : (x < y ? -1 : x > y);
}

static int
s_group_cmp (const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp (x->key, y->key);
}

static int
s_measure (rs_engine_t *e, const rs_measure_t *m, const rs_table_t *t, const rs_scope_t *gs, json_t **out)
{
    char err[RS_ERRSZ] = "";
    rs_arena_t *ar = &e->arena;
    if (m->agg == RS_AGG_EXPR) {
        rs_value_t v;
        if (rs_expr_eval (m->expr, gs, ar, &v, err, sizeof err) != 0)
            return s_fail (e, RS_E_REGISTRY, "measure %s: %s", m->name, err);
        *out = rs_value_json (&v);
        return 0;
    }
    size_t n = t ? t->nrows : 0;
    double *nums = malloc (sizeof *nums * (n ? n : 1));
    const char **strs = malloc (sizeof *strs * (n ? n : 1));
    buf_t *b = buf_new (RS_TEXT_CAP);
    size_t nn = 0, ns = 0;
    long count = 0;
    bool all_int = true, have_first = false;
    rs_value_t first = rs_vnull ();
    int rc = 0;
    /* only the grouping aggregates read the values as text */
    bool want_text = m->agg == RS_AGG_COUNT_DISTINCT || m->agg == RS_AGG_JOIN || m->agg == RS_AGG_TOP_GROUPS;
    if (!nums || !strs || !b) {
        rc = s_fail (e, RS_E_NOMEM, "out of memory");
        goto done;
    }
    rs_rowctx_t memo;
    rs_rowctx_init (&memo, t, 0);
    rs_scope_t sc = {rs_row_lookup, NULL, &memo, gs};
    int wcol = t ? s_column_predicate (m->where, t) : -1;
    for (size_t r = 0; r < n; r++) {
        memo.row = r;
        if (m->where) {
            bool on;
            if (wcol >= 0)
                on = rs_value_truth (rs_table_cell_c (t, r, wcol));
            else if (rs_expr_truth (m->where, &sc, ar, &on, err, sizeof err) != 0) {
                rc = s_fail (e, RS_E_REGISTRY, "measure %s: %s", m->name, err);
                goto done;
            }
            if (!on)
                continue;
        }
        if (!m->expr) {
            count++;
            continue;
        }
        rs_value_t v;
        if (rs_expr_eval (m->expr, &sc, ar, &v, err, sizeof err) != 0) {
            rc = s_fail (e, RS_E_REGISTRY, "measure %s: %s", m->name, err);
            goto done;
        }
        if (!have_first) {
            first = v;
            have_first = true;
        }
        if (v.type == RS_VNULL || (v.type == RS_VNUM && isnan (v.num)))
            continue;
        count++;
        if (v.type == RS_VNUM) {
            nums[nn++] = v.num;
            all_int = all_int && v.is_int;
        }
        if (!want_text)
            continue;
        buf_reset (b);
        rs_format_value (&v, "", b, NULL, 0);
        const char *s = rs_arena_strndup (ar, buf_data (b), buf_len (b));
        if (!s) {
            rc = s_fail (e, RS_E_NOMEM, "out of memory");
            goto done;
        }
        strs[ns++] = s;
    }
    switch (m->agg) {
    case RS_AGG_COUNT:
        *out = json_integer (count);
        break;
    case RS_AGG_SUM: {
        double s = rs_pairwise_sum (nums, nn);
        *out = all_int && fabs (s) < 9e15 ? json_integer ((json_int_t) s) : json_real (s);
        break;
    }
    case RS_AGG_MEAN:
        if (nn == 0)
            *out = m->has_empty ? json_real (m->empty) : json_null ();
        else
            *out = json_real (rs_pairwise_sum (nums, nn) / (double) nn);
        break;
    case RS_AGG_MAX:
    case RS_AGG_MIN: {
        if (nn == 0) {
            *out = m->has_empty ? json_real (m->empty) : json_null ();
            break;
        }
        double best = nums[0];
        for (size_t i = 1; i < nn; i++)
            best = m->agg == RS_AGG_MAX ? (nums[i] > best ? nums[i] : best) : (nums[i] < best ? nums[i] : best);
        rs_value_t v = rs_vnum (best);
        v.is_int = all_int;
        *out = rs_value_json (&v);
        break;
    }
    case RS_AGG_FIRST:
        *out = rs_value_json (&first);
        break;
    case RS_AGG_COUNT_DISTINCT:
    case RS_AGG_JOIN:
    case RS_AGG_TOP_GROUPS: {
        /* distinct values with counts and first appearance: the values'
         * indexes sorted by (text, index), then one group per run of equal
         * texts (O(n log n); the result does not depend on the sort) */
        group_t *g = calloc (ns ? ns : 1, sizeof *g);
        size_t *ord = malloc (sizeof *ord * (ns ? ns : 1));
        size_t ng = 0;
        if (!g || !ord) {
            free (g);
            free (ord);
            rc = s_fail (e, RS_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < ns; i++)
            ord[i] = i;
        s_sort_strs = strs;
        qsort (ord, ns, sizeof *ord, s_strix_cmp);
        for (size_t i = 0; i < ns; i++) {
            if (ng == 0 || strcmp (g[ng - 1].key, strs[ord[i]]) != 0) {
                g[ng].key = strs[ord[i]];
                g[ng].first = ord[i];  /* smallest index of the run */
                ng++;
            }
            g[ng - 1].count++;
        }
        free (ord);
        if (m->agg == RS_AGG_COUNT_DISTINCT)
            *out = json_integer ((json_int_t) ng);
        else if (m->agg == RS_AGG_JOIN) {
            buf_reset (b);
            for (size_t i = 0; i < ns; i++)
                buf_printf (b, "%s%s", i ? m->sep : "", strs[i]);
            *out = json_string (buf_data (b));
        } else {
            qsort (g, ng, sizeof *g, s_group_cmp);
            *out = json_array ();
            for (size_t k = 0; k < ng && (m->limit < 0 || k < (size_t) m->limit); k++)
                json_array_append_new (*out, json_string (g[k].key));
        }
        free (g);
        break;
    }
    default:
        *out = json_null ();
        break;
    }
done:
    free (nums);
    free (strs);
    buf_destroy (&b);
    return rc;
}

/* ---- KPI formatting ------------------------------------------------------ */
static int
s_kpi_text (json_t *v, const char *format, buf_t *out)
{
    rs_value_t x;
    if (s_json_to_value (v, &x) != 0 || x.type != RS_VNUM)
        return buf_puts (out, "n/a");
    struct { const char *f, *prefix, *spec, *suffix; } map[] = {
        {"usd0", "$", ",.0f", ""}, {"usd2", "$", ",.2f", ""}, {"pct0", "", ".0f", "%"},
        {"pct1", "", ".1f", "%"}, {"int", "", "d", ""}, {"num1", "", ".1f", ""}, {"num2", "", ".2f", ""}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp (map[i].f, format) == 0) {
            int rc = buf_puts (out, map[i].prefix);
            if (rc == 0)
                rc = rs_format_value (&x, map[i].spec, out, NULL, 0);
            if (rc == 0)
                rc = buf_puts (out, map[i].suffix);
            return rc;
        }
    return rs_format_value (&x, "", out, NULL, 0);
}

/* ---- chart directives ---------------------------------------------------- */
typedef struct {
    rs_engine_t *e;
    const rs_scope_t *gs;
    const rs_table_t *rows;
    const rs_report_t *rep;
    const char *const *xnames;
    rs_table_t *const *xtables;
    int nx;
    json_t *measures;
} chartctx_t;

static json_t *s_chart_walk (chartctx_t *c, json_t *node, int *rc);

static json_t *
s_chart_data (chartctx_t *c, json_t *spec, int *rc)
{
    char err[RS_ERRSZ] = "";
    const char *src = json_string_value (json_object_get (spec, "source"));
    const rs_table_t *t = NULL;
    if (!src || strcmp (src, "rows") == 0)
        t = c->rows;
    for (int i = 0; !t && i < c->nx; i++)
        if (strcmp (c->xnames[i], src) == 0)
            t = c->xtables[i];
    if (!t) {
        *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $data source '%s' unknown", c->rep->id, src);
        return NULL;
    }
    long limit = -1;
    json_t *lim = json_object_get (spec, "limit");
    if (json_is_integer (lim))
        limit = (long) json_integer_value (lim);
    else if (json_is_string (lim)) {
        rs_expr_t *x = rs_expr_compile (json_string_value (lim), err, sizeof err);
        limit = x ? rs_eval_limit (x, c->gs, &c->e->arena, err, sizeof err) : -2;
        rs_expr_destroy (&x);
        if (limit == -2) {
            *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $data limit: %s", c->rep->id, err);
            return NULL;
        }
    }
    rs_expr_t *where = NULL;
    const char *ws = json_string_value (json_object_get (spec, "where"));
    if (ws && !(where = rs_expr_compile (ws, err, sizeof err))) {
        *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $data where: %s", c->rep->id, err);
        return NULL;
    }
    json_t *fields = json_object_get (spec, "fields");
    int nf = (int) json_array_size (fields);
    const char **fv = calloc ((size_t) (nf ? nf : 1), sizeof *fv);
    json_t *arr = json_array ();
    if (!fv || !arr) {
        free (fv);
        json_decref (arr);
        rs_expr_destroy (&where);
        *rc = s_fail (c->e, RS_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < nf; i++)
        fv[i] = json_string_value (json_array_get (fields, (size_t) i));
    long taken = 0;
    rs_rowctx_t memo;
    rs_rowctx_init (&memo, t, 0);
    rs_scope_t sc = {rs_row_lookup, NULL, &memo, c->gs};
    for (size_t r = 0; r < t->nrows && (limit < 0 || taken < limit); r++) {
        if (where) {
            memo.row = r;
            bool on;
            if (rs_expr_truth (where, &sc, &c->e->arena, &on, err, sizeof err) != 0) {
                *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $data where: %s", c->rep->id, err);
                break;
            }
            if (!on)
                continue;
        }
        json_array_append_new (arr, rs_table_row_json (t, r, nf ? fv : NULL, nf));
        taken++;
    }
    free (fv);
    rs_expr_destroy (&where);
    if (*rc) {
        json_decref (arr);
        return NULL;
    }
    return arr;
}

static json_t *
s_chart_walk (chartctx_t *c, json_t *node, int *rc)
{
    char err[RS_ERRSZ] = "";
    if (json_is_array (node)) {
        json_t *out = json_array ();
        size_t i;
        json_t *it;
        json_array_foreach (node, i, it) {
            json_t *x = s_chart_walk (c, it, rc);
            if (!x) {
                json_decref (out);
                return NULL;
            }
            json_array_append_new (out, x);
        }
        return out;
    }
    if (!json_is_object (node))
        return json_deep_copy (node);
    if (json_object_size (node) == 1) {
        json_t *d;
        if ((d = json_object_get (node, "$data")))
            return s_chart_data (c, d, rc);
        if ((d = json_object_get (node, "$tmpl"))) {
            rs_tmpl_t *t = rs_tmpl_compile (json_string_value (d), err, sizeof err);
            buf_t *b = buf_new (RS_TEXT_CAP);
            json_t *out = NULL;
            if (t && b && rs_tmpl_render (t, c->gs, &c->e->arena, b, err, sizeof err) == 0)
                out = json_string (buf_data (b));
            else
                *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $tmpl: %s", c->rep->id, err);
            rs_tmpl_destroy (&t);
            buf_destroy (&b);
            return out;
        }
        if ((d = json_object_get (node, "$expr"))) {
            rs_expr_t *x = rs_expr_compile (json_string_value (d), err, sizeof err);
            rs_value_t v;
            json_t *out = NULL;
            if (x && rs_expr_eval (x, c->gs, &c->e->arena, &v, err, sizeof err) == 0)
                out = rs_value_json (&v);
            else
                *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $expr: %s", c->rep->id, err);
            rs_expr_destroy (&x);
            return out;
        }
        if ((d = json_object_get (node, "$measure"))) {
            json_t *m = json_object_get (c->measures, json_string_value (d));
            if (!m) {
                *rc = s_fail (c->e, RS_E_REGISTRY, "report %s: chart $measure '%s' unknown", c->rep->id,
                              json_string_value (d));
                return NULL;
            }
            return json_deep_copy (m);
        }
    }
    json_t *out = json_object ();
    const char *k;
    json_t *v;
    json_object_foreach (node, k, v) {
        json_t *x = s_chart_walk (c, v, rc);
        if (!x) {
            json_decref (out);
            return NULL;
        }
        json_object_set_new (out, k, x);
    }
    return out;
}

/* ---- the run ------------------------------------------------------------ */
static json_t *
s_rows_json (const rs_table_t *t)
{
    json_t *a = json_array ();
    for (size_t r = 0; a && r < t->nrows; r++)
        json_array_append_new (a, rs_table_row_json (t, r, NULL, 0));
    return a;
}

static int
s_run (rs_engine_t *e, const rs_report_t *rep, const rs_pset_t *ps, const char *dv, json_t **out)
{
    char err[RS_ERRSZ] = "";
    int rc = 0;
    rs_table_t *rows = NULL;
    rs_table_t *view = NULL;  /* rows_output scope "output": the listed rows (text borrowed from rows) */
    rs_table_t *xt[8] = {NULL};
    const char *xn[8] = {NULL};
    int nx = 0;
    json_t *measures = json_object ();
    json_t *res = json_object ();
    runglobals_t rg = {{e->reg, rep, ps, measures}, NULL, NULL, NULL, "", false};
    rs_scope_t gs = {rs_globals_lookup, s_globals_call_memo, &rg, NULL};
    buf_t *b = buf_new (RS_TEXT_CAP);
    rs_arena_clear (&e->arena);
    if (!measures || !res || !b) {
        rc = s_fail (e, RS_E_NOMEM, "out of memory");
        goto done;
    }
    bool fast = false;
    if ((rc = s_use_fast (e, rep, ps, &fast)) != 0)
        goto done;
    e->last_variant = fast ? "fast" : "raw";
    if ((rc = fast ? s_query (e, rep->sql_fast, rep->sql_fast_file, ps, &rows)
                   : s_query (e, rep->sql, rep->sql_file, ps, &rows)) != 0)
        goto done;
    for (int i = 0; i < rep->nextras && i < 8; i++) {
        const rs_extra_t *x = &rep->extras[i];
        xn[nx] = x->name;
        if ((rc = fast && x->sql_fast ? s_query (e, x->sql_fast, x->sql_fast_file, ps, &xt[nx])
                                      : s_query (e, x->sql, x->sql_file, ps, &xt[nx])) != 0)
            goto done;
        nx++;
    }
    if (rep->has_detector && (rc = s_detect (e, rep, rows, &gs)) != 0)
        goto done;
    if (rep->has_forecaster && (rc = s_forecast_post (e, rep, rows, &gs)) != 0)
        goto done;

    /* computed columns */
    for (int i = 0; i < rep->ncomputed; i++) {
        const rs_computed_t *cc = &rep->computed[i];
        int col = rs_table_add_col (rows, cc->name, "null");
        if (col < 0) {
            rc = s_fail (e, RS_E_NOMEM, "out of memory");
            goto done;
        }
        rs_rowctx_t memo;
        rs_rowctx_init (&memo, rows, 0);
        rs_scope_t sc = {rs_row_lookup, NULL, &memo, &gs};
        for (size_t r = 0; r < rows->nrows; r++) {
            memo.row = r;
            rs_value_t v;
            if (cc->is_text) {
                buf_reset (b);
                if (rs_text_render (&cc->text, &sc, &e->arena, b, err, sizeof err) != 0) {
                    rc = s_fail (e, RS_E_REGISTRY, "report %s: column %s: %s", rep->id, cc->name, err);
                    goto done;
                }
                v = rs_vstr (buf_data (b));
            } else if (rs_expr_eval (cc->expr, &sc, &e->arena, &v, err, sizeof err) != 0) {
                rc = s_fail (e, RS_E_REGISTRY, "report %s: column %s: %s", rep->id, cc->name, err);
                goto done;
            }
            if (rs_table_set (rows, r, col, v) != 0) {
                rc = s_fail (e, RS_E_NOMEM, "out of memory");
                goto done;
            }
        }
    }

    /* measures */
    for (int i = 0; i < rep->nmeasures; i++) {
        const rs_measure_t *m = &rep->measures[i];
        const rs_table_t *src = rows;
        if (m->source) {
            src = NULL;
            for (int k = 0; k < nx; k++)
                if (strcmp (xn[k], m->source) == 0)
                    src = xt[k];
        }
        json_t *v = NULL;
        if ((rc = s_measure (e, m, src, &gs, &v)) != 0)
            goto done;
        json_object_set_new (measures, m->name, v ? v : json_null ());
        s_globals_forget (&rg);
    }

    /* header */
    json_object_set_new (res, "report_id", json_string (rep->id));
    json_object_set_new (res, "title", json_string (rep->title));
    json_object_set_new (res, "pillar", json_string (rep->pillar));
    json_object_set_new (res, "description", json_string (rep->description));
    json_t *pj = json_object ();
    json_object_set_new (res, "params", pj);
    for (int i = 0; i < ps->n; i++) {
        const rs_pval_t *p = &ps->v[i];
        rs_value_t v = p->is_num ? rs_vnum (p->num) : p->text ? rs_vstr (p->text) : rs_vnull ();
        v.is_int = p->is_num && p->num == nearbyint (p->num);
        json_object_set_new (pj, p->name, rs_value_json (&v));
    }
    json_object_set_new (res, "data_version", json_string (dv));

    json_t *cols = json_array ();
    json_object_set_new (res, "columns", cols);
    for (int c = 0; c < rows->ncols; c++) {
        const char *label = json_string_value (json_object_get (rep->column_labels, rows->cols[c].name));
        json_t *co = json_pack ("{s:s, s:s, s:s}", "name", rows->cols[c].name, "type", rows->cols[c].type,
                                "label", label ? label : rows->cols[c].name);
        json_array_append_new (cols, co);
    }
    if (rep->out_where || rep->out_limit) {
        /* rows_output: the result lists a subset. Measures (above) see every
         * row; tables, chart and selections (below) too, unless the scope is
         * "output": then they read a table of the listed rows only */
        json_t *ra = json_array ();
        size_t *listed_ix = rep->out_scope_output ? malloc (sizeof *listed_ix * (rows->nrows ? rows->nrows : 1))
                                                  : NULL;
        if (rep->out_scope_output && !listed_ix) {
            json_decref (ra);
            rc = s_fail (e, RS_E_NOMEM, "out of memory");
            goto done;
        }
        long lim = rs_eval_limit (rep->out_limit, &gs, &e->arena, err, sizeof err);
        if (lim == -2) {
            json_decref (ra);
            free (listed_ix);
            rc = s_fail (e, RS_E_REGISTRY, "report %s: rows_output limit: %s", rep->id, err);
            goto done;
        }
        size_t listed = 0;
        rs_rowctx_t memo;
        rs_rowctx_init (&memo, rows, 0);
        rs_scope_t sc = {rs_row_lookup, NULL, &memo, &gs};
        for (size_t r = 0; r < rows->nrows && (lim < 0 || listed < (size_t) lim); r++) {
            if (rep->out_where) {
                memo.row = r;
                bool on;
                if (rs_expr_truth (rep->out_where, &sc, &e->arena, &on, err, sizeof err) != 0) {
                    json_decref (ra);
                    free (listed_ix);
                    rc = s_fail (e, RS_E_REGISTRY, "report %s: rows_output: %s", rep->id, err);
                    goto done;
                }
                if (!on)
                    continue;
            }
            json_array_append_new (ra, rs_table_row_json (rows, r, NULL, 0));
            if (listed_ix)
                listed_ix[listed] = r;
            listed++;
        }
        json_object_set_new (res, "rows", ra);
        json_object_set_new (res, "rows_total", json_integer ((json_int_t) rows->nrows));
        if (listed_ix) {
            view = rs_table_subset (rows, listed_ix, listed);
            free (listed_ix);
            if (!view) {
                rc = s_fail (e, RS_E_NOMEM, "out of memory");
                goto done;
            }
        }
    } else {
        json_object_set_new (res, "rows", s_rows_json (rows));
        json_object_set_new (res, "rows_total", json_integer ((json_int_t) rows->nrows));
    }

    /* KPIs */
    json_t *kpis = json_array ();
    json_object_set_new (res, "kpis", kpis);
    for (int i = 0; i < rep->nkpis; i++) {
        const rs_kpi_t *k = &rep->kpis[i];
        json_t *v = json_object_get (measures, k->measure);
        buf_reset (b);
        s_kpi_text (v, k->format, b);
        json_t *ko = json_object ();
        json_object_set_new (ko, "id", json_string (k->id));
        json_object_set_new (ko, "label", json_string (k->label));
        json_object_set_new (ko, "value", v ? json_deep_copy (v) : json_null ());
        json_object_set_new (ko, "format", json_string (k->format));
        json_object_set_new (ko, "text", json_string (buf_data (b)));
        json_array_append_new (kpis, ko);
    }

    /* banners */
    json_t *bans = json_array ();
    json_object_set_new (res, "banners", bans);
    for (int i = 0; i < rep->nbanners; i++) {
        bool on;
        if (rs_expr_truth (rep->banners[i].when, &gs, &e->arena, &on, err, sizeof err) != 0) {
            rc = s_fail (e, RS_E_REGISTRY, "report %s: banner %d: %s", rep->id, i, err);
            goto done;
        }
        if (!on)
            continue;
        buf_reset (b);
        if (rs_tmpl_render (rep->banners[i].text, &gs, &e->arena, b, err, sizeof err) != 0) {
            rc = s_fail (e, RS_E_REGISTRY, "report %s: banner %d: %s", rep->id, i, err);
            goto done;
        }
        json_array_append_new (bans, json_pack ("{s:s, s:s}", "level", rep->banners[i].level, "text", buf_data (b)));
    }

    /* tables, chart and selections: every row, or the listed ones */
    const rs_table_t *shown = view ? view : rows;
    json_t *tabs = json_array ();
    json_object_set_new (res, "tables", tabs);
    size_t *idx = malloc (sizeof *idx * (shown->nrows ? shown->nrows : 1));
    if (!idx) {
        rc = s_fail (e, RS_E_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < rep->ntables; i++) {
        const rs_tspec_t *ts = &rep->tables[i];
        rs_pick_t pk = {ts->where, ts->order, ts->norder, ts->limit};
        long n = rs_pick_rows (&pk, shown, &gs, &e->arena, idx, err, sizeof err);
        if (n < 0) {
            free (idx);
            rc = s_fail (e, RS_E_REGISTRY, "report %s: table %s: %s", rep->id, ts->id, err);
            goto done;
        }
        json_t *to = json_object ();
        json_object_set_new (to, "id", json_string (ts->id));
        json_object_set_new (to, "title", json_string (ts->title));
        json_t *tc = json_array ();
        for (int c = 0; c < ts->ncolumns; c++)
            json_array_append_new (tc, json_string (ts->columns[c]));
        json_object_set_new (to, "columns", tc);
        json_t *tr = json_array ();
        for (long k = 0; k < n; k++)
            json_array_append_new (tr, rs_table_row_json (shown, idx[k], ts->columns, ts->ncolumns));
        json_object_set_new (to, "rows", tr);
        json_array_append_new (tabs, to);
    }
    free (idx);

    /* chart */
    if (rep->chart) {
        chartctx_t cc = {e, &gs, shown, rep, xn, xt, nx, measures};
        json_t *chart = s_chart_walk (&cc, rep->chart, &rc);
        if (!chart) {
            if (rc == 0)
                rc = s_fail (e, RS_E_NOMEM, "out of memory");
            goto done;
        }
        json_object_set_new (res, "chart_spec", chart);
    } else
        json_object_set_new (res, "chart_spec", json_null ());

    /* selections + chips */
    json_t *sels = json_array ();
    json_object_set_new (res, "selections", sels);
    if (rs_build_selections (e->reg, rep, shown, &gs, &e->arena, sels, err, sizeof err) != 0) {
        rc = s_fail (e, RS_E_REGISTRY, "report %s: selections: %s", rep->id, err);
        goto done;
    }

    json_t *extra = json_object ();
    json_object_set_new (res, "extra", extra);
    for (int k = 0; k < nx; k++)
        json_object_set_new (extra, xn[k], s_rows_json (xt[k]));
    json_object_set_new (res, "measures", json_deep_copy (measures));
    json_object_set_new (res, "sql", json_string (rep->sql));
    json_object_set_new (res, "cached", json_false ());
    *out = res;
    res = NULL;
done:
    json_decref (res);
    json_decref (measures);
    rs_table_destroy (&view);
    rs_table_destroy (&rows);
    for (int k = 0; k < 8; k++)
        rs_table_destroy (&xt[k]);
    buf_destroy (&b);
    rs_arena_clear (&e->arena);
    return rc;
}

static int
s_prepare (rs_engine_t *e, const rs_report_t *rep, const rs_param_t *params, size_t nparams, rs_pset_t *ps,
           const char **dv)
{
    *dv = rs_engine_data_version (e);
    if (!*dv)
        return RS_E_DB;
    int rc = s_minmax (e);
    if (rc != 0)
        return rc;
    char err[RS_ERRSZ] = "";
    rc = rs_params_resolve (e->reg, rep, params, nparams, e->data_min[0] ? e->data_min : NULL,
                            e->data_max[0] ? e->data_max : NULL, e->db, ps, err, sizeof err);
    if (rc != 0)
        return s_fail (e, rc, "%s", err);
    return 0;
}

int
rs_engine_run (rs_engine_t *e, const char *report_id, const rs_param_t *params, size_t nparams, json_t **out)
{
    if (!e || !out)
        return RS_E_INVALID;
    *out = NULL;
    e->err[0] = '\0';
    const rs_report_t *rep = rs_registry_find (e->reg, report_id);
    if (!rep) {
        buf_t *known = buf_new (2000);
        for (int i = 0; known && i < e->reg->nreports; i++)
            if (e->reg->reports[i].available)
                buf_printf (known, "%s%s", buf_len (known) ? ", " : "", e->reg->reports[i].id);
        s_fail (e, RS_E_NOTFOUND, "report: unknown report id '%.64s' (available: %s)", report_id ? report_id : "",
                known ? buf_data (known) : "");
        buf_destroy (&known);
        return RS_E_NOTFOUND;
    }
    if (!rep->available)
        return s_fail (e, RS_E_UNIMPLEMENTED, "report %s (%s) is planned, not built yet", rep->id, rep->title);
    rs_pset_t ps;
    const char *dv;
    int rc = s_prepare (e, rep, params, nparams, &ps, &dv);
    if (rc != 0)
        return rc;
    buf_t *key = buf_new (8192);
    char hex[65];
    if (!key || buf_printf (key, "%s\n", rep->id) != 0 || rs_params_canonical (&ps, key) != 0 ||
        buf_printf (key, "%s\n", dv) != 0) {
        buf_destroy (&key);
        rs_params_clear (&ps);
        return s_fail (e, RS_E_NOMEM, "out of memory");
    }
    str_sha256_hex (buf_data (key), buf_len (key), hex);
    buf_destroy (&key);
    json_t *hit = rs_cache_get (e->cache, hex);
    if (hit) {
        e->hits++;
        rs_params_clear (&ps);
        *out = json_copy (hit);
        if (!*out)
            return s_fail (e, RS_E_NOMEM, "out of memory");
        json_object_set_new (*out, "cached", json_true ());
        return 0;
    }
    e->misses++;
    json_t *res = NULL;
    char dvcopy[160];
    str_copy (dvcopy, sizeof dvcopy, dv);
    rc = s_run (e, rep, &ps, dvcopy, &res);
    rs_params_clear (&ps);
    if (rc != 0)
        return rc;
    rs_cache_put (e->cache, hex, res);
    *out = json_copy (res);
    json_decref (res);
    if (!*out)
        return s_fail (e, RS_E_NOMEM, "out of memory");
    return 0;
}

int
rs_engine_list (rs_engine_t *e, json_t **out)
{
    if (!e || !out)
        return RS_E_INVALID;
    json_t *o = json_object (), *reps = json_array (), *lanes = json_array ();
    if (!o || !reps || !lanes) {
        json_decref (o);
        json_decref (reps);
        json_decref (lanes);
        return s_fail (e, RS_E_NOMEM, "out of memory");
    }
    json_object_set_new (o, "default_report", json_string (e->reg->default_report));
    for (int i = 0; i < 4; i++)
        json_array_append_new (lanes, json_string (e->reg->lanes[i]));
    json_object_set_new (o, "lanes", lanes);
    json_object_set_new (o, "reports", reps);
    for (int i = 0; i < e->reg->nreports; i++) {
        const rs_report_t *r = &e->reg->reports[i];
        json_t *ro = json_object (), *pa = json_array ();
        json_object_set_new (ro, "id", json_string (r->id));
        json_object_set_new (ro, "title", json_string (r->title));
        json_object_set_new (ro, "pillar", json_string (r->pillar));
        json_object_set_new (ro, "description", json_string (r->description));
        json_object_set_new (ro, "status", json_string (r->status));
        json_object_set_new (ro, "order", json_integer (r->order));
        for (int pass = 0; pass < 2; pass++) {
            const rs_pspec_t *sp = pass == 0 ? e->reg->common : r->params;
            int n = pass == 0 ? e->reg->ncommon : r->nparams;
            for (int k = 0; k < n; k++)
                json_array_append_new (pa, json_pack ("{s:s, s:s, s:s, s:s}", "name", sp[k].name, "kind",
                                                      sp[k].kind_name, "description",
                                                      sp[k].description ? sp[k].description : "", "default",
                                                      sp[k].def ? sp[k].def : ""));
        }
        json_object_set_new (ro, "params", pa);
        json_array_append_new (reps, ro);
    }
    *out = o;
    return 0;
}

/* The alert object of one result row of anomaly_detection (alert_id
 * "<entity_id>:<date>", severity, entity, value, expected range, z-score,
 * deviation), or NULL when the row is not an anomaly. New reference. */
static json_t *
s_alert_json (const json_t *r)
{
    if (json_integer_value (json_object_get (r, "is_anomaly")) != 1)
        return NULL;
    const char *eid = json_string_value (json_object_get (r, "entity_id"));
    const char *date = json_string_value (json_object_get (r, "usage_date"));
    char id[300];
    snprintf (id, sizeof id, "%s:%s", eid ? eid : "", date ? date : "");
    json_t *a = json_object ();
    json_object_set_new (a, "alert_id", json_string (id));
    json_object_set (a, "severity", json_object_get (r, "severity"));
    json_object_set (a, "entity_type", json_object_get (r, "entity_type"));
    json_object_set (a, "entity_id", json_object_get (r, "entity_id"));
    json_object_set (a, "entity_name", json_object_get (r, "entity_name"));
    json_object_set (a, "date", json_object_get (r, "usage_date"));
    json_object_set (a, "value", json_object_get (r, "total_cost"));
    json_object_set (a, "expected", json_object_get (r, "anomaly_expected"));
    json_object_set (a, "expected_low", json_object_get (r, "expected_min"));
    json_object_set (a, "expected_high", json_object_get (r, "expected_max"));
    json_object_set (a, "z_score", json_object_get (r, "z_score"));
    json_object_set (a, "pct_deviation", json_object_get (r, "pct_deviation"));
    return a;
}

int
rs_engine_detect (rs_engine_t *e, const rs_param_t *params, size_t nparams, json_t **out)
{
    json_t *res = NULL;
    int rc = rs_engine_run (e, "anomaly_detection", params, nparams, &res);
    if (rc != 0)
        return rc;
    json_t *arr = json_array ();
    json_t *rows = json_object_get (res, "rows");
    size_t i;
    json_t *r;
    json_array_foreach (rows, i, r) {
        json_t *a = s_alert_json (r);
        if (a)
            json_array_append_new (arr, a);
    }
    json_decref (res);
    *out = arr;
    return 0;
}

int
rs_engine_entity_facts (rs_engine_t *e, const char *entity_type, const char *entity_id, const rs_param_t *params,
                        size_t nparams, json_t **out)
{
    if (!e || !out || !entity_type || !entity_id)
        return RS_E_INVALID;
    *out = NULL;
    e->err[0] = '\0';
    rs_pset_t ps;
    const char *dv;
    int rc = s_prepare (e, NULL, params, nparams, &ps, &dv);
    if (rc != 0)
        return rc;
    json_t *o = json_object ();
    char err[RS_ERRSZ] = "";
    if (!o) {
        rs_params_clear (&ps);
        return s_fail (e, RS_E_NOMEM, "out of memory");
    }
    rc = rs_facts_build (e, e->db, e->reg, entity_type, entity_id, &ps, o, err, sizeof err);
    rs_params_clear (&ps);
    if (rc != 0) {
        json_decref (o);
        return s_fail (e, rc, "%s", err);
    }
    json_object_set_new (o, "data_version", json_string (rs_engine_data_version (e) ? e->version : ""));
    *out = o;
    return 0;
}

int
rs_engine__anomalies (rs_engine_t *self, const rs_param_t *params, size_t nparams, json_t **out)
{
    return rs_engine_detect (self, params, nparams, out);
}

/* The detector's anomalies of ONE entity under the anomaly_detection
 * report's parameters: the report's raw SQL wrapped as
 *   SELECT * FROM (<sql>) WHERE entity_id = :entity_id ORDER BY entity_id, usage_date
 * (SQLite pushes the filter into both grouped arms, so one job's runs are
 * read by index instead of aggregating every entity), then the same
 * detector. The detector works per entity, so the anomalies equal the
 * entity's anomalies in the full report. Same objects as rs_engine_detect. */
int
rs_engine__entity_anomalies (rs_engine_t *e, const char *entity_id, const rs_param_t *params, size_t nparams,
                             json_t **out)
{
    if (!e || !out || !entity_id)
        return RS_E_INVALID;
    *out = NULL;
    const rs_report_t *rep = rs_registry_find (e->reg, "anomaly_detection");
    if (!rep || !rep->available || !rep->has_detector || !rep->sql)
        return rs_engine_detect (e, params, nparams, out);
    rs_pset_t ps;
    const char *dv;
    int rc = s_prepare (e, rep, params, nparams, &ps, &dv);
    if (rc != 0)
        return rc;
    rs_table_t *t = NULL;
    json_t *arr = json_array ();
    buf_t *sql = buf_new (strlen (rep->sql) + 256);
    rs_arena_clear (&e->arena);
    if (!arr || !sql || ps.n >= (int) (sizeof ps.v / sizeof ps.v[0])) {
        rc = s_fail (e, RS_E_NOMEM, "out of memory");
        goto done;
    }
    ps.v[ps.n].name = "entity_id";
    ps.v[ps.n].text = str_dup (entity_id);
    ps.v[ps.n].num = 0;
    ps.v[ps.n].is_num = false;
    ps.n++;
    if (!ps.v[ps.n - 1].text ||
        buf_printf (sql, "SELECT * FROM (\n%s\n) WHERE entity_id = :entity_id ORDER BY entity_id, usage_date",
                    rep->sql) != 0) {
        rc = s_fail (e, RS_E_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = s_query (e, buf_data (sql), "anomaly_detection (one entity)", &ps, &t)) != 0)
        goto done;
    rs_globals_t g = {e->reg, rep, &ps, NULL};
    rs_scope_t gs = {rs_globals_lookup, rs_globals_call, &g, NULL};
    if ((rc = s_detect (e, rep, t, &gs)) != 0)
        goto done;
    for (size_t r = 0; r < t->nrows; r++) {
        json_t *row = rs_table_row_json (t, r, NULL, 0);
        json_t *a = row ? s_alert_json (row) : NULL;
        if (a)
            json_array_append_new (arr, a);
        json_decref (row);
    }
    *out = arr;
    arr = NULL;
done:
    json_decref (arr);
    rs_table_destroy (&t);
    buf_destroy (&sql);
    rs_params_clear (&ps);
    rs_arena_clear (&e->arena);
    return rc;
}
