/* dl_import.c — importer of Databricks system-table exports.
 *
 * Design: two stages inside ONE transaction per `copilot import` run (the
 * batch), so a bad row anywhere leaves the database untouched.
 *
 *  1. Landing. Every file of DIR that names a known table (billing.usage.csv,
 *     billing_usage.jsonl, system.lakeflow.jobs.json ...) is parsed (CSV with
 *     a header, RFC 4180 quoting; or JSON lines), each record is validated
 *     and normalized against the table's column spec (required columns,
 *     timestamps to UTC 'YYYY-MM-DD HH:MM:SS', decimals and integers to JSON
 *     numbers, struct/map/array columns to JSON) and kept WHOLE as JSON in
 *     import_rows, keyed by the source's record identity. Unknown columns
 *     and struct keys are kept, never fatal. A record whose normalized JSON
 *     equals the stored one is "unchanged"; new or different records mark
 *     their derived entity (group_key) as touched.
 *  2. Mapping. sql/import/apply.sql rebuilds only the touched entities from
 *     all their landing rows: latest SCD2 rows, hourly slices merged into one
 *     run, status vocabularies normalized, billing records netted over
 *     ORIGINAL/RETRACTION/RESTATEMENT and priced with the list price valid at
 *     usage time, usage attributed by billing_origin_product, spot
 *     terminations turned into evictions. Then the derived tables are
 *     refreshed and data_version bumped.
 *
 * Re-importing the same files touches nothing, so nothing is written at all
 * (the transaction is rolled back). A bad row fails the batch with
 * "<file>:<line>: column '<name>': <reason>".
 *
 * Numbers: decimal(38,18) values become binary doubles because the schema
 * stores REAL; retractions net exactly (x + -x == 0). Single-threaded. */
#include "dl_import.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cfg.h"
#include "dl_common.h"
#include "dl_progress.h"
#include "dl_schema.h"
#include "dl_time.h"

/* ------------------------------------------------------------------------ */
/* Table specs                                                              */

typedef enum { C_STR, C_TS, C_DATE, C_DEC, C_INT, C_BOOL, C_JSON } ctype_t;

typedef struct {
    const char *name;
    ctype_t type;
    bool required;
} col_t;

typedef struct {
    const char *name;          /* system table name without "system." */
    const col_t *cols;
    const char *key[5];        /* record identity columns */
    const char *group[3];      /* derived-entity columns; NULL group[0] = use key */
    const char *group_sep;     /* separator between group parts */
} table_t;

#define END {NULL, C_STR, false}

static const col_t s_usage_cols[] = {
    {"record_id", C_STR, true},          {"workspace_id", C_STR, true},
    {"sku_name", C_STR, true},           {"usage_start_time", C_TS, true},
    {"usage_end_time", C_TS, true},      {"usage_date", C_DATE, true},
    {"usage_quantity", C_DEC, true},     {"account_id", C_STR, false},
    {"cloud", C_STR, false},             {"usage_unit", C_STR, false},
    {"usage_metadata", C_JSON, false},   {"identity_metadata", C_JSON, false},
    {"record_type", C_STR, false},       {"ingestion_date", C_DATE, false},
    {"billing_origin_product", C_STR, false}, {"product_features", C_JSON, false},
    {"usage_type", C_STR, false},        {"custom_tags", C_JSON, false},
    END};
static const col_t s_price_cols[] = {
    {"sku_name", C_STR, true},       {"price_start_time", C_TS, true},
    {"price_end_time", C_TS, false}, {"cloud", C_STR, false},
    {"currency_code", C_STR, false}, {"usage_unit", C_STR, false},
    {"pricing", C_JSON, false},      {"account_id", C_STR, false},
    END};
static const col_t s_jobs_cols[] = {
    {"workspace_id", C_STR, true}, {"job_id", C_STR, true},     {"change_time", C_TS, true},
    {"name", C_STR, false},        {"description", C_STR, false}, {"tags", C_JSON, false},
    {"delete_time", C_TS, false},  {"create_time", C_TS, false}, {"trigger", C_JSON, false},
    {"health_rules", C_JSON, false}, {"deployment", C_JSON, false}, {"paused", C_BOOL, false},
    {"timeout_seconds", C_INT, false}, {"account_id", C_STR, false},
    END};
static const col_t s_timeline_cols[] = {
    {"workspace_id", C_STR, true},      {"job_id", C_STR, true},
    {"run_id", C_STR, true},            {"period_start_time", C_TS, true},
    {"period_end_time", C_TS, true},    {"result_state", C_STR, false},
    {"termination_code", C_STR, false}, {"compute_ids", C_JSON, false},
    {"compute", C_JSON, false},         {"job_parameters", C_JSON, false},
    {"trigger_type", C_STR, false},     {"run_type", C_STR, false},
    {"run_name", C_STR, false},         {"account_id", C_STR, false},
    END};
static const col_t s_task_cols[] = {
    {"workspace_id", C_STR, true},      {"job_id", C_STR, true},
    {"run_id", C_STR, true},            {"job_run_id", C_STR, true},
    {"period_start_time", C_TS, true},  {"period_end_time", C_TS, true},
    {"task_key", C_STR, false},         {"compute_ids", C_JSON, false},
    {"result_state", C_STR, false},     {"termination_code", C_STR, false},
    {"parent_run_id", C_STR, false},    {"account_id", C_STR, false},
    END};
static const col_t s_cluster_cols[] = {
    {"workspace_id", C_STR, true},       {"cluster_id", C_STR, true},
    {"change_time", C_TS, true},         {"cluster_name", C_STR, false},
    {"owned_by", C_STR, false},          {"driver_node_type", C_STR, false},
    {"worker_node_type", C_STR, false},  {"worker_count", C_INT, false},
    {"min_autoscale_workers", C_INT, false}, {"max_autoscale_workers", C_INT, false},
    {"auto_termination_minutes", C_INT, false}, {"cluster_source", C_STR, false},
    {"aws_attributes", C_JSON, false},   {"azure_attributes", C_JSON, false},
    {"gcp_attributes", C_JSON, false},   {"tags", C_JSON, false},
    {"init_scripts", C_JSON, false},     {"delete_time", C_TS, false},
    {"create_time", C_TS, false},        {"change_date", C_DATE, false},
    {"driver_instance_pool_id", C_STR, false}, {"worker_instance_pool_id", C_STR, false},
    {"dbr_version", C_STR, false},       {"enable_elastic_disk", C_BOOL, false},
    {"account_id", C_STR, false},
    END};
static const col_t s_node_cols[] = {
    {"workspace_id", C_STR, true},        {"cluster_id", C_STR, true},
    {"instance_id", C_STR, true},         {"start_time", C_TS, true},
    {"end_time", C_TS, true},             {"driver", C_BOOL, false},
    {"cpu_user_percent", C_DEC, false},   {"cpu_system_percent", C_DEC, false},
    {"cpu_wait_percent", C_DEC, false},   {"mem_used_percent", C_DEC, false},
    {"mem_swap_percent", C_DEC, false},   {"network_sent_bytes", C_INT, false},
    {"network_received_bytes", C_INT, false}, {"disk_free_bytes_per_mount_point", C_JSON, false},
    {"node_type", C_STR, false},          {"account_id", C_STR, false},
    END};
static const col_t s_instance_cols[] = {
    {"workspace_id", C_STR, true},       {"instance_id", C_STR, true},
    {"event_time", C_TS, true},          {"state", C_STR, true},
    {"event_type", C_STR, false},        {"availability_type", C_STR, false},
    {"node_type", C_STR, false},         {"cluster_id", C_STR, false},
    {"account_id", C_STR, false},
    END};
