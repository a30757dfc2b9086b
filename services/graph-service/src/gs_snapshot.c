/* gs_snapshot.c — persisted graph snapshots: write a finished graph to one
 * versioned binary file, load it back in seconds instead of rebuilding from
 * SQLite.
 *
 * Layout (host byte order; the header records it and a foreign order is
 * rejected as GS_E_SNAP_FORMAT):
 *
 *   [s_hdr_t, fixed size]  magic "GSSNAP\r\n", format version, header size,
 *                          byte-order mark, loader revision, node/edge
 *                          counts, file size, database identity (real path,
 *                          st_dev, st_ino), data key, build options, graph
 *                          version, data_version, ranking constants,
 *                          serialised stats, section table (offset, length,
 *                          checksum), header checksum (last field, over all
 *                          preceding header bytes)
 *   [sections]             arena, id_off, label_off, detail_off, type,
 *                          flags, cost, ts, row (CSR), nb, et; each starts
 *                          8-byte aligned, the 0..7 padding bytes before
 *                          the next one must be zero
 *
 * Every byte of the file is covered by the header checksum, a section
 * checksum or the zero-padding check, and the file size must match exactly.
 *
 * Checks on load, cheapest first, each with its own error code: size vs
 * header (truncated), magic, format/byte order/loader revision, header
 * checksum, declared file size, database identity and options (foreign),
 * data key (stale), then every section's bounds and checksum, then the
 * structure (CSR monotone and ending at m, neighbours < n, types in range,
 * string offsets inside the NUL-terminated arena). Only a graph that passed
 * everything is returned.
 *
 * Loading maps the file read-only (MAP_PRIVATE | MAP_POPULATE: the kernel
 * fills the page tables in one go, without a fault per page and without
 * copying or zeroing anything) and points the graph's arrays into the
 * mapping; gs_graph_destroy unmaps it. A mapping stays valid when a newer
 * snapshot is renamed over the file (the old inode lives until unmapped);
 * snapshot files must therefore only ever be replaced by rename, as
 * gs_snapshot_write does, never rewritten in place.
 *
 * Writes are atomic: <path>.tmp.<pid> is written, fsynced and renamed over
 * <path>, then the directory is fsynced; a reader sees the old file or the
 * new one, never half of one.
 *
 * Threading: both functions only touch their arguments; a graph may be
 * written while other threads query it (it is immutable).
 */
#include "gs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "str.h"

#define S_MAGIC "GSSNAP\r\n"
#define S_BOM 0x01020304u
/* Bump whenever gs_load.c/gs_graph.c change what a build produces from the
 * same database (labels, details, edge sets, rollups, hashing): snapshots of
 * an older revision are then rejected as GS_E_SNAP_FORMAT. */
#define S_LOADER_REV 1u
#define S_CHUNK ((size_t) 8 << 20)
#define S_PAD8(x) (((x) + 7) & ~(uint64_t) 7)
#define S_NSTATS 64
#define S_NSEC 16

enum { S_ARENA, S_ID, S_LABEL, S_DETAIL, S_TYPE, S_FLAGS, S_COST, S_TS, S_ROW, S_NB, S_ET, S__COUNT };

static const char *const s_sec_names[S__COUNT] = {"arena", "id_off", "label_off", "detail_off", "type", "flags",
                                                  "cost", "ts", "row", "nb", "et"};

typedef struct {
    uint64_t off;
    uint64_t len;
    uint64_t sum;
} s_sec_t;

typedef struct {
    char magic[8];
    uint32_t format;
    uint32_t header_size;
    uint32_t bom;
    uint32_t loader_rev;
    uint32_t n;
    uint32_t reserved0;
    uint64_t m;
    uint64_t arena_len;
    uint64_t file_size;
    int64_t max_ts;
    uint64_t db_dev;
    uint64_t db_ino;
    char db_path[1024];
    char data_key[96];
    char options[128];
    char version[24];
    char data_version[32];
    double type_cost_mean[16];
    uint64_t stats[S_NSTATS];
    s_sec_t sec[S_NSEC];
    uint64_t hdr_sum;
} s_hdr_t;

