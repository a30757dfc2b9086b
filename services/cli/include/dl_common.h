/* dl_common.h — shared error codes, last-error text and SQLite helpers of the
 * CLI data layer (library copilot_data, prefix dl_).
 *
 * Every dl_ function returns 0 (DL_OK) or a negative DL_E_* code and leaves a
 * human-readable reason in a thread-local buffer readable with
 * dl_last_error(). The data layer talks to SQLite directly (not through
 * db.h) because the generator and the migrator must control journal mode,
 * page size and synchronous settings, and must never switch a reference
 * database to WAL.
 */
#ifndef COPILOT_DL_COMMON_H
#define COPILOT_DL_COMMON_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    DL_OK = 0,
    DL_E_ARG = -1,            /* bad argument / usage */
    DL_E_SQL = -2,            /* SQLite failed */
    DL_E_IO = -3,             /* file system */
    DL_E_SCHEMA = -4,         /* not a telemetry database / schema mismatch */
    DL_E_EXISTS = -5,         /* output exists and --force was not given */
    DL_E_DATA = -6,           /* bad input row (importer) */
    DL_E_UNIMPLEMENTED = -7,  /* feature not built yet */
    DL_E_NOMEM = -8,
    DL_E_UNAVAILABLE = -9     /* optional peer (event bus) not reachable */
};

/* Static text for a DL_E_* code ("ok", "SQL error", ...). */
const char *dl_strerror (int code);
/* The calling thread's last error detail; "" when none. Never NULL. */
const char *dl_last_error (void);
/* Stores a formatted detail as the thread's last error and returns `code`. */
int dl_fail (int code, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Stores "<what>: <sqlite3_errmsg(db)>" and returns DL_E_SQL. */
int dl_fail_sql (sqlite3 *db, const char *what);
/* Clears the last error. */
void dl_clear_error (void);

/* Opens `path` read-write (and creates it when `create`), sets a 5 s busy
 * timeout and foreign_keys=ON. Does not change the journal mode. On failure
 * returns DL_E_IO/DL_E_SQL with the reason; *out is NULL. */
int dl_db_open (const char *path, bool create, sqlite3 **out);
/* Opens `path` read-only (no create). */
int dl_db_open_ro (const char *path, sqlite3 **out);
/* sqlite3_exec wrapper: 0 or DL_E_SQL with "<what>: <errmsg>". */
int dl_exec (sqlite3 *db, const char *sql, const char *what);
/* Single integer result of `sql` (first column of first row) into *out;
 * DL_E_SQL on error, DL_E_DATA when there is no row. */
int dl_query_i64 (sqlite3 *db, const char *sql, int64_t *out);
/* True when table `name` exists in the main schema. */
bool dl_table_exists (sqlite3 *db, const char *name);

/* Current UTC time as 'YYYY-MM-DD HH:MM:SS' into out (>= 20 bytes). Only for
 * bookkeeping columns of non-generated writes (migrate, import). */
void dl_now_utc (char *out, size_t size);

#endif
