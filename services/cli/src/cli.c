/* cli.c — argument parsing and error printing shared by the copilot
 * commands. Deliberately tiny: long options only, values either separate or
 * after '=', positionals collected in order; no global state (unlike
 * getopt), so a command may parse several times. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

int
cli_error (const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf (stderr, "copilot %s: ", cmd);
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fputc ('\n', stderr);
    return CLI_FAIL;
}

int
cli_parse (const char *cmd, int argc, char **argv, int first, const cli_opt_t *opts,
           const char **pos, int max_pos, int *npos)
{
    int np = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
            return 1;
        if (strncmp (a, "--", 2) != 0 || a[2] == '\0') {
            if (np >= max_pos) {
                cli_error (cmd, "unexpected argument '%s' (see copilot %s --help)", a, cmd);
                return CLI_USAGE;
            }
            pos[np++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr (name, '=');
        size_t nlen = eq ? (size_t) (eq - name) : strlen (name);
        const cli_opt_t *o = NULL;
        for (const cli_opt_t *p = opts; p && p->name; p++)
            if (strlen (p->name) == nlen && strncmp (p->name, name, nlen) == 0) {
                o = p;
                break;
            }
        if (!o) {
            cli_error (cmd, "unknown option '--%.*s' (see copilot %s --help)", (int) nlen, name, cmd);
            return CLI_USAGE;
        }
        if (o->flag) {
            if (eq) {
                cli_error (cmd, "option '--%s' takes no value", o->name);
                return CLI_USAGE;
            }
            *o->flag = true;
        } else {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || (!eq && strncmp (v, "--", 2) == 0) || *v == '\0') {
                cli_error (cmd, "option '--%s' needs a value", o->name);
                return CLI_USAGE;
            }
            *o->value = v;
        }
    }
    if (npos)
        *npos = np;
    return 0;
}
