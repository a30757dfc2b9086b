/* bus_common.c — pieces shared by bus_server.c, bus_client.c and pubsub.c:
 * error texts, the thread-local "last error" of constructors, standard
 * socket options and ipc endpoint preparation.
 *
 * Socket defaults (c-patterns §2.2): LINGER 0 so closing never waits,
 * MAXMSGSIZE slightly above the envelope cap so zmq drops oversize frames
 * before we ever allocate for them (env_decode re-checks), reconnect
 * back-off 100 ms doubling to 1 s (a restarted daemon is found again within
 * a second, which the 2 s recovery target of the fault tests needs: a
 * retrieval worker re-registers only once its DEALER reconnected), and
 * IMMEDIATE on clients so requests are
 * only queued to completed connections.
 */
#include "bus.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "bus_internal.h"
#include "str.h"

static _Thread_local char s_last_error[512];

const char *bus_strerror (int code)
{
    switch (code) {
    case BUS_OK: return "ok";
    case BUS_E_ZMQ: return "zeromq call failed";
    case BUS_E_NOMEM: return "out of memory";
    case BUS_E_CODEC: return "envelope could not be encoded or decoded";
    case BUS_E_DEADLINE: return "deadline exceeded";
    case BUS_E_UNAVAILABLE: return "peer unavailable";
    case BUS_E_INVALID: return "invalid argument";
    case BUS_E_BUSY: return "too many requests in flight";
    case BUS_E_CLOSED: return "closed";
    default: return "unknown bus error";
    }
}

const char *bus_last_error (void)
{
    return s_last_error;
}

void bus__set_error (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (s_last_error, sizeof s_last_error, fmt, ap);
    va_end (ap);
}

int bus_socket_defaults (void *zsock, bool client)
{
    int linger = 0;
    int64_t maxmsg = (int64_t) ENV_MAX_BYTES + 1024;
    int ivl = 100, ivl_max = 1000;
    if (zmq_setsockopt (zsock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt (zsock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_setsockopt (zsock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0
        || zmq_setsockopt (zsock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0) {
        bus__set_error ("setsockopt: %s", zmq_strerror (errno));
        return BUS_E_ZMQ;
    }
    if (client) {
        int one = 1;
        if (zmq_setsockopt (zsock, ZMQ_IMMEDIATE, &one, sizeof one) != 0) {
            bus__set_error ("setsockopt IMMEDIATE: %s", zmq_strerror (errno));
            return BUS_E_ZMQ;
        }
    }
    return BUS_OK;
}

void bus_socket_close (void **zsock_p)
{
    if (!zsock_p || !*zsock_p)
        return;
    int linger = 0;
    zmq_setsockopt (*zsock_p, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (*zsock_p);
    *zsock_p = NULL;
}

static int s_mkdirs (char *path)
{
    /* mkdir -p with mode 0700 for each missing component. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir (path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir (path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int bus_prepare_endpoint (const char *endpoint)
{
    if (!endpoint)
        return BUS_E_INVALID;
    if (!str_starts_with (endpoint, "ipc://"))
        return BUS_OK;
    const char *path = endpoint + 6;
    struct sockaddr_un sa;
    if (strlen (path) >= sizeof sa.sun_path) {
        bus__set_error ("ipc path too long (max %zu bytes): %s", sizeof sa.sun_path - 1, path);
        return BUS_E_INVALID;
    }
    if (path[0] == '@' || path[0] == '\0')
        return BUS_OK;   /* abstract namespace: no file */
    char dir[sizeof sa.sun_path];
    str_copy (dir, sizeof dir, path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (s_mkdirs (dir) != 0) {
            bus__set_error ("cannot create directory %s: %s", dir, strerror (errno));
            return BUS_E_INVALID;
        }
    }
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISSOCK (st.st_mode))
        return BUS_OK;
    /* A socket file exists: is anybody listening? zmq would silently unlink
     * it and steal the address from a live daemon. */
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return BUS_OK;
    memset (&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    str_copy (sa.sun_path, sizeof sa.sun_path, path);
    int rc = connect (fd, (struct sockaddr *) &sa, sizeof sa);
    int e = errno;
    close (fd);
    if (rc == 0) {
        bus__set_error ("endpoint %s is in use by another process", endpoint);
        return BUS_E_INVALID;
    }
    if (e == ECONNREFUSED)
        unlink (path);
    return BUS_OK;
}

int bus__frame_more (void *zsock)
{
    int more = 0;
    size_t len = sizeof more;
    if (zmq_getsockopt (zsock, ZMQ_RCVMORE, &more, &len) != 0)
        return 0;
    return more;
}

void bus__discard_rest (void *zsock)
{
    while (bus__frame_more (zsock)) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        int rc = zmq_msg_recv (&m, zsock, ZMQ_DONTWAIT);
        zmq_msg_close (&m);
        if (rc < 0)
            break;
    }
}

int bus__send_env (void *zsock, const void *const *pre, const size_t *pre_len, size_t npre,
                   env_t *env, int flags)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (env_encode (env, &data, &len) != 0)
        return BUS_E_CODEC;
    int rc = bus__send_raw (zsock, pre, pre_len, npre, data, len, flags);
    free (data);
    return rc;
}

int bus__send_raw (void *zsock, const void *const *pre, const size_t *pre_len, size_t npre,
                   const void *data, size_t len, int flags)
{
    for (size_t i = 0; i < npre; i++) {
        if (zmq_send (zsock, pre[i], pre_len[i], ZMQ_SNDMORE | flags) < 0) {
            /* Only the first frame can fail with EAGAIN: zmq queues a
             * multipart message atomically once its first frame is taken. */
            return errno == EAGAIN ? BUS_E_UNAVAILABLE : BUS_E_ZMQ;
        }
    }
    if (zmq_send (zsock, data, len, flags) < 0)
        return errno == EAGAIN ? BUS_E_UNAVAILABLE : BUS_E_ZMQ;
    return BUS_OK;
}

void bus__label (char *out, size_t size, const char *k1, const char *v1, const char *k2,
                 const char *v2, const char *k3, const char *v3)
{
    char e1[128] = "", e2[128] = "", e3[128] = "";
    metrics_escape_label (v1 ? v1 : "", e1, sizeof e1);
    if (k2)
        metrics_escape_label (v2 ? v2 : "", e2, sizeof e2);
    if (k3)
        metrics_escape_label (v3 ? v3 : "", e3, sizeof e3);
    if (k3)
        snprintf (out, size, "%s=\"%s\",%s=\"%s\",%s=\"%s\"", k1, e1, k2, e2, k3, e3);
    else if (k2)
        snprintf (out, size, "%s=\"%s\",%s=\"%s\"", k1, e1, k2, e2);
    else
        snprintf (out, size, "%s=\"%s\"", k1, e1);
}
