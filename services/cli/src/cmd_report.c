/* cmd_report.c — `copilot report`: run a report, list the registry, or get
 * one entity's facts.
 *
 * With --db PATH the command uses the same engine library as the daemon
 * (rs_engine) on a read-only connection, so results can be checked without
 * the cluster; without --db it asks the running report-service over the bus
 * (endpoint from --endpoint or the usual config: report_service.endpoint /
 * COPILOT_REPORT_SERVICE_ENDPOINT). --json prints the full result (columns,
 * rows as objects keyed by column name, KPIs, banners, tables, chart spec,
 * selections with their chips); without it a readable summary.
 *
 * Exit status: 0 ok, 1 failure (unknown report, DB error, daemon down),
 * 2 usage error (including an invalid --param, whose message names the
 * parameter and the accepted form).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cfg.h"
#include "cli.h"
#include "env.h"
#include "rs_engine.h"
#include "rs_pb.h"
#include "str.h"
#include "svc.h"

#define MAX_PARAMS 32

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot report <report-id> [--param k=v ...] [--db PATH] [--json]\n"
             "       copilot report --list [--db PATH] [--json]\n"
             "       copilot report --facts TYPE:ID [--param k=v ...] [--db PATH] [--json]\n"
             "\n"
             "Runs one report of the registry (job_cost, compute_type_cost, job_cost_pareto,\n"
             "spot_risk_by_job, anomaly_detection, ...) and prints its result.\n"
             "\n"
             "options:\n"
             "  --param k=v       report parameter (repeatable): from, to (YYYY-MM-DD), workspace,\n"
             "                    as_of (YYYY-MM-DD), plus the report's own (see --list)\n"
             "  --db PATH         run locally on this telemetry database (read-only); without it\n"
             "                    the running report-service is asked\n"
             "  --endpoint EP     report-service endpoint (default: from the configuration)\n"
             "  --data-dir DIR    ask the cluster started by 'copilot up --data-dir DIR'\n"
             "  --config FILE     configuration file (endpoint resolution)\n"
             "  --list            list the reports (id, pillar, status, parameters)\n"
             "  --facts TYPE:ID   EntityFacts of one entity: job:J-FIN-DAILY, compute:WH-FINANCE,\n"
             "                    compute_type:JOB_RUN, anomaly:J-FIN-DAILY:2025-12-05\n"
             "  --json            print the full JSON result\n"
             "  -h, --help        this text\n"
             "\n"
             "examples:\n"
             "  copilot report job_cost --db data/usage.db --param from=2025-11-01 --param to=2025-12-15\n"
             "  copilot report anomaly_detection --data-dir data --json\n"
             "  copilot report --facts job:J-FIN-DAILY --db data/usage.db\n");
}

/* ---- output --------------------------------------------------------------- */
static void
s_print_json (json_t *j)
{
    char *s = json_dumps (j, JSON_INDENT (2));
    if (s) {
        puts (s);
        free (s);
    }
}

static void
s_print_value (json_t *v)
{
    if (json_is_string (v))
        printf ("%s", json_string_value (v));
    else if (json_is_integer (v))
        printf ("%lld", (long long) json_integer_value (v));
    else if (json_is_real (v))
        printf ("%.4f", json_real_value (v));
    else
        printf ("-");
}

static void
s_print_report (json_t *r)
{
    printf ("%s (%s) — %s\n", json_string_value (json_object_get (r, "title")),
            json_string_value (json_object_get (r, "report_id")), json_string_value (json_object_get (r, "pillar")));
    const char *k;
    json_t *v;
    printf ("params:");
    json_object_foreach (json_object_get (r, "params"), k, v) {
        printf (" %s=", k);
        s_print_value (v);
    }
    printf ("\ndata version %s%s\n\n", json_string_value (json_object_get (r, "data_version")),
            json_is_true (json_object_get (r, "cached")) ? " (cached)" : "");
    size_t i, j;
    json_array_foreach (json_object_get (r, "kpis"), i, v)
        printf ("  %-28s %s\n", json_string_value (json_object_get (v, "label")), json_string_value (json_object_get (v, "text")));
    json_array_foreach (json_object_get (r, "banners"), i, v)
        printf ("[%s] %s\n", json_string_value (json_object_get (v, "level")), json_string_value (json_object_get (v, "text")));
    json_t *cols = json_object_get (r, "columns");
    json_t *rows = json_object_get (r, "rows");
    printf ("\n%zu rows", json_array_size (rows));
    if (json_array_size (rows) > 20)
        printf (" (first 20 shown; --json for all)");
    printf ("\n");
    json_t *c, *row;
    json_array_foreach (rows, i, row) {
        if (i >= 20)
            break;
        printf ("  ");
        json_array_foreach (cols, j, c) {
            if (j >= 6)
                break;
            printf ("%s", j ? " | " : "");
            s_print_value (json_object_get (row, json_string_value (json_object_get (c, "name"))));
        }
        printf ("\n");
    }
    printf ("\nselections:\n");
    json_t *s;
    json_array_foreach (json_object_get (r, "selections"), i, s) {
        printf ("  %s %s — %s\n", json_string_value (json_object_get (s, "entity_type")),
                json_string_value (json_object_get (s, "entity_id")), json_string_value (json_object_get (s, "label")));
        json_array_foreach (json_object_get (s, "chips"), j, c)
            printf ("      [%-10s] %-40s %s\n", json_string_value (json_object_get (c, "lane")),
                    json_string_value (json_object_get (c, "id")), json_string_value (json_object_get (c, "label")));
    }
}

