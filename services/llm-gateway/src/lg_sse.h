/* lg_sse.h — incremental Server-Sent Events parser (WHATWG event-stream
 * rules) for streamed chat completions.
 *
 * Bytes are fed as they arrive; lines may be split anywhere, including inside
 * a CRLF pair. Each complete event (terminated by a blank line) is delivered
 * to the callback with its `event:` name ("message" when absent) and its
 * `data:` lines joined by '\n'. Comment lines (":" ...) and unknown fields are
 * ignored. A line or an event larger than the cap fails with LG_E_TOOBIG.
 * Not thread-safe (one owner).
 */
#ifndef LG_SSE_H
#define LG_SSE_H
#include <stddef.h>

typedef struct _lg_sse_t lg_sse_t;

/* Event callback: return 0 to continue, or a negative LG_E_* code, which
 * lg_sse_feed then returns (parsing stops). `data` is NUL-terminated. */
typedef int (*lg_sse_fn) (void *arg, const char *event, const char *data, size_t len);

/* New parser; `max_event` caps one line and one event's data. NULL on OOM. */
lg_sse_t *lg_sse_new (size_t max_event, lg_sse_fn fn, void *arg);
void lg_sse_destroy (lg_sse_t **self_p);

/* Feeds `n` bytes. 0, LG_E_TOOBIG, LG_E_NOMEM, or the callback's code. */
int lg_sse_feed (lg_sse_t *self, const char *p, size_t n);

/* End of stream. Per the spec an unterminated event is discarded; returns 1
 * when such a partial event (or partial line) was pending, else 0. */
int lg_sse_finish (lg_sse_t *self);

/* Number of events delivered so far. */
size_t lg_sse_events (const lg_sse_t *self);
#endif
