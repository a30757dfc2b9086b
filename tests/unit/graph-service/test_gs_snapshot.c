/* test_gs_snapshot.c — unit tests of graph snapshots (gs_snapshot.c) on real
 * files: a copy of the fixture (argv[1]) in a temp dir, with and without a
 * data_version table; snapshots written, damaged and reloaded. Exits 77 when
 * the fixture is absent.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "buf.h"
#include "gs_graph.h"
#include "it_files.h"

static const char *s_fixture;
static char s_dir[] = "/tmp/gs_snap_test_XXXXXX";
static char s_db[256];       /* fixture copy with data_version = 7 */
static char s_db_plain[256]; /* fixture copy without data_version */
static char s_snap[256];

static int
s_exec (const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open (db, &h);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (h, sql, NULL, NULL, NULL);
    sqlite3_close (h);
    return rc;
}

/* Graph of db plus one anomaly node (the daemon's alert path). */
static gs_graph_t *
s_build (const char *db)
{
    char err[256] = "";
    gs_builder_t *b = gs_builder_new (0);
    assert_non_null (b);
    assert_int_equal (gs_builder_load_db (b, db, err, sizeof err), GS_OK);
    assert_int_equal (gs_builder_add_anomaly (b, "job::J-FIN-DAILY", "2025-12-01", 250.0, "daily cost $250 (z 4.2)"),
                      GS_OK);
    gs_graph_t *g = gs_builder_finish (&b, err, sizeof err);
    assert_non_null (g);
    return g;
}

/* Renders subgraphs of every job, neighbours of the system user, a path and
 * per-node facts into one text: equal texts = equal query results. */
static char *
s_render_all (const gs_graph_t *g)
{
    buf_t *out = buf_new ((size_t) 32 << 20);
    char err[256];
    assert_non_null (out);
    for (uint32_t i = 0; i < gs_graph_node_count (g); i++) {
        const uint32_t *nb;
        const uint8_t *et;
        uint32_t n;
        gs_node_adjacency (g, i, &nb, &et, &n);
        buf_printf (out, "%s|%s|%s|%.6f|%lld|%u|%u:", gs_node_id (g, i), gs_node_label (g, i), gs_node_detail (g, i),
                     gs_node_cost (g, i), (long long) gs_node_ts (g, i), gs_node_flags (g, i), n);
        for (uint32_t k = 0; k < n; k++)
            buf_printf (out, " %u/%u", nb[k], et[k]);
        buf_append (out, "\n", 1);
        if (gs_node_type (g, i) != GS_NT_JOB && gs_node_type (g, i) != GS_NT_ANOMALY)
            continue;
        const char *a[] = {gs_node_id (g, i)};
        gs_subgraph_params_t p = {.anchors = a, .n_anchors = 1, .hops = 4, .budget = 40};
        gs_result_t *r = NULL;
        assert_int_equal (gs_subgraph (g, &p, &r, err, sizeof err), GS_OK);
        assert_int_equal (gs_render_text (g, r, out), 0);
        gs_result_destroy (&r);
    }
    gs_result_t *r = NULL;
    assert_int_equal (gs_neighbors (g, "user::U-SYSTEM", NULL, 50, &r, err, sizeof err), GS_OK);
    assert_int_equal (r->n_nodes, 50);
    assert_int_equal (gs_render_text (g, r, out), 0);
    gs_result_destroy (&r);
    assert_int_equal (gs_path (g, "job::J-FIN-DAILY", "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02", 8, &r, err, sizeof err),
                      GS_OK);
    assert_true (r->n_nodes == 5);
    assert_int_equal (gs_render_text (g, r, out), 0);
    gs_result_destroy (&r);
    char *text = strdup (buf_data (out));
    buf_destroy (&out);
    return text;
}

