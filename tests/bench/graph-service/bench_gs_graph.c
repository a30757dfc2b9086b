/* bench_gs_graph.c — load time, memory and query latency of the usage graph
 * on a large generated database, built from SQLite and loaded from a
 * persisted snapshot.
 *
 *   bench_gs_graph <copilot binary> <db path> [snapshot path]
 *
 * Phases, each in its own child process so each peak RSS is its own:
 *   1. build from SQLite (page cache of the DB dropped first unless
 *      COPILOT_BENCH_WARM=1: a cold start), plus anomaly nodes found by the
 *      report engine's detector (rs_anomaly_scan over rollup_job_day cost
 *      series, as the report-service's alerts would bring them) when that
 *      table exists; per-table timings; queries; then the snapshot is written
 *      (default <db>.gsnap);
 *   2. load from the snapshot with its page cache warm (just written);
 *   3. load from the snapshot after dropping its page cache (cold).
 * COPILOT_BENCH_READAHEAD=0 builds without the read-ahead thread (for
 * comparison). Phases 2 and 3 check the loaded graph is identical to the built one:
 * same version, counts and a digest of 60 rendered subgraphs, neighbour
 * lists and a path.
 *
 * The database is the data engineer's `copilot generate --profile large
 * --seed 42`; when <db path> does not exist it is generated first (minutes),
 * which only happens when COPILOT_BENCH=1 is set: otherwise the benchmark
 * exits 77 (skipped) so `make test` stays fast. Prints one "BENCH key=value"
 * line per figure.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <sqlite3.h>

#include "gs_graph.h"
#ifdef GS_BENCH_HAVE_RS
#include "rs_anomaly.h"
#endif

extern char **environ;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static int
s_generate (const char *copilot, const char *db)
{
    char *argv[] = {(char *) copilot, "generate", "--profile", "large", "--seed", "42", "--db", (char *) db, NULL};
    pid_t pid;
    double t0 = s_now ();
    if (posix_spawn (&pid, copilot, NULL, NULL, argv, environ) != 0)
        return -1;
    int st;
    if (waitpid (pid, &st, 0) != pid || !WIFEXITED (st) || WEXITSTATUS (st) != 0)
        return -1;
    printf ("BENCH graph.generate_large_s=%.1f\n", s_now () - t0);
    return 0;
}

/* Drops the page cache of one file (our own files only). */
static void
s_drop_cache (const char *path)
{
    int fd = open (path, O_RDONLY);
    if (fd < 0)
        return;
    (void) fdatasync (fd);
    (void) posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
    close (fd);
}

static double
s_peak_rss_mib (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return (double) ru.ru_maxrss / 1024.0;
}

/* Content digest of query results: the first 50 jobs' subgraphs (budget 40),
 * the hub's subgraph and top-50 neighbours, a path. FNV over the rendered
 * text and the graph version. */
