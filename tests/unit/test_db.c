/* test_db.c — SQLite helpers: read-only open of the reference fixture (and
 * proof that nothing was written), WAL/foreign keys/busy timeout for
 * read-write handles, the statement cache, transactions, error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "db.h"
#include "metrics.h"
#include "str.h"

static char s_dir[64];

static int
setup (void **state)
{
    (void) state;
    str_copy (s_dir, sizeof s_dir, "/tmp/test_db_XXXXXX");
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    DIR *d = opendir (s_dir);
    struct dirent *e;
    while (d && (e = readdir (d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        str_fmt (p, sizeof p, "%s/%s", s_dir, e->d_name);
        unlink (p);
    }
    if (d)
        closedir (d);
    rmdir (s_dir);
    return 0;
}

/* The reference fixture: next to the sources if copied there, else the
 * shared location; NULL when neither exists (test skipped). */
static const char *
s_fixture (void)
{
    static char p[1024];
    const char *env = getenv ("COPILOT_FIXTURE_DB");
    if (env && access (env, R_OK) == 0)
        return env;
    str_copy (p, sizeof p, __FILE__);
    char *slash = strrchr (p, '/');
    if (slash) {
        *slash = '\0';
        str_append (p, sizeof p, "/../fixtures/seed_usage_rag_data.db");
        if (access (p, R_OK) == 0)
            return p;
    }
    if (access ("/work/shared/fixtures/seed_usage_rag_data.db", R_OK) == 0)
        return "/work/shared/fixtures/seed_usage_rag_data.db";
    return NULL;
}

static void
s_file_sha (const char *path, char out[65])
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    buf_t *b = buf_new (64u << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal (buf_append (b, chunk, n), BUF_OK);
    fclose (f);
    str_sha256_hex (buf_data (b), buf_len (b), out);
    buf_destroy (&b);
}

static int
s_count_dir (const char *dir)
{
    DIR *d = opendir (dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir (d)) != NULL)
        n++;
    if (d)
        closedir (d);
    return n;
}

static void
test_readonly_fixture (void **state)
{
    (void) state;
    const char *fx = s_fixture ();
    if (fx == NULL)
        skip ();
    char dir[1024];
    str_copy (dir, sizeof dir, fx);
    *strrchr (dir, '/') = '\0';
    struct stat before, after;
    assert_int_equal (stat (fx, &before), 0);
    char sha_before[65], sha_after[65];
    s_file_sha (fx, sha_before);
    int entries = s_count_dir (dir);

    const char *err = NULL;
    db_t *db = db_open (fx, DB_READONLY, 1000, &err);
    if (db == NULL)
        fail_msg ("open: %s", err);
    assert_string_equal (db_path (db), fx);
    int64_t n = 0;
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM sqlite_master WHERE type='table'", &n),
                      DB_OK);
    assert_true (n >= 11);
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM jobs", &n), DB_OK);
    assert_true (n > 0);
    int64_t jobs = n;
    /* Iterate with a cached statement and compare with the count. */
    sqlite3_stmt *st = db_prepare (db, "SELECT job_id FROM jobs");
    assert_non_null (st);
    int64_t rows = 0;
    while (sqlite3_step (st) == SQLITE_ROW)
        rows++;
    sqlite3_reset (st);
    assert_int_equal (rows, jobs);
    char jm[16];
    assert_int_equal (db_query_text (db, "PRAGMA journal_mode", jm, sizeof jm), DB_OK);
    assert_string_not_equal (jm, "wal");   /* read-only: no WAL switch */

    /* Errors carry SQLite's message. */
    assert_null (db_prepare (db, "SELECT * FROM no_such_table"));
    assert_string_equal (db_errmsg (db), "no such table: no_such_table");
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM nope", &n), DB_E_SQL);
    assert_string_equal (db_errmsg (db), "no such table: nope");
    assert_int_equal (db_exec (db, "CREATE TABLE t_should_fail (a)"), DB_E_READONLY);
    assert_string_equal (db_errmsg (db), "attempt to write a readonly database");
    assert_int_equal (db_exec (db, "DELETE FROM jobs"), DB_E_READONLY);
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM jobs", &n), DB_OK);
    assert_int_equal (n, jobs);
    db_close (&db);
    assert_null (db);

    assert_int_equal (stat (fx, &after), 0);
    s_file_sha (fx, sha_after);
    assert_string_equal (sha_before, sha_after);
    assert_true (before.st_mtim.tv_sec == after.st_mtim.tv_sec
                 && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    assert_true (before.st_size == after.st_size);
    assert_int_equal (s_count_dir (dir), entries);   /* no -journal/-wal/-shm left */
}