static void
s_assert_same (const gs_graph_t *a, const gs_graph_t *b)
{
    gs_stats_t x, y;
    gs_graph_stats (a, &x);
    gs_graph_stats (b, &y);
    assert_string_equal (gs_graph_version (a), gs_graph_version (b));
    assert_string_equal (gs_graph_data_version (a), gs_graph_data_version (b));
    assert_string_equal (gs_graph_data_key (a), gs_graph_data_key (b));
    assert_int_equal (x.nodes, y.nodes);
    assert_int_equal (x.edges, y.edges);
    assert_int_equal (x.dangling, y.dangling);
    assert_int_equal (x.arena_bytes, y.arena_bytes);
    assert_int_equal (x.memory_bytes, y.memory_bytes);
    assert_int_equal (x.has_job_dependencies_table, y.has_job_dependencies_table);
    assert_memory_equal (x.nodes_by_type, y.nodes_by_type, sizeof x.nodes_by_type);
    assert_memory_equal (x.pairs_by_rel, y.pairs_by_rel, sizeof x.pairs_by_rel);
    assert_memory_equal (x.dangling_by_rel, y.dangling_by_rel, sizeof x.dangling_by_rel);
    char *ta = s_render_all (a), *tb = s_render_all (b);
    assert_true (strlen (ta) > 100000);
    assert_string_equal (ta, tb);
    free (ta);
    free (tb);
}

static int
setup (void **state)
{
    (void) state;
    if (mkdtemp (s_dir) == NULL)
        return -1;
    snprintf (s_db, sizeof s_db, "%s/telemetry.db", s_dir);
    snprintf (s_db_plain, sizeof s_db_plain, "%s/plain.db", s_dir);
    snprintf (s_snap, sizeof s_snap, "%s/graph.gsnap", s_dir);
    if (itf_copy_file (s_fixture, s_db) != 0 || itf_copy_file (s_fixture, s_db_plain) != 0)
        return -1;
    return s_exec (s_db, "CREATE TABLE data_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);"
                         "INSERT INTO data_version VALUES (1, 7);") == SQLITE_OK ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

/* Writes a fresh snapshot of s_db to s_snap; returns the graph. */
static gs_graph_t *
s_fresh_snapshot (void)
{
    char err[256] = "";
    gs_graph_t *g = s_build (s_db);
    int rc = gs_snapshot_write (g, s_snap, s_db, "test-opts", NULL, err, sizeof err);
    if (rc != GS_OK)
        fprintf (stderr, "write: %s\n", err);
    assert_int_equal (rc, GS_OK);
    return g;
}

static int
s_load (const char *db, const char *opts, char *err, size_t errsz)
{
    gs_graph_t *g = NULL;
    int rc = gs_snapshot_load (s_snap, db, opts, &g, err, errsz);
    if (rc == GS_OK)
        assert_non_null (g);
    else
        assert_null (g);
    gs_graph_destroy (&g);
    return rc;
}

static void
s_patch (const char *path, long off, const void *bytes, size_t n)
{
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, bytes, n, off), (ssize_t) n);
    close (fd);
}

/* ------------------------------------------------------------------ tests */

static void
test_round_trip (void **state)
{
    (void) state;
    char err[256] = "";
    gs_graph_t *g = s_fresh_snapshot ();
    assert_string_equal (gs_graph_data_version (g), "7");
    assert_string_equal (gs_graph_data_key (g), "dv:7");
    gs_graph_t *l = NULL;
    assert_int_equal (gs_snapshot_load (s_snap, s_db, "test-opts", &l, err, sizeof err), GS_OK);
    assert_non_null (l);
    s_assert_same (g, l);
    /* A fresh build of the same data (a different builder, same inputs). */
    gs_graph_t *f = s_build (s_db);
    s_assert_same (f, l);
    gs_stats_t st;
    gs_graph_stats (l, &st);
    assert_int_equal (st.nodes, 1973);   /* the fixture's 1,972 + the anomaly */
    assert_int_equal (st.nodes_by_type[GS_NT_ANOMALY], 1);
    assert_int_equal (gs_graph_find (l, "anomaly::J-FIN-DAILY:2025-12-01") >= 0, 1);
    gs_graph_destroy (&f);
    gs_graph_destroy (&l);
    gs_graph_destroy (&g);
    /* No temporary file left behind. */
    char tmp[300];
    snprintf (tmp, sizeof tmp, "%s.tmp.%ld", s_snap, (long) getpid ());
    assert_int_not_equal (access (tmp, F_OK), 0);
}

