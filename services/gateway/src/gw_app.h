/* gw_app.h — the gateway application: HTTP routes wired to the backends.
 *
 * gw_app_new() reads the gateway's configuration from the svc (keys in
 * services/gateway/README.md), sets up auth, the HTTP server, static files,
 * the SSE hub with its event-bus subscriptions and the backend health
 * checks, and registers drain/close hooks on the svc. The daemon then runs
 * svc_run(). Lifetime:
 *
 *   svc = svc_new (...); app = gw_app_new (svc, ...); svc_run (svc);
 *   svc_destroy (&svc); gw_app_destroy (&app);
 *
 * The app must be destroyed AFTER the svc: closing the svc completes pending
 * backend calls (their callbacks still see the app, marked closed).
 */
#ifndef GW_APP_H
#define GW_APP_H
#include <stdbool.h>
#include <stddef.h>
#include "svc.h"

typedef struct _gw_app_t gw_app_t;

/* Builds the app on `svc` and starts listening. NULL with a message in err
 * (config error, bind failure, unreadable tokens file); *exit_code is set to
 * PROC_EXIT_CONFIG or PROC_EXIT_BIND. */
gw_app_t *gw_app_new (svc_t *svc, int *exit_code, char *err, size_t err_size);

/* Stops HTTP and closes the app's handles (idempotent; also run by the svc
 * on_close hook). */
void gw_app_close (gw_app_t *self);

/* Frees the app (after svc_destroy). NULL-safe, nulls *self_p. */
void gw_app_destroy (gw_app_t **self_p);

/* Bound HTTP port. */
int gw_app_port (const gw_app_t *self);

/* The local admin token file written by the bootstrap, or "" when tokens
 * come from configuration. */
const char *gw_app_token_file (const gw_app_t *self);

#endif
