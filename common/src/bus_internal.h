/* bus_internal.h — helpers shared by the files of the bus module
 * (bus_common.c, bus_server.c, bus_client.c, pubsub.c, svc.c). Not public. */
#ifndef COPILOT_BUS_INTERNAL_H
#define COPILOT_BUS_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "bus.h"
#include "env.h"
#include "metrics.h"

/* Formats the thread-local bus_last_error() text. */
void bus__set_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* ZMQ_RCVMORE of the last received frame. */
int bus__frame_more (void *zsock);
/* Receives and drops the remaining frames of the current message. */
void bus__discard_rest (void *zsock);
/* Sends npre prefix frames then the payload as one multipart message.
 * flags is 0 or ZMQ_DONTWAIT. BUS_OK, BUS_E_UNAVAILABLE (EAGAIN), BUS_E_ZMQ. */
int bus__send_raw (void *zsock, const void *const *pre, const size_t *pre_len, size_t npre,
                   const void *data, size_t len, int flags);
/* Same, encoding env first (BUS_E_CODEC when it cannot be encoded). */
int bus__send_env (void *zsock, const void *const *pre, const size_t *pre_len, size_t npre,
                   env_t *env, int flags);
/* Builds a Prometheus label body from up to three key/value pairs (k2/k3 may
 * be NULL); values are escaped. */
void bus__label (char *out, size_t size, const char *k1, const char *v1, const char *k2,
                 const char *v2, const char *k3, const char *v3);
/* The handler currently running on this thread's server (svc_defer). */
bus_request_t *bus__current_request (bus_server_t *srv);

#endif
