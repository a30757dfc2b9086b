/* dl_gen.c — deterministic synthetic telemetry generator.
 *
 * What it writes. A complete telemetry DB: reference schema + migrations
 * (dl_schema_apply with a fixed applied_at), then in ONE transaction all
 * facts, then refresh/derived.sql (job_tags, rollups) and data_version.
 * Profiles: small = the reference workspace OU-CHICOLA with its fixed
 * entities over 2025-11-01..12-15; medium/large add generated workspaces
 * over 90 / 365 days ending 2025-12-15 (the reference workspace is always
 * workspace 0, so every reference scenario exists in every profile).
 *
 * Determinism. No wall clock, no hash-order, no SQLite random(): every
 * value comes from a seeded xoshiro256** stream. Each entity (job, compute,
 * workspace, query log) has its own stream derived from the seed and its id
 * (dl_rng_stream), and each value is one draw consumed in a fixed order.
 * The file is written with a fixed page size by a fixed sequence of SQL
 * operations, so the same profile + seed produce a byte-identical file.
 * The output is written to "<path>.partial" with journal_mode=OFF and
 * synchronous=OFF (speed), then switched to journal_mode=DELETE, closed,
 * fsync'ed and renamed over <path>, so <path> only ever holds a complete
 * file.
 *
 * Reference rules (seed-copilot.md §1.5-1.7) reproduced, with §11 fixes:
 *  - run ids are well-formed: {job}-{YYYYMMDD}-{NN}, retries {run}-R02..;
 *  - end_time = start_time + duration_ms exactly (durations are whole
 *    seconds); a retry starts 300 s after the previous attempt ENDS (no
 *    overlap);
 *  - total_cost = dbus_consumed x the sku_prices price valid at the usage
 *    time, for every row (APC and warehouse rows included);
 *  - ROUTE-OPT runs 3x and ML-TRAINING 2x a day; ROUTE-OPT fails about half
 *    of its runs in the 11-28..30 eviction window;
 *  - configuration drift and the ML regression come with real CONFIG_CHANGE
 *    events and config_changes rows (before/after, who);
 *  - the SUPPLY chain is in job_dependencies; a HARD upstream failure makes
 *    the downstream runs of that day SKIPPED (no usage row, no cluster
 *    events: a skipped run starts no cluster);
 *  - eviction reasons follow the provider message (price vs capacity);
 *    autoscaling events always change the node count; CLUSTER_TERMINATE is
 *    written for failed runs too; date_series is filled.
 *
 * Threading: single-threaded; SQLite inserts dominate the run time. */
#include "dl_gen.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dl_common.h"
#include "dl_progress.h"
#include "dl_rng.h"
#include "dl_schema.h"
#include "dl_time.h"

/* ------------------------------------------------------------------------ */
/* Profiles                                                                 */

typedef struct {
    const char *name;
    int y, m, d;          /* first day of the window */
    int ndays;
    int gen_workspaces;   /* generated workspaces besides OU-CHICOLA */
    int jobs_per_ws;
} profile_t;

static const profile_t s_profiles[] = {
    {"small", 2025, 11, 1, 45, 0, 0},
    {"medium", 2025, 9, 17, 90, 3, 40},
    {"large", 2024, 12, 16, 365, 20, 250},
};

