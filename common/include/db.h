/* db.h — SQLite helpers shared by every daemon and tool.
 *
 * Opens read-only (services) or read-write (importers, state files) with WAL
 * and a busy timeout, keeps a cache of prepared statements keyed by SQL text,
 * and copies sqlite3_errmsg into the handle so errors carry SQLite's reason.
 * One db_t per thread.
 */
#ifndef COPILOT_DB_H
#define COPILOT_DB_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _db_t db_t;

enum { DB_OK = 0, DB_E_OPEN = -1, DB_E_SQL = -2, DB_E_BUSY = -3, DB_E_NOTFOUND = -4,
       DB_E_CONSTRAINT = -5, DB_E_NOMEM = -6, DB_E_READONLY = -7 };

typedef enum { DB_READONLY = 0, DB_READWRITE = 1, DB_CREATE = 2 } db_mode_t;

/* Number of cached prepared statements per handle (LRU). */
#define DB_STMT_CACHE 32

/* Opens `path`. READONLY opens with SQLITE_OPEN_READONLY (no WAL switch,
 * nothing written) and checks the file is a database; READWRITE/CREATE set
 * journal_mode=WAL (failing if it cannot be set), foreign_keys=ON and
 * synchronous=NORMAL. Every mode sets busy_timeout_ms (<= 0: no waiting).
 * NULL on failure with the reason in *err_out (thread-local text, e.g.
 * "x.db: unable to open database file"). */
db_t *db_open (const char *path, db_mode_t mode, int busy_timeout_ms, const char **err_out);
/* Finalizes cached statements and closes (sqlite3_close_v2). NULL-safe. */
void db_close (db_t **self_p);

/* Underlying handle, for direct sqlite3_* calls. */
sqlite3 *db_handle (db_t *self);
/* Returns a cached prepared statement for `sql` (exactly one statement),
 * reset and with bindings cleared; NULL on error (see db_errmsg). Owned by
 * db; valid until close (an evicted statement is only finalized at close).
 * Preparing the same text again resets the same statement, so do not nest
 * two uses of one SQL text. Reset it (or call db_release) when done so it
 * does not pin a read snapshot. */
sqlite3_stmt *db_prepare (db_t *self, const char *sql);
/* Resets every cached statement, ending any read transactions they hold. */
void db_release (db_t *self);
/* Runs one or more statements without results. 0 or DB_E_* (db_errmsg). */
int db_exec (db_t *self, const char *sql);
/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_rollback is a no-op
 * returning 0 when no transaction is open (safe in cleanup paths). */
int db_begin (db_t *self);
int db_commit (db_t *self);
int db_rollback (db_t *self);
/* Single-value queries (first column of the first row); DB_E_NOTFOUND when
 * there is no row or the value is NULL. db_query_i64 accepts integers,
 * integral reals and integer text (else DB_E_SQL); db_query_text fails with
 * DB_E_SQL when the value does not fit in size-1 bytes. */
int db_query_i64 (db_t *self, const char *sql, int64_t *out);
int db_query_text (db_t *self, const char *sql, char *out, size_t size);
/* Maps an SQLite result code to DB_E_* and stores sqlite3_errmsg; 0 for
 * SQLITE_OK/ROW/DONE. BUSY/LOCKED also increment copilot_sqlite_busy_total
 * in the global metrics registry. */
int db_fail (db_t *self, int sqlite_rc);
/* Last error text ("no such table: jobs" ...). */
const char *db_errmsg (db_t *self);
const char *db_strerror (int code);
const char *db_path (db_t *self);

/* True when `other` names the same database file as `ours` (a data.changed
 * event's db_path against the daemon's own): equal after realpath()
 * (symlinks, relative paths, "./"), or byte-equal when either cannot be
 * resolved. A NULL or empty `other` is "unspecified" and matches: a
 * publisher that names no file speaks for every reader. */
bool db_same_file (const char *ours, const char *other);

#endif