static uint64_t
s_digest (const gs_graph_t *g)
{
    uint64_t h = 1469598103934665603ull;
    buf_t *out = buf_new ((size_t) 64 << 20);
    char err[512];
    uint32_t jobs[50], nj = 0, hub = 0, hub_deg = 0;
    int64_t evict = -1;
    for (uint32_t i = 0; i < gs_graph_node_count (g); i++) {
        if (gs_node_type (g, i) == GS_NT_JOB && nj < 50)
            jobs[nj++] = i;
        if (gs_node_type (g, i) == GS_NT_EVICTION && evict < 0)
            evict = i;
        if (gs_node_degree (g, i) > hub_deg) {
            hub_deg = gs_node_degree (g, i);
            hub = i;
        }
    }
    buf_append (out, gs_graph_version (g), strlen (gs_graph_version (g)));
    for (uint32_t k = 0; k <= nj; k++) {
        const char *a[] = {gs_node_id (g, k < nj ? jobs[k] : hub)};
        gs_subgraph_params_t p = {.anchors = a, .n_anchors = 1, .hops = 4, .budget = 40};
        gs_result_t *r = NULL;
        if (gs_subgraph (g, &p, &r, err, sizeof err) == GS_OK)
            gs_render_text (g, r, out);
        gs_result_destroy (&r);
    }
    gs_result_t *r = NULL;
    if (gs_neighbors (g, gs_node_id (g, hub), NULL, 50, &r, err, sizeof err) == GS_OK)
        gs_render_text (g, r, out);
    gs_result_destroy (&r);
    if (nj > 0 && evict >= 0 && gs_path (g, gs_node_id (g, jobs[0]), gs_node_id (g, (uint32_t) evict), 8, &r, err, sizeof err) == GS_OK)
        gs_render_text (g, r, out);
    gs_result_destroy (&r);
    const unsigned char *p = (const unsigned char *) buf_data (out);
    for (size_t k = 0; k < buf_len (out); k++) {
        h ^= p[k];
        h *= 1099511628211ull;
    }
    buf_destroy (&out);
    return h;
}

/* Anomalies the report engine's detector finds in each job's daily cost
 * (rollup_job_day), added like the daemon adds alerts. Returns the count
 * offered, or -1 when the table is missing. */