static void
test_open_errors (void **state)
{
    (void) state;
    char p[128];
    str_fmt (p, sizeof p, "%s/missing.db", s_dir);
    const char *err = NULL;
    assert_null (db_open (p, DB_READONLY, 0, &err));
    char want[256];
    str_fmt (want, sizeof want, "%s: unable to open database file", p);
    assert_string_equal (err, want);
    assert_null (db_open (p, DB_READWRITE, 0, &err));
    assert_string_equal (err, want);
    assert_int_equal (access (p, F_OK), -1);   /* READWRITE does not create */

    str_fmt (p, sizeof p, "%s/garbage.db", s_dir);
    FILE *f = fopen (p, "w");
    for (int i = 0; i < 200; i++)
        fputs ("this is not a database file at all\n", f);
    fclose (f);
    assert_null (db_open (p, DB_READONLY, 0, &err));
    str_fmt (want, sizeof want, "%s: file is not a database", p);
    assert_string_equal (err, want);
    db_close (NULL);
}

static db_t *
s_new_rw (const char *name, int timeout)
{
    char p[128];
    str_fmt (p, sizeof p, "%s/%s", s_dir, name);
    const char *err = NULL;
    db_t *db = db_open (p, DB_CREATE, timeout, &err);
    if (db == NULL)
        fail_msg ("open %s: %s", p, err);
    return db;
}