_Static_assert (GS_NT__COUNT <= 16, "type_cost_mean slots");
_Static_assert (S__COUNT <= S_NSEC, "section slots");
_Static_assert (sizeof (s_hdr_t) % 8 == 0, "header without tail padding");
_Static_assert (offsetof (s_hdr_t, hdr_sum) == sizeof (s_hdr_t) - 8, "hdr_sum is last");

/* ------------------------------------------------------------- checksum */

static inline uint64_t
s_mix (uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline uint64_t
s_rotl (uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t
gs__checksum (const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t a = 0x243F6A8885A308D3ull, b = 0x13198A2E03707344ull, c = 0xA4093822299F31D0ull,
             d = 0x082EFA98EC4E6C89ull;
    const size_t len = n;
    while (n >= 32) {
        uint64_t w[4];
        memcpy (w, p, 32);
        a = s_mix (a, w[0]);
        b = s_mix (b, w[1]);
        c = s_mix (c, w[2]);
        d = s_mix (d, w[3]);
        p += 32;
        n -= 32;
    }
    uint64_t h = a ^ s_rotl (b, 17) ^ s_rotl (c, 31) ^ s_rotl (d, 47) ^ (uint64_t) len;
    for (; n > 0; n--, p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* ------------------------------------------------------------ data keys */

static void
s_stat_text (const struct stat *st, char *out, size_t size)
{
    snprintf (out, size, "%lld.%lld.%09ld", (long long) st->st_size, (long long) st->st_mtim.tv_sec,
              (long) st->st_mtim.tv_nsec);
}

int
gs__file_key (const char *db_path, char *out, size_t size)
{
    struct stat st, sw;
    char wal[PATH_MAX], a[64], w[64] = "-";
    if (stat (db_path, &st) != 0)
        return GS_E_IO;
    s_stat_text (&st, a, sizeof a);
    if (str_fmt (wal, sizeof wal, "%s-wal", db_path) == 0 && stat (wal, &sw) == 0 && sw.st_size > 0)
        s_stat_text (&sw, w, sizeof w);
    int n = snprintf (out, size, "file:%s;wal:%s", a, w);
    return n < 0 || (size_t) n >= size ? GS_E_TOOBIG : GS_OK;
}

int
gs_db_data_key (const char *db_path, char *out, size_t size, char *err, size_t errsz)
{
    if (db_path == NULL || out == NULL || size == 0)
        return gs__err (err, errsz, GS_E_INVALID, "no database path given");
    char fkey[96];
    /* Same order as the builder: fingerprint first, then the table. */
    if (gs__file_key (db_path, fkey, sizeof fkey) != GS_OK)
        return gs__err (err, errsz, GS_E_IO, "cannot stat database %s: %s", db_path, strerror (errno));
    const char *oerr = NULL;
    db_t *db = db_open (db_path, DB_READONLY, 5000, &oerr);
    if (db == NULL)
        return gs__err (err, errsz, GS_E_DB, "cannot open database %s: %s", db_path, oerr ? oerr : "unknown error");
    sqlite3 *h = db_handle (db);
    sqlite3_stmt *st = NULL;
    char dv[32] = "";
    bool has = false;
    if (sqlite3_prepare_v2 (h, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = 'data_version'",
                            -1, &st, NULL) == SQLITE_OK)
        has = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_finalize (st);
    st = NULL;
    int rc = GS_OK;
    if (has) {
        if (sqlite3_prepare_v2 (h, "SELECT version FROM data_version WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
            rc = gs__err (err, errsz, GS_E_DB, "reading data_version of %s: %s", db_path, sqlite3_errmsg (h));
        else if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_text (st, 0) != NULL)
            str_copy (dv, sizeof dv, (const char *) sqlite3_column_text (st, 0));
        sqlite3_finalize (st);
    }
    db_close (&db);
    if (rc != GS_OK)
        return rc;
    int n = dv[0] ? snprintf (out, size, "dv:%s", dv) : snprintf (out, size, "%s", fkey);
    if (n < 0 || (size_t) n >= size)
        return gs__err (err, errsz, GS_E_TOOBIG, "data key too long");
    return GS_OK;
}

/* Real path + device + inode of the database file. */
static int
s_db_identity (const char *db_path, char *real, size_t size, uint64_t *dev, uint64_t *ino)
{
    char tmp[PATH_MAX];
    struct stat st;
    if (realpath (db_path, tmp) == NULL || stat (tmp, &st) != 0)
        return GS_E_IO;
    if (str_copy (real, size, tmp) != 0)
        return GS_E_TOOBIG;
    *dev = (uint64_t) st.st_dev;
    *ino = (uint64_t) st.st_ino;
    return GS_OK;
}

/* ----------------------------------------------------------------- stats */

static void
s_stats_pack (const gs_stats_t *s, uint64_t *v)
{
    size_t k = 0;
    memset (v, 0, S_NSTATS * sizeof *v);
    v[k++] = s->nodes;
    v[k++] = s->edges;
    for (int t = 0; t < GS_NT__COUNT; t++)
        v[k++] = s->nodes_by_type[t];
    for (int r = 0; r < GS_REL__COUNT; r++)
        v[k++] = s->pairs_by_rel[r];
    for (int r = 0; r < GS_REL__COUNT; r++)
        v[k++] = s->dangling_by_rel[r];
    v[k++] = s->dangling;
    v[k++] = s->duplicate_edges;
    v[k++] = s->rows_skipped;
    v[k++] = s->has_job_dependencies_table;
    v[k++] = s->has_config_changes_table;
    v[k++] = s->arena_bytes;
    v[k++] = s->memory_bytes;
}

static void
s_stats_unpack (const uint64_t *v, gs_stats_t *s)
{
    size_t k = 0;
    memset (s, 0, sizeof *s);
    s->nodes = (uint32_t) v[k++];
    s->edges = v[k++];
    for (int t = 0; t < GS_NT__COUNT; t++)
        s->nodes_by_type[t] = (uint32_t) v[k++];
    for (int r = 0; r < GS_REL__COUNT; r++)
        s->pairs_by_rel[r] = v[k++];
    for (int r = 0; r < GS_REL__COUNT; r++)
        s->dangling_by_rel[r] = v[k++];
    s->dangling = v[k++];
    s->duplicate_edges = v[k++];
    s->rows_skipped = v[k++];
    s->has_job_dependencies_table = v[k++] != 0;
    s->has_config_changes_table = v[k++] != 0;
    s->arena_bytes = (size_t) v[k++];
    s->memory_bytes = (size_t) v[k++];
}

_Static_assert (2 + GS_NT__COUNT + 2 * GS_REL__COUNT + 7 <= S_NSTATS, "stats slots");

/* ----------------------------------------------------------------- write */

static int64_t
s_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_write_all (int fd, const void *data, size_t n, const atomic_int *cancel)
{
    const char *p = data;
    while (n > 0) {
        if (cancel != NULL && atomic_load (cancel) != 0)
            return GS_E_CANCELLED;
        size_t want = n < S_CHUNK ? n : S_CHUNK;
        ssize_t w = write (fd, p, want);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return GS_E_IO;
        }
        p += w;
        n -= (size_t) w;
    }
    return GS_OK;
}

/* Section pointers and lengths of a graph, in section order. */
static void
s_sections (const gs_graph_t *g, const void **ptr, uint64_t *len)
{
    const uint64_t n = g->n, m = g->row ? g->row[g->n] : 0;
    ptr[S_ARENA] = g->arena, len[S_ARENA] = g->arena_len;
    ptr[S_ID] = g->id_off, len[S_ID] = n * sizeof *g->id_off;
    ptr[S_LABEL] = g->label_off, len[S_LABEL] = n * sizeof *g->label_off;
    ptr[S_DETAIL] = g->detail_off, len[S_DETAIL] = n * sizeof *g->detail_off;
    ptr[S_TYPE] = g->type, len[S_TYPE] = n;
    ptr[S_FLAGS] = g->flags, len[S_FLAGS] = n;
    ptr[S_COST] = g->cost, len[S_COST] = n * sizeof *g->cost;
    ptr[S_TS] = g->ts, len[S_TS] = n * sizeof *g->ts;
    ptr[S_ROW] = g->row, len[S_ROW] = (n + 1) * sizeof *g->row;
    ptr[S_NB] = g->nb, len[S_NB] = m * sizeof *g->nb;
    ptr[S_ET] = g->et, len[S_ET] = m;
}

int
gs_snapshot_write (const gs_graph_t *g, const char *path, const char *db_path, const char *options,
                   const atomic_int *cancel, char *err, size_t errsz)
{
    if (g == NULL || path == NULL || *path == '\0' || db_path == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "snapshot: no graph, path or database given");
    if (options == NULL)
        options = "";
    s_hdr_t *h = calloc (1, sizeof *h);
    if (h == NULL)
        return gs__err (err, errsz, GS_E_NOMEM, "snapshot: out of memory");
    int rc = GS_OK, fd = -1;
    char tmp[PATH_MAX] = "";
    if (strlen (options) >= sizeof h->options) {
        rc = gs__err (err, errsz, GS_E_INVALID, "snapshot: options text longer than %zu bytes", sizeof h->options - 1);
        goto out;
    }
    if (s_db_identity (db_path, h->db_path, sizeof h->db_path, &h->db_dev, &h->db_ino) != GS_OK) {
        rc = gs__err (err, errsz, GS_E_INVALID, "snapshot: cannot resolve database %s: %s", db_path, strerror (errno));
        goto out;
    }
    memcpy (h->magic, S_MAGIC, 8);
    h->format = GS_SNAPSHOT_FORMAT;
    h->header_size = sizeof *h;
    h->bom = S_BOM;
    h->loader_rev = S_LOADER_REV;
    h->n = g->n;
    h->m = g->row[g->n];
    h->arena_len = g->arena_len;
    h->max_ts = g->max_ts;
    str_copy (h->data_key, sizeof h->data_key, g->data_key);
    str_copy (h->options, sizeof h->options, options);
    str_copy (h->version, sizeof h->version, g->version);
    str_copy (h->data_version, sizeof h->data_version, g->data_version);
    for (int t = 0; t < GS_NT__COUNT; t++)
        h->type_cost_mean[t] = g->type_cost_mean[t];
    s_stats_pack (&g->stats, h->stats);
    const void *ptr[S__COUNT];
    uint64_t len[S__COUNT];
    s_sections (g, ptr, len);
    uint64_t off = sizeof *h;
    for (int s = 0; s < S__COUNT; s++) {
        h->sec[s].off = off;
        h->sec[s].len = len[s];
        h->sec[s].sum = gs__checksum (ptr[s], len[s]);
        off = S_PAD8 (off + len[s]);
    }
    h->file_size = h->sec[S__COUNT - 1].off + h->sec[S__COUNT - 1].len;
    h->hdr_sum = gs__checksum (h, offsetof (s_hdr_t, hdr_sum));

    if (str_fmt (tmp, sizeof tmp, "%s.tmp.%ld", path, (long) getpid ()) != 0) {
        tmp[0] = '\0';
        rc = gs__err (err, errsz, GS_E_INVALID, "snapshot: path too long: %s", path);
        goto out;
    }
    fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = gs__err (err, errsz, GS_E_IO, "snapshot: cannot create %s: %s", tmp, strerror (errno));
        tmp[0] = '\0';
        goto out;
    }
    static const char zeros[8];
    rc = s_write_all (fd, h, sizeof *h, cancel);
    for (int s = 0; s < S__COUNT && rc == GS_OK; s++) {
        rc = s_write_all (fd, ptr[s], (size_t) len[s], cancel);
        uint64_t pad = s + 1 < S__COUNT ? h->sec[s + 1].off - (h->sec[s].off + len[s]) : 0;
        if (rc == GS_OK && pad > 0)
            rc = s_write_all (fd, zeros, (size_t) pad, cancel);
    }
    if (rc == GS_OK && fsync (fd) != 0)
        rc = GS_E_IO;
    if (close (fd) != 0 && rc == GS_OK)
        rc = GS_E_IO;
    fd = -1;
    if (rc == GS_OK && rename (tmp, path) != 0)
        rc = GS_E_IO;
    if (rc != GS_OK) {
        int e = errno;
        if (rc == GS_E_CANCELLED)
            gs__err (err, errsz, rc, "snapshot: write of %s cancelled", path);
        else
            gs__err (err, errsz, rc, "snapshot: writing %s failed: %s", tmp, strerror (e));
        goto out;
    }
    tmp[0] = '\0';   /* renamed: nothing to clean up */
    {
        /* Make the rename durable: fsync the directory. Best effort. */
        char dir[PATH_MAX];
        str_copy (dir, sizeof dir, path);
        char *slash = strrchr (dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else if (slash != NULL)
            *slash = '\0';
        else
            str_copy (dir, sizeof dir, ".");
        int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void) fsync (dfd);
            close (dfd);
        }
    }
out:
    if (fd >= 0)
        close (fd);
    if (tmp[0])
        unlink (tmp);
    free (h);
    return rc;
}

/* ------------------------------------------------------------------ load */

static int
s_read_at (int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n > 0) {
        size_t want = n < S_CHUNK ? n : S_CHUNK;
        ssize_t r = pread (fd, p, want, (off_t) off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return GS_E_IO;
        }
        if (r == 0)
            return GS_E_SNAP_TRUNCATED;
        p += r;
        n -= (size_t) r;
        off += (uint64_t) r;
    }
    return GS_OK;
}

/* Structural validation of a loaded graph; 0 or GS_E_SNAP_CORRUPT (err). */
static int
s_validate (const gs_graph_t *g, char *err, size_t errsz)
{
    const uint32_t n = g->n;
    const uint64_t m = g->row[n];
    if (g->arena_len == 0 || g->arena[0] != '\0' || g->arena[g->arena_len - 1] != '\0')
        return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: string arena not NUL-delimited");
    if (g->row[0] != 0)
        return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: CSR does not start at 0");
    for (uint32_t k = 0; k < n; k++) {
        if (g->row[k + 1] < g->row[k] || g->row[k + 1] > m)
            return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: CSR offsets not monotone at node %u", k);
        if (g->id_off[k] >= g->arena_len || g->label_off[k] >= g->arena_len || g->detail_off[k] >= g->arena_len)
            return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: string offset out of range at node %u", k);
        if (g->type[k] >= GS_NT__COUNT)
            return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: node type out of range at node %u", k);
    }
    for (uint64_t j = 0; j < m; j++)
        if (g->nb[j] >= n || g->et[j] >= GS_ET__COUNT)
            return gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot rejected: adjacency entry %llu out of range",
                            (unsigned long long) j);
    return GS_OK;
}

