/* cmd_graph.c — `copilot graph`: the usage graph, locally, without the daemon.
 *
 * Loads the graph from the telemetry database with gs_graph (read-only) and
 * prints a ranked subgraph around a node (the same text the graph-service
 * returns to the prompt builder), its neighbours, a path to another node, or
 * the graph's counts and load time (--stats). Output is deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "gs_graph.h"
#include "str.h"

#define MAX_WEIGHTS 32

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot graph <node-id> [--hops N] [--budget N] [--weights T=W,...] [--db PATH]\n"
             "       copilot graph <node-id> --neighbors EDGE_TYPE|any [--limit N] [--db PATH]\n"
             "       copilot graph <node-id> --path <node-id> [--hops N] [--db PATH]\n"
             "       copilot graph --stats [--db PATH]\n"
             "\n"
             "Node ids are <type>::<primary key>, types workspace user job compute jobrun usage\n"
             "event eviction query configchange anomaly (e.g. job::J-FIN-DAILY).\n"
             "\n"
             "options:\n"
             "  --db PATH          telemetry database (default: $COPILOT_DB_PATH)\n"
             "  --hops N           subgraph: max hops from the node (default %d);\n"
             "                     path: max path length (default 8)\n"
             "  --budget N         subgraph: max nodes (default %d, max %d)\n"
             "  --weights LIST     subgraph: edge weight overrides, e.g. HAS_RUN=0.5,INITIATED_EVENT=0\n"
             "  --edges            subgraph: also print the edges among the returned nodes\n"
             "  --min-score X      subgraph: stop below this score (default %g; negative = fill\n"
             "                     the budget)\n"
             "  --neighbors TYPE   list neighbours through a directed edge type (any = all)\n"
             "  --limit N          neighbours: max rows (default 50)\n"
             "  --path ID          shortest path (ignoring direction) to ID\n"
             "  --stats            node/edge counts per type, dangling edges, load time\n"
             "  -h, --help         this text\n"
             "\n"
             "examples:\n"
             "  copilot graph job::J-FIN-DAILY --db data/usage.db --hops 2 --budget 20\n"
             "  copilot graph job::J-FIN-DAILY --neighbors any --db data/usage.db\n"
             "  copilot graph --stats --db data/usage.db\n",
             GS_DEFAULT_HOPS, GS_DEFAULT_BUDGET, GS_MAX_BUDGET, GS_DEFAULT_MIN_SCORE);
}

static int
s_uint (const char *cmd, const char *name, const char *text, int max, unsigned *out)
{
    int v;
    if (text == NULL)
        return 0;
    if (str_to_int (text, 1, max, &v) != 0) {
        fprintf (stderr, "copilot %s: --%s '%s': expected an integer in [1, %d]\n", cmd, name, text, max);
        return CLI_USAGE;
    }
    *out = (unsigned) v;
    return 0;
}

static void
s_print_edges (const gs_graph_t *g, const gs_result_t *r)
{
    for (size_t k = 0; k < r->n_edges; k++)
        printf ("  %s -[%s]-> %s\n", gs_node_id (g, r->edges[k].src), gs_edge_type_name ((gs_edge_type_t) r->edges[k].type),
                gs_node_id (g, r->edges[k].dst));
}

static int
s_stats (const gs_graph_t *g)
{
    gs_stats_t st;
    gs_graph_stats (g, &st);
    printf ("nodes %u, directed edges %llu (%llu relation pairs), dangling pairs dropped %llu,"
            " duplicate pairs %llu, rows skipped %llu\n",
            st.nodes, (unsigned long long) st.edges, (unsigned long long) (st.edges / 2),
            (unsigned long long) st.dangling, (unsigned long long) st.duplicate_edges,
            (unsigned long long) st.rows_skipped);
    printf ("load %.1f ms, memory %.1f MiB (strings %.1f MiB), version %s, data_version %s\n", st.load_ms,
            (double) st.memory_bytes / 1048576.0, (double) st.arena_bytes / 1048576.0, gs_graph_version (g),
            *gs_graph_data_version (g) ? gs_graph_data_version (g) : "(none)");
    printf ("optional tables: job_dependencies %s, config_changes %s\n",
            st.has_job_dependencies_table ? "yes" : "no (dependencies parsed from job descriptions)",
            st.has_config_changes_table ? "yes" : "no");
    printf ("nodes by type:\n");
    for (int t = 0; t < GS_NT__COUNT; t++)
        printf ("  %-13s %u\n", gs_node_type_name ((gs_node_type_t) t), st.nodes_by_type[t]);
    printf ("relations (pairs kept / dangling dropped):\n");
    for (int r = 0; r < GS_REL__COUNT; r++)
        printf ("  %-24s %-22s %llu / %llu\n", gs_rel_name ((gs_rel_t) r),
                gs_edge_type_name (gs_rel_forward ((gs_rel_t) r)), (unsigned long long) st.pairs_by_rel[r],
                (unsigned long long) st.dangling_by_rel[r]);
    return CLI_OK;
}

/* Parses "T=W,T=W" into w[] (names point into `copy`). */
static int
s_weights (const char *text, char *copy, size_t copysz, gs_weight_t *w, size_t *n)
{
    *n = 0;
    if (text == NULL)
        return 0;
    if (str_copy (copy, copysz, text) != 0)
        return cli_error ("graph", "--weights is too long");
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (item, '=');
        double v;
        if (eq == NULL || *n >= MAX_WEIGHTS) {
            fprintf (stderr, "copilot graph: --weights: expected TYPE=WEIGHT[,TYPE=WEIGHT...], got '%s'\n", item);
            return CLI_USAGE;
        }
        *eq = '\0';
        if (str_to_double (eq + 1, &v) != 0) {
            fprintf (stderr, "copilot graph: --weights: '%s' is not a number\n", eq + 1);
            return CLI_USAGE;
        }
        w[(*n)++] = (gs_weight_t) {str_trim (item), v};
    }
    return 0;
}