static long
s_feed_anomalies (gs_builder_t *b, const char *db)
{
#ifndef GS_BENCH_HAVE_RS
    (void) b;
    (void) db;
    return -1;
#else
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long offered = 0;
    if (sqlite3_open_v2 (db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
        || sqlite3_prepare_v2 (h, "SELECT job_id, usage_date, cost_usd FROM rollup_job_day ORDER BY job_id, usage_date",
                               -1, &st, NULL) != SQLITE_OK) {
        sqlite3_close (h);
        return -1;
    }
    rs_anomaly_opts_t opts = rs_anomaly_defaults ();
    size_t cap = 4096, n = 0;
    double *vals = malloc (cap * sizeof *vals);
    char (*dates)[11] = malloc (cap * sizeof *dates);
    rs_anomaly_t found[256];
    char job[256] = "";
    for (int rc = sqlite3_step (st);; rc = sqlite3_step (st)) {
        const char *j = rc == SQLITE_ROW ? (const char *) sqlite3_column_text (st, 0) : NULL;
        if (rc != SQLITE_ROW || j == NULL || strcmp (j, job) != 0) {
            if (n > 0 && job[0]) {
                int k = rs_anomaly_scan (vals, n, &opts, found, 256);
                char ent[300];
                snprintf (ent, sizeof ent, "job::%s", job);
                for (int q = 0; q < k && q < 256 && offered < 20000; q++) {
                    char sum[200];
                    snprintf (sum, sizeof sum, "daily cost $%.2f vs expected $%.2f (z %.1f, %s)", found[q].value,
                              found[q].expected, found[q].z, rs_severity_name (found[q].severity));
                    if (gs_builder_add_anomaly (b, ent, dates[found[q].index], found[q].value, sum) == GS_OK)
                        offered++;
                }
            }
            n = 0;
            if (rc != SQLITE_ROW)
                break;
            snprintf (job, sizeof job, "%s", j ? j : "");
        }
        const char *d = (const char *) sqlite3_column_text (st, 1);
        if (n == cap || d == NULL || strlen (d) != 10)
            continue;
        vals[n] = sqlite3_column_double (st, 2);
        memcpy (dates[n], d, 11);
        n++;
    }
    free (vals);
    free (dates);
    sqlite3_finalize (st);
    sqlite3_close (h);
    return offered;
#endif
}

static int s_queries (const gs_graph_t *g);

/* Phase 1 (child): build from SQLite, write the snapshot and the digest. */
static int
s_phase_build (const char *db, const char *snap)
{
    char err[512];
    double t0 = s_now ();
    gs_builder_t *b = gs_builder_new (0);
    const char *ra = getenv ("COPILOT_BENCH_READAHEAD");
    if (b != NULL && ra != NULL && strcmp (ra, "0") == 0)
        gs_builder_set_readahead (b, false);
    printf ("BENCH graph.readahead=%s\n", ra != NULL && strcmp (ra, "0") == 0 ? "off" : "on");
    if (b == NULL || gs_builder_load_db (b, db, err, sizeof err) != GS_OK) {
        fprintf (stderr, "load failed: %s\n", err);
        return 1;
    }
    double t_tables = s_now () - t0;
    long anomalies = s_feed_anomalies (b, db);
    double t_anom = s_now () - t0 - t_tables;
    gs_graph_t *g = gs_builder_finish (&b, err, sizeof err);
    double load = s_now () - t0;
    if (g == NULL) {
        fprintf (stderr, "finish failed: %s\n", err);
        return 1;
    }
    gs_stats_t st;
    gs_graph_stats (g, &st);
    printf ("BENCH graph.load_s=%.2f\n", load);
    for (int i = 0; i < GS_PHASES; i++)
        printf ("BENCH graph.load.%s_s=%.2f\n", gs_phase_name (i), st.phase_ms[i] / 1000.0);
    printf ("BENCH graph.anomalies_offered=%ld\nBENCH graph.anomaly_detect_s=%.2f\n", anomalies, t_anom);
    printf ("BENCH graph.peak_rss_mib=%.0f\n", s_peak_rss_mib ());
    printf ("BENCH graph.version=%s\n", gs_graph_version (g));
    printf ("BENCH graph.nodes=%u\nBENCH graph.edges_directed=%llu\nBENCH graph.dangling_pairs=%llu\n", st.nodes,
            (unsigned long long) st.edges, (unsigned long long) st.dangling);
    printf ("BENCH graph.memory_mib=%.0f\nBENCH graph.strings_mib=%.0f\n", (double) st.memory_bytes / 1048576.0,
            (double) st.arena_bytes / 1048576.0);
    for (int t = 0; t < GS_NT__COUNT; t++)
        printf ("BENCH graph.nodes.%s=%u\n", gs_node_type_name ((gs_node_type_t) t), st.nodes_by_type[t]);
    fflush (stdout);
    if (s_queries (g) != 0)
        return 1;
    double w0 = s_now ();
    if (gs_snapshot_write (g, snap, db, "bench", NULL, err, sizeof err) != GS_OK) {
        fprintf (stderr, "snapshot write failed: %s\n", err);
        return 1;
    }
    struct stat sst;
    stat (snap, &sst);
    printf ("BENCH graph.snapshot_write_s=%.2f\nBENCH graph.snapshot_mib=%.0f\n", s_now () - w0,
            (double) sst.st_size / 1048576.0);
    char dpath[1100];
    snprintf (dpath, sizeof dpath, "%s.digest", snap);
    FILE *f = fopen (dpath, "w");
    if (f == NULL)
        return 1;
    fprintf (f, "%s %u %llu %016llx\n", gs_graph_version (g), st.nodes, (unsigned long long) st.edges,
             (unsigned long long) s_digest (g));
    fclose (f);
    gs_graph_destroy (&g);
    return 0;
}

/* Phases 2/3 (child): load the snapshot, compare with the digest. */
static int
s_phase_snapshot (const char *db, const char *snap, const char *tag)
{
    char err[512];
    gs_graph_t *g = NULL;
    double t0 = s_now ();
    int rc = gs_snapshot_load (snap, db, "bench", &g, err, sizeof err);
    double secs = s_now () - t0;
    if (rc != GS_OK) {
        fprintf (stderr, "snapshot load failed: %s\n", err);
        return 1;
    }
    printf ("BENCH graph.snapshot_load_%s_s=%.2f\nBENCH graph.snapshot_load_%s_peak_rss_mib=%.0f\n", tag, secs, tag,
            s_peak_rss_mib ());
    gs_stats_t st;
    gs_graph_stats (g, &st);
    char want[256] = "", got[256];
    char dpath[1100];
    snprintf (dpath, sizeof dpath, "%s.digest", snap);
    FILE *f = fopen (dpath, "r");
    if (f == NULL || fgets (want, sizeof want, f) == NULL)
        want[0] = '\0';
    if (f)
        fclose (f);
    snprintf (got, sizeof got, "%s %u %llu %016llx\n", gs_graph_version (g), st.nodes, (unsigned long long) st.edges,
              (unsigned long long) s_digest (g));
    int same = strcmp (want, got) == 0;
    printf ("BENCH graph.snapshot_%s_identical=%d\n", tag, same);
    if (!same)
        fprintf (stderr, "snapshot graph differs: built %s loaded %s", want, got);
    gs_graph_destroy (&g);
    return same ? 0 : 1;
}

static int
s_run_child (int (*fn) (const char *, const char *, const char *), const char *db, const char *snap, const char *tag)
{
    fflush (stdout);
    struct rusage r0;
    getrusage (RUSAGE_CHILDREN, &r0);
    double t0 = s_now ();
    pid_t pid = fork ();
    if (pid == 0) {
        int rc = fn (db, snap, tag);
        fflush (stdout);
        _exit (rc);
    }
    int st = 0;
    if (pid < 0 || waitpid (pid, &st, 0) != pid)
        return 1;
    struct rusage ru;
    getrusage (RUSAGE_CHILDREN, &ru);
#define S_TV(tv) ((double) (tv).tv_sec + (double) (tv).tv_usec / 1e6)
    printf ("BENCH graph.phase_%s_wall_s=%.2f\nBENCH graph.phase_%s_user_s=%.2f\nBENCH graph.phase_%s_sys_s=%.2f\n", tag,
            s_now () - t0, tag, S_TV (ru.ru_utime) - S_TV (r0.ru_utime), tag, S_TV (ru.ru_stime) - S_TV (r0.ru_stime));
#undef S_TV
    return WIFEXITED (st) ? WEXITSTATUS (st) : 1;
}

static int
s_build_child (const char *db, const char *snap, const char *tag)
{
    (void) tag;
    return s_phase_build (db, snap);
}


int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: %s <copilot> <db>\n", argv[0]);
        return 2;
    }
    const char *copilot = argv[1], *db = argv[2];
    if (access (db, R_OK) != 0) {
        const char *on = getenv ("COPILOT_BENCH");
        if (on == NULL || strcmp (on, "1") != 0) {
            fprintf (stderr, "%s missing; set COPILOT_BENCH=1 to generate it (large profile): skipping\n", db);
            return 77;
        }
        char dir[1024];
        snprintf (dir, sizeof dir, "%s", db);
        char *slash = strrchr (dir, '/');
        if (slash != NULL && slash != dir) {
            *slash = '\0';
            mkdir (dir, 0755);   /* the cache directory; EEXIST is fine */
        }
        if (access (copilot, X_OK) != 0 || s_generate (copilot, db) != 0) {
            fprintf (stderr, "cannot generate %s with %s\n", db, copilot);
            return 1;
        }
    }

    char snap[1024];
    if (argc > 3)
        snprintf (snap, sizeof snap, "%s", argv[3]);
    else
        snprintf (snap, sizeof snap, "%s.gsnap", db);
    const char *warm = getenv ("COPILOT_BENCH_WARM");
    bool cold = warm == NULL || strcmp (warm, "1") != 0;
    if (cold)
        s_drop_cache (db);
    printf ("BENCH graph.db_cache=%s\n", cold ? "cold" : "warm");
    int rc = s_run_child (s_build_child, db, snap, "build");
    if (rc == 0)
        rc = s_run_child (s_phase_snapshot, db, snap, "warm");
    if (rc == 0) {
        s_drop_cache (snap);
        rc = s_run_child (s_phase_snapshot, db, snap, "cold");
    }
    return rc;
}

