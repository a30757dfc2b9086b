/* rt_index.c — index build, persistence and hybrid search.
 *
 * On disk an index is one directory:
 *   meta.sqlite      docs(id, doc_id, corpus, type, title, url, anchor, text,
 *                    entity_ids, source_file, meta_json), doc_entity(entity_id,
 *                    id), the FTS5 table docs_fts (external content over docs,
 *                    porter + unicode61 tokenizer) for BM25, and info(key,
 *                    value): format, embedder, dim, index_version, per-corpus
 *                    factory and count, and for builds from a telemetry DB its
 *                    data_version (read before the rows) and db_path;
 *                    term_df(term, df): the FTS5 terms (as stemmed by the
 *                    tokenizer) found in at least 1% of the documents, with
 *                    their document frequency (from fts5vocab at build time).
 *   <corpus>.faiss   one FAISS index per corpus (telemetry, docs, runbooks),
 *                    inner product over unit vectors; vector ids = docs.id.
 *   embedder.lsa     the fitted local embedder (when embedder = lsa).
 * Documents are numbered 1..N in canonical order (corpus, then doc_id), so
 * the same corpus always yields the same ids, files and index_version (the
 * first 16 hex digits of a chained SHA-256 over embedder, dim and every
 * document). A build writes a temporary sibling directory and renames it
 * into place; an existing directory is replaced only if it is an index.
 * Searchers open meta.sqlite with immutable=1: an index never changes in
 * place, it is replaced as a whole.
 *
 * Search (rt_index_search): a vector list (k-NN in the chosen corpora; with
 * an entity filter, exact re-scoring of the filtered candidates through
 * reconstruct) and a BM25 list (FTS5 MATCH of the query's terms OR-ed,
 * bm25 weights title 2, text 1, ids 1, set as the table's rank function at
 * build time; a corpus is a contiguous id range, so the corpus filter is a
 * rowid range FTS5 applies itself), each ordered by score then doc_id and
 * cut to a fusion depth of max(5k, 50); hybrid fuses them with reciprocal
 * rank 1/(rrf_k + rank). In large indexes (retrieval.keyword_prune_min_docs)
 * the BM25 query leaves out terms whose document frequency exceeds
 * retrieval.keyword_max_df: the query's terms are run through FTS5's own
 * tokenizer (fts5_api xFindTokenizer, same arguments as the table) and
 * looked up in term_df, so "failed" is judged as the indexed "fail".
 * Node ids written verbatim in the query
 * ("job::J-FIN-DAILY") that name a document form a third list and are
 * returned first (an explicit reference beats similarity). Final order:
 * explicit references, then score desc, then doc_id ascending, so results
 * are a pure function of (index, query).
 */
#include "rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs_faiss.h"

#define RT_FORMAT "copilot-retrieval-index/2"
#define RT_MAX_FILTER_IDS 4096
#define RT_MAX_EXACT_CANDIDATES 200000

/* ------------------------------------------------------------------------ */
/* build                                                                     */

static const char *const s_index_files[] = {"meta.sqlite", "telemetry.faiss", "docs.faiss",
                                            "runbooks.faiss", "embedder.lsa", NULL};

static int
s_exec (sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &err) != SQLITE_OK) {
        int rc = rt__fail (RT_E_DB, "index metadata: %s", err ? err : sqlite3_errmsg (db));
        sqlite3_free (err);
        return rc;
    }
    return RT_OK;
}

static int
s_info_put (sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, "INSERT OR REPLACE INTO info(key, value) VALUES (?1, ?2)", -1, &st, NULL)
        != SQLITE_OK)
        return rt__fail (RT_E_DB, "index metadata: %s", sqlite3_errmsg (db));
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step (st) == SQLITE_DONE ? RT_OK
                                              : rt__fail (RT_E_DB, "index metadata: %s", sqlite3_errmsg (db));
    sqlite3_finalize (st);
    return rc;
}

static bool
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

/* Removes our known index files from `dir`, then the directory itself. */
static void
s_remove_index_dir (const char *dir)
{
    char p[4096];
    for (int i = 0; s_index_files[i]; i++) {
        if (str_fmt (p, sizeof p, "%s/%s", dir, s_index_files[i]) == 0)
            unlink (p);
    }
    if (str_fmt (p, sizeof p, "%s/meta.sqlite-journal", dir) == 0)
        unlink (p);
    rmdir (dir);
}

/* True when `dir` may be replaced: it does not exist, is empty, or is an index. */
static bool
s_replaceable (const char *dir)
{
    if (!s_exists (dir))
        return true;
    if (!s_is_dir (dir))
        return false;
    char p[4096];
    if (str_fmt (p, sizeof p, "%s/meta.sqlite", dir) == 0 && s_exists (p))
        return true;
    DIR *d = opendir (dir);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir (d)) != NULL)
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
            empty = false;
    closedir (d);
    return empty;
}