static const col_t s_wh_cols[] = {
    {"workspace_id", C_STR, true},     {"warehouse_id", C_STR, true},
    {"change_time", C_TS, true},       {"warehouse_name", C_STR, false},
    {"warehouse_type", C_STR, false},  {"warehouse_channel", C_STR, false},
    {"warehouse_size", C_STR, false},  {"min_clusters", C_INT, false},
    {"max_clusters", C_INT, false},    {"auto_stop_minutes", C_INT, false},
    {"tags", C_JSON, false},           {"delete_time", C_TS, false},
    {"account_id", C_STR, false},
    END};
static const col_t s_whev_cols[] = {
    {"workspace_id", C_STR, true}, {"warehouse_id", C_STR, true}, {"event_type", C_STR, true},
    {"event_time", C_TS, true},    {"cluster_count", C_INT, false}, {"account_id", C_STR, false},
    END};
static const col_t s_query_cols[] = {
    {"workspace_id", C_STR, true},          {"statement_id", C_STR, true},
    {"start_time", C_TS, true},             {"end_time", C_TS, false},
    {"update_time", C_TS, false},           {"executed_by", C_STR, false},
    {"executed_by_user_id", C_STR, false},  {"executed_as", C_STR, false},
    {"execution_status", C_STR, false},     {"compute", C_JSON, false},
    {"statement_text", C_STR, false},       {"statement_type", C_STR, false},
    {"error_message", C_STR, false},        {"total_duration_ms", C_INT, false},
    {"execution_duration_ms", C_INT, false}, {"read_bytes", C_INT, false},
    {"read_rows", C_INT, false},            {"produced_rows", C_INT, false},
    {"query_source", C_JSON, false},        {"query_parameters", C_JSON, false},
    {"query_tags", C_JSON, false},          {"from_result_cache", C_BOOL, false},
    {"session_id", C_STR, false},           {"client_application", C_STR, false},
    {"account_id", C_STR, false},
    END};

/* Processing order: prices before usage, SCD entities before facts. */
static const table_t s_tables[] = {
    {"billing.list_prices", s_price_cols, {"sku_name", "cloud", "usage_unit", "price_start_time"}, {NULL}, "|"},
    {"lakeflow.jobs", s_jobs_cols, {"workspace_id", "job_id", "change_time"}, {"workspace_id", "job_id"}, ":"},
    {"compute.clusters", s_cluster_cols, {"workspace_id", "cluster_id", "change_time"}, {"cluster_id"}, "|"},
    {"compute.warehouses", s_wh_cols, {"workspace_id", "warehouse_id", "change_time"}, {"warehouse_id"}, "|"},
    {"lakeflow.job_run_timeline", s_timeline_cols, {"workspace_id", "run_id", "period_start_time"}, {"workspace_id", "run_id"}, ":"},
    {"lakeflow.job_task_run_timeline", s_task_cols, {"workspace_id", "run_id", "period_start_time"}, {"workspace_id", "job_run_id"}, ":"},
    {"compute.node_timeline", s_node_cols, {"cluster_id", "instance_id", "start_time"}, {"cluster_id"}, "|"},
    {"compute.instance_events", s_instance_cols, {"instance_id", "event_time", "state", "event_type"}, {"instance_id"}, "|"},
    {"compute.warehouse_events", s_whev_cols, {"warehouse_id", "event_time", "event_type"}, {"warehouse_id"}, "|"},
    {"query.history", s_query_cols, {"statement_id"}, {"statement_id"}, "|"},
    {"billing.usage", s_usage_cols, {"record_id"}, {NULL}, "|"},
};
#define NTABLES ((int) (sizeof s_tables / sizeof s_tables[0]))

/* Live pull: keyset cursor per table (high-water column, tie-break column),
 * in s_tables order. */
static const struct {
    const char *hwm, *tie;
} s_cursor[NTABLES] = {
    {"price_start_time", "sku_name"},  {"change_time", "job_id"},
    {"change_time", "cluster_id"},     {"change_time", "warehouse_id"},
    {"period_end_time", "run_id"},     {"period_end_time", "run_id"},
    {"start_time", "instance_id"},     {"event_time", "instance_id"},
    {"event_time", "warehouse_id"},    {"start_time", "statement_id"},
    {"usage_end_time", "record_id"},
};

/* ------------------------------------------------------------------------ */
/* Import context                                                           */

#define MAX_FIELD (16 * 1024 * 1024)
#define MAX_RECORD (64 * 1024 * 1024)
#define MAX_COLS 512

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *sel, *ins, *upd, *touch;
    int64_t batch_id;
    int64_t rows_read, rows_changed;
    dl_progress_t *progress;
    const char *file;  /* base name, for errors */
} imp_t;

/* growable byte buffer with a hard cap (external input) */
typedef struct {
    char *p;
    size_t len, cap, max;
} gbuf_t;

