/* rt.h — retrieval library (rt_retrieval): corpora, chunking, embedders,
 * index build/persistence and hybrid search. Used by the retrieval-service
 * daemon, the CLI (copilot index / copilot search) and tests.
 *
 * Three corpora, one document scheme:
 *   telemetry  documents built from telemetry DB rows; doc_id = graph node id
 *              (job::, jobrun::, usage::, event::, eviction::, query::, user::,
 *              compute::, workspace::, configchange::, anomaly::); never
 *              chunked.
 *   docs       a curated knowledge base about Databricks compute (markdown
 *              notes with a `source:` docs.databricks.com URL), chunked on
 *              section boundaries at ~1000 characters with 150 overlap;
 *              doc_id = doc::<note>#<anchor>/<part>.
 *   runbooks   markdown runbooks in the reference chunk format ("## Chunk
 *              <id>", a yaml block, "**content**"); one document per chunk;
 *              doc_id = runbook::<chunk id>.
 *
 * Errors: 0 / negative RT_E_* codes (rt_strerror); constructors return NULL.
 * The detail of the last failure on the calling thread is in rt_last_error().
 * Objects are owned by one thread at a time.
 */
#ifndef RT_H
#define RT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

enum {
    RT_OK = 0,
    RT_E_ARG = -1,            /* invalid argument */
    RT_E_NOMEM = -2,
    RT_E_DB = -3,             /* SQLite failure (telemetry DB or index metadata) */
    RT_E_IO = -4,             /* file or directory failure */
    RT_E_FORMAT = -5,         /* malformed corpus file, index file or reply */
    RT_E_DIM = -6,            /* embedder / index dimension or model mismatch */
    RT_E_EMBED = -7,          /* embedder failure (fit, or provider error) */
    RT_E_HTTP = -8,           /* transport failure talking to an embeddings API */
    RT_E_FAISS = -9,          /* vector index failure */
    RT_E_NOTFOUND = -10,      /* unknown corpus, missing index */
    RT_E_UNIMPLEMENTED = -11, /* feature not available in this build */
    RT_E_TOOBIG = -12,        /* a size cap was hit */
};

/* Static text for an RT_E_* code. */
const char *rt_strerror (int code);
/* Detail of the last failure on this thread ("" when none). */
const char *rt_last_error (void);

/* Corpus names as used in SearchRequest.corpus and the index metadata. */
#define RT_CORPUS_TELEMETRY "telemetry"
#define RT_CORPUS_DOCS "docs"
#define RT_CORPUS_RUNBOOKS "runbooks"
/* Returns true for one of the three names above. */
bool rt_corpus_valid (const char *corpus);

/* ============================ documents ================================== */

/* One document (a telemetry row, a docs chunk or a runbook chunk). Every
 * string is owned by the docset it lives in; optional ones are "" not NULL.
 * entity_ids is a space-separated list of graph node ids the document is
 * about (its own id first for telemetry). meta_json is a JSON object with
 * corpus-specific metadata (runbook yaml, telemetry type fields) or "{}". */
typedef struct {
    const char *doc_id;
    const char *corpus;
    const char *type;        /* job, jobrun, ..., databricks_docs, runbook */
    const char *title;
    const char *url;
    const char *anchor;
    const char *text;
    const char *entity_ids;
    const char *source_file;
    const char *meta_json;
} rt_doc_t;

typedef struct _rt_docset_t rt_docset_t;

/* Empty growable set of documents. NULL on OOM. */
rt_docset_t *rt_docset_new (void);
void rt_docset_destroy (rt_docset_t **self_p);
/* Deep-copies `doc` (NULL strings become ""). RT_E_ARG when doc_id, corpus
 * or text is missing or empty; RT_E_FORMAT when doc_id repeats one already
 * in the set. */
int rt_docset_add (rt_docset_t *self, const rt_doc_t *doc);
size_t rt_docset_size (const rt_docset_t *self);
/* The i-th document (NULL when out of range); valid until the set changes. */
const rt_doc_t *rt_docset_get (const rt_docset_t *self, size_t i);
/* Sorts by (corpus order telemetry, docs, runbooks; then doc_id bytewise),
 * the canonical order in which documents are indexed. On OOM the set is
 * left as it was and RT_E_NOMEM is returned. */