static uint64_t
s_file_size (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

static void
s_progress (rt_progress_fn fn, void *arg, const char *stage, size_t done, size_t total)
{
    if (fn)
        fn (stage, done, total, arg);
}

static int
s_write_meta (const char *path, const rt_docset_t *docs, const char *embedder, int dim,
              const char *version, const char *factories[3], const size_t counts[3],
              const char *data_version, const char *db_path, rt_progress_fn progress, void *parg)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        int rc = rt__fail (RT_E_DB, "cannot create %s: %s", path, db ? sqlite3_errmsg (db) : "out of memory");
        sqlite3_close_v2 (db);
        return rc;
    }
    int rc = s_exec (db,
                     "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                     "CREATE TABLE info(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE docs(id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE,"
                     " corpus TEXT NOT NULL, type TEXT NOT NULL, title TEXT NOT NULL, url TEXT NOT NULL,"
                     " anchor TEXT NOT NULL, text TEXT NOT NULL, entity_ids TEXT NOT NULL,"
                     " source_file TEXT NOT NULL, meta_json TEXT NOT NULL);"
                     "CREATE TABLE doc_entity(entity_id TEXT NOT NULL, id INTEGER NOT NULL,"
                     " PRIMARY KEY(entity_id, id)) WITHOUT ROWID;"
                     "CREATE VIRTUAL TABLE docs_fts USING fts5(title, text, entity_ids, content='docs',"
                     " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
                     "BEGIN;");
    sqlite3_stmt *ins = NULL, *ent = NULL;
    if (rc == RT_OK
        && (sqlite3_prepare_v2 (db,
                                "INSERT INTO docs(id, doc_id, corpus, type, title, url, anchor, text,"
                                " entity_ids, source_file, meta_json) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                                -1, &ins, NULL)
                != SQLITE_OK
            || sqlite3_prepare_v2 (db, "INSERT OR IGNORE INTO doc_entity(entity_id, id) VALUES (?1, ?2)", -1,
                                   &ent, NULL)
                   != SQLITE_OK))
        rc = rt__fail (RT_E_DB, "index metadata: %s", sqlite3_errmsg (db));
    size_t n = rt_docset_size (docs);
    for (size_t i = 0; i < n && rc == RT_OK; i++) {
        const rt_doc_t *d = rt_docset_get (docs, i);
        sqlite3_int64 id = (sqlite3_int64) i + 1;
        sqlite3_reset (ins);
        sqlite3_bind_int64 (ins, 1, id);
        const char *vals[10] = {d->doc_id, d->corpus, d->type, d->title, d->url, d->anchor, d->text,
                                d->entity_ids, d->source_file, d->meta_json};
        for (int c = 0; c < 10; c++)
            sqlite3_bind_text (ins, c + 2, vals[c], -1, SQLITE_STATIC);
        if (sqlite3_step (ins) != SQLITE_DONE) {
            rc = rt__fail (RT_E_DB, "index metadata insert %s: %s", d->doc_id, sqlite3_errmsg (db));
            break;
        }
        /* entity map: the listed ids, plus the doc id itself */
        const char *p = d->entity_ids;
        bool self_listed = false;
        while (*p && rc == RT_OK) {
            while (*p == ' ')
                p++;
            const char *e = p;
            while (*e && *e != ' ')
                e++;
            if (e > p) {
                if ((size_t) (e - p) == strlen (d->doc_id) && memcmp (p, d->doc_id, (size_t) (e - p)) == 0)
                    self_listed = true;
                sqlite3_reset (ent);
                sqlite3_bind_text (ent, 1, p, (int) (e - p), SQLITE_STATIC);
                sqlite3_bind_int64 (ent, 2, id);
                if (sqlite3_step (ent) != SQLITE_DONE)
                    rc = rt__fail (RT_E_DB, "index metadata entity: %s", sqlite3_errmsg (db));
            }
            p = e;
        }
        if (rc == RT_OK && !self_listed) {
            sqlite3_reset (ent);
            sqlite3_bind_text (ent, 1, d->doc_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64 (ent, 2, id);
            if (sqlite3_step (ent) != SQLITE_DONE)
                rc = rt__fail (RT_E_DB, "index metadata entity: %s", sqlite3_errmsg (db));
        }
        if ((i + 1) % 1000 == 0 || i + 1 == n)
            s_progress (progress, parg, "metadata", i + 1, n);
    }
    sqlite3_finalize (ins);
    sqlite3_finalize (ent);
    if (rc == RT_OK)
        rc = s_exec (db, "INSERT INTO docs_fts(docs_fts) VALUES('rebuild');"
                         "INSERT INTO docs_fts(docs_fts, rank) VALUES('rank', 'bm25(2.0, 1.0, 1.0)');");
    char num[32];
    if (rc == RT_OK)
        rc = s_info_put (db, "format", RT_FORMAT);
    if (rc == RT_OK)
        rc = s_info_put (db, "embedder", embedder);
    str_fmt (num, sizeof num, "%d", dim);
    if (rc == RT_OK)
        rc = s_info_put (db, "dim", num);
    if (rc == RT_OK)
        rc = s_info_put (db, "index_version", version);
    /* provenance of the telemetry corpus (hot reload compares data_version) */
    if (rc == RT_OK && data_version && *data_version)
        rc = s_info_put (db, "data_version", data_version);
    if (rc == RT_OK && db_path && *db_path)
        rc = s_info_put (db, "db_path", db_path);
    for (int c = 0; c < 3 && rc == RT_OK; c++) {
        char key[64];
        str_fmt (key, sizeof key, "factory.%s", rt__corpus_names[c]);
        rc = s_info_put (db, key, factories[c]);
        str_fmt (key, sizeof key, "count.%s", rt__corpus_names[c]);
        str_fmt (num, sizeof num, "%zu", counts[c]);
        if (rc == RT_OK)
            rc = s_info_put (db, key, num);
    }
    if (rc == RT_OK)
        rc = s_exec (db, "COMMIT; INSERT INTO docs_fts(docs_fts) VALUES('optimize');");
    /* document frequencies of the common terms (>= 1% of the documents,
     * at least 2): what search needs to leave them out of BM25 */
    if (rc == RT_OK)
        rc = s_exec (db, "CREATE VIRTUAL TABLE temp.docs_vocab USING fts5vocab(main, 'docs_fts', 'row');"
                         "CREATE TABLE term_df(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;");
    if (rc == RT_OK) {
        sqlite3_stmt *df = NULL;
        if (sqlite3_prepare_v2 (db, "INSERT INTO term_df(term, df) SELECT term, doc FROM temp.docs_vocab"
                                    " WHERE doc >= ?1 ORDER BY term", -1, &df, NULL) != SQLITE_OK)
            rc = rt__fail (RT_E_DB, "index term frequencies: %s", sqlite3_errmsg (db));
        else {
            sqlite3_int64 min_df = (sqlite3_int64) (n / 100);
            sqlite3_bind_int64 (df, 1, min_df < 2 ? 2 : min_df);
            if (sqlite3_step (df) != SQLITE_DONE)
                rc = rt__fail (RT_E_DB, "index term frequencies: %s", sqlite3_errmsg (db));
        }
        sqlite3_finalize (df);
    }
    if (rc == RT_OK)
        rc = s_exec (db, "DROP TABLE temp.docs_vocab; PRAGMA journal_mode=DELETE;");
    if (sqlite3_close_v2 (db) != SQLITE_OK && rc == RT_OK)
        rc = rt__fail (RT_E_DB, "cannot close %s", path);
    return rc;
}

/* Content version: chained SHA-256 over embedder, dim and every document. */
static int
s_version (const rt_docset_t *docs, const char *embedder, int dim, const rt_config_t *cfg, char out[17])
{
    char acc[65];
    char head[512];
    str_fmt (head, sizeof head, "%s|%d|%s|%d|%d|%d", embedder, dim, RT_FORMAT, cfg->flat_max, cfg->hnsw_m,
             cfg->ef_construction);
    str_sha256_hex (head, strlen (head), acc);
    buf_t *b = buf_new ((size_t) 64 << 20);
    if (!b)
        return rt__fail (RT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rt_docset_size (docs); i++) {
        const rt_doc_t *d = rt_docset_get (docs, i);
        buf_reset (b);
        int e = buf_append (b, acc, 64);
        const char *f[9] = {d->doc_id, d->corpus, d->type, d->title, d->url, d->anchor, d->text,
                            d->entity_ids, d->meta_json};
        for (int k = 0; k < 9; k++) {
            e |= buf_puts (b, f[k]);
            e |= buf_append (b, "\x1f", 1);
        }
        if (e != 0) {
            buf_destroy (&b);
            return rt__fail (RT_E_TOOBIG, "document %s too large to version", d->doc_id);
        }
        str_sha256_hex (buf_data (b), buf_len (b), acc);
    }
    buf_destroy (&b);
    memcpy (out, acc, 16);
    out[16] = '\0';
    return RT_OK;
}

rt_embedder_t *
rt_embedder_for_build (const rt_config_t *cfg, const char *const *texts, size_t n)
{
    if (strcmp (cfg->embedder, "lsa") == 0) {
        rt_lsa_opts_t o = cfg->lsa;
        if (cfg->dim > 0)
            o.dim = cfg->dim;
        return rt_embedder_lsa_fit (texts, n, &o);
    }
    if (strcmp (cfg->embedder, "openai") == 0) {
        rt_openai_opts_t o = {.base_url = cfg->openai_base_url,
                              .api_key = cfg->openai_api_key,
                              .model = cfg->openai_model,
                              .dim = cfg->dim,
                              .timeout_ms = cfg->openai_timeout_ms,
                              .max_retries = cfg->openai_max_retries};
        rt_embedder_t *e = rt_embedder_openai_new (&o);
        if (e && rt_embedder_prepare (e) != RT_OK)
            rt_embedder_destroy (&e);
        return e;
    }
    rt__fail (RT_E_ARG, "retrieval.embedder='%s': expected lsa or openai", cfg->embedder);
    return NULL;
}

static int s_build_docs (rt_docset_t *docs, const char *out_dir, const rt_config_t *cfg_in,
                         const char *data_version, const char *db_path, rt_progress_fn progress, void *parg,
                         rt_build_stats_t *stats);

int
rt_index_build_docs (rt_docset_t *docs, const char *out_dir, const rt_config_t *cfg_in,
                     rt_progress_fn progress, void *parg, rt_build_stats_t *stats)
{
    return s_build_docs (docs, out_dir, cfg_in, NULL, NULL, progress, parg, stats);
}

static int
s_build_docs (rt_docset_t *docs, const char *out_dir, const rt_config_t *cfg_in, const char *data_version,
              const char *db_path, rt_progress_fn progress, void *parg, rt_build_stats_t *stats)
{
    rt_config_t defcfg;
    if (!cfg_in) {
        rt_config_defaults (&defcfg);
        cfg_in = &defcfg;
    }
    const rt_config_t *cfg = cfg_in;
    rt_build_stats_t st = {0};
    if (!docs || !out_dir || !*out_dir)
        return rt__fail (RT_E_ARG, "rt_index_build_docs: NULL argument");
    size_t n = rt_docset_size (docs);
    if (n == 0)
        return rt__fail (RT_E_ARG, "nothing to index: no documents");
    if (n >= (size_t) INT64_MAX / 2)
        return rt__fail (RT_E_TOOBIG, "too many documents");
    if (!s_replaceable (out_dir))
        return rt__fail (RT_E_IO, "refusing to replace %s: it exists and is not an index directory", out_dir);
    int rc = rt_docset_sort (docs);
    if (rc < 0)
        return rc;
    vs_set_threads (cfg->threads > 0 ? cfg->threads : 1);

    char tmp[4096], path[4096];
    if (str_fmt (tmp, sizeof tmp, "%s.tmp-%ld", out_dir, (long) getpid ()) != 0)
        return rt__fail (RT_E_ARG, "index path too long");
    s_remove_index_dir (tmp);
    if (mkdir (tmp, 0755) != 0)
        return rt__fail (RT_E_IO, "cannot create %s: %s", tmp, strerror (errno));

    const char **texts = malloc (n * sizeof *texts);
    rt_embedder_t *emb = NULL;
    vs_index_t *vix[3] = {NULL, NULL, NULL};
    float *vecs = NULL;
    int64_t *ids = NULL;
    size_t counts[3] = {0, 0, 0};
    const char *factories[3] = {"", "", ""};
    char facbuf[3][64];
    if (!texts) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const rt_doc_t *d = rt_docset_get (docs, i);
        texts[i] = d->text;
        int c = rt__corpus_index (d->corpus);
        if (c < 0) {
            rc = rt__fail (RT_E_ARG, "document %s has unknown corpus %s", d->doc_id, d->corpus);
            goto fail;
        }
        counts[c]++;
    }

    /* embedder */
    double t0 = rt__now_s ();
    s_progress (progress, parg, "fitting embedder", 0, 1);
    emb = rt_embedder_for_build (cfg, texts, n);
    if (!emb) {
        rc = rt__fail (RT_E_EMBED, "embedder: %s", rt_last_error ());
        goto fail;
    }
    s_progress (progress, parg, "fitting embedder", 1, 1);
    int dim = rt_embedder_dim (emb);
    if (cfg->dim > 0 && dim != cfg->dim) {
        rc = rt__fail (RT_E_DIM, "embedder %s produces dimension %d but retrieval.dim is %d",
                       rt_embedder_name (emb), dim, cfg->dim);
        goto fail;
    }

    /* vector indexes, one per corpus */
    for (int c = 0; c < 3; c++) {
        if (counts[c] > (size_t) cfg->flat_max)
            str_fmt (facbuf[c], sizeof facbuf[c], "IDMap2,HNSW%d", cfg->hnsw_m > 0 ? cfg->hnsw_m : 32);
        else
            str_copy (facbuf[c], sizeof facbuf[c], "IDMap2,Flat");
        factories[c] = facbuf[c];
        vix[c] = vs_create (dim, facbuf[c], true);
        if (!vix[c]) {
            rc = rt__fail (RT_E_FAISS, "cannot create %s index: %s", facbuf[c], vs_last_error ());
            goto fail;
        }
        if (vs_is_hnsw (vix[c]))
            vs_set_hnsw_ef (vix[c], cfg->ef_search, cfg->ef_construction);
    }
    enum { BATCH = 256 };
    vecs = malloc ((size_t) BATCH * (size_t) dim * sizeof *vecs);
    ids = malloc (BATCH * sizeof *ids);
    if (!vecs || !ids) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto fail;
    }
    double t_embed = 0, t_add = 0;
    for (size_t off = 0; off < n; off += BATCH) {
        size_t cnt = n - off < BATCH ? n - off : BATCH;
        double a = rt__now_s ();
        if ((rc = rt_embedder_embed (emb, texts + off, cnt, vecs)) < 0)
            goto fail;
        double b = rt__now_s ();
        t_embed += b - a;
        /* a batch may span corpora: add runs of the same corpus */
        size_t s = 0;
        while (s < cnt) {
            int c = rt__corpus_index (rt_docset_get (docs, off + s)->corpus);
            size_t e = s;
            while (e < cnt && rt__corpus_index (rt_docset_get (docs, off + e)->corpus) == c) {
                ids[e] = (int64_t) (off + e) + 1;
                e++;
            }
            if (vs_add_with_ids (vix[c], (int64_t) (e - s), vecs + s * (size_t) dim, ids + s) != VS_OK) {
                rc = rt__fail (RT_E_FAISS, "adding vectors: %s", vs_last_error ());
                goto fail;
            }
            s = e;
        }
        t_add += rt__now_s () - b;
        s_progress (progress, parg, "embedding", off + cnt, n);
    }
    st.seconds_embed = (rt__now_s () - t0) - t_add;
    double t1 = rt__now_s ();
    for (int c = 0; c < 3; c++) {
        str_fmt (path, sizeof path, "%s/%s.faiss", tmp, rt__corpus_names[c]);
        if (vs_write (vix[c], path) != VS_OK) {
            rc = rt__fail (RT_E_IO, "writing %s: %s", path, vs_last_error ());
            goto fail;
        }
    }
    if (strcmp (rt_embedder_name (emb), "lsa") == 0) {
        str_fmt (path, sizeof path, "%s/embedder.lsa", tmp);
        if ((rc = rt_embedder_lsa_save (emb, path)) < 0)
            goto fail;
    }
    if ((rc = s_version (docs, rt_embedder_name (emb), dim, cfg, st.index_version)) < 0)
        goto fail;
    str_fmt (path, sizeof path, "%s/meta.sqlite", tmp);
    rc = s_write_meta (path, docs, rt_embedder_name (emb), dim, st.index_version, factories, counts,
                       data_version, db_path, progress, parg);
    if (rc < 0)
        goto fail;
    st.seconds_index = t_add + (rt__now_s () - t1);

    /* swap into place */
    char old[4096];
    bool had_old = s_exists (out_dir);
    if (had_old) {
        if (str_fmt (old, sizeof old, "%s.old-%ld", out_dir, (long) getpid ()) != 0
            || rename (out_dir, old) != 0) {
            rc = rt__fail (RT_E_IO, "cannot move old index %s aside: %s", out_dir, strerror (errno));
            goto fail;
        }
    }
    if (rename (tmp, out_dir) != 0) {
        rc = rt__fail (RT_E_IO, "cannot move new index into %s: %s", out_dir, strerror (errno));
        if (had_old)
            rename (old, out_dir);
        goto fail;
    }
    if (had_old)
        s_remove_index_dir (old);

    for (int c = 0; c < 3; c++)
        st.docs[c] = counts[c];
    st.dim = dim;
    str_copy (st.embedder, sizeof st.embedder, rt_embedder_name (emb));
    for (int i = 0; s_index_files[i]; i++) {
        str_fmt (path, sizeof path, "%s/%s", out_dir, s_index_files[i]);
        st.bytes += s_file_size (path);
    }
    if (stats) {
        double load = stats->seconds_load;
        *stats = st;
        stats->seconds_load = load;
    }
    rc = RT_OK;
    goto done;
fail:
    s_remove_index_dir (tmp);
done:
    for (int c = 0; c < 3; c++)
        vs_destroy (&vix[c]);
    rt_embedder_destroy (&emb);
    free (vecs);
    free (ids);
    free (texts);
    return rc;
}

/* data_version.version of the telemetry DB ("" when the table is absent). */
static void
s_db_data_version (const char *db_path, char *out, size_t size)
{
    out[0] = '\0';
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout (db, 5000);
        if (sqlite3_prepare_v2 (db, "SELECT version FROM data_version WHERE id = 1", -1, &st, NULL) == SQLITE_OK
            && sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 0) != SQLITE_NULL)
            str_fmt (out, size, "%lld", (long long) sqlite3_column_int64 (st, 0));
    }
    sqlite3_finalize (st);
    sqlite3_close_v2 (db);
}

