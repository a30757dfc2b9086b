/* data_test_util.h — helpers shared by the data-layer tests (header-only):
 * temp directories, file copy, SHA-256 of a file, single-value queries that
 * fail the test on SQL errors, and running the copilot binary. */
#ifndef DATA_TEST_UTIL_H
#define DATA_TEST_UTIL_H
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "str.h"

static inline void
dt_tmpdir (char *out, size_t size)
{
    const char *base = getenv ("TMPDIR");
    snprintf (out, size, "%s/copilot-data-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null (mkdtemp (out));
}

static inline void
dt_rmdir (const char *dir)
{
    char cmd[4200];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    int rc = system (cmd);
    (void) rc;
}

static inline void
dt_copy (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb");
    assert_non_null (in);
    FILE *out = fopen (to, "wb");
    assert_non_null (out);
    char buf[65536];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        assert_int_equal (fwrite (buf, 1, n, out), n);
    fclose (in);
    assert_int_equal (fclose (out), 0);
    chmod (to, 0644);
}

static inline void
dt_sha256_file (const char *path, char out[65])
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    fseek (f, 0, SEEK_END);
    long len = ftell (f);
    fseek (f, 0, SEEK_SET);
    assert_true (len >= 0);
    char *data = malloc ((size_t) len + 1);
    assert_non_null (data);
    assert_int_equal (fread (data, 1, (size_t) len, f), (size_t) len);
    fclose (f);
    str_sha256_hex (data, (size_t) len, out);
    free (data);
}

/* First column of the first row as int64; fails the test on error / no row. */
static inline int64_t
dt_i64 (sqlite3 *db, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg ("prepare failed: %s\n  %s", sqlite3_errmsg (db), sql);
    if (sqlite3_step (st) != SQLITE_ROW)
        fail_msg ("no row: %s\n  %s", sqlite3_errmsg (db), sql);
    int64_t v = sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    return v;
}

static inline double
dt_dbl (sqlite3 *db, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg ("prepare failed: %s\n  %s", sqlite3_errmsg (db), sql);
    if (sqlite3_step (st) != SQLITE_ROW)
        fail_msg ("no row: %s\n  %s", sqlite3_errmsg (db), sql);
    double v = sqlite3_column_double (st, 0);
    sqlite3_finalize (st);
    return v;
}

/* Text of the first column of the first row into out ("" for NULL). */
static inline void
dt_text (sqlite3 *db, char *out, size_t size, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg ("prepare failed: %s\n  %s", sqlite3_errmsg (db), sql);
    if (sqlite3_step (st) != SQLITE_ROW)
        fail_msg ("no row: %s\n  %s", sqlite3_errmsg (db), sql);
    const unsigned char *t = sqlite3_column_text (st, 0);
    snprintf (out, size, "%s", t ? (const char *) t : "");
    sqlite3_finalize (st);
}

static inline sqlite3 *
dt_open (const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg ("open %s: %s", path, db ? sqlite3_errmsg (db) : "?");
    return db;
}

/* Runs a shell command; returns its exit status (or -1). */
static inline int
dt_run (const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    int st = system (cmd);
    if (st == -1 || !WIFEXITED (st))
        return -1;
    return WEXITSTATUS (st);
}

#endif
