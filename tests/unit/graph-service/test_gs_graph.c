/* test_gs_graph.c — unit tests of the gs_graph library on the reference
 * fixture (argv[1], read-only; a copy in a temp dir when a test must add
 * tables) and on small synthetic graphs. Exits 77 when the fixture is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "buf.h"
#include "gs_graph.h"
#include "it_files.h"

static const char *s_fixture;
static gs_graph_t *s_g;   /* fixture graph shared by read-only tests */

static int
setup_fixture (void **state)
{
    (void) state;
    char err[256] = "";
    s_g = gs_graph_load (s_fixture, err, sizeof err);
    if (s_g == NULL)
        fprintf (stderr, "load failed: %s\n", err);
    return s_g ? 0 : -1;
}

static int
teardown_fixture (void **state)
{
    (void) state;
    gs_graph_destroy (&s_g);
    return 0;
}

static bool
s_has_hit (const gs_graph_t *g, const gs_result_t *r, const char *id)
{
    for (size_t k = 0; k < r->n_nodes; k++)
        if (strcmp (gs_node_id (g, r->nodes[k].node), id) == 0)
            return true;
    return false;
}

static size_t
s_count_type (const gs_graph_t *g, const gs_result_t *r, gs_node_type_t t)
{
    size_t n = 0;
    for (size_t k = 0; k < r->n_nodes; k++)
        n += gs_node_type (g, r->nodes[k].node) == t;
    return n;
}

/* ------------------------------------------------------------ counts */

static void
test_counts (void **state)
{
    (void) state;
    gs_stats_t st;
    gs_graph_stats (s_g, &st);
    /* The reference's 1,972 nodes: no config_changes table, no anomalies. */
    assert_int_equal (st.nodes, 1972);
    assert_int_equal (st.nodes_by_type[GS_NT_WORKSPACE], 1);
    assert_int_equal (st.nodes_by_type[GS_NT_USER], 7);
    assert_int_equal (st.nodes_by_type[GS_NT_JOB], 9);
    assert_int_equal (st.nodes_by_type[GS_NT_COMPUTE], 7);
    assert_int_equal (st.nodes_by_type[GS_NT_JOBRUN], 375);
    assert_int_equal (st.nodes_by_type[GS_NT_USAGE], 688);
    assert_int_equal (st.nodes_by_type[GS_NT_EVENT], 802);
    assert_int_equal (st.nodes_by_type[GS_NT_EVICTION], 27);
    assert_int_equal (st.nodes_by_type[GS_NT_QUERY], 56);
    assert_int_equal (st.nodes_by_type[GS_NT_CONFIGCHANGE], 0);
    assert_int_equal (st.nodes_by_type[GS_NT_ANOMALY], 0);
    /* Relation pairs. */
    assert_int_equal (st.pairs_by_rel[GS_REL_USER_WORKSPACE], 7);
    assert_int_equal (st.pairs_by_rel[GS_REL_JOB_WORKSPACE], 9);
    assert_int_equal (st.pairs_by_rel[GS_REL_COMPUTE_WORKSPACE], 7);
    assert_int_equal (st.pairs_by_rel[GS_REL_RUN_JOB], 375);
    assert_int_equal (st.pairs_by_rel[GS_REL_USAGE_RUN], 373);
    assert_int_equal (st.pairs_by_rel[GS_REL_USAGE_COMPUTE], 315);
    assert_int_equal (st.pairs_by_rel[GS_REL_EVENT_USAGE], 800);
    assert_int_equal (st.pairs_by_rel[GS_REL_EVENT_USER], 802);
    assert_int_equal (st.pairs_by_rel[GS_REL_EVENT_EVICTION], 27);
    assert_int_equal (st.pairs_by_rel[GS_REL_QUERY_COMPUTE], 56);
    assert_int_equal (st.pairs_by_rel[GS_REL_QUERY_USER], 56);
    /* Parsed from "DEPENDS ON:" text (no job_dependencies table). */
    assert_int_equal (st.pairs_by_rel[GS_REL_JOB_DEPENDS], 2);
    assert_false (st.has_job_dependencies_table);
    assert_false (st.has_config_changes_table);
    /* The two CLUSTER_START events of SKIPPED runs point at missing usage. */
    assert_int_equal (st.dangling, 2);
    assert_int_equal (st.dangling_by_rel[GS_REL_EVENT_USAGE], 2);
    assert_int_equal (st.duplicate_edges, 0);
    /* Reference 5,658 directed = 2 × 2,829 pairs incl. 2 dangling; ours
     * drops the 2 dangling pairs and adds 2 dependency pairs. */
    assert_int_equal (st.edges, 5658);
    uint64_t pairs = 0;
    for (int r = 0; r < GS_REL__COUNT; r++)
        pairs += st.pairs_by_rel[r];
    assert_int_equal (st.edges, 2 * pairs);
    /* The system user is a hub: every event plus its workspace. */
    int64_t sys = gs_graph_find (s_g, "user::U-SYSTEM");
    assert_true (sys >= 0);
    assert_int_equal (gs_node_degree (s_g, (uint32_t) sys), 803);
    assert_string_equal (gs_graph_data_version (s_g), "");
    assert_true (strncmp (gs_graph_version (s_g), "g1-", 3) == 0);
}