int
rt_index_build (const char *db_path, const char *out_dir, const rt_config_t *cfg_in,
                rt_progress_fn progress, void *parg, rt_build_stats_t *stats)
{
    rt_config_t defcfg;
    if (!cfg_in) {
        rt_config_defaults (&defcfg);
        cfg_in = &defcfg;
    }
    const rt_config_t *cfg = cfg_in;
    double t0 = rt__now_s ();
    rt_docset_t *docs = rt_docset_new ();
    if (!docs)
        return RT_E_NOMEM;
    int rc = RT_OK;
    size_t max = (size_t) (cfg->chunk_max > 0 ? cfg->chunk_max : 1000);
    size_t ov = (size_t) (cfg->chunk_overlap >= 0 ? cfg->chunk_overlap : 150);
    char dv[32] = "";
    if (db_path) {
        /* read BEFORE the rows: a change during the build makes the recorded
         * version older than the data, never newer (a later data.changed
         * then triggers another reload) */
        s_db_data_version (db_path, dv, sizeof dv);
        s_progress (progress, parg, "telemetry corpus", 0, 1);
        rc = rt_telemetry_load (db_path, &cfg->telemetry, docs);
        s_progress (progress, parg, "telemetry corpus", 1, 1);
    }
    if (rc == RT_OK)
        rc = rt_corpus_load_builtin (max, ov, docs, docs);
    if (rc == RT_OK && cfg->docs_dir[0])
        rc = rt_corpus_load_dir (cfg->docs_dir, RT_CORPUS_DOCS, max, ov, docs);
    if (rc == RT_OK && cfg->runbooks_dir[0])
        rc = rt_corpus_load_dir (cfg->runbooks_dir, RT_CORPUS_RUNBOOKS, max, ov, docs);
    if (rc == RT_OK) {
        rt_build_stats_t st = {0};
        st.seconds_load = rt__now_s () - t0;
        rc = s_build_docs (docs, out_dir, cfg, dv, db_path, progress, parg, &st);
        if (rc == RT_OK && stats)
            *stats = st;
    }
    rt_docset_destroy (&docs);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* open                                                                      */

struct _rt_index_t {
    sqlite3 *db;
    vs_index_t *vix[3];
    rt_embedder_t *emb;
    int dim;
    int rrf_k;
    char version[64];
    char embedder[160];
    char data_version[32];
    char db_path[1024];
    size_t counts[3];
    sqlite3_int64 ndocs;
    char **doc_ids;   /* doc_ids[id - 1], for tie-breaks without a query */
    unsigned char *corpus_of; /* corpus index per id - 1 */
    int64_t lo[3], hi[3];     /* id range of each corpus (ids follow canonical order) */
    sqlite3_stmt *st_doc, *st_fts, *st_fts_ent, *st_cand, *st_byid;
    /* keyword pruning (NULL st_df = off: small index, option off or an
     * index without term_df) */
    sqlite3_stmt *st_df;
    double max_df;             /* documents, not a fraction */
    fts5_tokenizer tok_api;    /* FTS5's porter tokenizer */
    Fts5Tokenizer *tok;
};

/* The tokenizer the FTS5 table was created with ("porter unicode61
 * remove_diacritics 2"), through the fts5_api of `db`. 0 or -1. */
static int
s_tokenizer_open (sqlite3 *db, fts5_tokenizer *api, Fts5Tokenizer **out)
{
    fts5_api *fts = NULL;
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2 (db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_pointer (st, 1, (void *) &fts, "fts5_api_ptr", NULL);
    sqlite3_step (st);
    sqlite3_finalize (st);
    if (!fts || fts->iVersion < 2)
        return -1;
    void *ud = NULL;
    if (fts->xFindTokenizer (fts, "porter", &ud, api) != SQLITE_OK)
        return -1;
    const char *args[] = {"unicode61", "remove_diacritics", "2"};
    if (api->xCreate (ud, args, 3, out) != SQLITE_OK) {
        *out = NULL;
        return -1;
    }
    return 0;
}

static int
s_info_get (sqlite3 *db, const char *key, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = RT_E_FORMAT;
    if (sqlite3_prepare_v2 (db, "SELECT value FROM info WHERE key = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step (st) == SQLITE_ROW) {
            const unsigned char *v = sqlite3_column_text (st, 0);
            str_copy (out, size, v ? (const char *) v : "");
            rc = RT_OK;
        }
    }
    sqlite3_finalize (st);
    return rc;
}

rt_index_t *
rt_index_open (const char *dir, const rt_config_t *cfg_in)
{
    rt_config_t defcfg;
    if (!cfg_in) {
        rt_config_defaults (&defcfg);
        cfg_in = &defcfg;
    }
    const rt_config_t *cfg = cfg_in;
    if (!dir) {
        rt__fail (RT_E_ARG, "rt_index_open: NULL directory");
        return NULL;
    }
    rt_index_t *self = calloc (1, sizeof *self);
    if (!self) {
        rt__fail (RT_E_NOMEM, "out of memory");
        return NULL;
    }
    self->rrf_k = cfg->rrf_k > 0 ? cfg->rrf_k : 60;
    /* One FAISS (OpenMP) thread per process unless configured otherwise:
     * single-query searches gain nothing from a team, and several replicas
     * on one host would otherwise spin against each other. */
    vs_set_threads (cfg->threads > 0 ? cfg->threads : 1);
    char path[4096], uri[4200], val[256];
    str_fmt (path, sizeof path, "%s/meta.sqlite", dir);
    if (!s_exists (path)) {
        rt__fail (RT_E_NOTFOUND, "no index in %s (meta.sqlite missing); build one with: copilot index --out %s",
                  dir, dir);
        goto fail;
    }
    str_fmt (uri, sizeof uri, "file:%s?immutable=1", path);
    if (sqlite3_open_v2 (uri, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        rt__fail (RT_E_DB, "cannot open %s: %s", path, self->db ? sqlite3_errmsg (self->db) : "out of memory");
        goto fail;
    }
    if (s_info_get (self->db, "format", val, sizeof val) != RT_OK || strcmp (val, RT_FORMAT) != 0) {
        rt__fail (RT_E_FORMAT, "%s: not a %s index (format '%s'); rebuild it", dir, RT_FORMAT, val);
        goto fail;
    }
    s_info_get (self->db, "embedder", self->embedder, sizeof self->embedder);
    s_info_get (self->db, "index_version", self->version, sizeof self->version);
    if (s_info_get (self->db, "data_version", self->data_version, sizeof self->data_version) != RT_OK)
        self->data_version[0] = '\0';
    if (s_info_get (self->db, "db_path", self->db_path, sizeof self->db_path) != RT_OK)
        self->db_path[0] = '\0';
    s_info_get (self->db, "dim", val, sizeof val);
    if (str_to_int (val, 1, 65536, &self->dim) != 0) {
        rt__fail (RT_E_FORMAT, "%s: bad dim '%s' in index info", dir, val);
        goto fail;
    }
    /* embedder identity and dimension must match the configuration */
    bool want_openai = strcmp (cfg->embedder, "openai") == 0;
    bool is_openai = str_starts_with (self->embedder, "openai:");
    if (want_openai != is_openai || (!is_openai && strcmp (self->embedder, "lsa") != 0)) {
        rt__fail (RT_E_DIM, "index %s was built with embedder '%s' but retrieval.embedder is '%s'; "
                  "rebuild the index or change the configuration", dir, self->embedder, cfg->embedder);
        goto fail;
    }
    if (cfg->dim > 0 && cfg->dim != self->dim) {
        rt__fail (RT_E_DIM, "index %s has dimension %d (embedder %s) but retrieval.dim is %d; "
                  "rebuild the index or change the configuration", dir, self->dim, self->embedder, cfg->dim);
        goto fail;
    }
    if (is_openai) {
        if (strcmp (self->embedder + 7, cfg->openai_model) != 0) {
            rt__fail (RT_E_DIM, "index %s was built with model %s but retrieval.openai.model is %s", dir,
                      self->embedder + 7, cfg->openai_model);
            goto fail;
        }
        rt_openai_opts_t o = {.base_url = cfg->openai_base_url, .api_key = cfg->openai_api_key,
                              .model = cfg->openai_model, .dim = self->dim,
                              .timeout_ms = cfg->openai_timeout_ms, .max_retries = cfg->openai_max_retries};
        self->emb = rt_embedder_openai_new (&o);
    } else {
        str_fmt (path, sizeof path, "%s/embedder.lsa", dir);
        self->emb = rt_embedder_lsa_load (path);
        if (self->emb && rt_embedder_dim (self->emb) != self->dim) {
            rt__fail (RT_E_DIM, "%s: embedder.lsa has dimension %d, index info says %d", dir,
                      rt_embedder_dim (self->emb), self->dim);
            goto fail;
        }
    }
    if (!self->emb)
        goto fail;
    for (int c = 0; c < 3; c++) {
        str_fmt (path, sizeof path, "%s/%s.faiss", dir, rt__corpus_names[c]);
        self->vix[c] = vs_read (path);
        if (!self->vix[c]) {
            rt__fail (RT_E_FAISS, "cannot read %s: %s", path, vs_last_error ());
            goto fail;
        }
        if (vs_dim (self->vix[c]) != self->dim) {
            rt__fail (RT_E_DIM, "%s has dimension %d, index info says %d", path, vs_dim (self->vix[c]), self->dim);
            goto fail;
        }
        if (vs_is_hnsw (self->vix[c]))
            vs_set_hnsw_ef (self->vix[c], cfg->ef_search > 0 ? cfg->ef_search : 64, 0);
        self->counts[c] = (size_t) vs_ntotal (self->vix[c]);
    }
    /* id -> doc_id and corpus, for deterministic tie-breaks */
    {
        sqlite3_stmt *st = NULL;
        sqlite3_int64 maxid = 0;
        if (sqlite3_prepare_v2 (self->db, "SELECT COALESCE(MAX(id), 0) FROM docs", -1, &st, NULL) == SQLITE_OK
            && sqlite3_step (st) == SQLITE_ROW)
            maxid = sqlite3_column_int64 (st, 0);
        sqlite3_finalize (st);
        st = NULL;
        self->ndocs = maxid;
        self->doc_ids = calloc ((size_t) maxid + 1, sizeof *self->doc_ids);
        self->corpus_of = calloc ((size_t) maxid + 1, 1);
        if (!self->doc_ids || !self->corpus_of) {
            rt__fail (RT_E_NOMEM, "out of memory");
            goto fail;
        }
        if (sqlite3_prepare_v2 (self->db, "SELECT id, doc_id, corpus FROM docs ORDER BY id", -1, &st, NULL)
            != SQLITE_OK) {
            rt__fail (RT_E_DB, "%s: %s", dir, sqlite3_errmsg (self->db));
            goto fail;
        }
        while (sqlite3_step (st) == SQLITE_ROW) {
            sqlite3_int64 id = sqlite3_column_int64 (st, 0);
            if (id < 1 || id > maxid)
                continue;
            self->doc_ids[id - 1] = str_dup ((const char *) sqlite3_column_text (st, 1));
            int c = rt__corpus_index ((const char *) sqlite3_column_text (st, 2));
            self->corpus_of[id - 1] = (unsigned char) (c < 0 ? 255 : c);
        }
        sqlite3_finalize (st);
        for (sqlite3_int64 i = 0; i < maxid; i++)
            if (!self->doc_ids[i]) {
                rt__fail (RT_E_FORMAT, "%s: document ids are not contiguous", dir);
                goto fail;
            }
        for (int c = 0; c < 3; c++) {
            self->lo[c] = 1; /* empty corpus: an empty range */
            self->hi[c] = 0;
        }
        for (sqlite3_int64 i = maxid; i >= 1; i--) {
            int c = self->corpus_of[i - 1];
            if (c < 3) {
                self->lo[c] = i;
                if (self->hi[c] < i)
                    self->hi[c] = i;
            }
        }
        for (sqlite3_int64 i = 1; i <= maxid; i++) {
            int c = self->corpus_of[i - 1];
            if (c > 2 || i < self->lo[c] || i > self->hi[c]) {
                rt__fail (RT_E_FORMAT, "%s: corpus id ranges overlap; rebuild the index", dir);
                goto fail;
            }
        }
    }
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT doc_id, corpus, type, title, url, anchor, text, entity_ids, source_file,"
                            " meta_json FROM docs WHERE id = ?1",
                            -1, &self->st_doc, NULL)
            != SQLITE_OK
        || sqlite3_prepare_v2 (self->db,
                               "SELECT rowid, rank FROM docs_fts WHERE docs_fts MATCH ?1 "
                               "AND rowid BETWEEN ?2 AND ?3 ORDER BY rank, rowid LIMIT ?4",
                               -1, &self->st_fts, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v2 (self->db,
                               "SELECT rowid, rank FROM docs_fts WHERE docs_fts MATCH ?1 "
                               "AND rowid BETWEEN ?2 AND ?3 AND rowid IN (SELECT id FROM doc_entity "
                               "WHERE entity_id IN (SELECT value FROM json_each(?5))) "
                               "ORDER BY rank, rowid LIMIT ?4",
                               -1, &self->st_fts_ent, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v2 (self->db,
                               "SELECT DISTINCT e.id FROM doc_entity e JOIN docs d ON d.id = e.id "
                               "WHERE e.entity_id IN (SELECT value FROM json_each(?1)) "
                               "AND (?2 = '' OR d.corpus = ?2) ORDER BY e.id LIMIT ?3",
                               -1, &self->st_cand, NULL)
               != SQLITE_OK
        || sqlite3_prepare_v2 (self->db, "SELECT id, corpus FROM docs WHERE doc_id = ?1", -1, &self->st_byid, NULL)
               != SQLITE_OK) {
        rt__fail (RT_E_DB, "%s: %s", dir, sqlite3_errmsg (self->db));
        goto fail;
    }
    /* keyword pruning: only for large indexes that carry term_df */
    if (cfg->keyword_max_df < 1.0 && self->ndocs >= (sqlite3_int64) cfg->keyword_prune_min_docs
        && sqlite3_prepare_v2 (self->db, "SELECT df FROM term_df WHERE term = ?1", -1, &self->st_df, NULL)
               == SQLITE_OK) {
        if (s_tokenizer_open (self->db, &self->tok_api, &self->tok) != 0) {
            rt__fail (RT_E_DB, "%s: FTS5 porter tokenizer unavailable", dir);
            goto fail;
        }
        self->max_df = cfg->keyword_max_df * (double) self->ndocs;
    }
    str_copy (self->embedder, sizeof self->embedder, rt_embedder_name (self->emb));
    rt__clear_error ();
    return self;
fail:
    rt_index_destroy (&self);
    return NULL;
}

void
rt_index_destroy (rt_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_index_t *self = *self_p;
    sqlite3_finalize (self->st_doc);
    sqlite3_finalize (self->st_fts);
    sqlite3_finalize (self->st_fts_ent);
    sqlite3_finalize (self->st_cand);
    sqlite3_finalize (self->st_byid);
    sqlite3_finalize (self->st_df);
    if (self->tok)
        self->tok_api.xDelete (self->tok);
    sqlite3_close_v2 (self->db);
    for (int c = 0; c < 3; c++)
        vs_destroy (&self->vix[c]);
    rt_embedder_destroy (&self->emb);
    if (self->doc_ids)
        for (sqlite3_int64 i = 0; i < self->ndocs; i++)
            free (self->doc_ids[i]);
    free (self->doc_ids);
    free (self->corpus_of);
    free (self);
    *self_p = NULL;
}

const char *
rt_index_version (const rt_index_t *self)
{
    return self ? self->version : "";
}

const char *
rt_index_data_version (const rt_index_t *self)
{
    return self ? self->data_version : "";
}

const char *
rt_index_db_path (const rt_index_t *self)
{
    return self ? self->db_path : "";
}

const char *
rt_index_embedder (const rt_index_t *self)
{
    return self ? self->embedder : "";
}

int
rt_index_dim (const rt_index_t *self)
{
    return self ? self->dim : 0;
}

size_t
rt_index_count (const rt_index_t *self, const char *corpus)
{
    int c = rt__corpus_index (corpus);
    return (self && c >= 0) ? self->counts[c] : 0;
}

void
rt_index_set_ef_search (rt_index_t *self, int ef_search)
{
    if (!self)
        return;
    for (int c = 0; c < 3; c++)
        if (vs_is_hnsw (self->vix[c]))
            vs_set_hnsw_ef (self->vix[c], ef_search, 0);
}

int
rt_mode_parse (const char *text, rt_mode_t *out)
{
    if (!text || !*text || strcmp (text, "hybrid") == 0)
        *out = RT_MODE_HYBRID;
    else if (strcmp (text, "vector") == 0)
        *out = RT_MODE_VECTOR;
    else if (strcmp (text, "keyword") == 0)
        *out = RT_MODE_KEYWORD;
    else
        return rt__fail (RT_E_ARG, "mode '%s': expected hybrid, vector or keyword", text);
    return RT_OK;
}

/* ------------------------------------------------------------------------ */
/* search                                                                    */

struct _rt_result_t {
    rt_hit_t *hits;
    size_t n;
    rt_docset_t *docs;
};

typedef struct {
    int64_t id;
    double score;
} s_scored_t;

typedef struct {
    int64_t id;
    int vrank, krank;
    double vscore, bm25, fused;
    int idrank;
} s_cand_t;

static _Thread_local const rt_index_t *s_sort_ix; /* qsort comparator context */

static int
s_by_id_tiebreak (const rt_index_t *ix, int64_t a, int64_t b)
{
    return strcmp (ix->doc_ids[a - 1], ix->doc_ids[b - 1]);
}

static int
s_scored_cmp (const void *pa, const void *pb)
{
    const s_scored_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return s_by_id_tiebreak (s_sort_ix, a->id, b->id);
}

/* Explicit node-id references first (in query order), then by score. */
static int
s_cand_cmp (const void *pa, const void *pb)
{
    const s_cand_t *a = pa, *b = pb;
    if ((a->idrank > 0) != (b->idrank > 0))
        return a->idrank > 0 ? -1 : 1;
    if (a->idrank != b->idrank)
        return a->idrank < b->idrank ? -1 : 1;
    if (a->fused != b->fused)
        return a->fused > b->fused ? -1 : 1;
    return s_by_id_tiebreak (s_sort_ix, a->id, b->id);
}

static int
s_i64_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

typedef struct {
    rt_index_t *self;
    sqlite3_int64 df;  /* largest document frequency among the tokens */
} dfctx_t;

static int
s_df_token (void *arg, int tflags, const char *tok, int ntok, int start, int end)
{
    (void) tflags;
    (void) start;
    (void) end;
    dfctx_t *cx = arg;
    sqlite3_stmt *st = cx->self->st_df;
    sqlite3_reset (st);
    sqlite3_bind_text (st, 1, tok, ntok, SQLITE_TRANSIENT);
    if (sqlite3_step (st) == SQLITE_ROW) {
        sqlite3_int64 df = sqlite3_column_int64 (st, 0);
        if (df > cx->df)
            cx->df = df;
    }
    sqlite3_reset (st);
    return SQLITE_OK;
}

/* True when pruning is on and `term` (one letters/digits run) is indexed
 * in more than max_df documents. */
static bool
s_term_common (rt_index_t *self, const char *term)
{
    if (!self->st_df || !self->tok)
        return false;
    dfctx_t cx = {self, 0};
    if (self->tok_api.xTokenize (self->tok, &cx, FTS5_TOKENIZE_QUERY, term, (int) strlen (term), s_df_token)
        != SQLITE_OK)
        return false;
    return (double) cx.df > self->max_df;
}

/* FTS5 query: the query's terms (letters/digits runs), quoted, OR-ed;
 * stop words and (large indexes) common terms left out. */
static int
s_fts_query (rt_index_t *self, const char *q, buf_t *out)
{
    static const char *const stop[] = {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from",
                                       "how", "i", "in", "is", "it", "of", "on", "or", "the", "to",
                                       "what", "which", "why", "with", "my", "do", "does", "me", NULL};
    rt_strv_t terms = {0};
    int rc = RT_OK;
    const char *p = q;
    while (*p && rc == RT_OK) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
                       || (unsigned char) *p >= 0x80))
            p++;
        const char *s = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
               || (unsigned char) *p >= 0x80)
            p++;
        if (p > s && p - s < 64) {
            char t[64];
            size_t l = (size_t) (p - s);
            for (size_t i = 0; i < l; i++)
                t[i] = (char) ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
            t[l] = '\0';
            bool skip = false;
            for (int i = 0; stop[i]; i++)
                if (strcmp (stop[i], t) == 0)
                    skip = true;
            if (!skip && terms.n < 64 && !s_term_common (self, t))
                rc = rt__strv_push_unique (&terms, t);
        }
    }
    for (size_t i = 0; i < terms.n && rc == RT_OK; i++)
        if (buf_printf (out, "%s\"%s\"", i ? " OR " : "", terms.v[i]) != 0)
            rc = rt__fail (RT_E_TOOBIG, "query too long");
    rt__strv_free (&terms);
    return rc;
}

