/* db.c — SQLite helpers shared by every daemon and tool.
 *
 * Open modes: READONLY uses SQLITE_OPEN_READONLY and changes nothing about
 * the file (no journal-mode switch, no pragmas that write), so services can
 * read the telemetry DB — or the read-only reference fixture — safely.
 * READWRITE/CREATE switch to WAL (readers never block the writer), turn on
 * foreign keys and synchronous=NORMAL (the usual WAL pairing). Every mode
 * sets the busy timeout.
 *
 * Statement cache: DB_STMT_CACHE slots keyed by the exact SQL text, least
 * recently used evicted. The header promises a returned statement stays
 * valid until db_close, so an evicted statement is not finalized at once:
 * it moves to a "retired" list that db_close finalizes. A program that keeps
 * preparing new SQL texts therefore grows that list; use bound parameters,
 * not SQL text built from values. Statements are prepared with
 * SQLITE_PREPARE_PERSISTENT, handed out reset and with bindings cleared.
 *
 * Errors: every failure copies sqlite3_errmsg() into the handle (db_errmsg)
 * and maps the primary result code to a DB_E_* value. SQLITE_BUSY/LOCKED
 * also bump the process metric copilot_sqlite_busy_total.
 *
 * Threading: one db_t per thread (SQLITE_OPEN_NOMUTEX); db_open's error text
 * is thread-local.
 */
#include "db.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "str.h"

#define DB_ERR_MAX 512

typedef struct {
    char *sql;
    sqlite3_stmt *st;
    uint64_t used;
} slot_t;

struct _db_t {
    sqlite3 *h;
    char *path;
    db_mode_t mode;
    slot_t cache[DB_STMT_CACHE];
    uint64_t tick;
    sqlite3_stmt **retired;
    size_t nretired, aretired;
    char err[DB_ERR_MAX];
};

static _Thread_local char t_open_err[DB_ERR_MAX];

static void
s_seterr (db_t *self, const char *msg)
{
    str_copy (self->err, sizeof self->err, msg ? msg : "");
}

int
db_fail (db_t *self, int sqlite_rc)
{
    if (sqlite_rc == SQLITE_OK || sqlite_rc == SQLITE_ROW || sqlite_rc == SQLITE_DONE)
        return DB_OK;
    if (self != NULL && self->h != NULL)
        s_seterr (self, sqlite3_errmsg (self->h));
    else if (self != NULL)
        s_seterr (self, sqlite3_errstr (sqlite_rc));
    switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        metric_inc (metrics_counter (metrics_global (), "copilot_sqlite_busy_total",
                                     "SQLite calls that failed with SQLITE_BUSY or SQLITE_LOCKED.",
                                     NULL));
        return DB_E_BUSY;
    case SQLITE_CONSTRAINT: return DB_E_CONSTRAINT;
    case SQLITE_NOMEM: return DB_E_NOMEM;
    case SQLITE_READONLY: return DB_E_READONLY;
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_PERM: return DB_E_OPEN;
    default: return DB_E_SQL;
    }
}

/* Runs one pragma that returns a single text value into out. */
static int
s_pragma_text (db_t *self, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2 (self->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_fail (self, rc);
    rc = sqlite3_step (st);
    int res = DB_OK;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text (st, 0);
        str_copy (out, size, t ? (const char *) t : "");
    } else {
        res = db_fail (self, rc);
        if (res == DB_OK)
            out[0] = '\0';
    }
    sqlite3_finalize (st);
    return res;
}

