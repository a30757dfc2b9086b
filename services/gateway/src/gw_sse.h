/* gw_sse.h — Server-Sent Events hub: clients, replay ring, heartbeats.
 *
 * Every event is formatted once ("id: <id>\nevent: <type>\ndata: <json>\n\n")
 * and kept in a bounded ring (the last `ring_size` events) for resumption;
 * then written to every live client. Clients are streams of gw_http: a
 * client whose unsent bytes exceed the stream cap is closed (it reconnects
 * with Last-Event-ID and catches up). A timer writes ": ping" comments.
 *
 * Resume: gw_sse_replay_ring() replays the ring after a Last-Event-ID. An id
 * not in the ring can be served by the application from elsewhere (the
 * commentary history): it puts the client on hold (live events are queued,
 * bounded), sends the replayed events, then releases the hold; queued events
 * already replayed (same id) are skipped.
 *
 * Loop thread only.
 */
#ifndef GW_SSE_H
#define GW_SSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "buf.h"
#include "gw_http.h"

typedef struct _gw_sse_t gw_sse_t;
typedef struct _gw_sse_client_t gw_sse_client_t;

/* New hub on `loop`: keeps `ring_size` events (>= 1), pings every ping_ms
 * (0 = never), advertises retry_ms to browsers. NULL on OOM. */
gw_sse_t *gw_sse_new (uv_loop_t *loop, size_t ring_size, int64_t ping_ms, int64_t retry_ms);
/* Ends every client stream, stops the timer (closed via the loop). NULL-safe. */
void gw_sse_destroy (gw_sse_t **self_p);

/* Formats one event into out: id and type must not contain CR/LF (they are
 * refused), data is one line of JSON (CR/LF in it are refused). 0 or -1. */
int gw_sse_format (buf_t *out, const char *id, const char *type, const char *data);

/* Appends an event to the ring and sends it to every client not on hold
 * (clients on hold queue it). 0 or -1 (bad id/type/data or OOM). */
int gw_sse_publish (gw_sse_t *self, const char *id, const char *type, const char *data);

/* Starts the event stream on req (200 text/event-stream + "retry:") and
 * registers the client. NULL when the stream cannot start (the request is
 * then already finished or aborted). */
gw_sse_client_t *gw_sse_open (gw_sse_t *self, gw_req_t *req);

/* Replays ring events after `last_id` to the client. Returns 1 when last_id
 * was found (events after it were sent), 0 when it is not in the ring
 * (nothing sent), -1 when the client failed. */
int gw_sse_replay_ring (gw_sse_t *self, gw_sse_client_t *c, const char *last_id);
/* Replays the whole ring. 0 or -1. */
int gw_sse_replay_all (gw_sse_t *self, gw_sse_client_t *c);

/* Hold / send / release, see the design note above. gw_sse_send writes one
 * event to this client only (not the ring). All return 0 or -1 (client gone). */
void gw_sse_hold (gw_sse_client_t *c);
int gw_sse_send (gw_sse_client_t *c, const char *id, const char *type, const char *data);
int gw_sse_comment (gw_sse_client_t *c, const char *text);
int gw_sse_release (gw_sse_client_t *c);

/* Callback run when a client goes away (closed, overflowed, hub destroyed);
 * lets the application drop references (e.g. a pending replay RPC). */
typedef void (*gw_sse_gone_fn) (gw_sse_client_t *c, void *arg);
void gw_sse_client_on_gone (gw_sse_client_t *c, gw_sse_gone_fn fn, void *arg);

/* True when an event with this id is in the ring (linear scan, newest first). */
bool gw_sse_in_ring (const gw_sse_t *self, const char *id);

/* Number of connected clients; events in the ring; id of the newest event
 * ("" when empty). */
size_t gw_sse_clients (const gw_sse_t *self);
size_t gw_sse_ring_len (const gw_sse_t *self);
const char *gw_sse_last_id (const gw_sse_t *self);

#endif