/* Node ids written verbatim in the query ("why did job::J-FIN-DAILY fail")
 * that name a document of the searched corpora, in order of appearance,
 * respecting the entity filter. They form a third ranked list: an explicit
 * reference beats any similarity. */
static int
s_id_list (rt_index_t *self, const char *q, const char *corpus, const int64_t *cands, size_t ncands,
           bool filtered, s_scored_t *out, size_t max, size_t *n)
{
    *n = 0;
    const char *p = q;
    while ((p = strstr (p, "::")) != NULL && *n < max) {
        const char *a = p, *b = p + 2;
        while (a > q && ((*(a - 1) >= 'a' && *(a - 1) <= 'z')))
            a--;
        while (*b && *b != ' ' && *b != '\t' && *b != '\n' && *b != ',' && *b != ';' && *b != '"'
               && *b != '\'' && *b != ')' && *b != '(' && *b != '[' && *b != ']')
            b++;
        while (b > p + 2 && (*(b - 1) == '.' || *(b - 1) == ':' || *(b - 1) == '?' || *(b - 1) == '!'))
            b--;
        p += 2;
        if (a == p - 2 || b == p || b - a > 400)
            continue;
        sqlite3_stmt *st = self->st_byid;
        sqlite3_reset (st);
        sqlite3_bind_text (st, 1, a, (int) (b - a), SQLITE_STATIC);
        if (sqlite3_step (st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64 (st, 0);
            const char *c = (const char *) sqlite3_column_text (st, 1);
            bool ok = (!*corpus || (c && strcmp (c, corpus) == 0))
                      && (!filtered || bsearch (&id, cands, ncands, sizeof *cands, s_i64_cmp));
            for (size_t i = 0; ok && i < *n; i++)
                if (out[i].id == id)
                    ok = false;
            if (ok) {
                out[*n] = (s_scored_t){id, 1.0};
                (*n)++;
            }
        }
        sqlite3_reset (st);
    }
    return RT_OK;
}

static int
s_load_hit_doc (rt_index_t *self, int64_t id, rt_docset_t *docs)
{
    sqlite3_stmt *st = self->st_doc;
    sqlite3_reset (st);
    sqlite3_bind_int64 (st, 1, id);
    if (sqlite3_step (st) != SQLITE_ROW)
        return rt__fail (RT_E_DB, "document %lld missing from index metadata", (long long) id);
    const char *f[10];
    for (int i = 0; i < 10; i++) {
        const unsigned char *t = sqlite3_column_text (st, i);
        f[i] = t ? (const char *) t : "";
    }
    rt_doc_t d = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]};
    int rc = rt_docset_add (docs, &d);
    sqlite3_reset (st);
    return rc;
}