db_t *
db_open (const char *path, db_mode_t mode, int busy_timeout_ms, const char **err_out)
{
    t_open_err[0] = '\0';
    if (err_out)
        *err_out = t_open_err;
    if (path == NULL) {
        str_copy (t_open_err, sizeof t_open_err, "db_open: NULL path");
        return NULL;
    }
    db_t *self = calloc (1, sizeof *self);
    if (self == NULL || (self->path = str_dup (path)) == NULL) {
        free (self);
        str_copy (t_open_err, sizeof t_open_err, "out of memory");
        return NULL;
    }
    self->mode = mode;
    int flags = SQLITE_OPEN_NOMUTEX;
    if (mode == DB_READONLY)
        flags |= SQLITE_OPEN_READONLY;
    else if (mode == DB_READWRITE)
        flags |= SQLITE_OPEN_READWRITE;
    else
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2 (path, &self->h, flags, NULL);
    if (rc != SQLITE_OK) {
        str_fmt (t_open_err, sizeof t_open_err, "%s: %s", path,
                 self->h ? sqlite3_errmsg (self->h) : sqlite3_errstr (rc));
        goto fail;
    }
    sqlite3_extended_result_codes (self->h, 1);
    sqlite3_busy_timeout (self->h, busy_timeout_ms > 0 ? busy_timeout_ms : 0);
    if (mode == DB_READONLY) {
        /* Fail now, not at the first query, when the file is not a database. */
        char v[32];
        if (s_pragma_text (self, "PRAGMA schema_version", v, sizeof v) != DB_OK) {
            str_fmt (t_open_err, sizeof t_open_err, "%s: %s", path, self->err);
            goto fail;
        }
        return self;
    }
    char jm[32];
    if (s_pragma_text (self, "PRAGMA journal_mode=WAL", jm, sizeof jm) != DB_OK) {
        str_fmt (t_open_err, sizeof t_open_err, "%s: %s", path, self->err);
        goto fail;
    }
    if (!str_ieq (jm, "wal") && !str_ieq (jm, "memory")) {
        str_fmt (t_open_err, sizeof t_open_err, "%s: cannot switch to WAL (journal_mode=%s)", path,
                 jm);
        goto fail;
    }
    if (db_exec (self, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL") != DB_OK) {
        str_fmt (t_open_err, sizeof t_open_err, "%s: %s", path, self->err);
        goto fail;
    }
    return self;
fail:
    db_close (&self);
    return NULL;
}

void
db_close (db_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    db_t *self = *self_p;
    for (int i = 0; i < DB_STMT_CACHE; i++) {
        sqlite3_finalize (self->cache[i].st);
        free (self->cache[i].sql);
    }
    for (size_t i = 0; i < self->nretired; i++)
        sqlite3_finalize (self->retired[i]);
    free (self->retired);
    sqlite3_close_v2 (self->h);
    free (self->path);
    free (self);
    *self_p = NULL;
}

sqlite3 *
db_handle (db_t *self)
{
    return self ? self->h : NULL;
}

static bool
s_blank (const char *s)
{
    /* True when only white space and SQL comments remain. */
    while (s && *s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';') {
            s++;
        } else if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr (s + 2, "*/");
            if (e == NULL)
                return true;
            s = e + 2;
        } else {
            return false;
        }
    }
    return true;
}

