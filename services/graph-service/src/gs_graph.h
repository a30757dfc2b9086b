/* gs_graph.h — the usage graph: typed nodes and edges built from the
 * telemetry database, stored compactly (one string arena, nodes sorted by id
 * for binary search, CSR adjacency with typed edges), and the queries the
 * graph-service answers: ranked Subgraph expansion, Neighbors and Path.
 *
 * Node ids are "<type>::<primary key>" with the types below; the same ids are
 * used by the telemetry corpus (job runs are "jobrun::<job_run_id>"
 * everywhere). Anomaly ids are "anomaly::<entity pk>:<YYYY-MM-DD>".
 *
 * Life cycle: gs_builder_new → gs_builder_load_db (and/or add_node/add_edge/
 * add_anomaly) → gs_builder_finish → immutable gs_graph_t. A finished graph is
 * never modified, so any number of threads may query it concurrently; results
 * are owned by the caller. Everything is deterministic: node order is the
 * byte order of ids, adjacency is sorted by (edge type, neighbour id), and
 * every ranking breaks ties by id. No wall clock is read: "recency" is measured
 * against the newest timestamp in the data.
 */
#ifndef GS_GRAPH_H
#define GS_GRAPH_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Error codes (stable values). */
enum {
  GS_OK = 0,
  GS_E_NOMEM = -1,
  GS_E_DB = -2,          /* SQLite failed (open, prepare, step); message names it */
  GS_E_NOTFOUND = -3,    /* unknown node id (anchor, path end, edge endpoint) */
  GS_E_INVALID = -4,     /* malformed argument (unknown edge type, bad date, ...) */
  GS_E_TOOBIG = -5,      /* a size cap was hit (arena > 4 GiB, id too long, output) */
  GS_E_SCHEMA = -6,      /* a required table is missing from the database */
  GS_E_UNIMPLEMENTED = -7,
  GS_E_DUPLICATE = -8,   /* node id added twice (builder) */
  GS_E_CANCELLED = -9,   /* gs_builder_set_cancel's flag was raised */
  GS_E_IO = -10,         /* a file could not be opened/read/written (snapshots) */
  /* Snapshot rejections (gs_snapshot_load); the message names the detail. */
  GS_E_SNAP_TRUNCATED = -11, /* shorter than its header says (or than a header) */
  GS_E_SNAP_MAGIC = -12,     /* not a graph snapshot (wrong magic) */
  GS_E_SNAP_FORMAT = -13,    /* other format version, byte order or loader revision */
  GS_E_SNAP_CHECKSUM = -14,  /* header or section checksum mismatch */
  GS_E_SNAP_CORRUPT = -15,   /* checksums fine but the content is inconsistent */
  GS_E_SNAP_FOREIGN = -16,   /* built from another database file or other build options */
  GS_E_SNAP_STALE = -17      /* the database changed since (data_version / file state) */
};

/* Node types. The order is part of no wire format; names are. */
typedef enum {
  GS_NT_WORKSPACE = 0,
  GS_NT_USER,
  GS_NT_JOB,
  GS_NT_COMPUTE,
  GS_NT_JOBRUN,
  GS_NT_USAGE,
  GS_NT_EVENT,
  GS_NT_EVICTION,
  GS_NT_QUERY,
  GS_NT_CONFIGCHANGE,
  GS_NT_ANOMALY,
  GS_NT__COUNT
} gs_node_type_t;

/* Directed edge types. Every relation is stored as a forward edge and its
 * reverse (the reference's pairs, §4.2 of seed-copilot.md, plus job
 * dependencies, configuration changes and anomalies). */
