/* gs_query.c — Subgraph, Neighbors, Path and the text rendering.
 *
 * Subgraph is a best-first expansion (a max-product Dijkstra) from the
 * anchors. Each candidate's score is
 *
 *   score(v) = score(u) × weight(edge type) × HOP_DECAY × hub(u)
 *              × sibling(rank of v among u's candidates of that edge type)
 *              × relevance(v)
 *
 *   hub(u)       = sqrt(HUB_DEGREE / degree(u)) when degree(u) > HUB_DEGREE
 *   sibling(r)   = 1 / (1 + SIBLING_DECAY × r)   (r = 0 for the best one)
 *   relevance(v) = recency × cost factor × notable factor (gs__relevance)
 *
 * The hub factor and the low default weight of INITIATED_EVENT keep
 * user::U-SYSTEM (an edge to every event) from flooding the budget; the
 * sibling factor stops one fan-out (job → its runs) from taking every slot
 * and lets the best runs' usage, events and evictions in. The node with the
 * highest score (ties: smaller id, then fewer hops) is taken next; only taken
 * nodes are expanded, and only while their hop count < hops. Recency is
 * measured from the newest timestamp in the graph, never the wall clock, so
 * the result is a pure function of (graph, request).
 *
 * Query state lives in small per-call structures (an open-addressing map
 * node → best score/state and a binary heap), so a query touches memory in
 * proportion to what it explores, not to the graph size. Path is a plain BFS
 * with per-call parent arrays.
 *
 * Threading: every function only reads the graph; any number may run at once.
 */
#include "gs_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

#define HOP_DECAY 0.7
#define HUB_DEGREE 24.0
#define SIBLING_DECAY 0.5
#define RECENCY_HALF_LIFE_DAYS 14.0
#define RECENCY_FLOOR 0.25
#define HUB_SCAN_DEGREE 4096u
#define DEFAULT_NEIGHBORS 50u
#define MAX_NEIGHBORS 10000u
#define DEFAULT_PATH_HOPS 8u
/* Largest value gs__relevance can return: recency 1 × cost 2.5 × every
 * notable factor (1.5 × 1.2 × 1.4 × 1.4 × 1.6). */
#define REL_MAX (2.5 * 1.5 * 1.2 * 1.4 * 1.4 * 1.6)

static const double s_default_w[GS_ET__COUNT] = {
    [GS_ET_BELONGS_TO] = 0.15,      [GS_ET_HAS_USER] = 0.15,      [GS_ET_OWNED_BY] = 0.3,
    [GS_ET_HAS_JOB] = 0.3,          [GS_ET_HAS_COMPUTE] = 0.3,    [GS_ET_RUN_OF] = 1.0,
    [GS_ET_HAS_RUN] = 1.0,          [GS_ET_USAGE_OF_JOB_RUN] = 0.9, [GS_ET_HAS_USAGE] = 0.9,
    [GS_ET_USAGE_OF_COMPUTE] = 0.8, [GS_ET_ON_USAGE] = 0.6,       [GS_ET_HAS_EVENT] = 0.7,
    [GS_ET_TRIGGERED_BY] = 0.25,    [GS_ET_INITIATED_EVENT] = 0.1, [GS_ET_ASSOCIATED_EVICTION] = 1.0,
    [GS_ET_EXECUTED_ON] = 0.6,      [GS_ET_RAN_QUERY] = 0.5,      [GS_ET_SUBMITTED_BY] = 0.5,
    [GS_ET_SUBMITTED_QUERY] = 0.5,  [GS_ET_DEPENDS_ON] = 0.9,     [GS_ET_HAS_DEPENDENT] = 0.9,
    [GS_ET_CHANGED] = 0.9,          [GS_ET_HAS_CONFIG_CHANGE] = 0.9, [GS_ET_CHANGED_BY] = 0.4,
    [GS_ET_MADE_CHANGE] = 0.4,      [GS_ET_RECORDED_AS] = 0.6,    [GS_ET_RECORDS_CHANGE] = 0.9,
    [GS_ET_ANOMALY_OF] = 1.0,       [GS_ET_HAS_ANOMALY] = 1.0,
};

