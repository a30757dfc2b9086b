/* cli_bus.c — daemon plumbing shared by the copilot commands that talk to
 * the running cluster (report, reports, events, ...): endpoint resolution
 * and one request/reply call with uniform error messages.
 *
 * Endpoint resolution order (cli_endpoint): an explicit --endpoint; else
 * --data-dir DIR, meaning the cluster `copilot up --data-dir DIR` started,
 * whose daemons bind ipc://DIR/run/<name>.sock (its COPILOT_RUN_DIR is
 * DIR/run, so the event bus is ipc://DIR/run/bus-sub.sock / bus-pub.sock);
 * else the configuration exactly as the daemons resolve it (svc.h:
 * <key>.endpoint / COPILOT_<KEY>_ENDPOINT, else ipc://<run_dir>/<name>.sock).
 *
 * cli_call checks an ipc:// endpoint first (socket file present and
 * accepting connections), so a command against a cluster that is not
 * running fails at once with a message naming the daemon and the path,
 * instead of waiting for its deadline.
 * Everything is synchronous and single-threaded (one-shot CLI process). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bus.h"
#include "cfg.h"
#include "cli.h"
#include "env.h"
#include "str.h"
#include "svc.h"

int
cli_endpoint (const char *cmd, const char *service, const char *endpoint, const char *data_dir,
              const char *config, char *out, size_t size)
{
    if (endpoint) {
        if (str_copy (out, size, endpoint) != 0)
            return cli_error (cmd, "--endpoint too long (max %zu bytes)", size - 1);
        return 0;
    }
    if (data_dir) {
        size_t n = strlen (data_dir);
        while (n > 1 && data_dir[n - 1] == '/')
            n--;
        if (str_fmt (out, size, "ipc://%.*s/run/%s.sock", (int) n, data_dir, service) != 0)
            return cli_error (cmd, "--data-dir '%s' is too long for an ipc endpoint", data_dir);
        return 0;
    }
    const char *err = NULL;
    cfg_t *cfg = cfg_new (config, &err);
    if (!cfg)
        return cli_error (cmd, "configuration: %s", err ? err : "cannot load");
    int rc;
    if (strcmp (service, "bus-sub") == 0)
        rc = svc_bus_endpoints (cfg, NULL, out, size);
    else if (strcmp (service, "bus-pub") == 0)
        rc = svc_bus_endpoints (cfg, out, NULL, size);
    else
        rc = svc_endpoint_of (cfg, service, out, size);
    cfg_destroy (&cfg);
    if (rc != 0)
        return cli_error (cmd, "cannot resolve the %s endpoint from the configuration", service);
    return 0;
}

bool
cli_endpoint_absent (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return false;
    const char *path = endpoint + 6;
    struct stat sb;
    if (stat (path, &sb) != 0)
        return true;
    /* A socket file left by a daemon that died refuses connections: probe
     * it with a plain connect (zmq sees a peer that leaves before its
     * greeting, which it ignores). Anything but ECONNREFUSED/ENOENT counts as
     * "maybe listening" and is left to the real call. */
    struct sockaddr_un sa;
    memset (&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (str_copy (sa.sun_path, sizeof sa.sun_path, path) != 0)
        return false;
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool absent = connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0 && (errno == ECONNREFUSED || errno == ENOENT);
    close (fd);
    return absent;
}

int
cli_call (const char *cmd, const char *service, const char *endpoint, env_t *req, int expect,
          int timeout_ms, env_t **reply_out)
{
    *reply_out = NULL;
    if (cli_endpoint_absent (endpoint))
        return cli_error (cmd,
                          "%s is not running: nothing listens at %s (start the cluster with 'copilot up', "
                          "or give --data-dir DIR / --endpoint EP)",
                          service, endpoint + 6);
    env_t *reply = NULL;
    int rc = bus_call (endpoint, req, &reply, timeout_ms);
    if (!reply)
        return cli_error (cmd, "%s at %s: %s", service, endpoint, bus_strerror (rc));
    if (env_is_error (reply)) {
        const Copilot__V1__Error *e = env_error (reply);
        const char *msg = e && e->message && *e->message ? e->message : bus_strerror (rc);
        int out = e && e->code == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT ? CLI_USAGE : CLI_FAIL;
        if (rc != 0) /* a local error: deadline passed, daemon unreachable */
            cli_error (cmd, "%s at %s: %s", service, endpoint, msg);
        else
            cli_error (cmd, "%s", msg);
        env_free (reply);
        return out;
    }
    if ((int) reply->body_case != expect) {
        cli_error (cmd, "%s at %s: unexpected reply %s", service, endpoint, env_body_name (reply->body_case));
        env_free (reply);
        return CLI_FAIL;
    }
    *reply_out = reply;
    return CLI_OK;
}
