/* gw_rcache.c — bounded LRU cache of rendered report responses.
 *
 * Design: a fixed array of max_entries slots, searched linearly (the cache
 * holds tens of entries — one per report view in use — so a scan of short
 * keys costs far less than the JSON encode it saves, and it keeps eviction
 * order trivially deterministic). Each slot owns a copy of its key and body.
 * Recency is a monotonically increasing use counter; eviction picks the
 * smallest. The epoch counter implements whole-cache invalidation in O(n)
 * by freeing every slot. See gw_rcache.h for the validity rules.
 */
#include "gw_rcache.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    char *body;
    size_t len;
    char etag[40];
    int64_t stored_ms;
    uint64_t used;        /* recency stamp */
} s_entry_t;

struct _gw_rcache_t {
    s_entry_t *slots;
    int max_entries;
    size_t max_bytes;
    int64_t ttl_ms;
    uint64_t epoch;
    uint64_t clock;       /* recency counter */
    size_t bytes;
    int entries;
    uint64_t hits, misses;
};

gw_rcache_t *
gw_rcache_new (int max_entries, size_t max_bytes, int64_t ttl_ms)
{
    if (max_entries < 1 || max_bytes < 1 || ttl_ms < 1)
        return NULL;
    gw_rcache_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc ((size_t) max_entries, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->max_entries = max_entries;
    self->max_bytes = max_bytes;
    self->ttl_ms = ttl_ms;
    self->epoch = 1;
    return self;
}

static void
s_drop (gw_rcache_t *self, s_entry_t *e)
{
    if (!e->key)
        return;
    self->bytes -= e->len;
    self->entries--;
    free (e->key);
    free (e->body);
    memset (e, 0, sizeof *e);
}

void
gw_rcache_destroy (gw_rcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_rcache_t *self = *self_p;
    for (int i = 0; i < self->max_entries; i++)
        s_drop (self, &self->slots[i]);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

uint64_t
gw_rcache_epoch (const gw_rcache_t *self)
{
    return self->epoch;
}

void
gw_rcache_invalidate (gw_rcache_t *self)
{
    for (int i = 0; i < self->max_entries; i++)
        s_drop (self, &self->slots[i]);
    self->epoch++;
}

void
gw_rcache_etag (const char *body, size_t len, char *out, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) body[i];
        h *= 0x100000001b3ULL;
    }
    snprintf (out, size, "\"r-%016llx-%zx\"", (unsigned long long) h, len);
}

static s_entry_t *
s_find (gw_rcache_t *self, const char *key)
{
    for (int i = 0; i < self->max_entries; i++)
        if (self->slots[i].key && strcmp (self->slots[i].key, key) == 0)
            return &self->slots[i];
    return NULL;
}

int
gw_rcache_get (gw_rcache_t *self, const char *key, int64_t now_ms, gw_rcache_hit_t *hit)
{
    s_entry_t *e = key ? s_find (self, key) : NULL;
    if (e && now_ms - e->stored_ms >= self->ttl_ms) {
        s_drop (self, e);
        e = NULL;
    }
    if (!e) {
        self->misses++;
        return 0;
    }
    self->hits++;
    e->used = ++self->clock;
    hit->body = e->body;
    hit->len = e->len;
    hit->etag = e->etag;
    return 1;
}

/* The least recently used occupied slot, or NULL when the cache is empty. */
static s_entry_t *
s_lru (gw_rcache_t *self)
{
    s_entry_t *best = NULL;
    for (int i = 0; i < self->max_entries; i++) {
        s_entry_t *e = &self->slots[i];
        if (e->key && (!best || e->used < best->used))
            best = e;
    }
    return best;
}

int
gw_rcache_put (gw_rcache_t *self, const char *key, uint64_t epoch, const char *body,
               size_t len, int64_t now_ms, char *etag_out, size_t etag_size)
{
    if (!key || !key[0] || !body || !len)
        return GW_RCACHE_E_ARG;
    if (epoch != self->epoch)
        return GW_RCACHE_E_STALE;
    if (len > self->max_bytes / 4)
        return GW_RCACHE_E_TOO_BIG;
    char *k = strdup (key);
    char *b = malloc (len);
    if (!k || !b) {
        free (k);
        free (b);
        return GW_RCACHE_E_NOMEM;
    }
    memcpy (b, body, len);
    s_entry_t *old = s_find (self, key);
    if (old)
        s_drop (self, old);
    while (self->entries > 0
           && (self->entries >= self->max_entries || self->bytes + len > self->max_bytes))
        s_drop (self, s_lru (self));
    s_entry_t *e = NULL;
    for (int i = 0; i < self->max_entries && !e; i++)
        if (!self->slots[i].key)
            e = &self->slots[i];
    e->key = k;
    e->body = b;
    e->len = len;
    e->stored_ms = now_ms;
    e->used = ++self->clock;
    gw_rcache_etag (b, len, e->etag, sizeof e->etag);
    self->bytes += len;
    self->entries++;
    if (etag_out && etag_size)
        snprintf (etag_out, etag_size, "%s", e->etag);
    return GW_RCACHE_OK;
}

void
gw_rcache_stats (const gw_rcache_t *self, int *entries, size_t *bytes, uint64_t *hits,
                 uint64_t *misses)
{
    if (entries)
        *entries = self->entries;
    if (bytes)
        *bytes = self->bytes;
    if (hits)
        *hits = self->hits;
    if (misses)
        *misses = self->misses;
}

const char *
gw_rcache_strerror (int code)
{
    switch (code) {
    case GW_RCACHE_OK: return "ok";
    case GW_RCACHE_E_NOMEM: return "out of memory";
    case GW_RCACHE_E_STALE: return "data changed while the report was computed";
    case GW_RCACHE_E_TOO_BIG: return "response larger than a quarter of the cache budget";
    case GW_RCACHE_E_ARG: return "empty key or body";
    default: return "unknown gw_rcache error";
    }
}