typedef enum {
  GS_ET_BELONGS_TO = 0,      /* user → workspace */
  GS_ET_HAS_USER,            /* workspace → user */
  GS_ET_OWNED_BY,            /* job/compute → workspace */
  GS_ET_HAS_JOB,             /* workspace → job */
  GS_ET_HAS_COMPUTE,         /* workspace → compute */
  GS_ET_RUN_OF,              /* jobrun → job */
  GS_ET_HAS_RUN,             /* job → jobrun */
  GS_ET_USAGE_OF_JOB_RUN,    /* usage → jobrun */
  GS_ET_HAS_USAGE,           /* jobrun/compute → usage */
  GS_ET_USAGE_OF_COMPUTE,    /* usage → compute */
  GS_ET_ON_USAGE,            /* event → usage */
  GS_ET_HAS_EVENT,           /* usage/eviction → event */
  GS_ET_TRIGGERED_BY,        /* event → user */
  GS_ET_INITIATED_EVENT,     /* user → event */
  GS_ET_ASSOCIATED_EVICTION, /* event → eviction */
  GS_ET_EXECUTED_ON,         /* query → compute */
  GS_ET_RAN_QUERY,           /* compute → query */
  GS_ET_SUBMITTED_BY,        /* query → user */
  GS_ET_SUBMITTED_QUERY,     /* user → query */
  GS_ET_DEPENDS_ON,          /* downstream job → upstream job */
  GS_ET_HAS_DEPENDENT,       /* upstream job → downstream job */
  GS_ET_CHANGED,             /* configchange → job/compute/workspace */
  GS_ET_HAS_CONFIG_CHANGE,   /* job/compute/workspace → configchange */
  GS_ET_CHANGED_BY,          /* configchange → user */
  GS_ET_MADE_CHANGE,         /* user → configchange */
  GS_ET_RECORDED_AS,         /* configchange → its CONFIG_CHANGE event */
  GS_ET_RECORDS_CHANGE,      /* event → configchange */
  GS_ET_ANOMALY_OF,          /* anomaly → entity */
  GS_ET_HAS_ANOMALY,         /* entity → anomaly */
  GS_ET__COUNT
} gs_edge_type_t;

/* Relations: one forward + reverse pair each. */
typedef enum {
  GS_REL_USER_WORKSPACE = 0,
  GS_REL_JOB_WORKSPACE,
  GS_REL_COMPUTE_WORKSPACE,
  GS_REL_RUN_JOB,
  GS_REL_USAGE_RUN,
  GS_REL_USAGE_COMPUTE,
  GS_REL_EVENT_USAGE,
  GS_REL_EVENT_USER,
  GS_REL_EVENT_EVICTION,
  GS_REL_QUERY_COMPUTE,
  GS_REL_QUERY_USER,
  GS_REL_JOB_DEPENDS,
  GS_REL_CHANGE_ENTITY,
  GS_REL_CHANGE_USER,
  GS_REL_CHANGE_EVENT,
  GS_REL_ANOMALY_ENTITY,
  GS_REL__COUNT
} gs_rel_t;

/* Node flags ("notable" facts used for ranking and rendering). */
enum {
  GS_NF_FAILED = 1u << 0,    /* failed job run, query with an error */
  GS_NF_EVICTION = 1u << 1,  /* spot eviction event */
  GS_NF_CONFIG = 1u << 2,    /* configuration change event */
  GS_NF_SKIPPED = 1u << 3    /* skipped job run */
};

typedef struct _gs_graph_t gs_graph_t;
typedef struct _gs_builder_t gs_builder_t;

/* Static names: "job", "jobrun", ...; "HAS_RUN", ...; NULL when out of range. */
const char *gs_node_type_name (gs_node_type_t t);
const char *gs_edge_type_name (gs_edge_type_t t);
/* Parses a name back; returns the value or -1 when unknown (exact match). */
int gs_node_type_parse (const char *name);
int gs_edge_type_parse (const char *name);
/* Forward / reverse directed edge type of a relation. */
gs_edge_type_t gs_rel_forward (gs_rel_t r);
gs_edge_type_t gs_rel_reverse (gs_rel_t r);
/* Human name of a relation, "jobrun->job" style. */
const char *gs_rel_name (gs_rel_t r);
/* True when `t` is the forward direction of its relation. */
bool gs_edge_type_is_forward (gs_edge_type_t t);
const char *gs_strerror (int code);