double
gs_default_weight (gs_edge_type_t t)
{
    return (unsigned) t < GS_ET__COUNT ? s_default_w[t] : 0.0;
}

double
gs__relevance (const gs_graph_t *g, uint32_t i)
{
    double rec = 1.0;
    if (g->ts[i] > 0) {
        double age = (double) (g->max_ts - g->ts[i]) / 86400.0;
        if (age < 0)
            age = 0;
        rec = RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * pow (0.5, age / RECENCY_HALF_LIFE_DAYS);
    }
    double cf = 1.0, mean = g->type_cost_mean[g->type[i]];
    if (g->cost[i] > 0 && mean > 0) {
        cf = 1.0 + 0.5 * log1p (g->cost[i] / mean);
        if (cf > 2.5)
            cf = 2.5;
    }
    double nf = 1.0;
    unsigned fl = g->flags[i];
    if (fl & GS_NF_FAILED)
        nf *= 1.5;
    if (fl & GS_NF_SKIPPED)
        nf *= 1.2;
    if (fl & GS_NF_EVICTION)
        nf *= 1.4;
    if (fl & GS_NF_CONFIG)
        nf *= 1.4;
    switch (g->type[i]) {
    case GS_NT_EVICTION: nf *= 1.5; break;
    case GS_NT_ANOMALY: nf *= 1.6; break;
    default: break;
    }
    return rec * cf * nf;
}

/* ------------------------------------------------------------- results */

void
gs_result_destroy (gs_result_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free ((*self_p)->nodes);
    free ((*self_p)->edges);
    free (*self_p);
    *self_p = NULL;
}

static int
s_push_hit (gs_result_t *r, size_t *cap, gs_hit_t h)
{
    if (r->n_nodes == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        gs_hit_t *p = realloc (r->nodes, nc * sizeof *p);
        if (p == NULL)
            return GS_E_NOMEM;
        r->nodes = p;
        *cap = nc;
    }
    r->nodes[r->n_nodes++] = h;
    return GS_OK;
}

static int
s_push_edge (gs_result_t *r, size_t *cap, gs_edge_t e)
{
    if (r->n_edges == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        gs_edge_t *p = realloc (r->edges, nc * sizeof *p);
        if (p == NULL)
            return GS_E_NOMEM;
        r->edges = p;
        *cap = nc;
    }
    r->edges[r->n_edges++] = e;
    return GS_OK;
}

static int
s_cmp_edge (const void *a, const void *b)
{
    const gs_edge_t *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst)
        return x->dst < y->dst ? -1 : 1;
    return (int) x->type - (int) y->type;
}

/* ----------------------------------------------------- per-query node map */

typedef struct {
    uint32_t key;      /* node + 1; 0 = empty */
    uint8_t state;     /* 1 = queued, 2 = taken */
    double best;
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t cap;
    size_t used;
} s_map_t;

static size_t
s_hash32 (uint32_t k)
{
    uint64_t h = (uint64_t) k * 0x9E3779B97F4A7C15ull;
    return (size_t) (h >> 17);
}

static s_slot_t *
s_map_get (s_map_t *m, uint32_t node)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1, i = s_hash32 (node) & mask;
    while (m->slots[i].key != 0) {
        if (m->slots[i].key == node + 1)
            return &m->slots[i];
        i = (i + 1) & mask;
    }
    return NULL;
}