static int
s_queries (const gs_graph_t *g)
{
    char err[512];
    /* Anchors: every job, in id order (capped); plus the highest-degree node. */
    enum { MAXQ = 200 };
    uint32_t jobs[MAXQ];
    size_t nj = 0;
    uint32_t hub = 0, hub_deg = 0;
    int64_t evict = -1;
    for (uint32_t i = 0; i < gs_graph_node_count (g); i++) {
        if (gs_node_type (g, i) == GS_NT_JOB && nj < MAXQ)
            jobs[nj++] = i;
        if (gs_node_type (g, i) == GS_NT_EVICTION && evict < 0)
            evict = i;
        if (gs_node_degree (g, i) > hub_deg) {
            hub_deg = gs_node_degree (g, i);
            hub = i;
        }
    }
    double lat[MAXQ];
    size_t nodes_total = 0;
    for (size_t k = 0; k < nj; k++) {
        const char *a[] = {gs_node_id (g, jobs[k])};
        gs_subgraph_params_t p = {.anchors = a, .n_anchors = 1, .hops = 4, .budget = 40};
        gs_result_t *r = NULL;
        double q0 = s_now ();
        if (gs_subgraph (g, &p, &r, err, sizeof err) != GS_OK) {
            fprintf (stderr, "subgraph %s: %s\n", a[0], err);
            return 1;
        }
        lat[k] = (s_now () - q0) * 1000.0;
        nodes_total += r->n_nodes;
        gs_result_destroy (&r);
    }
    if (nj > 0) {
        qsort (lat, nj, sizeof *lat, s_cmp_double);
        printf ("BENCH graph.subgraph_queries=%zu\nBENCH graph.subgraph_p50_ms=%.2f\nBENCH graph.subgraph_p95_ms=%.2f\n"
                "BENCH graph.subgraph_max_ms=%.2f\nBENCH graph.subgraph_avg_nodes=%.1f\n",
                nj, lat[nj / 2], lat[(nj * 95) / 100 < nj ? (nj * 95) / 100 : nj - 1], lat[nj - 1],
                (double) nodes_total / (double) nj);
    }
    /* The hub: subgraph anchored on it, and its top-50 neighbours. */
    {
        const char *a[] = {gs_node_id (g, hub)};
        gs_subgraph_params_t p = {.anchors = a, .n_anchors = 1, .hops = 2, .budget = 40};
        gs_result_t *r = NULL;
        double q0 = s_now ();
        int rc = gs_subgraph (g, &p, &r, err, sizeof err);
        double ms = (s_now () - q0) * 1000.0;
        gs_result_destroy (&r);
        q0 = s_now ();
        int rc2 = gs_neighbors (g, a[0], NULL, 50, &r, err, sizeof err);
        double ms2 = (s_now () - q0) * 1000.0;
        gs_result_destroy (&r);
        if (rc != GS_OK || rc2 != GS_OK)
            return 1;
        printf ("BENCH graph.hub=%s\nBENCH graph.hub_degree=%u\nBENCH graph.hub_subgraph_ms=%.2f\n"
                "BENCH graph.hub_neighbors50_ms=%.2f\n",
                a[0], hub_deg, ms, ms2);
    }
    if (nj > 0 && evict >= 0) {
        gs_result_t *r = NULL;
        double q0 = s_now ();
        int rc = gs_path (g, gs_node_id (g, jobs[0]), gs_node_id (g, (uint32_t) evict), 8, &r, err, sizeof err);
        double ms = (s_now () - q0) * 1000.0;
        if (rc != GS_OK)
            return 1;
        printf ("BENCH graph.path_ms=%.1f\nBENCH graph.path_hops=%zu\n", ms, r->n_edges);
        gs_result_destroy (&r);
    }
    return 0;
}
