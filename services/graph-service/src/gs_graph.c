/* gs_graph.c — names, the graph builder and the frozen CSR graph.
 *
 * Builder: nodes are appended in load order into parallel arrays (type,
 * flags, cost, ts, and offsets of id/label/detail strings in one arena, a
 * capped buf_t). An open-addressing hash (FNV-1a, linear probing, load ≤ 0.5)
 * maps ids to node indexes during the build only; it is used for lookups,
 * never iterated, so hash order cannot leak into any output. Relations are
 * stored once, forward direction, as (src, dst, rel) index triples; both
 * endpoints must exist when the edge is added (the loader reads tables in
 * dependency order), otherwise the edge is dropped and counted as dangling.
 *
 * Finish: nodes are sorted by id (byte order) and every array is permuted, so
 * node index order == id order and lookups are a binary search over the
 * arena; edges are remapped, sorted and de-duplicated; usage cost is rolled up
 * to job runs, jobs and compute; the CSR holds for each node its neighbours
 * and directed edge types, forward and reverse, sorted by (type, neighbour).
 * A content hash over nodes and edges gives the graph version.
 *
 * Threading: a builder belongs to one thread; a finished graph is immutable
 * and may be shared by any number of reader threads.
 */
#include "gs_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "str.h"

/* ------------------------------------------------------------------ names */

static const char *const s_node_names[GS_NT__COUNT] = {
    "workspace", "user", "job", "compute", "jobrun", "usage",
    "event", "eviction", "query", "configchange", "anomaly",
};

static const char *const s_edge_names[GS_ET__COUNT] = {
    "BELONGS_TO", "HAS_USER", "OWNED_BY", "HAS_JOB", "HAS_COMPUTE", "RUN_OF", "HAS_RUN",
    "USAGE_OF_JOB_RUN", "HAS_USAGE", "USAGE_OF_COMPUTE", "ON_USAGE", "HAS_EVENT",
    "TRIGGERED_BY", "INITIATED_EVENT", "ASSOCIATED_EVICTION", "EXECUTED_ON", "RAN_QUERY",
    "SUBMITTED_BY", "SUBMITTED_QUERY", "DEPENDS_ON", "HAS_DEPENDENT", "CHANGED",
    "HAS_CONFIG_CHANGE", "CHANGED_BY", "MADE_CHANGE", "RECORDED_AS", "RECORDS_CHANGE",
    "ANOMALY_OF", "HAS_ANOMALY",
};

static const struct {
    gs_edge_type_t fwd;
    gs_edge_type_t rev;
    const char *name;
} s_rels[GS_REL__COUNT] = {
    [GS_REL_USER_WORKSPACE] = {GS_ET_BELONGS_TO, GS_ET_HAS_USER, "user->workspace"},
    [GS_REL_JOB_WORKSPACE] = {GS_ET_OWNED_BY, GS_ET_HAS_JOB, "job->workspace"},
    [GS_REL_COMPUTE_WORKSPACE] = {GS_ET_OWNED_BY, GS_ET_HAS_COMPUTE, "compute->workspace"},
    [GS_REL_RUN_JOB] = {GS_ET_RUN_OF, GS_ET_HAS_RUN, "jobrun->job"},
    [GS_REL_USAGE_RUN] = {GS_ET_USAGE_OF_JOB_RUN, GS_ET_HAS_USAGE, "usage->jobrun"},
    [GS_REL_USAGE_COMPUTE] = {GS_ET_USAGE_OF_COMPUTE, GS_ET_HAS_USAGE, "usage->compute"},
    [GS_REL_EVENT_USAGE] = {GS_ET_ON_USAGE, GS_ET_HAS_EVENT, "event->usage"},
    [GS_REL_EVENT_USER] = {GS_ET_TRIGGERED_BY, GS_ET_INITIATED_EVENT, "event->user"},
    [GS_REL_EVENT_EVICTION] = {GS_ET_ASSOCIATED_EVICTION, GS_ET_HAS_EVENT, "event->eviction"},
    [GS_REL_QUERY_COMPUTE] = {GS_ET_EXECUTED_ON, GS_ET_RAN_QUERY, "query->compute"},
    [GS_REL_QUERY_USER] = {GS_ET_SUBMITTED_BY, GS_ET_SUBMITTED_QUERY, "query->user"},
    [GS_REL_JOB_DEPENDS] = {GS_ET_DEPENDS_ON, GS_ET_HAS_DEPENDENT, "job->job (depends on)"},
    [GS_REL_CHANGE_ENTITY] = {GS_ET_CHANGED, GS_ET_HAS_CONFIG_CHANGE, "configchange->entity"},
    [GS_REL_CHANGE_USER] = {GS_ET_CHANGED_BY, GS_ET_MADE_CHANGE, "configchange->user"},
    [GS_REL_CHANGE_EVENT] = {GS_ET_RECORDED_AS, GS_ET_RECORDS_CHANGE, "configchange->event"},
    [GS_REL_ANOMALY_ENTITY] = {GS_ET_ANOMALY_OF, GS_ET_HAS_ANOMALY, "anomaly->entity"},
};

