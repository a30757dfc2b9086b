/* lg_cache.c — response cache and accounting ledger in SQLite (db.h).
 *
 * Schema (created on open, idempotent; `meta.schema` = 1):
 *   cache(key PK, provider, model, text, tokens_in, tokens_out, cost_usd,
 *         created_ms, hits, last_hit_ms)
 *   answers(id PK, ts_ms, request_id, provider, model, outcome, tokens_in,
 *           tokens_out, tokens_estimated, latency_ms, cost_usd, cached,
 *           fallback, attempts, ungrounded, cache_key)
 * The file is the service's own (never the telemetry DB). Statements use
 * bound parameters and the db.h statement cache. One connection, one mutex:
 * cache traffic is tiny next to a provider round trip.
 */
#include "lg_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "db.h"
#include "lg_error.h"
#include "str.h"

struct _lg_cache_t {
    pthread_mutex_t mu;
    db_t *db;
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '1');"
    "CREATE TABLE IF NOT EXISTS cache("
    " key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,"
    " tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, cost_usd REAL NOT NULL,"
    " created_ms INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0, last_hit_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS answers("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, request_id TEXT, provider TEXT NOT NULL,"
    " model TEXT NOT NULL, outcome TEXT NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,"
    " tokens_estimated INTEGER NOT NULL, latency_ms INTEGER NOT NULL, cost_usd REAL NOT NULL,"
    " cached INTEGER NOT NULL, fallback INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    " ungrounded INTEGER NOT NULL, cache_key TEXT);"
    "CREATE INDEX IF NOT EXISTS answers_ts ON answers(ts_ms);";

