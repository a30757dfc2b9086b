/* bus_uv.h — drive a ZeroMQ socket from a libuv loop without stalling.
 *
 * ZMQ_FD is edge-triggered and any zmq_send/zmq_recv/ZMQ_EVENTS read can
 * consume the edge, so a naive uv_poll callback stalls (c-patterns §3.2:
 * 0 of 20 000 messages). Design (§3.3), per socket:
 *   - uv_poll_t on ZMQ_FD: its callback does nothing, it only wakes the loop;
 *   - uv_prepare_t: before the loop may block, reads ZMQ_EVENTS; if input is
 *     pending it starts the idle handle so the loop polls with zero timeout;
 *   - uv_check_t: after polling, calls the read callback up to `budget`
 *     times (default 256, fairness with other handles), then re-reads
 *     ZMQ_EVENTS and starts or stops the idle handle;
 *   - uv_idle_t: empty callback; while active the loop never sleeps.
 *
 * Single-threaded: all calls on the loop thread. The zmq socket is never
 * closed by this module; close it after bus_uv_destroy() (which stops the poll
 * handle synchronously, so the fd is out of epoll before zmq_close).
 */
#ifndef COPILOT_BUS_UV_H
#define COPILOT_BUS_UV_H
#include <stdbool.h>
#include <uv.h>

typedef struct _bus_uv_t bus_uv_t;

/* Reads and handles ONE message (all frames) from zsock with ZMQ_DONTWAIT.
 * Returns 1 when a message was consumed, 0 when nothing was waiting (EAGAIN),
 * negative on a socket error (reading stops for this pass). Matches
 * bus_server_recv_one / bus_client_recv_one / pubsub_sub_recv_one. */
typedef int (*bus_uv_read_fn) (void *arg);

/* Starts watching `zsock` on `loop`; `read` is called with `arg` from the
 * check phase while input is pending. NULL on failure (zmq/uv error; details
 * logged). */
bus_uv_t *bus_uv_new (uv_loop_t *loop, void *zsock, bus_uv_read_fn read, void *arg);
/* Stops all four handles now and closes them; the memory is released by the
 * loop's close callbacks (run the loop afterwards, as libuv requires).
 * NULL-safe; sets *self_p = NULL. */
void bus_uv_destroy (bus_uv_t **self_p);

/* Messages read per check pass (>= 1). Default 256. */
void bus_uv_set_budget (bus_uv_t *self, int budget);
/* Counters for tests/metrics: total messages read, number of check passes. */
unsigned long long bus_uv_read_count (const bus_uv_t *self);
unsigned long long bus_uv_pass_count (const bus_uv_t *self);

/* Schedules an extra check pass on the next loop iteration (starts the idle
 * handle). Call after sending from outside the loop's own callbacks if you
 * want input re-examined immediately; never required for correctness, since
 * prepare re-reads ZMQ_EVENTS before every sleep. */
void bus_uv_kick (bus_uv_t *self);

#endif