const char *
gs_node_type_name (gs_node_type_t t)
{
    return (unsigned) t < GS_NT__COUNT ? s_node_names[t] : NULL;
}

const char *
gs_edge_type_name (gs_edge_type_t t)
{
    return (unsigned) t < GS_ET__COUNT ? s_edge_names[t] : NULL;
}

int
gs_node_type_parse (const char *name)
{
    for (int i = 0; name && i < GS_NT__COUNT; i++)
        if (strcmp (name, s_node_names[i]) == 0)
            return i;
    return -1;
}

int
gs_edge_type_parse (const char *name)
{
    for (int i = 0; name && i < GS_ET__COUNT; i++)
        if (strcmp (name, s_edge_names[i]) == 0)
            return i;
    return -1;
}

gs_edge_type_t
gs_rel_forward (gs_rel_t r)
{
    assert ((unsigned) r < GS_REL__COUNT);
    return s_rels[r].fwd;
}

gs_edge_type_t
gs_rel_reverse (gs_rel_t r)
{
    assert ((unsigned) r < GS_REL__COUNT);
    return s_rels[r].rev;
}

const char *
gs_rel_name (gs_rel_t r)
{
    return (unsigned) r < GS_REL__COUNT ? s_rels[r].name : NULL;
}

bool
gs_edge_type_is_forward (gs_edge_type_t t)
{
    for (int r = 0; r < GS_REL__COUNT; r++)
        if (s_rels[r].fwd == t)
            return true;
    return false;
}

gs_edge_type_t
gs__forward_of (gs_edge_type_t rev, gs_node_type_t holder)
{
    if (rev == GS_ET_HAS_USAGE)
        return holder == GS_NT_JOBRUN ? GS_ET_USAGE_OF_JOB_RUN : GS_ET_USAGE_OF_COMPUTE;
    if (rev == GS_ET_HAS_EVENT)
        return holder == GS_NT_EVICTION ? GS_ET_ASSOCIATED_EVICTION : GS_ET_ON_USAGE;
    for (int r = 0; r < GS_REL__COUNT; r++)
        if (s_rels[r].rev == rev)
            return s_rels[r].fwd;
    return rev;
}

const char *
gs_strerror (int code)
{
    switch (code) {
    case GS_OK: return "ok";
    case GS_E_NOMEM: return "out of memory";
    case GS_E_DB: return "database error";
    case GS_E_NOTFOUND: return "not found";
    case GS_E_INVALID: return "invalid argument";
    case GS_E_TOOBIG: return "size limit exceeded";
    case GS_E_SCHEMA: return "required table missing";
    case GS_E_UNIMPLEMENTED: return "unimplemented";
    case GS_E_DUPLICATE: return "duplicate node id";
    case GS_E_CANCELLED: return "cancelled";
    case GS_E_IO: return "i/o error";
    case GS_E_SNAP_TRUNCATED: return "snapshot truncated";
    case GS_E_SNAP_MAGIC: return "not a graph snapshot";
    case GS_E_SNAP_FORMAT: return "snapshot format version mismatch";
    case GS_E_SNAP_CHECKSUM: return "snapshot checksum mismatch";
    case GS_E_SNAP_CORRUPT: return "snapshot content inconsistent";
    case GS_E_SNAP_FOREIGN: return "snapshot of another database or build options";
    case GS_E_SNAP_STALE: return "snapshot stale (database changed)";
    default: return "unknown error";
    }
}