sqlite3_stmt *
db_prepare (db_t *self, const char *sql)
{
    if (self == NULL || sql == NULL)
        return NULL;
    int lru = 0;
    for (int i = 0; i < DB_STMT_CACHE; i++) {
        slot_t *s = &self->cache[i];
        if (s->sql != NULL && strcmp (s->sql, sql) == 0) {
            sqlite3_reset (s->st);
            sqlite3_clear_bindings (s->st);
            s->used = ++self->tick;
            return s->st;
        }
        if (s->sql == NULL || (self->cache[lru].sql != NULL && s->used < self->cache[lru].used))
            lru = i;
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3 (self->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) {
        db_fail (self, rc);
        return NULL;
    }
    if (st == NULL) {
        s_seterr (self, "db_prepare: no SQL statement in the text");
        return NULL;
    }
    if (!s_blank (tail)) {
        sqlite3_finalize (st);
        s_seterr (self, "db_prepare: more than one statement (use db_exec for scripts)");
        return NULL;
    }
    char *copy = str_dup (sql);
    slot_t *s = &self->cache[lru];
    if (copy != NULL && s->st != NULL && self->nretired == self->aretired) {
        /* Grow the retired list before touching the slot, so failure is clean. */
        size_t na = self->aretired ? self->aretired * 2 : 8;
        sqlite3_stmt **nr = realloc (self->retired, na * sizeof *nr);
        if (nr == NULL) {
            free (copy);
            copy = NULL;
        } else {
            self->retired = nr;
            self->aretired = na;
        }
    }
    if (copy == NULL) {
        sqlite3_finalize (st);
        s_seterr (self, "out of memory");
        return NULL;
    }
    if (s->st != NULL)
        self->retired[self->nretired++] = s->st;
    free (s->sql);
    s->sql = copy;
    s->st = st;
    s->used = ++self->tick;
    return st;
}

void
db_release (db_t *self)
{
    if (self == NULL)
        return;
    for (int i = 0; i < DB_STMT_CACHE; i++) {
        if (self->cache[i].st != NULL)
            sqlite3_reset (self->cache[i].st);
    }
    for (size_t i = 0; i < self->nretired; i++)
        sqlite3_reset (self->retired[i]);
}

int
db_exec (db_t *self, const char *sql)
{
    if (self == NULL || sql == NULL)
        return DB_E_SQL;
    int rc = sqlite3_exec (self->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_OK : db_fail (self, rc);
}

int
db_begin (db_t *self)
{
    return db_exec (self, "BEGIN IMMEDIATE");
}

int
db_commit (db_t *self)
{
    return db_exec (self, "COMMIT");
}

int
db_rollback (db_t *self)
{
    if (self == NULL)
        return DB_E_SQL;
    if (sqlite3_get_autocommit (self->h))
        return DB_OK;   /* nothing to roll back (e.g. COMMIT already failed and ended it) */
    return db_exec (self, "ROLLBACK");
}

/* Steps a single-value query; on DB_OK the statement is on its row and the
 * caller must reset it. */
static int
s_query_one (db_t *self, const char *sql, sqlite3_stmt **st_out)
{
    sqlite3_stmt *st = db_prepare (self, sql);
    if (st == NULL)
        return DB_E_SQL;
    int rc = sqlite3_step (st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type (st, 0) == SQLITE_NULL) {
            sqlite3_reset (st);
            s_seterr (self, "query returned NULL");
            return DB_E_NOTFOUND;
        }
        *st_out = st;
        return DB_OK;
    }
    int res;
    if (rc == SQLITE_DONE) {
        s_seterr (self, "query returned no row");
        res = DB_E_NOTFOUND;
    } else {
        res = db_fail (self, rc);
    }
    sqlite3_reset (st);
    return res;
}

int
db_query_i64 (db_t *self, const char *sql, int64_t *out)
{
    if (self == NULL || out == NULL)
        return DB_E_SQL;
    sqlite3_stmt *st = NULL;
    int res = s_query_one (self, sql, &st);
    if (res != DB_OK)
        return res;
    int type = sqlite3_column_type (st, 0);
    int64_t v = 0;
    if (type == SQLITE_INTEGER) {
        v = sqlite3_column_int64 (st, 0);
    } else if (type == SQLITE_FLOAT) {
        double d = sqlite3_column_double (st, 0);
        if (d != floor (d) || d < -9.2e18 || d > 9.2e18)
            res = DB_E_SQL;
        else
            v = (int64_t) d;
    } else if (type == SQLITE_TEXT) {
        if (str_to_i64 ((const char *) sqlite3_column_text (st, 0), &v) != 0)
            res = DB_E_SQL;
    } else {
        res = DB_E_SQL;
    }
    if (res != DB_OK) {
        char msg[160];
        const unsigned char *t = sqlite3_column_text (st, 0);
        str_fmt (msg, sizeof msg, "query result is not an integer: '%.60s'",
                 t ? (const char *) t : "");
        s_seterr (self, msg);
    } else {
        *out = v;
    }
    sqlite3_reset (st);
    return res;
}

int
db_query_text (db_t *self, const char *sql, char *out, size_t size)
{
    if (self == NULL || out == NULL || size == 0)
        return DB_E_SQL;
    sqlite3_stmt *st = NULL;
    int res = s_query_one (self, sql, &st);
    if (res != DB_OK)
        return res;
    const unsigned char *t = sqlite3_column_text (st, 0);
    size_t n = (size_t) sqlite3_column_bytes (st, 0);
    if (t == NULL) {
        s_seterr (self, "out of memory");
        res = DB_E_NOMEM;
    } else if (n >= size) {
        char msg[128];
        str_fmt (msg, sizeof msg, "query result (%zu bytes) does not fit in %zu bytes", n, size);
        s_seterr (self, msg);
        res = DB_E_SQL;
    } else {
        memcpy (out, t, n);
        out[n] = '\0';
    }
    sqlite3_reset (st);
    return res;
}

const char *
db_errmsg (db_t *self)
{
    return self ? self->err : "";
}

const char *
db_strerror (int code)
{
    switch (code) {
    case DB_OK: return "ok";
    case DB_E_OPEN: return "cannot open database";
    case DB_E_SQL: return "SQL error";
    case DB_E_BUSY: return "database is busy";
    case DB_E_NOTFOUND: return "no such row";
    case DB_E_CONSTRAINT: return "constraint violation";
    case DB_E_NOMEM: return "out of memory";
    case DB_E_READONLY: return "database is read-only";
    default: return "unknown database error";
    }
}

const char *
db_path (db_t *self)
{
    return self ? self->path : NULL;
}

bool
db_same_file (const char *ours, const char *other)
{
    if (!other || !*other)
        return true;
    if (!ours)
        return false;
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath (ours, ra) || !realpath (other, rb))
        return strcmp (ours, other) == 0;
    return strcmp (ra, rb) == 0;
}
