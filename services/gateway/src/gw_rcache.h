/* gw_rcache.h — the gateway's cache of rendered report responses.
 *
 * GET /api/v1/reports/{id} turns a report-service RunReportReply (often a few
 * hundred KiB of protobuf for thousands of rows) into JSON on every request.
 * This cache keeps the rendered JSON text per (report id, canonical
 * parameters), so a repeated view costs a lookup and a write instead of a bus
 * round trip, a protobuf decode and a JSON encode.
 *
 * Validity: an entry belongs to an epoch. gw_rcache_invalidate() starts a new
 * epoch (the gateway calls it on every data.* event and when report-service
 * comes back after being down); entries of older epochs are never served.
 * A response whose request was sent in an older epoch is not stored either
 * (gw_rcache_put compares the epoch captured at send time), so a reply
 * computed from data that changed in flight cannot enter the cache. Entries
 * also expire after ttl_ms, bounding staleness when report-service changes
 * its answers without a data event (for example restarted with another
 * configuration).
 *
 * Bounds: at most max_entries entries and max_bytes of body text; the least
 * recently used entries are evicted first. A body larger than max_bytes / 4
 * is not cached.
 *
 * ETag: a strong validator derived from the body (64-bit FNV-1a), so a client
 * revalidating with If-None-Match gets 304 exactly when the bytes are equal.
 *
 * Threading: loop thread only (no locking).
 */
#ifndef GW_RCACHE_H
#define GW_RCACHE_H

#include <stddef.h>
#include <stdint.h>

#define GW_RCACHE_OK 0
#define GW_RCACHE_E_NOMEM (-1)   /* allocation failed; nothing stored */
#define GW_RCACHE_E_STALE (-2)   /* the epoch moved since the request was sent */
#define GW_RCACHE_E_TOO_BIG (-3) /* body larger than a quarter of the budget */
#define GW_RCACHE_E_ARG (-4)     /* NULL or empty key/body */

typedef struct _gw_rcache_t gw_rcache_t;

/* One cached response; borrowed from the cache, valid until the next call
 * that mutates it (put, invalidate, destroy). */
typedef struct {
    const char *body;      /* JSON text, not NUL-terminated */
    size_t len;
    const char *etag;      /* quoted strong ETag, e.g. "\"r-1f2e...\"" */
} gw_rcache_hit_t;

/* New empty cache. max_entries >= 1, max_bytes >= 1, ttl_ms >= 1.
 * NULL on OOM or bad arguments. */
gw_rcache_t *gw_rcache_new (int max_entries, size_t max_bytes, int64_t ttl_ms);

/* Frees the cache and sets *self_p to NULL. NULL-safe. */
void gw_rcache_destroy (gw_rcache_t **self_p);

/* The current epoch; capture it when the backend request is sent. */
uint64_t gw_rcache_epoch (const gw_rcache_t *self);

/* Starts a new epoch: every entry stored so far is dropped. */
void gw_rcache_invalidate (gw_rcache_t *self);

/* Looks `key` up at monotonic time now_ms. Returns 1 and fills *hit (and
 * marks the entry most recently used) when a live entry exists, 0 when not
 * (expired entries are dropped). */
int gw_rcache_get (gw_rcache_t *self, const char *key, int64_t now_ms, gw_rcache_hit_t *hit);

/* Stores a copy of body[0..len) under `key` as of epoch `epoch` (the value
 * gw_rcache_epoch returned when the request was sent) at time now_ms,
 * replacing an older entry for the key. Fills *etag_out (size >= 40) with
 * the entry's ETag on success. 0 on success, GW_RCACHE_E_* otherwise. */
int gw_rcache_put (gw_rcache_t *self, const char *key, uint64_t epoch, const char *body,
                   size_t len, int64_t now_ms, char *etag_out, size_t etag_size);

/* Writes the ETag of body[0..len) to out (same format as gw_rcache_put). */
void gw_rcache_etag (const char *body, size_t len, char *out, size_t size);

/* Entries and body bytes held now; lookups that hit and missed so far. */
void gw_rcache_stats (const gw_rcache_t *self, int *entries, size_t *bytes, uint64_t *hits,
                      uint64_t *misses);

/* Human-readable text for a GW_RCACHE_E_* code. */
const char *gw_rcache_strerror (int code);

#endif
