/* bench_gs_graph.c — load time, memory and query latency of the usage graph
 * on a large generated database.
 *
 *   bench_gs_graph <copilot binary> <db path>
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

#include "gs_graph.h"

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

    char err[512];
    double t0 = s_now ();
    gs_graph_t *g = gs_graph_load (db, err, sizeof err);
    double load = s_now () - t0;
    if (g == NULL) {
        fprintf (stderr, "load failed: %s\n", err);
        return 1;
    }
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    gs_stats_t st;
    gs_graph_stats (g, &st);
    printf ("BENCH graph.load_s=%.2f\n", load);
    printf ("BENCH graph.nodes=%u\nBENCH graph.edges_directed=%llu\nBENCH graph.dangling_pairs=%llu\n", st.nodes,
            (unsigned long long) st.edges, (unsigned long long) st.dangling);
    printf ("BENCH graph.memory_mib=%.0f\nBENCH graph.strings_mib=%.0f\nBENCH graph.peak_rss_mib=%.0f\n",
            (double) st.memory_bytes / 1048576.0, (double) st.arena_bytes / 1048576.0, (double) ru.ru_maxrss / 1024.0);
    for (int t = 0; t < GS_NT__COUNT; t++)
        printf ("BENCH graph.nodes.%s=%u\n", gs_node_type_name ((gs_node_type_t) t), st.nodes_by_type[t]);

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
    gs_graph_destroy (&g);
    return 0;
}