int
rt_index_search (rt_index_t *self, const rt_query_t *q, rt_result_t **out)
{
    if (!self || !q || !out)
        return rt__fail (RT_E_ARG, "rt_index_search: NULL argument");
    *out = NULL;
    if (q->k < 1 || q->k > 100)
        return rt__fail (RT_E_ARG, "k=%d: expected 1..100", q->k);
    if (!q->query || !*q->query)
        return rt__fail (RT_E_ARG, "empty query");
    if (strlen (q->query) > 8192)
        return rt__fail (RT_E_TOOBIG, "query longer than 8192 bytes");
    const char *corpus = q->corpus ? q->corpus : "";
    int only = -1;
    if (*corpus) {
        only = rt__corpus_index (corpus);
        if (only < 0)
            return rt__fail (RT_E_NOTFOUND, "unknown corpus '%s': expected telemetry, docs or runbooks", corpus);
    }
    if (q->n_entity_ids > RT_MAX_FILTER_IDS)
        return rt__fail (RT_E_TOOBIG, "%zu entity ids: at most %d", q->n_entity_ids, RT_MAX_FILTER_IDS);
    size_t depth = (size_t) q->k * 5 < 50 ? 50 : (size_t) q->k * 5;

    int rc = RT_OK;
    char *filter_json = NULL;
    int64_t *cands = NULL;
    size_t ncands = 0;
    bool filtered = q->n_entity_ids > 0;
    s_scored_t *vlist = NULL, *klist = NULL, idlist[16];
    size_t nv = 0, nk = 0, ni = 0;
    float *qv = NULL, *rv = NULL;
    s_cand_t *all = NULL;
    buf_t *fq = NULL;
    rt_result_t *res = NULL;

    /* entity filter -> JSON array for SQL, candidate id list */
    if (filtered) {
        buf_t *b = buf_new ((size_t) 1 << 20);
        if (!b)
            return rt__fail (RT_E_NOMEM, "out of memory");
        int e = buf_puts (b, "[");
        for (size_t i = 0; i < q->n_entity_ids; i++) {
            if (i)
                e |= buf_puts (b, ",");
            e |= buf_json_str (b, q->entity_ids[i] ? q->entity_ids[i] : "");
        }
        e |= buf_puts (b, "]");
        filter_json = e ? NULL : buf_detach (b);
        buf_destroy (&b);
        if (!filter_json)
            return rt__fail (RT_E_TOOBIG, "entity id filter too large");
        sqlite3_stmt *st = self->st_cand;
        sqlite3_reset (st);
        sqlite3_bind_text (st, 1, filter_json, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 2, corpus, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (st, 3, RT_MAX_EXACT_CANDIDATES + 1);
        size_t cap = 256;
        cands = malloc (cap * sizeof *cands);
        int s;
        while (cands && (s = sqlite3_step (st)) == SQLITE_ROW) {
            if (ncands == cap) {
                cap *= 2;
                int64_t *nc = realloc (cands, cap * sizeof *nc);
                if (!nc) {
                    free (cands);
                    cands = NULL;
                    break;
                }
                cands = nc;
            }
            cands[ncands++] = sqlite3_column_int64 (st, 0);
        }
        sqlite3_reset (st);
        if (!cands) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        if (ncands == 0)
            goto assemble; /* nothing matches the filter */
    }

    /* vector list */
    if (q->mode != RT_MODE_KEYWORD) {
        int dim = self->dim;
        qv = malloc ((size_t) dim * sizeof *qv);
        rv = malloc ((size_t) dim * sizeof *rv);
        if (!qv || !rv) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        const char *texts[1] = {q->query};
        if ((rc = rt_embedder_embed (self->emb, texts, 1, qv)) < 0)
            goto done;
        double qn = 0;
        for (int d = 0; d < dim; d++)
            qn += (double) qv[d] * qv[d];
        if (qn > 0) {
            if (filtered && ncands <= RT_MAX_EXACT_CANDIDATES) {
                /* exact re-scoring of the filtered candidates */
                vlist = malloc (ncands * sizeof *vlist);
                if (!vlist) {
                    rc = rt__fail (RT_E_NOMEM, "out of memory");
                    goto done;
                }
                for (size_t i = 0; i < ncands; i++) {
                    int64_t id = cands[i];
                    int c = self->corpus_of[id - 1];
                    if (c > 2 || vs_reconstruct (self->vix[c], id, rv) != VS_OK)
                        continue;
                    double s = 0;
                    for (int d = 0; d < dim; d++)
                        s += (double) qv[d] * rv[d];
                    vlist[nv++] = (s_scored_t){id, (double) (float) s};
                }
            } else {
                size_t want = filtered ? 10000 : depth;
                size_t capv = 0;
                for (int c = 0; c < 3; c++)
                    if (only < 0 || only == c)
                        capv += want < self->counts[c] ? want : self->counts[c];
                vlist = malloc ((capv ? capv : 1) * sizeof *vlist);
                float *sc = malloc ((want ? want : 1) * sizeof *sc);
                int64_t *lab = malloc ((want ? want : 1) * sizeof *lab);
                if (!vlist || !sc || !lab) {
                    free (sc);
                    free (lab);
                    rc = rt__fail (RT_E_NOMEM, "out of memory");
                    goto done;
                }
                for (int c = 0; c < 3 && rc == RT_OK; c++) {
                    if ((only >= 0 && only != c) || self->counts[c] == 0)
                        continue;
                    int kk = (int) (want < self->counts[c] ? want : self->counts[c]);
                    if (vs_search (self->vix[c], 1, qv, kk, sc, lab) != VS_OK) {
                        rc = rt__fail (RT_E_FAISS, "vector search: %s", vs_last_error ());
                        break;
                    }
                    for (int i = 0; i < kk; i++) {
                        if (lab[i] < 1 || lab[i] > self->ndocs)
                            continue;
                        if (filtered && !bsearch (&lab[i], cands, ncands, sizeof *cands, s_i64_cmp))
                            continue;
                        vlist[nv++] = (s_scored_t){lab[i], (double) sc[i]};
                    }
                }
                free (sc);
                free (lab);
                if (rc < 0)
                    goto done;
            }
            s_sort_ix = self;
            qsort (vlist, nv, sizeof *vlist, s_scored_cmp);
            if (nv > depth)
                nv = depth;
        }
    }

    /* keyword list */
    if (q->mode != RT_MODE_VECTOR) {
        fq = buf_new (16384);
        if (!fq) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            goto done;
        }
        if ((rc = s_fts_query (self, q->query, fq)) < 0)
            goto done;
        if (buf_len (fq) > 0) {
            klist = malloc (depth * sizeof *klist);
            if (!klist) {
                rc = rt__fail (RT_E_NOMEM, "out of memory");
                goto done;
            }
            sqlite3_stmt *st = filter_json ? self->st_fts_ent : self->st_fts;
            sqlite3_reset (st);
            sqlite3_bind_text (st, 1, buf_data (fq), -1, SQLITE_STATIC);
            sqlite3_bind_int64 (st, 2, only >= 0 ? self->lo[only] : 1);
            sqlite3_bind_int64 (st, 3, only >= 0 ? self->hi[only] : self->ndocs);
            sqlite3_bind_int64 (st, 4, (sqlite3_int64) depth);
            if (filter_json)
                sqlite3_bind_text (st, 5, filter_json, -1, SQLITE_STATIC);
            int s;
            while ((s = sqlite3_step (st)) == SQLITE_ROW && nk < depth) {
                int64_t id = sqlite3_column_int64 (st, 0);
                if (id < 1 || id > self->ndocs)
                    continue;
                klist[nk++] = (s_scored_t){id, -sqlite3_column_double (st, 1)};
            }
            if (s != SQLITE_ROW && s != SQLITE_DONE)
                rc = rt__fail (RT_E_DB, "keyword search: %s", sqlite3_errmsg (self->db));
            sqlite3_reset (st);
            if (rc < 0)
                goto done;
            /* SQLite ordered by (bm25, doc_id); re-sort with our comparator
             * so equal scores tie-break identically to the vector list */
            s_sort_ix = self;
            qsort (klist, nk, sizeof *klist, s_scored_cmp);
        }
    }

    /* explicit node ids in the query */
    if (q->mode != RT_MODE_VECTOR)
        s_id_list (self, q->query, corpus, cands, ncands, filtered, idlist, 16, &ni);

assemble:
    /* fuse */
    all = malloc ((nv + nk + ni + 1) * sizeof *all);
    if (!all) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    size_t na = 0;
    for (size_t i = 0; i < nv; i++)
        all[na++] = (s_cand_t){vlist[i].id, (int) i + 1, 0, vlist[i].score, 0, 0, 0};
    for (size_t i = 0; i < nk; i++) {
        size_t j = 0;
        while (j < na && all[j].id != klist[i].id)
            j++;
        if (j == na)
            all[na++] = (s_cand_t){klist[i].id, 0, 0, 0, 0, 0, 0};
        all[j].krank = (int) i + 1;
        all[j].bm25 = -klist[i].score;
    }
    for (size_t i = 0; i < ni; i++) {
        size_t j = 0;
        while (j < na && all[j].id != idlist[i].id)
            j++;
        if (j == na)
            all[na++] = (s_cand_t){idlist[i].id, 0, 0, 0, 0, 0, 0};
        all[j].idrank = (int) i + 1;
    }
    for (size_t i = 0; i < na; i++) {
        s_cand_t *c = &all[i];
        if (q->mode == RT_MODE_VECTOR)
            c->fused = c->vscore;
        else if (q->mode == RT_MODE_KEYWORD)
            c->fused = -c->bm25;
        else
            c->fused = (c->vrank ? 1.0 / (double) (self->rrf_k + c->vrank) : 0.0)
                       + (c->krank ? 1.0 / (double) (self->rrf_k + c->krank) : 0.0)
                       + (c->idrank ? 1.0 / (double) (self->rrf_k + c->idrank) : 0.0);
    }
    s_sort_ix = self;
    qsort (all, na, sizeof *all, s_cand_cmp);
    if (na > (size_t) q->k)
        na = (size_t) q->k;

    res = calloc (1, sizeof *res);
    if (!res || !(res->docs = rt_docset_new ()) || !(res->hits = calloc (na ? na : 1, sizeof *res->hits))) {
        rc = rt__fail (RT_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < na; i++)
        if ((rc = s_load_hit_doc (self, all[i].id, res->docs)) < 0)
            goto done;
    for (size_t i = 0; i < na; i++) {
        rt_hit_t *h = &res->hits[i];
        h->doc = rt_docset_get (res->docs, i);
        h->score = all[i].fused;
        h->vector_rank = all[i].vrank;
        h->keyword_rank = all[i].krank;
        h->vector_score = all[i].vscore;
        h->bm25 = all[i].bm25;
    }
    res->n = na;
    *out = res;
    res = NULL;
    rc = RT_OK;
done:
    rt_result_destroy (&res);
    free (filter_json);
    free (cands);
    free (vlist);
    free (klist);
    free (qv);
    free (rv);
    free (all);
    buf_destroy (&fq);
    return rc;
}

size_t
rt_result_count (const rt_result_t *self)
{
    return self ? self->n : 0;
}

const rt_hit_t *
rt_result_hit (const rt_result_t *self, size_t i)
{
    return (self && i < self->n) ? &self->hits[i] : NULL;
}

void
rt_result_destroy (rt_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_docset_destroy (&(*self_p)->docs);
    free ((*self_p)->hits);
    free (*self_p);
    *self_p = NULL;
}
