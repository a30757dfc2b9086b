/* cmd_keygen.c — `copilot keygen`: prints a new CURVE keypair (Z85) for the
 * optional encryption and authentication between daemons (bus_curve.h,
 * deploy/README.md "Encryption and authentication (CURVE)").
 *
 * Output formats:
 *   default        public=<z85> / secret=<z85> / fingerprint=<16 hex>
 *   --env server   COPILOT_CURVE_SERVER_PUBLIC='...' / COPILOT_CURVE_SERVER_SECRET='...'
 *   --env client   COPILOT_CURVE_CLIENT_PUBLIC='...' / COPILOT_CURVE_CLIENT_SECRET='...'
 * (the --env forms paste into a docker-compose .env file or a shell; single
 * quotes keep '$', which Z85 uses, from being expanded). The
 * keys come from zmq_curve_keypair (libsodium's RNG); keys containing '#'
 * are redrawn because '#' after a blank starts a comment in config files.
 * The secret is printed once on stdout and nowhere else. */
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "bus_curve.h"
#include "cli.h"

int
cmd_keygen (int argc, char **argv)
{
    const char *env = NULL;
    cli_opt_t opts[] = {{"env", &env, NULL}, {NULL, NULL, NULL}};
    int rc = cli_parse ("keygen", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        printf ("usage: copilot keygen [--env server|client]\n\n"
                "Prints a new CURVE keypair as 40-character Z85 texts:\n"
                "  public=...       give it to the peers (curve.server_public, or the servers'\n"
                "                   curve.allowed_clients for a client key)\n"
                "  secret=...       keep it private (curve.server_secret / curve.client_secret)\n"
                "  fingerprint=...  what daemons log instead of keys (e.g. on a ZAP denial)\n"
                "\n"
                "options:\n"
                "  --env server|client  print COPILOT_CURVE_<ROLE>_PUBLIC=... and _SECRET=...\n"
                "                       lines for a .env file instead. See deploy/README.md.\n"
                "  -h, --help           this text\n"
                "\n"
                "examples:\n"
                "  copilot keygen\n"
                "  copilot keygen --env server >> deploy/.env\n");
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    if (env && strcmp (env, "server") != 0 && strcmp (env, "client") != 0) {
        fprintf (stderr, "copilot keygen: --env: expected server or client, got '%s'\n", env);
        return CLI_USAGE;
    }
    char pub[41], sec[41], fp[BUS_CURVE_FP_LEN + 1];
    if (bus_curve_keypair (pub, sec) != 0 || bus_curve_fingerprint (pub, fp, sizeof fp) != 0)
        return cli_error ("keygen", "cannot generate a keypair: %s", bus_last_error ());
    if (env) {
        const char *role = strcmp (env, "server") == 0 ? "SERVER" : "CLIENT";
        /* Single quotes: Z85 has no quote or backslash but does have '$',
         * which shells and compose .env files would otherwise expand. */
        printf ("COPILOT_CURVE_%s_PUBLIC='%s'\nCOPILOT_CURVE_%s_SECRET='%s'\n", role, pub, role, sec);
    } else {
        printf ("public=%s\nsecret=%s\nfingerprint=%s\n", pub, sec, fp);
    }
    memset (sec, 0, sizeof sec);
    return fflush (stdout) == 0 ? CLI_OK : CLI_FAIL;
}
