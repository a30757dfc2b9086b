/* pubsub.h — event publishing and subscribing through the event bus
 * (XSUB/XPUB proxy, services/event-bus).
 *
 * Frames: [topic][Envelope]. Topics are versioned dotted names:
 *   alert.v1.<severity>   commentary.v1.<report_id>   data.changed.v1
 *   hb.<family>.<publisher_id>   (heartbeats, sent by this module)
 * The topic FAMILY is the text before the first '.' ("alert", "commentary",
 * "data"). Subscriptions are prefix matches done by zmq.
 *
 * Sequence numbers: a publisher keeps one STREAM per family; each stream has
 * its own publisher_id "<family>@<service>-<pid>-<4 hex>" (unique per process
 * start, so a restarted publisher is a new stream) and a monotonic seq that
 * starts at 1. header.publisher_id and header.seq carry them. Per-family
 * streams make gap detection exact for a subscriber that subscribes whole
 * families ("alert."), which is how every daemon subscribes.
 *
 * Heartbeats: every stream publishes Heartbeat{publisher_id, service,
 * last_seq, unix_ms} on "hb.<family>.<publisher_id>" every second (header.seq
 * = last_seq; heartbeats do not consume sequence numbers). A subscriber of a
 * whole family subscribes "hb.<family>." too, so it also detects a lost LAST
 * message and notices dead publishers.
 *
 * Gap detection (subscriber): per publisher_id it remembers the last seq of
 * families it subscribed as a whole (prefix "" or "<family>."). A message
 * with seq > last + 1 (or a heartbeat with last_seq > last) counts
 * (seq - last - 1) missed messages: pubsub_sub_missed(), the gap callback, a
 * WARN log line and copilot_pubsub_missed_total{service}. The first message
 * of an unknown publisher starts tracking (a late joiner is not a gap).
 * Messages are delivered even after a gap; resync (snapshot) is the
 * application's job (c-patterns §2.6).
 *
 * Endpoints: "ipc://…"/"tcp://…" connect (the normal case: the bus binds);
 * a leading '@' binds instead (tests without a bus), e.g. "@inproc://ev".
 *
 * Single-threaded objects; errors are BUS_E_* codes from bus.h.
 * Metrics: copilot_pub_messages_total{service}, copilot_pub_dropped_total{service}
 * (HWM reached: PUB drops), copilot_sub_messages_total{service},
 * copilot_pubsub_missed_total{service}, copilot_bad_frames_total{service,reason}.
 */
#ifndef COPILOT_PUBSUB_H
#define COPILOT_PUBSUB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "bus.h"
#include "env.h"

/* Heartbeat period of every stream. */
#define PUBSUB_HEARTBEAT_MS 1000
/* Longest accepted topic (bytes, excluding NUL). */
#define PUBSUB_TOPIC_MAX 200

/* =========================== publisher ==================================== */

typedef struct _pubsub_pub_t pubsub_pub_t;

/* PUB socket in `zctx` connected to (or bound at, with '@') `endpoint`;
 * `service` names the publisher (copied). NULL on failure (bus_last_error()). */
pubsub_pub_t *pubsub_pub_new (void *zctx, const char *endpoint, const char *service);
/* Sends a final heartbeat for every stream, detaches from uv, closes the
 * socket (LINGER 0). NULL-safe; sets *self_p = NULL. */
void pubsub_pub_destroy (pubsub_pub_t **self_p);

/* Creates the stream of `family` now (seq 0) so heartbeats announce it before
 * the first message; optional. 0 or BUS_E_INVALID / BUS_E_NOMEM. */
int pubsub_pub_declare (pubsub_pub_t *self, const char *family);

/* Publishes env on `topic` (not consumed). Stamps header.schema_version,
 * publisher_id, seq (next of the topic's family stream), sent_unix_ms and
 * sender. Never blocks. Returns 0; BUS_E_UNAVAILABLE when the socket's HWM
 * dropped it (the seq is still consumed, so subscribers see the gap);
 * BUS_E_INVALID for an empty/too long topic or one starting with "hb.";
 * BUS_E_CODEC; BUS_E_ZMQ. */