static void
test_round_trip_file_key (void **state)
{
    (void) state;
    char err[256] = "", snap[300];
    snprintf (snap, sizeof snap, "%s/plain.gsnap", s_dir);
    gs_graph_t *g = s_build (s_db_plain);
    assert_string_equal (gs_graph_data_version (g), "");
    assert_int_equal (strncmp (gs_graph_data_key (g), "file:", 5), 0);
    assert_int_equal (gs_snapshot_write (g, snap, s_db_plain, "", NULL, err, sizeof err), GS_OK);
    gs_graph_t *l = NULL;
    assert_int_equal (gs_snapshot_load (snap, s_db_plain, "", &l, err, sizeof err), GS_OK);
    s_assert_same (g, l);
    gs_graph_destroy (&l);
    /* Modified in place (no data_version to bump): stale. */
    assert_int_equal (s_exec (s_db_plain, "UPDATE jobs SET job_name = 'Renamed' WHERE job_id = 'J-FIN-DAILY';"), SQLITE_OK);
    int rc = gs_snapshot_load (snap, s_db_plain, "", &l, err, sizeof err);
    assert_int_equal (rc, GS_E_SNAP_STALE);
    assert_null (l);
    assert_non_null (strstr (err, "stale"));
    gs_graph_destroy (&g);
}

static void
test_truncated (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g = s_fresh_snapshot ();
    struct stat st;
    assert_int_equal (stat (s_snap, &st), 0);
    const long sizes[] = {(long) st.st_size - 1, (long) st.st_size / 2, 5000, 100, 4, 0};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        assert_int_equal (truncate (s_snap, sizes[k]), 0);
        err[0] = '\0';
        assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_E_SNAP_TRUNCATED);
        assert_non_null (strstr (err, "truncated"));
    }
    gs_graph_destroy (&g);
}

static void
test_flipped_byte (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g = s_fresh_snapshot ();
    struct stat st;
    assert_int_equal (stat (s_snap, &st), 0);
    /* One byte in the middle of the data (arena or CSR), one in the last
     * section (et), one in the header's graph version. */
    const long offs[] = {(long) st.st_size / 2, (long) st.st_size - 3, 1500};
    for (size_t k = 0; k < sizeof offs / sizeof *offs; k++) {
        gs_graph_destroy (&g);
        g = s_fresh_snapshot ();
        unsigned char c;
        int fd = open (s_snap, O_RDONLY);
        assert_int_equal (pread (fd, &c, 1, offs[k]), 1);
        close (fd);
        c ^= 0x10;
        s_patch (s_snap, offs[k], &c, 1);
        err[0] = '\0';
        assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_E_SNAP_CHECKSUM);
        assert_non_null (strstr (err, "checksum"));
    }
    gs_graph_destroy (&g);
}

static void
test_magic_and_format (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g = s_fresh_snapshot ();
    s_patch (s_snap, 0, "SQLite f", 8);
    assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_E_SNAP_MAGIC);
    assert_non_null (strstr (err, "magic"));
    gs_graph_destroy (&g);
    g = s_fresh_snapshot ();
    const uint32_t v2 = GS_SNAPSHOT_FORMAT + 1;
    s_patch (s_snap, 8, &v2, sizeof v2);   /* the format version follows the magic */
    assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_E_SNAP_FORMAT);
    assert_non_null (strstr (err, "format version 2"));
    gs_graph_destroy (&g);
    /* A file that is not a snapshot at all: the database itself. */
    gs_graph_t *l = NULL;
    assert_int_equal (gs_snapshot_load (s_db, s_db, "test-opts", &l, err, sizeof err), GS_E_SNAP_MAGIC);
    assert_null (l);
}

