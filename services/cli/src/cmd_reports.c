/* cmd_reports.c — `copilot reports`: the report registry at a glance,
 * grouped by pillar the way the web UI's sidebar shows it.
 *
 * Source: with --db PATH the registry embedded in rs_engine (the same
 * library the daemon runs) on a read-only connection; otherwise the running
 * report-service (ListReports over the bus; endpoint from --endpoint,
 * --data-dir DIR of `copilot up`, or the configuration — cli_endpoint).
 * Both give the same JSON listing (rs_engine_list / rs_pb_list_json).
 *
 * Grouping: pillars appear in the order of their first report in the
 * registry, and reports keep registry order inside a pillar, so the output
 * depends only on the registry (no hash order). Text output is one line per
 * report (status, id, title) under a "Pillar (n)" heading; --json prints
 * {"pillars": [{"pillar", "reports": [{id, title, status, description,
 * order, params: [names]}]}], "available": n, "planned": n, "source"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "env.h"
#include "rs_engine.h"
#include "rs_pb.h"
#include "str.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot reports [--db PATH | --data-dir DIR | --endpoint EP] [--json]\n"
             "\n"
             "Lists the report registry grouped by pillar: status (available or planned), id and\n"
             "title of every report, in registry order. Run one with 'copilot report <id>'.\n"
             "\n"
             "options:\n"
             "  --db PATH          read the registry locally (rs_engine, read-only) against this\n"
             "                     telemetry database; without it the running report-service is asked\n"
             "  --data-dir DIR     ask the cluster started by 'copilot up --data-dir DIR'\n"
             "  --endpoint EP      report-service endpoint (default: report_service.endpoint /\n"
             "                     COPILOT_REPORT_SERVICE_ENDPOINT, else\n"
             "                     ipc://$COPILOT_RUN_DIR/report-service.sock)\n"
             "  --config FILE      configuration file (endpoint resolution)\n"
             "  --timeout-ms MS    deadline of the daemon call, 100..120000 (default 10000)\n"
             "  --json             one JSON document: {pillars: [{pillar, reports: [...]}],\n"
             "                     available, planned, source}\n"
             "  -h, --help         this text\n"
             "\n"
             "examples:\n"
             "  copilot reports --db data/usage.db\n"
             "  copilot reports --data-dir data --json\n");
}

/* Pillar heading: "data quality" -> "Data Quality". */
static void
s_title_case (const char *in, char *out, size_t size)
{
    size_t n = 0;
    bool start = true;
    for (const char *p = in; *p && n + 1 < size; p++) {
        char c = *p;
        if (start && c >= 'a' && c <= 'z')
            c = (char) (c - 'a' + 'A');
        start = c == ' ' || c == '_' || c == '-';
        out[n++] = c == '_' ? ' ' : c;
    }
    out[n] = '\0';
}

static const char *
s_str (json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

/* listing {reports: [...]} -> {pillars, available, planned, source}. */
static json_t *
s_group (json_t *listing, const char *source)
{
    json_t *reports = json_object_get (listing, "reports");
    json_t *pillars = json_array ();
    json_t *out = json_object ();
    if (!pillars || !out) {
        json_decref (pillars);
        json_decref (out);
        return NULL;
    }
    int available = 0, planned = 0;
    size_t i, k;
    json_t *r, *g;
    json_array_foreach (reports, i, r) {
        const char *pillar = s_str (r, "pillar");
        if (!*pillar)
            pillar = "uncategorized";
        json_t *group = NULL;
        json_array_foreach (pillars, k, g)
            if (strcmp (s_str (g, "pillar"), pillar) == 0) {
                group = g;
                break;
            }
        if (!group) {
            group = json_pack ("{s:s, s:[]}", "pillar", pillar, "reports");
            if (!group || json_array_append_new (pillars, group) != 0)
                goto oom;
        }
        json_t *names = json_array ();
        json_t *p;
        size_t j;
        json_array_foreach (json_object_get (r, "params"), j, p)
            json_array_append (names, json_object_get (p, "name"));
        json_t *item = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", s_str (r, "id"), "title",
                                  s_str (r, "title"), "status", s_str (r, "status"), "description",
                                  s_str (r, "description"), "order",
                                  (json_int_t) json_integer_value (json_object_get (r, "order")), "params",
                                  names ? names : json_array ());
        if (!item || json_array_append_new (json_object_get (group, "reports"), item) != 0)
            goto oom;
        if (strcmp (s_str (r, "status"), "available") == 0)
            available++;
        else
            planned++;
    }
    json_object_set_new (out, "pillars", pillars);
    json_object_set_new (out, "available", json_integer (available));
    json_object_set_new (out, "planned", json_integer (planned));
    json_object_set_new (out, "source", json_string (source));
    return out;
oom:
    json_decref (pillars);
    json_decref (out);
    return NULL;
}