int pubsub_publish (pubsub_pub_t *self, const char *topic, env_t *env);

/* The stream id and last assigned seq of a family (0 if none published yet);
 * NULL / 0 when the stream does not exist. */
const char *pubsub_pub_id (pubsub_pub_t *self, const char *family);
uint64_t pubsub_pub_seq (pubsub_pub_t *self, const char *family);

/* Sends heartbeats for every stream now. 0 or a BUS_E_* code. */
int pubsub_pub_heartbeat (pubsub_pub_t *self);
/* For your own loop: sends heartbeats when due; returns ms until the next. */
int pubsub_pub_tick (pubsub_pub_t *self);
/* Sends heartbeats from a uv timer on `loop`. 0 or a BUS_E_* code. */
int pubsub_pub_attach_uv (pubsub_pub_t *self, uv_loop_t *loop);

/* =========================== subscriber =================================== */

typedef struct _pubsub_sub_t pubsub_sub_t;

/* Called for every message whose topic matches a prefix the caller subscribed
 * (heartbeats only when the caller subscribed a prefix matching them).
 * `env` is OWNED BY THE CALLBACK (free with env_free). */
typedef void (*pubsub_msg_fn) (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg);
/* Called when a gap is detected: `missed` messages of `publisher_id` between
 * `last_seq` and `seq` were not received. */
typedef void (*pubsub_gap_fn) (pubsub_sub_t *sub, const char *publisher_id, uint64_t last_seq,
                               uint64_t seq, uint64_t missed, void *arg);

/* SUB socket connected to (or bound at, with '@') `endpoint`. `fn` receives
 * messages. NULL on failure. */
pubsub_sub_t *pubsub_sub_new (void *zctx, const char *endpoint, const char *service,
                              pubsub_msg_fn fn, void *arg);
void pubsub_sub_destroy (pubsub_sub_t **self_p);

/* Subscribes a topic prefix ("" = everything). A whole-family prefix
 * ("alert.") also subscribes its heartbeats ("hb.alert.") for gap/liveness
 * tracking. 0 or BUS_E_INVALID / BUS_E_ZMQ / BUS_E_NOMEM. */
int pubsub_sub_subscribe (pubsub_sub_t *self, const char *prefix);
void pubsub_sub_set_gap_fn (pubsub_sub_t *self, pubsub_gap_fn fn, void *arg);

void *pubsub_sub_socket (pubsub_sub_t *self);
/* Non-blocking: receives ONE message. 1 consumed, 0 none waiting, BUS_E_ZMQ.
 * Malformed frames are counted and dropped. */
int pubsub_sub_recv_one (pubsub_sub_t *self);
/* Blocking helper: waits up to timeout_ms (-1 forever) then drains. Returns
 * messages consumed or BUS_E_ZMQ (EINTR → 0). */
int pubsub_sub_poll (pubsub_sub_t *self, int timeout_ms);
/* Drives the subscriber from a uv loop (bus_uv.h). */
int pubsub_sub_attach_uv (pubsub_sub_t *self, uv_loop_t *loop);

/* Totals since creation: data messages delivered, messages missed (gaps). */
uint64_t pubsub_sub_received (const pubsub_sub_t *self);
uint64_t pubsub_sub_missed (const pubsub_sub_t *self);
/* Last seq seen from publisher_id: 0 and *out set, or BUS_E_INVALID if unknown. */
int pubsub_sub_last_seq (const pubsub_sub_t *self, const char *publisher_id, uint64_t *out);
/* Monotonic ms when publisher_id was last heard (data or heartbeat), or -1. */
int64_t pubsub_sub_last_heard (const pubsub_sub_t *self, const char *publisher_id);

/* Family of a topic ("alert.v1.high" → "alert") into out. 0 or -1 when the
 * topic has no '.' or the family does not fit. */
int pubsub_topic_family (const char *topic, char *out, size_t size);

#endif