/* Returns the slot for node, inserting an empty one; NULL on OOM. */
static s_slot_t *
s_map_put (s_map_t *m, uint32_t node)
{
    if ((m->used + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        s_slot_t *ns = calloc (nc, sizeof *ns);
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].key == 0)
                continue;
            size_t j = s_hash32 (m->slots[i].key - 1) & (nc - 1);
            while (ns[j].key != 0)
                j = (j + 1) & (nc - 1);
            ns[j] = m->slots[i];
        }
        free (m->slots);
        m->slots = ns;
        m->cap = nc;
    }
    size_t mask = m->cap - 1, i = s_hash32 (node) & mask;
    while (m->slots[i].key != 0) {
        if (m->slots[i].key == node + 1)
            return &m->slots[i];
        i = (i + 1) & mask;
    }
    m->slots[i].key = node + 1;
    m->slots[i].state = 0;
    m->slots[i].best = -1.0;
    m->used++;
    return &m->slots[i];
}

/* ------------------------------------------------------------------ heap */

typedef struct {
    double score;
    uint32_t node;
    uint16_t hop;
    uint8_t via;
    int64_t parent;
} s_entry_t;

typedef struct {
    s_entry_t *v;
    size_t n;
    size_t cap;
} s_heap_t;

/* True when a ranks before b: higher score, then smaller id, then fewer hops,
 * then smaller parent and edge type (a total order: deterministic). */
static bool
s_before (const s_entry_t *a, const s_entry_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->node != b->node)
        return a->node < b->node;
    if (a->hop != b->hop)
        return a->hop < b->hop;
    if (a->parent != b->parent)
        return a->parent < b->parent;
    return a->via < b->via;
}

static int
s_heap_push (s_heap_t *h, s_entry_t e)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        s_entry_t *p = realloc (h->v, nc * sizeof *p);
        if (p == NULL)
            return GS_E_NOMEM;
        h->v = p;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!s_before (&e, &h->v[par]))
            break;
        h->v[i] = h->v[par];
        i = par;
    }
    h->v[i] = e;
    return GS_OK;
}

static s_entry_t
s_heap_pop (s_heap_t *h)
{
    s_entry_t top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const s_entry_t *best = &last;
        if (l < h->n && s_before (&h->v[l], best)) {
            m = l;
            best = &h->v[l];
        }
        if (r < h->n && s_before (&h->v[r], best))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

/* -------------------------------------------------------------- subgraph */

typedef struct {
    uint32_t node;
    double local;
} s_cand_t;

static int
s_cmp_cand (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->local != y->local)
        return x->local > y->local ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* Bounded max-"worst" heap for s_cand_t: the root is the candidate that
 * ranks last under s_cmp_cand. */
static void
s_cand_sift_up (s_cand_t *h, size_t i)
{
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (s_cmp_cand (&h[i], &h[par]) <= 0)
            return;
        s_cand_t t = h[i];
        h[i] = h[par];
        h[par] = t;
        i = par;
    }
}

static void
s_cand_sift_down (s_cand_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && s_cmp_cand (&h[l], &h[m]) > 0)
            m = l;
        if (r < n && s_cmp_cand (&h[r], &h[m]) > 0)
            m = r;
        if (m == i)
            return;
        s_cand_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static bool
s_selected (s_map_t *m, uint32_t node)
{
    s_slot_t *s = s_map_get (m, node);
    return s != NULL && s->state == 2;
}