int rt_docset_sort (rt_docset_t *self);
/* Index of the document with this doc_id or -1 (hash lookup). */
long rt_docset_find (const rt_docset_t *self, const char *doc_id);

/* ============================ chunking =================================== */

/* Called for each chunk with a pointer into the caller's text and its length
 * (not NUL-terminated). Return 0 to continue, negative to abort (returned). */
typedef int (*rt_chunk_fn) (const char *chunk, size_t len, void *arg);

/* Splits `text` (len bytes) into chunks of at most `max` bytes where
 * consecutive chunks share up to `overlap` bytes of context. Split points are
 * chosen in order of preference at a blank line, a line end, a sentence end,
 * a space, and only then anywhere (never inside a UTF-8 sequence). Leading
 * and trailing whitespace of each chunk is trimmed; empty chunks are not
 * emitted. Requires max > 2 * overlap. 0, RT_E_ARG, or the callback's code. */
int rt_chunk_split (const char *text, size_t len, size_t max, size_t overlap, rt_chunk_fn fn,
                    void *arg);

/* Turns one knowledge-base note into docs chunks appended to `out`.
 * Note format: optional front matter between two "---" lines with `title:`,
 * `source:` (canonical URL, required) and optional `topic:`; then markdown.
 * Sections start at headings (#, ##, ###); a heading may end with "{#anchor}",
 * otherwise the anchor is the slug of the heading text. Every chunk's text
 * starts with "<title> — <section heading>" and stays within `max` bytes.
 * `name` is the file name (the note stem becomes part of the doc ids).
 * 0, RT_E_FORMAT (missing source/title; detail names the file) or RT_E_*. */
int rt_docs_parse_note (const char *name, const char *text, size_t len, size_t max,
                        size_t overlap, rt_docset_t *out);

/* Parses a runbook file in the reference chunk format (seed §9.5) and appends
 * one document per chunk: text = "[RUNBOOK] platform=P topic=T id=ID\n\n" +
 * content; title = yaml `title` or topic; anchor = chunk id; meta_json = the
 * yaml fields. RT_E_FORMAT when a chunk has no yaml block or no **content**
 * line, or when the file has no chunk at all. */
int rt_runbook_parse (const char *name, const char *text, size_t len, rt_docset_t *out);

/* ============================ corpora ==================================== */

/* Bounds for the telemetry corpus: one document per workspace, user, job and
 * compute resource, plus the notable rows below. 0 means "default". */
typedef struct {
    int runs_per_job;        /* newest runs per job (default 60) */
    int max_failed_runs;     /* FAILED runs beyond those, newest first (default 2000) */
    int max_usage;           /* usage rows, most expensive first (default 200) */
    int max_notable_events;  /* SPOT_EVICTION, CONFIG_CHANGE, AUTOSCALING events (default 2000) */
    int max_other_events;    /* newest other events (default 100) */
    int max_evictions;       /* newest evictions (default 2000) */
    int max_queries;         /* newest queries plus every failed one up to this (default 300) */
    int max_changes;         /* newest configuration changes (default 2000) */
    int max_anomalies;       /* detector anomalies, largest |z| first (default 1000) */
} rt_telemetry_opts_t;

/* Builds telemetry documents from the database at `db_path` (opened
 * read-only) into `out`. Works on the reference's 11 tables; uses
 * config_changes and job_dependencies when those tables exist. Adds one
 * document per anomaly of the report engine's detector (rs_engine_detect,
 * default parameters): doc_id anomaly::<entity pk>:<YYYY-MM-DD> (the graph
 * node id), text with entity, date, cost, expected value and range,
 * z-score and severity; entity_ids the anomaly and its job::/compute::
 * node; a detector failure is RT_E_DB. Every query
 * has a deterministic ORDER BY with the primary key as final tie-break.
 * `opts` may be NULL. 0, RT_E_DB (detail has SQLite's message) or RT_E_*. */
int rt_telemetry_load (const char *db_path, const rt_telemetry_opts_t *opts, rt_docset_t *out);