static void
s_print_text (json_t *g)
{
    size_t i, j;
    json_t *p, *r;
    json_array_foreach (json_object_get (g, "pillars"), i, p) {
        char head[128];
        s_title_case (s_str (p, "pillar"), head, sizeof head);
        json_t *reports = json_object_get (p, "reports");
        printf ("%s%s (%zu)\n", i ? "\n" : "", head, json_array_size (reports));
        json_array_foreach (reports, j, r)
            printf ("  %-10s %-26s %s\n", s_str (r, "status"), s_str (r, "id"), s_str (r, "title"));
    }
    long long available = (long long) json_integer_value (json_object_get (g, "available"));
    long long planned = (long long) json_integer_value (json_object_get (g, "planned"));
    printf ("\n%lld report%s: %lld available, %lld planned (source: %s). Run one with 'copilot report <id>'.\n",
            available + planned, available + planned == 1 ? "" : "s", available, planned, s_str (g, "source"));
}

static int
s_local (const char *db, json_t **out)
{
    char err[512];
    rs_engine_t *e = rs_engine_new (db, NULL, err, sizeof err);
    if (!e)
        return cli_error ("reports", "%s", err);
    int rc = rs_engine_list (e, out);
    if (rc != 0)
        cli_error ("reports", "%s", rs_engine_error (e));
    rs_engine_destroy (&e);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int
s_remote (const char *endpoint, int timeout_ms, json_t **out)
{
    env_t *req = env_new ("cli");
    Copilot__V1__ListReportsRequest *m = env_msg_new (&copilot__v1__list_reports_request__descriptor);
    if (!req || !m || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST, m) != 0) {
        if (!req && m) /* env_set_body owns (or freed) m once it was called */
            protobuf_c_message_free_unpacked (&m->base, NULL);
        env_free (req);
        return cli_error ("reports", "out of memory");
    }
    req->header->idempotent = true;
    env_t *reply = NULL;
    int rc = cli_call ("reports", "report-service", endpoint, req, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY,
                       timeout_ms, &reply);
    env_free (req);
    if (rc != CLI_OK)
        return rc;
    *out = rs_pb_list_json (reply->list_reports_reply);
    env_free (reply);
    return *out ? CLI_OK : cli_error ("reports", "empty ListReports reply");
}

int
cmd_reports (int argc, char **argv)
{
    const char *db = NULL, *endpoint = NULL, *data_dir = NULL, *config = NULL, *timeout = "10000";
    bool json = false;
    cli_opt_t opts[] = {{"db", &db, NULL},         {"endpoint", &endpoint, NULL},
                        {"data-dir", &data_dir, NULL}, {"config", &config, NULL},
                        {"timeout-ms", &timeout, NULL}, {"json", NULL, &json},
                        {NULL, NULL, NULL}};
    int rc = cli_parse ("reports", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    if ((db != NULL) + (endpoint != NULL) + (data_dir != NULL) > 1) {
        fprintf (stderr, "copilot reports: give at most one of --db PATH, --data-dir DIR, --endpoint EP\n");
        return CLI_USAGE;
    }
    int timeout_ms = 0;
    if (str_to_int (timeout, 100, 120000, &timeout_ms) != 0) {
        fprintf (stderr, "copilot reports: --timeout-ms: expected an integer in [100, 120000], got '%s'\n",
                 timeout);
        return CLI_USAGE;
    }
    json_t *listing = NULL;
    char ep[1024];
    char source[1100];
    if (db) {
        rc = s_local (db, &listing);
        str_fmt (source, sizeof source, "db %s", db);
    } else {
        if (cli_endpoint ("reports", "report-service", endpoint, data_dir, config, ep, sizeof ep) != 0)
            return CLI_FAIL;
        rc = s_remote (ep, timeout_ms, &listing);
        str_fmt (source, sizeof source, "report-service %s", ep);
    }
    if (rc != CLI_OK)
        return rc;
    json_t *g = s_group (listing, source);
    json_decref (listing);
    if (!g)
        return cli_error ("reports", "out of memory");
    if (json) {
        char *s = json_dumps (g, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        if (s) {
            puts (s);
            free (s);
        }
    } else
        s_print_text (g);
    json_decref (g);
    return CLI_OK;
}