int
gs_snapshot_load (const char *path, const char *db_path, const char *options, gs_graph_t **out, char *err,
                  size_t errsz)
{
    return gs_snapshot_load_ex (path, db_path, options, 0, out, err, errsz);
}

int
gs_snapshot_load_ex (const char *path, const char *db_path, const char *options, unsigned flags, gs_graph_t **out,
                     char *err, size_t errsz)
{
    if (out == NULL || path == NULL || db_path == NULL)
        return gs__err (err, errsz, GS_E_INVALID, "snapshot: no path, database or output given");
    *out = NULL;
    if (options == NULL)
        options = "";
    const int64_t t0 = s_mono_ns ();
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gs__err (err, errsz, GS_E_IO, "snapshot %s: cannot open: %s", path, strerror (errno));
    s_hdr_t *h = calloc (1, sizeof *h);
    gs_graph_t *g = NULL;
    int rc = GS_OK;
    struct stat st;
    if (h == NULL) {
        rc = gs__err (err, errsz, GS_E_NOMEM, "snapshot: out of memory");
        goto out;
    }
    if (fstat (fd, &st) != 0) {
        rc = gs__err (err, errsz, GS_E_IO, "snapshot %s: cannot stat: %s", path, strerror (errno));
        goto out;
    }
    const uint64_t fsize = (uint64_t) st.st_size;
    if (fsize < 8) {
        rc = gs__err (err, errsz, GS_E_SNAP_TRUNCATED, "snapshot %s rejected: truncated (%llu bytes)", path,
                      (unsigned long long) fsize);
        goto out;
    }
    size_t hn = fsize < sizeof *h ? (size_t) fsize : sizeof *h;
    if ((rc = s_read_at (fd, h, hn, 0)) != GS_OK) {
        rc = gs__err (err, errsz, rc, "snapshot %s: cannot read the header: %s", path, strerror (errno));
        goto out;
    }
    if (memcmp (h->magic, S_MAGIC, 8) != 0) {
        rc = gs__err (err, errsz, GS_E_SNAP_MAGIC, "snapshot %s rejected: not a graph snapshot (bad magic)", path);
        goto out;
    }
    if (hn < offsetof (s_hdr_t, n)) {
        rc = gs__err (err, errsz, GS_E_SNAP_TRUNCATED, "snapshot %s rejected: truncated inside the header", path);
        goto out;
    }
    if (h->bom != S_BOM) {
        rc = gs__err (err, errsz, GS_E_SNAP_FORMAT, "snapshot %s rejected: written with another byte order", path);
        goto out;
    }
    if (h->format != GS_SNAPSHOT_FORMAT || h->header_size != sizeof *h) {
        rc = gs__err (err, errsz, GS_E_SNAP_FORMAT, "snapshot %s rejected: format version %u (header %u bytes), this build reads %u (%zu)",
                      path, h->format, h->header_size, GS_SNAPSHOT_FORMAT, sizeof *h);
        goto out;
    }
    if (h->loader_rev != S_LOADER_REV) {
        rc = gs__err (err, errsz, GS_E_SNAP_FORMAT, "snapshot %s rejected: built by loader revision %u, this build is %u",
                      path, h->loader_rev, S_LOADER_REV);
        goto out;
    }
    if (hn < sizeof *h) {
        rc = gs__err (err, errsz, GS_E_SNAP_TRUNCATED, "snapshot %s rejected: truncated inside the header (%llu bytes)",
                      path, (unsigned long long) fsize);
        goto out;
    }
    if (gs__checksum (h, offsetof (s_hdr_t, hdr_sum)) != h->hdr_sum) {
        rc = gs__err (err, errsz, GS_E_SNAP_CHECKSUM, "snapshot %s rejected: header checksum mismatch", path);
        goto out;
    }
    if (fsize < h->file_size) {
        rc = gs__err (err, errsz, GS_E_SNAP_TRUNCATED, "snapshot %s rejected: truncated (%llu of %llu bytes)", path,
                      (unsigned long long) fsize, (unsigned long long) h->file_size);
        goto out;
    }
    if (fsize > h->file_size) {
        rc = gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot %s rejected: %llu trailing bytes", path,
                      (unsigned long long) (fsize - h->file_size));
        goto out;
    }
    /* Identity and freshness before the big reads. */
    {
        char real[sizeof h->db_path];
        uint64_t dev = 0, ino = 0;
        if (s_db_identity (db_path, real, sizeof real, &dev, &ino) != GS_OK) {
            rc = gs__err (err, errsz, GS_E_DB, "snapshot %s: cannot resolve database %s: %s", path, db_path,
                          strerror (errno));
            goto out;
        }
        h->db_path[sizeof h->db_path - 1] = '\0';
        h->options[sizeof h->options - 1] = '\0';
        h->data_key[sizeof h->data_key - 1] = '\0';
        h->version[sizeof h->version - 1] = '\0';
        h->data_version[sizeof h->data_version - 1] = '\0';
        if (strcmp (real, h->db_path) != 0 || dev != h->db_dev || ino != h->db_ino) {
            rc = gs__err (err, errsz, GS_E_SNAP_FOREIGN, "snapshot %s rejected: built from another database file (%s, inode %llu; now %s, inode %llu)",
                          path, h->db_path, (unsigned long long) h->db_ino, real, (unsigned long long) ino);
            goto out;
        }
        if (strcmp (options, h->options) != 0) {
            rc = gs__err (err, errsz, GS_E_SNAP_FOREIGN, "snapshot %s rejected: built with options '%s', now '%s'", path,
                          h->options, options);
            goto out;
        }
        char key[96];
        if ((flags & GS_SNAP_ALLOW_STALE) == 0 && (rc = gs_db_data_key (db_path, key, sizeof key, err, errsz)) != GS_OK)
            goto out;
        if ((flags & GS_SNAP_ALLOW_STALE) == 0 && (h->data_key[0] == '\0' || strcmp (key, h->data_key) != 0)) {
            rc = gs__err (err, errsz, GS_E_SNAP_STALE, "snapshot %s rejected: stale (built at %s, database now at %s)", path,
                          h->data_key[0] ? h->data_key : "(unknown)", key);
            goto out;
        }
    }
    /* Section table sanity (the header checksum makes this a defence against
     * a writer bug, not against random damage). */
    const uint64_t n = h->n, m = h->m;
    const uint64_t want[S__COUNT] = {h->arena_len, n * 4, n * 4, n * 4, n, n, n * 8, n * 8, (n + 1) * 8, m * 4, m};
    uint64_t expect_off = sizeof *h;
    for (int s = 0; s < S__COUNT; s++, expect_off = S_PAD8 (h->sec[s - 1].off + h->sec[s - 1].len))
        if (h->sec[s].len != want[s] || h->sec[s].off != expect_off || h->sec[s].off > h->file_size
            || h->sec[s].len > h->file_size - h->sec[s].off) {
            rc = gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot %s rejected: section %s out of bounds", path,
                          s_sec_names[s]);
            goto out;
        }
    if (h->sec[S__COUNT - 1].off + h->sec[S__COUNT - 1].len != h->file_size || h->arena_len > UINT32_MAX || n >= UINT32_MAX) {
        rc = gs__err (err, errsz, GS_E_SNAP_CORRUPT, "snapshot %s rejected: sizes out of range", path);
        goto out;
    }
    g = calloc (1, sizeof *g);
    if (g == NULL) {
        rc = gs__err (err, errsz, GS_E_NOMEM, "snapshot: out of memory");
        goto out;
    }
    g->n = (uint32_t) n;
    g->arena_len = (size_t) h->arena_len;
    g->map_len = (size_t) h->file_size;
    g->map = mmap (NULL, g->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (g->map == MAP_FAILED) {
        g->map = NULL;
        rc = gs__err (err, errsz, errno == ENOMEM ? GS_E_NOMEM : GS_E_IO, "snapshot %s: cannot map %llu bytes: %s", path,
                      (unsigned long long) h->file_size, strerror (errno));
        goto out;
    }
    const char *base = g->map;
    for (int s = 0; s < S__COUNT; s++) {
        const size_t len = (size_t) h->sec[s].len;
        if (gs__checksum (base + h->sec[s].off, len) != h->sec[s].sum) {
            rc = gs__err (err, errsz, GS_E_SNAP_CHECKSUM, "snapshot %s rejected: checksum mismatch in section %s", path,
                          s_sec_names[s]);
            goto out;
        }
        const uint64_t end = s + 1 < S__COUNT ? h->sec[s + 1].off : h->file_size;
        for (uint64_t k = h->sec[s].off + len; k < end; k++)
            if (base[k] != 0) {
                rc = gs__err (err, errsz, GS_E_SNAP_CHECKSUM, "snapshot %s rejected: padding after section %s changed",
                              path, s_sec_names[s]);
                goto out;
            }
    }
    /* Offsets are 8-byte aligned (checked above), so the typed views are. */
    g->arena = (char *) (base + h->sec[S_ARENA].off);
    g->id_off = (uint32_t *) (base + h->sec[S_ID].off);
    g->label_off = (uint32_t *) (base + h->sec[S_LABEL].off);
    g->detail_off = (uint32_t *) (base + h->sec[S_DETAIL].off);
    g->type = (uint8_t *) (base + h->sec[S_TYPE].off);
    g->flags = (uint8_t *) (base + h->sec[S_FLAGS].off);
    g->cost = (double *) (base + h->sec[S_COST].off);
    g->ts = (int64_t *) (base + h->sec[S_TS].off);
    g->row = (uint64_t *) (base + h->sec[S_ROW].off);
    g->nb = (uint32_t *) (base + h->sec[S_NB].off);
    g->et = (uint8_t *) (base + h->sec[S_ET].off);
    if ((rc = s_validate (g, err, errsz)) != GS_OK)
        goto out;
    g->max_ts = h->max_ts;
    for (int t = 0; t < GS_NT__COUNT; t++)
        g->type_cost_mean[t] = h->type_cost_mean[t];
    s_stats_unpack (h->stats, &g->stats);
    str_copy (g->version, sizeof g->version, h->version);
    str_copy (g->data_version, sizeof g->data_version, h->data_version);
    str_copy (g->data_key, sizeof g->data_key, h->data_key);
    g->stats.load_ms = (double) (s_mono_ns () - t0) / 1e6;
out:
    close (fd);
    free (h);
    if (rc != GS_OK) {
        gs_graph_destroy (&g);
        return rc;
    }
    *out = g;
    return GS_OK;
}