bool
dl_gen_profile_known (const char *name)
{
    for (size_t i = 0; i < sizeof s_profiles / sizeof s_profiles[0]; i++)
        if (name && strcmp (name, s_profiles[i].name) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* Model                                                                    */

enum { ST_SUCCESS, ST_FAILED, ST_SKIPPED };
static const char *const s_status[] = {"SUCCESS", "FAILED", "SKIPPED"};

enum { SCHED_DAILY, SCHED_MULTI, SCHED_WEEKLY, SCHED_MONTHLY };

enum {
    R_NONE = -1,
    R_FIN_DAILY,
    R_FIN_MONTHLY,
    R_SUPPLY_RAW,
    R_SUPPLY_TRANSFORM,
    R_SUPPLY_DASHBOARD,
    R_HR_WEEKLY,
    R_ROUTE_OPT,
    R_ML_TRAINING,
    R_LEGACY_ETL
};

#define MAX_FIELDS 3
#define MAX_CHANGES 2
#define MAX_UP 2

typedef struct {
    char name[48];
    char before[48];
    char after[48];
} cfg_field_t;

typedef struct {
    int64_t at;              /* seconds; the change applies to runs starting at or after */
    int nfields;
    cfg_field_t f[MAX_FIELDS];
    int user;                /* index into users */
    bool emitted;
    /* effect on runs from `at` on */
    double spot_after;       /* < 0: unchanged */
    int max_after;           /* 0: unchanged */
    const char *worker_after; /* NULL: unchanged */
    double runtime_mult;     /* 1.0: no regression */
} cfg_change_t;

typedef struct {
    char id[40];
    char name[96];
    char desc[256];
    char tags[200];
    bool tags_null;
    int ws;
    int ref;                 /* R_* or R_NONE */
    const char *worker;
    int fixed, min, max;
    bool autoscale, fleet;
    char pool[32];
    double cpu_base, dbu_per_min, base_min, spot;
    int sched, runs_per_day, weekday, monthday, hour, minute_jitter;
    int max_retries;
    double p_fail, p_retry_fail;
    bool chronic, production;
    const char *sku;
    int up[MAX_UP], nup;     /* HARD upstream jobs (indexes; always < own index) */
    int nchanges;
    cfg_change_t chg[MAX_CHANGES];
    uint8_t *day_bad;        /* per day: final outcome FAILED or SKIPPED */
    int64_t *day_end;        /* per day: end of the day's last attempt (0 = no run) */
    dl_rng_t rng;
} job_t;

typedef struct {
    char id[40];
    char name[64];
    char account[24];
    char desc[200];
    char code[16];           /* "W01"; "" for the reference workspace */
    const char *cloud, *region;
    int user_first, user_count, system_user;
    const char *job_sku, *apc_sku, *wh_sku;
    int64_t incident[4];     /* first day (absolute) of 3-day capacity incidents */
    int nincidents;
    dl_rng_t rng;
} ws_t;

typedef struct {
    char id[32];
    char name[64];
    int ws;
    const char *dept;
} user_t;

typedef struct {
    char id[32];
    char name[64];
    bool warehouse;
    int ws;
    const char *instance;    /* APC instance type or warehouse size letter */
    const char *sku;
    const char *query_sku;   /* warehouse_sku text of queries: SQLWH-* */
    double memory;
    bool production;
    int kind;                /* reference compute kind (multipliers), -1 generic */
    dl_rng_t rng;
} compute_t;

typedef struct {
    const char *sku;
    double price;
    int64_t from, to;        /* seconds; to = 0 open */
} price_t;

typedef struct {
    sqlite3 *db;
    const profile_t *prof;
    uint64_t seed;
    int64_t day0, ndays, ref_day0;
    double t0;
    int64_t last_day;        /* latest day any row falls on */
    int err;
    /* entities */
    ws_t *ws;
    int nws;
    user_t *users;
    int nusers, cap_users;
    job_t *jobs;
    int njobs, cap_jobs;
    compute_t *computes;
    int ncomputes, cap_computes;
    price_t prices[16];
    int nprices;
    /* statements */
    sqlite3_stmt *s_ws, *s_wsd, *s_user, *s_pool, *s_njc, *s_job, *s_dep, *s_price, *s_date,
        *s_run, *s_use, *s_ev, *s_evict, *s_q, *s_cfg;
    dl_gen_stats_t st;
    dl_progress_t *progress;
} gen_t;

/* ------------------------------------------------------------------------ */
/* SQL helpers: sticky error, one step per row                               */

static void
s_bt (sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text (st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (st, i);
}

static void
s_bi (sqlite3_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64 (st, i, v);
}

static void
s_bd (sqlite3_stmt *st, int i, double v)
{
    sqlite3_bind_double (st, i, v);
}

static void
s_step (gen_t *g, sqlite3_stmt *st, const char *what)
{
    if (g->err)
        return;
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        g->err = dl_fail (DL_E_SQL, "insert %s: %s", what, sqlite3_errmsg (g->db));
        return;
    }
    g->st.rows_total++;
    if (g->progress && (g->st.rows_total & 1023) == 0)
        dl_progress_set (g->progress, (uint64_t) g->st.rows_total);
}

static sqlite3_stmt *
s_prep (gen_t *g, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (g->err)
        return NULL;
    if (sqlite3_prepare_v3 (g->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        g->err = dl_fail (DL_E_SQL, "prepare %.60s: %s", sql, sqlite3_errmsg (g->db));
    return st;
}

static double
s_round (double v, double scale)
{
    return round (v * scale) / scale;
}

static void
s_hex (uint64_t v, int ndigits, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = ndigits - 1; i >= 0; i--) {
        out[i] = hx[v & 15];
        v >>= 4;
    }
    out[ndigits] = '\0';
}

static int64_t
s_mod (int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

static int64_t
s_day_of (int y, int m, int d)
{
    return dl_days_from_civil (y, m, d);
}

static double
s_price_at (gen_t *g, const char *sku, int64_t t)
{
    for (int i = 0; i < g->nprices; i++) {
        const price_t *p = &g->prices[i];
        if (strcmp (p->sku, sku) == 0 && t >= p->from && (p->to == 0 || t < p->to))
            return p->price;
    }
    return 0.0; /* cannot happen: every SKU has an open window from day 0 */
}

static void *
s_grow (void *arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return arr;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc (arr, (size_t) ncap * elem);
    if (!p)
        return NULL;
    memset ((char *) p + (size_t) *cap * elem, 0, (size_t) (ncap - *cap) * elem);
    *cap = ncap;
    return p;
}

static job_t *
s_new_job (gen_t *g)
{
    job_t *nj = s_grow (g->jobs, &g->cap_jobs, g->njobs + 1, sizeof *g->jobs);
    if (!nj) {
        g->err = dl_fail (DL_E_NOMEM, "jobs");
        return NULL;
    }
    g->jobs = nj;
    job_t *j = &g->jobs[g->njobs++];
    memset (j, 0, sizeof *j);
    j->ref = R_NONE;
    j->day_bad = calloc ((size_t) g->ndays, 1);
    j->day_end = calloc ((size_t) g->ndays, sizeof (int64_t));
    if (!j->day_bad || !j->day_end)
        g->err = dl_fail (DL_E_NOMEM, "job day arrays");
    return j;
}

static int
s_new_user (gen_t *g, const char *id, const char *name, int ws, const char *dept)
{
    user_t *nu = s_grow (g->users, &g->cap_users, g->nusers + 1, sizeof *g->users);
    if (!nu) {
        g->err = dl_fail (DL_E_NOMEM, "users");
        return -1;
    }
    g->users = nu;
    user_t *u = &g->users[g->nusers];
    snprintf (u->id, sizeof u->id, "%s", id);
    snprintf (u->name, sizeof u->name, "%s", name);
    u->ws = ws;
    u->dept = dept;
    sqlite3_stmt *st = g->s_user;
    s_bt (st, 1, u->id);
    s_bt (st, 2, u->name);
    s_bt (st, 3, g->ws[ws].id);
    s_bt (st, 4, dept);
    s_step (g, st, "users_lookup");
    g->st.users++;
    return g->nusers++;
}

static compute_t *
s_new_compute (gen_t *g)
{
    compute_t *nc = s_grow (g->computes, &g->cap_computes, g->ncomputes + 1, sizeof *g->computes);
    if (!nc) {
        g->err = dl_fail (DL_E_NOMEM, "computes");
        return NULL;
    }
    g->computes = nc;
    compute_t *c = &g->computes[g->ncomputes++];
    memset (c, 0, sizeof *c);
    c->kind = -1;
    return c;
}

static void
s_insert_compute (gen_t *g, compute_t *c)
{
    dl_rng_stream (&c->rng, g->seed, c->id);
    sqlite3_stmt *st = g->s_njc;
    s_bt (st, 1, c->id);
    s_bt (st, 2, c->name);
    s_bt (st, 3, c->warehouse ? "SQL_WAREHOUSE" : "APC_CLUSTER");
    s_bt (st, 4, g->ws[c->ws].id);
    s_step (g, st, "non_job_compute");
}

static void
s_insert_pool (gen_t *g, const char *id, const char *name, const char *type, int mn, int mx, int term)
{
    sqlite3_stmt *st = g->s_pool;
    s_bt (st, 1, id);
    s_bt (st, 2, name);
    s_bt (st, 3, type);
    s_bi (st, 4, mn);
    s_bi (st, 5, mx);
    s_bi (st, 6, term);
    s_step (g, st, "instance_pools");
}

static void
s_insert_job (gen_t *g, job_t *j)
{
    dl_rng_stream (&j->rng, g->seed, j->id);
    sqlite3_stmt *st = g->s_job;
    s_bt (st, 1, j->id);
    s_bt (st, 2, g->ws[j->ws].id);
    s_bt (st, 3, j->name);
    s_bt (st, 4, j->desc);
    s_bt (st, 5, j->tags_null ? NULL : j->tags);
    s_step (g, st, "jobs");
    g->st.jobs++;
}

static void
s_insert_dep (gen_t *g, const job_t *up, const job_t *down, const char *type)
{
    sqlite3_stmt *st = g->s_dep;
    s_bt (st, 1, up->id);
    s_bt (st, 2, down->id);
    s_bt (st, 3, type);
    s_step (g, st, "job_dependencies");
    g->st.job_dependencies++;
}

static void
s_add_price (gen_t *g, const char *sku, double price, int64_t from, int64_t to)
{
    if (g->nprices >= (int) (sizeof g->prices / sizeof g->prices[0]))
        return;
    price_t *p = &g->prices[g->nprices++];
    p->sku = sku;
    p->price = price;
    p->from = from;
    p->to = to;
    char f[20], t[20];
    dl_fmt_ts (from, f);
    if (to)
        dl_fmt_ts (to, t);
    sqlite3_stmt *st = g->s_price;
    s_bt (st, 1, sku);
    s_bd (st, 2, price);
    s_bt (st, 3, f);
    s_bt (st, 4, to ? t : NULL);
    s_step (g, st, "sku_prices");
    g->st.sku_prices++;
}

/* ------------------------------------------------------------------------ */
/* Workspace 0: the reference's fixed entities (seed-copilot.md §1.4-1.5)    */

typedef struct {
    const char *id, *name, *desc, *tags, *worker;
    int fixed, min, max, autoscale, fleet;
    const char *pool;
    double cpu, dbu_per_min, base_min, spot;
    int sched, runs_per_day, hour, minute; /* hour/minute: fixed offset */
    int retries, production;
} ref_job_t;

static const ref_job_t s_ref_jobs[] = {
    {"J-FIN-DAILY", "Daily Financial Aggregation",
     "Critical end-of-day revenue aggregation. High priority SLA.",
     "[\"Finance\",\"Critical\",\"Daily\",\"SLA-4hr\"]", "r5.xlarge", 8, 8, 8, 0, 0, NULL, 0.65, 1.2,
     30, 0.10, SCHED_DAILY, 1, 2, 0, 3, 1},
    {"J-FIN-MONTHLY", "Monthly Revenue Rollup", "Month-end financial reporting pipeline.",
     "[\"Finance\",\"Monthly\"]", "r5.2xlarge", 12, 12, 12, 0, 0, NULL, 0.70, 2.0, 90, 0.0,
     SCHED_MONTHLY, 1, 0, 0, 0, 1},
    {"J-SUPPLY-RAW", "Supply Chain Raw Ingestion",
     "Ingests sensor data from distribution centers. Upstream to transformation jobs.",
     "[\"Supply Chain\",\"Ingestion\",\"Upstream\"]", "i3.xlarge", 5, 5, 5, 0, 1, NULL, 0.40, 0.8,
     20, 0.25, SCHED_DAILY, 1, 1, 0, 0, 0},
    {"J-SUPPLY-TRANSFORM", "Supply Chain Transformation",
     "Transforms raw supply chain data. DEPENDS ON: J-SUPPLY-RAW",
     "[\"Supply Chain\",\"Transformation\",\"Downstream\"]", "r5.xlarge", 6, 6, 12, 1, 0, NULL,
     0.55, 1.0, 35, 0.30, SCHED_DAILY, 1, 2, 30, 0, 0},
    {"J-SUPPLY-DASHBOARD", "Supply Chain Dashboard Refresh",
     "Updates operational dashboard. DEPENDS ON: J-SUPPLY-TRANSFORM",
     "[\"Supply Chain\",\"Dashboard\",\"Downstream\"]", "i3.xlarge", 4, 4, 4, 0, 0,
     "POOL-WORKER-STD", 0.45, 0.7, 15, 0.20, SCHED_DAILY, 1, 3, 30, 0, 0},
    {"J-HR-WEEKLY", "Weekly HR Metrics", "Calculates employee metrics for leadership review.",
     "[\"HR\"]", "i3.xlarge", 3, 3, 3, 0, 0, NULL, 0.35, 0.6, 25, 0.15, SCHED_WEEKLY, 1, 8, 0, 0,
     0},
    {"J-ROUTE-OPT", "Logistics Route Optimizer",
     "ML-based route optimization. High spot usage, prone to evictions.",
     "[\"Logistics\",\"Optimization\",\"Autoscaling\",\"SpotHeavy\"]", "r5.2xlarge", 4, 4, 12, 1, 0,
     NULL, 0.30, 1.5, 45, 0.70, SCHED_MULTI, 3, 6, 0, 0, 0},
    {"J-ML-TRAINING", "Product Recommendation Model Training",
     "Trains recommendation model. GPU-heavy, expensive.",
     "[\"DataScience\",\"ML\",\"GPU\",\"Autoscaling\",\"Critical\"]", "g4dn.xlarge", 6, 6, 12, 1, 0,
     "POOL-WORKER-GPU", 0.75, 3.5, 120, 0.50, SCHED_MULTI, 2, 0, 0, 3, 1},
    {"J-LEGACY-ETL", "Legacy Customer Data ETL",
     "Old ETL pipeline with inefficient queries. Needs refactor.", NULL, "r5.xlarge", 10, 10, 10, 0,
     0, NULL, 0.85, 2.2, 180, 0.05, SCHED_DAILY, 1, 4, 0, 3, 0},
};

typedef struct {
    const char *id, *name, *dept;
} ref_user_t;

static const ref_user_t s_ref_users[] = {
    {"U-ALICE", "Alice Chen", "Finance"},          {"U-BOB", "Bob Martinez", "Supply Chain"},
    {"U-CHARLIE", "Charlie Kumar", "HR"},          {"U-DAVID", "David Thompson", "Logistics"},
    {"U-EMILY", "Emily Rodriguez", "Data Science"}, {"U-FRANK", "Frank Lee", "Supply Chain"},
    {"U-SYSTEM", "System Account", "System"},
};

enum { RC_APC_LOGISTICS, RC_APC_FINANCE, RC_APC_LEGACY, RC_WH_FINANCE, RC_WH_SUPPLY, RC_WH_HR, RC_WH_ML };

static int
s_find_user (gen_t *g, const char *id)
{
    for (int i = 0; i < g->nusers; i++)
        if (strcmp (g->users[i].id, id) == 0)
            return i;
    return 0;
}

static int
s_find_job (gen_t *g, const char *id)
{
    for (int i = 0; i < g->njobs; i++)
        if (strcmp (g->jobs[i].id, id) == 0)
            return i;
    return -1;
}

static void
s_field (cfg_change_t *c, const char *name, const char *before, const char *after)
{
    if (c->nfields >= MAX_FIELDS)
        return;
    cfg_field_t *f = &c->f[c->nfields++];
    snprintf (f->name, sizeof f->name, "%s", name);
    snprintf (f->before, sizeof f->before, "%s", before);
    snprintf (f->after, sizeof f->after, "%s", after);
}

static int64_t
s_ts (int y, int m, int d, int hh, int mi)
{
    return s_day_of (y, m, d) * DL_DAY_SECONDS + hh * 3600 + mi * 60;
}

static void
s_build_reference_ws (gen_t *g)
{
    ws_t *w = &g->ws[0];
    snprintf (w->id, sizeof w->id, "OU-CHICOLA");
    snprintf (w->name, sizeof w->name, "Chicago Cola Co.");
    snprintf (w->account, sizeof w->account, "CCOL-1234");
    snprintf (w->desc, sizeof w->desc,
              "Leading beverage distributor, heavily focused on optimizing supply chain and finance "
              "reporting systems.");
    w->code[0] = '\0';
    w->cloud = "AWS";
    w->region = "us-east-2";
    w->job_sku = "STANDARD_JOB_COMPUTE";
    w->apc_sku = "STANDARD_ALL_PURPOSE_COMPUTE";
    w->wh_sku = "STANDARD_SQL_WAREHOUSE_COMPUTE";
    dl_rng_stream (&w->rng, g->seed, "queries::OU-CHICOLA");

    w->user_first = g->nusers;
    for (size_t i = 0; i < sizeof s_ref_users / sizeof s_ref_users[0]; i++)
        s_new_user (g, s_ref_users[i].id, s_ref_users[i].name, 0, s_ref_users[i].dept);
    w->user_count = g->nusers - w->user_first;
    w->system_user = s_find_user (g, "U-SYSTEM");

    s_insert_pool (g, "POOL-WORKER-STD", "Standard Worker Pool", "i3.xlarge", 2, 8, 30);
    s_insert_pool (g, "POOL-WORKER-GPU", "GPU Worker Pool", "g4dn.xlarge", 1, 4, 15);

    static const struct {
        const char *id, *name;
        int wh;
        const char *inst, *qsku;
        double mem;
        int prod;
    } rc[] = {
        {"APC-LOGISTICS", "Logistics Analytics Cluster", 0, "r5.xlarge", NULL, 128, 0},
        {"APC-FINANCE", "Finance Ad-Hoc Cluster", 0, "r5.xlarge", NULL, 128, 1},
        {"APC-LEGACY", "Legacy ETL Cluster", 0, "i3.2xlarge", NULL, 128, 0},
        {"WH-FINANCE", "Finance SQL Warehouse", 1, "L", NULL, 256, 1},
        {"WH-SUPPLY", "Supply Chain Warehouse", 1, "L", NULL, 256, 1},
        {"WH-HR", "HR Analytics Warehouse", 1, "M", NULL, 128, 0},
        {"WH-ML", "ML Experimentation WH", 1, "XL", NULL, 512, 0},
    };
    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
        compute_t *c = s_new_compute (g);
        if (!c)
            return;
        snprintf (c->id, sizeof c->id, "%s", rc[i].id);
        snprintf (c->name, sizeof c->name, "%s", rc[i].name);
        c->warehouse = rc[i].wh;
        c->ws = 0;
        c->instance = rc[i].inst;
        c->sku = rc[i].wh ? w->wh_sku : w->apc_sku;
        c->memory = rc[i].mem;
        c->production = rc[i].prod;
        c->kind = (int) i;
        s_insert_compute (g, c);
    }

    for (size_t i = 0; i < sizeof s_ref_jobs / sizeof s_ref_jobs[0]; i++) {
        const ref_job_t *r = &s_ref_jobs[i];
        job_t *j = s_new_job (g);
        if (!j)
            return;
        snprintf (j->id, sizeof j->id, "%s", r->id);
        snprintf (j->name, sizeof j->name, "%s", r->name);
        snprintf (j->desc, sizeof j->desc, "%s", r->desc);
        j->tags_null = r->tags == NULL;
        snprintf (j->tags, sizeof j->tags, "%s", r->tags ? r->tags : "");
        j->ws = 0;
        j->ref = (int) i;
        j->worker = r->worker;
        j->fixed = r->fixed;
        j->min = r->min;
        j->max = r->max;
        j->autoscale = r->autoscale;
        j->fleet = r->fleet;
        snprintf (j->pool, sizeof j->pool, "%s", r->pool ? r->pool : "");
        j->cpu_base = r->cpu;
        j->dbu_per_min = r->dbu_per_min;
        j->base_min = r->base_min;
        j->spot = r->spot;
        j->sched = r->sched;
        j->runs_per_day = r->runs_per_day;
        j->weekday = 0; /* Monday */
        j->monthday = 1;
        j->hour = r->hour;
        j->minute_jitter = r->minute;
        j->max_retries = r->retries;
        j->production = r->production;
        j->sku = w->job_sku;
        s_insert_job (g, j);
    }
    /* The SUPPLY chain as rows (the reference only had description text). */
    int raw = s_find_job (g, "J-SUPPLY-RAW"), tr = s_find_job (g, "J-SUPPLY-TRANSFORM"),
        da = s_find_job (g, "J-SUPPLY-DASHBOARD");
    g->jobs[tr].up[g->jobs[tr].nup++] = raw;
    g->jobs[da].up[g->jobs[da].nup++] = tr;
    s_insert_dep (g, &g->jobs[raw], &g->jobs[tr], "HARD");
    s_insert_dep (g, &g->jobs[tr], &g->jobs[da], "HARD");

    /* Configuration drift on ROUTE-OPT around the eviction window, and the
     * ML-TRAINING change that causes the December regression. */
    job_t *ro = &g->jobs[s_find_job (g, "J-ROUTE-OPT")];
    cfg_change_t *c = &ro->chg[ro->nchanges++];
    c->at = s_ts (2025, 11, 27, 19, 5);
    c->user = s_find_user (g, "U-DAVID");
    c->spot_after = 0.85;
    c->runtime_mult = 1.0;
    s_field (c, "spot_ratio", "0.70", "0.85");
    s_field (c, "first_on_demand", "2", "1");
    c = &ro->chg[ro->nchanges++];
    c->at = s_ts (2025, 12, 1, 5, 10);
    c->user = s_find_user (g, "U-DAVID");
    c->spot_after = 0.70;
    c->runtime_mult = 1.0;
    s_field (c, "spot_ratio", "0.85", "0.70");
    s_field (c, "first_on_demand", "1", "2");

    job_t *ml = &g->jobs[s_find_job (g, "J-ML-TRAINING")];
    c = &ml->chg[ml->nchanges++];
    c->at = s_ts (2025, 11, 30, 22, 0);
    c->user = s_find_user (g, "U-EMILY");
    c->spot_after = 0.65;
    c->runtime_mult = 1.4;
    s_field (c, "spot_ratio", "0.50", "0.65");
    s_field (c, "spark_version", "14.3.x-gpu-ml-scala2.12", "15.4.x-gpu-ml-scala2.12");
    s_field (c, "spark_conf.spark.sql.shuffle.partitions", "800", "200");
}

/* ------------------------------------------------------------------------ */
/* Generated workspaces                                                     */

static const char *const s_org[] = {
    "NORTHWIND", "CONTOSO",  "FABRIKAM",  "TAILSPIN", "WINGTIP",   "LITWARE",  "PROSEWARE",
    "ALPINE",    "BLUEYONDER", "COHO",    "LUCERNE",  "MARGIES",   "TREY",     "WIDEWORLD",
    "WOODGROVE", "GRAPHIC",  "HUMONGOUS", "LAMNA",    "SOUTHRIDGE", "ADATUM",  "RELECLOUD",
    "FOURTHCOFFEE", "VANARSDEL", "CONTOSOPHARMA"};
static const char *const s_region[] = {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
                                       "ap-southeast-2"};

typedef struct {
    const char *code, *dept, *noun;
} domain_t;

static const domain_t s_domains[] = {
    {"FIN", "Finance", "Finance"},       {"SUPPLY", "Supply Chain", "Supply Chain"},
    {"HR", "HR", "People"},              {"MKT", "Marketing", "Marketing"},
    {"SALES", "Sales", "Sales"},         {"ML", "Data Science", "Model"},
    {"LOG", "Logistics", "Logistics"},   {"OPS", "Operations", "Operations"},
    {"RISK", "Risk", "Risk"},            {"CRM", "Customer", "Customer"},
};
#define NDOMAINS ((int) (sizeof s_domains / sizeof s_domains[0]))

static const char *const s_objects[] = {"Ledger", "Orders", "Inventory", "Events", "Sessions",
                                        "Claims", "Shipments", "Invoices", "Features", "Metrics",
                                        "Accounts", "Payments"};
static const char *const s_verbs[] = {"Ingestion", "Aggregation", "Enrichment", "Snapshot",
                                      "Reconciliation", "Export", "Scoring", "Compaction",
                                      "Deduplication", "Backfill"};
static const char *const s_first[] = {"Ava", "Ben", "Chloe", "Diego", "Elena", "Farah", "Gus",
                                      "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo", "Nina",
                                      "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara"};
static const char *const s_last[] = {"Adams", "Baker", "Chen", "Dubois", "Evans", "Garcia",
                                     "Hughes", "Ito", "Jensen", "Khan", "Lopez", "Moreau", "Novak",
                                     "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber", "Young"};
static const struct {
    const char *type;
    double dbu_scale;
} s_workers[] = {{"i3.xlarge", 0.9},  {"i3.2xlarge", 1.6}, {"r5.xlarge", 1.0}, {"r5.2xlarge", 1.8},
                 {"m5.xlarge", 0.8},  {"m5.2xlarge", 1.5}, {"c5.2xlarge", 1.4}, {"g4dn.xlarge", 2.5}};
#define NWORKERS ((int) (sizeof s_workers / sizeof s_workers[0]))

#define PICK(r, arr) (arr[dl_rng_int ((r), 0, (int64_t) (sizeof arr / sizeof arr[0]) - 1)])

static const char *
s_case_variant (dl_rng_t *r, const char *word, char *buf, size_t size)
{
    int v = (int) dl_rng_int (r, 0, 3);
    snprintf (buf, size, "%s", word);
    for (char *p = buf; *p; p++) {
        if (v == 1 && *p >= 'A' && *p <= 'Z')
            *p = (char) (*p - 'A' + 'a');
        else if (v == 2 && *p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
        else if (v == 3 && *p == ' ')
            *p = '_';
    }
    return buf;
}

/* Messy tags, as real workspaces have them (scenario 6). */
static void
s_messy_tags (dl_rng_t *r, const domain_t *d, job_t *j, const char *owner)
{
    double u = dl_rng_unit (r);
    char a[32], b[32];
    const char *crit = dl_rng_chance (r, 0.5) ? "Critical" : "Daily";
    int sla = (int) dl_rng_int (r, 1, 12);
    if (u < 0.15) {
        j->tags_null = true;
        j->tags[0] = '\0';
    } else if (u < 0.55) {
        snprintf (j->tags, sizeof j->tags, "[\"%s\",\"%s\",\"SLA-%dhr\"]",
                  s_case_variant (r, d->dept, a, sizeof a), crit, sla);
    } else if (u < 0.75) {
        snprintf (j->tags, sizeof j->tags,
                  "{\"team\":\"%s\",\"cost_center\":\"CC-%03d\",\"env\":\"%s\"}",
                  s_case_variant (r, d->code, a, sizeof a), (int) dl_rng_int (r, 100, 999),
                  j->production ? "prod" : "dev");
    } else if (u < 0.87) {
        snprintf (j->tags, sizeof j->tags, "%s, %s",
                  s_case_variant (r, d->dept, a, sizeof a), crit);
    } else {
        snprintf (j->tags, sizeof j->tags, "[\"team=%s\",\"owner:%s\",\"%s\"]",
                  s_case_variant (r, d->code, b, sizeof b), owner, crit);
    }
}

static void
s_build_generated_ws (gen_t *g, int wi)
{
    ws_t *w = &g->ws[wi];
    const char *org = s_org[(wi - 1) % (int) (sizeof s_org / sizeof s_org[0])];
    snprintf (w->code, sizeof w->code, "W%02d", wi);
    snprintf (w->id, sizeof w->id, "OU-%s", org);
    if ((wi - 1) >= (int) (sizeof s_org / sizeof s_org[0]))
        snprintf (w->id, sizeof w->id, "OU-%s-%02d", org, wi);
    dl_rng_stream (&w->rng, g->seed, w->id);
    dl_rng_t *r = &w->rng;
    snprintf (w->name, sizeof w->name, "%c%s Analytics (%s)", org[0], org + 1, w->code);
    for (char *p = w->name + 1; *p && *p != ' '; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char) (*p - 'A' + 'a');
    snprintf (w->account, sizeof w->account, "ACCT-%04d", (int) dl_rng_int (r, 1000, 9999));
    snprintf (w->desc, sizeof w->desc, "Generated workspace %s (%s).", w->code, org);
    w->cloud = "AWS";
    w->region = s_region[dl_rng_int (r, 0, (int64_t) (sizeof s_region / sizeof s_region[0]) - 1)];
    w->job_sku = "PREMIUM_JOBS_COMPUTE";
    w->apc_sku = "PREMIUM_ALL_PURPOSE_COMPUTE";
    w->wh_sku = "PREMIUM_SQL_COMPUTE";
    w->nincidents = (int) (g->ndays / 150) + 1;
    if (w->nincidents > 4)
        w->nincidents = 4;
    for (int i = 0; i < w->nincidents; i++)
        w->incident[i] = g->day0 + dl_rng_int (r, 0, g->ndays - 3);

    /* users */
    char id[32], name[64], tmp[40];
    w->user_first = g->nusers;
    for (int i = 1; i <= 10; i++) {
        snprintf (id, sizeof id, "U-%s-%03d", w->code, i);
        snprintf (name, sizeof name, "%s %s", PICK (r, s_first), PICK (r, s_last));
        s_new_user (g, id, name, wi, s_domains[dl_rng_int (r, 0, NDOMAINS - 1)].dept);
    }
    snprintf (id, sizeof id, "U-%s-SYSTEM", w->code);
    w->system_user = s_new_user (g, id, "System Account", wi, "System");
    w->user_count = g->nusers - w->user_first;

    char pool_std[32], pool_gpu[32];
    snprintf (pool_std, sizeof pool_std, "POOL-%s-STD", w->code);
    snprintf (pool_gpu, sizeof pool_gpu, "POOL-%s-GPU", w->code);
    s_insert_pool (g, pool_std, "Standard Worker Pool", "i3.xlarge", 2, 16, 30);
    s_insert_pool (g, pool_gpu, "GPU Worker Pool", "g4dn.xlarge", 1, 8, 15);

    /* non-job compute */
    int napc = (int) dl_rng_int (r, 2, 3), nwh = (int) dl_rng_int (r, 2, 3);
    static const char *const sizes[] = {"SMALL", "MEDIUM", "LARGE", "XL"};
    static const char *const letters[] = {"S", "M", "L", "XL"};
    static const double wh_mem[] = {64, 128, 256, 512};
    for (int i = 0; i < napc + nwh; i++) {
        compute_t *c = s_new_compute (g);
        if (!c)
            return;
        const domain_t *d = &s_domains[dl_rng_int (r, 0, NDOMAINS - 1)];
        c->ws = wi;
        c->warehouse = i >= napc;
        if (!c->warehouse) {
            snprintf (c->id, sizeof c->id, "APC-%s-%d", w->code, i + 1);
            snprintf (c->name, sizeof c->name, "%s Ad-Hoc Cluster %d", d->dept, i + 1);
            c->instance = s_workers[dl_rng_int (r, 0, NWORKERS - 2)].type;
            c->sku = w->apc_sku;
            c->memory = 128;
        } else {
            int sz = (int) dl_rng_int (r, 0, 3);
            snprintf (c->id, sizeof c->id, "WH-%s-%d", w->code, i - napc + 1);
            snprintf (c->name, sizeof c->name, "%s SQL Warehouse", d->dept);
            c->instance = letters[sz];
            snprintf (tmp, sizeof tmp, "%s", sizes[sz]);
            c->query_sku = sz == 0 ? "SQLWH-SMALL" : sz == 1 ? "SQLWH-MEDIUM" : sz == 2 ? "SQLWH-LARGE"
                                                                                      : "SQLWH-XL";
            c->sku = w->wh_sku;
            c->memory = wh_mem[sz];
        }
        c->production = dl_rng_chance (r, 0.5);
        s_insert_compute (g, c);
    }

    /* jobs */
    int first_job = g->njobs;
    for (int k = 1; k <= g->prof->jobs_per_ws && !g->err; k++) {
        const domain_t *d = &s_domains[dl_rng_int (r, 0, NDOMAINS - 1)];
        job_t *j = s_new_job (g);
        if (!j)
            return;
        j->ws = wi;
        snprintf (j->id, sizeof j->id, "J-%s-%s-%03d", w->code, d->code, k);
        const char *obj = PICK (r, s_objects), *verb = PICK (r, s_verbs);
        snprintf (j->name, sizeof j->name, "%s %s %s", d->noun, obj, verb);
        int wk = (int) dl_rng_int (r, 0, NWORKERS - 1);
        j->worker = s_workers[wk].type;
        j->autoscale = dl_rng_chance (r, 0.5);
        if (j->autoscale) {
            j->min = (int) dl_rng_int (r, 2, 8);
            j->max = j->min + (int) dl_rng_int (r, 2, 10);
        } else {
            j->min = j->max = (int) dl_rng_int (r, 2, 16);
        }
        j->fixed = j->min;
        j->fleet = dl_rng_chance (r, 0.1);
        if (dl_rng_chance (r, 0.15))
            snprintf (j->pool, sizeof j->pool, "%s",
                      strcmp (j->worker, "g4dn.xlarge") == 0 ? pool_gpu : pool_std);
        j->spot = dl_rng_chance (r, 0.35) ? 0.0 : s_round (dl_rng_uniform (r, 0.1, 0.9), 100);
        j->cpu_base = dl_rng_uniform (r, 0.25, 0.9);
        j->dbu_per_min = s_round (dl_rng_uniform (r, 0.3, 2.0) * s_workers[wk].dbu_scale, 100);
        j->base_min = round (exp (dl_rng_uniform (r, log (5.0), log (240.0))));
        double u = dl_rng_unit (r);
        j->sched = u < 0.55 ? SCHED_DAILY : u < 0.80 ? SCHED_MULTI : u < 0.93 ? SCHED_WEEKLY
                                                                                : SCHED_MONTHLY;
        j->runs_per_day = j->sched == SCHED_MULTI ? (int) dl_rng_int (r, 2, 4) : 1;
        if (j->sched == SCHED_MULTI && j->base_min > 360.0 / j->runs_per_day)
            j->base_min = 360.0 / j->runs_per_day;
        j->weekday = (int) dl_rng_int (r, 0, 6);
        j->monthday = (int) dl_rng_int (r, 1, 28);
        j->hour = (int) dl_rng_int (r, 0, 23);
        j->minute_jitter = 0;
        j->max_retries = dl_rng_chance (r, 0.3) ? (int) dl_rng_int (r, 1, 3) : 0;
        j->chronic = dl_rng_chance (r, 0.06);
        j->p_fail = j->chronic ? dl_rng_uniform (r, 0.12, 0.25) : dl_rng_uniform (r, 0.002, 0.04);
        j->p_retry_fail = dl_rng_uniform (r, 0.2, 0.5);
        j->production = dl_rng_chance (r, 0.4);
        j->sku = w->job_sku;
        const user_t *owner = &g->users[w->user_first + dl_rng_int (r, 0, w->user_count - 2)];
        /* Pipelines: a daily job may depend on a recent daily job of the workspace. */
        if (j->sched == SCHED_DAILY && dl_rng_chance (r, 0.35)) {
            int lo = g->njobs - 6 > first_job ? g->njobs - 6 : first_job;
            for (int tries = 0; tries < 3 && j->nup < MAX_UP; tries++) {
                int cand = (int) dl_rng_int (r, lo, g->njobs - 1);
                if (cand >= g->njobs - 1 || g->jobs[cand].sched != SCHED_DAILY)
                    continue;
                bool dup = false;
                for (int q = 0; q < j->nup; q++)
                    dup |= j->up[q] == cand;
                if (!dup)
                    j->up[j->nup++] = cand;
                if (!dl_rng_chance (r, 0.2))
                    break;
            }
        }
        char deps[96] = "";
        for (int q = 0; q < j->nup; q++) {
            size_t len = strlen (deps);
            snprintf (deps + len, sizeof deps - len, "%s%s", q ? ", " : "", g->jobs[j->up[q]].id);
        }
        snprintf (j->desc, sizeof j->desc, "%s %s %s for %s. Owner: %s.%s%s%s", d->noun, obj, verb,
                  d->dept, owner->name, j->chronic ? " Known to be flaky; data volume grows." : "",
                  j->nup ? " DEPENDS ON: " : "", deps);
        s_messy_tags (r, d, j, owner->id + 2);
        /* Configuration change (drift / regression) for about a third of the
         * jobs that run at least weekly. */
        if (j->sched != SCHED_MONTHLY && g->ndays >= 20 && dl_rng_chance (r, 0.33)) {
            cfg_change_t *c = &j->chg[j->nchanges++];
            int64_t day = g->day0 + dl_rng_int (r, 3, g->ndays - 15);
            c->at = day * DL_DAY_SECONDS + 20 * 3600 + dl_rng_int (r, 0, 3599);
            c->user = w->user_first + (int) dl_rng_int (r, 0, w->user_count - 2);
            c->spot_after = -1;
            c->runtime_mult = 1.0;
            char b[48], a[48];
            int kind = (int) dl_rng_int (r, 0, 3);
            if (kind == 0) {
                double ns = j->spot == 0 ? 0.5 : s_round (fmin (0.95, j->spot + dl_rng_uniform (r, 0.15, 0.4)), 100);
                snprintf (b, sizeof b, "%.2f", j->spot);
                snprintf (a, sizeof a, "%.2f", ns);
                s_field (c, "spot_ratio", b, a);
                c->spot_after = ns;
            } else if (kind == 1) {
                int nm = j->max + (int) dl_rng_int (r, 2, 8);
                snprintf (b, sizeof b, "%d", j->max);
                snprintf (a, sizeof a, "%d", nm);
                s_field (c, "max_nodes", b, a);
                c->max_after = nm;
            } else if (kind == 2) {
                const char *nw = s_workers[dl_rng_int (r, 0, NWORKERS - 2)].type;
                if (strcmp (nw, j->worker) == 0)
                    nw = strcmp (j->worker, "r5.xlarge") == 0 ? "m5.xlarge" : "r5.xlarge";
                s_field (c, "worker_instance_type", j->worker, nw);
                c->worker_after = nw;
            } else {
                s_field (c, "spark_version", "14.3.x-scala2.12", "15.4.x-scala2.12");
            }
            if (dl_rng_chance (r, 0.4)) {
                c->runtime_mult = dl_rng_uniform (r, 1.2, 1.6);
                s_field (c, "spark_conf.spark.sql.shuffle.partitions", "800", "200");
            }
        }
        s_insert_job (g, j);
        for (int q = 0; q < j->nup; q++)
            s_insert_dep (g, &g->jobs[j->up[q]], j, "HARD");
    }
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                     */

typedef struct {
    job_t *j;
    int64_t day;
    int slot;                /* 1-based run number of the day */
    int attempt;             /* 1 = initial run, 2.. = retries (-R02 ..) */
    int64_t start, dur_s;
    int status;
    const char *error;
    int min_nodes, max_nodes;
    double spot;
    const char *worker;
    bool evict;
    const char *evict_msg;
    int evict_reason;        /* 0 capacity, 1 price, -1 draw */
    bool was_retried;
} attempt_t;

static const char *
s_mem_worker (const char *w, double *mem)
{
    if (strncmp (w, "g4dn", 4) == 0)
        *mem = 256;
    else if (strstr (w, "2xlarge"))
        *mem = 128;
    else
        *mem = 64;
    return w;
}

static void
s_emit_config_change (gen_t *g, job_t *j, cfg_change_t *c, const char *usage_id)
{
    char when[20], ymd[9], ev_id[96], details[512], chg_id[160];
    dl_fmt_ts (c->at, when);
    dl_fmt_ymd (c->at / DL_DAY_SECONDS, ymd);
    snprintf (ev_id, sizeof ev_id, "EVT-CFG-%s-%s", j->id, ymd);
    int off = snprintf (details, sizeof details, "Config change on %s:", j->id);
    for (int i = 0; i < c->nfields && off > 0 && (size_t) off < sizeof details; i++)
        off += snprintf (details + off, sizeof details - (size_t) off, "%s %s %s -> %s",
                         i ? ";" : "", c->f[i].name, c->f[i].before, c->f[i].after);
    sqlite3_stmt *st = g->s_ev;
    s_bt (st, 1, ev_id);
    s_bt (st, 2, usage_id);
    s_bt (st, 3, when);
    s_bt (st, 4, "CONFIG_CHANGE");
    s_bt (st, 5, g->users[c->user].id);
    s_bt (st, 6, details);
    s_bt (st, 7, NULL);
    s_step (g, st, "events");
    g->st.events++;
    for (int i = 0; i < c->nfields; i++) {
        snprintf (chg_id, sizeof chg_id, "CHG-%s-%s-%s", j->id, ymd, c->f[i].name);
        st = g->s_cfg;
        s_bt (st, 1, chg_id);
        s_bt (st, 2, "JOB");
        s_bt (st, 3, j->id);
        s_bt (st, 4, when);
        s_bt (st, 5, c->f[i].name);
        s_bt (st, 6, c->f[i].before);
        s_bt (st, 7, c->f[i].after);
        s_bt (st, 8, g->users[c->user].id);
        s_bt (st, 9, ev_id);
        s_step (g, st, "config_changes");
        g->st.config_changes++;
    }
    c->emitted = true;
}

static void
s_emit_attempt (gen_t *g, attempt_t *a)
{
    job_t *j = a->j;
    dl_rng_t *r = &j->rng;
    const ws_t *w = &g->ws[j->ws];
    const char *sys = g->users[w->system_user].id;
    char ymd[9], run_id[64], start[20], end[20], date[11];
    dl_fmt_ymd (a->day, ymd);
    if (a->attempt > 1)
        snprintf (run_id, sizeof run_id, "%s-%s-%02d-R%02d", j->id, ymd, a->slot, a->attempt);
    else
        snprintf (run_id, sizeof run_id, "%s-%s-%02d", j->id, ymd, a->slot);
    int64_t end_s = a->start + a->dur_s;
    if (end_s / DL_DAY_SECONDS > g->last_day)
        g->last_day = end_s / DL_DAY_SECONDS;
    dl_fmt_ts (a->start, start);
    dl_fmt_ts (end_s, end);
    dl_fmt_date (a->start / DL_DAY_SECONDS, date);

    sqlite3_stmt *st = g->s_run;
    s_bt (st, 1, run_id);
    s_bt (st, 2, j->id);
    s_bt (st, 3, start);
    s_bt (st, 4, end);
    s_bi (st, 5, a->dur_s * 1000);
    s_bt (st, 6, s_status[a->status]);
    s_bt (st, 7, a->error);
    s_bt (st, 8, "m5.xlarge");
    s_bt (st, 9, a->worker);
    s_bi (st, 10, j->fleet);
    s_bt (st, 11, j->pool[0] ? j->pool : NULL);
    s_bi (st, 12, a->min_nodes);
    s_bi (st, 13, a->max_nodes);
    s_bi (st, 14, j->fixed);
    s_bi (st, 15, j->autoscale);
    s_bd (st, 16, a->spot);
    s_step (g, st, "job_runs");
    g->st.job_runs++;
    if (a->status == ST_SKIPPED)
        return;

    for (int c = 0; c < j->nchanges; c++)
        if (!j->chg[c].emitted && a->start >= j->chg[c].at)
            s_emit_config_change (g, j, &j->chg[c], run_id);

    /* usage row (compute_usage_id = job_run_id, as in the reference) */
    double factor = (a->attempt > 1 && a->status == ST_FAILED) ? 1.2 : 1.0;
    double dbus = s_round (j->dbu_per_min * ((double) a->dur_s / 60.0)
                               * ((a->min_nodes + a->max_nodes) / 2.0) * factor,
                           1e6);
    double cost = dbus * s_price_at (g, j->sku, a->start);
    char cluster[48], hex[16];
    s_hex (dl_rng_next (r) & 0xffffffffu, 8, hex);
    snprintf (cluster, sizeof cluster, "%s-cluster-%s", a->worker, hex);
    double cpu = s_round (j->cpu_base + dl_rng_uniform (r, -0.10, 0.10), 100);
    if (cpu < 0.01)
        cpu = 0.01;
    if (cpu > 1.0)
        cpu = 1.0;
    double mem;
    s_mem_worker (a->worker, &mem);
    int users = (int) dl_rng_int (r, 1, 5);
    st = g->s_use;
    s_bt (st, 1, run_id);
    s_bt (st, 2, run_id);
    s_bt (st, 3, "JOB_RUN");
    s_bt (st, 4, j->sku);
    s_bd (st, 5, dbus);
    s_bt (st, 6, cluster);
    s_bt (st, 7, a->worker);
    s_bd (st, 8, cost);
    s_bd (st, 9, cpu);
    s_bd (st, 10, mem);
    s_bi (st, 11, users);
    s_bi (st, 12, j->production);
    s_bt (st, 13, date);
    s_step (g, st, "compute_usage");
    g->st.compute_usage++;

    /* events */
    char ev_id[96], details[256], t[20];
    snprintf (ev_id, sizeof ev_id, "EVT-START-%s", run_id);
    snprintf (details, sizeof details, "Cluster starting for job: %s with %d to %d nodes", j->id,
              a->min_nodes, a->max_nodes);
    st = g->s_ev;
    s_bt (st, 1, ev_id);
    s_bt (st, 2, run_id);
    s_bt (st, 3, start);
    s_bt (st, 4, "CLUSTER_START");
    s_bt (st, 5, sys);
    s_bt (st, 6, details);
    s_bt (st, 7, NULL);
    s_step (g, st, "events");
    g->st.events++;

    if (j->autoscale && a->status == ST_SUCCESS && a->max_nodes > a->min_nodes) {
        bool ref = j->ref != R_NONE;
        if (dl_rng_chance (r, ref ? 0.6 : 0.9)) {
            int n = ref ? (int) dl_rng_int (r, 1, 2) : (int) dl_rng_int (r, 2, 5);
            int cur = a->min_nodes;
            for (int i = 0; i < n; i++) {
                int to;
                if (i == n - 1 && n > 1 && !ref && cur != a->min_nodes)
                    to = a->min_nodes; /* scale back down before the end */
                else
                    to = (int) dl_rng_int (r, a->min_nodes + 1, a->max_nodes);
                if (to == cur) /* never "scaled from 6 to 6" (reference bug) */
                    to = cur == a->max_nodes ? a->min_nodes : a->max_nodes;
                int64_t at = a->start + a->dur_s * (i + 1) / (n + 1);
                dl_fmt_ts (at, t);
                snprintf (ev_id, sizeof ev_id, "EVT-SCALE-%s-%d", run_id, i);
                snprintf (details, sizeof details, "Cluster scaled from %d to %d nodes", cur, to);
                s_bt (st, 1, ev_id);
                s_bt (st, 2, run_id);
                s_bt (st, 3, t);
                s_bt (st, 4, "AUTOSCALING");
                s_bt (st, 5, sys);
                s_bt (st, 6, details);
                s_bt (st, 7, NULL);
                s_step (g, st, "events");
                g->st.events++;
                cur = to;
            }
        }
    }

    if (a->evict) {
        char evict_id[96], inst[48];
        int64_t at = a->start + (int64_t) llround (0.6 * (double) a->dur_s);
        dl_fmt_ts (at, t);
        snprintf (evict_id, sizeof evict_id, "EVICT-%s", run_id);
        s_hex (dl_rng_next (r) & 0xffffffffffffULL, 12, hex);
        snprintf (inst, sizeof inst, "%s-i-%s", a->worker, hex);
        static const char *const reasons[] = {"CAPACITY_CHANGE", "PRICE_CHANGE", "INSTANCE_FAILURE",
                                              "MAINTENANCE"};
        int reason = a->evict_reason;
        if (reason < 0) {
            double u = dl_rng_unit (r);
            reason = u < 0.7 ? 0 : (j->ref != R_NONE || u < 0.85) ? 1 : u < 0.95 ? 2 : 3;
        }
        double spot_price = s_round (dl_rng_uniform (r, 0.080, 0.130), 1000);
        const char *action = j->ref == R_NONE && dl_rng_chance (r, 0.1) ? "DELETE" : "STOP_DEALLOCATE";
        st = g->s_evict;
        s_bt (st, 1, evict_id);
        s_bt (st, 2, inst);
        s_bt (st, 3, t);
        s_bt (st, 4, a->evict_msg);
        s_bt (st, 5, reasons[reason]);
        s_bd (st, 6, spot_price);
        s_bt (st, 7, action);
        s_bi (st, 8, a->was_retried);
        s_step (g, st, "eviction_details");
        g->st.evictions++;
        snprintf (ev_id, sizeof ev_id, "EVT-EVICT-%s", run_id);
        snprintf (details, sizeof details, "Spot instance evicted: %s", a->evict_msg);
        st = g->s_ev;
        s_bt (st, 1, ev_id);
        s_bt (st, 2, run_id);
        s_bt (st, 3, t);
        s_bt (st, 4, "SPOT_EVICTION");
        s_bt (st, 5, sys);
        s_bt (st, 6, details);
        s_bt (st, 7, evict_id);
        s_step (g, st, "events");
        g->st.events++;
    }

    int minutes = (int) ((a->dur_s + 30) / 60);
    snprintf (ev_id, sizeof ev_id, "EVT-END-%s", run_id);
    if (a->status == ST_SUCCESS)
        snprintf (details, sizeof details, "Cluster terminated successfully after %d minutes", minutes);
    else
        snprintf (details, sizeof details, "Cluster terminated after %d minutes: run failed (%.120s)",
                  minutes, a->error ? a->error : "");
    st = g->s_ev;
    s_bt (st, 1, ev_id);
    s_bt (st, 2, run_id);
    s_bt (st, 3, end);
    s_bt (st, 4, "CLUSTER_TERMINATE");
    s_bt (st, 5, sys);
    s_bt (st, 6, details);
    s_bt (st, 7, NULL);
    s_step (g, st, "events");
    g->st.events++;
}

/* Effective configuration of job j for a run starting at t. */
static void
s_effective (const job_t *j, int64_t t, double *spot, int *max, const char **worker, double *mult)
{
    *spot = j->spot;
    *max = j->max;
    *worker = j->worker;
    *mult = 1.0;
    for (int c = 0; c < j->nchanges; c++) {
        const cfg_change_t *ch = &j->chg[c];
        if (t < ch->at)
            continue;
        if (ch->spot_after >= 0)
            *spot = ch->spot_after;
        if (ch->max_after)
            *max = ch->max_after;
        if (ch->worker_after)
            *worker = ch->worker_after;
        *mult *= ch->runtime_mult;
    }
}

static bool
s_in (int64_t day, int64_t from, int64_t to)
{
    return day >= from && day <= to;
}

static bool
s_upstream_bad (gen_t *g, const job_t *j, int di)
{
    for (int q = 0; q < j->nup; q++)
        if (g->jobs[j->up[q]].day_bad[di])
            return true;
    return false;
}

static int64_t
s_upstream_end (gen_t *g, const job_t *j, int di)
{
    int64_t e = 0;
    for (int q = 0; q < j->nup; q++)
        if (g->jobs[j->up[q]].day_end[di] > e)
            e = g->jobs[j->up[q]].day_end[di];
    return e;
}

static int
s_runs_today (const gen_t *g, const job_t *j, int64_t day)
{
    int y, m, d;
    switch (j->sched) {
    case SCHED_DAILY: return 1;
    case SCHED_MULTI: return j->runs_per_day;
    case SCHED_WEEKLY: return dl_weekday (day) == j->weekday ? 1 : 0;
    case SCHED_MONTHLY:
        dl_civil_from_days (day, &y, &m, &d);
        return d == j->monthday ? 1 : 0;
    default: (void) g; return 0;
    }
}

/* Generates every run of job j over the window. */
static void
s_gen_job (gen_t *g, job_t *j)
{
    dl_rng_t *r = &j->rng;
    const ws_t *w = &g->ws[j->ws];
    const int64_t D = g->ref_day0; /* 2025-11-01 */
    const int64_t d_1115 = D + 14, d_1128 = D + 27, d_1130 = D + 29, d_1201 = D + 30,
                  d_1205 = D + 34, d_1207 = D + 36;
    for (int di = 0; di < g->ndays && !g->err; di++) {
        int64_t day = g->day0 + di;
        int n = s_runs_today (g, j, day);
        if (n == 0)
            continue;
        int64_t idx = day - D; /* the reference's "day index" */
        int64_t last_end = 0;
        bool last_bad = false;
        for (int slot = 1; slot <= n && !g->err; slot++) {
            attempt_t a;
            memset (&a, 0, sizeof a);
            a.j = j;
            a.day = day;
            a.slot = slot;
            a.attempt = 1;
            a.evict_reason = -1;
            /* start time: one draw for the hour (where random), one for the jitter */
            int64_t start;
            if (j->ref == R_ROUTE_OPT) {
                int hour = 6 + 4 * (slot - 1) + (int) dl_rng_int (r, 0, 3);
                start = day * DL_DAY_SECONDS + hour * 3600 + dl_rng_int (r, 0, 1799);
            } else if (j->ref == R_ML_TRAINING) {
                int hour = 12 * (slot - 1) + (int) dl_rng_int (r, 0, 5);
                start = day * DL_DAY_SECONDS + hour * 3600 + dl_rng_int (r, 0, 1799);
            } else if (j->ref != R_NONE) {
                start = day * DL_DAY_SECONDS + j->hour * 3600 + j->minute_jitter * 60 * 10
                        + dl_rng_int (r, 0, 1799);
            } else if (j->nup > 0) {
                int64_t ue = s_upstream_end (g, j, di);
                int64_t base = ue ? ue : day * DL_DAY_SECONDS + j->hour * 3600;
                start = base + dl_rng_int (r, 120, 900);
            } else if (j->sched == SCHED_MULTI) {
                int span = 24 / j->runs_per_day;
                start = day * DL_DAY_SECONDS + ((int64_t) (slot - 1) * span + j->hour % span) * 3600
                        + dl_rng_int (r, 0, 1799);
            } else {
                start = day * DL_DAY_SECONDS + j->hour * 3600 + dl_rng_int (r, 0, 1799);
            }
            a.start = start;
            double spot, mult;
            int cfg_max;
            const char *worker;
            s_effective (j, start, &spot, &cfg_max, &worker, &mult);
            a.spot = spot;
            a.worker = worker;
            a.min_nodes = j->min;
            /* decide the outcome */
            int status = ST_SUCCESS;
            const char *error = NULL;
            int chain = 0;            /* reference retry chain: F,F,S after a failure */
            bool evict = false;
            const char *evict_msg = NULL;
            int evict_reason = -1;
            double ff = 1.0;          /* runtime multiplier from scenario */
            switch (j->ref) {
            case R_FIN_DAILY:
                if (s_in (day, d_1205, d_1207)) {
                    status = ST_FAILED;
                    error = "SpotInstanceTerminated: Instance reclaimed during peak usage";
                    evict = true;
                    evict_msg = "Server.SpotInstanceTermination: Spot price exceeded your maximum bid price";
                    evict_reason = 1;
                    chain = 1;
                }
                break;
            case R_FIN_MONTHLY:
            case R_HR_WEEKLY:
                if (s_mod (idx, 20) == 0) {
                    status = ST_FAILED;
                    error = "Unexpected job failure - see error logs";
                }
                break;
            case R_SUPPLY_RAW:
                if (day == d_1115) {
                    status = ST_FAILED;
                    error = "IOException: Connection timeout to source database";
                }
                break;
            case R_ROUTE_OPT:
                if (s_in (day, d_1128, d_1130) && s_mod (idx + slot, 2) == 0) {
                    status = ST_FAILED;
                    error = "SpotInstanceTerminated: AWS EC2 capacity insufficient";
                    evict = true;
                    evict_msg = "Server.InsufficientInstanceCapacity: Insufficient capacity in availability zone";
                    evict_reason = 0;
                }
                break;
            case R_ML_TRAINING:
                /* julianday(date) * 100 % 3 == 0, as the reference computes it */
                if (day >= d_1201 && s_mod (day * 100 + 244058750, 3) == 0) {
                    status = ST_FAILED;
                    error = "SpotInstanceTerminated: Insufficient GPU capacity";
                    evict = true;
                    evict_msg = "Server.SpotInstanceInterruption: Spot instance interrupted for capacity requirements";
                    chain = 1;
                }
                break;
            case R_LEGACY_ETL:
                ff = 1.0 + 0.44 * (double) di / (double) (g->ndays > 1 ? g->ndays - 1 : 1);
                if (s_mod (idx, 5) == 0) {
                    status = ST_FAILED;
                    error = "QueryExecutionException: Query timeout after 3 hours";
                    chain = 1;
                }
                break;
            default: break;
            }
            if (j->ref == R_NONE) {
                bool incident = false;
                for (int k = 0; k < w->nincidents; k++)
                    incident |= s_in (day, w->incident[k], w->incident[k] + 2);
                double u = dl_rng_unit (r);
                double frac = (double) di / (double) g->ndays;
                double p = j->p_fail * (j->chronic ? 1.0 + frac : 1.0);
                if (incident && spot >= 0.4 && u < 0.5) {
                    status = ST_FAILED;
                    error = "SpotInstanceTerminated: AWS EC2 capacity insufficient";
                    evict = true;
                    evict_msg = "Server.InsufficientInstanceCapacity: Insufficient capacity in availability zone";
                    evict_reason = 0;
                } else if (u < p || (incident && spot >= 0.4 && u < 0.5 + p)) {
                    status = ST_FAILED;
                    double v = dl_rng_unit (r);
                    if (spot > 0 && v < spot * 0.5) {
                        error = "SpotInstanceTerminated: Spot instance interrupted";
                        evict = true;
                        evict_msg = "Server.SpotInstanceInterruption: Spot instance interrupted for capacity requirements";
                    } else {
                        static const char *const errs[] = {
                            "OutOfMemoryError: Java heap space",
                            "IOException: Connection timeout to source database",
                            "QueryExecutionException: Query timeout after 3 hours",
                            "AnalysisException: Table or view not found",
                            "DriverError: Driver is up but is not responsive, likely due to GC",
                            "PermissionDenied: User does not have READ FILES on external location",
                        };
                        error = errs[dl_rng_int (r, 0, 5)];
                    }
                }
                if (j->chronic)
                    ff = 1.0 + 0.5 * frac;
            }
            /* cascade: a HARD upstream failed (or was skipped) today */
            if (j->nup > 0 && s_upstream_bad (g, j, di)) {
                status = ST_SKIPPED;
                error = "Upstream dependency failed - run skipped";
                evict = false;
                chain = 0;
            }
            /* sizing: initial autoscaling runs reach part of the range */
            double scale_u = dl_rng_uniform (r, 0.30, 0.80);
            a.max_nodes = j->autoscale ? j->min + (int) ((cfg_max - j->min) * scale_u) : cfg_max;
            if (j->autoscale && a.max_nodes <= j->min)
                a.max_nodes = j->min + 1;
            double dur_u = dl_rng_uniform (r, 0.85, 1.15);
            double full_s = j->base_min * 60.0 * mult * ff * dur_u;
            a.status = status;
            a.error = error;
            a.evict = evict;
            a.evict_msg = evict_msg;
            a.evict_reason = evict_reason;
            a.dur_s = status == ST_SKIPPED ? 0 : status == ST_FAILED ? llround (0.3 * full_s)
                                                                    : llround (full_s);
            if (a.dur_s < 1 && status != ST_SKIPPED)
                a.dur_s = 1;
            bool retry = status == ST_FAILED && j->max_retries > 0;
            a.was_retried = retry;
            s_emit_attempt (g, &a);
            last_end = a.start + a.dur_s;
            last_bad = status != ST_SUCCESS;
            /* retries: start 300 s after the previous attempt ended */
            for (int k = 2; retry && k <= j->max_retries + 1 && !g->err; k++) {
                attempt_t b = a;
                b.attempt = k;
                b.start = last_end + 300;
                b.max_nodes = cfg_max;
                double du = dl_rng_uniform (r, 0.85, 1.15);
                double fs = j->base_min * 60.0 * mult * ff * du;
                bool fail;
                if (chain)
                    fail = k <= 3; /* reference: R02, R03 fail; R04 succeeds */
                else
                    fail = dl_rng_chance (r, evict && evict_reason == 0 ? 0.5 : j->p_retry_fail);
                b.status = fail ? ST_FAILED : ST_SUCCESS;
                b.error = fail ? error : NULL;
                b.evict = fail && evict;
                b.dur_s = fail ? llround (0.3 * fs) : llround (fs);
                if (b.dur_s < 1)
                    b.dur_s = 1;
                b.was_retried = fail && k <= j->max_retries;
                s_emit_attempt (g, &b);
                last_end = b.start + b.dur_s;
                last_bad = fail;
                retry = fail;
            }
        }
        j->day_bad[di] = last_bad;
        j->day_end[di] = last_end;
    }
    /* a change after the job's last run still gets its event */
    for (int c = 0; c < j->nchanges; c++)
        if (!j->chg[c].emitted && j->chg[c].at < (g->day0 + g->ndays) * DL_DAY_SECONDS)
            s_emit_config_change (g, j, &j->chg[c], j->id);
}

/* ------------------------------------------------------------------------ */
/* Non-job compute usage and ad-hoc queries                                  */

static const struct {
    const char *wh, *user, *size;
    int base_ms;
    const char *sql, *error;
} s_ref_queries[8] = {
    {"WH-FINANCE", "U-ALICE", "SMALL", 450,
     "SELECT revenue, region, product FROM sales_daily WHERE date >= '2025-11-01' ORDER BY revenue DESC LIMIT 100",
     NULL},
    {"WH-FINANCE", "U-ALICE", "SMALL", 720,
     "SELECT SUM(revenue) as total, date FROM sales_daily WHERE region IN ('NORTH', 'SOUTH', 'EAST', 'WEST') GROUP BY date",
     NULL},
    {"WH-SUPPLY", "U-BOB", "MEDIUM", 1200,
     "SELECT * FROM logistics_sensor_data WHERE temperature > 80 AND humidity > 70", NULL},
    {"WH-SUPPLY", "U-FRANK", "MEDIUM", 2400,
     "CREATE TABLE supply_chain_analysis AS SELECT depot_id, AVG(delivery_time) as avg_time FROM shipments GROUP BY depot_id",
     NULL},
    {"WH-HR", "U-CHARLIE", "LARGE", 900,
     "SELECT employee_id, department, salary, tenure FROM employees WHERE tenure > 5 AND salary > 75000",
     NULL},
    {"WH-HR", "U-CHARLIE", "SMALL", 8500, "SELECT * FROM employee_metrics WHERE date >= '2025-11-01'",
     "Query exceeded warehouse timeout (180s)"},
    {"WH-ML", "U-EMILY", "XL", 15000,
     "SELECT feature_vector, label FROM ml_training_data WHERE split = 'train' ORDER BY RANDOM() LIMIT 10000000",
     NULL},
    {"WH-FINANCE", "U-ALICE", "SMALL", 12000,
     "SELECT * FROM (SELECT * FROM transactions WHERE amount > 10000) t1 JOIN (SELECT * FROM customers) t2 ON t1.customer_id = t2.id",
     "Query killed: Result set exceeded 10GB limit"},
};

static const struct {
    const char *sql;
    int base_ms;
} s_gq_tpl[] = {
    {"SELECT * FROM orders WHERE order_date >= current_date() - INTERVAL 7 DAYS", 900},
    {"SELECT customer_id, SUM(amount) FROM payments GROUP BY customer_id ORDER BY 2 DESC LIMIT 50", 2500},
    {"SELECT region, COUNT(*) FROM shipments GROUP BY region", 1200},
    {"SELECT * FROM events e JOIN sessions s ON e.session_id = s.id WHERE e.ts > '2025-01-01'", 9000},
    {"MERGE INTO dim_customer t USING stg_customer s ON t.id = s.id WHEN MATCHED THEN UPDATE SET *", 15000},
    {"SELECT date_trunc('hour', ts) h, COUNT(*) FROM clicks GROUP BY h", 4000},
    {"SELECT * FROM inventory WHERE qty < reorder_point", 600},
    {"SELECT model, AVG(score) FROM predictions GROUP BY model", 3000},
    {"OPTIMIZE sales_fact ZORDER BY (customer_id)", 40000},
    {"SELECT * FROM ledger l CROSS JOIN accounts a", 60000},
};

static void
s_insert_usage_row (gen_t *g, const compute_t *c, int64_t day, double dbus, double cpu, int users)
{
    char id[64], ymd[9], date[11];
    dl_fmt_ymd (day, ymd);
    dl_fmt_date (day, date);
    snprintf (id, sizeof id, "%s-%s", c->id, ymd);
    double cost = dbus * s_price_at (g, c->sku, day * DL_DAY_SECONDS);
    sqlite3_stmt *st = g->s_use;
    s_bt (st, 1, id);
    s_bt (st, 2, c->id);
    s_bt (st, 3, c->warehouse ? "SQL_WAREHOUSE" : "APC_CLUSTER");
    s_bt (st, 4, c->sku);
    s_bd (st, 5, dbus);
    s_bt (st, 6, c->id);
    s_bt (st, 7, c->instance);
    s_bd (st, 8, cost);
    s_bd (st, 9, cpu);
    s_bd (st, 10, c->memory);
    s_bi (st, 11, users);
    s_bi (st, 12, c->production);
    s_bt (st, 13, date);
    s_step (g, st, "compute_usage");
    g->st.compute_usage++;
}

static void
s_gen_compute (gen_t *g, compute_t *c)
{
    dl_rng_t *r = &c->rng;
    for (int di = 0; di < g->ndays && !g->err; di++) {
        int64_t day = g->day0 + di;
        int y, m, d;
        dl_civil_from_days (day, &y, &m, &d);
        double dbus, cpu;
        int users;
        if (c->kind >= 0 && !c->warehouse) {
            dbus = 300 + (double) dl_rng_int (r, 0, 199);
            if (c->kind == RC_APC_LEGACY)
                dbus *= 1.5;
            if (c->kind == RC_APC_FINANCE && d == 1)
                dbus *= 2.0;
            cpu = s_round (dl_rng_uniform (r, 0.45, 0.85), 100);
            users = (int) dl_rng_int (r, 2, 5);
        } else if (c->kind >= 0) {
            dbus = 250 + (double) dl_rng_int (r, 0, 149);
            cpu = s_round (dl_rng_uniform (r, 0.35, 0.65), 100);
            users = (int) dl_rng_int (r, 3, 10);
        } else {
            double weekend = dl_weekday (day) >= 5 ? 0.5 : 1.0;
            dbus = s_round ((c->warehouse ? dl_rng_uniform (r, 150, 500) : dl_rng_uniform (r, 100, 600))
                                * weekend,
                            100);
            cpu = s_round (dl_rng_uniform (r, 0.3, 0.85), 100);
            users = (int) dl_rng_int (r, 1, 12);
        }
        s_insert_usage_row (g, c, day, dbus, cpu, users);
    }
}

static void
s_insert_query (gen_t *g, const char *id, const char *wh, const char *user, int64_t start,
                int64_t dur_ms, const char *sku, const char *sql, const char *error)
{
    char t[20];
    dl_fmt_ts (start, t);
    sqlite3_stmt *st = g->s_q;
    s_bt (st, 1, id);
    s_bt (st, 2, wh);
    s_bt (st, 3, user);
    s_bt (st, 4, t);
    s_bi (st, 5, dur_ms);
    s_bt (st, 6, sku);
    s_bt (st, 7, sql);
    s_bt (st, 8, error);
    s_step (g, st, "sql_query_history");
    g->st.queries++;
}

static void
s_gen_queries (gen_t *g, int wi)
{
    ws_t *w = &g->ws[wi];
    dl_rng_t *r = &w->rng;
    char id[64], sku[32];
    for (int di = 0; di < g->ndays && !g->err; di++) {
        int64_t day = g->day0 + di;
        if (wi == 0) {
            /* reference: on ~15% of days all 8 templates run from 08:15 */
            if (!dl_rng_chance (r, 0.15))
                continue;
            for (int q = 1; q <= 8; q++) {
                int64_t dur = s_ref_queries[q - 1].base_ms + dl_rng_int (r, 0, 499);
                snprintf (id, sizeof id, "Q-ADHOC-%04d", di * 8 + q);
                snprintf (sku, sizeof sku, "SQLWH-%s", s_ref_queries[q - 1].size);
                s_insert_query (g, id, s_ref_queries[q - 1].wh, s_ref_queries[q - 1].user,
                                day * DL_DAY_SECONDS + 8 * 3600 + q * 15 * 60, dur, sku,
                                s_ref_queries[q - 1].sql, s_ref_queries[q - 1].error);
            }
            continue;
        }
        int seq = 0;
        for (int ci = 0; ci < g->ncomputes; ci++) {
            const compute_t *c = &g->computes[ci];
            if (c->ws != wi || !c->warehouse)
                continue;
            int n = (int) dl_rng_int (r, 0, 5);
            for (int k = 0; k < n; k++) {
                int tq = (int) dl_rng_int (r, 0, (int64_t) (sizeof s_gq_tpl / sizeof s_gq_tpl[0]) - 1);
                int user = w->user_first + (int) dl_rng_int (r, 0, w->user_count - 2);
                int64_t start = day * DL_DAY_SECONDS + dl_rng_int (r, 7 * 3600, 20 * 3600 - 1);
                int64_t dur = (int64_t) (s_gq_tpl[tq].base_ms * dl_rng_uniform (r, 0.5, 2.0));
                double u = dl_rng_unit (r);
                const char *err = NULL;
                if (u < 0.04 || dur > 180000) {
                    err = "Query exceeded warehouse timeout (180s)";
                    dur = 180000;
                } else if (u < 0.06) {
                    err = "Query killed: Result set exceeded 10GB limit";
                } else if (u < 0.07) {
                    err = "Query cancelled by user";
                }
                snprintf (id, sizeof id, "Q-%s-%04d-%02d", w->code, di, ++seq);
                s_insert_query (g, id, c->id, g->users[user].id, start, dur, c->query_sku,
                                s_gq_tpl[tq].sql, err);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                   */

static void
s_prepare_all (gen_t *g)
{
    g->s_ws = s_prep (g, "INSERT INTO workspace VALUES (?1,?2,?3,?4)");
    g->s_wsd = s_prep (g, "INSERT INTO workspace_details (workspace_id, cloud, region, deployment_url) "
                          "VALUES (?1,?2,?3,?4)");
    g->s_user = s_prep (g, "INSERT INTO users_lookup VALUES (?1,?2,?3,?4)");
    g->s_pool = s_prep (g, "INSERT INTO instance_pools VALUES (?1,?2,?3,?4,?5,?6)");
    g->s_njc = s_prep (g, "INSERT INTO non_job_compute VALUES (?1,?2,?3,?4)");
    g->s_job = s_prep (g, "INSERT INTO jobs VALUES (?1,?2,?3,?4,?5)");
    g->s_dep = s_prep (g, "INSERT INTO job_dependencies (upstream_job_id, downstream_job_id, "
                          "dependency_type, source) VALUES (?1,?2,?3,'generator')");
    g->s_price = s_prep (g, "INSERT INTO sku_prices (sku, cloud, usage_unit, price_usd_per_dbu, "
                            "currency, valid_from, valid_to, source) "
                            "VALUES (?1,'ANY','DBU',?2,'USD',?3,?4,'generator')");
    g->s_date = s_prep (g, "INSERT INTO date_series VALUES (?1)");
    g->s_run = s_prep (g, "INSERT INTO job_runs VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)");
    g->s_use = s_prep (g, "INSERT INTO compute_usage VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
    g->s_ev = s_prep (g, "INSERT INTO events VALUES (?1,?2,?3,?4,?5,?6,?7)");
    g->s_evict = s_prep (g, "INSERT INTO eviction_details VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
    g->s_q = s_prep (g, "INSERT INTO sql_query_history VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
    g->s_cfg = s_prep (g, "INSERT INTO config_changes VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
}

static void
s_finalize_all (gen_t *g)
{
    sqlite3_stmt **all[] = {&g->s_ws,  &g->s_wsd, &g->s_user, &g->s_pool, &g->s_njc,
                            &g->s_job, &g->s_dep, &g->s_price, &g->s_date, &g->s_run,
                            &g->s_use, &g->s_ev,  &g->s_evict, &g->s_q,   &g->s_cfg};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        sqlite3_finalize (*all[i]);
        *all[i] = NULL;
    }
}

static void
s_free_model (gen_t *g)
{
    for (int i = 0; i < g->njobs; i++) {
        free (g->jobs[i].day_bad);
        free (g->jobs[i].day_end);
    }
    free (g->jobs);
    free (g->users);
    free (g->computes);
    free (g->ws);
}

static int64_t
s_estimate_rows (gen_t *g)
{
    int64_t runs = 0;
    for (int i = 0; i < g->njobs; i++)
        for (int di = 0; di < g->ndays; di++)
            runs += s_runs_today (g, &g->jobs[i], g->day0 + di);
    /* run + usage + start/end events + ~1.4 autoscaling events per run */
    return runs * 5 + (int64_t) g->ncomputes * g->ndays + (int64_t) g->nws * g->ndays * 8;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_generate (gen_t *g, const char *tmp_path, bool force_progress)
{
    int rc = dl_db_open (tmp_path, true, &g->db);
    if (rc)
        return rc;
    /* Fixed layout, no journal while building (the file is not visible yet). */
    if ((rc = dl_exec (g->db,
                       "PRAGMA page_size=4096; PRAGMA auto_vacuum=NONE; PRAGMA journal_mode=OFF; "
                       "PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; "
                       "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-524288; PRAGMA foreign_keys=OFF",
                       "configure output database")))
        return rc;
    char fixed_ts[20];
    dl_fmt_ts ((g->day0 + g->ndays) * DL_DAY_SECONDS - 1, fixed_ts);
    if ((rc = dl_schema_apply (g->db, DL_SCHEMA_INIT, fixed_ts, NULL)))
        return rc;
    /* Foreign keys stay off during the bulk load (tests run
     * foreign_key_check on the result). The reference's secondary indexes
     * on the big tables are dropped and rebuilt after the load (a sorted
     * CREATE INDEX is far cheaper than millions of random index inserts);
     * they are re-created from the same 000_reference.sql text. */
    if ((rc = dl_exec (g->db,
                       "PRAGMA foreign_keys=OFF; BEGIN; "
                       "DROP INDEX IF EXISTS idx_compute_usage_parent; "
                       "DROP INDEX IF EXISTS idx_compute_usage_date; "
                       "DROP INDEX IF EXISTS idx_compute_usage_cost; "
                       "DROP INDEX IF EXISTS idx_events_time; "
                       "DROP INDEX IF EXISTS idx_events_type; "
                       "DROP INDEX IF EXISTS idx_eviction_time; "
                       "DROP INDEX IF EXISTS idx_sql_history_user; "
                       "DROP INDEX IF EXISTS idx_sql_history_time;",
                       "begin bulk load")))
        return rc;

    s_prepare_all (g);
    if (g->err)
        return g->err;

    g->nws = 1 + g->prof->gen_workspaces;
    g->ws = calloc ((size_t) g->nws, sizeof *g->ws);
    if (!g->ws)
        return dl_fail (DL_E_NOMEM, "workspaces");
    /* workspace rows first (FK targets), then entities */
    s_build_reference_ws (g);
    for (int wi = 1; wi < g->nws && !g->err; wi++)
        s_build_generated_ws (g, wi);
    for (int wi = 0; wi < g->nws && !g->err; wi++) {
        ws_t *w = &g->ws[wi];
        char url[96];
        sqlite3_stmt *st = g->s_ws;
        s_bt (st, 1, w->id);
        s_bt (st, 2, w->name);
        s_bt (st, 3, w->account);
        s_bt (st, 4, w->desc);
        s_step (g, st, "workspace");
        snprintf (url, sizeof url, "https://%s.cloud.databricks.com", w->id + 3);
        for (char *p = url; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char) (*p - 'A' + 'a');
        st = g->s_wsd;
        s_bt (st, 1, w->id);
        s_bt (st, 2, w->cloud);
        s_bt (st, 3, w->region);
        s_bt (st, 4, url);
        s_step (g, st, "workspace_details");
        g->st.workspaces++;
    }
    /* prices: the reference's flat $0.40; generated SKUs change mid-window */
    int64_t t0 = g->day0 * DL_DAY_SECONDS, tmid = (g->day0 + g->ndays / 2) * DL_DAY_SECONDS;
    s_add_price (g, "STANDARD_JOB_COMPUTE", 0.40, t0, 0);
    s_add_price (g, "STANDARD_ALL_PURPOSE_COMPUTE", 0.40, t0, 0);
    s_add_price (g, "STANDARD_SQL_WAREHOUSE_COMPUTE", 0.40, t0, 0);
    if (g->nws > 1) {
        s_add_price (g, "PREMIUM_JOBS_COMPUTE", 0.15, t0, tmid);
        s_add_price (g, "PREMIUM_JOBS_COMPUTE", 0.17, tmid, 0);
        s_add_price (g, "PREMIUM_ALL_PURPOSE_COMPUTE", 0.55, t0, tmid);
        s_add_price (g, "PREMIUM_ALL_PURPOSE_COMPUTE", 0.65, tmid, 0);
        s_add_price (g, "PREMIUM_SQL_COMPUTE", 0.70, t0, 0);
    }
    g->st.days = g->ndays;
    g->last_day = g->day0 + g->ndays - 1;

    g->progress = dl_progress_new ("generate", (uint64_t) s_estimate_rows (g), force_progress);
    for (int i = 0; i < g->njobs && !g->err; i++)
        s_gen_job (g, &g->jobs[i]);
    for (int i = 0; i < g->ncomputes && !g->err; i++)
        s_gen_compute (g, &g->computes[i]);
    for (int wi = 0; wi < g->nws && !g->err; wi++)
        s_gen_queries (g, wi);
    /* the calendar covers the window plus any day a late run spilled into */
    for (int64_t day = g->day0; day <= g->last_day && !g->err; day++) {
        char d[11];
        dl_fmt_date (day, d);
        s_bt (g->s_date, 1, d);
        s_step (g, g->s_date, "date_series");
    }
    dl_progress_set (g->progress, (uint64_t) g->st.rows_total);
    dl_progress_destroy (&g->progress);
    if (g->err)
        return g->err;

    double t_facts = s_now ();
    if ((rc = dl_exec (g->db, dl_sql_get ("schema/000_reference.sql", NULL), "rebuild indexes")))
        return rc;
    double t_index = s_now ();
    if ((rc = dl_schema_refresh (g->db)))
        return rc;
    double t_refresh = s_now ();
    if (force_progress || isatty (STDERR_FILENO))
        fprintf (stderr, "generate: facts %.1f s, indexes %.1f s, rollups %.1f s\n",
                 t_facts - g->t0, t_index - t_facts, t_refresh - t_index);
    char detail[96];
    snprintf (detail, sizeof detail, "profile=%s seed=%llu", g->prof->name,
              (unsigned long long) g->seed);
    if ((rc = dl_data_version_bump (g->db, "generate", detail, fixed_ts, &g->st.data_version)))
        return rc;
    s_finalize_all (g);
    if ((rc = dl_exec (g->db, "COMMIT", "commit")))
        return rc;
    if ((rc = dl_exec (g->db, "PRAGMA journal_mode=DELETE", "set journal mode")))
        return rc;
    return DL_OK;
}

int
dl_gen_run (const dl_gen_opts_t *opts, dl_gen_stats_t *stats)
{
    double t_start = s_now ();
    if (stats)
        memset (stats, 0, sizeof *stats);
    if (!opts || !opts->db_path || !*opts->db_path)
        return dl_fail (DL_E_ARG, "no output database path");
    const profile_t *prof = NULL;
    for (size_t i = 0; i < sizeof s_profiles / sizeof s_profiles[0]; i++)
        if (opts->profile && strcmp (opts->profile, s_profiles[i].name) == 0)
            prof = &s_profiles[i];
    if (!prof)
        return dl_fail (DL_E_ARG, "unknown profile '%s' (small, medium, large)",
                        opts->profile ? opts->profile : "");
    struct stat sb;
    if (stat (opts->db_path, &sb) == 0 && !opts->force)
        return dl_fail (DL_E_EXISTS, "%s exists (use --force to replace it)", opts->db_path);

    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.partial", opts->db_path) >= (int) sizeof tmp)
        return dl_fail (DL_E_ARG, "path too long");
    unlink (tmp);

    gen_t g;
    memset (&g, 0, sizeof g);
    g.prof = prof;
    g.seed = opts->seed;
    g.day0 = dl_days_from_civil (prof->y, prof->m, prof->d);
    g.ndays = prof->ndays;
    g.ref_day0 = dl_days_from_civil (2025, 11, 1);
    g.t0 = t_start;

    int rc = s_generate (&g, tmp, opts->progress);
    s_finalize_all (&g);
    dl_progress_destroy (&g.progress);
    if (g.db && sqlite3_close (g.db) != SQLITE_OK && !rc)
        rc = dl_fail (DL_E_SQL, "close: %s", sqlite3_errmsg (g.db));
    s_free_model (&g);
    if (rc) {
        unlink (tmp);
        return rc;
    }
    int fd = open (tmp, O_RDONLY);
    if (fd >= 0) {
        fsync (fd);
        close (fd);
    }
    if (rename (tmp, opts->db_path) != 0) {
        unlink (tmp);
        return dl_fail (DL_E_IO, "cannot rename %s to %s", tmp, opts->db_path);
    }
    g.st.seconds = s_now () - t_start;
    if (stats)
        *stats = g.st;
    return DL_OK;
}
