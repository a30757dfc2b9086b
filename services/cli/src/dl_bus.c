/* dl_bus.c — data.changed publication (see dl_bus.h).
 *
 * A short-lived PUB socket: connect to the bus's XSUB side, give the
 * connection ~150 ms to complete (a PUB drops messages sent before the
 * connection exists: the zguide's "slow joiner"), publish one envelope, give
 * the I/O thread ~100 ms to flush, close. The CLI is a one-shot process, so
 * a per-call socket is simpler than a cached one and costs a fraction of a
 * second only when a bus is actually running. */
#include "dl_bus.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "cfg.h"
#include "dl_common.h"
#include "env.h"
#include "pubsub.h"
#include "svc.h"

static void
s_sleep_ms (long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) != 0)
        ;
}

int
dl_bus_publish_data_changed (const char *db_path, int64_t data_version, const char *reason,
                             int64_t rows_written)
{
    const char *err = NULL;
    cfg_t *cfg = cfg_new (NULL, &err);
    if (!cfg)
        return dl_fail (DL_E_UNAVAILABLE, "config: %s", err ? err : "?");
    char ep[512];
    int rc = svc_bus_endpoints (cfg, ep, NULL, sizeof ep);
    cfg_destroy (&cfg);
    if (rc != 0)
        return dl_fail (DL_E_UNAVAILABLE, "no event-bus endpoint");
    struct stat sb;
    if (strncmp (ep, "ipc://", 6) == 0 && stat (ep + 6, &sb) != 0)
        return dl_fail (DL_E_UNAVAILABLE, "no event bus at %s", ep);

    char abs[PATH_MAX];
    const char *path = realpath (db_path, abs) ? abs : db_path;
    void *ctx = zmq_ctx_new ();
    if (!ctx)
        return dl_fail (DL_E_IO, "zmq context");
    pubsub_pub_t *pub = pubsub_pub_new (ctx, ep, "copilot-cli");
    if (!pub) {
        zmq_ctx_term (ctx);
        return dl_fail (DL_E_UNAVAILABLE, "cannot connect to the event bus at %s", ep);
    }
    s_sleep_ms (150);
    env_t *env = env_new ("copilot-cli");
    Copilot__V1__DataChanged *dc = env ? env_msg_new (&copilot__v1__data_changed__descriptor) : NULL;
    int out = DL_OK;
    if (!env || !dc) {
        out = dl_fail (DL_E_NOMEM, "envelope");
    } else {
        env->body_case = COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED;
        env->data_changed = dc;
        dc = NULL;
        if (env_set_str (&env->data_changed->db_path, path)
            || env_set_strf (&env->data_changed->data_version, "%lld", (long long) data_version)
            || env_set_str (&env->data_changed->reason, reason ? reason : ""))
            out = dl_fail (DL_E_NOMEM, "envelope fields");
        env->data_changed->rows_written = rows_written;
        if (!out && pubsub_publish (pub, "data.changed.v1", env) != 0)
            out = dl_fail (DL_E_IO, "publish data.changed.v1 failed");
        if (!out)
            s_sleep_ms (100);
    }
    if (dc)
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) dc, NULL);
    env_free (env);
    pubsub_pub_destroy (&pub);
    zmq_ctx_term (ctx);
    return out;
}