static void
s_print_list (json_t *l)
{
    size_t i, j;
    json_t *r, *p;
    json_array_foreach (json_object_get (l, "reports"), i, r) {
        printf ("%-26s %-10s %-13s %s\n", json_string_value (json_object_get (r, "id")),
                json_string_value (json_object_get (r, "status")), json_string_value (json_object_get (r, "pillar")),
                json_string_value (json_object_get (r, "title")));
        printf ("%-26s params:", "");
        json_array_foreach (json_object_get (r, "params"), j, p)
            printf (" %s(%s)", json_string_value (json_object_get (p, "name")), json_string_value (json_object_get (p, "kind")));
        printf ("\n");
    }
}

static void
s_print_facts (json_t *f)
{
    printf ("%s %s — %s (data %s)\n", json_string_value (json_object_get (f, "entity_type")),
            json_string_value (json_object_get (f, "entity_id")), json_string_value (json_object_get (f, "label")),
            json_string_value (json_object_get (f, "data_version")));
    size_t i;
    json_t *x;
    json_array_foreach (json_object_get (f, "facts"), i, x) {
        printf ("  %-26s ", json_string_value (json_object_get (x, "name")));
        json_t *v = json_object_get (x, "value");
        if (json_is_number (v))
            printf ("%.4f %s ", json_number_value (v), json_string_value (json_object_get (x, "unit")));
        printf ("%s [%s]\n", json_string_value (json_object_get (x, "text")),
                json_string_value (json_object_get (x, "source_table")));
    }
}

/* ---- remote --------------------------------------------------------------- */
static int
s_remote (const char *endpoint, const char *report, const char *facts, bool list, const rs_param_t *p, size_t np,
          bool json)
{
    env_t *req = env_new ("cli");
    if (!req)
        return cli_error ("report", "out of memory");
    Copilot__V1__Param **params = NULL;
    size_t n_params = 0;
    for (size_t i = 0; i < np; i++) {
        Copilot__V1__Param *x = env_msg_new (&copilot__v1__param__descriptor);
        if (!x || env_set_str (&x->key, p[i].key) || env_set_str (&x->value, p[i].value) ||
            ENV_APPEND (params, n_params, x)) {
            if (x)
                protobuf_c_message_free_unpacked (&x->base, NULL);
            break;
        }
    }
    int expect;
    if (list) {
        Copilot__V1__ListReportsRequest *m = env_msg_new (&copilot__v1__list_reports_request__descriptor);
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST, m);
        expect = COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY;
        for (size_t i = 0; i < n_params; i++)
            protobuf_c_message_free_unpacked (&params[i]->base, NULL);
        free (params);
    } else if (facts) {
        Copilot__V1__EntityFactsRequest *m = env_msg_new (&copilot__v1__entity_facts_request__descriptor);
        const char *colon = strchr (facts, ':');
        if (m) {
            char type[64];
            str_copy (type, (size_t) (colon - facts) + 1 < sizeof type ? (size_t) (colon - facts) + 1 : sizeof type, facts);
            env_set_str (&m->entity_type, type);
            env_set_str (&m->entity_id, colon + 1);
            m->params = params;
            m->n_params = n_params;
        }
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, m);
        expect = COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY;
    } else {
        Copilot__V1__RunReportRequest *m = env_msg_new (&copilot__v1__run_report_request__descriptor);
        if (m) {
            env_set_str (&m->report_id, report);
            m->params = params;
            m->n_params = n_params;
        }
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, m);
        expect = COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY;
    }
    if (req->header)
        req->header->idempotent = true;
    env_t *reply = NULL;
    int out = cli_call ("report", "report-service", endpoint, req, expect, 30000, &reply);
    env_free (req);
    if (out != CLI_OK)
        return out;
    json_t *j = NULL;
    if (list) {
        j = rs_pb_list_json (reply->list_reports_reply);
        if (json)
            s_print_json (j);
        else
            s_print_list (j);
    } else if (facts) {
        j = rs_pb_facts_json (reply->entity_facts_reply);
        if (json)
            s_print_json (j);
        else
            s_print_facts (j);
    } else {
        j = rs_pb_report_result_json (reply->run_report_reply ? reply->run_report_reply->result : NULL);
        if (!j)
            out = cli_error ("report", "empty reply");
        else if (json)
            s_print_json (j);
        else
            s_print_report (j);
    }
    json_decref (j);
    env_free (reply);
    return out;
}