/* Formats the anomaly node id "anomaly::<entity pk>:<date>" for an entity
 * node id ("job::J-FIN-DAILY") and a date ("2025-11-20") into out.
 * 0, GS_E_INVALID (entity id without "::", bad date) or GS_E_TOOBIG. */
int gs_anomaly_id (const char *entity_id, const char *date, char *out, size_t size);

/* ---------------------------------------------------------------- builder */

/* New empty builder. Strings are capped at `max_arena` bytes in total
 * (0 = default 2 GiB, hard maximum 4 GiB). NULL on OOM. One thread only. */
gs_builder_t *gs_builder_new (size_t max_arena);
/* NULL-safe; nulls *self_p. */
void gs_builder_destroy (gs_builder_t **self_p);

/* Makes gs_builder_load_db check `*flag` every few thousand rows and stop
 * with GS_E_CANCELLED when it is non-zero (another thread may set it, e.g.
 * on shutdown). NULL disables the check. */
void gs_builder_set_cancel (gs_builder_t *self, const atomic_int *flag);

/* Turns the read-ahead thread of gs_builder_load_db on (default) or off.
 * It only warms the page cache of a large database file (see gs_load.c);
 * results are the same either way. */
void gs_builder_set_readahead (gs_builder_t *self, bool on);

/* Loads every node and edge the database provides, read-only: the
 * reference's nine node types and eleven relations, job dependencies (the
 * job_dependencies table when present, else "DEPENDS ON: J-A, J-B" in job
 * descriptions), config_changes when present. Optional tables that are absent
 * are skipped (see gs_graph_stats). Edges whose endpoint does not exist are
 * dropped and counted as dangling. The reference tables (workspace, jobs, ...)
 * are required: GS_E_SCHEMA names a missing one. On failure a message is
 * written to err (may be NULL). May be called once per builder. */
int gs_builder_load_db (gs_builder_t *self, const char *db_path, char *err, size_t errsz);

/* Adds a node "<type>::<pk>". `label` and `detail` are copied (truncated to
 * 96 and 200 bytes at a UTF-8 boundary); `cost` is USD (own cost; job runs,
 * jobs and compute also receive their usage's cost at finish), `ts` Unix
 * seconds (0 = none), `flags` GS_NF_*. 0, GS_E_DUPLICATE, GS_E_TOOBIG,
 * GS_E_INVALID (empty pk) or GS_E_NOMEM. */
int gs_builder_add_node (gs_builder_t *self, gs_node_type_t type, const char *pk, const char *label,
                         const char *detail, double cost, int64_t ts, unsigned flags);
/* Adds relation `rel` from node id `src` to node id `dst` (full ids). Both
 * must already exist: otherwise the edge is counted as dangling and
 * GS_E_NOTFOUND is returned (callers loading data ignore that code). */
int gs_builder_add_edge (gs_builder_t *self, const char *src, const char *dst, gs_rel_t rel);
/* Adds the anomaly node gs_anomaly_id(entity_id, date) linked to the entity
 * (ANOMALY_OF / HAS_ANOMALY). `summary` becomes the node detail (e.g.
 * "cost $812 vs expected $430 (z 3.1, high)"); `value` its cost. Adding the
 * same anomaly twice is not an error (the first one wins). 0, GS_E_NOTFOUND
 * (unknown entity, counted as dangling), GS_E_INVALID, GS_E_NOMEM. */
int gs_builder_add_anomaly (gs_builder_t *self, const char *entity_id, const char *date,
                            double value, const char *summary);
/* True when a node with this full id has been added. */
bool gs_builder_has_node (gs_builder_t *self, const char *id);