/* Relations among the taken nodes, forward direction, sorted. */
static int
s_induced_edges (const gs_graph_t *g, s_map_t *m, gs_result_t *r)
{
    size_t cap = 0;
    for (size_t k = 0; k < r->n_nodes; k++) {
        uint32_t u = r->nodes[k].node;
        uint64_t a = g->row[u], z = g->row[u + 1];
        if (z - a <= HUB_SCAN_DEGREE) {
            for (uint64_t j = a; j < z; j++) {
                uint32_t v = g->nb[j];
                if (!s_selected (m, v))
                    continue;
                gs_edge_type_t et = (gs_edge_type_t) g->et[j];
                int rc = GS_OK;
                if (gs_edge_type_is_forward (et))
                    rc = s_push_edge (r, &cap, (gs_edge_t) {u, v, (uint8_t) et});
                else if (g->row[v + 1] - g->row[v] > HUB_SCAN_DEGREE)
                    rc = s_push_edge (r, &cap,
                                      (gs_edge_t) {v, u, (uint8_t) gs__forward_of (et, (gs_node_type_t) g->type[u])});
                if (rc != GS_OK)
                    return rc;
            }
            continue;
        }
        /* u is a hub: only pairs with another hub are left to find. */
        for (size_t k2 = 0; k2 < r->n_nodes; k2++) {
            uint32_t v = r->nodes[k2].node;
            if (v == u || g->row[v + 1] - g->row[v] <= HUB_SCAN_DEGREE)
                continue;
            for (uint64_t j = a; j < z;) {
                /* Binary search v within the run of one edge type. */
                uint8_t t = g->et[j];
                uint64_t e = j;
                while (e < z && g->et[e] == t)
                    e++;
                uint64_t lo = j, hi = e;
                while (lo < hi) {
                    uint64_t mid = lo + (hi - lo) / 2;
                    if (g->nb[mid] < v)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                if (lo < e && g->nb[lo] == v && gs_edge_type_is_forward ((gs_edge_type_t) t)) {
                    int rc = s_push_edge (r, &cap, (gs_edge_t) {u, v, t});
                    if (rc != GS_OK)
                        return rc;
                }
                j = e;
            }
        }
    }
    if (r->n_edges > 1)
        qsort (r->edges, r->n_edges, sizeof *r->edges, s_cmp_edge);
    size_t w = 0;
    for (size_t k = 0; k < r->n_edges; k++)
        if (w == 0 || s_cmp_edge (&r->edges[w - 1], &r->edges[k]) != 0)
            r->edges[w++] = r->edges[k];
    r->n_edges = w;
    return GS_OK;
}

int
gs_subgraph (const gs_graph_t *self, const gs_subgraph_params_t *p, gs_result_t **out, char *err, size_t errsz)
{
    if (self == NULL || p == NULL || out == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "missing argument");
    *out = NULL;
    if (p->n_anchors == 0 || p->anchors == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "no anchors given");
    if (p->n_anchors > GS_MAX_ANCHORS)
        return gs__err (err, errsz, GS_E_INVALID, "too many anchors: %zu (max %d)", p->n_anchors, GS_MAX_ANCHORS);
    unsigned hops = p->hops ? p->hops : GS_DEFAULT_HOPS;
    if (hops > GS_MAX_HOPS)
        hops = GS_MAX_HOPS;
    double min_score = p->min_score > 0 ? p->min_score : GS_DEFAULT_MIN_SCORE;
    if (p->min_score < 0)
        min_score = 0.0;
    unsigned budget = p->budget ? p->budget : GS_DEFAULT_BUDGET;
    if (budget > GS_MAX_BUDGET)
        budget = GS_MAX_BUDGET;
    double w[GS_ET__COUNT];
    memcpy (w, s_default_w, sizeof w);
    for (size_t k = 0; k < p->n_weights; k++) {
        int t = gs_edge_type_parse (p->weights[k].edge_type);
        if (t < 0)
            return gs__err (err, errsz, GS_E_INVALID, "unknown edge type '%s' in weights",
                            p->weights[k].edge_type ? p->weights[k].edge_type : "(null)");
        double v = p->weights[k].weight;
        if (!(v >= 0.0 && v <= 100.0))
            return gs__err (err, errsz, GS_E_INVALID, "weight of %s must be in [0, 100]", gs_edge_type_name (t));
        w[t] = v;
    }
    for (size_t k = 0; k < p->n_anchors; k++)
        if (gs_graph_find (self, p->anchors[k]) < 0)
            return gs__err (err, errsz, GS_E_NOTFOUND, "unknown node id '%s'", p->anchors[k] ? p->anchors[k] : "(null)");

    int rc = GS_OK;
    s_map_t map = {0};
    s_heap_t heap = {0};
    s_cand_t *cand = NULL;
    size_t cand_cap = 0, node_cap = 0;
    gs_result_t *res = calloc (1, sizeof *res);
    if (res == NULL)
        return gs__err (err, errsz, GS_E_NOMEM, "out of memory");

    for (size_t k = 0; k < p->n_anchors; k++) {
        uint32_t a = (uint32_t) gs_graph_find (self, p->anchors[k]);
        s_slot_t *s = s_map_put (&map, a);
        if (s == NULL) {
            rc = GS_E_NOMEM;
            goto done;
        }
        if (s->best >= 1.0)
            continue;
        s->best = 1.0;
        s->state = 1;
        if ((rc = s_heap_push (&heap, (s_entry_t) {1.0, a, 0, 0, -1})) != GS_OK)
            goto done;
    }

    while (heap.n > 0 && res->n_nodes < budget) {
        s_entry_t e = s_heap_pop (&heap);
        if (e.score < min_score)
            break;   /* the heap is ordered: everything left scores lower */
        s_slot_t *s = s_map_get (&map, e.node);
        if (s == NULL || s->state == 2)
            continue;
        s->state = 2;
        if ((rc = s_push_hit (res, &node_cap, (gs_hit_t) {e.node, e.score, e.hop, e.parent, e.via})) != GS_OK)
            goto done;
        if (e.hop >= hops)
            continue;
        uint64_t a = self->row[e.node], z = self->row[e.node + 1];
        double deg = (double) (z - a);
        double hub = deg > HUB_DEGREE ? sqrt (HUB_DEGREE / deg) : 1.0;
        for (uint64_t j = a; j < z;) {
            uint8_t t = self->et[j];
            uint64_t end = j;
            while (end < z && self->et[end] == t)
                end++;
            double base = e.score * w[t] * HOP_DECAY * hub;
            if (base <= 0.0) {
                j = end;
                continue;
            }
            /* Upper bound of any candidate's score: skip runs that cannot
             * reach the cut-off (the system user's events, typically). */
            if (base * REL_MAX < min_score) {
                j = end;
                continue;
            }
            /* Keep the best `budget` candidates of this edge type in a
             * bounded heap (root = worst kept): O(d log budget) even for a
             * hub with millions of edges; later siblings rank below
             * `budget` earlier ones anyway. */
            if (cand_cap < budget) {
                s_cand_t *pc = realloc (cand, budget * sizeof *pc);
                if (pc == NULL) {
                    rc = GS_E_NOMEM;
                    goto done;
                }
                cand = pc;
                cand_cap = budget;
            }
            size_t nc = 0;
            for (uint64_t q = j; q < end; q++) {
                uint32_t v = self->nb[q];
                if (s_selected (&map, v))
                    continue;
                s_cand_t c = {v, base * gs__relevance (self, v)};
                if (nc < budget) {
                    cand[nc] = c;
                    s_cand_sift_up (cand, nc++);
                } else if (s_cmp_cand (&c, &cand[0]) < 0) {
                    cand[0] = c;
                    s_cand_sift_down (cand, nc, 0);
                }
            }
            if (nc > 1)
                qsort (cand, nc, sizeof *cand, s_cmp_cand);
            for (size_t r = 0; r < nc; r++) {
                double sc = cand[r].local / (1.0 + SIBLING_DECAY * (double) r);
                s_slot_t *vs = s_map_put (&map, cand[r].node);
                if (vs == NULL) {
                    rc = GS_E_NOMEM;
                    goto done;
                }
                if (sc <= vs->best)
                    continue;
                vs->best = sc;
                vs->state = 1;
                rc = s_heap_push (&heap, (s_entry_t) {sc, cand[r].node, (uint16_t) (e.hop + 1), t, e.node});
                if (rc != GS_OK)
                    goto done;
            }
            j = end;
        }
    }
    rc = s_induced_edges (self, &map, res);

done:
    free (map.slots);
    free (heap.v);
    free (cand);
    if (rc != GS_OK) {
        gs_result_destroy (&res);
        return gs__err (err, errsz, rc, "subgraph: %s", gs_strerror (rc));
    }
    *out = res;
    return GS_OK;
}

/* ------------------------------------------------------------- neighbors */

typedef struct {
    double score;
    uint32_t node;
    uint8_t et;
} s_nbr_t;

/* True when a ranks before b (higher score, smaller id, smaller type). */
static bool
s_nbr_before (const s_nbr_t *a, const s_nbr_t *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->node != b->node)
        return a->node < b->node;
    return a->et < b->et;
}