static void
test_ids_and_rollup (void **state)
{
    (void) state;
    int64_t j = gs_graph_find (s_g, "job::J-FIN-DAILY");
    assert_true (j >= 0);
    assert_int_equal (gs_node_type (s_g, (uint32_t) j), GS_NT_JOB);
    assert_string_equal (gs_node_label (s_g, (uint32_t) j), "Daily Financial Aggregation");
    /* Job cost = sum of its runs' usage total_cost. */
    sqlite3 *db;
    assert_int_equal (sqlite3_open_v2 (s_fixture, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal (sqlite3_prepare_v2 (db,
                                          "SELECT SUM(u.total_cost) FROM compute_usage u JOIN job_runs r"
                                          " ON r.job_run_id = u.parent_id WHERE r.job_id = 'J-FIN-DAILY'",
                                          -1, &st, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (st), SQLITE_ROW);
    double want = sqlite3_column_double (st, 0);
    sqlite3_finalize (st);
    sqlite3_close (db);
    assert_true (want > 1000.0);
    assert_true (gs_node_cost (s_g, (uint32_t) j) > want - 0.01 && gs_node_cost (s_g, (uint32_t) j) < want + 0.01);
    /* One id scheme: job runs are jobrun::<job_run_id>; no run:: ids. */
    assert_true (gs_graph_find (s_g, "jobrun::J-FIN-DAILY-2025-12-05-R02") >= 0);
    assert_true (gs_graph_find (s_g, "run::J-FIN-DAILY-2025-12-05-R02") < 0);
    /* Sorted ids: binary search finds every node by its own id. */
    for (uint32_t i = 0; i < gs_graph_node_count (s_g); i++) {
        assert_int_equal (gs_graph_find (s_g, gs_node_id (s_g, i)), i);
        if (i > 0)
            assert_true (strcmp (gs_node_id (s_g, i - 1), gs_node_id (s_g, i)) < 0);
    }
    /* Dependency parsed from the description, both directions. */
    int64_t tr = gs_graph_find (s_g, "job::J-SUPPLY-TRANSFORM");
    int64_t raw = gs_graph_find (s_g, "job::J-SUPPLY-RAW");
    const uint32_t *nb;
    const uint8_t *et;
    uint32_t n;
    gs_node_adjacency (s_g, (uint32_t) tr, &nb, &et, &n);
    bool dep = false;
    for (uint32_t k = 0; k < n; k++)
        dep |= nb[k] == (uint32_t) raw && et[k] == GS_ET_DEPENDS_ON;
    assert_true (dep);
}

/* ------------------------------------------------------------ subgraph */

static void
test_subgraph_fin_daily (void **state)
{
    (void) state;
    const char *anchors[] = {"job::J-FIN-DAILY"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .hops = 4, .budget = 40};
    gs_result_t *r = NULL;
    char err[256] = "";
    assert_int_equal (gs_subgraph (s_g, &p, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 40);
    assert_string_equal (gs_node_id (s_g, r->nodes[0].node), "job::J-FIN-DAILY");
    assert_true (r->nodes[0].score == 1.0);
    assert_int_equal (r->nodes[0].parent, -1);
    size_t runs = s_count_type (s_g, r, GS_NT_JOBRUN), usage = s_count_type (s_g, r, GS_NT_USAGE);
    size_t evictions = s_count_type (s_g, r, GS_NT_EVICTION), events = s_count_type (s_g, r, GS_NT_EVENT);
    assert_true (runs >= 5);
    assert_true (usage >= 3);
    assert_true (evictions >= 1);
    /* No event reached through the system user's 802 INITIATED_EVENT edges. */
    size_t via_sys = 0;
    for (size_t k = 0; k < r->n_nodes; k++) {
        const gs_hit_t *h = &r->nodes[k];
        if (k > 0) {
            assert_true (h->score <= r->nodes[k - 1].score);
            assert_true (h->parent >= 0);
        }
        assert_true (h->hop <= 4);
        if (h->via == GS_ET_INITIATED_EVENT && h->parent >= 0
            && strcmp (gs_node_id (s_g, (uint32_t) h->parent), "user::U-SYSTEM") == 0)
            via_sys++;
        /* Every run in the subgraph belongs to J-FIN-DAILY's neighbourhood. */
        if (gs_node_type (s_g, h->node) == GS_NT_JOBRUN)
            assert_true (strstr (gs_node_id (s_g, h->node), "J-FIN-DAILY") != NULL);
    }
    assert_int_equal (via_sys, 0);
    assert_true (events < 30);
    /* Evictions of this job are in, and each is linked by an edge. */
    bool evict_edge = false;
    for (size_t k = 0; k < r->n_edges; k++) {
        assert_true (gs_edge_type_is_forward ((gs_edge_type_t) r->edges[k].type));
        evict_edge |= r->edges[k].type == GS_ET_ASSOCIATED_EVICTION;
        if (k > 0)
            assert_true (r->edges[k - 1].src < r->edges[k].src
                         || (r->edges[k - 1].src == r->edges[k].src && r->edges[k - 1].dst <= r->edges[k].dst));
    }
    assert_true (evict_edge);
    assert_true (r->n_edges >= r->n_nodes - 1);   /* at least the expansion tree */

    buf_t *b = buf_new (1 << 20);
    assert_int_equal (gs_render_text (s_g, r, b), BUF_OK);
    const char *t = buf_data (b);
    assert_true (strncmp (t, "- job::J-FIN-DAILY [job] Daily Financial Aggregation — cost $", 62) == 0);
    assert_non_null (strstr (t, "54 runs, 9 failed"));
    assert_non_null (strstr (t, "[eviction] spot eviction"));
    size_t lines = 0;
    for (const char *c = t; *c; c++)
        lines += *c == '\n';
    assert_int_equal (lines, 40);
    buf_destroy (&b);
    gs_result_destroy (&r);
    assert_null (r);
}

static void
test_subgraph_hub_anchor (void **state)
{
    (void) state;
    /* Anchored on an event: the system user may join, its 802 events not. */
    const char *anchors[] = {"event::EVT-EVICT-J-FIN-DAILY-2025-12-05-R02"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .hops = 4, .budget = 30};
    gs_result_t *r = NULL;
    assert_int_equal (gs_subgraph (s_g, &p, &r, NULL, 0), GS_OK);
    assert_int_equal (r->n_nodes, 30);
    assert_true (s_has_hit (s_g, r, "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02"));
    assert_true (s_has_hit (s_g, r, "usage::J-FIN-DAILY-2025-12-05-R02"));
    assert_true (s_has_hit (s_g, r, "jobrun::J-FIN-DAILY-2025-12-05-R02"));
    assert_true (s_has_hit (s_g, r, "job::J-FIN-DAILY"));
    size_t via_sys = 0;
    for (size_t k = 0; k < r->n_nodes; k++)
        via_sys += r->nodes[k].via == GS_ET_INITIATED_EVENT && r->nodes[k].parent >= 0;
    assert_int_equal (via_sys, 0);
    gs_result_destroy (&r);
    /* hops 3 exhausts the specific neighbourhood: the cut-off stops the
     * expansion instead of padding the budget with the hub's events... */
    p.hops = 3;
    assert_int_equal (gs_subgraph (s_g, &p, &r, NULL, 0), GS_OK);
    assert_true (r->n_nodes < 30);
    assert_true (s_has_hit (s_g, r, "user::U-SYSTEM"));
    for (size_t k = 0; k < r->n_nodes; k++)
        assert_true (r->nodes[k].via != GS_ET_INITIATED_EVENT || r->nodes[k].parent < 0);
    gs_result_destroy (&r);
    /* ...unless asked to fill the budget (min_score < 0). */
    p.min_score = -1;
    assert_int_equal (gs_subgraph (s_g, &p, &r, NULL, 0), GS_OK);
    assert_int_equal (r->n_nodes, 30);
    gs_result_destroy (&r);

    /* Weights: disabling HAS_RUN keeps the runs out. */
    const char *job[] = {"job::J-FIN-DAILY"};
    gs_weight_t w[] = {{"HAS_RUN", 0.0}};
    gs_subgraph_params_t q = {.anchors = job, .n_anchors = 1, .hops = 2, .budget = 40, .weights = w, .n_weights = 1};
    assert_int_equal (gs_subgraph (s_g, &q, &r, NULL, 0), GS_OK);
    assert_int_equal (s_count_type (s_g, r, GS_NT_JOBRUN), 0);
    assert_true (s_has_hit (s_g, r, "workspace::OU-CHICOLA"));
    gs_result_destroy (&r);
    gs_weight_t bad[] = {{"NO_SUCH_EDGE", 1.0}};
    q.weights = bad;
    char err[256] = "";
    assert_int_equal (gs_subgraph (s_g, &q, &r, err, sizeof err), GS_E_INVALID);
    assert_non_null (strstr (err, "NO_SUCH_EDGE"));
    assert_null (r);
}

static void
test_subgraph_errors (void **state)
{
    (void) state;
    const char *anchors[] = {"job::J-FIN-DAILY", "job::J-NOPE"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 2, .budget = 10};
    gs_result_t *r = NULL;
    char err[256] = "";
    assert_int_equal (gs_subgraph (s_g, &p, &r, err, sizeof err), GS_E_NOTFOUND);
    assert_non_null (strstr (err, "job::J-NOPE"));
    assert_null (r);
    p.n_anchors = 0;
    assert_int_equal (gs_subgraph (s_g, &p, &r, err, sizeof err), GS_E_INVALID);
    /* Two anchors: both present, budget respected, hops 0 → default. */
    const char *two[] = {"job::J-FIN-DAILY", "compute::WH-FINANCE"};
    gs_subgraph_params_t q = {.anchors = two, .n_anchors = 2, .budget = 12};
    assert_int_equal (gs_subgraph (s_g, &q, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 12);
    assert_string_equal (gs_node_id (s_g, r->nodes[0].node), "compute::WH-FINANCE");   /* tie 1.0: smaller id */
    assert_string_equal (gs_node_id (s_g, r->nodes[1].node), "job::J-FIN-DAILY");
    gs_result_destroy (&r);
}

static void
test_determinism (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g2 = gs_graph_load (s_fixture, err, sizeof err);
    assert_non_null (g2);
    assert_string_equal (gs_graph_version (s_g), gs_graph_version (g2));
    const char *anchors[] = {"job::J-FIN-DAILY"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .hops = 4, .budget = 40};
    gs_result_t *r1 = NULL, *r2 = NULL;
    assert_int_equal (gs_subgraph (s_g, &p, &r1, NULL, 0), GS_OK);
    assert_int_equal (gs_subgraph (g2, &p, &r2, NULL, 0), GS_OK);
    buf_t *a = buf_new (1 << 20), *b = buf_new (1 << 20);
    assert_int_equal (gs_render_text (s_g, r1, a), 0);
    assert_int_equal (gs_render_text (g2, r2, b), 0);
    assert_true (buf_len (a) > 1000);
    assert_string_equal (buf_data (a), buf_data (b));
    assert_int_equal (r1->n_edges, r2->n_edges);
    assert_memory_equal (r1->edges, r2->edges, r1->n_edges * sizeof *r1->edges);
    buf_destroy (&a);
    buf_destroy (&b);
    gs_result_destroy (&r1);
    gs_result_destroy (&r2);
    gs_graph_destroy (&g2);
}

/* ------------------------------------------------------ neighbors, path */

static void
test_neighbors (void **state)
{
    (void) state;
    gs_result_t *r = NULL;
    char err[256];
    assert_int_equal (gs_neighbors (s_g, "job::J-FIN-DAILY", "HAS_RUN", 5, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 5);
    for (size_t k = 0; k < r->n_nodes; k++) {
        assert_int_equal (gs_node_type (s_g, r->nodes[k].node), GS_NT_JOBRUN);
        assert_int_equal (r->edges[k].type, GS_ET_HAS_RUN);
        if (k > 0)
            assert_true (r->nodes[k].score <= r->nodes[k - 1].score);
    }
    gs_result_destroy (&r);
    assert_int_equal (gs_neighbors (s_g, "job::J-FIN-DAILY", "", 0, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 50);   /* default limit; 55 neighbours exist */
    gs_result_destroy (&r);
    assert_int_equal (gs_neighbors (s_g, "job::J-FIN-DAILY", NULL, 1000, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 55);   /* 54 runs + workspace */
    gs_result_destroy (&r);
    assert_int_equal (gs_neighbors (s_g, "job::J-FIN-DAILY", "BOGUS", 5, &r, err, sizeof err), GS_E_INVALID);
    assert_int_equal (gs_neighbors (s_g, "job::nope", NULL, 5, &r, err, sizeof err), GS_E_NOTFOUND);
    assert_non_null (strstr (err, "job::nope"));
    /* Hub: top 10 of the system user's 803 neighbours. */
    assert_int_equal (gs_neighbors (s_g, "user::U-SYSTEM", "INITIATED_EVENT", 10, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 10);
    /* The most relevant events are spot evictions (notable). */
    assert_non_null (strstr (gs_node_id (s_g, r->nodes[0].node), "EVICT"));
    gs_result_destroy (&r);
}

static void
test_path (void **state)
{
    (void) state;
    gs_result_t *r = NULL;
    char err[256];
    assert_int_equal (
        gs_path (s_g, "job::J-FIN-DAILY", "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02", 0, &r, err, sizeof err),
        GS_OK);
    assert_int_equal (r->n_nodes, 5);
    assert_int_equal (r->n_edges, 4);
    const char *want[] = {"job::J-FIN-DAILY", "jobrun::J-FIN-DAILY-2025-12-05-R02", "usage::J-FIN-DAILY-2025-12-05-R02",
                          "event::EVT-EVICT-J-FIN-DAILY-2025-12-05-R02", "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02"};
    for (size_t k = 0; k < 5; k++)
        assert_string_equal (gs_node_id (s_g, r->nodes[k].node), want[k]);
    assert_int_equal (r->edges[0].type, GS_ET_RUN_OF);   /* forward: jobrun → job */
    assert_string_equal (gs_node_id (s_g, r->edges[0].src), want[1]);
    assert_string_equal (gs_node_id (s_g, r->edges[0].dst), want[0]);
    assert_int_equal (r->edges[1].type, GS_ET_USAGE_OF_JOB_RUN);
    assert_int_equal (r->edges[2].type, GS_ET_ON_USAGE);
    assert_int_equal (r->edges[3].type, GS_ET_ASSOCIATED_EVICTION);
    gs_result_destroy (&r);
    /* Too few hops: no path, not an error. */
    assert_int_equal (
        gs_path (s_g, "job::J-FIN-DAILY", "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02", 3, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 0);
    gs_result_destroy (&r);
    /* Same node. */
    assert_int_equal (gs_path (s_g, "job::J-FIN-DAILY", "job::J-FIN-DAILY", 0, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 1);
    gs_result_destroy (&r);
    /* Dependency edge gives a 1-hop path between the two supply jobs. */
    assert_int_equal (gs_path (s_g, "job::J-SUPPLY-RAW", "job::J-SUPPLY-TRANSFORM", 0, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_edges, 1);
    assert_int_equal (r->edges[0].type, GS_ET_DEPENDS_ON);
    assert_string_equal (gs_node_id (s_g, r->edges[0].src), "job::J-SUPPLY-TRANSFORM");
    gs_result_destroy (&r);
    assert_int_equal (gs_path (s_g, "job::J-FIN-DAILY", "user::nobody", 0, &r, err, sizeof err), GS_E_NOTFOUND);
    assert_non_null (strstr (err, "user::nobody"));
}

/* -------------------------------------------------- anomalies, migrations */

static void
test_anomaly (void **state)
{
    (void) state;
    char id[128], err[256];
    assert_int_equal (gs_anomaly_id ("job::J-FIN-DAILY", "2025-11-20", id, sizeof id), GS_OK);
    assert_string_equal (id, "anomaly::J-FIN-DAILY:2025-11-20");
    assert_int_equal (gs_anomaly_id ("J-FIN-DAILY", "2025-11-20", id, sizeof id), GS_E_INVALID);
    assert_int_equal (gs_anomaly_id ("job::J-FIN-DAILY", "2025-13-20", id, sizeof id), GS_E_INVALID);

    gs_builder_t *b = gs_builder_new (0);
    assert_non_null (b);
    assert_int_equal (gs_builder_load_db (b, s_fixture, err, sizeof err), GS_OK);
    assert_int_equal (gs_builder_add_anomaly (b, "job::J-FIN-DAILY", "2025-11-20", 812.5, "cost $812.50 vs $430 (z 3.1)"),
                      GS_OK);
    assert_int_equal (gs_builder_add_anomaly (b, "job::J-FIN-DAILY", "2025-11-20", 1.0, "dup"), GS_OK);
    assert_int_equal (gs_builder_add_anomaly (b, "job::J-NOPE", "2025-11-20", 1.0, "x"), GS_E_NOTFOUND);
    gs_graph_t *g = gs_builder_finish (&b, err, sizeof err);
    assert_null (b);
    assert_non_null (g);
    gs_stats_t st;
    gs_graph_stats (g, &st);
    assert_int_equal (st.nodes, 1973);
    assert_int_equal (st.nodes_by_type[GS_NT_ANOMALY], 1);
    assert_int_equal (st.pairs_by_rel[GS_REL_ANOMALY_ENTITY], 1);
    assert_int_equal (st.dangling_by_rel[GS_REL_ANOMALY_ENTITY], 1);
    assert_string_not_equal (gs_graph_version (g), gs_graph_version (s_g));
    int64_t a = gs_graph_find (g, "anomaly::J-FIN-DAILY:2025-11-20");
    assert_true (a >= 0);
    assert_string_equal (gs_node_detail (g, (uint32_t) a), "cost $812.50 vs $430 (z 3.1)");
    const char *anchors[] = {"job::J-FIN-DAILY"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .budget = 10};
    gs_result_t *r = NULL;
    assert_int_equal (gs_subgraph (g, &p, &r, NULL, 0), GS_OK);
    bool top = false;   /* a direct, notable neighbour: among the first few */
    for (size_t k = 1; k < 4; k++)
        top |= strcmp (gs_node_id (g, r->nodes[k].node), "anomaly::J-FIN-DAILY:2025-11-20") == 0;
    assert_true (top);
    gs_result_destroy (&r);
    gs_graph_destroy (&g);
}

static void
test_migrated_tables (void **state)
{
    (void) state;
    char dir[] = "/tmp/gs_test_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[256], err[256];
    snprintf (path, sizeof path, "%s/t.db", dir);
    assert_int_equal (itf_copy_file (s_fixture, path), 0);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    /* Same DDL as sql/migrations/003 and 001 (subset). */
    const char *ddl
        = "CREATE TABLE job_dependencies (upstream_job_id TEXT NOT NULL, downstream_job_id TEXT NOT NULL,"
          " dependency_type TEXT NOT NULL DEFAULT 'HARD', source TEXT NOT NULL DEFAULT 'description',"
          " PRIMARY KEY (upstream_job_id, downstream_job_id));"
          "INSERT INTO job_dependencies VALUES ('J-SUPPLY-RAW','J-SUPPLY-TRANSFORM','HARD','description'),"
          " ('J-SUPPLY-TRANSFORM','J-SUPPLY-DASHBOARD','HARD','description'),"
          " ('J-FIN-DAILY','J-FIN-MONTHLY','SOFT','import'), ('J-GONE','J-FIN-MONTHLY','SOFT','import');"
          "CREATE TABLE config_changes (change_id TEXT PRIMARY KEY, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,"
          " changed_at TEXT NOT NULL, field TEXT NOT NULL, before_value TEXT, after_value TEXT, changed_by TEXT,"
          " event_id TEXT);"
          "INSERT INTO config_changes VALUES"
          " ('CHG-J-ROUTE-OPT-20251120-spot_ratio','JOB','J-ROUTE-OPT','2025-11-20 09:00:00','spot_ratio','0.7','0.3',"
          "  'U-DAVID', NULL),"
          " ('CHG-WH-ML-20251121-size','WAREHOUSE','WH-ML','2025-11-21 10:00:00','size','M','L','U-EMILY', NULL),"
          " ('CHG-POOL-WORKER-GPU-20251122-max','POOL','POOL-WORKER-GPU','2025-11-22 10:00:00','max_size','4','8',"
          "  NULL, NULL);"
          "CREATE TABLE data_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, writer TEXT, detail TEXT,"
          " updated_at TEXT); INSERT INTO data_version VALUES (1, 7, 'migrate', NULL, NULL);";
    assert_int_equal (sqlite3_exec (db, ddl, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);

    gs_graph_t *g = gs_graph_load (path, err, sizeof err);
    assert_non_null (g);
    gs_stats_t st;
    gs_graph_stats (g, &st);
    assert_true (st.has_job_dependencies_table);
    assert_true (st.has_config_changes_table);
    assert_int_equal (st.nodes, 1975);
    assert_int_equal (st.nodes_by_type[GS_NT_CONFIGCHANGE], 3);
    assert_int_equal (st.pairs_by_rel[GS_REL_JOB_DEPENDS], 3);
    assert_int_equal (st.dangling_by_rel[GS_REL_JOB_DEPENDS], 1);   /* J-GONE */
    assert_int_equal (st.pairs_by_rel[GS_REL_CHANGE_ENTITY], 2);
    assert_int_equal (st.dangling_by_rel[GS_REL_CHANGE_ENTITY], 1); /* pools are not modelled */
    assert_int_equal (st.pairs_by_rel[GS_REL_CHANGE_USER], 2);
    assert_string_equal (gs_graph_data_version (g), "7");
    gs_result_t *r = NULL;
    assert_int_equal (gs_neighbors (g, "job::J-ROUTE-OPT", "HAS_CONFIG_CHANGE", 0, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 1);
    assert_string_equal (gs_node_id (g, r->nodes[0].node), "configchange::CHG-J-ROUTE-OPT-20251120-spot_ratio");
    assert_string_equal (gs_node_label (g, r->nodes[0].node), "spot_ratio: 0.7 -> 0.3");
    gs_result_destroy (&r);
    gs_graph_destroy (&g);

    /* A DB without the reference tables is refused, naming the table. */
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db, "DROP TABLE sql_query_history", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    gs_builder_t *b = gs_builder_new (0);
    assert_int_equal (gs_builder_load_db (b, path, err, sizeof err), GS_E_SCHEMA);
    assert_non_null (strstr (err, "sql_query_history"));
    gs_builder_destroy (&b);
    assert_null (b);
    unlink (path);
    rmdir (dir);

    /* A raised cancel flag stops the load. */
    atomic_int stop;
    atomic_init (&stop, 1);
    b = gs_builder_new (0);
    gs_builder_set_cancel (b, &stop);
    assert_int_equal (gs_builder_load_db (b, s_fixture, err, sizeof err), GS_E_CANCELLED);
    gs_builder_destroy (&b);

    b = gs_builder_new (0);
    assert_int_equal (gs_builder_load_db (b, "/nonexistent/dir/x.db", err, sizeof err), GS_E_DB);
    assert_non_null (strstr (err, "/nonexistent/dir/x.db"));
    gs_builder_destroy (&b);
}

/* -------------------------------------------------------- synthetic graph */

static void
test_synthetic (void **state)
{
    (void) state;
    char err[256];
    gs_builder_t *b = gs_builder_new (0);
    assert_int_equal (gs_builder_add_node (b, GS_NT_WORKSPACE, "W", "ws", NULL, 0, 0, 0), GS_OK);
    assert_int_equal (gs_builder_add_node (b, GS_NT_WORKSPACE, "W", "dup", NULL, 0, 0, 0), GS_E_DUPLICATE);
    assert_int_equal (gs_builder_add_node (b, GS_NT_USER, "", "x", NULL, 0, 0, 0), GS_E_INVALID);
    assert_int_equal (gs_builder_add_node (b, GS_NT_USER, "HUB", "hub\nuser", "line1\nline2", 0, 0, 0), GS_OK);
    assert_int_equal (gs_builder_add_node (b, GS_NT_JOB, "J", "job", NULL, 0, 0, 0), GS_OK);
    assert_int_equal (gs_builder_add_edge (b, "user::HUB", "workspace::W", GS_REL_USER_WORKSPACE), GS_OK);
    assert_int_equal (gs_builder_add_edge (b, "user::HUB", "workspace::W", GS_REL_USER_WORKSPACE), GS_OK); /* dup */
    assert_int_equal (gs_builder_add_edge (b, "job::J", "workspace::W", GS_REL_JOB_WORKSPACE), GS_OK);
    assert_int_equal (gs_builder_add_edge (b, "job::J", "workspace::NOPE", GS_REL_JOB_WORKSPACE), GS_E_NOTFOUND);
    /* 500 events on the hub user, all equally recent. */
    for (int k = 0; k < 500; k++) {
        char pk[32], ev[48];
        snprintf (pk, sizeof pk, "E%03d", k);
        snprintf (ev, sizeof ev, "event::E%03d", k);
        assert_int_equal (gs_builder_add_node (b, GS_NT_EVENT, pk, "CLUSTER_START", NULL, 0, 1000, 0), GS_OK);
        assert_int_equal (gs_builder_add_edge (b, ev, "user::HUB", GS_REL_EVENT_USER), GS_OK);
    }
    /* A long label is cut on a UTF-8 boundary. */
    char longl[300];
    memset (longl, 0, sizeof longl);
    for (int k = 0; k < 140; k++)
        memcpy (longl + 2 * k, "\xc3\xa9", 2);   /* é × 140 = 280 bytes */
    assert_int_equal (gs_builder_add_node (b, GS_NT_COMPUTE, "C", longl, NULL, 0, 0, 0), GS_OK);
    gs_graph_t *g = gs_builder_finish (&b, err, sizeof err);
    assert_non_null (g);
    gs_stats_t st;
    gs_graph_stats (g, &st);
    assert_int_equal (st.nodes, 504);
    assert_int_equal (st.duplicate_edges, 1);
    assert_int_equal (st.dangling, 1);
    assert_int_equal (st.edges, 2 * 502);
    int64_t c = gs_graph_find (g, "compute::C");
    assert_int_equal (strlen (gs_node_label (g, (uint32_t) c)) % 2, 0);
    assert_true (strlen (gs_node_label (g, (uint32_t) c)) <= 96);
    int64_t h = gs_graph_find (g, "user::HUB");
    assert_string_equal (gs_node_label (g, (uint32_t) h), "hub user");
    assert_string_equal (gs_node_detail (g, (uint32_t) h), "line1 line2");

    /* From the job, the hub's events stay out of a small budget. */
    const char *anchors[] = {"job::J"};
    gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .hops = 3, .budget = 10};
    gs_result_t *r = NULL;
    assert_int_equal (gs_subgraph (g, &p, &r, NULL, 0), GS_OK);
    assert_int_equal (r->n_nodes, 3);
    assert_string_equal (gs_node_id (g, r->nodes[0].node), "job::J");
    assert_string_equal (gs_node_id (g, r->nodes[1].node), "workspace::W");
    assert_string_equal (gs_node_id (g, r->nodes[2].node), "user::HUB");
    gs_result_destroy (&r);
    /* Filling the budget: events ranked by id on equal relevance. */
    p.min_score = -1;
    assert_int_equal (gs_subgraph (g, &p, &r, NULL, 0), GS_OK);
    assert_int_equal (r->n_nodes, 10);
    for (size_t k = 3; k < r->n_nodes; k++) {
        char want[32];
        snprintf (want, sizeof want, "event::E%03zu", k - 3);
        assert_string_equal (gs_node_id (g, r->nodes[k].node), want);
        assert_true (r->nodes[k].score < 0.001);
    }
    buf_t *out = buf_new (200);
    assert_int_equal (gs_render_text (g, r, out), BUF_E_TOOBIG);
    assert_non_null (strstr (buf_data (out), "more)\n"));
    buf_destroy (&out);
    gs_result_destroy (&r);
    gs_graph_destroy (&g);

    /* Empty builder → empty graph that still answers. */
    b = gs_builder_new (0);
    g = gs_builder_finish (&b, err, sizeof err);
    assert_non_null (g);
    assert_int_equal (gs_graph_node_count (g), 0);
    assert_int_equal (gs_graph_find (g, "job::x"), -1);
    gs_graph_destroy (&g);
}

int
main (int argc, char **argv)
{
    s_fixture = argc > 1 ? argv[1] : getenv ("COPILOT_FIXTURE_DB");
    if (s_fixture == NULL || access (s_fixture, R_OK) != 0) {
        fprintf (stderr, "fixture DB not found (%s): skipping\n", s_fixture ? s_fixture : "unset");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_counts),
        cmocka_unit_test (test_ids_and_rollup),
        cmocka_unit_test (test_subgraph_fin_daily),
        cmocka_unit_test (test_subgraph_hub_anchor),
        cmocka_unit_test (test_subgraph_errors),
        cmocka_unit_test (test_determinism),
        cmocka_unit_test (test_neighbors),
        cmocka_unit_test (test_path),
        cmocka_unit_test (test_anomaly),
        cmocka_unit_test (test_migrated_tables),
        cmocka_unit_test (test_synthetic),
    };
    return cmocka_run_group_tests (tests, setup_fixture, teardown_fixture);
}