/* Freezes the builder into a graph: sorts nodes by id, removes duplicate
 * edges, rolls usage cost up to runs, jobs and compute, builds the CSR and
 * the data version. Consumes and destroys the builder (*self_p = NULL) in
 * every case. NULL on OOM with a message in err. */
gs_graph_t *gs_builder_finish (gs_builder_t **self_p, char *err, size_t errsz);

/* Convenience: new builder + load_db + finish. NULL on error (message in err). */
gs_graph_t *gs_graph_load (const char *db_path, char *err, size_t errsz);
/* NULL-safe; nulls *self_p. */
void gs_graph_destroy (gs_graph_t **self_p);

/* ------------------------------------------------------------- snapshots */

/* Versioned binary snapshot of a finished graph (gs_snapshot.c): a fixed
 * header (magic, format version, byte order, loader revision, the database's
 * identity — real path, device, inode — its data key, the caller's build
 * options, graph version and stats, a table of sections with a checksum
 * each, and a header checksum) followed by the graph's arrays (string arena,
 * node arrays, CSR), each 8-byte aligned. Loading one gives a graph identical
 * to the one written: same version, counts, adjacency and query results.
 *
 * The data key is "dv:<data_version>" when the database has a data_version
 * table, else a fingerprint of the database file and its -wal (size and
 * mtime) taken before the build started ("file:..."); a database without
 * data_version that is modified in place is therefore also detected. */

/* Format version written by this library (bumped on any layout change). */
#define GS_SNAPSHOT_FORMAT 1

/* Writes `g` (built from db_path) to `path` atomically: a temporary file in
 * the same directory, fsync, rename, fsync of the directory. `options` is a
 * short text naming the build options (≤ 127 bytes; a load must present the
 * same text). `cancel` (may be NULL) is checked between chunks: a raised flag
 * stops with GS_E_CANCELLED and removes the temporary file. 0, GS_E_INVALID
 * (no path, options too long, db_path unusable), GS_E_IO or GS_E_CANCELLED;
 * message in err. */
int gs_snapshot_write (const gs_graph_t *g, const char *path, const char *db_path, const char *options,
                       const atomic_int *cancel, char *err, size_t errsz);

/* Loads the snapshot at `path` if it is intact and current for db_path:
 * same format version and loader revision, same database file (real path,
 * device, inode), same options, and a data key equal to the database's
 * current one (data_version read now, or the file fingerprint). On success
 * *out is a new graph (its stats' load_ms is the snapshot load time).
 * Errors, each with a message naming the reason: GS_E_IO (cannot open or
 * read), GS_E_SNAP_TRUNCATED, GS_E_SNAP_MAGIC, GS_E_SNAP_FORMAT,
 * GS_E_SNAP_CHECKSUM, GS_E_SNAP_CORRUPT, GS_E_SNAP_FOREIGN, GS_E_SNAP_STALE,
 * GS_E_DB (the database cannot be read to check freshness), GS_E_NOMEM.
 * *out stays NULL on every error: never a partial or wrong graph. */
int gs_snapshot_load (const char *path, const char *db_path, const char *options, gs_graph_t **out, char *err,
                      size_t errsz);

/* gs_snapshot_load with flags: GS_SNAP_ALLOW_STALE skips only the data key
 * comparison (every integrity, format, identity and options check still
 * applies). For reading state kept in an out-of-date snapshot (the daemon
 * recovers its anomaly list from it); never serve such a graph. */
#define GS_SNAP_ALLOW_STALE 1u
int gs_snapshot_load_ex (const char *path, const char *db_path, const char *options, unsigned flags,
                         gs_graph_t **out, char *err, size_t errsz);

/* The database's current data key (see above) into out. 0, GS_E_DB, GS_E_IO
 * or GS_E_TOOBIG. */
int gs_db_data_key (const char *db_path, char *out, size_t size, char *err, size_t errsz);

/* The data key the graph was built with (empty for graphs not built by
 * gs_builder_load_db). */
const char *gs_graph_data_key (const gs_graph_t *self);