int
gs__err (char *err, size_t errsz, int code, const char *fmt, ...)
{
    if (err != NULL && errsz > 0) {
        va_list ap;
        va_start (ap, fmt);
        int n = vsnprintf (err, errsz, fmt, ap);
        va_end (ap);
        if (n < 0)
            err[0] = '\0';
    }
    return code;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
s_days_from_civil (int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static int
s_digits (const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int
gs__parse_ts (const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (s == NULL || strlen (s) < 10)
        return -1;
    if (s_digits (s, 4, &y) || s[4] != '-' || s_digits (s + 5, 2, &mo) || s[7] != '-'
        || s_digits (s + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    const char *t = s + 10;
    if (*t == ' ' || *t == 'T') {
        if (s_digits (t + 1, 2, &h) || t[3] != ':' || s_digits (t + 4, 2, &mi))
            return -1;
        if (t[6] == ':' && s_digits (t + 7, 2, &se))
            return -1;
        if (h > 23 || mi > 59 || se > 60)
            return -1;
    }
    *out = s_days_from_civil (y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

int
gs_anomaly_id (const char *entity_id, const char *date, char *out, size_t size)
{
    if (entity_id == NULL || date == NULL || out == NULL || size == 0)
        return GS_E_INVALID;
    const char *sep = strstr (entity_id, "::");
    int64_t ts;
    if (sep == NULL || sep[2] == '\0' || strlen (date) != 10 || gs__parse_ts (date, &ts) != 0)
        return GS_E_INVALID;
    int n = snprintf (out, size, "anomaly::%s:%s", sep + 2, date);
    if (n < 0 || (size_t) n >= size)
        return GS_E_TOOBIG;
    return GS_OK;
}

/* ------------------------------------------------------------ big arrays */

/* Asks for transparent huge pages on a large, not yet touched allocation
 * (the id index, node arrays, CSR): at 13M nodes the random accesses of the
 * build are dominated by TLB misses and page faults with 4 KiB pages. A hint
 * only: errors (no THP, small blocks) are ignored. */
static void
s_huge (void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t) 2 << 20;
    if (p == NULL || bytes < 4 * huge)
        return;
    uintptr_t a = ((uintptr_t) p + huge - 1) & ~(huge - 1);
    uintptr_t z = ((uintptr_t) p + bytes) & ~(huge - 1);
    if (z > a)
        (void) madvise ((void *) a, z - a, MADV_HUGEPAGE);
#else
    (void) p;
    (void) bytes;
#endif
}

static void *
s_malloc (size_t bytes)
{
    void *p = malloc (bytes ? bytes : 1);
    s_huge (p, bytes);
    return p;
}

static void *
s_calloc (size_t n, size_t size)
{
    void *p = calloc (n ? n : 1, size);
    s_huge (p, n * size);
    return p;
}

static void *
s_realloc (void *old, size_t bytes)
{
    void *p = realloc (old, bytes);
    s_huge (p, bytes);
    return p;
}

/* ---------------------------------------------------------------- builder */

/* The string arena (hundreds of MiB at scale) is a buf_t grown by realloc;
 * after each growth its new, untouched tail gets the huge-page hint too, so
 * filling it costs one fault per 2 MiB instead of per 4 KiB. */
static void
s_arena_hint (gs_builder_t *self)
{
#ifdef __GLIBC__
    if (buf_len (self->arena) < self->arena_hinted)
        return;
    void *p = (void *) buf_data (self->arena);
    size_t usable = malloc_usable_size (p);
    s_huge (p, usable);
    self->arena_hinted = usable > buf_len (self->arena) ? usable : buf_len (self->arena) + 1;
#else
    (void) self;
#endif
}

#define GS_DEFAULT_ARENA ((size_t) 2 << 30)
#define GS_HARD_ARENA ((size_t) UINT32_MAX - 1)

static int64_t
s_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
s_fnv (const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ull;
    }
    /* FNV's multiply never moves high bits down, so the low bits used as the
     * table index are weak for ids that differ only near the end; finish
     * with MurmurHash3's fmix64. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

gs_builder_t *
gs_builder_new (size_t max_arena)
{
    if (max_arena == 0)
        max_arena = GS_DEFAULT_ARENA;
    if (max_arena > GS_HARD_ARENA)
        max_arena = GS_HARD_ARENA;
    gs_builder_t *self = calloc (1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->arena = buf_new (max_arena);
    /* Offset 0 is the shared empty string. */
    if (self->arena == NULL || buf_append (self->arena, "", 1) != BUF_OK) {
        buf_destroy (&self->arena);
        free (self);
        return NULL;
    }
    self->t0_ns = s_mono_ns ();
    return self;
}

static void
s_free_nodes (gs_builder_t *self)
{
    free (self->id_off);
    free (self->label_off);
    free (self->detail_off);
    free (self->type);
    free (self->flags);
    free (self->cost);
    free (self->ts);
    self->id_off = self->label_off = self->detail_off = NULL;
    self->type = self->flags = NULL;
    self->cost = NULL;
    self->ts = NULL;
}

void
gs_builder_destroy (gs_builder_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    gs_builder_t *self = *self_p;
    buf_destroy (&self->arena);
    s_free_nodes (self);
    free (self->ht);
    free (self->txt);
    free (self->pairs);
    free (self);
    *self_p = NULL;
}

void
gs_builder_set_cancel (gs_builder_t *self, const atomic_int *flag)
{
    assert (self);
    self->cancel = flag;
}

static const char *
s_str (gs_builder_t *self, uint32_t off)
{
    return buf_data (self->arena) + off;
}

/* Table entries are (tag << 32) | (node + 1), tag = high half of the hash:
 * a probe touches the id's bytes only when the tags match. */
#define S_TAG(h) ((uint64_t) (h) & 0xffffffff00000000ull)

/* Finds the slot of `id` with hash h (or the empty slot where it would go). */
static size_t
s_slot (gs_builder_t *self, const char *id, uint64_t h)
{
    size_t mask = self->ht_cap - 1;
    size_t i = (size_t) h & mask;
    const uint64_t tag = S_TAG (h);
    const char *arena = buf_data (self->arena);
    for (;; i = (i + 1) & mask) {
        uint64_t e = self->ht[i];
        if (e == 0 || ((e & 0xffffffff00000000ull) == tag
                       && strcmp (arena + self->id_off[(uint32_t) e - 1], id) == 0))
            return i;
    }
}

static int
s_ht_resize (gs_builder_t *self, size_t ncap)
{
    uint64_t *nt = s_calloc (ncap, sizeof *nt);
    if (nt == NULL)
        return GS_E_NOMEM;
    uint64_t *old = self->ht;
    size_t ocap = self->ht_cap;
    self->ht = nt;
    self->ht_cap = ncap;
    const char *arena = buf_data (self->arena);
    for (size_t i = 0; i < ocap; i++) {
        uint64_t e = old[i];
        if (e == 0)
            continue;
        uint64_t h = s_fnv (arena + self->id_off[(uint32_t) e - 1]);
        size_t j = (size_t) h & (ncap - 1);
        while (nt[j] != 0)
            j = (j + 1) & (ncap - 1);
        nt[j] = e;
    }
    free (old);
    return GS_OK;
}

int
gs__builder_find (gs_builder_t *self, const char *id, uint32_t *out)
{
    if (self->ht_cap == 0)
        return GS_E_NOTFOUND;
    uint64_t e = self->ht[s_slot (self, id, s_fnv (id))];
    if (e == 0)
        return GS_E_NOTFOUND;
    *out = (uint32_t) e - 1;
    return GS_OK;
}

static int s_grow_nodes_to (gs_builder_t *self, uint32_t ncap);

void
gs__builder_prefetch (gs_builder_t *self, const char *id)
{
    if (self->ht_cap > 0)
        __builtin_prefetch (&self->ht[(size_t) s_fnv (id) & (self->ht_cap - 1)]);
}

int
gs__builder_reserve (gs_builder_t *self, size_t nodes)
{
    if (nodes > UINT32_MAX / 4)
        return GS_E_TOOBIG;
    size_t want = 1024;
    while (want < 2 * (nodes + 1))
        want *= 2;
    int rc = GS_OK;
    if (want > self->ht_cap)
        rc = s_ht_resize (self, want);
    if (rc == GS_OK && nodes > self->cap)
        rc = s_grow_nodes_to (self, (uint32_t) nodes);
    /* The text de-duplication table: room for nodes / 2 distinct texts
     * before its first doubling (each doubling rehashes every text, seconds
     * of cache misses at 13M nodes). */
    if (rc == GS_OK && self->txt_used == 0 && want / 2 > self->txt_cap) {
        uint64_t *t = s_calloc (want / 2, sizeof *t);
        if (t == NULL)
            return GS_E_NOMEM;
        free (self->txt);
        self->txt = t;
        self->txt_cap = want / 2;
    }
    /* Most rows carry one or two relations. */
    size_t pairs = nodes + nodes * 3 / 4;
    if (rc == GS_OK && pairs > self->pcap) {
        gs__pair_t *p = s_realloc (self->pairs, pairs * sizeof *p);
        if (p == NULL)
            return GS_E_NOMEM;
        self->pairs = p;
        self->pcap = pairs;
    }
    return rc;
}

bool
gs_builder_has_node (gs_builder_t *self, const char *id)
{
    uint32_t k;
    return id != NULL && gs__builder_find (self, id, &k) == GS_OK;
}

static int
s_grow_nodes_to (gs_builder_t *self, uint32_t ncap)
{
#define GROW(field)                                                          \
    do {                                                                     \
        void *p = s_realloc (self->field, (size_t) ncap * sizeof *self->field); \
        if (p == NULL)                                                       \
            return GS_E_NOMEM;                                               \
        self->field = p;                                                     \
    } while (0)
    GROW (id_off);
    GROW (label_off);
    GROW (detail_off);
    GROW (type);
    GROW (flags);
    GROW (cost);
    GROW (ts);
#undef GROW
    self->cap = ncap;
    return GS_OK;
}

static int
s_grow_nodes (gs_builder_t *self)
{
    if (self->n < self->cap)
        return GS_OK;
    if (self->cap >= UINT32_MAX / 2)
        return GS_E_TOOBIG;
    return s_grow_nodes_to (self, self->cap ? self->cap * 2 : 1024);
}

static int s_intern_hashed (gs_builder_t *self, const char *tmp, size_t n, uint32_t *off);

/* Appends a sanitised copy of `s` (control characters → space, cut at
 * `max` bytes on a UTF-8 character boundary) and returns its offset in *off;
 * empty or NULL strings share offset 0. */
static int
s_intern_text (gs_builder_t *self, const char *s, size_t max, bool dedup, uint32_t *off)
{
    char tmp[GS_DETAIL_MAX + 8];
    if (s == NULL || *s == '\0') {
        *off = 0;
        return GS_OK;
    }
    if (max > GS_DETAIL_MAX)
        max = GS_DETAIL_MAX;
    size_t n = strlen (s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        tmp[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
    }
    /* Trim trailing spaces left by sanitising. */
    while (n > 0 && tmp[n - 1] == ' ')
        n--;
    if (n == 0) {
        *off = 0;
        return GS_OK;
    }
    tmp[n] = '\0';
    if (!dedup) {
        size_t at = buf_len (self->arena);
        int rc = buf_append (self->arena, tmp, n + 1);
        if (rc != BUF_OK)
            return rc == BUF_E_TOOBIG ? GS_E_TOOBIG : GS_E_NOMEM;
        s_arena_hint (self);
        *off = (uint32_t) at;
        return GS_OK;
    }
    /* Rows arrive clustered (a run's events, a job's runs), so most texts
     * repeat one of the last few: check those first, in cache. */
    for (int i = 0; i < GS_MRU; i++)
        if (self->mru[i] != 0 && self->mru_len[i] == n && memcmp (s_str (self, self->mru[i]), tmp, n) == 0) {
            *off = self->mru[i];
            return GS_OK;
        }
    int rc0 = s_intern_hashed (self, tmp, n, off);
    if (rc0 == GS_OK) {
        self->mru[self->mru_next] = *off;
        self->mru_len[self->mru_next] = (uint32_t) n;
        self->mru_next = (self->mru_next + 1) % GS_MRU;
    }
    return rc0;
}

/* Global de-duplication of a sanitised text: identical texts share one copy.
 * Entries: (tag << 32) | offset. */
static int
s_intern_hashed (gs_builder_t *self, const char *tmp, size_t n, uint32_t *off)
{
    if ((self->txt_used + 1) * 2 > self->txt_cap) {
        size_t nc = self->txt_cap ? self->txt_cap * 2 : 4096;
        uint64_t *nt = s_calloc (nc, sizeof *nt);
        if (nt == NULL)
            return GS_E_NOMEM;
        for (size_t i = 0; i < self->txt_cap; i++) {
            if (self->txt[i] == 0)
                continue;
            size_t j = (size_t) s_fnv (s_str (self, (uint32_t) self->txt[i])) & (nc - 1);
            while (nt[j] != 0)
                j = (j + 1) & (nc - 1);
            nt[j] = self->txt[i];
        }
        free (self->txt);
        self->txt = nt;
        self->txt_cap = nc;
    }
    uint64_t h = s_fnv (tmp);
    const uint64_t tag = S_TAG (h);
    size_t mask = self->txt_cap - 1, slot = (size_t) h & mask;
    while (self->txt[slot] != 0) {
        uint64_t e = self->txt[slot];
        if ((e & 0xffffffff00000000ull) == tag && strcmp (s_str (self, (uint32_t) e), tmp) == 0) {
            *off = (uint32_t) e;
            return GS_OK;
        }
        slot = (slot + 1) & mask;
    }
    size_t at = buf_len (self->arena);
    int rc = buf_append (self->arena, tmp, n + 1);
    if (rc == BUF_E_TOOBIG)
        return GS_E_TOOBIG;
    if (rc != BUF_OK)
        return GS_E_NOMEM;
    s_arena_hint (self);
    *off = (uint32_t) at;
    self->txt[slot] = tag | *off;
    self->txt_used++;
    return GS_OK;
}

int
gs_builder_add_node (gs_builder_t *self, gs_node_type_t type, const char *pk, const char *label,
                     const char *detail, double cost, int64_t ts, unsigned flags)
{
    assert (self);
    char id[GS_ID_MAX];
    if ((unsigned) type >= GS_NT__COUNT || pk == NULL || *pk == '\0')
        return GS_E_INVALID;
    size_t tl = strlen (s_node_names[type]), pl = strlen (pk);
    if (tl + 2 + pl >= sizeof id)
        return GS_E_TOOBIG;
    memcpy (id, s_node_names[type], tl);
    memcpy (id + tl, "::", 2);
    memcpy (id + tl + 2, pk, pl + 1);
    size_t n = tl + 2 + pl;
    if (((size_t) self->n + 1) * 2 > self->ht_cap) {
        int rc = s_ht_resize (self, self->ht_cap ? self->ht_cap * 2 : 1024);
        if (rc != GS_OK)
            return rc;
    }
    uint64_t h = s_fnv (id);
    /* The index slot is a cache miss at scale: start loading it now and
     * intern the texts meanwhile (they stay unused in the arena if the id
     * turns out to be a duplicate, which loaders never produce). */
    __builtin_prefetch (&self->ht[(size_t) h & (self->ht_cap - 1)]);
    int rc = s_grow_nodes (self);
    if (rc != GS_OK)
        return rc;
    uint32_t k = self->n;
    /* Run and usage details (durations, DBUs) are nearly all distinct: not
     * worth a hash lookup each. Everything else repeats a lot. */
    bool dedup_detail = type != GS_NT_JOBRUN && type != GS_NT_USAGE && type != GS_NT_QUERY;
    if ((rc = s_intern_text (self, label, GS_LABEL_MAX, type != GS_NT_QUERY, &self->label_off[k])) != GS_OK
        || (rc = s_intern_text (self, detail, GS_DETAIL_MAX, dedup_detail, &self->detail_off[k])) != GS_OK)
        return rc;
    size_t slot = s_slot (self, id, h);
    if (self->ht[slot] != 0)
        return GS_E_DUPLICATE;
    size_t at = buf_len (self->arena);
    rc = buf_append (self->arena, id, n + 1);
    if (rc != BUF_OK)
        return rc == BUF_E_TOOBIG ? GS_E_TOOBIG : GS_E_NOMEM;
    s_arena_hint (self);
    self->id_off[k] = (uint32_t) at;
    self->type[k] = (uint8_t) type;
    self->flags[k] = (uint8_t) flags;
    self->cost[k] = cost == cost ? cost : 0.0;   /* NaN → 0 */
    self->ts[k] = ts;
    self->ht[slot] = S_TAG (h) | (k + 1);
    self->n++;
    return GS_OK;
}

void
gs__builder_dangling (gs_builder_t *self, gs_rel_t rel)
{
    self->stats.dangling_by_rel[rel]++;
    self->stats.dangling++;
}

int
gs__builder_add_pair (gs_builder_t *self, uint32_t src, uint32_t dst, gs_rel_t rel)
{
    if (self->np == self->pcap) {
        size_t ncap = self->pcap ? self->pcap * 2 : 4096;
        gs__pair_t *p = s_realloc (self->pairs, ncap * sizeof *p);
        if (p == NULL)
            return GS_E_NOMEM;
        self->pairs = p;
        self->pcap = ncap;
    }
    self->pairs[self->np++] = (gs__pair_t) {src, dst, (uint8_t) rel};
    return GS_OK;
}

int
gs_builder_add_edge (gs_builder_t *self, const char *src, const char *dst, gs_rel_t rel)
{
    assert (self);
    if ((unsigned) rel >= GS_REL__COUNT || src == NULL || dst == NULL)
        return GS_E_INVALID;
    uint32_t a, b;
    if (gs__builder_find (self, src, &a) != GS_OK || gs__builder_find (self, dst, &b) != GS_OK) {
        gs__builder_dangling (self, rel);
        return GS_E_NOTFOUND;
    }
    if (a == b)
        return GS_E_INVALID;
    return gs__builder_add_pair (self, a, b, rel);
}

int
gs_builder_add_anomaly (gs_builder_t *self, const char *entity_id, const char *date, double value,
                        const char *summary)
{
    assert (self);
    char id[GS_ID_MAX];
    int rc = gs_anomaly_id (entity_id, date, id, sizeof id);
    if (rc != GS_OK)
        return rc;
    uint32_t ent;
    if (gs__builder_find (self, entity_id, &ent) != GS_OK) {
        gs__builder_dangling (self, GS_REL_ANOMALY_ENTITY);
        return GS_E_NOTFOUND;
    }
    if (gs_builder_has_node (self, id))
        return GS_OK;
    const char *pk = id + strlen ("anomaly::");
    char label[GS_LABEL_MAX];
    snprintf (label, sizeof label, "cost anomaly on %s", date);
    int64_t ts = 0;
    (void) gs__parse_ts (date, &ts);
    rc = gs_builder_add_node (self, GS_NT_ANOMALY, pk, label, summary, value, ts, 0);
    if (rc != GS_OK)
        return rc;
    return gs_builder_add_edge (self, id, entity_id, GS_REL_ANOMALY_ENTITY);
}

/* ----------------------------------------------------------------- finish */

typedef struct {
    const char *id;
    uint32_t idx;
} s_sortid_t;

static int
s_cmp_sortid (const void *a, const void *b)
{
    return strcmp (((const s_sortid_t *) a)->id, ((const s_sortid_t *) b)->id);
}

static int
s_cmp_pair (const void *a, const void *b)
{
    const gs__pair_t *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (x->dst != y->dst)
        return x->dst < y->dst ? -1 : 1;
    return (int) x->rel - (int) y->rel;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Sorts a short run in place (insertion sort; qsort above 16 elements). */
static void
s_sort_u64 (uint64_t *v, size_t n)
{
    if (n > 16) {
        qsort (v, n, sizeof *v, s_cmp_u64);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Content hash for the version: 8 bytes per step (multiply-xorshift), then
 * the tail byte by byte. Deterministic across runs; not cryptographic. */
static uint64_t
s_hash_bytes (uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n >= 8) {
        uint64_t w;
        memcpy (&w, p, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    for (; n > 0; n--, p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

void
gs_graph_destroy (gs_graph_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    gs_graph_t *g = *self_p;
    if (g->map != NULL) {
        munmap (g->map, g->map_len);
        free (g);
        *self_p = NULL;
        return;
    }
    free (g->arena);
    free (g->id_off);
    free (g->label_off);
    free (g->detail_off);
    free (g->type);
    free (g->flags);
    free (g->cost);
    free (g->ts);
    free (g->row);
    free (g->nb);
    free (g->et);
    free (g);
    *self_p = NULL;
}

/* Permutes a builder array into a new graph array: out[inv[k]] = in[k]. */
#define PERMUTE(dst, src, n, inv)                                       \
    do {                                                                \
        (dst) = s_malloc ((size_t) (n) * sizeof *(dst));                \
        if ((dst) == NULL)                                              \
            goto oom;                                                   \
        for (uint32_t k_ = 0; k_ < (n); k_++)                           \
            (dst)[(inv)[k_]] = (src)[k_];                               \
    } while (0)

gs_graph_t *
gs_builder_finish (gs_builder_t **self_p, char *err, size_t errsz)
{
    assert (self_p && *self_p);
    gs_builder_t *b = *self_p;
    gs_graph_t *g = calloc (1, sizeof *g);
    s_sortid_t *ord = NULL;
    uint32_t *inv = NULL;
    uint64_t *packed = NULL;
    const int64_t t_finish = s_mono_ns ();
    if (g == NULL)
        goto oom;
    const uint32_t n = b->n;
    g->n = n;
    g->stats = b->stats;
    memcpy (g->data_version, b->data_version, sizeof g->data_version);
    memcpy (g->data_key, b->data_key, sizeof g->data_key);

    /* 1. Sort nodes by id. */
    ord = s_malloc ((size_t) n * sizeof *ord);
    inv = s_malloc ((size_t) n * sizeof *inv);
    if (ord == NULL || inv == NULL)
        goto oom;
    for (uint32_t k = 0; k < n; k++)
        ord[k] = (s_sortid_t) {s_str (b, b->id_off[k]), k};
    qsort (ord, n, sizeof *ord, s_cmp_sortid);
    for (uint32_t k = 0; k < n; k++)
        inv[ord[k].idx] = k;
    free (ord);
    ord = NULL;
    PERMUTE (g->id_off, b->id_off, n, inv);
    PERMUTE (g->label_off, b->label_off, n, inv);
    PERMUTE (g->detail_off, b->detail_off, n, inv);
    PERMUTE (g->type, b->type, n, inv);
    PERMUTE (g->flags, b->flags, n, inv);
    PERMUTE (g->cost, b->cost, n, inv);
    PERMUTE (g->ts, b->ts, n, inv);
    s_free_nodes (b);
    free (b->ht);
    b->ht = NULL;
    b->ht_cap = 0;
    free (b->txt);
    b->txt = NULL;
    b->txt_cap = 0;

    /* 2. Remap pairs to sorted node indexes. */
    for (size_t e = 0; e < b->np; e++) {
        b->pairs[e].src = inv[b->pairs[e].src];
        b->pairs[e].dst = inv[b->pairs[e].dst];
    }
    free (inv);
    inv = NULL;
    size_t np = b->np;

    /* 3. CSR: count, fill, sort each node's slice by (type, neighbour).
     * Duplicate pairs show up as equal neighbours in a slice; they are rare
     * (the loaders cannot produce them), so the pair list is only sorted and
     * de-duplicated, and the CSR rebuilt, when one is seen. */
    for (int attempt = 0;; attempt++) {
        g->row = s_calloc ((size_t) n + 1, sizeof *g->row);
        if (g->row == NULL)
            goto oom;
        for (size_t e = 0; e < np; e++) {
            g->row[b->pairs[e].src + 1]++;
            g->row[b->pairs[e].dst + 1]++;
        }
        for (uint32_t k = 0; k < n; k++)
            g->row[k + 1] += g->row[k];
        const uint64_t mm = g->row[n];
        packed = s_malloc (mm * sizeof *packed);
        uint64_t *fill = s_calloc ((size_t) n + 1, sizeof *fill);
        if (packed == NULL || fill == NULL) {
            free (fill);
            goto oom;
        }
        for (size_t e = 0; e < np; e++) {
            const gs__pair_t *p = &b->pairs[e];
            packed[g->row[p->src] + fill[p->src]++] = ((uint64_t) s_rels[p->rel].fwd << 32) | p->dst;
            packed[g->row[p->dst] + fill[p->dst]++] = ((uint64_t) s_rels[p->rel].rev << 32) | p->src;
        }
        free (fill);
        bool dup = false;
        for (uint32_t k = 0; k < n; k++) {
            uint64_t a = g->row[k], z = g->row[k + 1];
            s_sort_u64 (packed + a, (size_t) (z - a));
            for (uint64_t j = a + 1; j < z && !dup; j++)
                dup = packed[j] == packed[j - 1];
        }
        if (!dup || attempt > 0)
            break;
        free (packed);
        packed = NULL;
        free (g->row);
        g->row = NULL;
        qsort (b->pairs, np, sizeof *b->pairs, s_cmp_pair);
        size_t w = 0;
        for (size_t e = 0; e < np; e++) {
            if (w > 0 && s_cmp_pair (&b->pairs[w - 1], &b->pairs[e]) == 0) {
                g->stats.duplicate_edges++;
                continue;
            }
            b->pairs[w++] = b->pairs[e];
        }
        np = w;
    }
    const uint64_t m = g->row[n];
    g->nb = s_malloc (m * sizeof *g->nb);
    g->et = s_malloc (m * sizeof *g->et);
    if (g->nb == NULL || g->et == NULL)
        goto oom;
    for (uint64_t j = 0; j < m; j++) {
        g->nb[j] = (uint32_t) (packed[j] & 0xffffffffu);
        g->et[j] = (uint8_t) (packed[j] >> 32);
    }
    free (packed);
    packed = NULL;

    /* 4. Roll usage cost up (usage → jobrun and compute, then jobrun → job)
     * and count relations. */
    for (size_t e = 0; e < np; e++) {
        const gs__pair_t *p = &b->pairs[e];
        g->stats.pairs_by_rel[p->rel]++;
        if (p->rel == GS_REL_USAGE_RUN || p->rel == GS_REL_USAGE_COMPUTE)
            g->cost[p->dst] += g->cost[p->src];
    }
    for (size_t e = 0; e < np; e++)
        if (b->pairs[e].rel == GS_REL_RUN_JOB)
            g->cost[b->pairs[e].dst] += g->cost[b->pairs[e].src];
    free (b->pairs);
    b->pairs = NULL;

    /* 5. Arena, stats, ranking constants, version. */
    g->arena_len = buf_len (b->arena);
    g->arena = buf_detach (b->arena);
    if (g->arena == NULL)
        goto oom;
    double sum[GS_NT__COUNT] = {0};
    uint32_t cnt[GS_NT__COUNT] = {0};
    uint64_t h = 1469598103934665603ull;
    for (uint32_t k = 0; k < n; k++) {
        g->stats.nodes_by_type[g->type[k]]++;
        if (g->ts[k] > g->max_ts)
            g->max_ts = g->ts[k];
        if (g->cost[k] > 0) {
            sum[g->type[k]] += g->cost[k];
            cnt[g->type[k]]++;
        }
        const char *s = g->arena + g->id_off[k];
        h = s_hash_bytes (h, s, strlen (s) + 1);
        s = g->arena + g->label_off[k];
        h = s_hash_bytes (h, s, strlen (s) + 1);
        s = g->arena + g->detail_off[k];
        h = s_hash_bytes (h, s, strlen (s) + 1);
        h = s_hash_bytes (h, &g->cost[k], sizeof g->cost[k]);
        h = s_hash_bytes (h, &g->ts[k], sizeof g->ts[k]);
        h = s_hash_bytes (h, &g->flags[k], 1);
    }
    h = s_hash_bytes (h, g->nb, m * sizeof *g->nb);
    h = s_hash_bytes (h, g->et, m);
    for (int t = 0; t < GS_NT__COUNT; t++)
        g->type_cost_mean[t] = cnt[t] ? sum[t] / cnt[t] : 0.0;
    snprintf (g->version, sizeof g->version, "g1-%016llx", (unsigned long long) h);
    g->stats.nodes = n;
    g->stats.edges = m;
    g->stats.arena_bytes = g->arena_len;
    g->stats.memory_bytes = sizeof *g + g->arena_len
                            + (size_t) n * (3 * sizeof (uint32_t) + 2 + sizeof (double) + sizeof (int64_t))
                            + ((size_t) n + 1) * sizeof (uint64_t) + m * (sizeof (uint32_t) + 1);
    g->stats.load_ms = (double) (s_mono_ns () - b->t0_ns) / 1e6;
    g->stats.phase_ms[GS_PHASES - 1] = (double) (s_mono_ns () - t_finish) / 1e6;
    gs_builder_destroy (self_p);
    return g;

oom:
    free (ord);
    free (inv);
    free (packed);
    gs_graph_destroy (&g);
    gs_builder_destroy (self_p);
    gs__err (err, errsz, GS_E_NOMEM, "out of memory while freezing the graph");
    return NULL;
}

gs_graph_t *
gs_graph_load (const char *db_path, char *err, size_t errsz)
{
    gs_builder_t *b = gs_builder_new (0);
    if (b == NULL) {
        gs__err (err, errsz, GS_E_NOMEM, "out of memory");
        return NULL;
    }
    if (gs_builder_load_db (b, db_path, err, errsz) != GS_OK) {
        gs_builder_destroy (&b);
        return NULL;
    }
    return gs_builder_finish (&b, err, errsz);
}

/* ------------------------------------------------------------- accessors */

void
gs_graph_stats (const gs_graph_t *self, gs_stats_t *out)
{
    assert (self && out);
    *out = self->stats;
}

const char *
gs_graph_version (const gs_graph_t *self)
{
    return self->version;
}

const char *
gs_graph_data_key (const gs_graph_t *self)
{
    return self->data_key;
}

const char *
gs_graph_data_version (const gs_graph_t *self)
{
    return self->data_version;
}

uint32_t
gs_graph_node_count (const gs_graph_t *self)
{
    return self->n;
}

int64_t
gs_graph_find (const gs_graph_t *self, const char *id)
{
    if (id == NULL)
        return -1;
    uint32_t lo = 0, hi = self->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp (self->arena + self->id_off[mid], id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *
gs_node_id (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->arena + self->id_off[i];
}

gs_node_type_t
gs_node_type (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return (gs_node_type_t) self->type[i];
}

const char *
gs_node_label (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->arena + self->label_off[i];
}

const char *
gs_node_detail (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->arena + self->detail_off[i];
}

double
gs_node_cost (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->cost[i];
}

int64_t
gs_node_ts (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->ts[i];
}

unsigned
gs_node_flags (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return self->flags[i];
}

uint32_t
gs_node_degree (const gs_graph_t *self, uint32_t i)
{
    assert (i < self->n);
    return (uint32_t) (self->row[i + 1] - self->row[i]);
}

void
gs_node_adjacency (const gs_graph_t *self, uint32_t i, const uint32_t **nb, const uint8_t **et,
                   uint32_t *n)
{
    assert (i < self->n);
    *nb = self->nb + self->row[i];
    *et = self->et + self->row[i];
    *n = (uint32_t) (self->row[i + 1] - self->row[i]);
}