/* mkdir -p for the parent directory of `path`. */
static int
s_mkdirs (const char *path)
{
    char dir[1024];
    if (str_copy (dir, sizeof dir, path) != 0)
        return -1;
    char *slash = strrchr (dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir (dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

lg_cache_t *
lg_cache_open (const char *path, char *err, size_t errsize)
{
    if (s_mkdirs (path) != 0) {
        snprintf (err, errsize, "%s: cannot create the parent directory: %s", path, strerror (errno));
        return NULL;
    }
    const char *why = NULL;
    db_t *db = db_open (path, DB_CREATE, 2000, &why);
    if (db == NULL) {
        snprintf (err, errsize, "%s: %s", path, why ? why : "cannot open");
        return NULL;
    }
    if (db_exec (db, s_schema) != 0) {
        snprintf (err, errsize, "%s: schema: %s", path, db_errmsg (db));
        db_close (&db);
        return NULL;
    }
    lg_cache_t *self = calloc (1, sizeof *self);
    if (self == NULL) {
        snprintf (err, errsize, "out of memory");
        db_close (&db);
        return NULL;
    }
    pthread_mutex_init (&self->mu, NULL);
    self->db = db;
    return self;
}

void
lg_cache_close (lg_cache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    db_close (&(*self_p)->db);
    pthread_mutex_destroy (&(*self_p)->mu);
    free (*self_p);
    *self_p = NULL;
}

static void
s_field (buf_t *b, const char *s)
{
    if (s == NULL)
        s = "";
    buf_printf (b, "%zu:", strlen (s));
    buf_puts (b, s);
    buf_puts (b, ";");
}

void
lg_cache_key (const char *provider, const char *base_url, const char *model, double temperature,
              uint32_t max_tokens, const char *system_prompt, const char *prompt, char out[65])
{
    size_t need = 256 + (provider ? strlen (provider) : 0) + (base_url ? strlen (base_url) : 0)
                  + (model ? strlen (model) : 0) + (system_prompt ? strlen (system_prompt) : 0)
                  + (prompt ? strlen (prompt) : 0);
    buf_t *b = buf_new (need);
    if (b == NULL) {
        /* Without memory we cannot hash; an all-zero key never matches a
         * stored entry because puts are skipped for it (see lg_gateway). */
        memset (out, '0', 64);
        out[64] = '\0';
        return;
    }
    char t[32];
    snprintf (t, sizeof t, "%.4f", temperature);
    char mt[16];
    snprintf (mt, sizeof mt, "%u", max_tokens);
    s_field (b, "lg-cache-v1");
    s_field (b, provider);
    s_field (b, base_url);
    s_field (b, model);
    s_field (b, t);
    s_field (b, mt);
    s_field (b, system_prompt);
    s_field (b, prompt);
    str_sha256_hex (buf_data (b), buf_len (b), out);
    buf_destroy (&b);
}

static char *
s_col_dup (sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text (st, i);
    return str_dup (t ? (const char *) t : "");
}

int
lg_cache_get (lg_cache_t *self, const char *key, int64_t ttl_s, int64_t now_ms, lg_cache_entry_t *out)
{
    memset (out, 0, sizeof *out);
    int rc = 0;
    pthread_mutex_lock (&self->mu);
    sqlite3_stmt *st = db_prepare (self->db, "SELECT text, model, tokens_in, tokens_out, cost_usd, created_ms, "
                                             "hits FROM cache WHERE key = ?1");
    if (st == NULL) {
        rc = LG_E_DB;
        goto done;
    }
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step (st);
    if (s == SQLITE_DONE)
        goto done;
    if (s != SQLITE_ROW) {
        db_fail (self->db, s);
        rc = LG_E_DB;
        goto done;
    }
    int64_t created = sqlite3_column_int64 (st, 5);
    if (ttl_s > 0 && now_ms - created > ttl_s * 1000) {
        sqlite3_reset (st);
        goto done;
    }
    out->text = s_col_dup (st, 0);
    out->model = s_col_dup (st, 1);
    out->tokens_in = (uint32_t) sqlite3_column_int64 (st, 2);
    out->tokens_out = (uint32_t) sqlite3_column_int64 (st, 3);
    out->cost_usd = sqlite3_column_double (st, 4);
    out->created_ms = created;
    out->hits = sqlite3_column_int64 (st, 6);
    sqlite3_reset (st);
    if (out->text == NULL || out->model == NULL) {
        lg_cache_entry_clear (out);
        rc = LG_E_NOMEM;
        goto done;
    }
    st = db_prepare (self->db, "UPDATE cache SET hits = hits + 1, last_hit_ms = ?2 WHERE key = ?1");
    if (st) {
        sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (st, 2, now_ms);
        s = sqlite3_step (st);
        sqlite3_reset (st);
    }
    rc = 1;
done:
    pthread_mutex_unlock (&self->mu);
    return rc;
}

int
lg_cache_put (lg_cache_t *self, const char *key, const char *provider, const lg_cache_entry_t *e)
{
    int rc = 0;
    pthread_mutex_lock (&self->mu);
    sqlite3_stmt *st = db_prepare (self->db,
                                   "INSERT OR REPLACE INTO cache(key, provider, model, text, tokens_in, tokens_out, "
                                   "cost_usd, created_ms, hits) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)");
    if (st == NULL) {
        rc = LG_E_DB;
        goto done;
    }
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, provider ? provider : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, e->model ? e->model : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 4, e->text ? e->text : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 5, e->tokens_in);
    sqlite3_bind_int64 (st, 6, e->tokens_out);
    sqlite3_bind_double (st, 7, e->cost_usd);
    sqlite3_bind_int64 (st, 8, e->created_ms);
    int s = sqlite3_step (st);
    if (s != SQLITE_DONE) {
        db_fail (self->db, s);
        rc = LG_E_DB;
    }
    sqlite3_reset (st);
done:
    pthread_mutex_unlock (&self->mu);
    return rc;
}

void
lg_cache_entry_clear (lg_cache_entry_t *e)
{
    if (e == NULL)
        return;
    free (e->text);
    free (e->model);
    memset (e, 0, sizeof *e);
}

int
lg_cache_account (lg_cache_t *self, const lg_account_t *a)
{
    int rc = 0;
    pthread_mutex_lock (&self->mu);
    sqlite3_stmt *st = db_prepare (
        self->db, "INSERT INTO answers(ts_ms, request_id, provider, model, outcome, tokens_in, tokens_out, "
                  "tokens_estimated, latency_ms, cost_usd, cached, fallback, attempts, ungrounded, cache_key) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
    if (st == NULL) {
        rc = LG_E_DB;
        goto done;
    }
    sqlite3_bind_int64 (st, 1, a->ts_ms);
    sqlite3_bind_text (st, 2, a->request_id ? a->request_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, a->provider ? a->provider : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 4, a->model ? a->model : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 5, a->outcome ? a->outcome : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 6, a->tokens_in);
    sqlite3_bind_int64 (st, 7, a->tokens_out);
    sqlite3_bind_int (st, 8, a->tokens_estimated ? 1 : 0);
    sqlite3_bind_int64 (st, 9, a->latency_ms);
    sqlite3_bind_double (st, 10, a->cost_usd);
    sqlite3_bind_int (st, 11, a->cached ? 1 : 0);
    sqlite3_bind_int (st, 12, a->fallback ? 1 : 0);
    sqlite3_bind_int (st, 13, a->attempts);
    sqlite3_bind_int64 (st, 14, a->ungrounded);
    if (a->cache_key && a->cache_key[0])
        sqlite3_bind_text (st, 15, a->cache_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (st, 15);
    int s = sqlite3_step (st);
    if (s != SQLITE_DONE) {
        db_fail (self->db, s);
        rc = LG_E_DB;
    }
    sqlite3_reset (st);
done:
    pthread_mutex_unlock (&self->mu);
    return rc;
}

int
lg_cache_totals (lg_cache_t *self, const char *outcome, int64_t *answers, int64_t *tokens_in, int64_t *tokens_out,
                 double *cost_usd)
{
    int rc = 0;
    pthread_mutex_lock (&self->mu);
    sqlite3_stmt *st = db_prepare (self->db,
                                   "SELECT count(*), coalesce(sum(tokens_in),0), coalesce(sum(tokens_out),0), "
                                   "coalesce(sum(cost_usd),0) FROM answers WHERE ?1 IS NULL OR outcome = ?1");
    if (st == NULL) {
        rc = LG_E_DB;
        goto done;
    }
    if (outcome)
        sqlite3_bind_text (st, 1, outcome, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (st, 1);
    if (sqlite3_step (st) == SQLITE_ROW) {
        if (answers)
            *answers = sqlite3_column_int64 (st, 0);
        if (tokens_in)
            *tokens_in = sqlite3_column_int64 (st, 1);
        if (tokens_out)
            *tokens_out = sqlite3_column_int64 (st, 2);
        if (cost_usd)
            *cost_usd = sqlite3_column_double (st, 3);
    }
    else
        rc = LG_E_DB;
    sqlite3_reset (st);
done:
    pthread_mutex_unlock (&self->mu);
    return rc;
}

int64_t
lg_cache_entries (lg_cache_t *self)
{
    int64_t n = -1;
    pthread_mutex_lock (&self->mu);
    if (db_query_i64 (self->db, "SELECT count(*) FROM cache", &n) != 0)
        n = -1;
    pthread_mutex_unlock (&self->mu);
    return n;
}

const char *
lg_cache_path (lg_cache_t *self)
{
    return db_path (self->db);
}