static int
s_cmp_nbr (const void *a, const void *b)
{
    const s_nbr_t *x = a, *y = b;
    return s_nbr_before (x, y) ? -1 : (s_nbr_before (y, x) ? 1 : 0);
}

/* Min-heap by rank: the root is the worst of the kept top-k. */
static void
s_nbr_sift_down (s_nbr_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && s_nbr_before (&h[m], &h[l]))
            m = l;
        if (r < n && s_nbr_before (&h[m], &h[r]))
            m = r;
        if (m == i)
            return;
        s_nbr_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void
s_nbr_sift_up (s_nbr_t *h, size_t i)
{
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (!s_nbr_before (&h[par], &h[i]))
            return;
        s_nbr_t t = h[i];
        h[i] = h[par];
        h[par] = t;
        i = par;
    }
}

int
gs_neighbors (const gs_graph_t *self, const char *id, const char *edge_type, unsigned limit, gs_result_t **out,
              char *err, size_t errsz)
{
    if (self == NULL || out == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "missing argument");
    *out = NULL;
    int64_t u = gs_graph_find (self, id);
    if (u < 0)
        return gs__err (err, errsz, GS_E_NOTFOUND, "unknown node id '%s'", id ? id : "(null)");
    int want = -1;
    if (edge_type != NULL && *edge_type != '\0' && (want = gs_edge_type_parse (edge_type)) < 0)
        return gs__err (err, errsz, GS_E_INVALID, "unknown edge type '%s'", edge_type);
    if (limit == 0)
        limit = DEFAULT_NEIGHBORS;
    if (limit > MAX_NEIGHBORS)
        limit = MAX_NEIGHBORS;
    s_nbr_t *h = malloc (limit * sizeof *h);
    gs_result_t *res = calloc (1, sizeof *res);
    if (h == NULL || res == NULL) {
        free (h);
        free (res);
        return gs__err (err, errsz, GS_E_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (uint64_t j = self->row[u]; j < self->row[u + 1]; j++) {
        if (want >= 0 && self->et[j] != want)
            continue;
        s_nbr_t c = {gs__relevance (self, self->nb[j]), self->nb[j], self->et[j]};
        if (n < limit) {
            h[n] = c;
            s_nbr_sift_up (h, n++);
        } else if (s_nbr_before (&c, &h[0])) {
            h[0] = c;
            s_nbr_sift_down (h, n, 0);
        }
    }
    qsort (h, n, sizeof *h, s_cmp_nbr);
    res->nodes = malloc ((n ? n : 1) * sizeof *res->nodes);
    res->edges = malloc ((n ? n : 1) * sizeof *res->edges);
    if (res->nodes == NULL || res->edges == NULL) {
        free (h);
        gs_result_destroy (&res);
        return gs__err (err, errsz, GS_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        res->nodes[k] = (gs_hit_t) {h[k].node, h[k].score, 1, u, h[k].et};
        res->edges[k] = (gs_edge_t) {(uint32_t) u, h[k].node, h[k].et};
    }
    res->n_nodes = res->n_edges = n;
    free (h);
    *out = res;
    return GS_OK;
}

/* ------------------------------------------------------------------ path */

int
gs_path (const gs_graph_t *self, const char *from, const char *to, unsigned max_hops, gs_result_t **out, char *err,
         size_t errsz)
{
    if (self == NULL || out == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "missing argument");
    *out = NULL;
    int64_t a = gs_graph_find (self, from), b = gs_graph_find (self, to);
    if (a < 0)
        return gs__err (err, errsz, GS_E_NOTFOUND, "unknown node id '%s'", from ? from : "(null)");
    if (b < 0)
        return gs__err (err, errsz, GS_E_NOTFOUND, "unknown node id '%s'", to ? to : "(null)");
    if (max_hops == 0)
        max_hops = DEFAULT_PATH_HOPS;
    if (max_hops > GS_MAX_HOPS)
        max_hops = GS_MAX_HOPS;
    gs_result_t *res = calloc (1, sizeof *res);
    uint32_t *par = calloc (self->n ? self->n : 1, sizeof *par);   /* parent + 1; 0 = unseen */
    uint8_t *via = malloc (self->n ? self->n : 1);
    uint16_t *dist = malloc ((self->n ? self->n : 1) * sizeof *dist);
    uint32_t *queue = malloc ((self->n ? self->n : 1) * sizeof *queue);
    double *pen = malloc ((self->n ? self->n : 1) * sizeof *pen);
    int rc = GS_OK;
    if (res == NULL || par == NULL || via == NULL || dist == NULL || queue == NULL || pen == NULL) {
        rc = GS_E_NOMEM;
        goto done;
    }
    size_t qh = 0, qt = 0;
    par[a] = (uint32_t) a + 1;
    dist[a] = 0;
    pen[a] = 0.0;
    queue[qt++] = (uint32_t) a;
    bool found = a == b;
    /* Layer by layer: among equally short paths prefer the one through the
     * least connected nodes (sum of log(1 + degree) of the inner nodes), so a
     * path does not detour through the workspace or the system user when a
     * specific chain exists; remaining ties go to the smaller parent id. */
    while (!found && qh < qt) {
        size_t layer_end = qt;
        for (; qh < layer_end; qh++) {
            uint32_t u = queue[qh];
            if (dist[u] >= max_hops)
                continue;
            double pu = pen[u] + (u == (uint32_t) a ? 0.0 : log1p ((double) (self->row[u + 1] - self->row[u])));
            for (uint64_t j = self->row[u]; j < self->row[u + 1]; j++) {
                uint32_t v = self->nb[j];
                if (par[v] == 0) {
                    par[v] = u + 1;
                    via[v] = self->et[j];
                    dist[v] = (uint16_t) (dist[u] + 1);
                    pen[v] = pu;
                    queue[qt++] = v;
                } else if (dist[v] == dist[u] + 1 && (pu < pen[v] || (pu == pen[v] && u + 1 < par[v]))) {
                    par[v] = u + 1;
                    via[v] = self->et[j];
                    pen[v] = pu;
                }
            }
        }
        found = par[b] != 0;
    }
    if (found) {
        size_t len = (size_t) dist[b] + 1;
        res->nodes = malloc (len * sizeof *res->nodes);
        res->edges = malloc ((len > 1 ? len - 1 : 1) * sizeof *res->edges);
        if (res->nodes == NULL || res->edges == NULL) {
            rc = GS_E_NOMEM;
            goto done;
        }
        uint32_t v = (uint32_t) b;
        for (size_t k = len; k-- > 0;) {
            uint32_t pu = par[v] - 1;
            res->nodes[k] = (gs_hit_t) {v, 1.0, (uint16_t) k, k ? (int64_t) pu : -1, k ? via[v] : 0};
            if (k > 0) {
                gs_edge_type_t et = (gs_edge_type_t) via[v];
                res->edges[k - 1] = gs_edge_type_is_forward (et)
                                        ? (gs_edge_t) {pu, v, (uint8_t) et}
                                        : (gs_edge_t) {v, pu, (uint8_t) gs__forward_of (et, (gs_node_type_t) self->type[pu])};
            }
            v = pu;
        }
        res->n_nodes = len;
        res->n_edges = len - 1;
    }
done:
    free (par);
    free (via);
    free (dist);
    free (queue);
    free (pen);
    if (rc != GS_OK) {
        gs_result_destroy (&res);
        return gs__err (err, errsz, rc, "path: %s", gs_strerror (rc));
    }
    *out = res;
    return GS_OK;
}

/* ------------------------------------------------------------- rendering */

/* "$1,234.56" */
static void
s_money (double v, char *out, size_t size)
{
    char num[64];
    snprintf (num, sizeof num, "%.2f", v < 0 ? -v : v);
    char *dot = strchr (num, '.');
    size_t ilen = dot ? (size_t) (dot - num) : strlen (num);
    size_t o = 0;
    if (v < 0 && o + 1 < size)
        out[o++] = '-';
    if (o + 1 < size)
        out[o++] = '$';
    for (size_t i = 0; i < ilen && o + 1 < size; i++) {
        if (i > 0 && (ilen - i) % 3 == 0 && o + 2 < size)
            out[o++] = ',';
        out[o++] = num[i];
    }
    for (const char *p = dot; p && *p && o + 1 < size; p++)
        out[o++] = *p;
    out[o] = '\0';
}

static void
s_time_text (int64_t ts, char *out, size_t size)
{
    int64_t days = ts >= 0 ? ts / 86400 : (ts - 86399) / 86400;
    int64_t sec = ts - days * 86400;
    /* civil_from_days (Howard Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t) yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (sec == 0)
        snprintf (out, size, "%04lld-%02u-%02u", (long long) y, m, d);
    else
        snprintf (out, size, "%04lld-%02u-%02u %02u:%02u", (long long) y, m, d, (unsigned) (sec / 3600),
                  (unsigned) (sec % 3600 / 60));
}

int
gs_render_node (const gs_graph_t *self, uint32_t i, buf_t *out)
{
    const char *label = gs_node_label (self, i);
    int rc = buf_printf (out, "%s [%s] %s", gs_node_id (self, i), gs_node_type_name ((gs_node_type_t) self->type[i]),
                         *label ? label : "-");
    if (rc != BUF_OK)
        return rc;
    const char *sep = " — ";
    if (self->cost[i] > 0) {
        char m[48];
        s_money (self->cost[i], m, sizeof m);
        if ((rc = buf_printf (out, "%scost %s", sep, m)) != BUF_OK)
            return rc;
        sep = "; ";
    }
    if (self->ts[i] > 0) {
        char t[32];
        s_time_text (self->ts[i], t, sizeof t);
        if ((rc = buf_printf (out, "%s%s", sep, t)) != BUF_OK)
            return rc;
        sep = "; ";
    }
    if (self->type[i] == GS_NT_JOB) {
        unsigned runs = 0, failed = 0;
        for (uint64_t j = self->row[i]; j < self->row[i + 1]; j++)
            if (self->et[j] == GS_ET_HAS_RUN) {
                runs++;
                failed += (self->flags[self->nb[j]] & GS_NF_FAILED) != 0;
            }
        if ((rc = buf_printf (out, "%s%u runs, %u failed", sep, runs, failed)) != BUF_OK)
            return rc;
        sep = "; ";
    }
    const char *det = gs_node_detail (self, i);
    if (*det)
        rc = buf_printf (out, "%s%s", sep, det);
    return rc;
}

int
gs_render_text (const gs_graph_t *self, const gs_result_t *res, buf_t *out)
{
    for (size_t k = 0; k < res->n_nodes; k++) {
        size_t before = buf_len (out);
        int rc = buf_puts (out, "- ");
        if (rc == BUF_OK)
            rc = gs_render_node (self, res->nodes[k].node, out);
        if (rc == BUF_OK)
            rc = buf_puts (out, "\n");
        if (rc != BUF_OK) {
            buf_truncate (out, before);
            (void) buf_printf (out, "- ... (%zu more)\n", res->n_nodes - k);
            return rc;
        }
    }
    return BUF_OK;
}
