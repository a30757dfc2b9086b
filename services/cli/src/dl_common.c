/* dl_common.c — error codes, thread-local last error and small SQLite
 * helpers for the data layer.
 *
 * Design: every dl_ call reports failure with a negative code and a
 * formatted detail kept in a thread-local buffer (sqlite3_errmsg style), so
 * the CLI can print "copilot db migrate: SQL error: apply 003_jobs_graph:
 * no such table: jobs". The buffer is fixed-size; longer details are
 * truncated, never overflowed. */
#include "dl_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dl_time.h"

static _Thread_local char s_err[1024];

const char *
dl_strerror (int code)
{
    switch (code) {
    case DL_OK: return "ok";
    case DL_E_ARG: return "invalid argument";
    case DL_E_SQL: return "SQL error";
    case DL_E_IO: return "I/O error";
    case DL_E_SCHEMA: return "schema error";
    case DL_E_EXISTS: return "already exists";
    case DL_E_DATA: return "bad input data";
    case DL_E_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case DL_E_NOMEM: return "out of memory";
    case DL_E_UNAVAILABLE: return "unavailable";
    default: return "unknown error";
    }
}

const char *
dl_last_error (void)
{
    return s_err;
}

void
dl_clear_error (void)
{
    s_err[0] = '\0';
}

int
dl_fail (int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (s_err, sizeof s_err, fmt, ap);
    va_end (ap);
    if (n < 0)
        s_err[0] = '\0';
    return code;
}

int
dl_fail_sql (sqlite3 *db, const char *what)
{
    return dl_fail (DL_E_SQL, "%s: %s", what, db ? sqlite3_errmsg (db) : "no database");
}

static int
s_open (const char *path, int flags, sqlite3 **out)
{
    *out = NULL;
    if (!path || !*path)
        return dl_fail (DL_E_ARG, "no database path given");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2 (path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int code = dl_fail (DL_E_IO, "cannot open %s: %s", path,
                            db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
        sqlite3_close (db);
        return code;
    }
    sqlite3_busy_timeout (db, 5000);
    sqlite3_extended_result_codes (db, 1);
    *out = db;
    return DL_OK;
}

int
dl_db_open (const char *path, bool create, sqlite3 **out)
{
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = s_open (path, flags, out);
    if (rc)
        return rc;
    rc = dl_exec (*out, "PRAGMA foreign_keys=ON", "enable foreign keys");
    if (rc) {
        sqlite3_close (*out);
        *out = NULL;
    }
    return rc;
}

int
dl_db_open_ro (const char *path, sqlite3 **out)
{
    return s_open (path, SQLITE_OPEN_READONLY, out);
}

int
dl_exec (sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = dl_fail (DL_E_SQL, "%s: %s", what ? what : "exec",
                            msg ? msg : sqlite3_errmsg (db));
        sqlite3_free (msg);
        return code;
    }
    return DL_OK;
}

int
dl_query_i64 (sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        return dl_fail_sql (db, "prepare");
    int rc = sqlite3_step (st);
    int code = DL_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64 (st, 0);
    else if (rc == SQLITE_DONE)
        code = dl_fail (DL_E_DATA, "no row");
    else
        code = dl_fail_sql (db, "query");
    sqlite3_finalize (st);
    return code;
}

bool
dl_table_exists (sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
                            &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text (st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_finalize (st);
    return found;
}

void
dl_now_utc (char *out, size_t size)
{
    char buf[20];
    dl_fmt_ts ((int64_t) time (NULL), buf);
    snprintf (out, size, "%s", buf);
}