static void
test_stale_and_foreign (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g = s_fresh_snapshot ();
    assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_OK);
    /* Other build options. */
    assert_int_equal (s_load (s_db, "other-opts", err, sizeof err), GS_E_SNAP_FOREIGN);
    assert_non_null (strstr (err, "options"));
    /* Another database file (same content, other path and inode). */
    assert_int_equal (s_load (s_db_plain, "test-opts", err, sizeof err), GS_E_SNAP_FOREIGN);
    assert_non_null (strstr (err, "another database"));
    /* data_version bumped by an import. */
    assert_int_equal (s_exec (s_db, "UPDATE data_version SET version = 8 WHERE id = 1;"), SQLITE_OK);
    err[0] = '\0';
    assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_E_SNAP_STALE);
    assert_non_null (strstr (err, "dv:7"));
    assert_non_null (strstr (err, "dv:8"));
    /* ALLOW_STALE skips only the data key check (the daemon reads the stale
     * snapshot's anomalies); identity and options are still enforced. */
    {
        gs_graph_t *st = NULL;
        assert_int_equal (gs_snapshot_load_ex (s_snap, s_db, "test-opts", GS_SNAP_ALLOW_STALE, &st, err, sizeof err), GS_OK);
        assert_non_null (st);
        assert_string_equal (gs_graph_data_key (st), "dv:7");
        assert_true (gs_graph_find (st, "anomaly::J-FIN-DAILY:2025-12-01") >= 0);
        gs_graph_destroy (&st);
        assert_int_equal (gs_snapshot_load_ex (s_snap, s_db, "other-opts", GS_SNAP_ALLOW_STALE, &st, err, sizeof err),
                          GS_E_SNAP_FOREIGN);
        assert_null (st);
    }
    /* Missing file. */
    gs_graph_t *l = NULL;
    char missing[300];
    snprintf (missing, sizeof missing, "%s/none.gsnap", s_dir);
    assert_int_equal (gs_snapshot_load (missing, s_db, "test-opts", &l, err, sizeof err), GS_E_IO);
    assert_null (l);
    gs_graph_destroy (&g);
    /* A new snapshot after the rebuild is current again. */
    g = s_fresh_snapshot ();
    assert_string_equal (gs_graph_data_key (g), "dv:8");
    assert_int_equal (s_load (s_db, "test-opts", err, sizeof err), GS_OK);
    gs_graph_destroy (&g);
}

static void
test_write_errors (void **state)
{
    (void) state;
    char err[256];
    gs_graph_t *g = s_build (s_db);
    char bad[300];
    snprintf (bad, sizeof bad, "%s/no/such/dir/graph.gsnap", s_dir);
    assert_int_equal (gs_snapshot_write (g, bad, s_db, "", NULL, err, sizeof err), GS_E_IO);
    char opts[200];
    memset (opts, 'x', sizeof opts - 1);
    opts[sizeof opts - 1] = '\0';
    assert_int_equal (gs_snapshot_write (g, s_snap, s_db, opts, NULL, err, sizeof err), GS_E_INVALID);
    atomic_int cancel;
    atomic_init (&cancel, 1);
    char snap2[300];
    snprintf (snap2, sizeof snap2, "%s/cancelled.gsnap", s_dir);
    assert_int_equal (gs_snapshot_write (g, snap2, s_db, "", &cancel, err, sizeof err), GS_E_CANCELLED);
    assert_int_not_equal (access (snap2, F_OK), 0);
    gs_graph_destroy (&g);
}

int
main (int argc, char **argv)
{
    s_fixture = argc > 1 ? argv[1] : getenv ("COPILOT_FIXTURE_DB");
    if (s_fixture == NULL || access (s_fixture, R_OK) != 0) {
        fprintf (stderr, "fixture DB not found (%s): skipping\n", s_fixture ? s_fixture : "unset");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_round_trip_file_key),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_flipped_byte),
        cmocka_unit_test (test_magic_and_format),
        cmocka_unit_test (test_stale_and_foreign),
        cmocka_unit_test (test_write_errors),
    };
    return cmocka_run_group_tests (tests, setup, teardown);
}