/* Adds the knowledge-base notes and runbooks compiled into the library
 * (services/retrieval-service/corpus/, embedded with copilot_embed), chunked
 * with `max`/`overlap`. `docs_out` or `runbooks_out` may be NULL to skip. */
int rt_corpus_load_builtin (size_t max, size_t overlap, rt_docset_t *docs_out,
                            rt_docset_t *runbooks_out);
/* Adds every *.md file of `dir` (sorted by name) as notes (corpus docs) or
 * runbooks. RT_E_IO when the directory cannot be read. */
int rt_corpus_load_dir (const char *dir, const char *corpus, size_t max, size_t overlap,
                        rt_docset_t *out);

/* ============================ embedders ================================== */

typedef struct _rt_embedder_t rt_embedder_t;

/* Local deterministic embedder ("lsa"): hashed word unigram + bigram +
 * character 3..5-gram TF-IDF, projected by a truncated SVD (LSA) fitted on
 * the corpus with a seeded randomized subspace iteration. */
typedef struct {
    int dim;           /* output dimension (default 256) */
    int max_features;  /* vocabulary cap, by document frequency (default 65536) */
    int min_df;        /* minimum document frequency of a feature (default 1) */
    int fit_sample;    /* at most this many texts are used for fitting (default 8000) */
    int power_iters;   /* subspace iterations (default 2) */
    uint64_t seed;     /* random seed (default 42) */
} rt_lsa_opts_t;

/* Fits the local embedder on `n` texts. The fit is deterministic: the same
 * texts and options give bit-identical models. When fewer independent
 * directions exist than `dim`, the remaining components are zero. NULL on
 * failure (rt_last_error()). */
rt_embedder_t *rt_embedder_lsa_fit (const char *const *texts, size_t n, const rt_lsa_opts_t *opts);
/* Saves / loads the fitted model (binary file with a magic and version). */
int rt_embedder_lsa_save (const rt_embedder_t *self, const char *path);
rt_embedder_t *rt_embedder_lsa_load (const char *path);

/* OpenAI-compatible /v1/embeddings client over libcurl. */
typedef struct {
    const char *base_url;   /* e.g. https://api.openai.com/v1 (required) */
    const char *api_key;    /* may be NULL/"" for local servers; never logged */
    const char *model;      /* e.g. text-embedding-3-small (required) */
    int dim;                /* expected dimension; 0 = learn from the first reply */
    int batch;              /* texts per request (default 64) */
    int timeout_ms;         /* per request (default 30000) */
    int max_retries;        /* retries of a batch answered 429 or 5xx (default 2; < 0 = none) */
    int retry_base_ms;      /* back-off before retry i: base << i, unless the reply says
                               Retry-After / retry-after-ms (default 500) */
} rt_openai_opts_t;

/* Creates the client (no network traffic yet). Strings are copied. Errors
 * of rt_embedder_embed / rt_embedder_prepare with this client: HTTP 401/403
 * "rejected the API key", 429 "rate limited" and 5xx "server error" (both
 * after the retries) are RT_E_EMBED; a timeout ("timed out after N ms") and
 * other transport failures are RT_E_HTTP; a reply with a wrong count, a bad
 * or repeated "index" or non-numbers is RT_E_FORMAT. Vectors are placed by
 * each item's "index", not by reply order. */
rt_embedder_t *rt_embedder_openai_new (const rt_openai_opts_t *opts);

/* Embeds `n` texts into out[n * dim], each vector unit-norm (an all-zero
 * vector when the text has no known feature). For the OpenAI client, a reply
 * with another dimension than expected is RT_E_DIM, and the dimension must
 * be known (opts.dim or rt_embedder_prepare). 0 or RT_E_*. */
int rt_embedder_embed (rt_embedder_t *self, const char *const *texts, size_t n, float *out);
/* Makes the embedder ready to report its dimension: for an OpenAI client
 * created with dim 0 this sends one short request and records the reply's
 * dimension; a no-op otherwise. 0 or RT_E_*. */