/* ---- local ---------------------------------------------------------------- */
static int
s_local (const char *db, const char *report, const char *facts, bool list, const rs_param_t *p, size_t np, bool json)
{
    char err[512];
    rs_engine_t *e = rs_engine_new (db, NULL, err, sizeof err);
    if (!e)
        return cli_error ("report", "%s", err);
    json_t *j = NULL;
    int rc;
    if (list)
        rc = rs_engine_list (e, &j);
    else if (facts) {
        const char *colon = strchr (facts, ':');
        char type[64];
        str_copy (type, (size_t) (colon - facts) + 1 < sizeof type ? (size_t) (colon - facts) + 1 : sizeof type, facts);
        rc = rs_engine_entity_facts (e, type, colon + 1, p, np, &j);
    } else
        rc = rs_engine_run (e, report, p, np, &j);
    int out = CLI_OK;
    if (rc != 0) {
        fprintf (stderr, "copilot report: %s\n", rs_engine_error (e));
        out = rc == RS_E_INVALID ? CLI_USAGE : CLI_FAIL;
    } else if (json)
        s_print_json (j);
    else if (list)
        s_print_list (j);
    else if (facts)
        s_print_facts (j);
    else
        s_print_report (j);
    json_decref (j);
    rs_engine_destroy (&e);
    return out;
}

int
cmd_report (int argc, char **argv)
{
    const char *db = NULL, *endpoint = NULL, *config = NULL, *facts = NULL, *report = NULL, *data_dir = NULL;
    bool json = false, list = false;
    rs_param_t params[MAX_PARAMS];
    size_t np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
            s_help (stdout);
            return CLI_OK;
        }
        const char *const valued[] = {"--param", "--db", "--endpoint", "--config", "--facts", "--data-dir"};
        const char **dest[] = {NULL, &db, &endpoint, &config, &facts, &data_dir};
        bool matched = false;
        for (int k = 0; k < 6 && !matched; k++) {
            size_t n = strlen (valued[k]);
            const char *val = NULL;
            if (strcmp (a, valued[k]) == 0) {
                if (i + 1 >= argc) {
                    fprintf (stderr, "copilot report: %s needs a value\n", a);
                    return CLI_USAGE;
                }
                val = argv[++i];
            } else if (strncmp (a, valued[k], n) == 0 && a[n] == '=')
                val = a + n + 1;
            else
                continue;
            matched = true;
            if (k == 0) {
                const char *eq = strchr (val, '=');
                if (!eq || eq == val) {
                    fprintf (stderr, "copilot report: --param '%s': expected k=v\n", val);
                    return CLI_USAGE;
                }
                if (np == MAX_PARAMS) {
                    fprintf (stderr, "copilot report: at most %d --param\n", MAX_PARAMS);
                    return CLI_USAGE;
                }
                /* split in place: argv strings are writable */
                char *key = argv[i] + (val - argv[i]);
                key[eq - val] = '\0';
                params[np].key = key;
                params[np].value = eq + 1;
                np++;
            } else
                *dest[k] = val;
        }
        if (matched)
            continue;
        if (strcmp (a, "--json") == 0)
            json = true;
        else if (strcmp (a, "--list") == 0)
            list = true;
        else if (a[0] == '-') {
            fprintf (stderr, "copilot report: unknown option '%s'\n", a);
            return CLI_USAGE;
        } else if (!report)
            report = a;
        else {
            fprintf (stderr, "copilot report: unexpected argument '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if ((report != NULL) + list + (facts != NULL) != 1) {
        fprintf (stderr, "copilot report: give exactly one of <report-id>, --list or --facts TYPE:ID\n");
        return CLI_USAGE;
    }
    if (facts && (!strchr (facts, ':') || strchr (facts, ':') == facts)) {
        fprintf (stderr, "copilot report: --facts '%s': expected TYPE:ID (e.g. job:J-FIN-DAILY)\n", facts);
        return CLI_USAGE;
    }
    if (db)
        return s_local (db, report, facts, list, params, np, json);
    char ep[1024];
    if (cli_endpoint ("report", "report-service", endpoint, data_dir, config, ep, sizeof ep) != 0)
        return CLI_FAIL;
    return s_remote (ep, report, facts, list, params, np, json);
}