/* ------------------------------------------------------------- inspection */

/* Loader phases timed in gs_stats_t.phase_ms: one per table read, then the
 * freeze (sort, CSR, version). */
#define GS_PHASES 12

typedef struct {
  uint32_t nodes;                       /* total nodes */
  uint64_t edges;                       /* directed edges (2 per relation pair) */
  uint32_t nodes_by_type[GS_NT__COUNT];
  uint64_t pairs_by_rel[GS_REL__COUNT]; /* relation pairs kept */
  uint64_t dangling_by_rel[GS_REL__COUNT]; /* pairs dropped: endpoint missing */
  uint64_t dangling;                    /* sum of dangling_by_rel */
  uint64_t duplicate_edges;             /* pairs removed as duplicates */
  uint64_t rows_skipped;                /* rows with NULL/oversized keys */
  bool has_job_dependencies_table;
  bool has_config_changes_table;
  size_t arena_bytes;
  size_t memory_bytes;                  /* approximate resident size of the graph */
  double load_ms;                       /* builder creation → finish, monotonic */
  double phase_ms[GS_PHASES];           /* per loader phase (gs_phase_name), monotonic;
                                           0 for snapshot-loaded graphs */
} gs_stats_t;

/* Name of loader phase i < GS_PHASES ("job_runs", ..., "finish"). */
const char *gs_phase_name (int i);

/* Fills *out. */
void gs_graph_stats (const gs_graph_t *self, gs_stats_t *out);
/* Content hash of nodes and edges, "g1-<16 hex>"; equal graphs give equal
 * versions. Owned by the graph. */
const char *gs_graph_version (const gs_graph_t *self);
/* The database's data_version.version as decimal text, or "" when the
 * database has no data_version table (unmigrated reference DB). */
const char *gs_graph_data_version (const gs_graph_t *self);
uint32_t gs_graph_node_count (const gs_graph_t *self);
/* Index of node `id` (binary search), or -1 when absent. */
int64_t gs_graph_find (const gs_graph_t *self, const char *id);
/* Accessors for node index i < node_count (strings owned by the graph). */
const char *gs_node_id (const gs_graph_t *self, uint32_t i);
gs_node_type_t gs_node_type (const gs_graph_t *self, uint32_t i);
const char *gs_node_label (const gs_graph_t *self, uint32_t i);
const char *gs_node_detail (const gs_graph_t *self, uint32_t i);
double gs_node_cost (const gs_graph_t *self, uint32_t i);
int64_t gs_node_ts (const gs_graph_t *self, uint32_t i);
unsigned gs_node_flags (const gs_graph_t *self, uint32_t i);
uint32_t gs_node_degree (const gs_graph_t *self, uint32_t i);
/* Adjacency of node i: *n entries; nb[k] neighbour index, et[k] the directed
 * edge type from i to nb[k]; sorted by (type, neighbour). Pointers owned by
 * the graph. */
void gs_node_adjacency (const gs_graph_t *self, uint32_t i, const uint32_t **nb,
                        const uint8_t **et, uint32_t *n);

/* ---------------------------------------------------------------- queries */

typedef struct {
  uint32_t node;     /* node index */
  double score;      /* relevance (anchors 1.0) */
  uint16_t hop;      /* hops from the nearest anchor along the chosen path */
  int64_t parent;    /* node index it was reached from; -1 for anchors */
  uint8_t via;       /* gs_edge_type_t from parent to node (unused for anchors) */
} gs_hit_t;

typedef struct {
  uint32_t src;
  uint32_t dst;
  uint8_t type;      /* gs_edge_type_t, forward direction of the relation */
} gs_edge_t;

/* A query result: nodes in rank order (Subgraph), neighbour order
 * (Neighbors) or path order (Path), and edges among them. */
typedef struct {
  gs_hit_t *nodes;
  size_t n_nodes;
  gs_edge_t *edges;
  size_t n_edges;
} gs_result_t;