int rt_embedder_prepare (rt_embedder_t *self);
/* Output dimension (0 for an OpenAI client that has not learnt it yet). */
int rt_embedder_dim (const rt_embedder_t *self);
/* Identity written into the index: "lsa" or "openai:<model>". */
const char *rt_embedder_name (const rt_embedder_t *self);
void rt_embedder_destroy (rt_embedder_t **self_p);

/* ============================ configuration ============================== */

/* Everything the index builder and searcher read from configuration.
 * Keys (cfg.h; environment COPILOT_RETRIEVAL_...):
 *   retrieval.embedder        lsa | openai              (default lsa)
 *   retrieval.dim             embedding dimension; 0 = automatic (256 for a new
 *                             lsa index, the model's own for openai, and when
 *                             opening: whatever the index records). A non-zero
 *                             value that differs from the index is RT_E_DIM.
 *   retrieval.openai.base_url (alias OPENAI_BASE_URL; default https://api.openai.com/v1)
 *   retrieval.openai.api_key  (alias OPENAI_API_KEY)
 *   retrieval.openai.model    (default text-embedding-3-small)
 *   retrieval.openai.timeout_ms / retrieval.openai.max_retries  per request (30000 / 2)
 *   retrieval.flat_max        corpora up to this size use exact IDMap2,Flat (default 50000)
 *   retrieval.hnsw_m          HNSW graph degree (default 32)
 *   retrieval.ef_search       HNSW efSearch (default 64)
 *   retrieval.ef_construction HNSW efConstruction (default 40)
 *   retrieval.chunk_max / retrieval.chunk_overlap   (default 1000 / 150)
 *   retrieval.rrf_k           reciprocal-rank constant (default 60)
 *   retrieval.keyword_max_df  in indexes of at least retrieval.keyword_prune_min_docs
 *                             documents (default 100000), BM25 ignores query terms found
 *                             in more than this fraction of all documents (default 0.05;
 *                             1 = never); they carry little weight and make FTS5 score
 *                             most of the index. Smaller indexes use every term.
 *   retrieval.threads         FAISS OpenMP threads (default 1: deterministic builds)
 *   retrieval.docs_dir / retrieval.runbooks_dir    extra corpus folders (optional)
 *   retrieval.telemetry.<bound>  every rt_telemetry_opts_t field (runs_per_job,
 *                             max_failed_runs, max_usage, max_notable_events,
 *                             max_other_events, max_evictions, max_queries,
 *                             max_changes, max_anomalies; defaults as listed there) */
typedef struct {
    char embedder[16];
    int dim;
    char openai_base_url[256];
    char openai_api_key[256];
    char openai_model[128];
    int openai_timeout_ms;
    int openai_max_retries;
    int flat_max;
    int hnsw_m;
    int ef_search;
    int ef_construction;
    int chunk_max;
    int chunk_overlap;
    int rrf_k;
    double keyword_max_df;
    int keyword_prune_min_docs;
    int threads;
    char docs_dir[512];
    char runbooks_dir[512];
    rt_lsa_opts_t lsa;
    rt_telemetry_opts_t telemetry;
} rt_config_t;

/* Fills `out` with the defaults listed above. */
void rt_config_defaults (rt_config_t *out);
/* Defaults, then overrides from `cfg` (may be NULL). RT_E_ARG with the
 * offending key in rt_last_error() on an invalid value. */
int rt_config_load (cfg_t *cfg, rt_config_t *out);
/* Creates the embedder the configuration asks for a NEW index (lsa: fitted
 * on `texts`; openai: a client). */
rt_embedder_t *rt_embedder_for_build (const rt_config_t *cfg, const char *const *texts, size_t n);

/* ============================ index ====================================== */

/* Progress callback: `stage` names the step ("telemetry", "embedding docs",
 * ...), done/total count units of that step. */
typedef void (*rt_progress_fn) (const char *stage, size_t done, size_t total, void *arg);

typedef struct {
    size_t docs[3];          /* per corpus: telemetry, docs, runbooks */
    int dim;
    char embedder[160];
    char index_version[17];  /* first 16 hex of a SHA-256 over the content */
    double seconds_load;     /* corpus building */
    double seconds_embed;    /* fit + embed */
    double seconds_index;    /* FAISS add + write + SQLite */
    uint64_t bytes;          /* total size of the index directory */
} rt_build_stats_t;

