/* gs_internal.h — definitions shared by the files of the gs_graph module
 * (gs_graph.c: names, builder, CSR; gs_load.c: SQLite loader; gs_query.c:
 * queries and rendering). Not a public header. */
#ifndef GS_INTERNAL_H
#define GS_INTERNAL_H
#include "gs_graph.h"

/* Maximum length of one node id ("<type>::<pk>"), label and detail. */
#define GS_ID_MAX 512
#define GS_LABEL_MAX 96
#define GS_DETAIL_MAX 200
/* Recently interned texts checked before the de-duplication table. */
#define GS_MRU 8

typedef struct {
    uint32_t src;
    uint32_t dst;
    uint8_t rel;
} gs__pair_t;

struct _gs_builder_t {
    buf_t *arena;              /* ids, labels, details, each NUL-terminated */
    /* nodes in insertion order */
    uint32_t n;
    uint32_t cap;
    uint32_t *id_off;
    uint32_t *label_off;
    uint32_t *detail_off;
    uint8_t *type;
    uint8_t *flags;
    double *cost;
    int64_t *ts;
    /* open-addressing index id → node + 1 (0 = empty); lookups only */
    uint64_t *ht;
    size_t ht_cap;
    /* label/detail de-duplication: open addressing over arena offsets
     * (0 = empty); "FAILED run of J-X" is stored once, not per run */
    uint64_t *txt;
    size_t txt_cap;
    size_t txt_used;
    uint32_t mru[GS_MRU];      /* offsets of the last texts interned */
    uint32_t mru_len[GS_MRU];  /* and their lengths (compared first) */
    int mru_next;
    size_t arena_hinted;       /* arena allocation size last given the huge-page hint */
    /* relation pairs (forward direction) */
    gs__pair_t *pairs;
    size_t np;
    size_t pcap;
    gs_stats_t stats;
    bool loaded;
    char data_version[32];
    char data_key[96];         /* "dv:<data_version>" or the file fingerprint */
    const atomic_int *cancel;
    bool no_readahead;
    uint64_t rows_read;
    int64_t t0_ns;
};

struct _gs_graph_t {
    uint32_t n;
    /* Snapshot-loaded graphs: the arrays below point into this read-only
     * mapping (unmapped, not freed, by gs_graph_destroy). */
    void *map;
    size_t map_len;
    char *arena;
    size_t arena_len;
    uint32_t *id_off;          /* nodes sorted by id (byte order) */
    uint32_t *label_off;
    uint32_t *detail_off;
    uint8_t *type;
    uint8_t *flags;
    double *cost;
    int64_t *ts;
    uint64_t *row;             /* CSR: n + 1 offsets into nb/et */
    uint32_t *nb;
    uint8_t *et;
    int64_t max_ts;            /* newest timestamp: "now" for recency */
    double type_cost_mean[GS_NT__COUNT];  /* mean positive cost per type */
    gs_stats_t stats;
    char version[24];
    char data_version[32];
    char data_key[96];
};

/* Section checksum used by snapshots (4 lanes, any single changed word
 * changes the result). */
uint64_t gs__checksum (const void *data, size_t n);
/* File fingerprint "file:<size>.<mtime>;wal:<size>.<mtime>" of a database
 * (wal part "-" when there is no -wal file). 0 or GS_E_IO. */
int gs__file_key (const char *db_path, char *out, size_t size);

/* Builder internals used by the loader. */
int gs__builder_find (gs_builder_t *self, const char *id, uint32_t *out);
/* Starts loading the index slot of `id` into the cache (a hint). */
void gs__builder_prefetch (gs_builder_t *self, const char *id);
/* Pre-sizes the node arrays and the id index for about `nodes` nodes. */
int gs__builder_reserve (gs_builder_t *self, size_t nodes);
/* Adds an edge given resolved endpoint indexes. */
int gs__builder_add_pair (gs_builder_t *self, uint32_t src, uint32_t dst, gs_rel_t rel);
/* Counts a dropped (dangling) relation. */
void gs__builder_dangling (gs_builder_t *self, gs_rel_t rel);
/* Parses "YYYY-MM-DD[ HH:MM[:SS]]" (also with 'T') into Unix seconds. 0 or -1. */
int gs__parse_ts (const char *s, int64_t *out);
/* Writes a message into err (NULL-safe) and returns code. */
int gs__err (char *err, size_t errsz, int code, const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
/* Forward edge type of the relation whose reverse type `rev` is stored at a
 * node of type `holder` (HAS_USAGE at a jobrun → USAGE_OF_JOB_RUN). Returns
 * `rev` itself when it already is a forward type. */
gs_edge_type_t gs__forward_of (gs_edge_type_t rev, gs_node_type_t holder);
/* Node relevance (recency × cost × notable) used by rankings. */
double gs__relevance (const gs_graph_t *g, uint32_t i);

#endif