int
cmd_graph (int argc, char **argv)
{
    const char *db = NULL, *hops_s = NULL, *budget_s = NULL, *weights_s = NULL, *nbr = NULL, *limit_s = NULL,
               *path_to = NULL, *min_s = NULL;
    bool stats = false, edges = false;
    const cli_opt_t opts[] = {
        {"db", &db, NULL},         {"hops", &hops_s, NULL},     {"budget", &budget_s, NULL},
        {"weights", &weights_s, NULL}, {"neighbors", &nbr, NULL}, {"limit", &limit_s, NULL},
        {"path", &path_to, NULL},  {"stats", NULL, &stats},     {"edges", NULL, &edges},
        {"min-score", &min_s, NULL},
        {NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = cli_parse ("graph", argc, argv, 1, opts, pos, 1, &npos);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    if (db == NULL) {
        const char *env = getenv ("COPILOT_DB_PATH");
        db = env && *env ? env : NULL;
    }
    if (db == NULL)
        return cli_error ("graph", "no database: pass --db PATH or set COPILOT_DB_PATH");
    if (npos == 0 && !stats) {
        s_help (stderr);
        return CLI_USAGE;
    }
    unsigned hops = 0, budget = 0, limit = 0;
    if ((rc = s_uint ("graph", "hops", hops_s, GS_MAX_HOPS, &hops)) || (rc = s_uint ("graph", "budget", budget_s, GS_MAX_BUDGET, &budget))
        || (rc = s_uint ("graph", "limit", limit_s, 10000, &limit)))
        return rc;
    double min_score = 0.0;
    if (min_s != NULL && str_to_double (min_s, &min_score) != 0) {
        fprintf (stderr, "copilot graph: --min-score '%s': expected a number\n", min_s);
        return CLI_USAGE;
    }
    gs_weight_t w[MAX_WEIGHTS];
    size_t nw = 0;
    char wcopy[1024];
    if ((rc = s_weights (weights_s, wcopy, sizeof wcopy, w, &nw)) != 0)
        return rc;

    char err[512] = "";
    gs_graph_t *g = gs_graph_load (db, err, sizeof err);
    if (g == NULL)
        return cli_error ("graph", "%s", err);
    if (stats && npos == 0) {
        rc = s_stats (g);
        gs_graph_destroy (&g);
        return rc;
    }
    const char *id = pos[0];
    gs_result_t *r = NULL;
    int grc;
    if (path_to)
        grc = gs_path (g, id, path_to, hops, &r, err, sizeof err);
    else if (nbr)
        grc = gs_neighbors (g, id, strcmp (nbr, "any") == 0 ? NULL : nbr, limit, &r, err, sizeof err);
    else {
        const char *anchors[] = {id};
        gs_subgraph_params_t p = {.anchors = anchors, .n_anchors = 1, .hops = hops, .budget = budget,
                                  .weights = w, .n_weights = nw, .min_score = min_score};
        grc = gs_subgraph (g, &p, &r, err, sizeof err);
    }
    if (grc != GS_OK) {
        gs_graph_destroy (&g);
        return cli_error ("graph", "%s (%s)", err, gs_strerror (grc));
    }
    buf_t *out = buf_new ((size_t) 64 << 20);
    if (out == NULL || gs_render_text (g, r, out) != BUF_OK) {
        buf_destroy (&out);
        gs_result_destroy (&r);
        gs_graph_destroy (&g);
        return cli_error ("graph", "output too large");
    }
    if (path_to && r->n_nodes == 0)
        printf ("no path from %s to %s within %u hops\n", id, path_to, hops ? hops : 8);
    else if (path_to)
        printf ("path of %zu hops from %s to %s:\n", r->n_edges, id, path_to);
    else if (nbr)
        printf ("%zu neighbours of %s (%s):\n", r->n_nodes, id, nbr);
    else
        printf ("subgraph of %zu nodes, %zu edges around %s (hops %u, budget %u, graph %s):\n", r->n_nodes,
                r->n_edges, id, hops ? hops : GS_DEFAULT_HOPS, budget ? budget : GS_DEFAULT_BUDGET,
                gs_graph_version (g));
    fputs (buf_data (out), stdout);
    if (path_to && r->n_edges > 0) {
        printf ("edges:\n");
        s_print_edges (g, r);
    } else if (edges) {
        printf ("edges:\n");
        s_print_edges (g, r);
    }
    if (stats)
        s_stats (g);
    buf_destroy (&out);
    gs_result_destroy (&r);
    gs_graph_destroy (&g);
    return CLI_OK;
}