/* Builds the three corpora into index directory `out_dir`: builds from the
 * telemetry DB at `db_path` (NULL = no telemetry corpus), the builtin notes
 * and runbooks, and the optional extra folders of `cfg`. Writes
 * <corpus>.faiss, meta.sqlite (documents, entity map, FTS5 table, info),
 * and embedder.lsa for the local embedder, first into a temporary sibling
 * directory that then replaces `out_dir`. `progress` may be NULL. */
int rt_index_build (const char *db_path, const char *out_dir, const rt_config_t *cfg,
                    rt_progress_fn progress, void *progress_arg, rt_build_stats_t *stats);

/* Same, from documents the caller assembled (tests, benchmarks). The set is
 * sorted in place (canonical order) first. */
int rt_index_build_docs (rt_docset_t *docs, const char *out_dir, const rt_config_t *cfg,
                         rt_progress_fn progress, void *progress_arg, rt_build_stats_t *stats);

typedef struct _rt_index_t rt_index_t;

/* Opens an index directory for searching. Sets the process-wide FAISS thread
 * count to cfg->threads (default 1). The embedder is rebuilt from the
 * directory (lsa) or from `cfg` (openai); when the configured embedder or
 * dimension differs from the one recorded at build time the open fails with
 * RT_E_DIM and a message naming both. `cfg` may be NULL (defaults). */
rt_index_t *rt_index_open (const char *dir, const rt_config_t *cfg);
void rt_index_destroy (rt_index_t **self_p);

const char *rt_index_version (const rt_index_t *self);
const char *rt_index_embedder (const rt_index_t *self);
/* data_version of the telemetry DB the index was built from, read at the
 * start of rt_index_build ("" when built without a DB, from documents, or
 * from a DB without a data_version table). */
const char *rt_index_data_version (const rt_index_t *self);
/* Path of the telemetry DB given to rt_index_build ("" when none). */
const char *rt_index_db_path (const rt_index_t *self);
int rt_index_dim (const rt_index_t *self);
/* Documents in a corpus (0 for an unknown corpus). */
size_t rt_index_count (const rt_index_t *self, const char *corpus);
/* Changes HNSW efSearch on every HNSW corpus index (no-op for Flat). */
void rt_index_set_ef_search (rt_index_t *self, int ef_search);

typedef enum { RT_MODE_HYBRID = 0, RT_MODE_VECTOR = 1, RT_MODE_KEYWORD = 2 } rt_mode_t;

/* Parses "hybrid" (or ""), "vector", "keyword". 0 or RT_E_ARG. */
int rt_mode_parse (const char *text, rt_mode_t *out);

typedef struct {
    const char *corpus;              /* NULL or "" = all corpora */
    const char *query;
    int k;                           /* 1..100 */
    const char *const *entity_ids;   /* filter: hits whose entity_ids meet these */
    size_t n_entity_ids;
    rt_mode_t mode;
} rt_query_t;

typedef struct {
    const rt_doc_t *doc;     /* owned by the result */
    double score;            /* RRF score (hybrid), cosine (vector), -bm25 (keyword) */
    int vector_rank;         /* 1-based rank in the vector list, 0 = absent */
    int keyword_rank;        /* 1-based rank in the BM25 list, 0 = absent */
    double vector_score;     /* inner product (cosine) when vector_rank > 0 */
    double bm25;             /* SQLite bm25() (lower is better) when keyword_rank > 0 */
} rt_hit_t;

typedef struct _rt_result_t rt_result_t;

/* Hybrid search: BM25 over the FTS5 table and k-NN over the corpus vector
 * index (exact re-scoring of the candidates when entity ids filter), fused by
 * reciprocal rank 1/(rrf_k + rank); ties broken by doc_id. Results are a
 * pure function of (index, query). 0 with *out set, or RT_E_*. */
int rt_index_search (rt_index_t *self, const rt_query_t *q, rt_result_t **out);
size_t rt_result_count (const rt_result_t *self);
const rt_hit_t *rt_result_hit (const rt_result_t *self, size_t i);
void rt_result_destroy (rt_result_t **self_p);

#endif