static void
test_readwrite (void **state)
{
    (void) state;
    db_t *db = s_new_rw ("rw.db", 1234);
    char jm[16];
    assert_int_equal (db_query_text (db, "PRAGMA journal_mode", jm, sizeof jm), DB_OK);
    assert_string_equal (jm, "wal");
    int64_t v = 0;
    assert_int_equal (db_query_i64 (db, "PRAGMA foreign_keys", &v), DB_OK);
    assert_int_equal (v, 1);
    assert_int_equal (db_query_i64 (db, "PRAGMA busy_timeout", &v), DB_OK);
    assert_int_equal (v, 1234);
    assert_int_equal (db_exec (db, "CREATE TABLE ws (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                                   "CREATE TABLE job (id INTEGER PRIMARY KEY,"
                                   " ws INTEGER NOT NULL REFERENCES ws(id), cost REAL);"
                                   "INSERT INTO ws VALUES (1, 'alpha');"),
                      DB_OK);
    assert_int_equal (db_exec (db, "INSERT INTO job VALUES (1, 99, 1.0)"), DB_E_CONSTRAINT);
    assert_string_equal (db_errmsg (db), "FOREIGN KEY constraint failed");
    assert_int_equal (db_exec (db, "INSERT INTO ws VALUES (1, 'dup')"), DB_E_CONSTRAINT);
    assert_string_equal (db_errmsg (db), "UNIQUE constraint failed: ws.id");
    assert_int_equal (db_exec (db, "SELEC 1"), DB_E_SQL);
    assert_string_equal (db_errmsg (db), "near \"SELEC\": syntax error");

    /* Transactions. */
    assert_int_equal (db_begin (db), DB_OK);
    assert_int_equal (db_exec (db, "INSERT INTO job VALUES (1, 1, 2.5)"), DB_OK);
    assert_int_equal (db_rollback (db), DB_OK);
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM job", &v), DB_OK);
    assert_int_equal (v, 0);
    assert_int_equal (db_begin (db), DB_OK);
    assert_int_equal (db_exec (db, "INSERT INTO job VALUES (1, 1, 2.5); INSERT INTO job VALUES (2, 1, NULL)"),
                      DB_OK);
    assert_int_equal (db_commit (db), DB_OK);
    assert_int_equal (db_rollback (db), DB_OK);   /* no transaction: no-op */
    assert_int_equal (db_commit (db), DB_E_SQL);  /* no transaction: SQLite's error */
    assert_string_equal (db_errmsg (db), "cannot commit - no transaction is active");

    /* Single-value queries. */
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM job", &v), DB_OK);
    assert_int_equal (v, 2);
    v = 77;
    assert_int_equal (db_query_i64 (db, "SELECT id FROM job WHERE id = 42", &v), DB_E_NOTFOUND);
    assert_int_equal (db_query_i64 (db, "SELECT cost FROM job WHERE id = 2", &v), DB_E_NOTFOUND);
    assert_int_equal (db_query_i64 (db, "SELECT cost FROM job WHERE id = 1", &v), DB_E_SQL);
    assert_string_equal (db_errmsg (db), "query result is not an integer: '2.5'");
    assert_int_equal (v, 77);
    assert_int_equal (db_query_i64 (db, "SELECT 4.0", &v), DB_OK);
    assert_int_equal (v, 4);
    assert_int_equal (db_query_i64 (db, "SELECT '-12'", &v), DB_OK);
    assert_int_equal (v, -12);
    char t[6];
    assert_int_equal (db_query_text (db, "SELECT name FROM ws", t, sizeof t), DB_OK);
    assert_string_equal (t, "alpha");   /* exactly size-1 bytes */
    assert_int_equal (db_query_text (db, "SELECT name || '!' FROM ws", t, sizeof t), DB_E_SQL);
    assert_string_equal (db_errmsg (db), "query result (6 bytes) does not fit in 6 bytes");
    assert_int_equal (db_query_text (db, "SELECT name FROM ws WHERE 0", t, sizeof t), DB_E_NOTFOUND);
    assert_string_equal (db_strerror (DB_E_NOTFOUND), "no such row");
    db_close (&db);
}

static void
test_stmt_cache (void **state)
{
    (void) state;
    db_t *db = s_new_rw ("cache.db", 100);
    assert_int_equal (db_exec (db, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"), DB_OK);
    sqlite3_stmt *ins = db_prepare (db, "INSERT INTO kv VALUES (?1, ?2)");
    assert_non_null (ins);
    for (int i = 0; i < 5; i++) {
        sqlite3_stmt *again = db_prepare (db, "INSERT INTO kv VALUES (?1, ?2)");
        assert_ptr_equal (again, ins);
        sqlite3_bind_int (again, 1, i);
        sqlite3_bind_text (again, 2, "x", -1, SQLITE_STATIC);
        assert_int_equal (sqlite3_step (again), SQLITE_DONE);
    }
    /* Bindings are cleared on reuse: ?2 is NULL now. */
    sqlite3_stmt *st = db_prepare (db, "INSERT INTO kv VALUES (?1, ?2)");
    sqlite3_bind_int (st, 1, 100);
    assert_int_equal (sqlite3_step (st), SQLITE_DONE);
    int64_t v;
    assert_int_equal (db_query_i64 (db, "SELECT count(*) FROM kv WHERE v IS NULL", &v), DB_OK);
    assert_int_equal (v, 1);

    /* Evict: more distinct texts than slots; the first pointer stays valid. */
    char sql[64];
    sqlite3_stmt *first = db_prepare (db, "SELECT count(*) FROM kv WHERE k >= 0");
    for (int i = 0; i < DB_STMT_CACHE * 2; i++) {
        str_fmt (sql, sizeof sql, "SELECT %d", i);
        assert_non_null (db_prepare (db, sql));
    }
    assert_int_equal (sqlite3_step (first), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (first, 0), 6);
    sqlite3_reset (first);
    /* Re-preparing an evicted text gives a fresh statement that works. */
    sqlite3_stmt *re = db_prepare (db, "SELECT count(*) FROM kv WHERE k >= 0");
    assert_non_null (re);
    assert_int_equal (sqlite3_step (re), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (re, 0), 6);
    /* LRU: a statement used recently survives a round of new texts. */
    sqlite3_stmt *hot = db_prepare (db, "SELECT 'hot'");
    for (int i = 0; i < DB_STMT_CACHE - 2; i++) {
        str_fmt (sql, sizeof sql, "SELECT %d + 1000", i);
        db_prepare (db, sql);
        assert_ptr_equal (db_prepare (db, "SELECT 'hot'"), hot);
    }
    db_release (db);
    assert_null (db_prepare (db, "SELECT 1; SELECT 2"));
    assert_string_equal (db_errmsg (db), "db_prepare: more than one statement (use db_exec for scripts)");
    assert_non_null (db_prepare (db, "SELECT 1; -- trailing comment\n"));
    assert_null (db_prepare (db, "  -- nothing\n"));
    db_close (&db);   /* finalizes cached and retired statements (ASan checks leaks) */
}

static void
test_busy (void **state)
{
    (void) state;
    db_t *a = s_new_rw ("busy.db", 50);
    db_t *b = s_new_rw ("busy.db", 50);
    assert_int_equal (db_exec (a, "CREATE TABLE t (x)"), DB_OK);
    metric_t *busy = metrics_counter (metrics_global (), "copilot_sqlite_busy_total",
                                      "SQLite calls that failed with SQLITE_BUSY or SQLITE_LOCKED.",
                                      NULL);
    double before = metric_value (busy);
    assert_int_equal (db_begin (a), DB_OK);
    assert_int_equal (db_exec (a, "INSERT INTO t VALUES (1)"), DB_OK);
    assert_int_equal (db_begin (b), DB_E_BUSY);
    assert_string_equal (db_errmsg (b), "database is locked");
    assert_true (metric_value (busy) == before + 1);
    /* WAL: the reader still sees the last committed state. */
    int64_t v = -1;
    assert_int_equal (db_query_i64 (b, "SELECT count(*) FROM t", &v), DB_OK);
    assert_int_equal (v, 0);
    assert_int_equal (db_commit (a), DB_OK);
    assert_int_equal (db_query_i64 (b, "SELECT count(*) FROM t", &v), DB_OK);
    assert_int_equal (v, 1);
    db_close (&a);
    db_close (&b);
}

/* db_same_file: a data.changed path names our file after realpath, an
 * empty one is "unspecified", unresolvable paths compare as text. */
static void
test_same_file (void **state)
{
    (void) state;
    char dir[] = "/tmp/test_db_same_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char a[300], link[300], rel[320];
    snprintf (a, sizeof a, "%s/usage.db", dir);
    snprintf (link, sizeof link, "%s/link.db", dir);
    snprintf (rel, sizeof rel, "%s/./usage.db", dir);
    FILE *f = fopen (a, "w");
    assert_non_null (f);
    fclose (f);
    assert_int_equal (symlink (a, link), 0);
    assert_true (db_same_file (a, a));
    assert_true (db_same_file (a, link));
    assert_true (db_same_file (a, rel));
    assert_true (db_same_file (a, NULL));
    assert_true (db_same_file (a, ""));
    assert_false (db_same_file (a, "/nonexistent/usage.db"));
    assert_false (db_same_file (NULL, a));
    assert_true (db_same_file ("/nonexistent/x.db", "/nonexistent/x.db"));
    unlink (link);
    unlink (a);
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_readonly_fixture),
        cmocka_unit_test (test_open_errors),
        cmocka_unit_test (test_readwrite),
        cmocka_unit_test (test_stmt_cache),
        cmocka_unit_test (test_busy),
        cmocka_unit_test (test_same_file),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