static int
s_gb_put (gbuf_t *b, char c)
{
    if (b->len + 2 > b->cap) {
        if (b->cap >= b->max)
            return -1;
        size_t nc = b->cap ? b->cap * 2 : 256;
        if (nc > b->max)
            nc = b->max;
        char *np = realloc (b->p, nc);
        if (!np)
            return -1;
        b->p = np;
        b->cap = nc;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Value normalization                                                      */

static int
s_row_err (imp_t *im, long line, const char *col, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

static int
s_row_err (imp_t *im, long line, const char *col, const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    if (col)
        return dl_fail (DL_E_DATA, "%s:%ld: column '%s': %s", im->file, line, col, reason);
    return dl_fail (DL_E_DATA, "%s:%ld: %s", im->file, line, reason);
}

/* Text of a scalar JSON value (string as is, numbers/bools printed); NULL
 * for null/absent/containers. Caller frees. */
static char *
s_scalar_text (json_t *v)
{
    char buf[64];
    if (!v || json_is_null (v))
        return NULL;
    if (json_is_string (v))
        return strdup (json_string_value (v));
    if (json_is_integer (v)) {
        snprintf (buf, sizeof buf, "%lld", (long long) json_integer_value (v));
        return strdup (buf);
    }
    if (json_is_real (v)) {
        snprintf (buf, sizeof buf, "%.17g", json_real_value (v));
        return strdup (buf);
    }
    if (json_is_boolean (v))
        return strdup (json_is_true (v) ? "true" : "false");
    return NULL;
}

static void
s_clip (const char *s, char *out, size_t size)
{
    snprintf (out, size, "%s", s);
    if (strlen (s) >= size && size > 4)
        memcpy (out + size - 4, "...", 4);
}

static int
s_parse_epoch_or_ts (const char *s, int64_t *secs)
{
    if (dl_parse_ts (s, secs) == 0)
        return 0;
    /* epoch milliseconds (Jobs API style) */
    size_t n = strlen (s);
    if (n >= 10 && n <= 16) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll (s, &end, 10);
        if (!errno && end && *end == '\0' && v > 0) {
            *secs = n >= 13 ? v / 1000 : v;
            return 0;
        }
    }
    return -1;
}

/* Normalizes column `c` of `row` in place. 0 or DL_E_DATA. */
static int
s_norm_col (imp_t *im, long line, json_t *row, const col_t *c)
{
    json_t *v = json_object_get (row, c->name);
    bool empty = !v || json_is_null (v) || (json_is_string (v) && json_string_length (v) == 0);
    if (empty) {
        if (c->required)
            return s_row_err (im, line, c->name, "required value missing");
        if (v)
            json_object_set_new (row, c->name, json_null ());
        return DL_OK;
    }
    char clip[80];
    if (c->type == C_JSON) {
        if (json_is_object (v) || json_is_array (v))
            return DL_OK;
        if (!json_is_string (v))
            return s_row_err (im, line, c->name, "expected a JSON object or array");
        json_error_t je;
        json_t *parsed = json_loads (json_string_value (v), JSON_DECODE_ANY, &je);
        if (!parsed || !(json_is_object (parsed) || json_is_array (parsed))) {
            json_decref (parsed);
            s_clip (json_string_value (v), clip, sizeof clip);
            return s_row_err (im, line, c->name, "not valid JSON: '%s'", clip);
        }
        json_object_set_new (row, c->name, parsed);
        return DL_OK;
    }
    if (json_is_object (v) || json_is_array (v))
        return s_row_err (im, line, c->name, "expected a scalar value, got JSON %s",
                          json_is_object (v) ? "object" : "array");
    char *t = s_scalar_text (v);
    if (!t)
        return dl_fail (DL_E_NOMEM, "out of memory");
    int rc = DL_OK;
    char *trim = t;
    while (isspace ((unsigned char) *trim))
        trim++;
    size_t tl = strlen (trim);
    while (tl > 0 && isspace ((unsigned char) trim[tl - 1]))
        trim[--tl] = '\0';
    s_clip (trim, clip, sizeof clip);
    switch (c->type) {
    case C_STR:
        json_object_set_new (row, c->name, json_string (trim));
        break;
    case C_TS: {
        int64_t secs;
        char out[20];
        if (s_parse_epoch_or_ts (trim, &secs)) {
            rc = s_row_err (im, line, c->name, "not a timestamp: '%s'", clip);
            break;
        }
        dl_fmt_ts (secs, out);
        json_object_set_new (row, c->name, json_string (out));
        break;
    }
    case C_DATE: {
        int64_t secs;
        char out[20];
        if (dl_parse_ts (trim, &secs)) {
            rc = s_row_err (im, line, c->name, "not a date: '%s'", clip);
            break;
        }
        dl_fmt_ts (secs, out);
        out[10] = '\0';
        json_object_set_new (row, c->name, json_string (out));
        break;
    }
    case C_DEC: {
        char *end = NULL;
        errno = 0;
        double d = strtod (trim, &end);
        if (errno || !end || *end || end == trim || !isfinite (d)) {
            rc = s_row_err (im, line, c->name, "not a decimal: '%s'", clip);
            break;
        }
        json_object_set_new (row, c->name, json_real (d));
        break;
    }
    case C_INT: {
        char *end = NULL;
        errno = 0;
        long long iv = strtoll (trim, &end, 10);
        if (errno || !end || *end || end == trim) {
            /* "12.0" from float-typed exports is accepted when integral */
            double d = strtod (trim, &end);
            if (!end || *end || end == trim || d != floor (d) || fabs (d) > 9e15) {
                rc = s_row_err (im, line, c->name, "not an integer: '%s'", clip);
                break;
            }
            iv = (long long) d;
        }
        json_object_set_new (row, c->name, json_integer (iv));
        break;
    }
    case C_BOOL: {
        bool b;
        if (!strcasecmp (trim, "true") || !strcmp (trim, "1"))
            b = true;
        else if (!strcasecmp (trim, "false") || !strcmp (trim, "0"))
            b = false;
        else {
            rc = s_row_err (im, line, c->name, "not a boolean: '%s'", clip);
            break;
        }
        json_object_set_new (row, c->name, json_boolean (b));
        break;
    }
    default: break;
    }
    free (t);
    return rc;
}

static bool
s_known (const table_t *t, const char *name)
{
    for (const col_t *c = t->cols; c->name; c++)
        if (strcmp (c->name, name) == 0)
            return true;
    return false;
}

/* Unknown CSV columns that look like JSON containers become JSON. */
static void
s_norm_unknown (const table_t *t, json_t *row)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (row, tmp, k, v)
    {
        if (s_known (t, k) || !json_is_string (v))
            continue;
        const char *s = json_string_value (v);
        if (s[0] != '{' && s[0] != '[')
            continue;
        json_t *parsed = json_loads (s, JSON_DECODE_ANY, NULL);
        if (parsed && (json_is_object (parsed) || json_is_array (parsed)))
            json_object_set_new (row, k, parsed);
        else
            json_decref (parsed);
    }
}

/* Appends the text of row[col] ("" when null) to out. */
static int
s_key_part (json_t *row, const char *col, char *out, size_t size, const char *sep)
{
    char *t = s_scalar_text (json_object_get (row, col));
    size_t len = strlen (out);
    int n = snprintf (out + len, size - len, "%s%s", len ? sep : "", t ? t : "");
    free (t);
    return n < 0 || (size_t) n >= size - len ? -1 : 0;
}

static const char *
s_str (json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get (obj, key) : NULL;
    return v && json_is_string (v) && json_string_length (v) > 0 ? json_string_value (v) : NULL;
}

/* Attribution of a billing record (databricks-sources §4.1). */
static void
s_attribute (json_t *row, char *type, size_t tsz, char *id, size_t isz, char *group, size_t gsz,
             char *prod_out, size_t psz)
{
    const char *ws = s_str (row, "workspace_id");
    const char *sku = s_str (row, "sku_name");
    const char *date = s_str (row, "usage_date");
    json_t *meta = json_object_get (row, "usage_metadata");
    if (meta && !json_is_object (meta))
        meta = NULL;
    char product[64];
    const char *bop = s_str (row, "billing_origin_product");
    if (bop) {
        snprintf (product, sizeof product, "%s", bop);
    } else if (sku && strstr (sku, "ALL_PURPOSE")) {
        snprintf (product, sizeof product, "ALL_PURPOSE");
    } else if (sku && strstr (sku, "JOBS")) {
        snprintf (product, sizeof product, "JOBS");
    } else if (sku && strstr (sku, "SQL")) {
        snprintf (product, sizeof product, "SQL");
    } else {
        snprintf (product, sizeof product, "UNKNOWN");
    }
    for (char *p = product; *p; p++)
        *p = (char) toupper ((unsigned char) *p);
    const char *v;
    const char *t = "OTHER";
    char rid[256] = "";
    if (strcmp (product, "JOBS") == 0 && meta && (v = s_str (meta, "job_run_id"))) {
        t = "JOB_RUN";
        snprintf (rid, sizeof rid, "%s:%s", ws, v);
    } else if (strcmp (product, "JOBS") == 0 && meta && (v = s_str (meta, "job_id"))) {
        t = "JOB_RUN"; /* no run id: one pseudo-run per job and day */
        snprintf (rid, sizeof rid, "%s:%s:%s", ws, v, date);
    } else if (strcmp (product, "SQL") == 0 && meta && (v = s_str (meta, "warehouse_id"))) {
        t = "SQL_WAREHOUSE";
        snprintf (rid, sizeof rid, "%s", v);
    } else if (strcmp (product, "ALL_PURPOSE") == 0 && meta && (v = s_str (meta, "cluster_id"))) {
        t = "APC_CLUSTER";
        snprintf (rid, sizeof rid, "%s", v);
    } else {
        static const struct {
            const char *product, *field;
        } other[] = {{"DLT", "dlt_pipeline_id"},       {"LAKEFLOW_CONNECT", "dlt_pipeline_id"},
                     {"ONLINE_TABLES", "dlt_pipeline_id"}, {"SQL", "dlt_pipeline_id"},
                     {"MODEL_SERVING", "endpoint_id"}, {"AI_GATEWAY", "endpoint_id"},
                     {"VECTOR_SEARCH", "endpoint_id"}, {"AI_FUNCTIONS", "endpoint_id"},
                     {"APPS", "app_id"},               {"DATABASE", "database_instance_id"},
                     {"INTERACTIVE", "notebook_id"},   {"NOTEBOOKS", "notebook_id"}};
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
            if (strcmp (product, other[i].product) == 0 && meta && (v = s_str (meta, other[i].field))) {
                snprintf (rid, sizeof rid, "%s", v);
                break;
            }
        if (!rid[0])
            snprintf (rid, sizeof rid, "%s", product);
    }
    snprintf (type, tsz, "%s", t);
    snprintf (id, isz, "%s", rid);
    snprintf (prod_out, psz, "%s", product);
    if (strcmp (t, "JOB_RUN") == 0)
        snprintf (group, gsz, "%s|%s", t, rid);
    else if (strcmp (t, "OTHER") == 0)
        snprintf (group, gsz, "%s|%s|%s|%s", t, product, rid, date ? date : "");
    else
        snprintf (group, gsz, "%s|%s|%s", t, rid, date ? date : "");
}

/* list_prices must carry a price somewhere. */
static int
s_check_price (imp_t *im, long line, json_t *row)
{
    json_t *p = json_object_get (row, "pricing");
    json_t *v = NULL;
    if (p && json_is_object (p)) {
        json_t *el = json_object_get (p, "effective_list");
        if (el && json_is_object (el))
            v = json_object_get (el, "default");
        if (!v || json_is_null (v))
            v = json_object_get (p, "default");
    }
    if (!v || json_is_null (v))
        v = json_object_get (row, "price");
    char *t = s_scalar_text (v);
    if (!t)
        return s_row_err (im, line, "pricing", "no price (pricing.effective_list.default, pricing.default or price)");
    char *end = NULL;
    double d = strtod (t, &end);
    bool ok = end && *end == '\0' && end != t && isfinite (d) && d >= 0;
    free (t);
    if (!ok)
        return s_row_err (im, line, "pricing", "price is not a non-negative decimal");
    return DL_OK;
}

/* Normalizes and lands one record. Takes ownership of `row`. */
static int
s_land (imp_t *im, const table_t *t, long line, json_t *row)
{
    int rc = DL_OK;
    char key[1024] = "", group[1024] = "", atype[32] = "", aid[512] = "", aprod[64] = "";
    const char *adate = NULL;
    char *text = NULL;
    for (const col_t *c = t->cols; c->name && !rc; c++)
        rc = s_norm_col (im, line, row, c);
    if (rc)
        goto done;
    s_norm_unknown (t, row);
    if (strcmp (t->name, "billing.list_prices") == 0 && (rc = s_check_price (im, line, row)))
        goto done;
    for (int i = 0; i < 5 && t->key[i]; i++)
        if (s_key_part (row, t->key[i], key, sizeof key, "|")) {
            rc = s_row_err (im, line, t->key[i], "identity too long");
            goto done;
        }
    if (strcmp (t->name, "billing.usage") == 0) {
        s_attribute (row, atype, sizeof atype, aid, sizeof aid, group, sizeof group, aprod, sizeof aprod);
        adate = s_str (row, "usage_date");
    } else if (!t->group[0]) {
        snprintf (group, sizeof group, "%s", key);
    } else {
        for (int i = 0; i < 3 && t->group[i]; i++)
            s_key_part (row, t->group[i], group, sizeof group, t->group_sep);
    }
    text = json_dumps (row, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION (17));
    if (!text) {
        rc = dl_fail (DL_E_NOMEM, "out of memory");
        goto done;
    }
    im->rows_read++;

    /* unchanged? */
    sqlite3_stmt *st = im->sel;
    sqlite3_bind_text (st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, key, -1, SQLITE_STATIC);
    int step = sqlite3_step (st);
    bool exists = step == SQLITE_ROW;
    bool same = exists && strcmp ((const char *) sqlite3_column_text (st, 0), text) == 0;
    char old_group[1024] = "";
    if (exists)
        snprintf (old_group, sizeof old_group, "%s", (const char *) sqlite3_column_text (st, 1));
    sqlite3_reset (st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = dl_fail_sql (im->db, "lookup landing row");
        goto done;
    }
    if (same)
        goto done;
    st = exists ? im->upd : im->ins;
    sqlite3_bind_text (st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, group, -1, SQLITE_STATIC);
    if (atype[0]) {
        sqlite3_bind_text (st, 4, atype, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 5, aid, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 6, adate, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 9, aprod, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null (st, 4);
        sqlite3_bind_null (st, 5);
        sqlite3_bind_null (st, 6);
        sqlite3_bind_null (st, 9);
    }
    sqlite3_bind_text (st, 7, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 8, im->batch_id);
    step = sqlite3_step (st);
    sqlite3_reset (st);
    if (step != SQLITE_DONE) {
        rc = dl_fail_sql (im->db, "store landing row");
        goto done;
    }
    im->rows_changed++;
    for (int k = 0; k < 2; k++) {
        const char *g = k == 0 ? group : old_group;
        if (!g[0] || (k == 1 && strcmp (old_group, group) == 0))
            continue;
        st = im->touch;
        sqlite3_bind_text (st, 1, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 2, g, -1, SQLITE_STATIC);
        step = sqlite3_step (st);
        sqlite3_reset (st);
        if (step != SQLITE_DONE) {
            rc = dl_fail_sql (im->db, "mark touched entity");
            goto done;
        }
    }
done:
    free (text);
    json_decref (row);
    if ((im->rows_read & 1023) == 0)
        dl_progress_set (im->progress, (uint64_t) im->rows_read);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Readers                                                                  */

/* Reads one CSV record (RFC 4180). Returns number of fields, 0 at EOF, or a
 * negative DL_E_* code. *line is advanced by the physical lines consumed. */
static int
s_csv_record (imp_t *im, FILE *f, gbuf_t *buf, size_t *offs, int max_fields, long *line,
              long start_line)
{
    buf->len = 0;
    int nf = 0;
    int c = fgetc (f);
    if (c == EOF)
        return 0;
    bool inq = false, field_start = true, was_quoted = false;
    size_t total = 0;
    offs[nf++] = 0;
    for (;; c = fgetc (f)) {
        if (++total > MAX_RECORD)
            return s_row_err (im, start_line, NULL, "record longer than %d bytes", MAX_RECORD);
        if (c == EOF) {
            if (inq)
                return s_row_err (im, start_line, NULL, "unterminated quoted field");
            break;
        }
        if (inq) {
            if (c == '"') {
                int d = fgetc (f);
                if (d == '"') {
                    if (s_gb_put (buf, '"'))
                        return s_row_err (im, start_line, NULL, "field too long");
                    continue;
                }
                inq = false;
                if (d == EOF)
                    break;
                c = d; /* fall through to the unquoted handling of d */
            } else {
                if (c == '\n')
                    (*line)++;
                if (s_gb_put (buf, (char) c))
                    return s_row_err (im, start_line, NULL, "field too long");
                continue;
            }
        }
        if (c == '"' && field_start) {
            inq = true;
            field_start = false;
            was_quoted = true;
            continue;
        }
        if (c == ',') {
            if (s_gb_put (buf, '\0'))
                return s_row_err (im, start_line, NULL, "field too long");
            if (nf >= max_fields)
                return s_row_err (im, start_line, NULL, "more than %d fields", max_fields);
            offs[nf++] = buf->len;
            field_start = true;
            was_quoted = false;
            continue;
        }
        if (c == '\r') {
            int d = fgetc (f);
            if (d != '\n' && d != EOF)
                ungetc (d, f);
            (*line)++;
            break;
        }
        if (c == '\n') {
            (*line)++;
            break;
        }
        if (c == '"' && was_quoted)
            return s_row_err (im, start_line, NULL, "stray quote after a quoted field");
        field_start = false;
        if (s_gb_put (buf, (char) c))
            return s_row_err (im, start_line, NULL, "field too long");
    }
    if (s_gb_put (buf, '\0'))
        return s_row_err (im, start_line, NULL, "field too long");
    return nf;
}

static int
s_read_csv (imp_t *im, const table_t *t, FILE *f)
{
    gbuf_t buf = {NULL, 0, 0, MAX_FIELD};
    size_t offs[MAX_COLS];
    char **header = NULL;
    int nh = 0, rc = DL_OK;
    long line = 1;
    long start = line;
    int n = s_csv_record (im, f, &buf, offs, MAX_COLS, &line, start);
    if (n <= 0) {
        free (buf.p);
        return n < 0 ? n : dl_fail (DL_E_DATA, "%s:1: empty file (a header line is required)", im->file);
    }
    header = calloc ((size_t) n, sizeof *header);
    if (!header) {
        free (buf.p);
        return dl_fail (DL_E_NOMEM, "out of memory");
    }
    nh = n;
    for (int i = 0; i < n; i++) {
        const char *h = buf.p + offs[i];
        if (i == 0 && (unsigned char) h[0] == 0xEF && (unsigned char) h[1] == 0xBB && (unsigned char) h[2] == 0xBF)
            h += 3; /* UTF-8 BOM */
        header[i] = strdup (h);
        if (!header[i] || !header[i][0]) {
            rc = header[i] ? s_row_err (im, 1, NULL, "empty column name in header (column %d)", i + 1)
                           : dl_fail (DL_E_NOMEM, "out of memory");
            goto out;
        }
        for (int k = 0; k < i; k++)
            if (strcmp (header[k], header[i]) == 0) {
                rc = s_row_err (im, 1, header[i], "appears twice in the header");
                goto out;
            }
    }
    for (;;) {
        start = line;
        n = s_csv_record (im, f, &buf, offs, MAX_COLS, &line, start);
        if (n == 0)
            break;
        if (n < 0) {
            rc = n;
            goto out;
        }
        if (n == 1 && buf.p[0] == '\0')
            continue; /* blank line */
        if (n != nh) {
            rc = s_row_err (im, start, NULL, "%d fields, the header has %d", n, nh);
            goto out;
        }
        json_t *row = json_object ();
        if (!row) {
            rc = dl_fail (DL_E_NOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            const char *v = buf.p + offs[i];
            if (*v)
                json_object_set_new (row, header[i], json_string (v));
        }
        if ((rc = s_land (im, t, start, row)))
            goto out;
    }
out:
    for (int i = 0; i < nh; i++)
        free (header[i]);
    free (header);
    free (buf.p);
    return rc;
}

static int
s_read_jsonl (imp_t *im, const table_t *t, FILE *f)
{
    char *lbuf = NULL;
    size_t cap = 0;
    ssize_t len;
    long line = 0;
    int rc = DL_OK;
    while ((len = getline (&lbuf, &cap, f)) >= 0) {
        line++;
        if (len > MAX_RECORD) {
            rc = s_row_err (im, line, NULL, "line longer than %d bytes", MAX_RECORD);
            break;
        }
        char *p = lbuf;
        while (*p && isspace ((unsigned char) *p))
            p++;
        if (!*p)
            continue;
        json_error_t je;
        json_t *row = json_loads (p, 0, &je);
        if (!row || !json_is_object (row)) {
            json_decref (row);
            rc = s_row_err (im, line, NULL, "not a JSON object: %s", row ? "not an object" : je.text);
            break;
        }
        if ((rc = s_land (im, t, line, row)))
            break;
    }
    free (lbuf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

typedef struct {
    int table;
    char name[256];
    bool json;
} file_t;

static bool
s_has_ext (const char *n, const char *ext)
{
    size_t a = strlen (n), b = strlen (ext);
    return a > b && strcasecmp (n + a - b, ext) == 0;
}

/* Table index a file name belongs to, or -1. Accepts "<t>", "system.<t>",
 * with '.' or '_' between the parts, followed by '.ext' or a '.'/'-'/'_'
 * suffix before the extension (billing.usage.part-0001.csv). */
static int
s_match (const char *name, bool *json)
{
    *json = s_has_ext (name, ".jsonl") || s_has_ext (name, ".json") || s_has_ext (name, ".ndjson");
    if (!*json && !s_has_ext (name, ".csv"))
        return -1;
    char low[256];
    snprintf (low, sizeof low, "%s", name);
    for (char *p = low; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    const char *n = low;
    if (strncmp (n, "system.", 7) == 0 || strncmp (n, "system_", 7) == 0)
        n += 7;
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < NTABLES; i++) {
        char a[64], b[64];
        snprintf (a, sizeof a, "%s", s_tables[i].name);
        snprintf (b, sizeof b, "%s", s_tables[i].name);
        for (char *p = b; *p; p++)
            if (*p == '.')
                *p = '_';
        const char *cand[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            size_t l = strlen (cand[k]);
            if (strncmp (n, cand[k], l) == 0 && (n[l] == '.' || n[l] == '-' || n[l] == '_')
                && l > best_len) {
                /* "billing.usage" must not claim "billing.usage_x" as a different table */
                best = i;
                best_len = l;
            }
        }
    }
    return best;
}

static int
s_cmp_file (const void *a, const void *b)
{
    const file_t *x = a, *y = b;
    if (x->table != y->table)
        return x->table - y->table;
    return strcmp (x->name, y->name);
}

static int
s_list (const char *dir, file_t **out, int *n_out)
{
    DIR *d = opendir (dir);
    if (!d)
        return dl_fail (DL_E_IO, "cannot open directory %s: %s", dir, strerror (errno));
    file_t *files = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        bool json;
        int t = s_match (e->d_name, &json);
        if (t < 0) {
            fprintf (stderr, "copilot import: ignoring %s (not a known system-table export)\n", e->d_name);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            file_t *nf = realloc (files, (size_t) cap * sizeof *files);
            if (!nf) {
                free (files);
                closedir (d);
                return dl_fail (DL_E_NOMEM, "out of memory");
            }
            files = nf;
        }
        files[n].table = t;
        files[n].json = json;
        snprintf (files[n].name, sizeof files[n].name, "%s", e->d_name);
        n++;
    }
    closedir (d);
    qsort (files, (size_t) n, sizeof *files, s_cmp_file);
    *out = files;
    *n_out = n;
    return DL_OK;
}

/* ------------------------------------------------------------------------ */
/* Live pull: SQL Statement Execution API over libcurl                      */
/*                                                                          */
/* For each table: POST /api/2.0/sql/statements with a keyset-paged query   */
/*   SELECT * FROM system.<t> WHERE (<hwm> > :since OR (<hwm> = :since AND  */
/*   <tie> > :tie)) ORDER BY <hwm>, <tie> LIMIT <page>                      */
/* (INLINE, JSON_ARRAY, wait 30 s, CONTINUE), poll GET .../{id} while       */
/* PENDING/RUNNING, follow result chunks (next_chunk_index), land every row */
/* like a file row. The first :since is the newest <hwm> already landed for */
/* the table (incremental), or now - import.initial_days (default 30).      */
/* Missing tables (TABLE_OR_VIEW_NOT_FOUND: preview off, no grant) are      */
/* skipped with a note. Token: DATABRICKS_TOKEN / COPILOT_DATABRICKS_TOKEN; */
/* warehouse: databricks.warehouse_id (COPILOT_DATABRICKS_WAREHOUSE_ID or   */
/* DATABRICKS_WAREHOUSE_ID). The Authorization header is sent only to the   */
/* workspace URL (external links are not used: INLINE disposition).        */

#define PULL_MAX_BODY (64 * 1024 * 1024)

typedef struct {
    CURL *curl;
    char base[1024];
    char auth[1200];
    char warehouse[128];
    long page;
    long poll_ms_max;
} pull_t;

typedef struct {
    char *p;
    size_t len;
    bool over;
} resp_t;

static size_t
s_curl_write (char *ptr, size_t sz, size_t n, void *ud)
{
    resp_t *r = ud;
    size_t add = sz * n;
    if (r->len + add + 1 > PULL_MAX_BODY) {
        r->over = true;
        return 0;
    }
    char *np = realloc (r->p, r->len + add + 1);
    if (!np)
        return 0;
    memcpy (np + r->len, ptr, add);
    r->p = np;
    r->len += add;
    r->p[r->len] = '\0';
    return add;
}

static void
s_sleep_ms (long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) != 0)
        ;
}

/* One HTTP exchange with retries on transport errors, 429 and 5xx (back-off
 * 0.5, 1, 2 s). On success *out is the parsed JSON body (caller decrefs). */
static int
s_http (pull_t *p, const char *method, const char *path, const char *body, json_t **out)
{
    *out = NULL;
    char url[2048];
    snprintf (url, sizeof url, "%s%s", p->base, path);
    for (int attempt = 0;; attempt++) {
        resp_t r = {NULL, 0, false};
        struct curl_slist *h = NULL;
        h = curl_slist_append (h, p->auth);
        h = curl_slist_append (h, "Content-Type: application/json");
        h = curl_slist_append (h, "Accept: application/json");
        curl_easy_reset (p->curl);
        curl_easy_setopt (p->curl, CURLOPT_URL, url);
        curl_easy_setopt (p->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt (p->curl, CURLOPT_WRITEFUNCTION, s_curl_write);
        curl_easy_setopt (p->curl, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt (p->curl, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt (p->curl, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt (p->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (p->curl, CURLOPT_FOLLOWLOCATION, 0L);
        if (strcmp (method, "POST") == 0) {
            curl_easy_setopt (p->curl, CURLOPT_POST, 1L);
            curl_easy_setopt (p->curl, CURLOPT_POSTFIELDS, body ? body : "");
        }
        CURLcode cc = curl_easy_perform (p->curl);
        long status = 0;
        curl_easy_getinfo (p->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all (h);
        bool retry = cc != CURLE_OK || status == 429 || status >= 500;
        if (r.over) {
            free (r.p);
            return dl_fail (DL_E_IO, "%s %s: response larger than %d bytes", method, path, PULL_MAX_BODY);
        }
        if (retry && attempt < 3) {
            free (r.p);
            s_sleep_ms (500L << attempt);
            continue;
        }
        if (cc != CURLE_OK) {
            free (r.p);
            return dl_fail (DL_E_IO, "%s %s: %s", method, url, curl_easy_strerror (cc));
        }
        json_error_t je;
        json_t *j = r.p ? json_loads (r.p, 0, &je) : NULL;
        if (status < 200 || status >= 300) {
            const char *msg = j ? s_str (j, "message") : NULL;
            int code = dl_fail (DL_E_IO, "%s %s: HTTP %ld%s%s", method, path, status, msg ? ": " : "",
                                msg ? msg : "");
            json_decref (j);
            free (r.p);
            return code;
        }
        free (r.p);
        if (!j || !json_is_object (j)) {
            json_decref (j);
            return dl_fail (DL_E_IO, "%s %s: response is not a JSON object", method, path);
        }
        *out = j;
        return DL_OK;
    }
}

/* Lands the rows of one result (data_array) with the manifest's column names. */
static int
s_pull_rows (imp_t *im, const table_t *t, json_t *cols, json_t *data, long *row_no, char *last_hwm,
             size_t hsz, char *last_tie, size_t tsz, const char *hwm, const char *tie, long *nrows)
{
    size_t i;
    json_t *cells;
    json_array_foreach (data, i, cells)
    {
        (*row_no)++;
        if (!json_is_array (cells) || json_array_size (cells) != json_array_size (cols))
            return s_row_err (im, *row_no, NULL, "result row has %zu cells, the manifest %zu columns",
                              json_is_array (cells) ? json_array_size (cells) : 0, json_array_size (cols));
        json_t *row = json_object ();
        size_t k;
        json_t *c;
        json_array_foreach (cols, k, c)
        {
            const char *name = s_str (c, "name");
            json_t *v = json_array_get (cells, k);
            if (name && v && !json_is_null (v))
                json_object_set (row, name, v);
        }
        /* cursor = raw values of the last row (already ordered by the query) */
        char *hv = s_scalar_text (json_object_get (row, hwm));
        char *tv = s_scalar_text (json_object_get (row, tie));
        if (hv)
            snprintf (last_hwm, hsz, "%s", hv);
        if (tv)
            snprintf (last_tie, tsz, "%s", tv);
        free (hv);
        free (tv);
        int rc = s_land (im, t, *row_no, row);
        if (rc)
            return rc;
        (*nrows)++;
    }
    return DL_OK;
}

/* Runs one page query; *nrows = rows landed. *missing when the table does
 * not exist for this principal. */
static int
s_pull_page (imp_t *im, pull_t *p, int ti, const char *since, const char *tie_after, long *row_no,
             char *last_hwm, size_t hsz, char *last_tie, size_t tsz, long *nrows, bool *missing)
{
    const table_t *t = &s_tables[ti];
    const char *hwm = s_cursor[ti].hwm, *tie = s_cursor[ti].tie;
    char sql[1024];
    snprintf (sql, sizeof sql,
              "SELECT * FROM system.%s WHERE (%s > CAST(:since AS TIMESTAMP) OR (%s = CAST(:since AS "
              "TIMESTAMP) AND %s > :tie)) ORDER BY %s, %s LIMIT %ld",
              t->name, hwm, hwm, tie, hwm, tie, p->page);
    json_t *req = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}",
                             "statement", sql, "warehouse_id", p->warehouse, "wait_timeout", "30s",
                             "on_wait_timeout", "CONTINUE", "disposition", "INLINE", "format",
                             "JSON_ARRAY", "parameters", "name", "since", "value", since, "type",
                             "STRING", "name", "tie", "value", tie_after, "type", "STRING");
    char *body = req ? json_dumps (req, JSON_COMPACT) : NULL;
    json_decref (req);
    if (!body)
        return dl_fail (DL_E_NOMEM, "out of memory");
    json_t *resp = NULL;
    int rc = s_http (p, "POST", "/api/2.0/sql/statements", body, &resp);
    free (body);
    if (rc)
        return rc;
    char id[256];
    snprintf (id, sizeof id, "%s", s_str (resp, "statement_id") ? s_str (resp, "statement_id") : "");
    long wait = 100;
    for (;;) {
        json_t *status = json_object_get (resp, "status");
        const char *state = s_str (status, "state");
        if (!state) {
            json_decref (resp);
            return dl_fail (DL_E_IO, "system.%s: response without status.state", t->name);
        }
        if (strcmp (state, "PENDING") == 0 || strcmp (state, "RUNNING") == 0) {
            if (!id[0]) {
                json_decref (resp);
                return dl_fail (DL_E_IO, "system.%s: running statement without statement_id", t->name);
            }
            s_sleep_ms (wait);
            wait = wait * 2 > p->poll_ms_max ? p->poll_ms_max : wait * 2;
            json_decref (resp);
            char path[512];
            snprintf (path, sizeof path, "/api/2.0/sql/statements/%s", id);
            if ((rc = s_http (p, "GET", path, NULL, &resp)))
                return rc;
            continue;
        }
        if (strcmp (state, "SUCCEEDED") != 0) {
            json_t *err = json_object_get (status, "error");
            const char *code = s_str (err, "error_code"), *msg = s_str (err, "message");
            bool notfound = (code && strstr (code, "NOT_FOUND")) || (msg && strstr (msg, "TABLE_OR_VIEW_NOT_FOUND"));
            if (notfound) {
                *missing = true;
                json_decref (resp);
                return DL_OK;
            }
            rc = dl_fail (DL_E_IO, "system.%s: statement %s %s: %s%s%s", t->name, id, state,
                          code ? code : "", code && msg ? " " : "", msg ? msg : "");
            json_decref (resp);
            return rc;
        }
        break;
    }
    json_t *cols = json_object_get (json_object_get (json_object_get (resp, "manifest"), "schema"), "columns");
    json_t *result = json_object_get (resp, "result");
    if (!json_is_array (cols)) {
        json_decref (resp);
        return dl_fail (DL_E_IO, "system.%s: response without manifest.schema.columns", t->name);
    }
    json_incref (cols);
    json_t *chunk = result ? json_incref (result) : NULL;
    json_decref (resp);
    rc = DL_OK;
    while (chunk && !rc) {
        json_t *data = json_object_get (chunk, "data_array");
        if (data && json_is_array (data))
            rc = s_pull_rows (im, t, cols, data, row_no, last_hwm, hsz, last_tie, tsz, s_cursor[ti].hwm,
                              s_cursor[ti].tie, nrows);
        json_t *next = json_object_get (chunk, "next_chunk_index");
        json_t *nc = NULL;
        if (!rc && next && json_is_integer (next)) {
            char path[512];
            snprintf (path, sizeof path, "/api/2.0/sql/statements/%s/result/chunks/%lld", id,
                      (long long) json_integer_value (next));
            rc = s_http (p, "GET", path, NULL, &nc);
        }
        json_decref (chunk);
        chunk = nc;
    }
    json_decref (chunk);
    json_decref (cols);
    return rc;
}

/* Newest high-water value already landed for table ti, or "" when none. */
static void
s_landed_hwm (imp_t *im, int ti, char *out, size_t size)
{
    out[0] = '\0';
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT MAX(json_extract(row_json, '$.%s')) FROM import_rows WHERE source=?1",
              s_cursor[ti].hwm);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (im->db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text (st, 1, s_tables[ti].name, -1, SQLITE_STATIC);
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_text (st, 0))
        snprintf (out, size, "%s", (const char *) sqlite3_column_text (st, 0));
    sqlite3_finalize (st);
}

static int
s_pull (imp_t *im, const dl_import_opts_t *o, dl_import_stats_t *st)
{
    const char *err = NULL;
    cfg_t *cfg = cfg_new (NULL, &err);
    if (!cfg)
        return dl_fail (DL_E_ARG, "configuration: %s", err ? err : "?");
    static const char *const tok_keys[] = {"databricks.token", "DATABRICKS_TOKEN", NULL};
    static const char *const wh_keys[] = {"databricks.warehouse_id", "DATABRICKS_WAREHOUSE_ID", NULL};
    const char *token = cfg_get_any (cfg, tok_keys);
    const char *wh = cfg_get_any (cfg, wh_keys);
    int64_t days = 30, page = 50000;
    int rc = DL_OK;
    if (cfg_int (cfg, "import.initial_days", 30, 1, 3650, &days) || cfg_int (cfg, "import.page_rows", 50000, 1, 10000000, &page))
        rc = dl_fail (DL_E_ARG, "%s", cfg_error (cfg));
    else if (!token)
        rc = dl_fail (DL_E_ARG, "no token: set DATABRICKS_TOKEN (or COPILOT_DATABRICKS_TOKEN)");
    else if (!wh)
        rc = dl_fail (DL_E_ARG, "no SQL warehouse: set COPILOT_DATABRICKS_WAREHOUSE_ID (databricks.warehouse_id)");
    pull_t p;
    memset (&p, 0, sizeof p);
    if (!rc) {
        snprintf (p.base, sizeof p.base, "%s", o->workspace_url);
        size_t bl = strlen (p.base);
        while (bl > 0 && p.base[bl - 1] == '/')
            p.base[--bl] = '\0';
        if (strncmp (p.base, "https://", 8) != 0 && strncmp (p.base, "http://", 7) != 0)
            rc = dl_fail (DL_E_ARG, "--workspace must be an http(s) URL: %s", o->workspace_url);
        snprintf (p.auth, sizeof p.auth, "Authorization: Bearer %s", token);
        snprintf (p.warehouse, sizeof p.warehouse, "%s", wh);
        p.page = (long) page;
        p.poll_ms_max = 2000;
    }
    cfg_destroy (&cfg);
    if (rc)
        return rc;
    curl_global_init (CURL_GLOBAL_DEFAULT);
    p.curl = curl_easy_init ();
    if (!p.curl)
        return dl_fail (DL_E_NOMEM, "curl");
    im->progress = dl_progress_new ("pull", 0, o->progress);
    char initial[20];
    dl_fmt_ts ((int64_t) time (NULL) - days * DL_DAY_SECONDS, initial);
    for (int ti = 0; ti < NTABLES && !rc; ti++) {
        char name[96];
        snprintf (name, sizeof name, "system.%s", s_tables[ti].name);
        im->file = name;
        char since[64], tie[256] = "";
        s_landed_hwm (im, ti, since, sizeof since);
        if (!since[0])
            snprintf (since, sizeof since, "%s", initial);
        long row_no = 0;
        for (int pages = 0; !rc; pages++) {
            long n = 0;
            bool missing = false;
            char last_hwm[64] = "", last_tie[256] = "";
            rc = s_pull_page (im, &p, ti, since, tie, &row_no, last_hwm, sizeof last_hwm, last_tie,
                              sizeof last_tie, &n, &missing);
            if (rc)
                break;
            if (missing) {
                fprintf (stderr, "copilot import: %s not available (TABLE_OR_VIEW_NOT_FOUND): skipped\n", name);
                break;
            }
            if (n < p.page || !last_hwm[0])
                break;
            if (strcmp (last_hwm, since) == 0 && strcmp (last_tie, tie) == 0) {
                rc = dl_fail (DL_E_IO, "%s: paging made no progress at %s / %s", name, since, tie);
                break;
            }
            snprintf (since, sizeof since, "%s", last_hwm);
            snprintf (tie, sizeof tie, "%s", last_tie);
        }
        st->files++;
    }
    dl_progress_set (im->progress, (uint64_t) im->rows_read);
    dl_progress_destroy (&im->progress);
    curl_easy_cleanup (p.curl);
    curl_global_cleanup ();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                   */

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_prepare (imp_t *im)
{
    const char *sql[] = {
        "SELECT row_json, group_key FROM import_rows WHERE source=?1 AND record_key=?2",
        "INSERT INTO import_rows (source, record_key, group_key, attr_type, attr_id, attr_date, "
        "row_json, batch_id, attr_product) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        "UPDATE import_rows SET group_key=?3, attr_type=?4, attr_id=?5, attr_date=?6, row_json=?7, "
        "batch_id=?8, attr_product=?9 WHERE source=?1 AND record_key=?2",
        "INSERT OR IGNORE INTO temp.import_touched (source, group_key) VALUES (?1, ?2)"};
    sqlite3_stmt **st[] = {&im->sel, &im->ins, &im->upd, &im->touch};
    for (int i = 0; i < 4; i++)
        if (sqlite3_prepare_v2 (im->db, sql[i], -1, st[i], NULL) != SQLITE_OK)
            return dl_fail_sql (im->db, "prepare import statement");
    return DL_OK;
}

static void
s_finalize (imp_t *im)
{
    sqlite3_finalize (im->sel);
    sqlite3_finalize (im->ins);
    sqlite3_finalize (im->upd);
    sqlite3_finalize (im->touch);
    im->sel = im->ins = im->upd = im->touch = NULL;
}

static int64_t
s_dir_bytes (const char *dir, const file_t *files, int n)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf (path, sizeof path, "%s/%s", dir, files[i].name);
        if (stat (path, &sb) == 0)
            total += sb.st_size;
    }
    return total;
}

static int
s_import_dir (imp_t *im, const dl_import_opts_t *o, dl_import_stats_t *st)
{
    file_t *files = NULL;
    int nfiles = 0;
    int rc = s_list (o->dir, &files, &nfiles);
    if (rc)
        return rc;
    if (nfiles == 0) {
        free (files);
        return dl_fail (DL_E_DATA, "%s holds no system-table export (expected e.g. billing.usage.csv, "
                                   "lakeflow.jobs.jsonl)", o->dir);
    }
    /* rough total for the bar: ~300 bytes per row */
    im->progress = dl_progress_new ("import", (uint64_t) (s_dir_bytes (o->dir, files, nfiles) / 300 + 1),
                                    o->progress);
    for (int i = 0; i < nfiles && !rc; i++) {
        char path[4096];
        snprintf (path, sizeof path, "%s/%s", o->dir, files[i].name);
        FILE *f = fopen (path, "rb");
        if (!f) {
            rc = dl_fail (DL_E_IO, "cannot open %s: %s", path, strerror (errno));
            break;
        }
        im->file = files[i].name;
        const table_t *t = &s_tables[files[i].table];
        rc = files[i].json ? s_read_jsonl (im, t, f) : s_read_csv (im, t, f);
        fclose (f);
        st->files++;
    }
    dl_progress_set (im->progress, (uint64_t) im->rows_read);
    dl_progress_destroy (&im->progress);
    free (files);
    return rc;
}

int
dl_import_run (const dl_import_opts_t *opts, dl_import_stats_t *stats)
{
    double t0 = s_now ();
    dl_import_stats_t st;
    memset (&st, 0, sizeof st);
    if (stats)
        memset (stats, 0, sizeof *stats);
    if (!opts || !opts->db_path)
        return dl_fail (DL_E_ARG, "no database path");
    if (!opts->dir && !opts->workspace_url)
        return dl_fail (DL_E_ARG, "no --from directory or --workspace URL");
    struct stat sb;
    if (stat (opts->db_path, &sb) != 0)
        return dl_fail (DL_E_IO, "%s does not exist (create it with `copilot db init --db %s`)",
                        opts->db_path, opts->db_path);

    imp_t im;
    memset (&im, 0, sizeof im);
    int rc = dl_db_open (opts->db_path, false, &im.db);
    if (rc)
        return rc;
    rc = dl_schema_apply (im.db, DL_SCHEMA_MIGRATE, NULL, NULL);
    if (!rc)
        rc = dl_exec (im.db,
                      "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY; "
                      "CREATE TEMP TABLE IF NOT EXISTS import_touched (source TEXT NOT NULL, "
                      "group_key TEXT NOT NULL, PRIMARY KEY (source, group_key)); "
                      "DELETE FROM temp.import_touched; BEGIN IMMEDIATE",
                      "begin import");
    if (rc) {
        sqlite3_close (im.db);
        return rc;
    }
    char now[20];
    dl_now_utc (now, sizeof now);
    int64_t batch = 0;
    rc = dl_query_i64 (im.db, "SELECT COALESCE(MAX(batch_id), 0) + 1 FROM import_batches", &batch);
    im.batch_id = batch;
    if (!rc)
        rc = s_prepare (&im);
    if (!rc)
        rc = opts->workspace_url ? s_pull (&im, opts, &st) : s_import_dir (&im, opts, &st);
    s_finalize (&im);
    if (!rc && im.rows_changed > 0) {
        const char *apply = dl_sql_get ("import/apply.sql", NULL);
        rc = apply ? dl_exec (im.db, apply, "map imported rows")
                   : dl_fail (DL_E_SCHEMA, "import/apply.sql is not embedded");
        if (!rc)
            rc = dl_schema_refresh (im.db);
        if (!rc) {
            sqlite3_stmt *s = NULL;
            if (sqlite3_prepare_v2 (im.db,
                                    "INSERT INTO import_batches (batch_id, source, started_at, files, "
                                    "rows_read, rows_changed) VALUES (?1,?2,?3,?4,?5,?6)",
                                    -1, &s, NULL)
                != SQLITE_OK) {
                rc = dl_fail_sql (im.db, "prepare batch row");
            } else {
                sqlite3_bind_int64 (s, 1, im.batch_id);
                sqlite3_bind_text (s, 2, opts->dir ? opts->dir : opts->workspace_url, -1, SQLITE_STATIC);
                sqlite3_bind_text (s, 3, now, -1, SQLITE_STATIC);
                sqlite3_bind_int (s, 4, st.files);
                sqlite3_bind_int64 (s, 5, im.rows_read);
                sqlite3_bind_int64 (s, 6, im.rows_changed);
                if (sqlite3_step (s) != SQLITE_DONE)
                    rc = dl_fail_sql (im.db, "insert batch row");
                sqlite3_finalize (s);
            }
        }
        char detail[160];
        snprintf (detail, sizeof detail, "batch=%lld rows=%lld changed=%lld", (long long) im.batch_id,
                  (long long) im.rows_read, (long long) im.rows_changed);
        if (!rc)
            rc = dl_data_version_bump (im.db, "import", detail, NULL, &st.data_version);
    }
    if (!rc && im.rows_changed > 0) {
        rc = dl_exec (im.db, "COMMIT", "commit import");
    } else {
        /* error, or nothing new: write nothing */
        char keep[1024];
        snprintf (keep, sizeof keep, "%s", dl_last_error ());
        dl_exec (im.db, "ROLLBACK", NULL);
        if (rc)
            dl_fail (rc, "%s", keep);
        else
            dl_query_i64 (im.db, "SELECT version FROM data_version WHERE id=1", &st.data_version);
    }
    sqlite3_close (im.db);
    st.rows = im.rows_read;
    st.rows_changed = im.rows_changed;
    st.seconds = s_now () - t0;
    if (stats)
        *stats = st;
    return rc;
}