/* NULL-safe; frees the result and nulls *self_p. */
void gs_result_destroy (gs_result_t **self_p);

typedef struct {
  const char *edge_type;   /* directed edge type name ("HAS_RUN") */
  double weight;           /* >= 0; 0 disables that edge type */
} gs_weight_t;

typedef struct {
  const char *const *anchors;  /* node ids */
  size_t n_anchors;
  unsigned hops;               /* 0 = GS_DEFAULT_HOPS; capped at GS_MAX_HOPS */
  unsigned budget;             /* max nodes incl. anchors; 0 = GS_DEFAULT_BUDGET */
  const gs_weight_t *weights;  /* overrides of the default edge weights */
  size_t n_weights;
  double min_score;            /* stop below this score; 0 = GS_DEFAULT_MIN_SCORE,
                                  negative = no cut-off (fill the budget) */
} gs_subgraph_params_t;

#define GS_DEFAULT_HOPS 4
#define GS_MAX_HOPS 16
#define GS_DEFAULT_BUDGET 40
#define GS_MAX_BUDGET 5000
#define GS_MAX_ANCHORS 64
#define GS_DEFAULT_MIN_SCORE 0.003

/* Default weight of a directed edge type (the table in gs_query.c). */
double gs_default_weight (gs_edge_type_t t);

/* Ranked best-first expansion from the anchors. A node's score is
 *   parent score × edge weight × hop decay × hub factor(parent degree)
 *   × sibling factor(rank among the parent's candidates of that edge type)
 *   × node relevance (recency × cost × notable),
 * anchors score 1. Nodes are taken highest score first (ties: smaller id)
 * until the budget is spent or the best remaining score is below min_score
 * (so an exhausted neighbourhood is not padded with hub noise); only nodes
 * within `hops` of an anchor are taken.
 * Edges are the relations among the returned nodes (forward direction),
 * sorted by (src id, dst id, type). GS_E_NOTFOUND names the first unknown
 * anchor in err; GS_E_INVALID for no anchors, too many, or an unknown edge
 * type in weights. Thread-safe on a shared graph. */
int gs_subgraph (const gs_graph_t *self, const gs_subgraph_params_t *params, gs_result_t **out,
                 char *err, size_t errsz);

/* Neighbours of `id` through directed edge type `edge_type` (NULL or "" =
 * any), most relevant first (recency × cost × notable, ties by id), at most
 * `limit` (0 = 50). Edges are i → neighbour in the stored direction.
 * GS_E_NOTFOUND (unknown id) or GS_E_INVALID (unknown edge type). */
int gs_neighbors (const gs_graph_t *self, const char *id, const char *edge_type, unsigned limit,
                  gs_result_t **out, char *err, size_t errsz);

/* Shortest path from `from` to `to` ignoring direction (BFS), at most
 * `max_hops` edges (0 = 8). Among equally short paths the one whose inner
 * nodes have the smallest sum of log(1 + degree) wins (no detour through the
 * workspace or the system user when a specific chain exists), then the one
 * with smaller parent ids: deterministic. Returns 0 with an empty
 * result when there is no such path; nodes in path order and edges in path
 * order (each in its relation's forward direction). GS_E_NOTFOUND names an
 * unknown endpoint. */
int gs_path (const gs_graph_t *self, const char *from, const char *to, unsigned max_hops,
             gs_result_t **out, char *err, size_t errsz);

/* Appends the compact text rendering, one line per node in result order:
 *   "- job::J-FIN-DAILY [job] Daily Financial Aggregation — cost $4,512.30; ..."
 * 0 or a BUF_E_* code (output cap reached: the text is cut at a line end and
 * a final "- ... (N more)" line is added when it fits). */
int gs_render_text (const gs_graph_t *self, const gs_result_t *res, buf_t *out);
/* Appends one node's line (without the leading "- " and trailing newline). */
int gs_render_node (const gs_graph_t *self, uint32_t i, buf_t *out);

#endif
